"""The profile helpers (cqc_research.studies.profiles) against hand-built tables and plain loops."""

from __future__ import annotations

import pandas as pd
import pytest

from cqc_research.ratings import RATING_DTYPE
from cqc_research.studies import profiles as pf


def _ratings():
    rows = []
    spec = [  # provider, location, la, region, sector, rating, date
        ("P1", "L1", "Alpha", "North", "Adult social care", "Good", "2023-01-10"),
        ("P1", "L2", "Alpha", "North", "Adult social care", "Inadequate", "2023-05-01"),
        ("P1", "L3", "Alpha", "North", "Adult social care", "Requires improvement", "2022-02-01"),
        ("P2", "L4", "Beta", "North", "Adult social care", "Outstanding", "2021-07-01"),
        ("P3", "L5", "Gamma", "South", "Adult social care", "Good", "2020-03-03"),
        ("P3", "L6", "Gamma", "South", "Adult social care", None, "2020-03-03"),
    ]
    for prov, loc, la, reg, sec, rating, date in spec:
        rows.append({"provider_id": prov, "provider_name": f"Name {prov}", "org_id": loc, "location_name": f"Loc {loc}",
                     "local_authority": la, "region": reg, "sector": sec, "level": "location",
                     "service_group": "Overall", "domain": "Overall", "rating": rating,
                     "publication_date": pd.Timestamp(date)})
    df = pd.DataFrame(rows)
    df["rating"] = df["rating"].astype(RATING_DTYPE)
    return df


def test_source_file_and_latest_date():
    f = pd.DataFrame({"d": ["2024-03-01", "2023-01-05"]})
    assert pf.latest_date(f, "d") == "01 March 2024"
    assert pf.latest_date(None, "d") == pf.latest_date(f, "x") == "unknown"
    f.attrs["source"] = ["/a/ae/jan.csv", "/a/ae/feb.csv"]
    assert pf.source_file(f, "/given/x.csv") == "ae"
    assert pf.source_file(None, "/given/folder/") == "folder"
    t = pf.area_sources(f.assign(publication_date=f["d"]), "r.ods")
    assert list(t["source"]) == ["CQC Latest ratings"] and t["file"].iloc[0] == "ae"


def test_area_context_weak_services_and_sentence():
    r = _ratings()
    la, here, region = pf.area_context(r, "")
    assert (la, region) == ("Alpha", "North") and set(here["org_id"]) == {"L1", "L2", "L3"}
    with pytest.raises(ValueError):
        pf.area_context(r, "Nowhere")
    weak = pf.weak_services(here)
    assert list(weak["location_name"]) == ["Loc L2", "Loc L3"]  # Inadequate sorts first
    assert weak["publication_date"].iloc[0] == "01 May 2023"
    assert pf.weak_sentence(weak, here) == "2 of 3 rated locations (1 Inadequate)."


def test_area_comparison_rows():
    by_area = pd.DataFrame({"local_authority": ["Alpha", "Beta"], "sector": ["ASC", "ASC"], "n_rated": [3, 1],
                            "share_good": [1 / 3, 1.0], "ci_low": [0.1, 0.2], "ci_high": [0.8, 1.0],
                            "england_share_good": [0.6, 0.6]})
    by_region = pd.DataFrame({"region": ["North"], "sector": ["ASC"], "n_rated": [4], "share_good": [0.5],
                              "ci_low": [0.2], "ci_high": [0.8]})
    c = pf.area_comparison(by_area, by_region, "Alpha", "Alpha LA", "North")
    assert list(c["where"]) == ["Alpha LA", "North (region)", "England"]
    assert list(c["share_good"]) == pytest.approx([1 / 3, 0.5, 0.6])
    assert list(pf.area_comparison(by_area, by_region, "Alpha", "A", None)["where"]) == ["A", "England"]


def test_provider_rows_peers_and_concerns():
    r = _ratings()
    pr = pf.provider_rows(r, "P1")
    assert pr.name == "Name P1" and pr.sector == "Adult social care" and not pr.is_trust
    assert pr.published == pd.Timestamp("2023-05-01")
    assert "3 locations in 1 local authority" in pr.subtitle()
    with pytest.raises(ValueError):
        pf.provider_rows(r, "P9")
    peers = pf.peer_shares(r, "Adult social care").set_index("provider_id")
    # by hand: P1 has 3 rated, 1 Good or better; P2 1 of 1; P3 1 rated (L6 unrated), 1 Good
    assert peers.loc["P1", ["n_rated", "n_good"]].tolist() == [3, 1]
    assert peers.loc["P3", ["n_rated", "n_good"]].tolist() == [1, 1]
    funnel = pf.peer_funnel(r, "P1", "Adult social care")
    assert "P1 " not in pf.peer_sentence(funnel, "P1") and pf.peer_sentence(funnel, "P1").startswith("3 rated locations, 33%")
    assert pf.peer_funnel(r, "P9", "Adult social care") is None
    assert "no funnel plot" in pf.peer_sentence(None, "P1")
    wide = pd.DataFrame({"location_name": ["a", "b"], "Overall": ["Good", "Inadequate"],
                         "publication_date": pd.to_datetime(["2020-01-01", "2021-02-03"])})
    cur = pf.current_concerns(wide)
    assert list(cur["location_name"]) == ["b"] and pf.concerns_sentence(cur).startswith("**1 locations")
    assert pf.concerns_sentence(cur.iloc[0:0]) == ""


