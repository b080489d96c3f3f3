"""``python -m cqc_research.cli``: the ``cqc-research`` command."""

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
