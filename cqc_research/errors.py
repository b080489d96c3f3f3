"""Errors that say what went wrong, where, and what was expected."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CQCResearchError", "DataFormatError", "UnknownRatingError"]


class CQCResearchError(Exception):
    """Base class: the CLI prints these as one line, never as a traceback."""


class DataFormatError(CQCResearchError, ValueError):
    """An input file is not in the form the loader expects.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str or Path, optional
        The file.
    sheet : str, optional
        The sheet, for workbooks.
    row : int, optional
        The 1-based row number as a spreadsheet program would show it.
    column : str, optional
        The column name (or letter) concerned.

    Examples
    --------
    >>> str(DataFormatError("expected a date", path="x.csv", row=3, column="Publication Date"))
    "x.csv, row 3, column 'Publication Date': expected a date"
    """

    def __init__(self, message, *, path=None, sheet=None, row=None, column=None):
        self.path = Path(path) if path is not None else None
        self.sheet = sheet
        self.row = row
        self.column = column
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.detail}" if where else self.detail


class UnknownRatingError(DataFormatError):
    """A rating string that is neither on the scale nor a known non-scale status."""
