"""Does performance move around an inspection, or around the publication of a rating? Notebook 04.

What the notebook reads (:func:`inspection_inputs`, :func:`load_event_panel`, :func:`load_events`),
the event studies of both kinds of event and the trust whose SPC chart is shown
(:func:`event_studies`, :func:`spc_event_trust`, over :mod:`cqc_research.metrics.events` and
:mod:`cqc_research.metrics.spc`), its sentences, and the tables it saves (:data:`TABLES`).
"""

from __future__ import annotations

import pandas as pd

from .._text import plural
from ..dataset import Study
from ..errors import InsufficientData
from ..io import read_source
from ..io.cqc_files import load_latest_ratings
from ..io.cqc_json import load_api_folder
from ..metrics import events as em
from ..metrics.events import EVENTS
from ..plots import events as pev
from ..plots import spc as psp

__all__ = ["TABLES", "load_events"]

#: The tables notebook 04 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with (``event_study`` has one ``cov_<k>`` column per month of the window, here
#: the default 12 months either side).
TABLES: dict[str, tuple[str, ...]] = {
    "event_linkage": ("event", "trusts_with_indicator", "trusts_with_events", "trusts_linked",
                    "events_linked", "events_inside_indicator_period",
                    "trusts_with_event_inside_period", "period_first", "period_last",
                    "trust_months"),
    "event_study": ("rel_time", "label", "period", "estimate", "std_error", "ci_low", "ci_high",
                  "p_value", "n_units", "n_obs", "n_obs_total", "n_units_total", "n_event_units",
                  "n_events", "n_clusters", "df", "window_from", "window_to", "reference_month",
                  "endpoints", "outcome", "alpha", "in_leads", "in_lags", "cov_-12", "cov_-11",
                  "cov_-10", "cov_-9", "cov_-8", "cov_-7", "cov_-6", "cov_-5", "cov_-4", "cov_-3",
                  "cov_-2", "cov_-1", "cov_0", "cov_1", "cov_2", "cov_3", "cov_4", "cov_5",
                  "cov_6", "cov_7", "cov_8", "cov_9", "cov_10", "cov_11", "cov_12", "event",
                  "measure"),
    "event_study_contrasts": ("event", "sector", "measure", "contrast", "mechanism", "rel_from",
                            "rel_to", "n_coefficients", "estimate", "std_error", "ci_low",
                            "ci_high", "p_value", "joint_p_value", "n_event_units", "n_units",
                            "n_events", "n_clusters"),
    "planted_truth_event_effect": ("effect", "quantity", "planted", "null", "estimate", "ci_low",
                                 "ci_high", "level", "p_value", "n", "detectable", "verdict",
                                 "note"),
    "spc_points": ("org_code", "event", "event_date", "time", "value", "segment", "mean", "lcl",
                 "ucl", "lower_2sigma", "upper_2sigma", "outside", "trend", "two_of_three",
                 "shift", "special_cause", "rule", "side", "variation", "improvement", "target",
                 "short_series"),
}


# ----------------------------------------------------------------------------------------------
# what notebook 04 reads, and the studies of both events
# ----------------------------------------------------------------------------------------------

def api_reports(folder, **kwargs) -> pd.DataFrame:
    """Every inspection report listed in a folder of CQC API records, one row per report.

    A shortcut for ``load_api_folder(folder).reports``: the one CQC API reader is
    :func:`cqc_research.io.cqc_json.load_api_folder`.

    Parameters
    ----------
    folder : path
        A CQC API folder holding ``locations/<id>.json`` and optionally
        ``providers/<id>.json`` (the layout of ``cqc-research sync-api`` and the synthetic
        dataset).
    **kwargs
        Passed to :func:`~cqc_research.io.cqc_json.load_api_folder` (``strict``, ``use_cache``).

    Returns
    -------
    pandas.DataFrame
        ``org_id, level ("location" | "provider"), provider_id, location_type,
        inspection_category, sector, report_link_id, report_type, report_date,
        first_visit_date, rated`` where ``rated`` is True when the report carries an Overall
        rating on the scale (found in ``currentRatings`` or ``historicRatings``).
        ``first_visit_date`` is NaT where the record has no ``firstVisitDate``.

    Raises
    ------
    DataFormatError
        For a folder with no records, or a file that is not valid JSON.
    """
    return load_api_folder(folder, **kwargs).reports


