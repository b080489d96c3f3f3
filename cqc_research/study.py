"""Study folders: ``cqc-research init DIR``, the notebooks shipped in the package, and the version.

A study folder is where a researcher works when the package is installed from a wheel rather than
cloned::

    my-study/
      cqc-research.toml     the marker (found upwards from the current directory, like .git)
      README.md             the two commands
      notebooks/            editable copies of the shipped notebooks (analysis, profiles, workshop)
      data/raw/             inputs: the embedded synthetic data is written here on first run
      data/processed/       caches that can always be rebuilt
      outputs/              one folder per ``cqc-research run``

Inside it, every command uses its notebooks, data and outputs (:mod:`cqc_research.paths`). In the
repository checkout the repository itself is the study folder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import __version__, paths
from .errors import CQCResearchError

__all__ = ["init_study", "InitResult", "shipped_notebooks", "version_text", "VersionAction",
           "configure_parser", "run_command"]

#: Where the wheel carries the notebooks (``notebooks/`` of the repository, copied at build time).
SHIPPED = "_study"
_SKIP = {".ipynb_checkpoints", "__pycache__"}
_STUDY_DIRS = ("data/raw", "data/processed", "outputs")


def shipped_notebooks() -> Path:
    """The notebooks that come with the package: the wheel's copy, or a checkout's ``notebooks/``.

    Returns
    -------
    Path
        A folder holding ``00_*.ipynb`` ... plus ``profiles/`` and ``workshop/``.

    Raises
    ------
    CQCResearchError
        When the installation carries no notebooks (a broken install).
    """
    packaged = Path(str(resources.files("cqc_research"))) / SHIPPED / "notebooks"
    if packaged.is_dir():
        return packaged
    checkout = paths.checkout_root()
    if checkout is not None and (checkout / "notebooks").is_dir():
        return checkout / "notebooks"
    raise CQCResearchError(f"this installation of cqc-research carries no notebooks "
                           f"(looked in {packaged}); reinstall the package")


@dataclass
class InitResult:
    """What :func:`init_study` did.

    Attributes
    ----------
    root : Path
        The study folder.
    written : list of Path
        Files written (relative to ``root``).
    kept : list of Path
        Files that already existed and were left as they were (relative to ``root``).
    """

    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def _readme(name: str) -> str:
    return f"""# {name}

A cqc-research study folder (made by `cqc-research init` with cqc-research {__version__}).

```bash
cqc-research run                                   # every notebook, on the embedded synthetic data, into outputs/<run-id>/
cqc-research run 05_local_systems -p sector "GP practices"   # one notebook, with a parameter
```

Run them anywhere inside this folder. `notebooks/` holds your own copies of the shipped notebooks
(edit them freely; `cqc-research init` never overwrites a file); `data/raw/` holds the inputs (the
synthetic dataset is written to `data/raw/synthetic/` on the first run, and `cqc-research fetch`
downloads published CQC and NHS files here); `data/processed/` holds caches; `outputs/` holds one
folder per run, with an `index.html`.

