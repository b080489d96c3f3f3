"""Figures for "do indicators predict ratings": distributions by rating, confusion matrix,
odds ratios, correlations and the rating mix at equal resources.

Each function takes ``data=`` plus column names, or a table from
:mod:`cqc_research.metrics.prediction`, and returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from ..ratings import RATINGS
from .palette import rating_palette

__all__ = ["indicator_by_rating", "confusion_matrix_plot", "odds_ratio_plot", "correlation_plot"]

_SHORT = {"Requires improvement": "Req. improvement"}
_WRAP = {"Requires improvement": "Requires\nimprovement"}


def _compact(v: float) -> str:
    """Short tick text: 9.9k, 155, 22.4."""
    a = abs(v)
    if a >= 10_000:
        return f"{v / 1000:.0f}k"
    if a >= 1000:
        return f"{v / 1000:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def indicator_by_rating(data: pd.DataFrame, rating: str, indicators: Sequence[str], *,
                        ncols: int = 3, strip: bool = True, max_points: int = 2000, seed=0,
                        title: str | None = None):
    """Box plots (with the points on top) of each indicator by rating, in CQC colours.

    Parameters
    ----------
    data : DataFrame
        One row per organisation.
    rating : str
        The rating column (``RATING_DTYPE`` or strings).
    indicators : sequence of str
        Numeric columns, one panel each.
    ncols : int
        Panels per row.
    strip : bool
        Overlay the individual organisations (a random ``max_points`` of them).
    max_points : int
        Most points overlaid per panel.
    seed : int
        For the subsample of points.
    title : str, optional
        The figure's title; default ``"Indicators by <rating> rating"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    indicators = [indicators] if isinstance(indicators, str) else list(indicators)
    missing = [c for c in (rating, *indicators) if c not in data]
    if missing:
        raise KeyError(f"indicator_by_rating: data lacks column(s) {missing}")
    d = data[[rating, *indicators]].copy()
    d[rating] = pd.Categorical(d[rating].astype("object"), categories=RATINGS, ordered=True)
    d = d.dropna(subset=[rating])
    present = [r for r in RATINGS if (d[rating] == r).any()]
    pal = rating_palette()
    nrows = math.ceil(len(indicators) / ncols)
    ncols = min(ncols, len(indicators))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.6 * nrows), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, ind in zip(axes.flat, indicators, strict=False):
        sub = d.dropna(subset=[ind])
        sns.boxplot(data=sub, x=rating, y=ind, order=present, hue=rating, hue_order=present,
                    palette=pal, legend=False, showfliers=not strip, ax=ax, width=0.6, saturation=1,
                    boxprops={"alpha": 0.75})
        if strip and len(sub):
            pts = sub.iloc[rng.permutation(len(sub))[:max_points]]
            sns.stripplot(data=pts, x=rating, y=ind, order=present, color="#222222", size=2,
                          alpha=0.35, jitter=0.25, ax=ax)
        counts = sub[rating].value_counts()
        ax.set_xticks(range(len(present)),
                      [f"{_WRAP.get(r, r)}\n(n={counts.get(r, 0):,})" for r in present],
                      fontsize=8)
        ax.set_xlabel("")
        ax.set_ylabel(ind.replace("_", " "))
        ax.set_title(ind.replace("_", " "), fontsize=10)
    for ax in list(axes.flat)[len(indicators):]:
        ax.set_visible(False)
    fig.suptitle(title or f"Indicators by {rating} rating", fontweight="bold")
    fig.tight_layout()
    return fig


