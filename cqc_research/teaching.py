"""Workshop checks: friendly, specific feedback on a learner's answer.

The workshop notebooks in ``notebooks/workshop/`` run on the synthetic dataset, whose planted
truth (``truth.json``) makes the answers knowable. A notebook starts with

>>> from cqc_research import teaching                      # doctest: +SKIP
>>> ws = teaching.start(data_dir)                         # doctest: +SKIP

and each exercise ends with a check the learner runs, e.g.
``teaching.check_wellled_agreement(share)``. A check

- never raises on a learner's answer: a blank answer (``...`` or ``None``) gives "not attempted
  yet", and a table, a string or a percentage where a share was expected gets a note on what
  to pass instead;
- recomputes the answer from the same data with the library (never a stored number), and
  recognises the usual slips (a percentage for a share, the wrong denominator, in-sample
  accuracy, a quadratic kappa, a median that ignores censoring...) with a hint for each;
- when the answer is right, says what it means and, where the generator planted an effect,
  whether the learner's estimate recovers it.

Each check returns a :class:`Feedback`, which JupyterLab shows as a coloured box and a terminal
as text; ``bool(feedback)`` is True when the answer is right.

The entry point is :func:`start` (a :class:`Workshop` over a :class:`~cqc_research.dataset.Study`
of the synthetic data); the checks, one per exercise of :data:`EXERCISES`, are called by the
workshop notebooks by name (``teaching.check_wellled_agreement``) and are documented here, but are
not listed in ``__all__``: the workshop, not a researcher's code, is what uses them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .dataset import Study
from .display import register_formatters
from .errors import DataFormatError
from .io.nhs import load_gp_payments
from .link import link_indicators
from .metrics._inputs import scale_codes
from .metrics.agreement import crosstab, domain_agreement, weighted_kappa
from .metrics.intervals import proportion_ci
from .metrics.prediction import OrderedLogit, cross_validated_prediction, ordered_logit
from .metrics.transitions import (
    consecutive_pairs,
    improvement_from,
    time_to_improvement,
    transition_matrix,
)
from .provenance import BANNER_TEXT
from .ratings import KEY_QUESTIONS, RATINGS, normalise_domain
from .synthetic import dataset_paths, ensure_default_data
from .templating import Markup, render

__all__ = ["Feedback", "Workshop", "start", "current", "EXERCISES", "GP_INDICATORS"]

#: The payments measures used as predictors in session 3: the two that carry the planted signal
#: and one that carries none (a control).
GP_INDICATORS = ["qof_payments_per_patient", "list_size", "payments_per_weighted_patient"]

#: Every exercise: id -> (check function, session, what the learner gives).
EXERCISES = {
    "1.1": ("check_rated_locations", 1, "the number of locations with an Overall rating on the scale"),
    "1.2": ("check_share_good_or_better", 1, "the share of adult social care locations rated Good or better"),
    "1.3": ("check_wilson_interval", 1, "the 95% Wilson interval of that share, (low, high)"),
    "1.4": ("check_ri_or_worse", 1, "the number of locations rated Requires improvement or worse"),
    "2.1": ("check_wellled_agreement", 2, "the share of locations whose Well-led rating equals Overall"),
    "2.2": ("check_least_agreeing_domain", 2, "the key question that agrees least often with Overall"),
    "2.3": ("check_wellled_kappa", 2, "the linear weighted kappa between Overall and Well-led"),
    "2.4": ("check_wellled_vs_caring", 2, "True/False: is Well-led's agreement clearly higher than Caring's?"),
    "3.1": ("check_modal_share", 3, "the share of linked GP practices with the commonest rating"),
    "3.2": ("check_cv_accuracy", 3, "the cross-validated accuracy of the ordered logit"),
    "3.3": ("check_cv_kappa", 3, "the cross-validated weighted kappa"),
    "3.4": ("check_odds_ratio", 3, "the odds ratio per SD of QOF payments per patient"),
    "4.1": ("check_reinspected_inadequate", 4, "how many Inadequate ratings were followed by another inspection"),
    "4.2": ("check_improved_share", 4, "the share of adult social care Inadequate ratings followed by a better one"),
    "4.3": ("check_good_stays_good", 4, "the share of GP practices' Good ratings followed by Good"),
    "4.4": ("check_median_time", 4, "the median months from Inadequate to a better rating in adult social care"),
}

_TITLES = {
    "1.1": "Locations with an Overall rating", "1.2": "Share rated Good or better",
    "1.3": "A confidence interval for the share", "1.4": "Requires improvement or worse",
    "2.1": "Well-led agrees with Overall", "2.2": "The key question that agrees least",
    "2.3": "Weighted kappa, Well-led and Overall", "2.4": "Well-led against Caring",
    "3.1": "The modal-class baseline", "3.2": "Cross-validated accuracy",
    "3.3": "Cross-validated weighted kappa", "3.4": "An odds ratio per standard deviation",
    "4.1": "Inadequate ratings that were re-inspected", "4.2": "Improvement after Inadequate",
    "4.3": "Good stays Good", "4.4": "Median time to improvement",
}

# tolerances: shares and kappas are accepted to two decimal places, months to one
_TOL_SHARE = 0.0051
_TOL_MONTHS = 0.051


# =============================================================================================
# feedback
_STYLE = {
    "correct": ("#0b6b3a", "#e9f5ee", "&#10004;", "Correct"),
    "close": ("#b07800", "#fff6e0", "&#9998;", "Nearly there"),
    "not yet": ("#b07800", "#fff6e0", "&#9998;", "Not yet"),
    "not attempted": ("#4a6fa5", "#eef3fa", "&#8230;", "Not attempted yet"),
}
_TEXT_MARK = {"correct": "correct", "close": "nearly there", "not yet": "not yet",
              "not attempted": "not attempted yet"}


@dataclass
class Feedback:
    """What a check says about one answer.

    Attributes
    ----------
    exercise : str
        The exercise id, e.g. ``"2.1"``.
    status : {"correct", "close", "not yet", "not attempted"}
        ``close`` is a right answer in the wrong form (a percentage for a share, bounds in the
        wrong order).
    points : list of str
        What is right, what looks off (plain text, one point each).
    hint : str
        What to try next (empty when correct).
    reference : object
        The value recomputed from the data, for facilitators and tests; not shown to learners.
    """

    exercise: str
    status: str
    points: list = field(default_factory=list)
    hint: str = ""
    reference: object = field(default=None, repr=False)

    @property
    def title(self) -> str:
        """The exercise's short title, e.g. for the header of the feedback (``""`` if unknown)."""
        return _TITLES.get(self.exercise, "")

    @property
    def correct(self) -> bool:
        """True when the answer is right."""
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        lines = [f"[Exercise {self.exercise}] {self.title}: {_TEXT_MARK[self.status]}"]
        lines += [f"  - {p}" for p in self.points]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:

        colour, background, icon, label = _STYLE[self.status]
        return str(render("fragments/feedback.html.j2", status_class=self.status.replace(" ", "-"),
                          colour=colour, background=background, icon=Markup(icon),
                          exercise=self.exercise, title=self.title, label=label,
                          points=[_inline(p) for p in self.points],
                          hint=_inline(self.hint) if self.hint else None))


