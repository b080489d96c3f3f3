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

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paths
from ..cache import atomic_path
from ..errors import DataFormatError, UnknownRatingError
from ..provenance import is_synthetic
from ..ratings import (
    DOMAIN_DTYPE,
    RATING_DTYPE,
    SECTOR_DTYPE,
    STATUS_DTYPE,
    normalise_domain,
    normalise_rating,
    sector_of,
    strict_from,
    warn_unknown_ratings,
)

__all__ = ["ApiData", "load_api_folder", "load_api_record", "HISTORY_COLUMNS", "API_TABLES", "REPORT_COLUMNS"]

HISTORY_COLUMNS = [
    "org_id", "level", "provider_id", "sector", "inspection_category", "local_authority", "region",
    "report_date", "inspection_date", "report_link_id", "domain", "rating", "rating_status", "rating_text",
    "source", "organisation_id", "framework",
]
SERVICE_COLUMNS = [
    "org_id", "report_date", "report_link_id", "service", "service_name", "domain", "rating",
    "rating_status", "rating_text", "source", "organisation_id",
]
REPORT_COLUMNS = [
    "org_id", "level", "provider_id", "location_type", "inspection_category", "sector",
    "report_link_id", "report_type", "report_date", "first_visit_date", "rated",
]
API_TABLES = ("locations", "providers", "ratings", "history", "service_ratings", "relationships",
           "reports", "assessments", "key_question_scores", "statement_scores", "assessment_text", "assessment_problems")
_FALLBACK_SECTOR = {"Social Care Org": "Adult social care", "NHS Healthcare Organisation": "NHS hospitals"}


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
        Remarks about the load.
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

    def __repr__(self) -> str:
        return (f"ApiData({self.source!r}: {len(self.locations):,} locations, {len(self.providers):,} "
                f"providers, {self.history['report_link_id'].nunique():,} reports, "
                f"synthetic={self.synthetic})")

    def _repr_html_(self) -> str:
        from ..provenance import BANNER_TEXT
        from ..templating import render

        return str(render("fragments/api_data.html.j2", source=self.source, synthetic=self.synthetic,
                          banner_text=BANNER_TEXT,
                          tables=[(t, f"{len(getattr(self, t)):,}") for t in API_TABLES]))


def _rating(value, where: str, unknown: str):
    rating, status = normalise_rating(value)
    if status is None:
        if value is None or str(value).strip() == "":
            return None, "No published rating"
        if unknown == "raise":
            raise UnknownRatingError(
                f"unknown rating {value!r}; expected a CQC rating, a non-scale status or a regulatory "
                "judgement", path=where,
                hint="strict=True stops at such values; without it they are kept as 'Unknown'",
                cli_hint="--strict stops at such values; without it they are kept as 'Unknown'")
        return None, "Unknown"
    return rating, status


def _text(value):
    """The published rating text (stripped), or None when blank."""
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _api_dates(values) -> pd.Series:
    """API dates: ISO (``2013-11-04``, with or without a time), else day-first (``04/11/2013``)."""
    s = pd.Series(values, dtype="object")
    out = pd.to_datetime(s, errors="coerce", format="ISO8601")
    todo = out.isna() & s.notna() & (s.astype(str).str.strip() != "")
    if todo.any():
        out[todo] = pd.to_datetime(s[todo].astype(str).str.strip().str[:10], errors="coerce",
                                   format="%d/%m/%Y")
    return out


def _warn_unknown(tables: dict, where: str) -> None:
    """One warning for the rating values kept as 'Unknown' in history and service ratings."""
    parts = [tables[t][["org_id", "domain", "rating_status", "rating_text"]]
             for t in ("history", "service_ratings") if t in tables and "rating_text" in tables[t]]
    if parts:
        warn_unknown_ratings(pd.concat(parts, ignore_index=True), where, stacklevel=4)


def _domain(name, where):
    return normalise_domain(name, where=where)


