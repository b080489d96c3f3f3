"""Delayed transfers of care (NHS England, monthly): delayed days by local authority and reason."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    WORKBOOK_SUFFIXES,
    check_errors,
    detect_indicator_kind,
    empty_table,
    find_column,
    finish_table,
    is_indicator_kind,
    kind_hint,
    loaded_table,
    merge_parse_reports,
    normalise_header,
    parse_months,
    parse_numeric,
    probe_sheet_names,
    read_table_csv,
    set_table_attrs,
    snake_case,
    stack_measures,
    warn_unparseable,
)
from ._dtoc_workbook import is_dtoc_workbook_names, read_dtoc_workbook

__all__ = [
    "load_dtoc",
]

# Delayed transfers of care
#: DTOC reason columns -> measure suffix (``dtoc_days_<suffix>``).
DTOC_REASONS = {
    "Awaiting completion of assessment": "assessment",
    "Awaiting public funding": "public_funding",
    "Awaiting further NHS non-acute care": "nhs_non_acute",
    "Awaiting residential home placement or availability": "residential_home",
    "Awaiting nursing home placement or availability": "nursing_home",
    "Awaiting care package in own home": "care_package",
    "Awaiting community equipment and adaptations": "equipment",
    "Patient or family choice": "patient_choice",
    "Disputes": "disputes",
    "Housing - Patients not covered by NHS and Community Care Act": "housing",
    "Other": "other",
    "Total Delayed Transfers of Care": "total",
}


DTOC_BY_NORM = {normalise_header(k): v for k, v in DTOC_REASONS.items()}


ENGLAND_CODE = "E92000001"


def _dtoc_files(path) -> tuple[list[Path], bool]:
    """The files to read and whether a single file was given."""
    if isinstance(path, str | os.PathLike):
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file()
                           and f.suffix.lower() in WORKBOOK_SUFFIXES | {".csv"}
                           and not f.name.startswith((".", "~$")))
            if not files:
                raise DataFormatError("no .xls, .xlsx or .csv files in this folder; expected NHS "
                                      "England's monthly delayed transfers of care workbooks",
                                      path=p)
            return files, False
        return [p], True
    files = [Path(f) for f in path]
    if not files:
        raise ValueError("load_dtoc: the list of files is empty")
    return files, False


def _is_workbook_file(path: Path) -> bool:
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _wrong_workbook_hint(path: Path) -> str:
    """``; this looks like ... (use load_x)`` when a workbook is of another known kind."""
    try:
        kind = detect_indicator_kind(path)
    except Exception:  # noqa: BLE001 - a hint only
        kind = None
    if is_indicator_kind(kind) and kind not in {"dtoc", "dtoc_workbook"}:
        return kind_hint(kind)
    return ""


def _revision_key(info: dict, path: Path):
    published = info.get("published") or dt.date.min
    revised = info.get("revised") or dt.date.min
    return (max(published, revised), "revised" in path.name.casefold(), path.stat().st_mtime)


def _workbook_table(info, rows, rep, *, england: bool, outside_england: bool) -> pd.DataFrame:
    kinds = rows["row_kind"].to_numpy()
    keep = (kinds == "council") | ((kinds == "england") & england) | \
        ((kinds == "outside_england") & outside_england)
    n_eng = int((kinds == "england").sum())
    n_out = int((kinds == "outside_england").sum())
    if not england and n_eng:
        rep.dropped["England row (the national total)"] = n_eng
    if not outside_england and n_out:
        rep.dropped["rows of patients resident outside England (Wales, Scotland, outside GB; "
                    "load with outside_england=True to keep them)"] = n_out
    d = rows.loc[keep].reset_index(drop=True)
    is_eng = (d["row_kind"] == "england").to_numpy()
    rep.rows_kept = len(d)
    month = pd.Timestamp(info["month"])
    days_in_month = float(month.days_in_month)
    keys = pd.DataFrame({"org_code": np.where(is_eng, ENGLAND_CODE, d["org_code"].to_numpy()),
                         "org_name": d["org_name"].to_numpy(),
                         "period_start": month, "period_end": month + pd.offsets.MonthEnd(0)})
    specs = []
    for m in [c for c in d.columns if c.startswith("dtoc_")]:
        if m.startswith("dtoc_per_day_"):
            days = m.replace("dtoc_per_day_", "dtoc_days_")
            num = d[days].to_numpy(dtype="float64") if days in d else None
            specs.append((m, d[m].to_numpy(dtype="float64"), num, np.full(len(d), days_in_month)))
        else:
            specs.append((m, d[m].to_numpy(dtype="float64"), None, None))
    level = np.where(is_eng, "country", "local_authority")
    out = stack_measures(keys, specs, org_level=level)
    dup = keys.duplicated(["org_code"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(f"area {keys.org_code.iloc[pos]} ({keys.org_name.iloc[pos]}) appears "
                              f"twice for {month:%B %Y}", path=rep.path, sheet=rep.sheet,
                              row=int(d["row"].iloc[pos]))
    return out


def load_dtoc(path, *, england: bool = False, outside_england: bool = False,
              errors: str = "report", with_report: bool = False):
    """Load delayed transfers of care by local authority and month: the published workbooks or the tidy CSV.

    Reads NHS England's **monthly local-authority workbooks** (April 2011 to February 2020;
    ``.xls`` Excel 97 as published, or ``.xlsx``), one file, a list or a folder of them, and the
    NHS-R **tidy derivative** CSV (``Code, Name, <reason columns>, Total Delayed Transfers of
    Care, Period``, ``Period`` like ``April 2019``).

    In a workbook, the sheets by reason, by type of care and by responsible organisation are found
    by meaning (``LA - by Type of Care`` or ``LA - by type of care``, ...), the header row below
    the title block by its ``Code`` and ``Name`` columns (early ``SHA, Code, Name``, later
    ``Region, ONS Geography, Code, Name``), the month from the ``Period:`` cell (else the file
    name), the delayed-days block and the per-day block beside it (``DTOC Beds``, later
    ``Average Number of People Delayed per Day``) from the heading above them, and each reason
    from its wording, whatever the year (``A) COMPLETION OF ASSESSMENT``, ``A) Awaiting
    completion of assessment``). The sum over areas is checked against the ``England`` row for
    every measure (``report.totals``; a mismatch warns). When a folder or list holds the same
    month twice (a revised file), the later-published or revised one is kept and the report
    says which.

    In both layouts ``-`` is suppressed and ``NA`` not collected (e.g. ``Other`` before it
    existed): both are NaN, **never 0**, and counted per column in the parse report.
    Codes: the workbook's ONS code where it gives one (``E06000015``), else its ``Code`` (old
    local-authority codes ``716``, ``00KB`` in early years); the CSV's codes as published.
    Reconcile old and new with :func:`cqc_research.link.reconcile_la_codes` or a lookup
    (:func:`load_la_codes`).

    Parameters
    ----------
    path : str or Path, or list of them
        A workbook, a tidy CSV, a list of them, or a folder of them.
    england : bool
        Keep the ``England`` total rows, as ``org_code="E92000001"`` and ``org_level="country"``.
        By default they are dropped and counted in the report's ``dropped``.
    outside_england : bool
        Keep the workbooks' rows of patients resident outside England (``Resident In Wales``,
        ``Resident in Scotland``, ``Resident outside GB``; codes ``9900``-``9902``), as
        ``org_level="local_authority"`` with their published codes. By default they are dropped
        and counted (the ``England`` row includes them).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read: a ``ReadReport`` for one file, a list of them (one
        per file kept) for a list or folder.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport or list) with ``with_report=True``
        The indicator table, ``org_level="local_authority"``, monthly periods, ``org_name`` as
        published. Measures ``dtoc_days_total`` and ``dtoc_days_<reason>`` (``assessment``,
        ``public_funding``, ``nhs_non_acute``, ``residential_home``, ``nursing_home``,
        ``care_package``, ``equipment``, ``patient_choice``, ``disputes``, ``housing``,
        ``other``; an unknown reason by its snake-case name); from the workbooks also
        ``dtoc_days_acute``, ``dtoc_days_non_acute`` (type of care), ``dtoc_days_nhs``,
        ``dtoc_days_social_care``, ``dtoc_days_both`` (responsible organisation) and, where
        published (from about 2016), ``dtoc_per_day_<x>`` for each of ``total``, ``acute``,
        ``non_acute``, ``nhs``, ``social_care``, ``both``: the average number of people delayed
        per day, numerator the delayed days and denominator the days in the month.

    Raises
    ------
    DataFormatError
        A file that is not a workbook or CSV of this kind (naming the right loader when it can
        tell), a missing sheet, a header not found, a month given twice by CSVs, or with
        ``errors="raise"`` a cell that is not a number (naming file, sheet, row and column).

    Examples
    --------
    >>> dtoc, reports = load_dtoc("data/raw/dtoc/", with_report=True)  # doctest: +SKIP
    >>> print(reports[0])  # doctest: +SKIP
    """
    check_errors(errors)
    files, single = _dtoc_files(path)
    if single and not _is_workbook_file(files[0]):
        return _load_dtoc_csv(files[0], england=england, errors=errors, with_report=with_report)
    books, parts, reports = {}, [], []
    for f in files:
        if not _is_workbook_file(f):
            part, rep = _load_dtoc_csv(f, england=england, errors=errors, with_report=True)
            parts.append(part)
            reports.append(rep)
            continue
        try:
            info, rows, rep = read_dtoc_workbook(f, errors=errors, report_cells={})
        except DataFormatError as exc:
            hint = _wrong_workbook_hint(f) if exc.sheet or "not an excel" not in exc.detail.casefold() else ""
            if hint:
                raise DataFormatError(exc.detail + hint, path=exc.path, sheet=exc.sheet,
                                      row=exc.row, column=exc.column) from None
            raise
        month = pd.Timestamp(info["month"])
        if month in books:
            old = books[month]
            new_wins = _revision_key(info, f) >= _revision_key(old[0], old[3].path)
            win, lose = ((info, rows, rep, rep), old) if new_wins else (old, (info, rows, rep, rep))
            win[2].notes.append(
                f"revised file: {month:%B %Y} is also in {lose[3].path.name} (published "
                f"{lose[0].get('published')}, revised {lose[0].get('revised')}); this file "
                f"(published {win[0].get('published')}, revised {win[0].get('revised')}) is the "
                "later and is kept")
            books[month] = win
        else:
            books[month] = (info, rows, rep, rep)
    for month in sorted(books):
        info, rows, rep, _ = books[month]
        parts.append(_workbook_table(info, rows, rep, england=england,
                                     outside_england=outside_england))
        reports.append(rep)
    out = finish_table(pd.concat(parts, ignore_index=True)) if parts else empty_table()
    dup = out.duplicated(["org_code", "period_start", "measure"])
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise DataFormatError(f"local authority {first.org_code} appears more than once for "
                              f"{pd.Timestamp(first.period_start):%B %Y} (in more than one file); "
                              "pass each month once", path=files[0])
    cells = merge_parse_reports(r.parse_report for r in reports)
    if errors == "report":
        warn_unparseable(cells, files[0] if single else Path(str(files[0])).parent)
    for r in reports:
        r.notes.append(f"output columns: {', '.join(map(str, out.columns))}")
    out = set_table_attrs(out, files, kind="dtoc")
    if not with_report:
        return out
    return out, (reports[0] if single else reports)


def _load_dtoc_csv(path, *, england: bool, errors: str, with_report: bool):
    """The NHS-R tidy derivative (one CSV): see :func:`load_dtoc`."""
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("Code",))
    kw = dict(path=path, expected_kind="dtoc")
    c_code = find_column(frame, ["code", "la code", "org code"], required=True, what="Code", **kw)
    c_name = find_column(frame, ["name", "la name", "org name"], required=True, what="Name", **kw)
    c_period = find_column(frame, ["period", "month"], required=True, what="Period", **kw)
    c_total = find_column(frame, ["total delayed transfers of care", "total delayed days", "total"],
                    required=True, what="Total Delayed Transfers of Care", **kw)
    codes = frame[c_code].str.strip()
    names = frame[c_name].str.strip()
    is_eng = ((names.str.casefold() == "england") | codes.isin(["-", "", ENGLAND_CODE])).to_numpy()
    excluded = {}
    if not england:
        excluded["England"] = int(is_eng.sum())
        frame, rows, codes, names = (frame.loc[~is_eng].reset_index(drop=True), rows[~is_eng],
                                     codes[~is_eng].reset_index(drop=True),
                                     names[~is_eng].reset_index(drop=True))
        is_eng = np.zeros(len(frame), bool)
    month = parse_months(frame[c_period].str.strip(), column=c_period, rows=rows, path=path)
    keys = pd.DataFrame({"org_code": np.where(is_eng, ENGLAND_CODE, codes.to_numpy()),
                         "org_name": names, "period_start": month,
                         "period_end": month + pd.offsets.MonthEnd(0)})
    report: dict = {}
    specs = []
    for c in frame.columns:
        if c in (c_code, c_name, c_period):
            continue
        suffix = "total" if c == c_total else DTOC_BY_NORM.get(normalise_header(c), snake_case(c))
        v = parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                           errors=errors)
        specs.append((f"dtoc_days_{suffix}", v, None, None))
    if errors == "report":
        warn_unparseable(report, path)
    level = np.where(is_eng, "country", "local_authority")
    out = stack_measures(keys, specs, org_level=level)
    dup = keys.duplicated(["org_code", "period_start"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(f"local authority {keys.org_code.iloc[pos]} appears twice for "
                              f"{keys.period_start.iloc[pos]:%B %Y}", path=path,
                              row=int(rows[pos]), column=c_code)
    return loaded_table(out, path, kind="dtoc", report=report, excluded=excluded, with_report=with_report)


def _dtoc_columns(n, joined, raw) -> bool:
    return "total delayed transfers of care" in n or ({"code", "name", "period"} <= n and any(
        x in DTOC_BY_NORM for x in n))


def _dtoc_workbook_sheets(probe) -> bool:
    names = probe_sheet_names(probe)
    return names is not None and is_dtoc_workbook_names(names)


register(Kind("dtoc_workbook", "an NHS England monthly delayed transfers of care workbook "
              "(local authorities)", load_dtoc, rank=1, folder=True, sniff=_dtoc_workbook_sheets))
register(Kind("dtoc", "a delayed transfers of care CSV", load_dtoc, rank=60, columns=_dtoc_columns))