def _inline(text: str) -> Markup:
    """Escape text, then turn `code` spans into <code>."""
    parts = str(Markup.escape(str(text))).split("`")
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def _blank(answer) -> bool:
    return answer is None or answer is Ellipsis or (isinstance(answer, str) and not answer.strip())


def _not_attempted(ex: str) -> Feedback:
    return Feedback(ex, "not attempted",
                    [f"Replace the `...` with {EXERCISES[ex][2]}, then run this cell again."])


# =============================================================================================
# reading answers
def _as_number(answer, what: str = "the answer"):
    """(float, None) or (None, a friendly note on what to pass instead)."""
    if isinstance(answer, bool | np.bool_):
        return None, f"{what} should be a number, but it is {answer} (True/False)."
    if isinstance(answer, pd.DataFrame):
        if answer.size != 1:
            return None, (f"{what} is a table with {answer.shape[0]} row(s) and {answer.shape[1]} "
                          "column(s); the check needs one number. Pick it out, for example "
                          "`table['column'].iloc[0]` or `table.loc[row, 'column']`.")
        answer = answer.iloc[0, 0]
    if isinstance(answer, pd.Series | np.ndarray | list | tuple):
        values = np.asarray(answer, dtype=object).ravel()
        if values.size != 1:
            return None, (f"{what} holds {values.size} values; the check needs one number. "
                          "Pick out the one asked for (for example with `.iloc[0]` or `.loc[...]`).")
        answer = values[0]
    if isinstance(answer, str):
        return None, (f"{what} is text ({answer!r}); pass the number itself, without quotes "
                      "(a calculation's result, not its printout).")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None, f"{what} is a {type(answer).__name__}, which the check cannot read as a number."
    if not np.isfinite(value):
        return None, (f"{what} is {value}: the calculation probably met a missing value or a "
                      "division by zero. Check what went into it.")
    return value, None


def _as_interval(answer):
    """((low, high), notes, None) or (None, [], message)."""
    if isinstance(answer, pd.DataFrame) and {"ci_low", "ci_high"} <= set(answer.columns):
        if len(answer) != 1:
            return None, [], (f"the table has {len(answer)} rows; pass the one row you mean, or "
                              "the pair `(low, high)`.")
        answer = (answer["ci_low"].iloc[0], answer["ci_high"].iloc[0])
    if isinstance(answer, str) or not hasattr(answer, "__len__"):
        return None, [], "pass the interval as a pair of numbers, `(low, high)`."
    values = list(np.asarray(answer, dtype=object).ravel())
    if len(values) != 2:
        return None, [], f"an interval is two numbers, `(low, high)`; this has {len(values)}."
    nums = []
    for v, name in zip(values, ("the lower bound", "the upper bound"), strict=True):
        x, problem = _as_number(v, name)
        if problem:
            return None, [], problem
        nums.append(x)
    notes = []
    if nums[0] > nums[1]:
        nums = nums[::-1]
        notes.append("The bounds were in the order (high, low); the check read them as (low, high).")
    return tuple(nums), notes, None


def _as_bool(answer):
    if isinstance(answer, bool | np.bool_):
        return bool(answer), None
    if isinstance(answer, str) and answer.strip().lower() in {"yes", "true", "y"}:
        return True, None
    if isinstance(answer, str) and answer.strip().lower() in {"no", "false", "n"}:
        return False, None
    if isinstance(answer, pd.Series | np.ndarray) and np.asarray(answer).size == 1:
        return _as_bool(np.asarray(answer).ravel()[0])
    return None, f"answer `True` or `False` (got {answer!r})."


def _as_domain(answer):

    if not isinstance(answer, str):
        return None, f"answer with the key question's name as text, for example `'Safe'` (got {answer!r})."
    try:
        return normalise_domain(answer), None
    except DataFormatError:
        return None, (f"{answer!r} is not a key question; the five are "
                      f"{', '.join(KEY_QUESTIONS)}.")


def _near(a, b, tol) -> bool:
    return b is not None and np.isfinite(b) and abs(a - b) <= tol


def _judge(ex, value, reference, *, tol, hint, correct, diagnoses=(), share=False, unit="",
           integer=False):
    """The common verdict for a numeric answer.

    ``correct`` is a list of points shown when right. ``diagnoses`` is a list of
    ``(candidate value, message)``: an answer matching a candidate (and not the reference) gets
    that message.
    """
    if _near(value, reference, tol):
        points = list(correct)
        if abs(value - reference) > 1e-9:
            points.append("(Your answer matches to the precision you gave it.)")
        return Feedback(ex, "correct", points, reference=reference)
    for candidate, message in diagnoses:
        if _near(value, candidate, tol) and not _near(candidate, reference, tol):
            return Feedback(ex, "not yet", [message], hint, reference=reference)
    if share:
        if 1 < value <= 100 and _near(value / 100, reference, tol):
            return Feedback(ex, "close", [
                f"Right number, but {value:g} looks like a percentage. The checks take shares "
                f"between 0 and 1: try `{value / 100:g}`."], reference=reference)
        if value < 0 or value > 1:
            return Feedback(ex, "not yet", [
                f"{value:g} cannot be a share: shares lie between 0 and 1."], hint,
                reference=reference)
    if integer and abs(value - round(value)) > 1e-9:
        return Feedback(ex, "not yet", [
            f"{value:g} is not a whole number, and this answer is a count."], hint,
            reference=reference)
    direction = "higher" if value > reference else "lower"
    return Feedback(ex, "not yet", [
        f"Your answer ({value:.4g}{unit}) is {direction} than the value recomputed from the data."],
        hint, reference=reference)


def _pct(x) -> str:
    return f"{x:.1%}"


def _num(x, digits: int = 3) -> str:
    """A number to ``digits`` decimals, without a minus sign on a rounded zero."""
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _covers(lo, hi, value) -> bool:
    return bool(lo - 1e-12 <= value <= hi + 1e-12)


def _coverage_sentence(what: str, planted: float, lo: float, hi: float, fmt=_pct) -> str:
    if _covers(lo, hi, planted):
        return (f"The generator planted {what} = {fmt(planted)}; the 95% interval "
                f"({fmt(lo)} to {fmt(hi)}) contains it, so the method recovers the planted truth.")
    return (f"The generator planted {what} = {fmt(planted)}; this sample's 95% interval "
            f"({fmt(lo)} to {fmt(hi)}) misses it. That happens to about one interval in twenty; "
            "a bigger sample (scale 'default') would show whether it is more than chance.")


