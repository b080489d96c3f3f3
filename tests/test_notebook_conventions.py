"""Every notebook follows the papermill conventions: one `parameters` cell of typed, commented
literals that papermill can document, no committed outputs, and a Report for its outputs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_parameters_cell_is_typed_commented_literals(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert tagged[0] is code[0], "the parameters cell is the first code cell"
    source = "".join(tagged[0]["source"])
    names = []
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        node = ast.parse(line.split("  #")[0]).body[0]
        assert isinstance(node, ast.AnnAssign), f"not 'name: type = value': {line!r}"
        ast.literal_eval(node.value)  # a literal, not an expression
        assert "  # " in line, f"no trailing comment: {line!r}"
        names.append(node.target.id)
    documented = pm.inspect_notebook(str(path))
    assert set(documented) == set(names), "papermill could not parse some lines (a comment with '='?)"
    for name in names:
        assert documented[name]["help"], f"{name} has no help text for --help-notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None
