"""Jupyter kernels for the runner: ipc transport, retries, and the audit hook inside a kernel."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ..cache import atomic_path
from .notebooks import ANSI_ESCAPE, ENGINE_NAME, KernelStartError

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
        """True while the kernel answers; False before :meth:`start` and after it dies."""
        if self.km is None:
            return False
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def start(self) -> KernelSession:
        """Start the kernel (retrying start-up failures); a no-op when it is running.

        Returns
        -------
        KernelSession
            ``self``, running.

        Raises
        ------
        KernelStartError
            The kernel did not start within ``retries + 1`` attempts.
        """
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
        fast_imports()
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

        Parameters
        ----------
        code : str
            Python source run as one cell in the kernel's namespace.
        timeout : float
            Seconds the snippet may take.

        Returns
        -------
        str
            Everything the snippet printed to standard output.

        Raises
        ------
        nbclient.exceptions.CellExecutionError
            The snippet raised.
        """
        import nbformat
        from nbclient import NotebookClient

        fast_imports()
        self.start()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(nb, km=self.km, kernel_name=self.kernel_name, timeout=timeout)
        client.kc = self.kc
        client.execute()
        return "".join(o.get("text", "") for o in nb.cells[0].outputs
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def track_writes(self) -> None:
        """Start recording, inside the kernel, every file the next notebook opens for writing."""
        self.run_code("import cqc_research.runner.kernels as _cqc_k; _cqc_k.kernel_track_writes()")

    def written_files(self) -> list[str]:
        """Absolute paths written since :meth:`track_writes` (files opened to write, rename targets).

        Returns
        -------
        list of str
            Sorted absolute paths; empty when nothing was written.
        """
        out = self.run_code("import cqc_research.runner.kernels as _cqc_k; _cqc_k.kernel_print_written()")
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else []

    def execute(self, notebook, output_path, parameters: Mapping | None = None, *,
                timeout: float | None = None) -> tuple[object, dict | None]:
        """Run one notebook with papermill on this kernel.

        The executed notebook is written to a hidden temporary file beside ``output_path`` and
        renamed into place, so ``output_path`` never holds a half-written notebook.

        Parameters
        ----------
        notebook : str or os.PathLike
            The notebook to run.
        output_path : str or os.PathLike
            Where the executed notebook is written (its folder is created).
        parameters : mapping, optional
            Injected by papermill after the ``parameters`` cell; paths become strings.
        timeout : float, optional
            Seconds per cell; default no limit.

        Returns
        -------
        (notebook, error)
            The executed ``NotebookNode`` and ``None``, or an error dict with ``error`` (the
            exception's last line), ``cell`` and ``traceback`` when it failed. A failure that
            kills the kernel leaves the session stopped (``alive`` is False).
        """
        fast_imports()
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
                error = {"error": last_line(f"{exc.ename}: {exc.evalue}"),
                         "cell": exc.exec_count,
                         "traceback": _clean_traceback(exc.traceback)}
            except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook
                error = {"error": last_line(f"{type(exc).__name__}: {exc}"), "cell": None,
                         "traceback": ANSI_ESCAPE.sub("", str(exc))[-4000:]}
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


def kernel_track_writes() -> None:
    """Start recording the files opened for writing in this process (runs inside the kernel).

    Installs an audit hook (:func:`sys.addaudithook`) once per process and clears the record;
    :meth:`KernelSession.track_writes` calls it in the kernel.
    """
    global _WRITTEN
    if _WRITTEN is None:
        sys.addaudithook(_kernel_audit)
    _WRITTEN = set()


def kernel_print_written() -> None:
    """Print, as one JSON list, the sorted paths recorded since :func:`kernel_track_writes`.

    Runs inside the kernel; :meth:`KernelSession.written_files` reads the line it prints.
    """
    written = sorted(_WRITTEN or ())
    print(json.dumps(written))


def fast_imports() -> None:
    """Skip jsonschema's optional IRI checker (``rfc3987_syntax`` builds a parser for ~5 s at import).

    nbformat's schema never uses the ``iri`` format, so validation is unchanged; this only
    makes each process that imports nbformat/papermill start seconds sooner.
    """
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def last_line(text: str) -> str:
    """The last non-blank line of a message, without ANSI colour codes.

    Used to turn a multi-line error into the one line shown in the batch index.

    Parameters
    ----------
    text : str
        The message (anything else is converted with ``str``).

    Returns
    -------
    str
        That line, stripped of surrounding whitespace; ``str(text)`` unchanged when it has
        no non-blank line.

    Examples
    --------
    >>> last_line("Traceback ...\\n  \\nValueError: bad value  \\n")
    'ValueError: bad value'
    """
    lines = [ln.strip() for ln in ANSI_ESCAPE.sub("", str(text)).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else str(text)


def _clean_traceback(tb) -> str:
    text = "\n".join(tb) if isinstance(tb, list | tuple) else str(tb or "")
    text = ANSI_ESCAPE.sub("", text)
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


