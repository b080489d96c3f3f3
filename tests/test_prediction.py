"""Do indicators predict ratings: Spearman, ordered logit, cross-validation, equal resources.

Estimates are checked against independent computations (scipy, scikit-learn, a hand-written
likelihood, a brute-force DeLong) and against effects planted in simulated data. The
cross-validation is checked never to train on the fold it scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from cqc_research.errors import DataFormatError, InsufficientData
from cqc_research.metrics.prediction import (
    OrderedLogit,
    auc_delong,
    cross_validated_prediction,
    ordered_logit,
    spearman_by_domain,
    stratified_folds,
    variation_at_equal_resources,
)
from cqc_research.ratings import RATING_DTYPE, RATINGS

BETA = {"a": 0.5, "b": -0.3, "c": 0.0}


def simulate(n=3000, seed=0, beta=BETA, cuts=(-3.0, -1.4, 2.2), scales=None):
    """Ratings from an ordered logit on standard-normal indicators (then rescaled)."""
    rng = np.random.default_rng(seed)
    names = list(beta)
    Z = rng.standard_normal((n, len(names)))
    eta = Z @ np.array([beta[k] for k in names])
    y = np.searchsorted(np.asarray(cuts), eta + rng.logistic(size=n))
    df = pd.DataFrame(Z, columns=names)
    for k, (scale, shift) in (scales or {}).items():
        df[k] = df[k] * scale + shift
    df["Overall"] = pd.Categorical.from_codes(y, dtype=RATING_DTYPE)
    df["org_id"] = [f"P{i:05d}" for i in range(n)]
    return df


# --------------------------------------------------------------------------------------------
# Spearman
def test_spearman_matches_scipy_and_fisher_interval():
    df = simulate(800, seed=1)
    df["Safe"] = df["Overall"]
    out = spearman_by_domain(df, indicators=["a", "b"], domains=["Overall", "Safe"]).set_index(["indicator", "domain"])
    assert len(out) == 4
    for ind in ("a", "b"):
        # scipy: spearmanr(x, rating codes)
        ref = stats.spearmanr(df[ind], df["Overall"].cat.codes)
        row = out.loc[(ind, "Overall")]
        assert row["rho"] == pytest.approx(ref.statistic)
        assert row["p_value"] == pytest.approx(ref.pvalue)
        se = np.sqrt((1 + ref.statistic**2 / 2) / (800 - 3))
        assert row["ci_low"] == pytest.approx(np.tanh(np.arctanh(ref.statistic) - 1.959964 * se),
                                              abs=1e-6)
    assert out.loc[("a", "Overall"), "ci_low"] > 0 > out.loc[("b", "Overall"), "ci_high"]
    # groups give the same answers as the subsets
    df["grp"] = np.where(np.arange(800) % 3 == 0, "x", "y")
    by = spearman_by_domain(df, indicators=["a"], by="grp").set_index("grp")
    for g in ("x", "y"):
        sub = df[df.grp == g]
        assert by.loc[g, "rho"] == pytest.approx(
            stats.spearmanr(sub["a"], sub["Overall"].cat.codes).statistic)
        assert by.loc[g, "n"] == len(sub)


def test_spearman_bootstrap_close_to_fisher_and_skips_missing():
    df = simulate(1500, seed=2)
    df.loc[:99, "a"] = np.nan
    df.loc[100:149, "Overall"] = None
    f = spearman_by_domain(df, indicators=["a"]).iloc[0]
    b = spearman_by_domain(df, indicators=["a"], ci="bootstrap", n_boot=600, seed=4).iloc[0]
    assert f["n"] == b["n"] == 1350
    assert b["rho"] == f["rho"]
    assert b["ci_low"] == pytest.approx(f["ci_low"], abs=0.02)
    assert b["ci_high"] == pytest.approx(f["ci_high"], abs=0.02)


def test_spearman_text_indicator_is_a_clear_error():
    df = simulate(20)
    df["a"] = df["a"].astype(object)
    df.loc[3, "a"] = "n/a"
    df.attrs["source"] = "payments.csv"
    with pytest.raises(DataFormatError, match=r"payments.csv, row 4, column 'a'.*numbers.*n/a"):
        spearman_by_domain(df, indicators=["a"])


# --------------------------------------------------------------------------------------------
# ordered logit
def _negloglik(params, X, y, k):
    """Hand-written ordered-logit likelihood: P(y <= j) = expit(cut_j - x'beta)."""
    p = X.shape[1]
    beta, cuts = params[:p], np.cumsum(np.r_[params[p], np.exp(params[p + 1:])])
    eta = X @ beta
    upper = np.where(y < k - 1, special.expit(cuts[np.minimum(y, k - 2)] - eta), 1.0)
    lower = np.where(y > 0, special.expit(cuts[np.maximum(y - 1, 0)] - eta), 0.0)
    return -np.log(np.clip(upper - lower, 1e-300, None)).sum()


def _hessian(f, x, h=1e-4):
    k = len(x)
    H = np.empty((k, k))
    E = np.eye(k) * h
    for i in range(k):
        for j in range(k):
            H[i, j] = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j])
                       + f(x - E[i] - E[j])) / (4 * h * h)
    return H


