"""The registry of file kinds: what each kind is called, how it is recognised, its loader.

The bottom of :mod:`cqc_research.io`: this module imports no reader. Reader modules register
the kinds they read (:func:`register`), and the dispatchers walk the registry in rank order:

- ``family="file"``: the kinds :func:`cqc_research.io.load` tells apart (a CQC API folder or
  record, Latest ratings, active locations, the care directory, the councils' assessments, and
  ``indicators``), each with ``sniff(probe)`` over the path and its first bytes
  (:class:`Probe`); they are registered by :mod:`cqc_research.io._load`.
- ``family="indicator"``: the NHS indicator files :func:`cqc_research.io.nhs.load_indicators`
  tells apart, each registered by its reader module with ``columns(norm, joined, raw)``, a test
  of one CSV header row (``norm`` the set of its headers folded by
  ``normalise_header``, ``joined`` them sorted and joined by ``" | "``, ``raw`` the cells as
  read) and/or ``sniff(probe)``, a test of a workbook; ``folder=True`` when a folder of such
  files (monthly files) loads as one.

A lookup by name (:func:`get`, :func:`loader_for`) serves whoever needs a kind's loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    """One kind of file.

    Attributes
    ----------
    name : str
        The kind's name (``"latest_ratings"``, ``"ae_monthly"``, ...), as ``frame.attrs["kind"]``
        and the detectors give it.
    label : str
        What it is called in messages (``"a SHMI CSV"``).
    loader : callable
        The function that reads it (``loader(path, **kwargs)``); its ``__name__`` is what
        messages tell the user to call.
    family : str
        ``"file"`` (a kind of :func:`cqc_research.io.load`) or ``"indicator"`` (a kind of
        :func:`cqc_research.io.nhs.load_indicators`).
    rank : int
        The order the detectors try the kinds in (lower first; the first match wins).
    sniff : callable or None
        ``sniff(probe) -> bool``: whether the file of a :class:`Probe` is of this kind.
    columns : callable or None
        ``columns(norm, joined, raw) -> bool``: whether a CSV header row is of this kind.
    folder : bool
        A folder of files of this kind loads as one (monthly files).
    """

    name: str
    label: str
    loader: Callable
    family: str = "indicator"
    rank: int = 0
    sniff: Callable | None = None
    columns: Callable | None = None
    folder: bool = False

    @property
    def loader_name(self) -> str:
        """The loader's function name, as messages give it (``"load_shmi"``)."""
        return self.loader.__name__


@dataclass
class Probe:
    """A file (or folder) being recognised: its path, its first bytes, and what sniffs found.

    Sniffs share work through :meth:`memo` (a workbook's sheet names are read once).

    Attributes
    ----------
    path : Path
        The file or folder.
    size : int
        How many first bytes :attr:`head` holds.
    """

    path: Path
    size: int = 65536
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def head(self) -> bytes:
        """The file's first :attr:`size` bytes (``b""`` for a folder or an unreadable file)."""
        if "head" not in self._memo:
            try:
                with open(self.path, "rb") as f:
                    self._memo["head"] = f.read(self.size)
            except OSError:
                self._memo["head"] = b""
        return self._memo["head"]

    def memo(self, key: str, compute: Callable):
        """``compute()``, worked out once per probe and kept under ``key``.

        Parameters
        ----------
        key : str
            The name of what is computed.
        compute : callable
            Called with no argument the first time.

        Returns
        -------
        object
            What ``compute()`` returned.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


_REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind to the registry (a kind of the same name is replaced).

    Parameters
    ----------
    kind : Kind
        The kind.

    Returns
    -------
    Kind
        ``kind`` itself.
    """
    _REGISTRY[kind.name] = kind
    return kind


def kinds(family: str) -> list[Kind]:
    """The registered kinds of one family, in the order the detectors try them.

    Parameters
    ----------
    family : {"file", "indicator"}
        Which dispatcher's kinds.

    Returns
    -------
    list of Kind
        Sorted by :attr:`Kind.rank`.
    """
    return sorted((k for k in _REGISTRY.values() if k.family == family), key=lambda k: k.rank)


def get(name: str) -> Kind:
    """The kind registered under ``name``.

    Parameters
    ----------
    name : str
        A kind's name.

    Returns
    -------
    Kind

    Raises
    ------
    KeyError
        When no kind has that name; the message lists those that do.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown file kind {name!r}; expected one of "
                       + ", ".join(sorted(_REGISTRY))) from None


def loader_for(name: str) -> Callable:
    """The loader of the kind registered under ``name`` (``loader_for("dtoc")`` is ``load_dtoc``).

    Parameters
    ----------
    name : str
        A kind's name.

    Returns
    -------
    callable
        Its loader.
    """
    return get(name).loader


def is_registered(name: str) -> bool:
    """Whether a kind of that name is registered.

    Parameters
    ----------
    name : str
        A kind's name.

    Returns
    -------
    bool
    """
    return name in _REGISTRY
