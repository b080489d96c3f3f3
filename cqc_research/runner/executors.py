"""Where batch tasks run: local worker processes with one warm kernel each, or Dask."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from .kernels import fast_imports
from .tasks import BatchError, BatchSpec, EntityRunner, EntityTask, one_line


# Local executor: worker processes, one warm kernel each
def _set_parent_death_signal() -> None:
    """Linux: get SIGTERM when the parent dies, so a killed batch leaves no orphans."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _worker_main(conn, spec: BatchSpec, parent_pid: int) -> None:
    """A worker process: receive tasks, run them on a warm kernel, send results back."""
    _set_parent_death_signal()

    def _term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C

    fast_imports()
    runner = EntityRunner(spec)
    try:
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent_pid:
                    return
                continue
            task = conn.recv()
            if task is None:
                return
            if task == "timings":
                conn.send(("timings", dict(runner.timings, starts=runner.session.starts)))
                continue
            conn.send(("result", runner.run(task)))
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        runner.close()


class LocalPool:
    """Bounded worker processes with per-worker pipes, so a dead worker's task is known.

    The workers are started (``spawn`` context) when the pool is made; each keeps one warm
    kernel (:class:`~cqc_research.runner.tasks.EntityRunner`). A worker that dies is replaced.

    Parameters
    ----------
    spec : BatchSpec
        What every worker needs for this batch (notebook, kernel, run folder, ...).
    workers : int
        How many worker processes to start (and keep running).
    """

    def __init__(self, spec: BatchSpec, workers: int):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.spec = spec
        self.n = workers
        self.workers: dict[int, dict] = {}
        self.respawns = 0
        for _ in range(workers):
            self._spawn()

    def _spawn(self) -> None:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(child, self.spec, os.getpid()),
                                daemon=True, name="cqc-batch-worker")
        proc.start()
        child.close()
        self.workers[proc.pid] = {"proc": proc, "conn": parent, "task": None}

    def run(self, tasks: list[EntityTask], on_result, *, retries: int = 1) -> None:
        """Run tasks on the workers, one at a time each, until all have a result.

        Parameters
        ----------
        tasks : list of EntityTask
            The reports to make, handed out in order.
        on_result : callable
            Called in this process with each task's result dict (``key``, ``name``, ``slug``,
            ``status``, ``error``, ``duration_s``, ...) as it arrives.
        retries : int
            How many times a task is run again after its worker process died; once used up,
            the task gets a ``"failed"`` result. A task that fails inside the kernel is not
            retried (its result already says so).

        Raises
        ------
        BatchError
            When worker processes keep dying (more than ``10 * workers + len(tasks)``
            replacements).
        """
        from multiprocessing.connection import wait

        queue = list(tasks)
        while queue or any(w["task"] is not None for w in self.workers.values()):
            for w in self.workers.values():
                if w["task"] is None and queue:
                    w["task"] = queue.pop(0)
                    w["conn"].send(w["task"])
            waitables = {}
            for pid, w in self.workers.items():
                waitables[w["conn"]] = pid
                waitables[w["proc"].sentinel] = pid
            ready = wait(list(waitables), timeout=5)
            dead = set()
            for obj in ready:
                pid = waitables[obj]
                w = self.workers.get(pid)
                if w is None or pid in dead:
                    continue
                if obj is w["conn"]:
                    try:
                        kind, payload = w["conn"].recv()
                    except (EOFError, OSError):
                        dead.add(pid)
                        continue
                    if kind == "result":
                        w["task"] = None
                        on_result(payload)
                else:
                    dead.add(pid)
            for pid in dead:
                w = self.workers.pop(pid)
                w["proc"].join(timeout=1)
                task = w["task"]
                if task is not None:
                    if task.attempt < retries:
                        task.attempt += 1
                        queue.insert(0, task)
                    else:
                        on_result({"key": task.key, "name": task.name, "slug": task.slug,
                                   "status": "failed", "attempt": task.attempt,
                                   "error": f"worker process died (exit code {w['proc'].exitcode})",
                                   "duration_s": None, "started": None, "pid": pid})
                self.respawns += 1
                if self.respawns > 10 * self.n + len(tasks):
                    raise BatchError("worker processes keep dying; giving up")
                self._spawn()

    def timings(self) -> dict:
        """Time the live workers spent on each phase, summed over workers.

        Returns
        -------
        dict
            Seconds per phase (``kernel_start``, ``warmup``, ``reset``, ``execute``, ``html``)
            and ``starts``, the number of kernel starts. Workers that do not answer within
            30 s, or have died, are left out; empty when none answer.
        """
        total: dict[str, float] = {}
        for w in self.workers.values():
            try:
                w["conn"].send("timings")
                if w["conn"].poll(30):
                    kind, t = w["conn"].recv()
                    for k, v in t.items():
                        total[k] = total.get(k, 0) + v
            except (EOFError, OSError):
                pass
        return total

    def close(self) -> None:
        """Ask every worker to stop, and terminate those still running after about 20 s."""
        for w in self.workers.values():
            try:
                w["conn"].send(None)
            except (OSError, BrokenPipeError):
                pass
        deadline = time.time() + 20
        for w in self.workers.values():
            w["proc"].join(timeout=max(0.1, deadline - time.time()))
            if w["proc"].is_alive():
                w["proc"].terminate()
                w["proc"].join(timeout=5)
        self.workers.clear()


