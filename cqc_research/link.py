"""Join CQC ratings to NHS performance indicators, with a linkage report.

The join is where studies quietly go wrong: codes change when trusts merge, practices close, and
local authorities were renumbered. :func:`link_indicators` makes every one of those decisions
visible. It returns a :class:`Linkage` with

- ``.data``: the analysis-ready frame, one row per rated organisation (per rating, for a rating
  history) with the chosen indicator measures as columns;
- ``.report``: one row per organisation code on either side (``side`` = ``ratings`` or
  ``indicators``) with its ``status`` (``matched`` / ``unmatched``), ``reason`` and ``detail``;
- ``.used``: which indicator row (code, period) each value came from;
- ``.summary()``: counts by side, status and reason.

Codes at each level
-------------------
===================  ===========================================  ===============================
level                ratings side                                 indicators (``org_level``)
===================  ===========================================  ===============================
``practice``         location ODS code (GP practice code)         ``practice`` (GP payments, IMD)
``site``             location ODS code (``RXX01``)                ``site``
``trust``            provider ID (= trust ODS code, ``RXX``)      ``trust`` (A&E, SHMI, staff)
``local_authority``  location's local authority *name*            ``local_authority`` (DTOC, ...)
===================  ===========================================  ===============================

Time: no leakage
----------------
By default (``window="last"``) each measure takes the **last full period that ended before the
rating's publication date** (``period_end < publication_date``): for an annual measure the last
complete financial year, for a monthly one the last complete month. ``window=12`` instead
averages the periods that lie wholly within the 12 months before publication. Nothing from
on or after the publication date is used. (``window="latest"`` is the explicit exception, for
cross-sectional questions about current ratings: it takes the latest period whatever the date.) Time-invariant measures (deprivation; NaT periods)
are attached whatever the date. ``max_age`` rejects values whose period ended too long before.

Mergers and old codes
---------------------
A predecessor's series is attributed to its successor for the periods before the merger, so a
rating of the new trust (or an inherited rating published under the old one) finds the
indicators of the organisation as it was then. Successions come from the API's
``relationships`` table (``HSCA Predecessor`` / ``HSCA Successor`` between locations, mapped
to trusts through the locations' providers) and from a ``successors`` table you supply. When
two predecessors report the same period their counts are added and their ratios recomputed
from the summed numerators and denominators; a measure that is neither (a banding, a score
without counts) becomes NaN rather than a guess. When a trust split, its whole series goes to
each successor: an approximation the report's ``detail`` makes visible.

Local-authority codes are reconciled across old and new codes (:func:`reconcile_la_codes`):
a lookup table when given, otherwise by the normalised area name (case, ``&``/``and``,
punctuation, ``City of``) shared by the old and the new code in the indicator files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataFormatError
from .geography import la_name_map, normalise_area_name, reconcile_la_codes
from .io import read_source
from .io.cqc_files import load_latest_ratings, ratings_wide
from .io.nhs import financial_year, load_la_codes
from .ratings import DOMAINS, RATING_DTYPE, filter_sector

__all__ = ["Linkage", "link_indicators", "link_ratings_to_payments"]

LEVELS = ("practice", "site", "trust", "local_authority")
#: Reasons used in the linkage report.
REASONS = {
    "matched": "an indicator value was found for a rating",
    "matched via predecessor": "every value came from a predecessor's series (merger)",
    "no code at this level": "the rated organisation has no code that this level joins on",
    "code not found": "no partner on the other side under this code (or its predecessors)",
    "no indicator before publication": "the code has indicators, but none ended before the "
                                       "rating was published (or within max_age / the window)",
    "closed practice": "the practice has a close date in the payments file",
    "merged trust": "the code was superseded by a successor (predecessor relationship or "
                    "successor map); its series is attributed to the successor",
    "superseded code": "as merged trust, at practice or site level",
    "old area code": "an old local-authority code, reconciled to the current code",
    "ambiguous area name": "the area name matches more than one current code",
}
_DATE = "datetime64[ns]"
_ADDITIVE_PREFIXES = ("ae_attendances", "ae_breaches", "emergency_admissions", "ae_dta_waits",
                      "dtoc_days", "list_size", "weighted_list_size", "total_payments",
                      "shmi_observed_deaths", "shmi_expected_deaths", "shmi_spells",
                      "population_65plus")
_SECTOR_FOR_LEVEL = {"practice": "GP practices", "site": "NHS hospitals", "trust": "NHS hospitals",
                     "local_authority": None}


# =============================================================================================
@dataclass
class Linkage:
    """The result of :func:`link_indicators`.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per rated organisation (per rating for a history), its identifiers, the domain
        ratings, ``publication_date``, ``link_code`` (the code joined on) and one column per
        measure.
    report : pandas.DataFrame
        One row per organisation code on either side: ``side, org_code, org_name, status,
        reason, detail, n_ratings, n_indicator_rows, first_period, last_period``.
    used : pandas.DataFrame
        Provenance: for each rating row and measure, the ``via_code`` (the code that reported
        it, a predecessor's when attributed), ``period_start``, ``period_end``, ``n_periods``.
    level, window, measures
        The options used.
    synthetic : bool
        Whether either input came from the synthetic dataset.
    """

    data: pd.DataFrame
    report: pd.DataFrame
    used: pd.DataFrame
    level: str
    window: object
    measures: list = field(default_factory=list)
    synthetic: bool = False

    def summary(self) -> pd.DataFrame:
        """Counts of organisation codes by side, status and reason (a tidy table).

        Returns
        -------
        pandas.DataFrame
            ``side, status, reason, n, share``: ``side`` is ``ratings`` or ``indicators``, ``n`` the
            number of organisation codes and ``share`` its share of that side's codes; within a
            side and status, largest counts first.
        """
        out = (self.report.groupby(["side", "status", "reason"], observed=True).size()
               .rename("n").reset_index())
        totals = out.groupby("side")["n"].transform("sum")
        out["share"] = out["n"] / totals
        return out.sort_values(["side", "status", "n"], ascending=[False, True, False],
                               kind="stable").reset_index(drop=True)

    def unmatched(self, side: str | None = None) -> pd.DataFrame:
        """The report's unmatched rows, optionally of one side.

        Parameters
        ----------
        side : {"ratings", "indicators"}, optional
            Only the rated organisations with no indicator, or only the indicator codes with no
            rating; default both.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`report` with ``status == "unmatched"`` (same columns); ``reason`` and
            ``detail`` say why each failed to link.
        """
        r = self.report[self.report["status"] == "unmatched"]
        return r if side is None else r[r["side"] == side]

    def __repr__(self) -> str:
        s = self.report.groupby(["side", "status"]).size().to_dict()
        return (f"Linkage(level={self.level!r}, window={self.window!r}, {len(self.data):,} rated "
                f"rows, {len(self.measures)} measures; ratings matched "
                f"{s.get(('ratings', 'matched'), 0)}/unmatched {s.get(('ratings', 'unmatched'), 0)}"
                f", indicators matched {s.get(('indicators', 'matched'), 0)}/unmatched "
                f"{s.get(('indicators', 'unmatched'), 0)}"
                f"{', SYNTHETIC' if self.synthetic else ''})")

    def _repr_html_(self) -> str:
        banner = ("<p style='color:#c8102e;font-weight:bold'>SYNTHETIC DATA</p>"
                  if self.synthetic else "")
        return (f"<div><strong>Linkage</strong> at level <code>{self.level}</code>, window "
                f"<code>{self.window}</code>{banner}{self.summary().to_html(index=False)}</div>")


# =============================================================================================
# successions
def _as_frame(obj) -> pd.DataFrame:
    if obj is None:
        return pd.DataFrame(columns=["old_code", "new_code", "date"])
    if isinstance(obj, pd.DataFrame):
        cols = {c.casefold(): c for c in obj.columns}
        old = next((cols[c] for c in ("old_code", "old", "predecessor") if c in cols), None)
        new = next((cols[c] for c in ("new_code", "new", "successor") if c in cols), None)
        if old is None or new is None:
            raise DataFormatError("a successor table needs columns old_code and new_code "
                                  f"(got {list(obj.columns)})", column="old_code")
        date = next((cols[c] for c in ("date", "merger_date") if c in cols), None)
        return pd.DataFrame({"old_code": obj[old].astype(str), "new_code": obj[new].astype(str),
                             "date": pd.to_datetime(obj[date]) if date else pd.NaT})
    rows = []
    if isinstance(obj, Mapping):
        for old, new in obj.items():
            new, date = (new if isinstance(new, tuple | list) else (new, None))
            rows.append((old, new, date))
    else:  # a list of {"old": code or [codes], "new": code, "date": ...} (truth.json style)
        for item in obj:
            olds = item["old"] if isinstance(item["old"], list | tuple) else [item["old"]]
            rows += [(o, item["new"], item.get("date")) for o in olds]
    return pd.DataFrame({"old_code": [str(r[0]) for r in rows],
                         "new_code": [str(r[1]) for r in rows],
                         "date": pd.to_datetime([r[2] for r in rows])})


def _trust_of(code: str, provider_of: Mapping) -> str | None:
    if code in provider_of and isinstance(provider_of[code], str):
        return provider_of[code]
    if re.fullmatch(r"[A-Z0-9]{5}", code):  # an NHS site code: trust code + 2 characters
        return code[:3]
    return None


def successor_map(relationships=None, *, successors=None, locations=None,
                  level: str = "trust") -> pd.DataFrame:
    """Old code -> successor code, from API relationships and/or a supplied table.

    Parameters
    ----------
    relationships : pandas.DataFrame, optional
        ``ApiData.relationships`` (``org_id, related_id, type``): ``HSCA Predecessor`` rows
        (``related_id`` preceded ``org_id``) and ``HSCA Successor`` rows (the reverse), between
        locations.
    successors : DataFrame, dict or list, optional
        Successions you know: a frame with ``old_code, new_code[, date]``, a dict
        ``{old: new}`` or ``{old: (new, date)}``, or a list of ``{"old": [...], "new": code,
        "date": ...}`` (the ``truth.json`` form).
    locations : pandas.DataFrame, optional
        ``ApiData.locations``: maps location IDs to ODS codes and providers, and dates a
        merger by the successor location's registration date. Without it, location IDs are
        taken as ODS codes and an NHS site's trust is its code's first three characters.
    level : {"trust", "site", "practice"}
        Which codes to return: location pairs become trust pairs at ``"trust"``.

    Returns
    -------
    pandas.DataFrame
        ``old_code, new_code, date, source`` (``date`` NaT when unknown: then the whole
        predecessor series is attributed).
    """
    parts = []
    if relationships is not None and len(relationships):
        rel = relationships.copy()
        t = rel["type"].astype(str).str.casefold()
        pred = rel[t.str.contains("predecessor")]
        succ = rel[t.str.contains("successor")]
        pairs = pd.concat([
            pd.DataFrame({"old": pred["related_id"].astype(str), "new": pred["org_id"].astype(str)}),
            pd.DataFrame({"old": succ["org_id"].astype(str), "new": succ["related_id"].astype(str)}),
        ], ignore_index=True).drop_duplicates()
        ods_of, provider_of, registered = {}, {}, {}
        if locations is not None and len(locations):
            loc = locations.drop_duplicates("org_id").set_index("org_id")
            if "location_ods_code" in loc:
                ods_of = loc["location_ods_code"].dropna().astype(str).to_dict()
            if "provider_id" in loc:
                provider_of = loc["provider_id"].dropna().astype(str).to_dict()
            if "registration_date" in loc:
                registered = pd.to_datetime(loc["registration_date"]).dropna().to_dict()

        def code(loc_id):
            if level == "trust":
                return _trust_of(loc_id, provider_of)
            return ods_of.get(loc_id, loc_id if not loc_id.startswith("1-") else None)

        rows = []
        for old, new in pairs.itertuples(index=False):
            a, b = code(old), code(new)
            if level == "trust" and (str(a).startswith("1-") or str(b).startswith("1-")):
                continue  # independent providers' IDs are not NHS trust codes
            if a and b and a != b:
                rows.append((a.upper(), b.upper(), registered.get(new, pd.NaT)))
        if rows:
            f = pd.DataFrame(rows, columns=["old_code", "new_code", "date"])
            f = f.groupby(["old_code", "new_code"], as_index=False)["date"].min()
            f["source"] = "relationships"
            parts.append(f)
    given = _as_frame(successors)
    if len(given):
        given["old_code"] = given["old_code"].str.strip().str.upper()
        given["new_code"] = given["new_code"].str.strip().str.upper()
        given["source"] = "supplied"
        parts.append(given)
    if not parts:
        return pd.DataFrame({"old_code": pd.Series(dtype=str), "new_code": pd.Series(dtype=str),
                             "date": pd.Series(dtype=_DATE), "source": pd.Series(dtype=str)})
    out = pd.concat(parts, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"]).astype(_DATE)
    # a supplied pair wins over the same pair from relationships (it may carry a date)
    out = out.sort_values("source", key=lambda s: s.map({"supplied": 0}).fillna(1), kind="stable")
    return out.drop_duplicates(["old_code", "new_code"]).reset_index(drop=True)


def _closure(smap: pd.DataFrame) -> pd.DataFrame:
    """Every (old, eventual successor) pair, with the date the old code stopped reporting."""
    nxt: dict[str, list[tuple[str, pd.Timestamp]]] = {}
    for old, new, date in smap[["old_code", "new_code", "date"]].itertuples(index=False):
        nxt.setdefault(old, []).append((new, date))
    rows = []
    for old in nxt:
        first_date = min((d for _, d in nxt[old] if pd.notna(d)), default=pd.NaT)
        seen, stack = set(), [n for n, _ in nxt[old]]
        while stack:
            n = stack.pop()
            if n in seen or n == old:
                continue
            seen.add(n)
            rows.append((old, n, first_date))
            stack += [m for m, _ in nxt.get(n, [])]
    return pd.DataFrame(rows, columns=["old_code", "new_code", "date"])


# =============================================================================================
# the ratings side
def _is_api(obj) -> bool:
    return all(hasattr(obj, a) for a in ("history", "locations", "relationships"))


def _code_then(location_id, level, locations):
    """The code (at ``level``) of the location a rating was inherited from."""
    loc_id = str(location_id)
    if locations is not None and len(locations) and "org_id" in locations:
        row = locations[locations["org_id"].astype(str) == loc_id]
        if len(row):
            if level == "trust" and pd.notna(row["provider_id"].iloc[0]):
                return str(row["provider_id"].iloc[0]).upper()
            if level != "trust" and "location_ods_code" in row and \
                    pd.notna(row["location_ods_code"].iloc[0]):
                return str(row["location_ods_code"].iloc[0]).upper()
    if loc_id.startswith("1-"):
        return None
    return _trust_of(loc_id.upper(), {}) if level == "trust" else loc_id.upper()


def _api_names(api) -> dict:
    names = {}
    for frame, col in ((api.locations, "location_name"), (api.providers, "provider_name")):
        if frame is not None and len(frame) and col in frame:
            names.update(frame.dropna(subset=[col]).set_index("org_id")[col].to_dict())
    return names


def _rating_units(ratings, *, level, date, sector, rating_level) -> pd.DataFrame:
    """One row per rated organisation (and rating), domains wide, with ``publication_date``."""
    r = ratings.copy()
    if date and date != "publication_date" and "publication_date" in r.columns:
        # the caller chose another date: keep the file's own date, under another name
        r = r.rename(columns={"publication_date": "publication_date_file"})
    if "domain" in r.columns and "rating" in r.columns:
        if "service_group" in r.columns:  # the long table
            r = r[r["service_group"].astype(str) == "Overall"]
        dcol = date or ("publication_date" if "publication_date" in r else "report_date")
        if dcol not in r:
            raise DataFormatError(f"ratings have no date column {dcol!r}", column=dcol)
        ident = [c for c in r.columns if c not in {"domain", "rating", "rating_status", "rating_text",
                                                   "inherited", "report_type", "url", "source",
                                                   "organisation_id", "service_group",
                                                   "inspection_date"}]
        keys = ["org_id", dcol] + (["report_link_id"] if "report_link_id" in r else [])
        ident = list(dict.fromkeys(keys + ident))
        first = r.drop_duplicates(keys)[ident].set_index(keys)
        wide = r.pivot_table(index=keys, columns="domain", values="rating", aggfunc="first",
                             observed=True)
        wide = wide.reindex(columns=[d for d in DOMAINS if d in wide.columns])
        units = first.join(wide.astype(object)).reset_index()
        for d in DOMAINS:
            if d in units:
                units[d] = pd.Categorical(units[d], dtype=RATING_DTYPE)
        if "organisation_id" in r:
            inh = r.drop_duplicates(keys).set_index(keys)["organisation_id"]
            units["inherited_from"] = inh.reindex(pd.MultiIndex.from_frame(units[keys])).to_numpy()
        units = units.rename(columns={dcol: "publication_date"})
    else:
        dcol = date or "publication_date"
        if dcol not in r:
            raise DataFormatError(f"ratings have no date column {dcol!r}; pass date=",
                                  column=dcol)
        units = r.rename(columns={dcol: "publication_date"})
    if "level" in units:
        want = rating_level or ("provider" if level == "trust" and
                                (units["level"].astype(str) == "provider").any() else "location")
        units = units[units["level"].astype(str) == want]
    if sector == "auto":
        sector = _SECTOR_FOR_LEVEL[level]
    if sector and "sector" in units:
        units = units[units["sector"].astype(str) == sector]
    units = units.copy()
    units["publication_date"] = pd.to_datetime(units["publication_date"]).astype(_DATE)
    return units.reset_index(drop=True)


def _code_column(units, level, locations) -> pd.Series:
    def col(name):
        return units[name].astype("object") if name in units else pd.Series(pd.NA, index=units.index,
                                                                             dtype="object")

    if level in ("practice", "site"):
        code = col("location_ods_code")
        if locations is not None and "location_ods_code" in locations and code.isna().any():
            m = locations.drop_duplicates("org_id").set_index("org_id")["location_ods_code"]
            code = code.where(code.notna(), col("org_id").map(m))
        if level == "site":
            oid = col("org_id").astype(str)
            code = code.where(code.notna(), oid.where(~oid.str.startswith("1-") & (oid != "<NA>")))
    elif level == "trust":
        lvl = col("level").astype(str)
        prov = col("provider_ods_code")
        prov = prov.where(prov.notna(), col("provider_id"))
        code = prov.where(lvl != "provider", col("org_id").where(col("org_id").notna(), prov))
    else:
        code = col("local_authority")
    return code.map(lambda v: str(v).strip().upper() if pd.notna(v) and str(v).strip() else pd.NA)


def _name_column(units, level) -> pd.Series:
    for c in (("provider_name",) if level == "trust" else ("location_name", "provider_name")):
        if c in units:
            return units[c].astype("object")
    return pd.Series(pd.NA, index=units.index, dtype="object")


# =============================================================================================
# the indicator side
def _additive(measure: str) -> bool:
    return measure.startswith(_ADDITIVE_PREFIXES)


def _combine(rows: pd.DataFrame) -> pd.DataFrame:
    """Combine several predecessors' rows for the same successor, measure and period."""
    keys = ["link_code", "measure", "period_start", "period_end"]
    size = rows.groupby(keys, dropna=False)["value"].transform("size")
    single = rows[size == 1]
    multi = rows[size > 1]
    if multi.empty:
        return single
    out = []
    for k, g in multi.groupby(keys, dropna=False):
        num, den = g["numerator"], g["denominator"]
        if num.notna().all() and den.notna().all() and (num != 0).all():
            scale = float(np.nanmedian(g["value"] * den / num))
            value = scale * num.sum() / den.sum() if den.sum() else np.nan
            n, d = num.sum(), den.sum()
        elif _additive(k[1]) and g["value"].notna().all():
            value, n, d = g["value"].sum(), np.nan, np.nan
        else:
            value, n, d = np.nan, np.nan, np.nan
        out.append({**dict(zip(keys, k, strict=True)), "value": value, "numerator": n,
                    "denominator": d, "via_code": "+".join(sorted(g["via_code"])),
                    "org_code": g["org_code"].iloc[0]})
    return pd.concat([single, pd.DataFrame(out)], ignore_index=True)


def _series(ind: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Indicator rows keyed by the code ratings join on: own rows plus attributed ones."""
    own = ind.assign(link_code=ind["org_code"], via_code=ind["org_code"])
    if pairs.empty:
        return own
    att = ind.merge(pairs.rename(columns={"old_code": "org_code", "new_code": "link_code"}),
                    on="org_code")
    before = att["date"].isna() | (att["period_start"] < att["date"]) | att["period_start"].isna()
    att = att[before].drop(columns="date").assign(via_code=lambda f: f["org_code"])
    both = pd.concat([own, att], ignore_index=True)
    keys = ["link_code", "measure", "period_start", "period_end"]
    is_own = both["via_code"] == both["link_code"]
    has_own = is_own.groupby([both[k] for k in keys], dropna=False).transform("any")
    kept = both[is_own | ~has_own]
    return _combine(kept)


# =============================================================================================
def _select(units, series, measures, window, max_age):
    """For each rating row x measure, the value of the chosen period(s)."""
    left = units[["_row", "link_code", "publication_date"]].dropna(
        subset=["link_code", "publication_date"])
    left = left.merge(pd.DataFrame({"measure": measures}), how="cross")
    cols = ["link_code", "measure", "period_start", "period_end", "value", "numerator",
            "denominator", "via_code"]
    s = series[cols].astype({"link_code": "object", "measure": "object", "via_code": "object"})
    left = left.astype({"link_code": "object", "measure": "object"})
    static = s[s["period_end"].isna()]
    timed = s[s["period_end"].notna()]
    picked = []
    if len(static):
        st = left.merge(static.drop_duplicates(["link_code", "measure"]),
                        on=["link_code", "measure"])
        picked.append(st.assign(n_periods=1))
    if window == "last":
        lt = left.sort_values("publication_date", kind="stable")
        rt = timed.sort_values("period_end", kind="stable")
        lt = lt[lt.set_index(["link_code", "measure"]).index.isin(
            rt.set_index(["link_code", "measure"]).index)]
        if len(lt):
            m = pd.merge_asof(lt, rt, left_on="publication_date", right_on="period_end",
                              by=["link_code", "measure"], allow_exact_matches=False,
                              direction="backward",
                              tolerance=pd.Timedelta(max_age) if max_age is not None else None)
            picked.append(m[m["period_end"].notna()].assign(n_periods=1))
    elif window == "latest":  # cross-sectional: the latest period, whatever the date
        last = timed.sort_values("period_end", kind="stable").drop_duplicates(
            ["link_code", "measure"], keep="last")
        picked.append(left.merge(last, on=["link_code", "measure"]).assign(n_periods=1))
    else:
        months = int(window)
        m = left.merge(timed, on=["link_code", "measure"])
        lo = m["publication_date"] - pd.DateOffset(months=months)
        m = m[(m["period_end"] < m["publication_date"]) & (m["period_start"] >= lo)]
        if max_age is not None:
            m = m[m["publication_date"] - m["period_end"] <= pd.Timedelta(max_age)]
        if len(m):
            g = m.groupby(["_row", "link_code", "measure"], as_index=False).agg(
                value=("value", "mean"), numerator=("numerator", "sum"),
                denominator=("denominator", "sum"), period_start=("period_start", "min"),
                period_end=("period_end", "max"), n_periods=("value", "size"),
                via_code=("via_code", lambda v: "+".join(sorted(set(v)))))
            picked.append(g)
    if not picked:
        return pd.DataFrame(columns=["_row", "link_code", "measure", "value", "via_code",
                                     "period_start", "period_end", "n_periods"])
    return pd.concat(picked, ignore_index=True)


def _check_level(level):
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")


def _indicator_frame(indicators) -> pd.DataFrame:
    if isinstance(indicators, pd.DataFrame):
        frames = [indicators]
    elif isinstance(indicators, Iterable) and not isinstance(indicators, str):
        frames = list(indicators)
    else:
        raise TypeError("indicators must be an indicator table (io.nhs.load_*) or a list of them")
    need = {"org_code", "org_level", "period_start", "period_end", "measure", "value"}
    for f in frames:
        if not isinstance(f, pd.DataFrame) or not need <= set(f.columns):
            got = list(f.columns) if isinstance(f, pd.DataFrame) else type(f).__name__
            raise DataFormatError(f"indicators must have the columns {sorted(need)} "
                                  f"(cqc_research.io.nhs loaders); got {got}", column="measure")
    ind = pd.concat(frames, ignore_index=True)
    for c in ("numerator", "denominator"):
        if c not in ind:
            ind[c] = np.nan
    if "org_name" not in ind:
        ind["org_name"] = pd.NA
    ind = ind.astype({"org_code": "object", "measure": "object", "org_name": "object"})
    ind["org_code"] = ind["org_code"].astype(str).str.strip().str.upper()
    for c in ("period_start", "period_end"):
        ind[c] = pd.to_datetime(ind[c]).astype(_DATE)
    return ind


def _closed_practices(practices, indicators) -> dict:
    out = {}
    frames = [indicators] if isinstance(indicators, pd.DataFrame) else list(indicators)
    for f in frames:  # load_gp_payments gives each practice's close date, where the file has one
        if "close_date" not in f:
            continue
        sub = f.loc[pd.to_datetime(f["close_date"]).notna(), ["org_code", "close_date"]].drop_duplicates()
        for code, d in zip(sub["org_code"].astype(str).str.upper(), pd.to_datetime(sub["close_date"]),
                           strict=True):
            out[code] = min(out.get(code, d), d)
    if practices is None:
        return out
    frames = [practices] if isinstance(practices, pd.DataFrame) else list(practices)
    for f in frames:
        if "close_date" not in f:
            continue
        sub = f[pd.to_datetime(f["close_date"]).notna()]
        for code, d in zip(sub["practice_code"].astype(str).str.upper(),
                           pd.to_datetime(sub["close_date"]), strict=True):
            out[code] = min(out.get(code, d), d)
    return out


def link_indicators(
    ratings,
    indicators,
    *,
    level: str = "practice",
    measures=None,
    window="last",
    max_age=None,
    date: str | None = None,
    sector: str | None = "auto",
    rating_level: str | None = None,
    relationships=None,
    successors=None,
    locations=None,
    practices=None,
    la_codes=None,
) -> Linkage:
    """Join ratings to indicators at the right level, with a linkage report.

    Parameters
    ----------
    ratings : DataFrame or ApiData
        The long ratings table (``io.cqc_files.load_latest_ratings``; its ``Overall`` service
        group is used), the wide one (``io.cqc_files.ratings_wide``), the rating-history panel
        (``io.cqc_json.load_api_folder(...).history``: one row per rating), or the
        :class:`~cqc_research.io.cqc_json.ApiData` itself (its history, and its locations and
        relationships for codes and mergers).
    indicators : DataFrame or list of DataFrames
        Indicator tables from :mod:`cqc_research.io.nhs`; rows at other levels are ignored.
    level : {"practice", "site", "trust", "local_authority"}
        What to join on (see the module docstring).
    measures : list of str, optional
        Measures to attach; default every measure present at this level.
    window : "last", int or "latest"
        ``"last"`` (default): the last full period ending before publication. An integer
        ``n``: the mean of the periods lying wholly within the ``n`` months before publication
        (``.used`` records how many). ``"latest"``: the most recent period whatever the
        rating's date, for cross-sectional questions about the current rating; it can use
        periods after publication, so ``.used`` and ``.window`` record it and it is never the
        default.
    max_age : str or Timedelta, optional
        Ignore values whose period ended longer than this before publication (e.g. ``"730D"``).
    date : str, optional
        The ratings' date column; default ``publication_date`` (``report_date`` for history).
    sector : str or None
        Keep ratings of this sector; ``"auto"`` (default) keeps GP practices at practice level,
        NHS hospitals at site and trust level, everything at local-authority level.
    rating_level : {"provider", "location"}, optional
        At trust level, provider ratings are used when present; ``"location"`` attaches each
        site's trust indicators to the site's ratings instead.
    relationships, locations : DataFrame, optional
        ``ApiData.relationships`` and ``ApiData.locations`` (taken from ``ratings`` when it is
        an ApiData): predecessor successions and location codes.
    successors : DataFrame, dict or list, optional
        Known successions (see :func:`successor_map`), e.g. ``truth["linkage"]["merged_trusts"]``.
    practices : DataFrame or list, optional
        ``io.nhs.load_gp_practices`` frames: practices with a close date are reported as
        ``closed practice``, as are those with a ``close_date`` in ``indicators``
        (``io.nhs.load_gp_payments`` gives one).
    la_codes : DataFrame or path, optional
        A local-authority code lookup (``io.nhs.load_la_codes``).

    Returns
    -------
    Linkage
        ``.data``, ``.report``, ``.used``, ``.summary()``.

    Examples
    --------
    >>> from cqc_research.io import cqc_files, nhs                       # doctest: +SKIP
    >>> wide = cqc_files.ratings_wide(cqc_files.load_latest_ratings(ods))  # doctest: +SKIP
    >>> gp = nhs.load_gp_payments(csv)                                   # doctest: +SKIP
    >>> link = link_indicators(wide, gp, level="practice")                # doctest: +SKIP
    >>> link.summary()                                                   # doctest: +SKIP
    """
    _check_level(level)
    if window not in ("last", "latest") and not (isinstance(window, int | np.integer)
                                                 and window > 0):
        raise ValueError(f"window must be 'last', 'latest' or a positive number of months, "
                         f"not {window!r}")
    if _is_api(ratings):
        relationships = ratings.relationships if relationships is None else relationships
        locations = ratings.locations if locations is None else locations
        synthetic = bool(getattr(ratings, "synthetic", False))
        api_names = _api_names(ratings)
        ratings = ratings.history
    else:
        synthetic = bool(ratings.attrs.get("synthetic", False))
        api_names = {}
    ind_all = _indicator_frame(indicators)
    synthetic = synthetic or any(
        bool(f.attrs.get("synthetic")) for f in
        ([indicators] if isinstance(indicators, pd.DataFrame) else indicators))
    ind = ind_all[ind_all["org_level"].astype(str) == level].copy()
    if ind.empty:
        raise DataFormatError(f"no indicator rows at org_level {level!r}; levels present: "
                              f"{sorted(ind_all['org_level'].astype(str).unique())}",
                              column="org_level")
    available = sorted(ind["measure"].unique())
    if measures is None:
        measures = available
    else:
        measures = [measures] if isinstance(measures, str) else list(measures)
        missing = [m for m in measures if m not in available]
        if missing:
            raise DataFormatError(f"measures {missing} are not in the indicators at level "
                                  f"{level!r}; available: {available}", column="measure")
        ind = ind[ind["measure"].isin(measures)]

    units = _rating_units(ratings, level=level, date=date, sector=sector,
                          rating_level=rating_level)
    units["_row"] = np.arange(len(units))
    units["org_code"] = _code_column(units, level, locations)
    units["_name"] = _name_column(units, level)
    if api_names:
        key = units["org_code"] if level == "trust" else units["org_id"]
        units["_name"] = units["_name"].where(units["_name"].notna(), key.map(api_names))

    # --- the keys: successions (trust, site, practice) or area reconciliation ------------------
    code_notes: dict[str, tuple[str, str, str]] = {}  # old code -> (reason, detail, new code)
    if level == "local_authority":
        recon = reconcile_la_codes(ind, la_codes)
        lookup = la_codes if isinstance(la_codes, pd.DataFrame) or la_codes is None else None
        if la_codes is not None and lookup is None:
            lookup = load_la_codes(la_codes)
        by_name = la_name_map(recon, lookup)
        cur = dict(zip(recon["org_code"], recon["current_code"], strict=True))
        pairs = pd.DataFrame({"old_code": recon["org_code"], "new_code": recon["current_code"],
                              "date": pd.NaT})
        pairs = pairs[pairs["old_code"] != pairs["new_code"]].astype({"date": _DATE})
        for r in recon.itertuples(index=False):
            if r.how in ("lookup", "name") and r.org_code != r.current_code:
                code_notes[r.org_code] = ("old area code",
                                          f"reconciled to {r.current_code} by {r.how}",
                                          r.current_code)
            elif r.how == "ambiguous":
                code_notes[r.org_code] = ("ambiguous area name",
                                          f"{r.org_name!r} matches several current codes", "")

        def la_key(name):
            if pd.isna(name):
                return pd.NA
            k = normalise_area_name(name)
            c = by_name.get(k, set())
            if len(c) == 1:
                return next(iter(c))
            if not c and str(name).strip().upper() in cur:  # a code given instead of a name
                return cur[str(name).strip().upper()]
            return pd.NA if len(c) > 1 else f"?{name}"
        units["link_code"] = units["local_authority"].map(la_key) if "local_authority" in units \
            else pd.NA
        units["org_code"] = units["link_code"].where(
            ~units["link_code"].astype(str).str.startswith("?"), units.get("local_authority"))
        units["link_code"] = units["link_code"].where(
            ~units["link_code"].astype(str).str.startswith("?"), pd.NA)
        units["_la_missing"] = units["org_code"].notna() & units["link_code"].isna()
    else:
        smap = successor_map(relationships, successors=successors, locations=locations,
                             level="trust" if level == "trust" else level)
        pairs = _closure(smap)
        word = "merged trust" if level == "trust" else "superseded code"
        for r in smap.itertuples(index=False):
            when = f" on {r.date:%Y-%m-%d}" if pd.notna(r.date) else ""
            code_notes.setdefault(r.old_code, (word, f"superseded by {r.new_code}{when} "
                                               f"({r.source})", r.new_code))
        units["link_code"] = units["org_code"]
        if "inherited_from" in units:  # a rating inherited from a predecessor location was
            # published under the predecessor's organisation: join on its code at the time
            inh = units["inherited_from"]
            then = inh.map(lambda i: _code_then(i, level, locations), na_action="ignore")
            units["link_code"] = then.where(then.notna(), units["link_code"])
        units["_la_missing"] = False

    series = _series(ind, pairs)
    picked = _select(units, series, measures, window, max_age)

    # --- the analysis-ready frame -------------------------------------------------------------
    values = picked.pivot_table(index="_row", columns="measure", values="value",
                                aggfunc="first", dropna=False) if len(picked) else \
        pd.DataFrame(index=pd.Index([], name="_row"))
    values = values.reindex(columns=measures)
    data = units.drop(columns=["_name", "_la_missing"]).join(values, on="_row")
    data = data.drop(columns="_row")
    front = [c for c in ("org_id", "level", "org_code", "link_code", "publication_date")
             if c in data]
    data = data[front + [c for c in data.columns if c not in front]]
    data.attrs = {"synthetic": synthetic}  # provenance only: the settings are the Linkage's

    used = picked.merge(units[["_row", "org_id"]] if "org_id" in units else units[["_row"]],
                        on="_row", how="left") if len(picked) else picked
    if len(used):
        used = used[[c for c in ("org_id", "link_code", "measure", "via_code", "period_start",
                                 "period_end", "n_periods", "value") if c in used]]

    report = _report(units, ind, series, picked, level=level, measures=measures,
                     code_notes=code_notes,
                     closed=_closed_practices(practices, indicators))
    return Linkage(data=data.reset_index(drop=True), report=report, used=used.reset_index(drop=True),
                   level=level, window=window, measures=list(measures), synthetic=synthetic)


def _report(units, ind, series, picked, *, level, measures, code_notes, closed) -> pd.DataFrame:
    rows = []
    got = picked.groupby("_row")["via_code"].agg(lambda v: set("+".join(v).split("+"))) \
        if len(picked) else pd.Series(dtype=object)
    series_codes = set(series["link_code"])
    # --- ratings side: one row per code (or per organisation without one) ---------------------
    u = units.assign(_found=units["_row"].map(lambda r: r in got.index),
                     _via=units["_row"].map(lambda r: got.get(r, set())))
    u["_key"] = u["org_code"].where(u["org_code"].notna(),
                                    "[" + u.get("org_id", u["_row"]).astype(str) + "]")
    # one pass over the rows, then one report row per key (a groupby loop was most of the time)
    groups: dict = {}
    cols = ["_key", "link_code", "_name", "_found", "_via", "_la_missing", "publication_date"]
    for key, code, name, found, via, la_missing, published in u[cols].itertuples(index=False):
        g = groups.setdefault(key, {"codes": set(), "name": pd.NA, "found": False, "vias": set(),
                                    "la_missing": False, "published": pd.NaT, "n": 0})
        g["n"] += 1
        if not pd.isna(code):
            g["codes"].add(code)
        if pd.isna(g["name"]) and not pd.isna(name):
            g["name"] = name
        if found:
            g["found"] = True
            g["vias"] |= via
        g["la_missing"] = g["la_missing"] or bool(la_missing)
        if not pd.isna(published) and (pd.isna(g["published"]) or published < g["published"]):
            g["published"] = published
    first_end = series.groupby("link_code")["period_end"].min() if len(series) else pd.Series()
    for key in sorted(groups):
        g = groups[key]
        codes, name = g["codes"], g["name"]
        other = sorted(codes - {key})
        if g["found"]:
            vias = g["vias"]
            own = bool(vias & codes)
            status = "matched"
            reason = "matched" if own or level == "local_authority" else "matched via predecessor"
            notes = []
            if level == "local_authority" and other:
                notes.append(f"area name joined to {', '.join(other)}")
            elif other:
                notes.append(f"inherited ratings joined on {', '.join(other)}")
            if vias - codes:
                notes.append("series of " + ", ".join(sorted(vias - codes)))
            detail = "; ".join(notes)
        elif g["la_missing"]:
            status, reason, detail = "unmatched", "code not found", "area name not in indicators"
        elif not codes:
            status, reason = "unmatched", "no code at this level"
            detail = "no location ODS code" if level in ("practice", "site") else \
                ("ambiguous area name" if level == "local_authority" else "no provider ID")
        elif codes & series_codes:
            status, reason = "unmatched", "no indicator before publication"
            first = first_end.reindex(sorted(codes & series_codes)).min()
            detail = f"earliest period ends {first:%Y-%m-%d}; published " \
                     f"{g['published']:%Y-%m-%d}" if pd.notna(first) else ""
        else:
            status, reason, detail = "unmatched", "code not found", ""
        rows.append({"side": "ratings", "org_code": key if not str(key).startswith("[") else
                     pd.NA, "org_name": name, "status": status, "reason": reason,
                     "detail": detail, "n_ratings": g["n"], "n_indicator_rows": 0,
                     "first_period": pd.NaT, "last_period": pd.NaT})
    # --- indicators side: one row per published code ------------------------------------------
    used_codes = set()
    for v in got:
        used_codes |= v
    rated = set(units["link_code"].dropna())
    summary = ind.groupby("org_code").agg(n=("value", "size"), first=("period_start", "min"),
                                          last=("period_end", "max"),
                                          name=("org_name", "first"))
    for code, n_rows, first, last, name in summary[["n", "first", "last", "name"]].itertuples():
        note = code_notes.get(code)
        matched = code in used_codes
        if note is not None:
            reason, detail = note[0], note[1]
        elif code in closed:
            reason, detail = "closed practice", f"closed {closed[code]:%Y-%m-%d}"
        elif matched:
            reason, detail = "matched", ""
        elif code in rated:
            reason, detail = "no indicator before publication", "every period ends on or after " \
                "the rating's publication"
        else:
            reason, detail = "code not found", "no rated organisation with this code"
        if matched and note is not None:
            detail += "; its series was used"
        rows.append({"side": "indicators", "org_code": code, "org_name": name,
                     "status": "matched" if matched else "unmatched", "reason": reason,
                     "detail": detail, "n_ratings": 0, "n_indicator_rows": int(n_rows),
                     "first_period": first, "last_period": last})
    report = pd.DataFrame(rows, columns=["side", "org_code", "org_name", "status", "reason",
                                         "detail", "n_ratings", "n_indicator_rows",
                                         "first_period", "last_period"])
    report["side"] = pd.Categorical(report["side"], categories=["ratings", "indicators"])
    report["status"] = pd.Categorical(report["status"], categories=["matched", "unmatched"])
    return report.sort_values(["side", "status", "reason", "org_code"], kind="stable") \
        .reset_index(drop=True)


# =============================================================================================
@dataclass
class PaymentsLink:
    """Rated locations of one sector joined to GP payments, as notebook 02 uses them.

    Attributes
    ----------
    rated : DataFrame
        The wide ratings (one row per location) in the sector.
    payments : list of DataFrame
        One payments table per file, in file order.
    linkage : Linkage
        The result of :func:`link_indicators` (``.data``, ``.report``, ``.summary()``).
    years : str
        The financial years of the files, comma-separated ("?" where a file does not say).
    n_matched : int
        Rated locations linked to indicators published before their rating.
    """

    rated: pd.DataFrame
    payments: list
    linkage: Linkage
    years: str
    n_matched: int

    def analysis_data(self, rating: str, indicators, *, minimum: int = 30) -> pd.DataFrame:
        """Linked rows with a scale ``rating`` and a value of every indicator.

        Parameters
        ----------
        rating : str
            The rating column.
        indicators : list of str
            The indicator columns.
        minimum : int
            Fewest rows (with at least two rating values) worth modelling.

        Returns
        -------
        DataFrame

        Raises
        ------
        ValueError
            When fewer rows remain (or a single rating value): see ``tables/linkage_report.csv``.
        """
        data = self.linkage.data.dropna(subset=[rating, *indicators]).copy()
        if len(data) < minimum or data[rating].nunique() < 2:
            raise ValueError(f"only {len(data)} linked locations with a {rating} rating and every "
                             "indicator (or a single rating value): too few to analyse; see "
                             "tables/linkage_report.csv for why")
        return data


def link_ratings_to_payments(ratings_path, payment_files, *, sector: str | None,
                             measures) -> PaymentsLink:
    """Read a Latest ratings file and GP payments files and link them at practice level.

    Parameters
    ----------
    ratings_path : path
        CQC Latest ratings workbook or CSV.
    payment_files : list of path
        NHS Payments to General Practice CSVs.
    sector : str or None
        Sector or inspection category of the rated locations (None: all).
    measures : list of str
        Indicator measures to attach.

    Returns
    -------
    PaymentsLink
    """
    rated = filter_sector(ratings_wide(load_latest_ratings(ratings_path), level="location"), sector)
    payments = [read_source(f) for f in payment_files]  # load_gp_payments, through the cache
    link = link_indicators(rated, payments, level="practice", measures=list(measures), sector=None)

    # the indicator table's periods are the financial years (1 April to 31 March)
    years = ", ".join(financial_year(int(pd.Timestamp(p["period_start"].min()).year))[2]
                      if len(p) and p["period_start"].notna().any() else "?" for p in payments)
    rep = link.report
    n_matched = int(((rep["side"] == "ratings") & (rep["status"] == "matched")).sum())
    return PaymentsLink(rated, payments, link, years, n_matched)
