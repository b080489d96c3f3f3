"""Do routine indicators predict ratings? (notebook 02)

The statistics are :mod:`cqc_research.metrics.prediction`'s; this module holds what notebook 02
adds around them: every indicator source a study holds against the ratings
(:func:`every_indicator`), the tables it shows, its figures, its sentences and ``TABLES``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._text import f3 as _f3
from ..indicator_sources import LinkedIndicators, indicator_sources, link_sources
from ..io.cqc_files import load_latest_ratings
from ..metrics import prediction as pr
from ..notebook_output import Report
from ..plots import funnel as pf
from ..plots import prediction as pp
from ..ratings import DOMAINS, RATINGS

__all__ = ["TABLES", "every_indicator"]

_UNITS = {"practice": "practices", "trust": "NHS trusts"}

_SUMMARY = ("domain", "rule", "n", "folds", "indicators", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
            "modal_share", "modal_share_ci_low", "modal_share_ci_high", "accuracy_minus_modal",
            "accuracy_minus_modal_ci_low", "accuracy_minus_modal_ci_high", "weighted_kappa",
            "weighted_kappa_ci_low", "weighted_kappa_ci_high", "quadratic_kappa", "quadratic_kappa_ci_low",
            "quadratic_kappa_ci_high", "auc", "auc_ci_low", "auc_ci_high", "binary_threshold",
            "share_good_or_better", "n_good_or_better", "n_worse", "modal_classes", "predicted_classes",
            "seed", "note")
_GAPS = ("indicator", "n", "n_good_or_better", "n_worse", "mean_good_or_better", "mean_worse", "difference",
         "ci_low", "ci_high", "p_value", "difference_sd")

#: Every table notebook 02 saves: name -> its columns (after the report's ``data_status``).
TABLES: dict[str, tuple[str, ...]] = {
    "linkage_report": ("side", "org_code", "org_name", "status", "reason", "detail", "n_ratings",
                       "n_indicator_rows", "first_period", "last_period"),
    "linkage_summary": ("side", "status", "reason", "n", "share"),
    "correlations": ("indicator", "domain", "n", "rho", "ci_low", "ci_high", "p_value", "ci_method"),
    "odds_ratios": ("indicator", "n", "mean", "sd", "coef_per_sd", "se", "odds_ratio_per_sd", "ci_low",
                    "ci_high", "p_value", "levels", "converged"),
    "prediction_summary": _SUMMARY,
    "prediction_by_fold": ("fold", "n_train", "n_test", "modal_class", "accuracy", "modal_share"),
    "confusion_matrix": ("observed", *RATINGS),
    "confusion_matrix_match_margins": ("observed", *RATINGS),
    "variation_at_equal_resources": ("decile", "resource_low", "resource_high", "resource_median", "n",
                                     "rating", "count", "share", "ci_low", "ci_high", "resource",
                                     "chi2_statistic", "chi2_dof", "chi2_p_value",
                                     "chi2_p_value_permutation", "n_perm", "n_dropped"),
    "funnel_good_or_better_by_area": (
        "local_authority", "numerator", "denominator", "value", "n", "target", "z", "z_adj", "lower_95",
        "upper_95", "lower_998", "upper_998", "outside_95", "outside_998", "flag", "kind", "transform",
        "method", "phi", "tau2", "overdispersion", "adjusted", "winsorise", "n_units", "overdispersion_p",
        "multiplier", "rate_target", "trim", "exact", "adjust_if", "round_expected"),
    "indicator_sources": ("source", "title", "level", "window", "files", "measures", "linked", "status", "note"),
    "indicator_gaps_practice": _GAPS,
    "indicator_gaps_trust": _GAPS,
    "prediction_summary_all_sources_practice": _SUMMARY,
    "prediction_summary_all_sources_trust": _SUMMARY,
}

#: The columns of a prediction summary that notebook 02 shows.
SUMMARY_COLUMNS = ["domain", "rule", "n", "accuracy", "modal_share", "accuracy_minus_modal",
                   "weighted_kappa", "weighted_kappa_ci_low", "weighted_kappa_ci_high", "auc",
                   "auc_ci_low", "auc_ci_high"]


def every_indicator(report: Report, *, rated: pd.DataFrame, ratings_path,
                    sources: dict | None = None, domain: str = "Overall", folds: int = 5, seed=0) -> dict[str, LinkedIndicators]:
    """Link every indicator source held to the ratings, and report each level's gaps and model.

    Saves ``indicator_sources`` (what was used and what the study lacks), and for GP practices
    and NHS trusts ``indicator_gaps_<level>`` (each indicator's Good-or-better minus the rest,
    with a figure) and ``prediction_summary_all_sources_<level>`` (a cross-validated model of the
    headline measure of every source, against the modal-class baseline). A level without
    indicators, or with too few organisations to model, is a skipped section with its reason.

    Parameters
    ----------
    report : Report
        Where tables, figures and sentences go.
    rated : DataFrame
        Wide location ratings of GP practices (``PaymentsLink.rated``).
    ratings_path : path
        The Latest ratings file (its provider ratings are used at trust level).
    sources : dict, optional
        Source name to paths (see :func:`cqc_research.indicator_sources.indicator_sources`);
        empty: the study's declared data, else the synthetic files, but only when the ratings
        are synthetic too (real ratings are never linked to synthetic indicators).
    domain : str
        The rating to compare and predict.
    folds : int
        Cross-validation folds.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    dict of str to LinkedIndicators
        By level (``"practice"``, ``"trust"``).
    """
    ratings = load_latest_ratings(ratings_path)
    found = indicator_sources(sources or None, synthetic=bool(ratings.attrs.get("synthetic")))
    report.sources += [p for paths in found.values() for p in paths]
    by_level = {"practice": link_sources(rated, sources=found, level="practice", sector=None),
                "trust": link_sources(ratings, sources=found, level="trust")}
    held = pd.concat([v.sources for v in by_level.values()], ignore_index=True)
    report.save_table(held, "indicator_sources")
    report.say(indicator_sources_sentence(held))
    report.show(held[["source", "level", "status", "window", "files", "linked"]],
                "Indicator sources: used, and what the study lacks",
                labels={"linked": "organisations linked"})
    for level, linked in by_level.items():
        units = _UNITS[level]
        with report.section(f"Every indicator: {units}") as sec:
            measures = [m for ms in linked.measures.values() for m in ms]
            sec.require(measures, f"the study holds no indicator at {level} level")
            gaps = pr.indicator_gaps(linked.data, rating=domain, indicators=measures)
            report.save(f"indicator_gaps_{level}", gaps, pp.indicator_gap_plot(
                gaps, title=f"{units[0].upper() + units[1:]}: Good or better minus the rest"))
            report.say(indicator_gaps_sentence(gaps, units))
            report.show(gaps[["indicator", "n", "mean_good_or_better", "mean_worse", "difference",
                              "ci_low", "ci_high", "difference_sd"]],
                        f"{units[0].upper() + units[1:]}: each indicator, Good or better minus the rest")
            data = linked.data.dropna(subset=[domain, *linked.headline])
            sec.require(len(data) >= 30 and data[domain].nunique() > 1,
                        f"{len(data)} {units} have a {domain} rating and every headline "
                        "measure: too few to model")
            cv = pr.cross_validated_prediction(data, rating=domain, indicators=linked.headline,
                                               folds=folds, seed=seed)
            report.save_table(cv.summary, f"prediction_summary_all_sources_{level}")
            report.say(f"All sources together ({', '.join(linked.headline)}): "
                       + prediction_sentence(cv.summary.iloc[0]))
    return by_level


# -- the tables notebook 02 shows ------------------------------------------------------------
def rated_domains(data: pd.DataFrame, *, minimum: int = 10) -> list[str]:
    """The domains (Overall and the five key questions) with at least ``minimum`` ratings.

    Parameters
    ----------
    data : DataFrame
        Wide ratings: one column per domain.
    minimum : int
        Fewest ratings a domain needs.

    Returns
    -------
    list of str
        In the order of :data:`cqc_research.ratings.DOMAINS`.
    """
    return [d for d in DOMAINS if d in data and data[d].notna().sum() >= minimum]


def cross_validated_rules(data: pd.DataFrame, *, rating: str, indicators: Sequence[str],
                          folds: int = 5, seed=0,
                          rules: Sequence[str] = ("most_probable", "match_margins")) -> tuple:
    """:func:`~cqc_research.metrics.prediction.cross_validated_prediction` under each decision rule, on the same folds.

    Parameters
    ----------
    data, rating, indicators, folds, seed
        As for :func:`~cqc_research.metrics.prediction.cross_validated_prediction`.
    rules : sequence of str
        The decision rules, in the order returned.

    Returns
    -------
    tuple of cqc_research.metrics.prediction.CVResult
        One per rule.
    """
    return tuple(pr.cross_validated_prediction(data, rating=rating, indicators=indicators, folds=folds, seed=seed,
                                               rule=rule) for rule in rules)


def combined_summary(*results: pr.CVResult) -> pd.DataFrame:
    """The ``summary`` rows of several :class:`~cqc_research.metrics.prediction.CVResult`, one table.

    Parameters
    ----------
    *results : CVResult
        Cross-validation results.

    Returns
    -------
    DataFrame
    """
    return pd.concat([r.summary for r in results], ignore_index=True)


# -- figures ------------------------------------------------------------------------------------
def funnel_figure(funnel: pd.DataFrame, *, domain: str = "Overall"):
    """The share of linked practices rated Good or better by local authority, as a funnel plot.

    Parameters
    ----------
    funnel : DataFrame
        :func:`cqc_research.metrics.areas.good_or_better_funnel` by ``local_authority``.
    domain : str
        The rating, for the axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return pf.funnel_plot(funnel, unit="local_authority", xlabel="linked practices in the area",
                          ylabel=f"share rated Good or better ({domain})",
                          title="Share of practices rated Good or better, by local authority")


