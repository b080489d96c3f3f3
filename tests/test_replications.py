"""The registry of published claims and its estimators: planted values are recovered, the real
Oldham records give the count a plain loop gives, and claims the data cannot answer say so."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from cqc_research.cli import main
from cqc_research.dataset import Study
from cqc_research.ratings import RATING_DTYPE, RATINGS
from cqc_research.studies import replications as R

OLDHAM = "cqc_api_oldham_2024"


# ---------------------------------------------------------------------------------------------
# the registry
def test_registry_lists_at_least_ten_sourced_claims_with_known_estimators():
    claims = R.load_claims()
    assert len(claims) >= 10
    assert len({c.id for c in claims}) == len(claims)
    for c in claims:
        assert c.citation and c.read_at.startswith("http"), c.id
        assert c.function in R.ESTIMATORS and c.population and c.period and c.statistic and c.needs
        for f in c.figures:
            assert isinstance(f.value, float) and f.test in ("within", "above")
            if f.unit == "share":
                assert 0 <= f.value <= 1, (c.id, f.key)
    by_id = {c.id: c for c in claims}
    # figures found only in a report of the source are marked as such
    assert by_id["hsj2017-gp-inadequate-improved"].second_hand
    assert by_id["asc2017-inadequate-improved"].second_hand
    assert not by_id["soc2016-reinspection"].second_hand
    # L'Esperance et al.: the odds ratio is per standard deviation of funding per patient
    assert "SD" in by_id["lesperance2019-funding"].verification
    fig = by_id["lesperance2019-funding"].figures[0]
    assert (fig.value, fig.ci_low, fig.ci_high, fig.n) == (1.13, 1.06, 1.19, 7310)


def test_registry_errors_name_the_claim(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n  - id: x\n    claim: y\n    function: no_such_estimator\n")
    with pytest.raises(R.DataFormatError, match="no_such_estimator"):
        R.load_claims(bad)


def test_verdict_rule_by_hand():
    est = R.Estimate(0.8, 0.7, 0.9, 40)
    assert R.verdict(R.Figure("a", 0.76), est)[0] == "consistent"
    assert R.verdict(R.Figure("a", 0.95), est)[0] == "differs"
    # a published interval: overlap decides
    assert R.verdict(R.Figure("a", 0.95, ci_low=0.88, ci_high=0.99), est)[0] == "consistent"
    assert R.verdict(R.Figure("a", 0.95, ci_low=0.91, ci_high=0.99), est)[0] == "differs"
    # "above": the whole interval must be above the value
    assert R.verdict(R.Figure("a", 0.0, test="above"), R.Estimate(0.1, 0.01, 0.2))[0] == "consistent"
    assert R.verdict(R.Figure("a", 0.0, test="above"), R.Estimate(0.1, 0.0, 0.2))[0] == "differs"
    assert R.verdict(R.Figure("a", 0.0, test="above"), R.Estimate(0.0, 5.55e-17, 0.35))[0] == "differs"
    assert R.verdict(R.Figure("a", 0.5), R.Estimate(0.5, math.nan, math.nan, 1))[0] == "not computable"


# ---------------------------------------------------------------------------------------------
# planted values of the synthetic generator (truth.json)
@pytest.fixture(scope="module")
def synth(synthetic_small):
    paths = synthetic_small.paths
    data = R.study_from_paths(ratings_path=paths["ratings_ods"], api_path=paths["api_folder"],
                              indicators_path=[paths["gp_payments"][0].parent, paths["ae_folder"]])
    return synthetic_small, data


def test_synthetic_paths_are_flagged(synth):
    _, data = synth
    assert data.is_synthetic


@pytest.mark.parametrize("domain", ["Well-led", "Safe", "Responsive", "Effective", "Caring"])
def test_domain_agreement_recovers_the_planted_share(synth, domain):
    ds, data = synth
    planted = ds.truth["domain_agreement"]["p_agree"][domain]
    est = R.agreement_with_overall(data, domain=domain, level="location", sector=None)
    assert est.n > 400
    # five key questions are checked at once: a Bonferroni-adjusted interval (as cqc-research
    # truth uses), computed here with statsmodels, must hold the planted value
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(round(est.estimate * est.n), est.n, alpha=0.05 / 5, method="wilson")
    assert lo <= planted <= hi
    assert est.ci_low <= est.estimate <= est.ci_high
    assert abs(est.estimate - planted) < 0.07


@pytest.mark.parametrize("sector", ["NHS hospitals", "GP practices", "Adult social care"])
def test_improvement_after_inadequate_recovers_the_planted_share(synth, sector):
    ds, data = synth
    planted = ds.truth["transitions"]["improved_from_inadequate"][sector]
    history, relationships = data.history, data.relationships
    struggling = set(ds.truth["areas"]["struggling"])  # planted worse: left out, as in notebook 03
    keep = ~((history["sector"].astype(str) == "Adult social care")
             & history["local_authority"].astype(str).isin(struggling))
    clean = Study(tables={"history": history[keep.to_numpy()], "relationships": relationships})
    est = R.improvement_after(clean, rating="Inadequate", outcome="improved", sector=sector)
    assert est.n >= 3  # small scale: few NHS sites are ever rated Inadequate
    assert est.ci_low <= planted <= est.ci_high


@pytest.mark.parametrize("indicator", ["payments_per_patient", "qof_payments_per_patient"])
def test_funding_odds_ratio_recovers_the_planted_odds_ratio(synth, indicator):
    ds, data = synth
    planted = ds.truth["indicator_signal"]["odds_ratio_per_sd"][indicator]
    est = R.funding_odds_ratio(data, indicator=indicator)
    assert est.n > 100
    assert est.ci_low <= planted <= est.ci_high


def test_inspection_effect_recovers_the_planted_effect_after_publication(synth):
    ds, data = synth
    truth = ds.truth["event_effect"]
    est = R.inspection_effect(data, measure=truth["measure"], event=truth["event"], post_months=6)
    assert est.n >= 3
    assert est.ci_low <= truth["effect_pp"] <= est.ci_high
    assert est.ci_low > 0  # the planted rise is detected


def test_replicate_on_synthetic_data_estimates_from_the_data_not_the_registry(synth):
    _, data = synth
    claims = R.load_claims()
    table = R.replicate(data, claims)
    # shift every published value: the estimates must not move
    shifted = [R.Claim(**{**c.__dict__, "figures": tuple(R.Figure(**{**f.__dict__, "value": f.value + 0.5})
                                                          for f in c.figures)}) for c in claims]
    again = R.replicate(data, shifted)
    pd.testing.assert_series_equal(table["estimate"], again["estimate"])
    assert table["synthetic"].all()
    assert (table.loc[table.claim_id == "griffiths2017-intelligent-monitoring", "verdict"] == "not computable").all()
    computed = table[table["verdict"] != "not computable"]
    assert computed["claim_id"].nunique() >= 8


# ---------------------------------------------------------------------------------------------
# planted values in data written for each claim
def _ratings_long(pub_dates, location_types):
    n = len(pub_dates)
    rows = pd.DataFrame({
        "level": "location", "org_id": [f"1-{i}" for i in range(n)], "provider_id": [f"P{i}" for i in range(n)],
        "location_type": location_types, "inspection_category": "GP Practices", "sector": "GP practices",
        "service_group": "Overall", "domain": "Overall",
        "rating": pd.Categorical(["Good"] * n, dtype=RATING_DTYPE), "publication_date": pd.to_datetime(pub_dates),
    })
    return rows


def test_rating_age_is_the_mean_age_with_a_t_interval():
    dates = ["2024-06-01", "2020-06-01", "2019-06-01", "2023-06-01", "2018-06-01", "2021-06-01"]
    types = ["Primary Medical Services"] * 3 + ["Social Care Org"] * 3
    data = Study(tables={"ratings": _ratings_long(dates, types)}, data_date=pd.Timestamp("2024-06-01"))
    ages = np.array([(pd.Timestamp("2024-06-01") - pd.Timestamp(d)).days / 365.25 for d in dates])
    est = R.ESTIMATORS["rating_age"](data)
    assert est.estimate == pytest.approx(ages.mean()) and est.n == 6
    lo, hi = stats.t.interval(0.95, len(ages) - 1, loc=ages.mean(), scale=stats.sem(ages))
    assert (est.ci_low, est.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    gp = R.ESTIMATORS["rating_age"](data, location_type="Primary Medical Services", min_n=2)
    assert gp.estimate == pytest.approx(ages[:3].mean()) and gp.n == 3
    assert math.isnan(R.ESTIMATORS["rating_age"](data, location_type="Social Care Org").ci_low)  # 3 < min_n


def test_first_inspection_improvement_counts_only_each_services_first_rating():
    rows = []
    for i in range(10):  # first rated Inadequate: 8 improve to Good, 2 stay Inadequate
        rows += [(f"a{i}", "2016-01-01", "Inadequate"), (f"a{i}", "2016-08-01", "Good" if i < 8 else "Inadequate")]
    for i in range(10):  # Inadequate only later, never improving: not "first rated Inadequate"
        rows += [(f"b{i}", "2015-01-01", "Good"), (f"b{i}", "2017-01-01", "Inadequate"),
                 (f"b{i}", "2018-01-01", "Inadequate")]
    h = pd.DataFrame(rows, columns=["org_id", "report_date", "rating"])
    h = h.assign(report_date=pd.to_datetime(h["report_date"]), domain="Overall", rating_status="Rated",
                 level="location", sector="GP practices",
                 rating=pd.Categorical(h["rating"], dtype=RATING_DTYPE))
    data = Study(tables={"history": h})
    first = R.improvement_after(data, sector="GP practices", first_inspection=True)
    assert (first.estimate, first.n) == (0.8, 10)
    assert (first.ci_low, first.ci_high) == pytest.approx(proportion_confint(8, 10, method="wilson"))
    every = R.improvement_after(data, sector="GP practices")
    assert (every.n, every.estimate) == (20, pytest.approx(8 / 20))  # b's Inadequate -> Inadequate counts too
    not_improved = R.improvement_after(data, outcome="not improved")
    assert not_improved.estimate == pytest.approx(12 / 20)


def test_variation_at_equal_resources_recovers_the_planted_share():
    # 100 practices, in every decile of funding 8 rated Good and 2 Requires improvement,
    # except the top decile: 5 and 5. The least varied decile is 20% off its modal rating.
    rng = np.random.default_rng(3)
    pay = np.arange(100.0)
    ratings = np.array(["Good"] * 100, dtype=object)
    for d in range(10):
        k = 5 if d == 9 else 2
        ratings[d * 10 + rng.choice(10, k, replace=False)] = "Requires improvement"
    linked = pd.DataFrame({"Overall": pd.Categorical(ratings, dtype=RATING_DTYPE),
                           "payments_per_weighted_patient": pay,
                           "publication_date": pd.Timestamp("2020-01-01")})
    data = Study(tables={"gp_linked": linked})
    est = R.ESTIMATORS["variation_at_equal_resources"](data)
    assert est.estimate == pytest.approx(0.2) and est.n == 100
    assert (est.ci_low, est.ci_high) == pytest.approx(proportion_confint(2, 10, method="wilson"))


def _null_linked(n, seed, column):
    """Ratings unrelated to the indicator: 80% Good, the rest spread over the other ratings."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.05, 0.1, 0.8, 0.05])
    return pd.DataFrame({"Overall": pd.Categorical.from_codes(y, dtype=RATING_DTYPE),
                         column: rng.standard_normal(n), "publication_date": pd.Timestamp("2016-01-01")})