class _Collector:
    def __init__(self, unknown: str):
        self.unknown = unknown
        self.locations, self.providers, self.ratings = [], [], []
        self.history, self.services, self.relationships = [], [], []
        self.reports = []

    # -- one record -----------------------------------------------------------------------
    def add(self, rec: dict, path: Path, level: str):
        where = str(path)
        if level == "location":
            org_id = rec.get("locationId")
            if not org_id:
                raise DataFormatError("no 'locationId' in a location record", path=path)
        else:
            org_id = rec.get("providerId")
            if not org_id:
                raise DataFormatError("no 'providerId' in a provider record", path=path)
        cats = rec.get("inspectionCategories") or []
        primary = next((c.get("name") for c in cats if str(c.get("primary")).lower() == "true"),
                       cats[0].get("name") if cats else None)
        sector = sector_of(primary) if primary else _FALLBACK_SECTOR.get(rec.get("type"), "Other")
        org = {
            "level": level, "org_id": org_id,
            "location_id": org_id if level == "location" else None,
            "location_ods_code": rec.get("odsCode") if level == "location" else None,
            "location_name": rec.get("name") if level == "location" else None,
            "provider_id": rec.get("providerId") if level == "location" else org_id,
            "provider_ods_code": rec.get("odsCode") if level == "provider" else None,
            "provider_name": rec.get("name") if level == "provider" else None,
            "care_home": {"Y": True, "N": False}.get(rec.get("careHome")),
            "location_type": rec.get("type"),
            "inspection_category": primary, "sector": sector,
            "postcode": rec.get("postalCode"), "local_authority": rec.get("localAuthority"),
            "region": rec.get("region"), "nhs_region": None,
            "brand_id": rec.get("brandId"), "brand_name": rec.get("brandName"),
        }
        extra = {
            "registration_status": rec.get("registrationStatus"),
            "registration_date": rec.get("registrationDate"),
            "deregistration_date": rec.get("deregistrationDate"),
            "number_of_beds": rec.get("numberOfBeds"),
            "inspection_directorate": rec.get("inspectionDirectorate"),
            "last_inspection_date": (rec.get("lastInspection") or {}).get("date"),
            "last_report_date": (rec.get("lastReport") or {}).get("publicationDate"),
            "ods_code": rec.get("odsCode"),
            "n_location_ids": len(rec.get("locationIds") or []) if level == "provider" else None,
        }
        (self.locations if level == "location" else self.providers).append({**org, **extra})
        visits = {r.get("linkId"): r.get("firstVisitDate") for r in rec.get("reports") or [] if r.get("linkId")}
        for r in rec.get("reports") or []:
            self.reports.append({"org_id": org_id, "level": level, "provider_id": org["provider_id"],
                                 "location_type": org["location_type"],
                                 "inspection_category": primary, "sector": sector,
                                 "report_link_id": r.get("linkId"), "report_type": r.get("reportType"),
                                 "report_date": r.get("reportDate"),
                                 "first_visit_date": r.get("firstVisitDate")})
        areas = {a.get("inspectionAreaId"): a.get("inspectionAreaName") for a in rec.get("inspectionAreas") or []}
        hist_base = {k: org[k] for k in ("org_id", "level", "provider_id", "sector", "inspection_category",
                                         "local_authority", "region")}
        for rel in rec.get("relationships") or []:
            self.relationships.append({"org_id": org_id, "related_id": rel.get("relatedLocationId")
                                       or rel.get("relatedProviderId"),
                                       "related_name": rel.get("relatedLocationName") or rel.get("relatedProviderName"),
                                       "type": rel.get("type"), "reason": rel.get("reason")})
        current = rec.get("currentRatings") or {}
        overall = current.get("overall")
        if overall:
            self._overall(overall, None, None, None, "current", hist_base, visits, where, "currentRatings.overall",
                          org=org)
        for i, srv in enumerate(current.get("serviceRatings") or []):
            self._service(srv, srv.get("reportDate"), srv.get("reportLinkId"), srv.get("organisationId"),
                          "current", org_id, areas, where, f"currentRatings.serviceRatings[{i}]", org=org)
        for i, h in enumerate(rec.get("historicRatings") or []):
            date, link, org_from = h.get("reportDate"), h.get("reportLinkId"), h.get("organisationId")
            if h.get("overall"):
                self._overall(h["overall"], date, link, org_from, "historic", hist_base, visits, where,
                              f"historicRatings[{i}].overall")
            for j, srv in enumerate(h.get("serviceRatings") or []):
                self._service(srv, srv.get("reportDate") or date, srv.get("reportLinkId") or link,
                              srv.get("organisationId") or org_from, "historic", org_id, areas, where,
                              f"historicRatings[{i}].serviceRatings[{j}]")
        _collect_assessments(self, rec, path, org)

    def _overall(self, ov, date, link, org_from, source, base, visits, where, jpath, org=None):
        date = ov.get("reportDate") or date
        link = ov.get("reportLinkId") or link
        org_from = ov.get("organisationId") or org_from
        items = [("Overall", ov.get("rating"), date, link, org_from)]
        for kq in ov.get("keyQuestionRatings") or []:
            items.append((kq.get("name"), kq.get("rating"), kq.get("reportDate") or date,
                          kq.get("reportLinkId") or link, kq.get("organisationId") or org_from))
        for name, value, d, lk, of in items:
            rating, status = _rating(value, f"{where} ({jpath})", self.unknown)
            domain = _domain(name, f"{where} ({jpath})")
            self.history.append({**base, "report_date": d, "inspection_date": visits.get(lk),
                                 "report_link_id": lk, "domain": domain, "rating": rating,
                                 "rating_status": status, "rating_text": _text(value), "source": source,
                                 "organisation_id": of})
            if org is not None:
                self.ratings.append({**org, "service_group": "Overall", "domain": domain, "rating": rating,
                                     "rating_status": status, "rating_text": _text(value), "publication_date": d,
                                     "report_type": org["level"].capitalize(), "inherited": of is not None,
                                     "url": None})

    def _service(self, srv, date, link, org_from, source, org_id, areas, where, jpath, org=None):
        sid = srv.get("name")
        sname = areas.get(sid, sid)
        items = [("Overall", srv.get("rating"))] + [(k.get("name"), k.get("rating"))
                                                     for k in srv.get("keyQuestionRatings") or []]
        for name, value in items:
            rating, status = _rating(value, f"{where} ({jpath})", self.unknown)
            domain = _domain(name, f"{where} ({jpath})")
            self.services.append({"org_id": org_id, "report_date": date, "report_link_id": link,
                                  "service": sid, "service_name": sname, "domain": domain, "rating": rating,
                                  "rating_status": status, "rating_text": _text(value), "source": source,
                                  "organisation_id": org_from})
            if org is not None:
                self.ratings.append({**org, "service_group": sname, "domain": domain, "rating": rating,
                                     "rating_status": status, "rating_text": _text(value), "publication_date": date,
                                     "report_type": "Core Service", "inherited": org_from is not None,
                                     "url": None})

    # -- frames -----------------------------------------------------------------------------
    def frames(self) -> dict[str, pd.DataFrame]:
        from .cqc_files import LONG_COLUMNS

        history = pd.DataFrame(self.history, columns=HISTORY_COLUMNS)
        services = pd.DataFrame(self.services, columns=SERVICE_COLUMNS)
        ratings = pd.DataFrame(self.ratings)
        ratings = ratings.reindex(columns=LONG_COLUMNS)
        for frame in (history, services, ratings):
            frame["domain"] = pd.Categorical(frame["domain"], dtype=DOMAIN_DTYPE)
            frame["rating"] = pd.Categorical(frame["rating"], dtype=RATING_DTYPE)
            frame["rating_status"] = pd.Categorical(frame["rating_status"], dtype=STATUS_DTYPE)
        for frame, cols in ((history, ("report_date", "inspection_date")), (services, ("report_date",)),
                            (ratings, ("publication_date",))):
            for c in cols:
                frame[c] = _api_dates(frame[c])
        for frame in (history, ratings):
            frame["sector"] = pd.Categorical(frame["sector"], dtype=SECTOR_DTYPE)
        # a report listed in both current and historic ratings is kept once (the current copy)
        history = (history.sort_values(["org_id", "report_date", "source"], kind="stable")
                   .drop_duplicates(["org_id", "level", "report_link_id", "domain", "report_date"], keep="first")
                   .reset_index(drop=True))
        services = services.drop_duplicates(["org_id", "report_link_id", "service", "domain"]).reset_index(drop=True)
        ratings["care_home"] = ratings["care_home"].astype("boolean")
        ratings["inherited"] = ratings["inherited"].astype("boolean")
        locs = pd.DataFrame(self.locations)
        provs = pd.DataFrame(self.providers)
        for frame in (locs, provs):
            if frame.empty:
                continue
            for c in ("registration_date", "deregistration_date", "last_inspection_date", "last_report_date"):
                frame[c] = _api_dates(frame[c])
            frame["sector"] = pd.Categorical(frame["sector"], dtype=SECTOR_DTYPE)
            frame["care_home"] = frame["care_home"].astype("boolean")
            frame["number_of_beds"] = pd.to_numeric(frame["number_of_beds"], errors="coerce")
        rels = pd.DataFrame(self.relationships, columns=["org_id", "related_id", "related_name", "type", "reason"])
        reports = pd.DataFrame(self.reports, columns=REPORT_COLUMNS)
        for c in ("report_date", "first_visit_date"):
            reports[c] = _api_dates(reports[c])
        rated = history[(history["domain"] == "Overall") & history["rating"].notna()]
        rated_keys = set(zip(rated["org_id"], rated["report_link_id"], strict=True))
        reports["rated"] = [(o, lk) in rated_keys for o, lk in
                            zip(reports["org_id"], reports["report_link_id"], strict=True)]
        reports["sector"] = pd.Categorical(reports["sector"], dtype=SECTOR_DTYPE)
        tables = _with_assessments(self, {"locations": locs, "providers": provs, "ratings": ratings,
                                          "history": history, "service_ratings": services,
                                          "relationships": rels, "reports": reports})
        for t in ("history", "service_ratings", "ratings"):  # one dtype after the assessment rows join
            tables[t]["rating_text"] = tables[t]["rating_text"].astype("object").astype("category")
        return tables


