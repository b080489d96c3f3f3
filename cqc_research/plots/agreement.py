"""Figures for domain-overall agreement: bars with confidence whiskers and cross-tab heatmaps.

Both take the tidy tables of :mod:`cqc_research.metrics.agreement` and return the matplotlib
``Figure`` for :meth:`cqc_research.notebook_output.Report.save_figure`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from ..ratings import RATINGS
from .palette import rating_palette

__all__ = ["agreement_bars", "crosstab_heatmaps"]

#: Colours for groups (sectors, levels) in bar charts; the first is CQC's Good green.
GROUP_COLOURS = ["#6fb33f", "#005eb8", "#7c2855", "#f2a900", "#425563", "#00a499"]

_SHORT = {"Requires improvement": "Req. improvement"}


def agreement_bars(table: pd.DataFrame, *, estimate: str = "agreement", hue: str | None = None,
                   domain: str = "domain", title: str | None = None, ax=None):
    """Bars of agreement (or kappa) per domain, with confidence-interval whiskers.

    Parameters
    ----------
    table : DataFrame
        The result of :func:`~cqc_research.metrics.agreement.domain_agreement`.
    estimate : str
        ``"agreement"``, ``"weighted_kappa"`` or ``"quadratic_kappa"``; the interval columns are
        ``<estimate>_ci_low`` and ``<estimate>_ci_high``.
    hue : str, optional
        A grouping column (e.g. ``"sector"``) drawn as side-by-side bars.
    domain : str
        The column naming the bars.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    lo_col, hi_col = f"{estimate}_ci_low", f"{estimate}_ci_high"
    missing = [c for c in (domain, estimate, lo_col, hi_col, hue) if c and c not in table]
    if missing:
        raise KeyError(f"agreement_bars: table lacks column(s) {missing}; pass the result of "
                       "domain_agreement")
    t = table.dropna(subset=[estimate])
    domains = list(dict.fromkeys(t[domain].astype(str)))
    groups = list(dict.fromkeys(t[hue].astype(str))) if hue else [None]
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(domains) * max(1, len(groups)) ** 0.5
                                            + 2), 4.2))
    else:
        fig = ax.figure
    width = 0.8 / len(groups)
    x = np.arange(len(domains))
    for gi, g in enumerate(groups):
        sub = t if g is None else t[t[hue].astype(str) == g]
        sub = sub.set_index(sub[domain].astype(str)).reindex(domains)
        pos = x - 0.4 + width * (gi + 0.5)
        val = sub[estimate].to_numpy(dtype=float)
        err = np.vstack([val - sub[lo_col].to_numpy(dtype=float),
                         sub[hi_col].to_numpy(dtype=float) - val])
        colour = GROUP_COLOURS[gi % len(GROUP_COLOURS)]
        label = None if g is None else f"{g}"
        ax.bar(pos, val, width=width * 0.92, color=colour, label=label, edgecolor="white")
        ax.errorbar(pos, val, yerr=np.nan_to_num(err), fmt="none", ecolor="#222222",
                    elinewidth=1.2, capsize=3)
        if "n" in sub and len(groups) == 1:
            for p, v, n in zip(pos, val, sub["n"], strict=True):
                if np.isfinite(v):
                    ax.text(p, 0.02 if estimate == "agreement" else min(v, 0) + 0.02,
                            f"n={int(n):,}", ha="center", va="bottom", fontsize=8,
                            color="white" if v > 0.15 else "#222222")
    ax.set_xticks(x, domains)
    if estimate == "agreement":
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share equal to the reference rating")
    else:
        lo = min(0.0, float(np.nanmin(t[lo_col])) - 0.05) if len(t) else 0.0
        ax.set_ylim(lo, 1)
        ax.axhline(0, color="#555555", lw=0.8)
        ax.set_ylabel(estimate.replace("_", " "))
    ref = t["reference"].iloc[0] if "reference" in t and len(t) else "Overall"
    ax.set_title(title or f"Agreement of each key question with the {ref} rating (95% CI)")
    if hue:
        ax.legend(frameon=False, fontsize=9, ncol=min(len(groups), 4), loc="upper center",
                  bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    return fig


def crosstab_heatmaps(crosstabs: pd.DataFrame, *, ncols: int = 3, title: str | None = None,
                      normalize: bool = True):
    """One heatmap per domain: reference rating (rows) x domain rating (columns).

    Parameters
    ----------
    crosstabs : DataFrame
        The result of :func:`~cqc_research.metrics.agreement.agreement_crosstabs` (one group:
        filter it first when it was split ``by`` something).
    ncols : int
        Panels per row.
    title : str, optional
    normalize : bool
        Shade by the share of each reference rating (rows sum to 100%); counts are written in
        the cells either way.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = {"domain", "reference", "reference_rating", "domain_rating", "count"}
    if not need <= set(crosstabs.columns):
        raise KeyError(f"crosstab_heatmaps: needs columns {sorted(need)}; pass the result of "
                       "agreement_crosstabs")
    domains = list(dict.fromkeys(crosstabs["domain"].astype(str)))
    ref = str(crosstabs["reference"].iloc[0])
    nrows = math.ceil(len(domains) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.1 * ncols, 3.7 * nrows), squeeze=False)
    labels = [_SHORT.get(r, r) for r in RATINGS]
    pal = rating_palette()
    for ax, d in zip(axes.flat, domains, strict=False):
        sub = crosstabs[crosstabs["domain"].astype(str) == d]
        counts = (sub.pivot_table(index="reference_rating", columns="domain_rating",
                                  values="count", aggfunc="sum", observed=False)
                  .reindex(index=RATINGS, columns=RATINGS).fillna(0).to_numpy())
        rows = counts.sum(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shade = counts / np.where(rows == 0, np.nan, rows) if normalize else counts
        ax.imshow(np.nan_to_num(shade), cmap="Greens", vmin=0,
                  vmax=1 if normalize else max(counts.max(), 1), aspect="equal")
        for i in range(len(RATINGS)):
            for j in range(len(RATINGS)):
                c = int(counts[i, j])
                dark = normalize and np.nan_to_num(shade[i, j]) > 0.55
                ax.text(j, i, f"{c:,}", ha="center", va="center", fontsize=9,
                        color="white" if dark else "#222222",
                        fontweight="bold" if i == j else "normal")
        ax.set_xticks(range(len(RATINGS)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(RATINGS)), labels, fontsize=8)
        for tick, r in zip(ax.get_xticklabels(), RATINGS, strict=True):
            tick.set_color(pal[r])
        for tick, r in zip(ax.get_yticklabels(), RATINGS, strict=True):
            tick.set_color(pal[r])
        n = int(counts.sum())
        agree = np.trace(counts) / n if n else float("nan")
        ax.set_title(f"{d}: {agree:.0%} agree (n={n:,})" if n else f"{d}: no pairs", fontsize=10)
        ax.set_xlabel(d, fontsize=9)
        ax.set_ylabel(ref, fontsize=9)
        ax.grid(False)
    for ax in list(axes.flat)[len(domains):]:
        ax.set_visible(False)
    fig.suptitle(title or f"{ref} rating (rows) against each key question (columns)",
                 fontweight="bold")
    fig.tight_layout()
    return fig
