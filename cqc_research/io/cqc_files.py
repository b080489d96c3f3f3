"""CQC's published files: the Latest ratings workbook, the care directory and HSCA active locations.

All three are awkward in known ways (notice rows above the header, headers that drift between
years, case variants of ratings, day-first and Excel-serial dates, million-row padding). Each
loader finds the header itself, maps columns by name (never by position), and returns a tidy
table with the typed columns of ``docs/DESIGN.md``. Results are cached as Parquet keyed by the
input's SHA-256, so a second load of the same file is quick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import cached_frame, sha256_file
from ..errors import DataFormatError, file_head, looks_like_html
from ..provenance import is_synthetic
from ..ratings import (
    DOMAIN_DTYPE,
    DOMAINS,
    RATING_DTYPE,
    SECTOR_DTYPE,
    STATUS_DTYPE,
    normalise_domains,
    parse_ratings,
    sectors_of,
    strict_from,
    warn_unknown_ratings,
)
from ._workbook import describe, open_workbook, sniff, workbook_hint
from .ods import ods_sheet_names, read_ods, read_ods_sheets

__all__ = ["load_latest_ratings", "load_active_locations", "load_care_directory", "ratings_wide"]

# canonical name -> header aliases (compared after _norm)
_LOCATION_COLUMNS = {
    "location_id": ["Location ID"],
    "location_ods_code": ["Location ODS Code"],
    "location_name": ["Location Name"],
    "care_home": ["Care Home?", "Care Home"],
    "location_type": ["Location Type", "Location Type/Sector"],
    "inspection_category": ["Location Primary Inspection Category", "Location Inspection Category",
                            "Primary Inspection Category"],
    "street_address": ["Location Street Address"],
    "city": ["Location City"],
    "postcode": ["Location Post Code", "Location Postcode"],
    "local_authority": ["Location Local Authority"],
    "region": ["Location Region"],
    "nhs_region": ["Location NHS Region"],
    "ccg_code": ["Location ONSPD CCG Code"],
    "ccg_name": ["Location ONSPD CCG"],
    "service_group": ["Service / Population Group", "Service/Population Group", "Population Group",
                      "Service Group"],
    "domain": ["Domain", "Key Question"],
    "rating": ["Latest Rating", "Rating"],
    "publication_date": ["Publication Date", "Report Publication Date", "Latest Rating Publication Date"],
    "report_type": ["Report Type"],
    "inherited": ["Inherited Rating (Y/N)", "Inherited Rating"],
    "url": ["URL", "Location URL"],
    "provider_id": ["Provider ID"],
    "provider_name": ["Provider Name"],
    "brand_id": ["Brand ID"],
    "brand_name": ["Brand Name"],
}
_PROVIDER_COLUMNS = {
    "provider_id": ["Provider ID"],
    "provider_ods_code": ["Provider ODS Code"],
    "provider_name": ["Provider Name"],
    "location_type": ["Provider Type"],
    "inspection_category": ["Provider Primary Inspection Category", "Provider Inspection Category"],
    "street_address": ["Provider Street Address"],
    "city": ["Provider City"],
    "postcode": ["Provider Post Code", "Provider Postcode"],
    "local_authority": ["Provider Local Authority"],
    "region": ["Provider Region"],
    "nhs_region": ["Provider NHS Region"],
    "service_group": _LOCATION_COLUMNS["service_group"],
    "domain": _LOCATION_COLUMNS["domain"],
    "rating": _LOCATION_COLUMNS["rating"],
    "publication_date": _LOCATION_COLUMNS["publication_date"],
    "report_type": ["Report Type"],
    "inherited": _LOCATION_COLUMNS["inherited"],
    "url": ["URL", "Provider URL"],
    "brand_id": ["Brand ID"],
    "brand_name": ["Brand Name"],
}
_REQUIRED = {"Locations": ["location_id", "domain", "rating", "publication_date"],
             "Providers": ["provider_id", "domain", "rating", "publication_date"]}

#: Column order of the tidy long ratings table (docs/DESIGN.md).
LONG_COLUMNS = [
    "level", "org_id", "location_id", "location_ods_code", "location_name", "provider_id",
    "provider_ods_code", "provider_name", "care_home", "location_type", "inspection_category",
    "sector", "postcode", "local_authority", "region", "nhs_region", "service_group", "domain",
    "rating", "rating_status", "rating_text", "publication_date", "report_type", "inherited", "url",
    "brand_id", "brand_name",
]
_ORG_COLUMNS = [c for c in LONG_COLUMNS if c not in
                {"service_group", "domain", "rating", "rating_status", "rating_text", "publication_date",
                 "report_type", "inherited", "url"}]


def _norm(text) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


# ---------------------------------------------------------------------------------------------
# reading any spreadsheet-like file into raw strings
def sheet_names(path) -> list[str]:
    """Sheet names of an ODS or XLSX workbook (``["csv"]`` for a CSV file).

    Parameters
    ----------
    path : str or Path
        An ``.ods`` or ``.xlsx`` workbook, or a CSV file.

    Returns
    -------
    list of str
        The workbook's sheet names in workbook order, or ``["csv"]``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the file is empty, a folder, an HTML page, or a workbook that cannot be opened.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "csv":
        return ["csv"]
    if kind == "ods":
        return ods_sheet_names(path)
    return open_workbook(path).sheet_names


