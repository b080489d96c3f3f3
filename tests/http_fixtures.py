"""A loopback HTTP server for tests that must not touch the internet.

:class:`LoopbackServer` listens on 127.0.0.1 (a free port), in a thread, and answers from
scripted :class:`Reply` objects or from handler functions; it records every request it saw.
:class:`FakeCqcApi` plugs into it and replays CQC API records (from a folder such as
``../shared/data/cqc_api_oldham_2024`` or the synthetic one): paged and filtered lists,
single records, ``/changes/{kind}`` windows, a subscription-key check and injected faults.

Import in a test module with ``from http_fixtures import ...`` (pytest puts ``tests/`` on the
path) and use the :func:`loopback` context manager or the ``server`` fixture.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

__all__ = ["Reply", "Seen", "LoopbackServer", "FakeCqcApi", "loopback", "free_port", "server"]


@dataclass
class Reply:
    """One scripted HTTP answer.

    ``body`` may be bytes, str (UTF-8) or a JSON-serialisable dict/list. ``content_length``
    announces a length other than the body's (a truncated download); the connection is then
    closed after the short body.
    """

    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict = field(default_factory=dict)
    content_type: str | None = None
    content_length: int | None = None

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict | list):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), self.content_type or "text/html; charset=utf-8"
        return self.body, self.content_type or "application/octet-stream"


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Handler = Callable[[Seen], Reply]


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 for tests.

    Routes map an exact path to a list of replies (served in turn; the last one repeats) or a
    handler ``f(seen) -> Reply``. A prefix route (``add_prefix``) takes every path under it.
    Unknown paths get an HTML 404 page, as a real web server would.
    """

    def __init__(self):
        self.routes: dict[str, list[Reply] | Handler] = {}
        self.prefixes: list[tuple[str, Handler]] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs cost ~40 ms per keep-alive request

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                seen = Seen("GET", split.path, query, {k: v for k, v in self.headers.items()})
                with outer._lock:
                    outer.seen.append(seen)
                reply = outer._answer(seen)
                body, ctype = reply.payload()
                self.send_response(reply.status)
                self.send_header("Content-Type", ctype)
                length = reply.content_length if reply.content_length is not None else len(body)
                self.send_header("Content-Length", str(length))
                truncated = length != len(body)
                if truncated:
                    self.send_header("Connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                if truncated:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    # routing ----------------------------------------------------------------------------------
    def add(self, path: str, *replies: Reply | Handler) -> None:
        """Serve ``path`` with the replies in turn (the last repeats), or with one handler."""
        if len(replies) == 1 and callable(replies[0]):
            self.routes[path] = replies[0]
        else:
            self.routes[path] = list(replies)

    def add_prefix(self, prefix: str, handler: Handler) -> None:
        """Serve every path starting with ``prefix`` through ``handler``."""
        self.prefixes.append((prefix, handler))

    def _answer(self, seen: Seen) -> Reply:
        route = self.routes.get(seen.path)
        if route is not None:
            if callable(route):
                return route(seen)
            with self._lock:
                return route.pop(0) if len(route) > 1 else route[0]
        for prefix, handler in self.prefixes:
            if seen.path.startswith(prefix):
                return handler(seen)
        return Reply(404, "<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>")

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Seen]:
        """The requests seen for exactly ``path``."""
        return [s for s in self.seen if s.path == path]

    # lifetime ---------------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def loopback():
    """A started :class:`LoopbackServer`, stopped on exit."""
    srv = LoopbackServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server():
    """A :class:`LoopbackServer` for one test."""
    with loopback() as srv:
        yield srv


