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
from ..errors import DataFormatError
from ..provenance import is_synthetic
from ..ratings import (
    DOMAIN_DTYPE,
    RATING_DTYPE,
    SECTOR_DTYPE,
    STATUS_DTYPE,
    normalise_domain,
    normalise_rating,
    sector_of,
)

__all__ = ["ApiData", "load_api_folder", "load_api_record", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = [
    "org_id", "level", "provider_id", "sector", "inspection_category", "local_authority", "region",
    "report_date", "inspection_date", "report_link_id", "domain", "rating", "rating_status",
    "source", "organisation_id",
]
SERVICE_COLUMNS = [
    "org_id", "report_date", "report_link_id", "service", "service_name", "domain", "rating",
    "rating_status", "source", "organisation_id",
]
_TABLES = ("locations", "providers", "ratings", "history", "service_ratings", "relationships")
_FALLBACK_SECTOR = {"Social Care Org": "Adult social care", "NHS Healthcare Organisation": "NHS hospitals"}


@dataclass
class ApiData:
    """Tidy tables loaded from a folder of CQC API responses."""

    locations: pd.DataFrame
    providers: pd.DataFrame
    ratings: pd.DataFrame
    history: pd.DataFrame
    service_ratings: pd.DataFrame
    relationships: pd.DataFrame
    source: str = ""
    synthetic: bool = False
    files: int = 0
    notes: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ApiData({self.source!r}: {len(self.locations):,} locations, {len(self.providers):,} "
                f"providers, {self.history['report_link_id'].nunique():,} reports, "
                f"synthetic={self.synthetic})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{name}</td><td>{len(getattr(self, name)):,}</td></tr>" for name in _TABLES)
        banner = "<p style='color:#c8102e;font-weight:bold'>SYNTHETIC DATA</p>" if self.synthetic else ""
        return (f"<div><strong>CQC API data</strong> from <code>{self.source}</code>{banner}"
                f"<table><tr><th>table</th><th>rows</th></tr>{rows}</table></div>")


def _rating(value, where: str, unknown: str):
    rating, status = normalise_rating(value)
    if status is None:
        if value is None or str(value).strip() == "":
            return None, "No published rating"
        if unknown == "raise":
            raise DataFormatError(f"unknown rating {value!r}; expected a CQC rating or non-scale status "
                                  "(pass unknown='keep' to keep it as 'Unknown')", path=where)
        return None, "Unknown"
    return rating, status


def _domain(name, where):
    return normalise_domain(name, where=where)


class _Collector:
    def __init__(self, unknown: str):
        self.unknown = unknown
        self.locations, self.providers, self.ratings = [], [], []
        self.history, self.services, self.relationships = [], [], []

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
                                 "rating_status": status, "source": source, "organisation_id": of})
            if org is not None:
                self.ratings.append({**org, "service_group": "Overall", "domain": domain, "rating": rating,
                                     "rating_status": status, "publication_date": d,
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
                                  "rating_status": status, "source": source, "organisation_id": org_from})
            if org is not None:
                self.ratings.append({**org, "service_group": sname, "domain": domain, "rating": rating,
                                     "rating_status": status, "publication_date": date,
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
                frame[c] = pd.to_datetime(frame[c], errors="coerce", format="ISO8601")
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
                frame[c] = pd.to_datetime(frame[c], errors="coerce", format="ISO8601")
            frame["sector"] = pd.Categorical(frame["sector"], dtype=SECTOR_DTYPE)
            frame["care_home"] = frame["care_home"].astype("boolean")
            frame["number_of_beds"] = pd.to_numeric(frame["number_of_beds"], errors="coerce")
        rels = pd.DataFrame(self.relationships, columns=["org_id", "related_id", "related_name", "type", "reason"])
        return {"locations": locs, "providers": provs, "ratings": ratings, "history": history,
                "service_ratings": services, "relationships": rels}


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


def load_api_record(path, *, unknown: str = "raise") -> ApiData:
    """Load a single ``/locations/{id}`` or ``/providers/{id}`` response file."""
    path = Path(path)
    rec = _read_json(path)
    if not isinstance(rec, dict):
        raise DataFormatError("expected a JSON object (one organisation)", path=path)
    level = "location" if "locationId" in rec else "provider" if "providerId" in rec else None
    if level is None:
        raise DataFormatError("neither 'locationId' nor 'providerId' found; expected a CQC API "
                              "location or provider record", path=path)
    col = _Collector(unknown)
    col.add(rec, path, level)
    return ApiData(**col.frames(), source=str(path), synthetic=is_synthetic(path), files=1)


def _folder_key(folder: Path, files: list[Path], unknown: str) -> str:
    h = hashlib.sha256(f"v1|{unknown}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def load_api_folder(folder, *, unknown: str = "raise", use_cache: bool = True, progress: bool = False) -> ApiData:
    """Load a folder of CQC API responses (as written by ``cqc-research sync-api``).

    Parameters
    ----------
    folder : path
        Holds ``locations/*.json`` and optionally ``providers/*.json`` (list pages
        ``list_*.json`` are read for their totals only).
    unknown : {"raise", "keep"}
        What to do with a rating string that is not a CQC rating or status.
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
    key = _folder_key(folder, files, unknown)
    cache = paths.processed_dir() / "cache" / f"api-{key}"
    synthetic = is_synthetic(folder)
    if use_cache and (cache / "done").is_file():
        try:
            tables = {t: pd.read_parquet(cache / f"{t}.parquet") for t in _TABLES}
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
