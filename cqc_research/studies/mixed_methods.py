"""Do coded interviews line up with what happened at the next inspection? Notebook 07's question.

The statistics are those of :mod:`cqc_research.qual` (code frequencies, co-occurrence, cases
joined to their rating histories, prevalence by outcome); this module holds the notebook's
figures, its sentences and the tables it saves (:data:`TABLES`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .._text import pct as _pct
from .._text import pval as _pval
from ..metrics.intervals import newcombe_diff_ci
from ..plots import qual as qp

__all__ = ["TABLES"]

#: The tables notebook 07 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with. The code columns of ``cases_with_outcomes`` and the columns of the
#: co-occurrence tables are the codebook's codes (here the shipped codebook's).
TABLES: dict[str, tuple[str, ...]] = {
    "codebook": ("code", "group", "label", "definition", "include", "exclude", "aliases"),
    "interview_guide": ("id", "number", "topic", "role", "text"),
    "unknown_codes": ("code", "n_segments", "n_respondents", "n_cases", "roles", "suggestion"),
    "cases": ("case_id", "location_id", "n_respondents", "n_segments", "roles"),
    "code_frequencies": ("unit", "code", "code_group", "n_segments", "n_units", "n_total", "share",
                         "ci_low", "ci_high"),
    "group_frequencies": ("unit", "code", "code_group", "n_segments", "n_units", "n_total",
                          "share", "ci_low", "ci_high"),
    "code_frequencies_by_role": ("respondent_role", "unit", "code", "code_group", "n_segments",
                                 "n_units", "n_total", "share", "ci_low", "ci_high"),
    "code_frequencies_by_role_interviews": ("respondent_role", "unit", "code", "code_group",
                                            "n_segments", "n_units", "n_total", "share", "ci_low",
                                            "ci_high", "share_others", "excess"),
    "cooccurrence_case": ("unit", "code_a", "code_b", "n_units", "n_a", "n_b", "n_both",
                          "share_both", "ci_low", "ci_high", "expected_both", "jaccard"),
    "cooccurrence_segment": ("unit", "code_a", "code_b", "n_units", "n_a", "n_b", "n_both",
                             "share_both", "ci_low", "ci_high", "expected_both", "jaccard"),
    "cases_with_outcomes": ("case_id", "location_id", "status", "index_date", "index_rating",
                            "next_date", "next_rating", "improved", "improvement_date",
                            "months_to_improvement", "followup_months", "improved_ever",
                            "time_months", "n_reports_after", "domain", "censor_date",
                            "n_respondents", "n_segments", "anticipatory", "directive",
                            "organisational", "relational", "informational", "stakeholder",
                            "lateral", "systemic", "leadership", "cultural_change",
                            "person_centred_care", "staffing", "working_with_partners",
                            "building_a_community", "agency_staff"),
    "time_to_improvement": ("n", "events", "median_months", "ci_low", "ci_high"),
    "prevalence_by_outcome": ("code", "code_group", "n_improved", "k_improved", "prev_improved",
                              "ci_low_improved", "ci_high_improved", "n_not_improved",
                              "k_not_improved", "prev_not_improved", "ci_low_not_improved",
                              "ci_high_not_improved", "difference", "diff_ci_low", "diff_ci_high",
                              "odds_ratio", "or_ci_low", "or_ci_high", "p_fisher", "p_holm",
                              "n_excluded"),
    "planted_truth_qualitative": ("effect", "quantity", "planted", "null", "estimate", "ci_low",
                                  "ci_high", "level", "p_value", "n", "detectable", "verdict",
                                  "note"),
}


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def frequencies_figure(freq: pd.DataFrame, *, codebook):
    """The share of cases in which each code appears, with exact intervals.

    Parameters
    ----------
    freq : DataFrame
        :func:`cqc_research.qual.code_frequencies` by case.
    codebook : Codebook
        For the codes' labels and order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return qp.plot_frequencies(freq, codebook=codebook, title="Share of cases in which each code appears")


def case_matrix_figure(followed: pd.DataFrame, *, codebook):
    """The codes of each followed-up case, the cases that improved above the line.

    Parameters
    ----------
    followed : DataFrame
        The rows of :func:`cqc_research.qual.cases_with_outcomes` with an outcome (its 0/1 code
        columns).
    codebook : Codebook
        For the codes' labels and order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return qp.plot_case_matrix(followed, codebook=codebook,
                               title="Codes in each case (dark = coded), cases that improved above the line")


def prevalence_figure(comparison: pd.DataFrame, *, codebook):
    """The share of cases coded with each code, by outcome at the next inspection.

    Parameters
    ----------
    comparison : DataFrame
        :func:`cqc_research.qual.compare_prevalence` output.
    codebook : Codebook
        For the codes' labels and order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return qp.plot_prevalence(comparison, codebook=codebook,
                              title="Share of cases coded, by outcome at the next inspection")

