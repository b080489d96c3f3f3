"""The synthetic dataset: deterministic, in the real formats, and carrying its planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
from cqc_research.io.cqc_json import load_api_folder
from cqc_research.ratings import KEY_QUESTIONS, RATINGS
from cqc_research.synthetic import generate


def test_deterministic_from_the_seed(tmp_path, synthetic_small):
    again = generate(tmp_path / "again", seed=7, scale="small")
    assert again.truth == json.loads((synthetic_small.root / "truth.json").read_text())
    a = sorted(p.name for p in (synthetic_small.paths["api_folder"] / "locations").iterdir())
    b = sorted(p.name for p in (again.paths["api_folder"] / "locations").iterdir())
    assert a == b
    name = a[5]
    assert (synthetic_small.paths["api_folder"] / "locations" / name).read_bytes() == \
        (again.paths["api_folder"] / "locations" / name).read_bytes()
    other = generate(tmp_path / "other", seed=8, scale="small")
    assert other.truth["linkage"] != again.truth["linkage"] or other.truth["areas"] != again.truth["areas"]


def test_marked_synthetic_with_truth(synthetic_small):
    assert (synthetic_small.root / "SYNTHETIC").is_file()
    t = synthetic_small.truth
    for key in ("domain_agreement", "transitions", "indicator_signal", "event_effect", "areas", "linkage"):
        assert key in t
    for sector, m in t["transitions"]["matrix"].items():
        assert np.allclose(np.sum(m, axis=1), 1), sector


def test_workbook_and_api_agree_on_current_ratings(synthetic_small):
    long = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    api = load_api_folder(synthetic_small.paths["api_folder"])
    w1 = ratings_wide(long).set_index("org_id")
    w2 = ratings_wide(api.ratings).set_index("org_id").loc[w1.index]
    for d in ["Overall", *KEY_QUESTIONS]:
        assert (w1[d].astype(str) == w2[d].astype(str)).all(), d
    assert set(long["sector"].astype(str)) >= {"NHS hospitals", "GP practices", "Adult social care"}
    assert long["rating_status"].eq("Rated").all()


def _rated_history(synthetic_small):
    api = load_api_folder(synthetic_small.paths["api_folder"])
    h = api.history[(api.history["level"] == "location") & (api.history["rating_status"] == "Rated")]
    return h


def test_planted_domain_agreement_is_in_the_data(synthetic_small):
    h = _rated_history(synthetic_small)
    wide = h.pivot_table(index=["org_id", "report_link_id"], columns="domain", values="rating",
                         aggfunc="first", observed=True).dropna()
    for kq, p in synthetic_small.truth["domain_agreement"]["p_agree"].items():
        share = float((wide[kq].astype(str) == wide["Overall"].astype(str)).mean())
        se = np.sqrt(p * (1 - p) / len(wide))
        assert abs(share - p) < 4 * se, (kq, share, p)


def test_planted_transitions_are_in_the_data(synthetic_small):
    h = _rated_history(synthetic_small)
    struggling = set(synthetic_small.truth["areas"]["struggling"])
    o = (h[(h["domain"] == "Overall") & ~h["local_authority"].isin(struggling)]
         .sort_values(["org_id", "report_date"]))
    o = o[o["organisation_id"].isna()]
    nxt = o.groupby("org_id")["rating"].shift(-1)
    pairs = pd.DataFrame({"sector": o["sector"].astype(str), "a": o["rating"].astype(str),
                          "b": nxt.astype(object)}).dropna()
    for sector in ("Adult social care", "GP practices"):
        m = np.array(synthetic_small.truth["transitions"]["matrix"][sector])
        sub = pairs[(pairs["sector"] == sector) & (pairs["a"] == "Good")]
        share = (sub["b"].astype(str) == "Good").mean()
        p = m[RATINGS.index("Good"), RATINGS.index("Good")]
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / len(sub)), (sector, share, p, len(sub))


def test_planted_linkage_cases(synthetic_small):
    t = synthetic_small.truth["linkage"]
    long = load_latest_ratings(synthetic_small.paths["ratings_ods"])
    codes = set(long["location_ods_code"].dropna())
    assert t["closed_practices"] and not set(t["closed_practices"]) & codes
    assert not set(t["unregistered_practices"]) & codes
    merged = t["merged_trusts"][0]
    assert merged["new"] in set(long["provider_id"]) and not set(merged["old"]) & set(long["provider_id"])
    api = load_api_folder(synthetic_small.paths["api_folder"])
    preds = api.relationships[api.relationships["type"] == "HSCA Predecessor"]["related_id"]
    assert {p[:3] for p in preds} == set(merged["old"])


def test_cli_synth(tmp_path, capsys):
    from cqc_research.cli import main

    assert main(["synth", "--out", str(tmp_path / "s"), "--scale", "small", "--seed", "3"]) == 0
    assert "wrote synthetic dataset" in capsys.readouterr().out
    assert (tmp_path / "s" / "truth.json").is_file()


def test_a_dataset_written_by_an_older_generator_is_written_again(tmp_path, monkeypatch):
    import json

    import cqc_research.synthetic.generator as S

    monkeypatch.setenv("CQC_RESEARCH_DATA", str(tmp_path))
    target = S.paths.synthetic_dir()
    target.mkdir(parents=True)
    (target / "truth.json").write_text(json.dumps({"seed": 1}))  # no generator_version: old
    (target / "stale.csv").write_text("x")
    calls = []

    def fake_generate(folder, **kwargs):
        calls.append(folder)
        folder.mkdir(parents=True)
        (folder / "truth.json").write_text(json.dumps({"generator_version": S.GENERATOR_VERSION}))

    monkeypatch.setattr(S, "generate", fake_generate)
    assert S.ensure_default_data(quiet=True) == target
    assert calls == [target] and not (target / "stale.csv").exists()
    assert [p.name for p in tmp_path.rglob("*.old-*")] == []  # the old copy is removed
    assert S.ensure_default_data(quiet=True) == target and len(calls) == 1  # current: kept
