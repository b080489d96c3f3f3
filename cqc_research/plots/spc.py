"""Making Data Count SPC (XmR) chart, in the NHS colours, with an inspection date marked.

Common-cause points are grey, special-cause improvement blue, special-cause concern orange and
special cause in a measure with no preferred direction purple, as in NHS England's Making Data
Count charts.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from ..metrics.spc import spc_rules

__all__ = ["SPC_COLOURS", "spc_chart"]

#: Point colours by class of variation.
SPC_COLOURS = {
    "common cause": "#7b7d7d",
    "improvement": "#289de0",
    "concern": "#fab428",
    "special cause (high)": "#361475",
    "special cause (low)": "#361475",
}
_LINE = "#231f20"


def spc_chart(data: pd.DataFrame, *, value: str | None = None, time: str | None = None,
              improvement: str | None = "up", event_date=None, event_label: str = "inspection",
              extra_events=None, title: str | None = None, ylabel: str | None = None,
              percent: bool = False, ax=None, **rule_kwargs):
    """An XmR chart: the series, its mean and process limits, coloured by variation.

    Parameters
    ----------
    data : DataFrame
        Either the output of :func:`cqc_research.metrics.spc.spc_rules` (used as it is), or a
        series in long form with ``value`` and ``time`` columns, to which the rules are applied.
    value, time : str, optional
        Column names when ``data`` is not already the output of ``spc_rules``.
    improvement : {"up", "down", None}
        Passed to ``spc_rules`` when it is applied here.
    event_date : date-like, optional
        Drawn as a vertical dashed line labelled ``event_label`` (e.g. the inspection visit).
    extra_events : iterable of (date, label), optional
        Further vertical lines (e.g. the publication of the report).
    title, ylabel : str, optional
        Title and y-axis label.
    percent : bool
        Label the y axis in percent (for values already in percentage points).
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    **rule_kwargs
        Passed to ``spc_rules`` (``run_length``, ``baseline``...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if {"variation", "mean", "ucl", "lcl", "value", "time"} <= set(data.columns):
        spc = data
    else:
        spc = spc_rules(data, value=value, time=time, improvement=improvement, **rule_kwargs)
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 4.2))
    else:
        fig = ax.figure
    x = spc["time"]
    is_date = pd.api.types.is_datetime64_any_dtype(x)
    ax.plot(x, spc["value"], color=SPC_COLOURS["common cause"], lw=1.3, zorder=2)
    for cls in SPC_COLOURS:
        m = spc["variation"] == cls
        if m.any():
            ax.scatter(x[m], spc.loc[m, "value"], s=32, color=SPC_COLOURS[cls], zorder=3,
                       edgecolor="white", linewidth=0.6, label=f"{cls} ({int(m.sum())})")
    ax.plot(x, spc["mean"], color=_LINE, lw=1.1, label=f"mean {spc['mean'].iloc[0]:.1f}")
    ax.plot(x, spc["ucl"], color=_LINE, lw=0.9, ls="--",
            label=f"process limits {spc['lcl'].iloc[0]:.1f} to {spc['ucl'].iloc[0]:.1f}")
    ax.plot(x, spc["lcl"], color=_LINE, lw=0.9, ls="--")
    events = []
    if event_date is not None:
        events.append((event_date, event_label))
    events += list(extra_events or [])
    styles = ["--", ":", "-."]
    for i, (when, label) in enumerate(events):
        when = pd.Timestamp(when) if is_date else when
        ax.axvline(when, color="#c8102e", lw=1.4, ls=styles[i % len(styles)], zorder=1,
                   label=f"{label} {when:%d %b %Y}" if is_date else label)
        # written up the line, so labels of nearby events never overlap
        ax.annotate(label, xy=(when, 0.98), xycoords=("data", "axes fraction"), xytext=(3, 0),
                    textcoords="offset points", color="#c8102e", fontsize=9, rotation=90,
                    ha="left", va="top", zorder=1)
    if is_date:
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        fig.autofmt_xdate()
    if percent:
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(100, decimals=0))
    ax.set_ylabel(ylabel or "value")
    ax.set_title(title or "SPC chart (XmR)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    fig.tight_layout()
    return fig
