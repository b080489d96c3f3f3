"""Where data came from: whether a file, folder or frame is synthetic (the ``SYNTHETIC`` marker).

A dataset is synthetic when a ``SYNTHETIC`` marker file sits in its folder or any parent
(``cqc-research synth`` writes one). This is the lowest layer: loaders use it to flag what they
read, and :mod:`cqc_research.notebook_output` uses it to stamp what a notebook shows and saves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["SYNTHETIC_MARKER", "BANNER_TEXT", "is_synthetic"]

#: The marker file's name.
SYNTHETIC_MARKER = "SYNTHETIC"
#: The words every synthetic output carries.
BANNER_TEXT = "SYNTHETIC DATA"


def is_synthetic(*sources) -> bool:
    """True when any source is synthetic.

    Parameters
    ----------
    *sources : path, DataFrame or object with a ``synthetic`` attribute
        Files or folders (a ``SYNTHETIC`` marker in the folder or a parent), frames
        (``frame.attrs["synthetic"]``), or results such as :class:`~cqc_research.io.cqc_json.ApiData`.

    Returns
    -------
    bool

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> is_synthetic(d)
    False
    >>> _ = (d / SYNTHETIC_MARKER).write_text("")
    >>> is_synthetic(d / "any" / "file.csv")
    True
    """
    for src in sources:
        if src is None:
            continue
        if isinstance(src, pd.DataFrame):
            if src.attrs.get("synthetic"):
                return True
            continue
        if hasattr(src, "synthetic") and not isinstance(src, str | os.PathLike):
            if src.synthetic:
                return True
            continue
        p = Path(src).expanduser()
        try:
            p = p.resolve()
        except OSError:
            continue
        for folder in [p, *p.parents] if p.is_dir() else list(p.parents):
            if (folder / SYNTHETIC_MARKER).is_file():
                return True
    return False
