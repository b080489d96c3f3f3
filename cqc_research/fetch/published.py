"""Download published CQC and NHS files into ``data/raw/<source>/``, checksummed and recorded.

``cqc-research fetch SOURCE`` is one of only two commands that use the network (the other is
``sync-api``). For the CQC sources it reads the CQC "Using CQC data" page, finds the current
link (CQC's file names change every month) and downloads it; ``--url`` names a file directly,
``--page`` another page to search.

========================  ==================================================  =================
source                    what                                                found on
========================  ==================================================  =================
``ratings``               CQC "Latest ratings" workbook (ODS, monthly)        CQC data page
``directory``             CQC care directory (CSV, with four preamble lines)  CQC data page
``active-locations``      CQC HSCA active locations (ODS)                     CQC data page
``gp-payments``           NHS Payments to General Practice (CSV, yearly)      ``--url``/``--page``
``ae``                    NHS England monthly A&E attendances (CSV)           ``--url``/``--page``
``gpps``                  GP Patient Survey practice data (CSV, yearly)       ``--url``/``--page``
``fft``                   Friends and Family Test, GP or A&E (XLSX, monthly)  ``--url``/``--page``
========================  ==================================================  =================

Every download

1. goes to a temporary file in the destination folder (``.<name>.part``);
2. is verified: the byte count equals ``Content-Length``; an ODS/XLSX file is a zip archive
   whose members all pass their CRC check (``zipfile.testzip``); nothing that looks like an
   HTML page (an error or login page served with a file's name) is accepted; the kind of file
   (sniffed from its bytes) is one the source publishes; and, with ``--sha256``, the hash
   matches;
3. only then is moved into place with :func:`os.replace`, named
   ``<publication date>_<published file name>``; on any failure or Ctrl-C the temporary file
   is removed, so nothing that looks complete is left behind;
4. is recorded in ``data/raw/MANIFEST``, a JSON Lines file (one JSON object per line, appended;
   the last line for a path wins) with ``source, url, retrieved_at`` (UTC, ISO 8601),
   ``published, date_source, size, sha256, path`` (relative to the raw folder) and ``kind``.

A URL already in the manifest whose file is still present with the recorded SHA-256 is not
downloaded again (``--force`` does). A download identical to a file already held is not
stored twice. A recorded file that no longer matches its hash is downloaded again and replaced.
A file present under the same name with a *different* verified hash (the publisher changed the
file) is never overwritten without ``--force``.

The publication date comes from the link text or file name (``02 February 2024``,
``March 2024``, ``2024-02-01``, CQC's ``/files/2024-02/`` upload folder), else from the HTTP
``Last-Modified`` header, else the retrieval date; ``date_source`` in the manifest says which.

A network failure (no DNS, connection refused, timeout, TLS) is reported in one line that says
what failed and what to do instead. Nothing in this module touches the network at import time,
and ``requests`` is only imported when a download starts.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import hashlib
import json
import os
import re
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from .. import __version__, paths
from ..cache import atomic_path, sha256_file
from ..errors import CQCResearchError

__all__ = ["fetch", "SOURCES", "FetchResult", "FetchError"]

#: The CQC page listing the monthly data files.
CQC_DATA_PAGE = "https://www.cqc.org.uk/about-us/transparency/using-cqc-data"
USER_AGENT = f"cqc-research/{__version__} (research toolkit; python-requests)"
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT = (15.0, 120.0)
_CHUNK = 1 << 16


class FetchError(CQCResearchError):
    """A download failed or was rejected; the message says what to do."""


class NetworkError(FetchError):
    """The network could not be used (DNS, refused connection, timeout, TLS)."""


@dataclass(frozen=True)
class Source:
    """One published file family.

    Attributes
    ----------
    name : str
        The ``fetch`` argument, also the folder under ``data/raw``.
    title : str
        What it is, for messages.
    page_url : str or None
        The page listing the current file; ``None`` when ``--url`` or ``--page`` is required.
    pattern : str
        Regular expression (case-insensitive) matched against a link's text and file name.
    kinds : tuple of str
        File kinds accepted: ``ods``, ``xlsx``, ``csv``.
    help_url : str
        Where a person finds the file by hand.
    """

    name: str
    title: str
    page_url: str | None
    pattern: str
    kinds: tuple[str, ...]
    help_url: str


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("ratings", "CQC Latest ratings", CQC_DATA_PAGE, r"latest[\s_-]*ratings",
               ("ods", "xlsx", "csv"), CQC_DATA_PAGE),
        Source("directory", "CQC care directory", CQC_DATA_PAGE,
               r"care[\s_-]*directory|cqc[\s_-]*directory", ("csv",), CQC_DATA_PAGE),
        Source("active-locations", "CQC HSCA active locations", CQC_DATA_PAGE,
               r"hsca[\s_-]*active[\s_-]*locations|active[\s_-]*locations", ("ods", "xlsx"),
               CQC_DATA_PAGE),
        Source("gp-payments", "NHS Payments to General Practice", None,
               r"payments|nhspaymentsgp|\.csv", ("csv",),
               "https://digital.nhs.uk/data-and-information/publications/statistical/"
               "nhs-payments-to-general-practice"),
        Source("ae", "NHS England monthly A&E attendances and emergency admissions", None,
               r"monthly[\s_-]*a\s*&\s*e|monthly[\s_-]*ae|a&e[\s_-]*attendances",
               ("csv",),
               "https://www.england.nhs.uk/statistics/statistical-work-areas/"
               "ae-waiting-times-and-emergency-admissions/"),
        Source("gpps", "GP Patient Survey practice data (Ipsos for NHS England)", None,
               r"practice[\s_-]*(level[\s_-]*)?data|gpps", ("csv",),
               "https://www.gp-patient.co.uk/surveysandreports"),
        Source("fft", "NHS England Friends and Family Test monthly data (GP, A&E)", None,
               r"friends[\s_-]*(and|&)?[\s_-]*family|fft", ("xlsx", "csv"),
               "https://www.england.nhs.uk/fft/friends-and-family-test-data/"),
        Source("qof", "Quality and Outcomes Framework (NHS Digital): practice prevalence, "
               "achievement and geography CSVs (or the year's zip)", None,
               r"qof|quality[\s_-]*and[\s_-]*outcomes|prevalence|achievement|mapping",
               ("csv", "zip"),
               "https://digital.nhs.uk/data-and-information/publications/statistical/"
               "quality-and-outcomes-framework-achievement-prevalence-and-exceptions-data"),
        Source("dtoc", "NHS England delayed transfers of care monthly workbooks (local "
               "authorities, April 2011 to February 2020; pass the year's page with --page)", None,
               r"la[\s_-]*type[\s_-]*b|local[\s_-]*authorit|delayed[\s_-]*transfer|dtoc",
               ("xls", "xlsx"),
               "https://www.england.nhs.uk/statistics/statistical-work-areas/"
               "delayed-transfers-of-care/"),
        Source("staff-survey", "NHS Staff Survey organisation-level data (the workbook behind "
               "the benchmark reports)", None,
               r"organisation[\s_-]*(level[\s_-]*)?data|org[\s_-]*data|staff[\s_-]*survey",
               ("xlsx",), "https://www.nhsstaffsurveys.com/results/national-results/"),
        Source("fingertips", "Fingertips (OHID) all-data CSV export", None,
               r"fingertips|all[\s_-]*data|by[\s_-]*indicator", ("csv",),
               "https://fingertips.phe.org.uk/"),
    )
}


# ---------------------------------------------------------------------------------------------
# publication dates and link discovery (pure functions, no network)
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_SEP = r"[\s_.\-]*"
_DMY = re.compile(rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?{_SEP}({_MONTH_RE}){_SEP}(20\d\d)(?!\d)", re.I)
_MY = re.compile(rf"(?<![a-z])({_MONTH_RE}){_SEP}(20\d\d)(?!\d)", re.I)
_ISO = re.compile(r"(?<!\d)(20\d\d)[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")
_UPLOAD = re.compile(r"/(20\d\d)-(0[1-9]|1[0-2])/")


def publication_date(*texts: str) -> _dt.date | None:
    """The publication date written in a link's text, file name or URL, if any.

    The texts are tried in order; within each, a full date (``02 February 2024``,
    ``2024-02-01``, ``20240201``) wins over a month (``February 2024``, ``MARCH-2019``, which
    give the first of the month), which wins over a CQC upload folder (``/files/2024-02/``).

    Parameters
    ----------
    *texts : str
        Candidate texts, most trusted first (typically the link text, the file name, the URL).

    Returns
    -------
    datetime.date or None
        The first date found, or ``None`` when no text holds one.

    Examples
    --------
    >>> publication_date("Latest ratings (ODS, 25MB)", "02_February_2024_Latest_ratings.ods")
    datetime.date(2024, 2, 2)
    >>> publication_date("Monthly A&E March 2024")
    datetime.date(2024, 3, 1)
    >>> publication_date("nhspaymentsgp-22-23-prac-csv.csv") is None
    True
    """
    for finder in (_full_date, _month_date, _upload_date):
        for text in texts:
            if text:
                found = finder(unquote(str(text)))
                if found is not None:
                    return found
    return None


def _full_date(text: str) -> _dt.date | None:
    for m in _DMY.finditer(text):
        try:
            return _dt.date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
        except ValueError:
            continue
    for m in _ISO.finditer(text):
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def _month_date(text: str) -> _dt.date | None:
    m = _MY.search(text)
    return _dt.date(int(m.group(2)), _MONTHS[m.group(1).lower()], 1) if m else None


def _upload_date(text: str) -> _dt.date | None:
    m = _UPLOAD.search(text)
    return _dt.date(int(m.group(1)), int(m.group(2)), 1) if m else None


@dataclass(frozen=True)
class Link:
    """A file link found on a page.

    Attributes
    ----------
    url : str
        The absolute URL of the file.
    text : str
        The link's visible text (whitespace collapsed).
    filename : str
        The file name at the end of the URL.
    published : datetime.date or None
        The publication date read from the text, file name or URL
        (:func:`publication_date`), if any.
    """

    url: str
    text: str
    filename: str
    published: _dt.date | None


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            if self._href is not None:  # an unclosed <a>
                self._close()
            attrs = dict(attrs)
            self._href = attrs.get("href")
            self._text = [attrs.get("title") or "", attrs.get("aria-label") or ""]

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self._close()

    def _close(self):
        text = " ".join(" ".join(self._text).split())
        if self._href:
            self.links.append((self._href.strip(), text))
        self._href, self._text = None, []


def _filename(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _extension(name: str) -> str:
    suffix = PurePosixPath(name.lower()).suffix.lstrip(".")
    return "xlsx" if suffix == "xlsm" else suffix


def find_links(html: str, base_url: str, source: str | Source) -> list[Link]:
    """The links on a page that point at ``source``'s files, newest first.

    A link qualifies when its file name ends in one of the source's kinds (``.ods``,
    ``.xlsx``, ``.csv``) and the source's pattern matches its text or file name. Links are
    ordered by the publication date found in them (newest first; undated ones last), then by
    their order on the page. Relative links are resolved against ``base_url``.

    Parameters
    ----------
    html : str
        The page's HTML.
    base_url : str
        The page's URL (after redirects).
    source : str or Source
        A key of :data:`SOURCES`, or a :class:`Source`.

    Returns
    -------
    list of Link
    """
    src = SOURCES[source] if isinstance(source, str) else source
    pattern = re.compile(src.pattern, re.I)
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    found: list[tuple[int, Link]] = []
    seen: set[str] = set()
    for order, (href, text) in enumerate(parser.links):
        if href.startswith(("#", "mailto:", "javascript:")):
            continue
        url = urljoin(base_url, href)
        name = _filename(url)
        if _extension(name) not in src.kinds or url in seen:
            continue
        if not (pattern.search(text) or pattern.search(name.replace("_", " "))
                or pattern.search(name)):
            continue
        seen.add(url)
        found.append((order, Link(url, text, name, publication_date(text, name, url))))
    found.sort(key=lambda pair: (pair[1].published is None,
                                 -(pair[1].published or _dt.date.min).toordinal(), pair[0]))
    return [link for _, link in found]


# ---------------------------------------------------------------------------------------------
# sniffing and verification
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def sniff_kind(path: str | os.PathLike) -> str:
    """What a downloaded file is, from its bytes: ``ods``, ``xlsx``, ``xls``, ``zip``, ``html``,
    ``empty`` or ``csv`` (any other text), or ``binary``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to inspect: its first 4 KiB are read (and, for a zip, its list of members).

    Returns
    -------
    str
        One of ``"ods"``, ``"xlsx"``, ``"xls"``, ``"zip"``, ``"html"``, ``"empty"``, ``"csv"`` or
        ``"binary"``. An ``html`` result for a file that should be a spreadsheet usually means an
        error page was saved.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.ods"
    >>> _ = p.write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
    >>> sniff_kind(p)
    'html'
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head.strip():
        return "empty"
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if "mimetype" in names and zf.read("mimetype").strip().startswith(_ODS_MIME):
                    return "ods"
                if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                    return "xlsx"
        except (zipfile.BadZipFile, OSError, KeyError):
            pass
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml")) or b"<html" in text[:1024]:
        return "html"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: an Excel 97 workbook
        return "xls"
    if b"\x00" in head:
        return "binary"
    return "csv"


