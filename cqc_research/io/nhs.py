"""NHS performance indicators: loaders to one tidy table, and writers of the published layouts.

Every loader returns the **indicator table** of ``docs/DESIGN.md``: one row per organisation x
period x measure,

=============  ==============================================================================
column         meaning
=============  ==============================================================================
org_code       ODS code (trust, site, practice) or local-authority code, as published
org_level      ``"trust"``, ``"site"``, ``"practice"`` or ``"local_authority"``
period_start   first day of the period the value describes (``datetime64``)
period_end     last day of that period; NaT for time-invariant measures (none of ours)
measure        the measure's name, e.g. ``ae_4hr_performance_all`` (see ``docs/indicators.md``)
value          the value (float); NaN when the published cell was blank, suppressed or
               unparseable, **never 0**
numerator      the count the value is a ratio of (NaN where not meaningful)
denominator    the count it is divided by (NaN where not meaningful)
org_name       the organisation's name as published, where the file gives one (else NA)
=============  ==============================================================================

``frame.attrs`` holds ``source`` (path), ``sha256``, ``synthetic`` (a ``SYNTHETIC`` marker
lies in the file's folder or above), ``kind`` (which loader), ``parse_report`` (per numeric
column: cells that were ``missing`` (blank / NA), ``suppressed`` (``-``, ``*``, ...) or
``unparseable``, with the first offending row as a spreadsheet would number it) and
``excluded_rows`` (rows dropped on purpose, e.g. the A&E ``TOTAL`` row, by reason).
:func:`parse_report_frame` shows the report as a table. Unparseable cells warn
(:class:`IndicatorParseWarning`) or, with ``errors="raise"``, raise
:class:`~cqc_research.errors.DataFormatError` naming the file, row and column.

Columns are found by **normalised name** (case, spacing, punctuation, byte-order mark and ``&``
folded) and known aliases, never by position, so the header drift of published files
(``Practice Type`` / ``Practice type``, trailing spaces, columns that come and go) loads.

Writers (``write_*``) write exactly the published layouts from a simple frame; the synthetic
generator (:mod:`cqc_research.synthetic`) uses them, and the tests round-trip writer -> loader.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_path, sha256_file
from ..errors import DataFormatError

__all__ = [
    "INDICATOR_COLUMNS",
    "ORG_LEVELS",
    "AE_TYPES",
    "GP_MEASURES",
    "GP_LAYOUTS",
    "IndicatorParseWarning",
    "load_gp_payments",
    "load_gp_practices",
    "load_ae_monthly",
    "load_ae_tidy",
    "load_shmi",
    "load_staff_survey",
    "load_dtoc",
    "load_imd",
    "load_population",
    "load_tidy_indicator",
    "load_la_codes",
    "load_indicators",
    "detect_indicator_kind",
    "parse_report_frame",
    "financial_year",
    "write_gp_payments",
    "write_ae_monthly",
    "write_ae_tidy",
    "write_shmi",
    "write_staff_survey",
    "write_dtoc",
    "write_imd",
    "write_population",
    "write_tidy_indicator",
    "write_la_codes",
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

_DATE_DTYPE = "datetime64[us]"


class IndicatorParseWarning(UserWarning):
    """Cells of a numeric column could not be read as numbers (they were read as missing)."""


# =============================================================================================
# small helpers: names, numbers, dates, files
def _norm(name) -> str:
    """Fold a header for matching: BOM, case, ``&`` -> ``and``, punctuation and spacing.

    >>> _norm("\\ufeffA&E attendances Type 1 ")
    'a and e attendances type 1'
    """
    s = str(name).replace("\ufeff", "").replace("&", " and ").casefold()
    return re.sub(r"[^0-9a-z]+", " ", s).strip()


def _snake(name) -> str:
    return _norm(name).replace(" ", "_")


def _clean_header(name) -> str:
    """A header as shown to users: BOM removed, inner whitespace collapsed, ends stripped."""
    return " ".join(str(name).replace("\ufeff", "").split())


_MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "none", "#n/a"}
_SUPPRESSED_TOKENS = {"-", "*", "**", "***", "..", ".", ":", "c", "x", "~", "supp", "suppressed"}


def _parse_numeric(values, *, column: str, rows, report: dict, path, errors: str = "report",
                   suppressed_tokens=_SUPPRESSED_TOKENS) -> np.ndarray:
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
        m = low.isin(_MISSING_TOKENS).to_numpy()
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


def _warn_unparseable(report: dict, path) -> None:
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


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read_csv(path, *, header_markers: Sequence[str] = (), max_scan: int = 40):
    """Read a CSV as text cells, locating the header row below any preamble.

    Returns ``(frame, rows)``: ``frame`` has cleaned header names and ``str`` cells; ``rows``
    holds each data row's number as a spreadsheet shows it (header row included in the count).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError("expected a CSV file, found a folder", path=path)
    text = _decode(path)
    lines = text.splitlines()
    start = 0
    if header_markers:
        wanted = [_norm(m) for m in header_markers]
        for i, line in enumerate(lines[:max_scan]):
            try:
                cells = {_norm(c) for c in next(csv.reader([line]))}
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
    frame.columns = [_clean_header(c) for c in frame.columns]
    rows = np.arange(len(frame)) + start + 2
    blank = np.zeros(len(frame), bool)
    if len(frame.columns):
        maybe = np.flatnonzero((frame.iloc[:, 0].str.strip() == "").to_numpy())
        if len(maybe):  # only rows with an empty first cell can be entirely empty
            sub = frame.iloc[maybe]
            blank[maybe] = (sub.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    return frame, rows[~blank]


def _columns_by_norm(frame: pd.DataFrame) -> dict[str, str]:
    out = {}
    for c in frame.columns:
        out.setdefault(_norm(c), c)
    return out


def _find(frame, aliases, *, path=None, required: bool = False, what: str | None = None,
          expected_kind: str | None = None, prefix: bool = False, exclude=()):
    """The column whose normalised name equals one of ``aliases`` (or starts with one)."""
    by_norm = _columns_by_norm(frame)
    for a in aliases:
        if _norm(a) in by_norm:
            return by_norm[_norm(a)]
    if prefix:
        for a in aliases:
            na = _norm(a)
            for n, c in by_norm.items():
                if n.startswith(na) and not any(x in n for x in exclude):
                    return c
    if required:
        raise _missing_column(frame, what or aliases[0], path, expected_kind)
    return None


def _missing_column(frame, what, path, expected_kind) -> DataFormatError:
    kind = _kind_from_columns(list(frame.columns))
    hint = ""
    if kind and expected_kind and kind != expected_kind:
        hint = (f"; this looks like {_KIND_LABEL[kind]} (use {_KIND_LOADER[kind]}), "
                f"not {_KIND_LABEL[expected_kind]}")
    shown = ", ".join(repr(c) for c in list(frame.columns)[:12])
    more = " ..." if len(frame.columns) > 12 else ""
    return DataFormatError(f"required column is missing{hint}. Columns present: {shown}{more}",
                           path=path, column=what)


def _attrs(frame, paths, *, kind, report, excluded=None, extra=None):
    from ..provenance import is_synthetic

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


def _stack(keys: pd.DataFrame, specs, *, org_level) -> pd.DataFrame:
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
    return _finish_table(pd.concat(parts, ignore_index=True) if parts else _empty_table())


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_DATE_DTYPE if c.startswith("period") else
                                      ("float64" if c in ("value", "numerator", "denominator")
                                       else "str")) for c in INDICATOR_COLUMNS})


def _finish_table(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["org_code"] = frame["org_code"].astype("str").str.strip()
    frame["org_level"] = frame["org_level"].astype("str")
    frame["measure"] = frame["measure"].astype("str")
    frame["org_name"] = frame["org_name"].astype("str") if frame["org_name"].notna().any() else \
        pd.Series(pd.NA, index=frame.index, dtype="str")
    for c in ("period_start", "period_end"):
        frame[c] = pd.to_datetime(frame[c]).astype(_DATE_DTYPE)
    for c in ("value", "numerator", "denominator"):
        frame[c] = frame[c].astype("float64")
    frame = frame[INDICATOR_COLUMNS].sort_values(["org_code", "period_start", "measure"],
                                                 kind="stable")
    return frame.reset_index(drop=True)


def _ratio(num, den, scale=1.0):
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = scale * num / den
    out[~np.isfinite(out)] = np.nan
    return out


_MONTHS = {m.casefold(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], start=1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9


def _month_start(year: int, month: int) -> pd.Timestamp:
    return pd.Timestamp(year=int(year), month=int(month), day=1)


def _month_end(ts: pd.Timestamp) -> pd.Timestamp:
    return (ts + pd.offsets.MonthEnd(0)).normalize()


def _parse_month_text(text) -> pd.Timestamp | None:
    """``MSitAE-MARCH-2019``, ``April 2019``, ``Apr-19``, ``2019-04``, ``2019-04-01`` -> month."""
    t = str(text).strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T].*)?", t)
    if m:
        return _month_start(int(m.group(1)), int(m.group(2)))
    m = re.search(r"([A-Za-z]+)[\s_\-/]+(\d{4}|\d{2})\s*$", t)
    if m and m.group(1).casefold() in _MONTHS:
        year = int(m.group(2))
        year = year + 2000 if year < 100 else year
        return _month_start(year, _MONTHS[m.group(1).casefold()])
    return None


def _parse_months(values, *, column, rows, path) -> pd.Series:
    s = pd.Series(values, dtype="object")
    lookup = {u: _parse_month_text(u) for u in pd.unique(s)}
    bad = [u for u, v in lookup.items() if v is None]
    if bad:
        pos = int(np.flatnonzero(s.isin(bad).to_numpy())[0])
        raise DataFormatError(
            f"cannot read {bad[0]!r} as a month; expected e.g. 'MSitAE-MARCH-2019', "
            "'April 2019' or '2019-04'", path=path, row=int(rows[pos]), column=column)
    return pd.to_datetime(s.map(lookup)).astype(_DATE_DTYPE)


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


def _year_from_name(path) -> str | None:
    for m in re.finditer(r"(?<!\d)(20\d{2})[-_ ]?(\d{2}|20\d{2})(?!\d)", Path(path).name):
        y, nxt = int(m.group(1)), int(m.group(2))
        if nxt % 100 == (y + 1) % 100:
            return f"{y}-{(y + 1) % 100:02d}"
    return None


def _parse_dates(values, *, column, rows, report, path) -> pd.Series:
    """Day-first dates (``01/04/1999``); ``-`` and blanks are missing, others unparseable."""
    s = pd.Series(values, dtype="object").astype(str).str.strip()
    blank = s.str.casefold().isin(_MISSING_TOKENS | {"-"})
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
    return out.astype(_DATE_DTYPE)


def _text(values, *, unknown=("unknown", "missing", "-", "")) -> pd.Series:
    s = pd.Series(values, dtype="str").str.strip()
    return s.where(~s.str.casefold().isin(set(unknown)), pd.NA)


def _check_errors(errors):
    if errors not in {"report", "raise"}:
        raise ValueError(f"errors must be 'report' or 'raise', not {errors!r}")


