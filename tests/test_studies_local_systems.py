"""Notebook 05's study module: its sentences, its steps and the tables it declares."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from cqc_research.studies import local_systems as q
from cqc_research.studies import local_systems as say


def test_area_sentences():
    focus = pd.DataFrame({"local_authority": ["A", "B", "C", "D"], "n_rated": [10, 20, 30, 40],
                          "share_good": [0.5, 0.6, 0.8, 0.9], "england_share_good": 0.78,
                          "vs_england": ["lower", "lower", "similar", "similar"],
                          "care_home_beds": [100, 0, 300, 0], "beds_good": [50, 0, 250, 0]})
    # beds: 300 of 400 beds in homes rated Good or better = 75%
    assert say.area_summary_sentence(focus, "Adult social care") == (
        "**Adult social care:** 100 rated locations in 4 areas; 78% are rated Good or Outstanding "
        "overall. Area shares run from 50% to 90%. 2 areas have an interval wholly below the "
        "overall share (A, B). Care-home beds are known for 400 beds; 75% of them are in homes "
        "rated Good or better.")
    one = focus.iloc[[0]].assign(care_home_beds=0)
    assert say.area_summary_sentence(one, "GP practices") == (
        "**GP practices:** 10 rated locations in 1 area; 78% are rated Good or Outstanding overall.")
    ranks = pd.DataFrame({"local_authority": ["A", "B", "C", "D"], "rank_low": [1, 1, 2, 1],
                          "rank_high": [4, 3, 4, 2], "p_bottom": [0.2, 0.1, 0.3, 0.4],
                          "bottom_k": 2})
    # widths 3, 2, 2, 1: median 2
    assert say.rank_sentence(ranks) == (
        "The median width of a rank interval is 2 places out of 4. No area has an even chance of "
        "being among the bottom 2 areas.")


def test_dtoc_funnel_uses_the_areas_with_a_rate():
    joined = pd.DataFrame({"local_authority": list("ABCD"), "dtoc_days": [100, 250, 50, 10],
                           "population_65plus": [20_000, 30_000, 10_000, 5_000],
                           "dtoc_per_100k": [500.0, 833.3, 500.0, float("nan")]})
    fr = q.dtoc_funnel(joined)
    assert fr["local_authority"].tolist() == ["A", "B", "C"]
    # the rate's target is the pooled rate of the three areas, per 100,000
    assert fr["target"].iloc[0] == pytest.approx(400 / 60_000 * 100_000)


def test_load_area_ratings_needs_an_api_folder_for_api_ratings():
    with pytest.raises(ValueError, match="give api_path"):
        q.load_area_ratings("api", api_path="none")


def test_ranking_figure_names_the_sector():
    ranks = pd.DataFrame({"local_authority": ["A", "B", "C"], "estimate": [0.5, 0.6, 0.7],
                          "rank": [3, 2, 1], "rank_median": [3, 2, 1], "rank_low": [2, 1, 1],
                          "rank_high": [3, 3, 2], "p_bottom": [0.6, 0.3, 0.1], "bottom_k": 1})
    fig = q.ranking_figure(ranks, sector="GP practices", highlight=["A"])
    assert fig.axes[0].get_title().startswith("GP practices: rank of each area")
    plt.close(fig)