def test_ordered_logit_recovers_planted_odds_ratios_per_sd():
    # indicators on arbitrary scales: the odds ratio per SD must not depend on the units
    df = simulate(4000, seed=3, scales={"a": (3000.0, 7500.0), "b": (4.5, 22.0)})
    out = ordered_logit(df, rating="Overall", indicators=["a", "b", "c"]).set_index("indicator")
    for k, beta in BETA.items():
        assert out.loc[k, "ci_low"] <= np.exp(beta) <= out.loc[k, "ci_high"], k
    assert out.loc["a", "p_value"] < 1e-10 and out.loc["c", "p_value"] > 0.01
    assert (out["n"] == 4000).all()


def test_ordered_logit_matches_hand_written_likelihood():
    df = simulate(1500, seed=4)
    out, model = ordered_logit(df, rating="Overall", indicators=["a", "b"], return_model=True)
    out = out.set_index("indicator")
    X = df[["a", "b"]].to_numpy()
    Z = (X - X.mean(0)) / X.std(0, ddof=1)
    y = df["Overall"].cat.codes.to_numpy()
    fit = optimize.minimize(_negloglik, x0=np.r_[0, 0, -2, 0, 0], args=(Z, y, 4), method="BFGS")
    np.testing.assert_allclose(out["coef_per_sd"].to_numpy(), fit.x[:2], atol=2e-3)
    # standard errors from a finite-difference Hessian of the same likelihood
    H = _hessian(lambda q: _negloglik(q, Z, y, 4), fit.x)
    np.testing.assert_allclose(out["se"].to_numpy(), np.sqrt(np.diag(np.linalg.inv(H)))[:2],
                               rtol=1e-3)
    assert (out["levels"] == " | ".join(RATINGS)).all() and out["converged"].all() and out.attrs == {}
    # the cut-points on the model equal those of the hand-written likelihood
    np.testing.assert_allclose(model.thresholds_, np.cumsum(np.r_[fit.x[2], np.exp(fit.x[3:])]), atol=2e-3)


def test_ordered_logit_drops_incomplete_rows_and_unused_levels():
    df = simulate(600, seed=5, cuts=(-9.0, -1.0, 9.0))  # only RI and Good occur
    df.loc[:9, "a"] = np.nan
    out = ordered_logit(df, rating="Overall", indicators=["a"])
    assert out["n"].item() == 590
    assert out["levels"].item() == "Requires improvement | Good"
    m = OrderedLogit().fit(df[["a"]].dropna().to_numpy(), df.loc[10:, "Overall"].cat.codes)
    p = m.predict_proba(np.array([[0.0], [1.0]]))
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p[:, [0, 3]], 0)
    np.testing.assert_allclose(p.sum(1), 1)


