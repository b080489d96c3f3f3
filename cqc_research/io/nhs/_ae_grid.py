"""The cells of a monthly A&E file as a grid: the CSVs and the 'A&E by provider' workbooks (.xls/.xlsx).

:func:`read_grid` gives every file the same shape (rows of text cells, the header row, the
group row above it in workbooks, the ``Period:`` cell of the preamble), so that
:mod:`.ae` maps columns by meaning whatever the year; :func:`ae_column_role` is that meaning
(here, below both :mod:`.ae` and the header search, which use it).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DataFormatError
from .._workbook import cell_text, describe, open_workbook, sniff, workbook_hint
from ._common import WORKBOOK_SUFFIXES, decode_text, meaning_text

_HEADER_SCAN = 40


@dataclass
class AeGrid:
    """One sheet (or CSV) as text cells.

    Attributes
    ----------
    path : Path
    sheet : str or None
        The sheet read (workbooks only).
    rows : list of list of str
        Every row of the sheet, cells as text (numbers as Python prints them, blanks ``""``).
    header_row : int
        0-based index of the row of column names.
    groups : list of str
        For each column, the group heading above it (workbooks; ``""`` elsewhere).
    preamble : dict
        ``label -> value`` from the block above the header (``{"period": "April 2016", ...}``).
    """

    path: Path
    sheet: str | None
    rows: list
    header_row: int
    groups: list = field(default_factory=list)
    preamble: dict = field(default_factory=dict)

    @property
    def header(self) -> list[str]:
        """The row of column names (``rows[header_row]``), cells as text."""
        return self.rows[self.header_row]


_LABELS = {
    "period": {"period", "month", "period name", "reporting period"},
    "org_code": {"org code", "code", "provider code", "organisation code", "organization code",
                 "trust code", "site code", "ods code", "org id"},
    "org_name": {"org name", "name", "provider name", "organisation name", "organization name",
                 "trust name", "site name"},
    "parent_org": {"parent org", "parent organisation", "parent org name", "region",
                   "commissioning region", "nhs england region", "region name", "parent"},
    "other_label": {"stp", "stp name", "stp code", "ics", "ics name", "icb", "icb name", "ccg",
                    "ccg name", "acute trust", "sub region", "area team", "org type",
                    "organisation type"},
}


def _dept_type(t: str):
    """``type1``, ``type2``, ``other`` or ``all`` from the words of a header, or None."""
    if re.search(r"\btype 1\b|\bmajor\b", t):
        return "type1"
    if re.search(r"\btype 2\b|single spec", t):
        return "type2"
    if re.search(r"\btype 3\b|\btype 4\b|other a and e|other department|other dept|minor inj"
                 r"|walk in|urgent treatment|\bother\b", t):
        return "other"
    if re.search(r"\btotal\b|\ball\b", t):
        return "all"
    return None


def ae_column_role(name, group: str = ""):
    """What an A&E column holds, from the meaning of its header (and its group, in workbooks).

    Parameters
    ----------
    name : str
        The column name as published (any case, spacing, ``&``, ``>``, byte-order mark).
    group : str
        For the 'A&E by provider' workbooks, the group heading above the column
        (``"A&E attendances > 4 hours from arrival to admission, transfer or discharge"``).

    Returns
    -------
    tuple or None
        ``("label", "period" | "org_code" | "org_name" | "parent_org" | "other_label")``;
        a measure ``(quantity, type)`` with quantity ``att``, ``booked``, ``breaches``,
        ``booked_breaches``, ``adm`` (type ``type1``/``type2``/``other``), or
        ``adm_other_routes``, ``dta_4_12``, ``dta_12``, ``dta_4_plus`` (type None);
        ``("ignored", why)`` for columns that are read but not needed (totals over the types,
        percentages, attendances within 4 hours); None when the header means nothing known.

    Examples
    --------
    >>> ae_column_role("Number of attendances over 4hrs Type 1")
    ('breaches', 'type1')
    >>> ae_column_role("Type 3 Departments - Other A&E/Minor Injury Unit", group="A&E attendances")
    ('att', 'other')
    """
    n = meaning_text(name)
    g = meaning_text(group)
    if not n:
        return ("ignored", "unnamed column") if not g else None
    if not g:
        for label, names in _LABELS.items():
            if n in names:
                return ("label", label)
    t = f"{g} {n}".strip()
    if re.search(r"\bpercent|\bperformance\b|\bproportion\b|\brate\b", t):
        return ("ignored", "derived percentage")
    if "decision to admit" in t or re.search(r"\bdta\b", t) or "trolley" in t:
        if re.search(r"\b4 (?:to )?12\b", t):
            return ("dta_4_12", None)
        if re.search(r"\b12\b", t):
            return ("dta_12", None)
        if re.search(r"\b4\b", t):
            return ("dta_4_plus", None)
        return None
    if "admission" in t and ("emergency" in t or "via" in t):
        if re.search(r"\bother emergency admission|\bnot via\b", n) or (
                "other" in n and "via" not in n):
            return ("adm_other_routes", None)
        if "via" not in t:
            return ("ignored", "total emergency admissions (all routes)")
        kind = _dept_type(n) or _dept_type(re.sub(r".*\bvia\b", "", t))
        if kind == "all" or kind is None and "total" in t:
            return ("ignored", "total over the department types")
        return ("adm", kind) if kind else None
    booked = "booked" in t
    if re.search(r"\bunder 4\b|less than 4|within 4|\b4 hours? or less|\b4 hrs? or less", t):
        return ("ignored", "attendances within 4 hours (attendances minus those over 4 hours)")
    if re.search(r"\bover 4\b|greater than 4|more than 4|longer than 4|\b4 hours? or more"
                 r"|\b4 hrs? or more|breach", t):
        kind = _dept_type(n) or _dept_type(t)
        if kind == "all":
            return ("ignored", "total over the department types")
        return ("booked_breaches" if booked else "breaches", kind) if kind else None
    if "attendance" in t or "a and e" in t or re.search(r"\btype [1-4]\b", n):
        kind = _dept_type(n) or _dept_type(t)
        if kind == "all":
            return ("ignored", "total over the department types")
        return ("booked" if booked else "att", kind) if kind else None
    return None


_MEASURE_QUANTITIES = {"att", "booked", "breaches", "booked_breaches", "adm", "adm_other_routes",
                       "dta_4_12", "dta_12", "dta_4_plus"}


def ae_role(norm: str):
    """The measure an official A&E header holds, ``(quantity, type)``, or None.

    Kept for header sniffing (the ``ae_monthly`` kind's header rule); see :func:`ae_column_role` for the full rules.

    Parameters
    ----------
    norm : str
        The header, already folded by ``meaning_text`` (or ``normalise_header``).

    Returns
    -------
    tuple of (str, str or None), or None
        The ``(quantity, type)`` of a measure column as in :func:`ae_column_role`; None for
        label columns, ignored columns and headers that mean nothing known.

    Examples
    --------
    >>> ae_role("number of attendances over 4 hrs type 1")
    ('breaches', 'type1')
    >>> ae_role("org code") is None
    True
    """
    role = ae_column_role(norm)
    return role if role is not None and role[0] in _MEASURE_QUANTITIES else None


def _workbook_sheets(path: Path) -> tuple:
    """The open workbook (see :func:`.._workbook.open_workbook`: the message of a failure
    names what the file really is) and its sheet names."""
    wb = open_workbook(path, expected="an Excel workbook (.xls or .xlsx)")
    return wb, wb.sheet_names


def _sheet_rows(wb, name) -> list[list[str]]:
    raw = wb.rows(name)
    rows = [[cell_text(c) for c in r] for r in raw]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lead = 0  # leading empty columns (the sheet's used area starts further right)
    while lead < width and not any(r[lead] for r in rows):
        lead += 1
    return [r[lead:] for r in rows] if lead else rows


def _preamble(rows, upto: int) -> dict:
    out = {}
    for r in rows[:upto]:
        cells = [c for c in r if c]
        if len(cells) >= 2 and cells[0].rstrip().endswith(":"):
            out.setdefault(meaning_text(cells[0]), cells[1])
    return out


def _find_header(rows, roles) -> int | None:
    """The first row (within the first 40) holding an organisation-code column and 3+ measures."""
    for i, r in enumerate(rows[:_HEADER_SCAN]):
        if not any(ae_column_role(c) == ("label", "org_code") for c in r):
            continue
        groups = _groups(rows[i - 1], r) if i > 0 and roles == "workbook" else [""] * len(r)
        measures = 0
        for c, g in zip(r, groups, strict=True):
            role = ae_column_role(c, g)
            measures += role is not None and role[0] not in {"label", "ignored"}
        if measures >= 3:
            return i
    return None


def _groups(above, header) -> list[str]:
    """Group headings carried right over the columns they span (merged cells leave blanks).

    A blank column name ends a group (padding or a notes column); label columns (``Code``,
    ``Name``, ...) carry none.
    """
    out, current = [], ""
    for j, name in enumerate(header):
        g = above[j] if j < len(above) else ""
        if g:
            current = g
        if not name:
            current = ""
            out.append("")
            continue
        role = None if g else ae_column_role(name)
        out.append("" if role is not None and role[0] == "label" else current)
    return out


def is_ae_workbook(path) -> bool:
    """True when ``path`` is an 'A&E by provider' workbook (header found in one of its sheets).

    Parameters
    ----------
    path : str or Path
        The file to test. Only ``.xls``/``.xlsx`` files are opened (the first three sheets,
        in the order :func:`read_grid` tries them).

    Returns
    -------
    bool
        False for other suffixes, unreadable workbooks and workbooks without the header.

    Examples
    --------
    >>> is_ae_workbook("ae_monthly.csv")
    False
    """
    path = Path(path)
    if path.suffix.lower() not in WORKBOOK_SUFFIXES:
        return False
    try:
        wb, names = _workbook_sheets(path)
        for name in _sheet_order(names)[:3]:
            if _find_header(_sheet_rows(wb, name), "workbook") is not None:
                return True
    except DataFormatError:
        return False
    return False


def _sheet_order(names) -> list[str]:
    def rank(name):
        n = meaning_text(name)
        if "provider" in n:
            return 0
        if any(w in n for w in ("stp", "acute trust", "mapping", "ccg", "footprint", "notes",
                                "definitions", "contents")):
            return 2
        return 1
    return sorted(names, key=rank)


def read_grid(path) -> AeGrid:
    """Read a monthly A&E CSV or 'A&E by provider' workbook as an :class:`AeGrid`.

    Parameters
    ----------
    path : str or Path
        A CSV file, or an ``.xls``/``.xlsx`` workbook (whose sheets are tried provider sheets
        first, notes and mapping sheets last, until one has the header).

    Returns
    -------
    AeGrid
        Every row of the file (or of the sheet read) as text, with the header row located,
        the group headings above the columns and the preamble's labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        When no row looks like the header (an organisation-code column and at least three
        columns of attendances, breaches or admissions).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        wb, names = _workbook_sheets(path)
        tried = []
        for name in _sheet_order(names):
            rows = _sheet_rows(wb, name)
            h = _find_header(rows, "workbook")
            tried.append(name)
            if h is not None:
                rows = _to_header_width(rows, h)
                groups = _groups(rows[h - 1], rows[h]) if h > 0 else [""] * len(rows[h])
                return AeGrid(path, name, rows, h, groups, _preamble(rows, h))
        raise DataFormatError(
            "no sheet has the 'A&E by provider' header (a 'Code' column and columns of A&E "
            f"attendances, attendances over 4 hours and emergency admissions); sheets: {tried}"
            + workbook_hint(names, but_not="load_ae_monthly"), path=path)
    kind, _ = sniff(path)
    if kind != "text":
        raise DataFormatError(f"this is {describe(kind)}, not a CSV file; expected an official "
                              "monthly A&E CSV (or an 'A&E by provider' .xls/.xlsx workbook)",
                              path=path)
    text = decode_text(path)
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise DataFormatError(f"not a readable CSV file: {exc}", path=path) from None
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    h = _find_header(rows, "csv")
    if h is None:
        head = rows[0][:8] if rows else []
        raise DataFormatError(
            "no header row with an 'Org Code' column and columns of A&E attendances, attendances "
            f"over 4 hours and emergency admissions in the first {_HEADER_SCAN} rows; the first "
            f"row is {head}", path=path)
    rows = _to_header_width(rows, h)
    return AeGrid(path, None, rows, h, [""] * len(rows[h]), _preamble(rows, h))


def _to_header_width(rows, h: int) -> list:
    """The rows cut to the header's last named column: cells beyond it belong to no column
    (a damaged line can be thousands of cells long, and every column costs a pass)."""
    header = rows[h]
    width = max((j + 1 for j, name in enumerate(header) if name), default=len(header))
    return rows if width == len(header) else [r[:width] for r in rows]
