"""Replicate the published record: every quantitative claim about CQC ratings, with our estimate.

The claims live in ``cqc_research/data/replications.yaml``, which ships with the package: for
each, the claim in one sentence, the source (citation, the page it was read on, whether the figure
was found only second hand), the population and period, the statistic, the published figures
(value, n and interval where given), the estimator that computes it from our tables and the data
it needs. :func:`load_claims` reads it into :class:`Claim` objects.

:func:`study_from_paths` makes the :class:`~cqc_research.dataset.Study` the estimators read (the
same data options as the notebooks: a Latest ratings workbook, a folder of CQC API records,
indicator files; with none, the study's declared data or else the embedded synthetic data), which
loads each table once, when an estimator first asks for it. An estimator that lacks what it needs
raises :class:`NotComputable` with the reason ("needs trust-level ratings ..."), which becomes the
verdict.

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

from ..cache import atomic_path
from ..dataset import MissingInput, Study
from ..errors import CQCResearchError, DataFormatError
from ..indicator_sources import SOURCE_LEVELS, link_sources
from ..link import link_indicators
from ..metrics.agreement import domain_agreement
from ..metrics.events import event_contrasts, event_dates, event_study
from ..metrics.intervals import proportion_ci
from ..metrics.prediction import (
    cross_validated_prediction,
    ordered_logit,
    variation_at_equal_resources,
)
from ..metrics.transitions import consecutive_pairs, improvement_from
from ..notebook_output import banner_html
from ..provenance import BANNER_TEXT
from ..ratings import filter_sector
from ..study import INDICATOR_KEYS
from ..templating import Markup, render

__all__ = ["TABLES", "replicate", "study_from_paths", "load_claims", "write_outputs"]

#: The registry shipped with the package.
REGISTRY_PATH = Path(__file__).resolve().parents[1] / "data" / "replications.yaml"
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


#: What an estimator says when the study lacks an input (the command's flags named).
_NEEDS = {
    "ratings": "needs current ratings (a Latest ratings workbook, --ratings-path, or CQC API records, --api-path)",
    "api": "needs rating histories (a folder of CQC API records, --api-path)",
    "indicators.gp_payments": "needs GP payments indicators (NHS Payments to General Practice CSVs, --indicators-path)",
    "trust": "needs trust-level indicators (monthly A&E CSVs or SHMI, --indicators-path)",
}
#: The indicator sources whose trust rows the trust-level claims read.
_TRUST_SOURCES = ("ae", "shmi", "staff_survey")


def study_from_paths(*, ratings_path=None, api_path=None, indicators_path=(), data_date=None) -> Study:
    """The study ``cqc-research replicate`` and notebook 09 run on, from their data options.

    A path given wins over the study's ``cqc-research.toml``; with nothing given or declared, the
    embedded synthetic data are used (see :class:`cqc_research.dataset.Study`).

    Parameters
    ----------
    ratings_path, api_path : path or str, optional
        Empty strings count as not given.
    indicators_path : path, str or sequence of them
        A string may hold several paths separated by commas; each file's source is recognised.
    data_date : str, optional
        When the data were extracted, for the age of ratings.

    Returns
    -------
    Study

    Raises
    ------
    FileNotFoundError
        For a path that does not exist, naming its command-line flag.
    NotADirectoryError
        When ``api_path`` is not a folder.
    """
    inds = indicators_path if isinstance(indicators_path, list | tuple) else [indicators_path]
    inds = [Path(p.strip() if isinstance(p, str) else p).expanduser()
            for item in inds for p in (str(item).split(",") if isinstance(item, str) else [item])
            if str(p).strip()]
    ratings = Path(ratings_path).expanduser() if ratings_path else None
    api = Path(api_path).expanduser() if api_path else None
    for flag, p in [("--ratings-path", ratings), ("--api-path", api)] + [("--indicators-path", p) for p in inds]:
        if p is not None and not p.exists():
            raise FileNotFoundError(f"{flag} {p}: no such file or folder")
    if api is not None and not api.is_dir():
        raise NotADirectoryError(f"--api-path {api}: expected a folder of CQC API records")
    return Study(ratings=ratings, api=api, indicators=inds or None, data_date=data_date or None)


def _missing(key: str) -> NotComputable:
    return NotComputable(_NEEDS.get(key, f"needs {key}"))


def _ratings(data: Study) -> pd.DataFrame:
    try:
        return data.ratings
    except MissingInput:
        raise _missing("ratings") from None


def _ratings_source(data: Study) -> str:
    """Where the current ratings come from, in words (``"Latest ratings latest_ratings.ods"``)."""
    if "ratings" in data.given_tables:
        return "ratings table given"
    if data.path("ratings") is not None:
        return f"Latest ratings {data.path('ratings').name}"
    return f"CQC API records {data.path('api').name}" if data.path("api") is not None else "none"


def _wide(data: Study, level: str = "location") -> pd.DataFrame:
    """Wide ratings of one level; NotComputable when the ratings hold no organisation of it."""
    def load():
        long = _ratings(data)
        if not (long["level"] == level).any():
            if level == "provider":
                raise NotComputable(
                    "needs trust-level ratings (the Providers sheet of a Latest ratings workbook, "
                    f"--ratings-path); {_ratings_source(data)} holds location ratings only")
            raise NotComputable(f"needs location ratings; {_ratings_source(data)} has none")
        try:
            return data.wide(level)
        except ValueError as exc:
            raise NotComputable(f"needs {level} ratings: {exc}") from exc
    return data.memo(("replication_wide", level), load)


def _ratings_vintage(data: Study, frame: pd.DataFrame | None = None, date: str = "publication_date") -> str:
    frame = _ratings(data) if frame is None else frame
    return f"{_ratings_source(data)}, ratings published {_dates(frame[date])}"


def _api(data: Study):
    try:
        return data.api
    except MissingInput:
        raise _missing("api") from None


def _history(data: Study) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    try:
        return data.history, data.relationships
    except MissingInput:
        raise _missing("api") from None


def _history_vintage(data: Study) -> str:
    history, _ = _history(data)
    api = data.path("api")
    name = f"CQC API records {api.name}" if api is not None else "history table given"
    return f"{name}, reports {_dates(history['report_date'])}"


def _indicators_given(data: Study) -> bool:
    return any(k == "indicators" or k.startswith("indicators.") for k in data.given)


def _gp_payments(data: Study) -> list[pd.DataFrame]:
    if "gp_payments" in data.given_tables:
        return data.memo("gp_payments", list)
    try:
        return data.indicators("gp_payments")
    except MissingInput:
        raise _missing("indicators.gp_payments") from None


def _trust_indicators(data: Study) -> list[pd.DataFrame]:
    """The trust rows of the trust-level indicator tables (A&E; SHMI and staff survey when given)."""
    if "trust_indicators" in data.given_tables:
        return data.memo("trust_indicators", list)

    def load():
        sources = _TRUST_SOURCES if _indicators_given(data) else ("ae",)
        if not any(data.indicator_files(s) for s in sources):
            raise _missing("trust")
        frames = [f for s in sources if data.indicator_files(s) for f in data.indicators(s)]
        frames = [f[f["org_level"] == "trust"] if "org_level" in f else f for f in frames]
        return [f for f in frames if len(f)]
    return data.memo("trust_indicators", load)


def _source_files(data: Study) -> dict[str, list[Path]]:
    """The indicator files the study holds, by source (``qof``, ``gpps``, ``shmi``, ...)."""
    found = {s: data.files(f"indicators.{s}") for s in SOURCE_LEVELS}
    return {s: v for s, v in found.items() if v}


def _gp_linked(data: Study) -> pd.DataFrame:
    """GP practices' wide ratings joined to the payments year that ended before each rating."""
    if "gp_linked" in data.given_tables:
        return data.memo("gp_linked", pd.DataFrame)

    def load():
        wide = filter_sector(_wide(data, "location"), "GP practices")
        if wide.empty:
            raise NotComputable(f"needs GP practice ratings; {_ratings_source(data)} has none")
        payments = _gp_payments(data)
        measures = [m for m in GP_MEASURES if any((p["measure"] == m).any() for p in payments)]
        return link_indicators(wide, payments, level="practice", measures=measures, sector=None).data
    return data.memo("gp_linked", load)


