"""The NHS Staff Survey organisation-level workbook (the data behind the benchmark reports)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from cqc_research import load
from cqc_research.errors import DataFormatError
from cqc_research.io import detect_kind
from cqc_research.io.nhs import (
    STAFF_SURVEY_QUESTION_MAP,
    detect_indicator_kind,
    load_staff_survey,
    parse_report_frame,
)
from cqc_research.synthetic.nhs_workbooks import write_staff_survey_workbook

WORKBOOK = "ST19-Organisation-Data-2019-Only-v1f.xlsx"


def _path(shared_data):
    return shared_data / "real_formats" / "staff_survey_xlsx" / WORKBOOK


@pytest.fixture(scope="module")
def real(shared_data):
    """The real 2019 workbook loaded once: (frame, report)."""
    return load_staff_survey(_path(shared_data), with_report=True)


def _raw(path, columns):
    """Every organisation row of every sheet with a trust/trustname header, read with calamine."""
    wb = CalamineWorkbook.from_path(str(path))
    out = []
    for sheet in wb.sheet_names:
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        head = next((i for i, r in enumerate(rows[:5]) if "trust" in r and "trustname" in r), None)
        if head is None:
            continue
        h = rows[head]
        for r in rows[head + 1:]:
            if r[0] and isinstance(r[1], str) and r[1].strip():
                out.append({"sheet": sheet, "trust": r[0], **{c: r[h.index(c)] for c in columns}})
    return pd.DataFrame(out)


@pytest.mark.realdata
def test_recommend_care_is_100_times_q21d_for_every_trust(shared_data, real):
    """Done-when: staff_recommend_care = 100 x q21d_2019, for every organisation of the workbook."""
    path = _path(shared_data)
    raw = _raw(path, ["q21d_2019", "q21d_n_2019"]).set_index("trust")
    frame = real[0]
    care = frame[(frame.measure == "staff_recommend_care")].set_index("org_code")
    assert len(raw) == 300 and raw.index.is_unique
    assert set(raw.index) <= set(care.index)
    got = care.loc[raw.index]
    expected = 100 * pd.to_numeric(raw["q21d_2019"], errors="coerce")
    assert np.allclose(got["value"], expected, rtol=0, atol=1e-9, equal_nan=True)
    assert np.array_equal(got["denominator"], raw["q21d_n_2019"].astype(float))
    assert np.allclose(got["numerator"], expected / 100 * raw["q21d_n_2019"].astype(float))
    assert got["value"].between(0, 100).all()
    # only the pooled Isle of Wight trust is not a row of the workbook
    assert set(care.index) - set(raw.index) == {"R1F"}


@pytest.mark.realdata
def test_named_measures_themes_and_periods(shared_data, real):
    path = _path(shared_data)
    frame = real[0]
    raw = _raw(path, ["q21a_2019", "q21c_2019", "theme_qualcare_2019",
                      "theme_qualcare_n_2019"]).set_index("trust")
    for measure, col in (("staff_care_priority", "q21a_2019"), ("staff_recommend_work", "q21c_2019")):
        got = frame[frame.measure == measure].set_index("org_code")["value"].loc[raw.index]
        assert np.allclose(got, 100 * pd.to_numeric(raw[col], errors="coerce"), equal_nan=True)
    theme = frame[frame.measure == "staff_theme_qualcare"].set_index("org_code").loc[raw.index]
    want = pd.to_numeric(raw["theme_qualcare_2019"], errors="coerce")
    assert np.allclose(theme["value"], want, equal_nan=True)  # 0-10, as published
    assert theme["value"].dropna().between(0, 10).all()
    assert raw["theme_qualcare_2019"].eq(" ").sum() == theme["value"].isna().sum() == 1
    assert {f"staff_theme_{t}" for t in ("engagement", "morale", "teamwork")} <= set(frame.measure)
    assert frame["period_start"].eq(pd.Timestamp("2019-09-01")).all()
    assert frame["period_end"].eq(pd.Timestamp("2019-12-31")).all()
    assert "staff_survey_q4a" in set(frame.measure)
    assert not frame.measure.str.contains("_sig|un_theme|_n$").any()


@pytest.mark.realdata
def test_sectors_kept_as_sites_and_pooled_to_their_trust(shared_data, real):
    path = _path(shared_data)
    raw = _raw(path, ["q21d_2019", "q21d_n_2019", "trustname"]).set_index("trust")
    sectors = raw.loc[["R1F1", "R1F2", "R1F3", "R1F4"]]
    frame, rep = real
    care = frame[frame.measure == "staff_recommend_care"].set_index("org_code")
    assert set(care.loc[sectors.index, "org_level"]) == {"site"}
    assert care.loc["R1F", "org_level"] == "trust"
    assert care.loc["R1F", "org_name"] == "Isle of Wight NHS Trust"
    pooled = 100 * (sectors.q21d_2019 * sectors.q21d_n_2019).sum() / sectors.q21d_n_2019.sum()
    assert care.loc["R1F", "value"] == pytest.approx(pooled)
    assert care.loc["R1F", "denominator"] == sectors.q21d_n_2019.sum()
    assert any("R1F1 -> R1F" in n for n in rep.notes)
    keep = load_staff_survey(path, sectors="keep")
    assert "R1F" not in set(keep.org_code) and "R1F1" in set(keep.org_code)
    drop = load_staff_survey(path, sectors="drop")
    assert not drop.org_code.str.startswith("R1F").any()


@pytest.mark.realdata
def test_report_counts_suppressed_and_summary_rows(real):
    frame, rep = real
    # Acute: count:, (combined) and a total; Combined Acute & Community: a total and count:
    assert rep.dropped["summary rows below the organisations (count:, (combined), totals)"] == 5
    assert rep.rows_kept == 300
    cells = parse_report_frame(rep)
    q12d = cells[cells["column"] == "CCGs | q12d_2019"].iloc[0]
    assert q12d["suppressed"] == 66  # a cell holding a space: withheld, never 0
    ccg = frame[(frame.measure == "staff_survey_q12d") & frame.org_name.str.contains("CCG")]
    assert ccg["value"].isna().sum() >= 60
    assert "question map" in rep.period and "real" in rep.period
    text = str(rep)
    assert "'q21d_2019' -> staff_recommend_care" in text and len(text.splitlines()) < 80


@pytest.mark.realdata
def test_load_and_cli_recognise_the_workbook(shared_data, tmp_path, capsys):
    path = _path(shared_data)
    assert detect_indicator_kind(path) == "staff_survey_workbook"
    assert detect_kind(path) == "indicators"
    assert load(path).attrs["kind"] == "staff_survey"
    from cqc_research.cli import main

    assert main(["load", str(path), "--out", str(tmp_path / "nss.parquet")]) == 0
    assert "staff_recommend_care" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
def _orgs(**extra):
    frame = pd.DataFrame({
        "org_code": ["RXA", "RXB", "RXC1", "RXC2"],
        "org_name": ["Alpha NHS Trust", "Beta NHS Trust", "Gamma NHS Trust (acute sector)",
                     "Gamma NHS Trust (community sector)"],
        "group": ["Acute", "Acute", "Acute", "Community"],
        "responses": [1000.0, 800.0, 300.0, 100.0], "distributed": [2000.0, 2000.0, 600.0, 200.0],
        "q21a": [0.8, 0.7, 0.6, 0.5], "q21a_n": [990, 790, 290, 95],
        "q21c": [0.6, 0.5, 0.4, 0.3], "q21c_n": [990, 790, 290, 95],
        "q21d": [0.75, 0.65, np.nan, 0.55], "q21d_n": [980, 780, 280, 90],
        "theme_engagement": [7.1, 6.9, 6.5, 7.5], "theme_engagement_n": [1000, 800, 300, 100]})
    for k, v in extra.items():
        frame[k] = v
    return frame


def test_synthetic_round_trip(tmp_path):
    path = write_staff_survey_workbook(_orgs(), tmp_path / "nss19.xlsx")
    frame, rep = load_staff_survey(path, with_report=True)
    care = frame[frame.measure == "staff_recommend_care"].set_index("org_code")
    assert care.loc["RXA", "value"] == pytest.approx(75.0) and care.loc["RXA", "denominator"] == 980
    assert np.isnan(care.loc["RXC1", "value"])  # a withheld cell: NaN, counted as suppressed
    assert rep.parse_report["Acute | q21d_2019"]["suppressed"] == 1
    assert care.loc["RXC", "value"] == pytest.approx(55.0)  # pooled from the one sector with a value
    eng = frame[frame.measure == "staff_theme_engagement"].set_index("org_code")
    assert eng.loc["RXC", "value"] == pytest.approx((6.5 * 300 + 7.5 * 100) / 400)
    rr = frame[frame.measure == "staff_survey_response_rate"].set_index("org_code")
    assert rr.loc["RXB", "value"] == pytest.approx(40.0)


def test_synthetic_dataset_workbook(synthetic_small):
    paths = synthetic_small.paths
    wb = load_staff_survey(paths["staff_survey_workbook"])
    csv = load_staff_survey(paths["staff_survey"])
    a = wb[wb.measure == "staff_recommend_care"].set_index("org_code")["value"]
    b = csv[(csv.measure == "staff_recommend_care")
            & (csv.period_start == "2019-09-01")].set_index("org_code")["value"]
    assert len(a) == len(b) > 0 and wb.attrs["synthetic"]
    assert np.allclose(a.sort_index(), b.sort_index())


def test_year_without_a_question_map_fails_naming_it(tmp_path):
    path = write_staff_survey_workbook(_orgs(), tmp_path / "nss20.xlsx", year=2020)
    assert 2020 not in STAFF_SURVEY_QUESTION_MAP
    with pytest.raises(DataFormatError, match="no question map for the 2020 survey"):
        load_staff_survey(path)
    frame = load_staff_survey(path, questions={"staff_recommend_care": "q21d"})
    assert "staff_recommend_care" in set(frame.measure)
    assert "staff_recommend_work" not in set(frame.measure)  # only what was named


def test_later_years_use_their_question_numbers(tmp_path):
    """2022: q23d is staff_recommend_care, and 2022's q21d is just another question."""
    orgs = _orgs().rename(columns={"q21d": "q23d", "q21d_n": "q23d_n"})
    path = write_staff_survey_workbook(orgs, tmp_path / "nss22.xlsx", year=2022)
    frame, rep = load_staff_survey(path, with_report=True)
    care = frame[frame.measure == "staff_recommend_care"].set_index("org_code")["value"]
    assert care.loc["RXA"] == pytest.approx(75.0)
    assert "staff_survey_q21a" in set(frame.measure)
    assert "modelled" in rep.period