# ----------------------------------------------------------------------------------------------
# sentences
# ----------------------------------------------------------------------------------------------
def _role(role) -> str:
    return str(role).replace("_", " ")


def code_name(code: str, labels: dict) -> str:
    """A code's label from the codebook, or the code marked as not in it.

    Parameters
    ----------
    code : str
        The code.
    labels : dict or Codebook
        Code to label, or a codebook (its ``codes`` table's ``code`` and ``label``).

    Returns
    -------
    str

    Examples
    --------
    >>> code_name("x", {"x": "Leadership"}), code_name("y", {})
    ('Leadership', 'y (not in codebook)')
    """
    if hasattr(labels, "codes"):
        labels = dict(zip(labels.codes["code"], labels.codes["label"], strict=True))
    return labels.get(code, f"{code} (not in codebook)")


def codebook_subtitle(codebook) -> str:
    """The codebook's name, version and size, for a report's subtitle (notebook 07).

    Parameters
    ----------
    codebook : Codebook
        With ``name``, ``version``, ``codes`` and ``questions``.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cb = SimpleNamespace(name="demo", version="1.0", codes=pd.DataFrame({"code": ["a", "b"]}),
    ...                      questions=pd.DataFrame({"id": ["q1", "q1", "q2"]}))
    >>> codebook_subtitle(cb)
    "Codebook 'demo' (version 1.0); 2 codes, 2 interview questions"
    """
    return (f"Codebook {codebook.name!r} (version {codebook.version}); {len(codebook.codes)} codes, "
            f"{codebook.questions['id'].nunique()} interview questions")


def import_notes(notes: Iterable[str]) -> str:
    """The import's notes, one paragraph each, in italics-led markdown ("" when there are none).

    Parameters
    ----------
    notes : iterable of str
        Messages.

    Returns
    -------
    str

    Examples
    --------
    >>> import_notes(["a", "b"])
    '*Import note:* a\\n\\n*Import note:* b'
    """
    return "\n\n".join(f"*Import note:* {n}" for n in notes)


def coded_segments_sentence(segments: pd.DataFrame, cases: pd.DataFrame, *, synthetic: bool = False) -> str:
    """What the coded file holds: excerpts, codings, interviews by role and cases (notebook 07).

    Parameters
    ----------
    segments : DataFrame
        Coded segments (``segment_id``, ``respondent_id``, ``respondent_role``, ``excerpt``).
    cases : DataFrame
        The case table (``location_id``).
    synthetic : bool
        Add how many excerpts are marked ``[SYNTHETIC]``.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> seg = pd.DataFrame({"segment_id": [1, 1, 2], "respondent_id": ["r1", "r1", "r2"],
    ...                     "respondent_role": ["registered_manager"] * 2 + ["staff"],
    ...                     "excerpt": ["[SYNTHETIC] a", "[SYNTHETIC] a", "[SYNTHETIC] b"]})
    >>> cases = pd.DataFrame({"location_id": ["1-101", None]})
    >>> text = coded_segments_sentence(seg, cases, synthetic=True)
    >>> print(textwrap.fill(text, 88))
    The file holds **2 coded excerpts** (3 codings: an excerpt can carry more than one code)
    from **2 interviews** (registered manager: 1, staff: 1) about **2 cases**, of which 1
    carry a CQC location ID. Every excerpt is marked as invented (100% begin with
    `[SYNTHETIC]`).
    """
    roles = segments.drop_duplicates("respondent_id")["respondent_role"].value_counts()
    text = (f"The file holds **{segments['segment_id'].nunique():,} coded excerpts** ({len(segments):,} "
            "codings: an excerpt can carry more than one code) from "
            f"**{segments['respondent_id'].nunique():,} interviews** "
            f"({', '.join(f'{_role(r)}: {n}' for r, n in roles.items())}) about **{len(cases):,} cases**, "
            f"of which {cases['location_id'].notna().sum():,} carry a CQC location ID.")
    if synthetic:
        text += (f" Every excerpt is marked as invented "
                 f"({segments['excerpt'].str.startswith('[SYNTHETIC]').mean():.0%} begin with `[SYNTHETIC]`).")
    return text


