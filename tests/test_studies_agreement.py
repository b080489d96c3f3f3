"""Notebook 01's study module: its tables, figures and sentences, checked by plain loops and
hand-written strings; and the notebook end to end, whose saved tables must match ``TABLES``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import notebook_text as _notebook_text
from test_agreement import G, random_wide

from cqc_research.metrics.agreement import aggregation_consistency, pairwise_agreement
from cqc_research.ratings import DOMAINS, KEY_QUESTIONS
from cqc_research.studies import agreement as q


def assert_tables_match(run, tables):
    """Every table the run saved is declared in ``tables``, with the declared columns in order."""
    saved = {p.stem: p for p in (run / "tables").glob("*.csv") if not p.stem.startswith("planted_truth")}
    assert saved, "the run saved no table"
    assert set(saved) <= set(tables), f"saved but not declared: {sorted(set(saved) - set(tables))}"
    for name, path in saved.items():
        assert list(pd.read_csv(path, nrows=0).columns) == ["data_status", *tables[name]], name


def test_the_table_check_can_fail(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"data_status": ["x"], "sector": ["a"]}).to_csv(tmp_path / "tables" / "domain_agreement.csv")
    with pytest.raises(AssertionError):
        assert_tables_match(tmp_path, q.TABLES)


# --------------------------------------------------------------------------------------------
# notebook 01, end to end on the synthetic data (one papermill execution)


def test_notebook_01_runs_on_synthetic_data(synthetic_small, tmp_path):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.notebook_output import check_outputs
    from cqc_research.paths import NOTEBOOKS
    from cqc_research.runner import KernelSession

    run = tmp_path / "run"
    params = {"ratings_path": str(synthetic_small.paths["ratings_ods"]), "level": "location",
              "sector": "", "output_dir": str(run)}
    with KernelSession(cwd=tmp_path) as kernel:
        nb, error = kernel.execute(NOTEBOOKS / "01_domain_agreement.ipynb", run / "01.ipynb", params)
    assert error is None, error
    table = pd.read_csv(run / "tables" / "domain_agreement.csv")
    required = {"sector", "domain", "n", "agreement", "agreement_ci_low", "agreement_ci_high",
                "weighted_kappa"}
    assert required <= set(table.columns)
    assert (table["data_status"] == "SYNTHETIC DATA").all()
    # the saved agreement is a plain count of matching ratings, made here (not by the library)
    wide = ratings_wide(load_latest_ratings(synthetic_small.paths["ratings_ods"]), level="location")
    pooled = table[table["sector"] == "All sectors in scope"].set_index("domain")
    assert set(KEY_QUESTIONS) <= set(pooled.index)
    by_hand = {}
    for d in KEY_QUESTIONS:
        both = wide[wide["Overall"].notna() & wide[d].notna()]
        by_hand[d] = sum(a == b for a, b in zip(both["Overall"], both[d], strict=True)) / len(both)
        assert pooled.loc[d, "n"] == len(both) > 0, d
        assert pooled.loc[d, "agreement"] == pytest.approx(by_hand[d]), d
    assert set(table["sector"]) == {"All sectors in scope", *wide["sector"].astype(str).unique()}
    rules = pd.read_csv(run / "tables" / "aggregation_rule_consistency.csv")
    assert {"sector", "n", "reproduced", "reproduced_ci_low", "reproduced_ci_high"} <= set(rules.columns)
    assert rules["n"].sum() == wide["Overall"].notna().sum()
    for fig in ("agreement_bars", "agreement_bars_by_sector", "crosstab_heatmaps"):
        assert (run / "figures" / f"{fig}.png").is_file()
    assert check_outputs(run, synthetic=True) == []
    assert_tables_match(run, q.TABLES)
    # the prose quotes the computed table, not fixed numbers
    text = _notebook_text(nb)
    best = max(by_hand, key=by_hand.get)
    assert f"**{best}** matched the Overall rating most often, {by_hand[best]:.0%}" in text
    total = rules["n_reproduced"].sum()
    assert f"reproduce {total:,} of {rules['n'].sum():,} published Overall ratings" in text



# --------------------------------------------------------------------------------------------
# notebook 01's helpers: tables and sentences, checked by plain loops and hand-written strings
def _sectored(n=300, seed=5):
    wide = random_wide(n=n, seed=seed)
    wide["sector"] = np.where(np.arange(n) % 3 == 0, "GP practices", "Adult social care")
    wide["org_id"] = [f"1-{i}" for i in range(n)]
    return wide


def test_agreement_tables_pool_then_split_by_sector_by_hand():
    wide = _sectored()
    got = q.agreement_tables(wide, level="provider")
    assert list(got.table.columns[:2]) == ["sector", "level"] and (got.table["level"] == "provider").all()
    assert set(q.AGREEMENT_COLUMNS) <= set(got.table.columns)
    assert list(got.table["sector"].unique()) == ["All sectors in scope", "Adult social care", "GP practices"]
    for (sector, domain), row in got.table.set_index(["sector", "domain"]).iterrows():
        rows = wide if sector == "All sectors in scope" else wide[wide["sector"] == sector]
        pairs = [(o, k) for o, k in zip(rows["Overall"], rows[domain], strict=True)
                 if pd.notna(o) and pd.notna(k)]
        assert row["n"] == len(pairs)
        assert row["agreement"] == pytest.approx(sum(o == k for o, k in pairs) / len(pairs))
    assert (got.main["sector"] == "All sectors in scope").all() and len(got.main) == len(KEY_QUESTIONS)
    one = q.agreement_tables(wide[wide["sector"] == "GP practices"])
    assert set(one.table["sector"]) == {"GP practices"} and len(one.main) == len(KEY_QUESTIONS)


def test_sector_counts_pairwise_square_and_exception_rows_by_hand():
    wide = _sectored(n=90)
    wide.loc[:4, "Overall"] = None
    counts = q.sector_counts(wide)
    for sector in ("Adult social care", "GP practices"):
        rows = wide[wide["sector"] == sector]
        assert counts.loc[sector, "organisations"] == len(rows)
        assert counts.loc[sector, "overall_rated"] == sum(pd.notna(v) for v in rows["Overall"])
    square = q.pairwise_square(pairwise_agreement(wide))
    assert list(square.index) == list(DOMAINS) == list(square.columns)
    ok = wide["Safe"].notna() & wide["Caring"].notna()
    by_hand = (wide.loc[ok, "Safe"].astype(str) == wide.loc[ok, "Caring"].astype(str)).mean()
    assert square.loc["Safe", "Caring"] == pytest.approx(by_hand) == square.loc["Caring", "Safe"]
    assert np.isnan(square.loc["Safe", "Safe"])
    _, exceptions = aggregation_consistency(wide, sector="sector")
    shown = q.exception_rows(exceptions, n=3)
    assert len(shown) == min(3, len(exceptions))
    assert list(shown.columns) == ["org_id", "sector", "Overall", "predicted_overall", *KEY_QUESTIONS]


def test_notebook_01_sentences_by_hand():
    wide = pd.DataFrame({"Overall": [G, G, None], **{k: [G, None if k == "Safe" else G, G]
                                                      for k in KEY_QUESTIONS}})
    assert q.compared_sentence(wide, "location").endswith(
        "the number compared is 1 for Safe, 2 for Effective, 2 for Caring, 2 for Responsive, 2 for Well-led.")
    assert q.compared_sentence(wide.drop(index=1), "provider") == (
        "The file holds 2 providers in scope, of which 1 have an Overall rating on the four-point scale. "
        "Organisations whose Overall or key-question rating is not on the scale (for example *Inspected "
        "but not rated*) are left out of each comparison they cannot enter: all 1 rated organisations "
        "enter every comparison.")
    main = pd.DataFrame({"domain": ["Safe", "Caring", "Well-led"], "n": [50, 60, 1200],
                         "agreement": [0.7, 0.56, 0.9], "agreement_ci_low": [0.56, 0.43, 0.88],
                         "agreement_ci_high": [0.81, 0.68, 0.92], "weighted_kappa": [0.41, 0.12, 0.8]})
    assert q.domain_agreement_sentence(main) == (
        "**Well-led** matched the Overall rating most often, 90% (95% CI 88% to 92%, n = 1,200); "
        "**Caring** least often, 56% (95% CI 43% to 68%, n = 60). Their confidence intervals do not "
        "overlap, so the gap is larger than chance variation in a sample of this size would explain. "
        "In order: Well-led 90%, Safe 70%, Caring 56%. Weighted kappa ranges from 0.12 (Caring) to 0.80 (Well-led).")
    assert "cannot tell the two apart" in q.domain_agreement_sentence(main.iloc[:2])
    rules = pd.DataFrame({"sector": ["Adult social care", "NHS hospitals", "Other"], "n": [40, 10, 0],
                          "n_reproduced": [36, 7, 0], "reproduced": [0.9, 0.7, np.nan],
                          "reproduced_ci_low": [0.77, 0.4, np.nan], "reproduced_ci_high": [0.96, 0.89, np.nan],
                          "n_published_better": [3, 0, 0], "n_published_worse": [1, 3, 0],
                          "n_not_assessable": [0, 2, 5]})
    assert q.aggregation_sentence(rules) == (
        "The principles reproduce 43 of 50 published Overall ratings (86%).\n\n"
        "- Adult social care: 90% of 40 reproduced (95% CI 77% to 96%); the published rating was better "
        "than the rule in 3 and worse in 1.\n"
        "- NHS hospitals: 70% of 10 reproduced (95% CI 40% to 89%); the published rating was better than "
        "the rule in 0 and worse in 3; 2 could not be assessed (key questions not all rated).")
    assert q.aggregation_sentence(rules.iloc[2:]) == "No organisation could be assessed.\n\n"
