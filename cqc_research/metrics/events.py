"""Inspection effects: an event study of a monthly indicator around inspections and ratings.

Does performance move around an inspection, or around the publication of a rating? The event
study regresses a monthly indicator on indicators of the month relative to each event, with
organisation and calendar-month fixed effects and standard errors clustered by organisation:

::

    y[i,t] = alpha[i] + gamma[t] + sum over k != r of beta[k] * D[k,i,t] + e[i,t]

(written as text, so that the documentation needs no MathJax from the network) where
``D[k,i,t]`` counts the events of organisation *i* that lie *k* months before month *t*
(so an organisation inspected twice contributes two sets of indicators, which add up: the
distributed-lag form of Schmidheiny and Siegloch, 2023), and *r* is the reference month
(by default -1, the month before the event, whose coefficient is fixed at zero).

*Leads* (k < 0) measure change before the event, the **anticipatory** mechanism (providers
getting ready for an inspection). *Lags* after a publication measure change after the rating is
public, the **directive** and **informational** mechanisms.

Window endpoints
    With ``endpoints="bin"`` (the default) the first and last months of the window are binned:
    the coefficient at ``window[0]`` covers every month at or before it and the one at
    ``window[1]`` every month at or after it, so no observation is thrown away and the effect is
    assumed constant beyond the window. With ``endpoints="restrict"`` the sample is restricted to
    the window: months of an organisation that lie outside the window of every one of its events
    are dropped, and organisations without events stay in as controls.

Event dates come from the reports of CQC API records (``load_api_folder(folder).reports``:
``reports[].reportDate`` for publication and ``reports[].firstVisitDate`` for the inspection
visit) through :func:`event_dates`, or from any frame of ``(unit, event_date)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from ..errors import DataFormatError, InsufficientData
from ._contract import keeps_provenance

__all__ = [
    "event_study",
    "event_contrast",
    "event_contrasts",
    "event_dates",
    "month_index",
]

#: The two event dates of a CQC report: publication of the report and the first day of the visit.
EVENTS = ("publication", "inspection")


# ----------------------------------------------------------------------------------------------
# months
# ----------------------------------------------------------------------------------------------
@keeps_provenance
def month_index(data, *, name: str = "time") -> np.ndarray:
    """Whole months since January of year 0, from dates or from integer periods.

    Parameters
    ----------
    data : array-like of datetime, str or int
        Dates (any day of the month maps to that month) or integer period numbers, which are
        returned unchanged.
    name : str
        The column name, used in the error message.

    Returns
    -------
    numpy.ndarray of float
        ``year * 12 + month - 1`` for dates; NaN where the value is missing.

    Examples
    --------
    >>> month_index(["2019-03-31", "2019-04-01"]).tolist()
    [24230.0, 24231.0]
    """
    s = pd.Series(data)
    if pd.api.types.is_integer_dtype(s) or (
        pd.api.types.is_float_dtype(s) and np.all(np.mod(s.dropna(), 1) == 0)
    ):
        return s.to_numpy(dtype=float)
    try:
        d = pd.to_datetime(s, errors="raise")
    except (ValueError, TypeError) as exc:
        raise DataFormatError(f"expected dates or integer month numbers ({exc})", column=name) from exc
    out = (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=float)
    return out


# ----------------------------------------------------------------------------------------------
# event dates from CQC API records
# ----------------------------------------------------------------------------------------------

def _as_reports(reports) -> pd.DataFrame:
    """Accept ``ApiData.reports``, an ``ApiData`` or its ``.history`` panel."""
    if hasattr(reports, "history") and not isinstance(reports, pd.DataFrame):
        reports = reports.history
    if not isinstance(reports, pd.DataFrame):
        raise TypeError(f"expected a reports DataFrame or ApiData, not {type(reports).__name__}")
    if "rated" in reports.columns or "domain" not in reports.columns:
        return reports
    # The rating-history panel of io.cqc_json: one row per report x domain.
    h = reports[reports["domain"].astype(str) == "Overall"]
    if "organisation_id" in reports.columns:
        # A rating inherited from a predecessor was published for the predecessor. The API marks
        # it on the key questions (the Overall entry may lack organisationId), so a report is
        # inherited when any of its rows names a predecessor.
        inh = reports.loc[reports["organisation_id"].notna(), ["org_id", "report_link_id"]]
        key = h["org_id"].astype(str) + "\x1f" + h["report_link_id"].astype(str)
        inh_key = set(inh["org_id"].astype(str) + "\x1f" + inh["report_link_id"].astype(str))
        h = h[~key.isin(inh_key)]
    out = h.rename(columns={"inspection_date": "first_visit_date"}).copy()
    out["rated"] = out["rating"].notna() if "rating" in out.columns else True
    for c in ("report_date", "first_visit_date"):
        if c in out.columns:
            out[c] = pd.to_datetime(out[c], errors="coerce")
    return out.drop_duplicates(subset=[c for c in ("org_id", "report_link_id") if c in out.columns])


@keeps_provenance
def event_dates(
    data: pd.DataFrame,
    *,
    event: str = "publication",
    unit: str = "provider_id",
    sector: str | None = None,
    rated_only: bool = True,
    level: str = "auto",
) -> pd.DataFrame:
    """Event dates per organisation from a reports table, one event per organisation and month.

    Parameters
    ----------
    data : DataFrame or ApiData
        The ``.reports`` of :func:`cqc_research.io.cqc_json.load_api_folder` (``report_date``,
        ``first_visit_date``, ``rated``,
        ``sector`` and the ``unit`` column), or the rating-history panel of
        :func:`cqc_research.io.cqc_json.load_api_folder` (its ``.history``, or the ``ApiData``
        itself): its Overall rows are used, and ratings inherited from a predecessor are left
        out (they were published for the predecessor).
    event : {"publication", "inspection"}
        ``"publication"`` uses the report date (the rating is public); ``"inspection"`` uses the
        first day of the site visit (``firstVisitDate``; reports without one are left out).
    unit : str
        The organisation the indicator is measured for: ``"provider_id"`` for NHS trusts (the
        provider ID of an NHS trust is its ODS code, the ``org_code`` of A&E data), ``"org_id"``
        for locations.
    sector : str, optional
        Keep only this sector (e.g. ``"NHS hospitals"``).
    rated_only : bool
        Keep only reports that published an Overall rating on the scale.
    level : {"auto", "provider", "location", "all"}
        Which reports count. ``"provider"``: reports on the provider as a whole (an NHS trust's
        well-led and overall rating); ``"location"``: reports on its sites; ``"all"``: both.
        ``"auto"`` (default) uses a unit's provider reports when it has any, else its location
        reports, so a trust inspected as a whole is not counted again for each site.

    Returns
    -------
    pandas.DataFrame
        ``unit, event_date, n_reports``: the earliest date in each organisation-month, and the
        number of reports falling in that month (a trust whose sites are reported together has
        one event).
    """
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    reports = _as_reports(data)
    col = "report_date" if event == "publication" else "first_visit_date"
    need = ({unit, col} | ({"rated"} if rated_only else set()) | ({"sector"} if sector else set())
            | ({"level"} if level in {"provider", "location"} else set()))
    missing = need - set(reports.columns)
    if missing:
        raise DataFormatError(f"reports table lacks columns {sorted(missing)}; expected the "
                              "reports of io.cqc_json.load_api_folder")
    r = reports
    if sector:
        r = r[r["sector"].astype(str).str.casefold() == sector.casefold()]
    if rated_only:
        r = r[r["rated"].astype(bool)]
    r = r.dropna(subset=[unit, col])
    if level not in {"auto", "provider", "location", "all"}:
        raise ValueError(f"level must be 'auto', 'provider', 'location' or 'all', not {level!r}")
    if level in {"provider", "location"}:
        r = r[r["level"] == level]
    elif level == "auto" and "level" in r.columns:
        has_provider = set(r.loc[r["level"] == "provider", unit].astype(str))
        r = r[(r["level"] == "provider") | ~r[unit].astype(str).isin(has_provider)]
    if r.empty:
        return pd.DataFrame({unit: pd.Series(dtype="str"), "event_date": pd.Series(dtype="datetime64[ns]"),
                             "n_reports": pd.Series(dtype="int64")})
    d = pd.DataFrame({unit: r[unit].astype(str).to_numpy(), "event_date": pd.to_datetime(r[col]).to_numpy()})
    d["_m"] = month_index(d["event_date"])
    out = (d.groupby([unit, "_m"], as_index=False)
           .agg(event_date=("event_date", "min"), n_reports=("event_date", "size")))
    return out.drop(columns="_m").sort_values([unit, "event_date"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# the event study
# ----------------------------------------------------------------------------------------------
def _demean(M: np.ndarray, groups: list[np.ndarray], *, tol: float = 1e-10,
            max_iter: int = 10_000) -> np.ndarray:
    """Sweep out several sets of fixed effects by alternating projections (exact at convergence)."""
    M = np.array(M, dtype=float, copy=True)
    if M.ndim == 1:
        M = M[:, None]
    counts = [np.bincount(g) for g in groups]
    scale = max(1.0, float(np.abs(M).max(initial=0.0)))
    for _ in range(max_iter):
        biggest = 0.0
        for g, c in zip(groups, counts, strict=True):
            means = np.stack([np.bincount(g, weights=M[:, j], minlength=len(c)) for j in range(M.shape[1])],
                             axis=1) / c[:, None]
            step = means[g]
            M -= step
            biggest = max(biggest, float(np.abs(step).max(initial=0.0)))
        if biggest <= tol * scale:
            return M
    warnings.warn("fixed-effect sweep did not converge; estimates may be inexact", stacklevel=3)
    return M


def _fe_rank(unit_codes: np.ndarray, time_codes: np.ndarray) -> int:
    """Rank of [unit dummies, period dummies]: units + periods - connected components."""
    nu, nt = unit_codes.max() + 1, time_codes.max() + 1
    adj = sparse.coo_matrix((np.ones(len(unit_codes)), (unit_codes, nu + time_codes)),
                            shape=(nu + nt, nu + nt))
    n_comp, _ = connected_components(adj, directed=False)
    return int(nu + nt - n_comp)


def _label(k: int, lo: int, hi: int, endpoints: str) -> str:
    if endpoints == "bin" and k == lo:
        return f"<={k}"
    if endpoints == "bin" and k == hi:
        return f">={k}"
    return str(k)


@keeps_provenance
def event_study(
    data: pd.DataFrame,
    *,
    unit: str = "org_code",
    time: str = "period_start",
    outcome: str = "value",
    events: pd.DataFrame | None = None,
    event_date: str = "event_date",
    event_time_col: str | None = None,
    window: tuple[int, int] = (-12, 12),
    reference: int = -1,
    endpoints: str = "bin",
    cluster: str | None = None,
    measure: str | None = None,
    leads: tuple[int, int] | None = None,
    lags: tuple[int, int] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Event-study coefficients of a monthly panel around events, with clustered CIs.

    Parameters
    ----------
    data : DataFrame
        A monthly panel in long form, e.g. the tidy indicators of :mod:`cqc_research.io.nhs`
        (``org_code, period_start, measure, value``). One row per unit and month.
    unit, time, outcome : str
        Column names of the organisation, the month (dates, or integer month numbers) and the
        outcome.
    events : DataFrame, optional
        Events, one row per event: the ``unit`` column and ``event_date`` (a date, or an integer
        month number on the same scale as ``time``). An organisation may have several events;
        organisations without events are controls. See :func:`event_dates`.
    event_date : str
        The date column of ``events``.
    event_time_col : str, optional
        Instead of ``events``: a column of ``data`` holding each unit's event date (one event
        per unit; missing for units without an event).
    window : (int, int)
        First and last month relative to the event, e.g. ``(-12, 12)``.
    reference : int
        The omitted month (coefficient fixed at 0); -1 is the month before the event.
    endpoints : {"bin", "restrict"}
        ``"bin"``: the window's first and last coefficients cover all months beyond them.
        ``"restrict"``: drop event-unit months outside every event window (see module notes).
    cluster : str, optional
        Column to cluster standard errors on; default ``unit``.
    measure : str, optional
        When ``data`` has a ``measure`` column holding several measures, the one to analyse.
    leads, lags : (int, int), optional
        The months averaged in the summary contrasts. Default leads: ``window[0] + 1`` to -2
        (interior leads, the binned endpoint and the reference left out); default lags: 1 to
        ``window[1] - 1``.
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per month relative to the event: ``rel_time`` (int), ``label`` (``"<=-12"`` for a
        binned endpoint), ``period`` (``"lead"``, ``"reference"``, ``"event"``, ``"lag"``),
        ``estimate``, ``std_error``, ``ci_low``, ``ci_high``, ``p_value``, ``n_units`` (units
        observed at that relative month) and ``n_obs``. The reference row has estimate 0 and no
        interval.

        Every row also carries the study's constants, so that nothing is lost when pandas drops
        ``attrs`` (concatenation, ``groupby``, Parquet): ``n_obs_total``, ``n_units_total``,
        ``n_event_units``, ``n_events``, ``n_clusters``, ``df`` (clusters - 1, the degrees of
        freedom of the t intervals), ``window_from``, ``window_to``, ``reference_month``,
        ``endpoints``, ``outcome`` (the outcome column, or the measure analysed) and ``alpha``;
        ``in_leads`` and ``in_lags`` mark the months averaged in the summary contrasts; and one
        column ``cov_<k>`` per month *k* of the window holds the coefficients' clustered
        covariance (row *j*, column ``cov_<k>``: Cov(beta_j, beta_k); missing for the reference
        month and for coefficients that could not be estimated). :func:`event_contrast` and
        :func:`event_contrasts` read these columns, so they work on the returned frame, on a
        copy of it, or on a single study read back from a saved table.

    Notes
    -----
    The fixed effects are swept out by alternating projections and the event-time coefficients
    estimated by :class:`statsmodels.api.OLS` with ``cov_type="cluster"`` (CRV1). The small-sample
    factor counts the absorbed fixed effects, so coefficients and standard errors equal those of
    OLS with unit and month dummies (``y ~ D + C(unit) + C(month)``) and clustered errors.
    Intervals use Student's t with (clusters - 1) degrees of freedom.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame([(u, t) for u in "ABCDEF" for t in range(24)], columns=["org", "t"])
    >>> ev = pd.DataFrame({"org": ["A", "B", "C"], "event_date": [8, 10, 12]})
    >>> rel = panel["t"] - panel["org"].map(ev.set_index("org")["event_date"])
    >>> panel["y"] = np.where(rel.between(1, 6), 2.0, 0.0) + rng.normal(0, 0.1, len(panel))
    >>> res = event_study(panel, unit="org", time="t", outcome="y", events=ev, window=(-8, 8))
    >>> round(float(res.loc[res.rel_time == 3, "estimate"].iloc[0]))
    2
    """
    import statsmodels.api as sm

    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if endpoints not in {"bin", "restrict"}:
        raise ValueError(f"endpoints must be 'bin' or 'restrict', not {endpoints!r}")
    lo, hi = (int(w) for w in window)
    if not lo < reference < hi:
        raise ValueError(f"reference {reference} must lie strictly inside window {window}")
    if lo >= 0 or hi <= 0:
        raise ValueError(f"window {window} must include leads (< 0) and lags (> 0)")
    cluster = cluster or unit
    cols = {unit, time, outcome, cluster} | ({event_time_col} if event_time_col else set())
    missing = cols - set(data.columns)
    if missing:
        raise DataFormatError(f"data lacks columns {sorted(missing)}; has {list(data.columns)}")
    if (events is None) == (event_time_col is None):
        raise ValueError("give exactly one of events= (a frame of unit, event_date) or event_time_col=")

    d = data
    if "measure" in d.columns:
        measures = pd.unique(d["measure"].dropna())
        if measure is not None:
            d = d[d["measure"] == measure]
            if d.empty:
                raise ValueError(f"no rows for measure {measure!r}; measures present: {sorted(map(str, measures))}")
        elif len(measures) > 1:
            raise ValueError(f"data holds {len(measures)} measures ({sorted(map(str, measures))[:5]}...); "
                             "pass measure= to choose one")
    elif measure is not None:
        raise DataFormatError("measure= given but data has no 'measure' column")

    d = pd.DataFrame({
        "u": d[unit].astype(str).to_numpy(),
        "t": month_index(d[time], name=time),
        "y": pd.to_numeric(d[outcome], errors="coerce").to_numpy(dtype=float),
        "c": d[cluster].astype(str).to_numpy(),
        **({"e": month_index(d[event_time_col], name=event_time_col)} if event_time_col else {}),
    })
    d = d[np.isfinite(d["y"]) & np.isfinite(d["t"])].reset_index(drop=True)
    if d.empty:
        raise InsufficientData(f"no rows with a numeric {outcome!r} and a valid {time!r}")
    dup = d.duplicated(["u", "t"])
    if dup.any():
        first = d.loc[dup.idxmax()]
        raise DataFormatError(
            f"more than one row for unit {first['u']!r} in the same month; expected one row per "
            "unit and month (filter to one measure, org_level or department type first)",
            column=time,
        )

    # events, one per unit-month
    if events is not None:
        missing = {unit, event_date} - set(events.columns)
        if missing:
            raise DataFormatError(f"events lacks columns {sorted(missing)}; expected {unit!r} and {event_date!r}")
        ev = pd.DataFrame({"u": events[unit].astype(str).to_numpy(),
                           "m": month_index(events[event_date], name=event_date)})
    else:
        ev = d[["u", "e"]].rename(columns={"e": "m"})
        per_unit = ev.dropna().groupby("u")["m"].nunique()
        if (per_unit > 1).any():
            raise DataFormatError(f"{event_time_col!r} varies within unit {per_unit[per_unit > 1].index[0]!r}; "
                                  "use events= for several events per unit", column=event_time_col)
    ev = ev.dropna().drop_duplicates().reset_index(drop=True)
    ev = ev[ev["u"].isin(set(d["u"]))]
    if ev.empty:
        raise ValueError("no event falls on a unit present in the panel")

    # event-time indicators (summed over a unit's events)
    ks = [k for k in range(lo, hi + 1) if k != reference]
    kpos = {k: j for j, k in enumerate(ks)}
    pairs = d[["u", "t"]].reset_index().merge(ev, on="u", how="inner")
    rel = (pairs["t"] - pairs["m"]).to_numpy(dtype=int)
    if endpoints == "bin":
        rel = np.clip(rel, lo, hi)
        inwin = np.ones(len(rel), dtype=bool)
    else:
        inwin = (rel >= lo) & (rel <= hi)
    rows_in = pairs["index"].to_numpy()[inwin]
    rel_in = rel[inwin]
    event_units = set(ev["u"])
    if endpoints == "restrict":
        keep = ~d["u"].isin(event_units).to_numpy()
        keep[np.unique(rows_in)] = True
        remap = np.full(len(d), -1)
        remap[keep] = np.arange(keep.sum())
        d = d[keep].reset_index(drop=True)
        rows_in = remap[rows_in]
    D = np.zeros((len(d), len(ks)))
    sel = rel_in != reference
    np.add.at(D, (rows_in[sel], np.array([kpos[k] for k in rel_in[sel]], dtype=int)), 1.0)

    # support of each relative month
    support = pd.DataFrame({"row": rows_in, "k": rel_in})
    support["u"] = d["u"].to_numpy()[support["row"]]
    n_units_k = support.groupby("k")["u"].nunique()
    n_obs_k = support.groupby("k")["row"].nunique()

    # fixed effects and fit
    ucode = pd.factorize(d["u"])[0]
    tcode = pd.factorize(d["t"])[0]
    gcode = pd.factorize(d["c"])[0]
    n_clusters = int(gcode.max() + 1)
    if n_clusters < 2:
        raise ValueError("need at least two clusters for clustered standard errors")
    present = D.any(axis=0)
    Xd = _demean(D[:, present], [ucode, tcode])
    yd = _demean(d["y"].to_numpy(), [ucode, tcode])[:, 0]
    col_norm = np.sqrt((Xd ** 2).sum(axis=0))
    identified = col_norm > 1e-8 * max(1.0, np.sqrt(len(d)))
    if not identified.all():
        warnings.warn("some event-time coefficients are absorbed by the fixed effects and are "
                      "reported as missing", stacklevel=2)
    Xd = Xd[:, identified]
    fitted_k = [k for k, p in zip(ks, present, strict=True) if p]
    fitted_k = [k for k, ok in zip(fitted_k, identified, strict=True) if ok]
    if Xd.shape[1] == 0:
        raise ValueError("no event-time coefficient can be estimated: no observation falls in the window")
    if np.linalg.matrix_rank(Xd) < Xd.shape[1]:
        raise ValueError(
            "event-time coefficients are not identified (collinear with the fixed effects); "
            "use endpoints='bin', a shorter window, or add units without events as controls"
        )
    n = len(d)
    k_fe = _fe_rank(ucode, tcode)
    k_all = Xd.shape[1] + k_fe
    if n - k_all <= 0:
        raise ValueError(f"too few observations ({n}) for {k_all} parameters")
    fit = sm.OLS(yd, Xd).fit(cov_type="cluster", cov_kwds={"groups": gcode})
    vcov = np.asarray(fit.cov_params()) * (n - Xd.shape[1]) / (n - k_all)
    beta = np.asarray(fit.params)
    se = np.sqrt(np.diag(vcov))
    dof = n_clusters - 1
    q = stats.t.ppf(1 - alpha / 2, dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = beta / se
    pval = 2 * stats.t.sf(np.abs(tstat), dof)

    est = dict(zip(fitted_k, beta, strict=True))
    ses = dict(zip(fitted_k, se, strict=True))
    ps = dict(zip(fitted_k, pval, strict=True))
    rows = []
    for k in range(lo, hi + 1):
        if k == reference:
            b, s, p = 0.0, np.nan, np.nan
        else:
            b, s, p = est.get(k, np.nan), ses.get(k, np.nan), ps.get(k, np.nan)
        rows.append({
            "rel_time": k,
            "label": _label(k, lo, hi, endpoints),
            "period": "reference" if k == reference else ("lead" if k < 0 else "event" if k == 0 else "lag"),
            "estimate": b,
            "std_error": s,
            "ci_low": b - q * s if k != reference else np.nan,
            "ci_high": b + q * s if k != reference else np.nan,
            "p_value": p,
            "n_units": int(n_units_k.get(k, 0)),
            "n_obs": int(n_obs_k.get(k, 0)),
        })
    out = pd.DataFrame(rows)
    leads = leads or (lo + 1, -2)
    lags = lags or (1, hi - 1)
    out = out.assign(
        n_obs_total=n,
        n_units_total=int(ucode.max() + 1),
        n_event_units=len(event_units & set(d["u"])),
        n_events=len(ev),
        n_clusters=n_clusters,
        df=dof,
        window_from=lo,
        window_to=hi,
        reference_month=reference,
        endpoints=endpoints,
        outcome=outcome if measure is None else measure,
        alpha=float(alpha),
        in_leads=out["rel_time"].between(leads[0], leads[1]) & (out["rel_time"] != reference),
        in_lags=out["rel_time"].between(lags[0], lags[1]) & (out["rel_time"] != reference),
    )
    cov = np.full((len(out), len(out)), np.nan)
    pos = {int(k): j for j, k in enumerate(out["rel_time"])}
    idx = np.array([pos[int(k)] for k in fitted_k], dtype=int)
    cov[np.ix_(idx, idx)] = vcov
    out = pd.concat([out, pd.DataFrame(cov, columns=[_cov_col(k) for k in out["rel_time"]])], axis=1)
    # the contrasts are computed here once so that a bad leads=/lags= range fails at once
    event_contrasts(out)
    return out


def _cov_col(k) -> str:
    """The name of the covariance column of relative month ``k``."""
    return f"cov_{int(k)}"


def _one_study(result: pd.DataFrame) -> pd.DataFrame:
    """Check that ``result`` is one :func:`event_study` result (with its covariance columns)."""
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"result must be the DataFrame of event_study, not {type(result).__name__}")
    need = {"rel_time", "estimate", "df", "alpha", "reference_month", "in_leads", "in_lags"}
    missing = need - set(result.columns)
    if missing or not any(str(c).startswith("cov_") for c in result.columns):
        raise ValueError(f"result lacks the columns of event_study ({sorted(missing) or 'cov_<k>'}); "
                         "pass the output of event_study")
    if result["rel_time"].duplicated().any():
        raise ValueError("result holds more than one event study (a relative month repeats); "
                         "pass one study's rows, e.g. filtered by event")
    if result.empty:
        raise InsufficientData("the event study has no coefficients")
    return result


