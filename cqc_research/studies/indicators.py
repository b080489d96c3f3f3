"""Do routine indicators predict ratings? Every source a study holds, as notebook 02 reports it."""

from __future__ import annotations

import pandas as pd

from .. import narrative as say
from ..indicator_sources import LinkedIndicators, indicator_sources, link_sources
from ..io.cqc_files import load_latest_ratings
from ..metrics import prediction as pr
from ..notebook_output import Report
from ..plots import prediction as pp

__all__ = ["every_indicator"]

_UNITS = {"practice": "practices", "trust": "NHS trusts"}


def every_indicator(report: Report, *, rated: pd.DataFrame, ratings_path,
                    sources: dict | None = None, domain: str = "Overall", folds: int = 5, seed=0) -> dict[str, LinkedIndicators]:
    """Link every indicator source held to the ratings, and report each level's gaps and model.

    Saves ``indicator_sources`` (what was used and what the study lacks), and for GP practices
    and NHS trusts ``indicator_gaps_<level>`` (each indicator's Good-or-better minus the rest,
    with a figure) and ``prediction_summary_all_sources_<level>`` (a cross-validated model of the
    headline measure of every source, against the modal-class baseline). A level without
    indicators, or with too few organisations to model, is a skipped section with its reason.

    Parameters
    ----------
    report : Report
        Where tables, figures and sentences go.
    rated : DataFrame
        Wide location ratings of GP practices (``PaymentsLink.rated``).
    ratings_path : path
        The Latest ratings file (its provider ratings are used at trust level).
    sources : dict, optional
        Source name to paths (see :func:`cqc_research.indicator_sources.indicator_sources`);
        empty: the study's declared data, else the synthetic files, but only when the ratings
        are synthetic too (real ratings are never linked to synthetic indicators).
    domain : str
        The rating to compare and predict.
    folds : int
        Cross-validation folds.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    dict of str to LinkedIndicators
        By level (``"practice"``, ``"trust"``).
    """
    ratings = load_latest_ratings(ratings_path)
    found = indicator_sources(sources or None, synthetic=bool(ratings.attrs.get("synthetic")))
    report.sources += [p for paths in found.values() for p in paths]
    by_level = {"practice": link_sources(rated, sources=found, level="practice", sector=None),
                "trust": link_sources(ratings, sources=found, level="trust")}
    held = pd.concat([v.sources for v in by_level.values()], ignore_index=True)
    report.save_table(held, "indicator_sources")
    report.say(say.indicator_sources_sentence(held))
    report.show(held[["source", "level", "status", "window", "files", "linked"]],
                "Indicator sources: used, and what the study lacks",
                labels={"linked": "organisations linked"})
    for level, linked in by_level.items():
        units = _UNITS[level]
        with report.section(f"Every indicator: {units}") as sec:
            measures = [m for ms in linked.measures.values() for m in ms]
            sec.require(measures, f"the study holds no indicator at {level} level")
            gaps = pr.indicator_gaps(linked.data, rating=domain, indicators=measures)
            report.save(f"indicator_gaps_{level}", gaps, pp.indicator_gap_plot(
                gaps, title=f"{units[0].upper() + units[1:]}: Good or better minus the rest"))
            report.say(say.indicator_gaps_sentence(gaps, units))
            report.show(gaps[["indicator", "n", "mean_good_or_better", "mean_worse", "difference",
                              "ci_low", "ci_high", "difference_sd"]],
                        f"{units[0].upper() + units[1:]}: each indicator, Good or better minus the rest")
            data = linked.data.dropna(subset=[domain, *linked.headline])
            sec.require(len(data) >= 30 and data[domain].nunique() > 1,
                        f"{len(data)} {units} have a {domain} rating and every headline "
                        "measure: too few to model")
            cv = pr.cross_validated_prediction(data, rating=domain, indicators=linked.headline,
                                               folds=folds, seed=seed)
            report.save_table(cv.summary, f"prediction_summary_all_sources_{level}")
            report.say(f"All sources together ({', '.join(linked.headline)}): "
                       + say.prediction_sentence(cv.summary.iloc[0]))
    return by_level
