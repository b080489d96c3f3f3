"""Benchmark: the README's main job (every notebook, two workers) warm, against fresh kernels.

Run from the repository root::

    .venv/bin/python benchmarks/bench_main_job.py              # 3 rounds of each
    .venv/bin/python benchmarks/bench_main_job.py --rounds 5

``cqc-research run --workers 2`` on the embedded synthetic data, run first once to write the
dataset and fill the caches (not counted), then alternately (so both meet the same load):

- **warm kernels** (the default): one kernel per worker, kept from notebook to notebook and reset
  between them, the imports of every notebook run once per worker; the longest notebooks of the
  last run start first;
- **fresh kernels** (``--fresh-kernels``): a new kernel for every notebook, as before.

Each run is a separate ``cqc-research run`` process, timed from outside. It prints every run, the
medians, their ratio, the load average, and checks that the two kinds of run wrote the same
tables. Target (issue 27): the warm main job in at most 25 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "cqc-research"


def run(out: Path, run_id: str, *extra: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([str(CLI), "run", "--workers", "2", "--quiet", "--output-root", str(out),
                           "--run-id", run_id, *extra], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{run_id} failed:\n{done.stdout}\n{done.stderr}")
    return wall


def same_tables(a: Path, b: Path) -> bool:
    ours = sorted(p.relative_to(a) for p in a.glob("tables/*.csv"))
    if ours != sorted(p.relative_to(b) for p in b.glob("tables/*.csv")):
        return False
    for rel in ours:
        try:
            pd.testing.assert_frame_equal(pd.read_csv(a / rel), pd.read_csv(b / rel))
        except AssertionError:
            print(f"differs: {rel}")
            return False
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="bench-main-job-"))
    print(f"load average {os.getloadavg()[0]:.1f}; warming up (dataset, caches)")
    run(out, "warmup")
    warm, fresh = [], []
    for i in range(args.rounds):
        warm.append(run(out, f"warm-{i}"))
        fresh.append(run(out, f"fresh-{i}", "--fresh-kernels"))
        print(f"round {i + 1}: warm kernels {warm[-1]:.1f} s, fresh kernels {fresh[-1]:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f})")
    mw, mf = statistics.median(warm), statistics.median(fresh)
    print(f"median: warm kernels {mw:.1f} s, fresh kernels {mf:.1f} s; ratio {mw / mf:.2f}")
    print(f"target: warm main job <= 25 s: {'met' if mw <= 25 else 'NOT met'}")
    equal = same_tables(out / "warm-0", out / "fresh-0")
    print(f"tables of the two kinds of run equal: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
