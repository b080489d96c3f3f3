"""A&E attendances and emergency admissions (NHS England, monthly): the official CSVs and the tidy derivative."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._folders import read_each
from .._kinds import Kind, register
from ._ae_grid import ae_column_role, ae_role, is_ae_workbook, read_grid
from ._common import (
    DATE_DTYPE,
    WORKBOOK_SUFFIXES,
    ColumnReport,
    IndicatorParseWarning,
    ReadReport,
    check_errors,
    find_column,
    loaded_table,
    meaning_text,
    merge_parse_reports,
    missing_token_counts,
    normalise_header,
    parse_month_text,
    parse_months,
    parse_numeric,
    ratio,
    read_table_csv,
    set_table_attrs,
    stack_measures,
    warn_unparseable,
)

__all__ = ["load_ae_monthly", "load_ae_tidy"]

#: The published layouts of the monthly A&E files that :func:`load_ae_monthly` reads, with the
#: months each covers (``docs/real_data.md`` has the detail).
AE_LAYOUTS = {
    "workbook-2015": "'A&E by provider' workbook (.xls), June 2015 to March 2017: preamble "
                     "('Period:' cell), group row 'A&E attendances' / 'A&E attendances > 4 hours "
                     "...' / 'Emergency Admissions' above 'Type 1 Departments - Major A&E', ...; "
                     "an 'England' row",
    "workbook-2017": "'A&E by provider' workbook (.xls/.xlsx), April 2017 to March 2018 (and the "
                     "workbooks published beside the CSVs later): adds 'A&E attendances less than "
                     "4 hours ...' and 'Percentage of attendances within 4 hours' groups; several "
                     "sheets ('Provider Level Data' is read)",
    "csv-2018": "monthly CSV, April 2018 to March 2020: 'Number of A&E attendances Type 1', "
                "'Number of attendances over 4hrs Type 1', ... (16 columns)",
    "csv-2020": "monthly CSV, April to July 2020: 'A&E attendances Type 1', 'Attendances over "
                "4hrs Type 1', ... (16 columns)",
    "csv-2020-booked": "monthly CSV from August 2020: adds 'A&E attendances Booked Appointments "
                       "...' and 'Attendances over 4hrs Booked Appointments ...' (22 columns)",
}

_TYPES = ("type1", "type2", "other")


_ROLE_TEXT = {"att": "attendances", "booked": "attendances (booked appointments)",
              "breaches": "attendances over 4 hours",
              "booked_breaches": "attendances over 4 hours (booked appointments)",
              "adm": "emergency admissions via A&E", "adm_other_routes":
              "other emergency admissions (not via A&E)",
              "dta_4_12": "waits of 4-12 hours from decision to admit",
              "dta_12": "waits of 12+ hours from decision to admit",
              "dta_4_plus": "waits of over 4 hours from decision to admit (12+ included)"}


def _role_text(role) -> str:
    if role[0] == "label":
        return role[1]
    if role[0] == "ignored":
        return f"ignored: {role[1]}"
    return _ROLE_TEXT[role[0]] + (f", {role[1]}" if role[1] else "")


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
            files = sorted(f for f in p.iterdir() if f.is_file()
                           and f.suffix.lower() in {".csv"} | WORKBOOK_SUFFIXES
                           and not f.name.startswith((".", "~$")))
            if not files:
                raise DataFormatError("no .csv, .xls or .xlsx files in this folder; expected the "
                                      "official monthly A&E CSVs or 'A&E by provider' workbooks",
                                      path=p)
            return files
        return [p]
    return [Path(p) for p in paths_or_folder]


def _is_total_cell(text: str) -> str | None:
    t = meaning_text(text)
    if t in {"total", "totals", "grand total", "total england", "england total"}:
        return "total row (TOTAL)"
    if t == "england":
        return "England row (the national total)"
    return None


def _period_from_preamble(grid, path):
    """The month of a workbook, from its ``Period:`` cell (else from the file name)."""
    value = grid.preamble.get("period")
    if value:
        month = parse_month_text(value)
        if month is None:
            m = re.search(r"([A-Za-z]+)\W+(\d{4})", value)
            month = parse_month_text(f"{m.group(1)} {m.group(2)}") if m else None
        if month is not None:
            return month, f"{month:%Y-%m} (from the 'Period:' cell, {value!r})"
    m = re.search(r"([A-Za-z]+)[-_ ]+(\d{4})", path.stem)
    month = parse_month_text(f"{m.group(1)} {m.group(2)}") if m else None
    if month is not None:
        return month, f"{month:%Y-%m} (from the file name; no 'Period:' cell)"
    raise DataFormatError("no 'Period:' cell above the header and no month in the file name; "
                          "expected e.g. 'Period: April 2016'", path=path)


def _expected_text() -> str:
    return ("expected, for each department type (Type 1, Type 2, Other / Type 3), a column of "
            "A&E attendances (e.g. 'A&E attendances Type 1', 'Number of A&E attendances Type 1', "
            "or 'Type 1 Departments - Major A&E' under an 'A&E attendances' group) and of "
            "attendances over 4 hours (e.g. 'Attendances over 4hrs Type 1'), optionally booked "
            "appointments and emergency admissions via A&E, beside 'Org Code' (or 'Code'), "
            "'Period' (or a 'Period:' cell), 'Org name' and 'Parent Org'")


def _read_ae_file(path: Path, *, errors: str, report_cells: dict):
    """One monthly file -> (per-organisation frame of counts by type, ReadReport)."""
    grid = read_grid(path)
    header, groups = grid.header, grid.groups
    workbook = grid.sheet is not None
    rep = ReadReport(path=path, kind="ae_monthly (NHS England monthly A&E)", sheet=grid.sheet,
                     header_row=grid.header_row + 1, header=list(header), parse_report=report_cells)
    roles, unmapped = {}, []
    col_roles = []
    for j, (name, g) in enumerate(zip(header, groups, strict=True)):
        role = ae_column_role(name, g)
        source = f"{g} | {name}" if g else name
        col_roles.append((j, source, role))
        if role is None:
            unmapped.append(source)
        elif role[0] not in {"ignored"} and role not in roles:
            roles[role] = j
    body = grid.rows[grid.header_row + 1:]
    if unmapped:
        raise DataFormatError(
            f"cannot tell what {len(unmapped)} column(s) hold: {unmapped}; {_expected_text()}. "
            f"Columns found: {[s for _, s, _ in col_roles if s]}", path=path, sheet=grid.sheet,
            row=grid.header_row + 1, column=unmapped[0])
    missing = [f"{q} {t}" for q in ("att", "breaches") for t in _TYPES if (q, t) not in roles]
    if ("label", "org_code") not in roles:
        missing.insert(0, "org_code")
    if not workbook and ("label", "period") not in roles and "period" not in grid.preamble:
        missing.insert(0, "period")
    if missing:
        names = {"org_code": "Org Code", "period": "Period"}
        for t, label in (("type1", "Type 1"), ("type2", "Type 2"), ("other", "Other")):
            names[f"att {t}"] = f"A&E attendances {label}" + (" A&E Department" if t == "other"
                                                                else "")
            names[f"breaches {t}"] = f"Attendances over 4hrs {label}" + (
                " Department" if t == "other" else "")
        shown = [names[m] for m in missing]
        raise DataFormatError(
            f"required column is missing: {shown}; {_expected_text()}. Columns found: "
            f"{[s for _, s, _ in col_roles if s]}", path=path, sheet=grid.sheet,
            row=grid.header_row + 1, column=shown[0])
    # the layout
    if workbook:
        within = any(r == ("ignored", "attendances within 4 hours (attendances minus those over "
                                      "4 hours)") for _, _, r in col_roles)
        rep.layout = "workbook-2017" if within else "workbook-2015"
    elif any(r[0] in {"booked", "booked_breaches"} for r in roles):
        rep.layout = "csv-2020-booked"
    elif meaning_text(header[roles[("att", "type1")]]).startswith("number of"):
        rep.layout = "csv-2018"
    else:
        rep.layout = "csv-2020"
    # rows: blank, total, no organisation code, organisations
    rows_no = np.arange(len(body)) + grid.header_row + 2
    rep.rows_read = len(body)
    c_code = roles[("label", "org_code")]
    first_cols = [j for j, name in enumerate(header) if name][:4]
    label_cols = sorted({*first_cols, *(j for r, j in roles.items() if r[0] == "label")})
    measure_cols = [j for r, j in roles.items() if r[0] not in {"label"}]
    keep = np.zeros(len(body), bool)
    totals_rows = []
    dropped: dict[str, int] = {}
    for i, r in enumerate(body):
        if not any(r):
            reason = "blank rows (padding)"
        else:
            reason = next((x for x in (_is_total_cell(r[j]) for j in label_cols) if x), None)
            if reason:
                totals_rows.append(i)
            elif r[c_code] in {"", "-"}:
                has_numbers = any(r[j] for j in measure_cols)
                reason = ("rows without an organisation code (subtotals)" if has_numbers
                          else "text rows without an organisation code (notes, headings)")
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            keep[i] = True
    rep.dropped = dropped
    frame = pd.DataFrame([body[i] for i in np.flatnonzero(keep)], columns=range(len(header)),
                         dtype=object) if keep.any() else pd.DataFrame(columns=range(len(header)))
    rows = rows_no[keep]
    rep.rows_kept = len(frame)
    for j, source, role in col_roles:
        label = _role_text(role)
        if role[0] == "label" and role[1] == "period" and workbook:
            label = "period"
        cells = frame[j] if len(frame) else pd.Series([], dtype=object)
        rep.columns.append(ColumnReport(j + 1, source, label,
                                        missing_token_counts(cells) if role[0] != "label" else {}))
    # the month
    if ("label", "period") in roles:
        c_period = roles[("label", "period")]
        month = parse_months(frame[c_period].astype(str).str.strip(), column=header[c_period],
                             rows=rows, path=path)
        shown = sorted({f"{m:%Y-%m}" for m in month})
        rep.period = ", ".join(shown) + " (from the Period column)"
    else:
        m, rep.period = _period_from_preamble(grid, path)
        month = pd.Series(pd.Timestamp(m), index=range(len(frame))).astype(DATE_DTYPE)
    # numbers
    n = len(frame)
    vals = {}
    for role, j in roles.items():
        if role[0] == "label":
            continue
        vals[role] = parse_numeric(frame[j] if n else [], column=header[j], rows=rows,
                                   report=report_cells, path=path, errors=errors)
    nan = np.full(n, np.nan)
    zeros = np.zeros(n)
    c_name = roles.get(("label", "org_name"))
    part = pd.DataFrame({
        "org_code": frame[c_code].astype(str).str.strip().str.upper().to_numpy() if n else [],
        "org_name": frame[c_name].astype(str).str.strip().to_numpy() if c_name is not None and n
        else pd.NA,
        "period_start": month.to_numpy() if n else pd.Series([], dtype=DATE_DTYPE),
    })
    for t in _TYPES:
        part[f"att_{t}"] = vals[("att", t)] + vals.get(("booked", t), zeros)
        part[f"br_{t}"] = vals[("breaches", t)] + vals.get(("booked_breaches", t), zeros)
        part[f"adm_{t}"] = vals.get(("adm", t), nan)
    part["other_routes"] = vals.get(("adm_other_routes", None), nan)
    dta12 = vals.get(("dta_12", None), nan)
    if ("dta_4_12", None) in vals:
        dta412 = vals[("dta_4_12", None)]
    elif ("dta_4_plus", None) in vals:
        dta412 = vals[("dta_4_plus", None)] - dta12
        rep.notes.append("waits of 4-12 hours from decision to admit = the published waits of "
                         "over 4 hours minus those of over 12 hours")
    else:
        dta412 = nan
    part["dta_4_12"], part["dta_12"] = dta412, dta12
    # the file's own total row against the sum over organisations
    if totals_rows:
        trow = body[totals_rows[0]]
        for q, label in (("att", "attendances"), ("breaches", "attendances over 4 hours")):
            for t in _TYPES:
                js = [roles[(q, t)]] + ([roles[(("booked" if q == "att" else "booked_breaches"),
                                               t)]]
                                         if (("booked" if q == "att" else "booked_breaches"), t)
                                         in roles else [])
                tot = parse_numeric([trow[j] for j in js], column="total", rows=None, report={},
                                    path=path)
                if np.isnan(tot).all():
                    continue
                got = float(np.nansum(part[f"{'att' if q == 'att' else 'br'}_{t}"]))
                rep.totals[f"{label}, {t}"] = (got, float(np.nansum(tot)))
        bad = [k for k, (got, tot) in rep.totals.items()
               if abs(got - tot) > 1e-6 * max(1.0, abs(tot)) + 0.01]
        if bad:
            warnings.warn(f"{path}: the sum over organisations differs from the file's own total "
                          f"row for {bad}", IndicatorParseWarning, stacklevel=3)
    else:
        rep.notes.append("no total or England row: totals not checked")
    return part, rep


def _read_ae_files(files, *, errors: str, strict: bool):
    """Read each file (see :func:`.._folders.read_each`): ``(files read, parts, reports)``,
    the reports in file order, a file set aside reported by the line naming it and why."""
    good, skipped = read_each(
        files, lambda f: _read_ae_file(f, errors=errors, report_cells={}),
        strict=strict or errors == "raise", what="monthly A&E file")
    read = {f: result for f, result in good}
    notes = dict(skipped)
    reports = []
    for f in map(Path, files):
        if f in read:
            reports.append(read[f][1])
        elif f in notes:
            reports.append(ReadReport(path=f, kind="ae_monthly (NHS England monthly A&E)",
                                      notes=[f"{notes[f]}; nothing from this file is in the "
                                             "table (strict=True / --strict stops here)"]))
    return [f for f, _ in good], [part for _, (part, _) in good], reports


def explain_ae(paths_or_folder, *, strict: bool = False) -> list[ReadReport]:
    """How each monthly A&E file would be read, without building the indicator table.

    Parameters
    ----------
    paths_or_folder : path, folder, or list of paths
        As for :func:`load_ae_monthly`.
    strict : bool
        As for :func:`load_ae_monthly`.

    Returns
    -------
    list of ReadReport
        One per file; ``print(report)`` shows the layout, header row, each column's role, rows
        dropped and why, values read as missing and the check against the file's total row
        (for a file that could not be read, its note says why).
    """
    return _read_ae_files(_ae_files(paths_or_folder), errors="report", strict=strict)[2]


def load_ae_monthly(paths_or_folder, *, drop_empty_types: bool = True,
                    errors: str = "report", with_report: bool = False, strict: bool = False):
    """Load NHS England's monthly A&E attendances and emergency admissions, every layout since 2015.

    Reads the monthly CSVs (the three header layouts of April 2018 to March 2020, April to July
    2020, and from August 2020 with booked appointments) and the older 'A&E by provider'
    workbooks (``.xls``/``.xlsx``: a preamble with a ``Period:`` cell, a group row above
    column names that repeat under each group, an ``England`` row), in any mix; see
    :data:`AE_LAYOUTS` and ``docs/real_data.md``. Columns are found by their meaning
    (attendances / over 4 hours / emergency admissions x department type, see
    :func:`ae_column_role`), never by position; a header that means nothing known is an error
    that lists what was expected and what was found. Total rows (``TOTAL`` / ``Total`` in any of
    the first four columns, or the ``England`` row) are dropped, and the sum over organisations
    is checked against them (a mismatch warns). ``N/A`` and ``-`` cells are missing, never 0.

    Parameters
    ----------
    paths_or_folder : path, folder, or list of paths
        One file, a list of them, or a folder whose ``.csv``/``.xls``/``.xlsx`` files are all
        monthly A&E files.
    drop_empty_types : bool
        Drop a trust-month's measures for a department type with no attendances, breaches or
        admissions (the official files print zeros for types a trust does not run, which the
        NHS-R tidy form omits). Measures of ``all`` are kept if any type is present.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`. ``"raise"`` also stops at a file that cannot be read.
    with_report : bool
        Also return how each file was read (a list of :class:`ReadReport`).
    strict : bool
        Of several files (a folder or a list), one that cannot be read (damaged, truncated,
        not a monthly A&E file) is by default set aside: nothing from it enters the table, a
        :class:`~cqc_research.errors.SkippedFileWarning` names it and why, and so does its
        report (``--explain``); the other files load. ``strict=True`` raises at the first
        instead. A single file always raises.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, list of ReadReport) with ``with_report=True``
        The indicator table, ``org_level="trust"``, monthly periods, with measures for each
        ``type`` in ``type1, type2, other, all``:

        - ``ae_attendances_<type>``: attendances, booked appointments included (the NHS England
          definition of total attendances)
        - ``ae_breaches_<type>``: attendances over 4 hours, booked included
        - ``ae_4hr_performance_<type>``: percentage seen within 4 hours, 0-100, numerator
          attendances - breaches, denominator attendances (NaN when there are none)
        - ``emergency_admissions_<type>`` and ``emergency_admissions`` (all types): emergency
          admissions via A&E (type ``other`` is types 3 and 4)
        - ``emergency_admissions_other_routes``, ``ae_dta_waits_4_12h``,
          ``ae_dta_waits_12h_plus``: the remaining columns, per trust-month

    Examples
    --------
    >>> ae, reports = load_ae_monthly("data/raw/ae", with_report=True)  # doctest: +SKIP
    >>> print(reports[0])  # doctest: +SKIP
    """
    check_errors(errors)
    files, parts, reports = _read_ae_files(_ae_files(paths_or_folder), errors=errors,
                                           strict=strict)
    report = merge_parse_reports(r.parse_report for r in reports)
    data = pd.concat(parts, ignore_index=True)
    dup = data.duplicated(["org_code", "period_start"], keep=False)
    if dup.any():
        first = data.loc[dup].iloc[0]
        where = [str(f.name) for f, p in zip(files, parts, strict=True)
                 if ((p.org_code == first.org_code) & (p.period_start == first.period_start)).any()]
        raise DataFormatError(
            f"organisation {first.org_code} appears more than once for "
            f"{pd.Timestamp(first.period_start):%B %Y} (in {where}); pass each month's file once",
            path=files[0])
    data["period_start"] = pd.to_datetime(data["period_start"]).astype(DATE_DTYPE)
    data["period_end"] = data["period_start"] + pd.offsets.MonthEnd(0)
    if errors == "report":
        warn_unparseable(report, files[0] if len(files) == 1 else Path(str(files[0])).parent)
    out = _ae_measures(
        data,
        {t: data[f"att_{t}"].to_numpy(dtype="float64") for t in _TYPES},
        {t: data[f"br_{t}"].to_numpy(dtype="float64") for t in _TYPES},
        {t: data[f"adm_{t}"].to_numpy(dtype="float64") for t in _TYPES},
        drop_empty_types=drop_empty_types,
        other_routes=data["other_routes"].to_numpy(dtype="float64"),
        dta=(data["dta_4_12"].to_numpy(dtype="float64"), data["dta_12"].to_numpy(dtype="float64")))
    out = set_table_attrs(out, files, kind="ae_monthly")
    return (out, reports) if with_report else out


AE_TIDY_TYPES = {"1": "type1", "type 1": "type1", "type1": "type1", "2": "type2",
                  "type 2": "type2", "type2": "type2", "other": "other", "3": "other",
                  "other a and e department": "other", "other department": "other"}


def load_ae_tidy(path, *, errors: str = "report", with_report: bool = False):
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
    with_report : bool
        Also return how the file was read (a :class:`ReadReport`; its ``parse_report``
        counts the cells read as missing, see :func:`parse_report_frame`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
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
    return loaded_table(out, path, kind="ae_tidy", report=report, with_report=with_report)


register(Kind("ae_monthly", "an official monthly A&E CSV", load_ae_monthly, rank=30, folder=True,
              columns=lambda n, joined, raw: "org code" in n and any(ae_role(x) for x in n),
              sniff=lambda probe: is_ae_workbook(probe.path)))
register(Kind("ae_tidy", "an NHS-R tidy A&E CSV", load_ae_tidy, rank=50,
              columns=lambda n, joined, raw: {"period", "type", "attendances", "breaches"} <= n))