# --------------------------------------------------------------------------------------------
# cross-validation
def test_stratified_folds_balance_every_class():
    y = np.repeat([0, 1, 2, 3], [7, 40, 230, 23])
    f = stratified_folds(y, folds=5, seed=3)
    sizes = np.bincount(f)
    assert sizes.max() - sizes.min() <= 1
    for cls in range(4):
        per = np.bincount(f[y == cls], minlength=5)
        assert per.max() - per.min() <= 1
    assert not np.array_equal(f, stratified_folds(y, folds=5, seed=4))


class SpyModel:
    """Records the rows each fitted model saw, and which rows it was asked to score."""

    log: list = []

    def __init__(self):
        self.inner = OrderedLogit()

    def fit(self, X, y):
        self.train = list(X.index)
        SpyModel.log.append(self)
        self.inner.fit(X.to_numpy(), y)
        return self

    def predict_proba(self, X):
        self.scored = list(X.index)
        return self.inner.predict_proba(X.to_numpy())


def test_cross_validation_never_trains_on_the_fold_it_scores():
    df = simulate(500, seed=6)
    SpyModel.log = []
    res = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=5, seed=1, model=SpyModel)
    assert len(SpyModel.log) == 5
    scored_all = []
    for spy in SpyModel.log:
        assert set(spy.train).isdisjoint(spy.scored)
        assert set(spy.train) | set(spy.scored) == set(df.index)
        scored_all += spy.scored
    assert sorted(scored_all) == sorted(df.index)  # every organisation scored exactly once
    for spy in SpyModel.log:
        folds = res.predictions.loc[spy.scored, "fold"]
        assert folds.nunique() == 1


class Memoriser:
    """A leakage canary: predicts an organisation's own rating if it saw it in training,
    else the training mode. Honest cross-validation gives it exactly the modal baseline."""

    def fit(self, X, y):
        self.seen = dict(zip(X["id"].to_numpy(), y, strict=True))
        self.mode = int(np.bincount(y, minlength=4).argmax())
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), 4))
        for i, key in enumerate(X["id"].to_numpy()):
            out[i, self.seen.get(key, self.mode)] = 1.0
        return out


def test_leakage_canary_memoriser_scores_only_the_baseline():
    df = simulate(400, seed=7)
    df["id"] = np.arange(len(df), dtype=float)
    res = cross_validated_prediction(df, rating="Overall", indicators=["id"], folds=4, seed=2, model=Memoriser)
    s = res.summary.iloc[0]
    assert s["accuracy"] == s["modal_share"]  # would be 1.0 if a fold were scored in training
    assert s["accuracy"] < 0.9


