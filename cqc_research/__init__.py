"""cqc-research: load, link and analyse CQC ratings and NHS performance indicators.

>>> import cqc_research as cqc
>>> ratings = cqc.load("data/raw/synthetic/cqc/latest_ratings.ods")   # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.2.0"

from .errors import CQCResearchError, DataFormatError, UnknownRatingError  # noqa: E402
from .ratings import (  # noqa: E402
    DOMAINS,
    KEY_QUESTIONS,
    NON_SCALE,
    RATING_DTYPE,
    RATINGS,
    SECTORS,
)


def load(path, **kwargs):
    """Load any supported CQC or NHS file (or CQC API folder); see :func:`cqc_research.io.load`.

    Parameters
    ----------
    path : str or Path
        A file or a CQC API folder; what it is is detected
        (:func:`cqc_research.io.detect_kind`).
    **kwargs
        Passed to the chosen loader (e.g. ``strict=True``).

    Returns
    -------
    pandas.DataFrame or cqc_research.io.cqc_json.ApiData
        A tidy table (``frame.attrs["kind"]`` names what was loaded), or the tables of a CQC
        API folder or record.
    """
    from .io import load as _load

    return _load(path, **kwargs)


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
