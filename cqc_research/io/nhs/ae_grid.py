"""The cells of a monthly A&E file as a grid: the CSVs and the 'A&E by provider' workbooks (.xls/.xlsx).

:func:`read_grid` gives every file the same shape (rows of text cells, the header row, the
group row above it in workbooks, the ``Period:`` cell of the preamble), so that
:mod:`.ae` maps columns by meaning whatever the year.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DataFormatError
from .._workbook import cell_text, workbook_hint
from .common import decode_text, meaning_text

__all__ = ["AeGrid", "read_grid", "is_ae_workbook", "WORKBOOK_SUFFIXES"]

WORKBOOK_SUFFIXES = {".xls", ".xlsx", ".xlsm"}
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


def _workbook_sheets(path: Path) -> tuple:
    """The open workbook (see :func:`.._workbook.open_workbook`: the message of a failure
    names what the file really is) and its sheet names."""
    from .._workbook import open_workbook

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
    from .ae import ae_column_role

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
    from .ae import ae_column_role

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
    from .._workbook import describe, sniff

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
