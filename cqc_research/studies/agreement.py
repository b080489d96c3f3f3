"""Do the key questions agree with the Overall rating, and do Overall ratings follow CQC's rules?
(notebook 01)

The statistics are :mod:`cqc_research.metrics.agreement`'s; this module holds what notebook 01
adds around them: the ratings in scope, the tables it shows, its figures and its sentences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from ..dataset import Study
from ..metrics.agreement import aggregation_consistency, domain_agreement
from ..plots.agreement import agreement_bars, crosstab_heatmaps
from ..ratings import DOMAINS, KEY_QUESTIONS

__all__ = ["TABLES", "agreement_tables"]

_STATS = ("n", "n_agree", "agreement", "agreement_ci_low", "agreement_ci_high", "share_domain_higher",
          "share_domain_lower", "weighted_kappa", "weighted_kappa_ci_low", "weighted_kappa_ci_high",
          "quadratic_kappa", "quadratic_kappa_ci_low", "quadratic_kappa_ci_high", "ci_method")
_CROSSTAB = ("domain", "reference", "reference_rating", "domain_rating", "count", "share_of_reference_rating")

#: Every table notebook 01 saves: name -> its columns (after the report's ``data_status``).
TABLES: dict[str, tuple[str, ...]] = {
    "domain_agreement": ("sector", "level", "domain", "reference", *_STATS),
    "agreement_crosstabs_by_sector": ("sector", *_CROSSTAB),
    "agreement_crosstabs": _CROSSTAB,
    "pairwise_agreement": ("domain_a", "domain_b", *_STATS),
    "aggregation_rule_consistency": ("sector", "level", "rule", "n", "n_reproduced", "reproduced",
                                     "reproduced_ci_low", "reproduced_ci_high", "n_published_better",
                                     "n_published_worse", "n_not_assessable"),
    "aggregation_rule_exceptions": ("org_id", "level", "location_name", "provider_name",
                                    "inspection_category", "sector", *DOMAINS, "predicted_overall",
                                    "difference", "rule"),
}

#: The columns of the agreement table that notebook 01 shows.
AGREEMENT_COLUMNS = ["sector", "domain", "n", "agreement", "agreement_ci_low", "agreement_ci_high",
                     "weighted_kappa", "weighted_kappa_ci_low", "weighted_kappa_ci_high"]


def wide_in_scope(study: Study, *, level: str = "location", sector: str | None = None) -> pd.DataFrame:
    """A study's wide ratings of one level and sector, ``sector`` as plain text.

    Parameters
    ----------
    study : Study
        Where the ratings come from (:class:`cqc_research.dataset.Study`).
    level : {"location", "provider"}
        Whose ratings.
    sector : str, optional
        A sector or CQC inspection category (:func:`cqc_research.ratings.filter_sector`); empty
        keeps every sector.

    Returns
    -------
    pandas.DataFrame
        One row per organisation (:meth:`cqc_research.dataset.Study.wide`).
    """
    wide = study.wide(level=level, sector=sector or None)
    return wide.assign(sector=wide["sector"].astype(str))


def sector_counts(data: pd.DataFrame, *, overall: str = "Overall") -> pd.DataFrame:
    """Organisations and those with an Overall rating on the scale, by sector.

    Parameters
    ----------
    data : DataFrame
        Wide ratings with ``sector``, ``org_id`` and ``overall``.
    overall : str
        The Overall rating column.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``sector``: ``organisations``, ``overall_rated``.

    Examples
    --------
    >>> df = pd.DataFrame({"sector": ["a", "a", "b"], "org_id": [1, 2, 3],
    ...                    "Overall": ["Good", None, "Good"]})
    >>> sector_counts(df)["overall_rated"].tolist()
    [1, 1]
    """
    return data.groupby("sector").agg(organisations=("org_id", "size"), overall_rated=(overall, "count"))


@dataclass
class AgreementTables:
    """Agreement of each key question with Overall, pooled and by sector.

    Attributes
    ----------
    table : DataFrame
        What notebook 01 saves as ``domain_agreement``: the pooled rows (sector
        ``"All sectors in scope"``, only when there is more than one sector) then one row per
        sector x domain, with a ``level`` column second.
    main : DataFrame
        The rows the story is told from: pooled when there are several sectors, else the one sector's.
    by_sector : DataFrame
        :func:`~cqc_research.metrics.agreement.domain_agreement` ``by="sector"``.
    """

    table: pd.DataFrame
    main: pd.DataFrame
    by_sector: pd.DataFrame


def agreement_tables(data: pd.DataFrame, *, level: str = "location", ci: str = "wilson") -> AgreementTables:
    """:func:`~cqc_research.metrics.agreement.domain_agreement` over all sectors in scope and
    within each sector.

    Parameters
    ----------
    data : DataFrame
        Wide ratings with a ``sector`` column.
    level : str
        Written into the table's ``level`` column.
    ci : {"wilson", "bootstrap"}
        Passed to :func:`~cqc_research.metrics.agreement.domain_agreement`.

    Returns
    -------
    AgreementTables
    """
    by_sector = domain_agreement(data, by="sector", ci=ci)
    pooled = domain_agreement(data, ci=ci)
    pooled.insert(0, "sector", "All sectors in scope")
    several = data["sector"].nunique() > 1
    table = pd.concat([pooled, by_sector], ignore_index=True) if several else by_sector.copy()
    table.insert(1, "level", level)
    return AgreementTables(table, pooled if several else by_sector, by_sector)


def rule_consistency(data: pd.DataFrame, *, level: str = "location") -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`~cqc_research.metrics.agreement.aggregation_consistency` by sector, with the
    ``level`` written second, as notebook 01 saves it.

    Parameters
    ----------
    data : DataFrame
        Wide ratings with a ``sector`` column.
    level : str
        Written into the summary's ``level`` column.

    Returns
    -------
    (summary, exceptions) : tuple of DataFrame
    """
    consistency, exceptions = aggregation_consistency(data, sector="sector")
    consistency.insert(1, "level", level)
    return consistency, exceptions


