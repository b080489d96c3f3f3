"""The single assessment framework: the scoring rule by hand, the loader against plain loops over the
raw JSON (real Oldham records and synthetic files), bad input kept apart, planted truths recovered,
and notebook 08 end to end."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cqc_research.assessment_framework import (
    FRAMEWORK_2014,
    FRAMEWORK_SAF,
    QUALITY_STATEMENTS,
    key_question_result,
    parse_statement_score,
    percentage_score,
    rating_from_percentage,
    rule_for,
    statement_score_from_evidence,
)
from cqc_research.errors import DataFormatError
from cqc_research.io.cqc_json import load_api_folder, load_api_record
from cqc_research.metrics.assessment import (
    framework_shift,
    rating_age,
    scoring_consistency,
    statements_assessed,
)
from cqc_research.ratings import KEY_QUESTIONS, RATINGS

OLDHAM_RATED = {"1-5203053560", "1-5312102242", "1-569934227"}


def _band_by_hand(pct: int) -> str:
    # CQC's published bands, written out again: Inadequate 25-38, RI 39-62, Good 63-87, Outstanding 88+
    if pct <= 38:
        return "Inadequate"
    if pct <= 62:
        return "Requires improvement"
    if pct <= 87:
        return "Good"
    return "Outstanding"


def _pct_by_hand(scores) -> int:
    total, top = 0, 0
    for s in scores:
        total += s
        top += 4
    x = 100 * total / top
    whole = int(x)
    return whole + 1 if x - whole >= 0.5 else whole


# ---------------------------------------------------------------------------------------------
# the rule
def test_bands_at_every_whole_percentage():
    for pct in range(25, 101):
        assert rating_from_percentage(pct) == _band_by_hand(pct), pct
    with pytest.raises(ValueError):
        rating_from_percentage(20)


def test_key_question_percentages_by_hand():
    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(5, 9))
        scores = rng.integers(1, 5, size=n).tolist()
        pct, rating = key_question_result(scores)
        assert pct == _pct_by_hand(scores)
        assert rating == _band_by_hand(_pct_by_hand(scores))
    assert percentage_score([3, 2, 3, 3], rounded=False) == 11 / 16 * 100
    assert key_question_result([2, 3, 3, 3, 3]) == (70, "Good")  # Franklin House, Caring (real)


def test_evidence_category_rule_and_versions():
    assert statement_score_from_evidence([3, 2, 3, 3]) == (69, 3)  # CQC's worked example
    assert statement_score_from_evidence([1, 2, 1]) == (33, 1)
    with pytest.raises(ValueError, match="2023-11"):
        statement_score_from_evidence([3, 3], version="2024-12")
    assert rule_for("2024-12-01").version == "2023-11"
    assert rule_for("2024-12-02").version == "2024-12"
    assert rule_for(pd.Timestamp("2025-03-01")).version == "2024-12"


def test_statement_score_texts():
    assert parse_statement_score("3 - Evidence shows a good standard of care") == (
        3, "Evidence shows a good standard of care", "Scored")
    assert parse_statement_score("Regulations met")[2] == "Regulations met"
    assert parse_statement_score("")[2] == "No score"
    for bad in ("7 - Evidence shows something", "0 - nothing", "excellent"):
        with pytest.raises(DataFormatError):
            parse_statement_score(bad, where="x.json (assessment[0])")
    assert len(QUALITY_STATEMENTS) == 34


# ---------------------------------------------------------------------------------------------
# real Oldham records: counts by plain loops over the raw JSON
def _raw_assessments(folder: Path):
    out = {}
    for f in sorted((folder / "locations").glob("*.json")):
        rec = json.loads(f.read_text(encoding="utf-8"))
        if rec.get("assessment"):
            out[rec["locationId"]] = rec
    return out


@pytest.fixture(scope="module")
def oldham(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    return folder, _raw_assessments(folder), load_api_folder(folder, use_cache=False)


@pytest.mark.realdata
def test_oldham_statement_and_key_question_counts(oldham):
    _, raw, api = oldham
    n_qs = n_kq = 0
    pct = {}
    assessed = {}
    for lid, rec in raw.items():
        for a in rec["assessment"]:
            for g in a["ratings"]["asgRatings"]:
                for kq in g["keyQuestionRatings"]:
                    n_kq += 1
                    pct[(lid, kq["name"])] = float(kq["percentageScore"])
                    for t in kq["topicareas"]:
                        n_qs += 1
                        assessed[(lid, int(t["qualityStatementId"]))] = t["status"] == "Assessed"
    assert (n_qs, n_kq) == (132, 20)
    assert len(api.statement_scores) == n_qs and len(api.key_question_scores) == n_kq
    got = {(r.org_id, r.domain): float(r.percentage_score) for r in api.key_question_scores.itertuples()}
    assert got == pct
    got_a = {(r.org_id, int(r.statement_id)): bool(r.assessed) for r in api.statement_scores.itertuples()}
    assert got_a == assessed
    # statement scores parsed from their text
    st = api.statement_scores
    franklin = st[(st["org_id"] == "1-5312102242") & (st["statement_id"] == 17)].iloc[0]
    assert (franklin["score"], franklin["score_status"]) == (2, "Scored")
    dental = st[st["org_id"] == "1-16561595022"]
    assert dental["score"].isna().all() and (dental["score_status"] == "Regulations met").all()
    assert len(api.assessments) == 4 and api.assessment_problems.empty


@pytest.mark.realdata
def test_oldham_current_ratings_come_from_the_assessments(oldham):
    _, raw, api = oldham
    expected = {}
    for lid, rec in raw.items():
        a = rec["assessment"][0]
        g = a["ratings"]["asgRatings"][0]
        if g["rating"]:
            expected[lid] = (g["rating"], a["assessmentPlanPublishedDateTime"][:10])
    assert set(expected) == OLDHAM_RATED
    r = api.ratings
    cur = r[(r["service_group"] == "Overall") & (r["domain"] == "Overall") & r["org_id"].isin(list(raw))]
    got = {row.org_id: (str(row.rating), str(row.publication_date.date())) for row in cur.itertuples()}
    assert got == expected
    assert all(v[0] == "Good" and v[1].startswith("2024") for v in got.values())
    assert (cur["framework"] == FRAMEWORK_SAF).all()
    # the unrated dental practice keeps no SAF rating in the current ratings or the history
    assert "1-16561595022" not in got
    h = api.history
    saf = h[h["framework"] == FRAMEWORK_SAF]
    assert set(saf["org_id"]) == OLDHAM_RATED
    assert len(saf) == 3 * 6  # Overall and five key questions each
    assert (h.loc[h["source"] != "assessment", "framework"] == FRAMEWORK_2014).all()
    # the history no longer stops at 2020 for Treetops
    tree = h[(h["org_id"] == "1-5203053560") & (h["domain"] == "Overall")]
    assert tree["report_date"].max() == pd.Timestamp("2024-09-17")


@pytest.mark.realdata
def test_oldham_scoring_rule_reproduces_every_published_key_question(oldham):
    _, raw, api = oldham
    n_checked = n_ok = 0
    for rec in raw.values():
        for a in rec["assessment"]:
            for g in a["ratings"]["asgRatings"]:
                for kq in g["keyQuestionRatings"]:
                    if kq["rating"] not in RATINGS:
                        continue
                    scores = [int(t["qualityStatementscore"].split(" - ")[0]) for t in kq["topicareas"]]
                    n_checked += 1
                    p = _pct_by_hand(scores)
                    n_ok += (p == int(kq["percentageScore"]) and _band_by_hand(p) == kq["rating"])
    summary, exceptions = scoring_consistency(api.key_question_scores, statement_scores=api.statement_scores)
    assert int(summary["n_checked"].sum()) == n_checked == 15
    assert int(summary["n_rating_reproduced"].sum()) == int(summary["n_percentage_reproduced"].sum()) == n_ok
    assert exceptions.empty == (n_ok == n_checked)


@pytest.mark.realdata
def test_oldham_single_record_and_cache(oldham, shared_data):
    folder, _, api = oldham
    one = load_api_record(folder / "locations" / "1-5312102242.json")
    assert len(one.statement_scores) == 33 and len(one.key_question_scores) == 5
    cached = load_api_folder(folder)
    again = load_api_folder(folder)
    for t in ("assessments", "key_question_scores", "statement_scores", "assessment_text"):
        pd.testing.assert_frame_equal(cached.__dict__[t], again.__dict__[t])
        assert len(again.__dict__[t]) == len(api.__dict__[t])


# ---------------------------------------------------------------------------------------------
# bad input: named, kept apart, nothing else lost
def _assessed_files(folder: Path, n: int):
    out = []
    for f in sorted((folder / "locations").glob("*.json")):
        rec = json.loads(f.read_text())
        if rec.get("assessment"):
            out.append((f, rec))
        if len(out) == n:
            return out
    raise AssertionError("too few assessed records")


def test_bad_assessments_are_named_and_kept_apart(synthetic_small, tmp_path):
    src = synthetic_small.paths["api_folder"]
    (tmp_path / "api" / "locations").mkdir(parents=True)
    recs = _assessed_files(src, 4)
    (f1, r1), (f2, r2), (f3, r3), (f4, r4) = recs
    r1["assessment"][0]["ratings"]["asgRatings"][0]["keyQuestionRatings"][0]["topicareas"][2][
        "qualityStatementscore"] = "7 - Evidence shows something"
    del r2["assessment"][0]["ratings"]["asgRatings"]
    del r3["assessment"][0]["assessmentPlanPublishedDateTime"]
    for f, r in recs:
        (tmp_path / "api" / "locations" / f.name).write_text(json.dumps(r))
    with pytest.warns(UserWarning, match="kept apart"):
        api = load_api_folder(tmp_path / "api", use_cache=False)
    probs = api.assessment_problems
    assert len(probs) == 3
    by_file = {Path(p.file).name: p for p in probs.itertuples()}
    assert by_file[f1.name].json_path == ("assessment[0].ratings.asgRatings[0].keyQuestionRatings[0]"
                                          ".topicareas[2].qualityStatementscore")
    assert "7 - Evidence" in by_file[f1.name].value and "1-4" in by_file[f1.name].problem
    assert by_file[f2.name].json_path == "assessment[0].ratings.asgRatings"
    assert "publication date" in by_file[f3.name].problem
    # nothing else lost: every location loads; the malformed statement alone is missing
    assert len(api.locations) == 4
    st = api.statement_scores
    assert (st["org_id"] == r1["locationId"]).sum() == 32
    assert (st["org_id"] == r4["locationId"]).sum() == 33
    assert set(api.assessments["org_id"]) == {r1["locationId"], r4["locationId"]}
    # and the other ratings of the bad records are still there
    for r in (r2, r3):
        assert (api.history["org_id"] == r["locationId"]).sum() == sum(
            1 + len(h["overall"].get("keyQuestionRatings") or [])
            for h in r.get("historicRatings") or [] if h.get("overall")) + (
            1 + len(r["currentRatings"]["overall"]["keyQuestionRatings"]) if r.get("currentRatings") else 0)


# ---------------------------------------------------------------------------------------------
# synthetic data: the planted truths, recovered from the written files
@pytest.fixture(scope="module")
def synth(synthetic_small):
    folder = synthetic_small.paths["api_folder"]
    raw = {}
    for f in sorted((folder / "locations").glob("*.json")):
        rec = json.loads(f.read_text())
        raw[rec["locationId"]] = rec
    return synthetic_small.truth["assessment_framework"], raw, load_api_folder(folder, use_cache=False)


def test_synthetic_records_have_the_real_shape(synth):
    truth, raw, api = synth
    assessed = {k: r for k, r in raw.items() if r.get("assessment")}
    assert len(assessed) == truth["assessed_locations"] > 50
    for rec in list(assessed.values())[:20]:
        a = rec["assessment"][0]
        assert set(a) == {"assessmentPlanPublishedDateTime", "ratings"}
        g = a["ratings"]["asgRatings"][0]
        assert {"assessmentDate", "assessmentPlanId", "assessmentPlanStatus", "keyQuestionRatings", "name",
                "rating", "status", "title", "commentaryDate"} <= set(g)
        assert [k["name"] for k in g["keyQuestionRatings"]] == KEY_QUESTIONS
        assert sum(len(k["topicareas"]) for k in g["keyQuestionRatings"]) == 33
        t = g["keyQuestionRatings"][0]["topicareas"][0]
        assert set(t) == {"evidenceCategory", "name", "qualityStatementId", "qualityStatementscore", "status"}
    absent = [k for k, r in assessed.items() if "currentRatings" not in r]
    assert sorted(absent) == truth["current_ratings_absent"]
    assert 0.5 < len(absent) / len(assessed) < 0.9
    years = Counter(r["assessment"][0]["assessmentPlanPublishedDateTime"][:4] for r in assessed.values())
    assert dict(years) == truth["by_year"]
    assert len(api.assessments) == len(assessed)


def test_synthetic_statements_assessed_follow_the_planted_distribution(synth):
    truth, raw, api = synth
    counts = []
    for rec in raw.values():
        for a in rec.get("assessment") or []:
            for g in a["ratings"]["asgRatings"]:
                counts.append(sum(t["status"] == "Assessed" for k in g["keyQuestionRatings"] for t in k["topicareas"]))
    res = statements_assessed(api.statement_scores)
    assert sorted(res.per_assessment["n_assessed"].tolist()) == sorted(counts)
    dist = res.distribution.set_index("n_assessed")["assessments"]
    by_hand = Counter(counts)
    assert all(dist.get(k, 0) == v for k, v in by_hand.items())
    pmf = {int(k): v for k, v in truth["statements_assessed_pmf"].items()}
    blocks = [(1, 6), (7, 16), (17, 33)]
    obs = [sum(by_hand[k] for k in range(a, b + 1)) for a, b in blocks]
    exp = [len(counts) * sum(pmf[k] for k in range(a, b + 1)) for a, b in blocks]
    assert min(counts) >= 1 and max(counts) <= 33
    assert stats.chisquare(obs, exp).pvalue > 0.001, (obs, exp)


def test_synthetic_scoring_rule_holds_except_the_planted_exceptions(synth):
    truth, raw, api = synth
    planted = {(e["location_id"], e["key_question"]) for e in truth["scoring_rule"]["exceptions"]}
    # by plain loops over the files
    by_hand = set()
    n_rated = 0
    for lid, rec in raw.items():
        for a in rec.get("assessment") or []:
            for g in a["ratings"]["asgRatings"]:
                for kq in g["keyQuestionRatings"]:
                    scores = [int(t["qualityStatementscore"][0]) for t in kq["topicareas"]]
                    p = _pct_by_hand(scores)
                    n_rated += 1
                    assert p == int(kq["percentageScore"])  # percentages always follow the rule
                    if _band_by_hand(p) != kq["rating"]:
                        by_hand.add((lid, kq["name"]))
    assert by_hand == planted and n_rated == truth["scoring_rule"]["rated_key_questions"]
    summary, exceptions = scoring_consistency(api.key_question_scores, statement_scores=api.statement_scores)
    assert set(zip(exceptions["org_id"], exceptions["domain"].astype(str), strict=True)) == planted
    assert int(summary["n_checked"].sum()) == n_rated
    assert int(summary["n_percentage_reproduced"].sum()) == n_rated
    assert int(summary["n_rating_reproduced"].sum()) == n_rated - len(planted)
    assert set(summary["rule_version"]) == {"2023-11", "2024-12"}
    assert (exceptions["kind"] == "rating").all()


def test_synthetic_framework_shift_is_recovered(synth):
    truth, raw, api = synth
    shift = framework_shift(api.history, relationships=api.relationships, alpha=0.01)
    across = shift.pairs[shift.pairs["kind"] == "across frameworks"]
    # one pair per assessed service that had an earlier rating: counted from the files
    n_by_hand = 0
    for rec in raw.values():
        if not rec.get("assessment"):
            continue
        old = [h for h in rec.get("historicRatings") or [] if (h.get("overall") or {}).get("rating") in RATINGS]
        cur = (rec.get("currentRatings") or {}).get("overall") or {}
        n_by_hand += bool(old or cur.get("rating") in RATINGS)
    assert n_by_hand > 0 and len(across) == n_by_hand
    m = shift.matrix[shift.matrix["kind"] == "across frameworks"]
    checked = 0
    for sector, matrix in truth["shift"]["matrix"].items():
        for i, fr in enumerate(RATINGS):
            row = m[(m["sector"].astype(str) == sector) & (m["from_rating"].astype(str) == fr)]
            if row.empty or row["row_n"].iloc[0] < 15:
                continue
            for j, to in enumerate(RATINGS):
                cell = row[row["to_rating"].astype(str) == to].iloc[0]
                assert cell["ci_low"] - 1e-9 <= matrix[i][j] <= cell["ci_high"] + 1e-9, (sector, fr, to)
                checked += 1
    assert checked >= 8
    # the planted shift: adult social care services are downgraded more often than the 2014
    # transitions predict for the same starting ratings
    s = framework_shift(api.history, relationships=api.relationships, alpha=0.05).summary
    asc = s[(s["sector"].astype(str) == "Adult social care") & (s["direction"] == "worse")].iloc[0]
    assert asc["difference_ci_low"] > 0
    # the planted share downgraded, for the starting ratings observed
    pairs = across[across["sector"].astype(str) == "Adult social care"]
    m_asc = truth["shift"]["matrix"]["Adult social care"]
    planted = np.mean([sum(m_asc[RATINGS.index(str(f))][:RATINGS.index(str(f))]) for f in pairs["from_rating"]])
    assert asc["ci_low"] <= planted <= asc["ci_high"]


def test_synthetic_current_ratings_and_rating_age(synth, synthetic_small):
    truth, raw, api = synth
    r = api.ratings
    cur = r[(r["service_group"] == "Overall") & (r["domain"] == "Overall") & (r["level"] == "location")]
    cur = cur.set_index("org_id")
    assessed = {lid: rec for lid, rec in raw.items() if rec.get("assessment")}
    assert len(assessed) >= 10  # the check below runs on real assessed locations
    for lid, rec in assessed.items():
        g = rec["assessment"][0]["ratings"]["asgRatings"][0]
        assert str(cur.loc[lid, "rating"]) == g["rating"]
        assert cur.loc[lid, "framework"] == FRAMEWORK_SAF
    age = rating_age(api.ratings)
    assert set(age.per_org["framework"]) == {FRAMEWORK_2014, FRAMEWORK_SAF}
    per = age.per_org.set_index("org_id")
    lid = truth["current_ratings_absent"][0]
    pub = pd.Timestamp(raw[lid]["assessment"][0]["assessmentPlanPublishedDateTime"][:10])
    assert per.loc[lid, "age_months"] == pytest.approx((age.as_of - pub).days / (365.25 / 12))


# ---------------------------------------------------------------------------------------------
# notebook 08
NB08_TABLES = {
    "assessed_by_sector_year": {"sector", "year", "assessments"},
    "statements_assessed_distribution": {"n_assessed", "assessments", "share", "ci_low", "ci_high"},
    "score_distribution": {"domain", "score", "statements", "share"},
    "scoring_rule_consistency": {"rule_version", "n_checked", "rating_reproduced", "rating_ci_low"},
    "scoring_rule_exceptions": {"org_id", "domain", "rating", "rule_rating"},
    "framework_shift_matrix": {"kind", "from_rating", "to_rating", "n", "share", "ci_low", "ci_high"},
    "framework_shift_summary": {"direction", "observed", "expected", "difference"},
    "rating_age": {"sector", "framework", "n", "median_months"},
}


def _run_nb08(tmp_path, api_path):
    import papermill as pm

    from cqc_research.paths import NOTEBOOKS

    run = tmp_path / "run"
    nb = pm.execute_notebook(str(NOTEBOOKS / "08_assessment_framework.ipynb"), str(tmp_path / "08.ipynb"),
                             parameters={"api_path": str(api_path), "output_dir": str(run)},
                             kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    tables = {}
    for name, cols in NB08_TABLES.items():
        tables[name] = pd.read_csv(run / "tables" / f"{name}.csv")
        assert cols <= set(tables[name].columns), name
    return run, tables, nb


def test_notebook_08_on_synthetic_data(synthetic_small, tmp_path):
    from test_studies_agreement import assert_tables_match

    from cqc_research.studies.assessment import TABLES

    run, tables, _ = _run_nb08(tmp_path, synthetic_small.paths["api_folder"])
    assert_tables_match(run, TABLES)
    truth = synthetic_small.truth["assessment_framework"]
    t = tables["assessed_by_sector_year"]
    assert int(t["assessments"].sum()) == truth["assessed_locations"]
    assert (tables["scoring_rule_exceptions"].shape[0]) == len(truth["scoring_rule"]["exceptions"])
    assert (t["data_status"] == "SYNTHETIC DATA").all()
    for fig in ("statements_assessed", "score_distribution", "framework_shift"):
        assert (run / "figures" / f"{fig}.png").is_file(), fig


@pytest.mark.realdata
def test_notebook_08_on_oldham(shared_data, tmp_path):
    run, tables, _ = _run_nb08(tmp_path, shared_data / "cqc_api_oldham_2024")
    assert int(tables["assessed_by_sector_year"]["assessments"].sum()) == 4
    d = tables["statements_assessed_distribution"]
    d = d[d["sector"] == "All sectors in scope"].set_index("n_assessed")["assessments"]
    # statements assessed, read off the records: dental 7, Treetops 10, Franklin House 9, the GP 1
    assert int(d.sum()) == 4 and d[[1, 7, 9, 10]].tolist() == [1, 1, 1, 1]
    assert tables["scoring_rule_exceptions"].empty
