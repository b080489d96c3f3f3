"""Local systems: ratings aggregated to local authority and region, delayed transfers of care.

CQC's local system reviews looked at areas where older people waited longest to leave hospital.
This module puts the pieces side by side for every area:

- :func:`area_summary`: the share of locations rated Good or Outstanding (Wilson intervals), by
  area and sector, with care-home beds where the bed count is known, and the same share for
  the area's region and for England beside it;
- :func:`dtoc_rates`: delayed transfers of care (delayed days) per 100,000 people aged 65 and
  over, over a chosen period, with exact Poisson intervals, from the tidy tables of
  :func:`cqc_research.io.nhs.load_dtoc` and :func:`~cqc_research.io.nhs.load_population`;
- :func:`join_dtoc`: attach those rates to the area summary, matching areas by code where the
  summary has one and otherwise by a normalised name, and reporting what did not match;
- :func:`rank_with_uncertainty`: league-table ranks with intervals, by simulation from each
  area's posterior (Beta for proportions, Gamma for rates), so that the many areas whose ranks
  overlap are not over-read.

Funnel plots of areas use :func:`cqc_research.metrics.funnel.funnel_limits` on the summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataFormatError, InsufficientData
from ..geography import current_la_code, normalise_area_name
from ..ratings import RATING_DTYPE, filter_sector
from ._contract import keeps_provenance
from ._inputs import as_list, scale_codes
from .funnel import funnel_limits
from .intervals import proportion_ci

__all__ = [
    "area_summary",
    "dtoc_rates",
    "join_dtoc",
    "rank_with_uncertainty",
    "good_or_better_funnel",
]

#: The ratings counted as "Good or Outstanding".
GOOD_OR_BETTER = ("Good", "Outstanding")
ALL = "All sectors"


def _rated_locations(ratings: pd.DataFrame, level: str | None) -> pd.DataFrame:
    """One Overall rating per organisation from a long or a one-row-per-organisation table."""
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, not {type(ratings).__name__}")
    need = [c for c in ("org_id", "rating") if c not in ratings.columns]
    if need:
        if "Overall" in ratings.columns and "org_id" in ratings.columns:  # ratings_wide output
            ratings = ratings.rename(columns={"Overall": "rating"})
        else:
            raise DataFormatError(f"the ratings table has no column(s) {need}; expected the long ratings "
                                  "table (io.cqc_files.load_latest_ratings or load_api_folder(...).ratings)",
                                  column=need[0])
    scale_codes(ratings["rating"], name="rating")
    d = ratings
    if level is not None and "level" in d.columns:
        d = d[d["level"] == level]
    if "service_group" in d.columns:
        d = d[d["service_group"].astype("object") == "Overall"]
    if "domain" in d.columns:
        d = d[d["domain"].astype("object") == "Overall"]
    dup = d.duplicated(subset=["org_id"], keep="last")
    if dup.any():
        i = d.index[dup.to_numpy()][0]
        raise DataFormatError(f"organisation {d.at[i, 'org_id']!r} has more than one Overall rating "
                              f"(index {i!r}); pass one snapshot of current ratings", column="org_id")
    return d.copy()


def _bed_share(g: pd.DataFrame, alpha: float):
    """Share of care-home beds in homes rated Good or better, with an interval.

    Homes, not beds, are the independent units (a home's beds share its rating). The interval is
    a Wilson interval on Kish's effective number of homes, ``(sum b)**2 / sum(b**2)``, which
    stays inside [0, 1] and is not degenerate when every home is rated Good.
    """
    b = g["_beds"].to_numpy(float)
    ok = np.isfinite(b) & (b > 0)
    b, y = b[ok], g["_good"].to_numpy(float)[ok]
    m = len(b)
    if m == 0:
        return 0.0, 0.0, np.nan, np.nan, np.nan, 0
    r = float((b * y).sum() / b.sum())
    n_eff = float(b.sum() ** 2 / (b**2).sum())
    lo, hi = proportion_ci(r * n_eff, n_eff, alpha=alpha)
    return float(b.sum()), float((b * y).sum()), r, max(0.0, float(lo)), min(1.0, float(hi)), m


@keeps_provenance
def area_summary(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str] = ("local_authority",),
    sector: str | None = None,
    locations: pd.DataFrame | None = None,
    level: str | None = "location",
    include_all_sectors: bool = True,
    registered_only: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of locations rated Good or Outstanding by area and sector, against region and England.

    Parameters
    ----------
    data : DataFrame
        Current ratings, long (``io.cqc_files.load_latest_ratings`` or
        ``load_api_folder(...).ratings``; the Overall rating of the whole organisation is used)
        or one row per organisation with ``org_id`` and ``rating``. Needs the ``by`` columns and
        ``sector``; ``region`` for the regional comparison.
    by : str or list of str
        The area columns (default ``local_authority``; ``region`` works too).
    sector : str, optional
        Keep one sector (or CQC inspection category), e.g. ``"Adult social care"``.
    locations : DataFrame, optional
        ``org_id`` and ``number_of_beds`` (``load_api_folder(...).locations``), for care-home
        beds. Without it, a ``number_of_beds`` column in ``ratings`` is used if present.
    level : str or None
        Keep ``"location"`` rows (default) of a long table.
    include_all_sectors : bool
        Add rows with ``sector = "All sectors"``.
    registered_only : bool
        Leave out deregistered locations (API folders keep the last ratings of closed
        services), using ``registration_status`` from ``ratings`` or ``locations``. The number
        left out is in the ``deregistered_dropped`` column.
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per area x sector: the ``by`` columns, ``sector``, ``n_rated``, ``n_good``
        (Good or Outstanding), ``share_good``, ``ci_low``, ``ci_high`` (Wilson), ``n_not_rated``
        (non-scale ratings, left out of the share), ``n_inadequate``; with bed counts
        ``care_homes_with_beds``, ``care_home_beds``, ``beds_good``, ``share_beds_good``,
        ``beds_ci_low``, ``beds_ci_high`` (Wilson on the effective number of homes); then ``region`` and
        ``region_share_good`` (when a ``region`` column exists and ``by`` is finer),
        ``england_share_good``, ``diff_vs_england``, and ``vs_england``: "lower" or "higher" when
        England's share lies outside the area's interval, else "similar".

    Examples
    --------
    >>> r = pd.DataFrame({"org_id": list("abcdef"), "local_authority": list("XXXYYY"),
    ...                   "sector": "Adult social care",
    ...                   "rating": ["Good", "Good", "Inadequate", "Good", "Outstanding", "Good"]})
    >>> s = area_summary(r, include_all_sectors=False)
    >>> s[["local_authority", "n_rated", "n_good", "share_good", "england_share_good"]].values.tolist()
    [['X', 3, 2, 0.6666666666666666, 0.8333333333333334], ['Y', 3, 3, 1.0, 0.8333333333333334]]
    """
    by = as_list(by)
    d = _rated_locations(data, level)
    missing = [c for c in [*by, "sector"] if c not in d.columns]
    if missing:
        raise DataFormatError(f"the ratings table has no column(s) {missing}", column=missing[0])
    if d.empty:
        raise InsufficientData("no Overall rating to summarise by area")
    dropped = 0
    if registered_only:
        status = None
        if "registration_status" in d.columns:
            status = d["registration_status"]
        elif locations is not None and "registration_status" in locations.columns:
            status = d["org_id"].map(locations.drop_duplicates("org_id").set_index("org_id")["registration_status"])
        if status is not None:
            gone = status.astype("object").fillna("").str.casefold().eq("deregistered").to_numpy()
            dropped = int(gone.sum())
            d = d[~gone]
    d = filter_sector(d, sector)
    d["_rating"] = pd.Categorical(d["rating"].astype("object"), dtype=RATING_DTYPE)
    d["_rated"] = d["_rating"].notna()
    d["_good"] = d["_rating"].isin(list(GOOD_OR_BETTER)).astype(float)
    d["_inad"] = (d["_rating"] == "Inadequate").astype(float)
    beds = None
    if locations is not None:
        if not {"org_id", "number_of_beds"} <= set(locations.columns):
            raise DataFormatError("locations needs columns org_id and number_of_beds", column="number_of_beds")
        beds = locations.drop_duplicates("org_id").set_index("org_id")["number_of_beds"]
        d["_beds"] = pd.to_numeric(d["org_id"].map(beds), errors="coerce")
    elif "number_of_beds" in d.columns:
        d["_beds"] = pd.to_numeric(d["number_of_beds"], errors="coerce")
    else:
        d["_beds"] = np.nan
    if "care_home" in d.columns:
        d["_beds"] = d["_beds"].where(d["care_home"].fillna(False).astype(bool))
    d["sector"] = d["sector"].astype("object").astype(str)
    if include_all_sectors:
        d = pd.concat([d, d.assign(sector=ALL)], ignore_index=True)

    def summarise(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        rows = []
        for key, g in frame.groupby(keys, observed=True, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            rated = g[g["_rated"]]
            n, k = int(len(rated)), int(rated["_good"].sum())
            tb, gb, r, blo, bhi, m = _bed_share(rated, alpha)
            rows.append({**dict(zip(keys, key, strict=True)), "n_rated": n, "n_good": k,
                         "n_inadequate": int(rated["_inad"].sum()), "n_not_rated": int((~g["_rated"]).sum()),
                         "care_homes_with_beds": m, "care_home_beds": tb, "beds_good": gb,
                         "share_beds_good": r, "beds_ci_low": blo, "beds_ci_high": bhi})
        return pd.DataFrame(rows)

    out = summarise(d, [*by, "sector"])
    out["share_good"] = out["n_good"] / out["n_rated"].where(out["n_rated"] > 0)
    out["ci_low"], out["ci_high"] = proportion_ci(out["n_good"], out["n_rated"], alpha=alpha, method="wilson")
    if "region" in d.columns and "region" not in by:
        area_region = (d.dropna(subset=["region"]).groupby(by, observed=True)["region"]
                       .agg(lambda s: s.mode().iloc[0] if len(s.mode()) else pd.NA))
        reg = summarise(d, ["region", "sector"])
        reg["region_share_good"] = reg["n_good"] / reg["n_rated"].where(reg["n_rated"] > 0)
        if len(by) == 1:
            out["region"] = out[by[0]].map(area_region)
        else:
            out = out.merge(area_region.rename("region").reset_index(), on=by, how="left")
        out = out.merge(reg[["region", "sector", "region_share_good"]], on=["region", "sector"], how="left")
    eng = d[d["_rated"]].groupby("sector")["_good"].mean().rename("england_share_good")
    out = out.merge(eng.reset_index(), on="sector", how="left")
    out["diff_vs_england"] = out["share_good"] - out["england_share_good"]
    out["vs_england"] = np.select([out["ci_high"] < out["england_share_good"],
                                   out["ci_low"] > out["england_share_good"]], ["lower", "higher"], "similar")
    out.loc[out["n_rated"] == 0, "vs_england"] = "no ratings"
    order = [*by, "sector", "n_rated", "n_good", "share_good", "ci_low", "ci_high", "n_not_rated",
             "n_inadequate", "care_homes_with_beds", "care_home_beds", "beds_good", "share_beds_good",
             "beds_ci_low", "beds_ci_high"]
    rest = [c for c in out.columns if c not in order]
    out = out[order + rest]
    out["deregistered_dropped"] = dropped  # locations left out as deregistered (whole table)
    out.attrs["synthetic"] = bool(data.attrs.get("synthetic", False))
    return out


# ----------------------------------------------------------------------------------------------
# delayed transfers of care
def _check_indicator(frame, name, measure):
    need = {"org_code", "period_start", "measure", "value"}
    if not isinstance(frame, pd.DataFrame) or not need <= set(frame.columns):
        got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise DataFormatError(f"{name} must be an indicator table with columns {sorted(need)} "
                              f"(io.nhs.load_{name}); got {got}", column="measure")
    if frame.empty:
        raise InsufficientData(f"the {name} table has no rows")
    if measure not in set(frame["measure"]):
        raise DataFormatError(f"{name} has no rows with measure {measure!r}; measures: "
                              f"{sorted(set(frame['measure']))[:8]}", column="measure")


@keeps_provenance
def dtoc_rates(
    data: pd.DataFrame,
    *,
    population: pd.DataFrame,
    start=None,
    end=None,
    measure: str = "dtoc_days_total",
    la_codes: pd.DataFrame | None = None,
    per: float = 100_000,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Delayed days per ``per`` people aged 65 and over, by local authority, over a period.

    Parameters
    ----------
    data : DataFrame
        :func:`cqc_research.io.nhs.load_dtoc` output (monthly delayed days by area).
    population : DataFrame
        :func:`cqc_research.io.nhs.load_population` output (``population_65plus`` by area and
        year). The estimate for the year the period ends in is used, else the nearest year.
    start, end : date-like, optional
        The months to add up (inclusive). Default: the latest 12 months in ``data``.
    measure : str
        The delayed-days measure (default the total; e.g. ``dtoc_days_care_package``).
    la_codes : DataFrame, optional
        ``old_code, new_code`` (:func:`~cqc_research.io.nhs.load_la_codes`), to map old area codes
        in ``data`` to the codes used in ``population``.
    per : float
        Rate base (default per 100,000).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        One row per area: ``org_code, org_name, months, months_missing, dtoc_days,
        population_65plus, dtoc_per_100k, ci_low, ci_high, days_per_day_per_100k``. The interval
        is the exact (Garwood) Poisson interval on the delayed days. Delayed days come in runs
        (one person delayed ten days is ten days), so the counts are overdispersed and these
        intervals are too narrow; the funnel plot's overdispersion adjustment is the better guide.
        A month with suppressed or missing data is not counted as zero: areas missing months are
        reported in ``months_missing`` and their total is scaled up to the full period.
        ``period_start`` and ``period_end`` give the months added up; an area whose population
        is unknown has ``population_65plus`` NaN (and no rate).
    """
    _check_indicator(data, "dtoc", measure)
    _check_indicator(population, "population", "population_65plus")
    d = data[data["measure"] == measure].copy()
    d["period_start"] = pd.to_datetime(d["period_start"])
    if la_codes is not None:  # the same reconciliation as the linkage (cqc_research.geography)
        d["org_code"] = current_la_code(d["org_code"], names=d.get("org_name"), la_codes=la_codes)
    end = pd.Timestamp(end) if end is not None else d["period_start"].max()
    start = pd.Timestamp(start) if start is not None else end - pd.DateOffset(months=11)
    d = d[(d["period_start"] >= start) & (d["period_start"] <= end)]
    if d.empty:
        raise ValueError(f"no delayed-transfer months between {start:%Y-%m} and {end:%Y-%m}")
    n_months = len(pd.period_range(start, end, freq="M"))
    names = d.groupby("org_code")["org_name"].last() if "org_name" in d else None
    agg = d.groupby("org_code").agg(dtoc_days_observed=("value", "sum"),
                                    months=("value", lambda s: int(s.notna().sum())))
    agg["months_missing"] = n_months - agg["months"]
    agg["dtoc_days"] = np.where(agg["months"] > 0,
                                agg["dtoc_days_observed"] * n_months / agg["months"].clip(lower=1), np.nan)
    pop = population[population["measure"] == "population_65plus"].copy()
    pop["year"] = pd.to_datetime(pop["period_start"]).dt.year
    target_year = end.year
    pop["_dist"] = (pop["year"] - target_year).abs()
    pop = pop.sort_values(["org_code", "_dist", "year"]).drop_duplicates("org_code")
    agg = agg.join(pop.set_index("org_code")[["value", "year"]].rename(
        columns={"value": "population_65plus", "year": "population_year"}), how="left")
    agg["dtoc_per_100k"] = agg["dtoc_days"] / agg["population_65plus"] * per
    k = agg["dtoc_days"].round()
    lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    agg["ci_low"] = lo / agg["population_65plus"] * per
    agg["ci_high"] = hi / agg["population_65plus"] * per
    days = (end + pd.offsets.MonthEnd(0) - start).days + 1
    agg["days_per_day_per_100k"] = agg["dtoc_per_100k"] / days
    out = agg.reset_index()
    out.insert(1, "org_name", out["org_code"].map(names) if names is not None else pd.NA)
    out["period_start"] = start
    out["period_end"] = end + pd.offsets.MonthEnd(0)
    return out[["org_code", "org_name", "period_start", "period_end", "months", "months_missing",
                "dtoc_days", "population_65plus", "population_year", "dtoc_per_100k", "ci_low",
                "ci_high", "days_per_day_per_100k"]]


@keeps_provenance
def join_dtoc(data: pd.DataFrame, *, rates: pd.DataFrame, area: str = "local_authority",
              code: str | None = None) -> pd.DataFrame:
    """Attach delayed-transfer rates (:func:`dtoc_rates`) to an area summary.

    Areas are matched on ``code`` (a column of ``data`` holding ONS codes) when given, else on
    :func:`normalise_area_name` of ``area`` against ``org_name``. The result lists
    the areas on either side that found no partner.

    Parameters
    ----------
    data : pandas.DataFrame
        An area summary, e.g. from :func:`area_summary` (one row per area, or per area and sector).
    rates : pandas.DataFrame
        The output of :func:`dtoc_rates` (``org_code, org_name, dtoc_per_100k, ...``).
    area : str
        The column of ``data`` naming the area (default ``"local_authority"``).
    code : str, optional
        A column of ``data`` with ONS area codes; when given, areas are joined on it.

    Returns
    -------
    pandas.DataFrame
        ``data`` (row order kept; a left join) plus ``org_code, dtoc_days, population_65plus,
        dtoc_per_100k, dtoc_ci_low, dtoc_ci_high, days_per_day_per_100k, months_missing``, NaN
        where an area has no delayed-transfer figures, and ``dtoc_areas_without_ratings`` (the
        number of delayed-transfer areas that matched no area of ``data``, on every row).

    Raises
    ------
    DataFormatError
        ``area`` is not a column of ``data``, or two delayed-transfer areas share a
        normalised name (join on codes instead).
    """
    if area not in data.columns:
        raise DataFormatError(f"summary has no area column {area!r}", column=area)
    r = rates.rename(columns={"ci_low": "dtoc_ci_low", "ci_high": "dtoc_ci_high"})
    keep = ["dtoc_days", "population_65plus", "dtoc_per_100k", "dtoc_ci_low", "dtoc_ci_high",
            "days_per_day_per_100k", "months_missing"]
    if code is not None:
        out = data.merge(r[["org_code", *keep]], left_on=code, right_on="org_code", how="left")
        left_keys, right_keys = set(data[code]), set(r["org_code"])
    else:
        s = data.assign(_key=data[area].map(normalise_area_name))
        rr = r.assign(_key=r["org_name"].map(normalise_area_name))
        dup = rr["_key"].duplicated(keep=False) & (rr["_key"] != "")
        if dup.any():
            raise DataFormatError(f"delayed-transfer areas share a name after normalising: "
                                  f"{sorted(rr.loc[dup, 'org_name'].unique())[:4]}; join on codes instead",
                                  column="org_name")
        out = s.merge(rr[["_key", "org_code", *keep]], on="_key", how="left").drop(columns="_key")
        left_keys, right_keys = set(s["_key"]), set(rr["_key"])
    out.attrs = dict(data.attrs)
    # areas without figures are the rows whose dtoc_per_100k is missing; the count the other
    # way round (delayed-transfer areas with no ratings) is on every row
    out["dtoc_areas_without_ratings"] = len(right_keys - left_keys)
    return out


# ----------------------------------------------------------------------------------------------
# ranks with uncertainty
@keeps_provenance
def rank_with_uncertainty(
    data: pd.DataFrame,
    *,
    unit: str,
    successes: str | None = None,
    n: str | None = None,
    events: str | None = None,
    exposure: str | None = None,
    higher_is_better: bool = True,
    n_sim: int = 4000,
    prior: tuple[float, float] = (0.5, 0.5),
    alpha: float = 0.05,
    bottom: int | None = None,
    seed: int = 2024,
) -> pd.DataFrame:
    """Ranks with intervals, by simulation from each unit's posterior.

    For proportions (``successes`` of ``n``) each unit's true share is drawn from its
    Beta(``successes + a``, ``n - successes + b``) posterior (Jeffreys' prior ``a = b = 0.5`` by
    default); for rates (``events`` over ``exposure``) from Gamma(``events + 0.5``, ``exposure``).
    The units are ranked in every draw (1 = best), and each unit's ranks give a median rank and
    an equal-tailed interval. With a few dozen areas most intervals are wide: a league table
    read by point ranks over-states differences.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    unit : str
        The unit column.
    successes, n : str, optional
        Counts for a proportion (e.g. ``n_good``, ``n_rated``).
    events, exposure : str, optional
        Counts and exposure for a rate (e.g. ``dtoc_days``, ``population_65plus``). Delayed days
        are overdispersed, so these intervals are too narrow (see :func:`dtoc_rates`).
    higher_is_better : bool
        True for shares Good or Outstanding, False for delays.
    n_sim : int
        Posterior draws.
    prior : (float, float)
        Beta prior for proportions.
    alpha : float
        The rank interval covers ``1 - alpha``.
    bottom : int, optional
        Report ``p_bottom``, the probability that the unit is among the worst ``bottom`` units
        (default: the worst 10%, at least one).
    seed : int
        Random seed (results are reproducible).

    Returns
    -------
    DataFrame
        Sorted best first: ``unit, estimate, estimate_low, estimate_high`` (posterior interval),
        ``rank`` (of the observed estimate), ``rank_median, rank_low, rank_high``, ``p_top``
        (among the best ``bottom``), ``p_bottom``, and on every row ``bottom_k`` (the ``bottom``
        used) and ``n_sim``.
    """
    if unit not in data.columns:
        raise DataFormatError(f"no unit column {unit!r}", column=unit)
    proportion = successes is not None or n is not None
    if proportion == (events is not None or exposure is not None):
        raise ValueError("give successes and n (a proportion), or events and exposure (a rate)")
    d = data.copy()
    rng = np.random.default_rng(seed)
    if proportion:
        if successes is None or n is None:
            raise ValueError("give both successes and n")
        k = pd.to_numeric(d[successes], errors="coerce").to_numpy(float)
        m = pd.to_numeric(d[n], errors="coerce").to_numpy(float)
        keep = np.isfinite(k) & np.isfinite(m) & (m > 0)
        if (k[keep] > m[keep]).any() or (k[keep] < 0).any():
            i = d.index[keep][np.argmax((k[keep] > m[keep]) | (k[keep] < 0))]
            raise DataFormatError(f"successes must lie between 0 and n; unit {d.at[i, unit]!r}", column=successes)
        d, k, m = d[keep], k[keep], m[keep]
        a, b = prior
        draws = rng.beta(k[:, None] + a, (m - k)[:, None] + b, size=(len(k), n_sim))
        est = k / m
        lo, hi = stats.beta.ppf([[alpha / 2], [1 - alpha / 2]], k + a, m - k + b)
    else:
        if events is None or exposure is None:
            raise ValueError("give both events and exposure")
        k = pd.to_numeric(d[events], errors="coerce").to_numpy(float)
        e = pd.to_numeric(d[exposure], errors="coerce").to_numpy(float)
        keep = np.isfinite(k) & np.isfinite(e) & (e > 0) & (k >= 0)
        d, k, e = d[keep], k[keep], e[keep]
        draws = rng.gamma(k[:, None] + 0.5, 1.0 / e[:, None], size=(len(k), n_sim))
        est = k / e
        lo, hi = stats.gamma.ppf([[alpha / 2], [1 - alpha / 2]], k + 0.5, scale=1.0 / e)
    units = len(d)
    if units < 2:
        raise InsufficientData(f"ranking needs at least two units with data; got {units}")
    sign = -1.0 if higher_is_better else 1.0
    ranks = stats.rankdata(sign * draws, axis=0, method="average")  # 1 = best in each draw
    k_bottom = bottom if bottom is not None else max(1, int(round(0.1 * units)))
    out = pd.DataFrame({
        unit: d[unit].to_numpy(),
        "estimate": est,
        "estimate_low": np.asarray(lo).ravel(),
        "estimate_high": np.asarray(hi).ravel(),
        "rank": stats.rankdata(sign * est, method="min"),
        "rank_median": np.median(ranks, axis=1),
        "rank_low": np.quantile(ranks, alpha / 2, axis=1, method="lower"),
        "rank_high": np.quantile(ranks, 1 - alpha / 2, axis=1, method="higher"),
        "p_top": (ranks <= k_bottom).mean(axis=1),
        "p_bottom": (ranks > units - k_bottom).mean(axis=1),
    })
    out = out.sort_values(["rank", "rank_median"], kind="stable").reset_index(drop=True)
    out["bottom_k"] = k_bottom  # p_bottom is the chance of ranking among the bottom k
    out["n_sim"] = n_sim
    return out


def good_or_better_by(data: pd.DataFrame, *, rating: str, by: str = "local_authority",
                      n_name: str = "n") -> pd.DataFrame:
    """Count the units rated Good or Outstanding in each group, for a funnel plot.

    Rows without a group are left out; rows without a scale rating count as not Good.

    Parameters
    ----------
    data : DataFrame
        One row per rated unit.
    rating : str
        The rating column.
    by : str
        The group column.
    n_name : str
        Name of the column counting units.

    Returns
    -------
    DataFrame
        ``by, good, <n_name>``, one row per group.

    Examples
    --------
    >>> d = pd.DataFrame({"la": ["a", "a", "b"], "Overall": ["Good", "Inadequate", "Outstanding"]})
    >>> good_or_better_by(d, rating="Overall", by="la").to_dict("list")
    {'la': ['a', 'b'], 'good': [1, 1], 'n': [2, 1]}
    """
    scale_codes(data[rating], name=rating)
    rows = data.dropna(subset=[by])
    good = rows[rating].astype(object).isin(GOOD_OR_BETTER)
    return (rows.assign(good=good).groupby(by, observed=True)
            .agg(good=("good", "sum"), **{n_name: ("good", "size")}).reset_index()
            .astype({"good": int, n_name: int}))


@keeps_provenance
def good_or_better_funnel(data: pd.DataFrame, *, rating: str, by: str = "local_authority",
                          n_name: str = "n", min_units: int = 3) -> pd.DataFrame:
    """Funnel limits for the share rated Good or Outstanding in each group.

    :func:`good_or_better_by` followed by :func:`cqc_research.metrics.funnel.funnel_limits`
    (``kind="proportion"``).

    Parameters
    ----------
    data : DataFrame
        One row per rated unit.
    rating, by : str
        The rating and group columns.
    n_name : str
        Name of the column counting units.
    min_units : int
        Fewest groups for a funnel.

    Returns
    -------
    DataFrame
        The funnel table, one row per group.

    Raises
    ------
    InsufficientData
        When fewer than ``min_units`` groups have a value of ``by``.
    """
    counts = good_or_better_by(data, rating=rating, by=by, n_name=n_name)
    if len(counts) < min_units:
        raise InsufficientData(f"only {len(counts)} {by.replace('_', ' ')} groups with rated units; "
                             f"a funnel needs {min_units}")
    return funnel_limits(counts, numerator="good", denominator=n_name, unit=by, kind="proportion")


