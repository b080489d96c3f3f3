"""Shared fixtures: the small synthetic dataset and the real data beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

SHARED_DATA = Path(
    os.environ.get("CQC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data in ``../shared/data``; the test skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_small(tmp_path_factory):
    """The synthetic dataset at scale 'small', written once per test session."""
    from cqc_research.synthetic import generate

    root = tmp_path_factory.mktemp("synthetic") / "synthetic"
    return generate(root, seed=7, scale="small")


@pytest.fixture(scope="session")
def main_job(synthetic_small, tmp_path_factory):
    """The README's main job, run once for the session: every notebook through the CLI on a copy
    of ``synthetic_small``. Tests of one notebook on the default data read its outputs here
    instead of running the notebook again.

    Returns a namespace: ``status`` (the exit status), ``printed`` (standard output), ``run``
    (the run folder), ``data`` (the data root the run read).
    """
    import contextlib
    import io
    import shutil
    from types import SimpleNamespace

    from cqc_research.cli import main

    root = tmp_path_factory.mktemp("main_job")
    data, out = root / "data", root / "outputs"
    shutil.copytree(synthetic_small.root, data / "raw" / "synthetic")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setenv("CQC_RESEARCH_DATA", str(data))
        mp.setenv("CQC_RESEARCH_OUTPUTS", str(out))
        status = main(["run", "--workers", "2", "--output-root", str(out), "--run-id", "e2e", "--quiet"])
    return SimpleNamespace(status=status, printed=printed.getvalue(), run=out / "e2e", data=data)


@pytest.fixture(scope="session")
def _session_data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _isolated_roots(tmp_path, monkeypatch, _session_data_root):
    """Keep caches and outputs out of the repository.

    The data root (and so the Parquet cache) is shared by the session, so a file loaded by one
    test is a warm load for the next; outputs are per test.
    """
    monkeypatch.setenv("CQC_RESEARCH_DATA", str(_session_data_root))
    monkeypatch.setenv("CQC_RESEARCH_OUTPUTS", str(tmp_path / "outputs"))


def notebook_text(nb) -> str:
    """All text a notebook's outputs show (markdown, plain text and streams), for prose checks."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
            parts.append(out.get("text", ""))
    return "\n".join(parts)