# -- sentences ----------------------------------------------------------------------------------
def linkage_sentence(n_rated: int, years: str, n_matched: int, n_analysed: int,
                     domain: str) -> str:
    """How many rated locations were linked to indicators and how many enter the analysis.

    Parameters
    ----------
    n_rated : int
        Rated locations in scope.
    years : str
        The indicator files' years.
    n_matched : int
        Locations linked to indicators published before their rating.
    n_analysed : int
        Linked locations with a scale rating and every indicator.
    domain : str
        The rating analysed.

    Returns
    -------
    str

    Examples
    --------
    >>> print(linkage_sentence(1200, "2018-19", 1000, 950, "Overall"))
    1,200 rated locations in scope; indicator files for 2018-19. 1,000 locations were linked to indicators published before their rating, and **950** have a rating on the scale for Overall and every indicator, so they enter the analysis below.
    """
    return (f"{n_rated:,} rated locations in scope; indicator files for {years}. "
            f"{n_matched:,} locations were linked to indicators published before their rating, and "
            f"**{n_analysed:,}** have a rating on the scale for {domain} and every indicator, so "
            "they enter the analysis below.")


def modal_sentence(counts: pd.Series, domain: str, what: str = "linked locations") -> str:
    """The share of the commonest rating: what always guessing it scores.

    Parameters
    ----------
    counts : Series
        Count of each rating (index: ratings).
    domain : str
        The rating described.
    what : str
        What is counted, in the plural.

    Returns
    -------
    str

    Examples
    --------
    >>> counts = pd.Series({"Inadequate": 1, "Requires improvement": 4, "Good": 15, "Outstanding": 0})
    >>> print(modal_sentence(counts, "Overall"))
    **75.0%** of the 20 linked locations are rated Good (Overall). Always guessing Good is right that often.
    """
    n = int(counts.sum())
    modal = counts.idxmax()
    return (f"**{counts[modal] / n:.1%}** of the {n:,} {what} are rated {modal} ({domain}). "
            f"Always guessing {modal} is right that often.")


