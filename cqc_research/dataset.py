"""One :class:`Study`: the data a notebook, a replication, a workshop or a batch reads, loaded lazily.

A study's inputs come from three places, in this order for every input (a *key*: ``ratings``,
``api``, ``population``, ``indicators.gp_payments``, ...; see :data:`cqc_research.study.DATA_KEYS`
and :data:`cqc_research.study.INDICATOR_KEYS`):

1. a path given explicitly (``Study(ratings="file.ods")``; a notebook's parameter);
2. the study folder's declaration (``[data]`` of its ``cqc-research.toml``, see
   :func:`cqc_research.study.study_data`);
3. the embedded synthetic dataset (written on first use), but only when the study has no real data
   at all: nothing given and nothing declared. Real data are never mixed with synthetic data
   unless asked (``embedded=True``).

Nothing is read when the object is made; each table is loaded the first time it is asked for and
kept on the object; a table read from one file is kept in memory for the process too (keyed by
path, size and modification time, handed out as a shallow copy), so the reports a kernel runs one
after another read a file once.
The readers themselves use the project's Parquet cache (:mod:`cqc_research.cache`). A Parquet
file, or a folder of API tables as Parquet (``meta.json`` beside them), is read as it is: that is
how ``cqc-research batch`` hands its pre-loaded inputs to the notebooks.

>>> study = Study.synthetic()                               # doctest: +SKIP
>>> study.wide(level="location", sector="GP practices")     # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from . import paths as _paths
from .errors import CQCResearchError, DataFormatError
from .io import read_source
from .io.cqc_files import load_latest_ratings, ratings_wide
from .io.cqc_json import API_TABLES, ApiData, load_api_folder
from .io.nhs import (
    detect_indicator_kind,
    load_dtoc,
    load_indicators,
    load_la_codes,
    load_population,
)
from .link import link_indicators
from .provenance import is_synthetic
from .ratings import filter_sector
from .study import DATA_KEYS, INDICATOR_KEYS, one_path, study_data
from .synthetic import SCALES, dataset_paths, ensure_default_data, generate

__all__ = ["Study", "MissingInput"]

#: Each key's file or folder in the embedded synthetic dataset.
_EMBEDDED = {
    "ratings": "cqc/latest_ratings.ods", "api": "cqc_api", "councils": "councils/la_assessments.csv",
    "population": "population/la_population_65plus.csv", "la_codes": "population/la_codes.csv",
    "imd": "imd/imd_la.csv", "segments": "qual/coded_segments.csv",
    "indicators.dtoc": "dtoc/dtoc_la_days_by_reason.csv",
}
#: The files of each indicator source in the embedded dataset (keys of
#: :func:`cqc_research.synthetic.dataset_paths`), as :func:`~cqc_research.indicator_sources.indicator_sources`
#: lists them.
_EMBEDDED_SOURCES = {"gp_payments": ["gp_payments"], "qof": ["qof_prevalence", "qof_achievement"],
                     "gpps": ["gpps"], "fft": ["fft_gp", "fft_ae"], "fingertips": ["fingertips"],
                     "shmi": ["shmi"], "staff_survey": ["staff_survey", "staff_survey_workbook"],
                     "ae": ["ae_folder"]}
#: A notebook's parameter -> the key it gives (:meth:`Study.from_parameters`).
PARAMETERS = {
    "ratings_path": "ratings", "api_path": "api", "ae_path": "indicators.ae",
    "dtoc_path": "indicators.dtoc", "population_path": "population", "la_codes_path": "la_codes",
    "segments_path": "segments", "councils_path": "councils", "imd_path": "imd",
    "directory_path": "directory",
}
#: The kind of an indicator file (``io.nhs.detect_indicator_kind``) -> its source.
_KIND_SOURCE = {"gp_payments": "gp_payments", "qof_prevalence": "qof", "qof_achievement": "qof",
                "gpps": "gpps", "fft": "fft", "fingertips": "fingertips", "shmi": "shmi",
                "staff_survey": "staff_survey", "staff_survey_workbook": "staff_survey",
                "ae_monthly": "ae", "ae_tidy": "ae"}
_INDICATOR_SUFFIXES = (".csv", ".xls", ".xlsx")
#: What a table of each key is read with, when it is not Parquet.
_READERS = {"ratings": load_latest_ratings, "indicators.ae": load_indicators,
            "indicators.dtoc": load_dtoc, "population": load_population, "la_codes": load_la_codes}

_MEMORY: dict[tuple, object] = {}
_MEMORY_LOCK = threading.Lock()


class MissingInput(CQCResearchError):
    """A study lacks an input a table needs (nothing given, declared or embedded for its key).

    Parameters
    ----------
    key : str
        The missing input (``"api"``, ``"indicators.gp_payments"``, ...).
    message : str
        What is needed, in words.

    Attributes
    ----------
    key : str
        The missing input.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _known(key: str) -> bool:
    prefix, _, name = key.rpartition(".")
    return name in DATA_KEYS if not prefix else prefix == "indicators" and name in INDICATOR_KEYS


