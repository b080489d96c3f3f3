"""Friends and Family Test (NHS England, monthly): GP practice and A&E (trust and site) results as indicators.

NHS England publishes one workbook a month per setting. The GP file has a practice sheet; the
A&E file has trust (organisation) and site sheets, with national and ICB/STP rows and sheets
beside them. Each data sheet gives the total responses, the count of each response and the
percentages positive and negative. The question changed in April 2020: until March 2020
"How likely are you to recommend ...?" (Extremely likely ... Extremely unlikely, Don't know;
published as % recommended / % not recommended), from April 2020 "Overall, how was your
experience of our service?" (Very good ... Very poor, Don't know; % positive / % negative). Both
are read into the same measures; the break is in the series, not in the names. The layouts are
modelled on the published documentation (NHS England's FFT guidance and the code of its
publication pipeline): no real file was seen here.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from .._workbook import cell_text, open_workbook
from ._common import (
    MONTHS,
    check_errors,
    decode_text,
    detect_indicator_kind,
    empty_table,
    finish_table,
    is_indicator_kind,
    kind_hint,
    month_end,
    month_start,
    normalise_header,
    parse_numeric,
    set_table_attrs,
    stack_measures,
    table_report,
    warn_unparseable,
)

__all__ = ["load_fft"]

#: The measures :func:`load_fft` gives for every organisation and month.
FFT_MEASURES = {
    "fft_recommend_pct": "% of responses positive: Extremely likely or Likely to recommend "
                         "(to March 2020), Very good or Good (from April 2020); numerator the "
                         "positive responses, denominator the total responses",
    "fft_not_recommend_pct": "% of responses negative: Unlikely or Extremely unlikely (to March "
                             "2020), Poor or Very poor (from April 2020)",
    "fft_responses": "total responses in the month",
}

#: Each published response, as a normalised header, -> (question series, polarity).
FFT_RESPONSES = {
    "extremely likely": ("2013", "positive"), "likely": ("2013", "positive"),
    "neither likely nor unlikely": ("2013", "neutral"), "unlikely": ("2013", "negative"),
    "extremely unlikely": ("2013", "negative"),
    "very good": ("2020", "positive"), "good": ("2020", "positive"),
    "neither good nor poor": ("2020", "neutral"), "poor": ("2020", "negative"),
    "very poor": ("2020", "negative"),
    "don t know": (None, "neutral"), "dont know": (None, "neutral"),
}

_WORKBOOK = {".xls", ".xlsx", ".xlsm"}
_CODE = {
    "practice": {"practice code", "gp practice code", "gp code", "prac code", "practice id"},
    "site": {"site code", "site id"},
    "trust": {"trust code", "org code", "organisation code", "organization code", "provider code",
              "org id"},
    "any": {"code", "ods code"},
}
_NAME = {"practice name", "gp practice name", "gp name", "site name", "site name max", "trust name",
         "org name", "organisation name", "organization name", "provider name", "name"}
_TOTAL = {"total responses", "total response", "responses", "total", "total responses sum"}
_POS = {"percentage positive", "percent positive", "positive", "prop pos", "percentage recommended",
        "percent recommended", "recommended", "percentage would recommend", "would recommend",
        "percentage recommend", "recommend"}
_NEG = {"percentage negative", "percent negative", "negative", "prop neg",
        "percentage not recommended", "percent not recommended", "not recommended",
        "percentage would not recommend", "would not recommend", "not recommend"}
_SKIP_SHEETS = ("icb", "stp", "ccg", "region", "national", "england", "summary", "notes", "note",
                "contents", "bs", "background", "definition", "collection", "mode", "ward",
                "specialt")


def _fold(name) -> str:
    n = normalise_header(name)
    n = re.sub(r"^\d+ ", "", n)
    return re.sub(r" (sum|max)$", "", n) if n not in {"site name max"} else n


def fft_column_role(name):
    """What a Friends and Family Test column holds, from its header.

    Parameters
    ----------
    name : str
        The column header as published (case, spacing, ``%``, a leading response number and a
        trailing ``SUM`` are folded: ``1 Very Good SUM`` is ``Very Good``).

    Returns
    -------
    tuple or None
        ``("code", level)`` with level ``practice``, ``site``, ``trust`` or ``any``;
        ``("name", None)``; ``("total", None)``; ``("pct", "positive" | "negative")``;
        ``("response", (series, polarity))`` for a response count (see
        :data:`FFT_RESPONSES`); ``("period", part)``; None for anything else.

    Examples
    --------
    >>> fft_column_role("1 Very Good SUM")
    ('response', ('2020', 'positive'))
    >>> fft_column_role("Percentage Not Recommended")
    ('pct', 'negative')
    >>> fft_column_role("Practice Code")
    ('code', 'practice')
    """
    n = _fold(name)
    if not n:
        return None
    for level, names in _CODE.items():
        if n in names:
            return ("code", level)
    if n in _NAME:
        return ("name", None)
    if n in _TOTAL:
        return ("total", None)
    if n in _NEG:
        return ("pct", "negative")
    if n in _POS:
        return ("pct", "positive")
    if n in FFT_RESPONSES:
        return ("response", FFT_RESPONSES[n])
    if n in {"period", "periodname", "period name", "month"}:
        return ("period", "month")
    if n in {"yearnumber", "year number", "year", "financial year"}:
        return ("period", "year")
    return None


@dataclass
class _Sheet:
    name: str | None
    rows: list
    header: int
    level: str


def _grids(path: Path):
    """(sheet name, rows of text cells) for each sheet of a workbook, or the one CSV."""
    if path.suffix.lower() in _WORKBOOK:
        wb = open_workbook(path)  # names what the file is; within the limits
        for name in wb.sheet_names:
            raw = wb.rows(name)
            yield name, [[cell_text(c) for c in r] for r in raw]
        return
    text = decode_text(path)
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise DataFormatError(f"not a readable CSV file: {exc}", path=path) from None
    yield None, rows


def _sheet_level(sheet: str | None, header) -> str | None:
    roles = [fft_column_role(c) for c in header]
    levels = {r[1] for r in roles if r and r[0] == "code"}
    for level in ("practice", "site", "trust"):
        if level in levels:
            return level
    if "any" not in levels or sheet is None:
        return None
    s = normalise_header(sheet)
    if "practice" in s or re.search(r"\bgp\b", s):
        return "practice"
    if "site" in s:
        return "site"
    if any(w in s for w in ("trust", "organisation", "organization", "provider", "org")):
        return "trust"
    return None


def _find_header(rows):
    for i, r in enumerate(rows[:40]):
        roles = [fft_column_role(c) for c in r]
        kinds = {x[0] for x in roles if x}
        has_pos = any(x and ((x[0] == "pct" and x[1] == "positive")
                             or (x[0] == "response" and x[1][1] == "positive")) for x in roles)
        if "code" in kinds and "total" in kinds and has_pos:
            return i
    return None


def _data_sheets(path: Path) -> tuple[list[_Sheet], list[str]]:
    found, tried = [], []
    for name, rows in _grids(path):
        tried.append(name)
        if name is not None and any(
                w == normalise_header(name) or normalise_header(name).startswith(w + " ")
                for w in _SKIP_SHEETS):
            continue
        width = max((len(r) for r in rows), default=0)
        rows = [r + [""] * (width - len(r)) for r in rows]
        h = _find_header(rows)
        if h is None:
            continue
        level = _sheet_level(name, rows[h])
        if level is not None:
            found.append(_Sheet(name, rows, h, level))
    return found, tried


def is_fft_workbook(path) -> bool:
    """True when ``path`` is a Friends and Family Test file (a data sheet's header is found).

    Parameters
    ----------
    path : str or Path
        An ``.xls``/``.xlsx``/``.xlsm`` workbook or a CSV.

    Returns
    -------
    bool
        False for unreadable files and files with no FFT data sheet.

    Examples
    --------
    >>> is_fft_workbook("no-such-file.xlsx")
    False
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return bool(_data_sheets(path)[0])
    except (DataFormatError, OSError):
        return False


_MONTH_RE = re.compile(r"(?<![a-z])(" + "|".join(sorted(MONTHS, key=len, reverse=True))
                       + r")[a-z]*[\s_\-.]*((?:19|20)?\d{2})(?!\d)", re.I)


def _month_in(text) -> pd.Timestamp | None:
    m = _MONTH_RE.search(str(text))
    if not m:
        return None
    year = int(m.group(2))
    year = year + 2000 if year < 100 else year
    if not 2010 <= year <= 2100:
        return None
    return month_start(year, MONTHS[m.group(1).casefold()])


def _sheet_month(sheet: _Sheet, path: Path, period) -> pd.Timestamp | None:
    if period is not None:
        return pd.Timestamp(period).to_period("M").start_time
    for r in sheet.rows[:sheet.header]:
        for c in r:
            found = _month_in(c)
            if found is not None:
                return found
    return _month_in(path.stem) or (_month_in(sheet.name) if sheet.name else None)


def _column_months(sheet, cols, rows, path):
    """Months from a Period(name) column (and a Yearnumber like 2025_26, a financial year)."""
    c_month = next((j for j, r in cols.items() if r == ("period", "month")), None)
    c_year = next((j for j, r in cols.items() if r == ("period", "year")), None)
    if c_month is None:
        return None
    out = []
    for i, r in enumerate(rows):
        text = r[c_month]
        found = _month_in(text)
        if found is None and c_year is not None and normalise_header(text) in MONTHS:
            m = MONTHS[normalise_header(text)]
            fy = re.match(r"\s*(\d{4})", r[c_year])
            if fy:
                y = int(fy.group(1))
                found = month_start(y + (1 if m < 4 else 0), m)
        if found is None:
            raise DataFormatError(f"cannot read {text!r} as a month; expected e.g. 'August 2025' "
                                  "or a month beside a Yearnumber like '2025_26'", path=path,
                                  sheet=sheet.name, row=sheet.header + 2 + i,
                                  column=sheet.rows[sheet.header][c_month])
        out.append(found)
    return out


def _read_sheet(sheet: _Sheet, path: Path, *, period, errors, report, dropped):
    header = sheet.rows[sheet.header]
    roles = {j: fft_column_role(c) for j, c in enumerate(header)}
    cols = {j: r for j, r in roles.items() if r}
    order = {"practice": 0, "site": 0, "trust": 0, "any": 1}
    code_cols = sorted((j for j, r in cols.items() if r[0] == "code"),
                       key=lambda j: (cols[j][1] != sheet.level, order[cols[j][1]], j))
    c_code = code_cols[0]
    name_cols = [j for j, r in cols.items() if r[0] == "name"]
    level_word = {"practice": "practice", "site": "site", "trust": ("trust", "org", "organisation",
                                                                       "provider")}[sheet.level]
    c_name = next((j for j in name_cols if normalise_header(header[j]).startswith(level_word)),
                  name_cols[-1] if name_cols else None)
    c_total = next(j for j, r in cols.items() if r[0] == "total")
    body = sheet.rows[sheet.header + 1:]
    row_no = np.arange(len(body)) + sheet.header + 2
    code = pd.Series([r[c_code] for r in body], dtype="str").str.strip().str.upper()
    name = pd.Series([r[c_name] if c_name is not None else "" for r in body], dtype="str").str.strip()
    national = code.str.casefold().str.startswith(("england", "total", "eng")) | \
        name.str.casefold().str.startswith(("england", "total"))
    blank = code.eq("") | code.eq("-")
    keep = ~blank & ~national
    dropped["blank row or no code"] = dropped.get("blank row or no code", 0) + int((blank & ~national).sum())
    dropped["national (England) or total row"] = dropped.get("national (England) or total row", 0) \
        + int(national.sum())
    body = [r for r, k in zip(body, keep, strict=True) if k]
    row_no = row_no[keep.to_numpy()]
    code, name = code[keep].reset_index(drop=True), name[keep].reset_index(drop=True)
    label = f"{sheet.name}!" if sheet.name else ""

    def num(j):
        return parse_numeric([r[j] for r in body], column=f"{label}{header[j]}", rows=row_no,
                             report=report, path=path, errors=errors)

    total = num(c_total)
    counts = {"positive": [], "negative": []}
    series = set()
    for j, r in cols.items():
        if r[0] == "response":
            if r[1][0]:
                series.add(r[1][0])
            if r[1][1] in counts:
                counts[r[1][1]].append(num(j))
    pct = {}
    for j, r in cols.items():
        if r[0] == "pct" and r[1] not in pct:
            v = num(j)
            valid = v[~np.isnan(v)]
            pct[r[1]] = v * 100.0 if len(valid) and valid.max() <= 1.0 else v
    months = _column_months(sheet, cols, body, path)
    if months is None:
        month = _sheet_month(sheet, path, period)
        if month is None:
            raise DataFormatError("no month found (a Period column, a month in the sheet's title "
                                  "rows or in the file name, e.g. 'FFT-GP-data-March-2019.xlsx'); "
                                  "pass period='2019-03'", path=path, sheet=sheet.name)
        months = [month] * len(body)
    starts = pd.DatetimeIndex(months)
    keys = pd.DataFrame({"org_code": code, "org_name": name.where(name != "", pd.NA),
                         "period_start": starts, "period_end": month_end(starts)})
    specs = [("fft_responses", total, None, None)]
    for polarity, measure in (("positive", "fft_recommend_pct"), ("negative", "fft_not_recommend_pct")):
        k = np.sum(counts[polarity], axis=0) if counts[polarity] else None  # NaN if any suppressed
        value = pct.get(polarity)
        if value is None:
            if k is None:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(total > 0, 100.0 * k / total, np.nan)
        specs.append((measure, value, k, total))
    out = stack_measures(keys, specs, org_level=sheet.level)
    layout = {"2013": "to March 2020 (Extremely likely ... Extremely unlikely)",
              "2020": "from April 2020 (Very good ... Very poor)"}
    layout_text = "; ".join(layout[s] for s in sorted(series)) or (
        "percentages only" if pct else "")
    return out, f"{label or 'csv'} {sheet.level} sheet, header row {sheet.header + 1}" + (
        f", responses {layout_text}" if layout_text else "")


def _files(path) -> list[Path]:
    if isinstance(path, list | tuple):
        return [Path(p) for p in path]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in _WORKBOOK | {".csv"}
                       and not f.name.startswith((".", "~$")))
        if not files:
            raise DataFormatError("the folder holds no Friends and Family Test files "
                                  "(.xlsx, .xls, .csv)", path=p)
        return files
    return [p]


