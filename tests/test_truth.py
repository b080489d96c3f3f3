"""The planted-truth check: passes on data with the planted effects, fails on the null world.

The tables are made here with the same library calls the notebooks make (01, 02, 03, 04, 05,
07), on the ``test`` scale, whose size the power calculation in ``docs/DESIGN.md`` ("Tests that
can fail") chose so that each planted effect is detected with high probability. The null world
(``synth --null``) has every effect at its null: checked against the default truth, every
effect must fail. That is the proof that the checks can fail.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cqc_research import truth as truth_mod
from cqc_research.synthetic import generate, planted_parameters


def _write_tables(ds, run_dir):
    """The truth-relevant tables of a run, made with the notebooks' library calls."""
    from cqc_research import qual
    from cqc_research.assessment_framework import FRAMEWORK_2014
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.io.nhs import (
        load_dtoc,
        load_gp_payments,
        load_indicators,
        load_la_codes,
        load_population,
    )
    from cqc_research.link import link_indicators
    from cqc_research.metrics.agreement import domain_agreement
    from cqc_research.metrics.areas import area_summary, dtoc_rates, join_dtoc
    from cqc_research.metrics.events import event_contrasts, event_dates, event_study
    from cqc_research.metrics.prediction import ordered_logit
    from cqc_research.metrics.transitions import transition_matrix
    from cqc_research.ratings import filter_sector

    tables = run_dir / "tables"
    tables.mkdir(parents=True)
    p = ds.paths
    long = load_latest_ratings(p["ratings_ods"])
    wide = ratings_wide(long, level="location")
    pooled = domain_agreement(wide)  # notebook 01
    pooled.insert(0, "sector", "All sectors in scope")
    pooled.to_csv(tables / "domain_agreement.csv", index=False)
    indicators = ["list_size", "weighted_list_size", "payments_per_patient", "payments_per_weighted_patient",
                  "qof_payments_per_patient"]  # notebook 02's defaults
    gp = filter_sector(wide, "GP Practices")
    link = link_indicators(gp, [load_gp_payments(f) for f in p["gp_payments"]], level="practice",
                           measures=indicators, sector=None)
    data = link.data.dropna(subset=["Overall", *indicators])
    ordered_logit(data, rating="Overall", indicators=indicators).to_csv(tables / "odds_ratios.csv", index=False)
    # the two indicators that carry the planted signal, alone: list_size is identifiable without
    # weighted_list_size (r = 0.99 with it), so its planted odds ratio can be detected
    signal = ["qof_payments_per_patient", "list_size"]
    ordered_logit(data, rating="Overall", indicators=signal).to_csv(tables / "odds_ratios_signal.csv", index=False)
    # notebook 02: every indicator source, the GP Patient Survey's gap among them
    from cqc_research.indicator_sources import link_sources
    from cqc_research.metrics.prediction import indicator_gaps

    gpps = link_sources(gp, sources={"gpps": p["gpps"]}, level="practice", sector=None)
    indicator_gaps(gpps.data, rating="Overall", indicators=gpps.measures["gpps"]).to_csv(
        tables / "indicator_gaps_practice.csv", index=False)
    api = load_api_folder(p["api_folder"])  # notebook 03
    within = api.history[api.history["framework"] == FRAMEWORK_2014]  # the 2014 matrices
    transition_matrix(within, by=["sector", "local_authority"], domain="Overall", relationships=api.relationships,
                      level="location", follow_predecessors=True).to_csv(tables / "transitions_by_area.csv", index=False)
    ind = load_indicators(p["ae_folder"])  # notebook 04
    panel = ind[(ind["measure"] == "ae_4hr_performance_all") & (ind["org_level"] == "trust")].dropna(subset=["value"])
    ev = event_dates(api, event="publication", sector="NHS hospitals").rename(columns={"provider_id": "org_code"})
    ev = ev[ev["org_code"].isin(set(panel["org_code"]))]
    res = event_study(panel, events=ev, window=(-12, 12), lags=(1, 6))
    event_contrasts(res).assign(event="publication", measure="ae_4hr_performance_all",
                                n_clusters=int(res["n_clusters"].iloc[0])).to_csv(
        tables / "event_study_contrasts.csv", index=False)
    summary = area_summary(long, by="local_authority", locations=api.locations)  # notebook 05
    summary.to_csv(tables / "area_summary.csv", index=False)
    focus = summary[summary["sector"].astype(str) == "Adult social care"]
    rates = dtoc_rates(load_dtoc(p["dtoc"]), population=load_population(p["population"]), la_codes=load_la_codes(p["la_codes"]))
    join_dtoc(focus, rates=rates, area="local_authority").to_csv(tables / "area_dtoc.csv", index=False)
    from cqc_research.studies import councils as cn  # notebook 10

    la = cn.load_la_assessments(p["la_assessments"], la_codes=p["la_codes"])
    cn.council_local_quality(la.assessments, area_summary=summary)[2].to_csv(
        tables / "council_local_quality_slope.csv", index=False)
    cn.council_consistency(la.assessments)[1].to_csv(tables / "council_rule_exceptions.csv", index=False)
    segments = qual.read_coded_segments(p["coded_segments"])  # notebook 07
    joined = qual.cases_with_outcomes(segments, api.history)
    followed = joined[joined["improved"].notna()]
    qual.compare_prevalence(followed, codes=qual.code_columns(joined)).to_csv(
        tables / "prevalence_by_outcome.csv", index=False)
    (run_dir / "manifest.json").write_text(json.dumps({"inputs": {str(ds.root): {}}, "notebooks": []}))
    return run_dir


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    ds = generate(root / "planted", scale="test")
    return ds, _write_tables(ds, root / "run_planted")


