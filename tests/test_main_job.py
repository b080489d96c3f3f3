"""The main job end to end: every notebook, through the CLI, on small synthetic data."""

from __future__ import annotations

import json

from cqc_research.notebook_output import BANNER_TEXT, check_outputs
from cqc_research.paths import NOTEBOOKS


def test_main_job_runs_every_notebook_green_with_manifest_index_and_banner(main_job):
    status, run = main_job.status, main_job.run
    manifest = json.loads((run / "manifest.json").read_text())
    failed = {n["name"]: n["error"] for n in manifest["notebooks"] if n["status"] != "ok"}
    assert status == 0 and not failed, failed
    expected = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(n["name"] for n in manifest["notebooks"]) == expected
    assert str(run / "index.html") in main_job.printed  # the path a user clicks
    assert manifest["synthetic"] is True
    assert manifest["inputs"], "the input files are hashed"
    assert manifest["environment"]["packages"]["pandas"]
    index = (run / "index.html").read_text()
    assert BANNER_TEXT in index
    for name in expected:
        assert (run / f"{name}.html").is_file() and name in index
    assert check_outputs(run, synthetic=True) == []  # every html, table and figure is stamped
    assert list((run / "tables").glob("*.csv")) and list((run / "figures").glob("*.png"))
