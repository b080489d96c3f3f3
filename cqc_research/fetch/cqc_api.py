"""CQC Syndication API client, and ``cqc-research sync-api`` (network; explicit commands only).

The API (``https://api.service.cqc.org.uk/public/v1``) needs a subscription key from
https://api-portal.service.cqc.org.uk, sent as the ``Ocp-Apim-Subscription-Key`` header. The
key is read from the ``CQC_API_KEY`` environment variable. It is never written anywhere: not
in a repr, an exception, a log line, the sync state, or a file the sync writes.

:class:`CQCApiClient`

- pages through list endpoints (``page``, ``perPage``, ``totalPages`` / ``nextPageUri``);
- keeps a polite rate (default 8 requests per second; CQC throttles a client at 600 per
  minute and answers HTTP 429 beyond);
- retries HTTP 429 and 5xx, honouring ``Retry-After`` (seconds or an HTTP date) plus a little
  jitter, and otherwise backing off exponentially with jitter, up to ``max_retries`` times;
- has connect and read timeouts; a client that has never reached the server fails at once on
  a refused connection or a DNS failure (offline), with one line saying what to do.

:meth:`CQCApiClient.sync` writes a folder in the layout the loaders read
(:func:`cqc_research.io.cqc_json.load_api_folder`), the same as ``cqc_api_oldham_2024``::

    list_locations.json        the /locations listing (every page's items, first page's envelope)
    list_providers.json        the /providers listing (same local-authority filter)
    locations/<locationId>.json  one /locations/{id} response per location
    providers/<providerId>.json  one /providers/{id} response per provider
    sync_state.json            filters, the high-water mark (``endTimestamp``), past runs
    sync_journal.jsonl         only while a run is unfinished: what it has completed

Records are written as ``json.dumps(record, indent=1, sort_keys=True)``, each atomically. A
first run (or ``--full``) lists every location matching the filters and fetches each. Later
runs are incremental: they ask ``/changes/location`` and ``/changes/provider`` for what changed
since the saved ``endTimestamp``, refetch those records already in the folder, and add changed
records that now match the filters. An interrupted run (Ctrl-C, network loss, a persistent
error) resumes where it stopped: the next run finishes the same window without refetching
what the journal records as done.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import json
import logging
import os
import random as _random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, paths
from ..cache import atomic_write_text
from ..errors import CQCResearchError
from .published import network_error_message

__all__ = ["CQCApiClient", "ApiError"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.service.cqc.org.uk/public/v1"
API_KEY_ENV = "CQC_API_KEY"
BASE_URL_ENV = "CQC_API_BASE_URL"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
PORTAL = "https://api-portal.service.cqc.org.uk"
STATE_NAME = "sync_state.json"
JOURNAL_NAME = "sync_journal.jsonl"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_REDACTED = "<redacted>"


class ApiError(CQCResearchError):
    """The CQC API answered an error (or could not be reached); the message says what to do.

    Parameters
    ----------
    message : str
        What went wrong and what to do; the API key is never part of it.
    status : int, optional
        The HTTP status, when the API answered (kept as ``.status``).
    url : str, optional
        The URL requested, key redacted (kept as ``.url``).
    """

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None):
        super().__init__(message)
        self.status = status
        self.url = url


class ApiNotFoundError(ApiError):
    """HTTP 404: no such location, provider or report."""


class MissingApiKeyError(ApiError):
    """No API key in the environment."""


def parse_retry_after(value: str | None, now: _dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Parameters
    ----------
    value : str or None
        The header's value.
    now : datetime.datetime
        The current time (timezone-aware UTC), against which an HTTP date is measured.

    Returns
    -------
    float or None
        Seconds to wait (never negative), or ``None`` when the header is absent or unreadable.

    Examples
    --------
    >>> import datetime as dt
    >>> now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    >>> parse_retry_after("7", now)
    7.0
    >>> parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now)
    30.0
    >>> parse_retry_after("soon", now) is None
    True
    """
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _timestamp(value) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for the ``/changes`` endpoints."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _yes_no(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    text = str(value).strip().upper()
    if text in ("Y", "YES", "TRUE"):
        return "Y"
    if text in ("N", "NO", "FALSE"):
        return "N"
    raise ValueError(f"care_home must be Y or N, not {value!r}")


