"""Figures for local systems: area shares against England, ranks with uncertainty, DTOC.

Each takes the tidy output of :mod:`cqc_research.metrics.areas` and returns a matplotlib
``Figure``. Highlighted areas (e.g. the ones a review is about) are drawn in CQC red.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, PercentFormatter

from .funnel import funnel_plot

__all__ = ["area_share_plot", "ranking_plot"]

_BASE, _HIGHLIGHT, _ENGLAND = "#4f6d8a", "#c8102e", "#1f1f1f"


def _highlight_set(highlight) -> set:
    if highlight is None:
        return set()
    return {highlight} if isinstance(highlight, str) else set(highlight)


def area_share_plot(summary: pd.DataFrame, *, area: str = "local_authority",
                    sector: str | None = "Adult social care", highlight=None,
                    title: str | None = None, max_areas: int = 60):
    """Each area's share rated Good or Outstanding with its 95% CI, sorted, against England.

    Parameters
    ----------
    summary : DataFrame
        :func:`~cqc_research.metrics.areas.area_summary` output.
    area : str
        The area column.
    sector : str, optional
        The sector rows to draw (``"All sectors"`` for all).
    highlight : str or list, optional
        Areas to draw in red.
    title : str, optional
        The title; default names the sector (and says when only the lowest areas are drawn).
    max_areas : int
        With more areas, only the lowest ``max_areas`` are drawn (say so in the title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = summary
    if sector is not None and "sector" in s.columns:
        s = s[s["sector"].astype(str) == sector]
    s = s[s["n_rated"] > 0].sort_values("share_good")
    cut = len(s) > max_areas
    s = s.head(max_areas)
    hl = _highlight_set(highlight)
    fig, ax = plt.subplots(figsize=(7.5, 0.26 * len(s) + 1.6))
    y = np.arange(len(s))
    colours = [_HIGHLIGHT if a in hl else _BASE for a in s[area]]
    ax.hlines(y, s["ci_low"], s["ci_high"], colors=colours, lw=1.6)
    ax.scatter(s["share_good"], y, c=colours, s=22, zorder=3)
    eng = s["england_share_good"].iloc[0] if "england_share_good" in s else np.nan
    if np.isfinite(eng):
        ax.axvline(eng, color=_ENGLAND, lw=1, ls="--", label=f"all areas {eng:.0%}")
    ax.set_yticks(y, [f"{a} ({int(n)})" for a, n in zip(s[area], s["n_rated"], strict=True)], fontsize=8)
    for tick, a in zip(ax.get_yticklabels(), s[area], strict=True):
        if a in hl:
            tick.set_color(_HIGHLIGHT)
            tick.set_fontweight("bold")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(max(0, float(s["ci_low"].min()) - 0.05), 1.0)
    ax.set_xlabel("share of rated locations Good or Outstanding (95% CI); (n) = locations rated")
    ax.legend(loc="upper left", fontsize=8, frameon=True)
    what = sector or "all sectors"
    ax.set_title(title or (f"{what}: share Good or Outstanding by area"
                           + (f" (lowest {max_areas})" if cut else "")))
    fig.tight_layout()
    return fig


def ranking_plot(ranks: pd.DataFrame, *, unit: str, highlight=None, title: str | None = None,
                 estimate_label: str = "estimate", percent: bool = True):
    """Ranks with their 95% intervals (a caterpillar plot), best at the top.

    Parameters
    ----------
    ranks : DataFrame
        :func:`~cqc_research.metrics.areas.rank_with_uncertainty` output.
    unit : str
        The unit column.
    highlight : str or list, optional
        Units to draw in red.
    title : str, optional
        The title; default ``"Ranks with uncertainty"``.
    estimate_label : str
        What the estimate is, for the right-hand labels.
    percent : bool
        Show estimates as percentages.

    Returns
    -------
    matplotlib.figure.Figure
    """
    r = ranks.sort_values(["rank_median", "rank"]).reset_index(drop=True)
    hl = _highlight_set(highlight)
    n = len(r)
    fig, ax = plt.subplots(figsize=(7.5, 0.26 * n + 1.7))
    y = np.arange(n)
    colours = [_HIGHLIGHT if u in hl else _BASE for u in r[unit]]
    ax.hlines(y, r["rank_low"], r["rank_high"], colors=colours, lw=2.2, alpha=0.8)
    ax.scatter(r["rank_median"], y, c=colours, s=26, zorder=3, label="median rank")
    ax.scatter(r["rank"], y, marker="|", c="#1f1f1f", s=60, zorder=4, label="rank of the point estimate")
    ax.set_yticks(y, r[unit].astype(str), fontsize=8)
    for tick, u in zip(ax.get_yticklabels(), r[unit], strict=True):
        if u in hl:
            tick.set_color(_HIGHLIGHT)
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0.5, n + 0.5)
    draws = f"{int(ranks['n_sim'].iloc[0]):,}" if "n_sim" in ranks and len(ranks) else "many"
    ax.set_xlabel(f"rank (1 = best) with 95% interval from {draws} posterior draws")
    ax2 = ax.twinx()
    ax2.set_ylim(ax.get_ylim())
    fmt = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:,.3g}")
    ax2.set_yticks(y, [fmt(v) for v in r["estimate"]], fontsize=7)
    ax2.set_ylabel(estimate_label, fontsize=8)
    ax2.grid(False)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title(title or "Ranks with uncertainty", pad=24)
    fig.tight_layout()
    return fig


