"""Where notebooks, data and outputs live: the study folder and the variables that override it.

Every path in the package is resolved here, never from ad hoc ``Path.cwd()`` calls, because
papermill runs notebooks from other folders.

A **study folder** holds ``notebooks/``, ``data/raw/``, ``data/processed/`` and ``outputs/``, and
is made by ``cqc-research init DIR`` (see :mod:`cqc_research.study`). It is found like git finds a
repository: upwards from the current directory, the first folder holding the marker file
``cqc-research.toml`` (or a checkout of this repository, whose root is a study folder too). When
none is found upwards and the package is itself imported from a repository checkout (an editable
install), that checkout is the study folder, as it always was. An installed wheel has no such
fallback: outside a study folder, :func:`study_root` raises :class:`NoStudyError`, and nothing is
ever written inside ``site-packages``.

Environment variables override, in this order of precedence over the study folder:

``CQC_RESEARCH_STUDY``
    The study folder itself (no search).
``CQC_RESEARCH_DATA``
    The data root, holding ``raw/`` (immutable inputs) and ``processed/`` (caches).
``CQC_RESEARCH_OUTPUTS``
    The outputs root, holding one folder per report run.

Caches are the exception to "no study folder, no paths": outside one, :func:`processed_dir` is a
folder of the user's cache (``~/.cache/cqc-research/processed``), so the library's loaders work
in any folder.

``PROJECT_ROOT`` and ``NOTEBOOKS`` are still importable names; they are computed when read
(the study root and its ``notebooks/``), so they follow the current directory.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from .errors import CQCResearchError

# PROJECT_ROOT and NOTEBOOKS are importable too (computed on access by __getattr__ below).
__all__ = ["study_root", "raw_dir", "processed_dir", "outputs_root", "NoStudyError"]

#: The file that marks a study folder (written by ``cqc-research init``).
MARKER = "cqc-research.toml"
#: The environment variable naming the study folder outright.
STUDY_ENV = "CQC_RESEARCH_STUDY"
DATA_ENV = "CQC_RESEARCH_DATA"
OUTPUTS_ENV = "CQC_RESEARCH_OUTPUTS"

_PACKAGE_DIR = Path(__file__).resolve().parent


class NoStudyError(CQCResearchError, FileNotFoundError):
    """A command needs a study folder and none was found upwards from the current directory.

    Parameters
    ----------
    start : Path, optional
        Where the search started, named in the message (default: the current directory).
    what : str
        What needs the study folder, as the message starts ("this command").
    """

    def __init__(self, start: Path | None = None, what: str = "this command"):
        start = Path.cwd() if start is None else start
        super().__init__(
            f"{what} needs a study folder and {start} is not inside one: make one with "
            f"`cqc-research init DIR` and run it there (or set {STUDY_ENV})")


def _is_checkout(folder: Path) -> bool:
    """True for the root of a checkout of this repository (its ``pyproject.toml`` names us)."""
    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "cqc_research" / "__init__.py").is_file()):
        return False
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return False
    return 'name = "cqc-research"' in text


def is_inside_installation(path: str | os.PathLike) -> bool:
    """True when ``path`` lies inside a Python installation's ``site-packages`` (or similar).

    Used to refuse ever writing there: a study folder, data or outputs inside an installed
    package would be lost on upgrade and may not be writable.

    Parameters
    ----------
    path : str or os.PathLike
        The path to test (``~`` expanded, resolved; it need not exist).

    Returns
    -------
    bool
        True when a ``site-packages``/``dist-packages`` folder is among its parts or it lies
        under the interpreter's ``purelib``/``platlib`` folder.

    Examples
    --------
    >>> import sysconfig
    >>> is_inside_installation(sysconfig.get_paths()["purelib"])
    True
    """
    p = Path(path).expanduser().resolve()
    if any(part in ("site-packages", "dist-packages") for part in p.parts):
        return True
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for root in roots:
        try:
            p.relative_to(Path(root).resolve())
            return True
        except ValueError:
            continue
    return False


def checkout_root() -> Path | None:
    """The repository checkout this package is imported from, or ``None`` for an installed wheel.

    Returns
    -------
    Path or None
        The folder above the package when it holds this repository's ``pyproject.toml`` and is
        not inside a Python installation; otherwise None.
    """
    parent = _PACKAGE_DIR.parent
    if _is_checkout(parent) and not is_inside_installation(parent):
        return parent
    return None


def find_study(start: str | os.PathLike | None = None) -> Path | None:
    """The study folder at or above ``start`` (default: the current directory), or ``None``.

    A folder is a study folder when it holds :data:`MARKER` or is a checkout of this repository.
    Folders inside ``site-packages`` never are.

    Parameters
    ----------
    start : path, optional
        Where to start looking.

    Returns
    -------
    Path or None
    """
    here = Path(start if start is not None else Path.cwd()).expanduser().resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file() or _is_checkout(folder):
            return None if is_inside_installation(folder) else folder
    return None


def study_root(start: str | os.PathLike | None = None) -> Path:
    """The study folder every command works in.

    ``$CQC_RESEARCH_STUDY`` when set; else the first study folder upwards from ``start`` (the
    current directory); else the repository checkout the package runs from, if any.

    Parameters
    ----------
    start : str or os.PathLike, optional
        Where to start looking upwards (default: the current directory); ignored when
        ``$CQC_RESEARCH_STUDY`` is set.

    Returns
    -------
    Path
        The study folder, resolved.

    Raises
    ------
    NoStudyError
        When there is none (an installed package used outside a study folder).
    CQCResearchError
        When ``$CQC_RESEARCH_STUDY`` names a folder inside a Python installation.
    """
    env = os.environ.get(STUDY_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if is_inside_installation(root):
            raise CQCResearchError(f"{STUDY_ENV}={env} is inside a Python installation; "
                                   "make a study folder with `cqc-research init DIR`")
        return root
    found = find_study(start)
    if found is not None:
        return found
    checkout = checkout_root()
    if checkout is not None:
        return checkout
    raise NoStudyError(Path(start) if start is not None else None)


def notebooks_dir() -> Path:
    """The notebooks that ``cqc-research run`` runs: ``<study>/notebooks``.

    Returns
    -------
    Path
        ``notebooks/`` of :func:`study_root` (it may not exist).

    Raises
    ------
    NoStudyError
        When there is no study folder (see :func:`study_root`).
    """
    return study_root() / "notebooks"


def _env_dir(name: str) -> Path | None:
    env = os.environ.get(name)
    return Path(env).expanduser().resolve() if env else None


def data_root() -> Path:
    """The data root: ``$CQC_RESEARCH_DATA`` or ``<study>/data``.

    Returns
    -------
    Path
        The folder holding ``raw/`` and ``processed/`` (it may not exist).

    Raises
    ------
    NoStudyError
        When ``$CQC_RESEARCH_DATA`` is unset and there is no study folder.
    """
    return _env_dir(DATA_ENV) or study_root() / "data"


def raw_dir() -> Path:
    """Immutable inputs: downloaded files and the embedded synthetic default.

    Returns
    -------
    Path
        ``raw/`` of :func:`data_root` (it may not exist).

    Raises
    ------
    NoStudyError
        When ``$CQC_RESEARCH_DATA`` is unset and there is no study folder.
    """
    return data_root() / "raw"


def user_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/cqc-research`` or ``~/.cache/cqc-research``.

    Returns
    -------
    Path
        The folder, resolved (not created here).
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "cqc-research"


def processed_dir() -> Path:
    """Derived files that can always be rebuilt (Parquet caches): ``<data root>/processed``.

    Outside any study folder (an installed package used as a library, with no
    ``CQC_RESEARCH_DATA``), ``<user cache>/processed`` (:func:`user_cache_dir`), so that
    ``cqc_research.load(path)`` works anywhere and still never writes inside ``site-packages``.

    Returns
    -------
    Path
        ``$CQC_RESEARCH_DATA/processed``, else ``<study>/data/processed``, else
        ``<user cache>/processed`` (none of them created here).
    """
    if os.environ.get(DATA_ENV):
        return data_root() / "processed"
    try:
        return study_root() / "data" / "processed"
    except NoStudyError:
        return user_cache_dir() / "processed"


def outputs_root() -> Path:
    """The outputs root: ``$CQC_RESEARCH_OUTPUTS`` or ``<study>/outputs``.

    Returns
    -------
    Path
        The folder holding one folder per report run (it may not exist).

    Raises
    ------
    NoStudyError
        When ``$CQC_RESEARCH_OUTPUTS`` is unset and there is no study folder.
    """
    return _env_dir(OUTPUTS_ENV) or study_root() / "outputs"


def synthetic_dir() -> Path:
    """Where ``cqc-research synth`` writes the embedded default dataset.

    Returns
    -------
    Path
        ``synthetic/`` of :func:`raw_dir` (it may not exist).

    Raises
    ------
    NoStudyError
        When ``$CQC_RESEARCH_DATA`` is unset and there is no study folder.
    """
    return raw_dir() / "synthetic"


def __getattr__(name: str) -> Path:
    # PROJECT_ROOT and NOTEBOOKS were constants; they now follow the study folder.
    if name == "PROJECT_ROOT":
        return study_root()
    if name == "NOTEBOOKS":
        return notebooks_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
