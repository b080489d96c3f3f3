"""Which NHS indicator file is this? Detection from the header, and the loader each kind needs."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

from .ae import ae_role
from .common import normalise_header
from .dtoc import DTOC_BY_NORM

__all__ = ["KIND_LABEL", "KIND_LOADER", "kind_from_columns", "detect_indicator_kind"]

KIND_LABEL = {
    "gp_payments": "an NHS Payments to General Practice CSV",
    "ae_monthly": "an official monthly A&E CSV",
    "ae_tidy": "an NHS-R tidy A&E CSV",
    "shmi": "a SHMI CSV",
    "staff_survey": "an NHS Staff Survey CSV",
    "dtoc": "a delayed transfers of care CSV",
    "imd": "a deprivation (IMD) CSV",
    "population": "a population CSV",
    "la_codes": "a local-authority code lookup",
    "tidy": "a tidy indicator CSV (org_code, period, measure, value)",
    "qof_prevalence": "a QOF prevalence CSV (PRACTICE_CODE, GROUP_CODE, REGISTER, ...)",
    "qof_achievement": "a QOF achievement CSV (PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE)",
    "qof_geography": "a QOF practice geography mapping CSV (PRACTICE_CODE, PCN_ODS_CODE, ...)",
    "fingertips": "a Fingertips all-data CSV export (Indicator ID, Area Code, Value, ...)",
    "qof_indicators": "a QOF indicator list (INDICATOR_CODE, INDICATOR_POINT_VALUE, ...)",
    "gpps": "a GP Patient Survey practice data CSV",
    "fft": "a Friends and Family Test file (GP practices or A&E)",
    "dtoc_workbook": "an NHS England monthly delayed transfers of care workbook (local authorities)",
    "staff_survey_workbook": "an NHS Staff Survey organisation-level workbook",
}


KIND_LOADER = {
    "gp_payments": "load_gp_payments", "ae_monthly": "load_ae_monthly",
    "ae_tidy": "load_ae_tidy", "shmi": "load_shmi", "staff_survey": "load_staff_survey",
    "dtoc": "load_dtoc", "imd": "load_imd", "population": "load_population",
    "la_codes": "load_la_codes", "tidy": "load_tidy_indicator",
    "qof_prevalence": "load_qof_prevalence", "qof_achievement": "load_qof_achievement",
    "qof_geography": "load_qof_geography", "fingertips": "load_fingertips",
    "qof_indicators": "load_qof_indicators",
    "gpps": "load_gpps", "fft": "load_fft",
    "dtoc_workbook": "load_dtoc", "staff_survey_workbook": "load_staff_survey",
}


def kind_from_columns(columns: Iterable[str]) -> str | None:
    """Which indicator kind a header row belongs to, from its column names alone.

    Parameters
    ----------
    columns : iterable of str
        The header cells, as published (they are folded with
        :func:`~cqc_research.io.nhs.common.normalise_header` before matching).

    Returns
    -------
    str or None
        A key of :data:`KIND_LOADER` (``"gp_payments"``,
        ``"ae_monthly"``, ``"tidy"``, ``"ae_tidy"``, ``"dtoc"``, ``"shmi"``, ``"staff_survey"``,
        ``"imd"``, ``"la_codes"``, ``"population"``, ``"gpps"``, ``"fft"``), or ``None`` when no
        rule matches.

    Examples
    --------
    >>> kind_from_columns(["Org Code", "Period", "Measure", "Value"])
    'tidy'
    >>> kind_from_columns(["Name", "Colour"]) is None
    True
    """
    n = {normalise_header(c) for c in columns}
    joined = " | ".join(sorted(n))
    if ({"practice code", "ad practicecode"} & n) and any(
            re.fullmatch(r"q\d+ 12pct", x) or x.endswith(" pcteval") for x in n):
        return "gpps"
    if "practice code" in n and any(x.startswith("number of registered patients") for x in n):
        return "gp_payments"
    if "org code" in n and any(ae_role(x) for x in n):
        return "ae_monthly"
    if {"org code", "period", "measure", "value"} <= n:
        return "tidy"
    if {"period", "type", "attendances", "breaches"} <= n:
        return "ae_tidy"
    if "total delayed transfers of care" in n or ({"code", "name", "period"} <= n and any(
            x in DTOC_BY_NORM for x in n)):
        return "dtoc"
    if {"indicator id", "area code", "value"} <= n and n & {"area type", "time period"}:
        return "fingertips"
    if {"indicator code", "indicator point value"} <= n:
        return "qof_indicators"
    practice = n & {"practice code", "practicecode"}
    if practice and {"indicator code", "measure", "value"} <= n:
        return "qof_achievement"
    if practice and n & {"group code", "indicator group code", "indicator group"} and n & {
            "register", "register size", "disease register size"}:
        return "qof_prevalence"
    if practice and any(x.startswith(("pcn ods", "sub icb", "icb ods", "stp ods", "ccg ods",
                                      "ccg geography")) for x in n):
        return "qof_geography"
    if any(x in n for x in ("shmi value", "shmi", "shmi banding")):
        return "shmi"
    if ("survey year" in n or "question text" in n) and any(
            x in n for x in ("score", "percent positive", "positive")):
        return "staff_survey"
    from .fft import fft_column_role

    fft_roles = {r[0] for r in map(fft_column_role, columns) if r}
    if {"code", "total"} <= fft_roles and ("pct" in fft_roles or "response" in fft_roles):
        return "fft"
    if "imd" in joined or "deprivation" in joined:
        return "imd"
    if any(x in n for x in ("old code", "old_code", "previous code", "legacy code")):
        return "la_codes"
    if "65" in joined and "code" in n:
        return "population"
    return None


def kind_from_sheet_names(path) -> str | None:
    """``dtoc_workbook`` or ``staff_survey_workbook``, from a workbook's sheet names alone.

    Parameters
    ----------
    path : str or Path
        An ``.xls``/``.xlsx`` file; only its sheet names are read.

    Returns
    -------
    str or None
        ``"dtoc_workbook"`` (a ``LA - by reason`` sheet beside one by type of care or
        responsible organisation), ``"staff_survey_workbook"`` (``Notes`` and ``Trust Benchmark
        Groups`` sheets), or ``None`` (other workbooks, and files calamine cannot open).

    Examples
    --------
    >>> kind_from_sheet_names("not-there.xls") is None
    True
    """
    from ._dtoc_workbook import is_dtoc_workbook_names

    try:
        from .._workbook import open_workbook  # within the limits: calamine can abort

        names = open_workbook(path).sheet_names
    except BaseException:  # noqa: BLE001 - not a readable workbook: not these kinds
        return None
    if is_dtoc_workbook_names(names):
        return "dtoc_workbook"
    norm = {normalise_header(n) for n in names}
    if "notes" in norm and any("benchmark group" in n for n in norm):
        return "staff_survey_workbook"
    return None


def detect_indicator_kind(path) -> str | None:
    """Which NHS indicator file this is, from its header: a key of :func:`load_indicators`.

    A folder is ``"ae_monthly"`` when its CSVs are official monthly A&E files. Returns None
    when the file is none of the supported kinds.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (the first 40 lines are searched for a header row), an A&E workbook, or a folder of
        monthly A&E files.

    Returns
    -------
    str or None
        The kind (see :func:`kind_from_columns`), or ``None``.
    """
    from .ae_grid import WORKBOOK_SUFFIXES, is_ae_workbook

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in {".csv"} | WORKBOOK_SUFFIXES
                       and not f.name.startswith((".", "~$")))
        kinds = set()  # the kinds of the first 3 files recognised: a damaged one is not
        seen = 0       # the folder's kind (its loader sets it aside, see io._folders)
        for f in files[:20]:
            try:
                kind = detect_indicator_kind(f)
            except (ValueError, OSError):  # DataFormatError is a ValueError
                kind = None
            if kind is not None:
                kinds.add(kind)
                seen += 1
                if seen == 3:
                    break
        return kinds.pop() if files and len(kinds) == 1 and kinds <= {
            "ae_monthly", "dtoc_workbook", "fft"} else None
    if p.suffix.lower() in WORKBOOK_SUFFIXES:
        kind = kind_from_sheet_names(p)
        if kind:
            return kind
        if is_ae_workbook(p):
            return "ae_monthly"
        from .fft import is_fft_workbook

        return "fft" if is_fft_workbook(p) else None
    if p.suffix.lower() not in {".csv", ".txt"}:
        return None
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    for line in text.splitlines()[:40]:
        try:
            cells = next(csv.reader([line]))
        except (StopIteration, csv.Error):
            continue
        kind = kind_from_columns(cells) if len(cells) >= 2 else None
        if kind:
            return kind
    return None