def unknown_codes_sentence(unknown: pd.DataFrame, notes: Iterable[str] = ()) -> str:
    """Whether every code is in the codebook, what to do about those that are not, and the
    import's other notes (:func:`import_notes`) (notebook 07).

    Parameters
    ----------
    unknown : DataFrame
        :func:`cqc_research.qual.unknown_codes` output.
    notes : iterable of str
        The import's other warnings.

    Returns
    -------
    str

    Examples
    --------
    >>> print(unknown_codes_sentence(pd.DataFrame(), ["2 rows had no excerpt."]))
    Every code in the file is in the codebook.
    <BLANKLINE>
    *Import note:* 2 rows had no excerpt.
    >>> unknown_codes_sentence(pd.DataFrame({"code": ["x"]}))[:44]
    '**1 code(s) are not in the codebook.** They '
    """
    if not len(unknown):
        text = "Every code in the file is in the codebook."
    else:
        text = (f"**{len(unknown)} code(s) are not in the codebook.** They are kept, in the group *unknown*, "
                "and counted below. A suggestion names the nearest codebook code when the name looks like a "
                "typo or a synonym. Add the code to the codebook, or rename it in the coding, if it belongs "
                "there.")
    return "\n\n".join([text, import_notes(notes)]).strip()


def top_codes_sentence(freq: pd.DataFrame, groups: pd.DataFrame, labels: dict, *, k: int = 3) -> str:
    """The most often coded codes with their intervals, and each group's share of cases (notebook 07).

    Parameters
    ----------
    freq, groups : DataFrame
        :func:`cqc_research.qual.code_frequencies` by code and by group (``unit="case"``).
    labels : dict
        Code to label.
    k : int
        How many codes to name.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> freq = pd.DataFrame({"code": ["lead", "staff"], "code_group": ["culture", "culture"],
    ...                      "n_units": [6, 3], "n_total": 10, "share": [0.6, 0.3],
    ...                      "ci_low": [0.31, 0.11], "ci_high": [0.83, 0.6]})
    >>> groups = pd.DataFrame({"code": ["culture"], "n_units": [7], "n_total": 10, "share": 0.7})
    >>> text = top_codes_sentence(freq, groups, {"lead": "Leadership"}, k=1)
    >>> print(textwrap.fill(text, 88))
    Most often coded: **Leadership** in 6 of 10 cases (60%, 95% CI 31% to 83%). At least one
    culture code appears in 7 of 10 cases (70%).
    """
    top = freq[freq["code_group"] != "unknown"].nlargest(k, "share")
    return ("Most often coded: " + "; ".join(
        f"**{code_name(r.code, labels)}** in {r.n_units} of {r.n_total} cases ({_pct(r.share)}, "
        f"95% CI {_pct(r.ci_low)} to {_pct(r.ci_high)})" for r in top.itertuples()) + ". "
        + " ".join(f"At least one {r.code} code appears in {r.n_units} of {r.n_total} cases ({_pct(r.share)})."
                   for r in groups.itertuples() if r.code != "unknown"))


def role_codes_sentence(by_role: pd.DataFrame, excess: pd.DataFrame, labels: dict) -> str:
    """Cases per role, and the code each role raised most compared with the others (notebook 07).

    Parameters
    ----------
    by_role : DataFrame
        :func:`cqc_research.qual.code_frequencies` by ``respondent_role`` (cases).
    excess : DataFrame
        :func:`cqc_research.qual.role_excess` output.
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> by_role = pd.DataFrame({"respondent_role": ["staff", "staff"], "n_total": [8, 8]})
    >>> excess = pd.DataFrame({"respondent_role": ["staff", "staff"], "code": ["lead", "pay"],
    ...                        "code_group": "culture", "excess": [0.3, 0.1], "n_units": [5, 2],
    ...                        "n_total": 8, "share": [0.625, 0.25], "share_others": [0.3, 0.15]})
    >>> text = role_codes_sentence(by_role, excess, {"lead": "Leadership"})
    >>> print(textwrap.fill(text, 88))
    Cases with a coded respondent in each role: staff 8. Counting interviews, the code each
    role raised most often compared with respondents in the other roles: staff: Leadership
    (5 of 8 interviews, 62%, against 30%).
    """
    n_role = by_role.drop_duplicates("respondent_role").set_index("respondent_role")["n_total"]
    most = (excess[excess["code_group"] != "unknown"].sort_values("excess", ascending=False)
            .groupby("respondent_role").head(1))
    return ("Cases with a coded respondent in each role: " + ", ".join(
        f"{_role(r)} {n}" for r, n in n_role.items()) + ". Counting interviews, the code each role "
        "raised most often compared with respondents in the other roles: " + "; ".join(
        f"{_role(r.respondent_role)}: {code_name(r.code, labels)} ({r.n_units} of {r.n_total} interviews, "
        f"{_pct(r.share)}, against {_pct(r.share_others)})" for r in most.itertuples()) + ".")


