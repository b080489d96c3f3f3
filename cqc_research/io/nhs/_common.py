"""Shared parts of the NHS indicator loaders: the tidy indicator table, header matching, numbers,
dates, and which indicator kind a file is (over the registry of :mod:`cqc_research.io._kinds`)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...cache import sha256_file
from ...errors import DataFormatError
from ...provenance import is_synthetic
from .._kinds import Probe, get, is_registered, kinds
from .._workbook import open_workbook

#: The columns of the tidy indicator table, in order.
INDICATOR_COLUMNS = ["org_code", "org_level", "period_start", "period_end", "measure", "value",
                     "numerator", "denominator", "org_name"]


#: Organisation levels an indicator can describe.
ORG_LEVELS = ("trust", "site", "practice", "local_authority")


#: A&E department types, as they appear in measure names.
AE_TYPES = ("type1", "type2", "other", "all")


#: Measures derived from NHS Payments to General Practice.
GP_MEASURES = ("list_size", "weighted_list_size", "payments_per_patient",
               "payments_per_weighted_patient", "qof_payments_per_patient", "total_payments")


DATE_DTYPE = "datetime64[us]"


class IndicatorParseWarning(UserWarning):
    """Cells of a numeric column could not be read as numbers (they were read as missing)."""


# small helpers: names, numbers, dates, files
def normalise_header(name) -> str:
    """Fold a header for matching: BOM, case, ``&`` -> ``and``, punctuation and spacing.

    Parameters
    ----------
    name : object
        A column header as read (converted with ``str``).

    Returns
    -------
    str
        The header case-folded, with a byte-order mark removed, ``&`` spelt ``and`` and every
        run of characters other than ``0-9a-z`` replaced by one space, ends stripped.

    Examples
    --------
    >>> normalise_header("\\ufeffA&E attendances Type 1 ")
    'a and e attendances type 1'
    """
    s = str(name).replace("\ufeff", "").replace("&", " and ").casefold()
    return re.sub(r"[^0-9a-z]+", " ", s).strip()


def snake_case(name) -> str:
    """A header as a Python-friendly column name: :func:`normalise_header` with ``_`` for spaces.

    Parameters
    ----------
    name : object
        A column header as read (converted with ``str``).

    Returns
    -------
    str
        The normalised header with words joined by underscores.

    Examples
    --------
    >>> snake_case("A&E attendances Type 1")
    'a_and_e_attendances_type_1'
    """
    return normalise_header(name).replace(" ", "_")


def clean_header(name) -> str:
    """A header as shown to users: BOM removed, inner whitespace collapsed, ends stripped.

    Parameters
    ----------
    name : object
        A column header as read (converted with ``str``).

    Returns
    -------
    str
        The header with its case and punctuation kept.

    Examples
    --------
    >>> clean_header(" Org  name\\n")
    'Org name'
    """
    return " ".join(str(name).replace("\ufeff", "").split())


MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "#n/a"}


SUPPRESSED_TOKENS = {"-", "*", "**", "***", "..", ".", ":", "c", "x", "~", "supp", "suppressed"}


def parse_numeric(values, *, column: str, rows, report: dict, path, errors: str = "report",
                   suppressed_tokens=SUPPRESSED_TOKENS) -> np.ndarray:
    """Read published numbers: ``£``, thousands commas, spaces, ``%`` and ``(1.0)`` negatives.

    Blank and NA cells are ``missing``; ``-``, ``*`` and similar markers are ``suppressed``;
    anything else that is not a number is ``unparseable``. All three become NaN, never 0, and
    are counted in ``report[column]``.

    Parameters
    ----------
    values : array-like
        The cells of one column, as text or numbers.
    column : str
        The column's name, the key of its entry in ``report`` and the column named in errors.
    rows : array-like of int or None
        Each cell's row number in the file (as a spreadsheet shows it), used to say where the
        first unparseable cell is; ``None`` when unknown.
    report : dict
        The parse report being filled, updated in place: ``report[column]`` holds the counts
        ``missing``, ``suppressed`` and ``unparseable`` and, for the first unparseable cell,
        ``first_row``, ``first_value`` and ``file``.
    path : str or Path or None
        The file read, for messages.
    errors : {"report", "raise"}, default "report"
        ``"report"`` counts unparseable cells in ``report``; ``"raise"`` raises instead.
    suppressed_tokens : set of str, default SUPPRESSED_TOKENS
        Case-folded markers of suppressed values.

    Returns
    -------
    numpy.ndarray
        ``float64`` values, one per cell, NaN where a cell is missing, suppressed, unparseable
        or infinite.

    Raises
    ------
    DataFormatError
        With ``errors="raise"``, when a cell is not a number; the error names the first one.

    Examples
    --------
    >>> report = {}
    >>> parse_numeric(["1,234", "£5", "(2.5)", "-", "", "abc"], column="x",
    ...               rows=[2, 3, 4, 5, 6, 7], report=report, path=None).tolist()
    [1234.0, 5.0, -2.5, nan, nan, nan]
    >>> {k: report["x"][k] for k in ("missing", "suppressed", "unparseable", "first_row")}
    {'missing': 1, 'suppressed': 1, 'unparseable': 1, 'first_row': 7}
    """
    s = pd.Series(values).reset_index(drop=True).fillna("").astype("str").str.strip()
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
    missing = np.zeros(len(s), bool)
    suppressed = np.zeros(len(s), bool)
    bad = np.zeros(len(s), bool)
    todo = np.isnan(num)
    if todo.any():  # only the cells that are not plain numbers need the slow path
        sub = s[todo]
        low = sub.str.casefold()
        m = low.isin(MISSING_TOKENS).to_numpy()
        sp = low.isin(suppressed_tokens).to_numpy() & ~m
        cleaned = sub.str.replace(r"[£,\s%]", "", regex=True)
        cleaned = cleaned.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
        num2 = pd.to_numeric(cleaned.where(~(m | sp), None), errors="coerce")
        num2 = num2.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        missing[todo], suppressed[todo] = m, sp
        bad[todo] = np.isnan(num2) & ~m & ~sp
        num[todo] = num2
    bad |= np.isinf(num)
    num[np.isinf(num)] = np.nan
    entry = report.setdefault(column, {"missing": 0, "suppressed": 0, "unparseable": 0,
                                       "first_row": None, "first_value": None, "file": None})
    entry["missing"] += int(missing.sum())
    entry["suppressed"] += int(suppressed.sum())
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        row = int(np.asarray(rows)[pos]) if rows is not None else None
        value = str(s.iloc[pos])
        if errors == "raise":
            raise DataFormatError(
                f"{int(bad.sum())} cell(s) are not numbers (first: {value!r}); expected a number "
                "(commas and £ are allowed; blank, NA and '-' mean missing)",
                path=path, row=row, column=column)
        if entry["unparseable"] == 0:
            entry["first_row"], entry["first_value"] = row, value
            entry["file"] = str(path) if path is not None else None
        entry["unparseable"] += int(bad.sum())
    return num


def warn_unparseable(report: dict, path) -> None:
    """Warn once per column of a parse report that has cells which are not numbers.

    Parameters
    ----------
    report : dict
        A parse report as filled by :func:`parse_numeric` (column -> counts).
    path : str or Path
        The file read, named in each warning.

    Warns
    -----
    IndicatorParseWarning
        For each column with ``unparseable`` cells, giving their number and the first one.
    """
    for column, entry in report.items():
        if entry.get("unparseable"):
            warnings.warn(
                f"{path}: column {column!r}: {entry['unparseable']} cell(s) are not numbers and "
                f"were read as missing (first at row {entry['first_row']}: "
                f"{entry['first_value']!r}); load with with_report=True and see "
                "parse_report_frame(report)",
                IndicatorParseWarning, stacklevel=3)


def parse_report_frame(report) -> pd.DataFrame:
    """The parse report of a load as a tidy table, one row per numeric column.

    Parameters
    ----------
    report : ReadReport, list of ReadReport, or dict
        What a loader returns with ``with_report=True`` (one :class:`ReadReport`, or for
        :func:`~cqc_research.io.nhs.load_ae_monthly` one per file, merged here), or a parse
        report dict as filled by :func:`parse_numeric`.

    Returns
    -------
    pandas.DataFrame
        Columns ``column, missing, suppressed, unparseable, first_row, first_value, file``.

    Examples
    --------
    >>> cells = {}
    >>> _ = parse_numeric(pd.Series(["1", "-", "see note"]), column="n", rows=[2, 3, 4], report=cells,
    ...                   path=None)
    >>> parse_report_frame(cells)[["column", "suppressed", "unparseable", "first_row"]].values.tolist()
    [['n', 1, 1, 4]]
    """
    if isinstance(report, pd.DataFrame):
        raise TypeError("parse_report_frame takes the report, not the frame: load with "
                        "with_report=True, e.g. frame, report = load_dtoc(path, with_report=True)")
    if isinstance(report, ReadReport):
        cells = report.parse_report
    elif isinstance(report, dict):
        cells = report
    else:
        cells = merge_parse_reports(r.parse_report for r in report)
    cols = ["column", "missing", "suppressed", "unparseable", "first_row", "first_value", "file"]
    rows = [{"column": k, **{c: v.get(c) for c in cols[1:]}} for k, v in cells.items()]
    return pd.DataFrame(rows, columns=cols)


def merge_parse_reports(reports) -> dict:
    """Add up parse reports (column -> counts) of several files, in order.

    Parameters
    ----------
    reports : iterable of dict
        Parse reports as filled by :func:`parse_numeric`.

    Returns
    -------
    dict
        Per column, the summed ``missing``, ``suppressed`` and ``unparseable`` counts, and the
        first unparseable cell (``first_row``, ``first_value``, ``file``) of the first report
        that has one.
    """
    out: dict = {}
    for cells in reports:
        for column, entry in cells.items():
            acc = out.setdefault(column, {"missing": 0, "suppressed": 0, "unparseable": 0,
                                          "first_row": None, "first_value": None, "file": None})
            for key in ("missing", "suppressed", "unparseable"):
                acc[key] += int(entry.get(key) or 0)
            if acc["first_row"] is None and entry.get("first_row") is not None:
                acc.update(first_row=entry["first_row"], first_value=entry.get("first_value"),
                           file=entry.get("file"))
    return out


def decode_text(path: Path) -> str:
    """The text of a file, as UTF-8 (a byte-order mark dropped) or else Windows-1252.

    Parameters
    ----------
    path : Path
        The file to read.

    Returns
    -------
    str
        The decoded text. Bytes that are not valid UTF-8 make the whole file be read as
        cp1252, with undecodable bytes replaced.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_table_csv(path, *, header_markers: Sequence[str] = (), max_scan: int = 40):
    """Read a CSV as text cells, locating the header row below any preamble.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    header_markers : sequence of str, optional
        Header names that together identify the header row (matched after
        :func:`normalise_header`). The first of the first ``max_scan`` lines holding all of
        them is taken as the header; without markers, or if none matches, the first line is.
    max_scan : int, default 40
        How many lines to search for the header row.

    Returns
    -------
    frame : pandas.DataFrame
        The data rows below the header, entirely blank rows dropped, with cleaned header
        names (:func:`clean_header`) and ``str`` cells.
    rows : numpy.ndarray of int
        Each kept row's number as a spreadsheet shows it (the header row included in the count).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If ``path`` is a folder or cannot be parsed as CSV.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError("expected a CSV file, found a folder", path=path)
    text = decode_text(path)
    lines = text.splitlines()
    start = 0
    if header_markers:
        wanted = [normalise_header(m) for m in header_markers]
        for i, line in enumerate(lines[:max_scan]):
            try:
                cells = {normalise_header(c) for c in next(csv.reader([line]))}
            except (StopIteration, csv.Error):
                continue
            if all(w in cells for w in wanted):
                start = i
                break
    body = "\n".join(lines[start:]) if start else text
    try:
        frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(f"not a readable CSV file: {exc}", path=path) from exc
    frame.columns = [clean_header(c) for c in frame.columns]
    rows = np.arange(len(frame)) + start + 2
    blank = np.zeros(len(frame), bool)
    if len(frame.columns):
        maybe = np.flatnonzero((frame.iloc[:, 0].str.strip() == "").to_numpy())
        if len(maybe):  # only rows with an empty first cell can be entirely empty
            sub = frame.iloc[maybe]
            blank[maybe] = (sub.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    return frame, rows[~blank]


def columns_by_norm(frame: pd.DataFrame) -> dict[str, str]:
    """Map each normalised header of a frame to its column name.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table whose columns are looked up.

    Returns
    -------
    dict of str to str
        :func:`normalise_header` of each column -> the column's name; where two columns
        normalise alike, the first (leftmost) one is kept.

    Examples
    --------
    >>> import pandas as pd
    >>> columns_by_norm(pd.DataFrame(columns=["Org Code", "ORG_CODE", "Name"]))
    {'org code': 'Org Code', 'name': 'Name'}
    """
    out = {}
    for c in frame.columns:
        out.setdefault(normalise_header(c), c)
    return out


def find_column(frame, aliases, *, path=None, required: bool = False, what: str | None = None,
          expected_kind: str | None = None, prefix: bool = False, exclude=()):
    """The column whose normalised name equals one of ``aliases`` (or starts with one).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to search.
    aliases : sequence of str
        Names the column may have, in order of preference; compared after
        :func:`normalise_header`.
    path : str or Path, optional
        The file read, for the error raised when ``required``.
    required : bool, default False
        Raise instead of returning ``None`` when no column matches.
    what : str, optional
        The column's name in the error message (default: the first alias).
    expected_kind : str, optional
        The kind of file the caller expects (e.g. ``"ae_monthly"``), so that the error can
        say when the columns look like another kind of file.
    prefix : bool, default False
        If no name matches exactly, accept the first column whose normalised name starts
        with an alias.
    exclude : sequence of str, default ()
        With ``prefix``, skip columns whose normalised name contains any of these.

    Returns
    -------
    str or None
        The matching column's name, or ``None`` if none matches and not ``required``.

    Raises
    ------
    DataFormatError
        If ``required`` and no column matches (see :func:`missing_column_error`).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame(columns=["Org Code", "Total attendances type 1"])
    >>> find_column(frame, ["org_code"])
    'Org Code'
    >>> find_column(frame, ["total attendances"], prefix=True)
    'Total attendances type 1'
    """
    by_norm = columns_by_norm(frame)
    for a in aliases:
        if normalise_header(a) in by_norm:
            return by_norm[normalise_header(a)]
    if prefix:
        for a in aliases:
            na = normalise_header(a)
            for n, c in by_norm.items():
                if n.startswith(na) and not any(x in n for x in exclude):
                    return c
    if required:
        raise missing_column_error(frame, what or aliases[0], path, expected_kind)
    return None


def missing_column_error(frame, what, path, expected_kind) -> DataFormatError:
    """The error for a required column that a file lacks, listing the columns it has.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table read (its first 12 column names are shown).
    what : str
        The missing column, as named in the error.
    path : str or Path or None
        The file read.
    expected_kind : str or None
        The kind of file expected; if the columns look like another known kind, the message
        names that kind and its loader.

    Returns
    -------
    DataFormatError
        The error, for the caller to raise.
    """
    kind = kind_from_columns(list(frame.columns))
    hint = ""
    if kind and expected_kind and kind != expected_kind:
        hint = f"{kind_hint(kind)}, not {get(expected_kind).label}"
    shown = ", ".join(repr(c) for c in list(frame.columns)[:12])
    more = " ..." if len(frame.columns) > 12 else ""
    return DataFormatError(f"required column is missing{hint}. Columns present: {shown}{more}",
                           path=path, column=what)


def set_table_attrs(frame, paths, *, kind):
    """Record a loaded table's provenance in ``frame.attrs``.

    Sets ``source`` (path or list of paths), ``sha256`` (of the file, or of the files'
    hashes together), ``synthetic`` and ``kind``. How the file was read (the parse report and
    the rows dropped) is not kept here: loaders return it with ``with_report=True`` (see
    :func:`loaded_table`).

    Parameters
    ----------
    frame : pandas.DataFrame
        The loaded table, modified in place.
    paths : str or Path, or list or tuple of them
        The file or files it was read from.
    kind : str
        The loader's kind, e.g. ``"ae_monthly"``.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    hashes = [sha256_file(p) for p in paths]
    frame.attrs["source"] = str(paths[0]) if len(paths) == 1 else [str(p) for p in paths]
    frame.attrs["sha256"] = hashes[0] if len(hashes) == 1 else hashlib.sha256(
        "".join(hashes).encode()).hexdigest()
    frame.attrs["synthetic"] = bool(any(is_synthetic(p) for p in paths))
    frame.attrs["kind"] = kind
    return frame


