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


# -- thin notebooks (issue 15, point 4) ---------------------------------------------------------
#: An analysis notebook keeps its parameters, its calls and the sentences that tell the story;
#: statistics, data building and sentence logic live in the library (its question's module in
#: cqc_research.studies, cqc_research.metrics, cqc_research.link, cqc_research.notebook_output), with tests.
MAX_CODE_LINES = 60
#: Notebooks not yet thinned, with their code-line count when this list was written. The count
#: may only go down; a notebook that reaches MAX_CODE_LINES must leave the list.
NOT_YET_THINNED: dict[str, int] = {}
ANALYSIS = sorted(p for p in NOTEBOOKS if p.parent.name == "profiles"
                  or (p.parent.name == "notebooks" and p.name[:2].isdigit()))


def code_lines(path: Path) -> int:
    """Non-blank lines of the code cells (the parameters cell included)."""
    nb = json.loads(path.read_text())
    return sum(1 for c in nb["cells"] if c["cell_type"] == "code"
               for line in "".join(c["source"]).splitlines() if line.strip())


def _key(path: Path) -> str:
    return str(path.relative_to(ROOT / "notebooks"))


def test_analysis_notebooks_are_found():
    assert {"02_indicators_vs_ratings.ipynb", "profiles/area_profile.ipynb"} <= {_key(p) for p in ANALYSIS}
    assert set(NOT_YET_THINNED) <= {_key(p) for p in ANALYSIS}


@pytest.mark.parametrize("path", ANALYSIS, ids=_key)
def test_analysis_notebook_is_thin(path):
    n = code_lines(path)
    allowed = NOT_YET_THINNED.get(_key(path))
    if allowed is None:
        assert n <= MAX_CODE_LINES, (f"{n} code lines (at most {MAX_CODE_LINES}): move statistics, "
                                     "data building and sentences into the library")
    else:
        assert n <= allowed, f"{n} code lines, more than the {allowed} recorded in NOT_YET_THINNED"
        assert n > MAX_CODE_LINES, f"{n} code lines: thin now, take it off NOT_YET_THINNED"


@pytest.mark.parametrize("path", ANALYSIS, ids=_key)
def test_analysis_notebook_imports_no_private_names_and_not_the_runner(path):
    nb = json.loads(path.read_text())
    checked = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cqc_research"):
                checked += 1
                assert not node.module.startswith("cqc_research.runner"), node.module
                assert not any(part.startswith("_") for part in node.module.split(".")), node.module
                assert not [a.name for a in node.names if a.name.startswith("_")], node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("cqc_research"):
                        checked += 1
                        assert not alias.name.startswith("cqc_research.runner"), alias.name
                        assert not any(p.startswith("_") for p in alias.name.split(".")), alias.name
    assert checked > 0, "no cqc_research import found: the checks above saw nothing"
