"""A&E attendances and emergency admissions (NHS England, monthly): the official CSVs and the tidy derivative."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .common import (
    check_errors,
    find_column,
    missing_column_error,
    normalise_header,
    parse_months,
    parse_numeric,
    ratio,
    read_table_csv,
    set_table_attrs,
    stack_measures,
    warn_unparseable,
)

__all__ = [
    "ae_role",
    "load_ae_monthly",
    "AE_TIDY_TYPES",
    "load_ae_tidy",
]

_AE_TYPE_WORD = r"(type 1|type 2|other(?: a and e)? department|other)"


def ae_role(norm: str):
    """Map a normalised official A&E header to ``(quantity, type)``."""
    t = {"type 1": "type1", "type 2": "type2"}
    m = re.fullmatch(r"a and e attendances (booked appointments )?" + _AE_TYPE_WORD, norm)
    if m:
        return ("booked" if m.group(1) else "att", t.get(m.group(2), "other"))
    m = re.fullmatch(r"(?:attendances )?over 4 ?hrs (booked appointments )?" + _AE_TYPE_WORD,
                     norm.replace("attendances over", "over"))
    if m:
        return ("booked_breaches" if m.group(1) else "breaches", t.get(m.group(2), "other"))
    m = re.fullmatch(r"emergency admissions via a and e (?:type )?" + _AE_TYPE_WORD, norm)
    if m:
        return ("adm", t.get(m.group(1), "other"))
    if norm == "other emergency admissions":
        return ("adm_other_routes", None)
    if re.fullmatch(r"patients who have waited 4 12 h\w* from dta to admission", norm):
        return ("dta_4_12", None)
    if re.fullmatch(r"patients who have waited 12 h\w* from dta to admission", norm):
        return ("dta_12", None)
    return None


def _ae_measures(keys, att, br, adm, *, drop_empty_types: bool, other_routes=None,
                 dta=None) -> pd.DataFrame:
    """Measures from per-type arrays (dicts type -> array, NaN where absent)."""
    n = len(keys)
    specs = []
    present_any = np.zeros(n, bool)
    for t in ("type1", "type2", "other"):
        a, b, d = att[t], br[t], adm[t]
        if drop_empty_types:
            keep = ~((np.nan_to_num(a) == 0) & (np.nan_to_num(b) == 0) & (np.nan_to_num(d) == 0))
            keep &= ~(np.isnan(a) & np.isnan(b) & np.isnan(d))
        else:
            keep = ~(np.isnan(a) & np.isnan(b) & np.isnan(d))
        present_any |= keep
        specs += [(f"ae_attendances_{t}", a, None, None, keep),
                  (f"ae_breaches_{t}", b, None, None, keep),
                  (f"ae_4hr_performance_{t}", ratio(a - b, a, 100.0), a - b, a, keep),
                  (f"emergency_admissions_{t}", d, None, None, keep)]
    # "all" sums the present types; a NaN in any present type makes the sum NaN (never 0)
    a_all = np.zeros(n)
    b_all = np.zeros(n)
    d_all = np.zeros(n)
    for t in ("type1", "type2", "other"):
        a, b, d = att[t], br[t], adm[t]
        absent = np.isnan(a) & np.isnan(b) & np.isnan(d)
        a_all = a_all + np.where(absent, 0.0, a)
        b_all = b_all + np.where(absent, 0.0, b)
        d_all = d_all + np.where(absent, 0.0, d)
    specs += [("ae_attendances_all", a_all, None, None, present_any),
              ("ae_breaches_all", b_all, None, None, present_any),
              ("ae_4hr_performance_all", ratio(a_all - b_all, a_all, 100.0), a_all - b_all,
               a_all, present_any),
              ("emergency_admissions", d_all, None, None, present_any)]
    if other_routes is not None:
        specs.append(("emergency_admissions_other_routes", other_routes, None, None, None))
    if dta is not None:
        specs += [("ae_dta_waits_4_12h", dta[0], None, None, None),
                  ("ae_dta_waits_12h_plus", dta[1], None, None, None)]
    return stack_measures(keys, specs, org_level="trust")


def _ae_files(paths_or_folder) -> list[Path]:
    if isinstance(paths_or_folder, str | os.PathLike):
        p = Path(paths_or_folder)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv"
                           and not f.name.startswith("."))
            if not files:
                raise DataFormatError("no .csv files in this folder; expected the official "
                                      "monthly A&E CSVs", path=p)
            return files
        return [p]
    return [Path(p) for p in paths_or_folder]


def load_ae_monthly(paths_or_folder, *, drop_empty_types: bool = True,
                    errors: str = "report") -> pd.DataFrame:
    """Load NHS England's official monthly A&E attendances and emergency admissions CSVs.

    Each file has 22 columns (``Period, Org Code, Parent Org, Org name, A&E attendances Type 1,
    ...``), ``Period`` like ``MSitAE-MARCH-2019``, and a ``TOTAL`` row, which is dropped
    (in whichever of Period, Org Code, Parent Org or Org name it is written) and counted in
    ``attrs["excluded_rows"]``. Booked-appointment columns are optional (older files lack them).

    Parameters
    ----------
    paths_or_folder : path, folder, or list of paths
        One CSV, a list of them, or a folder whose ``*.csv`` files are all monthly A&E files.
    drop_empty_types : bool
        Drop a trust-month's measures for a department type with no attendances, breaches or
        admissions (the official files print zeros for types a trust does not run, which the
        NHS-R tidy form omits). Measures of ``all`` are kept if any type is present.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table, ``org_level="trust"``, monthly periods, with measures for each
        ``type`` in ``type1, type2, other, all``:

        - ``ae_attendances_<type>``: attendances, booked appointments included (the NHS England
          definition of total attendances)
        - ``ae_breaches_<type>``: attendances over 4 hours, booked included
        - ``ae_4hr_performance_<type>``: percentage seen within 4 hours, 0-100, numerator
          attendances - breaches, denominator attendances (NaN when there are none)
        - ``emergency_admissions_<type>`` and ``emergency_admissions`` (all types): emergency
          admissions via A&E
        - ``emergency_admissions_other_routes``, ``ae_dta_waits_4_12h``,
          ``ae_dta_waits_12h_plus``: the remaining columns, per trust-month
    """
    check_errors(errors)
    files = _ae_files(paths_or_folder)
    report: dict = {}
    excluded = {"TOTAL": 0}
    parts = []
    for path in files:
        frame, rows = read_table_csv(path, header_markers=("Period", "Org Code"))
        c_period = find_column(frame, ["period"], path=path, required=True, expected_kind="ae_monthly",
                         what="Period")
        c_code = find_column(frame, ["org code"], path=path, required=True, expected_kind="ae_monthly",
                       what="Org Code")
        c_name = find_column(frame, ["org name"])
        c_parent = find_column(frame, ["parent org"])
        roles = {}
        for c in frame.columns:
            r = ae_role(normalise_header(c))
            if r is not None and r not in roles:
                roles[r] = c
        for q, label in (("att", "A&E attendances"), ("breaches", "Attendances over 4hrs")):
            for t, suffix in (("type1", "Type 1"), ("type2", "Type 2"),
                              ("other", "Other A&E Department" if q == "att" else
                               "Other Department")):
                if (q, t) not in roles:
                    raise missing_column_error(frame, f"{label} {suffix}", path, "ae_monthly")
        label_cols = [c for c in (c_period, c_code, c_parent, c_name) if c is not None]
        is_total = np.zeros(len(frame), bool)
        for c in label_cols:
            is_total |= (frame[c].str.strip().str.upper() == "TOTAL").to_numpy()
        is_total |= (frame[c_code].str.strip() == "").to_numpy() & \
            ~frame[c_period].str.contains(r"\d", regex=True).to_numpy()
        excluded["TOTAL"] += int(is_total.sum())
        frame, rows = frame.loc[~is_total].reset_index(drop=True), rows[~is_total]
        month = parse_months(frame[c_period].str.strip(), column=c_period, rows=rows, path=path)
        vals = {r: parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                                  errors=errors) for r, c in roles.items()}
        n = len(frame)
        zeros = np.zeros(n)
        part = pd.DataFrame({
            "org_code": frame[c_code].str.strip().str.upper(),
            "org_name": frame[c_name].str.strip() if c_name else pd.NA,
            "period_start": month,
        })
        for t in ("type1", "type2", "other"):
            part[f"att_{t}"] = vals[("att", t)] + vals.get(("booked", t), zeros)
            part[f"br_{t}"] = vals[("breaches", t)] + vals.get(("booked_breaches", t), zeros)
            part[f"adm_{t}"] = vals.get(("adm", t), np.full(n, np.nan))
        part["other_routes"] = vals.get(("adm_other_routes", None), np.full(n, np.nan))
        part["dta_4_12"] = vals.get(("dta_4_12", None), np.full(n, np.nan))
        part["dta_12"] = vals.get(("dta_12", None), np.full(n, np.nan))
        parts.append(part)
    data = pd.concat(parts, ignore_index=True)
    dup = data.duplicated(["org_code", "period_start"], keep=False)
    if dup.any():
        first = data.loc[dup].iloc[0]
        raise DataFormatError(
            f"organisation {first.org_code} appears more than once for "
            f"{first.period_start:%B %Y}; pass each month's file once", path=files[0])
    data["period_end"] = data["period_start"] + pd.offsets.MonthEnd(0)
    if errors == "report":
        warn_unparseable(report, files[0] if len(files) == 1 else Path(str(files[0])).parent)
    out = _ae_measures(
        data,
        {t: data[f"att_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        {t: data[f"br_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        {t: data[f"adm_{t}"].to_numpy() for t in ("type1", "type2", "other")},
        drop_empty_types=drop_empty_types, other_routes=data["other_routes"].to_numpy(),
        dta=(data["dta_4_12"].to_numpy(), data["dta_12"].to_numpy()))
    return set_table_attrs(out, files, kind="ae_monthly", report=report, excluded=excluded)


AE_TIDY_TYPES = {"1": "type1", "type 1": "type1", "type1": "type1", "2": "type2",
                  "type 2": "type2", "type2": "type2", "other": "other", "3": "other",
                  "other a and e department": "other", "other department": "other"}


def load_ae_tidy(path, *, errors: str = "report") -> pd.DataFrame:
    """Load A&E attendances in the NHS-R community's tidy form.

    Columns ``period, org_code, type, attendances, breaches, admissions``: one row per trust,
    month (``period`` is the first day, ``2016-04-01``) and department type (``1``, ``2``,
    ``other``). Rows exist only for the types a trust runs.

    Parameters
    ----------
    path : str or Path
        The CSV (e.g. ``ae_attendances_tidy_2016_2019.csv``).
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.

    Returns
    -------
    pandas.DataFrame
        The indicator table with the same measures as :func:`load_ae_monthly` (without the
        columns only the official file has): ``ae_attendances_<type>``, ``ae_breaches_<type>``,
        ``ae_4hr_performance_<type>``, ``emergency_admissions_<type>`` for ``type1, type2,
        other``, and for ``all`` (the sum over the types present) plus ``emergency_admissions``.
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("org_code", "type"))
    cols = {}
    for key, aliases in {"period": ["period", "month"], "org_code": ["org_code", "org code"],
                         "type": ["type", "department type"],
                         "attendances": ["attendances"], "breaches": ["breaches"],
                         "admissions": ["admissions"]}.items():
        cols[key] = find_column(frame, aliases, path=path, required=key != "admissions",
                          expected_kind="ae_tidy", what=key)
    types = frame[cols["type"]].map(lambda v: AE_TIDY_TYPES.get(normalise_header(v)))
    if types.isna().any():
        pos = int(np.flatnonzero(types.isna().to_numpy())[0])
        raise DataFormatError(
            f"unknown department type {frame[cols['type']].iloc[pos]!r}; expected 1, 2 or other",
            path=path, row=int(rows[pos]), column=cols["type"])
    report: dict = {}
    month = parse_months(frame[cols["period"]].str.strip(), column=cols["period"], rows=rows,
                          path=path)
    num = {k: parse_numeric(frame[cols[k]], column=cols[k], rows=rows, report=report,
                             path=path, errors=errors) if cols[k] else np.full(len(frame), np.nan)
           for k in ("attendances", "breaches", "admissions")}
    long = pd.DataFrame({"org_code": frame[cols["org_code"]].str.strip().str.upper(),
                         "period_start": month, "type": types.astype(str), **num})
    dup = long.duplicated(["org_code", "period_start", "type"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError("a trust, month and type appear twice", path=path,
                              row=int(rows[pos]), column=cols["type"])
    wide = long.pivot(index=["org_code", "period_start"], columns="type",
                      values=["attendances", "breaches", "admissions"]).reset_index()
    wide.columns = ["_".join(c).strip("_") for c in wide.columns]
    wide["period_end"] = wide["period_start"] + pd.offsets.MonthEnd(0)
    wide["org_name"] = pd.NA

    def col(q, t):
        name = f"{q}_{t}"
        return wide[name].to_numpy(dtype="float64") if name in wide else np.full(len(wide), np.nan)

    if errors == "report":
        warn_unparseable(report, path)
    out = _ae_measures(wide, {t: col("attendances", t) for t in ("type1", "type2", "other")},
                       {t: col("breaches", t) for t in ("type1", "type2", "other")},
                       {t: col("admissions", t) for t in ("type1", "type2", "other")},
                       drop_empty_types=False)
    return set_table_attrs(out, path, kind="ae_tidy", report=report)
