"""A study declares its data once in cqc-research.toml; fetch records there, notebooks read it."""

from __future__ import annotations

import pytest
from http_fixtures import Reply, loopback

from cqc_research import cli
from cqc_research.dataset import Study
from cqc_research.errors import CQCResearchError
from cqc_research.study import declare_data, init_study, study_data

PAYMENTS = (b"Practice Code,Practice Name,Number of Registered Patients (Last Known Figure)\r\n"
            b"A81001,THE DENSHAM SURGERY,4000\r\n")


@pytest.fixture
def study(tmp_path, monkeypatch):
    root = init_study(tmp_path / "study").root
    monkeypatch.setenv("CQC_RESEARCH_STUDY", str(root))
    return root


def test_a_new_study_declares_nothing_and_notebooks_use_the_synthetic_data(study):
    assert study_data() == {}
    assert "[data]" in (study / "cqc-research.toml").read_text()  # the commented example
    ratings = str(Study.from_parameters(ratings_path="").path("ratings"))
    assert ratings.endswith("cqc/latest_ratings.ods") and "synthetic" in ratings


def test_declared_paths_replace_empty_inputs_and_explicit_ones_win(study):
    (study / "data/raw/ratings").mkdir(parents=True)
    old, new = study / "data/raw/ratings/2024-01.ods", study / "data/raw/ratings/2024-05.ods"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    (study / "data/raw/gp").mkdir()
    for year in ("2018-19", "2019-20"):
        (study / f"data/raw/gp/{year}.csv").write_text("x")
    assert declare_data("ratings", old) and declare_data("ratings", new)
    assert not declare_data("ratings", new)  # already listed: the file is unchanged
    for year in ("2018-19", "2019-20"):
        declare_data("indicators.gp_payments", study / f"data/raw/gp/{year}.csv")
    text = (study / "cqc-research.toml").read_text()
    assert text.startswith("# This folder is a cqc-research study folder")  # comments kept
    assert 'ratings = ["data/raw/ratings/2024-01.ods", "data/raw/ratings/2024-05.ods"]' in text
    declared = Study.from_parameters(ratings_path="", indicators_path="")
    assert declared.path("ratings") == new  # the newest download, listed last
    assert declared.path("indicators.gp_payments") == study / "data/raw/gp"  # the series' folder
    assert Study.from_parameters(ratings_path=str(old)).path("ratings") == old


@pytest.mark.parametrize("body, message", [
    ('[data]\nratingz = "x"\n', "'ratingz' is not a data key"),
    ('[data]\nratings = "nowhere.ods"\n', "no such file or folder"),
    ('[data.indicators]\nqof = 3\n', "must be a path or a list of paths"),
    ("[data\n", "not valid TOML"),
])
def test_a_bad_declaration_names_the_file_and_the_key(study, body, message):
    (study / "cqc-research.toml").write_text(body)
    with pytest.raises(CQCResearchError, match=message) as err:
        study_data()
    assert str(study / "cqc-research.toml") in str(err.value)


def test_declare_data_refuses_an_unknown_key(study):
    with pytest.raises(ValueError, match="'indicators.ofsted' is not a data key"):
        declare_data("indicators.ofsted", study)


def test_fetch_records_what_it_downloads(study, capsys):
    with loopback() as srv:
        srv.add("/gp/nhs-payments-gp-2018-19.csv", Reply(200, PAYMENTS))
        status = cli.main(["fetch", "gp-payments", "--url", srv.url("/gp/nhs-payments-gp-2018-19.csv"),
                           "--dest", str(study / "data/raw")])
    assert status == 0
    assert "recorded in cqc-research.toml: [data] indicators.gp_payments" in capsys.readouterr().out
    assert study_data()["indicators.gp_payments"] == [study / "data/raw/gp-payments"]


def test_batch_and_replicate_read_the_declared_data(study, tmp_path, capsys):
    from test_batch import NOTEBOOK, _data

    from cqc_research.studies.replications import study_from_paths

    data = _data(tmp_path / "d")
    declare_data("ratings", data)
    status = cli.main(["batch", str(NOTEBOOK), "--for-each", "provider", "--dry-run",
                       "--output-root", str(tmp_path / "out")])
    assert status == 0
    assert "3 entities; 3 would run" in capsys.readouterr().out  # the declared file's providers
    assert study_from_paths().path("ratings") == data


@pytest.mark.realdata
def test_a_run_on_declared_real_data_needs_no_parameters(study, shared_data, tmp_path):
    """`cqc-research run` in a study that declares the Oldham API folder: the notebooks read it
    (no -p), the reports are real (no banner, no stamp asked for), and nothing fails."""
    import json

    from cqc_research.runner.run import run_notebooks

    declare_data("api", shared_data / "cqc_api_oldham_2024")
    res = run_notebooks([study / "notebooks" / "03_improvement_journeys.ipynb",
                         study / "notebooks" / "08_assessment_framework.ipynb"],
                        output_root=tmp_path / "out", run_id="declared", workers=2, progress=False)
    assert [(r.name, r.status) for r in res.notebooks] == [
        ("03_improvement_journeys", "ok"), ("08_assessment_framework", "ok")], \
        [r.error for r in res.notebooks]
    assert not res.synthetic
    html = (res.run_dir / "08_assessment_framework.html").read_text()
    assert "SYNTHETIC DATA" not in html and "cqc_api_oldham_2024" in html
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    assert manifest["synthetic"] is False
