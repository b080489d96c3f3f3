"""Download published CQC and NHS files, and sync CQC API records (the only network code).

:func:`fetch` downloads a published file into ``data/raw/<source>/``, checksummed and recorded
(:mod:`cqc_research.fetch.published`); :class:`CQCApiClient` syncs CQC API records to a folder
(:mod:`cqc_research.fetch.cqc_api`). Nothing touches the network at import time.
"""

from .cqc_api import ApiError, CQCApiClient
from .published import (  # noqa: F401 (the rest are re-exported for the package's tests and tools)
    DEFAULT_TIMEOUT,
    SOURCES,
    FetchError,
    FetchResult,
    NetworkError,
    fetch,
    fetch_fingertips,
    find_links,
    network_error_message,
    publication_date,
    read_manifest,
    sniff_kind,
    verify_manifest,
)

__all__ = ["fetch", "SOURCES", "FetchResult", "FetchError", "CQCApiClient", "ApiError"]
