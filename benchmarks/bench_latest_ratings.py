"""Benchmark the whole tidy Latest ratings load against python-calamine's bare read of the workbook.

Target (issue 14): :func:`cqc_research.io.cqc_files.load_latest_ratings` (both sheets read,
header found below the notice block, columns mapped, ratings, domains, dates and yes/no parsed,
typed tidy table with categoricals, duplicate check; the Parquet cache off) takes at most half
of the wall time of python-calamine merely reading the same two sheets into Python lists, and at
most a third of its peak memory.

The workbook is the one ``bench_ods.py`` writes (a 280,000-row ``Locations`` sheet of 28 columns
and a 28,000-row ``Providers`` sheet of 21 columns, each with a notice block, merged repeated
cells, day-first date display text and the final row repeated to the million-row limit), or
any workbook given with ``--path``. Each side runs in a fresh subprocess, so its figures include
starting Python and its imports (pandas and pyarrow for the load; calamine's bare read imports
neither), and its peak resident memory (``ru_maxrss``) is its own. The two alternate
(``--repeat`` rounds) so that both meet the same load on a shared machine; the best run of each
is compared, and the median ratio printed too::

    python benchmarks/bench_latest_ratings.py --repeat 3
    python benchmarks/bench_latest_ratings.py --rows 50000
    python benchmarks/bench_latest_ratings.py --path data/raw/ratings/latest.ods
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_ods beside this file

SHEETS = ("Locations", "Providers")


def _child_calamine(path: str) -> int:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(path)
    rows = [book.get_sheet_by_name(sheet).to_python() for sheet in SHEETS
            if sheet in book.sheet_names]
    return sum(len(r) for r in rows)


def _child_load(path: str) -> int:
    from cqc_research.io.cqc_files import load_latest_ratings

    return len(load_latest_ratings(path, use_cache=False))


SIDES = {"calamine": _child_calamine, "load": _child_load}


def _child(name: str, path: str) -> None:
    start = time.perf_counter()
    rows = SIDES[name](path)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"side": name, "in_process_s": seconds, "rows": rows,
                      "peak_mb": usage.ru_maxrss / 1024,
                      "cpu_s": usage.ru_utime + usage.ru_stime}))


def run_one(name: str, path: Path) -> dict:
    """Run one side in a fresh interpreter: wall time around it, CPU and peak RSS inside it."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=280_000, help="rows of the Locations sheet")
    parser.add_argument("--path", type=Path, help="an existing workbook instead of a generated one")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side (best is kept)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path
        if path is None:
            from bench_ods import make_workbook

            path = Path(tmp) / "latest_ratings.ods"
            start = time.perf_counter()
            make_workbook(path, args.rows, seed=args.seed)
            print(f"wrote {path.name}: {args.rows:,} + {args.rows // 10:,} rows, "
                  f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.0f} s",
                  flush=True)
        loads = [_load()]
        runs = {name: [] for name in SIDES}
        for _ in range(args.repeat):  # interleaved, so that both meet the same machine load
            for name in SIDES:
                r = run_one(name, path)
                runs[name].append(r)
                loads.append(_load())
                print(f"  {name:9s} wall {r['wall_s']:6.2f} s  cpu {r['cpu_s']:6.2f} s  "
                      f"peak {r['peak_mb']:7.0f} MB  ({r['rows']:,} rows)  "
                      f"load average {loads[-1]:.1f}", flush=True)
    best = {name: min(rs, key=lambda r: r["wall_s"]) for name, rs in runs.items()}
    cal, ours = best["calamine"], best["load"]
    print()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average "
          f"(1 min) {min(loads):.1f} to {max(loads):.1f} during the run")
    print("| side | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    print(f"| python-calamine, bare read of both sheets | {cal['wall_s']:.2f} | {cal['cpu_s']:.2f} | "
          f"{cal['peak_mb']:.0f} |")
    print(f"| load_latest_ratings, tidy typed table | {ours['wall_s']:.2f} | {ours['cpu_s']:.2f} | "
          f"{ours['peak_mb']:.0f} |")
    from bench_ods import print_ratios

    print_ratios(best, runs, ours="load", label="ratio load / calamine", repeat=args.repeat,
                 memory="peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
