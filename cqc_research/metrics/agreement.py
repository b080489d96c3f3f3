"""Do the key questions agree with the Overall rating, and do Overall ratings follow CQC's rules?

CQC reported that, for 62 acute trust inspections, the Well-led rating matched the Overall rating
almost 90% of the time, against 56% for Caring, 74% for Effective and 78% for Responsive and
Safe. This module measures that agreement on any ratings table, with honest uncertainty:

- :func:`domain_agreement`: each key question against a reference (Overall): n, the share that
  agree exactly with a Wilson or bootstrap confidence interval, the shares where the key question
  is higher or lower, and weighted kappa (linear and quadratic) with confidence intervals;
  optionally split ``by=["sector", "level"]``.
- :func:`pairwise_agreement`: the same for every pair of domains.
- :func:`weighted_kappa`: Cohen's weighted kappa for two rating columns, with the analytic
  large-sample standard error of Fleiss, Cohen & Everitt (1969) or a bootstrap interval.
- :func:`crosstab` and :func:`agreement_crosstabs`: the full cross-tabulations (every level of
  the scale, zeros included).
- :func:`aggregate_overall` and :func:`aggregation_consistency`: CQC's published rating
  principles for turning five key-question ratings into an Overall rating, and how often the
  published Overall ratings follow them (with the exceptions listed).

All functions take the *wide* ratings table (``io.cqc_files.ratings_wide``: one row per
organisation, one ``RATING_DTYPE`` column per domain) and return tidy DataFrames.

Conventions
-----------
The rating scale has k = 4 ordered levels (Inadequate < Requires improvement < Good <
Outstanding). Kappa weights always use the full scale, so a kappa does not change meaning when a
subset happens not to contain, say, any Inadequate rating: linear agreement weights are
``1 - |i - j| / 3`` and quadratic ones ``1 - (i - j)**2 / 9``. Organisations without a rating on
the scale for either column (not rated, inspected but not rated, missing) are left out, and
``n`` reports how many remained.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataFormatError
from ..ratings import DOMAINS, KEY_QUESTIONS, RATING_DTYPE, RATINGS
from ._contract import keeps_provenance
from ._inputs import K, as_list, check_frame, code_table, scale_codes
from .intervals import proportion_ci

__all__ = [
    "weighted_kappa",
    "crosstab",
    "agreement_crosstabs",
    "domain_agreement",
    "pairwise_agreement",
    "aggregation_consistency",
]

_KAPPA_CI_NOTE = {
    "asymptotic": "asymptotic SE (Fleiss, Cohen & Everitt 1969)",
    "bootstrap": "percentile bootstrap",
}


# ---------------------------------------------------------------------------------------------
# kappa
def _agreement_weights(weights, k: int = K) -> np.ndarray:
    """Agreement weights (1 on the diagonal) for the k-level scale."""
    i, j = np.indices((k, k))
    if weights in (None, "none", "unweighted"):
        return (i == j).astype(float)
    if weights == "linear":
        return 1 - np.abs(i - j) / (k - 1)
    if weights == "quadratic":
        return 1 - (i - j) ** 2 / (k - 1) ** 2
    raise ValueError(f"weights must be 'linear', 'quadratic' or None, not {weights!r}")


def _kappa_and_se(tables: np.ndarray, w: np.ndarray):
    """Weighted kappa and its large-sample SE for one table or a stack of tables (..., k, k).

    The variance is the non-null asymptotic variance of Fleiss, Cohen & Everitt (1969):
    ``Var = [sum_ij p_ij (w_ij - (wbar_i. + wbar_.j)(1 - kappa))**2 - (kappa - p_e (1 - kappa))**2]
    / (n (1 - p_e)**2)``.
    """
    t = np.asarray(tables, dtype=float)
    n = t.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = t / n[..., None, None]
        row = p.sum(axis=-1)  # rater a (rows)
        col = p.sum(axis=-2)  # rater b (columns)
        po = (w * p).sum(axis=(-2, -1))
        pe = (w * row[..., :, None] * col[..., None, :]).sum(axis=(-2, -1))
        kappa = (po - pe) / (1 - pe)
        wbar_row = (w * col[..., None, :]).sum(axis=-1)  # wbar_i. = sum_j p_.j w_ij
        wbar_col = (w * row[..., :, None]).sum(axis=-2)  # wbar_.j = sum_i p_i. w_ij
        dev = w - (wbar_row[..., :, None] + wbar_col[..., None, :]) * (1 - kappa)[..., None, None]
        var = ((p * dev**2).sum(axis=(-2, -1)) - (kappa - pe * (1 - kappa)) ** 2)
        var = var / (n * (1 - pe) ** 2)
        se = np.sqrt(np.clip(var, 0, None))
    kappa = np.where(np.isfinite(kappa), kappa, np.nan)
    se = np.where(np.isfinite(se), se, np.nan)
    return kappa, se


def _boot_tables(table: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of a contingency table.

    Resampling n organisations with replacement is the same as drawing the cell counts from a
    multinomial with the observed cell shares, which is much faster.
    """
    n = int(table.sum())
    if n == 0:
        return np.zeros((n_boot, *table.shape))
    flat = rng.multinomial(n, table.ravel() / n, size=n_boot)
    return flat.reshape(n_boot, *table.shape)


