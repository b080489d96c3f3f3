"""Funnel limits: hand computations, overdispersion, and the plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.metrics.funnel import funnel_curve, funnel_limits, funnel_spec

Z95, Z998 = 1.959963984540054, 3.090232306167813


@pytest.fixture
def four_areas():
    # 4 areas, 300 homes, 225 rated Good or Outstanding: target p0 = 225 / 300 = 0.75
    return pd.DataFrame({"area": ["A", "B", "C", "D"], "good": [40, 90, 20, 75],
                         "homes": [50, 100, 50, 100]})


def test_binomial_normal_approximation_by_hand(four_areas):
    out = funnel_limits(four_areas, numerator="good", denominator="homes", unit="area", transform="none",
                        overdispersion=False)
    p0 = 0.75
    assert funnel_spec(out).target == pytest.approx(p0)
    # Written out: se(n) = sqrt(0.75 * 0.25 / n)
    se50, se100 = math.sqrt(0.1875 / 50), math.sqrt(0.1875 / 100)   # 0.061237, 0.043301
    # A: p = 0.80, z = 0.05 / 0.061237 = 0.8165
    # B: p = 0.90, z = 0.15 / 0.043301 = 3.4641  (above 99.8%)
    # C: p = 0.40, z = -0.35 / 0.061237 = -5.7155 (below 99.8%)
    # D: p = 0.75, z = 0
    expected_z = [0.05 / se50, 0.15 / se100, -0.35 / se50, 0.0]
    assert out["z"].to_numpy() == pytest.approx(expected_z)
    assert expected_z[0] == pytest.approx(0.8165, abs=1e-4)
    assert out["z_adj"].to_numpy() == pytest.approx(expected_z)  # no adjustment asked
    # limits at n = 50: 0.75 +/- 1.96 * 0.061237 = (0.6300, 0.8700); 99.8%: (0.5608, 0.9392)
    a = out.iloc[0]
    assert a["lower_95"] == pytest.approx(0.75 - Z95 * se50)
    assert a["upper_95"] == pytest.approx(0.75 + Z95 * se50)
    assert a["lower_95"] == pytest.approx(0.6300, abs=1e-4)
    assert a["upper_998"] == pytest.approx(0.9392, abs=1e-4)
    b = out.iloc[1]
    assert b["upper_998"] == pytest.approx(0.75 + Z998 * se100)
    assert out["outside_95"].tolist() == [False, True, True, False]
    assert out["outside_998"].tolist() == [False, True, True, False]
    assert out["flag"].tolist() == ["within", "high 99.8%", "low 99.8%", "within"]
    assert out["value"].tolist() == pytest.approx([0.8, 0.9, 0.4, 0.75])


def test_value_and_n_give_the_same_answer_as_counts(four_areas):
    counts = funnel_limits(four_areas, numerator="good", denominator="homes", transform="none", overdispersion=False)
    d = four_areas.assign(share=four_areas.good / four_areas.homes)
    shares = funnel_limits(d, value="share", n="homes", transform="none", overdispersion=False)
    cols = ["z", "lower_95", "upper_95", "lower_998", "upper_998"]
    pd.testing.assert_frame_equal(counts[cols], shares[cols])


def test_arcsine_scale_by_hand(four_areas):
    out = funnel_limits(four_areas, numerator="good", denominator="homes", overdispersion=False)  # auto -> asin
    assert funnel_spec(out).transform == "asin"
    t0 = math.asin(math.sqrt(0.75))  # pi / 3
    # C: z = 2 sqrt(50) (asin sqrt 0.4 - pi/3) = 14.142 * (0.68472 - 1.04720) = -5.1262
    assert out["z"].iloc[2] == pytest.approx(2 * math.sqrt(50) * (math.asin(math.sqrt(0.4)) - t0))
    assert out["z"].iloc[2] == pytest.approx(-5.1262, abs=1e-3)
    assert out["lower_95"].iloc[2] == pytest.approx(math.sin(t0 - Z95 / (2 * math.sqrt(50))) ** 2)
    assert out["upper_998"].iloc[1] == pytest.approx(math.sin(t0 + Z998 / 20) ** 2)


def test_overdispersion_phi_and_tau2_by_hand(four_areas):
    # With no winsorising, phi = mean(z^2) and tau2 follows DerSimonian-Laird.
    out = funnel_limits(four_areas, numerator="good", denominator="homes", transform="none", winsorise=0)
    spec = funnel_spec(out)
    z = np.array([0.05 / math.sqrt(0.1875 / 50), 0.15 / math.sqrt(0.1875 / 100),
                  -0.35 / math.sqrt(0.1875 / 50), 0.0])
    phi = float(np.mean(z**2))  # (0.6667 + 12 + 32.6667 + 0) / 4 = 11.3333
    assert phi == pytest.approx(11.3333, abs=1e-3)
    assert spec.phi == pytest.approx(phi)
    w = np.array([50, 100, 50, 100]) / 0.1875           # 1 / se^2
    tau2 = (4 * phi - 3) / (w.sum() - (w**2).sum() / w.sum())
    assert spec.tau2 == pytest.approx(tau2)
    assert spec.adjusted
    se50 = math.sqrt(0.1875 / 50)
    # tau2 = 0.0366, so the 95% limits at n = 50 are 0.75 -/+ 1.96 * 0.2: the upper one is cut at 1.
    assert out["lower_95"].iloc[0] == pytest.approx(0.75 - Z95 * math.sqrt(se50**2 + tau2))
    assert out["upper_95"].iloc[0] == 1.0
    assert out["z_adj"].iloc[2] == pytest.approx(-0.35 / math.sqrt(se50**2 + tau2))
    # The multiplicative version scales z by 1 / sqrt(phi).
    mult = funnel_limits(four_areas, numerator="good", denominator="homes", transform="none", winsorise=0,
                         method="multiplicative")
    assert mult["z_adj"].to_numpy() == pytest.approx(z / math.sqrt(phi))
    assert mult["lower_95"].iloc[1] == pytest.approx(0.75 - Z95 * math.sqrt(phi) * math.sqrt(0.1875 / 100))


def test_winsorising_pulls_extremes_to_the_percentiles():
    d = pd.DataFrame({"k": [50, 52, 48, 51, 49, 50, 47, 53, 90, 10], "n": [100] * 10})
    out = funnel_limits(d, numerator="k", denominator="n", transform="none", winsorise=0.1)
    z = out["z"].to_numpy()
    lo, hi = np.quantile(z, [0.1, 0.9])
    assert funnel_spec(out).phi == pytest.approx(np.mean(np.clip(z, lo, hi) ** 2))


def test_ratio_sqrt_and_log_scales_by_hand():
    d = pd.DataFrame({"trust": ["X", "Y", "Z"], "obs": [120.0, 80.0, 100.0], "exp": [100.0, 100.0, 100.0]})
    out = funnel_limits(d, numerator="obs", denominator="exp", unit="trust", kind="ratio", overdispersion=False)
    # CQC / Spiegelhalter square root: z = (sqrt(O/E) - 1) / (1 / (2 sqrt(E))) = 2 (sqrt(O) - sqrt(E))
    assert out["z"].to_numpy() == pytest.approx(2 * (np.sqrt([120, 80, 100]) - 10))
    assert out["upper_95"].iloc[0] == pytest.approx((1 + Z95 / 20) ** 2)
    log = funnel_limits(d, numerator="obs", denominator="exp", kind="ratio", transform="log", overdispersion=False)
    # SHMI: z = sqrt(E) log(O / E)
    assert log["z"].to_numpy() == pytest.approx(10 * np.log([1.2, 0.8, 1.0]))
    assert log["lower_998"].iloc[0] == pytest.approx(math.exp(-Z998 / 10))
    none = funnel_limits(d, numerator="obs", denominator="exp", kind="ratio", transform="none", overdispersion=False)
    assert none["z"].to_numpy() == pytest.approx([2.0, -2.0, 0.0])  # (O/E - 1) / sqrt(1/E)


def test_rate_is_a_ratio_against_the_pooled_rate():
    d = pd.DataFrame({"la": list("abcd"), "days": [300.0, 900.0, 450.0, 350.0],
                      "pop": [20000.0, 40000.0, 30000.0, 10000.0]})
    rate = funnel_limits(d, numerator="days", denominator="pop", unit="la", kind="rate", multiplier=100000)
    pooled = 2000 / 100000
    assert funnel_spec(rate).rate_target == pytest.approx(pooled)
    assert rate["target"].iloc[0] == pytest.approx(2000.0)  # per 100,000
    assert rate["value"].tolist() == pytest.approx([1500.0, 2250.0, 1500.0, 3500.0])
    as_ratio = funnel_limits(d.assign(exp=d["pop"] * pooled), numerator="days", denominator="exp", kind="ratio")
    assert rate["z"].to_numpy() == pytest.approx(as_ratio["z"].to_numpy())
    assert rate["z_adj"].to_numpy() == pytest.approx(as_ratio["z_adj"].to_numpy())
    assert rate["upper_95"].to_numpy() == pytest.approx(as_ratio["upper_95"].to_numpy() * 2000)


def test_adjustment_recovers_nominal_coverage_under_planted_overdispersion():
    rng = np.random.default_rng(11)
    n = rng.integers(30, 400, size=400)
    # Planted: true proportions vary between units (logit-normal, sd 0.5): overdispersed.
    p = 1 / (1 + np.exp(-(1.0 + rng.normal(0, 0.5, size=n.size))))
    d = pd.DataFrame({"k": rng.binomial(n, p), "n": n})
    raw = funnel_limits(d, numerator="k", denominator="n", overdispersion=False)
    assert funnel_spec(raw).phi > 2 and funnel_spec(raw).overdispersion_p < 1e-6
    assert raw["outside_95"].mean() > 0.25          # far too many "outliers" unadjusted
    for method in ("additive", "multiplicative"):
        adj = funnel_limits(d, numerator="k", denominator="n", winsorise=0, method=method)
        assert 0.02 < adj["outside_95"].mean() < 0.09   # near the nominal 5% once adjusted
        assert adj["outside_998"].mean() < 0.02
    # The default 10% winsorising shrinks phi by about a third when no unit is a true outlier
    # (E[winsorised z^2] = 0.68 for normal z), so it flags more units: the documented trade-off.
    wins = funnel_limits(d, numerator="k", denominator="n")
    assert 0.05 < wins["outside_95"].mean() < 0.18
    # And without planted overdispersion nothing much changes.
    d0 = pd.DataFrame({"k": rng.binomial(n, 0.7), "n": n})
    plain = funnel_limits(d0, numerator="k", denominator="n")
    assert funnel_spec(plain).phi < 1.3
    assert 0.02 < plain["outside_95"].mean() < 0.09


def test_curve_matches_unit_limits_and_narrows(four_areas):
    out = funnel_limits(four_areas, numerator="good", denominator="homes", transform="none", winsorise=0)
    curve = funnel_curve(out, n=[50, 100])
    c95 = curve[curve["level"] == 0.95]
    assert c95["upper"].tolist() == pytest.approx([out["upper_95"].iloc[0], out["upper_95"].iloc[1]])
    wide = funnel_curve(out, n_min=5, n_max=5000)
    c = wide[wide["level"] == 0.998]
    assert (np.diff(c["upper"].to_numpy()) <= 1e-12).all()


def test_bad_input_names_the_column_and_row(four_areas):
    bad = four_areas.copy()
    bad.loc[2, "good"] = 60
    with pytest.raises(DataFormatError, match=r"column 'good'.*must not exceed 'homes'.*index 2"):
        funnel_limits(bad, numerator="good", denominator="homes")
    with pytest.raises(DataFormatError, match="no column 'beds'"):
        funnel_limits(four_areas, numerator="good", denominator="beds")
    pct = four_areas.assign(share=100 * four_areas.good / four_areas.homes)
    with pytest.raises(DataFormatError, match="divide percentages by 100"):
        funnel_limits(pct, value="share", n="homes")
    text = four_areas.astype({"homes": object})
    text.loc[1, "homes"] = "n/a"
    with pytest.raises(DataFormatError, match="'n/a' at index 1"):
        funnel_limits(text, numerator="good", denominator="homes")
    with pytest.raises(ValueError, match="either numerator and denominator, or value and n"):
        funnel_limits(four_areas, numerator="good", denominator="homes", value="good", n="homes")
    with pytest.raises(TypeError):
        funnel_limits([1, 2, 3], numerator="good", denominator="homes")


def test_units_without_size_are_kept_but_not_flagged(four_areas):
    d = pd.concat([four_areas, pd.DataFrame({"area": ["E"], "good": [0], "homes": [0]})],
                  ignore_index=True)
    out = funnel_limits(d, numerator="good", denominator="homes", unit="area", transform="none", winsorise=0)
    assert out["flag"].iloc[-1] == "no data" and not out["outside_95"].iloc[-1]
    assert funnel_spec(out).n_units == 4


def test_funnel_plot_highlights_a_unit(four_areas):
    import matplotlib.pyplot as plt

    from cqc_research.plots.funnel import funnel_plot

    out = funnel_limits(four_areas, numerator="good", denominator="homes", unit="area", transform="none")
    fig = funnel_plot(out, highlight="C", title="Care homes rated Good or better")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "C" in texts  # highlighted (and labelled as an outlier)
    labels = ax.get_legend_handles_labels()[1]
    assert any(lab.startswith("99.8% limits") for lab in labels)
    with pytest.raises(ValueError, match="not found among the units"):
        funnel_plot(out, highlight="Nowhere")
    plt.close("all")


# --- FunnelPlotR methods, hand-worked -----------------------------------------------------------

def test_truncation_drops_two_at_each_end_of_twenty():
    # 20 units, share 0.1: k = 10, group floor(rank * 10 / 21) is 0 for ranks 1, 2 and 9 for
    # ranks 19, 20, so those four are dropped and phi is the mean z^2 of the other 16.
    e = np.full(20, 100.0)
    z = np.array([-3.0, -2.5, -1.2, -1.0, -0.8, -0.6, -0.5, -0.4, -0.2, -0.1,
                  0.0, 0.1, 0.3, 0.4, 0.5, 0.7, 0.9, 1.1, 2.6, 3.2])
    d = pd.DataFrame({"r": np.exp(z / 10), "e": e})  # log scale: z = sqrt(E) log r = 10 log r
    out = funnel_limits(d, value="r", n="e", kind="ratio", transform="log", trim="truncate")
    spec = funnel_spec(out)
    assert out["z"].to_numpy() == pytest.approx(z)
    assert spec.n_units == 16
    assert spec.phi == pytest.approx(np.mean(z[2:18] ** 2))
    w = np.full(16, 100.0)
    assert spec.tau2 == pytest.approx(max(0.0, (16 * spec.phi - 15) / (w.sum() - (w**2).sum() / w.sum())))
    # winsorising the same share keeps 20 units, pulled in to the 10th and 90th percentiles
    wins = funnel_spec(funnel_limits(d, value="r", n="e", kind="ratio", transform="log"))
    lo, hi = np.quantile(z, [0.1, 0.9])
    assert wins.n_units == 20 and wins.phi == pytest.approx(np.mean(np.clip(z, lo, hi) ** 2))


def test_adjust_only_when_phi_above_one():
    # z = 1, -1, 0.8, -0.9 (E = 100 each): phi = 3.45 / 4 = 0.8625 < 1, but 4 phi = 3.45 > 3, so
    # tau2 = 0.45 / (400 - 100) = 0.0015 > 0: FunnelPlotR adjusts, the phi > 1 rule does not.
    z = np.array([1.0, -1.0, 0.8, -0.9])
    d = pd.DataFrame({"r": np.exp(z / 10), "e": 100.0})
    kw = dict(value="r", n="e", kind="ratio", transform="log", winsorise=0)
    tau = funnel_limits(d, **kw)
    assert funnel_spec(tau).phi == pytest.approx(0.8625)
    assert funnel_spec(tau).tau2 == pytest.approx(0.0015) and funnel_spec(tau).adjusted
    phi = funnel_limits(d, adjust_if="phi", **kw)
    assert not funnel_spec(phi).adjusted
    assert phi["upper_95"].iloc[0] == pytest.approx(math.exp(Z95 / 10))
    assert tau["upper_95"].iloc[0] == pytest.approx(math.exp(Z95 * math.sqrt(0.01 + 0.0015)))


def test_shmi_rounds_expected_counts():
    d = pd.DataFrame({"o": [12.0, 30.0, 18.0], "e": [10.004, 29.996, 20.0049]})
    out = funnel_limits(d, numerator="o", denominator="e", kind="ratio", transform="log", round_expected=2, overdispersion=False)
    assert out["n"].tolist() == [10.0, 30.0, 20.0]
    assert out["z"].iloc[0] == pytest.approx(math.sqrt(10) * math.log(1.2))


def test_exact_binomial_limits_by_hand():
    # n = 20, p0 = 0.5: P(X <= 5) = 21700 / 2^20 = 0.020695, P(X <= 6) = 60460 / 2^20 = 0.057659.
    # The 2.5% quantile is r = 6; alpha = (0.057659 - 0.025) / (0.057659 - 0.020695) = 0.88353,
    # so the lower 95% limit is (6 - 0.88353) / 20 = 0.25582.
    cdf = [sum(math.comb(20, k) for k in range(r + 1)) / 2**20 for r in range(21)]
    alpha = (cdf[6] - 0.025) / (cdf[6] - cdf[5])
    d = pd.DataFrame({"k": [10, 4, 16], "n": [20, 20, 20]})
    out = funnel_limits(d, numerator="k", denominator="n", target=0.5, exact=True, overdispersion=False)
    assert out["lower_95"].iloc[0] == pytest.approx((6 - alpha) / 20)
    assert out["lower_95"].iloc[0] == pytest.approx(0.25582, abs=1e-5)
    # upper: the 97.5% quantile is r = 14 (P(X <= 13) = 0.94234, P(X <= 14) = 0.97931), so
    # (14 - (0.97931 - 0.975) / (0.97931 - 0.94234)) / 20 = 0.69418 (the interpolation spreads
    # each step over [r - 1, r], so the two limits are not symmetric about 0.5)
    up = (14 - (cdf[14] - 0.975) / (cdf[14] - cdf[13])) / 20
    assert out["upper_95"].iloc[0] == pytest.approx(up)
    assert up == pytest.approx(0.69418, abs=1e-5)
    # 4/20 = 0.2 is below the lower limit, 16/20 = 0.8 above the upper one
    assert out["flag"].tolist()[1:] == ["low 95%", "high 95%"]


def test_ratio_of_counts_by_hand():
    # O / D counts; target = 150 / 150 = 1; y = log((O + .5) / (D + .5)),
    # s = sqrt(O / (O + .5)^2 + D / (D + .5)^2) (FunnelPlotR's RC)
    d = pd.DataFrame({"site": list("pqr"), "now": [30.0, 80.0, 40.0], "before": [20.0, 80.0, 50.0]})
    out = funnel_limits(d, numerator="now", denominator="before", unit="site", kind="ratio_of_counts", overdispersion=False)
    o, b = d["now"].to_numpy(), d["before"].to_numpy()
    s = np.sqrt(o / (o + 0.5) ** 2 + b / (b + 0.5) ** 2)
    assert out["target"].iloc[0] == pytest.approx(1.0)
    assert out["z"].to_numpy() == pytest.approx(np.log((o + 0.5) / (b + 0.5)) / s)
    # limits at D = 20 under the target (O = 20): exp(-/+ 1.96 * sqrt(2 * 20 / 20.5^2))
    s0 = math.sqrt(2 * 20 / 20.5**2)
    assert out["upper_95"].iloc[0] == pytest.approx(math.exp(Z95 * s0))
    assert out["outside_95"].iloc[0] == (1.5 > math.exp(Z95 * s0))
    assert funnel_spec(out).transform == "log"


def test_settings_survive_pandas_operations(four_areas):
    out = funnel_limits(four_areas, numerator="good", denominator="homes", unit="area", transform="none", winsorise=0)
    spec = funnel_spec(out)
    for t in (out[out["area"] != "A"], out.merge(four_areas[["area"]], on="area"),
              pd.concat([out.iloc[:2], out.iloc[2:]]), out.copy().reset_index(drop=True)):
        t.attrs.clear()
        assert funnel_spec(t) == spec
    assert spec.levels == (0.95, 0.998)
    with pytest.raises(ValueError, match="settings columns"):
        funnel_spec(out[["area", "value", "n"]])


@pytest.mark.parametrize("preset", ["SHMI", "CQC", "PR", "RC"])
def test_funnel_plot_draws_every_funnelplotr_method(preset):
    import matplotlib.pyplot as plt

    from cqc_research.metrics.funnel import FUNNELPLOTR_PRESETS
    from cqc_research.plots.funnel import funnel_plot

    rng = np.random.default_rng(3)
    n = rng.integers(20, 400, size=30).astype(float)
    k = rng.binomial(n.astype(int), 0.3).astype(float)
    d = pd.DataFrame({"unit": [f"u{i}" for i in range(30)], "k": k, "n": n, "e": n * 0.3})
    cols = ("k", "e") if preset in ("SHMI", "CQC") else ("k", "n")
    out = funnel_limits(d, numerator=cols[0], denominator=cols[1], unit="unit", **FUNNELPLOTR_PRESETS[preset])
    fig = funnel_plot(out, highlight="u0")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(lab.startswith("99.8% limits") for lab in labels)
    plt.close(fig)
    exact = funnel_limits(d, numerator=cols[0], denominator=cols[1], unit="unit", overdispersion=False, exact=True,
                          **{k_: v for k_, v in FUNNELPLOTR_PRESETS[preset].items() if k_ != "exact"})
    # ratio of counts has no exact limits (FunnelPlotR's rule): the legend must not claim them
    fig = funnel_plot(exact)
    has_exact = any("(exact)" in lab for lab in fig.axes[0].get_legend_handles_labels()[1])
    plt.close(fig)
    assert has_exact == (preset != "RC")
