"""One report per provider, location or local authority: ``cqc-research batch``.

The options map onto :func:`cqc_research.runner.run_batch`.
"""

from __future__ import annotations

import sys

from ..runner.batch import FOR_EACH, run_batch
from .run import add_parameter_option


def configure_parser(parser) -> None:
    """Add the ``cqc-research batch`` options (notebook, ``--for-each``, selection, workers)."""
    parser.add_argument("notebook", metavar="NOTEBOOK", help="the notebook to run per entity")
    parser.add_argument("--for-each", required=True, choices=list(FOR_EACH),
                        help="one report per provider, location or local authority")
    parser.add_argument("--where", metavar="EXPR", default=None,
                        help="pandas query over the entity table, e.g. \"sector == 'NHS hospitals'\"")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N entities")
    add_parameter_option(parser)
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="worker processes, each with a warm kernel (default 1)")
    parser.add_argument("--executor", choices=["local", "dask"], default="local",
                        help="local worker processes, or a Dask distributed cluster")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    parser.add_argument("--output-root", metavar="DIR", default=None,
                        help="where run folders go (default: outputs/, or $CQC_RESEARCH_OUTPUTS)")
    parser.add_argument("--run-id", metavar="ID", default=None,
                        help="run folder name (default: derived from the command, so re-running resumes)")
    parser.add_argument("--force", action="store_true", help="re-run entities that are complete")
    parser.add_argument("--dry-run", action="store_true", help="list what would run, run nothing")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="time allowed per cell")
    parser.add_argument("--recycle", type=int, default=200, metavar="N",
                        help="restart a worker's kernel after N reports (default 200)")
    parser.add_argument("--kernel", default="python3", metavar="NAME", help="Jupyter kernel spec")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.epilog = ("Exit status: the number of failed entities (capped at 125), 0 when all "
                     "succeeded; 2 for a usage error.")


def run_command(args) -> int:
    """Run ``cqc-research batch`` and return the exit status (failed entities, at most 125)."""
    result = run_batch(args.notebook, args.for_each, where=args.where, limit=args.limit,
                       parameters=dict(args.parameter or []), workers=args.workers,
                       output_root=args.output_root, run_id=args.run_id, executor=args.executor,
                       scheduler=args.scheduler, kernel_name=args.kernel, timeout=args.timeout,
                       recycle=args.recycle, force=args.force, progress=not args.quiet,
                       dry_run=args.dry_run)
    if args.dry_run:
        would = [e for e in result.entities if e["status"] == "would run"]
        print(f"{len(result.entities)} entities; {len(would)} would run, "
              f"{len(result.entities) - len(would)} are complete; run folder {result.run_dir}")
        for e in result.entities:
            print(f"{e['status']:>9}  {e['slug']}  {e['key']}  {e['name']}")
        return 0
    print(f"{len(result.ran)} reports made ({len(result.failed)} failed), {len(result.skipped)} "
          f"unchanged, in {result.seconds:.0f} s", file=sys.stderr)
    print(result.index_path)
    return result.exit_status