def largest_correlation(corr: pd.DataFrame, domain: str = "Overall") -> str:
    """The largest correlation in one domain, and how many intervals exclude zero.

    Parameters
    ----------
    corr : DataFrame
        :func:`cqc_research.metrics.prediction.spearman_by_domain` output (``indicator, domain,
        rho, ci_low, ci_high``).
    domain : str
        The domain to describe.

    Returns
    -------
    str

    Examples
    --------
    >>> corr = pd.DataFrame({"indicator": ["a", "b"], "domain": "Overall", "rho": [0.1, -0.31],
    ...                      "ci_low": [-0.05, -0.45], "ci_high": [0.25, -0.15]})
    >>> largest_correlation(corr)
    'The largest correlation with the Overall rating is -0.31 (b; 95% CI -0.45 to -0.15). 1 of 2 indicators have an interval that excludes zero.'
    """
    focus = corr[corr["domain"] == domain]
    if focus["rho"].notna().sum() == 0:
        return f"No correlation with the {domain} rating could be estimated."
    top = focus.loc[focus["rho"].abs().idxmax()]
    clear = focus[(focus["ci_low"] > 0) | (focus["ci_high"] < 0)]
    return (f"The largest correlation with the {domain} rating is {top['rho']:+.2f} "
            f"({top['indicator']}; 95% CI {top['ci_low']:+.2f} to {top['ci_high']:+.2f}). "
            + (f"{len(clear)} of {len(focus)} indicators have an interval that excludes zero."
               if len(clear) else "Every interval includes zero."))


