"""The package as researchers get it: one version, declared dependencies, the sdist and the wheel.

The wheel round trip (build, install into a fresh virtual environment, ``init``, ``run``, nothing
written to ``site-packages``) is marked ``slow``: ``make test-wheel``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import cqc_research

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
#: Imported only inside a function that turns ImportError into a one-line message: an extra.
EXTRA_IMPORTS = {"distributed": "cluster", "dask": "cluster", "fingertips_py": "fingertips"}
#: Declared but never imported by the package: what runs the notebooks' kernels.
RUNTIME_ONLY = {"ipykernel"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _imports_of_package() -> dict[str, set[str]]:
    """Top-level module name -> files of cqc_research/ that import it (absolute imports only)."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / "cqc_research").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for n in names:
                out.setdefault(n.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return out


# ---------------------------------------------------------------------------------------------
# one version
def test_the_version_has_one_source():
    assert PROJECT.get("dynamic") == ["version"] and "version" not in PROJECT
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "cqc_research/__init__.py"
    text = (ROOT / "cqc_research" / "__init__.py").read_text()
    literals = re.findall(r'^__version__ = "([^"]+)"$', text, flags=re.M)
    assert literals == [cqc_research.__version__]
    # no other file spells the version out
    for path in ROOT.joinpath("cqc_research").rglob("*.py"):
        if path.name != "__init__.py" or path.parent.name != "cqc_research":
            assert f'"{cqc_research.__version__}"' not in path.read_text(encoding="utf-8"), path


def test_the_changelog_heads_with_the_version():
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), flags=re.M)
    assert headings and headings[0] == cqc_research.__version__
    assert len(headings) == len(set(headings))


def test_installed_metadata_agrees():
    assert importlib.metadata.version("cqc-research") == cqc_research.__version__


# ---------------------------------------------------------------------------------------------
# dependencies
def test_every_imported_distribution_is_declared():
    """Each third-party module the package imports maps (through the installed metadata) to a
    declared dependency; the modules used only by optional features are in their extra."""
    declared = {_name(s) for s in PROJECT["dependencies"]}
    extras = {k: {_name(s) for s in v} for k, v in PROJECT["optional-dependencies"].items()}
    dists = importlib.metadata.packages_distributions()
    problems = []
    for module, files in sorted(_imports_of_package().items()):
        if module in sys.stdlib_module_names or module == "cqc_research" or module == "__future__":
            continue
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        assert names, f"{module} (imported by {sorted(files)}) is not installed"
        if module in EXTRA_IMPORTS:
            if not names & extras[EXTRA_IMPORTS[module]]:
                problems.append(f"{module} should be in the [{EXTRA_IMPORTS[module]}] extra")
            continue
        if not names & declared:
            problems.append(f"{module} ({'/'.join(sorted(names))}) is imported by {sorted(files)[:3]} "
                            "but not in [project.dependencies]")
    assert not problems, "\n".join(problems)


def test_every_declared_dependency_is_used():
    dists = importlib.metadata.packages_distributions()
    imported = {d.lower().replace("_", "-") for m in _imports_of_package() for d in dists.get(m, [])}
    unused = {_name(s) for s in PROJECT["dependencies"]} - imported - RUNTIME_ONLY
    assert not unused, f"declared but never imported by cqc_research/: {sorted(unused)}"


