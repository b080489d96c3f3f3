"""Event study: exact recovery on hand-simulated panels, agreement with statsmodels' dummy-variable
regression, event dates from CQC API records, and the planted post-publication shift."""

from __future__ import annotations

import io
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cqc_research.errors import DataFormatError
from cqc_research.metrics.events import (
    event_contrast,
    event_contrasts,
    event_dates,
    event_study,
    month_index,
)
from cqc_research.studies.inspection_effects import api_reports

EFFECT = 2.0
LAGS = range(1, 7)


def _panel(n_units=10, n_months=40, events=None, effect=EFFECT, noise=0.0, seed=0, drop=0.0):
    """y = unit effect + month effect + effect in months +1..+6 after each event (+ noise)."""
    rng = np.random.default_rng(seed)
    units = [f"T{i:02d}" for i in range(n_units)]
    p = pd.DataFrame([(u, t) for u in units for t in range(n_months)], columns=["org", "t"])
    alpha = dict(zip(units, rng.normal(85, 4, n_units), strict=True))
    gamma = rng.normal(0, 2, n_months)
    p["y"] = p["org"].map(alpha) + gamma[p["t"]]
    for _, e in events.iterrows():
        rel = p["t"] - e["event_date"]
        p.loc[(p["org"] == e["org"]) & rel.isin(LAGS), "y"] += effect
    p["y"] += rng.normal(0, noise, len(p)) if noise else 0.0
    if drop:
        p = p.sample(frac=1 - drop, random_state=seed).sort_values(["org", "t"]).reset_index(drop=True)
    return p


STAGGERED = pd.DataFrame({"org": ["T00", "T01", "T02", "T03", "T04", "T05"],
                          "event_date": [10, 14, 18, 22, 26, 30]})  # T06..T09 never inspected
TWICE = pd.DataFrame({"org": ["T00", "T00", "T01", "T02", "T02", "T03", "T04"],
                      "event_date": [6, 24, 12, 9, 30, 16, 20]})


def _by_rel(res):
    return res.set_index("rel_time")


def test_exact_recovery_single_events():
    panel = _panel(events=STAGGERED)
    res = event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-8, 8))
    est = _by_rel(res)["estimate"]
    expected = pd.Series([EFFECT if k in LAGS else 0.0 for k in range(-8, 9)], index=range(-8, 9))
    np.testing.assert_allclose(est.to_numpy(), expected.to_numpy(), atol=1e-8)
    assert res.loc[res.rel_time == -1, "period"].item() == "reference"
    assert res["label"].iloc[0] == "<=-8" and res["label"].iloc[-1] == ">=8"
    c = event_contrasts(res).set_index("contrast")
    assert c.loc["leads", "estimate"] == pytest.approx(0.0, abs=1e-8)
    # default lags 1..7: six months of +2 and one of 0
    assert c.loc["lags", "estimate"] == pytest.approx(EFFECT * 6 / 7)
    assert (res["n_units_total"] == 10).all() and (res["n_event_units"] == 6).all()
    # every event unit is observed at every relative month of the window
    assert (res["n_units"] == 6).all()


def test_exact_recovery_repeated_events_are_additive():
    panel = _panel(events=TWICE)
    res = event_study(panel, unit="org", time="t", outcome="y", events=TWICE, window=(-6, 8),
                      lags=(1, 6))
    est = _by_rel(res)["estimate"]
    np.testing.assert_allclose([est[k] for k in LAGS], EFFECT, atol=1e-8)
    np.testing.assert_allclose([est[k] for k in (-6, -5, -4, -3, -2, 0, 7, 8)], 0.0, atol=1e-8)
    assert event_contrasts(res).set_index("contrast").loc["lags", "estimate"] == pytest.approx(EFFECT)
    assert (res["n_events"] == 7).all()


def _dummies_fit(panel, events, lo, hi, ref=-1, restrict=False):
    """Independent computation: OLS with explicit unit and month dummies (statsmodels formula)."""
    X = pd.DataFrame(0.0, index=panel.index, columns=[f"k{k + 100}" for k in range(lo, hi + 1) if k != ref])
    inside = pd.Series(False, index=panel.index)
    for _, e in events.iterrows():
        rel = (panel["t"] - e["event_date"]).where(panel["org"] == e["org"])
        inside |= rel.between(lo, hi)
        if not restrict:
            rel = rel.clip(lo, hi)
        for k in range(lo, hi + 1):
            if k != ref:
                X[f"k{k + 100}"] += (rel == k).astype(float)
    df = pd.concat([panel, X], axis=1)
    if restrict:
        df = df[inside | ~df["org"].isin(set(events["org"]))]
    formula = "y ~ " + " + ".join(X.columns) + " + C(org) + C(t)"
    fit = smf.ols(formula, df).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["org"])[0]},
                                   use_t=True)
    return fit, list(X.columns)