# =============================================================================================
# NHS Payments to General Practice
_GP_CANONICAL = {
    "nhs england region code": "region_code",
    "nhs england region name": "region_name",
    "region code": "region_code",
    "region name": "region_name",
    "commissioner region code": "region_code",
    "commissioner region name": "region_name",
    "ccg code": "ccg_code",
    "ccg name": "ccg_name",
    "sub icb location code": "ccg_code",
    "sub icb location name": "ccg_name",
    "sub icb code": "ccg_code",
    "sub icb name": "ccg_name",
    "commissioner code": "ccg_code",
    "commissioner name": "ccg_name",
    "icb code": "icb_code",
    "icb name": "icb_name",
    "pcn code": "pcn_code",
    "pcn name": "pcn_name",
    "practice code": "practice_code",
    "practice name": "practice_name",
    "practice address": "address",
    "practice postcode": "postcode",
    "practice open date": "open_date",
    "practice close date": "close_date",
    "contract type": "contract_type",
    "dispensing practice": "dispensing",
    "practice type": "practice_type",
    "practice rurality": "rurality",
    "rurality": "rurality",
    "atypical characteristics": "atypical",
    "quarter used for patient data": "patient_quarter",
    "number of registered patients last known figure": "list_size",
    "number of registered patients": "list_size",
    "registered patients": "list_size",
    "list size": "list_size",
    "number of weighted patients last known figure": "weighted_list_size",
    "number of weighted patients": "weighted_list_size",
    "weighted patients": "weighted_list_size",
    "weighted list size": "weighted_list_size",
    "average payments per registered patient": "payments_per_patient",
    "average payments per weighted patient": "payments_per_weighted_patient",
    "total qof payments": "total_qof_payments",
    "total nhs payments to general practice": "total_payments",
    "deductions for pensions levies and prescription charge income": "deductions",
    "total nhs payments to general practice minus deductions": "total_payments_minus_deductions",
}
_GP_TEXT = {"region_code", "region_name", "ccg_code", "ccg_name", "icb_code", "icb_name",
            "pcn_code", "pcn_name", "practice_code", "practice_name", "address", "postcode",
            "contract_type", "dispensing", "practice_type", "rurality", "atypical",
            "patient_quarter"}
_GP_DATES = {"open_date", "close_date"}
_GP_NUMERIC_KNOWN = {"list_size", "weighted_list_size", "payments_per_patient",
                     "payments_per_weighted_patient", "total_qof_payments", "total_payments",
                     "deductions", "total_payments_minus_deductions"}
_GP_REQUIRED = {"practice_code": "Practice Code",
                "list_size": "Number of Registered Patients (Last Known Figure)",
                "total_payments": "Total NHS Payments to General Practice"}


def _gp_key(header) -> str:
    """The wide-table column for a payments-file header (canonical name or snake case)."""
    n = _norm(header)
    return _GP_CANONICAL.get(n, n.replace(" ", "_"))


def _parse_gp(path, year, errors):
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path, header_markers=("Practice Code",))
    keys = [_gp_key(c) for c in frame.columns]
    # required columns, by canonical key (prefix fallback for renamed variants)
    for key, label in _GP_REQUIRED.items():
        if key not in keys:
            col = None
            if key == "list_size":
                col = _find(frame, ["number of registered patients"], prefix=True)
            elif key == "total_payments":
                col = _find(frame, ["total nhs payments to general practice"], prefix=True,
                            exclude=("covid", "minus", "including", "deduction"))
            if col is None:
                raise _missing_column(frame, label, path, "gp_payments")
            keys[list(frame.columns).index(col)] = key
    if year is None:
        year = _year_from_name(path)
        if year is None:
            raise DataFormatError(
                "cannot tell the financial year from the file name (expected e.g. "
                "'nhs-payments-gp-2018-19.csv'); pass year='2018-19'", path=path)
    start, end, label = financial_year(year)
    report: dict = {}
    out = {}
    for col, key in zip(frame.columns, keys, strict=True):
        if key in out:  # a duplicated column: keep the first, name the rest by their header
            key = _snake(col) + "_2"
        cells = frame[col]
        if key in _GP_DATES:
            out[key] = _parse_dates(cells, column=col, rows=rows, report=report, path=path)
        elif key in _GP_TEXT:
            out[key] = cells.str.strip()
        elif key in _GP_NUMERIC_KNOWN or _mostly_numeric(cells):
            out[key] = _parse_numeric(cells, column=col, rows=rows, report=report, path=path,
                                      errors=errors)
        else:
            out[key] = cells.str.strip()
    wide = pd.DataFrame(out)
    wide["practice_code"] = wide["practice_code"].str.strip().str.upper()
    empty_code = (wide["practice_code"] == "").to_numpy()
    if empty_code.any():
        raise DataFormatError("practice code is blank; every row needs one", path=path,
                              row=int(rows[np.flatnonzero(empty_code)[0]]),
                              column=frame.columns[keys.index("practice_code")])
    for key in ("contract_type", "practice_type", "rurality", "region_code", "ccg_code",
                "pcn_code", "icb_code"):
        if key in wide:
            wide[key] = _text(wide[key])
    if "dispensing" in wide:
        d = wide["dispensing"].str.strip().str.casefold()
        wide["dispensing"] = pd.array(d.map({"yes": True, "y": True, "no": False, "n": False}),
                                      dtype="boolean")
    if "atypical" in wide:  # kept verbatim, e.g. "| Part year of data || No registered patients |"
        wide["atypical"] = _text(wide["atypical"], unknown=("",))
    zero_list = (wide["list_size"] == 0).to_numpy()
    for key in ("payments_per_patient", "payments_per_weighted_patient"):
        if key in wide:  # the files print 0.00 for practices with no patients: undefined, not 0
            den = wide["list_size"] if key == "payments_per_patient" else \
                wide.get("weighted_list_size", wide["list_size"])
            wide.loc[(den == 0).to_numpy(), key] = np.nan
    wide.insert(0, "financial_year", label)
    wide.insert(1, "period_start", pd.Timestamp(start))
    wide.insert(2, "period_end", pd.Timestamp(end))
    wide["period_start"] = wide["period_start"].astype(_DATE_DTYPE)
    wide["period_end"] = wide["period_end"].astype(_DATE_DTYPE)
    wide["closed"] = wide["close_date"].notna() if "close_date" in wide else False
    missing = [m for m, k in (("weighted_list_size", "weighted_list_size"),
                              ("total_qof_payments", "total_qof_payments")) if k not in wide]
    info = {"financial_year": label, "zero_list_size": int(zero_list.sum()),
            "absent_columns": missing, "rows": rows}
    return wide, report, info


def _mostly_numeric(cells: pd.Series) -> bool:
    s = cells.str.strip()
    if pd.to_numeric(s, errors="coerce").notna().mean() >= 0.5:
        return True
    s = s[~s.str.casefold().isin(_MISSING_TOKENS | _SUPPRESSED_TOKENS)]
    if s.empty:
        return True
    num = pd.to_numeric(s.str.replace(r"[£,\s%]", "", regex=True), errors="coerce")
    return bool(num.notna().mean() >= 0.5)


def load_gp_practices(path, *, year=None, errors: str = "report") -> pd.DataFrame:
    """One row per practice from an NHS Payments to General Practice CSV (the wide companion table).

    Practice attributes live here, not in the indicator table: region, CCG (or sub-ICB
    location), ICB and PCN codes and names where the year has them, address, postcode, open and
    close dates, ``contract_type`` (GMS/PMS/APMS), ``dispensing`` (boolean), ``practice_type``,
    ``rurality``, ``atypical``, and every payment column in snake case. ``UNKNOWN`` /
    ``MISSING`` attribute values become NA.

    Parameters
    ----------
    path : str or Path
        The annual CSV, any year's layout.
    year : str or int, optional
        The financial year (``"2018-19"``); by default read from the file name.
    errors : {"report", "raise"}
        Non-numeric cells in numeric columns are counted in ``attrs["parse_report"]`` and read
        as NaN with a warning (``"report"``), or raise :class:`DataFormatError` (``"raise"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``financial_year, period_start, period_end``, the canonical columns
        (``practice_code, practice_name, ccg_code, ..., list_size, weighted_list_size,
        payments_per_patient, payments_per_weighted_patient, total_qof_payments,
        total_payments``), every other column of the file in snake case, and ``closed``
        (a close date is given). Per-patient averages are NaN where the list size is 0
        (the file prints 0.00 there).
    """
    wide, report, info = _parse_gp(path, year, errors)
    if errors == "report":
        _warn_unparseable(report, path)
    info.pop("rows")
    return _attrs(wide, path, kind="gp_practices", report=report, extra=info)


def load_gp_payments(path, *, year=None, errors: str = "report") -> pd.DataFrame:
    """Load an NHS Digital "NHS Payments to General Practice" annual CSV to the indicator table.

    Any year's layout loads: the byte-order mark, trailing spaces and case changes in headers,
    and columns that come and go (PCN, COVID payments, practice type, rurality) are handled by
    matching normalised names. Practice attributes are in :func:`load_gp_practices`.

    Parameters
    ----------
    path : str or Path
        ``nhs-payments-gp-YYYY-YY.csv`` (one row per practice).
    year : str or int, optional
        The financial year; by default read from the file name.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="practice"``, one period (1 April to 31 March), with
        measures

        - ``list_size``: Number of Registered Patients (Last Known Figure)
        - ``weighted_list_size``: Number of Weighted Patients (Last Known Figure)
        - ``payments_per_patient``: Average payments per registered patient as published
          (numerator total payments, denominator list size; computed when the column is absent)
        - ``payments_per_weighted_patient``: the same per weighted patient
        - ``qof_payments_per_patient``: Total QOF Payments / list size
        - ``total_payments``: Total NHS Payments to General Practice (excluding COVID payments)

        Ratios are NaN where the list size is 0. A measure whose column the year lacks is
        absent, and named in ``attrs["absent_columns"]``. ``attrs["closed_practices"]`` maps
        the codes of practices with a close date to that date (ISO text), for linkage reports.

    Raises
    ------
    DataFormatError
        When Practice Code, the registered patients or the total payments column is missing
        (naming the column and the file, and the kind of file it looks like instead), or when
        the financial year cannot be told.

    Examples
    --------
    >>> gp = load_gp_payments("nhs-payments-gp-2018-19.csv")  # doctest: +SKIP
    >>> gp.query("measure == 'qof_payments_per_patient'").value.describe()  # doctest: +SKIP
    """
    wide, report, info = _parse_gp(path, year, errors)
    if errors == "report":
        _warn_unparseable(report, path)
    info.pop("rows")
    keys = wide.rename(columns={"practice_code": "org_code", "practice_name": "org_name"})
    if "org_name" not in keys:
        keys["org_name"] = pd.NA
    lst = wide["list_size"].to_numpy()
    total = wide["total_payments"].to_numpy()
    specs = [("list_size", lst, None, None), ("total_payments", total, None, None)]
    if "payments_per_patient" in wide:
        ppp = wide["payments_per_patient"].to_numpy()
    else:
        ppp = _ratio(total, lst)
    specs.append(("payments_per_patient", ppp, total, lst))
    if "weighted_list_size" in wide:
        wl = wide["weighted_list_size"].to_numpy()
        specs.append(("weighted_list_size", wl, None, None))
        ppw = wide["payments_per_weighted_patient"].to_numpy() \
            if "payments_per_weighted_patient" in wide else _ratio(total, wl)
        specs.append(("payments_per_weighted_patient", ppw, total, wl))
    if "total_qof_payments" in wide:
        qof = wide["total_qof_payments"].to_numpy()
        specs.append(("qof_payments_per_patient", _ratio(qof, lst), qof, lst))
    out = _stack(keys, specs, org_level="practice")
    if "close_date" in wide:  # for the linkage report: practices that closed
        closed = wide.dropna(subset=["close_date"])
        info["closed_practices"] = dict(zip(closed["practice_code"],
                                            closed["close_date"].dt.strftime("%Y-%m-%d"),
                                            strict=True))
    return _attrs(out, path, kind="gp_payments", report=report, extra=info)