@keeps_provenance
def event_contrasts(data: pd.DataFrame) -> pd.DataFrame:
    """The summary contrasts of an :func:`event_study` result as a tidy DataFrame.

    Parameters
    ----------
    data : pandas.DataFrame
        The output of :func:`event_study`; the months averaged are those its ``in_leads`` and
        ``in_lags`` columns mark (set by its ``leads=`` and ``lags=``).

    Returns
    -------
    pandas.DataFrame
        One row per contrast (``leads``: anticipatory, left out when the study has no interior
        leads; ``lags``: directive / informational), with the columns of :func:`event_contrast`.

    Examples
    --------
    >>> panel = pd.DataFrame([(u, t) for u in "ABCDEF" for t in range(24)], columns=["org", "t"])
    >>> ev = pd.DataFrame({"org": ["A", "B", "C"], "event_date": [8, 10, 12]})
    >>> rel = panel["t"] - panel["org"].map(ev.set_index("org")["event_date"])
    >>> panel["y"] = np.where(rel.between(1, 6), 2.0, 0.0) + np.random.default_rng(1).normal(0, 0.1, len(panel))
    >>> res = event_study(panel, unit="org", time="t", outcome="y", events=ev, window=(-8, 8))
    >>> list(event_contrasts(res)["contrast"])
    ['leads', 'lags']
    """
    _one_study(data)
    parts = []
    for flag, name, mechanism in (("in_leads", "leads", "anticipatory"),
                                  ("in_lags", "lags", "directive / informational")):
        months = data.loc[data[flag].astype(bool), "rel_time"]
        if len(months):
            parts.append(event_contrast(data, rel_times=months, name=name, mechanism=mechanism))
    return pd.concat(parts, ignore_index=True)