@pytest.fixture(scope="session")
def null_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth_null")
    ds = generate(root / "null", scale="test", null=True)
    return ds, _write_tables(ds, root / "run_null")


def test_planted_run_recovers_every_planted_effect(planted_run):
    ds, run = planted_run
    check = truth_mod.check_truth(run)  # the truth is found through the run's manifest
    assert set(check["effect"]) == set(truth_mod.EFFECTS)
    assert (check["verdict"] == "recovered").all(), check[check["verdict"] != "recovered"].to_string()
    # the test scale was chosen so that every planted effect is detected (docs/DESIGN.md), except
    # list_size in the five-indicator model, which weighted_list_size (r = 0.99) makes unidentifiable
    planted = check[check["null"].notna() & (check["planted"] != check["null"])]
    undetected = planted.loc[~planted["detectable"].astype(bool), "quantity"].tolist()
    assert undetected == ["odds ratio per SD: list_size"], undetected
    # detected means the interval excludes the null
    det = planted[planted["detectable"].astype(bool)]
    assert ((det["ci_low"] > det["null"]) | (det["ci_high"] < det["null"])).all()


def test_the_planted_list_size_odds_ratio_is_detected_without_its_collinear_twin(planted_run, null_run):
    """The five-indicator model cannot separate list_size from weighted_list_size; the two
    signal-carrying indicators alone can: the planted odds ratios are covered and 1 is
    excluded, and in the null world 1 is covered."""
    planted = planted_run[0].truth["indicator_signal"]["odds_ratio_per_sd"]
    for (_ds, run), world in ((planted_run, "planted"), (null_run, "null")):
        fit = pd.read_csv(run / "tables" / "odds_ratios_signal.csv").set_index("indicator")
        assert set(fit.index) == {"qof_payments_per_patient", "list_size"}
        assert fit["converged"].all()
        for ind in fit.index:
            lo, hi = fit.loc[ind, "ci_low"], fit.loc[ind, "ci_high"]
            if world == "planted":
                assert lo <= planted[ind] <= hi, (ind, lo, hi, planted[ind])
                assert not lo <= 1.0 <= hi, (ind, lo, hi)
            else:
                assert lo <= 1.0 <= hi, (ind, lo, hi)
    assert planted["list_size"] < 1 < planted["qof_payments_per_patient"]  # the truth the test reads


