"""How do areas compare, and do delayed transfers follow quality? Notebook 05's question.

What the notebook reads (:func:`load_area_ratings`, :func:`load_dtoc_rates`), the steps between
the statistics of :mod:`cqc_research.metrics.areas` and the report (one sector's rows, the areas
marked, the delayed-transfer funnel and correlation), its sentences, and the tables it saves
(:data:`TABLES`).
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from .._text import plural
from ..dataset import Study
from ..io import nhs
from ..io.cqc_files import load_latest_ratings
from ..io.cqc_json import load_api_folder
from ..metrics import areas as ar
from ..metrics import funnel as fn
from ..metrics.intervals import spearman_ci
from ..plots import areas as pa

__all__ = ["TABLES", "load_area_ratings"]

#: The tables notebook 05 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with.
TABLES: dict[str, tuple[str, ...]] = {
    "area_summary": ("local_authority", "sector", "n_rated", "n_good", "share_good", "ci_low",
                     "ci_high", "n_not_rated", "n_inadequate", "care_homes_with_beds",
                     "care_home_beds", "beds_good", "share_beds_good", "beds_ci_low",
                     "beds_ci_high", "region", "region_share_good", "england_share_good",
                     "diff_vs_england", "vs_england", "deregistered_dropped"),
    "region_summary": ("region", "sector", "n_rated", "n_good", "share_good", "ci_low", "ci_high",
                       "n_not_rated", "n_inadequate", "care_homes_with_beds", "care_home_beds",
                       "beds_good", "share_beds_good", "beds_ci_low", "beds_ci_high",
                       "england_share_good", "diff_vs_england", "vs_england",
                       "deregistered_dropped"),
    "area_funnel": ("local_authority", "numerator", "denominator", "value", "n", "target", "z",
                    "z_adj", "lower_95", "upper_95", "lower_998", "upper_998", "outside_95",
                    "outside_998", "flag", "kind", "transform", "method", "phi", "tau2",
                    "overdispersion", "adjusted", "winsorise", "n_units", "overdispersion_p",
                    "multiplier", "rate_target", "trim", "exact", "adjust_if", "round_expected"),
    "area_ranks": ("local_authority", "estimate", "estimate_low", "estimate_high", "rank",
                   "rank_median", "rank_low", "rank_high", "p_top", "p_bottom", "bottom_k", "n_sim"),
    "area_dtoc": ("local_authority", "sector", "n_rated", "n_good", "share_good", "ci_low",
                  "ci_high", "n_not_rated", "n_inadequate", "care_homes_with_beds",
                  "care_home_beds", "beds_good", "share_beds_good", "beds_ci_low", "beds_ci_high",
                  "region", "region_share_good", "england_share_good", "diff_vs_england",
                  "vs_england", "deregistered_dropped", "org_code", "dtoc_days",
                  "population_65plus", "dtoc_per_100k", "dtoc_ci_low", "dtoc_ci_high",
                  "days_per_day_per_100k", "months_missing", "dtoc_areas_without_ratings"),
    "dtoc_funnel": ("local_authority", "numerator", "denominator", "value", "n", "target", "z",
                    "z_adj", "lower_95", "upper_95", "lower_998", "upper_998", "outside_95",
                    "outside_998", "flag", "kind", "transform", "method", "phi", "tau2",
                    "overdispersion", "adjusted", "winsorise", "n_units", "overdispersion_p",
                    "multiplier", "rate_target", "trim", "exact", "adjust_if", "round_expected"),
    "planted_truth_areas": ("effect", "quantity", "planted", "null", "estimate", "ci_low",
                            "ci_high", "level", "p_value", "n", "detectable", "verdict", "note"),
}


# ----------------------------------------------------------------------------------------------
# what notebook 05 reads, and its steps
# ----------------------------------------------------------------------------------------------
def area_inputs(study: Study, *, ratings_path: str = "") -> tuple[str, str, str, str, str]:
    """Notebook 05's inputs, as the study holds them.

    Parameters
    ----------
    study : Study
        The notebook's study (``Study.from_parameters(...)`` of its path parameters, with
        ``ratings_path="api"`` given as ``""``): what was given wins over the study folder's
        declaration, which wins over the embedded synthetic data (used only when nothing is given
        or declared).
    ratings_path : str
        The notebook's ``ratings_path``; ``"api"`` (the current ratings of the API folder) is kept.

    Returns
    -------
    tuple of str
        ``ratings_path, api_path, dtoc_path, population_path, la_codes_path``, ``""`` for an
        input the study lacks or leaves out (``"none"``).
    """
    found = [study.path(k) for k in ("ratings", "api", "indicators.dtoc", "population", "la_codes")]
    paths = [str(p) if p else "" for p in found]
    if ratings_path == "api":
        paths[0] = "api"
    return tuple(paths)


def load_area_ratings(ratings_path: str, *, api_path: str = ""):
    """The ratings and (when an API folder is given) the locations for :func:`~cqc_research.metrics.areas.area_summary`.

    Parameters
    ----------
    ratings_path : str
        A Latest ratings file, or ``"api"`` for the current ratings of the API folder.
    api_path : str
        Folder of CQC API location records (care-home beds); empty or ``"none"`` for none.

    Returns
    -------
    (ratings, locations) : tuple of DataFrame
        ``locations`` is None without an API folder.

    Raises
    ------
    ValueError
        ``ratings_path="api"`` without an API folder.
    """
    api_path = "" if api_path == "none" else api_path
    if ratings_path == "api" and not api_path:
        raise ValueError("ratings_path=api reads the current ratings of the API folder: give api_path too")
    if not api_path:
        return load_latest_ratings(ratings_path), None
    api = load_api_folder(api_path)
    if ratings_path == "api":
        return api.ratings, api.locations
    return load_latest_ratings(ratings_path), api.locations


def load_dtoc_rates(dtoc_path: str, *, population_path: str, la_codes_path: str = "",
                    start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Read delayed transfers, population (and optionally old-to-new codes) and call :func:`~cqc_research.metrics.areas.dtoc_rates`.

    Parameters
    ----------
    dtoc_path, population_path : str
        The delayed-transfer and population CSVs.
    la_codes_path : str
        Optional lookup of old to new local-authority codes.
    start, end : str, optional
        First and last month, ``YYYY-MM``.

    Returns
    -------
    DataFrame
        :func:`~cqc_research.metrics.areas.dtoc_rates` output.
    """
    codes = nhs.load_la_codes(la_codes_path) if la_codes_path else None
    return ar.dtoc_rates(nhs.load_dtoc(dtoc_path), population=nhs.load_population(population_path),
                      start=start or None, end=end or None, la_codes=codes)


