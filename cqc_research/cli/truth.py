"""The planted-truth check: compare a run's tables with the ``truth.json`` of the synthetic data.

``cqc-research truth RUN_DIR`` (:func:`cqc_research.truth.check_truth`).
"""

from __future__ import annotations

import pandas as pd

from ..truth import EFFECTS, check_truth, truth_summary


def configure_parser(parser) -> None:
    """Add the ``cqc-research truth`` options: ``RUN_DIR``, ``--truth``, ``--effect``, ``--alpha``,
    ``--csv``."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (outputs/<run-id>/) or its tables/")
    parser.add_argument("--truth", metavar="FILE", default=None,
                        help="truth.json to check against (default: the one of the synthetic data the run read)")
    parser.add_argument("--effect", action="append", choices=list(EFFECTS), default=None,
                        help="check only this effect (repeatable; default: every planted effect)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="family-wise error rate of the whole check (default 0.05, Bonferroni)")
    parser.add_argument("--csv", metavar="FILE", default=None, help="also write the rows to a CSV file")


def run_command(args) -> int:
    """Run ``cqc-research truth``: print the rows and summary; exit 1 unless all are recovered."""
    check = check_truth(args.run_dir, args.truth, effects=args.effect, alpha=args.alpha)
    if args.csv:
        check.to_csv(args.csv, index=False)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70, "display.max_rows", 200):
        shown = check[["effect", "quantity", "planted", "estimate", "ci_low", "ci_high", "verdict"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(truth_summary(check))
    return 0 if (check["verdict"] == "recovered").all() and len(check) else 1
