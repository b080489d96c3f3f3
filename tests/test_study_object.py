"""The one Study: explicit paths win over the declaration, which wins over the embedded data."""

from __future__ import annotations

import pandas as pd
import pytest

from cqc_research.dataset import MissingInput, Study
from cqc_research.errors import DataFormatError
from cqc_research.indicator_sources import indicator_sources
from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.synthetic import ensure_default_data


@pytest.fixture
def embedded():
    return ensure_default_data(quiet=True)


def _study_folder(tmp_path, declared: str = "") -> object:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cqc-research.toml").write_text("[study]\n" + declared)
    return tmp_path


def test_explicit_wins_over_declared_which_wins_over_embedded(tmp_path, embedded):
    folder = _study_folder(tmp_path / "s", "")
    for name in ("declared.ods", "given.ods", "pop.csv"):
        (folder / name).write_bytes(b"x")
    (folder / "cqc-research.toml").write_text(
        '[data]\nratings = "declared.ods"\npopulation = "pop.csv"\n')
    # declared, not given
    assert Study(folder).path("ratings") == folder / "declared.ods"
    # given wins
    study = Study(folder, ratings=folder / "given.ods")
    assert study.path("ratings") == folder / "given.ods"
    assert study.path("population") == folder / "pop.csv"  # the rest still declared
    # real data declared: nothing falls back to the embedded data
    assert study.path("api") is None and not study.uses_embedded()
    # nothing declared: the embedded data
    empty = Study(_study_folder(tmp_path / "e"))
    assert empty.uses_embedded() and empty.is_synthetic
    assert empty.path("ratings") == embedded / "cqc" / "latest_ratings.ods"
    assert empty.path("api") == embedded / "cqc_api"
    # "none" leaves an input out on purpose
    assert Study(_study_folder(tmp_path / "n"), api="none").path("api") is None


def test_embedded_fill_only_when_asked(tmp_path, embedded):
    (tmp_path / "r.ods").write_bytes(b"x")
    mixed = Study(_study_folder(tmp_path), ratings=tmp_path / "r.ods", embedded=True)
    assert mixed.path("api") == embedded / "cqc_api"
    assert Study(_study_folder(tmp_path), ratings=tmp_path / "r.ods").path("api") is None


def test_a_missing_given_path_names_its_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="api: .*no such file"):
        Study(api=tmp_path / "missing")
    with pytest.raises(ValueError, match="not a study input"):
        Study(ratingz="x")


def test_lazy_nothing_is_read_until_asked(tmp_path):
    bad = tmp_path / "ratings.ods"
    bad.write_bytes(b"not a workbook")
    study = Study(_study_folder(tmp_path), ratings=bad)  # no error: nothing read
    assert study.sources == []
    with pytest.raises(DataFormatError):
        _ = study.ratings
    with pytest.raises(MissingInput, match="api"):
        _ = study.api


def test_same_frames_as_the_readers(synthetic_small):
    paths = synthetic_small.paths
    study = Study.synthetic(folder=synthetic_small.root)
    assert study.is_synthetic
    expected = load_latest_ratings(paths["ratings_ods"])
    pd.testing.assert_frame_equal(study.ratings, expected)
    assert study.sources == [paths["ratings_ods"]]
    pd.testing.assert_frame_equal(study.wide("location"), ratings_wide(expected, level="location"))
    assert study.ratings is study.ratings  # cached on the object
    api = load_api_folder(paths["api_folder"])
    pd.testing.assert_frame_equal(study.history, api.history)
    pd.testing.assert_frame_equal(study.assessments, api.assessments)
    assert study.indicator_files("gp_payments") == list(paths["gp_payments"])
    assert study.files("indicators.qof") == [*paths["qof_prevalence"], *paths["qof_achievement"]]
    assert len(study.indicators("gp_payments")) == len(paths["gp_payments"])


def test_the_embedded_sources_are_those_indicator_sources_lists(embedded):
    study = Study.synthetic()
    for source, files in indicator_sources(None, synthetic=True).items():
        assert study.files(f"indicators.{source}") == files, source


def test_parameters_as_notebooks_give_them(embedded):
    study = Study.from_parameters(ratings_path="", api_path="none", level="location", output_dir="")
    assert study.given == {}
    assert study.path("api") is None
    given = Study.from_parameters(ratings_path=str(embedded / "cqc" / "latest_ratings.ods"))
    assert given.is_synthetic  # the file carries the SYNTHETIC marker
    assert given.path("api") is None  # given data are not mixed with the embedded data


def test_tables_given_are_used(embedded):
    frame = pd.DataFrame({"org_id": ["a"]})
    study = Study(tables={"history": frame})
    assert study.history is frame and study.relationships is None
    assert not study.uses_embedded()


def test_a_file_is_read_once_per_process(tmp_path, synthetic_small, monkeypatch):
    import cqc_research.dataset as D

    calls = []
    reader = D._READERS["population"]
    monkeypatch.setitem(D._READERS, "population", lambda p: calls.append(p) or reader(p))
    src = synthetic_small.paths["population"]
    copy = tmp_path / "pop.csv"
    copy.write_bytes(src.read_bytes())
    first = Study(population=copy).table("population")
    second = Study(population=copy).table("population")  # another Study: from memory
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, second)
    copy.write_bytes(src.read_bytes() + b"\n")  # a changed file is read again
    Study(population=copy).table("population")
    assert len(calls) == 2


def test_parquet_is_read_as_it_is(tmp_path, synthetic_small):
    ratings = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    ratings.to_parquet(tmp_path / "ratings.parquet", index=False)
    pd.testing.assert_frame_equal(Study(ratings=tmp_path / "ratings.parquet").ratings,
                                  pd.read_parquet(tmp_path / "ratings.parquet"))


def test_indicators_by_source_and_recognised(synthetic_small):
    embedded = synthetic_small.root
    gp = sorted((embedded / "gp_payments").glob("*.csv"))
    by_source = Study(indicators={"gp_payments": gp[:2]})
    assert by_source.indicator_files("gp_payments") == gp[:2]
    assert by_source.indicator_files("ae") == []
    with pytest.raises(MissingInput, match="indicators.ae"):
        by_source.indicators("ae")
    recognised = Study(indicators=f"{embedded / 'gp_payments'},{embedded / 'ae'}")
    assert recognised.indicator_files("gp_payments") == gp
    assert recognised.files("indicators.ae") == [embedded / "ae"]
    sources = Study.from_parameters(sources={"qof": str(embedded / "qof")})
    assert sources.files("indicators.qof") == [embedded / "qof"]
