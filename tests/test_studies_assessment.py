"""Notebook 08's study module: the tables it saves and its sentences, by hand (moved from
tests/test_notebook_helpers.py); a sentence for what was loaded; TABLES against the notebook run
in tests/test_assessment_framework.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cqc_research.studies import assessment as q


def _statement_scores():
    rows = []
    # assessment A (sector x): Safe 3 assessed (scores 3, 4, 2), Caring 2 listed not assessed (3, 3)
    for score, assessed in ((3, True), (4, True), (2, True)):
        rows.append(("A", "x", "Safe", score, assessed))
    for score in (3, 3):
        rows.append(("A", "x", "Caring", score, False))
    # assessment B (sector y): Safe 1 assessed (1), 1 unscored; Caring 1 assessed (4)
    rows += [("B", "y", "Safe", 1, True), ("B", "y", "Safe", None, False), ("B", "y", "Caring", 4, True)]
    df = pd.DataFrame(rows, columns=["org_id", "sector", "domain", "score", "assessed"])
    df["assessment_plan_id"] = df["org_id"] + "-plan"
    df["service_group"] = "all"
    return df


def test_score_distribution_counts_by_hand():
    got = q.score_distribution(_statement_scores()).set_index(["statements_counted", "domain", "score"]).sort_index()
    # assessed: Safe 3, 4, 2, 1 -> a quarter each; Caring 4 alone
    assert got.loc[("assessed", "Safe", 1), "statements"] == 1
    assert got.loc[("assessed", "Safe", 4), "share"] == pytest.approx(0.25)
    assert got.loc[("assessed", "Caring", 4), "share"] == pytest.approx(1.0)
    assert ("assessed", "Caring", 3) not in got.index
    # all listed: Caring 3, 3, 4 -> two thirds score 3; Safe's unscored statement is left out
    assert got.loc[("all listed", "Caring", 3), "share"] == pytest.approx(2 / 3)
    assert got.loc[("all listed", "Safe"), "statements"].sum() == 4


def test_statements_assessed_tables_pool_then_sectors_by_hand():
    overall, by_sector, tables = q.statements_assessed_tables(_statement_scores())
    assert set(tables) == {"statements_assessed_distribution", "statements_assessed_summary"}
    summary = tables["statements_assessed_summary"].set_index("sector")
    assert list(summary.index) == ["All sectors in scope", "x", "y"]
    # A assessed 3 statements of 5, B 2 of 3
    assert summary.loc["All sectors in scope", "assessments"] == 2
    assert summary.loc["x", "max"] == 3 and summary.loc["y", "max"] == 2
    dist = tables["statements_assessed_distribution"]
    pooled = dist[dist["sector"] == "All sectors in scope"].set_index("n_assessed")["assessments"]
    assert pooled[2] == 1 and pooled[3] == 1 and pooled.sum() == 2


def test_assessed_by_sector_year_and_percentages_by_hand():
    a = pd.DataFrame({"org_id": ["1", "1", "2", "3"], "sector": ["x", "x", "x", "y"],
                      "publication_date": pd.to_datetime(["2024-01-01", "2024-05-01", "2025-02-01", "2024-03-01"]),
                      "rating": ["Good", None, "Good", "Good"]})
    locations = pd.DataFrame({"sector": ["x", "x", "x", "x", "y"]})
    got = q.assessed_by_sector_year(a, locations=locations).set_index(["sector", "year"])
    assert got.loc[("x", 2024)].tolist()[:4] == [2, 1, 1, 4]
    assert got.loc[("x", 2024), "share_of_locations"] == pytest.approx(1 / 4)
    assert got.loc[("y", 2024), "share_of_locations"] == pytest.approx(1.0)
    kq = pd.DataFrame({"domain": ["Safe", "Safe", "Safe", "Caring"], "rating": ["Good", "Good", None, "Good"],
                       "percentage_score": [50.0, 70.0, 99.0, 80.0]})
    pct = q.key_question_percentages(kq).set_index("domain")
    assert pct.loc["Safe", "mean"] == pytest.approx(60.0) and pct.loc["Safe", "count"] == 2


def test_notebook_08_sentences_by_hand():
    a = pd.DataFrame({"publication_date": pd.to_datetime(["2024-03-02", "2025-01-20"]), "rating": ["Good", None]})
    assert q.assessments_published_sentence(a) == (
        "2 assessments were published between March 2024 and January 2025; 1 of them gave no rating "
        "(services CQC does not rate, such as dental practices, are judged against the regulations instead).")
    assert q.assessments_published_sentence(a.iloc[:0]) == "No assessment in scope."
    s = pd.DataFrame({"assessments": [4], "min": [1], "max": [10], "median": [8.0], "q25": [5.5], "q75": [9.25],
                      "share_all": [0.25]})
    assert q.statements_assessed_sentence(s) == (
        "Across 4 assessments, the number of statements assessed ranged from 1 to 10 (median 8, "
        "quartiles 6 and 9); 25% assessed every statement.")
    c = pd.DataFrame({"rule_version": ["2023-11", "2024-12"], "n_checked": [20, 0],
                      "n_percentage_reproduced": [19, 0], "percentage_reproduced": [0.95, np.nan],
                      "percentage_ci_low": [0.76, np.nan], "percentage_ci_high": [0.99, np.nan],
                      "n_rating_reproduced": [20, 0], "rating_reproduced": [1.0, np.nan],
                      "rating_ci_low": [0.84, np.nan], "rating_ci_high": [1.0, np.nan],
                      "n_published_better": [0, 0], "n_published_worse": [0, 0]})
    assert q.scoring_rule_lines(c) == (
        "- rule version 2023-11 (assessments before 2 December 2024): percentages reproduced for 19 of 20 "
        "key questions (95%, 95% CI 76% to 99%); ratings for 20 (100%, 95% CI 84% to 100%); the published "
        "rating was better than the rule's in 0 and worse in 0.")
    assert q.scoring_rule_lines(c.iloc[1:]) == "No rated key question could be checked."
    shift = pd.DataFrame({"sector": ["GP practices", "GP practices", "Adult social care"],
                          "direction": ["worse", "better", "worse"], "n": [40, 40, 12],
                          "observed": [0.3, 0.1, 0.25], "ci_low": [0.18, 0.04, 0.09], "ci_high": [0.45, 0.23, 0.53],
                          "expected": [0.12, 0.2, 0.2], "difference": [0.18, -0.1, 0.05],
                          "difference_ci_low": [0.04, -0.2, -0.2], "difference_ci_high": [0.33, 0.02, 0.35]})
    assert q.framework_shift_lines(shift) == (
        "- GP practices: 30% of 40 services were rated worse (95% CI 18% to 45%), more often than the 12% "
        "the 2014 transitions predict (difference +18%, 95% CI +4% to +33%).\n"
        "- Adult social care: 25% of 12 services were rated worse (95% CI 9% to 53%), about as often as "
        "(the interval includes no shift) the 20% the 2014 transitions predict (difference +5%, 95% CI "
        "-20% to +35%).")
    assert q.framework_shift_lines(shift.iloc[:0]) == "No service has ratings under both frameworks in scope."


def test_assessments_loaded_sentence_names_malformed_parts():
    s = SimpleNamespace(locations=pd.DataFrame(index=range(3)), problems=pd.DataFrame(index=range(2)),
                        assessments=pd.DataFrame({"org_id": ["a", "a", "b"]}),
                        key_question_scores=pd.DataFrame(index=range(5)),
                        statement_scores=pd.DataFrame(index=range(20)))
    text = q.assessments_loaded_sentence(s)
    assert text.startswith("The folder holds 3 locations in scope; 2 of them carry at least one assessment")
    assert "**2 malformed part(s)** of assessments were kept apart" in text


def test_tables_declare_tuples_of_columns():
    assert all(isinstance(c, tuple) and c for c in q.TABLES.values())
    assert "scoring_rule_exceptions" in q.TABLES and q.TABLES["key_question_percentages"][0] == "domain"
