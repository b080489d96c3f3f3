"""Column-wise reading of CQC API records: the engine behind :func:`cqc_json.load_api_folder`.

Private to :mod:`cqc_research.io.cqc_json`. Each record file is parsed with orjson and its
values are appended to one list per output column (never a dict per row); values that every
row of an organisation shares (name, sector, local authority, ...) are kept once per record
and taken by a record index at the end. Tables are then built with vectorised pandas steps.

A record that cannot be read (invalid JSON, not an object, no ``locationId``, a malformed
part that stops the reader) is rolled back, so nothing from it enters the tables, and is
listed in :attr:`Builder.bad` with its reason.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
from array import array
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.core.arrays.string_arrow import ArrowStringArray

from ..assessment_framework import (
    FRAMEWORK_2014,
    FRAMEWORK_SAF,
    NON_SCALE_SCORES,
    parse_statement_score,
    rule_for,
)
from ..errors import DataFormatError, UnknownRatingError
from ..ratings import (
    DOMAIN_DTYPE,
    RATING_DTYPE,
    SECTOR_DTYPE,
    STATUS_DTYPE,
    normalise_domain,
    normalise_rating,
    sector_of,
)
from .cqc_files import LONG_COLUMNS

#: the columns of the tables of :class:`~cqc_research.io.cqc_json.ApiData`
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

_FALLBACK_SECTOR = {"Social Care Org": "Adult social care", "NHS Healthcare Organisation": "NHS hospitals"}

#: record-level columns: the organisation columns (in the order of the locations table) ...
ORG_FIELDS = ("level", "org_id", "location_id", "location_ods_code", "location_name", "provider_id",
              "provider_ods_code", "provider_name", "care_home", "location_type", "inspection_category",
              "sector", "postcode", "local_authority", "region", "nhs_region", "brand_id", "brand_name")
#: ... and the rest of the locations / providers table
EXTRA_FIELDS = ("registration_status", "registration_date", "deregistration_date", "number_of_beds",
                "inspection_directorate", "last_inspection_date", "last_report_date", "ods_code",
                "n_location_ids")
_HIST_OWN = ("report_date", "inspection_date", "report_link_id", "domain", "rating", "rating_status",
             "rating_text", "source", "organisation_id")
_SERVICE_OWN = ("report_date", "report_link_id", "service", "service_name", "domain", "rating",
                "rating_status", "rating_text", "source", "organisation_id")
_RATING_OWN = ("service_group", "domain", "rating", "rating_status", "rating_text", "publication_date",
               "report_type", "inherited")
_REPORT_OWN = ("report_link_id", "report_type", "report_date", "first_visit_date")
_REL_OWN = ("related_id", "related_name", "type", "reason")
_SAF_HIST_OWN = ("report_date", "inspection_date", "report_link_id", "domain", "rating", "rating_status",
                 "source", "organisation_id", "framework")
_SAF_RATING_OWN = ("service_group", "domain", "rating", "rating_status", "publication_date", "report_type",
                   "inherited", "url", "framework")
_ASSESS_OWN = ("assessment_plan_id", "assessment_plan_status", "service_group", "title", "status",
               "assessment_date", "published", "publication_date", "commentary_date", "rating",
               "rating_status", "narrative", "rule_version", "n_key_questions", "n_statements",
               "n_statements_assessed", "current", "file", "json_path")
_KQ_OWN = ("assessment_plan_id", "service_group", "assessment_date", "publication_date", "rule_version",
           "domain", "rating", "rating_status", "percentage_score", "narrative", "status", "n_statements",
           "n_statements_scored", "n_statements_assessed", "json_path")
_ST_OWN = ("assessment_plan_id", "service_group", "assessment_date", "publication_date", "rule_version",
           "domain", "statement_id", "statement_name", "score", "score_description", "score_status",
           "status", "assessed", "n_evidence_categories", "n_evidence_with_commentary", "json_path")
_TEXT_OWN = ("assessment_plan_id", "service_group", "part", "domain", "statement_id", "evidence_category_id",
             "date", "text")
_PROBLEM_OWN = ("file", "json_path", "org_id", "problem", "value")

#: the tables collected row by row: name -> own columns (each row also has a record index)
_TABLES = {"hist": _HIST_OWN, "serv": _SERVICE_OWN, "rat": _RATING_OWN, "rep": _REPORT_OWN,
           "rel": _REL_OWN, "saf_hist": _SAF_HIST_OWN, "saf_rat": _SAF_RATING_OWN,
           "assess": _ASSESS_OWN, "kq": _KQ_OWN, "st": _ST_OWN, "text": _TEXT_OWN, "prob": _PROBLEM_OWN}


#: Columns that hold numbers, flags or values the reader made itself; every other column holds
#: text (or nothing) as the API publishes it, and a value of another JSON type there (a number, an
#: object, a list) is kept as text, or as nothing for an object or a list, and counted.
_NOT_TEXT = {"care_home", "number_of_beds", "n_location_ids", "inherited", "n_key_questions",
             "n_statements", "n_statements_assessed", "n_statements_scored", "current",
             "percentage_score", "score", "assessed", "n_evidence_categories",
             "n_evidence_with_commentary", "value", "domain", "rating", "rating_status", "framework",
             "rule_version", "statement_id", "evidence_category_id"}
try:  # glibc keeps memory freed by one step for the next; malloc_trim gives it back to the system
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # another C library: nothing to do
    _malloc_trim = None


def _release() -> None:
    """Return the memory the tables' steps freed to the system, so that the peak is the tables'."""
    if _malloc_trim is not None:
        _malloc_trim(0)


class _Skip(Exception):
    """A record file that cannot be read; carries the one-line reason."""


def _text(value):
    """The published rating text (stripped), or None when blank."""
    return None if value is None or str(value).strip() == "" else str(value).strip()


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


def _day(value):
    """The ISO date part of an API date or date-time ('2024-09-17 15:19:48'), or None."""
    if value is None:
        return None
    value = (value if type(value) is str else str(value)).strip()
    return value[:10] if value else None


def read_record(path):
    """One record file's JSON (orjson; the standard library's messages when it is not JSON).

    Raises
    ------
    DataFormatError
        Invalid JSON or not UTF-8, naming the file, line and column.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # the standard library's reading decides, and words the error as before
    try:
        return json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                              "expected a CQC API response", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text ({exc.reason}); expected a CQC API JSON response",
                              path=path) from None


