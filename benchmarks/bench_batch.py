"""Benchmark: N provider profiles (a) one by one with plain papermill, (b) `batch --workers 2`.

Run from the repository root (it takes several minutes for 100 reports)::

    .venv/bin/python benchmarks/bench_batch.py            # 100 provider profiles
    .venv/bin/python benchmarks/bench_batch.py --n 20     # quicker

It prints, and writes to ``<out>/bench_batch.json``:

- the bare kernel start (start a kernel, wait until it answers), median of a few;
- (a) plain papermill, one report at a time: ``papermill.execute_notebook`` on a fresh kernel per
  report, reading the raw data the notebook is given, plus the same no-code HTML export;
- (b) ``cqc_research.runner.batch.run_batch(..., workers=2)``: data converted to Parquet once, warm
  kernels, the notebook's imports run once per kernel;
- the speed-up (a)/(b) (goal: at least 1.8) and the per-report overhead of (b): its wall time
  per report per worker minus the time spent in the notebook's own cells, compared with the
  bare kernel start (goal: at most 1.5 times), and where (b)'s worker time went.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bare_kernel_start(kernel: str, repeats: int = 5) -> float:
    from cqc_research.runner import KernelSession

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session = KernelSession(kernel).start()
        times.append(time.perf_counter() - t0)
        session.shutdown()
    return statistics.median(times)


def cell_seconds(nb) -> float:
    """Time spent in the notebook's own cells (papermill's per-cell durations)."""
    return sum(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0)
               for c in nb.cells)


def plain_papermill(notebook: Path, entities, params: dict, entity_param: str, out: Path,
                    kernel: str) -> dict:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab", exclude_input=True)
    t0 = time.perf_counter()
    cells = 0.0
    failed = 0
    for key, name in entities:
        folder = out / key.replace("/", "_")
        folder.mkdir(exist_ok=True)
        p = {**params, entity_param: key, "entity_name": name, "output_dir": str(folder)}
        try:
            nb = papermill.execute_notebook(str(notebook), str(folder / "report.ipynb"),
                                            parameters=p, kernel_name=kernel, progress_bar=False,
                                            cwd=str(notebook.parent))
        except papermill.PapermillExecutionError:
            failed += 1
            nb = nbformat.read(folder / "report.ipynb", as_version=4)
        cells += cell_seconds(nb)
        body, _ = exporter.from_notebook_node(nb)
        (folder / "report.html").write_text(body, encoding="utf-8")
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "per_report_s": wall / len(entities), "cell_s": cells / len(entities),
            "failed": failed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="reports (default 100)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--notebook", default=None,
                    help="default: notebooks/profiles/provider_profile.ipynb, or the test notebook")
    ap.add_argument("--data", default=None, help="synthetic dataset folder (default: the embedded one)")
    ap.add_argument("--out", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--kernel", default="python3")
    ap.add_argument("--skip-plain", action="store_true", help="only measure the batch")
    args = ap.parse_args(argv)

    from cqc_research.runner import batch as B
    from cqc_research.runner import notebook_parameters
    from cqc_research.synthetic import ensure_default_data

    notebook = Path(args.notebook) if args.notebook else ROOT / "notebooks" / "profiles" / "provider_profile.ipynb"
    if not notebook.exists():
        notebook = ROOT / "tests" / "notebooks" / "tiny_profile.ipynb"
    data = Path(args.data) if args.data else ensure_default_data()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-batch-"))
    out.mkdir(parents=True, exist_ok=True)
    declared = notebook_parameters(notebook)
    raw = {"ratings_path": str(data / "cqc" / "latest_ratings.ods")}
    if "api_path" in declared:
        raw["api_path"] = str(data / "cqc_api")
    raw = {k: v for k, v in raw.items() if k in declared}
    print(f"notebook {notebook.relative_to(ROOT)}; data {data}; {args.n} provider profiles; "
          f"{os.cpu_count()} cores; scratch {out}", flush=True)

    kernel_s = bare_kernel_start(args.kernel)
    print(f"bare kernel start: {kernel_s:.2f} s (median of 5)", flush=True)

    t0 = time.perf_counter()
    spec, tasks, status, entities = B.plan_batch(notebook, "provider", limit=args.n, parameters=raw,
                                                 output_root=out / "batch", run_id="plan", dry_run=True)
    entity_list = [(t.key, t.name) for t in tasks]
    plan_s = time.perf_counter() - t0

    plain = None
    if not args.skip_plain:
        print(f"(a) plain papermill, one by one, {len(entity_list)} reports ...", flush=True)
        plain = plain_papermill(notebook, entity_list, raw, "provider_id", out / "plain", args.kernel)
        print(f"(a) {plain['wall_s']:.1f} s, {plain['per_report_s']:.2f} s per report "
              f"({plain['cell_s']:.2f} s in the notebook's cells), {plain['failed']} failed", flush=True)

    print(f"(b) batch --workers {args.workers} ...", flush=True)
    t0 = time.perf_counter()
    res = B.run_batch(notebook, "provider", limit=args.n, parameters=raw, workers=args.workers,
                      output_root=out / "batch", run_id="batch", force=True, progress=True)
    batch_wall = time.perf_counter() - t0
    cells = []
    for e in res.entities:
        import nbformat

        nb = nbformat.read(res.run_dir / e["slug"] / "report.ipynb", as_version=4)
        cells.append(cell_seconds(nb))
    cell_s = statistics.mean(cells)
    per_report_worker = batch_wall * args.workers / len(res.entities)
    timings = res.stats.get("worker_timings", {})
    steady = (timings.get("reset", 0) + timings.get("execute", 0) + timings.get("html", 0)) / len(res.entities)
    overhead = per_report_worker - cell_s
    steady_overhead = steady - cell_s
    summary = {
        "notebook": str(notebook.relative_to(ROOT)), "reports": len(res.entities),
        "workers": args.workers, "cores": os.cpu_count(), "bare_kernel_start_s": round(kernel_s, 3),
        "plan_s": round(plan_s, 2),
        "plain": plain, "batch_wall_s": round(batch_wall, 2), "batch_failed": len(res.failed),
        "batch_cell_s": round(cell_s, 3), "batch_per_report_per_worker_s": round(per_report_worker, 3),
        "batch_overhead_per_report_s": round(overhead, 3),
        "batch_steady_overhead_per_report_s": round(steady_overhead, 3),
        "worker_timings_s": timings,
    }
    if plain:
        summary["speedup"] = round(plain["wall_s"] / batch_wall, 2)
    summary["overhead_vs_kernel_start"] = round(overhead / kernel_s, 2)
    summary["steady_overhead_vs_kernel_start"] = round(steady_overhead / kernel_s, 2)
    (out / "bench_batch.json").write_text(json.dumps(summary, indent=2, default=str))

    print()
    print(f"(b) {batch_wall:.1f} s wall for {len(res.entities)} reports, {len(res.failed)} failed; "
          f"{per_report_worker:.2f} s per report per worker, of which {cell_s:.2f} s in the notebook's cells")
    print("    worker time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "starts")
          + f" ({timings.get('starts', 0):.0f} kernel starts)")
    if plain:
        print(f"speed-up (a)/(b): {summary['speedup']:.2f}x   (goal >= 1.8)")
    print(f"per-report overhead of (b): {overhead:.2f} s = {summary['overhead_vs_kernel_start']:.2f}x a bare "
          f"kernel start (goal <= 1.5); steady state {steady_overhead:.2f} s = "
          f"{summary['steady_overhead_vs_kernel_start']:.2f}x")
    print(f"written {out / 'bench_batch.json'}")
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