def file_kind(path: Path) -> str:
    """What kind of spreadsheet-like file ``path`` is, from its first bytes and its suffix.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        By content, whatever the suffix: ``"xlsx"`` (a zip archive holding an Excel workbook,
        or a damaged zip named ``.xlsx``/``.xlsm``), ``"xls"`` (an Excel 97 workbook),
        ``"ods"`` (any other zip archive: the ODS reader says what is wrong with it) or
        ``"csv"`` (text).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If it is a folder, an empty file, an HTML page, JSON, XML, a PDF or another binary
        file, or named as a workbook but holding text; the message says what it is.
    """
    head = file_head(path, expected="a data file (ODS, XLSX or CSV)", size=4096)
    if looks_like_html(head):
        raise DataFormatError("this looks like an HTML page (perhaps a saved error page), not a data file",
                              path=path)
    suffix = path.suffix.lower()
    kind, damaged = sniff(path, head=head)
    if kind == "xlsx" and (not damaged or suffix in {".xlsx", ".xlsm"}):
        return "xlsx"
    if kind in {"ods", "zip", "xlsx"}:
        return "ods"  # the ODS reader checks the mimetype and says so if it is not ODS
    if kind == "xls":
        return "xls"
    if suffix in {".ods", ".xlsx", ".xls", ".xlsm"}:
        form = "an Excel 97 workbook (OLE2)" if suffix == ".xls" else "a zip archive"
        raise DataFormatError(f"this is {describe(kind)}, named {suffix}; a {suffix} workbook is "
                              f"{form} (truncated, or not a spreadsheet?)", path=path)
    if kind != "text":
        raise DataFormatError(f"this is {describe(kind)}, not an ODS, XLSX or CSV file",
                              path=path)
    return "csv"


@dataclass(frozen=True, slots=True)
class SheetTable:
    """One sheet (or CSV) read by :func:`read_table`: the cells and where they were in the file.

    Attributes
    ----------
    data : pandas.DataFrame
        The rows below the header, columns named by the header.
    rows : numpy.ndarray
        Each data row's 1-based row number in the file, for error messages.
    header_row : int or None
        The header's 1-based row number.
    """

    data: pd.DataFrame
    rows: np.ndarray
    header_row: int | None


