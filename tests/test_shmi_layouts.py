"""SHMI: every trust-level layout that could be established loads by meaning, and bad input is named.

No real SHMI file is in ``../shared/data``: every sample below is written here and marked
*modelled* in ``docs/indicators.md`` (with where its layout came from).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io import nhs


def _one(frame, code, measure):
    row = frame[(frame.org_code == code) & (frame.measure == measure)]
    assert len(row) == 1, (code, measure, len(row))
    return row.iloc[0]


# layout 1 (modelled): one publication's trust-level CSV
PUBLICATION = (
    "PROVIDER_CODE,PROVIDER_NAME,TIME_PERIOD,SPELLS,OBSERVED,EXPECTED,SHMI_VALUE,SHMI_BANDING\n"
    "RAA,Alpha NHS Trust,JUL22_JUN23,50000,1200,1000.00,1.2000,1\n"
    "RBB,Beta NHS Trust,JUL22_JUN23,40000,800,850.00,0.9412,2\n")

# layout 2 (modelled): the historical trust-level CSV, every rolling year in one file
HISTORICAL = (
    "TIME_PERIOD,PUBLICATION_MONTH,PROVIDER_CODE,PROVIDER_NAME,SHMI_VALUE,SHMI_BANDING,OD_LL,"
    "OD_UL,SPELLS,OBSERVED,EXPECTED,PALLIATIVE_SPELLS,PALLIATIVE_DEATHS\n"
    "JAN22_DEC22,APR_23,RAA,ALPHA NHS TRUST,1.1000,2.0,0.88,1.13,48000,1100,1000.0,900,400\n"
    "JAN22_DEC22,MAY_23,RAA,ALPHA NHS TRUST,1.1500,1.0,0.88,1.13,48000,1150,1000.0,900,400\n"
    "FEB22_JAN23,MAY_23,RAA,ALPHA NHS TRUST,1.0500,2.0,0.88,1.13,48500,1050,1000.0,910,405\n"
    "JAN22_DEC22,APR_23,RZZ,\"ZETA, NHS FT\",*,**,0.80,1.20,*,*,*,*,*\n")

# layout 3 (modelled): spelled-out headers, labels for the banding, the period in the name
SPELLED = (
    "Provider code,Provider name,SHMI value,SHMI banding,Provider spells,Observed deaths,"
    "Expected deaths,Lower 95% control limit,Upper 95% control limit\n"
    "RAA,Alpha NHS Trust,1.08,As expected,45000,1080,1000,0.89,1.12\n"
    "RBB,Beta NHS Trust,0.82,Lower than expected,41000,700,853.7,0.89,1.12\n"
    "RCC,Gamma NHS Trust,1.31,1 - Higher than expected,30000,900,687,0.88,1.13\n")

# layout 4 (modelled): SHMI / BANDING / PROVIDER_SPELLS, period column spelled out
SHORT = (
    "\ufeffPROVIDER_CODE,PROVIDER_NAME,REPORTING_PERIOD,PROVIDER_SPELLS,OBSERVED,EXPECTED,SHMI,BANDING\n"
    "RAA,Alpha,October 2016 - September 2017,45000,1080,1000,1.0800,2\n")


def test_one_publication_layout(tmp_path):
    path = tmp_path / "shmi_trust.csv"
    path.write_text(PUBLICATION)
    s = nhs.load_shmi(path)
    v = _one(s, "RAA", "shmi")
    assert (v.value, v.numerator, v.denominator) == (1.2, 1200, 1000)
    assert (v.period_start, v.period_end) == (pd.Timestamp("2022-07-01"), pd.Timestamp("2023-06-30"))
    assert _one(s, "RBB", "shmi_banding").value == 2
    assert _one(s, "RBB", "shmi_spells").value == 40000


def test_historical_layout_keeps_the_latest_publication(tmp_path):
    path = tmp_path / "Historical_trust_level_SHMI_data_Jan25-Dec25_csv.csv"
    path.write_text(HISTORICAL)
    s, rep = nhs.load_shmi(path, with_report=True)
    jan = s[(s.period_start == "2022-01-01") & (s.org_code == "RAA")]
    # JAN22_DEC22 was published in April and again in May 2023: May's figures are kept
    assert jan.set_index("measure").loc["shmi", "value"] == 1.15
    assert jan.set_index("measure").loc["shmi_banding", "value"] == 1   # "1.0"
    assert rep.dropped == {"earlier publications of the same trust and period": 1}
    feb = _one(s[s.period_start == "2022-02-01"], "RAA", "shmi")
    assert feb.period_end == pd.Timestamp("2023-01-31")
    # suppressed cells are NaN and counted, never 0
    z = _one(s, "RZZ", "shmi")
    assert np.isnan(z.value) and np.isnan(z.numerator)
    assert rep.parse_report["SHMI_VALUE"]["suppressed"] == 1
    assert rep.parse_report["SHMI_BANDING"]["suppressed"] == 1
    assert any("OD_LL" in n and "OD_UL" in n for n in rep.notes)
    assert "2 rolling periods" in rep.period
    assert nhs.detect_indicator_kind(path) == "shmi"


def test_spelled_out_layout_with_labels_and_period_from_name(tmp_path):
    path = tmp_path / "SHMI data at trust level, Oct16-Sep17.csv"
    path.write_text(SPELLED)
    s, rep = nhs.load_shmi(path, with_report=True)
    assert _one(s, "RAA", "shmi_banding").value == 2
    assert _one(s, "RBB", "shmi_banding").value == 3
    assert _one(s, "RCC", "shmi_banding").value == 1
    v = _one(s, "RBB", "shmi")
    assert (v.value, v.numerator, v.denominator) == (0.82, 700, 853.7)
    assert _one(s, "RCC", "shmi_spells").value == 30000
    assert (v.period_start, v.period_end) == (pd.Timestamp("2016-10-01"), pd.Timestamp("2017-09-30"))
    assert any("control limit" in n for n in rep.notes)


def test_short_names_and_spelled_out_period(tmp_path):
    path = tmp_path / "shmi.csv"
    path.write_text(SHORT, encoding="utf-8")
    s = nhs.load_shmi(path)
    assert _one(s, "RAA", "shmi").value == 1.08
    assert _one(s, "RAA", "shmi_spells").value == 45000
    assert _one(s, "RAA", "shmi").period_end == pd.Timestamp("2017-09-30")


def test_every_layout_is_detected_and_loads_through_cqc_research_load(tmp_path):
    import cqc_research

    for i, text in enumerate([PUBLICATION, HISTORICAL, SPELLED, SHORT]):
        path = tmp_path / f"layout{i}_Oct16-Sep17.csv"
        path.write_text(text, encoding="utf-8")
        assert nhs.detect_indicator_kind(path) == "shmi", i
        assert cqc_research.load(path).attrs["kind"] == "shmi"


# bad input
def test_missing_value_column_is_named(tmp_path):
    path = tmp_path / "shmi.csv"
    path.write_text("PROVIDER_CODE,TIME_PERIOD,OBSERVED,EXPECTED\nRAA,JUL22_JUN23,1,1\n")
    with pytest.raises(DataFormatError, match="SHMI_VALUE") as err:
        nhs.load_shmi(path)
    assert "\n" not in str(err.value)


def test_unparseable_value_is_counted_not_zero(tmp_path):
    path = tmp_path / "shmi.csv"
    path.write_text(PUBLICATION.replace("1.2000", "one point two"))
    with pytest.warns(nhs.IndicatorParseWarning):
        s, rep = nhs.load_shmi(path, with_report=True)
    assert np.isnan(_one(s, "RAA", "shmi").value)
    assert rep.parse_report["SHMI_VALUE"]["unparseable"] == 1
    assert rep.parse_report["SHMI_VALUE"]["first_row"] == 2
    with pytest.raises(DataFormatError, match="SHMI_VALUE"):
        nhs.load_shmi(path, errors="raise")


def test_banding_outside_1_to_3_and_a_repeated_trust_are_errors(tmp_path):
    path = tmp_path / "shmi.csv"
    path.write_text(PUBLICATION.replace(",0.9412,2", ",0.9412,4"))
    with pytest.raises(DataFormatError, match="not 1, 2 or 3"):
        nhs.load_shmi(path)
    path.write_text(PUBLICATION + PUBLICATION.splitlines()[1] + "\n")
    with pytest.raises(DataFormatError, match="RAA appears twice") as err:
        nhs.load_shmi(path)
    assert err.value.row == 4


def test_a_qof_file_given_to_load_shmi_names_the_qof_loader(tmp_path):
    path = tmp_path / "PREVALENCE_2223.csv"
    path.write_text("PRACTICE_CODE,GROUP_CODE,REGISTER,PATIENT_LIST_TYPE,PRACTICE_LIST_SIZE\n"
                    "A81001,AST,317,06OV,3766\n")
    with pytest.raises(DataFormatError, match="load_qof_prevalence"):
        nhs.load_shmi(path)
