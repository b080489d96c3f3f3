"""NHS Staff Survey: trust-level scores of the questions used as indicators."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataFormatError
from .._kinds import Kind, register
from .._workbook import cell_text
from ._common import (
    ColumnReport,
    ReadReport,
    check_errors,
    detect_indicator_kind,
    empty_table,
    find_column,
    finish_table,
    is_indicator_kind,
    kind_hint,
    loaded_table,
    missing_column_error,
    normalise_header,
    parse_numeric,
    probe_sheet_names,
    read_table_csv,
    set_table_attrs,
    snake_case,
    stack_measures,
    warn_unparseable,
)
from ._dtoc_workbook import column_letter, open_sheets, sheet_cells

__all__ = ["load_staff_survey"]

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




#: Per survey year, the question numbers of the named measures, as the organisation-level
#: workbooks name their columns (``q21d_2019``). 2019: seen in the real workbook; 2018: the
#: 2015-2019 questionnaires kept this block (modelled); 2021-2025: the People Promise survey,
#: "compassionate culture" block (2024-2025 from the published benchmark reports and
#: questionnaire; 2021-2023 inferred from the questions re-introduced in 2022 and added in 2023:
#: modelled). 2020 is not established: pass ``questions=``.
STAFF_SURVEY_QUESTION_MAP = {
    2018: {"staff_care_priority": "q21a", "staff_recommend_work": "q21c",
           "staff_recommend_care": "q21d"},
    2019: {"staff_care_priority": "q21a", "staff_recommend_work": "q21c",
           "staff_recommend_care": "q21d"},
    2021: {"staff_care_priority": "q21a", "staff_recommend_work": "q21c",
           "staff_recommend_care": "q21d"},
    2022: {"staff_care_priority": "q23a", "staff_recommend_work": "q23c",
           "staff_recommend_care": "q23d"},
    2023: {"staff_care_priority": "q25a", "staff_recommend_work": "q25c",
           "staff_recommend_care": "q25d"},
    2024: {"staff_care_priority": "q25a", "staff_recommend_work": "q25c",
           "staff_recommend_care": "q25d"},
    2025: {"staff_care_priority": "q25a", "staff_recommend_work": "q25c",
           "staff_recommend_care": "q25d"},
}

_MAP_SEEN = {2019: "real (seen in the 2019 organisation-level workbook)",
             2024: "modelled (from the published 2024 benchmark reports)",
             2025: "modelled (from the 2025 questionnaire)"}


def _is_workbook(path: Path) -> bool:
    if path.suffix.lower() in {".xls", ".xlsx", ".xlsm"}:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x03\x04"))


_CODE_ALIASES = {"trust", "trust code", "trustcode", "org code", "organisation code", "orgcode",
                 "org id", "orgid", "organisation id"}
_NAME_ALIASES = {"trustname", "trust name", "org name", "organisation name", "orgname",
                 "organisation"}
_QCOL = re.compile(r"^(q\d+[a-z]?(?:\.\d+)?)(_n)?(?:_(\d{4}))?$")
_THEME = re.compile(r"^((?:theme|pp)[a-z0-9_]*?)(_n)?(?:_(\d{4}))?$")


def _header_at(rows) -> int | None:
    for i, r in enumerate(rows[:10]):
        cells = {normalise_header(cell_text(c)) for c in r}
        if cells & _CODE_ALIASES and cells & _NAME_ALIASES:
            return i
    return None


def _sector_trust(code: str, name: str) -> str | None:
    """``R1F`` for a sector sub-code like ``R1F1`` (a trust code and one digit)."""
    m = re.fullmatch(r"(R[A-Z0-9]{2})(\d)", code)
    if m and ("sector" in name.casefold() or "(" in name):
        return m.group(1)
    return None


def _wrong_kind_hint(path: Path) -> str:
    try:
        kind = detect_indicator_kind(path)
    except Exception:  # noqa: BLE001 - a hint only
        kind = None
    if is_indicator_kind(kind) and not kind.startswith("staff_survey"):
        return kind_hint(kind)
    return ""


def _load_staff_workbook(path: Path, *, year, questions, sectors, errors, with_report):
    wb, names = open_sheets(path, expected="an NHS Staff Survey organisation-level workbook")
    rep = ReadReport(path=path, kind="staff_survey (NHS Staff Survey organisation-level workbook)")
    cells_report: dict = {}
    found, skipped = [], []
    frames = []
    years_seen: dict = {}
    for sheet in names:
        rows = sheet_cells(wb, sheet, path=path)
        h = _header_at(rows)
        if h is None:
            skipped.append(sheet)
            continue
        header = [cell_text(c) for c in rows[h]]
        norm = [normalise_header(c) for c in header]
        c_code = next(j for j, n in enumerate(norm) if n in _CODE_ALIASES)
        c_name = next(j for j, n in enumerate(norm) if n in _NAME_ALIASES)
        found.append(sheet)
        body = rows[h + 1:]
        keep, dropped = [], {}
        for i, r in enumerate(body):
            code, name = cell_text(r[c_code]), r[c_name]
            if not any(cell_text(c) for c in r):
                reason = "blank rows"
            elif not code or not isinstance(name, str) or not name.strip():
                reason = "summary rows below the organisations (count:, (combined), totals)"
            else:
                keep.append(i)
                continue
            dropped[reason] = dropped.get(reason, 0) + 1
        for k, v in dropped.items():
            rep.dropped[k] = rep.dropped.get(k, 0) + v
        rep.rows_read += len(body)
        for col in header:
            m = _QCOL.match(col.strip().casefold()) or _THEME.match(col.strip().casefold())
            if m and m.group(3):
                years_seen[int(m.group(3))] = years_seen.get(int(m.group(3)), 0) + 1
        frames.append((sheet, h, header, [body[i] for i in keep],
                       np.array([h + 2 + i for i in keep], dtype=int), c_code, c_name))
    if not found:
        raise DataFormatError(
            "no sheet has a header row with 'trust' and 'trustname' columns in its first 10 rows; "
            "expected an NHS Staff Survey organisation-level workbook (a 'Notes' sheet, a 'Trust "
            f"Benchmark Groups' sheet, then one sheet per benchmarking group). Sheets: {names}"
            + _wrong_kind_hint(path), path=path)
    if year is None:
        year = max(years_seen, key=years_seen.get) if years_seen else None
        source = "the columns' year suffix (e.g. q21d_2019)"
        if year is None:
            m = re.search(r"(?<!\d)(20\d{2})(?!\d)", path.name)
            year = int(m.group(1)) if m else None
            source = "the file name"
        if year is None:
            raise DataFormatError("cannot tell the survey year: no column ends in _<year> and the "
                                  "file name has no year; pass year=", path=path)
    else:
        source = "year="
    year = int(year)
    qmap = dict(questions) if questions else STAFF_SURVEY_QUESTION_MAP.get(year)
    if qmap is None:
        raise DataFormatError(
            f"no question map for the {year} survey: its question numbers are not established "
            f"(the map covers {sorted(STAFF_SURVEY_QUESTION_MAP)}); pass questions= e.g. "
            "{'staff_recommend_care': 'q21d'} naming each measure's question for that year",
            path=path)
    rep.period = f"{year} (from {source}); question map: " + ", ".join(
        f"{m}={q}" for m, q in qmap.items()) + (f" [{_MAP_SEEN.get(year, 'modelled')}]"
                                                if not questions else " [given]")
    rep.sheet = ", ".join(found)
    if skipped:
        rep.notes.append(f"sheets without organisations, not read: {skipped}")
    by_q = {q.casefold(): m for m, q in qmap.items()}
    parts = []
    seen_codes: dict = {}
    for sheet, _h, header, body, rownums, c_code, c_name in frames:
        if not body:
            continue
        codes = [cell_text(r[c_code]).upper() for r in body]
        names_ = [str(r[c_name]).strip() for r in body]
        cols = {}
        for j, col in enumerate(header):
            low = col.strip().casefold()
            if low.startswith("un_") or low.endswith("_sig"):
                continue
            m = _QCOL.match(low)
            kind = "q"
            if not m:
                m = _THEME.match(low) if low.startswith(("theme", "pp")) else None
                kind = "theme"
            if not m or (m.group(3) and int(m.group(3)) != year):
                continue
            cols.setdefault((kind, m.group(1)), {})["n" if m.group(2) else "v"] = j
        n_low = {normalise_header(c): j for j, c in enumerate(header)}

        def num(j, what, body=body, rownums=rownums, sheet=sheet, header=header):
            vals = [("-" if isinstance(r[j], str) and r[j] and not r[j].strip() else r[j])
                    for r in body]
            try:
                return parse_numeric(vals, column=f"{sheet} | {header[j]}", rows=rownums,
                                     report=cells_report, path=path, errors=errors)
            except DataFormatError as exc:
                raise DataFormatError(exc.detail, path=path, sheet=sheet, row=exc.row,
                                      column=f"{column_letter(j)} ({header[j]})") from None
        keys = pd.DataFrame({"org_code": codes, "org_name": names_,
                             "period_start": pd.Timestamp(year, 9, 1),
                             "period_end": pd.Timestamp(year, 12, 31)})
        specs = []
        scale = None
        for (kind, stem), js in cols.items():
            if "v" not in js:
                continue
            v = num(js["v"], stem)
            n = num(js["n"], stem) if "n" in js else np.full(len(body), np.nan)
            if kind == "theme":
                name = re.sub(r"^theme_?", "", stem) or stem
                specs.append((f"staff_theme_{snake_case(name)}", v, None, n))
                continue
            if scale is None:
                scale = 1.0
            if np.nanmax(np.abs(v), initial=0) > 1.5:
                scale = 0.01  # a year published as percentages
            p = v * scale
            measure = by_q.get(stem, f"staff_survey_{snake_case(stem)}")
            specs.append((measure, 100.0 * p, p * n, n))
        j_rr = n_low.get(f"rr {year}", n_low.get("rr", n_low.get("response rate")))
        if j_rr is not None:
            j_resp, j_dist = n_low.get("responses"), n_low.get("distributed")
            specs.append(("staff_survey_response_rate", 100.0 * num(j_rr, "rr"),
                          num(j_resp, "responses") if j_resp is not None else None,
                          num(j_dist, "distributed") if j_dist is not None else None))
        for c in codes:
            if c in seen_codes:
                raise DataFormatError(f"organisation {c} is in two sheets ({seen_codes[c]!r} and "
                                      f"{sheet!r})", path=path, sheet=sheet)
            seen_codes[c] = sheet
        level = ["site" if _sector_trust(c, nm) else "trust" for c, nm in zip(codes, names_, strict=True)]
        parts.append(stack_measures(keys, specs, org_level=level))
    out = finish_table(pd.concat(parts, ignore_index=True)) if parts else empty_table()
    sector = out["org_level"] == "site"
    if sector.any():
        trusts = {c: _sector_trust(c, nm) for c, nm in
                  out.loc[sector, ["org_code", "org_name"]].drop_duplicates().itertuples(index=False)}
        rep.notes.append("sector sub-codes (one sector of a trust) kept as org_level 'site': "
                         + ", ".join(f"{c} -> {t}" for c, t in sorted(trusts.items())))
        if sectors == "drop":
            out = out.loc[~sector].reset_index(drop=True)
        elif sectors == "pool":
            pooled = _pool_sectors(out.loc[sector].copy(), trusts, set(out["org_code"]))
            if len(pooled):
                rep.notes.append("trust rows pooled from their sectors (org_level 'trust'): "
                                 + ", ".join(sorted(set(pooled["org_code"])))
                                 + "; percentages = sum of numerators / sum of bases, theme "
                                 "scores weighted by each sector's base")
                out = finish_table(pd.concat([out, pooled], ignore_index=True))
    if errors == "report":
        warn_unparseable(cells_report, path)
    out = set_table_attrs(out, path, kind="staff_survey")
    if not with_report:
        return out
    rep.layout = "organisation-level workbook (one sheet per benchmarking group)"
    rep.parse_report = cells_report
    rep.rows_kept = len(seen_codes)
    rep.rows_read = rep.rows_kept + sum(rep.dropped.values())
    first = frames[0]
    rep.header_row, rep.header = first[1] + 1, list(first[2])
    by_header: dict = {}
    for col, entry in cells_report.items():
        acc = by_header.setdefault(col.split(" | ", 1)[-1], {})
        for k in ("missing", "suppressed", "unparseable"):
            acc[k] = acc.get(k, 0) + int(entry.get(k) or 0)
    named = {f"{q.casefold()}_{year}": m for m, q in qmap.items()}
    for j, col in enumerate(first[2], start=1):
        low = col.strip().casefold()
        role = named.get(low) or ("org_code" if normalise_header(col) in _CODE_ALIASES else
                                  "org_name" if normalise_header(col) in _NAME_ALIASES else None)
        counts = {k: v for k, v in by_header.get(col, {}).items() if v}
        if role or counts:
            rep.columns.append(ColumnReport(j, col, role or "staff_survey_* / staff_theme_*",
                                            counts))
    n_q = sum(1 for c in first[2] if _QCOL.match(c.strip().casefold()) and "_n" not in c)
    rep.notes.insert(0, f"sheets read: {found}; {n_q} question columns per sheet, each with its "
                        "base (_n_): value = 100 x proportion, numerator = proportion x base, "
                        "denominator = base; only the named measures and columns with missing "
                        "cells are listed above")
    rep.notes.append(f"output columns: {', '.join(map(str, out.columns))}")
    return out, rep


def _pool_sectors(sec: pd.DataFrame, trusts: dict, present: set) -> pd.DataFrame:
    sec["trust"] = sec["org_code"].map(trusts)
    sec = sec[~sec["trust"].isin(present)]
    if sec.empty:
        return sec.drop(columns="trust")
    rows = []
    for (trust, measure), g in sec.groupby(["trust", "measure"], sort=True):
        den = g["denominator"].to_numpy(dtype="float64")
        ok = ~np.isnan(den) & ~np.isnan(g["value"].to_numpy(dtype="float64"))
        base = float(den[ok].sum()) if ok.any() else np.nan
        if measure.startswith("staff_theme_"):
            value = float(np.average(g["value"].to_numpy()[ok], weights=den[ok])) \
                if ok.any() and base > 0 else np.nan
            num = np.nan
        elif g["numerator"].notna().any():
            num = float(g["numerator"].to_numpy()[ok].sum()) if ok.any() else np.nan
            value = 100.0 * num / base if base and base > 0 else np.nan
        else:
            num, value = np.nan, np.nan
        name = re.sub(r"\s*\([^)]*sector[^)]*\)\s*$", "", str(g["org_name"].iloc[0]),
                      flags=re.I)
        rows.append({"org_code": trust, "org_level": "trust",
                     "period_start": g["period_start"].iloc[0], "period_end": g["period_end"].iloc[0],
                     "measure": measure, "value": value, "numerator": num,
                     "denominator": base, "org_name": name})
    return finish_table(pd.DataFrame(rows))


def load_staff_survey(path, *, year=None, questions=None, sectors: str = "pool",
                      errors: str = "report", with_report: bool = False):
    """Load NHS Staff Survey scores: the published organisation-level workbook, or the long CSV.

    **The organisation-level workbook** (``.xlsx``; the data behind the benchmark reports,
    e.g. ``ST19-Organisation-Data-2019-Only``): a ``Notes`` sheet, a ``Trust Benchmark Groups``
    sheet, then one sheet per benchmarking group (``Acute``, ``Combined Acute & Community``,
    ``MH LD``, ``Ambulance``, ``CCGs``, ...). In each, the header row is found by its ``trust``
    and ``trustname`` columns (a note may sit above it), and summary rows below the
    organisations (``count:``, ``(combined)``) are dropped and counted. Question columns
    ``q21d_2019`` hold the proportion positive (0-1) and ``q21d_n_2019`` its base; theme
    columns ``theme_<name>_2019`` a score 0-10 and ``theme_<name>_n_2019`` its base. Measures
    are named by question **wording** through :data:`STAFF_SURVEY_QUESTION_MAP` (per survey
    year: ``staff_recommend_care`` is 2019's ``q21d``, 2022's ``q23d``, ...); other questions
    are ``staff_survey_<code>`` (``staff_survey_q4a``: numbering changes between years). A cell
    holding only a space (how the workbook withholds a value of fewer than 11 responses) is
    suppressed, a blank cell missing: NaN either way, never 0, counted in the parse report.

    **The long CSV** (``Org code, Org name, Survey year, Question, Question text, Responses,
    Score``, ``Score`` the percentage agreeing, 0-100; aliases ``Trust code``, ``Year``,
    ``Base``, ``Percent positive``, ``Value``), measures named from the question text.

    Parameters
    ----------
    path : str or Path
        The workbook or CSV.
    year : int, optional
        The survey year of a workbook; by default from its columns' suffix (``_2019``), else
        its file name.
    questions : dict, optional
        For a workbook: measure -> question code for its year (``{"staff_recommend_care":
        "q21d"}``), replacing the map; needed for a year the map does not cover (2020).
    sectors : {"pool", "keep", "drop"}
        A workbook's sector sub-codes (``R1F1``: the acute sector of trust ``R1F``) are kept as
        ``org_level="site"`` rows with their code. ``"pool"`` (default) also adds a trust row
        (``R1F``, ``org_level="trust"``) pooled from its sectors when the workbook has none:
        percentages as the summed numerators over the summed bases, theme scores weighted by
        each sector's base. ``"drop"`` drops the sector rows.
    errors : {"report", "raise"}
        See :func:`load_gp_practices`.
    with_report : bool
        Also return how the file was read, a ``ReadReport`` (see :func:`load_gp_practices`).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, ReadReport) with ``with_report=True``
        The indicator table, ``org_level="trust"`` (or ``"site"`` for sector sub-codes; CCGs,
        CSUs and social enterprises of the workbook too, codes as published), the period the
        fieldwork (1 September to 31 December of the survey year). Percentages 0-100:
        ``staff_recommend_care`` ("If a friend or relative needed treatment I would be happy
        with the standard of care provided by this organisation"), ``staff_recommend_work``,
        ``staff_care_priority``, ``staff_survey_<question>``, with ``denominator`` the number
        answering and ``numerator`` the implied number positive; from a workbook also
        ``staff_theme_<name>`` (0-10, denominator its base) and ``staff_survey_response_rate``.

    Raises
    ------
    DataFormatError
        No sheet with the header (naming the right loader when the workbook is of another
        known kind), a year without a question map, an organisation in two sheets, or with
        ``errors="raise"`` a cell that is not a number (naming file, sheet, row and column).

    Examples
    --------
    >>> ss = load_staff_survey("ST19-Organisation-Data-2019-Only-v1f.xlsx")  # doctest: +SKIP
    >>> ss[ss.measure == "staff_recommend_care"].head()  # doctest: +SKIP
    """
    check_errors(errors)
    if sectors not in {"pool", "keep", "drop"}:
        raise ValueError(f"sectors must be 'pool', 'keep' or 'drop', not {sectors!r}")
    path = Path(path)
    if path.is_file() and _is_workbook(path):
        return _load_staff_workbook(path, year=year, questions=questions, sectors=sectors,
                                    errors=errors, with_report=with_report)
    return _load_staff_csv(path, errors=errors, with_report=with_report)


def _load_staff_csv(path, *, errors: str, with_report: bool):
    """The documented long CSV layout: see :func:`load_staff_survey`."""
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


def _staff_survey_workbook_sheets(probe) -> bool:
    names = probe_sheet_names(probe)
    if names is None:
        return False
    norm = {normalise_header(n) for n in names}
    return "notes" in norm and any("benchmark group" in n for n in norm)


register(Kind("staff_survey_workbook", "an NHS Staff Survey organisation-level workbook",
              load_staff_survey, rank=2, sniff=_staff_survey_workbook_sheets))
register(Kind("staff_survey", "an NHS Staff Survey CSV", load_staff_survey, rank=130,
              columns=lambda n, joined, raw: ("survey year" in n or "question text" in n) and any(
                  x in n for x in ("score", "percent positive", "positive"))))