def read_table(path, sheet: str | None = None, *, required_headers=None) -> SheetTable:
    """Read one sheet (or a CSV) as strings with the header row detected.

    The header is the first row that holds every name in ``required_headers`` (compared
    case-insensitively, ignoring punctuation), so notice rows above it are skipped. Trailing
    empty rows (the million-row padding) are ignored. The result also gives each data row's
    1-based row number in the file, for error messages.

    Parameters
    ----------
    path : str or Path
        An ``.ods`` or ``.xlsx`` workbook, or a CSV file.
    sheet : str, optional
        The sheet to read from a workbook (ignored for a CSV file).
    required_headers : sequence of str, optional
        Names the header row must hold (a cell may also start with one). Without them the
        first row is the header.

    Returns
    -------
    SheetTable
        ``.data``: the rows below the header, columns named by the header (blank names
        dropped, repeated names made unique), cells as read with blanks as ``None``, entirely
        empty rows dropped; ``.rows`` (row numbers) and ``.header_row`` say where they were.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the sheet is missing or empty, or no row in the first 60 holds ``required_headers``.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "ods":
        fast = _header_checked(read_ods(path, sheet, header="auto", strip=True), required_headers)
        return fast if fast is not None else _read_ods_searching(path, sheet, required_headers)
    if kind in {"xlsx", "xls"}:
        wb = open_workbook(path, expected="an ODS, XLSX or XLS workbook")
        if sheet not in wb.sheet_names:
            raise DataFormatError(f"no sheet {sheet!r}; the workbook has {wb.sheet_names}", path=path)
        grid = pd.DataFrame(wb.rows(sheet), dtype=object)
        rows = None
    else:
        grid, rows = _read_csv_grid(path, required_headers)
    if rows is None:
        rows = np.arange(1, len(grid) + 1)
    grid = grid.reset_index(drop=True)
    return _apply_header(grid, np.asarray(rows), path, sheet, required_headers)


def _read_ods_tables(path: Path, sheets, required: dict) -> dict[str, SheetTable]:
    """:func:`read_table` for the ``sheets`` of an ODS workbook present in it, read in one pass.

    ``required`` maps each sheet to its ``required_headers``.
    """
    frames = read_ods_sheets(path, list(sheets), header="auto", strip=True, missing="skip")
    out = {}
    for sheet, frame in frames.items():
        fast = _header_checked(frame, required.get(sheet))
        del frame
        frames[sheet] = None
        out[sheet] = fast if fast is not None else _read_ods_searching(path, sheet,
                                                                        required.get(sheet))
    return out


def _read_ods_searching(path: Path, sheet, required_headers) -> SheetTable:
    """An unusual layout (the first full-width row is not the header): search row by row."""
    raw = read_ods(path, sheet, header=None)
    rows = raw.index.to_numpy()  # 1-based spreadsheet row numbers (empty rows are skipped)
    grid = raw.astype(object).where(raw.notna(), None).reset_index(drop=True)
    return _apply_header(grid, np.asarray(rows), path, sheet, required_headers)


def _header_checked(frame: pd.DataFrame, required_headers) -> SheetTable | None:
    """The vectorised path: a frame read by :func:`read_ods` with ``header="auto"`` (the first
    full-width row) and ``strip=True``, tidied as :func:`read_table` returns it.

    Returns None when that row does not hold ``required_headers`` (compared case- and
    punctuation-insensitively), so the caller can search row by row instead. Columns stay
    Arrow-backed strings (no per-cell Python objects), white space already stripped by the
    reader and blank cells missing.
    """
    names = {_norm(c) for c in frame.columns}
    want = [_norm(h) for h in (required_headers or [])]
    if not all(any(n == w or n.startswith(w) for n in names) for w in want):
        return None
    header_row = frame.attrs.get("header_row")  # read_ods's provenance
    names = [str(c).strip() for c in frame.columns]
    keep = [k for k, c in enumerate(names) if c and not c.startswith("Unnamed")]
    rows = frame.index.to_numpy()
    out = frame.iloc[:, keep].set_axis([names[k] for k in keep], axis=1)
    del frame
    if len(keep) < len(names) and len(keep):  # rows with cells only in dropped columns
        filled = out.notna().any(axis=1).to_numpy()
        if not filled.all():
            out, rows = out[filled], rows[filled]
    out = out.reset_index(drop=True)
    out.attrs = {}
    return SheetTable(out, rows, header_row)


def _read_csv_grid(path: Path, required_headers=None) -> tuple[pd.DataFrame, np.ndarray]:
    """A CSV as a grid of strings starting at its header row (preamble lines skipped)."""
    import csv
    import io

    want = [_norm(h) for h in (required_headers or [])]
    for enc in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=enc, newline="") as f:
                head = [next(f, "") for _ in range(60)]
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataFormatError("cannot decode the CSV as UTF-8 or Windows-1252", path=path)
    skip = 0
    try:
        for i, row in enumerate(csv.reader(io.StringIO("".join(head)))):
            cells = {_norm(c) for c in row if c.strip()}
            if (want and all(any(w == c or c.startswith(w) for c in cells) for w in want)) or (not want and cells):
                skip = i
                break
    except csv.Error as exc:  # e.g. a cell longer than the csv module's field limit
        raise DataFormatError(f"malformed CSV near the top of the file: {exc}", path=path) from None
    try:
        grid = pd.read_csv(path, header=None, skiprows=skip, dtype=str, keep_default_na=False,
                           encoding=enc, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise DataFormatError(f"malformed CSV: {exc}", path=path) from None
    rows = np.arange(skip + 1, skip + 1 + len(grid))
    return grid, rows


def _apply_header(grid, rows, path, sheet, required_headers) -> SheetTable:
    if grid.empty:
        raise DataFormatError("the sheet is empty", path=path, sheet=sheet)
    want = [_norm(h) for h in (required_headers or [])]
    header_at = None
    scan = min(len(grid), 60)
    for i in range(scan):
        cells = {_norm(v) for v in grid.iloc[i].tolist() if v is not None and str(v).strip() != ""}
        if want and all(any(w == c or c.startswith(w) for c in cells) for w in want):
            header_at = i
            break
    if header_at is None:
        if want:
            raise DataFormatError(
                f"no header row found in the first {scan} rows; expected a row holding the columns "
                f"{list(required_headers)}", path=path, sheet=sheet)
        header_at = 0
    header = ["" if v is None else str(v).strip() for v in grid.iloc[header_at].tolist()]
    body = grid.iloc[header_at + 1:].copy()
    body.columns = _dedupe(header)
    body = body.loc[:, [c for c in body.columns if c]]
    body = body.map(lambda v: None if v is None or (isinstance(v, str) and v.strip() == "")
                    or (isinstance(v, float) and np.isnan(v)) else v)
    keep = body.notna().any(axis=1).to_numpy()
    out = body.loc[keep].reset_index(drop=True)
    return SheetTable(out, np.asarray(rows[header_at + 1:][keep]), int(rows[header_at]))


def _dedupe(names):
    seen, out = {}, []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _map_columns(table: SheetTable, spec, path, sheet, required) -> pd.DataFrame:
    frame = table.data
    by_norm = {}
    for col in frame.columns:
        by_norm.setdefault(_norm(col), col)
    found = {}
    for canon, aliases in spec.items():
        for alias in aliases:
            a = _norm(alias)
            hit = by_norm.get(a) or next((c for n, c in by_norm.items() if n.startswith(a)), None)
            if hit is not None:
                found[canon] = hit
                break
    missing = [c for c in required if c not in found]
    if missing:
        names = [spec[c][0] for c in missing]
        raise DataFormatError(
            f"required column(s) {names} not found; the header has {list(frame.columns)}",
            path=path, sheet=sheet, row=table.header_row)
    out = pd.DataFrame({canon: frame[col] for canon, col in found.items()})
    for canon in spec:
        if canon not in out:
            out[canon] = None
    return out


# ---------------------------------------------------------------------------------------------
# dates
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _parse_one_date(value):
    if value is None:
        return pd.NaT
    if isinstance(value, pd.Timestamp):
        return value
    if hasattr(value, "year") and hasattr(value, "month"):
        return pd.Timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 120_000:
            return _EXCEL_EPOCH + pd.Timedelta(days=float(value))
        raise ValueError(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{1,6}(\.\d+)?", text):  # Excel serial written as text
        num = float(text)
        if 1 <= num < 120_000:
            return _EXCEL_EPOCH + pd.Timedelta(days=num)
        raise ValueError(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text):
        return pd.Timestamp(text[:10])
    for fmt in ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%d-%b-%Y", "%d-%b-%y",
                "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return pd.to_datetime(text, format=fmt)
        except ValueError:
            continue
    raise ValueError(text)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_dates(values, *, path=None, sheet=None, column=None, rows=None) -> pd.Series:
    """Parse ISO, day-first (``01/03/2019``) and Excel-serial dates; name the cell that fails.

    Dates written out (``1 March 2019``, ``01-Mar-2019``) and date cells already read as dates
    are accepted too; ``None`` is missing.

    Parameters
    ----------
    values : array-like
        The cells of one column.
    path : str or Path, optional
        The file read, for the error.
    sheet : str, optional
        The sheet read, for the error.
    column : str, optional
        The column as published, for the error.
    rows : array-like of int, optional
        Each cell's row number in the file, so that the error names the failing cell's row.

    Returns
    -------
    pandas.Series
        ``datetime64[ns]`` dates, ``NaT`` where missing.

    Raises
    ------
    DataFormatError
        At the first cell that is not a date (or is an impossible one, such as 31/02/2019).

    Examples
    --------
    >>> parse_dates(["2019-03-01", "01/03/2019", "43525"]).dt.strftime("%Y-%m-%d").tolist()
    ['2019-03-01', '2019-03-01', '2019-03-01']
    """
    s = pd.Series(values, dtype=object).reset_index(drop=True)
    mapping = {}
    uniques = pd.unique(s.dropna())
    # ISO days (what ODS date cells hold) converted together; anything else, or an impossible
    # ISO day, one by one below (which names the cell)
    iso = [u for u in uniques if isinstance(u, str) and _ISO_DAY.fullmatch(u)]
    if iso:
        days = pd.to_datetime(pd.Series(iso, dtype=object), format="%Y-%m-%d", errors="coerce")
        mapping.update((u, d) for u, d in zip(iso, days, strict=True) if not pd.isna(d))
    for u in uniques:
        if u in mapping:
            continue
        try:
            mapping[u] = _parse_one_date(u)
        except (ValueError, OverflowError):
            pos = int(np.flatnonzero((s == u).to_numpy())[0])
            row = int(rows[pos]) if rows is not None else None
            raise DataFormatError(
                f"impossible or unreadable date {u!r}; expected an ISO date (2019-03-01), a "
                "day-first date (01/03/2019) or an Excel serial number",
                path=path, sheet=sheet, row=row, column=column) from None
    return pd.to_datetime(s.map(mapping), errors="raise").astype("datetime64[ns]")


def _yes_no(values) -> pd.Series:
    s = pd.Series(values, dtype=object).map(
        lambda v: None if v is None else {"y": True, "yes": True, "true": True, "n": False, "no": False,
                                          "false": False}.get(str(v).strip().casefold()))
    return s.astype("boolean")


# ---------------------------------------------------------------------------------------------
# Latest ratings
def load_latest_ratings(path, *, sheets=("Locations", "Providers"), strict: bool = False,
                        unknown: str | None = None, duplicates: str = "raise",
                        use_cache: bool = True) -> pd.DataFrame:
    """Load CQC's "Latest ratings" file (ODS, XLSX or CSV) as one tidy long table.

    One row per organisation x service/population group x domain, with the columns of
    ``docs/DESIGN.md`` (level, org_id, ..., domain, rating, rating_status, publication_date, ...).
    Handles the current 28/21-column layout and the older ``Key Question`` layout, notice rows
    above the header, the million-row padding, case variants of ratings, and ISO, day-first
    and Excel-serial dates.

    Parameters
    ----------
    path : path
        The workbook (``.ods``/``.xlsx``, sheets ``Locations`` and ``Providers``) or a CSV export
        of one sheet (its level is inferred from the columns).
    sheets : sequence of str
        Which sheets to read from a workbook; missing ``Providers`` sheets are tolerated.
    strict : bool
        By default a rating value that is neither on the scale nor a known status
        (:data:`~cqc_research.ratings.NON_SCALE`, :data:`~cqc_research.ratings.JUDGEMENTS`) is
        kept (``rating_status`` ``Unknown``, the text in ``rating_text``), counted and warned
        about once (:class:`~cqc_research.ratings.UnknownRatingWarning`); ``strict=True`` makes
        it an error naming the value, sheet and row.
    unknown : {"raise", "keep"}, optional
        The older spelling of ``strict`` (``"raise"`` is ``strict=True``).
    duplicates : {"raise", "drop"}
        Rows repeating the same organisation, service group and domain.
    use_cache : bool
        Read and write the Parquet cache in ``data/processed/cache``.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataFormatError
        With the file, sheet, row and column, for anything not in the expected form.
    """
    path = Path(path)
    unknown = "raise" if strict_from(strict, unknown) else "keep"
    options = {"sheets": list(sheets), "unknown": unknown, "duplicates": duplicates, "v": 2}
    frame = cached_frame(path, lambda: _build_latest(path, sheets, unknown, duplicates),
                         loader="latest_ratings", options=options, use_cache=use_cache)
    warn_unknown_ratings(frame, str(path))
    frame.attrs.update({"source": str(path), "kind": "latest_ratings", "synthetic": is_synthetic(path)})
    frame.attrs.setdefault("sha256", sha256_file(path))
    return frame


def _build_latest(path: Path, sheets, unknown, duplicates) -> pd.DataFrame:
    kind = file_kind(path)
    parts = []
    if kind == "csv":
        head = read_table(path, None, required_headers=["Latest Rating"])
        level = "location" if any(_norm(c) == "location id" for c in head.data.columns) else "provider"
        parts.append(_tidy_sheet(head, "Locations" if level == "location" else "Providers", path, None,
                                 unknown))
    else:
        required = {}
        for sheet in sheets:
            spec = _LOCATION_COLUMNS if sheet == "Locations" else _PROVIDER_COLUMNS
            required[sheet] = [spec[c][0] for c in _REQUIRED[sheet] if c != "domain"]
        if kind == "ods":  # every sheet in one pass over the XML
            raws = _read_ods_tables(path, sheets, required)
        else:
            present = sheet_names(path)
            raws = {sheet: read_table(path, sheet, required_headers=required[sheet])
                    for sheet in sheets if sheet in present}
        if not raws:
            names = sheet_names(path)
            raise DataFormatError(f"no sheet named {list(sheets)}; the workbook has {names}"
                                  + workbook_hint(names, but_not="load_latest_ratings"), path=path)
        for sheet in list(raws):
            parts.append(_tidy_sheet(raws.pop(sheet), sheet, path, sheet, unknown))
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    del parts
    out = _set_dtypes(out)  # categorical keys first: the duplicate check is then quick
    _check_duplicates(out, path, duplicates)
    if duplicates == "drop":
        out = out.drop_duplicates(["level", "org_id", "service_group", "domain"]).reset_index(drop=True)
    return out.drop(columns=["_row", "_sheet"])


_STR = pd.StringDtype(na_value=np.nan)  # pandas' default string dtype, Arrow-backed


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    """A column as strings; a column absent from the file is all missing (still strings, so
    that sheets concatenate without falling back to Python objects)."""
    values = df[col] if col in df else None
    if values is not None and values.dtype == _STR:
        return values
    if values is not None and values.notna().any():
        return values.astype("object").where(values.notna(), None).astype(_STR)
    import pyarrow as pa

    return pd.Series(pd.array(pa.nulls(len(df), pa.large_string()), dtype=_STR), index=df.index)


def _distinct(values: pd.Series, rows: np.ndarray):
    """The distinct values of a column, so that a value-by-value rule runs once per value.

    Returns ``(codes, uniques, first_rows)``: ``uniques`` (a list, in order of first
    appearance, then None for missing cells) taken at ``codes`` gives every cell back, and
    ``first_rows`` is the spreadsheet row of each unique's first cell, for error messages.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    n = len(uniques)
    # in order of first appearance: a value is new where its code exceeds every earlier one
    seen = np.maximum.accumulate(np.concatenate(([-1], codes[:-1]))) if len(codes) else codes
    first = np.flatnonzero(codes > seen)
    missing = codes < 0
    first_rows = rows[first]
    if missing.any():
        first_rows = np.append(first_rows, rows[int(np.argmax(missing))])
        codes = np.where(missing, n, codes)
    else:
        first_rows = np.append(first_rows, 0)
    return codes, list(uniques) + [None], first_rows