def test_the_heavy_optional_packages_are_extras_only():
    declared = {_name(s) for s in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert {"dask", "distributed"} <= {_name(s) for s in extras["cluster"]}
    assert "jupyterlab" in {_name(s) for s in extras["lab"]}
    assert not declared & {"dask", "distributed", "jupyterlab", "ipywidgets", "sphinx", "pytest"}


def test_the_makefile_installs_every_extra():
    makefile = (ROOT / "Makefile").read_text()
    extras = re.search(r"^EXTRAS \?= (.+)$", makefile, flags=re.M).group(1).split(",")
    assert set(extras) == set(PROJECT["optional-dependencies"])
    assert "-e '.[$(EXTRAS)]'" in makefile


# ---------------------------------------------------------------------------------------------
# sdist and wheel
@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``python -m build`` (no isolation: hatchling comes with the [release] extra)."""
    import build  # noqa: F401  (build and hatchling: the [release] extra, installed by make)
    import hatchling  # noqa: F401
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    return wheel, sdist


def _shipped_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts
            and not p.name.startswith(".")}


def test_the_wheel_carries_the_notebooks_codebooks_and_templates(dist):
    wheel, _ = dist
    assert wheel.name == f"cqc_research-{cqc_research.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for rel in _shipped_files(ROOT / "notebooks"):
            member = f"cqc_research/_study/notebooks/{rel}"
            assert member in names, member
            digest = hashlib.sha256(z.read(member)).hexdigest()
            assert digest == hashlib.sha256((ROOT / "notebooks" / rel).read_bytes()).hexdigest(), rel
        for sub in ("codebooks", "templates", "data"):
            for rel in _shipped_files(ROOT / "cqc_research" / sub):
                assert f"cqc_research/{sub}/{rel}" in names, (sub, rel)
        assert not any(n.startswith(("tests/", "data/", "outputs/", "docs/", "notebooks/")) for n in names)
        assert not any(".ipynb_checkpoints" in n or "__pycache__" in n for n in names)
        meta = z.read(f"cqc_research-{cqc_research.__version__}.dist-info/METADATA").decode()
    requires = {_name(line.split(":", 1)[1].strip()) for line in meta.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert requires == {_name(s) for s in PROJECT["dependencies"]}
    assert f"Version: {cqc_research.__version__}" in meta


def test_the_sdist_rebuilds_the_wheel_and_both_pass_twine_check(dist, tmp_path):
    import twine  # noqa: F401  (the [release] extra)
    wheel, sdist = dist
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2
    import tarfile

    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for must in ("pyproject.toml", "README.md", "CHANGELOG.md", "cqc_research/__init__.py",
                 "notebooks/00_data_overview.ipynb", "tests/test_package.py"):
        assert must in names, must
    assert not any(n.startswith(("data/raw/synthetic", "outputs/2", "docs/_build", ".venv")) for n in names)


# ---------------------------------------------------------------------------------------------
# the wheel route, end to end
def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` (bytecode caches aside, which Python writes itself)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            p = Path(dirpath) / f
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.slow
def test_the_wheel_route_end_to_end_writes_nothing_to_site_packages(dist, tmp_path):
    wheel, _ = dist
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CQC_RESEARCH_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    install = subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=1800, env=env)
    assert install.returncode == 0, install.stderr[-3000:]
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, env=env).stdout.strip())
    assert (site / "cqc_research" / "_study" / "notebooks" / "00_data_overview.ipynb").is_file()
    before = _snapshot(site)
    exe = venv / "bin" / "cqc-research"

    def cli(*args, cwd):
        return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                              timeout=1200, env=env)

    work = tmp_path / "work"
    work.mkdir()
    version = cli("--version", cwd=work)
    assert version.returncode == 0 and version.stdout.strip() == f"cqc-research {cqc_research.__version__}"

    outside = cli("run", cwd=work)   # no study folder here, and no checkout to fall back on
    assert outside.returncode == 2
    assert len(outside.stderr.strip().splitlines()) == 1 and "cqc-research init" in outside.stderr
    assert list(work.iterdir()) == []

    made = cli("init", "my-study", cwd=work)
    assert made.returncode == 0, made.stderr
    study = work / "my-study"
    prefix = "cqc_research/_study/notebooks/"
    with zipfile.ZipFile(wheel) as z:
        shipped = {n[len(prefix):] for n in z.namelist() if n.startswith(prefix)}
    assert _shipped_files(study / "notebooks") == shipped
    assert (study / "cqc-research.toml").is_file() and (study / "README.md").is_file()

    synth = cli("synth", "--scale", "small", cwd=study / "notebooks")   # found upwards
    assert synth.returncode == 0, synth.stderr[-2000:]
    assert (study / "data" / "raw" / "synthetic" / "truth.json").is_file()

    run = cli("run", "00_data_overview", "01_domain_agreement", "--quiet", cwd=study)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    runs = [p for p in (study / "outputs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    for name in ("00_data_overview", "01_domain_agreement"):
        assert (runs[0] / f"{name}.ipynb").is_file() and (runs[0] / f"{name}.html").is_file()
        assert "SYNTHETIC DATA" in (runs[0] / f"{name}.html").read_text(encoding="utf-8")
    assert (runs[0] / "index.html").is_file()

    # the library, outside any study folder: caches go to the user's cache folder
    lib_env = {**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    ods = study / "data" / "raw" / "synthetic" / "cqc" / "latest_ratings.ods"
    lib = subprocess.run([str(py), "-c", f"import cqc_research as c; print(len(c.load({str(ods)!r})))"],
                         cwd=work, capture_output=True, text=True, timeout=600, env=lib_env)
    assert lib.returncode == 0 and int(lib.stdout.strip()) > 0, lib.stderr[-2000:]
    assert sorted(p.name for p in work.iterdir()) == ["my-study"]
    assert list((tmp_path / "xdg" / "cqc-research" / "processed").rglob("*.parquet"))

    after = _snapshot(site)
    assert after == before, {"added": sorted(set(after) - set(before))[:20],
                             "changed": sorted(k for k in before if k in after and after[k] != before[k])[:20],
                             "removed": sorted(set(before) - set(after))[:20]}
