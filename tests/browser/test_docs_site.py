"""The documentation site as a reader gets it: built by ``make docs``, opened in headless Chromium.

The site is served from ``docs/_build/html`` on 127.0.0.1 (the page fixture aborts any other
request). When it has not been built yet, the fixture builds it with ``docs/build.py`` (which
executes the gallery once; minutes). Besides the browser checks (search finds a loader by name, a
gallery figure renders), the built HTML is checked for broken internal links and for the gallery
and API pages the site promises.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from .conftest import save_screenshot

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "_build" / "html"
LOADERS = ("load_latest_ratings", "load_api_folder", "load_gp_payments", "load_ae_monthly")
METRICS = ("cqc_research.metrics.agreement", "cqc_research.metrics.transitions",
           "cqc_research.metrics.events", "cqc_research.metrics.funnel")


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file() or not (SITE / "searchindex.js").is_file():
        done = subprocess.run([sys.executable, str(ROOT / "docs" / "build.py")], cwd=ROOT,
                              capture_output=True, text=True, timeout=3600, check=False)
        assert done.returncode == 0, (done.stdout[-3000:] + done.stderr[-3000:])
    return SITE


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.imgs: list[str] = []
        self.classes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.imgs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.hrefs.append(a["href"])
        self.classes.update((a.get("class") or "").split())


@functools.cache
def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_no_broken_internal_links(site):
    broken = []
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        parsed = _parse(page)
        for href in parsed.hrefs + parsed.imgs:
            url = urllib.parse.urlsplit(href)
            if url.scheme or href.startswith(("//", "mailto:")):
                continue
            target = page if not url.path else (page.parent / urllib.parse.unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no file)")
                continue
            if url.fragment and target.suffix == ".html" and url.fragment not in _parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {href} (no id {url.fragment!r})")
    assert not broken, "\n".join(broken[:40])


def test_pages_load_nothing_from_the_network(site):
    """Scripts, styles and images are all on the site: it reads offline (no CDN MathJax, fonts...)."""
    remote = []
    for page in sorted(site.rglob("*.html")):
        parsed = _parse(page)
        links = [h for h in parsed.hrefs if h.endswith((".css", ".js"))] + parsed.imgs
        remote += [f"{page.relative_to(site)}: {src}" for src in links
                   if urllib.parse.urlsplit(src).scheme in ("http", "https") or src.startswith("//")]
    assert not remote, "\n".join(remote[:20])


def test_gallery_has_every_notebook_executed_with_figures_and_the_banner(site):
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    pages = {p.stem: p for p in (site / "gallery").glob("*.html") if p.stem != "index"}
    assert set(notebooks) <= set(pages), sorted(set(notebooks) - set(pages))
    with_figures = [name for name, p in pages.items()
                    if any("_images/" in src for src in _parse(p).imgs)]
    assert len(with_figures) >= 8, with_figures
    for name, p in pages.items():
        assert "cqc-synthetic-banner" in _parse(p).classes, f"{name}: no SYNTHETIC DATA banner"
        text = p.read_text(encoding="utf-8")
        assert "output traceback" not in text and "Traceback (most recent call last)" not in text, name


def test_api_reference_names_the_loaders_and_metrics(site):
    text = "".join(p.read_text(encoding="utf-8") for p in (site / "api" / "generated").glob("*.html"))
    for loader in LOADERS:
        assert any(f'id="cqc_research.io.{mod}.{loader}"' in text
                   for mod in ("cqc_files", "cqc_json", "nhs.gp_payments", "nhs.ae")), loader
    for metric in METRICS:
        assert f'id="module-{metric}"' in text, metric


def test_search_finds_a_loader_by_name(page, server, tmp_path):
    page.goto(f"{server}/index.html")
    box = page.locator("input[name='q']").first
    box.fill("load_latest_ratings")
    box.press("Enter")
    page.wait_for_url("**/search.html?q=load_latest_ratings*")
    hit = page.locator("#search-results a[href*='cqc_research.io.cqc_files']").first
    hit.wait_for(timeout=60_000)
    assert "load_latest_ratings" in hit.inner_text() or "load_latest_ratings" in hit.get_attribute("href")
    save_screenshot(page, tmp_path / "docs-search.png")
    hit.click()
    page.wait_for_load_state()
    assert "cqc_research.io.cqc_files" in page.url
    assert page.locator("[id='cqc_research.io.cqc_files.load_latest_ratings']").count() == 1
    assert not page.errors, page.errors


def test_a_gallery_figure_renders(page, server, tmp_path):
    page.goto(f"{server}/gallery/01_domain_agreement.html")
    banner = page.locator(".cqc-synthetic-banner").first
    banner.scroll_into_view_if_needed()
    assert banner.is_visible() and "SYNTHETIC DATA" in banner.inner_text()
    figure = page.locator(".cell_output img").first
    figure.scroll_into_view_if_needed()
    figure.wait_for(state="visible", timeout=30_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=figure.element_handle(),
                           timeout=30_000)
    width, height = figure.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert width > 200 and height > 100
    box = figure.bounding_box()
    assert box and box["width"] > 200
    save_screenshot(page, tmp_path / "docs-gallery.png")
    assert not page.errors, page.errors
