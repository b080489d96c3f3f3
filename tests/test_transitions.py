"""Rating transitions: hand-made histories, Kaplan-Meier by hand, planted truth, real Oldham data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.metrics.transitions import (
    DAYS_PER_MONTH,
    consecutive_pairs,
    history_from_snapshots,
    improvement_from,
    time_to_improvement,
    transition_matrix,
)
from cqc_research.ratings import RATINGS, sector_of


def _pairs_with_report(*args, **kwargs):
    """consecutive_pairs with its report of what was dropped (``with_report=True``)."""
    return consecutive_pairs(*args, with_report=True, **kwargs)


def _panel(rows, **const):
    """A history panel from (org_id, date, rating or status[, extra columns]) tuples."""
    out = []
    for r in rows:
        org, date, value, *rest = r
        extra = rest[0] if rest else {}
        rated = value in RATINGS
        out.append({"org_id": org, "level": "location", "sector": "Adult social care",
                    "report_date": pd.Timestamp(date), "domain": "Overall",
                    "rating": value if rated else None,
                    "rating_status": "Rated" if rated else value, "source": "historic",
                    "report_link_id": f"{org}-{date}", "organisation_id": None, **const, **extra})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# pairing rules
def test_pairs_sorted_non_scale_dropped_and_counted():
    h = _panel([
        ("a", "2019-01-01", "Good"),            # given out of order on purpose
        ("a", "2016-01-01", "Inadequate"),
        ("a", "2017-03-01", "Inspected but not rated"),
        ("a", "2017-06-01", "Requires improvement"),
        ("b", "2018-01-01", "Good"),
        ("b", "2020-01-01", "No published rating"),
    ])
    p, p_report = _pairs_with_report(h)
    assert p[["from_rating", "to_rating"]].astype(str).values.tolist() == [
        ["Inadequate", "Requires improvement"], ["Requires improvement", "Good"]]
    assert p["change"].tolist() == ["improved", "improved"]
    assert p["step"].tolist() == [1, 1]
    assert p["months"].iloc[0] == pytest.approx((pd.Timestamp("2017-06-01") - pd.Timestamp("2016-01-01")).days
                                                / DAYS_PER_MONTH)
    rep = p_report
    assert rep["non_scale_dropped"] == 2
    assert rep["non_scale_by_status"] == {"Inspected but not rated": 1, "No published rating": 1}
    assert rep["pairs"] == 2 and rep["journeys"] == 2


def test_repeated_reports_are_counted_once_preferring_current():
    h = _panel([("a", "2016-01-01", "Inadequate"), ("a", "2017-01-01", "Good")])
    dup = h.iloc[[1]].assign(source="current")  # the same report in currentRatings
    p, p_report = _pairs_with_report(pd.concat([h, dup], ignore_index=True))
    assert len(p) == 1 and p_report["duplicates_dropped"] == 1
    assert p_report["duplicates_with_different_ratings"] == 0


def test_predecessor_chain_continues_one_history():
    # RW603-like predecessor "old" and its successor "new" (re-registration in 2021). The
    # successor inherited the 2016 and 2018 ratings (organisation_id = "old"); the predecessor's
    # own file holds them too. One journey, no double counting.
    old = _panel([("old", "2016-08-12", "Inadequate"), ("old", "2018-03-01", "Requires improvement"),
                  ("old", "2020-02-07", "Requires improvement")], sector="NHS hospitals")
    new = _panel([("new", "2016-08-12", "Inadequate", {"organisation_id": "old"}),
                  ("new", "2018-03-01", "Requires improvement", {"organisation_id": "old"}),
                  ("new", "2022-12-22", "Good")], sector="NHS hospitals")
    rel = pd.DataFrame({"org_id": ["new", "old"], "related_id": ["old", "new"],
                        "type": ["HSCA Predecessor", "HSCA Successor"]})
    p, p_report = _pairs_with_report(pd.concat([old, new], ignore_index=True), relationships=rel)
    assert p["journey_id"].unique().tolist() == ["new"]
    assert p[["from_rating", "to_rating"]].astype(str).values.tolist() == [
        ["Inadequate", "Requires improvement"], ["Requires improvement", "Requires improvement"],
        ["Requires improvement", "Good"]]
    assert p["from_org_id"].tolist()[-1] == "old" and p["org_id"].tolist()[-1] == "new"
    assert p_report["links_followed"] == 1
    assert p_report["duplicates_dropped"] == 2
    # Without following predecessors: two journeys, and the successor's inherited rows go.
    q, q_report = _pairs_with_report(pd.concat([old, new], ignore_index=True), relationships=rel,
                          follow_predecessors=False)
    assert sorted(q["journey_id"].unique()) == ["old"]  # "new" has one own rating: no pair
    assert q_report["inherited_rows_dropped"] == 2
    assert len(q) == 2


def test_splits_and_mergers_are_not_chained():
    h = _panel([("p", "2016-01-01", "Inadequate"), ("s1", "2018-01-01", "Good"),
                ("s2", "2018-02-01", "Good"), ("s1", "2020-01-01", "Good")])
    rel = pd.DataFrame({"org_id": ["s1", "s2"], "related_id": ["p", "p"],
                        "type": ["HSCA Predecessor", "HSCA Predecessor"]})
    p, p_report = _pairs_with_report(h, relationships=rel)
    assert p_report["links_not_one_to_one"] == 2 and p_report["links_followed"] == 0
    assert p[["from_rating", "to_rating"]].astype(str).values.tolist() == [["Good", "Good"]]


def test_level_and_domain_filters():
    loc = _panel([("a", "2016-01-01", "Good"), ("a", "2018-01-01", "Outstanding")])
    prov = _panel([("P", "2016-01-01", "Good"), ("P", "2018-01-01", "Good")], level="provider")
    safe = _panel([("a", "2016-01-01", "Requires improvement"), ("a", "2018-01-01", "Good")], domain="Safe")
    h = pd.concat([loc, prov, safe], ignore_index=True)
    assert len(consecutive_pairs(h)) == 2
    assert len(consecutive_pairs(h, level=None)) == 3
    only = consecutive_pairs(h, domain="Safe")
    assert only["domain"].astype(str).tolist() == ["Safe"] and only["change"].tolist() == ["improved"]


def test_bad_history_names_the_column():
    with pytest.raises(DataFormatError, match="no column.*'rating'"):
        consecutive_pairs(pd.DataFrame({"org_id": ["a"], "report_date": ["2020-01-01"], "domain": ["Overall"]}))
    h = _panel([("a", "2016-01-01", "Good")]).astype({"report_date": object})
    h.loc[0, "report_date"] = "last Tuesday"
    with pytest.raises(DataFormatError, match="column 'report_date'.*'last Tuesday'"):
        consecutive_pairs(h)


# ---------------------------------------------------------------------------------------------
# matrices and improvement shares
def test_transition_matrix_counts_shares_and_wilson_interval():
    rows = []
    # 10 services rated Inadequate: 2 stay, 5 go to Requires improvement, 3 to Good.
    for i, to in enumerate(["Inadequate"] * 2 + ["Requires improvement"] * 5 + ["Good"] * 3):
        rows += [(f"s{i}", "2016-01-01", "Inadequate"), (f"s{i}", "2017-01-01", to)]
    m = transition_matrix(_panel(rows), by=["sector", "domain"], ci="wilson")
    assert len(m) == 16  # every cell, zeros included
    cell = m.query("from_rating == 'Inadequate' and to_rating == 'Requires improvement'").iloc[0]
    assert (cell["n"], cell["row_n"], cell["share"]) == (5, 10, 0.5)
    # Wilson by hand: centre (k + z^2/2) / (n + z^2), half-width z sqrt(p q n + z^2/4) / (n + z^2)
    z = 1.959963984540054
    centre = (5 + z**2 / 2) / (10 + z**2)
    half = z * math.sqrt(0.5 * 0.5 * 10 + z**2 / 4) / (10 + z**2)
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((centre - half, centre + half))
    empty = m.query("from_rating == 'Good'")
    assert empty["n"].sum() == 0 and empty["share"].isna().all()
    # Goodman's simultaneous intervals are wider than Wilson's for every cell of the row.
    g = transition_matrix(_panel(rows), by=None)
    w = transition_matrix(_panel(rows), by=None, ci="wilson")
    row = (g["from_rating"] == "Inadequate").to_numpy()
    assert ((g["ci_high"] - g["ci_low"])[row] > (w["ci_high"] - w["ci_low"])[row]).all()
    assert g.loc[row, "share"].sum() == pytest.approx(1.0)


def test_improvement_from_inadequate_split_by_destination():
    rows = []
    outcomes = ["Good"] * 23 + ["Requires improvement"] * 53 + ["Inadequate"] * 24  # CQC's 76%
    for i, to in enumerate(outcomes):
        rows += [(f"s{i}", "2016-01-01", "Inadequate"), (f"s{i}", "2016-09-01", to)]
    t = improvement_from(_panel(rows), by="sector").set_index("outcome")
    assert t.loc["improved", "share"] == pytest.approx(0.76)
    assert t.loc["to Good", "share"] == pytest.approx(0.23)
    assert t.loc["to Requires improvement", "share"] == pytest.approx(0.53)
    assert t.loc["same", "n"] == 24 and t.loc["worse", "n"] == 0 and t.loc["improved", "total"] == 100
    assert t.loc["improved", "ci_low"] < 0.76 < t.loc["improved", "ci_high"]


def test_first_only_counts_one_case_per_journey():
    h = _panel([("a", "2016-01-01", "Inadequate"), ("a", "2016-08-01", "Inadequate"),
                ("a", "2017-03-01", "Good"), ("b", "2016-01-01", "Inadequate"),
                ("b", "2016-09-01", "Requires improvement")])
    every = improvement_from(h, by=None).set_index("outcome")
    first = improvement_from(h, by=None, first_only=True).set_index("outcome")
    assert every.loc["improved", "total"] == 3 and every.loc["improved", "n"] == 2
    assert first.loc["improved", "total"] == 2 and first.loc["improved", "n"] == 1


def test_history_from_monthly_snapshots():
    def snap(month, ratings):
        return pd.DataFrame({"level": "location", "org_id": list(ratings), "service_group": "Overall",
                             "domain": "Overall", "sector": "GP practices",
                             "rating": [r for r, _ in ratings.values()],
                             "rating_status": "Rated",
                             "publication_date": pd.to_datetime([d for _, d in ratings.values()]),
                             "snapshot": month})
    s1 = snap("2019-01", {"x": ("Inadequate", "2018-11-02"), "y": ("Good", "2017-05-01")})
    s2 = snap("2019-02", {"x": ("Inadequate", "2018-11-02"), "y": ("Good", "2017-05-01")})
    s3 = snap("2019-06", {"x": ("Good", "2019-05-20"), "y": ("Good", "2017-05-01")})
    h = history_from_snapshots([s1, s2, s3])
    assert len(h) == 3 and (h["source"] == "snapshot").all()
    p = consecutive_pairs(h)
    assert p[["org_id", "from_rating", "to_rating"]].astype(str).values.tolist() == [
        ["x", "Inadequate", "Good"]]


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier against a hand-worked example
def test_time_to_improvement_kaplan_meier_by_hand():
    h = _panel([
        ("A", "2020-01-01", "Inadequate"), ("A", "2020-04-01", "Requires improvement"),   # event, 91 days
        ("B", "2020-01-01", "Inadequate"), ("B", "2020-07-01", "Inadequate"),
        ("B", "2021-01-01", "Good"),                                                       # event, 366 days
        ("C", "2021-01-01", "Inadequate"),                                                 # censored, 365 days
        ("D", "2020-06-01", "Inadequate"), ("D", "2020-12-01", "Requires improvement"),   # event, 183 days
        ("E", "2021-07-01", "Inadequate"),                                                 # censored, 184 days
        ("F", "2019-01-01", "Good"), ("F", "2019-07-01", "Inadequate"),
        ("F", "2020-01-01", "Requires improvement"),                                       # event, 184 days
    ])
    res = time_to_improvement(h, data_date="2022-01-01", by="sector")
    ep = res.episodes.set_index("journey_id")
    assert ep["improved"].to_dict() == {"A": 1, "B": 1, "C": 0, "D": 1, "E": 0, "F": 1}
    assert (ep["months"] * DAYS_PER_MONTH).round().astype(int).to_dict() == {
        "A": 91, "B": 366, "C": 365, "D": 183, "E": 184, "F": 184}
    assert ep.loc["B", "to_rating"] == "Good" and ep.loc["C", "censor_reason"] == "data date"
    # Product-limit arithmetic, times in days (events before censorings at a tie):
    #   t=91 : 6 at risk, 1 event  S = 5/6
    #   t=183: 5 at risk, 1 event  S = 5/6 * 4/5 = 2/3
    #   t=184: 4 at risk (E, F, C, B), 1 event (F), E censored  S = 2/3 * 3/4 = 1/2
    #   t=365: C censored
    #   t=366: 1 at risk, 1 event  S = 0
    s = res.survival.set_index((res.survival["months"] * DAYS_PER_MONTH).round().astype(int))
    assert s.loc[0, "surv"] == 1.0
    assert s.loc[[91, 183, 184, 366], "surv"].tolist() == pytest.approx([5 / 6, 2 / 3, 1 / 2, 0.0])
    assert s.loc[[91, 183, 184, 366], "at_risk"].tolist() == [6, 5, 4, 1]
    # Greenwood at t=184: S^2 * (1/(6*5) + 1/(5*4) + 1/(4*3)) = 0.25 * 1/6
    assert s.loc[184, "se"] == pytest.approx(math.sqrt(0.25 / 6))
    # log(-log) interval at t=184 by hand
    z = 1.959963984540054
    se_t = math.sqrt(0.25 / 6) / (0.5 * abs(math.log(0.5)))
    lo = math.exp(-math.exp(math.log(-math.log(0.5)) + z * se_t))
    hi = math.exp(-math.exp(math.log(-math.log(0.5)) - z * se_t))
    assert (s.loc[184, "ci_low"], s.loc[184, "ci_high"]) == pytest.approx((lo, hi))
    med = res.median.iloc[0]
    assert (med["n"], med["events"], med["censored"]) == (6, 4, 2)
    # statsmodels (like SAS) takes the first t with S(t) < 1/2 strictly: 366 days here, since
    # S = 1/2 exactly from 184 to 366 days (R's survfit would give the midpoint, 275 days).
    assert med["median_months"] == pytest.approx(366 / DAYS_PER_MONTH)
    assert med["ci_low"] <= med["median_months"]
    by6 = res.improved_by.set_index("months").loc[6]
    assert by6["improved_share"] == pytest.approx(1 / 6)  # 6 months = 182.6 days: only A improved


def test_deregistration_censors_the_spell():
    h = _panel([("G", "2020-01-01", "Inadequate"), ("H", "2020-01-01", "Inadequate"),
                ("H", "2020-05-01", "Good")])
    ends = pd.DataFrame({"org_id": ["G"], "deregistration_date": [pd.Timestamp("2020-03-01")]})
    res = time_to_improvement(h, data_date="2022-01-01", end_dates=ends, by=None)
    g = res.episodes.set_index("journey_id").loc["G"]
    assert g["censor_reason"] == "deregistered" and round(g["months"] * DAYS_PER_MONTH) == 60


# ---------------------------------------------------------------------------------------------
# planted truth in the synthetic data
def _history_from_api_folder(folder: Path):
    """The history panel and relationships, from the API-folder loader (it exists: no fallback)."""
    from cqc_research.io.cqc_json import load_api_folder

    api = load_api_folder(folder)
    return api.history, api.relationships


def test_synthetic_transition_matrix_recovers_planted_truth(synthetic_small):
    truth = synthetic_small.truth
    history, rel = _history_from_api_folder(synthetic_small.paths["api_folder"])
    struggling = set(truth["areas"]["struggling"])
    # Adult social care in the struggling areas follows another matrix: leave it out.
    keep = ~((history["sector"].astype(str) == "Adult social care")
             & history["local_authority"].isin(struggling))
    m = transition_matrix(history[keep.to_numpy()], by=["sector"], domain="Overall", relationships=rel,
                          alpha=0.01)
    checked = 0
    for sector, matrix in truth["transitions"]["matrix"].items():
        sub = m[m["sector"].astype(str) == sector]
        for i, fr in enumerate(RATINGS):
            row = sub[sub["from_rating"].astype(str) == fr]
            if row["row_n"].iloc[0] < 20:
                continue  # too few pairs from this rating to say anything
            for j, to in enumerate(RATINGS):
                cell = row[row["to_rating"].astype(str) == to].iloc[0]
                assert cell["ci_low"] - 1e-9 <= matrix[i][j] <= cell["ci_high"] + 1e-9, (sector, fr, to, cell)
                checked += 1
    assert checked >= 24  # at least the Good and Requires improvement rows of every sector
    # The matrix is estimated, not copied: the Good -> Good share is near, not equal to, the truth.
    gp = m[(m["sector"].astype(str) == "GP practices") & (m["from_rating"] == "Good") & (m["to_rating"] == "Good")]
    assert abs(gp["share"].iloc[0] - truth["transitions"]["matrix"]["GP practices"][2][2]) < 0.06


def test_synthetic_improvement_and_struggling_areas(synthetic_small):
    truth = synthetic_small.truth
    history, rel = _history_from_api_folder(synthetic_small.paths["api_folder"])
    asc = history[history["sector"].astype(str) == "Adult social care"].copy()
    asc["struggling"] = asc["local_authority"].isin(truth["areas"]["struggling"])
    t = improvement_from(asc, start="Requires improvement", by="struggling", relationships=rel)
    imp = t[t["outcome"] == "improved"].set_index("struggling")
    # Planted: from Requires improvement, 0.52 improve in ordinary areas, 0.38 in struggling ones
    m, s = truth["transitions"]["matrix"]["Adult social care"], truth["transitions"]["matrix_struggling_areas"]["Adult social care"]
    assert imp.loc[False, "ci_low"] <= m[1][2] + m[1][3] <= imp.loc[False, "ci_high"]
    assert imp.loc[True, "ci_low"] <= s[1][2] + s[1][3] <= imp.loc[True, "ci_high"]
    assert imp.loc[True, "share"] < imp.loc[False, "share"]


def test_synthetic_time_to_improvement_is_consistent(synthetic_small):
    history, rel = _history_from_api_folder(synthetic_small.paths["api_folder"])
    res = time_to_improvement(history, start="Requires improvement", relationships=rel,
                              data_date=synthetic_small.truth["data_date"])
    ep = res.episodes
    assert (ep["months"] >= 0).all() and set(ep["improved"]) <= {0, 1}
    # Every uncensored spell ends at a better rating.
    better = ep.loc[ep["improved"] == 1, "to_rating"].astype(str)
    assert better.isin(["Good", "Outstanding"]).all()
    # The KM share improved by a horizon can only grow, and its interval brackets it.
    assert len(better) > 0 and res.improved_by["sector"].nunique() > 0
    for _, g in res.improved_by.groupby("sector", observed=True):
        assert np.all(np.diff(g["improved_share"].to_numpy()) >= -1e-12)
        g = g.dropna(subset=["ci_low", "ci_high"])  # no interval once everyone has improved
        assert (g["ci_low"] <= g["improved_share"] + 1e-12).all()
        assert (g["improved_share"] <= g["ci_high"] + 1e-12).all()


# ---------------------------------------------------------------------------------------------
# real data: Oldham, counts worked out independently with plain loops over the JSON
@pytest.mark.realdata
def test_oldham_transitions_match_plain_loop_counts(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    files = sorted((folder / "locations").glob("*.json"))
    records = {}
    for f in files:
        d = json.loads(f.read_text())
        records[d["locationId"]] = d

    def overall_by_date(d):
        """date -> Overall rating on the scale, from current and historic ratings."""
        seen = {}
        cur = d.get("currentRatings", {}).get("overall")
        if cur and cur.get("rating") in RATINGS:
            seen[cur["reportDate"]] = cur["rating"]
        for h in d.get("historicRatings", []):
            o = h.get("overall")
            if o and o.get("rating") in RATINGS and h["reportDate"] not in seen:
                seen[h["reportDate"]] = o["rating"]
        for a in d.get("assessment") or []:  # single assessment framework: date of publication
            when = (a.get("assessmentPlanPublishedDateTime") or "")[:10]
            for g in (a.get("ratings") or {}).get("asgRatings") or []:
                if when and g.get("rating") in RATINGS and when not in seen:
                    seen[when] = g["rating"]
        return seen

    # predecessor -> successor links from both sides; keep one-to-one links only
    links = set()
    for lid, d in records.items():
        for r in d.get("relationships", []):
            if r["type"] == "HSCA Predecessor":
                links.add((r["relatedLocationId"], lid))
            elif r["type"] == "HSCA Successor":
                links.add((lid, r["relatedLocationId"]))
    succ_count, pred_count = {}, {}
    for p, s in links:
        succ_count[p] = succ_count.get(p, 0) + 1
        pred_count[s] = pred_count.get(s, 0) + 1
    successor = {p: s for p, s in links if succ_count[p] == 1 and pred_count[s] == 1}
    has_predecessor = set(successor.values())

    expected = {}
    n_journeys = 0
    for lid in sorted(set(records) | set(successor)):
        if lid in has_predecessor:
            continue  # counted from the start of its chain (which may lie outside Oldham)
        chain = [lid]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        merged = {}
        for member in chain:
            if member in records:
                for date, rating in overall_by_date(records[member]).items():
                    merged[date] = rating
        dates = sorted(merged)
        sector = None
        for member in reversed(chain):
            if member in records:
                cats = [c["name"] for c in records[member].get("inspectionCategories", [])
                        if c.get("primary") == "true"]
                sector = sector_of(cats[0] if cats else None)
                break
        if dates:
            n_journeys += 1
        for a, b in zip(dates[:-1], dates[1:], strict=True):
            key = (sector, merged[a], merged[b])
            expected[key] = expected.get(key, 0) + 1

    history, rel = _history_from_api_folder(folder)
    m = transition_matrix(history, by=["sector"], domain="Overall", relationships=rel)
    got = {(str(r.sector), str(r.from_rating), str(r.to_rating)): int(r.n)
           for r in m.itertuples() if r.n > 0}
    assert got == expected
    assert sum(expected.values()) > 200  # Oldham has a few hundred consecutive pairs
    # Hand-checked case: the Royal Oldham Hospital re-registered from RW603 to RM317 in 2021;
    # its journey runs Inadequate (2016) -> Requires improvement (2018, 2020, 2021).
    p, p_report = _pairs_with_report(history, domain="Overall", relationships=rel)
    roh = p[p["journey_id"] == "RM317"]
    assert roh[["from_rating", "to_rating"]].astype(str).values.tolist() == [
        ["Inadequate", "Requires improvement"], ["Requires improvement", "Requires improvement"],
        ["Requires improvement", "Requires improvement"]]
    assert p_report["non_scale_dropped"] > 0


# ---------------------------------------------------------------------------------------------
# figures
def test_transition_figures_show_the_numbers():
    import matplotlib.pyplot as plt

    from cqc_research.plots.transitions import improvement_plot, km_plot, transition_heatmap

    rows = []
    for i, to in enumerate(["Inadequate"] * 2 + ["Requires improvement"] * 5 + ["Good"] * 3):
        rows += [(f"s{i}", "2016-01-01", "Inadequate"), (f"s{i}", "2017-01-01", to)]
    h = _panel(rows)
    fig = transition_heatmap(transition_matrix(h))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "50%\n(5)" in texts and "30%\n(3)" in texts and "20%\n(2)" in texts
    fig = improvement_plot(improvement_from(h))
    assert "improved 80% (49% to 94%)" in fig.axes[0].get_yticklabels()[0].get_text()
    res = time_to_improvement(h, data_date="2018-01-01")
    fig = km_plot(res, min_n=20)  # 10 spells: too few to draw, and said so
    assert any("too few to draw: Adult social care (n=10)" in t.get_text() for t in fig.axes[0].texts)
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# notebook 03, once, on the small synthetic dataset
def test_notebook_03_writes_the_transitions_table(synthetic_small, tmp_path):
    import papermill as pm

    from cqc_research.paths import NOTEBOOKS

    run = tmp_path / "run"
    pm.execute_notebook(str(NOTEBOOKS / "03_improvement_journeys.ipynb"), str(tmp_path / "03.ipynb"),
                        parameters={"api_path": str(synthetic_small.paths["api_folder"]),
                                    "output_dir": str(run)},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    table = pd.read_csv(run / "tables" / "transitions.csv")
    assert {"sector", "domain", "from_rating", "to_rating", "n", "share", "ci_low", "ci_high"} <= set(table.columns)
    assert (table["data_status"] == "SYNTHETIC DATA").all()
    # the table agrees with the library on the same data
    history, rel = _history_from_api_folder(synthetic_small.paths["api_folder"])
    direct = transition_matrix(history, relationships=rel)
    got = table.set_index(["sector", "domain", "from_rating", "to_rating"])["n"]
    want = direct.assign(**{c: direct[c].astype(str) for c in ("sector", "domain", "from_rating", "to_rating")}) \
        .set_index(["sector", "domain", "from_rating", "to_rating"])["n"]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()
    # the notebook's one-line truth check: every planted matrix and share is recovered
    check = pd.read_csv(run / "tables" / "planted_truth_transitions.csv")
    assert len(check) == 6 and (check["verdict"] == "recovered").all(), check.to_string()
    for fig in ("transition_matrix_overall", "improvement_from_inadequate", "time_to_improvement_km"):
        assert (run / "figures" / f"{fig}.png").is_file()


@pytest.mark.realdata
def test_notebook_03_runs_on_the_real_oldham_records(shared_data, tmp_path):
    """The real API extract (2014 framework and new-framework assessments) runs end to end and
    writes its tables unstamped (real data)."""
    import papermill as pm

    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.paths import NOTEBOOKS

    run = tmp_path / "run"
    folder = shared_data / "cqc_api_oldham_2024"
    pm.execute_notebook(str(NOTEBOOKS / "03_improvement_journeys.ipynb"), str(tmp_path / "03.ipynb"),
                        parameters={"api_path": str(folder), "output_dir": str(run)},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    written = sorted(p.name for p in (run / "tables").glob("*.csv"))
    assert {"transitions.csv", "improvement_from_inadequate.csv", "transitions_pairing_report.csv"} <= set(written)
    table = pd.read_csv(run / "tables" / "transitions.csv")
    assert "data_status" not in table.columns and table["n"].sum() > 0
    api = load_api_folder(folder)
    assert api.history["framework"].nunique() == 2  # both frameworks reach the notebook