def test_cv_metrics_match_independent_computations():
    df = simulate(900, seed=8)
    res = cross_validated_prediction(df, rating="Overall", indicators=["a", "b", "c"], folds=5, seed=3)
    s, p = res.summary.iloc[0], res.predictions
    obs, pred = p["observed"].cat.codes, p["predicted"].cat.codes
    assert s["n"] == 900
    assert s["accuracy"] == pytest.approx(accuracy_score(obs, pred))
    lo, hi = proportion_confint((obs == pred).sum(), 900, method="wilson")
    assert (s["accuracy_ci_low"], s["accuracy_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert s["weighted_kappa"] == pytest.approx(
        cohen_kappa_score(obs, pred, weights="linear", labels=[0, 1, 2, 3]))
    assert s["quadratic_kappa"] == pytest.approx(
        cohen_kappa_score(obs, pred, weights="quadratic", labels=[0, 1, 2, 3]))
    np.testing.assert_array_equal(res.confusion.to_numpy(),
                                  confusion_matrix(obs, pred, labels=[0, 1, 2, 3]))
    # predicted = most probable rating
    probs = p[[f"p_{r}" for r in RATINGS]].to_numpy()
    np.testing.assert_array_equal(pred, probs.argmax(1))
    np.testing.assert_allclose(probs.sum(1), 1)
    # modal baseline: each fold's training mode, recomputed here
    y = df["Overall"].cat.codes.to_numpy()
    base = 0
    for f in range(5):
        test = (p["fold"] == f).to_numpy()
        mode = np.bincount(y[~test], minlength=4).argmax()
        base += (y[test] == mode).sum()
        assert res.per_fold.loc[f, "modal_class"] == RATINGS[mode]
    assert s["modal_share"] == pytest.approx(base / 900)
    # binary view: AUC of P(Good or better)
    positive = obs >= 2
    assert s["auc"] == pytest.approx(roc_auc_score(positive, p["p_good_or_better"]))
    assert s["share_good_or_better"] == pytest.approx(positive.mean())


def test_high_accuracy_can_mean_nothing():
    """80% Good, indicators that carry no signal: accuracy ~ modal share, kappa ~ 0."""
    df = simulate(1500, seed=9, beta={"a": 0.0, "b": 0.0}, cuts=(-4.5, -1.6, 3.5))
    res = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=5, seed=0)
    s = res.summary.iloc[0]
    assert s["modal_share"] > 0.7 and s["accuracy"] > 0.7
    assert s["accuracy_minus_modal_ci_low"] <= 0 <= s["accuracy_minus_modal_ci_high"] + 1e-12
    assert s["weighted_kappa_ci_low"] <= 0.0 + 1e-12
    assert s["weighted_kappa"] < 0.05
    assert s["auc_ci_low"] <= 0.5 <= s["auc_ci_high"]
    # at these cuts the model predicts Good for everyone, and the note says what that means
    assert s["predicted_classes"] == "Good"
    assert "kappa is 0 by construction" in s["note"]


def test_real_signal_beats_the_baseline():
    df = simulate(3000, seed=10, beta={"a": 1.5, "b": -1.0})
    s = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=5, seed=0).summary.iloc[0]
    assert s["accuracy_minus_modal_ci_low"] > 0
    assert s["weighted_kappa_ci_low"] > 0.2
    assert s["auc_ci_low"] > 0.7


# --------------------------------------------------------------------------------------------
# DeLong
def _delong_bruteforce(score, pos):
    x, y = score[pos], score[~pos]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    return psi.mean(), np.sqrt(v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(y))


def test_auc_delong_matches_sklearn_and_bruteforce():
    rng = np.random.default_rng(11)
    pos = rng.random(300) < 0.3
    score = np.round(rng.standard_normal(300) + pos * 0.8, 1)  # rounding makes ties
    got = auc_delong(score, pos)
    auc, se = _delong_bruteforce(score, pos)
    assert got["auc"] == pytest.approx(roc_auc_score(pos, score))
    assert got["auc"] == pytest.approx(auc)
    assert got["se"] == pytest.approx(se)
    assert got["ci_low"] == pytest.approx(auc - 1.959964 * se, abs=1e-6)


# --------------------------------------------------------------------------------------------
# variation at equal resources
def test_variation_at_equal_resources_counts_and_intervals():
    df = simulate(1000, seed=12, scales={"a": (22.0, 155.0)})
    out = variation_at_equal_resources(df, rating="Overall", resource="a", deciles=10)
    assert sorted(out.decile.unique()) == list(range(1, 11))
    assert len(out) == 40
    groups = pd.qcut(df["a"], 10, labels=False) + 1
    ref = pd.crosstab(groups, df["Overall"]).reindex(columns=RATINGS, fill_value=0)
    for (dec, rating), row in out.set_index(["decile", "rating"]).iterrows():
        assert row["count"] == ref.loc[dec, rating]
        assert row["n"] == ref.loc[dec].sum()
        lo, hi = proportion_confint(row["count"], row["n"], method="wilson")
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    np.testing.assert_allclose(out.groupby("decile").share.sum(), 1)
    chi = stats.chi2_contingency(ref.loc[:, ref.sum() > 0].to_numpy())
    assert out["chi2_p_value"].iloc[0] == pytest.approx(chi.pvalue)
    # with these counts the permutation p-value and the chi-square approximation agree
    assert out["chi2_p_value_permutation"].iloc[0] == pytest.approx(chi.pvalue, abs=0.03)
    noise = df.assign(z=np.random.default_rng(1).standard_normal(len(df)))
    flat = variation_at_equal_resources(noise, rating="Overall", resource="z", deciles=5, n_perm=500, seed=2)
    assert flat["chi2_p_value_permutation"].iloc[0] > 0.01
    # the planted effect of 'a' shows as a rising share of Good or better
    good = out[out.rating.isin(["Good", "Outstanding"])].groupby("decile")["share"].sum()
    assert good.loc[10] > good.loc[1]


