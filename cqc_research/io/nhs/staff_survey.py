"""NHS Staff Survey: trust-level scores of the questions used as indicators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .common import (
    check_errors,
    empty_table,
    find_column,
    finish_table,
    loaded_table,
    missing_column_error,
    normalise_header,
    parse_numeric,
    read_table_csv,
    snake_case,
    stack_measures,
    warn_unparseable,
)

__all__ = [
    "STAFF_SURVEY_QUESTIONS",
    "load_staff_survey",
]

# NHS Staff Survey
#: Question text -> measure name for the questions analyses use.
STAFF_SURVEY_QUESTIONS = {
    "staff_recommend_care": "If a friend or relative needed treatment I would be happy with the "
                            "standard of care provided by this organisation",
    "staff_recommend_work": "I would recommend my organisation as a place to work",
    "staff_care_priority": "Care of patients / service users is my organisation's top priority",
}


def _staff_measure(text: str, code: str) -> str:
    nt = normalise_header(text)
    for measure, q in STAFF_SURVEY_QUESTIONS.items():
        if nt and (nt == normalise_header(q) or nt.startswith(normalise_header(q)[:60])):
            return measure
    if normalise_header(code) in {normalise_header(m) for m in STAFF_SURVEY_QUESTIONS}:
        return snake_case(code)
    return "staff_survey_" + snake_case(code or text)


def load_staff_survey(path, *, errors: str = "report", with_report: bool = False):
    """Load trust-level NHS Staff Survey scores in the long layout of ``docs/indicators.md``.

    Layout: one row per trust, survey year and question, with columns ``Org code, Org name,
    Survey year, Question, Question text, Responses, Score`` (``Score``: percentage of
    respondents agreeing or strongly agreeing, 0-100; ``Responses``: the number answering).
    Aliases load too (``Trust code``, ``Year``, ``Base``, ``Percent positive``, ``Value``).

    Parameters
    ----------
    path : str or Path
        The CSV.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="trust"``, the period the fieldwork (1 September to
        31 December of the survey year). Measures are named from the question text:
        ``staff_recommend_care`` ("If a friend or relative needed treatment I would be happy
        with the standard of care provided by this organisation"), ``staff_recommend_work``,
        ``staff_care_priority``; any other question is ``staff_survey_<question>`` (e.g.
        ``staff_survey_q4a``). ``denominator`` is the number of responses and ``numerator``
        the implied number agreeing (score x responses / 100).
    """
    check_errors(errors)
    path = Path(path)
    frame, rows = read_table_csv(path)
    kw = dict(path=path, expected_kind="staff_survey")
    c_code = find_column(frame, ["org code", "trust code", "organisation code", "provider code",
                           "org_code"], required=True, what="Org code", **kw)
    c_year = find_column(frame, ["survey year", "year"], required=True, what="Survey year", **kw)
    c_q = find_column(frame, ["question", "question number", "question code"])
    c_text = find_column(frame, ["question text", "question wording"])
    if c_q is None and c_text is None:
        raise missing_column_error(frame, "Question", path, "staff_survey")
    c_score = find_column(frame, ["score", "percent positive", "positive percent", "positive",
                            "value", "score percent"], required=True, what="Score", **kw)
    c_n = find_column(frame, ["responses", "base", "number of responses", "n"])
    c_name = find_column(frame, ["org name", "trust name", "organisation name"])
    report: dict = {}
    score = parse_numeric(frame[c_score], column=c_score, rows=rows, report=report, path=path,
                           errors=errors)
    resp = parse_numeric(frame[c_n], column=c_n, rows=rows, report=report, path=path,
                          errors=errors) if c_n else np.full(len(frame), np.nan)
    years = pd.to_numeric(frame[c_year].str.strip().str[:4], errors="coerce")
    if years.isna().any():
        pos = int(np.flatnonzero(years.isna().to_numpy())[0])
        raise DataFormatError(f"cannot read {frame[c_year].iloc[pos]!r} as a survey year",
                              path=path, row=int(rows[pos]), column=c_year)
    texts = frame[c_text] if c_text else pd.Series([""] * len(frame))
    codes = frame[c_q] if c_q else pd.Series([""] * len(frame))
    measure = [_staff_measure(t, c) for t, c in zip(texts, codes, strict=True)]
    keys = pd.DataFrame({"org_code": frame[c_code].str.strip().str.upper(),
                         "org_name": frame[c_name].str.strip() if c_name else pd.NA,
                         "period_start": pd.to_datetime({"year": years, "month": 9, "day": 1}),
                         "period_end": pd.to_datetime({"year": years, "month": 12, "day": 31})})
    if errors == "report":
        warn_unparseable(report, path)
    parts = []
    measure = np.asarray(measure, dtype=object)
    for m in pd.unique(measure):
        keep = measure == m
        parts.append(stack_measures(keys.loc[keep].reset_index(drop=True),
                            [(m, score[keep], score[keep] * resp[keep] / 100.0, resp[keep])],
                            org_level="trust"))
    out = finish_table(pd.concat(parts, ignore_index=True)) if parts else empty_table()
    dup = out.duplicated(["org_code", "period_start", "measure"])
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise DataFormatError(f"{first.measure} appears twice for {first.org_code} in "
                              f"{first.period_start:%Y}", path=path)
    return loaded_table(out, path, kind="staff_survey", report=report, with_report=with_report)