def _gp_vintage(data: Study) -> str:
    if "gp_linked" in data.given_tables:
        return f"linked table given, ratings published {_dates(_gp_linked(data)['publication_date'])}"
    years = [str(p["financial_year"].iloc[0]) if len(p) else "?" for p in _gp_payments(data)]
    return f"{_ratings_vintage(data, _gp_linked(data))}; GP payments {', '.join(years)}"


# ---------------------------------------------------------------------------------------------
# estimators: one function per kind of claim, each calling the library the notebooks call
def _ci(value) -> float:
    return float(value) if value is not None and pd.notna(value) else math.nan


def agreement_with_overall(data: Study, *, domain: str, level: str = "provider",
                           sector: str | None = "NHS hospitals") -> Estimate:
    """Share of organisations whose ``domain`` rating equals their Overall rating.

    Parameters
    ----------
    data : Study
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

    def compute():
        wide = filter_sector(_wide(data, level), sector) if sector else _wide(data, level)
        if wide["Overall"].notna().sum() == 0:
            raise NotComputable(f"needs {level}-level ratings of {sector or 'any sector'}; "
                                f"{_ratings_source(data)} has none")
        return wide, domain_agreement(wide)
    wide, table = data.memo(("agreement", level, sector), compute)
    row = table[table["domain"] == domain].iloc[0]
    if not row["n"]:
        raise NotComputable(f"no {level} has both an Overall and a {domain} rating")
    return Estimate(row["agreement"], row["agreement_ci_low"], row["agreement_ci_high"], int(row["n"]),
                    _ratings_vintage(data, wide), note=f"{level}s of {sector or 'every sector'}")


def improvement_after(data: Study, *, rating: str = "Inadequate", outcome: str = "improved",
                      sector: str | None = None, first_inspection: bool = False,
                      level: str = "location") -> Estimate:
    """What followed a rating at the next inspection, as a share of re-inspections.

    Parameters
    ----------
    data : Study
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

    def pairs_all():
        history, relationships = _history(data)
        return consecutive_pairs(history, domain="Overall", relationships=relationships, level=level)
    pairs = data.memo(("pairs", level), pairs_all)
    if first_inspection:
        pairs = (pairs.sort_values("from_date", kind="stable")
                 .drop_duplicates(subset=["journey_id", "domain"], keep="first"))
    if sector:
        pairs = pairs[pairs["sector"].astype(str) == sector]
    table = improvement_from(pairs, start=rating, by=None).set_index("outcome")
    total = int(table["total"].iloc[0])
    what = f"{level}s {'first ' if first_inspection else ''}rated {rating}{' (' + sector + ')' if sector else ''}"
    if total == 0:
        raise NotComputable(f"no {what} were re-inspected in these data")
    if outcome == "not improved":
        k = int(table.loc["same", "n"] + table.loc["worse", "n"])
        lo, hi = proportion_ci(k, total)
        share = k / total
    elif outcome in table.index:
        share, lo, hi = table.loc[outcome, ["share", "ci_low", "ci_high"]]
    else:
        raise ValueError(f"outcome must be 'not improved' or one of {list(table.index)}, not {outcome!r}")
    return Estimate(float(share), float(lo), float(hi), total, _history_vintage(data),
                    note=f"{total:,} re-inspections of {what}")


