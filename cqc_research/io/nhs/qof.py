"""Quality and Outcomes Framework (NHS Digital): practice prevalence, achievement and geography.

QOF is published per financial year (1 April to 31 March). Three of its practice-level CSVs
are read here, every year's header by meaning (case, spacing, byte-order mark, renamed
columns); ``docs/indicators.md`` ("QOF") lists the years and layouts and which were seen in a
real file:

- **prevalence** (``PREVALENCE_2223.csv``): one row per practice and register,
  ``PRACTICE_CODE, GROUP_CODE, REGISTER, PATIENT_LIST_TYPE, PRACTICE_LIST_SIZE`` (2020-21 on;
  ``INDICATOR_GROUP_CODE`` and ``PATIENT_LIST_SIZE`` earlier, ``REGISTER_SIZE`` in 2014-15,
  ``practicecode, indicator_group, disease_register_size, practice_listsize`` in 2013-14);
- **achievement** (``ACHIEVEMENT_2223.csv``, one file or the regional files of a year): the long
  layout ``PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE`` with ``MEASURE`` one of
  ``ACHIEVED_POINTS, NUMERATOR, DENOMINATOR, REGISTER`` and the exclusions (``EXCEPTIONS`` to
  2018-19, ``PCAS``, personalised care adjustments, from 2019-20);
- **geography** (``MAPPING_NHS_GEOGRAPHIES_2223.csv``; ``ORGANISATION_REFERENCE.csv`` before
  2019-20): practice -> PCN, sub-ICB location (CCG before July 2022), ICB (STP before), region.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from ...provenance import is_synthetic
from .._kinds import Kind, register
from ._common import (
    check_errors,
    clean_text,
    financial_year,
    find_column,
    finish_table,
    loaded_table,
    merge_parse_reports,
    missing_column_error,
    normalise_header,
    parse_numeric,
    ratio,
    read_table_csv,
    stack_measures,
    warn_unparseable,
    year_from_name,
)

__all__ = [
    "load_qof_prevalence",
    "load_qof_achievement",
    "load_qof_geography",
    "load_qof_indicators",
]

#: ``MEASURE`` values of the achievement file that count patients excluded from an indicator's
#: denominator: exception reporting to 2018-19, personalised care adjustments from 2019-20.
QOF_EXCLUSION_MEASURES = ("EXCEPTIONS", "EXCEPTION", "PCAS", "PCA", "PCA_EXCEPTIONS",
                          "PERSONALISED_CARE_ADJUSTMENTS", "EXCEPTIONS_PCAS")

_PRACTICE = ["practice code", "practicecode", "practice", "prac code", "org code",
             "organisation code"]


def qof_year(path, year=None, frame=None) -> tuple[pd.Timestamp, pd.Timestamp, str, str]:
    """The financial year a QOF file describes, and where it was found.

    Tried in order: ``year=``; a year column in the file (``FINANCIAL_YEAR``, ``QOF_YEAR``,
    ``REPORTING_YEAR``: one value for the whole file); the file name (``2022-23``, ``2022_23``,
    ``202223``, or QOF's own four digits ``_2223``); the names of the folders above it
    (``qof-1516-csv/PREVALENCE.csv``).

    Parameters
    ----------
    path : str or Path
        The file.
    year : str or int, optional
        The financial year, e.g. ``"2022-23"`` or ``2022``; wins over everything else.
    frame : pandas.DataFrame, optional
        The file's cells as read, searched for a year column.

    Returns
    -------
    start, end, label, source : Timestamp, Timestamp, str, str
        1 April, 31 March, the label ``"2022-23"`` and where it came from (``"year="``,
        ``"column <name>"``, ``"file name"`` or ``"folder name"``).

    Raises
    ------
    DataFormatError
        When no year is found anywhere.

    Examples
    --------
    >>> qof_year("PREVALENCE_2223.csv")[2:]
    ('2022-23', 'file name')
    >>> qof_year("qof-1516-csv/PREVALENCE.csv")[2:]
    ('2015-16', 'folder name')
    """
    path = Path(path)
    if year is not None:
        return (*financial_year(year), "year=")
    if frame is not None:
        col = find_column(frame, ["financial year", "qof year", "reporting year", "year"])
        if col is not None:
            values = frame[col].astype(str).str.strip()
            values = values[values != ""].unique()
            if len(values) == 1:
                found = _fy_label(values[0])
                if found:
                    return (*financial_year(found), f"column {col}")
    for where, text in [("file name", path.name)] + [("folder name", p.name) for p in path.parents][:3]:
        found = _fy_label(text)
        if found:
            return (*financial_year(found), where)
    raise DataFormatError("cannot tell the QOF financial year: no year column and none in the "
                          "file or folder name (e.g. PREVALENCE_2223.csv); pass year='2022-23'",
                          path=path)


def _fy_label(text) -> str | None:
    """``2022-23``, ``2022_23``, ``202223``, ``QOF 2223``, ``qof-1516`` -> ``"2022-23"``."""
    text = re.sub(r"^\d{4}-\d{2}-\d{2}_", "", str(text))  # fetch's publication-date prefix
    if re.fullmatch(r"\s*\d{4}\s*", text):  # a year column holding "2023" (QOF year ending)?
        return None
    found = year_from_name(text)
    if found:
        return found
    for m in re.finditer(r"(?<!\d)(\d{2})(\d{2})(?!\d)", text):
        a, b = int(m.group(1)), int(m.group(2))
        if b == (a + 1) % 100 and 3 <= a <= 60:
            return f"{2000 + a}-{b:02d}"
    return None


def _files(path) -> list[Path]:
    """One file, a list of files, or the CSVs of a folder (sorted)."""
    if isinstance(path, list | tuple):
        return [Path(p) for p in path]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv"
                       and not f.name.startswith((".", "~$")))
        if not files:
            raise DataFormatError("the folder holds no .csv files", path=p)
        return files
    return [p]


def _codes(frame, col) -> pd.Series:
    return frame[col].astype(str).str.strip().str.upper()


# ---------------------------------------------------------------------------------------------
# the year's zip, as NHS Digital publishes it (and `cqc-research fetch qof` downloads it)
_MEMBERS = {"qof_prevalence": ("PREVALENCE",), "qof_achievement": ("ACHIEVEMENT",),
            "qof_geography": ("MAPPING_NHS_GEOGRAPHIES", "ORGANISATION_REFERENCE")}


def _is_zip(path) -> bool:
    return not isinstance(path, list | tuple) and Path(path).suffix.lower() == ".zip"


def _from_zip(path, kind, load, *, year, with_report, **kwargs):
    """Read the zip's member(s) of one kind with ``load``; provenance names the zip and member."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".csv")
                     and Path(n).name.upper().startswith(_MEMBERS[kind])]
            if not names:
                raise DataFormatError(f"the zip holds no {' or '.join(_MEMBERS[kind])}*.csv; its "
                                      f"CSVs: {', '.join(Path(n).name for n in zf.namelist() if n.lower().endswith('.csv')) or 'none'}",
                                      path=path)
            if kind != "qof_achievement" and len(names) > 1:
                raise DataFormatError(f"the zip holds {len(names)} {_MEMBERS[kind][0]} files "
                                      f"({', '.join(names)}); extract the one to load", path=path)
            from_zip_name = False
            with tempfile.TemporaryDirectory() as tmp:
                files = []
                for n in names:
                    target = Path(tmp) / Path(n).name
                    target.write_bytes(zf.read(n))
                    files.append(target)
                if year is None:  # the members' own names, else the zip's
                    try:
                        qof_year(files[0])
                    except DataFormatError:
                        year, from_zip_name = qof_year(path)[2], True
                arg = files if kind == "qof_achievement" else files[0]
                if kind == "qof_achievement" and kwargs.get("indicators") is None:
                    listing = [n for n in zf.namelist() if n.lower().endswith(".csv") and Path(
                        n).name.upper().startswith(("MAPPING_INDICATORS", "INDICATOR_MAPPINGS"))]
                    if len(listing) == 1:
                        kwargs["indicators"] = Path(tmp) / Path(listing[0]).name
                        kwargs["indicators"].write_bytes(zf.read(listing[0]))
                result = load(arg, year=year, with_report=with_report, **kwargs)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(f"not a readable zip archive ({exc})", path=path) from None
    frame = result[0] if with_report else result
    frame.attrs["source"] = f"{path}::{', '.join(names)}"
    frame.attrs["synthetic"] = bool(is_synthetic(path))
    if with_report:
        result[1].path = path
        if from_zip_name and result[1].period:
            result[1].period = result[1].period.replace("the year=", "the zip's name")
        result[1].notes.insert(0, f"read from the zip's {', '.join(names)}")
    return result