# =============================================================================================
# the workshop data
class Workshop:
    """The synthetic dataset a workshop runs on, with everything the checks recompute.

    Tables are loaded on first use (and cached on disk by the loaders), so a notebook whose
    exercises are blank loads nothing it does not show.

    Parameters
    ----------
    data_dir : path, optional
        A synthetic dataset folder (holding ``truth.json``), e.g. one written by
        ``cqc-research synth --scale small --out DIR``. Default: the embedded dataset
        (``data/raw/synthetic``), written on first use.

    Raises
    ------
    FileNotFoundError
        When the folder holds no ``truth.json``: the checks only know the answers on the
        synthetic data.
    """

    def __init__(self, data_dir=None):
        if data_dir in (None, ""):
            root = ensure_default_data(quiet=True)
        else:
            root = Path(data_dir).expanduser().resolve()
        truth_file = root / "truth.json"
        if not truth_file.is_file():
            raise FileNotFoundError(
                f"{root} is not a synthetic dataset (it has no truth.json). The workshop checks "
                "know the answers only on synthetic data: leave data_dir empty for the embedded "
                "dataset, or write one with `cqc-research synth --scale small --out DIR`.")
        self.root = root
        self.truth = json.loads(truth_file.read_text())
        #: The :class:`~cqc_research.dataset.Study` of the dataset: every table is read through it.
        self.study = Study.synthetic(folder=root)
        self.paths = dataset_paths(self.root)

    def __repr__(self) -> str:
        c = self.truth.get("counts", {})
        return (f"Workshop({str(self.root)!r}: SYNTHETIC DATA, seed {self.truth.get('seed')}, scale "
                f"{self.truth.get('scale')!r}, {c.get('locations', '?')} locations)")

    def _repr_html_(self) -> str:

        c = self.truth.get("counts", {})
        sectors = ", ".join(f"{k}: {v:,}" for k, v in c.get("by_sector", {}).items())
        locations = c.get("locations", "?")
        return str(render("fragments/workshop.html.j2",
                          banner=render("fragments/small_banner.html.j2", text=BANNER_TEXT),
                          root=str(self.root), seed=self.truth.get("seed"),
                          scale=self.truth.get("scale"), sectors=sectors,
                          locations=f"{locations:,}" if isinstance(locations, int) else locations))

    # ---- tables -------------------------------------------------------------------------
    @cached_property
    def ratings(self) -> pd.DataFrame:
        """The long Latest ratings table (the :class:`~cqc_research.dataset.Study`'s, loaded once)."""
        return self.study.ratings

    @cached_property
    def wide(self) -> pd.DataFrame:
        """Locations, one row each, one rating column per domain."""
        return self.study.wide("location")

    @cached_property
    def api(self):
        """The CQC API records (rating histories)."""
        return self.study.api

    @property
    def gp_payments_path(self) -> Path:
        """The NHS Payments to General Practice file of the year the signal was planted in."""
        year = str(self.truth.get("indicator_signal", {}).get("year", ""))
        files = list(self.paths["gp_payments"])
        match = [f for f in files if year and year in Path(f).name]
        return Path(match[0] if match else files[-1])

    @cached_property
    def gp(self) -> pd.DataFrame:
        """GP practices linked to the payments indicators (the session 3 model data).

        The latest payments year is attached to every practice (``window="latest"``), since the
        planted signal links the *latest* rating to that year's measures; rows lacking the
        Overall rating or an indicator are dropped.
        """

        payments = load_gp_payments(self.gp_payments_path)
        link = link_indicators(self.wide, payments, level="practice", measures=GP_INDICATORS,
                               window="latest")
        return link.data.dropna(subset=["Overall", *GP_INDICATORS]).reset_index(drop=True)

    @cached_property
    def cv(self):
        """Five-fold cross-validated ordered logit of Overall on :data:`GP_INDICATORS`."""

        return cross_validated_prediction(self.gp, rating="Overall", indicators=GP_INDICATORS, folds=5, seed=0)

    @cached_property
    def odds_ratios(self) -> pd.DataFrame:
        """Ordered-logit odds ratios of the GP indicators for the GP practices' Overall rating.

        The result of :func:`cqc_research.metrics.prediction.ordered_logit` on :attr:`gp` with
        ``GP_INDICATORS``, computed once.
        """

        return ordered_logit(self.gp, rating="Overall", indicators=GP_INDICATORS)

    @cached_property
    def pairs(self) -> pd.DataFrame:
        """Consecutive Overall ratings of locations, following predecessor links."""

        return consecutive_pairs(self.api.history, relationships=self.api.relationships,
                                 domain="Overall")

    @cached_property
    def improvement(self) -> pd.DataFrame:
        """What followed an Inadequate rating at the next inspection, by sector.

        :func:`cqc_research.metrics.transitions.improvement_from` on :attr:`pairs`, computed once.
        """

        return improvement_from(self.pairs, start="Inadequate", by="sector")

    @cached_property
    def times(self):
        """Time from an Inadequate rating to the first better one, by sector (Kaplan-Meier).

        An :class:`~cqc_research.metrics.transitions.ImprovementTimes`, censored at deregistration
        dates, computed once.
        """

        return time_to_improvement(self.api.history, start="Inadequate", by="sector",
                                   relationships=self.api.relationships,
                                   end_dates=self.api.locations[["org_id", "deregistration_date"]])

    def prepare(self, *, progress: bool = True) -> Workshop:
        """Load and compute everything the checks use (a facilitator's warm-up before a session).

        Parameters
        ----------
        progress : bool
            Show a progress bar of the steps.

        Returns
        -------
        Workshop
            ``self``, with every cached table computed.
        """
        from tqdm.auto import tqdm

        steps = ["ratings", "wide", "api", "gp", "cv", "odds_ratios", "pairs", "improvement", "times"]
        for name in tqdm(steps, desc="workshop data", unit="step", disable=not progress):
            getattr(self, name)
        return self


_CURRENT: Workshop | None = None


def start(data_dir=None, *, display_formatters: bool = True) -> Workshop:
    """Open the workshop data and make it the one the checks use.

    Parameters
    ----------
    data_dir : path, optional
        A synthetic dataset folder; empty for the embedded dataset (written on first use).
    display_formatters : bool
        Also register the HTML views of result objects (:func:`cqc_research.display.register_formatters`).

    Returns
    -------
    Workshop
    """
    global _CURRENT
    _CURRENT = Workshop(data_dir)
    if display_formatters:

        register_formatters()
    return _CURRENT


def current() -> Workshop:
    """The workshop data the checks use (the embedded dataset if :func:`start` was not called).

    Returns
    -------
    Workshop
        The one :func:`start` opened, or a new one on the embedded synthetic dataset.
    """
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = Workshop()
    return _CURRENT


