"""Run notebooks through papermill into one folder per run: ``cqc-research run``.

A run writes ``outputs/<run-id>/`` (run ids such as ``2026-11-23T1854-3fa9c2`` sort by time):

``<notebook>.ipynb``
    the executed notebook (papermill, parameters injected),
``<notebook>.html``
    the same without code (nbconvert ``exclude_input``), figures embedded as data URIs,
``figures/``, ``tables/``
    written by the notebooks themselves through :class:`cqc_research.notebook_output.Report`, because
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
(:func:`cqc_research.notebook_output.check_outputs`): in a run made from synthetic data, a table or
figure without the "SYNTHETIC DATA" stamp fails its notebook.

Kernels are started with the ZeroMQ ``ipc`` transport (Unix sockets in a private folder), never
TCP ports, so kernels started in parallel cannot collide on ports (papermill issue #511:
``ZMQError: Address already in use``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import paths
from ..cache import atomic_write_text
from ..notebook_output import REPORT_METADATA_KEY, check_outputs, skipped_sections
from ..provenance import is_synthetic
from ..synthetic import ensure_default_data
from .html import export_html, write_index
from .kernels import KernelSession, last_line
from .manifest import InputHasher, environment_info, inside_dir, relative_path
from .notebooks import (
    OUTPUT_PARAMETER,
    ParameterError,
    declared_inputs,
    find_notebooks,
    make_run_id,
    notebook_parameters,
    path_values,
    resolve_parameters,
    uses_default_data,
)
from .tasks import warmup_code

_TASKS = '__import__("cqc_research.runner.tasks", fromlist=["_"])'


# Results
@dataclass
class NotebookResult:
    """What happened to one notebook (one row of ``manifest.json``).

    Attributes
    ----------
    name : str
        The notebook's stem; its outputs are ``<name>.ipynb`` and ``<name>.html`` in the run
        folder.
    notebook : str
        The source notebook's path.
    parameters : dict
        The parameters injected by papermill.
    status : str
        ``"pending"``, then ``"ok"`` or ``"failed"``.
    started : str or None
        Local start time, ISO 8601 to the second.
    duration_s : float or None
        Seconds taken.
    error, error_cell, traceback : str, int, str or None
        For a failure: the exception's last line, the execution count of the failing cell, and
        the traceback without colour codes.
    output_notebook, output_html : str or None
        File names, relative to the run folder, of the executed notebook and its HTML.
    inputs : list of str
        The files and folders it read (path parameters, the embedded data, declared inputs).
    synthetic : bool
        Whether any input was synthetic.
    unstamped : list of str
        Files it wrote from synthetic data without the synthetic stamp (these fail the notebook).
    skipped_sections : list of dict
        Sections that printed a note instead of running: ``{"section", "reason"}``.
    """

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
    #: sections that printed a note instead of running (missing or empty inputs):
    #: ``[{"section": ..., "reason": ...}]`` (see ``notebook_output.Report.section``)
    skipped_sections: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the notebook ran to the end (``status == "ok"``)."""
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
        """The notebooks that did not finish, in run order."""
        return [r for r in self.notebooks if not r.ok]

    @property
    def ok(self) -> bool:
        """True when every notebook ran to the end."""
        return not self.failed

    def __repr__(self) -> str:
        return (f"RunResult({self.run_id!r}, {len(self.notebooks)} notebooks, "
                f"{len(self.failed)} failed, index={str(self.index_path)!r})")


