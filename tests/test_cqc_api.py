"""The CQC API client and `sync-api` against a loopback replay of the API.

Records are replayed from ../shared/data/cqc_api_oldham_2024 (real API responses) and, so that
the suite also runs without that folder, from the synthetic dataset. Time is virtual: nothing
here really sleeps, and every wait the client asks for is recorded and checked.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle

import pandas as pd
import pytest
from http_fixtures import FakeCqcApi, Reply, free_port, loopback

from cqc_research import cli
from cqc_research.fetch.cqc_api import (
    ApiError,
    ApiNotFoundError,
    CQCApiClient,
    MissingApiKeyError,
    default_sync_folder,
    parse_retry_after,
)
from cqc_research.io.cqc_json import load_api_folder

KEY = "k3y-5f3b9c1e7a-must-never-be-written"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("CQC_API_KEY", KEY)


class VirtualTime:
    """A clock that only moves when the client sleeps, and a settable wall clock."""

    def __init__(self, wall=T0):
        self.t = 0.0
        self.wall = wall
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> dt.datetime:
        return self.wall

    def waits(self) -> list[float]:
        """Sleeps other than the rate limiter's microsecond ones."""
        return [round(s, 6) for s in self.sleeps if s > 1e-3]


def _client(base_url, vt=None, **kw) -> CQCApiClient:
    vt = vt or VirtualTime()
    kw.setdefault("rate", 1e6)
    kw.setdefault("random", lambda: 0.5)
    return CQCApiClient(base_url, sleep=vt.sleep, clock=vt.clock, now=vt.now, **kw)


def _records(n=23, la="Northam"):
    locations = {f"1-{1000 + i}": {"locationId": f"1-{1000 + i}", "name": f"Home {i}",
                                   "postalCode": f"NM{i} 1AA", "localAuthority": la if i % 4 else "Southam",
                                   "careHome": "Y" if i % 2 else "N", "providerId": f"1-{9000 + i % 3}"}
                 for i in range(n)}
    providers = {f"1-{9000 + j}": {"providerId": f"1-{9000 + j}", "name": f"Provider {j}",
                                   "localAuthority": la} for j in range(3)}
    return locations, providers