def _verify(tmp: Path, *, src: Source, url: str, expected_size: int | None,
            expected_sha256: str | None, sha256: str, size: int) -> str:
    """Check a finished download; returns its kind or raises FetchError."""
    if expected_size is not None and size != expected_size:
        raise FetchError(f"download of {url} is incomplete: {size:,} of {expected_size:,} bytes "
                         "(Content-Length); nothing was kept, run the command again")
    kind = sniff_kind(tmp)
    if kind == "html":
        raise FetchError(f"{url} returned an HTML page, not a {src.title} file (an error, "
                         "login or cookie page?); nothing was kept; open the link in a browser "
                         "or pass the file's direct --url")
    if kind == "empty":
        raise FetchError(f"{url} returned an empty file; nothing was kept")
    if kind in ("ods", "xlsx", "zip"):
        try:
            with zipfile.ZipFile(tmp) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise FetchError(f"{url} is a damaged zip archive ({exc}); nothing was kept, "
                             "run the command again") from None
        if bad is not None:
            raise FetchError(f"{url} is a damaged archive (member {bad!r} fails its CRC check); "
                             "nothing was kept, run the command again")
    if kind not in src.kinds:
        raise FetchError(f"{url} is a {kind} file; {src.name} expects "
                         f"{' or '.join(src.kinds)}; nothing was kept")
    if expected_sha256 and sha256 != expected_sha256.lower():
        raise FetchError(f"{url} has SHA-256 {sha256}, not the expected {expected_sha256.lower()};"
                         " nothing was kept")
    return kind


