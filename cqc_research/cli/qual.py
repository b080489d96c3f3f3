"""Mixed methods: a qualitative coding frame for CQC's impact, joined to rating histories.

``cqc-research qual FILE`` reads coded interview segments (:func:`cqc_research.qual.read_coded_segments`),
reports the codes that are not in the codebook, and exports the tidy table or a ``.qdpx`` project.
"""

from __future__ import annotations

import warnings

from ..cache import atomic_path
from ..qual import case_table, load_codebook, read_coded_segments, unknown_codes, write_qdpx


def configure_parser(parser) -> None:
    """Add the ``cqc-research qual`` options: the file, ``--codebook``, ``--out``, ``--qdpx``."""
    parser.add_argument("file", help="coded segments: a REFI-QDA .qdpx project or a .csv")
    parser.add_argument("--codebook", action="append", metavar="YAML", default=[],
                        help="extra codebook YAML merged onto the shipped one (repeatable)")
    parser.add_argument("--out", metavar="CSV", help="write the tidy segments table here")
    parser.add_argument("--qdpx", metavar="QDPX", help="also export the segments as a .qdpx project")


def run_command(args) -> int:
    """Run ``cqc-research qual``: read, report unknown codes, export; returns the exit status."""
    cb = load_codebook(extend=args.codebook)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        seg = read_coded_segments(args.file, codebook=cb)
    cases = case_table(seg)
    print(f"{args.file}: {len(seg):,} codings of {seg['segment_id'].nunique():,} excerpts, "
          f"{seg['respondent_id'].nunique():,} interviews, {len(cases):,} cases "
          f"({cases['location_id'].notna().sum():,} with a CQC location ID); codebook {cb.name!r}")
    unk = unknown_codes(seg, codebook=cb)
    if len(unk):
        print(f"{len(unk)} code(s) not in the codebook (kept, reported):")
        print(unk.to_string(index=False))
    else:
        print("every code is in the codebook")
    if args.out:
        with atomic_path(args.out) as tmp:
            seg.to_csv(tmp, index=False)
        print(f"wrote {args.out}")
    if args.qdpx:
        write_qdpx(seg, args.qdpx, codebook=cb)
        print(f"wrote {args.qdpx}")
    return 0
