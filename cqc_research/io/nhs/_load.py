"""Load any NHS indicator file: the kind from its header, the loader from the registry."""

from __future__ import annotations

import pandas as pd

from ...errors import DataFormatError
from .._kinds import kinds, loader_for
from ._common import detect_indicator_kind


def load_indicators(path, **kwargs) -> pd.DataFrame:
    """Load any supported NHS indicator file, choosing the loader from the file's header.

    Parameters
    ----------
    path : str or Path
        A CSV of one of the supported kinds, or a folder of official monthly A&E CSVs.
    **kwargs
        Passed to the loader (e.g. ``with_report=True``, which every loader takes).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, report) with ``with_report=True``
        The loader's frame: the indicator table (or, for a code lookup, the lookup); with
        ``with_report=True`` also the loader's :class:`~cqc_research.io.nhs.ReadReport`
        (a list of them for monthly A&E files).

    Raises
    ------
    DataFormatError
        When the header matches none of the supported kinds.
    """
    kind = detect_indicator_kind(path)
    if kind is None:
        raise DataFormatError(
            "not a recognised NHS indicator file; expected one of: "
            + "; ".join(k.label for k in kinds("indicator")), path=path)
    return loader_for(kind)(path, **kwargs)
