"""Every report of a run, opened in headless Chromium at desktop width: what a reader sees.

The reports are made as a reader gets them: every notebook through ``cqc-research run`` on the
small synthetic dataset (the session's main job), exported without code. Each report is
screenshotted (full page) and checked as Chromium renders it: its figures load and carry alt
text, its visible text holds no Python repr, no table shows a bare 0..n index, a count as a
float or headers without rows, and the print stylesheet hides the interactive parts and starts
each section on a new page. The index is checked as a front page: one card per notebook with
its headline, and thumbnails that load.
"""

from __future__ import annotations

import json

import pytest
from test_report_polish import repr_problems, table_problems

from .conftest import save_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def run(main_job):
    return main_job.run  # a failing notebook fails tests/test_main_job.py; here the reports that ran


def _reports(run, *, ok_only: bool = True):
    rows = json.loads((run / "manifest.json").read_text())["notebooks"]
    return [r["name"] for r in rows if r["status"] == "ok" or not ok_only]


def test_every_report_reads_like_a_publication(page, run, tmp_path):
    problems = {}
    for name in _reports(run):
        page.goto((run / f"{name}.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("() => Array.from(document.images).map(i => ({w: i.naturalWidth, "
                               "h: i.naturalHeight, ok: i.complete, alt: i.alt}))")
        found = [f"image not rendered: {i}" for i in images if not (i["ok"] and i["w"] > 0 and i["h"] > 0)]
        found += [f"image without alt text ({i['w']}x{i['h']})" for i in images if not i["alt"].strip()]
        text = page.inner_text("body")
        if "SYNTHETIC DATA" not in text:
            found.append("no synthetic banner")
        if "Traceback" in text or "def " in text:
            found.append("code or a traceback in a no-code report")
        found += [f"repr: {r}" for r in repr_problems(text)]
        found += table_problems(page.content())
        save_screenshot(page, tmp_path / f"report_{name}.png", full_page=True)
        if found:
            problems[name] = found
    assert problems == {}, json.dumps(problems, indent=1)[:4000]


def test_reports_print_without_interactive_parts_and_with_a_page_per_section(page, run):
    name = next(n for n in _reports(run) if n.startswith("08_"))  # has a collapsed long table
    page.goto((run / f"{name}.html").as_uri())
    page.wait_for_load_state("load")
    assert page.locator("details.cqc-table-more").count() > 0, "expected a collapsed long table"
    assert page.locator("details.cqc-table-more").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator("details.cqc-table-more").first.is_visible()
    breaks = page.evaluate("() => Array.from(document.querySelectorAll('.jp-MarkdownCell h2'))"
                           ".map(h => getComputedStyle(h).breakBefore)")
    assert breaks and all(b == "page" for b in breaks), breaks
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and pdf.count(b"/Type /Page") >= len(breaks)


def test_the_index_is_a_front_page(page, run, tmp_path):
    page.goto((run / "index.html").as_uri())
    page.wait_for_load_state("load")
    names = _reports(run)
    cards = page.locator("#front-page section.card")
    assert cards.count() == len(_reports(run, ok_only=False))
    headlines = page.locator("#front-page section.card.ok p.headline").all_inner_texts()
    assert len(headlines) == len(names) and all(h.strip() for h in headlines), headlines
    thumbs = page.evaluate("() => Array.from(document.querySelectorAll('#front-page img'))"
                           ".map(i => ({w: i.naturalWidth, alt: i.alt}))")
    assert len(thumbs) >= len(names) - 2 and all(t["w"] > 0 and t["alt"] for t in thumbs), thumbs
    assert repr_problems(page.inner_text("body")) == []
    save_screenshot(page, tmp_path / "report_index.png", full_page=True)
