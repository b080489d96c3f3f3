"""Download published CQC and NHS files into ``data/raw/<source>/``, checksummed and recorded.

``cqc-research fetch SOURCE`` (:func:`cqc_research.fetch.published.fetch`); a download of a kind the study
folder declares is recorded in its ``cqc-research.toml``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from .. import paths
from ..fetch.published import (
    DEFAULT_TIMEOUT,
    SOURCES,
    FetchError,
    FetchResult,
    fetch,
    fetch_fingertips,
)
from ..study import DATA_KEYS, INDICATOR_KEYS, declare_data


def configure_parser(parser) -> None:
    """Arguments of ``cqc-research fetch``."""
    parser.description = (
        "Download a published CQC or NHS file into data/raw/<source>/, verified and recorded "
        "in data/raw/MANIFEST (JSON Lines). CQC links are found on the CQC 'Using CQC data' "
        "page; NHS files need --url or --page. Uses the network.")
    parser.add_argument("source", choices=list(SOURCES),
                        help="which file: " + "; ".join(f"{s.name} = {s.title}"
                                                        for s in SOURCES.values()))
    parser.add_argument("--url", help="the file's direct link (skips discovery)")
    parser.add_argument("--page", help="a page to search for the link instead of the default")
    parser.add_argument("--dest", type=Path,
                        help="the raw data folder (default data/raw, or $CQC_RESEARCH_DATA/raw)")
    parser.add_argument("--force", action="store_true",
                        help="download even if held, and replace a changed file of the same name")
    parser.add_argument("--sha256", help="reject the download unless it has this SHA-256")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT[1],
                        help="seconds to wait for the server (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--indicator", help="fingertips: indicator ID(s), e.g. 848 or 848,90453 "
                        "(through the optional fingertips_py package)")
    parser.add_argument("--area-type", type=int, help="fingertips: area type ID, e.g. 7 = GP "
                        "practices, 502 = upper-tier local authorities")
    parser.add_argument("--parent-area-type", type=int, default=15,
                        help="fingertips: comparator area type (default 15, England)")


def run_command(args) -> int:
    """Run ``cqc-research fetch``; returns the exit status."""
    result = _fingertips_from_args(args) or fetch(
        args.source, url=args.url, page_url=args.page, dest=args.dest,
        force=args.force, sha256=args.sha256,
        progress=not args.quiet and sys.stderr.isatty(),
        timeout=(min(DEFAULT_TIMEOUT[0], args.timeout), args.timeout))
    declared = _declare(result)
    if args.json:
        record = asdict(result)
        record["path"] = str(result.path)
        record["published"] = result.published.isoformat() if result.published else None
        print(json.dumps(record))
    else:
        print(result)
        if declared:
            print(f"recorded in {paths.MARKER}: [data] {declared}")
    return 0


def _fingertips_from_args(args) -> FetchResult | None:
    """``fetch fingertips --indicator ID --area-type N``: through fingertips_py; else None."""
    if args.source != "fingertips" or args.url or args.page:
        return None
    if getattr(args, "indicator", None) is None:
        raise FetchError("fetch fingertips needs --indicator ID --area-type N (through the "
                         "optional fingertips_py package), or the CSV's --url")
    return fetch_fingertips(args.indicator, area_type=args.area_type,
                            parent_area_type=args.parent_area_type, dest=args.dest, force=args.force)


def _declare(result: FetchResult) -> str | None:
    """Record the download's folder in the study's ``cqc-research.toml``; the key, or None."""
    name = result.source.replace("-", "_")
    if name in DATA_KEYS:  # one file read at a time: the newest download is the last listed
        key, target = name, Path(result.path)
    elif name in INDICATOR_KEYS:  # a series: the folder holds every month or year fetched
        key, target = f"indicators.{name}", Path(result.path).parent
    else:
        return None
    return key if declare_data(key, target) else None
