"""`cqc-research fetch` against a loopback web server: discovery, verification, the manifest,
and every failure path (truncated, HTML error page, damaged zip, hash mismatch, offline)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from http_fixtures import Reply, free_port, loopback

from cqc_research import cli, fetch
from cqc_research.fetch import (
    FetchError,
    NetworkError,
    find_links,
    publication_date,
    read_manifest,
    sniff_kind,
    verify_manifest,
)
from cqc_research.io.cqc_files import load_latest_ratings
from cqc_research.synthetic import LOCATION_COLUMNS, PROVIDER_COLUMNS
from cqc_research.synthetic._ods_writer import write_ods


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback requests must never be sent to a proxy from the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# -------------------------------------------------------------------------------------------------
# files the server serves
def _location_row(lid, domain, rating):
    values = dict.fromkeys(LOCATION_COLUMNS, "")
    values.update({"Location ID": lid, "Location Name": f"Home {lid}", "Care Home?": "Y",
                   "Location Type": "Social Care Org",
                   "Location Primary Inspection Category": "Residential social care",
                   "Location Local Authority": "Oldham", "Location Region": "North West",
                   "Service / Population Group": "Overall", "Domain": domain, "Latest Rating": rating,
                   "Publication Date": dt.date(2023, 11, 2), "Report Type": "Location",
                   "Inherited Rating (Y/N)": "N", "Provider ID": "1-9", "Provider Name": "P Ltd"})
    return [values[c] for c in LOCATION_COLUMNS]


@pytest.fixture(scope="module")
def ratings_ods(tmp_path_factory) -> bytes:
    """A small Latest ratings workbook, written as LibreOffice writes it."""
    rows = [_location_row("1-101", d, "Good") for d in
            ("Overall", "Safe", "Effective", "Caring", "Responsive", "Well-led")]
    rows += [_location_row("1-102", "Overall", "Inadequate")]
    providers = [["RM3", "RM3", "Trust", "NHS Healthcare Organisation",
                  "Acute hospital - NHS non-specialist", "", "", "", "", "Salford", "North West",
                  "North West", "Overall", "Overall", "Requires improvement", dt.date(2019, 7, 1),
                  "Provider", "N", "", "", ""]]
    path = tmp_path_factory.mktemp("ods") / "lr.ods"
    write_ods(path, {"Locations": (LOCATION_COLUMNS, rows), "Providers": (PROVIDER_COLUMNS, providers)},
              notice={"Locations": ["Latest ratings as at 02 February 2024"]})
    return path.read_bytes()


DIRECTORY_CSV = (
    b"CQC care directory,,\r\nData as at 01 February 2024,,\r\nSome notes,,\r\n,,\r\n"
    b"Name,Also known as,Address\r\nHome 1-101,,1 High St\r\n"
)

ERROR_PAGE = ("<!DOCTYPE html>\n<html lang='en'><head><title>Page not found | Care Quality "
              "Commission</title></head><body><h1>Sorry, we can't find that page</h1></body></html>")

CQC_PAGE = """<!DOCTYPE html><html><head><title>Using CQC data | Care Quality Commission</title></head>
<body><main>
<h2>Care directory</h2>
<p><a href="/sites/default/files/2024-02/15_February_2024_CQC_directory.csv">CQC care directory
   - with filters (CSV, 2MB)</a></p>
<h2>Ratings</h2>
<ul>
 <li><a href="https://www.cqc.org.uk/guidance-providers/ratings">About our ratings</a></li>
 <li><a href="/sites/default/files/2024-01/04_January_2024_Latest_ratings.ods">Latest ratings
     (January 2024) (ODS, 25MB)</a></li>
 <li><a href="/sites/default/files/2024-02/02_February_2024_Latest_ratings.ods">Latest ratings
     (ODS, 26MB)</a></li>
 <li><a href="/sites/default/files/2024-02/ratings_guidance.pdf">Latest ratings: guidance (PDF)</a></li>
 <li><a href="#top">Back to top</a></li>
</ul>
<h2>Registered services</h2>
<p><a href='/sites/default/files/2024-02/01_February_2024_HSCA_Active_Locations.ods'>HSCA
   Active Locations (ODS)</a> and <a href="mailto:enquiries@cqc.org.uk">contact us</a></p>
