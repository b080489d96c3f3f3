"""The eight impact mechanisms: the registry is complete and honest, and the headline figures are
read correctly from a run folder (hand-made tables with known answers; missing tables are
"not run", never an error)."""

from __future__ import annotations

import importlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from cqc_research.paths import NOTEBOOKS
from cqc_research.studies import mechanisms
from cqc_research.studies.mechanisms import (
    HEADLINE_COLUMNS,
    MECHANISMS,
    headline_figures,
    mechanisms_table,
)

EIGHT = ["anticipatory", "directive", "organisational", "relational", "informational",
         "stakeholder", "lateral", "systemic"]


def test_the_eight_mechanisms_in_order():
    assert list(MECHANISMS) == EIGHT
    assert len(MECHANISMS) == 8
    with pytest.raises(KeyError, match="expected one of"):
        MECHANISMS["coercive"]


def test_names_match_the_qualitative_codebook():
    from cqc_research.qual import load_codebook

    codes = load_codebook().codes
    assert set(codes.loc[codes["group"] == "mechanism", "code"]) == set(EIGHT)


def test_qualitative_flag_is_honest():
    for m in MECHANISMS.values():
        routine = [p for p in m.proxies if p.notebook != mechanisms.QUAL_NOTEBOOK]
        # qualitative means: no routine-data proxy at all
        assert m.qualitative == (not routine), m.name
        assert m.evidence and m.definition.endswith(".")
        assert len(m.definition) < 200, f"{m.name}: keep the definition to one line"
    for name in ("relational", "lateral", "stakeholder"):
        m = MECHANISMS[name]
        assert m.qualitative
        assert "interview" in m.evidence.lower()
        assert any(p.notebook == "07_mixed_methods" for p in m.proxies)
    for name in ("anticipatory", "directive", "informational", "systemic", "organisational"):
        assert not MECHANISMS[name].qualitative


def test_every_named_function_exists():
    for m in MECHANISMS.values():
        for p in m.proxies:
            for dotted in p.functions:
                module, attr = dotted.rsplit(".", 1)
                try:
                    mod = importlib.import_module(module)
                except ModuleNotFoundError:
                    pytest.fail(f"{m.name}: module {module} does not exist")
                assert hasattr(mod, attr), f"{m.name}: {dotted} does not exist"


def test_named_notebooks_exist():
    named = {p.notebook for m in MECHANISMS.values() for p in m.proxies}
    assert named and named <= {"03_improvement_journeys", "04_inspection_effects", "07_mixed_methods"}
    for nb in named:  # all three are written now: each named notebook must exist
        path = NOTEBOOKS / f"{nb}.ipynb"
        assert path.is_file(), path


def test_mechanisms_table_is_tidy_and_displays():
    t = mechanisms_table()
    assert t["mechanism"].drop_duplicates().tolist() == EIGHT
    assert {"mechanism", "definition", "qualitative", "routine_data", "proxy", "functions",
            "notebook", "tables", "evidence"} <= set(t.columns)
    assert not t.duplicated(["mechanism", "proxy"]).any()
    html = MECHANISMS._repr_html_()
    for m in MECHANISMS.values():
        assert m.label in html
    assert html.count("(qualitative)") == 3
    assert "Relational" in MECHANISMS["relational"]._repr_html_()


def test_empty_run_folder_reports_not_run(tmp_path):
    h = headline_figures(tmp_path)
    assert list(h.columns) == HEADLINE_COLUMNS
    assert set(h["status"]) == {"not run", "qualitative"}
    assert h["estimate"].isna().all()
    assert set(h.loc[h["status"] == "qualitative", "mechanism"]) == {"relational", "stakeholder", "lateral"}
    assert set(h["mechanism"]) == set(EIGHT)
    assert h.attrs["synthetic"] is False and mechanisms.tables_read(h) == []


