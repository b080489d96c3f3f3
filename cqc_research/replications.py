"""Replicate the published record: every quantitative claim about CQC ratings, with our estimate.

The claims live in ``cqc_research/data/replications.yaml``, which ships with the package: for
each, the claim in one sentence, the source (citation, the page it was read on, whether the figure
was found only second hand), the population and period, the statistic, the published figures
(value, n and interval where given), the estimator that computes it from our tables and the data
it needs. :func:`load_claims` reads it into :class:`Claim` objects.

:class:`ReplicationData` holds the data given (the same parameters as the notebooks: a Latest
ratings workbook, a folder of CQC API records, indicator files) and loads each table once, when an
estimator first asks for it. An estimator that lacks what it needs raises :class:`NotComputable`
with the reason ("needs trust-level ratings ..."), which becomes the verdict.

:func:`replicate` runs every estimator and returns one row per published figure, with the
estimate, its 95% interval and n, the data vintage and a verdict (see :func:`verdict`):

- ``consistent``: the published value lies inside our 95% interval, or, when an interval was
  published, the two intervals overlap (``test: above``: our whole interval lies above the value);
- ``differs``: otherwise;
- ``not computable``: the data cannot answer, with the reason.

Estimates come from the library functions the notebooks use (:mod:`cqc_research.metrics`,
:mod:`cqc_research.link`), never from the registry's published values.
:func:`write_outputs` writes ``replications.csv`` and ``replications.html``, and ``cqc-research
replicate`` does both from the command line.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CQCResearchError, DataFormatError
from .study import declared_path

__all__ = [
    "Figure",
    "Claim",
    "Estimate",
    "NotComputable",
    "ReplicationData",
    "ESTIMATORS",
    "REGISTRY_PATH",
    "VERDICTS",
    "load_claims",
    "estimate_figure",
    "verdict",
    "replicate",
    "published_vs_estimated_plot",
    "write_outputs",
]

#: The registry shipped with the package.
REGISTRY_PATH = Path(__file__).with_name("data") / "replications.yaml"
#: The three verdicts, in the order tables list them.
VERDICTS = ("consistent", "differs", "not computable")
GP_MEASURES = ("list_size", "weighted_list_size", "payments_per_patient",
               "payments_per_weighted_patient", "qof_payments_per_patient")
_TRUST_KINDS = {"ae_monthly", "ae_tidy", "shmi", "staff_survey", "tidy"}
#: Kind of indicator file (``io.nhs.detect_indicator_kind``) -> its source in ``indicator_sources``.
_KIND_SOURCE = {"gp_payments": "gp_payments", "qof_prevalence": "qof", "qof_achievement": "qof",
                "gpps": "gpps", "fft": "fft", "fingertips": "fingertips", "shmi": "shmi",
                "staff_survey": "staff_survey", "staff_survey_workbook": "staff_survey",
                "ae_monthly": "ae", "ae_tidy": "ae"}


class NotComputable(CQCResearchError):
    """The data given cannot answer a claim; the message is the reason shown in the verdict."""


# ---------------------------------------------------------------------------------------------
# the registry
@dataclass(frozen=True)
class Figure:
    """One published figure of a claim.

    Attributes
    ----------
    key : str
        Names the figure within its claim (e.g. ``"Well-led"``).
    value : float
        The published value (shares as proportions).
    n, ci_low, ci_high : float or None
        The published count and 95% interval, where given.
    unit : str
        ``share``, ``kappa``, ``odds ratio``, ``years`` or ``percentage points``.
    test : str
        ``within`` (default) or ``above`` (see :func:`verdict`).
    params : dict
        Estimator parameters for this figure, added to the claim's.
    note : str
        How the figure was published, when that matters ("almost 90%").
    """

    key: str
    value: float
    n: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    unit: str = "share"
    test: str = "within"
    params: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Claim:
    """A published claim: where it comes from, what it measures, how we estimate it.

    Attributes
    ----------
    id, claim : str
        A stable identifier and the claim in one sentence.
    citation, read_at : str
        The full citation and the address of the page the figures were read on.
    second_hand : bool
        True when a figure was found only in a report of the source (or not found at all).
    verification : str
        What was read, and where.
    population, period, statistic : str
        Whom and when the claim describes, and what is measured.
    function : str
        The estimator, a key of :data:`ESTIMATORS`.
    params : dict
        Its parameters.
    needs : str
        The data it needs, in words.
    figures : tuple of Figure
    """

    id: str
    claim: str
    citation: str
    read_at: str
    second_hand: bool
    verification: str
    population: str
    period: str
    statistic: str
    function: str
    params: dict
    needs: str
    figures: tuple[Figure, ...]


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataFormatError(f"{where}: field {key!r} must be a non-empty string", path=REGISTRY_PATH)
    return " ".join(value.split())


def _number(value, where: str, key: str, *, required: bool = False):
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataFormatError(f"{where}: {key} must be a number, not {value!r}", path=REGISTRY_PATH)
    return float(value)


def load_claims(path=None) -> list[Claim]:
    """Read the registry of published claims.

    Parameters
    ----------
    path : path, optional
        A YAML file in the registry's layout; default the one shipped with the package
        (:data:`REGISTRY_PATH`).

    Returns
    -------
    list of Claim
        In the file's order.

    Raises
    ------
    DataFormatError
        For a missing field, a duplicate id, or an estimator that does not exist.

    Examples
    --------
    >>> claims = load_claims()
    >>> len(claims) >= 10 and all(c.figures for c in claims)
    True
    """
    import yaml

    path = Path(path) if path is not None else REGISTRY_PATH
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise DataFormatError("the registry needs a top-level 'claims' list", path=path)
    claims, seen = [], set()
    for i, entry in enumerate(doc["claims"]):
        where = f"claim {i + 1} ({entry.get('id', '?') if isinstance(entry, dict) else '?'})"
        if not isinstance(entry, dict):
            raise DataFormatError(f"{where}: each claim must be a mapping", path=path)
        cid = _text(entry, "id", where)
        if cid in seen:
            raise DataFormatError(f"{where}: duplicate id {cid!r}", path=path)
        seen.add(cid)
        source = entry.get("source") or {}
        function = _text(entry, "function", where)
        if function not in ESTIMATORS:
            raise DataFormatError(f"{where}: no estimator {function!r}; known: {sorted(ESTIMATORS)}",
                                  path=path)
        figures = []
        for j, fig in enumerate(entry.get("figures") or []):
            fwhere = f"{where}, figure {j + 1}"
            test = fig.get("test", "within")
            if test not in ("within", "above"):
                raise DataFormatError(f"{fwhere}: test must be 'within' or 'above', not {test!r}", path=path)
            figures.append(Figure(
                key=str(fig.get("key") or f"figure {j + 1}"),
                value=_number(fig.get("value"), fwhere, "value", required=True),
                n=_number(fig.get("n"), fwhere, "n"), ci_low=_number(fig.get("ci_low"), fwhere, "ci_low"),
                ci_high=_number(fig.get("ci_high"), fwhere, "ci_high"), unit=str(fig.get("unit", "share")),
                test=test, params=dict(fig.get("params") or {}), note=str(fig.get("note") or "")))
        if not figures:
            raise DataFormatError(f"{where}: no figures", path=path)
        claims.append(Claim(
            id=cid, claim=_text(entry, "claim", where), citation=_text(source, "citation", where),
            read_at=_text(source, "read_at", where), second_hand=bool(source.get("second_hand", False)),
            verification=" ".join(str(source.get("verification") or "").split()),
            population=_text(entry, "population", where), period=_text(entry, "period", where),
            statistic=_text(entry, "statistic", where), function=function,
            params=dict(entry.get("params") or {}), needs=_text(entry, "needs", where),
            figures=tuple(figures)))
    return claims


# ---------------------------------------------------------------------------------------------
# the data
@dataclass
class Estimate:
    """What an estimator returns for one figure.

    Attributes
    ----------
    estimate, ci_low, ci_high : float
        The estimate and its 95% interval (NaN when there is none).
    n : int
        The count it rests on (organisations, re-inspections, trusts with events, ...).
    vintage : str
        Which data, and of when.
    note : str
        Anything the reader needs to compare it with the published figure.
    """

    estimate: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    vintage: str = ""
    note: str = ""


def _dates(values) -> str:
    d = pd.to_datetime(pd.Series(values), errors="coerce").dropna()
    return f"{d.min():%Y-%m-%d} to {d.max():%Y-%m-%d}" if len(d) else "no dates"


@dataclass
class ReplicationData:
    """The data a replication runs on, loaded lazily and once.

    Parameters
    ----------
    ratings_path : path, optional
        A CQC Latest ratings workbook (ODS/XLSX) or CSV: current ratings, locations and providers.
    api_path : path, optional
        A folder of CQC API records (``locations/``, ``providers/``): rating histories and
        inspection dates; also the current ratings when ``ratings_path`` is not given.
    indicators_paths : sequence of path
        Indicator files or folders: NHS Payments to General Practice CSVs (or a folder of them),
        a folder of official monthly A&E CSVs, an NHS-R tidy A&E CSV, SHMI, staff survey.
    data_date : str or Timestamp, optional
        When the data were extracted, for the age of ratings; default the newest publication date.
    synthetic : bool
        True for the embedded synthetic data (set by :meth:`from_paths`).
    tables : dict, optional
        Tables already in memory, used instead of loading: ``ratings`` (the long ratings table of
        ``io.cqc_files.load_latest_ratings``), ``history`` and ``relationships`` (as
        ``io.cqc_json.load_api_folder``), ``api`` (an ``ApiData``, for event dates),
        ``gp_payments`` and ``trust_indicators`` (lists of indicator tables), ``gp_linked`` and
        ``trust_linked`` (wide ratings already joined to indicators, as ``link_indicators(...).data``).
    source_files : dict, optional
        Indicator source (a key of :data:`cqc_research.indicator_sources.SOURCE_LEVELS`: ``qof``,
        ``gpps``, ``fft``, ``shmi``, ...) to its files, as
        :func:`~cqc_research.indicator_sources.indicator_sources` gives; default: the
        ``indicators_paths`` sorted by the kind of file each is (see :meth:`indicator_source_files`).

    Examples
    --------
    >>> data = ReplicationData(api_path=None)
    >>> try:
    ...     data.history()
    ... except NotComputable as exc:
    ...     print(exc)
    needs rating histories (a folder of CQC API records, --api-path)
    """

    ratings_path: Path | None = None
    api_path: Path | None = None
    indicators_paths: Sequence[Path] = ()
    data_date: object = None
    synthetic: bool = False
    tables: dict = field(default_factory=dict)
    source_files: dict | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_paths(cls, *, ratings_path=None, api_path=None, indicators_path=(), data_date=None,
                   default: bool = True) -> ReplicationData:
        """The data at these paths; with none given (and ``default``), the embedded synthetic data.

        Parameters
        ----------
        ratings_path, api_path : path or str, optional
            Empty strings count as not given.
        indicators_path : path, str or sequence of them
            A string may hold several paths separated by commas.
        data_date : str, optional
        default : bool
            Use the embedded synthetic dataset (written on first use) when no path is given.

        Returns
        -------
        ReplicationData

        Raises
        ------
        FileNotFoundError
            For a path that does not exist, naming its command-line flag.
        """
        from .provenance import is_synthetic

        if isinstance(indicators_path, str | Path):
            indicators_path = [indicators_path]
        inds = [p.strip() if isinstance(p, str) else p for item in indicators_path
                for p in (str(item).split(",") if isinstance(item, str) else [item])]
        inds = [Path(p).expanduser() for p in inds if str(p).strip()]
        ratings = Path(ratings_path).expanduser() if ratings_path else None
        api = Path(api_path).expanduser() if api_path else None
        source_files = None
        if default and ratings is None and api is None and not inds:  # the study's declared data
            from .indicator_sources import indicator_sources

            ratings, api = declared_path("ratings"), declared_path("api")
            inds = [p for p in (declared_path("indicators.gp_payments"),
                                declared_path("indicators.ae")) if p is not None]
            if ratings is not None or api is not None or inds:
                source_files = indicator_sources(None, synthetic=False)
        if default and ratings is None and api is None and not inds:
            from .indicator_sources import indicator_sources
            from .synthetic import ensure_default_data

            root = Path(ensure_default_data(quiet=True))
            ratings, api = root / "cqc" / "latest_ratings.ods", root / "cqc_api"
            inds = [root / "gp_payments", root / "ae"]
            source_files = indicator_sources(None, synthetic=True)
        for flag, p in [("--ratings-path", ratings), ("--api-path", api)] + [("--indicators-path", p) for p in inds]:
            if p is not None and not p.exists():
                raise FileNotFoundError(f"{flag} {p}: no such file or folder")
        if api is not None and not api.is_dir():
            raise NotADirectoryError(f"--api-path {api}: expected a folder of CQC API records")
        data_date = pd.Timestamp(data_date) if data_date else None
        sources = [p for p in [ratings, api, *inds] if p is not None]
        return cls(ratings_path=ratings, api_path=api, indicators_paths=tuple(inds), data_date=data_date,
                   synthetic=is_synthetic(*sources), source_files=source_files)

    # -- helpers --------------------------------------------------------------------------
    @property
    def sources(self) -> list[Path]:
        """The paths given, for a report's list of sources."""
        return [p for p in [self.ratings_path, self.api_path, *self.indicators_paths] if p is not None]

    def memo(self, key, compute: Callable):
        """``compute()`` the first time ``key`` is asked for, the stored result afterwards.

        Parameters
        ----------
        key : hashable
            Names the result (e.g. ``("wide", "location")``).
        compute : callable
            Called with no arguments to make the result; an exception it raises is not stored.

        Returns
        -------
        object
            The result stored under ``key``.

        Examples
        --------
        >>> data = ReplicationData()
        >>> data.memo("answer", lambda: 42), data.memo("answer", lambda: 0)
        (42, 42)
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- ratings --------------------------------------------------------------------------
    def ratings(self) -> pd.DataFrame:
        """The long current-ratings table (from ``ratings_path``, else from the API folder).

        Returns
        -------
        pandas.DataFrame
            ``tables["ratings"]`` when given, else the long table of
            :func:`~cqc_research.io.cqc_files.load_latest_ratings`, else the API folder's
            ``ratings``; loaded once.

        Raises
        ------
        NotComputable
            When there is neither a ratings file nor an API folder.
        """
        if "ratings" in self.tables:
            return self.tables["ratings"]

        def load():
            if self.ratings_path is not None:
                from .io.cqc_files import load_latest_ratings

                return load_latest_ratings(self.ratings_path)
            if self.api_path is not None or "api" in self.tables:
                return self.api().ratings
            raise NotComputable("needs current ratings (a Latest ratings workbook, --ratings-path, "
                                "or CQC API records, --api-path)")
        return self.memo("ratings", load)

    def ratings_source(self) -> str:
        """Where the current ratings come from, in words.

        Returns
        -------
        str
            E.g. ``"Latest ratings latest_ratings.ods"``, ``"CQC API records cqc_api"``,
            ``"ratings table given"`` or ``"none"``.

        Examples
        --------
        >>> ReplicationData().ratings_source()
        'none'
        """
        if "ratings" in self.tables:
            return "ratings table given"
        if self.ratings_path is not None:
            return f"Latest ratings {self.ratings_path.name}"
        return f"CQC API records {self.api_path.name}" if self.api_path else "none"

    def wide(self, level: str = "location") -> pd.DataFrame:
        """Wide ratings (``io.cqc_files.ratings_wide``) of one level.

        Parameters
        ----------
        level : {"location", "provider"}, default "location"
            The organisations wanted.

        Returns
        -------
        pandas.DataFrame
            One row per organisation of that level, a column per domain; built once.

        Raises
        ------
        NotComputable
            When the current ratings hold no organisation of that level.
        """
        from .io.cqc_files import ratings_wide

        def load():
            long = self.ratings()
            if not (long["level"] == level).any():
                if level == "provider":
                    raise NotComputable(
                        "needs trust-level ratings (the Providers sheet of a Latest ratings workbook, "
                        f"--ratings-path); {self.ratings_source()} holds location ratings only")
                raise NotComputable(f"needs location ratings; {self.ratings_source()} has none")
            try:
                return ratings_wide(long, level=level)
            except ValueError as exc:
                raise NotComputable(f"needs {level} ratings: {exc}") from exc
        return self.memo(("wide", level), load)

    def ratings_vintage(self, frame: pd.DataFrame | None = None, date: str = "publication_date") -> str:
        """``"<source>, ratings published <first> to <last>"``.

        Parameters
        ----------
        frame : pandas.DataFrame, optional
            The table whose dates are described; default :meth:`ratings`.
        date : str, default "publication_date"
            Its column of dates.

        Returns
        -------
        str
            The ratings' source (:meth:`ratings_source`) and the range of dates, for an
            :class:`Estimate`'s ``vintage``.
        """
        frame = self.ratings() if frame is None else frame
        return f"{self.ratings_source()}, ratings published {_dates(frame[date])}"

    # -- histories ------------------------------------------------------------------------
    def api(self):
        """The ``ApiData`` of ``api_path``.

        Returns
        -------
        cqc_research.io.cqc_json.ApiData
            ``tables["api"]`` when given, else :func:`~cqc_research.io.cqc_json.load_api_folder`
            of ``api_path``, loaded once.

        Raises
        ------
        NotComputable
            When there is no API folder.
        """
        if "api" in self.tables:
            return self.tables["api"]
        if self.api_path is None:
            raise NotComputable("needs rating histories (a folder of CQC API records, --api-path)")
        from .io.cqc_json import load_api_folder

        return self.memo("api", lambda: load_api_folder(self.api_path))

    def history(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The rating-history panel and the predecessor relationships.

        Returns
        -------
        history : pandas.DataFrame
            One row per organisation x report x domain
            (:data:`~cqc_research.io.cqc_json.HISTORY_COLUMNS`).
        relationships : pandas.DataFrame or None
            Predecessor links (None when a history table was given without them).

        Raises
        ------
        NotComputable
            When there is neither a history table nor an API folder.
        """
        if "history" in self.tables:
            return self.tables["history"], self.tables.get("relationships")
        api = self.api()
        return api.history, api.relationships

    def history_vintage(self) -> str:
        """``"<source>, reports <first> to <last>"`` for the rating histories.

        Returns
        -------
        str
            Where the histories come from and the range of their report dates, for an
            :class:`Estimate`'s ``vintage``.

        Raises
        ------
        NotComputable
            When there are no histories (see :meth:`history`).
        """
        history, _ = self.history()
        name = f"CQC API records {self.api_path.name}" if self.api_path is not None else "history table given"
        return f"{name}, reports {_dates(history['report_date'])}"

    # -- indicators -----------------------------------------------------------------------
    def _indicator_files(self) -> list[tuple[str, Path]]:
        from .io.nhs import detect_indicator_kind

        def scan():
            found = []
            for p in self.indicators_paths:
                kind = detect_indicator_kind(p)
                if kind is not None:
                    found.append((kind, p))
                elif p.is_dir():
                    found.extend((k, f) for f in sorted(p.iterdir())
                                 if f.suffix.lower() in (".csv", ".xls", ".xlsx")
                                 and not f.name.startswith(".")
                                 and (k := detect_indicator_kind(f)) is not None)
                else:
                    raise DataFormatError("--indicators-path: not a recognised NHS indicator file", path=p)
            return found
        return self.memo("indicator_files", scan)

    def indicator_source_files(self) -> dict[str, list[Path]]:
        """The indicator files given, by source (``qof``, ``gpps``, ``fft``, ``shmi``, ...).

        Returns
        -------
        dict of str to list of Path
            ``source_files`` when given; else each of ``indicators_paths`` (or, in a folder, each
            CSV) under the source its kind of file belongs to (an A&E folder is one ``ae``
            series); kinds that are no source of :mod:`cqc_research.indicator_sources` (e.g. a
            deprivation CSV) are left out.

        Raises
        ------
        DataFormatError
            For an indicator path that is no recognised NHS indicator file.

        Examples
        --------
        >>> ReplicationData(source_files={"qof": []}).indicator_source_files()
        {'qof': []}
        """
        if self.source_files is not None:
            return self.source_files
        found: dict[str, list[Path]] = {}
        for kind, path in self._indicator_files():
            source = _KIND_SOURCE.get(kind)
            if source is not None:
                found.setdefault(source, []).append(path)
        return found

    def gp_payments(self) -> list[pd.DataFrame]:
        """NHS Payments to General Practice tables, oldest year first.

        Returns
        -------
        list of pandas.DataFrame
            One tidy indicator table per payments file among ``indicators_paths`` (or
            ``tables["gp_payments"]``), loaded once.

        Raises
        ------
        NotComputable
            When no GP payments file was given.
        """
        if "gp_payments" in self.tables:
            return self.tables["gp_payments"]
        files = [p for k, p in self._indicator_files() if k == "gp_payments"]
        if not files:
            raise NotComputable("needs GP payments indicators (NHS Payments to General Practice CSVs, "
                                "--indicators-path)")
        from .io import read_source

        return self.memo("gp_payments", lambda: [read_source(f) for f in files])

    def trust_indicators(self) -> list[pd.DataFrame]:
        """Trust-level indicator tables (A&E, SHMI, staff survey).

        Returns
        -------
        list of pandas.DataFrame
            The trust rows of each trust-level indicator file among ``indicators_paths`` (or
            ``tables["trust_indicators"]``), files with none left out; loaded once.

        Raises
        ------
        NotComputable
            When no trust-level indicator file was given.
        """
        if "trust_indicators" in self.tables:
            return self.tables["trust_indicators"]
        files = [p for k, p in self._indicator_files() if k in _TRUST_KINDS]
        if not files:
            raise NotComputable("needs trust-level indicators (monthly A&E CSVs or SHMI, "
                                "--indicators-path)")
        from .io import read_source

        def load():
            frames = [f for f in (read_source(p) for p in files) if f is not None]
            frames = [f[f["org_level"] == "trust"] if "org_level" in f else f for f in frames]
            return [f for f in frames if len(f)]
        return self.memo("trust_indicators", load)

    def gp_linked(self) -> pd.DataFrame:
        """GP practices' wide ratings joined to the payments year that ended before each rating.

        Returns
        -------
        pandas.DataFrame
            ``link_indicators(...).data`` of the GP practices' location ratings and the GP
            payments measures (or ``tables["gp_linked"]``); built once.

        Raises
        ------
        NotComputable
            When there are no GP practice ratings or no GP payments files.
        """
        from .link import link_indicators
        from .ratings import filter_sector

        if "gp_linked" in self.tables:
            return self.tables["gp_linked"]

        def load():
            wide = filter_sector(self.wide("location"), "GP practices")
            if wide.empty:
                raise NotComputable(f"needs GP practice ratings; {self.ratings_source()} has none")
            payments = self.gp_payments()
            measures = [m for m in GP_MEASURES if any((p["measure"] == m).any() for p in payments)]
            link = link_indicators(wide, payments, level="practice", measures=measures, sector=None)
            return link.data
        return self.memo("gp_linked", load)

    def gp_vintage(self) -> str:
        """The vintage of :meth:`gp_linked`: ratings published when, and which payments years.

        Returns
        -------
        str
            For an :class:`Estimate`'s ``vintage``.

        Raises
        ------
        NotComputable
            When the GP data cannot be loaded (see :meth:`gp_linked`).
        """
        if "gp_linked" in self.tables:
            return f"linked table given, ratings published {_dates(self.tables['gp_linked']['publication_date'])}"
        years = [str(p["financial_year"].iloc[0]) if len(p) else "?" for p in self.gp_payments()]
        return f"{self.ratings_vintage(self.gp_linked())}; GP payments {', '.join(years)}"


