"""The main job end to end: every notebook, through the CLI, on small synthetic data."""

from __future__ import annotations

import json
import shutil

from cqc_research.cli import main
from cqc_research.notebook_output import BANNER_TEXT, check_outputs
from cqc_research.paths import NOTEBOOKS


def test_main_job_runs_every_notebook_green_with_manifest_index_and_banner(
        synthetic_small, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    shutil.copytree(synthetic_small.root, data / "raw" / "synthetic")
    monkeypatch.setenv("CQC_RESEARCH_DATA", str(data))
    out = tmp_path / "outputs"

    status = main(["run", "--workers", "2", "--output-root", str(out), "--run-id", "e2e", "--quiet"])

    printed = capsys.readouterr()
    run = out / "e2e"
    manifest = json.loads((run / "manifest.json").read_text())
    failed = {n["name"]: n["error"] for n in manifest["notebooks"] if n["status"] != "ok"}
    assert status == 0 and not failed, failed
    expected = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(n["name"] for n in manifest["notebooks"]) == expected
    assert str(run / "index.html") in printed.out  # the path a user clicks
    assert manifest["synthetic"] is True
    assert manifest["inputs"], "the input files are hashed"
    assert manifest["environment"]["packages"]["pandas"]
    index = (run / "index.html").read_text()
    assert BANNER_TEXT in index
    for name in expected:
        assert (run / f"{name}.html").is_file() and name in index
    assert check_outputs(run, synthetic=True) == []  # every html, table and figure is stamped
    assert list((run / "tables").glob("*.csv")) and list((run / "figures").glob("*.png"))
