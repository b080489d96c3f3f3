"""What is in the ratings data? (notebook 00)

The statistics are :mod:`cqc_research.metrics.overview`'s (rating mix, data freshness, the
agreement of two sources); this module holds what notebook 00 adds around them: the ratings in
scope, its sentences, the publication-year figure and ``TABLES``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = ["TABLES"]

_MIX = ("rating", "n", "count", "share", "ci_low", "ci_high", "n_not_rated")

#: Every table notebook 00 saves: name -> its columns (after the report's ``data_status``).
TABLES: dict[str, tuple[str, ...]] = {
    "ratings_by_sector": ("sector", *_MIX),
    "ratings_by_domain": ("domain", *_MIX),
    "ratings_by_region": ("region", "sector", *_MIX),
    "data_freshness": ("sector", "n", "oldest", "newest", "median_age_months", "share_older_than_2y",
                       "share_older_than_4y", "as_of"),
    "workbook_vs_api": ("n_a", "n_b", "n_both", "n_both_rated", "n_same", "share_same"),
}


def ratings_in_scope(data: pd.DataFrame, *, level: str = "location") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ratings of one level's organisations as a whole (service group ``Overall``), and of
    those the Overall domain.

    Parameters
    ----------
    data : DataFrame
        The long Latest ratings table (:func:`cqc_research.io.cqc_files.load_latest_ratings`).
    level : {"location", "provider"}
        Whose ratings.

    Returns
    -------
    (ratings, overall) : tuple of DataFrame
        Every domain's rating, and the Overall rating only.

    Examples
    --------
    >>> long = pd.DataFrame({"level": ["location", "location", "provider"],
    ...                      "service_group": ["Overall"] * 3, "domain": ["Overall", "Safe", "Overall"]})
    >>> [len(t) for t in ratings_in_scope(long)]
    [2, 1]
    """
    ratings = data[(data["level"] == level) & (data["service_group"] == "Overall")]
    return ratings, ratings[ratings["domain"] == "Overall"]


def rated_sentence(data: pd.DataFrame, overall: pd.DataFrame, *, level: str = "location") -> str:
    """How many organisations of the level have an Overall rating, out of the file's.

    Parameters
    ----------
    data : DataFrame
        The long Latest ratings table.
    overall : DataFrame
        Its Overall ratings in scope (:func:`ratings_in_scope`).
    level : str
        "location" or "provider".

    Returns
    -------
    str

    Examples
    --------
    >>> long = pd.DataFrame({"org_id": ["a", "a", "b", "c"], "domain": ["Overall", "Safe", "Overall", "Overall"]})
    >>> rated_sentence(long, long[long["domain"] == "Overall"].iloc[:2])
    '2 locations have an overall rating (3 organisations in 4 rows of the ratings file).'
    """
    return (f"{overall['org_id'].nunique():,} {level}s have an overall rating ({data['org_id'].nunique():,} "
            f"organisations in {len(data):,} rows of the ratings file).")


def api_sentence(api) -> str:
    """How many locations and inspection reports an API folder holds, and reports per location.

    Parameters
    ----------
    api : ApiData
        :func:`cqc_research.io.cqc_json.load_api_folder` output (``locations``, ``history``).

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> h = pd.DataFrame({"domain": "Overall", "org_id": ["a", "a", "b"], "report_link_id": ["r1", "r2", "r3"]})
    >>> api_sentence(SimpleNamespace(locations=pd.DataFrame(index=range(2)), history=h))
    '2 locations; 3 inspection reports; median 2 reports per location (max 2)'
    """
    hist = api.history[api.history["domain"] == "Overall"]
    reports = hist.groupby("org_id")["report_link_id"].nunique()
    return (f"{len(api.locations):,} locations; {hist['report_link_id'].nunique():,} inspection reports; "
            f"median {reports.median():.0f} reports per location (max {reports.max()})")


def publication_year_figure(overall: pd.DataFrame):
    """Publication year of the current Overall rating, stacked by sector.

    Parameters
    ----------
    overall : DataFrame
        Overall ratings with ``publication_date`` and ``sector``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.histplot(data=overall.assign(year=overall["publication_date"].dt.year), x="year", hue="sector",
                 multiple="stack", discrete=True, ax=ax)
    ax.set(title="Publication year of the current overall rating", xlabel="year published", ylabel="organisations")
    return fig
