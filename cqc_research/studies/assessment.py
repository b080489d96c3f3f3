"""The single assessment framework (notebook 08): the API tables in scope, the tables notebook 08
saves, and its sentences.

The statistics are :mod:`cqc_research.metrics.assessment`'s (scoring consistency, statements
assessed, the shift between frameworks, rating age).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..dataset import Study
from ..metrics import assessment as am

__all__ = ["TABLES", "api_in_scope"]

_CONSISTENCY = ("n_key_questions", "n_checked", "n_percentage_reproduced", "percentage_reproduced",
                "percentage_ci_low", "percentage_ci_high", "n_rating_reproduced", "rating_reproduced",
                "rating_ci_low", "rating_ci_high", "n_rating_in_published_band", "n_published_better",
                "n_published_worse")

#: Every table notebook 08 saves: name -> its columns (after the report's ``data_status``).
TABLES: dict[str, tuple[str, ...]] = {
    "assessed_by_sector_year": ("sector", "year", "assessments", "services", "rated", "locations",
                                "share_of_locations"),
    "statements_assessed_distribution": ("n_assessed", "assessments", "share", "ci_low", "ci_high", "sector"),
    "statements_assessed_summary": ("assessments", "min", "q25", "median", "q75", "max", "mean", "share_none",
                                    "share_all", "sector"),
    "score_distribution": ("domain", "score", "statements", "share", "statements_counted"),
    "key_question_percentages": ("domain", "count", "mean", "std", "min", "25%", "50%", "75%", "max"),
    "scoring_rule_consistency": ("rule_version", *_CONSISTENCY),
    "scoring_rule_consistency_by_key_question": ("rule_version", "domain", *_CONSISTENCY),
    "scoring_rule_exceptions": ("org_id", "assessment_plan_id", "service_group", "level", "sector",
                                "assessment_date", "publication_date", "rule_version", "domain", "scores",
                                "percentage_score", "rule_percentage", "rating", "rule_rating", "difference",
                                "kind"),
    "framework_shift_matrix": ("kind", "sector", "from_rating", "to_rating", "n", "row_n", "share", "ci_low",
                               "ci_high", "ci_method"),
    "framework_shift_summary": ("sector", "n", "direction", "observed", "ci_low", "ci_high", "expected",
                                "difference", "difference_ci_low", "difference_ci_high", "n_within_2014"),
    "rating_age": ("sector", "framework", "n", "median_months", "q25_months", "q75_months",
                   "share_over_24_months", "share_over_24_ci_low", "share_over_24_ci_high",
                   "share_over_48_months", "share_over_48_ci_low", "share_over_48_ci_high"),
}


@dataclass
class AssessmentScope:
    """The tables of a CQC API folder, restricted to one sector.

    Attributes
    ----------
    assessments, key_question_scores, statement_scores, locations, history, ratings : DataFrame
        The :func:`cqc_research.io.cqc_json.load_api_folder` tables of that name, rows of the sector only.
    problems : DataFrame
        Malformed parts of assessments (every sector: they may lack one).
    relationships : DataFrame
        Location relationships (every sector).
    """

    assessments: pd.DataFrame
    key_question_scores: pd.DataFrame
    statement_scores: pd.DataFrame
    locations: pd.DataFrame
    history: pd.DataFrame
    ratings: pd.DataFrame
    problems: pd.DataFrame
    relationships: pd.DataFrame


def api_in_scope(study: Study, *, sector: str | None = None) -> AssessmentScope:
    """A study's CQC API tables, the rows of one sector.

    Parameters
    ----------
    study : Study
        Where the API records come from (:class:`cqc_research.dataset.Study`, its ``api``).
    sector : str, optional
        A sector exactly as in the ``sector`` column; empty keeps every sector.

    Returns
    -------
    AssessmentScope
    """
    api = study.api

    def in_scope(frame):
        return frame if not sector else frame[frame["sector"].astype(str) == sector]

    return AssessmentScope(in_scope(api.assessments), in_scope(api.key_question_scores),
                           in_scope(api.statement_scores), in_scope(api.locations), in_scope(api.history),
                           in_scope(api.ratings), api.assessment_problems, api.relationships)


def assessed_by_sector_year(data: pd.DataFrame, *, locations: pd.DataFrame) -> pd.DataFrame:
    """Assessments, services assessed and rated assessments by sector and year of publication,
    with the services' share of the sector's locations.

    Parameters
    ----------
    data : DataFrame
        ``org_id``, ``sector``, ``publication_date``, ``rating``.
    locations : DataFrame
        ``sector`` (one row per location).

    Returns
    -------
    pandas.DataFrame
        ``sector, year, assessments, services, rated, locations, share_of_locations``.
    """
    a = data.assign(year=data["publication_date"].dt.year.astype("Int64"),
                    sector=data["sector"].astype(str))
    out = (a.groupby(["sector", "year"], observed=True)
           .agg(assessments=("org_id", "size"), services=("org_id", "nunique"), rated=("rating", "count"))
           .reset_index())
    totals = locations.assign(sector=locations["sector"].astype(str)).groupby("sector").size().rename("locations")
    out = out.merge(totals, on="sector", how="left")
    out["share_of_locations"] = out["services"] / out["locations"]
    return out


def statements_assessed_tables(data: pd.DataFrame, *, alpha: float = 0.05):
    """:func:`~cqc_research.metrics.assessment.statements_assessed` over all sectors in scope and by sector, and the two tables
    notebook 08 saves (the pooled rows first, sector ``"All sectors in scope"``).

    Parameters
    ----------
    data : DataFrame
        Quality-statement scores with a ``sector`` column.
    alpha : float
        1 - confidence level.

    Returns
    -------
    overall, by_sector : cqc_research.metrics.assessment.StatementsAssessed
        Over all sectors in scope, and by sector.
    tables : dict of str to DataFrame
        ``statements_assessed_distribution`` and ``statements_assessed_summary``.
    """
    overall = am.statements_assessed(data, alpha=alpha)
    by_sector = am.statements_assessed(data.assign(sector=data["sector"].astype(str)),
                                    by="sector", alpha=alpha)
    tables = {f"statements_assessed_{part}": pd.concat(
        [getattr(overall, part).assign(sector="All sectors in scope"), getattr(by_sector, part)],
        ignore_index=True) for part in ("distribution", "summary")}
    return overall, by_sector, tables


def score_distribution(data: pd.DataFrame) -> pd.DataFrame:
    """Quality-statement scores by key question: counts and shares of the statements assessed and
    of all statements listed (assessed or carried over).

    Parameters
    ----------
    data : DataFrame
        ``domain``, ``score`` (missing when not scored) and ``assessed``.

    Returns
    -------
    pandas.DataFrame
        ``domain, score, statements, share, statements_counted`` (``"assessed"`` or ``"all listed"``);
        shares add to 1 within a domain and kind.
    """
    scored = data[data["score"].notna()].assign(
        domain=lambda f: f["domain"].astype(str))
    parts = []
    for label, frame in (("assessed", scored[scored["assessed"].fillna(False).astype(bool)]),
                         ("all listed", scored)):
        t = frame.groupby(["domain", "score"]).size().rename("statements").reset_index()
        t["share"] = t["statements"] / t.groupby("domain")["statements"].transform("sum")
        parts.append(t.assign(statements_counted=label))
    return pd.concat(parts, ignore_index=True)


def key_question_percentages(data: pd.DataFrame) -> pd.DataFrame:
    """Summary statistics of the published percentage of each rated key question.

    Parameters
    ----------
    data : DataFrame
        ``domain``, ``rating``, ``percentage_score``.

    Returns
    -------
    pandas.DataFrame
        ``domain, count, mean, std, min, 25%, 50%, 75%, max``.
    """
    return (data.assign(domain=data["domain"].astype(str))
            .dropna(subset=["rating"]).groupby("domain")["percentage_score"].describe().reset_index())


def scoring_rule_tables(scope: AssessmentScope):
    """:func:`~cqc_research.metrics.assessment.scoring_consistency` in total and by key question,
    and the three tables notebook 08 saves (the exceptions' ``scores`` written as text).

    Parameters
    ----------
    scope : AssessmentScope
        :func:`api_in_scope` output.

    Returns
    -------
    consistency, exceptions : DataFrame
        The summary by rule version and the exceptions (``scores`` as lists).
    tables : dict of str to DataFrame
        ``scoring_rule_consistency``, ``scoring_rule_consistency_by_key_question`` and
        ``scoring_rule_exceptions``.
    """
    consistency, exceptions = am.scoring_consistency(scope.key_question_scores,
                                                     statement_scores=scope.statement_scores)
    by_kq, _ = am.scoring_consistency(scope.key_question_scores, statement_scores=scope.statement_scores,
                                      by="domain")
    return consistency, exceptions, {
        "scoring_rule_consistency": consistency, "scoring_rule_consistency_by_key_question": by_kq,
        "scoring_rule_exceptions": exceptions.assign(scores=exceptions["scores"].astype(str))}


# -- sentences ----------------------------------------------------------------------------------
def assessments_loaded_sentence(scope) -> str:
    """How many locations, assessments and scores are in scope, and whether any part of an
    assessment was malformed.

    Parameters
    ----------
    scope : AssessmentScope
        :func:`api_in_scope` output.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> from types import SimpleNamespace
    >>> s = SimpleNamespace(locations=pd.DataFrame(index=range(3)), problems=[],
    ...                     assessments=pd.DataFrame({"org_id": ["a", "a", "b"]}),
    ...                     key_question_scores=pd.DataFrame(index=range(5)),
    ...                     statement_scores=pd.DataFrame(index=range(20)))
    >>> print(textwrap.fill(assessments_loaded_sentence(s), 88))
    The folder holds 3 locations in scope; 2 of them carry at least one assessment under the
    new framework (3 service-group assessments, 5 key-question scores and 20 quality-
    statement scores). No part of any assessment was malformed.
    """
    problems = len(scope.problems)
    return (f"The folder holds {len(scope.locations):,} locations in scope; "
            f"{scope.assessments['org_id'].nunique():,} of them carry at least one assessment under the new "
            f"framework ({len(scope.assessments):,} service-group assessments, "
            f"{len(scope.key_question_scores):,} key-question scores and {len(scope.statement_scores):,} "
            "quality-statement scores). "
            + (f"**{problems:,} malformed part(s)** of assessments were kept apart (file and JSON path below) "
               "and are not in the tables that follow." if problems else
               "No part of any assessment was malformed."))


def assessments_published_sentence(assessments: pd.DataFrame) -> str:
    """When the assessments in scope were published and how many gave no rating.

    Parameters
    ----------
    assessments : DataFrame
        ``publication_date`` and ``rating``.

    Returns
    -------
    str

    Examples
    --------
    >>> a = pd.DataFrame({"publication_date": pd.to_datetime(["2024-01-05", "2024-06-01"]),
    ...                   "rating": ["Good", None]})
    >>> assessments_published_sentence(a)[:69]
    '2 assessments were published between January 2024 and June 2024; 1 of'
    """
    if not len(assessments):
        return "No assessment in scope."
    dates = assessments["publication_date"]
    return (f"{len(assessments):,} assessments were published between {dates.min():%B %Y} and "
            f"{dates.max():%B %Y}; {int(assessments['rating'].isna().sum()):,} of them gave no rating "
            "(services CQC does not rate, such as dental practices, are judged against the regulations instead).")


def statements_assessed_sentence(summary: pd.DataFrame) -> str:
    """The range, median and quartiles of the statements assessed per assessment.

    Parameters
    ----------
    summary : DataFrame
        ``StatementsAssessed.summary`` without groups (one row).

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> s = pd.DataFrame({"assessments": [4], "min": [2], "max": [8], "median": [5], "q25": [3],
    ...                   "q75": [7], "share_all": [0.25]})
    >>> print(textwrap.fill(statements_assessed_sentence(s), 88))
    Across 4 assessments, the number of statements assessed ranged from 2 to 8 (median 5,
    quartiles 3 and 7); 25% assessed every statement.
    """
    if not len(summary):
        return "No statement scores in scope."
    s = summary.iloc[0]
    return (f"Across {int(s['assessments']):,} assessments, the number of statements assessed ranged from "
            f"{s['min']:.0f} to {s['max']:.0f} (median {s['median']:.0f}, quartiles "
            f"{s['q25']:.0f} and {s['q75']:.0f}); {s['share_all']:.0%} assessed every statement.")


def scoring_rule_lines(consistency: pd.DataFrame) -> str:
    """One bullet per rule version: the published percentages and ratings the scoring rule
    reproduces, with intervals, and the direction of the exceptions.

    Parameters
    ----------
    consistency : DataFrame
        The first result of :func:`cqc_research.metrics.assessment.scoring_consistency`.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"rule_version": ["2023-11"], "n_checked": [10],
    ...                   "n_percentage_reproduced": [9], "percentage_reproduced": [0.9],
    ...                   "percentage_ci_low": [0.6], "percentage_ci_high": [0.98],
    ...                   "n_rating_reproduced": [8], "rating_reproduced": [0.8],
    ...                   "rating_ci_low": [0.5], "rating_ci_high": [0.95],
    ...                   "n_published_better": [1], "n_published_worse": [1]})
    >>> print(textwrap.fill(scoring_rule_lines(c), 88))
    - rule version 2023-11 (assessments before 2 December 2024): percentages reproduced for
    9 of 10 key questions (90%, 95% CI 60% to 98%); ratings for 8 (80%, 95% CI 50% to 95%);
    the published rating was better than the rule's in 1 and worse in 1.
    """
    lines = []
    for r in consistency.itertuples():
        if r.n_checked:
            when = ("assessments before 2 December 2024" if r.rule_version == "2023-11"
                    else "assessments from 2 December 2024")
            lines.append(f"- rule version {r.rule_version} ({when}): percentages "
                         f"reproduced for {r.n_percentage_reproduced:,} of {r.n_checked:,} key questions "
                         f"({r.percentage_reproduced:.0%}, 95% CI {r.percentage_ci_low:.0%} to "
                         f"{r.percentage_ci_high:.0%}); ratings for {r.n_rating_reproduced:,} "
                         f"({r.rating_reproduced:.0%}, 95% CI {r.rating_ci_low:.0%} to {r.rating_ci_high:.0%}); "
                         f"the published rating was better than the rule's in {r.n_published_better:,} and "
                         f"worse in {r.n_published_worse:,}.")
    return "\n".join(lines) if lines else "No rated key question could be checked."


def framework_shift_lines(summary: pd.DataFrame) -> str:
    """One bullet per sector: the share of services rated worse at their first new-framework
    rating against the share the 2014 transitions predict.

    Parameters
    ----------
    summary : DataFrame
        ``FrameworkShift.summary``.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> s = pd.DataFrame({"sector": ["GP"], "direction": ["worse"], "n": [200],
    ...                   "observed": [0.3], "ci_low": [0.24], "ci_high": [0.37], "expected": [0.2],
    ...                   "difference": [0.1],
    ...                   "difference_ci_low": [0.04], "difference_ci_high": [0.17]})
    >>> print(textwrap.fill(framework_shift_lines(s), 88))
    - GP: 30% of 200 services were rated worse (95% CI 24% to 37%), more often than the 20%
    the 2014 transitions predict (difference +10%, 95% CI +4% to +17%).
    """
    lines = []
    for r in summary[summary["direction"] == "worse"].itertuples():
        if np.isfinite(r.difference):
            verdict = ("more often than" if r.difference_ci_low > 0 else "less often than"
                       if r.difference_ci_high < 0 else "about as often as (the interval includes no shift)")
            lines.append(f"- {r.sector}: {r.observed:.0%} of {r.n:,} services were rated worse (95% CI "
                         f"{r.ci_low:.0%} to {r.ci_high:.0%}), {verdict} the {r.expected:.0%} the 2014 "
                         f"transitions predict (difference {r.difference:+.0%}, 95% CI "
                         f"{r.difference_ci_low:+.0%} to {r.difference_ci_high:+.0%}).")
    return "\n".join(lines) if lines else "No service has ratings under both frameworks in scope."


# -- rating transitions (notebook 03) --------------------------------------------------------
