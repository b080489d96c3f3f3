"""Area tables: indices of deprivation, population aged 65+, and local-authority codes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    ORG_LEVELS,
    check_errors,
    find_column,
    loaded_table,
    missing_column_error,
    normalise_header,
    parse_numeric,
    read_table_csv,
    stack_measures,
    warn_unparseable,
)

__all__ = ["load_imd", "load_la_codes", "load_population"]

# deprivation, population, local-authority codes
LA_CODE = re.compile(r"^E(0[6-9]|10)\d{6}$")


PRACTICE_CODE = re.compile(r"^[A-Z]\d{5}$")


def _code_level(codes: pd.Series) -> str | None:
    c = codes.dropna().astype(str).str.strip().str.upper()
    if c.empty:
        return None
    if c.str.match(LA_CODE).mean() > 0.9:
        return "local_authority"
    if c.str.match(PRACTICE_CODE).mean() > 0.9:
        return "practice"
    if c.str.fullmatch(r"R[A-Z0-9]{2}").mean() > 0.9:
        return "trust"
    if c.str.fullmatch(r"R[A-Z0-9]{4}").mean() > 0.9:
        return "site"
    return None


def _year_in(text) -> int | None:
    m = re.search(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)", str(text))
    return int(m.group(1)) if m else None


def load_imd(path, *, level=None, year=None, errors: str = "report", with_report: bool = False):
    """Load an area deprivation table: a code and an Index of Multiple Deprivation score.

    Reads any CSV with a code column (``Practice Code``, ``Area Code``, ``Local Authority
    District code (2019)``, ``LAD code``, ``code``, ...) and a score column (``IMD - Average
    score``, ``IMD score``, ``IMD 2019 score``, ``Value``, ...). Deprivation is an area
    characteristic, not a performance series: the period is NaT (time-invariant), so linkage
    attaches it whatever the rating's date. The IMD edition (``year=``, else from the headers,
    e.g. ``(2019)``, or the file name) is the report's ``period`` (``with_report=True``).

    Parameters
    ----------
    path : str or Path
        The CSV.
    level : {"practice", "local_authority"}, optional
        Defaults from the code column's name, else from the codes' pattern.
    year : int, optional
        The IMD edition (for the report's ``period``, e.g. ``"IMD 2019"``).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table (``period_start``/``period_end`` NaT) with measure
        ``imd_score`` (and ``imd_rank`` when a rank column is present).
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path)
    kw = dict(path=path, expected_kind="imd")
    c_code = find_column(frame, ["practice code", "area code", "local authority district code 2019",
                           "local authority district code", "lad code", "lad19cd", "la code",
                           "code", "org code", "org_code"], required=True, what="code", **kw)
    score_aliases = ["imd average score", "imd score", "imd 2019 score", "index of multiple "
                     "deprivation imd score", "imd 2019", "deprivation score", "score", "value",
                     "imd_score"]
    c_score = find_column(frame, score_aliases)
    if c_score is None:
        c_score = next((c for c in frame.columns if "imd" in normalise_header(c) and "score" in normalise_header(c)
                        and "rank" not in normalise_header(c)), None)
    if c_score is None:
        raise missing_column_error(frame, "IMD score", path, "imd")
    c_rank = find_column(frame, ["imd rank of average score", "imd rank", "rank"])
    c_name = find_column(frame, ["practice name", "area name", "local authority district name 2019",
                           "local authority district name", "lad name", "name", "org name"])
    if level is None:
        n = normalise_header(c_code)
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
    score = parse_numeric(frame[c_score], column=c_score, rows=rows, report=report, path=path,
                           errors=errors)
    keys = pd.DataFrame({"org_code": frame[c_code].str.strip().str.upper(),
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA,
                         "period_start": pd.NaT, "period_end": pd.NaT})
    specs = [("imd_score", score, None, None)]
    if c_rank:
        specs.append(("imd_rank", parse_numeric(frame[c_rank], column=c_rank, rows=rows,
                                                 report=report, path=path, errors=errors),
                      None, None))
    if errors == "report":
        warn_unparseable(report, path)
    out = stack_measures(keys, specs, org_level=level)
    return loaded_table(out, path, kind="imd", report=report, with_report=with_report,
                        period=f"IMD {year}" if year else None)


