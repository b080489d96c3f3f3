"""Build the documentation site offline: ``make docs`` (``python docs/build.py``).

1. The gallery. Every analysis notebook (``notebooks/*.ipynb``) is executed once by the main job,
   ``cqc-research run``, on the embedded synthetic dataset, into ``docs/_build/gallery-run/``
   (with the data written under ``docs/_build/gallery-data/``, so the site never shows whatever
   real data ``data/raw/`` holds). The executed notebooks are copied to ``docs/gallery/`` for
   myst-nb, which renders them without executing anything (``nb_execution_mode = "off"``). The
   run is cached: it is skipped when the notebooks, the package source and its data files are
   unchanged since the last run (a SHA-256 over them in ``docs/_build/gallery.key``); otherwise
   the synthetic data and the run are made afresh.
2. Sphinx, afresh and with warnings as errors (``-E -W --keep-going``), into ``docs/_build/html/``.

Options: ``--force`` re-runs the gallery; ``--skip-gallery`` builds with whatever gallery is
there; ``--workers N`` (default 2) for the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = DOCS / "_build"
RUN_ROOT = BUILD / "gallery-run"
DATA_ROOT = BUILD / "gallery-data"
GALLERY = DOCS / "gallery"
KEY_FILE = BUILD / "gallery.key"
RUN_ID = "gallery"


def gallery_key() -> str:
    """SHA-256 over everything the executed gallery depends on."""
    h = hashlib.sha256()
    files = sorted((ROOT / "notebooks").glob("*.ipynb"))
    files += sorted(p for p in (ROOT / "cqc_research").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(sys.version.encode())
    return h.hexdigest()


def _tag_injected_cells(nb_path: Path) -> None:
    """Hide papermill's injected-parameters cell (it holds build-machine paths) from the page."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def run_gallery(*, workers: int, force: bool) -> None:
    key = gallery_key()
    have = sorted(GALLERY.glob("*.ipynb"))
    if not force and have and KEY_FILE.is_file() and KEY_FILE.read_text().strip() == key:
        print(f"docs: gallery up to date ({len(have)} executed notebooks; `--force` re-runs it)")
        return
    # the synthetic data are rewritten too: the generator is part of the source the key covers
    shutil.rmtree(RUN_ROOT, ignore_errors=True)
    shutil.rmtree(DATA_ROOT, ignore_errors=True)
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CQC_RESEARCH_")}
    env.update(CQC_RESEARCH_DATA=str(DATA_ROOT), CQC_RESEARCH_OUTPUTS=str(RUN_ROOT),
               CQC_RESEARCH_STUDY=str(ROOT))
    cmd = [sys.executable, "-m", "cqc_research.cli", "run", "--workers", str(workers),
           "--run-id", RUN_ID, "--quiet"]
    print("docs: executing the gallery:", " ".join(cmd[2:]), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    run_dir = RUN_ROOT / RUN_ID
    if done.returncode != 0:
        sys.exit(f"docs: `cqc-research run` failed (exit {done.returncode}); see {run_dir / 'index.html'}")
    executed = sorted(run_dir.glob("*.ipynb"))
    expected = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    if [p.name for p in executed] != expected:
        sys.exit(f"docs: the run executed {[p.name for p in executed]}, expected {expected}")
    GALLERY.mkdir(exist_ok=True)
    for old in GALLERY.glob("*.ipynb"):
        old.unlink()
    for nb in executed:
        target = GALLERY / nb.name
        shutil.copyfile(nb, target)
        _tag_injected_cells(target)
    KEY_FILE.write_text(key + "\n")
    print(f"docs: gallery executed ({len(executed)} notebooks)")


def build_html() -> int:
    # -E: read every page afresh, because an incremental build repeats no warning of a page it
    # does not re-read, and -W must see them all.
    cmd = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
           str(DOCS), str(BUILD / "html")]
    print("docs: sphinx-build -E -W --keep-going -b html docs docs/_build/html", flush=True)
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode == 0:
        print(f"docs: built {BUILD / 'html' / 'index.html'}")
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-run the gallery even if it is up to date")
    parser.add_argument("--skip-gallery", action="store_true", help="do not run the gallery")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.skip_gallery:
        run_gallery(workers=args.workers, force=args.force)
    return build_html()


if __name__ == "__main__":
    sys.exit(main())
