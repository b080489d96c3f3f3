"""Writers of the NHS indicator files in their published layouts, used by the synthetic generator.

Each ``write_*`` writes exactly the layout the matching loader in :mod:`cqc_research.io.nhs` reads;
the tests round-trip writer -> loader.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_path
from ..io.nhs._common import normalise_header, ratio
from ..io.nhs.ae import AE_TIDY_TYPES
from ..io.nhs.dtoc import DTOC_REASONS
from ..io.nhs.gp_payments import GP_DATES, GP_TEXT, gp_key
from ..io.nhs.staff_survey import STAFF_SURVEY_QUESTIONS

# the published header layouts, for the writer
_GP_2014_15 = [
    "NHS England (Region) code", "NHS England (Region) Name", "CCG Code", "CCG NAME",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Quarter used for patient data", "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Premises Payments", "Seniority", "Doctors Retainer Scheme Payments",
    "Total Locum Allowances", "Prolonged Study Leave", "Appraisal Costs ", "PCO Admin Other",
    "Total QOF Payments", "Alcohol", "Childhood Vaccination and Immunisation Scheme",
    "GP Extended Hours Access",
    "Facilitating Timely Diagnosis and Support for People with Dementia ",
    "Improving Patient Online Access ", "Influenza and Pneumococcal Immunisations ",
    "Learning Disabilities", "Minor Surgery", "Patient Participation ", "Remote Care Monitoring",
    "Risk Profiling and Case Management", "Rotavirus and Shingles Immunisation",
    "Services for Violent Patients", "Unplanned Admissions", "Total National Enhanced Services",
    "Total Local Enhanced Services", "Information Management and Technology",
    "Balance of PMS Expenditure",
    "Non DES Item Pneumococcal Vaccine, Childhood Immunisation Main Programme",
    "Prescribing Fee Payments", "Dispensing Fee Payments", "Reimbursement of Drugs",
    "Other Payments", "Total NHS Payments to General Practice",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]


_GP_2018_19 = [
    "NHS England (Region) code", "NHS England (Region) Name", "CCG Code", "CCG NAME",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Practice Type", "Practice Rurality", "Atypical Characteristics",
    "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Balance of PMS Expenditure", "Total QOF Payments",
    "Childhood Vaccination and Immunisation Scheme", "GP Extended Hours Access",
    "Influenza and Pneumococcal Immunisations", "Learning Disabilities", "Meningitis",
    "Minor Surgery", "Out Of Area in Hours Urgent Care", "Pertussis",
    "Rotavirus and Shingles Immunisation", "Services for Violent Patients",
    "Total Local Incentive Schemes", "Premises Payments", "Seniority",
    "Doctors Retainer Scheme Payments", "Total Locum Allowances", "Appraisal Costs ",
    "Prolonged Study Leave", "PCO Admin Other", "Information Management and Technology",
    "Non DES Item Pneumococcal Vaccine, Childhood Immunisation Main Programme",
    "General Practice Forward View", "Prescribing Fee Payments", "Dispensing Fee Payments",
    "Reimbursement of Drugs", "Other Payments", "Total NHS Payments to General Practice",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]


# A post-2020 layout: PCN and ICB columns, lower-case "Practice type", COVID payments beside
# the total. It is modelled on the later files' structure; exact later headers could not be
# checked offline, and the loader does not depend on them.
_GP_2022_23 = [
    "NHS England (Region) code", "NHS England (Region) Name", "ICB Code", "ICB NAME",
    "Sub ICB Location Code", "Sub ICB Location Name", "PCN Code", "PCN Name ",
    "Practice Code", "Practice Name", "Practice Address", "Practice Postcode",
    "Practice Open Date", "Practice Close Date", "Contract Type", "Dispensing Practice",
    "Practice type", "Practice Rurality", "Atypical Characteristics ",
    "Number of Registered Patients (Last Known Figure)",
    "Number of Weighted Patients (Last Known Figure)", "Average payments per registered patient",
    "Average payments per weighted patient", "Global Sum", "MPIG Correction factor",
    "Balance of PMS Expenditure", "Total QOF Payments",
    "Childhood Vaccination and Immunisation Scheme", "Influenza and Pneumococcal Immunisations",
    "Learning Disabilities", "Minor Surgery", "Services for Violent Patients",
    "Network Participation Payments", "Total Local Incentive Schemes", "Premises Payments",
    "Seniority", "Doctors Retainer Scheme Payments", "Total Locum Allowances",
    "Appraisal Costs ", "Prolonged Study Leave", "PCO Admin Other",
    "Information Management and Technology", "Prescribing Fee Payments",
    "Dispensing Fee Payments", "Reimbursement of Drugs", "Other Payments",
    "Total NHS Payments to General Practice", "COVID Immunisation",
    "COVID Support and Expansion",
    "Total NHS Payments to General Practice including COVID payments",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
]


#: Header layouts :func:`write_gp_payments` can write: ``(headers, byte-order mark, blank date)``.
GP_LAYOUTS = {
    "2014-15": (_GP_2014_15, True, "-"),
    "2018-19": (_GP_2018_19, False, " "),
    "2022-23": (_GP_2022_23, True, ""),
}


def _fmt_number(x, money: str = "plain") -> str:
    """A number as the published files print it: ``4095.25``, ``0``, ``-63154.38``; NaN blank."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    if x != x:  # NaN
        return ""
    if money == "pound":
        text = f"{abs(x):,.2f}"
        return f"-£{text}" if x < 0 else f"£{text}"
    return f"{x:.15g}"


