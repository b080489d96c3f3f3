"""Synthetic councils' assessments, in the layout of the published table, with planted effects.

Every local authority of the synthetic world is assessed once, in the one-row-per-council layout
of ``../shared/data/real_formats/la_assessments/`` (``Local authority, Type, Overall rating,
Published``, one column per quality statement named as CQC names it). Two things are planted:

relation to local care quality
    A council's percentage score is ``66 + slope * (100 * share - 80) + e``, ``e ~ N(0, 7)``,
    where ``share`` is the share of the area's adult social care locations whose current
    Overall rating (the one in the Latest ratings workbook) is Good or Outstanding, and
    ``slope`` = :data:`COUNCIL_SLOPE` percentage points of council score per percentage point
    of local share (0 in the null world). The score is rounded to a whole number of the 36
    points and spread over the nine statements; the rounding keeps the slope of the mean score
    on the share (the least-squares slope recovers it).
rule exceptions
    A few councils (one in twelve, at least one) are published one rating step away from the
    rating their scores give (none in the null world).

One further council is published as "Not Rated", as one is in the real file; it is neither an
exception nor left out of the relation. The generator draws from its own random stream
(``numpy.random.default_rng([seed, 2405])``), so nothing else in the dataset changes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..ratings import RATINGS

#: Planted percentage points of council score per percentage point of local share Good or better.
COUNCIL_SLOPE = 1.0
#: The nine statements, as the published table names its columns.
STATEMENT_NAMES = [
    "Assessing needs", "Supporting people to live healthier lives", "Equity in experience and outcomes",
    "Care provision, integration and continuity", "Partnerships and communities",
    "Safe pathways, systems and transitions", "Safeguarding", "Governance, management and sustainability",
    "Learning, improvement and innovation",
]
_TYPES = ["Unitary Authority", "County Council", "London Borough", "Borough Council", "City Council"]
_BANDS = [(25, 38), (39, 62), (63, 87), (88, 100)]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def _rule(total: int) -> int:
    pct = int(np.floor(100 * total / 36 + 0.5 + 1e-9))
    return next(i for i, (lo, hi) in enumerate(_BANDS) if lo <= pct <= hi)


def _spread(rng, total: int) -> list[int]:
    """Nine scores 1-4 adding up to ``total`` (9..36), varied by a few balanced swaps."""
    q, r = divmod(total, 9)
    scores = [q + 1] * r + [q] * (9 - r)
    for _ in range(3):
        i, j = rng.choice(9, 2, replace=False)
        if scores[i] < 4 and scores[j] > 1:
            scores[i] += 1
            scores[j] -= 1
    return [int(s) for s in rng.permutation(scores)]


def _local_share(world) -> dict[str, tuple[int, int]]:
    """Adult social care locations rated, and rated Good or better, by area (as published)."""
    out: dict[str, list[int]] = {}
    for loc in world["locations"]:
        if loc["sector"] != "Adult social care" or loc.get("closed"):
            continue
        rated = [r for r in loc["reports"] if r["overall"] in RATINGS]
        if not rated:
            continue
        n_k = out.setdefault(loc["la"], [0, 0])
        n_k[0] += 1
        n_k[1] += rated[-1]["overall"] in ("Good", "Outstanding")
    return {k: (v[0], v[1]) for k, v in out.items()}


def write_councils(world, root: Path, *, slope: float = COUNCIL_SLOPE, exceptions: bool = True) -> dict:
    """Write ``councils/la_assessments.csv`` for the world's local authorities; return paths and truth.

    Parameters
    ----------
    world : dict
        The generator's world (``geo``, ``locations`` with their reports, ``seed``).
    root : pathlib.Path
        The dataset folder being written.
    slope : float
        Planted council percentage points per percentage point of local adult social care rated
        Good or better (0 for the null).
    exceptions : bool
        Plant rule exceptions (False for the null).

    Returns
    -------
    dict
        ``{"la_assessments": path, "_truth_extra_councils": truth}``; the truth names the
        slope, the exception councils and the council published as not rated.
    """
    rng = np.random.default_rng([int(world["seed"]), 2405])
    geo = world["geo"]
    shares = _local_share(world)
    n = len(geo)
    n_exc = max(1, n // 12) if exceptions else 0
    order = rng.permutation(n)
    not_rated = int(order[0])
    exc = {int(i) for i in order[1:1 + n_exc]}
    rows, truth_exc = [], []
    for i, g in enumerate(geo.itertuples(index=False)):
        n_rated, n_good = shares.get(g.la_name, (0, 0))
        share = n_good / n_rated if n_rated else 0.8
        latent = 66 + slope * (100 * share - 80) + rng.normal(0, 7)
        total = int(np.clip(np.round(36 * latent / 100), 9, 36))
        scores = _spread(rng, total)
        rule = _rule(total)
        published = RATINGS[rule]
        kind = _TYPES[int(rng.integers(len(_TYPES)))]
        name = g.la_name if i % 3 == 0 or kind == "London Borough" else f"{g.la_name} Council"
        if i == not_rated:
            published, not_rated_name = "Not Rated", name
        elif i in exc:
            step = rng.choice([-1, 1]) if 0 < rule < 3 else (1 if rule == 0 else -1)
            published = RATINGS[rule + int(step)]
            truth_exc.append({"council": name, "published": published, "rule": RATINGS[rule]})
        month = int(rng.integers(0, 14))
        when = f"{_MONTHS[(7 + month) % 12]} {2024 + (7 + month) // 12}"
        rows.append([name, kind, published, when, *scores])
    path = root / "councils" / "la_assessments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Local authority", "Type", "Overall rating", "Published", *STATEMENT_NAMES])
        w.writerows(rows)
    truth = {"slope_pp_per_pp": float(slope), "exceptions": truth_exc,
             "not_rated": not_rated_name,
             "sector": "Adult social care",
             "note": ("council percentage = 66 + slope * (100 * local share of adult social care rated Good or "
                      "better - 80) + N(0, 7), rounded to whole points of 36; the exceptions are published one "
                      "step from the rule's rating")}
    return {"la_assessments": path, "_truth_extra_councils": truth}