def confusion_matrix_plot(confusion: pd.DataFrame, *, normalize: bool = True,
                          title: str | None = None, ax=None):
    """Heatmap of a confusion matrix (observed rows, predicted columns).

    Parameters
    ----------
    confusion : DataFrame
        ``CVResult.confusion`` (4 x 4 counts).
    normalize : bool
        Shade by the share of each observed rating; counts are written in the cells.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    counts = confusion.reindex(index=RATINGS, columns=RATINGS, fill_value=0).to_numpy(float)
    rows = counts.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shade = counts / np.where(rows == 0, np.nan, rows) if normalize else counts
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 4.8))
    else:
        fig = ax.figure
    ax.imshow(np.nan_to_num(shade), cmap="Greens", vmin=0,
              vmax=1 if normalize else max(counts.max(), 1))
    for i in range(4):
        for j in range(4):
            dark = np.nan_to_num(shade[i, j]) > (0.55 if normalize else counts.max() * 0.55)
            txt = f"{int(counts[i, j]):,}"
            if normalize and rows[i, 0]:
                txt += f"\n{shade[i, j]:.0%}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=9,
                    color="white" if dark else "#222222", fontweight="bold" if i == j else None)
    labels = [_SHORT.get(r, r) for r in RATINGS]
    pal = rating_palette()
    ax.set_xticks(range(4), labels, rotation=30, ha="right")
    ax.set_yticks(range(4), labels)
    for tick, r in zip(ax.get_xticklabels(), RATINGS, strict=True):
        tick.set_color(pal[r])
    for tick, r in zip(ax.get_yticklabels(), RATINGS, strict=True):
        tick.set_color(pal[r])
    ax.set_xlabel("predicted (cross-validated)")
    ax.set_ylabel("observed rating")
    ax.grid(False)
    n = int(counts.sum())
    acc = np.trace(counts) / n if n else float("nan")
    ax.set_title(title or f"Confusion matrix: {acc:.1%} correct of {n:,}")
    fig.tight_layout()
    return fig


def odds_ratio_plot(odds: pd.DataFrame, *, title: str | None = None, ax=None):
    """Forest plot of odds ratios per standard deviation with their confidence intervals.

    Parameters
    ----------
    odds : DataFrame
        The result of :func:`~cqc_research.metrics.prediction.ordered_logit`.
    title : str, optional
        The title; a descriptive default.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (its figure is returned); default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = {"indicator", "odds_ratio_per_sd", "ci_low", "ci_high"}
    if not need <= set(odds.columns):
        raise KeyError(f"odds_ratio_plot: needs columns {sorted(need)}")
    t = odds.reset_index(drop=True)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 0.55 * len(t) + 1.6))
    else:
        fig = ax.figure
    y = np.arange(len(t))[::-1]
    sig = (t["ci_low"] > 1) | (t["ci_high"] < 1)
    colours = np.where(sig, rating_palette()["Outstanding"], "#6b6b6b")
    ax.hlines(y, t["ci_low"], t["ci_high"], color=colours, lw=2)
    ax.scatter(t["odds_ratio_per_sd"], y, color=colours, zorder=3, s=36)
    ax.axvline(1, color="#222222", lw=0.9, ls="--")
    ax.set_xscale("log")
    lo = min(float(t["ci_low"].min()), 0.8)
    hi = max(float(t["ci_high"].max()), 1.25)
    ax.set_xlim(lo / 1.1, hi * 1.1)
    ax.set_yticks(y, [s.replace("_", " ") for s in t["indicator"]])
    ax.set_xlabel("odds ratio of a better rating per SD (log scale, 95% CI)")
    ax.set_title(title or "Ordered logit: odds ratios per standard deviation")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    # minor ticks are labelled only on a narrow axis: over several decades their labels run together
    lo_x, hi_x = ax.get_xlim()
    narrow = np.log10(hi_x / lo_x) <= 1.2
    ax.xaxis.set_minor_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}") if narrow else plt.NullFormatter())
    fig.tight_layout()
    return fig


