"""Delayed transfers of care (NHS England, monthly): delayed days by local authority and reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .common import (
    check_errors,
    find_column,
    loaded_table,
    normalise_header,
    parse_months,
    parse_numeric,
    read_table_csv,
    snake_case,
    stack_measures,
    warn_unparseable,
)

__all__ = [
    "DTOC_REASONS",
    "DTOC_BY_NORM",
    "ENGLAND_CODE",
    "load_dtoc",
]

# Delayed transfers of care
#: DTOC reason columns -> measure suffix (``dtoc_days_<suffix>``).
DTOC_REASONS = {
    "Awaiting completion of assessment": "assessment",
    "Awaiting public funding": "public_funding",
    "Awaiting further NHS non-acute care": "nhs_non_acute",
    "Awaiting residential home placement or availability": "residential_home",
    "Awaiting nursing home placement or availability": "nursing_home",
    "Awaiting care package in own home": "care_package",
    "Awaiting community equipment and adaptations": "equipment",
    "Patient or family choice": "patient_choice",
    "Disputes": "disputes",
    "Housing - Patients not covered by NHS and Community Care Act": "housing",
    "Other": "other",
    "Total Delayed Transfers of Care": "total",
}


DTOC_BY_NORM = {normalise_header(k): v for k, v in DTOC_REASONS.items()}


ENGLAND_CODE = "E92000001"


def load_dtoc(path, *, england: bool = False, errors: str = "report", with_report: bool = False):
    """Load delayed transfers of care (delayed days) by local authority, reason and month.

    The layout of the NHS-R tidy derivative (``Code, Name, <reason columns>, Total Delayed
    Transfers of Care, Period``), ``Period`` like ``April 2019``. ``-`` is suppressed and
    ``NA`` not collected (e.g. ``Other`` before it existed): both are read as NaN, **never
    0**, and counted per column in the parse report (``suppressed`` / ``missing``; ``with_report=True``).
    Codes are kept as published: early years use old local-authority codes (``716``,
    ``00KB``), later ones ONS ``E0...`` codes; reconcile them with
    :func:`cqc_research.link.reconcile_la_codes` or a lookup (:func:`load_la_codes`).

    Parameters
    ----------
    path : str or Path
        The CSV.
    england : bool
        Keep the ``England`` total rows (code ``-``), as ``org_code="E92000001"`` and
        ``org_level="country"``. By default they are dropped and counted in
        the report's ``dropped["England"]``.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="local_authority"``, monthly periods, measures
        ``dtoc_days_total`` and ``dtoc_days_<reason>`` (``assessment``, ``public_funding``,
        ``nhs_non_acute``, ``residential_home``, ``nursing_home``, ``care_package``,
        ``equipment``, ``patient_choice``, ``disputes``, ``housing``, ``other``; other
        columns by their snake-case name). ``org_name`` holds the published name.
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("Code",))
    kw = dict(path=path, expected_kind="dtoc")
    c_code = find_column(frame, ["code", "la code", "org code"], required=True, what="Code", **kw)
    c_name = find_column(frame, ["name", "la name", "org name"], required=True, what="Name", **kw)
    c_period = find_column(frame, ["period", "month"], required=True, what="Period", **kw)
    c_total = find_column(frame, ["total delayed transfers of care", "total delayed days", "total"],
                    required=True, what="Total Delayed Transfers of Care", **kw)
    codes = frame[c_code].str.strip()
    names = frame[c_name].str.strip()
    is_eng = ((names.str.casefold() == "england") | codes.isin(["-", "", ENGLAND_CODE])).to_numpy()
    excluded = {}
    if not england:
        excluded["England"] = int(is_eng.sum())
        frame, rows, codes, names = (frame.loc[~is_eng].reset_index(drop=True), rows[~is_eng],
                                     codes[~is_eng].reset_index(drop=True),
                                     names[~is_eng].reset_index(drop=True))
        is_eng = np.zeros(len(frame), bool)
    month = parse_months(frame[c_period].str.strip(), column=c_period, rows=rows, path=path)
    keys = pd.DataFrame({"org_code": np.where(is_eng, ENGLAND_CODE, codes.to_numpy()),
                         "org_name": names, "period_start": month,
                         "period_end": month + pd.offsets.MonthEnd(0)})
    report: dict = {}
    specs = []
    for c in frame.columns:
        if c in (c_code, c_name, c_period):
            continue
        suffix = "total" if c == c_total else DTOC_BY_NORM.get(normalise_header(c), snake_case(c))
        v = parse_numeric(frame[c], column=c, rows=rows, report=report, path=path,
                           errors=errors)
        specs.append((f"dtoc_days_{suffix}", v, None, None))
    if errors == "report":
        warn_unparseable(report, path)
    level = np.where(is_eng, "country", "local_authority")
    out = stack_measures(keys, specs, org_level=level)
    dup = keys.duplicated(["org_code", "period_start"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataFormatError(f"local authority {keys.org_code.iloc[pos]} appears twice for "
                              f"{keys.period_start.iloc[pos]:%B %Y}", path=path,
                              row=int(rows[pos]), column=c_code)
    return loaded_table(out, path, kind="dtoc", report=report, excluded=excluded, with_report=with_report)