# The runner
def runs_last(path) -> bool:
    """True when a notebook asks to run after all the others of its run.

    A notebook that reads other notebooks' ``tables/`` (e.g. ``06_impact_mechanisms``) sets
    ``metadata["cqc_research"]["run_last"] = true``; :func:`run_notebooks` starts it only when
    every other notebook of the run has finished, whatever the number of workers.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ipynb`` file.

    Returns
    -------
    bool
        ``False`` too for a file that cannot be read as JSON.
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
                  timeout: float | None = None, fresh_kernels: bool = False) -> RunResult:
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
    fresh_kernels : bool
        Start a new kernel for every notebook instead of keeping one warm kernel per worker
        (reset between notebooks, as ``batch`` does); slower, for checking that no notebook
        depends on another's state.

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
        default_dir = ensure_default_data(quiet=not progress).resolve()

    hasher = InputHasher()
    results: list[NotebookResult] = []
    plans = []
    for nb in nbs:
        params = dict(given[nb])
        if OUTPUT_PARAMETER in specs[nb]:
            params[OUTPUT_PARAMETER] = str(run_dir)
        inputs = []
        for name, value in params.items():
            if name != OUTPUT_PARAMETER:
                inputs.extend(path_values(value))
        if default_dir is not None and uses_default_data(specs[nb], given[nb]):
            inputs.append(default_dir)
        inputs.extend(declared_inputs(nb))
        inputs = list(dict.fromkeys(inputs))
        stem = nb.stem
        res = NotebookResult(name=stem, notebook=relative_path(nb, paths.PROJECT_ROOT), parameters=params,
                             inputs=[str(p) for p in inputs], synthetic=is_synthetic(*inputs))
        results.append(res)
        plans.append((nb, res))

    written: dict[str, set[str]] = {}
    windows: dict[str, tuple[float, float]] = {}
    # One warm kernel per worker, reused from notebook to notebook (reset between them, as
    # `batch` does): the imports of every notebook of the run are paid once per worker.
    local = threading.local()
    sessions: list[KernelSession] = []
    warmup = "\n".join(dict.fromkeys(warmup_code(nb) for nb in nbs))

    def session_for(nb: Path) -> KernelSession:
        session = getattr(local, "session", None)
        if session is not None and fresh_kernels:
            session.shutdown()
            session = None
        if session is not None and session.alive:
            session.run_code(f"{_TASKS}.kernel_reset({str(nb.parent)!r})", timeout=60)
            return session
        if session is not None:
            session.shutdown()
        session = KernelSession(kernel_name, cwd=nb.parent).start()
        sessions.append(session)
        local.session = session
        if not fresh_kernels:  # a kernel kept for several notebooks imports what they all use
            session.run_code(f"{_TASKS}.kernel_warmup({warmup!r})", timeout=600)
        return session

    def run_one(nb: Path, res: NotebookResult) -> NotebookResult:
        out_nb = run_dir / f"{res.name}.ipynb"
        out_html = run_dir / f"{res.name}.html"
        started = time.time()
        res.started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        t0 = time.perf_counter()
        try:
            for p in res.inputs:
                hasher.entry(Path(p))
            session = session_for(nb)
            session.track_writes()
            executed, error = session.execute(nb, out_nb, res.parameters, timeout=timeout)
            if session.alive:
                written[res.name] = set(session.written_files())
            if error is not None:  # a failed notebook may leave anything behind: start afresh
                session.shutdown()
            res.output_notebook = out_nb.name
            res.skipped_sections = _skipped_sections(executed if executed is not None else out_nb)
            said = _report_synthetic(executed)
            if said is not None:  # the report says what it was made from: trust it over the inputs
                res.synthetic = said
            export_html(executed, out_html, synthetic=res.synthetic, title=res.name)
            res.output_html = out_html.name
        except Exception as exc:  # a kernel that never started, an unreadable notebook
            error = {"error": last_line(f"{type(exc).__name__}: {exc}"), "cell": None,
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
        # the longest notebooks of the last run start first, so two workers finish together
        last = _last_durations(root)
        waves = [sorted(w, key=lambda p: -last.get(p[1].name, 0.0)) for w in waves]
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
        for session in sessions:
            session.shutdown()

    unattributed = _detect_unstamped(run_dir, results, written, windows)
    # two notebooks writing the same table or figure: the later one wins, say so
    writers: dict[str, list[str]] = {}
    for r in results:
        for w in written.get(r.name, ()):
            if inside_dir(w, run_dir) and Path(w).parent.name in ("tables", "figures"):
                writers.setdefault(relative_path(Path(w), run_dir), []).append(r.name)
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
    atomic_write_text(run_dir / "sections.json", json.dumps(
        {"skipped": {r.name: r.skipped_sections for r in results if r.skipped_sections}}, indent=2) + "\n")
    index = _write_run_index(run_dir, run_id, results, synthetic=synthetic, created=created, written=written)
    return RunResult(run_id=run_id, run_dir=run_dir, notebooks=results, manifest_path=manifest_path,
                     index_path=index, synthetic=synthetic)


def _last_durations(root: Path) -> dict[str, float]:
    """Each notebook's duration in the newest run under ``root`` (empty when there is none)."""
    manifests = sorted(root.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(manifests[-5:]):
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
            return {r["name"]: float(r["duration_s"] or 0.0) for r in runs}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


def _report_synthetic(notebook) -> bool | None:
    """Whether the report's header says it was made from synthetic data (None: no header).

    An empty path parameter usually means the embedded data, but a notebook may read the study's
    declared data instead, or skip a section: its :class:`~cqc_research.notebook_output.Report`
    knows what it read.
    """
    said = [o.get("metadata", {}).get(REPORT_METADATA_KEY, {}).get("synthetic")
            for cell in getattr(notebook, "cells", []) or [] for o in cell.get("outputs", [])
            if REPORT_METADATA_KEY in o.get("metadata", {})]
    said = [s for s in said if s is not None]
    return any(said) if said else None


def _skipped_sections(notebook) -> list[dict]:
    """The skipped sections recorded in an executed notebook (never fails the run)."""
    try:
        return skipped_sections(notebook)
    except Exception:  # an unreadable output notebook is reported by its own failure
        return []


def _detect_unstamped(run_dir: Path, results: Sequence[NotebookResult],
                      written: Mapping[str, set[str]],
                      windows: Mapping[str, tuple[float, float]]) -> list[str]:
    """Run the synthetic detector over the run and fail the notebooks that wrote unstamped files.

    Each unstamped file is blamed on the synthetic notebook(s) whose kernel wrote it (recorded
    by an audit hook); a file no kernel claims is blamed on the synthetic notebooks that were
    running when it was last modified. Returns the unstamped files blamed on no notebook.
    """
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
                       f"stamp: {shown} (save tables and figures with cqc_research.notebook_output.Report)")
    return unattributed


