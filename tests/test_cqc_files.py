"""The Latest ratings loader on every layout and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import zipfile

import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io import detect_kind, load
from cqc_research.io.cqc_files import (
    load_active_locations,
    load_care_directory,
    load_latest_ratings,
    parse_dates,
    ratings_wide,
)
from cqc_research.synthetic import LOCATION_COLUMNS, PROVIDER_COLUMNS
from cqc_research.synthetic._ods_writer import write_ods

OLD_LAYOUT = [  # before the ODS code, NHS region and inherited columns, with "Key Question"
    "Location ID", "Location Name", "Care Home?", "Location Type", "Location Primary Inspection Category",
    "Location Street Address", "Location Address Line 2", "Location City", "Location Post Code",
    "Location Local Authority", "Location Region", "Location ONSPD CCG Code", "Location ONSPD CCG",
    "Service / Population Group", "Key Question", "Latest Rating", "Publication Date", "Report Type", "URL",
    "Provider ID", "Provider Name", "Brand ID", "Brand Name",
]


def _loc_row(lid="1-1", domain="Overall", rating="Good", date=dt.date(2019, 3, 1), group="Overall"):
    values = {c: "" for c in LOCATION_COLUMNS}
    values.update({"Location ID": lid, "Location Name": f"Home {lid}", "Care Home?": "Y",
                   "Location Type": "Social Care Org", "Location Primary Inspection Category": "Residential social care",
                   "Location Local Authority": "Northam", "Location Region": "London", "Service / Population Group": group,
                   "Domain": domain, "Latest Rating": rating, "Publication Date": date, "Report Type": "Location",
                   "Inherited Rating (Y/N)": "N", "Provider ID": "1-9", "Provider Name": "P Ltd"})
    return [values[c] for c in LOCATION_COLUMNS]


def _five(lid, overall="Good", **over):
    rows = [_loc_row(lid, "Overall", overall)]
    for kq in ["Safe", "Effective", "Caring", "Responsive", "Well-led"]:
        rows.append(_loc_row(lid, kq, over.get(kq.replace("-", "_"), overall)))
    return rows


def _workbook(tmp_path, rows, name="lr.ods", notice=True, providers=True):
    sheets = {"Locations": (LOCATION_COLUMNS, rows)}
    if providers:
        sheets["Providers"] = (PROVIDER_COLUMNS, [["RX1", "RX1", "Trust", "NHS Healthcare Organisation",
                                                   "Acute hospital - NHS non-specialist", "", "", "", "", "Northam",
                                                   "London", "London", "Overall", "Well-led", "Requires Improvement",
                                                   dt.date(2020, 1, 2), "Provider", "N", "", "", ""]])
    p = tmp_path / name
    write_ods(p, sheets, notice={"Locations": ["Notice: some ratings may change."]} if notice else None)
    return p


def test_current_layout_with_notice_padding_and_case_variants(tmp_path):
    rows = _five("1-1") + _five("1-2", overall="Requires Improvement", Caring="Good")
    p = _workbook(tmp_path, rows)
    before = p.read_bytes()
    df = load_latest_ratings(p)
    assert p.read_bytes() == before  # raw data is never modified
    assert len(df) == 13 and set(df["level"]) == {"location", "provider"}
    assert isinstance(df["rating"].dtype, pd.CategoricalDtype) and df["rating"].cat.ordered
    one = df[(df["org_id"] == "1-2") & (df["domain"] == "Overall")].iloc[0]
    assert one["rating"] == "Requires improvement" and one["sector"] == "Adult social care"
    assert one["publication_date"] == pd.Timestamp("2019-03-01") and not one["inherited"]
    prov = df[df["level"] == "provider"].iloc[0]
    assert (prov["org_id"], prov["domain"], prov["rating"]) == ("RX1", "Well-led", "Requires improvement")
    wide = ratings_wide(df)
    assert wide.set_index("org_id").loc["1-2", ["Overall", "Caring"]].tolist() == ["Requires improvement", "Good"]


def test_older_key_question_layout_and_csv(tmp_path):
    rows = []
    for kq, rating in [("Overall", "Good"), ("Safe", "requires improvement"), ("Well led", "Good")]:
        v = {c: "" for c in OLD_LAYOUT}
        v.update({"Location ID": "1-5", "Location Primary Inspection Category": "GP Practices",
                  "Service / Population Group": "Overall", "Key Question": kq, "Latest Rating": rating,
                  "Publication Date": "05/04/2016", "Provider ID": "1-6"})
        rows.append([v[c] for c in OLD_LAYOUT])
    csv = tmp_path / "old.csv"
    pd.DataFrame(rows, columns=OLD_LAYOUT).to_csv(csv, index=False)
    df = load_latest_ratings(csv)
    assert df["domain"].astype(str).tolist() == ["Overall", "Safe", "Well-led"]
    assert df["publication_date"].iloc[0] == pd.Timestamp("2016-04-05")  # day-first
    assert df["rating"].astype(str).tolist() == ["Good", "Requires improvement", "Good"]
    assert df["location_ods_code"].isna().all() and df["inherited"].isna().all()
    assert detect_kind(csv) == "latest_ratings"


def test_xlsx_with_excel_serial_dates(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Locations"
    ws.append(["Latest ratings (notice row)"])
    ws.append([])
    ws.append(LOCATION_COLUMNS)
    row = _loc_row("1-7")
    row[LOCATION_COLUMNS.index("Publication Date")] = 43525  # Excel serial for 2019-03-01
    ws.append(row)
    p = tmp_path / "lr.xlsx"
    wb.save(p)
    df = load_latest_ratings(p)
    assert df["publication_date"].iloc[0] == pd.Timestamp("2019-03-01")
    assert load(p)["org_id"].tolist() == ["1-7"]


def test_dates():
    got = parse_dates(["2019-03-01", "01/03/2019", "43525", 43525.0, None])
    assert got.iloc[:4].eq(pd.Timestamp("2019-03-01")).all() and pd.isna(got.iloc[4])


def _expect(exc_info, *parts):
    msg = str(exc_info.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_unknown_rating_names_sheet_row_and_column(tmp_path):
    rows = _five("1-1")
    rows[2][LOCATION_COLUMNS.index("Latest Rating")] = "Excellent"
    p = _workbook(tmp_path, rows)
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(p, strict=True)
    # notice row 1, blank row 2, header row 3, data rows from 4: the third data row is row 6
    _expect(e, str(p), "sheet 'Locations'", "row 6", "'Latest Rating'", "'Excellent'")
    from cqc_research.cache import _cache_key
    from cqc_research.paths import processed_dir

    key = _cache_key(p, "latest_ratings", {"sheets": ["Locations", "Providers"], "unknown": "raise",
                                           "duplicates": "raise", "v": 2})
    assert not list(processed_dir().rglob(f"*{key}*"))  # a failed load leaves no cache entry
    kept = load_latest_ratings(p, unknown="keep")
    assert kept["rating_status"].astype(str).tolist().count("Unknown") == 1


def test_impossible_date(tmp_path):
    rows = _five("1-1")
    rows[1][LOCATION_COLUMNS.index("Publication Date")] = "31/02/2019"
    p = _workbook(tmp_path, rows)
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(p)
    _expect(e, "row 5", "'Publication Date'", "31/02/2019")


def test_duplicated_rows(tmp_path):
    rows = _five("1-1") + [_loc_row("1-1", "Safe", "Good")]
    p = _workbook(tmp_path, rows)
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(p)
    _expect(e, "duplicated rating for 1-1 / Overall / Safe", "rows [5, 10]")
    assert len(load_latest_ratings(p, duplicates="drop")) == 7


def test_missing_required_column(tmp_path):
    cols = [c if c != "Latest Rating" else "Rating Latest" for c in LOCATION_COLUMNS]
    p = tmp_path / "x.ods"
    write_ods(p, {"Locations": (cols, _five("1-1"))})
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(p)
    _expect(e, str(p), "Locations", "Latest Rating")


def test_empty_sheet_and_missing_sheet(tmp_path):
    p = tmp_path / "empty.ods"
    write_ods(p, {"Locations": (LOCATION_COLUMNS, [])})
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(p)
    _expect(e, "no data rows")
    q = tmp_path / "other.ods"
    write_ods(q, {"Sheet1": (["a"], [["b"]])})
    with pytest.raises(DataFormatError) as e:
        load_latest_ratings(q)
    _expect(e, "Sheet1")


def test_truncated_html_and_non_zip(tmp_path):
    good = _workbook(tmp_path, _five("1-1"))
    cut = tmp_path / "cut.ods"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    html = tmp_path / "err.ods"
    html.write_text("<!DOCTYPE html><html><body>Service unavailable</body></html>")
    text = tmp_path / "text.ods"
    text.write_text("just text")
    for bad, part in [(cut, "cut.ods"), (html, "HTML"), (text, "zip")]:
        with pytest.raises(DataFormatError) as e:
            load_latest_ratings(bad)
        _expect(e, part)
    assert zipfile.is_zipfile(good)


def test_warm_load_uses_the_cache(tmp_path, monkeypatch):
    p = _workbook(tmp_path, _five("1-1"))
    first = load_latest_ratings(p)
    import cqc_research.io.cqc_files as cf

    monkeypatch.setattr(cf, "_build_latest", lambda *a, **k: pytest.fail("rebuilt despite a fresh cache"))
    second = load_latest_ratings(p)
    pd.testing.assert_frame_equal(first, second)


def test_synthetic_workbook_layout(synthetic_small):
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(synthetic_small.paths["ratings_ods"]))
    loc = wb.get_sheet_by_name("Locations").to_python()
    header = next(r for r in loc if r and r[0] == "Location ID")
    assert header == LOCATION_COLUMNS and len(header) == 28
    prov = wb.get_sheet_by_name("Providers").to_python()
    assert next(r for r in prov if r and r[0] == "Provider ID") == PROVIDER_COLUMNS and len(PROVIDER_COLUMNS) == 21
    df = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    n_rows = sum(1 for r in loc if r and str(r[0]).startswith(("1-", "R"))) + \
        sum(1 for r in prov if r and str(r[0]).startswith("R") and r[0] != "Provider ID")
    assert len(df) == n_rows  # every data row, read independently by calamine
    assert df.attrs["synthetic"] is True


def test_care_directory_with_preamble(tmp_path):
    p = tmp_path / "dir.csv"
    header = ("Name,Also known as,Address,Postcode,Phone number,Service's website (if available),Service types,"
              "Date of latest check,Specialisms/services,Provider name,Local authority,Region,Location URL,"
              "CQC Location ID (for office use only),CQC Provider ID (for office use only)")
    p.write_text("Care directory\nDownloaded on 01/04/2024\nSome notes\n\n" + header + "\n"
                 'Oak House,,1 Road,AB1 2CD,0123,,Homecare agencies|Residential homes,01/02/2023,'
                 'Dementia|Caring for adults over 65 yrs,P Ltd,Northam,London,https://x,1-11,1-22\n')
    d = load_care_directory(p)
    assert d["location_id"].tolist() == ["1-11"]
    assert d["service_types"].iloc[0] == ["Homecare agencies", "Residential homes"]
    assert d["latest_check_date"].iloc[0] == pd.Timestamp("2023-02-01")
    assert detect_kind(p) == "care_directory"


def test_active_locations_one_hot_to_lists(tmp_path):
    cols = ["Location ID", "Location HSCA start date", "Care home?", "Location Name", "Care homes beds",
            "Location Primary Inspection Category", "Location Latest Overall Rating", "Publication Date",
            "Location Local Authority", "Provider ID",
            "Regulated activity - Accommodation for persons who require nursing or personal care",
            "Regulated activity - Personal care", "Service type - Care home service without nursing",
            "Service user band - Dementia"]
    p = tmp_path / "hsca.ods"
    write_ods(p, {"HSCA_Active_Locations": (cols, [
        ["1-1", dt.date(2011, 1, 3), "Y", "Oak", 30, "Residential social care", "Requires Improvement",
         dt.date(2023, 5, 1), "Northam", "1-9", "Y", "", "Y", "Y"],
        ["1-2", dt.date(2015, 6, 1), "N", "Ash", None, "Community based adult social care services", "Not rated",
         None, "Northam", "1-8", "", "Y", "", ""]])},
        notice={"HSCA_Active_Locations": ["Notes: see the guidance sheet"]})
    d = load_active_locations(p)
    assert d["regulated_activities"].tolist() == [
        ["Accommodation for persons who require nursing or personal care"], ["Personal care"]]
    assert d["service_user_bands"].tolist() == [["Dementia"], []]
    assert d["latest_overall_rating"].astype(str).tolist()[0] == "Requires improvement"
    assert d["latest_overall_status"].tolist() == ["Rated", "Not rated"]