</main></body></html>"""

RATINGS_PATH = "/sites/default/files/2024-02/02_February_2024_Latest_ratings.ods"


def _site(srv, ratings: bytes):
    srv.add("/about-us/transparency/using-cqc-data", Reply(200, CQC_PAGE))
    srv.add(RATINGS_PATH, Reply(200, ratings, content_type="application/vnd.oasis.opendocument.spreadsheet"))
    srv.add("/sites/default/files/2024-02/15_February_2024_CQC_directory.csv",
            Reply(200, DIRECTORY_CSV, content_type="text/csv"))
    return srv.url("/about-us/transparency/using-cqc-data")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(folder):
    """Every file under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# -------------------------------------------------------------------------------------------------
# pure functions
@pytest.mark.parametrize("texts, expected", [
    (("Latest ratings (ODS, 26MB)", "02_February_2024_Latest_ratings.ods"), dt.date(2024, 2, 2)),
    (("HSCA Active Locations", "01_February_2024_HSCA_Active_Locations.ods"), dt.date(2024, 2, 1)),
    (("Monthly A&E March 2024 (CSV, 23KB)",), dt.date(2024, 3, 1)),
    (("", "MSitAE-MARCH-2019.csv"), dt.date(2019, 3, 1)),
    (("file", "extract_2023-11-30.csv"), dt.date(2023, 11, 30)),
    (("file", "extract_20231130.csv"), dt.date(2023, 11, 30)),
    (("1st Sept 2022 data",), dt.date(2022, 9, 1)),
    # the day-month-year in the file name beats the month in the link text
    (("Latest ratings (January 2024)", "04_January_2024_Latest_ratings.ods"), dt.date(2024, 1, 4)),
    (("Latest ratings", "/sites/default/files/2024-02/latest.ods"), dt.date(2024, 2, 1)),
    (("nhspaymentsgp-22-23-prac-csv.csv",), None),
    (("31 February 2024",), dt.date(2024, 2, 1)),  # an impossible day falls back to the month
])
def test_publication_date_hand_examples(texts, expected):
    assert publication_date(*texts) == expected


def test_find_links_picks_each_source_newest_first_and_ignores_decoys():
    base = "https://www.cqc.org.uk/about-us/transparency/using-cqc-data"
    ratings = find_links(CQC_PAGE, base, "ratings")
    assert [link.url for link in ratings] == [
        "https://www.cqc.org.uk" + RATINGS_PATH,
        "https://www.cqc.org.uk/sites/default/files/2024-01/04_January_2024_Latest_ratings.ods",
    ]  # the PDF guidance and the html page about ratings are not files of this source
    assert ratings[0].published == dt.date(2024, 2, 2)
    assert ratings[0].text == "Latest ratings (ODS, 26MB)"
    (directory,) = find_links(CQC_PAGE, base, "directory")
    assert directory.filename == "15_February_2024_CQC_directory.csv"
    (active,) = find_links(CQC_PAGE, base, "active-locations")
    assert active.url.endswith("01_February_2024_HSCA_Active_Locations.ods")
    assert find_links(CQC_PAGE, base, "ae") == []


def test_sniff_kind_tells_files_apart(tmp_path, ratings_ods):
    cases = {"a.ods": ratings_ods, "b.csv": DIRECTORY_CSV, "c.ods": ERROR_PAGE.encode(),
             "d.csv": b"   \n", "e.bin": b"\x00\x01\x02"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    cases["f.xlsx"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    cases["g.zip"] = buf.getvalue()
    kinds = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        kinds[name] = sniff_kind(tmp_path / name)
    assert kinds == {"a.ods": "ods", "b.csv": "csv", "c.ods": "html", "d.csv": "empty",
                     "e.bin": "binary", "f.xlsx": "xlsx", "g.zip": "zip"}


# -------------------------------------------------------------------------------------------------
# downloads
def test_discover_download_verify_and_record(tmp_path, ratings_ods):
    with loopback() as srv:
        page = _site(srv, ratings_ods)
        result = fetch.fetch("ratings", page_url=page, dest=tmp_path)
    assert result.status == "downloaded"
    assert result.path == tmp_path / "ratings" / "2024-02-02_02_February_2024_Latest_ratings.ods"
    assert result.path.read_bytes() == ratings_ods
    assert result.sha256 == _sha(ratings_ods) and result.size == len(ratings_ods)
    assert _files(tmp_path) == ["MANIFEST", "ratings/2024-02-02_02_February_2024_Latest_ratings.ods"]

    (line,) = (tmp_path / "MANIFEST").read_text().splitlines()
    entry = json.loads(line)
    assert entry["source"] == "ratings" and entry["url"] == srv.url(RATINGS_PATH)
    assert entry["page"] == page and entry["link_text"] == "Latest ratings (ODS, 26MB)"
    assert entry["sha256"] == _sha(ratings_ods) and entry["size"] == len(ratings_ods)
    assert entry["path"] == "ratings/2024-02-02_02_February_2024_Latest_ratings.ods"
    assert entry["published"] == "2024-02-02" and entry["date_source"] == "link"
    assert entry["kind"] == "ods"
    retrieved = dt.datetime.fromisoformat(entry["retrieved_at"].replace("Z", "+00:00"))
    assert retrieved.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - retrieved).total_seconds()) < 120

    frame = read_manifest(tmp_path)
    assert len(frame) == 1 and str(frame["retrieved_at"].dt.tz) == "UTC"
    assert frame.loc[0, "published"] == dt.datetime(2024, 2, 2)
    # the downloaded workbook is the one served, and loads
    ratings = load_latest_ratings(result.path, use_cache=False)
    assert set(ratings["org_id"]) == {"1-101", "1-102", "RM3"}
    assert ratings.loc[ratings["org_id"] == "1-102", "rating"].tolist() == ["Inadequate"]


