"""Notebook 03's study module: its sentences, its glue and the tables it declares."""

from __future__ import annotations

import pandas as pd

from cqc_research.studies import journeys as q


def test_non_scale_and_stay_good_sentences_by_hand():
    assert q.non_scale_sentence({"Inspected but not rated": 1200, "Suspended": 0, "Other": 3}) == (
        "Non-scale outcomes by status: Inspected but not rated: 1,200, Other: 3.")
    m = pd.DataFrame({"sector": ["GP practices", "Other"], "domain": "Overall",
                      "from_rating": "Good", "to_rating": "Good", "share": [0.9, 0.5],
                      "ci_low": [0.85, 0.1], "ci_high": [0.94, 0.9], "row_n": [1500, 0]})
    # Other has no pairs: left out; a sector not asked for is left out too
    assert q.stay_good_lines(m, ["GP practices", "Other"]) == (
        "- GP practices: 90% of Good ratings were followed by Good again (95% CI 85% to 94%; "
        "1,500 pairs).")


def test_time_to_improvement_lines_by_hand():
    from types import SimpleNamespace

    t = SimpleNamespace(
        median=pd.DataFrame({"sector": ["A", "B"], "n": [40, 10], "events": [30, 2],
                             "median_months": [7.25, float("nan")], "ci_low": [5.5, float("nan")],
                             "ci_high": [9.0, float("nan")]}),
        improved_by=pd.DataFrame({"sector": ["A"], "months": [12], "improved_share": [0.7],
                                  "ci_low": [0.55], "ci_high": [0.82]}))
    assert q.time_to_improvement_lines(t).splitlines() == [
        "- **A**: 40 spells, 30 improved, median 7.2 months (95% CI 5.5 to 9.0); 70% improved "
        "within 12 months (55% to 82%).",
        "- **B**: 10 spells, 2 improved, median not reached."]


def test_within_framework_keeps_2014_ratings():
    from cqc_research.assessment_framework import FRAMEWORK_2014

    h = pd.DataFrame({"framework": [FRAMEWORK_2014, "single assessment"], "x": [1, 2]})
    assert q.within_framework(h)["x"].tolist() == [1]
    assert len(q.within_framework(h.drop(columns="framework"))) == 2


def test_load_histories_from_snapshots(tmp_path, synthetic_small):
    ratings = synthetic_small.paths["ratings_ods"]
    data = q.load_histories(ratings_files=f"{ratings},{ratings}")
    assert data.relationships is None and len(data.sources) == 2
    assert "2 monthly Latest ratings files" in data.note
    assert {"org_id", "report_date", "domain", "rating"} <= set(data.history.columns)