# ---------------------------------------------------------------------------------------------
# estimators: one function per kind of claim, each calling the library the notebooks call
def _ci(value) -> float:
    return float(value) if value is not None and pd.notna(value) else math.nan


def agreement_with_overall(data: ReplicationData, *, domain: str, level: str = "provider",
                           sector: str | None = "NHS hospitals") -> Estimate:
    """Share of organisations whose ``domain`` rating equals their Overall rating.

    Parameters
    ----------
    data : ReplicationData
    domain : str
        A key question.
    level : {"provider", "location"}
        Trust-level claims need provider ratings.
    sector : str, optional
        A sector or inspection category (``ratings.filter_sector``).

    Returns
    -------
    Estimate
        From :func:`cqc_research.metrics.agreement.domain_agreement` (Wilson interval).
    """
    from .metrics.agreement import domain_agreement
    from .ratings import filter_sector

    def compute():
        wide = filter_sector(data.wide(level), sector) if sector else data.wide(level)
        if wide["Overall"].notna().sum() == 0:
            raise NotComputable(f"needs {level}-level ratings of {sector or 'any sector'}; "
                                f"{data.ratings_source()} has none")
        return wide, domain_agreement(wide)
    wide, table = data.memo(("agreement", level, sector), compute)
    row = table[table["domain"] == domain].iloc[0]
    if not row["n"]:
        raise NotComputable(f"no {level} has both an Overall and a {domain} rating")
    return Estimate(row["agreement"], row["agreement_ci_low"], row["agreement_ci_high"], int(row["n"]),
                    data.ratings_vintage(wide), note=f"{level}s of {sector or 'every sector'}")


