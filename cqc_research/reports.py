"""Run notebooks through papermill into one folder per run: ``cqc-research run``.

A run writes ``outputs/<run-id>/`` (run ids such as ``2026-11-23T1854-3fa9c2`` sort by time):

``<notebook>.ipynb``
    the executed notebook (papermill, parameters injected),
``<notebook>.html``
    the same without code (nbconvert ``exclude_input``), figures embedded as data URIs,
``figures/``, ``tables/``
    written by the notebooks themselves through :class:`cqc_research.report.Report`, because
    the runner injects the parameter ``output_dir`` (the run folder) into every notebook that
    declares it,
``manifest.json``
    per notebook: parameters, status, duration and error; the SHA-256 of every input; the
    versions of Python and the key packages; the git commit,
``SHA256SUMS``
    one line per input file (``sha256sum -c SHA256SUMS`` checks them),
``index.html``
    links to everything; failures in red with the error's last line.

The runner always finishes the other notebooks and writes the index, and returns non-zero when
any notebook failed. After each notebook it runs the synthetic-data detector
(:func:`cqc_research.report.check_outputs`): in a run made from synthetic data, a table or
figure without the "SYNTHETIC DATA" stamp fails its notebook.

Kernels are started with the ZeroMQ ``ipc`` transport (Unix sockets in a private folder), never
TCP ports, so kernels started in parallel cannot collide on ports (papermill issue #511:
``ZMQError: Address already in use``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import paths
from .cache import atomic_path, atomic_write_text, sha256_file
from .errors import CQCResearchError

__all__ = [
    "NotebookError",
    "ParameterError",
    "NotebookResult",
    "RunResult",
    "KernelSession",
    "make_run_id",
    "find_notebooks",
    "notebook_parameters",
    "parse_value",
    "resolve_parameters",
    "hash_inputs",
    "export_html",
    "environment_info",
    "write_index",
    "run_notebooks",
    "configure_parser",
    "run_command",
]

#: Parameters the runner fills in itself.
OUTPUT_PARAMETER = "output_dir"
#: A parameter whose name ends like this and is left empty means "use the embedded data".
PATH_SUFFIXES = ("_path", "_dir", "_folder", "_file")
#: Packages whose versions go into every manifest.
KEY_PACKAGES = ("cqc-research", "pandas", "numpy", "scipy", "statsmodels", "matplotlib",
                "seaborn", "pyarrow", "papermill", "nbclient", "nbconvert", "ipykernel",
                "jupyter_client", "dask", "distributed")
ENGINE_NAME = "cqc_research"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(CQCResearchError, FileNotFoundError):
    """A notebook that does not exist or cannot be read."""


class ParameterError(CQCResearchError, ValueError):
    """A ``-p NAME VALUE`` that the notebook does not declare, or a value of the wrong type."""


class KernelStartError(CQCResearchError, RuntimeError):
    """A kernel that did not start after the allowed retries."""


# ---------------------------------------------------------------------------------------------
# Results
@dataclass
class NotebookResult:
    """What happened to one notebook (one row of ``manifest.json``)."""

    name: str
    notebook: str
    parameters: dict
    status: str = "pending"  # "ok" | "failed"
    started: str | None = None
    duration_s: float | None = None
    error: str | None = None
    error_cell: int | None = None
    traceback: str | None = None
    output_notebook: str | None = None
    output_html: str | None = None
    inputs: list[str] = field(default_factory=list)
    synthetic: bool = False
    unstamped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunResult:
    """The outcome of :func:`run_notebooks`.

    Attributes
    ----------
    run_id, run_dir, manifest_path, index_path
        Where the run was written.
    notebooks : list of NotebookResult
        One per notebook, in the order given.
    synthetic : bool
        True when any input was synthetic.
    """

    run_id: str
    run_dir: Path
    notebooks: list[NotebookResult]
    manifest_path: Path
    index_path: Path
    synthetic: bool = False

    @property
    def failed(self) -> list[NotebookResult]:
        return [r for r in self.notebooks if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def __repr__(self) -> str:
        return (f"RunResult({self.run_id!r}, {len(self.notebooks)} notebooks, "
                f"{len(self.failed)} failed, index={str(self.index_path)!r})")


# ---------------------------------------------------------------------------------------------
# Run ids, notebooks, parameters
def make_run_id(when: _dt.datetime | None = None, *, token: str | None = None) -> str:
    """A sortable run id: local date and time to the minute plus a short random hex token.

    Examples
    --------
    >>> import datetime as dt
    >>> make_run_id(dt.datetime(2026, 11, 23, 18, 54), token="3fa9c2")
    '2026-11-23T1854-3fa9c2'
    """
    when = when or _dt.datetime.now()
    return f"{when:%Y-%m-%dT%H%M}-{token or secrets.token_hex(3)}"


def find_notebooks(names: Sequence[str | os.PathLike] | None = None, *,
                   folder: str | os.PathLike | None = None) -> list[Path]:
    """The notebooks to run.

    Parameters
    ----------
    names : list of path, optional
        Paths, or names relative to ``notebooks/`` (with or without ``.ipynb``). ``None`` or
        empty: every ``notebooks/*.ipynb`` at the top level, sorted (not ``profiles/`` or
        ``workshop/``).
    folder : path, optional
        Where to look instead of ``notebooks/``.

    Raises
    ------
    NotebookError
        For a name that is not an existing ``.ipynb`` file.
    """
    folder = Path(folder) if folder is not None else paths.NOTEBOOKS
    if not names:
        found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
        if not found:
            raise NotebookError(f"no notebooks in {folder}")
        return found
    out = []
    for name in names:
        p = Path(name).expanduser()
        candidates = [p, folder / p, folder / p.with_suffix(".ipynb")] if p.suffix != ".ipynb" \
            else [p, folder / p]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise NotebookError(f"no notebook {str(name)!r} (looked for {p} and in {folder})")
        if hit.suffix != ".ipynb":
            raise NotebookError(f"{hit} is not a notebook (.ipynb)")
        out.append(hit.resolve())
    return out


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, dict]:
    """The parameters a notebook declares in its cell tagged ``parameters``.

    The cell is read with Python's own parser (``ast``), so a comment holding quotes or ``#``
    cannot hide a parameter (papermill's line regex skips such lines).

    Returns
    -------
    dict
        name -> ``{"name", "inferred_type_name", "default", "help"}``, the fields of papermill's
        ``inspect_notebook``: the annotation (or the literal's type), the default's source text
        and the trailing comment. Empty when the notebook has no ``parameters`` cell.

    Raises
    ------
    NotebookError
        When the file is not a notebook or its parameters cell is not valid Python.
    """
    import ast

    try:
        with open(notebook, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{notebook}: not a readable notebook ({exc})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f"{notebook}: not a notebook (no cells)")
    cell = next((c for c in cells if c.get("cell_type") == "code"
                 and "parameters" in (c.get("metadata", {}).get("tags") or [])), None)
    if cell is None:
        return {}
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{notebook}: the parameters cell is not valid Python "
                            f"(line {exc.lineno}: {exc.msg})") from None
    lines = source.splitlines()
    out: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, annotation, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            name, annotation, value = node.targets[0].id, None, node.value
        else:
            continue
        if annotation is None and value is not None:
            try:
                annotation = type(ast.literal_eval(value)).__name__
            except (ValueError, SyntaxError, TypeError):
                annotation = None
        tail = lines[node.end_lineno - 1][node.end_col_offset:]
        help_text = tail.split("#", 1)[1].strip() if "#" in tail else ""
        out[name] = {"name": name, "inferred_type_name": annotation or "None",
                     "default": ast.get_source_segment(source, value) if value is not None else None,
                     "help": help_text}
    return out


def parse_value(text, type_name: str | None = None, *, name: str = "value"):
    """Parse a ``-p NAME VALUE`` like papermill does, guided by the declared type.

    ``True``/``true``, ``False``/``false``, ``None``/``null``, integers, floats, and YAML-style
    lists or mappings (``[1, 2]``, ``{a: 1}``) are converted; anything else stays a string. A
    parameter declared ``str`` keeps the text as it is (``-p org_id 123`` stays ``"123"``).
    Non-string values (from Python callers) pass through unchanged.

    Examples
    --------
    >>> parse_value("3"), parse_value("0.5"), parse_value("true"), parse_value("[1, 2]")
    (3, 0.5, True, [1, 2])
    >>> parse_value("123", "str")
    '123'
    """
    if not isinstance(text, str):
        value = text
    elif type_name == "str":
        return text
    elif text in ("True", "true"):
        value = True
    elif text in ("False", "false"):
        value = False
    elif text in ("None", "null"):
        value = None
    else:
        value = text
        for conv in (int, float):
            try:
                value = conv(text)
                break
            except ValueError:
                continue
        else:
            if text.strip()[:1] in ("[", "{"):
                import yaml

                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    raise ParameterError(f"parameter {name!r}: cannot parse {text!r} as a list or "
                                         f"mapping ({str(exc).splitlines()[0]})") from None
    if type_name == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "bool": bool, "list": list, "dict": dict}.get(type_name or "")
    if expected is not None and value is not None and not isinstance(value, expected):
        raise ParameterError(f"parameter {name!r} is declared {type_name}, got {text!r}")
    if expected is int and isinstance(value, bool):
        raise ParameterError(f"parameter {name!r} is declared int, got {text!r}")
    return value


def resolve_parameters(specs: Mapping[Path, Mapping[str, dict]],
                       parameters: Mapping[str, object] | None) -> dict[Path, dict]:
    """Check ``-p`` names against each notebook's parameters and parse the values.

    A parameter goes to every notebook that declares it. A name that none of the notebooks
    declares is an error (a typo would otherwise be silently ignored).

    Raises
    ------
    ParameterError
        Naming the parameter, the notebook(s), and the parameters they do declare.
    """
    parameters = dict(parameters or {})
    out: dict[Path, dict] = {nb: {} for nb in specs}
    for name, raw in parameters.items():
        takers = [nb for nb, spec in specs.items() if name in spec]
        if not takers:
            if len(specs) == 1:
                nb, spec = next(iter(specs.items()))
                declared = ", ".join(spec) or "none"
                raise ParameterError(f"unknown parameter {name!r} for {Path(nb).name} "
                                     f"(it declares: {declared})")
            raise ParameterError(f"unknown parameter {name!r}: none of the {len(specs)} notebooks "
                                 "declares it")
        for nb in takers:
            type_name = specs[nb][name].get("inferred_type_name")
            out[nb][name] = parse_value(raw, type_name if type_name not in (None, "None") else None,
                                        name=name)
    return out


def _is_empty_default(spec: Mapping) -> bool:
    return str(spec.get("default", "")).strip() in ('""', "''", "None", "")


def uses_default_data(spec: Mapping[str, dict], given: Mapping[str, object]) -> bool:
    """True when a notebook leaves a path-like parameter empty, i.e. reads the embedded data.

    The convention (see ``notebooks/00_data_overview.ipynb``): a parameter whose name ends in
    ``_path``, ``_dir``, ``_folder`` or ``_file`` and whose default is ``""`` means "the embedded
    synthetic dataset" when it is not given. ``output_dir`` is not an input.
    """
    for name, s in spec.items():
        if name == OUTPUT_PARAMETER or not name.endswith(PATH_SUFFIXES):
            continue
        if name in given:
            if given[name] in ("", None):
                return True
            continue
        if _is_empty_default(s):
            return True
    return False


def _path_values(value) -> list[Path]:
    """Existing files or folders named by a parameter value (a string, a path or a list)."""
    if isinstance(value, list | tuple):
        return [p for v in value for p in _path_values(v)]
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        return []
    text = str(value)
    if "\n" in text or len(text) > 4096:
        return []
    p = Path(text).expanduser()
    try:
        return [p.resolve()] if p.exists() else []
    except OSError:
        return []


def declared_inputs(notebook: str | os.PathLike) -> list[Path]:
    """Files a notebook declares in its metadata: ``{"cqc_research": {"inputs": [...]}}``.

    Relative paths are taken from the repository root.
    """
    with open(notebook, encoding="utf-8") as f:
        meta = json.load(f).get("metadata", {})
    out = []
    for item in (meta.get("cqc_research") or {}).get("inputs", []) or []:
        p = Path(item)
        p = p if p.is_absolute() else paths.PROJECT_ROOT / p
        out.extend(_path_values(str(p)))
    return out


# ---------------------------------------------------------------------------------------------
# Hashing inputs
class _Hasher:
    """Hash files and folders once per run (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._files: dict[Path, str] = {}
        self._entries: dict[str, dict] = {}

    def file(self, p: Path) -> str:
        with self._lock:
            if p in self._files:
                return self._files[p]
        digest = sha256_file(p)
        with self._lock:
            self._files[p] = digest
        return digest

    def entry(self, p: Path) -> dict:
        key = str(p)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        if p.is_dir():
            tree = hashlib.sha256()
            n = size = 0
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                rel = f.relative_to(p).as_posix()
                tree.update(f"{self.file(f)}  {rel}\n".encode())
                n += 1
                size += f.stat().st_size
            info = {"kind": "folder", "sha256_tree": tree.hexdigest(), "files": n, "bytes": size}
        else:
            info = {"kind": "file", "sha256": self.file(p), "bytes": p.stat().st_size}
        with self._lock:
            self._entries[key] = info
        return info

    def sums(self) -> str:
        with self._lock:
            return "".join(f"{h}  {p}\n" for p, h in sorted(self._files.items()))


def hash_inputs(inputs: Iterable[str | os.PathLike]) -> dict[str, dict]:
    """SHA-256 of each input: a file's digest, or for a folder a digest over its files.

    A folder's ``sha256_tree`` is the SHA-256 of the ``sha256sum``-style listing
    ``"<sha256>  <relative path>\\n"`` of every file in it, sorted by path, so it changes when
    any file changes, appears or disappears.

    Returns
    -------
    dict
        path -> ``{"kind": "file", "sha256", "bytes"}`` or
        ``{"kind": "folder", "sha256_tree", "files", "bytes"}``.
    """
    h = _Hasher()
    return {str(Path(p).resolve()): h.entry(Path(p).resolve()) for p in inputs}


# ---------------------------------------------------------------------------------------------
# Kernels
_engine_lock = threading.Lock()
_engine_registered = False


def _register_engine() -> None:
    """Register a papermill engine that runs against a kernel we started (and keep)."""
    global _engine_registered
    with _engine_lock:
        if _engine_registered:
            return
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.engines import NBClientEngine, papermill_engines

        class _SessionEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                         stdout_file=None, stderr_file=None, start_timeout=60,
                                         execution_timeout=None, km=None, kc=None, **kwargs):
                kwargs.pop("input_path", None)
                client = PapermillNotebookClient(
                    nb_man, km=km, kernel_name=kernel_name, timeout=execution_timeout,
                    startup_timeout=start_timeout, log_output=log_output,
                    stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
                client.kc = kc  # reuse the session's client: no new channels per notebook
                return client.execute()

        papermill_engines.register(ENGINE_NAME, _SessionEngine)
        # papermill re-inspects the parameters cell with a line regex and logs a warning for
        # lines it cannot read (comments with quotes); we validate with ast beforehand.
        import logging

        logging.getLogger("papermill").setLevel(logging.ERROR)
        _engine_registered = True


class KernelSession:
    """A Jupyter kernel we start, run notebooks on through papermill, and shut down.

    The kernel talks over ZeroMQ ``ipc`` sockets in a private temporary folder, so sessions
    started at the same time (threads, processes or Dask workers) never race for TCP ports.
    Start-up failures are retried.

    Parameters
    ----------
    kernel_name : str
        A Jupyter kernel spec (``python3`` is the current virtual environment's Python).
    cwd : path, optional
        The kernel's working directory.
    startup_timeout : float
        Seconds to wait for the kernel to answer.
    retries : int
        Extra attempts when the kernel fails to start.
    """

    def __init__(self, kernel_name: str = "python3", *, cwd=None, startup_timeout: float = 60,
                 retries: int = 2):
        self.kernel_name = kernel_name
        self.cwd = str(cwd) if cwd is not None else None
        self.startup_timeout = startup_timeout
        self.retries = retries
        self.km = None
        self.kc = None
        self._sockdir: str | None = None
        self.starts = 0
        self.executions = 0
        self.start_seconds = 0.0

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()

    @property
    def alive(self) -> bool:
        if self.km is None:
            return False
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def start(self) -> KernelSession:
        """Start the kernel (retrying start-up failures); a no-op when it is running."""
        if self.km is not None and self.alive:
            return self
        self.shutdown()
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            t0 = time.perf_counter()
            try:
                self._start_once()
                self.starts += 1
                self.start_seconds += time.perf_counter() - t0
                return self
            except Exception as exc:  # zmq bind errors, a kernel dying at start, time-outs
                last = exc
                self.shutdown()
                time.sleep(0.2 * (attempt + 1))
        raise KernelStartError(f"kernel {self.kernel_name!r} did not start after "
                               f"{self.retries + 1} attempts: {type(last).__name__}: {last}")

    def _start_once(self) -> None:
        _fast_imports()
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        self._sockdir = tempfile.mkdtemp(prefix="cqck-")  # short: Unix socket paths are limited
        self.km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                     ip=os.path.join(self._sockdir, "k"))
        client = NotebookClient(nbformat.v4.new_notebook(), km=self.km, kernel_name=self.kernel_name,
                                startup_timeout=self.startup_timeout)
        kwargs = {"cwd": self.cwd} if self.cwd else {}
        client.start_new_kernel(**kwargs)
        client.start_new_kernel_client()
        self.kc = client.kc

    def shutdown(self) -> None:
        """Stop the kernel and remove its socket folder."""
        from jupyter_core.utils import run_sync

        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
            self.kc = None
        if self.km is not None:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:
                pass
            self.km = None
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None

    def run_code(self, code: str, *, timeout: float = 60) -> str:
        """Run a snippet on the kernel (outside any notebook) and return what it printed.

        Raises ``nbclient.exceptions.CellExecutionError`` when the snippet fails.
        """
        import nbformat
        from nbclient import NotebookClient

        _fast_imports()
        self.start()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(nb, km=self.km, kernel_name=self.kernel_name, timeout=timeout)
        client.kc = self.kc
        client.execute()
        return "".join(o.get("text", "") for o in nb.cells[0].outputs
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def track_writes(self) -> None:
        """Start recording, inside the kernel, every file the next notebook opens for writing."""
        self.run_code("import cqc_research.reports as _cqc_r; _cqc_r._kernel_track_writes()")

    def written_files(self) -> list[str]:
        """Absolute paths written since :meth:`track_writes` (files opened to write, rename targets)."""
        out = self.run_code("import cqc_research.reports as _cqc_r; _cqc_r._kernel_print_written()")
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else []

    def execute(self, notebook, output_path, parameters: Mapping | None = None, *,
                timeout: float | None = None) -> tuple[object, dict | None]:
        """Run one notebook with papermill on this kernel.

        The executed notebook is written to a hidden temporary file beside ``output_path`` and
        renamed into place, so ``output_path`` never holds a half-written notebook.

        Returns
        -------
        (notebook, error)
            The executed ``NotebookNode`` and ``None``, or an error dict with ``error`` (the
            exception's last line), ``cell`` and ``traceback`` when it failed. A failure that
            kills the kernel leaves the session stopped (``alive`` is False).
        """
        _fast_imports()
        import nbformat
        import papermill
        from papermill.exceptions import PapermillExecutionError

        _register_engine()
        self.start()
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        params = {k: (str(v) if isinstance(v, os.PathLike) else v)
                  for k, v in (parameters or {}).items()}
        error = None
        nb = None
        with atomic_path(output_path) as tmp:
            tmp_nb = tmp.with_suffix(".ipynb")
            try:
                nb = papermill.execute_notebook(
                    str(notebook), str(tmp_nb), parameters=params, engine_name=ENGINE_NAME,
                    kernel_name=self.kernel_name, progress_bar=False, log_output=False,
                    request_save_on_cell_execute=False, km=self.km, kc=self.kc,
                    execution_timeout=timeout)
            except PapermillExecutionError as exc:
                nb = nbformat.read(tmp_nb, as_version=4) if tmp_nb.exists() else None
                error = {"error": _last_line(f"{exc.ename}: {exc.evalue}"),
                         "cell": exc.exec_count,
                         "traceback": _clean_traceback(exc.traceback)}
            except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook
                error = {"error": _last_line(f"{type(exc).__name__}: {exc}"), "cell": None,
                         "traceback": _ANSI.sub("", str(exc))[-4000:]}
                if not self.alive:
                    self.shutdown()
            self.executions += 1
            if nb is None:
                nb = nbformat.read(notebook, as_version=4)
            _renumber(nb)
            _stable_ids(nb, notebook)
            nbformat.write(nb, str(tmp))
            tmp_nb.unlink(missing_ok=True)
        return nb, error


# Inside the kernel: an audit hook (PEP 578) records what a notebook writes, so the synthetic
# detector blames exactly the notebook that wrote an unstamped file, even when several run at once.
_WRITTEN: set[str] | None = None


def _kernel_audit(event: str, args) -> None:
    if _WRITTEN is None:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
                  else bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)))
        if writes:
            _WRITTEN.add(os.path.abspath(os.fsdecode(path)))
    elif event == "os.rename":
        dst = args[1]
        if not isinstance(dst, int):
            _WRITTEN.add(os.path.abspath(os.fsdecode(dst)))


def _kernel_track_writes() -> None:
    global _WRITTEN
    if _WRITTEN is None:
        sys.addaudithook(_kernel_audit)
    _WRITTEN = set()


def _kernel_print_written() -> None:
    written = sorted(_WRITTEN or ())
    print(json.dumps(written))


def _fast_imports() -> None:
    """Skip jsonschema's optional IRI checker (``rfc3987_syntax`` builds a parser for ~5 s at import).

    nbformat's schema never uses the ``iri`` format, so validation is unchanged; this only
    makes each process that imports nbformat/papermill start seconds sooner.
    """
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in _ANSI.sub("", str(text)).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else str(text)


def _clean_traceback(tb) -> str:
    text = "\n".join(tb) if isinstance(tb, list | tuple) else str(tb or "")
    text = _ANSI.sub("", text)
    return text[-4000:]


def _stable_ids(nb, source) -> None:
    """Give cells papermill added (injected parameters, error markers) ids from their position.

    papermill makes random ids; stable ones keep output identical between runs and executors.
    """
    try:
        with open(source, encoding="utf-8") as f:
            known = {c.get("id") for c in json.load(f).get("cells", [])}
    except (OSError, ValueError):
        known = set()
    for i, cell in enumerate(nb.cells):
        if "id" in cell and cell["id"] not in known:
            tags = cell.get("metadata", {}).get("tags") or ["papermill"]
            cell["id"] = f"{tags[0]}-{i}"[:64]


def _renumber(nb) -> None:
    """Number executed code cells 1, 2, ... so output does not depend on kernel history."""
    n = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if cell.get("execution_count") is None:
            continue
        n += 1
        cell["execution_count"] = n
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = n


# ---------------------------------------------------------------------------------------------
# HTML
_exporters = threading.local()


def _template_env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=False)


def export_html(nb, target, *, synthetic: bool, title: str | None = None) -> Path:
    """Write a notebook as HTML without code, figures embedded, banner first when synthetic.

    Uses nbconvert's ``HTMLExporter`` with ``exclude_input=True`` (what ``--no-input`` does) and
    no prompts. Images are ``data:`` URIs, so the file stands alone. Written atomically.
    """
    _fast_imports()
    from nbconvert import HTMLExporter

    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        exporter = HTMLExporter(template_name="lab", exclude_input=True,
                                exclude_input_prompt=True, exclude_output_prompt=True,
                                embed_images=True)
        _exporters.html = exporter
    resources = {"metadata": {"name": title or "report"}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if synthetic and "cqc-synthetic-banner" not in body:  # the notebook did not show it itself
        from .report import banner_html

        m = re.search(r"<body[^>]*>", body)
        at = m.end() if m else 0
        body = body[:at] + "\n" + banner_html(True) + "\n" + body[at:]
    target = Path(target)
    atomic_write_text(target, body)
    return target


def write_index(run_dir, rows: Sequence[Mapping], *, title: str, subtitle: str = "",
                synthetic: bool = False, headers: Sequence[str] = ("notebook",),
                noun: str = "notebooks", file_sections: Sequence[tuple[str, Sequence]] = (),
                footer_links: Sequence[tuple[str, str]] = (), name: str = "index.html") -> Path:
    """Write ``index.html`` in ``run_dir``: a filterable table of everything in the run.

    Parameters
    ----------
    run_dir : path
        The run folder; links are relative to it.
    rows : list of mapping
        One per notebook or entity, with ``cells`` (values for ``headers``; the first is linked
        to ``href``), ``status`` ("ok", "failed", "skipped", ...), ``duration`` (seconds),
        ``error`` (shown in red), ``note``, and ``links`` (``[(label, href), ...]``).
    title, subtitle : str
    synthetic : bool
        Show the "SYNTHETIC DATA" banner at the top.
    headers : list of str
        Column titles before status, seconds, detail and files.
    file_sections : list of (title, [(label, href), ...])
        Extra lists of links (figures, tables).
    footer_links : list of (label, href)

    Returns
    -------
    Path
        The index file. Everything shown is HTML-escaped, so hostile names cannot inject markup.
    """
    from markupsafe import Markup

    from .report import banner_html

    norm = []
    counts: dict[str, int] = {}
    for r in rows:
        status = str(r.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        dur = r.get("duration")
        norm.append({
            "cells": list(r.get("cells", [r.get("name", "")])),
            "href": r.get("href"),
            "status": status,
            "duration": "" if dur is None else f"{float(dur):.1f}",
            "error": r.get("error"),
            "note": r.get("note"),
            "links": list(r.get("links", [])),
        })
    order = ["failed", "ok", "skipped"]
    count_list = sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 9))
    html = _template_env().get_template("index.html.j2").render(
        title=title, subtitle=subtitle, rows=norm, counts=count_list, headers=list(headers),
        noun=noun, failures=counts.get("failed", 0),
        banner=Markup(banner_html(synthetic)), file_sections=list(file_sections),
        footer_links=list(footer_links))
    target = Path(run_dir) / name
    atomic_write_text(target, html)
    return target


# ---------------------------------------------------------------------------------------------
# Environment
def environment_info() -> dict:
    """Python, platform, key package versions and the git commit (when in a git checkout)."""
    import platform
    from importlib import metadata

    pkgs = {}
    for name in KEY_PACKAGES:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    return {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "platform": platform.platform(), "packages": pkgs, "git": git_info()}


def git_info(root: str | os.PathLike | None = None) -> dict | None:
    """The commit of the repository and whether the working tree has changes, or None."""
    root = Path(root) if root is not None else paths.PROJECT_ROOT
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip() != ""
    except (subprocess.SubprocessError, OSError):
        return None
    return {"commit": commit, "dirty": dirty}


def _inside_dir(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _rel(p: Path, root: Path) -> str:
    try:
        return Path(p).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


# ---------------------------------------------------------------------------------------------
# The runner
def runs_last(path) -> bool:
    """True when a notebook asks to run after all the others of its run.

    A notebook that reads other notebooks' ``tables/`` (e.g. ``06_impact_mechanisms``) sets
    ``metadata["cqc_research"]["run_last"] = true``; :func:`run_notebooks` starts it only when
    every other notebook of the run has finished, whatever the number of workers.
    """
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return bool((meta.get("cqc_research") or {}).get("run_last"))


def run_notebooks(notebooks: Sequence[str | os.PathLike] | None = None, *,
                  parameters: Mapping[str, object] | None = None,
                  output_root: str | os.PathLike | None = None, run_id: str | None = None,
                  workers: int = 1, kernel_name: str = "python3", progress: bool = True,
                  timeout: float | None = None) -> RunResult:
    """Run notebooks through papermill into ``<output_root>/<run_id>/``.

    Parameters
    ----------
    notebooks : list of path, optional
        Default: every ``notebooks/*.ipynb`` at the top level, sorted.
    parameters : mapping, optional
        ``name -> value``; strings are parsed as for ``-p`` (see :func:`parse_value`). Each goes
        to every notebook that declares it; a name none declares raises :class:`ParameterError`.
        ``output_dir`` is set to the run folder for every notebook that declares it.
    output_root : path, optional
        Default :func:`cqc_research.paths.outputs_root`.
    run_id : str, optional
        Default :func:`make_run_id`.
    workers : int
        Notebooks run at once, each on its own kernel.
    kernel_name : str
        Jupyter kernel spec.
    progress : bool
        Show a progress bar and messages on standard error.
    timeout : float, optional
        Seconds allowed per cell.

    Returns
    -------
    RunResult
        Never raises for a failing notebook: its row says ``failed`` with the error.

    Notes
    -----
    When a notebook leaves a path-like parameter empty (it reads the embedded data; see
    :func:`uses_default_data`), the synthetic dataset is written first if it is missing
    (:func:`cqc_research.synthetic.ensure_default_data`), once, before any notebook starts,
    and its files are the notebook's inputs.
    """
    from tqdm.auto import tqdm

    from .report import is_synthetic

    created = _dt.datetime.now().astimezone()
    nbs = find_notebooks(notebooks)
    specs = {nb: notebook_parameters(nb) for nb in nbs}
    given = resolve_parameters(specs, parameters)
    run_id = run_id or make_run_id(created)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_id):
        raise ParameterError(f"run id {run_id!r}: use letters, digits, '.', '_' and '-' only")
    root = Path(output_root).expanduser().resolve() if output_root else paths.outputs_root()
    run_dir = root / run_id
    run_dir.mkdir(parents=True, exist_ok=True)

    default_dir = None
    if any(uses_default_data(specs[nb], given[nb]) for nb in nbs):
        from .synthetic import ensure_default_data

        default_dir = ensure_default_data(quiet=not progress).resolve()

    hasher = _Hasher()
    results: list[NotebookResult] = []
    plans = []
    for nb in nbs:
        params = dict(given[nb])
        if OUTPUT_PARAMETER in specs[nb]:
            params[OUTPUT_PARAMETER] = str(run_dir)
        inputs = []
        for name, value in params.items():
            if name != OUTPUT_PARAMETER:
                inputs.extend(_path_values(value))
        if default_dir is not None and uses_default_data(specs[nb], given[nb]):
            inputs.append(default_dir)
        inputs.extend(declared_inputs(nb))
        inputs = list(dict.fromkeys(inputs))
        stem = nb.stem
        res = NotebookResult(name=stem, notebook=_rel(nb, paths.PROJECT_ROOT), parameters=params,
                             inputs=[str(p) for p in inputs], synthetic=is_synthetic(*inputs))
        results.append(res)
        plans.append((nb, res))

    written: dict[str, set[str]] = {}
    windows: dict[str, tuple[float, float]] = {}

    def run_one(nb: Path, res: NotebookResult) -> NotebookResult:
        out_nb = run_dir / f"{res.name}.ipynb"
        out_html = run_dir / f"{res.name}.html"
        started = time.time()
        res.started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        t0 = time.perf_counter()
        try:
            for p in res.inputs:
                hasher.entry(Path(p))
            with KernelSession(kernel_name, cwd=nb.parent) as session:
                session.track_writes()
                executed, error = session.execute(nb, out_nb, res.parameters, timeout=timeout)
                if session.alive:
                    written[res.name] = set(session.written_files())
            res.output_notebook = out_nb.name
            export_html(executed, out_html, synthetic=res.synthetic, title=res.name)
            res.output_html = out_html.name
        except Exception as exc:  # a kernel that never started, an unreadable notebook
            error = {"error": _last_line(f"{type(exc).__name__}: {exc}"), "cell": None,
                     "traceback": None}
        res.duration_s = round(time.perf_counter() - t0, 3)
        windows[res.name] = (started, time.time())
        if error is None:
            res.status = "ok"
        else:
            res.status = "failed"
            res.error, res.error_cell, res.traceback = error["error"], error["cell"], error["traceback"]
        return res

    bar = tqdm(total=len(plans), unit="notebook", desc=f"run {run_id}", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    try:
        # notebooks that read the others' tables (metadata cqc_research.run_last) go in a second wave
        waves = [[p for p in plans if not runs_last(p[0])], [p for p in plans if runs_last(p[0])]]
        with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            n_failed = 0
            for wave in waves:
                futures = [pool.submit(run_one, nb, res) for nb, res in wave]
                for fut in as_completed(futures):
                    res = fut.result()
                    bar.update(1)
                    if not res.ok:
                        n_failed += 1
                        bar.write(f"FAILED {res.name}: {res.error}", file=sys.stderr)
                    bar.set_postfix(failed=n_failed)
    finally:
        bar.close()

    unattributed = _detect_unstamped(run_dir, results, written, windows)
    # two notebooks writing the same table or figure: the later one wins, say so
    writers: dict[str, list[str]] = {}
    for r in results:
        for w in written.get(r.name, ()):
            if _inside_dir(w, run_dir) and Path(w).parent.name in ("tables", "figures"):
                writers.setdefault(_rel(Path(w), run_dir), []).append(r.name)
    collisions = {f: names for f, names in sorted(writers.items()) if len(names) > 1}
    if collisions and progress:
        print(f"warning: {len(collisions)} outputs were written by more than one notebook "
              f"(e.g. {next(iter(collisions))}: {', '.join(next(iter(collisions.values())))}); "
              "see manifest.json 'collisions'", file=sys.stderr)
    synthetic = any(r.synthetic for r in results)
    inputs = {p: hasher.entry(Path(p)) for r in results for p in r.inputs}
    atomic_write_text(run_dir / "SHA256SUMS", hasher.sums())
    manifest = {
        "run_id": run_id,
        "created": created.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "run_dir": str(run_dir),
        "synthetic": synthetic,
        "status": "ok" if all(r.ok for r in results) else "failed",
        "counts": {"notebooks": len(results), "ok": sum(r.ok for r in results),
                   "failed": sum(not r.ok for r in results)},
        "notebooks": [asdict(r) for r in results],
        "unattributed_unstamped": unattributed,
        "collisions": collisions,
        "inputs": inputs,
        "environment": environment_info(),
    }
    manifest_path = run_dir / "manifest.json"
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
    index = _write_run_index(run_dir, run_id, results, synthetic=synthetic, created=created)
    return RunResult(run_id=run_id, run_dir=run_dir, notebooks=results, manifest_path=manifest_path,
                     index_path=index, synthetic=synthetic)


def _detect_unstamped(run_dir: Path, results: Sequence[NotebookResult],
                      written: Mapping[str, set[str]],
                      windows: Mapping[str, tuple[float, float]]) -> list[str]:
    """Run the synthetic detector over the run and fail the notebooks that wrote unstamped files.

    Each unstamped file is blamed on the synthetic notebook(s) whose kernel wrote it (recorded
    by an audit hook); a file no kernel claims is blamed on the synthetic notebooks that were
    running when it was last modified. Returns the unstamped files blamed on no notebook.
    """
    from .report import check_outputs

    synthetic = [r for r in results if r.synthetic]
    if not synthetic:
        return []
    own_html = {r.output_html for r in results if r.output_html and not r.synthetic}
    unattributed = []
    for rel in check_outputs(run_dir, synthetic=True):
        if rel in own_html:
            continue  # the runner's HTML of a notebook made from real data
        full = str((run_dir / rel).resolve())
        claimed = [r for r in results if full in written.get(r.name, ())]
        owners = [r for r in claimed if r.synthetic]
        if not claimed:
            mtime = (run_dir / rel).stat().st_mtime
            owners = [r for r in synthetic
                      if r.name in windows and windows[r.name][0] - 1 <= mtime <= windows[r.name][1] + 1]
        if not owners and not claimed:
            unattributed.append(rel)
        for r in owners:
            r.unstamped.append(rel)
    for r in synthetic:
        if r.unstamped and r.ok:
            shown = ", ".join(r.unstamped[:5]) + (" ..." if len(r.unstamped) > 5 else "")
            r.status = "failed"
            r.error = (f"made from synthetic data, but wrote outputs without the SYNTHETIC DATA "
                       f"stamp: {shown} (save tables and figures with cqc_research.report.Report)")
    return unattributed


def _write_run_index(run_dir: Path, run_id: str, results: Sequence[NotebookResult], *,
                     synthetic: bool, created: _dt.datetime) -> Path:
    rows = []
    for r in results:
        links = []
        if r.output_html:
            links.append(("report", r.output_html))
        if r.output_notebook:
            links.append(("notebook", r.output_notebook))
        note = ", ".join(f"{k}={v}" for k, v in r.parameters.items() if k != OUTPUT_PARAMETER)
        rows.append({"cells": [r.name], "href": r.output_html, "status": r.status,
                     "duration": r.duration_s, "error": r.error, "note": note, "links": links})
    sections = []
    for sub, label in (("figures", "Figures"), ("tables", "Tables")):
        files = sorted((run_dir / sub).glob("*.png" if sub == "figures" else "*.csv"))
        if files:
            sections.append((label, [(f.name, f"{sub}/{f.name}") for f in files]))
    n_failed = sum(not r.ok for r in results)
    subtitle = (f"Run {run_id}, started {created:%d %B %Y %H:%M}. {len(results) - n_failed} of "
                f"{len(results)} notebooks succeeded.")
    return write_index(run_dir, rows, title="cqc-research reports", subtitle=subtitle,
                       synthetic=synthetic, file_sections=sections,
                       footer_links=[("manifest.json", "manifest.json"), ("SHA256SUMS", "SHA256SUMS")])


# ---------------------------------------------------------------------------------------------
# CLI
def add_parameter_option(parser) -> None:
    """The ``-p NAME VALUE`` option shared by ``run`` and ``batch``."""
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        default=[], help="set a notebook parameter (repeatable); values are parsed "
                        "like papermill's: ints, floats, true/false, [lists]")


def configure_parser(parser) -> None:
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="notebooks to run (default: every notebooks/*.ipynb, sorted)")
    add_parameter_option(parser)
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="notebooks to run at once, each on its own kernel (default 1)")
    parser.add_argument("--output-root", metavar="DIR", default=None,
                        help="where run folders go (default: outputs/, or $CQC_RESEARCH_OUTPUTS)")
    parser.add_argument("--run-id", metavar="ID", default=None,
                        help="name of the run folder (default: date-time plus a short token)")
    parser.add_argument("--kernel", default="python3", metavar="NAME",
                        help="Jupyter kernel spec (default python3)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="time allowed per cell (default: no limit)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args) -> int:
    if args.workers < 1:
        raise ParameterError("--workers must be at least 1")
    params = dict(args.parameter or [])
    result = run_notebooks(args.notebooks or None, parameters=params, output_root=args.output_root,
                           run_id=args.run_id, workers=args.workers, kernel_name=args.kernel,
                           progress=not args.quiet, timeout=args.timeout)
    n = len(result.notebooks)
    failed = result.failed
    msg = f"{n - len(failed)} of {n} notebooks succeeded"
    if failed:
        msg += "; failed: " + ", ".join(f"{r.name} ({r.error})" for r in failed)
    print(msg, file=sys.stderr)
    print(result.index_path)
    return 1 if failed else 0