def test_unparseable_cell_and_errors_raise(tmp_path):
    orgs = _orgs()
    orgs["q21c"] = orgs["q21c"].astype(object)
    orgs.loc[1, "q21c"] = "n/k?"
    path = write_staff_survey_workbook(orgs, tmp_path / "bad.xlsx")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        frame, rep = load_staff_survey(path, with_report=True)
    assert rep.parse_report["Acute | q21c_2019"]["unparseable"] == 1
    with pytest.raises(DataFormatError) as exc:
        load_staff_survey(path, errors="raise")
    err = exc.value
    assert err.sheet == "Acute" and err.row == 4 and "q21c_2019" in err.column


def test_no_header_sheet_and_not_a_workbook(tmp_path):
    from cqc_research.synthetic.nhs_workbooks import _write_xlsx

    path = _write_xlsx(tmp_path / "x.xlsx", {"Notes": [["hello"]], "Acute": [["a", "b"], [1, 2]]})
    with pytest.raises(DataFormatError, match="'trust' and 'trustname'"):
        load_staff_survey(path)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(write_staff_survey_workbook(_orgs(), tmp_path / "ok.xlsx").read_bytes()[:300])
    with pytest.raises(DataFormatError):
        load_staff_survey(cut)


def test_the_long_csv_still_loads(synthetic_small):
    frame = load_staff_survey(synthetic_small.paths["staff_survey"])
    assert set(frame.measure) == {"staff_recommend_care"}