_GP_TEXT_DEFAULT = {"contract_type": "UNKNOWN", "rurality": "MISSING", "dispensing": "UNKNOWN",
                    "practice_type": "GP practice", "patient_quarter": "Q4"}


def _gp_text_cell(key, v, default: str) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)) or str(v) == "":
        return default
    if key == "dispensing" and isinstance(v, bool | np.bool_):
        return "Yes" if v else "No"
    return str(v)


def _fmt_date(x, blank: str) -> str:
    if x is None or pd.isna(x) or (isinstance(x, str) and not x.strip()):
        return blank
    return pd.Timestamp(x).strftime("%d/%m/%Y")


def write_gp_payments(frame: pd.DataFrame, path, layout: str = "2022-23", *,
                      money: str = "plain") -> Path:
    """Write one year of NHS Payments to General Practice in a published header layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per practice, with the columns of :func:`load_gp_practices`. Required:
        ``practice_code``, ``list_size``, ``total_payments``. Optional: ``practice_name``,
        ``region_code``, ``region_name``, ``ccg_code``, ``ccg_name``, ``icb_code``,
        ``icb_name``, ``pcn_code``, ``pcn_name``, ``address``, ``postcode``, ``open_date``,
        ``close_date`` (dates or NaT), ``contract_type``, ``dispensing`` (bool or text),
        ``practice_type``, ``rurality``, ``atypical``, ``weighted_list_size``,
        ``total_qof_payments``, ``payments_per_patient`` and ``payments_per_weighted_patient``
        (computed from the total when absent; 0 when the list is 0, as published), and any
        payment component by its snake-case header (``global_sum``, ``covid_immunisation``,
        ...). Components not given are written as 0 and ``other_payments`` takes the remainder,
        so the components add up to the total as in the published files. ``deductions``
        (negative) defaults to 0.
    path : str or Path
        The file to write, e.g. ``gp_payments/nhs-payments-gp-2022-23.csv`` (the loader reads
        the financial year from the name).
    layout : {"2014-15", "2018-19", "2022-23"}
        The header layout. ``"2014-15"`` and ``"2018-19"`` are the published headers verbatim
        (with a byte-order mark in 2014-15, ``Practice Type`` and rurality only from 2018-19,
        trailing spaces as published); ``"2022-23"`` adds ICB, sub-ICB and PCN columns, writes
        ``Practice type`` in lower case, and has COVID payment columns beside the total.
    money : {"plain", "pound"}
        ``"pound"`` writes payments as ``£1,234.56`` (quoted), as some spreadsheets export them.

    Returns
    -------
    Path
        The file written (atomically).
    """
    if layout not in GP_LAYOUTS:
        raise ValueError(f"layout must be one of {list(GP_LAYOUTS)}, not {layout!r}")
    if money not in {"plain", "pound"}:
        raise ValueError(f"money must be 'plain' or 'pound', not {money!r}")
    missing = [c for c in ("practice_code", "list_size", "total_payments") if c not in frame]
    if missing:
        raise ValueError(f"write_gp_payments: frame lacks required column(s) {missing}")
    headers, bom, date_blank = GP_LAYOUTS[layout]
    keys = [gp_key(h) for h in headers]
    data = frame.reset_index(drop=True)
    n = len(data)
    lst = data["list_size"].to_numpy(dtype="float64")
    total = data["total_payments"].to_numpy(dtype="float64")
    cols: dict[str, list[str]] = {}
    i_first = keys.index("payments_per_weighted_patient") + 1
    i_total = keys.index("total_payments")
    components = keys[i_first:i_total]
    given = np.zeros(n)
    for k in components:
        if k != "other_payments" and k in data:
            given += np.nan_to_num(data[k].to_numpy(dtype="float64"))
    for h, k in zip(headers, keys, strict=True):
        if k in GP_DATES:
            values = data[k] if k in data else [None] * n
            cols[h] = [_fmt_date(v, date_blank) for v in values]
        elif k in GP_TEXT:
            default = _GP_TEXT_DEFAULT.get(k, "")
            values = data[k] if k in data else pd.Series([pd.NA] * n, dtype="object")
            cols[h] = [_gp_text_cell(k, v, default) for v in values]
        else:
            if k == "payments_per_patient" or k == "payments_per_weighted_patient":
                den = lst if k == "payments_per_patient" else \
                    (data["weighted_list_size"].to_numpy(dtype="float64")
                     if "weighted_list_size" in data else lst)
                computed = np.round(np.where(den > 0, total / np.where(den > 0, den, 1), 0.0), 2)
                if k in data:
                    v = data[k].to_numpy(dtype="float64")
                    values = np.where(np.isnan(v), computed, v)
                    values = np.where(den == 0, 0.0, values)
                else:
                    values = computed
                cols[h] = [_fmt_number(v) for v in values]
                continue
            if k == "other_payments" and k not in data:
                values = np.round(total - given, 2)
            elif k == "deductions":
                values = data[k].to_numpy(dtype="float64") if k in data else np.zeros(n)
            elif k in data:
                values = data[k].to_numpy(dtype="float64")
            elif k == "total_payments_minus_deductions":
                ded = data["deductions"].to_numpy(dtype="float64") if "deductions" in data \
                    else np.zeros(n)
                values = np.round(total + ded, 2)
            elif k.startswith("total_nhs_payments_to_general_practice_including"):
                covid = sum(np.nan_to_num(data[c].to_numpy(dtype="float64"))
                            for c in data.columns if "covid" in c and c != k) if n else 0
                values = np.round(total + covid, 2)
            else:
                values = np.zeros(n)
            style = "plain" if k in ("list_size", "weighted_list_size") else money
            cols[h] = [_fmt_number(v, style) for v in values]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(headers)
            w.writerows(zip(*(cols[h] for h in headers), strict=True))
    return Path(path)


