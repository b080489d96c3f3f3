"""NHS England's monthly delayed transfers of care (DTOC) local-authority workbooks, as published."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from cqc_research import load
from cqc_research.errors import DataFormatError
from cqc_research.io import detect_kind
from cqc_research.io.nhs import (
    IndicatorParseWarning,
    detect_indicator_kind,
    load_dtoc,
    load_staff_survey,
    parse_report_frame,
)
from cqc_research.synthetic.nhs_workbooks import write_dtoc_workbook

SAMPLES = ["April_11", "April_17", "Dec_19"]

# The measure of each column right of ``Name``, in sheet order, written by hand from the
# published sheets (not from the loader's rules), per sample.
REASONS_2011 = ["assessment", "public_funding", "nhs_non_acute", "residential_home",
                "nursing_home", "care_package", "equipment", "patient_choice", "disputes",
                "housing", "total"]
REASONS_LATER = REASONS_2011[:-1] + ["other", "total"]
BY_HAND = {
    "April_11": {"LA - by reason": REASONS_2011,
                 "LA - by Type of Care": ["acute", "non_acute", "total"],
                 "LA - by responsible org": ["nhs", "social_care", "both", "total"]},
    "April_17": {"LA - by reason": REASONS_LATER,
                 "LA - by type of care": ["acute", "non_acute", "total"],
                 "LA - by responsible org": ["nhs", "social_care", "both", "total"]},
}
BY_HAND["Dec_19"] = BY_HAND["April_17"]


def _raw_england(path, sheet, measures):
    """The England row of a sheet, read with calamine: {measure: value} for the days block."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)
    head = next(i for i, r in enumerate(rows) if "Name" in r)
    name_col = rows[head].index("Name")
    eng = next(r for r in rows[head + 1:] if r[name_col] == "England")
    values = eng[name_col + 1:name_col + 1 + len(measures)]
    return dict(zip(measures, values, strict=True)), rows, head, name_col


def _sample(shared_data, name):
    return shared_data / "real_formats" / "dtoc_monthly_xls" / f"{name}.xls"


# ---------------------------------------------------------------------------------------------
# real samples
@pytest.mark.realdata
@pytest.mark.parametrize("name", SAMPLES)
def test_councils_sum_to_the_england_row(shared_data, name):
    """Done-when: days summed over the areas equal the England row, in total and per reason."""
    path = _sample(shared_data, name)
    every, rep = load_dtoc(path, outside_england=True, with_report=True)
    councils = load_dtoc(path)
    checked = 0
    for sheet, measures in BY_HAND[name].items():
        england, rows, head, name_col = _raw_england(path, sheet, measures)
        # the rows of residents outside England, also read independently
        outside = [r for r in rows[head + 1:] if str(r[name_col]).startswith("Resident")]
        assert len(outside) == 3
        for m, expected in england.items():
            got = every.loc[every.measure == f"dtoc_days_{m}", "value"].sum()
            assert got == pytest.approx(expected), (sheet, m)
            col = name_col + 1 + measures.index(m)
            out_sum = sum(r[col] for r in outside if isinstance(r[col], float))
            got_councils = councils.loc[councils.measure == f"dtoc_days_{m}", "value"].sum()
            assert got_councils + out_sum == pytest.approx(expected), (sheet, m)
            checked += 1
    assert checked == len(REASONS_2011 if name == "April_11" else REASONS_LATER) + 7
    assert set(rep.totals) >= {f"dtoc_days_{m}" for m in REASONS_2011}
    assert all(abs(a - b) < 1e-6 for a, b in rep.totals.values())


@pytest.mark.realdata
@pytest.mark.parametrize("name", SAMPLES)
def test_england_row_counted_and_dropped(shared_data, name):
    path = _sample(shared_data, name)
    frame, rep = load_dtoc(path, with_report=True)
    assert rep.dropped["England row (the national total)"] == 1
    assert "E92000001" not in set(frame.org_code) and "England" not in set(frame.org_name)
    assert set(frame.org_level) == {"local_authority"}
    kept = load_dtoc(path, england=True)
    country = kept[kept.org_level == "country"]
    england, *_ = _raw_england(path, "LA - by reason", BY_HAND[name]["LA - by reason"])
    total = country.loc[country.measure == "dtoc_days_total", "value"]
    assert list(total) == [england["total"]] and set(country.org_code) == {"E92000001"}