def _write_run_index(run_dir: Path, run_id: str, results: Sequence[NotebookResult], *,
                     synthetic: bool, created: _dt.datetime,
                     written: Mapping[str, set[str]] | None = None) -> Path:
    written = written or {}
    owned: dict[str, list[str]] = {}  # the tables and figures each notebook wrote (the front page)
    for r in results:
        owned[r.name] = sorted(relative_path(Path(w), run_dir) for w in written.get(r.name, ())
                               if inside_dir(w, run_dir) and Path(w).parent.name in ("tables", "figures"))
    rows = []
    for r in results:
        links = []
        if r.output_html:
            links.append(("report", r.output_html))
        if r.output_notebook:
            links.append(("notebook", r.output_notebook))
        note = ", ".join(f"{k}={v}" for k, v in r.parameters.items() if k != OUTPUT_PARAMETER)
        if r.ok and r.skipped_sections:
            n = len(r.skipped_sections)
            note = (f"completed, {n} section{'s' if n != 1 else ''} skipped: "
                    + "; ".join(f"{s['section']} ({s['reason']})" for s in r.skipped_sections)
                    + (f". {note}" if note else ""))
        rows.append({"cells": [r.name], "href": r.output_html, "status": r.status,
                     "duration": r.duration_s, "error": r.error, "note": note, "links": links,
                     "notebook": r.output_notebook, "skipped": r.skipped_sections, "files": owned[r.name]})
    sections = []
    claimed = {f for files in owned.values() for f in files}
    for sub, label in (("figures", "Figures"), ("tables", "Tables")):
        files = [f for f in sorted((run_dir / sub).glob("*.png" if sub == "figures" else "*.csv"))
                 if f"{sub}/{f.name}" not in claimed]
        if files:
            sections.append((f"{label} made by no notebook above" if claimed else label,
                             [(f.name, f"{sub}/{f.name}") for f in files]))
    n_failed = sum(not r.ok for r in results)
    subtitle = (f"Run {run_id}, started {created:%d %B %Y %H:%M}. {len(results) - n_failed} of "
                f"{len(results)} notebooks succeeded.")
    return write_index(run_dir, rows, title="cqc-research reports", subtitle=subtitle,
                       synthetic=synthetic, file_sections=sections,
                       footer_links=[("manifest.json", "manifest.json"), ("SHA256SUMS", "SHA256SUMS")])
