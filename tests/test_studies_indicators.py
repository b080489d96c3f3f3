"""Notebook 02's study module: its sentences, checked against strings written by hand (moved
from tests/test_narrative.py), its helpers, and its declared tables against a run of the notebook."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_studies_agreement import assert_tables_match

from cqc_research.studies import indicators as q


def test_largest_correlation_picks_the_largest_absolute_value_in_the_domain():
    corr = pd.DataFrame({
        "indicator": ["a", "b", "c", "a"],
        "domain": ["Overall", "Overall", "Overall", "Safe"],
        "rho": [0.10, -0.31, 0.20, 0.90],            # Safe's 0.90 is not the Overall domain
        "ci_low": [-0.05, -0.45, 0.02, 0.80],
        "ci_high": [0.25, -0.15, 0.38, 0.95]})
    assert q.largest_correlation(corr, "Overall") == (
        "The largest correlation with the Overall rating is -0.31 (b; 95% CI -0.45 to -0.15). "
        "2 of 3 indicators have an interval that excludes zero.")
    none = corr.assign(ci_low=-0.5, ci_high=0.5)
    assert q.largest_correlation(none, "Safe").endswith(
        "is +0.90 (a; 95% CI -0.50 to +0.50). Every interval includes zero.")


def test_versus_baseline_reads_the_interval():
    assert q.versus_baseline(0.031, 0.004, 0.058) == (
        "The difference is +3.1 percentage points (95% CI +0.4 to +5.8), so the indicators do add "
        "something over the baseline.")
    assert q.versus_baseline(0.031, -0.004, 0.058, better="yes.", no_better="no.") == (
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
    text = q.prediction_sentence(_summary(note="the model only predicts Good"))
    assert text == (
        "Cross-validated accuracy is **80.0%** (95% CI 75.0% to 84.0%); always guessing the "
        "commonest rating scores **79.0%**. The difference is +1.0 percentage points (95% CI -2.0 "
        "to +4.0), so this data gives no evidence that the model beats the baseline. Weighted "
        "kappa is 0.000 (95% CI -0.050 to 0.050). Note: the model only predicts Good.")
    nan_note = q.prediction_sentence(_summary(note=np.nan))   # a note read back from CSV
    assert "Note" not in nan_note


def test_margin_matched_and_auc_sentences():
    s = _summary(accuracy=0.6, accuracy_ci_low=0.55, accuracy_ci_high=0.65,
                 accuracy_minus_modal=-0.19, weighted_kappa=0.12, weighted_kappa_ci_low=-0.02,
                 weighted_kappa_ci_high=0.22)
    assert q.margin_matched_sentence(s) == (
        "With predictions in the training proportions, accuracy is **60.0%** (95% CI 55.0% to "
        "65.0%), -19.0 percentage points against always guessing the commonest rating, and "
        "weighted kappa is **0.120** (95% CI -0.020 to 0.220). The kappa interval includes 0: the "
        "ranking is no better than chance.")
    assert q.auc_sentence(_summary(auc=0.64, auc_ci_low=0.55, auc_ci_high=0.73)) == (
        "80.0% of linked locations (160 of 200) are rated Good or better. The cross-validated AUC "
        "is **0.64** (95% CI 0.55 to 0.73, DeLong): the indicators rank organisations rated Good "
        "or better above the others more often than a coin toss would.")
    few = q.auc_sentence(_summary(n_worse=6, n=166))
    assert few.endswith(", but with only 6 organisations on one side it cannot be estimated "
                        "reliably; read it as no evidence either way.")
    below = q.auc_sentence(_summary(auc=0.40, auc_ci_low=0.31, auc_ci_high=0.49))
    assert ": below 0.5, so the held-out scores rank the worse-rated" in below


def test_linkage_modal_odds_and_funnel_sentences():
    assert q.linkage_sentence(1200, "2014-15, 2018-19", 1000, 950, "Safe") == (
        "1,200 rated locations in scope; indicator files for 2014-15, 2018-19. 1,000 locations "
        "were linked to indicators published before their rating, and **950** have a rating on "
        "the scale for Safe and every indicator, so they enter the analysis below.")
    counts = pd.Series({"Inadequate": 1, "Requires improvement": 4, "Good": 15, "Outstanding": 0})
    assert q.modal_sentence(counts, "Overall") == (     # 15 / 20 = 75.0%
        "**75.0%** of the 20 linked locations are rated Good (Overall). Always guessing Good is "
        "right that often.")
    odds = pd.DataFrame({"indicator": ["qof", "size", "pay"], "odds_ratio_per_sd": [1.35, 0.97, 0.8],
                         "ci_low": [1.1, 0.8, 0.7], "ci_high": [1.66, 1.18, 0.91]})
    assert q.odds_ratios_sentence(odds) == (
        "Intervals that exclude 1: qof 1.35 (1.10 to 1.66); pay 0.80 (0.70 to 0.91).")
    assert q.odds_ratios_sentence(odds.iloc[[1]]).startswith("Every odds ratio's 95% interval")
    funnel = pd.DataFrame({"outside_95": [True, True, False, False],
                           "outside_998": [True, False, False, False]})
    assert q.outside_limits_sentence(funnel, "areas") == (
        "2 of 4 areas lie outside the 95% limits (1 outside 99.8%).")


def test_variation_and_chi2_sentences():
    # deciles 1 and 2: commonest shares 0.6 and 0.85, so 40% and 15% have another rating
    var = pd.DataFrame({"decile": [1, 1, 1, 2, 2], "share": [0.6, 0.3, 0.1, 0.85, 0.15],
                        "chi2_statistic": 7.25, "chi2_dof": 2.0,
                        "chi2_p_value_permutation": 0.0262, "n_perm": 2000})
    assert q.variation_sentence(var, "payments_per_weighted_patient") == (
        "Within each decile of payments per weighted patient, between 15% and 40% of practices "
        "have a rating other than their decile's commonest one. A test of the same rating mix in "
        "every decile gives p = 0.0262 (chi-square 7.2 on 2 degrees of freedom; p from 2,000 "
        "random shuffles of the ratings, which stays valid when some ratings are rare). So the "
        "mix does differ between deciles.")
    assert q.chi2_sentence(3.84, 1, 0.05001, differs="differ", same="same") == (
        "chi-square 3.8 on 1 degrees of freedom, p = 0.05. same")


def test_rated_domains_and_combined_summary():
    wide = pd.DataFrame({"Overall": ["Good"] * 10 + [None], "Safe": ["Good"] * 9 + [None, None]})
    assert q.rated_domains(wide) == ["Overall"]
    assert q.rated_domains(wide, minimum=9) == ["Overall", "Safe"]


def test_notebook_02_saves_the_declared_tables(main_job):
    assert main_job.status == 0
    saved = {p.stem for p in (main_job.run / "tables").glob("*.csv")}
    assert {"prediction_summary", "indicator_sources", "correlations"} <= saved
    mine = main_job.run / "_02"
    (mine / "tables").mkdir(parents=True, exist_ok=True)
    for name in saved & set(q.TABLES):
        (mine / "tables" / f"{name}.csv").write_bytes((main_job.run / "tables" / f"{name}.csv").read_bytes())
    assert_tables_match(mine, q.TABLES)