def test_null_run_passes_against_its_own_truth(null_run):
    ds, run = null_run
    assert ds.truth["null_world"] is True
    check = truth_mod.check_truth(run, ds.root / "truth.json")
    assert (check["verdict"] == "recovered").all(), check[check["verdict"] != "recovered"].to_string()


def test_null_run_fails_every_effect_against_the_default_truth(planted_run, null_run):
    default_truth = planted_run[0].root / "truth.json"
    check = truth_mod.check_truth(null_run[1], default_truth)
    failed = check[check["verdict"] == "not recovered"]
    # every planted effect is named as failing: removing any one effect fails its check
    assert set(failed["effect"]) == set(truth_mod.EFFECTS), failed["quantity"].tolist()
    for q in ["agreement with Overall: Well-led", "agreement with Overall: Caring",
              # the adult social care matrix is close to the mean of the three (the null's matrix),
              # so its G-test need not reject; the GP matrix is far from it
              "odds ratio per SD: qof_payments_per_patient", "transition matrix: GP practices",
              "mean change in months 1 to 6 after publication",
              "struggling areas: delayed transfers per 100,000 aged 65+, ratio to the other areas",
              "code more common where the service improved: leadership (difference in share of cases)"]:
        assert any(failed["quantity"].str.startswith(q)), q
    # ... and the quantities planted at their null in both worlds still pass
    ok = check.set_index("quantity")["verdict"]
    assert ok["odds ratio per SD: payments_per_weighted_patient"] == "recovered"
    assert ok["mean change before publication"] == "recovered"


@pytest.mark.slow
@pytest.mark.parametrize("effect", truth_mod.EFFECTS)
def test_removing_one_effect_fails_its_check_and_only_its_check(effect, planted_run, tmp_path):
    """Each planted-truth check fails when its effect, and only its effect, is removed.

    The dataset is the default test-scale world with ``effect`` at its null (``synth --null
    EFFECT``); checked against the default truth, ``effect`` fails and every other effect is
    still recovered; checked against its own truth, everything is recovered.
    """
    ds = generate(tmp_path / "one_null", scale="test", null=[effect])
    assert ds.truth["null_effects"] == [effect] and ds.truth["null_world"] is False
    run = _write_tables(ds, tmp_path / "run")
    check = truth_mod.check_truth(run, planted_run[0].root / "truth.json")
    failed = set(check.loc[check["verdict"] == "not recovered", "effect"])
    assert failed == {effect}, check[check["verdict"] != "recovered"].to_string()
    own = truth_mod.check_truth(run)
    assert (own["verdict"] == "recovered").all(), own[own["verdict"] != "recovered"].to_string()


def test_null_effects_are_checked_by_name(tmp_path):
    from cqc_research.synthetic import null_effects

    assert null_effects(True) == truth_mod.EFFECTS and null_effects(False) == ()
    assert null_effects("areas") == ("areas",)
    with pytest.raises(ValueError, match="not a planted effect: 'area'"):
        generate(tmp_path / "x", scale="small", null=["area"])
    assert not (tmp_path / "x").exists()  # nothing written
    one = planted_parameters(null=["event_effect"])
    assert one["event_effect_pp"] == 0.0 and one["gp_beta"] == planted_parameters()["gp_beta"]
    both = planted_parameters(null=["transitions", "areas"])
    assert both["transitions_struggling"] == both["transitions"]["Adult social care"]
    assert planted_parameters(null=["areas"])["transitions"] == planted_parameters()["transitions"]