def dtoc_quality_plot(joined: pd.DataFrame, *, area: str = "local_authority", highlight=None,
                      sector: str | None = "Adult social care", title: str | None = None):
    """Delayed transfers per 100,000 aged 65+ against the share of adult social care rated Good+.

    Parameters
    ----------
    joined : DataFrame
        :func:`~cqc_research.metrics.areas.join_dtoc` output; rows without a rate or a share are
        left out.
    area : str
        The area column (matched against ``highlight``).
    highlight : str or list, optional
        Areas to draw in red and label.
    sector : str, optional
        The sector rows to draw (default adult social care); ``None`` uses every row.
    title : str, optional
        The title; a descriptive default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    j = joined
    if sector is not None and "sector" in j.columns:
        j = j[j["sector"].astype(str) == sector]
    j = j.dropna(subset=["dtoc_per_100k", "share_good"])
    hl = _highlight_set(highlight)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colours = [_HIGHLIGHT if a in hl else _BASE for a in j[area]]
    ax.errorbar(j["share_good"], j["dtoc_per_100k"],
                xerr=[j["share_good"] - j["ci_low"], j["ci_high"] - j["share_good"]],
                fmt="none", ecolor="#b0b0b0", lw=0.8, zorder=1)
    ax.scatter(j["share_good"], j["dtoc_per_100k"], c=colours, s=30, zorder=3)
    for _, row in j.iterrows():
        if row[area] in hl:
            ax.annotate(row[area], (row["share_good"], row["dtoc_per_100k"]), xytext=(5, 4),
                        textcoords="offset points", fontsize=8, color=_HIGHLIGHT)
    if len(j) > 2:
        rho = j[["share_good", "dtoc_per_100k"]].corr(method="spearman").iloc[0, 1]
        ax.text(0.01, 0.99, f"Spearman rho = {rho:.2f} ({len(j)} areas)", transform=ax.transAxes,
                va="top", fontsize=8, color="#555555")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(f"{sector or 'all sectors'}: share Good or Outstanding (95% CI)")
    ax.set_ylabel("delayed days per 100,000 people aged 65+")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title(title or "Delayed transfers of care and the quality of adult social care")
    fig.tight_layout()
    return fig


def _present(highlight, table: pd.DataFrame, column: str) -> list[str]:
    have = set(table[column].astype(str))
    wanted = [] if highlight is None else ([highlight] if isinstance(highlight, str) else list(highlight))
    return [h for h in wanted if h in have]


def area_funnel_plot(funnel: pd.DataFrame, *, sector: str, area: str = "local_authority",
                     highlight=None):
    """Funnel plot of the share of a sector rated Good or Outstanding, by area.

    Parameters
    ----------
    funnel : DataFrame
        :func:`cqc_research.metrics.funnel.funnel_limits` of the areas (proportions).
    sector : str
        The sector, for the labels.
    area : str
        The area column.
    highlight : list of str, optional
        Areas to mark; those not in the funnel are ignored.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return funnel_plot(funnel, highlight=_present(highlight, funnel, area),
                       xlabel=f"{sector} locations rated", ylabel="share Good or Outstanding",
                       title=f"{sector}: share Good or Outstanding by area")


def dtoc_funnel_plot(funnel: pd.DataFrame, *, area: str = "local_authority", highlight=None):
    """Funnel plot of delayed days per 100,000 people aged 65 and over, by area.

    Parameters
    ----------
    funnel : DataFrame
        :func:`cqc_research.metrics.funnel.funnel_limits` of the rates.
    area : str
        The area column.
    highlight : list of str, optional
        Areas to mark; those not in the funnel are ignored.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return funnel_plot(funnel, highlight=_present(highlight, funnel, area),
                       xlabel="population aged 65+", ylabel="delayed days per 100,000 aged 65+",
                       title="Delayed transfers of care by area")
