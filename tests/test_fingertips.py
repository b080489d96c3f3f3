"""Fingertips all-data CSV exports: any indicator and area type into the indicator table, and
``cqc-research fetch fingertips`` through fingertips_py (mocked: the network is never used).

No real Fingertips export is in ``../shared/data``: the samples are written here in the layouts
documented in ``docs/indicators.md`` ("Fingertips", modelled).
"""

from __future__ import annotations

import json
import sys
import types
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest

import cqc_research
from cqc_research import fetch
from cqc_research.cli import main
from cqc_research.errors import DataFormatError
from cqc_research.io import nhs
from cqc_research.io.nhs.fingertips import fingertips_measure, fingertips_period
from cqc_research.synthetic.indicator_files import FINGERTIPS_HEADER, write_fingertips

# the later layout (27 columns, "Time period range"): GP practices under sub-ICBs
LATER = """Indicator ID,Indicator Name,Parent Code,Parent Name,Area Code,Area Name,Area Type,Sex,Age,Category Type,Category,Time period,Value,Lower CI 95.0 limit,Upper CI 95.0 limit,Lower CI 99.8 limit,Upper CI 99.8 limit,Count,Denominator,Value note,Recent Trend,Compared to England value or percentiles,Compared to Sub-ICBs value or percentiles,Time period Sortable,New data,Compared to goal,Time period range
848,Depression: Recorded prevalence (aged 18 years and over),,,E92000001,England,England,Persons,18+ yrs,,,2021/22,12.7,12.7,12.7,12.7,12.7,5800000,45700000,,,,,20210000,,,1y
848,Depression: Recorded prevalence (aged 18 years and over),E92000001,England,E38000247,NHS North East ICB - 16C,Sub-ICBs (from Apr 2023),Persons,18+ yrs,,,2021/22,14.1,14.0,14.2,13.9,14.3,32000,227000,,,Higher,,20210000,,,1y
848,Depression: Recorded prevalence (aged 18 years and over),E38000247,NHS North East ICB - 16C,A81001,The Densham Surgery,GPs,Persons,18+ yrs,,,2021/22,12.5,11.4,13.7,11.0,14.1,400,3200,,,Similar,Similar,20210000,,,1y
848,Depression: Recorded prevalence (aged 18 years and over),E38000247,NHS North East ICB - 16C,A81002,Queens Park Medical Centre,GPs,Persons,18+ yrs,,,2021/22,,,,,,,3400,Value suppressed for disclosure control,,,,20210000,,,1y
848,Depression: Recorded prevalence (aged 18 years and over),E38000247,NHS North East ICB - 16C,A81001,The Densham Surgery,GPs,Persons,18+ yrs,,,2022/23,13.0,11.9,14.2,11.5,14.6,420,3230,,,Similar,Similar,20220000,,,1y
848,Depression: Recorded prevalence (aged 18 years and over),E38000247,NHS North East ICB - 16C,A81001,The Densham Surgery,GPs,Persons,18+ yrs,Deprivation deciles,Most deprived decile,2022/23,15.0,,,,,10,67,,,,,20220000,,,1y
"""

# the earlier layout (26 columns, "Compared to Region value or percentiles", no range): councils,
# published by sex and for two age bands
EARLIER = """Indicator ID,Indicator Name,Parent Code,Parent Name,Area Code,Area Name,Area Type,Sex,Age,Category Type,Category,Time period,Value,Lower CI 95.0 limit,Upper CI 95.0 limit,Lower CI 99.8 limit,Upper CI 99.8 limit,Count,Denominator,Value note,Recent Trend,Compared to England value or percentiles,Compared to Region value or percentiles,Time period Sortable,New data,Compared to goal
90362,Healthy life expectancy at birth,E12000001,North East region,E06000047,County Durham,Counties & UAs (from Apr 2023),Male,All ages,,,2017 - 19,58.9,57.4,60.4,,,,,,,Worse,,20170000,,
90362,Healthy life expectancy at birth,E12000001,North East region,E06000047,County Durham,Counties & UAs (from Apr 2023),Female,All ages,,,2017 - 19,58.6,57.0,60.2,,,,,,,Worse,,20170000,,
90362,Healthy life expectancy at birth,E12000001,North East region,E06000005,Darlington,Counties & UAs (from Apr 2023),Male,All ages,,,2017 - 19,59.6,57.1,62.1,,,,,,,Similar,,20170000,,
90362,Healthy life expectancy at birth,E12000001,North East region,E06000005,Darlington,Counties & UAs (from Apr 2023),Female,All ages,,,2017 - 19,60.1,57.5,62.7,,,,,,,Similar,,20170000,,
90362,Healthy life expectancy at birth,E92000001,England,E12000001,North East region,Region,Male,All ages,,,2017 - 19,59.4,58.8,60.0,,,,,,,Worse,,20170000,,
"""


