"""NHS Payments to General Practice (NHS Digital, yearly CSV): practices and their payments measures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    DATE_DTYPE,
    MISSING_TOKENS,
    SUPPRESSED_TOKENS,
    check_errors,
    clean_text,
    financial_year,
    find_column,
    loaded_table,
    missing_column_error,
    normalise_header,
    parse_dates,
    parse_numeric,
    ratio,
    read_table_csv,
    snake_case,
    stack_measures,
    warn_unparseable,
    year_from_name,
)

__all__ = ["load_gp_payments", "load_gp_practices"]

# NHS Payments to General Practice
_GP_CANONICAL = {
    "nhs england region code": "region_code",
    "nhs england region name": "region_name",
    "region code": "region_code",
    "region name": "region_name",
    "commissioner region code": "region_code",
    "commissioner region name": "region_name",
    "ccg code": "ccg_code",
    "ccg name": "ccg_name",
    "sub icb location code": "ccg_code",
    "sub icb location name": "ccg_name",
    "sub icb code": "ccg_code",
    "sub icb name": "ccg_name",
    "commissioner code": "ccg_code",
    "commissioner name": "ccg_name",
    "icb code": "icb_code",
    "icb name": "icb_name",
    "pcn code": "pcn_code",
    "pcn name": "pcn_name",
    "practice code": "practice_code",
    "practice name": "practice_name",
    "practice address": "address",
    "practice postcode": "postcode",
    "practice open date": "open_date",
    "practice close date": "close_date",
    "contract type": "contract_type",
    "dispensing practice": "dispensing",
    "practice type": "practice_type",
    "practice rurality": "rurality",
    "rurality": "rurality",
    "atypical characteristics": "atypical",
    "quarter used for patient data": "patient_quarter",
    "number of registered patients last known figure": "list_size",
    "number of registered patients": "list_size",
    "registered patients": "list_size",
    "list size": "list_size",
    "number of weighted patients last known figure": "weighted_list_size",
    "number of weighted patients": "weighted_list_size",
    "weighted patients": "weighted_list_size",
    "weighted list size": "weighted_list_size",
    "average payments per registered patient": "payments_per_patient",
    "average payments per weighted patient": "payments_per_weighted_patient",
    "total qof payments": "total_qof_payments",
    "total nhs payments to general practice": "total_payments",
    "deductions for pensions levies and prescription charge income": "deductions",
    "total nhs payments to general practice minus deductions": "total_payments_minus_deductions",
}


GP_TEXT = {"region_code", "region_name", "ccg_code", "ccg_name", "icb_code", "icb_name",
            "pcn_code", "pcn_name", "practice_code", "practice_name", "address", "postcode",
            "contract_type", "dispensing", "practice_type", "rurality", "atypical",
            "patient_quarter"}


GP_DATES = {"open_date", "close_date"}


_GP_NUMERIC_KNOWN = {"list_size", "weighted_list_size", "payments_per_patient",
                     "payments_per_weighted_patient", "total_qof_payments", "total_payments",
                     "deductions", "total_payments_minus_deductions"}


_GP_REQUIRED = {"practice_code": "Practice Code",
                "list_size": "Number of Registered Patients (Last Known Figure)",
                "total_payments": "Total NHS Payments to General Practice"}


def gp_key(header) -> str:
    """The wide-table column for a payments-file header (canonical name or snake case).

    Parameters
    ----------
    header : str
        A column header of an NHS Payments to General Practice file.

    Returns
    -------
    str
        The wide table's column: a canonical name for known headers (``practice_code``,
        ``list_size``, ``ccg_code``, ``region_code``, ...), else the header in snake case.

    Examples
    --------
    >>> gp_key("Number of Registered Patients (Last Known Figure)")
    'list_size'
    >>> gp_key("Sub ICB Location Code")
    'ccg_code'
    """
    n = normalise_header(header)
    return _GP_CANONICAL.get(n, n.replace(" ", "_"))


def _parse_gp(path, year, errors):
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("Practice Code",))
    keys = [gp_key(c) for c in frame.columns]
    # required columns, by canonical key (prefix fallback for renamed variants)
    for key, label in _GP_REQUIRED.items():
        if key not in keys:
            col = None
            if key == "list_size":
                col = find_column(frame, ["number of registered patients"], prefix=True)
            elif key == "total_payments":
                col = find_column(frame, ["total nhs payments to general practice"], prefix=True,
                            exclude=("covid", "minus", "including", "deduction"))
            if col is None:
                raise missing_column_error(frame, label, path, "gp_payments")
            keys[list(frame.columns).index(col)] = key
    if year is None:
        year = year_from_name(path)
        if year is None:
            raise DataFormatError(
                "cannot tell the financial year from the file name (expected e.g. "
                "'nhs-payments-gp-2018-19.csv'); pass year='2018-19'", path=path)
    start, end, label = financial_year(year)
    report: dict = {}
    out = {}
    for col, key in zip(frame.columns, keys, strict=True):
        if key in out:  # a duplicated column: keep the first, name the rest by their header
            key = snake_case(col) + "_2"
        cells = frame[col]
        if key in GP_DATES:
            out[key] = parse_dates(cells, column=col, rows=rows, report=report, path=path)
        elif key in GP_TEXT:
            out[key] = cells.str.strip()
        elif key in _GP_NUMERIC_KNOWN or _mostly_numeric(cells):
            out[key] = parse_numeric(cells, column=col, rows=rows, report=report, path=path,
                                      errors=errors)
        else:
            out[key] = cells.str.strip()
    wide = pd.DataFrame(out)
    wide["practice_code"] = wide["practice_code"].str.strip().str.upper()
    empty_code = (wide["practice_code"] == "").to_numpy()
    if empty_code.any():
        raise DataFormatError("practice code is blank; every row needs one", path=path,
                              row=int(rows[np.flatnonzero(empty_code)[0]]),
                              column=frame.columns[keys.index("practice_code")])
    for key in ("contract_type", "practice_type", "rurality", "region_code", "ccg_code",
                "pcn_code", "icb_code"):
        if key in wide:
            wide[key] = clean_text(wide[key])
    if "dispensing" in wide:
        d = wide["dispensing"].str.strip().str.casefold()
        wide["dispensing"] = pd.array(d.map({"yes": True, "y": True, "no": False, "n": False}),
                                      dtype="boolean")
    if "atypical" in wide:  # kept verbatim, e.g. "| Part year of data || No registered patients |"
        wide["atypical"] = clean_text(wide["atypical"], unknown=("",))
    zero_list = (wide["list_size"] == 0).to_numpy()
    for key in ("payments_per_patient", "payments_per_weighted_patient"):
        if key in wide:  # the files print 0.00 for practices with no patients: undefined, not 0
            den = wide["list_size"] if key == "payments_per_patient" else \
                wide.get("weighted_list_size", wide["list_size"])
            wide.loc[(den == 0).to_numpy(), key] = np.nan
    wide.insert(0, "financial_year", label)
    wide.insert(1, "period_start", pd.Timestamp(start))
    wide.insert(2, "period_end", pd.Timestamp(end))
    wide["period_start"] = wide["period_start"].astype(DATE_DTYPE)
    wide["period_end"] = wide["period_end"].astype(DATE_DTYPE)
    wide["closed"] = wide["close_date"].notna() if "close_date" in wide else False
    missing = [m for m, k in (("weighted_list_size", "weighted_list_size"),
                              ("total_qof_payments", "total_qof_payments")) if k not in wide]
    notes = []
    if zero_list.any():
        notes.append(f"{int(zero_list.sum())} practice(s) with a list size of 0: their per-patient "
                     "averages are NaN, not the 0.00 the file prints")
    if missing:
        notes.append(f"not in this year's file: {', '.join(missing)}")
    info = {"period": label, "notes": notes, "rows": rows}
    return wide, report, info


def _mostly_numeric(cells: pd.Series) -> bool:
    s = cells.str.strip()
    if pd.to_numeric(s, errors="coerce").notna().mean() >= 0.5:
        return True
    s = s[~s.str.casefold().isin(MISSING_TOKENS | SUPPRESSED_TOKENS)]
    if s.empty:
        return True
    num = pd.to_numeric(s.str.replace(r"[£,\s%]", "", regex=True), errors="coerce")
    return bool(num.notna().mean() >= 0.5)


def load_gp_practices(path, *, year=None, errors: str = "report", with_report: bool = False):
    """One row per practice from an NHS Payments to General Practice CSV (the wide companion table).

    Practice attributes live here, not in the indicator table: region, CCG (or sub-ICB
    location), ICB and PCN codes and names where the year has them, address, postcode, open and
    close dates, ``contract_type`` (GMS/PMS/APMS), ``dispensing`` (boolean), ``practice_type``,
    ``rurality``, ``atypical``, and every payment column in snake case. ``UNKNOWN`` /
    ``MISSING`` attribute values become NA.

    Parameters
    ----------
    path : str or Path
        The annual CSV, any year's layout.
    year : str or int, optional
        The financial year (``"2018-19"``); by default read from the file name.
    errors : {"report", "raise"}
        Non-numeric cells in numeric columns are counted in the parse report (``with_report``) and read
        as NaN with a warning (``"report"``), or raise :class:`DataFormatError` (``"raise"``).
    with_report : bool
        Also return how the file was read: a :class:`~cqc_research.io.nhs.ReadReport`
        (rows dropped by reason in ``dropped``; per numeric column the cells read as missing in
        ``parse_report``, shown by ``parse_report_frame``).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        Columns ``financial_year, period_start, period_end``, the canonical columns
        (``practice_code, practice_name, ccg_code, ..., list_size, weighted_list_size,
        payments_per_patient, payments_per_weighted_patient, total_qof_payments,
        total_payments``), every other column of the file in snake case, and ``closed``
        (a close date is given). Per-patient averages are NaN where the list size is 0
        (the file prints 0.00 there).
    """
    wide, report, info = _parse_gp(path, year, errors)
    if errors == "report":
        warn_unparseable(report, path)
    info.pop("rows")
    return loaded_table(wide, path, kind="gp_practices", report=report, with_report=with_report, **info)


def load_gp_payments(path, *, year=None, errors: str = "report", with_report: bool = False):
    """Load an NHS Digital "NHS Payments to General Practice" annual CSV to the indicator table.

    Any year's layout loads: the byte-order mark, trailing spaces and case changes in headers,
    and columns that come and go (PCN, COVID payments, practice type, rurality) are handled by
    matching normalised names. Practice attributes are in :func:`load_gp_practices`.

    Parameters
    ----------
    path : str or Path
        ``nhs-payments-gp-YYYY-YY.csv`` (one row per practice).
    year : str or int, optional
        The financial year; by default read from the file name.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="practice"``, one period (1 April to 31 March), with
        measures

        - ``list_size``: Number of Registered Patients (Last Known Figure)
        - ``weighted_list_size``: Number of Weighted Patients (Last Known Figure)
        - ``payments_per_patient``: Average payments per registered patient as published
          (numerator total payments, denominator list size; computed when the column is absent)
        - ``payments_per_weighted_patient``: the same per weighted patient
        - ``qof_payments_per_patient``: Total QOF Payments / list size
        - ``total_payments``: Total NHS Payments to General Practice (excluding COVID payments)

        Ratios are NaN where the list size is 0. A measure whose column the year lacks is
        absent (the report's ``notes`` name it, as they count the practices with no patients).
        ``close_date`` is the practice's close date where the file gives one (NaT otherwise),
        which the linkage report uses; ``financial_year`` labels the period (``"2018-19"``).

    Raises
    ------
    DataFormatError
        When Practice Code, the registered patients or the total payments column is missing
        (naming the column and the file, and the kind of file it looks like instead), or when
        the financial year cannot be told.

    Examples
    --------
    >>> gp = load_gp_payments("nhs-payments-gp-2018-19.csv")  # doctest: +SKIP
    >>> gp.query("measure == 'qof_payments_per_patient'").value.describe()  # doctest: +SKIP
    """
    wide, report, info = _parse_gp(path, year, errors)
    if errors == "report":
        warn_unparseable(report, path)
    info.pop("rows")
    keys = wide.rename(columns={"practice_code": "org_code", "practice_name": "org_name"})
    if "org_name" not in keys:
        keys["org_name"] = pd.NA
    lst = wide["list_size"].to_numpy()
    total = wide["total_payments"].to_numpy()
    specs = [("list_size", lst, None, None), ("total_payments", total, None, None)]
    if "payments_per_patient" in wide:
        ppp = wide["payments_per_patient"].to_numpy()
    else:
        ppp = ratio(total, lst)
    specs.append(("payments_per_patient", ppp, total, lst))
    if "weighted_list_size" in wide:
        wl = wide["weighted_list_size"].to_numpy()
        specs.append(("weighted_list_size", wl, None, None))
        ppw = wide["payments_per_weighted_patient"].to_numpy() \
            if "payments_per_weighted_patient" in wide else ratio(total, wl)
        specs.append(("payments_per_weighted_patient", ppw, total, wl))
    if "total_qof_payments" in wide:
        qof = wide["total_qof_payments"].to_numpy()
        specs.append(("qof_payments_per_patient", ratio(qof, lst), qof, lst))
    out = stack_measures(keys, specs, org_level="practice")
    out.insert(out.columns.get_loc("period_end") + 1, "financial_year", info["period"])
    close = wide.set_index("practice_code")["close_date"] if "close_date" in wide else pd.Series(dtype=DATE_DTYPE)
    close = close[~close.index.duplicated()]
    out["close_date"] = out["org_code"].map(close).astype(DATE_DTYPE)  # for the linkage report
    return loaded_table(out, path, kind="gp_payments", report=report, with_report=with_report, **info)


register(Kind("gp_payments", "an NHS Payments to General Practice CSV", load_gp_payments, rank=20,
              columns=lambda n, joined, raw: "practice code" in n and any(
                  x.startswith("number of registered patients") for x in n)))