def inspection_inputs(study: Study) -> tuple[str, str, str]:
    """The inputs of the inspection-effects note, as the study holds them.

    Parameters
    ----------
    study : Study
        The notebook's study (``Study.from_parameters(ae_path=indicators_path, api_path=...,
        ratings_path=...)``): what was given wins over the study folder's declaration, which wins
        over the embedded synthetic data (used only when nothing is given or declared).

    Returns
    -------
    tuple of str
        ``(indicators_path, api_path, ratings_path)``, ``""`` for an input the study lacks. The
        ratings workbook is returned only without an API folder (the API records give both kinds
        of event).
    """
    ind, api, ratings = (study.path(k) for k in ("indicators.ae", "api", "ratings"))
    return (str(ind) if ind else "", str(api) if api else "",
            "" if api or not ratings else str(ratings))


def check_event_parameters(*, event: str, window_months: int, post_months: int) -> None:
    """Raise ``ValueError`` unless ``event`` is known and ``1 <= post_months < window_months``.

    Parameters
    ----------
    event : str
        ``"publication"`` or ``"inspection"``.
    window_months, post_months : int
        Months either side of the event, and months after it in the headline effect.
    """
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    if not 1 <= post_months < window_months:
        raise ValueError(f"post_months must be between 1 and window_months - 1, not {post_months}")


def indicator_unit(indicator: str) -> str:
    """The unit an indicator's differences are read in (percentage points for A&E 4-hour shares).

    Parameters
    ----------
    indicator : str
        A value of the indicator table's ``measure`` column.

    Returns
    -------
    str

    Examples
    --------
    >>> indicator_unit("ae_4hr_performance_all")
    'percentage points'
    """
    return "percentage points" if indicator.startswith("ae_4hr_performance") else f"units of {indicator}"


def load_event_panel(indicators_path, *, indicator: str) -> pd.DataFrame:
    """The trust-level monthly series of one indicator, rows without a value dropped.

    Parameters
    ----------
    indicators_path : path
        An indicator file, or a folder of monthly A&E files: anything
        :func:`cqc_research.io.read_source` reads.
    indicator : str
        The measure to keep.

    Returns
    -------
    DataFrame
        The indicator's rows (trust level where the table has other levels too).

    Raises
    ------
    ValueError
        When the measure is absent, or measured only below or above trust level.
    """
    ind = read_source(indicators_path)  # through the Parquet cache: read once per content
    if ind is None:
        raise ValueError(f"{indicators_path} holds no indicator table")
    measures = sorted(ind["measure"].astype(str).unique())
    if indicator not in measures:
        raise ValueError(f"indicator {indicator!r} is not in {indicators_path}; measures present: {measures}")
    panel = ind[ind["measure"] == indicator]
    if "org_level" in panel and set(panel["org_level"].dropna()) - {"trust"}:
        if not (panel["org_level"] == "trust").any():
            raise ValueError(f"{indicator!r} is measured for {sorted(set(panel['org_level']))}; this note "
                             "links trust-level indicators (org_level 'trust') to CQC provider IDs")
        panel = panel[panel["org_level"] == "trust"]
    return panel.dropna(subset=["value"])


def load_events(api_path="", *, ratings_path="", sector: str = "NHS hospitals") -> dict:
    """Event dates by kind, from a CQC API folder (both kinds) or a Latest ratings workbook.

    A workbook gives only the publication date of each trust's current Overall rating.

    Parameters
    ----------
    api_path : path, optional
        A folder of CQC API records (used when given).
    ratings_path : path, optional
        A Latest ratings workbook.
    sector : str
        The sector whose reports count.

    Returns
    -------
    dict of str to DataFrame
        Event kind to a frame of ``org_code`` and ``event_date`` (as :func:`~cqc_research.metrics.events.event_dates`).
    """
    if api_path:
        reports = load_api_folder(api_path)
        events = {e: em.event_dates(reports, event=e, sector=sector) for e in EVENTS}
    else:
        latest = load_latest_ratings(ratings_path)
        prov = latest[(latest["level"] == "provider") & (latest["domain"].astype(str) == "Overall")
                      & (latest["service_group"] == "Overall")]
        reports = pd.DataFrame({"provider_id": prov["provider_id"], "report_date": prov["publication_date"],
                                "first_visit_date": pd.NaT, "rated": prov["rating"].notna(),
                                "sector": prov["sector"].astype(str), "level": "provider"})
        events = {"publication": em.event_dates(reports, event="publication", sector=sector)}
    return {e: ev.rename(columns={"provider_id": "org_code"}) for e, ev in events.items()}