def _one(frame, code, measure, start=None):
    rows = frame[(frame.org_code == code) & (frame.measure == measure)]
    if start is not None:
        rows = rows[rows.period_start == pd.Timestamp(start)]
    assert len(rows) == 1, (code, measure, len(rows))
    return rows.iloc[0]


M848 = "fingertips_848_depression_recorded_prevalence_aged_18_years"


def test_later_layout_gp_practices(tmp_path):
    path = tmp_path / "indicators-GP.data.csv"
    path.write_text(LATER, encoding="utf-8-sig")
    assert nhs.detect_indicator_kind(path) == "fingertips"
    got, rep = nhs.load_fingertips(path, with_report=True)
    assert got.attrs["kind"] == "fingertips"
    assert set(got.org_code) == {"A81001", "A81002"} and set(got.org_level) == {"practice"}
    v = _one(got, "A81001", M848, "2021-04-01")
    assert (v.value, v.numerator, v.denominator) == (12.5, 400, 3200)
    assert v.period_end == pd.Timestamp("2022-03-31") and v.org_name == "The Densham Surgery"
    # suppressed: value and count NaN (never 0), the denominator kept, counted as missing
    s = _one(got, "A81002", M848)
    assert np.isnan(s.value) and np.isnan(s.numerator) and s.denominator == 3400
    assert rep.parse_report["Value"]["missing"] == 1
    assert rep.dropped == {"England rows": 1,
                           "parent-area rows (regions, CCGs, sub-ICBs, ICBs...)": 1,
                           "category breakdowns (Category Type set)": 1}
    assert rep.rows_read == 6 and rep.rows_kept == 3
    assert any("confidence limits" in n for n in rep.notes)
    assert rep.period == "2021/22 to 2022/23 (2 periods)"


def test_earlier_layout_councils_by_sex(tmp_path):
    path = tmp_path / "hle.csv"
    path.write_text(EARLIER)
    got, rep = nhs.load_fingertips(path, with_report=True)
    # no Persons rows: each sex is its own measure
    assert set(got.measure) == {"fingertips_90362_healthy_life_expectancy_at_birth_male",
                                "fingertips_90362_healthy_life_expectancy_at_birth_female"}
    assert set(got.org_level) == {"local_authority"}
    v = _one(got, "E06000005", "fingertips_90362_healthy_life_expectancy_at_birth_female")
    assert v.value == 60.1 and np.isnan(v.numerator)
    assert (v.period_start, v.period_end) == (pd.Timestamp("2017-01-01"), pd.Timestamp("2019-12-31"))
    assert rep.dropped == {"parent-area rows (regions, CCGs, sub-ICBs, ICBs...)": 1}  # the region
    only_male = nhs.load_fingertips(path, sex="Male")
    assert set(only_male.measure) == {"fingertips_90362_healthy_life_expectancy_at_birth"}
    assert len(only_male) == 2


def test_gender_column_trusts_and_age_choice(tmp_path):
    text = ("Indicator ID,Indicator Name,Area Code,Area Name,Area Type,Gender,Age,Category Type,"
            "Category,Time period,Value,Count,Denominator\n"
            "1,Admissions rate,RAA,Alpha NHS Trust,NHS trust,Persons,All ages,,,2020,5.0,50,1000\n"
            "1,Admissions rate,RAA,Alpha NHS Trust,NHS trust,Persons,65+ yrs,,,2020,9.0,45,500\n"
            "1,Admissions rate,RAA,Alpha NHS Trust,NHS trust,Male,All ages,,,2020,5.5,27,490\n")
    path = tmp_path / "t.csv"
    path.write_text(text)
    got, rep = nhs.load_fingertips(path, with_report=True)
    assert len(got) == 1 and got.value.iloc[0] == 5.0 and got.org_level.iloc[0] == "trust"
    assert rep.dropped == {"sex other than Persons": 1, "age bands other than the indicator's own": 1}
    assert nhs.load_fingertips(path, age="65+ yrs").value.iloc[0] == 9.0