def pairwise_square(data: pd.DataFrame, *, value: str = "agreement",
                    domains: Sequence[str] = DOMAINS) -> pd.DataFrame:
    """:func:`~cqc_research.metrics.agreement.pairwise_agreement` as a symmetric domain x domain
    table (diagonal empty).

    Parameters
    ----------
    data : DataFrame
        With ``domain_a``, ``domain_b`` and ``value``.
    value : str
        The statistic shown.
    domains : sequence of str
        Row and column order.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> p = pd.DataFrame({"domain_a": ["Overall"], "domain_b": ["Safe"], "agreement": [0.8]})
    >>> float(pairwise_square(p, domains=["Overall", "Safe"]).loc["Safe", "Overall"])
    0.8
    """
    square = data.pivot(index="domain_a", columns="domain_b", values=value)
    return square.combine_first(square.T).reindex(index=list(domains), columns=list(domains))


def exception_rows(data: pd.DataFrame, *, n: int = 20) -> pd.DataFrame:
    """The first ``n`` exceptions to the rating principles: identity, published and predicted
    Overall, and the key questions.

    Parameters
    ----------
    data : DataFrame
        The second result of :func:`~cqc_research.metrics.agreement.aggregation_consistency`.
    n : int
        Rows shown.

    Returns
    -------
    pandas.DataFrame
    """
    shown = [c for c in ("org_id", "location_name", "provider_name", "sector") if c in data]
    return data[shown + ["Overall", "predicted_overall", *KEY_QUESTIONS]].head(n)


# -- figures ------------------------------------------------------------------------------------
def agreement_figure(agree: AgreementTables, *, level: str):
    """Each key question's agreement with Overall, with its 95% interval (the main rows).

    Parameters
    ----------
    agree : AgreementTables
        From :func:`agreement_tables`.
    level : str
        "location" or "provider", for the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return agreement_bars(agree.main, title=f"Key question equal to Overall ({level}s, 95% CI)")


def sector_figures(agree: AgreementTables) -> dict:
    """Agreement by sector (only when there are several) and weighted kappa by sector.

    Parameters
    ----------
    agree : AgreementTables
        From :func:`agreement_tables`.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Figure name -> figure, in the order notebook 01 saves them.
    """
    figures = {}
    if agree.by_sector["sector"].nunique() > 1:
        figures["agreement_bars_by_sector"] = agreement_bars(
            agree.by_sector, hue="sector", title="Key question equal to Overall, by sector (95% CI)")
    figures["weighted_kappa_by_sector"] = agreement_bars(
        agree.by_sector, hue="sector", estimate="weighted_kappa",
        title="Weighted kappa (linear) with the Overall rating, by sector (95% CI)")
    return figures


def crosstab_figure(tabs: pd.DataFrame, *, level: str):
    """Overall (rows) against each key question, as heat maps of counts.

    Parameters
    ----------
    tabs : DataFrame
        :func:`~cqc_research.metrics.agreement.agreement_crosstabs` over all sectors.
    level : str
        "location" or "provider", for the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return crosstab_heatmaps(tabs, title=f"Overall (rows) against each key question ({level}s, all sectors in scope)")


