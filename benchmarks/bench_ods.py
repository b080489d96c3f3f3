"""Benchmark :func:`cqc_research.io.ods.read_ods` against python-calamine on a CQC-sized sheet.

The file is what a monthly CQC "Latest ratings" workbook looks like: a ``Locations`` sheet of
28 columns (280,000 rows by default) with realistic values, a notice block above the header,
adjacent equal cells merged by ``table:number-columns-repeated``, dates with day-first display
text, and the final empty row repeated to the sheet's million-row limit. It is written with
:func:`cqc_research.synthetic._ods_writer.write_ods` into a temporary folder (or pass ``--path``).

Each reader runs in a fresh subprocess (calamine, then read_ods, repeated ``--repeat`` times,
interleaved so that both meet the same load on a shared machine), so wall and CPU time include
starting Python and importing pandas, as a user pays them, and the peak resident memory
(``ru_maxrss`` of the child) is that reader's alone. The best run of each is compared::

    python benchmarks/bench_ods.py                 # 280,000 rows, 1 run each
    python benchmarks/bench_ods.py --rows 50000 --repeat 3
    python benchmarks/bench_ods.py --path latest_ratings.ods --sheet Locations

The calamine reader is used the way a user would: ``CalamineWorkbook.from_path(p)
.get_sheet_by_name(sheet).to_python()``, the header found as the first full-width row, and a
``pandas.DataFrame`` built from the rows below it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cqc_research.synthetic import (  # the published 28- and 21-column layouts
    LOCATION_COLUMNS,
    PROVIDER_COLUMNS,
)

NOTICE = [
    "Care Quality Commission: latest ratings for locations and providers.",
    "Ratings for providers & locations registered with CQC; see the 'Notes' for <definitions>.",
]

_DOMAINS = ["Overall", "Safe", "Effective", "Caring", "Responsive", "Well-led"]
_RATINGS = ["Good"] * 14 + ["Requires improvement"] * 4 + ["Outstanding", "Inadequate"]
_KINDS = [  # (location type, inspection category, care home?, service groups)
    ("Social Care Org", "Residential social care", "Y", ["Overall"]),
    ("Social Care Org", "Community based adult social care services", "N", ["Overall"]),
    ("Primary Medical Services", "GP Practices", "N",
     ["Overall", "People with long term conditions", "Families, children and young people",
      "Older people", "Working age people (including those recently retired and students)",
      "People whose circumstances may make them vulnerable",
      "People experiencing poor mental health (including people with dementia)"]),
    ("NHS Healthcare Organisation", "Acute hospital - NHS non-specialist", "N",
     ["Overall", "Urgent and emergency services", "Medical care (including older people's care)",
      "Surgery", "Maternity", "Services for children & young people", "End of life care",
      "Outpatients"]),
    ("Independent Healthcare Org", "Independent consulting doctors", "N", ["Overall"]),
    ("Primary Dental Care", "Dentists", "N", ["Overall"]),
]
_REGIONS = [
    ("London", "London", "Camden", "Islington", "Hackney", "Westminster"),
    ("North West", "North West", "Oldham", "Manchester", "Bolton", "Wigan"),
    ("South East", "South East", "Kent", "Surrey", "Brighton and Hove", "Oxfordshire"),
    ("Yorkshire and The Humber", "North East and Yorkshire", "Leeds", "Bradford", "Sheffield",
     "York"),
]
_STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane",
            "Green Lane", "Manor Road", "Park Avenue", "Queen's Road", "St. John's Close"]
_NAMES = ["Oakwood", "Meadow View", "St. Anne's", "Riverside", "The Willows", "Ashgrove",
          "Beech House", "Hollybank", "Cedar Lodge", "Primrose", "Brookfield", "Château Vert"]
_SUFFIX = ["Care Home", "Surgery", "Medical Centre", "Dental Practice", "Nursing Home",
           "Homecare Ltd", "Hospital", "Health Centre"]


def location_rows(n_rows: int, *, seed: int = 1):
    """Yield ``n_rows`` realistic rows of the Locations sheet (28 values each).

    One location contributes one row per (service group, domain), as in the published file;
    values are strings except ``Publication Date`` (a date). Some addresses hold ``&``, ``<``,
    quotes and non-ASCII letters; a few cells are empty; the two CCG code columns are usually
    equal, so the writer merges them with ``table:number-columns-repeated``.
    """
    rng = random.Random(seed)
    produced = 0
    loc = 0
    while produced < n_rows:
        loc += 1
        kind, category, care_home, groups = _KINDS[rng.randrange(len(_KINDS))]
        region, nhs_region, *las = _REGIONS[rng.randrange(len(_REGIONS))]
        la = rng.choice(las)
        name = f"{rng.choice(_NAMES)} {rng.choice(_SUFFIX)}"
        if rng.random() < 0.05:
            name = name.replace(" ", " & ", 1)
        ccg = f"{rng.randrange(1, 99):02d}{'ABCDEFGHJ'[rng.randrange(9)]}"
        commissioning = ccg if rng.random() < 0.9 else f"{rng.randrange(1, 99):02d}X"
        ccg_name = f"NHS {la} CCG"
        provider = f"1-{rng.randrange(10**8, 10**9)}"
        brand = rng.random() < 0.2
        street = f"{rng.randrange(1, 400)} {rng.choice(_STREETS)}"
        line2 = rng.choice(["", "", "", "Unit 3 <rear>", "Flat \"A\"", "Bâtiment 2"])
        date = dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(3650))
        report = rng.choice(["Location", "Location", "Provider"])
        base = rng.choice(_RATINGS)
        common = [
            f"1-{100000000 + loc}", f"V{loc:05d}" if category != "GP Practices" else f"Y{loc:05d}",
            name, care_home, kind, category, street, line2 or None, la,
            f"{la[:2].upper()}{rng.randrange(1, 20)} {rng.randrange(1, 9)}{'ABDEFGHJ'[loc % 8]}"
            f"{'LNPQRSTU'[loc % 8]}", la, region, nhs_region, ccg, ccg_name, commissioning,
            ccg_name,
        ]
        for group in groups:
            for domain in _DOMAINS:
                if produced >= n_rows:
                    return
                rating = base if rng.random() < 0.75 else rng.choice(_RATINGS)
                yield common + [
                    group, domain, rating, date, report, rng.choice(["Y", "N", "N", "N"]),
                    f"https://www.cqc.org.uk/location/1-{100000000 + loc}",
                    provider, f"{rng.choice(_NAMES)} Group Ltd",
                    f"BD{rng.randrange(100, 999)}" if brand else None,
                    f"BRAND {rng.choice(_NAMES)}" if brand else None,
                ]
                produced += 1


def provider_rows(n_rows: int, *, seed: int = 2):
    """Yield ``n_rows`` realistic rows of the Providers sheet (21 values each): one row per
    provider and domain, as in the published file."""
    rng = random.Random(seed)
    produced = 0
    k = 0
    while produced < n_rows:
        k += 1
        region, nhs_region, *las = _REGIONS[rng.randrange(len(_REGIONS))]
        la = rng.choice(las)
        kind, category, _, _ = _KINDS[rng.randrange(len(_KINDS))]
        name = f"{rng.choice(_NAMES)} {rng.choice(['Group', 'Care', 'Health'])} Ltd"
        brand = rng.random() < 0.2
        date = dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(3650))
        base = rng.choice(_RATINGS)
        common = [f"1-{200000000 + k}", f"R{k:04d}" if kind.startswith("NHS") else None, name,
                  kind, category, f"{rng.randrange(1, 400)} {rng.choice(_STREETS)}", None, la,
                  f"{la[:2].upper()}{rng.randrange(1, 20)} {rng.randrange(1, 9)}AB", la, region,
                  nhs_region]
        for domain in _DOMAINS:
            if produced >= n_rows:
                return
            rating = base if rng.random() < 0.75 else rng.choice(_RATINGS)
            yield common + ["Overall", domain, rating, date, "Provider", "N",
                            f"https://www.cqc.org.uk/provider/1-{200000000 + k}",
                            f"BD{rng.randrange(100, 999)}" if brand else None,
                            f"BRAND {rng.choice(_NAMES)}" if brand else None]
            produced += 1


def make_workbook(path: Path, n_rows: int, *, seed: int = 1,
                  provider_rows_count: int | None = None) -> Path:
    """Write a CQC-like workbook: Locations (``n_rows`` rows) and Providers (a tenth as many
    rows by default), each with the notice block above its header, as the monthly file has."""
    from cqc_research.synthetic._ods_writer import write_ods

    n_providers = n_rows // 10 if provider_rows_count is None else provider_rows_count
    return write_ods(
        path,
        {
            "Locations": (LOCATION_COLUMNS, location_rows(n_rows, seed=seed)),
            "Providers": (PROVIDER_COLUMNS, provider_rows(n_providers, seed=seed + 1)),
        },
        notice={"Locations": NOTICE, "Providers": NOTICE},
    )


_INDENTS = [(b"<table:table-row", b"\n    "), (b"</table:table-row>", b"\n    "),
            (b"<table:table-cell", b"\n      "), (b"<table:covered-table-cell", b"\n      "),
            (b"</table:table-cell>", b"\n      "), (b"<text:p>", b"\n        ")]


def pretty_print(source: Path, target: Path) -> Path:
    """Copy a workbook with white space (a newline and indentation) before every row, cell and
    paragraph tag of ``content.xml``, as XML pretty-printers write it.

    Streams: the XML is never held whole. White space is only put where it is not content
    (never inside a paragraph), so the cells read the same.
    """
    import zipfile

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            if info.filename != "content.xml":
                zout.writestr(info, zin.read(info), compress_type=info.compress_type)
                continue
            out = zipfile.ZipInfo("content.xml", date_time=info.date_time)
            out.compress_type = zipfile.ZIP_DEFLATED
            with zin.open(info) as src, zout.open(out, "w", force_zip64=True) as dst:
                carry = b""
                while block := src.read(1 << 22):
                    block = carry + block
                    cut = block.rfind(b">") + 1  # never split a tag between two blocks
                    block, carry = block[:cut], block[cut:]
                    for tag, space in _INDENTS:
                        block = block.replace(tag, space + tag)
                    dst.write(block)
                dst.write(carry)
    return target


def libreoffice_copy(source: Path, folder: Path) -> Path:
    """``source`` re-saved by LibreOffice (``soffice --headless --convert-to ods``), in a
    profile of its own."""
    import shutil

    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise SystemExit("LibreOffice is not installed: apt-get install libreoffice-calc-nogui")
    out = folder / "libreoffice"
    profile = folder / "lo-profile"
    subprocess.run([exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--convert-to", "ods", "--outdir", str(out), str(source)], check=True,
                   capture_output=True)
    return out / source.name


def _xml_size(path: Path) -> int:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.getinfo("content.xml").file_size


# ---- the readers, each run as `python bench_ods.py --child NAME PATH SHEET` ------------------

def _child_calamine(path: str, sheet: str):
    import pandas as pd
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(path).get_sheet_by_name(sheet).to_python()
    # the way a user would: find the header (first full-width row), build the frame
    width = max(len(r) for r in rows)
    start = next(i for i, r in enumerate(rows) if sum(v != "" for v in r) == width)
    frame = pd.DataFrame(rows[start + 1:], columns=rows[start])
    return frame


def _child_read_ods(path: str, sheet: str):
    from cqc_research.io.ods import read_ods

    return read_ods(path, sheet, engine="fast")  # raises rather than use the slow reader


READERS = {"calamine": _child_calamine, "read_ods": _child_read_ods}


def _child(name: str, path: str, sheet: str) -> None:
    start = time.perf_counter()
    frame = READERS[name](path, sheet)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"reader": name, "in_process_s": seconds, "rows": len(frame),
                      "columns": frame.shape[1], "peak_kib_self": usage.ru_maxrss,
                      "cpu_s": usage.ru_utime + usage.ru_stime}))


def run_one(name: str, path: Path, sheet: str) -> dict:
    """Run one reader in a fresh interpreter; wall time and peak RSS of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", name, str(path), sheet],
                         check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = json.loads(out.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["wall_s"] = wall
    # RUSAGE_CHILDREN is the max over all children so far; the child's own figure is exact
    result["peak_mb"] = result["peak_kib_self"] / 1024
    result["children_max_mb"] = max(before, after) / 1024
    return result


def print_ratios(best: dict, runs: dict, *, ours: str, label: str, repeat: int,
                 memory: str = "memory") -> bool:
    """Print the ratio rows (best run, and the median over ``repeat`` runs) and the target line.

    Parameters
    ----------
    best : dict
        Side name -> its best run (``wall_s``, ``cpu_s``, ``peak_mb``).
    runs : dict
        Side name -> every run of it.
    ours : str
        The side compared with ``"calamine"``.
    label : str
        The ratio row's label.
    repeat : int
        Runs per side (the median row is printed when above 1).
    memory : str
        How the target line names memory.

    Returns
    -------
    bool
        Whether the target (at most 1/2 the wall time, 1/3 the peak memory) is met.
    """
    import statistics

    cal, us = best["calamine"], best[ours]
    print(f"| {label} | {us['wall_s'] / cal['wall_s']:.2f} | "
          f"{us['cpu_s'] / cal['cpu_s']:.2f} | {us['peak_mb'] / cal['peak_mb']:.2f} |")
    if repeat > 1:
        med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "peak_mb")}
               for name, rs in runs.items()}
        print(f"| median ratio ({repeat} runs each) | "
              f"{med[ours]['wall_s'] / med['calamine']['wall_s']:.2f} | "
              f"{med[ours]['cpu_s'] / med['calamine']['cpu_s']:.2f} | "
              f"{med[ours]['peak_mb'] / med['calamine']['peak_mb']:.2f} |")
    ok = us["wall_s"] <= cal["wall_s"] / 2 and us["peak_mb"] <= cal["peak_mb"] / 3
    print(f"target (<= 1/2 wall, <= 1/3 {memory}): {'met' if ok else 'NOT met'}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=280_000, help="rows of the Locations sheet")
    parser.add_argument("--path", type=Path, help="an existing workbook instead of a generated one")
    parser.add_argument("--sheet", default="Locations")
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader (best is kept)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variant", choices=["ours", "libreoffice", "pretty"], default="ours",
                        help="read the generated workbook as written, re-saved by LibreOffice "
                        "(soffice --convert-to ods), or pretty-printed (calamine cannot read "
                        "that one, so it reads the compact original)")
    parser.add_argument("--child", nargs=3, metavar=("READER", "PATH", "SHEET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path
        if path is None:
            path = Path(tmp) / "latest_ratings.ods"
            start = time.perf_counter()
            make_workbook(path, args.rows, seed=args.seed)
            print(f"wrote {path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB "
                  f"in {time.perf_counter() - start:.0f} s", flush=True)
        paths = {name: path for name in READERS}
        if args.variant != "ours":
            start = time.perf_counter()
            derived = (libreoffice_copy(path, Path(tmp)) if args.variant == "libreoffice"
                       else pretty_print(path, Path(tmp) / f"pretty-{path.name}"))
            paths = {"calamine": derived if args.variant == "libreoffice" else path,
                     "read_ods": derived}
            print(f"{args.variant}: {derived.name}, content.xml {_xml_size(derived) / 1e6:.0f} MB "
                  f"(the original's {_xml_size(path) / 1e6:.0f} MB), in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        runs = {name: [] for name in READERS}
        for _ in range(args.repeat):  # interleaved, so that both meet the same machine load
            for name in READERS:
                r = run_one(name, paths[name], args.sheet)
                runs[name].append(r)
                print(f"  {name:9s} wall {r['wall_s']:6.2f} s  cpu {r['cpu_s']:6.2f} s  "
                      f"peak {r['peak_mb']:7.0f} MB  ({r['rows']:,} rows x {r['columns']} "
                      "columns)", flush=True)
        # the best run of each: the least disturbed by other work on the machine
        results = {name: min(rs, key=lambda r: r["wall_s"]) for name, rs in runs.items()}
    print()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {load:.1f} at the end")
    print("| reader | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_mb']:.0f} |")
    print_ratios(results, runs, ours="read_ods", label="ratio read_ods / calamine", repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
