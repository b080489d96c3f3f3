"""Benchmark: the main job (every notebook, two workers) on the national-scale synthetic data, and
its peak memory (issue 27: under 4 GB).

Run from the repository root::

    .venv/bin/cqc-research synth --scale national --out /tmp/national/data/raw/synthetic
    .venv/bin/python benchmarks/bench_national_main_job.py --data-root /tmp/national/data

``cqc-research run --workers 2`` runs with ``CQC_RESEARCH_DATA`` pointing at a data root whose
``raw/synthetic`` holds the national dataset (about 50,000 locations), so every notebook reads it
as its default data. A sampler polls the whole process tree (the runner, its worker processes and
their kernels) every ``--interval`` seconds and records the sum of the processes' proportional
set sizes (PSS: shared pages divided among the processes sharing them, so the sum is the memory
the job really holds) and, as an upper bound, the sum of their resident set sizes. It prints the
wall time, both peaks and the peak's largest processes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

CLI = Path(sys.executable).parent / "cqc-research"
GB = 1024 ** 3


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _sample(proc: psutil.Process) -> tuple[int, int, list[tuple[int, str]]]:
    pss = rss = 0
    each = []
    for p in _tree(proc):
        try:
            info = p.memory_full_info()
            name = " ".join(p.cmdline()[1:3])[:60]
        except psutil.Error:
            continue
        pss += getattr(info, "pss", info.rss)
        rss += info.rss
        each.append((getattr(info, "pss", info.rss), name))
    return pss, rss, sorted(each, reverse=True)[:4]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path,
                        help="a data root whose raw/synthetic holds the national synthetic dataset")
    parser.add_argument("--workers", type=int, default=2, help="notebooks at once (default 2)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default 0.5)")
    args = parser.parse_args(argv)
    truth = args.data_root / "raw" / "synthetic" / "truth.json"
    if not truth.is_file():
        parser.error(f"--data-root: {truth} not found; write the national data with "
                     "`cqc-research synth --scale national --out DATA_ROOT/raw/synthetic`")
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "CQC_RESEARCH_DATA": str(args.data_root.resolve())}
        t0 = time.perf_counter()
        job = subprocess.Popen([str(CLI), "run", "--workers", str(args.workers), "--quiet",
                                "--output-root", out, "--run-id", "national"], env=env)
        root = psutil.Process(job.pid)
        peak = {"pss": 0, "rss": 0, "top": [], "at": 0.0}
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                pss, rss, top = _sample(root)
                if pss > peak["pss"]:
                    peak.update(pss=pss, top=top, at=time.perf_counter() - t0)
                peak["rss"] = max(peak["rss"], rss)
                stop.wait(args.interval)

        sampler = threading.Thread(target=poll, daemon=True)
        sampler.start()
        status = job.wait()
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
        tables = len(list(Path(out, "national").rglob("tables/*.csv")))
    print(f"national main job: exit {status}, {seconds:.0f} s wall, {tables} tables, {args.workers} workers")
    print(f"peak memory of the process tree: {peak['pss'] / GB:.2f} GB PSS "
          f"(sum of RSS, an upper bound: {peak['rss'] / GB:.2f} GB), at {peak['at']:.0f} s")
    for size, name in peak["top"]:
        print(f"  {size / GB:5.2f} GB  {name}")
    print(f"target (issue 27): under 4 GB -> {'met' if peak['pss'] < 4 * GB else 'NOT met'}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