# -- sentences ----------------------------------------------------------------------------------
def compared_sentence(data: pd.DataFrame, level: str, *, overall: str = "Overall",
                      domains: Iterable[str] = ("Safe", "Effective", "Caring", "Responsive", "Well-led")) -> str:
    """How many organisations are in scope, how many have an Overall rating, and how many enter
    each key question's comparison with it.

    Parameters
    ----------
    data : DataFrame
        Wide ratings (one row per organisation; missing = not on the scale).
    level : str
        "location" or "provider".
    overall : str
        The Overall rating column.
    domains : iterable of str
        The key questions compared.

    Returns
    -------
    str

    Examples
    --------
    >>> w = pd.DataFrame({"Overall": ["Good", None, "Good"], "Safe": ["Good", "Good", None]})
    >>> compared_sentence(w, "location", domains=["Safe"])[-49:]
    'all 1 rated organisations enter every comparison.'
    """
    both = {d: int((data[overall].notna() & data[d].notna()).sum()) for d in domains}
    text = (f"The file holds {len(data):,} {level}s in scope, of which {int(data[overall].notna().sum()):,} "
            "have an Overall rating on the four-point scale. Organisations whose Overall or key-question "
            "rating is not on the scale (for example *Inspected but not rated*) are left out of each "
            "comparison they cannot enter: ")
    if len(set(both.values())) == 1:
        return text + f"all {min(both.values()):,} rated organisations enter every comparison."
    return text + "the number compared is " + ", ".join(f"{n:,} for {d}" for d, n in both.items()) + "."


def _agree_pct(row, col: str = "agreement") -> str:
    return (f"{row[col]:.0%} (95% CI {row[col + '_ci_low']:.0%} to {row[col + '_ci_high']:.0%}, "
            f"n = {int(row['n']):,})")


def domain_agreement_sentence(main: pd.DataFrame) -> str:
    """Which key question matched Overall most and least often, whether their intervals overlap,
    the ranking and the range of weighted kappa.

    Parameters
    ----------
    main : DataFrame
        :func:`~cqc_research.metrics.agreement.domain_agreement` rows, one per key question.

    Returns
    -------
    str

    Examples
    --------
    >>> t = pd.DataFrame({"domain": ["Safe", "Caring"], "n": [100, 100], "agreement": [0.9, 0.5],
    ...                   "agreement_ci_low": [0.8, 0.4], "agreement_ci_high": [0.95, 0.6],
    ...                   "weighted_kappa": [0.7, 0.2]})
    >>> domain_agreement_sentence(t)[:80]
    '**Safe** matched the Overall rating most often, 90% (95% CI 80% to 95%, n = 100)'
    """
    best = main.loc[main["agreement"].idxmax()]
    worst = main.loc[main["agreement"].idxmin()]
    apart = best["agreement_ci_low"] > worst["agreement_ci_high"]
    ranking = ", ".join(f"{r.domain} {r.agreement:.0%}"
                        for r in main.sort_values("agreement", ascending=False).itertuples())
    kappa = main["weighted_kappa"]
    return (f"**{best['domain']}** matched the Overall rating most often, {_agree_pct(best)}; "
            f"**{worst['domain']}** least often, {_agree_pct(worst)}. "
            + ("Their confidence intervals do not overlap, so the gap is larger than chance variation "
               "in a sample of this size would explain. " if apart else
               "Their confidence intervals overlap, so this data cannot tell the two apart. ")
            + f"In order: {ranking}. Weighted kappa ranges from "
            f"{kappa.min():.2f} ({main.loc[kappa.idxmin(), 'domain']}) "
            f"to {kappa.max():.2f} ({main.loc[kappa.idxmax(), 'domain']}).")


def aggregation_sentence(consistency: pd.DataFrame) -> str:
    """How many published Overall ratings CQC's rating principles reproduce, in total and for
    each sector, with the exceptions' direction.

    Parameters
    ----------
    consistency : DataFrame
        The first result of :func:`~cqc_research.metrics.agreement.aggregation_consistency`.

    Returns
    -------
    str

    Examples
    --------
    >>> c = pd.DataFrame({"sector": ["Adult social care"], "n": [10], "n_reproduced": [9],
    ...                   "reproduced": [0.9], "reproduced_ci_low": [0.6], "reproduced_ci_high": [0.98],
    ...                   "n_published_better": [1], "n_published_worse": [0], "n_not_assessable": [0]})
    >>> aggregation_sentence(c).splitlines()[0]
    'The principles reproduce 9 of 10 published Overall ratings (90%).'
    """
    total_n, total_hit = int(consistency["n"].sum()), int(consistency["n_reproduced"].sum())
    lines = [f"- {r.sector}: {r.reproduced:.0%} of {r.n:,} reproduced (95% CI "
             f"{r.reproduced_ci_low:.0%} to {r.reproduced_ci_high:.0%}); the published rating was "
             f"better than the rule in {r.n_published_better:,} and worse in {r.n_published_worse:,}"
             + (f"; {r.n_not_assessable:,} could not be assessed (key questions not all rated)"
                if r.n_not_assessable else "") + "."
             for r in consistency.itertuples() if r.n]
    head = (f"The principles reproduce {total_hit:,} of {total_n:,} published Overall ratings "
            f"({total_hit / total_n:.0%}).\n\n" if total_n else "No organisation could be assessed.\n\n")
    return head + "\n".join(lines)