def _joined(*parts) -> str:
    """Non-empty notes joined with semicolons."""
    return "; ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())


def indicator_prediction(data: Study, *, statistic: str, domain: str = "Overall",
                         indicators: Sequence[str] = ("list_size", "payments_per_weighted_patient",
                                                      "qof_payments_per_patient"),
                         folds: int = 5, seed: int = 20240501, min_practices: int = 30) -> Estimate:
    """Cross-validated ordered-logit prediction of GP practices' ratings from payments indicators.

    Parameters
    ----------
    data : Study
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

    def compute():
        linked = _gp_linked(data)
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
                    int(s["n"]), _gp_vintage(data),
                    note=_joined(f"{folds}-fold CV on {', '.join(indicators)}", s["note"]))


def trust_prediction(data: Study, *, statistic: str, domain: str = "Overall",
                     measures: Sequence[str] = ("ae_4hr_performance_all",), window: int = 12,
                     folds: int = 5, seed: int = 20240501, min_trusts: int = 30) -> Estimate:
    """Cross-validated prediction of NHS trusts' ratings from trust-level indicators.

    Each trust's provider rating is linked to the mean of each measure over the 12 months before
    publication (:func:`cqc_research.link.link_indicators`, ``level="trust"``).

    Parameters
    ----------
    data : Study
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

    def compute():
        if "trust_linked" in data.given_tables:
            linked = data.memo("trust_linked", pd.DataFrame)
        else:
            wide = filter_sector(_wide(data, "provider"), "NHS hospitals")
            ind = _trust_indicators(data)
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
                    int(s["n"]), _ratings_vintage(data, d),
                    note=_joined(f"{folds}-fold CV on {', '.join(measures)} ({window}-month means)", s["note"]))


