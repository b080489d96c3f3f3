"""Statistics and data building moved out of the analysis notebooks (issue 15, point 4), each
checked against an independent computation: scipy, a closed formula, or a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cqc_research.metrics.areas import good_or_better_by, good_or_better_funnel
from cqc_research.metrics.intervals import spearman_ci
from cqc_research.metrics.prediction import rating_shares, spearman_by_domain
from cqc_research.studies.indicators import rated_domains


# -- Spearman interval: one implementation for notebook 05 and metrics.prediction -------------
@pytest.mark.parametrize("rho,n", [(0.5, 28), (-0.2, 100), (0.93, 12)])
def test_spearman_ci_is_the_fisher_z_interval_by_hand(rho, n):
    z = 1.959963984540054
    se_fhp = math.sqrt(1.06 / (n - 3))
    se_bw = math.sqrt((1 + rho * rho / 2) / (n - 3))
    for variance, se in (("fieller", se_fhp), ("bonett-wright", se_bw)):
        lo, hi = spearman_ci(rho, n, variance=variance)
        assert lo == pytest.approx(math.tanh(math.atanh(rho) - z * se), abs=1e-12)
        assert hi == pytest.approx(math.tanh(math.atanh(rho) + z * se), abs=1e-12)


def test_spearman_ci_hand_numbers_and_edge_cases():
    # atanh(0.5) = 0.549306; se = sqrt(1.06 / 25) = 0.205913; 1.96 * se = 0.403583
    lo, hi = spearman_ci(0.5, 28, variance="fieller")
    assert (round(lo, 4), round(hi, 4)) == (0.1447, 0.7411)
    assert all(np.isnan(spearman_ci(0.5, 3)))
    lo, hi = spearman_ci(np.array([0.1, 0.2]), np.array([50, 2]))
    assert np.isfinite(lo[0]) and np.isnan(lo[1])
    with pytest.raises(ValueError, match="variance"):
        spearman_ci(0.1, 10, variance="bootstrap")


def test_spearman_by_domain_uses_the_shared_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(size=80)
    ratings = np.array(["Inadequate", "Requires improvement", "Good", "Outstanding"])
    y = ratings[np.clip(np.round(1.5 + x + rng.normal(size=80)), 0, 3).astype(int)]
    out = spearman_by_domain(pd.DataFrame({"Overall": y, "x": x}), indicators=["x"]).iloc[0]
    codes = pd.Series(y).map({r: i for i, r in enumerate(ratings)})
    rho = stats.spearmanr(x, codes).statistic
    assert out["rho"] == pytest.approx(rho)
    se = math.sqrt((1 + rho**2 / 2) / 77)
    assert out["ci_low"] == pytest.approx(math.tanh(math.atanh(rho) - 1.959963984540054 * se))


# -- counts for the funnel of notebook 02 ------------------------------------------------------
def test_good_or_better_by_counts_like_a_loop():
    rng = np.random.default_rng(1)
    la = rng.choice(["A", "B", "C", None], size=200)
    rating = rng.choice(["Inadequate", "Requires improvement", "Good", "Outstanding", None],
                        size=200)
    data = pd.DataFrame({"local_authority": la, "Overall": rating})
    out = good_or_better_by(data, rating="Overall", by="local_authority", n_name="practices")
    expected = {}
    for a, r in zip(la, rating, strict=True):
        if a is None:
            continue
        good, n = expected.get(a, (0, 0))
        expected[a] = (good + (r in ("Good", "Outstanding")), n + 1)
    got = {row.local_authority: (row.good, row.practices) for row in out.itertuples()}
    assert got == expected


def test_good_or_better_funnel_skips_with_too_few_groups():
    from cqc_research.errors import InsufficientData

    data = pd.DataFrame({"la": ["A", "A", "B"], "Overall": ["Good", "Inadequate", "Good"]})
    with pytest.raises(InsufficientData, match="a funnel needs 3"):
        good_or_better_funnel(data, rating="Overall", by="la")


def test_rating_shares_and_rated_domains():
    s = pd.Series(["Good"] * 6 + ["Inadequate"] * 2 + ["Not rated", None])
    out = rating_shares(s)
    assert out["organisations"].tolist() == [2, 0, 6, 0]
    assert out["share"].tolist() == [0.25, 0.0, 0.75, 0.0]
    wide = pd.DataFrame({"Overall": ["Good"] * 12, "Safe": ["Good"] * 9 + [None] * 3})
    assert rated_domains(wide) == ["Overall"]
    assert rated_domains(wide, minimum=9) == ["Overall", "Safe"]


# -- presentation glue --------------------------------------------------------------------------
def test_report_save_writes_table_and_figure_under_one_name(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cqc_research.notebook_output import Report

    rep = Report(tmp_path, sources=[])
    fig, ax = plt.subplots()
    written = rep.save("x", pd.DataFrame({"a": [1]}), fig)
    assert [p.name for p in written] == ["x.csv", "x.png"]
    assert pd.read_csv(tmp_path / "tables" / "x.csv").to_dict("list") == {"a": [1]}
    rep.save_tables({"y": pd.DataFrame({"b": [2]}), "z": pd.DataFrame({"c": [3]})})
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["x.csv", "y.csv", "z.csv"]
    plt.close(fig)


def _improved(rows):
    """improvement_from-like rows: (sector, improved, total)."""
    out = []
    for sector, k, n in rows:
        out.append({"sector": sector, "outcome": "improved", "n": k, "total": n,
                    "share": k / n if n else np.nan, "ci_low": 0.0, "ci_high": 1.0})
        out.append({"sector": sector, "outcome": "to Good", "n": k // 2, "total": n,
                    "share": (k // 2) / n if n else np.nan, "ci_low": 0.0, "ci_high": 1.0})
    return pd.DataFrame(out)


def test_improvement_differs_is_pearsons_chi_square_by_hand():
    from cqc_research.studies.journeys import improvement_differs

    rows = [("A", 30, 40), ("B", 10, 30), ("C", 20, 30), ("D", 1, 3)]   # D: too few, left out
    res = improvement_differs(_improved(rows), min_total=5)
    k = np.array([30, 10, 20])
    n = np.array([40, 30, 30])
    observed = np.vstack([k, n - k]).astype(float)
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert res["groups"] == 3 and res["dof"] == 2
    assert res["statistic"] == pytest.approx(chi2)
    assert res["p_value"] == pytest.approx(math.exp(-chi2 / 2))   # chi-square survival, 2 df
    assert improvement_differs(_improved([("A", 3, 10), ("B", 1, 3)])) is None


def test_pairing_steps_and_sectors_with_pairs():
    from cqc_research.studies.journeys import pairing_steps, sectors_with_pairs

    steps = pairing_steps({"rows_in": 100, "rows_other_level": 5, "non_scale_dropped": 7,
                           "duplicates_dropped": 3, "links_followed": 2, "journeys": 20,
                           "pairs": 60})
    assert dict(zip(steps["step"], steps["count"], strict=True))["links not followed (splits and mergers)"] == 0
    assert steps["count"].tolist() == [100, 5, 7, 3, 2, 0, 20, 60]
    matrix = pd.DataFrame({"sector": ["Other", "GP practices", "NHS hospitals", "GP practices"],
                           "n": [0, 3, 1, 2]})
    assert sectors_with_pairs(matrix) == ["NHS hospitals", "GP practices"]


def test_improvement_lines_by_hand():
    from cqc_research.studies import journeys as say

    imp = pd.DataFrame({"sector": ["GP practices"] * 3 + ["Other"] * 3,
                        "outcome": ["improved", "to Good", "to Requires improvement"] * 2,
                        "n": [8, 3, 5, 0, 0, 0], "total": [10, 10, 10, 0, 0, 0],
                        "share": [0.8, 0.3, 0.5, np.nan, np.nan, np.nan],
                        "ci_low": [0.49, 0.11, 0.24] + [np.nan] * 3,
                        "ci_high": [0.94, 0.6, 0.76] + [np.nan] * 3})
    overall = imp[imp["sector"] == "GP practices"].drop(columns="sector")
    test = {"groups": 2, "statistic": 4.321, "dof": 1, "p_value": 0.03764}
    assert say.improvement_lines(imp, overall, "Inadequate", test) == (
        "- **GP practices**: 80% improved: 30% to Good and 50% to Requires improvement (95% CI "
        "for the share improved 49% to 94%; 10 re-inspections).\n"
        "- **All sectors**: 80% (95% CI 49% to 94%; 10 re-inspections). CQC's published figure "
        "for Inadequate services is 76%.\n"
        "\nDo sectors differ? A chi-squared test of equal shares improved across the 2 sectors "
        "with at least five re-inspections gives chi-squared = 4.3 on 1 df, p = 0.0376 (small "
        "counts make this approximate).")
    ri = say.improvement_lines(imp, overall, "Requires improvement")
    assert ri.startswith("- **GP practices**: 80% improved (95% CI") and "CQC" not in ri
    assert say.improvement_lines(imp.assign(total=0), overall.assign(total=0), "Inadequate") == \
        "No re-inspections after this rating."


# -- notebook 05: the correlation of quality with delayed transfers ----------------------------
def test_dtoc_correlation_is_spearman_with_the_fieller_interval():
    from cqc_research.studies.local_systems import dtoc_correlation

    rng = np.random.default_rng(5)
    joined = pd.DataFrame({"share_good": rng.uniform(0.5, 1, 30),
                           "dtoc_per_100k": rng.gamma(5, 300, 30)})
    joined.loc[[3, 7], "dtoc_per_100k"] = np.nan          # areas without figures drop out
    res = dtoc_correlation(joined)
    have = joined.dropna()
    # Spearman by hand: Pearson correlation of the ranks
    rx, ry = have["share_good"].rank(), have["dtoc_per_100k"].rank()
    rho = np.corrcoef(rx, ry)[0, 1]
    se = math.sqrt(1.06 / (28 - 3))
    assert res["n"] == 28 and res["rho"] == pytest.approx(rho)
    assert res["ci_low"] == pytest.approx(math.tanh(math.atanh(rho) - 1.959963984540054 * se))
    assert res["ci_high"] == pytest.approx(math.tanh(math.atanh(rho) + 1.959963984540054 * se))


def test_sector_rows_marked_areas_and_region_table():
    from cqc_research.studies.local_systems import marked_areas, region_table, sector_rows

    summary = pd.DataFrame({"sector": ["GP practices", "Adult social care", "Adult social care"],
                            "local_authority": ["A", "B", "C"], "share_good": [0.2, 0.9, 0.4]})
    assert sector_rows(summary, sector="Adult social care")["local_authority"].tolist() == ["B", "C"]
    with pytest.raises(ValueError, match="sectors: \\['Adult social care', 'GP practices'\\]"):
        sector_rows(summary, sector="Dentists")
    assert marked_areas(summary, lowest=2) == ["A", "C"]
    assert marked_areas(summary, highlight="B,,  C") == ["B", "C"]
    regions = pd.DataFrame({"sector": ["GP practices"], "region": ["London"], "n_rated": [10],
                            "share_good": [0.81234], "ci_low": [0.5], "ci_high": [0.9],
                            "care_home_beds": [0], "share_beds_good": [np.nan], "extra": [1]})
    out = region_table(regions, sector="GP practices")
    assert list(out.columns) == ["region", "n_rated", "share_good", "ci_low", "ci_high",
                                 "care_home_beds", "share_beds_good"]
    assert out["share_good"].item() == 0.812


# -- notebook 04: linkage, the SPC trust and the event-study sentences ------------------------
def _event_panel():
    months = pd.date_range("2018-01-01", periods=40, freq="MS")
    return pd.DataFrame([{"org_code": c, "period_start": m, "value": 90.0 + i % 3}
                         for c in ("RA1", "RB2", "RC3") for i, m in enumerate(months)])


def _events():
    pub = pd.DataFrame({"org_code": ["RA1", "RB2", "RB2", "RZ9"],
                        "event_date": pd.to_datetime(["2018-03-10", "2019-06-20", "2021-09-01",
                                                      "2019-01-01"])})
    insp = pd.DataFrame({"org_code": ["RB2", "RB2"],
                         "event_date": pd.to_datetime(["2019-03-02", "2019-08-01"])})
    return {"publication": pub, "inspection": insp}


def test_event_linkage_counts_by_hand():
    from cqc_research.studies.inspection_effects import event_linkage

    link = event_linkage(_event_panel(), events=_events()).set_index("event")
    # publication: RZ9 has no series; RB2's 2021 report is after April 2021, the last month
    assert link.loc["publication", "trusts_with_events"] == 3
    assert link.loc["publication", "trusts_linked"] == 2
    assert link.loc["publication", "events_linked"] == 3
    assert link.loc["publication", "events_inside_indicator_period"] == 2
    assert link.loc["inspection", "trusts_with_event_inside_period"] == 1
    assert (link["trusts_with_indicator"] == 3).all() and (link["trust_months"] == 120).all()


def test_spc_event_trust_picks_an_event_well_inside_the_data():
    from cqc_research.studies.inspection_effects import spc_event_trust

    t = spc_event_trust(_event_panel(), events=_events(), event="publication", window_months=12)
    # RA1's event is in month 3 (too early); RB2's June 2019 event has 17 months before, 22 after
    assert t["org_code"] == "RB2" and t["event_date"] == pd.Timestamp("2019-06-20")
    assert t["n_before"] == 17 and len(t["span"]) == 17 + 1 + 12
    # the inspection 110 days before (not the one after a publication) is the other date
    assert t["extra_events"] == [(pd.Timestamp("2019-03-02"), "inspection")]
    assert t["labels"] == {"org_code": "RB2", "event": "publication", "event_date": t["event_date"]}
    assert spc_event_trust(_event_panel(), events=_events(), event="publication", window_months=12,
                           org_code="RA1")["org_code"] == "RA1"
    with pytest.raises(ValueError, match="RZ9"):
        spc_event_trust(_event_panel(), events=_events(), event="publication", window_months=12, org_code="RZ9")
    assert spc_event_trust(_event_panel(), events={}, event="publication", window_months=12) is None


def _contrasts(events=("publication",), joint=0.004, n_units=3):
    rows = []
    for e in events:
        rows += [{"event": e, "contrast": "leads", "estimate": -0.1234, "ci_low": -0.9, "ci_high": 0.7,
                  "rel_from": -12, "rel_to": -2, "joint_p_value": joint},
                 {"event": e, "contrast": "lags", "estimate": 2.5, "ci_low": 1.25, "ci_high": 3.75,
                  "rel_from": 1, "rel_to": 6, "joint_p_value": np.nan},
                 {"event": e, "contrast": "later lags", "estimate": 1.0, "ci_low": -0.5, "ci_high": 2.5,
                  "rel_from": 7, "rel_to": 11, "joint_p_value": np.nan}]
    return pd.DataFrame(rows).assign(n_event_units=n_units, n_units=40, n_events=5)


def test_event_study_sentence_by_hand():
    from cqc_research.studies.inspection_effects import event_study_sentence, other_event_sentence

    text = event_study_sentence(_contrasts(), "publication", 6, "percentage points")
    assert text == (
        "In months 1 to 6 after the publication, the indicator was on average **+2.50 percentage "
        "points** (95% CI +1.25 to +3.75) relative to the month before: higher than before. Before "
        "the publication (months -12 to -2) the average was -0.12 (95% CI -0.90 to +0.70). A joint "
        "test that every lead is zero gives p < 0.01. In months 7 to 11 the average was +1.00 (95% "
        "CI -0.50 to +2.50). This rests on 3 trusts with 5 events, among 40 trusts in all. "
        "**Caution:** with events in only 3 trusts, clustered intervals understate the uncertainty. "
        "Read these figures as a description of the trusts with events, not as an estimate that "
        "carries over to others.")
    assert "gives p = 0.25. " in event_study_sentence(_contrasts(joint=0.25, n_units=12), "publication",
                                                       6, "percentage points")
    assert "Caution" not in event_study_sentence(_contrasts(n_units=12), "publication", 6, "points")
    assert event_study_sentence(_contrasts(), "inspection", 6, "points").startswith("No inspection dates")
    assert other_event_sentence(_contrasts(), "publication", 6, "points") == (
        "Only one kind of event is available (publication); the data give no inspection dates for "
        "these trusts.")
    both = _contrasts(("publication", "inspection"))
    assert other_event_sentence(both, "publication", 6, "points").startswith(
        "In months 1 to 6 after the inspection")


def test_event_linkage_sentence_by_hand():
    from cqc_research.studies.inspection_effects import event_linkage, event_linkage_sentence

    link = event_linkage(_event_panel(), events=_events())
    assert event_linkage_sentence(link, "ae", "publication") == (
        "The indicator `ae` covers **3 trusts** from January 2018 to April 2021 (120 trust-months). "
        "CQC published 3 rated reports on 2 of these trusts (by publication date), 2 of them inside "
        "the indicator's period. 1 trust with CQC reports has no series for this indicator (for "
        "A&E, trusts without an emergency department).")


# -- Newcombe's interval: one implementation for truth checks, qual and notebook 07 ------------
def _wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


@pytest.mark.parametrize("k1,n1,k2,n2,table", [
    (56, 70, 48, 80, (0.0524, 0.3339)),   # Newcombe (1998), Table II, example (a), method 10
    (9, 10, 3, 10, (0.1705, 0.8090)),     # example (c)
    (0, 10, 0, 20, (-0.1611, 0.2775)),    # example (h): both shares zero
])
def test_newcombe_diff_ci_is_the_square_and_add_of_wilson_limits(k1, n1, k2, n2, table):
    from cqc_research.metrics.intervals import newcombe_diff_ci

    l1, u1 = _wilson_by_hand(k1, n1)
    l2, u2 = _wilson_by_hand(k2, n2)
    d = k1 / n1 - k2 / n2
    lo = d - math.sqrt((k1 / n1 - l1) ** 2 + (u2 - k2 / n2) ** 2)
    hi = d + math.sqrt((u1 - k1 / n1) ** 2 + (k2 / n2 - l2) ** 2)
    got = newcombe_diff_ci(k1, n1, k2, n2)
    assert got == pytest.approx((lo, hi), abs=1e-12)
    assert got == pytest.approx(table, abs=5e-5)
    assert all(math.isnan(x) for x in newcombe_diff_ci(1, 0, 2, 5))


# -- notebook 07: coded interviews ----------------------------------------------------------------
def _segments():
    rows = [  # case, respondent, role, code, excerpt
        ("c1", "r1", "manager", "leadership", "we changed the rota"),
        ("c1", "r1", "manager", "staffing", "we hired two nurses"),
        ("c1", "r2", "staff", "leadership", "the new manager listens"),
        ("c2", "r3", "manager", "staffing", "agency use fell"),
        ("c2", "r4", "staff", "staffing", "fewer agency shifts"),
        ("c3", "r5", "staff", "leadership", "a clear plan"),
        ("c3", "r5", "staff", "leadership", "a clear plan"),
    ]
    return pd.DataFrame([{"case_id": c, "respondent_id": r, "respondent_role": role, "code": code,
                          "excerpt": ex, "question": "q1", "segment_id": f"s{i}",
                          "code_group": "mechanism" if code == "leadership" else "theme"}
                         for i, (c, r, role, code, ex) in enumerate(rows)])


def test_role_excess_against_a_plain_count_of_interviews():
    from cqc_research.qual import role_excess

    seg = _segments()
    out = role_excess(seg).set_index(["respondent_role", "code"])
    assert len(out) > 0
    for (role, code), row in out.iterrows():
        mine = seg[seg["respondent_role"] == role]
        rest = seg[seg["respondent_role"] != role]
        share = mine.loc[mine["code"] == code, "respondent_id"].nunique() / mine["respondent_id"].nunique()
        other = rest.loc[rest["code"] == code, "respondent_id"].nunique() / rest["respondent_id"].nunique()
        assert row["share"] == pytest.approx(share)
        assert row["share_others"] == pytest.approx(other)
        assert row["excess"] == pytest.approx(share - other)


def test_improved_excerpts_takes_the_largest_difference_from_improved_cases():
    from cqc_research.qual import improved_excerpts

    cmp = pd.DataFrame({"code": ["staffing", "leadership"], "difference": [0.2, -0.5]})
    followed = pd.DataFrame({"case_id": ["c1", "c2", "c3"], "improved": [True, False, True]})
    code, ex = improved_excerpts(_segments(), followed, cmp)
    assert code == "leadership"
    assert ex["excerpt"].tolist() == ["we changed the rota", "the new manager listens", "a clear plan"]
    assert improved_excerpts(_segments(), followed, cmp.iloc[:0])[0] is None


def test_null_difference_sentence_quotes_newcombe_by_hand():
    from cqc_research.studies.mixed_methods import null_difference_sentence

    n1, n0 = 12, 30
    l1, u1 = _wilson_by_hand(6, 12)
    l0, u0 = _wilson_by_hand(15, 30)
    lo, hi = -math.sqrt((0.5 - l1) ** 2 + (u0 - 0.5) ** 2), math.sqrt((u1 - 0.5) ** 2 + (0.5 - l0) ** 2)
    text = null_difference_sentence(pd.DataFrame({"n_improved": [n1], "n_not_improved": [n0]}))
    assert text.startswith(f"With 12 and 30 cases, the 95% interval for the difference between two shares "
                           f"near 50% runs from {lo:+.0%} to {hi:+.0%} even when the shares are equal.")
    # by hand: Wilson half-widths 0.2462 (6/12) and 0.1685 (15/30); sqrt(0.2462^2 + 0.1685^2) = 0.298
    assert (f"{lo:+.0%}", f"{hi:+.0%}") == ("-30%", "+30%")


def test_prevalence_lines_and_unknown_codes_sentence_by_hand():
    from cqc_research.studies.mixed_methods import prevalence_lines, unknown_codes_sentence

    cmp = pd.DataFrame({"code": ["leadership", "staffing"], "k_improved": [7, 3], "n_improved": [10, 10],
                        "prev_improved": [0.7, 0.3], "k_not_improved": [3, 3], "n_not_improved": [10, 10],
                        "prev_not_improved": [0.3, 0.3], "difference": [0.4, 0.0],
                        "diff_ci_low": [0.01, -0.35], "diff_ci_high": [0.69, 0.35],
                        "p_fisher": [0.0698, 1.0], "p_holm": [0.1396, 1.0]})
    assert prevalence_lines(cmp, {"leadership": "Leadership"}) == (
        "For 1 of 2 codes, the 95% interval of the difference between the groups excludes zero:\n\n"
        "- **Leadership**: 7 of 10 cases that improved (70%) against 3 of 10 that did not (30%); "
        "difference +40% (95% CI +1% to +69%), Fisher p 0.070, Holm-adjusted p 0.140.")
    assert prevalence_lines(cmp.iloc[1:], {}) == (
        "For none of the 1 codes does the difference between the groups exclude zero.")
    assert unknown_codes_sentence(pd.DataFrame(), ["a note"]) == (
        "Every code in the file is in the codebook.\n\n*Import note:* a note")
    assert unknown_codes_sentence(pd.DataFrame({"code": ["x"]})).startswith(
        "**1 code(s) are not in the codebook.**")


def test_coded_segments_sentence_by_hand():
    from cqc_research.studies.mixed_methods import coded_segments_sentence

    seg = _segments()
    cases = pd.DataFrame({"case_id": ["c1", "c2", "c3"], "location_id": ["1-1", None, "1-3"]})
    assert coded_segments_sentence(seg, cases) == (
        "The file holds **7 coded excerpts** (7 codings: an excerpt can carry more than one code) from "
        "**5 interviews** (staff: 3, manager: 2) about **3 cases**, of which 2 carry a CQC location ID.")


def test_codebook_table_joins_aliases_last():
    from cqc_research.qual import codebook_from, codebook_table

    cb = codebook_from("shipped")
    table = codebook_table(cb)
    assert table.columns[-1] == "aliases" and len(table) == len(cb.codes)
    assert table["aliases"].tolist() == [", ".join(a) for a in cb.codes["aliases"]]