def test_time_periods():
    assert fingertips_period("2020") == (pd.Timestamp("2020-01-01"), pd.Timestamp("2020-12-31"))
    assert fingertips_period("2016/17 - 18/19") == (pd.Timestamp("2016-04-01"), pd.Timestamp("2019-03-31"))
    assert fingertips_period("2020 Q3") == (pd.Timestamp("2020-07-01"), pd.Timestamp("2020-09-30"))
    assert fingertips_period("Mar 2021") == (pd.Timestamp("2021-03-01"), pd.Timestamp("2021-03-31"))
    assert fingertips_period("1998 - 00") == (pd.Timestamp("1998-01-01"), pd.Timestamp("2000-12-31"))
    assert fingertips_period("Q4 2019/20") == (pd.Timestamp("2020-01-01"), pd.Timestamp("2020-03-31"))
    assert fingertips_period("Jul 2021 - Jun 2022") == (pd.Timestamp("2021-07-01"), pd.Timestamp("2022-06-30"))
    assert fingertips_period("2019/21") is None and fingertips_period("last year") is None
    assert fingertips_measure("93085.0", "Smoking status at time of delivery") == \
        "fingertips_93085_smoking_status_at_time_of_delivery"


def test_bad_input(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(LATER.replace("2022/23", "next year"))
    with pytest.raises(DataFormatError, match="'next year'") as err:
        nhs.load_fingertips(path)
    assert (err.value.row, err.value.column) == (6, "Time period")
    assert "\n" not in str(err.value)
    path.write_text(LATER.replace("Area Code,", "Code,"))
    with pytest.raises(DataFormatError, match="Area Code"):
        nhs.load_fingertips(path)
    path.write_text(LATER.replace(",12.5,11.4,", ",about 12,11.4,"))
    with pytest.warns(nhs.IndicatorParseWarning):
        got, rep = nhs.load_fingertips(path, with_report=True)
    assert rep.parse_report["Value"]["unparseable"] == 1 and rep.parse_report["Value"]["first_row"] == 4
    assert np.isnan(_one(got, "A81001", M848, "2021-04-01").value)
    with pytest.raises(DataFormatError, match="Value"):
        nhs.load_fingertips(path, errors="raise")
    # two rows for one area, period and measure (two category-less breakdowns)
    path.write_text(LATER + LATER.splitlines()[3].replace(",12.5,", ",12.6,") + "\n")
    with pytest.raises(DataFormatError, match="more than one row") as err:
        nhs.load_fingertips(path)
    # a Fingertips file given to another loader names load_fingertips
    path.write_text(LATER)
    with pytest.raises(DataFormatError, match="use load_fingertips"):
        nhs.load_shmi(path)


def test_writer_round_trip_and_cqc_research_load(tmp_path, capsys):
    frame = pd.DataFrame({"indicator_id": [848, 848, 848], "indicator_name": ["Depression"] * 3,
                          "area_code": ["E92000001", "A00001", "B00002"],
                          "area_name": ["England", "A", "B"], "area_type": ["England", "GPs", "GPs"],
                          "parent_code": ["", "E38999999", "E38999999"], "age": "18+ yrs",
                          "time_period": "2022/23", "value": [12.0, 10.25, np.nan],
                          "count": [120, 41, np.nan], "denominator": [1000, 400, 350]})
    path = write_fingertips(frame, tmp_path / "fingertips_848_area7.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(path).columns.tolist() == FINGERTIPS_HEADER
    got = cqc_research.load(path)
    assert _one(got, "A00001", "fingertips_848_depression").value == 10.25
    assert np.isnan(_one(got, "B00002", "fingertips_848_depression").value)
    assert main(["load", str(path), "--out", str(tmp_path / "x.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "x.parquet")) == 2


def test_synthetic_fingertips_export(synthetic_small):
    path = synthetic_small.paths["fingertips"]
    got, rep = nhs.load_fingertips(path, with_report=True)
    assert got.attrs["synthetic"]
    raw = pd.read_csv(path, encoding="utf-8-sig")
    gps = raw[raw["Area Type"] == "GPs"]
    assert len(got) == len(gps) and set(got.org_code) == set(gps["Area Code"])
    ok = got.value.notna()
    assert np.allclose(got.value[ok], 100 * got.numerator[ok] / got.denominator[ok], rtol=1e-5)
    assert rep.dropped["England rows"] == 4
    assert set(got.period_start.dt.year) == {2019, 2020, 2021, 2022}


# ---------------------------------------------------------------------------------------------
# cqc-research fetch fingertips (fingertips_py mocked; nothing touches the network)
def _fake_fingertips(monkeypatch, answer):
    calls = []

    def get_data_by_indicator_ids(ids, area_type, parent_area_type_id=15, **kw):
        calls.append((ids, area_type, parent_area_type_id, kw))
        if isinstance(answer, Exception):
            raise answer
        return answer

    module = types.ModuleType("fingertips_py")
    module.retrieve_data = types.SimpleNamespace(get_data_by_indicator_ids=get_data_by_indicator_ids)
    monkeypatch.setitem(sys.modules, "fingertips_py", module)
    return calls


def test_fetch_fingertips_writes_the_export_and_records_it(tmp_path, monkeypatch, capsys):
    table = pd.read_csv(__import__("io").StringIO(LATER))
    calls = _fake_fingertips(monkeypatch, table)
    assert main(["fetch", "fingertips", "--indicator", "848", "--area-type", "7",
                 "--dest", str(tmp_path), "--json"]) == 0
    assert calls == [([848], 7, 15, {"include_sortable_time_periods": True})]
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = tmp_path / "fingertips" / "fingertips_848_area7.csv"
    assert record["path"] == str(written) and record["status"] == "downloaded"
    got = nhs.load_fingertips(written)
    assert _one(got, "A81001", M848, "2021-04-01").value == 12.5
    manifest = [json.loads(x) for x in (tmp_path / "MANIFEST").read_text().splitlines()]
    assert manifest[-1]["source"] == "fingertips" and manifest[-1]["path"] == "fingertips/fingertips_848_area7.csv"
    again = fetch.fetch_fingertips(848, area_type=7, dest=tmp_path)
    assert again.status == "identical"
    _fake_fingertips(monkeypatch, table.assign(Value=table["Value"] + 1))
    with pytest.raises(fetch.FetchError, match="--force"):
        fetch.fetch_fingertips("848", area_type=7, dest=tmp_path)
    assert fetch.fetch_fingertips("848", area_type=7, dest=tmp_path, force=True).status == "replaced"
    assert not list((tmp_path / "fingertips").glob(".*part"))


def test_fetch_fingertips_errors(tmp_path, monkeypatch, capsys):
    _fake_fingertips(monkeypatch, URLError("no route to host"))
    with pytest.raises(fetch.NetworkError, match="by hand"):
        fetch.fetch_fingertips(848, area_type=7, dest=tmp_path)
    _fake_fingertips(monkeypatch, pd.DataFrame())
    with pytest.raises(fetch.FetchError, match="no data"):
        fetch.fetch_fingertips(848, area_type=7, dest=tmp_path)
    with pytest.raises(fetch.FetchError, match="--area-type"):
        fetch.fetch_fingertips(848, area_type=None, dest=tmp_path)
    monkeypatch.setitem(sys.modules, "fingertips_py", None)  # not installed
    with pytest.raises(fetch.FetchError, match=r"cqc-research\[fingertips\]"):
        fetch.fetch_fingertips(848, area_type=7, dest=tmp_path)
    assert not (tmp_path / "fingertips").exists() or not any((tmp_path / "fingertips").iterdir())
    assert main(["fetch", "fingertips", "--dest", str(tmp_path)]) != 0
    assert "needs --indicator ID --area-type N" in capsys.readouterr().err


def test_districts_under_counties_keep_the_children(tmp_path):
    head = LATER.splitlines()[0]
    rows = [  # a district export whose parents are counties and UAs: a UA is both
        "93,Rate,E10000002,Buckinghamshire,E07000004,Aylesbury Vale,Districts & UAs (from Apr 2019),"
        "Persons,All ages,,,2018,10,,,,,5,50,,,,,20180000,,,1y",
        "93,Rate,E06000047,County Durham,E06000047,County Durham,Districts & UAs (from Apr 2019),"
        "Persons,All ages,,,2018,12,,,,,6,50,,,,,20180000,,,1y",
        "93,Rate,E92000001,England,E10000002,Buckinghamshire,Counties & UAs (from Apr 2019),"
        "Persons,All ages,,,2018,11,,,,,11,100,,,,,20180000,,,1y",
        "93,Rate,E92000001,England,E06000047,County Durham,Counties & UAs (from Apr 2019),"
        "Persons,All ages,,,2018,12,,,,,6,50,,,,,20180000,,,1y",
    ]
    path = _write_text(tmp_path / "districts.csv", "\n".join([head] + rows) + "\n")
    got, rep = nhs.load_fingertips(path, with_report=True)
    assert sorted(got.org_code) == ["E06000047", "E07000004"]
    assert set(got.org_level) == {"local_authority"}
    assert rep.dropped == {"parent-area rows (regions, CCGs, sub-ICBs, ICBs...)": 2}


def _write_text(path, text):
    path.write_text(text)
    return path