def source_prediction(data: Study, *, statistic: str, level: str, sources: Sequence[str],
                      domain: str = "Overall", folds: int = 5, seed: int = 20240501,
                      min_orgs: int = 30) -> Estimate:
    """Cross-validated ordered-logit prediction of ratings from the indicator sources a paper used.

    Each source among ``sources`` that the data hold is linked to the ratings with its own
    leakage-safe window (:func:`cqc_research.indicator_sources.link_sources`: the last period
    that ended before publication, or the mean of the 12 months before it); the model uses each
    linked source's headline measures (``LinkedIndicators.headline``), as notebook 02 does.

    Parameters
    ----------
    data : Study
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

    wanted = list(sources)
    held = {k: v for k, v in _source_files(data).items() if k in wanted and v}
    what = "GP practices" if level == "practice" else "NHS trusts"
    names = ", ".join(INDICATOR_KEYS.get(k, k) for k in wanted)
    if not held:
        raise NotComputable(f"needs the paper's kinds of indicator for {what} ({names}); "
                            "the data given hold none of them (--indicators-path or the study's "
                            "cqc-research.toml)")

    def compute():
        # linked once for every figure of the claim (each domain and statistic)
        linked = data.memo(("source_link", level, tuple(sorted(held))),
                           lambda: link_sources(_ratings(data), sources=held, level=level))
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
                    int(s["n"]), _ratings_vintage(data, d),
                    note=_joined(f"{folds}-fold CV on {', '.join(headline)} (sources: {', '.join(used)}"
                                 + (f"; not held: {', '.join(lacking)}" if lacking else "") + ")", s["note"]))


def funding_odds_ratio(data: Study, *, indicator: str = "payments_per_patient",
                       domain: str = "Overall") -> Estimate:
    """Ordered-logit odds ratio of a better rating per standard deviation of a payments measure.

    Parameters
    ----------
    data : Study
    indicator : str
        The payments measure (total payments per registered patient by default).
    domain : str

    Returns
    -------
    Estimate
        From :func:`cqc_research.metrics.prediction.ordered_logit` (unadjusted, Wald interval).
    """

    linked = _gp_linked(data)
    if indicator not in linked.columns:
        raise NotComputable(f"the GP payments files lack {indicator!r}")
    d = linked.dropna(subset=[domain, indicator])
    if len(d) < 30 or d[domain].nunique() < 2:
        raise NotComputable(f"only {len(d)} GP practices link to payments before their rating (needs 30)")
    row = ordered_logit(d, rating=domain, indicators=[indicator]).iloc[0]
    return Estimate(float(row["odds_ratio_per_sd"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"]),
                    _gp_vintage(data), note=f"per SD of {indicator} (SD {row['sd']:.2f}); unadjusted")


def not_loaded(data: Study, *, needs: str) -> Estimate:
    """For claims on data the project does not load: always :class:`NotComputable`.

    Parameters
    ----------
    data : Study
        Not used (taken so that every estimator has the same signature).
    needs : str
        The data the claim rests on, named in the error.

    Raises
    ------
    NotComputable
        Always: ``"needs <needs>, which cqc-research does not load"``.
    """
    raise NotComputable(f"needs {needs}, which cqc-research does not load")


def inspection_effect(data: Study, *, measure: str = "ae_4hr_performance_all",
                      event: str = "inspection", window: int = 12, post_months: int = 6,
                      sector: str = "NHS hospitals") -> Estimate:
    """Mean change of a monthly trust indicator in months 1..``post_months`` after an event.

    The event study of notebook 04 (:func:`cqc_research.metrics.events.event_study`): trust and
    month fixed effects, the month before the event as reference, intervals clustered by trust.

    Parameters
    ----------
    data : Study
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

    def compute():
        frames = [f[f["measure"] == measure] for f in _trust_indicators(data)]
        panel = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
        if panel is None:
            raise NotComputable(f"needs a monthly trust-level {measure} series (e.g. A&E CSVs, --indicators-path)")
        panel = panel.dropna(subset=["value"])
        events = event_dates(_api(data), event=event, sector=sector).rename(columns={"provider_id": "org_code"})
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
                    f"{_history_vintage(data)}; {measure} {_dates(panel['period_start'])}",
                    note=f"{int(res['n_events'].iloc[0])} {event}s in {int(res['n_event_units'].iloc[0])} trusts, "
                         f"{int(res['n_units_total'].iloc[0])} trusts in all")


