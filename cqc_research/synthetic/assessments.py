"""Synthetic single-assessment-framework ``assessment`` objects, in the real CQC API shape, with planted truths.

The generator (:mod:`cqc_research.synthetic`) calls three hooks:

- :func:`plan_assessments`, while it builds the world: a share of adult social care services and
  GP practices (:data:`ASSESSED_SHARE`) get one assessment published between
  :data:`WINDOW` dates. Its Overall rating is the next step of the service's rating chain, drawn
  from :data:`SHIFT` (the *cross-framework* transition matrix) instead of the sector's 2014
  matrix: that is the planted shift between frameworks. The assessment is appended to the
  service's history, so the Latest ratings workbook shows it as the current rating and its key
  questions follow the planted domain agreement like any other report.
- :func:`split_reports` and :func:`add_assessment`, while writing ``locations/<id>.json``: the
  assessment leaves ``currentRatings``/``historicRatings``/``reports`` and is written as an
  ``assessment`` object (``ratings.asgRatings[]`` with key questions, ``percentageScore`` and
  the 33 quality statements under ``topicareas``). For :data:`CURRENT_ABSENT_SHARE` of the
  assessed services ``currentRatings`` is left out altogether, as in the real Oldham records.
- :func:`assessment_truth`: what was planted, for ``truth.json``.

Planted truths:

- the number of quality statements assessed follows :data:`STATEMENTS_ASSESSED_PMF` exactly
  (which statements is uniform at random);
- every key question's statement scores give, by CQC's rule, its published percentage and
  rating, except the planted exceptions (:data:`EXCEPTION_SHARE` of rated key questions), whose
  scores fall one band away from the published rating (a better band, or Good for an
  Outstanding rating), as a rating limiter or a judgement would make them; the published
  percentage is always the rule's;
- first ratings under the new framework follow :data:`SHIFT` from the last 2014 rating.

Scores of statements not assessed are drawn like those assessed (CQC carries them over from the
previous assessment; the synthetic data do not model that).
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np

from ..assessment_framework import (
    QUALITY_STATEMENTS,
    RULE_CHANGE_DATE,
    SCORE_DESCRIPTIONS,
    STATEMENTS_BY_KEY_QUESTION,
    key_question_result,
    percentage_score,
    rating_from_percentage,
    rule_for,
)
from ..ratings import KEY_QUESTIONS, RATINGS

#: Share of services assessed under the new framework, by sector (others are not yet assessed).
ASSESSED_SHARE = {"Adult social care": 0.30, "GP practices": 0.25}
#: Publication dates of the synthetic assessments: uniform between these (first and last day).
WINDOW = (dt.date(2024, 1, 15), dt.date(2025, 9, 30))
#: Share of assessed services whose record has no ``currentRatings`` at all.
CURRENT_ABSENT_SHARE = 0.7
#: Share of rated key questions whose published rating is not the rule's (one band away).
EXCEPTION_SHARE = 0.04
#: Cross-framework transitions: the first rating under the single assessment framework given the
#: last rating under the 2014 framework (rows and columns Inadequate..Outstanding). Compared with
#: the sector matrices of the 2014 framework, Good and Outstanding services are downgraded more.
SHIFT = {
    "Adult social care": [[0.30, 0.53, 0.17, 0.00], [0.08, 0.50, 0.41, 0.01],
                          [0.02, 0.28, 0.68, 0.02], [0.00, 0.08, 0.52, 0.40]],
    "GP practices": [[0.24, 0.38, 0.38, 0.00], [0.05, 0.38, 0.55, 0.02],
                     [0.01, 0.15, 0.82, 0.02], [0.00, 0.04, 0.51, 0.45]],
}
#: P(number of quality statements assessed = k), k = 1..33: 40% focused assessments (1-6
#: statements), 45% typical ones (7-16), 15% wide ones (17-33), uniform within each.
STATEMENTS_ASSESSED_PMF = {k: (0.40 / 6 if k <= 6 else 0.45 / 10 if k <= 16 else 0.15 / 17) for k in range(1, 34)}

_STATEMENT_IDS = [i for i in QUALITY_STATEMENTS if i != 34]  # the API lists 33 for these services
_GROUPS = {"care_home": ("271", "Care Homes"), "home_care": ("272", "Homecare"), "gp": ("276", "General Practice")}
_NARRATIVE = {
    "Outstanding": "The service is performing exceptionally well.",
    "Good": "The service is performing well and meeting our expectations.",
    "Requires improvement": "The service is not performing as well as it should.",
    "Inadequate": "The service is performing badly.",
}
_KQ_NARRATIVE = {"Safe": "safe", "Effective": "effective", "Caring": "caring", "Responsive": "responsive",
                 "Well-led": "well-led"}


def _rng(seed: int, location_id: str, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), 2023, salt, zlib.crc32(str(location_id).encode())])


def _stationary(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    w, v = np.linalg.eig(m.T)
    p = np.real(v[:, np.argmin(np.abs(w - 1))])
    return p / p.sum()


def plan_assessments(locations: list[dict], seed: int, *, null: bool = False, transitions: dict | None = None) -> None:
    """Choose the services assessed under the new framework and append the assessment to their history.

    Parameters
    ----------
    locations : list of dict
        The generator's locations (``location_id, sector, kind, history`` as (date, rating index)).
    seed : int
        The dataset seed; every choice here uses its own random stream, so the rest of the world
        is drawn as before.
    null : bool
        The null world: first ratings follow the sector's 2014 matrix (no shift).
    transitions : dict, optional
        The sector matrices of the 2014 framework (needed when ``null``, and for services never
        rated before, which start from the matrix's stationary mix).
    """
    for loc in locations:
        share = ASSESSED_SHARE.get(loc.get("sector"))
        if share is None or loc.get("kind") not in _GROUPS:
            continue
        rng = _rng(seed, loc["location_id"])
        if rng.random() >= share:
            continue
        matrix = (transitions or {}).get(loc["sector"]) if null else SHIFT[loc["sector"]]
        if matrix is None:
            matrix = SHIFT[loc["sector"]]
        hist = loc["history"]
        span = (WINDOW[1] - WINDOW[0]).days
        date = WINDOW[0] + dt.timedelta(days=int(rng.integers(0, span + 1)))
        if hist:
            date = max(date, hist[-1][0] + dt.timedelta(days=90))
            state = int(rng.choice(4, p=np.asarray(matrix[hist[-1][1]]) / np.sum(matrix[hist[-1][1]])))
        else:
            base = (transitions or {}).get(loc["sector"], SHIFT[loc["sector"]])
            state = int(rng.choice(4, p=_stationary(base)))
        ks = np.array(list(STATEMENTS_ASSESSED_PMF))
        ps = np.array(list(STATEMENTS_ASSESSED_PMF.values()))
        k = int(rng.choice(ks, p=ps / ps.sum()))
        assessed = sorted(int(i) for i in rng.choice(_STATEMENT_IDS, size=k, replace=False))
        exceptions = [kq for kq in KEY_QUESTIONS if rng.random() < EXCEPTION_SHARE]
        hist.append((date, state))
        loc["saf"] = {"date": date, "state": state, "assessed": assessed, "exceptions": exceptions,
                      "current_absent": bool(rng.random() < CURRENT_ABSENT_SHARE),
                      "plan_id": f"AP{1000 + zlib.crc32(loc['location_id'].encode()) % 9000}",
                      "assessment_date": date - dt.timedelta(days=int(rng.integers(50, 141))),
                      "seed": int(seed)}


def split_reports(loc: dict) -> tuple[list[dict], dict | None]:
    """A location's 2014-framework reports, and its new-framework assessment report (or None).

    Parameters
    ----------
    loc : dict
        A generator location; ``loc["reports"]`` lists its reports (dicts with
        ``report_date``, ``overall``, ``domains``) and ``loc["saf"]`` is its plan from
        :func:`plan_assessments`, if any.

    Returns
    -------
    reports : list of dict
        The reports to write as 2014-framework ratings (all of them when there is no
        assessment).
    assessment : dict or None
        The report published on the planned assessment's date with an Overall rating on the
        scale, to be written by :func:`add_assessment`; None when the location has none.
    """
    saf = loc.get("saf")
    reports = loc.get("reports") or []
    if not saf:
        return reports, None
    hit = [r for r in reports if r["report_date"] == saf["date"] and r["overall"] in RATINGS]
    if not hit:
        return reports, None
    return [r for r in reports if r is not hit[-1]], hit[-1]


def _scores_for_band(rng, n: int, band: int) -> list[int]:
    """n statement scores (1-4) whose key-question percentage falls in rating band ``band``."""
    target = RATINGS[band]
    feasible = [s for s in range(n, 4 * n + 1) if rating_from_percentage(percentage_score(_spread(s, n))) == target]
    base = (band + 1) * n
    total = base if rng.random() < 0.6 or not feasible else int(rng.choice(feasible))
    scores = [band + 1] * n
    diff = total - base
    order = list(rng.permutation(n))
    i = 0
    while diff != 0:
        j = order[i % n]
        if diff > 0 and scores[j] < 4:
            scores[j] += 1
            diff -= 1
        elif diff < 0 and scores[j] > 1:
            scores[j] -= 1
            diff += 1
        i += 1
    return scores


def _spread(total: int, n: int) -> list[int]:
    """Some n scores of 1-4 summing to ``total`` (only their sum matters for the percentage)."""
    q, r = divmod(total, n)
    return [q + 1] * r + [q] * (n - r)


def statements_for(loc: dict, report: dict) -> dict[str, dict]:
    """The key questions of a location's assessment: scores, percentage, published and rule ratings.

    Deterministic given the location's plan, so the writer and :func:`assessment_truth` agree.

    Parameters
    ----------
    loc : dict
        A generator location with a plan (``loc["saf"]``, from :func:`plan_assessments`).
    report : dict
        Its assessment report (from :func:`split_reports`); ``report["domains"]`` holds the
        published rating of each key question.

    Returns
    -------
    dict
        key question -> ``{"scores": {statement id: score}, "percentage": int, "rating": str,
        "rule_rating": str, "exception": bool}``.
    """
    saf = loc["saf"]
    rng = _rng(saf["seed"], loc["location_id"], salt=1)
    out = {}
    for kq in KEY_QUESTIONS:
        published = report["domains"][kq]
        p = RATINGS.index(published)
        exception = kq in saf["exceptions"]
        band = (p + 1 if p < 3 else 2) if exception else p
        ids = [i for i in STATEMENTS_BY_KEY_QUESTION[kq] if i in _STATEMENT_IDS]
        scores = _scores_for_band(rng, len(ids), band)
        pct, rule_rating = key_question_result(scores)
        out[kq] = {"scores": dict(zip(ids, scores, strict=True)), "percentage": pct, "rating": published,
                   "rule_rating": rule_rating, "exception": rule_rating != published}
    return out


def _evidence(rng, assessed: bool, date: str) -> list[dict]:
    n = int(rng.integers(2, 6))
    ids = sorted(int(i) for i in rng.choice(np.arange(1, 7), size=n, replace=False))
    with_text = set(rng.choice(ids, size=int(rng.integers(1, n + 1)), replace=False).tolist()) if assessed else set()
    return [{"commentary": (f"Synthetic evidence summary for evidence category {i}." if i in with_text else ""),
             "commentaryDate": date if i in with_text else "", "evidenceCategoryId": str(i)} for i in ids]


def add_assessment(d: dict, loc: dict, report: dict | None) -> dict:
    """Write the location's assessment into its API record ``d`` (in place); return ``d``.

    Adds ``assessment`` (one object with ``ratings.asgRatings[]``: key questions, percentage
    scores and quality statements under ``topicareas``) and ``assessmentServiceGroup``. When
    the plan says so, ``currentRatings`` is removed and its Overall rating moved to
    ``historicRatings``, as in the real records.

    Parameters
    ----------
    d : dict
        The location's API record, as about to be written to ``locations/<id>.json``.
    loc : dict
        The generator location, with its plan (``loc["saf"]``).
    report : dict or None
        Its assessment report from :func:`split_reports`; None leaves ``d`` unchanged.

    Returns
    -------
    dict
        ``d`` itself.
    """
    if report is None:
        return d
    saf = loc["saf"]
    rng = _rng(saf["seed"], loc["location_id"], salt=2)
    sid, group = _GROUPS[loc["kind"]]
    pub = saf["date"]
    commentary_date = (pub - dt.timedelta(days=int(rng.integers(3, 13)))).isoformat()
    kqs = statements_for(loc, report)
    assessed = set(saf["assessed"])
    kq_items = []
    for kq in KEY_QUESTIONS:
        spec = kqs[kq]
        topics = []
        for i, score in spec["scores"].items():
            is_assessed = i in assessed
            topics.append({"evidenceCategory": _evidence(rng, is_assessed, commentary_date),
                           "name": QUALITY_STATEMENTS[i][1], "qualityStatementId": str(i),
                           "qualityStatementscore": f"{score} - {SCORE_DESCRIPTIONS[score]}",
                           "status": "Assessed" if is_assessed else "Not Assessed"})
        any_assessed = any(t["status"] == "Assessed" for t in topics)
        word = _KQ_NARRATIVE[kq]
        kq_items.append({
            "commentary": f"Synthetic summary of the {word} key question." if any_assessed else "",
            "commentaryDate": commentary_date if any_assessed else "", "name": kq,
            "narrative": f"This service is {word}" if spec["rating"] in ("Good", "Outstanding")
            else f"This service is not always {word}",
            "percentageScore": str(spec["percentage"]), "rating": spec["rating"],
            "status": "Assessed" if any_assessed else "Not Assessed", "topicareas": topics})
    published = f"{pub.isoformat()} {int(rng.integers(7, 18)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
    d["assessment"] = [{
        "assessmentPlanPublishedDateTime": published,
        "ratings": {"asgRatings": [{
            "assessmentDate": saf["assessment_date"].isoformat(), "assessmentPlanId": saf["plan_id"],
            "assessmentPlanStatus": "Active",
            "commentary": f"SYNTHETIC assessment summary for {loc['name']}.", "commentaryDate": commentary_date,
            "keyQuestionRatings": kq_items, "name": group, "narrative": _NARRATIVE[report["overall"]],
            "overallPeopleExperience": "Synthetic summary of what people told us.",
            "overallPeopleExperienceDate": commentary_date, "rating": report["overall"], "status": "Current",
            "title": f"Ongoing Assessment for {loc['name']}"}]},
    }]
    d["assessmentServiceGroup"] = [{"assessmentServiceId": sid, "assessmentServiceName": group, "status": "Active"}]
    if saf["current_absent"] and "currentRatings" in d:
        cur = d.pop("currentRatings")
        ov = cur.get("overall") or {}
        if ov:
            item = {"reportDate": ov.get("reportDate"), "reportLinkId": ov.get("reportLinkId"),
                    "overall": {"rating": ov.get("rating"),
                                "keyQuestionRatings": [{"name": k["name"], "rating": k["rating"]}
                                                       for k in ov.get("keyQuestionRatings") or []]}}
            if ov.get("organisationId"):
                item["organisationId"] = ov["organisationId"]
            hist = [h for h in d.get("historicRatings") or [] if h.get("reportLinkId") != item["reportLinkId"]]
            d["historicRatings"] = sorted(hist + [item], key=lambda h: h["reportDate"], reverse=True)
    return d


def assessment_truth(world: dict) -> dict:
    """What the assessment hooks planted, for ``truth.json``.

    Parameters
    ----------
    world : dict
        The generator's world: ``world["locations"]`` (with their plans and reports) and
        ``world["null_world"]`` (True for the null world).

    Returns
    -------
    dict
        JSON-ready: the assessed share and window, the rule change date, how many locations
        were assessed (by sector, year and rule version), the locations written without
        ``currentRatings``, the planted distribution of statements assessed, the scoring-rule
        exceptions (location, key question, published and rule ratings, percentage) and the
        cross-framework shift matrix.
    """
    rows, exceptions, n_kq = [], [], 0
    for loc in world["locations"]:
        old, rep = split_reports(loc)
        if rep is None:
            continue
        saf = loc["saf"]
        # the record has no currentRatings when planted so, and when there is no 2014 rating to show
        absent = saf["current_absent"] or loc.get("closed") or not any(r["overall"] in RATINGS for r in old)
        kqs = statements_for(loc, rep)
        n_kq += len(kqs)
        for kq, spec in kqs.items():
            if spec["exception"]:
                exceptions.append({"location_id": loc["location_id"], "assessment_plan_id": saf["plan_id"],
                                   "key_question": kq, "published_rating": spec["rating"],
                                   "rule_rating": spec["rule_rating"], "percentage": spec["percentage"]})
        rows.append((loc["location_id"], loc["sector"], saf["date"].year, len(saf["assessed"]),
                     bool(absent), rule_for(saf["assessment_date"]).version))
    by_sector: dict = {}
    by_year: dict = {}
    for _, sector, year, *_ in rows:
        by_sector[sector] = by_sector.get(sector, 0) + 1
        by_year[str(year)] = by_year.get(str(year), 0) + 1
    null = bool(world.get("null_world"))
    return {
        "description": ("single assessment framework: assessment objects written for a share of adult social "
                        "care services and GP practices; see cqc_research/synthetic/assessments.py"),
        "assessed_share": ASSESSED_SHARE, "window": [WINDOW[0].isoformat(), WINDOW[1].isoformat()],
        "rule_change_date": RULE_CHANGE_DATE.isoformat(),
        "assessed_locations": len(rows), "by_sector": by_sector, "by_year": dict(sorted(by_year.items())),
        "by_rule_version": {v: sum(1 for r in rows if r[5] == v) for v in ("2023-11", "2024-12")},
        "current_ratings_absent": sorted(r[0] for r in rows if r[4]),
        "statements_assessed_pmf": {str(k): v for k, v in STATEMENTS_ASSESSED_PMF.items()},
        "scoring_rule": {"rated_key_questions": n_kq, "exception_share": EXCEPTION_SHARE,
                         "exceptions": exceptions,
                         "note": "published percentages always equal the rule's; published ratings equal the "
                                 "rule's band except for these key questions"},
        "shift": {"matrix": SHIFT if not null else "the sector's 2014 matrix (null world)",
                  "note": ("rows: last rating under the 2014 framework; columns: first rating under the single "
                           "assessment framework (Inadequate..Outstanding); compare transitions.matrix")},
    }