def _ws(workshop) -> Workshop:
    return workshop if workshop is not None else current()


def _sector_rows(wide: pd.DataFrame, sector: str) -> pd.DataFrame:
    return wide[wide["sector"].astype(str) == sector]


# =============================================================================================
# session 1: reading ratings
def check_rated_locations(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 1.1: the number of locations with an Overall rating on the four-point scale."""
    ex = "1.1"
    if _blank(answer):
        return _not_attempted(ex)
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], "Count with `wide['Overall'].notna().sum()`.")
    ws = _ws(workshop)
    long, wide = ws.ratings, ws.wide
    reference = int(wide["Overall"].notna().sum())
    n_other = len(wide) - reference
    providers = long.loc[long["level"] == "provider", "org_id"].nunique()
    loc_overall = long[(long["level"] == "location") & (long["domain"] == "Overall")]
    diagnoses = [
        (len(long), f"{len(long):,} is the number of rows of the long table: one row per "
                    "organisation, service or population group and domain. Count organisations."),
        (len(wide), f"That counts every location, including {n_other:,} whose Overall rating is "
                    "not on the four-point scale (see `rating_status`). Count only ratings on the scale."),
        (long["org_id"].nunique(), f"That counts organisations of both levels: it includes the "
                                   f"{providers:,} providers (the Providers sheet). Keep `level == 'location'`."),
        (len(loc_overall), "That counts the Overall rows of every service and population group "
                           "(hospital services, GP population groups). Keep the `service_group` "
                           "'Overall' rows, as `ratings_wide` does."),
    ]
    correct = [f"Right: {reference:,} locations have an Overall rating on the four-point scale."]
    if n_other:
        correct.append(f"{n_other:,} more locations have a status that is not on the scale; it is "
                       "kept in `rating_status`, never turned into a rating.")
    return _judge(ex, value, reference, tol=0.49, correct=correct, diagnoses=diagnoses, integer=True,
                  hint="Use `ratings_wide(long, level='location')` (one row per location) and "
                       "count the non-missing values of its `Overall` column.")


def _good_or_better(ws: Workshop, sector: str):
    sub = _sector_rows(ws.wide, sector)
    rated = sub["Overall"].notna()
    good = (sub["Overall"] >= "Good").fillna(False).astype(bool)
    return sub, int(good.sum()), int(rated.sum())


def check_share_good_or_better(answer, *, sector: str = "Adult social care",
                               workshop: Workshop | None = None) -> Feedback:
    """Exercise 1.2: the share of a sector's rated locations whose Overall rating is Good or better."""
    ex = "1.2"
    if _blank(answer):
        return _not_attempted(ex)
    value, problem = _as_number(answer, "your answer")
    hint = (f"Keep the {sector} rows of `wide`, then divide the number rated Good or Outstanding "
            "(`wide['Overall'] >= 'Good'` works, since ratings are ordered) by the number with a "
            "rating on the scale.")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    sub, good, n = _good_or_better(ws, sector)
    reference = good / n
    wide = ws.wide
    all_rated = wide["Overall"].notna().sum()
    diagnoses = [
        (good / len(sub) if len(sub) else None,
         "The denominator includes locations without a rating on the scale; divide by the number "
         "of rated locations."),
        ((sub["Overall"] == "Good").sum() / n,
         "That is the share rated Good only. Outstanding is better than Good, so 'Good or better' "
         "counts both."),
        ((wide["Overall"] >= "Good").sum() / all_rated,
         f"That is the share across all sectors. Keep only the {sector} locations first."),
        (1 - reference, "That is the share rated *below* Good (Requires improvement or Inadequate)."),
    ]
    correct = [f"Right: {good:,} of the {n:,} rated {sector} locations are Good or Outstanding "
               f"({_pct(reference)})."]
    stationary = ws.truth.get("transitions", {}).get("stationary", {}).get(sector)
    if stationary:
        correct.append(f"In the generator's long run, {_pct(sum(stationary[2:]))} of {sector} "
                       "ratings are Good or better (areas planted as struggling pull it down). "
                       "A rating is a judgement at one inspection, so a snapshot mixes services "
                       "inspected at different times.")
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def check_wilson_interval(answer, *, sector: str = "Adult social care",
                          workshop: Workshop | None = None) -> Feedback:
    """Exercise 1.3: the 95% Wilson interval, ``(low, high)``, of the share in exercise 1.2."""

    ex = "1.3"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`proportion_ci(count, n)` from `cqc_research.metrics.intervals` gives `(low, high)` for "
            "`count` successes out of `n`.")
    interval, notes, problem = _as_interval(answer)
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    _, good, n = _good_or_better(ws, sector)
    p = good / n
    lo, hi = proportion_ci(good, n)
    reference = (lo, hi)

    def matches(a, b, tol=_TOL_SHARE):
        return abs(interval[0] - a) <= tol and abs(interval[1] - b) <= tol

    if matches(lo, hi):
        points = notes + [
            f"Right: the 95% Wilson interval for {good:,} out of {n:,} is {lo:.3f} to {hi:.3f}.",
            f"It is {hi - lo:.3f} wide: with {n:,} locations the share is known to within about "
            f"{(hi - lo) / 2:.1%} either way. It is not symmetric around {p:.3f}; Wilson intervals "
            "lean towards 0.5 and never leave [0, 1]."]
        return Feedback(ex, "correct", points, reference=reference)
    if matches(lo * 100, hi * 100, 0.51):
        return Feedback(ex, "close", notes + [
            "Right interval, given as percentages. Give the bounds as shares between 0 and 1."],
            reference=reference)
    z = stats.norm.ppf(0.975)
    half = z * np.sqrt(p * (1 - p) / n)
    if matches(p - half, p + half) and not matches(lo, hi):
        return Feedback(ex, "not yet", notes + [
            "That is the Wald interval (share plus or minus 1.96 standard errors). It is too narrow "
            "for shares near 0 or 1 and can go past them; the Wilson interval is the better choice."],
            hint, reference=reference)
    for level, alpha in (("90%", 0.10), ("99%", 0.01)):
        a, b = proportion_ci(good, n, alpha=alpha)
        if matches(a, b):
            return Feedback(ex, "not yet", notes + [
                f"That is the {level} Wilson interval; the exercise asks for 95% (`alpha=0.05`, "
                "the default)."], hint, reference=reference)
    points = list(notes)
    if not (interval[0] <= p <= interval[1]):
        points.append(f"Your interval ({interval[0]:.3g}, {interval[1]:.3g}) does not contain the "
                      "share itself, which any confidence interval for it must.")
    else:
        points.append(f"Your interval contains the share, but its bounds differ from the 95% Wilson "
                      f"interval for {good:,} out of {n:,}.")
    return Feedback(ex, "not yet", points, hint, reference=reference)