def test_cli_exit_status_and_names(planted_run, null_run, capsys):
    from cqc_research.cli import main

    assert main(["truth", str(planted_run[1])]) == 0
    assert "All " in capsys.readouterr().out
    assert main(["truth", str(null_run[1]), "--truth", str(planted_run[0].root / "truth.json")]) == 1
    out = capsys.readouterr().out
    assert "not recovered" in out and "Effects failing: domain_agreement" in out


def test_a_missing_table_is_not_checked_and_fails(planted_run, tmp_path):
    ds, run = planted_run
    (tmp_path / "tables").mkdir()
    src = run / "tables" / "odds_ratios.csv"
    (tmp_path / "tables" / "odds_ratios.csv").write_text(src.read_text())
    check = truth_mod.check_truth(tmp_path, ds.truth, effects=["indicator_signal", "event_effect"])
    assert (check.loc[check["effect"] == "event_effect", "verdict"] == "not checked").all()
    assert (check.loc[check["effect"] == "indicator_signal", "verdict"] == "recovered").all()
    from cqc_research.cli import main

    (tmp_path / "t.json").write_text(json.dumps(ds.truth))
    assert main(["truth", str(tmp_path), "--truth", str(tmp_path / "t.json")]) == 1


# -- the pieces, against independent computations -----------------------------------------------
def test_g_test_matches_scipy():
    from scipy.stats import power_divergence

    counts = np.array([[3, 5, 2, 0], [1, 10, 30, 2], [0, 0, 0, 0], [0, 1, 4, 9]], dtype=float)
    m = np.array([[0.2, 0.5, 0.3, 0.0], [0.05, 0.3, 0.6, 0.05], [0.1, 0.1, 0.7, 0.1], [0.0, 0.1, 0.3, 0.6]])
    g, df, p = truth_mod._g_test(counts, m)
    stats = [power_divergence(counts[i][m[i] > 0], counts[i].sum() * m[i][m[i] > 0], lambda_="log-likelihood")
             for i in (0, 1, 3)]
    assert g == pytest.approx(sum(s.statistic for s in stats))
    assert df == 2 + 3 + 2
    from scipy.stats import chi2

    assert p == pytest.approx(chi2.sf(g, df))
    # a transition the planted matrix forbids rejects outright
    bad = counts.copy()
    bad[0, 3] = 1
    assert truth_mod._g_test(bad, m)[2] == 0.0


def test_row_level_is_bonferroni_over_the_full_check(planted_run):
    ds, run = planted_run
    check = truth_mod.check_truth(run, effects="event_effect")
    m = truth_mod._n_rows(ds.truth)
    assert m == len(truth_mod.check_truth(run))
    assert check["level"].iloc[0] == pytest.approx(1 - 0.05 / m)


def test_verdict_rules_by_hand():
    z = 1.96
    base = dict(effect="x", quantity="q", n=10, p_value=np.nan, level=0.95, note="")
    # planted inside, null outside: recovered
    r = truth_mod._verdict({**base, "planted": 2.0, "null": 0.0, "estimate": 1.9, "ci_low": 1.5, "ci_high": 2.3}, z)
    assert r["verdict"] == "recovered" and r["detectable"]
    # planted inside but so is the null, with power to tell them apart: not recovered
    r = truth_mod._verdict({**base, "planted": 2.0, "null": 0.0, "estimate": 1.0, "ci_low": -0.1, "ci_high": 2.1}, z)
    assert r["verdict"] == "not recovered" and "null" in r["note"]
    # a wide interval has no power: coverage only, and it says so
    r = truth_mod._verdict({**base, "planted": 2.0, "null": 0.0, "estimate": 1.0, "ci_low": -9, "ci_high": 11}, z)
    assert r["verdict"] == "recovered" and not r["detectable"] and "coverage only" in r["note"]
    # planted outside: not recovered
    r = truth_mod._verdict({**base, "planted": 0.9, "null": None, "estimate": 0.75, "ci_low": 0.72, "ci_high": 0.78}, z)
    assert r["verdict"] == "not recovered"