def test_gp_prediction_without_signal_recovers_chance_agreement():
    linked = _null_linked(600, 11, "qof_payments_per_patient")
    data = Study(tables={"gp_linked": linked})
    kw = dict(indicators=["qof_payments_per_patient"], folds=5, seed=1)
    kappa = R.indicator_prediction(data, statistic="weighted_kappa", **kw)
    acc = R.indicator_prediction(data, statistic="accuracy", **kw)
    share_good = float((linked["Overall"] == "Good").mean())
    # chance agreement: the interval covers 0 and the estimate sits at 0 (not one or the other)
    assert kappa.ci_low <= 0 <= kappa.ci_high and abs(kappa.estimate) < 0.05
    assert acc.ci_low <= share_good <= acc.ci_high and acc.n == 600


def test_trust_prediction_without_signal_recovers_chance_agreement_and_needs_enough_trusts():
    linked = _null_linked(300, 5, "ae_4hr_performance_all")
    data = Study(tables={"trust_linked": linked})
    kappa = R.trust_prediction(data, statistic="weighted_kappa", folds=5, seed=2)
    assert kappa.n == 300
    assert kappa.ci_low <= 0 <= kappa.ci_high and abs(kappa.estimate) < 0.05
    few = Study(tables={"trust_linked": linked.head(12)})
    with pytest.raises(R.NotComputable, match="only 12 NHS trusts"):
        R.trust_prediction(few, statistic="weighted_kappa")