def check_ri_or_worse(answer, *, sector: str | None = None,
                      workshop: Workshop | None = None) -> Feedback:
    """Exercise 1.4: the number of locations rated Requires improvement or worse.

    ``sector`` restricts the count to one sector (default: every sector).
    """
    ex = "1.4"
    if _blank(answer):
        return _not_attempted(ex)
    where = f"{sector} locations" if sector else "locations"
    hint = ("Ratings are an ordered categorical, so `wide['Overall'] <= 'Requires improvement'` "
            "picks Requires improvement and Inadequate"
            + (f"; keep the {sector} rows first." if sector else "."))
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    overall = (_sector_rows(ws.wide, sector) if sector else ws.wide)["Overall"]
    reference = int((overall <= "Requires improvement").sum())
    ri, inad = int((overall == "Requires improvement").sum()), int((overall == "Inadequate").sum())
    diagnoses = [
        (ri, f"That counts Requires improvement only; 'or worse' also includes the {inad:,} "
             "Inadequate ratings."),
        (inad, "That counts Inadequate only; Requires improvement is included too."),
        (int((overall < "Requires improvement").sum()) if ri else None,
         "`<` leaves out Requires improvement itself; 'or worse' needs `<=`."),
    ]
    if sector:
        diagnoses.append((int((ws.wide["Overall"] <= "Requires improvement").sum()),
                          f"That counts every sector; keep only {sector}."))
    correct = [f"Right: {reference:,} {where} are rated Requires improvement ({ri:,}) or "
               f"Inadequate ({inad:,}), of {int(overall.notna().sum()):,} rated.",
               "Because the scale is ordered, comparisons like `<=` follow it: no need to list "
               "the ratings by hand."]
    return _judge(ex, value, reference, tol=0.49, correct=correct, diagnoses=diagnoses, hint=hint,
                  integer=True)


# =============================================================================================
# session 2: does Well-led drive Overall?
def _agreement(ws: Workshop) -> pd.DataFrame:

    if "_agreement" not in ws.__dict__:
        ws.__dict__["_agreement"] = domain_agreement(ws.wide).set_index("domain")
    return ws.__dict__["_agreement"]