_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


class _Col:
    """All values of one column: distinct texts and int32 codes (-1 for None) when every value is
    text or None; else the values themselves (``raw``, a list)."""

    __slots__ = ("codes", "_uniques", "arrow", "raw", "_sorted")

    def __init__(self, codes=None, uniques=None, raw=None, arrow=None):

        self.codes, self._uniques, self.raw, self._sorted = codes, uniques, raw, None
        if arrow is None and uniques is not None:
            arrow = pa.array(list(uniques), type=pa.large_string())
        self.arrow = arrow  # the distinct texts, in Arrow (never as Python objects unless asked)

    @property
    def uniques(self) -> np.ndarray:
        """The distinct texts as Python strings (for the few columns that need them so)."""
        if self._uniques is None:
            self._uniques = self.arrow.to_numpy(zero_copy_only=False)
        return self._uniques

    def __len__(self):
        return len(self.raw) if self.raw is not None else len(self.codes)

    def values(self) -> list:
        """The values as Python objects (None where missing)."""
        if self.raw is not None:
            return self.raw
        u = np.append(self.uniques, None)
        return u[self.codes].tolist()

    def infer(self) -> pd.Series:
        """The column as ``pandas.DataFrame`` infers it from rows of these values."""
        if self.raw is not None:
            return pd.Series(self.raw)
        if len(self.arrow) == 0 or (self.codes < 0).all():
            return pd.Series([None] * len(self.codes), dtype=object)
        return _str_take(self.arrow, self.codes)

    def take(self, idx: np.ndarray) -> pd.Series:
        """Rows ``idx`` of the column, inferred as for those rows alone."""
        if self.raw is not None:
            raw = self.raw
            return pd.Series([raw[i] for i in idx])
        codes = self.codes[idx]
        if len(codes) and (codes < 0).all():
            return pd.Series([None] * len(codes), dtype=object)
        if len(codes) == 0:
            return pd.Series([], dtype=object)
        return _str_take(self.arrow, codes)

    def categorical(self, idx: np.ndarray | None = None) -> pd.Categorical | None:
        """The column (rows ``idx``) as a categorical of its sorted distinct texts, unused ones kept."""
        if self.raw is not None:
            return None
        if self._sorted is None:

            order = pc.array_sort_indices(self.arrow).to_numpy() if len(self.arrow) else np.array([], np.int64)
            rank = np.empty(len(order), dtype=np.int32)
            rank[order] = np.arange(len(order), dtype=np.int32)
            cats = (pd.Index(_str_take(self.arrow, order.astype(np.int32)), dtype="str") if len(order)
                    else pd.Index([], dtype="str"))
            self._sorted = (rank, pd.CategoricalDtype(cats))
        rank, dtype = self._sorted
        codes = self.codes if idx is None else self.codes[idx]
        codes = np.where(codes < 0, -1, rank[np.maximum(codes, 0)] if len(rank) else -1).astype(np.int32)
        return pd.Categorical.from_codes(codes, dtype=dtype)


def _TakeCol(col: _Col, idx: np.ndarray) -> _Col:  # noqa: N802 - reads as the class it makes
    """Rows ``idx`` of a record-level column, as a column of their own."""
    if col.raw is not None:
        return _Col(raw=[col.raw[i] for i in idx])
    return _Col(col.codes[idx], arrow=col.arrow)


def _fixed(dtype):
    """A converter: ``pd.Categorical(column, dtype=dtype)``."""
    def convert(col: _Col):
        if col.raw is not None:
            return pd.Categorical(col.infer(), dtype=dtype)
        ucodes = pd.Categorical(col.uniques, dtype=dtype).codes if len(col.uniques) else np.array([], np.int8)
        table = np.append(ucodes, -1).astype(np.int16)
        codes = table[np.where(col.codes < 0, len(ucodes), col.codes)]
        return pd.Categorical.from_codes(codes, dtype=dtype)
    return convert


def _parsed(parse):
    """A converter: ``parse(column)`` (a date parser), run once per distinct value."""
    def convert(col: _Col):
        if col.raw is not None:
            return parse(col.infer())
        parsed = parse(list(col.uniques) + [None])  # the last one stands for every missing value
        codes = np.where(col.codes < 0, len(col.uniques), col.codes)
        return pd.Series(parsed.to_numpy()[codes], dtype=parsed.dtype)
    return convert


def _str_take(u, codes: np.ndarray) -> pd.Series:
    """Texts ``u`` (an Arrow array) at ``codes`` (-1: missing), as a pandas ``str`` Series."""

    idx = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pd.Series(ArrowStringArray(pa.chunked_array([u.take(idx)]), dtype=_STR_DTYPE))


def _as_text(values: list) -> tuple[list, int]:
    """Values of a text column with every other JSON type made text (objects and lists: None)."""
    out, n = [], 0
    for v in values:
        if v is None or type(v) is str:
            out.append(v)
        else:
            n += 1
            out.append(None if isinstance(v, dict | list) else str(v))
    return out, n


