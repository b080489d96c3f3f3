"""The CQC rating scale, domains, sectors and colours: the vocabulary in one place.

Ratings are an ordered :class:`pandas.CategoricalDtype`
(Inadequate < Requires improvement < Good < Outstanding). Values that are not on the scale
("Not rated", "Inspected but not rated", ...) are never coerced silently: they are kept in a
separate ``rating_status`` column, and the ``rating`` is missing for them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import UnknownRatingError

__all__ = [
    "RATINGS",
    "RATING_DTYPE",
    "NON_SCALE",
    "STATUS_DTYPE",
    "DOMAINS",
    "KEY_QUESTIONS",
    "DOMAIN_DTYPE",
    "SECTORS",
    "SECTOR_DTYPE",
    "RATING_COLOURS",
    "normalise_rating",
    "parse_ratings",
    "normalise_domain",
    "sector_of",
    "rating_codes",
    "filter_sector",
]

#: The rating scale, worst to best.
RATINGS = ["Inadequate", "Requires improvement", "Good", "Outstanding"]
#: Ordered categorical dtype for ratings.
RATING_DTYPE = pd.CategoricalDtype(RATINGS, ordered=True)

#: Published values that are not on the scale. They are kept as a status, never dropped.
NON_SCALE = [
    "Insufficient evidence to rate",
    "Inspected but not rated",
    "No published rating",
    "Not rated",
]
#: ``rating_status`` values: ``Rated`` for scale values, a non-scale label, or ``Unknown``.
STATUS_DTYPE = pd.CategoricalDtype(["Rated", *NON_SCALE, "Unknown"])

#: Overall and the five key questions, in CQC's order.
DOMAINS = ["Overall", "Safe", "Effective", "Caring", "Responsive", "Well-led"]
KEY_QUESTIONS = DOMAINS[1:]
DOMAIN_DTYPE = pd.CategoricalDtype(DOMAINS, ordered=True)

#: Coarse sectors used to split analyses; ``inspection_category`` keeps the fine detail.
SECTORS = ["NHS hospitals", "GP practices", "Adult social care", "Other"]
SECTOR_DTYPE = pd.CategoricalDtype(SECTORS)

#: Colours for figures: CQC's convention of red, amber, green, with a deeper green for
#: Outstanding (which CQC also marks with a star) and grey for anything not rated.
RATING_COLOURS = {
    "Outstanding": "#0b6b3a",
    "Good": "#6fb33f",
    "Requires improvement": "#f2a900",
    "Inadequate": "#c8102e",
    "Not rated": "#a0a0a0",
}


def _key(text: str) -> str:
    """Fold case, spacing and dashes so that variants compare equal."""
    return re.sub(r"[\s_\-–]+", " ", str(text)).strip().casefold()


_RATING_LOOKUP = {_key(v): v for v in RATINGS}
_STATUS_LOOKUP = {_key(v): v for v in NON_SCALE}
# Variants seen in published files and the API.
_STATUS_LOOKUP.update(
    {
        _key("Insufficient evidence"): "Insufficient evidence to rate",
        _key("Not yet rated"): "Not rated",
        _key("No rating"): "No published rating",
    }
)
_DOMAIN_LOOKUP = {_key(d): d for d in DOMAINS}
_DOMAIN_LOOKUP.update(
    {
        _key("Well led"): "Well-led",
        _key("Wellled"): "Well-led",
        _key("Is the service safe?"): "Safe",
        _key("Is the service effective?"): "Effective",
        _key("Is the service caring?"): "Caring",
        _key("Is the service responsive?"): "Responsive",
        _key("Is the service well-led?"): "Well-led",
        _key("Overall rating"): "Overall",
    }
)


def normalise_rating(value) -> tuple[str | None, str | None]:
    """Normalise one published rating string.

    Parameters
    ----------
    value : str or None
        A rating as published, in any case and spacing.

    Returns
    -------
    rating : str or None
        The scale value, or None when the value is not on the scale.
    status : str or None
        ``"Rated"``, a non-scale label, or None when the value is unknown or missing.

    Examples
    --------
    >>> normalise_rating("Requires Improvement")
    ('Requires improvement', 'Rated')
    >>> normalise_rating("not rated")
    (None, 'Not rated')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, None
    key = _key(value)
    if key in _RATING_LOOKUP:
        return _RATING_LOOKUP[key], "Rated"
    if key in _STATUS_LOOKUP:
        return None, _STATUS_LOOKUP[key]
    return None, None


