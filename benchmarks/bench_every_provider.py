"""Benchmark: one report per provider in England, projected from a measured sample (issue 27).

Run from the repository root (national synthetic data is written first if ``--data`` is not
given; that takes about a minute)::

    .venv/bin/python benchmarks/bench_every_provider.py                 # 40 providers
    .venv/bin/python benchmarks/bench_every_provider.py --sample 20 --data /tmp/national

What it measures, on the national-scale synthetic data (about 50,000 locations and the
providers that run them, written in the published formats):

1. a batch of one provider with cold caches (it loads the ratings and the API folder and
   writes them as Parquet), then the provider-profile batch
   (``notebooks/profiles/provider_profile.ipynb``) on a sample of providers spread evenly over
   the sorted provider list, with the local executor (``batch --workers N``): its wall time
   and the mean time of one report;
2. the same sample on a local Dask cluster whose scheduler and workers are separate processes
   (``dask scheduler`` and ``dask worker --nthreads 1``, on loopback), as on a real cluster;
3. the memory ceiling: the peak of the summed resident memory of every process of the run (the
   batch, its workers and their kernels; or the scheduler, the Dask workers and their
   kernels), sampled every 0.2 s;
4. the projection for every provider: the batch's fixed cost (its wall time less the reports'
   own time, which the batch records) + providers x a report's time / workers.

It prints a table and writes ``<out>/bench_every_provider.json``. Wall times move with the
machine's load: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NOTEBOOK = ROOT / "notebooks" / "profiles" / "provider_profile.ipynb"


class PeakMemory:
    """Peak summed RSS (bytes) of a process tree, sampled in a thread."""

    def __init__(self, roots):
        import psutil

        self._psutil = psutil
        self.roots = [psutil.Process(p) if isinstance(p, int) else p for p in roots]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total, seen = 0, set()
        for root in self.roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except self._psutil.Error:
                continue
            for p in procs:
                if p.pid in seen:
                    continue
                seen.add(p.pid)
                try:
                    total += p.memory_info().rss
                except self._psutil.Error:
                    pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def national_data(folder: Path | None) -> Path:
    from cqc_research.synthetic import generate

    if folder is not None and (folder / "truth.json").is_file():
        return folder
    folder = folder or Path(tempfile.mkdtemp(prefix="cqc-national-")) / "synthetic"
    t0 = time.perf_counter()
    generate(folder, scale="national", progress=False)
    print(f"wrote national synthetic data to {folder} in {time.perf_counter() - t0:.0f} s")
    return folder


def sample_providers(ratings_path: Path, n: int) -> tuple[list[str], int]:
    from cqc_research.io.cqc_files import load_latest_ratings
    from cqc_research.runner.batch import entity_table

    ids = list(entity_table(load_latest_ratings(ratings_path), "provider")["id"])
    step = max(1, len(ids) // n)
    return ids[::step][:n], len(ids)


def local_batch(params: dict, ids: list[str], out: Path, workers: int, run_id: str) -> dict:
    import psutil

    from cqc_research.runner.batch import run_batch

    where = f"id in {ids!r}"
    with PeakMemory([psutil.Process(os.getpid())]) as mem:
        t0 = time.perf_counter()
        res = run_batch(NOTEBOOK, "provider", where=where, parameters=params, workers=workers,
                        output_root=out, run_id=run_id, force=True, progress=False)
        wall = time.perf_counter() - t0
    ok = sum(e["status"] == "ok" for e in res.entities)
    return {"reports": len(res.entities), "ok": ok, "wall_s": wall, "peak_rss_mb": mem.peak / 2**20,
            "mean_report_s": res.stats.get("mean_report_seconds")}


def dask_batch(params: dict, ids: list[str], out: Path, workers: int) -> dict:
    from cqc_research.runner.batch import run_batch

    bin_dir = Path(sys.executable).parent
    tmp = Path(tempfile.mkdtemp(prefix="cqc-dask-"))
    sched_file = tmp / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        for _ in range(300):
            if sched_file.is_file() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--no-dashboard", "--memory-limit", "0", "--local-directory", str(tmp)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(ROOT)))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        with PeakMemory([p.pid for p in procs] + [os.getpid()]) as mem:
            t0 = time.perf_counter()
            res = run_batch(NOTEBOOK, "provider", where=f"id in {ids!r}", parameters=params,
                            output_root=out, run_id="dask", executor="dask", scheduler=address,
                            force=True, progress=False)
            wall = time.perf_counter() - t0
        ok = sum(e["status"] == "ok" for e in res.entities)
        return {"reports": len(res.entities), "ok": ok, "wall_s": wall,
                "peak_rss_mb": mem.peak / 2**20, "address": address}
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a national synthetic dataset (written if absent)")
    ap.add_argument("--sample", type=int, default=40, help="providers to run (default 40)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="where reports and the JSON go")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask cluster run")
    args = ap.parse_args(argv)

    data = national_data(args.data)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-every-provider-"))
    out.mkdir(parents=True, exist_ok=True)
    ratings = data / "cqc" / "latest_ratings.ods"
    params = {"ratings_path": str(ratings), "api_path": str(data / "cqc_api")}
    ids, n_providers = sample_providers(ratings, args.sample)
    print(f"{n_providers:,} providers; sample of {len(ids)}; {args.workers} workers; "
          f"load average {os.getloadavg()[0]:.1f}")

    cold = local_batch(params, ids[:1], out, 1, "cold")  # fills the Parquet caches once
    local = local_batch(params, ids, out, args.workers, "local")
    # a report's own time (papermill on a warm kernel, HTML) from the batch's own record; the rest
    # of the wall time is the batch's fixed cost (loading the cached tables, starting workers)
    per_report = float(local["mean_report_s"] or 0.0)
    fixed = max(local["wall_s"] - len(ids) * per_report / args.workers, 0.0)
    projected = fixed + n_providers * per_report / args.workers
    result = {"providers": n_providers, "sample": len(ids), "workers": args.workers,
              "load_average": os.getloadavg(), "cold_one_provider": cold, "local": local,
              "seconds_per_report": per_report, "fixed_seconds": fixed,
              "projected_every_provider_s": projected}
    if not args.no_dask:
        result["dask"] = dask_batch(params, ids, out, args.workers)
    (out / "bench_every_provider.json").write_text(json.dumps(result, indent=2, default=str))

    print(f"{'run':<34}{'reports':>8}{'ok':>6}{'wall (s)':>10}{'peak RSS (MB)':>15}")
    rows = [("one provider, cold caches", cold), (f"local, {args.workers} workers", local)]
    if "dask" in result:
        rows.append((f"Dask cluster, {args.workers} workers", result["dask"]))
    for label, r in rows:
        print(f"{label:<34}{r['reports']:>8}{r['ok']:>6}{r['wall_s']:>10.1f}{r['peak_rss_mb']:>15.0f}")
    print(f"a report: {per_report:.2f} s on one worker; fixed cost of a batch: {fixed:.1f} s")
    print(f"projected, every provider ({n_providers:,}): {projected / 3600:.1f} h "
          f"({projected:,.0f} s) on {args.workers} cores")
    print(f"written: {out / 'bench_every_provider.json'}")
    return 0 if local["ok"] == local["reports"] else 1


if __name__ == "__main__":
    sys.exit(main())