# ---------------------------------------------------------------------------------------------
# the published header layouts, for the writer
_GP_2014_15 = [
    "NHS England (Region) code", "NHS England (Region) Name", "CCG Code", "CCG NAME",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Quarter used for patient data", "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Premises Payments", "Seniority", "Doctors Retainer Scheme Payments",
    "Total Locum Allowances", "Prolonged Study Leave", "Appraisal Costs ", "PCO Admin Other",
    "Total QOF Payments", "Alcohol", "Childhood Vaccination and Immunisation Scheme",
    "GP Extended Hours Access",
    "Facilitating Timely Diagnosis and Support for People with Dementia ",
    "Improving Patient Online Access ", "Influenza and Pneumococcal Immunisations ",
    "Learning Disabilities", "Minor Surgery", "Patient Participation ", "Remote Care Monitoring",
    "Risk Profiling and Case Management", "Rotavirus and Shingles Immunisation",
    "Services for Violent Patients", "Unplanned Admissions", "Total National Enhanced Services",
    "Total Local Enhanced Services", "Information Management and Technology",
    "Balance of PMS Expenditure",
    "Non DES Item Pneumococcal Vaccine, Childhood Immunisation Main Programme",
    "Prescribing Fee Payments", "Dispensing Fee Payments", "Reimbursement of Drugs",
    "Other Payments", "Total NHS Payments to General Practice",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]
_GP_2018_19 = [
    "NHS England (Region) code", "NHS England (Region) Name", "CCG Code", "CCG NAME",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Practice Type", "Practice Rurality", "Atypical Characteristics",
    "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Balance of PMS Expenditure", "Total QOF Payments",
    "Childhood Vaccination and Immunisation Scheme", "GP Extended Hours Access",
    "Influenza and Pneumococcal Immunisations", "Learning Disabilities", "Meningitis",
    "Minor Surgery", "Out Of Area in Hours Urgent Care", "Pertussis",
    "Rotavirus and Shingles Immunisation", "Services for Violent Patients",
    "Total Local Incentive Schemes", "Premises Payments", "Seniority",
    "Doctors Retainer Scheme Payments", "Total Locum Allowances", "Appraisal Costs ",
    "Prolonged Study Leave", "PCO Admin Other", "Information Management and Technology",
    "Non DES Item Pneumococcal Vaccine, Childhood Immunisation Main Programme",
    "General Practice Forward View", "Prescribing Fee Payments", "Dispensing Fee Payments",
    "Reimbursement of Drugs", "Other Payments", "Total NHS Payments to General Practice",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]
# A post-2020 layout: PCN and ICB columns, lower-case "Practice type", COVID payments beside
# the total. It is modelled on the later files' structure; exact later headers could not be
# checked offline, and the loader does not depend on them.
_GP_2022_23 = [
    "NHS England (Region) code", "NHS England (Region) Name", "ICB Code", "ICB NAME",
    "Sub ICB Location Code", "Sub ICB Location Name", "PCN Code", "PCN Name ",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Practice type", "Practice Rurality", "Atypical Characteristics ",
    "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Balance of PMS Expenditure", "Total QOF Payments",
    "Childhood Vaccination and Immunisation Scheme", "Influenza and Pneumococcal Immunisations",
    "Learning Disabilities", "Minor Surgery", "Services for Violent Patients",
    "Network Participation Payments", "Total Local Incentive Schemes", "Premises Payments",
    "Seniority", "Doctors Retainer Scheme Payments", "Total Locum Allowances",
    "Appraisal Costs ", "Prolonged Study Leave", "PCO Admin Other",
    "Information Management and Technology", "Prescribing Fee Payments",
    "Dispensing Fee Payments", "Reimbursement of Drugs", "Other Payments",
    "Total NHS Payments to General Practice", "COVID Immunisation",
    "COVID Support and Expansion",
    "Total NHS Payments to General Practice including COVID payments",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]
#: Header layouts :func:`write_gp_payments` can write: ``(headers, byte-order mark, blank date)``.
GP_LAYOUTS = {
    "2014-15": (_GP_2014_15, True, "-"),
    "2018-19": (_GP_2018_19, False, " "),
    "2022-23": (_GP_2022_23, True, ""),
}