def kappa_from_table(data, *, weights="linear", ci: str = "asymptotic", alpha: float = 0.05,
                     n_boot: int = 2000, seed=None) -> pd.DataFrame:
    """Weighted kappa from a k x k contingency table (rows: rater a, columns: rater b).

    Parameters
    ----------
    data : array-like, shape (k, k)
        Counts. For ratings, k = 4 in scale order (use :func:`crosstab`).
    weights : {"linear", "quadratic", None}
        Agreement weights ``1 - |i-j|/(k-1)``, ``1 - (i-j)**2/(k-1)**2``, or unweighted.
    ci : {"asymptotic", "bootstrap"}
        Analytic interval kappa +/- z SE with the Fleiss, Cohen & Everitt (1969) standard error,
        or a percentile bootstrap over organisations.
    alpha : float
        1 - confidence level.
    n_boot : int
        Bootstrap replicates (``ci="bootstrap"``).
    seed : int or numpy Generator, optional
        For the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row: ``n, weights, kappa, se, ci_low, ci_high, ci_method``.

    Examples
    --------
    >>> kappa_from_table([[10, 2, 0], [3, 20, 4], [0, 5, 6]])["kappa"].round(4).item()
    0.6041
    """
    t = np.asarray(data, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"table must be square, got shape {t.shape}")
    if (t < 0).any():
        raise ValueError("table counts must be non-negative")
    w = _agreement_weights(weights, t.shape[0])
    kappa, se = _kappa_and_se(t, w)
    kappa, se = float(kappa), float(se)
    if ci == "asymptotic":
        z = stats.norm.ppf(1 - alpha / 2)
        low, high = kappa - z * se, kappa + z * se
    elif ci == "bootstrap":
        rng = np.random.default_rng(seed)
        kb, _ = _kappa_and_se(_boot_tables(t, n_boot, rng), w)
        low, high = _percentile(kb, alpha)
    else:
        raise ValueError(f"ci must be 'asymptotic' or 'bootstrap', not {ci!r}")
    return pd.DataFrame({
        "n": [int(t.sum())], "weights": [weights or "none"], "kappa": [kappa], "se": [se],
        "ci_low": [max(low, -1.0) if np.isfinite(low) else np.nan],
        "ci_high": [min(high, 1.0) if np.isfinite(high) else np.nan],
        "ci_method": [_KAPPA_CI_NOTE[ci]],
    })


def _percentile(values: np.ndarray, alpha: float) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan
    return float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))


