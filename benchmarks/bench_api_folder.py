"""Benchmark :func:`cqc_research.io.cqc_json.load_api_folder` on a national API folder.

Two comparisons, each side in a fresh subprocess (so imports and peak memory are its own):

1. **A full load against a plain json loop.** The loop is what any analyst would write first:
   for every record file, ``json.load`` it and flatten its overall and key-question ratings
   (current and historic) into ``org_id, domain, rating`` lists, then one 3-column
   ``pandas.DataFrame``. ``load_api_folder(folder, use_cache=False)`` builds every table of
   :class:`~cqc_research.io.cqc_json.ApiData`. The two alternate (``--repeat`` rounds); wall time
   is measured around each child, peak resident memory (``ru_maxrss``) inside it; the best run of
   each is compared and the median ratio printed too. Target: at most 2.0x the time and 2.0x the
   peak memory.
2. **An incremental load.** On a hard-linked copy of the folder (the records are never
   modified: a changed record is written to a new file that replaces the link, as
   ``cqc-research sync-api`` writes them), a first load fills the cache; then 1% of the record
   files are rewritten with a changed rating and the next load, which reads only those, is timed.
   Target: at most 10% of the full load's time (the time of the ``load_api_folder`` call, in
   both; the figure with interpreter start-up and imports is printed too).

::

    cqc-research synth --scale national --out /tmp/national     # once: 49,495 locations
    python benchmarks/bench_api_folder.py --folder /tmp/national/cqc_api --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


# ---- the children, each run as `python bench_api_folder.py --child NAME FOLDER` ----------------
def _child_json_loop(folder: str):
    import pandas as pd

    org, dom, rat = [], [], []
    for sub in ("locations", "providers"):
        for f in sorted((Path(folder) / sub).glob("*.json")):
            with open(f, encoding="utf-8") as fh:
                rec = json.load(fh)
            oid = rec.get("locationId") or rec.get("providerId")
            overalls = [(rec.get("currentRatings") or {}).get("overall")]
            overalls += [h.get("overall") for h in rec.get("historicRatings") or []]
            for ov in overalls:
                if not ov:
                    continue
                org.append(oid)
                dom.append("Overall")
                rat.append(ov.get("rating"))
                for kq in ov.get("keyQuestionRatings") or []:
                    org.append(oid)
                    dom.append(kq.get("name"))
                    rat.append(kq.get("rating"))
    frame = pd.DataFrame({"org_id": org, "domain": dom, "rating": rat})
    return {"rows": len(frame)}


def _child_load(folder: str, use_cache: bool = False):
    import warnings

    from cqc_research.io.cqc_json import API_TABLES, load_api_folder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        api = load_api_folder(folder, use_cache=use_cache)
        seconds = time.perf_counter() - start
    return {"rows": len(api.history), "call_s": seconds, "how": api.notes[0],
            "tables": {t: len(getattr(api, t)) for t in API_TABLES}}


CHILDREN = {"json_loop": _child_json_loop, "load_api_folder": _child_load,
            "cached": lambda folder: _child_load(folder, use_cache=True)}


def _child(name: str, folder: str) -> None:
    start = time.perf_counter()
    out = CHILDREN[name](folder)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"side": name, "in_process_s": seconds, "peak_kib_self": usage.ru_maxrss,
                      "cpu_s": usage.ru_utime + usage.ru_stime, **out}))


def run_one(name: str, folder: Path, env: dict | None = None) -> dict:
    """Run one side in a fresh interpreter: wall time, CPU time and peak RSS of that child."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", name, str(folder)], check=True,
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    result["peak_mb"] = result["peak_kib_self"] / 1024
    return result


