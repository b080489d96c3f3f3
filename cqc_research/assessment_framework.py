"""CQC's single assessment framework (2023 onwards): quality statements, scores, bands and the scoring rule.

Since November 2023 CQC assesses services against 34 *quality statements* grouped under the five
key questions. Each assessed statement gets a score from 1 to 4; a key question's score is the sum
of its statement scores as a percentage of the maximum, and the percentage falls in one of four
bands that give the rating. This module holds that vocabulary and the rule, in the two versions
CQC has published (see ``docs/assessment_framework.md`` for what was read, and where):

``"2023-11"`` (assessments before 2 December 2024)
    Each statement's score was built from scores given to its *evidence categories* (people's
    experiences, feedback from staff and leaders, partners, observation, processes): the
    category scores are summed, taken as a percentage of the maximum (4 per category) and turned
    back into a 1-4 score (:func:`statement_score_from_evidence`). CQC's worked example: 3, 2, 3
    and 3 give 11 of 16, 69%, so a score of 3.
``"2024-12"`` (from 2 December 2024)
    Statements are scored directly, by professional judgement on all the evidence; evidence
    categories are no longer scored. CQC states that the way statement scores are aggregated to a
    key-question rating did not change.

In both versions the key-question percentage is ``100 * sum(scores) / (4 * n_statements)``, over
every statement of the key question (statements not assessed this time keep the score they had;
at a service's first assessment they take the score of its previous rating, Good = 3), and the
rating follows CQC's bands: Inadequate 25-38%, Requires improvement 39-62%, Good 63-87%,
Outstanding 88-100% (CQC publishes whole percentages, so "over 87%").

This is a base-layer module: it imports only :mod:`cqc_research.ratings` and
:mod:`cqc_research.errors`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import DataFormatError
from .ratings import KEY_QUESTIONS, RATINGS, normalise_rating

__all__ = [
    "FRAMEWORK_2014",
    "FRAMEWORK_SAF",
    "rule_for",
    "percentage_score",
    "rating_from_percentage",
    "key_question_result",
]

#: Values of the ``framework`` column of rating histories.
FRAMEWORK_2014 = "2014 framework"
FRAMEWORK_SAF = "Single assessment framework"

#: The 34 quality statements: id -> (key question, name), as named in the CQC API.
QUALITY_STATEMENTS: dict[int, tuple[str, str]] = {
    1: ("Safe", "Learning culture"),
    2: ("Safe", "Safe systems, pathways and transitions"),
    3: ("Safe", "Safeguarding"),
    4: ("Safe", "Involving people to manage risks"),
    5: ("Safe", "Safe environments"),
    6: ("Safe", "Safe and effective staffing"),
    7: ("Safe", "Infection prevention and control"),
    8: ("Safe", "Medicines optimisation"),
    9: ("Effective", "Assessing needs"),
    10: ("Effective", "Delivering evidence-based care and treatment"),
    11: ("Effective", "How staff, teams and services work together"),
    12: ("Effective", "Supporting people to live healthier lives"),
    13: ("Effective", "Monitoring and improving outcomes"),
    14: ("Effective", "Consent to care and treatment"),
    15: ("Caring", "Kindness, compassion and dignity"),
    16: ("Caring", "Treating people as individuals"),
    17: ("Caring", "Independence, choice and control"),
    18: ("Caring", "Responding to people’s immediate needs"),
    19: ("Caring", "Workforce wellbeing and enablement"),
    20: ("Responsive", "Person-centred Care"),
    21: ("Responsive", "Care provision, Integration and continuity"),
    22: ("Responsive", "Providing Information"),
    23: ("Responsive", "Listening to and involving people"),
    24: ("Responsive", "Equity in access"),
    25: ("Responsive", "Equity in experiences and outcomes"),
    26: ("Responsive", "Planning for the future"),
    27: ("Well-led", "Shared direction and culture"),
    28: ("Well-led", "Capable, compassionate and inclusive leaders"),
    29: ("Well-led", "Freedom to speak up"),
    30: ("Well-led", "Workforce equality, diversity and inclusion"),
    31: ("Well-led", "Governance, management and sustainability"),
    32: ("Well-led", "Partnerships and communities"),
    33: ("Well-led", "Learning, improvement and innovation"),
    34: ("Well-led", "Environmental sustainability – sustainable development"),
}
#: Statement ids under each key question.
STATEMENTS_BY_KEY_QUESTION: dict[str, list[int]] = {
    kq: [i for i, (k, _) in QUALITY_STATEMENTS.items() if k == kq] for kq in KEY_QUESTIONS
}

#: The text CQC publishes with each score, as in ``qualityStatementscore`` ("3 - ...").
SCORE_DESCRIPTIONS = {
    1: "Evidence shows significant shortfalls in the standard of care",
    2: "Evidence shows some shortfalls in the standard of care",
    3: "Evidence shows a good standard of care",
    4: "Evidence shows an exceptional standard of care",
}
#: Statement values that are not on the 1-4 scale (services CQC does not rate, such as dental
#: practices, are judged against the regulations instead). Kept as a status, never as a score.
NON_SCALE_SCORES = ["Regulations met", "Regulations not met", "Not scored"]

#: Rating bands of the key-question percentage, worst to best: (rating, lowest %, highest %).
BANDS = [
    ("Inadequate", 25, 38),
    ("Requires improvement", 39, 62),
    ("Good", 63, 87),
    ("Outstanding", 88, 100),
]

#: The day CQC stopped scoring evidence categories.
RULE_CHANGE_DATE = dt.date(2024, 12, 2)


@dataclass(frozen=True)
class ScoringRule:
    """One published version of CQC's scoring rule.

    Attributes
    ----------
    version : str
        ``"2023-11"`` or ``"2024-12"``.
    in_force_from, in_force_until : datetime.date or None
        Assessments dated on or after ``in_force_from`` and before ``in_force_until``.
    statement_scores : str
        How a quality statement's score is reached.
    key_question_rule : str
        How statement scores become the key-question percentage and rating.
    source : str
        CQC's page that describes this version.
    """

    version: str
    in_force_from: dt.date
    in_force_until: dt.date | None
    statement_scores: str
    key_question_rule: str
    source: str


_KQ_RULE = ("percentage = 100 x (sum of the key question's statement scores) / (4 x number of "
            "statements), rounded to a whole percent; rating from BANDS")
RULES = {
    "2023-11": ScoringRule(
        "2023-11", dt.date(2023, 11, 1), RULE_CHANGE_DATE,
        "evidence-category scores (1-4) summed, as a percentage of 4 per category, turned back "
        "into a score 1-4 with the same bands; may be moderated by professional judgement",
        _KQ_RULE,
        "CQC, 'How we reach a rating (for assessments before December 2024)' and 'Example: how "
        "we reach a rating' (version of 21 May 2024)"),
    "2024-12": ScoringRule(
        "2024-12", RULE_CHANGE_DATE, None,
        "scored directly 1-4 by professional judgement on the evidence in all relevant "
        "categories; evidence categories are not scored",
        _KQ_RULE + " (unchanged)",
        "CQC, 'How we reach a rating', 'Example: how we reach a rating' (11 December 2024) and "
        "'Update to our current scoring approach' (19 May 2025)"),
}


def rule_for(date) -> ScoringRule:
    """The version of the scoring rule in force for an assessment on ``date``.

    Parameters
    ----------
    date : date-like or None
        The assessment date (``assessmentDate``); None gives the later version.

    Returns
    -------
    ScoringRule

    Examples
    --------
    >>> rule_for("2024-07-15").version
    '2023-11'
    >>> rule_for("2025-01-10").version
    '2024-12'
    """
    if date is None or (isinstance(date, float) and math.isnan(date)):
        return RULES["2024-12"]
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    elif isinstance(date, dt.datetime):
        date = date.date()
    elif hasattr(date, "date") and callable(date.date):  # pandas Timestamp
        if date != date:  # NaT
            return RULES["2024-12"]
        date = date.date()
    return RULES["2023-11"] if date < RULE_CHANGE_DATE else RULES["2024-12"]


_SCORE_RE = re.compile(r"^\s*(\d+)\s*(?:[-–:.]\s*(.*))?$", re.S)
_NON_SCALE_LOOKUP = {s.casefold(): s for s in NON_SCALE_SCORES}


def parse_statement_score(text, *, where: str | None = None) -> tuple[int | None, str | None, str]:
    """Parse a published ``qualityStatementscore``.

    Parameters
    ----------
    text : str or None
        For example ``"3 - Evidence shows a good standard of care"`` or ``"Regulations met"``.
    where : str, optional
        File and JSON path, for the error message.

    Returns
    -------
    score : int or None
        1 to 4, or None for a value that is not on the scale.
    description : str or None
        The text after the score.
    status : str
        ``"Scored"``, a non-scale value such as ``"Regulations met"``, or ``"No score"`` for an
        empty value.

    Raises
    ------
    DataFormatError
        For a number outside 1-4 (``"7 - ..."``) or text that is neither a score nor a known
        non-scale value.

    Examples
    --------
    >>> parse_statement_score("2 - Evidence shows some shortfalls in the standard of care")
    (2, 'Evidence shows some shortfalls in the standard of care', 'Scored')
    >>> parse_statement_score("Regulations met")
    (None, None, 'Regulations met')
    """
    if text is None or str(text).strip() == "":
        return None, None, "No score"
    s = str(text).strip()
    m = _SCORE_RE.match(s)
    if m:
        score = int(m.group(1))
        if not 1 <= score <= 4:
            raise DataFormatError(f"quality statement score {s!r} is not on CQC's 1-4 scale", path=where)
        desc = (m.group(2) or "").strip() or SCORE_DESCRIPTIONS[score]
        return score, desc, "Scored"
    known = _NON_SCALE_LOOKUP.get(s.casefold())
    if known:
        return None, None, known
    raise DataFormatError(f"unknown quality statement score {s!r}; expected '1 - ...' to '4 - ...' or one of "
                          f"{NON_SCALE_SCORES}", path=where)


def round_percentage(value: float) -> int:
    """Round a percentage to a whole percent, halves upwards (62.5 -> 63).

    CQC publishes whole percentages; the rounding of halves is not stated on its pages, so this
    is an assumption, checked by :func:`cqc_research.metrics.assessment.scoring_consistency`.

    Parameters
    ----------
    value : float
        A percentage (a tiny tolerance keeps ``62.4999999999`` from floating-point sums at 63).

    Returns
    -------
    int
        The whole percentage.

    Examples
    --------
    >>> round_percentage(62.5), round_percentage(62.4)
    (63, 62)
    """
    return int(math.floor(value + 0.5 + 1e-9))


def percentage_score(scores: Iterable[int], *, rounded: bool = True) -> float:
    """Key-question percentage: the sum of the statement scores over 4 per statement.

    Parameters
    ----------
    scores : iterable of int
        The 1-4 scores of every quality statement of the key question.
    rounded : bool
        Round to a whole percent as CQC publishes (:func:`round_percentage`).

    Returns
    -------
    float

    Examples
    --------
    >>> percentage_score([2, 3, 3, 3, 3])
    70
    >>> percentage_score([3, 2, 3, 3], rounded=False)
    68.75
    """
    s = [int(x) for x in scores]
    if not s:
        raise ValueError("percentage_score needs at least one statement score")
    bad = [x for x in s if not 1 <= x <= 4]
    if bad:
        raise ValueError(f"statement scores must be 1-4, got {bad[:3]}")
    pct = 100.0 * sum(s) / (4 * len(s))
    return round_percentage(pct) if rounded else pct


def rating_from_percentage(pct) -> str | None:
    """The rating band of a (whole) percentage; None for a missing value.

    Parameters
    ----------
    pct : float or None
        A key question's percentage score, rounded with :func:`round_percentage` first.

    Returns
    -------
    str or None
        The rating whose band in :data:`BANDS` holds the percentage (25-38 Inadequate, 39-62
        Requires improvement, 63-87 Good, 88-100 Outstanding); None when ``pct`` is missing.

    Raises
    ------
    ValueError
        If the percentage lies outside 25-100.

    Examples
    --------
    >>> [rating_from_percentage(p) for p in (25, 38, 39, 62, 63, 87, 88, 100)]  # doctest: +NORMALIZE_WHITESPACE
    ['Inadequate', 'Inadequate', 'Requires improvement', 'Requires improvement', 'Good', 'Good',
     'Outstanding', 'Outstanding']
    """
    if pct is None or (isinstance(pct, float) and math.isnan(pct)):
        return None
    p = round_percentage(float(pct))
    if p < 25 or p > 100:
        raise ValueError(f"a key-question percentage lies between 25 and 100, got {pct!r}")
    for rating, low, high in BANDS:
        if low <= p <= high:
            return rating
    raise AssertionError(p)  # pragma: no cover - the bands cover 25..100


def key_question_result(scores: Iterable[int], *, version: str = "2024-12") -> tuple[int, str]:
    """Percentage and rating that the rule gives for a key question's statement scores.

    Parameters
    ----------
    scores : iterable of int
        The scores of every statement of the key question, assessed or carried over.
    version : {"2023-11", "2024-12"}
        The rule's version (both aggregate statements the same way).

    Returns
    -------
    (percentage, rating)

    Examples
    --------
    >>> key_question_result([3, 3, 3, 3, 3, 3, 3, 3])
    (75, 'Good')
    >>> key_question_result([2, 2, 3, 2, 2])
    (55, 'Requires improvement')
    """
    if version not in RULES:
        raise ValueError(f"version must be one of {list(RULES)}, not {version!r}")
    pct = percentage_score(scores)
    return pct, rating_from_percentage(pct)


def statement_score_from_evidence(category_scores: Iterable[int], *, version: str = "2023-11") -> tuple[int, int]:
    """A quality statement's score from its evidence-category scores (rule version 2023-11).

    Parameters
    ----------
    category_scores : iterable of int
        One 1-4 score per relevant evidence category.
    version : str
        Only ``"2023-11"``: from December 2024 CQC no longer scores evidence categories.

    Returns
    -------
    (percentage, score)

    Examples
    --------
    CQC's worked example (infection prevention and control at a GP practice):

    >>> statement_score_from_evidence([3, 2, 3, 3])
    (69, 3)
    """
    if version != "2023-11":
        raise ValueError("evidence categories are scored only under rule version '2023-11' "
                         "(assessments before 2 December 2024)")
    pct = percentage_score(category_scores)
    return pct, RATINGS.index(rating_from_percentage(pct)) + 1


def first_statement_score(previous_rating) -> int | None:
    """The score a statement not yet assessed takes from the key question's previous rating.

    At a service's first assessment under the framework, CQC gives the statements it did not
    assess a score from the key question's rating under the 2014 framework: Inadequate 1,
    Requires improvement 2, Good 3, Outstanding 4 (the real Oldham records agree: every
    statement not assessed at a service previously rated Good scores 3).

    Parameters
    ----------
    previous_rating : str or None
        The key question's previous rating as published (any case and spacing).

    Returns
    -------
    int or None
        The score 1-4, or None when the previous rating is missing or not on the scale.

    Examples
    --------
    >>> first_statement_score("Requires Improvement")
    2
    >>> first_statement_score("Inspected but not rated") is None
    True
    """
    rating, _ = normalise_rating(previous_rating)
    return None if rating is None else RATINGS.index(rating) + 1