def improvement_after(data: ReplicationData, *, rating: str = "Inadequate", outcome: str = "improved",
                      sector: str | None = None, first_inspection: bool = False,
                      level: str = "location") -> Estimate:
    """What followed a rating at the next inspection, as a share of re-inspections.

    Parameters
    ----------
    data : ReplicationData
    rating : str
        The starting Overall rating.
    outcome : str
        An outcome of :func:`cqc_research.metrics.transitions.improvement_from` (``improved``,
        ``same``, ``worse``, ``to Good``, ...) or ``not improved`` (same or worse).
    sector : str, optional
        Keep re-inspections in this sector.
    first_inspection : bool
        Count only services whose *first* rating was ``rating`` (each journey's first pair).
    level : str
        ``location`` (default) or ``provider``.

    Returns
    -------
    Estimate
        Wilson interval (statsmodels); n is the number of re-inspections.
    """
    from statsmodels.stats.proportion import proportion_confint

    from .metrics.transitions import consecutive_pairs, improvement_from

    def pairs_all():
        history, relationships = data.history()
        return consecutive_pairs(history, domain="Overall", relationships=relationships, level=level)
    pairs = data.memo(("pairs", level), pairs_all)
    if first_inspection:
        pairs = (pairs.sort_values("from_date", kind="stable")
                 .drop_duplicates(subset=["journey_id", "domain"], keep="first"))
    if sector:
        pairs = pairs[pairs["sector"].astype(str) == sector]
    table = improvement_from(pairs, rating=rating, by=None).set_index("outcome")
    total = int(table["total"].iloc[0])
    what = f"{level}s {'first ' if first_inspection else ''}rated {rating}{' (' + sector + ')' if sector else ''}"
    if total == 0:
        raise NotComputable(f"no {what} were re-inspected in these data")
    if outcome == "not improved":
        k = int(table.loc["same", "n"] + table.loc["worse", "n"])
        lo, hi = proportion_confint(k, total, method="wilson")
        share = k / total
    elif outcome in table.index:
        share, lo, hi = table.loc[outcome, ["share", "ci_low", "ci_high"]]
    else:
        raise ValueError(f"outcome must be 'not improved' or one of {list(table.index)}, not {outcome!r}")
    return Estimate(float(share), float(lo), float(hi), total, data.history_vintage(),
                    note=f"{total:,} re-inspections of {what}")


