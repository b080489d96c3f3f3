"""Sentences that tell a result: an estimate with its interval, a share, a comparison with a baseline.

The analysis notebooks keep their story in markdown cells and the numbers in tables; the sentence
that joins the two ("the largest correlation is +0.31 (95% CI +0.12 to +0.48)") is written here
once, tested against hand-written strings, and called from every notebook that needs it.

Every function returns plain text (markdown emphasis where the notebooks used it) and takes
results as the library returns them: a row of a summary table, or the table itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ._text import f3 as _f3
from ._text import interval, listing, plural, share, share_cells
from ._text import pct as _pct
from ._text import pval as _pval
from .metrics.intervals import newcombe_diff_ci

__all__ = [
    "indicator_sources_sentence",
    "indicator_gaps_sentence",
    "plural",
    "interval",
    "share",
    "listing",
    "linkage_sentence",
    "modal_sentence",
    "largest_correlation",
    "versus_baseline",
    "odds_ratios_sentence",
    "prediction_sentence",
    "margin_matched_sentence",
    "auc_sentence",
    "variation_sentence",
    "outside_limits_sentence",
    "chi2_sentence",
    "compared_sentence",
    "domain_agreement_sentence",
    "aggregation_sentence",
    "assessments_loaded_sentence",
    "assessments_published_sentence",
    "statements_assessed_sentence",
    "scoring_rule_lines",
    "framework_shift_lines",
    "non_scale_sentence",
    "stay_good_lines",
    "improvement_lines",
    "time_to_improvement_lines",
    "share_cells",
    "area_summary_sentence",
    "area_funnel_sentence",
    "rank_sentence",
    "dtoc_match_sentence",
    "dtoc_sentence",
    "event_linkage_sentence",
    "event_study_sentence",
    "other_event_sentence",
    "spc_event_sentence",
    "code_name",
    "codebook_subtitle",
    "import_notes",
    "coded_segments_sentence",
    "unknown_codes_sentence",
    "top_codes_sentence",
    "role_codes_sentence",
    "cooccurrence_sentence",
    "follow_up_sentence",
    "prevalence_lines",
    "null_difference_sentence",
    "excerpts_block",
]


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


# -- domain agreement (notebook 01) ----------------------------------------------------------
def compared_sentence(data: pd.DataFrame, level: str, *, overall: str = "Overall",
                      domains: Iterable[str] = ("Safe", "Effective", "Caring", "Responsive", "Well-led")) -> str:
    """How many organisations are in scope, how many have an Overall rating, and how many enter
    each key question's comparison with it (notebook 01).

    Parameters
    ----------
    data : DataFrame
        Wide ratings (one row per organisation; missing = not on the scale).
    level : str
        "location" or "provider".
    overall : str
        The Overall rating column.
    domains : iterable of str
        The key questions compared.

    Returns
    -------
    str

    Examples
    --------
    >>> w = pd.DataFrame({"Overall": ["Good", None, "Good"], "Safe": ["Good", "Good", None]})
    >>> compared_sentence(w, "location", domains=["Safe"])[-49:]
    'all 1 rated organisations enter every comparison.'
    """
    both = {d: int((data[overall].notna() & data[d].notna()).sum()) for d in domains}
    text = (f"The file holds {len(data):,} {level}s in scope, of which {int(data[overall].notna().sum()):,} "
            "have an Overall rating on the four-point scale. Organisations whose Overall or key-question "
            "rating is not on the scale (for example *Inspected but not rated*) are left out of each "
            "comparison they cannot enter: ")
    if len(set(both.values())) == 1:
        return text + f"all {min(both.values()):,} rated organisations enter every comparison."
    return text + "the number compared is " + ", ".join(f"{n:,} for {d}" for d, n in both.items()) + "."


def _agree_pct(row, col: str = "agreement") -> str:
    return (f"{row[col]:.0%} (95% CI {row[col + '_ci_low']:.0%} to {row[col + '_ci_high']:.0%}, "
            f"n = {int(row['n']):,})")


def domain_agreement_sentence(main: pd.DataFrame) -> str:
    """Which key question matched Overall most and least often, whether their intervals overlap,
    the ranking and the range of weighted kappa (notebook 01).

    Parameters
    ----------
    main : DataFrame
        :func:`cqc_research.metrics.agreement.domain_agreement` rows, one per key question.

    Returns
    -------
    str

    Examples
    --------
    >>> t = pd.DataFrame({"domain": ["Safe", "Caring"], "n": [100, 100], "agreement": [0.9, 0.5],
    ...                   "agreement_ci_low": [0.8, 0.4], "agreement_ci_high": [0.95, 0.6],
    ...                   "weighted_kappa": [0.7, 0.2]})
    >>> domain_agreement_sentence(t)[:80]
    '**Safe** matched the Overall rating most often, 90% (95% CI 80% to 95%, n = 100)'
    """
    best = main.loc[main["agreement"].idxmax()]
    worst = main.loc[main["agreement"].idxmin()]
    apart = best["agreement_ci_low"] > worst["agreement_ci_high"]
    ranking = ", ".join(f"{r.domain} {r.agreement:.0%}"
                        for r in main.sort_values("agreement", ascending=False).itertuples())
    kappa = main["weighted_kappa"]
    return (f"**{best['domain']}** matched the Overall rating most often, {_agree_pct(best)}; "
            f"**{worst['domain']}** least often, {_agree_pct(worst)}. "
            + ("Their confidence intervals do not overlap, so the gap is larger than chance variation "
               "in a sample of this size would explain. " if apart else
               "Their confidence intervals overlap, so this data cannot tell the two apart. ")
            + f"In order: {ranking}. Weighted kappa ranges from "
            f"{kappa.min():.2f} ({main.loc[kappa.idxmin(), 'domain']}) "
            f"to {kappa.max():.2f} ({main.loc[kappa.idxmax(), 'domain']}).")


def aggregation_sentence(consistency: pd.DataFrame) -> str:
    """How many published Overall ratings CQC's rating principles reproduce, in total and for
    each sector, with the exceptions' direction (notebook 01).

    Parameters
    ----------
    consistency : DataFrame
        The first result of :func:`cqc_research.metrics.agreement.aggregation_consistency`.

    Returns
    -------
    str

    Examples
    --------
    >>> c = pd.DataFrame({"sector": ["Adult social care"], "n": [10], "n_reproduced": [9],
    ...                   "reproduced": [0.9], "reproduced_ci_low": [0.6], "reproduced_ci_high": [0.98],
    ...                   "n_published_better": [1], "n_published_worse": [0], "n_not_assessable": [0]})
    >>> aggregation_sentence(c).splitlines()[0]
    'The principles reproduce 9 of 10 published Overall ratings (90%).'
    """
    total_n, total_hit = int(consistency["n"].sum()), int(consistency["n_reproduced"].sum())
    lines = [f"- {r.sector}: {r.reproduced:.0%} of {r.n:,} reproduced (95% CI "
             f"{r.reproduced_ci_low:.0%} to {r.reproduced_ci_high:.0%}); the published rating was "
             f"better than the rule in {r.n_published_better:,} and worse in {r.n_published_worse:,}"
             + (f"; {r.n_not_assessable:,} could not be assessed (key questions not all rated)"
                if r.n_not_assessable else "") + "."
             for r in consistency.itertuples() if r.n]
    head = (f"The principles reproduce {total_hit:,} of {total_n:,} published Overall ratings "
            f"({total_hit / total_n:.0%}).\n\n" if total_n else "No organisation could be assessed.\n\n")
    return head + "\n".join(lines)


# -- the single assessment framework (notebook 08) -------------------------------------------
def assessments_loaded_sentence(scope) -> str:
    """How many locations, assessments and scores are in scope, and whether any part of an
    assessment was malformed (notebook 08).

    Parameters
    ----------
    scope : AssessmentScope
        :func:`cqc_research.metrics.assessment.load_api_in_scope` output.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> from types import SimpleNamespace
    >>> s = SimpleNamespace(locations=pd.DataFrame(index=range(3)), problems=[],
    ...                     assessments=pd.DataFrame({"org_id": ["a", "a", "b"]}),
    ...                     key_question_scores=pd.DataFrame(index=range(5)),
    ...                     statement_scores=pd.DataFrame(index=range(20)))
    >>> print(textwrap.fill(assessments_loaded_sentence(s), 88))
    The folder holds 3 locations in scope; 2 of them carry at least one assessment under the
    new framework (3 service-group assessments, 5 key-question scores and 20 quality-
    statement scores). No part of any assessment was malformed.
    """
    problems = len(scope.problems)
    return (f"The folder holds {len(scope.locations):,} locations in scope; "
            f"{scope.assessments['org_id'].nunique():,} of them carry at least one assessment under the new "
            f"framework ({len(scope.assessments):,} service-group assessments, "
            f"{len(scope.key_question_scores):,} key-question scores and {len(scope.statement_scores):,} "
            "quality-statement scores). "
            + (f"**{problems:,} malformed part(s)** of assessments were kept apart (file and JSON path below) "
               "and are not in the tables that follow." if problems else
               "No part of any assessment was malformed."))


def assessments_published_sentence(assessments: pd.DataFrame) -> str:
    """When the assessments in scope were published and how many gave no rating (notebook 08).

    Parameters
    ----------
    assessments : DataFrame
        ``publication_date`` and ``rating``.

    Returns
    -------
    str

    Examples
    --------
    >>> a = pd.DataFrame({"publication_date": pd.to_datetime(["2024-01-05", "2024-06-01"]),
    ...                   "rating": ["Good", None]})
    >>> assessments_published_sentence(a)[:69]
    '2 assessments were published between January 2024 and June 2024; 1 of'
    """
    if not len(assessments):
        return "No assessment in scope."
    dates = assessments["publication_date"]
    return (f"{len(assessments):,} assessments were published between {dates.min():%B %Y} and "
            f"{dates.max():%B %Y}; {int(assessments['rating'].isna().sum()):,} of them gave no rating "
            "(services CQC does not rate, such as dental practices, are judged against the regulations instead).")


def statements_assessed_sentence(summary: pd.DataFrame) -> str:
    """The range, median and quartiles of the statements assessed per assessment (notebook 08).

    Parameters
    ----------
    summary : DataFrame
        ``StatementsAssessed.summary`` without groups (one row).

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> s = pd.DataFrame({"assessments": [4], "min": [2], "max": [8], "median": [5], "q25": [3],
    ...                   "q75": [7], "share_all": [0.25]})
    >>> print(textwrap.fill(statements_assessed_sentence(s), 88))
    Across 4 assessments, the number of statements assessed ranged from 2 to 8 (median 5,
    quartiles 3 and 7); 25% assessed every statement.
    """
    if not len(summary):
        return "No statement scores in scope."
    s = summary.iloc[0]
    return (f"Across {int(s['assessments']):,} assessments, the number of statements assessed ranged from "
            f"{s['min']:.0f} to {s['max']:.0f} (median {s['median']:.0f}, quartiles "
            f"{s['q25']:.0f} and {s['q75']:.0f}); {s['share_all']:.0%} assessed every statement.")


def scoring_rule_lines(consistency: pd.DataFrame) -> str:
    """One bullet per rule version: the published percentages and ratings the scoring rule
    reproduces, with intervals, and the direction of the exceptions (notebook 08).

    Parameters
    ----------
    consistency : DataFrame
        The first result of :func:`cqc_research.metrics.assessment.scoring_consistency`.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"rule_version": ["2023-11"], "n_checked": [10],
    ...                   "n_percentage_reproduced": [9], "percentage_reproduced": [0.9],
    ...                   "percentage_ci_low": [0.6], "percentage_ci_high": [0.98],
    ...                   "n_rating_reproduced": [8], "rating_reproduced": [0.8],
    ...                   "rating_ci_low": [0.5], "rating_ci_high": [0.95],
    ...                   "n_published_better": [1], "n_published_worse": [1]})
    >>> print(textwrap.fill(scoring_rule_lines(c), 88))
    - rule version 2023-11 (assessments before 2 December 2024): percentages reproduced for
    9 of 10 key questions (90%, 95% CI 60% to 98%); ratings for 8 (80%, 95% CI 50% to 95%);
    the published rating was better than the rule's in 1 and worse in 1.
    """
    lines = []
    for r in consistency.itertuples():
        if r.n_checked:
            when = ("assessments before 2 December 2024" if r.rule_version == "2023-11"
                    else "assessments from 2 December 2024")
            lines.append(f"- rule version {r.rule_version} ({when}): percentages "
                         f"reproduced for {r.n_percentage_reproduced:,} of {r.n_checked:,} key questions "
                         f"({r.percentage_reproduced:.0%}, 95% CI {r.percentage_ci_low:.0%} to "
                         f"{r.percentage_ci_high:.0%}); ratings for {r.n_rating_reproduced:,} "
                         f"({r.rating_reproduced:.0%}, 95% CI {r.rating_ci_low:.0%} to {r.rating_ci_high:.0%}); "
                         f"the published rating was better than the rule's in {r.n_published_better:,} and "
                         f"worse in {r.n_published_worse:,}.")
    return "\n".join(lines) if lines else "No rated key question could be checked."


def framework_shift_lines(summary: pd.DataFrame) -> str:
    """One bullet per sector: the share of services rated worse at their first new-framework
    rating against the share the 2014 transitions predict (notebook 08).

    Parameters
    ----------
    summary : DataFrame
        ``FrameworkShift.summary``.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> s = pd.DataFrame({"sector": ["GP"], "direction": ["worse"], "n": [200],
    ...                   "observed": [0.3], "ci_low": [0.24], "ci_high": [0.37], "expected": [0.2],
    ...                   "difference": [0.1],
    ...                   "difference_ci_low": [0.04], "difference_ci_high": [0.17]})
    >>> print(textwrap.fill(framework_shift_lines(s), 88))
    - GP: 30% of 200 services were rated worse (95% CI 24% to 37%), more often than the 20%
    the 2014 transitions predict (difference +10%, 95% CI +4% to +17%).
    """
    lines = []
    for r in summary[summary["direction"] == "worse"].itertuples():
        if np.isfinite(r.difference):
            verdict = ("more often than" if r.difference_ci_low > 0 else "less often than"
                       if r.difference_ci_high < 0 else "about as often as (the interval includes no shift)")
            lines.append(f"- {r.sector}: {r.observed:.0%} of {r.n:,} services were rated worse (95% CI "
                         f"{r.ci_low:.0%} to {r.ci_high:.0%}), {verdict} the {r.expected:.0%} the 2014 "
                         f"transitions predict (difference {r.difference:+.0%}, 95% CI "
                         f"{r.difference_ci_low:+.0%} to {r.difference_ci_high:+.0%}).")
    return "\n".join(lines) if lines else "No service has ratings under both frameworks in scope."


# -- rating transitions (notebook 03) --------------------------------------------------------
def non_scale_sentence(by_status: dict) -> str:
    """'Non-scale outcomes by status: ...' from the pairing report's ``non_scale_by_status``.

    Parameters
    ----------
    by_status : dict of str to int
        Count of each non-scale outcome; zeros are left out.

    Returns
    -------
    str

    Examples
    --------
    >>> non_scale_sentence({"Inspected but not rated": 1200, "Suspended": 0})
    'Non-scale outcomes by status: Inspected but not rated: 1,200.'
    """
    items = [f"{k}: {v:,}" for k, v in by_status.items() if v]
    return f"Non-scale outcomes by status: {listing(items)}."


def stay_good_lines(matrix: pd.DataFrame, sectors) -> str:
    """One bullet per sector: the share of Good Overall ratings followed by Good again.

    Parameters
    ----------
    matrix : DataFrame
        :func:`cqc_research.metrics.transitions.transition_matrix` by sector and domain.
    sectors : list of str
        The sectors to describe, in order; sectors without Good ratings are left out.

    Returns
    -------
    str
        Markdown bullets.

    Examples
    --------
    >>> m = pd.DataFrame({"sector": ["GP practices"], "domain": ["Overall"], "from_rating": ["Good"],
    ...                   "to_rating": ["Good"], "share": [0.9], "ci_low": [0.85], "ci_high": [0.94],
    ...                   "row_n": [1500]})
    >>> stay_good_lines(m, ["GP practices"])
    '- GP practices: 90% of Good ratings were followed by Good again (95% CI 85% to 94%; 1,500 pairs).'
    """
    m = matrix[(matrix["domain"].astype(str) == "Overall")
               & (matrix["from_rating"].astype(str) == "Good")
               & (matrix["to_rating"].astype(str) == "Good")]
    stay = m.assign(sector=m["sector"].astype(str)).set_index("sector")
    return "\n".join(
        f"- {s}: {stay.loc[s, 'share']:.0%} of Good ratings were followed by Good again "
        f"(95% CI {stay.loc[s, 'ci_low']:.0%} to {stay.loc[s, 'ci_high']:.0%}; "
        f"{int(stay.loc[s, 'row_n']):,} pairs)."
        for s in sectors if s in stay.index and stay.loc[s, "row_n"] > 0)


def improvement_lines(improved: pd.DataFrame, overall: pd.DataFrame, start_rating: str,
                      test: dict | None = None, *, published: str | None = "76%") -> str:
    """What followed a rating, by sector and for all sectors, with the test between sectors.

    Parameters
    ----------
    improved : DataFrame
        ``improvement_from(pairs, rating=start_rating, by="sector")``.
    overall : DataFrame
        ``improvement_from(pairs, rating=start_rating, by=None)``.
    start_rating : str
        The starting rating; for Inadequate the destinations (Good, Requires improvement) are
        given, with CQC's published figure.
    test : dict, optional
        :func:`cqc_research.metrics.transitions.improvement_differs` output.
    published : str, optional
        CQC's published share for Inadequate services.

    Returns
    -------
    str
        Markdown bullets, or a sentence saying there were no re-inspections.

    Examples
    --------
    >>> imp = pd.DataFrame({"sector": ["GP practices"] * 3, "outcome": ["improved", "to Good",
    ...                     "to Requires improvement"], "n": [8, 3, 5], "total": 10,
    ...                     "share": [0.8, 0.3, 0.5], "ci_low": [0.49, 0.11, 0.24],
    ...                     "ci_high": [0.94, 0.6, 0.76]})
    >>> print(improvement_lines(imp, imp.drop(columns="sector"), "Inadequate"))
    - **GP practices**: 80% improved: 30% to Good and 50% to Requires improvement (95% CI for the share improved 49% to 94%; 10 re-inspections).
    - **All sectors**: 80% (95% CI 49% to 94%; 10 re-inspections). CQC's published figure for Inadequate services is 76%.
    """
    imp = improved[improved["outcome"] == "improved"].set_index("sector")
    dest = improved.pivot_table(index="sector", columns="outcome", values="share", observed=True)
    lines = []
    for s, row in imp.iterrows():
        if row["total"] == 0:
            continue
        extra = (f": {dest.loc[s, 'to Good']:.0%} to Good and "
                 f"{dest.loc[s, 'to Requires improvement']:.0%} to Requires improvement"
                 if start_rating == "Inadequate" else "")
        lines.append(f"- **{s}**: {row['share']:.0%} improved{extra} (95% CI for the share "
                     f"improved {row['ci_low']:.0%} to {row['ci_high']:.0%}; "
                     f"{plural(row['total'], 're-inspection')}).")
    a = overall.set_index("outcome").loc["improved"]
    if a["total"]:
        cqc = (f" CQC's published figure for Inadequate services is {published}."
               if published and start_rating == "Inadequate" else "")
        lines.append(f"- **All sectors**: {a['share']:.0%} (95% CI {a['ci_low']:.0%} to "
                     f"{a['ci_high']:.0%}; {plural(a['total'], 're-inspection')}).{cqc}")
    if test:
        lines.append(f"\nDo sectors differ? A chi-squared test of equal shares improved across the "
                     f"{test['groups']} sectors with at least five re-inspections gives chi-squared "
                     f"= {test['statistic']:.1f} on {test['dof']} df, p = {test['p_value']:.3g} "
                     "(small counts make this approximate).")
    return "\n".join(lines) or "No re-inspections after this rating."


def time_to_improvement_lines(times, *, months: float = 12, min_spells: int = 5) -> str:
    """One bullet per group: spells, improvements, the median time and the share by ``months``.

    Parameters
    ----------
    times : ImprovementTimes
        :func:`cqc_research.metrics.transitions.time_to_improvement` output (``median`` and
        ``improved_by``, grouped by ``sector``).
    months : float
        The horizon quoted.
    min_spells : int
        Groups with fewer spells are called too few to estimate.

    Returns
    -------
    str
        Markdown bullets.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(
    ...     median=pd.DataFrame({"sector": ["GP practices", "Other"], "n": [40, 3], "events": [30, 1],
    ...                          "median_months": [7.25, 9.0], "ci_low": [5.5, 1], "ci_high": [9.0, 20]}),
    ...     improved_by=pd.DataFrame({"sector": ["GP practices"], "months": [12], "improved_share": [0.7],
    ...                               "ci_low": [0.55], "ci_high": [0.82]}))
    >>> print(time_to_improvement_lines(t))
    - **GP practices**: 40 spells, 30 improved, median 7.2 months (95% CI 5.5 to 9.0); 70% improved within 12 months (55% to 82%).
    - Other: only 3 spells, too few to estimate.
    """
    lines = []
    for _, m in times.median.iterrows():
        if m["n"] < min_spells:
            lines.append(f"- {m['sector']}: only {plural(m['n'], 'spell')}, too few to estimate.")
            continue
        if pd.notna(m["median_months"]) and pd.notna(m["ci_low"]) and pd.notna(m["ci_high"]):
            med = (f"median {m['median_months']:.1f} months (95% CI {m['ci_low']:.1f} to "
                   f"{m['ci_high']:.1f})")
        elif pd.notna(m["median_months"]):
            med = f"median {m['median_months']:.1f} months (interval open-ended)"
        else:
            med = "median not reached"
        by = times.improved_by[(times.improved_by["sector"] == m["sector"])
                               & (times.improved_by["months"] == months)]
        at = ""
        if len(by):
            b = by.iloc[0]
            ci = (f" ({b['ci_low']:.0%} to {b['ci_high']:.0%})" if pd.notna(b["ci_low"])
                  else " (no interval: every spell had ended)")
            at = f"; {b['improved_share']:.0%} improved within {months:g} months{ci}"
        lines.append(f"- **{m['sector']}**: {int(m['n'])} spells, {int(m['events'])} improved, "
                     f"{med}{at}.")
    return "\n".join(lines) or "No spells to analyse."


# -- local systems (notebook 05) -------------------------------------------------------------
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
        :func:`cqc_research.metrics.areas.dtoc_correlation` output.
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


def event_linkage_sentence(linkage: pd.DataFrame, indicator: str, event: str) -> str:
    """What the indicator covers and how many CQC reports link to it (notebook 04).

    Parameters
    ----------
    linkage : DataFrame
        As :func:`cqc_research.metrics.events.event_linkage` returns.
    indicator, event : str
        The measure and the kind of event of the note.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> k = pd.DataFrame({"event": ["publication"], "trusts_with_indicator": [120],
    ...                   "period_first": pd.to_datetime(["2019-01-01"]),
    ...                   "period_last": pd.to_datetime(["2023-12-01"]), "trust_months": [7000],
    ...                   "events_linked": [90], "trusts_linked": [80],
    ...                   "events_inside_indicator_period": [85], "trusts_with_events": [82]})
    >>> text = event_linkage_sentence(k, "ae_4hr", "publication")
    >>> print(textwrap.fill(text, 88))
    The indicator `ae_4hr` covers **120 trusts** from January 2019 to December 2023 (7,000
    trust-months). CQC published 90 rated reports on 80 of these trusts (by publication
    date), 85 of them inside the indicator's period. 2 trusts with CQC reports have no
    series for this indicator (for A&E, trusts without an emergency department).
    """
    any_row = linkage.iloc[0] if len(linkage) else None
    if any_row is None:
        return f"The CQC data give no {event} dates."
    text = (f"The indicator `{indicator}` covers **{int(any_row['trusts_with_indicator']):,} trusts** from "
            f"{any_row['period_first']:%B %Y} to {any_row['period_last']:%B %Y} "
            f"({int(any_row['trust_months']):,} trust-months). ")
    if event not in set(linkage["event"]):
        return text + f"The CQC data give no {event} dates. "
    main = linkage.set_index("event").loc[event]
    text += (f"CQC published {int(main['events_linked']):,} rated reports on {int(main['trusts_linked'])} "
             f"of these trusts (by {event} date), {int(main['events_inside_indicator_period']):,} of them "
             "inside the indicator's period. ")
    missing = int(main["trusts_with_events"] - main["trusts_linked"])
    if missing > 0:
        text += (f"{plural(missing, 'trust')} with CQC reports {'has' if missing == 1 else 'have'} no "
                 "series for this indicator "
                 "(for A&E, trusts without an emergency department).")
    return text


def _higher_lower(row) -> str:
    if row["ci_low"] > 0:
        return "higher"
    if row["ci_high"] < 0:
        return "lower"
    return "no different, within the precision of the estimate,"


def event_study_sentence(contrasts: pd.DataFrame, event: str, post_months: int, unit: str) -> str:
    """The leads, lags and later lags of one event study, with the trusts they rest on (notebook 04).

    Parameters
    ----------
    contrasts : DataFrame
        As :func:`cqc_research.metrics.events.event_studies` returns (rows of ``event``).
    event : str
        The kind of event to describe.
    post_months : int
        The last month of the headline lags.
    unit : str
        The unit of the differences ("percentage points").

    Returns
    -------
    str
        A sentence saying there is no study when ``contrasts`` has no rows of ``event``.

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"event": "inspection", "contrast": ["lags", "leads"],
    ...                   "estimate": [-1.5, 0.2], "ci_low": [-2.5, -0.4], "ci_high": [-0.5, 0.8],
    ...                   "joint_p_value": [float("nan"), 0.4],
    ...                   "rel_from": [1, -6], "rel_to": [6, -2],
    ...                   "n_event_units": [30, 30], "n_events": [40, 40], "n_units": [100, 100]})
    >>> text = event_study_sentence(c, "inspection", 6, "percentage points")
    >>> print(textwrap.fill(text, 88))
    In months 1 to 6 after the inspection, the indicator was on average **-1.50 percentage
    points** (95% CI -2.50 to -0.50) relative to the month before: lower than before. Before
    the inspection (months -6 to -2) the average was +0.20 (95% CI -0.40 to +0.80). A joint
    test that every lead is zero gives p = 0.40. This rests on 30 trusts with 40 events,
    among 100 trusts in all.
    >>> event_study_sentence(c, "publication", 6, "percentage points")[:42]
    'No publication dates link to the indicator'
    """
    c = contrasts[contrasts["event"] == event].set_index("contrast")
    if c.empty:
        return f"No {event} dates link to the indicator, so there is no event study to show."
    lag, lead = c.loc["lags"], c.loc["leads"]
    p = lead["joint_p_value"]
    text = (f"In months 1 to {post_months} after the {event}, the indicator was on average "
            f"**{lag['estimate']:+.2f} {unit}** (95% CI {lag['ci_low']:+.2f} to {lag['ci_high']:+.2f}) "
            f"relative to the month before: {_higher_lower(lag)} than before. "
            f"Before the {event} (months {int(lead['rel_from'])} to {int(lead['rel_to'])}) the average was "
            f"{lead['estimate']:+.2f} (95% CI {lead['ci_low']:+.2f} to {lead['ci_high']:+.2f}). ")
    if pd.notna(p):
        text += f"A joint test that every lead is zero gives p {'< 0.01' if p < 0.01 else '= ' + format(p, '.2f')}. "
    else:
        text += "With this few trusts there is no joint test of all the leads (it needs more trusts than leads). "
    if "later lags" in c.index:
        lt = c.loc["later lags"]
        text += (f"In months {int(lt['rel_from'])} to {int(lt['rel_to'])} the average was {lt['estimate']:+.2f} "
                 f"(95% CI {lt['ci_low']:+.2f} to {lt['ci_high']:+.2f}). ")
    text += (f"This rests on {plural(int(lag['n_event_units']), 'trust')} with {int(lag['n_events'])} events, "
             f"among {plural(int(lag['n_units']), 'trust')} in all.")
    if lag["n_event_units"] < 10:
        text += (f" **Caution:** with events in only {plural(int(lag['n_event_units']), 'trust')}, clustered "
                 "intervals understate the uncertainty. Read these figures as a description of the trusts "
                 "with events, not as an estimate that carries over to others.")
    return text


def other_event_sentence(contrasts: pd.DataFrame, event: str, post_months: int, unit: str) -> str:
    """:func:`event_study_sentence` for the other kind of event, or why there is none (notebook 04).

    Parameters
    ----------
    contrasts, post_months, unit
        As :func:`event_study_sentence`.
    event : str
        The note's kind of event; the sentence is about the other one.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"event": ["publication"], "contrast": ["lags"]})
    >>> print(textwrap.fill(other_event_sentence(c, "publication", 6, "percentage points"), 88))
    Only one kind of event is available (publication); the data give no inspection dates for
    these trusts.
    """
    kinds, have = ("publication", "inspection"), list(dict.fromkeys(contrasts["event"]))
    if set(kinds) <= set(have):
        return event_study_sentence(contrasts, [e for e in kinds if e != event][0], post_months, unit)
    return (f"Only one kind of event is available ({', '.join(have) or 'none'}); the data give no "
            f"{' or '.join(e for e in kinds if e not in have)} dates for these trusts.")


_ASSURANCE = {"consistently pass": "will consistently meet it (its limits lie above the target)",
              "consistently fail": "will consistently miss it (its limits lie below the target)",
              "inconsistent": "will sometimes meet it and sometimes miss it"}


def spc_event_sentence(spc: pd.DataFrame, trust: dict, event: str, *, target: float | None = None,
                       assurance: str | None = None) -> str:
    """One trust's SPC chart around its event: the limits before, special causes after (notebook 04).

    Parameters
    ----------
    spc : DataFrame
        :func:`cqc_research.metrics.spc.spc_rules` output (``time``, ``mean``, ``lcl``, ``ucl``,
        ``variation`` and the rule columns).
    trust : dict
        As :func:`cqc_research.metrics.events.spc_event_trust` returns.
    event : str
        The kind of event.
    target, assurance : optional
        The target and the :func:`cqc_research.metrics.spc.spc_assurance` verdict after the event.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> spc = pd.DataFrame({"time": pd.date_range("2023-01-01", periods=4, freq="MS"),
    ...                     "mean": 80.0, "lcl": 70.0, "ucl": 90.0,
    ...                     "variation": ["common", "common", "concern", "common"],
    ...                     "outside": [False, False, True, False], "shift": False, "trend": False,
    ...                     "two_of_three": False})
    >>> trust = {"org_code": "RXX", "event_date": pd.Timestamp("2023-02-15"), "n_before": 2,
    ...          "month": 2023 * 12 + 1}
    >>> text = spc_event_sentence(spc, trust, "inspection")
    >>> print(textwrap.fill(text.split(" One trust")[0], 88))
    Trust **RXX**, inspection on 15 February 2023. The limits come from the 2 months before
    it (mean 80.0, process limits 70.0 to 90.0). Of the 2 months after it, 0 show special-
    cause improvement and 1 special-cause concern (rules: outside).
    """
    from .metrics.events import month_index

    after = spc[month_index(spc["time"]) > trust["month"]]
    counts = after["variation"].value_counts()
    rules = [r.replace("_", " ") for r in ("outside", "shift", "trend", "two_of_three") if after[r].any()]
    text = (f"Trust **{trust['org_code']}**, {event} on {trust['event_date']:%d %B %Y}. The limits come from the "
            f"{trust['n_before']} months before it (mean {spc['mean'].iloc[0]:.1f}, process limits "
            f"{spc['lcl'].iloc[0]:.1f} to {spc['ucl'].iloc[0]:.1f}). Of the {len(after)} months after it, "
            f"{counts.get('improvement', 0)} show special-cause improvement and {counts.get('concern', 0)} "
            "special-cause concern" + (f" (rules: {', '.join(rules)})" if rules else "") + ". ")
    if assurance:
        text += f"Against the {target:.0f}% standard, the process after it {_ASSURANCE[assurance]}. "
    return text + ("One trust's chart is an illustration, not a test. It also carries every national change "
                   "(the long decline in four-hour performance, winter pressure), which the event study "
                   "removes by comparing trusts in the same month. Other trusts can look different, and the "
                   "event study above is the average over all of them.")


# -- notebook 07: coded interviews beside CQC ratings -------------------------------------------
def _role(role) -> str:
    return str(role).replace("_", " ")


def code_name(code: str, labels: dict) -> str:
    """A code's label from the codebook, or the code marked as not in it.

    Parameters
    ----------
    code : str
        The code.
    labels : dict or Codebook
        Code to label, or a codebook (its ``codes`` table's ``code`` and ``label``).

    Returns
    -------
    str

    Examples
    --------
    >>> code_name("x", {"x": "Leadership"}), code_name("y", {})
    ('Leadership', 'y (not in codebook)')
    """
    if hasattr(labels, "codes"):
        labels = dict(zip(labels.codes["code"], labels.codes["label"], strict=True))
    return labels.get(code, f"{code} (not in codebook)")


def codebook_subtitle(codebook) -> str:
    """The codebook's name, version and size, for a report's subtitle (notebook 07).

    Parameters
    ----------
    codebook : Codebook
        With ``name``, ``version``, ``codes`` and ``questions``.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cb = SimpleNamespace(name="demo", version="1.0", codes=pd.DataFrame({"code": ["a", "b"]}),
    ...                      questions=pd.DataFrame({"id": ["q1", "q1", "q2"]}))
    >>> codebook_subtitle(cb)
    "Codebook 'demo' (version 1.0); 2 codes, 2 interview questions"
    """
    return (f"Codebook {codebook.name!r} (version {codebook.version}); {len(codebook.codes)} codes, "
            f"{codebook.questions['id'].nunique()} interview questions")


def import_notes(notes: Iterable[str]) -> str:
    """The import's notes, one paragraph each, in italics-led markdown ("" when there are none).

    Parameters
    ----------
    notes : iterable of str
        Messages.

    Returns
    -------
    str

    Examples
    --------
    >>> import_notes(["a", "b"])
    '*Import note:* a\\n\\n*Import note:* b'
    """
    return "\n\n".join(f"*Import note:* {n}" for n in notes)


def coded_segments_sentence(segments: pd.DataFrame, cases: pd.DataFrame, *, synthetic: bool = False) -> str:
    """What the coded file holds: excerpts, codings, interviews by role and cases (notebook 07).

    Parameters
    ----------
    segments : DataFrame
        Coded segments (``segment_id``, ``respondent_id``, ``respondent_role``, ``excerpt``).
    cases : DataFrame
        The case table (``location_id``).
    synthetic : bool
        Add how many excerpts are marked ``[SYNTHETIC]``.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> seg = pd.DataFrame({"segment_id": [1, 1, 2], "respondent_id": ["r1", "r1", "r2"],
    ...                     "respondent_role": ["registered_manager"] * 2 + ["staff"],
    ...                     "excerpt": ["[SYNTHETIC] a", "[SYNTHETIC] a", "[SYNTHETIC] b"]})
    >>> cases = pd.DataFrame({"location_id": ["1-101", None]})
    >>> text = coded_segments_sentence(seg, cases, synthetic=True)
    >>> print(textwrap.fill(text, 88))
    The file holds **2 coded excerpts** (3 codings: an excerpt can carry more than one code)
    from **2 interviews** (registered manager: 1, staff: 1) about **2 cases**, of which 1
    carry a CQC location ID. Every excerpt is marked as invented (100% begin with
    `[SYNTHETIC]`).
    """
    roles = segments.drop_duplicates("respondent_id")["respondent_role"].value_counts()
    text = (f"The file holds **{segments['segment_id'].nunique():,} coded excerpts** ({len(segments):,} "
            "codings: an excerpt can carry more than one code) from "
            f"**{segments['respondent_id'].nunique():,} interviews** "
            f"({', '.join(f'{_role(r)}: {n}' for r, n in roles.items())}) about **{len(cases):,} cases**, "
            f"of which {cases['location_id'].notna().sum():,} carry a CQC location ID.")
    if synthetic:
        text += (f" Every excerpt is marked as invented "
                 f"({segments['excerpt'].str.startswith('[SYNTHETIC]').mean():.0%} begin with `[SYNTHETIC]`).")
    return text


def unknown_codes_sentence(unknown: pd.DataFrame, notes: Iterable[str] = ()) -> str:
    """Whether every code is in the codebook, what to do about those that are not, and the
    import's other notes (:func:`import_notes`) (notebook 07).

    Parameters
    ----------
    unknown : DataFrame
        :func:`cqc_research.qual.unknown_codes` output.
    notes : iterable of str
        The import's other warnings.

    Returns
    -------
    str

    Examples
    --------
    >>> print(unknown_codes_sentence(pd.DataFrame(), ["2 rows had no excerpt."]))
    Every code in the file is in the codebook.
    <BLANKLINE>
    *Import note:* 2 rows had no excerpt.
    >>> unknown_codes_sentence(pd.DataFrame({"code": ["x"]}))[:44]
    '**1 code(s) are not in the codebook.** They '
    """
    if not len(unknown):
        text = "Every code in the file is in the codebook."
    else:
        text = (f"**{len(unknown)} code(s) are not in the codebook.** They are kept, in the group *unknown*, "
                "and counted below. A suggestion names the nearest codebook code when the name looks like a "
                "typo or a synonym. Add the code to the codebook, or rename it in the coding, if it belongs "
                "there.")
    return "\n\n".join([text, import_notes(notes)]).strip()


def top_codes_sentence(freq: pd.DataFrame, groups: pd.DataFrame, labels: dict, *, k: int = 3) -> str:
    """The most often coded codes with their intervals, and each group's share of cases (notebook 07).

    Parameters
    ----------
    freq, groups : DataFrame
        :func:`cqc_research.qual.code_frequencies` by code and by group (``unit="case"``).
    labels : dict
        Code to label.
    k : int
        How many codes to name.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> freq = pd.DataFrame({"code": ["lead", "staff"], "code_group": ["culture", "culture"],
    ...                      "n_units": [6, 3], "n_total": 10, "share": [0.6, 0.3],
    ...                      "ci_low": [0.31, 0.11], "ci_high": [0.83, 0.6]})
    >>> groups = pd.DataFrame({"code": ["culture"], "n_units": [7], "n_total": 10, "share": 0.7})
    >>> text = top_codes_sentence(freq, groups, {"lead": "Leadership"}, k=1)
    >>> print(textwrap.fill(text, 88))
    Most often coded: **Leadership** in 6 of 10 cases (60%, 95% CI 31% to 83%). At least one
    culture code appears in 7 of 10 cases (70%).
    """
    top = freq[freq["code_group"] != "unknown"].nlargest(k, "share")
    return ("Most often coded: " + "; ".join(
        f"**{code_name(r.code, labels)}** in {r.n_units} of {r.n_total} cases ({_pct(r.share)}, "
        f"95% CI {_pct(r.ci_low)} to {_pct(r.ci_high)})" for r in top.itertuples()) + ". "
        + " ".join(f"At least one {r.code} code appears in {r.n_units} of {r.n_total} cases ({_pct(r.share)})."
                   for r in groups.itertuples() if r.code != "unknown"))


def role_codes_sentence(by_role: pd.DataFrame, excess: pd.DataFrame, labels: dict) -> str:
    """Cases per role, and the code each role raised most compared with the others (notebook 07).

    Parameters
    ----------
    by_role : DataFrame
        :func:`cqc_research.qual.code_frequencies` by ``respondent_role`` (cases).
    excess : DataFrame
        :func:`cqc_research.qual.role_excess` output.
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> by_role = pd.DataFrame({"respondent_role": ["staff", "staff"], "n_total": [8, 8]})
    >>> excess = pd.DataFrame({"respondent_role": ["staff", "staff"], "code": ["lead", "pay"],
    ...                        "code_group": "culture", "excess": [0.3, 0.1], "n_units": [5, 2],
    ...                        "n_total": 8, "share": [0.625, 0.25], "share_others": [0.3, 0.15]})
    >>> text = role_codes_sentence(by_role, excess, {"lead": "Leadership"})
    >>> print(textwrap.fill(text, 88))
    Cases with a coded respondent in each role: staff 8. Counting interviews, the code each
    role raised most often compared with respondents in the other roles: staff: Leadership
    (5 of 8 interviews, 62%, against 30%).
    """
    n_role = by_role.drop_duplicates("respondent_role").set_index("respondent_role")["n_total"]
    most = (excess[excess["code_group"] != "unknown"].sort_values("excess", ascending=False)
            .groupby("respondent_role").head(1))
    return ("Cases with a coded respondent in each role: " + ", ".join(
        f"{_role(r)} {n}" for r, n in n_role.items()) + ". Counting interviews, the code each role "
        "raised most often compared with respondents in the other roles: " + "; ".join(
        f"{_role(r.respondent_role)}: {code_name(r.code, labels)} ({r.n_units} of {r.n_total} interviews, "
        f"{_pct(r.share)}, against {_pct(r.share_others)})" for r in most.itertuples()) + ".")


def cooccurrence_sentence(co_case: pd.DataFrame, co_seg: pd.DataFrame, n_cases: int, labels: dict) -> str:
    """The pairs of codes that co-occur most beyond chance, and the commonest double codings (notebook 07).

    Parameters
    ----------
    co_case, co_seg : DataFrame
        :func:`cqc_research.qual.code_cooccurrence` by case and by segment.
    n_cases : int
        The number of cases.
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> co = pd.DataFrame({"code_a": ["a", "b"], "code_b": ["b", "a"], "n_both": [4, 4],
    ...                    "expected_both": [2.5, 2.5]})
    >>> text = cooccurrence_sentence(co, co.assign(n_both=0), 10, {"a": "Leadership"})
    >>> print(textwrap.fill(text, 88))
    Pairs that appear together most often beyond what their frequencies alone would give:
    Leadership and b (not in codebook) (4 cases, 2.5 expected). With 10 cases, excesses of
    this size often arise by chance. No excerpt carries two codes.
    """
    pairs = co_case[co_case["code_a"] < co_case["code_b"]]
    strong = pairs.assign(excess=pairs["n_both"] - pairs["expected_both"]).nlargest(3, "excess")
    double = co_seg[(co_seg["code_a"] < co_seg["code_b"]) & (co_seg["n_both"] > 0)].nlargest(3, "n_both")
    double_text = ("Excerpts coded with two codes most often: " + "; ".join(
        f"{code_name(r.code_a, labels)} with {code_name(r.code_b, labels)} ({r.n_both})"
        for r in double.itertuples()) + "." if len(double) else "No excerpt carries two codes.")
    return ("Pairs that appear together most often beyond what their frequencies alone would give: "
            + "; ".join(f"{code_name(r.code_a, labels)} and {code_name(r.code_b, labels)} ({r.n_both} cases, "
                        f"{r.expected_both:.1f} expected)" for r in strong.itertuples())
            + f". With {n_cases} cases, excesses of this size often arise by chance. " + double_text)


def follow_up_sentence(joined: pd.DataFrame, followed: pd.DataFrame, times: pd.DataFrame) -> str:
    """How many cases could be followed, how many improved, and the median time to it (notebook 07).

    Parameters
    ----------
    joined, followed : DataFrame
        :func:`cqc_research.qual.cases_with_outcomes` output, and its rows with a known ``improved``.
    times : DataFrame
        :func:`cqc_research.qual.case_improvement_times` output (first row used).

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> joined = pd.DataFrame({"improved": [True, False, None, True]})
    >>> followed = joined.dropna(subset=["improved"])
    >>> times = pd.DataFrame({"median_months": [14.0], "ci_low": [9.0], "ci_high": [30.0],
    ...                       "events": [2], "n": [3]})
    >>> text = follow_up_sentence(joined, followed, times)
    >>> print(textwrap.fill(text, 88))
    Of 4 cases, 3 could be followed to a later inspection: 2 improved at the next inspection
    and 1 did not. Across these cases, a better rating came after a median of 14 months, 95%
    CI 9 to 30 (Kaplan-Meier; 2 of 3 cases improved during follow-up).
    """
    t = times.iloc[0]
    med = (f"a median of {t['median_months']:.0f} months, 95% CI {t['ci_low']:.0f} to {t['ci_high']:.0f}"
           if pd.notna(t["median_months"]) else "a median that the data cannot yet estimate")
    return (f"Of {len(joined)} cases, {len(followed)} could be followed to a later inspection: "
            f"{int(followed['improved'].sum())} improved at the next inspection and "
            f"{int((~followed['improved'].astype(bool)).sum())} did not. Across these cases, a better rating "
            f"came after {med} (Kaplan-Meier; {int(t['events'])} of {int(t['n'])} cases improved during "
            "follow-up).")


def prevalence_lines(comparison: pd.DataFrame, labels: dict) -> str:
    """The codes whose difference between improved and other cases excludes zero (notebook 07).

    Parameters
    ----------
    comparison : DataFrame
        :func:`cqc_research.qual.compare_prevalence` output.
    labels : dict
        Code to label.

    Returns
    -------
    str
        A sentence and one bullet per such code, quoting the counts.

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"code": ["lead"], "k_improved": [8], "n_improved": [10],
    ...                   "prev_improved": [0.8], "k_not_improved": [2], "n_not_improved": [10],
    ...                   "prev_not_improved": [0.2], "difference": [0.6], "diff_ci_low": [0.2],
    ...                   "diff_ci_high": [0.8], "p_fisher": [0.023], "p_holm": [0.023]})
    >>> head, _, bullet = prevalence_lines(c, {"lead": "Leadership"}).splitlines()
    >>> head
    'For 1 of 1 codes, the 95% interval of the difference between the groups excludes zero:'
    >>> print(textwrap.fill(bullet, 88))
    - **Leadership**: 8 of 10 cases that improved (80%) against 2 of 10 that did not (20%);
    difference +60% (95% CI +20% to +80%), Fisher p 0.023, Holm-adjusted p 0.023.
    >>> prevalence_lines(c.assign(diff_ci_low=-0.1), {})
    'For none of the 1 codes does the difference between the groups exclude zero.'
    """
    clear = comparison[(comparison["diff_ci_low"] > 0) | (comparison["diff_ci_high"] < 0)]
    if not len(clear):
        return f"For none of the {len(comparison)} codes does the difference between the groups exclude zero."
    lines = [f"- **{code_name(r.code, labels)}**: {r.k_improved} of {r.n_improved} cases that improved "
             f"({_pct(r.prev_improved)}) against {r.k_not_improved} of {r.n_not_improved} that did not "
             f"({_pct(r.prev_not_improved)}); difference {r.difference:+.0%} (95% CI {r.diff_ci_low:+.0%} "
             f"to {r.diff_ci_high:+.0%}), Fisher p {_pval(r.p_fisher)}, Holm-adjusted p {_pval(r.p_holm)}."
             for r in clear.itertuples()]
    return (f"For {len(clear)} of {len(comparison)} codes, the 95% interval of the difference between the "
            "groups excludes zero:\n\n" + "\n".join(lines))


def null_difference_sentence(comparison: pd.DataFrame) -> str:
    """How wide the interval of a difference is with these group sizes when the shares are equal.

    The Newcombe interval (:func:`cqc_research.metrics.intervals.newcombe_diff_ci`) for two
    shares of ``n // 2`` out of ``n`` (notebook 07).

    Parameters
    ----------
    comparison : DataFrame
        :func:`cqc_research.qual.compare_prevalence` output: its first row's ``n_improved`` and
        ``n_not_improved`` are the group sizes.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"n_improved": [10], "n_not_improved": [12]})
    >>> print(textwrap.fill(null_difference_sentence(c), 88))
    With 10 and 12 cases, the 95% interval for the difference between two shares near 50%
    runs from -36% to +36% even when the shares are equal. A difference must be about that
    large before it stands out from chance. A code that does not differ has not been shown
    to be unimportant, since the intervals are wide.
    """
    n1, n0 = int(comparison["n_improved"].iloc[0]), int(comparison["n_not_improved"].iloc[0])
    lo, hi = newcombe_diff_ci(n1 // 2, n1, n0 // 2, n0)
    return (f"With {n1} and {n0} cases, the 95% interval for the difference between two shares near 50% runs "
            f"from {lo:+.0%} to {hi:+.0%} even when the shares are equal. A difference must be about that large "
            "before it stands out from chance. A code that does not differ has not been shown to be "
            "unimportant, since the intervals are wide.")


def excerpts_block(code: str | None, excerpts: pd.DataFrame, labels: dict) -> str:
    """A code's label and its excerpts as markdown quotations, each with role, case and question.

    Parameters
    ----------
    code : str or None
        The code (None gives an empty string).
    excerpts : DataFrame
        Segments (``excerpt``, ``respondent_role``, ``case_id``, ``question``).
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> ex = pd.DataFrame({"excerpt": ["We felt listened to."],
    ...                    "respondent_role": ["family_member"], "case_id": ["C1"],
    ...                    "question": ["Q2"]})
    >>> excerpts_block("voice", ex, {"voice": "Being heard"}).splitlines()
    ['**Being heard**', '', '> We felt listened to.  ', '> *(family member, case C1, Q2)*']
    >>> excerpts_block(None, ex, {})
    ''
    """
    if code is None:
        return ""
    return f"**{code_name(code, labels)}**\n\n" + "\n".join(
        f"> {r.excerpt}  \n> *({_role(r.respondent_role)}, case {r.case_id}, {r.question})*\n"
        for r in excerpts.itertuples())


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
