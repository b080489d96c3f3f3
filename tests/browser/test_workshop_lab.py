"""The workshop in a real browser: JupyterLab on loopback, every session run from the Run menu.

For each notebook: open it in JupyterLab, wait for the kernel, choose Run > Run All Cells, wait
until every code cell has run and the kernel is idle, then check that no cell shows an error,
that every check displayed its feedback box (all "correct" in the solutions, all "not attempted
yet" for learners), and that every figure rendered. Screenshots of the top of the notebook, the
first feedback box and the first figure are saved in the test's temporary folder.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest

from .conftest import save_screenshot

pytestmark = pytest.mark.browser

SESSIONS = [
    ("workshop/solutions/01_reading_ratings.ipynb", "correct"),
    ("workshop/solutions/02_wellled_and_overall.ipynb", "correct"),
    ("workshop/solutions/03_indicators_and_ratings.ipynb", "correct"),
    ("workshop/solutions/04_improvement_journeys.ipynb", "correct"),
    ("workshop/01_reading_ratings.ipynb", "not-attempted"),
]
_PROMPTS = """() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'))
                   .map(p => p.textContent.trim())"""
_STATUS = """() => { const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
                     return el ? el.getAttribute('data-status') : null; }"""
_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
_ERRORS = f'{_PANEL} [data-mime-type="application/vnd.jupyter.error"]'


def _wait(predicate, timeout: float, what: str, page) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(500)


def _accept_kernel_dialog(page) -> None:
    """Accept JupyterLab's "Select Kernel" dialog (the notebook's own kernel) if it shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=3_000)
    except PlaywrightTimeoutError:  # no dialog, nothing to do
        return
    if "Kernel" in dialog.inner_text():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="hidden", timeout=10_000)


def _shutdown_sessions(lab) -> None:
    """Stop every kernel the test started (through the server's REST API, on loopback)."""
    with urllib.request.urlopen(lab.api("sessions"), timeout=10) as resp:
        sessions = json.load(resp)
    for s in sessions:
        req = urllib.request.Request(lab.api(f"sessions/{s['id']}"), method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


@pytest.mark.parametrize(("rel", "expected"), SESSIONS, ids=[s[0].split("/")[-1] + ":" + s[1] for s in SESSIONS])
def test_workshop_notebook_runs_in_jupyterlab(lab, page, rel, expected, tmp_path):
    n_code = sum(c.cell_type == "code" for c in nbformat.read(lab.notebooks / rel, as_version=4).cells)
    page.goto(lab.url(rel) + "&reset")  # a clean workspace: only this notebook open
    cells = page.locator(f"{_PANEL} .jp-CodeCell")
    _wait(lambda: cells.count() == n_code, 120, f"the {n_code} code cells to appear", page)
    _accept_kernel_dialog(page)
    _wait(lambda: page.evaluate(_STATUS) == "idle", 120, "the kernel to start", page)

    # Run > Run All Cells
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click()

    def finished() -> bool:
        prompts = page.evaluate(_PROMPTS)
        if any("*" in p for p in prompts):
            return False
        numbered = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in prompts)
        errored = page.locator(_ERRORS).count() > 0
        return (numbered == n_code or errored) and page.evaluate(_STATUS) == "idle"

    try:
        _wait(finished, 600, f"all {n_code} code cells of {rel} to run", page)
    finally:
        page.locator(f"{_PANEL} .jp-Cell").first.scroll_into_view_if_needed()
        stem = rel.replace("/", "_").removesuffix(".ipynb")
        save_screenshot(page, tmp_path / f"{stem}_top.png")

    errors = page.locator(_ERRORS)
    assert errors.count() == 0, f"{rel}: a cell shows an error:\n{errors.first.inner_text()[:2000]}"
    prompts = page.evaluate(_PROMPTS)
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), prompts

    boxes = page.locator(f"{_PANEL} .cqc-feedback-{expected}")
    assert boxes.count() == 4, f"expected four '{expected}' feedback boxes, found {boxes.count()}"
    assert page.locator(f"{_PANEL} .cqc-feedback").count() == 4
    assert page.get_by_text("SYNTHETIC DATA").first.is_visible()
    boxes.first.scroll_into_view_if_needed()
    save_screenshot(page, tmp_path / f"{stem}_feedback.png")

    images = page.locator(f"{_PANEL} .jp-OutputArea-output img")
    assert images.count() >= 1, f"{rel}: no figure was displayed"
    widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(w > 0 for w in widths), f"{rel}: figures that did not render: {widths}"
    images.first.scroll_into_view_if_needed()
    save_screenshot(page, tmp_path / f"{stem}_figure.png")
    assert not page.errors, f"JavaScript errors on the page: {page.errors[:3]}"
    _shutdown_sessions(lab)
