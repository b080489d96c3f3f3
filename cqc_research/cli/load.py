"""Loaders for every supported file, and one entry point that picks the right one.

``cqc-research load FILE`` loads a file through :func:`cqc_research.load`, prints a summary (or,
with ``--explain``, how it was read) and writes the tidy tables as Parquet.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from .. import paths
from ..cache import atomic_path
from ..errors import CQCResearchError, DataFormatError, SkippedFileWarning
from ..io import detect_kind, explain, load
from ..io.cqc_files import sheet_names
from ..ratings import UnknownRatingWarning


def configure_parser(parser) -> None:
    """Add the arguments of ``cqc-research load FILE`` (``--out``, ``--strict``, ``--explain``)."""
    parser.add_argument("path", metavar="FILE", help="a CQC or NHS file, or a CQC API folder")
    parser.add_argument("--out", metavar="PARQUET", default=None,
                        help="where to write the tidy table (default: data/processed/<name>.parquet)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at a rating value that is neither on the scale nor a known status "
                             "(by default it is kept as 'Unknown', counted and warned about), and, "
                             "in a folder, at the first file that cannot be read (by default it is "
                             "set aside, named in a warning and in --explain, and the rest loads)")
    parser.add_argument("--keep-unknown", action="store_true",
                        help="(the default now; kept so that old scripts still run)")
    parser.add_argument("--explain", action="store_true",
                        help="print how the file was read: kind and layout, header row, each column's "
                             "role, rows dropped and why, values read as missing, totals checked")


def _summary(frame: pd.DataFrame) -> list[str]:
    lines = [f"rows: {len(frame):,}   columns: {len(frame.columns)}"]
    lines.append("columns: " + ", ".join(map(str, frame.columns)))
    for col in ("publication_date", "report_date", "period_start"):
        if col in frame and frame[col].notna().any():
            lines.append(f"{col}: {frame[col].min():%Y-%m-%d} to {frame[col].max():%Y-%m-%d}")
    if "rating" in frame:
        counts = frame["rating"].value_counts(sort=False)
        lines.append("ratings: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if "rating_status" in frame:
        other = frame["rating_status"].value_counts()
        other = other[(other.index != "Rated") & (other > 0)]
        if len(other):
            lines.append("not on the scale: " + ", ".join(f"{k} {v:,}" for k, v in other.items()))
    if "measure" in frame:
        lines.append("measures: " + ", ".join(sorted(map(str, frame["measure"].unique()))[:12]))
    return lines


def run_command(args) -> int:
    """Run ``cqc-research load FILE``: load, print a summary, write the tables as Parquet."""
    path = Path(args.path)
    try:
        kind = detect_kind(path)
        kwargs = {"strict": True} if getattr(args, "strict", False) else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownRatingWarning)
            warnings.simplefilter("always", SkippedFileWarning)
            if getattr(args, "explain", False):
                result, reports = explain(path, **kwargs)
            else:
                result, reports = load(path, **kwargs), []
    except DataFormatError as exc:  # the hint names command-line flags, not Python arguments
        raise CQCResearchError(exc.for_command_line()) from None
    for w in caught:
        if issubclass(w.category, UnknownRatingWarning):
            print(f"warning: {w.message} (--strict makes this an error)")
        elif issubclass(w.category, SkippedFileWarning):
            print(f"warning: {str(w.message).replace('strict=True', '--strict')}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"{path}: {kind}")
    for rep in reports:
        print(rep)
        print()
    if kind in {"latest_ratings", "active_locations"}:
        try:
            print("sheets: " + ", ".join(sheet_names(path)))
        except DataFormatError:
            pass
    frames = {"": result} if isinstance(result, pd.DataFrame) else {
        name: getattr(result, name) for name in ("locations", "providers", "ratings", "history",
                                                 "service_ratings", "relationships", "assessments",
                                                 "scores") if hasattr(result, name)}
    out_base = Path(args.out) if args.out else paths.processed_dir() / path.stem
    for name, frame in frames.items():
        if name:
            print(f"[{name}]")
        for line in _summary(frame):
            print("  " + line)
        target = out_base.with_suffix(".parquet") if not name else out_base.with_name(f"{out_base.stem}-{name}.parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False)
        print(f"  wrote {target}")
    if getattr(result, "attrs", {}).get("synthetic") or getattr(result, "synthetic", False):
        print("note: this is SYNTHETIC DATA written by `cqc-research synth`")
    return 0
