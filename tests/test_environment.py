"""pyproject.toml and environment.yml must list the same dependencies (and extras) with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: The extras environment.yml carries too (Binder and conda users get JupyterLab, Dask and the
#: docs tools); ``browser`` and ``release`` are pip-only.
CONDA_EXTRAS = ("cluster", "lab", "docs", "dev")
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$")


def _parse(spec: str) -> tuple[str, str]:
    name, bound = _SPEC.match(spec).groups()
    name = re.sub(r"\[.*\]", "", name).lower().replace("_", "-")
    return name, bound.replace(" ", "")


def disagreements(pyproject_text: str, environment_text: str) -> list[str]:
    """Every way the two files disagree, as readable lines (empty when they agree)."""
    project = tomllib.loads(pyproject_text)["project"]
    wanted = dict(_parse(s) for s in project["dependencies"])
    for extra in CONDA_EXTRAS:
        wanted.update(_parse(s) for s in project["optional-dependencies"][extra])
    env = yaml.safe_load(environment_text)
    conda = dict(_parse(s) for s in env["dependencies"] if isinstance(s, str))
    conda.pop("pip", None)
    problems = []
    python = conda.pop("python", "")
    floor = tuple(int(x) for x in project["requires-python"].removeprefix(">=").split("."))
    pinned = re.fullmatch(r"=(\d+)\.(\d+)", python)
    if not pinned or tuple(map(int, pinned.groups())) < floor:
        # Binder's repo2docker reads only "python=X.Y"; it must satisfy requires-python
        problems.append(f"environment.yml python {python!r} is not 'python=X.Y' satisfying "
                        f"requires-python {project['requires-python']!r}")
    problems += [f"{k}{v} is in pyproject.toml but not environment.yml" for k, v in wanted.items() if k not in conda]
    problems += [f"{k}{v} is in environment.yml but not pyproject.toml" for k, v in conda.items() if k not in wanted]
    problems += [f"{k}: pyproject.toml says {wanted[k]!r}, environment.yml says {conda[k]!r}"
                 for k in sorted(wanted.keys() & conda.keys()) if wanted[k] != conda[k]]
    pip = next((s["pip"] for s in env["dependencies"] if isinstance(s, dict)), [])
    if not any(p.replace("--editable", "-e").split() == ["-e", "."] for p in pip):
        problems.append("environment.yml does not install the package itself (pip: --editable .)")
    return problems


def test_environment_yml_matches_pyproject():
    problems = disagreements((ROOT / "pyproject.toml").read_text(), (ROOT / "environment.yml").read_text())
    assert not problems, "\n".join(problems)


def test_a_disagreement_is_caught():
    pyproject = (ROOT / "pyproject.toml").read_text()
    env = (ROOT / "environment.yml").read_text()
    dropped = "\n".join(line for line in env.splitlines() if "seaborn" not in line)
    bumped = env.replace("pandas>=2.2", "pandas>=2.1")
    assert disagreements(pyproject, dropped) == ["seaborn>=0.13 is in pyproject.toml but not environment.yml"]
    assert disagreements(pyproject, bumped) == ["pandas: pyproject.toml says '>=2.2', environment.yml says '>=2.1'"]


def test_every_extra_is_either_in_environment_yml_or_declared_pip_only():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert extras - set(CONDA_EXTRAS) == {"browser", "release", "fingertips"}


def test_a_dropped_extra_dependency_is_caught():
    pyproject = (ROOT / "pyproject.toml").read_text()
    env = (ROOT / "environment.yml").read_text()
    dropped = "\n".join(line for line in env.splitlines() if "distributed" not in line)
    assert disagreements(pyproject, dropped) == ["distributed>=2024.1 is in pyproject.toml but not environment.yml"]