def _transitions():
    """A transitions table in the notebook-03 schema, with numbers worked out by hand."""
    rows = []
    counts = {  # (sector, domain): {from: {to: n}}
        ("NHS hospitals", "Overall"): {"Inadequate": {"Inadequate": 3, "Requires improvement": 12, "Good": 5},
                                       "Good": {"Good": 30, "Outstanding": 10, "Requires improvement": 10}},
        ("Adult social care", "Overall"): {"Inadequate": {"Inadequate": 30, "Requires improvement": 50,
                                                          "Good": 20}},
        ("NHS hospitals", "Well-led"): {"Inadequate": {"Inadequate": 5, "Good": 15}},
    }
    for (sector, domain), by_from in counts.items():
        for frm, tos in by_from.items():
            total = sum(tos.values())
            for to, n in tos.items():
                lo, hi = proportion_confint(n, total, method="wilson")
                rows.append({"sector": sector, "domain": domain, "from_rating": frm, "to_rating": to,
                             "n": n, "share": n / total, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def test_headlines_from_hand_made_tables(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    t = _transitions()
    t.insert(0, "data_status", "SYNTHETIC DATA")  # as Report.save_table writes for synthetic runs
    t.to_csv(tables / "transitions.csv", index=False)
    contrasts = pd.DataFrame({
        "event": ["publication", "publication", "inspection", "inspection"],
        "contrast": ["leads", "lags", "leads", "lags"], "sector": "NHS hospitals",
        "measure": "ae_4hr_performance_all", "rel_from": [-11, 1, -11, 1], "rel_to": [-2, 6, -2, 6],
        "estimate": [0.1, 2.05, -0.2, 1.1], "ci_low": [-0.3, 1.6, -0.7, 0.5],
        "ci_high": [0.5, 2.5, 0.3, 1.7], "n_event_units": 9})
    contrasts.to_csv(tables / "event_study_contrasts.csv", index=False)
    pd.DataFrame({"code": ["relational", "lateral"], "code_group": "mechanism", "unit": "case",
                  "n_segments": [30, 4], "n_units": [12, 3], "n_total": 20, "share": [0.6, 0.15],
                  "ci_low": [0.36, 0.03], "ci_high": [0.81, 0.38]}).to_csv(
        tables / "code_frequencies.csv", index=False)

    h = headline_figures(tmp_path)
    get = lambda mech, proxy_start, sector: h[(h.mechanism == mech) & h.proxy.str.startswith(proxy_start)  # noqa: E731
                                              & (h.sector == sector)].iloc[0]
    # directive: improved from Inadequate, counted from transitions: NHS 17/20, ASC 70/100,
    # with Wilson intervals (as improvement_from gives)
    d = get("directive", "share of services rated Inadequate", "NHS hospitals")
    assert d["estimate"] == pytest.approx(17 / 20)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx(proportion_confint(17, 20, method="wilson"))
    assert d["n"] == 20 and d["status"] == "measured" and d["table"] == "transitions"
    assert get("directive", "share of services rated Inadequate", "Adult social care")["estimate"] == pytest.approx(0.7)
    # organisational: the Well-led domain below Good: 15/20
    assert get("organisational", "share of Well-led ratings below Good",
               "NHS hospitals")["estimate"] == pytest.approx(0.75)
    # systemic: moved up the scale, Overall, all starting ratings. NHS: (12+5+10)/(20+50)
    s = get("systemic", "share of consecutive", "NHS hospitals")
    lo, hi = proportion_confint(27, 70, method="wilson")
    assert s["estimate"] == pytest.approx(27 / 70)
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo, hi))
    # event study: anticipatory reads the leads around the inspection, informational the lags
    # after publication
    a = get("anticipatory", "change in a monthly indicator", "NHS hospitals")
    assert (a["estimate"], a["ci_low"], a["ci_high"]) == (-0.2, -0.7, 0.3)
    assert "inspection" in a["note"]
    i = get("informational", "change in a monthly indicator after a rating", "NHS hospitals")
    assert i["estimate"] == 2.05 and i["n"] == 9 and i["unit"] == "percentage points"
    assert get("informational", "the same, after the inspection", "NHS hospitals")["estimate"] == 1.1
    # qualitative: coded shares are reported; a qualitative mechanism with a coded share is
    # measured, one without (stakeholder: no row) keeps its "qualitative" line
    r = h[(h.mechanism == "relational") & (h.status == "measured")].iloc[0]
    assert r["estimate"] == 0.6 and r["n"] == 20
    st = h[h.mechanism == "stakeholder"]
    assert set(st["status"]) == {"no estimate", "qualitative"}
    assert not h["status"].eq("unreadable").any()
    # the one-page table and the sentences carry the same numbers
    wide = mechanisms.headline_table(h)
    assert wide.loc[("Directive", d["proxy"]), "NHS hospitals"].startswith("85% (")
    assert wide.loc[("Directive", d["proxy"]), "NHS hospitals"].endswith("; n=20")
    assert wide.loc[("Anticipatory", a["proxy"]), "NHS hospitals"] == "-0.20 pp (-0.70 to +0.30); n=9"
    text = "\n".join(mechanisms.headline_sentences(h))
    assert "+2.05 pp (+1.60 to +2.50), n=9 (a rise)" in text
    assert "-0.20 pp (-0.70 to +0.30), n=9 (no change distinguishable from zero)" in text
    assert "coded in 60% of interview cases (36% to 81%, n=20)" in text
    assert "**Stakeholder** (qualitative): no routine data measure it." in text
    fig = mechanisms.headline_plot(h)
    assert [ax.get_xlabel().split(" (")[0] for ax in fig.axes] == [
        "change in the monthly indicator", "share of services", "share of interview cases coded"]
    plt.close(fig)
    # the synthetic stamp of transitions.csv carries over, for the report banner
    assert h.attrs["synthetic"] is True
    assert mechanisms.tables_read(h) == ["code_frequencies", "event_study_contrasts", "transitions"]


def test_directive_prefers_the_improvement_table(tmp_path):
    (tmp_path / "tables").mkdir()
    _transitions().to_csv(tmp_path / "tables" / "transitions.csv", index=False)
    # the improvement_from() schema of notebook 03
    pd.DataFrame({"sector": ["NHS hospitals", "NHS hospitals", "GP practices"],
                  "from_rating": "Inadequate", "outcome": ["improved", "to Good", "improved"],
                  "n": [16, 5, 0], "total": [20, 20, 0], "share": [0.8, 0.25, np.nan],
                  "ci_low": [0.58, 0.11, np.nan], "ci_high": [0.92, 0.47, np.nan]}).to_csv(
        tmp_path / "tables" / "improvement_from_inadequate.csv", index=False)
    h = headline_figures(tmp_path, names=["directive"])
    m = h[(h.status == "measured") & h.proxy.str.startswith("share")]
    assert m["sector"].tolist() == ["NHS hospitals"]  # GP practices: no re-inspection, no estimate
    assert (m["estimate"].item(), m["ci_low"].item(), m["n"].item()) == (0.8, 0.58, 20)
    assert m["table"].item() == "improvement_from_inadequate"


def test_anticipatory_falls_back_to_publication_leads(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"event": ["publication"], "contrast": ["leads"], "estimate": [0.3], "ci_low": [-0.1],
                  "ci_high": [0.7]}).to_csv(tmp_path / "tables" / "event_study_contrasts.csv", index=False)
    h = headline_figures(tmp_path, names=["anticipatory"])
    row = h[h.status == "measured"].iloc[0]
    assert row["estimate"] == 0.3 and "publication" in row["note"]


