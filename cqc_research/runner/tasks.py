"""One batch task: its spec, its fingerprint (for resuming), and the runner that executes it in a kernel."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import paths
from ..cache import atomic_write_text
from ..errors import CQCResearchError
from ..notebook_output import check_outputs
from .html import export_html
from .kernels import KernelSession, kernel_track_writes

# ---------------------------------------------------------------------------------------------

#: --for-each value -> the notebook parameter that receives the entity's id.
FOR_EACH = {"provider": "provider_id", "location": "location_id",
            "local_authority": "local_authority"}
#: Optional parameters filled in when the notebook declares them.
NAME_PARAMETER = "entity_name"
DONE = "done.json"
MAX_EXIT = 125


class BatchError(CQCResearchError, ValueError):
    """A batch that cannot start: a bad ``--where``, a notebook lacking the entity parameter."""


def slugify(name: str, key: str | None = None, *, max_length: int = 60) -> str:
    """A safe folder name: ASCII letters, digits and dashes, plus a short hash of ``key``.

    Accents are folded (``é`` -> ``e``), anything else becomes ``-``, so ``/``, ``..``, quotes,
    spaces and control characters can never reach the file system. The 8-hex-digit hash of
    ``key`` (the entity id; the name when no key is given) keeps slugs unique when two names
    fold to the same text.

    Parameters
    ----------
    name : str
        The entity's name, e.g. a location name.
    key : str, optional
        The entity's id, hashed into the suffix; default ``name``.
    max_length : int
        Longest text part before the hash.

    Returns
    -------
    str
        ``<folded name>-<8 hex digits>``; ``entity-<hash>`` when nothing of the name survives.

    Examples
    --------
    >>> slugify("St Mary's / ../Hospital", "1-101")
    'st-mary-s-hospital-8cccb8cf'
    >>> slugify("..", "x")[:7]
    'entity-'
    """
    key = str(name if key is None else key)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    ascii_text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_length].strip("-")
    return f"{base or 'entity'}-{digest}"



def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """``root / parts`` resolved, refusing anything that would land outside ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        The folder the result must stay inside.
    *parts : str
        Path parts below ``root`` (e.g. a slug).

    Returns
    -------
    pathlib.Path
        The resolved path.

    Raises
    ------
    BatchError
        The path resolves to ``root`` itself or outside it (``..``, an absolute part, a
        symbolic link).
    """
    root = Path(root).resolve()
    target = root.joinpath(*parts).resolve()
    if target == root or not target.is_relative_to(root):
        raise BatchError(f"refusing to write {target}: it is outside the run folder {root}")
    return target



# ---------------------------------------------------------------------------------------------
# Tasks
@dataclass
class BatchSpec:
    """Everything a worker needs, shared by all entities of a batch (picklable).

    Attributes
    ----------
    notebook : str
        The notebook run per entity (absolute path).
    run_dir : str
        The run folder; each entity writes to ``<run_dir>/<slug>/``.
    kernel_name : str
        The Jupyter kernel.
    timeout : float or None
        Seconds per cell; ``None`` for no limit.
    synthetic : bool
        Whether the inputs are synthetic (reports get the banner and are checked for the stamp).
    recycle : int
        Restart a kernel after this many reports.
    warmup : str
        Import statements run once per kernel before its first report.
    """

    notebook: str
    run_dir: str
    kernel_name: str = "python3"
    timeout: float | None = None
    synthetic: bool = False
    recycle: int = 200
    warmup: str = ""

    @property
    def key(self) -> str:
        """A 16-hex-digit digest of the whole spec; workers keep one runner per key."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class EntityTask:
    """One report to make.

    Attributes
    ----------
    key : str
        The entity's id (provider or location id, or local-authority name).
    name : str
        The entity's name, shown in the index.
    slug : str
        Its folder under the run folder (:func:`slugify`).
    parameters : dict
        The notebook parameters for this entity (``output_dir`` is added when it runs).
    fingerprint : str
        Digest of the notebook, parameters, input data and kernel; a finished report with the
        same fingerprint is skipped.
    attempt : int
        Retries so far (after a worker died).
    """

    key: str
    name: str
    slug: str
    parameters: dict
    fingerprint: str
    attempt: int = 0


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    run_id : str
        The run folder's name.
    run_dir : pathlib.Path
        The run folder.
    entities : list of dict
        One per entity, in entity order: ``key, name, slug, status`` (``ok``, ``failed``,
        ``skipped``, ``interrupted``, ``pending``, or ``would run`` for a dry run), ``error``,
        ``started``, ``duration_s`` and the entity table's columns.
    index_path, manifest_path : pathlib.Path or None
        ``index.html`` and ``batch.json`` in the run folder; ``None`` for a dry run.
    seconds : float
        Wall-clock time of the batch.
    stats : dict
        Counts by status, ``seconds``, ``mean_report_seconds`` and the workers' time per step
        (``worker_timings``); for a dry run ``entities`` and ``to_run``.
    """

    run_id: str
    run_dir: Path
    entities: list[dict]
    index_path: Path | None
    manifest_path: Path | None
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[dict]:
        """The entities whose report failed."""
        return [e for e in self.entities if e["status"] == "failed"]

    @property
    def ran(self) -> list[dict]:
        """The entities run this time (ok or failed), not those skipped as complete."""
        return [e for e in self.entities if e["status"] in ("ok", "failed")]

    @property
    def skipped(self) -> list[dict]:
        """The entities skipped because their report was already complete."""
        return [e for e in self.entities if e["status"] == "skipped"]

    @property
    def exit_status(self) -> int:
        """The number of failed entities, capped at 125 (0 when all succeeded)."""
        return min(len(self.failed), MAX_EXIT)

    def __repr__(self) -> str:
        return (f"BatchResult({self.run_id!r}: {len(self.entities)} entities, {len(self.ran)} ran, "
                f"{len(self.skipped)} skipped, {len(self.failed)} failed)")


def fingerprint(notebook_sha: str, parameters: Mapping, digests: Mapping, kernel_name: str) -> str:
    """Digest of what a report depends on; a finished report with the same one is skipped.

    Parameters
    ----------
    notebook_sha : str
        SHA-256 of the notebook file.
    parameters : Mapping
        The entity's notebook parameters that affect the report (values that are not JSON
        are hashed as their ``str``).
    digests : Mapping
        The input data: notebook parameter (e.g. ``ratings_path``) -> SHA-256 of the file or
        folder it names, so a report is redone when its data changes.
    kernel_name : str
        The Jupyter kernel the report runs on.

    Returns
    -------
    str
        Hex SHA-256 of the canonical JSON (sorted keys) of all four, so it does not depend on
        the order of the mappings.
    """
    payload = {"notebook": notebook_sha, "parameters": parameters, "inputs": dict(digests),
               "kernel": kernel_name}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def is_complete(entity_dir: Path, fingerprint: str) -> bool:
    """True when ``done.json`` says ok for this fingerprint and every file it lists is there.

    Parameters
    ----------
    entity_dir : pathlib.Path
        The entity's folder in the run.
    fingerprint : str
        The task's fingerprint (:class:`EntityTask`).

    Returns
    -------
    bool
        ``False`` when ``done.json`` is missing, unreadable, records a failure or another
        fingerprint, lists no files, or a listed file is missing or has changed size.
    """
    done = entity_dir / DONE
    try:
        info = json.loads(done.read_text())
    except (OSError, ValueError):
        return False
    if info.get("status") != "ok" or info.get("fingerprint") != fingerprint:
        return False
    for rel, size in (info.get("files") or {}).items():
        f = entity_dir / rel
        try:
            if f.stat().st_size != size:
                return False
        except OSError:
            return False
    return bool(info.get("files"))


def warmup_code(notebook: Path) -> str:
    """The notebook's top-level imports, run once per kernel so reports do not pay for them.

    Parameters
    ----------
    notebook : pathlib.Path
        The ``.ipynb`` file. Code cells that do not parse are skipped, as are
        ``from __future__`` imports and imports nested in functions or blocks.

    Returns
    -------
    str
        Python source: ``import matplotlib``, ``import matplotlib.pyplot`` and then each
        distinct import statement in order of first appearance, each wrapped in its own
        ``try: ... except Exception: pass`` so one failing import does not stop the rest.
    """
    import ast

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    lines = ["import matplotlib", "import matplotlib.pyplot"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and not (
                    isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                lines.append(ast.unparse(node))
    return "\n".join(f"try:\n    {ln}\nexcept Exception:\n    pass" for ln in dict.fromkeys(lines))


# ---------------------------------------------------------------------------------------------
# Inside the kernel: reset between reports
_KERNEL_STATE: dict = {}


def kernel_warmup(code: str) -> None:
    """Run the notebook's imports in a throwaway namespace (modules stay loaded, names do not),
    then remember the clean state that every report will start from.

    Runs inside the kernel, once after it starts.

    Parameters
    ----------
    code : str
        The notebook's import statements, run as one block.
    """
    import warnings

    import matplotlib

    try:
        exec(compile(code, "<cqc-batch-warmup>", "exec"), {"__name__": "__cqc_warmup__"})
    finally:
        ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        _KERNEL_STATE["ns"] = set(ip.user_ns)
        _KERNEL_STATE["rc"] = matplotlib.rcParams.copy()
        _KERNEL_STATE["warnings"] = list(warnings.filters)
        _KERNEL_STATE["reports"] = 0


def kernel_reset(cwd: str) -> None:
    """Make a warm kernel look fresh to the next report, and start recording its writes.

    Removes every name the last report defined (like ``%reset -f``, without its slow history
    and garbage-collection work), empties the output cache, closes figures, restores matplotlib,
    warnings and pandas settings and the working folder.

    Runs inside the kernel, before each report.

    Parameters
    ----------
    cwd : str
        The working folder to restore (the notebook's folder).
    """
    import warnings

    ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    keep = _KERNEL_STATE.get("ns", set())
    ns = ip.user_ns
    for name in [n for n in ns if n not in keep]:
        del ns[name]
    out = ns.get("Out")
    if isinstance(out, dict):
        out.clear()
    for attr in ("_", "__", "___"):
        if hasattr(ip.displayhook, attr):
            setattr(ip.displayhook, attr, "")
        ns[attr] = ""
    hm = ip.history_manager
    for lst in (hm.input_hist_parsed, hm.input_hist_raw):
        del lst[1:]
    ip.execution_count = 1
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib
        import matplotlib.pyplot as plt

        plt.close("all")
        if "rc" in _KERNEL_STATE:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matplotlib.rcParams.clear()
                matplotlib.rcParams.update(_KERNEL_STATE["rc"])
    if "warnings" in _KERNEL_STATE:
        warnings.filters[:] = _KERNEL_STATE["warnings"]
        warnings._filters_mutated()  # forget which warnings were already shown
    if "pandas" in sys.modules:
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.reset_option("all")
    os.chdir(cwd)
    _KERNEL_STATE["reports"] = _KERNEL_STATE.get("reports", 0) + 1
    if _KERNEL_STATE["reports"] % 25 == 0:
        import gc

        gc.collect()

    kernel_track_writes()


# ---------------------------------------------------------------------------------------------
# Running one entity (in a worker process, or in a Dask worker)
class EntityRunner:
    """Runs entities of one batch on a warm kernel; one per worker process or Dask thread.

    The kernel starts on the first :meth:`run`, is reset between reports and restarted every
    ``spec.recycle`` reports or after it dies.

    Parameters
    ----------
    spec : BatchSpec
        The batch's shared settings.
    """

    def __init__(self, spec: BatchSpec):
        self.spec = spec
        self.notebook = Path(spec.notebook)
        self.session = KernelSession(spec.kernel_name, cwd=self.notebook.parent)
        self.reports_on_kernel = 0
        self.timings: dict[str, float] = {"kernel_start": 0.0, "warmup": 0.0, "reset": 0.0,
                                          "execute": 0.0, "html": 0.0}

    def _ensure_kernel(self) -> None:
        if self.session.km is not None and self.reports_on_kernel >= self.spec.recycle:
            self.session.shutdown()
        if self.session.km is None or not self.session.alive:
            t0 = time.perf_counter()
            self.session.start()
            self.timings["kernel_start"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            code = ('__import__("cqc_research.runner.tasks", fromlist=["_"])'
                    f".kernel_warmup({self.spec.warmup!r})")
            self.session.run_code(code, timeout=300)
            self.timings["warmup"] += time.perf_counter() - t0
            self.reports_on_kernel = 0

    def close(self) -> None:
        """Shut the kernel down (a later :meth:`run` starts a new one)."""
        self.session.shutdown()

    def run(self, task: EntityTask) -> dict:
        """Make one report; never raises for a failing notebook (the result says failed).

        The entity's folder is emptied first; the report is ``report.ipynb`` and ``report.html``
        there, with ``done.json`` written last.

        Parameters
        ----------
        task : EntityTask
            The entity to report on.

        Returns
        -------
        dict
            ``key, name, slug, status`` (``ok`` or ``failed``), ``error`` (one line, or ``None``),
            ``started``, ``duration_s``, ``pid`` and ``attempt``.
        """
        run_dir = Path(self.spec.run_dir)
        t_start = time.perf_counter()
        started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        entity_dir = safe_join(run_dir, task.slug)
        result = {"key": task.key, "name": task.name, "slug": task.slug, "status": "failed",
                  "error": None, "started": started, "duration_s": None, "pid": os.getpid(),
                  "attempt": task.attempt}
        try:
            (entity_dir / DONE).unlink(missing_ok=True)  # first: nothing may look finished
            if entity_dir.exists():
                shutil.rmtree(entity_dir)
            entity_dir.mkdir(parents=True)
            params = dict(task.parameters)
            params["output_dir"] = str(entity_dir)
            self._ensure_kernel()
            t0 = time.perf_counter()
            self.session.run_code('__import__("cqc_research.runner.tasks", fromlist=["_"])'
                                  f".kernel_reset({str(self.notebook.parent)!r})")
            self.timings["reset"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            nb, error = self.session.execute(self.notebook, entity_dir / "report.ipynb", params,
                                             timeout=self.spec.timeout)
            self.timings["execute"] += time.perf_counter() - t0
            self.reports_on_kernel += 1
            written = set(self.session.written_files()) if self.session.alive else set()
            outside = sorted(w for w in written if not _inside(w, run_dir)
                             and not _is_scratch(w))
            t0 = time.perf_counter()
            export_html(nb, entity_dir / "report.html", synthetic=self.spec.synthetic,
                        title=task.name)
            self.timings["html"] += time.perf_counter() - t0
            if error is None and outside:
                error = {"error": f"the notebook wrote outside the run folder: {outside[0]}"}
            if error is None and self.spec.synthetic:
                missing = check_outputs(entity_dir, synthetic=True)
                if missing:
                    error = {"error": "made from synthetic data, but wrote outputs without the "
                             f"SYNTHETIC DATA stamp: {', '.join(missing[:5])}"}
            result["status"] = "ok" if error is None else "failed"
            result["error"] = None if error is None else error["error"]
        except Exception as exc:  # kernel start failure, disk full, ...
            result["error"] = one_line(exc)
        result["duration_s"] = round(time.perf_counter() - t_start, 3)
        try:
            _write_done(entity_dir, task, result)
        except Exception as exc:
            result["status"] = "failed"
            result["error"] = f"could not write {DONE}: {one_line(exc)}"
        return result


def _inside(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _is_scratch(path: str) -> bool:
    """Writes that are not outputs: temporary files, caches, /dev."""
    import tempfile

    p = str(path)
    scratch = (tempfile.gettempdir(), "/dev/", "/proc/", str(Path.home() / ".cache"),
               str(Path.home() / ".config"), str(Path.home() / ".local"), str(paths.processed_dir()))
    return p.startswith(scratch) or "__pycache__" in p or p.endswith((".pyc", ".lock"))


def one_line(exc: BaseException) -> str:
    """An exception as one line, ``"<type>: <last line of its message>"``, for the index.

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        E.g. ``"ValueError: bad value"``; just ``"KeyError:"`` when the message is empty.

    Examples
    --------
    >>> one_line(ValueError("first\\nsecond"))
    'ValueError: second'
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".strip()


def _write_done(entity_dir: Path, task: EntityTask, result: dict) -> None:
    """``done.json``: the last file written for an entity (atomically)."""
    files = {}
    if result["status"] == "ok":
        for f in sorted(entity_dir.rglob("*")):
            if f.is_file() and f.name != DONE and not f.name.startswith("."):
                files[f.relative_to(entity_dir).as_posix()] = f.stat().st_size
    info = {**result, "fingerprint": task.fingerprint, "parameters": task.parameters,
            "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "files": files}
    atomic_write_text(entity_dir / DONE, json.dumps(info, indent=2, default=str) + "\n")