def table_report(frame, paths, *, kind, report, excluded=None, period=None, notes=()) -> ReadReport:
    """How a table was read, as a :class:`ReadReport` built from a loader's parse report.

    Parameters
    ----------
    frame : pandas.DataFrame
        The loaded table.
    paths : str or Path, or list or tuple of them
        The file or files it was read from (the first is the report's ``path``).
    kind : str
        The loader's kind.
    report : dict
        The parse report (see :func:`parse_numeric`).
    excluded : dict, optional
        Rows dropped on purpose, by reason.
    period : str, optional
        The period the file covers, as read (e.g. ``"2018-19"``).
    notes : iterable of str
        Sentences on how the file was read, kept before the list of output columns.

    Returns
    -------
    ReadReport
        ``rows_kept`` the rows of the table, ``dropped`` the rows dropped by reason,
        ``rows_read`` their sum, one :class:`ColumnReport` per numeric column with its missing,
        suppressed and unparseable counts, and ``parse_report`` the report itself.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    rep = ReadReport(path=paths[0], kind=kind, rows_kept=len(frame), parse_report=dict(report or {}),
                     period=period)
    rep.dropped = {str(k): int(v) for k, v in (excluded or {}).items() if v}
    rep.rows_read = len(frame) + sum(rep.dropped.values())
    for i, (col, entry) in enumerate((report or {}).items(), start=1):
        miss = {t: int(entry.get(t) or 0) for t in ("missing", "suppressed", "unparseable")}
        rep.columns.append(ColumnReport(i, str(col), "number", {k: v for k, v in miss.items() if v}))
    rep.notes.extend(notes)
    rep.notes.append(f"output columns: {', '.join(map(str, frame.columns))}")
    return rep


def loaded_table(frame, paths, *, kind, report, excluded=None, period=None, notes=(), with_report=False):
    """What a loader returns: the table with its provenance, and its report when asked for.

    Parameters
    ----------
    frame : pandas.DataFrame
        The loaded table (its ``attrs`` get the provenance, see :func:`set_table_attrs`).
    paths : str or Path, or list or tuple of them
        The file or files it was read from.
    kind : str
        The loader's kind.
    report : dict
        The parse report (see :func:`parse_numeric`).
    excluded : dict, optional
        Rows dropped on purpose, by reason.
    period : str, optional
        The period the file covers, for the report.
    notes : iterable of str
        Sentences on how the file was read, for the report.
    with_report : bool
        Return ``(frame, ReadReport)`` (:func:`table_report`) instead of the frame.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
    """
    frame = set_table_attrs(frame, paths, kind=kind)
    if not with_report:
        return frame
    return frame, table_report(frame, paths, kind=kind, report=report, excluded=excluded, period=period,
                               notes=notes)


def stack_measures(keys: pd.DataFrame, specs, *, org_level) -> pd.DataFrame:
    """Stack ``(measure, value, numerator, denominator, keep)`` specs into the tidy table.

    Parameters
    ----------
    keys : pandas.DataFrame
        One row per organisation and period, with columns ``org_code``, ``period_start``,
        ``period_end`` and optionally ``org_name``.
    specs : iterable of tuple
        ``(measure, value, numerator, denominator)`` or ``(..., keep)``: the measure's name,
        arrays aligned with ``keys`` (``numerator``/``denominator`` may be ``None``), and an
        optional boolean mask of the rows to keep (``None`` keeps all).
    org_level : str or array-like of str
        The organisation level (one of :data:`ORG_LEVELS`), for all rows or per row of ``keys``.

    Returns
    -------
    pandas.DataFrame
        The tidy indicator table (:data:`INDICATOR_COLUMNS`, see :func:`finish_table`),
        one row per kept row of ``keys`` and measure.
    """
    parts = []
    n = len(keys)
    nan = np.full(n, np.nan)
    for spec in specs:
        measure, value, num, den = spec[:4]
        keep = spec[4] if len(spec) > 4 and spec[4] is not None else np.ones(n, bool)
        part = pd.DataFrame({
            "org_code": keys["org_code"].to_numpy(),
            "org_level": org_level if isinstance(org_level, str) else np.asarray(org_level),
            "period_start": keys["period_start"].to_numpy(),
            "period_end": keys["period_end"].to_numpy(),
            "measure": measure,
            "value": np.asarray(value, dtype="float64"),
            "numerator": nan if num is None else np.asarray(num, dtype="float64"),
            "denominator": nan if den is None else np.asarray(den, dtype="float64"),
            "org_name": keys["org_name"].to_numpy() if "org_name" in keys else None,
        })
        parts.append(part.loc[np.asarray(keep, bool)])
    return finish_table(pd.concat(parts, ignore_index=True) if parts else empty_table())


def empty_table() -> pd.DataFrame:
    """An indicator table with no rows, with the columns and dtypes of :func:`finish_table`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`INDICATOR_COLUMNS`: periods as ``datetime64[us]``, ``value``,
        ``numerator``, ``denominator`` as ``float64``, the others as ``str``.

    Examples
    --------
    >>> list(empty_table().columns) == INDICATOR_COLUMNS
    True
    """
    return pd.DataFrame({c: pd.Series(dtype=DATE_DTYPE if c.startswith("period") else
                                      ("float64" if c in ("value", "numerator", "denominator")
                                       else "str")) for c in INDICATOR_COLUMNS})


def finish_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Give an indicator table its standard column order, dtypes and row order.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with (at least) the columns :data:`INDICATOR_COLUMNS`; not modified.

    Returns
    -------
    pandas.DataFrame
        A copy with only :data:`INDICATOR_COLUMNS`, org codes stripped, periods as
        ``datetime64[us]``, numbers as ``float64``, ``org_name`` missing throughout if it had
        no values, sorted by ``org_code``, ``period_start``, ``measure`` and newly indexed.
    """
    frame = frame.copy()
    frame["org_code"] = frame["org_code"].astype("str").str.strip()
    frame["org_level"] = frame["org_level"].astype("str")
    frame["measure"] = frame["measure"].astype("str")
    frame["org_name"] = frame["org_name"].astype("str") if frame["org_name"].notna().any() else \
        pd.Series(pd.NA, index=frame.index, dtype="str")
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c]).astype(DATE_DTYPE)
    for c in ("value", "numerator", "denominator"):
        frame[c] = frame[c].astype("float64")
    frame = frame[INDICATOR_COLUMNS].sort_values(["org_code", "period_start", "measure"],
                                                 kind="stable")
    return frame.reset_index(drop=True)