def _take_categorical(cat, codes: np.ndarray) -> pd.Categorical:
    """The categorical ``cat`` (one entry per distinct value) taken at ``codes``."""
    cat = pd.Categorical(cat)
    return pd.Categorical.from_codes(np.asarray(cat.codes)[codes], dtype=cat.dtype)


def _tidy_sheet(raw: SheetTable, sheet_kind: str, path: Path, sheet, unknown) -> pd.DataFrame:
    spec = _LOCATION_COLUMNS if sheet_kind == "Locations" else _PROVIDER_COLUMNS
    rows = np.asarray(raw.rows)
    df = _map_columns(raw, spec, path, sheet, _REQUIRED[sheet_kind])
    del raw
    if df.empty:
        raise DataFormatError("the sheet has a header but no data rows", path=path, sheet=sheet)
    level = "location" if sheet_kind == "Locations" else "provider"
    n = len(df)
    out = {"level": pd.Series(pd.array([level], dtype=_STR).take(np.zeros(n, np.int64)),
                              index=df.index)}
    out["org_id"] = _text(df, "location_id" if level == "location" else "provider_id")
    for col in ("location_id", "location_ods_code", "location_name", "provider_id", "provider_ods_code",
                "provider_name"):
        out[col] = _text(df, col)
    blank_org = out["org_id"].isna()
    if blank_org.any():
        i = int(np.flatnonzero(blank_org.to_numpy())[0])
        raise DataFormatError("empty organisation ID", path=path, sheet=sheet, row=int(rows[i]),
                              column=spec["location_id" if level == "location" else "provider_id"][0])
    # value-by-value rules (yes/no, sector, domain, rating, date) run once per distinct value
    if "care_home" in df and df["care_home"].notna().any():
        codes, uniques, _ = _distinct(df["care_home"], rows)
        out["care_home"] = pd.Series(_yes_no(uniques).array.take(codes), index=df.index)
    else:
        out["care_home"] = pd.Series(pd.array([pd.NA] * n, dtype="boolean"), index=df.index)
    for col in ("location_type", "inspection_category"):
        out[col] = _text(df, col)
    codes, uniques, _ = _distinct(df["inspection_category"], rows)
    out["sector"] = _take_categorical(sectors_of(uniques), codes)
    for col in ("postcode", "local_authority", "region", "nhs_region"):
        out[col] = _text(df, col)
    out["service_group"] = _text(df, "service_group").fillna("Overall")
    codes, uniques, first_rows = _distinct(df["domain"], rows)
    try:
        domains = normalise_domains([v if v is not None else "Overall" for v in uniques],
                                    where=str(path))
    except DataFormatError as exc:
        bad = exc.detail.split("'")[1] if "'" in exc.detail else None
        i = next((k for k, v in enumerate(uniques) if v == bad), 0) if bad is not None else 0
        raise DataFormatError(exc.detail, path=path, sheet=sheet, row=int(first_rows[i]),
                              column="Domain") from None
    out["domain"] = _take_categorical(domains, codes)
    codes, uniques, first_rows = _distinct(df["rating"], rows)
    try:
        parsed = parse_ratings(uniques, unknown=unknown,
                               where=f"{path}, sheet {sheet!r}, column 'Latest Rating'" if sheet else
                               f"{path}, column 'Latest Rating'", rows=first_rows,
                               warn=False)  # load_latest_ratings warns once, with counts
    except DataFormatError as exc:
        raise DataFormatError(exc.detail, path=path, sheet=sheet, row=exc.row, column="Latest Rating") from None
    out["rating"] = _take_categorical(parsed["rating"], codes)
    out["rating_status"] = _take_categorical(parsed["rating_status"], codes)
    if "rating_text" in parsed:  # strings until the sheets are joined, then categorical
        text = parsed["rating_text"].astype("object")
        out["rating_text"] = pd.Series(pd.array(text.where(text.notna(), None).tolist(),
                                                dtype=_STR).take(codes), index=df.index)
    codes, uniques, first_rows = _distinct(df["publication_date"], rows)
    dates = parse_dates(uniques, path=path, sheet=sheet, column="Publication Date",
                        rows=first_rows).to_numpy()
    out["publication_date"] = pd.Series(dates[codes], index=df.index)
    out["report_type"] = _text(df, "report_type")
    codes, uniques, _ = _distinct(df["inherited"], rows)
    out["inherited"] = pd.Series(_yes_no(uniques).array.take(codes), index=df.index)
    for col in ("url", "brand_id", "brand_name"):
        out[col] = _text(df, col)
    out["_row"] = pd.Series(rows, index=df.index)
    out["_sheet"] = pd.Series(pd.array([sheet], dtype=object).take(np.zeros(n, np.int64)),
                              index=df.index)
    return pd.DataFrame({c: out[c] for c in LONG_COLUMNS + ["_row", "_sheet"]}, copy=False)


