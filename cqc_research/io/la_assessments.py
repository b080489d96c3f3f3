"""Councils' assessments by CQC (Care Act 2014, the single assessment framework): the file layout.

One row per council: ``Local authority, Type, Overall rating, Published``, then one column per
quality statement named as CQC names it (or ``QS1``..``QS9``), each scored 1-4. The scores' share
of the maximum (36) gives the rating: 25-38% Inadequate, 39-62% Requires improvement, 63-87%
Good, 88% and over Outstanding. :mod:`cqc_research.studies.councils` adds ONS codes and the analyses.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..assessment_framework import BANDS, round_percentage
from ..errors import DataFormatError
from ..provenance import is_synthetic
from ..ratings import RATING_DTYPE, STATUS_DTYPE, parse_ratings
from .nhs._common import decode_text

__all__ = ["read_la_assessments", "CouncilAssessments"]

_DATA = Path(__file__).resolve().parents[1] / "data"
#: The 72 councils assessed from August 2024 to September 2025, shipped with the package (see
#: its companion ``.yaml`` for the provenance).
PACKAGED_ASSESSMENTS = _DATA / "la_assessments_2024-08_to_2025-09.csv"

#: The nine quality statements of the local authority framework: (number, theme, statement).
LA_STATEMENTS: list[tuple[int, str, str]] = [
    (1, "Working with people", "Assessing needs"),
    (2, "Working with people", "Supporting people to live healthier lives"),
    (3, "Working with people", "Equity in experience and outcomes"),
    (4, "Providing support", "Care provision, integration and continuity"),
    (5, "Providing support", "Partnerships and communities"),
    (6, "How the local authority ensures safety within the system", "Safe pathways, systems and transitions"),
    (7, "How the local authority ensures safety within the system", "Safeguarding"),
    (8, "Leadership", "Governance, management and sustainability"),
    (9, "Leadership", "Learning, improvement and innovation"),
]
#: Theme -> its statements, in order.
LA_THEMES: dict[str, list[str]] = {}
for _n, _theme, _statement in LA_STATEMENTS:
    LA_THEMES.setdefault(_theme, []).append(_statement)

_FIXED = {"council": ["Local authority"], "type": ["Type"], "rating": ["Overall rating"],
          "published": ["Published"]}
_MAX = 4 * len(LA_STATEMENTS)

# ---------------------------------------------------------------------------------------------
# the rule
def council_rating(percent) -> str | None:
    """The rating CQC's local authority rule gives a percentage score.

    Parameters
    ----------
    percent : float or None
        The statement scores' share of the maximum, in percent (unrounded or whole).

    Returns
    -------
    str or None
        25-38 Inadequate, 39-62 Requires improvement, 63-87 Good, 88-100 Outstanding, after
        rounding to a whole percent (halves upwards); None for a missing value.

    Raises
    ------
    ValueError
        For a percentage outside 25-100.

    Examples
    --------
    >>> [council_rating(100 * s / 36) for s in (12, 14, 22, 23, 31, 32)]  # doctest: +NORMALIZE_WHITESPACE
    ['Inadequate', 'Requires improvement', 'Requires improvement', 'Good', 'Good', 'Outstanding']
    """
    if percent is None or (isinstance(percent, float) and math.isnan(percent)):
        return None
    p = round_percentage(float(percent))
    for rating, low, high in BANDS:
        if low <= p <= high:
            return rating
    raise ValueError(f"a council's percentage score lies between 25 and 100, got {percent!r}")


# ---------------------------------------------------------------------------------------------
# the loader
@dataclass
class CouncilAssessments:
    """Councils' assessments, as :func:`read_la_assessments` reads them.

    Attributes
    ----------
    assessments : DataFrame
        One row per council: ``council, ons_code`` (NA when the lookup given has no match, or
        none was given), ``type, published`` (datetime; the first of the month when only month
        and year are published), ``total_score`` (of 36), ``percentage`` (unrounded share of the
        maximum, in percent), ``percentage_rounded``, ``rating`` (published, ``RATING_DTYPE``,
        NaN when not on the scale), ``rating_status`` (``STATUS_DTYPE``: ``Rated``, ``Not
        rated``, or ``Unknown`` for a word the scale does not know), ``rating_text`` (as
        published), ``rule_rating`` (``RATING_DTYPE``) and ``agrees`` (boolean; NA when the
        published rating is not on the scale).
    scores : DataFrame
        One row per council and statement: ``council, ons_code, number, theme, statement, score``.
    source : str
        The file read.
    unknown_ratings : dict
        Rating words not on the scale nor a known status -> how many councils carry them.
    synthetic : bool
        True when the file lies in a synthetic dataset.
    """

    assessments: pd.DataFrame
    scores: pd.DataFrame
    source: str
    unknown_ratings: dict = field(default_factory=dict)
    synthetic: bool = False

    def __repr__(self) -> str:
        return f"CouncilAssessments({len(self.assessments)} councils from {Path(self.source).name})"


def _published(text, path, row) -> pd.Timestamp:
    s = str(text).strip()
    for fmt in ("%B %Y", "%b %Y", "%Y-%m"):
        try:
            return pd.Timestamp(pd.to_datetime(s, format=fmt))
        except (ValueError, TypeError):
            continue
    try:
        return pd.Timestamp(pd.to_datetime(s, dayfirst=not s[:4].isdigit()))
    except (ValueError, TypeError):
        raise DataFormatError(f"publication date {s!r} is neither a month ('February 2025') nor a date",
                              path=path, row=row, column="Published") from None


def _statement_columns(header: list[str], path) -> list[str]:
    """The header's column for each statement, by CQC's name or QS1..QS9 (in statement order)."""
    folded = {" ".join(h.split()).casefold(): h for h in header}
    out = []
    for number, _theme, name in LA_STATEMENTS:
        hit = folded.get(name.casefold()) or folded.get(f"qs{number}")
        if hit is None:
            raise DataFormatError(f"no column for quality statement {number} ({name!r}, or 'QS{number}')",
                                  path=path, column=name)
        out.append(hit)
    return out


def read_la_assessments(path=None, *, ons_code=None) -> CouncilAssessments:
    """Read councils' assessments: one row per council, one column per quality statement.

    The layout (``../shared/data/real_formats/la_assessments/``): ``Local authority, Type,
    Overall rating, Published`` (month and year, or a full date), then one column per quality
    statement named as CQC names it (or ``QS1`` to ``QS9``), each a score 1-4.

    Parameters
    ----------
    path : path, optional
        The CSV; default the 72 councils shipped with the package (:data:`PACKAGED_ASSESSMENTS`).
    ons_code : callable, optional
        Council name -> its ONS code, or None; :func:`cqc_research.studies.councils.load_la_assessments`
        builds it from a local-authority lookup. Default: no codes (NA).

    Returns
    -------
    CouncilAssessments

    Raises
    ------
    DataFormatError
        One line naming the file, row and column: a score outside 1-4 or not a number, a missing
        statement (or ``Local authority``) column, a council named twice, an unreadable date.
        A rating word that is neither on the scale nor a known status is kept as ``Unknown``,
        counted in ``unknown_ratings`` and warned about once.

    Examples
    --------
    >>> la = read_la_assessments()
    >>> len(la.assessments), int(la.assessments["agrees"].sum())
    (72, 71)
    """
    path = Path(path) if path is not None else PACKAGED_ASSESSMENTS
    if not path.is_file():
        raise DataFormatError("no such file", path=path)
    try:  # UTF-8 (a byte-order mark dropped), else Windows-1252, as NHS CSVs are
        rows = list(csv.reader(io.StringIO(decode_text(path), newline="")))
    except csv.Error as exc:  # e.g. a cell longer than the csv module's field limit
        raise DataFormatError(f"malformed CSV: {exc}", path=path) from None
    if not rows:
        raise DataFormatError("the file is empty; expected a header row", path=path)
    header = [h.strip() for h in rows[0]]
    fixed = {}
    for role, names in _FIXED.items():
        hit = next((i for i, h in enumerate(header) if h.casefold() in {n.casefold() for n in names}), None)
        if hit is None and role in ("council", "rating"):
            raise DataFormatError(f"no column {names[0]!r}", path=path, column=names[0])
        fixed[role] = hit
    statement_cols = [header.index(c) for c in _statement_columns(header, path)]
    records, score_rows, seen = [], [], {}
    for i, raw in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in raw):
            continue
        raw = raw + [""] * (len(header) - len(raw))
        council = raw[fixed["council"]].strip()
        if not council:
            raise DataFormatError("no council name", path=path, row=i, column=header[fixed["council"]])
        if council.casefold() in seen:
            raise DataFormatError(f"council {council!r} appears twice (rows {seen[council.casefold()]} and {i})",
                                  path=path, row=i, column=header[fixed["council"]])
        seen[council.casefold()] = i
        scores = []
        for (number, theme, statement), j in zip(LA_STATEMENTS, statement_cols, strict=True):
            text = raw[j].strip()
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if value not in (1, 2, 3, 4):
                raise DataFormatError(f"score {text!r} is not on CQC's 1-4 scale", path=path, row=i,
                                      column=header[j])
            scores.append(int(value))
            score_rows.append({"council": council, "number": number, "theme": theme,
                               "statement": statement, "score": int(value)})
        total = sum(scores)
        records.append({
            "council": council,
            "type": raw[fixed["type"]].strip() if fixed["type"] is not None else pd.NA,
            "published": (_published(raw[fixed["published"]], path, i) if fixed["published"] is not None
                          and raw[fixed["published"]].strip() else pd.NaT),
            "total_score": total, "percentage": 100.0 * total / _MAX, "_rating_text": raw[fixed["rating"]].strip(),
            "_row": i})
    frame = pd.DataFrame(records)
    if frame.empty:
        raise DataFormatError("no councils below the header", path=path)
    parsed = parse_ratings(frame["_rating_text"], unknown="keep", where=str(path), rows=frame["_row"], warn=True)
    frame.insert(1, "ons_code", pd.array([(ons_code(c) if ons_code is not None else None) or pd.NA
                                          for c in frame["council"]], dtype="string"))
    frame["percentage_rounded"] = [round_percentage(p) for p in frame["percentage"]]
    frame["rating"] = pd.Categorical(parsed["rating"].astype("object").to_numpy(), dtype=RATING_DTYPE)
    frame["rating_status"] = pd.Categorical(parsed["rating_status"].astype("object").to_numpy(), dtype=STATUS_DTYPE)
    frame["rating_text"] = frame["_rating_text"]
    frame["rule_rating"] = pd.Categorical([council_rating(p) for p in frame["percentage"]], dtype=RATING_DTYPE)
    agrees = pd.array(np.asarray(frame["rating"].cat.codes) == np.asarray(frame["rule_rating"].cat.codes),
                      dtype="boolean")
    agrees[frame["rating"].isna().to_numpy()] = pd.NA
    frame["agrees"] = agrees
    frame["published"] = pd.to_datetime(frame["published"])
    unknown = {str(k): int(v) for k, v in frame.loc[frame["rating_status"] == "Unknown", "rating_text"]
               .value_counts().items()}
    frame = frame.drop(columns=["_rating_text", "_row"])
    scores = pd.DataFrame(score_rows)
    scores.insert(1, "ons_code", scores["council"].map(dict(zip(frame["council"], frame["ons_code"], strict=True))))
    synthetic = is_synthetic(path)
    for t in (frame, scores):
        t.attrs.update({"source": str(path), "kind": "la_assessments", "synthetic": synthetic})
    return CouncilAssessments(frame, scores, str(path), unknown, synthetic)


def looks_like_la_assessments(header) -> bool:
    """True for a header row of the councils' assessments layout.

    Parameters
    ----------
    header : iterable of str
        The first row's cells.

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_la_assessments(["Local authority", "Type", "Overall rating", "Published", "QS1"])
    True
    >>> looks_like_la_assessments(["Practice Code", "List size"])
    False
    """
    folded = {" ".join(str(h).split()).casefold() for h in header}
    statements = {name.casefold() for _n, _t, name in LA_STATEMENTS} | {f"qs{n}" for n, _t, _s in LA_STATEMENTS}
    return {"local authority", "overall rating"} <= folded and bool(folded & statements)