def test_null_parameters_are_null():
    null = planted_parameters(null=True)
    assert len(set(null["p_agree"].values())) == 1
    mats = [np.asarray(m) for m in null["transitions"].values()]
    assert all(np.allclose(m, mats[0]) for m in mats) and np.allclose(null["transitions_struggling"], mats[0])
    assert np.allclose(mats[0].sum(axis=1), 1)
    assert set(null["gp_beta"].values()) == {0.0}
    assert null["event_effect_pp"] == 0.0 and null["dtoc_multiplier"] == 1.0
    assert all(a == b for a, b in null["qual_prevalence"].values())


def test_null_world_is_the_same_dataset_with_effects_removed(planted_run, null_run):
    a, b = planted_run[0].truth, null_run[0].truth
    assert a["counts"] == b["counts"]
    assert a["areas"]["struggling"] == b["areas"]["struggling"]
    assert b["event_effect"]["effect_pp"] == 0.0 and b["areas"]["share_good_difference_asc"] == 0.0
    assert b["qualitative"]["checked_codes"] == a["qualitative"]["checked_codes"] == ["leadership"]


def test_truth_summary_names_the_failures():
    check = pd.DataFrame({"effect": ["a", "b"], "quantity": ["qa", "qb"], "verdict": ["recovered", "not recovered"]})
    assert truth_mod.truth_summary(check) == ("1 of 2 planted quantities were recovered (2 effects: a, b); "
                                              "not recovered: qb (not recovered). Effects failing: b.")


def test_synth_cli_null_names_effects(tmp_path, capsys):
    from cqc_research.cli import main

    assert main(["synth", "--out", str(tmp_path / "one"), "--scale", "small", "--null", "event_effect,areas"]) == 0
    truth = json.loads((tmp_path / "one" / "truth.json").read_text())
    assert truth["null_effects"] == ["event_effect", "areas"] and truth["null_world"] is False
    assert truth["event_effect"]["effect_pp"] == 0.0 and truth["areas"]["dtoc_multiplier"] == 1.0
    assert truth["indicator_signal"]["odds_ratio_per_sd"]["qof_payments_per_patient"] > 1
    with pytest.raises(SystemExit, match="--null: not a planted effect: 'arias'"):
        main(["synth", "--out", str(tmp_path / "two"), "--scale", "small", "--null", "arias"])
    assert not (tmp_path / "two").exists()


def test_every_table_the_check_reads_is_declared_by_its_question():
    """The truth check reads tables by the names their study modules declare (issue 23)."""
    from cqc_research import truth

    undeclared = {e: [n for n in names if n not in truth.CONTRACTS[e]] for e, names in truth.TABLES.items()}
    assert not any(undeclared.values()), undeclared
    assert set(truth.TABLES) == set(truth.CONTRACTS) == set(truth.EFFECTS)


def test_a_table_without_its_declared_columns_is_named(tmp_path):
    """A run's table with a column its contract does not declare is an error naming the file and the
    column; the declared columns (or some of them) read."""
    import pandas as pd

    from cqc_research import truth
    from cqc_research.errors import CQCResearchError

    (tmp_path / "domain_agreement.csv").write_text("domain,agree\nSafe,0.5\n")
    with pytest.raises(CQCResearchError, match="domain_agreement.csv: column 'agree' is not in the table contract"):
        truth._read(tmp_path, "domain_agreement", truth.CONTRACTS["domain_agreement"])
    declared = truth.CONTRACTS["domain_agreement"]["domain_agreement"]
    pd.DataFrame({c: [1] for c in declared}).to_csv(tmp_path / "domain_agreement.csv", index=False)
    assert list(truth._read(tmp_path, "domain_agreement", truth.CONTRACTS["domain_agreement"]).columns) == list(declared)
