"""One entry point for every supported file: :func:`load` detects what a file is and reads it.

The kinds :func:`load` tells apart are registered here (``family="file"`` in
:mod:`cqc_research.io._kinds`), in the order :func:`detect_kind` tries them; the NHS indicator
kinds are registered by their reader modules (see :func:`cqc_research.io.nhs.load_indicators`).
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd

from ..cache import cached_frame, sha256_file
from ..errors import DataFormatError
from ..provenance import is_synthetic
from ._kinds import Kind, Probe, is_registered, kinds, loader_for, register
from .cqc_files import (
    file_kind,
    load_active_locations,
    load_care_directory,
    load_latest_ratings,
    sheet_names,
)
from .cqc_json import load_api_folder, load_api_record
from .la_assessments import looks_like_la_assessments, read_la_assessments
from .nhs import load_indicators
from .nhs._common import WORKBOOK_SUFFIXES, ReadReport, detect_indicator_kind, table_report

_SPREADSHEETS = {"ods", "xlsx", "xls"}


def _norm(text) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


def _head_text(probe: Probe) -> str:
    return probe.head[:8192].decode("utf-8-sig", errors="replace")


def _container(probe: Probe) -> str:
    """``ods``, ``xlsx``, ``xls`` or ``csv`` (:func:`~.cqc_files.file_kind`, once per probe)."""
    return probe.memo("container", lambda: file_kind(probe.path))


def _spreadsheet_sheets(probe: Probe) -> list[str]:
    return probe.memo("sheets", lambda: sheet_names(probe.path))


def _head(probe: Probe) -> str:
    return probe.memo("head_norm", lambda: _norm(_head_text(probe)))


def _is_api_folder(probe: Probe) -> bool:
    p = probe.path
    return p.is_dir() and ((p / "locations").is_dir() or (p / "providers").is_dir())


def _is_indicators(probe: Probe) -> bool:
    """A folder of monthly NHS files, or an NHS workbook (DTOC, staff survey, A&E, FFT)."""
    p = probe.path
    if p.is_dir():
        return detect_indicator_kind(p) is not None
    return p.suffix.lower() in WORKBOOK_SUFFIXES and detect_indicator_kind(p) is not None


def _is_latest_ratings(probe: Probe) -> bool:
    if probe.path.is_dir():
        return False
    if _container(probe) in _SPREADSHEETS:
        names = _spreadsheet_sheets(probe)
        return "Locations" in names or "Providers" in names
    head = _head(probe)
    return "latest rating" in head and ("location id" in head or "provider id" in head)


def _is_care_directory(probe: Probe) -> bool:
    return not probe.path.is_dir() and _container(probe) not in _SPREADSHEETS \
        and "cqc location id" in _head(probe)


def _is_active_locations(probe: Probe) -> bool:
    return not probe.path.is_dir() and (_container(probe) in _SPREADSHEETS
                                        or "location hsca start date" in _head(probe))


def _is_la_assessments(probe: Probe) -> bool:
    if probe.path.is_dir() or _container(probe) in _SPREADSHEETS:
        return False
    text = _head_text(probe)
    first = next(csv.reader([text.splitlines()[0] if text else ""]), [])
    return looks_like_la_assessments(first)


register(Kind("api_folder", "a CQC API folder (locations/*.json, providers/*.json)",
              load_api_folder, family="file", rank=10, sniff=_is_api_folder))
register(Kind("api_record", "one CQC API record (.json)", load_api_record, family="file", rank=20,
              sniff=lambda probe: not probe.path.is_dir() and probe.path.suffix.lower() == ".json"))
register(Kind("indicators", "an NHS indicator file (CSV or workbook), or a folder of monthly files",
              load_indicators, family="file", rank=30, sniff=_is_indicators))
register(Kind("latest_ratings", "a CQC Latest ratings file (ODS, XLSX or CSV)", load_latest_ratings,
              family="file", rank=40, sniff=_is_latest_ratings))
register(Kind("care_directory", "a CQC care directory CSV", load_care_directory, family="file",
              rank=50, sniff=_is_care_directory))
register(Kind("active_locations", "a CQC HSCA active locations file", load_active_locations,
              family="file", rank=60, sniff=_is_active_locations))
register(Kind("la_assessments", "the councils' assessments CSV", read_la_assessments,
              family="file", rank=70, sniff=_is_la_assessments))


def detect_kind(path) -> str:
    """What a file (or folder) is: ``api_folder``, ``api_record``, ``latest_ratings``,
    ``active_locations``, ``care_directory``, ``la_assessments`` or ``indicators``.

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
    probe = Probe(path)
    for kind in kinds("file"):
        if kind.sniff(probe):
            return kind.name
    if path.is_dir():
        raise DataFormatError("a folder must hold locations/*.json (a CQC API sync), monthly "
                              "A&E files (.csv, .xls, .xlsx), monthly delayed transfers of "
                              "care workbooks or monthly Friends and Family Test files", path=path)
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
    loader = loader_for(kind)
    if kind == "indicators":
        return loader(path, **_fit_indicator(path, kwargs))
    if kind == "la_assessments":
        return loader(path)
    return loader(path, **_fit(loader, kwargs))


def _fit(func, kwargs: dict) -> dict:
    """``kwargs`` without ``strict`` when ``func`` does not take it (it reaches only the
    loaders that do: Latest ratings, API folders and records, folders of monthly files)."""
    if "strict" not in kwargs:
        return kwargs
    params = inspect.signature(func).parameters
    if "strict" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k != "strict"}


def _fit_indicator(path, kwargs: dict) -> dict:
    """:func:`_fit` for the NHS loader :func:`~.nhs.load_indicators` will choose."""
    if "strict" not in kwargs:
        return kwargs
    kind = detect_indicator_kind(path)
    return _fit(loader_for(kind), kwargs) if kind is not None and is_registered(kind) else kwargs


# ---------------------------------------------------------------------------------------------
# How a file was read
def _api_report(path: Path, data) -> ReadReport:
    rep = ReadReport(path=path, kind="api_folder (CQC API records)" if path.is_dir()
                     else "api_record (one CQC API record)")
    files = sorted(path.glob("*/*.json")) if path.is_dir() else [path]
    keys, levels, dayfirst, dereg = Counter(), Counter(), 0, 0
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
        What :func:`load` returns, and one :class:`~cqc_research.io.nhs.ReadReport` per
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
        result, reports = load_indicators(path, with_report=True, **_fit_indicator(path, kwargs))
        return result, reports if isinstance(reports, list) else [reports]
    result = load(path, **kwargs)
    if kind in {"api_folder", "api_record"}:
        return result, [_api_report(path, result)]
    return result, [_frame_report(path, result.attrs.get("kind", kind), result)]


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