# A&E attendances and emergency admissions
AE_MONTHLY_HEADER = [
    "Period", "Org Code", "Parent Org", "Org name",
    "A&E attendances Type 1", "A&E attendances Type 2", "A&E attendances Other A&E Department",
    "A&E attendances Booked Appointments Type 1", "A&E attendances Booked Appointments Type 2",
    "A&E attendances Booked Appointments Other Department",
    "Attendances over 4hrs Type 1", "Attendances over 4hrs Type 2",
    "Attendances over 4hrs Other Department",
    "Attendances over 4hrs Booked Appointments Type 1",
    "Attendances over 4hrs Booked Appointments Type 2",
    "Attendances over 4hrs Booked Appointments Other Department",
    "Patients who have waited 4-12 hs from DTA to admission",
    "Patients who have waited 12+ hrs from DTA to admission",
    "Emergency admissions via A&E - Type 1", "Emergency admissions via A&E - Type 2",
    "Emergency admissions via A&E - Other A&E department", "Other emergency admissions",
]


def _ae_tidy_input(frame: pd.DataFrame) -> pd.DataFrame:
    need = ["period", "org_code", "type", "attendances", "breaches"]
    missing = [c for c in need if c not in frame]
    if missing:
        raise ValueError(f"expected the NHS-R tidy A&E columns {need} (+ admissions); "
                         f"missing {missing}")
    data = frame.copy()
    data["type"] = data["type"].map(lambda v: AE_TIDY_TYPES.get(normalise_header(v)))
    if data["type"].isna().any():
        raise ValueError("type must be 1, 2 or other")
    data["period"] = pd.to_datetime(data["period"]).dt.to_period("M").dt.start_time
    if "admissions" not in data:
        data["admissions"] = 0
    return data


