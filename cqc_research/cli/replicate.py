"""Replicate the published record: every quantitative claim about CQC ratings, with our estimate.

``cqc-research replicate --out DIR`` (:func:`cqc_research.studies.replications.replicate`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import CQCResearchError
from ..studies.replications import (
    load_claims,
    replicate,
    study_from_paths,
    summary_lines,
    write_outputs,
)


def configure_parser(parser) -> None:
    """Arguments of ``cqc-research replicate``."""
    parser.add_argument("--ratings-path", default="", metavar="FILE",
                        help="CQC Latest ratings workbook (ODS/XLSX/CSV); its Providers sheet gives trust ratings")
    parser.add_argument("--api-path", default="", metavar="DIR",
                        help="folder of CQC API records (rating histories, inspection dates; current "
                             "ratings when --ratings-path is not given)")
    parser.add_argument("--indicators-path", action="append", default=[], metavar="PATH",
                        help="indicator file or folder, repeatable (GP payments CSVs, monthly A&E CSVs, ...)")
    parser.add_argument("--data-date", default="", metavar="YYYY-MM-DD",
                        help="when the data were extracted (age of ratings); default the newest publication")
    parser.add_argument("--claims", default="", metavar="IDS", help="comma-separated claim ids (default: all)")
    parser.add_argument("--registry", default="", metavar="YAML", help="another registry file (default: the shipped one)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for replications.csv and replications.html")
    parser.epilog = ("With no data option, the embedded synthetic data are used and every output is "
                     "marked SYNTHETIC DATA.")


def run_command(args) -> int:
    """Run ``cqc-research replicate``; returns the exit status."""
    if args.data_date:
        try:
            pd.Timestamp(args.data_date)
        except ValueError as exc:
            raise CQCResearchError(f"--data-date {args.data_date!r} is not a date (YYYY-MM-DD)") from exc
    data = study_from_paths(ratings_path=args.ratings_path or None, api_path=args.api_path or None,
                            indicators_path=args.indicators_path, data_date=args.data_date or None)
    registry = Path(args.registry) if args.registry else None
    if registry is not None and not registry.is_file():
        raise FileNotFoundError(f"--registry {registry}: no such file")
    ids = [i.strip() for i in args.claims.split(",") if i.strip()]
    try:
        table = replicate(data, load_claims(registry), ids=ids or None)
    except CQCResearchError as exc:
        if ids and "unknown claim" in str(exc):
            raise CQCResearchError(f"--claims: {exc}") from exc
        raise
    paths = write_outputs(table, args.out, sources=data.sources)
    if data.is_synthetic:
        print("SYNTHETIC DATA: no data option was given (or the data are synthetic); "
              "these estimates describe no real organisation.")
    for line in summary_lines(table):
        print(line)
    print(f"wrote {paths['csv']}")
    print(f"wrote {paths['html']}")
    return 0