def sector_rows(data: pd.DataFrame, *, sector: str) -> pd.DataFrame:
    """The rows of an :func:`~cqc_research.metrics.areas.area_summary` for one sector.

    Parameters
    ----------
    data : DataFrame
        :func:`~cqc_research.metrics.areas.area_summary` output.
    sector : str
        The sector (or inspection category) wanted.

    Returns
    -------
    DataFrame
        A copy.

    Raises
    ------
    ValueError
        When the sector has no rows; the message lists the sectors there are.
    """
    rows = data[data["sector"].astype(str) == sector].copy()
    if rows.empty:
        raise ValueError(f"no rated locations for sector {sector!r}; sectors: "
                         f"{sorted(data['sector'].astype(str).unique())}")
    return rows


def marked_areas(data: pd.DataFrame, *, highlight: str = "", area: str = "local_authority",
                 lowest: int = 3) -> list[str]:
    """The areas to mark in the figures: those named in ``highlight``, else the lowest shares.

    Parameters
    ----------
    data : DataFrame
        :func:`~cqc_research.metrics.areas.area_summary` rows of one sector (``share_good``).
    highlight : str
        Comma-separated area names; empty for the ``lowest`` areas by share Good or better.
    area : str
        The area column.
    lowest : int
        How many to mark by default.

    Returns
    -------
    list of str

    Examples
    --------
    >>> f = pd.DataFrame({"local_authority": ["a", "b", "c"], "share_good": [0.9, 0.5, 0.7]})
    >>> marked_areas(f, lowest=2), marked_areas(f, highlight=" a, c ")
    (['b', 'c'], ['a', 'c'])
    """
    if highlight:
        return [h.strip() for h in highlight.split(",") if h.strip()]
    return data.sort_values("share_good")[area].astype(str).head(lowest).tolist()


