"""Synthetic NHS workbooks in the published layouts: delayed transfers of care and staff survey.

- :func:`write_dtoc_workbook`: NHS England's monthly delayed transfers of care local-authority
  workbook (sheets ``England``, ``LA - by type of care``, ``LA - by responsible org``, ``LA - by
  reason``; title block, ``England`` row, rows of residents outside England), in the early
  (``SHA, Code, Name``) or later (``Region, ONS Geography, Code, Name`` with the per-day block
  beside the delayed days) layout.
- :func:`write_staff_survey_workbook`: the NHS Staff Survey organisation-level workbook
  (``Notes``, ``Trust Benchmark Groups``, one sheet per benchmarking group, q-coded columns).

The real DTOC files are Excel 97 ``.xls``; no maintained Python library writes that format, so
these are written as ``.xlsx`` (the same sheets, cells and layout; the loaders read both). The
``.xlsx`` writer here is minimal (inline strings, numbers; no styles) and fast, so that the
synthetic dataset can carry every month.

:func:`write_nhs_workbooks` is what the generator calls: it writes one DTOC workbook per month
with the **same** delayed days (total and reasons, codes, names) as the tidy DTOC CSV, the type
of care and responsible organisation split from them with their own random stream
(``np.random.default_rng([seed, 2441])``), and a 2019 staff survey workbook whose
``q21d_2019`` is the CSV's 2019 ``staff_recommend_care`` of each trust, the other columns drawn
from ``np.random.default_rng([seed, 2402])``; nothing is drawn from the generator's own stream.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ..cache import atomic_path

# ---------------------------------------------------------------------------------------------
# a minimal .xlsx writer
_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
       'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="'
       'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
       'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
       'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{sheets}'
       '</Types>')
_CT_SHEET = ('<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.'
             'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http:'
         '//schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
         '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.'
       'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
       'officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
            'http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
_WB_REL = ('<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
           '2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>')


def _col(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str, v) -> str:
    if type(v) is float and v == v:  # the common case first
        return f'<c r="{ref}"><v>{v!r}</v></c>'
    if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and v == ""):
        return ""
    if isinstance(v, bool | np.bool_):
        v = str(v)
    if isinstance(v, int | float | np.integer | np.floating):
        return f'<c r="{ref}"><v>{float(v)!r}</v></c>' if isinstance(v, float | np.floating) \
            else f'<c r="{ref}"><v>{int(v)}</v></c>'
    text = escape(str(v))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _sheet_xml(rows) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://'
           'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for i, row in enumerate(rows, start=1):
        cells = "".join(_cell(f"{_col(j)}{i}", v) for j, v in enumerate(row))
        out.append(f'<row r="{i}">{cells}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def _write_xlsx(path, sheets: dict) -> Path:
    """Write ``{sheet name: rows}`` as an ``.xlsx`` (inline strings, numbers), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(sheets)
    members = {
        "[Content_Types].xml": _CT.format(sheets="".join(
            _CT_SHEET.format(i=i) for i in range(1, len(names) + 1))),
        "_rels/.rels": _RELS,
        "xl/workbook.xml": _WB.format(sheets="".join(
            f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, n in enumerate(names, start=1))),
        "xl/_rels/workbook.xml.rels": _WB_RELS.format(rels="".join(
            _WB_REL.format(i=i) for i in range(1, len(names) + 1))),
        **{f"xl/worksheets/sheet{i}.xml": _sheet_xml(sheets[n]) for i, n in enumerate(names, start=1)},
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as z:
        for name, text in members.items():  # a fixed date: the same bytes from the same seed
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return path


# ---------------------------------------------------------------------------------------------
# delayed transfers of care
_REASONS = ["assessment", "public_funding", "nhs_non_acute", "residential_home", "nursing_home",
            "care_package", "equipment", "patient_choice", "disputes", "housing", "other"]
_LABELS = {
    "2011": ["A) COMPLETION OF ASSESSMENT", "B) PUBLIC FUNDING",
             "C) WAITING FURTHER NHS NON-ACUTE CARE",
             "DI) AWAITING RESIDENTIAL HOME PLACEMENT OR AVAILABILITY",
             "DII) AWAITING NURSING HOME PLACEMENT OR AVAILABILITY",
             "E) AWAITING CARE PACKAGE IN OWN HOME", "F) AWAITING COMMUNITY EQUIPMENT AND ADAPTIONS",
             "G) PATIENT OR FAMILY CHOICE", "H) DISPUTES",
             "I) HOUSING - PATIENTS NOT COVERED BY NHS AND COMMUNITY CARE ACT", "O) OTHER", "TOTAL"],
    "2017": ["A) Awaiting completion of assessment", "B) Awaiting public funding",
             "C) Awaiting further non-acute NHS care",
             "Di) Awaiting residential home placement or availability",
             "Dii) Awaiting nursing home placement or availability",
             "E) Awaiting care package in own home", "F) Awaiting community equipment and adaptations",
             "G) Patient or family choice", "H) Disputes",
             "I) Housing \u2013 patients not covered by NHS and Community Care Act", "O) Other", "Total"],
}
_LABELS["2019"] = [*_LABELS["2017"][:9], "I) Housing - patients not covered by Care Act",
                   "O) Other", "Total"]
_OUTSIDE = [("9901", "Resident in Scotland"), ("9900", "Resident In Wales"),
            ("9902", "Resident outside GB")]


def _num(v):
    if isinstance(v, str):  # a note or marker written as it is (tests plant bad cells)
        return v
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def write_dtoc_workbook(frame: pd.DataFrame, path, *, layout: str = "2017", published: str = "",
                        revised: str = "") -> Path:
    """Write one month as NHS England's delayed transfers of care local-authority workbook.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per area for **one month**: ``org_code`` (the code the loader should return:
        the ONS code in the later layouts, the old code in ``"2011"``), ``org_name``, ``period``
        (any date in the month), ``total`` and the reason columns of
        :func:`~cqc_research.synthetic.nhs_formats.write_dtoc` (``assessment``, ...,
        ``other``; a reason column that is absent is not written, NaN is written ``-``);
        optional ``old_code`` (the ``Code`` column of the later layouts), ``region``,
        ``acute``, ``non_acute`` (type of care), ``nhs``, ``social_care``, ``both``
        (responsible organisation; default: all days acute / NHS) and ``row_kind``
        (``"outside_england"`` for the rows of residents outside England, else councils).
    path : str or Path
        The ``.xlsx`` to write.
    layout : {"2011", "2017", "2019"}
        ``"2011"``: ``SHA, Code, Name``, upper-case reasons, no per-day block, sheet ``LA - by
        Type of Care``. ``"2017"``: ``Region, ONS Geography, Code, Name``, a ``Delayed Days``
        and a ``DTOC Beds`` block. ``"2019"``: the per-day block titled ``Average Number of
        People Delayed per Day``, 2019 reason wording and a notes block.
    published, revised : str
        The ``Published:`` and ``Revised:`` cells (e.g. ``"8th June 2017"``).

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_dtoc` reads it back.
    """
    if layout not in _LABELS:
        raise ValueError(f"layout must be one of {sorted(_LABELS)}, not {layout!r}")
    d = frame.reset_index(drop=True).copy()
    months = pd.to_datetime(d["period"]).dt.to_period("M").unique()
    if len(months) != 1:
        raise ValueError(f"a DTOC workbook holds one month; got {len(months)}")
    for c in ("acute", "nhs"):
        if c not in d:
            d[c] = d["total"]
    for c in ("non_acute", "social_care", "both"):
        if c not in d:
            d[c] = 0.0
    if "row_kind" not in d:
        d["row_kind"] = "council"
    reasons = [r for r in _REASONS if r in d]
    return _write_dtoc_records(d.to_dict("records"), path, month=months[0].start_time,
                               reasons=reasons, layout=layout, published=published,
                               revised=revised)


def _write_dtoc_records(records, path, *, month, reasons, layout, published, revised) -> Path:
    ndays = month.days_in_month
    labels = dict(zip([*_REASONS, "total"], _LABELS[layout], strict=True))
    early = layout == "2011"
    title = [
        ["", "Title:", "Delayed Transfer of Care, NHS Organisations, England"],
        ["", "Summary:", "Number of Delayed Days during the reporting period (SYNTHETIC DATA)"],
        [], ["", "Period:", f"{month:%B %Y}"],
        ["", "Source:", "Synthetic data written by cqc-research synth (layout of MSitDT)"],
        ["", "Basis:", "Local Authority"], ["", "Published:", published],
        ["", "Revised:", revised], ["", "Status:", "Published"],
        ["", "Contact:", "none (synthetic)"], []]
    body = sorted((r for r in records if r["row_kind"] != "outside_england"),
                  key=lambda r: r["org_name"])
    outside = [r for r in records if r["row_kind"] == "outside_england"]
    per_day_title = "Average Number of People Delayed per Day" if layout == "2019" else "DTOC Beds"

    def sheet(cols, per_day: bool):
        label_cols = ["SHA", "Code", "Name"] if early else ["Region", "ONS Geography", "Code", "Name"]
        head = ["", *label_cols, *[h for h, _ in cols]]
        group = [""] * len(head)
        if per_day:
            group[1 + len(label_cols)] = "Delayed Days"
            head += ["", *[h for h, _ in cols]]
            group += ["", per_day_title] + [""] * (len(cols) - 1)

        def line(labels_, values):
            row = ["", *labels_, *[_num(v) for v in values]]
            if per_day:
                row += ["", *[_num(v if isinstance(v, str) else v / ndays) for v in values]]
            return row

        def labels_of(r):
            if early:
                return ["-", r["org_code"], r["org_name"]]
            return [r.get("region", "-"), r["org_code"], r.get("old_code", r["org_code"]),
                    r["org_name"]]
        rows = [*title, group, head]
        eng = [float(np.nansum([float(r[c]) for r in records if not isinstance(r[c], str)]))
               for _, c in cols]
        rows.append(line(["-"] * (len(label_cols) - 1) + ["England"], eng))
        rows.append([])
        for r in body:
            rows.append(line(labels_of(r), [r[c] for _, c in cols]))
        for r in outside:
            labs = ["-", r["org_code"], r["org_name"]] if early else \
                ["-", "-", r["org_code"], r["org_name"]]
            rows.append(line(labs, [r[c] for _, c in cols]))
        if layout == "2019":
            rows += [[], ["", "Notes:"], ["", "1. 'Average Number of People Delayed per Day' was "
                                          "previously titled 'DTOC Beds'."]]
        return rows

    type_cols = [("Acute", "acute"), ("Non-Acute", "non_acute"), ("Total", "total")]
    resp_cols = [("NHS", "nhs"), ("Social Care", "social_care"), ("Both", "both"),
                 ("Total", "total")]
    reason_cols = [(labels[r], r) for r in reasons] + [(labels["total"], "total")]
    england = [*title, ["", "England Level Data", "", "Number of Delayed Days (SYNTHETIC)"],
               ["", "Type of Care", "Reason for Delay", "NHS", "Social Care", "Both"]]
    sheets = {"England": england,
              ("LA - by Type of Care" if early else "LA - by type of care"):
                  sheet(type_cols, per_day=not early),
              "LA - by responsible org": sheet(resp_cols, per_day=not early),
              "LA - by reason": sheet(reason_cols, per_day=False)}
    return _write_xlsx(path, sheets)


# ---------------------------------------------------------------------------------------------
# NHS Staff Survey
_THEMES_2019 = ["diversity", "sculture", "hwb", "managers", "qualapp", "qualcare", "morale",
                "engagement", "sebh", "seviol", "teamwork"]


def write_staff_survey_workbook(frame: pd.DataFrame, path, *, year: int = 2019) -> Path:
    """Write the NHS Staff Survey organisation-level workbook (the data behind the benchmark reports).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per organisation: ``org_code`` (a sector sub-code such as ``RXX1`` allowed),
        ``org_name``, ``group`` (the benchmarking group, the sheet: e.g. ``"Acute"``;
        default ``"Acute"``), ``responses``, optional ``distributed``, and value columns named
        as published without the year: ``q21d`` (proportion 0-1) with ``q21d_n`` (its base),
        ``theme_<name>`` (0-10) with ``theme_<name>_n``. NaN is written as a cell holding one
        space, as the real workbook withholds a value.
    path : str or Path
        The ``.xlsx`` to write.
    year : int
        The survey year, appended to the column names (``q21d_2019``).

    Returns
    -------
    pathlib.Path
        ``path``; :func:`cqc_research.io.nhs.load_staff_survey` reads it back.
    """
    d = frame.reset_index(drop=True).copy()
    if "group" not in d:
        d["group"] = "Acute"
    value_cols = [c for c in d.columns if c.startswith(("q", "theme_")) and not c.endswith("_n")]
    base_cols = [c for c in d.columns if c.startswith(("q", "theme_")) and c.endswith("_n")]
    cols = sorted(value_cols, key=lambda c: (not c.startswith("theme_"), c)) + \
        sorted(base_cols, key=lambda c: (not c.startswith("theme_"), c))
    def named(c):
        return f"{c[:-2]}_n_{year}" if c.endswith("_n") else f"{c}_{year}"
    notes = [[f"National Staff Survey {year} (SYNTHETIC DATA written by cqc-research synth)", ""],
             ["This sheet provides data for all organisations, split by benchmarking group.", ""],
             [], ["Key", ""], ["Variable Name", "Description"], ["trust", "Organisation Code"],
             ["trustname", "Name of Organisation"], ["responses", "Total Responses"],
             ["q21d_20XX", "Proportion of staff selecting Agree or Strongly Agree"]]
    groups = list(dict.fromkeys(d["group"]))
    bench = [[g.upper() for g in groups]]
    members = {g: d.loc[d["group"] == g, "org_code"].tolist() for g in groups}
    for i in range(max(len(m) for m in members.values())):
        bench.append([members[g][i] if i < len(members[g]) else "" for g in groups])
    sheets = {"Notes": notes, "Trust Benchmark Groups": bench}
    for k, g in enumerate(groups, start=1):
        sub = d.loc[d["group"] == g]
        head = ["trust", "trustname", "trtype", "trtname", "sample_type", "org_mode", "responses",
                f"rr_{year}", *(["Distributed"] if "distributed" in sub else []),
                *[named(c) for c in cols]]
        rows = []
        if k == 1:
            rows.append(["See summary responses at the bottom of this worksheet (SYNTHETIC)"])
        rows.append(head)
        for r in sub.to_dict("records"):
            dist = "distributed" in sub
            rr = float(r["responses"]) / float(r["distributed"]) if dist else 0.5
            row = [r["org_code"], r["org_name"], float(k), f"{g} Trusts", "Census", "Online",
                   float(r["responses"]), rr, *([float(r["distributed"])] if dist else [])]
            row += [r[c] if isinstance(r[c], str) else " " if pd.isna(r[c]) else float(r[c])
                    for c in cols]
            rows.append(row)
        if k == 1:
            rows.append(["count:", float(len(sub)), "", "", "", "", float(sub["responses"].sum())])
        sheets[g] = rows
    return _write_xlsx(path, sheets)


# ---------------------------------------------------------------------------------------------
def nhs_workbook_paths(root) -> dict:
    """Where :func:`write_nhs_workbooks` writes, under a synthetic dataset's folder.

    Parameters
    ----------
    root : str or Path
        The dataset's folder.

    Returns
    -------
    dict
        ``dtoc_workbooks`` (the folder of monthly DTOC workbooks) and
        ``staff_survey_workbook`` (the 2019 organisation-level workbook).
    """
    root = Path(root)
    return {"dtoc_workbooks": root / "dtoc" / "workbooks",
            "staff_survey_workbook": root / "staff_survey" / "NSS19-organisation-data.xlsx"}


def write_nhs_workbooks(root, *, seed: int, dtoc: pd.DataFrame, geo: pd.DataFrame,
                        staff: pd.DataFrame) -> dict:
    """Write the synthetic DTOC monthly workbooks and the 2019 staff survey workbook.

    Parameters
    ----------
    root : str or Path
        The dataset's folder (being written).
    seed : int
        The dataset's seed; the splits and extra columns use their own streams
        (``[seed, 2441]``, ``[seed, 2402]``).
    dtoc : pandas.DataFrame
        The rows the tidy DTOC CSV was written from (``org_code, org_name, period, total``,
        reasons); the workbooks carry exactly these numbers.
    geo : pandas.DataFrame
        The synthetic local authorities (``la_name, la_code, la_old_code, region``).
    staff : pandas.DataFrame
        The rows the staff survey CSV was written from (``org_code, org_name, year, measure,
        value, responses``); the workbook's ``q21d_2019`` is each trust's 2019 value / 100.

    Returns
    -------
    dict
        :func:`nhs_workbook_paths` of ``root``.
    """
    paths = nhs_workbook_paths(root)
    rng = np.random.default_rng([seed, 2441])
    g = geo.set_index("la_name")
    d = dtoc.copy()
    d["old_code"] = d["org_name"].map(g["la_old_code"])
    d["region"] = d["org_name"].map(g["region"])
    p_acute = {n: float(rng.uniform(0.55, 0.75)) for n in g.index}
    p_resp = {n: rng.dirichlet([12, 8, 2]) for n in g.index}
    total = d["total"].to_numpy(dtype="int64")
    names = d["org_name"].tolist()
    acute = rng.binomial(total, np.array([p_acute[n] for n in names]))
    resp = rng.multinomial(total, np.array([p_resp[n] for n in names]))
    d["acute"], d["non_acute"] = acute.astype(float), (total - acute).astype(float)
    d["nhs"], d["social_care"], d["both"] = (resp[:, i].astype(float) for i in range(3))
    folder = paths["dtoc_workbooks"]
    reasons = [r for r in _REASONS if r in d]
    d["month"] = pd.to_datetime(d["period"]).dt.to_period("M").dt.start_time
    by_month: dict = {}
    for r in d.to_dict("records"):
        r["row_kind"] = "council"
        by_month.setdefault(r["month"], []).append(r)
    for start in sorted(by_month):
        layout = "2011" if start < pd.Timestamp(2017, 4, 1) else (
            "2017" if start < pd.Timestamp(2019, 4, 1) else "2019")
        extra = [{"org_code": c, "org_name": n, "row_kind": "outside_england", "total": float(t),
                  "acute": float(t), "non_acute": 0.0, "nhs": float(t), "social_care": 0.0,
                  "both": 0.0, **{r: (float(t) if r == "nhs_non_acute" else 0.0) for r in reasons}}
                 for (c, n), t in zip(_OUTSIDE, rng.integers(0, 40, 3), strict=True)]
        nxt = start + pd.offsets.MonthBegin(1)
        _write_dtoc_records(by_month[start] + extra, folder / f"LA-Type-B-{start:%B-%Y}.xlsx",
                            month=start, reasons=reasons, layout=layout,
                            published=f"10th {nxt:%B %Y}", revised="")
    # the 2019 staff survey workbook
    rng = np.random.default_rng([seed, 2402])
    s = staff[(staff["year"] == 2019) & (staff["measure"] == "staff_recommend_care")]
    s = s.sort_values("org_code", kind="stable").reset_index(drop=True)
    n = len(s)
    responses = s["responses"].to_numpy(dtype="int64")
    base = np.maximum(1, np.round(responses * rng.uniform(0.95, 0.99, n))).astype(int)
    out = pd.DataFrame({"org_code": s["org_code"], "org_name": s["org_name"], "group": "Acute",
                        "responses": responses.astype(float),
                        "distributed": np.round(responses / rng.uniform(0.35, 0.6, n)),
                        "q21a": np.clip(rng.normal(0.76, 0.06, n), 0, 1), "q21a_n": base,
                        "q21c": np.clip(rng.normal(0.62, 0.07, n), 0, 1), "q21c_n": base,
                        "q21d": s["value"].to_numpy(dtype="float64") / 100.0, "q21d_n": base})
    for t in _THEMES_2019:
        out[f"theme_{t}"] = np.clip(rng.normal(7.0, 0.6, n), 0, 10)
        out[f"theme_{t}_n"] = responses.astype(float)
    write_staff_survey_workbook(out, paths["staff_survey_workbook"], year=2019)
    return paths
