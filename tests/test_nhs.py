"""NHS indicator loaders and writers (cqc_research.io.nhs).

Expected values are worked out independently of the loaders: with the csv module on the real
files, or by hand from rows quoted in the comments.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io import nhs
from cqc_research.synthetic import nhs_formats as writers

GP_DIR = "nhs_payments_to_general_practice"


def _csv_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        return header, list(reader)


def _value(frame, org, measure, period=None):
    sel = frame[(frame.org_code == org) & (frame.measure == measure)]
    if period is not None:
        sel = sel[sel.period_start == pd.Timestamp(period)]
    assert len(sel) == 1, (org, measure, period, len(sel))
    return sel.iloc[0]


# =============================================================================================
# NHS Payments to General Practice, real files
@pytest.mark.realdata
def test_gp_payments_2018_19_ccg_list_size_matches_csv_module(shared_data):
    path = shared_data / GP_DIR / "nhs-payments-gp-2018-19.csv"
    header, rows = _csv_rows(path)
    i_ccg, i_code = header.index("CCG Code"), header.index("Practice Code")
    i_list = header.index("Number of Registered Patients (Last Known Figure)")
    expected = sum(float(r[i_list]) for r in rows if r[i_ccg] == "00K")
    codes = {r[i_code] for r in rows if r[i_ccg] == "00K"}
    assert len(codes) == 36  # grep -c '^Q74,[^,]*,00K,' nhs-payments-gp-2018-19.csv

    gp = nhs.load_gp_payments(path)
    got = gp[(gp.measure == "list_size") & gp.org_code.isin(codes)].value.sum()
    assert got == pytest.approx(expected, abs=1e-6)
    practices = nhs.load_gp_practices(path)
    assert practices.loc[practices.ccg_code == "00K", "list_size"].sum() == pytest.approx(expected)
    assert len(practices) == len(rows)
    assert gp.attrs["kind"] == "gp_payments" and len(gp.attrs["sha256"]) == 64
    assert gp.attrs["synthetic"] is False


@pytest.mark.realdata
def test_gp_payments_one_practice_by_hand(shared_data):
    gp = nhs.load_gp_payments(shared_data / GP_DIR / "nhs-payments-gp-2018-19.csv")
    # The published row for A81001: list 4095.25, weighted 4728.6, average per patient 323.17,
    # per weighted patient 279.89, Total QOF Payments 59173.56, total payments 1323474.4.
    qof = _value(gp, "A81001", "qof_payments_per_patient")
    assert qof.value == pytest.approx(59173.56 / 4095.25)
    assert (qof.numerator, qof.denominator) == (59173.56, 4095.25)
    ppp = _value(gp, "A81001", "payments_per_patient")
    assert ppp.value == 323.17 and ppp.numerator == 1323474.4
    assert _value(gp, "A81001", "payments_per_weighted_patient").value == 279.89
    assert _value(gp, "A81001", "weighted_list_size").value == 4728.6
    row = _value(gp, "A81001", "total_payments")
    assert row.value == 1323474.4
    assert row.period_start == pd.Timestamp("2018-04-01")
    assert row.period_end == pd.Timestamp("2019-03-31")
    assert row.org_level == "practice" and row.org_name == "DR S R WILLIAMS & PARTNERS"
    assert set(gp.measure) == set(nhs.GP_MEASURES)


@pytest.mark.realdata
def test_gp_payments_2014_15_bom_and_missing_practice_type(shared_data):
    path = shared_data / GP_DIR / "nhs-payments-gp-2014-15.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    header, rows = _csv_rows(path)
    i_list = header.index("Number of Registered Patients (Last Known Figure)")
    zero = sum(1 for r in rows if float(r[i_list]) == 0)
    assert zero == 36
    practices = nhs.load_gp_practices(path)
    assert "practice_code" in practices  # not '\ufeffNHS England ...' mangled
    assert "practice_type" not in practices and "rurality" not in practices
    assert practices.financial_year.iloc[0] == "2014-15"
    gp = nhs.load_gp_payments(path)
    ppp = gp[gp.measure == "payments_per_patient"]
    # the file prints 0.00 for practices with no registered patients: that is undefined, not 0
    assert ppp.value.isna().sum() == zero
    gp2, how = nhs.load_gp_payments(path, with_report=True)
    assert any(n.startswith(f"{zero} practice(s) with a list size of 0") for n in how.notes), how.notes
    assert how.period == "2014-15" and set(gp2["financial_year"]) == {"2014-15"}
    # N81632 (Broken Cross Surgery): 5707 patients, 62534 QOF, average 111.44
    assert _value(gp, "N81632", "qof_payments_per_patient").value == pytest.approx(62534 / 5707)
    assert _value(gp, "N81632", "payments_per_patient").value == 111.44


@pytest.mark.realdata
def test_gp_practices_attributes_by_csv_count(shared_data):
    path = shared_data / GP_DIR / "nhs-payments-gp-2018-19.csv"
    header, rows = _csv_rows(path)
    col = {h: i for i, h in enumerate(header)}
    p = nhs.load_gp_practices(path)
    n_disp = sum(r[col["Dispensing Practice"]] == "Yes" for r in rows)
    n_unknown = sum(r[col["Dispensing Practice"]] == "UNKNOWN" for r in rows)
    assert int(p.dispensing.sum()) == n_disp
    assert int(p.dispensing.isna().sum()) == n_unknown
    assert int((p.rurality == "Rural").sum()) == sum(r[col["Practice Rurality"]] == "Rural"
                                                     for r in rows)
    assert int(p.rurality.isna().sum()) == sum(r[col["Practice Rurality"]] == "MISSING"
                                               for r in rows)
    n_closed = sum(r[col["Practice Close Date"]].strip() != "" for r in rows)
    assert int(p.closed.sum()) == n_closed
    assert p.loc[p.practice_code == "A81001", "open_date"].iloc[0] == pd.Timestamp("1999-04-01")
    assert int((p.contract_type == "APMS").sum()) == sum(r[col["Contract Type"]] == "APMS"
                                                         for r in rows)


@pytest.mark.realdata
@pytest.mark.parametrize("year, other_layout", [("2014-15", "2022-23"), ("2018-19", "2014-15")])
def test_gp_payments_real_round_trip_across_layouts(shared_data, tmp_path, year, other_layout):
    src = shared_data / GP_DIR / f"nhs-payments-gp-{year}.csv"
    practices = nhs.load_gp_practices(src)
    original = nhs.load_gp_payments(src)
    for layout in (other_layout,):
        out = writers.write_gp_payments(practices, tmp_path / layout / src.name, layout=layout)
        again = nhs.load_gp_payments(out)
        pd.testing.assert_frame_equal(again.drop(columns="org_name"),
                                      original.drop(columns="org_name"))
    # written in the file's own layout, every line equals the published one except for the
    # trailing spaces of addresses, which the loader strips
    same = writers.write_gp_payments(practices, tmp_path / "same" / src.name, layout=year)
    a = src.read_bytes().decode("utf-8-sig").splitlines()
    b = same.read_bytes().decode("utf-8-sig").splitlines()
    assert len(a) == len(b) and a[0] == b[0]
    strip = [",".join(c.strip() for c in next(csv.reader([line]))) for line in a[1:]]
    stripped_b = [",".join(c.strip() for c in next(csv.reader([line]))) for line in b[1:]]
    assert strip == stripped_b
    assert src.read_bytes()[:3] == same.read_bytes()[:3]  # BOM where the year has one


# =============================================================================================
# NHS Payments to General Practice: header drift and bad input, on hand-made files
def _gp_frame():
    return pd.DataFrame({
        "practice_code": ["A10001", "A10002", "A10003"],
        "practice_name": ["One Surgery", "Two & Co", "Closed Practice"],
        "ccg_code": ["00K", "00K", "00M"], "pcn_code": ["U1", "U1", "U2"],
        "contract_type": ["GMS", "PMS", None], "dispensing": [True, False, pd.NA],
        "practice_type": ["GP practice"] * 3, "rurality": ["Urban", "Rural", None],
        "open_date": pd.to_datetime(["1999-04-01", None, "2001-01-01"]),
        "close_date": pd.to_datetime([None, None, "2022-09-30"]),
        "list_size": [1000.0, 2500.5, 0.0], "weighted_list_size": [1100.0, 2400.0, 0.0],
        "total_qof_payments": [12000.0, 30000.0, 0.0],
        "global_sum": [90000.0, 200000.0, 1000.0],
        "covid_immunisation": [5000.0, 0.0, 0.0],
        "total_payments": [150000.0, 300000.25, 1000.0],
    })


def test_gp_payments_header_drift_layout_2022_23(tmp_path):
    path = writers.write_gp_payments(_gp_frame(), tmp_path / "nhs-payments-gp-2022-23.csv")
    raw = path.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"
    header = raw.decode("utf-8-sig").splitlines()[0]
    assert "Practice type" in header and "Practice Type" not in header
    assert "PCN Name ," in header  # a trailing space, as the published files have
    assert "COVID Immunisation" in header
    gp = nhs.load_gp_payments(path)
    assert gp.period_start.iloc[0] == pd.Timestamp("2022-04-01")
    # hand-worked: 150000 / 1000 = 150; 12000 / 1000 = 12; 300000.25 / 2500.5 = 119.976...
    assert _value(gp, "A10001", "payments_per_patient").value == 150.0
    assert _value(gp, "A10001", "qof_payments_per_patient").value == 12.0
    assert _value(gp, "A10002", "payments_per_patient").value == round(300000.25 / 2500.5, 2)
    assert _value(gp, "A10002", "payments_per_weighted_patient").value == round(300000.25 / 2400, 2)
    # total_payments excludes COVID payments, and the components add up to it
    assert _value(gp, "A10001", "total_payments").value == 150000.0
    practices = nhs.load_gp_practices(path)
    comp = practices.set_index("practice_code")
    assert comp.loc["A10001", "covid_immunisation"] == 5000.0
    assert comp.loc["A10001", "other_payments"] == 150000 - 12000 - 90000
    assert comp.loc["A10001", "pcn_code"] == "U1" and comp.loc["A10001", "ccg_code"] == "00K"
    assert comp.loc["A10003", "closed"] and pd.isna(comp.loc["A10003", "contract_type"])
    assert comp.loc["A10001", "dispensing"] and not comp.loc["A10002", "dispensing"]
    assert pd.isna(comp.loc["A10003", "dispensing"])
    # no patients: the per-patient ratios are undefined, never 0
    assert np.isnan(_value(gp, "A10003", "payments_per_patient").value)
    assert np.isnan(_value(gp, "A10003", "qof_payments_per_patient").value)


def test_gp_payments_money_with_pounds_and_commas(tmp_path):
    path = writers.write_gp_payments(_gp_frame(), tmp_path / "nhs-payments-gp-2018-19.csv",
                                 layout="2018-19", money="pound")
    text = path.read_text(encoding="utf-8")
    assert '"£150,000.00"' in text and text[:3] != "\ufeff"
    gp, read = nhs.load_gp_payments(path, with_report=True)
    assert _value(gp, "A10002", "total_payments").value == 300000.25
    assert sum(e["unparseable"] for e in read.parse_report.values()) == 0 and "parse_report" not in gp.attrs


def test_gp_payments_non_numeric_cells_are_counted_never_zero(tmp_path):
    path = writers.write_gp_payments(_gp_frame(), tmp_path / "nhs-payments-gp-2018-19.csv",
                                 layout="2018-19")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    i_qof = header.index("Total QOF Payments")
    rows = [next(csv.reader([line])) for line in lines[1:]]
    rows[1][i_qof] = "see note"   # spreadsheet row 3
    rows[2][i_qof] = "tbc"        # spreadsheet row 4
    rows[0][i_qof] = "-"          # suppressed, not unparseable
    bad = tmp_path / "bad" / "nhs-payments-gp-2018-19.csv"
    bad.parent.mkdir()
    with open(bad, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    with pytest.warns(nhs.IndicatorParseWarning, match=r"Total QOF Payments.*2 cell.*row 3"):
        gp, read = nhs.load_gp_payments(bad, with_report=True)
    entry = read.parse_report["Total QOF Payments"]
    assert entry["unparseable"] == 2 and entry["first_row"] == 3
    assert entry["first_value"] == "see note" and entry["suppressed"] == 1
    qof = gp[gp.measure == "qof_payments_per_patient"].set_index("org_code").value
    assert qof.isna().all()  # NaN, never 0
    report = nhs.parse_report_frame(read).set_index("column")
    assert report.loc["Total QOF Payments", "unparseable"] == 2
    with pytest.raises(TypeError, match="with_report=True"):
        nhs.parse_report_frame(gp)  # the frame no longer carries it
    with pytest.raises(DataFormatError) as exc:
        nhs.load_gp_payments(bad, errors="raise")
    assert exc.value.row == 3 and exc.value.column == "Total QOF Payments"
    assert str(bad) in str(exc.value) and "see note" in str(exc.value)


def test_gp_payments_missing_required_column_names_it_and_the_file(tmp_path):
    frame = _gp_frame()
    path = writers.write_gp_payments(frame, tmp_path / "nhs-payments-gp-2018-19.csv",
                                 layout="2018-19")
    data = pd.read_csv(path, dtype=str, keep_default_na=False)
    data.drop(columns=["Number of Registered Patients (Last Known Figure)"]).to_csv(
        tmp_path / "nhs-payments-gp-2019-20.csv", index=False)
    with pytest.raises(DataFormatError) as exc:
        nhs.load_gp_payments(tmp_path / "nhs-payments-gp-2019-20.csv")
    msg = str(exc.value)
    assert "Number of Registered Patients (Last Known Figure)" in msg
    assert "nhs-payments-gp-2019-20.csv" in msg and "missing" in msg


def test_gp_payments_year_from_name_or_argument(tmp_path):
    path = writers.write_gp_payments(_gp_frame(), tmp_path / "payments.csv", layout="2018-19")
    with pytest.raises(DataFormatError, match="year='2018-19'"):
        nhs.load_gp_payments(path)
    gp = nhs.load_gp_payments(path, year="2020/21")
    assert gp.period_start.iloc[0] == pd.Timestamp("2020-04-01")
    assert gp.period_end.iloc[0] == pd.Timestamp("2021-03-31")
    assert nhs.financial_year(2019)[2] == "2019-20"
    with pytest.raises(ValueError):
        nhs.financial_year("2019-21")


def test_gp_payments_columns_found_by_name_not_position(tmp_path):
    """An unseen year: columns reordered, renamed case, extra spaces, a new text column."""
    frame = _gp_frame()
    path = writers.write_gp_payments(frame, tmp_path / "x.csv", layout="2018-19")
    data = pd.read_csv(path, dtype=str, keep_default_na=False)
    data = data[data.columns[::-1]]
    data.columns = [f"  {c.upper()}  " if "Patients" in c else c.lower() for c in data.columns]
    data.insert(3, "Practice Status", "Active")
    target = tmp_path / "NHS Payments to General Practice 2024_25.csv"
    data.to_csv(target, index=False, encoding="utf-8-sig")
    gp = nhs.load_gp_payments(target)
    assert gp.period_start.iloc[0] == pd.Timestamp("2024-04-01")
    assert _value(gp, "A10001", "list_size").value == 1000
    assert _value(gp, "A10002", "qof_payments_per_patient").value == pytest.approx(30000 / 2500.5)
    practices, practices_report = nhs.load_gp_practices(target, with_report=True)
    assert practices["practice_status"].tolist() == ["Active"] * 3
    assert not practices_report.parse_report.get("Practice Status")


def test_wrong_file_kind_is_named(tmp_path):
    ae = pd.DataFrame({"period": ["2019-03-01"], "org_code": ["RAA"], "type": ["1"],
                       "attendances": [100], "breaches": [5], "admissions": [20]})
    files = writers.write_ae_monthly(ae, tmp_path / "ae")
    with pytest.raises(DataFormatError) as exc:
        nhs.load_gp_payments(files[0], year="2018-19")
    msg = str(exc.value)
    assert "official monthly A&E CSV" in msg and "load_ae_monthly" in msg
    assert files[0].name in msg and "Practice Code" in msg
    with pytest.raises(DataFormatError, match="not a recognised NHS indicator file"):
        (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
        nhs.load_indicators(tmp_path / "notes.csv")


# =============================================================================================
# A&E
@pytest.mark.realdata
def test_ae_tidy_one_trust_month_by_hand(shared_data):
    ae = nhs.load_ae_tidy(shared_data / "ae_attendances_tidy_2016_2019.csv")
    # rows of the file for R1H, April 2016:
    #   2016-04-01,R1H,1,27396,5099,6424 / 2016-04-01,R1H,2,700,5,0 / ...,other,10317,143,0
    month = "2016-04-01"
    t1 = _value(ae, "R1H", "ae_4hr_performance_type1", month)
    assert t1.value == pytest.approx(100 * (27396 - 5099) / 27396)
    assert (t1.numerator, t1.denominator) == (27396 - 5099, 27396)
    allt = _value(ae, "R1H", "ae_4hr_performance_all", month)
    att, br = 27396 + 700 + 10317, 5099 + 5 + 143
    assert allt.value == pytest.approx(100 * (att - br) / att)
    assert _value(ae, "R1H", "emergency_admissions", month).value == 6424
    assert allt.period_end == pd.Timestamp("2016-04-30") and allt.org_level == "trust"


@pytest.mark.realdata
def test_ae_tidy_totals_match_csv_module(shared_data):
    path = shared_data / "ae_attendances_tidy_2016_2019.csv"
    _, rows = _csv_rows(path)
    assert len(rows) == 12765
    ae = nhs.load_ae_tidy(path)
    for t, label in (("1", "type1"), ("2", "type2"), ("other", "other")):
        expect = sum(int(r[3]) for r in rows if r[2] == t)
        assert ae[ae.measure == f"ae_attendances_{label}"].value.sum() == expect
        assert (ae.measure == f"ae_attendances_{label}").sum() == sum(r[2] == t for r in rows)
    months = {(r[0], r[1]) for r in rows}
    assert (ae.measure == "ae_4hr_performance_all").sum() == len(months)
    assert ae[ae.measure == "ae_breaches_all"].value.sum() == sum(int(r[4]) for r in rows)


@pytest.mark.realdata
def test_ae_real_tidy_through_official_monthly_files(shared_data, tmp_path):
    tidy_path = shared_data / "ae_attendances_tidy_2016_2019.csv"
    files = writers.write_ae_monthly(pd.read_csv(tidy_path), tmp_path / "ae")
    assert len(files) == 36 and files[0].name == "monthly-ae-april-2016.csv"
    official, reports = nhs.load_ae_monthly(tmp_path / "ae", with_report=True)
    assert sum(n for r in reports for k, n in r.dropped.items() if k.startswith(("total row", "England row"))) == 36
    tidy = nhs.load_ae_tidy(tidy_path)
    common = official[official.measure.isin(set(tidy.measure))].reset_index(drop=True)
    pd.testing.assert_frame_equal(common.drop(columns="org_name"), tidy.drop(columns="org_name"))


def _official_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(writers.AE_MONTHLY_HEADER)
        w.writerows(rows)
    return path


def test_ae_monthly_booked_total_row_and_empty_types(tmp_path):
    #          Period, code, parent, name, att T1, T2, other, booked T1, T2, other,
    #          over4 T1, T2, other, booked over4 T1, T2, other, dta 4-12, 12+, adm T1, T2, other, other adm
    total = ["TOTAL", "TOTAL", "TOTAL", "TOTAL"] + ["1"] * 18
    a = ["MSitAE-MARCH-2019", "RAA", "NHS ENGLAND LONDON ", "A Trust", "1000", "0", "300",
         "100", "0", "0", "150", "0", "3", "10", "0", "0", "40", "2", "250", "0", "0", "500"]
    b = ["MSitAE-MARCH-2019", "RBB", "NHS ENGLAND LONDON", "B Trust"] + ["0"] * 17 + ["75"]
    path = _official_csv(tmp_path / "March-2019.csv", [total, a, b])
    ae, (read,) = nhs.load_ae_monthly(path, with_report=True)
    assert sum(n for k, n in read.dropped.items() if k.startswith(("total row", "England row"))) == 1
    t1 = _value(ae, "RAA", "ae_4hr_performance_type1")
    assert t1.value == pytest.approx(100 * (1100 - 160) / 1100)  # booked appointments included
    allt = _value(ae, "RAA", "ae_4hr_performance_all")
    assert allt.value == pytest.approx(100 * (1400 - 163) / 1400)
    assert allt.period_start == pd.Timestamp("2019-03-01")
    assert allt.period_end == pd.Timestamp("2019-03-31")
    assert not ((ae.org_code == "RAA") & (ae.measure == "ae_attendances_type2")).any()
    assert _value(ae, "RAA", "ae_dta_waits_12h_plus").value == 2
    assert _value(ae, "RAA", "emergency_admissions").value == 250
    assert _value(ae, "RAA", "emergency_admissions_other_routes").value == 500
    assert _value(ae, "RAA", "ae_attendances_all").org_name == "A Trust"
    # a trust without an A&E department keeps only its other emergency admissions
    assert set(ae.loc[ae.org_code == "RBB", "measure"]) == {
        "emergency_admissions_other_routes", "ae_dta_waits_4_12h", "ae_dta_waits_12h_plus"}
    kept = nhs.load_ae_monthly(path, drop_empty_types=False)
    assert np.isnan(_value(kept, "RBB", "ae_4hr_performance_type1").value)


def test_ae_monthly_bad_cells_and_missing_columns(tmp_path):
    row = ["MSitAE-APRIL-2019", "RAA", "-", "A"] + ["10"] * 18
    row[4] = "1,000"   # a thousands comma is a number
    row[10] = "n/k"    # not a number: counted, NaN, never 0
    path = _official_csv(tmp_path / "m.csv", [row])
    with pytest.warns(nhs.IndicatorParseWarning):
        ae, reports = nhs.load_ae_monthly(path, with_report=True)
    assert _value(ae, "RAA", "ae_attendances_type1").value == 1010
    assert np.isnan(_value(ae, "RAA", "ae_4hr_performance_type1").value)
    assert np.isnan(_value(ae, "RAA", "ae_4hr_performance_all").value)
    entry = reports[0].parse_report["Attendances over 4hrs Type 1"]
    assert nhs.parse_report_frame(reports).set_index("column").loc["Attendances over 4hrs Type 1", "first_row"] == 2
    assert entry["unparseable"] == 1 and entry["first_row"] == 2
    data = pd.read_csv(path, dtype=str).drop(columns=["Attendances over 4hrs Type 2"])
    data.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataFormatError, match="Attendances over 4hrs Type 2"):
        nhs.load_ae_monthly(tmp_path / "short.csv")
    bad_month = _official_csv(tmp_path / "b.csv", [["MSitAE-SMARCH-2019", *row[1:]]])
    with pytest.raises(DataFormatError) as exc:
        nhs.load_ae_monthly(bad_month)
    assert exc.value.row == 2 and exc.value.column == "Period"


def test_ae_writer_round_trip_with_booked_and_names(tmp_path):
    tidy = pd.DataFrame({
        "period": ["2019-01-15", "2019-01-15", "2019-02-01"], "org_code": ["RAA", "RAA", "RAA"],
        "type": ["1", "other", "1"], "attendances": [900, 50, 880], "breaches": [90, 0, 70],
        "admissions": [200, 0, 210], "booked_attendances": [100, 0, 0],
        "booked_breaches": [5, 0, 0], "org_name": "A Trust", "parent_org": "NHS ENGLAND LONDON"})
    files = writers.write_ae_monthly(tidy, tmp_path / "ae")
    assert [f.name for f in files] == ["monthly-ae-january-2019.csv", "monthly-ae-february-2019.csv"]
    header, rows = _csv_rows(files[0])
    assert header == writers.AE_MONTHLY_HEADER and len(header) == 22
    assert rows[0][:4] == ["MSitAE-JANUARY-2019", "RAA", "NHS ENGLAND LONDON", "A Trust"]
    assert rows[0][4] == "800" and rows[0][7] == "100"  # unbooked and booked parts
    assert rows[-1][0] == "TOTAL"
    ae = nhs.load_ae_monthly(files)
    assert _value(ae, "RAA", "ae_attendances_type1", "2019-01-01").value == 900
    assert _value(ae, "RAA", "ae_4hr_performance_all", "2019-01-01").value == \
        pytest.approx(100 * (950 - 90) / 950)
    writers.write_ae_tidy(tidy.drop(columns=["booked_attendances", "booked_breaches"]),
                      tmp_path / "tidy.csv")
    again = nhs.load_ae_tidy(tmp_path / "tidy.csv")
    assert _value(again, "RAA", "ae_breaches_all", "2019-02-01").value == 70
    assert nhs.detect_indicator_kind(tmp_path / "ae") == "ae_monthly"
    assert nhs.detect_indicator_kind(tmp_path / "tidy.csv") == "ae_tidy"


_PLANTED = pd.DataFrame({
    "period": ["2016-05-01"] * 4, "org_code": ["RAA", "RAA", "RBB", "RBB"],
    "type": ["1", "other", "1", "2"], "attendances": [1000, 300, 500, 50],
    "breaches": [100, 3, 20, 1], "admissions": [200, 0, 90, 5]})


@pytest.mark.parametrize("layout", ["csv-2018", "csv-2020", "csv-2020-booked", "workbook-2015",
                                    "workbook-2017"])
def test_ae_every_written_layout_reads_back_the_planted_counts(tmp_path, layout):
    if layout.startswith("workbook"):
        files = [writers.write_ae_by_provider(_PLANTED, tmp_path / "m.xlsx", layout=layout)]
    else:
        files = writers.write_ae_monthly(_PLANTED, tmp_path / "ae", layout=layout)
    ae, reports = nhs.load_ae_monthly(files, with_report=True)
    assert reports[0].layout == layout
    # planted: RAA type 1 1000 attendances, 100 over 4 hours; RBB types 1 and 2
    assert _value(ae, "RAA", "ae_attendances_type1").value == 1000
    assert _value(ae, "RAA", "ae_attendances_all").value == 1300
    assert _value(ae, "RBB", "ae_breaches_all").value == 21
    assert _value(ae, "RBB", "emergency_admissions").value == 95
    assert _value(ae, "RAA", "ae_4hr_performance_all").value == pytest.approx(100 * (1300 - 103) / 1300)
    assert set(ae.period_start) == {pd.Timestamp("2016-05-01")}
    assert reports[0].dropped.get("total row (TOTAL)", 0) + reports[0].dropped.get(
        "England row (the national total)", 0) == 1
    assert all(abs(a - b) < 1e-9 for a, b in reports[0].totals.values())


def test_ae_header_drift_bom_spaces_case_and_total_without_period(tmp_path):
    # columns renamed and reordered as in a year nobody here has seen; a byte-order mark;
    # trailing spaces; a lower-case period; the total row marked 'Total' in Org name only
    header = ["Org Code ", "Period", "Org name", "Parent Org",
              "Attendances over 4 hours Type 1", "A&E attendances Type 1",
              "A&E attendances Type 2", "Attendances over 4 hours Type 2",
              "A&E attendances Other A&E Department", "Attendances over 4 hours Other Department",
              "Emergency admissions via A&E - Type 1"]
    rows = [["RAA ", "MSitAE-april-2019 ", "A Trust ", "NHS ENGLAND, LONDON ", "10", "100", "0",
             "0", "40", "N/A", "30"],
            ["", "", "Total", "", "10", "100", "0", "0", "40", "", "30"]]
    path = tmp_path / "drift.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    ae, reports = nhs.load_ae_monthly(path, with_report=True)
    assert _value(ae, "RAA", "ae_attendances_all").value == 140
    assert np.isnan(_value(ae, "RAA", "ae_breaches_other").value)  # N/A is missing, never 0
    assert _value(ae, "RAA", "ae_breaches_type1").value == 10
    assert _value(ae, "RAA", "ae_attendances_all").period_start == pd.Timestamp("2019-04-01")
    assert reports[0].dropped == {"total row (TOTAL)": 1}
    roles = {c.source: c for c in reports[0].columns}
    assert roles["Attendances over 4 hours Other Department"].missing == {"N/A": 1}
    assert roles["Attendances over 4 hours Type 1"].role == "attendances over 4 hours, type1"


def test_ae_unmappable_header_lists_expected_and_found(tmp_path):
    header = list(writers.AE_MONTHLY_HEADER)
    header[5] = "Mystery count"
    path = tmp_path / "odd.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, ["MSitAE-APRIL-2019", "RAA", "-", "A"] + ["1"] * 18])
    with pytest.raises(DataFormatError) as exc:
        nhs.load_ae_monthly(path)
    msg = str(exc.value)
    assert "'Mystery count'" in msg and "expected" in msg and "Columns found" in msg
    assert "A&E attendances Type 1" in msg


def test_ae_duplicate_month_is_an_error(tmp_path):
    row = ["MSitAE-APRIL-2019", "RAA", "-", "A"] + ["10"] * 18
    a = _official_csv(tmp_path / "a.csv", [row])
    b = _official_csv(tmp_path / "b.csv", [row])
    with pytest.raises(DataFormatError, match="RAA appears more than once"):
        nhs.load_ae_monthly([a, b])


# =============================================================================================
# SHMI and staff survey
def test_shmi_published_columns_banding_and_suppression(tmp_path):
    path = tmp_path / "shmi.csv"
    path.write_text(
        "TIME_PERIOD,PUBLICATION_MONTH,PROVIDER_CODE,PROVIDER_NAME,SHMI_VALUE,SHMI_BANDING,"
        "OD_LL,OD_UL,OBSERVED,EXPECTED,SPELLS\n"
        'APR22_MAR23,JUL_23,RCF,"AIREDALE NHS FT",1.2500,1,0.85,1.18,1000,800,40000\n'
        "APR22_MAR23,JUL_23,RXX,Trust X,0.9500,As expected,0.85,1.18,950,1000,52000\n"
        "APR22_MAR23,JUL_23,RZZ,Trust Z,*,**,0.85,1.18,*,*,900\n")
    shmi, read = nhs.load_shmi(path, with_report=True)
    v = _value(shmi, "RCF", "shmi")
    assert v.value == 1.25 and (v.numerator, v.denominator) == (1000, 800)
    assert v.period_start == pd.Timestamp("2022-04-01")
    assert v.period_end == pd.Timestamp("2023-03-31")
    assert _value(shmi, "RCF", "shmi_banding").value == 1
    assert _value(shmi, "RXX", "shmi_banding").value == 2
    assert np.isnan(_value(shmi, "RZZ", "shmi").value)
    assert np.isnan(_value(shmi, "RZZ", "shmi_banding").value)
    assert read.parse_report["SHMI_VALUE"]["suppressed"] == 1
    assert read.parse_report["SHMI_BANDING"]["suppressed"] == 1
    assert _value(shmi, "RXX", "shmi_spells").value == 52000
    assert nhs.detect_indicator_kind(path) == "shmi"


def test_shmi_period_from_name_or_argument(tmp_path):
    body = "PROVIDER_CODE,SHMI_VALUE,OBSERVED,EXPECTED\nRAA,1.01,101,100\n"
    (tmp_path / "SHMI data, Jan25-Dec25.csv").write_text(body)
    s = nhs.load_shmi(tmp_path / "SHMI data, Jan25-Dec25.csv")
    assert s.period_start.iloc[0] == pd.Timestamp("2025-01-01")
    assert s.period_end.iloc[0] == pd.Timestamp("2025-12-31")
    (tmp_path / "shmi.csv").write_text(body)
    with pytest.raises(DataFormatError, match="TIME_PERIOD"):
        nhs.load_shmi(tmp_path / "shmi.csv")
    s = nhs.load_shmi(tmp_path / "shmi.csv", period=("2021-10", "2022-09"))
    assert s.period_end.iloc[0] == pd.Timestamp("2022-09-30")


def test_shmi_writer_round_trip_and_derived_banding(tmp_path):
    frame = pd.DataFrame({"org_code": ["RAA", "RBB", "RCC"], "org_name": ["A", "B", "C"],
                          "period_start": "2022-04-01", "period_end": "2023-03-31",
                          "observed": [1200, 800, 50], "expected": [1000.0, 850.0, 60.0],
                          "spells": [50000, 40000, 3000]})
    path = writers.write_shmi(frame, tmp_path / "shmi.csv")
    header, rows = _csv_rows(path)
    assert header[:3] == ["PROVIDER_CODE", "PROVIDER_NAME", "TIME_PERIOD"]
    assert rows[0][2] == "APR22_MAR23"
    s = nhs.load_shmi(path)
    # 1200/1000 = 1.2 > 1 + 1.96/sqrt(1000) = 1.062: higher than expected (band 1)
    assert _value(s, "RAA", "shmi").value == 1.2
    assert _value(s, "RAA", "shmi_banding").value == 1
    # 800/850 = 0.941 > 1 - 1.96/sqrt(850) = 0.933: as expected (band 2)
    assert _value(s, "RBB", "shmi_banding").value == 2
    assert _value(s, "RCC", "shmi_expected_deaths").value == 60


def test_staff_survey_measures_from_question_text(tmp_path):
    path = tmp_path / "staff.csv"
    text = nhs.STAFF_SURVEY_QUESTIONS["staff_recommend_care"]
    path.write_text(
        "Trust code,Trust name,Year,Question,Question text,Base,Percent positive\n"
        f'RAA,Trust A,2019,Q18d,"{text}",1200,71.5\n'
        'RAA,Trust A,2019,Q4a,"I am satisfied with the recognition I get",1180,55\n'
        f'RBB,Trust B,2019,Q18d,"{text}",900,-\n')
    s, read = nhs.load_staff_survey(path, with_report=True)
    v = _value(s, "RAA", "staff_recommend_care")
    assert v.value == 71.5 and v.denominator == 1200
    assert v.numerator == pytest.approx(0.715 * 1200)
    assert v.period_start == pd.Timestamp("2019-09-01")
    assert v.period_end == pd.Timestamp("2019-12-31")
    assert _value(s, "RAA", "staff_survey_q4a").value == 55
    assert np.isnan(_value(s, "RBB", "staff_recommend_care").value)
    assert read.parse_report["Percent positive"]["suppressed"] == 1


def test_staff_survey_writer_round_trip(tmp_path):
    frame = pd.DataFrame({"org_code": ["RAA", "RAA", "RBB"], "year": [2021, 2021, 2021],
                          "measure": ["staff_recommend_care", "staff_recommend_work",
                                      "staff_recommend_care"],
                          "value": [71.2, 60.0, 80.4], "responses": [1200, 1200, 900]})
    path = writers.write_staff_survey(frame, tmp_path / "staff_survey.csv")
    assert nhs.detect_indicator_kind(path) == "staff_survey"
    s = nhs.load_indicators(path)
    got = s.set_index(["org_code", "measure"]).value
    assert got[("RAA", "staff_recommend_care")] == 71.2
    assert got[("RAA", "staff_recommend_work")] == 60.0
    assert got[("RBB", "staff_recommend_care")] == 80.4


# =============================================================================================
# delayed transfers of care
@pytest.mark.realdata
def test_dtoc_suppressed_cells_counted_by_csv_module(shared_data):
    path = shared_data / "dtoc_la_days_by_reason_2011_2019.csv"
    header, rows = _csv_rows(path)
    numeric = header[2:-1]
    las = [r for r in rows if r[1] != "England"]
    suppressed = {h: sum(r[2 + i] == "-" for r in las) for i, h in enumerate(numeric)}
    not_collected = {h: sum(r[2 + i] == "NA" for r in las) for i, h in enumerate(numeric)}
    assert sum(suppressed.values()) == 11   # one LA-month (Poole, April 2019) with 11 "-"
    assert len(rows) - len(las) == 105      # one England row per month
    dtoc, read = nhs.load_dtoc(path, with_report=True)
    report = read.parse_report
    assert {h: report[h]["suppressed"] for h in numeric} == suppressed
    assert {h: report[h]["missing"] for h in numeric} == not_collected
    assert read.dropped == {"England": 105}
    assert "E92000001" not in set(dtoc.org_code)
    poole = dtoc[(dtoc.org_code == "E06000029") & (dtoc.period_start == "2019-04-01")]
    reasons = poole[poole.measure != "dtoc_days_total"]
    assert len(reasons) == 11 and reasons.value.isna().all()  # suppressed: NaN, never 0
    assert poole.loc[poole.measure == "dtoc_days_total", "value"].item() == 0
    # an LA under its old and new codes keeps both codes and its name
    bd = dtoc[dtoc.org_name == "Barking & Dagenham"]
    assert set(bd.org_code) == {"716", "E09000002"}
    # total delayed days for Derby, April 2019, from the file: 380
    assert _value(dtoc, "E06000015", "dtoc_days_total", "2019-04-01").value == 380
    expect = sum(int(r[13]) for r in las if r[14] == "April 2019")
    got = dtoc[(dtoc.measure == "dtoc_days_total") & (dtoc.period_start == "2019-04-01")]
    assert got.value.sum() == expect


@pytest.mark.realdata
def test_dtoc_england_rows_kept_when_asked(shared_data):
    dtoc = nhs.load_dtoc(shared_data / "dtoc_la_days_by_reason_2011_2019.csv", england=True)
    eng = dtoc[dtoc.org_code == nhs.ENGLAND_CODE]
    assert set(eng.org_level) == {"country"}
    assert _value(dtoc, nhs.ENGLAND_CODE, "dtoc_days_total", "2019-04-01").value == 130773


def test_dtoc_writer_layout_and_round_trip(tmp_path):
    frame = pd.DataFrame({"org_code": ["E06000001", "E06000002", "E06000001"],
                          "org_name": ["Hartlepool", "Middlesbrough", "Hartlepool"],
                          "period": pd.to_datetime(["2019-04-01", "2019-04-01", "2019-05-01"]),
                          "total": [100.0, 250.0, 90.0], "disputes": [3.0, np.nan, 0.0],
                          "care_package": [40.0, 100.0, 45.0]})
    path = writers.write_dtoc(frame, tmp_path / "dtoc.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith('"Code","Name","Awaiting completion of assessment"')
    assert lines[1].startswith('"-","England",NA') and lines[1].endswith('"April 2019"')
    assert '"E06000002","Middlesbrough",NA' in lines[3] and '"-"' in lines[3]
    d, read = nhs.load_dtoc(path, with_report=True)
    assert _value(d, "E06000001", "dtoc_days_disputes", "2019-04-01").value == 3
    assert np.isnan(_value(d, "E06000002", "dtoc_days_disputes", "2019-04-01").value)
    assert _value(d, "E06000001", "dtoc_days_total", "2019-05-01").value == 90
    report = read.parse_report
    assert report["Disputes"]["suppressed"] == 1
    assert report["Awaiting public funding"]["missing"] == 3
    assert read.dropped == {"England": 2}
    assert nhs.detect_indicator_kind(path) == "dtoc"


# =============================================================================================
# deprivation, population, tidy CSVs, code lookups
def test_imd_layouts_and_level(tmp_path):
    la = pd.DataFrame({"org_code": ["E06000001", "E06000002", "E06000003"],
                       "org_name": ["A", "B", "C"], "imd_score": [35.037, 20.5, 28.0]})
    path = writers.write_imd(la, tmp_path / "imd_la.csv")
    header, rows = _csv_rows(path)
    assert header[0] == "Local Authority District code (2019)"
    imd = nhs.load_imd(path)
    assert set(imd.org_level) == {"local_authority"}
    assert nhs.load_imd(path, with_report=True)[1].period == "IMD 2019"
    assert _value(imd, "E06000001", "imd_score").value == 35.037
    assert _value(imd, "E06000001", "imd_rank").value == 1  # most deprived
    assert _value(imd, "E06000002", "imd_rank").value == 3
    assert imd.period_start.isna().all()  # time-invariant
    pr = pd.DataFrame({"org_code": ["A10001", "B20002"], "imd_score": [12.5, np.nan]})
    p, read = nhs.load_imd(writers.write_imd(pr, tmp_path / "imd_practice.csv", level="practice"), with_report=True)
    assert set(p.org_level) == {"practice"}
    assert read.parse_report["IMD 2019 score"]["missing"] == 1
    (tmp_path / "fingertips.csv").write_text("Area Code,Area Name,Value\nA10001,X,33.1\n")
    f = nhs.load_imd(tmp_path / "fingertips.csv", level="practice")
    assert _value(f, "A10001", "imd_score").value == 33.1


def test_population_simple_and_single_year_of_age(tmp_path):
    pop = pd.DataFrame({"org_code": ["E06000001"], "org_name": ["Hartlepool"], "year": [2019],
                        "population_65plus": [18000]})
    p = nhs.load_population(writers.write_population(pop, tmp_path / "la_population_65plus.csv"))
    v = _value(p, "E06000001", "population_65plus")
    assert v.value == 18000 and v.period_start == pd.Timestamp("2019-01-01")
    ages = list(range(0, 90)) + ["90+"]
    head = "Code,Name,Geography,All ages," + ",".join(str(a) for a in ages)
    la = [10] * 65 + [3] * 25 + [7]       # ages 65..89 -> 25 x 3, plus 7 aged 90+
    eng = [1000] * 91
    body = (f"E06000001,Hartlepool,Unitary Authority,{sum(la)}," + ",".join(map(str, la)) + "\n"
            f"E92000001,England,Country,{sum(eng)}," + ",".join(map(str, eng)) + "\n")
    (tmp_path / "ukmidyearestimates-mid-2018.csv").write_text(head + "\n" + body)
    p, read = nhs.load_population(tmp_path / "ukmidyearestimates-mid-2018.csv", with_report=True)
    assert _value(p, "E06000001", "population_65plus").value == 25 * 3 + 7
    assert p.period_start.iloc[0] == pd.Timestamp("2018-01-01")
    assert read.dropped["England, regions and countries"] == 1


def test_tidy_indicator_period_grammar(tmp_path):
    path = tmp_path / "my_indicator.csv"
    path.write_text(
        "org_code,period,measure,value,numerator,denominator\n"
        "RAA,2019,beds_occupied,0.91,910,1000\n"
        "RAA,2019-20,beds_occupied,0.93,,\n"
        "E06000001,2019-Q2,x,1,,\n"
        "A10001,2019-04,y,\"1,234\",,\n"
        "RAA01,2019-04-01,z,5,,\n"
        "RAA,2019-04-01/2019-06-30,w,6,,\n")
    t = nhs.load_tidy_indicator(path)
    got = t.set_index("measure")
    assert got.loc["x", "period_start"] == pd.Timestamp("2019-04-01")
    assert got.loc["x", "period_end"] == pd.Timestamp("2019-06-30")
    assert got.loc["x", "org_level"] == "local_authority"
    assert got.loc["y", "period_end"] == pd.Timestamp("2019-04-30") and got.loc["y", "value"] == 1234
    assert got.loc["y", "org_level"] == "practice"
    assert got.loc["z", "org_level"] == "site"
    assert got.loc["z", "period_start"] == got.loc["z", "period_end"]
    assert got.loc["w", "period_end"] == pd.Timestamp("2019-06-30")
    beds = t[t.measure == "beds_occupied"].set_index("period_start")
    assert beds.loc[pd.Timestamp("2019-01-01"), "numerator"] == 910
    assert beds.loc[pd.Timestamp("2019-04-01"), "period_end"] == pd.Timestamp("2020-03-31")
    assert nhs.detect_indicator_kind(path) == "tidy"


def test_tidy_indicator_errors_name_row_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("org_code,period,measure,value\nRAA,2019,m,1\nRAA,last year,m,2\n")
    with pytest.raises(DataFormatError) as exc:
        nhs.load_tidy_indicator(path)
    assert exc.value.row == 3 and exc.value.column == "period"
    path.write_text("org_code,period,measure,value\nXYZ123,2019,m,1\n")
    with pytest.raises(DataFormatError, match="org_level"):
        nhs.load_tidy_indicator(path)
    assert nhs.load_tidy_indicator(path, org_level="trust").org_level.iloc[0] == "trust"
    path.write_text("org_code,period,value\nRAA,2019,1\n")
    with pytest.raises(DataFormatError, match="'measure'"):
        nhs.load_tidy_indicator(path)


def test_tidy_indicator_writer_round_trip(tmp_path):
    shmi = pd.DataFrame({"org_code": ["RAA"], "period_start": "2022-04-01",
                         "period_end": "2023-03-31", "observed": [101], "expected": [100.0]})
    original = nhs.load_shmi(writers.write_shmi(shmi, tmp_path / "shmi.csv"))
    again = nhs.load_tidy_indicator(writers.write_tidy_indicator(original, tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(again, original, check_dtype=True)


def test_la_codes_round_trip(tmp_path):
    lookup = pd.DataFrame({"old_code": ["716", "00kb"], "new_code": ["E09000002", "E06000055"],
                           "name": ["Barking and Dagenham", "Bedford"]})
    path = writers.write_la_codes(lookup, tmp_path / "la_codes.csv")
    got = nhs.load_la_codes(path)
    assert got.old_code.tolist() == ["716", "00KB"]
    assert nhs.detect_indicator_kind(path) == "la_codes"


def test_synthetic_marker_is_recorded(tmp_path):
    (tmp_path / "SYNTHETIC").write_text("synthetic")
    frame = pd.DataFrame({"org_code": ["E06000001"], "org_name": ["A"], "year": [2020],
                          "population_65plus": [100]})
    p = nhs.load_population(writers.write_population(frame, tmp_path / "sub" / "pop.csv"))
    assert p.attrs["synthetic"] is True


def test_writers_reject_frames_without_required_columns(tmp_path):
    with pytest.raises(ValueError, match="total_payments"):
        writers.write_gp_payments(pd.DataFrame({"practice_code": ["A1"], "list_size": [1]}),
                              tmp_path / "x.csv")
    with pytest.raises(ValueError, match="layout"):
        writers.write_gp_payments(_gp_frame(), tmp_path / "x.csv", layout="2030-31")
    with pytest.raises(ValueError, match="breaches"):
        writers.write_ae_monthly(pd.DataFrame({"period": ["2019-01-01"], "org_code": ["R"],
                                           "type": ["1"], "attendances": [1]}), tmp_path)


# =============================================================================================
# the synthetic dataset: every file the generator writes loads
def _synthetic_path(ds, key):
    """The generator writes every indicator file: a missing one fails, it does not skip."""
    path = ds.paths[key]
    if isinstance(path, list):
        assert path and all(Path(p).is_file() for p in path), (key, path)
    else:
        assert Path(path).exists(), (key, path)
    return path


def test_synthetic_gp_payments_load(synthetic_small):
    files = _synthetic_path(synthetic_small, "gp_payments")
    with warnings.catch_warnings():
        warnings.simplefilter("error", nhs.IndicatorParseWarning)
        frames = [nhs.load_gp_payments(f) for f in files]
    for f, gp in zip(files, frames, strict=True):
        assert gp.attrs["synthetic"] is True
        assert set(nhs.GP_MEASURES) <= set(gp.measure)
        header, rows = _csv_rows(f)
        i = header.index("Number of Registered Patients (Last Known Figure)")
        assert gp[gp.measure == "list_size"].value.sum() == pytest.approx(
            sum(float(r[i]) for r in rows))
    closed = set(synthetic_small.truth["linkage"]["closed_practices"])
    practices = nhs.load_gp_practices(files[-1])
    assert closed <= set(practices.loc[practices.closed, "practice_code"])


def test_synthetic_ae_shmi_staff_dtoc_population_imd_load(synthetic_small):
    ae, reports = nhs.load_ae_monthly(_synthetic_path(synthetic_small, "ae_folder"), with_report=True)
    perf = ae[ae.measure == "ae_4hr_performance_all"].value
    assert perf.between(0, 100).all() and sum(n for r in reports for k, n in r.dropped.items()
                                                 if k.startswith(("total row", "England row"))) > 0
    merged = synthetic_small.truth["linkage"]["merged_trusts"][0]
    date = pd.Timestamp(merged["date"])
    for old in merged["old"]:
        assert ae.loc[ae.org_code == old, "period_start"].max() < date
    assert ae.loc[ae.org_code == merged["new"], "period_start"].min() >= date
    for key in ("shmi", "staff_survey", "dtoc", "population", "imd_la", "imd_practice"):
        frame = nhs.load_indicators(_synthetic_path(synthetic_small, key))
        assert len(frame) and frame.attrs["synthetic"] is True, key
        assert nhs.detect_indicator_kind(synthetic_small.paths[key]) == frame.attrs["kind"]


def test_tidy_table_schema_everywhere(tmp_path):
    frame = nhs.load_shmi(writers.write_shmi(pd.DataFrame({
        "org_code": ["RAA"], "period_start": "2022-04-01", "period_end": "2023-03-31",
        "observed": [10], "expected": [9.5]}), tmp_path / "s.csv"))
    assert list(frame.columns) == nhs.INDICATOR_COLUMNS
    assert str(frame.period_start.dtype).startswith("datetime64")
    assert frame.value.dtype == "float64"
    assert math.isclose(frame.loc[frame.measure == "shmi", "value"].item(), round(10 / 9.5, 4))


# =============================================================================================
# The registry of file kinds (io._kinds): one place for each kind's label, rule and loader
def test_every_indicator_kind_is_registered_with_a_label_and_a_public_loader():
    from cqc_research.io import _kinds

    names = [k.name for k in _kinds.kinds("indicator")]
    assert set(names) == {
        "gp_payments", "ae_monthly", "ae_tidy", "shmi", "staff_survey", "dtoc", "imd",
        "population", "la_codes", "tidy", "qof_prevalence", "qof_achievement", "qof_geography",
        "fingertips", "qof_indicators", "gpps", "fft", "dtoc_workbook", "staff_survey_workbook"}
    for kind in _kinds.kinds("indicator"):
        assert kind.label.startswith(("a ", "an ")), kind
        assert getattr(nhs, kind.loader_name) is kind.loader, kind  # the name messages give
        assert kind.columns is not None or kind.sniff is not None, kind
    assert {k.name for k in _kinds.kinds("indicator") if k.folder} == {
        "ae_monthly", "dtoc_workbook", "fft"}
    # the lookup by kind that the notebook input helpers use
    from cqc_research.io.cqc_files import load_latest_ratings

    assert _kinds.loader_for("latest_ratings") is load_latest_ratings
    assert _kinds.loader_for("indicators") is nhs.load_indicators
    assert _kinds.loader_for("dtoc") is nhs.load_dtoc
    assert _kinds.loader_for("dtoc_workbook") is nhs.load_dtoc
    assert _kinds.loader_for("population") is nhs.load_population
    assert _kinds.loader_for("la_codes") is nhs.load_la_codes
    with pytest.raises(KeyError, match="unknown file kind 'ratingz'"):
        _kinds.loader_for("ratingz")
    assert [k.name for k in _kinds.kinds("file")] == [
        "api_folder", "api_record", "indicators", "latest_ratings", "care_directory",
        "active_locations", "la_assessments"]


def test_the_registry_decides_kinds_in_rank_order(tmp_path, monkeypatch):
    """A header that two rules match goes to the lower rank; a kind registered ahead wins,
    and its label and loader reach the messages (the check can fail)."""
    from cqc_research.io import _kinds

    both = ["Org Code", "Period", "Measure", "Value", "Type", "Attendances", "Breaches"]
    assert nhs.kind_from_columns(both) == "tidy"  # tidy (40) before ae_tidy (50)

    def load_planted(path, **kwargs):
        return "planted"

    planted = _kinds.Kind("planted", "a planted test CSV", load_planted, rank=0,
                          columns=lambda n, joined, raw: "planted" in n)
    monkeypatch.setitem(_kinds._REGISTRY, "planted", planted)
    path = tmp_path / "p.csv"
    path.write_text("planted,org code,period,measure,value\n1,A,2020,m,1\n")
    assert nhs.detect_indicator_kind(path) == "planted"
    assert nhs.load_indicators(path) == "planted"
    with pytest.raises(DataFormatError, match=r"this looks like a planted test CSV \(use load_planted\)"):
        nhs.load_shmi(path)
    monkeypatch.delitem(_kinds._REGISTRY, "planted")
    assert nhs.detect_indicator_kind(path) == "tidy"