_CATEGORY_COLUMNS = ("level", "location_type", "inspection_category", "local_authority", "region",
                     "nhs_region", "service_group", "report_type")
_STRING_COLUMNS = ("org_id", "location_id", "location_ods_code", "location_name", "provider_id",
                   "provider_ods_code", "provider_name", "postcode", "url", "brand_id", "brand_name")


def _set_dtypes(out: pd.DataFrame) -> pd.DataFrame:
    """The documented dtypes of the long ratings table (after sheets are concatenated)."""
    for col in _CATEGORY_COLUMNS:
        values = out[col]
        # Arrow strings straight to categories; other columns (CSV/XLSX) through objects
        out[col] = (values if values.dtype == _STR else values.astype("object")).astype("category")
    if "rating_text" in out:
        values = out["rating_text"]
        out["rating_text"] = (values if values.dtype == _STR else values.astype("object")
                              ).astype("category")
    for col in _STRING_COLUMNS:
        out[col] = out[col].astype("string")
    out["sector"] = pd.Categorical(out["sector"], dtype=SECTOR_DTYPE)
    out["domain"] = pd.Categorical(out["domain"], dtype=DOMAIN_DTYPE)
    out["rating"] = pd.Categorical(out["rating"], dtype=RATING_DTYPE)
    out["rating_status"] = pd.Categorical(out["rating_status"], dtype=STATUS_DTYPE)
    out["care_home"] = out["care_home"].astype("boolean")
    out["inherited"] = out["inherited"].astype("boolean")
    return out


