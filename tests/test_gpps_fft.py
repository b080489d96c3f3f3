"""GP Patient Survey and Friends and Family Test: every modelled layout, bad input, synthetic files, the planted gap.

No real file of either is in ``../shared``: the samples here are written by hand in each layout
as the publishers document it, and the expected values are read off the cells written, not
through the loader. The planted survey signal is checked with an independent Welch interval
(statsmodels) on the raw CSV joined to the ratings file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io import detect_kind, load
from cqc_research.io.nhs import (
    detect_indicator_kind,
    kind_from_columns,
    load_fft,
    load_gp_payments,
    load_gpps,
    load_indicators,
    parse_report_frame,
)


def _csv(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def _value(frame, code, measure, col="value"):
    row = frame[(frame["org_code"] == code) & (frame["measure"] == measure)]
    assert len(row) == 1, (code, measure, len(row))
    return row[col].iloc[0]


# ---------------------------------------------------------------------------------------------
# GP Patient Survey layouts
def test_gpps_2018_layout_shares_bases_counts_and_suppression(tmp_path):
    f = _csv(tmp_path / "GPPS_2019_Practice_data_(weighted)_(csv)_PUBLIC.csv",
             "\ufeffPractice_Code,Practice_Name,CCG_Code,CCG_Name,distributed,received,resprate,"
             "Q3_1234base,Q3_12pct,Q28base,Q28_12,Q28_12pct,Q18base,Q18_12pct,Q89base,Q89_12pct,Q9_12pct\n"
             "A81001,THE DENSHAM SURGERY,00K,NHS X CCG,300,110,0.36,100,0.55,109,90.1,0.8266055,80,0.7,95,0.95,0.4\n"
             "A81002,QUEENS PARK,00K,NHS X CCG,300,9,0.03,-97,-97,-97,-97,-97,-97,-97,-97,-97,*\n")
    frame, report = load_gpps(f, with_report=True)
    assert set(frame["org_level"]) == {"practice"}
    assert frame["period_start"].min() == pd.Timestamp("2019-01-01")
    assert frame["period_end"].max() == pd.Timestamp("2019-03-31")
    assert _value(frame, "A81001", "gpps_overall_good") == pytest.approx(82.66055)
    assert _value(frame, "A81001", "gpps_overall_good", "numerator") == 90.1  # the published Q28_12
    assert _value(frame, "A81001", "gpps_overall_good", "denominator") == 109
    assert _value(frame, "A81001", "gpps_access_good", "denominator") == 100  # Q3_1234base
    assert _value(frame, "A81001", "gpps_trust_confidence") == pytest.approx(95.0)  # Q89 from 2018
    assert _value(frame, "A81001", "gpps_continuity") == pytest.approx(40.0)
    # -97 and * are suppressed: missing and counted, never 0
    assert frame.loc[frame["org_code"] == "A81002", "value"].isna().all()
    cells = parse_report_frame(report).set_index("column")
    assert cells.loc["Q28_12pct", "suppressed"] == 1 and cells.loc["Q9_12pct", "suppressed"] == 1
    assert "2018" in report.period


def test_gpps_2012_layout_uses_q22_for_trust_and_percentages_as_printed(tmp_path):
    # an old file: Practice_code, percentages 0-100, the two-wave period of a July publication
    f = _csv(tmp_path / "July 2016 Practice level data weighted CSV.csv",
             "Practice_code,Practice_Name,CCG_Code,Q28base,Q28_12pct,Q22base,Q22_12pct,Q89_12pct\n"
             "B82001,OLD SURGERY,01A,120,85.2,100,91.0,12.0\n"
             "B82002,NEW SURGERY,01A,130,70.1,100,88.0,13.0\n")
    frame = load_gpps(f)
    assert _value(frame, "B82001", "gpps_overall_good") == 85.2  # 0-100 kept as it is
    assert _value(frame, "B82001", "gpps_trust_confidence") == 91.0  # Q22, not Q89, before 2018
    assert _value(frame, "B82001", "gpps_overall_good", "numerator") == pytest.approx(85.2 * 120 / 100)
    assert frame["period_start"].iloc[0] == pd.Timestamp("2015-07-01")
    assert frame["period_end"].iloc[0] == pd.Timestamp("2016-03-31")


def test_gpps_2024_new_series(tmp_path):
    f = _csv(tmp_path / "GPPS_2024_Practice_data_(weighted)_(csv)_PUBLIC.csv",
             "ad_practicecode,ad_practicename,ad_icscode,distributed,received,resprate,"
             "overallexp_1.pct,overallexp_2.pct,overallexp.pcteval,overallexp.baseevalw,"
             "lastgpapptconf.pcteval,lastgpapptconf.baseevalw,localgpservicesphone.pcteval\n"
             "c83001 ,A PRACTICE,QHM,400,150,0.375,0.4,0.35,0.75,148,0.9,120,0.5\n"
             "C83002,B PRACTICE,QHM,400,5,0.0125,-97,-97,-97,-97,-97,-97,-97\n")
    frame = load_gpps(f)
    assert set(frame["org_code"]) == {"C83001", "C83002"}  # codes stripped and upper-cased
    assert _value(frame, "C83001", "gpps_overall_good") == pytest.approx(75.0)
    assert _value(frame, "C83001", "gpps_overall_good", "denominator") == 148
    assert _value(frame, "C83001", "gpps_overall_good", "numerator") == pytest.approx(0.75 * 148)
    assert _value(frame, "C83001", "gpps_trust_confidence") == pytest.approx(90.0)
    assert _value(frame, "C83001", "gpps_access_good") == pytest.approx(50.0)
    assert np.isnan(_value(frame, "C83002", "gpps_overall_good"))
    assert frame["period_start"].iloc[0] == pd.Timestamp("2024-01-01")
    assert kind_from_columns(["ad_practicecode", "overallexp.pcteval"]) == "gpps"
    assert load_indicators(f).attrs["kind"] == "gpps" and load(f).attrs["kind"] == "gpps"


def test_gpps_bad_input(tmp_path):
    no_code = _csv(tmp_path / "GPPS_2019_x.csv", "Name,Q28_12pct\nA,0.8\n")
    with pytest.raises(DataFormatError, match="Practice_Code"):
        load_gpps(no_code)
    no_measure = _csv(tmp_path / "GPPS_2019_y.csv", "Practice_Code,Practice_Name,received\nA81001,X,100\n")
    with pytest.raises(DataFormatError, match="Q28_12pct"):
        load_gpps(no_measure)
    no_year = _csv(tmp_path / "practice_results.csv", "Practice_Code,Q28_12pct\nA81001,0.8\n")
    with pytest.raises(DataFormatError, match="year=2019"):
        load_gpps(no_year)
    assert load_gpps(no_year, year=2021)["period_start"].iloc[0] == pd.Timestamp("2021-01-01")
    # a year whose code moved: columns= names it, and its base is found beside it
    moved = _csv(tmp_path / "GPPS_2030.csv", "Practice_Code,Q32_12pct,Q32base\nA81001,0.8,50\n")
    out = load_gpps(moved, columns={"gpps_overall_good": "Q32_12pct"})
    assert _value(out, "A81001", "gpps_overall_good") == pytest.approx(80.0)
    assert _value(out, "A81001", "gpps_overall_good", "denominator") == 50
    bad = _csv(tmp_path / "GPPS_2019_z.csv", "Practice_Code,Q28_12pct\nA81001,see note\n")
    with pytest.raises(DataFormatError, match="not numbers"):
        load_gpps(bad, errors="raise")


# ---------------------------------------------------------------------------------------------
# Friends and Family Test layouts
def _workbook(path, sheets):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(list(r))
    wb.save(path)
    return path


_POST = ["Total Responses", "Total Eligible", "Percentage Positive", "Percentage Negative", "Very Good",
         "Good", "Neither Good nor Poor", "Poor", "Very Poor", "Don't Know"]


def test_fft_ae_2020_workbook_trusts_sites_england_and_suppressed(tmp_path):
    f = _workbook(tmp_path / "friends-and-family-test-ae-data-march-2023.xlsx", {
        "Notes": [["A&E Friends and Family Test (FFT) Data - March 2023"]],
        "ICB": [["ICB Code", "ICB Name", *_POST], ["QHM", "NORTH", 300, 900, 0.8, 0.1, 150, 90, 30, 15, 15, 0]],
        "Trusts": [["A&E FFT, trusts - March 2023"], [],
                   ["ICB Code", "Trust Code", "Trust Name", *_POST],
                   ["", "", "ENGLAND (including Independent Sector Providers)", 1003, 5000, 0.8, 0.1,
                    500, 300, 100, 50, 50, 3],
                   ["QHM", "RX1", "ALPHA TRUST", 200, 1000, 0.85, 0.05, 100, 70, 10, 5, 5, 10],
                   ["QHM", "RX2", "BETA TRUST", 3, "*", "*", "*", "*", "*", "*", "*", "*", "*"]],
        "Sites": [["ICB Code", "Trust Code", "Trust Name", "Site Code", "Site Name", *_POST],
                  ["QHM", "RX1", "ALPHA TRUST", "RX101", "ALPHA GENERAL", 120, 600, 0.75, 0.0833333,
                   50, 40, 10, 5, 5, 10]],
    })
    frame, report = load_fft(f, with_report=True)
    assert set(frame["org_level"]) == {"trust", "site"}  # the ICB sheet is skipped
    assert "ENGLAND" not in set(frame["org_name"].dropna().str.upper())
    assert report.dropped == {"national (England) or total row": 1}
    assert _value(frame, "RX1", "fft_recommend_pct") == pytest.approx(85.0)
    assert _value(frame, "RX1", "fft_recommend_pct", "numerator") == 170  # Very Good + Good
    assert _value(frame, "RX1", "fft_recommend_pct", "denominator") == 200
    assert _value(frame, "RX1", "fft_not_recommend_pct", "numerator") == 10
    assert _value(frame, "RX101", "fft_recommend_pct") == pytest.approx(75.0)
    assert frame.loc[frame["org_code"] == "RX101", "org_level"].iloc[0] == "site"
    assert _value(frame, "RX2", "fft_responses") == 3
    assert np.isnan(_value(frame, "RX2", "fft_recommend_pct"))  # suppressed, not 0
    cells = parse_report_frame(report).set_index("column")
    assert cells.loc["Trusts!Percentage Positive", "suppressed"] == 1
    assert frame["period_start"].unique().tolist() == [pd.Timestamp("2023-03-01")]
    assert detect_indicator_kind(f) == "fft" and detect_kind(f) == "indicators"
    assert load(f).attrs["kind"] == "fft"


def test_fft_gp_2019_recommend_question(tmp_path):
    pre = ["Practice Code", "Practice Name", "Total Responses", "Extremely likely", "Likely",
           "Neither likely nor unlikely", "Unlikely", "Extremely unlikely", "Don't know",
           "Percentage Recommended", "Percentage Not Recommended"]
    f = _workbook(tmp_path / "FFT_GP_data_January_2019.xlsx", {
        "GP Practice Level": [pre, ["A81001", "THE SURGERY", 50, 30, 15, 2, 1, 1, 1, 90, 4],
                              ["A81002", "OTHER", 40, 10, 10, 10, 5, 4, 1, 50, 22.5]]})
    frame = load_fft(f)
    assert set(frame["org_level"]) == {"practice"}
    assert _value(frame, "A81001", "fft_recommend_pct") == 90  # printed 0-100: kept
    assert _value(frame, "A81001", "fft_recommend_pct", "numerator") == 45
    assert _value(frame, "A81002", "fft_not_recommend_pct", "numerator") == 9
    assert frame["period_start"].iloc[0] == pd.Timestamp("2019-01-01")
    assert frame["period_end"].iloc[0] == pd.Timestamp("2019-01-31")


def test_fft_csv_raw_names_period_columns_and_counts_only(tmp_path):
    # the raw collection's names (1 Very Good SUM ...), Periodname + Yearnumber, no percentages
    f = _csv(tmp_path / "fft_gp.csv",
             "Yearnumber,Periodname,Practice Code,Practice Name,1 Very Good SUM,2 Good SUM,"
             "3 Neither Good nor Poor SUM,4 Poor SUM,5 Very Poor SUM,6 Dont Know SUM,Total Responses\n"
             "2025_26,FEBRUARY,A81001,X,6,2,1,1,0,0,10\n"
             "2025_26,AUGUST,A81001,X,3,2,*,0,0,0,5\n")
    frame = load_fft(f)
    assert sorted(frame["period_start"].unique()) == [pd.Timestamp("2025-08-01"), pd.Timestamp("2026-02-01")]
    feb = frame[frame["period_start"] == pd.Timestamp("2026-02-01")]
    assert _value(feb, "A81001", "fft_recommend_pct") == pytest.approx(80.0)
    assert _value(feb, "A81001", "fft_not_recommend_pct") == pytest.approx(10.0)
    aug = frame[frame["period_start"] == pd.Timestamp("2025-08-01")]
    assert _value(aug, "A81001", "fft_recommend_pct") == pytest.approx(100.0)  # no suppressed count needed
    assert kind_from_columns(["Practice Code", "1 Very Good SUM", "Total Responses"]) == "fft"


def test_fft_bad_input_and_wrong_loaders(tmp_path):
    no_month = _csv(tmp_path / "fft.csv", "Practice Code,Total Responses,Percentage Positive\nA81001,10,0.9\n")
    with pytest.raises(DataFormatError, match="period='2019-03'"):
        load_fft(no_month)
    assert load_fft(no_month, period="2019-03")["period_start"].iloc[0] == pd.Timestamp("2019-03-01")
    gpps = _csv(tmp_path / "GPPS_2019_Practice_data.csv", "Practice_Code,Q28base,Q28_12pct\nA81001,100,0.8\n")
    with pytest.raises(DataFormatError, match="load_gpps"):
        load_fft(gpps)
    with pytest.raises(DataFormatError, match=r"use load_fft"):
        load_gpps(no_month)
    with pytest.raises(DataFormatError, match=r"use load_gpps"):
        load_gp_payments(gpps)
    fft_book = _workbook(tmp_path / "FFT-GP-data-March-2019.xlsx", {
        "Practice Level": [["Practice Code", "Total Responses", "Percentage Positive"], ["A81001", 10, 0.9]]})
    with pytest.raises(DataFormatError, match="use load_fft"):
        load_gpps(fft_book)
    other = _workbook(tmp_path / "notes.xlsx", {"Notes": [["nothing here"]]})
    with pytest.raises(DataFormatError, match="no Friends and Family Test sheet.*Notes"):
        load_fft(other)
    dup = _csv(tmp_path / "dup_march_2019.csv",
               "Practice Code,Total Responses,Percentage Positive\nA81001,10,0.9\nA81001,12,0.8\n")
    with pytest.raises(DataFormatError, match="two rows"):
        load_fft(dup)


# ---------------------------------------------------------------------------------------------
# synthetic files: every layout written, and read back as written
def test_synthetic_survey_files_round_trip(synthetic_small):
    p = synthetic_small.paths
    assert [f.name[5:9] for f in p["gpps"]] == ["2017", "2023", "2024"]
    from cqc_research.io.cqc_files import load_latest_ratings

    long = load_latest_ratings(p["ratings_ods"])
    codes = set(long.loc[long["inspection_category"] == "GP Practices", "location_ods_code"].dropna())
    assert len(codes) > 100
    for f in p["gpps"]:
        raw = pd.read_csv(f, dtype=str)
        code_col = next(c for c in raw.columns if c.lower() in {"practice_code", "ad_practicecode"})
        value_col = next(c for c in raw.columns if c in {"Q28_12pct", "overallexp.pcteval"})
        frame = load(f)
        assert frame.attrs["kind"] == "gpps" and frame.attrs["synthetic"]
        got = frame[frame["measure"] == "gpps_overall_good"].set_index("org_code")["value"]
        want = pd.to_numeric(raw.set_index(code_col)[value_col])
        want = (want.where(want >= 0) * 100).reindex(got.index)
        assert np.allclose(got, want, equal_nan=True)
        assert set(got.index) >= codes  # every practice in the ratings file has its survey row
    for f in p["fft_gp"] + p["fft_ae"]:
        frame = load(f)
        assert frame.attrs["kind"] == "fft"
        pos = frame[frame["measure"] == "fft_recommend_pct"].dropna(subset=["value"])
        assert len(pos) and np.allclose(pos["value"], 100 * pos["numerator"] / pos["denominator"], atol=1e-3)
    levels = set(load_fft(p["fft_ae"])["org_level"])
    assert levels == {"trust", "site"}
    months = sorted(load_fft(p["fft_gp"])["period_start"].unique())
    assert months == [pd.Timestamp("2019-03-01"), pd.Timestamp("2023-03-01")]
    folder = p["fft_gp"][0].parent  # a folder of monthly files loads through cqc_research.load
    assert detect_kind(folder) == "indicators" and detect_indicator_kind(folder) == "fft"
    assert sorted(load(folder)["period_start"].unique()) == months


# ---------------------------------------------------------------------------------------------
# the planted survey signal, recovered by an independent computation
def _welch_gap(ds, year_file: int = 1):
    """Good-or-better minus worse, mean % good overall experience: (diff, ci_low, ci_high)."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    from cqc_research.io.cqc_files import load_latest_ratings

    long = load_latest_ratings(ds.paths["ratings_ods"])
    cur = long[(long["level"] == "location") & (long["service_group"] == "Overall")
               & (long["domain"] == "Overall") & (long["inspection_category"] == "GP Practices")]
    rating = cur.dropna(subset=["location_ods_code", "rating"]).set_index("location_ods_code")["rating"].astype(str)
    raw = pd.read_csv(ds.paths["gpps"][year_file], dtype=str)  # the 2023 file: Practice_Code, Q28_12pct
    share = pd.to_numeric(raw.set_index("Practice_Code")["Q28_12pct"])
    share = 100 * share[share >= 0]
    joined = pd.DataFrame({"v": share, "r": rating.reindex(share.index)}).dropna()
    better = joined["r"].isin(["Good", "Outstanding"])
    worse = joined["r"].isin(["Requires improvement", "Inadequate"])
    assert better.sum() > 300 and worse.sum() > 30
    cm = CompareMeans(DescrStatsW(joined.loc[better, "v"].to_numpy()), DescrStatsW(joined.loc[worse, "v"].to_numpy()))
    lo, hi = cm.tconfint_diff(alpha=0.05, usevar="unequal")
    return joined.loc[better, "v"].mean() - joined.loc[worse, "v"].mean(), lo, hi


