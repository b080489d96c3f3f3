"""Fixtures for the browser suite: Debian's Chromium, Python Playwright, and JupyterLab on loopback.

Nothing here downloads a browser. Chromium comes from Debian (``apt-get install -y chromium``,
run only when ``/usr/bin/chromium`` is missing and we are root); Playwright's Python package
is only the driver, and it is pointed at the system executable. When either cannot be had, the
tests skip with the reason, except under CI (``CI`` set in the environment), where ``.ci/run``
installs Chromium and ``make`` installs Playwright (the ``browser`` extra): there a missing one
fails the run instead of skipping it silently. Every page is confined to ``file://`` and ``127.0.0.1``: any other
request is aborted, so a report template's CDN link never reaches the network.

Screenshots go under each test's temporary folder; set ``CQC_BROWSER_SCREENSHOTS=1`` (or to a
folder) to also copy them to ``outputs/screenshots/``.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CQC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}


def _unavailable(reason: str):
    """Skip with ``reason``; under CI, where the resource is installed by the CI script, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: .ci/run and `make`; a missing one is a broken setup)")
    pytest.skip(reason)


def _run(cmd, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, installed with apt-get when it is missing (never a Playwright download)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        _unavailable(f"{CHROMIUM} is missing and apt-get is not available to install Debian's chromium")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        _unavailable(f"{CHROMIUM} is missing; install it with `sudo apt-get install -y chromium` "
                    "(these tests install it themselves only when run as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, check=False)
        except subprocess.TimeoutExpired:
            _unavailable(f"`{' '.join(cmd)}` timed out; cannot install Debian's chromium")
        if done.returncode != 0:
            _unavailable(f"`{' '.join(cmd)}` failed ({done.returncode}); cannot install Debian's "
                        f"chromium: {done.stderr.strip()[-300:]}")
    if not CHROMIUM.exists():
        _unavailable(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


@pytest.fixture(scope="session")
def sync_playwright():
    """Python Playwright (the driver only), pip-installed into this environment when missing."""
    try:
        from playwright.sync_api import sync_playwright as sp
    except ImportError:
        if os.environ.get("CI"):  # `make` installs the browser extra: no quiet pip repair in CI
            pytest.fail("playwright is not installed, though `make` installs the [browser] extra")
        env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
        try:
            done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "playwright"],
                                  capture_output=True, text=True, timeout=900, env=env, check=False)
        except subprocess.TimeoutExpired:
            _unavailable("pip install playwright timed out")
        if done.returncode != 0:
            _unavailable(f"playwright is not installed and pip could not install it: "
                        f"{done.stderr.strip()[-300:]}")
        importlib.invalidate_caches()
        from playwright.sync_api import sync_playwright as sp
    return sp


@pytest.fixture(scope="session")
def browser(chromium_path, sync_playwright):
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import Error as PlaywrightError

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        except PlaywrightError as exc:  # a broken system browser: say so rather than fail obscurely
            _unavailable(f"{chromium_path} did not start under Playwright: {exc}")
        yield b
        b.close()


def _loopback_only(route):
    url = route.request.url
    if url.startswith(("file:", "data:", "blob:", "about:")) or url.startswith(
            ("http://127.0.0.1:", "ws://127.0.0.1:")):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def page(browser, request):
    """A fresh page confined to file:// and 127.0.0.1; console errors are kept on ``page.errors``."""
    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", _loopback_only)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()


def save_screenshot(page, target: Path, *, full_page: bool = False) -> Path:
    """Screenshot into the test's folder, and into outputs/screenshots when asked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page)
    wanted = os.environ.get("CQC_BROWSER_SCREENSHOTS", "")
    if wanted and wanted.lower() not in {"0", "false", "no"}:
        folder = Path(wanted) if wanted not in {"1", "true", "yes"} else ROOT / "outputs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, folder / target.name)
    return target


# ---------------------------------------------------------------------------------------------
# JupyterLab on loopback
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(folder: Path) -> None:
    """Lab settings for a quiet, test-friendly session: no news, every cell in the DOM, and the
    notebook's own kernel started without a "Select Kernel" dialog."""
    settings = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            {"windowingMode": "none", "autoStartDefaultKernel": True},
    }
    for rel, value in settings.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@dataclass
class Lab:
    """A running JupyterLab: ``url(path)`` opens a file under the notebooks folder."""

    port: int
    token: str
    notebooks: Path
    data: Path
    log: Path

    def url(self, rel: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{rel}?token={self.token}"

    def api(self, rel: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/{rel}?token={self.token}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, synthetic_small):
    """JupyterLab on 127.0.0.1 with a random token, on a temporary copy of the notebooks and data.

    The small synthetic dataset is copied to ``<tmp>/data/raw/synthetic``, where
    ``ensure_default_data`` finds it, so the notebooks run with their default parameters.
    """
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    shutil.copytree(ROOT / "notebooks" / "workshop", notebooks / "workshop",
                    ignore=shutil.ignore_patterns("source", ".ipynb_checkpoints"))
    data = root / "data"
    shutil.copytree(synthetic_small.root, data / "raw" / "synthetic")
    _write_settings(root / "lab-settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "CQC_RESEARCH_DATA": str(data), "CQC_RESEARCH_OUTPUTS": str(root / "outputs"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "lab-workspaces"),
           "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "PYTHONUNBUFFERED": "1"}
    env.pop("MPLBACKEND", None)
    log = root / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
           "--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI machines and containers run as root
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(port, token, notebooks, data, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(server.api("status"), timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
