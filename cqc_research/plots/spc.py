"""Making Data Count SPC (XmR) chart, in the NHS colours, with rebased segments, a target, the variation and assurance icons, and an inspection date marked.

Common-cause points are grey, special-cause improvement blue, special-cause concern orange and
special cause in a measure with no preferred direction purple, as in NHS England's Making Data
Count charts. The icons in the top right corner follow the Making Data Count set: a circle
coloured by the latest point's variation with "H" or "L" for a high or low special cause, and,
with a target, a circle for the assurance verdict ("P" consistently passing, "F" consistently
failing, "?" inconsistent). They are drawn with matplotlib (no image files) and labelled, so the
figure stays readable in grey print.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Circle

from ..metrics.spc import spc_icons, spc_rules

__all__ = ["spc_chart"]

#: Point colours by class of variation.
SPC_COLOURS = {
    "common cause": "#7b7d7d",
    "improvement": "#289de0",
    "concern": "#fab428",
    "special cause (high)": "#361475",
    "special cause (low)": "#361475",
}
#: Icon name -> (fill colour, letter, description), for :func:`cqc_research.metrics.spc.spc_icons`.
ICON_STYLES = {
    "common_cause": (SPC_COLOURS["common cause"], "~", "common cause variation"),
    "improvement_high": (SPC_COLOURS["improvement"], "H", "special cause improvement (high)"),
    "improvement_low": (SPC_COLOURS["improvement"], "L", "special cause improvement (low)"),
    "concern_high": (SPC_COLOURS["concern"], "H", "special cause concern (high)"),
    "concern_low": (SPC_COLOURS["concern"], "L", "special cause concern (low)"),
    "neutral_high": (SPC_COLOURS["special cause (high)"], "H", "special cause, neither good nor bad (high)"),
    "neutral_low": (SPC_COLOURS["special cause (low)"], "L", "special cause, neither good nor bad (low)"),
    "pass": (SPC_COLOURS["improvement"], "P", "consistently passing the target"),
    "fail": (SPC_COLOURS["concern"], "F", "consistently failing the target"),
    "inconsistent": (SPC_COLOURS["common cause"], "?", "passing and failing the target at random"),
}
_LINE = "#231f20"
_TARGET = "#c8102e"


def _draw_icons(ax, names):
    """Icons as circles with a letter in the top right corner of ``ax``, left to right."""
    size = 0.075  # of the axes height
    for i, name in enumerate(reversed(names)):
        colour, letter, _ = ICON_STYLES[name]
        cx = 1.0 - (i + 0.5) * size * 1.35
        sub = ax.inset_axes([cx - size / 2 - 0.02, 1.0 - size - 0.02, size + 0.01, size], zorder=5)
        sub.set_axis_off()
        sub.set_xlim(-1, 1)
        sub.set_ylim(-1, 1)
        sub.set_aspect("equal")
        sub.add_patch(Circle((0, 0), 0.95, facecolor="white", edgecolor=colour, linewidth=2.2))
        sub.text(0, 0, letter, ha="center", va="center", color=colour, fontsize=10, fontweight="bold")
        sub.set_gid(f"spc-icon-{name}")


def spc_chart(data: pd.DataFrame, *, value: str | None = None, time: str | None = None,
              improvement: str | None = "up", event_date=None, event_label: str = "inspection",
              extra_events=None, title: str | None = None, ylabel: str | None = None,
              percent: bool = False, icons: bool = True, ax=None, **rule_kwargs):
    """An XmR chart: the series, its mean and process limits per segment, coloured by variation.

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
    event_label : str, default "inspection"
        The legend label of the ``event_date`` line.
    extra_events : iterable of (date, label), optional
        Further vertical lines (e.g. the publication of the report).
    title, ylabel : str, optional
        Title and y-axis label.
    percent : bool
        Label the y axis in percent (for values already in percentage points).
    icons : bool
        Draw the Making Data Count variation icon (and the assurance icon when there is a
        target) in the top right corner; their meaning is added to the legend.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.
    **rule_kwargs
        Passed to ``spc_rules`` (``rebase``, ``target``, ``baseline``, ``run_length``...).

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
    segments = spc["segment"] if "segment" in spc else pd.Series(0, index=spc.index)
    for k, s in enumerate(pd.unique(segments)):
        g = spc[segments == s]
        xs = g["time"]
        one = len(pd.unique(segments)) == 1
        mean_lab = f"mean {g['mean'].iloc[0]:.1f}" if one else ("mean (per segment)" if k == 0 else None)
        lim_lab = (f"process limits {g['lcl'].iloc[0]:.1f} to {g['ucl'].iloc[0]:.1f}" if one
                   else ("process limits (per segment)" if k == 0 else None))
        ax.plot(xs, g["mean"], color=_LINE, lw=1.1, label=mean_lab)
        ax.plot(xs, g["ucl"], color=_LINE, lw=0.9, ls="--", label=lim_lab)
        ax.plot(xs, g["lcl"], color=_LINE, lw=0.9, ls="--")
    if "target" in spc and spc["target"].notna().any():
        tgt = spc["target"]
        ax.plot(x, tgt, color=_TARGET, lw=1.2, ls="-.", label=f"target {tgt.dropna().iloc[-1]:g}")
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
    if icons and {"side", "improvement"} <= set(spc.columns):
        ic = spc_icons(spc)
        names = [ic.variation] + ([ic.assurance] if ic.assurance else [])
        _draw_icons(ax, names)
        for name in names:
            ax.scatter([], [], s=60, facecolor="white", edgecolor=ICON_STYLES[name][0], linewidth=2,
                       label=f"icon {ICON_STYLES[name][1]}: {ICON_STYLES[name][2]}")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.12 * (hi - lo))  # room for the icons above the data
    if is_date:
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        fig.autofmt_xdate()
    if percent:
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(100, decimals=0))
    ax.set_ylabel(ylabel or "value")
    short = bool(spc["short_series"].any()) if "short_series" in spc else False
    ax.set_title((title or "SPC chart (XmR)") + (" (fewer than 12 points: limits unreliable)" if short else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    fig.tight_layout()
    return fig