@keeps_provenance
def weighted_kappa(data: pd.DataFrame | None = None, *, a, b, weights="linear",
                   ci: str = "asymptotic", alpha: float = 0.05, n_boot: int = 2000,
                   seed=None) -> pd.DataFrame:
    """Cohen's weighted kappa between two ratings, with a confidence interval.

    Parameters
    ----------
    data : DataFrame, optional
        The table holding columns ``a`` and ``b``; None when ``a`` and ``b`` are the ratings.
    a, b : str or array-like
        Column names in ``data``, or the ratings themselves (``RATING_DTYPE``, rating strings, or
        integer codes 0-3). Pairs where either is not on the scale are left out.
    weights : {"linear", "quadratic", None}
        See :func:`kappa_from_table`. The scale always has four levels.
    ci : {"asymptotic", "bootstrap"}
        Fleiss, Cohen & Everitt (1969) analytic standard error (default), or percentile
        bootstrap over organisations.
    alpha, n_boot, seed
        Confidence level, bootstrap replicates and random seed.

    Returns
    -------
    pandas.DataFrame
        One row: ``n, weights, kappa, se, ci_low, ci_high, ci_method``.

    Examples
    --------
    >>> weighted_kappa(a=["Good", "Good", "Inadequate", "Outstanding"],
    ...                b=["Good", "Requires improvement", "Inadequate", "Good"])["kappa"].round(3).item()
    0.556
    """
    if data is not None:
        check_frame(data, [a, b], "weighted_kappa")
        src = data.attrs.get("source")
        ca = scale_codes(data[a], name=a, source=src)
        cb = scale_codes(data[b], name=b, source=src)
    else:
        ca = scale_codes(a, name="a")
        cb = scale_codes(b, name="b")
        if len(ca) != len(cb):
            raise ValueError(f"a and b must have the same length ({len(ca)} != {len(cb)})")
    return kappa_from_table(code_table(ca, cb), weights=weights, ci=ci, alpha=alpha,
                            n_boot=n_boot, seed=seed)


# ---------------------------------------------------------------------------------------------
# cross-tabulations
@keeps_provenance
def crosstab(data: pd.DataFrame, *, a: str, b: str, normalize: str | None = None) -> pd.DataFrame:
    """The full 4 x 4 cross-tabulation of two rating columns (zeros included).

    Parameters
    ----------
    data : DataFrame
        Holds the two columns.
    a, b : str
        Row and column variables.
    normalize : {None, "index", "columns", "all"}
        Counts, or shares within rows, within columns, or of the total.

    Returns
    -------
    pandas.DataFrame
        Index: the scale (named ``a``); columns: the scale (named ``b``).

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Good", "Good"], "Safe": ["Good", "Requires improvement"]})
    >>> int(crosstab(df, a="Overall", b="Safe").loc["Good", "Requires improvement"])
    1
    """
    check_frame(data, [a, b], "crosstab")
    src = data.attrs.get("source")
    t = code_table(scale_codes(data[a], name=a, source=src),
               scale_codes(data[b], name=b, source=src)).astype(float)
    if normalize in ("index", "rows"):
        t = t / np.where(t.sum(1, keepdims=True) == 0, np.nan, t.sum(1, keepdims=True))
    elif normalize == "columns":
        t = t / np.where(t.sum(0, keepdims=True) == 0, np.nan, t.sum(0, keepdims=True))
    elif normalize == "all":
        t = t / t.sum() if t.sum() else t * np.nan
    elif normalize is None:
        t = t.astype(np.int64)
    else:
        raise ValueError(f"normalize must be None, 'index', 'columns' or 'all', not {normalize!r}")
    return pd.DataFrame(t, index=pd.Index(RATINGS, name=a), columns=pd.Index(RATINGS, name=b))


def _groups(data: pd.DataFrame, by: list[str]):
    if not by:
        yield (), data
        return
    for key, g in data.groupby(by, observed=True, sort=True, dropna=False):
        yield (key if isinstance(key, tuple) else (key,)), g


