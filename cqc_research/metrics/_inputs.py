"""Shared inputs of the metrics: checking ``data=``, rating codes, column lists, count tables.

Internal to :mod:`cqc_research.metrics` (its names are not exported).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ..ratings import DOMAINS, RATINGS, parse_ratings

__all__: list[str] = []  # internal to cqc_research.metrics

#: Number of points on the rating scale.
K = len(RATINGS)


def check_frame(data, columns: Iterable[str], func: str) -> pd.DataFrame:
    """Friendly errors for a wrong ``data`` argument or missing columns.

    Parameters
    ----------
    data : object
        What the caller passed as ``data``.
    columns : iterable of str
        The columns the function needs.
    func : str
        The calling function's name, for the message.

    Returns
    -------
    pandas.DataFrame
        ``data`` itself.

    Raises
    ------
    TypeError
        When ``data`` is not a DataFrame.
    DataFormatError
        When a column is missing (naming it and the file the frame came from).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{func}: data must be a pandas DataFrame, not {type(data).__name__}; "
                        "pass column names as the other arguments")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataFormatError(
            f"{func}: missing column(s) {missing}; expected the wide ratings table "
            f"(io.cqc_files.ratings_wide) with columns {DOMAINS}; columns present: "
            f"{list(map(str, data.columns))[:20]}",
            path=data.attrs.get("source"), column=missing[0])
    return data


def scale_codes(values, *, name: str = "rating", source=None) -> np.ndarray:
    """Integer codes 0..3 (Inadequate..Outstanding), -1 where there is no rating on the scale.

    Not :func:`cqc_research.ratings.rating_codes` (1..4 with NaN): these index a 4 x 4 table.

    Parameters
    ----------
    values : Series or array-like
        Ratings: the ordered categorical, codes 0-3, or published strings.
    name : str
        The column's name, for error messages.
    source : str, optional
        The file the values came from, for error messages.

    Returns
    -------
    numpy.ndarray of int64

    Categoricals with the rating scale's categories are used as they are; strings are parsed
    with :func:`cqc_research.ratings.parse_ratings`, which raises a :class:`DataFormatError`
    naming the column and row for a value that is neither a rating nor a known status.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype) and list(s.cat.categories) == RATINGS:
        return s.cat.codes.to_numpy(dtype=np.int64)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        ok = np.isnan(arr) | np.isin(arr, np.arange(K))
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise DataFormatError(
                f"numeric ratings must be codes 0-3 (Inadequate..Outstanding) or NaN, "
                f"found {arr[bad]!r}", path=source, row=bad + 1, column=name)
        return np.where(np.isnan(arr), -1, arr).astype(np.int64)
    where = f"{source}, column {name!r}" if source else f"column {name!r}"
    parsed = parse_ratings(s.to_numpy(dtype=object), where=where, strict=True,
                           rows=np.arange(1, len(s) + 1))
    return parsed["rating"].cat.codes.to_numpy(dtype=np.int64)


def as_list(x) -> list:
    """``None`` -> ``[]``, a string -> ``[x]``, anything else -> ``list(x)``.

    Parameters
    ----------
    x : None, str or iterable
        A column name or several.

    Returns
    -------
    list

    Examples
    --------
    >>> as_list("sector"), as_list(None), as_list(("a", "b"))
    (['sector'], [], ['a', 'b'])
    """
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def code_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """4 x 4 counts of (a, b) rating codes, pairs with a missing code (-1) left out.

    Parameters
    ----------
    a, b : numpy.ndarray of int
        Codes from :func:`scale_codes`.

    Returns
    -------
    numpy.ndarray
        ``counts[i, j]`` = pairs with ``a == i`` and ``b == j``.
    """
    ok = (a >= 0) & (b >= 0)
    return np.bincount(a[ok] * K + b[ok], minlength=K * K).reshape(K, K)
