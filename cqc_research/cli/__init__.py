"""The ``cqc-research`` command: one module of parsers per subcommand.

Every module of this package but :mod:`._main` is one subcommand and implements the same
protocol: ``configure_parser(parser)`` adds its options, ``run_command(args) -> int`` calls the
library and returns the exit status. :func:`main` routes to them.
"""

from ._main import build_parser, main

__all__ = ["main", "build_parser"]