def ratio(num, den, scale=1.0):
    """``scale * num / den``, element by element, NaN where the result is not finite.

    Parameters
    ----------
    num, den : array-like
        Numerators and denominators.
    scale : float, default 1.0
        Multiplier, e.g. 100 for a percentage.

    Returns
    -------
    numpy.ndarray
        ``float64`` ratios; division by zero and missing inputs give NaN, never ``inf``.

    Examples
    --------
    >>> ratio([1, 2, 3], [2, 0, 4], scale=100).tolist()
    [50.0, nan, 75.0]
    """
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = scale * num / den
    out[~np.isfinite(out)] = np.nan
    return out


MONTHS = {m.casefold(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], start=1)}


MONTHS.update({k[:3]: v for k, v in list(MONTHS.items())})


MONTHS["sept"] = 9


def month_start(year: int, month: int) -> pd.Timestamp:
    """The first day of a month.

    Parameters
    ----------
    year, month : int
        The calendar year and month (1-12).

    Returns
    -------
    pandas.Timestamp
        Midnight on the first day of the month.

    Examples
    --------
    >>> month_start(2019, 4)
    Timestamp('2019-04-01 00:00:00')
    """
    return pd.Timestamp(year=int(year), month=int(month), day=1)


def month_end(ts: pd.Timestamp) -> pd.Timestamp:
    """The last day of the month of a date.

    Parameters
    ----------
    ts : pandas.Timestamp
        Any date in the month (a Series or DatetimeIndex of dates also works).

    Returns
    -------
    pandas.Timestamp
        Midnight on the month's last day.

    Examples
    --------
    >>> import pandas as pd
    >>> month_end(pd.Timestamp("2019-02-10"))
    Timestamp('2019-02-28 00:00:00')
    """
    return (ts + pd.offsets.MonthEnd(0)).normalize()


