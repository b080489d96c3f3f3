"""Councils and systems (notebook 10): CQC's assessments of local authorities, the 2017-18 local system reviews, special measures.

Since 2023 CQC assesses how local authorities meet their adult social care duties under Part 1
of the Care Act 2014, with the single assessment framework: nine quality statements in four
themes, each scored 1 to 4. The scores are added up as a share of the maximum (36), and the
percentage gives the rating (CQC, "How we determine ratings", local authorities:
https://www.cqc.org.uk/guidance-regulation/local-authorities/how-we-determine-ratings):
25-38% Inadequate, 39-62% Requires improvement, 63-87% Good, 88% and above Outstanding. All
statements are weighted equally. CQC does not say how a percentage between two whole numbers is
placed; with nine statements the only such case is 14 of 36 (38.9%), which this module rounds
to 39% (Requires improvement), halves upwards, as :func:`cqc_research.assessment_framework.round_percentage`
does for services. No council in the published file scores 14 of 36, so the data cannot check it.

This module holds, for notebook ``10_councils_and_systems``:

- the loader (:func:`load_la_assessments`) of the one-row-per-council layout, with the 72
  councils assessed from August 2024 to September 2025 shipped with the package;
- the scoring rule (:func:`council_rating`) and its consistency check
  (:func:`council_consistency`);
- councils' ratings against the quality of the regulated adult social care in their area
  (:func:`council_local_quality`) and against their history of delayed transfers of care
  (:func:`council_dtoc`);
- the local system reviews of 2017-18 (:func:`load_local_system_reviews`) as events in a monthly
  panel of delayed transfers (:func:`review_event_study`, :func:`review_spc`);
- special measures: what followed an Inadequate rating of adult social care services and GP
  practices (:func:`special_measures_journeys`) and the registry of NHS trusts placed in special
  measures for quality (:func:`load_special_measures`);
- the figures and sentences the notebook shows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import yaml
from scipy import stats

from ..assessment_framework import BANDS
from ..dataset import Study
from ..errors import DataFormatError
from ..geography import LA_CODE_PATTERN, current_la_code, normalise_area_name, reconcile_la_codes
from ..io import nhs
from ..io.la_assessments import (
    LA_THEMES,
    PACKAGED_ASSESSMENTS,
    CouncilAssessments,
    read_la_assessments,
)
from ..metrics.areas import dtoc_rates
from ..metrics.events import event_contrasts, event_study
from ..metrics.intervals import newcombe_diff_ci, proportion_ci, spearman_ci
from ..metrics.spc import spc_rules
from ..metrics.transitions import consecutive_pairs
from ..plots import rating_palette
from ..plots.events import event_study_plot
from ..plots.spc import spc_chart
from ..ratings import RATING_DTYPE, RATINGS
from .local_systems import load_area_ratings  # noqa: F401 (notebook 10 reads its area ratings as notebook 05 does)

__all__ = ["TABLES", "load_la_assessments", "council_local_quality", "council_dtoc"]

#: The tables notebook 10 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with. The local system reviews' tables (``review_event_study``,
#: ``review_event_contrasts``, ``review_spc``) are saved only when the delayed-transfer data
#: hold two review areas, which the synthetic data do not.
TABLES: dict[str, tuple[str, ...]] = {
    "council_assessments": ("council", "ons_code", "type", "published", "total_score",
                            "percentage", "percentage_rounded", "rating", "rating_status",
                            "rating_text", "rule_rating", "agrees"),
    "council_statement_scores": ("council", "ons_code", "number", "theme", "statement", "score"),
    "council_rule_consistency": ("n_councils", "n_not_rated", "n_checked", "n_reproduced",
                                 "reproduced", "ci_low", "ci_high", "n_published_better",
                                 "n_published_worse"),
    "council_rule_exceptions": ("council", "ons_code", "published", "total_score", "percentage",
                                "rating", "rule_rating", "difference"),
    "council_local_quality": ("council", "rating", "percentage", "n_rated", "n_good",
                              "local_share_good"),
    "council_local_quality_groups": ("group", "n_councils", "n_rated", "n_good", "share_good",
                                     "ci_low", "ci_high", "difference", "diff_ci_low",
                                     "diff_ci_high"),
    "council_local_quality_slope": ("estimate", "std_error", "ci_low", "ci_high", "n", "intercept"),
    "council_dtoc": ("council", "rating", "percentage", "org_code", "months",
                     "dtoc_per_100k_per_year"),
    "council_dtoc_by_rating": ("rating", "n_councils", "median", "q1", "q3", "spearman", "ci_low",
                               "ci_high"),
    "special_measures_journeys": ("sector", "year", "n", "to_inadequate",
                                  "to_requires_improvement", "to_good", "to_outstanding",
                                  "improved", "ci_low", "ci_high", "median_months", "q1_months",
                                  "q3_months"),
    "special_measures_trusts": ("trust", "entered", "exited", "read_at", "exit_read_at", "note"),
    "planted_truth_councils": ("effect", "quantity", "planted", "null", "estimate", "ci_low",
                               "ci_high", "level", "p_value", "n", "detectable", "verdict", "note"),
}

_DATA = Path(__file__).parents[1] / "data"
_REVIEWS_PATH = _DATA / "local_system_reviews.yaml"
_SPECIAL_MEASURES_PATH = _DATA / "special_measures_trusts.yaml"

# council names as CQC writes them that fold differently from other published lists
_ALIASES = {"stoke": "stoke on trent", "southend": "southend on sea", "of isles of scilly": "isles of scilly",
            "county durham": "durham"}


def _key(name) -> str:
    k = normalise_area_name(name)
    for tail in (" borough", " city"):  # "Derby City Council", "Halton Borough Council"
        if k.endswith(tail) and " " in k:
            k = k[: -len(tail)]
    return _ALIASES.get(k, k)


def _lookup_codes(lookup) -> dict[str, str]:
    """Normalised area name -> current ONS code, from an indicator table or a code lookup."""
    if lookup is None:
        return {}
    if not isinstance(lookup, pd.DataFrame):
        lookup = nhs.load_la_codes(lookup)
    if {"new_code", "name"} <= set(lookup.columns):
        pairs = pd.DataFrame({"org_code": lookup["new_code"], "org_name": lookup["name"]})
    elif {"org_code", "org_name"} <= set(lookup.columns):
        pairs = reconcile_la_codes(lookup[["org_code", "org_name"]].drop_duplicates())
        pairs = pairs.assign(org_code=pairs["current_code"])
    else:
        raise DataFormatError("the local-authority lookup needs columns new_code and name (a code lookup) "
                              "or org_code and org_name (an indicator table)", column="name")
    out: dict[str, set] = {}
    for code, name in zip(pairs["org_code"].astype(str), pairs["org_name"], strict=True):
        if LA_CODE_PATTERN.match(code) and _key(name):
            out.setdefault(_key(name), set()).add(code)
    return {k: next(iter(v)) for k, v in out.items() if len(v) == 1}


def load_la_assessments(path=None, *, la_codes=None) -> CouncilAssessments:
    """Read councils' assessments (:func:`cqc_research.io.la_assessments.read_la_assessments`),
    with each council's ONS code where a lookup names it.

    Parameters
    ----------
    path : path, optional
        The CSV; default the 72 councils shipped with the package (:data:`PACKAGED_ASSESSMENTS`).
    la_codes : DataFrame or path, optional
        Where ONS codes come from: a code lookup (``old_code, new_code, name``;
        :func:`cqc_research.io.nhs.load_la_codes`) or an indicator table of local authorities
        (``org_code, org_name``, e.g. delayed transfers); councils are matched by normalised name.

    Returns
    -------
    CouncilAssessments

    Raises
    ------
    DataFormatError
        As :func:`~cqc_research.io.la_assessments.read_la_assessments` raises it, one line
        naming the file, row and column.

    Examples
    --------
    >>> la = load_la_assessments()
    >>> len(la.assessments), int(la.assessments["agrees"].sum())
    (72, 71)
    """
    codes = _lookup_codes(la_codes)
    return read_la_assessments(path, ons_code=lambda council: codes.get(_key(council)))


# ---------------------------------------------------------------------------------------------
# the consistency check
def council_consistency(data: pd.DataFrame, *, alpha: float = 0.05):
    """How often the scoring rule reproduces councils' published ratings, with the exceptions.

    Parameters
    ----------
    data : DataFrame
        :attr:`CouncilAssessments.assessments`.
    alpha : float
        1 - confidence level of the Wilson interval.

    Returns
    -------
    summary : DataFrame
        One row: ``n_councils, n_not_rated`` (published rating not on the scale, kept and left
        out of the check), ``n_checked, n_reproduced, reproduced, ci_low, ci_high,
        n_published_better, n_published_worse``.
    exceptions : DataFrame
        The councils whose published rating differs from the rule's: ``council, ons_code,
        published, total_score, percentage, rating, rule_rating, difference`` (published minus
        rule, in scale steps).

    Examples
    --------
    >>> s, e = council_consistency(load_la_assessments().assessments)
    >>> s[["n_councils", "n_not_rated", "n_checked", "n_reproduced"]].values.tolist()
    [[72, 1, 71, 71]]
    """
    need = {"council", "rating", "rule_rating", "percentage"}
    if not need <= set(data.columns):
        raise DataFormatError(f"council_consistency needs columns {sorted(need)} (CouncilAssessments.assessments)",
                              column=sorted(need - set(data.columns))[0])
    pub = pd.Categorical(data["rating"].astype("object"), dtype=RATING_DTYPE)
    rule = pd.Categorical(data["rule_rating"].astype("object"), dtype=RATING_DTYPE)
    checked = np.asarray(pub.codes) >= 0
    diff = np.asarray(pub.codes) - np.asarray(rule.codes)
    n, k = int(checked.sum()), int((checked & (diff == 0)).sum())
    lo, hi = proportion_ci(k, n, alpha=alpha) if n else (np.nan, np.nan)
    summary = pd.DataFrame([{"n_councils": len(data), "n_not_rated": int((~checked).sum()), "n_checked": n,
                             "n_reproduced": k, "reproduced": k / n if n else np.nan, "ci_low": lo, "ci_high": hi,
                             "n_published_better": int((checked & (diff > 0)).sum()),
                             "n_published_worse": int((checked & (diff < 0)).sum())}])
    bad = data[checked & (diff != 0)].copy()
    bad["difference"] = diff[checked & (diff != 0)].astype(int)
    cols = [c for c in ["council", "ons_code", "published", "total_score", "percentage", "rating", "rule_rating",
                        "difference"] if c in bad.columns]
    return summary, bad[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# councils against local care quality
def council_local_quality(data: pd.DataFrame, *, area_summary: pd.DataFrame, sector: str = "Adult social care",
                          alpha: float = 0.05):
    """Councils' ratings against the share of regulated services in their area rated Good or better.

    Each council is matched to its area's row of
    :func:`cqc_research.metrics.areas.area_summary` by ONS code where both carry one, else by
    normalised name.

    Parameters
    ----------
    data : DataFrame
        :attr:`CouncilAssessments.assessments`.
    area_summary : DataFrame
        :func:`~cqc_research.metrics.areas.area_summary` by ``local_authority``.
    sector : str
        The sector of the services counted (default adult social care).
    alpha : float
        1 - confidence level.

    Returns
    -------
    councils : DataFrame
        One row per matched council: ``council, rating, percentage, n_rated, n_good,
        local_share_good``.
    groups : DataFrame
        One row per group of councils (each published rating, then ``Good or better`` and
        ``Requires improvement or worse``): ``group, n_councils, n_rated, n_good, share_good,
        ci_low, ci_high`` (Wilson, services as units) and, on the ``Good or better`` row,
        ``difference`` with its Newcombe interval (``diff_ci_low, diff_ci_high``) against
        councils rated worse.
    slope : DataFrame
        One row: the least-squares slope of the council's percentage score on the local share
        Good or better (both in percentage points): ``estimate, std_error, ci_low, ci_high
        (t, n - 2 df), n, intercept``.
    """


    rows = area_summary[area_summary["sector"].astype(str) == sector]
    by_code = {str(a): r for a, r in zip(rows["local_authority"], rows.index, strict=True)}
    by_name = {}
    for a, r in zip(rows["local_authority"], rows.index, strict=True):
        by_name.setdefault(_key(a), []).append(r)
    picked = []
    for c in data.itertuples(index=False):
        hit = by_code.get(str(c.ons_code)) if pd.notna(c.ons_code) else None
        if hit is None and len(by_name.get(_key(c.council), [])) == 1:
            hit = by_name[_key(c.council)][0]
        if hit is not None and rows.loc[hit, "n_rated"] > 0:
            picked.append({"council": c.council, "rating": c.rating, "percentage": c.percentage,
                           "n_rated": int(rows.loc[hit, "n_rated"]), "n_good": int(rows.loc[hit, "n_good"])})
    councils = pd.DataFrame(picked, columns=["council", "rating", "percentage", "n_rated", "n_good"])
    councils["rating"] = pd.Categorical(councils["rating"].astype("object"), dtype=RATING_DTYPE)
    councils["local_share_good"] = councils["n_good"] / councils["n_rated"]
    groups = []
    good = councils["rating"].isin(["Good", "Outstanding"])
    worse = councils["rating"].isin(["Inadequate", "Requires improvement"])
    for name, mask in [*((r, councils["rating"] == r) for r in RATINGS),
                       ("Good or better", good), ("Requires improvement or worse", worse)]:
        g = councils[mask.to_numpy()]
        n, k = int(g["n_rated"].sum()), int(g["n_good"].sum())
        lo, hi = proportion_ci(k, n, alpha=alpha) if n else (np.nan, np.nan)
        groups.append({"group": name, "n_councils": len(g), "n_rated": n, "n_good": k,
                       "share_good": k / n if n else np.nan, "ci_low": lo, "ci_high": hi})
    groups = pd.DataFrame(groups)
    gb, wr = groups.iloc[-2], groups.iloc[-1]
    groups["difference"] = groups["diff_ci_low"] = groups["diff_ci_high"] = np.nan
    if gb["n_rated"] and wr["n_rated"]:
        lo, hi = newcombe_diff_ci(gb["n_good"], gb["n_rated"], wr["n_good"], wr["n_rated"], alpha=alpha)
        groups.loc[groups.index[-2], ["difference", "diff_ci_low", "diff_ci_high"]] = [
            gb["share_good"] - wr["share_good"], lo, hi]
    x, y = 100 * councils["local_share_good"].to_numpy(float), councils["percentage"].to_numpy(float)
    slope = {"estimate": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": len(x),
             "intercept": np.nan}
    if len(x) >= 3 and np.ptp(x) > 0:
        fit = stats.linregress(x, y)
        q = float(stats.t.ppf(1 - alpha / 2, len(x) - 2))
        slope.update(estimate=fit.slope, std_error=fit.stderr, ci_low=fit.slope - q * fit.stderr,
                     ci_high=fit.slope + q * fit.stderr, intercept=fit.intercept)
    return councils, groups, pd.DataFrame([slope])


def council_dtoc(data: pd.DataFrame, *, dtoc: pd.DataFrame, population: pd.DataFrame, la_codes=None,
                 alpha: float = 0.05):
    """Councils' ratings against their history of delayed transfers of care.

    Delayed days (all reasons) over every month in ``dtoc`` (2011-2020 in the published series)
    per 100,000 people aged 65 and over, per year, from
    :func:`cqc_research.metrics.areas.dtoc_rates`; councils are matched by ONS code, else by
    normalised name.

    Parameters
    ----------
    data : DataFrame
        :attr:`CouncilAssessments.assessments`.
    dtoc, population : DataFrame
        :func:`cqc_research.io.nhs.load_dtoc` and :func:`~cqc_research.io.nhs.load_population`.
    la_codes : DataFrame, optional
        Old to new local-authority codes.
    alpha : float
        1 - confidence level of the Spearman interval.

    Returns
    -------
    councils : DataFrame
        ``council, rating, percentage, org_code, months, dtoc_per_100k_per_year``.
    summary : DataFrame
        One row per published rating: ``rating, n_councils, median, q1, q3``; then a row
        ``all councils`` with ``spearman`` (percentage score against the rate) and its interval
        ``ci_low, ci_high``.
    """
    d = dtoc[dtoc["measure"] == "dtoc_days_total"]
    start, end = pd.to_datetime(d["period_start"]).min(), pd.to_datetime(d["period_start"]).max()
    rates = dtoc_rates(dtoc, population=population, start=start, end=end, la_codes=la_codes)
    n_months = len(pd.period_range(start, end, freq="M"))
    rates["dtoc_per_100k_per_year"] = rates["dtoc_per_100k"] * 12 / n_months
    by_code = dict(zip(rates["org_code"].astype(str), rates.index, strict=True))
    names: dict[str, list] = {}
    for n, i in zip(rates["org_name"], rates.index, strict=True):
        names.setdefault(_key(n), []).append(i)
    out = []
    for c in data.itertuples(index=False):
        i = by_code.get(str(c.ons_code)) if pd.notna(c.ons_code) else None
        if i is None and len(names.get(_key(c.council), [])) == 1:
            i = names[_key(c.council)][0]
        if i is not None and pd.notna(rates.loc[i, "dtoc_per_100k_per_year"]):
            out.append({"council": c.council, "rating": c.rating, "percentage": c.percentage,
                        "org_code": rates.loc[i, "org_code"], "months": int(rates.loc[i, "months"]),
                        "dtoc_per_100k_per_year": float(rates.loc[i, "dtoc_per_100k_per_year"])})
    councils = pd.DataFrame(out, columns=["council", "rating", "percentage", "org_code", "months",
                                          "dtoc_per_100k_per_year"])
    councils["rating"] = pd.Categorical(councils["rating"].astype("object"), dtype=RATING_DTYPE)
    rows = []
    for r in RATINGS:
        v = councils.loc[councils["rating"] == r, "dtoc_per_100k_per_year"]
        rows.append({"rating": r, "n_councils": len(v), "median": v.median(), "q1": v.quantile(0.25),
                     "q3": v.quantile(0.75)})
    v = councils["dtoc_per_100k_per_year"]
    row = {"rating": "all councils", "n_councils": len(v), "median": v.median(), "q1": v.quantile(0.25),
           "q3": v.quantile(0.75), "spearman": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    if len(v) >= 4:
        rho = float(councils["percentage"].rank().corr(v.rank()))
        row["spearman"] = rho
        row["ci_low"], row["ci_high"] = spearman_ci(rho, len(v), alpha=alpha)
    rows.append(row)
    return councils, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# registries: the local system reviews and trusts in special measures
def _registry(path, key: str, fields: tuple[str, ...]) -> pd.DataFrame:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    entries = (doc or {}).get(key)
    if not isinstance(entries, list):
        raise DataFormatError(f"the registry needs a top-level {key!r} list", path=path)
    for i, e in enumerate(entries, start=1):
        missing = [k for k in ("read_at", *fields) if not (isinstance(e, dict) and e.get(k))]
        if missing:
            raise DataFormatError(f"entry {i}: no {missing[0]!r} (every entry names its dates and the page "
                                  "it was read on)", path=path, column=missing[0])
    return pd.DataFrame(entries)


def load_local_system_reviews(path=None) -> pd.DataFrame:
    """The local system reviews of 2017-18: the areas, their dates, and the page each was read on.

    Parameters
    ----------
    path : path, optional
        A YAML registry in the layout of the one shipped (``data/local_system_reviews.yaml``).

    Returns
    -------
    DataFrame
        One row per area: ``area, announced`` (datetime: the day CQC announced it had been asked
        to review the area), ``batch``, ``read_at``, ``note``. Areas whose source could not be
        read are not in the registry (see its header).

    Examples
    --------
    >>> r = load_local_system_reviews()
    >>> len(r) >= 8 and bool(r["read_at"].str.startswith("http").all())
    True
    """
    t = _registry(path or _REVIEWS_PATH, "reviews", ("area", "announced"))
    t["announced"] = pd.to_datetime(t["announced"])
    return t


def load_special_measures(path=None) -> pd.DataFrame:
    """NHS trusts placed in special measures for quality (2013-2021), with dates and sources.

    Parameters
    ----------
    path : path, optional
        A YAML registry in the layout of the one shipped (``data/special_measures_trusts.yaml``).

    Returns
    -------
    DataFrame
        One row per trust and spell: ``trust, entered`` (as published: a month ``2013-07`` or a
        day), ``exited`` (empty when no page read gave the exit), ``read_at`` (the page the
        entry date was read on), ``exit_read_at``, ``note``.

    Examples
    --------
    >>> sm = load_special_measures()
    >>> bool(sm["read_at"].notna().all())
    True
    """
    t = _registry(path or _SPECIAL_MEASURES_PATH, "trusts", ("trust", "entered"))
    for c in ("exited", "exit_read_at", "note"):
        if c not in t:
            t[c] = pd.NA
    t["entered"] = t["entered"].astype(str)
    return t[["trust", "entered", "exited", "read_at", "exit_read_at", "note"]]


# ---------------------------------------------------------------------------------------------
# reviews as events in delayed transfers
def review_panel(data: pd.DataFrame, *, population: pd.DataFrame, reviews: pd.DataFrame, la_codes=None):
    """A monthly panel of delayed days per 100,000 aged 65+, and the review areas as events.

    Parameters
    ----------
    data : DataFrame
        :func:`cqc_research.io.nhs.load_dtoc` (monthly delayed days by local authority).
    population : DataFrame
        :func:`cqc_research.io.nhs.load_population`.
    reviews : DataFrame
        :func:`load_local_system_reviews` (``area, announced``), or any table with those columns.
    la_codes : DataFrame, optional
        Old to new local-authority codes.

    Returns
    -------
    panel : DataFrame
        ``org_code, org_name, period_start, value`` (delayed days per 100,000 aged 65+ in the
        month), ``reviewed`` (bool).
    events : DataFrame
        ``org_code, area, event_date``: the review areas found in the panel (matched by name).
    """
    d = data[data["measure"] == "dtoc_days_total"].dropna(subset=["value"]).copy()
    d["org_code"] = current_la_code(d["org_code"], names=d.get("org_name"), la_codes=la_codes).to_numpy()
    d["period_start"] = pd.to_datetime(d["period_start"])
    pop = population[population["measure"] == "population_65plus"].copy()
    pop = pop.sort_values("period_start").drop_duplicates("org_code", keep="last").set_index("org_code")["value"]
    d["value"] = d["value"] / d["org_code"].map(pop) * 100_000
    d = d.dropna(subset=["value"])
    d = d.groupby(["org_code", "period_start"], as_index=False).agg(value=("value", "sum"),
                                                                     org_name=("org_name", "last"))
    names = d.drop_duplicates("org_code").set_index("org_code")["org_name"]
    keys = {}
    for code, name in names.items():
        keys.setdefault(_key(name), []).append(code)
    ev = []
    for r in reviews.itertuples(index=False):
        codes = keys.get(_key(r.area), [])
        if len(codes) == 1:
            ev.append({"org_code": codes[0], "area": r.area, "event_date": pd.Timestamp(r.announced)})
    events = pd.DataFrame(ev, columns=["org_code", "area", "event_date"])
    d["reviewed"] = d["org_code"].isin(set(events["org_code"]))
    return d[["org_code", "org_name", "period_start", "value", "reviewed"]], events


def review_event_study(data: pd.DataFrame, *, events: pd.DataFrame, window: tuple[int, int] = (-12, 12)):
    """Event study of delayed transfers around the reviews, every other council as controls.

    Parameters
    ----------
    data, events : DataFrame
        :func:`review_panel`'s two tables.
    window : (int, int)
        Months before and after the review announcement.

    Returns
    -------
    study : DataFrame
        :func:`cqc_research.metrics.events.event_study` (unit and month fixed effects,
        clustered by area).
    contrasts : DataFrame
        :func:`~cqc_research.metrics.events.event_contrasts`: mean change before and after.
    """
    study = event_study(data, unit="org_code", time="period_start", outcome="value", events=events,
                        window=window)
    return study, event_contrasts(study)


def review_spc(data: pd.DataFrame, *, events: pd.DataFrame) -> pd.DataFrame:
    """Making Data Count rules on the review areas' mean monthly rate relative to all other councils.

    The series is the review areas' mean delayed days per 100,000 aged 65+ divided by the other
    councils' mean, month by month; the limits are rebased at the first review announcement.

    Parameters
    ----------
    data, events : DataFrame
        :func:`review_panel`'s two tables.

    Returns
    -------
    DataFrame
        :func:`cqc_research.metrics.spc.spc_rules` output (``time``: the month; ``value``: the
        ratio), lower being better.
    """
    reviewed = data["org_code"].isin(set(events["org_code"]))
    m = data.assign(reviewed=reviewed).groupby(["period_start", "reviewed"])["value"].mean().unstack()
    series = (m[True] / m[False]).dropna().rename("value").reset_index().rename(columns={"period_start": "time"})
    return spc_rules(series, value="value", time="time", improvement="down",
                     rebase=[events["event_date"].min()])


# ---------------------------------------------------------------------------------------------
# special measures: what followed an Inadequate rating
def special_measures_journeys(data: pd.DataFrame, *, relationships: pd.DataFrame | None = None,
                              sectors=("Adult social care", "GP practices"), alpha: float = 0.05) -> pd.DataFrame:
    """Rated Inadequate overall, then the next rating and the time it took, by sector and year.

    Services rated Inadequate overall are placed in special measures (adult social care from
    2015, GP practices from 2014); the next Overall rating and the months to it, by sector and
    the year of the Inadequate rating. Each Inadequate rating followed by another is one case.

    Parameters
    ----------
    data : DataFrame
        The rating-history panel (:attr:`cqc_research.io.cqc_json.ApiData.history`).
    relationships : DataFrame, optional
        ``ApiData.relationships``: predecessor registrations are followed.
    sectors : sequence of str
        The sectors kept.
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per sector and year: ``sector, year, n`` (cases followed by a rating),
        ``to_inadequate, to_requires_improvement, to_good, to_outstanding``, ``improved``
        (share), ``ci_low, ci_high``, ``median_months`` (to the next rating), ``q1_months,
        q3_months``.
    """
    pairs = consecutive_pairs(data, domain="Overall", relationships=relationships)
    p = pairs[(pairs["from_rating"].astype("object") == "Inadequate")
              & pairs["sector"].astype("object").isin(list(sectors))].copy()
    p["year"] = pd.to_datetime(p["from_date"]).dt.year
    rows = []
    for (sector, year), g in p.groupby([p["sector"].astype("object"), "year"], sort=True):
        codes = pd.Categorical(g["to_rating"].astype("object"), dtype=RATING_DTYPE).codes
        n, k = len(g), int((codes > 0).sum())
        lo, hi = proportion_ci(k, n, alpha=alpha)
        rows.append({"sector": sector, "year": int(year), "n": n,
                     **{f"to_{r.lower().replace(' ', '_')}": int((codes == i).sum()) for i, r in enumerate(RATINGS)},
                     "improved": k / n, "ci_low": lo, "ci_high": hi, "median_months": g["months"].median(),
                     "q1_months": g["months"].quantile(0.25), "q3_months": g["months"].quantile(0.75)})
    cols = ["sector", "year", "n", "to_inadequate", "to_requires_improvement", "to_good", "to_outstanding",
            "improved", "ci_low", "ci_high", "median_months", "q1_months", "q3_months"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# the notebook's inputs, figures and sentences
def council_inputs(councils_path: str = "", *, ratings_path: str = "", api_path: str = "",
                   dtoc_path: str = "", population_path: str = "", la_codes_path: str = "",
                   root=None) -> list[str]:
    """Notebook 10's inputs, read through the :class:`~cqc_research.dataset.Study` they describe.

    What is given wins over the study folder's declaration (``cqc-research.toml``), which wins
    over the embedded synthetic data (used only when nothing is given or declared).

    On the embedded synthetic data (nothing given, nothing declared) every input is the
    synthetic dataset's, the councils included (``councils/la_assessments.csv``). On real data
    (``ratings_path`` or ``api_path`` given) an input the study lacks is the 72 councils shipped
    with the package for the councils, the API folder's current ratings (``"api"``) for the
    ratings, and ``"none"`` for the API folder, delayed transfers and population (their sections
    are skipped).

    Parameters
    ----------
    councils_path : str
        The notebook's ``councils_path``; ``"packaged"`` for the 72 councils shipped with the
        package.
    ratings_path, api_path, dtoc_path, population_path, la_codes_path : str
        The notebook's parameters (``ratings_path="api"``: the API folder's current ratings;
        ``"none"``: left out).
    root : path, optional
        The study folder (default: found from the current directory).

    Returns
    -------
    list of str
        ``councils_path, ratings_path, api_path, dtoc_path, population_path, la_codes_path``. A
        synthetic dataset written before councils were added has no councils file: its
        ``councils_path`` is ``""`` (the notebook's sections say so).
    """
    study = Study.from_parameters(
        councils_path="" if councils_path == "packaged" else councils_path,
        ratings_path="" if ratings_path == "api" else ratings_path, api_path=api_path,
        dtoc_path=dtoc_path, population_path=population_path, la_codes_path=la_codes_path, root=root)
    if councils_path == "packaged":
        councils_path = str(PACKAGED_ASSESSMENTS)
    held = {k: study.path(k) for k in ("councils", "ratings", "api", "indicators.dtoc", "population",
                                        "la_codes")}
    held = {k: str(v) if v else "" for k, v in held.items()}
    councils = councils_path or held["councils"]
    if ratings_path or api_path:
        return [councils or str(PACKAGED_ASSESSMENTS),
                "api" if ratings_path == "api" else held["ratings"] or "api", held["api"] or "none",
                held["indicators.dtoc"] or "none", held["population"] or "none", held["la_codes"]]
    return [councils, held["ratings"], held["api"], held["indicators.dtoc"], held["population"],
            held["la_codes"]]


def load_dtoc_inputs(dtoc_path: str, *, population_path: str, la_codes_path: str = ""):
    """Delayed transfers, population aged 65+ and the code lookup, or Nones when not given.

    Parameters
    ----------
    dtoc_path, population_path : str
        The delayed-transfer and population CSVs; ``""`` or ``"none"`` for none.
    la_codes_path : str
        Optional lookup of old to new local-authority codes.

    Returns
    -------
    (dtoc, population, la_codes) : tuple of DataFrame or None
        Each None when its path is not given; ``population`` is None without ``dtoc`` too (the
        rates need both). Without population, ``dtoc`` still names local authorities and their
        codes, for :func:`load_la_assessments`.
    """
    codes = nhs.load_la_codes(la_codes_path) if la_codes_path not in ("", "none") else None
    dtoc = nhs.load_dtoc(dtoc_path) if dtoc_path not in ("", "none") else None
    if dtoc is None or population_path in ("", "none"):
        return dtoc, None, codes
    return dtoc, nhs.load_population(population_path), codes


def scores_plot(data: pd.DataFrame, *, title: str | None = None):
    """Councils' quality statement scores, by theme and statement, in CQC's rating colours.

    Parameters
    ----------
    data : DataFrame
        :attr:`CouncilAssessments.scores`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        A seaborn bar per statement (its theme in brackets), split by the share of councils
        scoring 1 (red) to 4 (deep green), in CQC's rating colours.
    """


    pal = dict(zip([1, 2, 3, 4], rating_palette().values(), strict=True))
    short = {t: ("Ensuring safety" if t.startswith("How the local") else t) for t in LA_THEMES}
    order = [f"{s}\n({short[t]})" for t, ss in LA_THEMES.items() for s in ss]
    d = data.assign(label=pd.Categorical(data["statement"] + "\n(" + data["theme"].map(short) + ")",
                                         categories=order))
    fig, ax = plt.subplots(figsize=(10, 6.5))
    sns.histplot(data=d, y="label", hue="score", hue_order=[4, 3, 2, 1], palette=pal, multiple="fill",
                 discrete=True, shrink=0.8, stat="proportion", alpha=1, edgecolor="white", ax=ax)
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -0.1), ncols=4, frameon=False,
                    title="score (4 exceptional ... 1 significant shortfalls)")
    ax.set_ylabel("")
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel(f"share of councils ({data['council'].nunique()})")
    ax.set_title(title or "Quality statement scores of councils, by statement (theme)")
    fig.tight_layout()
    return fig


def review_plot(study: pd.DataFrame, spc: pd.DataFrame, *, events: pd.DataFrame):
    """The review event study and the Making Data Count chart of the review areas, side by side.

    Parameters
    ----------
    study : DataFrame
        :func:`review_event_study`'s ``study``.
    spc : DataFrame
        :func:`review_spc`.
    events : DataFrame
        :func:`review_panel`'s events (the first announcement is marked on the chart).

    Returns
    -------
    matplotlib.figure.Figure
    """


    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    event_study_plot(study, event_label="review announced", ylabel="delayed days per 100,000 aged 65+",
                     title="Review areas against all other councils", ax=a)
    spc_chart(spc, improvement="down", event_date=events["event_date"].min(), event_label="reviews announced",
              title="Review areas' rate relative to other councils", ylabel="ratio of monthly rates", ax=b)
    fig.tight_layout()
    return fig


def local_quality_plot(data: pd.DataFrame, *, slope: pd.DataFrame | None = None, sector: str = "Adult social care"):
    """Each council's percentage score against the local share of services rated Good or better.

    Parameters
    ----------
    data : DataFrame
        The ``councils`` table of :func:`council_local_quality`.
    slope : DataFrame, optional
        Its ``slope`` table, drawn as a line.
    sector : str
        For the axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """


    fig, ax = plt.subplots(figsize=(7, 4.5))
    d = data.assign(local=100 * data["local_share_good"], rating=data["rating"].astype("object").fillna("Not rated"))
    sns.scatterplot(data=d, x="local", y="percentage", hue="rating", palette=rating_palette(include_not_rated=True),
                    hue_order=[r for r in [*RATINGS, "Not rated"] if r in set(d["rating"])], ax=ax, s=45)
    if slope is not None and pd.notna(slope["estimate"].iloc[0]):
        xs = np.linspace(d["local"].min(), d["local"].max(), 20)
        ax.plot(xs, slope["intercept"].iloc[0] + slope["estimate"].iloc[0] * xs, color="#444444", lw=1)
    for _, low, _high in BANDS[1:]:
        ax.axhline(low - 0.5, color="#bbbbbb", lw=0.8, ls=":")
    ax.set_xlabel(f"{sector} in the area rated Good or Outstanding (%)")
    ax.set_ylabel("council's percentage score")
    ax.set_title("Councils' scores and the quality of local care")
    fig.tight_layout()
    return fig


def rule_sentence(summary: pd.DataFrame, exceptions: pd.DataFrame) -> str:
    """One sentence on :func:`council_consistency`.

    Parameters
    ----------
    summary, exceptions : DataFrame
        Its two tables.

    Returns
    -------
    str

    Examples
    --------
    >>> s, e = council_consistency(load_la_assessments().assessments)
    >>> rule_sentence(s, e)[:60]
    'The scoring rule gives the published rating of 71 of the 71 '
    """
    r = summary.iloc[0]
    k, n, nr = int(r["n_reproduced"]), int(r["n_checked"]), int(r["n_not_rated"])
    if not n:
        return "No council has a published rating on the scale to check the rule against."
    text = (f"The scoring rule gives the published rating of {k} of the {n} councils rated on the scale "
            f"({r['reproduced']:.0%}, 95% CI {r['ci_low']:.0%} to {r['ci_high']:.0%})")
    if nr:
        text += (f"; {nr} council{' is' if nr == 1 else 's are'} published as not rated, kept and left out "
                 "of the check")
    if len(exceptions):
        named = ", ".join(f"{e.council} (published {e.rating}, rule {e.rule_rating})"
                          for e in exceptions.head(5).itertuples())
        text += f". Exceptions: {named}"
    return text + "."


def local_quality_sentence(groups: pd.DataFrame, slope: pd.DataFrame, sector: str = "Adult social care") -> str:
    """One sentence on :func:`council_local_quality`.

    Parameters
    ----------
    groups, slope : DataFrame
        Its ``groups`` and ``slope`` tables.
    sector : str
        The sector counted.

    Returns
    -------
    str
    """
    g = groups.set_index("group")
    a, b = g.loc["Good or better"], g.loc["Requires improvement or worse"]
    s = slope.iloc[0]
    if not a["n_rated"] or not b["n_rated"]:
        return f"Too few councils were matched to {sector.lower()} ratings to compare them ({int(s['n'])} matched)."
    return (f"In areas whose council is rated Good or better, {a['share_good']:.0%} of {sector.lower()} services "
            f"are rated Good or Outstanding ({int(a['n_rated']):,} services, 95% CI {a['ci_low']:.0%} to "
            f"{a['ci_high']:.0%}), against {b['share_good']:.0%} where the council is rated worse "
            f"({int(b['n_rated']):,}; {b['ci_low']:.0%} to {b['ci_high']:.0%}). Across {int(s['n'])} councils the "
            f"score rises by {s['estimate']:.2f} points per point of local share Good or better "
            f"(95% CI {s['ci_low']:.2f} to {s['ci_high']:.2f}).")


def council_dtoc_sentence(data: pd.DataFrame) -> str:
    """One sentence on the ``summary`` table of :func:`council_dtoc`.

    Parameters
    ----------
    data : DataFrame
        :func:`council_dtoc`'s summary (one row per rating, then ``all councils``).

    Returns
    -------
    str
    """
    t = data.set_index("rating")
    a = t.loc["all councils"]
    if not a["n_councils"]:
        return "No council was matched to the delayed-transfer figures."
    parts = [f"{r}: median {t.loc[r, 'median']:,.0f} ({int(t.loc[r, 'n_councils'])} councils)"
             for r in RATINGS if t.loc[r, "n_councils"]]
    text = (f"Delayed days per 100,000 people aged 65+ per year, over the years published, by the council's "
            f"rating: {'; '.join(parts)}.")
    if pd.notna(a.get("spearman")):
        text += (f" Spearman's correlation of the council's score with its delays is {a['spearman']:.2f} "
                 f"(95% CI {a['ci_low']:.2f} to {a['ci_high']:.2f}, {int(a['n_councils'])} councils).")
    return text