def _written(folder):
    """Every file under ``folder`` as bytes, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _assert_key_never_written(folder):
    leaks = [name for name, data in _written(folder).items() if KEY.encode() in data]
    assert leaks == []


# -------------------------------------------------------------------------------------------------
# the key
def test_missing_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("CQC_API_KEY")
    with pytest.raises(MissingApiKeyError, match="set the CQC_API_KEY environment variable"):
        CQCApiClient()
    monkeypatch.setenv("CQC_API_KEY", "  ")
    with pytest.raises(MissingApiKeyError):
        CQCApiClient()


def test_key_is_sent_as_the_header_and_redacted_everywhere(caplog):
    caplog.set_level("DEBUG")
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    with loopback() as srv:
        client = _client(api.install(srv))
        assert client.get_location("1-1001")["name"] == "Home 1"
        assert srv.seen[-1].headers["Ocp-Apim-Subscription-Key"] == KEY
        assert KEY not in srv.seen[-1].path and KEY not in json.dumps(srv.seen[-1].query)
        assert KEY not in repr(client) and "<redacted>" in repr(client)
        with pytest.raises(TypeError, match="never pickled"):
            pickle.dumps(client)
        wrong = CQCApiClient(api.install(srv), key="not-the-key", rate=1e6)
        with pytest.raises(ApiError, match=r"refused the key \(HTTP 401\).*CQC_API_KEY") as err:
            wrong.get_location("1-1001")
        # a server that echoes the key back never gets it into our messages
        api.fail("/locations/1-1002", Reply(400, {"message": f"bad request for key {KEY}"}))
        with pytest.raises(ApiError) as echoed:
            client.get_location("1-1002")
        api.fail("/locations/1-1003", Reply(503, "busy"))
        client.get_location("1-1003")
    assert err.value.status == 401
    assert KEY not in str(echoed.value) and "<redacted>" in str(echoed.value)
    assert "GET http://127.0.0.1" in caplog.text and "HTTP 503" in caplog.text  # logged ...
    assert KEY not in caplog.text  # ... without the key


# -------------------------------------------------------------------------------------------------
# paging, retries, rate
def test_paging_visits_every_page_with_the_filters():
    locations, providers = _records(23)
    api = FakeCqcApi(locations, providers, key=KEY)
    with loopback() as srv:
        client = _client(api.install(srv), per_page=5)
        got = list(client.iter_locations(local_authority="Northam", care_home=True))
        pages = [(s.query["page"], s.query["perPage"], s.query["localAuthority"], s.query["careHome"])
                 for s in srv.requests_to("/public/v1/locations")]
    expected = sorted(i for i, r in locations.items() if r["localAuthority"] == "Northam" and r["careHome"] == "Y")
    assert [r["locationId"] for r in got] == expected and len(expected) == 11  # odd i < 23
    assert pages == [(str(p), "5", "Northam", "Y") for p in (1, 2, 3)]


def test_paging_follows_next_page_uri_when_total_pages_is_absent():
    pages = {1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}

    def handler(seen):
        n = int(seen.query["page"])
        return Reply(200, {"locations": [{"locationId": x} for x in pages[n]], "page": n,
                           "nextPageUri": f"/locations?page={n + 1}" if n < 3 else None})

    with loopback() as srv:
        srv.add("/v1/locations", handler)
        ids = [r["locationId"] for r in _client(srv.url("/v1"), per_page=2).iter_locations()]
    assert ids == ["a", "b", "c", "d", "e"]


def test_429_retry_after_seconds_and_http_date_are_honoured():
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, random=lambda: 0.25, jitter=1.0)
        api.fail("/locations/1-1001", Reply(429, {"message": "Rate limit is exceeded."},
                                            headers={"Retry-After": "7"}))
        assert client.get_location("1-1001")["locationId"] == "1-1001"
        assert vt.waits() == [7.25]  # Retry-After, plus jitter = random() * jitter
        date = (T0 + dt.timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        api.fail("/locations/1-1002", Reply(429, b"", headers={"Retry-After": date}), times=2)
        assert client.get_location("1-1002")["locationId"] == "1-1002"
        assert len(srv.requests_to("/public/v1/locations/1-1002")) == 3
    assert vt.waits() == [7.25, 30.25, 30.25]
    assert client.stats["retries"] == 3


def test_retry_after_parsing():
    assert parse_retry_after("0", T0) == 0.0
    assert parse_retry_after(" 12 ", T0) == 12.0
    assert parse_retry_after("Wed, 01 May 2024 11:59:00 GMT", T0) == 0.0  # in the past
    assert parse_retry_after("Wed, 01 May 2024 12:01:00 GMT", T0) == 60.0
    assert parse_retry_after(None, T0) is None and parse_retry_after("later", T0) is None


def test_500_recovers_with_exponential_backoff_and_jitter():
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, backoff=1.0, random=lambda: 0.5)
        api.fail("/locations", Reply(500, "<html><body>Internal Server Error</body></html>"), times=3)
        got = list(client.iter_locations())
    # attempt k waits base/2 + random() * base/2 with base = 1, 2, 4 s
    assert vt.waits() == [0.75, 1.5, 3.0]
    assert len(got) == len(locations)


def test_retries_are_capped_and_long_waits_refused():
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, max_retries=3, backoff=10, max_backoff=15)
        api.fail("/locations/1-1001", Reply(503, "busy"), times=None)
        with pytest.raises(ApiError, match=r"HTTP 503 .* 4 times.*try again later"):
            client.get_location("1-1001")
        assert len(srv.requests_to("/public/v1/locations/1-1001")) == 4
        assert vt.waits() == [7.5, 11.25, 11.25]  # 10, 20 -> capped 15, 40 -> capped 15
        api.clear_faults()
        api.fail("/locations/1-1002", Reply(429, b"", headers={"Retry-After": "3600"}))
        with pytest.raises(ApiError, match="asked us to wait 3,600 s"):
            client.get_location("1-1002")
        with pytest.raises(ApiNotFoundError, match="HTTP 404"):
            client.get_provider("1-404")
    with pytest.raises(ValueError, match="not a CQC location or provider ID"):
        client.get_location("../providers/1-9000")


def test_rate_limit_spaces_requests():
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, rate=4.0)
        for ident in list(locations)[:6]:
            client.get_location(ident)
    # virtual time stands still between requests, so each after the first waits its 1/4 s slot
    assert vt.sleeps == [0.25] * 5
    assert client.stats["throttled_s"] == pytest.approx(1.25)


def test_offline_fails_at_once_in_one_line():
    vt = VirtualTime()
    client = _client(f"http://127.0.0.1:{free_port()}/public/v1", vt)
    with pytest.raises(ApiError) as err:
        client.get_location("1-1001")
    message = str(err.value)
    assert "connection to 127.0.0.1 was refused" in message and "\n" not in message
    assert vt.waits() == []  # no back-off when the server was never reached


def test_changes_window_and_paging():
    locations, providers = _records()
    api = FakeCqcApi(locations, providers, key=KEY)
    for k, ident in enumerate(["1-1003", "1-1005", "1-1003", "1-1007", "1-1009", "1-1011", "1-1013"]):
        api.change("location", dict(locations[ident], name=f"v{k}"), T0 + dt.timedelta(hours=k))
    with loopback() as srv:
        client = _client(api.install(srv), per_page=2)
        ids = client.changes("location", T0 + dt.timedelta(minutes=30), "2024-05-01T17:30:00Z")
        queries = [s.query for s in srv.requests_to("/public/v1/changes/location")]
        assert client.changes("provider", dt.date(2024, 5, 1), T0) == []
        with pytest.raises(ValueError, match="kind must be"):
            client.changes("report", T0)
    assert ids == ["1-1005", "1-1003", "1-1007", "1-1009", "1-1011"]
    assert [q["page"] for q in queries] == ["1", "2", "3"]
    assert {(q["startTimestamp"], q["endTimestamp"]) for q in queries} == {
        ("2024-05-01T12:30:00Z", "2024-05-01T17:30:00Z")}


# -------------------------------------------------------------------------------------------------
# sync, replayed from real (Oldham) and synthetic API folders
@pytest.fixture(params=[pytest.param("oldham", marks=pytest.mark.realdata), "synthetic"])
def replay(request):
    """(source folder, local authority) to replay: the real Oldham records, or synthetic ones."""
    if request.param == "oldham":
        folder = request.getfixturevalue("shared_data") / "cqc_api_oldham_2024"
        return folder, "Oldham"
    folder = request.getfixturevalue("synthetic_small").paths["api_folder"]
    las = pd.Series([json.loads(p.read_text())["localAuthority"] for p in (folder / "locations").glob("*.json")])
    return folder, las.value_counts().index[0]


def _in_la(folder, la):
    return sorted(p.stem for p in (folder / "locations").glob("*.json")
                  if json.loads(p.read_text())["localAuthority"] == la)


def test_full_sync_reproduces_the_source_folder(replay, tmp_path):
    source, la = replay
    api = FakeCqcApi.from_folder(source, key=KEY)
    out = tmp_path / "sync"
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, per_page=20)
        result = client.sync(out, local_authority=la, providers="listed")
    wanted = _in_la(source, la)
    assert len(wanted) > 0, la  # else the comparisons below compare nothing
    assert sorted(p.stem for p in (out / "locations").glob("*.json")) == wanted
    assert result.mode == "full" and result.locations_written == len(wanted)
    for ident in wanted:  # the same record, written in the shared folder's format
        mine = (out / "locations" / f"{ident}.json").read_text()
        assert json.loads(mine) == json.loads((source / "locations" / f"{ident}.json").read_text())
        assert mine == json.dumps(json.loads(mine), indent=1, sort_keys=True) + "\n"
    listed_providers = sorted(i for i, r in api.providers.items() if r.get("localAuthority") == la)
    assert sorted(p.stem for p in (out / "providers").glob("*.json")) == listed_providers
    listing = json.loads((out / "list_locations.json").read_text())
    assert [x["locationId"] for x in listing["locations"]] == wanted
    assert listing["total"] == len(wanted) and listing["nextPageUri"] is None
    if source.name == "cqc_api_oldham_2024":  # every page gathered under the first page's envelope
        original = json.loads((source / "list_locations.json").read_text())
        assert listing["locations"] == original["locations"]
        assert (out / "providers").is_dir() and all(
            (out / rel).read_bytes() == (source / rel).read_bytes()
            for rel in [f"locations/{i}.json" for i in wanted] + [f"providers/{i}.json" for i in listed_providers])
    state = json.loads((out / "sync_state.json").read_text())
    assert state["endTimestamp"] == "2024-05-01T12:00:00Z" and state["in_progress"] is None
    assert state["filters"] == {"localAuthority": la}
    assert not (out / "sync_journal.jsonl").exists()
    _assert_key_never_written(out)
    # the loaders read the synced folder directly, giving what they give on the source
    mine, theirs = load_api_folder(out, use_cache=False), None
    assert len(mine.locations) == len(wanted)
    if source.name == "cqc_api_oldham_2024":
        theirs = load_api_folder(source, use_cache=False)
        pd.testing.assert_frame_equal(mine.history.reset_index(drop=True), theirs.history.reset_index(drop=True))
        pd.testing.assert_frame_equal(mine.ratings.reset_index(drop=True), theirs.ratings.reset_index(drop=True))


def test_incremental_sync_resumes_after_an_interruption(replay, tmp_path):
    source, la = replay
    api = FakeCqcApi.from_folder(source, key=KEY)
    out = tmp_path / "sync"
    vt = VirtualTime()
    with loopback() as srv:
        client = _client(api.install(srv), vt, max_retries=2)
        client.sync(out, local_authority=la)
        first_files = set(_written(out))

        # changes after the high-water mark: three edits, a new location in the area, one
        # elsewhere, and an edited provider
        ours = _in_la(source, la)
        edited = ours[:3]
        at = T0 + dt.timedelta(hours=1)
        for ident in edited:
            api.change("location", dict(api.locations[ident], name=api.locations[ident].get("name", "") + " (renamed)"), at)
        new_here = dict(copy.deepcopy(api.locations[ours[3]]), locationId="1-999000001", name="New Home")
        api.change("location", new_here, at)
        elsewhere = dict(copy.deepcopy(api.locations[ours[4]]), locationId="1-999000002",
                         localAuthority="Elsewhere")
        api.change("location", elsewhere, at)
        pid = sorted(p.stem for p in (out / "providers").glob("*.json"))[0]
        api.change("provider", dict(api.providers[pid], name="Renamed Provider Ltd"), at)
        assert vt.now() < at  # these changes lie after the first sync's endTimestamp

        # the network fails on the third edited record; the run stops there
        vt.wall = T0 + dt.timedelta(days=1)
        api.fail(f"/locations/{edited[2]}", Reply(500, "<html>Internal Server Error</html>"), times=None)
        with pytest.raises(ApiError, match="HTTP 500"):
            client.sync(out, local_authority=la)
        state = json.loads((out / "sync_state.json").read_text())
        assert state["endTimestamp"] == "2024-05-01T12:00:00Z"  # the mark has not moved
        assert state["in_progress"]["mode"] == "incremental"
        assert state["in_progress"]["startTimestamp"] == "2024-05-01T12:00:00Z"
        for ident in edited[:2]:
            assert json.loads((out / "locations" / f"{ident}.json").read_text())["name"].endswith("(renamed)")
        assert not json.loads((out / "locations" / f"{edited[2]}.json").read_text())["name"].endswith("(renamed)")

        # providers of the changed locations not held yet are fetched too (in the Oldham
        # replay most are absent from the API, so they are asked for and found missing)
        referenced = [p for p in dict.fromkeys(api.locations[i]["providerId"] for i in [*edited, "1-999000001"])
                      if p != pid and not (out / "providers" / f"{p}.json").exists()]

        # resume: the same window, without asking for the changes or the done records again
        api.clear_faults()
        srv.seen.clear()
        vt.wall = T0 + dt.timedelta(days=2)
        result = client.sync(out, local_authority=la)
        asked = [s.path.removeprefix("/public/v1") for s in srv.seen]
    assert result.resumed and result.mode == "incremental"
    assert result.end == "2024-05-02T12:00:00Z"  # the interrupted run's window
    assert asked == [f"/locations/{edited[2]}", "/locations/1-999000001", "/locations/1-999000002",
                     f"/providers/{pid}"] + [f"/providers/{p}" for p in referenced]
    assert result.providers_missing == len(referenced)
    assert (result.locations_written, result.locations_skipped, result.providers_written) == (4, 1, 1)
    for ident in [*edited, "1-999000001"]:
        assert json.loads((out / "locations" / f"{ident}.json").read_text()) == api.locations[ident]
    assert not (out / "locations" / "1-999000002.json").exists()  # outside the area
    assert json.loads((out / "providers" / f"{pid}.json").read_text())["name"] == "Renamed Provider Ltd"
    listing = json.loads((out / "list_locations.json").read_text())
    assert {"locationId": "1-999000001", "locationName": "New Home",
            "postalCode": new_here.get("postalCode")} in listing["locations"]
    assert listing["total"] == len(ours) + 1
    state = json.loads((out / "sync_state.json").read_text())
    assert state["endTimestamp"] == "2024-05-02T12:00:00Z" and state["in_progress"] is None
    assert [r["mode"] for r in state["runs"]] == ["full", "incremental"]
    assert not (out / "sync_journal.jsonl").exists()
    assert set(_written(out)) == first_files | {"locations/1-999000001.json"}
    _assert_key_never_written(out)

    # nothing changed since: two requests (the changes) and nothing written
    with loopback() as srv:
        client = _client(api.install(srv), vt)
        vt.wall = T0 + dt.timedelta(days=3)
        quiet = client.sync(out, local_authority=la)
        assert [s.path for s in srv.seen] == ["/public/v1/changes/location", "/public/v1/changes/provider"]
        assert srv.seen[0].query["startTimestamp"] == "2024-05-02T12:00:00Z"
    assert quiet.locations_written == 0 and not quiet.resumed
    assert load_api_folder(out, use_cache=False).locations.shape[0] == len(ours) + 1


def test_interrupted_full_sync_resumes_without_refetching(tmp_path):
    locations, providers = _records(23)
    api = FakeCqcApi(locations, providers, key=KEY)
    out = tmp_path / "sync"
    wanted = sorted(i for i, r in locations.items() if r["localAuthority"] == "Northam")
    with loopback() as srv:
        client = _client(api.install(srv), max_retries=0)
        api.fail(f"/locations/{wanted[7]}", Reply(503, "busy"), times=None)
        with pytest.raises(ApiError):
            client.sync(out, local_authority="Northam", progress=True)
        assert len(list((out / "locations").glob("*.json"))) == 7
        assert (out / "sync_journal.jsonl").is_file()
        assert not list(out.rglob("*.tmp"))  # every record written atomically
        api.clear_faults()
        srv.seen.clear()
        result = client.sync(out, local_authority="Northam")
        asked = [s.path.removeprefix("/public/v1") for s in srv.seen]
    assert result.resumed and result.mode == "full"
    assert asked == [f"/locations/{i}" for i in wanted[7:]] + [f"/providers/{p}" for p in sorted(providers)]
    assert sorted(p.stem for p in (out / "locations").glob("*.json")) == wanted
    assert result.locations_written == len(wanted) and result.providers_written == 3


def test_referenced_providers_and_missing_records(tmp_path):
    locations, providers = _records(12)
    api = FakeCqcApi(locations, {k: v for k, v in providers.items() if k != "1-9002"}, key=KEY)
    out = tmp_path / "sync"
    with loopback() as srv:
        result = _client(api.install(srv)).sync(out, local_authority="Northam", care_home="Y",
                                                providers="referenced")
        with pytest.raises(ValueError, match="holds a sync with filters"):
            _client(api.install(srv)).sync(out, local_authority="Southam")
    wanted = sorted(i for i, r in locations.items() if r["localAuthority"] == "Northam" and r["careHome"] == "Y")
    referenced = sorted({locations[i]["providerId"] for i in wanted})
    assert sorted(p.stem for p in (out / "locations").glob("*.json")) == wanted
    assert sorted(p.stem for p in (out / "providers").glob("*.json")) == sorted(set(referenced) - {"1-9002"})
    assert result.providers_missing == ("1-9002" in referenced)
    assert not (out / "list_providers.json").exists()  # the provider listing was not asked for


# -------------------------------------------------------------------------------------------------
# the command line
def test_cli_sync_api(tmp_path, capsys, monkeypatch):
    locations, providers = _records(8)
    api = FakeCqcApi(locations, providers, key=KEY)
    monkeypatch.setattr("time.sleep", lambda s: None)
    with loopback() as srv:
        base = api.install(srv)
        status = cli.main(["sync-api", "--local-authority", "Northam", "--care-home", "N",
                           "--dest", str(tmp_path / "s"), "--base-url", base, "--quiet"])
        out = capsys.readouterr().out
        assert status == 0 and out.startswith("full sync of")
        monkeypatch.delenv("CQC_API_KEY")
        status = cli.main(["sync-api", "--dest", str(tmp_path / "s"), "--base-url", base])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "CQC_API_KEY" in err and "Traceback" not in err
    wanted = sorted(i for i, r in locations.items() if r["localAuthority"] == "Northam" and r["careHome"] == "N")
    assert sorted(p.stem for p in (tmp_path / "s" / "locations").glob("*.json")) == wanted
    _assert_key_never_written(tmp_path / "s")


def test_cli_sync_offline_is_one_line(tmp_path, capsys):
    status = cli.main(["sync-api", "--dest", str(tmp_path / "s"),
                       "--base-url", f"http://127.0.0.1:{free_port()}/public/v1"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "connection to 127.0.0.1 was refused" in err and not (tmp_path / "s").exists()


def test_cli_sync_failing_part_way_says_how_to_resume(tmp_path, capsys, monkeypatch):
    locations, providers = _records(8)
    api = FakeCqcApi(locations, providers, key=KEY)
    monkeypatch.setattr("time.sleep", lambda s: None)
    api.fail("/locations/1-1003", Reply(404, {"message": "gone"}))
    api.fail("/locations/1-1005", Reply(403, {"message": "Out of call volume quota."}), times=None)
    with loopback() as srv:
        status = cli.main(["sync-api", "--dest", str(tmp_path / "s"), "--base-url", api.install(srv),
                           "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "HTTP 403" in err and "run the same command again to resume it" in err
    journal = [json.loads(line) for line in (tmp_path / "s" / "sync_journal.jsonl").read_text().splitlines()]
    assert [(e["id"], e["status"]) for e in journal] == [
        ("1-1000", "written"), ("1-1001", "written"), ("1-1002", "written"), ("1-1003", "missing"),
        ("1-1004", "written")]


def test_default_sync_folder(tmp_path):
    assert default_sync_folder("Oldham").parts[-2:] == ("cqc_api", "oldham")
    assert default_sync_folder("Kingston upon Hull, City of", "Y").name == "kingston-upon-hull-city-of-care-homes"
    assert default_sync_folder().name == "england"


@pytest.mark.realdata
def test_oldham_replay_is_reproduced_byte_for_byte(shared_data, tmp_path):
    """Synced with the API's defaults, the folder equals the shared Oldham folder, file for file."""
    source = shared_data / "cqc_api_oldham_2024"
    api = FakeCqcApi.from_folder(source, key=KEY)
    with loopback() as srv:
        _client(api.install(srv)).sync(tmp_path / "s", local_authority="Oldham", providers="listed")
    mine = {k: v for k, v in _written(tmp_path / "s").items() if k != "sync_state.json"}
    assert mine == _written(source)
