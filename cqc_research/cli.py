"""The ``cqc-research`` command.

Each subcommand lives in the module that does the work. A command module defines
``configure_parser(parser)`` and ``run_command(args) -> int``; this file only routes to it and
turns expected errors into one line on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import CQCResearchError

__all__ = ["main", "COMMANDS"]

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cqc_research.study", "make a study folder: notebooks/, data/, outputs/, README and marker"),
    "synth": ("cqc_research.synthetic", "write the embedded synthetic dataset in the real formats"),
    "load": ("cqc_research.io", "load a CQC or NHS file, report what it holds, write tidy Parquet"),
    "run": ("cqc_research.runner.run", "run notebooks through papermill into an outputs/<run-id>/ folder"),
    "batch": ("cqc_research.runner.batch", "run one notebook per provider, location or local authority"),
    "fetch": ("cqc_research.fetch", "download published CQC / NHS files into data/raw (network)"),
    "sync-api": ("cqc_research.fetch.cqc_api", "sync CQC API location records to a folder (network)"),
    "qual": ("cqc_research.qual", "check coded interviews (.qdpx or .csv) against the codebook; list unknown "
             "codes; export tidy CSV or .qdpx"),
    "truth": ("cqc_research.truth", "check a run's tables against the planted truth of the synthetic data"),
    "replicate": ("cqc_research.replications", "estimate every published claim about CQC ratings on the data given"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the ``cqc-research`` argument parser, one subcommand per entry of :data:`COMMANDS`.

    Each command module is imported and its ``configure_parser`` adds the options; the first
    paragraph of the module's docstring becomes the subcommand's description.

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
    from .study import VersionAction

    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
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
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CQCResearchError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError, ValueError) as exc:
        print(f"cqc-research {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
