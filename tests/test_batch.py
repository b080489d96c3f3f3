"""`cqc-research batch`: entities, safe slugs, fault isolation, resume, interruption, Dask.

The data is a tiny hand-made ratings table (three providers, two with hostile names) saved as
Parquet in a folder with a SYNTHETIC marker; the notebook is tests/notebooks/tiny_profile.ipynb.
Kernel starts dominate the time, so one local batch is shared by several tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cqc_research import cli
from cqc_research.ratings import RATING_DTYPE
from cqc_research.runner import batch as B

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "notebooks" / "tiny_profile.ipynb"
HOSTILE = "<img src=x onerror=alert(1)>"
PROVIDERS = [("P1", "St Mary's / ../Hospital"), ("P2", f'Café "Quotes" Care <b>bold</b> {HOSTILE}'),
             ("P3", "..")]


def _ratings(providers=PROVIDERS) -> pd.DataFrame:
    """A long ratings table: each provider has two locations in two local authorities."""
    rows = []
    for i, (pid, pname) in enumerate(providers):
        for j, la in enumerate(["Camden", "Hackney"]):
            lid = f"1-{i}{j}"
            for domain, rating in [("Overall", "Good" if j == 0 else "Outstanding"),
                                   ("Safe", "Requires improvement")]:
                rows.append({"level": "location", "org_id": lid, "location_id": lid,
                             "location_name": f"Location {lid}", "provider_id": pid,
                             "provider_name": pname, "sector": "Adult social care",
                             "region": "London", "local_authority": la,
                             "inspection_category": "Residential social care", "care_home": True,
                             "service_group": "Overall", "domain": domain, "rating": rating,
                             "rating_status": "Rated"})
    frame = pd.DataFrame(rows)
    frame["rating"] = pd.Categorical(frame["rating"], dtype=RATING_DTYPE)
    return frame


def _data(folder: Path, providers=PROVIDERS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SYNTHETIC").write_text("synthetic test data\n")
    target = folder / "ratings.parquet"
    _ratings(providers).to_parquet(target, index=False)
    return target


# ---------------------------------------------------------------------------------------------
# pure functions
@pytest.mark.parametrize("name,key", [
    ("St Mary's / ../Hospital", "1"), ("..", "2"), ("../../etc/passwd", "3"), ("/", "4"),
    ('"quoted" \'name\'', "5"), ("Ysbyty Gwynedd – Bangor ŵ", "6"), ("病院", "7"), ("", "8"),
    ("a" * 300, "9"), ("CON\x00NUL\n", "10"), ("~user/$HOME", "11"),
])
def test_slugs_are_safe_ascii(name, key, tmp_path):
    slug = B.slugify(name, key)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
    assert len(slug) <= 60 + 9 and slug.endswith(B.slugify("x", key)[-8:])
    target = B.safe_join(tmp_path, slug)
    assert target.parent == tmp_path.resolve()


def test_slugs_fold_accents_and_stay_unique():
    assert B.slugify("Café Crème", "k").startswith("cafe-creme-")
    # same name, different ids -> different slugs; same id -> same slug (stable across runs)
    assert B.slugify("Oak House", "1-100") != B.slugify("Oak House", "1-101")
    assert B.slugify("Oak House", "1-100") == B.slugify("Oak House", "1-100")


def test_safe_join_refuses_paths_outside_the_run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for bad in ["..", "../x", "/etc", "a/../../b", ""]:
        with pytest.raises(B.BatchError, match="outside the run folder"):
            B.safe_join(run, bad)
    (run / "link").symlink_to(tmp_path)
    with pytest.raises(B.BatchError):
        B.safe_join(run, "link", "escaped")


def test_entity_tables_by_hand():
    r = _ratings()
    prov = B.entity_table(r, "provider")
    assert list(prov["id"]) == ["P1", "P2", "P3"]
    assert prov.set_index("id").loc["P2", "name"] == PROVIDERS[1][1]
    assert list(prov["n_locations"]) == [2, 2, 2]
    loc = B.entity_table(r, "location")
    assert len(loc) == 6 and set(loc.columns) >= {"id", "name", "provider_id", "overall"}
    assert (loc.set_index("id").loc["1-01", "overall"]) == "Outstanding"
    la = B.entity_table(r, "local_authority")
    assert list(la["id"]) == ["Camden", "Hackney"] and list(la["n_locations"]) == [3, 3]
    assert list(la["n_providers"]) == [3, 3]


def test_where_and_limit():
    loc = B.entity_table(_ratings(), "location")
    sel = B.select_entities(loc, where="local_authority == 'Hackney' and provider_id != 'P1'")
    assert list(sel["id"]) == ["1-11", "1-21"]
    assert list(B.select_entities(loc, limit=2)["id"]) == ["1-00", "1-01"]
    with pytest.raises(B.BatchError, match=r"--where .*columns: id, name"):
        B.select_entities(loc, where="no_such_column == 1")


def test_is_complete_needs_ok_status_same_fingerprint_and_all_files(tmp_path):
    d = tmp_path / "e"
    d.mkdir()
    assert not B.is_complete(d, "fp")
    (d / "report.html").write_text("<html>done</html>")
    done = {"status": "ok", "fingerprint": "fp", "files": {"report.html": 17}}
    (d / "done.json").write_text(json.dumps(done))
    assert B.is_complete(d, "fp")
    assert not B.is_complete(d, "other")
    (d / "report.html").write_text("<html>half")
    assert not B.is_complete(d, "fp")
    (d / "done.json").write_text(json.dumps({**done, "status": "failed"}))
    assert not B.is_complete(d, "fp")


def test_warmup_runs_only_the_notebooks_imports():
    code = B.warmup_code(NOTEBOOK)
    assert "from cqc_research.dataset import Study" in code
    assert "import matplotlib.pyplot as plt" in code
    assert "time.sleep" not in code and "Study(ratings=ratings_path)" not in code
    compile(code, "warmup", "exec")


# ---------------------------------------------------------------------------------------------
# CLI errors
def test_cli_errors_are_one_line(tmp_path, capsys):
    data = _data(tmp_path / "d")
    cases = [
        (["batch", str(NOTEBOOK), "--for-each", "provider", "-p", "nope", "1",
          "-p", "ratings_path", str(data)], "unknown parameter 'nope'"),
        (["batch", str(NOTEBOOK), "--for-each", "location", "-p", "ratings_path", str(data)],
         "no parameter 'location_id'"),
        (["batch", str(NOTEBOOK), "--for-each", "provider", "--where", "zzz > 1",
          "-p", "ratings_path", str(data)], "--where"),
        (["batch", "missing.ipynb", "--for-each", "provider"], "no notebook"),
    ]
    for argv, needle in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_dry_run_lists_and_writes_nothing(tmp_path, capsys):
    data = _data(tmp_path / "d")
    out = tmp_path / "out"
    status = cli.main(["batch", str(NOTEBOOK), "--for-each", "provider", "-p", "ratings_path",
                       str(data), "--output-root", str(out), "--dry-run", "--where", "id != 'P2'"])
    assert status == 0
    text = capsys.readouterr().out
    assert "2 entities; 2 would run" in text and B.slugify("..", "P3") in text
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# one local batch shared by several tests
@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    data = _data(base / "data" / "synthetic")
    out = base / "out"
    result = B.run_batch(NOTEBOOK, "provider", parameters={"ratings_path": str(data), "fail_for": "P3"},
                         workers=2, output_root=out, progress=False)
    return {"result": result, "data": data, "out": out, "base": base}


def test_fault_isolation_and_exit_status(local_run):
    res = local_run["result"]
    by = {e["key"]: e for e in res.entities}
    assert by["P1"]["status"] == "ok" and by["P2"]["status"] == "ok"
    assert by["P3"]["status"] == "failed"
    assert by["P3"]["error"] == "RuntimeError: planted failure for P3"
    assert res.exit_status == 1
    done = json.loads((res.run_dir / by["P3"]["slug"] / "done.json").read_text())
    assert done["status"] == "failed" and done["files"] == {}


def test_reports_are_complete_fresh_and_stamped(local_run):
    res = local_run["result"]
    assert {e["key"]: e["status"] for e in res.entities} == {"P1": "ok", "P2": "ok", "P3": "failed"}
    for e in res.entities:
        d = res.run_dir / e["slug"]
        html = (d / "report.html").read_text()
        assert "fresh namespace: True" in html  # the warm kernel was reset between reports
        assert "SYNTHETIC DATA" in html and "Study(" not in html
        done = json.loads((d / "done.json").read_text())
        if e["status"] == "failed":  # P3: its done.json records the failure, so it is not complete
            assert done["status"] == "failed" and not B.is_complete(d, done.get("fingerprint", ""))
            continue
        assert B.is_complete(d, done["fingerprint"])
        table = (d / "tables" / "overall_ratings.csv").read_text().splitlines()
        assert table[0] == "data_status,rating,organisations"
        # each provider has one Good and one Outstanding location (hand-made data)
        assert "SYNTHETIC DATA,Good,1" in table and "SYNTHETIC DATA,Outstanding,1" in table


def test_nothing_is_written_outside_the_run_folder(local_run):
    out, run_dir = local_run["out"], local_run["result"].run_dir
    everything = [p for p in out.rglob("*")]
    assert everything and all(p.resolve().is_relative_to(run_dir) for p in everything)
    slugs = sorted(p.name for p in run_dir.iterdir() if p.is_dir() and p.name != "cache")
    assert slugs == sorted(B.slugify(n, k) for k, n in PROVIDERS)
    assert not [p for p in run_dir.rglob("*") if p.name.startswith(".") and p.is_file()]


def test_hostile_names_are_text_in_the_report_header(local_run):
    """A provider named like markup shows as text in its report (jinja2 autoescape)."""
    res = local_run["result"]
    p2 = next(e for e in res.entities if e["key"] == "P2")
    html = (res.run_dir / p2["slug"] / "report.html").read_text()
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_index_is_searchable_escaped_and_shows_failures(local_run):
    res = local_run["result"]
    html = res.index_path.read_text()
    assert 'id="filter"' in html and "SYNTHETIC DATA" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('<tr class="failed">') == 1
    assert "RuntimeError: planted failure for P3" in html
    for e in res.entities:
        assert f'href="{e["slug"]}/report.html"' in html
    manifest = json.loads(res.manifest_path.read_text())
    assert manifest["stats"]["failed"] == 1 and manifest["synthetic"] is True


def test_resume_skips_complete_entities_and_does_no_work(local_run):
    res = local_run["result"]
    done_before = {e["slug"]: (res.run_dir / e["slug"] / "done.json").stat().st_mtime_ns
                   for e in res.entities}
    again = B.run_batch(NOTEBOOK, "provider", where="id != 'P3'",
                        parameters={"ratings_path": str(local_run["data"]), "fail_for": "P3"},
                        workers=2, output_root=local_run["out"], progress=False)
    assert again.run_dir == res.run_dir  # same command, same folder
    assert [e["status"] for e in again.entities] == ["skipped", "skipped"]
    assert again.ran == [] and again.stats["worker_timings"] == {}  # no kernel was started
    for e in again.entities:
        assert (res.run_dir / e["slug"] / "done.json").stat().st_mtime_ns == done_before[e["slug"]]
    plan = B.plan_batch(NOTEBOOK, "provider", parameters={"ratings_path": str(local_run["data"]),
                                                          "fail_for": "P3"},
                        output_root=local_run["out"], dry_run=True)
    assert [(t.key, complete) for t, complete in plan[2]] == [("P1", True), ("P2", True), ("P3", False)]
    # a changed input invalidates every entity
    changed = local_run["base"] / "changed" / "synthetic"
    data2 = _data(changed, PROVIDERS + [("P4", "New")])
    plan2 = B.plan_batch(NOTEBOOK, "provider", parameters={"ratings_path": str(data2), "fail_for": "P3"},
                         output_root=local_run["out"], run_id=res.run_id, dry_run=True)
    assert not any(complete for _, complete in plan2[2])


# ---------------------------------------------------------------------------------------------
# interruption: kill a worker, kill the whole batch
def _batch_cmd(data, out, *extra):
    return [sys.executable, "-m", "cqc_research.cli", "batch", str(NOTEBOOK), "--for-each",
            "provider", "-p", "ratings_path", str(data), "--output-root", str(out), "--quiet",
            *extra]


def _env(tmp_path):
    env = dict(os.environ)
    env["CQC_RESEARCH_DATA"] = str(tmp_path / "rdata")
    return env


def _children(pid):
    import psutil
    try:
        return psutil.Process(pid).children(recursive=False)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_killed_worker_is_replaced_and_its_entity_retried(tmp_path):
    data = _data(tmp_path / "d" / "synthetic")
    out = tmp_path / "out"
    proc = subprocess.Popen(_batch_cmd(data, out, "-p", "sleep", "2", "--workers", "1"),
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 120
        killed = None
        while time.time() < deadline and killed is None:
            # kill the worker once it has started a report (its entity folder exists)
            started = [p for p in out.glob("*/*/report.ipynb")] + \
                      [p for p in out.glob("*/*") if p.is_dir() and p.name != "cache"]
            workers = [c for c in _children(proc.pid) if "spawn" in " ".join(c.cmdline())]
            if started and workers:
                workers[0].kill()
                killed = workers[0].pid
            time.sleep(0.2)
        assert killed, "the worker never started a report"
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    run_dir = Path(stdout.strip().splitlines()[-1]).parent
    manifest = json.loads((run_dir / "batch.json").read_text())
    assert [e["status"] for e in manifest["entities"]] == ["ok", "ok", "ok"]
    assert max(e["attempt"] for e in manifest["entities"]) == 1  # one entity was retried


def test_killed_batch_leaves_nothing_that_looks_finished_and_resumes(tmp_path):
    data = _data(tmp_path / "d" / "synthetic")
    out = tmp_path / "out"
    proc = subprocess.Popen(_batch_cmd(data, out, "-p", "sleep", "3", "--workers", "1"),
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the first report is finished
            if list(out.glob("*/*/done.json")):
                break
            time.sleep(0.2)
        time.sleep(1.0)  # the second report is now under way
        os.killpg(proc.pid, signal.SIGKILL)  # the batch, its worker and the kernel
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    finished = [d for d in run_dir.iterdir() if d.is_dir() and d.name != "cache"]
    complete = [d for d in finished if (d / "done.json").exists()]
    assert 1 <= len(complete) < 3
    for d in complete:  # done.json is written last: whatever has one is really finished
        info = json.loads((d / "done.json").read_text())
        assert info["status"] == "ok" and B.is_complete(d, info["fingerprint"])
    again = subprocess.run(_batch_cmd(data, out, "--workers", "1", "-p", "sleep", "3"),
                           env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{3 - len(complete)} reports made (0 failed), {len(complete)} unchanged" in again.stderr
    manifest = json.loads((run_dir / "batch.json").read_text())
    statuses = sorted(e["status"] for e in manifest["entities"])
    assert statuses == sorted(["skipped"] * len(complete) + ["ok"] * (3 - len(complete)))
    for e in manifest["entities"]:
        d = run_dir / e["slug"]
        assert B.is_complete(d, json.loads((d / "done.json").read_text())["fingerprint"])


# ---------------------------------------------------------------------------------------------
# Dask: the same files as the local executor, apart from timestamps
def _normalise(path: Path, run_dir: Path) -> bytes:
    """A report file with what may differ between two runs of the same notebook taken out: the
    run folder, papermill's timings, and how the kernel happened to chunk a printed line (a
    trailing newline may arrive as a stream message of its own)."""
    data = path.read_bytes()
    if path.suffix in (".ipynb", ".html", ".json", ".csv"):
        text = data.decode("utf-8").replace(str(run_dir), "<RUN>")
        if path.suffix == ".ipynb":
            nb = json.loads(text)
            nb["metadata"].pop("papermill", None)
            for cell in nb["cells"]:
                cell.get("metadata", {}).pop("papermill", None)
                cell.get("metadata", {}).pop("execution", None)
                merged = []
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                            and merged[-1].get("name") == out.get("name"):
                        merged[-1]["text"] = "".join(merged[-1]["text"]) + "".join(out["text"])
                    else:
                        merged.append(out)
                for out in merged:
                    if out.get("output_type") == "stream":
                        out["text"] = "".join(out["text"]).rstrip()
                if "outputs" in cell:
                    cell["outputs"] = merged
            text = json.dumps(nb, sort_keys=True)
        elif path.suffix == ".html":
            text = re.sub(r"\s+", "", text)  # whitespace only: a newline chunked apart from its line
        data = text.encode()
    return data


def test_dask_executor_matches_local(local_run, tmp_path):
    import distributed
    res = local_run["result"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
        dres = B.run_batch(NOTEBOOK, "provider",
                           parameters={"ratings_path": str(local_run["data"]), "fail_for": "P3"},
                           output_root=local_run["out"], run_id="dask-run", executor="dask",
                           scheduler=cluster.scheduler_address, progress=False)
    assert [(e["key"], e["status"]) for e in dres.entities] == \
        [(e["key"], e["status"]) for e in res.entities]
    assert dres.exit_status == 1
    compared = 0
    for e in res.entities:
        a, b = res.run_dir / e["slug"], dres.run_dir / e["slug"]
        files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "done.json")
        files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "done.json")
        assert files_a == files_b
        for rel in files_a:
            assert _normalise(a / rel, res.run_dir) == _normalise(b / rel, dres.run_dir), rel
            compared += 1
    assert compared >= 9  # html + ipynb for 3 entities, tables and figures for 2


# ---------------------------------------------------------------------------------------------
# the profile notebooks on the small synthetic dataset
PROFILES = HERE.parent / "notebooks" / "profiles"


def test_area_profiles_on_synthetic_data(synthetic_small, tmp_path):
    p = synthetic_small.paths
    params = {"ratings_path": str(p["ratings_ods"]), "dtoc_path": str(p["dtoc"]),
              "population_path": str(p["population"]), "la_codes_path": str(p["la_codes"])}
    res = B.run_batch(PROFILES / "area_profile.ipynb", "local_authority", limit=2, parameters=params,
                      workers=2, output_root=tmp_path, progress=False)
    assert [e["status"] for e in res.entities] == ["ok", "ok"], [e["error"] for e in res.entities]
    from cqc_research.io.cqc_files import load_latest_ratings

    ratings = load_latest_ratings(p["ratings_ods"])
    overall = ratings[(ratings["level"] == "location") & (ratings["service_group"] == "Overall")
                      & (ratings["domain"] == "Overall")]
    for e in res.entities:
        d = res.run_dir / e["slug"]
        assert "SYNTHETIC DATA" in (d / "report.html").read_text()
        here = overall[overall["local_authority"].astype(str) == e["key"]]
        # the services rated Inadequate or Requires improvement, counted independently
        weak = pd.read_csv(d / "tables" / "inadequate_or_requires_improvement.csv")
        expected = here[here["rating"].isin(["Inadequate", "Requires improvement"])]
        assert sorted(weak["location_name"]) == sorted(expected["location_name"])
        # the area's share rated Good or better per sector, by hand
        cmp_ = pd.read_csv(d / "tables" / "ratings_vs_region_england.csv")
        mine = cmp_[cmp_["where"] == e["name"]].set_index("sector")
        rated = here.dropna(subset=["rating"])
        assert not rated.empty, e["key"]  # the loop below checks something
        for sector, grp in rated.groupby(rated["sector"].astype(str)):
            assert mine.loc[sector, "share_good"] == pytest.approx((grp["rating"] >= "Good").mean())
        assert (d / "tables" / "dtoc_rate.csv").is_file() and (d / "figures" / "dtoc_funnel.png").is_file()
    index = res.index_path.read_text()
    assert all(e["name"] in index for e in res.entities)


@pytest.mark.slow
def test_provider_profiles_on_synthetic_data(synthetic_small, tmp_path):
    p = synthetic_small.paths
    params = {"ratings_path": str(p["ratings_ods"]), "api_path": str(p["api_folder"]),
              "indicators_path": str(p["ae_folder"])}
    entities = []
    for where, limit in (("sector == 'NHS hospitals'", 2), ("sector != 'NHS hospitals' and n_locations >= 2", 1)):
        res = B.run_batch(PROFILES / "provider_profile.ipynb", "provider", limit=limit, where=where,
                          parameters=params, workers=2, output_root=tmp_path, progress=False)
        entities += [(res.run_dir, e) for e in res.entities]
    assert len(entities) == 3
    assert all(e["status"] == "ok" for _, e in entities), [e["error"] for _, e in entities]
    for run_dir, e in entities:
        d = run_dir / e["slug"]
        html = (d / "report.html").read_text()
        assert "SYNTHETIC DATA" in html and e["name"] in html
        assert (d / "figures" / "ratings_by_domain.png").is_file()
    trusts = [run_dir / e["slug"] for run_dir, e in entities[:2]]
    for d in trusts:  # NHS trusts get the A&E funnel and SPC chart
        assert (d / "figures" / "spc.png").is_file() and (d / "tables" / "spc.csv").is_file()