# ---------------------------------------------------------------------------------------------
# the manifest
MANIFEST_NAME = "MANIFEST"
MANIFEST_FIELDS = ("source", "url", "final_url", "page", "link_text", "retrieved_at", "published",
                   "date_source", "size", "sha256", "path", "kind", "last_modified", "etag")


def manifest_path(dest: str | os.PathLike | None = None) -> Path:
    """``<dest>/MANIFEST``; ``dest`` defaults to :func:`cqc_research.paths.raw_dir`.

    Parameters
    ----------
    dest : str or os.PathLike, optional
        The raw-data folder that holds one sub-folder per source.

    Returns
    -------
    pathlib.Path
        The manifest file (one JSON object per line, one line per download).
    """
    return Path(dest if dest is not None else paths.raw_dir()) / MANIFEST_NAME


def _manifest_entries(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CQCResearchError(f"{path}, line {number}: not JSON ({exc.msg}); expected one "
                                       "JSON object per line (the fetch manifest)") from None
            if not isinstance(entry, dict) or not {"path", "sha256", "url"} <= entry.keys():
                raise CQCResearchError(f"{path}, line {number}: expected a JSON object with "
                                       "'path', 'sha256' and 'url'")
            entries.append(entry)
    return entries


def _append_manifest(path: Path, entry: dict) -> None:
    """Append one line, rewriting the file atomically so a crash never leaves a torn line."""
    old = path.read_bytes() if path.is_file() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    line = json.dumps({k: entry.get(k) for k in MANIFEST_FIELDS}, ensure_ascii=False)
    with atomic_path(path) as tmp:
        tmp.write_bytes(old + line.encode("utf-8") + b"\n")


def read_manifest(dest: str | os.PathLike | None = None):
    """The fetch manifest as a table, one row per recorded download, oldest first.

    Parameters
    ----------
    dest : path, optional
        The raw data folder holding ``MANIFEST`` (default :func:`cqc_research.paths.raw_dir`).

    Returns
    -------
    pandas.DataFrame
        Columns ``source, url, final_url, page, link_text, retrieved_at`` (UTC timestamps),
        ``published`` (datetime64), ``date_source, size, sha256, path, kind, last_modified,
        etag``; empty when nothing was fetched yet.
    """
    import pandas as pd

    frame = pd.DataFrame(_manifest_entries(manifest_path(dest)), columns=list(MANIFEST_FIELDS))
    frame["retrieved_at"] = pd.to_datetime(frame["retrieved_at"], utc=True)
    frame["published"] = pd.to_datetime(frame["published"])
    frame["size"] = frame["size"].astype("Int64")
    return frame


def verify_manifest(dest: str | os.PathLike | None = None):
    """Check every file recorded in the manifest against its SHA-256 (no network).

    Parameters
    ----------
    dest : str or os.PathLike, optional
        The raw-data folder; default :func:`cqc_research.paths.raw_dir`.

    Returns
    -------
    pandas.DataFrame
        One row per recorded path (its latest entry): ``source, path, sha256, status``, where
        status is ``ok``, ``missing`` or ``changed`` (present, different hash).
    """
    import pandas as pd

    root = manifest_path(dest).parent
    latest: dict[str, dict] = {}
    for entry in _manifest_entries(manifest_path(dest)):
        latest[entry["path"]] = entry
    rows = []
    for rel, entry in latest.items():
        target = root / rel
        status = ("missing" if not target.is_file()
                  else "ok" if sha256_file(target) == entry["sha256"] else "changed")
        rows.append({"source": entry.get("source"), "path": rel, "sha256": entry["sha256"],
                     "status": status})
    return pd.DataFrame(rows, columns=["source", "path", "sha256", "status"])


# ---------------------------------------------------------------------------------------------
# network
def network_error_message(exc: BaseException, url: str, *, fallback: str | None = None) -> str:
    """One line saying what failed talking to ``url`` and what to do about it.

    Parameters
    ----------
    exc : Exception
        A ``requests`` exception (or any exception).
    url : str
        The URL being fetched.
    fallback : str, optional
        What to do instead; by default, download by hand and use ``cqc-research load``.

    Returns
    -------
    str
        One line naming the URL, the kind of failure (no connection, timeout, HTTP status, ...)
        and the fallback, fit for standard error.
    """
    import requests

    host = urlsplit(url).hostname or url
    chain = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and isinstance(
            seen.args[0], BaseException) else None) or getattr(seen, "reason", None)
        if not isinstance(seen, BaseException):
            seen = None
    names = " ".join(type(e).__name__ for e in chain) + " " + " ".join(str(e) for e in chain)
    if "NameResolution" in names or "getaddrinfo" in names or "Name or service not known" in names:
        what = f"could not look up {host} (no DNS: offline?)"
    elif "ConnectionRefused" in names or "Connection refused" in names:
        what = f"connection to {host} was refused"
    elif isinstance(exc, requests.exceptions.SSLError):
        what = (f"TLS/SSL failed talking to {host} (a proxy that intercepts HTTPS? set "
                "REQUESTS_CA_BUNDLE to its certificate)")
    elif isinstance(exc, requests.exceptions.ProxyError):
        what = f"the proxy refused or failed the request to {host}"
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        what = f"timed out connecting to {host}"
    elif isinstance(exc, requests.exceptions.Timeout):
        what = f"{host} stopped answering (read timeout)"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        what = f"the connection to {host} broke during the download"
    else:
        what = f"network error talking to {host} ({type(exc).__name__})"
    todo = fallback or ("download the file by hand in a browser and pass it to "
                        "`cqc-research load FILE`")
    return f"{what}: check your internet connection and proxy settings (HTTPS_PROXY), or {todo}"


