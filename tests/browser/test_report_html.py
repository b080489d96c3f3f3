"""A generated HTML report, opened in headless Chromium: its figures render.

The report is made as a reader gets it: ``notebooks/00_data_overview.ipynb`` run by papermill
on the small synthetic dataset, then converted by nbconvert without code (``--no-input``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import save_screenshot

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report_html(synthetic_small, tmp_path_factory) -> Path:
    import papermill

    folder = tmp_path_factory.mktemp("report")
    executed = folder / "00_data_overview.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "00_data_overview.ipynb"), str(executed),
        parameters={"ratings_path": str(synthetic_small.paths["ratings_ods"]),
                    "api_path": str(synthetic_small.paths["api_folder"]),
                    "output_dir": str(folder / "run")},
        kernel_name="python3", progress_bar=False, cwd=str(folder))
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--no-input",
                           str(executed), "--output-dir", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "00_data_overview.html"


def test_report_figures_render(page, report_html, tmp_path):
    page.goto(report_html.as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("() => Array.from(document.images).map(i => ({w: i.naturalWidth, "
                           "h: i.naturalHeight, ok: i.complete}))")
    assert len(images) >= 3, f"expected the overview's figures, found {len(images)} images"
    assert all(i["ok"] and i["w"] > 0 and i["h"] > 0 for i in images), images
    text = page.inner_text("body")
    assert "SYNTHETIC DATA" in text
    assert "Traceback" not in text and "def " not in text, "a no-code report must not show code"
    save_screenshot(page, tmp_path / "report_00_data_overview.png", full_page=True)