def test_variation_bad_input():
    df = simulate(30)
    with pytest.raises(DataFormatError, match="missing column.*payments"):
        variation_at_equal_resources(df, rating="Overall", resource="payments")
    with pytest.raises(ValueError, match="cannot form 50 groups"):
        variation_at_equal_resources(df, rating="Overall", resource="a", deciles=50)


# --------------------------------------------------------------------------------------------
# figures
def test_prediction_figures_use_cqc_colours_and_the_tables_numbers():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from cqc_research.plots import rating_palette
    from cqc_research.plots.prediction import (
        confusion_matrix_plot,
        correlation_plot,
        indicator_by_rating,
        odds_ratio_plot,
        rating_mix_by_decile,
    )

    df = simulate(600, seed=13)
    pal = rating_palette()
    fig = indicator_by_rating(df, "Overall", ["a", "b"])
    box_colours = {to_hex(p.get_facecolor()[:3]) for p in fig.axes[0].patches}
    assert box_colours <= set(pal.values()) and len(box_colours) >= 3
    plt.close(fig)

    res = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=3, seed=0)
    fig = confusion_matrix_plot(res.confusion)
    first = [int(t.get_text().split("\n")[0].replace(",", "")) for t in fig.axes[0].texts]
    np.testing.assert_array_equal(np.reshape(first, (4, 4)), res.confusion.to_numpy())
    plt.close(fig)

    odds = ordered_logit(df, rating="Overall", indicators=["a", "b", "c"])
    fig = odds_ratio_plot(odds)
    xs = sorted(fig.axes[0].collections[-1].get_offsets()[:, 0])
    np.testing.assert_allclose(xs, sorted(odds["odds_ratio_per_sd"]))
    plt.close(fig)

    plt.close(correlation_plot(spearman_by_domain(df, indicators=["a", "b"])))

    var = variation_at_equal_resources(df, rating="Overall", resource="a", deciles=5)
    fig = rating_mix_by_decile(var)
    colours = {to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert colours == set(pal.values())
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# planted truth in the synthetic data: GP practices' Overall rating follows an ordered logit on
# the standardised 2022-23 payments measures
def _synthetic_gp(ds):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.io.nhs import load_gp_payments

    wide = ratings_wide(load_latest_ratings(ds.paths["ratings_ods"]), level="location")
    year = ds.truth["indicator_signal"]["year"]
    path = next(p for p in ds.paths["gp_payments"] if year in p.name)
    pay = load_gp_payments(path).pivot_table(index="org_code", columns="measure", values="value")
    gp = wide[wide["sector"] == "GP practices"]
    return gp.merge(pay, left_on="location_ods_code", right_index=True, how="inner")


def test_synthetic_odds_ratios_cover_the_planted_values(synthetic_small):
    truth = synthetic_small.truth["indicator_signal"]
    gp = _synthetic_gp(synthetic_small)
    assert len(gp) > 200
    out = ordered_logit(gp, rating="Overall", indicators=list(truth["beta_per_sd"])).set_index("indicator")
    for k, beta in truth["beta_per_sd"].items():
        assert out.loc[k, "ci_low"] <= np.exp(beta) <= out.loc[k, "ci_high"], k
    res = cross_validated_prediction(gp, rating="Overall", indicators=list(truth["beta_per_sd"]), folds=5, seed=1)
    s = res.summary.iloc[0]
    # a weak signal: no model beats always guessing the commonest rating by a clear margin
    assert s["accuracy_minus_modal_ci_low"] <= 0.0 + 1e-12
    assert s["weighted_kappa"] < 0.2


@pytest.mark.slow
def test_synthetic_default_scale_detects_the_two_planted_signals(tmp_path):
    from cqc_research.synthetic import generate

    ds = generate(tmp_path / "synthetic", seed=7, scale="default")
    truth = ds.truth["indicator_signal"]["beta_per_sd"]
    gp = _synthetic_gp(ds)
    cols = ["qof_payments_per_patient", "list_size", "payments_per_weighted_patient"]
    out = ordered_logit(gp, rating="Overall", indicators=cols).set_index("indicator")
    for k in cols:
        assert out.loc[k, "ci_low"] <= np.exp(truth[k]) <= out.loc[k, "ci_high"], k
    assert out.loc["qof_payments_per_patient", "ci_low"] > 1  # planted 0.30 per SD
    assert out.loc["list_size", "ci_high"] < 1                 # planted -0.20 per SD


# --------------------------------------------------------------------------------------------
# notebook 02, end to end: on the synthetic data, and on the real payments files
NB02_REQUIRED = {
    "prediction_summary": {"domain", "n", "accuracy", "modal_share", "weighted_kappa",
                           "weighted_kappa_ci_low", "weighted_kappa_ci_high"},
    "odds_ratios": {"indicator", "odds_ratio_per_sd", "ci_low", "ci_high", "p_value"},
    "correlations": {"indicator", "domain", "n", "rho", "ci_low", "ci_high"},
    "linkage_report": {"side", "org_code", "status", "reason"},
}
NB02_FIGURES = ("indicators_by_rating", "confusion_matrix", "funnel_good_or_better_by_area")


def _run_nb02(tmp_path, figures=NB02_FIGURES, **params):
    from cqc_research.paths import NOTEBOOKS
    from cqc_research.runner import KernelSession

    run = tmp_path / "run"
    params = {k: str(v) for k, v in params.items()} | {"output_dir": str(run)}
    with KernelSession(cwd=tmp_path) as kernel:
        nb, error = kernel.execute(NOTEBOOKS / "02_indicators_vs_ratings.ipynb",
                                   run / "02.ipynb", params)
    assert error is None, error
    tables = {}
    for name, cols in NB02_REQUIRED.items():
        tables[name] = pd.read_csv(run / "tables" / f"{name}.csv")
        assert cols <= set(tables[name].columns), name
    for fig in figures:
        assert (run / "figures" / f"{fig}.png").is_file(), fig
    text = "\n".join(out.get("data", {}).get("text/markdown", "")
                     for cell in nb.cells for out in cell.get("outputs", []))
    return run, tables, text


def test_notebook_02_runs_on_synthetic_data(synthetic_small, tmp_path):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.io.nhs import load_gp_payments
    from cqc_research.link import link_indicators
    from cqc_research.notebook_output import check_outputs

    folder = synthetic_small.paths["gp_payments"][0].parent
    run, tables, text = _run_nb02(tmp_path, ratings_path=synthetic_small.paths["ratings_ods"],
                                  indicators_path=folder)
    assert check_outputs(run, synthetic=True) == []
    s = tables["prediction_summary"].iloc[0]
    assert s["domain"] == "Overall" and s["n"] > 100
    # the saved numbers are what the library gives on the same linked data
    indicators = ["list_size", "weighted_list_size", "payments_per_patient",
                  "payments_per_weighted_patient", "qof_payments_per_patient"]
    wide = ratings_wide(load_latest_ratings(synthetic_small.paths["ratings_ods"]), level="location")
    wide = wide[wide["sector"] == "GP practices"]
    link = link_indicators(wide, [load_gp_payments(p) for p in sorted(folder.glob("*.csv"))],
                           level="practice", measures=indicators, sector=None)
    data = link.data.dropna(subset=["Overall", *indicators])
    direct = cross_validated_prediction(data, rating="Overall", indicators=indicators, folds=5, seed=20240501)
    d = direct.summary.iloc[0]
    assert s["n"] == d["n"]
    assert s["accuracy"] == pytest.approx(d["accuracy"])
    assert s["modal_share"] == pytest.approx(d["modal_share"])
    assert s["weighted_kappa"] == pytest.approx(d["weighted_kappa"], abs=1e-12)
    odds = tables["odds_ratios"].set_index("indicator")
    np.testing.assert_allclose(
        odds.loc[indicators, "odds_ratio_per_sd"],
        ordered_logit(data, rating="Overall", indicators=indicators).set_index("indicator")["odds_ratio_per_sd"],
        rtol=1e-6)
    # the prose reads the numbers from the table
    assert f"Cross-validated accuracy is **{d['accuracy']:.1%}**" in text
    assert f"scores **{d['modal_share']:.1%}**" in text


def _ratings_csv_with_real_practice_codes(synthetic_small, shared_data, folder):
    """The synthetic Locations ratings as a Latest-ratings CSV, GP practices given real codes."""
    from cqc_research.io.cqc_files import load_latest_ratings
    from cqc_research.io.nhs import load_gp_payments

    pay_dir = shared_data / "nhs_payments_to_general_practice"
    codes = None
    for f in sorted(pay_dir.glob("*.csv")):
        c = set(load_gp_payments(f)["org_code"])
        codes = c if codes is None else codes & c
    long = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    long = long[long["level"] == "location"].copy()
    gp_ids = sorted(long.loc[long["sector"] == "GP practices", "location_id"].unique())
    mapping = dict(zip(gp_ids, sorted(codes)[: len(gp_ids)], strict=False))
    long["location_ods_code"] = long["location_id"].map(mapping).fillna(long["location_ods_code"])
    rating = long["rating"].astype(object).where(long["rating"].notna(),
                                                  long["rating_status"].astype(object))
    yn = {True: "Y", False: "N"}
    csv = pd.DataFrame({
        "Location ID": long["location_id"], "Location ODS Code": long["location_ods_code"],
        "Location Name": long["location_name"], "Care Home?": long["care_home"].map(yn),
        "Location Type": long["location_type"],
        "Location Primary Inspection Category": long["inspection_category"],
        "Location Street Address": "", "Location Address Line 2": "", "Location City": "",
        "Location Post Code": long["postcode"], "Location Local Authority": long["local_authority"],
        "Location Region": long["region"], "Location NHS Region": long["nhs_region"],
        "Location ONSPD CCG Code": "", "Location ONSPD CCG": "",
        "Location Commissioning CCG Code": "", "Location Commissioning CCG Name": "",
        "Service / Population Group": long["service_group"], "Domain": long["domain"],
        "Latest Rating": rating,
        "Publication Date": long["publication_date"].dt.strftime("%d/%m/%Y"),
        "Report Type": long["report_type"], "Inherited Rating (Y/N)": long["inherited"].map(yn),
        "URL": long["url"], "Provider ID": long["provider_id"],
        "Provider Name": long["provider_name"], "Brand ID": long["brand_id"],
        "Brand Name": long["brand_name"],
    })
    folder.mkdir(parents=True)
    (folder / "SYNTHETIC").write_text("synthetic ratings with real practice codes\n")
    path = folder / "latest_ratings_locations.csv"
    csv.to_csv(path, index=False)
    return path, set(mapping.values()), pay_dir


@pytest.mark.realdata
def test_notebook_02_runs_on_real_payments_files(synthetic_small, shared_data, tmp_path):
    ratings_csv, real_codes, pay_dir = _ratings_csv_with_real_practice_codes(
        synthetic_small, shared_data, tmp_path / "ratings")
    run, tables, text = _run_nb02(tmp_path, ratings_path=ratings_csv, indicators_path=pay_dir)
    report = tables["linkage_report"]
    matched = report[(report["side"] == "ratings") & (report["status"] == "matched")]
    assert len(matched) > 100
    assert set(matched["org_code"]) <= real_codes
    # both real layouts (2014-15 and 2018-19) supplied values
    assert "2014-15, 2018-19" in text
    s = tables["prediction_summary"].iloc[0]
    # linked practices whose real values are missing (e.g. a zero list size) drop out
    assert 0.9 * len(matched) <= s["n"] <= len(matched)
    assert set(tables["odds_ratios"]["indicator"]) == {
        "list_size", "weighted_list_size", "payments_per_patient",
        "payments_per_weighted_patient", "qof_payments_per_patient"}
    assert np.isfinite(tables["odds_ratios"]["odds_ratio_per_sd"]).all()


def test_match_margins_rule_reproduces_the_training_mix_and_trades_accuracy_for_kappa():
    df = simulate(2000, seed=14, beta={"a": 0.6, "b": -0.4})
    mp = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=5, seed=0)
    mm = cross_validated_prediction(df, rating="Overall", indicators=["a", "b"], folds=5, seed=0,
                                    rule="match_margins")
    assert mm.summary["rule"].item() == "match_margins"
    observed = mm.predictions["observed"].value_counts(normalize=True).reindex(RATINGS)
    predicted = mm.predictions["predicted"].value_counts(normalize=True).reindex(RATINGS)
    np.testing.assert_allclose(predicted, observed, atol=0.02)
    # same folds, same fitted probabilities: only the decision rule differs
    np.testing.assert_allclose(mm.predictions["p_Good"], mp.predictions["p_Good"])
    assert mm.summary["weighted_kappa"].item() > mp.summary["weighted_kappa"].item()
    assert mm.summary["accuracy"].item() < mp.summary["accuracy"].item()
    # the predicted rating rises with the expected rating within each fold
    p = mm.predictions
    score = p[[f"p_{r}" for r in RATINGS]].to_numpy() @ np.arange(4)
    for f in range(5):
        m = (p["fold"] == f).to_numpy()
        order = np.argsort(score[m])
        assert np.all(np.diff(p["predicted"].cat.codes.to_numpy()[m][order]) >= 0)


