"""load_api_folder at scale: the column-wise reader, its incremental cache, and folders that keep
going past a bad record file. Counts are worked out independently from the raw JSON."""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.core.arrays.string_arrow import ArrowStringArray

from cqc_research.errors import DataFormatError
from cqc_research.io._api_cache import _take
from cqc_research.io.cqc_json import API_TABLES, load_api_folder


def _raw(folder):
    out = {}
    for sub in ("locations", "providers"):
        for p in sorted((folder / sub).glob("*.json")):
            out[(sub, p.name)] = json.loads(p.read_text(encoding="utf-8"))
    return out


def _org(rec):
    return rec.get("locationId") or rec.get("providerId")


def _plain_facts(raw):
    """Key facts of a folder from the JSON alone: the reader's rules, written plainly."""
    hist, current, services, reports, statements, rels = set(), {}, 0, 0, 0, 0
    for (sub, _), rec in raw.items():
        org = _org(rec)
        reports += len(rec.get("reports") or [])
        rels += len(rec.get("relationships") or [])
        cur = (rec.get("currentRatings") or {}).get("overall")
        blocks = [(cur, None, None)] if cur else []
        blocks += [(h.get("overall"), h.get("reportDate"), h.get("reportLinkId"))
                   for h in rec.get("historicRatings") or [] if h.get("overall")]
        for ov, date, link in blocks:
            d, lk = ov.get("reportDate") or date, ov.get("reportLinkId") or link
            hist.add((org, lk, "Overall", d))
            for kq in ov.get("keyQuestionRatings") or []:
                hist.add((org, kq.get("reportLinkId") or lk, kq["name"].replace("Well led", "Well-led"),
                          kq.get("reportDate") or d))
        if cur and cur.get("rating") and sub == "locations":
            current[org] = cur["rating"].strip().lower()
        for s in (rec.get("currentRatings") or {}).get("serviceRatings") or []:
            services += 1 + len(s.get("keyQuestionRatings") or [])
        for a in rec.get("assessment") or []:
            if not a.get("assessmentPlanPublishedDateTime"):
                continue
            for g in (a.get("ratings") or {}).get("asgRatings") or []:
                for kq in g.get("keyQuestionRatings") or []:
                    statements += len(kq.get("topicareas") or [])
    return {"history": hist, "current": current, "services": services, "reports": reports,
            "statements": statements, "relationships": rels}


def _check_against_json(folder, api):
    raw = _raw(folder)
    facts = _plain_facts(raw)
    assert len(api.locations) + len(api.providers) == len(raw) == api.files
    assert set(api.locations["org_id"]) == {_org(r) for (s, _), r in raw.items() if s == "locations"}
    h = api.history[api.history["source"] != "assessment"]
    def none(v):
        return None if pd.isna(v) else v

    got = {(o, none(lk), dom, none(d)) for o, lk, dom, d in
           zip(h["org_id"], h["report_link_id"], h["domain"].astype(str),
               h["report_date"].dt.strftime("%Y-%m-%d"), strict=True)}
    want = {(o, lk, dom, d[:10] if d else None) for o, lk, dom, d in facts["history"]}
    assert got == want
    assert len(h) == len(want)  # one row per organisation x report x domain x date
    cur = h[(h["source"] == "current") & (h["domain"] == "Overall") & (h["level"] == "location")]
    got_cur = {o: (str(r) if pd.notna(r) else str(s)).lower()
               for o, r, s in zip(cur["org_id"], cur["rating"], cur["rating_status"], strict=True)}
    assert {o: got_cur[o] for o in facts["current"]} == facts["current"]
    assert (api.service_ratings["source"] == "current").sum() == facts["services"]
    assert len(api.reports) == facts["reports"]
    assert len(api.relationships) == facts["relationships"]
    assert len(api.statement_scores) == facts["statements"]


