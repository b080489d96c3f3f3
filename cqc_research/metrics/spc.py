"""Statistical process control in the NHS "Making Data Count" style: XmR charts and their rules.

An XmR chart separates the ordinary month-to-month wobble of a measure (*common cause*
variation) from signals worth investigating (*special cause* variation).

Limits
    centre line = the mean of the values; the moving range is ``|x_t - x_{t-1}|``; the process
    limits are ``mean ± 2.66 × mean moving range`` (2.66 = 3 / 1.128, three sigma for a moving
    range of two points). The 2-sigma lines are two thirds of the way from the mean to a limit.

The four special-cause rules
    1. ``outside``: a point above the upper or below the lower process limit.
    2. ``shift``: a run of ``run_length`` (7) or more consecutive points on the same side of the
       mean; a point exactly on the mean breaks the run. Every point of the run is flagged.
    3. ``trend``: ``trend_length`` (7) or more consecutive points each strictly higher (or each
       strictly lower) than the one before; every point of the trend is flagged.
    4. ``two_of_three``: two of three consecutive points beyond the 2-sigma line on the same side
       of the mean (beyond the process limit counts too); the points beyond the line are flagged.

Each special-cause point is then classed as ``improvement`` or ``concern`` from the direction in
which higher values are better (``improvement="up"`` or ``"down"``): a point above the mean, or in
a rising trend, is an improvement when up is better. A point flagged only by the trend rule takes
the trend's direction; otherwise the side of the mean decides. With ``improvement=None`` special
causes are ``"special cause (high)"`` or ``"(low)"``.

These definitions follow the NHS England Making Data Count guidance and the NHS-R
``NHSRplotthedots`` package, with one documented difference: in rule 4 ``NHSRplotthedots`` leaves
out points already outside the limits and asks all three points to sit on one side, whereas here
(as in the Western Electric rule) two points beyond 2 sigma on one side suffice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["xmr_limits", "spc_rules", "SPC_CONSTANT", "MR_SCREEN_CONSTANT"]

#: 3 / d2 with d2 = 1.128 for moving ranges of two points.
SPC_CONSTANT = 2.66
#: Moving ranges above this multiple of the mean moving range are screened out when asked.
MR_SCREEN_CONSTANT = 3.267


def _series(data, value, time) -> tuple[np.ndarray, pd.Series | None]:
    """The values (ordered by ``time`` when given) and their time labels."""
    if isinstance(data, pd.DataFrame):
        if value is None:
            raise ValueError("pass value= (the column holding the measure) with a DataFrame")
        missing = [c for c in (value, time) if c is not None and c not in data.columns]
        if missing:
            raise KeyError(f"columns {missing} not in data; has {list(data.columns)}")
        d = data.sort_values(time) if time is not None else data
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


def xmr_limits(data=None, *, value: str | None = None, time: str | None = None,
               baseline: int | None = None, screen_outliers: bool = False) -> pd.DataFrame:
    """Centre line and process limits of an XmR chart.

    Parameters
    ----------
    data : DataFrame, Series or array-like
        The measure in time order (or a frame with ``value`` and ``time`` columns).
    value, time : str, optional
        Column names when ``data`` is a DataFrame; rows are sorted by ``time``.
    baseline : int, optional
        Compute the limits from the first ``baseline`` points only ("fix after n points").
    screen_outliers : bool
        Leave out moving ranges above 3.267 × the mean moving range and recompute it
        (``NHSRplotthedots``' default). Off by default: plain ``mean ± 2.66 × mMR``.

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
    if baseline is not None:
        if baseline < 2:
            raise ValueError("baseline must be at least 2 points")
        y = y[:baseline]
    if len(y) < 2:
        raise ValueError(f"an XmR chart needs at least 2 points, got {len(y)}")
    mean = float(y.mean())
    mr = np.abs(np.diff(y))
    mr_mean = float(mr.mean())
    if screen_outliers:
        kept = mr[mr < MR_SCREEN_CONSTANT * mr_mean]
        mr_mean = float(kept.mean()) if len(kept) else mr_mean
    half = SPC_CONSTANT * mr_mean
    return pd.DataFrame([{
        "n": len(y),
        "mean": mean,
        "mr_mean": mr_mean,
        "sigma": mr_mean / 1.128,
        "lcl": mean - half,
        "ucl": mean + half,
        "lower_2sigma": mean - 2 * half / 3,
        "upper_2sigma": mean + 2 * half / 3,
    }])


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
    run = _runs(steps, length - 1)  # length points = length - 1 steps
    idx = np.flatnonzero(run)
    out[idx] = True
    out[idx + 1] = True
    return out


def _two_of_three(beyond: np.ndarray) -> np.ndarray:
    """Flag points beyond the 2-sigma line that share a window of 3 with another such point."""
    n = len(beyond)
    out = np.zeros(n, dtype=bool)
    for start in range(max(0, n - 2)):
        win = beyond[start:start + 3]
        if win.sum() >= 2:
            out[start:start + 3] |= win
    return out


def spc_rules(data=None, *, value: str | None = None, time: str | None = None,
              improvement: str | None = "up", run_length: int = 7, trend_length: int = 7,
              baseline: int | None = None, screen_outliers: bool = False) -> pd.DataFrame:
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
        Data Count).
    baseline, screen_outliers
        Passed to :func:`xmr_limits`.

    Returns
    -------
    pandas.DataFrame
        One row per point, in time order: ``time`` (when known, else the position), ``value``,
        ``mean``, ``lcl``, ``ucl``, ``lower_2sigma``, ``upper_2sigma``, the rule flags
        ``outside``, ``shift``, ``trend``, ``two_of_three``, ``special_cause`` (any rule),
        ``side`` (``"high"``, ``"low"`` or ``""``) and ``variation`` (``"common cause"``,
        ``"improvement"``, ``"concern"``, or ``"special cause (high|low)"`` when
        ``improvement`` is None).

    Examples
    --------
    >>> out = spc_rules([5, 5, 6, 5, 5, 6, 5, 5, 20], improvement="down")
    >>> out["variation"].tolist()[-2:]
    ['improvement', 'concern']
    """
    if improvement not in {"up", "down", None}:
        raise ValueError(f"improvement must be 'up', 'down' or None, not {improvement!r}")
    if run_length < 2 or trend_length < 3:
        raise ValueError("run_length must be at least 2 and trend_length at least 3")
    y, t = _series(data, value, time)
    lim = xmr_limits(y, baseline=baseline, screen_outliers=screen_outliers).iloc[0]
    mean, lcl, ucl = lim["mean"], lim["lcl"], lim["ucl"]
    lo2, hi2 = lim["lower_2sigma"], lim["upper_2sigma"]

    above, below = y > mean, y < mean
    outside_hi, outside_lo = y > ucl, y < lcl
    shift_hi, shift_lo = _runs(above, run_length), _runs(below, run_length)
    trend_up, trend_down = _trend(y, trend_length, 1), _trend(y, trend_length, -1)
    two_hi, two_lo = _two_of_three(y > hi2), _two_of_three(y < lo2)

    level_hi = outside_hi | shift_hi | two_hi
    level_lo = outside_lo | shift_lo | two_lo
    special = level_hi | level_lo | trend_up | trend_down
    side = np.where(level_hi, "high", np.where(level_lo, "low",
                    np.where(trend_up, "high", np.where(trend_down, "low", ""))))
    if improvement is None:
        variation = np.where(special, np.char.add("special cause (", np.char.add(side.astype(str), ")")),
                             "common cause")
    else:
        good = "high" if improvement == "up" else "low"
        variation = np.where(~special, "common cause", np.where(side == good, "improvement", "concern"))
    out = pd.DataFrame({
        "time": t if t is not None else np.arange(len(y)),
        "value": y,
        "mean": mean,
        "lcl": lcl,
        "ucl": ucl,
        "lower_2sigma": lo2,
        "upper_2sigma": hi2,
        "outside": outside_hi | outside_lo,
        "shift": shift_hi | shift_lo,
        "trend": trend_up | trend_down,
        "two_of_three": two_hi | two_lo,
        "special_cause": special,
        "side": side,
        "variation": variation,
    })
    out.attrs["improvement"] = improvement
    out.attrs["limits"] = lim.to_dict()
    return out