#: The monthly CSV headers of April 2018 to March 2020 and of April to July 2020 (16 columns:
#: no booked appointments), keyed by the 22-column header they stand for.
AE_MONTHLY_HEADERS_2018 = {
    "A&E attendances Type 1": "Number of A&E attendances Type 1",
    "A&E attendances Type 2": "Number of A&E attendances Type 2",
    "A&E attendances Other A&E Department": "Number of A&E attendances Other A&E Department",
    "Attendances over 4hrs Type 1": "Number of attendances over 4hrs Type 1",
    "Attendances over 4hrs Type 2": "Number of attendances over 4hrs Type 2",
    "Attendances over 4hrs Other Department": "Number of attendances over 4hrs Other A&E Department",
}
_AE_BOOKED = {h for h in AE_MONTHLY_HEADER if "Booked" in h}


def write_ae_monthly(frame: pd.DataFrame, folder, *, layout: str = "csv-2020-booked") -> list[Path]:
    """Write official monthly A&E CSVs (``MSitAE-<MONTH>-<YEAR>``, a ``TOTAL`` row), in one of the published layouts.

    Parameters
    ----------
    frame : pandas.DataFrame
        The NHS-R tidy form: ``period`` (any date in the month), ``org_code``, ``type`` (``1``,
        ``2`` or ``other``), ``attendances``, ``breaches`` (attendances over 4 hours),
        ``admissions`` (emergency admissions via A&E; 0 when absent). Optional: ``org_name``,
        ``parent_org``, ``booked_attendances`` and ``booked_breaches`` (the part of
        ``attendances`` / ``breaches`` that were booked appointments; 0 when absent), and per
        trust-month ``other_emergency_admissions``, ``dta_4_12`` and ``dta_12plus`` (taken from
        the trust-month's first row; 0 when absent). Types a trust-month lacks are written as
        zeros, as in the published files.
    folder : str or Path
        Files are written as ``<folder>/monthly-ae-<month>-<year>.csv`` (e.g.
        ``monthly-ae-march-2019.csv``), one per month, the ``TOTAL`` row last.
    layout : {"csv-2020-booked", "csv-2020", "csv-2018"}
        The 22 columns of August 2020 onwards (:data:`AE_MONTHLY_HEADER`); the 16 columns of
        April to July 2020 (no booked-appointment columns: booked counts are part of the
        attendances); or the 16 columns of April 2018 to March 2020 (``Number of A&E
        attendances Type 1``, ...; see :data:`AE_MONTHLY_HEADERS_2018`).

    Returns
    -------
    list of Path
        The files written, in month order.
    """
    if layout not in {"csv-2020-booked", "csv-2020", "csv-2018"}:
        raise ValueError(f"layout must be 'csv-2020-booked', 'csv-2020' or 'csv-2018', not {layout!r}")
    data = _ae_tidy_input(frame)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if layout != "csv-2020-booked":  # no booked columns: booked counts are in the attendances
        data = data.assign(booked_attendances=0, booked_breaches=0)
    for c in ("booked_attendances", "booked_breaches", "other_emergency_admissions", "dta_4_12",
              "dta_12plus"):
        if c not in data:
            data[c] = 0
    for c in ("org_name", "parent_org"):
        if c not in data:
            data[c] = data["org_code"] if c == "org_name" else "-"
    data["unbooked_attendances"] = data["attendances"] - data["booked_attendances"]
    data["unbooked_breaches"] = data["breaches"] - data["booked_breaches"]
    keys = ["period", "org_code"]
    per_type = data.pivot_table(
        index=keys, columns="type", aggfunc="sum", fill_value=0, observed=True,
        values=["unbooked_attendances", "booked_attendances", "unbooked_breaches",
                "booked_breaches", "admissions"])
    first = data.groupby(keys, sort=True)[["parent_org", "org_name", "dta_4_12", "dta_12plus",
                                           "other_emergency_admissions"]].first()

    def block(q):
        return [per_type[(q, t)] if (q, t) in per_type else 0 for t in ("type1", "type2", "other")]

    table = pd.DataFrame(index=first.index)
    table["parent_org"] = first["parent_org"].astype(str)
    table["org_name"] = first["org_name"].astype(str)
    numeric = [*block("unbooked_attendances"), *block("booked_attendances"),
               *block("unbooked_breaches"), *block("booked_breaches"),
               first["dta_4_12"], first["dta_12plus"], *block("admissions"),
               first["other_emergency_admissions"]]
    for h, v in zip(AE_MONTHLY_HEADER[4:], numeric, strict=True):
        table[h] = v
    table = table.reset_index()
    written = []
    for month, g in table.groupby("period", sort=True):
        label = f"MSitAE-{month:%B}-{month:%Y}".upper().replace("MSITAE", "MSitAE")
        nums = g[AE_MONTHLY_HEADER[4:]].astype("float64")
        out = pd.DataFrame({"Period": label, "Org Code": g["org_code"],
                            "Parent Org": g["parent_org"], "Org name": g["org_name"]}).reset_index(drop=True)
        nums = nums.reset_index(drop=True)  # the TOTAL row goes after the last trust, never over one
        for h in AE_MONTHLY_HEADER[4:]:
            out[h] = [_fmt_number(x) for x in nums[h]]
        total = ["TOTAL", "-", "-", "-", *(_fmt_number(x) for x in nums.sum(min_count=1))]
        out.loc[len(out)] = total
        if layout != "csv-2020-booked":
            out = out.drop(columns=sorted(_AE_BOOKED))
        if layout == "csv-2018":
            out = out.rename(columns=AE_MONTHLY_HEADERS_2018)
        target = folder / f"monthly-ae-{month:%B}-{month:%Y}.csv".lower()
        with atomic_path(target) as tmp:
            out.to_csv(tmp, index=False)
        written.append(target)
    return written