def _check_duplicates(out: pd.DataFrame, path, duplicates: str) -> None:
    if duplicates not in {"raise", "drop"}:
        raise ValueError(f"duplicates must be 'raise' or 'drop', not {duplicates!r}")
    key = ["level", "org_id", "service_group", "domain"]
    dup = out.duplicated(key, keep=False)
    if dup.any() and duplicates == "raise":
        d = out.loc[dup].sort_values("_row")
        first = d.iloc[0]
        same = d[(d["org_id"] == first["org_id"]) & (d["service_group"] == first["service_group"])
                 & (d["domain"] == first["domain"])]
        raise DataFormatError(
            f"duplicated rating for {first['org_id']} / {first['service_group']} / {first['domain']} "
            f"(rows {same['_row'].tolist()}); expected one row per organisation, service group and "
            f"domain ({int(dup.sum())} duplicated rows in all; pass duplicates='drop' to keep the first)",
            path=path, sheet=first["_sheet"], row=int(first["_row"]))


def ratings_wide(long: pd.DataFrame, *, level: str = "location", service_group: str = "Overall",
                 rated_only: bool = False) -> pd.DataFrame:
    """One row per organisation and one rating column per domain.

    Parameters
    ----------
    long : DataFrame
        The tidy long ratings table.
    level : {"location", "provider"}
    service_group : str
        ``"Overall"`` (the organisation as a whole) or a service / population group.
    rated_only : bool
        Keep only organisations with an Overall rating on the scale.

    Returns
    -------
    DataFrame
        Organisation columns, ``Overall, Safe, Effective, Caring, Responsive, Well-led``
        (``RATING_DTYPE``) and ``publication_date`` (of the Overall rating).
    """
    if "level" not in long:
        raise TypeError("ratings_wide expects the long ratings table from load_latest_ratings")
    sub = long[(long["level"] == level) & (long["service_group"] == service_group)]
    if sub.empty:
        raise ValueError(f"no {level} ratings for service group {service_group!r}")
    org_cols = [c for c in _ORG_COLUMNS if c in sub]
    orgs = sub.drop_duplicates("org_id").set_index("org_id")[[c for c in org_cols if c != "org_id"]]
    ratings = sub.pivot_table(index="org_id", columns="domain", values="rating", aggfunc="first",
                              observed=True)
    ratings = ratings.reindex(columns=DOMAINS)
    wide = orgs.join(ratings.astype(object))
    for d in DOMAINS:
        wide[d] = pd.Categorical(wide[d], dtype=RATING_DTYPE)
    overall_dates = sub[sub["domain"] == "Overall"].drop_duplicates("org_id").set_index("org_id")["publication_date"]
    wide["publication_date"] = overall_dates.reindex(wide.index)
    if rated_only:
        wide = wide[wide["Overall"].notna()]
    wide = wide.reset_index()
    wide.attrs.update(long.attrs)
    return wide