def _check_dtypes(api):
    """The documented dtypes; repeated labels of the large tables are categoricals."""
    from cqc_research.io._api_fast import COMPACT
    from cqc_research.ratings import DOMAIN_DTYPE, RATING_DTYPE, SECTOR_DTYPE, STATUS_DTYPE

    for name in ("history", "ratings", "service_ratings"):
        frame = getattr(api, name)
        assert frame["domain"].dtype == DOMAIN_DTYPE and frame["rating"].dtype == RATING_DTYPE
        assert frame["rating_status"].dtype == STATUS_DTYPE
    assert api.history["sector"].dtype == SECTOR_DTYPE
    assert api.history["report_date"].dtype.kind == "M"
    assert api.history["org_id"].dtype == "str" and api.history["report_link_id"].dtype == "str"
    assert api.locations["care_home"].dtype == "boolean"
    for name, cols in COMPACT.items():
        frame = getattr(api, name)
        for c in cols:
            assert isinstance(frame[c].dtype, pd.CategoricalDtype), (name, c)
            cats = list(frame[c].cat.categories)
            assert cats == sorted(cats)  # sorted as text sorts, so sorting by them is unchanged
            assert set(cats) == set(frame[c].dropna())  # only values that occur


@pytest.mark.realdata
def test_oldham_tables_match_the_raw_json(shared_data):
    folder = shared_data / "cqc_api_oldham_2024"
    api = load_api_folder(folder, use_cache=False)
    _check_against_json(folder, api)
    _check_dtypes(api)


def test_synthetic_tables_match_the_raw_json(synthetic_small):
    folder = synthetic_small.paths["api_folder"]
    api = load_api_folder(folder, use_cache=False)
    _check_against_json(folder, api)
    _check_dtypes(api)
    # the assessments' current ratings replace the 2014 ones where newer
    saf = api.ratings[api.ratings["framework"] == "Single assessment framework"]
    assert len(saf) and set(saf["org_id"]) <= set(api.assessments.loc[api.assessments["current"], "org_id"])


def _copy_api(src, tmp_path):
    dst = tmp_path / "api"
    shutil.copytree(src, dst)
    return dst