@keeps_provenance
def agreement_crosstabs(data: pd.DataFrame, *, domains: Sequence[str] = KEY_QUESTIONS,
                        reference: str = "Overall", by=None) -> pd.DataFrame:
    """Every reference x domain cross-tabulation, as one tidy table.

    Parameters
    ----------
    data : DataFrame
        Wide ratings: one row per organisation, one ``RATING_DTYPE`` column per domain
        (``io.cqc_files.ratings_wide``).
    domains : sequence of str
        The domains cross-tabulated against ``reference`` (default: the five key questions).
    reference : str
        The reference column (default ``"Overall"``).
    by : str or list of str, optional
        Split into groups, e.g. ``["sector", "level"]``.

    Returns
    -------
    pandas.DataFrame
        One row per group x domain x reference rating x domain rating (all 16 cells, zeros
        included): ``[*by], domain, reference, reference_rating, domain_rating, count,
        share_of_reference_rating``.
    """
    by = as_list(by)
    domains = as_list(domains)
    check_frame(data, [reference, *domains, *by], "agreement_crosstabs")
    src = data.attrs.get("source")
    rows = []
    for key, g in _groups(data, by):
        ref = scale_codes(g[reference], name=reference, source=src)
        for d in domains:
            t = code_table(ref, scale_codes(g[d], name=d, source=src))
            rs = t.sum(1)
            for i in range(K):
                for j in range(K):
                    rows.append((*key, d, reference, RATINGS[i], RATINGS[j], int(t[i, j]),
                                 t[i, j] / rs[i] if rs[i] else np.nan))
    out = pd.DataFrame(rows, columns=[*by, "domain", "reference", "reference_rating",
                                      "domain_rating", "count", "share_of_reference_rating"])
    for c in ("reference_rating", "domain_rating"):
        out[c] = pd.Categorical(out[c], dtype=RATING_DTYPE)
    return out


# ---------------------------------------------------------------------------------------------
# agreement tables
def _pair_stats(table: np.ndarray, *, ci: str, alpha: float, n_boot: int,
                rng: np.random.Generator) -> dict:
    """Agreement, direction and kappas for one 4 x 4 table (rows: reference, cols: domain)."""
    n = int(table.sum())
    agree = int(np.trace(table))
    higher = int(np.triu(table, 1).sum())  # column (domain) better than row (reference)
    lower = int(np.tril(table, -1).sum())
    out = {"n": n, "n_agree": agree, "agreement": agree / n if n else np.nan}
    wl, wq = _agreement_weights("linear"), _agreement_weights("quadratic")
    kl, sel = _kappa_and_se(table, wl)
    kq, seq = _kappa_and_se(table, wq)
    if ci == "wilson":
        lo, hi = proportion_ci(agree, n, alpha=alpha)
        z = stats.norm.ppf(1 - alpha / 2)
        kl_ci = (kl - z * sel, kl + z * sel)
        kq_ci = (kq - z * seq, kq + z * seq)
    elif ci == "bootstrap":
        boot = _boot_tables(table, n_boot, rng)
        nb = boot.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            lo, hi = _percentile(np.trace(boot, axis1=1, axis2=2) / nb, alpha)
        kl_ci = _percentile(_kappa_and_se(boot, wl)[0], alpha)
        kq_ci = _percentile(_kappa_and_se(boot, wq)[0], alpha)
    else:
        raise ValueError(f"ci must be 'wilson' or 'bootstrap', not {ci!r}")
    out.update({
        "agreement_ci_low": lo, "agreement_ci_high": hi,
        "share_domain_higher": higher / n if n else np.nan,
        "share_domain_lower": lower / n if n else np.nan,
        "weighted_kappa": float(kl), "weighted_kappa_ci_low": float(max(kl_ci[0], -1)),
        "weighted_kappa_ci_high": float(min(kl_ci[1], 1)),
        "quadratic_kappa": float(kq), "quadratic_kappa_ci_low": float(max(kq_ci[0], -1)),
        "quadratic_kappa_ci_high": float(min(kq_ci[1], 1)),
    })
    return out


