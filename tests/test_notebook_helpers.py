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
from cqc_research.metrics.prediction import rated_domains, rating_shares, spearman_by_domain


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
    out = spearman_by_domain(pd.DataFrame({"Overall": y, "x": x}), ["x"]).iloc[0]
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
    out = good_or_better_by(data, "Overall", "local_authority", n_name="practices")
    expected = {}
    for a, r in zip(la, rating, strict=True):
        if a is None:
            continue
        good, n = expected.get(a, (0, 0))
        expected[a] = (good + (r in ("Good", "Outstanding")), n + 1)
    got = {row.local_authority: (row.good, row.practices) for row in out.itertuples()}
    assert got == expected


def test_good_or_better_funnel_skips_with_too_few_groups():
    from cqc_research.errors import SectionSkipped

    data = pd.DataFrame({"la": ["A", "A", "B"], "Overall": ["Good", "Inadequate", "Good"]})
    with pytest.raises(SectionSkipped, match="a funnel needs 3"):
        good_or_better_funnel(data, "Overall", "la")


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


def test_default_inputs_keeps_given_paths_and_input_files(tmp_path):
    from cqc_research.notebook_output import default_inputs, input_files

    assert default_inputs(ratings_path="a.ods", api_path="b") == ["a.ods", "b"]
    with pytest.raises(KeyError, match="no default"):
        default_inputs(unknown_path="x")
    (tmp_path / "b.csv").write_text("x\n")
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "c.txt").write_text("x\n")
    assert [p.name for p in input_files(tmp_path)] == ["a.csv", "b.csv"]
    assert input_files(tmp_path / "c.txt") == [tmp_path / "c.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no"):
        input_files(empty)


# -- notebook 03: the chi-square test between sectors, and the sentences ------------------------
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
    from cqc_research.metrics.transitions import improvement_differs

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
    from cqc_research.metrics.transitions import pairing_steps, sectors_with_pairs

    steps = pairing_steps({"rows_in": 100, "rows_other_level": 5, "non_scale_dropped": 7,
                           "duplicates_dropped": 3, "links_followed": 2, "journeys": 20,
                           "pairs": 60})
    assert dict(zip(steps["step"], steps["count"], strict=True))["links not followed (splits and mergers)"] == 0
    assert steps["count"].tolist() == [100, 5, 7, 3, 2, 0, 20, 60]
    matrix = pd.DataFrame({"sector": ["Other", "GP practices", "NHS hospitals", "GP practices"],
                           "n": [0, 3, 1, 2]})
    assert sectors_with_pairs(matrix) == ["NHS hospitals", "GP practices"]


def test_improvement_lines_by_hand():
    from cqc_research import narrative as say

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
    from cqc_research.metrics.areas import dtoc_correlation

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
    from cqc_research.metrics.areas import marked_areas, region_table, sector_rows

    summary = pd.DataFrame({"sector": ["GP practices", "Adult social care", "Adult social care"],
                            "local_authority": ["A", "B", "C"], "share_good": [0.2, 0.9, 0.4]})
    assert sector_rows(summary, "Adult social care")["local_authority"].tolist() == ["B", "C"]
    with pytest.raises(ValueError, match="sectors: \\['Adult social care', 'GP practices'\\]"):
        sector_rows(summary, "Dentists")
    assert marked_areas(summary, lowest=2) == ["A", "C"]
    assert marked_areas(summary, "B,,  C") == ["B", "C"]
    regions = pd.DataFrame({"sector": ["GP practices"], "region": ["London"], "n_rated": [10],
                            "share_good": [0.81234], "ci_low": [0.5], "ci_high": [0.9],
                            "care_home_beds": [0], "share_beds_good": [np.nan], "extra": [1]})
    out = region_table(regions, "GP practices")
    assert list(out.columns) == ["region", "n_rated", "share_good", "ci_low", "ci_high",
                                 "care_home_beds", "share_beds_good"]
    assert out["share_good"].item() == 0.812
