"""The generator of the embedded synthetic dataset (:mod:`cqc_research.synthetic`).

:func:`generate` builds a world from a seed (locations, providers, trusts, local authorities,
rating histories with the planted effects) and writes it in the real published formats;
:func:`ensure_default_data` writes the default dataset once; :func:`planted_parameters` and
``truth.json`` say what was planted. The writers of the other formats live in the sibling
modules, each with its own random generator.
"""


from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from .. import paths
from ..provenance import BANNER_TEXT
from ..ratings import KEY_QUESTIONS, RATINGS
from ..templating import render
from . import assessments as _assessments
from . import nhs_formats as nhs
from ._ods_writer import write_ods
from .councils import COUNCIL_SLOPE, write_councils
from .indicator_files import write_indicator_files  # QOF, Fingertips: their own generator
from .interviews import SYNTHETIC_PREVALENCE, write_synthetic_interviews
from .nhs_workbooks import nhs_workbook_paths, write_nhs_workbooks  # published layouts; own streams
from .survey_files import write_survey_files  # its own random generator: nothing above changes

DEFAULT_SEED = 20240501
#: Bumped whenever the generator writes new files or effects; an embedded dataset written by an
#: older generator is written again by :func:`ensure_default_data`.
GENERATOR_VERSION = 3
DATA_DATE = dt.date(2024, 4, 1)
REGIME_START = dt.date(2014, 10, 1)

#: Locations per local authority by kind, and the number of NHS trusts.
SCALES = {
    "small": {"n_la": 10, "care_home": 18, "home_care": 8, "gp": 25, "trusts": 8, "sites": 3},
    # chosen by the power calculation in docs/DESIGN.md ("Tests that can fail"): more practices,
    # struggling areas and interview cases than the default, so each planted effect is detected
    "test": {"n_la": 40, "care_home": 25, "home_care": 10, "gp": 60, "trusts": 30, "sites": 2,
             "struggling": 8, "qual_cases": 60},
    "default": {"n_la": 40, "care_home": 35, "home_care": 15, "gp": 22, "trusts": 30, "sites": 3},
    "national": {"n_la": 150, "care_home": 170, "home_care": 110, "gp": 45, "trusts": 150, "sites": 5},
}

REGIONS = {
    "North East": "North East and Yorkshire",
    "North West": "North West",
    "Yorkshire and The Humber": "North East and Yorkshire",
    "East Midlands": "Midlands",
    "West Midlands": "Midlands",
    "East of England": "East of England",
    "London": "London",
    "South East": "South East",
    "South West": "South West",
}

# Planted truth -------------------------------------------------------------------------------
P_AGREE = {"Well-led": 0.90, "Safe": 0.78, "Responsive": 0.78, "Effective": 0.74, "Caring": 0.56}
# When a key question differs from Overall, the chance it is one step better (else worse), as in
# published ratings: Safe is rarely better than Overall, Caring often is.
P_UP = {"Well-led": 0.4, "Safe": 0.15, "Responsive": 0.55, "Effective": 0.4, "Caring": 0.8}

TRANSITIONS = {  # rows: from Inadequate..Outstanding; columns: to Inadequate..Outstanding
    "NHS hospitals": [[0.15, 0.55, 0.30, 0.00], [0.04, 0.46, 0.46, 0.04],
                      [0.01, 0.17, 0.72, 0.10], [0.00, 0.05, 0.30, 0.65]],
    "GP practices": [[0.24, 0.38, 0.38, 0.00], [0.05, 0.30, 0.63, 0.02],
                     [0.01, 0.04, 0.91, 0.04], [0.00, 0.02, 0.28, 0.70]],
    "Adult social care": [[0.30, 0.53, 0.17, 0.00], [0.06, 0.42, 0.50, 0.02],
                          [0.01, 0.10, 0.85, 0.04], [0.00, 0.03, 0.27, 0.70]],
}
# Struggling areas: adult social care moves down more often.
TRANSITIONS_STRUGGLING = [[0.40, 0.48, 0.12, 0.00], [0.12, 0.50, 0.37, 0.01],
                          [0.04, 0.22, 0.72, 0.02], [0.00, 0.08, 0.40, 0.52]]
GAP_MONTHS = {"Inadequate": 7.0, "Requires improvement": 14.0, "Good": 34.0, "Outstanding": 40.0}
GP_BETA = {"qof_payments_per_patient": 0.30, "payments_per_weighted_patient": 0.0,
           "list_size": -0.20, "weighted_list_size": 0.0, "payments_per_patient": 0.0}
EVENT_EFFECT_PP = 2.0
EVENT_LAGS = list(range(1, 7))
NOT_RATED_SHARE = 0.04  # focused inspections published as "Inspected but not rated"
DTOC_MULTIPLIER = 2.0  # delayed days per 65+ in the struggling areas, relative to the rest
#: GP Patient Survey % good overall experience: Good/Outstanding practices minus the others.
SURVEY_GAP_PP = 5.0
#: Interview cases per outcome group (improved, not improved) when the scale does not say.
QUAL_CASES = 20


#: The planted effects, in the order of the notebooks that estimate them; each can be set to its
#: null on its own (``generate(null=[...])``, ``cqc-research synth --null EFFECT``).
PLANTED_EFFECTS = ("domain_agreement", "indicator_signal", "survey_signal", "transitions", "event_effect",
                   "areas", "qualitative", "councils")


#: Planted effects whose planted-truth check is not in :mod:`cqc_research.truth` yet, so
#: ``cqc-research truth`` does not read them: each can be removed by name (``--null
#: survey_signal``) and the null world removes it too. An effect moves into
#: :data:`PLANTED_EFFECTS` when its check exists.
UNCHECKED_EFFECTS: tuple[str, ...] = ()


def null_effects(null=False) -> tuple[str, ...]:
    """The planted effects that ``null`` sets to their null, checked.

    Parameters
    ----------
    null : bool, str or iterable of str
        ``False`` (none), ``True`` (every effect: the null world), or effect names from
        :data:`PLANTED_EFFECTS`.

    Returns
    -------
    tuple of str
        The effects to remove, in :data:`PLANTED_EFFECTS` order.

    Raises
    ------
    ValueError
        When a name is not a planted effect.

    Examples
    --------
    >>> null_effects(True) == PLANTED_EFFECTS
    True
    >>> null_effects(["areas", "event_effect"])
    ('event_effect', 'areas')
    """
    if null is True:
        return PLANTED_EFFECTS
    if null is False or null is None:
        return ()
    names = [null] if isinstance(null, str) else list(null)
    known = PLANTED_EFFECTS + tuple(e for e in UNCHECKED_EFFECTS if e not in PLANTED_EFFECTS)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"not a planted effect: {', '.join(map(repr, unknown))}; "
                         f"expected any of {', '.join(known)}")
    return tuple(e for e in known if e in names)


