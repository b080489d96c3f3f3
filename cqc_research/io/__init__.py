"""Loaders for every supported file, and one entry point that picks the right one.

``cqc_research.load(path)`` (or ``cqc-research load FILE``) detects what a file is:

========================================  ==========================================
what                                      loader
========================================  ==========================================
a folder with ``locations/*.json``        :func:`cqc_json.load_api_folder`
one API record ``.json``                  :func:`cqc_json.load_api_record`
Latest ratings (ODS, XLSX, CSV)           :func:`cqc_files.load_latest_ratings`
HSCA active locations (ODS, XLSX)         :func:`cqc_files.load_active_locations`
CQC care directory CSV                    :func:`cqc_files.load_care_directory`
NHS indicator files (CSV)                 :func:`nhs.load_indicators`
========================================  ==========================================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataFormatError

__all__ = ["load", "detect_kind", "configure_parser", "run_command"]


def _norm(text) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


def _head_text(path: Path, n: int = 8192) -> str:
    with open(path, "rb") as f:
        raw = f.read(n)
    return raw.decode("utf-8-sig", errors="replace")


def detect_kind(path) -> str:
    """What a file (or folder) is: ``api_folder``, ``api_record``, ``latest_ratings``,
    ``active_locations``, ``care_directory`` or ``indicators``.

    Raises
    ------
    DataFormatError
        When the file matches none of them; the message says what was looked for.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "locations").is_dir() or (path / "providers").is_dir():
            return "api_folder"
        from .nhs import detect_indicator_kind

        if detect_indicator_kind(path) == "ae_monthly":
            return "indicators"
        raise DataFormatError("a folder must hold locations/*.json (a CQC API sync) or monthly "
                              "A&E files (.csv, .xls, .xlsx)", path=path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "api_record"
    if suffix in {".xls", ".xlsx", ".xlsm"}:
        from .nhs.ae_grid import is_ae_workbook

        if is_ae_workbook(path):
            return "indicators"
    from .cqc_files import _kind, sheet_names

    kind = _kind(path)
    if kind in {"ods", "xlsx"}:
        names = sheet_names(path)
        if "Locations" in names or "Providers" in names:
            return "latest_ratings"
        return "active_locations"
    head = _norm(_head_text(path))
    if "latest rating" in head and ("location id" in head or "provider id" in head):
        return "latest_ratings"
    if "cqc location id" in head:
        return "care_directory"
    if "location hsca start date" in head:
        return "active_locations"
    return "indicators"


def load(path, **kwargs):
    """Load any supported file or folder; see the table in :mod:`cqc_research.io`.

    Parameters
    ----------
    path : path
        A file or a CQC API folder.
    **kwargs
        Passed to the chosen loader (e.g. ``unknown="keep"``).

    Returns
    -------
    DataFrame or ApiData
        ``frame.attrs["kind"]`` names what was loaded.
    """
    kind = detect_kind(path)
    if kind == "api_folder":
        from .cqc_json import load_api_folder

        return load_api_folder(path, **kwargs)
    if kind == "api_record":
        from .cqc_json import load_api_record

        return load_api_record(path, **kwargs)
    from . import cqc_files

    if kind == "latest_ratings":
        return cqc_files.load_latest_ratings(path, **kwargs)
    if kind == "active_locations":
        return cqc_files.load_active_locations(path, **kwargs)
    if kind == "care_directory":
        return cqc_files.load_care_directory(path, **kwargs)
    try:
        from .nhs import load_indicators
    except ImportError as exc:  # pragma: no cover - while io.nhs is being written
        raise DataFormatError("not a CQC file, and the NHS indicator loaders are unavailable", path=path) from exc
    return load_indicators(path, **kwargs)


# ---------------------------------------------------------------------------------------------
# CLI: cqc-research load FILE
def configure_parser(parser) -> None:
    parser.add_argument("path", metavar="FILE", help="a CQC or NHS file, or a CQC API folder")
    parser.add_argument("--out", metavar="PARQUET", default=None,
                        help="where to write the tidy table (default: data/processed/<name>.parquet)")
    parser.add_argument("--keep-unknown", action="store_true",
                        help="keep unknown rating strings as 'Unknown' instead of stopping")


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
    from .. import paths
    from ..cache import atomic_path

    path = Path(args.path)
    kind = detect_kind(path)
    kwargs = {"unknown": "keep"} if args.keep_unknown and kind in {"latest_ratings", "api_folder", "api_record"} else {}
    result = load(path, **kwargs)
    print(f"{path}: {kind}")
    if kind in {"latest_ratings", "active_locations"}:
        from .cqc_files import sheet_names

        try:
            print("sheets: " + ", ".join(sheet_names(path)))
        except DataFormatError:
            pass
    frames = {"": result} if isinstance(result, pd.DataFrame) else {
        name: getattr(result, name) for name in ("locations", "providers", "ratings", "history",
                                                 "service_ratings", "relationships")}
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