def parse_month_text(text) -> pd.Timestamp | None:
    """``MSitAE-MARCH-2019``, ``April 2019``, ``Apr-19``, ``2019-04``, ``2019-04-01`` -> month.

    Parameters
    ----------
    text : object
        A period as published (converted with ``str``): an ISO year-month or date, or text
        ending in a month name (full or three letters) and a 4- or 2-digit year.

    Returns
    -------
    pandas.Timestamp or None
        The first day of the month, or ``None`` if ``text`` is not read as a month.

    Examples
    --------
    >>> parse_month_text("MSitAE-MARCH-2019")
    Timestamp('2019-03-01 00:00:00')
    >>> parse_month_text("Apr-19")
    Timestamp('2019-04-01 00:00:00')
    >>> parse_month_text("not a month") is None
    True
    """
    t = str(text).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T].*)?", t)
    if m:
        return month_start(int(m.group(1)), int(m.group(2)))
    m = re.search(r"([A-Za-z]+)[\s_\-/]+(\d{4}|\d{2})\s*$", t)
    if m and m.group(1).casefold() in MONTHS:
        year = int(m.group(2))
        year = year + 2000 if year < 100 else year
        return month_start(year, MONTHS[m.group(1).casefold()])
    return None


def parse_months(values, *, column, rows, path) -> pd.Series:
    """Read a column of months with :func:`parse_month_text`, failing on any it cannot read.

    Parameters
    ----------
    values : array-like
        The cells of the column.
    column : str
        The column's name, for the error.
    rows : array-like of int
        Each cell's row number in the file, for the error.
    path : str or Path or None
        The file read, for the error.

    Returns
    -------
    pandas.Series
        The first day of each month, as ``datetime64[us]``.

    Raises
    ------
    DataFormatError
        If a cell is not read as a month; the error names the first such cell and its row.

    Examples
    --------
    >>> parse_months(["April 2019", "2019-05"], column="period", rows=[2, 3], path=None).tolist()
    [Timestamp('2019-04-01 00:00:00'), Timestamp('2019-05-01 00:00:00')]
    """
    s = pd.Series(values, dtype="object")
    lookup = {u: parse_month_text(u) for u in pd.unique(s)}
    bad = [u for u, v in lookup.items() if v is None]
    if bad:
        pos = int(np.flatnonzero(s.isin(bad).to_numpy())[0])
        raise DataFormatError(
            f"cannot read {bad[0]!r} as a month; expected e.g. 'MSitAE-MARCH-2019', "
            "'April 2019' or '2019-04'", path=path, row=int(rows[pos]), column=column)
    return pd.to_datetime(s.map(lookup)).astype(DATE_DTYPE)