@pytest.mark.parametrize("endpoints", ["bin", "restrict"])
def test_matches_statsmodels_dummy_regression(endpoints):
    panel = _panel(n_units=14, events=TWICE, noise=1.5, seed=3, drop=0.1)  # unbalanced
    lo, hi = -5, 6
    res = event_study(panel, unit="org", time="t", outcome="y", events=TWICE, window=(lo, hi),
                      endpoints=endpoints)
    fit, cols = _dummies_fit(panel, TWICE, lo, hi, restrict=endpoints == "restrict")
    mine = res[res.rel_time != -1]
    np.testing.assert_allclose(mine["estimate"], fit.params[cols], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(mine["std_error"], fit.bse[cols], rtol=1e-6)
    ci = fit.conf_int().loc[cols]
    np.testing.assert_allclose(mine["ci_low"], ci[0], rtol=1e-6)
    np.testing.assert_allclose(mine["ci_high"], ci[1], rtol=1e-6)
    np.testing.assert_allclose(mine["p_value"], fit.pvalues[cols], rtol=1e-5, atol=1e-12)
    assert (res["n_obs_total"] == fit.nobs).all()
    # the covariance columns hold statsmodels' clustered covariance of the coefficients
    cov = mine.set_index("rel_time")[[f"cov_{k}" for k in mine["rel_time"]]]
    np.testing.assert_allclose(cov.to_numpy(), fit.cov_params().loc[cols, cols].to_numpy(), rtol=1e-6)
    assert res.loc[res.rel_time == -1, [c for c in res.columns if c.startswith("cov_")]].isna().all(axis=None)
    # the contrast (mean of lags 1..5) equals statsmodels' t_test of the same linear combination
    lag_cols = [f"k{k + 100}" for k in range(1, hi)]
    tt = fit.t_test(" + ".join(lag_cols) + " = 0")
    c = event_contrasts(res).set_index("contrast").loc["lags"]
    assert c["estimate"] == pytest.approx(float(np.squeeze(tt.effect)) / len(lag_cols))
    assert c["std_error"] == pytest.approx(float(np.squeeze(tt.sd)) / len(lag_cols), rel=1e-6)
    assert c["p_value"] == pytest.approx(float(np.squeeze(tt.pvalue)), rel=1e-5)
    # joint test of the leads equals statsmodels' F test
    lead_cols = [f"k{k + 100}" for k in range(lo + 1, -1)]
    ft = fit.f_test(", ".join(f"{c} = 0" for c in lead_cols))
    assert event_contrasts(res).set_index("contrast").loc["leads", "joint_p_value"] == pytest.approx(
        float(ft.pvalue), rel=1e-5)


def test_noisy_panel_covers_truth():
    events = pd.DataFrame({"org": [f"T{i:02d}" for i in range(30)],
                           "event_date": np.random.default_rng(5).integers(14, 40, 30)})
    panel = _panel(n_units=40, n_months=54, events=events, noise=1.0, seed=5)
    res = event_study(panel, unit="org", time="t", outcome="y", events=events, window=(-12, 12),
                      lags=(1, 6))
    c = event_contrasts(res).set_index("contrast")
    assert c.loc["lags", "ci_low"] < EFFECT < c.loc["lags", "ci_high"]
    assert c.loc["leads", "ci_low"] < 0 < c.loc["leads", "ci_high"]
    assert c.loc["lags", "p_value"] < 1e-6


def test_event_time_column_equals_events_frame():
    panel = _panel(events=STAGGERED, noise=0.5, seed=2)
    panel["inspected"] = panel["org"].map(STAGGERED.set_index("org")["event_date"])
    a = event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-6, 6))
    b = event_study(panel, unit="org", time="t", outcome="y", event_time_col="inspected", window=(-6, 6))
    pd.testing.assert_frame_equal(a, b)
    # results stack, and each study's contrasts are recomputed from its own rows (nothing lives
    # in attrs, which pandas drops on concat and Parquet)
    both = pd.concat([a.assign(design="frame"), b.assign(design="column")], ignore_index=True)
    assert len(both) == 2 * len(a) and both.attrs == {}
    with pytest.raises(ValueError, match="more than one event study"):
        event_contrasts(both)
    pd.testing.assert_frame_equal(event_contrasts(both[both["design"] == "column"]), event_contrasts(a))
    # the same after a CSV round trip (a saved table)
    buf = io.StringIO()
    a.to_csv(buf, index=False)
    back = pd.read_csv(io.StringIO(buf.getvalue()))
    pd.testing.assert_frame_equal(event_contrasts(back), event_contrasts(a))
    with pytest.raises(ValueError, match="columns of event_study"):
        event_contrasts(a[["rel_time", "estimate"]])