@pytest.mark.realdata
def test_the_tidy_derivative_agrees_with_the_workbooks(shared_data):
    """The NHS-R tidy CSV was made from these files: the same councils' days, cell for cell."""
    wb = load_dtoc([_sample(shared_data, n) for n in ("April_11", "April_17")])
    csv = load_dtoc(shared_data / "dtoc_la_days_by_reason_2011_2019.csv")
    compared = 0
    for month in ("2011-04-01", "2017-04-01"):
        a = wb[wb.period_start == month].set_index(["org_code", "measure"])["value"]
        b = csv[csv.period_start == month].set_index(["org_code", "measure"])["value"]
        both = a.index.intersection(b.index)
        assert len(both) >= 1600
        assert np.array_equal(a.loc[both].to_numpy(), b.loc[both].to_numpy(), equal_nan=True)
        compared += len(both)
    assert compared > 3000


@pytest.mark.realdata
def test_layouts_codes_and_blocks(shared_data):
    frame, reports = load_dtoc(shared_data / "real_formats" / "dtoc_monthly_xls", with_report=True)
    assert [r.period[:7] for r in reports] == ["2011-04", "2017-04", "2019-12"]
    early = frame[frame.period_start == "2011-04-01"]
    later = frame[frame.period_start == "2019-12-01"]
    assert "716" in set(early.org_code)  # SHA, Code, Name: old codes
    assert "E06000015" in set(later.org_code)  # Region, ONS Geography, Code, Name: ONS codes
    assert not early.measure.str.startswith("dtoc_per_day").any()  # no per-day block in 2011
    assert "dtoc_days_other" not in set(early.measure)
    derby = later[later.org_code == "E06000015"].set_index("measure")
    # the per-day block ('Average Number of People Delayed per Day') = days / 31, as published
    assert derby.loc["dtoc_per_day_total", "value"] == pytest.approx(357 / 31)
    assert derby.loc["dtoc_per_day_total", "numerator"] == 357
    assert derby.loc["dtoc_per_day_total", "denominator"] == 31
    for m in ("acute", "non_acute", "nhs", "social_care", "both"):
        assert f"dtoc_days_{m}" in set(later.measure) and f"dtoc_per_day_{m}" in set(later.measure)
    beds = frame[(frame.period_start == "2017-04-01") & (frame.measure == "dtoc_per_day_nhs")]
    assert len(beds) == 151  # 'DTOC Beds' in 2017


@pytest.mark.realdata
def test_suppressed_cells_are_counted_never_zero(shared_data):
    path = _sample(shared_data, "April_11")
    frame, rep = load_dtoc(path, outside_england=True, with_report=True)
    scot = frame[frame.org_name == "Resident in Scotland"].set_index("measure")["value"]
    assert scot.loc["dtoc_days_assessment"] != scot.loc["dtoc_days_assessment"]  # NaN, not 0
    assert scot.loc["dtoc_days_total"] == 0
    cells = parse_report_frame(rep)
    assert cells["suppressed"].sum() == 15  # 10 reasons + 2 types + 3 responsible: '-' x 1 each