def _fmt_number(x, money: str = "plain") -> str:
    """A number as the published files print it: ``4095.25``, ``0``, ``-63154.38``; NaN blank."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    if x != x:  # NaN
        return ""
    if money == "pound":
        text = f"{abs(x):,.2f}"
        return f"-£{text}" if x < 0 else f"£{text}"
    return f"{x:.15g}"


_GP_TEXT_DEFAULT = {"contract_type": "UNKNOWN", "rurality": "MISSING", "dispensing": "UNKNOWN",
                    "practice_type": "GP practice", "patient_quarter": "Q4"}


def _gp_text_cell(key, v, default: str) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)) or str(v) == "":
        return default
    if key == "dispensing" and isinstance(v, bool | np.bool_):
        return "Yes" if v else "No"
    return str(v)


def _fmt_date(x, blank: str) -> str:
    if x is None or pd.isna(x) or (isinstance(x, str) and not x.strip()):
        return blank
    return pd.Timestamp(x).strftime("%d/%m/%Y")


def write_gp_payments(frame: pd.DataFrame, path, layout: str = "2022-23", *,
                      money: str = "plain") -> Path:
    """Write one year of NHS Payments to General Practice in a published header layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per practice, with the columns of :func:`load_gp_practices`. Required:
        ``practice_code``, ``list_size``, ``total_payments``. Optional: ``practice_name``,
        ``region_code``, ``region_name``, ``ccg_code``, ``ccg_name``, ``icb_code``,
        ``icb_name``, ``pcn_code``, ``pcn_name``, ``address``, ``postcode``, ``open_date``,
        ``close_date`` (dates or NaT), ``contract_type``, ``dispensing`` (bool or text),
        ``practice_type``, ``rurality``, ``atypical``, ``weighted_list_size``,
        ``total_qof_payments``, ``payments_per_patient`` and ``payments_per_weighted_patient``
        (computed from the total when absent; 0 when the list is 0, as published), and any
        payment component by its snake-case header (``global_sum``, ``covid_immunisation``,
        ...). Components not given are written as 0 and ``other_payments`` takes the remainder,
        so the components add up to the total as in the published files. ``deductions``
        (negative) defaults to 0.
    path : str or Path
        The file to write, e.g. ``gp_payments/nhs-payments-gp-2022-23.csv`` (the loader reads
        the financial year from the name).
    layout : {"2014-15", "2018-19", "2022-23"}
        The header layout. ``"2014-15"`` and ``"2018-19"`` are the published headers verbatim
        (with a byte-order mark in 2014-15, ``Practice Type`` and rurality only from 2018-19,
        trailing spaces as published); ``"2022-23"`` adds ICB, sub-ICB and PCN columns, writes
        ``Practice type`` in lower case, and has COVID payment columns beside the total.
    money : {"plain", "pound"}
        ``"pound"`` writes payments as ``£1,234.56`` (quoted), as some spreadsheets export them.

    Returns
    -------
    Path
        The file written (atomically).
    """
    if layout not in GP_LAYOUTS:
        raise ValueError(f"layout must be one of {list(GP_LAYOUTS)}, not {layout!r}")
    if money not in {"plain", "pound"}:
        raise ValueError(f"money must be 'plain' or 'pound', not {money!r}")
    missing = [c for c in ("practice_code", "list_size", "total_payments") if c not in frame]
    if missing:
        raise ValueError(f"write_gp_payments: frame lacks required column(s) {missing}")
    headers, bom, date_blank = GP_LAYOUTS[layout]
    keys = [_gp_key(h) for h in headers]
    data = frame.reset_index(drop=True)
    n = len(data)
    lst = data["list_size"].to_numpy(dtype="float64")
    total = data["total_payments"].to_numpy(dtype="float64")
    cols: dict[str, list[str]] = {}
    i_first = keys.index("payments_per_weighted_patient") + 1
    i_total = keys.index("total_payments")
    components = keys[i_first:i_total]
    given = np.zeros(n)
    for k in components:
        if k != "other_payments" and k in data:
            given += np.nan_to_num(data[k].to_numpy(dtype="float64"))
    for h, k in zip(headers, keys, strict=True):
        if k in _GP_DATES:
            values = data[k] if k in data else [None] * n
            cols[h] = [_fmt_date(v, date_blank) for v in values]
        elif k in _GP_TEXT:
            default = _GP_TEXT_DEFAULT.get(k, "")
            values = data[k] if k in data else pd.Series([pd.NA] * n, dtype="object")
            cols[h] = [_gp_text_cell(k, v, default) for v in values]
        else:
            if k == "payments_per_patient" or k == "payments_per_weighted_patient":
                den = lst if k == "payments_per_patient" else \
                    (data["weighted_list_size"].to_numpy(dtype="float64")
                     if "weighted_list_size" in data else lst)
                computed = np.round(np.where(den > 0, total / np.where(den > 0, den, 1), 0.0), 2)
                if k in data:
                    v = data[k].to_numpy(dtype="float64")
                    values = np.where(np.isnan(v), computed, v)
                    values = np.where(den == 0, 0.0, values)
                else:
                    values = computed
                cols[h] = [_fmt_number(v) for v in values]
                continue
            if k == "other_payments" and k not in data:
                values = np.round(total - given, 2)
            elif k == "deductions":
                values = data[k].to_numpy(dtype="float64") if k in data else np.zeros(n)
            elif k in data:
                values = data[k].to_numpy(dtype="float64")
            elif k == "total_payments_minus_deductions":
                ded = data["deductions"].to_numpy(dtype="float64") if "deductions" in data \
                    else np.zeros(n)
                values = np.round(total + ded, 2)
            elif k.startswith("total_nhs_payments_to_general_practice_including"):
                covid = sum(np.nan_to_num(data[c].to_numpy(dtype="float64"))
                            for c in data.columns if "covid" in c and c != k) if n else 0
                values = np.round(total + covid, 2)
            else:
                values = np.zeros(n)
            style = "plain" if k in ("list_size", "weighted_list_size") else money
            cols[h] = [_fmt_number(v, style) for v in values]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(headers)
            w.writerows(zip(*(cols[h] for h in headers), strict=True))
    return Path(path)


# =============================================================================================
# A&E attendances and emergency admissions
AE_MONTHLY_HEADER = [
    "Period", "Org Code", "Parent Org", "Org name",
    "A&E attendances Type 1", "A&E attendances Type 2", "A&E attendances Other A&E Department",
    "A&E attendances Booked Appointments Type 1", "A&E attendances Booked Appointments Type 2",
    "A&E attendances Booked Appointments Other Department",
    "Attendances over 4hrs Type 1", "Attendances over 4hrs Type 2",
    "Attendances over 4hrs Other Department",
    "Attendances over 4hrs Booked Appointments Type 1",
    "Attendances over 4hrs Booked Appointments Type 2",
    "Attendances over 4hrs Booked Appointments Other Department",
    "Patients who have waited 4-12 hs from DTA to admission",
    "Patients who have waited 12+ hrs from DTA to admission",
    "Emergency admissions via A&E - Type 1", "Emergency admissions via A&E - Type 2",
    "Emergency admissions via A&E - Other A&E department", "Other emergency admissions",
]
_AE_TYPE_WORD = r"(type 1|type 2|other(?: a and e)? department|other)"


def _ae_role(norm: str):
    """Map a normalised official A&E header to ``(quantity, type)``."""
    t = {"type 1": "type1", "type 2": "type2"}
    m = re.fullmatch(r"a and e attendances (booked appointments )?" + _AE_TYPE_WORD, norm)
    if m:
        return ("booked" if m.group(1) else "att", t.get(m.group(2), "other"))
    m = re.fullmatch(r"(?:attendances )?over 4 ?hrs (booked appointments )?" + _AE_TYPE_WORD,
                     norm.replace("attendances over", "over"))
    if m:
        return ("booked_breaches" if m.group(1) else "breaches", t.get(m.group(2), "other"))
    m = re.fullmatch(r"emergency admissions via a and e (?:type )?" + _AE_TYPE_WORD, norm)
    if m:
        return ("adm", t.get(m.group(1), "other"))
    if norm == "other emergency admissions":
        return ("adm_other_routes", None)
    if re.fullmatch(r"patients who have waited 4 12 h\w* from dta to admission", norm):
        return ("dta_4_12", None)
    if re.fullmatch(r"patients who have waited 12 h\w* from dta to admission", norm):
        return ("dta_12", None)
    return None


def _ae_measures(keys, att, br, adm, *, drop_empty_types: bool, other_routes=None,
                 dta=None) -> pd.DataFrame:
    """Measures from per-type arrays (dicts type -> array, NaN where absent)."""
    n = len(keys)
    specs = []
    present_any = np.zeros(n, bool)
    for t in ("type1", "type2", "other"):
        a, b, d = att[t], br[t], adm[t]
        if drop_empty_types:
            keep = ~((np.nan_to_num(a) == 0) & (np.nan_to_num(b) == 0) & (np.nan_to_num(d) == 0))
            keep &= ~(np.isnan(a) & np.isnan(b) & np.isnan(d))
        else:
            keep = ~(np.isnan(a) & np.isnan(b) & np.isnan(d))
        present_any |= keep
        specs += [(f"ae_attendances_{t}", a, None, None, keep),
                  (f"ae_breaches_{t}", b, None, None, keep),
                  (f"ae_4hr_performance_{t}", _ratio(a - b, a, 100.0), a - b, a, keep),
                  (f"emergency_admissions_{t}", d, None, None, keep)]
    # "all" sums the present types; a NaN in any present type makes the sum NaN (never 0)
    a_all = np.zeros(n)
    b_all = np.zeros(n)
    d_all = np.zeros(n)
    for t in ("type1", "type2", "other"):
        a, b, d = att[t], br[t], adm[t]
        absent = np.isnan(a) & np.isnan(b) & np.isnan(d)
        a_all = a_all + np.where(absent, 0.0, a)
        b_all = b_all + np.where(absent, 0.0, b)
        d_all = d_all + np.where(absent, 0.0, d)
    specs += [("ae_attendances_all", a_all, None, None, present_any),
              ("ae_breaches_all", b_all, None, None, present_any),
              ("ae_4hr_performance_all", _ratio(a_all - b_all, a_all, 100.0), a_all - b_all,
               a_all, present_any),
              ("emergency_admissions", d_all, None, None, present_any)]
    if other_routes is not None:
        specs.append(("emergency_admissions_other_routes", other_routes, None, None, None))
    if dta is not None:
        specs += [("ae_dta_waits_4_12h", dta[0], None, None, None),
                  ("ae_dta_waits_12h_plus", dta[1], None, None, None)]
    return _stack(keys, specs, org_level="trust")


def _ae_files(paths_or_folder) -> list[Path]:
    if isinstance(paths_or_folder, str | os.PathLike):
        p = Path(paths_or_folder)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv"
                           and not f.name.startswith("."))
            if not files:
                raise DataFormatError("no .csv files in this folder; expected the official "
                                      "monthly A&E CSVs", path=p)
            return files
        return [p]
    return [Path(p) for p in paths_or_folder]


def load_ae_monthly(paths_or_folder, *, drop_empty_types: bool = True,
                    errors: str = "report") -> pd.DataFrame:
    """Load NHS England's official monthly A&E attendances and emergency admissions CSVs.

    Each file has 22 columns (``Period, Org Code, Parent Org, Org name, A&E attendances Type 1,
    ...``), ``Period`` like ``MSitAE-MARCH-2019``, and a ``TOTAL`` row, which is dropped
    (in whichever of Period, Org Code, Parent Org or Org name it is written) and counted in
    ``attrs["excluded_rows"]``. Booked-appointment columns are optional (older files lack them).

    Parameters
    ----------
    paths_or_folder : path, folder, or list of paths
        One CSV, a list of them, or a folder whose ``*.csv`` files are all monthly A&E files.
    drop_empty_types : bool
        Drop a trust-month's measures for a department type with no attendances, breaches or
        admissions (the official files print zeros for types a trust does not run, which the
        NHS-R tidy form omits). Measures of ``all`` are kept if any type is present.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="trust"``, monthly periods, with measures for each
        ``type`` in ``type1, type2, other, all``:

        - ``ae_attendances_<type>``: attendances, booked appointments included (the NHS England
          definition of total attendances)
        - ``ae_breaches_<type>``: attendances over 4 hours, booked included
        - ``ae_4hr_performance_<type>``: percentage seen within 4 hours, 0-100, numerator
          attendances - breaches, denominator attendances (NaN when there are none)
        - ``emergency_admissions_<type>`` and ``emergency_admissions`` (all types): emergency
          admissions via A&E
        - ``emergency_admissions_other_routes``, ``ae_dta_waits_4_12h``,
          ``ae_dta_waits_12h_plus``: the remaining columns, per trust-month
    """
    _check_errors(errors)
    files = _ae_files(paths_or_folder)
    report: dict = {}
    excluded = {"TOTAL": 0}
    parts = []
    for path in files:
        frame, rows = _read_csv(path, header_markers=("Period", "Org Code"))
        c_period = _find(frame, ["period"], path=path, required=True, expected_kind="ae_monthly",
                         what="Period")
        c_code = _find(frame, ["org code"], path=path, required=True, expected_kind="ae_monthly",
                       what="Org Code")
        c_name = _find(frame, ["org name"])
        c_parent = _find(frame, ["parent org"])
        roles = {}
        for c in frame.columns:
            r = _ae_role(_norm(c))
            if r is not None and r not in roles:
                roles[r] = c
        for q, label in (("att", "A&E attendances"), ("breaches", "Attendances over 4hrs")):
            for t, suffix in (("type1", "Type 1"), ("type2", "Type 2"),
                              ("other", "Other A&E Department" if q == "att" else
                               "Other Department")):
                if (q, t) not in roles:
                    raise _missing_column(frame, f"{label} {suffix}", path, "ae_monthly")
        label_cols = [c for c in (c_period, c_code, c_parent, c_name) if c is not None]
        is_total = np.zeros(len(frame), bool)
        for c in label_cols:
            is_total |= (frame[c].str.strip().str.upper() == "TOTAL").to_numpy()
        is_total |= (frame[c_code].str.strip() == "").to_numpy() & \
            ~frame[c_period].str.contains(r"\d", regex=True).to_numpy()
        excluded["TOTAL"] += int(is_total.sum())
        frame, rows = frame.loc[~is_total].reset_index(drop=True), rows[~is_total]
        month = _parse_months(frame[c_period].str.strip(), column=c_period, rows=rows, path=path)
        vals = {r: _parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                                  errors=errors) for r, c in roles.items()}
        n = len(frame)
        zeros = np.zeros(n)
        part = pd.DataFrame({
            "org_code": frame[c_code].str.strip().str.upper(),
            "org_name": frame[c_name].str.strip() if c_name else pd.NA,
            "period_start": month,
        })
        for t in ("type1", "type2", "other"):
            part[f"att_{t}"] = vals[("att", t)] + vals.get(("booked", t), zeros)
            part[f"br_{t}"] = vals[("breaches", t)] + vals.get(("booked_breaches", t), zeros)
            part[f"adm_{t}"] = vals.get(("adm", t), np.full(n, np.nan))
        part["other_routes"] = vals.get(("adm_other_routes", None), np.full(n, np.nan))
        part["dta_4_12"] = vals.get(("dta_4_12", None), np.full(n, np.nan))
        part["dta_12"] = vals.get(("dta_12", None), np.full(n, np.nan))
        parts.append(part)
    data = pd.concat(parts, ignore_index=True)
    dup = data.duplicated(["org_code", "period_start"], keep=False)
    if dup.any():
        first = data.loc[dup].iloc[0]
        raise DataFormatError(
            f"organisation {first.org_code} appears more than once for "
            f"{first.period_start:%B %Y}; pass each month's file once", path=files[0])
    data["period_end"] = data["period_start"] + pd.offsets.MonthEnd(0)
    if errors == "report":
        _warn_unparseable(report, files[0] if len(files) == 1 else Path(str(files[0])).parent)
    out = _ae_measures(
        data,
        {t: data[f"att_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        {t: data[f"br_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        {t: data[f"adm_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        drop_empty_types=drop_empty_types, other_routes=data["other_routes"].to_numpy(),
        dta=(data["dta_4_12"].to_numpy(), data["dta_12"].to_numpy()))
    return _attrs(out, files, kind="ae_monthly", report=report, excluded=excluded)


_AE_TIDY_TYPES = {"1": "type1", "type 1": "type1", "type1": "type1", "2": "type2",
                  "type 2": "type2", "type2": "type2", "other": "other", "3": "other",
                  "other a and e department": "other", "other department": "other"}


def load_ae_tidy(path, *, errors: str = "report") -> pd.DataFrame:
    """Load A&E attendances in the NHS-R community's tidy form.

    Columns ``period, org_code, type, attendances, breaches, admissions``: one row per trust,
    month (``period`` is the first day, ``2016-04-01``) and department type (``1``, ``2``,
    ``other``). Rows exist only for the types a trust runs.

    Parameters
    ----------
    path : str or Path
        The CSV (e.g. ``ae_attendances_tidy_2016_2019.csv``).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table with the same measures as :func:`load_ae_monthly` (without the
        columns only the official file has): ``ae_attendances_<type>``, ``ae_breaches_<type>``,
        ``ae_4hr_performance_<type>``, ``emergency_admissions_<type>`` for ``type1, type2,
        other``, and for ``all`` (the sum over the types present) plus ``emergency_admissions``.
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path, header_markers=("org_code", "type"))
    cols = {}
    for key, aliases in {"period": ["period", "month"], "org_code": ["org_code", "org code"],
                         "type": ["type", "department type"],
                         "attendances": ["attendances"], "breaches": ["breaches"],
                         "admissions": ["admissions"]}.items():
        cols[key] = _find(frame, aliases, path=path, required=key != "admissions",
                          expected_kind="ae_tidy", what=key)
    types = frame[cols["type"]].map(lambda v: _AE_TIDY_TYPES.get(_norm(v)))
    if types.isna().any():
        pos = int(np.flatnonzero(types.isna().to_numpy())[0])
        raise DataFormatError(
            f"unknown department type {frame[cols['type']].iloc[pos]!r}; expected 1, 2 or other",
            path=path, row=int(rows[pos]), column=cols["type"])
    report: dict = {}
    month = _parse_months(frame[cols["period"]].str.strip(), column=cols["period"], rows=rows,
                          path=path)
    num = {k: _parse_numeric(frame[cols[k]], column=cols[k], rows=rows, report=report,
                             path=path, errors=errors) if cols[k] else np.full(len(frame), np.nan)
           for k in ("attendances", "breaches", "admissions")}
    long = pd.DataFrame({"org_code": frame[cols["org_code"]].str.strip().str.upper(),
                         "period_start": month, "type": types.astype(str), **num})
    dup = long.duplicated(["org_code", "period_start", "type"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError("a trust, month and type appear twice", path=path,
                              row=int(rows[pos]), column=cols["type"])
    wide = long.pivot(index=["org_code", "period_start"], columns="type",
                      values=["attendances", "breaches", "admissions"]).reset_index()
    wide.columns = ["_".join(c).strip("_") for c in wide.columns]
    wide["period_end"] = wide["period_start"] + pd.offsets.MonthEnd(0)
    wide["org_name"] = pd.NA

    def col(q, t):
        name = f"{q}_{t}"
        return wide[name].to_numpy(dtype="float64") if name in wide else np.full(len(wide), np.nan)

    if errors == "report":
        _warn_unparseable(report, path)
    out = _ae_measures(wide, {t: col("attendances", t) for t in ("type1", "type2", "other")},
                       {t: col("breaches", t) for t in ("type1", "type2", "other")},
                       {t: col("admissions", t) for t in ("type1", "type2", "other")},
                       drop_empty_types=False)
    return _attrs(out, path, kind="ae_tidy", report=report)


def _ae_tidy_input(frame: pd.DataFrame) -> pd.DataFrame:
    need = ["period", "org_code", "type", "attendances", "breaches"]
    missing = [c for c in need if c not in frame]
    if missing:
        raise ValueError(f"expected the NHS-R tidy A&E columns {need} (+ admissions); "
                         f"missing {missing}")
    data = frame.copy()
    data["type"] = data["type"].map(lambda v: _AE_TIDY_TYPES.get(_norm(v)))
    if data["type"].isna().any():
        raise ValueError("type must be 1, 2 or other")
    data["period"] = pd.to_datetime(data["period"]).dt.to_period("M").dt.start_time
    if "admissions" not in data:
        data["admissions"] = 0
    return data


def write_ae_monthly(frame: pd.DataFrame, folder) -> list[Path]:
    """Write official monthly A&E CSVs (22 columns, ``MSitAE-<MONTH>-<YEAR>``, a ``TOTAL`` row).

    Parameters
    ----------
    frame : pandas.DataFrame
        The NHS-R tidy form: ``period`` (any date in the month), ``org_code``, ``type`` (``1``,
        ``2`` or ``other``), ``attendances``, ``breaches`` (attendances over 4 hours),
        ``admissions`` (emergency admissions via A&E; 0 when absent). Optional: ``org_name``,
        ``parent_org``, ``booked_attendances`` and ``booked_breaches`` (the part of
        ``attendances`` / ``breaches`` that were booked appointments; 0 when absent), and per
        trust-month ``other_emergency_admissions``, ``dta_4_12`` and ``dta_12plus`` (taken from
        the trust-month's first row; 0 when absent). Types a trust-month lacks are written as
        zeros, as in the published files.
    folder : str or Path
        Files are written as ``<folder>/monthly-ae-<month>-<year>.csv`` (e.g.
        ``monthly-ae-march-2019.csv``), one per month, the ``TOTAL`` row last.

    Returns
    -------
    list of Path
        The files written, in month order.
    """
    data = _ae_tidy_input(frame)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for c in ("booked_attendances", "booked_breaches", "other_emergency_admissions", "dta_4_12",
              "dta_12plus"):
        if c not in data:
            data[c] = 0
    for c in ("org_name", "parent_org"):
        if c not in data:
            data[c] = data["org_code"] if c == "org_name" else "-"
    data["unbooked_attendances"] = data["attendances"] - data["booked_attendances"]
    data["unbooked_breaches"] = data["breaches"] - data["booked_breaches"]
    keys = ["period", "org_code"]
    per_type = data.pivot_table(
        index=keys, columns="type", aggfunc="sum", fill_value=0, observed=True,
        values=["unbooked_attendances", "booked_attendances", "unbooked_breaches",
                "booked_breaches", "admissions"])
    first = data.groupby(keys, sort=True)[["parent_org", "org_name", "dta_4_12", "dta_12plus",
                                           "other_emergency_admissions"]].first()

    def block(q):
        return [per_type[(q, t)] if (q, t) in per_type else 0 for t in ("type1", "type2", "other")]

    table = pd.DataFrame(index=first.index)
    table["parent_org"] = first["parent_org"].astype(str)
    table["org_name"] = first["org_name"].astype(str)
    numeric = [*block("unbooked_attendances"), *block("booked_attendances"),
               *block("unbooked_breaches"), *block("booked_breaches"),
               first["dta_4_12"], first["dta_12plus"], *block("admissions"),
               first["other_emergency_admissions"]]
    for h, v in zip(AE_MONTHLY_HEADER[4:], numeric, strict=True):
        table[h] = v
    table = table.reset_index()
    written = []
    for month, g in table.groupby("period", sort=True):
        label = f"MSitAE-{month:%B}-{month:%Y}".upper().replace("MSITAE", "MSitAE")
        nums = g[AE_MONTHLY_HEADER[4:]].astype("float64")
        out = pd.DataFrame({"Period": label, "Org Code": g["org_code"],
                            "Parent Org": g["parent_org"], "Org name": g["org_name"]})
        for h in AE_MONTHLY_HEADER[4:]:
            out[h] = [_fmt_number(x) for x in nums[h]]
        total = ["TOTAL", "-", "-", "-", *(_fmt_number(x) for x in nums.sum(min_count=1))]
        out.loc[len(out)] = total
        target = folder / f"monthly-ae-{month:%B}-{month:%Y}.csv".lower()
        with atomic_path(target) as tmp:
            out.to_csv(tmp, index=False)
        written.append(target)
    return written


def write_ae_tidy(frame: pd.DataFrame, path) -> Path:
    """Write the NHS-R tidy A&E form (``period, org_code, type, attendances, breaches, admissions``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Those columns; ``type`` is ``1``, ``2`` or ``other`` (``type1`` ... accepted).
    path : str or Path
        The CSV to write.
    """
    data = _ae_tidy_input(frame)
    out = pd.DataFrame({
        "period": data["period"].dt.strftime("%Y-%m-%d"), "org_code": data["org_code"],
        "type": data["type"].map({"type1": "1", "type2": "2", "other": "other"}),
        **{c: data[c].map(_fmt_number) for c in ("attendances", "breaches", "admissions")}})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


# =============================================================================================
# SHMI
_SHMI_BANDS = {"1": 1, "2": 2, "3": 3, "higher than expected": 1, "as expected": 2,
               "lower than expected": 3, "higher": 1, "lower": 3}


def _shmi_period(text):
    """``APR22_MAR23`` / ``JAN25-DEC25`` / ``April 2022 - March 2023`` -> (start, end)."""
    t = str(text).strip()
    m = re.fullmatch(r"([A-Za-z]{3,9})[\s\-]*(\d{4}|\d{2})\s*(?:_|-|–|/|to)\s*"
                     r"([A-Za-z]{3,9})[\s\-]*(\d{4}|\d{2})", t)
    if not m:
        return None
    a, b = _parse_month_text(f"{m.group(1)} {m.group(2)}"), \
        _parse_month_text(f"{m.group(3)} {m.group(4)}")
    if a is None or b is None:
        return None
    return a, _month_end(b)


def load_shmi(path, *, period=None, errors: str = "report") -> pd.DataFrame:
    """Load NHS Digital's Summary Hospital-level Mortality Indicator (SHMI), trust level.

    Follows the trust-level SHMI CSV's column names (``PROVIDER_CODE, PROVIDER_NAME,
    TIME_PERIOD, SHMI_VALUE, SHMI_BANDING, OBSERVED, EXPECTED, SPELLS``); ``SHMI`` for the value
    and spaced variants (``Provider code``) also load. ``TIME_PERIOD`` is like ``APR22_MAR23``.
    Banding ``1/2/3`` = higher than expected / as expected / lower than expected (the labels
    also load); ``**`` or ``*`` are suppressed.

    Parameters
    ----------
    path : str or Path
        The CSV.
    period : tuple of (start, end), optional
        The reporting period when the file has no ``TIME_PERIOD`` column and its name carries
        none (e.g. ``("2022-04", "2023-03")``).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="trust"``, measures ``shmi`` (numerator observed
        deaths, denominator expected deaths), ``shmi_banding`` (1, 2, 3),
        ``shmi_observed_deaths``, ``shmi_expected_deaths`` and ``shmi_spells``.
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path)
    kw = dict(path=path, expected_kind="shmi")
    c_code = _find(frame, ["provider code", "trust code", "org code", "provider"], required=True,
                   what="PROVIDER_CODE", **kw)
    c_value = _find(frame, ["shmi value", "shmi"], required=True, what="SHMI_VALUE", **kw)
    c_band = _find(frame, ["shmi banding", "banding"])
    c_obs = _find(frame, ["observed", "observed deaths"])
    c_exp = _find(frame, ["expected", "expected deaths"])
    c_spells = _find(frame, ["spells", "provider spells", "number of spells"])
    c_name = _find(frame, ["provider name", "trust name", "org name"])
    c_period = _find(frame, ["time period", "reporting period", "period"])
    n = len(frame)
    if c_period is not None:
        lookup = {u: _shmi_period(u) for u in pd.unique(frame[c_period])}
        bad = [u for u, v in lookup.items() if v is None]
        if bad:
            pos = int(np.flatnonzero(frame[c_period].isin(bad).to_numpy())[0])
            raise DataFormatError(f"cannot read {bad[0]!r} as a period; expected e.g. "
                                  "'APR22_MAR23'", path=path, row=int(rows[pos]), column=c_period)
        starts = frame[c_period].map(lambda u: lookup[u][0])
        ends = frame[c_period].map(lambda u: lookup[u][1])
    else:
        if period is None:
            m = re.search(r"([A-Za-z]{3}\d{2})[-_ ]([A-Za-z]{3}\d{2})", path.stem)
            found = _shmi_period(f"{m.group(1)}_{m.group(2)}") if m else None
            if found is None:
                raise DataFormatError("no TIME_PERIOD column and no period in the file name "
                                      "(e.g. 'SHMI data, Apr22-Mar23'); pass period=(start, end)",
                                      path=path)
        else:
            found = (pd.Timestamp(period[0]).to_period("M").start_time,
                     _month_end(pd.Timestamp(period[1])))
        starts = pd.Series([found[0]] * n)
        ends = pd.Series([found[1]] * n)
    report: dict = {}

    def num(c):
        if c is None:
            return np.full(n, np.nan)
        return _parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                              errors=errors)

    value, obs, exp, spells = num(c_value), num(c_obs), num(c_exp), num(c_spells)
    band = np.full(n, np.nan)
    if c_band is not None:
        text = frame[c_band].str.strip()
        mapped = text.map(lambda v: _SHMI_BANDS.get(_norm(v).replace(" 0", "")))
        b = _parse_numeric(text.where(mapped.isna(), "0"), column=c_band, rows=rows,
                           report=report, path=path, errors=errors)
        band = np.where(mapped.notna(), mapped.astype("float64"), b)
        odd = ~np.isnan(band) & ~np.isin(band, [1, 2, 3])
        if odd.any():
            pos = int(np.flatnonzero(odd)[0])
            raise DataFormatError(f"SHMI banding {text.iloc[pos]!r} is not 1, 2 or 3", path=path,
                                  row=int(rows[pos]), column=c_band)
    keys = pd.DataFrame({"org_code": frame[c_code].str.strip().str.upper(),
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA,
                         "period_start": starts.to_numpy(), "period_end": ends.to_numpy()})
    specs = [("shmi", value, obs if c_obs else None, exp if c_exp else None)]
    if c_band:
        specs.append(("shmi_banding", band, None, None))
    if c_obs:
        specs.append(("shmi_observed_deaths", obs, None, None))
    if c_exp:
        specs.append(("shmi_expected_deaths", exp, None, None))
    if c_spells:
        specs.append(("shmi_spells", spells, None, None))
    if errors == "report":
        _warn_unparseable(report, path)
    out = _stack(keys, specs, org_level="trust")
    return _attrs(out, path, kind="shmi", report=report)


def _shmi_label(start, end) -> str:
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    return f"{s:%b%y}_{e:%b%y}".upper()


def write_shmi(frame: pd.DataFrame, path) -> Path:
    """Write a trust-level SHMI CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trust and period: ``org_code``, ``period_start`` and ``period_end`` (or a
        ``time_period`` label like ``APR22_MAR23``), ``observed``, ``expected``; optional
        ``org_name``, ``spells``, ``shmi`` (default observed / expected, 4 decimals) and
        ``banding`` (1/2/3; NaN is written ``**``, suppressed). When ``banding`` is absent it is
        derived from Poisson 95% limits around 1 (``1 +/- 1.96 / sqrt(expected)``), a
        simplification of NHS Digital's overdispersed control limits.
    path : str or Path
        The CSV to write. Columns: ``PROVIDER_CODE, PROVIDER_NAME, TIME_PERIOD, SPELLS,
        OBSERVED, EXPECTED, SHMI_VALUE, SHMI_BANDING``.
    """
    for c in ("org_code", "observed", "expected"):
        if c not in frame:
            raise ValueError(f"write_shmi: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    if "time_period" in d:
        label = d["time_period"].astype(str)
    else:
        label = pd.Series([_shmi_label(s, e) for s, e in zip(d["period_start"], d["period_end"],
                                                                 strict=True)])
    obs = d["observed"].to_numpy(dtype="float64")
    exp = d["expected"].to_numpy(dtype="float64")
    shmi = d["shmi"].to_numpy(dtype="float64") if "shmi" in d else np.round(_ratio(obs, exp), 4)
    if "banding" in d:
        band = d["banding"].to_numpy(dtype="float64")
    else:
        half = 1.96 / np.sqrt(np.where(exp > 0, exp, np.nan))
        band = np.where(shmi > 1 + half, 1, np.where(shmi < 1 - half, 3, 2)).astype(float)
        band[np.isnan(shmi)] = np.nan
    out = pd.DataFrame({
        "PROVIDER_CODE": d["org_code"], "PROVIDER_NAME": d.get("org_name", d["org_code"]),
        "TIME_PERIOD": label,
        "SPELLS": [_fmt_number(x) for x in d["spells"]] if "spells" in d else "",
        "OBSERVED": [_fmt_number(x) for x in obs], "EXPECTED": [f"{x:.2f}" for x in exp],
        "SHMI_VALUE": ["" if np.isnan(x) else f"{x:.4f}" for x in shmi],
        "SHMI_BANDING": ["**" if np.isnan(b) else str(int(b)) for b in band]})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


# =============================================================================================
# NHS Staff Survey
#: Question text -> measure name for the questions analyses use.
STAFF_SURVEY_QUESTIONS = {
    "staff_recommend_care": "If a friend or relative needed treatment I would be happy with the "
                            "standard of care provided by this organisation",
    "staff_recommend_work": "I would recommend my organisation as a place to work",
    "staff_care_priority": "Care of patients / service users is my organisation's top priority",
}
_STAFF_DEFAULT_CODES = {"staff_care_priority": "Q21a", "staff_recommend_work": "Q21c",
                        "staff_recommend_care": "Q21d"}


def _staff_measure(text: str, code: str) -> str:
    nt = _norm(text)
    for measure, q in STAFF_SURVEY_QUESTIONS.items():
        if nt and (nt == _norm(q) or nt.startswith(_norm(q)[:60])):
            return measure
    if _norm(code) in {_norm(m) for m in STAFF_SURVEY_QUESTIONS}:
        return _snake(code)
    return "staff_survey_" + _snake(code or text)


def load_staff_survey(path, *, errors: str = "report") -> pd.DataFrame:
    """Load trust-level NHS Staff Survey scores in the long layout of ``docs/indicators.md``.

    Layout: one row per trust, survey year and question, with columns ``Org code, Org name,
    Survey year, Question, Question text, Responses, Score`` (``Score``: percentage of
    respondents agreeing or strongly agreeing, 0-100; ``Responses``: the number answering).
    Aliases load too (``Trust code``, ``Year``, ``Base``, ``Percent positive``, ``Value``).

    Parameters
    ----------
    path : str or Path
        The CSV.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="trust"``, the period the fieldwork (1 September to
        31 December of the survey year). Measures are named from the question text:
        ``staff_recommend_care`` ("If a friend or relative needed treatment I would be happy
        with the standard of care provided by this organisation"), ``staff_recommend_work``,
        ``staff_care_priority``; any other question is ``staff_survey_<question>`` (e.g.
        ``staff_survey_q4a``). ``denominator`` is the number of responses and ``numerator``
        the implied number agreeing (score x responses / 100).
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path)
    kw = dict(path=path, expected_kind="staff_survey")
    c_code = _find(frame, ["org code", "trust code", "organisation code", "provider code",
                           "org_code"], required=True, what="Org code", **kw)
    c_year = _find(frame, ["survey year", "year"], required=True, what="Survey year", **kw)
    c_q = _find(frame, ["question", "question number", "question code"])
    c_text = _find(frame, ["question text", "question wording"])
    if c_q is None and c_text is None:
        raise _missing_column(frame, "Question", path, "staff_survey")
    c_score = _find(frame, ["score", "percent positive", "positive percent", "positive",
                            "value", "score percent"], required=True, what="Score", **kw)
    c_n = _find(frame, ["responses", "base", "number of responses", "n"])
    c_name = _find(frame, ["org name", "trust name", "organisation name"])
    report: dict = {}
    score = _parse_numeric(frame[c_score], column=c_score, rows=rows, report=report, path=path,
                           errors=errors)
    resp = _parse_numeric(frame[c_n], column=c_n, rows=rows, report=report, path=path,
                          errors=errors) if c_n else np.full(len(frame), np.nan)
    years = pd.to_numeric(frame[c_year].str.strip().str[:4], errors="coerce")
    if years.isna().any():
        pos = int(np.flatnonzero(years.isna().to_numpy())[0])
        raise DataFormatError(f"cannot read {frame[c_year].iloc[pos]!r} as a survey year",
                              path=path, row=int(rows[pos]), column=c_year)
    texts = frame[c_text] if c_text else pd.Series([""] * len(frame))
    codes = frame[c_q] if c_q else pd.Series([""] * len(frame))
    measure = [_staff_measure(t, c) for t, c in zip(texts, codes, strict=True)]
    keys = pd.DataFrame({"org_code": frame[c_code].str.strip().str.upper(),
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA,
                         "period_start": pd.to_datetime({"year": years, "month": 9, "day": 1}),
                         "period_end": pd.to_datetime({"year": years, "month": 12, "day": 31})})
    if errors == "report":
        _warn_unparseable(report, path)
    parts = []
    measure = np.asarray(measure, dtype=object)
    for m in pd.unique(measure):
        keep = measure == m
        parts.append(_stack(keys.loc[keep].reset_index(drop=True),
                            [(m, score[keep], score[keep] * resp[keep] / 100.0, resp[keep])],
                            org_level="trust"))
    out = _finish_table(pd.concat(parts, ignore_index=True)) if parts else _empty_table()
    dup = out.duplicated(["org_code", "period_start", "measure"])
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise DataFormatError(f"{first.measure} appears twice for {first.org_code} in "
                              f"{first.period_start:%Y}", path=path)
    return _attrs(out, path, kind="staff_survey", report=report)


def write_staff_survey(frame: pd.DataFrame, path) -> Path:
    """Write trust-level staff survey scores in the documented long layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trust, year and question: ``org_code``, ``year`` (the survey year),
        ``measure`` (``staff_recommend_care``, ``staff_recommend_work``,
        ``staff_care_priority``, or ``staff_survey_<question>``), ``value`` (percentage
        positive, 0-100); optional ``org_name``, ``responses``, ``question`` (a question
        number; defaults ``Q21d``, ``Q21c``, ``Q21a`` for the three named measures).
    path : str or Path
        The CSV: ``Org code, Org name, Survey year, Question, Question text, Responses, Score``.
    """
    for c in ("org_code", "year", "measure", "value"):
        if c not in frame:
            raise ValueError(f"write_staff_survey: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)

    def qcode(m):
        return _STAFF_DEFAULT_CODES.get(m, m.removeprefix("staff_survey_").upper())

    out = pd.DataFrame({
        "Org code": d["org_code"], "Org name": d.get("org_name", d["org_code"]),
        "Survey year": d["year"].astype(int),
        "Question": d["question"] if "question" in d else d["measure"].map(qcode),
        "Question text": d["measure"].map(lambda m: STAFF_SURVEY_QUESTIONS.get(m, "")),
        "Responses": [_fmt_number(x) for x in d["responses"]] if "responses" in d else "",
        "Score": ["" if pd.isna(x) else f"{float(x):.1f}" for x in d["value"]]})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


# =============================================================================================
# Delayed transfers of care
#: DTOC reason columns -> measure suffix (``dtoc_days_<suffix>``).
DTOC_REASONS = {
    "Awaiting completion of assessment": "assessment",
    "Awaiting public funding": "public_funding",
    "Awaiting further NHS non-acute care": "nhs_non_acute",
    "Awaiting residential home placement or availability": "residential_home",
    "Awaiting nursing home placement or availability": "nursing_home",
    "Awaiting care package in own home": "care_package",
    "Awaiting community equipment and adaptations": "equipment",
    "Patient or family choice": "patient_choice",
    "Disputes": "disputes",
    "Housing - Patients not covered by NHS and Community Care Act": "housing",
    "Other": "other",
    "Total Delayed Transfers of Care": "total",
}
_DTOC_BY_NORM = {_norm(k): v for k, v in DTOC_REASONS.items()}
ENGLAND_CODE = "E92000001"


def load_dtoc(path, *, england: bool = False, errors: str = "report") -> pd.DataFrame:
    """Load delayed transfers of care (delayed days) by local authority, reason and month.

    The layout of the NHS-R tidy derivative (``Code, Name, <reason columns>, Total Delayed
    Transfers of Care, Period``), ``Period`` like ``April 2019``. ``-`` is suppressed and
    ``NA`` not collected (e.g. ``Other`` before it existed): both are read as NaN, **never
    0**, and counted per column in ``attrs["parse_report"]`` (``suppressed`` / ``missing``).
    Codes are kept as published: early years use old local-authority codes (``716``,
    ``00KB``), later ones ONS ``E0...`` codes; reconcile them with
    :func:`cqc_research.link.reconcile_la_codes` or a lookup (:func:`load_la_codes`).

    Parameters
    ----------
    path : str or Path
        The CSV.
    england : bool
        Keep the ``England`` total rows (code ``-``), as ``org_code="E92000001"`` and
        ``org_level="country"``. By default they are dropped and counted in
        ``attrs["excluded_rows"]["England"]``.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="local_authority"``, monthly periods, measures
        ``dtoc_days_total`` and ``dtoc_days_<reason>`` (``assessment``, ``public_funding``,
        ``nhs_non_acute``, ``residential_home``, ``nursing_home``, ``care_package``,
        ``equipment``, ``patient_choice``, ``disputes``, ``housing``, ``other``; other
        columns by their snake-case name). ``org_name`` holds the published name.
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path, header_markers=("Code",))
    kw = dict(path=path, expected_kind="dtoc")
    c_code = _find(frame, ["code", "la code", "org code"], required=True, what="Code", **kw)
    c_name = _find(frame, ["name", "la name", "org name"], required=True, what="Name", **kw)
    c_period = _find(frame, ["period", "month"], required=True, what="Period", **kw)
    c_total = _find(frame, ["total delayed transfers of care", "total delayed days", "total"],
                    required=True, what="Total Delayed Transfers of Care", **kw)
    codes = frame[c_code].str.strip()
    names = frame[c_name].str.strip()
    is_eng = ((names.str.casefold() == "england") | codes.isin(["-", "", ENGLAND_CODE])).to_numpy()
    excluded = {}
    if not england:
        excluded["England"] = int(is_eng.sum())
        frame, rows, codes, names = (frame.loc[~is_eng].reset_index(drop=True), rows[~is_eng],
                                     codes[~is_eng].reset_index(drop=True),
                                     names[~is_eng].reset_index(drop=True))
        is_eng = np.zeros(len(frame), bool)
    month = _parse_months(frame[c_period].str.strip(), column=c_period, rows=rows, path=path)
    keys = pd.DataFrame({"org_code": np.where(is_eng, ENGLAND_CODE, codes.to_numpy()),
                         "org_name": names, "period_start": month,
                         "period_end": month + pd.offsets.MonthEnd(0)})
    report: dict = {}
    specs = []
    for c in frame.columns:
        if c in (c_code, c_name, c_period):
            continue
        suffix = "total" if c == c_total else _DTOC_BY_NORM.get(_norm(c), _snake(c))
        v = _parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                           errors=errors)
        specs.append((f"dtoc_days_{suffix}", v, None, None))
    if errors == "report":
        _warn_unparseable(report, path)
    level = np.where(is_eng, "country", "local_authority")
    out = _stack(keys, specs, org_level=level)
    dup = keys.duplicated(["org_code", "period_start"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(f"local authority {keys.org_code.iloc[pos]} appears twice for "
                              f"{keys.period_start.iloc[pos]:%B %Y}", path=path,
                              row=int(rows[pos]), column=c_code)
    return _attrs(out, path, kind="dtoc", report=report, excluded=excluded)


def write_dtoc(frame: pd.DataFrame, path, *, england: bool = True) -> Path:
    """Write delayed transfers of care in the NHS-R tidy derivative layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per local authority and month: ``org_code``, ``org_name``, ``period`` (any
        date in the month), ``total`` (delayed days), and optionally one column per reason
        named by its suffix (``assessment``, ``public_funding``, ``nhs_non_acute``,
        ``residential_home``, ``nursing_home``, ``care_package``, ``equipment``,
        ``patient_choice``, ``disputes``, ``housing``, ``other``). NaN is written ``-``
        (suppressed); a reason column that is absent is written ``NA`` (not collected).
    path : str or Path
        The CSV to write. Every field is quoted except ``NA``, as in the published file.
    england : bool
        Add an ``England`` row (code ``-``) per month first, summing the authorities
        (suppressed cells count as 0 in that sum).
    """
    for c in ("org_code", "org_name", "period", "total"):
        if c not in frame:
            raise ValueError(f"write_dtoc: frame lacks column {c!r}")
    d = frame.copy()
    d["period"] = pd.to_datetime(d["period"]).dt.to_period("M").dt.start_time
    reasons = list(DTOC_REASONS.items())
    lines = ['"' + '","'.join(["Code", "Name", *[h for h, _ in reasons], "Period"]) + '"']

    def cell(v, present):
        if not present:
            return "NA"
        return '"-"' if pd.isna(v) else f'"{_fmt_number(v)}"'

    for month, g in d.groupby("period", sort=True):
        label = f"{month:%B %Y}"
        block = []
        if england:
            sums = {s: g[s].sum() if s in g else None for _, s in reasons}
            block.append(['"-"', '"England"', *[cell(sums[s], s in g) for _, s in reasons],
                          f'"{label}"'])
        for _, r in g.iterrows():
            block.append([f'"{r["org_code"]}"', f'"{r["org_name"]}"',
                          *[cell(r[s] if s in g else None, s in g) for _, s in reasons],
                          f'"{label}"'])
        lines += [",".join(b) for b in block]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


# =============================================================================================
# deprivation, population, local-authority codes
_LA_CODE = re.compile(r"^E(0[6-9]|10)\d{6}$")
_PRACTICE_CODE = re.compile(r"^[A-Z]\d{5}$")


def _code_level(codes: pd.Series) -> str | None:
    c = codes.dropna().astype(str).str.strip().str.upper()
    if c.empty:
        return None
    if c.str.match(_LA_CODE).mean() > 0.9:
        return "local_authority"
    if c.str.match(_PRACTICE_CODE).mean() > 0.9:
        return "practice"
    if c.str.fullmatch(r"R[A-Z0-9]{2}").mean() > 0.9:
        return "trust"
    if c.str.fullmatch(r"R[A-Z0-9]{4}").mean() > 0.9:
        return "site"
    return None


def _year_in(text) -> int | None:
    m = re.search(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)", str(text))
    return int(m.group(1)) if m else None


def load_imd(path, *, level=None, year=None, errors: str = "report") -> pd.DataFrame:
    """Load an area deprivation table: a code and an Index of Multiple Deprivation score.

    Reads any CSV with a code column (``Practice Code``, ``Area Code``, ``Local Authority
    District code (2019)``, ``LAD code``, ``code``, ...) and a score column (``IMD - Average
    score``, ``IMD score``, ``IMD 2019 score``, ``Value``, ...). Deprivation is an area
    characteristic, not a performance series: the period is NaT (time-invariant), so linkage
    attaches it whatever the rating's date. The IMD edition (``year=``, else from the headers,
    e.g. ``(2019)``, or the file name) is kept in ``attrs["imd_year"]``.

    Parameters
    ----------
    path : str or Path
        The CSV.
    level : {"practice", "local_authority"}, optional
        Defaults from the code column's name, else from the codes' pattern.
    year : int, optional
        The IMD edition, for ``attrs["imd_year"]``.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table (``period_start``/``period_end`` NaT) with measure
        ``imd_score`` (and ``imd_rank`` when a rank column is present).
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path)
    kw = dict(path=path, expected_kind="imd")
    c_code = _find(frame, ["practice code", "area code", "local authority district code 2019",
                           "local authority district code", "lad code", "lad19cd", "la code",
                           "code", "org code", "org_code"], required=True, what="code", **kw)
    score_aliases = ["imd average score", "imd score", "imd 2019 score", "index of multiple "
                     "deprivation imd score", "imd 2019", "deprivation score", "score", "value",
                     "imd_score"]
    c_score = _find(frame, score_aliases)
    if c_score is None:
        c_score = next((c for c in frame.columns if "imd" in _norm(c) and "score" in _norm(c)
                        and "rank" not in _norm(c)), None)
    if c_score is None:
        raise _missing_column(frame, "IMD score", path, "imd")
    c_rank = _find(frame, ["imd rank of average score", "imd rank", "rank"])
    c_name = _find(frame, ["practice name", "area name", "local authority district name 2019",
                           "local authority district name", "lad name", "name", "org name"])
    if level is None:
        n = _norm(c_code)
        level = "practice" if "practice" in n else ("local_authority" if any(
            w in n for w in ("local authority", "lad", "la code")) else
            _code_level(frame[c_code]))
        if level is None:
            raise DataFormatError("cannot tell whether codes are practices or local authorities;"
                                  " pass level='practice' or level='local_authority'",
                                  path=path, column=c_code)
    if level not in ORG_LEVELS:
        raise ValueError(f"level must be one of {ORG_LEVELS}, not {level!r}")
    if year is None:
        year = _year_in(" ".join(frame.columns)) or _year_in(path.name)
    report: dict = {}
    score = _parse_numeric(frame[c_score], column=c_score, rows=rows, report=report, path=path,
                           errors=errors)
    keys = pd.DataFrame({"org_code": frame[c_code].str.strip().str.upper(),
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA,
                         "period_start": pd.NaT, "period_end": pd.NaT})
    specs = [("imd_score", score, None, None)]
    if c_rank:
        specs.append(("imd_rank", _parse_numeric(frame[c_rank], column=c_rank, rows=rows,
                                                 report=report, path=path, errors=errors),
                      None, None))
    if errors == "report":
        _warn_unparseable(report, path)
    out = _stack(keys, specs, org_level=level)
    return _attrs(out, path, kind="imd", report=report, extra={"imd_year": year})


def write_imd(frame: pd.DataFrame, path, *, level: str = "local_authority",
              year: int = 2019) -> Path:
    """Write a deprivation table.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``org_code``, ``imd_score``; optional ``org_name``.
    path : str or Path
        The CSV to write.
    level : {"local_authority", "practice"}
        Local authorities use the headers of the English Indices of Deprivation local-authority
        summary (``Local Authority District code (2019)``, ``Local Authority District name
        (2019)``, ``IMD - Average score``, ``IMD - Rank of average score``; rank 1 = most
        deprived); practices ``Practice Code, Practice Name, IMD 2019 score``.
    year : int
        The IMD edition, written into the headers.
    """
    for c in ("org_code", "imd_score"):
        if c not in frame:
            raise ValueError(f"write_imd: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    name = d["org_name"] if "org_name" in d else d["org_code"]
    score = d["imd_score"].astype("float64")
    fmt = ["" if np.isnan(x) else f"{x:.3f}" for x in score]
    if level == "local_authority":
        out = pd.DataFrame({
            f"Local Authority District code ({year})": d["org_code"],
            f"Local Authority District name ({year})": name,
            "IMD - Average score": fmt,
            "IMD - Rank of average score": score.rank(ascending=False, method="min")
            .map(_fmt_number)})
    elif level == "practice":
        out = pd.DataFrame({"Practice Code": d["org_code"], "Practice Name": name,
                            f"IMD {year} score": fmt})
    else:
        raise ValueError(f"level must be 'local_authority' or 'practice', not {level!r}")
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def load_population(path, *, year=None, errors: str = "report") -> pd.DataFrame:
    """Load local-authority population aged 65 and over (ONS mid-year estimates).

    Two layouts load: the simple one written by :func:`write_population` (``Code, Name,
    Geography, Mid-year, Population aged 65 and over``) and ONS's single-year-of-age table
    (``Code, Name, Geography, All ages, 0, 1, ..., 90`` or ``90+``), whose ages 65 and over are
    summed. The year comes from a ``Mid-year``/``Year`` column, ``year=``, or the file name
    (``mid-2019``).

    Parameters
    ----------
    path : str or Path
        The CSV.
    year : int, optional
        The mid-year, when the file has no year column.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="local_authority"``, measure ``population_65plus``
        with the period the calendar year of the estimate (mid-year = 30 June). Rows for
        England, regions and countries (``Geography`` not a local-authority type, or codes
        ``E92``/``E12``) are dropped and counted in ``attrs["excluded_rows"]``.
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path, header_markers=("Code",))
    kw = dict(path=path, expected_kind="population")
    c_code = _find(frame, ["code", "la code", "lad code", "area code", "org code", "org_code"],
                   required=True, what="Code", **kw)
    c_name = _find(frame, ["name", "la name", "area name", "org name"])
    c_geo = _find(frame, ["geography", "geography1"])
    c_year = _find(frame, ["mid year", "year", "mid_year"])
    c_pop = _find(frame, ["population aged 65 and over", "aged 65 and over", "aged 65",
                          "population 65", "population_65plus", "65 and over", "65"])
    report: dict = {}
    if c_pop is not None and _norm(c_pop) != "65":
        pop = _parse_numeric(frame[c_pop], column=c_pop, rows=rows, report=report, path=path,
                             errors=errors)
    else:
        ages = [c for c in frame.columns if re.fullmatch(r"(\d{1,3})\+?", c.strip())
                and int(c.strip().rstrip("+")) >= 65]
        if not ages:
            raise _missing_column(frame, "Population aged 65 and over", path, "population")
        parts = [_parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                                errors=errors) for c in ages]
        pop = np.sum(parts, axis=0)  # NaN in any age makes the total NaN, never an undercount
    if c_year is not None:
        years = pd.to_numeric(frame[c_year].str.strip().str.extract(r"(\d{4})")[0],
                              errors="coerce")
        if years.isna().any():
            pos = int(np.flatnonzero(years.isna().to_numpy())[0])
            raise DataFormatError(f"cannot read {frame[c_year].iloc[pos]!r} as a year",
                                  path=path, row=int(rows[pos]), column=c_year)
    else:
        y = year or _year_in(path.name)
        if y is None:
            raise DataFormatError("no year column and no year in the file name; pass year=",
                                  path=path)
        years = pd.Series([int(y)] * len(frame))
    codes = frame[c_code].str.strip().str.upper()
    drop = np.array(codes.str.match(r"^(E92|E12|K0|W92|S92|N92)"), dtype=bool)
    if c_geo is not None:
        g = frame[c_geo].str.strip().str.casefold()
        drop |= g.isin(["country", "region", "england", "england and wales",
                        "united kingdom"]).to_numpy()
    keys = pd.DataFrame({"org_code": codes, "org_name": frame[c_name].str.strip() if c_name
                         else pd.NA,
                         "period_start": pd.to_datetime({"year": years, "month": 1, "day": 1}),
                         "period_end": pd.to_datetime({"year": years, "month": 12, "day": 31})})
    keys, pop = keys.loc[~drop].reset_index(drop=True), pop[~drop]
    if errors == "report":
        _warn_unparseable(report, path)
    out = _stack(keys, [("population_65plus", pop, None, None)], org_level="local_authority")
    return _attrs(out, path, kind="population", report=report,
                  excluded={"England, regions and countries": int(drop.sum())})


def write_population(frame: pd.DataFrame, path) -> Path:
    """Write local-authority population aged 65+.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``org_code``, ``org_name``, ``year``, ``population_65plus``.
    path : str or Path
        The CSV: ``Code, Name, Geography, Mid-year, Population aged 65 and over``.
    """
    for c in ("org_code", "year", "population_65plus"):
        if c not in frame:
            raise ValueError(f"write_population: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    out = pd.DataFrame({"Code": d["org_code"], "Name": d.get("org_name", d["org_code"]),
                        "Geography": "Local Authority", "Mid-year": d["year"].astype(int),
                        "Population aged 65 and over": d["population_65plus"].map(_fmt_number)})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def load_la_codes(path) -> pd.DataFrame:
    """Load a local-authority code lookup: old codes to current ONS codes.

    Columns found by name: ``old_code`` (``Old code``, ``Previous code``, ``Legacy code``),
    ``new_code`` (``New code``, ``ONS code``, ``Current code``) and optionally ``name``.

    Returns
    -------
    pandas.DataFrame
        ``old_code, new_code, name`` (codes upper-cased and stripped).
    """
    path = Path(path)
    frame, _ = _read_csv(path)
    kw = dict(path=path, expected_kind="la_codes", required=True)
    c_old = _find(frame, ["old code", "old_code", "previous code", "legacy code", "old la code"],
                  what="old_code", **kw)
    c_new = _find(frame, ["new code", "new_code", "ons code", "current code", "new la code"],
                  what="new_code", **kw)
    c_name = _find(frame, ["name", "la name", "local authority"])
    out = pd.DataFrame({"old_code": frame[c_old].str.strip().str.upper(),
                        "new_code": frame[c_new].str.strip().str.upper(),
                        "name": frame[c_name].str.strip() if c_name else pd.NA})
    return _attrs(out, path, kind="la_codes", report={})


def write_la_codes(frame: pd.DataFrame, path) -> Path:
    """Write a local-authority code lookup (``old_code, new_code, name``).

    Parameters
    ----------
    frame : pandas.DataFrame
        ``old_code``, ``new_code``; optional ``name``.
    path : str or Path
        The CSV to write.
    """
    for c in ("old_code", "new_code"):
        if c not in frame:
            raise ValueError(f"write_la_codes: frame lacks column {c!r}")
    cols = [c for c in ("old_code", "new_code", "name") if c in frame]
    with atomic_path(path) as tmp:
        frame[cols].to_csv(tmp, index=False)
    return Path(path)


# =============================================================================================
# any indicator, as a tidy CSV
def _parse_period(text):
    """Period grammar of ``docs/indicators.md`` -> (start, end) or None."""
    t = str(text).strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*/\s*(\d{4}-\d{2}-\d{2})", t)
    if m:
        return pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))
    m = re.fullmatch(r"(\d{4})", t)
    if m:
        y = int(t)
        return pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
    m = re.fullmatch(r"(\d{4})\s*[-/]\s*(\d{2})", t)
    if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:  # 2019-20: financial year
        s, e, _ = financial_year(t)
        return s, e
    m = re.fullmatch(r"(\d{4})-Q([1-4])", t, flags=re.I)
    if m:
        s = pd.Timestamp(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return s, _month_end(s + pd.DateOffset(months=2))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", t)
    if m and 1 <= int(m.group(2)) <= 12:
        s = pd.Timestamp(int(m.group(1)), int(m.group(2)), 1)
        return s, _month_end(s)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})", t)
    if m:
        return pd.Timestamp(t), pd.Timestamp(t)
    return None


def _infer_org_level(codes: pd.Series) -> pd.Series:
    c = codes.astype(str).str.strip().str.upper()
    out = pd.Series(pd.NA, index=c.index, dtype="str")
    out[c.str.match(_LA_CODE)] = "local_authority"
    out[c.str.match(_PRACTICE_CODE)] = "practice"
    out[c.str.fullmatch(r"R[A-Z0-9]{2}")] = "trust"
    out[c.str.fullmatch(r"R[A-Z0-9]{4}")] = "site"
    return out


def load_tidy_indicator(path, *, org_level=None, errors: str = "report") -> pd.DataFrame:
    """Load any indicator a researcher brings as a tidy CSV (see ``docs/indicators.md``).

    Required columns: ``org_code, period, measure, value``. Optional: ``org_level``,
    ``numerator``, ``denominator``, ``org_name``, ``period_end``. ``period`` is one of
    ``2019`` (calendar year), ``2019-20`` or ``2019/20`` (financial year, April-March),
    ``2019-Q2`` (calendar quarter), ``2019-04`` (month), ``2019-04-01`` (a day; give
    ``period_end`` for other spans) or ``2019-04-01/2019-06-30`` (an interval).

    Parameters
    ----------
    path : str or Path
        The CSV.
    org_level : str, optional
        The level for every row, when there is no ``org_level`` column. Otherwise it is
        inferred from the code's pattern: ``E06``-``E10`` + 6 digits local authority, letter +
        5 digits practice, ``R`` + 2 trust, ``R`` + 4 site; other codes need ``org_level``.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table.
    """
    _check_errors(errors)
    path = Path(path)
    frame, rows = _read_csv(path, header_markers=("org_code",))
    kw = dict(path=path, expected_kind="tidy", required=True)
    c = {k: _find(frame, [k], what=k, **kw) for k in ("org_code", "period", "measure", "value")}
    for k in ("org_level", "numerator", "denominator", "org_name", "period_end"):
        c[k] = _find(frame, [k])
    lookup = {u: _parse_period(u) for u in pd.unique(frame[c["period"]])}
    bad = [u for u, v in lookup.items() if v is None]
    if bad:
        pos = int(np.flatnonzero(frame[c["period"]].isin(bad).to_numpy())[0])
        raise DataFormatError(
            f"cannot read {bad[0]!r} as a period; expected 2019, 2019-20, 2019-Q2, 2019-04, "
            "2019-04-01 or 2019-04-01/2019-06-30", path=path, row=int(rows[pos]),
            column=c["period"])
    start = frame[c["period"]].map(lambda u: lookup[u][0])
    end = frame[c["period"]].map(lambda u: lookup[u][1])
    if c["period_end"]:
        pe = pd.to_datetime(frame[c["period_end"]].where(frame[c["period_end"]].str.strip() != ""),
                            errors="coerce")
        end = pe.where(pe.notna(), end)
    codes = frame[c["org_code"]].str.strip().str.upper()
    if c["org_level"]:
        level = frame[c["org_level"]].str.strip().str.lower()
    elif org_level is not None:
        level = pd.Series([org_level] * len(frame), dtype="str")
    else:
        level = _infer_org_level(codes)
        if level.isna().any():
            pos = int(np.flatnonzero(level.isna().to_numpy())[0])
            raise DataFormatError(
                f"cannot tell the organisation level of code {codes.iloc[pos]!r}; add an "
                f"org_level column or pass org_level= (one of {ORG_LEVELS})", path=path,
                row=int(rows[pos]), column=c["org_code"])
    report: dict = {}

    def num(k):
        if c[k] is None:
            return np.full(len(frame), np.nan)
        return _parse_numeric(frame[c[k]], column=c[k], rows=rows, report=report, path=path,
                              errors=errors)

    keys = pd.DataFrame({"org_code": codes, "period_start": start, "period_end": end,
                         "org_name": frame[c["org_name"]].str.strip() if c["org_name"] else pd.NA})
    out = pd.DataFrame({**{k: keys[k] for k in keys}, "org_level": level,
                        "measure": frame[c["measure"]].str.strip(), "value": num("value"),
                        "numerator": num("numerator"), "denominator": num("denominator")})
    if errors == "report":
        _warn_unparseable(report, path)
    out = _finish_table(out)
    return _attrs(out, path, kind="tidy", report=report)


def write_tidy_indicator(frame: pd.DataFrame, path) -> Path:
    """Write an indicator table (or any ``org_code, period, measure, value`` frame) as tidy CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        Either the indicator table (``period_start``/``period_end`` are written as an
        interval ``2019-04-01/2019-04-30``) or a frame that already has ``period`` text.
    path : str or Path
        The CSV to write; :func:`load_tidy_indicator` reads it back.
    """
    d = frame.copy()
    if "period" not in d:
        d["period"] = [f"{pd.Timestamp(s):%Y-%m-%d}/{pd.Timestamp(e):%Y-%m-%d}"
                       for s, e in zip(d["period_start"], d["period_end"], strict=True)]
    cols = [c for c in ("org_code", "org_level", "period", "measure", "value", "numerator",
                        "denominator", "org_name") if c in d]
    with atomic_path(path) as tmp:
        d[cols].to_csv(tmp, index=False)
    return Path(path)


# =============================================================================================
# detection and dispatch
_KIND_LABEL = {
    "gp_payments": "an NHS Payments to General Practice CSV",
    "ae_monthly": "an official monthly A&E CSV",
    "ae_tidy": "an NHS-R tidy A&E CSV",
    "shmi": "a SHMI CSV",
    "staff_survey": "an NHS Staff Survey CSV",
    "dtoc": "a delayed transfers of care CSV",
    "imd": "a deprivation (IMD) CSV",
    "population": "a population CSV",
    "la_codes": "a local-authority code lookup",
    "tidy": "a tidy indicator CSV (org_code, period, measure, value)",
}
_KIND_LOADER = {
    "gp_payments": "load_gp_payments", "ae_monthly": "load_ae_monthly",
    "ae_tidy": "load_ae_tidy", "shmi": "load_shmi", "staff_survey": "load_staff_survey",
    "dtoc": "load_dtoc", "imd": "load_imd", "population": "load_population",
    "la_codes": "load_la_codes", "tidy": "load_tidy_indicator",
}


def _kind_from_columns(columns: Iterable[str]) -> str | None:
    n = {_norm(c) for c in columns}
    joined = " | ".join(sorted(n))
    if "practice code" in n and any(x.startswith("number of registered patients") for x in n):
        return "gp_payments"
    if "org code" in n and any(_ae_role(x) for x in n):
        return "ae_monthly"
    if {"org code", "period", "measure", "value"} <= n:
        return "tidy"
    if {"period", "type", "attendances", "breaches"} <= n:
        return "ae_tidy"
    if "total delayed transfers of care" in n or ({"code", "name", "period"} <= n and any(
            x in _DTOC_BY_NORM for x in n)):
        return "dtoc"
    if any(x in n for x in ("shmi value", "shmi", "shmi banding")):
        return "shmi"
    if ("survey year" in n or "question text" in n) and any(
            x in n for x in ("score", "percent positive", "positive")):
        return "staff_survey"
    if "imd" in joined or "deprivation" in joined:
        return "imd"
    if any(x in n for x in ("old code", "old_code", "previous code", "legacy code")):
        return "la_codes"
    if "65" in joined and "code" in n:
        return "population"
    return None


def detect_indicator_kind(path) -> str | None:
    """Which NHS indicator file this is, from its header: a key of :func:`load_indicators`.

    A folder is ``"ae_monthly"`` when its CSVs are official monthly A&E files. Returns None
    when the file is none of the supported kinds.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.csv"))
        return "ae_monthly" if files and all(detect_indicator_kind(f) == "ae_monthly"
                                             for f in files[:3]) else None
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
        kind = _kind_from_columns(cells) if len(cells) >= 2 else None
        if kind:
            return kind
    return None


def load_indicators(path, **kwargs) -> pd.DataFrame:
    """Load any supported NHS indicator file, choosing the loader from the file's header.

    Parameters
    ----------
    path : str or Path
        A CSV of one of the supported kinds, or a folder of official monthly A&E CSVs.
    **kwargs
        Passed to the loader.

    Returns
    -------
    pandas.DataFrame
        The loader's frame: the indicator table (or, for a code lookup, the lookup).

    Raises
    ------
    DataFormatError
        When the header matches none of the supported kinds.
    """
    kind = detect_indicator_kind(path)
    if kind is None:
        raise DataFormatError(
            "not a recognised NHS indicator file; expected one of: "
            + "; ".join(_KIND_LABEL.values()), path=path)
    return globals()[_KIND_LOADER[kind]](path, **kwargs)