def test_ratings_by_year_and_journey():
    hist = pd.DataFrame({"report_date": pd.to_datetime(["2019-01-01", "2019-06-01", "2021-01-01"]),
                         "rating": pd.Series(["Good", "Good", "Inadequate"], dtype=RATING_DTYPE),
                         "report_link_id": ["a", "b", "c"], "org_id": ["L1", "L2", "L1"]})
    by = pf.ratings_by_year(hist)
    assert by.loc[2019, "Good"] == 2 and by.loc[2021, "Inadequate"] == 1 and by.loc[2021, "Good"] == 0
    assert pf.history_sentence(hist) == "3 inspection reports on 2 locations, January 2019 to January 2021."
    assert pf.history_sentence(None).startswith("No rating history")
    pairs = pd.DataFrame({"from_rating": pd.Series(["Inadequate", "Good", "Requires improvement"], dtype=RATING_DTYPE),
                          "to_rating": pd.Series(["Good", "Good", "Requires improvement"], dtype=RATING_DTYPE),
                          "change": ["improved", "same", "same"], "months": [10.0, 20.0, 30.0]})
    text = pf.journey_sentence(pairs)
    assert "3 pairs of consecutive inspections: 1 improved, 2 stayed the same, 0 declined." in text
    assert "Of 2 ratings of Requires improvement or Inadequate, 1 were followed by a better one (median 20" in text
    m = pf.provider_transitions(pairs)
    assert m.loc["Inadequate", "Good"] == 1 and m.values.sum() == 3
    assert pf.journey_sentence(None).startswith("No rating history")
    assert pf.journey_sentence(pairs.iloc[0:0]).startswith("Each location")


def test_indicator_year_and_series():
    months = pd.date_range("2023-01-01", periods=14, freq="MS")
    rows = [{"org_code": org, "measure": "m", "period_start": d, "numerator": k, "denominator": 10, "value": k * 10}
            for org in ("A", "B", "C") for k, d in enumerate(months)]
    ind = pd.DataFrame(rows)
    year = pf.indicator_year(ind, "m").set_index("org_code")
    # the latest twelve months: k = 2..13 (period_start > max - 12 months)
    assert year.loc["A", "numerator"] == sum(range(2, 14)) and year.loc["A", "denominator"] == 120
    assert len(pf.indicator_series(ind, "A", "m")) == 14 and pf.indicator_series(ind, "A", "m", min_months=15) is None
    assert pf.indicator_series(None, "A", "m") is None and pf.series_note(None).startswith("Monthly")
    assert pf.indicator_funnel(ind, "Z", "m") is None and pf.profile_spc(None, None, "m") is None
    assert pf.spc_sentence(None) == "No monthly series for this provider."


def test_area_dtoc_sentence_names_the_months_added_up(synthetic_small):
    from cqc_research.io.nhs import load_dtoc, load_la_codes, load_population

    p = synthetic_small.paths
    dtoc, pop, codes = load_dtoc(p["dtoc"]), load_population(p["population"]), load_la_codes(p["la_codes"])
    rates, me, fr, total = pf.dtoc_position(dtoc, pop, None, la_codes=codes)
    area = str(rates["local_authority"].dropna().iloc[0])
    rates, me, fr, total = pf.dtoc_position(dtoc, pop, area, la_codes=codes)
    months = pd.to_datetime(dtoc["period_start"])
    text = pf.area_dtoc_sentence(rates, me, fr, total, area, area)
    first = months.max() - pd.DateOffset(months=11)  # dtoc_rates adds up the latest 12 months by default
    assert text.startswith(f"{first:%Y-%m} to {months.max():%Y-%m}: "), text
    assert "?" not in text


def test_the_profiles_save_the_declared_tables(synthetic_small, tmp_path):
    from test_studies_agreement import assert_tables_match

    from cqc_research.paths import NOTEBOOKS
    from cqc_research.runner import KernelSession

    p = synthetic_small.paths
    with KernelSession(cwd=tmp_path) as kernel:
        for name, tables, params in (
                ("area_profile", pf.AREA_TABLES, {"dtoc_path": p["dtoc"], "population_path": p["population"],
                                                  "la_codes_path": p["la_codes"]}),
                ("provider_profile", pf.PROVIDER_TABLES, {"api_path": p["api_folder"],
                                                          "indicators_path": p["ae_folder"]})):
            run = tmp_path / name
            params = {k: str(v) for k, v in params.items()} | {"ratings_path": str(p["ratings_ods"]),
                                                                "output_dir": str(run)}
            _, error = kernel.execute(NOTEBOOKS / "profiles" / f"{name}.ipynb", run / f"{name}.ipynb", params)
            assert error is None, error
            assert_tables_match(run, tables)
