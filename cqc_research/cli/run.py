"""Run notebooks through papermill into one folder per run: ``cqc-research run``.

The options map onto :func:`cqc_research.runner.run_notebooks`.
"""

from __future__ import annotations

import sys

from ..runner.notebooks import ParameterError
from ..runner.run import run_notebooks


def add_parameter_option(parser) -> None:
    """The ``-p NAME VALUE`` option shared by ``run`` and ``batch``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; ``args.parameter`` becomes a list of ``[NAME, VALUE]`` pairs.
    """
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        default=[], help="set a notebook parameter (repeatable); values are parsed "
                        "like papermill's: ints, floats, true/false, [lists]")


def configure_parser(parser) -> None:
    """Add the ``cqc-research run`` options (notebooks, ``-p``, workers, output folder, kernel)."""
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="notebooks to run (default: every notebooks/*.ipynb, sorted)")
    add_parameter_option(parser)
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="notebooks to run at once, each on its own kernel (default 1)")
    parser.add_argument("--output-root", metavar="DIR", default=None,
                        help="where run folders go (default: outputs/, or $CQC_RESEARCH_OUTPUTS)")
    parser.add_argument("--run-id", metavar="ID", default=None,
                        help="name of the run folder (default: date-time plus a short token)")
    parser.add_argument("--kernel", default="python3", metavar="NAME",
                        help="Jupyter kernel spec (default python3)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="time allowed per cell (default: no limit)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="a new kernel for every notebook (default: one warm kernel per worker, "
                             "reset between notebooks)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args) -> int:
    """Run ``cqc-research run`` and return the exit status (0 when every notebook ran)."""
    if args.workers < 1:
        raise ParameterError("--workers must be at least 1")
    params = dict(args.parameter or [])
    result = run_notebooks(args.notebooks or None, parameters=params, output_root=args.output_root,
                           run_id=args.run_id, workers=args.workers, kernel_name=args.kernel,
                           progress=not args.quiet, timeout=args.timeout,
                           fresh_kernels=args.fresh_kernels)
    n = len(result.notebooks)
    failed = result.failed
    msg = f"{n - len(failed)} of {n} notebooks succeeded"
    if failed:
        msg += "; failed: " + ", ".join(f"{r.name} ({r.error})" for r in failed)
    print(msg, file=sys.stderr)
    print(result.index_path)
    return 1 if failed else 0