_BY_PROVIDER_TYPES = ["Type 1 Departments - Major A&E", "Type 2 Departments - Single Specialty",
                      "Type 3 Departments - Other A&E/Minor Injury Unit"]


def write_ae_by_provider(frame: pd.DataFrame, path, *, layout: str = "workbook-2017") -> Path:
    """Write one month as an NHS England 'A&E by provider' workbook (``.xlsx``), the form of 2015-18.

    The sheet has the published preamble (``Title:``, ``Period:``, ``Source:``, ...), a group
    row (``A&E attendances``, ``A&E attendances > 4 hours ...``, ``Emergency Admissions``;
    ``layout="workbook-2017"`` adds the ``less than 4 hours`` and percentage groups) above
    column names that repeat under each group, an ``England`` row of totals, percentage columns
    with ``N/A`` (2015) or ``-`` (2017) where there are no type 1 attendances, and a blank row.

    Parameters
    ----------
    frame : pandas.DataFrame
        The NHS-R tidy form for **one month** (see :func:`write_ae_monthly`; ``org_name`` and
        ``parent_org`` optional).
    path : str or Path
        The ``.xlsx`` to write.
    layout : {"workbook-2017", "workbook-2015"}

    Returns
    -------
    Path
    """
    import openpyxl

    if layout not in {"workbook-2015", "workbook-2017"}:
        raise ValueError(f"layout must be 'workbook-2015' or 'workbook-2017', not {layout!r}")
    data = _ae_tidy_input(frame)
    months = data["period"].unique()
    if len(months) != 1:
        raise ValueError("an 'A&E by provider' workbook holds one month; got "
                         f"{len(months)} months")
    month = pd.Timestamp(months[0])
    for c in ("org_name", "parent_org"):
        if c not in data:
            data[c] = data["org_code"] if c == "org_name" else "-"
    wide = data.pivot_table(index="org_code", columns="type", values=["attendances", "breaches",
                            "admissions"], aggfunc="sum", fill_value=0, observed=True)
    first = data.groupby("org_code")[["org_name", "parent_org"]].first()

    def col(q, t):
        return wide[(q, t)] if (q, t) in wide else pd.Series(0, index=wide.index)

    att = [col("attendances", t) for t in ("type1", "type2", "other")]
    br = [col("breaches", t) for t in ("type1", "type2", "other")]
    adm = [col("admissions", t) for t in ("type1", "type2", "other")]
    na = "N/A" if layout == "workbook-2015" else "-"

    def pct(ok, n):
        return [na if d == 0 else float(o) / float(d) for o, d in zip(ok, n, strict=True)]

    cols = [("", "Code", list(wide.index)), ("", "Region", list(first["parent_org"])),
            ("", "Name", list(first["org_name"]))]
    g_att = "A&E attendances"
    cols += [(g_att if i == 0 else "", name, list(att[i])) for i, name in enumerate(_BY_PROVIDER_TYPES)]
    cols.append(("", "Total attendances", list(sum(att))))
    if layout == "workbook-2017":
        g_in = "A&E attendances less than 4 hours from arrival to admission, transfer or discharge"
        cols += [(g_in if i == 0 else "", name, list(att[i] - br[i]))
                 for i, name in enumerate(_BY_PROVIDER_TYPES)]
        cols.append(("", "Total Attendances < 4 hours", list(sum(att) - sum(br))))
        g_br = "A&E attendances greater than 4 hours from arrival to admission, transfer or discharge"
    else:
        g_br = "A&E attendances > 4 hours from arrival to admission, transfer or discharge"
    cols += [(g_br if i == 0 else "", name, list(br[i])) for i, name in enumerate(_BY_PROVIDER_TYPES)]
    cols.append(("", "Total Attendances > 4 hours", list(sum(br))))
    g_pct = "Percentage of attendances within 4 hours" if layout == "workbook-2017" else ""
    cols += [(g_pct, "Percentage in 4 hours or less (type 1)", pct(att[0] - br[0], att[0])),
             ("", "Percentage in 4 hours or less (all)", pct(sum(att) - sum(br), sum(att)))]
    cols += [("Emergency Admissions", "Emergency Admissions via Type 1 A&E", list(adm[0])),
             ("", "Emergency Admissions via Type 2 A&E", list(adm[1])),
             ("", "Emergency Admissions via Type 3 and 4 A&E", list(adm[2])),
             ("", "Total Emergency Admissions via A&E", list(sum(adm))),
             ("", "Other Emergency admissions (i.e not via A&E)", [0] * len(wide)),
             ("", "Total Emergency Admissions", list(sum(adm))),
             ("", "Number of patients spending >4 hours from decision to admit to admission",
              [0] * len(wide)),
             ("", "Number of patients spending >12 hours from decision to admit to admission",
              [0] * len(wide))]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Provider Level Data" if layout == "workbook-2017" else "A&E Data"
    preamble = [("Title:", "A&E Attendances & Emergency Admission monthly statistics, NHS and "
                 "independent sector organisations in England"), None,
                ("Summary:", "A&E attendances, performance and emergency admissions"), None,
                ("Period:", f"{month:%B %Y}"), ("Source:", "Unify2 data collection - MSitAE"),
                ("Basis:", "Provider"), ("Published:", ""), ("Revised:", ""),
                ("Status:", "Published"), ("Contact:", "england.nhsdata@nhs.net"), None,
                ("Provider Level Data",)]
    for line in preamble:
        ws.append(list(line) if line else [])
    ws.append([g for g, _, _ in cols])
    ws.append([h for _, h, _ in cols])
    totals = []
    for _, h, v in cols:
        if h in ("Code", "Region"):
            totals.append("-")
        elif h == "Name":
            totals.append("England")
        elif h.startswith("Percentage"):
            totals.append(None)
        else:
            totals.append(float(sum(v)))
    ws.append(totals)
    ws.append([])
    for i in range(len(wide)):
        ws.append([v[i] if not isinstance(v[i], np.generic) else v[i].item() for _, _, v in cols])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path


