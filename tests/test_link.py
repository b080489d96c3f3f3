"""Linkage of ratings to indicators (cqc_research.link).

Hand-built ratings and indicators with the expected joins worked out by hand, the planted
closures and mergers of the synthetic dataset, and real files (GP payments, NHS-R A&E, the
Oldham API records with the Royal Oldham Hospital's transfer from RW6 to RM3).
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from cqc_research import link
from cqc_research.errors import DataFormatError
from cqc_research.io import nhs


def _wide(rows):
    """A wide ratings table (the columns of io.cqc_files.ratings_wide that linkage uses)."""
    out = pd.DataFrame(rows)
    out["publication_date"] = pd.to_datetime(out["publication_date"])
    for c in ("level", "location_ods_code", "provider_id", "local_authority", "location_name"):
        if c not in out:
            out[c] = pd.NA
    out["level"] = out["level"].fillna("location")
    return out


def _ind(rows, level):
    """An indicator table: rows of (org_code, start, end, measure, value[, num, den[, name]])."""
    recs = []
    for r in rows:
        r = list(r) + [np.nan] * (7 - len(r)) if len(r) < 7 else list(r)
        recs.append({"org_code": r[0], "org_level": level, "period_start": pd.Timestamp(r[1]),
                     "period_end": pd.Timestamp(r[2]), "measure": r[3], "value": float(r[4]),
                     "numerator": float(r[5]), "denominator": float(r[6]),
                     "org_name": r[7] if len(r) > 7 else pd.NA})
    return pd.DataFrame(recs)


def _report(linkage, side, code):
    r = linkage.report
    r = r[(r.side == side) & (r.org_code == code)]
    assert len(r) == 1, (side, code, len(r))
    return r.iloc[0]


# =============================================================================================
# time: the last full period before publication, windows, no leakage
FY = [("2020-04-01", "2021-03-31"), ("2021-04-01", "2022-03-31"), ("2022-04-01", "2023-03-31")]


def _payments():
    rows = []
    for (s, e), size in zip(FY, (1000, 1100, 1200), strict=True):
        rows.append(("A10001", s, e, "list_size", size))
    return _ind(rows, "practice")


@pytest.mark.parametrize("published, expected", [
    ("2022-03-31", 1000),   # 2021-22 ends that day: not yet a full period before publication
    ("2022-04-01", 1100),   # the day after: 2021-22 is used
    ("2023-03-30", 1100),
    ("2023-06-15", 1200),
    ("2021-03-31", None),   # nothing ended before: no value, and the report says why
])
def test_last_full_period_before_publication(published, expected):
    ratings = _wide([{"org_id": "1-1", "location_ods_code": "A10001", "Overall": "Good",
                      "publication_date": published}])
    res = link.link_indicators(ratings, _payments(), level="practice", sector=None)
    got = res.data["list_size"].iloc[0]
    if expected is None:
        assert np.isnan(got)
        assert _report(res, "ratings", "A10001").reason == "no indicator before publication"
        assert _report(res, "indicators", "A10001").status == "unmatched"
    else:
        assert got == expected
        assert (res.used.period_end < pd.Timestamp(published)).all()
        assert _report(res, "ratings", "A10001").reason == "matched"


def test_window_months_mean_max_age_and_latest():
    months = pd.date_range("2021-01-01", "2021-12-01", freq="MS")
    rows = [("RAA", m, m + pd.offsets.MonthEnd(0), "ae_4hr_performance_all", 70 + i)
            for i, m in enumerate(months)]
    ind = _ind(rows, "trust")
    ratings = _wide([{"org_id": "RAA", "level": "provider", "provider_id": "RAA",
                      "Overall": "Good", "publication_date": "2021-07-10"}])
    last = link.link_indicators(ratings, ind, level="trust", sector=None)
    assert last.data["ae_4hr_performance_all"].item() == 75  # June 2021 (i = 5)
    w3 = link.link_indicators(ratings, ind, level="trust", sector=None, window=3)
    # periods wholly within 10 April - 9 July: May and June (April starts before the window)
    assert w3.data["ae_4hr_performance_all"].item() == pytest.approx((74 + 75) / 2)
    assert w3.used["n_periods"].item() == 2
    late = _wide([{"org_id": "RAA", "level": "provider", "provider_id": "RAA",
                   "Overall": "Good", "publication_date": "2023-05-01"}])
    old = link.link_indicators(late, ind, level="trust", sector=None, max_age="365D")
    assert np.isnan(old.data["ae_4hr_performance_all"].item())
    assert _report(old, "ratings", "RAA").reason == "no indicator before publication"
    latest = link.link_indicators(ratings, ind, level="trust", sector=None, window="latest")
    assert latest.data["ae_4hr_performance_all"].item() == 81  # December, after publication
    assert latest.window == "latest" and "window" not in latest.data.attrs
    with pytest.raises(ValueError, match="window"):
        link.link_indicators(ratings, ind, level="trust", window="nearest")


def test_static_measures_attach_whatever_the_date():
    imd = pd.DataFrame({"org_code": ["A10001"], "org_level": "practice", "period_start": pd.NaT,
                        "period_end": pd.NaT, "measure": "imd_score", "value": 31.5})
    ratings = _wide([{"org_id": "1-1", "location_ods_code": "A10001", "Overall": "Good",
                      "publication_date": "2014-01-01"}])
    res = link.link_indicators(ratings, [_payments(), imd], level="practice", sector=None)
    assert res.data["imd_score"].item() == 31.5
    assert np.isnan(res.data["list_size"].item())


# =============================================================================================
# mergers
def _merger_indicators():
    rows = []
    # A and B report until March 2019, C from April 2019 (the merger on 1 April 2019)
    for code, months, att, br in (("RAA", ["2019-01", "2019-02", "2019-03"], 1000, 100),
                                  ("RBB", ["2019-01", "2019-02", "2019-03"], 3000, 600),
                                  ("RCC", ["2019-04", "2019-05"], 4100, 500)):
        for m in months:
            s = pd.Timestamp(m + "-01")
            e = s + pd.offsets.MonthEnd(0)
            rows.append((code, s, e, "ae_4hr_performance_all", 100 * (att - br) / att,
                         att - br, att))
            rows.append((code, s, e, "ae_attendances_all", att))
            rows.append((code, s, e, "shmi_banding", 2 if code == "RAA" else 1))
    return _ind(rows, "trust")


def test_merged_trust_series_is_attributed_to_the_successor():
    ratings = _wide([
        {"org_id": "RCC", "level": "provider", "provider_id": "RCC", "Overall": "Good",
         "publication_date": "2019-03-20"},   # before the merger: only the predecessors' data
        {"org_id": "RCC", "level": "provider", "provider_id": "RCC", "Overall": "Good",
         "publication_date": "2019-06-03"},
    ])
    res = link.link_indicators(ratings, _merger_indicators(), level="trust", sector=None,
                               successors={"RAA": ("RCC", "2019-04-01"), "RBB": "RCC"})
    first, second = res.data.iloc[0], res.data.iloc[1]
    # February 2019, A + B: (900 + 2400) / (1000 + 3000) seen within 4 hours
    assert first["ae_4hr_performance_all"] == pytest.approx(100 * 3300 / 4000)
    assert first["ae_attendances_all"] == 4000          # counts add up
    assert np.isnan(first["shmi_banding"])              # a banding cannot be combined
    assert res.used.loc[0, "via_code"] == "RAA+RBB"
    # May 2019: the successor's own series
    assert second["ae_4hr_performance_all"] == pytest.approx(100 * 3600 / 4100)
    rep = _report(res, "ratings", "RCC")
    assert rep.status == "matched" and rep.reason == "matched"
    for old in ("RAA", "RBB"):
        r = _report(res, "indicators", old)
        assert r.reason == "merged trust" and r.status == "matched"
        assert "superseded by RCC" in r.detail
    assert "2019-04-01" in _report(res, "indicators", "RAA").detail
    only_before = link.link_indicators(ratings.iloc[[0]], _merger_indicators(), level="trust",
                                       sector=None, successors=[{"old": ["RAA", "RBB"],
                                                                 "new": "RCC",
                                                                 "date": "2019-04-01"}])
    assert _report(only_before, "ratings", "RCC").reason == "matched via predecessor"
    assert _report(only_before, "indicators", "RCC").reason == "no indicator before publication"


def test_successor_map_from_relationships_and_locations():
    rel = pd.DataFrame({"org_id": ["RM317", "RW603", "1-200"], "related_id": ["RW603", "RM317",
                                                                               "1-100"],
                        "related_name": ["x", "y", "z"],
                        "type": ["HSCA Predecessor", "HSCA Successor", "HSCA Predecessor"],
                        "reason": ["NHS Transfer", "NHS Transfer", "Legal Entity Change"]})
    loc = pd.DataFrame({"org_id": ["RM317", "RW603", "1-200", "1-100"],
                        "provider_id": ["RM3", "RW6", "1-P2", "1-P1"],
                        "location_ods_code": [pd.NA, pd.NA, "P85001", "P85001"],
                        "registration_date": pd.to_datetime(["2021-10-01", "2010-06-15",
                                                             "2020-01-01", "2012-01-01"])})
    trust = link.successor_map(rel, locations=loc, level="trust")
    assert trust[["old_code", "new_code"]].values.tolist() == [["RW6", "RM3"]]
    assert trust["date"].item() == pd.Timestamp("2021-10-01")
    # a legal-entity change keeps the practice code: no succession at practice level
    practice = link.successor_map(rel, locations=loc, level="practice")
    assert "P85001" not in set(practice.old_code) | set(practice.new_code)
    site = link.successor_map(rel, locations=loc, level="site")
    assert site[["old_code", "new_code"]].values.tolist() == [["RW603", "RM317"]]
    # without locations, an NHS site's trust is the first three characters of its code
    assert link.successor_map(rel, level="trust")[["old_code", "new_code"]].values.tolist() == \
        [["RW6", "RM3"]]
    chain = link._closure(link.successor_map(successors={"A": "B", "B": "C"}))
    assert sorted(map(tuple, chain[["old_code", "new_code"]].values.tolist())) == \
        [("A", "B"), ("A", "C"), ("B", "C")]


# =============================================================================================
# local authorities
def test_local_authority_names_and_old_codes_are_reconciled():
    dtoc = _ind([
        ("716", "2016-03-01", "2016-03-31", "dtoc_days_total", 500, np.nan, np.nan,
         "Barking & Dagenham"),
        ("E09000002", "2017-04-01", "2017-04-30", "dtoc_days_total", 450, np.nan, np.nan,
         "Barking & Dagenham"),
        ("00KB", "2016-03-01", "2016-03-31", "dtoc_days_total", 80, np.nan, np.nan, "Bedford"),
        ("E06000055", "2017-04-01", "2017-04-30", "dtoc_days_total", 70, np.nan, np.nan,
         "Bedford Borough"),
        ("999", "2016-03-01", "2016-03-31", "dtoc_days_total", 5, np.nan, np.nan, "Nowhere"),
    ], "local_authority")
    recon = link.reconcile_la_codes(dtoc, la_codes=pd.DataFrame(
        {"old_code": ["00KB"], "new_code": ["E06000055"], "name": ["Bedford"]}))
    got = recon.set_index("org_code")
    assert got.loc["716", "current_code"] == "E09000002" and got.loc["716", "how"] == "name"
    assert got.loc["00KB", "current_code"] == "E06000055" and got.loc["00KB", "how"] == "lookup"
    assert got.loc["999", "how"] == "unresolved"
    ratings = _wide([
        {"org_id": "1-1", "local_authority": "Barking and Dagenham", "Overall": "Good",
         "publication_date": "2016-06-01"},
        {"org_id": "1-2", "local_authority": "BARKING AND DAGENHAM", "Overall": "Good",
         "publication_date": "2018-01-01"},
        {"org_id": "1-3", "local_authority": "Bedford", "Overall": "Good",
         "publication_date": "2016-06-01"},
        {"org_id": "1-4", "local_authority": "Atlantis", "Overall": "Good",
         "publication_date": "2018-01-01"},
    ])
    res = link.link_indicators(ratings, dtoc, level="local_authority", la_codes=pd.DataFrame(
        {"old_code": ["00KB"], "new_code": ["E06000055"], "name": ["Bedford"]}))
    assert res.data["dtoc_days_total"].tolist()[:3] == [500, 450, 80]
    assert res.data["link_code"].tolist()[:3] == ["E09000002", "E09000002", "E06000055"]
    assert _report(res, "indicators", "716").reason == "old area code"
    assert _report(res, "indicators", "716").status == "matched"
    assert _report(res, "indicators", "00KB").detail.startswith("reconciled to E06000055 by lookup")
    assert _report(res, "indicators", "999").reason == "code not found"
    atl = res.report[(res.report.side == "ratings") & (res.report.org_code == "Atlantis")]
    assert atl.reason.item() == "code not found"
    assert link.normalise_area_name("Bristol, City of") == link.normalise_area_name(
        "City of Bristol")


# =============================================================================================
# the report's reasons
def test_report_reasons_practice_level(tmp_path):
    ind = _ind([(c, *FY[1], "list_size", 1000) for c in ("A10001", "A10002", "A10003",
                                                         "Y10001")], "practice")
    practices = pd.DataFrame({"practice_code": ["A10001", "A10002", "A10003", "Y10001"],
                              "close_date": pd.to_datetime([None, None, "2022-02-28", None])})
    ratings = _wide([
        {"org_id": "1-1", "location_ods_code": "A10001", "Overall": "Good",
         "publication_date": "2022-06-01"},
        {"org_id": "1-2", "location_ods_code": "A10002", "Overall": "Good",
         "publication_date": "2021-06-01"},           # before the only period ended
        {"org_id": "1-5", "location_ods_code": "B20000", "Overall": "Good",
         "publication_date": "2022-06-01"},           # not in the payments file
        {"org_id": "1-6", "location_ods_code": pd.NA, "Overall": "Good",
         "publication_date": "2022-06-01"},           # no ODS code
    ])
    res = link.link_indicators(ratings, ind, level="practice", sector=None, practices=practices)
    assert _report(res, "ratings", "A10001").reason == "matched"
    assert _report(res, "ratings", "A10002").reason == "no indicator before publication"
    assert _report(res, "ratings", "B20000").reason == "code not found"
    no_code = res.report[(res.report.side == "ratings") & res.report.org_code.isna()]
    assert no_code.reason.tolist() == ["no code at this level"]
    assert _report(res, "indicators", "A10001").status == "matched"
    assert _report(res, "indicators", "A10002").reason == "no indicator before publication"
    assert _report(res, "indicators", "A10003").reason == "closed practice"
    assert _report(res, "indicators", "A10003").detail == "closed 2022-02-28"
    assert _report(res, "indicators", "Y10001").reason == "code not found"
    summary = res.summary()
    assert summary["n"].sum() == len(res.report)
    assert set(summary.columns) == {"side", "status", "reason", "n", "share"}
    assert len(res.data) == 4 and res.data.loc[0, "list_size"] == 1000


def test_bad_input():
    ratings = _wide([{"org_id": "1-1", "location_ods_code": "A10001", "Overall": "Good",
                      "publication_date": "2022-06-01"}])
    with pytest.raises(DataFormatError, match="org_level 'trust'"):
        link.link_indicators(ratings, _payments(), level="trust")
    with pytest.raises(DataFormatError, match="not in the indicators"):
        link.link_indicators(ratings, _payments(), level="practice", measures=["qof"])
    with pytest.raises(DataFormatError, match="columns"):
        link.link_indicators(ratings, pd.DataFrame({"code": [1]}), level="practice")
    with pytest.raises(ValueError, match="level"):
        link.link_indicators(ratings, _payments(), level="ccg")


# =============================================================================================
# the synthetic dataset: the report finds exactly the planted closures and mergers
@pytest.fixture(scope="module")
def synthetic_tables(synthetic_small):
    from cqc_research.io import cqc_files, cqc_json

    p = synthetic_small.paths
    long = cqc_files.load_latest_ratings(p["ratings_ods"])
    return {"long": long, "wide": cqc_files.ratings_wide(long),
            "api": cqc_json.load_api_folder(p["api_folder"]),
            "gp": nhs.load_gp_payments(p["gp_payments"][-1]),
            "practices": nhs.load_gp_practices(p["gp_payments"][-1]),
            "ae": nhs.load_ae_monthly(p["ae_folder"]), "truth": synthetic_small.truth,
            "paths": p}


def test_synthetic_closed_and_unregistered_practices(synthetic_tables):
    t = synthetic_tables
    res = link.link_indicators(t["wide"], t["gp"], level="practice", window="latest",
                               practices=t["practices"])
    assert res.synthetic
    ind = res.report[res.report.side == "indicators"]
    truth = t["truth"]["linkage"]
    assert set(ind.loc[ind.reason == "closed practice", "org_code"]) == \
        set(truth["closed_practices"])
    assert set(ind.loc[ind.reason == "code not found", "org_code"]) == \
        set(truth["unregistered_practices"])
    assert set(ind.loc[ind.status == "unmatched", "org_code"]) == \
        set(truth["closed_practices"]) | set(truth["unregistered_practices"])
    # every rated practice finds its payments in the latest-period (cross-sectional) join
    assert (res.report.loc[res.report.side == "ratings", "status"] == "matched").all()
    # without the practices table, the close dates recorded by load_gp_payments are used
    again = link.link_indicators(t["wide"], t["gp"], level="practice", window="latest")
    r2 = again.report
    assert set(r2.loc[r2.reason == "closed practice", "org_code"]) == \
        set(truth["closed_practices"])


def test_synthetic_merged_trusts_from_relationships(synthetic_tables):
    t = synthetic_tables
    api = t["api"]
    merged = t["truth"]["linkage"]["merged_trusts"]
    res = link.link_indicators(t["long"], t["ae"], level="trust",
                               measures=["ae_4hr_performance_all"],
                               relationships=api.relationships, locations=api.locations)
    ind = res.report[res.report.side == "indicators"]
    planted = {old for m in merged for old in m["old"]}
    assert planted  # the generator plants merged trusts: the checks below are not empty
    assert set(ind.loc[ind.reason == "merged trust", "org_code"]) == planted
    for m in merged:
        for old in m["old"]:
            assert f"superseded by {m['new']} on {m['date']}" in _report(res, "indicators",
                                                                         old).detail
    assert (ind.loc[~ind.org_code.isin(planted), "reason"] == "matched").all()
    # the supplied truth map gives the same answer without the API
    res2 = link.link_indicators(t["long"], t["ae"], level="trust",
                                measures=["ae_4hr_performance_all"], successors=merged)
    ind2 = res2.report[res2.report.side == "indicators"]
    assert set(ind2.loc[ind2.reason == "merged trust", "org_code"]) == planted


def test_synthetic_history_uses_only_earlier_months(synthetic_tables):
    t = synthetic_tables
    res = link.link_indicators(t["api"], t["ae"], level="trust",
                               measures=["ae_4hr_performance_all"])
    assert len(res.used) > 0
    assert (res.used["period_end"].notna()).all()
    # every value used ended before its rating's publication
    joined = res.data.dropna(subset=["ae_4hr_performance_all"])
    assert len(joined) == len(res.used)
    ae = t["ae"][t["ae"].measure == "ae_4hr_performance_all"]
    for row in joined.itertuples():
        s = ae[(ae.org_code == row.link_code) & (ae.period_end < row.publication_date)]
        assert row.ae_4hr_performance_all == s.sort_values("period_end").value.iloc[-1]
    # ratings published before the first month of data have no value, and say so
    early = res.data[res.data.publication_date <= ae.period_end.min()]
    assert len(early) and early.ae_4hr_performance_all.isna().all()


def test_synthetic_local_authority_old_codes(synthetic_tables):
    t = synthetic_tables
    dtoc = nhs.load_dtoc(t["paths"]["dtoc"])
    res = link.link_indicators(t["long"], dtoc, level="local_authority",
                               measures=["dtoc_days_total"], la_codes=t["paths"]["la_codes"],
                               window=12)
    ind = res.report[res.report.side == "indicators"]
    old = ind[ind.reason == "old area code"]
    codes = nhs.load_la_codes(t["paths"]["la_codes"])
    assert set(old.org_code) == set(codes.old_code)
    assert (res.report.loc[res.report.side == "ratings", "status"] == "matched").all()


# =============================================================================================
# real files
@pytest.mark.realdata
def test_real_payments_joined_to_hand_built_ratings(shared_data):
    path = shared_data / "nhs_payments_to_general_practice" / "nhs-payments-gp-2018-19.csv"
    gp = nhs.load_gp_payments(path)
    practices = nhs.load_gp_practices(path)
    ratings = _wide([
        {"org_id": "1-1", "location_ods_code": "A81001", "Overall": "Good",
         "publication_date": "2019-06-01"},
        {"org_id": "1-2", "location_ods_code": "A81001", "Overall": "Requires improvement",
         "publication_date": "2019-03-01"},
        {"org_id": "1-3", "location_ods_code": "ZZ9999", "Overall": "Good",
         "publication_date": "2019-06-01"},
    ])
    res = link.link_indicators(ratings, gp, level="practice", sector=None,
                               practices=practices)
    # the published row of A81001: 59173.56 QOF over 4095.25 patients
    assert res.data.loc[0, "qof_payments_per_patient"] == pytest.approx(59173.56 / 4095.25)
    assert res.data.loc[0, "list_size"] == 4095.25
    assert np.isnan(res.data.loc[1, "list_size"])  # published before 2018-19 ended
    assert _report(res, "ratings", "ZZ9999").reason == "code not found"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    closed = {r["Practice Code"] for r in rows if r["Practice Close Date"].strip()}
    rep = res.report[res.report.side == "indicators"]
    assert set(rep.loc[rep.reason == "closed practice", "org_code"]) == closed
    assert len(rep) == len(rows)


@pytest.mark.realdata
def test_real_oldham_inherited_ratings_use_the_predecessor_trust(shared_data):
    from cqc_research.io import cqc_json

    api = cqc_json.load_api_folder(shared_data / "cqc_api_oldham_2024")
    tidy = shared_data / "ae_attendances_tidy_2016_2019.csv"
    ae = nhs.load_ae_tidy(tidy)
    res = link.link_indicators(api, ae, level="trust", measures=["ae_4hr_performance_all"],
                               rating_level="location")
    oldham = res.data[res.data.org_id == "RM317"].set_index("publication_date")
    # Royal Oldham's 2018-03-01 rating was published under Pennine Acute (RW6, RW603 is its
    # predecessor location); the last full month before it is February 2018:
    #   2018-02-01,RW6,1,19679,5121,...  and  2018-02-01,RW6,other,9026,140,...
    with open(tidy, newline="") as f:
        feb = [r for r in csv.DictReader(f) if r["period"] == "2018-02-01" and
               r["org_code"] == "RW6"]
    att = sum(int(r["attendances"]) for r in feb)
    br = sum(int(r["breaches"]) for r in feb)
    assert (att, br) == (19679 + 9026, 5121 + 140)
    row = oldham.loc[pd.Timestamp("2018-03-01")]
    assert row["link_code"] == "RW6" and row["org_code"] == "RM3"
    assert row["ae_4hr_performance_all"] == pytest.approx(100 * (att - br) / att)
    assert "inherited ratings joined on RW6" in _report(res, "ratings", "RM3").detail
    trust_map = link.successor_map(api.relationships, locations=api.locations)
    assert ("RW6", "RM3") in set(map(tuple, trust_map[["old_code", "new_code"]].values))


def test_linkage_repr_and_html(synthetic_tables):
    t = synthetic_tables
    res = link.link_indicators(t["wide"], t["gp"], level="practice", window="latest")
    assert "SYNTHETIC" in repr(res) and "SYNTHETIC DATA" in res._repr_html_()
    assert list(res.report.columns) == ["side", "org_code", "org_name", "status", "reason",
                                        "detail", "n_ratings", "n_indicator_rows",
                                        "first_period", "last_period"]
    assert set(res.report.reason) <= set(link.REASONS)


def test_site_level_joins_location_codes():
    ind = _ind([("RAA01", "2021-04-01", "2022-03-31", "beds_occupied", 0.91, 910, 1000),
                ("RAA02", "2021-04-01", "2022-03-31", "beds_occupied", 0.85, 850, 1000)], "site")
    ratings = _wide([
        {"org_id": "RAA01", "location_ods_code": pd.NA, "provider_id": "RAA",
         "sector": "NHS hospitals", "Overall": "Good", "publication_date": "2022-05-01"},
        {"org_id": "1-9", "location_ods_code": "RAA02", "provider_id": "RAA",
         "sector": "NHS hospitals", "Overall": "Good", "publication_date": "2022-05-01"},
        {"org_id": "1-8", "location_ods_code": "X1", "provider_id": "1-7",
         "sector": "Adult social care", "Overall": "Good", "publication_date": "2022-05-01"},
    ])
    res = link.link_indicators(ratings, ind, level="site")
    assert res.data["beds_occupied"].tolist() == [0.91, 0.85]  # the care home is out of scope
    assert set(res.report.loc[res.report.side == "ratings", "org_code"]) == {"RAA01", "RAA02"}


def test_date_argument_on_a_wide_frame_that_already_has_publication_date():
    """Regression: naming another date column must not collide with publication_date."""
    from cqc_research.link import link_indicators
    from cqc_research.ratings import RATING_DTYPE

    wide = pd.DataFrame({"org_id": ["1-1"], "level": ["location"], "location_ods_code": ["A1"],
                         "sector": ["GP practices"], "Overall": pd.Categorical(["Good"], dtype=RATING_DTYPE),
                         "publication_date": pd.to_datetime(["2020-01-01"]),
                         "inspection_date": pd.to_datetime(["2019-06-01"])})
    ind = pd.DataFrame({"org_code": ["A1", "A1"], "org_level": "practice",
                        "period_start": pd.to_datetime(["2018-04-01", "2019-04-01"]),
                        "period_end": pd.to_datetime(["2019-03-31", "2020-03-31"]),
                        "measure": "list_size", "value": [100.0, 200.0], "numerator": np.nan,
                        "denominator": np.nan, "org_name": "A"})
    by_inspection = link_indicators(wide, ind, level="practice", date="inspection_date")
    by_publication = link_indicators(wide, ind, level="practice")
    assert by_inspection.data["list_size"].tolist() == [100.0]  # the year ending before June 2019
    assert by_publication.data["list_size"].tolist() == [100.0]  # 2019-20 ends after January 2020