# ---------------------------------------------------------------------------------------------
# care directory and HSCA active locations
_DIRECTORY_COLUMNS = {
    "name": ["Name"],
    "also_known_as": ["Also known as"],
    "address": ["Address"],
    "postcode": ["Postcode"],
    "phone": ["Phone number"],
    "website": ["Service's website", "Services website", "Website"],
    "service_types": ["Service types"],
    "latest_check_date": ["Date of latest check"],
    "specialisms": ["Specialisms/services", "Specialisms"],
    "provider_name": ["Provider name"],
    "local_authority": ["Local authority", "Local Authority"],
    "region": ["Region"],
    "url": ["Location URL"],
    "location_id": ["CQC Location ID"],
    "provider_id": ["CQC Provider ID"],
}


def _split_list(value) -> list[str]:
    if value is None:
        return []
    return [p.strip() for p in re.split(r"\|", str(value)) if p.strip()]


def load_care_directory(path, *, use_cache: bool = True) -> pd.DataFrame:
    """Load the "CQC care directory" CSV (with its preamble lines above the header).

    Parameters
    ----------
    path : str or Path
        The care directory CSV (``Name`` and ``CQC Location ID`` columns).
    use_cache : bool, default True
        Read and write the Parquet cache in ``data/processed/cache``.

    Returns
    -------
    pandas.DataFrame
        One row per location: ``location_id, name, also_known_as, address, postcode, phone,
        website, provider_id, provider_name, local_authority, region, url, latest_check_date,
        service_types, specialisms`` (the last two as lists, split on ``|``).

    Raises
    ------
    DataFormatError
        If the header row or a required column is missing, or a date cannot be read.
    """
    path = Path(path)

    def build():
        raw = read_table(path, None, required_headers=["Name", "CQC Location ID"])
        rows = raw.rows
        df = _map_columns(raw, _DIRECTORY_COLUMNS, path, None, ["location_id", "name"])
        out = df[["location_id", "name", "also_known_as", "address", "postcode", "phone", "website",
                  "provider_id", "provider_name", "local_authority", "region", "url"]].copy()
        out["latest_check_date"] = parse_dates(df["latest_check_date"], path=path, column="Date of latest check",
                                               rows=rows)
        out["service_types"] = df["service_types"].map(_split_list)
        out["specialisms"] = df["specialisms"].map(_split_list)
        return out

    frame = cached_frame(path, build, loader="care_directory", options={"v": 1}, use_cache=use_cache)
    frame.attrs.update({"source": str(path), "kind": "care_directory", "synthetic": is_synthetic(path)})
    return frame