def _ci_label(ci: str) -> str:
    if ci == "wilson":
        return "agreement: Wilson; kappa: " + _KAPPA_CI_NOTE["asymptotic"]
    return "percentile bootstrap over organisations"


@keeps_provenance
def domain_agreement(data: pd.DataFrame, *, domains: Sequence[str] = KEY_QUESTIONS,
                     reference: str = "Overall", by=None, ci: str = "wilson",
                     alpha: float = 0.05, n_boot: int = 2000, seed=0,
                     min_n: int = 1) -> pd.DataFrame:
    """How often each key question's rating equals the reference (Overall) rating.

    Parameters
    ----------
    data : DataFrame
        Wide ratings: one row per organisation, one ``RATING_DTYPE`` column per domain
        (``io.cqc_files.ratings_wide``).
    domains : sequence of str
        The domains compared with ``reference`` (default: the five key questions).
    reference : str
        The reference column (default ``"Overall"``).
    by : str or list of str, optional
        Split into groups, e.g. ``["sector", "level"]``.
    ci : {"wilson", "bootstrap"}
        ``"wilson"``: Wilson score interval for agreement and the Fleiss, Cohen & Everitt (1969)
        analytic interval for kappa. ``"bootstrap"``: percentile bootstrap over organisations
        for every estimate.
    alpha : float
        1 - confidence level.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Bootstrap seed (results are reproducible).
    min_n : int
        Groups x domains with fewer rated pairs get a row with NaN estimates.

    Returns
    -------
    pandas.DataFrame
        One row per group x domain: ``[*by], domain, reference, n, n_agree, agreement,
        agreement_ci_low, agreement_ci_high, share_domain_higher, share_domain_lower,
        weighted_kappa, weighted_kappa_ci_low, weighted_kappa_ci_high, quadratic_kappa,
        quadratic_kappa_ci_low, quadratic_kappa_ci_high, ci_method``. ``weighted_kappa`` is
        linear-weighted.

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Good"] * 3 + ["Inadequate"],
    ...                    "Safe": ["Good", "Good", "Requires improvement", "Inadequate"]})
    >>> domain_agreement(df, domains=["Safe"])[["domain", "n", "agreement"]]
      domain  n  agreement
    0   Safe  4       0.75
    """
    by = as_list(by)
    domains = as_list(domains)
    check_frame(data, [reference, *domains, *by], "domain_agreement")
    rng = np.random.default_rng(seed)
    src = data.attrs.get("source")
    rows = []
    for key, g in _groups(data, by):
        ref = scale_codes(g[reference], name=reference, source=src)
        for d in domains:
            t = code_table(ref, scale_codes(g[d], name=d, source=src))
            row = dict(zip(by, key, strict=True))
            row.update({"domain": d, "reference": reference})
            if t.sum() >= max(min_n, 1):
                row.update(_pair_stats(t, ci=ci, alpha=alpha, n_boot=n_boot, rng=rng))
            else:
                row.update({"n": int(t.sum()), "n_agree": int(np.trace(t))})
            rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=[*by, "domain", "reference", *_STAT_COLUMNS])
    out["ci_method"] = _ci_label(ci)
    return out


_STAT_COLUMNS = [
    "n", "n_agree", "agreement", "agreement_ci_low", "agreement_ci_high",
    "share_domain_higher", "share_domain_lower",
    "weighted_kappa", "weighted_kappa_ci_low", "weighted_kappa_ci_high",
    "quadratic_kappa", "quadratic_kappa_ci_low", "quadratic_kappa_ci_high",
]