def versus_baseline(difference, low, high, *, unit: str = "percentage points",
                    scale: float = 100, better: str = "so the indicators do add something over "
                    "the baseline.", no_better: str = "so this data gives no evidence that the "
                    "model beats the baseline.") -> str:
    """A difference from a baseline with its interval, and what the interval says.

    Parameters
    ----------
    difference, low, high : float
        Estimate minus baseline, and its interval (as fractions when ``scale`` is 100).
    unit : str
        Unit of the scaled difference.
    scale : float
        Multiplier before printing (100 turns fractions into percentage points).
    better, no_better : str
        The reading when the interval lies above zero, and otherwise.

    Returns
    -------
    str

    Examples
    --------
    >>> versus_baseline(0.031, 0.004, 0.058)
    'The difference is +3.1 percentage points (95% CI +0.4 to +5.8), so the indicators do add something over the baseline.'
    >>> versus_baseline(-0.01, -0.03, 0.012, better="up.", no_better="not up.")
    'The difference is -1.0 percentage points (95% CI -3.0 to +1.2), not up.'
    """
    return (f"The difference is {scale * difference:+.1f} {unit} (95% CI {scale * low:+.1f} to "
            f"{scale * high:+.1f}), " + (better if low > 0 else no_better))


def odds_ratios_sentence(odds: pd.DataFrame) -> str:
    """Which odds ratios per SD have an interval that excludes 1.

    Parameters
    ----------
    odds : DataFrame
        :func:`cqc_research.metrics.prediction.ordered_logit` output.

    Returns
    -------
    str

    Examples
    --------
    >>> odds = pd.DataFrame({"indicator": ["qof", "size"], "odds_ratio_per_sd": [1.35, 0.97],
    ...                      "ci_low": [1.1, 0.8], "ci_high": [1.66, 1.18]})
    >>> odds_ratios_sentence(odds)
    'Intervals that exclude 1: qof 1.35 (1.10 to 1.66).'
    """
    clear = odds[(odds["ci_low"] > 1) | (odds["ci_high"] < 1)]
    if not len(clear):
        return ("Every odds ratio's 95% interval includes 1: no indicator is clearly associated "
                "with the rating once the others are held fixed.")
    return "Intervals that exclude 1: " + "; ".join(
        f"{r.indicator} {r.odds_ratio_per_sd:.2f} ({r.ci_low:.2f} to {r.ci_high:.2f})"
        for r in clear.itertuples()) + "."