def financial_year(value) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """Parse an English financial year: ``"2018-19"``, ``"2018/19"``, ``2018`` or ``"2018-2019"``.

    Parameters
    ----------
    value : int or str
        The year the financial year starts in, alone or followed by the next year (two or
        four digits) after ``-``, ``/``, ``_`` or a space.

    Returns
    -------
    start, end, label : Timestamp, Timestamp, str
        1 April, 31 March, and the label ``"2018-19"``.

    Raises
    ------
    ValueError
        If ``value`` is not a year, or its second year does not follow the first.

    Examples
    --------
    >>> financial_year("2018/19")[2]
    '2018-19'
    """
    if isinstance(value, int | np.integer):
        y = int(value)
    else:
        m = re.fullmatch(r"\s*(\d{4})\s*(?:[-/_ ]\s*(\d{2}|\d{4}))?\s*", str(value))
        if not m:
            raise ValueError(f"cannot read {value!r} as a financial year; expected e.g. '2018-19'")
        y = int(m.group(1))
        if m.group(2):
            nxt = int(m.group(2))
            if nxt % 100 != (y + 1) % 100:
                raise ValueError(f"{value!r} is not a financial year: {nxt} does not follow {y}")
    return (pd.Timestamp(y, 4, 1), pd.Timestamp(y + 1, 3, 31), f"{y}-{(y + 1) % 100:02d}")


