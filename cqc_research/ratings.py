"""The CQC rating scale, domains, sectors and colours: the vocabulary in one place.

Ratings are an ordered :class:`pandas.CategoricalDtype`
(Inadequate < Requires improvement < Good < Outstanding). Values that are not on the scale
("Not rated", "Inspected but not rated", ..., and the regulatory judgements of older records such
as "No action" and "Compliance action") are never coerced silently: they are kept in a separate
``rating_status`` column, the ``rating`` is missing for them, and the published text stays in
``rating_text``. A value nobody here has seen is kept as ``Unknown`` and warned about, or, with
``strict=True``, is an error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import DataFormatError, UnknownRatingError

__all__ = [
    "RATINGS",
    "RATING_DTYPE",
    "NON_SCALE",
    "DOMAINS",
    "KEY_QUESTIONS",
    "SECTORS",
    "normalise_rating",
    "parse_ratings",
    "filter_sector",
    "rating_codes",
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
#: Regulatory judgements that older records hold where a rating would be: the judgements on
#: the key questions of services CQC does not rate (dental practices, and independent doctors
#: before 2019: ``No action``, ``Requirement notice``, ``Enforcement action``, ...) and the
#: compliance judgements of the essential standards before October 2014 (``Compliance
#: action``, ``Met this standard``, ...). They are not on the rating scale and are kept as a
#: status, with the published text in ``rating_text``.
JUDGEMENTS = [
    "No action",
    "Requirement notice",
    "Warning notice",
    "Enforcement action",
    "Compliance action",
    "Improvement action needed",
    "Met this standard",
    "Not met this standard",
    "Minor concerns",
    "Moderate concerns",
    "Major concerns",
]
#: ``rating_status`` values: ``Rated`` for scale values, a non-scale label, a regulatory
#: judgement, or ``Unknown`` (a value nobody here has seen; its text is kept in ``rating_text``).
STATUS_DTYPE = pd.CategoricalDtype(["Rated", *NON_SCALE, *JUDGEMENTS, "Unknown"])


class UnknownRatingWarning(UserWarning):
    """Rating values that are neither on the scale nor a known status were kept as ``Unknown``."""

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
        _key("No rating published"): "No published rating",
        _key("Not rated yet"): "Not rated",
    }
)
_STATUS_LOOKUP.update({_key(v): v for v in JUDGEMENTS})
_STATUS_LOOKUP.update(
    {
        _key(variant): canonical
        for variant, canonical in [
            ("No action required", "No action"),
            ("No action needed", "No action"),
            ("No further action", "No action"),
            ("Requirements notice", "Requirement notice"),
            ("Requirement notices", "Requirement notice"),
            ("Requirements notices", "Requirement notice"),
            ("Warning notices", "Warning notice"),
            ("Enforcement actions", "Enforcement action"),
            ("Enforcement action taken", "Enforcement action"),
            ("Enforcement action being taken", "Enforcement action"),
            ("Compliance actions", "Compliance action"),
            ("Action needed", "Improvement action needed"),
            ("Improvements required", "Improvement action needed"),
            ("Meeting this standard", "Met this standard"),
            ("Standard met", "Met this standard"),
            ("Not meeting this standard", "Not met this standard"),
            ("Standard not met", "Not met this standard"),
        ]
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


def unknown_rating_message(counts: dict, first_where: str | None) -> str:
    """One sentence naming unknown rating values, how often each occurs, and where the first is.

    Parameters
    ----------
    counts : dict of str to int
        Each unknown value as published -> how many times it occurs (the first 8 are named).
    first_where : str or None
        Where the first one was found (file, sheet, row, organisation), if known.

    Returns
    -------
    str
        The message of an :class:`UnknownRatingWarning`.

    Examples
    --------
    >>> unknown_rating_message({"Great": 3}, "ratings.csv, row 4")[-40:]
    "'Great' x 3; first at ratings.csv, row 4"
    """
    shown = ", ".join(f"{v!r} x {n:,}" for v, n in list(counts.items())[:8])
    more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
    return (f"kept {sum(counts.values()):,} rating value(s) that are neither on the scale nor a "
            f"known status as rating_status 'Unknown' (text in rating_text): {shown}{more}"
            + (f"; first at {first_where}" if first_where else ""))


def warn_unknown_ratings(frame: pd.DataFrame, where: str, *, id_column: str = "org_id",
                         stacklevel: int = 3) -> dict:
    """Warn once about the ``Unknown`` ratings of a loaded table; returns ``{text: count}``.

    ``where`` names the source; the first row's organisation (``id_column``) is added.

    Parameters
    ----------
    frame : pandas.DataFrame
        A loaded table with ``rating_status`` and ``rating_text`` columns (tables without
        them are left alone).
    where : str
        The source, e.g. the file's path, for the message.
    id_column : str, default "org_id"
        The column naming the organisation of the first ``Unknown`` row, if present.
    stacklevel : int, default 3
        Passed to :func:`warnings.warn`, so that the warning points at the loader's caller.

    Returns
    -------
    dict of str to int
        Each unknown published text -> its count; empty (and no warning) when there are none.

    Warns
    -----
    UnknownRatingWarning
        One, naming the values, their counts and where the first is.
    """
    if "rating_status" not in frame or "rating_text" not in frame:
        return {}
    bad = (frame["rating_status"] == "Unknown").to_numpy()
    if not bad.any():
        return {}
    sub = frame.loc[bad]
    counts = {str(v): int(n) for v, n in
              sub["rating_text"].astype("object").value_counts(sort=False).items()}
    first = sub.iloc[0]
    at = where + (f", {id_column.replace('_', ' ')} {first[id_column]}" if id_column in sub else "")
    if "domain" in sub and pd.notna(first["domain"]):
        at += f", domain {first['domain']}"
    warnings.warn(unknown_rating_message(counts, at), UnknownRatingWarning, stacklevel=stacklevel)
    return counts


def strict_from(strict, unknown) -> bool:
    """Whether a loader should stop at unknown ratings, from ``strict`` or its older ``unknown``.

    Parameters
    ----------
    strict : bool
        The loader's ``strict`` option.
    unknown : {"raise", "keep"} or None
        The older spelling; when given it wins over ``strict``.

    Returns
    -------
    bool
        True to raise at unknown rating values, False to keep them as ``Unknown``.

    Raises
    ------
    ValueError
        If ``unknown`` is neither None, ``"raise"`` nor ``"keep"``.

    Examples
    --------
    >>> strict_from(False, "raise"), strict_from(True, None)
    (True, True)
    """
    if unknown is None:
        return bool(strict)
    if unknown not in {"raise", "keep"}:
        raise ValueError(f"unknown must be 'raise' or 'keep', not {unknown!r}")
    return unknown == "raise"


def parse_ratings(values, *, strict: bool = False, unknown: str | None = None,
                  where: str | None = None, rows=None, warn: bool = True):
    """Turn published rating strings into ``rating``, ``rating_status`` and ``rating_text``.

    Parameters
    ----------
    values : array-like of str
        Ratings as published. Empty cells are treated as "No published rating".
    strict : bool
        A value that is neither a rating nor a known status (:data:`NON_SCALE`,
        :data:`JUDGEMENTS`) raises :class:`~cqc_research.errors.UnknownRatingError` naming the
        value and where it was found. By default it is kept: ``rating_status`` is ``Unknown``,
        the text stays in ``rating_text``, and one :class:`UnknownRatingWarning` says how many
        there were and where the first is.
    unknown : {"raise", "keep"}, optional
        The older spelling of ``strict`` (``"raise"`` is ``strict=True``).
    where : str, optional
        A description of the source (file, sheet, column) used in messages.
    rows : array-like of int, optional
        Row numbers as the user would see them, aligned with ``values``, for messages.
    warn : bool
        Warn about kept unknown values (callers that warn once per load pass False).

    Returns
    -------
    pandas.DataFrame
        Columns ``rating`` (ordered categorical), ``rating_status`` (categorical,
        :data:`STATUS_DTYPE`) and ``rating_text`` (the published text, stripped; NA when blank).

    Examples
    --------
    >>> parse_ratings(["Good", "requires improvement", "Not rated"])["rating"].tolist()
    ['Good', 'Requires improvement', nan]
    >>> parse_ratings(["No action"])["rating_status"].tolist()
    ['No action']
    """
    strict = strict_from(strict, unknown)
    s = pd.Series(values, dtype="object").reset_index(drop=True)
    text = s.where(s.isna(), s.astype(str).str.strip())
    blank = s.isna() | (text == "")
    uniques = pd.unique(s[~blank])
    rating_map, status_map, bad = {}, {}, []
    for u in uniques:
        r, st = normalise_rating(u)
        if st is None:
            bad.append(u)
            st = "Unknown"
        rating_map[u], status_map[u] = r, st
    if bad:
        is_bad = s.isin(bad).to_numpy()
        pos = int(np.flatnonzero(is_bad)[0])
        row = int(np.asarray(rows)[pos]) if rows is not None else None
        first_where = ", ".join(x for x in (where, f"row {row}" if row is not None else None) if x)
        if strict:
            raise UnknownRatingError(
                f"unknown rating {s.iloc[pos]!r}; expected one of {RATINGS}, a status "
                f"({NON_SCALE}) or a regulatory judgement ({JUDGEMENTS})"
                + (f" [{len(bad)} distinct unknown values]" if len(bad) > 1 else ""),
                path=where, row=row,
                hint="strict=True stops at such values; without it they are kept as 'Unknown'",
                cli_hint="--strict stops at such values; without it they are kept as 'Unknown'")
        if warn:
            counts = {str(v): int(n) for v, n in s[is_bad].value_counts(sort=False).items()}
            warnings.warn(unknown_rating_message(counts, first_where or None),
                          UnknownRatingWarning, stacklevel=2)
    rating = s.map(rating_map).where(~blank, None)
    status = s.map(status_map).where(~blank, "No published rating")
    return pd.DataFrame(
        {
            "rating": pd.Categorical(rating, dtype=RATING_DTYPE),
            "rating_status": pd.Categorical(status, dtype=STATUS_DTYPE),
            "rating_text": pd.Categorical(text.where(~blank, None)),
        }
    )


def normalise_domain(value, *, where: str | None = None) -> str:
    """Normalise a domain (key question) name: ``"Well led"`` -> ``"Well-led"``.

    Parameters
    ----------
    value : str
        A domain as published, in any case and spacing (``Key Question`` names included).
    where : str, optional
        The source (file, sheet), for the error.

    Returns
    -------
    str
        One of :data:`DOMAINS`.

    Raises
    ------
    DataFormatError
        For a value that is not Overall or one of the five key questions.

    Examples
    --------
    >>> normalise_domain("well led")
    'Well-led'
    """
    key = _key(value)
    if key in _DOMAIN_LOOKUP:
        return _DOMAIN_LOOKUP[key]

    raise DataFormatError(f"unknown domain {value!r}; expected one of {DOMAINS}", path=where)


def normalise_domains(values, *, where: str | None = None) -> pd.Categorical:
    """Vectorised :func:`normalise_domain`, returning an ordered categorical.

    Parameters
    ----------
    values : array-like of str
        Domains as published; missing values stay missing.
    where : str, optional
        The source (file, sheet), for the error.

    Returns
    -------
    pandas.Categorical
        With dtype :data:`DOMAIN_DTYPE`.

    Raises
    ------
    DataFormatError
        At the first value that is not a domain.

    Examples
    --------
    >>> normalise_domains(["safe", "Overall"]).tolist()
    ['Safe', 'Overall']
    """
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

    Parameters
    ----------
    inspection_category : str or None
        A location's or provider's primary inspection category as published.

    Returns
    -------
    str
        One of :data:`SECTORS`; ``"Other"`` for a missing or unmatched category.

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
    """Vectorised :func:`sector_of`.

    Parameters
    ----------
    categories : iterable of str
        Primary inspection categories; missing values give ``"Other"``.

    Returns
    -------
    pandas.Categorical
        With dtype :data:`SECTOR_DTYPE`, one value per category.

    Examples
    --------
    >>> sectors_of(["GP Practices", None, "Acute hospital - NHS"]).tolist()
    ['GP practices', 'Other', 'NHS hospitals']
    """
    s = pd.Series(list(categories) if not isinstance(categories, pd.Series) else categories,
                  dtype="object")
    mapping = {u: sector_of(u) for u in pd.unique(s.dropna())}
    return pd.Categorical(s.map(mapping).fillna("Other"), dtype=SECTOR_DTYPE)


def rating_codes(ratings) -> np.ndarray:
    """Ratings as integer scores 1 (Inadequate) to 4 (Outstanding), NaN when not rated.

    Parameters
    ----------
    ratings : array-like
        Ratings on the scale (strings or :data:`RATING_DTYPE`), missing where not rated.
        (Values off the scale, such as ``"Not rated"``, give NaN too, but pandas deprecates
        them: pass the ``rating`` column, not ``rating_text``.)

    Returns
    -------
    numpy.ndarray
        ``float64`` scores.

    Examples
    --------
    >>> rating_codes(["Good", "Inadequate", None, "Outstanding"]).tolist()
    [3.0, 1.0, nan, 4.0]
    """
    cat = pd.Categorical(ratings, dtype=RATING_DTYPE)
    codes = cat.codes.astype(float) + 1
    codes[cat.codes < 0] = np.nan
    return codes


def filter_sector(data: pd.DataFrame, sector: str | None) -> pd.DataFrame:
    """Rows whose ``sector`` or ``inspection_category`` equals ``sector`` (case-insensitive).

    ``None``, ``""`` and ``"All"`` keep every row. This lets notebooks take either a coarse sector
    ("GP practices") or a CQC inspection category ("GP Practices").

    Parameters
    ----------
    data : pandas.DataFrame
        A table with a ``sector`` and/or ``inspection_category`` column.
    sector : str or None
        A sector (:data:`SECTORS`) or inspection category, compared ignoring case and spacing.

    Returns
    -------
    pandas.DataFrame
        The matching rows (``data`` itself when every row is kept).

    Raises
    ------
    ValueError
        If no row matches; the message lists the sectors present.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"sector": ["GP practices", "Other"],
    ...                      "inspection_category": ["GP Practices", "Dentists"]})
    >>> filter_sector(data, "dentists").index.tolist()
    [1]
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