def planted_parameters(*, null=False) -> dict:
    """The effects the generator plants, or their nulls (``cqc-research synth --null``).

    The null world is the same dataset with every planted effect at its null: every key
    question agrees with Overall at one common rate (``domain_agreement``); one transition
    matrix (the element-wise mean of the sector matrices) in every sector (``transitions``);
    odds ratios of 1 (``indicator_signal``); no change in A&E performance after a publication
    (``event_effect``); struggling areas whose ratings move and whose delayed transfers are
    like the rest (``areas``); interview codes equally common whether or not the service
    improved (``qualitative``). Any one effect can be removed on its own, leaving the others
    as planted: that shows that each planted-truth check fails when its effect is absent.

    Parameters
    ----------
    null : bool, str or iterable of str
        ``True`` for the null world; effect names (:data:`PLANTED_EFFECTS`) to remove only
        those; ``False`` for the planted world.

    Returns
    -------
    dict
        ``p_agree, p_up, transitions, transitions_struggling, gp_beta, event_effect_pp,
        dtoc_multiplier, qual_prevalence, councils`` (``slope``, ``exceptions``),
        ``survey_gap_pp`` (the GP Patient Survey gap; 0 when ``survey_signal`` is removed).

    Examples
    --------
    >>> planted_parameters(null=True)["gp_beta"]["qof_payments_per_patient"]
    0.0
    >>> planted_parameters(null="event_effect")["gp_beta"]["qof_payments_per_patient"]
    0.3
    """
    removed = null_effects(null)
    out = {"p_agree": dict(P_AGREE), "p_up": dict(P_UP), "transitions": dict(TRANSITIONS),
           "transitions_struggling": TRANSITIONS_STRUGGLING, "gp_beta": dict(GP_BETA),
           "event_effect_pp": EVENT_EFFECT_PP, "dtoc_multiplier": DTOC_MULTIPLIER,
           "qual_prevalence": dict(SYNTHETIC_PREVALENCE),
           "councils": {"slope": COUNCIL_SLOPE, "exceptions": True}, "survey_gap_pp": SURVEY_GAP_PP}
    if "domain_agreement" in removed:
        rate = round(float(np.mean(list(P_AGREE.values()))), 4)
        out["p_agree"] = {kq: rate for kq in P_AGREE}
    if "transitions" in removed:
        common = np.mean([np.asarray(m, dtype=float) for m in TRANSITIONS.values()], axis=0)
        common = (common / common.sum(axis=1, keepdims=True)).tolist()
        out["transitions"] = {s: common for s in TRANSITIONS}
    if "indicator_signal" in removed:
        out["gp_beta"] = {k: 0.0 for k in GP_BETA}
    if "event_effect" in removed:
        out["event_effect_pp"] = 0.0
    if "areas" in removed:  # struggling areas like the rest of adult social care
        out["transitions_struggling"] = out["transitions"]["Adult social care"]
        out["dtoc_multiplier"] = 1.0
    if "qualitative" in removed:
        out["qual_prevalence"] = {c: ((a + b) / 2, (a + b) / 2) for c, (a, b) in SYNTHETIC_PREVALENCE.items()}
    if "councils" in removed:  # councils' scores unrelated to local care; published ratings as the rule gives
        out["councils"] = {"slope": 0.0, "exceptions": False}
    if "survey_signal" in removed or null is True:
        out["survey_gap_pp"] = 0.0
    return out

HOSPITAL_SERVICES = [
    ("urgent", "Urgent and emergency services"),
    ("care", "Medical care (including older people's care)"),
    ("surgery", "Surgery"),
    ("maternity", "Maternity"),
    ("childrens", "Services for children & young people"),
]
GP_POPULATION_GROUPS = [
    "Older people", "People with long term conditions", "Families, children and young people",
    "Working age people (including those recently retired and students)",
    "People whose circumstances may make them vulnerable",
    "People experiencing poor mental health (including people with dementia)",
]

_SYLLABLES = ["ash", "bar", "brook", "by", "caster", "den", "dale", "ford", "ham", "holm",
              "ing", "ley", "mere", "mouth", "ness", "port", "stow", "thorpe", "ton", "wick",
              "well", "worth", "bury", "field", "ridge", "wood", "combe", "stead", "ock", "ern"]
_STARTS = ["Ald", "Bram", "Carn", "Dun", "Elm", "Fen", "Glen", "Hart", "Ivy", "Kings", "Lang",
           "Marl", "North", "Oak", "Pen", "Quen", "Rother", "Shel", "Thorn", "Upper", "Vale",
           "West", "Yarn", "Ash", "Bel", "Cold", "Dray", "East", "Farn", "Grey"]
_STREETS = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue",
            "Victoria Road", "Green Lane", "Manor Way", "Queen Street", "The Crescent"]


@dataclass
class SyntheticDataset:
    """What :func:`generate` wrote: the folder, the planted truth, and the path of each file.

    Attributes
    ----------
    root : pathlib.Path
        The dataset's folder (it holds the ``SYNTHETIC`` marker and ``truth.json``).
    truth : dict
        The planted truth, as in ``truth.json``: ``seed``, ``scale``, ``counts`` (locations,
        trusts, local authorities, ...) and the planted effects each notebook should recover.
    paths : dict
        File name keys (``ratings_ods``, ``api_folder``, ``gp_payments``, ``ae_folder``,
        ``shmi``, ...) to paths, as :func:`dataset_paths` gives.
    seconds : float
        Time taken to write it.
    """

    root: Path
    truth: dict
    paths: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __repr__(self) -> str:
        n = self.truth.get("counts", {}).get("locations", "?")
        return f"SyntheticDataset({str(self.root)!r}, locations={n}, seed={self.truth.get('seed')})"

    def _repr_html_(self) -> str:
        counts = self.truth.get("counts", {})
        return str(render(
            "fragments/synthetic_dataset.html.j2",
            banner=render("fragments/small_banner.html.j2", text=BANNER_TEXT), root=str(self.root),
            seed=self.truth.get("seed", "?"), scale=self.truth.get("scale", "?"),
            counts=[(k, v) for k, v in counts.items() if not isinstance(v, dict)],
            files=list(self.paths)))


