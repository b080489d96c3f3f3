"""The single assessment framework in numbers: scoring-rule consistency, statements assessed, the shift between frameworks, rating age.

Inputs are the tables :func:`cqc_research.io.cqc_json.load_api_folder` builds from the API's
``assessment`` objects (``.key_question_scores``, ``.statement_scores``), its rating history
(``.history``, with a ``framework`` column) and its current ratings (``.ratings``):

- :func:`scoring_consistency`: how often CQC's published rule (statement scores -> key-question
  percentage -> rating band, :mod:`cqc_research.assessment_framework`) reproduces the published
  key-question percentages and ratings, by rule version, with the exceptions listed;
- :func:`statements_assessed`: how many quality statements each assessment actually assessed
  (the whole distribution, not only a mean);
- :func:`framework_shift`: each service's first rating under the new framework against its last
  rating under the 2014 framework, as a transition matrix with intervals, set against the
  transitions between two inspections under the 2014 framework;
- :func:`rating_age`: how old each service's current rating is, and under which framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..assessment_framework import (
    FRAMEWORK_2014,
    FRAMEWORK_SAF,
    key_question_result,
    rating_from_percentage,
)
from ..errors import DataFormatError, InsufficientData
from ..ratings import RATING_DTYPE, RATINGS
from ._contract import keeps_provenance
from ._inputs import as_list, scale_codes
from .intervals import proportion_ci
from .transitions import DAYS_PER_MONTH, consecutive_pairs, transition_matrix

__all__ = ["scoring_consistency", "statements_assessed", "framework_shift", "rating_age"]

_ASSESSMENT_KEYS = ["org_id", "assessment_plan_id", "service_group"]


def _need(data, cols, func, what):
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{func}: expected a DataFrame ({what}), not {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataFormatError(f"{func}: missing column(s) {missing}; expected {what}; columns present: "
                              f"{list(map(str, data.columns))[:20]}", column=missing[0])


def _groups(frame: pd.DataFrame, by: list[str]):
    if not by:
        yield (), frame
        return
    for key, g in frame.groupby(by, observed=True, sort=True, dropna=False):
        yield (key if isinstance(key, tuple) else (key,)), g


# ---------------------------------------------------------------------------------------------
# the scoring rule
@keeps_provenance
def scoring_consistency(data: pd.DataFrame, *, statement_scores: pd.DataFrame, by=None,
                        alpha: float = 0.05):
    """How often CQC's scoring rule reproduces the published key-question percentages and ratings.

    For every published key question rated on the scale, the rule's percentage is
    ``100 * sum(statement scores) / (4 * n)`` over all its quality statements (rounded to a whole
    percent, halves up) and the rule's rating is that percentage's band. A key question can be
    checked only when every one of its statements carries a 1-4 score.

    Parameters
    ----------
    data : DataFrame
        ``ApiData.key_question_scores`` (``org_id, assessment_plan_id, service_group, domain,
        rating, rating_status, percentage_score, rule_version, n_statements``).
    statement_scores : DataFrame
        ``ApiData.statement_scores`` (the same keys, ``domain`` and ``score``).
    by : str or list of str, optional
        Further grouping of the summary (e.g. ``"sector"`` or ``"domain"``); the summary is
        always split by ``rule_version``.
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    summary : DataFrame
        One row per group: ``rule_version, [*by], n_key_questions, n_checked,
        n_percentage_reproduced, percentage_reproduced, percentage_ci_low, percentage_ci_high,
        n_rating_reproduced, rating_reproduced, rating_ci_low, rating_ci_high,
        n_rating_in_published_band`` (the published rating is the band of the published
        percentage), ``n_published_better, n_published_worse`` (published rating against the
        rule's).
    exceptions : DataFrame
        The key questions where the published percentage or rating differs from the rule's:
        identifiers, ``scores`` (the statement scores, in statement order), ``percentage_score``,
        ``rule_percentage``, ``rating``, ``rule_rating``, ``difference`` (published minus rule,
        in scale steps) and ``kind`` (``percentage``, ``rating`` or ``percentage and rating``).

    Examples
    --------
    >>> kq = pd.DataFrame({"org_id": ["a", "b"], "assessment_plan_id": ["P1", "P2"],
    ...                    "service_group": "Care Homes", "domain": "Safe", "rule_version": "2023-11",
    ...                    "rating": ["Good", "Good"], "rating_status": "Rated",
    ...                    "percentage_score": [75.0, 56.0], "n_statements": 2})
    >>> st = pd.DataFrame({"org_id": ["a", "a", "b", "b"], "assessment_plan_id": ["P1", "P1", "P2", "P2"],
    ...                    "service_group": "Care Homes", "domain": "Safe", "statement_id": [1, 2, 1, 2],
    ...                    "score": [3, 3, 2, 3]})
    >>> summary, exceptions = scoring_consistency(kq, statement_scores=st)
    >>> summary[["n_checked", "n_percentage_reproduced", "n_rating_reproduced"]].values.tolist()
    [[2, 1, 2]]
    >>> exceptions[["org_id", "rule_percentage", "rule_rating", "kind"]].values.tolist()
    [['b', 63, 'Good', 'percentage']]
    """
    by = as_list(by)
    _need(data, [*_ASSESSMENT_KEYS, "domain", "rating", "rating_status", "percentage_score",
                "rule_version", "n_statements", *by], "scoring_consistency",
          "the key-question scores (ApiData.key_question_scores)")
    _need(statement_scores, [*_ASSESSMENT_KEYS, "domain", "score"], "scoring_consistency",
          "the quality-statement scores (ApiData.statement_scores)")
    keys = [*_ASSESSMENT_KEYS, "domain"]
    kq = data.copy()
    kq["domain"] = kq["domain"].astype("object")
    rated = kq["rating_status"].astype("object").eq("Rated") & kq["rating"].notna()
    kq = kq[rated.to_numpy()].reset_index(drop=True)
    st = statement_scores.copy()
    st["domain"] = st["domain"].astype("object")
    if "statement_id" in st:
        st = st.sort_values([*keys, "statement_id"], kind="stable")
    scores = {}
    for key, g in st.groupby(keys, sort=False, dropna=False):
        vals = pd.to_numeric(g["score"], errors="coerce")
        scores[key] = vals.tolist()
    rule_pct, rule_rating, score_lists, checked = [], [], [], []
    for row in kq[keys].itertuples(index=False, name=None):
        vals = scores.get(tuple(row), [])
        n_expected = kq.loc[len(score_lists), "n_statements"]
        ok = (len(vals) > 0 and all(pd.notna(v) for v in vals)
              and (pd.isna(n_expected) or int(n_expected) == len(vals)))
        score_lists.append([int(v) for v in vals] if ok else [v for v in vals])
        checked.append(ok)
        if ok:
            p, r = key_question_result([int(v) for v in vals])
        else:
            p, r = None, None
        rule_pct.append(p)
        rule_rating.append(r)
    kq["scores"] = score_lists
    kq["checked"] = checked
    kq["rule_percentage"] = pd.array(rule_pct, dtype="Int64")
    kq["rule_rating"] = pd.Categorical(rule_rating, dtype=RATING_DTYPE)
    pub_pct = pd.to_numeric(kq["percentage_score"], errors="coerce")
    scale_codes(kq["rating"], name="rating", source=data.attrs.get("source"))  # an unknown rating is an error
    pub = pd.Categorical(kq["rating"].astype("object"), dtype=RATING_DTYPE)
    kq["rating"] = pub
    pub_codes = np.asarray(pub.codes)
    rule_codes = np.asarray(kq["rule_rating"].cat.codes)
    chk = kq["checked"].to_numpy(bool)
    kq["_pct_ok"] = chk & (pub_pct.to_numpy(float, na_value=np.nan) == kq["rule_percentage"].to_numpy(float, na_value=np.nan))
    kq["_rating_ok"] = chk & (pub_codes == rule_codes)
    band = [rating_from_percentage(p) if pd.notna(p) and 25 <= p <= 100 else None for p in pub_pct]
    kq["_in_band"] = np.asarray(pd.Categorical(band, dtype=RATING_DTYPE).codes) == pub_codes
    kq["_diff"] = np.where(chk, pub_codes - rule_codes, 0)
    rows = []
    for key, g in _groups(kq, ["rule_version", *by]):
        c = g["checked"].to_numpy(bool)
        n = int(c.sum())
        hp, hr = int(g["_pct_ok"].sum()), int(g["_rating_ok"].sum())
        plo, phi = proportion_ci(hp, n, alpha=alpha)
        rlo, rhi = proportion_ci(hr, n, alpha=alpha)
        rows.append({**dict(zip(["rule_version", *by], key, strict=True)), "n_key_questions": len(g),
                     "n_checked": n, "n_percentage_reproduced": hp,
                     "percentage_reproduced": hp / n if n else np.nan, "percentage_ci_low": plo,
                     "percentage_ci_high": phi, "n_rating_reproduced": hr,
                     "rating_reproduced": hr / n if n else np.nan, "rating_ci_low": rlo, "rating_ci_high": rhi,
                     "n_rating_in_published_band": int(g["_in_band"].sum()),
                     "n_published_better": int((g["_diff"] > 0).sum()),
                     "n_published_worse": int((g["_diff"] < 0).sum())})
    summary = pd.DataFrame(rows, columns=["rule_version", *by, "n_key_questions", "n_checked",
                                          "n_percentage_reproduced", "percentage_reproduced",
                                          "percentage_ci_low", "percentage_ci_high", "n_rating_reproduced",
                                          "rating_reproduced", "rating_ci_low", "rating_ci_high",
                                          "n_rating_in_published_band", "n_published_better",
                                          "n_published_worse"])
    bad = kq[kq["checked"] & ~(kq["_pct_ok"] & kq["_rating_ok"])].copy()
    bad["kind"] = np.select([~bad["_pct_ok"] & ~bad["_rating_ok"], ~bad["_pct_ok"]],
                            ["percentage and rating", "percentage"], "rating")
    bad["difference"] = bad["_diff"].astype(int)
    extra = [c for c in ("level", "sector", "assessment_date", "publication_date") if c in bad and c not in by]
    exceptions = bad[[*_ASSESSMENT_KEYS, *extra, "rule_version", *[b for b in by if b not in extra], "domain",
                      "scores", "percentage_score", "rule_percentage", "rating", "rule_rating", "difference",
                      "kind"]].reset_index(drop=True)
    return summary, exceptions


# ---------------------------------------------------------------------------------------------
# statements assessed
@dataclass
class StatementsAssessed:
    """How many quality statements each assessment assessed.

    Attributes
    ----------
    per_assessment : DataFrame
        One row per assessment: ``org_id, assessment_plan_id, service_group, [*by],
        n_statements, n_assessed``.
    distribution : DataFrame
        ``[*by], n_assessed, assessments, share, ci_low, ci_high`` for every count from 0 to the
        largest seen (zeros included), with Wilson intervals for each share.
    summary : DataFrame
        ``[*by], assessments, min, q25, median, q75, max, mean, share_none, share_all``.
    """

    per_assessment: pd.DataFrame
    distribution: pd.DataFrame
    summary: pd.DataFrame


@keeps_provenance
def statements_assessed(data: pd.DataFrame, *, by=None, alpha: float = 0.05) -> StatementsAssessed:
    """The distribution of the number of quality statements assessed per assessment.

    Parameters
    ----------
    data : DataFrame
        ``ApiData.statement_scores`` (``org_id, assessment_plan_id, service_group, assessed``).
    by : str or list of str, optional
        Grouping columns of the statement table (e.g. ``"sector"``, ``"rule_version"``).
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    StatementsAssessed

    Examples
    --------
    >>> st = pd.DataFrame({"org_id": ["a"] * 3 + ["b"] * 3, "assessment_plan_id": ["P1"] * 3 + ["P2"] * 3,
    ...                    "service_group": "Care Homes", "assessed": [True, False, False, True, True, False]})
    >>> statements_assessed(st).distribution[["n_assessed", "assessments"]].values.tolist()
    [[0, 0], [1, 1], [2, 1]]
    """
    by = as_list(by)
    _need(data, [*_ASSESSMENT_KEYS, "assessed", *by], "statements_assessed",
          "the quality-statement scores (ApiData.statement_scores)")
    if data.empty:
        raise InsufficientData("statements_assessed: no quality-statement scores")
    st = data.copy()
    st["_a"] = st["assessed"].astype("boolean").fillna(False).astype(int)
    per = (st.groupby([*_ASSESSMENT_KEYS, *by], observed=True, sort=True, dropna=False)
           .agg(n_statements=("_a", "size"), n_assessed=("_a", "sum")).reset_index())
    top = int(per["n_assessed"].max()) if len(per) else 0
    dist_rows, sum_rows = [], []
    for key, g in _groups(per, by):
        labels = dict(zip(by, key, strict=True))
        counts = np.bincount(g["n_assessed"].to_numpy(int), minlength=top + 1)
        n = int(counts.sum())
        lo, hi = proportion_ci(counts, np.full_like(counts, n), alpha=alpha)
        for k, c in enumerate(counts):
            dist_rows.append({**labels, "n_assessed": k, "assessments": int(c), "share": c / n if n else np.nan,
                              "ci_low": float(np.atleast_1d(lo)[k]), "ci_high": float(np.atleast_1d(hi)[k])})
        x = g["n_assessed"].to_numpy(float)
        sum_rows.append({**labels, "assessments": n, "min": x.min(), "q25": np.quantile(x, 0.25),
                         "median": np.median(x), "q75": np.quantile(x, 0.75), "max": x.max(), "mean": x.mean(),
                         "share_none": float((x == 0).mean()),
                         "share_all": float((g["n_assessed"] == g["n_statements"]).mean())})
    return StatementsAssessed(
        per_assessment=per,
        distribution=pd.DataFrame(dist_rows, columns=[*by, "n_assessed", "assessments", "share", "ci_low", "ci_high"]),
        summary=pd.DataFrame(sum_rows, columns=[*by, "assessments", "min", "q25", "median", "q75", "max", "mean",
                                                "share_none", "share_all"]))


# ---------------------------------------------------------------------------------------------
# the shift between frameworks
@dataclass
class FrameworkShift:
    """First rating under the single assessment framework against the last under the 2014 one.

    Attributes
    ----------
    pairs : DataFrame
        Consecutive rating pairs with ``from_framework``, ``to_framework`` and ``kind``
        (``"across frameworks"``, ``"within the 2014 framework"``, ``"within the single
        assessment framework"``); columns as in :func:`~cqc_research.metrics.transitions.consecutive_pairs`.
    matrix : DataFrame
        :func:`~cqc_research.metrics.transitions.transition_matrix` of the pairs across frameworks
        and, for comparison, of those within the 2014 framework, with a ``kind`` column.
    summary : DataFrame
        Per group: ``[*by], n, direction`` (worse, same, improved), ``observed`` share with
        Wilson ``ci_low, ci_high``; ``expected``, the share the 2014-framework transitions give for
        the same mix of starting ratings, and ``difference`` (observed minus expected) with
        Newcombe's MOVER interval ``difference_ci_low, difference_ci_high`` (the Wilson limits of
        the observed share combined with the normal error of the expected share).
    """

    pairs: pd.DataFrame
    matrix: pd.DataFrame
    summary: pd.DataFrame


@keeps_provenance
def framework_shift(data: pd.DataFrame, *, domain: str = "Overall", by="sector",
                    relationships: pd.DataFrame | None = None, level: str | None = "location",
                    ci: str = "goodman", alpha: float = 0.05) -> FrameworkShift:
    """Did ratings shift when CQC moved to the single assessment framework?

    Each service's first rating under the new framework is paired with the rating before it
    (its last under the 2014 framework); these pairs are set against the pairs of consecutive
    ratings within the 2014 framework. If the new framework rated services as the old one did,
    the share downgraded across the change would match what the old transitions predict for the
    same starting ratings (a service's next rating also depends on the time between visits, which
    this comparison does not hold fixed).

    Parameters
    ----------
    data : DataFrame
        ``ApiData.history`` with its ``framework`` column.
    domain : str
        The domain compared (``"Overall"`` by default).
    by : str or list of str, optional
        Grouping (``"sector"`` by default); None for all services together.
    relationships : DataFrame, optional
        ``ApiData.relationships``, to follow services across re-registrations.
    level : str or None
        ``"location"`` (default), ``"provider"`` or None for both.
    ci : {"goodman", "wilson"}
        Interval method of the transition matrices.
    alpha : float
        1 - confidence level.

    Returns
    -------
    FrameworkShift
    """
    by = as_list(by)
    _need(data, ["org_id", "report_date", "domain", "rating", "framework", *by], "framework_shift",
          "the rating history (ApiData.history) with its framework column")
    h = data.copy()
    h["_fw"] = h["framework"].astype("object").fillna(FRAMEWORK_2014)
    carry = [c for c in by if c not in ("sector", "domain")]
    pairs = consecutive_pairs(h, domain=domain, relationships=relationships, level=level, carry=[*carry, "_fw"])
    saf = h[h["_fw"] == FRAMEWORK_SAF]
    saf_keys = set(zip(saf["org_id"].astype(str), pd.to_datetime(saf["report_date"]), strict=True))
    from_saf = [(str(o), pd.Timestamp(d)) in saf_keys for o, d in zip(pairs["from_org_id"], pairs["from_date"],
                                                                      strict=True)]
    pairs["from_framework"] = np.where(from_saf, FRAMEWORK_SAF, FRAMEWORK_2014)
    pairs["to_framework"] = pairs.pop("_fw").to_numpy()
    pairs["kind"] = np.select(
        [(pairs["from_framework"] == FRAMEWORK_2014) & (pairs["to_framework"] == FRAMEWORK_SAF),
         (pairs["from_framework"] == FRAMEWORK_2014) & (pairs["to_framework"] == FRAMEWORK_2014)],
        ["across frameworks", "within the 2014 framework"], "within the single assessment framework")
    across = pairs[pairs["kind"] == "across frameworks"]
    within = pairs[pairs["kind"] == "within the 2014 framework"]
    mats = []
    for kind, p in (("across frameworks", across), ("within the 2014 framework", within)):
        m = transition_matrix(p, by=by or None, ci=ci, alpha=alpha)
        m.insert(0, "kind", kind)
        mats.append(m)
    matrix = pd.concat(mats, ignore_index=True)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for key, g in _groups(across, by):
        labels = dict(zip(by, key, strict=True))
        base = within
        for b, v in labels.items():
            base = base[base[b].astype("object") == v]
        n = len(g)
        from_counts = g["from_rating"].value_counts().reindex(RATINGS, fill_value=0)
        for direction, test in (("worse", lambda s: s < 0), ("same", lambda s: s == 0),
                                ("improved", lambda s: s > 0)):
            hit = int(test(g["step"]).sum())
            lo, hi = proportion_ci(hit, n, alpha=alpha)
            obs = hit / n if n else np.nan
            exp, var_exp, usable = 0.0, 0.0, n > 0
            for fr, nf in from_counts.items():
                if nf == 0:
                    continue
                b = base[base["from_rating"].astype("object") == fr]
                if len(b) == 0:
                    usable = False
                    continue
                pf = float(test(b["step"]).mean())
                w = nf / n
                exp += w * pf
                var_exp += w**2 * pf * (1 - pf) / len(b)
            exp = exp if usable else np.nan
            # Newcombe's MOVER: the Wilson limits of the observed share combined with the
            # standard error of the expected one (sound at shares of 0 or 1 and small n)
            d = obs - exp if usable else np.nan
            half_e = z * np.sqrt(var_exp) if usable else np.nan
            rows.append({**labels, "n": n, "direction": direction, "observed": obs, "ci_low": lo, "ci_high": hi,
                         "expected": exp, "difference": d,
                         "difference_ci_low": d - np.sqrt((obs - lo) ** 2 + half_e ** 2) if usable else np.nan,
                         "difference_ci_high": d + np.sqrt((hi - obs) ** 2 + half_e ** 2) if usable else np.nan,
                         "n_within_2014": len(base)})
    summary = pd.DataFrame(rows, columns=[*by, "n", "direction", "observed", "ci_low", "ci_high", "expected",
                                          "difference", "difference_ci_low", "difference_ci_high", "n_within_2014"])
    return FrameworkShift(pairs=pairs.reset_index(drop=True), matrix=matrix, summary=summary)


# ---------------------------------------------------------------------------------------------
# rating age
@dataclass
class RatingAge:
    """How old the current ratings are.

    Attributes
    ----------
    per_org : DataFrame
        One row per organisation with a current Overall rating: ``org_id, [*by], framework,
        rating, publication_date, age_months``.
    summary : DataFrame
        ``[*by], framework`` (or ``"All"``), ``n, median_months, q25_months, q75_months,
        share_over_24_months`` and ``share_over_48_months`` with Wilson intervals.
    as_of : pandas.Timestamp
        The date ages are measured to.
    """

    per_org: pd.DataFrame
    summary: pd.DataFrame
    as_of: pd.Timestamp


@keeps_provenance
def rating_age(data: pd.DataFrame, *, as_of=None, by="sector", level: str | None = "location",
               alpha: float = 0.05) -> RatingAge:
    """The age of each organisation's current Overall rating, by sector and framework.

    Parameters
    ----------
    data : DataFrame
        The long current-ratings table (``ApiData.ratings`` or ``load_latest_ratings``):
        ``org_id, service_group, domain, rating, publication_date`` and, from the API,
        ``framework``.
    as_of : date-like, optional
        Measure ages to this date; default the latest publication date in the table.
    by : str or list of str, optional
        Grouping columns (``"sector"`` by default).
    level : str or None
        Keep ``"location"`` rows (default), ``"provider"`` rows, or both.
    alpha : float
        1 - confidence level.

    Returns
    -------
    RatingAge

    Examples
    --------
    >>> r = pd.DataFrame({"org_id": ["a", "b"], "level": "location", "sector": "GP practices",
    ...                   "service_group": "Overall", "domain": "Overall", "rating": ["Good", "Good"],
    ...                   "publication_date": pd.to_datetime(["2020-01-01", "2024-01-01"])})
    >>> rating_age(r, as_of="2024-01-01").summary[["framework", "n", "share_over_24_months"]].values.tolist()
    [['All', 2, 0.5]]
    """
    by = as_list(by)
    _need(data, ["org_id", "service_group", "domain", "rating", "publication_date", *by], "rating_age",
          "the long current-ratings table (ApiData.ratings)")
    scale_codes(data["rating"], name="rating", source=data.attrs.get("source"))  # an unknown rating is an error
    r = data[(data["service_group"] == "Overall") & (data["domain"].astype("object") == "Overall")]
    if level is not None and "level" in r:
        r = r[r["level"] == level]
    r = r[r["rating"].notna()].drop_duplicates("org_id").copy()
    r["publication_date"] = pd.to_datetime(r["publication_date"])
    as_of = pd.Timestamp(as_of) if as_of is not None else r["publication_date"].max()
    r["age_months"] = (as_of - r["publication_date"]).dt.days / DAYS_PER_MONTH
    r["framework"] = (r["framework"].astype("object").fillna(FRAMEWORK_2014) if "framework" in r
                      else "not known")
    per = r[["org_id", *by, "framework", "rating", "publication_date", "age_months"]].reset_index(drop=True)
    rows = []
    for key, g in _groups(per, by):
        labels = dict(zip(by, key, strict=True))
        parts = [("All", g)]
        if per["framework"].nunique() > 1:
            parts += [(fw, gg) for fw, gg in g.groupby("framework", sort=True)]
        for fw, gg in parts:
            x = gg["age_months"].to_numpy(float)
            n = len(x)
            row = {**labels, "framework": fw, "n": n,
                   "median_months": float(np.median(x)) if n else np.nan,
                   "q25_months": float(np.quantile(x, 0.25)) if n else np.nan,
                   "q75_months": float(np.quantile(x, 0.75)) if n else np.nan}
            for months in (24, 48):
                k = int((x > months).sum())
                lo, hi = proportion_ci(k, n, alpha=alpha)
                row.update({f"share_over_{months}_months": k / n if n else np.nan,
                            f"share_over_{months}_ci_low": lo, f"share_over_{months}_ci_high": hi})
            rows.append(row)
    summary = pd.DataFrame(rows)
    return RatingAge(per_org=per, summary=summary, as_of=as_of)
