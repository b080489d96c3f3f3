"""The report figures' palette and theme, and the rating-mix figure every question uses.

Ratings always take CQC's colours (:data:`cqc_research.ratings.RATING_COLOURS`, through
:func:`rating_palette`); anything else takes :data:`REPORT_COLOURS`; :func:`set_theme` sets the
one size and font scheme of every report figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..ratings import RATING_COLOURS, RATINGS

#: Colours for series that are not ratings (sectors, groups, estimates), in the order a figure
#: uses them: dark blue, teal, plum, amber, slate, green. Ratings always take
#: :data:`cqc_research.ratings.RATING_COLOURS`.
REPORT_COLOURS = ["#1f4e79", "#00a499", "#7c2855", "#f2a900", "#425563", "#6fb33f"]


def rating_palette(include_not_rated: bool = False) -> dict[str, str]:
    """Colours keyed by rating, worst to best (CQC's red, amber, green, deep green).

    Parameters
    ----------
    include_not_rated : bool
        Add ``"Not rated"`` (grey) after the four ratings.

    Returns
    -------
    dict of str to str
        Rating to hex colour, from :data:`cqc_research.ratings.RATING_COLOURS`, in scale order
        (ready for seaborn's ``palette=`` and ``hue_order=list(...)``).

    Examples
    --------
    >>> list(rating_palette())[:2]
    ['Inadequate', 'Requires improvement']
    """
    pal = {r: RATING_COLOURS[r] for r in RATINGS}
    if include_not_rated:
        pal["Not rated"] = RATING_COLOURS["Not rated"]
    return pal


def set_theme() -> None:
    """The one size and font scheme of every report figure, and its colours.

    A white grid, 10-point labels and ticks, bold 12-point axes titles and 13-point figure
    titles, 9-point legends, and :data:`REPORT_COLOURS` for anything that is not a rating.
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95, palette=REPORT_COLOURS)
    plt.rcParams.update({
        "figure.dpi": 100, "axes.titleweight": "bold", "axes.titlesize": 12,
        "figure.titleweight": "bold", "figure.titlesize": 13, "axes.labelsize": 10,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
        "legend.title_fontsize": 9, "font.family": "sans-serif",
    })


def rating_distribution(data: pd.DataFrame, *, by: str, rating: str = "rating",
                        title: str | None = None, normalise: bool = True):
    """Stacked horizontal bars of the rating mix within each group of ``by``.

    Parameters
    ----------
    data : DataFrame
        One row per rated organisation (or organisation x domain).
    by : str
        The grouping column (sector, domain, region...).
    rating : str
        The rating column (``RATING_DTYPE``; non-scale values are left out of the bars).
    title : str, optional
        The title; default ``"Rating mix by <by>"``.
    normalise : bool
        Shares (True) or counts (False).

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = data.dropna(subset=[rating])
    groups = d[by]
    if isinstance(groups.dtype, pd.CategoricalDtype):  # keep the categorical order (e.g. domains)
        order = [str(c) for c in groups.cat.categories if (groups == c).any()]
    else:
        order = sorted(groups.dropna().astype(str).unique())
    table = pd.crosstab(groups.astype(str), pd.Categorical(d[rating], categories=RATINGS, ordered=True),
                        dropna=False)
    table = table.reindex(index=order, columns=RATINGS, fill_value=0)
    n = table.sum(axis=1)
    shown = table.div(n.replace(0, 1), axis=0) if normalise else table
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(shown) + 1.6))
    left = pd.Series(0.0, index=shown.index)
    for r in RATINGS:
        ax.barh(shown.index, shown[r], left=left, color=RATING_COLOURS[r], label=r,
                edgecolor="white", linewidth=0.5)
        left += shown[r]
    ax.set_yticks(range(len(shown)), [f"{i} (n={n[i]:,})" for i in shown.index])
    ax.invert_yaxis()
    ax.set_xlabel("share of ratings" if normalise else "number of ratings")
    if normalise:
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=9)
    ax.set_title(title or f"Rating mix by {by}")
    fig.tight_layout()
    return fig