def _joined(*parts) -> str:
    """Non-empty notes joined with semicolons."""
    return "; ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())


def indicator_prediction(data: ReplicationData, *, statistic: str, domain: str = "Overall",
                         indicators: Sequence[str] = ("list_size", "payments_per_weighted_patient",
                                                      "qof_payments_per_patient"),
                         folds: int = 5, seed: int = 20240501, min_practices: int = 30) -> Estimate:
    """Cross-validated ordered-logit prediction of GP practices' ratings from payments indicators.

    Parameters
    ----------
    data : ReplicationData
    statistic : {"accuracy", "modal_share", "weighted_kappa"}
        A column of :func:`cqc_research.metrics.prediction.cross_validated_prediction`'s summary.
    domain : str
        The rating predicted.
    indicators : sequence of str
        Payments measures (the published study used CQC's Intelligent Monitoring indicators).
    folds, seed : int
        Cross-validation folds and the seed of their assignment.
    min_practices : int
        Fewer linked practices than this: not computable.

    Returns
    -------
    Estimate
    """
    from .metrics.prediction import cross_validated_prediction

    def compute():
        linked = data.gp_linked()
        missing = [i for i in indicators if i not in linked.columns]
        if missing:
            raise NotComputable(f"the GP payments files lack {missing}")
        d = linked.dropna(subset=[domain, *indicators])
        if len(d) < min_practices or d[domain].nunique() < 2:
            raise NotComputable(f"only {len(d)} GP practices link to payments published before their "
                                f"rating (needs {min_practices} with two or more ratings)")
        return cross_validated_prediction(d, rating=domain, indicators=list(indicators), folds=folds, seed=seed)
    cv = data.memo(("gp_cv", domain, tuple(indicators), folds, seed), compute)
    s = cv.summary.iloc[0]
    return Estimate(float(s[statistic]), _ci(s.get(f"{statistic}_ci_low")), _ci(s.get(f"{statistic}_ci_high")),
                    int(s["n"]), data.gp_vintage(),
                    note=_joined(f"{folds}-fold CV on {', '.join(indicators)}", s["note"]))


