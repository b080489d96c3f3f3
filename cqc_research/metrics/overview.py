"""Descriptive summaries of a ratings table: rating mix and data freshness."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ratings import RATINGS
from ._contract import keeps_provenance
from ._inputs import scale_codes
from .intervals import proportion_ci

__all__ = ["rating_mix", "data_freshness", "source_agreement"]


@keeps_provenance
def rating_mix(data: pd.DataFrame, *, by, rating: str = "rating", alpha: float = 0.05) -> pd.DataFrame:
    """Counts and shares of each rating within groups, with Wilson confidence intervals.

    Parameters
    ----------
    data : DataFrame
        One row per rated unit (e.g. the long ratings table filtered to one domain).
    by : str or list of str
        Grouping columns.
    rating : str
        An ordered-categorical rating column; rows without a scale rating are counted apart in
        ``n_not_rated``, never dropped silently.
    alpha : float
        1 - confidence level of the Wilson intervals (default 0.05, 95% intervals).

    Returns
    -------
    DataFrame
        One row per group x rating: ``n`` (rated units in the group), ``count``, ``share``,
        ``ci_low``, ``ci_high``, ``n_not_rated``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cqc_research.ratings import RATING_DTYPE
    >>> d = pd.DataFrame({"g": ["a"] * 4, "rating": pd.Categorical(["Good"] * 3 + ["Inadequate"], dtype=RATING_DTYPE)})
    >>> rating_mix(d, by="g").set_index("rating")["count"].tolist()
    [1, 0, 3, 0]
    """
    by = [by] if isinstance(by, str) else list(by)
    scale_codes(data[rating], name=rating, source=data.attrs.get("source"))  # an unknown rating is an error
    rated = data[data[rating].notna()]
    counts = (rated.groupby(by, observed=True)[rating].value_counts(sort=False)
              .rename("count").reset_index())
    counts = counts[counts[rating].astype(str).isin(RATINGS)]
    n = rated.groupby(by, observed=True).size().rename("n").reset_index()
    not_rated = data[data[rating].isna()].groupby(by, observed=True).size().rename("n_not_rated").reset_index()
    out = counts.merge(n, on=by).merge(not_rated, on=by, how="left")
    out["n_not_rated"] = out["n_not_rated"].fillna(0).astype(int)
    out["share"] = out["count"] / out["n"]
    lo, hi = proportion_ci(out["count"].to_numpy(), out["n"].to_numpy(), alpha=alpha)
    out["ci_low"], out["ci_high"] = np.asarray(lo), np.asarray(hi)
    out[rating] = pd.Categorical(out[rating].astype(str), categories=RATINGS, ordered=True)
    return out[[*by, rating, "n", "count", "share", "ci_low", "ci_high", "n_not_rated"]].sort_values(
        [*by, rating]).reset_index(drop=True)


@keeps_provenance
def data_freshness(data: pd.DataFrame, *, date: str = "publication_date", by="sector",
                   as_of=None) -> pd.DataFrame:
    """How old the ratings are: per group, the newest and oldest publication date, the median
    age in months, and the share of ratings published more than two and four years before
    ``as_of`` (default: the newest date in the data).

    Ages are measured in months of 30.4375 days; rows without a date are left out.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per rating, with a datetime column ``date``.
    date : str
        The publication-date column (default ``"publication_date"``).
    by : str or list of str
        Grouping columns (default ``"sector"``).
    as_of : date-like, optional
        The date ages are measured to; default the newest date in ``data``.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``[*by], n, oldest, newest, median_age_months, share_older_than_2y,
        share_older_than_4y, as_of`` (shares as proportions, to three decimals).
    """
    by = [by] if isinstance(by, str) else list(by)
    d = data.dropna(subset=[date])
    as_of = pd.Timestamp(as_of) if as_of is not None else d[date].max()
    age = (as_of - d[date]).dt.days / 30.4375
    d = d.assign(_age=age)
    g = d.groupby(by, observed=True)
    out = pd.DataFrame({
        "n": g.size(),
        "oldest": g[date].min(),
        "newest": g[date].max(),
        "median_age_months": g["_age"].median().round(1),
        "share_older_than_2y": g["_age"].apply(lambda a: float((a > 24).mean())).round(3),
        "share_older_than_4y": g["_age"].apply(lambda a: float((a > 48).mean())).round(3),
    }).reset_index()
    out["as_of"] = as_of
    return out


@keeps_provenance
def source_agreement(data: pd.DataFrame, *, other: pd.DataFrame, key: str = "org_id",
                     column: str = "Overall") -> pd.DataFrame:
    """Do two sources (e.g. the Latest ratings workbook and the API) give the same rating?

    Parameters
    ----------
    data : pandas.DataFrame
        The first source (counted as ``a``), one row per organisation.
    other : pandas.DataFrame
        The second source (counted as ``b``), one row per organisation.
    key : str
        The organisation identifier both share (default ``"org_id"``).
    column : str
        The rating compared (default ``"Overall"``); compared as text.

    Returns
    -------
    pandas.DataFrame
        One row: ``n_a, n_b`` (distinct organisations in each source), ``n_both`` (joined rows),
        ``n_both_rated`` (rated in both), ``n_same`` and ``share_same`` (of ``n_both_rated``; NaN
        when none).

    Examples
    --------
    >>> a = pd.DataFrame({"org_id": ["1", "2", "3"], "Overall": ["Good", "Good", "Inadequate"]})
    >>> b = pd.DataFrame({"org_id": ["2", "3", "4"], "Overall": ["Good", "Good", "Good"]})
    >>> source_agreement(a, other=b)[["n_both", "n_same", "share_same"]]
       n_both  n_same  share_same
    0       2       1         0.5
    """
    a, b = data, other
    for frame in (a, b):  # an unknown rating is an error
        scale_codes(frame[column], name=column, source=frame.attrs.get("source"))
    both = a[[key, column]].merge(b[[key, column]], on=key, suffixes=("_a", "_b"))
    rated = both.dropna()
    same = int((rated[f"{column}_a"].astype(str) == rated[f"{column}_b"].astype(str)).sum())
    return pd.DataFrame([{"n_a": a[key].nunique(), "n_b": b[key].nunique(), "n_both": len(both),
                          "n_both_rated": len(rated), "n_same": same,
                          "share_same": same / len(rated) if len(rated) else np.nan}])
