"""Build the workshop notebooks from their single source.

Each session is written once, as a plain Python file in the percent format under
``notebooks/workshop/source/`` (a ``# %%`` line starts a cell; ``# %% [markdown]`` a markdown
cell whose lines start with ``# ``; ``# %% tags=["..."]`` sets the cell's tags, as jupytext
does; comment lines before the first cell, such as ``# ruff: noqa: B018`` for the cells'
display expressions, are not copied). Two notebooks are made from it:

- ``notebooks/workshop/NN_name.ipynb`` for learners: cells tagged ``solution`` are left out, so
  learners see the ``exercise`` cells (``answer = ...``);
- ``notebooks/workshop/solutions/NN_name.ipynb``: cells tagged ``exercise`` are left out and
  the ``solution`` cells take their place.

The output is deterministic, and already in the form ``nbstripout`` leaves (no outputs, cell
ids "0", "1", ...), so
``tests/test_workshop_notebooks.py`` can fail when a committed notebook differs from a fresh
build. Run after editing a source::

    python tools/build_workshop.py          # write the notebooks
    python tools/build_workshop.py --check  # exit 1 if any notebook is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
WORKSHOP = ROOT / "notebooks" / "workshop"
SOURCE = WORKSHOP / "source"
SOLUTIONS = WORKSHOP / "solutions"

_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def parse_source(text: str, *, name: str = "<source>") -> list[dict]:
    """Split a percent-format source into cells: ``{"kind", "tags", "source", "index"}``."""
    cells: list[dict] = []
    current = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            rest = m.group("rest").strip()
            kind = "code"
            tags: list[str] = []
            if rest.startswith("[markdown]"):
                kind = "markdown"
                rest = rest[len("[markdown]"):].strip()
            if rest:
                tm = re.fullmatch(r"tags=(\[.*\])", rest)
                if not tm:
                    raise ValueError(f"{name}, line {lineno}: cannot read cell options {rest!r}; "
                                     'expected `# %%`, `# %% [markdown]` or `# %% tags=["..."]`')
                tags = json.loads(tm.group(1))
            current = {"kind": kind, "tags": tags, "lines": [], "line": lineno}
            cells.append(current)
        elif current is None:
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"{name}, line {lineno}: code before the first `# %%` cell marker "
                                 "(only comments, such as a `# ruff: noqa` line, may come first)")
        else:
            current["lines"].append(line)
    out = []
    for index, cell in enumerate(cells):
        lines = cell["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if cell["kind"] == "markdown":
            bad = [ln for ln in lines if ln and not ln.startswith("#")]
            if bad:
                raise ValueError(f"{name}, cell at line {cell['line']}: markdown lines must start "
                                 f"with '#', found {bad[0]!r}")
            lines = [ln[2:] if ln.startswith("# ") else ln[1:] for ln in lines]
        out.append({"kind": cell["kind"], "tags": cell["tags"], "source": "\n".join(lines),
                    "index": index})
    return out


def build_notebook(cells: list[dict], *, stem: str, version: str) -> nbformat.NotebookNode:
    """The learner (``version="learner"``) or solution notebook from parsed cells."""
    if version not in ("learner", "solution"):
        raise ValueError(f"version must be 'learner' or 'solution', not {version!r}")
    drop = "solution" if version == "learner" else "exercise"
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"},
                   "cqc_workshop": {"source": f"source/{stem}.py", "version": version}}
    for i, cell in enumerate(c for c in cells if drop not in c["tags"]):
        if cell["kind"] == "markdown":
            nbcell = nbformat.v4.new_markdown_cell(cell["source"])
        else:
            nbcell = nbformat.v4.new_code_cell(cell["source"])
        if cell["tags"]:
            nbcell.metadata["tags"] = list(cell["tags"])
        nb.cells.append(nbcell)
        if version == "solution" and i == 0:
            note = nbformat.v4.new_markdown_cell(
                f"> **Solutions.** Every exercise is worked here. This notebook is generated from "
                f"`notebooks/workshop/source/{stem}.py` by `tools/build_workshop.py`: edit the "
                "source, not this file.")
            nb.cells.append(note)
    for i, nbcell in enumerate(nb.cells):  # the ids nbstripout writes: "0", "1", ...
        nbcell.id = str(i)
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as it is written to disk."""
    return nbformat.writes(nb) + "\n"


def build_all(source_dir: Path = SOURCE) -> dict[Path, str]:
    """Every output path (relative to ``notebooks/workshop``) and its text."""
    sources = sorted(Path(source_dir).glob("[0-9]*.py"))
    if not sources:
        raise FileNotFoundError(f"no session sources (NN_name.py) in {source_dir}")
    out = {}
    for src in sources:
        cells = parse_source(src.read_text(encoding="utf-8"), name=str(src))
        tags = {t for c in cells for t in c["tags"]}
        if "parameters" not in tags:
            raise ValueError(f"{src}: no cell tagged 'parameters' (papermill needs one)")
        out[Path(f"{src.stem}.ipynb")] = render(build_notebook(cells, stem=src.stem, version="learner"))
        out[Path("solutions") / f"{src.stem}.ipynb"] = render(
            build_notebook(cells, stem=src.stem, version="solution"))
    return out


def stale(workshop_dir: Path = WORKSHOP, source_dir: Path = SOURCE) -> list[str]:
    """Notebooks missing or different from a fresh build (relative paths)."""
    problems = []
    for rel, text in build_all(source_dir).items():
        path = Path(workshop_dir) / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            problems.append(str(rel))
    return problems


def write_all(workshop_dir: Path = WORKSHOP, source_dir: Path = SOURCE) -> list[Path]:
    """Write every notebook whose text changed; return the paths written."""
    written = []
    for rel, text in build_all(source_dir).items():
        path = Path(workshop_dir) / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a notebook is missing or out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for p in problems:
            print(f"out of date: notebooks/workshop/{p} (run python tools/build_workshop.py)")
        return 1 if problems else 0
    for path in write_all():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