@pytest.fixture(scope="module")
def default_and_null(tmp_path_factory):
    from cqc_research.synthetic import generate

    root = tmp_path_factory.mktemp("survey_signal")
    return generate(root / "planted", scale="default"), generate(root / "null", scale="default", null=["survey_signal"])


@pytest.mark.slow  # two default-scale worlds (40 s); make test checks the gap through test_truth
def test_planted_survey_gap_is_recovered_and_the_null_world_has_none(default_and_null):
    planted, null = default_and_null
    gap = planted.truth["survey_signal"]["gpps_overall_good_gap_pp"]
    assert gap == 5.0 and null.truth["survey_signal"]["gpps_overall_good_gap_pp"] == 0.0
    est, lo, hi = _welch_gap(planted)
    assert lo <= gap <= hi and lo > 0, (est, lo, hi)
    est0, lo0, hi0 = _welch_gap(null)
    assert lo0 <= 0 <= hi0, (est0, lo0, hi0)
    # the loader gives the same figures as the raw read
    frame = load_gpps(planted.paths["gpps"][1])
    assert frame["measure"].str.startswith("gpps_").all()
    # removing survey_signal touches nothing else: the other effects' truth is the same
    a = {k: v for k, v in planted.truth.items() if k not in {"survey_signal", "null_effects"}}
    b = {k: v for k, v in null.truth.items() if k not in {"survey_signal", "null_effects"}}
    assert a == b