def _change_records(folder: Path, share: float, seed: int) -> int:
    """Rewrite ``share`` of the record files with a changed current rating, each to a new file
    moved over the old name (so a hard-linked original is never touched)."""
    files = sorted(folder.glob("locations/*.json")) + sorted(folder.glob("providers/*.json"))
    chosen = random.Random(seed).sample(files, max(1, round(share * len(files))))
    for f in chosen:
        rec = json.loads(f.read_text(encoding="utf-8"))
        ov = (rec.get("currentRatings") or {}).get("overall")
        if ov:
            ov["rating"] = "Inadequate" if ov.get("rating") != "Inadequate" else "Good"
        rec["name"] = f"{rec.get('name')} (renamed)"
        tmp = f.with_name(f".{f.name}.tmp")
        tmp.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, f)
    return len(chosen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="a CQC API folder (locations/, providers/); "
                        "default: generate the national synthetic one in a temporary folder (minutes)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the full-load comparison")
    parser.add_argument("--share", type=float, default=0.01, help="share of records changed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = args.folder
        if folder is None:
            from cqc_research.synthetic import generate

            folder = generate(tmp / "synthetic", scale="national").paths["api_folder"]
        n_files = len(list(folder.glob("locations/*.json"))) + len(list(folder.glob("providers/*.json")))
        print(f"folder: {folder} ({n_files:,} record files)", flush=True)
        runs = {"json_loop": [], "load_api_folder": []}
        for _ in range(args.repeat):  # interleaved, so that both meet the same machine load
            for name in runs:
                r = run_one(name, folder, env={"CQC_RESEARCH_DATA": str(tmp / "data-unused")})
                runs[name].append(r)
                print(f"  {name:16s} wall {r['wall_s']:6.2f} s  cpu {r['cpu_s']:6.2f} s  "
                      f"peak {r['peak_mb']:6.0f} MB  ({r['rows']:,} rating rows)", flush=True)
        best = {name: min(rs, key=lambda r: r["wall_s"]) for name, rs in runs.items()}
        # the incremental load, on a hard-linked copy with its own cache
        copy = tmp / "copy"
        shutil.copytree(folder, copy, copy_function=os.link)
        env = {"CQC_RESEARCH_DATA": str(tmp / "data")}
        cold = run_one("cached", copy, env)
        n_changed = _change_records(copy, args.share, args.seed)
        inc = run_one("cached", copy, env)
        print(f"  cold load, filling the cache: call {cold['call_s']:6.2f} s  wall {cold['wall_s']:6.2f} s  "
              f"({cold['how']})")
        print(f"  after {n_changed:,} records changed: call {inc['call_s']:6.2f} s  wall {inc['wall_s']:6.2f} s  "
              f"({inc['how']})", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load:.1f} at the end")
    print("| side | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    for name, r in best.items():
        print(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_mb']:.0f} |")
    base, us = best["json_loop"], best["load_api_folder"]
    t_ratio, m_ratio = us["wall_s"] / base["wall_s"], us["peak_mb"] / base["peak_mb"]
    print(f"| ratio load_api_folder / json loop | {t_ratio:.2f} | {us['cpu_s'] / base['cpu_s']:.2f} | "
          f"{m_ratio:.2f} |")
    if args.repeat > 1:
        med = {n: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "peak_mb")}
               for n, rs in runs.items()}
        print(f"| median ratio ({args.repeat} runs each) | "
              f"{med['load_api_folder']['wall_s'] / med['json_loop']['wall_s']:.2f} | "
              f"{med['load_api_folder']['cpu_s'] / med['json_loop']['cpu_s']:.2f} | "
              f"{med['load_api_folder']['peak_mb'] / med['json_loop']['peak_mb']:.2f} |")
    full_call = us["call_s"]
    inc_ratio = inc["call_s"] / full_call
    print(f"time ratio {t_ratio:.2f} (target <= 2.0), memory ratio {m_ratio:.2f} (target <= 2.0)")
    print(f"incremental: {n_changed:,} of {n_files:,} records changed ({args.share:.0%}): "
          f"{inc['call_s']:.2f} s = {inc_ratio:.1%} of a full load's {full_call:.2f} s (target <= 10%); "
          f"with start-up and imports {inc['wall_s']:.2f} s = {inc['wall_s'] / us['wall_s']:.1%} of "
          f"{us['wall_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
