"""How do ratings change from one inspection to the next? Notebook 03's question.

What the notebook reads (:func:`load_histories`: CQC API records, or monthly Latest ratings files),
the steps between the statistics of :mod:`cqc_research.metrics.transitions` and the report
(:func:`pairing_steps`, :func:`sectors_with_pairs`, :func:`within_framework`,
:func:`improvement_differs`), its sentences, and the tables it saves (:data:`TABLES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from .._text import listing, plural, share_cells  # noqa: F401 (share_cells: the notebook's q.share_cells)
from ..assessment_framework import FRAMEWORK_2014
from ..dataset import Study
from ..io.cqc_files import load_latest_ratings
from ..metrics import transitions as tr

__all__ = ["TABLES", "load_histories"]

#: The tables notebook 03 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with. ``improvement_from_inadequate`` is named after the notebook's start rating.
TABLES: dict[str, tuple[str, ...]] = {
    "transitions_pairing_report": ("step", "count"),
    "transitions": ("sector", "domain", "from_rating", "to_rating", "n", "row_n", "share", "ci_low",
                    "ci_high", "ci_method"),
    "transitions_by_area": ("sector", "local_authority", "from_rating", "to_rating", "n", "row_n",
                            "share", "ci_low", "ci_high", "ci_method"),
    "improvement_from_inadequate": ("sector", "from_rating", "outcome", "n", "total", "share",
                                    "ci_low", "ci_high"),
    "time_to_improvement_median": ("sector", "from_rating", "n", "events", "censored",
                                   "median_months", "ci_low", "ci_high"),
    "time_to_improvement_survival": ("sector", "months", "at_risk", "events", "surv", "se",
                                     "ci_low", "ci_high"),
    "improved_by_months": ("sector", "months", "improved_share", "ci_low", "ci_high",
                           "followed_up"),
    "improvement_by_domain": ("sector", "domain", "from_rating", "outcome", "n", "total", "share",
                              "ci_low", "ci_high"),
    "planted_truth_transitions": ("effect", "quantity", "planted", "null", "estimate", "ci_low",
                                  "ci_high", "level", "p_value", "n", "detectable", "verdict",
                                  "note"),
}


# ----------------------------------------------------------------------------------------------
# what notebook 03 reads
@dataclass
class Histories:
    """Rating histories read for notebook 03, with what they came from.

    Attributes
    ----------
    history : DataFrame
        One row per published rating (see :func:`cqc_research.metrics.transitions.consecutive_pairs`).
    relationships : DataFrame or None
        Predecessor/successor links (API folders only).
    end_dates : DataFrame or None
        ``org_id, deregistration_date`` (API folders only), for censoring.
    sources : list of str
        The files or folder read.
    note : str
        One sentence on the data and its limits.
    """

    history: pd.DataFrame
    relationships: pd.DataFrame | None
    end_dates: pd.DataFrame | None
    sources: list
    note: str


def load_histories(study: Study | None = None, *, ratings_files: str = "",
                   level: str = "location") -> Histories:
    """Rating histories from a study's CQC API records, or from monthly Latest ratings files.

    Parameters
    ----------
    study : Study, optional
        The study whose API records are read (:attr:`cqc_research.dataset.Study.api`), used when
        ``ratings_files`` is empty; default the study found from the current directory.
    ratings_files : str
        Comma-separated monthly Latest ratings files; reports published and superseded between
        two files are missed.
    level : str
        ``location`` or ``provider`` (for the snapshots).

    Returns
    -------
    Histories

    Raises
    ------
    cqc_research.dataset.MissingInput
        When ``ratings_files`` is empty and the study has no API folder.
    """
    if ratings_files:
        files = [f.strip() for f in ratings_files.split(",") if f.strip()]
        history = tr.history_from_snapshots([load_latest_ratings(f) for f in files], level=level)
        return Histories(history, None, None, files,
                         f"{len(files)} monthly Latest ratings files: reports published and "
                         "superseded between two files are missed, so transitions are a lower bound.")
    study = study if study is not None else Study()
    api = study.api
    return Histories(api.history, api.relationships,
                     api.locations[["org_id", "deregistration_date"]], [str(study.path("api"))],
                     f"CQC API records for {len(api.locations):,} locations (current and "
                     "historic ratings).")


def pairing_steps(data: dict) -> pd.DataFrame:
    """The pairing report of ``consecutive_pairs(..., with_report=True)`` as a table of steps.

    Parameters
    ----------
    data : dict
        The report.

    Returns
    -------
    DataFrame
        ``step, count``, in the order the pairing works.

    Examples
    --------
    >>> rep = {"rows_in": 10, "non_scale_dropped": 1, "duplicates_dropped": 2, "journeys": 3,
    ...        "pairs": 4}
    >>> pairing_steps(rep)["count"].tolist()
    [10, 0, 1, 2, 0, 0, 3, 4]
    """
    return pd.DataFrame([
        ("rating rows read", data["rows_in"]),
        ("rows of another level (left out)", data.get("rows_other_level", 0)),
        ("non-scale outcomes dropped", data["non_scale_dropped"]),
        ("repeated reports dropped", data["duplicates_dropped"]),
        ("predecessor links followed (one-to-one)", data.get("links_followed", 0)),
        ("links not followed (splits and mergers)", data.get("links_not_one_to_one", 0)),
        ("journeys (services followed over time)", data["journeys"]),
        ("consecutive pairs, all domains", data["pairs"]),
    ], columns=["step", "count"])


def sectors_with_pairs(data: pd.DataFrame, *,
                       order: Sequence[str] = ("NHS hospitals", "GP practices",
                                               "Adult social care", "Other")) -> list[str]:
    """The sectors of a transition matrix that hold at least one pair, in a fixed order.

    Parameters
    ----------
    data : DataFrame
        :func:`cqc_research.metrics.transitions.transition_matrix` output with a ``sector`` column.
    order : sequence of str
        The sectors, in the order wanted.

    Returns
    -------
    list of str
    """
    n = data.groupby(data["sector"].astype(str))["n"].sum()
    return [s for s in order if n.get(s, 0) > 0]


def within_framework(data: pd.DataFrame) -> pd.DataFrame:
    """Ratings under the 2014 assessment framework (all of them when there is no ``framework``).

    First ratings under the new framework follow another matrix, so area comparisons of
    transitions stay within one framework.

    Parameters
    ----------
    data : DataFrame

    Returns
    -------
    DataFrame
    """
    return data[data["framework"] == FRAMEWORK_2014] if "framework" in data else data


def improvement_differs(data: pd.DataFrame, *, min_total: int = 5) -> dict | None:
    """Pearson chi-square test that the share improved is the same in every group.

    Parameters
    ----------
    data : DataFrame
        :func:`cqc_research.metrics.transitions.improvement_from` output by group: rows with ``outcome == "improved"`` give ``n``
        (improved) and ``total`` (re-inspections); the first column is the group.
    min_total : int
        Groups with fewer re-inspections are left out.

    Returns
    -------
    dict or None
        ``groups, statistic, dof, p_value`` (:func:`scipy.stats.chi2_contingency` on the 2 x k
        table, Yates' correction for 2 x 2); None when fewer than two groups qualify.
    """
    imp = data[(data["outcome"] == "improved") & (data["total"] >= min_total)]
    if len(imp) < 2:
        return None
    table = [imp["n"].to_numpy(), (imp["total"] - imp["n"]).to_numpy()]
    res = stats.chi2_contingency(table)
    return {"groups": len(imp), "statistic": float(res.statistic), "dof": int(res.dof),
            "p_value": float(res.pvalue)}



# ----------------------------------------------------------------------------------------------
# sentences
def non_scale_sentence(by_status: dict) -> str:
    """'Non-scale outcomes by status: ...' from the pairing report's ``non_scale_by_status``.

    Parameters
    ----------
    by_status : dict of str to int
        Count of each non-scale outcome; zeros are left out.

    Returns
    -------
    str

    Examples
    --------
    >>> non_scale_sentence({"Inspected but not rated": 1200, "Suspended": 0})
    'Non-scale outcomes by status: Inspected but not rated: 1,200.'
    """
    items = [f"{k}: {v:,}" for k, v in by_status.items() if v]
    return f"Non-scale outcomes by status: {listing(items)}."


def stay_good_lines(matrix: pd.DataFrame, sectors) -> str:
    """One bullet per sector: the share of Good Overall ratings followed by Good again.

    Parameters
    ----------
    matrix : DataFrame
        :func:`cqc_research.metrics.transitions.transition_matrix` by sector and domain.
    sectors : list of str
        The sectors to describe, in order; sectors without Good ratings are left out.

    Returns
    -------
    str
        Markdown bullets.

    Examples
    --------
    >>> m = pd.DataFrame({"sector": ["GP practices"], "domain": ["Overall"], "from_rating": ["Good"],
    ...                   "to_rating": ["Good"], "share": [0.9], "ci_low": [0.85], "ci_high": [0.94],
    ...                   "row_n": [1500]})
    >>> stay_good_lines(m, ["GP practices"])
    '- GP practices: 90% of Good ratings were followed by Good again (95% CI 85% to 94%; 1,500 pairs).'
    """
    m = matrix[(matrix["domain"].astype(str) == "Overall")
               & (matrix["from_rating"].astype(str) == "Good")
               & (matrix["to_rating"].astype(str) == "Good")]
    stay = m.assign(sector=m["sector"].astype(str)).set_index("sector")
    return "\n".join(
        f"- {s}: {stay.loc[s, 'share']:.0%} of Good ratings were followed by Good again "
        f"(95% CI {stay.loc[s, 'ci_low']:.0%} to {stay.loc[s, 'ci_high']:.0%}; "
        f"{int(stay.loc[s, 'row_n']):,} pairs)."
        for s in sectors if s in stay.index and stay.loc[s, "row_n"] > 0)


def improvement_lines(improved: pd.DataFrame, overall: pd.DataFrame, start: str,
                      test: dict | None = None, *, published: str | None = "76%") -> str:
    """What followed a rating, by sector and for all sectors, with the test between sectors.

    Parameters
    ----------
    improved : DataFrame
        ``improvement_from(pairs, start=start, by="sector")``.
    overall : DataFrame
        ``improvement_from(pairs, start=start, by=None)``.
    start : str
        The starting rating; for Inadequate the destinations (Good, Requires improvement) are
        given, with CQC's published figure.
    test : dict, optional
        :func:`improvement_differs` output.
    published : str, optional
        CQC's published share for Inadequate services.

    Returns
    -------
    str
        Markdown bullets, or a sentence saying there were no re-inspections.

    Examples
    --------
    >>> imp = pd.DataFrame({"sector": ["GP practices"] * 3, "outcome": ["improved", "to Good",
    ...                     "to Requires improvement"], "n": [8, 3, 5], "total": 10,
    ...                     "share": [0.8, 0.3, 0.5], "ci_low": [0.49, 0.11, 0.24],
    ...                     "ci_high": [0.94, 0.6, 0.76]})
    >>> print(improvement_lines(imp, imp.drop(columns="sector"), "Inadequate"))
    - **GP practices**: 80% improved: 30% to Good and 50% to Requires improvement (95% CI for the share improved 49% to 94%; 10 re-inspections).
    - **All sectors**: 80% (95% CI 49% to 94%; 10 re-inspections). CQC's published figure for Inadequate services is 76%.
    """
    imp = improved[improved["outcome"] == "improved"].set_index("sector")
    dest = improved.pivot_table(index="sector", columns="outcome", values="share", observed=True)
    lines = []
    for s, row in imp.iterrows():
        if row["total"] == 0:
            continue
        extra = (f": {dest.loc[s, 'to Good']:.0%} to Good and "
                 f"{dest.loc[s, 'to Requires improvement']:.0%} to Requires improvement"
                 if start == "Inadequate" else "")
        lines.append(f"- **{s}**: {row['share']:.0%} improved{extra} (95% CI for the share "
                     f"improved {row['ci_low']:.0%} to {row['ci_high']:.0%}; "
                     f"{plural(row['total'], 're-inspection')}).")
    a = overall.set_index("outcome").loc["improved"]
    if a["total"]:
        cqc = (f" CQC's published figure for Inadequate services is {published}."
               if published and start == "Inadequate" else "")
        lines.append(f"- **All sectors**: {a['share']:.0%} (95% CI {a['ci_low']:.0%} to "
                     f"{a['ci_high']:.0%}; {plural(a['total'], 're-inspection')}).{cqc}")
    if test:
        lines.append(f"\nDo sectors differ? A chi-squared test of equal shares improved across the "
                     f"{test['groups']} sectors with at least five re-inspections gives chi-squared "
                     f"= {test['statistic']:.1f} on {test['dof']} df, p = {test['p_value']:.3g} "
                     "(small counts make this approximate).")
    return "\n".join(lines) or "No re-inspections after this rating."


def time_to_improvement_lines(times, *, months: float = 12, min_spells: int = 5) -> str:
    """One bullet per group: spells, improvements, the median time and the share by ``months``.

    Parameters
    ----------
    times : ImprovementTimes
        :func:`cqc_research.metrics.transitions.time_to_improvement` output (``median`` and
        ``improved_by``, grouped by ``sector``).
    months : float
        The horizon quoted.
    min_spells : int
        Groups with fewer spells are called too few to estimate.

    Returns
    -------
    str
        Markdown bullets.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(
    ...     median=pd.DataFrame({"sector": ["GP practices", "Other"], "n": [40, 3], "events": [30, 1],
    ...                          "median_months": [7.25, 9.0], "ci_low": [5.5, 1], "ci_high": [9.0, 20]}),
    ...     improved_by=pd.DataFrame({"sector": ["GP practices"], "months": [12], "improved_share": [0.7],
    ...                               "ci_low": [0.55], "ci_high": [0.82]}))
    >>> print(time_to_improvement_lines(t))
    - **GP practices**: 40 spells, 30 improved, median 7.2 months (95% CI 5.5 to 9.0); 70% improved within 12 months (55% to 82%).
    - Other: only 3 spells, too few to estimate.
    """
    lines = []
    for _, m in times.median.iterrows():
        if m["n"] < min_spells:
            lines.append(f"- {m['sector']}: only {plural(m['n'], 'spell')}, too few to estimate.")
            continue
        if pd.notna(m["median_months"]) and pd.notna(m["ci_low"]) and pd.notna(m["ci_high"]):
            med = (f"median {m['median_months']:.1f} months (95% CI {m['ci_low']:.1f} to "
                   f"{m['ci_high']:.1f})")
        elif pd.notna(m["median_months"]):
            med = f"median {m['median_months']:.1f} months (interval open-ended)"
        else:
            med = "median not reached"
        by = times.improved_by[(times.improved_by["sector"] == m["sector"])
                               & (times.improved_by["months"] == months)]
        at = ""
        if len(by):
            b = by.iloc[0]
            ci = (f" ({b['ci_low']:.0%} to {b['ci_high']:.0%})" if pd.notna(b["ci_low"])
                  else " (no interval: every spell had ended)")
            at = f"; {b['improved_share']:.0%} improved within {months:g} months{ci}"
        lines.append(f"- **{m['sector']}**: {int(m['n'])} spells, {int(m['events'])} improved, "
                     f"{med}{at}.")
    return "\n".join(lines) or "No spells to analyse."