_ACTIVE_BASE = {
    "location_id": ["Location ID"],
    "location_name": ["Location Name"],
    "location_ods_code": ["Location ODS Code"],
    "registration_date": ["Location HSCA start date", "Location HSCA Start Date"],
    "care_home": ["Care home?", "Care Home?"],
    "beds": ["Care homes beds", "Care home beds"],
    "location_type": ["Location Type/Sector", "Location Type"],
    "inspection_directorate": ["Location Inspection Directorate"],
    "inspection_category": ["Location Primary Inspection Category"],
    "latest_overall_rating": ["Location Latest Overall Rating"],
    "publication_date": ["Publication Date"],
    "region": ["Location Region"],
    "nhs_region": ["Location NHS Region"],
    "local_authority": ["Location Local Authority"],
    "postcode": ["Location Postal Code", "Location Post Code"],
    "provider_id": ["Provider ID"],
    "provider_name": ["Provider Name"],
}
_ONE_HOT = {"regulated_activities": "Regulated activity", "service_types": "Service type",
            "service_user_bands": "Service user band"}


def load_active_locations(path, *, sheet: str | None = None, use_cache: bool = True) -> pd.DataFrame:
    """Load the "HSCA active locations" workbook: one row per active location.

    The header row is found automatically; long-note column names are matched by prefix; the
    one-hot ``Regulated activity - ...``, ``Service type - ...`` and ``Service user band - ...``
    columns become list columns ``regulated_activities``, ``service_types`` and
    ``service_user_bands``. The latest overall rating is parsed onto the rating scale.

    Parameters
    ----------
    path : str or Path
        The workbook (``.ods``/``.xlsx``).
    sheet : str, optional
        The sheet to read; by default the first sheet whose header holds ``Location ID`` and
        ``Location HSCA start date``.
    use_cache : bool, default True
        Read and write the Parquet cache in ``data/processed/cache``.

    Returns
    -------
    pandas.DataFrame
        One row per location: its published columns under tidy names (``location_id``,
        ``registration_date``, ``care_home``, ``beds``, ``local_authority``, ...), plus
        ``latest_overall_rating`` (:data:`~cqc_research.ratings.RATING_DTYPE`),
        ``latest_overall_status``, ``sector`` and the three list columns.

    Raises
    ------
    DataFormatError
        If no sheet has the header, or a date cannot be read.
    """
    path = Path(path)

    def build():
        names = sheet_names(path) if sheet is None else [sheet]
        chosen, raw = None, None
        for name in names:
            try:
                raw = read_table(path, name, required_headers=["Location ID", "Location HSCA start date"])
                chosen = name
                break
            except DataFormatError:
                continue
        if raw is None:
            raise DataFormatError("no sheet has a header with 'Location ID' and 'Location HSCA start date'; "
                                  f"sheets: {names}", path=path)
        rows = raw.rows
        df = _map_columns(raw, _ACTIVE_BASE, path, chosen, ["location_id"])
        out = df.copy()
        out["care_home"] = _yes_no(df["care_home"])
        out["beds"] = pd.to_numeric(df["beds"], errors="coerce")
        out["registration_date"] = parse_dates(df["registration_date"], path=path, sheet=chosen,
                                               column="Location HSCA start date", rows=rows)
        out["publication_date"] = parse_dates(df["publication_date"], path=path, sheet=chosen,
                                              column="Publication Date", rows=rows)
        parsed = parse_ratings(df["latest_overall_rating"], unknown="keep", where=str(path))
        out["latest_overall_rating"] = parsed["rating"].to_numpy()
        out["latest_overall_status"] = parsed["rating_status"].to_numpy()
        out["sector"] = sectors_of(df["inspection_category"])
        for target, prefix in _ONE_HOT.items():
            cols = [c for c in raw.data.columns if _norm(c).startswith(_norm(prefix) + " ")]
            labels = [re.split(r"\s+-\s+", c, maxsplit=1)[-1].strip() for c in cols]
            flags = raw.data[cols].map(lambda v: v is not None and str(v).strip().casefold() in {"y", "yes", "true", "1"})
            out[target] = [[lab for lab, f in zip(labels, row, strict=True) if f] for row in flags.to_numpy()]
        return out

    frame = cached_frame(path, build, loader="active_locations", options={"sheet": sheet, "v": 1},
                         use_cache=use_cache)
    frame.attrs.update({"source": str(path), "kind": "active_locations", "synthetic": is_synthetic(path)})
    return frame