def event_linkage(data: pd.DataFrame, *, events: dict) -> pd.DataFrame:
    """How many trusts and events link to the indicator, and fall inside its period.

    Parameters
    ----------
    data : DataFrame
        The indicator (``org_code``, ``period_start``).
    events : dict of str to DataFrame
        As :func:`load_events` returns.

    Returns
    -------
    DataFrame
        One row per event kind: ``event``, ``trusts_with_indicator``, ``trusts_with_events``,
        ``trusts_linked``, ``events_linked``, ``events_inside_indicator_period``,
        ``trusts_with_event_inside_period``, ``period_first``, ``period_last``, ``trust_months``.
    """
    first, last = data["period_start"].min(), data["period_start"].max()
    codes = set(data["org_code"])
    rows = []
    for e, ev in events.items():
        linked = ev[ev["org_code"].isin(codes)]
        inside = linked[(linked["event_date"] >= first)
                        & (linked["event_date"] < last + pd.offsets.MonthBegin(1))]
        rows.append({"event": e, "trusts_with_indicator": len(codes),
                     "trusts_with_events": ev["org_code"].nunique(),
                     "trusts_linked": linked["org_code"].nunique(), "events_linked": len(linked),
                     "events_inside_indicator_period": len(inside),
                     "trusts_with_event_inside_period": inside["org_code"].nunique(),
                     "period_first": first, "period_last": last, "trust_months": len(data)})
    return pd.DataFrame(rows)


def event_studies(data: pd.DataFrame, *, events: dict, window_months: int, post_months: int,
                  measure: str, sector: str = "NHS hospitals") -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """An :func:`~cqc_research.metrics.events.event_study` for each kind of event, with its contrasts in one table.

    The contrasts are :func:`~cqc_research.metrics.events.event_contrasts` (leads, lags 1 to ``post_months``) and, when there
    is room, the ``later lags`` from ``post_months + 1`` to the month before the binned endpoint.

    Parameters
    ----------
    data : DataFrame
        The indicator.
    events : dict of str to DataFrame
        As :func:`load_events` returns; events of trusts without a series are dropped.
    window_months, post_months : int
        The window either side of the event and the months of the headline lags.
    measure, sector : str
        Recorded in the tables.

    Returns
    -------
    results : dict of str to DataFrame
        Event kind to its :func:`~cqc_research.metrics.events.event_study` result (kinds with no linked event are absent).
    coef : DataFrame
        The results stacked, with ``event`` and ``measure`` columns.
    contrasts : DataFrame
        ``event, sector, measure, contrast, mechanism``, the contrast's columns and the study's
        ``n_event_units, n_units, n_events, n_clusters``.

    Raises
    ------
    InsufficientData
        When the indicator has fewer months than the window needs (``2 * window_months + 1``):
        inside ``Report.section`` the notebook notes it and carries on.
    """
    months = pd.to_datetime(data["period_start"]).dt.to_period("M").nunique()
    if months < 2 * window_months + 1:
        raise InsufficientData(
            f"the indicator has {months} month(s); an event study with a window of "
            f"{window_months} months either side needs at least {2 * window_months + 1}")
    codes = set(data["org_code"])
    results, rows = {}, []
    for e, ev in events.items():
        ev = ev[ev["org_code"].isin(codes)]
        if ev.empty:
            continue
        res = em.event_study(data, events=ev, window=(-window_months, window_months), lags=(1, post_months))
        results[e] = res
        c = em.event_contrasts(res)
        if post_months + 1 <= window_months - 1:
            c = pd.concat([c, em.event_contrast(res, rel_times=range(post_months + 1, window_months),
                                             name="later lags", mechanism="persistence")],
                          ignore_index=True)
        rows.append(c.assign(event=e, sector=sector, measure=measure,
                             **{k: int(res[col].iloc[0]) for k, col in (
                                 ("n_event_units", "n_event_units"), ("n_units", "n_units_total"),
                                 ("n_events", "n_events"), ("n_clusters", "n_clusters"))}))
    coef = (pd.concat([r.assign(event=e, measure=measure) for e, r in results.items()], ignore_index=True)
            if results else pd.DataFrame())
    contrasts = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["event", "sector", "measure", "contrast", "mechanism", "estimate", "ci_low", "ci_high"])
    first_cols = ["event", "sector", "measure", "contrast", "mechanism"]
    return results, coef, contrasts[first_cols + [c for c in contrasts.columns if c not in first_cols]]


