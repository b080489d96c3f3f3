"""Notebook 00's study module: the ratings in scope and the sentences, by hand; the tables its
metrics make carry exactly the columns ``TABLES`` declares."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.metrics.overview import data_freshness, rating_mix, source_agreement
from cqc_research.studies import overview as q


def test_in_scope_and_the_sentences_by_hand():
    long = pd.DataFrame({"org_id": ["a", "a", "b", "c", "d"],
                         "level": ["location", "location", "location", "provider", "location"],
                         "service_group": ["Overall", "Overall", "Overall", "Overall", "Care homes"],
                         "domain": ["Overall", "Safe", "Overall", "Overall", "Overall"]})
    org, overall = q.ratings_in_scope(long, level="location")
    assert org["org_id"].tolist() == ["a", "a", "b"] and overall["org_id"].tolist() == ["a", "b"]
    assert q.rated_sentence(long, overall, level="location") == (
        "2 locations have an overall rating (4 organisations in 5 rows of the ratings file).")
    history = pd.DataFrame({"domain": ["Overall", "Overall", "Overall", "Safe"],
                            "org_id": ["a", "a", "b", "b"], "report_link_id": ["r1", "r2", "r3", "r4"]})
    api = SimpleNamespace(locations=pd.DataFrame(index=range(3)), history=history)
    assert q.api_sentence(api) == "3 locations; 3 inspection reports; median 2 reports per location (max 2)"


def test_the_declared_columns_are_what_the_metrics_make(synthetic_small):
    long = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    org, overall = q.ratings_in_scope(long)
    api = load_api_folder(synthetic_small.paths["api_folder"])
    made = {"ratings_by_sector": rating_mix(overall, by="sector"),
            "ratings_by_domain": rating_mix(org, by="domain"),
            "ratings_by_region": rating_mix(overall, by=["region", "sector"]),
            "data_freshness": data_freshness(overall, by="sector"),
            "workbook_vs_api": source_agreement(ratings_wide(long, level="location"), other=
                                                ratings_wide(api.ratings, level="location"))}
    assert set(made) == set(q.TABLES)
    for name, table in made.items():
        assert tuple(table.columns) == q.TABLES[name], name
    q.publication_year_figure(overall).clf()