def _api_filters(filters: dict) -> dict:
    out = {}
    for name, value in filters.items():
        if value is None:
            continue
        key = _camel(name)
        out[key] = _yes_no(value) if key == "careHome" else value
    return out


class CQCApiClient:
    """A polite client for the CQC Syndication API.

    Parameters
    ----------
    base_url : str
        The API root.
    key : str, optional
        The subscription key. Leave it unset: it is read from ``$CQC_API_KEY`` so that it never
        appears in a notebook, a script or papermill parameters.
    per_page : int
        Items per page for list endpoints (the API allows up to 1000).
    rate : float
        Most requests per second (default 8; CQC throttles at 10).
    timeout : float or (float, float)
        Connect and read timeouts in seconds.
    max_retries : int
        Retries of one request after HTTP 429/5xx or a dropped connection.
    backoff : float
        First back-off in seconds when the server gives no ``Retry-After``; doubles on each
        retry (to ``max_backoff``), and a random half of it is jitter.
    max_backoff : float
        Longest back-off without ``Retry-After``.
    max_wait : float
        A ``Retry-After`` longer than this fails at once instead of sleeping.
    jitter : float
        Up to this many random seconds added to a ``Retry-After`` wait.
    partner_code : str, optional
        CQC's ``partnerCode`` parameter, identifying heavy users to CQC.
    session : requests.Session, optional
    sleep, clock, now, random : callables, optional
        Injected in tests: ``sleep(seconds)``, a monotonic ``clock()``, ``now()`` returning an
        aware UTC datetime, and ``random()`` in [0, 1).

    Raises
    ------
    MissingApiKeyError
        No key given and ``$CQC_API_KEY`` unset or empty.

    Examples
    --------
    >>> client = CQCApiClient()                                   # doctest: +SKIP
    >>> first = next(client.iter_locations(local_authority="Oldham", care_home="Y"))  # doctest: +SKIP
    >>> client.get_location(first["locationId"])["currentRatings"]  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        key: str | None = None,
        per_page: int = 1000,
        rate: float = 8.0,
        timeout=(10.0, 60.0),
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_wait: float = 600.0,
        jitter: float = 1.0,
        partner_code: str | None = None,
        session=None,
        sleep=time.sleep,
        clock=time.monotonic,
        now=None,
        random=_random.random,
    ):
        key = key if key is not None else os.environ.get(API_KEY_ENV, "")
        key = key.strip()
        if not key:
            raise MissingApiKeyError(
                f"no CQC API key: set the {API_KEY_ENV} environment variable to your subscription "
                f"key (register at {PORTAL}); it is never read from files or parameters")
        if not 1 <= int(per_page) <= 10_000:
            raise ValueError(f"per_page must be between 1 and 10000, not {per_page!r}")
        if not rate > 0:
            raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
        self.__key = key
        self.base_url = base_url.rstrip("/")
        self.per_page = int(per_page)
        self.rate = float(rate)
        self.timeout = timeout
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_wait = float(max_wait)
        self.jitter = float(jitter)
        self.partner_code = partner_code
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._now = now or (lambda: _dt.datetime.now(_dt.UTC))
        self._random = random
        self._next_slot: float | None = None
        self._reached = False
        #: counters: requests sent, retries, seconds slept for rate and back-off
        self.stats = {"requests": 0, "retries": 0, "throttled_s": 0.0, "backoff_s": 0.0}

    def __repr__(self) -> str:
        return (f"CQCApiClient(base_url={self.base_url!r}, key={_REDACTED}, "
                f"per_page={self.per_page}, rate={self.rate:g})")

    def __getstate__(self):
        raise TypeError("a CQCApiClient holds the API key and is never pickled; make a new one "
                        f"from ${API_KEY_ENV} where it is needed")

    # -----------------------------------------------------------------------------------------
    # one request
    def _redact(self, text) -> str:
        return str(text).replace(self.__key, _REDACTED)

    def _headers(self) -> dict:
        return {KEY_HEADER: self.__key, "Accept": "application/json",
                "User-Agent": f"cqc-research/{__version__}"}

    def _get_session(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _throttle(self) -> None:
        interval = 1.0 / self.rate
        now = self._clock()
        if self._next_slot is not None and now < self._next_slot:
            wait = self._next_slot - now
            self.stats["throttled_s"] += wait
            self._sleep(wait)
            now = self._next_slot
        self._next_slot = now + interval

    def _backoff(self, attempt: int, retry_after: float | None, what: str, url: str) -> None:
        if retry_after is not None:
            if retry_after > self.max_wait:
                raise ApiError(f"the CQC API asked us to wait {retry_after:,.0f} s ({what}) before "
                               f"{self._redact(url)}; try again later", url=self._redact(url))
            delay = retry_after + self._random() * self.jitter
        else:
            base = min(self.max_backoff, self.backoff * 2 ** attempt)
            delay = base / 2 + self._random() * base / 2
        log.info("%s from %s; retrying in %.1f s", what, self._redact(url), delay)
        self.stats["retries"] += 1
        self.stats["backoff_s"] += delay
        self._sleep(delay)

    def request(self, path: str, params: dict | None = None) -> dict:
        """GET ``base_url + path`` and return the decoded JSON, retrying 429/5xx.

        Parameters
        ----------
        path : str
            Starting with ``/``, e.g. ``/locations/1-10024040008``.
        params : dict, optional
            Query parameters.

        Returns
        -------
        dict or list
            The response body decoded from JSON.

        Raises
        ------
        ApiNotFoundError
            HTTP 404.
        ApiError
            Any other error, after the retries; or the network is unreachable.
        """
        import requests

        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        url = self.base_url + path
        params = dict(params or {})
        if self.partner_code:
            params.setdefault("partnerCode", self.partner_code)
        session = self._get_session()
        attempt = 0
        while True:
            self._throttle()
            self.stats["requests"] += 1
            log.debug("GET %s %s", url, params)
            try:
                response = session.get(url, params=params, headers=self._headers(),
                                       timeout=self.timeout)
            except requests.exceptions.RequestException as exc:
                text = f"{type(exc).__name__} {exc}"
                offline = not self._reached and any(s in text for s in (
                    "NameResolution", "getaddrinfo", "Connection refused", "ConnectionRefused",
                    "Name or service not known", "ProxyError"))
                if offline or attempt >= self.max_retries:
                    raise ApiError(self._redact(network_error_message(
                        exc, url, fallback="try again when the API can be reached"))) from None
                self._backoff(attempt, None, type(exc).__name__, url)
                attempt += 1
                continue
            self._reached = True
            status = response.status_code
            if status in _RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._now())
                response.close()
                if attempt >= self.max_retries:
                    raise ApiError(
                        f"the CQC API answered HTTP {status} to {self._redact(response.url)} "
                        f"{attempt + 1} times; it may be overloaded or down: try again later",
                        status=status, url=self._redact(response.url))
                self._backoff(attempt, retry_after, f"HTTP {status}", response.url)
                attempt += 1
                continue
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    kind = response.headers.get("Content-Type", "unknown type")
                    raise ApiError(f"{self._redact(response.url)} did not return JSON ({kind}); a "
                                   "proxy or login page in the way?", status=status,
                                   url=self._redact(response.url)) from None
            snippet = self._redact(" ".join(response.text[:200].split()))
            where = self._redact(response.url)
            if status == 404:
                raise ApiNotFoundError(f"{where}: not found (HTTP 404)", status=status, url=where)
            if status in (401, 403):
                raise ApiError(f"the CQC API refused the key (HTTP {status}) for {where}: check "
                               f"{API_KEY_ENV} (your subscription at {PORTAL})",
                               status=status, url=where)
            raise ApiError(f"the CQC API answered HTTP {status} to {where}: {snippet}",
                           status=status, url=where)

    # -----------------------------------------------------------------------------------------
    # endpoints
    def iter_pages(self, path: str, params: dict | None = None):
        """Yield each page (a dict) of a paged list endpoint, from page 1.

        Stops after the last page (``totalPages``, or when ``nextPageUri`` is absent).

        Parameters
        ----------
        path : str
            The endpoint, e.g. ``/locations``.
        params : dict, optional
            Query parameters; ``page`` and ``perPage`` are set here.

        Yields
        ------
        dict
            One page of the API's JSON: the items under the endpoint's key (``locations``,
            ``providers``, ``changes``) plus ``page``, ``totalPages`` and the other envelope fields.
        """
        params = dict(params or {})
        page = 1
        while True:
            data = self.request(path, {**params, "page": page, "perPage": self.per_page})
            if not isinstance(data, dict):
                raise ApiError(f"{self.base_url}{path} page {page}: expected a JSON object")
            yield data
            total_pages = data.get("totalPages")
            if total_pages is not None:
                if page >= int(total_pages):
                    return
            elif not data.get("nextPageUri"):
                return
            if page >= 100_000:  # pragma: no cover - a server that never stops
                raise ApiError(f"{self.base_url}{path}: more than 100,000 pages; giving up")
            page += 1

    def list_all(self, path: str, item_key: str, params: dict | None = None) -> tuple[dict, list]:
        """Every item of a paged list, and the first page's envelope (without the items).

        Parameters
        ----------
        path : str
            The endpoint, e.g. ``/locations``.
        item_key : str
            The key holding each page's items, e.g. ``"locations"``.
        params : dict, optional
            Query parameters (filters).

        Returns
        -------
        envelope : dict
            The first page without its items (``total``, ``totalPages``, ...); empty when there were
            no pages.
        items : list
            The items of every page, in order.
        """
        envelope: dict | None = None
        items: list = []
        for data in self.iter_pages(path, params):
            if envelope is None:
                envelope = {k: v for k, v in data.items() if k != item_key}
            page_items = data.get(item_key)
            if page_items is None:
                raise ApiError(f"{self.base_url}{path}: a page lacks {item_key!r}; "
                               f"keys are {sorted(data)}")
            items.extend(page_items)
        return envelope or {}, items

    def iter_locations(self, **filters):
        """Yield location summaries (``locationId``, ``locationName``, ``postalCode``).

        Parameters
        ----------
        **filters
            API filters, in snake_case or the API's camelCase, e.g.
            ``local_authority="Oldham"``, ``care_home="Y"`` (or True), ``region="London"``,
            ``inspection_directorate="Adult social care"``.

        Yields
        ------
        dict
            One location summary as the API lists it.
        """
        for data in self.iter_pages("/locations", _api_filters(filters)):
            yield from data.get("locations", [])

    def iter_providers(self, **filters):
        """Yield provider summaries (``providerId``, ``providerName``).

        Parameters
        ----------
        **filters
            API filters, as for :meth:`iter_locations`.

        Yields
        ------
        dict
            One provider summary as the API lists it.
        """
        for data in self.iter_pages("/providers", _api_filters(filters)):
            yield from data.get("providers", [])

    def get_location(self, location_id: str) -> dict:
        """The ``/locations/{id}`` record.

        Parameters
        ----------
        location_id : str
            A CQC location ID, e.g. ``"1-10024040008"``.

        Returns
        -------
        dict
            The full location record (``currentRatings``, ``historicRatings``, ``relationships``,
            ``regulatedActivities``, ...), as
            :func:`cqc_research.io.cqc_json.load_api_folder` reads it.

        Raises
        ------
        ApiNotFoundError
            No such location.
        """
        return self.request(f"/locations/{_check_id(location_id)}")

    def get_provider(self, provider_id: str) -> dict:
        """The ``/providers/{id}`` record.

        Parameters
        ----------
        provider_id : str
            A CQC provider ID, e.g. ``"1-101641521"``.

        Returns
        -------
        dict
            The full provider record (``currentRatings``, ``locationIds``, ...).

        Raises
        ------
        ApiNotFoundError
            No such provider.
        """
        return self.request(f"/providers/{_check_id(provider_id)}")

    def changes(self, kind: str, start, end=None) -> list[str]:
        """IDs of the locations or providers changed between ``start`` and ``end``.

        Parameters
        ----------
        kind : {"location", "provider"}
        start, end : datetime, date or ISO 8601 str
            UTC when naive; ``end`` defaults to now.

        Returns
        -------
        list of str
            Each ID once, in the API's order.
        """
        if kind not in ("location", "provider"):
            raise ValueError(f"kind must be 'location' or 'provider', not {kind!r}")
        params = {"startTimestamp": _timestamp(start),
                  "endTimestamp": _timestamp(end if end is not None else self._now())}
        ids: dict[str, None] = {}
        for data in self.iter_pages(f"/changes/{kind}", params):
            for item in data.get("changes", []):
                ident = item if isinstance(item, str) else (item or {}).get(f"{kind}Id")
                if ident:
                    ids[str(ident)] = None
        return list(ids)

    # -----------------------------------------------------------------------------------------
    # sync
    def sync(
        self,
        folder: str | os.PathLike,
        *,
        local_authority: str | None = None,
        care_home=None,
        incremental: bool = True,
        providers: str = "both",
        progress: bool = False,
    ) -> SyncResult:
        """Write (or bring up to date) a folder of API records that the loaders read directly.

        Parameters
        ----------
        folder : path
            The sync folder; created if absent.
        local_authority : str, optional
            Only locations in this local authority (the API's ``localAuthority``).
        care_home : {"Y", "N", True, False}, optional
            Only care homes (or only other locations).
        incremental : bool
            ``True``: fetch only what changed since the last completed sync (a first sync is
            always full), and resume an unfinished run. ``False``: list and fetch everything
            again.
        providers : {"both", "listed", "referenced"}
            Which providers to fetch: those the ``/providers`` listing returns for the local
            authority, those the synced locations belong to, or both.
        progress : bool
            Show progress bars (tqdm) on standard error.

        Returns
        -------
        SyncResult

        Raises
        ------
        ValueError
            The folder was synced with other filters (use another folder).
        ApiError
            The API failed; the run can be resumed by calling again.
        """
        return _Sync(self, Path(folder), local_authority=local_authority, care_home=care_home,
                     incremental=incremental, providers=providers, progress=progress).run()


def _check_id(ident) -> str:
    ident = str(ident).strip()
    if not _ID.match(ident):
        raise ValueError(f"{ident!r} is not a CQC location or provider ID (letters, digits "
                         "and '-', e.g. 1-10024040008 or RM3)")
    return ident


# ---------------------------------------------------------------------------------------------
# the sync
@dataclass
class SyncResult:
    """What one :meth:`CQCApiClient.sync` call did.

    The counts cover the whole run (its window), including records a resumed run had completed
    before it was interrupted; ``requests`` counts this call's requests only.

    Attributes
    ----------
    folder : pathlib.Path
        The sync folder.
    mode : {"full", "incremental"}
        A full listing, or the changes since the last completed sync.
    resumed : bool
        Whether an interrupted run was continued.
    start : str or None
        Start of the change window (ISO 8601 UTC); ``None`` for a full sync.
    end : str
        End of the window: the time the run started (ISO 8601 UTC).
    locations_written, providers_written : int
        Records fetched and written.
    locations_skipped, providers_skipped : int
        Changed records outside the folder's filters, not written.
    locations_missing, providers_missing : int
        Records the API no longer has (HTTP 404).
    requests : int
        Requests sent by this call.
    location_files, provider_files : int
        Records held in the folder afterwards.
    notes : list of str
        Anything worth telling the user.
    """

    folder: Path
    mode: str
    resumed: bool
    start: str | None
    end: str
    locations_written: int = 0
    locations_skipped: int = 0
    locations_missing: int = 0
    providers_written: int = 0
    providers_skipped: int = 0
    providers_missing: int = 0
    requests: int = 0
    location_files: int = 0
    provider_files: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        window = f"changes {self.start} to {self.end}" if self.mode == "incremental" else \
            f"full listing at {self.end}"
        parts = [f"{self.mode} sync{' (resumed)' if self.resumed else ''} of {self.folder}: "
                 f"{window}; wrote {self.locations_written:,} location and "
                 f"{self.providers_written:,} provider records"]
        if self.locations_skipped or self.providers_skipped:
            parts.append(f"{self.locations_skipped + self.providers_skipped:,} changed records "
                         "outside the filters skipped")
        if self.locations_missing or self.providers_missing:
            parts.append(f"{self.locations_missing + self.providers_missing:,} not found (404)")
        parts.append(f"folder holds {self.location_files:,} locations and "
                     f"{self.provider_files:,} providers; {self.requests:,} requests")
        return "; ".join(parts)


def _dump(record) -> str:
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def _read(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class _Sync:
    def __init__(self, client: CQCApiClient, folder: Path, *, local_authority, care_home,
                 incremental: bool, providers: str, progress: bool):
        if providers not in ("both", "listed", "referenced"):
            raise ValueError(f"providers must be 'both', 'listed' or 'referenced', not {providers!r}")
        self.client = client
        self.folder = folder
        self.filters = _api_filters({"local_authority": local_authority, "care_home": care_home})
        self.incremental = incremental
        self.providers = providers
        self.progress = progress
        self.state_path = folder / STATE_NAME
        self.journal_path = folder / JOURNAL_NAME
        self.requests_before = client.stats["requests"]

    # state and journal ------------------------------------------------------------------------
    def _load_state(self) -> dict | None:
        if not self.state_path.is_file():
            return None
        try:
            state = _read(self.state_path)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CQCResearchError(f"{self.state_path}: unreadable sync state ({exc}); delete it "
                                   "and run with --full") from None
        if not isinstance(state, dict) or state.get("format") != 1:
            raise CQCResearchError(f"{self.state_path}: not a cqc-research sync state (format 1); "
                                   "delete it and run with --full")
        return state

    def _save_state(self, state: dict) -> None:
        atomic_write_text(self.state_path, json.dumps(state, indent=1, sort_keys=True) + "\n")

    def _journal(self) -> dict[tuple[str, str], dict]:
        done: dict[tuple[str, str], dict] = {}
        if not self.journal_path.is_file():
            return done
        with open(self.journal_path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash: that record is simply done again
                if isinstance(entry, dict) and "kind" in entry and "id" in entry:
                    done[(entry["kind"], entry["id"])] = entry
        return done

    def _record(self, journal, entry: dict) -> None:
        journal.write(json.dumps(entry) + "\n")
        journal.flush()

    # helpers ----------------------------------------------------------------------------------
    def _matches(self, record: dict, kind: str) -> bool:
        la = self.filters.get("localAuthority")
        if la is not None and str(record.get("localAuthority", "")).casefold() != la.casefold():
            return False
        if kind == "location" and "careHome" in self.filters:
            return str(record.get("careHome", "")).upper() == self.filters["careHome"]
        return True

    def _write(self, kind: str, ident: str, record: dict) -> None:
        if not isinstance(record, dict) or str(record.get(f"{kind}Id", ident)) != ident:
            raise ApiError(f"/{kind}s/{ident} returned a record for "
                           f"{record.get(f'{kind}Id') if isinstance(record, dict) else record!r}")
        atomic_write_text(self.folder / f"{kind}s" / f"{ident}.json", _dump(record))

    def _bar(self, total: int, initial: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit="record", file=sys.stderr,
                    disable=not self.progress)

    def _accept(self, kind: str, ident: str, record: dict, run: dict, held: bool) -> bool:
        """Whether a fetched record belongs in the folder."""
        if run["mode"] == "full" or held:
            return True
        if kind == "location":
            return self._matches(record, kind)
        if ident in run.get("referenced_providers", ()):
            return True
        return self.providers in ("both", "listed") and self._matches(record, kind)

    def _process(self, kind: str, targets: list[str], done: dict, journal, run: dict,
                 counts: dict) -> None:
        todo = [i for i in targets if (kind, i) not in done]
        with self._bar(len(targets), len(targets) - len(todo), f"{kind}s") as bar:
            for ident in todo:
                path = self.folder / f"{kind}s" / f"{ident}.json"
                entry = {"kind": kind, "id": ident}
                try:
                    record = getattr(self.client, f"get_{kind}")(ident)
                except ApiNotFoundError:
                    entry["status"] = "missing"
                else:
                    if self._accept(kind, ident, record, run, path.exists()):
                        entry["new"] = not path.exists()
                        self._write(kind, ident, record)
                        entry["status"] = "written"
                        if kind == "location" and record.get("providerId"):
                            entry["providerId"] = str(record["providerId"])
                    else:
                        entry["status"] = "skipped"
                self._record(journal, entry)
                done[(kind, ident)] = entry
                bar.update(1)
        for ident in targets:
            counts[f"{kind}s_{done[(kind, ident)]['status']}"] += 1

    def _listing(self, name: str, item_key: str, envelope: dict, items: list) -> None:
        page = dict(envelope)
        page[item_key] = items
        page["nextPageUri"] = None
        atomic_write_text(self.folder / name, _dump(page))

    def _update_listing(self, name: str, item_key: str, id_key: str, new: list[dict]) -> None:
        path = self.folder / name
        page = _read(path) if path.is_file() else {"page": 1, "nextPageUri": None,
                                                     "previousPageUri": None, item_key: []}
        items = page.get(item_key) or []
        index = {str(item.get(id_key)): n for n, item in enumerate(items)}
        for item in new:
            n = index.get(item[id_key])
            if n is None:
                index[item[id_key]] = len(items)
                items.append(item)
            else:
                items[n] = {**items[n], **item}
        page[item_key] = items
        page["total"] = len(items)
        atomic_write_text(path, _dump(page))

    # the run ----------------------------------------------------------------------------------
    def run(self) -> SyncResult:
        client, folder = self.client, self.folder
        state = self._load_state()
        if state is not None and state.get("filters", {}) != self.filters:
            raise ValueError(f"{folder} holds a sync with filters {state.get('filters')}, not "
                             f"{self.filters}; sync into another folder (--dest)")
        state = state or {"format": 1, "filters": self.filters, "endTimestamp": None, "runs": [],
                          "in_progress": None}
        state["base_url"] = client.base_url
        state["providers"] = self.providers
        run = state.get("in_progress")
        resumed = bool(run) and (self.incremental or run.get("mode") == "full")
        notes: list[str] = []
        if not resumed:
            self.journal_path.unlink(missing_ok=True)
            run = self._start(state)  # the network is first used here; nothing written before
            state["in_progress"] = run
            self._save_state(state)
        else:
            notes.append(f"resumed the {run['mode']} run started {run['started_at']}")
        (folder / "locations").mkdir(parents=True, exist_ok=True)
        (folder / "providers").mkdir(exist_ok=True)
        done = self._journal()
        counts = {f"{k}s_{s}": 0 for k in ("location", "provider")
                  for s in ("written", "skipped", "missing")}
        with open(self.journal_path, "a", encoding="utf-8") as journal:
            self._process("location", run["locations"], done, journal, run, counts)
            targets = self._provider_targets(run, done)
            run["referenced_providers"] = targets["referenced"]
            self._process("provider", targets["all"], done, journal, run, counts)
        if run["mode"] == "incremental":
            self._refresh_listings(run, done)
        finished = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        summary = {"mode": run["mode"], "startTimestamp": run["startTimestamp"],
                   "endTimestamp": run["endTimestamp"], "started_at": run["started_at"],
                   "finished_at": finished, "resumed": resumed, **counts}
        state["runs"] = (state.get("runs") or [])[-49:] + [summary]
        state["endTimestamp"] = run["endTimestamp"]
        state["in_progress"] = None
        self._save_state(state)
        self.journal_path.unlink(missing_ok=True)
        return SyncResult(
            folder=folder, mode=run["mode"], resumed=resumed, start=run["startTimestamp"],
            end=run["endTimestamp"], requests=client.stats["requests"] - self.requests_before,
            location_files=sum(1 for _ in (folder / "locations").glob("*.json")),
            provider_files=sum(1 for _ in (folder / "providers").glob("*.json")),
            notes=notes, **counts)

    def _start(self, state: dict) -> dict:
        client = self.client
        end = _timestamp(client._now())
        started = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        if self.incremental and state.get("endTimestamp"):
            start = state["endTimestamp"]
            return {"mode": "incremental", "startTimestamp": start, "endTimestamp": end,
                    "started_at": started,
                    "locations": client.changes("location", start, end),
                    "provider_changes": client.changes("provider", start, end)}
        envelope, items = client.list_all("/locations", "locations", self.filters)
        self._listing("list_locations.json", "locations", envelope, items)
        listed_providers: list[str] = []
        if self.providers in ("both", "listed"):
            pfilters = {k: v for k, v in self.filters.items() if k == "localAuthority"}
            penvelope, pitems = client.list_all("/providers", "providers", pfilters)
            self._listing("list_providers.json", "providers", penvelope, pitems)
            listed_providers = [str(p["providerId"]) for p in pitems if p.get("providerId")]
        ids = list(dict.fromkeys(str(i["locationId"]) for i in items if i.get("locationId")))
        return {"mode": "full", "startTimestamp": None, "endTimestamp": end,
                "started_at": started, "locations": ids, "listed_providers": listed_providers}

    def _provider_targets(self, run: dict, done: dict) -> dict:
        referenced: list[str] = []
        if self.providers in ("both", "referenced"):
            for ident in run["locations"]:
                entry = done.get(("location", ident), {})
                pid = entry.get("providerId")
                if entry.get("status") == "written" and pid:
                    if run["mode"] == "full" or not (self.folder / "providers" / f"{pid}.json").exists() \
                            or ("provider", pid) in done:
                        referenced.append(pid)
        if run["mode"] == "full":
            listed = run.get("listed_providers", [])
        else:
            listed = run.get("provider_changes", [])
        ordered = list(dict.fromkeys(listed + referenced))
        return {"all": ordered, "referenced": list(dict.fromkeys(referenced))}

    def _refresh_listings(self, run: dict, done: dict) -> None:
        new_locations = []
        for ident in run["locations"]:
            if done.get(("location", ident), {}).get("status") == "written":
                rec = _read(self.folder / "locations" / f"{ident}.json")
                new_locations.append({"locationId": ident, "locationName": rec.get("name"),
                                      "postalCode": rec.get("postalCode")})
        if new_locations:
            self._update_listing("list_locations.json", "locations", "locationId", new_locations)
        if self.providers in ("both", "listed"):
            new_providers = []
            for ident in run.get("provider_changes", []):
                entry = done.get(("provider", ident), {})
                if entry.get("status") != "written":
                    continue
                rec = _read(self.folder / "providers" / f"{ident}.json")
                if self._matches(rec, "provider"):
                    new_providers.append({"providerId": ident, "providerName": rec.get("name")})
            if new_providers:
                self._update_listing("list_providers.json", "providers", "providerId",
                                     new_providers)


# ---------------------------------------------------------------------------------------------
# command line
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "all"


def default_sync_folder(local_authority: str | None = None, care_home=None) -> Path:
    """``data/raw/cqc_api/<local authority or england>[-care-homes|-not-care-homes]``.

    Parameters
    ----------
    local_authority : str, optional
        The local-authority filter of the sync (slugged into the folder name).
    care_home : {"Y", "N", True, False}, optional
        The care-home filter, if any.

    Returns
    -------
    pathlib.Path
        The folder under :func:`cqc_research.paths.raw_dir`.
    """
    name = _slug(local_authority) if local_authority else "england"
    flag = _yes_no(care_home)
    if flag is not None:
        name += "-care-homes" if flag == "Y" else "-not-care-homes"
    return paths.raw_dir() / "cqc_api" / name
