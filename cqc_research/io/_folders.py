"""Keep going through a folder of files: every good file is read, each bad one is set aside
with its reason (a warning, and a line for the load report), and ``strict=True`` stops at the
first.

Used by the loaders of folders of monthly files (:func:`cqc_research.io.nhs.load_ae_monthly`);
any folder loader can use :func:`read_each` the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import DataFormatError, SkippedFileWarning


def skipped_note(path, error: BaseException) -> str:
    """The one line that names a file set aside and why (for warnings and load reports).

    Parameters
    ----------
    path : str or Path
        The file.
    error : BaseException
        Why it could not be read.

    Returns
    -------
    str

    Examples
    --------
    >>> skipped_note("a/May.csv", DataFormatError("the file is empty", path="a/May.csv"))
    'skipped a/May.csv: the file is empty'
    """
    detail = getattr(error, "detail", None)
    where = []
    for label, value in (("sheet", getattr(error, "sheet", None)),
                         ("row", getattr(error, "row", None)),
                         ("column", getattr(error, "column", None))):
        if value is not None:
            where.append(f"{label} {value!r}" if label != "row" else f"row {value}")
    text = detail if detail is not None else str(error)
    if where:
        text = ", ".join(where) + ": " + text
    return f"skipped {path}: {text}"


def read_each(files: Iterable, read: Callable, *, strict: bool = False,
              what: str = "file") -> tuple[list[tuple[Path, object]], list[tuple[Path, str]]]:
    """Read every file with ``read``; set aside (or, with ``strict``, raise at) the bad ones.

    A file is bad when ``read`` raises :class:`DataFormatError` or an ``OSError`` (unreadable,
    gone). Nothing of a bad file is kept: ``read`` returns its whole result or raises. Each
    bad file warns (:class:`SkippedFileWarning`) with its name and reason.

    Parameters
    ----------
    files : iterable of path
        The files, in the order to read them.
    read : callable
        ``read(path)`` -> whatever the loader keeps of one file.
    strict : bool
        Raise the first bad file's error instead of going on.
    what : str
        What each file is, for the message when none can be read (``"monthly A&E file"``).

    Returns
    -------
    good : list of (Path, result)
        The files read, with what ``read`` returned.
    skipped : list of (Path, str)
        The files set aside, with the line naming each and why (:func:`skipped_note`).

    Raises
    ------
    DataFormatError
        With ``strict`` or a single file, at the first bad file; and when no file at all could
        be read (the first one's reason, and how many there were).

    Examples
    --------
    >>> def read(p):
    ...     if p == "bad.csv":
    ...         raise DataFormatError("no header", path=p)
    ...     return p.upper()
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     good, skipped = read_each(["a.csv", "bad.csv"], read)
    >>> good, skipped, str(caught[0].message)
    ([(PosixPath('a.csv'), 'A.CSV')], [(PosixPath('bad.csv'), 'skipped bad.csv: no header')], 'skipped bad.csv: no header (the other files were read; strict=True stops at the first bad file)')
    """
    good: list[tuple[Path, object]] = []
    skipped: list[tuple[Path, str]] = []
    first: BaseException | None = None
    files = list(files)
    strict = strict or len(files) == 1  # one file: its error is the answer
    for f in files:
        try:
            result = read(f)
        except (DataFormatError, OSError) as exc:
            if strict:
                raise
            first = first or exc
            note = skipped_note(f, exc)
            skipped.append((Path(f), note))
            warnings.warn(SkippedFileWarning(
                f"{note} (the other files were read; strict=True stops at the first bad file)"),
                stacklevel=2)
            continue
        good.append((Path(f), result))
    if not good and first is not None:
        where = Path(files[0]).parent
        raise DataFormatError(f"none of the {len(files)} files could be read as a {what}; the "
                              f"first: {skipped[0][1]}", path=where) from None
    return good, skipped
