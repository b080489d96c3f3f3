"""Fingertips (OHID, formerly PHE): the all-data CSV export of any indicator and area type.

Fingertips publishes hundreds of practice, trust and council indicators in one CSV layout (the
website's "Export data" and the API's ``all_data/csv/by_indicator_id``, which ``fingertips_py``
returns): ``Indicator ID, Indicator Name, Parent Code, Parent Name, Area Code, Area Name, Area
Type, Sex, Age, Category Type, Category, Time period, Value, Lower CI 95.0 limit, Upper CI 95.0
limit, Lower CI 99.8 limit, Upper CI 99.8 limit, Count, Denominator, Value note, Recent Trend,
Compared to England value or percentiles, Compared to <parent> value or percentiles, Time period
Sortable, New data, Compared to goal`` and, in later exports, ``Time period range``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    check_errors,
    clean_text,
    financial_year,
    find_column,
    finish_table,
    loaded_table,
    month_end,
    normalise_header,
    parse_month_text,
    parse_numeric,
    read_table_csv,
    stack_measures,
    warn_unparseable,
)

__all__ = ["load_fingertips"]

#: Fingertips ``Area Type`` (normalised) -> the indicator table's ``org_level``. Area types not
#: listed (England, regions, CCGs, sub-ICBs, ICBs, PCNs, MSOAs...) are not organisations that
#: CQC rates; their rows are dropped and counted.
FINGERTIPS_AREA_LEVELS = {
    "gp": "practice", "gps": "practice", "gp practice": "practice", "gp practices": "practice",
    "general practice": "practice",
    "nhs trust": "trust", "nhs trusts": "trust", "acute trust": "trust", "acute trusts": "trust",
    "nhs organisation": "trust", "nhs organisations": "trust", "trust": "trust",
    "mental health trust": "trust", "mental health trusts": "trust",
    "county and ua": "local_authority", "counties and uas": "local_authority",
    "district and ua": "local_authority", "districts and uas": "local_authority",
    "ua": "local_authority", "district": "local_authority", "county": "local_authority",
    "upper tier local authority": "local_authority", "upper tier local authorities": "local_authority",
    "lower tier local authority": "local_authority", "lower tier local authorities": "local_authority",
    "local authority": "local_authority", "local authorities": "local_authority",
    "london borough": "local_authority", "metropolitan district": "local_authority",
    "unitary authority": "local_authority", "non metropolitan district": "local_authority",
}


def _area_level(area_type) -> str | None:
    """``GPs`` -> practice; ``Counties & UAs (from Apr 2023)`` -> local_authority; else None."""
    t = normalise_header(area_type)
    t = re.sub(r"\s*(from|pre|post|to|before|after)\s+\w+\s+\d{4}.*$", "", t).strip()
    return FINGERTIPS_AREA_LEVELS.get(t)


def fingertips_measure(indicator_id, indicator_name, *, suffix: str = "") -> str:
    """The measure name of a Fingertips indicator: ``fingertips_<id>_<first words of its name>``.

    Parameters
    ----------
    indicator_id : int or str
        Fingertips' ``Indicator ID``.
    indicator_name : str
        Its ``Indicator Name``; the first six words (letters and digits) name the measure.
    suffix : str, optional
        Appended after ``_`` (a sex or age kept as a separate series).

    Returns
    -------
    str
        A snake_case measure name.

    Examples
    --------
    >>> fingertips_measure(848, "Depression: Recorded prevalence (aged 18 years and over)")
    'fingertips_848_depression_recorded_prevalence_aged_18_years'
    """
    words = re.findall(r"[0-9a-z]+", str(indicator_name).lower())[:6]
    ident = re.sub(r"\.0$", "", str(indicator_id).strip())
    out = "_".join(["fingertips", ident] + words)
    return out + (f"_{re.sub(r'[^0-9a-z]+', '_', suffix.lower()).strip('_')}" if suffix else "")


def fingertips_period(text) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Read a Fingertips ``Time period``: the first and last day it covers, or None.

    ``2019`` (calendar year), ``2019/20`` (financial year, April to March), ``2017 - 19`` (the
    calendar years 2017 to 2019), ``2016/17 - 18/19`` (financial years), ``2019/20 Q2``
    (financial-year quarter, Q1 = April to June; also ``Q2 2019/20``), ``2020 Q3`` (calendar
    quarter), ``Mar 2021`` / ``March 2021`` (a month) and ``Jan 2021 - Dec 2021`` (months); any
    other form returns None.

    Parameters
    ----------
    text : object
        The cell as published.

    Returns
    -------
    (Timestamp, Timestamp) or None

    Examples
    --------
    >>> fingertips_period("2019/20")
    (Timestamp('2019-04-01 00:00:00'), Timestamp('2020-03-31 00:00:00'))
    >>> fingertips_period("2017 - 19")
    (Timestamp('2017-01-01 00:00:00'), Timestamp('2019-12-31 00:00:00'))
    >>> fingertips_period("2021/22 Q2")
    (Timestamp('2021-07-01 00:00:00'), Timestamp('2021-09-30 00:00:00'))
    """
    t = " ".join(str(text).split())
    if re.fullmatch(r"\d{4}", t):
        y = int(t)
        return pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
    m = re.fullmatch(r"(\d{4})/(\d{2})", t)
    if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:
        s, e, _ = financial_year(t.replace("/", "-"))
        return s, e
    m = re.fullmatch(r"(\d{4})\s*-\s*(\d{2}|\d{4})", t)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        b = b if b > 999 else (a // 100) * 100 + b + (100 if b < a % 100 else 0)
        if b > a:
            return pd.Timestamp(a, 1, 1), pd.Timestamp(b, 12, 31)
    m = re.fullmatch(r"(\d{4})/(\d{2})\s*-\s*(\d{2,4})/(\d{2})", t)
    if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:
        a = int(m.group(1))
        b2 = int(m.group(4))
        end_year = (a // 100) * 100 + b2 + (100 if b2 < a % 100 else 0)
        return pd.Timestamp(a, 4, 1), pd.Timestamp(end_year, 3, 31)
    m = re.fullmatch(r"(\d{4})/(\d{2})\s*Q([1-4])", t, flags=re.I)
    if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:
        s = pd.Timestamp(int(m.group(1)), 4, 1) + pd.DateOffset(months=3 * (int(m.group(3)) - 1))
        return s, month_end(s + pd.DateOffset(months=2))
    m = re.fullmatch(r"(\d{4})\s*Q([1-4])", t, flags=re.I)
    if m:
        s = pd.Timestamp(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return s, month_end(s + pd.DateOffset(months=2))
    m = re.fullmatch(r"Q([1-4])\s*(\d{4}/\d{2})", t, flags=re.I)  # Q2 2021/22
    if m:
        return fingertips_period(f"{m.group(2)} Q{m.group(1)}")
    if re.fullmatch(r"[A-Za-z]{3,9}\s+\d{4}", t):
        s = parse_month_text(t)
        if s is not None:
            return s, month_end(s)
    m = re.fullmatch(r"([A-Za-z]{3,9}\s+\d{4})\s*-\s*([A-Za-z]{3,9}\s+\d{4})", t)  # Jan 2021 - Dec 2021
    if m:
        a, b = parse_month_text(m.group(1)), parse_month_text(m.group(2))
        if a is not None and b is not None and b >= a:
            return a, month_end(b)
    return None


def load_fingertips(path, *, sex: str | None = "Persons", age: str | None = None,
                    errors: str = "report", with_report: bool = False):
    """Load a Fingertips all-data CSV export: any indicators, any area type, into the indicator table.

    Rows are kept when their ``Area Type`` is an organisation CQC rates (GP practices, NHS
    trusts, local authorities: :data:`FINGERTIPS_AREA_LEVELS`, which also sets ``org_level``).
    England, regions and the parent areas (CCGs, sub-ICBs, ICBs, PCNs, ...) are dropped and
    counted in the report's ``dropped``. Breakdowns are reduced to one series per indicator:

    - **category**: only rows with no ``Category Type`` (the whole population) are kept; the
      deprivation-decile and ethnicity breakdowns are dropped and counted;
    - **sex**: ``sex="Persons"`` keeps the ``Persons`` rows of an indicator that publishes them;
      an indicator published only for ``Male`` or ``Female`` keeps those, named with a suffix
      (``..._female``). ``sex=None`` keeps every sex, each a measure with a suffix;
    - **age**: ``age=None`` keeps, per indicator, ``All ages`` if published, else the age band
      with the most rows (the indicator's own, e.g. ``18+ yrs``); other bands are dropped and
      counted. ``age="65+ yrs"`` picks one.

    The 95% and 99.8% confidence limits are **not kept**: the indicator table has no interval
    columns (``docs/DESIGN.md``). The report's notes say how many rows carried them; read the
    CSV with pandas if you need them (or use ``numerator``/``denominator`` with
    :mod:`cqc_research.metrics.funnel`).

    Parameters
    ----------
    path : str or Path
        The CSV as exported (a byte-order mark, renamed or reordered columns, ``Gender`` for
        ``Sex`` and the older exports without 99.8% limits or ``Time period range`` all load).
    sex : str or None, default "Persons"
        The sex to keep (see above); ``None`` keeps each.
    age : str or None
        The age band to keep; ``None`` chooses per indicator (see above).
    errors : {"report", "raise"}
        ``"report"`` counts ``Value``, ``Count`` and ``Denominator`` cells that are not numbers
        (NaN, never 0) and warns; ``"raise"`` stops at the first.
    with_report : bool
        Also return a ``ReadReport``: rows dropped by reason, indicators and their measure
        names, the area types read, the parse report.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table: ``org_code`` the ``Area Code``, ``org_level`` from ``Area Type``,
        the period from ``Time period`` (:func:`fingertips_period`), ``measure``
        :func:`fingertips_measure` (``fingertips_<id>_<name words>``), ``value`` the ``Value``,
        ``numerator`` the ``Count``, ``denominator`` the ``Denominator``, ``org_name`` the
        ``Area Name``.

    Raises
    ------
    DataFormatError
        A required column is missing (named, with the loader of the kind the file looks like),
        or a ``Time period`` cannot be read (the row and text are named).
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("indicator id", "area code"))
    kw = dict(path=path, expected_kind="fingertips", required=True)
    c = {
        "id": find_column(frame, ["indicator id", "indicatorid"], what="Indicator ID", **kw),
        "name": find_column(frame, ["indicator name", "indicatorname"], what="Indicator Name", **kw),
        "code": find_column(frame, ["area code", "areacode"], what="Area Code", **kw),
        "type": find_column(frame, ["area type", "areatype"], what="Area Type", **kw),
        "period": find_column(frame, ["time period", "timeperiod"], what="Time period", **kw),
        "value": find_column(frame, ["value"], what="Value", **kw),
    }
    opt = {
        "area_name": ["area name", "areaname"], "parent": ["parent code", "parentcode"],
        "sex": ["sex", "gender"], "age": ["age"], "cat_type": ["category type", "categorytype"],
        "count": ["count", "numerator"], "den": ["denominator"],
        "ci95": ["lower ci 95 0 limit", "lower ci limit", "lowerci95 0limit", "lower ci 95 limit"],
        "ci998": ["lower ci 99 8 limit", "lowerci99 8limit"],
    }
    c.update({k: find_column(frame, v) for k, v in opt.items()})
    n = len(frame)
    text = {k: (frame[c[k]].astype(str).str.strip() if c[k] else pd.Series([""] * n))
            for k in ("sex", "age", "cat_type", "type", "parent", "code")}
    dropped: dict[str, int] = {}
    keep = np.ones(n, bool)

    def drop(mask, reason):
        mask = np.asarray(mask, bool) & keep
        if mask.any():
            dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
            keep[mask] = False

    level = text["type"].map(_area_level)
    codes = text["code"].str.upper()
    drop(codes.isin({"E92000001"}) | text["type"].str.casefold().eq("england"),
         "England rows")
    parents = set(text["parent"].str.upper()) - {""}
    is_parent = codes.isin(parents).to_numpy()
    # the area types of the children; a parent row of another type is dropped even when its type
    # is an organisation (the counties and UAs above districts: a UA is child and parent)
    child_types = set(text["type"][level.notna().to_numpy() & ~is_parent & keep])
    drop(is_parent & ~text["type"].isin(child_types).to_numpy(),
         "parent-area rows (regions, CCGs, sub-ICBs, ICBs...)")
    for t in pd.unique(text["type"][level.isna() & keep]):
        drop((text["type"] == t) & level.isna(), f"area type {t!r} (not an organisation CQC rates)")
    cat = text["cat_type"].str.casefold()
    drop(~cat.isin({"", "nan", "na", "none"}), "category breakdowns (Category Type set)")
    ident = frame[c["id"]].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    suffix = pd.Series("", index=frame.index)
    for ind in pd.unique(ident[keep]):
        on = (ident == ind).to_numpy() & keep
        if c["sex"]:
            sexes = set(text["sex"][on])
            if sex is not None and sex in sexes:
                drop(on & (text["sex"] != sex).to_numpy(), f"sex other than {sex}")
            elif len(sexes) > 1 or sex is None:
                suffix[on] = text["sex"][on].str.lower()
        on = (ident == ind).to_numpy() & keep
        if c["age"]:
            ages = text["age"][on]
            want = age
            if want is None:
                counts = ages.value_counts()
                want = "All ages" if "All ages" in counts.index else (counts.index[0] if len(counts) else None)
            if want is not None:
                drop(on & (text["age"] != want).to_numpy(), "age bands other than the indicator's own"
                     if age is None else f"age other than {age}")
    sub = frame.loc[keep].reset_index(drop=True)
    sub_rows = np.asarray(rows)[keep]
    lookup = {u: fingertips_period(u) for u in pd.unique(sub[c["period"]])}
    bad = [u for u, v in lookup.items() if v is None]
    if bad:
        pos = int(np.flatnonzero(sub[c["period"]].isin(bad).to_numpy())[0])
        raise DataFormatError(f"cannot read {bad[0]!r} as a Fingertips time period; expected e.g. "
                              "'2019/20', '2019', '2017 - 19', '2019/20 Q2'", path=path,
                              row=int(sub_rows[pos]), column=c["period"])
    report: dict = {}

    def num(k):
        if c[k] is None:
            return np.full(len(sub), np.nan)
        return parse_numeric(sub[c[k]], column=c[k], rows=sub_rows, report=report, path=path,
                             errors=errors)

    value, count, den = num("value"), num("count"), num("den")
    names = sub[c["name"]].astype(str).str.strip()
    ids = ident[keep].reset_index(drop=True)
    suf = suffix[keep].reset_index(drop=True)
    triples = pd.DataFrame({"i": ids, "n": names, "s": suf})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(triples))
    measure = np.array([fingertips_measure(i, nm, suffix=s) for i, nm, s in uniques],
                       dtype=object)[codes]  # once per indicator, not per row
    keys = pd.DataFrame({
        "org_code": sub[c["code"]].astype(str).str.strip().str.upper(),
        "period_start": sub[c["period"]].map(lambda u: lookup[u][0]),
        "period_end": sub[c["period"]].map(lambda u: lookup[u][1]),
        "org_name": clean_text(sub[c["area_name"]]) if c["area_name"] else pd.NA})
    levels = level[keep].reset_index(drop=True).to_numpy()
    out = pd.DataFrame({**{k: keys[k] for k in keys}, "org_level": levels, "measure": measure,
                        "value": value, "numerator": count, "denominator": den})
    dup = out.duplicated(["org_code", "period_start", "period_end", "measure"], keep=False)
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(
            f"area {out['org_code'].iloc[pos]} has more than one row for {measure[pos]} in "
            f"{sub[c['period']].iloc[pos]!r}; pass sex= or age= to choose one breakdown",
            path=path, row=int(sub_rows[pos]), column=c["code"])
    out = finish_table(out) if len(out) else stack_measures(keys, [], org_level="practice")
    if errors == "report":
        warn_unparseable(report, path)
    notes = ["indicators: " + "; ".join(sorted({f"{i} {nm!r} -> {fingertips_measure(i, nm, suffix=s)}"
                                                for i, nm, s in uniques}))]
    notes.append("area types read: " + ", ".join(sorted(set(text["type"][keep]))))
    if c["ci95"] or c["ci998"]:
        with_ci = int(sub[c["ci95"] or c["ci998"]].astype(str).str.strip().ne("").sum())
        notes.append(f"confidence limits published for {with_ci:,} kept rows were not kept "
                     "(the indicator table has no interval columns)")
    spans = sorted(set(zip(keys["period_start"], keys["period_end"], strict=True)))
    label = None
    if spans:
        first = sub[c["period"]].iloc[int(np.argmin(keys["period_start"].to_numpy()))]
        last = sub[c["period"]].iloc[int(np.argmax(keys["period_end"].to_numpy()))]
        label = str(first) if len(spans) == 1 else f"{first} to {last} ({len(spans)} periods)"
    return loaded_table(out, path, kind="fingertips", report=report, excluded=dropped,
                        period=label, notes=notes, with_report=with_report)


register(Kind("fingertips", "a Fingertips all-data CSV export (Indicator ID, Area Code, Value, ...)",
              load_fingertips, rank=70,
              columns=lambda n, joined, raw: {"indicator id", "area code", "value"} <= n
              and bool(n & {"area type", "time period"})))