def load_population(path, *, year=None, errors: str = "report", with_report: bool = False):
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
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="local_authority"``, measure ``population_65plus``
        with the period the calendar year of the estimate (mid-year = 30 June). Rows for
        England, regions and countries (``Geography`` not a local-authority type, or codes
        ``E92``/``E12``) are dropped and counted in the report's ``dropped`` (``with_report=True``).
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("Code",))
    kw = dict(path=path, expected_kind="population")
    c_code = find_column(frame, ["code", "la code", "lad code", "area code", "org code", "org_code"],
                   required=True, what="Code", **kw)
    c_name = find_column(frame, ["name", "la name", "area name", "org name"])
    c_geo = find_column(frame, ["geography", "geography1"])
    c_year = find_column(frame, ["mid year", "year", "mid_year"])
    c_pop = find_column(frame, ["population aged 65 and over", "aged 65 and over", "aged 65",
                          "population 65", "population_65plus", "65 and over", "65"])
    report: dict = {}
    if c_pop is not None and normalise_header(c_pop) != "65":
        pop = parse_numeric(frame[c_pop], column=c_pop, rows=rows, report=report, path=path,
                             errors=errors)
    else:
        ages = [c for c in frame.columns if re.fullmatch(r"(\d{1,3})\+?", c.strip())
                and int(c.strip().rstrip("+")) >= 65]
        if not ages:
            raise missing_column_error(frame, "Population aged 65 and over", path, "population")
        parts = [parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
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
        warn_unparseable(report, path)
    out = stack_measures(keys, [("population_65plus", pop, None, None)], org_level="local_authority")
    return loaded_table(out, path, kind="population", report=report,
                        excluded={"England, regions and countries": int(drop.sum())}, with_report=with_report)


def load_la_codes(path, *, with_report: bool = False):
    """Load a local-authority code lookup: old codes to current ONS codes.

    Columns found by name: ``old_code`` (``Old code``, ``Previous code``, ``Legacy code``),
    ``new_code`` (``New code``, ``ONS code``, ``Current code``) and optionally ``name``.

    Parameters
    ----------
    path : str or os.PathLike
        The lookup CSV.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        ``old_code, new_code, name`` (codes upper-cased and stripped).
    """
    path = Path(path)
    frame, _ = read_table_csv(path)
    kw = dict(path=path, expected_kind="la_codes", required=True)
    c_old = find_column(frame, ["old code", "old_code", "previous code", "legacy code", "old la code"],
                  what="old_code", **kw)
    c_new = find_column(frame, ["new code", "new_code", "ons code", "current code", "new la code"],
                  what="new_code", **kw)
    c_name = find_column(frame, ["name", "la name", "local authority"])
    out = pd.DataFrame({"old_code": frame[c_old].str.strip().str.upper(),
                        "new_code": frame[c_new].str.strip().str.upper(),
                        "name": frame[c_name].str.strip() if c_name else pd.NA})
    return loaded_table(out, path, kind="la_codes", report={}, with_report=with_report)


register(Kind("imd", "a deprivation (IMD) CSV", load_imd, rank=150,
              columns=lambda n, joined, raw: "imd" in joined or "deprivation" in joined))
register(Kind("la_codes", "a local-authority code lookup", load_la_codes, rank=160,
              columns=lambda n, joined, raw: any(
                  x in n for x in ("old code", "old_code", "previous code", "legacy code"))))
register(Kind("population", "a population CSV", load_population, rank=170,
              columns=lambda n, joined, raw: "65" in joined and "code" in n))