def prediction_sentence(s) -> str:
    """Cross-validated accuracy against the modal share, and weighted kappa.

    Parameters
    ----------
    s : Series
        One row of ``cross_validated_prediction(...).summary``.

    Returns
    -------
    str

    Examples
    --------
    >>> s = pd.Series({"accuracy": 0.8, "accuracy_ci_low": 0.75, "accuracy_ci_high": 0.84,
    ...                "modal_share": 0.79, "accuracy_minus_modal": 0.01,
    ...                "accuracy_minus_modal_ci_low": -0.02, "accuracy_minus_modal_ci_high": 0.04,
    ...                "weighted_kappa": -0.0001, "weighted_kappa_ci_low": -0.05,
    ...                "weighted_kappa_ci_high": 0.05, "note": ""})
    >>> print(prediction_sentence(s))
    Cross-validated accuracy is **80.0%** (95% CI 75.0% to 84.0%); always guessing the commonest rating scores **79.0%**. The difference is +1.0 percentage points (95% CI -2.0 to +4.0), so this data gives no evidence that the model beats the baseline. Weighted kappa is 0.000 (95% CI -0.050 to 0.050).
    """
    text = (f"Cross-validated accuracy is **{s['accuracy']:.1%}** (95% CI {s['accuracy_ci_low']:.1%} "
            f"to {s['accuracy_ci_high']:.1%}); always guessing the commonest rating scores "
            f"**{s['modal_share']:.1%}**. "
            + versus_baseline(s["accuracy_minus_modal"], s["accuracy_minus_modal_ci_low"],
                              s["accuracy_minus_modal_ci_high"])
            + f" Weighted kappa is {_f3(s['weighted_kappa'])} (95% CI "
            f"{_f3(s['weighted_kappa_ci_low'])} to {_f3(s['weighted_kappa_ci_high'])}).")
    note = s.get("note")
    return text + (f" Note: {note}." if isinstance(note, str) and note else "")


def margin_matched_sentence(s) -> str:
    """Accuracy and weighted kappa of the margin-matched rule, and whether kappa excludes 0.

    Parameters
    ----------
    s : Series
        One row of ``cross_validated_prediction(..., rule="match_margins").summary``.

    Returns
    -------
    str

    Examples
    --------
    >>> s = pd.Series({"accuracy": 0.6, "accuracy_ci_low": 0.55, "accuracy_ci_high": 0.65,
    ...                "accuracy_minus_modal": -0.19, "weighted_kappa": 0.12,
    ...                "weighted_kappa_ci_low": 0.02, "weighted_kappa_ci_high": 0.22})
    >>> print(margin_matched_sentence(s))
    With predictions in the training proportions, accuracy is **60.0%** (95% CI 55.0% to 65.0%), -19.0 percentage points against always guessing the commonest rating, and weighted kappa is **0.120** (95% CI 0.020 to 0.220). The kappa interval excludes 0: the indicators rank organisations somewhat better than chance, even though they do not improve accuracy.
    """
    return (f"With predictions in the training proportions, accuracy is **{s['accuracy']:.1%}** "
            f"(95% CI {s['accuracy_ci_low']:.1%} to {s['accuracy_ci_high']:.1%}), "
            f"{100 * s['accuracy_minus_modal']:+.1f} percentage points against always guessing the "
            f"commonest rating, and weighted kappa is **{_f3(s['weighted_kappa'])}** (95% CI "
            f"{_f3(s['weighted_kappa_ci_low'])} to {_f3(s['weighted_kappa_ci_high'])}). "
            + ("The kappa interval excludes 0: the indicators rank organisations somewhat better "
               "than chance, even though they do not improve accuracy."
               if s["weighted_kappa_ci_low"] > 0 else
               "The kappa interval includes 0: the ranking is no better than chance."))