@keeps_provenance
def event_contrast(data: pd.DataFrame, *, rel_times, name: str | None = None,
                   mechanism: str | None = None, alpha: float | None = None) -> pd.DataFrame:
    """The mean of several event-time coefficients, with its CI and a joint test.

    Parameters
    ----------
    data : DataFrame
        The output of :func:`event_study` (one study: its ``cov_<k>`` columns carry the
        covariance, ``df`` and ``alpha`` the degrees of freedom and default level).
    rel_times : iterable of int
        The months relative to the event to average (the reference month is skipped: it is 0 by
        construction).
    name, mechanism : str, optional
        Labels for the row.
    alpha : float, optional
        Defaults to the ``alpha`` of the event study.

    Returns
    -------
    pandas.DataFrame
        One row: ``contrast, mechanism, rel_from, rel_to, n_coefficients, estimate, std_error,
        ci_low, ci_high, p_value`` (of the mean), ``joint_p_value`` (Wald F test that every
        coefficient in the set is zero, F(q, clusters - 1); missing when there are fewer
        clusters than q + 1, where the clustered covariance cannot support the test).
    """
    _one_study(data)
    alpha = float(data["alpha"].iloc[0]) if alpha is None else alpha
    dof = int(data["df"].iloc[0])
    reference = int(data["reference_month"].iloc[0])
    ks = [int(k) for k in rel_times if int(k) != reference]
    r = data.set_index("rel_time")
    missing = [k for k in ks if k not in r.index or _cov_col(k) not in r.columns
               or not np.isfinite(r.at[k, _cov_col(k)])]
    if not ks or missing:
        raise ValueError(f"months {missing or list(rel_times)} have no estimated coefficient")
    b = r.loc[ks, "estimate"].to_numpy(dtype=float)
    V = r.loc[ks, [_cov_col(k) for k in ks]].to_numpy(dtype=float)
    w = np.full(len(ks), 1 / len(ks))
    est = float(w @ b)
    se = float(np.sqrt(w @ V @ w))
    q = stats.t.ppf(1 - alpha / 2, dof)
    p = float(2 * stats.t.sf(abs(est / se), dof)) if se > 0 else np.nan
    # With fewer clusters than coefficients the clustered covariance is singular and a joint
    # Wald test is meaningless: report it as missing rather than as a spuriously small p-value.
    rank = int(np.linalg.matrix_rank(V))
    if rank == len(ks) and len(ks) <= dof:
        wald = float(b @ np.linalg.solve(V, b)) / len(ks)
        joint_p = float(stats.f.sf(wald, len(ks), dof))
    else:
        joint_p = np.nan
    return pd.DataFrame([{
        "contrast": name or f"mean of months {min(ks)}..{max(ks)}",
        "mechanism": mechanism,
        "rel_from": min(ks),
        "rel_to": max(ks),
        "n_coefficients": len(ks),
        "estimate": est,
        "std_error": se,
        "ci_low": est - q * se,
        "ci_high": est + q * se,
        "p_value": p,
        "joint_p_value": joint_p,
    }])
