"""Synthetic coded interviews with planted patterns (every excerpt labelled ``[SYNTHETIC]``)."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_path
from ..qual.codebook import Codebook, resolve_codebook
from ..qual.segments import standardise_segments, write_qdpx

__all__ = ["write_synthetic_interviews"]

# synthetic coded interviews
#: Planted share of cases coded with each code: (improved, not improved).
SYNTHETIC_PREVALENCE: dict[str, tuple[float, float]] = {
    "anticipatory": (0.25, 0.25),
    "directive": (0.85, 0.85),
    "organisational": (0.60, 0.40),
    "relational": (0.55, 0.25),
    "informational": (0.50, 0.50),
    "stakeholder": (0.40, 0.35),
    "lateral": (0.30, 0.15),
    "systemic": (0.15, 0.15),
    "leadership": (0.70, 0.30),
    "cultural_change": (0.60, 0.35),
    "person_centred_care": (0.55, 0.40),
    "staffing": (0.50, 0.50),
    "working_with_partners": (0.50, 0.30),
    "building_a_community": (0.35, 0.15),
    "agency_staff": (0.25, 0.25),  # an emergent code that the shipped codebook does not hold
}


# (excerpt, roles that could say it or None for any); all invented.
_TEMPLATES: dict[str, list[tuple[str, tuple[str, ...] | None]]] = {
    "anticipatory": [
        ("Before every expected visit we now run our own mock inspection against the five key questions.", None),
        ("We keep the evidence folder up to date every month, so we are never caught out again.", ("manager", "staff")),
        ("The audits we started because CQC might come turned out to tell us most about the care.", ("manager", "staff")),
    ],
    "directive": [
        ("The warning notice gave us a deadline, and the first three months were about meeting it.", None),
        ("Special measures meant there was a clear list of what had to be fixed and by when.", None),
        ("No new admissions were allowed until the requirement notices had been met.", None),
    ],
    "organisational": [
        ("The owners brought in a monthly governance meeting with minutes and actions that are followed up.", None),
        ("Incident reporting was rebuilt so that nothing sits in a drawer any more.", ("manager", "staff", "commissioner")),
        ("Head office moved the service to the top of its list and put a quality lead on site two days a week.", None),
    ],
    "relational": [
        ("The inspector explained what good would look like here, which nobody had done before.", None),
        ("The inspection manager rang after each visit; it was challenge, but fair challenge.", ("manager", "commissioner")),
        ("Having the same inspector throughout meant people could be honest about what was still wrong.", None),
    ],
    "informational": [
        ("Seeing the word Inadequate on the website hit hard; enquiries dried up almost overnight.", None),
        ("The report was used as a checklist; it was the clearest diagnosis anyone had ever given.", None),
        ("Families had read the report before anyone had spoken to them about it.", None),
    ],
    "stakeholder": [
        ("The council suspended placements, and that concentrated everyone's minds.", None),
        ("The safeguarding team visited weekly for a while and checked every action.", None),
        ("The local paper ran the story, and relatives started asking questions in the car park.", None),
    ],
    "lateral": [
        ("A visit to a home rated Outstanding in the next town gave us their handover sheet and lots of ideas.", None),
        ("The registered managers' network gave me people to ring when I was stuck.", ("manager",)),
        ("A sister service in the group shared its policies, so nobody had to start from scratch.", None),
    ],
    "systemic": [
        ("The key questions became the language everyone used, from the owners to the night staff.", None),
        ("Contracts are now built around the ratings, so the whole local market pays attention to them.", ("commissioner", "manager")),
        ("National training expectations changed at about the same time, which helped to raise the bar.", None),
    ],
    "leadership": [
        ("The new manager was on the floor every morning and knew every person by name.", None),
        ("For the first time the manager said honestly what had gone wrong and what would change.", None),
        ("Having one stable leader after four managers in two years made all the difference.", None),
    ],
    "cultural_change": [
        ("People stopped being afraid to report mistakes; they are talked about openly at handover now.", None),
        ("The focus moved from getting the tasks done to asking what kind of day each person had.", None),
        ("There is pride in the team now, and people stay to finish an activity rather than rush off.", None),
    ],
    "person_centred_care": [
        ("Every care plan was rewritten with the person and their family, in their own words.", None),
        ("My mother now chooses when she gets up and what she has for breakfast.", ("person_or_family",)),
        ("Life-story books mean staff know who each person was before they came here.", None),
    ],
    "staffing": [
        ("Agency shifts were cut by half and people who live locally were recruited.", None),
        ("Everyone now has supervision every six weeks, and training is booked before it lapses.", ("manager", "staff")),
        ("An extra evening shift means there are enough hands at the busiest time of day.", None),
    ],
    "working_with_partners": [
        ("The council's quality improvement team worked alongside the service for six months.", None),
        ("District nurses and the GP now come to a weekly meeting at the home.", None),
        ("Another provider mentored the deputy manager through the first year.", None),
    ],
    "building_a_community": [
        ("Children from the primary school visit every Friday to read with people.", None),
        ("There is an open day every summer and the neighbours come in for tea.", None),
        ("The relatives' meetings turned into a friends group that raises money for outings.", None),
    ],
    "agency_staff": [
        ("Relying on agency workers meant nobody on shift knew people's routines.", None),
        ("Some weeks half the shifts were covered by people who had never met the residents.", None),
    ],
}


_CODE_QUESTIONS = {
    "anticipatory": ["q11", "q09", "q04"], "directive": ["q01", "q04", "q03"],
    "organisational": ["q04", "q05", "q11"], "relational": ["q09"], "informational": ["q01", "q03", "q10"],
    "stakeholder": ["q08", "q01", "q10"], "lateral": ["q08", "q12", "q13"], "systemic": ["q12", "q09"],
    "leadership": ["q05", "q13", "q04"], "cultural_change": ["q06", "q11", "q13"],
    "person_centred_care": ["q07", "q13"], "staffing": ["q06", "q10", "q13"],
    "working_with_partners": ["q08", "q13"], "building_a_community": ["q07", "q11", "q13"],
    "agency_staff": ["q02", "q10"],
}


_ROLE_WEIGHT = {  # how likely each role is to raise a code, relative to others present
    "stakeholder": {"commissioner": 3, "manager": 2}, "systemic": {"commissioner": 3, "manager": 2},
    "relational": {"manager": 3}, "directive": {"manager": 2, "commissioner": 2},
    "person_centred_care": {"person_or_family": 3}, "building_a_community": {"person_or_family": 2},
    "cultural_change": {"staff": 3}, "staffing": {"staff": 2, "manager": 2},
    "working_with_partners": {"commissioner": 2, "manager": 2}, "lateral": {"manager": 3},
}


_TAILS = ["", " That was in the first few months.", " It took longer than anyone hoped.",
          " It is still going now.", " Everyone noticed the difference."]


_ROLE_SHORT = {"manager": "M", "staff": "S", "person_or_family": "F", "commissioner": "C"}


SYNTHETIC_LABEL = "[SYNTHETIC]"


def write_synthetic_interviews(cases: pd.DataFrame, folder, *, seed: int,
                               prevalence: Mapping[str, tuple[float, float]] | None = None,
                               codebook=None) -> dict:
    """Write invented, coded interviews for a set of cases, with planted patterns.

    For each case, respondents are drawn (a manager; one or two staff; a person using the service
    or a family member with probability 0.7; a commissioner with probability 0.5). Each code is
    present in a case with the planted probability for the case's outcome
    (:data:`SYNTHETIC_PREVALENCE`: e.g. ``leadership`` in 70% of improved cases and 30% of the
    others), independently of the other codes; a present code is given one to three invented
    excerpts, said by plausible respondents in answer to plausible questions. One excerpt in
    five is also coded with another code present in the case. Every excerpt begins with
    ``[SYNTHETIC]``. ``agency_staff`` is an emergent code the shipped codebook lacks, so the
    unknown-code report has something to show.

    Parameters
    ----------
    cases : DataFrame
        ``case_id, location_id, improved`` (bool, no missing values).
    folder : path
        Receives ``coded_segments.csv``, ``interviews.qdpx`` and a ``SYNTHETIC`` marker.
    seed : int
        The random seed; the same seed gives the same interviews.
    prevalence : mapping, optional
        code -> (share in improved cases, share in the others); default
        :data:`SYNTHETIC_PREVALENCE`.
    codebook : Codebook or path, optional
        The codebook whose codes, roles and guide questions the interviews use; default the
        shipped one.

    Returns
    -------
    dict
        The planted truth (JSON-serialisable): ``planted_prevalence``, ``realised_prevalence``
        (the shares actually written, per code and group), ``cases`` (case_id -> location_id,
        improved), counts, ``unknown_codes``, ``strong_effects`` and ``null_codes``, ``files``.
    """
    for col in ("case_id", "location_id", "improved"):
        if col not in cases:
            raise ValueError(f"cases needs a {col!r} column (case_id, location_id, improved)")
    if cases["improved"].isna().any():
        raise ValueError("cases['improved'] has missing values; pass True or False for every case")
    if cases["case_id"].duplicated().any():
        raise ValueError("cases['case_id'] has duplicates")
    cb = resolve_codebook(codebook)
    prevalence = dict(prevalence or SYNTHETIC_PREVALENCE)
    unknown = [c for c in prevalence if cb.match_code(c) is None]
    no_text = [c for c in prevalence if c not in _TEMPLATES]
    if no_text:
        raise ValueError(f"no invented excerpts for code(s) {no_text}; choose among {sorted(_TEMPLATES)}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SYNTHETIC").write_text(
        "Written by cqc_research.synthetic.interviews.write_synthetic_interviews. Every interview, excerpt and code "
        "here is invented; none of it comes from real people.\n", encoding="utf-8")
    codes = list(prevalence)
    rows = []
    present_by_case = {}
    for rec in cases.to_dict("records"):
        case_id, improved = str(rec["case_id"]), bool(rec["improved"])
        roles = ["manager"] + ["staff"] * int(rng.integers(1, 3))
        if rng.random() < 0.7:
            roles.append("person_or_family")
        if rng.random() < 0.5:
            roles.append("commissioner")
        counter: dict[str, int] = {}
        respondents = []
        for role in roles:
            counter[role] = counter.get(role, 0) + 1
            respondents.append((f"{case_id}-{_ROLE_SHORT[role]}{counter[role]}", role))
        while True:  # a case with no code at all would vanish from the segments; redraw (p < 1e-4)
            present = [c for c in codes if rng.random() < prevalence[c][0 if improved else 1]]
            if present:
                break
        present_by_case[case_id] = present
        case_rows = []
        for code in present:
            templates = _TEMPLATES[code]
            k = int(rng.integers(1, min(3, len(templates)) + 1))
            for t in rng.permutation(len(templates))[:k]:
                text, allowed = templates[t]
                who = [r for r in respondents if allowed is None or r[1] in allowed] or respondents
                w = np.array([_ROLE_WEIGHT.get(code, {}).get(r[1], 1) for r in who], dtype=float)
                resp_id, role = who[int(rng.choice(len(who), p=w / w.sum()))]
                question = str(rng.choice(_CODE_QUESTIONS[code]))
                excerpt = f"{SYNTHETIC_LABEL} {text}{_TAILS[int(rng.integers(len(_TAILS)))]}"
                seg_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                case_rows.append({"case_id": case_id, "location_id": rec["location_id"],
                                  "respondent_id": resp_id, "respondent_role": role, "question": question,
                                  "code": code, "excerpt": excerpt, "segment_id": seg_id})
        extra = []
        for r in case_rows:  # double coding within the case's present codes
            others = [c for c in present if c != r["code"]]
            if others and rng.random() < 0.2:
                extra.append({**r, "code": str(rng.choice(others))})
        rows.extend(case_rows + extra)
    seg = pd.DataFrame(rows, columns=["case_id", "location_id", "respondent_id", "respondent_role",
                                      "question", "code", "excerpt", "segment_id"])
    # interview order: respondent, then question, as a transcript would run
    seg["_resp"] = seg["respondent_id"].map({r: i for i, r in enumerate(pd.unique(seg["respondent_id"]))})
    seg = seg.sort_values(["_resp", "question"], kind="stable").drop(columns="_resp").reset_index(drop=True)
    csv_path = folder / "coded_segments.csv"
    with atomic_path(csv_path) as tmp:
        seg.to_csv(tmp, index=False)
    std = _quiet_standardise(seg, cb)
    write_qdpx(std, folder / "interviews.qdpx", codebook=cb, project_name="SYNTHETIC coded interviews",
               description=("SYNTHETIC DATA written by cqc-research: invented interviews with planted "
                            "patterns; no real person, service or excerpt."))

    imp = cases.set_index(cases["case_id"].astype(str))["improved"].astype(bool)
    n1, n0 = int(imp.sum()), int((~imp).sum())
    realised = {}
    for code in codes:
        has = pd.Series({c: code in p for c, p in present_by_case.items()})
        k1, k0 = int(has[imp[imp].index].sum()), int(has[imp[~imp].index].sum())
        realised[code] = {"k_improved": k1, "n_improved": n1, "k_not_improved": k0, "n_not_improved": n0,
                          "improved": k1 / n1 if n1 else None, "not_improved": k0 / n0 if n0 else None}
    return {
        "description": ("Synthetic coded interviews: invented excerpts labelled [SYNTHETIC], codes planted "
                        "per case with known probabilities that depend on whether the case improved."),
        "seed": seed,
        "unit": "case",
        "planted_prevalence": {c: {"improved": p[0], "not_improved": p[1]} for c, p in prevalence.items()},
        "realised_prevalence": realised,
        "strong_effects": [c for c, p in prevalence.items() if p[0] - p[1] >= 0.3],
        "null_codes": [c for c, p in prevalence.items() if p[0] == p[1]],
        "unknown_codes": unknown,
        "cases": {str(r["case_id"]): {"location_id": str(r["location_id"]), "improved": bool(r["improved"])}
                  for r in cases.to_dict("records")},
        "counts": {"cases": len(cases), "improved": n1, "not_improved": n0,
                   "respondents": int(seg["respondent_id"].nunique()),
                   "segments": int(seg["segment_id"].nunique()), "codings": len(seg)},
        "files": {"coded_segments": "coded_segments.csv", "qdpx": "interviews.qdpx"},
        "note": ("codes are drawn independently per case given the outcome; a case with no code is redrawn; "
                 "one excerpt in five is double-coded with another code present in the case; time to "
                 "improvement is not planted"),
    }


def _quiet_standardise(seg: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return standardise_segments(seg, codebook=cb)
