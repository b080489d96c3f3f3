"""Content-addressed Parquet cache for loaded tables, written atomically.

A cache entry is keyed by the SHA-256 of the input file plus the loader's name and options, so a
changed input is never served stale. Entries are written to a temporary file in the same folder
and moved into place with :func:`os.replace`, so a crash never leaves a partial entry that looks
valid. An entry that cannot be read is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import paths

__all__ = ["cached_frame", "sha256_file"]

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash.

    Returns
    -------
    str
        The 64-character lower-case hex digest.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = f.write_bytes(b"abc")
    >>> sha256_file(f)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class atomic_path:
    """Context manager yielding a temporary path that replaces ``target`` only on success.

    The temporary file is created in ``target``'s folder (made if missing), so the final
    :func:`os.replace` is atomic. If the ``with`` block raises, the temporary file is deleted and
    ``target`` is left as it was.

    Parameters
    ----------
    target : str or os.PathLike
        The file to write.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """

    def __init__(self, target: str | os.PathLike):
        self.target = Path(target)

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp",
                                    dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically.

    Parameters
    ----------
    target : str or os.PathLike
        The file to write; its folder is created if missing.
    data : bytes
        The complete new contents.
    """
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically.

    Parameters
    ----------
    target : str or os.PathLike
        The file to write; its folder is created if missing.
    text : str
        The complete new contents.
    """
    atomic_write_bytes(target, text.encode("utf-8"))


def _cache_key(source: Path, loader: str, options: dict) -> str:
    h = hashlib.sha256()
    h.update(sha256_file(source).encode())
    h.update(loader.encode())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def cached_frame(
    source: str | os.PathLike,
    build: Callable[[], pd.DataFrame],
    *,
    loader: str,
    options: dict | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> pd.DataFrame:
    """Return ``build()``'s table for ``source``, from the Parquet cache when it is fresh.

    Parameters
    ----------
    source : path
        The raw input file. It is only read, never modified.
    build : callable
        Builds the table from ``source`` on a cache miss.
    loader : str
        The loader's name, part of the cache key.
    options : dict, optional
        Loader options that change the result, part of the cache key.
    cache_dir : path, optional
        Defaults to :func:`cqc_research.paths.processed_dir`.
    use_cache : bool
        ``False`` builds without reading or writing the cache.

    Returns
    -------
    pandas.DataFrame
        The table ``build()`` returns (read back from Parquet on a cache hit, so dtypes are those
        Parquet round-trips; ``DataFrame.attrs`` are not kept).
    """
    if not use_cache:
        return build()
    source = Path(source)
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.processed_dir() / "cache"
    key = _cache_key(source, loader, options or {})
    entry = cache_dir / f"{loader}-{key}.parquet"
    if entry.exists():
        try:
            return pd.read_parquet(entry)
        except Exception as exc:  # a corrupt entry is rebuilt, never trusted
            warnings.warn(f"rebuilding corrupt cache entry {entry.name}: {exc}", stacklevel=2)
            entry.unlink(missing_ok=True)
    frame = build()
    try:
        with atomic_path(entry) as tmp:
            frame.to_parquet(tmp, index=False)
    except OSError as exc:  # a read-only data folder still loads, just uncached
        warnings.warn(f"could not write cache entry {entry}: {exc}", stacklevel=2)
    return frame
