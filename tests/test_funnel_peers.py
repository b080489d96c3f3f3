"""FunnelPlotR's own test vectors, run through cqc_research.metrics.funnel.

Each test carries the peer's inputs and asserted values as literals and names the peer test it
comes from (nhs-r-community/FunnelPlotR, tests/testthat/). FunnelPlotR's methods are the
presets in :data:`cqc_research.metrics.funnel.FUNNELPLOTR_PRESETS`.

Peer tests that do not map onto this API: test-outliers_func.R (it flags rows against limits
given as input; here limits are always computed), test-funnel_themes.R and the plot-structure
checks (ggplot objects).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cqc_research.metrics.funnel import (
    FUNNELPLOTR_PRESETS,
    funnel_curve,
    funnel_limits,
    funnel_spec,
)

# test-funnel_plot.R, test-classes_methods.R, test-OD_adjust_func.R
SIX = pd.DataFrame({"group": list("abcdef"), "numerator": [100.0, 150, 180, 80, 120, 225],
                    "denominator": [108.0, 112, 165, 95, 100, 220]})


def test_poisson_limits():
    # FunnelPlotR test-poisson_limits.R: "Poisson limits are right": unadjusted limits at expected
    # 15, 20, 30 (target 1): ll95 0.5596924 0.6108260 0.6746958, ul95 1.649348 1.544419 1.427562,
    # ll99(.8) 0.3862650 0.4479107 0.5289724, ul99(.8) 2.082907 1.902094 1.702771.
    d = pd.DataFrame({"o": [15.0, 20.0, 30.0], "e": [15.0, 20.0, 30.0]})
    out = funnel_limits(d, numerator="o", denominator="e", kind="ratio", exact=True, overdispersion=False)
    assert out["lower_95"].round(7).tolist() == [0.5596924, 0.6108260, 0.6746958]
    assert out["upper_95"].round(6).tolist() == [1.649348, 1.544419, 1.427562]
    assert out["lower_998"].round(7).tolist() == [0.3862650, 0.4479107, 0.5289724]
    assert out["upper_998"].round(6).tolist() == [2.082907, 1.902094, 1.702771]
    # the curve gives the same values at those sizes
    c = funnel_curve(out, n=[15, 20, 30])
    assert c.loc[c["level"] == 0.998, "upper"].round(6).tolist() == [2.082907, 1.902094, 1.702771]


def test_normal_approximations_miss_the_exact_upper_limit_at_15():
    # The numbers: at E = 15 the 99.8% upper limit is 2.083 exactly (above), against
    # 1.80 (natural scale), 1.96 (square root), 2.22 (log) from the normal approximations.
    d = pd.DataFrame({"o": [15.0, 20.0], "e": [15.0, 20.0]})
    z = 3.090232306167813
    expected = {"none": 1 + z / math.sqrt(15), "sqrt": (1 + z / (2 * math.sqrt(15))) ** 2,
                "log": math.exp(z / math.sqrt(15))}
    for transform, want in expected.items():
        got = funnel_limits(d, numerator="o", denominator="e", kind="ratio", transform=transform, overdispersion=False)
        assert got["upper_998"].iloc[0] == pytest.approx(want)
    assert (round(expected["none"], 2), round(expected["log"], 2)) == (1.80, 2.22)


def test_phi_of_the_default_shmi_method():
    # FunnelPlotR test-classes_methods.R: funnel_plot(c(100, 150, 180, 80, 120, 225),
    # c(108, 112, 165, 95, 100, 220), groups a..f) with the defaults (SR, SHMI, trim_by 0.1):
    # round(phi, 6) == 2.948033; six groups come back.
    out = funnel_limits(SIX, numerator="numerator", denominator="denominator", group="group", **FUNNELPLOTR_PRESETS["SHMI"])
    spec = funnel_spec(out)
    assert round(spec.phi, 6) == 2.948033
    assert len(out) == 6 and out["group"].tolist() == list("abcdef")
    # FunnelPlotR's SHMI z-score: sqrt(E) log(O / E)
    assert out["z"].to_numpy() == pytest.approx(np.sqrt(SIX.denominator) * np.log(SIX.numerator / SIX.denominator))
    # with 6 units the rank rule floor(rank * 10 / 7) drops none, so phi is the plain mean of z^2
    assert spec.n_units == 6
    assert spec.phi == pytest.approx(np.mean(out["z"] ** 2))
    w = SIX.denominator.to_numpy()  # 1 / s^2 with s = 1 / sqrt(E)
    tau2 = (6 * spec.phi - 5) / (w.sum() - (w**2).sum() / w.sum())
    assert spec.tau2 == pytest.approx(tau2) and spec.adjusted


def test_unadjusted_lower_limit_above_adjusted():
    # FunnelPlotR test-funnel_plot.R: b (OD_adjust = FALSE) has LCL95[5] > a's OD95LCL[5], and
    # both return 6 groups; c (method "CQC", Winsorise_by 0.05) returns 6 groups too. (The peer's b
    # also sets multiplier = 100, which scales its limits; compared here on one scale.)
    a = funnel_limits(SIX, numerator="numerator", denominator="denominator", group="group", **FUNNELPLOTR_PRESETS["SHMI"])
    b = funnel_limits(SIX, numerator="numerator", denominator="denominator", group="group", overdispersion=False,
                      **FUNNELPLOTR_PRESETS["SHMI"])
    assert b["lower_95"].iloc[4] > a["lower_95"].iloc[4]
    assert funnel_spec(b).exact_limits and not funnel_spec(a).exact_limits
    c = funnel_limits(SIX, numerator="numerator", denominator="denominator", group="group",
                      **{**FUNNELPLOTR_PRESETS["CQC"], "winsorise": 0.05})
    assert len(a) == len(b) == len(c) == 6
    # OD_adjust_func: SHMI and CQC both give phi and tau2 as numbers for the 6 groups
    for t in (a, c):
        assert np.isfinite(funnel_spec(t).phi) and np.isfinite(funnel_spec(t).tau2)


def test_aggregation_by_group():
    # FunnelPlotR test-aggregate_fun.R: numerator c(100, 150, 180, 89, 120, 225), denominator
    # c(102, 135, 165, 95, 100, 220), group c(a, a, a, b, b, c) -> 3 groups,
    # round(rr, 6) == c(1.069652, 1.071795, 1.022727).
    d = pd.DataFrame({"numerator": [100.0, 150, 180, 89, 120, 225],
                      "denominator": [102.0, 135, 165, 95, 100, 220], "group": list("aaabbc")})
    out = funnel_limits(d, numerator="numerator", denominator="denominator", group="group", kind="ratio")
    assert out["group"].tolist() == ["a", "b", "c"]
    assert out["value"].round(6).tolist() == [1.069652, 1.071795, 1.022727]
    assert out["denominator"].tolist() == [402.0, 195.0, 220.0]


def test_shmi_adjusted_limits_formula():
    # FunnelPlotR test-build_limits_lookup.R builds SHMI limits with tau2 = 0.02; its
    # calculate_limits.R gives them as exp(-/+ 1.959964 sqrt(1 / E + tau2)) (and 3.090232).
    spec = funnel_spec(funnel_limits(SIX, numerator="numerator", denominator="denominator", **FUNNELPLOTR_PRESETS["SHMI"]))
    from dataclasses import replace
    spec = replace(spec, tau2=0.02, adjusted=True)
    e = np.array([10.0, 100.0, 250.0])
    c = funnel_curve(spec, n=e)
    c95, c998 = c[c["level"] == 0.95], c[c["level"] == 0.998]
    assert c95["lower"].to_numpy() == pytest.approx(np.exp(-1.959964 * np.sqrt(1 / e + 0.02)), rel=1e-6)
    assert c95["upper"].to_numpy() == pytest.approx(np.exp(1.959964 * np.sqrt(1 / e + 0.02)), rel=1e-6)
    assert c998["upper"].to_numpy() == pytest.approx(np.exp(3.090232 * np.sqrt(1 / e + 0.02)), rel=1e-6)


def test_cqc_limits_are_squared_back_unlike_funnelplotr():
    # A deliberate difference. FunnelPlotR's calculate_limits.R gives the CQC (square-root) limits
    # as 1 -/+ 1.959964 sqrt(s^2 + tau2) with s = 1 / (2 sqrt(E)): still on the square-root scale
    # (its open issue #33). A ratio r is compared on that scale as sqrt(r), so the limit for r is
    # the square. Here: (1 -/+ z sqrt(s^2 + tau2))^2. Same z-scores, phi and tau2 as FunnelPlotR.
    out = funnel_limits(SIX, numerator="numerator", denominator="denominator", group="group", **FUNNELPLOTR_PRESETS["CQC"])
    spec = funnel_spec(out)
    e = SIX.denominator.to_numpy()
    sd = np.sqrt(1 / (4 * e) + spec.tau2)
    theirs_upper = 1 + 1.959964 * sd
    ours_upper = (1 + 1.959964 * sd) ** 2
    assert spec.adjusted
    assert out["upper_95"].to_numpy() == pytest.approx(ours_upper, rel=1e-6)
    assert not np.allclose(out["upper_95"].to_numpy(), theirs_upper, rtol=1e-3)
    # the z-scores agree with FunnelPlotR's (sqrt(O/E) - 1) / (1 / (2 sqrt(E)))
    assert out["z"].to_numpy() == pytest.approx((np.sqrt(SIX.numerator / SIX.denominator) - 1) * 2 * np.sqrt(e))
    # and a unit is outside our limits exactly when its adjusted z-score is beyond 1.96
    assert (out["outside_95"] == (out["z_adj"].abs() > 1.959964)).all()