def auc_sentence(s, *, min_side: int = 10) -> str:
    """The share rated Good or better and the cross-validated AUC with its reading.

    Parameters
    ----------
    s : Series
        One row of ``cross_validated_prediction(...).summary`` (``n, n_good_or_better, n_worse,
        share_good_or_better, auc, auc_ci_low, auc_ci_high``).
    min_side : int
        Fewer organisations than this on either side: the AUC is called unreliable.

    Returns
    -------
    str

    Examples
    --------
    >>> s = pd.Series({"n": 200, "n_good_or_better": 160, "n_worse": 40,
    ...                "share_good_or_better": 0.8, "auc": 0.5, "auc_ci_low": 0.41,
    ...                "auc_ci_high": 0.6})
    >>> print(auc_sentence(s))
    80.0% of linked locations (160 of 200) are rated Good or better. The cross-validated AUC is **0.50** (95% CI 0.41 to 0.60, DeLong): an interval that includes 0.5, a coin toss.
    """
    few = min(int(s["n_good_or_better"]), int(s["n_worse"]))
    if few < min_side:
        verdict = (f", but with only {few} organisations on one side it cannot be estimated "
                   "reliably; read it as no evidence either way.")
    elif s["auc_ci_low"] > 0.5:
        verdict = (": the indicators rank organisations rated Good or better above the others "
                   "more often than a coin toss would.")
    elif s["auc_ci_high"] < 0.5:
        verdict = (": below 0.5, so the held-out scores rank the worse-rated organisations higher; "
                   "for a model with no real signal this can happen by chance under cross-validation.")
    else:
        verdict = ": an interval that includes 0.5, a coin toss."
    return (f"{s['share_good_or_better']:.1%} of linked locations ({int(s['n_good_or_better']):,} of "
            f"{int(s['n']):,}) are rated Good or better. The cross-validated AUC is **{s['auc']:.2f}** "
            f"(95% CI {s['auc_ci_low']:.2f} to {s['auc_ci_high']:.2f}, DeLong)" + verdict)


def chi2_sentence(statistic, dof, p_value, *, alpha: float = 0.05, differs: str = "",
                  same: str = "") -> str:
    """'chi-square 12.3 on 4 degrees of freedom, p = 0.0152', with a reading.

    Parameters
    ----------
    statistic, dof, p_value : float
        The test.
    alpha : float
        Threshold for the reading.
    differs, same : str
        Appended (after a space) when ``p_value < alpha``, and otherwise; empty for none.

    Returns
    -------
    str

    Examples
    --------
    >>> chi2_sentence(12.34, 4, 0.01498, differs="They differ.")
    'chi-square 12.3 on 4 degrees of freedom, p = 0.015. They differ.'
    """
    text = f"chi-square {statistic:.1f} on {int(dof)} degrees of freedom, p = {p_value:.3g}."
    reading = differs if p_value < alpha else same
    return text + (f" {reading}" if reading else "")


def variation_sentence(var: pd.DataFrame, resource: str) -> str:
    """The 'variation at equal resources' paragraph: spread within deciles and the test between.

    Parameters
    ----------
    var : DataFrame
        :func:`cqc_research.metrics.prediction.variation_at_equal_resources` output (``decile,
        share, chi2_statistic, chi2_dof, chi2_p_value_permutation, n_perm``).
    resource : str
        The resource column (underscores read as spaces).

    Returns
    -------
    str

    Examples
    --------
    >>> var = pd.DataFrame({"decile": [1, 1, 2, 2], "share": [0.7, 0.3, 0.9, 0.1],
    ...                     "chi2_statistic": 3.2, "chi2_dof": 1, "chi2_p_value_permutation": 0.08,
    ...                     "n_perm": 100})
    >>> print(variation_sentence(var, "payments_per_patient"))
    Within each decile of payments per patient, between 10% and 30% of practices have a rating other than their decile's commonest one. A test of the same rating mix in every decile gives p = 0.08 (chi-square 3.2 on 1 degrees of freedom; p from 100 random shuffles of the ratings, which stays valid when some ratings are rare). So this data gives no evidence that the rating mix differs between deciles.
    """
    chi = var.iloc[0]
    other = 1 - var.groupby("decile")["share"].max()
    p = chi["chi2_p_value_permutation"]
    return (f"Within each decile of {resource.replace('_', ' ')}, between {other.min():.0%} and "
            f"{other.max():.0%} of practices have a rating other than their decile's commonest one. "
            f"A test of the same rating mix in every decile gives p = {p:.3g} (chi-square "
            f"{chi['chi2_statistic']:.1f} on {int(chi['chi2_dof'])} degrees of freedom; p from "
            f"{int(chi['n_perm']):,} random shuffles of the ratings, which stays valid when some ratings are "
            "rare)." + (" So the mix does differ between deciles." if p < 0.05 else
                        " So this data gives no evidence that the rating mix differs between deciles."))


