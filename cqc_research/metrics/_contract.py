"""What every public function of :mod:`cqc_research.metrics` promises besides its statistic.

Internal to :mod:`cqc_research.metrics`; ``tests/test_metrics_contract.py`` checks the contract
over every public function: the data come first, the result is a frame or a documented results
object, the input is left unchanged, an unknown rating is an error, and what is computed from
synthetic data says so (:func:`keeps_provenance`).
"""

from __future__ import annotations

import dataclasses
import functools

import pandas as pd

__all__: list[str] = []  # internal to cqc_research.metrics (keeps_provenance is public-named for its modules)


def _frames(value) -> list[pd.DataFrame]:
    """The frames of a result: itself, the items of a tuple or list, a dataclass's frame fields."""
    if isinstance(value, pd.DataFrame):
        return [value]
    if isinstance(value, tuple | list):
        return [f for v in value for f in _frames(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [v for v in (getattr(value, f.name) for f in dataclasses.fields(value))
                if isinstance(v, pd.DataFrame)]
    return []


def _synthetic(data) -> bool:
    """Whether the data argument is flagged synthetic: a frame's or series' ``attrs``, any frame of a
    list of frames, or an object's ``synthetic`` attribute (``ApiData``)."""
    if isinstance(data, pd.DataFrame | pd.Series):
        return bool(data.attrs.get("synthetic"))
    if isinstance(data, list | tuple):
        return any(isinstance(f, pd.DataFrame) and f.attrs.get("synthetic") for f in data)
    return getattr(data, "synthetic", False) is True


def keeps_provenance(func):
    """Decorate a metrics function so that its result says so when its data are synthetic.

    When the ``data`` argument (the first, or ``data=``) is flagged synthetic, every frame the
    function returns (the frame, the frames of a tuple, or the frame attributes of a results
    object) gets ``attrs["synthetic"] = True``. Nothing else changes.

    Parameters
    ----------
    func : callable
        A function whose first parameter is ``data``.

    Returns
    -------
    callable
        The wrapped function (same name, signature and docstring).

    Examples
    --------
    >>> @keeps_provenance
    ... def head(data):
    ...     return data.head(1).reset_index(drop=True)
    >>> d = pd.DataFrame({"x": [1, 2]})
    >>> d.attrs["synthetic"] = True
    >>> head(d).attrs
    {'synthetic': True}
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        data = kwargs["data"] if "data" in kwargs else (args[0] if args else None)
        if _synthetic(data):
            for frame in _frames(result):
                frame.attrs["synthetic"] = True
        return result

    return wrapper