def trust_prediction(data: ReplicationData, *, statistic: str, domain: str = "Overall",
                     measures: Sequence[str] = ("ae_4hr_performance_all",), window: int = 12,
                     folds: int = 5, seed: int = 20240501, min_trusts: int = 30) -> Estimate:
    """Cross-validated prediction of NHS trusts' ratings from trust-level indicators.

    Each trust's provider rating is linked to the mean of each measure over the 12 months before
    publication (:func:`cqc_research.link.link_indicators`, ``level="trust"``).

    Parameters
    ----------
    data : ReplicationData
    statistic : {"accuracy", "modal_share", "weighted_kappa"}
    domain : str
    measures : sequence of str
        Trust-level indicator measures.
    window : int
        Months averaged before publication.
    folds, seed : int
    min_trusts : int
        Fewer linked trusts than this: not computable.

    Returns
    -------
    Estimate
    """
    from .link import link_indicators
    from .metrics.prediction import cross_validated_prediction
    from .ratings import filter_sector

    def compute():
        if "trust_linked" in data.tables:
            linked = data.tables["trust_linked"]
        else:
            wide = filter_sector(data.wide("provider"), "NHS hospitals")
            ind = data.trust_indicators()
            linked = link_indicators(wide, ind, level="trust", measures=list(measures), window=window,
                                     sector=None).data
        if any(m not in linked for m in measures):
            raise NotComputable(f"the trust indicators lack {[m for m in measures if m not in linked]}")
        d = linked.dropna(subset=[domain, *measures])
        if len(d) < min_trusts or d[domain].nunique() < 2:
            raise NotComputable(f"only {len(d)} NHS trusts have a rating and the indicators before it "
                                f"(needs {min_trusts})")
        return d, cross_validated_prediction(d, rating=domain, indicators=list(measures), folds=folds, seed=seed)
    d, cv = data.memo(("trust_cv", domain, tuple(measures), window, folds, seed), compute)
    s = cv.summary.iloc[0]
    return Estimate(float(s[statistic]), _ci(s.get(f"{statistic}_ci_low")), _ci(s.get(f"{statistic}_ci_high")),
                    int(s["n"]), data.ratings_vintage(d),
                    note=_joined(f"{folds}-fold CV on {', '.join(measures)} ({window}-month means)", s["note"]))


def source_prediction(data: ReplicationData, *, statistic: str, level: str, sources: Sequence[str],
                      domain: str = "Overall", folds: int = 5, seed: int = 20240501,
                      min_orgs: int = 30) -> Estimate:
    """Cross-validated ordered-logit prediction of ratings from the indicator sources a paper used.

    Each source among ``sources`` that the data hold is linked to the ratings with its own
    leakage-safe window (:func:`cqc_research.indicator_sources.link_sources`: the last period
    that ended before publication, or the mean of the 12 months before it); the model uses each
    linked source's headline measures (``LinkedIndicators.headline``), as notebook 02 does.

    Parameters
    ----------
    data : ReplicationData
    statistic : {"accuracy", "modal_share", "weighted_kappa"}
        A column of :func:`cqc_research.metrics.prediction.cross_validated_prediction`'s summary.
    level : {"practice", "trust"}
        GP practices' location ratings, or NHS trusts' provider ratings.
    sources : sequence of str
        Keys of :data:`cqc_research.indicator_sources.SOURCE_LEVELS` (``qof``, ``gpps``, ``shmi``,
        ...): the kinds of indicator the paper's model used.
    domain : str
        The rating predicted.
    folds, seed : int
        Cross-validation folds and the seed of their assignment.
    min_orgs : int
        Fewer organisations with a rating and every headline measure than this: not computable.

    Returns
    -------
    Estimate
        The note names the sources used and those the data lack.

    Raises
    ------
    NotComputable
        When the data hold none of ``sources`` at ``level``, or too few organisations link.
    """
    from .indicator_sources import link_sources
    from .metrics.prediction import cross_validated_prediction
    from .study import INDICATOR_KEYS

    wanted = list(sources)
    held = {k: v for k, v in data.indicator_source_files().items() if k in wanted and v}
    what = "GP practices" if level == "practice" else "NHS trusts"
    names = ", ".join(INDICATOR_KEYS.get(k, k) for k in wanted)
    if not held:
        raise NotComputable(f"needs the paper's kinds of indicator for {what} ({names}); "
                            "the data given hold none of them (--indicators-path or the study's "
                            "cqc-research.toml)")

    def compute():
        # linked once for every figure of the claim (each domain and statistic)
        linked = data.memo(("source_link", level, tuple(sorted(held))),
                           lambda: link_sources(data.ratings(), sources=held, level=level))
        used = list(linked.measures)
        if not used or not linked.headline:
            raise NotComputable(f"none of {sorted(held)} has {level}-level rows to link")
        d = linked.data.dropna(subset=[domain, *linked.headline]) if domain in linked.data else linked.data.iloc[:0]
        if len(d) < min_orgs or d[domain].nunique() < 2:
            raise NotComputable(f"only {len(d)} {what} have {domain} ratings and {', '.join(linked.headline)} "
                                f"before them (needs {min_orgs}, with two or more ratings)")
        cv = cross_validated_prediction(d, rating=domain, indicators=list(linked.headline), folds=folds, seed=seed)
        return d, used, list(linked.headline), cv
    d, used, headline, cv = data.memo(("source_cv", level, tuple(wanted), domain, folds, seed), compute)
    s = cv.summary.iloc[0]
    lacking = [k for k in wanted if k not in used]
    return Estimate(float(s[statistic]), _ci(s.get(f"{statistic}_ci_low")), _ci(s.get(f"{statistic}_ci_high")),
                    int(s["n"]), data.ratings_vintage(d),
                    note=_joined(f"{folds}-fold CV on {', '.join(headline)} (sources: {', '.join(used)}"
                                 + (f"; not held: {', '.join(lacking)}" if lacking else "") + ")", s["note"]))