# ---------------------------------------------------------------------------------------------
# small helpers
def _stationary(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    vals, vecs = np.linalg.eig(m.T)
    v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    return v / v.sum()


def _months(d: dt.date, months: float) -> dt.date:
    return d + dt.timedelta(days=int(round(months * 30.4375)))


class _Names:
    """Invented place and organisation names, unique within one dataset."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def place(self) -> str:
        for _ in range(1000):
            name = self.rng.choice(_STARTS) + self.rng.choice(_SYLLABLES)
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of invented place names")

    def any_place(self) -> str:
        return str(self.rng.choice(_STARTS) + self.rng.choice(_SYLLABLES))


def _postcode(rng, prefix: str) -> str:
    return f"{prefix}{rng.integers(1, 30)} {rng.integers(1, 10)}{chr(65 + rng.integers(0, 26))}{chr(65 + rng.integers(0, 26))}"


# ---------------------------------------------------------------------------------------------
# the world
def _geography(rng, names: _Names, n_la: int, n_struggling: int | None = None) -> pd.DataFrame:
    regions = list(REGIONS)
    rows = []
    for i in range(n_la):
        region = regions[i % len(regions)]
        name = names.place()
        rows.append({
            "la_name": name,
            "la_code": f"E0{6 + i % 4}9{i + 1:05d}",  # ONS-like but never a real code (E0x9...)
            "la_old_code": f"9{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}",  # pre-2009-style code
            "region": region,
            "nhs_region": REGIONS[region],
            "postcode_prefix": name[:2].upper(),
            "ccg_code": f"E3899{i + 1:04d}",
            "ccg_name": f"NHS {name} CCG",
            "pop_65plus": int(rng.integers(25_000, 90_000)),
            "imd_score": float(np.round(rng.gamma(6, 3.5), 2)),
        })
    geo = pd.DataFrame(rows)
    n_struggling = n_struggling or max(2, n_la // 12)
    geo["struggling"] = False
    geo.loc[rng.choice(n_la, n_struggling, replace=False), "struggling"] = True
    return geo


def _simulate_history(rng, matrix, start: dt.date, end: dt.date, initial=None):
    """Forward-simulate one location's Overall ratings: list of (publication date, rating index).

    Ratings follow ``matrix`` from one inspection to the next; the gap to the next inspection
    depends only on the current rating, so every observed pair follows the matrix exactly.
    """
    pi = _stationary(matrix)
    state = int(rng.choice(4, p=pi)) if initial is None else initial
    # first inspection: some time after registration (or the regime start)
    when = _months(max(start, REGIME_START), rng.uniform(2, 20))
    out = []
    while when < end:
        out.append((when, state))
        gap = rng.gamma(4.0, GAP_MONTHS[RATINGS[state]] / 4.0)
        when = _months(when, max(gap, 2.0))
        state = int(rng.choice(4, p=matrix[state]))
    return out


def _domains_for(rng, overall: int, planted: dict | None = None) -> dict[str, int]:
    """Key-question ratings given Overall: equal with probability P_AGREE, else one step away."""
    p_agree, p_up = (planted["p_agree"], planted["p_up"]) if planted else (P_AGREE, P_UP)
    out = {}
    for kq in KEY_QUESTIONS:
        if rng.random() < p_agree[kq]:
            out[kq] = overall
        else:
            step = 1 if rng.random() < p_up[kq] else -1
            if not 0 <= overall + step <= 3:
                step = -step
            out[kq] = overall + step
    return out


def _report(rng, date: dt.date, overall: int | None, *, not_rated=False, planted=None) -> dict:
    """One published inspection report: ids, dates, overall and key-question ratings."""
    visit = date - dt.timedelta(days=int(rng.integers(35, 110)))
    rep = {"link_id": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)))),
           "report_date": date, "visit_date": visit}
    if not_rated:
        rep["overall"] = "Inspected but not rated"
        rep["domains"] = {kq: "Inspected but not rated" for kq in ("Safe", "Well-led")}
    else:
        rep["overall"] = RATINGS[overall]
        rep["domains"] = {k: RATINGS[v] for k, v in _domains_for(rng, overall, planted).items()}
    return rep


def _history_reports(rng, hist, *, inherited_from=None, merger_date=None, focused=True, planted=None):
    reports = [_report(rng, d, s, planted=planted) for d, s in hist]
    # focused inspections that did not produce a rating, between rated ones
    extra = []
    for a, b in zip(hist[:-1], hist[1:], strict=False) if focused else ():
        if rng.random() < NOT_RATED_SHARE * 3 and (b[0] - a[0]).days > 120:
            mid = a[0] + dt.timedelta(days=int(rng.integers(60, (b[0] - a[0]).days - 30)))
            extra.append(_report(rng, mid, None, not_rated=True))
    reports = sorted(reports + extra, key=lambda r: r["report_date"])
    if inherited_from and merger_date:
        for r in reports:
            if r["report_date"] < merger_date:
                r["organisation_id"] = inherited_from
    return reports


def _build_world(seed: int, scale: str, *, null=False) -> dict:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, not {scale!r}")
    cfg = SCALES[scale]
    planted = planted_parameters(null=null)
    TRANSITIONS = planted["transitions"]  # noqa: N806 (the planted or the null matrices)
    rng = np.random.default_rng(seed)
    names = _Names(rng)
    geo = _geography(rng, names, cfg["n_la"], n_struggling=cfg.get("struggling"))
    locations, providers = [], []
    next_id = iter(range(100_000_001, 999_999_999, 7919))

    def new_id() -> str:
        return f"1-{next(next_id)}"

    # ---- adult social care: providers own one to five services ------------------------------
    for _, la in geo.iterrows():
        matrix = planted["transitions_struggling"] if la.struggling else TRANSITIONS["Adult social care"]
        for kind, n in (("care_home", cfg["care_home"]), ("home_care", cfg["home_care"])):
            made = 0
            while made < n:
                pid = new_id()
                brand = rng.random() < 0.25
                pname = f"{names.any_place()} {'Care Homes' if kind == 'care_home' else 'Home Care'} Ltd"
                k = int(min(n - made, rng.choice([1, 1, 1, 2, 3, 5])))
                providers.append({"provider_id": pid, "provider_name": pname, "kind": "asc",
                                  "la": la.la_name, "brand_id": f"BD{int(rng.integers(100, 999))}" if brand else None})
                for _ in range(k):
                    reg = _months(dt.date(2010, 10, 1), rng.uniform(0, 150))
                    locations.append({
                        "location_id": new_id(), "provider_id": pid, "provider_name": pname,
                        "name": (f"{names.any_place()} {'House' if kind == 'care_home' else 'Care Services'}"),
                        "kind": kind, "sector": "Adult social care", "la": la.la_name,
                        "care_home": kind == "care_home",
                        "category": "Residential social care" if kind == "care_home"
                        else "Community based adult social care services",
                        "location_type": "Social Care Org",
                        "beds": int(rng.integers(12, 90)) if kind == "care_home" else None,
                        "registration_date": reg, "ods_code": None,
                        "history": _simulate_history(rng, matrix, reg, DATA_DATE),
                        "brand_id": providers[-1]["brand_id"],
                    })
                made += k
    # ---- GP practices ---------------------------------------------------------------------------
    practice_no = iter(range(10_001, 99_999))
    gp_rows = []
    for _, la in geo.iterrows():
        letter = chr(65 + (la.name % 20))
        for _ in range(cfg["gp"]):
            pid, lid = new_id(), new_id()
            place = names.any_place()
            reg = _months(dt.date(2013, 4, 1), rng.uniform(0, 30))
            code = f"{letter}{next(practice_no)}"
            loc = {"location_id": lid, "provider_id": pid, "provider_name": f"Dr {place} and Partners",
                   "name": f"{place} Medical Practice", "kind": "gp", "sector": "GP practices",
                   "la": la.la_name, "care_home": False, "category": "GP Practices",
                   "location_type": "Primary Medical Services", "beds": None,
                   "registration_date": reg, "ods_code": code,
                   "history": _simulate_history(rng, TRANSITIONS["GP practices"], reg, DATA_DATE)}
            locations.append(loc)
            providers.append({"provider_id": pid, "provider_name": loc["provider_name"], "kind": "gp",
                              "la": la.la_name, "brand_id": None})
            gp_rows.append(loc)
    # ---- NHS trusts and their sites -------------------------------------------------------------
    trusts = []
    hosp = TRANSITIONS["NHS hospitals"]
    for i in range(cfg["trusts"]):
        la = geo.iloc[i % len(geo)]
        code = f"R{chr(48 + (i // 26) % 10)}{chr(65 + i % 26)}"
        tname = f"{names.any_place()} Hospitals NHS Foundation Trust"
        reg = dt.date(2013, 4, 1)
        trusts.append({"code": code, "name": tname, "la": la.la_name,
                       "history": _simulate_history(rng, hosp, reg, DATA_DATE), "predecessors": []})
    # plant one merger: the last two trusts merge into a new trust
    merger_date = dt.date(2019, 4, 1)
    old_a, old_b = trusts[-2], trusts[-1]
    new_code = f"R{chr(48 + (cfg['trusts'] // 26) % 10)}{chr(65 + cfg['trusts'] % 26)}"
    merged = {"code": new_code, "name": f"{names.any_place()} and {old_b['name'].split(' Hospitals')[0]} "
              "University Hospitals NHS Foundation Trust", "la": old_a["la"],
              "history": [h for h in _simulate_history(rng, hosp, merger_date, DATA_DATE)],
              "predecessors": [old_a["code"], old_b["code"]], "merger_date": merger_date}
    for t in (old_a, old_b):
        t["history"] = [h for h in t["history"] if h[0] < merger_date]
        t["closed"] = merger_date
    trusts.append(merged)
    site_rows = []
    for t in trusts:
        if t.get("closed"):
            continue
        n_sites = cfg["sites"]
        sources = []
        if t["predecessors"]:
            for old in t["predecessors"]:
                sources += [(old, j) for j in range(1, max(2, n_sites // 2 + 1))]
        for j in range(1, max(n_sites, len(sources)) + 1):
            sid = f"{t['code']}{j:02d}"
            predecessor = f"{sources[j - 1][0]}{sources[j - 1][1]:02d}" if j <= len(sources) else None
            start = dt.date(2013, 4, 1)
            hist = _simulate_history(rng, hosp, start, DATA_DATE)
            loc = {"location_id": sid, "provider_id": t["code"], "provider_name": t["name"],
                   "name": f"{names.any_place()} {'General Hospital' if j == 1 else 'Hospital'}",
                   "kind": "site", "sector": "NHS hospitals", "la": t["la"], "care_home": False,
                   "category": "Acute hospital - NHS non-specialist",
                   "location_type": "NHS Healthcare Organisation", "beds": int(rng.integers(150, 900)),
                   "registration_date": merger_date if predecessor else start, "ods_code": sid,
                   "history": hist, "predecessor": predecessor,
                   "merger_date": merger_date if predecessor else None}
            locations.append(loc)
            site_rows.append(loc)
    # ---- single assessment framework: a share of services assessed from 2024 -----------------
    _assessments.plan_assessments(locations, seed, null=null is True, transitions=TRANSITIONS)
    # ---- GP indicators and the planted ordered logit ------------------------------------------
    _plant_gp_signal(rng, gp_rows, planted)
    # closures: a few practices closed before the data date (deregistered, not in latest ratings)
    n_closed = max(3, len(gp_rows) // 60)
    for loc in rng.choice(gp_rows, n_closed, replace=False):
        loc["closed"] = _months(dt.date(2023, 5, 1), rng.uniform(0, 9))
        loc["history"] = [h for h in loc["history"] if h[0] < loc["closed"]] or loc["history"][:1]
    for loc in locations:
        loc["reports"] = _history_reports(
            rng, loc["history"],
            inherited_from=loc.get("predecessor"), merger_date=loc.get("merger_date"), planted=planted)
        if loc["kind"] == "site":
            last = [r for r in loc["reports"] if r["overall"] in RATINGS][-1]
            idx = RATINGS.index(last["overall"])
            loc["services"] = {sid: _report(rng, last["report_date"], int(np.clip(idx + rng.choice([-1, 0, 0, 0, 1]), 0, 3)),
                                            planted=planted)
                               for sid, _ in HOSPITAL_SERVICES}
            for sid in loc["services"]:
                loc["services"][sid]["link_id"] = last["link_id"]
        if loc["kind"] == "gp":
            last = [r for r in loc["reports"] if r["overall"] in RATINGS][-1]
            idx = RATINGS.index(last["overall"])
            loc["population_groups"] = {g: RATINGS[int(np.clip(idx + rng.choice([0, 0, 0, 0, -1, 1]), 0, 3))]
                                        for g in GP_POPULATION_GROUPS}
    for t in trusts:
        t["reports"] = _history_reports(rng, t["history"], focused=False, planted=planted)
    unregistered = [f"Y{next(practice_no)}" for _ in range(max(2, len(gp_rows) // 100))]
    return {"rng": rng, "geo": geo, "locations": locations, "providers": providers, "trusts": trusts,
            "gp": gp_rows, "sites": site_rows, "merger": {"old": merged["predecessors"], "new": new_code,
                                                         "date": merger_date},
            "unregistered": unregistered, "scale": scale, "seed": seed, "planted": planted, "null": null_effects(null),
            "null_world": null_effects(null) == PLANTED_EFFECTS,
            "qual_cases": cfg.get("qual_cases", QUAL_CASES)}


def _plant_gp_signal(rng, gp_rows, planted: dict | None = None) -> None:
    """Give each practice payments measures such that its latest rating follows an ordered logit.

    The latest Overall rating comes from the transition chain. Given it, the standardised
    measures are drawn from their posterior under the planted model (x ~ N(0, I), ordered logit
    with ``GP_BETA`` and thresholds that reproduce the sector's stationary rating mix), by
    rejection sampling. So, jointly, P(rating | x) is the planted ordered logit.
    """
    planted = planted or planted_parameters()
    pi = _stationary(planted["transitions"]["GP practices"])
    gp_beta = planted["gp_beta"]
    beta = np.array([gp_beta["list_size"], gp_beta["qof_payments_per_patient"],
                     gp_beta["payments_per_weighted_patient"]])
    # thresholds: match the logit's marginal to pi by simulation
    sim = rng.standard_normal((200_000, 3)) @ beta + rng.logistic(size=200_000)
    cuts = np.quantile(sim, np.cumsum(pi)[:-1])

    def p_rating(x, k):
        eta = x @ beta
        upper = expit(cuts[k] - eta) if k < 3 else 1.0
        lower = expit(cuts[k - 1] - eta) if k > 0 else 0.0
        return upper - lower

    for loc in gp_rows:
        k = loc["history"][-1][1]
        while True:
            x = rng.standard_normal(3)
            if rng.random() < p_rating(x, k):
                break
        noise = rng.standard_normal(2)
        list_size = max(1500.0, 7500 + 3000 * x[0])
        weighted = list_size * (1 + 0.06 * noise[0])
        ppwp = 155 + 22 * x[2]
        qof = 22 + 4.5 * x[1]
        loc["gp"] = {"list_size": round(list_size), "weighted_list_size": round(weighted, 2),
                     "payments_per_weighted_patient": round(ppwp, 2),
                     "qof_payments_per_patient": round(qof, 2), "x": x.tolist(),
                     "dispensing": bool(rng.random() < 0.12),
                     "rurality": "Rural" if rng.random() < 0.2 else "Urban",
                     "contract": str(rng.choice(["GMS", "PMS", "APMS"], p=[0.7, 0.25, 0.05]))}
    gp_thresholds = cuts.tolist()
    for loc in gp_rows:
        loc["gp"]["_cuts"] = gp_thresholds


# ---------------------------------------------------------------------------------------------
# writers: CQC formats
LOCATION_COLUMNS = [
    "Location ID", "Location ODS Code", "Location Name", "Care Home?", "Location Type",
    "Location Primary Inspection Category", "Location Street Address", "Location Address Line 2",
    "Location City", "Location Post Code", "Location Local Authority", "Location Region",
    "Location NHS Region", "Location ONSPD CCG Code", "Location ONSPD CCG",
    "Location Commissioning CCG Code", "Location Commissioning CCG Name",
    "Service / Population Group", "Domain", "Latest Rating", "Publication Date", "Report Type",
    "Inherited Rating (Y/N)", "URL", "Provider ID", "Provider Name", "Brand ID", "Brand Name",
]
PROVIDER_COLUMNS = [
    "Provider ID", "Provider ODS Code", "Provider Name", "Provider Type",
    "Provider Primary Inspection Category", "Provider Street Address", "Provider Address Line 2",
    "Provider City", "Provider Post Code", "Provider Local Authority", "Provider Region",
    "Provider NHS Region", "Service / Population Group", "Domain", "Latest Rating",
    "Publication Date", "Report Type", "Inherited Rating (Y/N)", "URL", "Brand ID", "Brand Name",
]


def _address(rng, loc, geo_row):
    return (f"{int(rng.integers(1, 200))} {rng.choice(_STREETS)}", "", loc["la"],
            _postcode(rng, geo_row.postcode_prefix))


def _variant(rng, rating: str) -> str:
    """Published files spell some ratings with other capitals: keep that quirk."""
    if rating == "Requires improvement" and rng.random() < 0.15:
        return "Requires Improvement"
    return rating


def _current(loc) -> dict | None:
    rated = [r for r in loc["reports"] if r["overall"] in RATINGS]
    return rated[-1] if rated else None


def _write_latest_ratings(world, path: Path) -> None:

    rng = np.random.default_rng(world["seed"] + 1)
    geo = _geo_rows(world)
    loc_rows = []
    for loc in world["locations"]:
        cur = _current(loc)
        if cur is None or loc.get("closed"):
            continue
        g = geo[loc["la"]]
        street, line2, city, pc = _address(rng, loc, g)
        loc["address"] = (street, city, pc)
        inherited = "Y" if cur.get("organisation_id") else "N"
        base = [loc["location_id"], loc["ods_code"], loc["name"], "Y" if loc["care_home"] else "N",
                loc["location_type"], loc["category"], street, line2, city, pc, loc["la"],
                g.region, g.nhs_region, g.ccg_code, g.ccg_name, g.ccg_code, g.ccg_name]
        tail = [f"https://www.cqc.org.uk/location/{loc['location_id']}", loc["provider_id"],
                loc["provider_name"], loc.get("brand_id") or "", "BRAND " + loc["provider_name"] if loc.get("brand_id") else ""]
        date = cur["report_date"]
        rows = [("Overall", "Overall", cur["overall"])] + [("Overall", kq, cur["domains"][kq]) for kq in KEY_QUESTIONS]
        for grp, rating in loc.get("population_groups", {}).items():
            rows.append((grp, "Overall", rating))
        for sid, sname in HOSPITAL_SERVICES if loc["kind"] == "site" else []:
            srep = loc["services"][sid]
            rows.append((sname, "Overall", srep["overall"]))
            rows += [(sname, kq, srep["domains"][kq]) for kq in KEY_QUESTIONS]
        for grp, dom, rating in rows:
            loc_rows.append(base + [grp, dom, _variant(rng, rating), date, "Location", inherited] + tail)
    prov_rows = []
    for t in world["trusts"]:
        if t.get("closed"):
            continue
        cur = [r for r in t["reports"] if r["overall"] in RATINGS][-1]
        g = geo[t["la"]]
        base = [t["code"], t["code"], t["name"], "NHS Healthcare Organisation",
                "Acute hospital - NHS non-specialist", f"{int(rng.integers(1, 90))} Hospital Road", "",
                t["la"], _postcode(rng, g.postcode_prefix), t["la"], g.region, g.nhs_region]
        for dom in ["Overall", *KEY_QUESTIONS]:
            rating = cur["overall"] if dom == "Overall" else cur["domains"][dom]
            prov_rows.append(base + ["Overall", dom, _variant(rng, rating), cur["report_date"], "Provider", "N",
                                     f"https://www.cqc.org.uk/provider/{t['code']}", "", ""])
    notice = [
        f"SYNTHETIC DATA written by cqc-research (seed {world['seed']}). These are not real CQC ratings.",
        "Care Quality Commission - Latest ratings. Ratings are shown for locations and providers "
        "as at the file date; see the CQC website for the full report.",
    ]
    write_ods(path, {"Locations": (LOCATION_COLUMNS, loc_rows), "Providers": (PROVIDER_COLUMNS, prov_rows)},
              notice={"Locations": notice, "Providers": notice})


def _kq_json(rep, with_meta: bool) -> list[dict]:
    out = []
    for kq, rating in rep["domains"].items():
        item = {"name": kq, "rating": rating}
        if with_meta:
            item.update({"reportDate": rep["report_date"].isoformat(), "reportLinkId": rep["link_id"]})
            if rep.get("organisation_id"):
                item["organisationId"] = rep["organisation_id"]
        out.append(item)
    return out


def _geo_rows(world) -> dict:
    if "_geo_rows" not in world:
        world["_geo_rows"] = {r.la_name: r for r in world["geo"].itertuples(index=False)}
    return world["_geo_rows"]


def _location_json(loc, world) -> dict:
    geo = _geo_rows(world)[loc["la"]]
    street, city, pc = loc.get("address") or (f"1 {_STREETS[0]}", loc["la"], f"{geo.postcode_prefix}1 1AA")
    reports, saf_report = _assessments.split_reports(loc)
    rated = [r for r in reports if r["overall"] in RATINGS]
    current = rated[-1] if rated and not loc.get("closed") else None
    d = {
        "locationId": loc["location_id"], "providerId": loc["provider_id"],
        "organisationType": "Location", "type": loc["location_type"], "name": loc["name"],
        "registrationStatus": "Deregistered" if loc.get("closed") else "Registered",
        "registrationDate": loc["registration_date"].isoformat(),
        "dormancy": "N", "careHome": "Y" if loc["care_home"] else "N",
        "postalAddressLine1": street, "postalAddressTownCity": city, "postalCode": pc,
        "region": geo.region, "localAuthority": loc["la"],
        "onspdCcgCode": geo.ccg_code, "onspdCcgName": geo.ccg_name,
        "inspectionDirectorate": {"Adult social care": "Adult social care", "GP practices": "Primary medical services",
                                  "NHS hospitals": "Hospitals"}[loc["sector"]],
        "inspectionCategories": [{"code": "X1", "name": loc["category"], "primary": "true"}],
        "constituency": f"{loc['la']} Central",
        "regulatedActivities": [], "gacServiceTypes": [], "specialisms": [], "locationTypes": [],
        "relationships": [], "inspectionAreas": [],
    }
    if loc.get("ods_code"):
        d["odsCode"] = loc["ods_code"]
    if loc.get("beds"):
        d["numberOfBeds"] = loc["beds"]
    if loc.get("brand_id"):
        d["brandId"], d["brandName"] = loc["brand_id"], "BRAND " + loc["provider_name"]
    if loc.get("closed"):
        d["deregistrationDate"] = loc["closed"].isoformat()
    if loc.get("predecessor"):
        d["relationships"] = [{"relatedLocationId": loc["predecessor"],
                               "relatedLocationName": f"{loc['predecessor']} (former site)",
                               "type": "HSCA Predecessor", "reason": "NHS Transfer"}]
    if loc["kind"] == "site":
        d["inspectionAreas"] = [{"inspectionAreaId": sid, "inspectionAreaName": name, "status": "Active (Rated)"}
                                for sid, name in HOSPITAL_SERVICES]
    if current is not None:
        overall = {"rating": current["overall"], "reportDate": current["report_date"].isoformat(),
                   "reportLinkId": current["link_id"], "keyQuestionRatings": _kq_json(current, True)}
        if current.get("organisation_id"):
            overall["organisationId"] = current["organisation_id"]
        d["currentRatings"] = {"overall": overall, "reportDate": reports[-1]["report_date"].isoformat()}
        if loc["kind"] == "site":
            d["currentRatings"]["serviceRatings"] = [
                {"name": sid, "rating": srep["overall"], "reportDate": srep["report_date"].isoformat(),
                 "reportLinkId": srep["link_id"], "keyQuestionRatings": _kq_json(srep, False)}
                for sid, srep in loc["services"].items()]
    historic = [r for r in reports if r is not current]
    if historic:
        d["historicRatings"] = []
        for r in sorted(historic, key=lambda r: r["report_date"], reverse=True):
            item = {"reportDate": r["report_date"].isoformat(), "reportLinkId": r["link_id"],
                    "overall": {"rating": r["overall"], "keyQuestionRatings": _kq_json(r, False)}}
            if r.get("organisation_id"):
                item["organisationId"] = r["organisation_id"]
            d["historicRatings"].append(item)
    d["reports"] = [{"linkId": r["link_id"], "reportDate": r["report_date"].isoformat(),
                     "firstVisitDate": r["visit_date"].isoformat(), "reportType": "Location",
                     "reportUri": f"/reports/{r['link_id']}"} for r in sorted(reports, key=lambda r: r["report_date"], reverse=True)]
    if reports:
        d["lastInspection"] = {"date": reports[-1]["visit_date"].isoformat()}
        d["lastReport"] = {"publicationDate": reports[-1]["report_date"].isoformat()}
    return _assessments.add_assessment(d, loc, saf_report)


def _trust_json(t, world) -> dict:
    geo = _geo_rows(world)[t["la"]]
    reports = t["reports"]
    rated = [r for r in reports if r["overall"] in RATINGS]
    d = {"providerId": t["code"], "organisationType": "Provider", "ownershipType": "NHS Body",
         "type": "NHS Healthcare Organisation", "name": t["name"], "odsCode": t["code"],
         "registrationStatus": "Deregistered" if t.get("closed") else "Registered",
         "registrationDate": "2013-04-01", "localAuthority": t["la"], "region": geo.region,
         "inspectionDirectorate": "Hospitals",
         "locationIds": [loc["location_id"] for loc in world["sites"] if loc["provider_id"] == t["code"]]}
    if t.get("closed"):
        d["deregistrationDate"] = t["closed"].isoformat()
    current = rated[-1] if rated and not t.get("closed") else None
    if current:
        d["currentRatings"] = {"overall": {"rating": current["overall"], "reportDate": current["report_date"].isoformat(),
                                           "reportLinkId": current["link_id"],
                                           "keyQuestionRatings": _kq_json(current, True)},
                               "reportDate": current["report_date"].isoformat()}
    hist = [r for r in reports if r is not current]
    if hist:
        d["historicRatings"] = [{"reportDate": r["report_date"].isoformat(), "reportLinkId": r["link_id"],
                                 "overall": {"rating": r["overall"], "keyQuestionRatings": _kq_json(r, False)}}
                                for r in sorted(hist, key=lambda r: r["report_date"], reverse=True)]
    d["reports"] = [{"linkId": r["link_id"], "reportDate": r["report_date"].isoformat(),
                     "firstVisitDate": r["visit_date"].isoformat(), "reportType": "Provider",
                     "reportUri": f"/reports/{r['link_id']}"} for r in sorted(reports, key=lambda r: r["report_date"], reverse=True)]
    return d


def _write_api(world, folder: Path) -> None:
    (folder / "locations").mkdir(parents=True, exist_ok=True)
    (folder / "providers").mkdir(parents=True, exist_ok=True)
    listing = []
    by_provider: dict[str, list[str]] = {}
    for loc in world["locations"]:
        by_provider.setdefault(loc["provider_id"], []).append(loc["location_id"])
    for loc in world["locations"]:
        d = _location_json(loc, world)
        (folder / "locations" / f"{loc['location_id']}.json").write_text(json.dumps(d))
        listing.append({"locationId": loc["location_id"], "locationName": loc["name"],
                        "postalCode": d["postalCode"]})
    plist = []
    for t in world["trusts"]:
        (folder / "providers" / f"{t['code']}.json").write_text(json.dumps(_trust_json(t, world)))
        plist.append({"providerId": t["code"], "providerName": t["name"]})
    for p in world["providers"]:
        d = {"providerId": p["provider_id"], "organisationType": "Provider", "name": p["provider_name"],
             "registrationStatus": "Registered", "localAuthority": p["la"],
             "locationIds": by_provider.get(p["provider_id"], [])}
        if p.get("brand_id"):
            d["brandId"] = p["brand_id"]
        (folder / "providers" / f"{p['provider_id']}.json").write_text(json.dumps(d))
        plist.append({"providerId": p["provider_id"], "providerName": p["provider_name"]})
    for name, key, items in (("list_locations.json", "locations", listing), ("list_providers.json", "providers", plist)):
        page = {"firstPageUri": f"/{key}?page=1&perPage={len(items)}", "lastPageUri": f"/{key}?page=1&perPage={len(items)}",
                "nextPageUri": None, "page": 1, "perPage": len(items), "previousPageUri": None,
                key: items, "total": len(items), "totalPages": 1}
        (folder / name).write_text(json.dumps(page))


# ---------------------------------------------------------------------------------------------
# the public entry points
def _current_share_good(matrix) -> float:
    """Expected share Good or Outstanding among current ratings under a transition matrix.

    A rating is current for as long as the gap to the next inspection, which depends on the
    rating, so the current mix is the stationary distribution weighted by the mean gap.
    """
    w = _stationary(matrix) * np.array([GAP_MONTHS[r] for r in RATINGS])
    return float(w[2:].sum() / w.sum())


def _truth(world) -> dict:
    planted = world.get("planted") or planted_parameters()
    matrices = {s: m for s, m in planted["transitions"].items()}
    struggling_matrix = planted["transitions_struggling"]
    geo = world["geo"]
    return {
        "description": "Planted effects of the cqc-research synthetic dataset. See README, 'Synthetic data'.",
        "generator_version": GENERATOR_VERSION,
        "seed": world["seed"], "scale": world["scale"], "data_date": DATA_DATE.isoformat(),
        "null_world": bool(world.get("null_world", False)),
        "null_effects": list(world.get("null") or ()),
        "ratings": RATINGS,
        "domain_agreement": {"p_agree": planted["p_agree"],
                             "p_up_when_different": planted["p_up"],
                             "note": "each key question equals Overall with p_agree, else one step up "
                                     "(probability p_up_when_different) or down; at the ends of the scale the "
                                     "only possible step"},
        "transitions": {
            "matrix": matrices,
            "matrix_struggling_areas": {"Adult social care": struggling_matrix},
            "stationary": {s: _stationary(m).round(4).tolist() for s, m in matrices.items()},
            "improved_from_inadequate": {s: round(1 - m[0][0], 4) for s, m in matrices.items()},
            "gap_months": GAP_MONTHS,
            "note": ("rows are the rating at one inspection, columns the next (Inadequate..Outstanding); "
                     "adult social care in areas.struggling follows matrix_struggling_areas instead"),
        },
        "indicator_signal": {
            "sector": "GP practices", "domain": "Overall", "year": "2022-23",
            "beta_per_sd": planted["gp_beta"],
            "odds_ratio_per_sd": {k: round(float(np.exp(v)), 4) for k, v in planted["gp_beta"].items()},
            "thresholds": world["gp"][0]["gp"]["_cuts"] if world["gp"] else None,
            "note": ("ordered logit on the standardised 2022-23 measures; only qof_payments_per_patient and "
                     "list_size carry signal. Earlier years (2014-15 to 2021-22, three header layouts) hold the "
                     "same measures with small independent year-to-year noise (list sizes 2%, payments 3%, QOF 5%), "
                     "so a rating linked to the last year before its publication sees a slightly attenuated signal"),
        },
        "event_effect": {"sector": "NHS hospitals", "measure": "ae_4hr_performance_all", "event": "publication",
                         "effect_pp": planted["event_effect_pp"], "lags": EVENT_LAGS, "leads_effect_pp": 0.0,
                         "note": "percentage points of A&E attendances seen within 4 hours, trust level"},
        "areas": {"struggling": geo.loc[geo.struggling, "la_name"].tolist(),
                  "struggling_codes": geo.loc[geo.struggling, "la_code"].tolist(),
                  "dtoc_multiplier": planted["dtoc_multiplier"],
                  "share_good_difference_asc": round(_current_share_good(struggling_matrix)
                                                     - _current_share_good(matrices["Adult social care"]), 4),
                  "note": "adult social care follows matrix_struggling_areas; delayed days per 65+ doubled"},
        "survey_signal": {
            "gpps_overall_good_gap_pp": planted.get("survey_gap_pp", SURVEY_GAP_PP),
            "measure": "gpps_overall_good", "sector": "GP practices", "domain": "Overall",
            "groups": {"better": ["Good", "Outstanding"], "worse": ["Requires improvement", "Inadequate"]},
            "years": [2017, 2023, 2024],
            "note": ("GP Patient Survey % describing their overall experience as good: practices whose current "
                     "Overall rating (Latest ratings file) is Good or Outstanding score on average "
                     "gpps_overall_good_gap_pp percentage points more than those rated Requires improvement or "
                     "Inadequate, in every survey year written (practice effect sd 6, year noise sd 2, binomial "
                     "sampling on bases of about 110); no other survey or FFT measure carries a planted effect"),
        },
        "linkage": {
            "closed_practices": sorted(loc["ods_code"] for loc in world["gp"] if loc.get("closed")),
            "unregistered_practices": sorted(world["unregistered"]),
            "merged_trusts": [{"old": world["merger"]["old"], "new": world["merger"]["new"],
                               "date": world["merger"]["date"].isoformat()}],
        },
        "counts": {
            "locations": len(world["locations"]),
            "registered_locations": sum(1 for loc in world["locations"] if not loc.get("closed")),
            "by_sector": pd.Series([loc["sector"] for loc in world["locations"]]).value_counts().to_dict(),
            "trusts": len(world["trusts"]), "local_authorities": len(geo),
        },
    }


def generate(folder=None, *, seed: int = DEFAULT_SEED, scale: str = "default",
             overwrite: bool = True, progress: bool = False, null=False) -> SyntheticDataset:
    """Write the synthetic dataset in the published formats, with its planted truth.

    Parameters
    ----------
    folder : path, optional
        Where to write; defaults to :func:`cqc_research.paths.synthetic_dir`. The folder is
        written to a temporary sibling and moved into place, so it is never half-written.
    seed : int
        Everything is deterministic given the seed and scale.
    scale : {"small", "test", "default", "national"}
        ~600 locations (quick tests), ~3,500 with every planted effect detectable (see
        ``docs/DESIGN.md``), ~3,000 (the embedded default), or ~50,000.
    overwrite : bool
        Replace an existing dataset in ``folder``.
    progress : bool
        Show a progress bar of the steps on standard error.
    null : bool, str or iterable of str
        ``True`` writes the null world (:func:`planted_parameters` with ``null=True``): the
        same dataset with every planted effect at its null, and its own ``truth.json``. Effect
        names (:data:`PLANTED_EFFECTS`) remove only those effects.

    Returns
    -------
    SyntheticDataset
    """
    t0 = time.perf_counter()
    folder = Path(folder) if folder is not None else paths.synthetic_dir()
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} exists; pass overwrite=True to replace it")
    from tqdm.auto import tqdm

    steps = tqdm(total=7, desc="synthetic data", unit="step", disable=not progress)
    steps.set_postfix_str("organisations and rating histories")
    null_effects(null)  # a clear error before anything is written
    world = _build_world(seed, scale, null=null)
    steps.update()
    tmp = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "SYNTHETIC").write_text(
        "This folder was written by `cqc-research synth`. Every file in it is synthetic.\n"
        "Reports made from it carry a SYNTHETIC DATA banner.\n")
    files = {"ratings_ods": tmp / "cqc" / "latest_ratings.ods", "api_folder": tmp / "cqc_api"}
    for label, write in (("Latest ratings workbook", lambda: _write_latest_ratings(world, files["ratings_ods"])),
                         ("CQC API records", lambda: _write_api(world, files["api_folder"])),
                         ("NHS indicators", lambda: files.update(_write_nhs(world, tmp))),
                         ("coded interviews", lambda: files.update(_write_qualitative(world, tmp))),
                         ("councils", lambda: files.update(_write_councils(world, tmp)))):
        steps.set_postfix_str(label)
        write()
        steps.update()
    truth = _truth(world)
    truth["assessment_framework"] = _assessments.assessment_truth(world)
    truth.update(files.pop("_truth_extra", {}))
    truth["qualitative"] = files.pop("_truth_extra_qual", {})
    truth["councils"] = files.pop("_truth_extra_councils", {})
    (tmp / "truth.json").write_text(json.dumps(truth, indent=2, default=str))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    steps.update()
    steps.close()

    def relocate(v):
        if isinstance(v, list):
            return [relocate(x) for x in v]
        return folder / Path(v).relative_to(tmp)

    return SyntheticDataset(root=folder, truth=truth, paths={k: relocate(v) for k, v in files.items()},
                            seconds=time.perf_counter() - t0)


def _month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    return [d.date() for d in pd.date_range(first, last, freq="MS")]


def _write_nhs(world, root: Path) -> dict:
    """Indicators in the NHS layouts (the writers live in :mod:`cqc_research.io.nhs`)."""

    rng = np.random.default_rng(world["seed"] + 2)
    geo = world["geo"]
    geo_rows = _geo_rows(world)
    out: dict = {}
    # ---- GP payments: two financial years in two header layouts --------------------------------
    practices = []
    for loc in world["gp"]:
        g, gp = geo_rows[loc["la"]], loc["gp"]
        practices.append({"practice_code": loc["ods_code"], "practice_name": loc["name"].upper(),
                          "ccg_code": g.ccg_code, "ccg_name": g.ccg_name, "region_name": g.nhs_region,
                          "postcode": _postcode(rng, g.postcode_prefix),
                          "open_date": pd.Timestamp(loc["registration_date"]),
                          "close_date": pd.Timestamp(loc["closed"]) if loc.get("closed") else pd.NaT,
                          "contract_type": gp["contract"], "dispensing": "Yes" if gp["dispensing"] else "No",
                          "practice_type": "GP Practice", "rurality": gp["rurality"],
                          "list_size": gp["list_size"], "weighted_list_size": gp["weighted_list_size"],
                          "ppwp": gp["payments_per_weighted_patient"], "qof": gp["qof_payments_per_patient"]})
    for code in world["unregistered"]:  # branch or non-CQC codes that never appear in CQC data
        g = geo.iloc[int(rng.integers(len(geo)))]
        practices.append({"practice_code": code, "practice_name": f"{g.la_name.upper()} BRANCH SURGERY",
                          "ccg_code": g.ccg_code, "ccg_name": g.ccg_name, "region_name": g.nhs_region,
                          "postcode": _postcode(rng, g.postcode_prefix), "open_date": pd.Timestamp("2012-04-01"),
                          "close_date": pd.NaT, "contract_type": "APMS", "dispensing": "No",
                          "practice_type": "Other", "rurality": "Urban", "list_size": int(rng.integers(800, 3000)),
                          "weighted_list_size": float(rng.integers(800, 3000)), "ppwp": 140.0, "qof": 18.0})
    base = pd.DataFrame(practices)
    gp_files = []
    for start in range(2014, 2023):  # every financial year 2014-15 to 2022-23
        year = f"{start}-{(start + 1) % 100:02d}"
        layout = "2014-15" if start < 2017 else ("2018-19" if start < 2021 else "2022-23")
        f = base.copy()
        if start < 2022:  # earlier years: the same practices, measures moved a little
            f["list_size"] = (f["list_size"] * (1 + rng.normal(0, 0.02, len(f)))).round()
            f["weighted_list_size"] = (f["weighted_list_size"] * (1 + rng.normal(0, 0.02, len(f)))).round(2)
            f["ppwp"] = f["ppwp"] * (1 + rng.normal(0, 0.03, len(f)))
            f["qof"] = f["qof"] * (1 + rng.normal(0, 0.05, len(f)))
            f["close_date"] = pd.NaT
        opened = f["open_date"] <= pd.Timestamp(start + 1, 3, 31)
        f = f[opened]
        f["total_payments"] = (f["ppwp"] * f["weighted_list_size"]).round(2)
        f["total_qof_payments"] = (f["qof"] * f["list_size"]).round(2)
        path = root / "gp_payments" / f"nhs-payments-gp-{year}.csv"
        nhs.write_gp_payments(f.drop(columns=["ppwp", "qof"]), path, layout=layout)
        gp_files.append(path)
    out["gp_payments"] = gp_files
    # ---- A&E monthly: 4-hour performance with the planted post-publication effect ---------------
    months = _month_starts(dt.date(2016, 4, 1), dt.date(2024, 3, 1))
    month_index = {m: i for i, m in enumerate(months)}
    merger = world["merger"]
    ae_rows, shmi_rows, staff_rows = [], [], []
    by_code = {t["code"]: t for t in world["trusts"]}
    base_perf = {code: float(np.clip(rng.normal(86, 4), 72, 97)) for code in by_code}
    base_perf[merger["new"]] = float(np.mean([base_perf[c] for c in merger["old"]]))
    size = {code: float(rng.uniform(5000, 14000)) for code in by_code}
    size[merger["new"]] = float(sum(size[c] for c in merger["old"]))
    effects = {}
    for code, t in by_code.items():
        bump = np.zeros(len(months))
        for r in t["reports"]:
            if r["overall"] not in RATINGS:
                continue
            pub = dt.date(r["report_date"].year, r["report_date"].month, 1)
            for lag in EVENT_LAGS:
                m = _months(pub, lag + 0.5)
                m = dt.date(m.year, m.month, 1)
                if m in month_index:
                    bump[month_index[m]] += world["planted"]["event_effect_pp"]
        effects[code] = bump
    for code, t in by_code.items():
        g = geo_rows[t["la"]]
        active = [m for m in months if (code not in merger["old"] or m < merger["date"])
                  and (code != merger["new"] or m >= merger["date"])]
        for m in active:
            i = month_index[m]
            season = -3.0 if m.month in (12, 1, 2) else (-1.0 if m.month in (3, 11) else 0.0)
            perf1 = base_perf[code] - 0.12 * i + season + effects[code][i] + rng.normal(0, 1.0)
            for typ, scale_, offset in (("1", 1.0, 0.0), ("2", 0.04, 8.0), ("other", 0.35, 10.0)):
                att = int(rng.poisson(size[code] * scale_ * (1.04 if m.month in (6, 7) else 1.0)))
                p_ok = float(np.clip(perf1 + offset + (0 if typ == "1" else effects[code][i] * 0), 5, 99.9)) / 100
                if typ != "1":
                    p_ok = float(np.clip(min(99.5, perf1 + offset) / 100, 0.05, 0.999))
                breaches = int(rng.binomial(att, 1 - p_ok)) if att else 0
                ae_rows.append({"period": pd.Timestamp(m), "org_code": code, "org_name": t["name"].upper(),
                                "parent_org": f"NHS ENGLAND {g.nhs_region.upper()}", "type": typ,
                                "attendances": att, "breaches": breaches,
                                "admissions": int(att * 0.27) if typ == "1" else 0})
        # SHMI (yearly) and staff survey (yearly) for trusts open in the year
        for year in range(2016, 2023):
            start, end = dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
            if (code in merger["old"] and start >= merger["date"]) or (code == merger["new"] and start < merger["date"]):
                continue
            expected = float(rng.uniform(1800, 4200)) * (2 if code == merger["new"] else 1)
            true = float(np.exp(rng.normal(0, 0.06)))
            shmi_rows.append({"org_code": code, "org_name": t["name"].upper(), "period_start": pd.Timestamp(start),
                              "period_end": pd.Timestamp(end), "observed": int(rng.poisson(expected * true)),
                              "expected": round(expected, 2), "spells": int(expected * 22)})
            staff_rows.append({"org_code": code, "org_name": t["name"], "year": year, "measure": "staff_recommend_care",
                               "value": round(float(np.clip(rng.normal(70, 7), 35, 95)), 1),
                               "responses": int(rng.integers(900, 4000))})
    ae = pd.DataFrame(ae_rows)
    out["ae_folder"] = root / "ae"
    nhs.write_ae_monthly(ae, out["ae_folder"])
    out["shmi"] = nhs.write_shmi(pd.DataFrame(shmi_rows), root / "shmi" / "shmi.csv")
    out["staff_survey"] = nhs.write_staff_survey(pd.DataFrame(staff_rows), root / "staff_survey" / "staff_survey.csv")
    # ---- delayed transfers of care by local authority -----------------------------------------
    reasons = ["assessment", "public_funding", "nhs_non_acute", "residential_home", "nursing_home",
               "care_package", "equipment", "patient_choice", "disputes", "housing", "other"]
    weights = np.array([12, 3, 20, 12, 13, 19, 3, 12, 1, 4, 1], dtype=float)
    dtoc_rows = []
    la_rate = {}
    for g in geo.itertuples(index=False):
        rate = 1300 * float(np.exp(rng.normal(0, 0.25))) * (world["planted"]["dtoc_multiplier"] if g.struggling else 1.0)
        la_rate[g.la_name] = rate
        for m in _month_starts(dt.date(2016, 4, 1), dt.date(2019, 9, 1)):
            total = int(rng.poisson(g.pop_65plus * rate / 100_000))
            split = rng.multinomial(total, weights / weights.sum())
            row = {"org_code": g.la_old_code if m < dt.date(2017, 4, 1) else g.la_code, "org_name": g.la_name,
                   "period": pd.Timestamp(m), "total": float(total)}
            row.update({r: float(v) for r, v in zip(reasons, split, strict=True)})
            for r in reasons:  # small counts suppressed, as published
                if 0 < row[r] < 3 and rng.random() < 0.5:
                    row[r] = np.nan
            dtoc_rows.append(row)
    out["dtoc"] = nhs.write_dtoc(pd.DataFrame(dtoc_rows), root / "dtoc" / "dtoc_la_days_by_reason.csv")

    out.update(write_nhs_workbooks(root, seed=world["seed"], dtoc=pd.DataFrame(dtoc_rows), geo=geo,
                                   staff=pd.DataFrame(staff_rows)))
    pop = pd.DataFrame({"org_code": geo["la_code"], "org_name": geo["la_name"], "year": 2019,
                        "population_65plus": geo["pop_65plus"]})
    out["population"] = nhs.write_population(pop, root / "population" / "la_population_65plus.csv")
    out["la_codes"] = nhs.write_la_codes(pd.DataFrame({"old_code": geo["la_old_code"], "new_code": geo["la_code"],
                                                       "name": geo["la_name"]}),
                                         root / "population" / "la_codes.csv")
    out["imd_la"] = nhs.write_imd(pd.DataFrame({"org_code": geo["la_code"], "org_name": geo["la_name"],
                                                "imd_score": geo["imd_score"]}), root / "imd" / "imd_la.csv")
    prac = pd.DataFrame({"org_code": [loc["ods_code"] for loc in world["gp"]],
                         "org_name": [loc["name"] for loc in world["gp"]],
                         "imd_score": [round(float(geo_rows[loc["la"]].imd_score + rng.normal(0, 4)), 2)
                                       for loc in world["gp"]]})
    out["imd_practice"] = nhs.write_imd(prac, root / "imd" / "imd_practice.csv", level="practice")
    out["_truth_extra"] = {"areas_dtoc_rate_per_100k_65plus_month": {k: round(v, 1) for k, v in la_rate.items()}}

    out.update(write_indicator_files(world, root, seed=world["seed"]))

    out.update(write_survey_files(world, root))
    return out


def _write_qualitative(world, root: Path) -> dict:
    """Coded interviews with services once rated Inadequate (writer: :mod:`cqc_research.qual`).

    Cases are adult social care services and GP practices whose Overall rating was Inadequate at
    some inspection and that were inspected again, so whether they improved is known; up to 20
    that improved and 20 that did not, as in CQC's small-n "Driving improvement" case studies.
    """

    rng = np.random.default_rng(world["seed"] + 3)
    improved, stuck = [], []
    for loc in world["locations"]:
        if loc["sector"] == "NHS hospitals" or loc.get("closed"):
            continue
        states = [s for _, s in loc["history"]]
        for a, b in zip(states[:-1], states[1:], strict=False):
            if a == 0:
                (improved if b > 0 else stuck).append(loc["location_id"])
                break
    k = world.get("qual_cases", QUAL_CASES)
    pick = [(lid, True) for lid in rng.permutation(improved)[:k]] + \
           [(lid, False) for lid in rng.permutation(stuck)[:k]]
    cases = pd.DataFrame({"case_id": [f"CASE{i + 1:02d}" for i in range(len(pick))],
                          "location_id": [p[0] for p in pick], "improved": [p[1] for p in pick]})
    truth = write_synthetic_interviews(cases, root / "qual", seed=world["seed"],
                                       prevalence=world["planted"]["qual_prevalence"])

    # the codes planted with the largest difference in the default world (null in the null world),
    # which the test scale detects with high probability (docs/DESIGN.md, "Tests that can fail")
    truth["checked_codes"] = [c for c, (a, b) in SYNTHETIC_PREVALENCE.items() if a - b >= 0.35]
    (root / "qual" / "SYNTHETIC").unlink(missing_ok=True)  # the dataset root carries the marker
    return {"coded_segments": root / "qual" / "coded_segments.csv", "qdpx": root / "qual" / "interviews.qdpx",
            "_truth_extra_qual": truth}


def _write_councils(world, root: Path) -> dict:
    """Councils' assessments (:mod:`cqc_research.synthetic.councils`; its own random stream)."""

    c = world["planted"].get("councils") or planted_parameters()["councils"]
    return write_councils(world, root, slope=c["slope"], exceptions=c["exceptions"])


def dataset_paths(root) -> dict:
    """The file paths of a synthetic dataset already written at ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset's folder.

    Returns
    -------
    dict
        The same keys as :attr:`SyntheticDataset.paths`; ``gp_payments`` is a sorted list of the
        yearly files. Paths are built, not checked.
    """

    root = Path(root)
    out = {"ratings_ods": root / "cqc" / "latest_ratings.ods", "api_folder": root / "cqc_api",
           "gp_payments": sorted((root / "gp_payments").glob("*.csv")),
           "ae_folder": root / "ae", "shmi": root / "shmi" / "shmi.csv",
           "staff_survey": root / "staff_survey" / "staff_survey.csv",
           "dtoc": root / "dtoc" / "dtoc_la_days_by_reason.csv", **nhs_workbook_paths(root),
           "population": root / "population" / "la_population_65plus.csv",
           "imd_la": root / "imd" / "imd_la.csv", "imd_practice": root / "imd" / "imd_practice.csv",
           "la_codes": root / "population" / "la_codes.csv",
           "qof_prevalence": sorted((root / "qof").glob("PREVALENCE_*.csv")),
           "qof_achievement": sorted((root / "qof").glob("ACHIEVEMENT_*.csv")),
           "qof_geography": root / "qof" / "MAPPING_NHS_GEOGRAPHIES_2223.csv",
           "fingertips": root / "fingertips" / "fingertips_848_gps.csv",
           "coded_segments": root / "qual" / "coded_segments.csv", "qdpx": root / "qual" / "interviews.qdpx",
           "la_assessments": root / "councils" / "la_assessments.csv",
           "gpps": sorted((root / "gpps").glob("*.csv"), key=lambda p: p.name[5:9]),
           "fft_gp": sorted((root / "fft" / "gp").glob("*.xlsx"), key=_fft_month),
           "fft_ae": sorted((root / "fft" / "ae").glob("*.xlsx"), key=_fft_month)}
    return out


def _fft_month(path) -> str:
    """``FFT-GP-data-March-2019.xlsx`` -> ``2019-03``, to sort the monthly files in time."""
    stem = Path(path).stem.rsplit("-", 2)
    return pd.Timestamp(f"{stem[-2]} {stem[-1]}").strftime("%Y-%m") if len(stem) == 3 else stem[0]


def ensure_default_data(*, quiet: bool = False) -> Path:
    """Write the embedded default dataset if ``data/raw/`` holds no data; return its folder.

    Nothing is written when the folder already holds a dataset (its ``truth.json``).

    Parameters
    ----------
    quiet : bool
        Print nothing and show no progress bar.

    Returns
    -------
    pathlib.Path
        :func:`cqc_research.paths.synthetic_dir`, holding the dataset.
    """
    target = paths.synthetic_dir()
    if (target / "truth.json").is_file():
        try:
            version = json.loads((target / "truth.json").read_text()).get("generator_version", 0)
        except (OSError, ValueError):
            version = 0
        if version == GENERATOR_VERSION:
            return target
        # written by an older generator (it lacks files the notebooks now read): write it again
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        if not quiet:
            print(f"the synthetic dataset in {target} was written by an older version; writing it again")
        try:
            generate(target, progress=not quiet)
        except BaseException:
            if not target.exists():
                os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return target
    raw = paths.raw_dir()
    others = [p for p in raw.iterdir() if not p.name.startswith(".") and p.name != "README.md"] if raw.is_dir() else []
    if others and not quiet:
        print(f"data/raw holds {len(others)} entries but no synthetic dataset; writing it to {target}")
    ds = generate(target, progress=not quiet)
    if not quiet:
        print(f"wrote the synthetic dataset ({ds.truth['counts']['locations']:,} locations) to {target} "
              f"in {ds.seconds:.1f} s")
    return target
