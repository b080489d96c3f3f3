"""QOF: prevalence, achievement and the practice geography mapping, on the real 2022-23 sample,
on written samples of the other years' layouts, and on the synthetic dataset's files.

Every expected figure is computed here from the raw CSV with the csv module, or from the frame
the file was written from, never with the loader under test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from http_fixtures import Reply, loopback

import cqc_research
from cqc_research.cli import main
from cqc_research.errors import DataFormatError
from cqc_research.io import nhs
from cqc_research.io.nhs.qof import qof_year
from cqc_research.synthetic.indicator_files import (
    write_qof_achievement,
    write_qof_geography,
    write_qof_prevalence,
)

PREVALENCE = "PREVALENCE_2223_first40practices.csv"
MAPPING = "MAPPING_NHS_GEOGRAPHIES_2223_first40practices.csv"


@pytest.fixture(scope="module")
def qof_dir(shared_data) -> Path:
    folder = shared_data / "real_formats" / "qof_csv"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def _rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# the real 2022-23 files
@pytest.mark.realdata
def test_real_prevalence_is_100_x_register_over_list_size_for_every_register(qof_dir):
    raw = _rows(qof_dir / PREVALENCE)
    frame = cqc_research.load(qof_dir / PREVALENCE)
    assert frame.attrs["kind"] == "qof_prevalence"
    assert len(frame) == len(raw) == 840
    got = frame.set_index(["org_code", "measure"])
    for r in raw:
        register, size = float(r["REGISTER"]), float(r["PRACTICE_LIST_SIZE"])
        row = got.loc[(r["PRACTICE_CODE"], "qof_prevalence_" + r["GROUP_CODE"].lower())]
        assert row.value == pytest.approx(100 * register / size, rel=1e-12)
        assert (row.numerator, row.denominator) == (register, size)
    # every register of the file is there, for every practice
    registers = {r["GROUP_CODE"] for r in raw}
    practices = {r["PRACTICE_CODE"] for r in raw}
    assert len(registers) == 21 and len(practices) == 40
    assert set(frame.measure) == {f"qof_prevalence_{g.lower()}" for g in registers}
    assert frame.groupby("org_code").measure.nunique().eq(21).all()
    assert (frame.period_start == pd.Timestamp("2022-04-01")).all()
    assert (frame.period_end == pd.Timestamp("2023-03-31")).all()
    assert set(frame.org_level) == {"practice"}


@pytest.mark.realdata
def test_real_prevalence_report_says_where_the_year_came_from_and_the_list_types(qof_dir):
    _, reports = cqc_research.io.explain(qof_dir / PREVALENCE)
    rep = reports[0]
    assert rep.period == "2022-23 (from the file name)"
    raw = _rows(qof_dir / PREVALENCE)
    types = {r["GROUP_CODE"]: r["PATIENT_LIST_TYPE"] for r in raw}
    note = next(n for n in rep.notes if n.startswith("list size counted per register"))
    for g, t in types.items():
        assert f"{g} {t}" in note
    assert rep.rows_read == 840 and rep.rows_kept == 840


@pytest.mark.realdata
def test_real_mapping_is_a_lookup_of_every_practice(qof_dir):
    raw = _rows(qof_dir / MAPPING)
    geo = cqc_research.load(qof_dir / MAPPING)
    assert geo.attrs["kind"] == "qof_geography"
    assert len(geo) == len(raw) == 40 and geo.practice_code.is_unique
    g = geo.set_index("practice_code")
    for r in raw:
        row = g.loc[r["PRACTICE_CODE"]]
        assert (row.pcn_code, row.pcn_name) == (r["PCN_ODS_CODE"], r["PCN_NAME"])
        assert (row.sub_icb_code, row.sub_icb_ons_code) == (r["SUB_ICB_ODS_CODE"], r["SUB_ICB_ONS_CODE"])
        assert (row.icb_code, row.icb_name) == (r["ICB_ODS_CODE"], r["ICB_NAME"])
        assert (row.region_code, row.region_name) == (r["REGION_ODS_CODE"], r["REGION_NAME"])
    assert set(geo.geography) == {"sub-ICB/ICB"} and set(geo.financial_year) == {"2022-23"}
    # every practice of the prevalence file is mapped
    prev = nhs.load_qof_prevalence(qof_dir / PREVALENCE)
    assert set(prev.org_code) <= set(geo.practice_code)


@pytest.mark.realdata
def test_real_files_load_on_the_command_line(qof_dir, tmp_path, capsys):
    for name in (PREVALENCE, MAPPING):
        out = tmp_path / f"{name}.parquet"
        assert main(["load", str(qof_dir / name), "--out", str(out), "--explain"]) == 0
        assert len(pd.read_parquet(out)) in (840, 40)
    assert "2022-23 (from the file name)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# the other years' layouts (written here: modelled, see docs/indicators.md)
def _prev_frame():
    return pd.DataFrame({"practice_code": ["A00001", "A00001", "B00002", "B00002"],
                         "register_code": ["AST", "DM", "AST", "DM"],
                         "register": [300, 250, 0, 41], "list_type": ["06OV", "17OV", "06OV", "17OV"],
                         "list_size": [3800, 3300, 0, 900]})


@pytest.mark.parametrize("layout", ["2020-21", "2015-16"])
def test_written_prevalence_layouts_round_trip(tmp_path, layout):
    f = _prev_frame()
    path = write_qof_prevalence(f, tmp_path / "PREVALENCE_1819.csv", layout=layout)
    got, rep = nhs.load_qof_prevalence(path, with_report=True)
    v = got.set_index(["org_code", "measure"])
    assert v.loc[("A00001", "qof_prevalence_ast")].value == pytest.approx(100 * 300 / 3800)
    assert v.loc[("B00002", "qof_prevalence_dm")].denominator == 900
    # a list size of 0: NaN, never 0 or inf, and said so
    assert np.isnan(v.loc[("B00002", "qof_prevalence_ast")].value)
    assert any("list size of 0" in n for n in rep.notes)
    assert got.period_start.iloc[0] == pd.Timestamp("2018-04-01")
    assert nhs.detect_indicator_kind(path) == "qof_prevalence"


def test_2014_15_layout_cp1252_fractional_list_sizes_no_list_type(tmp_path):
    path = tmp_path / "PREVALENCE_BY_PRAC_v2.csv"
    text = ("PRACTICE_CODE,PRACTICE_NAME,INDICATOR_GROUP_CODE,REGISTER_SIZE,PRACTICE_LIST_SIZE\n"
            "A00001,CAFÉ LANE SURGERY,DEP,450,3210.5\n"
            "A00001,CAFÉ LANE SURGERY,AF,80,4000\n")
    path.write_bytes(text.encode("cp1252"))
    got, rep = nhs.load_qof_prevalence(path, year="2014-15", with_report=True)
    v = got.set_index("measure")
    assert v.loc["qof_prevalence_dep"].value == pytest.approx(100 * 450 / 3210.5)
    assert v.loc["qof_prevalence_af"].org_name == "CAFÉ LANE SURGERY"
    assert rep.period == "2014-15 (from the year=)"
    assert any("no PATIENT_LIST_TYPE" in n for n in rep.notes)
    assert rep.layout.startswith("2014-15")


def test_2013_14_layout_keeps_the_larger_of_two_heart_failure_rows(tmp_path):
    folder = tmp_path / "qof-1314"
    folder.mkdir()
    path = folder / "prevalencebyprac.csv"
    path.write_text("practicecode,indicator_group,disease_register_size,practice_listsize,prevalence\n"
                    "A00001,HF,9,4000,0.2\nA00001,HF,48,4000,1.2\nA00001,AF,80,4000,2.0\n")
    got, rep = nhs.load_qof_prevalence(path, with_report=True)
    hf = got[got.measure == "qof_prevalence_hf"]
    assert len(hf) == 1 and hf.numerator.iloc[0] == 48
    assert rep.dropped == {"register published twice for a practice (larger kept)": 1}
    assert rep.period == "2013-14 (from the folder name)"
    assert rep.rows_read == 3 and rep.rows_kept == 2


def test_the_financial_year_from_each_source():
    assert qof_year("PREVALENCE_2021_v2.csv")[2] == "2020-21"
    assert qof_year("ACHIEVEMENT_EAST_OF_ENGLAND_2223.csv")[2] == "2022-23"
    assert qof_year("qof-1516-csv/PREVALENCE.csv")[2:] == ("2015-16", "folder name")
    assert qof_year("nhs-qof-2019-20.csv")[2] == "2019-20"
    assert qof_year("PREVALENCE.csv", year=2017)[2:] == ("2017-18", "year=")
    assert qof_year("2021-03-05_PREVALENCE_1920.csv")[2] == "2019-20"  # fetch's date prefix
    frame = pd.DataFrame({"FINANCIAL_YEAR": ["2016-17", "2016-17"]})
    assert qof_year("PREVALENCE.csv", frame=frame)[2:] == ("2016-17", "column FINANCIAL_YEAR")
    with pytest.raises(DataFormatError, match="year='2022-23'"):
        qof_year("PREVALENCE.csv")


# ---------------------------------------------------------------------------------------------
# achievement
ACH = ("PRACTICE_CODE,INDICATOR_CODE,MEASURE,VALUE\n"
       "A00001,AF001,REGISTER,80\nA00001,AF001,ACHIEVED_POINTS,5\n"
       "A00001,AF006,ACHIEVED_POINTS,11.2\nA00001,AF006,DENOMINATOR,70\nA00001,AF006,NUMERATOR,63\n"
       "A00001,AF006,PCAS,6\n"
       "B00002,AF006,ACHIEVED_POINTS,0\nB00002,AF006,DENOMINATOR,0\nB00002,AF006,NUMERATOR,0\n"
       "B00002,AF006,PCAS,2\nB00002,AF001,REGISTER,3\nB00002,AF001,ACHIEVED_POINTS,5\n")


def test_achievement_percent_points_pca_rate_register_and_total(tmp_path):
    path = tmp_path / "ACHIEVEMENT_2223.csv"
    path.write_text(ACH)
    got = cqc_research.load(path)
    assert got.attrs["kind"] == "qof_achievement"
    v = got.set_index(["org_code", "measure"])
    a = v.loc[("A00001", "qof_achievement_af006")]
    assert (a.value, a.numerator, a.denominator) == (pytest.approx(90.0), 63, 70)
    assert v.loc[("A00001", "qof_points_af006")].value == 11.2
    pca = v.loc[("A00001", "qof_pca_rate_af006")]
    assert pca.value == pytest.approx(100 * 6 / 76) and (pca.numerator, pca.denominator) == (6, 76)
    assert v.loc[("A00001", "qof_register_af001")].value == 80
    assert v.loc[("A00001", "qof_points_total")].value == pytest.approx(16.2)
    assert v.loc[("B00002", "qof_points_total")].value == 5
    pooled = v.loc[("A00001", "qof_achievement_pct")]  # one indicator with a denominator: AF006
    assert (pooled.value, pooled.numerator, pooled.denominator) == (pytest.approx(90.0), 63, 70)
    assert np.isnan(v.loc[("B00002", "qof_achievement_pct")].value)  # 0 / 0
    # a denominator of 0: NaN, never 0
    assert np.isnan(v.loc[("B00002", "qof_achievement_af006")].value)
    assert got.period_start.iloc[0] == pd.Timestamp("2022-04-01")


INDICATORS = ("INDICATOR_CODE,INDICATOR_DESCRIPTION,INDICATOR_POINT_VALUE,GROUP_CODE,"
              "GROUP_DESCRIPTION,DOMAIN_CODE,DOMAIN_DESCRIPTION,PATIENT_LIST_TYPE\n"
              "AF001,The contractor establishes and maintains a register,5,AF,Atrial fibrillation,"
              "CL,Clinical,TOTAL\n"
              "AF006,\"The percentage of patients with atrial fibrillation, assessed\",12,AF,"
              "Atrial fibrillation,CL,Clinical,TOTAL\n")


def test_points_percentage_from_the_indicator_list(tmp_path):
    path = _write(tmp_path / "ACHIEVEMENT_2223.csv", ACH + "A00001,XX999,ACHIEVED_POINTS,3\n")
    listing = _write(tmp_path / "MAPPING_INDICATORS_2223.csv", INDICATORS)
    got, rep = nhs.load_qof_achievement(path, indicators=listing, with_report=True)
    v = got.set_index(["org_code", "measure"])
    a = v.loc[("A00001", "qof_points_pct")]
    assert (a.numerator, a.denominator) == (pytest.approx(16.2), 17)
    assert a.value == pytest.approx(100 * 16.2 / 17)
    assert v.loc[("B00002", "qof_points_pct")].value == pytest.approx(100 * 5 / 17)
    assert any("XX999" in n for n in rep.notes)  # no point value: left out, said so
    assert "qof_points_pct" not in set(nhs.load_qof_achievement(path).measure)


def test_achievement_written_long_file_round_trips_and_old_exceptions_load(tmp_path):
    rows = []
    for code, num, den, exc, pts in (("A00001", 40, 50, 3, 8.0), ("B00002", 10, 40, 0, 0.0)):
        rows += [(code, "DM012", "NUMERATOR", num), (code, "DM012", "DENOMINATOR", den),
                 (code, "DM012", "EXCEPTIONS", exc), (code, "DM012", "ACHIEVED_POINTS", pts)]
    frame = pd.DataFrame(rows, columns=["practice_code", "indicator_code", "measure", "value"])
    path = write_qof_achievement(frame, tmp_path / "ACHIEVEMENT_1819.csv")
    got = nhs.load_qof_achievement(path)
    v = got.set_index(["org_code", "measure"])
    assert v.loc[("A00001", "qof_achievement_dm012")].value == 80
    assert v.loc[("B00002", "qof_achievement_dm012")].value == 25
    assert v.loc[("A00001", "qof_pca_rate_dm012")].value == pytest.approx(100 * 3 / 53)
    assert got.period_end.iloc[0] == pd.Timestamp("2019-03-31")


def test_regional_achievement_files_read_together_and_years_must_agree(tmp_path):
    folder = tmp_path / "QOF_2223"
    folder.mkdir()
    lines = ACH.splitlines()
    (folder / "ACHIEVEMENT_LONDON_2223.csv").write_text("\n".join(lines[:7]) + "\n")
    (folder / "ACHIEVEMENT_MIDLANDS_2223.csv").write_text("\n".join([lines[0]] + lines[7:]) + "\n")
    got, rep = nhs.load_qof_achievement(folder, with_report=True)
    assert set(got.org_code) == {"A00001", "B00002"}
    assert len(got) == len(nhs.load_qof_achievement(_write(tmp_path / "ACHIEVEMENT_2223.csv", ACH)))
    (folder / "ACHIEVEMENT_NORTH_WEST_2122.csv").write_text(lines[0] + "\nC00003,AF001,REGISTER,1\n")
    with pytest.raises(DataFormatError, match="different financial years"):
        nhs.load_qof_achievement(folder)


def _write(path, text):
    path.write_text(text)
    return path


def test_achievement_bad_input(tmp_path):
    # a suppressed or unparseable VALUE is counted, never 0
    path = _write(tmp_path / "ACHIEVEMENT_2223.csv", ACH.replace("DENOMINATOR,70", "DENOMINATOR,*")
                  .replace("NUMERATOR,63", "NUMERATOR,sixty"))
    with pytest.warns(nhs.IndicatorParseWarning):
        got, rep = nhs.load_qof_achievement(path, with_report=True)
    assert rep.parse_report["VALUE"]["suppressed"] == 1
    assert rep.parse_report["VALUE"]["unparseable"] == 1
    assert rep.parse_report["VALUE"]["first_row"] == 6
    assert np.isnan(got.set_index(["org_code", "measure"]).loc[("A00001", "qof_achievement_af006")].value)
    with pytest.raises(DataFormatError, match="VALUE") as err:
        nhs.load_qof_achievement(path, errors="raise")
    assert err.value.row == 6 and "\n" not in str(err.value)
    # a measure given twice
    path = _write(tmp_path / "ACHIEVEMENT_2223.csv", ACH + "A00001,AF006,NUMERATOR,64\n")
    with pytest.raises(DataFormatError, match="more than once") as err:
        nhs.load_qof_achievement(path)
    assert err.value.row == 14
    # an unknown measure is counted, not read
    path = _write(tmp_path / "ACHIEVEMENT_2223.csv", ACH + "A00001,AF006,UNDERLYING_SCORE,3\n")
    _, rep = nhs.load_qof_achievement(path, with_report=True)
    assert rep.dropped == {"MEASURE UNDERLYING_SCORE (not read)": 1}


def test_prevalence_bad_input_names_file_row_and_column(tmp_path):
    path = _write(tmp_path / "PREVALENCE_2223.csv",
                  "PRACTICE_CODE,GROUP_CODE,PATIENT_LIST_TYPE,PRACTICE_LIST_SIZE\nA00001,AST,06OV,3000\n")
    with pytest.raises(DataFormatError, match="REGISTER") as err:
        nhs.load_qof_prevalence(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    path = _write(tmp_path / "PREVALENCE_2223.csv",
                  "PRACTICE_CODE,GROUP_CODE,REGISTER,PATIENT_LIST_TYPE,PRACTICE_LIST_SIZE\n"
                  "A00001,AST,*,06OV,3000\nA00001,DM,n/k,17OV,2900\nA00001,HF,12,TOTAL,3100\n")
    with pytest.warns(nhs.IndicatorParseWarning):
        got, rep = nhs.load_qof_prevalence(path, with_report=True)
    v = got.set_index("measure")
    assert np.isnan(v.loc["qof_prevalence_ast"].value) and np.isnan(v.loc["qof_prevalence_dm"].value)
    assert v.loc["qof_prevalence_hf"].value == pytest.approx(100 * 12 / 3100)
    assert rep.parse_report["REGISTER"]["suppressed"] == 1
    assert (rep.parse_report["REGISTER"]["unparseable"], rep.parse_report["REGISTER"]["first_row"]) == (1, 3)
    with pytest.raises(DataFormatError) as err:
        nhs.load_qof_prevalence(path, errors="raise")
    assert (err.value.row, err.value.column) == (3, "REGISTER")


def test_a_file_of_a_known_kind_given_to_the_wrong_loader_names_the_right_one(tmp_path):
    ach = _write(tmp_path / "ACHIEVEMENT_2223.csv", ACH)
    with pytest.raises(DataFormatError, match="use load_qof_achievement"):
        nhs.load_qof_prevalence(ach)
    prev = write_qof_prevalence(_prev_frame(), tmp_path / "PREVALENCE_2223.csv")
    with pytest.raises(DataFormatError, match="use load_qof_prevalence"):
        nhs.load_qof_achievement(prev)
    with pytest.raises(DataFormatError, match="use load_qof_prevalence"):
        nhs.load_gp_payments(prev)


# ---------------------------------------------------------------------------------------------
# geography: the other layouts
def _geo_frame():
    return pd.DataFrame({"practice_code": ["A00001"], "practice_name": ["TEST SURGERY"],
                         "pcn_code": ["UX0001"], "pcn_name": ["Test PCN"], "sub_icb_code": ["X01"],
                         "sub_icb_ons_code": ["E38999999"], "sub_icb_name": ["NHS Test CCG"],
                         "icb_code": ["QXA"], "icb_ons_code": ["E54999999"], "icb_name": ["Test STP"],
                         "region_code": ["Y90"], "region_ons_code": ["E40999999"],
                         "region_name": ["Test Region"]})


def test_geography_2019_20_layout_is_ccg_and_stp(tmp_path):
    path = write_qof_geography(_geo_frame(), tmp_path / "MAPPING_NHS_GEOGRAPHIES_1920.csv",
                               layout="2019-20")
    assert nhs.detect_indicator_kind(path) == "qof_geography"
    got = nhs.load_qof_geography(path)
    row = got.iloc[0]
    assert (row.sub_icb_code, row.icb_code, row.pcn_code) == ("X01", "QXA", "UX0001")
    assert (row.geography, row.financial_year) == ("CCG/STP", "2019-20")


def test_geography_2021_22_sub_icb_loc_and_organisation_reference(tmp_path):
    path = _write(tmp_path / "MAPPING_NHS_GEOGRAPHIES_2122.csv",
                  "REGION_ODS_CODE,REGION_ONS_CODE,REGION_NAME,ICB_ODS_CODE,ICB_ONS_CODE,ICB_NAME,"
                  "SUB_ICB_LOC_ODS_CODE,SUB_ICB_LOC_ONS_CODE,SUB_ICB_LOC_NAME,PCN_ODS_CODE,PCN_NAME,"
                  "PRACTICE_CODE,PRACTICE_NAME\n"
                  "Y90,E40999999,Test Region,QXA,E54999999,Test ICB,X01,E38999999,Test loc,UX0001,"
                  "Test PCN,A00001,TEST SURGERY\n")
    row = nhs.load_qof_geography(path).iloc[0]
    assert (row.sub_icb_code, row.sub_icb_name, row.geography) == ("X01", "Test loc", "sub-ICB/ICB")
    folder = tmp_path / "qof-1617-csv"
    folder.mkdir()
    ref = _write(folder / "ORGANISATION_REFERENCE.csv",
                 "practice_code,practice_name,ccg_code,ccg_geography_code,ccg_name,subregion_code,"
                 "subregion_geography_code,subregion_name,region_code,region_geography_code,"
                 "region_name,country,revised_maximum_points\n"
                 "A00001,TEST SURGERY,X01,E38999999,NHS TEST CCG,Q99,E39999999,SUBREGION,Y54,"
                 "E40000001,NORTH OF ENGLAND,ENGLAND,559\n")
    assert nhs.detect_indicator_kind(ref) == "qof_geography"
    row = nhs.load_qof_geography(ref).iloc[0]
    assert (row.sub_icb_code, row.region_code, row.financial_year) == ("X01", "Y54", "2016-17")
    assert row.geography == "CCG/STP" and pd.isna(row.pcn_code)


def test_geography_bad_input(tmp_path):
    path = _write(tmp_path / "MAPPING_2223.csv", "PRACTICE_CODE,PRACTICE_NAME\nA00001,X\n")
    with pytest.raises(DataFormatError, match="PCN_ODS_CODE"):
        nhs.load_qof_geography(path)
    path = write_qof_geography(pd.concat([_geo_frame()] * 2), tmp_path / "MAPPING_NHS_GEOGRAPHIES_2223.csv")
    with pytest.raises(DataFormatError, match="listed twice") as err:
        nhs.load_qof_geography(path)
    assert err.value.row == 3


# ---------------------------------------------------------------------------------------------
# the synthetic dataset carries every layout
def test_synthetic_dataset_qof_files(synthetic_small):
    from cqc_research.synthetic import dataset_paths

    p = synthetic_small.paths
    again = dataset_paths(synthetic_small.root)
    for key in ("qof_prevalence", "qof_achievement", "qof_geography", "fingertips"):
        assert p[key] == again[key], key
    assert [f.name for f in p["qof_prevalence"]] == ["PREVALENCE_1819.csv", "PREVALENCE_2122.csv",
                                                     "PREVALENCE_2223.csv"]
    practices = {loc for loc in pd.read_csv(p["qof_geography"]).PRACTICE_CODE}
    for f in p["qof_prevalence"]:
        prev = cqc_research.load(f)
        assert prev.attrs["synthetic"] and prev.attrs["kind"] == "qof_prevalence"
        raw = pd.read_csv(f)
        size = raw.filter(like="LIST_SIZE").iloc[:, 0]
        expected = 100 * raw.REGISTER / size
        got = prev.set_index(["org_code", "measure"]).value
        keys = list(zip(raw.PRACTICE_CODE, "qof_prevalence_" + raw.iloc[:, 1].str.lower(), strict=True))
        assert np.allclose(got.loc[keys].to_numpy(), expected.to_numpy())
        assert set(prev.org_code) == practices
    for f in p["qof_achievement"]:
        ach = cqc_research.load(f)
        a = ach[ach.measure.str.startswith("qof_achievement_")]
        assert np.allclose(a.value, 100 * a.numerator / a.denominator, equal_nan=True)
        assert ach[ach.measure == "qof_points_total"].value.between(0, 100).all()
        raw = pd.read_csv(f)
        sums = raw[raw.MEASURE.isin(["NUMERATOR", "DENOMINATOR"])].pivot_table(
            index="PRACTICE_CODE", columns="MEASURE", values="VALUE", aggfunc="sum")
        pooled = ach[ach.measure == "qof_achievement_pct"].set_index("org_code")
        assert np.allclose(pooled.value, 100 * sums.NUMERATOR.loc[pooled.index] / sums.DENOMINATOR.loc[pooled.index])
    geo = cqc_research.load(p["qof_geography"])
    assert geo.attrs["kind"] == "qof_geography" and geo.practice_code.is_unique


def test_fetch_qof_from_the_publication_page(tmp_path, capsys):
    body = write_qof_prevalence(_prev_frame(), tmp_path / "src.csv").read_bytes()
    page = ('<html><body><a href="/files/QOF/PREVALENCE_2223.csv">Prevalence, 2022-23 (CSV)</a>'
            '<a href="/files/other.pdf">Guidance</a></body></html>')
    with loopback() as srv:
        srv.add("/qof/2022-23", Reply(200, page))
        srv.add("/files/QOF/PREVALENCE_2223.csv", Reply(200, body, content_type="text/csv"))
        assert main(["fetch", "qof", "--page", srv.url("/qof/2022-23"),
                     "--dest", str(tmp_path / "raw")]) == 0
    held = list((tmp_path / "raw" / "qof").glob("*PREVALENCE_2223.csv"))
    assert len(held) == 1
    got, rep = nhs.load_qof_prevalence(held[0], with_report=True)
    assert rep.period == "2022-23 (from the file name)" and len(got) == 4


def test_the_years_zip_as_published(tmp_path):
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    prev = write_qof_prevalence(_prev_frame(), src / "PREVALENCE_2223.csv")
    geo = write_qof_geography(_geo_frame(), src / "MAPPING_NHS_GEOGRAPHIES_2223.csv")
    lines = ACH.splitlines()
    a = _write(src / "ACHIEVEMENT_LONDON_2223.csv", "\n".join(lines[:7]) + "\n")
    b = _write(src / "ACHIEVEMENT_MIDLANDS_2223.csv", "\n".join([lines[0]] + lines[7:]) + "\n")
    zpath = tmp_path / "2023-08-10_QOF_2022-23_Raw_data_.csv_files.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in (prev, geo, a, b):
            zf.write(f, f"QOF 2022-23 Raw data .csv files/{f.name}")
        zf.writestr("QOF 2022-23 Raw data .csv files/MAPPING_INDICATORS_2223.csv", INDICATORS)
    got, rep = nhs.load_qof_prevalence(zpath, with_report=True)
    pd.testing.assert_frame_equal(got, nhs.load_qof_prevalence(prev), check_like=True)
    assert got.attrs["source"].startswith(str(zpath)) and "PREVALENCE_2223.csv" in got.attrs["source"]
    assert rep.path == zpath and rep.period == "2022-23 (from the file name)"  # the member's
    ach = nhs.load_qof_achievement(zpath)  # with the zip's MAPPING_INDICATORS: qof_points_pct too
    assert len(ach) == len(nhs.load_qof_achievement([a, b])) + 2
    assert "qof_points_pct" in set(ach.measure)
    assert nhs.load_qof_geography(zpath).practice_code.tolist() == ["A00001"]
    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(DataFormatError, match="no PREVALENCE"):
        nhs.load_qof_prevalence(empty)
    old = tmp_path / "qof-1516-csv.zip"  # 2015-16: PREVALENCE.csv, the year in the zip's name
    with zipfile.ZipFile(old, "w") as zf:
        zf.write(prev, "PREVALENCE.csv")
    _, rep = nhs.load_qof_prevalence(old, with_report=True)
    assert rep.period == "2015-16 (from the zip's name)"
    (tmp_path / "broken.zip").write_bytes(b"PK not a zip")
    with pytest.raises(DataFormatError, match="not a readable zip"):
        nhs.load_qof_geography(tmp_path / "broken.zip")


def test_the_indicator_list_loads_as_a_lookup(tmp_path):
    path = _write(tmp_path / "MAPPING_INDICATORS_2223.csv", INDICATORS)
    got = cqc_research.load(path)
    assert got.attrs["kind"] == "qof_indicators"
    assert got.indicator_code.tolist() == ["AF001", "AF006"]
    assert got.point_value.tolist() == [5, 12] and got.group_code.tolist() == ["AF", "AF"]
    assert got.description.iloc[1] == "The percentage of patients with atrial fibrillation, assessed"
    old = _write(tmp_path / "INDICATOR_MAPPINGS.csv",
                 "indicator_code,indicator_description,indicator_point_value,indicator_group_code\n"
                 "DM012,Foot examination,4,DM\n")
    assert nhs.load_qof_indicators(old).group_code.tolist() == ["DM"]
    bad = _write(tmp_path / "MAPPING_INDICATORS_2122.csv", INDICATORS.replace(",12,AF", ",twelve,AF"))
    with pytest.raises(DataFormatError) as err:
        nhs.load_qof_indicators(bad)
    assert (err.value.row, err.value.column) == (3, "INDICATOR_POINT_VALUE")