@keeps_provenance
def pairwise_agreement(data: pd.DataFrame, *, domains: Sequence[str] = DOMAINS, by=None,
                       ci: str = "wilson", alpha: float = 0.05, n_boot: int = 2000,
                       seed=0) -> pd.DataFrame:
    """Agreement and weighted kappa for every pair of domains.

    Parameters
    ----------
    data : DataFrame
        Wide ratings: one row per organisation, one ``RATING_DTYPE`` column per domain
        (``io.cqc_files.ratings_wide``).
    domains : sequence of str
        The domains paired with each other (default: Overall and the five key questions).
    by : str or list of str, optional
        Split into groups, e.g. ``["sector", "level"]``.
    ci : {"wilson", "bootstrap"}
        Interval method, as for :func:`domain_agreement`.
    alpha : float
        1 - confidence level.
    n_boot : int
        Bootstrap replicates (``ci="bootstrap"``).
    seed : int
        Bootstrap seed (results are reproducible).

    Returns
    -------
    pandas.DataFrame
        One row per group x pair: ``[*by], domain_a, domain_b`` and the statistics of
        :func:`domain_agreement` (``share_domain_higher`` means ``domain_b`` rated higher than
        ``domain_a``).
    """
    by = as_list(by)
    domains = as_list(domains)
    check_frame(data, [*domains, *by], "pairwise_agreement")
    rng = np.random.default_rng(seed)
    src = data.attrs.get("source")
    rows = []
    for key, g in _groups(data, by):
        codes = {d: scale_codes(g[d], name=d, source=src) for d in domains}
        for da, db in combinations(domains, 2):
            t = code_table(codes[da], codes[db])
            row = dict(zip(by, key, strict=True))
            row.update({"domain_a": da, "domain_b": db})
            if t.sum() > 0:
                row.update(_pair_stats(t, ci=ci, alpha=alpha, n_boot=n_boot, rng=rng))
            else:
                row.update({"n": 0, "n_agree": 0})
            rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=[*by, "domain_a", "domain_b", *_STAT_COLUMNS])
    out["ci_method"] = _ci_label(ci)
    return out


# ---------------------------------------------------------------------------------------------
# CQC's aggregation principles
#
# Adult social care ("How we aggregate ratings using the rating principles: adult social care
# services", CQC, updated 12 May 2022), for the five key questions:
#   - two or more Inadequate -> Inadequate;
#   - two or more Requires improvement -> Requires improvement;
#   - Good needs no Inadequate and at most one Requires improvement, so a single Inadequate
#     (with fewer than two RI) also gives Requires improvement;
#   - Outstanding needs at least two Outstanding and the other key questions Good;
#   - otherwise Good.
#
# NHS trusts ("Ratings principles: NHS trusts", CQC, updated 12 May 2022) state the thresholds
# as a function of the number of underlying ratings m: X = 1 when m is 1-3, 2 when m is 4-8,
# 3 when m is 9 or more. The aggregated rating is normally Outstanding where at least X are
# Outstanding and the others Good; limited to Requires improvement where at least X are
# Requires improvement ("the rule of two" for five key questions); Inadequate where at least X
# are Inadequate. We also limit to Requires improvement when at least one rating is Inadequate,
# as the adult social care rule does (an Inadequate counts at least as badly as a Requires
# improvement). For the five key questions these rules give the same answer as the adult social
# care rules; they differ when fewer key questions are rated. GP practices (primary medical
# services) and other sectors use the NHS table here. All principles say ratings "normally"
# follow them: inspection teams may depart from them with professional judgement, so an
# exception is not an error, it is what this analysis counts.
def _x_threshold(m: np.ndarray) -> np.ndarray:
    return np.where(m <= 3, 1, np.where(m <= 8, 2, 3))


def _rule_adult_social_care(counts: np.ndarray) -> np.ndarray:
    """counts: (n, 4) numbers of Inadequate, RI, Good, Outstanding. Returns codes (-1: none)."""
    inad, ri, good, outst = counts.T
    m = counts.sum(1)
    out = np.full(len(counts), 2)
    out = np.where((outst >= 2) & (inad == 0) & (ri == 0), 3, out)
    out = np.where((ri >= 2) | (inad == 1), 1, out)
    out = np.where(inad >= 2, 0, out)
    return np.where(m == 5, out, -1)