@pytest.mark.realdata
def test_load_and_cli_recognise_the_workbooks(shared_data, tmp_path, capsys):
    path = _sample(shared_data, "Dec_19")
    assert detect_indicator_kind(path) == "dtoc_workbook"
    assert detect_kind(path) == "indicators"
    frame = load(path)
    assert frame.attrs["kind"] == "dtoc" and len(frame)
    folder = load(shared_data / "real_formats" / "dtoc_monthly_xls")
    assert folder.period_start.nunique() == 3
    from cqc_research.cli import main

    assert main(["load", str(path), "--out", str(tmp_path / "dtoc.parquet"), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "dtoc_days_total: sum over organisations 148,101 matches the file's total 148,101" in out
    assert (tmp_path / "dtoc.parquet").is_file()


@pytest.mark.realdata
def test_wrong_loader_names_the_right_one(shared_data):
    staff = shared_data / "real_formats" / "staff_survey_xlsx" / \
        "ST19-Organisation-Data-2019-Only-v1f.xlsx"
    with pytest.raises(DataFormatError, match="load_staff_survey"):
        load_dtoc(staff)
    with pytest.raises(DataFormatError, match="load_dtoc"):
        load_staff_survey(_sample(shared_data, "April_17"))
    ae = shared_data / "real_formats" / "ae_by_provider_xls" / "April-2016-AE-by-provider-1Ez1q.xls"
    with pytest.raises(DataFormatError, match="load_ae_monthly") as exc:
        load_dtoc(ae)
    assert exc.value.sheet == "LA - by reason"


@pytest.mark.realdata
def test_truncated_xls_is_called_what_it_is(shared_data, tmp_path):
    cut = tmp_path / "April_17.xls"
    cut.write_bytes(_sample(shared_data, "April_17").read_bytes()[:30000])
    with pytest.raises(DataFormatError, match=r"truncated Excel 97 \(\.xls\)"):
        load_dtoc(cut)


# ---------------------------------------------------------------------------------------------
# synthetic workbooks (the same layouts, written by cqc_research.synthetic.nhs_workbooks)
def _month(layout="2017", month="2017-04-01", **overrides):
    rows = []
    for i, (code, old, name) in enumerate([("E06000015", "507", "Derby UA"),
                                           ("E10000007", "506", "Derbyshire"),
                                           ("E06000016", "509", "Leicester UA")]):
        r = {"org_code": old if layout == "2011" else code, "old_code": old, "org_name": name,
             "region": "East Midlands", "period": month, "assessment": 10.0 + i,
             "public_funding": 2.0, "nhs_non_acute": 5.0, "residential_home": 1.0,
             "nursing_home": 0.0, "care_package": 3.0, "equipment": 0.0, "patient_choice": 4.0,
             "disputes": np.nan if i == 1 else 1.0, "housing": 0.0, "other": 0.0}
        r["total"] = float(np.nansum([v for k, v in r.items() if k in {
            "assessment", "public_funding", "nhs_non_acute", "residential_home", "nursing_home",
            "care_package", "equipment", "patient_choice", "disputes", "housing", "other"}]))
        r.update(acute=r["total"] - 3, non_acute=3.0, nhs=r["total"] - 2, social_care=2.0, both=0.0)
        rows.append(r)
    frame = pd.DataFrame(rows)
    for k, v in overrides.items():
        frame[k] = v
    return frame


@pytest.mark.parametrize("layout", ["2011", "2017", "2019"])
def test_synthetic_round_trip(tmp_path, layout):
    frame = _month(layout)
    path = write_dtoc_workbook(frame, tmp_path / f"m{layout}.xlsx", layout=layout)
    got, rep = load_dtoc(path, with_report=True)
    wide = got.pivot(index="org_code", columns="measure", values="value")
    assert set(wide.index) == set(frame.org_code)
    for r in frame.itertuples(index=False):
        for m in ("assessment", "disputes", "total", "acute", "nhs", "social_care"):
            want = getattr(r, m)
            have = wide.loc[r.org_code, f"dtoc_days_{m}"]
            assert (np.isnan(want) and np.isnan(have)) or have == want, (r.org_code, m)
    assert ("dtoc_per_day_total" in wide) == (layout != "2011")
    key = "M H) DISPUTES" if layout == "2011" else "N H) Disputes"
    assert rep.parse_report[f"LA - by reason | {key}"]["suppressed"] == 1


def test_synthetic_dataset_carries_the_csv_numbers(synthetic_small):
    paths = synthetic_small.paths
    wb = load_dtoc(paths["dtoc_workbooks"])
    csv = load_dtoc(paths["dtoc"])
    assert wb.attrs["synthetic"]
    m = csv.merge(wb, on=["org_code", "period_start", "measure"], how="left", suffixes=("", "_wb"))
    assert len(m) == len(csv) and m["value_wb"].notna().sum() == m["value"].notna().sum()
    assert np.array_equal(m["value"].to_numpy(), m["value_wb"].to_numpy(), equal_nan=True)
    assert (m["org_name"] == m["org_name_wb"]).all()


def test_revised_month_keeps_the_later_file(tmp_path):
    first = _month()
    revised = _month(assessment=[50.0, 51.0, 52.0])
    revised["total"] = first["total"] + 40 + np.arange(3)
    folder = tmp_path / "dtoc"
    write_dtoc_workbook(first, folder / "LA-Type-B-April-2017.xlsx", published="8th June 2017")
    write_dtoc_workbook(revised, folder / "LA-Type-B-April-2017-revised.xlsx",
                        published="8th June 2017", revised="14th June 2018")
    frame, reports = load_dtoc(folder, with_report=True)
    ass = frame[frame.measure == "dtoc_days_assessment"].set_index("org_code")["value"]
    assert sorted(ass) == [50.0, 51.0, 52.0]
    assert len(reports) == 1 and reports[0].path.name == "LA-Type-B-April-2017-revised.xlsx"
    assert any("revised file" in n and "LA-Type-B-April-2017.xlsx" in n for n in reports[0].notes)
    # the order of the files does not matter
    frame2 = load_dtoc(sorted(folder.iterdir(), reverse=True))
    assert sorted(frame2[frame2.measure == "dtoc_days_assessment"]["value"]) == [50.0, 51.0, 52.0]


def test_months_in_a_list(tmp_path):
    a = write_dtoc_workbook(_month(), tmp_path / "a.xlsx")
    b = write_dtoc_workbook(_month(month="2019-05-01"), tmp_path / "b.xlsx", layout="2019")
    frame = load_dtoc([a, b])
    assert sorted(frame.period_start.dt.strftime("%Y-%m").unique()) == ["2017-04", "2019-05"]
    may = frame[(frame.period_start == "2019-05-01") & (frame.measure == "dtoc_per_day_total")]
    assert may["denominator"].eq(31).all()


def test_unparseable_cell_names_file_sheet_row_and_column(tmp_path):
    bad = _month()
    bad["equipment"] = bad["equipment"].astype(object)
    bad.loc[1, "equipment"] = "see note"
    path = write_dtoc_workbook(bad, tmp_path / "bad.xlsx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame, rep = load_dtoc(path, with_report=True)
    assert any(issubclass(w.category, IndicatorParseWarning) for w in caught)
    entry = rep.parse_report["LA - by reason | L F) Awaiting community equipment and adaptations"]
    assert entry["unparseable"] == 1 and entry["first_value"] == "see note"
    value = frame[(frame.org_name == "Derbyshire") & (frame.measure == "dtoc_days_equipment")]
    assert value["value"].isna().all()  # never 0
    with pytest.raises(DataFormatError) as exc:
        load_dtoc(path, errors="raise")
    err = exc.value
    assert err.sheet == "LA - by reason" and err.row == 17 and err.column.startswith("L ")
    assert "bad.xlsx" in str(err)


def test_missing_sheet_and_missing_header(tmp_path):
    from cqc_research.synthetic.nhs_workbooks import _write_xlsx

    no_reason = _write_xlsx(tmp_path / "no_reason.xlsx", {
        "England": [["x"]], "LA - by type of care": [["Code", "Name"]],
        "LA - by responsible org": [["Code", "Name"]]})
    with pytest.raises(DataFormatError, match="no 'LA - by reason' sheet") as exc:
        load_dtoc(no_reason)
    assert exc.value.sheet == "LA - by reason" and "LA - by type of care" in str(exc.value)
    no_header = _write_xlsx(tmp_path / "no_header.xlsx", {
        "LA - by reason": [["Title:", "x"], ["Period:", "April 2017"], ["a", "b"]],
        "LA - by type of care": [["Code", "Name"]]})
    with pytest.raises(DataFormatError, match="no header row") as exc:
        load_dtoc(no_header)
    assert exc.value.sheet == "LA - by reason"


def test_not_a_spreadsheet(tmp_path):
    fake = tmp_path / "April_17.xls"
    fake.write_text("Code,Name\n1,2\n")
    with pytest.raises(DataFormatError, match="text"):
        load_dtoc([fake])
    html = tmp_path / "page.xls"
    html.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(DataFormatError, match="HTML"):
        load_dtoc(html)


def test_the_tidy_csv_still_loads(tmp_path, synthetic_small):
    frame = load_dtoc(synthetic_small.paths["dtoc"])
    assert "dtoc_days_total" in set(frame.measure)
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(synthetic_small.paths["dtoc"], folder / "tidy.csv")
    assert len(load_dtoc(folder)) == len(frame)


def test_other_label_columns_and_a_wordier_period(tmp_path):
    """Months not in shared may add a label column (an area team) or word the period otherwise."""
    from cqc_research.synthetic.nhs_workbooks import _write_xlsx

    def sheet(values_head, rows):
        top = [["", "Title:", "Delayed Transfers"], ["", "Period:", "March 2014 (revised)"],
               ["", "Revised:", "14th June 2015"], []]
        head = ["", "Region", "Area Team", "ONS Code", "Code", "Name", *values_head]
        return top + [head] + rows

    reason = sheet(["A) Awaiting completion of assessment", "G) Patient or family choice",
                    "TOTAL DTOC"],
                   [["", "-", "-", "-", "-", "England", 3.0, 4.0, 7.0], [],
                    ["", "North", "Q45 Durham", "E06000047", "840", "County Durham", 3.0, 4.0, 7.0]])
    care = sheet(["Acute", "Non-Acute", "Total"],
                 [["", "-", "-", "-", "-", "England", 5.0, 2.0, 7.0], [],
                  ["", "North", "Q45 Durham", "E06000047", "840", "County Durham", 5.0, 2.0, 7.0]])
    path = _write_xlsx(tmp_path / "March_14.xlsx", {"LA - by reason": reason,
                                                    "LA - by Type of Care": care})
    frame, rep = load_dtoc(path, with_report=True)
    got = frame.set_index("measure")["value"]
    assert got["dtoc_days_total"] == 7 and got["dtoc_days_patient_choice"] == 4
    assert got["dtoc_days_acute"] == 5 and set(frame.org_code) == {"E06000047"}
    assert set(frame.period_start) == {pd.Timestamp("2014-03-01")}
    assert any(c.role == "ignored: a label column" for c in rep.columns)
    assert any("responsible" in n for n in rep.notes)  # the sheet this workbook lacks


@pytest.mark.realdata
@pytest.mark.parametrize("loader, sample, right", [
    ("load_ae_monthly", "dtoc_monthly_xls/April_17.xls", "load_dtoc"),
    ("load_ae_monthly", "staff_survey_xlsx/ST19-Organisation-Data-2019-Only-v1f.xlsx", "load_staff_survey"),
    ("load_latest_ratings", "dtoc_monthly_xls/Dec_19.xls", "load_dtoc"),
    ("load_latest_ratings", "ae_by_provider_xls/April-2017-AE-by-provider-revised-14.06.18-D44fd.xls",
     "load_ae_monthly"),
])
def test_a_workbook_given_to_the_wrong_loader_names_the_right_one(shared_data, loader, sample, right):
    from cqc_research.errors import DataFormatError
    from cqc_research.io import cqc_files, nhs

    fn = getattr(nhs, loader, None) or getattr(cqc_files, loader)
    with pytest.raises(DataFormatError, match=rf"this looks like .* \(use cqc_research\.io\.\S*{right}\)"):
        fn(shared_data / "real_formats" / sample)