def test_claims_on_data_not_given_say_what_they_need():
    empty = Study(embedded=False)
    table = R.replicate(empty)
    assert (table["verdict"] == "not computable").all()
    reasons = table.set_index(["claim_id", "figure"])["reason"]
    assert "--api-path" in reasons[("soc2016-reinspection", "Inadequate -> improved")]
    assert "Intelligent Monitoring" in reasons[("griffiths2017-intelligent-monitoring", "odds ratio, Good / Requires improvement")]
    with pytest.raises(R.NotComputable, match="not load"):
        R.not_loaded(empty, needs="risk scores")


# ---------------------------------------------------------------------------------------------
# the two AMBS papers, with the kinds of indicator they used (issue 24, point 8)
AMBS_SOURCES = {"allen2020-bjgp-gp-indicator-sources": ("practice", {"gpps", "qof"}),
                "allen2020-ijqhc-trust-indicator-sources": ("trust", {"shmi", "staff_survey", "ae", "fft"})}


def test_ambs_indicator_claims_load_with_their_sources_and_pages():
    from cqc_research.indicator_sources import SOURCE_LEVELS

    claims = {c.id: c for c in R.load_claims()}
    for cid, (level, sources) in AMBS_SOURCES.items():
        claim = claims[cid]
        assert claim.function == "source_prediction" and claim.params["level"] == level
        assert set(claim.params["sources"]) == sources and sources <= set(SOURCE_LEVELS)
        assert claim.read_at.startswith("https://") and "Allen T" in claim.citation
        assert not claim.second_hand and "could not be read" in claim.verification
        headline = [f for f in claim.figures if "domain" not in f.params]
        domains = [f for f in claim.figures if "domain" in f.params]
        # the published headline figures, each quoted in the verification or the claim
        for fig in headline:
            assert fig.params["statistic"] in {"accuracy", "modal_share", "weighted_kappa"}
            shown = f"{100 * fig.value:g}%" if fig.unit == "share" else f"{fig.value:g}"
            assert shown in claim.verification + claim.claim, (cid, fig.key, shown)
        # the same figures as the payments / A&E claims of the same paper
        twin = claims[cid.replace("-indicator-sources", "-prediction")]
        assert twin.citation.split(".")[0] == claim.citation.split(".")[0]
        assert {f.key: f.value for f in headline}.items() <= {f.key: f.value for f in twin.figures}.items()
        # the domains were published without figures: none is entered as one
        assert domains == []
        assert "each of the" in claim.verification and "domain" in claim.claim