def _rule_nhs_trust(counts: np.ndarray) -> np.ndarray:
    inad, ri, good, outst = counts.T
    m = counts.sum(1)
    x = _x_threshold(m)
    out = np.full(len(counts), 2)
    out = np.where((outst >= x) & (inad == 0) & (ri == 0), 3, out)
    out = np.where((ri >= x) | (inad >= 1), 1, out)
    out = np.where(inad >= x, 0, out)
    return np.where(m >= 1, out, -1)


#: Named rule sets: sector -> rule. Each rule maps counts of (Inadequate, Requires improvement,
#: Good, Outstanding) among the key questions to a predicted Overall rating code.
RULE_SETS = {
    "Adult social care": _rule_adult_social_care,
    "NHS hospitals": _rule_nhs_trust,
    "GP practices": _rule_nhs_trust,
    "Other": _rule_nhs_trust,
}
_RULE_NAMES = {
    _rule_adult_social_care: "adult social care (all five key questions rated)",
    _rule_nhs_trust: "NHS trust table (X = 1, 2, 3 for 1-3, 4-8, 9+ ratings)",
}


def aggregate_overall(data, *, rule_set: str = "Adult social care") -> str | None:
    """The Overall rating CQC's published principles give for a set of key-question ratings.

    Parameters
    ----------
    data : sequence of str
        Key-question ratings (non-scale values and None are ignored).
    rule_set : str
        Whose principles (a key of :data:`RULE_SETS`, named after the sector):
        ``"Adult social care"`` (needs all five key questions rated), or ``"NHS hospitals"``,
        ``"GP practices"``, ``"Other"`` (the NHS trust threshold table).

    Returns
    -------
    str or None
        The predicted Overall rating, None when the rule cannot be applied.

    Examples
    --------
    >>> aggregate_overall(["Good", "Inadequate", "Good", "Inadequate", "Good"])
    'Inadequate'
    >>> aggregate_overall(["Outstanding", "Outstanding", "Good", "Good", "Good"])
    'Outstanding'
    >>> aggregate_overall(["Outstanding", "Outstanding", "Good", "Requires improvement", "Good"])
    'Good'
    """
    if rule_set not in RULE_SETS:
        raise ValueError(f"rule_set must be one of {list(RULE_SETS)}, not {rule_set!r}")
    codes = scale_codes(pd.Series(list(data), dtype=object), name="ratings")
    counts = np.bincount(codes[codes >= 0], minlength=K)[None, :]
    code = int(RULE_SETS[rule_set](counts)[0])
    return RATINGS[code] if code >= 0 else None