def year_from_name(path) -> str | None:
    """The financial year written in a file's name, e.g. ``2018-19`` or ``201819``.

    Parameters
    ----------
    path : str or Path
        The file; only its name is read.

    Returns
    -------
    str or None
        The label ``"2018-19"`` of the first pair of consecutive years in the name, or ``None``.

    Examples
    --------
    >>> year_from_name("data/NHSPaymentsGP_2018-19.csv")
    '2018-19'
    >>> year_from_name("payments.csv") is None
    True
    """
    for m in re.finditer(r"(?<!\d)(20\d{2})[-_ ]?(\d{2}|20\d{2})(?!\d)", Path(path).name):
        y, nxt = int(m.group(1)), int(m.group(2))
        if nxt % 100 == (y + 1) % 100:
            return f"{y}-{(y + 1) % 100:02d}"
    return None


def parse_dates(values, *, column, rows, report, path) -> pd.Series:
    """Day-first dates (``01/04/1999``); ``-`` and blanks are missing, others unparseable.

    ISO dates (``1999-04-01``) are read too. Counts go in ``report[column]`` as in
    :func:`parse_numeric`; unparseable dates are counted, never raised.

    Parameters
    ----------
    values : array-like
        The cells of one column.
    column : str
        The column's name, its key in ``report``.
    rows : array-like of int
        Each cell's row number in the file, recorded for the first unparseable cell.
    report : dict
        The parse report being filled, updated in place.
    path : str or Path
        The file read, recorded for the first unparseable cell.

    Returns
    -------
    pandas.Series
        ``datetime64[us]`` dates, ``NaT`` where missing or unparseable.

    Examples
    --------
    >>> report = {}
    >>> parse_dates(["01/04/1999", "2019-01-02", "-", "x"], column="date", rows=[2, 3, 4, 5],
    ...             report=report, path="f.csv").tolist()
    [Timestamp('1999-04-01 00:00:00'), Timestamp('2019-01-02 00:00:00'), NaT, NaT]
    >>> report["date"]["missing"], report["date"]["unparseable"], report["date"]["first_row"]
    (1, 1, 5)
    """
    s = pd.Series(values, dtype="object").astype(str).str.strip()
    blank = s.str.casefold().isin(MISSING_TOKENS | {"-"})
    out = pd.to_datetime(s.where(~blank, None), format="%d/%m/%Y", errors="coerce")
    iso = out.isna() & ~blank
    if iso.any():
        out[iso] = pd.to_datetime(s[iso], format="ISO8601", errors="coerce")
    bad = (out.isna() & ~blank).to_numpy()
    entry = report.setdefault(column, {"missing": 0, "suppressed": 0, "unparseable": 0,
                                       "first_row": None, "first_value": None, "file": None})
    entry["missing"] += int(blank.sum())
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        entry.update(first_row=int(rows[pos]), first_value=str(s.iloc[pos]), file=str(path))
        entry["unparseable"] += int(bad.sum())
    return out.astype(DATE_DTYPE)


