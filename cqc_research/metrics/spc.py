"""Statistical process control in the NHS "Making Data Count" style: XmR charts, their rules, rebasing, targets and assurance.

An XmR chart separates the ordinary month-to-month wobble of a measure (*common cause*
variation) from signals worth investigating (*special cause* variation). The defaults follow
NHS England's Making Data Count guidance as implemented by the NHS-R package ``NHSRplotthedots``
(``ptd_spc``); where this module can also do something else, the alternative is an option and
the difference is listed below and tested in ``tests/test_spc_peers.py``.

Limits (per segment)
    centre line = the mean of the values; the moving range is ``|x_t - x_{t-1}|``; the process
    limits are ``mean ± 2.66 × mean moving range`` (2.66 = 3 / 1.128, three sigma for a moving
    range of two points). The "near the limits" lines are two thirds of the way from the mean to a
    limit. With ``screen_outliers=True`` (the default, as in ``NHSRplotthedots``) moving ranges of
    3.267 × the mean moving range or more are left out and the mean moving range recomputed.
    ``baseline=n`` fixes the limits on the first ``n`` points of each segment (at least 12, as in
    ``NHSRplotthedots``' ``fix_after_n_points``); ``rebase=[dates]`` starts a new segment, with its
    own mean and limits, at each date (the rules never look across a segment boundary).

The four special-cause rules (each flagged in its own column)
    ``outside``: a point above the upper or below the lower process limit.
    ``trend``: ``trend_length`` (7) or more consecutive points each strictly higher (or each
    strictly lower) than the one before; a tie breaks the trend; every point is flagged.
    ``two_of_three``: with ``two_of_three="plotthedots"`` (default), a point between the
    near-limit line and the process limit, in a window of three consecutive points that all sit
    on the same side of the mean and of which at least two are near the limit. Points outside the
    limits are not "near" and do not count. With ``two_of_three="western_electric"`` (the old
    behaviour here) two of three points beyond the 2-sigma line on one side suffice, points
    beyond the process limits count, and the third point may sit anywhere.
    ``shift``: ``run_length`` (7) or more consecutive points on the same side of the mean; a point
    exactly on the mean breaks the run.

Which rule decides a point's meaning (``precedence``)
    ``"plotthedots"`` (default): the first rule that fires in the order outside, trend, two of
    three, shift; an outside, two-of-three or shift point takes its side of the mean, a trend
    point the direction of the trend (the step to its right when the next point is in the trend
    too, else the step from the left). So a rising trend that starts below the mean is an
    improvement when up is better, even though its first points are below the mean.
    ``"mean_side"`` (the old behaviour here): the side of the mean wins whenever outside, shift or
    two-of-three fire; the trend direction is used only for points flagged by the trend alone.

Each special-cause point is then ``"improvement"`` or ``"concern"`` given the direction in which
higher values are better (``improvement="up"`` or ``"down"``), or ``"special cause (high)"`` /
``"(low)"`` with ``improvement=None`` (``NHSRplotthedots``' "neutral").

Targets and assurance (:func:`spc_assurance`)
    With a ``target``, the latest segment's limits decide whether the process will
    ``"consistently pass"`` (both limits on the good side of the target), ``"consistently fail"``
    (both on the bad side), or pass and fail at random (``"inconsistent"``), as in Making Data
    Count and ``ptd_calculate_assurance_type``.

Icons (:func:`spc_icons`)
    The Making Data Count variation icon describes the latest point, the assurance icon the
    target; :func:`cqc_research.plots.spc.spc_chart` draws both.

Short series
    Segments shorter than ``min_points`` (12, as in ``NHSRplotthedots``) are marked in the
    ``short_series`` column and raise a :class:`ShortSeriesWarning`: limits from fewer points
    are unreliable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InsufficientData
from ._contract import keeps_provenance

__all__ = ["spc_rules", "spc_summary", "spc_assurance"]

#: 3 / d2 with d2 = 1.128 for moving ranges of two points.
SPC_CONSTANT = 2.66
#: Moving ranges at or above this multiple of the mean moving range are screened out.
MR_SCREEN_CONSTANT = 3.267
#: Fewest points for a baseline, and below which a segment is flagged as short (NHSRplotthedots).
MIN_POINTS = 12

_PRECEDENCE = ("plotthedots", "mean_side")
_TWO_OF_THREE = ("plotthedots", "western_electric")


class ShortSeriesWarning(UserWarning):
    """A segment of an XmR chart has fewer points than the recommended minimum."""


def _series(data, value, time) -> tuple[np.ndarray, pd.Series | None]:
    """The values (ordered by ``time`` when given) and their time labels."""
    if isinstance(data, pd.DataFrame):
        if value is None:
            raise ValueError("pass value= (the column holding the measure) with a DataFrame")
        missing = [c for c in (value, time) if c is not None and c not in data.columns]
        if missing:
            raise KeyError(f"columns {missing} not in data; has {list(data.columns)}")
        d = data.sort_values(time, kind="stable") if time is not None else data
        if time is not None and d[time].duplicated().any():
            dup = d.loc[d[time].duplicated(), time].iloc[0]
            raise ValueError(f"time {dup!r} appears more than once in column {time!r}; an XmR chart "
                             "needs one value per period")
        y = pd.to_numeric(d[value], errors="coerce").to_numpy(dtype=float)
        t = d[time].reset_index(drop=True) if time is not None else None
    else:
        s = pd.Series(data)
        y = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        t = pd.Series(s.index) if not isinstance(s.index, pd.RangeIndex) else None
    if np.isnan(y).any():
        where = int(np.flatnonzero(np.isnan(y))[0])
        raise ValueError(f"value {where} of the series is missing or not a number; an XmR chart "
                         "needs a complete series (drop or impute the gap explicitly)")
    return y, t


def _limits(y: np.ndarray, screen_outliers: bool) -> dict:
    """Mean, mean moving range and limits of the points ``y`` (NaN limits for fewer than 2)."""
    mean = float(y.mean()) if len(y) else np.nan
    mr = np.abs(np.diff(y))
    mr_mean = float(mr.mean()) if len(mr) else np.nan
    if screen_outliers and len(mr):
        kept = mr[mr < MR_SCREEN_CONSTANT * mr_mean]
        mr_mean = float(kept.mean()) if len(kept) else mr_mean
    half = SPC_CONSTANT * mr_mean
    return {"n": len(y), "mean": mean, "mr_mean": mr_mean, "sigma": mr_mean / 1.128,
            "lcl": mean - half, "ucl": mean + half,
            "lower_2sigma": mean - 2 * half / 3, "upper_2sigma": mean + 2 * half / 3}


def _check_baseline(baseline, min_baseline):
    if baseline is None:
        return
    if int(baseline) != baseline or baseline < max(2, min_baseline):
        raise ValueError(f"baseline must be a whole number of at least {max(2, min_baseline)} points "
                         f"(got {baseline}); NHSRplotthedots' fix_after_n_points also needs 12 or more. "
                         "Pass min_baseline= to allow fewer")


def xmr_limits(data=None, *, value: str | None = None, time: str | None = None,
               baseline: int | None = None, screen_outliers: bool = True,
               min_baseline: int = MIN_POINTS) -> pd.DataFrame:
    """Centre line and process limits of an XmR chart (one segment).

    Parameters
    ----------
    data : DataFrame, Series or array-like
        The measure in time order (or a frame with ``value`` and ``time`` columns).
    value, time : str, optional
        Column names when ``data`` is a DataFrame; rows are sorted by ``time``.
    baseline : int, optional
        Compute the limits from the first ``baseline`` points only ("fix after n points").
    screen_outliers : bool
        Leave out moving ranges of 3.267 × the mean moving range or more and recompute it
        (``NHSRplotthedots``' default, and the default here). False: plain ``mean ± 2.66 × mMR``.
    min_baseline : int
        Fewest points allowed for ``baseline`` (12, as in ``NHSRplotthedots``).

    Returns
    -------
    pandas.DataFrame
        One row: ``n`` (points used), ``mean``, ``mr_mean`` (mean moving range), ``sigma``
        (``mr_mean / 1.128``), ``lcl``, ``ucl`` (``mean ∓ 2.66 × mr_mean``), ``lower_2sigma``,
        ``upper_2sigma`` (two thirds of the way to the limits).

    Examples
    --------
    >>> xmr_limits([10, 12, 11, 13, 12])[["mean", "mr_mean", "ucl"]].round(3).to_dict("records")
    [{'mean': 11.6, 'mr_mean': 1.5, 'ucl': 15.59}]
    """
    y, _ = _series(data, value, time)
    _check_baseline(baseline, min_baseline)
    if baseline is not None:
        y = y[:int(baseline)]
    if len(y) < 2:
        raise InsufficientData(f"an XmR chart needs at least 2 points, got {len(y)}")
    return pd.DataFrame([_limits(y, screen_outliers)])


def _runs(mask: np.ndarray, length: int) -> np.ndarray:
    """Flag every element of a maximal run of True of at least ``length`` elements."""
    out = np.zeros(len(mask), dtype=bool)
    i = 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j < len(mask) and mask[j]:
                j += 1
            if j - i >= length:
                out[i:j] = True
            i = j
        else:
            i += 1
    return out


def _trend(y: np.ndarray, length: int, sign: int) -> np.ndarray:
    """Flag points in a run of ``length`` or more points, each strictly above (sign=1) or below
    (sign=-1) the previous one."""
    steps = np.sign(np.diff(y)) == sign  # steps[i]: y[i+1] vs y[i]
    out = np.zeros(len(y), dtype=bool)
    idx = np.flatnonzero(_runs(steps, length - 1))  # length points = length - 1 steps
    out[idx] = True
    out[idx + 1] = True
    return out


def _two_of_three_we(beyond: np.ndarray) -> np.ndarray:
    """Western Electric: points beyond the 2-sigma line sharing a window of 3 with another."""
    n = len(beyond)
    out = np.zeros(n, dtype=bool)
    for start in range(max(0, n - 2)):
        win = beyond[start:start + 3]
        if win.sum() >= 2:
            out[start:start + 3] |= win
    return out


def _two_of_three_ptd(close: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """NHSRplotthedots: a near-limit point in a window of 3 (all on one side of the mean, inside
    the series) holding at least two near-limit points."""
    n = len(close)
    hit = np.zeros(n, dtype=bool)
    for start in range(max(0, n - 2)):
        win = slice(start, start + 3)
        if close[win].sum() >= 2 and abs(rel[win].sum()) == 3:
            hit[win] = True
    return hit & close


def _trend_direction(y: np.ndarray, in_trend: np.ndarray) -> np.ndarray:
    """+1 / -1 for each trend point: the step to the right when the next point is in the trend
    too, otherwise the step from the left (as NHSRplotthedots)."""
    d = np.sign(np.diff(y))
    right = np.append(d, d[-1:] if len(d) else [0.0])
    left = np.insert(d, 0, 0.0)
    nxt = np.append(in_trend[1:], False)
    return np.where(nxt & in_trend, right, left)


def _segments(n: int, t: pd.Series | None, rebase) -> np.ndarray:
    """Segment number of each point: a new segment starts at the first point at or after each
    rebase time (or at each rebase position when the series has no time labels)."""
    seg = np.zeros(n, dtype=int)
    if rebase is None:
        return seg
    if np.isscalar(rebase) or isinstance(rebase, (pd.Timestamp, str)):
        rebase = [rebase]
    starts = np.zeros(n, dtype=bool)
    for r in rebase:
        if t is None:
            if not isinstance(r, (int, np.integer)):
                raise ValueError(f"rebase {r!r}: without time labels give rebase points as positions (int)")
            pos = int(r)
        else:
            tt = pd.Series(t)
            if pd.api.types.is_datetime64_any_dtype(tt):
                r = pd.Timestamp(r)
            after = np.flatnonzero((tt >= r).to_numpy())
            if not len(after):
                raise ValueError(f"rebase {r!r} is after the last point of the series ({tt.iloc[-1]!r})")
            pos = int(after[0])
        if 0 < pos < n:
            starts[pos] = True
        elif pos >= n:
            raise ValueError(f"rebase position {pos} is beyond the series of {n} points")
    return np.cumsum(starts)


@keeps_provenance
def spc_rules(data=None, *, value: str | None = None, time: str | None = None,
              improvement: str | None = "up", run_length: int = 7, trend_length: int = 7,
              baseline: int | None = None, screen_outliers: bool = True, rebase=None,
              target: float | None = None, precedence: str = "plotthedots",
              two_of_three: str = "plotthedots", min_points: int = MIN_POINTS,
              min_baseline: int = MIN_POINTS) -> pd.DataFrame:
    """Apply the four Making Data Count rules to a series and class every point.

    Parameters
    ----------
    data : DataFrame, Series or array-like
        The measure in time order, or a frame with ``value`` and ``time`` columns.
    value, time : str, optional
        Column names when ``data`` is a DataFrame.
    improvement : {"up", "down", None}
        Whether higher (``"up"``) or lower (``"down"``) values are better; None when neither.
    run_length, trend_length : int
        Points needed for a shift (run on one side of the mean) and for a trend (7 in Making
        Data Count and NHSRplotthedots).
    baseline : int, optional
        Fix each segment's limits on its first ``baseline`` points (at least ``min_baseline``).
    screen_outliers : bool
        Screen large moving ranges out of the limits (default True, as NHSRplotthedots).
    rebase : time or list of times, optional
        Start a new segment, with its own limits, at the first point at or after each time (a
        position when the series has no time labels), e.g. the date of an inspection.
    target : float, optional
        A target for the measure; kept in the ``target`` column for :func:`spc_assurance`.
    precedence : {"plotthedots", "mean_side"}
        Which rule decides the meaning of a point flagged by several (see the module notes).
    two_of_three : {"plotthedots", "western_electric"}
        The two-of-three rule (see the module notes).
    min_points : int
        Segments with fewer points are marked ``short_series`` and raise a
        :class:`ShortSeriesWarning`.
    min_baseline : int
        Fewest points allowed for ``baseline``.

    Returns
    -------
    pandas.DataFrame
        One row per point, in time order: ``time`` (when known, else the position), ``value``,
        ``segment`` (0, 1, ... after each rebase), ``mean``, ``lcl``, ``ucl``, ``lower_2sigma``,
        ``upper_2sigma`` (of the point's segment), the rule flags ``outside``, ``trend``,
        ``two_of_three``, ``shift``, ``special_cause`` (any rule), ``rule`` (the rule that decided
        the point's meaning, ``""`` for common cause), ``side`` (``"high"``, ``"low"`` or ``""``),
        ``variation`` (``"common cause"``, ``"improvement"``, ``"concern"``, or ``"special cause
        (high|low)"`` when ``improvement`` is None), ``improvement`` (the direction given, ``""``
        for None), ``target`` (NaN without one) and ``short_series``.

    Examples
    --------
    >>> out = spc_rules([5, 5, 6, 5, 5, 6, 5, 5, 6, 5, 5, 20], improvement="down")
    >>> out["variation"].tolist()[-2:]  # the 20 lifts the mean to 6.5: eleven points below it are a shift
    ['improvement', 'concern']
    """
    if improvement not in {"up", "down", None}:
        raise ValueError(f"improvement must be 'up', 'down' or None, not {improvement!r}")
    if run_length < 2 or trend_length < 3:
        raise ValueError("run_length must be at least 2 and trend_length at least 3")
    if precedence not in _PRECEDENCE:
        raise ValueError(f"precedence must be one of {_PRECEDENCE}, not {precedence!r}")
    if two_of_three not in _TWO_OF_THREE:
        raise ValueError(f"two_of_three must be one of {_TWO_OF_THREE}, not {two_of_three!r}")
    _check_baseline(baseline, min_baseline)
    y, t = _series(data, value, time)
    n = len(y)
    if n < 2:
        raise InsufficientData(f"an XmR chart needs at least 2 points, got {n}")
    seg = _segments(n, t, rebase)

    cols = {k: np.full(n, np.nan) for k in ("mean", "lcl", "ucl", "lower_2sigma", "upper_2sigma")}
    flags = {k: np.zeros(n, dtype=bool) for k in ("outside", "trend", "two_of_three", "shift")}
    rule = np.full(n, "", dtype=object)
    side = np.full(n, "", dtype=object)
    short = np.zeros(n, dtype=bool)
    for s in np.unique(seg):
        idx = np.flatnonzero(seg == s)
        ys = y[idx]
        base = ys[:int(baseline)] if baseline is not None else ys
        lim = _limits(base, screen_outliers)
        for k in cols:
            cols[k][idx] = lim[k]
        short[idx] = len(ys) < min_points
        if len(base) < 2:
            continue
        mean, lcl, ucl, lo2, hi2 = (lim[k] for k in ("mean", "lcl", "ucl", "lower_2sigma", "upper_2sigma"))
        rel = np.sign(ys - mean)
        out_hi, out_lo = ys > ucl, ys < lcl
        outside = out_hi | out_lo
        shift_hi, shift_lo = _runs(rel > 0, run_length), _runs(rel < 0, run_length)
        t_up, t_down = _trend(ys, trend_length, 1), _trend(ys, trend_length, -1)
        trend = t_up | t_down
        if two_of_three == "plotthedots":
            close = ~outside & ((ys < lo2) | (ys > hi2))
            two = _two_of_three_ptd(close, rel)
            two_hi, two_lo = two & (rel > 0), two & (rel < 0)
        else:
            two_hi, two_lo = _two_of_three_we(ys > hi2), _two_of_three_we(ys < lo2)
            two = two_hi | two_lo
        shift = shift_hi | shift_lo
        for k, v in (("outside", outside), ("trend", trend), ("two_of_three", two), ("shift", shift)):
            flags[k][idx] = v
        r = np.full(len(ys), "", dtype=object)
        sd = np.full(len(ys), "", dtype=object)
        mean_side = np.where(rel > 0, "high", np.where(rel < 0, "low", ""))
        if precedence == "plotthedots":
            tdir = _trend_direction(ys, trend)
            tside = np.where(tdir > 0, "high", "low")
            for name, mask, how in (("outside", outside, mean_side), ("trend", trend, tside),
                                    ("two_of_three", two, mean_side), ("shift", shift, mean_side)):
                new = mask & (r == "")
                r[new], sd[new] = name, how[new]
        else:
            level_hi = out_hi | shift_hi | two_hi
            level_lo = out_lo | shift_lo | two_lo
            sd = np.where(level_hi, "high", np.where(level_lo, "low",
                          np.where(t_up, "high", np.where(t_down, "low", "")))).astype(object)
            for name, mask in (("outside", outside), ("shift", shift), ("two_of_three", two),
                               ("trend", trend)):
                new = mask & (r == "")
                r[new] = name
        rule[idx], side[idx] = r, sd

    if short.any():
        sizes = pd.Series(seg).value_counts().sort_index()
        few = [f"segment {k}: {v} points" for k, v in sizes.items() if v < min_points]
        warnings.warn(f"XmR limits from fewer than {min_points} points are unreliable ({', '.join(few)}); "
                      "Making Data Count recommends at least 12 (NHSRplotthedots warns below that)",
                      ShortSeriesWarning, stacklevel=2)
    special = rule != ""
    if improvement is None:
        variation = np.where(special, "special cause (" + side.astype(str) + ")", "common cause")
    else:
        good = "high" if improvement == "up" else "low"
        variation = np.where(~special, "common cause", np.where(side == good, "improvement", "concern"))
    return pd.DataFrame({
        "time": t if t is not None else np.arange(n),
        "value": y,
        "segment": seg,
        **cols,
        **flags,
        "special_cause": special,
        "rule": rule.astype(str),
        "side": side.astype(str),
        "variation": variation.astype(str),
        "improvement": improvement or "",
        "target": np.nan if target is None else float(target),
        "short_series": short,
    })


def _direction(spc: pd.DataFrame) -> str | None:
    d = spc["improvement"].iloc[0] if "improvement" in spc else ""
    return d if d in ("up", "down") else None


@keeps_provenance
def spc_assurance(data: pd.DataFrame, *, target: float | None = None) -> str | None:
    """The Making Data Count assurance verdict of a chart against its target.

    Parameters
    ----------
    data : DataFrame
        The output of :func:`spc_rules`.
    target : float, optional
        The target; defaults to the ``target`` column (set by ``spc_rules(target=...)``).

    Returns
    -------
    str or None
        ``"consistently pass"`` when the latest segment's limits both lie on the good side of the
        target (for ``improvement="up"``: target below the lower limit), ``"consistently fail"``
        when both lie on the bad side, ``"inconsistent"`` when the target lies between (or on) the
        limits; None without a target or a direction of improvement (as NHSRplotthedots).

    Examples
    --------
    >>> s = spc_rules([93.0, 95, 94, 96, 95, 94, 93, 95, 96, 94, 95, 94], target=90)
    >>> spc_assurance(s)
    'consistently pass'
    """
    if data.empty:
        raise InsufficientData("spc_assurance: the chart has no points")
    if target is None:
        target = data["target"].iloc[-1] if "target" in data else np.nan
    direction = _direction(data)
    if target is None or pd.isna(target) or direction is None:
        return None
    last = data.iloc[-1]
    if target > last["ucl"]:
        return "consistently fail" if direction == "up" else "consistently pass"
    if target < last["lcl"]:
        return "consistently pass" if direction == "up" else "consistently fail"
    return "inconsistent"


@keeps_provenance
def spc_summary(data: pd.DataFrame) -> pd.DataFrame:
    """One row per segment: its span, limits, counts by variation, and the latest verdicts.

    Parameters
    ----------
    data : DataFrame
        The output of :func:`spc_rules`.

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``start``, ``end`` (times), ``n``, ``mean``, ``lcl``, ``ucl``,
        ``common_cause``, ``improvement``, ``concern``, ``special_cause`` (counts of points),
        ``variation`` (of the segment's last point, as NHSRplotthedots' ``variation_type``),
        ``short_series`` and ``assurance`` (:func:`spc_assurance`, on the last segment only).
    """
    rows = []
    last = data["segment"].max()
    for s, g in data.groupby("segment", sort=True):
        rows.append({
            "segment": s, "start": g["time"].iloc[0], "end": g["time"].iloc[-1], "n": len(g),
            "mean": g["mean"].iloc[0], "lcl": g["lcl"].iloc[0], "ucl": g["ucl"].iloc[0],
            "common_cause": int((~g["special_cause"]).sum()),
            "improvement": int((g["variation"] == "improvement").sum()),
            "concern": int((g["variation"] == "concern").sum()),
            "special_cause": int(g["special_cause"].sum()),
            "variation": g["variation"].iloc[-1],
            "short_series": bool(g["short_series"].iloc[0]),
            "assurance": spc_assurance(data) if s == last else None,
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SpcIcons:
    """The two Making Data Count icons of a chart.

    Attributes
    ----------
    variation : str
        Of the latest point: ``"common_cause"``, ``"improvement_high"``, ``"improvement_low"``,
        ``"concern_high"``, ``"concern_low"``, ``"neutral_high"`` or ``"neutral_low"``.
    assurance : str or None
        ``"pass"``, ``"fail"``, ``"inconsistent"``, or None without a target (or direction).
    ptd_variation_file, ptd_assurance_file : str or None
        The icon files NHSRplotthedots draws for the same chart (``inst/icons/variation/...``),
        which name a special-cause icon by direction only (a concern when up is better is
        ``improvement_low.png``).
    """

    variation: str
    assurance: str | None
    ptd_variation_file: str
    ptd_assurance_file: str | None


def spc_icons(data: pd.DataFrame) -> SpcIcons:
    """The Making Data Count variation and assurance icons of a chart.

    Parameters
    ----------
    data : DataFrame
        The output of :func:`spc_rules`.

    Returns
    -------
    SpcIcons
    """
    last = data.iloc[-1]
    var, sd = last["variation"], last["side"]
    if var == "common cause":
        icon, ptd = "common_cause", "common_cause.png"
    elif var in ("improvement", "concern"):
        icon, ptd = f"{var}_{sd}", f"improvement_{sd}.png"
    else:
        icon = ptd = f"neutral_{sd}"
        ptd += ".png"
    verdict = spc_assurance(data)
    assurance = None if verdict is None else {"consistently pass": "pass", "consistently fail": "fail",
                                              "inconsistent": "inconsistent"}[verdict]
    return SpcIcons(variation=icon, assurance=assurance, ptd_variation_file=ptd,
                    ptd_assurance_file=None if assurance is None else f"{assurance}.png")