@keeps_provenance
def aggregation_consistency(data: pd.DataFrame, *, sector: str | None = "sector",
                            domains: Sequence[str] = KEY_QUESTIONS, overall: str = "Overall",
                            by=None, rules: dict | None = None, alpha: float = 0.05,
                            id_cols: Sequence[str] | None = None):
    """How often the published Overall rating is the one CQC's rating principles give.

    Parameters
    ----------
    data : DataFrame
        Wide ratings (one row per organisation).
    sector : str or None
        The column choosing the rule set for each row (values as in :data:`RULE_SETS`). None
        applies the adult social care rules to every row.
    domains : sequence of str
        The key questions aggregated.
    overall : str
        The published Overall rating column.
    by : str or list of str, optional
        Extra grouping for the summary (e.g. ``"level"``). The summary is always split by
        sector when ``sector`` is given.
    rules : dict, optional
        Override :data:`RULE_SETS` (sector -> function of an (n, 4) count array).
    alpha : float
        1 - confidence level of the Wilson interval.
    id_cols : sequence of str, optional
        Columns kept in the exceptions table (default: those of ``org_id, level, name,
        location_name, provider_name, inspection_category`` that exist).

    Returns
    -------
    summary : pandas.DataFrame
        One row per group: ``[sector], [*by], rule, n, n_reproduced, reproduced,
        reproduced_ci_low, reproduced_ci_high, n_published_better, n_published_worse,
        n_not_assessable`` (``n`` counts rows where both the rule and the published Overall
        give a rating).
    exceptions : pandas.DataFrame
        The rows where the published Overall differs from the rule: identifiers, the key
        questions, ``overall``, ``predicted_overall`` and ``difference`` (published minus
        predicted, in scale steps).

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Good", "Good"], "Safe": ["Good", "Inadequate"],
    ...                    "Effective": ["Good"] * 2, "Caring": ["Good"] * 2,
    ...                    "Responsive": ["Good"] * 2, "Well-led": ["Good", "Inadequate"]})
    >>> summary, exceptions = aggregation_consistency(df, sector=None)
    >>> summary[["n", "n_reproduced"]].values.tolist()
    [[2, 1]]
    >>> exceptions["predicted_overall"].tolist()
    ['Inadequate']
    """
    by = as_list(by)
    domains = as_list(domains)
    cols = [overall, *domains, *by] + ([sector] if sector else [])
    check_frame(data, cols, "aggregation_consistency")
    rules = dict(RULE_SETS if rules is None else rules)
    src = data.attrs.get("source")
    kq = np.column_stack([scale_codes(data[d], name=d, source=src) for d in domains])
    counts = np.stack([(kq == c).sum(1) for c in range(K)], axis=1)
    if sector:
        sectors = data[sector].astype("object").to_numpy()
        unknown = sorted({str(s) for s in pd.unique(sectors) if s not in rules and pd.notna(s)})
        if unknown:
            bad = int(np.flatnonzero(pd.Series(sectors).astype(str).isin(unknown).to_numpy())[0])
            raise DataFormatError(f"no aggregation rule for sector(s) {unknown}; expected one of "
                                  f"{list(rules)}", path=src, row=bad + 1, column=sector)
    else:
        sectors = np.full(len(data), "Adult social care", dtype=object)
    predicted = np.full(len(data), -1)
    rule_name = np.full(len(data), "", dtype=object)
    for s, fn in rules.items():
        m = sectors == s
        if m.any():
            predicted[m] = fn(counts[m])
            rule_name[m] = _RULE_NAMES.get(fn, getattr(fn, "__name__", str(fn)))
    published = scale_codes(data[overall], name=overall, source=src)
    work = data.copy()
    work["_sector"] = sectors
    work["rule"] = rule_name
    work["_pred"] = predicted
    work["_pub"] = published
    assessable = (predicted >= 0) & (published >= 0)
    work["_ok"] = assessable
    group_cols = (["_sector"] if sector else []) + by + ["rule"]
    rows = []
    for key, g in work.groupby(group_cols, observed=True, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = g["_ok"].to_numpy()
        pub, pred = g["_pub"].to_numpy()[ok], g["_pred"].to_numpy()[ok]
        n, hit = int(ok.sum()), int((pub == pred).sum())
        lo, hi = proportion_ci(hit, n, alpha=alpha)
        rows.append((*key, n, hit, hit / n if n else np.nan, lo, hi,
                     int((pub > pred).sum()), int((pub < pred).sum()), int((~ok).sum())))
    names = ([sector] if sector else []) + by + ["rule"]
    summary = pd.DataFrame(rows, columns=[*names, "n", "n_reproduced", "reproduced",
                                          "reproduced_ci_low", "reproduced_ci_high",
                                          "n_published_better", "n_published_worse",
                                          "n_not_assessable"])
    if id_cols is None:
        id_cols = [c for c in ("org_id", "level", "name", "location_name", "provider_name",
                               "inspection_category") if c in data.columns]
    exc = assessable & (predicted != published)
    keep = list(dict.fromkeys([*id_cols, *([sector] if sector else []), *by,
                               overall, *domains]))
    exceptions = data.loc[exc, keep].copy()
    exceptions["predicted_overall"] = pd.Categorical.from_codes(predicted[exc], dtype=RATING_DTYPE)
    exceptions["difference"] = published[exc] - predicted[exc]
    exceptions["rule"] = rule_name[exc]
    return summary, exceptions.reset_index(drop=True)
