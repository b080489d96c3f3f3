"""Study folders: ``cqc-research init DIR``, the notebooks shipped in the package, and the version.

``cqc-research init DIR`` makes a study folder (:func:`cqc_research.study.init_study`).
"""

from __future__ import annotations

import os

from ..study import init_study


def configure_parser(parser) -> None:
    """Add the ``cqc-research init`` argument (the study folder ``DIR``)."""
    parser.add_argument("folder", metavar="DIR", help="the study folder to make (created when missing)")


def run_command(args) -> int:
    """Run ``cqc-research init DIR``: make the study folder, say what was written; exit status 0."""
    res = init_study(args.folder)
    n_nb = sum(1 for p in res.written if p.suffix == ".ipynb")
    print(f"study folder {res.root}: wrote {len(res.written)} files ({n_nb} notebooks)"
          + (f", kept {len(res.kept)} that already existed" if res.kept else ""))
    try:
        shown = os.path.relpath(res.root)
    except ValueError:
        shown = str(res.root)
    print(f"next: cd {shown} && cqc-research run")
    return 0