Every report made from the synthetic data carries a red SYNTHETIC DATA banner. The environment
variables `CQC_RESEARCH_DATA` and `CQC_RESEARCH_OUTPUTS` move the data and outputs elsewhere.
"""


def _marker() -> str:
    return (f"# This folder is a cqc-research study folder: commands run inside it use its\n"
            f"# notebooks/, data/ and outputs/. Made by cqc-research {__version__}.\n"
            f"[study]\n"
            f'created = "{_dt.date.today().isoformat()}"\n'
            f'cqc_research_version = "{__version__}"\n')


def init_study(folder: str | os.PathLike, *, notebooks: str | os.PathLike | None = None) -> InitResult:
    """Make (or complete) a study folder: notebooks, data and outputs folders, README and marker.

    Existing files are never overwritten, so running it again in a study folder only adds what is
    missing (for example the notebooks a newer version ships).

    Parameters
    ----------
    folder : path
        The study folder; created when missing.
    notebooks : path, optional
        Where to copy notebooks from (default :func:`shipped_notebooks`).

    Returns
    -------
    InitResult

    Raises
    ------
    CQCResearchError
        When ``folder`` is inside a Python installation (``site-packages``) or is a file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> res = init_study(pathlib.Path(tempfile.mkdtemp()) / "study")
    >>> sorted(p.name for p in res.root.iterdir())
    ['README.md', 'cqc-research.toml', 'data', 'notebooks', 'outputs']
    """
    root = Path(folder).expanduser().resolve()
    if paths.is_inside_installation(root):
        raise CQCResearchError(f"{root} is inside a Python installation; make the study folder "
                               "somewhere of your own")
    if root.exists() and not root.is_dir():
        raise CQCResearchError(f"{root} is a file, not a folder")
    source = Path(notebooks) if notebooks is not None else shipped_notebooks()
    result = InitResult(root=root)

    def write(rel: Path, text: str | None = None, copy_from: Path | None = None) -> None:
        target = root / rel
        if target.exists():
            result.kept.append(rel)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy_from is not None:
            shutil.copyfile(copy_from, target)
        else:
            target.write_text(text, encoding="utf-8")
        result.written.append(rel)

    root.mkdir(parents=True, exist_ok=True)
    for sub in _STUDY_DIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    for src in sorted(source.rglob("*")):
        rel_src = src.relative_to(source)
        if src.is_dir() or _SKIP & set(rel_src.parts) or src.name.startswith("."):
            continue
        write(Path("notebooks") / rel_src, copy_from=src)
    write(Path("README.md"), _readme(root.name))
    write(Path(paths.MARKER), _marker())
    return result


# ---------------------------------------------------------------------------------------------
# version
def _git(checkout: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def version_text() -> str:
    """``cqc-research X.Y.Z``, plus the git commit when running from a repository checkout.

    Returns
    -------
    str
        ``cqc-research <version>``; in a git checkout followed by
        ``(commit <12-hex>[, with local changes]; checkout <folder>)`` when git can read it.

    Examples
    --------
    >>> version_text().split()[:2] == ["cqc-research", __version__]
    True
    """
    text = f"cqc-research {__version__}"
    checkout = paths.checkout_root()
    if checkout is not None and (checkout / ".git").exists():
        commit = _git(checkout, "rev-parse", "--short=12", "HEAD")
        if commit:
            dirty = _git(checkout, "status", "--porcelain", "--untracked-files=no")
            text += f" (commit {commit}{', with local changes' if dirty else ''}; checkout {checkout})"
    return text


class VersionAction(argparse.Action):
    """``--version``: prints :func:`version_text` (computed only when asked) and exits.

    Takes no value (``nargs=0``). Use as ``parser.add_argument("--version", action=VersionAction)``.

    Parameters
    ----------
    option_strings : list of str
        The option's flags (``["--version"]``), passed by :mod:`argparse`.
    dest : str
        The namespace attribute; default ``argparse.SUPPRESS`` (nothing is stored).
    default : object
        Default ``argparse.SUPPRESS`` (no attribute is added to the namespace).
    help : str
        The help text shown by ``--help``.
    """

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version (and, in a checkout, the commit) and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


# ---------------------------------------------------------------------------------------------
# CLI
def configure_parser(parser) -> None:
    """Add the ``cqc-research init`` argument (the study folder ``DIR``)."""
    parser.add_argument("folder", metavar="DIR", help="the study folder to make (created when missing)")


def run_command(args) -> int:
    """Run ``cqc-research init DIR``: make the study folder, say what was written; exit status 0."""
    res = init_study(args.folder)
    n_nb = sum(1 for p in res.written if p.suffix == ".ipynb")
    print(f"study folder {res.root}: wrote {len(res.written)} files ({n_nb} notebooks)"
          + (f", kept {len(res.kept)} that already existed" if res.kept else ""))
    try:
        shown = os.path.relpath(res.root)
    except ValueError:
        shown = str(res.root)
    print(f"next: cd {shown} && cqc-research run")
    return 0
