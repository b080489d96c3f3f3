"""Funnel plots: each unit's indicator against its size, with 95% and 99.8% limits.

Takes the table from :func:`cqc_research.metrics.funnel.funnel_limits` (which carries the funnel's
settings in its columns) and draws the target, the limits (overdispersion-adjusted when the
adjustment applied, exact Poisson or binomial when asked for), the units coloured by flag, and
one unit highlighted. Every kind of funnel (proportion, ratio, rate, ratio of counts) and every
method (SHMI, CQC, winsorised or truncated, additive or multiplicative) draws the same way.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..metrics.funnel import funnel_curve, funnel_spec

__all__ = ["funnel_plot"]

#: Unit colours: within limits grey-blue, outside 95% amber, outside 99.8% red (CQC tones).
FLAG_COLOURS = {"within": "#4f6d8a", "95": "#f2a900", "998": "#c8102e"}
_LINE_STYLES = {0: (":", 1.2), 1: ("--", 1.3)}


def funnel_plot(
    table: pd.DataFrame,
    *,
    unit: str | None = None,
    highlight=None,
    label_outliers: bool = True,
    title: str | None = None,
    xlabel: str = "size (denominator)",
    ylabel: str | None = None,
    percent: bool | None = None,
    log_x: bool = False,
    ax=None,
):
    """Draw a funnel plot from :func:`~cqc_research.metrics.funnel.funnel_limits` output.

    Parameters
    ----------
    table : DataFrame
        The result of ``funnel_limits`` (needs ``value``, ``n``, the flag columns and the
        settings columns; rows may be dropped, e.g. units with no data).
    unit : str, optional
        The unit-name column, for labels; defaults to the first column when it is not numeric.
    highlight : str or list of str, optional
        Unit(s) to mark with a black ring and a label (e.g. the area a report is about).
    label_outliers : bool
        Label units outside the widest limit.
    title, xlabel, ylabel : str, optional
        Text for the axes.
    percent : bool, optional
        Show the y axis as a percentage; defaults to True for proportions.
    log_x : bool
        Log scale for sizes spanning orders of magnitude.
    ax : matplotlib Axes, optional
        Draw into an existing axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    spec = funnel_spec(table)
    if unit is None and table.columns[0] not in ("numerator", "value") \
            and not pd.api.types.is_numeric_dtype(table[table.columns[0]]):
        unit = table.columns[0]
    if percent is None:
        percent = spec.kind == "proportion"
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5.2))
    else:
        fig = ax.figure
    d = table[table["n"] > 0]
    n_lo, n_hi = float(d["n"].min()), float(d["n"].max())
    curve = funnel_curve(spec, n_min=n_lo * 0.9, n_max=n_hi * 1.05)
    levels = sorted(spec.levels)
    for i, lv in enumerate(levels):
        c = curve[curve["level"] == lv]
        style, width = _LINE_STYLES.get(i, ("-", 1.0))
        lab = f"{lv * 100:g}% limits" + (" (overdispersion-adjusted)" if spec.adjusted and i == len(levels) - 1
                                          else " (exact)" if spec.exact_limits and i == len(levels) - 1 else "")
        colour = "#7a7a7a" if i < len(levels) - 1 else "#3a3a3a"
        ax.plot(c["n"], c["lower"], style, color=colour, lw=width, label=lab)
        ax.plot(c["n"], c["upper"], style, color=colour, lw=width)
    ax.axhline(curve["target"].iloc[0], color="#1f1f1f", lw=1.0, label="target")

    tags = [f"{lv * 100:g}".replace(".", "") for lv in levels]
    colour = pd.Series(FLAG_COLOURS["within"], index=d.index)
    for tag in tags:
        col = f"outside_{tag}"
        if col in d:
            colour = colour.mask(d[col], FLAG_COLOURS.get(tag, "#c8102e"))
    ax.scatter(d["n"], d["value"], s=28, c=colour.tolist(), edgecolor="white", linewidth=0.5, zorder=3)

    names = d[unit].astype(str) if unit is not None else pd.Series(d.index.astype(str), index=d.index)
    wanted = [] if highlight is None else ([highlight] if isinstance(highlight, str) else list(highlight))
    widest = f"outside_{tags[-1]}"
    if label_outliers and widest in d:
        for i in d.index[d[widest] & ~names.isin(wanted)]:  # highlighted units get their own label
            ax.annotate(names[i], (d.at[i, "n"], d.at[i, "value"]), xytext=(4, 3),
                        textcoords="offset points", fontsize=8, color="#5a0010")
    if wanted:
        missing = [w for w in wanted if w not in set(names)]
        if missing:
            raise ValueError(f"highlight {missing} not found among the units (column {unit!r})")
        for w in wanted:
            for i in d.index[names == w]:
                ax.scatter([d.at[i, "n"]], [d.at[i, "value"]], s=130, facecolor="none",
                           edgecolor="black", linewidth=1.6, zorder=4)
                ax.annotate(w, (d.at[i, "n"], d.at[i, "value"]), xytext=(6, -12),
                            textcoords="offset points", fontsize=9, fontweight="bold")
    # legend entries for the unit colours
    for tag, lv in zip(["within", *tags], [None, *levels], strict=True):
        lab = "within limits" if lv is None else f"outside {lv * 100:g}%"
        ax.scatter([], [], s=28, color=FLAG_COLOURS.get(tag, "#c8102e"), label=lab)
    if log_x:
        ax.set_xscale("log")
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"))
    if not log_x:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # "20,000" labels need room
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or {"proportion": "proportion", "ratio": "observed / expected",
                             "ratio_of_counts": "ratio of counts",
                             "rate": f"rate per {spec.multiplier:,.0f}"}[spec.kind])
    note = ""
    if spec.adjusted:
        note = (f"additive overdispersion, tau\u00b2 = {spec.tau2:.3g}" if spec.method == "additive"
                else f"multiplicative overdispersion, phi = {spec.phi:.2f}")
    elif spec.overdispersion:
        note = f"no overdispersion adjustment needed (phi = {spec.phi:.2f})"
    if spec.exact_limits:
        note = (note + "; " if note else "") + ("exact binomial limits" if spec.kind == "proportion"
                                               else "exact Poisson limits")
    if spec.trim == "truncate" and spec.winsorise > 0:
        note += f"; phi from {spec.n_units} units after truncating {spec.winsorise:.0%} at each end"
    ax.set_title(title or "Funnel plot")
    if note:
        ax.text(0.99, 0.01, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="#555555")
    ymin = np.nanmin([d["value"].min(), curve["lower"].min()])
    ymax = np.nanmax([d["value"].max(), curve["upper"].max()])
    pad = 0.05 * (ymax - ymin if ymax > ymin else 1)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
