"""Results are explicit: ``DataFrame.attrs`` carries provenance only (docs/DESIGN.md).

Every place in ``cqc_research/`` that writes a literal key into a frame's ``attrs``
(``x.attrs["k"] = ...``, ``x.attrs = {"k": ...}``, ``x.attrs.update(k=...)`` or
``x.attrs.update({"k": ...})``, ``x.attrs.setdefault("k", ...)``) must write a provenance key.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cqc_research"
PROVENANCE = {"source", "sha256", "synthetic", "kind", "sheet", "header_row", "format"}


def attrs_keys_written(source: str) -> list[tuple[int, str]]:
    """(line, key) for every literal key the code writes into an ``attrs``."""
    out = []

    def is_attrs(node):
        return isinstance(node, ast.Attribute) and node.attr == "attrs"

    def dict_keys(node):
        return [(node.lineno, k.value) for k in getattr(node, "keys", []) or []
                if isinstance(k, ast.Constant) and isinstance(k.value, str)]

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Subscript) and is_attrs(t.value) and isinstance(t.slice, ast.Constant):
                    out.append((node.lineno, t.slice.value))
                elif is_attrs(t) and isinstance(node.value, ast.Dict):
                    out.extend(dict_keys(node.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and is_attrs(node.func.value):
            if node.func.attr == "update":
                out.extend((node.lineno, kw.arg) for kw in node.keywords if kw.arg)
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        out.extend(dict_keys(arg))
            elif node.func.attr == "setdefault" and node.args and isinstance(node.args[0], ast.Constant):
                out.append((node.lineno, node.args[0].value))
    return out


def test_the_check_finds_every_way_of_writing_a_key():
    code = '''
df.attrs["window"] = 3
df.attrs = {"synthetic": True, "level": "x"}
df.attrs.update(period=1)
df.attrs.update({"resource": "r"})
df.attrs.setdefault("ranking", {})
other["window"] = 1
'''
    assert sorted(k for _, k in attrs_keys_written(code)) == ["level", "period", "ranking", "resource",
                                                              "synthetic", "window"]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_attrs_carry_provenance_only(path):
    bad = [(line, key) for line, key in attrs_keys_written(path.read_text()) if key not in PROVENANCE]
    assert not bad, (f"{path.relative_to(PACKAGE.parent)} writes non-provenance keys into DataFrame.attrs "
                     f"(make them columns or attributes of a returned object): {bad}")
