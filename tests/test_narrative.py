"""The sentences of cqc_research.narrative, checked against strings written by hand from numbers
computed by hand (Wilson limits from the closed formula, not from the library)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cqc_research import narrative as say


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_wilson_by_hand_matches_the_quoted_limits():
    # 7 of 10: 0.3968 to 0.8922; 1 of 4: 0.0456 to 0.6994 (closed formula above)
    lo, hi = _wilson(7, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)
    lo, hi = _wilson(1, 4)
    assert (round(lo, 4), round(hi, 4)) == (0.0456, 0.6994)


def test_share():
    assert say.share(7, 10) == "7 of 10 (70%, 95% CI 40% to 89%)"
    assert say.share(1, 4, digits=1) == "1 of 4 (25.0%, 95% CI 4.6% to 69.9%)"
    assert say.share(1234, 2000) == "1,234 of 2,000 (62%, 95% CI 60% to 64%)"
    assert say.share(0, 0) == "0 of 0 (no data)"
    # 90% interval: z = 1.6449; 45 of 50 -> 0.8093 to 0.9513
    assert say.share(45, 50, alpha=0.1) == "45 of 50 (90%, 90% CI 81% to 95%)"


def test_interval_and_plural():
    assert say.interval(0.123, 0.05, 0.2) == "0.12 (95% CI 0.05 to 0.20)"
    assert say.interval(-0.31, -0.45, -0.15, fmt="{:+.2f}") == "-0.31 (95% CI -0.45 to -0.15)"
    assert say.interval(0.7, 0.4, 0.89, fmt="{:.0%}", label="90% CI") == "70% (90% CI 40% to 89%)"
    assert say.interval(2.0, np.nan, 3.0, fmt="{:.1f}") == "2.0 (no interval)"
    assert say.plural(1, "spell") == "1 spell"
    assert say.plural(0, "spell") == "0 spells"
    assert say.plural(2500, "re-inspection") == "2,500 re-inspections"
    assert say.plural(3, "area has", "areas have") == "3 areas have"
    assert say.listing(["Leeds", "York"]) == "Leeds, York"
    assert say.listing([], empty="none given") == "none given"


def test_largest_correlation_picks_the_largest_absolute_value_in_the_domain():
    corr = pd.DataFrame({
        "indicator": ["a", "b", "c", "a"],
        "domain": ["Overall", "Overall", "Overall", "Safe"],
        "rho": [0.10, -0.31, 0.20, 0.90],            # Safe's 0.90 is not the Overall domain
        "ci_low": [-0.05, -0.45, 0.02, 0.80],
        "ci_high": [0.25, -0.15, 0.38, 0.95]})
    assert say.largest_correlation(corr, "Overall") == (
        "The largest correlation with the Overall rating is -0.31 (b; 95% CI -0.45 to -0.15). "
        "2 of 3 indicators have an interval that excludes zero.")
    none = corr.assign(ci_low=-0.5, ci_high=0.5)
    assert say.largest_correlation(none, "Safe").endswith(
        "is +0.90 (a; 95% CI -0.50 to +0.50). Every interval includes zero.")


def test_versus_baseline_reads_the_interval():
    assert say.versus_baseline(0.031, 0.004, 0.058) == (
        "The difference is +3.1 percentage points (95% CI +0.4 to +5.8), so the indicators do add "
        "something over the baseline.")
    assert say.versus_baseline(0.031, -0.004, 0.058, better="yes.", no_better="no.") == (
        "The difference is +3.1 percentage points (95% CI -0.4 to +5.8), no.")


def _summary(**kw):
    base = {"accuracy": 0.8, "accuracy_ci_low": 0.75, "accuracy_ci_high": 0.84,
            "modal_share": 0.79, "accuracy_minus_modal": 0.01,
            "accuracy_minus_modal_ci_low": -0.02, "accuracy_minus_modal_ci_high": 0.04,
            "weighted_kappa": -0.0001, "weighted_kappa_ci_low": -0.05,
            "weighted_kappa_ci_high": 0.05, "note": "", "n": 200, "n_good_or_better": 160,
            "n_worse": 40, "share_good_or_better": 0.8, "auc": 0.5, "auc_ci_low": 0.41,
            "auc_ci_high": 0.6}
    return pd.Series(base | kw)


def test_prediction_sentence_has_no_negative_zero_and_keeps_the_note():
    text = say.prediction_sentence(_summary(note="the model only predicts Good"))
    assert text == (
        "Cross-validated accuracy is **80.0%** (95% CI 75.0% to 84.0%); always guessing the "
        "commonest rating scores **79.0%**. The difference is +1.0 percentage points (95% CI -2.0 "
        "to +4.0), so this data gives no evidence that the model beats the baseline. Weighted "
        "kappa is 0.000 (95% CI -0.050 to 0.050). Note: the model only predicts Good.")
    nan_note = say.prediction_sentence(_summary(note=np.nan))   # a note read back from CSV
    assert "Note" not in nan_note


def test_margin_matched_and_auc_sentences():
    s = _summary(accuracy=0.6, accuracy_ci_low=0.55, accuracy_ci_high=0.65,
                 accuracy_minus_modal=-0.19, weighted_kappa=0.12, weighted_kappa_ci_low=-0.02,
                 weighted_kappa_ci_high=0.22)
    assert say.margin_matched_sentence(s) == (
        "With predictions in the training proportions, accuracy is **60.0%** (95% CI 55.0% to "
        "65.0%), -19.0 percentage points against always guessing the commonest rating, and "
        "weighted kappa is **0.120** (95% CI -0.020 to 0.220). The kappa interval includes 0: the "
        "ranking is no better than chance.")
    assert say.auc_sentence(_summary(auc=0.64, auc_ci_low=0.55, auc_ci_high=0.73)) == (
        "80.0% of linked locations (160 of 200) are rated Good or better. The cross-validated AUC "
        "is **0.64** (95% CI 0.55 to 0.73, DeLong): the indicators rank organisations rated Good "
        "or better above the others more often than a coin toss would.")
    few = say.auc_sentence(_summary(n_worse=6, n=166))
    assert few.endswith(", but with only 6 organisations on one side it cannot be estimated "
                        "reliably; read it as no evidence either way.")
    below = say.auc_sentence(_summary(auc=0.40, auc_ci_low=0.31, auc_ci_high=0.49))
    assert ": below 0.5, so the held-out scores rank the worse-rated" in below


def test_linkage_modal_odds_and_funnel_sentences():
    assert say.linkage_sentence(1200, "2014-15, 2018-19", 1000, 950, "Safe") == (
        "1,200 rated locations in scope; indicator files for 2014-15, 2018-19. 1,000 locations "
        "were linked to indicators published before their rating, and **950** have a rating on "
        "the scale for Safe and every indicator, so they enter the analysis below.")
    counts = pd.Series({"Inadequate": 1, "Requires improvement": 4, "Good": 15, "Outstanding": 0})
    assert say.modal_sentence(counts, "Overall") == (     # 15 / 20 = 75.0%
        "**75.0%** of the 20 linked locations are rated Good (Overall). Always guessing Good is "
        "right that often.")
    odds = pd.DataFrame({"indicator": ["qof", "size", "pay"], "odds_ratio_per_sd": [1.35, 0.97, 0.8],
                         "ci_low": [1.1, 0.8, 0.7], "ci_high": [1.66, 1.18, 0.91]})
    assert say.odds_ratios_sentence(odds) == (
        "Intervals that exclude 1: qof 1.35 (1.10 to 1.66); pay 0.80 (0.70 to 0.91).")
    assert say.odds_ratios_sentence(odds.iloc[[1]]).startswith("Every odds ratio's 95% interval")
    funnel = pd.DataFrame({"outside_95": [True, True, False, False],
                           "outside_998": [True, False, False, False]})
    assert say.outside_limits_sentence(funnel, "areas") == (
        "2 of 4 areas lie outside the 95% limits (1 outside 99.8%).")


def test_variation_and_chi2_sentences():
    # deciles 1 and 2: commonest shares 0.6 and 0.85, so 40% and 15% have another rating
    var = pd.DataFrame({"decile": [1, 1, 1, 2, 2], "share": [0.6, 0.3, 0.1, 0.85, 0.15],
                        "chi2_statistic": 7.25, "chi2_dof": 2.0,
                        "chi2_p_value_permutation": 0.0262, "n_perm": 2000})
    assert say.variation_sentence(var, "payments_per_weighted_patient") == (
        "Within each decile of payments per weighted patient, between 15% and 40% of practices "
        "have a rating other than their decile's commonest one. A test of the same rating mix in "
        "every decile gives p = 0.0262 (chi-square 7.2 on 2 degrees of freedom; p from 2,000 "
        "random shuffles of the ratings, which stays valid when some ratings are rare). So the "
        "mix does differ between deciles.")
    assert say.chi2_sentence(3.84, 1, 0.05001, differs="differ", same="same") == (
        "chi-square 3.8 on 1 degrees of freedom, p = 0.05. same")


@pytest.mark.parametrize("name", say.__all__)
def test_every_public_function_has_an_example(name):
    assert ">>>" in getattr(say, name).__doc__


def test_area_sentences():
    focus = pd.DataFrame({"local_authority": ["A", "B", "C", "D"], "n_rated": [10, 20, 30, 40],
                          "share_good": [0.5, 0.6, 0.8, 0.9], "england_share_good": 0.78,
                          "vs_england": ["lower", "lower", "similar", "similar"],
                          "care_home_beds": [100, 0, 300, 0], "beds_good": [50, 0, 250, 0]})
    # beds: 300 of 400 beds in homes rated Good or better = 75%
    assert say.area_summary_sentence(focus, "Adult social care") == (
        "**Adult social care:** 100 rated locations in 4 areas; 78% are rated Good or Outstanding "
        "overall. Area shares run from 50% to 90%. 2 areas have an interval wholly below the "
        "overall share (A, B). Care-home beds are known for 400 beds; 75% of them are in homes "
        "rated Good or better.")
    one = focus.iloc[[0]].assign(care_home_beds=0)
    assert say.area_summary_sentence(one, "GP practices") == (
        "**GP practices:** 10 rated locations in 1 area; 78% are rated Good or Outstanding overall.")
    ranks = pd.DataFrame({"local_authority": ["A", "B", "C", "D"], "rank_low": [1, 1, 2, 1],
                          "rank_high": [4, 3, 4, 2], "p_bottom": [0.2, 0.1, 0.3, 0.4],
                          "bottom_k": 2})
    # widths 3, 2, 2, 1: median 2
    assert say.rank_sentence(ranks) == (
        "The median width of a rank interval is 2 places out of 4. No area has an even chance of "
        "being among the bottom 2 areas.")
