"""Errors that say what went wrong, where, and what was expected."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CQCResearchError", "DataFormatError", "UnknownRatingError", "InsufficientData", "SectionSkipped",
    "SkippedFileWarning", "file_head", "looks_like_html"]


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
    hint : str, optional
        What the user can do, in Python terms (shown in brackets after the message).
    cli_hint : str, optional
        The same for command-line users (flags); see :meth:`for_command_line`.

    Examples
    --------
    >>> str(DataFormatError("expected a date", path="x.csv", row=3, column="Publication Date"))
    "x.csv, row 3, column 'Publication Date': expected a date"
    """

    def __init__(self, message, *, path=None, sheet=None, row=None, column=None, hint=None,
                 cli_hint=None):
        self.path = Path(path) if path is not None else None
        self.sheet = sheet
        self.row = row
        self.column = column
        # one line, always: a message quoting a parser's own error may end in a line break
        self.detail = " ".join(part.strip() for part in str(message).strip().splitlines())
        self.hint = hint
        self.cli_hint = cli_hint
        super().__init__(self._format())

    def for_command_line(self) -> str:
        """The message with the hint for ``cqc-research`` users (flags, not Python arguments).

        Returns
        -------
        str
            As ``str(error)``, but with ``cli_hint`` in brackets in place of ``hint`` (``hint``
            when there is no ``cli_hint``).

        Examples
        --------
        >>> err = DataFormatError("unknown rating 'Great'", path="x.csv", hint="pass strict=False",
        ...                       cli_hint="drop --strict")
        >>> err.for_command_line()
        "x.csv: unknown rating 'Great' (drop --strict)"
        """
        return self._format(self.cli_hint if self.cli_hint is not None else self.hint)

    def _format(self, hint: str | None = None) -> str:
        hint = self.hint if hint is None else hint
        text = self._where()
        return f"{text} ({hint})" if hint else text

    def _where(self) -> str:
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
    """A rating string that is neither on the scale nor a known status (raised only when strict).

    ``hint`` says how to keep such values from Python, ``cli_hint`` from the command line.
    """


class SkippedFileWarning(UserWarning):
    """A file of a folder could not be read and was set aside; the others were loaded.

    The message names the file and why. ``strict=True`` (``--strict``) makes it an error.
    """


class InsufficientData(CQCResearchError, ValueError):
    """The data given cannot support the statistic asked for (too few groups, rows or events).

    Raised by the functions of :mod:`cqc_research.metrics`, which never know about reports; inside
    ``with report.section(...)`` it ends the section with its message as the note, like
    :class:`SectionSkipped`.
    """


class SectionSkipped(CQCResearchError):
    """A report section cannot be made because its inputs are missing or empty.

    Raised by :meth:`Section.require`, :meth:`Report.skip`, or a library function given empty
    inputs, inside ``with report.section(...)``: the section prints a short note saying what is
    missing, and the rest of the report carries on. Any other exception still fails the notebook.
    """


def file_head(path, *, expected: str = "a data file", size: int = 1024) -> bytes:
    """The first ``size`` bytes of a file that exists, is a file and is not empty.

    Parameters
    ----------
    path : str or Path
        The file.
    expected : str
        What the file should be, for the messages (``"an ODS workbook"``).
    size : int
        How many bytes to read.

    Returns
    -------
    bytes
        The start of the file (never empty).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If it is a folder or an empty file.

    Examples
    --------
    >>> file_head("no/such.ods")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such.ods: no such file
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError(f"is a folder, expected {expected} (a file)", path=path)
    with open(path, "rb") as f:
        head = f.read(size)
    if not head:
        raise DataFormatError(f"the file is empty (0 bytes), expected {expected}", path=path)
    return head


def looks_like_html(head: bytes) -> bool:
    """True when the start of a file is an HTML page (a saved error or log-in page).

    Parameters
    ----------
    head : bytes
        The start of the file (:func:`file_head`).

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_html(b" <!DOCTYPE html><html>"), looks_like_html(b"PK")
    (True, False)
    """
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html")) or any(
        tag in text[:2048] for tag in (b"<html", b"<head", b"<body"))