def test_dates_are_months():
    assert month_index(pd.to_datetime(["2019-04-01", "2019-04-30", "2020-01-15"])).tolist() == [
        2019 * 12 + 3, 2019 * 12 + 3, 2020 * 12]
    # a date panel and its integer-month twin give the same answer
    panel = _panel(events=STAGGERED, noise=0.5, seed=4)
    dated = panel.assign(t=pd.Timestamp("2016-01-01") + pd.to_timedelta(0, "D")
                         + panel["t"].map(lambda m: pd.DateOffset(months=int(m))))
    ev = STAGGERED.assign(event_date=[pd.Timestamp("2016-01-20") + pd.DateOffset(months=int(m))
                                      for m in STAGGERED["event_date"]])
    a = event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-6, 6))
    b = event_study(dated, unit="org", time="t", outcome="y", events=ev, window=(-6, 6))
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-9)


def test_tidy_indicator_input_and_errors():
    panel = _panel(events=STAGGERED)
    tidy = pd.concat([panel.assign(measure="ae_4hr_performance_all"),
                      panel.assign(measure="attendances", y=panel["y"] * 100)])
    tidy = tidy.rename(columns={"org": "org_code", "t": "period_start", "y": "value"})
    ev = STAGGERED.rename(columns={"org": "org_code"})
    with pytest.raises(ValueError, match="pass measure="):
        event_study(tidy, events=ev, window=(-8, 8))
    res = event_study(tidy, events=ev, window=(-8, 8), measure="ae_4hr_performance_all")
    assert _by_rel(res).loc[3, "estimate"] == pytest.approx(EFFECT)
    assert (res["outcome"] == "ae_4hr_performance_all").all()
    with pytest.raises(DataFormatError, match="more than one row for unit"):
        event_study(pd.concat([panel, panel.iloc[:1]]), unit="org", time="t", outcome="y",
                    events=STAGGERED)
    with pytest.raises(DataFormatError, match="lacks columns"):
        event_study(panel, unit="org_code", time="t", outcome="y", events=STAGGERED)
    with pytest.raises(ValueError, match="reference"):
        event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-3, 3),
                    reference=-3)
    with pytest.raises(ValueError, match="exactly one"):
        event_study(panel, unit="org", time="t", outcome="y")
    with pytest.raises(TypeError, match="DataFrame"):
        event_study(panel.to_dict(), unit="org", time="t", outcome="y", events=STAGGERED)


def test_restrict_without_controls_is_not_identified():
    panel = _panel(n_units=6, events=STAGGERED)
    with pytest.raises(ValueError, match="not identified"):
        event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-4, 4),
                    endpoints="restrict")


# -- event dates from API records -----------------------------------------------------------
def _write_location(folder, loc_id, provider, reports, current=None, historic=()):
    rec = {"locationId": loc_id, "providerId": provider, "type": "NHS Healthcare Organisation",
           "inspectionCategories": [{"name": "Acute hospital - NHS non-specialist", "primary": "true"}],
           "reports": reports}
    if current:
        rec["currentRatings"] = {"overall": {"rating": current[1], "reportLinkId": current[0]}}
    rec["historicRatings"] = [{"reportLinkId": lid, "overall": {"rating": r}} for lid, r in historic]
    (folder / "locations").mkdir(parents=True, exist_ok=True)
    (folder / "locations" / f"{loc_id}.json").write_text(json.dumps(rec))


