"""Code frequencies, co-occurrence and prevalence beside rating outcomes, with exact intervals."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ..metrics._inputs import as_list
from ..metrics.intervals import newcombe_diff_ci, proportion_ci
from ..metrics.transitions import kaplan_meier, rated_series
from ..ratings import RATING_DTYPE
from .codebook import resolve_codebook

__all__ = [
    "code_frequencies",
    "code_cooccurrence",
    "case_outcomes",
    "cases_with_outcomes",
    "compare_prevalence",
    "case_improvement_times",
    "COMPARISON_METHODS",
]

#: How :func:`compare_prevalence` computes its intervals and tests (quote it beside the table).
COMPARISON_METHODS = ("prevalence: exact Clopper-Pearson; difference: Newcombe score interval; "
                      "odds ratio: conditional MLE with exact interval; p: Fisher's exact, Holm-adjusted")


# analysis helpers
def clopper_pearson(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) confidence interval for a binomial proportion ``k / n``.

    Parameters
    ----------
    k : int or array-like of int
        Successes.
    n : int or array-like of int
        Trials (same shape as ``k``).
    alpha : float
        1 - confidence level (default 0.05, a 95% interval).

    Returns
    -------
    ci_low, ci_high : numpy.ndarray
        The bounds, shaped like ``k``; 0 and 1 at the extremes, NaN where ``n`` is 0.

    Examples
    --------
    >>> lo, hi = clopper_pearson(7, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.3475, 0.9333)
    """
    lo, hi = proportion_ci(k, n, alpha=alpha, method="beta")
    return np.asarray(lo), np.asarray(hi)


_UNITS = {"case": ["case_id"], "respondent": ["case_id", "respondent_id"], "segment": ["segment_id"]}


def _unit_cols(unit: str) -> list[str]:
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {list(_UNITS)}, not {unit!r}")
    return _UNITS[unit]


def code_order(codes: Iterable[str], codebook=None) -> list[str]:
    """The codes sorted in codebook order, codes not in the codebook last (alphabetically).

    Parameters
    ----------
    codes : iterable of str
        Code names; duplicates are dropped.
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).

    Returns
    -------
    list of str
    """
    cb = resolve_codebook(codebook)
    order = {c: i for i, c in enumerate(cb.code_order)}
    return sorted(set(codes), key=lambda c: (order.get(c, len(order)), c))


def code_frequencies(data: pd.DataFrame, *, by=None, unit: str = "case", level: str = "code",
                     alpha: float = 0.05, codebook=None) -> pd.DataFrame:
    """How often each code (or code group) appears, per case, respondent or segment.

    Parameters
    ----------
    data : DataFrame
        Coded segments (:func:`read_coded_segments`).
    by : str or list of str, optional
        Strata, e.g. ``"respondent_role"``: the denominator is then the units in that stratum
        (for ``unit="case"`` and ``by="respondent_role"``: the cases with a respondent in that
        role; the numerator, those where a respondent in that role was coded with the code).
        Every code appears in every stratum, with zero counts where it was never coded.
    unit : {"case", "respondent", "segment"}
        What is counted.
    level : {"code", "group"}
        ``"group"`` counts a unit once if any code of the group (mechanism, theme) appears.
    alpha : float
        1 - confidence level of the exact (Clopper-Pearson) interval for ``share``.
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).

    Returns
    -------
    pandas.DataFrame
        ``[by...], code, code_group, n_segments, n_units, n_total, share, ci_low, ci_high``.
        Units with no coded segment at all are not in ``data`` and so not in ``n_total``; use
        :func:`case_code_matrix` with ``cases=`` when they matter.
    """
    if level not in ("code", "group"):
        raise ValueError(f"level must be 'code' or 'group', not {level!r}")
    by = as_list(by)
    ucols = _unit_cols(unit)
    df = data.copy()
    if level == "group":
        df["code"] = df["code_group"]
    keys = [*by, "code", "code_group"]
    n_units = df[[*keys, *ucols]].drop_duplicates().groupby(keys, dropna=False).size().rename("n_units")
    n_segments = df.groupby(keys, dropna=False)["segment_id"].nunique().rename("n_segments")
    counted = pd.concat([n_segments, n_units], axis=1).reset_index()
    if by:
        totals = df[[*by, *ucols]].drop_duplicates().groupby(by, dropna=False).size().rename("n_total")
        # every code in every stratum: a code never raised in a stratum is a count of 0, not a gap
        code_groups = counted[["code", "code_group"]].drop_duplicates()
        grid = totals.reset_index()[by].merge(code_groups, how="cross")
        counted = grid.merge(counted, on=keys, how="left").fillna({"n_segments": 0, "n_units": 0})
        counted = counted.merge(totals.reset_index(), on=by, how="left")
    else:
        counted["n_total"] = len(df[ucols].drop_duplicates())
    counted["n_segments"] = counted["n_segments"].astype(int)
    counted["n_units"] = counted["n_units"].astype(int)
    counted["n_total"] = counted["n_total"].astype(int)
    counted["share"] = counted["n_units"] / counted["n_total"]
    counted["ci_low"], counted["ci_high"] = clopper_pearson(counted["n_units"], counted["n_total"], alpha)
    if level == "group":
        counted["code_group"] = counted["code"]
        order = {g: i for i, g in enumerate(resolve_codebook(codebook).groups["group"])}
        rank = counted["code"].map(order).fillna(len(order))
    else:
        order = {c: i for i, c in enumerate(code_order(counted["code"], codebook))}
        rank = counted["code"].map(order)
    counted = counted.assign(_rank=rank).sort_values([*by, "_rank"], kind="stable").drop(columns="_rank")
    counted.insert(len(by), "unit", unit)
    return counted.reset_index(drop=True)


