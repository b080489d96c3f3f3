"""Any indicator as a tidy CSV (``period, org_code, measure, value``...), e.g. NHS-R derivatives."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from ._common import (
    ORG_LEVELS,
    check_errors,
    financial_year,
    find_column,
    finish_table,
    loaded_table,
    month_end,
    parse_numeric,
    read_table_csv,
    warn_unparseable,
)
from .geography import LA_CODE, PRACTICE_CODE

__all__ = ["load_tidy_indicator"]

# any indicator, as a tidy CSV
def _parse_period(text):
    """Period grammar of ``docs/indicators.md`` -> (start, end) or None."""
    t = str(text).strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*/\s*(\d{4}-\d{2}-\d{2})", t)
    if m:
        return pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))
    m = re.fullmatch(r"(\d{4})", t)
    if m:
        y = int(t)
        return pd.Timestamp(y, 1, 1), pd.Timestamp(y, 12, 31)
    m = re.fullmatch(r"(\d{4})\s*[-/]\s*(\d{2})", t)
    if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:  # 2019-20: financial year
        s, e, _ = financial_year(t)
        return s, e
    m = re.fullmatch(r"(\d{4})-Q([1-4])", t, flags=re.I)
    if m:
        s = pd.Timestamp(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return s, month_end(s + pd.DateOffset(months=2))
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", t)
    if m and 1 <= int(m.group(2)) <= 12:
        s = pd.Timestamp(int(m.group(1)), int(m.group(2)), 1)
        return s, month_end(s)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})", t)
    if m:
        return pd.Timestamp(t), pd.Timestamp(t)
    return None


def _infer_org_level(codes: pd.Series) -> pd.Series:
    c = codes.astype(str).str.strip().str.upper()
    out = pd.Series(pd.NA, index=c.index, dtype="str")
    out[c.str.match(LA_CODE)] = "local_authority"
    out[c.str.match(PRACTICE_CODE)] = "practice"
    out[c.str.fullmatch(r"R[A-Z0-9]{2}")] = "trust"
    out[c.str.fullmatch(r"R[A-Z0-9]{4}")] = "site"
    return out


def load_tidy_indicator(path, *, org_level=None, errors: str = "report", with_report: bool = False):
    """Load any indicator a researcher brings as a tidy CSV (see ``docs/indicators.md``).

    Required columns: ``org_code, period, measure, value``. Optional: ``org_level``,
    ``numerator``, ``denominator``, ``org_name``, ``period_end``. ``period`` is one of
    ``2019`` (calendar year), ``2019-20`` or ``2019/20`` (financial year, April-March),
    ``2019-Q2`` (calendar quarter), ``2019-04`` (month), ``2019-04-01`` (a day; give
    ``period_end`` for other spans) or ``2019-04-01/2019-06-30`` (an interval).

    Parameters
    ----------
    path : str or Path
        The CSV.
    org_level : str, optional
        The level for every row, when there is no ``org_level`` column. Otherwise it is
        inferred from the code's pattern: ``E06``-``E10`` + 6 digits local authority, letter +
        5 digits practice, ``R`` + 2 trust, ``R`` + 4 site; other codes need ``org_level``.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table.
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path, header_markers=("org_code",))
    kw = dict(path=path, expected_kind="tidy", required=True)
    c = {k: find_column(frame, [k], what=k, **kw) for k in ("org_code", "period", "measure", "value")}
    for k in ("org_level", "numerator", "denominator", "org_name", "period_end"):
        c[k] = find_column(frame, [k])
    lookup = {u: _parse_period(u) for u in pd.unique(frame[c["period"]])}
    bad = [u for u, v in lookup.items() if v is None]
    if bad:
        pos = int(np.flatnonzero(frame[c["period"]].isin(bad).to_numpy())[0])
        raise DataFormatError(
            f"cannot read {bad[0]!r} as a period; expected 2019, 2019-20, 2019-Q2, 2019-04, "
            "2019-04-01 or 2019-04-01/2019-06-30", path=path, row=int(rows[pos]),
            column=c["period"])
    start = frame[c["period"]].map(lambda u: lookup[u][0])
    end = frame[c["period"]].map(lambda u: lookup[u][1])
    if c["period_end"]:
        pe = pd.to_datetime(frame[c["period_end"]].where(frame[c["period_end"]].str.strip() != ""),
                            errors="coerce")
        end = pe.where(pe.notna(), end)
    codes = frame[c["org_code"]].str.strip().str.upper()
    if c["org_level"]:
        level = frame[c["org_level"]].str.strip().str.lower()
    elif org_level is not None:
        level = pd.Series([org_level] * len(frame), dtype="str")
    else:
        level = _infer_org_level(codes)
        if level.isna().any():
            pos = int(np.flatnonzero(level.isna().to_numpy())[0])
            raise DataFormatError(
                f"cannot tell the organisation level of code {codes.iloc[pos]!r}; add an "
                f"org_level column or pass org_level= (one of {ORG_LEVELS})", path=path,
                row=int(rows[pos]), column=c["org_code"])
    report: dict = {}

    def num(k):
        if c[k] is None:
            return np.full(len(frame), np.nan)
        return parse_numeric(frame[c[k]], column=c[k], rows=rows, report=report, path=path,
                              errors=errors)

    keys = pd.DataFrame({"org_code": codes, "period_start": start, "period_end": end,
                         "org_name": frame[c["org_name"]].str.strip() if c["org_name"] else pd.NA})
    out = pd.DataFrame({**{k: keys[k] for k in keys}, "org_level": level,
                        "measure": frame[c["measure"]].str.strip(), "value": num("value"),
                        "numerator": num("numerator"), "denominator": num("denominator")})
    if errors == "report":
        warn_unparseable(report, path)
    out = finish_table(out)
    return loaded_table(out, path, kind="tidy", report=report, with_report=with_report)


register(Kind("tidy", "a tidy indicator CSV (org_code, period, measure, value)", load_tidy_indicator,
              rank=40, columns=lambda n, joined, raw: {"org code", "period", "measure", "value"} <= n))