def test_event_dates_from_api_folder(tmp_path):
    rep = lambda lid, pub, visit=None: {"linkId": lid, "reportDate": pub,  # noqa: E731
                                        **({"firstVisitDate": visit} if visit else {})}
    _write_location(tmp_path, "RX101", "RX1",
                    [rep("a", "2019-03-02", "2018-12-10"), rep("b", "2017-06-20", "2017-04-01"),
                     rep("n", "2018-01-05")],
                    current=("a", "Good"), historic=[("b", "Requires improvement"), ("n", "Not rated")])
    # a second site of the same trust reported the same month: one event
    _write_location(tmp_path, "RX102", "RX1", [rep("c", "2019-03-20", "2018-12-11")], current=("c", "Good"))
    reports = api_reports(tmp_path)
    assert len(reports) == 4 and set(reports["sector"]) == {"NHS hospitals"}
    assert reports.set_index("report_link_id")["rated"].to_dict() == {"a": True, "b": True, "n": False, "c": True}
    pub = event_dates(reports, event="publication")
    assert pub["event_date"].dt.strftime("%Y-%m-%d").tolist() == ["2017-06-20", "2019-03-02"]
    assert pub["n_reports"].tolist() == [1, 2]
    insp = event_dates(reports, event="inspection")
    assert insp["event_date"].dt.strftime("%Y-%m-%d").tolist() == ["2017-04-01", "2018-12-10"]
    every = event_dates(reports, rated_only=False)
    assert len(every) == 3  # the unrated January 2018 report counts too
    (tmp_path / "locations" / "bad.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="bad.json"):
        api_reports(tmp_path, strict=True)
    with pytest.warns(UserWarning, match="bad.json"):  # by default the folder keeps going
        assert len(api_reports(tmp_path)) == 4


def test_provider_reports_preferred_over_sites(tmp_path):
    _write_location(tmp_path, "RX101", "RX1", [{"linkId": "s", "reportDate": "2018-05-01"}],
                    current=("s", "Good"))
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "RX1.json").write_text(json.dumps({
        "providerId": "RX1", "type": "NHS Healthcare Organisation",
        "reports": [{"linkId": "p", "reportDate": "2019-07-01"}],
        "currentRatings": {"overall": {"rating": "Good", "reportLinkId": "p"}}}))
    reports = api_reports(tmp_path)
    assert event_dates(reports)["event_date"].dt.strftime("%Y-%m").tolist() == ["2019-07"]
    assert len(event_dates(reports, level="all")) == 2
    assert event_dates(reports, level="location")["event_date"].dt.strftime("%Y-%m").tolist() == ["2018-05"]


