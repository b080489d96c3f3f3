"""GP Patient Survey (Ipsos for NHS England): practice-level results, every layout, as indicators.

The practice data file (``GPPS_<year>_Practice_data_(weighted)_(csv)_PUBLIC.csv``, one row per
practice) names its columns by variable codes that changed twice: the biannual/annual files of
2012-2017 and the rebuilt questionnaire of 2018-2023 both use ``Q<n>`` codes (``Q28_12pct``,
``Q28base``), with a few questions under different codes; from 2024 the new series names
variables by topic (``overallexp.pcteval``, ``overallexp.baseevalw``, ``ad_practicecode``).
:data:`GPPS_MEASURES` maps each measure to its question wording and to the variable of each
layout. The layouts are modelled on the published documentation (Ipsos' lists of reporting
variables and code that reads the files): no real file was seen here.
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
    columns_by_norm,
    detect_indicator_kind,
    find_column,
    kind_hint,
    loaded_table,
    missing_column_error,
    parse_numeric,
    read_table_csv,
    stack_measures,
    warn_unparseable,
)

__all__ = ["load_gpps"]

#: Measure -> the question's wording and the variable that holds "% good" in each layout
#: (``2012`` = files of 2012-2017, ``2018`` = 2018-2023, ``2024`` = the new series). Each is the
#: published summary result: the share of respondents answering the positive options (very +
#: fairly good, very + fairly easy, yes definitely + yes to some extent, always/almost always +
#: a lot of the time), over those who answered (excluding "haven't tried" / "don't know").
GPPS_MEASURES = {
    "gpps_overall_good": {
        "wording": "Overall, how would you describe your experience of your GP practice? "
                   "(Very good or Fairly good)",
        "2012": "Q28", "2018": "Q28", "2024": "overallexp"},
    "gpps_access_good": {
        "wording": "Generally, how easy is it to get through to someone at your GP practice on "
                   "the phone? (Very easy or Fairly easy)",
        "2012": "Q3", "2018": "Q3", "2024": "localgpservicesphone"},
    "gpps_appointment_good": {
        "wording": "Overall, how would you describe your experience of making an appointment? "
                   "(Very good or Fairly good); from 2024: overall experience of contacting "
                   "your GP practice",
        "2012": "Q18", "2018": "Q18", "2024": "gpcontactoverall"},
    "gpps_trust_confidence": {
        "wording": "Did you have confidence and trust in the healthcare professional you saw or "
                   "spoke to? (Yes, definitely or Yes, to some extent); until 2017 asked of the "
                   "GP",
        "2012": "Q22", "2018": "Q89", "2024": "lastgpapptconf"},
    "gpps_continuity": {
        "wording": "How often do you see or speak to your preferred GP (healthcare "
                   "professional from 2024) when you would like to? (Always or almost always, "
                   "or a lot of the time)",
        "2012": "Q9", "2018": "Q9", "2024": "localgpservicesprefhpsee"},
}

#: The layouts :func:`load_gpps` reads (all modelled on the published documentation).
GPPS_LAYOUTS = {
    "2012": "2012-2017 practice files ('June 2013 Practice Level Data weighted.csv', 'GPPS 2017 "
            "Practice data (weighted) (csv) PUBLIC.csv'): Practice_Code (or Practice_code), "
            "Practice_Name, CCG_Code, CCG_Name, distributed, received, resprate, Q<n>_<k>pct, "
            "Q<n>_12pct, Q<n>base; confidence and trust in the GP is Q22",
    "2018": "2018-2023 practice files ('GPPS_2019_Practice_data_(weighted)_(csv)_PUBLIC.csv'): "
            "Practice_Code, Practice_Name, CCG/STP/ICS and region columns, distributed, received, "
            "resprate, Q<n>_12 (weighted count), Q<n>base, Q<n>_12pct; variable codes are kept "
            "from year to year even where the printed question number moved (Q28 is printed as "
            "Q32 in 2023); confidence and trust in the healthcare professional is Q89",
    "2024": "2024- practice files (new series): ad_practicecode, ad_practicename, ad_icscode, "
            "ad_pcncode, ..., distributed, received, resprate, <topic>.pcteval (share positive), "
            "<topic>.baseevalw (its base), <topic>_<k>.pct",
}

_SENTINEL_NOTE = "negative codes (e.g. -97, suppressed for fewer than 10 responses)"


def gpps_period(year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The fieldwork period of a GP Patient Survey year (results published each July).

    From 2017 the survey is annual, fieldwork January to March of the survey year (the 2025
    fieldwork ran 30 December 2024 to 1 April 2025): the period is 1 January to 31 March. Until
    2016 each July publication pooled two waves, July to September of the year before and
    January to March of the year: the period is 1 July of the year before to 31 March.

    Parameters
    ----------
    year : int
        The survey year, the year of publication (``2019`` for the file published July 2019).

    Returns
    -------
    start, end : pandas.Timestamp
        First and last day of the fieldwork.

    Examples
    --------
    >>> [str(d.date()) for d in gpps_period(2019)]
    ['2019-01-01', '2019-03-31']
    >>> str(gpps_period(2015)[0].date())
    '2014-07-01'
    """
    year = int(year)
    start = pd.Timestamp(year, 1, 1) if year >= 2017 else pd.Timestamp(year - 1, 7, 1)
    return start, pd.Timestamp(year, 3, 31)