def cooccurrence_sentence(co_case: pd.DataFrame, co_seg: pd.DataFrame, n_cases: int, labels: dict) -> str:
    """The pairs of codes that co-occur most beyond chance, and the commonest double codings (notebook 07).

    Parameters
    ----------
    co_case, co_seg : DataFrame
        :func:`cqc_research.qual.code_cooccurrence` by case and by segment.
    n_cases : int
        The number of cases.
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> co = pd.DataFrame({"code_a": ["a", "b"], "code_b": ["b", "a"], "n_both": [4, 4],
    ...                    "expected_both": [2.5, 2.5]})
    >>> text = cooccurrence_sentence(co, co.assign(n_both=0), 10, {"a": "Leadership"})
    >>> print(textwrap.fill(text, 88))
    Pairs that appear together most often beyond what their frequencies alone would give:
    Leadership and b (not in codebook) (4 cases, 2.5 expected). With 10 cases, excesses of
    this size often arise by chance. No excerpt carries two codes.
    """
    pairs = co_case[co_case["code_a"] < co_case["code_b"]]
    strong = pairs.assign(excess=pairs["n_both"] - pairs["expected_both"]).nlargest(3, "excess")
    double = co_seg[(co_seg["code_a"] < co_seg["code_b"]) & (co_seg["n_both"] > 0)].nlargest(3, "n_both")
    double_text = ("Excerpts coded with two codes most often: " + "; ".join(
        f"{code_name(r.code_a, labels)} with {code_name(r.code_b, labels)} ({r.n_both})"
        for r in double.itertuples()) + "." if len(double) else "No excerpt carries two codes.")
    return ("Pairs that appear together most often beyond what their frequencies alone would give: "
            + "; ".join(f"{code_name(r.code_a, labels)} and {code_name(r.code_b, labels)} ({r.n_both} cases, "
                        f"{r.expected_both:.1f} expected)" for r in strong.itertuples())
            + f". With {n_cases} cases, excesses of this size often arise by chance. " + double_text)


def follow_up_sentence(joined: pd.DataFrame, followed: pd.DataFrame, times: pd.DataFrame) -> str:
    """How many cases could be followed, how many improved, and the median time to it (notebook 07).

    Parameters
    ----------
    joined, followed : DataFrame
        :func:`cqc_research.qual.cases_with_outcomes` output, and its rows with a known ``improved``.
    times : DataFrame
        :func:`cqc_research.qual.case_improvement_times` output (first row used).

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> joined = pd.DataFrame({"improved": [True, False, None, True]})
    >>> followed = joined.dropna(subset=["improved"])
    >>> times = pd.DataFrame({"median_months": [14.0], "ci_low": [9.0], "ci_high": [30.0],
    ...                       "events": [2], "n": [3]})
    >>> text = follow_up_sentence(joined, followed, times)
    >>> print(textwrap.fill(text, 88))
    Of 4 cases, 3 could be followed to a later inspection: 2 improved at the next inspection
    and 1 did not. Across these cases, a better rating came after a median of 14 months, 95%
    CI 9 to 30 (Kaplan-Meier; 2 of 3 cases improved during follow-up).
    """
    t = times.iloc[0]
    med = (f"a median of {t['median_months']:.0f} months, 95% CI {t['ci_low']:.0f} to {t['ci_high']:.0f}"
           if pd.notna(t["median_months"]) else "a median that the data cannot yet estimate")
    return (f"Of {len(joined)} cases, {len(followed)} could be followed to a later inspection: "
            f"{int(followed['improved'].sum())} improved at the next inspection and "
            f"{int((~followed['improved'].astype(bool)).sum())} did not. Across these cases, a better rating "
            f"came after {med} (Kaplan-Meier; {int(t['events'])} of {int(t['n'])} cases improved during "
            "follow-up).")


