"""Where data and outputs live.

Every path in the package is resolved here, never from the current directory, because papermill
runs notebooks from other folders.

Environment variables relocate the two roots:

``CQC_RESEARCH_DATA``
    The data root, holding ``raw/`` (immutable inputs) and ``processed/`` (caches).
``CQC_RESEARCH_OUTPUTS``
    The outputs root, holding one folder per report run.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "NOTEBOOKS",
    "data_root",
    "raw_dir",
    "processed_dir",
    "outputs_root",
    "synthetic_dir",
]

#: The repository root (the folder holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The notebooks that ``make reports`` runs.
NOTEBOOKS = PROJECT_ROOT / "notebooks"


def data_root() -> Path:
    """The data root: ``$CQC_RESEARCH_DATA`` or ``<repo>/data``."""
    env = os.environ.get("CQC_RESEARCH_DATA")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "data"


def raw_dir() -> Path:
    """Immutable inputs: downloaded files and the embedded synthetic default."""
    return data_root() / "raw"


def processed_dir() -> Path:
    """Derived files that can always be rebuilt (Parquet caches)."""
    return data_root() / "processed"


def outputs_root() -> Path:
    """The outputs root: ``$CQC_RESEARCH_OUTPUTS`` or ``<repo>/outputs``."""
    env = os.environ.get("CQC_RESEARCH_OUTPUTS")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "outputs"


def synthetic_dir() -> Path:
    """Where ``cqc-research synth`` writes the embedded default dataset."""
    return raw_dir() / "synthetic"