def check_wellled_agreement(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 2.1: the share of locations whose Well-led rating equals their Overall rating."""
    ex = "2.1"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`domain_agreement(wide, domains=['Well-led'])` gives the share that agree exactly "
            "(`agreement`), among locations with both ratings on the scale.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    table = _agreement(ws)
    row = table.loc["Well-led"]
    reference = float(row["agreement"])
    wide = ws.wide
    diagnoses = [((wide["Well-led"] == wide["Overall"]).fillna(False).astype(bool).mean(),
                  "Locations without both ratings were counted as disagreeing. Compare only those "
                  "with both ratings on the scale.")]
    diagnoses += [(float(table.loc[d, "agreement"]), f"That is the agreement of {d}, not Well-led.")
                  for d in table.index if d != "Well-led"]
    diagnoses += [(float(row["weighted_kappa"]), "That is the weighted kappa; the question asks "
                                                 "for the share that agree exactly.")]
    correct = [f"Right: Well-led equals Overall for {int(row['n_agree']):,} of {int(row['n']):,} "
               f"locations, {_pct(reference)} (95% CI {_pct(row['agreement_ci_low'])} to "
               f"{_pct(row['agreement_ci_high'])})."]
    planted = ws.truth.get("domain_agreement", {}).get("p_agree", {}).get("Well-led")
    if planted is not None:
        correct.append(_coverage_sentence("the chance that Well-led equals Overall", planted,
                                          row["agreement_ci_low"], row["agreement_ci_high"]))
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def check_least_agreeing_domain(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 2.2: the key question whose rating equals Overall least often."""
    ex = "2.2"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("Run `domain_agreement(wide)` for all five key questions and sort by `agreement`.")
    domain, problem = _as_domain(answer)
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    table = _agreement(ws).sort_values("agreement")
    reference = str(table.index[0])
    if domain == "Overall":
        return Feedback(ex, "not yet", ["Overall always agrees with itself; the question is about "
                                        "the five key questions."], hint, reference=reference)
    if domain == reference:
        row, runner = table.iloc[0], table.iloc[1]
        apart = row["agreement_ci_high"] < runner["agreement_ci_low"]
        points = [f"Right: {reference} equals Overall for only {_pct(row['agreement'])} of "
                  f"locations (95% CI {_pct(row['agreement_ci_low'])} to "
                  f"{_pct(row['agreement_ci_high'])}).",
                  f"The next lowest is {table.index[1]} at {_pct(runner['agreement'])}; the two "
                  + ("intervals do not overlap, so the gap is more than chance."
                     if apart else "intervals overlap, so this sample cannot rank them for sure.")]
        planted = ws.truth.get("domain_agreement", {}).get("p_agree", {})
        if planted:
            low = min(planted, key=planted.get)
            points.append(f"In the generator, {low} was planted to agree least often "
                          f"({_pct(planted[low])}).")
        return Feedback(ex, "correct", points, reference=reference)
    if domain == str(table.index[-1]):
        return Feedback(ex, "not yet", [f"{domain} is the key question that agrees *most* often "
                                        f"({_pct(table.iloc[-1]['agreement'])}). Look at the other "
                                        "end of the ranking."], hint, reference=reference)
    return Feedback(ex, "not yet", [f"{domain} agrees with Overall {_pct(table.loc[domain, 'agreement'])} "
                                    "of the time, but another key question agrees less often."],
                    hint, reference=reference)


def check_wellled_kappa(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 2.3: the linear weighted kappa between Overall and Well-led."""

    ex = "2.3"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`weighted_kappa(wide, a='Overall', b='Well-led')` returns a one-row table; the "
            "estimate is in its `kappa` column (linear weights are the default).")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    wide = ws.wide
    k = weighted_kappa(wide, a="Overall", b="Well-led").iloc[0]
    reference = float(k["kappa"])
    quad = float(weighted_kappa(wide, a="Overall", b="Well-led", weights="quadratic")["kappa"].iloc[0])
    unweighted = float(weighted_kappa(wide, a="Overall", b="Well-led", weights=None)["kappa"].iloc[0])
    agreement = float(_agreement(ws).loc["Well-led", "agreement"])
    diagnoses = [
        (quad, "That is the quadratic-weighted kappa; the exercise uses linear weights (the default)."),
        (unweighted, "That is the unweighted kappa (`weights=None`), which gives no credit to near "
                     "misses; use linear weights."),
        (agreement, "That is the share that agree exactly. Kappa subtracts the agreement expected "
                    "by chance, so it is lower."),
        (float(k["ci_low"]), "That is the lower bound of the interval; the estimate is `kappa`."),
        (float(k["ci_high"]), "That is the upper bound of the interval; the estimate is `kappa`."),
    ]
    table = crosstab(wide, a="Overall", b="Well-led").to_numpy(dtype=float)
    chance = float((table.sum(1) * table.sum(0)).sum() / table.sum() ** 2)
    correct = [f"Right: weighted kappa {reference:.3f} (95% CI {k['ci_low']:.3f} to {k['ci_high']:.3f}).",
               f"Exact agreement is {_pct(agreement)}, but two unrelated ratings with these "
               f"margins would agree {_pct(chance)} of the time by chance, because most locations "
               "are rated Good. Kappa measures agreement beyond that (0 = chance, 1 = perfect)."]
    return _judge(ex, value, reference, tol=_TOL_SHARE, correct=correct, diagnoses=diagnoses,
                  hint=hint)


def check_wellled_vs_caring(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 2.4: True when Well-led's agreement with Overall is clearly (CIs apart) above Caring's."""
    ex = "2.4"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("Compare Well-led's *lower* confidence bound (`agreement_ci_low`) with Caring's *upper* "
            "bound (`agreement_ci_high`): if the lower is above the upper, the intervals do not overlap.")
    verdict, problem = _as_bool(answer)
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    table = _agreement(ws)
    wl, ca = table.loc["Well-led"], table.loc["Caring"]
    reference = bool(wl["agreement_ci_low"] > ca["agreement_ci_high"])
    facts = (f"Well-led: {_pct(wl['agreement'])} ({_pct(wl['agreement_ci_low'])} to "
             f"{_pct(wl['agreement_ci_high'])}); Caring: {_pct(ca['agreement'])} "
             f"({_pct(ca['agreement_ci_low'])} to {_pct(ca['agreement_ci_high'])}).")
    if verdict == reference:
        points = [("Right: the intervals do not overlap, so Well-led agrees with Overall more often "
                   "than Caring does, beyond chance variation. " if reference else
                   "Right: the intervals overlap, so this sample cannot tell them apart. ") + facts,
                  "Agreement is not causation: it does not show that the Well-led judgement *drives* "
                  "the Overall rating. Inspectors may form both from the same evidence, and CQC's "
                  "rating principles weigh every key question."]
        return Feedback(ex, "correct", points, reference=reference)
    return Feedback(ex, "not yet", [facts + (" The intervals do not overlap." if reference
                                             else " The intervals overlap.")], hint,
                    reference=reference)


# =============================================================================================
# session 3: do indicators predict ratings?
def check_modal_share(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 3.1: the share of the linked GP practices that have the commonest Overall rating."""
    ex = "3.1"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`gp['Overall'].value_counts(normalize=True)` gives each rating's share among the "
            "linked practices; the baseline is the largest.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    shares = ws.gp["Overall"].value_counts(normalize=True).reindex(RATINGS, fill_value=0.0)
    modal = str(shares.idxmax())
    reference = float(shares.max())
    all_gp = _sector_rows(ws.wide, "GP practices")["Overall"].value_counts(normalize=True)
    diagnoses = [(float(all_gp.max()) if len(all_gp) else None,
                  f"That is the share among every rated GP practice. The model uses the "
                  f"{len(ws.gp):,} practices linked to the payments data with every indicator "
                  "(`gp`); use those.")]
    diagnoses += [(float(s), f"That is the share rated {r}, not the commonest rating.")
                  for r, s in shares.items() if r != modal]
    correct = [f"Right: {_pct(reference)} of the {len(ws.gp):,} linked practices are rated {modal}.",
               f"A 'model' that always answers {modal} is right {_pct(reference)} of the time "
               "without looking at any indicator. That is the bar a real model has to clear."]
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def _in_sample_accuracy(ws: Workshop) -> float:

    y = scale_codes(ws.gp["Overall"])
    X = ws.gp[GP_INDICATORS].to_numpy(dtype=float)
    model = OrderedLogit().fit(X, y)
    return float((model.predict_proba(X).argmax(1) == y).mean())


def check_cv_accuracy(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 3.2: the cross-validated accuracy of the ordered logit (5 folds, seed 0)."""
    ex = "3.2"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`cross_validated_prediction(gp, rating='Overall', indicators=indicators)` returns a result whose "
            "`summary` table has an `accuracy` column.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    s = ws.cv.summary.iloc[0]
    reference = float(s["accuracy"])
    diagnoses = [
        (_in_sample_accuracy(ws), "That is the in-sample accuracy: the model scored on the same "
                                  "practices it was fitted to, which flatters it. Cross-validation "
                                  "scores each practice with a model that never saw it."),
        (float(s["modal_share"]), "That is the modal-class baseline, not the model's accuracy."),
        (float(s["weighted_kappa"]), "That is the weighted kappa; the question asks for accuracy."),
    ]
    diff, lo, hi = s["accuracy_minus_modal"], s["accuracy_minus_modal_ci_low"], s["accuracy_minus_modal_ci_high"]
    compare = ("no better than" if abs(diff) < 1e-12 else
               ("above" if diff > 0 else "below"))
    correct = [f"Right: the model gets {_pct(reference)} of practices right (95% CI "
               f"{_pct(s['accuracy_ci_low'])} to {_pct(s['accuracy_ci_high'])}).",
               f"That is {compare} the baseline of always guessing {s['modal_classes']} "
               f"({_pct(s['modal_share'])}): difference {diff:+.1%} (95% CI {lo:+.1%} to {hi:+.1%})."]
    if s.get("note"):
        correct.append(f"Note: {s['note']}.")
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def check_cv_kappa(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 3.3: the cross-validated linear weighted kappa of the ordered logit."""
    ex = "3.3"
    if _blank(answer):
        return _not_attempted(ex)
    hint = "The same `summary` table has a `weighted_kappa` column (linear weights)."
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    s = ws.cv.summary.iloc[0]
    reference = float(s["weighted_kappa"])
    diagnoses = [
        (float(s["quadratic_kappa"]), "That is the quadratic-weighted kappa; use `weighted_kappa` (linear)."),
        (float(s["accuracy"]), "That is the accuracy; the question asks for the weighted kappa."),
        (float(s["auc"]), "That is the AUC of the binary view (Good or better); the question asks "
                          "for the weighted kappa."),
        (float(s["accuracy_minus_modal"]), "That is accuracy minus the baseline; the question asks "
                                           "for the weighted kappa."),
    ]
    lo, hi = s["weighted_kappa_ci_low"], s["weighted_kappa_ci_high"]
    correct = [f"Right: weighted kappa {_num(reference)} (95% CI {_num(lo)} to {_num(hi)}) against an "
               f"accuracy of {_pct(s['accuracy'])}."]
    if lo <= 0 <= hi:
        correct.append("The interval includes 0: the predictions agree with the ratings no better "
                       "than chance, given how common each rating is. High accuracy came from the "
                       "ratings being mostly one value, not from the indicators.")
    else:
        correct.append("The interval excludes 0, so the indicators carry some signal, but a kappa "
                       "this size means a weak one: accuracy alone hides how little the model adds.")
    planted = ws.truth.get("indicator_signal", {}).get("note")
    if planted:
        correct.append(f"The generator planted a weak signal: {planted}.")
    return _judge(ex, value, reference, tol=_TOL_SHARE, correct=correct, diagnoses=diagnoses,
                  hint=hint)


def check_odds_ratio(answer, *, indicator: str = "qof_payments_per_patient",
                     workshop: Workshop | None = None) -> Feedback:
    """Exercise 3.4: the ordered logit's odds ratio per standard deviation of an indicator."""
    ex = "3.4"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`ordered_logit(gp, rating='Overall', indicators=indicators)` returns one row per indicator; the odds "
            "ratio per standard deviation is in `odds_ratio_per_sd`.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    table = ws.odds_ratios.set_index("indicator")
    if indicator not in table.index:
        raise ValueError(f"indicator must be one of {list(table.index)}, not {indicator!r}")
    row = table.loc[indicator]
    reference = float(row["odds_ratio_per_sd"])
    diagnoses = [
        (float(row["coef_per_sd"]), "That is the coefficient on the log-odds scale (`coef_per_sd`). "
                                    "The odds ratio is its exponential: `np.exp(coef)`."),
        (1 / reference, "That is the inverse of the odds ratio: the odds of a *worse* rating."),
        (float(row["ci_low"]), "That is the lower bound of the interval, not the estimate."),
        (float(row["ci_high"]), "That is the upper bound of the interval, not the estimate."),
    ]
    diagnoses += [(float(table.loc[i, "odds_ratio_per_sd"]), f"That is the odds ratio of {i}.")
                  for i in table.index if i != indicator]
    correct = [f"Right: each standard deviation more of {indicator} multiplies the odds of a "
               f"better rating by {reference:.2f} (95% CI {row['ci_low']:.2f} to {row['ci_high']:.2f}, "
               f"n = {int(row['n']):,})."]
    planted = ws.truth.get("indicator_signal", {}).get("odds_ratio_per_sd", {}).get(indicator)
    if planted is not None:
        correct.append(_coverage_sentence("the odds ratio", planted, row["ci_low"], row["ci_high"],
                                          fmt=lambda x: f"{x:.2f}"))
        if row["ci_low"] <= 1 <= row["ci_high"]:
            correct.append("The interval also includes 1 (no effect): a weak signal needs many "
                           "practices to detect, even when it is really there.")
    return _judge(ex, value, reference, tol=_TOL_SHARE, correct=correct, diagnoses=diagnoses,
                  hint=hint)


# =============================================================================================
# session 4: improvement journeys
def _improvement_row(ws: Workshop, sector: str | None, outcome: str) -> pd.Series:
    imp = ws.improvement if sector is not None else _improvement_all(ws)
    rows = imp[imp["outcome"] == outcome]
    if sector is not None:
        rows = rows[rows["sector"].astype(str) == sector]
    if rows.empty:
        return pd.Series({"n": 0, "total": 0, "share": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    return rows.iloc[0]


def _improvement_all(ws: Workshop) -> pd.DataFrame:

    if "_improvement_all" not in ws.__dict__:
        ws.__dict__["_improvement_all"] = improvement_from(ws.pairs, start="Inadequate", by=None)
    return ws.__dict__["_improvement_all"]


def check_reinspected_inadequate(answer, *, workshop: Workshop | None = None) -> Feedback:
    """Exercise 4.1: how many Overall ratings of Inadequate (all sectors) were followed by another rating."""
    ex = "4.1"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("Count the pairs whose `from_rating` is Inadequate: "
            "`(pairs['from_rating'] == 'Inadequate').sum()`.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    row = _improvement_row(ws, None, "improved")
    reference = int(row["total"])
    hist = ws.api.history
    overall = hist[(hist["domain"].astype(str) == "Overall") & (hist["level"] == "location")]
    every = overall[overall["rating"] == "Inadequate"].drop_duplicates(["org_id", "report_date"])
    diagnoses = [
        (len(every), f"That counts every Inadequate rating in the histories, including "
                     f"{max(len(every) - reference, 0):,} with no later rating yet. Only ratings "
                     "followed by another inspection show what happened next."),
        (int((ws.wide["Overall"] == "Inadequate").sum()),
         "That is the number of locations rated Inadequate *now* (the latest ratings), not the "
         "history of re-inspections."),
        (int(row["n"]), "That is the number that improved; the question asks how many were "
                        "followed by another rating at all."),
    ]
    correct = [f"Right: {reference:,} Overall ratings of Inadequate were followed by another "
               f"rating; {int(row['n']):,} of them by a better one."]
    return _judge(ex, value, reference, tol=0.49, correct=correct, diagnoses=diagnoses, hint=hint,
                  integer=True)


def check_improved_share(answer, *, sector: str = "Adult social care",
                         workshop: Workshop | None = None) -> Feedback:
    """Exercise 4.2: the share of a sector's Inadequate ratings followed by a better rating."""
    ex = "4.2"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`improvement_from(pairs, start='Inadequate', by='sector')` lists outcomes per sector; "
            "the row with `outcome == 'improved'` has the share.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    row = _improvement_row(ws, sector, "improved")
    reference = float(row["share"])
    diagnoses = [
        (float(_improvement_row(ws, sector, "to Good")["share"]),
         "That counts improvement to Good only; a move from Inadequate to Requires improvement is an "
         "improvement too."),
        (float(_improvement_row(ws, sector, "to Requires improvement")["share"]),
         "That counts moves to Requires improvement only; moves to Good (or Outstanding) count too."),
        (float(_improvement_row(ws, sector, "same")["share"]),
         "That is the share rated Inadequate again, the opposite of what was asked."),
        (float(_improvement_row(ws, None, "improved")["share"]),
         f"That is the share across all sectors; keep {sector}."),
    ]
    correct = [f"Right: {int(row['n']):,} of {int(row['total']):,} {sector} Inadequate ratings were "
               f"followed by a better one, {_pct(reference)} (95% CI {_pct(row['ci_low'])} to "
               f"{_pct(row['ci_high'])})."]
    tr = ws.truth.get("transitions", {})
    planted = tr.get("improved_from_inadequate", {}).get(sector)
    if planted is not None:
        struggling = tr.get("matrix_struggling_areas", {}).get(sector)
        if struggling:
            worse = 1 - struggling[0][0]
            low, high = min(planted, worse), max(planted, worse)
            overlaps = row["ci_low"] <= high and row["ci_high"] >= low
            correct.append(f"The generator planted {_pct(planted)} in most areas and {_pct(worse)} in "
                           "the areas planted as struggling, so the estimate should lie near that "
                           f"range; its interval {'overlaps' if overlaps else 'misses'} it.")
        else:
            correct.append(_coverage_sentence("the share improving", planted, row["ci_low"], row["ci_high"]))
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def check_good_stays_good(answer, *, sector: str = "GP practices",
                          workshop: Workshop | None = None) -> Feedback:
    """Exercise 4.3: the share of a sector's Good ratings followed by Good at the next inspection."""

    ex = "4.3"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`transition_matrix(pairs, by='sector')` has one row per sector, from and to rating; "
            "`share` is the share of the *from* row.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    if "_matrix" not in ws.__dict__:
        ws.__dict__["_matrix"] = transition_matrix(ws.pairs, by="sector")
    m = ws.__dict__["_matrix"]
    m = m.assign(sector=m["sector"].astype(str), from_rating=m["from_rating"].astype(str),
                 to_rating=m["to_rating"].astype(str))
    cell = m[(m["sector"] == sector) & (m["from_rating"] == "Good") & (m["to_rating"] == "Good")].iloc[0]
    reference = float(cell["share"])
    to_good = m[(m["sector"] == sector) & (m["to_rating"] == "Good")]["n"].sum()
    pooled = m[(m["from_rating"] == "Good") & (m["to_rating"] == "Good")]
    sector_pairs = m[m["sector"] == sector]["n"].sum()
    diagnoses = [
        (cell["n"] / to_good if to_good else None,
         "You divided by the number of pairs that *end* Good (the column). The question is about "
         "ratings that *start* Good: divide by the row total."),
        (cell["n"] / sector_pairs if sector_pairs else None,
         "You divided by all of the sector's pairs; divide by the pairs that start Good."),
        (pooled["n"].sum() / pooled["row_n"].sum() if pooled["row_n"].sum() else None,
         f"That pools every sector; keep {sector}."),
    ]
    correct = [f"Right: {int(cell['n']):,} of {int(cell['row_n']):,} Good ratings of {sector} were "
               f"followed by Good, {_pct(reference)} (95% CI {_pct(cell['ci_low'])} to "
               f"{_pct(cell['ci_high'])}, Goodman simultaneous intervals for the row)."]
    planted = ws.truth.get("transitions", {}).get("matrix", {}).get(sector)
    if planted:
        correct.append(_coverage_sentence("Good followed by Good", planted[2][2], cell["ci_low"],
                                          cell["ci_high"]))
    return _judge(ex, value, reference, tol=_TOL_SHARE, share=True, correct=correct,
                  diagnoses=diagnoses, hint=hint)


def check_median_time(answer, *, sector: str = "Adult social care",
                      workshop: Workshop | None = None) -> Feedback:
    """Exercise 4.4: the Kaplan-Meier median months from Inadequate to a better rating."""
    ex = "4.4"
    if _blank(answer):
        return _not_attempted(ex)
    hint = ("`time_to_improvement(api.history, start='Inadequate', by='sector', ...)` returns an object "
            "whose `median` table has `median_months` per sector.")
    value, problem = _as_number(answer, "your answer")
    if problem:
        return Feedback(ex, "not yet", [problem], hint)
    ws = _ws(workshop)
    times = ws.times
    med = times.median[times.median["sector"].astype(str) == sector]
    if med.empty or pd.isna(med["median_months"].iloc[0]):
        return Feedback(ex, "not yet", [f"On this dataset the median time for {sector} is not "
                                        "reached (fewer than half improved by the data date), so "
                                        "there is no median to give."], hint)
    row = med.iloc[0]
    reference = float(row["median_months"])
    ep = times.episodes[times.episodes["sector"].astype(str) == sector]
    improved = ep.loc[ep["improved"] == 1, "months"]
    diagnoses = [
        (float(improved.median()) if len(improved) else None,
         f"That is the median over the spells that ended in improvement only. It leaves out the "
         f"{int((ep['improved'] == 0).sum()):,} spells still open (censored), so it is biased: "
         "Kaplan-Meier uses them as 'not improved yet, up to this time'."),
        (float(improved.mean()) if len(improved) else None,
         "That is the mean over the improved spells only; it ignores the censored spells and is "
         "pulled by long waits. Use the Kaplan-Meier median."),
        (float(ep["months"].median()) if len(ep) else None,
         "That is the median length of every spell, treating censored spells as if they had "
         "improved when observation stopped. Use the Kaplan-Meier median."),
    ]
    for unit, factor in (("days", 365.25 / 12), ("years", 1 / 12), ("weeks", 365.25 / 12 / 7)):
        if _near(value, reference * factor, max(_TOL_MONTHS * factor, 0.0051)):
            return Feedback(ex, "close", [f"Right time, in {unit}. Give it in months."], reference=reference)
    ci = (f" (95% CI {row['ci_low']:.1f} to {row['ci_high']:.1f})"
          if pd.notna(row["ci_low"]) and pd.notna(row["ci_high"]) else " (its interval is open-ended)")
    correct = [f"Right: half of the {sector} Inadequate spells had improved by "
               f"{reference:.1f} months{ci}; {int(row['events']):,} of {int(row['n']):,} spells "
               "ended in a better rating, the rest are censored."]
    gap = ws.truth.get("transitions", {}).get("gap_months", {}).get("Inadequate")
    if gap is not None:
        correct.append(f"The generator re-inspects Inadequate services after {gap:g} months on "
                       "average, and not every re-inspection finds improvement, so the median "
                       "time to improvement is longer than the gap to the next inspection.")
    return _judge(ex, value, reference, tol=_TOL_MONTHS, correct=correct, diagnoses=diagnoses,
                  hint=hint, unit=" months")


# ---------------------------------------------------------------------------------------------
# every check shares one calling convention; document it once
_EXTRA_PARAMETERS = {
    "sector": "sector : str\n        The sector the exercise is about (the default is the one the notebook uses).\n",
    "indicator": "indicator : str\n        The indicator whose odds ratio is asked for.\n",
}


def _document_checks() -> None:
    import inspect

    for name, session, what in EXERCISES.values():
        func = globals()[name]
        extra = "".join(f"    {text}" for param, text in _EXTRA_PARAMETERS.items()
                        if param in inspect.signature(func).parameters)
        func.__doc__ = (
            f"{func.__doc__.strip()}\n\n"
            f"    Session {session}. Runs in the notebook's check cell; never raises on an answer.\n\n"
            "    Parameters\n    ----------\n"
            f"    answer : object\n        {what[0].upper() + what[1:]}. ``...``, None or an empty "
            "string mean\n        the exercise was not attempted yet.\n"
            f"{extra}"
            "    workshop : Workshop, optional\n        The data to check against; default "
            ":func:`current` (set by :func:`start`).\n\n"
            "    Returns\n    -------\n    Feedback\n        Shown as a coloured box in JupyterLab; "
            "``bool(feedback)`` is True when right.\n\n"
            f"    Examples\n    --------\n    >>> {name}(...).status\n    'not attempted'\n")


_document_checks()
