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
councils' assessments CSV                 :func:`la_assessments.read_la_assessments`
NHS indicator files (CSV, workbooks)      :func:`nhs.load_indicators`
========================================  ==========================================
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..cache import cached_frame, sha256_file
from ..errors import DataFormatError
from ..provenance import is_synthetic
from .la_assessments import looks_like_la_assessments, read_la_assessments

if TYPE_CHECKING:
    from .nhs.common import ReadReport

__all__ = ["load", "read_source", "explain", "detect_kind", "configure_parser", "run_command"]


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

    Parameters
    ----------
    path : str or Path
        A file, or a folder (a CQC API sync with ``locations/`` or ``providers/``, or a
        folder of monthly A&E files).

    Returns
    -------
    str
        The kind, which picks the loader in :func:`load`: a ``.json`` file is an API record;
        a workbook is an 'A&E by provider' file (``indicators``), Latest ratings (it has a
        ``Locations`` or ``Providers`` sheet) or else active locations; a CSV is told apart by
        its first lines, and any other CSV is taken for NHS ``indicators``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
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

        if detect_indicator_kind(path) in {"ae_monthly", "dtoc_workbook", "fft"}:
            return "indicators"
        raise DataFormatError("a folder must hold locations/*.json (a CQC API sync), monthly "
                              "A&E files (.csv, .xls, .xlsx), monthly delayed transfers of "
                              "care workbooks or monthly Friends and Family Test files", path=path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "api_record"
    if suffix in {".xls", ".xlsx", ".xlsm"}:
        from .nhs.ae_grid import is_ae_workbook
        from .nhs.detect import kind_from_sheet_names

        if kind_from_sheet_names(path) or is_ae_workbook(path):  # DTOC, staff survey, A&E
            return "indicators"
        from .nhs.fft import is_fft_workbook

        if is_fft_workbook(path):
            return "indicators"
    from .cqc_files import file_kind, sheet_names

    kind = file_kind(path)
    if kind in {"ods", "xlsx", "xls"}:
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
    first = next(csv.reader([_head_text(path).splitlines()[0] if _head_text(path) else ""]), [])
    if looks_like_la_assessments(first):
        return "la_assessments"
    return "indicators"


def load(path, **kwargs):
    """Load any supported file or folder; see the table in :mod:`cqc_research.io`.

    Parameters
    ----------
    path : path
        A file or a CQC API folder.
    **kwargs
        Passed to the chosen loader (e.g. ``strict=True``, to stop at a rating value that is
        neither on the scale nor a known status instead of keeping it as ``Unknown``, or, in a
        folder, at the first file that cannot be read instead of setting it aside).
        ``strict`` reaches only the loaders that take it.

    Returns
    -------
    DataFrame or ApiData
        ``frame.attrs["kind"]`` names what was loaded.
    """
    kind = detect_kind(path)
    if kind == "api_folder":
        from .cqc_json import load_api_folder

        return load_api_folder(path, **_fit(load_api_folder, kwargs))
    if kind == "api_record":
        from .cqc_json import load_api_record

        return load_api_record(path, **_fit(load_api_record, kwargs))
    from . import cqc_files

    if kind == "latest_ratings":
        return cqc_files.load_latest_ratings(path, **_fit(cqc_files.load_latest_ratings, kwargs))
    if kind == "active_locations":
        return cqc_files.load_active_locations(path, **_fit(cqc_files.load_active_locations,
                                                            kwargs))
    if kind == "care_directory":
        return cqc_files.load_care_directory(path, **_fit(cqc_files.load_care_directory, kwargs))
    if kind == "la_assessments":
        return read_la_assessments(path)
    try:
        from .nhs import load_indicators
    except ImportError as exc:  # pragma: no cover - while io.nhs is being written
        raise DataFormatError("not a CQC file, and the NHS indicator loaders are unavailable", path=path) from exc
    return load_indicators(path, **_fit_indicator(path, kwargs))


def _fit(func, kwargs: dict) -> dict:
    """``kwargs`` without ``strict`` when ``func`` does not take it (it reaches only the
    loaders that do: Latest ratings, API folders and records, folders of monthly files)."""
    if "strict" not in kwargs:
        return kwargs
    import inspect

    params = inspect.signature(func).parameters
    if "strict" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k != "strict"}


def _fit_indicator(path, kwargs: dict) -> dict:
    """:func:`_fit` for the NHS loader :func:`~.nhs.load_indicators` will choose."""
    if "strict" not in kwargs:
        return kwargs
    from . import nhs

    kind = nhs.detect_indicator_kind(path)
    loader = getattr(nhs, nhs.KIND_LOADER[kind], None) if kind in nhs.KIND_LOADER else None
    return _fit(loader, kwargs) if loader is not None else kwargs


