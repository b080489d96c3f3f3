"""cqc-research: load, link and analyse CQC ratings and NHS performance indicators.

>>> import cqc_research as cqc
>>> ratings = cqc.load("data/raw/synthetic/cqc/latest_ratings.ods")   # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.2.0"

from .errors import CQCResearchError, DataFormatError, UnknownRatingError  # noqa: E402
from .io import load  # noqa: E402
from .ratings import (  # noqa: E402
    DOMAINS,
    KEY_QUESTIONS,
    NON_SCALE,
    RATING_DTYPE,
    RATINGS,
    SECTORS,
)

__all__ = [
    "__version__",
    "load",
    "CQCResearchError",
    "DataFormatError",
    "UnknownRatingError",
    "DOMAINS",
    "KEY_QUESTIONS",
    "NON_SCALE",
    "RATINGS",
    "RATING_DTYPE",
    "SECTORS",
]
