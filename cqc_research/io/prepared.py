"""Inputs a notebook reads the same way alone or in a batch: prepared Parquet, or the raw file.

``cqc-research batch`` converts each input once into Parquet (see
:mod:`cqc_research.runner.batch`); a notebook calls :func:`load_input` with whatever path it
was given, so it runs unchanged on its own, on the raw file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .cqc_json import API_TABLES

__all__ = ["load_input"]

_INPUT_CACHE: dict[tuple, object] = {}
_INPUT_LOCK = threading.Lock()

_TABLE_LOADERS = {
    "ratings": ("cqc_research.io.cqc_files", "load_latest_ratings"),
    "indicators": ("cqc_research.io.nhs", "load_indicators"),
    "dtoc": ("cqc_research.io.nhs", "load_dtoc"),
    "population": ("cqc_research.io.nhs", "load_population"),
    "la_codes": ("cqc_research.io.nhs", "load_la_codes"),
}



def load_input(path, kind: str = "ratings"):
    """Read a batch's pre-loaded input, or load the raw file when given one.

    Notebooks call this so that they run the same under ``batch`` (Parquet from the run's
    cache) and on their own (the raw file). The result is kept in memory for the kernel's next
    report (keyed by path, size and modification time) and handed out as a copy-on-write copy,
    so one report cannot change what the next one sees.

    Parameters
    ----------
    path : path
        A ``.parquet`` file, a folder of ``<table>.parquet`` files (API tables), or the raw file
        or folder.
    kind : {"ratings", "api", "indicators", "dtoc", "population", "la_codes"}
        ``"ratings"``: the long ratings table (``io.cqc_files.load_latest_ratings``); ``"api"``:
        an :class:`~cqc_research.io.cqc_json.ApiData`; ``"indicators"``:
        ``io.nhs.load_indicators``; ``"dtoc"``, ``"population"``, ``"la_codes"``: the
        ``io.nhs`` loaders of those files.

    Returns
    -------
    pandas.DataFrame or ApiData
        The table (or, for ``kind="api"``, the API tables); a shallow copy of what is cached.
    """
    import importlib

    import pandas as pd

    if kind not in _TABLE_LOADERS and kind != "api":
        raise ValueError(f"kind must be one of {', '.join([*_TABLE_LOADERS, 'api'])}, not {kind!r}")
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = (str(p), kind, st.st_size, st.st_mtime_ns)
    with _INPUT_LOCK:
        hit = _INPUT_CACHE.get(key)
    if hit is None:
        if kind == "api":
            from .cqc_json import ApiData, load_api_folder

            if (p / "meta.json").is_file():
                meta = json.loads((p / "meta.json").read_text())
                tables = {name: pd.read_parquet(p / f"{name}.parquet") for name in API_TABLES
                          if (p / f"{name}.parquet").is_file()}
                hit = ApiData(**tables, source=meta.get("source", str(p)),
                              synthetic=bool(meta.get("synthetic")), files=int(meta.get("files", 0)))
            else:
                hit = load_api_folder(p)
        elif p.suffix == ".parquet":
            hit = pd.read_parquet(p)
        else:
            module, func = _TABLE_LOADERS[kind]
            hit = getattr(importlib.import_module(module), func)(p)
        with _INPUT_LOCK:
            for k in [k for k in _INPUT_CACHE if k[0] == key[0] and k[1] == kind]:
                del _INPUT_CACHE[k]
            _INPUT_CACHE[key] = hit
    if isinstance(hit, pd.DataFrame):
        return hit.copy(deep=False)
    import copy

    return copy.copy(hit)