def test_refetch_with_same_hash_is_skipped_and_force_keeps_one_copy(tmp_path, ratings_ods):
    with loopback() as srv:
        page = _site(srv, ratings_ods)
        first = fetch.fetch("ratings", page_url=page, dest=tmp_path)
        second = fetch.fetch("ratings", page_url=page, dest=tmp_path)
        assert second.status == "present" and second.path == first.path
        assert len(srv.requests_to(RATINGS_PATH)) == 1  # not downloaded again
        forced = fetch.fetch("ratings", page_url=page, dest=tmp_path, force=True)
        assert len(srv.requests_to(RATINGS_PATH)) == 2
    assert forced.status == "identical" and forced.path == first.path
    assert _files(tmp_path / "ratings") == [first.path.name]
    assert len((tmp_path / "MANIFEST").read_text().splitlines()) == 2


def test_truncated_download_leaves_nothing(tmp_path, ratings_ods):
    with loopback() as srv:
        cut = len(ratings_ods) // 2
        srv.add("/short.ods", Reply(200, ratings_ods[:cut], content_length=len(ratings_ods)))
        with pytest.raises(NetworkError, match=rf"broke off after [\d,]+ of {len(ratings_ods):,} "
                                               "bytes and nothing was kept"):
            fetch.fetch("ratings", url=srv.url("/short.ods"), dest=tmp_path)
    assert _files(tmp_path) == []


def test_size_check_rejects_a_short_body_even_if_the_transport_does_not(tmp_path, ratings_ods,
                                                                          monkeypatch):
    """The Content-Length check is ours, not only urllib3's."""
    import requests

    real = requests.models.Response.iter_content

    def short(self, chunk_size=1, decode_unicode=False):
        for n, block in enumerate(real(self, chunk_size, decode_unicode)):
            if n == 0:
                yield block[:100]
                return

    monkeypatch.setattr(requests.models.Response, "iter_content", short)
    with loopback() as srv:
        srv.add("/x.ods", Reply(200, ratings_ods))
        with pytest.raises(FetchError, match=r"incomplete: 100 of [\d,]+ bytes"):
            fetch.fetch("ratings", url=srv.url("/x.ods"), dest=tmp_path)
    assert _files(tmp_path) == []


def test_html_error_page_served_as_ods_is_rejected(tmp_path):
    with loopback() as srv:
        srv.add("/sites/default/files/latest.ods", Reply(200, ERROR_PAGE))
        with pytest.raises(FetchError, match="returned an HTML page"):
            fetch.fetch("ratings", url=srv.url("/sites/default/files/latest.ods"), dest=tmp_path)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("where", [0.5, 0.9])
