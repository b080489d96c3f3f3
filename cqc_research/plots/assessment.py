"""Figures of notebook 08 (the single assessment framework): statements assessed, score shares, the shift between frameworks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..ratings import KEY_QUESTIONS, RATING_COLOURS, RATINGS

__all__ = ["statements_assessed_plot", "framework_shift_plot"]


def statements_assessed_plot(distribution: pd.DataFrame):
    """Bars of the share of assessments by the number of statements they assessed, with intervals.

    Parameters
    ----------
    distribution : DataFrame
        ``StatementsAssessed.distribution``: ``n_assessed, share, ci_low, ci_high``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 3.5))
    d = distribution
    if len(d):
        ax.bar(d["n_assessed"], d["share"], color="#4c72b0")
        ax.errorbar(d["n_assessed"], d["share"], yerr=[d["share"] - d["ci_low"], d["ci_high"] - d["share"]],
                    fmt="none", ecolor="black", elinewidth=0.7, capsize=2)
    ax.set_xlabel("quality statements assessed in the assessment")
    ax.set_ylabel("share of assessments (95% CI)")
    ax.set_title("Quality statements assessed per assessment")
    return fig


def score_distribution_plot(scores: pd.DataFrame, *, counted: str = "assessed"):
    """Stacked bars of the share of each score (1-4, in the colours of the rating bands) by key question.

    Parameters
    ----------
    scores : DataFrame
        :func:`cqc_research.studies.assessment.score_distribution` output.
    counted : str
        Which statements: ``"assessed"`` or ``"all listed"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 3.5))
    shown = scores[scores["statements_counted"] == counted]
    wide = shown.pivot(index="domain", columns="score", values="share").reindex(KEY_QUESTIONS).fillna(0)
    left = np.zeros(len(wide))
    for score in (1, 2, 3, 4):
        vals = wide[score].to_numpy() if score in wide else np.zeros(len(wide))
        ax.barh(wide.index, vals, left=left, color=RATING_COLOURS[RATINGS[score - 1]], label=f"score {score}")
        left += vals
    ax.invert_yaxis()
    ax.set_xlabel(f"share of statements {counted}")
    ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.set_title(f"Quality-statement scores by key question (statements {counted})", pad=28)
    return fig


def framework_shift_plot(summary: pd.DataFrame):
    """For each sector, the observed shares of services rated worse, the same and better at their
    first new-framework rating, beside the shares the 2014 transitions predict.

    Parameters
    ----------
    summary : DataFrame
        ``FrameworkShift.summary``: ``sector, direction, n, observed, ci_low, ci_high, expected``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, max(1, summary["sector"].nunique()), figsize=(9, 3.2), squeeze=False,
                             sharey=True)
    for ax, (sec, g) in zip(axes[0], summary.groupby("sector", observed=True, sort=True), strict=False):
        x = np.arange(len(g))
        ax.bar(x - 0.18, g["observed"], width=0.36, color="#4c72b0", label="first new-framework rating")
        ax.errorbar(x - 0.18, g["observed"], yerr=[g["observed"] - g["ci_low"], g["ci_high"] - g["observed"]],
                    fmt="none", ecolor="black", elinewidth=0.7, capsize=2)
        ax.bar(x + 0.18, g["expected"], width=0.36, color="#bbbbbb", label="expected from 2014 transitions")
        ax.set_xticks(x, g["direction"])
        ax.set_title(f"{sec} (n = {int(g['n'].iloc[0]):,})", fontsize=9)
    axes[0][0].set_ylabel("share of services")
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.suptitle("First rating under the new framework against the last under the 2014 framework", fontsize=10)
    return fig