def region_table(data: pd.DataFrame, *, sector: str) -> pd.DataFrame:
    """One sector's rows of the region summary, the columns a reader needs, rounded.

    Parameters
    ----------
    data : DataFrame
        ``area_summary(..., by="region")``.
    sector : str
        The sector.

    Returns
    -------
    DataFrame
        ``region, n_rated, share_good, ci_low, ci_high, care_home_beds, share_beds_good``.
    """
    cols = ["region", "n_rated", "share_good", "ci_low", "ci_high", "care_home_beds",
            "share_beds_good"]
    return sector_rows(data, sector=sector)[cols].round(3)


def highest_rates(data: pd.DataFrame, *, area: str = "local_authority", n: int = 15) -> pd.DataFrame:
    """The ``n`` areas with the highest delayed-transfer rate, rounded for display.

    Parameters
    ----------
    data : DataFrame
        :func:`~cqc_research.metrics.areas.join_dtoc` output.
    area : str
        The area column.
    n : int
        Rows shown.

    Returns
    -------
    DataFrame
        ``area, n_rated, share_good, dtoc_per_100k, dtoc_ci_low, dtoc_ci_high``.
    """
    cols = [area, "n_rated", "share_good", "dtoc_per_100k", "dtoc_ci_low", "dtoc_ci_high"]
    return data[cols].sort_values("dtoc_per_100k", ascending=False).round(3).head(n)


def dtoc_correlation(data: pd.DataFrame, *, alpha: float = 0.05) -> dict:
    """Spearman correlation across areas of the share Good or better and delayed days.

    The interval is Fisher's z with Fieller, Hartley and Pearson's variance ``1.06 / (n - 3)``
    (:func:`cqc_research.metrics.intervals.spearman_ci`).

    Parameters
    ----------
    data : DataFrame
        :func:`~cqc_research.metrics.areas.join_dtoc` rows with a rate (``share_good, dtoc_per_100k``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict
        ``rho, ci_low, ci_high, n``.
    """
    have = data.dropna(subset=["share_good", "dtoc_per_100k"])
    rho = float(stats.spearmanr(have["share_good"], have["dtoc_per_100k"]).statistic)
    lo, hi = spearman_ci(rho, len(have), alpha=alpha, variance="fieller")
    return {"rho": rho, "ci_low": lo, "ci_high": hi, "n": len(have)}


def dtoc_funnel(data: pd.DataFrame, *, area: str = "local_authority") -> pd.DataFrame:
    """Funnel limits for delayed days per 100,000 aged 65+, over the areas that have a rate.

    Parameters
    ----------
    data : DataFrame
        :func:`~cqc_research.metrics.areas.join_dtoc` output (``dtoc_per_100k, dtoc_days, population_65plus``).
    area : str
        The area column.

    Returns
    -------
    DataFrame
        :func:`cqc_research.metrics.funnel.funnel_limits` output (``kind="rate"``).
    """
    have = data.dropna(subset=["dtoc_per_100k"])
    return fn.funnel_limits(have, numerator="dtoc_days", denominator="population_65plus", unit=area, kind="rate",
                            multiplier=100_000)