def parse_ratings(values, *, unknown: str = "raise", where: str | None = None, rows=None):
    """Turn published rating strings into ``rating`` and ``rating_status`` columns.

    Parameters
    ----------
    values : array-like of str
        Ratings as published. Empty cells are treated as "No published rating".
    unknown : {"raise", "keep"}
        What to do with a value that is neither a rating nor a known status. ``"raise"`` raises
        :class:`~cqc_research.errors.UnknownRatingError` naming the value and where it was
        found; ``"keep"`` marks it ``Unknown`` in ``rating_status`` and warns.
    where : str, optional
        A description of the source (file, sheet, column) used in the error message.
    rows : array-like of int, optional
        Row numbers as the user would see them, aligned with ``values``, for the error message.

    Returns
    -------
    pandas.DataFrame
        Columns ``rating`` (ordered categorical) and ``rating_status`` (categorical).

    Examples
    --------
    >>> parse_ratings(["Good", "requires improvement", "Not rated"])["rating"].tolist()
    ['Good', 'Requires improvement', nan]
    """
    if unknown not in {"raise", "keep"}:
        raise ValueError(f"unknown must be 'raise' or 'keep', not {unknown!r}")
    s = pd.Series(values, dtype="object").reset_index(drop=True)
    blank = s.isna() | (s.astype(str).str.strip() == "")
    uniques = pd.unique(s[~blank])
    rating_map, status_map, bad = {}, {}, []
    for u in uniques:
        r, st = normalise_rating(u)
        if st is None:
            bad.append(u)
            st = "Unknown"
        rating_map[u], status_map[u] = r, st
    if bad and unknown == "raise":
        first = bad[0]
        pos = int(np.flatnonzero((s == first).to_numpy())[0])
        row = int(np.asarray(rows)[pos]) if rows is not None else None
        raise UnknownRatingError(
            f"unknown rating {first!r}; expected one of {RATINGS + NON_SCALE} "
            f"(pass unknown='keep' to keep such values as 'Unknown')"
            + (f" [{len(bad)} distinct unknown values]" if len(bad) > 1 else ""),
            path=where,
            row=row,
        )
    if bad:
        warnings.warn(f"{where or 'ratings'}: kept unknown rating values as 'Unknown': {bad[:5]}",
                      stacklevel=2)
    rating = s.map(rating_map).where(~blank, None)
    status = s.map(status_map).where(~blank, "No published rating")
    return pd.DataFrame(
        {
            "rating": pd.Categorical(rating, dtype=RATING_DTYPE),
            "rating_status": pd.Categorical(status, dtype=STATUS_DTYPE),
        }
    )


def normalise_domain(value, *, where: str | None = None) -> str:
    """Normalise a domain (key question) name: ``"Well led"`` -> ``"Well-led"``.

    Raises
    ------
    DataFormatError
        For a value that is not Overall or one of the five key questions.
    """
    key = _key(value)
    if key in _DOMAIN_LOOKUP:
        return _DOMAIN_LOOKUP[key]
    from .errors import DataFormatError

    raise DataFormatError(f"unknown domain {value!r}; expected one of {DOMAINS}", path=where)


def normalise_domains(values, *, where: str | None = None) -> pd.Categorical:
    """Vectorised :func:`normalise_domain`, returning an ordered categorical."""
    s = pd.Series(values, dtype="object")
    mapping = {u: normalise_domain(u, where=where) for u in pd.unique(s.dropna())}
    return pd.Categorical(s.map(mapping), dtype=DOMAIN_DTYPE)


_SECTOR_RULES = [
    (re.compile(r"\bNHS\b|ambulance", re.I), "NHS hospitals"),
    (re.compile(r"^GP Practices$|general practice", re.I), "GP practices"),
    (re.compile(r"social care|care home|homecare|home care|supported living|shared lives|extra care", re.I),
     "Adult social care"),
]


def sector_of(inspection_category) -> str:
    """Map a CQC primary inspection category to a coarse sector.

    Examples
    --------
    >>> sector_of("Acute hospital - NHS non-specialist")
    'NHS hospitals'
    >>> sector_of("Community based adult social care services")
    'Adult social care'
    """
    if inspection_category is None or (isinstance(inspection_category, float)
                                       and np.isnan(inspection_category)):
        return "Other"
    for pattern, sector in _SECTOR_RULES:
        if pattern.search(str(inspection_category)):
            return sector
    return "Other"


def sectors_of(categories: Iterable) -> pd.Categorical:
    """Vectorised :func:`sector_of`."""
    s = pd.Series(list(categories) if not isinstance(categories, pd.Series) else categories,
                  dtype="object")
    mapping = {u: sector_of(u) for u in pd.unique(s.dropna())}
    return pd.Categorical(s.map(mapping).fillna("Other"), dtype=SECTOR_DTYPE)


def rating_codes(ratings) -> np.ndarray:
    """Ratings as integer scores 1 (Inadequate) to 4 (Outstanding), NaN when not rated."""
    cat = pd.Categorical(ratings, dtype=RATING_DTYPE)
    codes = cat.codes.astype(float) + 1
    codes[cat.codes < 0] = np.nan
    return codes


def filter_sector(data: pd.DataFrame, sector: str | None) -> pd.DataFrame:
    """Rows whose ``sector`` or ``inspection_category`` equals ``sector`` (case-insensitive).

    ``None``, ``""`` and ``"All"`` keep every row. This lets notebooks take either a coarse sector
    ("GP practices") or a CQC inspection category ("GP Practices").
    """
    if sector is None or _key(sector) in {"", "all"}:
        return data
    want = _key(sector)
    mask = pd.Series(False, index=data.index)
    for col in ("sector", "inspection_category"):
        if col in data:
            mask |= data[col].astype("object").map(lambda v: _key(v) == want if pd.notna(v) else False)
    if not mask.any():
        choices = sorted(set(data.get("sector", pd.Series(dtype=object)).dropna().astype(str)))
        raise ValueError(f"no rows for sector {sector!r}; sectors present: {choices}")
    return data[mask]