def _as_paths(value) -> list[Path]:
    """A path, a comma-separated string of paths or a sequence of them, as a list of Paths."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        parts = item.split(",") if isinstance(item, str) else [item]
        out += [Path(str(p).strip()).expanduser() for p in parts if str(p).strip()]
    return out


def _none(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "none"


def _remember(path: Path, kind: str, load):
    """``load()``, kept in memory for the process keyed by path, kind, size and mtime.

    Only a file, or a batch's folder of Parquet tables (``meta.json``), is kept: a folder's own
    modification time does not change when a file inside it does, so a raw folder is read by its
    loader each time (which has its own cache keyed by every file).
    """
    p = path.resolve()
    if p.is_dir() and not (p / "meta.json").is_file():
        return load()
    st = (p / "meta.json").stat() if p.is_dir() else p.stat()
    key = (str(p), kind, st.st_size, st.st_mtime_ns)
    with _MEMORY_LOCK:
        hit = _MEMORY.get(key)
    if hit is None:
        hit = load()
        with _MEMORY_LOCK:
            for k in [k for k in _MEMORY if k[0] == key[0] and k[1] == kind]:
                del _MEMORY[k]
            _MEMORY[key] = hit
    return hit.copy(deep=False) if isinstance(hit, pd.DataFrame) else copy.copy(hit)


def _read_api(path: Path) -> ApiData:
    if (path / "meta.json").is_file():  # a batch's API tables as Parquet
        meta = json.loads((path / "meta.json").read_text())
        tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in API_TABLES
                  if (path / f"{name}.parquet").is_file()}
        return ApiData(**tables, source=meta.get("source", str(path)),
                       synthetic=bool(meta.get("synthetic")), files=int(meta.get("files", 0)))
    return load_api_folder(path)


class Study:
    """The data of one study, loaded lazily and once.

    Every input is looked up by key: a path given here wins over the study folder's
    ``cqc-research.toml``, which wins over the embedded synthetic dataset (used only when the
    study has no real data; see the module docstring). Nothing is read until a table is asked
    for; each is then kept on the object.

    Parameters
    ----------
    root : path, optional
        The study folder whose ``cqc-research.toml`` declares the data; default the one found
        upwards from the current directory (none: nothing declared).
    ratings : path, optional
        A CQC Latest ratings workbook (ODS/XLSX), CSV, or Parquet of the long ratings table.
    api : path, optional
        A folder of CQC API records (``locations/``, ``providers/``).
    indicators : path, sequence of paths, or mapping, optional
        Indicator files: a mapping of source (``gp_payments``, ``qof``, ``ae``, ... see
        :data:`cqc_research.indicator_sources.SOURCE_LEVELS`) to its path(s), or paths (a string
        may hold several, comma-separated) whose sources are recognised from each file (a folder
        is one A&E series, or its files are recognised one by one).
    data_date : str or Timestamp, optional
        When the data were extracted (for ages and censoring); default None (the data's newest
        date, as each analysis decides).
    embedded : bool, optional
        None (default): use the embedded synthetic data only when nothing is given or declared.
        True: also fill every input that is neither given nor declared from it (never do this
        with real data). False: never use it.
    tables : mapping, optional
        Tables already in memory, used instead of loading (``ratings``, ``api``, ``history``,
        ``relationships``, or any name a caller caches with :meth:`memo`).
    **paths : path
        Any other input by key: a name of :data:`cqc_research.study.DATA_KEYS`
        (``population="pop.csv"``) or of :data:`cqc_research.study.INDICATOR_KEYS`
        (``dtoc="dtoc.csv"``). The string ``"none"`` means the input is left out on purpose.

    Attributes
    ----------
    root : Path or None
        The study folder given.
    data_date : Timestamp or None
        When the data were extracted, if given.
    given : dict of str to list of Path
        The inputs given explicitly, by key (``"indicators"``: the indicator paths given without
        a source, each recognised from its file).
    given_tables : frozenset of str
        The names of the tables given in memory.

    Raises
    ------
    ValueError
        For an unknown key.
    FileNotFoundError
        For a given path that does not exist (naming its key).

    Examples
    --------
    >>> study = Study(ratings="missing.ods")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ratings: missing.ods: no such file or folder
    >>> study = Study(embedded=False)
    >>> study.path("ratings") is None, study.sources
    (True, [])
    """

    def __init__(self, root=None, *, ratings=None, api=None, indicators=None, data_date=None,
                 embedded: bool | None = None, tables: Mapping | None = None, **paths):
        self.root = Path(root).expanduser() if root not in (None, "") else None
        self.data_date = pd.Timestamp(data_date) if data_date not in (None, "") else None
        self.embedded = embedded
        self.given: dict[str, list[Path]] = {}
        self._left_out: set[str] = set()
        self._generic: list[Path] = []
        self._memo: dict = dict(tables or {})
        self.given_tables = frozenset(tables or ())
        self._sources: list[Path] = []
        self._declared: dict[str, list[Path]] | None = None
        self._embedded_root: Path | None = None
        named = {"ratings": ratings, "api": api, **paths}
        if isinstance(indicators, Mapping):
            named.update({f"indicators.{k}": v for k, v in indicators.items()})
        elif _none(indicators):
            self._left_out.add("indicators")
        else:
            self._generic = _as_paths(indicators)
        for name, value in named.items():
            key = name if "." in name or name in DATA_KEYS else f"indicators.{name}"
            if not _known(key):
                raise ValueError(f"{name!r} is not a study input; known: "
                                 f"{', '.join([*DATA_KEYS, *INDICATOR_KEYS])}")
            if _none(value):
                self._left_out.add(key)
            elif _as_paths(value):
                self.given[key] = _as_paths(value)
        if self._generic:
            self.given["indicators"] = list(self._generic)
        for key, found in self.given.items():
            for p in found:
                if not p.exists():
                    raise FileNotFoundError(f"{key}: {p}: no such file or folder")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def synthetic(cls, scale: str = "default", *, folder=None) -> Study:
        """The embedded synthetic dataset (written on first use), or another synthetic one.

        Parameters
        ----------
        scale : {"default", "small", "test", "national"}
            The generator's scale. ``"default"`` is the embedded dataset the notebooks use
            (``data/raw/synthetic``); another scale is written once beside it
            (``data/raw/synthetic-<scale>``).
        folder : path, optional
            A synthetic dataset already written (holding ``truth.json``), e.g. by
            ``cqc-research synth --out DIR``; ``scale`` is then ignored.

        Returns
        -------
        Study
            Every input read from that dataset.

        Raises
        ------
        ValueError
            For an unknown scale.
        FileNotFoundError
            When ``folder`` holds no synthetic dataset.
        """
        study = cls(embedded=True)
        study._declared = {}
        if folder not in (None, ""):
            root = Path(folder).expanduser().resolve()
            if not (root / "truth.json").is_file():
                raise FileNotFoundError(f"{root} is not a synthetic dataset (it has no truth.json)")
            study._embedded_root = root
        elif scale != "default":
            if scale not in SCALES:
                raise ValueError(f"scale must be one of {list(SCALES)}, not {scale!r}")
            root = _paths.synthetic_dir().with_name(f"synthetic-{scale}")
            if not (root / "truth.json").is_file():
                generate(root, scale=scale, progress=False)
            study._embedded_root = root
        return study

    @classmethod
    def from_parameters(cls, *, indicators_path="", sources=None, data_date="", root=None,
                        embedded: bool | None = None, **parameters) -> Study:
        """The study a notebook's parameters describe: ``""`` is not given, ``"none"`` left out.

        Parameters
        ----------
        indicators_path : str or path
            Indicator files or folders (comma-separated), their sources recognised from each.
        sources : mapping, optional
            Indicator source to path(s), as notebook 02's ``sources``; wins over
            ``indicators_path`` for the sources it names.
        data_date : str
            ``YYYY-MM-DD``; empty for none.
        root : path, optional
            The study folder (default: found from the current directory).
        embedded : bool, optional
            As for :class:`Study`.
        **parameters : str
            Notebook parameters named in :data:`PARAMETERS` (``ratings_path``, ``api_path``,
            ``dtoc_path``, ...); others (``level``, ``output_dir``) are ignored.

        Returns
        -------
        Study

        Examples
        --------
        >>> Study.from_parameters(ratings_path="", api_path="none", level="location").given
        {}
        """
        named = {PARAMETERS[k]: v for k, v in parameters.items() if k in PARAMETERS}
        indicators = _as_paths(indicators_path) if not _none(indicators_path) else indicators_path
        study = cls(root, indicators=indicators or None, data_date=data_date or None,
                    embedded=embedded, **{k.removeprefix("indicators."): v for k, v in named.items()})
        for source, value in (sources or {}).items():
            if source not in INDICATOR_KEYS:
                raise ValueError(f"{source!r} is not an indicator source; known: {', '.join(INDICATOR_KEYS)}")
            found = _as_paths(value)
            for p in found:
                if not p.exists():
                    raise FileNotFoundError(f"indicators.{source}: {p}: no such file or folder")
            if found:
                study.given[f"indicators.{source}"] = found
        return study

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={[str(p) for p in v]}" for k, v in self.given.items())
        kind = "embedded synthetic data" if self.uses_embedded() else "real data"
        return f"Study({given or kind})"

    # -- where the inputs are -------------------------------------------------------------
    def _declaration(self) -> dict[str, list[Path]]:
        if self._declared is None:
            self._declared = study_data(self.root)
        return self._declared

    def uses_embedded(self) -> bool:
        """Whether inputs not given nor declared come from the embedded synthetic data.

        Returns
        -------
        bool
            ``embedded`` when it was set; else True exactly when nothing is given (no path, no
            table) and the study declares nothing.

        Examples
        --------
        >>> Study(embedded=False).uses_embedded()
        False
        """
        if self.embedded is not None:
            return bool(self.embedded)
        if self.given or self.given_tables:
            return False
        return not self._declaration()

    def _embedded_folder(self) -> Path:
        if self._embedded_root is None:
            self._embedded_root = Path(ensure_default_data(quiet=True))
        return self._embedded_root

    def _detected(self) -> list[tuple[str, Path]]:
        """(source, file) of each generic indicator path, recognised from the file."""
        def scan():
            found = []
            for p in self._generic:
                kind = detect_indicator_kind(p)
                if kind is not None:
                    found.append((_KIND_SOURCE.get(kind, kind), p))
                elif p.is_dir():
                    found.extend((_KIND_SOURCE.get(k, k), f) for f in sorted(p.iterdir())
                                 if f.suffix.lower() in _INDICATOR_SUFFIXES
                                 and not f.name.startswith(".")
                                 and (k := detect_indicator_kind(f)) is not None)
                else:
                    raise DataFormatError("not a recognised NHS indicator file", path=p)
            return found
        return self.memo("_detected", scan)

    def files(self, key: str) -> list[Path]:
        """Every path the study holds for an input (empty when it has none).

        Parameters
        ----------
        key : str
            ``"ratings"``, ``"api"``, ..., or ``"indicators.<source>"``.

        Returns
        -------
        list of Path
            The given paths; else, for an indicator source, the given indicator files of that
            source; else the declared ones; else (see :meth:`uses_embedded`) the embedded file or
            files; else nothing. Left out on purpose (``"none"``): nothing.

        Raises
        ------
        ValueError
            For an unknown key.
        """
        if not _known(key):
            raise ValueError(f"{key!r} is not a study input; known: "
                             f"{', '.join([*DATA_KEYS, *('indicators.' + k for k in INDICATOR_KEYS)])}")
        if key in self._left_out or (key.startswith("indicators.") and "indicators" in self._left_out
                                     and key not in self.given):
            return []
        if key in self.given:
            return list(self.given[key])
        if key.startswith("indicators.") and self._generic:
            source = key.split(".", 1)[1]
            return [p for s, p in self._detected() if s == source]
        if key in self._declaration():
            return list(self._declaration()[key])
        if not self.uses_embedded():
            return []
        source = key.removeprefix("indicators.")
        if key.startswith("indicators.") and source in _EMBEDDED_SOURCES:
            held = dataset_paths(self._embedded_folder())
            found = [p for name in _EMBEDDED_SOURCES[source] for p in _as_paths(held.get(name))]
            return [p for p in found if p.exists()]
        rel = _EMBEDDED.get(key)
        if rel is None:
            return []
        p = self._embedded_folder() / rel
        return [p] if p.exists() else []

    def path(self, key: str) -> Path | None:
        """The one path read for an input, or None when the study has none.

        Parameters
        ----------
        key : str
            As for :meth:`files`.

        Returns
        -------
        Path or None
            One path as :func:`cqc_research.study.declared_path` chooses it: for a top-level key
            the last listed (``fetch`` appends the newest); several files of one folder give the
            folder; otherwise the first.
        """
        return one_path(key, self.files(key))

    def paths(self, *keys: str) -> list[Path]:
        """The paths of several inputs, for a report's list of sources before anything is read.

        Parameters
        ----------
        *keys : str
            Input keys, as for :meth:`files`.

        Returns
        -------
        list of Path
            Those the study holds, in the order asked (an input it lacks is skipped).
        """
        return [p for key in keys for p in ([self.path(key)] if self.path(key) else [])]

    @property
    def sources(self) -> list[Path]:
        """The files and folders read so far, in the order first read.

        Returns
        -------
        list of Path
        """
        return list(self._sources)

    @property
    def is_synthetic(self) -> bool:
        """Whether the study's data are synthetic (the embedded dataset, or files marked so).

        Returns
        -------
        bool
            True when the embedded data are used, or every given or declared path carries the
            ``SYNTHETIC`` marker (:func:`cqc_research.provenance.is_synthetic`); nothing is read.
        """
        if self.uses_embedded() and not self.given and not self._generic:
            return True
        held = [p for v in self.given.values() for p in v]
        held += [p for v in self._declaration().values() for p in v] if not held else []
        return bool(held) and is_synthetic(*held)

    def memo(self, key, compute):
        """``compute()`` the first time ``key`` is asked for, the stored result afterwards.

        Parameters
        ----------
        key : hashable
            Names the result (e.g. ``("wide", "location", None)``).
        compute : callable
            Called with no arguments to make the result; an exception it raises is not stored.

        Returns
        -------
        object
            The result stored under ``key``.

        Examples
        --------
        >>> study = Study(embedded=False)
        >>> study.memo("answer", lambda: 42), study.memo("answer", lambda: 0)
        (42, 42)
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _need(self, key: str, what: str) -> Path:
        p = self.path(key)
        if p is None:
            raise MissingInput(key, f"needs {what} ({key})")
        if p not in self._sources:
            self._sources.append(p)
        return p

    def _table(self, key: str, what: str):
        """The table of a one-file input (Parquet read as it is)."""
        def load():
            p = self._need(key, what)
            reader = _READERS.get(key)
            if p.suffix == ".parquet":
                return _remember(p, key, lambda: pd.read_parquet(p))
            if reader is None:
                raise ValueError(f"no table reader for {key}; read study.path({key!r}) yourself")
            return _remember(p, key, lambda: reader(p))
        return self.memo(key, load)

    # -- tables -----------------------------------------------------------------------------
    @property
    def ratings(self) -> pd.DataFrame:
        """The long current-ratings table: the ratings file, else the API folder's ratings.

        Returns
        -------
        pandas.DataFrame
            :func:`~cqc_research.io.cqc_files.load_latest_ratings` of the ratings input (a
            Parquet file read as it is), else :attr:`api`'s ``ratings``; loaded once.

        Raises
        ------
        MissingInput
            When the study has neither ratings nor API records.
        """
        if "ratings" in self._memo:
            return self._memo["ratings"]
        if self.path("ratings") is None and (self.path("api") is not None or "api" in self._memo):
            return self.memo("ratings", lambda: self.api.ratings)
        if self.path("ratings") is None:
            raise MissingInput("ratings", "needs current ratings (a Latest ratings workbook, "
                                          "ratings, or CQC API records, api)")
        return self._table("ratings", "a CQC Latest ratings workbook")

    def wide(self, level: str = "location", sector: str | None = None) -> pd.DataFrame:
        """Wide ratings of one level (:func:`~cqc_research.io.cqc_files.ratings_wide`), one sector.

        Parameters
        ----------
        level : {"location", "provider"}, default "location"
        sector : str, optional
            A sector or CQC inspection category (:func:`cqc_research.ratings.filter_sector`);
            None or empty for every sector.

        Returns
        -------
        pandas.DataFrame
            One row per organisation, a column per domain; built once per level and sector.

        Raises
        ------
        MissingInput
            As :attr:`ratings`.
        """
        def build():
            if sector:
                return filter_sector(self.wide(level), sector)
            return ratings_wide(self.ratings, level=level)
        return self.memo(("wide", level, sector or None), build)

    @property
    def api(self) -> ApiData:
        """The CQC API records (:func:`~cqc_research.io.cqc_json.load_api_folder`), loaded once.

        Returns
        -------
        cqc_research.io.cqc_json.ApiData

        Raises
        ------
        MissingInput
            When the study has no API folder.
        """
        if "api" in self._memo:
            return self._memo["api"]

        def load():
            p = self._need("api", "rating histories (a folder of CQC API records, api)")
            return _remember(p, "api", lambda: _read_api(p))
        return self.memo("api", load)

    @property
    def history(self) -> pd.DataFrame:
        """The rating-history panel: one row per organisation x report x domain.

        Returns
        -------
        pandas.DataFrame
            ``tables["history"]`` when given, else :attr:`api`'s ``history``.

        Raises
        ------
        MissingInput
            When the study has no API folder.
        """
        return self._memo["history"] if "history" in self._memo else self.api.history

    @property
    def relationships(self) -> pd.DataFrame | None:
        """Predecessor links of the histories (:attr:`api`'s ``relationships``).

        Returns
        -------
        pandas.DataFrame or None
            None when a history table was given without them.
        """
        if "history" in self._memo:
            return self._memo.get("relationships")
        return self.api.relationships

    @property
    def assessments(self) -> pd.DataFrame:
        """The single assessment framework's assessments (:attr:`api`'s ``assessments``).

        Returns
        -------
        pandas.DataFrame
            One row per assessment (service group); the API's ``key_question_scores`` and
            ``statement_scores`` are on :attr:`api`.
        """
        return self.api.assessments

    def table(self, key: str) -> pd.DataFrame:
        """The table of a one-file input: ``population``, ``la_codes``, ``indicators.dtoc``, ...

        Parameters
        ----------
        key : str
            An input with a table reader (``ratings``, ``population``, ``la_codes``,
            ``indicators.dtoc``, ``indicators.ae``); a Parquet file is read as it is.

        Returns
        -------
        pandas.DataFrame
            Loaded once.

        Raises
        ------
        MissingInput
            When the study lacks the input.
        """
        return self._table(key, f"the {key} input")

    def indicator_files(self, source: str) -> list[Path]:
        """The files of one indicator source (a folder's files listed one by one, A&E kept whole).

        Parameters
        ----------
        source : str
            ``gp_payments``, ``qof``, ``gpps``, ``fft``, ``fingertips``, ``shmi``,
            ``staff_survey``, ``ae``, ``dtoc``.

        Returns
        -------
        list of Path
        """
        out = []
        for p in self.files(f"indicators.{source}"):
            if p.is_dir() and source != "ae":
                out += sorted(f for f in p.iterdir() if f.suffix.lower() in _INDICATOR_SUFFIXES
                              and not f.name.startswith("."))
            else:
                out.append(p)
        return out

    def indicators(self, source: str) -> list[pd.DataFrame]:
        """The tidy indicator tables of one source, one per file (an A&E folder is one series).

        Parameters
        ----------
        source : str
            As for :meth:`indicator_files`.

        Returns
        -------
        list of pandas.DataFrame
            :func:`cqc_research.io.read_source` of each file (files holding no indicator table
            left out), loaded once.

        Raises
        ------
        MissingInput
            When the study holds no file of that source.
        """
        def load():
            files = self.indicator_files(source)
            if not files:
                raise MissingInput(f"indicators.{source}",
                                   f"needs {INDICATOR_KEYS.get(source, source)} indicators "
                                   f"(indicators.{source})")
            frames = []
            for f in files:
                if f not in self._sources:
                    self._sources.append(f)
                frame = (_remember(f, "indicators", lambda f=f: pd.read_parquet(f))
                         if f.suffix == ".parquet" else read_source(f))
                if frame is not None:
                    frames.append(frame)
            return frames
        return self.memo(("indicators", source), load)

    def linked(self, source: str = "gp_payments", *, level: str = "practice",
               sector: str | None = "GP practices", **options) -> pd.DataFrame:
        """Wide location ratings of one sector joined to an indicator source.

        Parameters
        ----------
        source : str, default "gp_payments"
            The indicator source (:meth:`indicators`).
        level : str, default "practice"
            The level the indicators are linked at (:func:`cqc_research.link.link_indicators`).
        sector : str, optional
            The rated locations' sector; None for every location.
        **options
            Passed to :func:`~cqc_research.link.link_indicators` (``measures=``, ``window=``).

        Returns
        -------
        pandas.DataFrame
            ``link_indicators(...).data``; built once per set of arguments.
        """
        key = ("linked", source, level, sector, repr(sorted(options.items())))

        def build():
            wide = self.wide("location", sector)
            return link_indicators(wide, self.indicators(source), level=level, sector=None,
                                   **options).data
        return self.memo(key, build)