# ---------------------------------------------------------------------------------------------
# How a file was read
def _api_report(path: Path, data) -> ReadReport:
    import json
    from collections import Counter

    from .nhs.common import ReadReport

    rep = ReadReport(path=path, kind="api_folder (CQC API records)" if path.is_dir()
                     else "api_record (one CQC API record)")
    files = sorted(path.glob("*/*.json")) if path.is_dir() else [path]
    keys, levels, dayfirst, dereg = Counter(), Counter(), 0, 0
    import re

    for f in files:
        try:
            rec = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # a damaged record: the loader names it
            continue
        if not isinstance(rec, dict):
            continue
        levels["location" if "locationId" in rec else "provider"] += 1
        keys.update(rec.keys())
        for k in ("registrationDate", "deregistrationDate"):
            if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", str(rec.get(k, ""))):
                dayfirst += 1
        dereg += str(rec.get("registrationStatus", "")).casefold() == "deregistered"
    n = sum(levels.values())
    rep.rows_read = rep.rows_kept = n
    rep.notes.append("records read: " + ", ".join(f"{v:,} {k}s" for k, v in levels.items()))
    for bad, reason in getattr(data, "skipped", []):  # files load_api_folder left out, and why
        rep.notes.append(f"left out {bad}: {reason}")
    lacking = {k: n - c for k, c in keys.items() if c < n}
    if lacking:
        rep.notes.append("fields some records lack (read as missing): " + ", ".join(
            f"{k} ({v:,})" for k, v in sorted(lacking.items(), key=lambda kv: -kv[1])))
    if dayfirst:
        rep.notes.append(f"{dayfirst:,} registration dates were day-first (dd/mm/yyyy), read as such")
    if dereg:
        rep.notes.append(f"{dereg:,} deregistered organisations (kept, with their deregistration date)")
    for name in ("history", "service_ratings"):
        frame = getattr(data, name)
        if "rating_status" in frame and len(frame):
            counts = frame["rating_status"].value_counts()
            counts = counts[(counts > 0) & (counts.index != "Rated")]
            if len(counts):
                rep.notes.append(f"{name}: values not on the rating scale, kept as statuses: "
                                 + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return rep


def _frame_report(path: Path, kind: str, frame) -> ReadReport:
    """The report of a CQC file (rows and output columns; its loaders keep no parse report)."""
    from .nhs.common import table_report

    return table_report(frame, path, kind=kind, report={})


def explain(path, **kwargs):
    """Load a file and say how it was read.

    Parameters
    ----------
    path : path
        Anything :func:`load` accepts.
    **kwargs
        Passed to the loader.

    Returns
    -------
    result, reports : DataFrame or ApiData, list of ReadReport
        What :func:`load` returns, and one :class:`~cqc_research.io.nhs.common.ReadReport` per
        file read (for the monthly A&E files: layout, header row, each source column and its
        role, rows dropped and why, values read as missing, totals checked against the file's
        own total row). ``print(report)`` shows one.

    Examples
    --------
    >>> data, reports = explain("MSitAE-JANUARY-2019.csv")  # doctest: +SKIP
    >>> print(reports[0])  # doctest: +SKIP
    """
    path = Path(path)
    kind = detect_kind(path)
    if kind == "indicators":
        from .nhs import load_indicators

        result, reports = load_indicators(path, with_report=True, **_fit_indicator(path, kwargs))
        return result, reports if isinstance(reports, list) else [reports]
    result = load(path, **kwargs)
    if kind in {"api_folder", "api_record"}:
        return result, [_api_report(path, result)]
    return result, [_frame_report(path, result.attrs.get("kind", kind), result)]


# ---------------------------------------------------------------------------------------------
# CLI: cqc-research load FILE
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
    import warnings

    from .. import paths
    from ..cache import atomic_path
    from ..errors import CQCResearchError, SkippedFileWarning
    from ..ratings import UnknownRatingWarning

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
        from .cqc_files import sheet_names

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


def read_source(path) -> pd.DataFrame | None:
    """One indicator file (or an A&E folder, one series) through the Parquet cache.

    :func:`cqc_research.io.load` reads the file the first time; the table is cached keyed by the
    file's content (every file's, for a folder), so the notebooks of a run and later runs read it
    once, and a changed file is read again.

    Parameters
    ----------
    path : path
        A file any indicator loader reads, or a folder of monthly A&E files.

    Returns
    -------
    DataFrame or None
        The indicator table (``DataFrame.attrs["synthetic"]`` set from the file's folder), or
        None for a file that holds no indicator table (a lookup such as a QOF geography mapping).

    Raises
    ------
    DataFormatError
        As the file's loader raises it; or for an empty folder.
    """
    path = Path(path)
    if path.is_dir():  # one series in a folder (A&E): keyed by every file's content
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataFormatError("an empty folder", path=path)
        digest = hashlib.sha256("".join(f"{f.relative_to(path)}:{sha256_file(f)};"
                                        for f in files).encode()).hexdigest()
        source, options = files[0], {"folder": digest, "v": 1}
    else:
        source, options = path, {"v": 1}

    def build() -> pd.DataFrame:
        frame = load(path)
        if not isinstance(frame, pd.DataFrame) or not {"measure", "org_level"} <= set(frame):
            return pd.DataFrame()  # a lookup (e.g. a QOF geography mapping): not an indicator
        return frame

    frame = cached_frame(source, build, loader="indicator_source", options=options)
    if frame.empty:
        return None
    frame.attrs["synthetic"] = is_synthetic(path)
    return frame