def _pack(values, *, text: bool = False, odd: Counter | None = None, name: str = ""):
    """A batch of one column's values: ``(int32 codes, Arrow texts)`` for text, else an object array.

    The values go to Arrow at once (in C); a value that is not text (a number, a flag, an
    object) makes the batch an object array, unless ``text``: then values of other JSON types
    are made text first (see :func:`_as_text`) and counted in ``odd[name]``.
    """
    try:
        arr = pa.array(values, type=pa.large_string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        arr = None
        if text:
            values, n = _as_text(values)
            if odd is not None:
                odd[name] += n
            try:
                arr = pa.array(values, type=pa.large_string())
            except (pa.ArrowException, TypeError, ValueError, UnicodeError):
                arr = None
    if arr is None:  # numbers, booleans, lists...: kept as they are
        out = np.empty(len(values), dtype=object)
        out[:] = list(values)
        return out
    enc = pc.dictionary_encode(arr)
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    # a batch's distinct values are few: its codes in 16 bits when they fit (half the memory)
    return codes.astype(np.int16 if len(enc.dictionary) < 2**15 else np.int32), enc.dictionary


def _unpack(parts: list) -> _Col:
    """Join the batches of :func:`_pack` into one :class:`_Col`."""
    if all(isinstance(p, tuple) for p in parts):
        if not parts:
            return _Col(np.array([], np.int32), arrow=pa.array([], type=pa.large_string()))
        allu = pa.concat_arrays([p[1] for p in parts])
        if len(allu):
            enc = pc.dictionary_encode(allu)
            gcodes = enc.indices.to_numpy(zero_copy_only=False)
            guniq = enc.dictionary
        else:
            gcodes, guniq = np.array([], np.int64), pa.array([], type=pa.large_string())
        out, start = [], 0
        for codes, u in parts:
            m = np.append(gcodes[start:start + len(u)], -1).astype(np.int32)
            out.append(m[codes])  # code -1 picks the appended -1
            start += len(u)
        return _Col(np.concatenate(out).astype(np.int32, copy=False), arrow=guniq)
    values: list = []
    for p in parts:
        if isinstance(p, tuple):
            u = np.append(p[1].to_numpy(zero_copy_only=False), None)
            values.extend(u[p[0]].tolist())
        else:
            values.extend(p.tolist())
    return _Col(raw=values)


class Builder:
    """Collects records column by column; :meth:`tables` builds the frames."""

    def __init__(self, unknown: str, batch: int = 2000):
        self.unknown = unknown
        self.org = {f: [] for f in ORG_FIELDS + EXTRA_FIELDS}
        self.files: list[str] = []          # record index -> file
        self.rows = {t: [] for t in _TABLES}  # this batch's rows: (record index, *own values)
        self.recs = {t: array("i") for t in _TABLES}
        self.saf_replaced: set = set()
        self.bad: list[tuple[str, str]] = []
        self.odd: Counter = Counter()  # values of another JSON type in a text column, by column
        self._rcache: dict = {}
        self._dcache: dict = {}
        self._scache: dict = {}
        self._score_cache: dict = {}
        self._intern: dict = {}
        self._lists = [*self.org.values(), *self.rows.values()]
        self._recs = list(self.recs.values())
        self.org_parts = {f: [] for f in self.org}
        self.parts = {t: {c: [] for c in own} for t, own in _TABLES.items()}
        self.batch = batch
        self._since = 0
        self._adding = None  # the org_id whose assessments may replace its current rating

    # -- one record -------------------------------------------------------------------------
    def add_file(self, path, level: str | None, *, keep_going: bool) -> bool:
        """Read one file (a path, or its text); on failure roll back and note it (or raise when not
        ``keep_going``)."""
        marks = [len(lst) for lst in self._lists]
        rmarks = [len(a) for a in self._recs]
        n_files = len(self.files)
        before = len(self.saf_replaced)
        try:
            rec = read_record(path)
            if not isinstance(rec, dict):
                raise DataFormatError("expected a JSON object (one organisation)", path=path)
            if level is None:
                level = "location" if "locationId" in rec else "provider" if "providerId" in rec else None
                if level is None:
                    raise DataFormatError("neither 'locationId' nor 'providerId' found; expected a CQC API "
                                          "location or provider record", path=path)
            self._adding = None
            self.add(rec, path, level)
        except Exception as exc:
            # nothing of a bad record stays: every column back to its length before it
            for lst, n in zip(self._lists, marks, strict=True):
                del lst[n:]
            for a, n in zip(self._recs, rmarks, strict=True):
                del a[n:]
            del self.files[n_files:]
            if len(self.saf_replaced) != before and self._adding is not None:
                self.saf_replaced.discard(self._adding)
            if isinstance(exc, UnknownRatingError) or not keep_going:
                if isinstance(exc, DataFormatError):
                    raise
                raise DataFormatError(f"cannot read this record: {type(exc).__name__}: {exc}",
                                      path=path) from exc
            reason = exc.detail if isinstance(exc, DataFormatError) else f"{type(exc).__name__}: {exc}"
            self.bad.append((str(path), reason))
            return False
        self._since += 1
        if self._since >= self.batch:
            self.flush()
        return True

    def org_count(self) -> int:
        return len(self.files)

    def flush(self) -> None:
        """Pack the values collected since the last flush (Python objects cost ~10x their data)."""
        for name, lst in self.org.items():
            if lst:
                self.org_parts[name].append(_pack(lst, text=name not in _NOT_TEXT, odd=self.odd,
                                                  name=name))
                del lst[:]
        for t, rows in self.rows.items():
            if rows:
                cols = list(zip(*rows, strict=True))  # one tuple per column, transposed in C
                del rows[:]
                self.recs[t].extend(cols[0])
                for name, col in zip(_TABLES[t], cols[1:], strict=True):
                    self.parts[t][name].append(_pack(col, text=name not in _NOT_TEXT, odd=self.odd, name=name))
                del cols
        self._since = 0

    def column(self, table: str | None, name: str) -> _Col:
        """All values of a column (a table's own, or with ``table=None`` a record-level one)."""
        self.flush()
        parts = self.org_parts[name] if table is None else self.parts[table][name]
        return _unpack(parts)

    def _rate(self, value, where, jpath):
        """(rating, status, text) of a published value, cached per distinct text."""
        if type(value) is str:
            hit = self._rcache.get(value)
            if hit is None:
                r, s = _rating(value, f"{where} ({jpath})", self.unknown)
                hit = self._rcache[value] = (r, s, _text(value))
            return hit
        r, s = _rating(value, f"{where} ({jpath})", self.unknown)
        return r, s, _text(value)

    def _dom(self, name, where, jpath):
        if type(name) is str:
            hit = self._dcache.get(name)
            if hit is None:
                hit = self._dcache[name] = normalise_domain(name, where=f"{where} ({jpath})")
            return hit
        return normalise_domain(name, where=f"{where} ({jpath})")

    def add(self, rec: dict, path: Path, level: str) -> None:
        """Append one record (``rec``, already parsed) of ``level`` ``location`` or ``provider``."""
        where = str(path)
        get = rec.get
        if level == "location":
            org_id = get("locationId")
            if not org_id:
                raise DataFormatError("no 'locationId' in a location record", path=path)
        else:
            org_id = get("providerId")
            if not org_id:
                raise DataFormatError("no 'providerId' in a provider record", path=path)
        cats = get("inspectionCategories") or []
        primary = next((c.get("name") for c in cats if str(c.get("primary")).lower() == "true"),
                       cats[0].get("name") if cats else None)
        if primary:
            sector = self._scache.get(primary) if type(primary) is str else None
            if sector is None:
                sector = sector_of(primary)
                if type(primary) is str:
                    self._scache[primary] = sector
        else:
            sector = _FALLBACK_SECTOR.get(get("type"), "Other")
        ri = self.org_count()
        is_loc = level == "location"
        provider_id = get("providerId") if is_loc else org_id
        o = self.org
        last_insp = get("lastInspection") or {}
        last_rep = get("lastReport") or {}
        values = (
            level, org_id, org_id if is_loc else None, get("odsCode") if is_loc else None,
            get("name") if is_loc else None, provider_id, None if is_loc else get("odsCode"),
            None if is_loc else get("name"), {"Y": True, "N": False}.get(get("careHome")), get("type"),
            primary, sector, get("postalCode"), get("localAuthority"), get("region"), None,
            get("brandId"), get("brandName"),
            get("registrationStatus"), get("registrationDate"), get("deregistrationDate"),
            get("numberOfBeds"), get("inspectionDirectorate"), last_insp.get("date"),
            last_rep.get("publicationDate"), get("odsCode"),
            None if is_loc else len(get("locationIds") or []),
        )
        for name, v in zip(ORG_FIELDS + EXTRA_FIELDS, values, strict=True):
            o[name].append(v)
        self.files.append(where)
        intern = self._intern.setdefault
        reports = get("reports") or []
        visits = {r.get("linkId"): r.get("firstVisitDate") for r in reports if r.get("linkId")}
        rows = self.rows["rep"]
        for r in reports:
            rows.append((ri, r.get("linkId"), r.get("reportType"), r.get("reportDate"), r.get("firstVisitDate")))
        areas = {a.get("inspectionAreaId"): a.get("inspectionAreaName") for a in get("inspectionAreas") or []}
        rows = self.rows["rel"]
        for rel in get("relationships") or []:
            rows.append((ri, rel.get("relatedLocationId") or rel.get("relatedProviderId"),
                         rel.get("relatedLocationName") or rel.get("relatedProviderName"), rel.get("type"),
                         rel.get("reason")))
        current = get("currentRatings") or {}
        overall = current.get("overall")
        if overall:
            self._overall(ri, overall, None, None, None, "current", visits, where, "currentRatings.overall",
                          intern, with_rating=True, level_cap=level.capitalize())
        for i, srv in enumerate(current.get("serviceRatings") or []):
            self._service(ri, srv, srv.get("reportDate"), srv.get("reportLinkId"), srv.get("organisationId"),
                          "current", areas, where, f"currentRatings.serviceRatings[{i}]", intern,
                          with_rating=True)
        for i, h in enumerate(get("historicRatings") or []):
            date, link, org_from = h.get("reportDate"), h.get("reportLinkId"), h.get("organisationId")
            if h.get("overall"):
                self._overall(ri, h["overall"], date, link, org_from, "historic", visits, where,
                              f"historicRatings[{i}].overall", intern, with_rating=False)
            for j, srv in enumerate(h.get("serviceRatings") or []):
                self._service(ri, srv, srv.get("reportDate") or date, srv.get("reportLinkId") or link,
                              srv.get("organisationId") or org_from, "historic", areas, where,
                              f"historicRatings[{i}].serviceRatings[{j}]", intern, with_rating=False)
        if get("assessment"):
            _collect_assessments(self, ri, rec, where, org_id, level, intern)

    def _overall(self, ri, ov, date, link, org_from, source, visits, where, jpath, intern, *, with_rating,
                 level_cap=None):
        date = ov.get("reportDate") or date
        link = ov.get("reportLinkId") or link
        org_from = ov.get("organisationId") or org_from
        items = [("Overall", ov.get("rating"), date, link, org_from)]
        for kq in ov.get("keyQuestionRatings") or []:
            items.append((kq.get("name"), kq.get("rating"), kq.get("reportDate") or date,
                          kq.get("reportLinkId") or link, kq.get("organisationId") or org_from))
        hist, rat = self.rows["hist"], self.rows["rat"]
        rcache, dcache = self._rcache, self._dcache
        for name, value, d, lk, of in items:
            hit = rcache.get(value) if type(value) is str else None
            rating, status, text = hit if hit is not None else self._rate(value, where, jpath)
            domain = dcache.get(name) if type(name) is str else None
            if domain is None:
                domain = self._dom(name, where, jpath)
            hist.append((ri, d, visits.get(lk), lk, domain, rating, status, text, source, of))
            if with_rating:
                rat.append((ri, "Overall", domain, rating, status, text, d, level_cap, of is not None))

    def _service(self, ri, srv, date, link, org_from, source, areas, where, jpath, intern, *, with_rating):
        sid = srv.get("name")
        sname = areas.get(sid, sid)
        items = [("Overall", srv.get("rating"))] + [(k.get("name"), k.get("rating"))
                                                     for k in srv.get("keyQuestionRatings") or []]
        serv, rat = self.rows["serv"], self.rows["rat"]
        for name, value in items:
            rating, status, text = self._rate(value, where, jpath)
            domain = self._dom(name, where, jpath)
            serv.append((ri, date, link, sid, sname, domain, rating, status, text, source, org_from))
            if with_rating:
                rat.append((ri, sname, domain, rating, status, text, date, "Core Service", org_from is not None))

    # -- frames -----------------------------------------------------------------------------
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of :class:`~cqc_research.io.cqc_json.ApiData`, as the reader defines them."""
        self.flush()
        self._intern = {}
        return _Finisher(self).tables()


# ---------------------------------------------------------------------------------------------
# the single assessment framework (2023 onwards): ``assessment`` objects
def _saf_rating(value, non_scale):
    """(rating, status) of a rating in an assessment; non-scale values such as 'Regulations met' are kept."""
    if value is None or str(value).strip() == "":
        return None, "No published rating"
    rating, status = normalise_rating(value)
    if status is not None:
        return rating, status
    known = non_scale.get(str(value).strip().casefold())
    return None, known or "Unknown"


def _collect_assessments(b: Builder, ri: int, rec: dict, where: str, org_id, level: str, intern) -> None:
    """Read a record's ``assessment`` list into the builder's assessment columns.

    Each ``ratings.asgRatings[]`` entry (one per assessment service group) is one assessment.
    Anything malformed (a score off the 1-4 scale, no ``asgRatings``, no publication date) goes
    to the problems table with its file and JSON path, and the rest of the record still loads.
    """

    items = rec.get("assessment")
    prob = b.rows["prob"]

    def problem(jpath, text, value=None):
        prob.append((ri, where, jpath, org_id, text,
                     None if value is None else json.dumps(value, default=str)[:2000]))

    if not isinstance(items, list):
        problem("assessment", "expected a list of assessments", items)
        return
    non_scale = {s.casefold(): s for s in NON_SCALE_SCORES}
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
            _collect_group(b, ri, g, gp, where, pub, published_at, problem, rated, non_scale, intern, level)
    # the location's current rating: its latest published rated assessment, when newer than
    # currentRatings (or when currentRatings is missing)
    if rated and level in ("location", "provider"):
        rated.sort(key=lambda r: r["publication_date"])
        latest = rated[-1]
        cur = ((rec.get("currentRatings") or {}).get("overall") or {}) if isinstance(rec.get("currentRatings"), dict) else {}
        cur_date = _day(cur.get("reportDate")) or _day((rec.get("currentRatings") or {}).get("reportDate")
                                                        if isinstance(rec.get("currentRatings"), dict) else None)
        if not cur.get("rating") or cur_date is None or latest["publication_date"] > cur_date:
            b._adding = org_id
            b.saf_replaced.add(org_id)
            latest["row"][1 + _ASSESS_OWN.index("current")] = True
            saf_rat = b.rows["saf_rat"]
            for domain, rating, status in latest["ratings"]:
                saf_rat.append((ri, "Overall", domain, rating, status, latest["publication_date"],
                                level.capitalize(), False, None, FRAMEWORK_SAF))


def _collect_group(b, ri, g, gp, where, pub, published_at, problem, rated, non_scale, intern, level):
    """One service-group assessment (``asgRatings[j]``): its key questions and statements."""

    plan = g.get("assessmentPlanId")
    group = g.get("name")
    adate = _day(g.get("assessmentDate"))
    version = rule_for(adate or pub).version
    rating, status = _saf_rating(g.get("rating"), non_scale)
    if status == "Unknown":
        problem(f"{gp}.rating", f"unknown overall rating {g.get('rating')!r}", g.get("rating"))
    text_rows, kq_rows, st_rows = b.rows["text"], b.rows["kq"], b.rows["st"]
    scores = b._score_cache

    def text(part, domain, sid, eid, date, value):
        text_rows.append((ri, plan, group, part, domain, sid, eid, date, value))

    for part, key, dkey in (("commentary", "commentary", "commentaryDate"),
                            ("people's experience", "overallPeopleExperience", "overallPeopleExperienceDate")):
        if g.get(key):
            text(part, "Overall", None, None, _day(g.get(dkey)), g[key])
    kq_ratings = []
    n_kq = n_st = n_st_assessed = 0
    for k, kq in enumerate(g.get("keyQuestionRatings") or []):
        kp = f"{gp}.keyQuestionRatings[{k}]"
        try:
            domain = b._dom(kq.get("name"), where, kp)
        except DataFormatError as exc:
            problem(kp, str(exc.args[0]) if exc.args else "unknown key question", kq.get("name"))
            continue
        kr, ks = _saf_rating(kq.get("rating"), non_scale)
        if ks == "Unknown":
            problem(f"{kp}.rating", f"unknown key-question rating {kq.get('rating')!r}", kq.get("rating"))
        pct_raw = kq.get("percentageScore")
        try:
            pct = float(pct_raw) if pct_raw not in (None, "") else None
        except (TypeError, ValueError):
            problem(f"{kp}.percentageScore", f"percentage score {pct_raw!r} is not a number", pct_raw)
            pct = None
        if kq.get("commentary"):
            text("key question commentary", domain, None, None, _day(kq.get("commentaryDate")), kq["commentary"])
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
            raw_score = ta.get("qualityStatementscore")
            parsed = scores.get(raw_score) if type(raw_score) is str else None
            if parsed is None:
                try:
                    parsed = parse_statement_score(raw_score, where=f"{where} ({tp}.qualityStatementscore)")
                except DataFormatError as exc:
                    problem(f"{tp}.qualityStatementscore", exc.args[0] if exc.args else "malformed score",
                            raw_score)
                    continue
                if type(raw_score) is str:
                    scores[raw_score] = parsed
            score, desc, sstatus = parsed
            evidence = ta.get("evidenceCategory") or []
            with_text = 0
            for e in evidence:
                if isinstance(e, dict) and str(e.get("commentary") or "").strip():
                    with_text += 1
                    text("evidence category commentary", domain, sid, e.get("evidenceCategoryId"),
                         _day(e.get("commentaryDate")), e["commentary"])
            assessed = str(ta.get("status") or "").strip().casefold() == "assessed"
            n_scored += score is not None
            n_assessed += assessed
            n_st += 1
            n_st_assessed += assessed
            st_rows.append((ri, plan, group, adate, pub, version, domain, sid, ta.get("name"), score, desc,
                            sstatus, ta.get("status"), assessed, len(evidence), with_text, tp))
        kq_rows.append((ri, plan, group, adate, pub, version, domain, kr, ks, pct, kq.get("narrative"),
                        kq.get("status"), len(topics), n_scored, n_assessed, kp))
        kq_ratings.append((domain, kr, ks))
        n_kq += 1
    row = [ri, plan, g.get("assessmentPlanStatus"), group, g.get("title"), g.get("status"), adate, published_at,
           pub, _day(g.get("commentaryDate")), rating, status, g.get("narrative"), version, n_kq, n_st,
           n_st_assessed, False, where, gp]
    b.rows["assess"].append(row)  # a list: ``current`` may be set when the record's assessments are read
    if rating is None:
        return  # not rated (for example a dental practice): kept in the assessment tables only
    ratings = [("Overall", rating, status)] + [r for r in kq_ratings if r[2] in STATUS_DTYPE.categories]
    saf_hist = b.rows["saf_hist"]
    for domain, r, s in ratings:
        saf_hist.append((ri, pub, adate, plan, domain, r, s, "assessment", None, FRAMEWORK_SAF))
    rated.append({"publication_date": pub, "ratings": ratings, "row": row})


# ---------------------------------------------------------------------------------------------
# building the frames (each carries ``_rec``, the record index of its rows, until the end)
def api_dates(values) -> pd.Series:
    """API dates: ISO (``2013-11-04``, with or without a time), else day-first (``04/11/2013``)."""
    s = pd.Series(values, dtype="object")
    out = pd.to_datetime(s, errors="coerce", format="ISO8601")
    todo = out.isna() & s.notna() & (s.astype(str).str.strip() != "")
    if todo.any():
        out[todo] = pd.to_datetime(s[todo].astype(str).str.strip().str[:10], errors="coerce",
                                   format="%d/%m/%Y")
    return out


def _iso(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object"), errors="coerce", format="ISO8601")


def _by_distinct(series: pd.Series, parse) -> pd.Series:
    """``parse`` (a function of a list of values, giving a Series) run once per distinct value."""
    values = series.to_numpy(dtype=object)
    if len(values) == 0:
        return parse([])
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values: parse them all
        return parse(list(values))
    parsed = parse(list(uniques) + [None])  # the last one stands for every missing value
    arr = parsed.to_numpy()
    codes = np.where(codes < 0, len(uniques), codes)
    return pd.Series(arr[codes], dtype=parsed.dtype)


def _infer(values) -> pd.Series:
    """A column as ``pandas.DataFrame`` infers it from rows of Python values."""
    return pd.Series(values)


def _recs(a) -> np.ndarray:
    return np.frombuffer(a, dtype=np.int32).astype(np.int64) if len(a) else np.array([], dtype=np.int64)


def _sort_key(s: pd.Series) -> np.ndarray:
    if s.dtype.kind == "M":
        v = s.to_numpy().view("i8").copy()
        v[s.isna().to_numpy()] = np.iinfo(np.int64).max  # NaT last, as sort_values puts it
        return v
    codes, _ = pd.factorize(s, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, np.iinfo(np.int64).max, codes)


def stable_order(frame: pd.DataFrame, by: list[str], keys: dict | None = None) -> np.ndarray:
    """The row order of ``frame.sort_values(by, kind="stable")`` (missing values last); ``keys``
    may give a column's sort key (integers in the order of its values) ready made."""
    keys = keys or {}
    try:
        return np.lexsort([keys[c] if c in keys else _sort_key(frame[c]) for c in reversed(by)])
    except TypeError:  # values that do not compare (mixed types): pandas decides
        return frame.reset_index(drop=True).sort_values(by, kind="stable").index.to_numpy()


def same_dtypes(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give text columns that a concat turned into ``object`` the dtype they had in ``like``."""
    for c in frame.columns:
        if c in like and frame[c].dtype == object and like[c].dtype != object \
                and pd.api.types.is_string_dtype(like[c].dtype):
            frame[c] = frame[c].astype(like[c].dtype)
    return frame


#: the text columns kept as categoricals (of their sorted distinct values): labels that repeat
#: over many rows of the large tables
COMPACT = {
    "history": ("level", "provider_id", "inspection_category", "local_authority", "region", "source"),
    "ratings": ("level", "location_type", "inspection_category", "local_authority", "region", "service_group",
                "report_type"),
    "reports": ("level", "location_type", "inspection_category", "report_type"),
    "statement_scores": ("level", "service_group", "rule_version", "statement_name", "score_description",
                         "score_status", "status", "json_path"),
    "key_question_scores": ("level", "service_group", "rule_version", "status", "json_path"),
    "assessment_text": ("service_group", "part", "domain"),
}


def _compact_cat(col: pd.Series) -> pd.Series:
    """A text column as a categorical of its sorted distinct values."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.remove_unused_categories()
    return col.astype("category")


def _pairs_in(frame: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Whether each row's pair of values is a row of ``other`` (missing values equal each other)."""
    keys = []
    for c in frame.columns:
        both = pd.concat([frame[c].astype(object), other[c].astype(object)], ignore_index=True)
        codes, uniques = pd.factorize(both, use_na_sentinel=False)
        keys.append((codes.astype(np.int64), len(uniques) + 1))
    combined = keys[0][0] * keys[1][1] + keys[1][0]
    n = len(frame)
    return np.isin(combined[:n], combined[n:]) if n else np.array([], dtype=bool)


def _duplicated(frame: pd.DataFrame, order: np.ndarray, org_key: np.ndarray) -> np.ndarray:
    """``frame.take(order).duplicated(["org_id", "level", "report_link_id", "domain", "report_date"])``,
    on integer codes (the organisation from its record)."""
    if len(frame) == 0:
        return np.array([], dtype=bool)
    link, _ = pd.factorize(frame["report_link_id"], use_na_sentinel=False)
    keys = {"o": org_key[frame["_rec"].to_numpy()], "l": pd.Series(frame["level"]).astype("category").cat.codes,
            "k": link, "d": frame["domain"].cat.codes, "t": frame["report_date"].to_numpy().view("i8")}
    return pd.DataFrame({k: np.asarray(v)[order] for k, v in keys.items()}).duplicated(keep="first").to_numpy()


def _concat_text(parts: list, dtype) -> pd.Series | None:
    """``pd.concat(parts).astype(dtype)`` in Arrow, for text parts (``dtype``, the pyarrow ``str``)
    and parts of nothing but missing values; else None. No Python string is made."""
    if dtype is None or not isinstance(dtype, pd.StringDtype) or dtype != _STR_DTYPE:
        return None
    arrays = []
    for p in parts:
        if p.dtype == _STR_DTYPE:
            arrays.extend(p.array._pa_array.chunks)
        elif p.dtype == object and p.isna().all():
            arrays.append(pa.nulls(len(p), type=pa.large_string()))
        else:
            return None
    if not any(p.dtype == _STR_DTYPE for p in parts):
        return None
    arrays = [a.cast(pa.large_string()) if a.type != pa.large_string() else a for a in arrays]
    return pd.Series(ArrowStringArray(pa.chunked_array(arrays, type=pa.large_string()), dtype=_STR_DTYPE))


def _take_columns(frames: list, order: np.ndarray, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True).take(order)``, made column by column and emptying
    ``frames`` as it goes (so that the tables are never held twice); with ``like``, text columns
    that the concat made ``object`` get their dtype in ``like`` back (:func:`same_dtypes`)."""
    out = {}
    like = dict(like.dtypes) if like is not None else {}
    for c in list(frames[0].columns):
        parts = [f.pop(c) for f in frames]
        col = parts[0] if len(parts) == 1 else _concat_text(parts, like.get(c))
        if col is None:
            col = pd.concat(parts, ignore_index=True)
        del parts
        col = col.take(order).reset_index(drop=True)
        if c in like and col.dtype == object and like[c] != np.dtype(object) and pd.api.types.is_string_dtype(like[c]):
            col = col.astype(like[c])
        out[c] = col
    return pd.DataFrame(out)


class _Finisher:
    """Builds the tables from a :class:`Builder`'s columns, as the row-by-row reader did."""

    def __init__(self, b: Builder):
        self.b = b
        self._org: dict = {}
        self._cats: dict = {}

    def org_col(self, name: str) -> _Col:
        """A record-level column."""
        if name not in self._org:
            self._org[name] = self.b.column(None, name)
        return self._org[name]

    def take(self, name: str, idx: np.ndarray, compact: bool = False):
        """Record-level column ``name`` for rows of record ``idx``, inferred as for those rows alone
        (``compact``: as a categorical with every record's values as categories)."""
        col = self.org_col(name)
        if compact:
            cat = col.categorical(idx)
            if cat is not None:
                return pd.Series(cat)
        return col.take(idx)

    def own(self, table: str, name: str) -> pd.Series:
        col = self.b.column(table, name)
        self.b.parts[table][name] = []  # read once: free the batches
        return col

    def frame(self, table: str, columns, org_cols, missing=object, convert=None, compact=()) -> pd.DataFrame:
        """``pd.DataFrame(rows, columns=columns)`` of the row-by-row reader, plus ``_rec``.

        ``convert`` maps a column to a function of its :class:`_Col` giving the converted column
        (applied at once, so that the text form of a large column never exists whole); columns in
        ``compact`` become categoricals.
        """
        convert = convert or {}
        recs = _recs(self.b.recs[table])
        if len(recs) == 0:
            frame = pd.DataFrame([], columns=list(columns))
            for c, fn in convert.items():
                frame[c] = fn(_Col(np.array([], np.int32), np.array([], dtype=object)))
        else:
            own = _TABLES[table]
            data = {}
            for c in columns:
                if c in org_cols:
                    if c in convert:
                        data[c] = convert[c](_TakeCol(self.org_col(c), recs))
                    else:
                        data[c] = self.take(c, recs, compact=c in compact)
                elif c in own:
                    col = self.own(table, c)
                    data[c] = convert[c](col) if c in convert else (
                        pd.Series(col.categorical()) if c in compact and col.raw is None else col.infer())
                else:
                    data[c] = pd.Series(np.full(len(recs), np.nan, dtype=missing))
            frame = pd.DataFrame(data)
        for c in compact:
            if c in frame and not isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].astype("category")
        frame["_rec"] = recs
        return frame

    def org_key(self) -> np.ndarray:
        """Each record's organisation ID as an integer that sorts as the ID does (missing last)."""
        cat = self.org_col("org_id").categorical()
        if cat is None:  # IDs that are not all text: rank them as pandas sorts them
            codes, _ = pd.factorize(pd.Series(self.org_col("org_id").values()), sort=True)
        else:
            codes = cat.codes.astype(np.int64)
        return np.where(codes < 0, np.iinfo(np.int64).max, codes)

    def orgs(self, lev: str) -> pd.DataFrame:
        level = self.org_col("level").values()
        idx = np.array([i for i, v in enumerate(level) if v == lev], dtype=np.int64)
        if len(idx) == 0:
            frame = pd.DataFrame()
            frame["_rec"] = np.array([], dtype=np.int64)
            return frame
        frame = pd.DataFrame({f: self.take(f, idx) for f in ORG_FIELDS + EXTRA_FIELDS})
        for c in ("registration_date", "deregistration_date", "last_inspection_date", "last_report_date"):
            frame[c] = _by_distinct(frame[c], api_dates)
        frame["sector"] = pd.Categorical(frame["sector"], dtype=SECTOR_DTYPE)
        frame["care_home"] = frame["care_home"].astype("boolean")
        frame["number_of_beds"] = pd.to_numeric(frame["number_of_beds"], errors="coerce")
        frame["_rec"] = idx
        return frame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables, each with a ``_rec`` column (the record index of each row)."""
        hist_org = ("org_id", "level", "provider_id", "sector", "inspection_category", "local_authority", "region")
        ratings_conv = {"domain": _fixed(DOMAIN_DTYPE), "rating": _fixed(RATING_DTYPE),
                        "rating_status": _fixed(STATUS_DTYPE)}
        api = _parsed(api_dates)
        iso = _parsed(_iso)
        history = self.frame("hist", HISTORY_COLUMNS, hist_org, compact=COMPACT["history"][:-1],
                             convert={**ratings_conv, "report_date": api, "inspection_date": api,
                                      "sector": _fixed(SECTOR_DTYPE)})
        _release()
        services = self.frame("serv", SERVICE_COLUMNS, ("org_id",), convert={**ratings_conv, "report_date": api})
        if len(self.b.recs["rat"]):
            ratings = self.frame("rat", LONG_COLUMNS, ORG_FIELDS, compact=COMPACT["ratings"][:5],
                                 convert={**ratings_conv, "publication_date": api, "sector": _fixed(SECTOR_DTYPE)})
            ratings["url"] = pd.Series([None] * len(ratings), dtype=object)
        else:
            ratings = pd.DataFrame([]).reindex(columns=LONG_COLUMNS)
            for c, fn in {**ratings_conv, "publication_date": api, "sector": _fixed(SECTOR_DTYPE)}.items():
                ratings[c] = fn(_Col(np.array([], np.int32), np.array([], dtype=object)))
            ratings["_rec"] = np.array([], dtype=np.int64)
        # a report listed in both current and historic ratings is kept once (the current copy)
        # the history is taken once, in its final order: the rows kept (``kept``, in the order of
        # organisation, date and source) and, below, the assessments' rows merged into them
        org_key = self.org_key()
        order = stable_order(history, ["org_id", "report_date", "source"],
                             keys={"org_id": org_key[history["_rec"].to_numpy()]})
        kept = order[~_duplicated(history, order, org_key)]
        del order
        is_kept = np.zeros(len(history), dtype=bool)
        is_kept[kept] = True
        rated = is_kept & ((history["domain"] == "Overall") & history["rating"].notna()).to_numpy()
        rated_pairs = history.loc[rated, ["org_id", "report_link_id"]]
        del is_kept, rated
        # -- the single assessment framework
        fw_dtype = pd.CategoricalDtype([FRAMEWORK_2014, FRAMEWORK_SAF])
        saf_hist = self.frame("saf_hist", HISTORY_COLUMNS, hist_org, compact=COMPACT["history"][:-1],
                              convert={**ratings_conv, "report_date": iso, "inspection_date": iso,
                                       "sector": _fixed(SECTOR_DTYPE), "framework": _fixed(fw_dtype)})
        history["framework"] = pd.Categorical.from_codes(np.zeros(len(history), dtype=np.int8), dtype=fw_dtype)
        if len(saf_hist):
            saf_hist = saf_hist[~_duplicated(saf_hist, np.arange(len(saf_hist)), org_key)].reset_index(drop=True)
            by = ["report_date", "source"]
            order = stable_order(pd.concat([history[by].take(kept), saf_hist[by]], ignore_index=True),
                                 ["org_id", *by],
                                 keys={"org_id": np.concatenate([org_key[history["_rec"].to_numpy()[kept]],
                                                                 org_key[saf_hist["_rec"].to_numpy()]])})
            kept = np.concatenate([kept, len(history) + np.arange(len(saf_hist))])[order]
            del order
            history = _take_columns([history, saf_hist], kept, like=history)
        else:
            history = _take_columns([history], kept)
        del kept, saf_hist
        _release()
        services = services[~services.duplicated(["org_id", "report_link_id", "service", "domain"])]
        services = services.reset_index(drop=True)
        ratings["care_home"] = ratings["care_home"].astype("boolean")
        ratings["inherited"] = ratings["inherited"].astype("boolean")
        locs, provs = self.orgs("location"), self.orgs("provider")
        rels = self.frame("rel", ["org_id", "related_id", "related_name", "type", "reason"], ("org_id",))
        reports = self.frame("rep", REPORT_COLUMNS, ("org_id", "level", "provider_id", "location_type",
                                                     "inspection_category", "sector"),
                             compact=COMPACT["reports"][:3],
                             convert={"report_date": api, "first_visit_date": api, "sector": _fixed(SECTOR_DTYPE)})
        reports["rated"] = _pairs_in(reports[["org_id", "report_link_id"]], rated_pairs)
        del rated_pairs
        tables = {"locations": locs, "providers": provs, "ratings": ratings, "history": history,
                  "service_ratings": services, "relationships": rels, "reports": reports}
        ratings["framework"] = pd.Categorical.from_codes(np.zeros(len(ratings), dtype=np.int8), dtype=fw_dtype)
        replaced = self.b.saf_replaced
        if replaced:
            keep = ~(ratings["org_id"].isin(replaced) & (ratings["service_group"] == "Overall"))
            new = self.frame("saf_rat", [*LONG_COLUMNS, "framework"], ORG_FIELDS, missing=np.float64,
                             compact=COMPACT["ratings"][:5],
                             convert={**ratings_conv, "publication_date": iso, "sector": _fixed(SECTOR_DTYPE),
                                      "framework": _fixed(fw_dtype)})
            new["care_home"] = new["care_home"].astype("boolean")
            new["inherited"] = new["inherited"].astype("boolean")
            kept = ratings[keep]
            by = ["level", "org_id"]
            order = stable_order(pd.concat([kept[by], new[by]], ignore_index=True), by)
            ratings = _take_columns([kept, new], order, like=ratings)
            _release()
            del kept
        tables.update(history=history, ratings=ratings)
        dated = {"assessment_date": iso, "publication_date": iso, "sector": _fixed(SECTOR_DTYPE)}
        frames = {}  # one by one, each step's memory given back before the next
        frames["assessments"] = self.frame("assess", ASSESSMENT_COLUMNS, hist_org,
                                           convert={**dated, "commentary_date": iso, "published": iso,
                                                    "rating": _fixed(RATING_DTYPE)})
        frames["key_question_scores"] = self.frame("kq", KEY_QUESTION_SCORE_COLUMNS, ("org_id", "level", "sector"),
                                                   compact=COMPACT["key_question_scores"],
                                                   convert={**dated, "domain": _fixed(DOMAIN_DTYPE),
                                                            "rating": _fixed(RATING_DTYPE)})
        _release()
        frames["statement_scores"] = self.frame("st", STATEMENT_SCORE_COLUMNS, ("org_id", "level", "sector"),
                                                compact=COMPACT["statement_scores"],
                                                convert={**dated, "domain": _fixed(DOMAIN_DTYPE)})
        _release()
        frames["assessment_text"] = self.frame("text", ASSESSMENT_TEXT_COLUMNS, ("org_id",),
                                               compact=COMPACT["assessment_text"])
        frames["assessment_problems"] = self.frame("prob", ASSESSMENT_PROBLEM_COLUMNS, ())
        _release()
        a = frames["assessments"]
        a["current"] = a["current"].astype(bool)
        kq = frames["key_question_scores"]
        kq["percentage_score"] = pd.to_numeric(kq["percentage_score"], errors="coerce").astype("Float64")
        for c in ("n_statements", "n_statements_scored", "n_statements_assessed"):
            kq[c] = kq[c].astype("Int64")
        st = frames["statement_scores"]
        st["score"] = pd.to_numeric(st["score"], errors="coerce").astype("Int64")
        st["statement_id"] = st["statement_id"].astype("Int64")
        st["assessed"] = st["assessed"].astype("boolean")
        frames["assessment_text"]["statement_id"] = frames["assessment_text"]["statement_id"].astype("Int64")
        tables.update(frames)
        _release()
        for t in ("history", "service_ratings", "ratings"):  # one dtype after the assessment rows join
            col = tables[t]["rating_text"]
            if col.dtype == _STR_DTYPE and col.notna().any():  # the same, without a Python string each
                tables[t]["rating_text"] = col.astype("category")
            else:
                tables[t]["rating_text"] = col.astype("object").astype("category")
        tables = compact(tables)
        _release()
        return tables


def compact(tables: dict) -> dict:
    """The :data:`COMPACT` columns as categoricals of the values they hold."""
    for name, cols in COMPACT.items():
        frame = tables[name]
        for c in cols:
            if c in frame:
                frame[c] = _compact_cat(frame[c])
    return tables


def split_recs(tables: dict) -> tuple[dict, dict]:
    """``(tables without their _rec column, {table: record index of each row})``."""
    out, recs = {}, {}
    for name, frame in tables.items():
        recs[name] = frame["_rec"].to_numpy(dtype=np.int64) if "_rec" in frame else np.array([], np.int64)
        frame = frame.drop(columns="_rec") if "_rec" in frame else frame
        if frame.shape == (0, 0):
            frame = pd.DataFrame()
        out[name] = frame
    return out, recs