def test_source_prediction_uses_only_the_papers_sources_and_names_the_missing_ones(synth):
    from cqc_research.indicator_sources import link_sources
    from cqc_research.metrics.prediction import cross_validated_prediction

    synthetic_small, data = synth
    p = synthetic_small.paths
    files = {"gp_payments": list(p["gp_payments"]), "gpps": list(p["gpps"]), "shmi": [p["shmi"]]}
    given = Study(ratings=data.path("ratings"), indicators=files)
    est = R.source_prediction(given, statistic="accuracy", level="practice", sources=["gpps", "qof"], seed=3)
    # independently: the GP Patient Survey alone, linked and cross-validated by hand
    linked = link_sources(given.ratings, sources={"gpps": files["gpps"]}, level="practice")
    d = linked.data.dropna(subset=["Overall", *linked.headline])
    cv = cross_validated_prediction(d, rating="Overall", indicators=linked.headline, folds=5, seed=3)
    assert est.n == len(d) > 30 and est.estimate == pytest.approx(float(cv.summary["accuracy"].iloc[0]))
    assert "sources: gpps; not held: qof" in est.note and "payments" not in est.note
    with pytest.raises(R.NotComputable, match="hold none of them"):
        R.source_prediction(given, statistic="accuracy", level="trust", sources=["staff_survey", "fft"])


