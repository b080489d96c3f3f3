"""NHSRplotthedots' own test vectors, run through cqc_research.metrics.spc.

Each test carries the peer's inputs and asserted values as literals and names the peer test it
comes from (nhs-r-community/NHSRplotthedots, tests/testthat/). Where the peer draws its input with
R's ``set.seed(123); rnorm(...)``, the values below are those R draws, to full double precision
(the peer's snapshot shows their first digits: -0.56047565, -0.23017749, 1.55870831, ...).
Snapshot values are printed by R to 7 significant figures, so limits are compared to 5e-7.

Peer tests that do not map onto this API, and why: the ggplot/plotly drawing tests
(test-ptd_create_ggplot.R, test-ptd_create_plotly.R, test-geom_ptd_icon.R's grob snapshot),
argument validation of R-specific types (test-ptd_validate_*.R, test-ptd_spc_options.R), the
mocked call-structure tests of test-ptd_spc.R and test-ptd_calculate_point_type.R, and
test-integration_tests.R, which needs the NHSRdatasets ``ae_attendances`` data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cqc_research.metrics.spc import (
    ShortSeriesWarning,
    _two_of_three_ptd,
    spc_assurance,
    spc_icons,
    spc_rules,
    spc_summary,
)

# R: set.seed(123); rnorm(24), then rnorm(12, 5), then rnorm(12, -5), in that order.
RNORM_24 = [
    -0.5604756465522126, -0.23017748948328, 1.5587083141491243, 0.070508391424576,
    0.1292877351609463, 1.7150649868832817, 0.46091620598920247, -1.265061234606534,
    -0.686852851893526, -0.4456619700999582, 1.224081797439462, 0.3598138270573639,
    0.4007714505940522, 0.1106827159451197, -0.5558411347540749, 1.7869131368030788,
    0.4978504782292395, -1.966617156629638, 0.7013559015636855, -0.4727914077279341,
    -1.067823705986845, -0.2179749146582951, -1.0260044483072395, -0.7288912292911404
]
RNORM_12_MEAN_5 = [
    4.374960732150743, 3.313306689257586, 5.837787044494524, 5.153373117836515,
    3.8618630629880517, 6.253814921069926, 5.426464221476814, 4.704928517007729,
    5.8951256610450224, 5.878133487533042, 5.821581081637487, 5.688640254100091
]
RNORM_12_MEAN_MINUS_5 = [
    -4.446082346462411, -5.061911710576721, -5.305962663739916, -5.380471001012383,
    -5.694706978920513, -5.207917278019599, -6.265396351568265, -2.831044034661487,
    -3.7920380016950093, -6.123108583203349, -5.402884835299076, -5.466655353623219
]
RNORM_20 = RNORM_24[:20]
DATES_20 = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(1, 21), unit="D")  # as.Date(...) + 1:20


def sig7(v: float) -> float:
    """A value as R prints it by default (7 significant figures)."""
    return float(f"{v:.7g}")


def frame(y, dates=None):
    dates = DATES_20[:len(y)] if dates is None else dates
    return pd.DataFrame({"x": dates, "y": y})


def quiet_rules(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortSeriesWarning)
        return spc_rules(*args, **kwargs)


# --- limits -----------------------------------------------------------------------------------

def test_limits_match_ptd_spc_standard_snapshot():
    # NHSRplotthedots test-ptd_spc_standard.R: "it returns expected values" (r1; the glimpse in
    # _snaps/ptd_spc_standard.md): mean_col 0.1416238, lpl -3.01138, upl 3.294627, no point outside
    # among the first eight shown (FALSE, FALSE, ...), relative_to_mean -1, -1, 1, -1, -1, 1, 1, -1,
    # -1, -1, 1, 1, 1, -1, -1, ...
    r1 = spc_rules(frame(RNORM_20), value="y", time="x")
    assert sig7(r1["mean"].iloc[0]) == 0.1416238
    assert sig7(r1["lcl"].iloc[0]) == -3.01138
    assert sig7(r1["ucl"].iloc[0]) == 3.294627
    assert r1["lcl"].iloc[0] == pytest.approx(-3.01138, abs=1e-6)
    rel = np.sign(r1["value"] - r1["mean"]).astype(int).tolist()
    assert rel[:15] == [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1, -1, -1]
    assert not r1["outside"].any()
    close = ~r1["outside"] & ((r1["value"] > r1["upper_2sigma"]) | (r1["value"] < r1["lower_2sigma"]))
    assert not close[:8].any()
    assert close.sum() == 1  # the 18th, -1.97, alone near the lower limit: no special cause
    assert not r1["special_cause"].any()


def test_screen_outliers_matches_ptd_spc_standard_snapshot():
    # NHSRplotthedots test-ptd_spc_standard.R: "it returns expected values", data$y[15] <- 10:
    # screen_outliers = TRUE (r2): mean 0.6694159, lpl -2.383666, upl 3.722497;
    # screen_outliers = FALSE (r3): lpl -4.596625, upl 5.935457; r3's range is wider than r2's.
    y = list(RNORM_20)
    y[14] = 10.0
    r2 = spc_rules(frame(y), value="y", time="x", screen_outliers=True)
    r3 = spc_rules(frame(y), value="y", time="x", screen_outliers=False)
    assert sig7(r2["mean"].iloc[0]) == 0.6694159 and sig7(r3["mean"].iloc[0]) == 0.6694159
    assert (sig7(r2["lcl"].iloc[0]), sig7(r2["ucl"].iloc[0])) == (-2.383666, 3.722497)
    assert (sig7(r3["lcl"].iloc[0]), sig7(r3["ucl"].iloc[0])) == (-4.596625, 5.935457)
    assert r3["ucl"].iloc[0] - r3["lcl"].iloc[0] > r2["ucl"].iloc[0] - r2["lcl"].iloc[0]
    rel = np.sign(r2["value"] - r2["mean"]).astype(int).tolist()
    assert rel[:14] == [-1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1]
    # screening is the default here, as in ptd_spc
    d = spc_rules(frame(y), value="y", time="x")
    assert d["ucl"].iloc[0] == r2["ucl"].iloc[0]


def test_fix_after_n_points_changes_the_limits():
    # NHSRplotthedots test-ptd_spc_standard.R: "setting fix_after_n_points changes the calculations"
    s0 = spc_rules(frame(RNORM_20), value="y", time="x")
    s1 = spc_rules(frame(RNORM_20), value="y", time="x", baseline=12)
    assert s1["lcl"].iloc[0] != s0["lcl"].iloc[0] and s1["ucl"].iloc[0] != s0["ucl"].iloc[0]
    # and the fixed limits are those of the first 12 points alone
    s12 = quiet_rules(RNORM_20[:12])
    assert s1["ucl"].iloc[0] == pytest.approx(s12["ucl"].iloc[0], abs=1e-12)
    # NHSRplotthedots test-ptd_spc_options.R: "fix_after_n_points must be ... greater than or equal to 12."
    with pytest.raises(ValueError, match="at least 12"):
        spc_rules(frame(RNORM_20), value="y", time="x", baseline=11)


def test_summary_matches_ptd_spc_summary_snapshot():
    # NHSRplotthedots test-ptd_spc.R: "it outputs expected content" (_snaps/ptd_spc.md):
    # s1: mean_col 0.142, lpl -3.01, upl 3.29, n 20, common_cause 20, improvement 0;
    # s2, rebased at 2020-01-01 (before the first point): one group, the same limits;
    # s3, faceted 10 + 10: 0.0746 / -2.60 / 2.75 and 0.209 / -3.28 / 3.70, n 10, 10 common cause.
    for s in (spc_summary(spc_rules(frame(RNORM_20), value="y", time="x")),
              spc_summary(spc_rules(frame(RNORM_20), value="y", time="x", rebase="2020-01-01"))):
        assert len(s) == 1
        row = s.iloc[0]
        assert (round(row["mean"], 3), round(row["lcl"], 2), round(row["ucl"], 2)) == (0.142, -3.01, 3.29)
        assert (row["n"], row["common_cause"], row["improvement"]) == (20, 20, 0)
        assert row["variation"] == "common cause"
    facets = [spc_summary(quiet_rules(frame(RNORM_20[:10], DATES_20[:10]), value="y", time="x")),
              spc_summary(quiet_rules(frame(RNORM_20[10:], DATES_20[10:]), value="y", time="x"))]
    got = [(f"{r['mean'].iloc[0]:.3g}", f"{r['lcl'].iloc[0]:.3g}", f"{r['ucl'].iloc[0]:.3g}",
            r["n"].iloc[0], r["common_cause"].iloc[0]) for r in facets]
    assert got == [("0.0746", "-2.6", "2.75", 10, 10), ("0.209", "-3.28", "3.7", 10, 10)]


# --- rules ------------------------------------------------------------------------------------

def test_two_of_three_needs_the_same_side_of_the_mean():
    # NHSRplotthedots test-ptd_spc_standard.R: "it only reports special cause for 2 of 3 points
    # close to limits when they are on the same side of the mean": c(1, -1) x 8 with the 15th
    # point 5.5 and the 16th -5.5; the last two points are common cause.
    y = [1.0, -1.0] * 8
    y[14], y[15] = 5.5, -5.5
    s = spc_rules(frame(y, DATES_20[:16]), value="y", time="x")
    assert s["variation"].tolist()[-2:] == ["common cause", "common cause"]
    assert not s["special_cause"].any()


def test_seven_points_one_side_of_the_mean():
    # NHSRplotthedots test-ptd_calculate_point_type.R: ptd_seven_point_one_side_mean and
    # ptd_part_of_seven_trend. relative_to_mean c(rep(1, 6), -1) -> no run; c(rep(1, 8), -1) and
    # c(-1, rep(1, 8), -1) -> every point of the run of 8. Values chosen so that sign(y - mean)
    # is the peer's vector (mean 0); unscreened limits keep the runs inside them.
    assert not quiet_rules([1.0] * 6 + [-6.0], screen_outliers=False)["shift"].any()
    assert quiet_rules([1.0] * 8 + [-8.0], screen_outliers=False)["shift"].tolist() == [True] * 8 + [False]
    assert quiet_rules([-1.0] * 8 + [8.0], screen_outliers=False)["shift"].tolist() == [True] * 8 + [False]
    assert quiet_rules([-4.0] + [1.0] * 8 + [-4.0], screen_outliers=False)["shift"].tolist() \
        == [False] + [True] * 8 + [False]


def test_seven_point_trend():
    # NHSRplotthedots test-ptd_calculate_point_type.R: ptd_seven_point_trend (with
    # ptd_part_of_seven_trend flagging every point of the trend): 1:6 -> none; c(1:3, 3:6) -> none
    # (a tie); 1:7 -> all; c(2, 1:7, 3) -> the 7 in the middle; 7:1 and c(2, 7:1, 3) likewise.
    cases = [
        (list(range(1, 7)), [False] * 6),
        ([1, 2, 3, 3, 4, 5, 6], [False] * 7),
        (list(range(1, 8)), [True] * 7),
        ([2, *range(1, 8), 3], [False] + [True] * 7 + [False]),
        (list(range(7, 0, -1)), [True] * 7),
        ([2, *range(7, 0, -1), 3], [False] + [True] * 7 + [False]),
    ]
    for y, expected in cases:
        assert quiet_rules([float(v) for v in y], screen_outliers=False)["trend"].tolist() == expected, y


def test_part_of_two_in_three():
    # NHSRplotthedots test-ptd_calculate_point_type.R: ptd_part_of_two_in_three, with every point
    # on the same side of the mean: only points that are themselves close to the limits count.
    # c(1, 0, 1) -> c(1, 0, 1); c(0, 1, 1); c(1, 1, 0); c(0, 0, 1, 0, 1, 0, 0) -> the same;
    # c(1, 0, 0, 1) -> none; c(1, 0, 0, 1, 1) -> c(0, 0, 0, 1, 1).
    cases = [([1, 0, 1], [1, 0, 1]), ([0, 1, 1], [0, 1, 1]), ([1, 1, 0], [1, 1, 0]),
             ([0, 0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 1, 0, 0]), ([0, 0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0]),
             ([1, 0, 0, 1], [0, 0, 0, 0]), ([1, 0, 0, 1, 1], [0, 0, 0, 1, 1]), ([0, 0, 0], [0, 0, 0])]
    for close, expected in cases:
        got = _two_of_three_ptd(np.array(close, dtype=bool), np.ones(len(close)))
        assert got.astype(int).tolist() == expected, close


# --- rebasing and short groups ----------------------------------------------------------------

def test_rebase_groups():
    # NHSRplotthedots test-ptd_spc_standard.R: "it sets the rebase_group field": a rebase flag on
    # the 11th of 20 points gives rebase_group c(rep(0, 10), rep(1, 10)).
    s = quiet_rules(frame(RNORM_20), value="y", time="x", rebase=DATES_20[10])
    assert s["segment"].tolist() == [0] * 10 + [1] * 10
    # NHSRplotthedots test-ptd_add_rebase_column.R: dates 2020-01-02 .. 2020-01-11, rebased on
    # 2020-01-03 and 2020-01-08 -> rebase column 0 1 0 0 0 0 1 0 0 0 (so groups 0 1 1 1 1 1 2 2 2 2);
    # per facet (list(a = 2020-01-03, b = 2020-01-08)) -> c(0, 1, rep(0, 14), 1, rep(0, 3)).
    d10 = DATES_20[:10]
    s = quiet_rules(frame(RNORM_20[:10], d10), value="y", time="x", rebase=["2020-01-03", "2020-01-08"])
    assert s["segment"].tolist() == [0, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    a = quiet_rules(frame(RNORM_20[:10], d10), value="y", time="x", rebase="2020-01-03")
    b = quiet_rules(frame(RNORM_20[10:], d10), value="y", time="x", rebase="2020-01-08")
    starts = np.concatenate([np.diff(a["segment"], prepend=0), np.diff(b["segment"], prepend=0)])
    assert starts.tolist() == [0, 1] + [0] * 14 + [1] + [0] * 3


def test_short_group_warnings():
    # NHSRplotthedots test-ptd_add_short_group_warnings.R (warning_threshold 12): 11 points warn,
    # 12 do not; two facets of 40 rebased every 20 points: no warning; facet a rebased after 35
    # points (groups of 35 and 5): the 5 warn.
    with pytest.warns(ShortSeriesWarning):
        assert spc_rules(RNORM_20[:11])["short_series"].tolist() == [True] * 11
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortSeriesWarning)
        assert spc_rules(RNORM_20[:12])["short_series"].tolist() == [False] * 12
        y40 = RNORM_24 + RNORM_12_MEAN_5 + RNORM_12_MEAN_MINUS_5[:4]
        for facet in (y40, y40[::-1]):
            assert not spc_rules(facet, rebase=20)["short_series"].any()
    with pytest.warns(ShortSeriesWarning, match="segment 1: 5 points"):
        a = spc_rules(y40, rebase=35)
    assert a["short_series"].tolist() == [False] * 35 + [True] * 5


# --- targets, assurance and icons -------------------------------------------------------------

def _limits_frame(lpl, upl, improvement, target=4.0):
    return pd.DataFrame({"lcl": lpl, "ucl": upl, "improvement": improvement, "target": target})


def test_assurance_type():
    # NHSRplotthedots test-ptd_calculate_assurance_type.R: target 4 against (lpl, upl) =
    # (1, 3), (5, 7), (1, 5): increase -> consistent_fail, consistent_pass, inconsistent;
    # decrease -> consistent_pass, consistent_fail, inconsistent; neutral -> NA; no target -> NA.
    for improvement, expected in (("up", ["consistently fail", "consistently pass", "inconsistent"]),
                                  ("down", ["consistently pass", "consistently fail", "inconsistent"]),
                                  ("", [None, None, None])):
        got = [spc_assurance(_limits_frame([lo], [hi], improvement)) for lo, hi in ((1, 3), (5, 7), (1, 5))]
        assert got == expected, improvement
    assert spc_assurance(_limits_frame([1], [3], "up", target=np.nan)) is None
    # "it returns correct values for assurance when rebase" (decrease): the last group decides.
    lims = [(1, 3), (5, 7), (1, 5)]
    for order, expected in (([0, 1, 2], "inconsistent"), ([1, 2, 0], "consistently pass"),
                            ([2, 0, 1], "consistently fail")):
        f = _limits_frame([lims[i][0] for i in order], [lims[i][1] for i in order], "down")
        assert spc_assurance(f) == expected


def test_icons():
    # NHSRplotthedots test-geom_ptd_icon.R: "it transforms the data correctly". d has 24 points
    # (rnorm(24)) in facets f = 0, 1 of 12; later d$y[f == 1] <- rnorm(12, 5), then rnorm(12, -5).
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(1, 25), unit="D")
    d = pd.DataFrame({"x": dates, "y": RNORM_24})
    s1 = spc_rules(d, value="y", time="x")
    assert spc_icons(s1).ptd_variation_file == "common_cause.png" and spc_icons(s1).assurance is None
    s2 = spc_rules(d, value="y", time="x", target=0.5)
    assert (spc_icons(s2).ptd_variation_file, spc_icons(s2).ptd_assurance_file) == \
        ("common_cause.png", "inconsistent.png")
    for half in (d.iloc[:12], d.iloc[12:]):  # s3, s4: faceted
        assert spc_icons(spc_rules(half, value="y", time="x")).ptd_variation_file == "common_cause.png"
        s4 = spc_rules(half, value="y", time="x", target=0.5)
        assert spc_icons(s4).ptd_assurance_file == "inconsistent.png"
    d5 = d.assign(y=RNORM_24[:12] + RNORM_12_MEAN_5)
    cases = [  # (data, target, improvement, variation file, assurance file), s5 .. s9
        (d5, -3, "up", "improvement_high.png", "pass.png"),
        (d5, -3, "down", "improvement_high.png", "fail.png"),
    ]
    d7 = d.assign(y=RNORM_24[:12] + RNORM_12_MEAN_MINUS_5)
    cases += [
        (d7, 3, "up", "improvement_low.png", "fail.png"),
        (d7, 3, "down", "improvement_low.png", "pass.png"),
        (d7, 3, None, "neutral_low.png", None),
    ]
    for data, target, improvement, var_file, ass_file in cases:
        ic = spc_icons(spc_rules(data, value="y", time="x", target=target, improvement=improvement))
        assert (ic.ptd_variation_file, ic.ptd_assurance_file) == (var_file, ass_file), (target, improvement)
    # our icon names keep improvement and concern apart where NHSRplotthedots' file names do not
    assert spc_icons(spc_rules(d5, value="y", time="x", improvement="down")).variation == "concern_high"