def _session():
    import requests

    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    return session


def _get(session, url: str, *, timeout, stream: bool, fallback: str | None):
    import requests

    try:
        response = session.get(url, timeout=timeout, stream=stream, allow_redirects=True)
    except requests.exceptions.RequestException as exc:
        raise NetworkError(network_error_message(exc, url, fallback=fallback)) from None
    if response.status_code != 200:
        reason = response.reason or ""
        response.close()
        hint = ("the link may have moved: find the file by hand and pass --url"
                if response.status_code in (404, 410) else
                "the server refused: try again later, or download by hand and pass --url"
                if response.status_code in (401, 403, 429) or response.status_code >= 500
                else "pass the file's direct --url")
        raise FetchError(f"{url} answered HTTP {response.status_code} {reason}".rstrip()
                         + f"; {hint}")
    return response


def discover(source: str, *, page_url: str | None = None, session=None,
             timeout=DEFAULT_TIMEOUT) -> list[Link]:
    """Read a source's listing page and return its file links, newest first (network).

    Parameters
    ----------
    source : str
        A key of :data:`SOURCES`.
    page_url : str, optional
        The page to read; default the source's registered page.
    session : requests.Session, optional
        Reuse a session (default: a new one with the package's user agent).
    timeout : float or (float, float)
        Seconds to wait (connect, read) for the page.

    Returns
    -------
    list of Link
        The links whose text or file name matches the source's pattern and whose kind it
        accepts, newest publication date first (undated links last).

    Raises
    ------
    FetchError
        No page is known, the page cannot be read, or it holds no matching link.
    """
    src = _source(source)
    page_url = page_url or src.page_url
    if not page_url:
        raise FetchError(f"{src.name}: no page to search; find the {src.title} file at "
                         f"{src.help_url} and pass its link with --url (or the page with --page)")
    session = session or _session()
    response = _get(session, page_url, timeout=timeout, stream=False,
                    fallback=f"download the file by hand from {page_url} and pass it to "
                             "`cqc-research load FILE`")
    links = find_links(response.text, response.url or page_url, src)
    if not links:
        raise FetchError(f"found no {'/'.join('.' + k for k in src.kinds)} link matching "
                         f"/{src.pattern}/ on {page_url}; the page may have changed: find the "
                         "file by hand and pass --url")
    return links