def test_cli_on_default_synthetic_data_gives_each_ambs_figure_a_row(synthetic_small, tmp_path, monkeypatch, capsys):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synthetic_small.root, root / "raw" / "synthetic")
    monkeypatch.setenv("CQC_RESEARCH_DATA", str(root))
    out = tmp_path / "out"
    assert main(["replicate", "--claims", ",".join(AMBS_SOURCES), "--out", str(out)]) == 0
    table = pd.read_csv(out / "replications.csv")
    claims = {c.id: c for c in R.load_claims()}
    assert len(table) == sum(len(claims[c].figures) for c in AMBS_SOURCES)
    assert (table["data_status"] == "SYNTHETIC DATA").all()
    for row in table.itertuples(index=False):
        assert row.read_at.startswith("https://")
        if row.verdict == "not computable":
            assert isinstance(row.reason, str) and row.reason.strip()
        else:
            assert np.isfinite(row.estimate) and np.isfinite(row.ci_low)
    gp = table[table.claim_id == "allen2020-bjgp-gp-indicator-sources"]
    assert (gp["verdict"] != "not computable").all() and gp["note"].str.contains("gpps").all()


# ---------------------------------------------------------------------------------------------
# the real Oldham API records
def _plain_loop_inadequate_followed_by_better(folder: Path) -> tuple[int, int]:
    """Count, for every location, consecutive rated Overall reports from Inadequate to better."""
    order = {r.casefold(): i for i, r in enumerate(RATINGS)}
    starts = better = 0
    for f in sorted((folder / "locations").glob("*.json")):
        record = json.loads(f.read_text(encoding="utf-8"))
        entries = []
        current = (record.get("currentRatings") or {}).get("overall") or {}
        entries.append((current.get("reportDate"), current.get("rating"), current.get("organisationId")))
        for h in record.get("historicRatings") or []:
            entries.append((h.get("reportDate"), (h.get("overall") or {}).get("rating"), h.get("organisationId")))
        by_date = {}
        for date, rating, inherited_from in entries:
            if inherited_from or not date or not rating or rating.strip().casefold() not in order:
                continue  # inherited, undated, or not on the scale ("Inspected but not rated")
            by_date.setdefault(date, order[rating.strip().casefold()])
        sequence = [by_date[d] for d in sorted(by_date)]
        for a, b in zip(sequence[:-1], sequence[1:], strict=True):
            if a == 0:
                starts += 1
                better += b > 0
    return starts, better


@pytest.mark.realdata
def test_oldham_share_of_inadequate_followed_by_a_better_rating_matches_a_plain_count(shared_data):
    folder = shared_data / OLDHAM
    starts, better = _plain_loop_inadequate_followed_by_better(folder)
    assert starts > 10
    data = R.study_from_paths(api_path=folder)
    assert not data.is_synthetic
    est = R.improvement_after(data, rating="Inadequate", outcome="improved")
    assert (est.n, est.estimate) == (starts, pytest.approx(better / starts))
    assert (est.ci_low, est.ci_high) == pytest.approx(proportion_confint(better, starts, method="wilson"))


