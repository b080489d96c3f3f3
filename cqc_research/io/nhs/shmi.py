"""Summary Hospital-level Mortality Indicator (NHS Digital): trust-level SHMI values and bandings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    check_errors,
    find_column,
    loaded_table,
    month_end,
    normalise_header,
    parse_month_text,
    parse_numeric,
    read_table_csv,
    stack_measures,
    warn_unparseable,
)

__all__ = ["load_shmi"]

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
    a, b = parse_month_text(f"{m.group(1)} {m.group(2)}"), \
        parse_month_text(f"{m.group(3)} {m.group(4)}")
    if a is None or b is None:
        return None
    return a, month_end(b)


def load_shmi(path, *, period=None, errors: str = "report", with_report: bool = False):
    """Load NHS Digital's Summary Hospital-level Mortality Indicator (SHMI), trust level.

    Columns are found by meaning, so each published layout loads (``docs/indicators.md``,
    "SHMI", says which were seen and which are modelled):

    - the trust-level CSV of one publication: ``PROVIDER_CODE, PROVIDER_NAME, TIME_PERIOD,
      SHMI_VALUE, SHMI_BANDING, OBSERVED, EXPECTED, SPELLS`` (``SHMI`` for the value, ``BANDING``
      for the banding, ``PROVIDER_SPELLS`` for the spells also load);
    - the historical trust-level CSV (every rolling year since the series began, in one file):
      ``TIME_PERIOD, PUBLICATION_MONTH, PROVIDER_CODE, PROVIDER_NAME, SHMI_VALUE, SHMI_BANDING,
      OD_LL, OD_UL, OBSERVED, EXPECTED`` and more; a trust and period published more than once
      keeps its latest ``PUBLICATION_MONTH`` (the others are counted in the report's
      ``dropped``); the control limits ``OD_LL``/``OD_UL`` are not kept (the indicator table has
      no interval columns);
    - the older spelled-out headers (``Provider code, Provider name, SHMI value, SHMI banding,
      Provider spells, Observed deaths, Expected deaths``), with the period in the file name
      (``SHMI data at trust level, Oct16-Sep17``).

    ``TIME_PERIOD`` is like ``APR22_MAR23`` (or ``Oct 2016 - Sep 2017``). Banding ``1/2/3``
    (also ``1.0``) = higher than expected / as expected / lower than expected; the labels
    (``Higher than expected``, ``1 - Higher than expected``) also load; ``**`` or ``*`` are
    suppressed. A trust and period given twice without ``PUBLICATION_MONTH`` is an error.

    Parameters
    ----------
    path : str or Path
        The CSV.
    period : tuple of (start, end), optional
        The reporting period when the file has no ``TIME_PERIOD`` column and its name carries
        none (e.g. ``("2022-04", "2023-03")``).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="trust"``, measures ``shmi`` (numerator observed
        deaths, denominator expected deaths), ``shmi_banding`` (1, 2, 3),
        ``shmi_observed_deaths``, ``shmi_expected_deaths`` and ``shmi_spells``.
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path)
    kw = dict(path=path, expected_kind="shmi")
    c_code = find_column(frame, ["provider code", "trust code", "org code", "provider"], required=True,
                   what="PROVIDER_CODE", **kw)
    c_value = find_column(frame, ["shmi value", "shmi"], required=True, what="SHMI_VALUE", **kw)
    c_band = find_column(frame, ["shmi banding", "banding"])
    c_obs = find_column(frame, ["observed", "observed deaths"])
    c_exp = find_column(frame, ["expected", "expected deaths"])
    c_spells = find_column(frame, ["spells", "provider spells", "number of spells",
                                   "total spells"])
    c_name = find_column(frame, ["provider name", "trust name", "org name"])
    c_period = find_column(frame, ["time period", "reporting period", "period"])
    c_pub = find_column(frame, ["publication month", "publication date", "published"])
    limits = [c for c in frame.columns if normalise_header(c) in {
        "od ll", "od ul", "od ll 95", "od ul 95", "lower limit", "upper limit"}
        or re.match(r"(lower|upper) .*(limit|control)", normalise_header(c))]
    dropped: dict = {}
    if c_period is not None and c_pub is not None:
        # the historical file: one row per trust, period and publication; keep the latest
        pub = frame[c_pub].map(lambda t: parse_month_text(str(t).replace("_", " ")))
        order = pd.Series(pub).fillna(pd.Timestamp.min).to_numpy()
        frame = frame.assign(_pub=order, _row=rows).sort_values("_pub", kind="stable")
        code_key = frame[c_code].str.strip().str.upper()
        dup = frame.assign(_k=code_key).duplicated(["_k", c_period], keep="last")
        if dup.any():
            dropped["earlier publications of the same trust and period"] = int(dup.sum())
        frame = frame.loc[~dup].sort_values("_row", kind="stable")
        rows = frame["_row"].to_numpy()
        frame = frame.drop(columns=["_pub", "_row"]).reset_index(drop=True)
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
                     month_end(pd.Timestamp(period[1])))
        starts = pd.Series([found[0]] * n)
        ends = pd.Series([found[1]] * n)
    report: dict = {}

    def num(c):
        if c is None:
            return np.full(n, np.nan)
        return parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                              errors=errors)

    value, obs, exp, spells = num(c_value), num(c_obs), num(c_exp), num(c_spells)
    band = np.full(n, np.nan)
    if c_band is not None:
        text = frame[c_band].str.strip()
        mapped = text.map(_band_code)
        b = parse_numeric(text.where(mapped.isna(), "0"), column=c_band, rows=rows,
                           report=report, path=path, errors=errors)
        band = np.where(mapped.notna(), mapped.astype("float64"), b)
        odd = ~np.isnan(band) & ~np.isin(band, [1, 2, 3])
        if odd.any():
            pos = int(np.flatnonzero(odd)[0])
            raise DataFormatError(f"SHMI banding {text.iloc[pos]!r} is not 1, 2 or 3", path=path,
                                  row=int(rows[pos]), column=c_band)
    codes = frame[c_code].str.strip().str.upper()
    twice = pd.DataFrame({"c": codes, "s": starts.to_numpy(), "e": ends.to_numpy()}).duplicated(
        keep="first")
    if twice.any():  # the repeat is named
        pos = int(np.flatnonzero(twice.to_numpy())[0])
        raise DataFormatError(f"trust {codes.iloc[pos]} appears twice for the same period; "
                              "expected one row per trust and period (or a PUBLICATION_MONTH "
                              "column saying which publication is the latest)", path=path,
                              row=int(rows[pos]), column=c_code)
    keys = pd.DataFrame({"org_code": codes,
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
        warn_unparseable(report, path)
    out = stack_measures(keys, specs, org_level="trust")
    notes = []
    if limits:
        notes.append("control limits not kept (the indicator table has no interval columns): "
                     + ", ".join(limits))
    periods = sorted(set(zip(keys["period_start"], keys["period_end"], strict=True)))
    label = (f"{periods[0][0]:%Y-%m} to {periods[-1][1]:%Y-%m}" + (
        f" ({len(periods)} rolling periods)" if len(periods) > 1 else "")) if periods else None
    return loaded_table(out, path, kind="shmi", report=report, excluded=dropped, period=label,
                        notes=notes, with_report=with_report)


def _band_code(text):
    """``1``, ``1.0``, ``Higher than expected``, ``1 - Higher than expected`` -> 1 (or None)."""
    t = normalise_header(text)
    t = re.sub(r"^(\d) 0\b", r"\1", t)
    if t in _SHMI_BANDS:
        return _SHMI_BANDS[t]
    m = re.fullmatch(r"([123])\s+(.*)", t)
    if m and _SHMI_BANDS.get(m.group(2)) == int(m.group(1)):
        return int(m.group(1))
    return None


register(Kind("shmi", "a SHMI CSV", load_shmi, rank=120,
              columns=lambda n, joined, raw: any(x in n for x in ("shmi value", "shmi", "shmi banding"))))
