"""Writers of QOF and Fingertips files in their published layouts, and their synthetic content.

The writers (``write_qof_prevalence``, ``write_qof_achievement``, ``write_qof_geography``,
``write_fingertips``) write exactly the layouts that :mod:`cqc_research.io.nhs.qof` and
:mod:`cqc_research.io.nhs.fingertips` read, from simple frames; the tests round-trip them.
:func:`write_indicator_files` makes the synthetic dataset's files for its GP practices with its
own random generator (``numpy.random.default_rng([seed, 2403])``), so nothing it draws changes
any other synthetic file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_path

#: QOF registers of 2022-23 (as in the real prevalence file): code -> (the ages whose list size
#: is the denominator, a typical prevalence in percent).
QOF_REGISTERS = {
    "AF": ("TOTAL", 2.1), "AST": ("06OV", 6.5), "CAN": ("TOTAL", 3.5), "CHD": ("TOTAL", 3.0),
    "CKD": ("18OV", 4.0), "COPD": ("TOTAL", 1.9), "DEM": ("TOTAL", 0.7), "DEP": ("18OV", 13.0),
    "DM": ("17OV", 7.3), "EP": ("18OV", 0.8), "HF": ("TOTAL", 1.0), "HYP": ("TOTAL", 14.0),
    "LD": ("TOTAL", 0.6), "MH": ("TOTAL", 0.95), "NDH": ("18OV", 7.0), "OB": ("18OV", 9.5),
    "OST": ("50OV", 0.9), "PAD": ("TOTAL", 0.6), "PC": ("TOTAL", 0.5), "RA": ("16OV", 0.8),
    "STIA": ("TOTAL", 1.9),
}

#: Synthetic achievement indicators: code -> (register it draws on, or None for a register
#: indicator; maximum points; typical achievement in percent). Codes follow QOF's pattern.
QOF_INDICATORS = {
    "AF001": (None, 5, None), "AF006": ("AF", 12, 88.0), "DM017": (None, 6, None),
    "DM012": ("DM", 4, 85.0), "HYP008": ("HYP", 14, 72.0), "AST007": ("AST", 20, 68.0),
    "CHD015": ("CHD", 25, 80.0), "DEP003": ("DEP", 10, 70.0), "MH002": ("MH", 4, 78.0),
}

_AGE_SHARE = {"TOTAL": 1.0, "06OV": 0.94, "16OV": 0.82, "17OV": 0.81, "18OV": 0.80, "50OV": 0.40}

#: The Fingertips all-data CSV header of the later exports (27 columns, ``Time period range``).
FINGERTIPS_HEADER = [
    "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name",
    "Area Type", "Sex", "Age", "Category Type", "Category", "Time period", "Value",
    "Lower CI 95.0 limit", "Upper CI 95.0 limit", "Lower CI 99.8 limit", "Upper CI 99.8 limit",
    "Count", "Denominator", "Value note", "Recent Trend", "Compared to England value or percentiles",
    "Compared to Sub-ICBs value or percentiles", "Time period Sortable", "New data",
    "Compared to goal", "Time period range",
]


def _num(x, fmt="{:.15g}") -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    return "" if x != x else fmt.format(x)


def _write_rows(path, header, rows) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_qof_prevalence(frame: pd.DataFrame, path, *, layout: str = "2020-21") -> Path:
    """Write a QOF practice prevalence CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per practice and register: ``practice_code``, ``register_code`` (``AST``),
        ``register`` (count), ``list_type`` (``TOTAL``, ``06OV``, ...) and ``list_size``.
    path : str or Path
        The CSV to write.
    layout : {"2020-21", "2015-16"}
        ``2020-21`` (to today): ``PRACTICE_CODE, GROUP_CODE, REGISTER, PATIENT_LIST_TYPE,
        PRACTICE_LIST_SIZE``, the register printed with one decimal (``112.0``) as in the real
        2022-23 file. ``2015-16`` (to 2018-19): ``PRACTICE_CODE, INDICATOR_GROUP_CODE, REGISTER,
        PATIENT_LIST_TYPE, PATIENT_LIST_SIZE``.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_qof_prevalence` reads it back.
    """
    if layout == "2020-21":
        header = ["PRACTICE_CODE", "GROUP_CODE", "REGISTER", "PATIENT_LIST_TYPE", "PRACTICE_LIST_SIZE"]
        reg_fmt = "{:.1f}"
    elif layout == "2015-16":
        header = ["PRACTICE_CODE", "INDICATOR_GROUP_CODE", "REGISTER", "PATIENT_LIST_TYPE",
                  "PATIENT_LIST_SIZE"]
        reg_fmt = "{:.15g}"
    else:
        raise ValueError(f"layout must be '2020-21' or '2015-16', not {layout!r}")
    rows = [[r.practice_code, r.register_code, _num(r.register, reg_fmt), r.list_type,
             _num(r.list_size)] for r in frame.itertuples(index=False)]
    return _write_rows(path, header, rows)


def write_qof_achievement(frame: pd.DataFrame, path) -> Path:
    """Write a QOF achievement CSV in the long layout ``PRACTICE_CODE, INDICATOR_CODE, MEASURE, VALUE``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per practice, indicator and measure: ``practice_code``, ``indicator_code``,
        ``measure`` (``ACHIEVED_POINTS``, ``NUMERATOR``, ``DENOMINATOR``, ``PCAS``,
        ``EXCEPTIONS``, ``REGISTER``) and ``value`` (NaN written blank).
    path : str or Path
        The CSV to write.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_qof_achievement` reads it back.
    """
    rows = [[r.practice_code, r.indicator_code, r.measure, _num(r.value)]
            for r in frame.itertuples(index=False)]
    return _write_rows(path, ["PRACTICE_CODE", "INDICATOR_CODE", "MEASURE", "VALUE"], rows)


_GEO_2022 = ["NAT_ONS_CODE", "NAT_CODE", "NAT_COUNTRY", "REGION_ODS_CODE", "REGION_ONS_CODE",
             "REGION_NAME", "ICB_ODS_CODE", "ICB_ONS_CODE", "ICB_NAME", "SUB_ICB_ODS_CODE",
             "SUB_ICB_ONS_CODE", "SUB_ICB_NAME", "PCN_ODS_CODE", "PCN_NAME", "PRACTICE_CODE",
             "PRACTICE_NAME"]
_GEO_2019 = ["REGION_ODS_CODE", "REGION_ONS_CODE", "REGION_NAME", "STP_ODS_CODE", "STP_ONS_CODE",
             "STP_NAME", "CCG_ODS_CODE", "CCG_ONS_CODE", "CCG_NAME", "PCN_ODS_CODE", "PCN_NAME",
             "PRACTICE_CODE", "PRACTICE_NAME"]


def write_qof_geography(frame: pd.DataFrame, path, *, layout: str = "2022-23") -> Path:
    """Write QOF's practice-to-geography mapping (``MAPPING_NHS_GEOGRAPHIES``).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per practice, with the columns of
        :func:`cqc_research.io.nhs.load_qof_geography`'s output: ``practice_code``,
        ``practice_name``, ``pcn_code``, ``pcn_name``, ``sub_icb_code``, ``sub_icb_ons_code``,
        ``sub_icb_name``, ``icb_code``, ``icb_ons_code``, ``icb_name``, ``region_code``,
        ``region_ons_code``, ``region_name``.
    path : str or Path
        The CSV to write.
    layout : {"2022-23", "2019-20"}
        ``2022-23``: the real 2022-23 header (``NAT_*``, ``REGION_*``, ``ICB_*``, ``SUB_ICB_*``,
        ``PCN_*``, ``PRACTICE_*``). ``2019-20`` (and 2020-21): ``STP_*`` and ``CCG_*`` in
        place of ICB and sub-ICB.

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_qof_geography` reads it back.
    """
    f = frame
    cols = {"REGION_ODS_CODE": "region_code", "REGION_ONS_CODE": "region_ons_code",
            "REGION_NAME": "region_name", "PCN_ODS_CODE": "pcn_code", "PCN_NAME": "pcn_name",
            "PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name"}
    if layout == "2022-23":
        header = _GEO_2022
        cols.update({"ICB_ODS_CODE": "icb_code", "ICB_ONS_CODE": "icb_ons_code", "ICB_NAME": "icb_name",
                     "SUB_ICB_ODS_CODE": "sub_icb_code", "SUB_ICB_ONS_CODE": "sub_icb_ons_code",
                     "SUB_ICB_NAME": "sub_icb_name"})
        fixed = {"NAT_ONS_CODE": "E92000001", "NAT_CODE": "ENG", "NAT_COUNTRY": "England"}
    elif layout == "2019-20":
        header = _GEO_2019
        cols.update({"STP_ODS_CODE": "icb_code", "STP_ONS_CODE": "icb_ons_code", "STP_NAME": "icb_name",
                     "CCG_ODS_CODE": "sub_icb_code", "CCG_ONS_CODE": "sub_icb_ons_code",
                     "CCG_NAME": "sub_icb_name"})
        fixed = {}
    else:
        raise ValueError(f"layout must be '2022-23' or '2019-20', not {layout!r}")
    rows = [[fixed[h] if h in fixed else str(r[cols[h]]) for h in header]
            for _, r in f.iterrows()]
    return _write_rows(path, header, rows)


def write_fingertips(frame: pd.DataFrame, path) -> Path:
    """Write a Fingertips all-data CSV export (the 27-column later layout).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per area and period: ``indicator_id``, ``indicator_name``, ``area_code``,
        ``area_name``, ``area_type`` (``GPs``, ``Sub-ICBs``, ``England``), ``time_period``
        (``2019/20``), ``value``, and optionally ``parent_code``, ``parent_name``, ``sex``
        (default ``Persons``), ``age`` (default ``All ages``), ``category_type``,
        ``category``, ``count``, ``denominator``, ``lower95``, ``upper95``, ``lower998``,
        ``upper998``, ``value_note``, ``compared_to_england``.
    path : str or Path
        The CSV to write (UTF-8 with a byte-order mark, as the website's export).

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_fingertips` reads it back.
    """
    def get(r, k, default=""):
        v = r.get(k, default)
        return default if v is None or (isinstance(v, float) and v != v) else v

    rows = []
    for _, r in frame.iterrows():
        tp = str(r["time_period"])
        sortable = f"{tp[:4]}0000" if tp[:4].isdigit() else ""
        rows.append([
            str(r["indicator_id"]), r["indicator_name"], get(r, "parent_code"), get(r, "parent_name"),
            r["area_code"], r["area_name"], r["area_type"], get(r, "sex", "Persons"),
            get(r, "age", "All ages"), get(r, "category_type"), get(r, "category"), tp,
            _num(r["value"], "{:.6g}"), _num(get(r, "lower95"), "{:.6g}"), _num(get(r, "upper95"), "{:.6g}"),
            _num(get(r, "lower998"), "{:.6g}"), _num(get(r, "upper998"), "{:.6g}"),
            _num(get(r, "count")), _num(get(r, "denominator")), get(r, "value_note"), "",
            get(r, "compared_to_england"), "", sortable, "", "", "1y"])
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FINGERTIPS_HEADER)
        w.writerows(rows)
    return path


def _wilson(count, n, z):
    count, n = np.asarray(count, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = count / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def write_indicator_files(world: dict, root, *, seed: int) -> dict:
    """QOF prevalence, achievement and geography, and a Fingertips export, for the synthetic practices.

    Uses the generator's practices (``world["gp"]``: ODS code, name, local authority, list size
    and the planted QOF-payment score ``x[1]``) and its own random generator
    ``numpy.random.default_rng([seed, 2403])``. Writes, under ``root``:

    - ``qof/PREVALENCE_1819.csv`` (the 2015-16 to 2018-19 layout), ``qof/PREVALENCE_2122.csv``,
      ``qof/PREVALENCE_2223.csv`` (the current layout): every register of :data:`QOF_REGISTERS`;
    - ``qof/ACHIEVEMENT_1819.csv`` (``EXCEPTIONS``), ``qof/ACHIEVEMENT_2122.csv`` and
      ``qof/ACHIEVEMENT_2223.csv`` (``PCAS``): the indicators of :data:`QOF_INDICATORS`, whose
      achievement rises with the practice's QOF-payment score (log-odds 0.25 per SD), so QOF
      points track QOF payments; **no new effect on ratings is planted** (``truth.json`` is
      unchanged);
    - ``qof/MAPPING_NHS_GEOGRAPHIES_2223.csv``: practice -> PCN, sub-ICB (one per local
      authority), ICB (one per region), region, with synthetic codes (``X..``, ``QX.``, ``UX....``);
    - ``fingertips/fingertips_848_gps.csv``: Fingertips indicator 848 (depression, recorded
      prevalence, 18+) for the practices, their sub-ICBs and England, 2019/20 to 2022/23, with
      suppressed values where the count is below 5.

    Parameters
    ----------
    world : dict
        The generator's world (``synthetic.generator._build_world``).
    root : str or Path
        The dataset folder.
    seed : int
        The dataset's seed.

    Returns
    -------
    dict
        ``qof_prevalence`` and ``qof_achievement`` (lists of paths, oldest first),
        ``qof_geography`` and ``fingertips`` (paths).
    """
    root = Path(root)
    rng = np.random.default_rng([seed, 2403])
    gp = world["gp"]
    geo = {r.la_name: (i, r) for i, r in enumerate(world["geo"].itertuples(index=False))}
    codes = [loc["ods_code"] for loc in gp]
    names = [loc["name"] for loc in gp]
    base_list = np.array([loc["gp"]["list_size"] for loc in gp], float)
    score = np.array([loc["gp"]["x"][1] for loc in gp], float)
    n = len(gp)
    # practice characteristics that persist across years
    age_mult = {t: np.clip(s * np.exp(rng.normal(0, 0.03 if t != "50OV" else 0.15, n)), 0.2, 1.0)
                for t, s in _AGE_SHARE.items()}
    prev_mult = {g: np.exp(rng.normal(0, 0.25, n)) for g in QOF_REGISTERS}
    skill = rng.normal(0, 0.3, n)
    out: dict = {"qof_prevalence": [], "qof_achievement": []}
    qof = root / "qof"
    for year, tag, layout in ((2018, "1819", "2015-16"), (2021, "2122", "2020-21"),
                              (2022, "2223", "2020-21")):
        list_size = np.round(base_list * (1 + 0.01 * (year - 2022)) * np.exp(rng.normal(0, 0.02, n)))
        lists = {t: np.where(t == "TOTAL", list_size, np.round(list_size * age_mult[t])) for t in _AGE_SHARE}
        prev_rows, registers = [], {}
        for g, (t, pct) in QOF_REGISTERS.items():
            if g == "NDH" and year < 2020:  # NDH register added in 2020-21
                continue
            reg = rng.binomial(lists[t].astype(int), np.clip(pct / 100 * prev_mult[g], 0, 0.9))
            registers[g] = reg
            prev_rows.append(pd.DataFrame({"practice_code": codes, "register_code": g, "register": reg,
                                           "list_type": t, "list_size": lists[t]}))
        prev = pd.concat(prev_rows).sort_values(["practice_code", "register_code"], kind="stable")
        out["qof_prevalence"].append(write_qof_prevalence(prev, qof / f"PREVALENCE_{tag}.csv",
                                                          layout=layout))
        excl = "EXCEPTIONS" if year < 2019 else "PCAS"
        ach = []
        for ind, (group, points, pct) in QOF_INDICATORS.items():
            if group is None:
                reg = registers[ind[:2] if ind.startswith(("AF", "DM")) else ind[:3]]
                ach += [pd.DataFrame({"practice_code": codes, "indicator_code": ind,
                                      "measure": "REGISTER", "value": reg}),
                        pd.DataFrame({"practice_code": codes, "indicator_code": ind,
                                      "measure": "ACHIEVED_POINTS", "value": float(points) * (reg > 0)})]
                continue
            eligible = registers[group]
            pcas = rng.binomial(eligible, 0.08)
            den = eligible - pcas
            logit = np.log(pct / (100 - pct)) + 0.25 * score + skill + rng.normal(0, 0.1, n)
            num = rng.binomial(den, 1 / (1 + np.exp(-logit)))
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(den > 0, num / den, np.nan)
            lower, upper = pct / 100 - 0.25, min(pct / 100 + 0.1, 0.95)
            pts = np.round(points * np.clip((rate - lower) / (upper - lower), 0, 1), 2)
            pts = np.where(np.isnan(pts), 0.0, pts)
            for m, v in (("ACHIEVED_POINTS", pts), ("DENOMINATOR", den), ("NUMERATOR", num),
                         (excl, pcas)):
                ach.append(pd.DataFrame({"practice_code": codes, "indicator_code": ind,
                                         "measure": m, "value": v}))
        ach = pd.concat(ach).sort_values(["practice_code", "indicator_code"], kind="stable")
        out["qof_achievement"].append(write_qof_achievement(ach, qof / f"ACHIEVEMENT_{tag}.csv"))
    # ---- geography: sub-ICB per local authority, ICB per region, PCNs of ~5 practices ---------
    regions = sorted({r.nhs_region for _, r in geo.values()})
    icbs = sorted({r.region for _, r in geo.values()})
    rows = []
    for k, loc in enumerate(gp):
        i, g = geo[loc["la"]]
        ri, ii = regions.index(g.nhs_region), icbs.index(g.region)
        pcn = f"UX{i:02d}{k % 3:02d}"
        rows.append({"practice_code": loc["ods_code"], "practice_name": loc["name"].upper(),
                     "pcn_code": pcn, "pcn_name": f"{g.la_name} PCN {k % 3 + 1}",
                     "sub_icb_code": f"X{i:02d}", "sub_icb_ons_code": g.ccg_code,
                     "sub_icb_name": f"NHS {g.region} ICB - X{i:02d}",
                     "icb_code": f"QX{chr(65 + ii)}", "icb_ons_code": f"E5499{ii:04d}",
                     "icb_name": f"NHS {g.region} Integrated Care Board",
                     "region_code": f"Y9{ri}", "region_ons_code": f"E4099{ri:04d}",
                     "region_name": g.nhs_region})
    mapping = pd.DataFrame(rows)
    out["qof_geography"] = write_qof_geography(mapping, qof / "MAPPING_NHS_GEOGRAPHIES_2223.csv")
    # ---- Fingertips 848 (depression: recorded prevalence, 18+) -------------------------------
    name = "Depression: Recorded prevalence (aged 18 years and over)"
    ft = []
    adults0 = np.round(base_list * age_mult["18OV"])
    p0 = np.clip(0.13 * prev_mult["DEP"], 0.01, 0.6)
    for year in range(2019, 2023):
        tp = f"{year}/{(year + 1) % 100:02d}"
        adults = np.round(adults0 * (1 + 0.01 * (year - 2022)))
        count = rng.binomial(adults.astype(int), np.clip(p0 * (1 + 0.04 * (year - 2022)), 0, 0.9))
        small = rng.random(n) < 0.01  # a few practices suppressed, as Fingertips does
        lo95, hi95 = _wilson(count, adults, 1.959964)
        lo998, hi998 = _wilson(count, adults, 3.090232)
        for k in range(n):
            i, g = geo[gp[k]["la"]]
            sup = bool(small[k])
            ft.append({"indicator_id": 848, "indicator_name": name, "parent_code": g.ccg_code,
                       "parent_name": f"NHS {g.region} ICB - X{i:02d}", "area_code": codes[k],
                       "area_name": names[k], "area_type": "GPs", "age": "18+ yrs",
                       "time_period": tp, "value": np.nan if sup else 100 * count[k] / adults[k],
                       "count": np.nan if sup else count[k], "denominator": adults[k],
                       "lower95": np.nan if sup else lo95[k], "upper95": np.nan if sup else hi95[k],
                       "lower998": np.nan if sup else lo998[k],
                       "upper998": np.nan if sup else hi998[k],
                       "value_note": "Value suppressed for disclosure control" if sup else ""})
        by_area = pd.DataFrame({"la": [loc["la"] for loc in gp], "count": count, "adults": adults})
        for la, part in by_area.groupby("la", sort=True):
            i, g = geo[la]
            ft.append({"indicator_id": 848, "indicator_name": name, "parent_code": "E92000001",
                       "parent_name": "England", "area_code": g.ccg_code,
                       "area_name": f"NHS {g.region} ICB - X{i:02d}", "area_type": "Sub-ICBs",
                       "age": "18+ yrs", "time_period": tp,
                       "value": 100 * part["count"].sum() / part["adults"].sum(),
                       "count": part["count"].sum(), "denominator": part["adults"].sum()})
        ft.append({"indicator_id": 848, "indicator_name": name, "area_code": "E92000001",
                   "area_name": "England", "area_type": "England", "age": "18+ yrs",
                   "time_period": tp, "value": 100 * count.sum() / adults.sum(),
                   "count": count.sum(), "denominator": adults.sum()})
    out["fingertips"] = write_fingertips(pd.DataFrame(ft), root / "fingertips" / "fingertips_848_gps.csv")
    return out
