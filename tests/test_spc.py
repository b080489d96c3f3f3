"""Making Data Count XmR charts: limits against hand computation, each rule on a series whose
answer is known, and the improvement / concern classification."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cqc_research.metrics.spc import spc_rules, xmr_limits

# Series used below, each built so that exactly one rule fires (checked by hand in the comments,
# and the preconditions re-checked against the limits inside each test).
ALTERNATING = [10, 12, 9, 11] * 3  # no special cause at all


def test_xmr_limits_hand_computation():
    # x = 10 12 11 13 12 14: mean = 72/6 = 12; moving ranges 2 1 2 1 2 -> mMR = 8/5 = 1.6
    # limits 12 -/+ 2.66 * 1.6 = 7.744, 16.256; 2-sigma lines 12 -/+ (2/3) 4.256
    lim = xmr_limits([10, 12, 11, 13, 12, 14]).iloc[0]
    assert lim["n"] == 6
    assert lim["mean"] == pytest.approx(12.0)
    assert lim["mr_mean"] == pytest.approx(1.6)
    assert lim["sigma"] == pytest.approx(1.6 / 1.128)
    assert lim["lcl"] == pytest.approx(7.744)
    assert lim["ucl"] == pytest.approx(16.256)
    assert lim["upper_2sigma"] == pytest.approx(12 + 2 / 3 * 4.256)
    assert lim["lower_2sigma"] == pytest.approx(12 - 2 / 3 * 4.256)


def test_xmr_limits_baseline_and_screening():
    # Baseline of the first 4 points: mean (10+12+11+13)/4 = 11.5, mMR (2+1+2)/3 = 5/3.
    lim = xmr_limits([10, 12, 11, 13, 40, 41], baseline=4, min_baseline=2).iloc[0]
    assert lim["mean"] == pytest.approx(11.5)
    assert lim["mr_mean"] == pytest.approx(5 / 3)
    # Screening: moving ranges 1 1 1 1 20 20 1 -> mMR 45/7 = 6.43; 3.267 * 6.43 = 21.0, so both
    # 20s stay... use a single jump instead: 1 1 1 1 30 -> mMR 34/5 = 6.8, 3.267*6.8 = 22.2 < 30,
    # so 30 is screened out and mMR = 4/4 = 1.
    x = [10, 11, 10, 11, 10, 40]
    assert xmr_limits(x, screen_outliers=False).iloc[0]["mr_mean"] == pytest.approx(34 / 5)
    assert xmr_limits(x, screen_outliers=True).iloc[0]["mr_mean"] == pytest.approx(1.0)
    assert xmr_limits(x).iloc[0]["mr_mean"] == pytest.approx(1.0)  # screening is the default
    # a fixed baseline needs 12 points, as NHSRplotthedots' fix_after_n_points
    with pytest.raises(ValueError, match="at least 12"):
        xmr_limits(list(range(20)), baseline=11)
    assert xmr_limits(list(range(20)), baseline=12).iloc[0]["mean"] == pytest.approx(5.5)


def test_frame_input_is_sorted_by_time():
    df = pd.DataFrame({"month": pd.to_datetime(["2020-03-01", "2020-01-01", "2020-02-01", "2020-04-01"]),
                       "v": [11, 10, 12, 13]})
    # in time order 10 12 11 13: mMR (2+1+2)/3; in row order 11 10 12 13 it would be (1+2+1)/3
    out = spc_rules(df, value="v", time="month")
    assert out["value"].tolist() == [10, 12, 11, 13]
    assert out["time"].is_monotonic_increasing
    assert xmr_limits(df, value="v", time="month").iloc[0]["mr_mean"] == pytest.approx(5 / 3)


def test_no_special_cause():
    # mean 10.5; moving ranges sum 23 over 11 -> 2.09; the 2-sigma band 10.5 -/+ 3.71 holds every
    # point; sides alternate below/above; no three monotone steps.
    out = spc_rules(ALTERNATING)
    assert not out["special_cause"].any()
    assert (out["variation"] == "common cause").all()


def test_point_outside_limits():
    # Append 25: mean 151/13 = 11.62, mMR 37/12 = 3.08, UCL 19.82 < 25; upper 2-sigma 17.08.
    x = ALTERNATING + [25]
    out = spc_rules(x, improvement="up")
    lim = xmr_limits(x, screen_outliers=False).iloc[0]
    assert lim["ucl"] == pytest.approx(151 / 13 + 2.66 * 37 / 12)
    # screened (the default): the jump of 14 >= 3.267 * 37/12 leaves the mMR at 23/11
    assert xmr_limits(x).iloc[0]["ucl"] == pytest.approx(151 / 13 + 2.66 * 23 / 11)
    assert out["outside"].tolist() == [False] * 12 + [True]
    assert out["special_cause"].tolist() == [False] * 12 + [True]
    assert out["variation"].iloc[-1] == "improvement"
    assert spc_rules(x, improvement="down")["variation"].iloc[-1] == "concern"
    assert spc_rules(x, improvement=None)["variation"].iloc[-1] == "special cause (high)"
    # a low outlier when lower is better is an improvement
    low = spc_rules(ALTERNATING + [-4], improvement="down")
    assert low["outside"].iloc[-1] and low["variation"].iloc[-1] == "improvement"


def test_shift_of_seven_on_one_side():
    base = [13, 9] * 4  # alternates across the mean, ends below it
    shift = [11.5, 11.8] * 3 + [11.5]  # 7 points just above the overall mean
    x = base + shift
    # mean = (88 + 81.4) / 15 = 11.293; every shift point is above it, 9 is below
    lim = xmr_limits(x).iloc[0]
    assert lim["mean"] == pytest.approx(169.4 / 15)
    assert min(shift) > lim["mean"] > 9
    assert lim["lower_2sigma"] < 9 and 13 < lim["upper_2sigma"]
    out = spc_rules(x, improvement="up")
    assert out["shift"].tolist() == [False] * 8 + [True] * 7
    assert not out[["outside", "trend", "two_of_three"]].to_numpy().any()
    assert (out.loc[8:, "variation"] == "improvement").all()
    assert (out.loc[:7, "variation"] == "common cause").all()
    # a run of six is not a shift
    six = base + shift[:6]
    assert min(shift[:6]) > xmr_limits(six).iloc[0]["mean"]
    assert not spc_rules(six)["special_cause"].any()
    # run length is a parameter (some teams use 8)
    assert not spc_rules(x, run_length=8)["shift"].any()


def test_point_on_the_mean_breaks_a_run():
    # 88 + 83 + 71 = 242 over 22 points: the mean is exactly 11, so the 11 in each block of seven
    # sits on the mean and splits a run of seven into runs of three.
    x = [14, 8] * 4 + [12, 12, 12, 11, 12, 12, 12] + [10, 10, 10, 11, 10, 10, 10]
    lim = xmr_limits(x).iloc[0]
    assert lim["mean"] == pytest.approx(11.0)
    assert lim["lower_2sigma"] < 8 and 14 < lim["upper_2sigma"]
    assert not spc_rules(x)["special_cause"].any()
    # with 12 instead of the first 11 the mean is 243/22 = 11.05: the seven 12s form a shift
    # above, and the last block (10s and an 11, all now below the mean) a shift below
    y = list(x)
    y[11] = 12
    out = spc_rules(y, improvement="up")
    assert out["shift"].tolist() == [False] * 8 + [True] * 14
    assert out["variation"].tolist() == ["common cause"] * 8 + ["improvement"] * 7 + ["concern"] * 7


def test_trend_of_seven():
    base = [9, 13] * 3
    trend = [10, 10.5, 11, 11.5, 12, 12.5, 13]  # 7 points, each higher than the last
    x = base + trend
    lim = xmr_limits(x).iloc[0]
    assert lim["lower_2sigma"] < 9 and 13 < lim["upper_2sigma"]  # no 2-of-3, nothing outside
    out = spc_rules(x, improvement="up")
    assert out["trend"].tolist() == [False] * 6 + [True] * 7
    assert not out[["outside", "shift", "two_of_three"]].to_numpy().any()
    assert (out.loc[6:, "variation"] == "improvement").all()
    assert (spc_rules(x, improvement="down").loc[6:, "variation"] == "concern").all()
    # six rising points are not a trend
    assert not spc_rules(base + trend[:6])["trend"].any()
    # a falling trend, mirrored, is a concern when higher is better
    down = [22 - v for v in x]
    out_down = spc_rules(down, improvement="up")
    assert out_down["trend"].tolist() == [False] * 6 + [True] * 7
    assert (out_down.loc[6:, "variation"] == "concern").all()
    # a tie breaks a trend
    flat = base + [10, 10.5, 11, 11, 12, 12.5, 13]
    assert not spc_rules(flat)["trend"].any()


def test_two_of_three_beyond_two_sigma_western_electric():
    # The Western Electric form (two_of_three="western_electric"): the middle point may sit on
    # the other side of the mean. NHSRplotthedots (the default) needs all three on one side.
    x = [10, 12] * 15 + [16, 11, 16] + [10, 12, 10]
    # mean 405/36 = 11.25; mMR 82/35 = 2.343; UCL 17.48 > 16 > upper 2-sigma 15.40
    lim = xmr_limits(x).iloc[0]
    assert lim["mean"] == pytest.approx(405 / 36)
    assert lim["mr_mean"] == pytest.approx(82 / 35)
    assert lim["upper_2sigma"] < 16 < lim["ucl"]
    assert 11 < lim["mean"]  # the middle point is below the mean
    assert not spc_rules(x, improvement="down")["two_of_three"].any()
    out = spc_rules(x, improvement="down", two_of_three="western_electric")
    expected = [False] * 36
    expected[30] = expected[32] = True  # the two points beyond 2 sigma, not the one between
    assert out["two_of_three"].tolist() == expected
    assert out["special_cause"].tolist() == expected
    assert (out.loc[[30, 32], "variation"] == "concern").all()
    # one point beyond 2 sigma alone is common cause
    one = [10, 12] * 15 + [16, 11, 11.5] + [10, 12, 10]
    lim1 = xmr_limits(one).iloc[0]
    assert lim1["upper_2sigma"] < 16 < lim1["ucl"]
    assert not spc_rules(one, two_of_three="western_electric")["special_cause"].any()
    # two points beyond 2 sigma but more than three apart: not flagged
    apart = [10, 12] * 15 + [16, 11, 10, 16] + [10, 12]
    lima = xmr_limits(apart).iloc[0]
    assert lima["upper_2sigma"] < 16 < lima["ucl"]
    assert not spc_rules(apart, two_of_three="western_electric")["two_of_three"].any()


def test_two_of_three_needs_the_same_side():
    x = [10, 12] * 15 + [16, 11, 6] + [10, 12, 10]
    lim = xmr_limits(x).iloc[0]
    assert lim["upper_2sigma"] < 16 < lim["ucl"]
    assert lim["lcl"] < 6 < lim["lower_2sigma"]
    assert not spc_rules(x)["two_of_three"].any()
    assert not spc_rules(x, two_of_three="western_electric")["two_of_three"].any()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="value 2"):
        spc_rules([1.0, 2.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="improvement"):
        spc_rules([1, 2, 3], improvement="higher")
    with pytest.raises(ValueError, match="at least 2"):
        xmr_limits([1.0])
    with pytest.raises(KeyError, match="nope"):
        spc_rules(pd.DataFrame({"v": [1, 2]}), value="nope")


def test_spc_chart_draws_points_limits_and_event(tmp_path):
    from cqc_research.plots.spc import SPC_COLOURS, spc_chart

    months = pd.date_range("2018-01-01", periods=20, freq="MS")
    x = [10, 12] * 6 + [11.5, 12, 12.5, 13, 13.5, 14, 14.5, 15]
    spc = spc_rules(pd.DataFrame({"m": months, "v": x}), value="v", time="m", improvement="up")
    fig = spc_chart(spc, event_date="2019-01-15", event_label="inspection", title="A&E")
    ax = fig.axes[0]
    # the mean, both limits and the event line are drawn
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("improvement" in t for t in labels) and any("common cause" in t for t in labels)
    colours = {tuple(np.round(c, 3)) for coll in ax.collections for c in coll.get_facecolors()}
    from matplotlib.colors import to_rgba
    assert tuple(np.round(to_rgba(SPC_COLOURS["improvement"]), 3)) in colours
    assert tuple(np.round(to_rgba(SPC_COLOURS["common cause"]), 3)) in colours
    xs = [line.get_xdata()[0] for line in ax.lines if len(set(map(str, line.get_xdata()))) == 1]
    assert any(pd.Timestamp(v) == pd.Timestamp("2019-01-15") for v in xs)
    fig.savefig(tmp_path / "spc.png")
    plt.close(fig)


# --- rule precedence, rebasing, baselines, targets, assurance, icons (hand-worked) -------------

def test_trend_beats_side_of_mean_by_default_and_mean_side_is_an_option():
    # 21 points, sum 136 + 15 + 51 + 68 = 270: mean 12.857. The three 5s and the rise 6..11 sit
    # below the mean for 9 points (a shift, low) and 5, 6, ..., 11 rise for 7 points (a trend).
    x = [20, 14] * 4 + [5, 5, 5] + [6, 7, 8, 9, 10, 11] + [20, 14] * 2
    lim = xmr_limits(x).iloc[0]
    assert lim["mean"] == pytest.approx(270 / 21)
    assert max(x[8:17]) < lim["mean"] and lim["lcl"] < 5  # all below the mean, none outside
    ptd = spc_rules(x, improvement="up")
    assert ptd["shift"].tolist()[8:17] == [True] * 9 and ptd["trend"].tolist()[10:17] == [True] * 7
    # NHSRplotthedots order: outside, trend, two of three, shift. The rising trend is an
    # improvement although it lies below the mean; the first two 5s are "near the lower limit"
    # (below 12.857 - 2/3 * 2.66 * mMR = 5.409) two of three times, so a concern.
    assert ptd["rule"].tolist()[8:17] == ["two_of_three"] * 2 + ["trend"] * 7
    assert ptd["variation"].tolist()[8:17] == ["concern"] * 2 + ["improvement"] * 7
    # The old order here: the side of the mean wins, so every point of the run is a concern.
    old = spc_rules(x, improvement="up", precedence="mean_side")
    assert old["variation"].tolist()[8:17] == ["concern"] * 9
    with pytest.raises(ValueError, match="precedence"):
        spc_rules(x, precedence="trend")


def test_two_of_three_ignores_points_outside_the_limits_by_default():
    # 30 alternating points then 30 (outside), 16 (near), 12: mean 11.57, mMR screened.
    x = [10, 12] * 15 + [30, 16, 12] + [10, 12, 10]
    lim = xmr_limits(x).iloc[0]
    assert lim["ucl"] < 30 and lim["upper_2sigma"] < 16 < lim["ucl"] and 12 > lim["mean"]
    ptd = spc_rules(x)
    # only one point is near the limit (30 is outside, not near): no two-of-three
    assert not ptd["two_of_three"].any()
    assert ptd["outside"].tolist()[30] and ptd["variation"].tolist()[31] == "common cause"
    we = spc_rules(x, two_of_three="western_electric")
    assert we["two_of_three"].tolist()[30:33] == [True, True, False]  # 30 counts as beyond 2 sigma


def test_rebase_gives_each_segment_its_own_limits():
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    x = [50, 52, 51, 53, 50, 52, 51, 53, 50, 52, 51, 53] + [70, 72, 71, 73, 70, 72, 71, 73, 70, 72, 71, 73]
    df = pd.DataFrame({"m": months, "v": x})
    # an inspection on 15 December 2020 falls between points: the new segment starts at the next
    # point, January 2021 (NHSRplotthedots needs a date present in the data).
    out = spc_rules(df, value="v", time="m", rebase="2020-12-15")
    assert out["segment"].tolist() == [0] * 12 + [1] * 12
    assert spc_rules(df, value="v", time="m", rebase="2020-11-15")["segment"].tolist() == [0] * 11 + [1] * 13
    out = spc_rules(df, value="v", time="m", rebase=["2021-01-01"])
    assert out["segment"].tolist() == [0] * 12 + [1] * 12
    # segment 0: mean 618/12 = 51.5; moving ranges 2 1 2 3 2 1 2 3 2 1 2 -> 21/11
    seg0 = out[out["segment"] == 0].iloc[0]
    assert seg0["mean"] == pytest.approx(51.5)
    assert seg0["ucl"] == pytest.approx(51.5 + 2.66 * 21 / 11)
    seg1 = out[out["segment"] == 1].iloc[0]
    assert seg1["mean"] == pytest.approx(71.5)
    # without the rebase the step is a shift; with it, both halves are common cause
    assert spc_rules(df, value="v", time="m")["shift"].all()
    assert not out["special_cause"].any()
    # positions work without time labels; a baseline applies within each segment
    pos = spc_rules(x, rebase=12, baseline=12)
    assert pos["segment"].tolist() == [0] * 12 + [1] * 12
    with pytest.raises(ValueError, match="after the last point"):
        spc_rules(df, value="v", time="m", rebase="2030-01-01")


def test_targets_and_assurance_by_hand():
    from cqc_research.metrics.spc import spc_assurance, spc_summary
    x = [94.0, 96] * 6  # mean 95, moving ranges all 2 -> limits 95 -/+ 5.32 = 89.68, 100.32
    s = spc_rules(x, target=89.0, improvement="up")
    assert s["lcl"].iloc[0] == pytest.approx(89.68) and s["target"].eq(89.0).all()
    assert spc_assurance(s) == "consistently pass"           # target below the lower limit
    assert spc_assurance(s, target=101.0) == "consistently fail"
    assert spc_assurance(s, target=95.0) == "inconsistent"
    assert spc_assurance(s, target=89.68) == "inconsistent"  # on a limit is not outside
    down = spc_rules(x, target=89.0, improvement="down")
    assert spc_assurance(down) == "consistently fail"
    assert spc_assurance(spc_rules(x, target=89.0, improvement=None)) is None
    assert spc_assurance(spc_rules(x)) is None                # no target
    summ = spc_summary(s)
    assert summ[["n", "common_cause", "special_cause"]].iloc[0].tolist() == [12, 12, 0]
    assert summ["assurance"].iloc[0] == "consistently pass"


def test_short_series_warning_below_twelve_points():
    from cqc_research.metrics.spc import ShortSeriesWarning
    with pytest.warns(ShortSeriesWarning, match="segment 0: 11 points"):
        out = spc_rules(list(range(11)))
    assert out["short_series"].all()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not spc_rules(ALTERNATING)["short_series"].any()  # 12 points: no warning
    with pytest.warns(ShortSeriesWarning, match="segment 1: 5 points"):
        spc_rules(ALTERNATING + [10, 12, 9, 11, 10], rebase=12)


def test_icons_on_the_chart(tmp_path):
    from cqc_research.metrics.spc import spc_icons
    from cqc_research.plots.spc import spc_chart
    x = [94.0, 96] * 6 + [97, 97.5, 98, 98.5, 99, 99.5, 100]  # ends in a rising trend
    s = spc_rules(x, target=90.0, improvement="up")
    ic = spc_icons(s)
    assert (ic.variation, ic.assurance) == ("improvement_high", "pass")
    assert spc_icons(spc_rules(x, target=90.0, improvement="down")).variation == "concern_high"
    assert spc_icons(spc_rules(ALTERNATING)).variation == "common_cause"
    fig = spc_chart(s, title="4-hour standard")
    gids = {a.get_gid() for a in fig.axes[0].child_axes}
    assert gids == {"spc-icon-improvement_high", "spc-icon-pass"}
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(lab.startswith("target 90") for lab in labels)
    assert any("consistently passing" in lab for lab in labels)
    fig.savefig(tmp_path / "icons.png")
    plt.close(fig)
    # rebased chart: one mean line per segment
    fig = spc_chart(pd.DataFrame({"v": x}), value="v", rebase=12)
    assert sum(1 for line in fig.axes[0].lines if len(line.get_xdata()) in (12, 7)) >= 6
    plt.close(fig)
