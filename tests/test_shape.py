"""The library's shape, measured from its syntax tree (issue 23): a small public surface, one
definition per public name, no import cycle, few lazy imports, pure metrics.

Each measure is computed by a function that is itself checked on a small package written here, so
a check that could never fail would be caught.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cqc_research"

#: The ceilings of issue 23 ("Done when").
MAX_EXPORTED = 250
MAX_FUNCTION_LEVEL_IMPORTS = 25

#: Protocols that every module of one package implements: the same public name in each module is
#: the point (docs/DESIGN.md, "Protocols").
PROTOCOLS = {
    "cli": {"configure_parser", "run_command"},
}


def _modules(package: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(module: str, path: Path, node: ast.ImportFrom, modules) -> list[str]:
    """The package modules a ``from ... import`` depends on: each name's submodule if it is one,
    else the module the names come from."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
    return [t for t in dict.fromkeys(found) if t in modules]


class Shape:
    """Every measure of one package directory."""

    def __init__(self, package: Path):
        self.modules = _modules(package)
        root = package.name
        self.exported: dict[str, set[str]] = {}
        self.definitions: dict[str, list[str]] = defaultdict(list)
        self.function_level: list[tuple[str, int, str]] = []
        self.edges: dict[str, set[str]] = defaultdict(set)
        self.metrics_io: list[str] = []
        self.dynamic_all: list[str] = []
        for module, path in self.modules.items():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            private_module = any(p.startswith("_") for p in module.split("."))
            for node in tree.body:
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                    try:
                        self.exported[module] = set(ast.literal_eval(node.value))
                    except ValueError:
                        self.dynamic_all.append(module)
                elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and not node.name.startswith("_") and not private_module):
                    self.definitions[node.name].append(module)
            self._walk(module, path, tree, root, inside=False)
            if module.startswith(f"{root}.metrics"):
                self._metrics_io(module, tree)

    def _walk(self, module, path, node, root, *, inside):
        for child in ast.iter_child_nodes(node):
            in_function = inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(child, ast.ImportFrom) and (child.level or (child.module or "").startswith(root)):
                targets = _resolve(module, path, child, self.modules)
                if inside:
                    self.function_level.append((module, child.lineno, targets[0] if targets else "?"))
            elif isinstance(child, ast.Import):
                targets = [a.name for a in child.names if a.name in self.modules]
                if inside and targets:
                    self.function_level.append((module, child.lineno, targets[0]))
            self.edges[module].update(t for t in targets if t != module)
            self._walk(module, path, child, root, inside=in_function)

    def _metrics_io(self, module, tree):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name == "open" or name.startswith(("load_", "read_")) or name in {
                        "read_csv", "read_parquet", "read_excel", "read_text", "read_bytes"}:
                    self.metrics_io.append(f"{module} line {node.lineno}: {name}()")

    def duplicates(self) -> dict[str, list[str]]:
        out = {}
        for name, modules in self.definitions.items():
            if len(modules) < 2:
                continue
            if any(name in names and all(m.split(".")[1:2] == [pkg] for m in modules)
                   for pkg, names in PROTOCOLS.items()):
                continue
            out[name] = modules
        return out

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module (Tarjan)."""
        index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in self.edges.get(v, ()):
                # a package's __init__ importing its own submodules is how packages work
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for v in self.modules:
            if v not in index:
                visit(v)
        return found


@pytest.fixture(scope="module")
def shape() -> Shape:
    return Shape(PACKAGE)


def test_at_most_250_exported_names(shape):
    names = set().union(*shape.exported.values())
    assert len(names) <= MAX_EXPORTED, (
        f"{len(names)} distinct names in __all__ lists (at most {MAX_EXPORTED}); largest: "
        + ", ".join(f"{m} {len(n)}" for m, n in sorted(shape.exported.items(), key=lambda kv: -len(kv[1]))[:8]))


def test_every_all_is_a_literal_list(shape):
    """``__all__`` is what the API reference documents: written out, never computed."""
    assert not shape.dynamic_all, shape.dynamic_all


def test_no_public_name_defined_in_two_modules(shape):
    assert not shape.duplicates(), shape.duplicates()


def test_no_import_cycle(shape):
    assert not shape.cycles(), shape.cycles()


def test_few_function_level_imports(shape):
    assert len(shape.function_level) <= MAX_FUNCTION_LEVEL_IMPORTS, "\n".join(
        f"{m} line {line}: {t}" for m, line, t in shape.function_level)


def test_metrics_read_no_files(shape):
    assert not shape.metrics_io, shape.metrics_io


def test_no_narrative_module(shape):
    assert "cqc_research.narrative" not in shape.modules


def test_the_measures_can_fail(tmp_path):
    """A tiny package with every fault: each measure reports it."""
    pkg = tmp_path / "pkg"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__all__ = ['a', 'b']\n")
    (pkg / "a.py").write_text("from . import b\n__all__ = ['c']\ndef load():\n    pass\n")
    (pkg / "b.py").write_text("def load():\n    from . import a\n")
    (pkg / "metrics" / "__init__.py").write_text("")
    (pkg / "metrics" / "m.py").write_text("def f(path):\n    return open(path).read()\n")
    s = Shape(pkg)
    assert set().union(*s.exported.values()) == {"a", "b", "c"}
    assert s.duplicates() == {"load": ["pkg.a", "pkg.b"]}
    assert s.cycles() == [["pkg.a", "pkg.b"]]
    assert [(m, t) for m, _, t in s.function_level] == [("pkg.b", "pkg.a")]
    assert s.metrics_io == ["pkg.metrics.m line 2: open()"]