@pytest.mark.realdata
def test_api_reports_real_oldham(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    reports = api_reports(folder)
    # independent count: reports[] entries over every location file
    n = sum(len(json.loads(p.read_text()).get("reports") or [])
            for p in (folder / "locations").glob("*.json"))
    n += sum(len(json.loads(p.read_text()).get("reports") or [])
             for p in (folder / "providers").glob("*.json"))
    assert len(reports) == n
    # Royal Oldham (RW603, trust RW6): four rated reports; the 2022 RM317 report is not rated
    rec = json.loads((folder / "locations" / "RW603.json").read_text())
    rated = {rec["currentRatings"]["overall"]["reportLinkId"]} | {h["reportLinkId"] for h in rec["historicRatings"]}
    expected = sorted(r["reportDate"] for r in rec["reports"] if r["linkId"] in rated)
    ev = event_dates(reports, sector="NHS hospitals")
    got = ev.loc[ev["provider_id"] == "RW6", "event_date"].dt.strftime("%Y-%m-%d").tolist()
    assert got == expected == ["2016-08-12", "2018-03-01", "2020-02-07", "2021-02-10"]


@pytest.mark.realdata
@pytest.mark.parametrize("event", ["publication", "inspection"])
def test_history_panel_gives_the_same_events(shared_data, event):
    """io.cqc_json's history panel and the raw reports agree; RM317's rating inherited from
    RW603 is not a second event (for trust RM3)."""
    from cqc_research.io.cqc_json import load_api_folder

    folder = shared_data / "cqc_api_oldham_2024"
    a = event_dates(load_api_folder(folder, use_cache=False), event=event, sector="NHS hospitals")
    b = event_dates(api_reports(folder), event=event, sector="NHS hospitals")
    pd.testing.assert_frame_equal(a, b)
    assert "RM3" not in set(a["provider_id"])


@pytest.mark.realdata
def test_event_study_on_real_ae_matches_dummies(shared_data):
    """Real, unbalanced A&E panel (2016-19) with Oldham's trust events: same numbers as OLS with
    explicit dummies."""
    ae = pd.read_csv(shared_data / "ae_attendances_tidy_2016_2019.csv")
    g = ae.groupby(["org_code", "period"])[["attendances", "breaches"]].sum().reset_index()
    g = g[g["attendances"] > 0]
    g["value"] = 100 * (1 - g["breaches"] / g["attendances"])
    g = g.rename(columns={"period": "period_start"})
    g["period_start"] = pd.to_datetime(g["period_start"])
    # RW6 and 59 other trusts keep the dummy-variable reference fit quick
    keep = ["RW6", *sorted(set(g["org_code"]) - {"RW6"})[:59]]
    g = g[g["org_code"].isin(keep)]
    ev = event_dates(api_reports(shared_data / "cqc_api_oldham_2024"), sector="NHS hospitals")
    ev = ev.rename(columns={"provider_id": "org_code"})
    res = event_study(g, events=ev, window=(-6, 6))
    assert (res["n_event_units"] == 1).all()  # only RW6 of Oldham's trusts reports A&E here
    panel = g.rename(columns={"org_code": "org", "value": "y"}).assign(
        t=lambda d: d["period_start"].dt.year * 12 + d["period_start"].dt.month - 1).reset_index(drop=True)
    evm = ev[ev["org_code"].isin(set(g["org_code"]))].rename(columns={"org_code": "org"}).assign(
        event_date=lambda d: d["event_date"].dt.year * 12 + d["event_date"].dt.month - 1)
    fit, cols = _dummies_fit(panel, evm, -6, 6)
    mine = res[res.rel_time != -1]
    np.testing.assert_allclose(mine["estimate"], fit.params[cols], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mine["std_error"], fit.bse[cols], rtol=1e-5)


# -- the planted truth --------------------------------------------------------------------------
def test_recovers_planted_post_publication_shift(synthetic_small):
    from cqc_research.io.nhs import load_ae_monthly

    truth = synthetic_small.truth["event_effect"]
    ae = load_ae_monthly(synthetic_small.paths["ae_folder"])
    ae = ae[(ae["measure"] == truth["measure"]) & (ae["org_level"] == "trust")]
    assert ae["org_code"].nunique() >= 5  # the small scale has 9 trusts
    reports = api_reports(synthetic_small.paths["api_folder"])
    ev = event_dates(reports, event=truth["event"], sector=truth["sector"]).rename(
        columns={"provider_id": "org_code"})
    lags = truth["lags"]
    res = event_study(ae, events=ev, window=(-12, 12), lags=(min(lags), max(lags)))
    c = event_contrasts(res).set_index("contrast")
    assert c.loc["lags", "ci_low"] < truth["effect_pp"] < c.loc["lags", "ci_high"]
    assert c.loc["leads", "ci_low"] < truth["leads_effect_pp"] < c.loc["leads", "ci_high"]
    # each planted month on its own, and months 7..11 (no effect planted)
    by = _by_rel(res)
    covered = [(by.loc[k, "ci_low"] < truth["effect_pp"] < by.loc[k, "ci_high"]) for k in lags]
    assert sum(covered) >= len(lags) - 1  # 95% intervals: at most one miss expected by chance
    # after month 6 the planted effect is gone: months 7..11 sit far below the planted shift.
    # (Their interval is not required to cover 0: every coefficient is measured against the single
    # reference month -1, whose own noise shifts leads and later lags together.)
    later = event_contrast(res, rel_times=range(max(lags) + 1, 12))
    assert abs(later["estimate"].item()) < truth["effect_pp"] / 3
    assert later["ci_high"].item() < c.loc["lags", "estimate"]


# -- the plot ------------------------------------------------------------------------------------
def test_event_study_plot(tmp_path):
    from cqc_research.plots.events import event_study_plot

    panel = _panel(events=STAGGERED, noise=0.5, seed=1)
    res = event_study(panel, unit="org", time="t", outcome="y", events=STAGGERED, window=(-6, 6))
    fig = event_study_plot(res, event_label="publication", ylabel="percentage points")
    ax = fig.axes[0]
    # one error bar per estimated month, the zero line and the event line
    assert len(ax.collections) >= 1
    hlines = [ln for ln in ax.lines if len(set(ln.get_ydata())) == 1 and ln.get_ydata()[0] == 0]
    vlines = [ln for ln in ax.lines if len(set(ln.get_xdata())) == 1]
    assert hlines and vlines
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "<=-6" in ticks[0].replace("≤", "<=") and ">=6" in ticks[-1].replace("≥", ">=")
    fig.savefig(tmp_path / "es.png")
    plt.close(fig)


# -- notebook 04, once, on the small synthetic dataset ------------------------------------------
def test_notebook_04_on_synthetic(synthetic_small, tmp_path):
    import papermill as pm

    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.io.nhs import load_indicators
    from cqc_research.paths import NOTEBOOKS

    run = tmp_path / "run"
    ae_folder, api_folder = synthetic_small.paths["ae_folder"], synthetic_small.paths["api_folder"]
    pm.execute_notebook(str(NOTEBOOKS / "04_inspection_effects.ipynb"), str(tmp_path / "04.ipynb"),
                        parameters={"indicators_path": str(ae_folder), "api_path": str(api_folder),
                                    "window_months": 12, "post_months": 6, "output_dir": str(run)},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    contrasts = pd.read_csv(run / "tables" / "event_study_contrasts.csv")
    assert (contrasts["data_status"] == "SYNTHETIC DATA").all()
    assert set(contrasts["event"]) == {"publication", "inspection"}
    assert {"leads", "lags", "later lags"} <= set(contrasts["contrast"])
    # the notebook's headline equals the library called directly on the same files
    ae = load_indicators(ae_folder)
    ae = ae[(ae["measure"] == "ae_4hr_performance_all") & (ae["org_level"] == "trust")]
    ev = event_dates(load_api_folder(api_folder), event="publication", sector="NHS hospitals")
    direct = event_contrasts(event_study(ae, events=ev.rename(columns={"provider_id": "org_code"}),
                                         window=(-12, 12), lags=(1, 6))).set_index("contrast")
    nb = contrasts[contrasts["event"] == "publication"].set_index("contrast")
    for c in ("leads", "lags"):
        assert nb.loc[c, "estimate"] == pytest.approx(direct.loc[c, "estimate"])
        assert nb.loc[c, "ci_low"] == pytest.approx(direct.loc[c, "ci_low"])
    # the planted effect is inside the notebook's intervals
    check = pd.read_csv(run / "tables" / "planted_truth_event_effect.csv").set_index("quantity")
    assert (check["verdict"] == "recovered").all(), check.to_string()
    after = check.loc["mean change in months 1 to 6 after publication"]
    assert after["estimate"] > 1  # detection at the Bonferroni level: test_truth.py, on the test scale
    spc = pd.read_csv(run / "tables" / "spc_points.csv")
    assert spc["org_code"].nunique() == 1 and len(spc) > 24
    for fig in ("event_study_publication", "event_study_inspection_vs_publication", "spc_chart"):
        assert (run / "figures" / f"{fig}.png").is_file()


@pytest.mark.realdata
def test_notebook_04_on_real_samples_degrades_not_dies(shared_data, tmp_path):
    """Three real monthly A&E files (2019-2021) and Oldham's events: too few months for an event
    study or a rebased chart, so both sections are skipped with a note and the report completes."""
    import papermill as pm

    from cqc_research.paths import NOTEBOOKS

    run = tmp_path / "run"
    nb = pm.execute_notebook(
        str(NOTEBOOKS / "04_inspection_effects.ipynb"), str(tmp_path / "04.ipynb"),
        parameters={"indicators_path": str(shared_data / "real_formats" / "ae_monthly_csv"),
                    "api_path": str(shared_data / "cqc_api_oldham_2024"), "output_dir": str(run)},
        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    shown = "".join(o.get("data", {}).get("text/markdown", "") + o.get("text", "")
                    for c in nb.cells for o in c.get("outputs", []))
    assert "Section skipped: Performance around the event" in shown
    assert "needs at least 25" in shown  # 2 x 12 + 1 months for a 12-month window
    assert "Section skipped: One trust's SPC chart" in shown
    assert (run / "tables" / "event_linkage.csv").is_file()
    assert not (run / "tables" / "event_study.csv").exists()