def funding_odds_ratio(data: ReplicationData, *, indicator: str = "payments_per_patient",
                       domain: str = "Overall") -> Estimate:
    """Ordered-logit odds ratio of a better rating per standard deviation of a payments measure.

    Parameters
    ----------
    data : ReplicationData
    indicator : str
        The payments measure (total payments per registered patient by default).
    domain : str

    Returns
    -------
    Estimate
        From :func:`cqc_research.metrics.prediction.ordered_logit` (unadjusted, Wald interval).
    """
    from .metrics.prediction import ordered_logit

    linked = data.gp_linked()
    if indicator not in linked.columns:
        raise NotComputable(f"the GP payments files lack {indicator!r}")
    d = linked.dropna(subset=[domain, indicator])
    if len(d) < 30 or d[domain].nunique() < 2:
        raise NotComputable(f"only {len(d)} GP practices link to payments before their rating (needs 30)")
    row = ordered_logit(d, rating=domain, indicators=[indicator]).iloc[0]
    return Estimate(float(row["odds_ratio_per_sd"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"]),
                    data.gp_vintage(), note=f"per SD of {indicator} (SD {row['sd']:.2f}); unadjusted")


def not_loaded(data: ReplicationData, *, needs: str) -> Estimate:
    """For claims on data the project does not load: always :class:`NotComputable`.

    Parameters
    ----------
    data : ReplicationData
        Not used (taken so that every estimator has the same signature).
    needs : str
        The data the claim rests on, named in the error.

    Raises
    ------
    NotComputable
        Always: ``"needs <needs>, which cqc-research does not load"``.
    """
    raise NotComputable(f"needs {needs}, which cqc-research does not load")


def inspection_effect(data: ReplicationData, *, measure: str = "ae_4hr_performance_all",
                      event: str = "inspection", window: int = 12, post_months: int = 6,
                      sector: str = "NHS hospitals") -> Estimate:
    """Mean change of a monthly trust indicator in months 1..``post_months`` after an event.

    The event study of notebook 04 (:func:`cqc_research.metrics.events.event_study`): trust and
    month fixed effects, the month before the event as reference, intervals clustered by trust.

    Parameters
    ----------
    data : ReplicationData
    measure : str
        A monthly trust-level measure.
    event : {"inspection", "publication"}
    window, post_months : int
    sector : str

    Returns
    -------
    Estimate
        n is the number of trusts with an event in the indicator's period.
    """
    from .metrics.events import event_contrasts, event_dates, event_study

    def compute():
        frames = [f[f["measure"] == measure] for f in data.trust_indicators()]
        panel = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
        if panel is None:
            raise NotComputable(f"needs a monthly trust-level {measure} series (e.g. A&E CSVs, --indicators-path)")
        panel = panel.dropna(subset=["value"])
        events = event_dates(data.api(), event=event, sector=sector).rename(columns={"provider_id": "org_code"})
        events = events[events["org_code"].isin(set(panel["org_code"]))]
        first, last = panel["period_start"].min(), panel["period_start"].max()
        inside = events[(events["event_date"] >= first) & (events["event_date"] <= last)]
        if inside.empty:
            raise NotComputable(f"no NHS trust's {event} falls inside the {measure} series "
                                f"({first:%Y-%m} to {last:%Y-%m})")
        res = event_study(panel, events=events, window=(-window, window), lags=(1, post_months))
        return panel, res
    panel, res = data.memo(("event", measure, event, window, post_months), compute)
    lag = event_contrasts(res).set_index("contrast").loc["lags"]
    return Estimate(float(lag["estimate"]), float(lag["ci_low"]), float(lag["ci_high"]),
                    int(res["n_event_units"].iloc[0]),
                    f"{data.history_vintage()}; {measure} {_dates(panel['period_start'])}",
                    note=f"{int(res['n_events'].iloc[0])} {event}s in {int(res['n_event_units'].iloc[0])} trusts, "
                         f"{int(res['n_units_total'].iloc[0])} trusts in all")


def rating_age(data: ReplicationData, *, location_type: str | None = None, min_n: int = 5) -> Estimate:
    """Mean age in years of locations' current Overall ratings at the data date.

    Parameters
    ----------
    data : ReplicationData
        ``data_date`` sets the date; default the newest publication date in the ratings.
    location_type : str, optional
        Keep one CQC location type (``Primary Medical Services``, ``Social Care Org``, ``NHS
        Healthcare Organisation``), as CQC's table to the Dash review does.
    min_n : int
        With fewer rated locations the mean is given without an interval (too few to say).

    Returns
    -------
    Estimate
        Mean with a t interval (statsmodels ``DescrStatsW``).
    """
    from statsmodels.stats.weightstats import DescrStatsW

    wide = data.wide("location")
    rated = wide[wide["Overall"].notna() & wide["publication_date"].notna()]
    if rated.empty:
        raise NotComputable(f"no location in {data.ratings_source()} has a dated Overall rating")
    as_of = pd.Timestamp(data.data_date) if data.data_date is not None else rated["publication_date"].max()
    if location_type:
        if "location_type" not in rated:
            raise NotComputable("the ratings have no location type")
        rated = rated[rated["location_type"].astype(str) == location_type]
        if rated.empty:
            raise NotComputable(f"no rated location of type {location_type!r}")
    years = ((as_of - rated["publication_date"]).dt.days / 365.25).to_numpy(dtype=float)
    stats = DescrStatsW(years)
    lo, hi = stats.tconfint_mean() if len(years) >= max(min_n, 2) else (math.nan, math.nan)
    return Estimate(float(stats.mean), float(lo), float(hi), len(years),
                    f"{data.ratings_vintage(rated)}; age at {as_of:%Y-%m-%d}",
                    note=f"{len(years):,} rated locations")


def variation_at_equal_resources(data: ReplicationData, *, resource: str = "payments_per_weighted_patient",
                                 domain: str = "Overall", deciles: int = 10) -> Estimate:
    """The smallest share, across deciles of a resource measure, rated other than the decile's mode.

    Parameters
    ----------
    data : ReplicationData
    resource : str
    domain : str
    deciles : int

    Returns
    -------
    Estimate
        The decile with the least variation, with the Wilson interval of its share
        (:func:`cqc_research.metrics.prediction.variation_at_equal_resources`); n is the number of
        linked practices.
    """
    from .metrics.intervals import proportion_ci as wilson_ci
    from .metrics.prediction import variation_at_equal_resources as _variation

    linked = data.gp_linked()
    if resource not in linked.columns:
        raise NotComputable(f"the GP payments files lack {resource!r}")
    d = linked.dropna(subset=[domain, resource])
    if len(d) < 3 * deciles:
        raise NotComputable(f"only {len(d)} GP practices link to payments (needs {3 * deciles})")
    var = _variation(d, rating=domain, resource=resource, deciles=deciles, n_perm=0)
    per = var.groupby("decile").agg(n=("n", "first"), top=("count", "max"))
    per["off"] = per["n"] - per["top"]
    per["share"] = per["off"] / per["n"]
    low = per["share"].idxmin()
    lo, hi = wilson_ci(per.loc[low, "off"], per.loc[low, "n"])
    return Estimate(float(per.loc[low, "share"]), lo, hi, int(per["n"].sum()), data.gp_vintage(),
                    note=f"decile {low} of {len(per)} by {resource}; shares off the modal rating "
                         f"{per['share'].min():.0%} to {per['share'].max():.0%}")


#: Estimator name (the registry's ``function``) -> ``function(data, **params) -> Estimate``.
ESTIMATORS: dict[str, Callable[..., Estimate]] = {
    "agreement_with_overall": agreement_with_overall,
    "improvement_after": improvement_after,
    "indicator_prediction": indicator_prediction,
    "trust_prediction": trust_prediction,
    "source_prediction": source_prediction,
    "funding_odds_ratio": funding_odds_ratio,
    "not_loaded": not_loaded,
    "inspection_effect": inspection_effect,
    "rating_age": rating_age,
    "variation_at_equal_resources": variation_at_equal_resources,
}


# ---------------------------------------------------------------------------------------------
# running the registry
def estimate_figure(data: ReplicationData, claim: Claim, figure: Figure) -> Estimate:
    """Our estimate of one published figure (raises :class:`NotComputable` when there is none).

    Parameters
    ----------
    data : ReplicationData
    claim : Claim
    figure : Figure

    Returns
    -------
    Estimate
    """
    return ESTIMATORS[claim.function](data, **{**claim.params, **figure.params})


def verdict(figure: Figure, estimate: Estimate | None) -> tuple[str, str]:
    """Compare a published figure with our estimate.

    Parameters
    ----------
    figure : Figure
        ``test="within"``: consistent when the published value lies in our 95% interval or,
        when the source gave an interval, when the two intervals overlap. ``test="above"``:
        consistent when our whole interval lies above ``figure.value``.
    estimate : Estimate or None
        None, or an estimate without an interval, cannot be judged.

    Returns
    -------
    (verdict, reason) : tuple of str
        ``verdict`` is one of :data:`VERDICTS`.

    Examples
    --------
    >>> verdict(Figure("x", 0.76), Estimate(0.8, 0.7, 0.9, 50))
    ('consistent', '0.76 lies in 0.7 to 0.9')
    >>> verdict(Figure("x", 1.13, ci_low=1.06, ci_high=1.19), Estimate(0.9, 0.8, 1.0, 50))[0]
    'differs'
    """
    if estimate is None:
        return "not computable", "no estimate"
    lo, hi = estimate.ci_low, estimate.ci_high
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "not computable", f"an estimate of {estimate.estimate:.3g} without an interval (n = {estimate.n})"
    v = figure.value
    if figure.test == "above":
        ok = lo > v + 1e-9  # a Wilson bound of 0 successes can come out as 5e-17
        return ("consistent" if ok else "differs"), f"interval {lo:.3g} to {hi:.3g} {'above' if ok else 'not above'} {v:.3g}"
    if figure.ci_low is not None and figure.ci_high is not None:
        ok = figure.ci_low <= hi and lo <= figure.ci_high
        return (("consistent" if ok else "differs"),
                f"published {figure.ci_low:.3g} to {figure.ci_high:.3g} {'overlaps' if ok else 'misses'} {lo:.3g} to {hi:.3g}")
    ok = lo <= v <= hi
    return ("consistent" if ok else "differs"), f"{v:.3g} {'lies in' if ok else 'lies outside'} {lo:.3g} to {hi:.3g}"


_ESTIMATE_ERRORS = (ValueError, DataFormatError, np.linalg.LinAlgError, KeyError)

#: Columns of :func:`replicate`'s table, in order.
COLUMNS = [
    "claim_id", "figure", "claim", "citation", "read_at", "second_hand", "population", "period",
    "statistic", "unit", "published_value", "published_n", "published_ci_low", "published_ci_high",
    "published_note", "estimate", "ci_low", "ci_high", "n", "data_vintage", "synthetic", "verdict",
    "reason", "note", "function", "needs",
]


def replicate(data: ReplicationData | None = None, claims: Iterable[Claim] | None = None, *,
              ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Every published figure beside our estimate on ``data``, with a verdict.

    Parameters
    ----------
    data : ReplicationData, optional
        Default: the embedded synthetic data.
    claims : iterable of Claim, optional
        Default: the registry (:func:`load_claims`).
    ids : iterable of str, optional
        Keep only these claim ids.

    Returns
    -------
    pandas.DataFrame
        One row per figure, the columns of :data:`COLUMNS`. ``verdict`` is one of
        :data:`VERDICTS`; ``reason`` says why (the comparison, or what the data lack).

    Raises
    ------
    CQCResearchError
        For an unknown id.
    """
    data = data if data is not None else ReplicationData.from_paths()
    claims = list(claims) if claims is not None else load_claims()
    if ids:
        ids = list(ids)
        unknown = sorted(set(ids) - {c.id for c in claims})
        if unknown:
            raise CQCResearchError(f"unknown claim id(s) {unknown}; known: {[c.id for c in claims]}")
        claims = [c for c in claims if c.id in ids]
    rows = []
    for claim in claims:
        for fig in claim.figures:
            est, reason = None, ""
            try:
                est = estimate_figure(data, claim, fig)
            except NotComputable as exc:
                reason = str(exc)
            except _ESTIMATE_ERRORS as exc:
                reason = f"could not be estimated on these data: {exc}"
            if est is not None:
                outcome, reason = verdict(fig, est)
            else:
                outcome = "not computable"
            rows.append({
                "claim_id": claim.id, "figure": fig.key, "claim": claim.claim, "citation": claim.citation,
                "read_at": claim.read_at, "second_hand": claim.second_hand, "population": claim.population,
                "period": claim.period, "statistic": claim.statistic, "unit": fig.unit,
                "published_value": fig.value, "published_n": fig.n, "published_ci_low": fig.ci_low,
                "published_ci_high": fig.ci_high, "published_note": fig.note,
                "estimate": est.estimate if est else math.nan, "ci_low": est.ci_low if est else math.nan,
                "ci_high": est.ci_high if est else math.nan, "n": est.n if est else pd.NA,
                "data_vintage": est.vintage if est else "", "synthetic": bool(data.synthetic),
                "verdict": outcome, "reason": reason, "note": est.note if est else "",
                "function": claim.function, "needs": claim.needs,
            })
    out = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("published_value", "published_n", "published_ci_low", "published_ci_high", "estimate",
                "ci_low", "ci_high"):
        out[col] = pd.to_numeric(out[col]).astype(float)
    out["n"] = out["n"].astype("Int64")
    out["verdict"] = pd.Categorical(out["verdict"], categories=list(VERDICTS))
    return out


# ---------------------------------------------------------------------------------------------
# presenting
_UNIT_GROUPS = {"share": "share or kappa", "kappa": "share or kappa", "odds ratio": "odds ratio",
                "years": "years", "percentage points": "percentage points"}
_VERDICT_COLOURS = {"consistent": "#0b6e2f", "differs": "#b00020", "not computable": "#777777"}


def published_vs_estimated_plot(table: pd.DataFrame, *, title: str | None = None):
    """Published against estimated values, one panel per unit, with our 95% intervals.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`replicate`; figures without an estimate are left out.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Points on the dashed line would be exact replications; colour is the verdict. Published
        intervals, where given, are drawn across.
    """
    import matplotlib.pyplot as plt

    t = table[table["estimate"].notna()].copy()
    t["group"] = t["unit"].map(_UNIT_GROUPS).fillna(t["unit"])
    groups = list(dict.fromkeys(t["group"])) or ["share or kappa"]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.2), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        sub = t[t["group"] == g]
        for v, part in sub.groupby("verdict", observed=True):
            yerr = np.vstack([(part["estimate"] - part["ci_low"]).clip(lower=0),
                              (part["ci_high"] - part["estimate"]).clip(lower=0)])
            xerr = np.vstack([(part["published_value"] - part["published_ci_low"]).clip(lower=0),
                              (part["published_ci_high"] - part["published_value"]).clip(lower=0)])
            ax.errorbar(part["published_value"], part["estimate"], yerr=np.nan_to_num(yerr),
                        xerr=np.nan_to_num(xerr.astype(float)), fmt="o",
                        color=_VERDICT_COLOURS[str(v)], ecolor=_VERDICT_COLOURS[str(v)], alpha=0.85,
                        capsize=3, label=str(v))
        vals = pd.concat([sub["published_value"], sub["ci_low"], sub["ci_high"], sub["estimate"]]).dropna()
        lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
        pad = 0.08 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ls="--", color="#888", lw=1)
        ax.set_xlabel(f"published ({g})")
        ax.set_ylabel(f"estimated ({g}, 95% CI)")
        ax.set_title(g)
        if len(sub):
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(title or "Published figures against our estimates (published intervals across, ours up)")
    fig.tight_layout()
    return fig


def _fmt(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return ""
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "years":
        return f"{value:.2f}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _interval(lo, hi, unit: str) -> str:
    a, b = _fmt(lo, unit), _fmt(hi, unit)
    return f"{a} to {b}" if a and b else ""


def render_html(table: pd.DataFrame, *, title: str = "The published record, replicated",
                sources: Sequence = ()) -> str:
    """The HTML page of a replication table (jinja2 template, autoescape on).

    Parameters
    ----------
    table : DataFrame
        The output of :func:`replicate`.
    title : str
    sources : sequence of path
        The data given, listed on the page.

    Returns
    -------
    str
    """
    from .notebook_output import banner_html
    from .templating import Markup, render

    synthetic = bool(table["synthetic"].any()) if len(table) else False
    rows = []
    for r in table.itertuples(index=False):
        rows.append({
            "claim_id": r.claim_id, "figure": r.figure, "claim": r.claim, "citation": r.citation,
            "read_at": r.read_at, "second_hand": bool(r.second_hand), "statistic": r.statistic,
            "population": r.population, "period": r.period,
            "published": _fmt(r.published_value, r.unit)
                         + (f" ({_interval(r.published_ci_low, r.published_ci_high, r.unit)})"
                            if pd.notna(r.published_ci_low) else ""),
            "published_n": "" if pd.isna(r.published_n) else f"{int(r.published_n):,}",
            "published_note": r.published_note, "estimate": _fmt(r.estimate, r.unit),
            "interval": _interval(r.ci_low, r.ci_high, r.unit),
            "n": "" if pd.isna(r.n) else f"{int(r.n):,}", "vintage": r.data_vintage,
            "verdict": str(r.verdict), "css": str(r.verdict).replace(" ", "-"), "reason": r.reason,
            "note": r.note,
        })
    counts = table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)
    return str(render(
        "replications.html.j2", title=title, banner=Markup(banner_html(synthetic)), rows=rows,
        counts={k: int(v) for k, v in counts.items()}, n_claims=int(table["claim_id"].nunique()),
        sources=[str(s) for s in sources], generated=f"{_dt.date.today():%d %B %Y}"))


def write_outputs(table: pd.DataFrame, out_dir, *, sources: Sequence = ()) -> dict[str, Path]:
    """Write ``replications.csv`` and ``replications.html`` into ``out_dir`` (atomically).

    A synthetic table gets a leading ``data_status`` column reading ``SYNTHETIC DATA``, like every
    table a notebook saves.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`replicate` (one row per published figure, with a ``synthetic``
        column).
    out_dir : str or Path
        The folder to write into (created if needed).
    sources : sequence, optional
        The data's sources (paths), listed in the HTML page.

    Returns
    -------
    dict
        ``{"csv": path, "html": path}``.
    """
    from .cache import atomic_path
    from .provenance import BANNER_TEXT

    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = table.copy()
    if len(csv) and csv["synthetic"].any():
        csv.insert(0, "data_status", BANNER_TEXT)
    paths = {"csv": out_dir / "replications.csv", "html": out_dir / "replications.html"}
    with atomic_path(paths["csv"]) as tmp:
        csv.to_csv(tmp, index=False)
    with atomic_path(paths["html"]) as tmp:
        Path(tmp).write_text(render_html(table, sources=sources), encoding="utf-8")
    return paths


def summary_lines(table: pd.DataFrame) -> list[str]:
    """The replication table as console lines: one per figure, then the count of each verdict.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`replicate`.

    Returns
    -------
    list of str
        One line per figure (claim, figure, published value, our estimate with its interval and
        n, the verdict and its reason), and a last line counting claims, figures and verdicts.
    """
    lines = []
    for r in table.itertuples(index=False):
        est = _fmt(r.estimate, r.unit)
        shown = f"{est} ({_interval(r.ci_low, r.ci_high, r.unit) or 'no interval'}, n={r.n})" if est else "-"
        lines.append(f"{r.claim_id:<38} {r.figure[:34]:<34} published {_fmt(r.published_value, r.unit):>7}  "
                     f"estimate {shown:<36} {r.verdict}: {r.reason}")
    counts = table["verdict"].value_counts()
    lines.append(f"{table['claim_id'].nunique()} claims, {len(table)} figures: "
                 + ", ".join(f"{int(counts.get(v, 0))} {v}" for v in VERDICTS))
    return lines