def clean_text(values, *, unknown=("unknown", "missing", "-", "")) -> pd.Series:
    """Strip text cells and read placeholders such as ``Unknown`` or ``-`` as missing.

    Parameters
    ----------
    values : array-like
        The cells of one column.
    unknown : iterable of str, default ("unknown", "missing", "-", "")
        Case-folded values that mean "no value".

    Returns
    -------
    pandas.Series
        ``str`` values with surrounding whitespace removed, missing (``NA``) where the
        stripped, case-folded text is in ``unknown``.

    Examples
    --------
    >>> s = clean_text([" Leeds ", "Unknown", "-"])
    >>> s[0], s.isna().tolist()
    ('Leeds', [False, True, True])
    """
    s = pd.Series(values, dtype="str").str.strip()
    return s.where(~s.str.casefold().isin(set(unknown)), pd.NA)


def check_errors(errors):
    """Check a loader's ``errors=`` option.

    Parameters
    ----------
    errors : str
        The value given; ``"report"`` or ``"raise"``.

    Raises
    ------
    ValueError
        If ``errors`` is anything else.
    """
    if errors not in {"report", "raise"}:
        raise ValueError(f"errors must be 'report' or 'raise', not {errors!r}")


# ---------------------------------------------------------------------------------------------
# How a file was read (``cqc-research load FILE --explain``)
@dataclass
class ColumnReport:
    """One source column and what the loader made of it.

    Attributes
    ----------
    position : int
        1-based column number in the file.
    source : str
        The header as published; for workbooks with a group row, ``"<group> | <name>"``.
    role : str
        What it was mapped to (e.g. ``"attendances, type1"``, ``"org_code"``), or
        ``"ignored: <why>"`` for a column that is read but not used.
    missing : dict
        Published markers read as missing in this column (e.g. ``{"N/A": 120}``).
    """

    position: int
    source: str
    role: str
    missing: dict = field(default_factory=dict)