def _read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                              "expected a CQC API response", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text ({exc.reason}); expected a CQC API JSON response",
                              path=path) from None


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
    unknown = "raise" if strict_from(strict, unknown) else "keep"
    rec = _read_json(path)
    if not isinstance(rec, dict):
        raise DataFormatError("expected a JSON object (one organisation)", path=path)
    level = "location" if "locationId" in rec else "provider" if "providerId" in rec else None
    if level is None:
        raise DataFormatError("neither 'locationId' nor 'providerId' found; expected a CQC API "
                              "location or provider record", path=path)
    col = _Collector(unknown)
    col.add(rec, path, level)
    tables = col.frames()
    _warn_unknown(tables, str(path))
    return ApiData(**tables, source=str(path), synthetic=is_synthetic(path), files=1)


def _folder_key(folder: Path, files: list[Path], unknown: str) -> str:
    h = hashlib.sha256(f"v4|{unknown}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def load_api_folder(folder, *, strict: bool = False, unknown: str | None = None, use_cache: bool = True,
                    progress: bool = False) -> ApiData:
    """Load a folder of CQC API responses (as written by ``cqc-research sync-api``).

    Parameters
    ----------
    folder : path
        Holds ``locations/*.json`` and optionally ``providers/*.json`` (list pages
        ``list_*.json`` are read for their totals only).
    strict : bool
        By default a rating value that is neither on the scale, nor a known status, nor a
        regulatory judgement of older records (``No action``, ``Compliance action``, ...; see
        :data:`~cqc_research.ratings.JUDGEMENTS`) is kept: ``rating_status`` ``Unknown``, the text
        in ``rating_text``, one :class:`~cqc_research.ratings.UnknownRatingWarning` with the count
        and where the first was found. ``strict=True`` raises
        :class:`~cqc_research.errors.UnknownRatingError` naming the file and JSON path.
    unknown : {"raise", "keep"}, optional
        The older spelling of ``strict`` (``"raise"`` is ``strict=True``).
    use_cache : bool
        Cache the tables as Parquet, keyed by the folder's file names, sizes and times.
    progress : bool
        Show a progress bar (tqdm) while reading.

    Returns
    -------
    ApiData
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected a CQC API folder with locations/)")
    loc_files = sorted((folder / "locations").glob("*.json"))
    prov_files = sorted((folder / "providers").glob("*.json"))
    if not loc_files and not prov_files:
        raise DataFormatError("no locations/*.json or providers/*.json files; expected a folder laid out "
                              "like the CQC API sync", path=folder)
    files = loc_files + prov_files
    unknown = "raise" if strict_from(strict, unknown) else "keep"
    key = _folder_key(folder, files, unknown)
    cache = paths.processed_dir() / "cache" / f"api-{key}"
    synthetic = is_synthetic(folder)
    if use_cache and (cache / "done").is_file():
        try:
            tables = {t: pd.read_parquet(cache / f"{t}.parquet") for t in API_TABLES}
            _warn_unknown(tables, str(folder))
            return ApiData(**tables, source=str(folder), synthetic=synthetic, files=len(files))
        except Exception:  # a corrupt entry is rebuilt, never trusted
            shutil.rmtree(cache, ignore_errors=True)
    col = _Collector(unknown)
    iterator = files
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc="CQC API records", unit="file")
    for f in iterator:
        rec = _read_json(f)
        if not isinstance(rec, dict):
            raise DataFormatError("expected a JSON object (one organisation)", path=f)
        col.add(rec, f, "location" if f.parent.name == "locations" else "provider")
    tables = col.frames()
    _warn_unknown(tables, str(folder))
    if use_cache:
        try:
            tmp = cache.with_name(cache.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for t, frame in tables.items():
                frame.to_parquet(tmp / f"{t}.parquet", index=False)
            with atomic_path(tmp / "done") as marker:
                marker.write_text("ok")
            shutil.rmtree(cache, ignore_errors=True)
            tmp.rename(cache)
        except OSError:
            pass
    return ApiData(**tables, source=str(folder), synthetic=synthetic, files=len(files))


# ---------------------------------------------------------------------------------------------
# the single assessment framework (2023 onwards): ``assessment`` objects
ASSESSMENT_COLUMNS = [
    "org_id", "level", "provider_id", "sector", "inspection_category", "local_authority", "region",
    "assessment_plan_id", "assessment_plan_status", "service_group", "title", "status",
    "assessment_date", "published", "publication_date", "commentary_date", "rating", "rating_status",
    "narrative", "rule_version", "n_key_questions", "n_statements", "n_statements_assessed",
    "current", "file", "json_path",
]
KEY_QUESTION_SCORE_COLUMNS = [
    "org_id", "level", "sector", "assessment_plan_id", "service_group", "assessment_date", "publication_date",
    "rule_version", "domain", "rating", "rating_status", "percentage_score", "narrative", "status",
    "n_statements", "n_statements_scored", "n_statements_assessed", "json_path",
]
STATEMENT_SCORE_COLUMNS = [
    "org_id", "level", "sector", "assessment_plan_id", "service_group", "assessment_date", "publication_date",
    "rule_version", "domain", "statement_id", "statement_name", "score", "score_description",
    "score_status", "status", "assessed", "n_evidence_categories", "n_evidence_with_commentary", "json_path",
]
ASSESSMENT_TEXT_COLUMNS = [
    "org_id", "assessment_plan_id", "service_group", "part", "domain", "statement_id",
    "evidence_category_id", "date", "text",
]
ASSESSMENT_PROBLEM_COLUMNS = ["file", "json_path", "org_id", "problem", "value"]
_ASSESSMENT_TABLES = ("assessments", "key_question_scores", "statement_scores", "assessment_text",
                      "assessment_problems")


def _saf_rating(value):
    """(rating, status) of a rating in an assessment; non-scale values such as 'Regulations met' are kept."""
    from ..assessment_framework import NON_SCALE_SCORES

    if value is None or str(value).strip() == "":
        return None, "No published rating"
    rating, status = normalise_rating(value)
    if status is not None:
        return rating, status
    known = {s.casefold(): s for s in NON_SCALE_SCORES}.get(str(value).strip().casefold())
    return None, known or "Unknown"


def _day(value):
    """The ISO date part of an API date or date-time ('2024-09-17 15:19:48'), or None."""
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()[:10]


def _collect_assessments(col, rec: dict, path: Path, org: dict) -> None:
    """Read a record's ``assessment`` list into the collector's assessment lists.

    Each ``ratings.asgRatings[]`` entry (one per assessment service group) is one assessment.
    Anything malformed (a score off the 1-4 scale, no ``asgRatings``, no publication date) goes
    to ``col.saf_problems`` with its file and JSON path, and the rest of the record still loads.
    """
    import datetime as _dt

    from ..assessment_framework import FRAMEWORK_SAF, parse_statement_score, rule_for

    for name in ("saf_assessments", "saf_kq", "saf_statements", "saf_text", "saf_problems",
                 "saf_history", "saf_ratings"):
        if not hasattr(col, name):
            setattr(col, name, [])
    if not hasattr(col, "saf_replaced"):
        col.saf_replaced = set()
    items = rec.get("assessment")
    if not items:
        return
    where = str(path)
    org_id = org["org_id"]

    def problem(jpath, text, value=None):
        col.saf_problems.append({"file": where, "json_path": jpath, "org_id": org_id, "problem": text,
                                 "value": None if value is None else json.dumps(value, default=str)[:2000]})

    if not isinstance(items, list):
        problem("assessment", "expected a list of assessments", items)
        return
    base = {k: org[k] for k in ("org_id", "level", "provider_id", "sector", "inspection_category",
                                "local_authority", "region")}
    rated = []
    for i, a in enumerate(items):
        jp = f"assessment[{i}]"
        if not isinstance(a, dict):
            problem(jp, "expected an assessment object", a)
            continue
        published_at = a.get("assessmentPlanPublishedDateTime")
        groups = (a.get("ratings") or {}).get("asgRatings") if isinstance(a.get("ratings"), dict) else None
        if not isinstance(groups, list) or not groups:
            problem(f"{jp}.ratings.asgRatings", "no asgRatings: the assessment has no service-group ratings",
                    {k: v for k, v in a.items() if k != "ratings"})
            continue
        for j, g in enumerate(groups):
            gp = f"{jp}.ratings.asgRatings[{j}]"
            if not isinstance(g, dict):
                problem(gp, "expected a service-group rating object", g)
                continue
            pub = _day(published_at)
            if pub is None:
                problem(gp, "no publication date (assessmentPlanPublishedDateTime): cannot place the assessment in "
                        "time", {"assessmentPlanId": g.get("assessmentPlanId"), "name": g.get("name"),
                                 "assessmentDate": g.get("assessmentDate")})
                continue
            try:
                _dt.date.fromisoformat(pub)
            except ValueError:
                problem(gp, f"publication date {published_at!r} is not a date", published_at)
                continue
            _collect_group(col, g, gp, base, where, pub, published_at, problem, rated,
                           parse_statement_score, rule_for, FRAMEWORK_SAF)
    # the location's current rating: its latest published rated assessment, when newer than
    # currentRatings (or when currentRatings is missing)
    if rated and org["level"] in ("location", "provider"):
        rated.sort(key=lambda r: r["publication_date"])
        latest = rated[-1]
        cur = ((rec.get("currentRatings") or {}).get("overall") or {}) if isinstance(rec.get("currentRatings"), dict) else {}
        cur_date = _day(cur.get("reportDate")) or _day((rec.get("currentRatings") or {}).get("reportDate")
                                                        if isinstance(rec.get("currentRatings"), dict) else None)
        if not cur.get("rating") or cur_date is None or latest["publication_date"] > cur_date:
            col.saf_replaced.add(org_id)
            latest["row"]["current"] = True
            for domain, rating, status in latest["ratings"]:
                col.saf_ratings.append({**org, "service_group": "Overall", "domain": domain, "rating": rating,
                                        "rating_status": status, "publication_date": latest["publication_date"],
                                        "report_type": org["level"].capitalize(), "inherited": False,
                                        "url": None, "framework": FRAMEWORK_SAF})


def _collect_group(col, g, gp, base, where, pub, published_at, problem, rated,
                   parse_statement_score, rule_for, framework):
    """One service-group assessment (``asgRatings[j]``): its key questions and statements."""
    plan = g.get("assessmentPlanId")
    group = g.get("name")
    adate = _day(g.get("assessmentDate"))
    version = rule_for(adate or pub).version
    ids = {"org_id": base["org_id"], "assessment_plan_id": plan, "service_group": group}
    rating, status = _saf_rating(g.get("rating"))
    if status == "Unknown":
        problem(f"{gp}.rating", f"unknown overall rating {g.get('rating')!r}", g.get("rating"))
    kq_rows, st_rows, texts = [], [], []
    for part, key, dkey in (("commentary", "commentary", "commentaryDate"),
                            ("people's experience", "overallPeopleExperience", "overallPeopleExperienceDate")):
        if g.get(key):
            texts.append({**ids, "part": part, "domain": "Overall", "statement_id": None,
                          "evidence_category_id": None, "date": _day(g.get(dkey)), "text": g[key]})
    for k, kq in enumerate(g.get("keyQuestionRatings") or []):
        kp = f"{gp}.keyQuestionRatings[{k}]"
        try:
            domain = normalise_domain(kq.get("name"), where=f"{where} ({kp})")
        except DataFormatError as exc:
            problem(kp, str(exc.args[0]) if exc.args else "unknown key question", kq.get("name"))
            continue
        kr, ks = _saf_rating(kq.get("rating"))
        if ks == "Unknown":
            problem(f"{kp}.rating", f"unknown key-question rating {kq.get('rating')!r}", kq.get("rating"))
        pct_raw = kq.get("percentageScore")
        try:
            pct = float(pct_raw) if pct_raw not in (None, "") else None
        except (TypeError, ValueError):
            problem(f"{kp}.percentageScore", f"percentage score {pct_raw!r} is not a number", pct_raw)
            pct = None
        if kq.get("commentary"):
            texts.append({**ids, "part": "key question commentary", "domain": domain, "statement_id": None,
                          "evidence_category_id": None, "date": _day(kq.get("commentaryDate")),
                          "text": kq["commentary"]})
        topics = kq.get("topicareas") or []
        n_scored = n_assessed = 0
        for t, ta in enumerate(topics):
            tp = f"{kp}.topicareas[{t}]"
            raw_id = ta.get("qualityStatementId")
            try:
                sid = int(raw_id)
            except (TypeError, ValueError):
                problem(f"{tp}.qualityStatementId", f"quality statement id {raw_id!r} is not a number", ta)
                continue
            try:
                score, desc, sstatus = parse_statement_score(ta.get("qualityStatementscore"),
                                                             where=f"{where} ({tp}.qualityStatementscore)")
            except DataFormatError as exc:
                problem(f"{tp}.qualityStatementscore", exc.args[0] if exc.args else "malformed score",
                        ta.get("qualityStatementscore"))
                continue
            evidence = ta.get("evidenceCategory") or []
            with_text = 0
            for e in evidence:
                if isinstance(e, dict) and str(e.get("commentary") or "").strip():
                    with_text += 1
                    texts.append({**ids, "part": "evidence category commentary", "domain": domain,
                                  "statement_id": sid, "evidence_category_id": e.get("evidenceCategoryId"),
                                  "date": _day(e.get("commentaryDate")), "text": e["commentary"]})
            assessed = str(ta.get("status") or "").strip().casefold() == "assessed"
            n_scored += score is not None
            n_assessed += assessed
            st_rows.append({**ids, "level": base["level"], "sector": base["sector"], "assessment_date": adate,
                            "publication_date": pub, "rule_version": version, "domain": domain,
                            "statement_id": sid, "statement_name": ta.get("name"), "score": score,
                            "score_description": desc, "score_status": sstatus, "status": ta.get("status"),
                            "assessed": assessed, "n_evidence_categories": len(evidence),
                            "n_evidence_with_commentary": with_text, "json_path": tp})
        kq_rows.append({**ids, "level": base["level"], "sector": base["sector"], "assessment_date": adate,
                        "publication_date": pub, "rule_version": version, "domain": domain, "rating": kr,
                        "rating_status": ks, "percentage_score": pct, "narrative": kq.get("narrative"),
                        "status": kq.get("status"), "n_statements": len(topics), "n_statements_scored": n_scored,
                        "n_statements_assessed": n_assessed, "json_path": kp})
    row = {**base, "assessment_plan_id": plan, "assessment_plan_status": g.get("assessmentPlanStatus"),
           "service_group": group, "title": g.get("title"), "status": g.get("status"),
           "assessment_date": adate, "published": published_at, "publication_date": pub,
           "commentary_date": _day(g.get("commentaryDate")), "rating": rating, "rating_status": status,
           "narrative": g.get("narrative"), "rule_version": version, "n_key_questions": len(kq_rows),
           "n_statements": len(st_rows), "n_statements_assessed": sum(r["assessed"] for r in st_rows),
           "current": False, "file": where, "json_path": gp}
    col.saf_assessments.append(row)
    col.saf_kq.extend(kq_rows)
    col.saf_statements.extend(st_rows)
    col.saf_text.extend(texts)
    if rating is None:
        return  # not rated (for example a dental practice): kept in the assessment tables only
    ratings = [("Overall", rating, status)] + [(r["domain"], r["rating"], r["rating_status"]) for r in kq_rows
                                               if r["rating_status"] in STATUS_DTYPE.categories]
    hist = {k: base[k] for k in ("org_id", "level", "provider_id", "sector", "inspection_category",
                                 "local_authority", "region")}
    for domain, r, s in ratings:
        col.saf_history.append({**hist, "report_date": pub, "inspection_date": adate, "report_link_id": plan,
                                "domain": domain, "rating": r, "rating_status": s, "source": "assessment",
                                "organisation_id": None, "framework": framework})
    rated.append({"publication_date": pub, "ratings": ratings, "row": row})


def _same_dtypes(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give text columns that a concat turned into ``object`` the dtype they had in ``like``."""
    for c in frame.columns:
        if c in like and frame[c].dtype == object and like[c].dtype != object \
                and pd.api.types.is_string_dtype(like[c].dtype):
            frame[c] = frame[c].astype(like[c].dtype)
    return frame


