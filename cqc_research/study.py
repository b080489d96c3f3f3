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

A study declares its data once in ``cqc-research.toml`` (:func:`study_data`, :func:`declare_data`);
the data themselves are read through one :class:`cqc_research.dataset.Study` (given paths, else
this declaration, else the embedded synthetic data). This module sits at the bottom of the layers
(the readers and ``fetch`` use the declaration), so the ``Study``, which needs the readers, lives in
:mod:`cqc_research.dataset`. ``shipped_notebooks``, ``version_text`` and :class:`InitResult` serve
the command line and stay public-named outside ``__all__``.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import __version__, paths
from .errors import CQCResearchError

__all__ = ["init_study", "study_data", "declared_path", "declare_data", "DATA_KEYS", "INDICATOR_KEYS"]

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
            f'cqc_research_version = "{__version__}"\n'
            "\n"
            "# The study's data: every command and notebook reads its inputs from here, so a run\n"
            "# on real files needs no -p flags (explicit parameters still win). `cqc-research fetch`\n"
            "# adds what it downloads. Paths are relative to this folder; a list is allowed.\n"
            "# With nothing declared, notebooks use the embedded synthetic data.\n"
            "# [data]\n"
            '# ratings = "data/raw/ratings"\n'
            '# api = "data/raw/cqc_api"\n'
            "# [data.indicators]\n"
            '# gp_payments = "data/raw/gp-payments"\n'
            '# qof = "data/raw/qof"\n')


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


# ---------------------------------------------------------------------------------------------
# the study's data, declared in cqc-research.toml
#: What a study folder may declare under ``[data]`` (and ``[data.indicators]``), and what each is.
DATA_KEYS = {
    "ratings": "the CQC Latest ratings workbook (ODS, XLSX or CSV)",
    "api": "a CQC API sync folder (locations/*.json, providers/*.json)",
    "directory": "the CQC care directory CSV",
    "active_locations": "the CQC HSCA active locations workbook",
    "councils": "council assessments (one row per council, one column per quality statement)",
    "population": "population aged 65+ by local authority",
    "la_codes": "a local-authority code lookup",
    "imd": "indices of deprivation",
    "segments": "coded interview segments (CSV or REFI-QDA)",
}
#: The indicator sources a study may declare under ``[data.indicators]``.
INDICATOR_KEYS = {
    "gp_payments": "NHS Payments to General Practice",
    "qof": "Quality and Outcomes Framework (prevalence, achievement, geography)",
    "gpps": "GP Patient Survey, practice results",
    "fft": "Friends and Family Test (GP and A&E)",
    "fingertips": "Fingertips (OHID) all-data exports",
    "shmi": "Summary Hospital-level Mortality Indicator",
    "staff_survey": "NHS Staff Survey, organisation results",
    "ae": "A&E attendances and emergency admissions, monthly",
    "dtoc": "delayed transfers of care, monthly",
}


def _declaration_file(root) -> Path | None:
    if root is None:
        try:
            root = paths.study_root()
        except paths.NoStudyError:
            return None
    marker = Path(root) / paths.MARKER
    return marker if marker.is_file() else None


