"""Figures for improvement journeys: transition heatmaps, improvement bars, Kaplan-Meier curves.

Each takes the tidy output of :mod:`cqc_research.metrics.transitions` and returns a matplotlib
``Figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from ..ratings import RATING_COLOURS, RATINGS

__all__ = ["transition_heatmap", "improvement_plot", "km_plot"]

#: Line colours for sectors (distinct from the rating colours, readable in greyscale).
SECTOR_COLOURS = {"NHS hospitals": "#1f4e79", "GP practices": "#7b3294",
                  "Adult social care": "#d95f02", "Other": "#666666"}
_SHORT = {"Inadequate": "Inadequate", "Requires improvement": "Req. improvement",
          "Good": "Good", "Outstanding": "Outstanding"}


def transition_heatmap(matrix: pd.DataFrame, *, by: str = "sector", domain: str | None = "Overall",
                       groups=None, title: str | None = None, min_row_n: int = 1):
    """One heatmap per group: the share moving from each rating (rows) to each rating (columns).

    Parameters
    ----------
    matrix : DataFrame
        :func:`~cqc_research.metrics.transitions.transition_matrix` output.
    by : str
        The panel column (default sector).
    domain : str, optional
        Keep this domain when the table has a ``domain`` column.
    groups : list, optional
        Which groups to draw, in order (default: all with pairs).
    title : str, optional
        The figure's title; default ``"From one inspection to the next (<domain>)"``.
    min_row_n : int
        Rows with fewer pairs are greyed out (shares from a handful of pairs mislead).

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = matrix
    if domain is not None and "domain" in m.columns:
        m = m[m["domain"].astype(str) == domain]
    if by not in m.columns:
        m = m.assign(**{by: "All"})
    present = [g for g, d in m.groupby(by, observed=True) if d["n"].sum() > 0]
    groups = [g for g in (groups or present) if g in present]
    if not groups:
        raise ValueError("no transitions to draw")
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups) + 0.8, 3.9), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        d = m[m[by] == g]
        share = d.pivot_table(index="from_rating", columns="to_rating", values="share", observed=False,
                              dropna=False).reindex(index=RATINGS, columns=RATINGS)
        n = d.pivot_table(index="from_rating", columns="to_rating", values="n", observed=False,
                          dropna=False).reindex(index=RATINGS, columns=RATINGS).fillna(0)
        row_n = n.sum(axis=1)
        enough = np.repeat((row_n.to_numpy() >= max(min_row_n, 1))[:, None], 4, axis=1)
        shown = share.where(enough)
        ax.imshow(shown.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="equal")
        for i in range(4):
            for j in range(4):
                v = shown.iat[i, j]
                if np.isnan(v):
                    continue
                ax.text(j, i, f"{v:.0%}\n({int(n.iat[i, j])})", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.55 else "#1a1a1a")
        ax.set_xticks(range(4), [_SHORT[r] for r in RATINGS], rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(4), [f"{_SHORT[r]} (n={int(row_n[r])})" for r in RATINGS], fontsize=8)
        ax.set_xlabel("next rating", fontsize=9)
        ax.set_title(str(g), fontsize=10)
        ax.grid(False)
    axes[0][0].set_ylabel("rating at an inspection", fontsize=9)
    fig.suptitle(title or f"From one inspection to the next ({domain or 'all domains'})",
                 fontweight="bold", fontsize=11)
    fig.tight_layout()
    return fig


def improvement_plot(improvement: pd.DataFrame, *, by: str = "sector", title: str | None = None):
    """Stacked bars: where services went at the next inspection, with the improved share's CI.

    Parameters
    ----------
    improvement : DataFrame
        :func:`~cqc_research.metrics.transitions.improvement_from` output.
    by : str
        The grouping column.
    title : str, optional
        The title; default ``"What followed a rating of <rating>"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = improvement if by in improvement.columns else improvement.assign(**{by: "All"})
    start = str(t["from_rating"].iloc[0])
    groups = [g for g, d in t.groupby(by, observed=True, sort=False) if d["total"].iloc[0] > 0]
    fig, ax = plt.subplots(figsize=(9, 0.8 * len(groups) + 1.8))
    for y, g in enumerate(groups):
        d = t[t[by] == g].set_index("outcome")
        left = 0.0
        for r in RATINGS:
            s = d.loc[f"to {r}", "share"]
            if s > 0:
                ax.barh(y, s, left=left, color=RATING_COLOURS[r], edgecolor="white")
                if s >= 0.07:
                    ax.text(left + s / 2, y, f"{s:.0%}", ha="center", va="center", fontsize=8,
                            color="white" if r in ("Inadequate", "Outstanding") else "#1a1a1a")
                left += s
    labels = []
    for g in groups:
        d = t[t[by] == g].set_index("outcome")
        imp = d.loc["improved"]
        labels.append(f"{g} (n={int(imp['total'])})\nimproved {imp['share']:.0%} "
                      f"({imp['ci_low']:.0%} to {imp['ci_high']:.0%})")
    ax.set_yticks(range(len(groups)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"rating at the next inspection after {start} (95% CI of the share improved in brackets)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=RATING_COLOURS[r]) for r in RATINGS]
    ax.legend(handles, RATINGS, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.22),
              frameon=False, fontsize=8)
    ax.set_title(title or f"What followed a rating of {start}")
    fig.tight_layout()
    return fig


def km_plot(times, *, by: str = "sector", title: str | None = None, max_months: float | None = None,
            min_n: int = 5):
    """Cumulative share improved (1 - Kaplan-Meier survival) over months, per group, with CIs.

    Parameters
    ----------
    times : ImprovementTimes
        :func:`~cqc_research.metrics.transitions.time_to_improvement` output.
    by : str
        The grouping column.
    title : str, optional
        The title; default names the starting rating.
    max_months : float, optional
        Right end of the x axis.
    min_n : int
        Groups with fewer spells are not drawn (they are named under the legend instead).

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = times.survival if by in times.survival.columns else times.survival.assign(**{by: "All"})
    med = times.median if by in times.median.columns else times.median.assign(**{by: "All"})
    fig, ax = plt.subplots(figsize=(8, 4.8))
    skipped = []
    for g, d in s.groupby(by, observed=True, sort=False):
        if d.empty:
            continue
        colour = SECTOR_COLOURS.get(str(g), None)
        m = med[med[by] == g].iloc[0]
        if m["n"] < min_n:
            skipped.append(f"{g} (n={int(m['n'])})")
            continue
        label = f"{g} (n={int(m['n'])}, median {m['median_months']:.0f} months)" \
            if np.isfinite(m["median_months"]) else f"{g} (n={int(m['n'])}, median not reached)"
        ax.step(d["months"], 1 - d["surv"], where="post", color=colour, lw=1.8, label=label)
        ax.fill_between(d["months"], 1 - d["ci_high"], 1 - d["ci_low"], step="post", color=colour,
                        alpha=0.15, lw=0)
    ax.set_ylim(0, 1)
    if max_months:
        ax.set_xlim(0, max_months)
    else:
        ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    start = str(times.median["from_rating"].iloc[0]) if len(times.median) else "the rating"
    ax.set_xlabel(f"months since the {start} rating was published")
    ax.set_ylabel("share with a better rating published")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    if skipped:
        ax.text(0.01, 0.99, "too few to draw: " + ", ".join(skipped), transform=ax.transAxes,
                ha="left", va="top", fontsize=7, color="#555555")
    ax.set_title(title or f"Time to improvement after {start} (Kaplan-Meier, 95% CI)")
    fig.tight_layout()
    return fig
