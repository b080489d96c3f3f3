"""NHS England's monthly delayed transfers of care (DTOC) workbooks, local-authority files.

One workbook per month, April 2011 to February 2020 (``.xls``, Excel 97; ``.xlsx`` read too):
sheets ``England``, ``LA - by type of care`` (``LA - by Type of Care`` in early years),
``LA - by responsible org``, ``LA - by reason`` and, some months, ``Data Quality``. Each LA
sheet has a title block (``Title:``, ``Period:``, ``Source:``, ``Basis:``, ``Published:``,
``Revised:``, ``Status:``), an optional group row (``Delayed Days`` and, beside it after a blank
column, ``DTOC Beds`` / ``Average Number of People Delayed per Day``), a header row (``SHA, Code,
Name`` early, ``Region, ONS Geography, Code, Name`` later), an ``England`` row, then one row per
council and three rows of patients resident outside England (Wales, Scotland, outside GB).

Sheets, columns and reasons are matched by meaning (:func:`sheet_role`, :func:`reason_suffix`),
never by position or one year's spelling. :func:`read_dtoc_workbook` gives one file's councils
as a wide frame and its :class:`ReadReport`; :mod:`.dtoc` stacks them into the indicator table.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._workbook import cell_text, open_workbook
from ._common import (
    ColumnReport,
    IndicatorParseWarning,
    ReadReport,
    missing_token_counts,
    normalise_header,
    parse_month_text,
    parse_numeric,
    snake_case,
)

_HEADER_SCAN = 40

#: What each LA sheet holds (its role) and the measure suffix of each column kind.
SHEET_ROLES = ("reason", "type_of_care", "responsible")


# ---------------------------------------------------------------------------------------------
# opening a workbook: the shared opener (magic bytes, limits, one-line errors)
def open_sheets(path, *, expected: str):
    """Open an Excel workbook, saying clearly what a file is when it is not one.

    A thin wrapper of :func:`cqc_research.io._workbook.open_workbook` (the file judged by its
    first bytes, ``.xlsx`` limits checked, truncated ``.xls`` named as such).

    Parameters
    ----------
    path : str or Path
        The ``.xls`` (Excel 97) or ``.xlsx`` file.
    expected : str
        What the caller expects, for messages (e.g. ``"a delayed transfers of care workbook"``).

    Returns
    -------
    workbook, names
        The open workbook (``.rows(sheet)``) and its sheet names in order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        When the file is not an Excel workbook (empty, HTML, text, other bytes) or is damaged
        or truncated.
    """
    path = Path(path)
    if path.is_dir():
        raise DataFormatError(f"expected {expected}, found a folder", path=path)
    wb = open_workbook(path, expected=expected)
    return wb, list(wb.sheet_names)


def sheet_cells(wb, name, *, path) -> list[list]:
    """Every row of a sheet from cell A1, padded to one width; cells as calamine gives them.

    Parameters
    ----------
    wb : workbook
        The open workbook (from :func:`open_sheets`).
    name : str
        The sheet.
    path : Path
        The file, for the error.

    Returns
    -------
    list of list
        Rows of cells (``str``, ``float``, ``int``, ``bool``, dates; blanks ``""``).

    Raises
    ------
    DataFormatError
        When the sheet cannot be read (a damaged or truncated file, or past a limit).
    """
    raw = wb.rows(name)
    width = max((len(r) for r in raw), default=0)
    return [list(r) + [""] * (width - len(r)) for r in raw]


def column_letter(j: int) -> str:
    """The spreadsheet letter of a 0-based column index.

    Parameters
    ----------
    j : int
        0-based column index.

    Returns
    -------
    str

    Examples
    --------
    >>> column_letter(0), column_letter(27)
    ('A', 'AB')
    """
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


# ---------------------------------------------------------------------------------------------
# meanings: sheets, label columns, reasons, type of care, responsible organisation
def sheet_role(name) -> str | None:
    """What a DTOC sheet holds, from its name: ``reason``, ``type_of_care``, ``responsible``.

    Parameters
    ----------
    name : str
        The sheet name as published (any case or wording: ``LA - by Type of Care``,
        ``LA - by responsible org``, ``LA - by reason``).

    Returns
    -------
    str or None
        ``None`` for other sheets (``England``, ``Data Quality``, notes), and for
        provider-level sheets (``Provider - by ...``, ``Trust ...``), which are not read.

    Examples
    --------
    >>> sheet_role("LA - by Type of Care"), sheet_role("LA - by reason"), sheet_role("England")
    ('type_of_care', 'reason', None)
    """
    n = normalise_header(name)
    if any(w in n.split() for w in ("provider", "providers", "trust", "trusts")):
        return None
    if "type of care" in n or "care type" in n:
        return "type_of_care"
    if "responsib" in n or "attributable" in n or "agency" in n:
        return "responsible"
    if "reason" in n:
        return "reason"
    return None


def label_role(text) -> str | None:
    """The label columns: ``region`` (``SHA``/``Region``), ``ons`` , ``code``, ``name``.

    Parameters
    ----------
    text : str
        A header cell.

    Returns
    -------
    str or None

    Examples
    --------
    >>> [label_role(x) for x in ["SHA", "ONS Geography", "Code", "Name", "Total"]]
    ['region', 'ons', 'code', 'name', None]
    """
    n = normalise_header(text)
    if n in {"sha", "region", "strategic health authority", "nhs region", "commissioning region",
             "region name", "sha name"}:
        return "region"
    if n.startswith("ons") or n in {"ons geography", "ons code", "geography code", "gss code"}:
        return "ons"
    if n in {"code", "la code", "local authority code", "org code", "organisation code"}:
        return "code"
    if n in {"name", "la name", "local authority", "local authority name", "org name",
             "organisation name"}:
        return "name"
    return None


_LETTERS = {"a": "assessment", "b": "public_funding", "c": "nhs_non_acute",
            "di": "residential_home", "dii": "nursing_home", "e": "care_package", "f": "equipment",
            "g": "patient_choice", "h": "disputes", "i": "housing", "o": "other"}


def reason_suffix(text) -> str | None:
    """The measure suffix of a reason-for-delay heading, whatever the year's wording.

    Parameters
    ----------
    text : str
        A header cell of the reason sheet, e.g. ``A) COMPLETION OF ASSESSMENT`` (2011),
        ``A) Awaiting completion of assessment`` (2017), ``I) Housing - patients not covered by
        Care Act`` (2019), ``Total``.

    Returns
    -------
    str or None
        One of ``assessment, public_funding, nhs_non_acute, residential_home, nursing_home,
        care_package, equipment, patient_choice, disputes, housing, other, total``; ``None``
        when the heading means none of them.

    Examples
    --------
    >>> reason_suffix("C) WAITING FURTHER NHS NON-ACUTE CARE")
    'nhs_non_acute'
    >>> reason_suffix("F) AWAITING COMMUNITY EQUIPMENT AND ADAPTIONS")
    'equipment'
    >>> reason_suffix("Total Delayed Transfers of Care")
    'total'
    """
    raw = str(text).strip()
    m = re.match(r"^\s*([A-Za-z]{1,3})\s*[).:]\s*(.*)$", raw)
    letter, rest = (m.group(1).casefold(), m.group(2)) if m else (None, raw)
    n = normalise_header(rest)
    rules = (("housing", "housing"), ("assessment", "assessment"), ("funding", "public_funding"),
             ("non acute", "nhs_non_acute"), ("residential", "residential_home"),
             ("nursing", "nursing_home"), ("care package", "care_package"),
             ("own home", "care_package"), ("equipment", "equipment"), ("adapt", "equipment"),
             ("choice", "patient_choice"), ("dispute", "disputes"))
    for key, suffix in rules:
        if key in n:
            return suffix
    if n in {"other", "other reasons", "other reason"}:
        return "other"
    if n == "total" or n.startswith("total "):
        return "total"
    if letter in _LETTERS and n:
        return _LETTERS[letter]
    return None


def care_suffix(text, role: str) -> str | None:
    """The measure suffix of a type-of-care or responsible-organisation heading.

    Parameters
    ----------
    text : str
        A header cell: ``Acute``, ``Non-Acute``, ``Total`` (type of care); ``NHS``, ``Social
        Care``, ``Both``, ``Total`` (responsible organisation).
    role : {"type_of_care", "responsible"}
        The sheet's role.

    Returns
    -------
    str or None
        ``acute``, ``non_acute``, ``nhs``, ``social_care``, ``both``, ``total`` or ``None``.

    Examples
    --------
    >>> care_suffix("Non-Acute", "type_of_care"), care_suffix("Social Care", "responsible")
    ('non_acute', 'social_care')
    """
    n = normalise_header(text)
    if n.startswith("total"):
        return "total"
    if role == "type_of_care":
        if n.replace(" ", "") in {"nonacute", "nonacutecare"}:
            return "non_acute"
        if n in {"acute", "acute care"}:
            return "acute"
        return None
    if n in {"nhs", "nhs only"}:
        return "nhs"
    if n in {"social care", "social services", "social care only", "adult social care"}:
        return "social_care"
    if n in {"both", "both nhs and social care", "nhs and social care"}:
        return "both"
    return None


def block_of(group: str) -> str:
    """``days`` or ``per_day`` for a group heading (``Delayed Days``, ``DTOC Beds``, ...).

    Parameters
    ----------
    group : str
        The heading above a column ("" when there is none: early years, days only).

    Returns
    -------
    str

    Examples
    --------
    >>> block_of("DTOC Beds"), block_of("Average Number of People Delayed per Day"), block_of("")
    ('per_day', 'per_day', 'days')
    """
    n = normalise_header(group)
    if "bed" in n or "per day" in n or "average" in n:
        return "per_day"
    return "days"


# ---------------------------------------------------------------------------------------------
_PREAMBLE_LABELS = {"title", "summary", "period", "source", "basis", "published", "revised",
                    "status", "contact"}


def _preamble(rows, upto: int) -> dict:
    out = {}
    for r in rows[:upto]:
        cells = [cell_text(c) for c in r]
        for j, c in enumerate(cells):
            if (c.endswith(":") and len(c) < 30) or normalise_header(c) in _PREAMBLE_LABELS:
                value = next((x for x in cells[j + 1:] if x), "")
                out.setdefault(normalise_header(c), value)
                break
    return out


def _find_header(rows) -> int | None:
    for i, r in enumerate(rows[:_HEADER_SCAN]):
        roles = {label_role(cell_text(c)) for c in r}
        if {"code", "name"} <= roles:
            return i
    return None


def _groups(above, header) -> list[str]:
    """Group headings carried right over the columns they span, up to a blank column name."""
    out, current = [], ""
    for j, name in enumerate(header):
        name = cell_text(name)
        g = cell_text(above[j]) if above is not None and j < len(above) else ""
        if g:
            current = g
        if not name:
            current = ""
        out.append("" if not name or label_role(name) else current)
    return out


def _month_of(text) -> pd.Timestamp | None:
    """``April 2011``, ``April 2011 (revised)``, ``Apr-11``, a date cell -> the month."""
    t = str(text or "").strip()
    if not t:
        return None
    month = parse_month_text(t)
    if month is None:
        m = re.search(r"([A-Za-z]+)\W+(\d{4})(?!\d)", t)
        month = parse_month_text(f"{m.group(1)} {m.group(2)}") if m else None
    return month


def _date_text(text) -> dt.date | None:
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", str(text).strip(), flags=re.I)
    for fmt in ("%d %B %Y", "%d %b %Y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    return None


def is_dtoc_workbook_names(names) -> bool:
    """True when sheet names look like a DTOC local-authority workbook (a reason sheet, LA).

    Parameters
    ----------
    names : iterable of str
        The workbook's sheet names.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_dtoc_workbook_names(["England", "LA - by Type of Care", "LA - by reason"])
    True
    >>> is_dtoc_workbook_names(["Provider Level Data"])
    False
    """
    roles = {sheet_role(n) for n in names}
    return "reason" in roles and ("type_of_care" in roles or "responsible" in roles)


def read_dtoc_workbook(path, *, errors: str = "report", report_cells: dict | None = None):
    """Read one monthly DTOC local-authority workbook.

    Parameters
    ----------
    path : str or Path
        The ``.xls``/``.xlsx`` workbook.
    errors : {"report", "raise"}
        Unparseable cells: counted (``"report"``) or an error naming sheet, row and column.
    report_cells : dict, optional
        The parse report to fill (see ``parse_numeric``).

    Returns
    -------
    info : dict
        ``month`` (Timestamp), ``published`` and ``revised`` (dates or None), ``status``.
    rows : pandas.DataFrame
        One row per published row of the reason sheet that names an area (councils, the
        ``England`` row and the rows of residents outside England): ``org_code``, ``ons``,
        ``code``, ``org_name``, ``row_kind`` (``council``, ``england``, ``outside_england``),
        and one float column per measure (``dtoc_days_<reason>``, ``dtoc_days_acute``, ...,
        ``dtoc_per_day_<x>``).
    report : ReadReport

    Raises
    ------
    DataFormatError
        Not a workbook, no reason sheet, no header row, a heading of unknown meaning, a month
        that cannot be read, or (``errors="raise"``) an unparseable cell.
    """
    path = Path(path)
    report_cells = {} if report_cells is None else report_cells
    wb, names = open_sheets(path, expected="a delayed transfers of care (DTOC) workbook")
    by_role: dict[str, str] = {}
    for n in names:
        r = sheet_role(n)
        if r and r not in by_role:
            by_role[r] = n
    if "reason" not in by_role:
        raise DataFormatError(
            "no 'LA - by reason' sheet; expected a delayed transfers of care local-authority "
            f"workbook with sheets 'LA - by type of care', 'LA - by responsible org' and 'LA - by "
            f"reason'. Sheets present: {names}", path=path, sheet="LA - by reason")
    rep = ReadReport(path=path, kind="dtoc (NHS England monthly delayed transfers of care, "
                     "local authorities)", sheet=by_role["reason"], parse_report=report_cells)
    missing = [r for r in SHEET_ROLES if r not in by_role]
    if missing:
        rep.notes.append(f"sheets not in this workbook: {missing} (their measures are absent)")
    ignored = [n for n in names if sheet_role(n) is None]
    if ignored:
        rep.notes.append(f"sheets not read: {ignored}")
    info: dict = {}
    per_sheet = {}
    for role in SHEET_ROLES:
        if role not in by_role:
            continue
        per_sheet[role] = _read_sheet(path, wb, by_role[role], role, errors=errors,
                                      report_cells=report_cells, rep=rep, info=info)
    base = per_sheet["reason"]
    out = base["labels"].copy()
    kinds = base["labels"]["row_kind"].to_numpy()
    for role in SHEET_ROLES:
        if role not in per_sheet:
            continue
        s = per_sheet[role]
        key = s["labels"]["org_name"].str.casefold() + "|" + s["labels"]["code"]
        pos = pd.Series(np.arange(len(key)), index=key)
        pos = pos[~pos.index.duplicated()]
        want = (out["org_name"].str.casefold() + "|" + out["code"])
        idx = want.map(pos)
        if role != "reason" and idx.isna().any():
            lost = out.loc[idx.isna(), "org_name"].tolist()
            rep.notes.append(f"sheet {by_role[role]!r} lacks {len(lost)} area(s) of the reason "
                             f"sheet ({lost[:5]}): their {role} measures are missing")
        for measure, values in s["values"].items():
            if role != "reason" and measure == "dtoc_days_total":
                other = np.full(len(out), np.nan)
                ok = idx.notna().to_numpy()
                other[ok] = values[idx[ok].astype(int).to_numpy()]
                both = ok & ~np.isnan(other) & ~np.isnan(out["dtoc_days_total"].to_numpy())
                diff = both & (np.abs(other - out["dtoc_days_total"].to_numpy()) > 1e-6)
                if diff.any():
                    rep.notes.append(f"sheet {by_role[role]!r}: Total differs from the reason "
                                     f"sheet's for {int(diff.sum())} area(s); the reason sheet's "
                                     "is kept")
                continue
            if measure in out:
                continue
            col = np.full(len(out), np.nan)
            ok = idx.notna().to_numpy()
            col[ok] = values[idx[ok].astype(int).to_numpy()]
            out[measure] = col
    measures = [c for c in out.columns if c.startswith("dtoc_")]
    # the England row against the sum over every other area
    eng = np.flatnonzero(kinds == "england")
    if len(eng):
        e = eng[0]
        areas = kinds != "england"
        for m in measures:
            tot = out[m].to_numpy()[e]
            if np.isnan(tot):
                continue
            rep.totals[m] = (float(np.nansum(out[m].to_numpy()[areas])), float(tot))
        bad = [k for k, (got, tot) in rep.totals.items()
               if abs(got - tot) > 1e-6 * max(1.0, abs(tot)) + 0.01]
        if bad:
            warnings.warn(f"{path}: the sum over areas differs from the England row for {bad}",
                          IndicatorParseWarning, stacklevel=3)
        n_out = int((kinds == "outside_england").sum())
        if n_out:
            rep.notes.append(f"totals: the England row counts the {n_out} rows of patients "
                             "resident outside England (Wales, Scotland, outside GB) as well as "
                             "the councils; the sums checked include them")
    else:
        rep.notes.append("no England row: totals not checked")
    month = info["month"]
    out["period_start"] = pd.Timestamp(month)
    return info, out, rep


def _read_sheet(path, wb, sheet, role, *, errors, report_cells, rep, info) -> dict:
    rows = sheet_cells(wb, sheet, path=path)
    h = _find_header(rows)
    if h is None:
        raise DataFormatError(
            f"no header row with 'Code' and 'Name' columns in the first {_HEADER_SCAN} rows; "
            "expected 'SHA, Code, Name, ...' or 'Region, ONS Geography, Code, Name, ...'",
            path=path, sheet=sheet)
    header = [cell_text(c) for c in rows[h]]
    groups = _groups(rows[h - 1] if h > 0 else None, rows[h])
    pre = _preamble(rows, h)
    # the month, from the Period: cell (else the file name)
    month = _month_of(pre.get("period", ""))
    source = f"the 'Period:' cell of {sheet!r}, {pre.get('period')!r}"
    if month is None:
        m = re.search(r"([A-Za-z]+)[\s_\-]+(\d{4}|\d{2})(?!\d)", path.stem)
        month = parse_month_text(f"{m.group(1)} {m.group(2)}") if m else None
        source = "the file name (no readable 'Period:' cell)"
    if month is None:
        raise DataFormatError("no 'Period:' cell above the header and no month in the file name; "
                              "expected e.g. 'Period: April 2011'", path=path, sheet=sheet)
    if "month" not in info:
        info.update(month=month, published=_date_text(pre.get("published", "")),
                    revised=_date_text(pre.get("revised", "")), status=pre.get("status", ""))
        rep.period = f"{month:%Y-%m} (from {source})"
    elif info["month"] != month:
        raise DataFormatError(f"sheet {sheet!r} is for {month:%B %Y} but another sheet of this "
                              f"workbook is for {info['month']:%B %Y}", path=path, sheet=sheet,
                              row=None)
    if role == "reason":
        rep.header_row = h + 1
        rep.header = header
    labels, value_cols, unknown = {}, [], []
    last_label = max(j for j, name in enumerate(header) if label_role(name) in {"code", "name"})
    for j, (name, g) in enumerate(zip(header, groups, strict=True)):
        if not name:
            continue
        lr = label_role(name)
        if lr:
            labels.setdefault(lr, j)
            continue
        if j < last_label:  # another label column (an area team, a region code): not a measure
            labels.setdefault(f"other:{name}", j)
            continue
        block = block_of(g)
        suffix = reason_suffix(name) if role == "reason" else care_suffix(name, role)
        if suffix is None:
            if role == "reason":
                suffix = snake_case(name)
                rep.notes.append(f"sheet {sheet!r}: reason heading {name!r} is not one of the known "
                                 f"reasons; read as dtoc_days_{suffix}")
            else:
                unknown.append(f"{column_letter(j)} {name!r}")
                continue
        measure = f"dtoc_{'days' if block == 'days' else 'per_day'}_{suffix}"
        value_cols.append((j, measure, f"{g} | {name}" if g else name))
    if unknown:
        what = ("Acute, Non-Acute, Total" if role == "type_of_care"
                else "NHS, Social Care, Both, Total")
        raise DataFormatError(f"cannot tell what column(s) {unknown} of sheet {sheet!r} hold; "
                              f"expected {what} (delayed days, and beside them the average number "
                              "of people delayed per day)", path=path, sheet=sheet, row=h + 1,
                              column=unknown[0])
    if "name" not in labels or "code" not in labels:
        raise DataFormatError("header row lacks 'Code' or 'Name'", path=path, sheet=sheet,
                              row=h + 1, column="Name")
    seen = {}
    for j, measure, _ in value_cols:
        if measure in seen:
            raise DataFormatError(f"two columns mean {measure}: {header[seen[measure]]!r} and "
                                  f"{header[j]!r}", path=path, sheet=sheet, row=h + 1,
                                  column=column_letter(j))
        seen[measure] = j
    # rows: areas (a name), England, outside England; skip blanks and notes
    body = rows[h + 1:]
    keep, kinds = [], []
    dropped: dict[str, int] = {}
    c_name, c_code = labels["name"], labels["code"]
    c_ons = labels.get("ons")
    for i, r in enumerate(body):
        name = cell_text(r[c_name])
        if not name:
            reason = "blank rows" if not any(cell_text(c) for c in r) else \
                "rows without a name (notes, headings)"
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        n = normalise_header(name)
        if n in {"england", "england total", "total", "total england"}:
            kind = "england"
        elif n.startswith("resident") or "outside" in n or cell_text(r[c_code]) in {
                "9900", "9901", "9902"}:
            kind = "outside_england"
        else:
            kind = "council"
        keep.append(i)
        kinds.append(kind)
    if role == "reason":
        rep.rows_read = len(body)
        rep.dropped.update(dropped)
    rownums = np.array([h + 2 + i for i in keep], dtype=int)
    codes = [cell_text(body[i][c_code]) for i in keep]
    ons = [cell_text(body[i][c_ons]) if c_ons is not None else "" for i in keep]
    lab = pd.DataFrame({
        "ons": ons, "code": codes,
        "org_name": [cell_text(body[i][c_name]) for i in keep],
        "row_kind": kinds, "row": rownums})
    lab["org_code"] = [o if o and o not in {"-", "n/a", "N/A"} else c for o, c in zip(ons, codes, strict=True)]
    values = {}
    for j, measure, source in value_cols:
        cells = [body[i][j] for i in keep]
        col = f"{sheet} | {column_letter(j)} {header[j]}"
        try:
            values[measure] = parse_numeric(cells, column=col, rows=rownums, report=report_cells,
                                            path=path, errors=errors)
        except DataFormatError as exc:
            raise DataFormatError(exc.detail, path=path, sheet=sheet, row=exc.row,
                                  column=f"{column_letter(j)} ({header[j]})") from None
        rep.columns.append(ColumnReport(j + 1, f"{sheet} | {source}", measure,
                                        missing_token_counts([cell_text(c) for c in cells])))
    if role == "reason":
        roles = {"name": "org_name", "ons": "org_code (ONS code)",
                 "code": "org_code where there is no ONS code", "region": "ignored: region / SHA"}
        rep.columns[:0] = [ColumnReport(j + 1, f"{sheet} | {header[j]}",
                                        roles.get(name, "ignored: a label column"))
                           for name, j in sorted(labels.items(), key=lambda kv: kv[1])]
    return {"labels": lab, "values": values}
