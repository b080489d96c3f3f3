"""Local-authority names and codes: one rule set for matching areas across old and new codes.

Published files name local authorities with old codes (``716``, ``00KB``), ONS codes
(``E09000002``) and names that drift (``Bristol, City of`` / ``City of Bristol``). Both the
linkage of indicators to ratings (:mod:`cqc_research.link`) and the area metrics
(:mod:`cqc_research.metrics.areas`) reconcile them here.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .io.nhs import load_la_codes

__all__ = ["normalise_area_name", "reconcile_la_codes", "current_la_code"]

#: An ONS local-authority code of the current form (E06-E10).
LA_CODE_PATTERN = re.compile(r"^E(0[6-9]|10)\d{6}$")

_NAME_DROP = re.compile(r"\b(city of|county of|royal borough of|london borough of|metropolitan borough of|"
                        r"borough of|council|county|district|the)\b")


def normalise_area_name(name) -> str:
    """Fold a local-authority name for matching: case, '&'/'and', punctuation, 'City of', ...

    Parameters
    ----------
    name : str or None
        A local-authority name as published; ``None`` and NaN give ``""``.

    Returns
    -------
    str
        Lower case, ``&`` as ``and``, words such as "City of", "Borough of", "Council" and "the"
        dropped, punctuation as single spaces.

    Examples
    --------
    >>> normalise_area_name("Bristol, City of") == normalise_area_name("City of Bristol")
    True
    >>> normalise_area_name("Brighton & Hove")
    'brighton and hove'
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    s = str(name).casefold().replace("&", " and ")
    s = _NAME_DROP.sub(" ", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def reconcile_la_codes(indicators: pd.DataFrame, la_codes=None) -> pd.DataFrame:
    """Map every local-authority code in an indicator table to its current code.

    Parameters
    ----------
    indicators : pandas.DataFrame
        Indicator table(s) at ``org_level="local_authority"`` with ``org_code`` and
        ``org_name``; old codes (``716``, ``00KB``) and ONS codes (``E09000002``) may mix.
    la_codes : DataFrame or path, optional
        A lookup (``old_code, new_code[, name]``; :func:`cqc_research.io.nhs.load_la_codes`),
        applied first. It can also map an ONS code to a newer one (a reorganisation).

    Returns
    -------
    pandas.DataFrame
        ``org_code, org_name, current_code, how`` with ``how`` one of ``current`` (already
        an ONS-form code), ``lookup``, ``name`` (an old code sharing its normalised name with
        one current code), ``unresolved``.
    """
    ind = indicators[["org_code", "org_name"]].copy()
    ind["org_code"] = ind["org_code"].astype(str).str.strip().str.upper()
    pairs = ind.drop_duplicates().reset_index(drop=True)
    names = pairs.groupby("org_code")["org_name"].agg(
        lambda s: s.dropna().iloc[-1] if s.notna().any() else pd.NA)
    out = pd.DataFrame({"org_code": names.index, "org_name": names.to_numpy()})
    out["current_code"] = pd.Series(pd.NA, index=out.index, dtype="object")
    out["how"] = "unresolved"
    lookup = {}
    if la_codes is not None:
        if not isinstance(la_codes, pd.DataFrame):
            la_codes = load_la_codes(la_codes)
        lookup = dict(zip(la_codes["old_code"].astype(str).str.upper(),
                          la_codes["new_code"].astype(str).str.upper(), strict=True))
    is_current = out["org_code"].str.match(LA_CODE_PATTERN)
    out.loc[is_current, "current_code"] = out.loc[is_current, "org_code"]
    out.loc[is_current, "how"] = "current"
    in_lookup = out["org_code"].isin(lookup)
    out.loc[in_lookup, "current_code"] = out.loc[in_lookup, "org_code"].map(lookup)
    out.loc[in_lookup, "how"] = "lookup"
    # names of current codes -> code; an old code takes the current code sharing its name
    key = out["org_name"].map(normalise_area_name)
    current = out[out["how"].isin(["current", "lookup"])]
    by_name = {}
    for k, c in zip(key[current.index], current["current_code"], strict=True):
        if k:
            by_name.setdefault(k, set()).add(c)
    if la_codes is not None and "name" in la_codes:
        for n, c in zip(la_codes["name"], la_codes["new_code"].astype(str).str.upper(), strict=True):
            if normalise_area_name(n):
                by_name.setdefault(normalise_area_name(n), set()).add(c)
    todo = out["how"] == "unresolved"
    for i in out.index[todo]:
        cands = by_name.get(key[i], set())
        if len(cands) == 1:
            out.loc[i, ["current_code", "how"]] = [next(iter(cands)), "name"]
        elif len(cands) > 1:
            out.loc[i, "how"] = "ambiguous"
    # follow lookups of current codes (E06000028 -> E06000058) one more step
    again = out["current_code"].isin(lookup) & (out["current_code"] != out["org_code"])
    out.loc[again, "current_code"] = out.loc[again, "current_code"].map(lookup)
    unresolved = out["current_code"].isna()
    out.loc[unresolved, "current_code"] = out.loc[unresolved, "org_code"]
    return out


def la_name_map(recon: pd.DataFrame, la_codes=None) -> dict:
    """Normalised area name -> the set of current codes carrying it.

    Parameters
    ----------
    recon : pandas.DataFrame
        The output of :func:`reconcile_la_codes` (``org_name``, ``current_code``).
    la_codes : pandas.DataFrame, optional
        A code lookup with a ``name`` column, whose names are added.

    Returns
    -------
    dict of str to set of str
    """
    by_name: dict[str, set] = {}
    for n, c in zip(recon["org_name"], recon["current_code"], strict=True):
        k = normalise_area_name(n)
        if k:
            by_name.setdefault(k, set()).add(c)
    if isinstance(la_codes, pd.DataFrame) and "name" in la_codes:
        for n, c in zip(la_codes["name"], la_codes["new_code"].astype(str).str.upper(), strict=True):
            k = normalise_area_name(n)
            if k:
                by_name.setdefault(k, set()).add(c)
    return by_name


def current_la_code(codes, *, names=None, la_codes=None) -> pd.Series:
    """Map local-authority codes (old or ONS) to their current ONS code.

    Parameters
    ----------
    codes : array-like of str
        The codes as published.
    names : array-like of str, optional
        The names published beside them (used to resolve old codes by name).
    la_codes : DataFrame or path, optional
        A lookup ``old_code, new_code[, name]``.

    Returns
    -------
    pandas.Series
        The current code for each input code (the input code itself when unresolved), with the
        input's index when ``codes`` is a Series.

    Examples
    --------
    >>> current_la_code(["E09000002", "00AB"], la_codes=pd.DataFrame(
    ...     {"old_code": ["00AB"], "new_code": ["E09000002"]})).tolist()
    ['E09000002', 'E09000002']
    """
    codes_s = pd.Series(codes) if not isinstance(codes, pd.Series) else codes
    frame = pd.DataFrame({"org_code": codes_s.astype(str).to_numpy(),
                          "org_name": (pd.Series(names).to_numpy() if names is not None
                                       else pd.NA)})
    recon = reconcile_la_codes(frame, la_codes)
    mapping = dict(zip(recon["org_code"], recon["current_code"], strict=True))
    folded = codes_s.astype(str).str.strip().str.upper()
    return folded.map(mapping).fillna(folded).rename(codes_s.name)
