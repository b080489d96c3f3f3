"""CQC API JSON (``/locations/{id}``, ``/providers/{id}`` and list pages) to tidy tables.

A folder laid out like the API sync (``locations/<id>.json``, ``providers/<id>.json``) loads in
one call with :func:`load_api_folder`, giving

- ``locations`` / ``providers``: one row per organisation;
- ``ratings``: current ratings in the same long shape as the Latest ratings workbook;
- ``history``: the rating-history panel, one row per organisation x report x domain, from
  ``currentRatings`` and ``historicRatings`` (with the inspection date of each report);
- ``service_ratings``: hospital core-service ratings, current and historic;
- ``relationships``: predecessor links (e.g. NHS trust re-registration), so a history can be
  followed across a merger. Ratings inherited from a predecessor keep its ``organisation_id``.
- ``assessments``, ``key_question_scores``, ``statement_scores``, ``assessment_text`` and
  ``assessment_problems``: the single assessment framework's ``assessment`` objects (2023 onwards;
  see ``docs/assessment_framework.md``). A newer assessment supplies the current rating, and each
  rated assessment adds rows to ``history`` (``framework`` column).
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..errors import DataFormatError, SkippedFileWarning
from ..provenance import BANNER_TEXT, is_synthetic
from ..ratings import strict_from, warn_unknown_ratings
from ..templating import render
from ._api_cache import load as load_cached
from ._api_cache import scan
from ._api_fast import (  # noqa: F401 - the column lists are documented here
    ASSESSMENT_COLUMNS,
    ASSESSMENT_PROBLEM_COLUMNS,
    ASSESSMENT_TEXT_COLUMNS,
    HISTORY_COLUMNS,
    KEY_QUESTION_SCORE_COLUMNS,
    REPORT_COLUMNS,
    SERVICE_COLUMNS,
    STATEMENT_SCORE_COLUMNS,
    Builder,
    split_recs,
)

__all__ = ["ApiData", "load_api_folder", "load_api_record", "HISTORY_COLUMNS", "API_TABLES", "REPORT_COLUMNS"]

API_TABLES = ("locations", "providers", "ratings", "history", "service_ratings", "relationships",
           "reports", "assessments", "key_question_scores", "statement_scores", "assessment_text", "assessment_problems")


@dataclass
class ApiData:
    """Tidy tables loaded from a folder of CQC API responses.

    Returned by :func:`load_api_folder` and :func:`load_api_record`; the module docstring
    says what each table holds.

    Attributes
    ----------
    locations, providers : pandas.DataFrame
        One row per organisation: identifiers, names, address, registration and
        deregistration dates, ``sector``, ``care_home``, ``number_of_beds``, ...
    ratings : pandas.DataFrame
        Current ratings, in the long shape of
        :func:`~cqc_research.io.cqc_files.load_latest_ratings`.
    history : pandas.DataFrame
        The rating-history panel, one row per organisation x report x domain
        (:data:`HISTORY_COLUMNS`).
    service_ratings : pandas.DataFrame
        Hospital core-service ratings, current and historic.
    relationships : pandas.DataFrame
        Predecessor links: ``org_id, related_id, related_name, type, reason``.
    reports : pandas.DataFrame
        Every inspection report listed in ``reports[]``, rated or not (``rated`` is True when
        the report carries an Overall rating on the scale).
    assessments, key_question_scores, statement_scores : pandas.DataFrame
        The single assessment framework: one row per assessment (service group), per key
        question, per quality statement.
    assessment_text : pandas.DataFrame
        The assessments' free text, one row per part.
    assessment_problems : pandas.DataFrame
        Malformed parts of assessments: ``file, json_path, org_id, problem, value``.
    source : str
        The folder or file loaded.
    synthetic : bool
        True when the data were written by ``cqc-research synth``.
    files : int
        How many record files were read.
    notes : list of str
        Remarks about the load: how it was read (``full``, ``cached`` or ``incremental``) and
        each record file left out.
    skipped : list of (str, str)
        The record files that could not be read and were left out, each with the reason.
    """

    locations: pd.DataFrame
    providers: pd.DataFrame
    ratings: pd.DataFrame
    history: pd.DataFrame
    service_ratings: pd.DataFrame
    relationships: pd.DataFrame
    #: every inspection report listed in ``reports[]``, rated or not (:data:`REPORT_COLUMNS`):
    #: ``rated`` is True when the report carries an Overall rating on the scale
    reports: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REPORT_COLUMNS))
    #: single assessment framework (see :func:`_collect_assessments`): one row per assessment
    #: (service group), per key question, per quality statement; free text; malformed parts
    assessments: pd.DataFrame = field(default_factory=pd.DataFrame)
    key_question_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    statement_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    assessment_text: pd.DataFrame = field(default_factory=pd.DataFrame)
    assessment_problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    synthetic: bool = False
    files: int = 0
    notes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ApiData({self.source!r}: {len(self.locations):,} locations, {len(self.providers):,} "
                f"providers, {self.history['report_link_id'].nunique():,} reports, "
                f"synthetic={self.synthetic})")

    def _repr_html_(self) -> str:
        return str(render("fragments/api_data.html.j2", source=self.source, synthetic=self.synthetic,
                          banner_text=BANNER_TEXT,
                          tables=[(t, f"{len(getattr(self, t)):,}") for t in API_TABLES]))


def _warn_unknown(tables: dict, where: str) -> None:
    """One warning for the rating values kept as 'Unknown' in history and service ratings."""
    parts = [tables[t][["org_id", "domain", "rating_status", "rating_text"]]
             for t in ("history", "service_ratings") if t in tables and "rating_text" in tables[t]
             and (tables[t]["rating_status"] == "Unknown").any()]
    if parts:
        warn_unknown_ratings(pd.concat(parts, ignore_index=True), where, stacklevel=4)


def load_api_record(path, *, strict: bool = False, unknown: str | None = None) -> ApiData:
    """Load a single ``/locations/{id}`` or ``/providers/{id}`` response file.

    Parameters
    ----------
    path : str or Path
        A JSON file holding one location (``locationId``) or provider (``providerId``) record.
    strict : bool, default False
        Raise at a rating value that is neither on the scale nor a known status, instead of
        keeping it as ``Unknown`` with one warning; as in :func:`load_api_folder`.
    unknown : {"raise", "keep"}, optional
        The older spelling of ``strict`` (``"raise"`` is ``strict=True``).

    Returns
    -------
    ApiData
        The record's tables (``files`` is 1); not cached.

    Raises
    ------
    DataFormatError
        If the file is not valid JSON, not an object, or neither a location nor a provider.
    UnknownRatingError
        With ``strict``, at the first unknown rating value.
    """
    path = Path(path)
    b = Builder("raise" if strict_from(strict, unknown) else "keep")
    b.add_file(path, None, keep_going=False)
    tables, _ = split_recs(b.tables())
    _warn_assessment_problems(tables)
    _warn_unknown(tables, str(path))
    return ApiData(**tables, source=str(path), synthetic=is_synthetic(path), files=1)


def _warn_assessment_problems(tables: dict) -> None:
    problems = tables["assessment_problems"]
    if len(problems):
        p = problems.iloc[0]
        warnings.warn(f"{len(problems)} malformed part(s) of CQC assessments were kept apart in "
                      f".assessment_problems (first: {p['file']} at {p['json_path']}: {p['problem']})",
                      stacklevel=3)


def load_api_folder(folder, *, strict: bool = False, unknown: str | None = None, use_cache: bool = True,
                    progress: bool = False) -> ApiData:
    """Load a folder of CQC API responses (as written by ``cqc-research sync-api``).

    Every readable record file is loaded. A file that cannot be read (truncated or invalid
    JSON, not a JSON object, no ``locationId`` / ``providerId``, a part the reader cannot
    follow) is left out whole, named with its reason in :attr:`ApiData.skipped`, in
    :attr:`ApiData.notes` and in one warning, and the rest loads; ``strict=True`` stops at it.

    Parameters
    ----------
    folder : path
        Holds ``locations/*.json`` and optionally ``providers/*.json`` (list pages
        ``list_*.json`` are read for their totals only).
    strict : bool
        Stop at the first record file that cannot be read (a :class:`DataFormatError` naming
        it), and at a rating value that is neither on the scale, nor a known status, nor a
        regulatory judgement of older records (``No action``, ``Compliance action``, ...; see
        :data:`~cqc_research.ratings.JUDGEMENTS`), with
        :class:`~cqc_research.errors.UnknownRatingError` naming the file and JSON path. By
        default such a value is kept: ``rating_status`` ``Unknown``, the text in
        ``rating_text``, one :class:`~cqc_research.ratings.UnknownRatingWarning` with the count
        and where the first was found.
    unknown : {"raise", "keep"}, optional
        The older spelling of ``strict`` (``"raise"`` is ``strict=True``).
    use_cache : bool
        Keep the tables (Arrow IPC files, read back memory-mapped) under the processed-data
        folder, with each record file's size, modification time and inode: the next load reads
        back what is unchanged and reads again only the record files that changed, were added
        or were deleted since.
    progress : bool
        Show a progress bar (tqdm) while reading.

    Returns
    -------
    ApiData

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder.
    DataFormatError
        If it holds no record files, or none of them can be read; with ``strict``, at the
        first file that cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected a CQC API folder with locations/)")
    files = scan(folder, stat=use_cache)  # the cache alone needs each file's size and time
    if not files:
        raise DataFormatError("no locations/*.json or providers/*.json files; expected a folder laid out "
                              "like the CQC API sync", path=folder)
    unknown = "raise" if strict_from(strict, unknown) else "keep"

    def build(todo):
        b = Builder(unknown)
        iterator = todo
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(todo, desc="CQC API records", unit="file")
        # the records make millions of objects and no reference cycles: the cyclic garbage
        # collector, which would walk them all again and again, waits until the tables are built
        collecting = gc.isenabled()
        gc.disable()
        # Arrow's memory from the C library's allocator while the tables are built, so that what
        # the steps free goes back to the system (see _api_fast._release); then as before
        pool = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            for path, level in iterator:
                b.add_file(path, level, keep_going=unknown == "keep")
            tables = b.tables()
        finally:
            pa.set_memory_pool(pool)
            if collecting:
                gc.enable()
        if b.odd:  # never silently: values of another JSON type where the API gives text
            warnings.warn("kept as text (objects and lists as nothing) values of another JSON type "
                          "where the CQC API gives text: " + ", ".join(
                              f"{n:,} in {col}" for col, n in b.odd.most_common()), stacklevel=3)
        return tables, b.bad

    tables, bad, how = load_cached(folder, files, build, options=f"unknown={unknown}",
                                       table_names=API_TABLES, use_cache=use_cache)
    notes = [f"read: {how}"]
    if bad:
        if len(bad) == len(files):
            path, reason = bad[0]
            raise DataFormatError(f"none of the {len(files):,} record files could be read; the first: "
                                  f"{reason}", path=path)
        notes += [f"skipped {path}: {reason}" for path, reason in bad]
        first = bad[0]
        warnings.warn(f"{len(bad):,} of {len(files):,} CQC API record files could not be read and were left "
                      f"out (first: {first[0]}: {first[1]}); see ApiData.skipped", SkippedFileWarning,
                      stacklevel=2)
    _warn_assessment_problems(tables)
    _warn_unknown(tables, str(folder))
    return ApiData(**tables, source=str(folder), synthetic=is_synthetic(folder), files=len(files),
                   notes=notes, skipped=bad)