def correlation_plot(corr: pd.DataFrame, *, title: str | None = None, ax=None):
    """Spearman correlations with their intervals, one row per indicator (dots per domain).

    Parameters
    ----------
    corr : DataFrame
        The result of :func:`~cqc_research.metrics.prediction.spearman_by_domain`.
    title : str, optional
        The title; a descriptive default.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (its figure is returned); default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = {"indicator", "domain", "rho", "ci_low", "ci_high"}
    if not need <= set(corr.columns):
        raise KeyError(f"correlation_plot: needs columns {sorted(need)}")
    inds = list(dict.fromkeys(corr["indicator"]))
    doms = list(dict.fromkeys(corr["domain"]))
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(inds) * max(1, len(doms)) ** 0.5 + 1.8))
    else:
        fig = ax.figure
    cmap = plt.get_cmap("tab10")
    step = 0.7 / max(len(doms), 1)
    for k, d in enumerate(doms):
        sub = corr[corr["domain"] == d].set_index("indicator").reindex(inds)
        y = np.arange(len(inds))[::-1] + 0.35 - step * (k + 0.5)
        ax.hlines(y, sub["ci_low"], sub["ci_high"], color=cmap(k % 10), lw=1.8)
        ax.scatter(sub["rho"], y, color=cmap(k % 10), s=28, zorder=3, label=d)
    ax.axvline(0, color="#222222", lw=0.9, ls="--")
    ax.set_yticks(np.arange(len(inds))[::-1], [s.replace("_", " ") for s in inds])
    ax.set_xlabel("Spearman correlation with the rating (95% CI)")
    ax.set_title(title or "Correlation of each indicator with the ratings")
    if len(doms) > 1:
        ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def rating_mix_by_decile(variation: pd.DataFrame, *, title: str | None = None, ax=None):
    """Stacked bars of the rating mix within each decile of a resource measure.

    Parameters
    ----------
    variation : DataFrame
        The result of :func:`~cqc_research.metrics.prediction.variation_at_equal_resources`.
    title : str, optional
        The title; a descriptive default.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (its figure is returned); default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    need = {"decile", "rating", "share", "n", "resource_low", "resource_high"}
    if not need <= set(variation.columns):
        raise KeyError(f"rating_mix_by_decile: needs columns {sorted(need)}")
    wide = variation.pivot_table(index="decile", columns="rating", values="share",
                                 observed=False, aggfunc="sum").reindex(columns=RATINGS).fillna(0)
    info = variation.drop_duplicates("decile").set_index("decile")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 4.4))
    else:
        fig = ax.figure
    pal = rating_palette()
    bottom = np.zeros(len(wide))
    x = np.arange(len(wide))
    for r in RATINGS:
        ax.bar(x, wide[r], bottom=bottom, color=pal[r], label=r, edgecolor="white", lw=0.5)
        bottom += wide[r].to_numpy()
    ax.set_xticks(x, [f"{d}\n{_compact(info.loc[d, 'resource_low'])}-"
                      f"{_compact(info.loc[d, 'resource_high'])}\nn={int(info.loc[d, 'n']):,}"
                      for d in wide.index], fontsize=7)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    resource = str(variation["resource"].iloc[0]) if "resource" in variation and len(variation) else "resource"
    ax.set_xlabel(f"decile of {resource.replace('_', ' ')} (range, organisations)")
    ax.set_ylabel("share of organisations")
    ax.legend(ncol=4, frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.set_title(title or f"Rating mix at equal {resource.replace('_', ' ')}")
    ax.grid(False, axis="x")
    fig.tight_layout()
    return fig


def indicator_gap_plot(gaps: pd.DataFrame, *, title: str | None = None, ax=None):
    """Each indicator's gap between Good-or-better and worse-rated organisations, in SDs.

    Parameters
    ----------
    gaps : DataFrame
        The result of :func:`~cqc_research.metrics.prediction.indicator_gaps`.
    title : str, optional
        The title; a descriptive default.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (its figure is returned); default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Dots at the difference in standard deviations of the indicator, lines for its 95%
        interval (the Welch interval rescaled by the same SD), a dashed line at no difference.
    """
    need = {"indicator", "difference", "ci_low", "ci_high", "difference_sd"}
    if not need <= set(gaps.columns):
        raise KeyError(f"indicator_gap_plot: needs columns {sorted(need)}")
    g = gaps.dropna(subset=["difference_sd"]).reset_index(drop=True)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(g), 1) + 1.6))
    else:
        fig = ax.figure
    scale = (g["difference_sd"] / g["difference"]).where(g["difference"] != 0, 0.0)
    y = np.arange(len(g))[::-1]
    good = rating_palette()["Good"]
    ax.hlines(y, g["ci_low"] * scale, g["ci_high"] * scale, color=good, lw=1.8)
    ax.scatter(g["difference_sd"], y, color=good, s=28, zorder=3)
    ax.axvline(0, color="#222222", lw=0.9, ls="--")
    ax.set_yticks(y, [s.replace("_", " ") for s in g["indicator"]])
    ax.set_xlabel("Good or better minus worse, in SDs of the indicator (95% CI)")
    ax.set_title(title or "How far each indicator differs by rating")
    fig.tight_layout()
    return fig