# ---------------------------------------------------------------------------------------------
# Dask executor: the same tasks on Dask's own scheduler
_DASK_RUNNERS = threading.local()
_ALL_DASK_RUNNERS: list[dict] = []


def _dask_run(spec: BatchSpec, task: EntityTask) -> dict:
    """A Dask task: run one entity on this worker thread's warm kernel."""
    runners = getattr(_DASK_RUNNERS, "by_spec", None)
    if runners is None:
        runners = _DASK_RUNNERS.by_spec = {}
        _ALL_DASK_RUNNERS.append(runners)
    runner = runners.get(spec.key)
    if runner is None:
        fast_imports()
        runner = runners[spec.key] = EntityRunner(spec)
    return runner.run(task)


def _dask_close_all(spec_key: str) -> int:
    """On a Dask worker: shut down the kernels this batch started in any of its threads."""
    closed = 0
    for runners in list(_ALL_DASK_RUNNERS):
        runner = runners.pop(spec_key, None)
        if runner is not None:
            runner.close()
            closed += 1
    return closed


def run_dask(spec: BatchSpec, tasks: list[EntityTask], on_result, scheduler: str | None,
              retries: int) -> None:
    """Run tasks on a Dask cluster, each worker thread keeping one warm kernel.

    Parameters
    ----------
    spec : BatchSpec
        What every task needs for this batch (notebook, kernel, run folder, ...).
    tasks : list of EntityTask
        The reports to make, one Dask task each.
    on_result : callable
        Called in this process with each task's result dict as it completes (in completion
        order); a task Dask could not run gets a ``"failed"`` result.
    scheduler : str or None
        Address of the Dask scheduler, e.g. ``"tcp://host:8786"``.
    retries : int
        How many times Dask runs a task again after it raised (Dask's own ``retries``).

    Raises
    ------
    BatchError
        When the ``distributed`` package is missing or no ``scheduler`` is given.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise BatchError(f"--executor dask needs the 'distributed' package ({exc})") from None
    if not scheduler:
        raise BatchError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    with Client(scheduler, timeout="30s", set_as_default=False) as client:
        futures = [client.submit(_dask_run, spec, t, key=f"cqc-{t.slug}-{spec.key}-{time.time_ns()}",
                                 pure=False, retries=retries) for t in tasks]
        for fut in as_completed(futures, loop=client.loop):
            try:
                on_result(fut.result())
            except Exception as exc:
                t = tasks[futures.index(fut)]
                on_result({"key": t.key, "name": t.name, "slug": t.slug, "status": "failed",
                           "error": f"dask task failed: {one_line(exc)}", "duration_s": None,
                           "started": None, "attempt": retries})
        # Each Dask worker thread keeps a kernel; shut them down where they live.
        try:
            client.run(_dask_close_all, spec.key)
        except Exception:
            pass