def _rating_age(data: Study, *, location_type: str | None = None, min_n: int = 5) -> Estimate:
    """Mean age in years of locations' current Overall ratings at the data date.

    Parameters
    ----------
    data : Study
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

    wide = _wide(data, "location")
    rated = wide[wide["Overall"].notna() & wide["publication_date"].notna()]
    if rated.empty:
        raise NotComputable(f"no location in {_ratings_source(data)} has a dated Overall rating")
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
                    f"{_ratings_vintage(data, rated)}; age at {as_of:%Y-%m-%d}",
                    note=f"{len(years):,} rated locations")


def _variation_at_equal_resources(data: Study, *, resource: str = "payments_per_weighted_patient",
                                 domain: str = "Overall", deciles: int = 10) -> Estimate:
    """The smallest share, across deciles of a resource measure, rated other than the decile's mode.

    Parameters
    ----------
    data : Study
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

    linked = _gp_linked(data)
    if resource not in linked.columns:
        raise NotComputable(f"the GP payments files lack {resource!r}")
    d = linked.dropna(subset=[domain, resource])
    if len(d) < 3 * deciles:
        raise NotComputable(f"only {len(d)} GP practices link to payments (needs {3 * deciles})")
    var = variation_at_equal_resources(d, rating=domain, resource=resource, deciles=deciles, n_perm=0)
    per = var.groupby("decile").agg(n=("n", "first"), top=("count", "max"))
    per["off"] = per["n"] - per["top"]
    per["share"] = per["off"] / per["n"]
    low = per["share"].idxmin()
    lo, hi = proportion_ci(per.loc[low, "off"], per.loc[low, "n"])
    return Estimate(float(per.loc[low, "share"]), lo, hi, int(per["n"].sum()), _gp_vintage(data),
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
    "rating_age": _rating_age,
    "variation_at_equal_resources": _variation_at_equal_resources,
}


# ---------------------------------------------------------------------------------------------
# running the registry
def estimate_figure(data: Study, claim: Claim, figure: Figure) -> Estimate:
    """Our estimate of one published figure (raises :class:`NotComputable` when there is none).

    Parameters
    ----------
    data : Study
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
#: The tables notebook 09 saves: name -> columns, after the ``data_status`` column every saved
#: table of synthetic data starts with.
TABLES: dict[str, tuple[str, ...]] = {
    "replications": tuple(COLUMNS),
    "replication_sources": ("claim_id", "citation", "read_at", "second_hand", "population", "period"),
}


def replicate(data: Study | None = None, claims: Iterable[Claim] | None = None, *,
              ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Every published figure beside our estimate on ``data``, with a verdict.

    Parameters
    ----------
    data : Study, optional
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
    data = data if data is not None else study_from_paths()
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
                "data_vintage": est.vintage if est else "", "synthetic": bool(data.is_synthetic),
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