def outside_limits_sentence(funnel: pd.DataFrame, units: str = "local authorities") -> str:
    """How many units of a funnel plot lie outside its 95% and 99.8% limits.

    Parameters
    ----------
    funnel : DataFrame
        :func:`cqc_research.metrics.funnel.funnel_limits` output (``outside_95, outside_998``).
    units : str
        What the units are, in the plural.

    Returns
    -------
    str

    Examples
    --------
    >>> f = pd.DataFrame({"outside_95": [True, True, False], "outside_998": [True, False, False]})
    >>> outside_limits_sentence(f)
    '2 of 3 local authorities lie outside the 95% limits (1 outside 99.8%).'
    """
    return (f"{int(np.sum(funnel['outside_95']))} of {len(funnel)} {units} lie outside the 95% "
            f"limits ({int(np.sum(funnel['outside_998']))} outside 99.8%).")


def indicator_sources_sentence(sources: pd.DataFrame) -> str:
    """Which indicator sources a notebook used, and which the study lacks.

    Parameters
    ----------
    sources : DataFrame
        ``LinkedIndicators.sources`` of :mod:`cqc_research.indicator_sources` (``source, title,
        level, status``), one or more levels stacked.

    Returns
    -------
    str

    Examples
    --------
    >>> t = pd.DataFrame({"source": ["gp_payments", "qof", "shmi"],
    ...                   "title": ["NHS Payments to General Practice", "QOF", "SHMI"],
    ...                   "level": ["practice", "practice", "trust"],
    ...                   "status": ["used", "not held", "used"]})
    >>> print(indicator_sources_sentence(t))
    Used: NHS Payments to General Practice (practices), SHMI (trusts). The study lacks: QOF.
    """
    plural = {"practice": "practices", "trust": "trusts", "site": "sites",
              "local_authority": "local authorities"}
    used = sources[sources["status"] == "used"]
    lacking = sources[sources["status"] != "used"].drop_duplicates("source")
    lacking = lacking[~lacking["source"].isin(used["source"])]
    text = ("Used: " + ", ".join(f"{r.title} ({plural.get(r.level, r.level)})"
                                 for r in used.itertuples()) + "."
            if len(used) else "No indicator source was found.")
    if len(lacking):
        text += " The study lacks: " + ", ".join(lacking["title"]) + "."
    return text


def indicator_gaps_sentence(gaps: pd.DataFrame, units: str = "organisations") -> str:
    """The indicators whose gap between Good-or-better and worse ratings excludes zero.

    Parameters
    ----------
    gaps : DataFrame
        :func:`cqc_research.metrics.prediction.indicator_gaps` output.
    units : str
        What the rows are, plural ("practices", "trusts").

    Returns
    -------
    str

    Examples
    --------
    >>> g = pd.DataFrame({"indicator": ["gpps_overall_good", "list_size"], "n": [900, 950],
    ...                   "difference": [5.1, -20.0], "ci_low": [3.9, -180.0],
    ...                   "ci_high": [6.3, 140.0], "difference_sd": [0.52, -0.01]})
    >>> print(indicator_gaps_sentence(g, "practices"))
    Of 2 indicators, 1 differs clearly between practices rated Good or better and the rest: gpps overall good +5.1 (95% CI +3.9 to +6.3; 0.52 SD).
    """
    est = gaps.dropna(subset=["difference"])
    if est.empty:
        return f"No indicator had enough {units} on both sides of Good to compare."
    clear = est[(est["ci_low"] > 0) | (est["ci_high"] < 0)]
    head = (f"Of {len(est)} indicator{'s' if len(est) != 1 else ''}, {len(clear)} "
            f"differ{'s' if len(clear) == 1 else ''} clearly between {units} rated Good or better "
            "and the rest")
    if clear.empty:
        return head + ": every interval includes zero."
    return head + ": " + "; ".join(
        f"{r.indicator.replace('_', ' ')} {r.difference:+.3g} (95% CI {r.ci_low:+.3g} to "
        f"{r.ci_high:+.3g}; {r.difference_sd:.2f} SD)" for r in clear.itertuples()) + "."