def free_port() -> int:
    """A loopback port nobody listens on (connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -------------------------------------------------------------------------------------------------
# a fake CQC API
@dataclass
class _Fault:
    prefix: str
    reply: Reply
    times: int | None  # None: for ever


class FakeCqcApi:
    """Replays CQC API records over a :class:`LoopbackServer`, as the real API shapes them.

    Parameters
    ----------
    locations, providers : dict
        ID -> record (the ``/locations/{id}`` and ``/providers/{id}`` JSON).
    key : str
        The only subscription key accepted; others get HTTP 401.
    root : str
        The API's path on the server (``/public/v1``).
    """

    def __init__(self, locations: dict, providers: dict, *, key: str, root: str = "/public/v1"):
        self.locations = dict(locations)
        self.providers = dict(providers)
        self.key = key
        self.root = root
        self.faults: list[_Fault] = []
        self.changelog: list[tuple[dt.datetime, str, str]] = []
        self._lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: str | Path, *, key: str) -> FakeCqcApi:
        """Records from a folder laid out as ``locations/<id>.json``, ``providers/<id>.json``."""
        folder = Path(folder)
        load = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((folder / "locations").glob("*.json"))}
        prov = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((folder / "providers").glob("*.json"))}
        return cls(load, prov, key=key)

    def install(self, srv: LoopbackServer) -> str:
        """Route ``root`` on ``srv`` to this API; returns the base URL."""
        srv.add_prefix(self.root + "/", self.handle)
        return srv.url(self.root)

    # scripting --------------------------------------------------------------------------------
    def fail(self, prefix: str, reply: Reply, times: int | None = 1) -> None:
        """Answer requests whose path (below ``root``) starts with ``prefix`` with ``reply``,
        ``times`` times (``None``: until :meth:`clear_faults`)."""
        self.faults.append(_Fault(prefix, reply, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    def change(self, kind: str, record: dict, at: dt.datetime) -> None:
        """Store a new version of a record and log the change at time ``at``."""
        ident = record[f"{kind}Id"]
        getattr(self, f"{kind}s")[ident] = record
        self.changelog.append((at, kind, ident))

    # answering --------------------------------------------------------------------------------
    def handle(self, seen: Seen) -> Reply:
        if seen.headers.get("Ocp-Apim-Subscription-Key") != self.key:
            return Reply(401, {"statusCode": 401, "message": "Access denied due to invalid "
                               "subscription key. Make sure to provide a valid key."})
        path = seen.path[len(self.root):]
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.prefix) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.reply
        parts = [p for p in path.split("/") if p]
        if parts in (["locations"], ["providers"]):
            return self._list(parts[0], seen.query)
        if len(parts) == 2 and parts[0] in ("locations", "providers"):
            record = getattr(self, parts[0]).get(parts[1])
            if record is None:
                return Reply(404, {"statusCode": 404, "message": "Resource not found"})
            return Reply(200, record)
        if len(parts) == 2 and parts[0] == "changes" and parts[1] in ("location", "provider"):
            return self._changes(parts[1], seen.query)
        return Reply(404, {"statusCode": 404, "message": "Resource not found"})

    def _page(self, uri: str, key: str, items: list, query: dict, filters: dict) -> Reply:
        page = int(query.get("page", 1))
        per_page = int(query.get("perPage", 500))
        total_pages = max(1, -(-len(items) // per_page))

        def link(n):
            return f"{uri}?{urlencode({'page': n, 'perPage': per_page, **filters})}"

        return Reply(200, {
            "firstPageUri": link(1), "lastPageUri": link(total_pages),
            key: items[(page - 1) * per_page: page * per_page],
            "nextPageUri": link(page + 1) if page < total_pages else None,
            "page": page, "perPage": per_page,
            "previousPageUri": link(page - 1) if page > 1 else None,
            "total": len(items), "totalPages": total_pages, "uri": uri,
        })

    def _list(self, kind: str, query: dict) -> Reply:
        filters = {k: v for k, v in query.items() if k not in ("page", "perPage", "partnerCode")}
        records = getattr(self, kind)
        items = []
        for ident in sorted(records):
            rec = records[ident]
            if any(str(rec.get(k)) != v for k, v in filters.items()):
                continue
            if kind == "locations":
                items.append({"locationId": ident, "locationName": rec.get("name"),
                              "postalCode": rec.get("postalCode")})
            else:
                items.append({"providerId": ident, "providerName": rec.get("name")})
        return self._page(f"/{kind}", kind, items, query, filters)

    def _changes(self, kind: str, query: dict) -> Reply:
        def parse(text):
            return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)

        try:
            start, end = parse(query["startTimestamp"]), parse(query["endTimestamp"])
        except (KeyError, ValueError):
            return Reply(400, {"statusCode": 400, "message": "startTimestamp and endTimestamp "
                               "are required, as YYYY-MM-DDTHH:MM:SSZ"})
        ids = list(dict.fromkeys(i for at, k, i in self.changelog
                                 if k == kind and start <= at <= end))
        filters = {"startTimestamp": query["startTimestamp"], "endTimestamp": query["endTimestamp"]}
        return self._page(f"/changes/{kind}", "changes", ids, query, filters)
