"""CQC API JSON folders: every real Oldham file loads, with counts worked out from the raw JSON."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io.cqc_json import load_api_folder, load_api_record
from cqc_research.ratings import UnknownRatingWarning

pytestmark = pytest.mark.realdata


def _raw(folder):
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / "locations").glob("*.json"))}


@pytest.fixture(scope="module")
def oldham(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    return folder, _raw(folder), load_api_folder(folder, use_cache=False)


def test_every_file_loads(oldham):
    folder, raw, api = oldham
    assert len(api.locations) == len(raw) == len(list((folder / "locations").glob("*.json")))
    assert len(api.providers) == len(list((folder / "providers").glob("*.json")))
    assert set(api.locations["org_id"]) == set(raw)


def test_current_overall_ratings_match_a_plain_count(oldham):
    _, raw, api = oldham
    expected = {}
    for rec in raw.values():
        r = (rec.get("currentRatings") or {}).get("overall", {}).get("rating")
        if r:
            key = r.strip().lower()
            expected[key] = expected.get(key, 0) + 1
    cur = api.history[(api.history["source"] == "current") & (api.history["domain"] == "Overall")
                      & (api.history["level"] == "location")]
    got = {}
    for rating, status in zip(cur["rating"], cur["rating_status"], strict=True):
        key = (str(rating) if pd.notna(rating) else str(status)).lower()
        got[key] = got.get(key, 0) + 1
    assert got == expected


def test_history_has_one_row_per_report_and_domain(oldham):
    _, raw, api = oldham
    n_hist_overall = sum(1 for rec in raw.values() for h in rec.get("historicRatings") or [] if h.get("overall"))
    n_hist_kq = sum(len(h["overall"].get("keyQuestionRatings") or [])
                    for rec in raw.values() for h in rec.get("historicRatings") or [] if h.get("overall"))
    hist = api.history[(api.history["source"] == "historic") & (api.history["level"] == "location")]
    assert (hist["domain"] == "Overall").sum() == n_hist_overall
    assert (hist["domain"] != "Overall").sum() == n_hist_kq
    # nothing dropped: every non-scale value is kept with its status
    n_ibnr = sum(1 for rec in raw.values() for h in rec.get("historicRatings") or []
                 if (h.get("overall") or {}).get("rating") == "Inspected but not rated")
    assert ((hist["domain"] == "Overall") & (hist["rating_status"] == "Inspected but not rated")).sum() == n_ibnr


def test_inherited_ratings_and_predecessors_are_kept(oldham):
    _, raw, api = oldham
    rec = raw["RM317"]
    preds = [r["relatedLocationId"] for r in rec["relationships"] if r["type"] == "HSCA Predecessor"]
    rel = api.relationships[(api.relationships["org_id"] == "RM317") & (api.relationships["type"] == "HSCA Predecessor")]
    assert rel["related_id"].tolist() == preds == ["RW603"]
    inherited = api.history[(api.history["org_id"] == "RM317") & (api.history["organisation_id"] == "RW603")]
    assert not inherited.empty
    n_kq_inherited = sum(1 for kq in rec["currentRatings"]["overall"]["keyQuestionRatings"]
                         if kq.get("organisationId") == "RW603")
    cur = inherited[inherited["source"] == "current"]
    assert (cur["domain"] != "Overall").sum() == n_kq_inherited
    n_total_rel = sum(len(rec.get("relationships") or []) for rec in raw.values())
    assert len(api.relationships[api.relationships["org_id"].isin(raw)]) == n_total_rel


def test_service_ratings(oldham):
    _, raw, api = oldham
    n = sum(1 + len(s.get("keyQuestionRatings") or [])
            for rec in raw.values() for s in (rec.get("currentRatings") or {}).get("serviceRatings") or [])
    cur = api.service_ratings[api.service_ratings["source"] == "current"]
    assert len(cur) == n
    names = set(cur.loc[cur["org_id"] == "RM317", "service_name"])
    assert "Critical care" in names  # inspectionAreaId 'critical' resolved to its name


def test_inspection_dates_come_from_reports(oldham):
    _, raw, api = oldham
    rec = raw["1-109570155"]
    visits = {r["linkId"]: r["firstVisitDate"] for r in rec["reports"]}
    h = api.history[(api.history["org_id"] == "1-109570155") & (api.history["domain"] == "Overall")]
    assert len(h) > 0
    for link, date in zip(h["report_link_id"], h["inspection_date"], strict=True):
        assert date == pd.Timestamp(visits[link])


def test_single_record_and_bad_json(tmp_path, shared_data):
    one = load_api_record(shared_data / "cqc_api_oldham_2024" / "locations" / "1-109570155.json")
    assert one.locations["org_id"].tolist() == ["1-109570155"]
    bad = tmp_path / "api" / "locations"
    bad.mkdir(parents=True)
    (bad / "1-1.json").write_text('{"locationId": "1-1", "name": ')
    with pytest.raises(DataFormatError, match=r"1-1\.json.*invalid JSON at line 1"):
        load_api_folder(tmp_path / "api")
    (bad / "1-1.json").write_text('{"locationId": "1-1", "currentRatings": {"overall": {"rating": "Superb"}}}')
    with pytest.raises(DataFormatError, match=r"currentRatings\.overall.*'Superb'"):
        load_api_folder(tmp_path / "api", strict=True, use_cache=False)
    with pytest.raises(DataFormatError, match="'Superb'"):
        load_api_folder(tmp_path / "api", unknown="raise", use_cache=False)  # the older spelling
    # at the defaults an unknown value never stops a load: kept, counted, warned once with where
    with pytest.warns(UnknownRatingWarning, match=r"'Superb' x 1.*1-1"):
        kept = load_api_folder(tmp_path / "api", use_cache=False)
    assert kept.history["rating_status"].tolist() == ["Unknown"]
    assert kept.history["rating_text"].tolist() == ["Superb"]


def test_older_vintages_day_first_dates_missing_fields_and_judgements(tmp_path):
    loc = tmp_path / "api" / "locations"
    loc.mkdir(parents=True)
    # a 2016-style record: no inspectionCategories, no reports, day-first dates, 'No action'
    # and 'Compliance action' judgements, deregistered
    rec = {"locationId": "1-9", "providerId": "1-8", "type": "Social Care Org",
           "registrationStatus": "Deregistered", "registrationDate": "04/11/2013",
           "deregistrationDate": "2016-02-01",
           "historicRatings": [{"reportDate": "2015-06-30", "reportLinkId": "r1",
                                "overall": {"rating": "Requires improvement", "keyQuestionRatings": [
                                    {"name": "Safe", "rating": "No action"},
                                    {"name": "Well-led", "rating": "Compliance action"}]}}]}
    (loc / "1-9.json").write_text(json.dumps(rec))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownRatingWarning)
        api = load_api_folder(tmp_path / "api", use_cache=False)
    row = api.locations.iloc[0]
    assert row["registration_date"] == pd.Timestamp("2013-11-04")  # day-first, never NaT
    assert row["deregistration_date"] == pd.Timestamp("2016-02-01")
    assert row["inspection_category"] is None and row["sector"] == "Adult social care"
    by_domain = dict(zip(api.history["domain"].astype(str), api.history["rating_status"].astype(str),
                         strict=True))
    assert by_domain == {"Overall": "Rated", "Safe": "No action", "Well-led": "Compliance action"}
    assert api.history["rating"].notna().sum() == 1


def test_cache_round_trip(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    a = load_api_folder(folder)
    b = load_api_folder(folder)
    pd.testing.assert_frame_equal(a.history, b.history)
    pd.testing.assert_frame_equal(a.locations, b.locations)