def prevalence_lines(comparison: pd.DataFrame, labels: dict) -> str:
    """The codes whose difference between improved and other cases excludes zero (notebook 07).

    Parameters
    ----------
    comparison : DataFrame
        :func:`cqc_research.qual.compare_prevalence` output.
    labels : dict
        Code to label.

    Returns
    -------
    str
        A sentence and one bullet per such code, quoting the counts.

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"code": ["lead"], "k_improved": [8], "n_improved": [10],
    ...                   "prev_improved": [0.8], "k_not_improved": [2], "n_not_improved": [10],
    ...                   "prev_not_improved": [0.2], "difference": [0.6], "diff_ci_low": [0.2],
    ...                   "diff_ci_high": [0.8], "p_fisher": [0.023], "p_holm": [0.023]})
    >>> head, _, bullet = prevalence_lines(c, {"lead": "Leadership"}).splitlines()
    >>> head
    'For 1 of 1 codes, the 95% interval of the difference between the groups excludes zero:'
    >>> print(textwrap.fill(bullet, 88))
    - **Leadership**: 8 of 10 cases that improved (80%) against 2 of 10 that did not (20%);
    difference +60% (95% CI +20% to +80%), Fisher p 0.023, Holm-adjusted p 0.023.
    >>> prevalence_lines(c.assign(diff_ci_low=-0.1), {})
    'For none of the 1 codes does the difference between the groups exclude zero.'
    """
    clear = comparison[(comparison["diff_ci_low"] > 0) | (comparison["diff_ci_high"] < 0)]
    if not len(clear):
        return f"For none of the {len(comparison)} codes does the difference between the groups exclude zero."
    lines = [f"- **{code_name(r.code, labels)}**: {r.k_improved} of {r.n_improved} cases that improved "
             f"({_pct(r.prev_improved)}) against {r.k_not_improved} of {r.n_not_improved} that did not "
             f"({_pct(r.prev_not_improved)}); difference {r.difference:+.0%} (95% CI {r.diff_ci_low:+.0%} "
             f"to {r.diff_ci_high:+.0%}), Fisher p {_pval(r.p_fisher)}, Holm-adjusted p {_pval(r.p_holm)}."
             for r in clear.itertuples()]
    return (f"For {len(clear)} of {len(comparison)} codes, the 95% interval of the difference between the "
            "groups excludes zero:\n\n" + "\n".join(lines))


def null_difference_sentence(comparison: pd.DataFrame) -> str:
    """How wide the interval of a difference is with these group sizes when the shares are equal.

    The Newcombe interval (:func:`cqc_research.metrics.intervals.newcombe_diff_ci`) for two
    shares of ``n // 2`` out of ``n`` (notebook 07).

    Parameters
    ----------
    comparison : DataFrame
        :func:`cqc_research.qual.compare_prevalence` output: its first row's ``n_improved`` and
        ``n_not_improved`` are the group sizes.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"n_improved": [10], "n_not_improved": [12]})
    >>> print(textwrap.fill(null_difference_sentence(c), 88))
    With 10 and 12 cases, the 95% interval for the difference between two shares near 50%
    runs from -36% to +36% even when the shares are equal. A difference must be about that
    large before it stands out from chance. A code that does not differ has not been shown
    to be unimportant, since the intervals are wide.
    """
    n1, n0 = int(comparison["n_improved"].iloc[0]), int(comparison["n_not_improved"].iloc[0])
    lo, hi = newcombe_diff_ci(n1 // 2, n1, n0 // 2, n0)
    return (f"With {n1} and {n0} cases, the 95% interval for the difference between two shares near 50% runs "
            f"from {lo:+.0%} to {hi:+.0%} even when the shares are equal. A difference must be about that large "
            "before it stands out from chance. A code that does not differ has not been shown to be "
            "unimportant, since the intervals are wide.")


def excerpts_block(code: str | None, excerpts: pd.DataFrame, labels: dict) -> str:
    """A code's label and its excerpts as markdown quotations, each with role, case and question.

    Parameters
    ----------
    code : str or None
        The code (None gives an empty string).
    excerpts : DataFrame
        Segments (``excerpt``, ``respondent_role``, ``case_id``, ``question``).
    labels : dict
        Code to label.

    Returns
    -------
    str

    Examples
    --------
    >>> ex = pd.DataFrame({"excerpt": ["We felt listened to."],
    ...                    "respondent_role": ["family_member"], "case_id": ["C1"],
    ...                    "question": ["Q2"]})
    >>> excerpts_block("voice", ex, {"voice": "Being heard"}).splitlines()
    ['**Being heard**', '', '> We felt listened to.  ', '> *(family member, case C1, Q2)*']
    >>> excerpts_block(None, ex, {})
    ''
    """
    if code is None:
        return ""
    return f"**{code_name(code, labels)}**\n\n" + "\n".join(
        f"> {r.excerpt}  \n> *({_role(r.respondent_role)}, case {r.case_id}, {r.question})*\n"
        for r in excerpts.itertuples())