def _presence(data: pd.DataFrame, ucols: list[str]) -> pd.DataFrame:
    """Units x codes 0/1 frame."""
    pairs = data[[*ucols, "code"]].drop_duplicates()
    pairs = pairs.assign(_one=1)
    wide = pairs.pivot_table(index=ucols, columns="code", values="_one", aggfunc="max", fill_value=0)
    wide.columns.name = None
    return wide.astype(int)


def code_cooccurrence(data: pd.DataFrame, *, unit: str = "case", by=None, codes=None,
                      alpha: float = 0.05, codebook=None) -> pd.DataFrame:
    """How often two codes appear in the same case, interview or excerpt.

    Parameters
    ----------
    data : DataFrame
        Coded segments.
    unit : {"case", "respondent", "segment"}
        ``"segment"`` counts excerpts coded with both codes.
    by : str or list of str, optional
        Strata, e.g. ``"respondent_role"`` (units are then counted within each stratum).
    codes : list of str, optional
        Restrict to these codes (default: every code present).
    alpha : float
        For the exact interval of ``share_both``.
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair of codes (both orders, and the diagonal, so a pivot gives the
        symmetric matrix): ``[by...], code_a, code_b, n_units, n_a, n_b, n_both, share_both,
        ci_low, ci_high, expected_both, jaccard``. ``expected_both`` = n_a * n_b / n_units is
        the count expected if the codes were unrelated; ``jaccard`` = n_both / (n_a + n_b - n_both).
    """
    by = as_list(by)
    ucols = _unit_cols(unit)
    df = data if codes is None else data[data["code"].isin(codes)]
    strata = df.groupby(by, dropna=False) if by else [((), df)]
    frames = []
    for key, g in strata:
        if by:
            mask = np.ones(len(data), bool)
            for col, v in zip(by, key if isinstance(key, tuple) else (key,), strict=True):
                mask &= (data[col] == v).to_numpy()
            n_units = len(data.loc[mask, ucols].drop_duplicates())
        else:
            n_units = len(data[ucols].drop_duplicates())
        wide = _presence(g, ucols)
        names = code_order(wide.columns, codebook)
        wide = wide[names]
        m = wide.to_numpy()
        both = m.T @ m
        n = np.diag(both)
        a, b = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
        out = pd.DataFrame({"code_a": np.asarray(names)[a.ravel()], "code_b": np.asarray(names)[b.ravel()],
                            "n_units": n_units, "n_a": n[a.ravel()], "n_b": n[b.ravel()],
                            "n_both": both.ravel()})
        for i, col in enumerate(by):
            out.insert(i, col, key[i] if isinstance(key, tuple) else key)
        frames.append(out)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=[*by, "code_a", "code_b", "n_units", "n_a", "n_b", "n_both"])
    res["share_both"] = res["n_both"] / res["n_units"]
    res["ci_low"], res["ci_high"] = clopper_pearson(res["n_both"], res["n_units"], alpha)
    res["expected_both"] = res["n_a"] * res["n_b"] / res["n_units"]
    res["jaccard"] = res["n_both"] / (res["n_a"] + res["n_b"] - res["n_both"])
    res.insert(len(by), "unit", unit)
    return res