@pytest.mark.realdata
def test_notebook_02_finishes_when_the_local_authority_column_is_empty(synthetic_small, shared_data,
                                                                        tmp_path):
    """A real extract whose ``Location Local Authority`` is empty: every table above the funnel
    by local authority comes out, and the funnel section is skipped with a note."""
    ratings_csv, _, pay_dir = _ratings_csv_with_real_practice_codes(
        synthetic_small, shared_data, tmp_path / "ratings")
    frame = pd.read_csv(ratings_csv, dtype=str)
    frame["Location Local Authority"] = ""
    frame.to_csv(ratings_csv, index=False)
    run, tables, text = _run_nb02(tmp_path, figures=("indicators_by_rating", "confusion_matrix"),
                                  ratings_path=ratings_csv, indicators_path=pay_dir)
    assert {"linkage_report", "prediction_summary", "odds_ratios"} <= set(tables)
    assert not (run / "figures" / "funnel_good_or_better_by_area.png").exists()
    assert "Section skipped: Funnel plot by local authority" in text


def test_too_little_data_is_insufficient_data_not_a_crash():
    tiny = pd.DataFrame({"Overall": pd.Categorical(["Good", "Inadequate", "Good"], dtype=RATING_DTYPE),
                         "x": [1.0, 2.0, 3.0]})
    with pytest.raises(InsufficientData, match="only 3 complete rows"):
        ordered_logit(tiny, rating="Overall", indicators=["x"])
    with pytest.raises(InsufficientData, match="cannot make 5 folds from 3 rows"):
        stratified_folds(tiny["Overall"], folds=5)
    same = tiny.assign(Overall=pd.Categorical(["Good"] * 3, dtype=RATING_DTYPE), x=[1.0, 2.0, 4.0])
    with pytest.raises(InsufficientData, match="single value"):
        OrderedLogit().fit(same[["x"]].to_numpy(), np.full(3, 2))
    assert issubclass(InsufficientData, ValueError)  # callers catching ValueError still work