def ranking_figure(ranks: pd.DataFrame, *, sector: str, area: str = "local_authority", highlight=None):
    """Each area's rank with its interval, 1 the highest share Good or Outstanding.

    Parameters
    ----------
    ranks : DataFrame
        :func:`cqc_research.metrics.areas.rank_with_uncertainty` of the share Good or better.
    sector : str
        The sector, named in the title.
    area : str
        The area column.
    highlight : list of str, optional
        Areas to mark (:func:`marked_areas`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return pa.ranking_plot(ranks, unit=area, highlight=highlight,
                           estimate_label="share Good or Outstanding",
                           title=f"{sector}: rank of each area (1 = highest share Good or Outstanding)")

# ----------------------------------------------------------------------------------------------
# sentences
# ----------------------------------------------------------------------------------------------
def area_summary_sentence(focus: pd.DataFrame, sector: str, area: str = "local_authority") -> str:
    """Rated locations, the overall share Good or Outstanding, the spread and the areas below it.

    Parameters
    ----------
    focus : DataFrame
        :func:`cqc_research.metrics.areas.area_summary` rows of one sector (``n_rated,
        share_good, england_share_good, vs_england, care_home_beds, beds_good``).
    sector : str
        The sector's name.
    area : str
        The area column.

    Returns
    -------
    str

    Examples
    --------
    >>> f = pd.DataFrame({"local_authority": ["A", "B", "C"], "n_rated": [10, 20, 30],
    ...                   "share_good": [0.5, 0.8, 0.9], "england_share_good": 0.8,
    ...                   "vs_england": ["lower", "similar", "similar"], "care_home_beds": 0,
    ...                   "beds_good": 0})
    >>> print(area_summary_sentence(f, "Adult social care"))
    **Adult social care:** 60 rated locations in 3 areas; 80% are rated Good or Outstanding overall. Area shares run from 50% to 90%. 1 area has an interval wholly below the overall share (A).
    """
    text = (f"**{sector}:** {int(focus['n_rated'].sum()):,} rated locations in "
            f"{plural(len(focus), 'area')}; {focus['england_share_good'].iloc[0]:.0%} are rated "
            "Good or Outstanding overall.")
    if len(focus) >= 3:
        lower = focus[focus["vs_england"] == "lower"]
        text += (f" Area shares run from {focus['share_good'].min():.0%} to "
                 f"{focus['share_good'].max():.0%}. {plural(len(lower), 'area has', 'areas have')} "
                 "an interval wholly below the overall share"
                 + (f" ({', '.join(lower[area].astype(str))})." if len(lower) else "."))
    beds = focus["care_home_beds"].sum()
    if beds > 0:
        text += (f" Care-home beds are known for {int(beds):,} beds; "
                 f"{focus['beds_good'].sum() / beds:.0%} of them are in homes rated Good or better.")
    return text


def area_funnel_sentence(funnel: pd.DataFrame, spec, area: str = "local_authority") -> str:
    """The dispersion of a funnel of areas, its widening, and the areas outside the limits.

    Parameters
    ----------
    funnel : DataFrame
        :func:`cqc_research.metrics.funnel.funnel_limits` output (``flag, value, n``).
    spec : FunnelSpec
        :func:`cqc_research.metrics.funnel.funnel_spec` of it (``phi, n_units,
        overdispersion_p, adjusted, tau2``).
    area : str
        The area column.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> spec = SimpleNamespace(phi=2.345, n_units=3, overdispersion_p=0.0123, adjusted=True, tau2=0.00123)
    >>> f = pd.DataFrame({"local_authority": ["A", "B", "C"], "flag": ["low 99.8%", "within", "within"],
    ...                   "value": [0.5, 0.8, 0.9], "n": [10, 20, 30]})
    >>> print(area_funnel_sentence(f, spec))
    Dispersion ratio phi = 2.35 over 3 areas (test of no overdispersion p = 0.0123); the limits are widened by tau-squared = 0.0012. Outside the limits: A (low 99.8%, 50% of 10).
    """
    flagged = funnel[funnel["flag"] != "within"]
    return (f"Dispersion ratio phi = {spec.phi:.2f} over {spec.n_units} areas "
            f"(test of no overdispersion p = {spec.overdispersion_p:.3g}); "
            + (f"the limits are widened by tau-squared = {spec.tau2:.4f}. " if spec.adjusted
               else "no widening was needed. ")
            + ("Outside the limits: " + "; ".join(
                f"{r[area]} ({r['flag']}, {r['value']:.0%} of {int(r['n'])})"
                for _, r in flagged.iterrows()) + "."
               if len(flagged) else "No area lies outside the 95% limits."))


def rank_sentence(ranks: pd.DataFrame, area: str = "local_authority") -> str:
    """How wide the rank intervals are, and which areas are likely among the bottom ``k``.

    Parameters
    ----------
    ranks : DataFrame
        :func:`cqc_research.metrics.areas.rank_with_uncertainty` output (``rank_low, rank_high,
        p_bottom, bottom_k``).
    area : str
        The area column.

    Returns
    -------
    str

    Examples
    --------
    >>> r = pd.DataFrame({"local_authority": ["A", "B", "C"], "rank_low": [1, 1, 2],
    ...                   "rank_high": [3, 2, 3], "p_bottom": [0.6, 0.1, 0.3], "bottom_k": 1})
    >>> print(rank_sentence(r))
    The median width of a rank interval is 1 places out of 3. Areas with at least an even chance of being the lowest-ranked area: A (60%).
    """
    k = int(ranks["bottom_k"].iloc[0])
    bottom = "the lowest-ranked area" if k == 1 else f"among the bottom {k} areas"
    width = (ranks["rank_high"] - ranks["rank_low"]).median()
    likely = ranks[ranks["p_bottom"] >= 0.5]
    return (f"The median width of a rank interval is {width:.0f} places out of {len(ranks)}. "
            + (f"Areas with at least an even chance of being {bottom}: "
               + ", ".join(f"{r[area]} ({r['p_bottom']:.0%})" for _, r in likely.iterrows()) + "."
               if len(likely) else f"No area has an even chance of being {bottom}."))


def dtoc_match_sentence(rates: pd.DataFrame, joined: pd.DataFrame,
                        area: str = "local_authority") -> str:
    """The period of the delayed-transfer figures and how many areas they matched.

    Parameters
    ----------
    rates : DataFrame
        :func:`cqc_research.metrics.areas.dtoc_rates` output (``period_start, period_end``).
    joined : DataFrame
        :func:`cqc_research.metrics.areas.join_dtoc` output (``dtoc_per_100k``).
    area : str
        The area column.

    Returns
    -------
    str

    Examples
    --------
    >>> rates = pd.DataFrame({"period_start": pd.to_datetime(["2019-04-01"]),
    ...                       "period_end": pd.to_datetime(["2020-02-29"])})
    >>> j = pd.DataFrame({"local_authority": ["A", "B"], "dtoc_per_100k": [10.0, None]})
    >>> dtoc_match_sentence(rates, j)
    'Period 2019-04 to 2020-02; 1 of 2 areas matched to delayed-transfer figures (no figures for: B).'
    """
    missing = sorted(joined.loc[joined["dtoc_per_100k"].isna(), area].astype(str).unique())
    start = str(rates["period_start"].min().date())[:7]
    end = str(rates["period_end"].max().date())[:7]
    have = int(joined["dtoc_per_100k"].notna().sum())
    return (f"Period {start} to {end}; {have} of {len(joined)} areas matched to delayed-transfer "
            "figures" + (f" (no figures for: {', '.join(missing[:10])})" if missing else "") + ".")


def dtoc_sentence(corr: dict, have: pd.DataFrame, rate_funnel: pd.DataFrame, sector: str,
                  area: str = "local_authority") -> str:
    """The correlation of quality with delayed days, the highest rates and the areas above limits.

    Parameters
    ----------
    corr : dict
        :func:`dtoc_correlation` output.
    have : DataFrame
        Areas and their rate (``dtoc_per_100k``; areas without one are left out).
    rate_funnel : DataFrame
        The funnel of rates (``flag``).
    sector : str
        The sector whose share is correlated.
    area : str
        The area column.

    Returns
    -------
    str

    Examples
    --------
    >>> have = pd.DataFrame({"local_authority": ["A", "B"], "dtoc_per_100k": [1500.0, 2500.4]})
    >>> fr = pd.DataFrame({"local_authority": ["A", "B"], "flag": ["within", "high 95%"]})
    >>> print(dtoc_sentence({"rho": -0.25, "ci_low": -0.5, "ci_high": 0.04}, have, fr, "Adult social care"))
    Across areas, the Spearman correlation between the share of adult social care rated Good or better and delayed days is -0.25 (approximate 95% CI -0.50 to 0.04; Fieller-Hartley-Pearson standard error). Highest rates: B (2,500), A (1,500). Above the overdispersion-adjusted limits: B.
    """
    high = rate_funnel[rate_funnel["flag"].astype(str).str.startswith("high")]
    top = have.dropna(subset=["dtoc_per_100k"]).sort_values("dtoc_per_100k", ascending=False).head(3)
    return (f"Across areas, the Spearman correlation between the share of {sector.lower()} rated "
            f"Good or better and delayed days is {corr['rho']:.2f} (approximate 95% CI "
            f"{corr['ci_low']:.2f} to {corr['ci_high']:.2f}; Fieller-Hartley-Pearson standard "
            "error). Highest rates: "
            + ", ".join(f"{r[area]} ({r['dtoc_per_100k']:,.0f})" for _, r in top.iterrows()) + ". "
            + (f"Above the overdispersion-adjusted limits: {', '.join(high[area].astype(str))}."
               if len(high) else "No area is above the overdispersion-adjusted 95% limit."))
