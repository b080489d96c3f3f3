"""The contract of every public function of :mod:`cqc_research.metrics` (issue 23).

As scikit-learn's ``sklearn/utils/estimator_checks.py`` and ``test_common.py`` run the same checks
over every estimator, this file runs the same checks over every public metrics function: every
function in the ``__all__`` of each non-underscore module of ``cqc_research/metrics/``, found by
introspection, so a new function is picked up automatically and fails until it has a case in
:data:`CASES`.

The checks (each a test parametrized over the functions):

1. signature: the first parameter is ``data`` (positional) and every other parameter is
   keyword-only (or ``**kwargs``); :data:`SIGNATURE_EXEMPT` lists the exceptions and why;
2. returns what its case declares: a DataFrame, a documented results class (a dataclass or
   NamedTuple whose docstring has a numpydoc ``Attributes`` section), a tuple of DataFrames, or,
   for the few functions whose contract is a value, that type;
3. leaves its input unchanged: every DataFrame argument equals a deep copy taken before the
   call, ``attrs`` included;
4. rejects an unknown rating: the case's rating column as plain strings works, and with one value
   ``"Excellent"`` (not on CQC's scale) raises ``UnknownRatingError`` or ``DataFormatError``;
5. keeps the synthetic flag: with ``data.attrs["synthetic"] = True`` (and no provenance on the
   other arguments) every returned frame says so (:func:`cqc_research.provenance.is_synthetic`);
6. raises :class:`~cqc_research.errors.InsufficientData` on an empty frame with the right
   columns, for the cases that declare it (the statistics that need rows: models, rankings,
   funnels, charts); every other function answers an empty frame with a result of its declared
   kind or ``InsufficientData``, never a bare ``ValueError``, ``KeyError`` or ``IndexError``.

Declared exceptions to "a DataFrame or a documented results object": the interval arithmetic of
``metrics/intervals.py`` (numbers in, tuples out; also exempt from check 1), ``events.month_index``
(an array of month numbers), ``spc.spc_assurance`` (a verdict string or None), and
``agreement.aggregation_consistency`` / ``assessment.scoring_consistency`` (a documented tuple of
two frames). How the package keeps checks 4 and 5: rating columns are read through
``metrics._inputs.scale_codes`` and every public function wears
``metrics._contract.keeps_provenance``.

``test_the_checks_can_fail`` runs a deliberately bad function through checks 1-3.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import cqc_research.metrics as metrics_pkg
from cqc_research.dataset import Study
from cqc_research.errors import DataFormatError, InsufficientData, UnknownRatingError
from cqc_research.io.cqc_files import ratings_wide
from cqc_research.metrics.areas import area_summary, dtoc_rates
from cqc_research.metrics.events import event_study
from cqc_research.metrics.funnel import funnel_limits
from cqc_research.metrics.spc import spc_rules
from cqc_research.metrics.transitions import consecutive_pairs
from cqc_research.provenance import is_synthetic
from cqc_research.ratings import RATING_DTYPE

# ---------------------------------------------------------------------------------------------
# Discovery


def public_functions() -> dict[str, Callable]:
    """``"module.function"`` -> function, for every function in the ``__all__`` of each public
    module of ``cqc_research.metrics``."""
    out = {}
    for info in pkgutil.iter_modules(metrics_pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{metrics_pkg.__name__}.{info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                out[f"{info.name}.{name}"] = obj
    return out


FUNCTIONS = public_functions()

#: Functions exempt from check 1 (data first, the rest keyword-only), with the reason.
SIGNATURE_EXEMPT = {
    # Interval arithmetic on numbers (counts, estimates, sample sizes), not on a data table:
    # ``proportion_ci(count, n)`` reads as the formula it computes.
    "intervals.proportion_ci": "interval arithmetic on numbers, not data",
    "intervals.newcombe_diff_ci": "interval arithmetic on numbers, not data",
    "intervals.spearman_ci": "interval arithmetic on numbers, not data",
}

# ---------------------------------------------------------------------------------------------
# Cases

FRAME = "DataFrame"
FRAMES = "tuple of DataFrames"


@dataclass
class Case:
    """How to call one function, and what it promises.

    Attributes
    ----------
    build : callable
        ``build(inputs) -> (args, kwargs)``; the data is ``args[0]`` (or ``kwargs["data"]``).
    returns : object
        :data:`FRAME`, :data:`FRAMES`, a results class, or a type (or tuple of types) for a value.
    rating : str or None
        The column of the data holding ratings (check 4), None when it has none.
    empty : bool
        Whether an empty data frame (same columns) must raise ``InsufficientData`` (check 6);
        otherwise an empty frame may also give a result of the declared kind.
    frames : bool
        Whether the result holds frames that must keep the synthetic flag (check 5); False for a
        value or a record of settings.
    """

    build: Callable
    returns: object = FRAME
    rating: str | None = None
    empty: bool = False
    frames: bool = True

    def __post_init__(self):
        if self.returns in (tuple, np.ndarray) or isinstance(self.returns, tuple):
            self.frames = False


def _overall(i):
    return i.ratings[(i.ratings["level"] == "location") & (i.ratings["service_group"] == "Overall")
                     & (i.ratings["domain"] == "Overall")]


CASES: dict[str, Case] = {
    # agreement (notebook 01; the workshop's weighted_kappa and crosstab)
    # (the agreement and prediction tables answer an empty frame with n = 0 and NaN estimates)
    "agreement.weighted_kappa": Case(lambda i: ((i.wide,), {"a": "Overall", "b": "Well-led"}), rating="Overall"),
    "agreement.crosstab": Case(lambda i: ((i.wide,), {"a": "Overall", "b": "Well-led"}), rating="Overall"),
    "agreement.agreement_crosstabs": Case(lambda i: ((i.wide,), {"by": "sector"}), rating="Overall"),
    "agreement.domain_agreement": Case(lambda i: ((i.wide,), {"by": "sector"}), rating="Overall"),
    "agreement.pairwise_agreement": Case(lambda i: ((i.wide,), {}), rating="Well-led"),
    "agreement.aggregation_consistency": Case(lambda i: ((i.wide,), {"sector": "sector"}), returns=FRAMES,
                                              rating="Safe"),
    # areas (notebooks 02, 05, 10)
    "areas.area_summary": Case(lambda i: ((i.ratings,), {"by": "local_authority"}), rating="rating"),
    "areas.dtoc_rates": Case(lambda i: ((i.dtoc,), {"population": i.population})),
    "areas.join_dtoc": Case(lambda i: ((i.area_summary,), {"rates": i.dtoc_rates})),
    "areas.rank_with_uncertainty": Case(lambda i: ((i.area_summary,), {
        "unit": "local_authority", "successes": "n_good", "n": "n_rated", "n_sim": 200}), empty=True),
    "areas.good_or_better_funnel": Case(lambda i: ((i.wide,), {"rating": "Overall", "by": "local_authority"}),
                                        rating="Overall", empty=True),
    # assessment (notebook 08)
    "assessment.scoring_consistency": Case(lambda i: ((i.api.key_question_scores,), {
        "statement_scores": i.api.statement_scores}), returns=FRAMES, rating="rating"),
    "assessment.statements_assessed": Case(lambda i: ((i.api.statement_scores,), {}), returns="results"),
    "assessment.framework_shift": Case(lambda i: ((i.api.history,), {"relationships": i.api.relationships}),
                                       returns="results", rating="rating"),
    "assessment.rating_age": Case(lambda i: ((i.api.ratings,), {}), returns="results", rating="rating"),
    # events (notebook 04)
    "events.event_study": Case(lambda i: ((i.panel,), {"events": i.events, "window": (-6, 6)}), empty=True),
    "events.event_contrast": Case(lambda i: ((i.event_study,), {"rel_times": range(1, 4)})),
    "events.event_contrasts": Case(lambda i: ((i.event_study,), {})),
    "events.event_dates": Case(lambda i: ((i.api.reports,), {"event": "publication"})),
    "events.month_index": Case(lambda i: ((i.panel["period_start"],), {}), returns=np.ndarray),
    # funnel (notebooks 05, 10, profiles)
    "funnel.funnel_limits": Case(lambda i: ((i.areas,), {"numerator": "good", "denominator": "homes",
                                                          "unit": "area"}), empty=True),
    "funnel.funnel_curve": Case(lambda i: ((i.funnel,), {})),
    "funnel.funnel_spec": Case(lambda i: ((i.funnel,), {}), returns="results", frames=False),  # settings
    # intervals (numbers in, numbers out)
    "intervals.proportion_ci": Case(lambda i: ((np.array([3, 5]), np.array([10, 20])), {}), returns=tuple),
    "intervals.newcombe_diff_ci": Case(lambda i: ((3, 10, 5, 20), {}), returns=tuple),
    "intervals.spearman_ci": Case(lambda i: ((0.3, 50), {}), returns=tuple),
    # overview (notebook 00)
    "overview.rating_mix": Case(lambda i: ((_overall(i),), {"by": "sector"}), rating="rating"),
    "overview.data_freshness": Case(lambda i: ((_overall(i),), {"by": "sector"})),
    "overview.source_agreement": Case(lambda i: ((i.wide,), {"other": i.api_wide}), rating="Overall"),
    # prediction (notebook 02)
    "prediction.spearman_by_domain": Case(lambda i: ((i.linked,), {"indicators": ["a", "b"]}),
                                          rating="Overall"),
    "prediction.ordered_logit": Case(lambda i: ((i.linked,), {"rating": "Overall", "indicators": ["a", "b"]}),
                                     rating="Overall", empty=True),
    "prediction.cross_validated_prediction": Case(lambda i: ((i.linked,), {
        "rating": "Overall", "indicators": ["a", "b"], "folds": 3}), returns="results", rating="Overall",
        empty=True),
    "prediction.variation_at_equal_resources": Case(lambda i: ((i.linked,), {
        "rating": "Overall", "resource": "a", "deciles": 4, "n_perm": 20}), rating="Overall", empty=True),
    "prediction.indicator_gaps": Case(lambda i: ((i.linked,), {"rating": "Overall", "indicators": ["a", "b"]}),
                                      rating="Overall"),
    # spc (notebook 04, profiles)
    "spc.spc_rules": Case(lambda i: ((i.series,), {"value": "value", "time": "period_start", "target": 90.0}),
                          empty=True),
    "spc.spc_summary": Case(lambda i: ((i.spc,), {})),
    "spc.spc_assurance": Case(lambda i: ((i.spc,), {"target": 90.0}), returns=(str, type(None))),
    # transitions (notebook 03)
    "transitions.history_from_snapshots": Case(lambda i: (([i.ratings, i.ratings_later],), {}), rating="rating"),
    "transitions.consecutive_pairs": Case(lambda i: ((i.history,), {
        "domain": "Overall", "relationships": i.api.relationships}), rating="rating"),
    "transitions.transition_matrix": Case(lambda i: ((i.pairs,), {"by": "sector"}), rating="from_rating"),
    "transitions.improvement_from": Case(lambda i: ((i.pairs,), {"start": "Inadequate", "by": "sector"}),
                                         rating="to_rating"),
    "transitions.time_to_improvement": Case(lambda i: ((i.history,), {"start": "Inadequate", "by": "sector"}),
                                            returns="results", rating="rating"),
}


# ---------------------------------------------------------------------------------------------
# Inputs: loaded once per module from the small synthetic dataset through the one Study


@pytest.fixture(scope="module")
def inputs(synthetic_small):
    study = Study(ratings=synthetic_small.paths["ratings_ods"], api=synthetic_small.paths["api_folder"],
                  embedded=False)
    ratings, api = study.ratings, study.api
    # half the organisations' rating histories (the journeys' functions are the slowest here)
    keep = api.history["org_id"].drop_duplicates().iloc[::2]
    history = api.history[api.history["org_id"].isin(keep)].reset_index(drop=True)
    wide = study.wide(level="location")
    api_wide = ratings_wide(api.ratings, level="location")
    # a later snapshot: the same ratings published a year on, one in ten moved up a step
    later = ratings.copy()
    later["publication_date"] = later["publication_date"] + pd.DateOffset(years=1)
    step = later["rating"].cat.codes.to_numpy() + (np.arange(len(later)) % 10 == 0)
    later["rating"] = pd.Categorical.from_codes(np.where(later["rating"].isna(), -1, np.minimum(step, 3)),
                                                dtype=RATING_DTYPE)
    rng = np.random.default_rng([7, 23])
    linked = wide[wide["Overall"].notna()][["org_id", "sector", "Overall", "Well-led"]].reset_index(drop=True)
    codes = linked["Overall"].cat.codes.to_numpy()
    linked = linked.assign(a=codes + rng.normal(0, 1, len(linked)), b=rng.normal(0, 1, len(linked)))
    months = pd.date_range("2020-01-01", periods=30, freq="MS")
    units = [f"T{k:02d}" for k in range(8)]
    panel = pd.DataFrame([(u, m, 80 + k + rng.normal(0, 1)) for k, u in enumerate(units) for m in months],
                         columns=["org_code", "period_start", "value"])
    events = pd.DataFrame({"org_code": units[:5], "event_date": months[[8, 11, 14, 17, 20]]})
    series = pd.DataFrame({"period_start": pd.date_range("2021-01-01", periods=24, freq="MS"),
                           "value": 90 + rng.normal(0, 1, 24).round(2)})
    areas = pd.DataFrame({"area": list("ABCDEF"), "good": [40, 90, 20, 75, 33, 61],
                          "homes": [50, 100, 50, 100, 40, 80]})

    def indicator(rows, measure):
        return pd.DataFrame([{"org_code": c, "org_name": n, "org_level": "local_authority",
                              "period_start": pd.Timestamp(p), "measure": measure, "value": v}
                             for c, n, p, v in rows])

    la = sorted(wide["local_authority"].dropna().astype(str).unique())[:4]
    codes_la = [f"E0900000{k}" for k in range(len(la))]
    dtoc = indicator([(c, n, m, 100.0 + 10 * k) for k, (c, n) in enumerate(zip(codes_la, la, strict=True))
                      for m in pd.date_range("2018-04-01", "2019-03-01", freq="MS")], "dtoc_days_total")
    population = indicator([(c, n, "2019-01-01", 40_000 + 1000 * k)
                            for k, (c, n) in enumerate(zip(codes_la, la, strict=True))], "population_65plus")
    ns = SimpleNamespace(ratings=ratings, ratings_later=later, wide=wide, api=api, api_wide=api_wide,
                         history=history, linked=linked, panel=panel, events=events, series=series,
                         areas=areas, dtoc=dtoc, population=population)
    # what some functions analyse is another's result: made once here
    ns.dtoc_rates = dtoc_rates(dtoc, population=population)
    ns.area_summary = area_summary(ratings, by="local_authority")
    ns.event_study = event_study(panel, events=events, window=(-6, 6))
    ns.funnel = funnel_limits(areas, numerator="good", denominator="homes", unit="area")
    ns.spc = spc_rules(series, value="value", time="period_start", target=90.0)
    ns.pairs = consecutive_pairs(ns.history, domain="Overall", relationships=api.relationships)
    return ns


# ---------------------------------------------------------------------------------------------
# Helpers


def _is_frame_list(x) -> bool:
    return isinstance(x, list | tuple) and bool(x) and all(isinstance(f, pd.DataFrame) for f in x)


def _frames(value):
    """The DataFrames in an argument or a result: itself, a list/tuple of them, a results object's
    DataFrame attributes."""
    if isinstance(value, pd.DataFrame):
        return [value]
    if isinstance(value, list | tuple):
        return [f for v in value for f in _frames(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)
                if isinstance(getattr(value, f.name), pd.DataFrame)]
    return []


def _call(func, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _get_data(args, kwargs):
    return kwargs["data"] if "data" in kwargs else args[0]


def _with_data(args, kwargs, data):
    if "data" in kwargs:
        return args, {**kwargs, "data": data}
    return (data, *args[1:]), kwargs


def _map_data(data, fn):
    """``fn`` applied to the data frame (or the first frame of a list of frames)."""
    if isinstance(data, pd.DataFrame):
        return fn(data.copy(deep=True))
    if _is_frame_list(data):
        return [fn(data[0].copy(deep=True)), *[f.copy(deep=True) for f in data[1:]]]
    raise AssertionError(f"the data of this case is a {type(data).__name__}, not a DataFrame")


def _args(name, inputs):
    args, kwargs = CASES[name].build(inputs)
    return tuple(args), dict(kwargs)


def _cases_where(pred):
    return [n for n in sorted(FUNCTIONS) if n in CASES and pred(CASES[n])]


# ---------------------------------------------------------------------------------------------
# The checks, as plain functions (``test_the_checks_can_fail`` runs them on a bad function)


def check_signature(func) -> None:
    """Check 1: ``data`` first (positional), every other parameter keyword-only or ``**kwargs``."""
    params = list(inspect.signature(func).parameters.values())
    assert params, f"{func.__qualname__} takes no arguments"
    first = params[0]
    assert first.name == "data" and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD), (
        f"{func.__qualname__}: the first parameter must be `data` (positional), not {first}")
    loose = [p.name for p in params[1:] if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
    assert not loose, f"{func.__qualname__}: parameters after `data` must be keyword-only: {loose}"


def _is_documented_results_class(cls) -> bool:
    is_record = dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    doc = inspect.getdoc(cls) or ""
    return is_record and "Attributes\n----------" in doc


def check_returns(func, result, declared) -> None:
    """Check 2: the result is what the case declares."""
    name = func.__qualname__
    if declared == FRAME:
        assert isinstance(result, pd.DataFrame), f"{name} returned {type(result).__name__}, not a DataFrame"
    elif declared == FRAMES:
        assert isinstance(result, tuple) and result and all(isinstance(f, pd.DataFrame) for f in result), (
            f"{name} returned {type(result).__name__}, not a tuple of DataFrames")
    elif declared == "results":
        cls = type(result)
        assert _is_documented_results_class(cls), (
            f"{name} returned {cls.__name__}, not a documented results class (a dataclass or NamedTuple "
            "with a numpydoc Attributes section)")
    else:
        assert isinstance(result, declared), f"{name} returned {type(result).__name__}, not {declared}"


def check_unchanged(func, args, kwargs) -> object:
    """Check 3: every DataFrame argument equals its deep copy from before the call (attrs too)."""
    before = copy.deepcopy((args, kwargs))
    result = _call(func, args, kwargs)
    after_frames, before_frames = _frames([*args, *kwargs.values()]), _frames([*before[0], *before[1].values()])
    assert len(after_frames) == len(before_frames)
    for k, (b, a) in enumerate(zip(before_frames, after_frames, strict=True)):
        try:
            pd.testing.assert_frame_equal(a, b)
        except AssertionError as err:
            raise AssertionError(f"{func.__qualname__} changed its DataFrame argument {k}: {err}") from None
        assert a.attrs == b.attrs, f"{func.__qualname__} changed the attrs of its DataFrame argument {k}"
    return result


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_a_case(name):
    assert name in CASES, f"metrics.{name} has no contract case: add a case to CASES in {__file__}"


def test_no_case_for_a_function_that_is_gone():
    assert not set(CASES) - set(FUNCTIONS), f"cases without a public function: {set(CASES) - set(FUNCTIONS)}"


def test_exemptions_are_documented():
    assert set(SIGNATURE_EXEMPT) <= set(FUNCTIONS)
    assert all(reason.strip() for reason in SIGNATURE_EXEMPT.values())


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - set(SIGNATURE_EXEMPT)))
def test_signature_data_first_then_keywords(name):
    check_signature(FUNCTIONS[name])


@pytest.mark.parametrize("name", _cases_where(lambda c: True))
def test_returns_the_declared_kind(name, inputs):
    args, kwargs = _args(name, inputs)
    result = _call(FUNCTIONS[name], args, kwargs)
    check_returns(FUNCTIONS[name], result, CASES[name].returns)
    # the case exercises the function: a table with rows (else the other checks prove little)
    assert all(len(f) for f in _frames(result)) or CASES[name].returns is not FRAME, f"{name}: empty result"


@pytest.mark.parametrize("name", _cases_where(lambda c: True))
def test_leaves_its_input_unchanged(name, inputs):
    args, kwargs = _args(name, inputs)
    check_unchanged(FUNCTIONS[name], args, kwargs)


@pytest.mark.parametrize("name", _cases_where(lambda c: c.rating is not None))
def test_rejects_an_unknown_rating(name, inputs):
    func, col = FUNCTIONS[name], CASES[name].rating
    args, kwargs = _args(name, inputs)
    data = _get_data(args, kwargs)

    def as_text(frame, bad=False):
        values = frame[col].astype(object).where(frame[col].notna(), None)
        if bad:
            first = values.first_valid_index()
            assert first is not None, f"no rating in column {col!r} to replace"
            values.loc[first] = "Excellent"
        return frame.assign(**{col: values})

    # the ratings as published strings are understood ...
    _call(func, *_with_data(args, kwargs, _map_data(data, as_text)))
    # ... and a value off the scale is an error
    with pytest.raises((UnknownRatingError, DataFormatError)):
        _call(func, *_with_data(args, kwargs, _map_data(data, lambda f: as_text(f, bad=True))))


@pytest.mark.parametrize("name", _cases_where(lambda c: c.frames))
def test_keeps_the_synthetic_flag(name, inputs):
    func = FUNCTIONS[name]
    args, kwargs = _args(name, inputs)

    def strip(value):
        if isinstance(value, pd.DataFrame):
            value = value.copy(deep=False)
            value.attrs = {}
        elif _is_frame_list(value):
            value = [strip(f) for f in value]
        return value

    args, kwargs = tuple(strip(a) for a in args), {k: strip(v) for k, v in kwargs.items()}
    data = _get_data(args, kwargs)
    for frame in _frames(data):
        frame.attrs = {"synthetic": True}
    result = _call(func, args, kwargs)
    frames = _frames(result)
    assert frames, f"{name} returned no frame to check"
    unflagged = [k for k, f in enumerate(frames) if not is_synthetic(f)]
    assert not unflagged, f"{name}: returned frame(s) {unflagged} of {len(frames)} lose the synthetic flag"


def _empty_args(name, inputs):
    args, kwargs = _args(name, inputs)
    return _with_data(args, kwargs, _map_data(_get_data(args, kwargs), lambda f: f.iloc[0:0]))


@pytest.mark.parametrize("name", _cases_where(lambda c: c.empty))
def test_insufficient_data_on_an_empty_frame(name, inputs):
    with pytest.raises(InsufficientData):
        _call(FUNCTIONS[name], *_empty_args(name, inputs))


def _has_frame_data(case):
    return not case.empty and case.returns not in (tuple, np.ndarray)


@pytest.mark.parametrize("name", _cases_where(_has_frame_data))
def test_empty_frame_gives_a_result_or_insufficient_data(name, inputs):
    """The tabulating functions may answer an empty frame with an empty table, or say
    InsufficientData; never a bare ValueError, KeyError, IndexError or ZeroDivisionError."""
    try:
        result = _call(FUNCTIONS[name], *_empty_args(name, inputs))
    except InsufficientData:
        return
    except Exception as err:  # noqa: BLE001 - the check reports what was raised
        raise AssertionError(f"{name} on an empty frame raised {type(err).__name__}: {err} "
                             "(expected a result or errors.InsufficientData)") from None
    check_returns(FUNCTIONS[name], result, CASES[name].returns)


# ---------------------------------------------------------------------------------------------
# The checks can fail


def bad_metric(path, data, by="sector"):
    """A function breaking the contract: a path first, positional options, mutates, returns a dict."""
    data["touched"] = 1
    return {"n": len(data)}


def test_the_checks_can_fail():
    frame = pd.DataFrame({"sector": ["GP practices"], "rating": pd.Categorical(["Good"], dtype=RATING_DTYPE)})
    with pytest.raises(AssertionError, match="first parameter must be `data`"):
        check_signature(bad_metric)
    with pytest.raises(AssertionError, match="changed its DataFrame argument"):
        check_unchanged(bad_metric, ("x.csv", frame), {})
    with pytest.raises(AssertionError, match="not a DataFrame"):
        check_returns(bad_metric, bad_metric("x.csv", frame.copy()), FRAME)
    with pytest.raises(AssertionError, match="not a documented results class"):
        check_returns(bad_metric, SimpleNamespace(table=frame), "results")

    def keyword_late(data, by):
        return data

    with pytest.raises(AssertionError, match="keyword-only"):
        check_signature(keyword_late)