@dataclass
class ReadReport:
    """How one file was read: kind, layout, header, column roles, rows dropped, totals checked.

    Returned by the ``explain_*`` functions and by loaders called with ``with_report=True``;
    ``str(report)`` is what ``cqc-research load FILE --explain`` prints.

    Attributes
    ----------
    path : Path
    kind : str
        The loader's kind, e.g. ``"ae_monthly"``.
    layout : str
        The published layout detected (see ``docs/real_data.md``).
    sheet : str or None
        The sheet read, for workbooks.
    header_row : int
        1-based row number of the header (the row of column names).
    header : list of str
    period : str or None
        The period the file covers, as read (e.g. ``"2019-01"``), and where it came from.
    columns : list of ColumnReport
    rows_read, rows_kept : int
        Data rows below the header, and the rows kept as organisations.
    dropped : dict
        Rows dropped on purpose, by reason (``"total row"``, ``"blank"``, ...).
    totals : dict
        For each checked measure, ``(sum over organisations, the file's own total)``.
    notes : list of str
    parse_report : dict
        Per numeric column, the cells read as ``missing``, ``suppressed`` or ``unparseable``
        and the first unparseable one (``first_row``, ``first_value``, ``file``), as filled by
        :func:`parse_numeric`; :func:`parse_report_frame` shows it as a table.
    """

    path: Path
    kind: str
    layout: str = ""
    sheet: str | None = None
    header_row: int | None = None
    header: list = field(default_factory=list)
    period: str | None = None
    columns: list = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    parse_report: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The report as lines of text.

        Returns
        -------
        list of str
            File, kind and layout, sheet, period, header row, each column's role, rows read,
            kept and dropped, values read as missing, total checks and notes; joined with
            newlines, they are ``str(report)``.
        """
        out = [f"file: {self.path}", f"kind: {self.kind}" + (f"; layout: {self.layout}" if self.layout else "")]
        if self.sheet is not None:
            out.append(f"sheet: {self.sheet!r}")
        if self.period:
            out.append(f"period: {self.period}")
        if self.header_row is not None:
            out.append(f"header row: {self.header_row}")
        if self.columns:
            out.append("columns (source -> role):")
            for c in self.columns:
                out.append(f"  {c.position:>3} {c.source!r} -> {c.role}")
        below = " below the header" if self.header_row is not None else ""
        out.append(f"rows: {self.rows_read:,} read{below}, {self.rows_kept:,} kept")
        for reason, n in self.dropped.items():
            out.append(f"  dropped {n:,}: {reason}")
        miss = [(c, tok, n) for c in self.columns for tok, n in c.missing.items() if n]
        if miss:
            out.append("values read as missing:")
            for c, tok, n in miss:
                out.append(f"  {c.source!r}: {tok!r} x {n:,}")
        else:
            out.append("values read as missing: none")
        for measure, (got, total) in self.totals.items():
            ok = "matches" if abs(got - total) <= 1e-6 * max(1.0, abs(total)) + 0.01 else "DIFFERS FROM"
            out.append(f"total check: {measure}: sum over organisations {got:,.10g} {ok} "
                       f"the file's total {total:,.10g}")
        out += [f"note: {n}" for n in self.notes]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def meaning_text(name) -> str:
    """Fold a header for matching by meaning, keeping the sense of ``>``, ``<``, ``+`` and ``%``.

    Parameters
    ----------
    name : object
        A column header as read (converted with ``str``).

    Returns
    -------
    str
        As :func:`normalise_header`, but with ``>``, ``<``, ``+``, ``%`` spelt ``over``,
        ``under``, ``plus``, ``percent`` and ``12hrs`` split as ``12 hrs``.

    Examples
    --------
    >>> meaning_text("A&E attendances > 4 hours")
    'a and e attendances over 4 hours'
    >>> meaning_text("Patients who have waited 12+ hrs")
    'patients who have waited 12 plus hrs'
    """
    s = str(name).replace("\ufeff", "").casefold()
    for a, b in (("&", " and "), (">", " over "), ("<", " under "), ("+", " plus "),
                 ("%", " percent ")):
        s = s.replace(a, b)
    s = re.sub(r"(\d)(hrs?|hours?)\b", r"\1 \2", s)
    return re.sub(r"[^0-9a-z]+", " ", s).strip()


def missing_token_counts(values) -> dict:
    """Counts of the published missing / suppressed markers (``N/A``, ``-``, ...) in a column.

    Blank cells are not counted (they are padding more often than data).

    Parameters
    ----------
    values : array-like
        The cells of one column.

    Returns
    -------
    dict of str to int
        Each marker as published (e.g. ``"N/A"``) -> how many cells hold it, most frequent first.

    Examples
    --------
    >>> missing_token_counts(["1", "N/A", "-", "", "N/A"])
    {'N/A': 2, '-': 1}
    """
    s = pd.Series(values, dtype="object").dropna().astype(str).str.strip()
    s = s[s != ""]
    tokens = s[s.str.casefold().isin((MISSING_TOKENS | SUPPRESSED_TOKENS) - {""})]
    return {str(k): int(v) for k, v in tokens.value_counts().items()}


# which indicator kind a file is: the kinds registered by the reader modules (io._kinds)
#: Workbook suffixes the indicator readers open with python-calamine.
WORKBOOK_SUFFIXES = {".xls", ".xlsx", ".xlsm"}


def kind_hint(kind: str) -> str:
    """``"; this looks like <label> (use <loader>)"`` for a registered indicator kind.

    Parameters
    ----------
    kind : str
        A registered kind's name.

    Returns
    -------
    str
    """
    k = get(kind)
    return f"; this looks like {k.label} (use {k.loader_name})"


def probe_sheet_names(probe: Probe) -> list | None:
    """A workbook's sheet names, read once per probe; ``None`` when it cannot be opened.

    Parameters
    ----------
    probe : Probe
        The file being recognised.

    Returns
    -------
    list of str or None
    """
    def read():
        try:  # within the limits: calamine can abort
            return open_workbook(probe.path).sheet_names
        except BaseException:  # noqa: BLE001 - not a readable workbook: not these kinds
            return None

    return probe.memo("nhs_sheet_names", read)


def kind_from_columns(columns) -> str | None:
    """Which indicator kind a header row belongs to, from its column names alone.

    Parameters
    ----------
    columns : iterable of str
        The header cells, as published (they are folded with :func:`normalise_header` before
        matching).

    Returns
    -------
    str or None
        The first registered indicator kind whose header rule matches (``"gp_payments"``,
        ``"ae_monthly"``, ``"tidy"``, ``"ae_tidy"``, ``"dtoc"``, ``"shmi"``, ``"staff_survey"``,
        ``"imd"``, ``"la_codes"``, ``"population"``, ``"gpps"``, ``"fft"``, ...), or ``None``
        when no rule matches.

    Examples
    --------
    >>> kind_from_columns(["Org Code", "Period", "Measure", "Value"])
    'tidy'
    >>> kind_from_columns(["Name", "Colour"]) is None
    True
    """
    raw = list(columns)
    n = {normalise_header(c) for c in raw}
    joined = " | ".join(sorted(n))
    for kind in kinds("indicator"):
        if kind.columns is not None and kind.columns(n, joined, raw):
            return kind.name
    return None


def detect_indicator_kind(path) -> str | None:
    """Which NHS indicator file this is, from its header: a kind :func:`load_indicators` reads.

    A folder is ``"ae_monthly"`` (or ``"dtoc_workbook"``, ``"fft"``) when its files are monthly
    files of that kind. Returns None when the file is none of the supported kinds.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (the first 40 lines are searched for a header row), a workbook, or a folder of
        monthly files.

    Returns
    -------
    str or None
        The kind (see :func:`kind_from_columns`), or ``None``.

    Examples
    --------
    >>> detect_indicator_kind("not-there.csv") is None
    True
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in {".csv"} | WORKBOOK_SUFFIXES
                       and not f.name.startswith((".", "~$")))
        kinds_seen = set()  # the kinds of the first 3 files recognised: a damaged one is not
        seen = 0            # the folder's kind (its loader sets it aside, see io._folders)
        for f in files[:20]:
            try:
                kind = detect_indicator_kind(f)
            except (ValueError, OSError):  # DataFormatError is a ValueError
                kind = None
            if kind is not None:
                kinds_seen.add(kind)
                seen += 1
                if seen == 3:
                    break
        folder_kinds = {k.name for k in kinds("indicator") if k.folder}
        return kinds_seen.pop() if files and len(kinds_seen) == 1 and kinds_seen <= folder_kinds \
            else None
    if p.suffix.lower() in WORKBOOK_SUFFIXES:
        probe = Probe(p)
        for kind in kinds("indicator"):
            if kind.sniff is not None and kind.sniff(probe):
                return kind.name
        return None
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


def is_indicator_kind(kind) -> bool:
    """Whether ``kind`` names a registered kind (a hint names only those).

    Parameters
    ----------
    kind : str or None
        A kind's name.

    Returns
    -------
    bool
    """
    return bool(kind) and is_registered(kind)