def spc_event_trust(data: pd.DataFrame, *, events: dict, event: str, window_months: int,
                    org_code: str = "", min_before: int = 15) -> dict | None:
    """One trust's series around one of its events, for an SPC chart.

    The trust is ``org_code`` or, when empty, the first trust (by code, then date) with an event
    at least ``max(min_before, window_months)`` months after the series starts and
    ``window_months`` before it ends.

    Parameters
    ----------
    data : DataFrame
        The indicator.
    events : dict of str to DataFrame
        As :func:`load_events` returns.
    event : str
        The kind of event to centre on.
    window_months : int
        Months after the event shown; twice as many before it.
    org_code : str
        A trust to show (its first event well inside the data, else its first event).
    min_before : int
        The fewest months before the event for an automatic choice.

    Returns
    -------
    dict or None
        ``org_code``, ``event_date``, ``month`` (:func:`~cqc_research.metrics.events.month_index` of the event), ``span``
        (the series shown), ``n_before`` (months of it before the event) and ``extra_events``
        (the other date of the same report, as ``[(date, kind)]``, within 200 days) and ``labels``
        (``org_code``, ``event`` and ``event_date``, the columns that name the chart's rows); None
        when no trust has such an event.

    Raises
    ------
    ValueError
        When ``org_code`` has no series of this indicator.
    InsufficientData
        When the chosen trust has fewer than two months on either side of the event.
    """
    codes = set(data["org_code"])
    if org_code and org_code not in codes:
        raise ValueError(f"org_code {org_code!r} has no series of this indicator; codes present include "
                         f"{sorted(codes)[:10]}")
    ev = events.get(event, pd.DataFrame(columns=["org_code", "event_date"]))
    ev = ev[ev["org_code"].isin(codes)].sort_values(["org_code", "event_date"])
    ev = ev.assign(m=em.month_index(ev["event_date"]) if len(ev) else [])
    m_first, m_last = em.month_index([data["period_start"].min()])[0], em.month_index([data["period_start"].max()])[0]
    ok = ev[(ev["m"] - m_first >= max(min_before, window_months)) & (m_last - ev["m"] >= window_months)]
    if org_code:
        pick = ev[ev["org_code"] == org_code]
        inside = pick["event_date"].isin(ok["event_date"])
        pick = pick[inside] if inside.any() else pick
    else:
        pick = ok if len(ok) else ev
    if not len(pick):
        return None
    chosen = pick.iloc[0]
    series = data[data["org_code"] == chosen["org_code"]].sort_values("period_start")
    m = em.month_index(series["period_start"])
    span = series[(m >= chosen["m"] - 2 * window_months) & (m <= chosen["m"] + window_months)]
    before = int((em.month_index(span["period_start"]) < chosen["m"]).sum())
    if before < 2 or len(span) - before < 2:
        raise InsufficientData(
            f"{chosen['org_code']} has {before} month(s) of the indicator before its {event} and "
            f"{len(span) - before} from it on; a chart rebased at the event needs two on each side")
    extra = []
    for other in [e for e in EVENTS if e != event and e in events]:
        oev = events[other][events[other]["org_code"] == chosen["org_code"]]
        gap = (oev["event_date"] - chosen["event_date"]).dt.days
        near = oev[(gap.abs() <= 200) & ((gap <= 0) if event == "publication" else (gap >= 0))]
        if len(near):
            extra.append((near.loc[gap[near.index].abs().idxmin(), "event_date"], other))
    return {"org_code": chosen["org_code"], "event_date": chosen["event_date"], "month": int(chosen["m"]),
            "span": span, "n_before": int((em.month_index(span["period_start"]) < chosen["m"]).sum()),
            "extra_events": extra,
            "labels": {"org_code": chosen["org_code"], "event": event, "event_date": chosen["event_date"]}}


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def event_study_figure(result: pd.DataFrame, *, event: str, indicator: str, unit: str):
    """The event study of one kind of event, as notebook 04 shows it.

    Parameters
    ----------
    result : DataFrame
        One of the results of :func:`event_studies`.
    event : str
        The kind of event (``"publication"`` or ``"inspection"``).
    indicator : str
        The measure, named in the title.
    unit : str
        The unit of the differences (:func:`indicator_unit`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    return pev.event_study_plot(result, event_label=event, ylabel=f"difference ({unit})",
                                title=f"{indicator}: months around the {event}")


def spc_event_figure(spc: pd.DataFrame, trust: dict, *, event: str, indicator: str, unit: str):
    """One trust's SPC chart around its event, with the other date of the same report.

    Parameters
    ----------
    spc : DataFrame
        :func:`cqc_research.metrics.spc.spc_rules` of the trust's series, rebased at the event.
    trust : dict
        As :func:`spc_event_trust` returns.
    event : str
        The kind of event.
    indicator : str
        The measure, named in the title.
    unit : str
        The unit of the indicator (:func:`indicator_unit`); percentage points are drawn as the
        share within four hours.

    Returns
    -------
    matplotlib.figure.Figure
    """
    percent = "points" in unit
    return psp.spc_chart(spc, event_date=trust["event_date"], event_label=event, percent=percent,
                         extra_events=trust["extra_events"],
                         ylabel="% within 4 hours" if percent else unit,
                         title=f"{trust['org_code']}: {indicator}")

# ----------------------------------------------------------------------------------------------
# sentences
# ----------------------------------------------------------------------------------------------
def event_linkage_sentence(linkage: pd.DataFrame, indicator: str, event: str) -> str:
    """What the indicator covers and how many CQC reports link to it (notebook 04).

    Parameters
    ----------
    linkage : DataFrame
        As :func:`event_linkage` returns.
    indicator, event : str
        The measure and the kind of event of the note.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> k = pd.DataFrame({"event": ["publication"], "trusts_with_indicator": [120],
    ...                   "period_first": pd.to_datetime(["2019-01-01"]),
    ...                   "period_last": pd.to_datetime(["2023-12-01"]), "trust_months": [7000],
    ...                   "events_linked": [90], "trusts_linked": [80],
    ...                   "events_inside_indicator_period": [85], "trusts_with_events": [82]})
    >>> text = event_linkage_sentence(k, "ae_4hr", "publication")
    >>> print(textwrap.fill(text, 88))
    The indicator `ae_4hr` covers **120 trusts** from January 2019 to December 2023 (7,000
    trust-months). CQC published 90 rated reports on 80 of these trusts (by publication
    date), 85 of them inside the indicator's period. 2 trusts with CQC reports have no
    series for this indicator (for A&E, trusts without an emergency department).
    """
    any_row = linkage.iloc[0] if len(linkage) else None
    if any_row is None:
        return f"The CQC data give no {event} dates."
    text = (f"The indicator `{indicator}` covers **{int(any_row['trusts_with_indicator']):,} trusts** from "
            f"{any_row['period_first']:%B %Y} to {any_row['period_last']:%B %Y} "
            f"({int(any_row['trust_months']):,} trust-months). ")
    if event not in set(linkage["event"]):
        return text + f"The CQC data give no {event} dates. "
    main = linkage.set_index("event").loc[event]
    text += (f"CQC published {int(main['events_linked']):,} rated reports on {int(main['trusts_linked'])} "
             f"of these trusts (by {event} date), {int(main['events_inside_indicator_period']):,} of them "
             "inside the indicator's period. ")
    missing = int(main["trusts_with_events"] - main["trusts_linked"])
    if missing > 0:
        text += (f"{plural(missing, 'trust')} with CQC reports {'has' if missing == 1 else 'have'} no "
                 "series for this indicator "
                 "(for A&E, trusts without an emergency department).")
    return text


def _higher_lower(row) -> str:
    if row["ci_low"] > 0:
        return "higher"
    if row["ci_high"] < 0:
        return "lower"
    return "no different, within the precision of the estimate,"


def event_study_sentence(contrasts: pd.DataFrame, event: str, post_months: int, unit: str) -> str:
    """The leads, lags and later lags of one event study, with the trusts they rest on (notebook 04).

    Parameters
    ----------
    contrasts : DataFrame
        As :func:`event_studies` returns (rows of ``event``).
    event : str
        The kind of event to describe.
    post_months : int
        The last month of the headline lags.
    unit : str
        The unit of the differences ("percentage points").

    Returns
    -------
    str
        A sentence saying there is no study when ``contrasts`` has no rows of ``event``.

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"event": "inspection", "contrast": ["lags", "leads"],
    ...                   "estimate": [-1.5, 0.2], "ci_low": [-2.5, -0.4], "ci_high": [-0.5, 0.8],
    ...                   "joint_p_value": [float("nan"), 0.4],
    ...                   "rel_from": [1, -6], "rel_to": [6, -2],
    ...                   "n_event_units": [30, 30], "n_events": [40, 40], "n_units": [100, 100]})
    >>> text = event_study_sentence(c, "inspection", 6, "percentage points")
    >>> print(textwrap.fill(text, 88))
    In months 1 to 6 after the inspection, the indicator was on average **-1.50 percentage
    points** (95% CI -2.50 to -0.50) relative to the month before: lower than before. Before
    the inspection (months -6 to -2) the average was +0.20 (95% CI -0.40 to +0.80). A joint
    test that every lead is zero gives p = 0.40. This rests on 30 trusts with 40 events,
    among 100 trusts in all.
    >>> event_study_sentence(c, "publication", 6, "percentage points")[:42]
    'No publication dates link to the indicator'
    """
    c = contrasts[contrasts["event"] == event].set_index("contrast")
    if c.empty:
        return f"No {event} dates link to the indicator, so there is no event study to show."
    lag, lead = c.loc["lags"], c.loc["leads"]
    p = lead["joint_p_value"]
    text = (f"In months 1 to {post_months} after the {event}, the indicator was on average "
            f"**{lag['estimate']:+.2f} {unit}** (95% CI {lag['ci_low']:+.2f} to {lag['ci_high']:+.2f}) "
            f"relative to the month before: {_higher_lower(lag)} than before. "
            f"Before the {event} (months {int(lead['rel_from'])} to {int(lead['rel_to'])}) the average was "
            f"{lead['estimate']:+.2f} (95% CI {lead['ci_low']:+.2f} to {lead['ci_high']:+.2f}). ")
    if pd.notna(p):
        text += f"A joint test that every lead is zero gives p {'< 0.01' if p < 0.01 else '= ' + format(p, '.2f')}. "
    else:
        text += "With this few trusts there is no joint test of all the leads (it needs more trusts than leads). "
    if "later lags" in c.index:
        lt = c.loc["later lags"]
        text += (f"In months {int(lt['rel_from'])} to {int(lt['rel_to'])} the average was {lt['estimate']:+.2f} "
                 f"(95% CI {lt['ci_low']:+.2f} to {lt['ci_high']:+.2f}). ")
    text += (f"This rests on {plural(int(lag['n_event_units']), 'trust')} with {int(lag['n_events'])} events, "
             f"among {plural(int(lag['n_units']), 'trust')} in all.")
    if lag["n_event_units"] < 10:
        text += (f" **Caution:** with events in only {plural(int(lag['n_event_units']), 'trust')}, clustered "
                 "intervals understate the uncertainty. Read these figures as a description of the trusts "
                 "with events, not as an estimate that carries over to others.")
    return text


def other_event_sentence(contrasts: pd.DataFrame, event: str, post_months: int, unit: str) -> str:
    """:func:`event_study_sentence` for the other kind of event, or why there is none (notebook 04).

    Parameters
    ----------
    contrasts, post_months, unit
        As :func:`event_study_sentence`.
    event : str
        The note's kind of event; the sentence is about the other one.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> c = pd.DataFrame({"event": ["publication"], "contrast": ["lags"]})
    >>> print(textwrap.fill(other_event_sentence(c, "publication", 6, "percentage points"), 88))
    Only one kind of event is available (publication); the data give no inspection dates for
    these trusts.
    """
    kinds, have = ("publication", "inspection"), list(dict.fromkeys(contrasts["event"]))
    if set(kinds) <= set(have):
        return event_study_sentence(contrasts, [e for e in kinds if e != event][0], post_months, unit)
    return (f"Only one kind of event is available ({', '.join(have) or 'none'}); the data give no "
            f"{' or '.join(e for e in kinds if e not in have)} dates for these trusts.")


_ASSURANCE = {"consistently pass": "will consistently meet it (its limits lie above the target)",
              "consistently fail": "will consistently miss it (its limits lie below the target)",
              "inconsistent": "will sometimes meet it and sometimes miss it"}


def spc_event_sentence(spc: pd.DataFrame, trust: dict, event: str, *, target: float | None = None,
                       assurance: str | None = None) -> str:
    """One trust's SPC chart around its event: the limits before, special causes after (notebook 04).

    Parameters
    ----------
    spc : DataFrame
        :func:`cqc_research.metrics.spc.spc_rules` output (``time``, ``mean``, ``lcl``, ``ucl``,
        ``variation`` and the rule columns).
    trust : dict
        As :func:`spc_event_trust` returns.
    event : str
        The kind of event.
    target, assurance : optional
        The target and the :func:`cqc_research.metrics.spc.spc_assurance` verdict after the event.

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> spc = pd.DataFrame({"time": pd.date_range("2023-01-01", periods=4, freq="MS"),
    ...                     "mean": 80.0, "lcl": 70.0, "ucl": 90.0,
    ...                     "variation": ["common", "common", "concern", "common"],
    ...                     "outside": [False, False, True, False], "shift": False, "trend": False,
    ...                     "two_of_three": False})
    >>> trust = {"org_code": "RXX", "event_date": pd.Timestamp("2023-02-15"), "n_before": 2,
    ...          "month": 2023 * 12 + 1}
    >>> text = spc_event_sentence(spc, trust, "inspection")
    >>> print(textwrap.fill(text.split(" One trust")[0], 88))
    Trust **RXX**, inspection on 15 February 2023. The limits come from the 2 months before
    it (mean 80.0, process limits 70.0 to 90.0). Of the 2 months after it, 0 show special-
    cause improvement and 1 special-cause concern (rules: outside).
    """
    after = spc[em.month_index(spc["time"]) > trust["month"]]
    counts = after["variation"].value_counts()
    rules = [r.replace("_", " ") for r in ("outside", "shift", "trend", "two_of_three") if after[r].any()]
    text = (f"Trust **{trust['org_code']}**, {event} on {trust['event_date']:%d %B %Y}. The limits come from the "
            f"{trust['n_before']} months before it (mean {spc['mean'].iloc[0]:.1f}, process limits "
            f"{spc['lcl'].iloc[0]:.1f} to {spc['ucl'].iloc[0]:.1f}). Of the {len(after)} months after it, "
            f"{counts.get('improvement', 0)} show special-cause improvement and {counts.get('concern', 0)} "
            "special-cause concern" + (f" (rules: {', '.join(rules)})" if rules else "") + ". ")
    if assurance:
        text += f"Against the {target:.0f}% standard, the process after it {_ASSURANCE[assurance]}. "
    return text + ("One trust's chart is an illustration, not a test. It also carries every national change "
                   "(the long decline in four-hour performance, winter pressure), which the event study "
                   "removes by comparing trusts in the same month. Other trusts can look different, and the "
                   "event study above is the average over all of them.")