def _source(name: str | Source) -> Source:
    if isinstance(name, Source):
        return name
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}") from None


# ---------------------------------------------------------------------------------------------
# fetching
@dataclass
class FetchResult:
    """What :func:`fetch` did.

    ``status`` is ``downloaded``, ``replaced`` (a recorded file that no longer matched its hash,
    or ``--force``), ``present`` (already held with the recorded hash; nothing downloaded) or
    ``identical`` (downloaded, but the same bytes as a file already held, which is kept).

    Attributes
    ----------
    source : str
        The source's name (a key of :data:`SOURCES`).
    url : str
        The URL fetched.
    path : pathlib.Path
        Where the file is held.
    sha256 : str
        Hex SHA-256 of the file.
    size : int
        Size in bytes.
    status : str
        ``downloaded``, ``replaced``, ``present`` or ``identical`` (above).
    published : datetime.date or None
        Publication date: from the link or file name, else the server's ``Last-Modified``, else
        the retrieval date.
    retrieved_at : str or None
        UTC time of the download (ISO 8601, ``Z``), as recorded in the manifest.
    notes : list of str
        Anything worth telling the user, e.g. a held file that no longer matched its hash.
    """

    source: str
    url: str
    path: Path
    sha256: str
    size: int
    status: str
    published: _dt.date | None = None
    retrieved_at: str | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verb = {"downloaded": "downloaded", "replaced": "downloaded (replaced)",
                "present": "already present", "identical": "identical to"}[self.status]
        return f"{self.source}: {verb} {self.path} ({self.size:,} bytes, sha256 {self.sha256[:12]}…)"


