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