def test_damaged_zip_is_rejected(tmp_path, ratings_ods, where):
    with zipfile.ZipFile(io.BytesIO(ratings_ods)) as zf:
        info = zf.getinfo("content.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    damaged = bytearray(ratings_ods)
    damaged[start + int(info.compress_size * where)] ^= 0xFF  # a flipped byte in content.xml's data
    with zipfile.ZipFile(io.BytesIO(bytes(damaged))) as zf:  # the archive's directory still reads
        assert zf.namelist() == ["mimetype", "META-INF/manifest.xml", "meta.xml", "styles.xml",
                                 "content.xml"]
    with loopback() as srv:
        srv.add("/lr.ods", Reply(200, bytes(damaged)))
        with pytest.raises(FetchError, match="damaged"):
            fetch.fetch("ratings", url=srv.url("/lr.ods"), dest=tmp_path)
    assert _files(tmp_path) == []


def test_wrong_kind_and_expected_hash_are_rejected(tmp_path, ratings_ods):
    with loopback() as srv:
        srv.add("/dir.csv", Reply(200, ratings_ods))
        with pytest.raises(FetchError, match="is a ods file; directory expects csv"):
            fetch.fetch("directory", url=srv.url("/dir.csv"), dest=tmp_path)
        srv.add("/lr.ods", Reply(200, ratings_ods))
        with pytest.raises(FetchError, match="not the expected 0000"):
            fetch.fetch("ratings", url=srv.url("/lr.ods"), dest=tmp_path, sha256="0" * 64)
        ok = fetch.fetch("ratings", url=srv.url("/lr.ods"), dest=tmp_path, sha256=_sha(ratings_ods))
    assert ok.status == "downloaded"
    assert _files(tmp_path) == ["MANIFEST", f"ratings/{ok.path.name}"]


def test_local_file_that_no_longer_matches_the_manifest_is_downloaded_again(tmp_path, ratings_ods,
                                                                             capsys):
    with loopback() as srv:
        page = _site(srv, ratings_ods)
        first = fetch.fetch("ratings", page_url=page, dest=tmp_path)
        with open(first.path, "ab") as f:
            f.write(b"edited by hand")
        status = verify_manifest(tmp_path)
        assert status[["path", "status"]].values.tolist() == [[f"ratings/{first.path.name}", "changed"]]
        again = fetch.fetch("ratings", page_url=page, dest=tmp_path)
        assert len(srv.requests_to(RATINGS_PATH)) == 2
    assert "no longer matches its MANIFEST SHA-256" in capsys.readouterr().err
    assert again.status == "replaced" and again.path == first.path
    assert first.path.read_bytes() == ratings_ods
    assert verify_manifest(tmp_path)["status"].tolist() == ["ok"]
    first.path.unlink()
    assert verify_manifest(tmp_path)["status"].tolist() == ["missing"]


def test_changed_file_under_the_same_name_is_never_overwritten_silently(tmp_path, ratings_ods):
    newer = bytearray(ratings_ods)
    with loopback() as srv:
        srv.add("/f/02_February_2024_Latest_ratings.ods", Reply(200, ratings_ods))
        first = fetch.fetch("ratings", url=srv.url("/f/02_February_2024_Latest_ratings.ods"), dest=tmp_path)
        # the publisher re-issues the file (different bytes) at a new address, same name
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(bytes(newer))) as src, zipfile.ZipFile(buf, "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "content.xml":
                    data = data.replace(b"Inadequate", b"Good")
                dst.writestr(item, data)
        reissued = buf.getvalue()
        srv.add("/g/02_February_2024_Latest_ratings.ods", Reply(200, reissued))
        with pytest.raises(FetchError, match="already exists with different contents.*--force"):
            fetch.fetch("ratings", url=srv.url("/g/02_February_2024_Latest_ratings.ods"), dest=tmp_path)
        assert first.path.read_bytes() == ratings_ods
        assert _files(tmp_path) == ["MANIFEST", f"ratings/{first.path.name}"]
        forced = fetch.fetch("ratings", url=srv.url("/g/02_February_2024_Latest_ratings.ods"),
                             dest=tmp_path, force=True)
    assert forced.status == "replaced" and forced.path.read_bytes() == reissued
    assert verify_manifest(tmp_path)["status"].tolist() == ["ok"]


def test_interrupted_download_leaves_nothing(tmp_path, ratings_ods, monkeypatch):
    import requests

    real = requests.models.Response.iter_content

    def interrupted(self, chunk_size=1, decode_unicode=False):
        yield next(iter(real(self, 1024, decode_unicode)))
        raise KeyboardInterrupt

    monkeypatch.setattr(requests.models.Response, "iter_content", interrupted)
    with loopback() as srv:
        srv.add("/lr.ods", Reply(200, ratings_ods))
        with pytest.raises(KeyboardInterrupt):
            fetch.fetch("ratings", url=srv.url("/lr.ods"), dest=tmp_path)
    assert _files(tmp_path) == []


def test_date_from_last_modified_and_name_from_content_disposition(tmp_path):
    csv = b"Period,Org Code,Parent Org,Org name\r\nMSitAE-APRIL-2024,RM3,NHS ENGLAND,TRUST\r\n"
    with loopback() as srv:
        srv.add("/download", Reply(200, csv, content_type="text/csv", headers={
            "Last-Modified": "Thu, 11 Apr 2024 09:30:00 GMT",
            "Content-Disposition": 'attachment; filename="Monthly-AE.csv"'}))
        result = fetch.fetch("ae", url=srv.url("/download"), dest=tmp_path)
    assert result.path == tmp_path / "ae" / "2024-04-11_Monthly-AE.csv"
    entry = read_manifest(tmp_path).iloc[0]
    assert entry["date_source"] == "last-modified" and entry["kind"] == "csv"
    assert entry["last_modified"] == "Thu, 11 Apr 2024 09:30:00 GMT"


def test_errors_from_the_server_and_the_page(tmp_path, ratings_ods):
    with loopback() as srv:
        srv.add("/gone.ods", Reply(404, ERROR_PAGE))
        with pytest.raises(FetchError, match=r"HTTP 404.*pass --url"):
            fetch.fetch("ratings", url=srv.url("/gone.ods"), dest=tmp_path)
        srv.add("/empty-page", Reply(200, "<html><body><a href='/x.pdf'>Latest ratings</a></body></html>"))
        with pytest.raises(FetchError, match=r"found no \.ods/\.xlsx/\.csv link.*pass --url"):
            fetch.fetch("ratings", page_url=srv.url("/empty-page"), dest=tmp_path)
    with pytest.raises(FetchError, match=r"digital\.nhs\.uk.*--url"):
        fetch.fetch("gp-payments", dest=tmp_path)
    with pytest.raises(ValueError, match="unknown source 'ofsted'"):
        fetch.fetch("ofsted", dest=tmp_path)
    assert _files(tmp_path) == []


# -------------------------------------------------------------------------------------------------
# the command line
def test_cli_fetch_prints_the_result(tmp_path, ratings_ods, capsys):
    with loopback() as srv:
        srv.add("/d/15_February_2024_CQC_directory.csv", Reply(200, DIRECTORY_CSV))
        status = cli.main(["fetch", "directory", "--url", srv.url("/d/15_February_2024_CQC_directory.csv"),
                           "--dest", str(tmp_path), "--json"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "downloaded" and out["sha256"] == _sha(DIRECTORY_CSV)
    assert out["path"] == str(tmp_path / "directory" / "2024-02-15_15_February_2024_CQC_directory.csv")


@pytest.mark.parametrize("args", [
    ["fetch", "ratings", "--url", "http://127.0.0.1:{port}/sites/default/files/latest.ods"],
    ["fetch", "ratings", "--page", "http://127.0.0.1:{port}/about-us/transparency/using-cqc-data"],
])
def test_offline_gives_one_line_and_no_traceback(tmp_path, capsys, args):
    port = free_port()  # nothing listens: the connection is refused, as when offline
    status = cli.main([a.format(port=port) for a in args] + ["--dest", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("cqc-research fetch: error: connection to 127.0.0.1 was refused")
    assert "check your internet connection" in err and "cqc-research load FILE" in err
    assert _files(tmp_path) == []


def test_cli_reports_a_rejected_download_in_one_line(tmp_path, capsys):
    with loopback() as srv:
        srv.add("/latest.ods", Reply(200, ERROR_PAGE))
        status = cli.main(["fetch", "ratings", "--url", srv.url("/latest.ods"), "--dest", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "HTML page" in err


def test_nothing_in_the_package_imports_requests_at_import_time():
    """Offline by default: importing any module (and building the CLI) loads no HTTP library."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import cqc_research\n"
        "failed = []\n"
        "for m in pkgutil.walk_packages(cqc_research.__path__, 'cqc_research.'):\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except Exception as exc:\n"
        "        failed.append(m.name)\n"
        "from cqc_research import cli\n"
        "try:\n"
        "    cli.build_parser()\n"
        "except Exception:\n"
        "    failed.append('cli.build_parser')\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('requests', 'urllib3', 'http')"
        " and k != 'http'))\n"
        "print(failed, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    loaded = eval(run.stdout.strip().splitlines()[-1])
    # (http.client itself is stdlib and comes with xml.sax; it opens no connection on import)
    assert not [m for m in loaded if m.startswith(("requests", "urllib3"))], loaded
    failed = eval(run.stderr.strip().splitlines()[-1])
    # every module imported (make installs every extra): a failed import would hide an HTTP import
    assert failed == [], failed
