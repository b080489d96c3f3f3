"""Shared parts of the NHS indicator loaders: the tidy indicator table, header matching, numbers, dates."""

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

__all__ = [
    "INDICATOR_COLUMNS",
    "ORG_LEVELS",
    "AE_TYPES",
    "GP_MEASURES",
    "DATE_DTYPE",
    "IndicatorParseWarning",
    "normalise_header",
    "snake_case",
    "clean_header",
    "MISSING_TOKENS",
    "SUPPRESSED_TOKENS",
    "parse_numeric",
    "warn_unparseable",
    "parse_report_frame",
    "decode_text",
    "read_table_csv",
    "columns_by_norm",
    "find_column",
    "missing_column_error",
    "set_table_attrs",
    "stack_measures",
    "empty_table",
    "finish_table",
    "ratio",
    "MONTHS",
    "month_start",
    "month_end",
    "parse_month_text",
    "parse_months",
    "financial_year",
    "year_from_name",
    "parse_dates",
    "clean_text",
    "check_errors",
    "ColumnReport",
    "ReadReport",
    "meaning_text",
    "missing_token_counts",
]

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

    >>> normalise_header("\\ufeffA&E attendances Type 1 ")
    'a and e attendances type 1'
    """
    s = str(name).replace("\ufeff", "").replace("&", " and ").casefold()
    return re.sub(r"[^0-9a-z]+", " ", s).strip()


def snake_case(name) -> str:
    return normalise_header(name).replace(" ", "_")


def clean_header(name) -> str:
    """A header as shown to users: BOM removed, inner whitespace collapsed, ends stripped."""
    return " ".join(str(name).replace("\ufeff", "").split())


MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "#n/a"}


SUPPRESSED_TOKENS = {"-", "*", "**", "***", "..", ".", ":", "c", "x", "~", "supp", "suppressed"}


def parse_numeric(values, *, column: str, rows, report: dict, path, errors: str = "report",
                   suppressed_tokens=SUPPRESSED_TOKENS) -> np.ndarray:
    """Read published numbers: ``£``, thousands commas, spaces, ``%`` and ``(1.0)`` negatives.

    Blank and NA cells are ``missing``; ``-``, ``*`` and similar markers are ``suppressed``;
    anything else that is not a number is ``unparseable``. All three become NaN, never 0, and
    are counted in ``report[column]``.
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
    for column, entry in report.items():
        if entry.get("unparseable"):
            warnings.warn(
                f"{path}: column {column!r}: {entry['unparseable']} cell(s) are not numbers and "
                f"were read as missing (first at row {entry['first_row']}: "
                f"{entry['first_value']!r}); see frame.attrs['parse_report']",
                IndicatorParseWarning, stacklevel=3)


def parse_report_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``parse_report`` of a loaded frame as a tidy table, one row per numeric column.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame returned by one of the loaders of this module.

    Returns
    -------
    pandas.DataFrame
        Columns ``column, missing, suppressed, unparseable, first_row, first_value, file``.
    """
    report = frame.attrs.get("parse_report", {})
    cols = ["column", "missing", "suppressed", "unparseable", "first_row", "first_value", "file"]
    rows = [{"column": k, **{c: v.get(c) for c in cols[1:]}} for k, v in report.items()]
    return pd.DataFrame(rows, columns=cols)


def decode_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_table_csv(path, *, header_markers: Sequence[str] = (), max_scan: int = 40):
    """Read a CSV as text cells, locating the header row below any preamble.

    Returns ``(frame, rows)``: ``frame`` has cleaned header names and ``str`` cells; ``rows``
    holds each data row's number as a spreadsheet shows it (header row included in the count).
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
    out = {}
    for c in frame.columns:
        out.setdefault(normalise_header(c), c)
    return out


def find_column(frame, aliases, *, path=None, required: bool = False, what: str | None = None,
          expected_kind: str | None = None, prefix: bool = False, exclude=()):
    """The column whose normalised name equals one of ``aliases`` (or starts with one)."""
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
    from .detect import KIND_LABEL, KIND_LOADER, kind_from_columns

    kind = kind_from_columns(list(frame.columns))
    hint = ""
    if kind and expected_kind and kind != expected_kind:
        hint = (f"; this looks like {KIND_LABEL[kind]} (use {KIND_LOADER[kind]}), "
                f"not {KIND_LABEL[expected_kind]}")
    shown = ", ".join(repr(c) for c in list(frame.columns)[:12])
    more = " ..." if len(frame.columns) > 12 else ""
    return DataFormatError(f"required column is missing{hint}. Columns present: {shown}{more}",
                           path=path, column=what)


def set_table_attrs(frame, paths, *, kind, report, excluded=None, extra=None):
    from ...provenance import is_synthetic

    paths = [Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])]
    hashes = [sha256_file(p) for p in paths]
    frame.attrs["source"] = str(paths[0]) if len(paths) == 1 else [str(p) for p in paths]
    frame.attrs["sha256"] = hashes[0] if len(hashes) == 1 else hashlib.sha256(
        "".join(hashes).encode()).hexdigest()
    frame.attrs["synthetic"] = bool(any(is_synthetic(p) for p in paths))
    frame.attrs["kind"] = kind
    frame.attrs["parse_report"] = report
    frame.attrs["excluded_rows"] = excluded or {}
    if extra:
        frame.attrs.update(extra)
    return frame


def stack_measures(keys: pd.DataFrame, specs, *, org_level) -> pd.DataFrame:
    """Stack ``(measure, value, numerator, denominator, keep)`` specs into the tidy table."""
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
    return pd.DataFrame({c: pd.Series(dtype=DATE_DTYPE if c.startswith("period") else
                                      ("float64" if c in ("value", "numerator", "denominator")
                                       else "str")) for c in INDICATOR_COLUMNS})


def finish_table(frame: pd.DataFrame) -> pd.DataFrame:
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
    return pd.Timestamp(year=int(year), month=int(month), day=1)


def month_end(ts: pd.Timestamp) -> pd.Timestamp:
    return (ts + pd.offsets.MonthEnd(0)).normalize()


def parse_month_text(text) -> pd.Timestamp | None:
    """``MSitAE-MARCH-2019``, ``April 2019``, ``Apr-19``, ``2019-04``, ``2019-04-01`` -> month."""
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

    Returns
    -------
    start, end, label : Timestamp, Timestamp, str
        1 April, 31 March, and the label ``"2018-19"``.

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
    for m in re.finditer(r"(?<!\d)(20\d{2})[-_ ]?(\d{2}|20\d{2})(?!\d)", Path(path).name):
        y, nxt = int(m.group(1)), int(m.group(2))
        if nxt % 100 == (y + 1) % 100:
            return f"{y}-{(y + 1) % 100:02d}"
    return None


def parse_dates(values, *, column, rows, report, path) -> pd.Series:
    """Day-first dates (``01/04/1999``); ``-`` and blanks are missing, others unparseable."""
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
    s = pd.Series(values, dtype="str").str.strip()
    return s.where(~s.str.casefold().isin(set(unknown)), pd.NA)


def check_errors(errors):
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

    def lines(self) -> list[str]:
        """The report as lines of text."""
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
    """
    s = pd.Series(values, dtype="object").dropna().astype(str).str.strip()
    s = s[s != ""]
    tokens = s[s.str.casefold().isin((MISSING_TOKENS | SUPPRESSED_TOKENS) - {""})]
    return {str(k): int(v) for k, v in tokens.value_counts().items()}
