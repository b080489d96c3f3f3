"""Routing of the ``cqc-research`` command to its subcommand modules.

A command module defines ``configure_parser(parser)`` and ``run_command(args) -> int``; this
module only routes to it and turns expected errors into one line on standard error, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import CQCResearchError
from ..study import version_text

#: name -> (command module, one-line help). A command's module is imported only when that command
#: runs or shows its help, so ``cqc-research --help`` loads no analysis code.
COMMANDS = {
    "init": ("cqc_research.cli.init", "make a study folder: notebooks/, data/, outputs/, README and marker"),
    "synth": ("cqc_research.cli.synth", "write the embedded synthetic dataset in the real formats"),
    "load": ("cqc_research.cli.load", "load a CQC or NHS file, report what it holds, write tidy Parquet"),
    "run": ("cqc_research.cli.run", "run notebooks through papermill into an outputs/<run-id>/ folder"),
    "batch": ("cqc_research.cli.batch", "run one notebook per provider, location or local authority"),
    "fetch": ("cqc_research.cli.fetch", "download published CQC / NHS files into data/raw (network)"),
    "sync-api": ("cqc_research.cli.sync_api", "sync CQC API location records to a folder (network)"),
    "qual": ("cqc_research.cli.qual", "check coded interviews (.qdpx or .csv) against the codebook; list unknown "
             "codes; export tidy CSV or .qdpx"),
    "truth": ("cqc_research.cli.truth", "check a run's tables against the planted truth of the synthetic data"),
    "replicate": ("cqc_research.cli.replicate", "estimate every published claim about CQC ratings on the data given"),
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


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Build the ``cqc-research`` argument parser, one subcommand per entry of :data:`COMMANDS`.

    Each command module's ``configure_parser`` adds the options; the first paragraph of the
    module's docstring becomes the subcommand's description. Given the arguments, only the
    command they name is imported and configured (the others are listed with their help line).

    Parameters
    ----------
    argv : list of str, optional
        The arguments to be parsed; ``None`` configures every command.

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
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (module_name, help_text) in COMMANDS.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)  # a missing command is a bug, never skipped
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
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
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
