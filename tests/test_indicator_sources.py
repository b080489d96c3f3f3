"""Every indicator source a study holds: found, linked with a leakage-safe window, compared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.indicator_sources import indicator_sources, link_sources
from cqc_research.metrics.prediction import indicator_gaps
from cqc_research.ratings import RATING_DTYPE, RATINGS


def _rated(n, rng, p_good=0.7):
    good = rng.random(n) < p_good
    rating = np.where(good, rng.choice(["Good", "Outstanding"], n, p=[0.85, 0.15]),
                      rng.choice(["Requires improvement", "Inadequate"], n, p=[0.8, 0.2]))
    return pd.Series(pd.Categorical(rating, categories=RATINGS, ordered=True), dtype=RATING_DTYPE), good


@pytest.mark.parametrize("planted", [0.0, 4.0])
def test_indicator_gaps_recovers_a_planted_gap_and_finds_none_where_none_is(planted):
    hits = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        rating, good = _rated(400, rng)
        x = 70 + planted * good + rng.normal(0, 8, len(good))
        gaps = indicator_gaps(pd.DataFrame({"Overall": rating, "x": x}), rating="Overall",
                              indicators=["x"]).iloc[0]
        # the mean gap by hand, from the raw values
        assert gaps["difference"] == pytest.approx(x[good].mean() - x[~good].mean())
        hits += gaps["ci_low"] <= planted <= gaps["ci_high"]
        if planted == 0.0:
            assert gaps["n"] == 400
    assert hits >= 34  # a 95% interval covers the truth in about 38 of 40 worlds


def test_indicator_gaps_detects_a_planted_gap_and_not_an_absent_one():
    rng = np.random.default_rng(3)
    rating, good = _rated(1000, rng)
    data = pd.DataFrame({"Overall": rating, "signal": 70 + 5 * good + rng.normal(0, 8, 1000),
                         "noise": 70 + rng.normal(0, 8, 1000)})
    gaps = indicator_gaps(data, rating="Overall", indicators=["signal", "noise"]).set_index("indicator")
    assert gaps.loc["signal", "ci_low"] > 0
    assert gaps.loc["noise", "ci_low"] < 0 < gaps.loc["noise", "ci_high"]


def test_indicator_gaps_needs_two_on_each_side():
    data = pd.DataFrame({"Overall": ["Good", "Good", "Good", "Inadequate"], "x": [1.0, 2, 3, 4]})
    row = indicator_gaps(data, rating="Overall", indicators=["x"]).iloc[0]
    assert (row["n_good_or_better"], row["n_worse"]) == (3, 1)
    assert np.isnan(row["difference"]) and np.isnan(row["ci_low"])


def _indicator(path, rows):
    """A tidy indicator CSV (docs/indicators.md: period as 'start/end')."""
    frame = pd.DataFrame([{"org_code": code, "org_level": level, "period": f"{start}/{end}",
                           "measure": measure, "value": value}
                          for code, level, start, end, measure, value in rows])
    frame.to_csv(path, index=False)
    return path


def test_link_sources_never_gives_a_rating_a_value_measured_after_it(tmp_path):
    wide = pd.DataFrame({
        "org_id": ["1-1", "1-2"], "level": "location", "location_id": ["1-1", "1-2"],
        "location_ods_code": ["A1", "A2"], "location_name": ["One", "Two"],
        "provider_id": ["P1", "P2"], "sector": "GP practices",
        "publication_date": pd.to_datetime(["2019-06-01", "2021-06-01"]),
        "Overall": pd.Categorical(["Good", "Inadequate"], categories=RATINGS, ordered=True)})
    years = [("2017-04-01", "2018-03-31", 10.0), ("2018-04-01", "2019-03-31", 20.0),
             ("2019-04-01", "2020-03-31", 30.0), ("2020-04-01", "2021-03-31", 40.0)]
    rows = [(code, "practice", s, e, "gpps_overall_good", v + bump)
            for code, bump in (("A1", 0.0), ("A2", 1.0)) for s, e, v in years]
    path = _indicator(tmp_path / "tidy.csv", rows)
    linked = link_sources(wide, sources={"gpps": [path]}, level="practice", sector=None)
    got = linked.data.set_index("org_id")["gpps_overall_good"]
    assert got["1-1"] == 20.0  # the year ending March 2019, before June 2019; not 2019-20
    assert got["1-2"] == 41.0  # the year ending March 2021
    src = linked.sources.set_index("source")
    assert src.loc["gpps", "status"] == "used" and src.loc["gpps", "linked"] == 2
    assert src.loc["qof", "status"] == "not held"
    assert linked.headline == ["gpps_overall_good"]


def test_indicator_sources_explicit_declared_and_synthetic(tmp_path, monkeypatch):
    f = tmp_path / "shmi.csv"
    f.write_text("x")
    assert indicator_sources({"shmi": str(f)}) == {"shmi": [f]}
    with pytest.raises(DataFormatError, match="unknown indicator source"):
        indicator_sources({"ofsted": str(f)})
    with pytest.raises(DataFormatError, match="no such file"):
        indicator_sources({"shmi": str(tmp_path / "nowhere.csv")})
    study = tmp_path / "study"
    study.mkdir()
    (study / "cqc-research.toml").write_text(f'[data.indicators]\nshmi = "{f}"\n')
    monkeypatch.setenv("CQC_RESEARCH_STUDY", str(study))
    assert indicator_sources() == {"shmi": [f]}
    (study / "cqc-research.toml").write_text("[study]\n")
    assert indicator_sources(synthetic=False) == {}  # real ratings: never synthetic indicators
    found = indicator_sources()  # nothing declared: the embedded synthetic files
    assert {"gp_payments", "shmi", "staff_survey", "ae"} <= set(found)


@pytest.mark.realdata
def test_notebook_02_reads_the_real_indicator_files(synthetic_small, shared_data, tmp_path):
    """Notebook 02 on real files of each indicator layout in shared: what it used, what it lacks."""
    from test_prediction import _ratings_csv_with_real_practice_codes

    from cqc_research.paths import NOTEBOOKS
    from cqc_research.runner import KernelSession

    real = shared_data / "real_formats"
    ratings_csv, _, pay_dir = _ratings_csv_with_real_practice_codes(
        synthetic_small, shared_data, tmp_path / "ratings")
    sources = {"gp_payments": str(pay_dir), "qof": str(real / "qof_csv"),
               "staff_survey": str(real / "staff_survey_xlsx"), "ae": str(real / "ae_monthly_csv")}
    run = tmp_path / "run"
    params = {"ratings_path": str(ratings_csv), "indicators_path": str(pay_dir),
              "sources": sources, "output_dir": str(run)}
    with KernelSession(cwd=tmp_path) as kernel:
        nb, error = kernel.execute(NOTEBOOKS / "02_indicators_vs_ratings.ipynb", run / "02.ipynb",
                                   params)
    assert error is None, error
    text = "\n".join(out.get("data", {}).get("text/markdown", "")
                     for cell in nb.cells for out in cell.get("outputs", []))
    held = pd.read_csv(run / "tables" / "indicator_sources.csv")
    used = held[held["status"] == "used"]
    assert set(used["source"]) == set(sources)
    qof = used.set_index("source").loc["qof", "measures"]
    registers = pd.read_csv(real / "qof_csv" / "PREVALENCE_2223_first40practices.csv")["GROUP_CODE"]
    for code in registers.str.lower().unique():  # every register of the real file is a measure
        assert f"qof_prevalence_{code}" in qof
    assert "staff_recommend_care" in used.set_index("source").loc["staff_survey", "measures"]
    assert "Used: NHS Payments to General Practice (practices)" in text
    assert "The study lacks: GP Patient Survey, practice results" in text
    gaps = pd.read_csv(run / "tables" / "indicator_gaps_practice.csv")
    assert {"list_size", "qof_payments_per_patient"} <= set(gaps["indicator"])
