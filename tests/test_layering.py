"""Imports only go downward: a module never imports one from a higher layer.

The layers are written down in ``docs/DESIGN.md`` ("Layers"); this table is the same list. Every
import counts, including those inside functions (a lazy import is still a dependency). A new
module must be given a layer here, or the test fails and says so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cqc_research"

#: (layer number, name, module prefixes). Longest prefix wins.
LAYERS = [
    (0, "foundation", ["errors", "paths", "study", "provenance", "templating", "cache", "ratings",
                       "assessment_framework"]),
    (1, "readers", ["io", "fetch", "qual.codebook", "qual.segments"]),
    (2, "data", ["synthetic", "geography", "link", "indicator_sources", "dataset"]),
    (3, "metrics", ["metrics", "qual.analysis", "_text"]),
    (4, "presentation", ["plots", "qual", "display", "notebook_output", "teaching", "truth", "studies"]),
    (5, "runner", ["runner"]),
    (6, "command line", ["cli"]),
]


def layer_of(module: str):
    """(number, name) of a module given without the ``cqc_research.`` prefix, or None."""
    best = None
    for number, name, prefixes in LAYERS:
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[2]:
                    best = (number, name, len(p))
    return None if best is None else best[:2]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path):
    """(imported module without the package prefix, line) for every import of the package."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [".".join(base + [a.name]) for a in node.names]
            elif node.module and node.module.startswith("cqc_research"):
                names = [node.module.removeprefix("cqc_research").lstrip(".")]
            else:
                continue
            for n in names:
                yield n, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cqc_research."):
                    yield a.name.removeprefix("cqc_research."), node.lineno


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in MODULES if layer_of(_module_name(p)) is None]
    assert not missing, (f"modules with no layer: {missing}; add each to LAYERS in "
                         "tests/test_layering.py and to the Layers list in docs/DESIGN.md")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_only_go_downward(path):
    here = layer_of(_module_name(path))
    upward = []
    for target, line in _imports(path):
        if not target or target == "__version__":
            continue  # the package root: its version
        there = layer_of(target)
        if there is not None and here is not None and there[0] > here[0]:
            upward.append(f"line {line}: imports {target} ({there[1]}, layer {there[0]}) "
                          f"from {here[1]} (layer {here[0]})")
    assert not upward, f"{_module_name(path)} reaches up:\n" + "\n".join(upward)


def test_the_checker_catches_an_upward_import(tmp_path):
    """The check can fail: a reader importing the runner is reported."""
    here = layer_of("io.cqc_files")
    there = layer_of("runner.run")
    assert here[0] < there[0]
    assert layer_of("qual.codebook")[0] < layer_of("qual")[0]


def _private_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("cqc_research")):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield a.name, node.lineno


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_no_private_names_imported_across_modules(path):
    """Shared helpers are public names of one module, never private names reached into."""
    found = [f"line {line}: {name}" for name, line in _private_imports(path)]
    assert not found, f"{_module_name(path)} imports private names: {found}"


NOTEBOOKS = sorted((PACKAGE.parent / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_no_private_names_and_not_the_runner(path):
    import json

    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "code")
    bad = []
    for line in code.splitlines():
        s = line.strip()
        if s.startswith(("from cqc_research", "import cqc_research")):
            if "runner" in s:
                bad.append(s)
            names = s.split(" import ", 1)[1] if " import " in s else ""
            if any(n.strip().startswith("_") for n in names.replace("(", "").split(",")):
                bad.append(s)
    assert not bad, f"{path.name}: {bad}"