# ---------------------------------------------------------------------------------------------
# prevalence
def load_qof_prevalence(path, *, year=None, errors: str = "report", with_report: bool = False):
    """Load a QOF practice prevalence file: register sizes and the list sizes they are counted in.

    One row per practice and register (``GROUP_CODE`` ``AST``, ``DM``, ...). Columns are found
    by meaning: the practice code (``PRACTICE_CODE``, ``practicecode``), the register
    (``GROUP_CODE``, ``INDICATOR_GROUP_CODE``, ``indicator_group``), its size (``REGISTER``,
    ``REGISTER_SIZE``, ``disease_register_size``), the list size (``PRACTICE_LIST_SIZE``,
    ``PATIENT_LIST_SIZE``, ``practice_listsize``) and, where published, which ages that list
    counts (``PATIENT_LIST_TYPE``: ``TOTAL``, ``06OV``, ``16OV``, ``17OV``, ``18OV``, ``50OV``).
    A register published twice for a practice (2013-14's two heart failure rows) keeps the
    larger, counted in the report's ``dropped``.

    Parameters
    ----------
    path : str or Path
        The CSV, or the year's zip as published (its ``PREVALENCE*.csv`` member is read).
    year : str or int, optional
        The financial year (``"2022-23"``); by default from a year column, else the file name
        (``PREVALENCE_2223.csv``), else the folder name (see :func:`qof_year`).
    errors : {"report", "raise"}
        ``"report"`` counts cells that are not numbers (NaN, never 0) and warns;
        ``"raise"`` stops at the first with a :class:`~cqc_research.errors.DataFormatError`.
    with_report : bool
        Also return a ``ReadReport``: the year and where it came from (``period``), the list
        type of each register, rows dropped, and the parse report.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="practice"``, one measure per register,
        ``qof_prevalence_<register>`` (lower case, e.g. ``qof_prevalence_ast``): ``numerator``
        the register, ``denominator`` the list size of the ages the register counts,
        ``value`` = 100 x register / list size (NaN where the list size is 0 or missing).

    Raises
    ------
    DataFormatError
        When a required column is missing (the message names it and, if the file is another
        known kind, its loader) or no financial year can be found.
    """
    check_errors(errors)
    if _is_zip(path):
        return _from_zip(path, "qof_prevalence", load_qof_prevalence, year=year,
                         with_report=with_report, errors=errors)
    path = Path(path)
    frame, rows = read_table_csv(path)
    kw = dict(path=path, expected_kind="qof_prevalence", required=True)
    c_code = find_column(frame, _PRACTICE, what="PRACTICE_CODE", **kw)
    c_group = find_column(frame, ["group code", "indicator group code", "indicator group",
                                  "register group", "disease group", "group"], what="GROUP_CODE", **kw)
    c_reg = find_column(frame, ["register", "register size", "disease register size",
                                "register count"], what="REGISTER", **kw)
    c_list = find_column(frame, ["practice list size", "patient list size", "practice listsize",
                                 "list size", "patient listsize"], what="PRACTICE_LIST_SIZE", **kw)
    c_type = find_column(frame, ["patient list type", "list type"])
    c_name = find_column(frame, ["practice name"])
    start, end, label, source = qof_year(path, year, frame)
    report: dict = {}
    register = parse_numeric(frame[c_reg], column=c_reg, rows=rows, report=report, path=path,
                             errors=errors)
    listsize = parse_numeric(frame[c_list], column=c_list, rows=rows, report=report, path=path,
                             errors=errors)
    codes = _codes(frame, c_code)
    groups = frame[c_group].astype(str).str.strip().str.upper()
    bad = (codes == "") | (groups == "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        col = c_code if codes.iloc[pos] == "" else c_group
        raise DataFormatError("a row has no practice code or register; expected both on every row",
                              path=path, row=int(rows[pos]), column=col)
    keys = pd.DataFrame({"org_code": codes, "group": groups, "register": register,
                         "listsize": listsize, "row": rows,
                         "org_name": clean_text(frame[c_name]) if c_name else pd.NA,
                         "list_type": frame[c_type].astype(str).str.strip().str.upper()
                         if c_type else pd.NA})
    n_read = len(keys)
    # a register published twice for a practice: keep the larger (2013-14's HF and HF due to LVD)
    keys = keys.sort_values(["org_code", "group", "register"], ascending=[True, True, False],
                            na_position="last", kind="stable")
    dup = keys.duplicated(["org_code", "group"], keep="first")
    keys = keys.loc[~dup].sort_values("row", kind="stable").reset_index(drop=True)
    keys["period_start"], keys["period_end"] = start, end
    specs = []
    value = ratio(keys["register"], keys["listsize"], scale=100)
    for g in pd.unique(keys["group"]):
        m = (keys["group"] == g).to_numpy()
        specs.append((f"qof_prevalence_{_slug(g)}", value, keys["register"].to_numpy(),
                      keys["listsize"].to_numpy(), m))
    out = stack_measures(keys, specs, org_level="practice")
    notes = []
    if c_type:
        types = keys.groupby("group", sort=True)["list_type"].agg(lambda s: "/".join(sorted(set(s))))
        notes.append("list size counted per register (PATIENT_LIST_TYPE): "
                     + ", ".join(f"{g} {t}" for g, t in types.items()))
    else:
        notes.append("no PATIENT_LIST_TYPE column: each row's list size is taken as the "
                     "denominator of its register, as published")
    zero = int(((keys["listsize"] == 0) & keys["register"].notna()).sum())
    if zero:
        notes.append(f"{zero:,} practice-register rows have a list size of 0: value NaN, not 0")
    if errors == "report":
        warn_unparseable(report, path)
    dropped = {"register published twice for a practice (larger kept)": int(dup.sum())}
    result = loaded_table(out, path, kind="qof_prevalence", report=report, excluded=dropped,
                          period=f"{label} (from the {source})", notes=notes,
                          with_report=with_report)
    if with_report:
        result[1].rows_read = n_read
        result[1].layout = _prevalence_layout(c_group, c_reg, c_list, c_type)
    return result


def _prevalence_layout(c_group, c_reg, c_list, c_type) -> str:
    if normalise_header(c_reg) == "disease register size":
        return "2013-14 (practicecode, indicator_group, disease_register_size, practice_listsize)"
    if normalise_header(c_reg) == "register size":
        return "2014-15 (INDICATOR_GROUP_CODE, REGISTER_SIZE, PRACTICE_LIST_SIZE)"
    if normalise_header(c_group) == "indicator group code":
        return "2015-16 to 2018-19 (INDICATOR_GROUP_CODE, REGISTER, PATIENT_LIST_SIZE)"
    if normalise_header(c_list) == "patient list size":
        return "2019-20 (GROUP_CODE, REGISTER, PATIENT_LIST_TYPE, PATIENT_LIST_SIZE)"
    return "2020-21 on (GROUP_CODE, REGISTER, PATIENT_LIST_TYPE, PRACTICE_LIST_SIZE)"


def _point_values(path) -> dict:
    """``MAPPING_INDICATORS``: indicator code -> the points it is worth."""
    table = load_qof_indicators(path)
    ok = table["point_value"].notna()
    return dict(zip(table["indicator_code"][ok], table["point_value"][ok], strict=True))


def load_qof_indicators(path, *, with_report: bool = False):
    """Load QOF's list of a year's indicators (``MAPPING_INDICATORS_2223.csv``): a lookup.

    Columns found by meaning: ``INDICATOR_CODE``, ``INDICATOR_POINT_VALUE`` (required),
    ``INDICATOR_DESCRIPTION``, ``GROUP_CODE`` (``INDICATOR_GROUP_CODE`` before 2019-20),
    ``GROUP_DESCRIPTION``, ``DOMAIN_CODE``, ``DOMAIN_DESCRIPTION``, ``PATIENT_LIST_TYPE``.
    ``INDICATOR_MAPPINGS.csv`` of 2015-16 to 2018-19 loads too. Pass it to
    :func:`load_qof_achievement` (``indicators=``) for ``qof_points_pct``.

    Parameters
    ----------
    path : str or Path
        The CSV.
    with_report : bool
        Also return a ``ReadReport``.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        ``indicator_code, description, point_value, group_code, group_description,
        domain_code, domain_description, list_type`` (codes upper-cased; NA where a year lacks
        the column). Not an indicator table.

    Raises
    ------
    DataFormatError
        A required column is missing, or a point value is not a number (the row is named).
    """
    path = Path(path)
    frame, rows = read_table_csv(path)
    kw = dict(path=path, required=True, expected_kind="qof_indicators")
    c_ind = find_column(frame, ["indicator code", "indicator"], what="INDICATOR_CODE", **kw)
    c_pts = find_column(frame, ["indicator point value", "point value", "maximum points",
                                "indicator points"], what="INDICATOR_POINT_VALUE", **kw)
    report: dict = {}
    values = parse_numeric(frame[c_pts], column=c_pts, rows=rows, report=report, path=path,
                           errors="raise")
    cols = {"description": ["indicator description", "description"],
            "group_code": ["group code", "indicator group code"],
            "group_description": ["group description", "indicator group description"],
            "domain_code": ["domain code"], "domain_description": ["domain description"],
            "list_type": ["patient list type", "list type"]}
    out = pd.DataFrame({"indicator_code": frame[c_ind].astype(str).str.strip().str.upper()})
    for k, aliases in cols.items():
        c = find_column(frame, aliases)
        text = clean_text(frame[c]) if c else pd.Series(pd.NA, index=frame.index, dtype="str")
        out[k] = text.str.upper() if c and k.endswith(("code", "type")) else text
    out.insert(2, "point_value", values)
    return loaded_table(out, path, kind="qof_indicators", report=report, with_report=with_report)


def _each_distinct(values, fn) -> pd.Series:
    """``fn`` applied once per distinct value of a long column (a national file has ~2M rows)."""
    codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=False)
    mapped = np.array([fn(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=getattr(values, "index", None))


def _slug(text) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_")


# ---------------------------------------------------------------------------------------------
# achievement
def load_qof_achievement(path, *, year=None, indicators=None, errors: str = "report",
                         with_report: bool = False):
    """Load QOF achievement: the long file ``PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE``.

    ``path`` may be one file, a list, or a folder of CSVs (2022-23 publishes one achievement
    file per NHS region); the practices of all of them are read together. ``MEASURE`` is
    matched case- and space-insensitively: ``ACHIEVED_POINTS``, ``NUMERATOR``,
    ``DENOMINATOR``, ``REGISTER`` and the exclusions (:data:`QOF_EXCLUSION_MEASURES`:
    ``EXCEPTIONS`` to 2018-19, ``PCAS`` from 2019-20). Other measures are counted in the
    report's ``dropped`` and not read. A practice, indicator and measure given twice is an error.

    Parameters
    ----------
    path : str or Path, or list of them
        A CSV, a list of CSVs, a folder holding them (all of one financial year), or the year's
        zip as published (its ``ACHIEVEMENT*.csv`` members are read together).
    year : str or int, optional
        The financial year; by default from each file's name or folder (see :func:`qof_year`).
    indicators : str or Path, optional
        The year's indicator list (``MAPPING_INDICATORS_2223.csv``; ``INDICATOR_MAPPINGS.csv``
        before 2019-20): ``INDICATOR_CODE`` and ``INDICATOR_POINT_VALUE``, the points each
        indicator is worth, for ``qof_points_pct``. Read from the zip when ``path`` is one.
    errors : {"report", "raise"}
        ``"report"`` counts ``VALUE`` cells that are not numbers (NaN, never 0) and warns;
        ``"raise"`` stops at the first.
    with_report : bool
        Also return a ``ReadReport`` (the year and where it came from, the measures found,
        rows dropped, the parse report).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="practice"``; for each indicator code ``<ind>``
        (lower case, e.g. ``dm012``) that has them:

        - ``qof_achievement_<ind>``: the percentage achieved, 100 x ``NUMERATOR`` /
          ``DENOMINATOR`` (numerator and denominator as published; the denominator is net of
          exceptions / PCAs, so this is QOF's "underlying achievement");
        - ``qof_points_<ind>``: ``ACHIEVED_POINTS``;
        - ``qof_pca_rate_<ind>``: the exclusion rate, 100 x exclusions / (``DENOMINATOR`` +
          exclusions), numerator exclusions, denominator the sum;
        - ``qof_register_<ind>``: ``REGISTER``, for the register indicators;

        and per practice ``qof_points_total``, the sum of the practice's achieved points over
        every indicator published for it, and ``qof_achievement_pct``, its achievement pooled
        over every indicator with a numerator and a denominator: 100 x the sum of the
        numerators / the sum of the denominators (numerator and denominator those sums); with
        ``indicators``, ``qof_points_pct``: 100 x the points achieved / the points available,
        over the indicators published for the practice that have a point value.
    """
    check_errors(errors)
    if _is_zip(path):
        return _from_zip(path, "qof_achievement", load_qof_achievement, year=year,
                         with_report=with_report, errors=errors, indicators=indicators)
    files = _files(path)
    frames, reports, years, notes = [], [], set(), []
    other: dict[str, int] = {}
    for f in files:
        frame, rows = read_table_csv(f)
        kw = dict(path=f, expected_kind="qof_achievement", required=True)
        c_code = find_column(frame, _PRACTICE, what="PRACTICE_CODE", **kw)
        c_ind = find_column(frame, ["indicator code", "indicator", "indicator id"],
                            what="INDICATOR_CODE", **kw)
        c_meas = find_column(frame, ["measure", "measure type", "measure name"], what="MEASURE", **kw)
        c_val = find_column(frame, ["value", "measure value"], what="VALUE", **kw)
        c_name = find_column(frame, ["practice name"])
        start, end, label, source = qof_year(f, year, frame)
        years.add((start, end, label))
        notes.append(f"{f.name}: {label} (from the {source})")
        report: dict = {}
        value = parse_numeric(frame[c_val], column=c_val, rows=rows, report=report, path=f,
                              errors=errors)
        if errors == "report":
            warn_unparseable(report, f)
        reports.append(report)
        measure = _each_distinct(frame[c_meas], lambda m: re.sub(r"[\s\-]+", "_", m.strip().upper()))
        frames.append(pd.DataFrame({
            "org_code": _each_distinct(frame[c_code], lambda c: c.strip().upper()),
            "indicator": _each_distinct(frame[c_ind], lambda c: c.strip().upper()),
            "measure": measure, "value": value, "row": rows, "file": str(f),
            "org_name": clean_text(frame[c_name]) if c_name else pd.NA}))
    if len(years) > 1:
        raise DataFormatError("the files are of different financial years ("
                              + ", ".join(sorted(y[2] for y in years))
                              + "); load each year separately", path=files[0])
    start, end, label = next(iter(years))
    long = pd.concat(frames, ignore_index=True)
    n_read = len(long)
    role = _each_distinct(long["measure"], lambda m: "exclusions" if m in QOF_EXCLUSION_MEASURES
                          else {"ACHIEVED_POINTS": "points", "POINTS": "points",
                                "NUMERATOR": "numerator", "DENOMINATOR": "denominator",
                                "REGISTER": "register"}.get(m))
    for m, k in long.loc[role.isna(), "measure"].value_counts().items():
        other[f"MEASURE {m} (not read)"] = int(k)
    long = long.assign(role=role).loc[role.notna()]
    dup = long.duplicated(["org_code", "indicator", "role"], keep="first")
    if dup.any():  # the repeat is named
        first = long.loc[dup].iloc[0]
        raise DataFormatError(
            f"practice {first['org_code']} indicator {first['indicator']} has {first['measure']} "
            "more than once; expected one row per practice, indicator and measure",
            path=first["file"], row=int(first["row"]), column="MEASURE")
    # one pivot: a published cell that is missing is -inf here, so "the file has a row" is notna
    wide = long.assign(value=long["value"].fillna(-np.inf)).pivot(
        index=["org_code", "indicator"], columns="role", values="value")
    seen = wide.notna()
    wide = wide.replace(-np.inf, np.nan)
    for r in ("points", "numerator", "denominator", "register", "exclusions"):
        if r not in wide:
            wide[r] = np.nan
    names = long.dropna(subset=["org_name"]).drop_duplicates("org_code").set_index("org_code")["org_name"] \
        if long["org_name"].notna().any() else pd.Series(dtype="str")
    wide = wide.reset_index()
    keys = pd.DataFrame({"org_code": wide["org_code"], "period_start": start, "period_end": end,
                         "org_name": wide["org_code"].map(names) if len(names) else pd.NA})

    def present(*roles):  # the file has a row for each role (its value may be suppressed)
        ok = np.ones(len(wide), bool)
        for r in roles:
            ok &= seen[r].to_numpy() if r in seen else False
        return ok

    has_nd, has_pts = present("numerator", "denominator"), present("points")
    has_exc, has_reg = present("exclusions", "denominator"), present("register")

    specs = []
    num, den = wide["numerator"].to_numpy(), wide["denominator"].to_numpy()
    exc, pts, reg = wide["exclusions"].to_numpy(), wide["points"].to_numpy(), wide["register"].to_numpy()
    inds = wide["indicator"].to_numpy()
    achieved, pca_rate = ratio(num, den, 100), ratio(exc, den + exc, 100)
    slug = pd.Series(inds).map({i: _slug(i) for i in pd.unique(inds)}).to_numpy(dtype=object)
    # one spec per kind of measure, the indicator in the measure's name (vectorised: a national
    # file has ~75 indicators for ~6,400 practices)
    specs.append(("qof_achievement_" + slug, achieved, num, den, has_nd))
    specs.append(("qof_points_" + slug, pts, None, None, has_pts))
    specs.append(("qof_pca_rate_" + slug, pca_rate, exc, den + exc, has_exc))
    specs.append(("qof_register_" + slug, reg, None, None, has_reg))
    out = stack_measures(keys, specs, org_level="practice")
    # per practice: the points summed, and the achievement pooled over every indicator
    totals = long.loc[long["role"] == "points"].groupby("org_code")["value"].sum(min_count=1)
    both = has_nd & np.isfinite(num) & np.isfinite(den)
    pooled = pd.DataFrame({"org_code": wide["org_code"][both], "num": num[both],
                           "den": den[both]}).groupby("org_code")[["num", "den"]].sum()
    practices = totals.index.union(pooled.index)
    if len(practices):
        tk = pd.DataFrame({"org_code": practices, "period_start": start, "period_end": end,
                           "org_name": practices.map(names) if len(names) else pd.NA})
        pn, pd_ = pooled["num"].reindex(practices).to_numpy(), pooled["den"].reindex(practices).to_numpy()
        extra = [("qof_points_total", totals.reindex(practices).to_numpy(), None, None,
                  practices.isin(totals.index)),
                 ("qof_achievement_pct", ratio(pn, pd_, 100), pn, pd_, practices.isin(pooled.index))]
        if indicators is not None:
            worth = _point_values(indicators)
            w = pd.Series(inds).map(worth).to_numpy(dtype=float)
            ok = has_pts & np.isfinite(w)
            avail = pd.DataFrame({"org_code": wide["org_code"][ok], "pts": np.nan_to_num(pts[ok]),
                                  "worth": w[ok]}).groupby("org_code")[["pts", "worth"]].sum()
            an, ad = avail["pts"].reindex(practices).to_numpy(), avail["worth"].reindex(practices).to_numpy()
            extra.append(("qof_points_pct", ratio(an, ad, 100), an, ad, practices.isin(avail.index)))
            lacking = sorted(set(pd.unique(inds)) - set(worth))
            if lacking:
                notes.append(f"indicators with no point value in {Path(indicators).name} (not in "
                             f"qof_points_pct): {', '.join(lacking)}")
        out = pd.concat([out, stack_measures(tk, extra, org_level="practice")], ignore_index=True)
        out = finish_table(out)
    found = sorted(long["measure"].unique())
    notes.insert(0, f"measures read: {', '.join(found)}; indicators: {len(pd.unique(inds)):,}; "
                 f"practices: {wide['org_code'].nunique():,}")
    result = loaded_table(out, files if len(files) > 1 else files[0], kind="qof_achievement",
                          report=merge_parse_reports(reports), excluded=other, period=label,
                          notes=notes, with_report=with_report)
    if with_report:
        result[1].rows_read = n_read
        result[1].layout = "long: PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE"
    return result


# ---------------------------------------------------------------------------------------------
# geography
#: Output column -> header aliases, most specific first (2022-23, 2021-22, 2019-20/2020-21,
#: 2015-16 to 2018-19 ``ORGANISATION_REFERENCE``).
_GEOGRAPHY = {
    "practice_name": ["practice name"],
    "pcn_code": ["pcn ods code", "pcn code"],
    "pcn_name": ["pcn name"],
    "sub_icb_code": ["sub icb ods code", "sub icb loc ods code", "sub icb location ods code",
                     "sub icb code", "ccg ods code", "ccg code"],
    "sub_icb_ons_code": ["sub icb ons code", "sub icb loc ons code", "sub icb location ons code",
                         "ccg ons code", "ccg geography code"],
    "sub_icb_name": ["sub icb name", "sub icb loc name", "sub icb location name", "ccg name"],
    "icb_code": ["icb ods code", "icb code", "stp ods code", "stp code"],
    "icb_ons_code": ["icb ons code", "stp ons code", "stp geography code"],
    "icb_name": ["icb name", "stp name"],
    "region_code": ["region ods code", "region code", "comm region ods code", "nhser ods code"],
    "region_ons_code": ["region ons code", "region geography code"],
    "region_name": ["region name", "comm region name"],
}


def load_qof_geography(path, *, year=None, with_report: bool = False):
    """Load QOF's practice-to-geography mapping: a lookup, one row per practice.

    Reads ``MAPPING_NHS_GEOGRAPHIES_<yy><yy>.csv`` (2019-20 on: ``PCN_ODS_CODE``, ``PCN_NAME``;
    ``SUB_ICB_ODS_CODE`` in 2022-23, ``SUB_ICB_LOC_ODS_CODE`` in 2021-22, ``CCG_ODS_CODE`` before;
    ``ICB_ODS_CODE`` from 2021-22, ``STP_ODS_CODE`` before; ``REGION_ODS_CODE``, each with its ONS
    code and name) and the ``ORGANISATION_REFERENCE.csv`` of 2015-16 to 2018-19 (``ccg_code``,
    ``ccg_geography_code``, ``region_code``; no PCN or STP).

    Parameters
    ----------
    path : str or Path
        The CSV, or the year's zip as published (its ``MAPPING_NHS_GEOGRAPHIES*.csv`` or
        ``ORGANISATION_REFERENCE*.csv`` member is read).
    year : str or int, optional
        The financial year; by default from the file or folder name (see :func:`qof_year`).
        Without one, the period columns are NaT and the report says so.
    with_report : bool
        Also return a ``ReadReport`` (the year, which columns were found, the vintage).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        ``practice_code, practice_name, pcn_code, pcn_name, sub_icb_code, sub_icb_ons_code,
        sub_icb_name, icb_code, icb_ons_code, icb_name, region_code, region_ons_code,
        region_name, geography, financial_year, period_start, period_end``. ``sub_icb_*`` hold
        the CCG and ``icb_*`` the STP in years before sub-ICB locations and ICBs existed;
        ``geography`` says which (``"sub-ICB/ICB"`` or ``"CCG/STP"``). Columns a year lacks
        are NA. Codes upper-cased and stripped.
    """
    if _is_zip(path):
        return _from_zip(path, "qof_geography", load_qof_geography, year=year,
                         with_report=with_report)
    path = Path(path)
    frame, rows = read_table_csv(path)
    c_code = find_column(frame, _PRACTICE, path=path, required=True, what="PRACTICE_CODE",
                         expected_kind="qof_geography")
    cols = {k: find_column(frame, v) for k, v in _GEOGRAPHY.items()}
    if not any(cols[k] for k in ("pcn_code", "sub_icb_code", "icb_code", "region_code")):
        raise missing_column_error(frame, "PCN_ODS_CODE, SUB_ICB_ODS_CODE, ICB_ODS_CODE or "
                                   "REGION_ODS_CODE", path, "qof_geography")
    out = pd.DataFrame({"practice_code": _codes(frame, c_code)})
    for k, c in cols.items():
        if c is None:
            out[k] = pd.Series(pd.NA, index=out.index, dtype="str")
        elif k.endswith("code"):
            out[k] = clean_text(frame[c]).str.upper()
        else:
            out[k] = clean_text(frame[c])
    old = cols["sub_icb_code"] is not None and normalise_header(cols["sub_icb_code"]).startswith("ccg")
    out["geography"] = "CCG/STP" if old else "sub-ICB/ICB"
    try:
        start, end, label, source = qof_year(path, year, frame)
        period = f"{label} (from the {source})"
    except DataFormatError:
        start, end, label, period = pd.NaT, pd.NaT, pd.NA, None
    out["financial_year"] = pd.Series(label, index=out.index, dtype="str")
    out["period_start"] = pd.Series(start, index=out.index).astype("datetime64[us]")
    out["period_end"] = pd.Series(end, index=out.index).astype("datetime64[us]")
    dup = out.duplicated("practice_code")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(f"practice {out['practice_code'].iloc[pos]} is listed twice; "
                              "expected one row per practice", path=path, row=int(rows[pos]),
                              column=c_code)
    notes = ["columns found: " + ", ".join(f"{k} <- {c}" for k, c in cols.items() if c)]
    if period is None:
        notes.append("no financial year in the file or its name: period columns are NaT")
    return loaded_table(out, path, kind="qof_geography", report={}, period=period, notes=notes,
                        with_report=with_report)


def _practice(n) -> set:
    return n & {"practice code", "practicecode"}


register(Kind("qof_indicators", "a QOF indicator list (INDICATOR_CODE, INDICATOR_POINT_VALUE, ...)",
              load_qof_indicators, rank=80,
              columns=lambda n, joined, raw: {"indicator code", "indicator point value"} <= n))
register(Kind("qof_achievement",
              "a QOF achievement CSV (PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE)",
              load_qof_achievement, rank=90,
              columns=lambda n, joined, raw: bool(_practice(n))
              and {"indicator code", "measure", "value"} <= n))
register(Kind("qof_prevalence", "a QOF prevalence CSV (PRACTICE_CODE, GROUP_CODE, REGISTER, ...)",
              load_qof_prevalence, rank=100,
              columns=lambda n, joined, raw: bool(_practice(n)) and bool(
                  n & {"group code", "indicator group code", "indicator group"}) and bool(
                  n & {"register", "register size", "disease register size"})))
register(Kind("qof_geography", "a QOF practice geography mapping CSV (PRACTICE_CODE, PCN_ODS_CODE, ...)",
              load_qof_geography, rank=110,
              columns=lambda n, joined, raw: bool(_practice(n)) and any(x.startswith(
                  ("pcn ods", "sub icb", "icb ods", "stp ods", "ccg ods", "ccg geography"))
                  for x in n)))