def _same(a, b):
    for name in API_TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def _bump(path):
    """A new modification time, as a rewrite by sync-api gives."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_incremental_cache_rereads_only_changed_records(synthetic_small, tmp_path):
    folder = _copy_api(synthetic_small.paths["api_folder"], tmp_path)
    first = load_api_folder(folder)
    assert first.notes[0].startswith("read: full")
    assert load_api_folder(folder).notes[0] == "read: cached"
    locs = sorted((folder / "locations").glob("*.json"))
    # a changed record: its new current rating appears
    changed = next(p for p in locs if (json.loads(p.read_text()).get("currentRatings") or {}).get("overall"))
    rec = json.loads(changed.read_text())
    old = rec["currentRatings"]["overall"]["rating"]
    new = "Inadequate" if old != "Inadequate" else "Outstanding"
    rec["currentRatings"]["overall"]["rating"] = new
    changed.write_text(json.dumps(rec))
    _bump(changed)
    # a deleted record disappears; an added one appears
    gone = locs[-1]
    gone_id = json.loads(gone.read_text())["locationId"]
    gone.unlink()
    added = dict(json.loads(locs[0].read_text()), locationId="1-ADDED0001", name="Added Care Home")
    (folder / "locations" / "1-ADDED0001.json").write_text(json.dumps(added))
    second = load_api_folder(folder)
    assert second.notes[0] == "read: incremental (2 files read)"
    _same(second, load_api_folder(folder, use_cache=False))
    h = second.history
    row = h[(h["org_id"] == rec["locationId"]) & (h["source"] == "current") & (h["domain"] == "Overall")]
    assert row["rating"].astype(str).tolist() == [new]
    for name in API_TABLES:
        frame = getattr(second, name)
        if "org_id" in frame:
            assert gone_id not in set(frame["org_id"]), name
    assert "1-ADDED0001" in set(second.locations["org_id"])
    assert "Added Care Home" in set(second.locations["location_name"])
    # a touched file (same content, new time) is read again and changes nothing
    _bump(locs[1])
    third = load_api_folder(folder)
    assert third.notes[0] == "read: incremental (1 files read)"
    _same(third, second)


def test_incremental_cache_rereads_a_file_replaced_with_the_same_size_and_time(synthetic_small, tmp_path):
    """A record replaced by another file of the same size and modification time (a copy that
    keeps times, as rsync -t does) is noticed by its inode and read again."""
    folder = _copy_api(synthetic_small.paths["api_folder"], tmp_path)
    load_api_folder(folder)
    target = sorted((folder / "locations").glob("*.json"))[2]
    rec = json.loads(target.read_text())
    name = rec["name"]
    rec["name"] = ("X" if name[0] != "X" else "Y") + name[1:]  # one letter: the same size
    st = target.stat()
    tmp = target.with_name(".replacement.tmp")
    tmp.write_bytes(target.read_bytes().replace(name.encode(), rec["name"].encode(), 1))
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, target)
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    assert target.stat().st_ino != st.st_ino
    again = load_api_folder(folder)
    assert again.notes[0] == "read: incremental (1 files read)"
    names = again.locations.set_index("org_id")["location_name"]
    assert names[rec["locationId"]] == rec["name"]
    _same(again, load_api_folder(folder, use_cache=False))


def test_incremental_cache_reads_everything_when_an_organisation_is_in_two_files(synthetic_small, tmp_path):
    folder = _copy_api(synthetic_small.paths["api_folder"], tmp_path)
    load_api_folder(folder)
    src = sorted((folder / "locations").glob("*.json"))[0]
    (folder / "locations" / "zz-copy.json").write_text(src.read_text())
    again = load_api_folder(folder)
    assert again.notes[0] == "read: full (an organisation in two files)"
    _same(again, load_api_folder(folder, use_cache=False))


def _bad_copy(shared_data, tmp_path, content: str):
    folder = _copy_api(shared_data / "real_formats" / "cqc_api_2021", tmp_path)
    bad = folder / "locations" / "1-121233220.json"
    if content == "truncated":
        text = bad.read_text()
        bad.write_text(text[: len(text) // 2])
    else:
        bad.write_text(content)
    return folder, bad


@pytest.mark.realdata
def test_a_truncated_record_does_not_sink_the_folder(shared_data, tmp_path):
    folder, bad = _bad_copy(shared_data, tmp_path, "truncated")
    with pytest.warns(UserWarning, match=r"1 of 23 CQC API record files could not be read.*1-121233220\.json.*"
                                         r"invalid JSON"):
        api = load_api_folder(folder)
    assert len(api.locations) == 22
    assert [p for p, _ in api.skipped] == [str(bad)]
    assert "invalid JSON at line" in api.skipped[0][1]
    assert any("1-121233220.json" in n for n in api.notes)
    for name in API_TABLES:  # nothing from the bad file
        frame = getattr(api, name)
        if "org_id" in frame:
            assert "1-121233220" not in set(frame["org_id"]), name
    good = load_api_folder(shared_data / "real_formats" / "cqc_api_2021", use_cache=False)
    keep = good.history[good.history["org_id"] != "1-121233220"].reset_index(drop=True)
    pd.testing.assert_frame_equal(api.history, keep, check_categorical=False)  # fewer categories
    # a warm load says the same
    with pytest.warns(UserWarning, match="1-121233220"):
        again = load_api_folder(folder)
    assert again.skipped == api.skipped and again.notes[0] == "read: cached"
    # strict stops at it
    with pytest.raises(DataFormatError, match=r"1-121233220\.json.*invalid JSON"):
        load_api_folder(folder, strict=True)


@pytest.mark.realdata
@pytest.mark.parametrize("content, reason", [
    ("[1, 2]", "expected a JSON object"),
    ('{"name": "no id"}', "no 'locationId'"),
    ('{"locationId": "1-121233220", "currentRatings": {"overall": {"rating": "Good"}, '
     '"serviceRatings": ["not an object"]}}', "AttributeError"),
])
def test_bad_records_are_named_with_their_reason(shared_data, tmp_path, content, reason):
    folder, bad = _bad_copy(shared_data, tmp_path, content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = load_api_folder(folder, use_cache=False)
    assert len(api.locations) == 22
    assert len(api.skipped) == 1 and api.skipped[0][0] == str(bad) and reason in api.skipped[0][1]
    # the last one failed after its Overall rating was read: that row was taken back out
    assert "1-121233220" not in set(api.history["org_id"])


@pytest.mark.realdata
def test_the_load_report_names_the_bad_file(shared_data, tmp_path, capsys):
    from cqc_research.io import explain

    folder, bad = _bad_copy(shared_data, tmp_path, "truncated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, reports = explain(folder)
    text = "\n".join(str(r) for r in reports)
    assert "1-121233220.json" in text and "invalid JSON" in text


def test_a_value_of_another_json_type_in_a_text_field_is_kept_as_text_and_said(synthetic_small, tmp_path):
    """A number where the API gives text (found by the fuzzing suite: it used to fail only when
    the tables were built or cached, taking the folder with it) is kept as text, an object or a
    list as nothing, and a warning counts them; every other value is as read."""
    src = sorted((synthetic_small.paths["api_folder"] / "locations").glob("*.json"))[:6]
    folder = tmp_path / "api" / "locations"
    folder.mkdir(parents=True)
    for f in src:
        shutil.copy(f, folder / f.name)
    odd = json.loads(src[0].read_text())
    odd["localAuthority"], odd["region"] = 0, {"rating": None}
    (folder / src[0].name).write_text(json.dumps(odd))
    with pytest.warns(UserWarning, match=r"kept as text .* 1 in local_authority, 1 in region"):
        api = load_api_folder(tmp_path / "api")  # through the cache, which writes Parquet
    row = api.locations.set_index("org_id").loc[odd["locationId"]]
    assert row["local_authority"] == "0" and pd.isna(row["region"])
    plain = load_api_folder(synthetic_small.paths["api_folder"], use_cache=False).locations
    others = [json.loads(f.read_text())["locationId"] for f in src[1:]]
    pd.testing.assert_frame_equal(
        api.locations.set_index("org_id").loc[others, ["local_authority", "region"]].astype(str),
        plain.set_index("org_id").loc[others, ["local_authority", "region"]].astype(str))


def test_the_cache_puts_text_rows_back_in_order_as_a_take_does():
    """The incremental cache copies text rows run by run from the Arrow buffers (chunks, slices,
    missing values, empty strings); planted positions of every kind give what pandas' take gives,
    and a wrong copy would show (the check fails on a shifted order)."""
    rng = np.random.default_rng(7)
    values = [None if rng.random() < 0.2 else "é" * int(rng.integers(0, 4)) + str(i) for i in range(3000)]
    base = pa.array(values, type=pa.large_string())
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    layouts = ([base], [base.slice(7)], [base.slice(0, 1000), base.slice(1000, 0), base.slice(1000, 1500),
                                         base.slice(2500)])
    for chunks in layouts:
        col = pd.Series(ArrowStringArray(pa.chunked_array(chunks), dtype=dtype))
        n = len(col)
        kept = np.delete(np.arange(n), rng.choice(n, 40, replace=False))  # a segment's live rows
        merged = np.concatenate([np.arange(900, 2000), np.arange(0, 900), np.arange(2000, n)])
        for positions in (kept, merged, rng.permutation(n), np.arange(n)[::-1].copy(), np.arange(n)):
            expected = col.take(positions).reset_index(drop=True)
            pd.testing.assert_series_equal(_take(col, positions), expected)
        shifted = _take(col, np.roll(kept, 1))
        assert not shifted.equals(col.take(kept).reset_index(drop=True))