def _with_assessments(col, tables: dict) -> dict:
    """Add the assessment tables, and the assessments' ratings to ``history`` and ``ratings``."""
    from ..assessment_framework import FRAMEWORK_2014, FRAMEWORK_SAF

    fw_dtype = pd.CategoricalDtype([FRAMEWORK_2014, FRAMEWORK_SAF])
    saf_hist = pd.DataFrame(getattr(col, "saf_history", []), columns=HISTORY_COLUMNS)
    history = tables["history"]
    if "framework" not in history:
        history["framework"] = FRAMEWORK_2014
    history["framework"] = history["framework"].astype(object).where(history["framework"].notna(), FRAMEWORK_2014)
    if len(saf_hist):
        saf_hist["domain"] = pd.Categorical(saf_hist["domain"], dtype=DOMAIN_DTYPE)
        saf_hist["rating"] = pd.Categorical(saf_hist["rating"], dtype=RATING_DTYPE)
        saf_hist["rating_status"] = pd.Categorical(saf_hist["rating_status"], dtype=STATUS_DTYPE)
        saf_hist["sector"] = pd.Categorical(saf_hist["sector"], dtype=SECTOR_DTYPE)
        for c in ("report_date", "inspection_date"):
            saf_hist[c] = pd.to_datetime(saf_hist[c], errors="coerce", format="ISO8601")
        saf_hist = saf_hist.drop_duplicates(["org_id", "level", "report_link_id", "domain", "report_date"])
        history = _same_dtypes(pd.concat([history, saf_hist], ignore_index=True), history)
        history = history.sort_values(["org_id", "report_date", "source"], kind="stable").reset_index(drop=True)
    history["framework"] = pd.Categorical(history["framework"], dtype=fw_dtype)
    ratings = tables["ratings"]
    replaced = getattr(col, "saf_replaced", set())
    ratings["framework"] = FRAMEWORK_2014
    if replaced:
        from .cqc_files import LONG_COLUMNS

        keep = ~(ratings["org_id"].isin(replaced) & (ratings["service_group"] == "Overall"))
        new = pd.DataFrame(col.saf_ratings).reindex(columns=[*LONG_COLUMNS, "framework"])
        new["domain"] = pd.Categorical(new["domain"], dtype=DOMAIN_DTYPE)
        new["rating"] = pd.Categorical(new["rating"], dtype=RATING_DTYPE)
        new["rating_status"] = pd.Categorical(new["rating_status"], dtype=STATUS_DTYPE)
        new["sector"] = pd.Categorical(new["sector"], dtype=SECTOR_DTYPE)
        new["publication_date"] = pd.to_datetime(new["publication_date"], errors="coerce", format="ISO8601")
        new["care_home"] = new["care_home"].astype("boolean")
        new["inherited"] = new["inherited"].astype("boolean")
        ratings = _same_dtypes(pd.concat([ratings[keep], new], ignore_index=True), ratings)
        ratings = ratings.sort_values(["level", "org_id"], kind="stable").reset_index(drop=True)
    ratings["framework"] = pd.Categorical(ratings["framework"], dtype=fw_dtype)
    out = dict(tables, history=history, ratings=ratings)
    frames = {
        "assessments": pd.DataFrame(getattr(col, "saf_assessments", []), columns=ASSESSMENT_COLUMNS),
        "key_question_scores": pd.DataFrame(getattr(col, "saf_kq", []), columns=KEY_QUESTION_SCORE_COLUMNS),
        "statement_scores": pd.DataFrame(getattr(col, "saf_statements", []), columns=STATEMENT_SCORE_COLUMNS),
        "assessment_text": pd.DataFrame(getattr(col, "saf_text", []), columns=ASSESSMENT_TEXT_COLUMNS),
        "assessment_problems": pd.DataFrame(getattr(col, "saf_problems", []), columns=ASSESSMENT_PROBLEM_COLUMNS),
    }
    a = frames["assessments"]
    for c in ("assessment_date", "publication_date", "commentary_date"):
        a[c] = pd.to_datetime(a[c], errors="coerce", format="ISO8601")
    a["published"] = pd.to_datetime(a["published"], errors="coerce", format="ISO8601")
    a["rating"] = pd.Categorical(a["rating"], dtype=RATING_DTYPE)
    a["sector"] = pd.Categorical(a["sector"], dtype=SECTOR_DTYPE)
    a["current"] = a["current"].astype(bool)
    for name in ("key_question_scores", "statement_scores"):
        f = frames[name]
        for c in ("assessment_date", "publication_date"):
            f[c] = pd.to_datetime(f[c], errors="coerce", format="ISO8601")
        f["domain"] = pd.Categorical(f["domain"], dtype=DOMAIN_DTYPE)
        f["sector"] = pd.Categorical(f["sector"], dtype=SECTOR_DTYPE)
    kq = frames["key_question_scores"]
    kq["rating"] = pd.Categorical(kq["rating"], dtype=RATING_DTYPE)
    kq["percentage_score"] = pd.to_numeric(kq["percentage_score"], errors="coerce").astype("Float64")
    for c in ("n_statements", "n_statements_scored", "n_statements_assessed"):
        kq[c] = kq[c].astype("Int64")
    st = frames["statement_scores"]
    st["score"] = pd.to_numeric(st["score"], errors="coerce").astype("Int64")
    st["statement_id"] = st["statement_id"].astype("Int64")
    st["assessed"] = st["assessed"].astype("boolean")
    frames["assessment_text"]["statement_id"] = frames["assessment_text"]["statement_id"].astype("Int64")
    if len(frames["assessment_problems"]):
        import warnings

        p = frames["assessment_problems"].iloc[0]
        warnings.warn(f"{len(frames['assessment_problems'])} malformed part(s) of CQC assessments were kept "
                      f"apart in .assessment_problems (first: {p['file']} at {p['json_path']}: {p['problem']})",
                      stacklevel=3)
    out.update(frames)
    return out
