"""Routing of the ``cqc-research`` command to its subcommand modules.

A command module defines ``configure_parser(parser)`` and ``run_command(args) -> int``; this
module only routes to it and turns expected errors into one line on standard error, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import CQCResearchError
from ..study import version_text
from . import batch, fetch, init, load, qual, replicate, run, sync_api, synth, truth

#: name -> (command module, one-line help)
COMMANDS = {
    "init": (init, "make a study folder: notebooks/, data/, outputs/, README and marker"),
    "synth": (synth, "write the embedded synthetic dataset in the real formats"),
    "load": (load, "load a CQC or NHS file, report what it holds, write tidy Parquet"),
    "run": (run, "run notebooks through papermill into an outputs/<run-id>/ folder"),
    "batch": (batch, "run one notebook per provider, location or local authority"),
    "fetch": (fetch, "download published CQC / NHS files into data/raw (network)"),
    "sync-api": (sync_api, "sync CQC API location records to a folder (network)"),
    "qual": (qual, "check coded interviews (.qdpx or .csv) against the codebook; list unknown "
             "codes; export tidy CSV or .qdpx"),
    "truth": (truth, "check a run's tables against the planted truth of the synthetic data"),
    "replicate": (replicate, "estimate every published claim about CQC ratings on the data given"),
}


class VersionAction(argparse.Action):
    """``--version``: prints :func:`~cqc_research.study.version_text` (computed only when asked)
    and exits.

    Takes no value (``nargs=0``). Use as ``parser.add_argument("--version", action=VersionAction)``.

    Parameters
    ----------
    option_strings : list of str
        The option's flags (``["--version"]``), passed by :mod:`argparse`.
    dest : str
        The namespace attribute; default ``argparse.SUPPRESS`` (nothing is stored).
    default : object
        Default ``argparse.SUPPRESS`` (no attribute is added to the namespace).
    help : str
        The help text shown by ``--help``.
    """

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version (and, in a checkout, the commit) and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Build the ``cqc-research`` argument parser, one subcommand per entry of :data:`COMMANDS`.

    Each command module's ``configure_parser`` adds the options; the first paragraph of the
    module's docstring becomes the subcommand's description.

    Returns
    -------
    argparse.ArgumentParser
        The parser; a parsed namespace carries the command module as ``args._module``.
    """
    parser = argparse.ArgumentParser(
        prog="cqc-research",
        description=(
            "Study how the Care Quality Commission regulates health and social care: load CQC "
            "ratings and NHS indicators, link them, and produce reports. Runs offline on an "
            "embedded synthetic dataset; only `fetch` and `sync-api` use the network."
        ),
        epilog="Run `cqc-research COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip().split("\n\n")[0])
        module.configure_parser(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cqc-research`` command; returns the exit status.

    Expected errors (:class:`~cqc_research.errors.CQCResearchError`, missing files, bad values)
    become one line on standard error, never a traceback.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``None`` reads :data:`sys.argv`.

    Returns
    -------
    int
        The exit status: the command's own, 2 for no command or an expected error, 130 when
        interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run_command(args) or 0)
    except KeyboardInterrupt:
        print("cqc-research: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CQCResearchError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError, ValueError) as exc:
        print(f"cqc-research {args.command}: error: {exc}", file=sys.stderr)
        return 2
