"""CQC Syndication API client, and ``cqc-research sync-api`` (network; explicit commands only).

``cqc-research sync-api`` syncs location and provider records into a folder
(:meth:`cqc_research.fetch.cqc_api.CQCApiClient.sync`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..fetch.cqc_api import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    JOURNAL_NAME,
    ApiError,
    CQCApiClient,
    default_sync_folder,
)


def configure_parser(parser) -> None:
    """Arguments of ``cqc-research sync-api``."""
    parser.description = (
        "Download CQC API location and provider records into a folder the loaders read "
        f"(one JSON file per organisation). Needs ${API_KEY_ENV}. The first run fetches "
        "everything matching the filters; later runs fetch only what changed since, and an "
        "interrupted run resumes. Uses the network.")
    parser.add_argument("--local-authority", metavar="NAME",
                        help="only this local authority, as CQC spells it (e.g. Oldham)")
    parser.add_argument("--care-home", choices=["Y", "N", "y", "n"],
                        help="only care homes (Y) or only other locations (N)")
    parser.add_argument("--dest", type=Path,
                        help="the folder (default data/raw/cqc_api/<local-authority>)")
    parser.add_argument("--full", action="store_true",
                        help="list and fetch everything again instead of only the changes")
    parser.add_argument("--providers", choices=["both", "listed", "referenced"], default="both",
                        help="providers listed for the local authority, those of the synced "
                             "locations, or both (default)")
    parser.add_argument("--rate", type=float, default=8.0,
                        help="most requests per second (default %(default)s; CQC allows 10)")
    parser.add_argument("--base-url", default=os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL),
                        help=f"the API root (default ${BASE_URL_ENV} or {DEFAULT_BASE_URL})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_command(args) -> int:
    """Run ``cqc-research sync-api``; returns the exit status."""
    client = CQCApiClient(args.base_url, rate=args.rate)
    folder = args.dest or default_sync_folder(args.local_authority, args.care_home)
    try:
        result = client.sync(folder, local_authority=args.local_authority,
                             care_home=args.care_home, incremental=not args.full,
                             providers=args.providers,
                             progress=not args.quiet and sys.stderr.isatty())
    except KeyboardInterrupt:
        print(f"cqc-research sync-api: interrupted; run the same command again to resume "
              f"({folder})", file=sys.stderr)
        return 130
    except ApiError as exc:
        if (folder / JOURNAL_NAME).is_file():
            raise ApiError(f"{exc} (the sync of {folder} stopped part-way: run the same command "
                           "again to resume it)") from None
        raise
    print(result)
    for note in result.notes:
        print(f"  {note}")
    return 0