def _year_from_name(path: Path) -> int | None:
    years = [int(y) for y in re.findall(r"(?<!\d)(20[0-4]\d)(?!\d)", path.name)]
    return years[0] if years else None


def _layout(by_norm: dict) -> str | None:
    names = set(by_norm)
    if any(n.endswith(" pcteval") for n in names):
        return "2024"
    if any(re.fullmatch(r"q\d+ 12pct", n) for n in names):
        return "coded"
    return None


def _value_column(by_norm: dict, layout: str, code: str):
    if layout == "2024":
        return by_norm.get(f"{code} pcteval")
    return by_norm.get(f"{code.casefold()} 12pct")


def _base_column(by_norm: dict, layout: str, code: str):
    if layout == "2024":
        for suffix in ("baseevalw", "baseeval", "base"):
            if f"{code} {suffix}" in by_norm:
                return by_norm[f"{code} {suffix}"]
        return None
    stem = code.casefold()
    if f"{stem}base" in by_norm:
        return by_norm[f"{stem}base"]
    return next((c for n, c in by_norm.items() if re.fullmatch(rf"{stem} \d+base", n)), None)


def load_gpps(path, *, year=None, columns=None, errors: str = "report", with_report: bool = False):
    """Load a GP Patient Survey practice data file (CSV) as the indicator table.

    Reads the practice-level results of any year: the 2012-2017 and 2018-2023 files with
    ``Q<n>_12pct`` columns and the new series from 2024 (``ad_practicecode``,
    ``<topic>.pcteval``), matched by normalised name (case, spaces, punctuation and byte-order
    mark folded). Which variable holds each measure in each layout is :data:`GPPS_MEASURES`;
    measures whose variable is absent are left out, not filled. The layouts are modelled on the
    published documentation.

    Parameters
    ----------
    path : str or Path
        The practice data CSV.
    year : int, optional
        The survey year (the July publication's year). Default: the first year written in the
        file name (``GPPS_2019_Practice_data...``, ``July 2016 Practice level data ...``).
    columns : dict, optional
        Measure -> the column that holds it, for a year whose codes differ from
        :data:`GPPS_MEASURES` (e.g. ``{"gpps_overall_good": "Q32_12pct"}``); its base is
        looked for beside it.
    errors : {"report", "raise"}
        ``"report"`` counts cells that are not numbers (read as missing); ``"raise"`` stops at
        the first.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (layout, period, parse report).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="practice"``, one period per file (the fieldwork, see
        :func:`gpps_period`), measures ``gpps_overall_good``, ``gpps_access_good``,
        ``gpps_appointment_good``, ``gpps_trust_confidence``, ``gpps_continuity``: percentages
        0-100 (files that print shares 0-1 are scaled by 100), ``denominator`` the question's
        base (weighted, as published), ``numerator`` the published count of positive answers
        where the file has one (``Q28_12``), else value x base / 100. Negative codes (``-97``,
        suppressed) and ``*`` are missing and counted as suppressed, never 0.

    Raises
    ------
    DataFormatError
        When the practice code column or every measure column is missing (the message lists
        the columns looked for), the survey year is neither given nor in the file name, or the
        file is a workbook (naming its loader when it is another known kind).

    Examples
    --------
    >>> frame = load_gpps("GPPS_2019_Practice_data_(weighted)_(csv)_PUBLIC.csv")  # doctest: +SKIP
    """
    check_errors(errors)
    path = Path(path)
    if path.suffix.lower() in {".xls", ".xlsx", ".xlsm", ".ods"}:
        kind = detect_indicator_kind(path) if path.is_file() else None
        hint = kind_hint(kind) if kind and kind != "gpps" else ""
        raise DataFormatError("expected the GP Patient Survey practice data CSV "
                              "(GPPS_<year>_Practice_data_(weighted)_(csv)_PUBLIC.csv), not a "
                              "workbook" + hint, path=path)
    frame, rows = read_table_csv(path, header_markers=())
    by_norm = columns_by_norm(frame)
    c_code = find_column(frame, ["practice code", "ad practicecode", "practicecode"])
    layout = _layout(by_norm)
    if c_code is None or (layout is None and not columns):
        wanted = ("Practice_Code (or ad_practicecode)" if c_code is None else
                  "a GP Patient Survey result column: " + ", ".join(
                      f"{m['2018']}_12pct or {m['2024']}.pcteval" for m in GPPS_MEASURES.values()))
        raise missing_column_error(frame, wanted, path, "gpps")
    c_name = find_column(frame, ["practice name", "ad practicename", "practicename"])
    if year is None:
        year = _year_from_name(path)
        if year is None:
            raise DataFormatError("the survey year is not in the file name (e.g. "
                                  "'GPPS_2019_Practice_data...'); pass year=2019", path=path)
    year = int(year)
    if layout == "coded":
        layout = "2018" if year >= 2018 else "2012"
    layout = layout or ("2024" if year >= 2024 else "2018" if year >= 2018 else "2012")
    report: dict = {}
    notes = []
    n = len(frame)

    def num(col):
        vals = parse_numeric(frame[col], column=col, rows=rows, report=report, path=path,
                             errors=errors)
        neg = vals < 0
        if neg.any():
            report[col]["suppressed"] += int(neg.sum())
            vals = np.where(neg, np.nan, vals)
        return vals

    code = frame[c_code].astype(str).str.strip().str.upper()
    keep = (code != "") & ~code.str.casefold().isin({"england", "national", "total"})
    specs = []
    for measure, spec in GPPS_MEASURES.items():
        if columns and measure in columns:
            c_val = find_column(frame, [columns[measure]], required=True, path=path,
                                expected_kind="gpps")
            stem = re.sub(r"(?i)(_?12pct|\.pcteval)$", "", str(columns[measure]))
            c_base = find_column(frame, [f"{stem}base", f"{stem}.baseevalw", f"{stem}.baseeval"])
            c_num = find_column(frame, [f"{stem}_12"])
        else:
            c_val = _value_column(by_norm, layout, spec[layout])
            c_base = _base_column(by_norm, layout, spec[layout])
            c_num = by_norm.get(f"{spec[layout].casefold()} 12") if layout != "2024" else None
        if c_val is None:
            continue
        value = num(c_val)
        valid = value[~np.isnan(value)]
        if len(valid) and valid.max() <= 1.0:
            value = value * 100.0
            notes.append(f"{c_val}: shares 0-1, read as percentages x 100")
        base = num(c_base) if c_base is not None else np.full(n, np.nan)
        count = num(c_num) if c_num is not None else value * base / 100.0
        specs.append((measure, value, count, base, keep.to_numpy()))
    if not specs:
        raise DataFormatError(
            "no GP Patient Survey result column found; looked for "
            + ", ".join(f"{m[layout]}" + (".pcteval" if layout == "2024" else "_12pct")
                        for m in GPPS_MEASURES.values()) + f" (the {layout} layout)", path=path)
    start, end = gpps_period(year)
    keys = pd.DataFrame({"org_code": code, "period_start": [start] * n, "period_end": [end] * n,
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA})
    if errors == "report":
        warn_unparseable(report, path)
    out = stack_measures(keys, specs, org_level="practice")
    dup = out.duplicated(["org_code", "measure"])
    if dup.any():
        raise DataFormatError(f"practice {out.loc[dup, 'org_code'].iloc[0]} appears twice",
                              path=path, column=c_code)
    notes.insert(0, f"{_SENTINEL_NOTE} and '*' are read as suppressed (missing)")
    return loaded_table(out, path, kind="gpps", report=report,
                        excluded={"blank or national row": int((~keep).sum())},
                        period=f"{year} (fieldwork {start:%Y-%m-%d} to {end:%Y-%m-%d}); "
                               f"layout {layout}", notes=notes, with_report=with_report)


register(Kind("gpps", "a GP Patient Survey practice data CSV", load_gpps, rank=10,
              columns=lambda n, joined, raw: bool({"practice code", "ad practicecode"} & n) and any(
                  re.fullmatch(r"q\d+ 12pct", x) or x.endswith(" pcteval") for x in n)))