def case_table(segments: pd.DataFrame, cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per case: ``case_id, location_id, n_respondents, n_segments, roles``.

    The location comes from the segments' ``location_id`` or, where given, from ``cases``
    (columns ``case_id, location_id``, which wins). Cases listed in ``cases`` but with no coded
    segment are kept with zero counts.

    Parameters
    ----------
    segments : pandas.DataFrame
        Coded segments (:func:`~cqc_research.qual.segments.read_coded_segments`).
    cases : pandas.DataFrame, optional
        ``case_id, location_id``: the CQC location each case is about.

    Returns
    -------
    pandas.DataFrame
        ``case_id, location_id, n_respondents, n_segments, roles`` (``roles``: the respondent
        roles interviewed, as text), one row per case.

    Raises
    ------
    DataFormatError
        When one case carries two different location IDs.
    """
    seg = segments.copy()
    rows = []
    for case_id, g in seg.groupby("case_id", sort=False):
        locs = sorted(set(g["location_id"].dropna().astype(str)))
        if len(locs) > 1:
            raise DataFormatError(f"case {case_id!r} carries {len(locs)} location IDs {locs}; expected one "
                                  "CQC location per case", path=segments.attrs.get("source"),
                                  column="location_id")
        rows.append({"case_id": case_id, "location_id": locs[0] if locs else None,
                     "n_respondents": g["respondent_id"].nunique(), "n_segments": g["segment_id"].nunique(),
                     "roles": ", ".join(sorted(g["respondent_role"].dropna().astype(str).unique()))})
    out = pd.DataFrame(rows, columns=["case_id", "location_id", "n_respondents", "n_segments", "roles"])
    if cases is not None:
        if "case_id" not in cases or "location_id" not in cases:
            raise ValueError("cases needs columns case_id and location_id")
        extra = cases[["case_id", "location_id"]].astype({"case_id": "str", "location_id": "str"})
        out = extra.merge(out.drop(columns="location_id"), on="case_id", how="outer")
        out["n_respondents"] = out["n_respondents"].fillna(0).astype(int)
        out["n_segments"] = out["n_segments"].fillna(0).astype(int)
        out["roles"] = out["roles"].fillna("")
    out["case_id"] = out["case_id"].astype("str")
    out["location_id"] = out["location_id"].astype("str")
    return out.reset_index(drop=True)


def case_code_matrix(data: pd.DataFrame, *, unit: str = "case", value: str = "presence", codes=None,
                     cases=None, codebook=None) -> pd.DataFrame:
    """The case-by-code matrix: one row per case (or respondent), one column per code.

    Parameters
    ----------
    data : DataFrame
        Coded segments.
    unit : {"case", "respondent"}
        What a row is: a case (``case_id``) or a respondent (``case_id, respondent_id``).
    value : {"presence", "segments"}
        1/0 for whether the code appears, or the number of coded excerpts.
    codes : list of str, optional
        Columns to give (codes absent from the data are all zero). Default: every code in the
        data, in codebook order, unknown codes last.
    cases : iterable of str, optional
        Units to include even when they have no coded segment (all zeros).
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).

    Returns
    -------
    pandas.DataFrame
        The unit columns, then one integer column per code.
    """
    if unit not in ("case", "respondent"):
        raise ValueError(f"unit must be 'case' or 'respondent', not {unit!r}")
    if value not in ("presence", "segments"):
        raise ValueError(f"value must be 'presence' or 'segments', not {value!r}")
    ucols = _unit_cols(unit)
    codes = list(codes) if codes is not None else code_order(data["code"].unique(), codebook)
    sub = data[data["code"].isin(codes)]
    if value == "presence":
        wide = _presence(sub, ucols) if len(sub) else pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=ucols))
    else:
        wide = sub.groupby([*ucols, "code"])["segment_id"].nunique().unstack(fill_value=0)
        wide.columns.name = None
    units = data[ucols].drop_duplicates()
    if cases is not None:
        if unit != "case":
            raise ValueError("cases= applies to unit='case'")
        units = pd.concat([units, pd.DataFrame({"case_id": [str(c) for c in cases]})]).drop_duplicates()
    wide = wide.reindex(columns=codes, fill_value=0)
    wide = units.merge(wide.reset_index(), on=ucols, how="left")
    wide[codes] = wide[codes].fillna(0).astype(int)
    return wide.reset_index(drop=True)


def _months(a, b) -> float:
    """Months (of 30.4375 days) from ``a`` to ``b``."""
    return float((pd.Timestamp(b) - pd.Timestamp(a)) / pd.Timedelta(days=1)) / 30.4375


def case_outcomes(cases: pd.DataFrame, history: pd.DataFrame, *, domain: str = "Overall",
                  index: str = "first_inadequate", censor_date=None) -> pd.DataFrame:
    """Follow each case's CQC location through its rating history.

    The *index* rating is the rating the case study is about: by default the location's first
    Inadequate rating for ``domain`` (``index="last_inadequate"`` for the last one); a column
    ``index_date`` in ``cases`` overrides this with the latest rating published on or before that
    date. The case *improved* when the next published rating is better than the index rating.
    *Time to improvement* runs from the index report to the first later report with a better
    rating (not necessarily the next one); cases without one are censored at ``censor_date``.

    Parameters
    ----------
    cases : DataFrame
        ``case_id, location_id`` and optionally ``index_date``.
    history : DataFrame
        The rating-history panel (``io.cqc_json.load_api_folder(folder).history``):
        ``org_id, report_date, domain, rating``.
    domain : str
        ``"Overall"`` or a key question.
    index : {"first_inadequate", "last_inadequate"}
    censor_date : date-like, optional
        End of follow-up; default, the latest report date in ``history``.

    Returns
    -------
    pandas.DataFrame
        One row per case: ``case_id, location_id, status, index_date, index_rating, next_date,
        next_rating, improved, improvement_date, months_to_improvement, followup_months,
        improved_ever, time_months, n_reports_after``. ``status`` is one of ``improved``,
        ``not improved``, ``no later inspection``, ``no index rating``, ``location not found``;
        ``improved`` is NA unless there is a later inspection. ``time_months`` and
        ``improved_ever`` are the survival-analysis pair (time to improvement or to censoring).
        Two constant columns record the settings: ``domain`` and ``censor_date`` (the end of
        follow-up used).
    """
    if index not in ("first_inadequate", "last_inadequate"):
        raise ValueError(f"index must be 'first_inadequate' or 'last_inadequate', not {index!r}")
    for col in ("case_id", "location_id"):
        if col not in cases:
            raise ValueError(f"cases needs a {col!r} column")
    for col in ("org_id", "report_date", "domain", "rating"):
        if col not in history:
            raise ValueError(f"history needs a {col!r} column (the rating-history panel)")
    # the same cleaning as every transition analysis: ratings on the scale, one per report date
    h, _ = rated_series(history, domain=domain, level=None, relationships=None)
    h = h[["org_id", "report_date", "rating"]]
    h = h.assign(score=pd.Categorical(h["rating"], dtype=RATING_DTYPE).codes)
    censor = pd.Timestamp(censor_date) if censor_date is not None else pd.Timestamp(history["report_date"].max())
    groups = {k: g for k, g in h.groupby("org_id", sort=False)}
    rows = []
    for rec in cases.to_dict("records"):
        row = {"case_id": str(rec["case_id"]), "location_id": rec["location_id"], "status": None,
               "index_date": pd.NaT, "index_rating": None, "next_date": pd.NaT, "next_rating": None,
               "improved": pd.NA, "improvement_date": pd.NaT, "months_to_improvement": np.nan,
               "followup_months": np.nan, "improved_ever": pd.NA, "time_months": np.nan,
               "n_reports_after": 0}
        g = groups.get(rec["location_id"]) if pd.notna(rec["location_id"]) else None
        if g is None:
            row["status"] = "location not found"
            rows.append(row)
            continue
        if pd.notna(rec.get("index_date", None)):
            at = g[g["report_date"] <= pd.Timestamp(rec["index_date"])]
            idx = at.iloc[-1:] if len(at) else at
        else:
            inad = g[g["rating"] == "Inadequate"]
            idx = inad.iloc[:1] if index == "first_inadequate" else inad.iloc[-1:]
        if idx.empty:
            row["status"] = "no index rating"
            rows.append(row)
            continue
        i_date, i_score = idx["report_date"].iloc[0], int(idx["score"].iloc[0])
        after = g[g["report_date"] > i_date]
        row.update(index_date=i_date, index_rating=str(idx["rating"].iloc[0]), n_reports_after=len(after),
                   followup_months=_months(i_date, censor))
        better = after[after["score"] > i_score]
        if len(better):
            row.update(improvement_date=better["report_date"].iloc[0], improved_ever=True,
                       months_to_improvement=_months(i_date, better["report_date"].iloc[0]))
            row["time_months"] = row["months_to_improvement"]
        else:
            row.update(improved_ever=False, time_months=row["followup_months"])
        if after.empty:
            row["status"] = "no later inspection"
        else:
            nxt = after.iloc[0]
            improved = bool(nxt["score"] > i_score)
            row.update(next_date=nxt["report_date"], next_rating=str(nxt["rating"]), improved=improved,
                       status="improved" if improved else "not improved")
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        out = pd.DataFrame(columns=list(row.keys()) if rows else [
            "case_id", "location_id", "status", "index_date", "index_rating", "next_date", "next_rating",
            "improved", "improvement_date", "months_to_improvement", "followup_months", "improved_ever",
            "time_months", "n_reports_after"])
    for col in ("index_date", "next_date", "improvement_date"):
        out[col] = pd.to_datetime(out[col])
    for col in ("index_rating", "next_rating"):
        out[col] = pd.Categorical(out[col], dtype=RATING_DTYPE)
    out["improved"] = out["improved"].astype("boolean")
    out["improved_ever"] = out["improved_ever"].astype("boolean")
    out["location_id"] = out["location_id"].astype("str")
    out["case_id"] = out["case_id"].astype("str")
    out["domain"] = domain
    out["censor_date"] = censor.normalize()
    return out


def cases_with_outcomes(segments: pd.DataFrame, history: pd.DataFrame, *, cases: pd.DataFrame | None = None,
                        codes=None, codebook=None, **outcome_options) -> pd.DataFrame:
    """The case-by-code matrix joined to each case's rating history.

    One row per case: the :func:`case_outcomes` columns, ``n_respondents, n_segments``, then one
    0/1 column per code (:func:`case_code_matrix`). Cases are matched to CQC locations through
    the segments' ``location_id`` (or ``cases``, columns ``case_id, location_id[, index_date]``).

    Parameters
    ----------
    segments : pandas.DataFrame
        Coded segments (:func:`~cqc_research.qual.segments.read_coded_segments`).
    history : pandas.DataFrame
        The rating-history panel (``io.cqc_json.load_api_folder(folder).history``).
    cases : pandas.DataFrame, optional
        ``case_id, location_id[, index_date]``, overriding the segments' locations and fixing
        each case's index date.
    codes : list of str, optional
        The code columns (default: every code coded, in codebook order).
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).
    **outcome_options
        Passed to :func:`case_outcomes` (``domain``, ``index``, ``censor_date``).

    Returns
    -------
    pandas.DataFrame
        One row per case as above (the outcome settings are the ``domain`` and ``censor_date``
        columns of :func:`case_outcomes`). The code columns are the integer columns after
        ``n_segments``: :func:`code_columns` lists them (and :func:`compare_prevalence` and
        :func:`~cqc_research.plots.qual.plot_case_matrix` use it by default).
    """
    table = case_table(segments, cases)
    if cases is not None and "index_date" in cases:
        table = table.merge(cases[["case_id", "index_date"]].astype({"case_id": "str"}), on="case_id", how="left")
    outcomes = case_outcomes(table, history, **outcome_options)
    matrix = case_code_matrix(segments, codes=codes, cases=table["case_id"], codebook=codebook)
    out = outcomes.merge(table[["case_id", "n_respondents", "n_segments"]], on="case_id", how="left") \
        .merge(matrix, on="case_id", how="left")
    code_cols = list(matrix.columns[1:])
    out[code_cols] = out[code_cols].fillna(0).astype(int)
    return out


def code_columns(data: pd.DataFrame) -> list[str]:
    """The code columns of a :func:`cases_with_outcomes` frame (or of that table read back).

    They are the columns after ``n_segments`` up to the first column that does not hold whole
    counts: columns added later (a ``data_status`` stamp, labels) are not codes, but a numeric
    integer column appended after the codes would be taken for one, so pass ``codes=``
    explicitly after adding such columns.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per case, as :func:`cases_with_outcomes` returns.

    Returns
    -------
    list of str
        The code columns, in order.

    Examples
    --------
    >>> frame = pd.DataFrame({"case_id": ["A"], "n_respondents": [2], "n_segments": [5],
    ...                       "leadership": [1], "staffing": [0], "data_status": ["SYNTHETIC DATA"]})
    >>> code_columns(frame)
    ['leadership', 'staffing']
    """
    if "n_segments" not in data.columns:
        raise ValueError("data has no 'n_segments' column: pass the output of cases_with_outcomes, "
                         "or give codes= explicitly")
    cols = list(data.columns)
    codes = []
    for col in cols[cols.index("n_segments") + 1:]:
        if not (pd.api.types.is_integer_dtype(data[col]) and not pd.api.types.is_bool_dtype(data[col])):
            break
        codes.append(col)
    return codes


def group_labels(group: str) -> tuple[str, str]:
    """The column suffixes of the two groups a 0/1 outcome splits cases into.

    Parameters
    ----------
    group : str
        The outcome column, e.g. ``"improved"``.

    Returns
    -------
    tuple of str
        ``(group, "not_" + group)``, e.g. ``("improved", "not_improved")``.
    """
    return (group, f"not_{group}")


def prevalence_by_group(data: pd.DataFrame, *, codes, group: str = "improved", alpha: float = 0.05
                        ) -> pd.DataFrame:
    """Share of cases coded with each code, in each group, with exact intervals (long form).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per case, as :func:`cases_with_outcomes` returns.
    codes : list of str
        The code columns (0/1 or counts; a count above 0 means present).
    group : str
        The column splitting the cases (default ``"improved"``).
    alpha : float
        1 - confidence level of the Clopper-Pearson intervals.

    Returns
    -------
    pandas.DataFrame
        ``code, group, n, k, prevalence, ci_low, ci_high`` (Clopper-Pearson), one row per code and
        group level; rows whose group is missing are left out.
    """
    d = data[data[group].notna()]
    rows = []
    for code in codes:
        for level, g in d.groupby(group, sort=True):
            k, n = int((g[code] > 0).sum()), len(g)
            rows.append({"code": code, "group": level, "n": n, "k": k})
    out = pd.DataFrame(rows, columns=["code", "group", "n", "k"])
    out["prevalence"] = out["k"] / out["n"]
    out["ci_low"], out["ci_high"] = clopper_pearson(out["k"], out["n"], alpha)
    return out


def compare_prevalence(data: pd.DataFrame, *, codes=None, group: str = "improved", alpha: float = 0.05,
                       codebook=None) -> pd.DataFrame:
    """Compare how often codes appear in cases that improved and cases that did not.

    Parameters
    ----------
    data : DataFrame
        One row per case with a boolean ``group`` column and 0/1 (or count) code columns, as
        :func:`cases_with_outcomes` returns. Cases whose group is missing are left out (counted
        in ``n_excluded``).
    codes : list of str, optional
        Default: :func:`code_columns` of ``data``.
    group : str
        The boolean column splitting the cases.
    alpha : float
        1 - confidence level.
    codebook : Codebook or path, optional
        Gives each code's group and the code order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).

    Returns
    -------
    pandas.DataFrame
        One row per code: ``code, code_group``, for each group (suffix ``_improved`` and
        ``_not_improved`` for ``group="improved"``) ``n, k, prev, ci_low, ci_high`` (exact,
        Clopper-Pearson); ``difference`` with ``diff_ci_low, diff_ci_high`` (Newcombe's score
        interval); ``odds_ratio`` (conditional maximum likelihood) with its exact interval
        ``or_ci_low, or_ci_high``; ``p_fisher`` (Fisher's exact test, two-sided) and ``p_holm``
        (Holm-adjusted over the codes compared); ``n_excluded``. The methods are named in
        :data:`COMPARISON_METHODS`; quote :data:`DESCRIPTIVE_CAVEAT` beside the table.
    """
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import odds_ratio
    from statsmodels.stats.multitest import multipletests

    codes = list(codes if codes is not None else code_columns(data))
    if not codes:
        raise ValueError("no codes to compare: pass codes= (columns of data holding 0/1 code presence)")
    if group not in data:
        raise ValueError(f"data has no {group!r} column")
    missing = [c for c in codes if c not in data]
    if missing:
        raise ValueError(f"data lacks code column(s) {missing}")
    d = data[data[group].notna()]
    g1 = d[d[group].astype(bool)]
    g0 = d[~d[group].astype(bool)]
    yes, no = group_labels(group)
    cb = resolve_codebook(codebook)
    group_of = dict(zip(cb.codes["code"], cb.codes["group"], strict=True))
    rows = []
    for code in codes:
        k1, n1 = int((g1[code] > 0).sum()), len(g1)
        k0, n0 = int((g0[code] > 0).sum()), len(g0)
        row = {"code": code, "code_group": group_of.get(code, "unknown"),
               f"n_{yes}": n1, f"k_{yes}": k1, f"prev_{yes}": k1 / n1 if n1 else np.nan,
               f"n_{no}": n0, f"k_{no}": k0, f"prev_{no}": k0 / n0 if n0 else np.nan}
        for sfx, k, n in ((yes, k1, n1), (no, k0, n0)):
            lo, hi = clopper_pearson(k, n, alpha)
            row[f"ci_low_{sfx}"], row[f"ci_high_{sfx}"] = float(lo), float(hi)
        if n1 and n0:
            row["difference"] = k1 / n1 - k0 / n0
            lo, hi = newcombe_diff_ci(k1, n1, k0, n0, alpha=alpha)
            row["diff_ci_low"], row["diff_ci_high"] = float(lo), float(hi)
            table = [[k1, n1 - k1], [k0, n0 - k0]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = odds_ratio(table, kind="conditional")
                ci = res.confidence_interval(1 - alpha)
            row["odds_ratio"], row["or_ci_low"], row["or_ci_high"] = float(res.statistic), float(ci.low), float(ci.high)
            row["p_fisher"] = float(fisher_exact(table).pvalue)
        else:
            row.update(difference=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan, odds_ratio=np.nan,
                       or_ci_low=np.nan, or_ci_high=np.nan, p_fisher=np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    ok = out["p_fisher"].notna()
    out["p_holm"] = np.nan
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p_fisher"], method="holm")[1]
    out["n_excluded"] = int(len(data) - len(d))
    cols = ["code", "code_group"]
    for sfx in (yes, no):
        cols += [f"n_{sfx}", f"k_{sfx}", f"prev_{sfx}", f"ci_low_{sfx}", f"ci_high_{sfx}"]
    cols += ["difference", "diff_ci_low", "diff_ci_high", "odds_ratio", "or_ci_low", "or_ci_high",
             "p_fisher", "p_holm", "n_excluded"]
    out = out[cols]
    return out


def case_improvement_times(data: pd.DataFrame, *, by=None, time: str = "time_months",
                           event: str = "improved_ever", alpha: float = 0.05) -> pd.DataFrame:
    """Median time to a better rating for interview cases (Kaplan-Meier, censored at follow-up end).

    The estimator is :func:`cqc_research.metrics.transitions.kaplan_meier`, the one used by
    :func:`~cqc_research.metrics.transitions.time_to_improvement` for whole rating histories.

    Parameters
    ----------
    data : DataFrame
        One row per case with ``time`` (months from the index rating to the first better rating,
        or to censoring) and ``event`` (True when a better rating was published), as
        :func:`case_outcomes` gives.
    by : str, optional
        A grouping column, e.g. a code column (0/1) or ``"improved"``.
    time : str
        The follow-up column, in months (default ``"time_months"``).
    event : str
        The event indicator column (default ``"improved_ever"``).
    alpha : float
        1 - confidence level of the median's interval (statsmodels' ``SurvfuncRight``, log-log).

    Returns
    -------
    pandas.DataFrame
        ``[by], n, events, median_months, ci_low, ci_high``; the median is NaN when fewer than
        half the cases improved during follow-up, and an interval bound is NaN when the data
        cannot bound it.
    """
    d = data[data[time].notna() & data[event].notna()]
    groups = d.groupby(by, sort=True) if by else [(None, d)]
    rows = []
    for level, g in groups:
        t = g[time].to_numpy(dtype=float)
        e = g[event].astype(bool).to_numpy(dtype=int)
        row = {} if by is None else {by: level}
        row.update(n=len(g), events=int(e.sum()), median_months=np.nan, ci_low=np.nan, ci_high=np.nan)
        if len(g) and e.sum():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                _, med, lo, hi = kaplan_meier(t, e, alpha=alpha)
            row.update(median_months=med, ci_low=lo, ci_high=hi)
        rows.append(row)
    return pd.DataFrame(rows)


def role_excess(segments: pd.DataFrame, *, codebook=None) -> pd.DataFrame:
    """How much more often each role raised each code than respondents in the other roles.

    Counted per interview (respondent): for each role and code, the share of that role's
    interviews coded with it, beside the share among the interviews of every other role.

    Parameters
    ----------
    segments : DataFrame
        Coded segments (:func:`read_coded_segments`).
    codebook : Codebook, optional
        For code order and groups.

    Returns
    -------
    DataFrame
        :func:`code_frequencies` by ``respondent_role`` with ``unit="respondent"``, plus
        ``share_others`` (the share among the other roles' interviews) and ``excess``
        (``share - share_others``).
    """
    per = code_frequencies(data=segments, by="respondent_role", unit="respondent", codebook=codebook)
    everyone = code_frequencies(data=segments, unit="respondent", codebook=codebook).set_index("code")
    others_k = per["code"].map(everyone["n_units"]) - per["n_units"]
    others_n = per["code"].map(everyone["n_total"]) - per["n_total"]
    return per.assign(share_others=others_k / others_n, excess=lambda d: d["share"] - d["share_others"])


def improved_excerpts(segments: pd.DataFrame, followed: pd.DataFrame, comparison: pd.DataFrame, *,
                      n: int = 4) -> tuple[str | None, pd.DataFrame]:
    """Excerpts, from cases that improved, of the code whose share differs most between the groups.

    Parameters
    ----------
    segments : DataFrame
        Coded segments.
    followed : DataFrame
        Cases with a known outcome (``case_id``, ``improved``).
    comparison : DataFrame
        :func:`compare_prevalence` output.
    n : int
        At most this many distinct excerpts.

    Returns
    -------
    code : str or None
        The code with the largest absolute ``difference`` (None when ``comparison`` is empty).
    excerpts : DataFrame
        Its segments from improved cases, distinct excerpts, in file order.
    """
    if not len(comparison):
        return None, segments.iloc[:0]
    code = comparison.loc[comparison["difference"].abs().idxmax(), "code"]
    improved = set(followed.loc[followed["improved"].astype(bool), "case_id"])
    ex = segments[(segments["code"] == code) & segments["case_id"].isin(improved)]
    return code, ex.drop_duplicates("excerpt").head(n)