def test_unexpected_columns_are_reported_not_raised(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"sector": ["x"], "value": [1]}).to_csv(tmp_path / "tables" / "transitions.csv", index=False)
    h = headline_figures(tmp_path, names=["directive"])
    bad = h[h.status == "unreadable"]
    assert len(bad) == 1 and "from_rating" in bad["note"].iloc[0]
    assert np.isnan(bad["estimate"].iloc[0])


# -- notebook 06, once, on a run folder built from the small synthetic dataset -----------------
def test_notebook_06_on_synthetic(synthetic_small, tmp_path):
    """Tables written as notebooks 03 and 04 write them (library calls on synthetic_small, saved
    through Report), no notebook 07: the page reads them, stamps its outputs, and marks 07 as not
    run without failing."""
    import papermill as pm

    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.io.nhs import load_indicators
    from cqc_research.metrics.events import event_contrasts, event_dates, event_study
    from cqc_research.metrics.transitions import transition_matrix
    from cqc_research.notebook_output import Report

    run = tmp_path / "run"
    api = load_api_folder(synthetic_small.paths["api_folder"])
    rep = Report(run, sources=[synthetic_small.paths["api_folder"]])
    assert rep.synthetic
    rep.save_table(transition_matrix(api.history, by=["sector", "domain"]), "transitions")
    ae = load_indicators(synthetic_small.paths["ae_folder"])
    ae = ae[(ae["measure"] == "ae_4hr_performance_all") & (ae["org_level"] == "trust")]
    rows = []
    for event in ("publication", "inspection"):
        ev = event_dates(api, event=event, sector="NHS hospitals").rename(columns={"provider_id": "org_code"})
        res = event_study(ae, events=ev, window=(-12, 12), lags=(1, 6))
        rows.append(event_contrasts(res).assign(event=event, sector="NHS hospitals",
                                                measure="ae_4hr_performance_all",
                                                n_event_units=int(res["n_event_units"].iloc[0])))
    rep.save_table(pd.concat(rows, ignore_index=True), "event_study_contrasts")

    pm.execute_notebook(str(NOTEBOOKS / "06_impact_mechanisms.ipynb"), str(tmp_path / "06.ipynb"),
                        parameters={"output_dir": str(run)}, kernel_name="python3", cwd=str(tmp_path),
                        progress_bar=False)
    saved = pd.read_csv(run / "tables" / "mechanism_headlines.csv")
    assert (saved["data_status"] == "SYNTHETIC DATA").all()
    direct = headline_figures(run)
    pd.testing.assert_series_equal(saved["estimate"], direct["estimate"], check_names=False)
    assert saved["status"].tolist() == direct["status"].tolist()
    # the publication lags recover the planted shift; 07 did not run, so the qualitative
    # mechanisms keep their "qualitative" line and nothing failed
    truth = synthetic_small.truth["event_effect"]
    info = saved[(saved["mechanism"] == "informational") & (saved["status"] == "measured")
                 & saved["proxy"].str.contains("after a rating is published")].iloc[0]
    assert info["ci_low"] < truth["effect_pp"] < info["ci_high"]
    assert set(saved.loc[saved["status"] == "qualitative", "mechanism"]) == {"relational", "stakeholder", "lateral"}
    sources = pd.read_csv(run / "tables" / "mechanism_sources.csv").set_index("notebook")["in this run"]
    assert sources.to_dict() == {"03_improvement_journeys": "yes", "04_inspection_effects": "yes",
                                 "07_mixed_methods": "not run"}
    assert len(pd.read_csv(run / "tables" / "mechanisms.csv")) == len(mechanisms_table())
    assert (run / "figures" / "mechanism_headlines.png").is_file()


def test_mechanism_sources_and_note():
    h = pd.DataFrame({"notebook": ["03_improvement_journeys", "07_mixed_methods", "04_inspection_effects"],
                      "status": ["measured", "measured", "not run"],
                      "table": ["transitions", "code_frequencies", "event_study_contrasts"]})
    status = mechanisms.mechanism_sources(h)
    assert status["in this run"].tolist() == ["yes", "not run", "yes"]
    note = mechanisms.sources_note(status, h)
    assert note.startswith("- `03_improvement_journeys` (improvement journeys (rating transitions)): **yes**")
    assert note.endswith("Tables read: `code_frequencies.csv`, `transitions.csv`.")
