"""Councils and systems (issue 25): the councils' loader and scoring rule against the raw file,
bad inputs, the registries, the synthetic councils and their planted effects, notebook 10."""

from __future__ import annotations

import csv
import json
import warnings

import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io.la_assessments import LA_STATEMENTS, council_rating
from cqc_research.studies import councils as cn

REAL = "real_formats/la_assessments/la_assessments_2024-08_to_2025-09.csv"
FIXED = ["Local authority", "Type", "Overall rating", "Published"]


def _raw(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _band(total: int) -> str:
    """CQC's bands, written out from the issue: whole percent, halves up."""
    pct = int(100 * total / 36 + 0.5)
    return ("Inadequate" if pct <= 38 else "Requires improvement" if pct <= 62 else "Good" if pct <= 87
            else "Outstanding")


# -- the real file --------------------------------------------------------------------------------
@pytest.mark.realdata
def test_the_72_real_councils_load_and_the_rule_gives_every_published_rating(shared_data):
    path = shared_data / REAL
    raw = _raw(path)
    la = cn.load_la_assessments(path)
    a = la.assessments.set_index("council")
    assert len(raw) == len(a) == 72 and len(la.scores) == 72 * 9
    rated = 0
    for r in raw:
        scores = [int(v) for k, v in r.items() if k not in FIXED]
        assert len(scores) == 9
        row = a.loc[r["Local authority"]]
        assert row["percentage"] == pytest.approx(100 * sum(scores) / 36)
        assert row["rule_rating"] == _band(sum(scores))
        if r["Overall rating"].casefold() == "not rated":
            assert pd.isna(row["rating"]) and row["rating_status"] == "Not rated" and pd.isna(row["agrees"])
        else:
            rated += 1
            assert row["rating"] == r["Overall rating"] and row["agrees"]
    assert rated == 71
    summary, exceptions = cn.council_consistency(la.assessments)
    assert summary[["n_councils", "n_not_rated", "n_checked", "n_reproduced"]].iloc[0].tolist() == [72, 1, 71, 71]
    assert exceptions.empty
    assert a.loc["County Durham", "rating_status"] == "Not rated"  # kept
    assert la.unknown_ratings == {}


@pytest.mark.realdata
def test_the_packaged_councils_are_the_shared_file(shared_data):
    shared = cn.load_la_assessments(shared_data / REAL)
    packaged = cn.load_la_assessments()
    cols = ["council", "type", "published", "total_score", "rating_text"]
    a = shared.assessments[cols].sort_values("council").reset_index(drop=True)
    b = packaged.assessments[cols].sort_values("council").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    key = ["council", "number"]
    pd.testing.assert_frame_equal(shared.scores.sort_values(key).reset_index(drop=True),
                                  packaged.scores.sort_values(key).reset_index(drop=True))


@pytest.mark.realdata
def test_councils_take_ons_codes_from_the_delayed_transfer_names(shared_data):
    from cqc_research.io.nhs import load_dtoc

    la = cn.load_la_assessments(la_codes=load_dtoc(shared_data / "dtoc_la_days_by_reason_2011_2019.csv"))
    codes = la.assessments.set_index("council")["ons_code"]
    assert codes["London Borough of Camden"] == "E09000007"
    assert codes["Stoke"] == "E06000021" and codes["Derby City Council"] == "E06000015"
    assert codes.notna().sum() == 71  # the Isles of Scilly report no delayed transfers


def test_packaged_councils_need_no_file_and_carry_their_provenance():
    la = cn.load_la_assessments()
    assert len(la.assessments) == 72 and int(la.assessments["agrees"].sum()) == 71
    assert not la.synthetic
    import yaml

    meta = yaml.safe_load(cn.PACKAGED_ASSESSMENTS.with_suffix(".yaml").read_text())
    assert "Care Quality Commission" in meta["source"]["publisher"] and "Open Government" in meta["source"]["licence"]


# -- the rule -------------------------------------------------------------------------------------
def test_council_rating_bands_and_rounding():
    assert [council_rating(p) for p in (25, 38, 38.4, 38.9, 62, 62.5, 87.4, 87.5, 88, 100)] == [
        "Inadequate", "Inadequate", "Inadequate", "Requires improvement", "Requires improvement", "Good", "Good",
        "Outstanding", "Outstanding", "Outstanding"]
    assert council_rating(float("nan")) is None
    with pytest.raises(ValueError):
        council_rating(20)
    for total in range(9, 37):
        assert council_rating(100 * total / 36) == _band(total)


def test_the_consistency_check_can_fail():
    a = cn.load_la_assessments().assessments.copy()
    i = a.index[a["council"] == "Blackpool Council"][0]
    a.loc[i, "rating"] = "Good"  # published Good, scores say Inadequate
    summary, exceptions = cn.council_consistency(a)
    assert summary["n_reproduced"].iloc[0] == 70 and summary["n_published_better"].iloc[0] == 1
    assert exceptions["council"].tolist() == ["Blackpool Council"] and exceptions["difference"].tolist() == [2]


# -- bad input ------------------------------------------------------------------------------------
def _write(tmp_path, rows, header=None, name="la.csv"):
    header = header or [*FIXED, *(s for _, _, s in LA_STATEMENTS)]
    p = tmp_path / name
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return p


GOOD_ROW = ["Alpha Council", "County Council", "Good", "May 2025", 3, 3, 3, 3, 3, 3, 3, 3, 3]


def test_a_score_outside_1_to_4_names_file_row_and_column(tmp_path):
    p = _write(tmp_path, [GOOD_ROW, ["Beta Council", "County Council", "Good", "May 2025", 3, 3, 5, 3, 3, 3, 3, 3, 3]])
    with pytest.raises(DataFormatError) as e:
        cn.load_la_assessments(p)
    msg = str(e.value)
    assert "'5'" in msg and "1-4" in msg and "la.csv" in msg and "row 3" in msg
    assert "Equity in experience and outcomes" in msg and "\n" not in msg


def test_a_missing_statement_column_and_a_duplicated_council(tmp_path):
    header = [*FIXED, *(s for _, _, s in LA_STATEMENTS)]
    p = _write(tmp_path, [GOOD_ROW[:-1]], header=header[:-1])
    with pytest.raises(DataFormatError, match="quality statement 9.*Learning, improvement and innovation"):
        cn.load_la_assessments(p)
    p = _write(tmp_path, [GOOD_ROW, GOOD_ROW], name="dup.csv")
    with pytest.raises(DataFormatError, match=r"'Alpha Council' appears twice \(rows 2 and 3\)") as e:
        cn.load_la_assessments(p)
    assert "dup.csv" in str(e.value) and "Local authority" in str(e.value)


def test_an_unknown_rating_word_is_kept_and_counted(tmp_path):
    p = _write(tmp_path, [GOOD_ROW, ["Beta Council", "City Council", "Superb", "June 2025", 4, 4, 4, 4, 4, 4, 4, 4, 3]])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        la = cn.load_la_assessments(p)
    assert any("Superb" in str(x.message) for x in w)
    beta = la.assessments.set_index("council").loc["Beta Council"]
    assert beta["rating_status"] == "Unknown" and beta["rating_text"] == "Superb" and pd.isna(beta["agrees"])
    assert la.unknown_ratings == {"Superb": 1}


def test_qs_columns_and_full_dates_are_accepted(tmp_path):
    header = [*FIXED, *(f"QS{i}" for i in range(1, 10))]
    p = _write(tmp_path, [["Alpha Council", "County Council", "Requires Improvement", "14/02/2025", 2, 2, 2, 2, 2, 2, 2, 2, 3],
                          ["Beta Council", "City Council", "Good", "2025-03-20", 3, 3, 3, 3, 3, 3, 3, 3, 3]], header=header)
    a = cn.load_la_assessments(p).assessments.set_index("council")
    assert a.loc["Alpha Council", "published"] == pd.Timestamp("2025-02-14")
    assert a.loc["Beta Council", "published"] == pd.Timestamp("2025-03-20")
    assert a["agrees"].all() and a.loc["Alpha Council", "total_score"] == 19


# -- registries -----------------------------------------------------------------------------------
def test_every_registry_entry_names_its_source(tmp_path):
    reviews, trusts = cn.load_local_system_reviews(), cn.load_special_measures()
    assert reviews["read_at"].str.startswith("http").all() and reviews["announced"].notna().all()
    assert len(reviews) == reviews["area"].nunique() <= 20
    assert trusts["read_at"].str.startswith("http").all() and trusts["entered"].str.len().gt(0).all()
    exited = trusts["exited"].notna()
    assert trusts.loc[exited, "exit_read_at"].str.startswith("http").all()  # an exit only with its page
    (tmp_path / "bad.yaml").write_text("reviews:\n  - {area: Nowhere, announced: 2017-12-06}\n")
    with pytest.raises(DataFormatError, match="no 'read_at'"):
        cn.load_local_system_reviews(tmp_path / "bad.yaml")


def test_the_seed_claim_of_24_trusts_is_a_replication_claim():
    from cqc_research.studies.replications import load_claims

    claim = next(c for c in load_claims() if c.id == "nhsproviders-special-measures-exits")
    assert claim.figures[0].value == 24 and claim.function == "not_loaded" and claim.read_at.startswith("http")


# -- synthetic councils -------------------------------------------------------------------------
def test_synthetic_councils_carry_the_planted_exceptions(synthetic_small):
    truth = synthetic_small.truth["councils"]
    la = cn.load_la_assessments(synthetic_small.paths["la_assessments"], la_codes=synthetic_small.paths["la_codes"])
    a = la.assessments
    assert la.synthetic and len(a) == synthetic_small.truth["counts"]["local_authorities"]
    assert a["ons_code"].notna().all()  # every synthetic council finds its code through the lookup
    _, exceptions = cn.council_consistency(a)
    assert sorted(exceptions["council"]) == sorted(e["council"] for e in truth["exceptions"]) and truth["exceptions"]
    assert a.set_index("council").loc[truth["not_rated"], "rating_status"] == "Not rated"
    assert truth["slope_pp_per_pp"] == 1.0


def test_the_null_councils_have_no_exceptions_and_nothing_else_changes(synthetic_small, tmp_path):
    from cqc_research.synthetic import generate

    ds = generate(tmp_path / "null", seed=7, scale="small", null=["councils"])
    assert ds.truth["councils"]["slope_pp_per_pp"] == 0.0 and ds.truth["councils"]["exceptions"] == []
    _, exceptions = cn.council_consistency(cn.load_la_assessments(ds.paths["la_assessments"]).assessments)
    assert exceptions.empty
    for key in ("dtoc", "population", "coded_segments", "imd_la"):  # the rest of the dataset is the same (the ODS zip carries a time)
        assert ds.paths[key].read_bytes() == synthetic_small.paths[key].read_bytes()


def test_review_event_study_runs_on_a_monthly_panel(synthetic_small):
    from cqc_research.io import nhs

    p = synthetic_small.paths
    dtoc, pop = nhs.load_dtoc(p["dtoc"]), nhs.load_population(p["population"])
    areas = synthetic_small.truth["areas"]["struggling"]
    reviews = pd.DataFrame({"area": areas, "announced": pd.Timestamp("2017-12-06")})
    panel, events = cn.review_panel(dtoc, population=pop, reviews=reviews, la_codes=nhs.load_la_codes(p["la_codes"]))
    assert sorted(events["area"]) == sorted(areas) and panel["reviewed"].sum() > 0
    # the rate is the month's delayed days per 100,000 aged 65+: recompute one cell by hand
    row = panel.iloc[0]
    days = dtoc[(dtoc["measure"] == "dtoc_days_total") & (pd.to_datetime(dtoc["period_start"]) == row["period_start"])
                & (dtoc["org_name"] == row["org_name"])]["value"].sum()
    people = pop.loc[pop["org_code"] == row["org_code"], "value"].iloc[-1]
    assert row["value"] == pytest.approx(days / people * 100_000)
    study, contrasts = cn.review_event_study(panel, events=events)
    assert set(contrasts["contrast"]) == {"leads", "lags"} and study["n_event_units"].iloc[0] == len(areas)
    spc = cn.review_spc(panel, events=events)
    assert len(spc) == panel["period_start"].nunique()


def test_special_measures_journeys_count_every_inadequate_followed_by_a_rating(synthetic_small):
    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.metrics.transitions import consecutive_pairs

    api = load_api_folder(synthetic_small.paths["api_folder"])
    j = cn.special_measures_journeys(api.history, relationships=api.relationships)
    pairs = consecutive_pairs(api.history, domain="Overall", relationships=api.relationships)
    inad = pairs[(pairs["from_rating"] == "Inadequate") & pairs["sector"].isin(["Adult social care", "GP practices"])]
    assert j["n"].sum() == len(inad)
    tos = ["to_inadequate", "to_requires_improvement", "to_good", "to_outstanding"]
    assert (j[tos].sum(axis=1) == j["n"]).all()
    assert j["improved"].to_numpy() == pytest.approx((j["n"] - j["to_inadequate"]).to_numpy() / j["n"].to_numpy())


# -- notebook 10 in the main job ----------------------------------------------------------------
def test_notebook_10_runs_in_the_main_job_and_recovers_the_planted_councils(main_job):
    run = main_job.run
    manifest = json.loads((run / "manifest.json").read_text())
    nb = next(n for n in manifest["notebooks"] if n["name"] == "10_councils_and_systems")
    assert nb["status"] == "ok", nb.get("error")
    tables = run / "tables"
    for name in ("council_assessments", "council_rule_consistency", "council_local_quality_slope",
                 "council_dtoc_by_rating", "special_measures_journeys", "special_measures_trusts"):
        assert (tables / f"{name}.csv").is_file(), name
    check = pd.read_csv(tables / "planted_truth_councils.csv")
    assert len(check) == 2 and (check["verdict"] == "recovered").all(), check.to_string()


@pytest.mark.realdata
def test_cqc_research_load_reads_the_council_file(shared_data, tmp_path, capsys):
    from cqc_research import cli, load

    real = shared_data / "real_formats" / "la_assessments" / "la_assessments_2024-08_to_2025-09.csv"
    assert len(load(real).assessments) == 72
    assert cli.main(["load", str(real), "--out", str(tmp_path / "la.parquet")]) == 0
    out = capsys.readouterr().out
    assert "[assessments]" in out and "[scores]" in out
    assert len(pd.read_parquet(tmp_path / "la-scores.parquet")) == 72 * 9


def test_council_inputs_through_the_study(tmp_path):
    # real data: what the study lacks is the packaged councils, the API's ratings, and "none"
    api = tmp_path / "api"
    api.mkdir()
    got = cn.council_inputs("packaged", api_path=str(api), root=tmp_path)
    assert got == [str(cn.PACKAGED_ASSESSMENTS), "api", str(api), "none", "none", ""]
    ratings = tmp_path / "r.ods"
    ratings.write_text("x")
    got = cn.council_inputs(ratings_path=str(ratings), dtoc_path="none", root=tmp_path)
    assert got == [str(cn.PACKAGED_ASSESSMENTS), str(ratings), "none", "none", "none", ""]