def _safe_name(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:150] or "download"


def _content_disposition_name(header: str | None) -> str | None:
    if not header:
        return None
    m = re.search(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", header) or re.search(
        r'filename\s*=\s*"?([^";]+)"?', header)
    return unquote(m.group(1)).strip() if m else None


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def _target_name(published: _dt.date, original: str, kind: str) -> str:
    stem = _safe_name(PurePosixPath(original).stem if _extension(original) else original)
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}_", "", stem)
    return f"{published.isoformat()}_{stem}.{kind}"


def fetch(
    source: str,
    *,
    url: str | None = None,
    page_url: str | None = None,
    dest: str | os.PathLike | None = None,
    force: bool = False,
    sha256: str | None = None,
    progress: bool = False,
    timeout=DEFAULT_TIMEOUT,
    session=None,
) -> FetchResult:
    """Download the current published file of ``source`` into ``<dest>/<source>/`` (network).

    Parameters
    ----------
    source : {"ratings", "directory", "active-locations", "gp-payments", "ae", "gpps", "fft"}
    url : str, optional
        The file's direct link; default: discovered on the source's page.
    page_url : str, optional
        A page to search for the link instead of the registered one.
    dest : path, optional
        The raw data folder (default :func:`cqc_research.paths.raw_dir`); the file goes to
        ``<dest>/<source>/`` and the record to ``<dest>/MANIFEST``.
    force : bool
        Download even when the manifest says the file is held, and replace a file of the same
        name whose bytes differ.
    sha256 : str, optional
        The expected SHA-256; a download that differs is rejected.
    progress : bool
        Show a progress bar on standard error.
    timeout : float or (float, float)
        ``requests`` timeouts (connect, read) in seconds.
    session : requests.Session, optional

    Returns
    -------
    FetchResult

    Raises
    ------
    NetworkError
        No network; the one-line message says what to do.
    FetchError
        The page held no link, the server answered an error, or the download failed
        verification (nothing is left behind).
    """
    src = _source(source)
    root = Path(dest) if dest is not None else paths.raw_dir()
    folder = root / src.name
    manifest = manifest_path(root)
    entries = _manifest_entries(manifest)
    session = session or _session()
    link: Link | None = None
    if url is None:
        link = discover(src.name, page_url=page_url, session=session, timeout=timeout)[0]
        url = link.url
    notes: list[str] = []

    # already held?
    recorded = [e for e in entries if e["url"] == url and e.get("source") == src.name]
    if recorded and not force:
        last = recorded[-1]
        held = root / last["path"]
        if held.is_file():
            actual = sha256_file(held)
            if actual == last["sha256"] and (not sha256 or sha256.lower() == actual):
                return FetchResult(src.name, url, held, actual, held.stat().st_size, "present",
                                   _parse_date(last.get("published")), last.get("retrieved_at"))
            notes.append(f"{held} no longer matches its MANIFEST SHA-256; downloading it again")
        else:
            notes.append(f"{held} (in the MANIFEST) is missing; downloading it again")
    for note in notes:
        print(f"cqc-research fetch: {note}", file=sys.stderr)

    folder.mkdir(parents=True, exist_ok=True)
    fallback = (f"download it by hand from {link.url if link else url} and pass it to "
                "`cqc-research load FILE`")
    response = _get(session, url, timeout=timeout, stream=True, fallback=fallback)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{_safe_name(_filename(url))}.", suffix=".part",
                                    dir=folder)
    tmp = Path(tmp_name)
    try:
        with response, os.fdopen(fd, "wb") as out:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length and length.isdigit() else None
            digest, size = hashlib.sha256(), 0
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=expected_size, unit="B", unit_scale=True, unit_divisor=1024,
                           desc=src.name, file=sys.stderr, leave=False)
            try:
                for block in response.iter_content(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    if bar is not None:
                        bar.update(len(block))
            except Exception as exc:
                import requests

                if isinstance(exc, requests.exceptions.RequestException):
                    of = f" of {expected_size:,}" if expected_size else ""
                    raise NetworkError(
                        f"the download of {url} broke off after {size:,}{of} bytes and nothing "
                        f"was kept ({network_error_message(exc, url, fallback=fallback)})"
                    ) from None
                raise
            finally:
                if bar is not None:
                    bar.close()
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        kind = _verify(tmp, src=src, url=url, expected_size=expected_size,
                       expected_sha256=sha256, sha256=sha, size=size)
        final_url = response.url or url
        original = (_content_disposition_name(response.headers.get("Content-Disposition"))
                    or _filename(final_url) or _filename(url))
        published, date_source = None, None
        if link is not None:
            published = publication_date(link.text, link.filename, link.url)
        if published is None:
            published = publication_date(original, url)
        if published is not None:
            date_source = "link"
        else:
            modified = response.headers.get("Last-Modified")
            try:
                published = email.utils.parsedate_to_datetime(modified).date() if modified else None
            except (TypeError, ValueError):
                published = None
            date_source = "last-modified" if published else None
        retrieved = _now()
        if published is None:
            published, date_source = retrieved.date(), "retrieved"
        entry = {
            "source": src.name, "url": url, "final_url": final_url if final_url != url else None,
            "page": (page_url or src.page_url) if link is not None else None,
            "link_text": link.text if link is not None else None,
            "retrieved_at": retrieved.isoformat().replace("+00:00", "Z"),
            "published": published.isoformat(), "date_source": date_source, "size": size,
            "sha256": sha, "kind": kind, "last_modified": response.headers.get("Last-Modified"),
            "etag": response.headers.get("ETag"),
        }

        # the same bytes already held?
        for old in reversed(entries):
            held = root / old["path"]
            if old["sha256"] == sha and old.get("source") == src.name and held.is_file() \
                    and sha256_file(held) == sha:
                tmp.unlink()
                entry["path"] = old["path"]
                _append_manifest(manifest, entry)
                return FetchResult(src.name, url, held, sha, size, "identical", published,
                                   entry["retrieved_at"], notes)

        target = folder / _target_name(published, original, kind)
        status = "downloaded"
        if target.exists():
            rel_old = target.relative_to(root).as_posix()
            ours = [e for e in entries if e["path"] == rel_old]
            current = sha256_file(target)
            broken = bool(ours) and current != ours[-1]["sha256"]
            if current == sha:
                status = "identical"
            elif not (force or broken):
                raise FetchError(
                    f"{target} already exists with different contents (SHA-256 {current[:12]}…, "
                    f"download {sha[:12]}…): the publisher changed the file, or it was placed "
                    "by hand; nothing was replaced: pass --force to replace it")
            else:
                status = "replaced"
        os.replace(tmp, target)
        entry["path"] = target.relative_to(root).as_posix()
        _append_manifest(manifest, entry)
        return FetchResult(src.name, url, target, sha, size, status, published,
                           entry["retrieved_at"], notes)
    finally:
        tmp.unlink(missing_ok=True)


def _parse_date(text) -> _dt.date | None:
    try:
        return _dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Fingertips through fingertips_py (an optional extra)
#: Fingertips area type IDs a researcher is most likely to want (``--area-type``).
FINGERTIPS_AREA_TYPES = {7: "GP practices", 502: "upper-tier local authorities (from Apr 2023)",
                         501: "lower-tier local authorities (from Apr 2023)", 118: "NHS trusts"}


def fetch_fingertips(indicator, *, area_type, parent_area_type: int = 15,
                     dest: str | os.PathLike | None = None, force: bool = False) -> FetchResult:
    """Download Fingertips' all-data CSV of indicators at one area type, through ``fingertips_py`` (network).

    Calls ``fingertips_py.retrieve_data.get_data_by_indicator_ids`` (the optional extra:
    ``pip install 'cqc-research[fingertips]'``) and writes what it returns as
    ``<dest>/fingertips/fingertips_<ids>_area<area_type>.csv``, the layout
    :func:`cqc_research.io.nhs.load_fingertips` reads, recorded in the MANIFEST like any download.
    Without the package, download the CSV from the Fingertips website and pass it with ``--url``
    or straight to ``cqc-research load``.

    Parameters
    ----------
    indicator : int, str or list of int
        Fingertips indicator ID(s), e.g. ``848`` or ``"848,90453"``.
    area_type : int
        Fingertips area type ID of the areas wanted (:data:`FINGERTIPS_AREA_TYPES`, e.g. 7 for
        GP practices).
    parent_area_type : int, default 15
        The comparator area type (15: England).
    dest : path, optional
        The raw data folder (default :func:`cqc_research.paths.raw_dir`).
    force : bool
        Replace a held file of the same name whose contents differ.

    Returns
    -------
    FetchResult
        ``status`` ``downloaded``, ``identical`` (the same bytes were held) or ``replaced``.

    Raises
    ------
    FetchError
        ``fingertips_py`` is not installed, no area type was given, Fingertips answered with
        something that is not an all-data table, or a different file of the same name is held
        (without ``force``).
    NetworkError
        Fingertips could not be reached.
    """
    if area_type is None:
        raise FetchError("fetch fingertips --indicator also needs --area-type (e.g. 7 for GP "
                         "practices, 502 for upper-tier local authorities)")
    try:
        from fingertips_py import retrieve_data
    except ImportError:
        raise FetchError("fetch fingertips --indicator needs the optional package fingertips_py: "
                         "pip install 'cqc-research[fingertips]'; or download the CSV from "
                         "https://fingertips.phe.org.uk/ and pass it with --url or to "
                         "`cqc-research load FILE`") from None
    import pandas as pd

    ids = [int(x) for x in (indicator if isinstance(indicator, list | tuple)
                            else str(indicator).replace(" ", "").split(",")) if str(x)]
    label = ",".join(map(str, ids))
    url = (f"fingertips_py:get_data_by_indicator_ids?indicator_ids={label}"
           f"&child_area_type_id={area_type}&parent_area_type_id={parent_area_type}")
    try:
        frame = retrieve_data.get_data_by_indicator_ids(
            ids, area_type, parent_area_type_id=parent_area_type, include_sortable_time_periods=True)
    except Exception as exc:  # fingertips_py reads the API with pandas and urllib
        raise NetworkError(f"Fingertips did not answer for indicator {label}, area type {area_type} "
                           f"({type(exc).__name__}: {exc}); download the CSV from "
                           "https://fingertips.phe.org.uk/ by hand and pass it to "
                           "`cqc-research load FILE`") from None
    if not isinstance(frame, pd.DataFrame) or frame.empty or not {
            "Indicator ID", "Area Code"} <= {str(c) for c in frame.columns}:
        raise FetchError(f"Fingertips returned no data for indicator {label} at area type "
                         f"{area_type}; check both IDs on https://fingertips.phe.org.uk/")
    root = Path(dest) if dest is not None else paths.raw_dir()
    folder = root / "fingertips"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"fingertips_{'_'.join(map(str, ids))}_area{area_type}.csv"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            frame.to_csv(out, index=False)
        sha, size = sha256_file(tmp), tmp.stat().st_size
        status = "downloaded"
        if target.exists():
            if sha256_file(target) == sha:
                status = "identical"
            elif not force:
                raise FetchError(f"{target} already exists with different contents (Fingertips "
                                 "revised its data?); nothing was replaced: pass --force")
            else:
                status = "replaced"
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    retrieved = _now()
    entry = {"source": "fingertips", "url": url, "retrieved_at": retrieved.isoformat().replace("+00:00", "Z"),
             "published": retrieved.date().isoformat(), "date_source": "retrieved", "size": size,
             "sha256": sha, "kind": "csv", "path": target.relative_to(root).as_posix()}
    _append_manifest(manifest_path(root), entry)
    return FetchResult("fingertips", url, target, sha, size, status, retrieved.date(),
                       entry["retrieved_at"])