def write_ae_tidy(frame: pd.DataFrame, path) -> Path:
    """Write the NHS-R tidy A&E form (``period, org_code, type, attendances, breaches, admissions``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Those columns; ``type`` is ``1``, ``2`` or ``other`` (``type1`` ... accepted).
    path : str or Path
        The CSV to write.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_ae_tidy` reads it back.
    """
    data = _ae_tidy_input(frame)
    out = pd.DataFrame({
        "period": data["period"].dt.strftime("%Y-%m-%d"), "org_code": data["org_code"],
        "type": data["type"].map({"type1": "1", "type2": "2", "other": "other"}),
        **{c: data[c].map(_fmt_number) for c in ("attendances", "breaches", "admissions")}})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def _shmi_label(start, end) -> str:
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    return f"{s:%b%y}_{e:%b%y}".upper()


def write_shmi(frame: pd.DataFrame, path) -> Path:
    """Write a trust-level SHMI CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trust and period: ``org_code``, ``period_start`` and ``period_end`` (or a
        ``time_period`` label like ``APR22_MAR23``), ``observed``, ``expected``; optional
        ``org_name``, ``spells``, ``shmi`` (default observed / expected, 4 decimals) and
        ``banding`` (1/2/3; NaN is written ``**``, suppressed). When ``banding`` is absent it is
        derived from Poisson 95% limits around 1 (``1 +/- 1.96 / sqrt(expected)``), a
        simplification of NHS Digital's overdispersed control limits.
    path : str or Path
        The CSV to write. Columns: ``PROVIDER_CODE, PROVIDER_NAME, TIME_PERIOD, SPELLS,
        OBSERVED, EXPECTED, SHMI_VALUE, SHMI_BANDING``.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_shmi` reads it back.
    """
    for c in ("org_code", "observed", "expected"):
        if c not in frame:
            raise ValueError(f"write_shmi: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    if "time_period" in d:
        label = d["time_period"].astype(str)
    else:
        label = pd.Series([_shmi_label(s, e) for s, e in zip(d["period_start"], d["period_end"],
                                                                 strict=True)])
    obs = d["observed"].to_numpy(dtype="float64")
    exp = d["expected"].to_numpy(dtype="float64")
    shmi = d["shmi"].to_numpy(dtype="float64") if "shmi" in d else np.round(ratio(obs, exp), 4)
    if "banding" in d:
        band = d["banding"].to_numpy(dtype="float64")
    else:
        half = 1.96 / np.sqrt(np.where(exp > 0, exp, np.nan))
        band = np.where(shmi > 1 + half, 1, np.where(shmi < 1 - half, 3, 2)).astype(float)
        band[np.isnan(shmi)] = np.nan
    out = pd.DataFrame({
        "PROVIDER_CODE": d["org_code"], "PROVIDER_NAME": d.get("org_name", d["org_code"]),
        "TIME_PERIOD": label,
        "SPELLS": [_fmt_number(x) for x in d["spells"]] if "spells" in d else "",
        "OBSERVED": [_fmt_number(x) for x in obs], "EXPECTED": [f"{x:.2f}" for x in exp],
        "SHMI_VALUE": ["" if np.isnan(x) else f"{x:.4f}" for x in shmi],
        "SHMI_BANDING": ["**" if np.isnan(b) else str(int(b)) for b in band]})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


_STAFF_DEFAULT_CODES = {"staff_care_priority": "Q21a", "staff_recommend_work": "Q21c",
                        "staff_recommend_care": "Q21d"}


def write_staff_survey(frame: pd.DataFrame, path) -> Path:
    """Write trust-level staff survey scores in the documented long layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trust, year and question: ``org_code``, ``year`` (the survey year),
        ``measure`` (``staff_recommend_care``, ``staff_recommend_work``,
        ``staff_care_priority``, or ``staff_survey_<question>``), ``value`` (percentage
        positive, 0-100); optional ``org_name``, ``responses``, ``question`` (a question
        number; defaults ``Q21d``, ``Q21c``, ``Q21a`` for the three named measures).
    path : str or Path
        The CSV: ``Org code, Org name, Survey year, Question, Question text, Responses, Score``.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_staff_survey` reads it back.
    """
    for c in ("org_code", "year", "measure", "value"):
        if c not in frame:
            raise ValueError(f"write_staff_survey: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)

    def qcode(m):
        return _STAFF_DEFAULT_CODES.get(m, m.removeprefix("staff_survey_").upper())

    out = pd.DataFrame({
        "Org code": d["org_code"], "Org name": d.get("org_name", d["org_code"]),
        "Survey year": d["year"].astype(int),
        "Question": d["question"] if "question" in d else d["measure"].map(qcode),
        "Question text": d["measure"].map(lambda m: STAFF_SURVEY_QUESTIONS.get(m, "")),
        "Responses": [_fmt_number(x) for x in d["responses"]] if "responses" in d else "",
        "Score": ["" if pd.isna(x) else f"{float(x):.1f}" for x in d["value"]]})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def write_dtoc(frame: pd.DataFrame, path, *, england: bool = True) -> Path:
    """Write delayed transfers of care in the NHS-R tidy derivative layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per local authority and month: ``org_code``, ``org_name``, ``period`` (any
        date in the month), ``total`` (delayed days), and optionally one column per reason
        named by its suffix (``assessment``, ``public_funding``, ``nhs_non_acute``,
        ``residential_home``, ``nursing_home``, ``care_package``, ``equipment``,
        ``patient_choice``, ``disputes``, ``housing``, ``other``). NaN is written ``-``
        (suppressed); a reason column that is absent is written ``NA`` (not collected).
    path : str or Path
        The CSV to write. Every field is quoted except ``NA``, as in the published file.
    england : bool
        Add an ``England`` row (code ``-``) per month first, summing the authorities
        (suppressed cells count as 0 in that sum).

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_dtoc` reads it back.
    """
    for c in ("org_code", "org_name", "period", "total"):
        if c not in frame:
            raise ValueError(f"write_dtoc: frame lacks column {c!r}")
    d = frame.copy()
    d["period"] = pd.to_datetime(d["period"]).dt.to_period("M").dt.start_time
    reasons = list(DTOC_REASONS.items())
    lines = ['"' + '","'.join(["Code", "Name", *[h for h, _ in reasons], "Period"]) + '"']

    def cell(v, present):
        if not present:
            return "NA"
        return '"-"' if pd.isna(v) else f'"{_fmt_number(v)}"'

    for month, g in d.groupby("period", sort=True):
        label = f"{month:%B %Y}"
        block = []
        if england:
            sums = {s: g[s].sum() if s in g else None for _, s in reasons}
            block.append(['"-"', '"England"', *[cell(sums[s], s in g) for _, s in reasons],
                          f'"{label}"'])
        for _, r in g.iterrows():
            block.append([f'"{r["org_code"]}"', f'"{r["org_name"]}"',
                          *[cell(r[s] if s in g else None, s in g) for _, s in reasons],
                          f'"{label}"'])
        lines += [",".join(b) for b in block]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def write_imd(frame: pd.DataFrame, path, *, level: str = "local_authority",
              year: int = 2019) -> Path:
    """Write a deprivation table.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``org_code``, ``imd_score``; optional ``org_name``.
    path : str or Path
        The CSV to write.
    level : {"local_authority", "practice"}
        Local authorities use the headers of the English Indices of Deprivation local-authority
        summary (``Local Authority District code (2019)``, ``Local Authority District name
        (2019)``, ``IMD - Average score``, ``IMD - Rank of average score``; rank 1 = most
        deprived); practices ``Practice Code, Practice Name, IMD 2019 score``.
    year : int
        The IMD edition, written into the headers.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_imd` reads it back.
    """
    for c in ("org_code", "imd_score"):
        if c not in frame:
            raise ValueError(f"write_imd: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    name = d["org_name"] if "org_name" in d else d["org_code"]
    score = d["imd_score"].astype("float64")
    fmt = ["" if np.isnan(x) else f"{x:.3f}" for x in score]
    if level == "local_authority":
        out = pd.DataFrame({
            f"Local Authority District code ({year})": d["org_code"],
            f"Local Authority District name ({year})": name,
            "IMD - Average score": fmt,
            "IMD - Rank of average score": score.rank(ascending=False, method="min")
            .map(_fmt_number)})
    elif level == "practice":
        out = pd.DataFrame({"Practice Code": d["org_code"], "Practice Name": name,
                            f"IMD {year} score": fmt})
    else:
        raise ValueError(f"level must be 'local_authority' or 'practice', not {level!r}")
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def write_population(frame: pd.DataFrame, path) -> Path:
    """Write local-authority population aged 65+.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``org_code``, ``org_name``, ``year``, ``population_65plus``.
    path : str or Path
        The CSV: ``Code, Name, Geography, Mid-year, Population aged 65 and over``.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_population` reads it back.
    """
    for c in ("org_code", "year", "population_65plus"):
        if c not in frame:
            raise ValueError(f"write_population: frame lacks column {c!r}")
    d = frame.reset_index(drop=True)
    out = pd.DataFrame({"Code": d["org_code"], "Name": d.get("org_name", d["org_code"]),
                        "Geography": "Local Authority", "Mid-year": d["year"].astype(int),
                        "Population aged 65 and over": d["population_65plus"].map(_fmt_number)})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)


def write_la_codes(frame: pd.DataFrame, path) -> Path:
    """Write a local-authority code lookup (``old_code, new_code, name``).

    Parameters
    ----------
    frame : pandas.DataFrame
        ``old_code``, ``new_code``; optional ``name``.
    path : str or Path
        The CSV to write.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_la_codes` reads it back.
    """
    for c in ("old_code", "new_code"):
        if c not in frame:
            raise ValueError(f"write_la_codes: frame lacks column {c!r}")
    cols = [c for c in ("old_code", "new_code", "name") if c in frame]
    with atomic_path(path) as tmp:
        frame[cols].to_csv(tmp, index=False)
    return Path(path)


def write_tidy_indicator(frame: pd.DataFrame, path) -> Path:
    """Write an indicator table (or any ``org_code, period, measure, value`` frame) as tidy CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        Either the indicator table (``period_start``/``period_end`` are written as an
        interval ``2019-04-01/2019-04-30``) or a frame that already has ``period`` text.
    path : str or Path
        The CSV to write; :func:`load_tidy_indicator` reads it back.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_tidy_indicator` reads it back.
    """
    d = frame.copy()
    if "period" not in d:
        d["period"] = [f"{pd.Timestamp(s):%Y-%m-%d}/{pd.Timestamp(e):%Y-%m-%d}"
                       for s, e in zip(d["period_start"], d["period_end"], strict=True)]
    cols = [c for c in ("org_code", "org_level", "period", "measure", "value", "numerator",
                        "denominator", "org_name") if c in d]
    with atomic_path(path) as tmp:
        d[cols].to_csv(tmp, index=False)
    return Path(path)
