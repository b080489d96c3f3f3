"""Local systems: area summaries, delayed transfers, ranks with uncertainty."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint

from cqc_research.errors import DataFormatError
from cqc_research.geography import normalise_area_name
from cqc_research.metrics.areas import (
    area_summary,
    dtoc_rates,
    join_dtoc,
    rank_with_uncertainty,
)
from cqc_research.metrics.funnel import funnel_limits
from cqc_research.ratings import RATINGS

Z = 1.959963984540054


def _wilson(k, n):
    p = k / n
    centre = (k + Z**2 / 2) / (n + Z**2)
    half = Z * math.sqrt(p * (1 - p) * n + Z**2 / 4) / (n + Z**2)
    return centre - half, centre + half


@pytest.fixture
def ratings():
    # Two areas in region R1, one in R2. Each row: org, area, region, sector, rating, care home, beds
    rows = [
        ("a1", "Ashby", "R1", "Adult social care", "Good", True, 40),
        ("a2", "Ashby", "R1", "Adult social care", "Inadequate", True, 20),
        ("a3", "Ashby", "R1", "Adult social care", "Requires improvement", False, None),
        ("a4", "Ashby", "R1", "Adult social care", "Not rated", True, 30),
        ("a5", "Ashby", "R1", "GP practices", "Outstanding", False, None),
        ("b1", "Brent", "R1", "Adult social care", "Good", True, 10),
        ("b2", "Brent", "R1", "Adult social care", "Outstanding", True, 30),
        ("c1", "Crewe", "R2", "Adult social care", "Good", True, 25),
        ("c2", "Crewe", "R2", "Adult social care", "Good", False, None),
        ("c3", "Crewe", "R2", "GP practices", "Requires improvement", False, None),
    ]
    out = []
    for org, la, reg, sec, rating, home, _beds in rows:
        for domain in ("Overall", "Safe"):  # the Safe rows must be ignored
            out.append({"level": "location", "org_id": org, "local_authority": la, "region": reg,
                        "sector": sec, "care_home": home, "service_group": "Overall", "domain": domain,
                        "rating": rating if rating in RATINGS else None,
                        "rating_status": "Rated" if rating in RATINGS else rating})
    locs = pd.DataFrame({"org_id": [r[0] for r in rows], "number_of_beds": [r[6] for r in rows],
                         "registration_status": "Registered"})
    return pd.DataFrame(out), locs


def test_area_summary_by_hand(ratings):
    r, locs = ratings
    s = area_summary(r, locations=locs)
    asc = s[s["sector"] == "Adult social care"].set_index("local_authority")
    # Ashby adult social care: 3 rated (Good, Inadequate, RI), 1 Good, 1 not rated.
    a = asc.loc["Ashby"]
    assert (a["n_rated"], a["n_good"], a["n_not_rated"], a["n_inadequate"]) == (3, 1, 1, 1)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(_wilson(1, 3))
    # Beds in rated care homes: 40 (Good) + 20 (Inadequate); the unrated home's 30 are left out.
    assert (a["care_home_beds"], a["beds_good"], a["share_beds_good"]) == (60, 40, pytest.approx(2 / 3))
    n_eff = 60**2 / (40**2 + 20**2)  # Kish: 1.8 effective homes
    assert (a["beds_ci_low"], a["beds_ci_high"]) == pytest.approx(
        proportion_confint(2 / 3 * n_eff, n_eff, method="wilson"))
    # Region R1 adult social care: Ashby 1/3 + Brent 2/2 = 3/5; England: 5/7 (Crewe 2/2).
    assert a["region"] == "R1" and a["region_share_good"] == pytest.approx(3 / 5)
    assert a["england_share_good"] == pytest.approx(5 / 7)
    assert a["diff_vs_england"] == pytest.approx(1 / 3 - 5 / 7)
    assert a["vs_england"] == "similar"  # 3 homes: the interval is wide
    assert asc.loc["Crewe", "region_share_good"] == pytest.approx(1.0)
    # "All sectors" rows add GP practices: Ashby 2 of 4 rated.
    allr = s[s["sector"] == "All sectors"].set_index("local_authority")
    assert (allr.loc["Ashby", "n_rated"], allr.loc["Ashby", "n_good"]) == (4, 2)
    assert allr["england_share_good"].iloc[0] == pytest.approx(6 / 9)


def test_area_summary_flags_an_area_clearly_below_england():
    rows = [{"org_id": f"x{i}", "local_authority": "Low", "sector": "Adult social care",
             "rating": "Good" if i < 20 else "Inadequate"} for i in range(60)]
    rows += [{"org_id": f"y{i}", "local_authority": f"High{i % 5}", "sector": "Adult social care",
              "rating": "Good" if i % 10 else "Requires improvement"} for i in range(500)]
    s = area_summary(pd.DataFrame(rows), include_all_sectors=False).set_index("local_authority")
    assert s.loc["Low", "vs_england"] == "lower"
    assert s.loc["Low", "ci_high"] < s.loc["Low", "england_share_good"]


def test_area_summary_filters_and_errors(ratings):
    r, locs = ratings
    only = area_summary(r, sector="GP practices", include_all_sectors=False)
    assert set(only["sector"]) == {"GP practices"} and only["n_rated"].sum() == 2
    closed = locs.assign(registration_status=np.where(locs["org_id"] == "b1", "Deregistered", "Registered"))
    s = area_summary(r, locations=closed, include_all_sectors=False)
    assert (s["deregistered_dropped"] == 1).all()
    assert s.set_index("local_authority").loc["Brent", "n_rated"] == 1
    dup = pd.concat([r, r.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataFormatError, match="organisation 'a1' has more than one Overall rating"):
        area_summary(dup)
    with pytest.raises(DataFormatError, match="no column.*'ward'"):
        area_summary(r, by="ward")


# ---------------------------------------------------------------------------------------------
def _indicator(rows, measure):
    return pd.DataFrame([{"org_code": c, "org_name": n, "org_level": "local_authority",
                          "period_start": pd.Timestamp(p), "measure": measure, "value": v}
                         for c, n, p, v in rows])


def test_dtoc_rates_by_hand():
    months = pd.date_range("2018-04-01", "2019-03-01", freq="MS")
    rows = [("E1", "Ashby", m, 100.0) for m in months]
    # Brent misses one month (suppressed): 11 observed months of 50 days, scaled to 12.
    rows += [("E2", "Brent", m, np.nan if i == 3 else 50.0) for i, m in enumerate(months)]
    rows += [("E1", "Ashby", "2018-03-01", 999.0)]  # outside the period
    dtoc = _indicator(rows, "dtoc_days_total")
    pop = _indicator([("E1", "Ashby", "2019-01-01", 40_000), ("E2", "Brent", "2019-01-01", 20_000),
                      ("E1", "Ashby", "2010-01-01", 1)], "population_65plus")
    r = dtoc_rates(dtoc, population=pop).set_index("org_code")
    assert (r["period_start"] == pd.Timestamp("2018-04-01")).all()
    assert (r["period_end"] == pd.Timestamp("2019-03-31")).all()
    assert r.loc["E1", "dtoc_days"] == 1200 and r.loc["E1", "population_65plus"] == 40_000
    assert r.loc["E1", "dtoc_per_100k"] == pytest.approx(1200 / 40_000 * 100_000)   # 3000
    assert r.loc["E2", "months_missing"] == 1
    assert r.loc["E2", "dtoc_days"] == pytest.approx(550 * 12 / 11)                  # 600
    assert r.loc["E1", "days_per_day_per_100k"] == pytest.approx(3000 / 365)
    # Exact Poisson (Garwood) interval on 1200 days: chi2(0.025, 2400) / 2, chi2(0.975, 2402) / 2
    lo, hi = stats.chi2.ppf(0.025, 2400) / 2, stats.chi2.ppf(0.975, 2402) / 2
    assert (r.loc["E1", "ci_low"], r.loc["E1", "ci_high"]) == pytest.approx((lo * 2.5, hi * 2.5))
    # the textbook value for 10 events: (4.795, 18.390)
    small = dtoc_rates(_indicator([("E9", "Tiny", "2019-03-01", 10.0)], "dtoc_days_total"),
                       population=_indicator([("E9", "Tiny", "2019-01-01", 100_000)], "population_65plus"),
                       start="2019-03-01")
    assert (small["ci_low"].iloc[0], small["ci_high"].iloc[0]) == pytest.approx((4.795, 18.390), abs=1e-3)


def test_dtoc_old_codes_are_mapped():
    dtoc = _indicator([("9AA", "Ashby", "2016-05-01", 10.0), ("E1", "Ashby", "2017-05-01", 30.0)],
                      "dtoc_days_total")
    pop = _indicator([("E1", "Ashby", "2017-01-01", 1000)], "population_65plus")
    r = dtoc_rates(dtoc, population=pop, start="2016-05-01", end="2017-05-01", la_codes=pd.DataFrame(
        {"old_code": ["9AA"], "new_code": ["E1"]}))
    assert r["org_code"].tolist() == ["E1"] and r["months"].iloc[0] == 2


def test_join_by_normalised_name():
    assert normalise_area_name("Bristol, City of") == normalise_area_name("City of Bristol") == "bristol"
    assert normalise_area_name("Kingston upon Hull, City of") == "kingston upon hull"
    summary = pd.DataFrame({"local_authority": ["Bristol, City of", "Brighton and Hove", "Nowhere"],
                            "share_good": [0.8, 0.7, 0.6]})
    rates = pd.DataFrame({"org_code": ["E06000023", "E06000043"], "org_name": ["City of Bristol", "Brighton & Hove"],
                          "dtoc_days": [10.0, 20.0], "population_65plus": [1e4, 2e4], "dtoc_per_100k": [100.0, 100.0],
                          "ci_low": [50.0, 60.0], "ci_high": [180.0, 150.0], "days_per_day_per_100k": [0.3, 0.3],
                          "months_missing": [0, 0]})
    j = join_dtoc(summary, rates=rates)
    assert j["org_code"].tolist()[:2] == ["E06000023", "E06000043"]
    assert j.loc[j["dtoc_per_100k"].isna(), "local_authority"].tolist() == ["Nowhere"]
    assert (j["dtoc_areas_without_ratings"] == 0).all()
    with pytest.raises(DataFormatError, match="measure"):
        dtoc_rates(rates, population=rates)


# ---------------------------------------------------------------------------------------------
def test_rank_probability_matches_numerical_integration():
    # Two units: P(unit A is the worse one) = P(pA < pB) = integral f_A(x) (1 - F_B(x)) dx.
    d = pd.DataFrame({"u": ["A", "B"], "k": [30, 36], "n": [50, 50]})
    r = rank_with_uncertainty(d, unit="u", successes="k", n="n", n_sim=200_000, bottom=1).set_index("u")
    a, b = stats.beta(30.5, 20.5), stats.beta(36.5, 14.5)
    p_a_worse, _ = integrate.quad(lambda x: a.pdf(x) * b.sf(x), 0, 1)
    assert r.loc["A", "p_bottom"] == pytest.approx(p_a_worse, abs=0.005)
    assert r.loc["B", "p_top"] == pytest.approx(p_a_worse, abs=0.005)
    assert (r.loc["A", "estimate_low"], r.loc["A", "estimate_high"]) == pytest.approx(a.ppf([0.025, 0.975]))


def test_ranks_separate_a_planted_outlier_and_stay_wide_otherwise():
    rng = np.random.default_rng(3)
    n = np.full(12, 200)
    p = np.r_[np.full(11, 0.9), 0.6]  # planted: the last unit is much worse
    d = pd.DataFrame({"u": [f"u{i}" for i in range(12)], "k": rng.binomial(n, p), "n": n})
    r = rank_with_uncertainty(d, unit="u", successes="k", n="n", bottom=1).set_index("u")
    assert (r.loc["u11", "rank_low"], r.loc["u11", "rank_high"]) == (12, 12)
    assert r.loc["u11", "p_bottom"] > 0.999
    others = r.drop(index="u11")
    assert (others["rank_high"] - others["rank_low"]).median() >= 6  # the rest are not separable
    again = rank_with_uncertainty(d, unit="u", successes="k", n="n", bottom=1)
    pd.testing.assert_frame_equal(r.reset_index(), again)  # seeded: reproducible


def test_rank_rates_lower_is_better():
    d = pd.DataFrame({"la": ["a", "b", "c"], "days": [100, 1000, 500], "pop": [1e4, 1e4, 1e4]})
    r = rank_with_uncertainty(d, unit="la", events="days", exposure="pop", higher_is_better=False, bottom=1)
    assert r["la"].tolist() == ["a", "c", "b"] and r["p_bottom"].iloc[-1] > 0.999
    with pytest.raises(ValueError, match="successes and n .* or events and exposure"):
        rank_with_uncertainty(d, unit="la", successes="days", events="days", exposure="pop")


# ---------------------------------------------------------------------------------------------
# planted truth: struggling areas
def test_synthetic_struggling_areas_are_found(synthetic_small):
    from cqc_research.io import nhs
    from cqc_research.io.cqc_json import load_api_folder

    truth = synthetic_small.truth["areas"]
    paths = synthetic_small.paths
    api = load_api_folder(paths["api_folder"])
    s = area_summary(api.ratings, locations=api.locations, sector="Adult social care",
                     include_all_sectors=False)
    assert set(truth["struggling"]) <= set(s["local_authority"])
    struggling = s["local_authority"].isin(truth["struggling"])
    # Pooled over areas, struggling adult social care is rated Good or better less often.
    k1, n1 = s.loc[struggling, "n_good"].sum(), s.loc[struggling, "n_rated"].sum()
    k0, n0 = s.loc[~struggling, "n_good"].sum(), s.loc[~struggling, "n_rated"].sum()
    diff = k0 / n0 - k1 / n1
    se = math.sqrt(k0 / n0 * (1 - k0 / n0) / n0 + k1 / n1 * (1 - k1 / n1) / n1)
    assert diff - Z * se > 0
    # The lowest area by share is a struggling one, and the funnel flags it (or it is lowest in
    # the ranking with most of its probability mass at the bottom).
    f = funnel_limits(s, numerator="n_good", denominator="n_rated", unit="local_authority")
    lowest = f.sort_values("z_adj")["local_authority"].iloc[0]
    assert lowest in truth["struggling"]
    rk = rank_with_uncertainty(s, unit="local_authority", successes="n_good", n="n_rated", bottom=2)
    p_bottom = rk.set_index("local_authority")["p_bottom"]
    assert p_bottom[truth["struggling"]].max() == p_bottom.max()
    # Delayed transfers per 100,000 aged 65+ are doubled there: the two highest rates.
    rates = dtoc_rates(nhs.load_dtoc(paths["dtoc"]), population=nhs.load_population(paths["population"]),
                       la_codes=nhs.load_la_codes(paths["la_codes"]))
    j = join_dtoc(s, rates=rates)
    assert j["dtoc_per_100k"].notna().all()
    top = j.sort_values("dtoc_per_100k", ascending=False)["local_authority"].head(len(truth["struggling"]))
    assert set(top) == set(truth["struggling"])
    assert set(j.loc[j["local_authority"].isin(truth["struggling"]), "org_code"]) == set(truth["struggling_codes"])
    fr = funnel_limits(j, numerator="dtoc_days", denominator="population_65plus", unit="local_authority", kind="rate",
                       multiplier=100_000)
    high = fr.loc[fr["z_adj"] > 0].sort_values("z_adj", ascending=False)["local_authority"].head(2)
    assert set(high) == set(truth["struggling"])


# ---------------------------------------------------------------------------------------------
# real data
@pytest.mark.realdata
def test_oldham_area_summary_matches_plain_loops(shared_data):
    from cqc_research.io.cqc_json import load_api_folder

    folder = shared_data / "cqc_api_oldham_2024"
    n_rated = n_good = beds = beds_good = 0
    for f in sorted((folder / "locations").glob("*.json")):
        d = json.loads(f.read_text())
        if d.get("registrationStatus") != "Registered":
            continue
        cur = (d.get("currentRatings") or {}).get("overall") or {}
        rating, when = cur.get("rating"), (cur.get("reportDate") or "")[:10]
        for a in d.get("assessment") or []:  # a newer published assessment is the current rating
            pub = (a.get("assessmentPlanPublishedDateTime") or "")[:10]
            for g in (a.get("ratings") or {}).get("asgRatings") or []:
                if g.get("rating") in RATINGS and pub and pub > when:
                    rating, when = g["rating"], pub
        if rating not in RATINGS:
            continue
        n_rated += 1
        good = rating in ("Good", "Outstanding")
        n_good += good
        if d.get("careHome") == "Y" and d.get("numberOfBeds"):
            beds += d["numberOfBeds"]
            beds_good += d["numberOfBeds"] * good
    api = load_api_folder(folder)
    s = area_summary(api.ratings, locations=api.locations)
    allr = s[s["sector"] == "All sectors"].set_index("local_authority").loc["Oldham"]
    assert (allr["n_rated"], allr["n_good"]) == (n_rated, n_good)
    assert (allr["care_home_beds"], allr["beds_good"]) == (beds, beds_good)
    assert n_rated > 100 and beds > 500
    assert (s["deregistered_dropped"] > 0).all()


@pytest.mark.realdata
def test_real_dtoc_total_matches_the_csv(shared_data):
    from cqc_research.io import nhs

    path = shared_data / "dtoc_la_days_by_reason_2011_2019.csv"
    expected = 0.0
    months = set()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Oldham" and row["Period"].split()[-1] in ("2018", "2019"):
                month = pd.Timestamp("1 " + row["Period"])
                if pd.Timestamp("2018-04-01") <= month <= pd.Timestamp("2019-03-01"):
                    expected += float(row["Total Delayed Transfers of Care"])
                    months.add(month)
    assert len(months) == 12
    dtoc = nhs.load_dtoc(path)
    oldham = dtoc.loc[dtoc["org_name"] == "Oldham", "org_code"].iloc[-1]
    pop = _indicator([(oldham, "Oldham", "2018-01-01", 37_000)], "population_65plus")  # an input
    r = dtoc_rates(dtoc, population=pop, start="2018-04-01", end="2019-03-01")
    row = r.set_index("org_code").loc[oldham]
    assert row["dtoc_days"] == expected and row["months"] == 12
    assert row["dtoc_per_100k"] == pytest.approx(expected / 37_000 * 100_000)


# ---------------------------------------------------------------------------------------------
# figures
def test_area_figures_mark_the_highlighted_areas(ratings):
    import matplotlib.pyplot as plt

    from cqc_research.plots.areas import area_share_plot, ranking_plot

    r, locs = ratings
    s = area_summary(r, locations=locs)
    fig = area_share_plot(s, highlight="Ashby")
    red = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_color() == "#c8102e"]
    assert red == ["Ashby (3)"]
    asc = s[s["sector"] == "Adult social care"]
    ranks = rank_with_uncertainty(asc, unit="local_authority", successes="n_good", n="n_rated")
    fig = ranking_plot(ranks, unit="local_authority", highlight=["Crewe"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ranks.sort_values(["rank_median", "rank"])["local_authority"].tolist()
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# notebook 05, once, on the small synthetic dataset
def test_notebook_05_writes_area_tables_and_figures(synthetic_small, tmp_path):
    import papermill as pm

    from cqc_research.paths import NOTEBOOKS

    p = synthetic_small.paths
    run = tmp_path / "run"
    pm.execute_notebook(str(NOTEBOOKS / "05_local_systems.ipynb"), str(tmp_path / "05.ipynb"),
                        parameters={"ratings_path": str(p["ratings_ods"]), "api_path": str(p["api_folder"]),
                                    "dtoc_path": str(p["dtoc"]), "population_path": str(p["population"]),
                                    "la_codes_path": str(p["la_codes"]), "output_dir": str(run)},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    for name in ("area_summary", "region_summary", "area_funnel", "area_ranks", "area_dtoc", "dtoc_funnel",
                 "planted_truth_areas"):
        table = pd.read_csv(run / "tables" / f"{name}.csv")
        assert (table["data_status"] == "SYNTHETIC DATA").all(), name
    summary = pd.read_csv(run / "tables" / "area_summary.csv")
    assert {"local_authority", "sector", "n_rated", "share_good", "ci_low", "ci_high",
            "england_share_good"} <= set(summary.columns)
    funnel = pd.read_csv(run / "tables" / "area_funnel.csv")
    assert {"z", "z_adj", "lower_95", "upper_998", "outside_95", "outside_998"} <= set(funnel.columns)
    planted = pd.read_csv(run / "tables" / "planted_truth_areas.csv").set_index("quantity")
    assert (planted["verdict"] == "recovered").all(), planted.to_string()
    dtoc = planted.loc["struggling areas: delayed transfers per 100,000 aged 65+, ratio to the other areas"]
    assert dtoc["estimate"] > 1  # more delays where planted (detection: test_truth.py, on the test scale)
    for fig in ("area_shares", "area_funnel", "area_ranking", "dtoc_vs_quality", "dtoc_funnel"):
        assert (run / "figures" / f"{fig}.png").is_file()