def _wrong_kind_hint(path: Path) -> str:
    try:
        kind = detect_indicator_kind(path)
    except (DataFormatError, OSError):
        kind = None
    if is_indicator_kind(kind) and kind != "fft":
        return kind_hint(kind)
    return ""


def load_fft(path, *, period=None, errors: str = "report", with_report: bool = False):
    """Load Friends and Family Test results (GP practices, A&E trusts and sites) as indicators.

    Reads NHS England's monthly FFT workbooks (``.xlsx``/``.xls``; CSV too): every sheet whose
    header has an organisation code (``Practice Code``, ``Site Code``, ``Trust Code``/``Org
    code``), ``Total Responses`` and a positive percentage or response counts. ICB, STP,
    national, notes and ward sheets are skipped; national (``ENGLAND``) and total rows are
    dropped and counted. Columns are matched by meaning (:func:`fft_column_role`): both
    questions' responses (to March 2020 ``Extremely likely`` ... ``Extremely unlikely``, from
    April 2020 ``Very Good`` ... ``Very Poor``, either as published or as ``1 Very Good SUM``)
    and both percentage names (``Percentage Recommended``/``Percentage Positive``). The layouts
    are modelled on the published documentation.

    Parameters
    ----------
    path : str or Path, or list of them
        One file, a list of files, or a folder of them.
    period : str or Timestamp, optional
        The month, when neither a ``Period`` column, the sheet's title rows nor the file name
        (``FFT-GP-data-March-2019.xlsx``, ``friends-and-family-test-ae-data-august-2025``)
        says it.
    errors : {"report", "raise"}
        ``"report"`` counts cells that are not numbers (read as missing); ``"raise"`` stops.
    with_report : bool
        Also return how each file was read: a ``ReadReport`` (a list of them for several files).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport or list) with ``with_report=True``
        The indicator table, monthly periods, ``org_level`` ``practice`` (GP sheet), ``trust``
        (organisation sheet) or ``site`` (site sheet), measures :data:`FFT_MEASURES`:
        ``fft_recommend_pct`` and ``fft_not_recommend_pct`` in percent 0-100 (shares 0-1 are
        scaled), numerator the positive (negative) responses where counts are given,
        denominator the total responses; ``fft_responses``. Suppressed cells (``*``) are
        missing and counted in the parse report, never 0; a percentage computed from counts is
        missing when any count it needs is suppressed.

    Raises
    ------
    DataFormatError
        When no sheet has the FFT header (naming the sheets tried, and the right loader when
        the file is another known kind), or no month can be found.

    Examples
    --------
    >>> frame = load_fft("FFT-GP-data-March-2019.xlsx")  # doctest: +SKIP
    """
    check_errors(errors)
    files = _files(path)
    parts, reports = [], []
    for f in files:
        if not f.exists():
            raise FileNotFoundError(f"{f}: no such file")
        sheets, tried = _data_sheets(f)
        if not sheets:
            shown = f"sheets tried: {tried}" if tried != [None] else "the CSV's first 40 rows"
            raise DataFormatError(
                "no Friends and Family Test sheet: looked for a header with an organisation code "
                "(Practice Code, Site Code, Trust Code or Org code), Total Responses, and "
                "Percentage Positive/Recommended or the response counts (Very Good ... or "
                f"Extremely likely ...); {shown}" + _wrong_kind_hint(f), path=f)
        report: dict = {}
        dropped: dict = {}
        notes, mine = [], []
        for sheet in sheets:
            out, note = _read_sheet(sheet, f, period=period, errors=errors, report=report,
                                    dropped=dropped)
            mine.append(out)
            notes.append(note)
        if errors == "report":
            warn_unparseable(report, f)
        table = pd.concat(mine, ignore_index=True)
        parts.append(table)
        months = sorted({f"{p:%Y-%m}" for p in table["period_start"]})
        reports.append((f, table, report, dropped, notes, ", ".join(months)))
    out = finish_table(pd.concat(parts, ignore_index=True)) if parts else empty_table()
    dup = out.duplicated(["org_level", "org_code", "period_start", "measure"])
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise DataFormatError(f"{first.org_level} {first.org_code} has two rows for "
                              f"{first.period_start:%Y-%m} (the same month in two files or sheets)",
                              path=files[0])
    out = set_table_attrs(out, files if len(files) > 1 else files[0], kind="fft")
    if not with_report:
        return out
    reps = []
    for f, table, report, dropped, notes, months in reports:
        rep = table_report(table, f, kind="fft", report=report, excluded=dropped, period=months,
                           notes=notes)
        rep.layout = "modelled on the published documentation"
        reps.append(rep)
    return out, (reps[0] if len(reps) == 1 else reps)


def _fft_columns(n, joined, raw) -> bool:
    roles = {r[0] for r in map(fft_column_role, raw) if r}
    return {"code", "total"} <= roles and ("pct" in roles or "response" in roles)


register(Kind("fft", "a Friends and Family Test file (GP practices or A&E)", load_fft, rank=140,
              folder=True, columns=_fft_columns, sniff=lambda probe: is_fft_workbook(probe.path)))
