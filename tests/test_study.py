"""Study folders: ``cqc-research init``, discovery upwards from the current directory, overrides."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from cqc_research import __version__, cli, paths, study
from cqc_research.errors import CQCResearchError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_env(monkeypatch):
    for name in (paths.STUDY_ENV, paths.DATA_ENV, paths.OUTPUTS_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def installed(monkeypatch, no_env):
    """Behave as an installed wheel: no repository checkout to fall back on."""
    monkeypatch.setattr(paths, "checkout_root", lambda: None)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts and not p.name.startswith(".")}


def test_init_makes_the_layout_with_copies_of_every_notebook(tmp_path, no_env):
    res = study.init_study(tmp_path / "s")
    root = tmp_path / "s"
    for sub in ("notebooks", "data/raw", "data/processed", "outputs"):
        assert (root / sub).is_dir(), sub
    assert (root / paths.MARKER).is_file()
    readme = (root / "README.md").read_text()
    assert "cqc-research run" in readme and __version__ in readme
    # every notebook of the repository, byte for byte, in the same places
    shipped = {f for f in _files(ROOT / "notebooks")}
    assert {f for f in _files(root / "notebooks")} == shipped
    assert any(f.startswith("profiles/") for f in shipped) and any(f.startswith("workshop/") for f in shipped)
    for rel in shipped:
        assert filecmp.cmp(ROOT / "notebooks" / rel, root / "notebooks" / rel, shallow=False), rel
    assert len(res.written) == len(shipped) + 2 and res.kept == []


def test_init_again_never_overwrites_a_researchers_edits(tmp_path, no_env):
    study.init_study(tmp_path)
    nb = tmp_path / "notebooks" / "01_domain_agreement.ipynb"
    nb.write_text("my edits")
    (tmp_path / "notebooks" / "00_data_overview.ipynb").unlink()
    res = study.init_study(tmp_path)
    assert nb.read_text() == "my edits"
    assert res.written == [Path("notebooks/00_data_overview.ipynb")]
    assert Path("notebooks/01_domain_agreement.ipynb") in res.kept


def test_init_refuses_site_packages_and_files(tmp_path):
    with pytest.raises(CQCResearchError, match="inside a Python installation"):
        study.init_study(Path(sysconfig.get_paths()["purelib"]) / "a-study")
    assert not (Path(sysconfig.get_paths()["purelib"]) / "a-study").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(CQCResearchError, match="is a file"):
        study.init_study(tmp_path / "f")


def test_study_is_found_upwards_and_every_path_follows_it(tmp_path, monkeypatch, installed):
    study.init_study(tmp_path / "s", notebooks=ROOT / "notebooks")
    deep = tmp_path / "s" / "notebooks" / "profiles"
    monkeypatch.chdir(deep)
    root = (tmp_path / "s").resolve()
    assert paths.study_root() == root == paths.PROJECT_ROOT
    assert paths.NOTEBOOKS == root / "notebooks"
    assert paths.raw_dir() == root / "data" / "raw"
    assert paths.processed_dir() == root / "data" / "processed"
    assert paths.synthetic_dir() == root / "data" / "raw" / "synthetic"
    assert paths.outputs_root() == root / "outputs"
    from cqc_research.runner.notebooks import find_notebooks

    assert [p.name for p in find_notebooks()] == sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))


def test_environment_variables_override_the_study(tmp_path, monkeypatch, installed):
    study.init_study(tmp_path / "s", notebooks=ROOT / "notebooks")
    study.init_study(tmp_path / "other", notebooks=ROOT / "notebooks")
    monkeypatch.chdir(tmp_path / "s")
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "d"))
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path / "o"))
    assert paths.raw_dir() == (tmp_path / "d" / "raw").resolve()
    assert paths.outputs_root() == (tmp_path / "o").resolve()
    assert paths.NOTEBOOKS == (tmp_path / "s" / "notebooks").resolve()
    monkeypatch.setenv(paths.STUDY_ENV, str(tmp_path / "other"))
    assert paths.NOTEBOOKS == (tmp_path / "other" / "notebooks").resolve()


def test_the_checkout_is_the_study_folder(monkeypatch, tmp_path, no_env):
    assert paths.checkout_root() == ROOT
    monkeypatch.chdir(ROOT / "cqc_research")
    assert paths.find_study() == ROOT
    monkeypatch.chdir(tmp_path)  # outside any study, the checkout we run from
    assert paths.study_root() == ROOT and paths.NOTEBOOKS == ROOT / "notebooks"
    assert paths.raw_dir() == ROOT / "data" / "raw"


@pytest.mark.parametrize("argv", [["run"], ["synth"], ["run", "00_data_overview"]])
def test_outside_a_study_a_command_says_so_in_one_line(argv, tmp_path, monkeypatch, capsys, installed):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "study folder" in err and "cqc-research init" in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_init_command_then_discovery(tmp_path, monkeypatch, capsys, installed):
    monkeypatch.setattr(study, "shipped_notebooks", lambda: ROOT / "notebooks")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "s"]) == 0
    out = capsys.readouterr().out
    assert "cqc-research run" in out
    monkeypatch.chdir(tmp_path / "s" / "data")
    assert paths.study_root() == (tmp_path / "s").resolve()


def test_version_names_the_commit_in_a_checkout(capsys):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        if os.environ.get("CI"):  # .ci/run runs on a fresh clone: git must answer there
            pytest.fail(f"git rev-parse HEAD failed under CI: {head.stderr.strip()}")
        pytest.skip("not a git checkout")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"cqc-research {__version__} (commit ")
    commit = out.split("(commit ")[1].split()[0].rstrip(",;)")
    assert head.stdout.strip().startswith(commit) and len(commit) >= 7


def test_version_without_a_checkout(monkeypatch):
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    assert study.version_text() == f"cqc-research {__version__}"


def test_outside_a_study_caches_go_to_the_user_cache(tmp_path, monkeypatch, installed):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.processed_dir() == (tmp_path / "xdg" / "cqc-research" / "processed").resolve()
    with pytest.raises(paths.NoStudyError):
        paths.raw_dir()
    with pytest.raises(paths.NoStudyError):
        paths.outputs_root()
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "d"))
    assert paths.processed_dir() == (tmp_path / "d" / "processed").resolve()


def test_the_library_loads_a_file_outside_any_study(tmp_path, monkeypatch, installed, synthetic_small):
    import cqc_research

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    long = cqc_research.load(synthetic_small.paths["ratings_ods"])
    assert len(long) > 0
    assert list((tmp_path / "xdg" / "cqc-research" / "processed").rglob("*"))  # the cache is there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xdg"]
