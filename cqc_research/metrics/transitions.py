"""Improvement journeys: how ratings change from one inspection to the next.

The input is a rating-history panel: one row per organisation x inspection report x domain, with
``org_id, report_date, domain, rating, rating_status`` and, where known, ``sector``,
``report_link_id``, ``source`` and ``organisation_id`` (the predecessor a rating was inherited
from). :func:`cqc_research.io.cqc_json.load_api_folder` builds it from CQC API records
(``.history``; ``.relationships`` holds the predecessor links). A series of monthly "Latest
ratings" files can stand in for it through :func:`history_from_snapshots`.

The steps, each counted in the report of ``consecutive_pairs(..., with_report=True)`` so nothing is dropped silently:

1. keep one level (locations by default) and the requested domains;
2. follow predecessor relationships (``HSCA Predecessor`` / ``HSCA Successor``), so that an NHS
   trust re-registration or a location move continues one *journey*. Only one-to-one links are
   followed: a predecessor with two successors (a split) or a successor with two predecessors
   (a merger) starts new journeys, since interleaving two histories would invent transitions;
3. drop non-scale outcomes ("Inspected but not rated", ...): the inspections either side of them
   are paired, since the rating stood in between;
4. de-duplicate reports seen twice (the same report in ``currentRatings`` and ``historicRatings``,
   or inherited by a successor and also held by its predecessor): one rating per journey, domain
   and report date, preferring the ``current`` source;
5. pair each rating with the next one in the same journey and domain.

Then :func:`transition_matrix` counts pairs (with multinomial confidence intervals for the row
shares), :func:`improvement_from` gives the share of, say, Inadequate ratings followed by a better
one, and :func:`time_to_improvement` estimates the time to improvement by Kaplan-Meier, censoring
services not yet re-inspected (or not yet improved) at the data date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import multinomial_proportions_confint

from ..errors import DataFormatError
from ..ratings import DOMAIN_DTYPE, RATING_DTYPE, RATINGS, SECTOR_DTYPE
from ._contract import keeps_provenance
from ._inputs import as_list, scale_codes
from .intervals import proportion_ci

__all__ = [
    "history_from_snapshots",
    "consecutive_pairs",
    "transition_matrix",
    "improvement_from",
    "time_to_improvement",
]

#: Average days per month, for durations in months.
DAYS_PER_MONTH = 365.25 / 12
_SOURCE_PRIORITY = {"current": 0, "historic": 1, "snapshot": 2}
_REQUIRED = ("org_id", "report_date", "domain", "rating")


# ----------------------------------------------------------------------------------------------
# inputs
@keeps_provenance
def history_from_snapshots(data, *, level: str | None = "location",
                           service_group: str | None = "Overall") -> pd.DataFrame:
    """Turn a series of "Latest ratings" snapshots into a rating-history panel.

    Each monthly file holds every organisation's latest rating with its ``publication_date``;
    a new publication date for the same organisation and domain is a new report. Reports
    published and superseded between two snapshots are missed, so monthly files give a lower
    bound on the number of transitions (say so when using them).

    Parameters
    ----------
    data : DataFrame or iterable of DataFrame
        Long ratings tables (``io.cqc_files.load_latest_ratings``), or one table holding several
        snapshots stacked.
    level : str or None
        Keep ``"location"`` (default) or ``"provider"`` rows; None keeps both.
    service_group : str or None
        Keep this service / population group (``"Overall"``, the organisation as a whole).

    Returns
    -------
    DataFrame
        The history panel: ``org_id, level, sector, inspection_category, local_authority,
        region, report_date, report_link_id, domain, rating, rating_status, source
        ("snapshot"), organisation_id``, one row per organisation x publication date x domain.
    """
    frames = [data] if isinstance(data, pd.DataFrame) else list(data)
    if not frames:
        raise ValueError("no snapshots given")
    data = pd.concat(frames, ignore_index=True)
    _check_scale(data, ("rating",))
    for col in ("org_id", "domain", "rating", "publication_date"):
        if col not in data.columns:
            raise DataFormatError(f"snapshot table has no {col!r} column; expected the long ratings "
                                  "table of io.cqc_files.load_latest_ratings", column=col)
    if level is not None and "level" in data:
        data = data[data["level"] == level]
    if service_group is not None and "service_group" in data:
        data = data[data["service_group"] == service_group]
    out = data.rename(columns={"publication_date": "report_date"})
    out["report_date"] = pd.to_datetime(out["report_date"], errors="coerce")
    out["source"] = "snapshot"
    keep = ["org_id", "level", "sector", "inspection_category", "local_authority", "region",
            "report_date", "domain", "rating", "rating_status", "source"]
    out = out[[c for c in keep if c in out.columns]].copy()
    out["report_link_id"] = pd.NA
    out["organisation_id"] = pd.NA
    out = out.drop_duplicates(subset=["org_id", "domain", "report_date"], keep="last")
    return out.sort_values(["org_id", "domain", "report_date"]).reset_index(drop=True)


def _check_scale(data: pd.DataFrame, columns) -> None:
    """Raise UnknownRatingError for a value of a rating column that is neither a rating nor a status."""
    for c in columns:
        if c in data.columns:
            scale_codes(data[c], name=c)


def _check_history(history: pd.DataFrame) -> None:
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be a pandas DataFrame, not {type(history).__name__}")
    missing = [c for c in _REQUIRED if c not in history.columns]
    if missing:
        raise DataFormatError(
            f"the rating history has no column(s) {missing}; expected the panel of "
            "io.cqc_json.load_api_folder(folder).history (or history_from_snapshots)",
            column=missing[0])
    _check_scale(history, ("rating",))
    bad = pd.to_datetime(history["report_date"], errors="coerce").isna() & history["report_date"].notna()
    if bad.any():
        i = history.index[bad.to_numpy()][0]
        raise DataFormatError(f"report_date {history.at[i, 'report_date']!r} at index {i!r} is not a date",
                              column="report_date")


def _journeys(org_ids: Iterable, relationships: pd.DataFrame | None,
              types: Sequence[str]) -> tuple[dict, dict]:
    """Map each org to the id of its journey (the last org of a one-to-one predecessor chain)."""
    report = {"predecessor_links": 0, "links_followed": 0, "links_not_one_to_one": 0}
    orgs = set(org_ids)
    if relationships is None or len(relationships) == 0:
        return {o: o for o in orgs}, report
    rel = relationships
    need = {"org_id", "related_id", "type"}
    if not need <= set(rel.columns):
        raise DataFormatError(f"relationships table needs columns {sorted(need)}; got {list(rel.columns)}",
                              column=sorted(need - set(rel.columns))[0])
    pred_types = [t for t in types if "uccessor" not in t]
    succ_types = [t.replace("Predecessor", "Successor") for t in pred_types]
    edges = set()  # (predecessor, successor)
    for o, r, t in rel[["org_id", "related_id", "type"]].itertuples(index=False):
        if pd.isna(o) or pd.isna(r):
            continue
        if t in pred_types:
            edges.add((str(r), str(o)))
        elif t in succ_types:
            edges.add((str(o), str(r)))
    report["predecessor_links"] = len(edges)
    n_succ: dict[str, int] = {}
    n_pred: dict[str, int] = {}
    for p, s in edges:
        n_succ[p] = n_succ.get(p, 0) + 1
        n_pred[s] = n_pred.get(s, 0) + 1
    nxt = {}
    for p, s in edges:
        if n_succ[p] == 1 and n_pred[s] == 1 and p != s:
            nxt[p] = s
        else:
            report["links_not_one_to_one"] += 1
    report["links_followed"] = len(nxt)
    mapping = {}
    for o in orgs | set(nxt) | set(nxt.values()):
        seen, cur = {o}, o
        while cur in nxt and nxt[cur] not in seen:
            cur = nxt[cur]
            seen.add(cur)
        mapping[o] = cur
    return mapping, report


def rated_series(data: pd.DataFrame, *, domain="Overall", relationships=None, level="location",
                 follow_predecessors: bool = True,
                 predecessor_types=("HSCA Predecessor",)) -> tuple[pd.DataFrame, dict]:
    """The cleaned, sorted series of ratings on the scale: one row per journey x domain x date.

    The one place where a rating history becomes journeys: every transition, improvement and
    time-to-improvement analysis (here and in :mod:`cqc_research.qual`) starts from it.

    Parameters
    ----------
    data : DataFrame
        The rating-history panel (``io.cqc_json.load_api_folder(folder).history``).
    domain : str or list of str, optional
        The domain(s) kept (None: all).
    relationships : DataFrame, optional
        ``org_id, related_id, type`` (``ApiData.relationships``), to follow re-registrations.
    level : str, optional
        ``"location"`` or ``"provider"`` rows only (None: both).
    follow_predecessors : bool
        Join an organisation's journey to its predecessors' (otherwise inherited rows are dropped).
    predecessor_types : tuple of str
        The relationship types that mean "predecessor".

    Returns
    -------
    (series, report) : tuple of DataFrame and dict
        The series (the panel's columns plus ``journey_id``, ``rating`` as ``RATING_DTYPE``) and
        a report of what was dropped and why (non-scale, duplicates, other level, inherited).
    """
    _check_history(data)
    h = data
    report: dict = {"rows_in": int(len(h))}
    if level is not None and "level" in h.columns:
        h = h[h["level"] == level]
        report["rows_other_level"] = report["rows_in"] - int(len(h))
    if domain is not None:
        wanted = [domain] if isinstance(domain, str) else list(domain)
        h = h[h["domain"].astype("object").isin(wanted)]
    h = h.copy()
    h["org_id"] = h["org_id"].astype("object").astype(str)
    h["report_date"] = pd.to_datetime(h["report_date"])
    if "organisation_id" not in h:
        h["organisation_id"] = pd.NA
    inherited = h["organisation_id"].notna() & (h["organisation_id"].astype("object") != h["org_id"])
    if follow_predecessors:
        mapping, rep = _journeys(h["org_id"].unique(), relationships, predecessor_types)
        report.update(rep)
        h["journey_id"] = h["org_id"].map(mapping)
        report["inherited_rows_dropped"] = 0
    else:
        report["inherited_rows_dropped"] = int(inherited.sum())
        h = h[~inherited.to_numpy()]
        h["journey_id"] = h["org_id"]
    rating = pd.Categorical(h["rating"], dtype=RATING_DTYPE)
    h["rating"] = rating
    status = h["rating_status"].astype("object") if "rating_status" in h else pd.Series("Rated", index=h.index)
    non_scale = h["rating"].isna()
    report["non_scale_dropped"] = int(non_scale.sum())
    report["non_scale_by_status"] = {str(k): int(v) for k, v in
                                     status[non_scale].fillna("missing").value_counts().items()}
    h = h[~non_scale.to_numpy()]
    h["_priority"] = (h["source"].astype("object").map(_SOURCE_PRIORITY).fillna(9)
                      if "source" in h else 0)
    h = h.sort_values(["journey_id", "domain", "report_date", "_priority"], kind="stable")
    dup = h.duplicated(subset=["journey_id", "domain", "report_date"], keep="first")
    conflicts = h[h.duplicated(subset=["journey_id", "domain", "report_date"], keep=False)]
    n_conflict = int((conflicts.groupby(["journey_id", "domain", "report_date"], observed=True)["rating"]
                      .nunique() > 1).sum()) if len(conflicts) else 0
    report["duplicates_dropped"] = int(dup.sum())
    report["duplicates_with_different_ratings"] = n_conflict
    h = h[~dup.to_numpy()].drop(columns="_priority")
    # the journey's sector: the sector of its latest organisation, where rows lack one
    if "sector" in h.columns:
        last_sector = h.dropna(subset=["sector"]).groupby("journey_id")["sector"].last()
        h["sector"] = h["sector"].astype("object").fillna(h["journey_id"].map(last_sector))
        h["sector"] = pd.Categorical(h["sector"], dtype=SECTOR_DTYPE)
    report["journeys"] = int(h["journey_id"].nunique())
    return h.reset_index(drop=True), report


# ----------------------------------------------------------------------------------------------
# pairs and matrices
@keeps_provenance
def consecutive_pairs(
    data: pd.DataFrame,
    *,
    domain: str | Sequence[str] | None = None,
    relationships: pd.DataFrame | None = None,
    level: str | None = "location",
    follow_predecessors: bool = True,
    predecessor_types: Sequence[str] = ("HSCA Predecessor",),
    carry: Sequence[str] = (),
    with_report: bool = False,
):
    """Pairs of consecutive ratings (one inspection and the next) within each journey and domain.

    Parameters
    ----------
    data : DataFrame
        The rating-history panel (see the module notes).
    domain : str or list of str, optional
        Keep these domains (e.g. ``"Overall"``); None keeps all six.
    relationships : DataFrame, optional
        ``org_id, related_id, type`` (``load_api_folder(...).relationships``). Without it, or
        with ``follow_predecessors=False``, each organisation is its own journey.
    level : str or None
        Keep ``"location"`` rows (default), ``"provider"`` rows, or both (None), when the panel
        has a ``level`` column. Mixing levels would count a trust and its sites twice.
    follow_predecessors : bool
        Chain predecessor and successor registrations into one journey. When False, ratings a
        successor inherited from a predecessor (``organisation_id`` set) are dropped too.
    predecessor_types : sequence of str
        Relationship types that mean "is the predecessor of" (their ``Successor`` twins are used
        as well).
    carry : sequence of str
        Further columns of the panel to copy onto each pair, from the later inspection's row
        (``sector``, ``local_authority`` and ``region`` are always carried when present).
    with_report : bool
        Also return the pairing report, a dict counting what was dropped and why (see
        Returns). Default False.

    Returns
    -------
    DataFrame
        One row per pair: ``journey_id, org_id`` (at the later inspection), ``from_org_id``,
        ``sector`` (when present), ``domain, from_date, to_date, months, from_rating,
        to_rating, step`` (+1 = one step better) and ``change`` ("improved", "same", "worse").
        With ``with_report=True``, a tuple ``(pairs, report)``: ``report`` is a dict counting
        what was dropped and why: ``non_scale_dropped`` (with ``non_scale_by_status``),
        ``duplicates_dropped``, ``links_followed``, ``links_not_one_to_one``, ``journeys``,
        ``pairs``.

    Examples
    --------
    >>> h = pd.DataFrame({"org_id": ["a", "a", "a", "a"], "domain": "Overall",
    ...                   "report_date": pd.to_datetime(["2016-01-01", "2017-01-01",
    ...                                                  "2017-06-01", "2018-01-01"]),
    ...                   "rating": ["Inadequate", "Requires improvement", None, "Good"],
    ...                   "rating_status": ["Rated", "Rated", "Inspected but not rated", "Rated"]})
    >>> p = consecutive_pairs(h)
    >>> p[["from_rating", "to_rating", "change"]].values.tolist()
    [['Inadequate', 'Requires improvement', 'improved'], ['Requires improvement', 'Good', 'improved']]
    >>> p, report = consecutive_pairs(h, with_report=True)
    >>> report["non_scale_dropped"]
    1
    """
    series, report = rated_series(data, domain=domain, relationships=relationships, level=level,
                                   follow_predecessors=follow_predecessors,
                                   predecessor_types=predecessor_types)
    g = series.groupby(["journey_id", "domain"], observed=True, sort=False)
    nxt = g.shift(-1)
    has_next = nxt["report_date"].notna()
    cur, nx = series[has_next.to_numpy()], nxt[has_next.to_numpy()]
    out = pd.DataFrame({
        "journey_id": cur["journey_id"].to_numpy(),
        "org_id": nx["org_id"].to_numpy(),
        "from_org_id": cur["org_id"].to_numpy(),
    })
    if "sector" in series:
        out["sector"] = pd.Categorical(nx["sector"].to_numpy(), dtype=SECTOR_DTYPE)
    for col in ("local_authority", "region", *carry):
        if col in series and col not in out:
            out[col] = nx[col].to_numpy()
        elif col not in series and col in carry:
            raise DataFormatError(f"no column {col!r} in the history to carry onto the pairs", column=col)
    out["domain"] = pd.Categorical(cur["domain"].astype("object").to_numpy(), dtype=DOMAIN_DTYPE)
    out["from_date"] = cur["report_date"].to_numpy()
    out["to_date"] = nx["report_date"].to_numpy()
    out["months"] = (out["to_date"] - out["from_date"]).dt.days / DAYS_PER_MONTH
    out["from_rating"] = pd.Categorical(cur["rating"].astype("object").to_numpy(), dtype=RATING_DTYPE)
    out["to_rating"] = pd.Categorical(nx["rating"].astype("object").to_numpy(), dtype=RATING_DTYPE)
    out["step"] = out["to_rating"].cat.codes - out["from_rating"].cat.codes
    out["change"] = np.select([out["step"] > 0, out["step"] < 0], ["improved", "worse"], "same")
    report["pairs"] = int(len(out))
    out.attrs["synthetic"] = bool(data.attrs.get("synthetic", False))  # provenance only
    return (out, report) if with_report else out


def _pairs(data, carry=(), **kwargs) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame) and {"from_rating", "to_rating"} <= set(data.columns):
        _check_scale(data, ("from_rating", "to_rating"))
        if kwargs.get("domain") is not None:
            d = kwargs["domain"]
            wanted = [d] if isinstance(d, str) else list(d)
            data = data[data["domain"].astype("object").isin(wanted)]
        return data
    carry = [c for c in carry if c not in ("sector", "domain", "from_rating", "to_rating")]
    return consecutive_pairs(data, carry=carry, **kwargs)


@keeps_provenance
def transition_matrix(
    data: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = ("sector", "domain"),
    ci: str = "goodman",
    alpha: float = 0.05,
    **pair_options,
) -> pd.DataFrame:
    """Counts and row shares of rating transitions, with confidence intervals.

    Parameters
    ----------
    data : DataFrame
        A rating-history panel, or the pairs from :func:`consecutive_pairs`.
    by : str or list of str
        Grouping columns of the pairs (default sector and domain); None for one matrix.
    ci : {"goodman", "wilson"}
        ``"goodman"``: Goodman's simultaneous intervals for the four shares in a row (all four
        cover their true values together with probability ``1 - alpha``), via statsmodels'
        ``multinomial_proportions_confint``. ``"wilson"``: a Wilson interval for each share on
        its own (narrower; about one cell in twenty misses).
    alpha : float
        1 - confidence level.
    **pair_options
        Passed to :func:`consecutive_pairs` when ``data`` is a history panel (``domain``,
        ``relationships``, ``level``, ``follow_predecessors``).

    Returns
    -------
    DataFrame
        Tidy, one row per group x from x to (all 16 cells, zeros included): the ``by``
        columns, ``from_rating, to_rating, n, row_n, share, ci_low, ci_high``. ``share`` is
        ``n / row_n`` (NaN for an empty row), and ``ci_method``. The pairing report comes from
        :func:`consecutive_pairs` with ``with_report=True``.

    Examples
    --------
    >>> pairs = pd.DataFrame({"from_rating": ["Good"] * 4 + ["Inadequate"],
    ...                       "to_rating": ["Good", "Good", "Good", "Outstanding", "Good"]})
    >>> m = transition_matrix(pairs, by=None)
    >>> m.query("from_rating == 'Good' and to_rating == 'Good'")[["n", "row_n", "share"]].values.tolist()
    [[3.0, 4.0, 0.75]]
    """
    if ci not in ("goodman", "wilson"):
        raise ValueError(f"ci must be 'goodman' or 'wilson', not {ci!r}")
    by = as_list(by)
    pairs = _pairs(data, carry=by, **pair_options)
    missing = [c for c in by if c not in pairs.columns]
    if missing:
        raise DataFormatError(f"no column(s) {missing} to group transitions by; columns: {list(pairs.columns)}",
                              column=missing[0])
    p = pairs.dropna(subset=["from_rating", "to_rating"])
    groups = ([((), p)] if not by else
              [((k,) if not isinstance(k, tuple) else k, g)
               for k, g in p.groupby(by, observed=True, sort=True)])
    rows = []
    for key, g in groups:
        counts = pd.crosstab(pd.Categorical(g["from_rating"], dtype=RATING_DTYPE),
                             pd.Categorical(g["to_rating"], dtype=RATING_DTYPE), dropna=False)
        counts = counts.reindex(index=RATINGS, columns=RATINGS, fill_value=0)
        for fr in RATINGS:
            row = counts.loc[fr].to_numpy(dtype=float)
            total = row.sum()
            if total > 0:
                if ci == "goodman":
                    lims = multinomial_proportions_confint(row, alpha=alpha, method="goodman")
                    lo, hi = lims[:, 0], lims[:, 1]
                else:
                    lo, hi = proportion_ci(row, total, alpha=alpha)
                share = row / total
            else:
                lo = hi = share = np.full(4, np.nan)
            for j, to in enumerate(RATINGS):
                rows.append({**dict(zip(by, key, strict=True)), "from_rating": fr, "to_rating": to,
                             "n": row[j], "row_n": total, "share": share[j],
                             "ci_low": max(float(lo[j]), 0.0), "ci_high": min(float(hi[j]), 1.0)})
    out = pd.DataFrame(rows, columns=[*by, "from_rating", "to_rating", "n", "row_n", "share",
                                      "ci_low", "ci_high"])
    out["from_rating"] = pd.Categorical(out["from_rating"], dtype=RATING_DTYPE)
    out["to_rating"] = pd.Categorical(out["to_rating"], dtype=RATING_DTYPE)
    out["ci_method"] = ci
    return out


@keeps_provenance
def improvement_from(
    data: pd.DataFrame,
    *,
    start: str = "Inadequate",
    by: str | Sequence[str] | None = "sector",
    domain: str = "Overall",
    first_only: bool = False,
    alpha: float = 0.05,
    **pair_options,
) -> pd.DataFrame:
    """What followed a rating at the next inspection: improved, same, worse, and where to.

    Each ``start`` rating followed by another inspection is one case (a service rated Inadequate
    twice in a row is two cases, as in CQC's own re-inspection statistics); set
    ``first_only=True`` to count only the first such rating in each journey. Intervals are
    Wilson intervals, which treat cases as independent: repeated cases from one service make
    them somewhat too narrow.

    Parameters
    ----------
    data : DataFrame
        A rating-history panel or pairs from :func:`consecutive_pairs`.
    start : str
        The starting rating (default Inadequate).
    by : str or list of str, optional
        Grouping columns (default sector); None for all together.
    domain : str
        The domain (default Overall).
    first_only : bool
        Count the first ``start`` rating of each journey only.
    alpha : float
        1 - confidence level.
    **pair_options
        Passed to :func:`consecutive_pairs` when ``data`` is a history panel (``relationships``,
        ``level``, ``follow_predecessors``, ...); ignored for pairs.

    Returns
    -------
    DataFrame
        Tidy: the ``by`` columns, ``from_rating, outcome, n, total, share, ci_low, ci_high``.
        ``outcome`` is ``"improved"``, ``"same"``, ``"worse"`` and then ``"to <rating>"`` for each
        rating on the scale (e.g. ``"to Good"``), so the CQC headline (76% improved: 23% to Good,
        53% to Requires improvement) reads straight off the table.

    Examples
    --------
    >>> pairs = pd.DataFrame({"domain": "Overall", "journey_id": list("abcd"),
    ...                       "from_date": pd.to_datetime(["2016-01-01"] * 4),
    ...                       "from_rating": ["Inadequate"] * 4,
    ...                       "to_rating": ["Good", "Requires improvement", "Inadequate",
    ...                                     "Requires improvement"]})
    >>> t = improvement_from(pairs, by=None).set_index("outcome")
    >>> t.loc[["improved", "to Good"], "share"].tolist()
    [0.75, 0.25]
    """
    if start not in RATINGS:
        raise ValueError(f"start must be one of {RATINGS}, not {start!r}")
    by = as_list(by)
    pairs = _pairs(data, carry=by, domain=domain, **pair_options)
    missing = [c for c in by if c not in pairs.columns]
    if missing:
        raise DataFormatError(f"no column(s) {missing} to group by; columns: {list(pairs.columns)}",
                              column=missing[0])
    p = pairs[pairs["from_rating"].astype("object") == start]
    if first_only and len(p):
        p = p.sort_values("from_date").drop_duplicates(subset=["journey_id", "domain"], keep="first")
    rating, start = start, RATINGS.index(start)
    groups = [((), p)] if not by else [((k,) if not isinstance(k, tuple) else k, g)
                                      for k, g in p.groupby(by, observed=True, sort=True)]
    rows = []
    for key, g in groups:
        codes = pd.Categorical(g["to_rating"], dtype=RATING_DTYPE).codes
        total = int((codes >= 0).sum())
        counts = {"improved": int((codes > start).sum()), "same": int((codes == start).sum()),
                  "worse": int(((codes < start) & (codes >= 0)).sum())}
        counts.update({f"to {r}": int((codes == i).sum()) for i, r in enumerate(RATINGS)})
        for outcome, k in counts.items():
            if total:
                lo, hi = proportion_ci(k, total, alpha=alpha)
                share = k / total
            else:
                lo = hi = share = np.nan
            rows.append({**dict(zip(by, key, strict=True)), "from_rating": rating, "outcome": outcome,
                         "n": k, "total": total, "share": share, "ci_low": max(lo, 0.0),
                         "ci_high": min(hi, 1.0)})
    out = pd.DataFrame(rows, columns=[*by, "from_rating", "outcome", "n", "total", "share", "ci_low",
                                      "ci_high"])
    return out


# ----------------------------------------------------------------------------------------------
# time to improvement
@dataclass
class ImprovementTimes:
    """Kaplan-Meier estimates of the time from a rating to the first better rating.

    Attributes
    ----------
    episodes : DataFrame
        One row per spell: ``journey_id, org_id, <by>, start_date, end_date, months, improved``
        (1 = a better rating was published, 0 = censored), ``to_rating`` (the better rating, NA
        when censored), ``censor_reason`` ("data date", "deregistered", or NA) and
        ``reinspected`` (whether any later rated inspection happened).
    median : DataFrame
        Per group: ``n, events, censored, median_months, ci_low, ci_high``. The median is
        statsmodels' (and SAS's) rule, the first time at which ``S(t) < 0.5`` strictly; where the
        curve sits exactly at 0.5 over an interval, R's ``survfit`` would report the midpoint
        instead. The interval is Brookmeyer-Crowley with the complementary log-log transform,
        from statsmodels; NaN where the curve does not fall below 0.5 or the bound is open.
    survival : DataFrame
        The survival table per group: ``months, at_risk, events, surv, se, ci_low, ci_high``
        (pointwise log(-log) intervals; NaN once ``surv`` reaches 0), starting at
        ``months = 0, surv = 1``.
    improved_by : DataFrame
        ``1 - S(t)``, the share improved by ``t`` months, with its interval, at the horizons
        asked for.
    report : dict
        What the pairing steps dropped and kept (as in the report of
        ``consecutive_pairs(..., with_report=True)``), plus ``episodes`` (the number of spells) and ``data_date`` (the
        censoring date, ISO format).
    """

    episodes: pd.DataFrame
    median: pd.DataFrame
    survival: pd.DataFrame
    improved_by: pd.DataFrame
    report: dict = field(default_factory=dict)


def kaplan_meier(months, status, *, alpha: float = 0.05):
    """Kaplan-Meier survival table and median, with log(-log) intervals (statsmodels).

    Parameters
    ----------
    months : array-like of float
        Time to the event or to censoring.
    status : array-like of int
        1 for an event, 0 for censored.
    alpha : float
        1 - confidence level.

    Returns
    -------
    (table, median, median_low, median_high) : tuple
        ``table`` has ``months, at_risk, events, surv, se, ci_low, ci_high`` (starting at 0);
        the median and its interval are NaN where the curve does not reach or bound them.
    """
    months = np.asarray(months, dtype=float)
    status = np.asarray(status, dtype=int)
    from statsmodels.duration.survfunc import SurvfuncRight

    sf = SurvfuncRight(months, status)
    z = stats.norm.ppf(1 - alpha / 2)
    surv = np.asarray(sf.surv_prob)
    se = np.asarray(sf.surv_prob_se)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(-log S) interval (Kalbfleisch-Prentice), as in R's conf.type = "log-log"
        theta = np.log(-np.log(surv))
        se_theta = se / (surv * np.abs(np.log(surv)))
        lo = np.exp(-np.exp(theta + z * se_theta))
        hi = np.exp(-np.exp(theta - z * se_theta))
    # S = 1 (before any event): the interval is the point; S = 0: log(-log S) is undefined and,
    # as in R's survfit, no interval is given.
    lo = np.where(surv >= 1, 1.0, np.where(surv <= 0, np.nan, lo))
    hi = np.where(surv >= 1, 1.0, np.where(surv <= 0, np.nan, hi))
    table = pd.DataFrame({"months": np.asarray(sf.surv_times), "at_risk": np.asarray(sf.n_risk),
                          "events": np.asarray(sf.n_events), "surv": surv, "se": se,
                          "ci_low": lo, "ci_high": hi})
    start = pd.DataFrame({"months": [0.0], "at_risk": [len(months)], "events": [0.0], "surv": [1.0],
                          "se": [0.0], "ci_low": [1.0], "ci_high": [1.0]})
    table = pd.concat([start, table], ignore_index=True)
    med = sf.quantile(0.5)
    try:
        with np.errstate(all="ignore"):
            mlo, mhi = sf.quantile_ci(0.5, alpha=alpha)
    except Exception:  # statsmodels fails for degenerate curves
        mlo, mhi = np.nan, np.nan
    def _num(v):
        return float(v) if v is not None and np.isfinite(v) else np.nan
    return table, _num(med), _num(mlo), _num(mhi)


def _step_value(table: pd.DataFrame, t: float, col: str) -> float:
    """The right-continuous step function ``col`` of a survival table at time ``t``."""
    idx = np.searchsorted(table["months"].to_numpy(), t, side="right") - 1
    return float(table[col].iloc[max(idx, 0)])


@keeps_provenance
def time_to_improvement(
    data: pd.DataFrame,
    *,
    start: str = "Inadequate",
    by: str | Sequence[str] | None = "sector",
    domain: str = "Overall",
    data_date=None,
    end_dates: pd.DataFrame | None = None,
    horizons: Sequence[float] = (6, 12, 24),
    alpha: float = 0.05,
    **pair_options,
) -> ImprovementTimes:
    """Time from a rating (default Inadequate) to the first better rating, by Kaplan-Meier.

    A *spell* starts at a journey's first ``start`` rating (or the first one after it has improved) and
    ends at the publication of the first better rating (an event). Spells still open are
    censored at ``data_date``, whether the service has not been re-inspected yet or was
    re-inspected without improving; with ``end_dates``, spells of services that deregistered are
    censored at the deregistration date (closure is treated as uninformative censoring, which
    flatters improvement if failing services close: say so when reporting). Time is measured
    between publication dates, in months of 30.44 days. The estimator is statsmodels'
    ``SurvfuncRight``.

    Parameters
    ----------
    data : DataFrame
        The rating-history panel (not pairs: the dates of censoring need every rating).
    start : str
        The starting rating.
    by : str or list of str, optional
        Grouping columns (default sector).
    domain : str
        The domain (default Overall).
    data_date : date-like, optional
        When the data were extracted; defaults to the latest
        report date in the panel.
    end_dates : DataFrame, optional
        ``org_id`` and ``deregistration_date`` (e.g. ``load_api_folder(...).locations``).
    horizons : sequence of float
        Months at which to report the share improved.
    alpha : float
        1 - confidence level.
    **pair_options
        ``relationships``, ``level``, ``follow_predecessors``, as for :func:`consecutive_pairs`.

    Returns
    -------
    ImprovementTimes
        ``.episodes``, ``.median``, ``.survival``, ``.improved_by`` (see the class).
    """
    if start not in RATINGS:
        raise ValueError(f"start must be one of {RATINGS}, not {start!r}")
    rating = start
    pair_options.setdefault("predecessor_types", ("HSCA Predecessor",))
    pair_options.setdefault("relationships", None)
    pair_options.setdefault("level", "location")
    pair_options.setdefault("follow_predecessors", True)
    series, report = rated_series(data, domain=domain, **pair_options)
    by = as_list(by)
    missing = [c for c in by if c not in series.columns]
    if missing:
        raise DataFormatError(f"no column(s) {missing} to group by; columns: {list(series.columns)}",
                              column=missing[0])
    if data_date is None:
        data_date = pd.to_datetime(data["report_date"]).max()
    data_date = pd.Timestamp(data_date)
    ends = {}
    if end_dates is not None:
        if not {"org_id", "deregistration_date"} <= set(end_dates.columns):
            raise DataFormatError("end_dates needs columns org_id and deregistration_date",
                                  column="deregistration_date")
        e = end_dates.dropna(subset=["deregistration_date"])
        ends = dict(zip(e["org_id"].astype(str), pd.to_datetime(e["deregistration_date"]), strict=True))
    start = RATINGS.index(rating)
    rows = []
    # only journeys that ever held the starting rating can have a spell
    holders = series.loc[series["rating"].astype("object") == rating, "journey_id"].unique()
    series = series[series["journey_id"].isin(holders)]
    for jid, g in series.groupby("journey_id", sort=False):
        g = g.sort_values("report_date")
        codes = pd.Categorical(g["rating"], dtype=RATING_DTYPE).codes
        dates = g["report_date"].to_numpy()
        last_org = g["org_id"].iloc[-1]
        keys = {c: g[c].iloc[-1] for c in by}
        i = 0
        while i < len(g):
            if codes[i] != start:
                i += 1
                continue
            t0, org0 = pd.Timestamp(dates[i]), g["org_id"].iloc[i]
            j = i + 1
            while j < len(g) and codes[j] <= start:
                j += 1
            if j < len(g):
                end, event, to, reason = pd.Timestamp(dates[j]), 1, RATINGS[codes[j]], pd.NA
            else:
                dereg = ends.get(jid, ends.get(last_org))
                if dereg is not None and dereg < data_date:
                    end, reason = dereg, "deregistered"
                else:
                    end, reason = data_date, "data date"
                event, to = 0, pd.NA
            rows.append({"journey_id": jid, "org_id": org0, **keys, "start_date": t0, "end_date": end,
                         "months": max((end - t0).days, 0) / DAYS_PER_MONTH, "improved": event,
                         "to_rating": to, "censor_reason": reason, "reinspected": i + 1 < len(g)})
            i = j + 1 if j < len(g) else len(g)
    episodes = pd.DataFrame(rows, columns=["journey_id", "org_id", *by, "start_date", "end_date",
                                           "months", "improved", "to_rating", "censor_reason",
                                           "reinspected"])
    episodes["to_rating"] = pd.Categorical(episodes["to_rating"], dtype=RATING_DTYPE)
    groups = [((), episodes)] if not by else [((k,) if not isinstance(k, tuple) else k, g)
                                             for k, g in episodes.groupby(by, observed=True, sort=True)]
    med_rows, surv_rows, by_rows = [], [], []
    for key, g in groups:
        labels = dict(zip(by, key, strict=True))
        if len(g) == 0:
            continue
        table, med, mlo, mhi = kaplan_meier(g["months"].to_numpy(float), g["improved"].to_numpy(int), alpha=alpha)
        med_rows.append({**labels, "from_rating": rating, "n": len(g), "events": int(g["improved"].sum()),
                         "censored": int((g["improved"] == 0).sum()), "median_months": med,
                         "ci_low": mlo, "ci_high": mhi})
        surv_rows.append(table.assign(**labels)[[*by, *table.columns]])
        for t in horizons:
            s = _step_value(table, t, "surv")
            at_risk_later = (g["months"] >= t).any()
            by_rows.append({**labels, "months": t, "improved_share": 1 - s,
                            "ci_low": 1 - _step_value(table, t, "ci_high"),
                            "ci_high": 1 - _step_value(table, t, "ci_low"),
                            "followed_up": bool(at_risk_later)})
    report["episodes"] = int(len(episodes))
    report["data_date"] = str(data_date.date())
    median = pd.DataFrame(med_rows, columns=[*by, "from_rating", "n", "events", "censored",
                                             "median_months", "ci_low", "ci_high"])
    survival = (pd.concat(surv_rows, ignore_index=True) if surv_rows else
                pd.DataFrame(columns=[*by, "months", "at_risk", "events", "surv", "se", "ci_low",
                                      "ci_high"]))
    improved_by = pd.DataFrame(by_rows, columns=[*by, "months", "improved_share", "ci_low",
                                                 "ci_high", "followed_up"])
    return ImprovementTimes(episodes=episodes, median=median, survival=survival,
                            improved_by=improved_by, report=report)