@pytest.mark.realdata
def test_cli_on_oldham_lists_the_claims_estimates_improvement_and_marks_the_rest(shared_data, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["replicate", "--api-path", str(shared_data / OLDHAM), "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0 and "SYNTHETIC" not in printed
    table = pd.read_csv(out / "replications.csv")
    assert "data_status" not in table.columns and not table["synthetic"].any()
    assert table["claim_id"].nunique() >= 10 and table["citation"].notna().all()
    row = table[(table.claim_id == "soc2016-reinspection") & (table.figure == "Inadequate -> improved")].iloc[0]
    starts, better = _plain_loop_inadequate_followed_by_better(shared_data / OLDHAM)
    assert row["verdict"] != "not computable" and row["n"] == starts
    assert row["estimate"] == pytest.approx(better / starts)
    trust = table[table.claim_id == "soc2014-domain-agreement"]
    assert (trust["verdict"] == "not computable").all()
    assert trust["reason"].str.contains("trust-level ratings").all()
    html = (out / "replications.html").read_text()
    assert "SYNTHETIC DATA" not in html and "Allen T" in html and "soc2016-reinspection" in html


def test_cli_on_default_synthetic_data_is_flagged(synthetic_small, tmp_path, monkeypatch, capsys):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(synthetic_small.root, root / "raw" / "synthetic")
    monkeypatch.setenv("CQC_RESEARCH_DATA", str(root))
    out = tmp_path / "out"
    assert main(["replicate", "--claims", "soc2016-reinspection,dash2024-rating-age", "--out", str(out)]) == 0
    assert "SYNTHETIC DATA" in capsys.readouterr().out
    table = pd.read_csv(out / "replications.csv")
    assert (table["data_status"] == "SYNTHETIC DATA").all()
    assert set(table["claim_id"]) == {"soc2016-reinspection", "dash2024-rating-age"}
    assert "SYNTHETIC DATA" in (out / "replications.html").read_text()


def test_cli_errors_name_the_flag(tmp_path, capsys):
    assert main(["replicate", "--api-path", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "--api-path" in capsys.readouterr().err
    assert main(["replicate", "--api-path", str(tmp_path), "--claims", "nope", "--out", str(tmp_path)]) == 2
    assert "--claims" in capsys.readouterr().err


def test_html_escapes_registry_text(tmp_path):
    claims = R.load_claims()[:1]
    claim = R.Claim(**{**claims[0].__dict__, "claim": "<script>alert(1)</script>"})
    table = R.replicate(Study(embedded=False), [claim])
    html = R.render_html(table)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_plot_of_published_against_estimated(synth):
    import matplotlib.pyplot as plt

    _, data = synth
    table = R.replicate(data, ids=["soc2016-reinspection", "dash2024-rating-age", "lesperance2019-funding"])
    fig = R.published_vs_estimated_plot(table)
    assert len(fig.axes) == 3  # shares, years, odds ratios
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# notebook 09, once, on the small synthetic dataset as the embedded default (as in the main job)
def test_notebook_09_runs_on_the_default_synthetic_data(main_job, monkeypatch):
    """Notebook 09 as the main job ran it (on a copy of synthetic_small), against the library."""
    from cqc_research.notebook_output import check_outputs

    run = main_job.run
    assert main_job.status == 0
    monkeypatch.setenv("CQC_RESEARCH_DATA", str(main_job.data))  # the data the run read
    table = pd.read_csv(run / "tables" / "replications.csv")
    assert (table["data_status"] == "SYNTHETIC DATA").all()
    assert table["claim_id"].nunique() >= 10
    # the notebook's numbers are the library's numbers on the same data
    direct = R.replicate(R.study_from_paths())
    np.testing.assert_allclose(table["estimate"], direct["estimate"], equal_nan=True)
    assert list(table["verdict"]) == list(direct["verdict"].astype(str))
    assert (run / "figures" / "replications_published_vs_estimated.png").is_file()
    assert check_outputs(run, synthetic=True) == []
