"""Domain-overall agreement, weighted kappa, cross-tabs and CQC's aggregation rules.

Every estimate is checked against an independent computation (scikit-learn, statsmodels, a
hand-worked table) or against the truth planted in the synthetic data.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import proportion_confint

from cqc_research.errors import DataFormatError
from cqc_research.metrics.agreement import (
    aggregate_overall,
    aggregation_consistency,
    agreement_crosstabs,
    crosstab,
    domain_agreement,
    kappa_from_table,
    pairwise_agreement,
    weighted_kappa,
)
from cqc_research.metrics.intervals import proportion_ci
from cqc_research.ratings import DOMAINS, KEY_QUESTIONS, RATING_DTYPE, RATINGS

INA, RI, G, OUT = RATINGS


def random_wide(n=400, seed=0, p_agree=0.8):
    """Wide ratings where each key question equals Overall with probability p_agree."""
    rng = np.random.default_rng(seed)
    overall = rng.choice(4, size=n, p=[0.05, 0.2, 0.65, 0.1])
    cols = {"Overall": overall}
    for d in KEY_QUESTIONS:
        step = np.where(rng.random(n) < 0.5, -1, 1)
        other = np.clip(overall + step, 0, 3)
        other = np.where(other == overall, overall - step, other)
        cols[d] = np.where(rng.random(n) < p_agree, overall, other)
    df = pd.DataFrame({k: pd.Categorical.from_codes(v, dtype=RATING_DTYPE) for k, v in cols.items()})
    df.insert(0, "sector", rng.choice(["GP practices", "Adult social care"], size=n))
    df.insert(1, "level", "location")
    return df


# --------------------------------------------------------------------------------------------
# kappa
HAND_TABLE = [[10, 2, 0],
              [3, 20, 4],
              [0, 5, 6]]


@pytest.mark.parametrize("weights, expected", [
    # n = 50; row shares .24 .54 .22; column shares .26 .54 .20.
    # Exact agreement p_o = 36/50 = .72; chance p_e = .24*.26 + .54*.54 + .22*.20 = .398.
    (None, (0.72 - 0.398) / (1 - 0.398)),
    # Linear weights 1, 1/2, 0: off-by-one cells 2+3+4+5 = 14 -> p_o = .72 + .5 * 14/50 = .86;
    # off-by-one chance products .1296 + .1404 + .108 + .1188 = .4968 -> p_e = .398 + .2484.
    ("linear", (0.86 - 0.6464) / (1 - 0.6464)),
    # Quadratic weights 1, 3/4, 0: p_o = .72 + .75 * .28 = .93, p_e = .398 + .75 * .4968.
    ("quadratic", (0.93 - 0.7706) / (1 - 0.7706)),
])
def test_kappa_hand_worked_3x3(weights, expected):
    got = kappa_from_table(HAND_TABLE, weights=weights)
    assert got["kappa"].item() == pytest.approx(expected, abs=1e-12)
    assert got["n"].item() == 50


@pytest.mark.parametrize("weights", ["linear", "quadratic", None])
def test_weighted_kappa_matches_sklearn_and_statsmodels(weights):
    rng = np.random.default_rng(3)
    a = rng.choice(4, size=700, p=[0.05, 0.2, 0.6, 0.15])
    b = np.clip(a + rng.choice([-1, 0, 0, 1], size=700), 0, 3)
    got = weighted_kappa(a=a, b=b, weights=weights)
    # sklearn: cohen_kappa_score(a, b, weights=weights, labels=[0, 1, 2, 3])
    assert got["kappa"].item() == pytest.approx(
        cohen_kappa_score(a, b, weights=weights, labels=[0, 1, 2, 3]), abs=1e-12)
    # statsmodels: the Fleiss, Cohen & Everitt (1969) asymptotic variance
    table = pd.crosstab(a, b).reindex(index=range(4), columns=range(4), fill_value=0).to_numpy()
    sm = cohens_kappa(table, wt=weights) if weights else cohens_kappa(table)
    assert got["se"].item() == pytest.approx(np.sqrt(sm.var_kappa), rel=1e-10)
    z = 1.959963984540054
    assert got["ci_low"].item() == pytest.approx(sm.kappa - z * np.sqrt(sm.var_kappa), abs=1e-9)


def test_kappa_uses_the_full_four_level_scale():
    # No Outstanding at all: the linear weights still step by 1/3, as with labels=RATINGS.
    a = [INA, RI, G, G, G, RI, G]
    b = [RI, RI, G, RI, G, G, G]
    got = weighted_kappa(a=a, b=b, weights="linear")["kappa"].item()
    assert got == pytest.approx(cohen_kappa_score(a, b, weights="linear", labels=RATINGS))
    assert got != pytest.approx(cohen_kappa_score(a, b, weights="linear"))


def test_weighted_kappa_accepts_nullable_integer_codes():
    a = pd.array([0, 1, 2, None, 3], dtype="Int64")
    b = pd.array([0, 2, 2, 1, 3], dtype="Int64")
    got = weighted_kappa(a=a, b=b)
    assert got["n"].item() == 4
    assert got["kappa"].item() == pytest.approx(
        cohen_kappa_score([0, 1, 2, 3], [0, 2, 2, 3], weights="linear", labels=[0, 1, 2, 3]))
    with pytest.raises(DataFormatError, match="codes 0-3"):
        weighted_kappa(a=[0, 5], b=[0, 1])


def test_weighted_kappa_takes_column_names_and_skips_non_scale():
    df = pd.DataFrame({"x": [G, G, "Not rated", INA, OUT], "y": [G, RI, G, None, OUT]})
    got = weighted_kappa(df, a="x", b="y")
    assert got["n"].item() == 3
    assert got["kappa"].item() == pytest.approx(
        cohen_kappa_score([G, G, OUT], [G, RI, OUT], weights="linear", labels=RATINGS))


def test_bootstrap_kappa_interval_is_close_to_the_analytic_one():
    df = random_wide(3000, seed=5)
    ana = weighted_kappa(df, a="Overall", b="Safe")
    boot = weighted_kappa(df, a="Overall", b="Safe", ci="bootstrap", n_boot=1500, seed=1)
    assert boot["kappa"].item() == ana["kappa"].item()
    assert boot["ci_low"].item() == pytest.approx(ana["ci_low"].item(), abs=0.01)
    assert boot["ci_high"].item() == pytest.approx(ana["ci_high"].item(), abs=0.01)
    again = weighted_kappa(df, a="Overall", b="Safe", ci="bootstrap", n_boot=1500, seed=1)
    pd.testing.assert_frame_equal(boot, again)


# --------------------------------------------------------------------------------------------
# proportions
@pytest.mark.parametrize("count, n", [(0, 10), (1, 10), (45, 50), (56, 62), (62, 62), (300, 1000)])
def test_wilson_matches_statsmodels(count, n):
    # statsmodels: proportion_confint(count, n, method="wilson")
    lo, hi = proportion_confint(count, n, alpha=0.05, method="wilson")
    got = proportion_ci(count, n)
    assert got[0] == pytest.approx(lo, abs=1e-12)
    assert got[1] == pytest.approx(hi, abs=1e-12)


# --------------------------------------------------------------------------------------------
# domain agreement
def test_domain_agreement_hand_made():
    df = pd.DataFrame({
        "Overall": [G, G, G, RI, INA, OUT, G, "Not rated"],
        "Safe":    [G, RI, G, RI, RI, G, OUT, G],
        "Caring":  [G, G, G, G, INA, OUT, G, G],
    })
    out = domain_agreement(df, domains=["Safe", "Caring"]).set_index("domain")
    # 7 rated pairs; Safe agrees for rows 0, 2, 3 -> 3/7; higher: rows 4, 6; lower: rows 1, 5.
    assert out.loc["Safe", "n"] == 7
    assert out.loc["Safe", "agreement"] == pytest.approx(3 / 7)
    assert out.loc["Safe", "share_domain_higher"] == pytest.approx(2 / 7)
    assert out.loc["Safe", "share_domain_lower"] == pytest.approx(2 / 7)
    assert out.loc["Caring", "agreement"] == pytest.approx(6 / 7)
    lo, hi = proportion_confint(3, 7, method="wilson")
    assert out.loc["Safe", "agreement_ci_low"] == pytest.approx(lo)
    assert out.loc["Safe", "agreement_ci_high"] == pytest.approx(hi)
    ov, sf = df["Overall"][:7], df["Safe"][:7]
    assert out.loc["Safe", "weighted_kappa"] == pytest.approx(
        cohen_kappa_score(ov, sf, weights="linear", labels=RATINGS))
    assert out.loc["Safe", "quadratic_kappa"] == pytest.approx(
        cohen_kappa_score(ov, sf, weights="quadratic", labels=RATINGS))


def test_agreement_equals_sklearn_accuracy_and_groups_equal_subsets():
    df = random_wide(600, seed=2)
    out = domain_agreement(df, by=["sector", "level"])
    assert len(out) >= 2 * df["sector"].nunique()  # a row per sector and key question, checked below
    assert set(out.columns) >= {"sector", "domain", "n", "agreement", "agreement_ci_low",
                                "agreement_ci_high", "weighted_kappa"}
    for (sector, d), row in out.set_index(["sector", "domain"]).iterrows():
        sub = df[df.sector == sector]
        assert row["agreement"] == pytest.approx(accuracy_score(sub["Overall"], sub[d]))
        assert row["n"] == len(sub)
        assert row["weighted_kappa"] == pytest.approx(
            cohen_kappa_score(sub["Overall"], sub[d], weights="linear", labels=RATINGS))
        assert row["agreement_ci_low"] < row["agreement"] < row["agreement_ci_high"]


def test_bootstrap_agreement_interval_brackets_the_estimate_and_is_reproducible():
    df = random_wide(500, seed=4)
    a = domain_agreement(df, ci="bootstrap", n_boot=800, seed=3)
    b = domain_agreement(df, ci="bootstrap", n_boot=800, seed=3)
    pd.testing.assert_frame_equal(a, b)
    w = domain_agreement(df)
    assert (a.agreement_ci_low <= a.agreement).all() and (a.agreement <= a.agreement_ci_high).all()
    # the percentile bootstrap and Wilson intervals agree to about a percentage point here
    assert np.allclose(a.agreement_ci_low, w.agreement_ci_low, atol=0.015)
    assert a.ci_method.iloc[0] != w.ci_method.iloc[0]


def test_pairwise_agreement_covers_every_pair_and_matches_domain_agreement():
    df = random_wide(300, seed=6)
    pw = pairwise_agreement(df)
    assert len(pw) == len(list(itertools.combinations(DOMAINS, 2)))
    da = domain_agreement(df).set_index("domain")
    ov = pw[pw.domain_a == "Overall"].set_index("domain_b")
    pd.testing.assert_series_equal(ov["agreement"], da["agreement"], check_names=False)
    pd.testing.assert_series_equal(ov["weighted_kappa"], da["weighted_kappa"], check_names=False)


def test_crosstab_is_full_and_matches_pandas():
    df = random_wide(200, seed=8)
    df.loc[df.Overall == OUT, "Overall"] = G  # drop a level: it must still appear, with zeros
    got = crosstab(df, a="Overall", b="Caring")
    assert list(got.index) == RATINGS and list(got.columns) == RATINGS
    assert got.loc[OUT].sum() == 0
    ref = pd.crosstab(df["Overall"], df["Caring"], dropna=False).reindex(
        index=RATINGS, columns=RATINGS, fill_value=0)
    np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())
    shares = crosstab(df, a="Overall", b="Caring", normalize="index")
    np.testing.assert_allclose(shares.loc[[INA, RI, G]].sum(axis=1), 1.0)
    long = agreement_crosstabs(df, domains=["Caring"])
    assert len(long) == 16 and long["count"].sum() == len(df)
    cell = long[(long.reference_rating == G) & (long.domain_rating == RI)]["count"].item()
    assert cell == got.loc[G, RI]


def test_bad_input_errors_name_the_problem():
    df = pd.DataFrame({"Overall": [G, "Excellent"], "Safe": [G, G]})
    df.attrs["source"] = "ratings.csv"
    with pytest.raises(DataFormatError, match=r"ratings.csv, column 'Overall', row 2: unknown rating 'Excellent'"):
        domain_agreement(df, domains=["Safe"])
    with pytest.raises(DataFormatError, match=r"missing column.*Caring"):
        domain_agreement(df, domains=["Caring"])
    with pytest.raises(TypeError, match="DataFrame"):
        domain_agreement("ratings.csv")
    with pytest.raises(ValueError, match="ci must be"):
        domain_agreement(df.iloc[:1], domains=["Safe"], ci="exact")


# --------------------------------------------------------------------------------------------
# aggregation rules
CASES = [
    # five key questions                                  -> adult social care rule
    ([G, G, G, G, G], G),
    ([OUT, OUT, G, G, G], OUT),                # 2 Outstanding, rest Good
    ([OUT, G, G, G, G], G),                # one Outstanding is not enough
    ([OUT, OUT, OUT, RI, G], G),               # Outstanding needs the rest Good
    ([G, RI, G, G, G], G),               # one RI is still Good
    ([RI, RI, G, G, OUT], RI),             # two RI
    ([INA, G, G, G, G], RI),               # one Inadequate: not Good, not Inadequate
    ([INA, INA, G, G, G], INA),                # two Inadequate
    ([INA, INA, RI, RI, RI], INA),
    ([RI, RI, RI, RI, RI], RI),
]


@pytest.mark.parametrize("kq, expected", CASES)
def test_adult_social_care_rules(kq, expected):
    assert aggregate_overall(kq, rule_set="Adult social care") == expected


@pytest.mark.parametrize("kq, expected", CASES)
def test_nhs_rules_agree_with_adult_social_care_for_five_key_questions(kq, expected):
    assert aggregate_overall(kq, rule_set="NHS hospitals") == expected


@pytest.mark.parametrize("kq, asc, nhs", [
    # fewer than five key questions rated: adult social care needs all five; the NHS table uses
    # X = 1 for 1-3 underlying ratings
    ([OUT, G, G], None, OUT),
    ([RI, G, G], None, RI),
    ([INA, G, G], None, INA),
    ([G, G, G, "Not rated"], None, G),
    ([RI, G, G, G], None, G),
])
def test_rules_with_fewer_key_questions(kq, asc, nhs):
    assert aggregate_overall(kq, rule_set="Adult social care") == asc
    assert aggregate_overall(kq, rule_set="NHS hospitals") == nhs


def test_aggregation_consistency_counts_and_exceptions():
    rows = [(kq, exp) for kq, exp in CASES]
    overall = [exp for _, exp in rows]
    overall[1] = G      # published Good where the rule says Outstanding: published worse
    overall[6] = G      # published Good where the rule says RI: published better
    df = pd.DataFrame([dict(zip(KEY_QUESTIONS, kq, strict=True)) for kq, _ in rows])
    df["Overall"] = overall
    df["org_id"] = [f"L{i}" for i in range(len(df))]
    df["sector"] = "Adult social care"
    extra = pd.DataFrame([{**dict(zip(KEY_QUESTIONS, [G, G, G, G, "Not rated"], strict=True)),
                           "Overall": G, "org_id": "LX", "sector": "Adult social care"}])
    df = pd.concat([df, extra], ignore_index=True)
    summary, exceptions = aggregation_consistency(df)
    s = summary.iloc[0]
    assert (s.n, s.n_reproduced, s.n_published_better, s.n_published_worse, s.n_not_assessable) \
        == (10, 8, 1, 1, 1)
    lo, hi = proportion_confint(8, 10, method="wilson")
    assert (s.reproduced_ci_low, s.reproduced_ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert exceptions.org_id.tolist() == ["L1", "L6"]
    assert exceptions.predicted_overall.astype(str).tolist() == [OUT, RI]
    assert exceptions.difference.tolist() == [-1, 1]


def test_aggregation_consistency_unknown_sector_is_a_clear_error():
    df = pd.DataFrame([{**dict.fromkeys(KEY_QUESTIONS, G), "Overall": G, "sector": "Dentists"}])
    with pytest.raises(DataFormatError, match="Dentists.*row 1.*sector|sector.*Dentists"):
        aggregation_consistency(df)


# --------------------------------------------------------------------------------------------
# planted truth in the synthetic data
@pytest.fixture(scope="module")
def synthetic_wide(synthetic_small):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide

    long = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    return ratings_wide(long, level="location"), synthetic_small.truth


def test_synthetic_agreement_recovers_planted_values(synthetic_wide):
    wide, truth = synthetic_wide
    planted = truth["domain_agreement"]["p_agree"]
    out = domain_agreement(wide, alpha=0.01).set_index("domain")
    assert out["n"].min() > 400
    # every planted probability lies inside its 99% Wilson interval
    for d, p in planted.items():
        assert out.loc[d, "agreement_ci_low"] <= p <= out.loc[d, "agreement_ci_high"], d
    # the clear parts of the planted ordering: Well-led highest, Caring lowest
    assert out["agreement"].idxmax() == "Well-led"
    assert out["agreement"].idxmin() == "Caring"
    # when a key question disagrees it is one step up or down, never more
    long = agreement_crosstabs(wide)
    far = (long.reference_rating.cat.codes - long.domain_rating.cat.codes).abs() > 1
    assert long.loc[far, "count"].sum() == 0


@pytest.mark.slow
def test_synthetic_default_scale_recovers_full_agreement_ordering(tmp_path):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.synthetic import generate

    ds = generate(tmp_path / "synthetic", seed=11, scale="default")
    wide = ratings_wide(load_latest_ratings(ds.paths["ratings_ods"]), level="location")
    a = domain_agreement(wide).set_index("domain")["agreement"]
    # planted: Well-led .90 > Safe = Responsive .78 > Effective .74 > Caring .56
    assert a["Well-led"] > max(a["Safe"], a["Responsive"]) > a["Effective"] > a["Caring"]
    assert min(a["Safe"], a["Responsive"]) > a["Effective"]


def test_synthetic_aggregation_consistency_runs_on_every_sector(synthetic_wide):
    wide, _ = synthetic_wide
    summary, exceptions = aggregation_consistency(wide)
    assert set(summary.sector) == set(wide.sector.astype(str).unique())
    assert summary.n.sum() + summary.n_not_assessable.sum() == len(wide)
    assert len(exceptions) == summary.n.sum() - summary.n_reproduced.sum()
    # the exceptions really do differ from the rule
    assert len(exceptions) > 0
    for _, row in exceptions.head(20).iterrows():
        kq = [row[d] for d in KEY_QUESTIONS]
        assert aggregate_overall(kq, rule_set=str(row.sector)) != row["Overall"]


# --------------------------------------------------------------------------------------------
# figures
def test_agreement_bars_draw_the_estimates_and_their_intervals():
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from cqc_research.plots.agreement import GROUP_COLOURS, agreement_bars

    df = random_wide(300, seed=9)
    table = domain_agreement(df, by="sector")
    fig = agreement_bars(table, hue="sector")
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == len(table)
    heights = sorted(round(b.get_height(), 9) for b in bars)
    assert heights == sorted(table["agreement"].round(9))
    assert {to_hex(b.get_facecolor()) for b in bars} == set(GROUP_COLOURS[:2])
    # whisker ends are the confidence limits
    segs = np.concatenate([c.get_segments() for c in ax.collections if hasattr(c, "get_segments")])
    ends = np.sort(np.round(np.r_[segs[:, 0, 1], segs[:, 1, 1]], 9))
    np.testing.assert_allclose(ends, np.sort(np.r_[table.agreement_ci_low, table.agreement_ci_high]
                                             .round(9)))
    plt.close(fig)
    with pytest.raises(KeyError, match="domain_agreement"):
        agreement_bars(table.drop(columns="agreement_ci_low"))


def test_crosstab_heatmaps_write_the_counts():
    import matplotlib.pyplot as plt

    from cqc_research.plots.agreement import crosstab_heatmaps

    df = random_wide(250, seed=10)
    fig = crosstab_heatmaps(agreement_crosstabs(df))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 5
    safe = next(ax for ax in panels if ax.get_title().startswith("Safe"))
    written = np.array([int(t.get_text().replace(",", "")) for t in safe.texts]).reshape(4, 4)
    np.testing.assert_array_equal(written, crosstab(df, a="Overall", b="Safe").to_numpy())
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# real data: the Oldham API records (April 2024)
@pytest.mark.realdata
def test_oldham_ratings_follow_the_encoded_rating_principles(shared_data):
    from cqc_research.io.cqc_files import ratings_wide
    from cqc_research.io.cqc_json import load_api_folder

    api = load_api_folder(shared_data / "cqc_api_oldham_2024")
    wide = ratings_wide(api.ratings, level="location")
    summary, exceptions = aggregation_consistency(wide)
    # CQC's own published Overall ratings are an independent check of the encoding: with five
    # rated key questions, nearly all of them are what the principles give
    assert summary["n"].sum() > 150
    assert summary["n_reproduced"].sum() / summary["n"].sum() > 0.95
    for _, row in exceptions.iterrows():  # each exception is a real departure from the rule
        kq = [row[d] for d in KEY_QUESTIONS]
        assert aggregate_overall(kq, rule_set=str(row["sector"])) == row["predicted_overall"]
        assert row["Overall"] != row["predicted_overall"]
    # agreement on real records equals a plain count over the same rows
    out = domain_agreement(wide).set_index("domain")
    for d in KEY_QUESTIONS:
        both = wide[wide["Overall"].notna() & wide[d].notna()]
        assert out.loc[d, "n"] == len(both)
        assert out.loc[d, "n_agree"] == sum(
            a == b for a, b in zip(both["Overall"], both[d], strict=True))