def study_data(root: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """The data a study folder declares in its ``cqc-research.toml``.

    A study lists its inputs once, and every command and notebook reads them from there::

        [data]
        ratings = "data/raw/ratings/2024-05-01_latest_ratings.ods"
        api = "data/raw/cqc_api"

        [data.indicators]
        gp_payments = ["data/raw/gp-payments"]
        qof = "data/raw/qof"

    Values are a path or a list of paths (files or folders), relative to the study folder.
    ``cqc-research fetch`` records what it downloads here. Indicator sources are returned under
    ``indicators.<name>``.

    Parameters
    ----------
    root : path, optional
        The study folder; default the one found upwards from the current directory.

    Returns
    -------
    dict of str to list of Path
        Absolute paths by key (``"ratings"``, ``"indicators.qof"``, ...); empty when the study
        declares nothing (or there is no study folder).

    Raises
    ------
    CQCResearchError
        When the file is not valid TOML, a key is unknown, or a declared path does not exist;
        the message names the file and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "ratings.ods").write_bytes(b"")
    >>> _ = (d / "cqc-research.toml").write_text('[data]\\nratings = "ratings.ods"\\n')
    >>> {k: [p.name for p in v] for k, v in study_data(d).items()}
    {'ratings': ['ratings.ods']}
    """
    import tomllib

    marker = _declaration_file(root)
    if marker is None:
        return {}
    try:
        doc = tomllib.loads(marker.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CQCResearchError(f"{marker}: not valid TOML ({exc})") from None
    data = doc.get("data", {})
    out: dict[str, list[Path]] = {}

    def add(key: str, value, known: dict, prefix: str = "") -> None:
        if key not in known:
            raise CQCResearchError(f"{marker}: [data{'.' + prefix if prefix else ''}] {key!r} is "
                                   f"not a data key; known: {', '.join(known)}")
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise CQCResearchError(f"{marker}: [data{'.' + prefix if prefix else ''}] {key} must "
                                   "be a path or a list of paths (strings)")
        found = []
        for v in values:
            p = Path(v).expanduser()
            p = p if p.is_absolute() else marker.parent / p
            if not p.exists():
                raise CQCResearchError(f"{marker}: [data{'.' + prefix if prefix else ''}] {key} = "
                                       f"{v!r}: no such file or folder ({p})")
            found.append(p)
        out[f"{prefix + '.' if prefix else ''}{key}"] = found

    for key, value in data.items():
        if key == "indicators":
            if not isinstance(value, dict):
                raise CQCResearchError(f"{marker}: [data] indicators must be a table "
                                       "([data.indicators])")
            for k, v in value.items():
                add(k, v, INDICATOR_KEYS, "indicators")
        else:
            add(key, value, DATA_KEYS)
    return out


def declared_path(key: str, *, root: str | os.PathLike | None = None) -> Path | None:
    """The one path a command reads for ``key``, from the study's ``cqc-research.toml``.

    Parameters
    ----------
    key : str
        A data key (``"ratings"``, ``"api"``, ``"indicators.gp_payments"``, ...).
    root : path, optional
        The study folder; default the one found upwards from the current directory.

    Returns
    -------
    Path or None
        None when the key is not declared. A top-level key read one file at a time (such as
        ``ratings``) gives the last path listed (``fetch`` appends the newest); several files of
        one folder (an indicator series) give that folder; otherwise the first path.
    """
    return one_path(key, study_data(root).get(key))


def one_path(key: str, found) -> Path | None:
    """The one path read for ``key`` out of the paths listed for it (the rule of :func:`declared_path`).

    Parameters
    ----------
    key : str
        A data key; a top-level one (no ``.``) is read one file at a time.
    found : list of Path or None
        The paths listed for it, in order.

    Returns
    -------
    Path or None

    Examples
    --------
    >>> one_path("ratings", [Path("a.ods"), Path("b.ods")]).name
    'b.ods'
    """
    if not found:
        return None
    if len(found) > 1 and "." not in key:
        return found[-1]
    if len(found) > 1 and len({p.parent for p in found}) == 1 and found[0].is_file():
        return found[0].parent
    return found[0]


def declare_data(key: str, path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> bool:
    """Record in the study's ``cqc-research.toml`` that ``key`` is read from ``path``.

    ``cqc-research fetch`` calls this for what it downloads. A path already listed under the key
    is left as it is; otherwise it is added to the key's list. The rest of the file (comments,
    other keys) is kept. The file is replaced atomically.

    Parameters
    ----------
    key : str
        A key of :data:`DATA_KEYS`, or ``indicators.<name>`` with a name of
        :data:`INDICATOR_KEYS`.
    path : path
        The file or folder; stored relative to the study folder when it lies inside it.
    root : path, optional
        The study folder; default the one found upwards from the current directory.

    Returns
    -------
    bool
        True when the file changed; False when the path was already declared, or there is no
        study folder with a ``cqc-research.toml`` (a repository checkout without one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "cqc-research.toml").write_text("# my study\\n[study]\\n")
    >>> (d / "qof").mkdir()
    >>> declare_data("indicators.qof", d / "qof", root=d)
    True
    >>> [p.name for p in study_data(d)["indicators.qof"]]
    ['qof']
    """
    import tomlkit

    prefix, _, name = key.rpartition(".")
    known = INDICATOR_KEYS if prefix == "indicators" else DATA_KEYS
    if prefix not in ("", "indicators") or name not in known:
        raise ValueError(f"{key!r} is not a data key; known: "
                         f"{', '.join([*DATA_KEYS, *('indicators.' + k for k in INDICATOR_KEYS)])}")
    marker = _declaration_file(root)
    if marker is None:
        return False
    doc = tomlkit.parse(marker.read_text(encoding="utf-8"))
    path = Path(path).resolve()
    try:
        text = path.relative_to(marker.parent.resolve()).as_posix()
    except ValueError:
        text = str(path)
    table = doc.setdefault("data", tomlkit.table())
    if prefix:
        table = table.setdefault("indicators", tomlkit.table())
    current = table.get(name)
    values = [] if current is None else (list(current) if isinstance(current, list) else [current])
    if text in [str(v) for v in values]:
        return False
    table[name] = text if not values else [*map(str, values), text]
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, marker)
    return True
