"""Do routine indicators predict CQC ratings? Correlation, ordered logit, honest cross-validation.

Researchers at Manchester and the King's Fund found that an ordered logit on routine indicators got
79.7% of 6,860 GP practices' ratings right, but 78.8% were rated Good anyway, so the weighted
kappa was 0.097. This module makes that kind of analysis reproducible on current data, and
always reports the baseline beside the headline:

- :func:`spearman_by_domain`: Spearman correlation of each indicator with each domain's rating,
  with a Fisher-z (Bonett & Wright 2000 variance) or bootstrap interval.
- :func:`ordered_logit`: a proportional-odds model (statsmodels ``OrderedModel``, logit link) on
  standardised indicators: the odds ratio of a better rating per standard deviation, with
  confidence intervals and p-values.
- :func:`cross_validated_prediction`: stratified k-fold predictions scored only on the fold left
  out. Accuracy is reported beside the **modal-class share** (always guessing the commonest
  rating of each training fold), with their paired difference, weighted kappa with a confidence
  interval, the confusion matrix, and a binary view (Good or better vs worse) with a
  cross-validated AUC and a DeLong interval.
- :func:`variation_at_equal_resources`: the rating mix within deciles of a resource measure
  (e.g. payments per weighted patient), with Wilson intervals.

Data are *wide*: one row per organisation, the rating column(s) as ``RATING_DTYPE`` (strings are
parsed) and one numeric column per indicator.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataFormatError, InsufficientData
from ..ratings import RATING_DTYPE, RATINGS
from ._contract import keeps_provenance
from ._inputs import as_list, check_frame, code_table, scale_codes
from .agreement import kappa_from_table
from .intervals import proportion_ci, spearman_ci

__all__ = [
    "spearman_by_domain",
    "ordered_logit",
    "cross_validated_prediction",
    "variation_at_equal_resources",
    "indicator_gaps",
]

K = len(RATINGS)


# ---------------------------------------------------------------------------------------------
# input helpers
def _numeric(data: pd.DataFrame, col: str) -> np.ndarray:
    """A numeric indicator column as float (NaN kept); a clear error for text."""
    s = data[col]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna() & s.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFormatError(
                f"indicator values must be numbers; found {s.iloc[pos]!r}",
                path=data.attrs.get("source"), row=pos + 1, column=col)
        s = conv
    return s.to_numpy(dtype=float, na_value=np.nan)


def _model_frame(data: pd.DataFrame, rating: str, indicators: Sequence[str], func: str):
    """Complete cases: (codes, X array, kept row labels)."""
    check_frame(data, [rating, *indicators], func)
    if not indicators:
        raise ValueError(f"{func}: give at least one indicator column")
    y = scale_codes(data[rating], name=rating, source=data.attrs.get("source"))
    X = np.column_stack([_numeric(data, c) for c in indicators])
    ok = (y >= 0) & np.isfinite(X).all(axis=1)
    return y[ok], X[ok], data.index[ok]


# ---------------------------------------------------------------------------------------------
# correlation
@keeps_provenance
def spearman_by_domain(data: pd.DataFrame, *, indicators: Sequence[str],
                       domains: Sequence[str] = ("Overall",), by=None, ci: str = "fisher",
                       alpha: float = 0.05, n_boot: int = 2000, seed=0) -> pd.DataFrame:
    """Spearman correlation of each indicator with each domain's rating.

    Parameters
    ----------
    data : DataFrame
        One row per organisation: rating columns and numeric indicator columns.
    indicators : sequence of str
        Indicator columns.
    domains : sequence of str
        Rating columns (ratings are ranked Inadequate < ... < Outstanding; ties get midranks).
    by : str or list of str, optional
        Split into groups.
    ci : {"fisher", "bootstrap"}
        Fisher z interval with the Bonett & Wright (2000) variance ``(1 + rho**2 / 2) / (n - 3)``,
        or a percentile bootstrap over organisations.
    alpha, n_boot, seed
        Confidence level, bootstrap replicates, seed.

    Returns
    -------
    pandas.DataFrame
        One row per group x indicator x domain: ``[*by], indicator, domain, n, rho, ci_low,
        ci_high, p_value, ci_method`` (``p_value`` from :func:`scipy.stats.spearmanr`).

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Inadequate", "Good", "Good", "Outstanding", "Good"],
    ...                    "x": [1.0, 2.0, 3.0, 5.0, 2.5]})
    >>> spearman_by_domain(df, indicators=["x"])["rho"].round(3).item()
    0.894
    """
    by, indicators, domains = as_list(by), as_list(indicators), as_list(domains)
    check_frame(data, [*indicators, *domains, *by], "spearman_by_domain")
    if ci not in ("fisher", "bootstrap"):
        raise ValueError(f"ci must be 'fisher' or 'bootstrap', not {ci!r}")
    rng = np.random.default_rng(seed)
    rows = []
    groups = [((), data)] if not by else [
        ((k if isinstance(k, tuple) else (k,)), g)
        for k, g in data.groupby(by, observed=True, sort=True, dropna=False)]
    for key, g in groups:
        for ind in indicators:
            x_all = _numeric(g, ind)
            for d in domains:
                y_all = scale_codes(g[d], name=d, source=data.attrs.get("source")).astype(float)
                ok = (y_all >= 0) & np.isfinite(x_all)
                x, y = x_all[ok], y_all[ok]
                n = int(ok.sum())
                rho = p = lo = hi = np.nan
                if n >= 4 and np.ptp(x) > 0 and np.ptp(y) > 0:
                    res = stats.spearmanr(x, y)
                    rho, p = float(res.statistic), float(res.pvalue)
                    if ci == "fisher":
                        lo, hi = spearman_ci(rho, n, alpha=alpha)
                    else:
                        lo, hi = _boot_spearman(x, y, n_boot, rng, alpha)
                rows.append((*key, ind, d, n, rho, lo, hi, p))
    out = pd.DataFrame(rows, columns=[*by, "indicator", "domain", "n", "rho", "ci_low",
                                      "ci_high", "p_value"])
    out["ci_method"] = ("Fisher z, Bonett-Wright variance" if ci == "fisher"
                        else "percentile bootstrap")
    return out


def _boot_spearman(x, y, n_boot, rng, alpha, chunk: int = 200):
    n = len(x)
    vals = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        rx = stats.rankdata(x[idx], axis=1)
        ry = stats.rankdata(y[idx], axis=1)
        rx -= rx.mean(1, keepdims=True)
        ry -= ry.mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (rx * ry).sum(1) / np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
        vals.append(r)
    v = np.concatenate(vals)
    v = v[np.isfinite(v)]
    return float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))


# ---------------------------------------------------------------------------------------------
# ordered logit
class OrderedLogit:
    """Proportional-odds logit on standardised predictors (statsmodels ``OrderedModel``).

    ``fit`` standardises with the *training* means and standard deviations only, so a
    cross-validation never leaks the scored fold's scale into the model. Levels of the scale
    absent from the training data get probability zero.

    Parameters
    ----------
    maxiter : int
        BFGS iterations.
    """

    def __init__(self, maxiter: int = 2000):
        self.maxiter = maxiter

    def fit(self, X, y) -> OrderedLogit:
        """Fit on ``X`` (n x p numbers) and rating codes ``y`` (0..3).

        Parameters
        ----------
        X : array-like of shape (n, p)
            The predictors, numbers without missing values; each is standardised with this
            sample's mean and standard deviation (kept as ``mean_`` and ``sd_``).
        y : array-like of int, shape (n,)
            Rating codes, 0 = Inadequate to 3 = Outstanding; at least two distinct values.

        Returns
        -------
        OrderedLogit
            ``self``, fitted: ``result_`` is the statsmodels result, ``levels_`` the codes seen,
            ``level_names_`` their ratings, ``thresholds_`` the cut-points between them on the
            standardised logit scale (increasing, one fewer than the levels), ``converged_``
            whether BFGS converged, and ``n_`` the sample size.

        Raises
        ------
        cqc_research.errors.InsufficientData
            A predictor is constant, or ``y`` takes a single value (a ``ValueError``).
        """
        from statsmodels.miscmodels.ordinal_model import OrderedModel

        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=int)
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0, ddof=1)
        if (~np.isfinite(sd)).any() or (sd == 0).any():
            raise InsufficientData("an indicator is constant in the training data; it cannot be "
                             "standardised")
        self.sd_ = sd
        self.levels_ = np.unique(y)
        if len(self.levels_) < 2:
            raise InsufficientData("the ratings take a single value; nothing to model")
        yy = np.searchsorted(self.levels_, y)
        Z = (X - self.mean_) / self.sd_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result_ = OrderedModel(yy, Z, distr="logit").fit(
                method="bfgs", disp=False, maxiter=self.maxiter)
        th = np.asarray(self.result_.params)[X.shape[1]:]  # first cut-point, then log increments
        self.thresholds_ = np.concatenate([th[:1], th[0] + np.cumsum(np.exp(th[1:]))])
        self.level_names_ = [RATINGS[i] for i in self.levels_]
        self.converged_ = bool(self.result_.mle_retvals.get("converged", True))
        self.n_ = len(y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of the four ratings (n x 4, Inadequate..Outstanding).

        Parameters
        ----------
        X : array-like of shape (n, p)
            The predictors, in the columns used by :meth:`fit`; standardised with the training
            means and standard deviations.

        Returns
        -------
        numpy.ndarray of shape (n, 4)
            Each row sums to 1; ratings not seen in training have probability 0.
        """
        Z = (np.asarray(X, dtype=float) - self.mean_) / self.sd_
        p = np.asarray(self.result_.model.predict(self.result_.params, exog=Z))
        out = np.zeros((len(Z), K))
        out[:, self.levels_] = p
        return out


@keeps_provenance
def ordered_logit(data: pd.DataFrame, *, rating: str, indicators: Sequence[str],
                  alpha: float = 0.05, return_model: bool = False):
    """Ordered logit of a rating on standardised indicators: odds ratios per standard deviation.

    Parameters
    ----------
    data : DataFrame
        One row per organisation.
    rating : str
        The rating column (the outcome), e.g. ``"Overall"``.
    indicators : sequence of str
        Numeric predictor columns. Each is standardised (mean 0, SD 1) on the complete cases.
    alpha : float
        1 - confidence level.
    return_model : bool
        Also return the fitted :class:`OrderedLogit` (its ``result_`` is the statsmodels result).

    Returns
    -------
    pandas.DataFrame
        One row per indicator: ``indicator, n, mean, sd, coef_per_sd, se, odds_ratio_per_sd,
        ci_low, ci_high, p_value`` (Wald). An odds ratio above 1 means a higher indicator goes
        with better ratings (the odds of being above any rating threshold multiply by it per SD).
        ``levels`` names the ratings observed (``"Inadequate | Requires improvement | Good"``) and
        ``converged`` says whether the optimiser converged (the same on every row). The
        cut-points are on the model: ``return_model=True`` and its ``thresholds_``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(400)
    >>> y = np.digitize(0.8 * x + rng.logistic(size=400), [-2.5, -1, 2])
    >>> df = pd.DataFrame({"Overall": pd.Categorical.from_codes(y, dtype=RATING_DTYPE), "x": x})
    >>> ordered_logit(df, rating="Overall", indicators=["x"])["odds_ratio_per_sd"].round(1).item()
    2.4
    """
    indicators = as_list(indicators)
    y, X, _ = _model_frame(data, rating, indicators, "ordered_logit")
    if len(y) <= len(indicators) + 3:
        raise InsufficientData(f"ordered_logit: only {len(y)} complete rows for {len(indicators)} "
                         "indicators")
    model = OrderedLogit().fit(X, y)
    res = model.result_
    p = len(indicators)
    coef = np.asarray(res.params)[:p]
    se = np.asarray(res.bse)[:p]
    zc = stats.norm.ppf(1 - alpha / 2)
    out = pd.DataFrame({
        "indicator": indicators, "n": len(y), "mean": model.mean_, "sd": model.sd_,
        "coef_per_sd": coef, "se": se, "odds_ratio_per_sd": np.exp(coef),
        "ci_low": np.exp(coef - zc * se), "ci_high": np.exp(coef + zc * se),
        "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        "levels": " | ".join(model.level_names_),
        "converged": model.converged_,
    })
    return (out, model) if return_model else out


# ---------------------------------------------------------------------------------------------
# cross-validation
def stratified_folds(data, *, folds: int = 5, seed=0) -> np.ndarray:
    """Fold numbers 0..folds-1 with each class spread evenly across folds.

    Each class's members are shuffled and dealt round the folds, continuing from where the
    previous class stopped, so fold sizes differ by at most one.

    Parameters
    ----------
    data : array-like
        The class of each row (e.g. rating codes).
    folds : int
        Number of folds, at least 2 and at most ``len(data)``.
    seed : int or numpy.random.Generator seed
        The shuffle's seed; the same seed gives the same folds.

    Returns
    -------
    numpy.ndarray of int
        The fold (0 to ``folds - 1``) of each row, in the order of ``y``.

    Examples
    --------
    >>> f = stratified_folds([0] * 6 + [1] * 4, folds=2, seed=1)
    >>> np.bincount(f).tolist()
    [5, 5]
    """
    y = np.asarray(data)
    if folds < 2:
        raise ValueError("folds must be at least 2")
    if len(y) < folds:
        raise InsufficientData(f"cannot make {folds} folds from {len(y)} rows")
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=int)
    start = 0
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        out[idx] = (start + np.arange(len(idx))) % folds
        start = (start + len(idx)) % folds
    # shuffle fold labels so the first class does not always start in fold 0
    return rng.permutation(folds)[out]


def auc_delong(score, positive, *, alpha: float = 0.05) -> dict:
    """Area under the ROC curve (Mann-Whitney) with the DeLong et al. (1988) standard error.

    Parameters
    ----------
    score : array-like
        Higher means more likely positive.
    positive : array-like of bool
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict
        ``auc, se, ci_low, ci_high, n_positive, n_negative`` (interval clipped to [0, 1]).

    Examples
    --------
    >>> auc_delong([0.1, 0.4, 0.35, 0.8], [False, False, True, True])["auc"]
    0.75
    """
    s = np.asarray(score, dtype=float)
    pos = np.asarray(positive, dtype=bool)
    x, yv = s[pos], s[~pos]
    m, n = len(x), len(yv)
    if m == 0 or n == 0:
        return {"auc": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "n_positive": m, "n_negative": n}
    tz = stats.rankdata(np.concatenate([x, yv]))
    tx, ty = stats.rankdata(x), stats.rankdata(yv)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1 - (tz[m:] - ty) / m
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"auc": float(auc), "se": se, "ci_low": float(max(0.0, auc - z * se)),
            "ci_high": float(min(1.0, auc + z * se)), "n_positive": m, "n_negative": n}


@dataclass
class CVResult:
    """What :func:`cross_validated_prediction` returns.

    Attributes
    ----------
    summary : DataFrame
        One row: ``domain, rule, n, folds, accuracy (+ CI), modal_share (+ CI), accuracy_minus_modal
        (+ CI), weighted_kappa (+ CI), quadratic_kappa (+ CI), auc (+ CI), share_good_or_better,
        modal_classes, predicted_classes, note`` (``note`` warns when the model only ever
        predicts one rating).
    confusion : DataFrame
        Observed (rows) x predicted (columns) counts, the full scale.
    predictions : DataFrame
        One row per organisation scored: ``fold, observed, predicted, modal_prediction,
        p_<rating>..., p_good_or_better``, indexed like ``data``.
    per_fold : DataFrame
        ``fold, n_train, n_test, modal_class, accuracy, modal_share``.
    notes : list of str
        Free-text remarks for the reader; :func:`cross_validated_prediction` leaves it empty (its
        warning is ``summary["note"]``).
    """

    summary: pd.DataFrame
    confusion: pd.DataFrame
    predictions: pd.DataFrame
    per_fold: pd.DataFrame
    notes: list = field(default_factory=list)


@keeps_provenance
def cross_validated_prediction(data: pd.DataFrame, *, rating: str, indicators: Sequence[str],
                               folds: int = 5, seed=0, model=None, alpha: float = 0.05,
                               good_or_better: str = "Good",
                               rule: str = "most_probable") -> CVResult:
    """k-fold cross-validated prediction of a rating, scored against the modal-class baseline.

    Parameters
    ----------
    data : DataFrame
        One row per organisation.
    rating : str
        The rating column predicted, e.g. ``"Overall"``.
    indicators : sequence of str
        Numeric predictor columns. Rows with a missing value or no rating are left out.
    folds : int
        Number of folds (stratified by rating).
    seed : int
        Seed of the fold assignment.
    model : callable, optional
        A factory returning an object with ``fit(X, y)`` and ``predict_proba(X) -> (n, 4)``
        (``X`` a DataFrame of the training/scored rows with the original index, ``y`` rating
        codes 0..3). Default: :class:`OrderedLogit`. Each fold gets a fresh model fitted on
        the other folds only.
    alpha : float
        1 - confidence level.
    good_or_better : str
        The threshold of the binary view (positive = this rating or better).
    rule : {"most_probable", "match_margins"}
        How a predicted rating is chosen from the predicted probabilities.
        ``"most_probable"``: the most probable rating (with a weak signal and one dominant
        rating this is nearly always the dominant rating). ``"match_margins"``: organisations
        are ranked by their expected rating (sum of rating code times probability) and cut so
        that the predicted ratings occur in the same proportions as in the training folds; the
        cut-offs come from the training folds' own scores. This trades accuracy for a
        prediction that uses every rating, which is what weighted kappa rewards.

    Returns
    -------
    CVResult
        ``summary``, ``confusion``, ``predictions``, ``per_fold``.

    Notes
    -----
    By default the predicted rating is the most probable one (see ``rule``). The baseline
    predicts, for each scored fold, the commonest rating of the folds it was trained on;
    ``modal_share`` is the share of organisations it gets right. When most organisations share
    one rating, accuracy is high for any model that mostly predicts it, so judge a model by
    ``accuracy_minus_modal`` and the
    weighted kappa (0 = no better than chance agreement given the margins). Intervals: Wilson
    for accuracy and modal share, paired Wald for their difference, Fleiss-Cohen-Everitt for
    kappa, DeLong for the AUC (pooled out-of-fold scores). They treat the out-of-fold
    predictions as independent, which slightly understates the uncertainty from refitting.
    """
    indicators = as_list(indicators)
    y, X, index = _model_frame(data, rating, indicators, "cross_validated_prediction")
    n = len(y)
    fold = stratified_folds(y, folds=folds, seed=seed)
    if rule not in ("most_probable", "match_margins"):
        raise ValueError(f"rule must be 'most_probable' or 'match_margins', not {rule!r}")
    factory = model if model is not None else OrderedLogit
    Xf = pd.DataFrame(X, index=index, columns=indicators)
    proba = np.full((n, K), np.nan)
    pred = np.full(n, -1)
    modal_pred = np.full(n, -1)
    per_fold = []
    for f in range(folds):
        test = fold == f
        train = ~test
        m = factory()
        m.fit(Xf[train], y[train])
        proba[test] = np.asarray(m.predict_proba(Xf[test]), dtype=float)
        if rule == "most_probable":
            pred[test] = proba[test].argmax(1)
        else:
            score_train = np.asarray(m.predict_proba(Xf[train]), dtype=float) @ np.arange(K)
            shares = np.bincount(y[train], minlength=K) / train.sum()
            cuts = np.quantile(score_train, np.cumsum(shares)[:-1])
            pred[test] = np.searchsorted(cuts, proba[test] @ np.arange(K), side="right")
        mode = int(np.bincount(y[train], minlength=K).argmax())
        modal_pred[test] = mode
        per_fold.append((f, int(train.sum()), int(test.sum()), RATINGS[mode],
                         float((pred[test] == y[test]).mean()), float((y[test] == mode).mean())))
    correct = pred == y
    modal_ok = modal_pred == y
    acc, base = correct.mean(), modal_ok.mean()
    a_lo, a_hi = proportion_ci(correct.sum(), n, alpha=alpha)
    b_lo, b_hi = proportion_ci(modal_ok.sum(), n, alpha=alpha)
    d = correct.astype(float) - modal_ok
    z = stats.norm.ppf(1 - alpha / 2)
    d_se = d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
    table = code_table(y, pred)
    kl = kappa_from_table(table, weights="linear", alpha=alpha)
    kq = kappa_from_table(table, weights="quadratic", alpha=alpha)
    cut = RATINGS.index(good_or_better)
    positive = y >= cut
    p_good = proba[:, cut:].sum(1)
    auc = auc_delong(p_good, positive, alpha=alpha)
    summary = pd.DataFrame([{
        "domain": rating, "rule": rule, "n": n, "folds": folds,
        "indicators": ", ".join(indicators),
        "accuracy": acc, "accuracy_ci_low": a_lo, "accuracy_ci_high": a_hi,
        "modal_share": base, "modal_share_ci_low": b_lo, "modal_share_ci_high": b_hi,
        "accuracy_minus_modal": acc - base,
        "accuracy_minus_modal_ci_low": acc - base - z * d_se,
        "accuracy_minus_modal_ci_high": acc - base + z * d_se,
        "weighted_kappa": kl["kappa"].item(), "weighted_kappa_ci_low": kl["ci_low"].item(),
        "weighted_kappa_ci_high": kl["ci_high"].item(),
        "quadratic_kappa": kq["kappa"].item(), "quadratic_kappa_ci_low": kq["ci_low"].item(),
        "quadratic_kappa_ci_high": kq["ci_high"].item(),
        "auc": auc["auc"], "auc_ci_low": auc["ci_low"], "auc_ci_high": auc["ci_high"],
        "binary_threshold": f"{good_or_better} or better",
        "share_good_or_better": positive.mean(),
        "n_good_or_better": int(positive.sum()), "n_worse": int((~positive).sum()),
        "modal_classes": ", ".join(sorted({r[3] for r in per_fold})),
        "predicted_classes": ", ".join(RATINGS[k] for k in np.unique(pred)),
        "seed": seed,
        "note": _cv_note(pred, modal_pred),
    }])
    confusion = pd.DataFrame(table, index=pd.Index(RATINGS, name="observed"),
                             columns=pd.Index(RATINGS, name="predicted"))
    preds = pd.DataFrame({
        "fold": fold,
        "observed": pd.Categorical.from_codes(y, dtype=RATING_DTYPE),
        "predicted": pd.Categorical.from_codes(pred, dtype=RATING_DTYPE),
        "modal_prediction": pd.Categorical.from_codes(modal_pred, dtype=RATING_DTYPE),
    }, index=index)
    for k, r in enumerate(RATINGS):
        preds[f"p_{r}"] = proba[:, k]
    preds["p_good_or_better"] = p_good
    per_fold = pd.DataFrame(per_fold, columns=["fold", "n_train", "n_test", "modal_class",
                                               "accuracy", "modal_share"])
    return CVResult(summary=summary, confusion=confusion, predictions=preds, per_fold=per_fold)


def _cv_note(pred: np.ndarray, modal_pred: np.ndarray) -> str:
    """A plain-language warning when the model only ever predicts one rating."""
    classes = np.unique(pred)
    if len(classes) == 1:
        return (f"the model predicted {RATINGS[classes[0]]} for every organisation, so its "
                "weighted kappa is 0 by construction and its interval has no width")
    if np.array_equal(pred, modal_pred):
        return "the model's predictions are identical to the modal-class baseline"
    return ""


# ---------------------------------------------------------------------------------------------
# variation at equal resources
@keeps_provenance
def variation_at_equal_resources(data: pd.DataFrame, *, rating: str, resource: str,
                                 deciles: int = 10, alpha: float = 0.05, n_perm: int = 2000,
                                 seed=0) -> pd.DataFrame:
    """The rating mix within groups (deciles) of a resource measure.

    CQC has said quality varies between providers with the same resources. This shows how
    much: for organisations ranked into ``deciles`` equal-sized groups by ``resource``, the
    share with each rating, with Wilson intervals.

    Parameters
    ----------
    data : DataFrame
        One row per organisation.
    rating : str
        The rating column.
    resource : str
        A numeric resource measure, e.g. ``payments_per_weighted_patient``.
    deciles : int
        Number of quantile groups (10 = deciles). Fewer when the measure has many ties.
    alpha : float
        1 - confidence level.
    n_perm : int
        Permutations for the exact-style p-value of the chi-square statistic (0 to skip).
    seed : int
        Seed of the permutations.

    Returns
    -------
    pandas.DataFrame
        One row per group x rating: ``decile, resource_low, resource_high, resource_median, n,
        rating, count, share, ci_low, ci_high``, then the same values on every row: ``resource``;
        a chi-square test of the same rating mix in every group, ``chi2_statistic, chi2_dof,
        chi2_p_value`` (the chi-square approximation, rough when expected counts are small) and
        ``chi2_p_value_permutation`` (ratings shuffled across groups ``n_perm`` times, which does
        not rely on large counts); and ``n_dropped``, the rows without a rating or resource value.

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Good", "Requires improvement"] * 10,
    ...                    "pay": np.arange(20.0)})
    >>> t = variation_at_equal_resources(df, rating="Overall", resource="pay", deciles=2)
    >>> t.loc[t.rating == "Good", "share"].tolist()
    [0.5, 0.5]
    """
    check_frame(data, [rating, resource], "variation_at_equal_resources")
    y = scale_codes(data[rating], name=rating, source=data.attrs.get("source"))
    x = _numeric(data, resource)
    ok = (y >= 0) & np.isfinite(x)
    y, x = y[ok], x[ok]
    if len(y) < deciles:
        raise InsufficientData(f"only {len(y)} rows with a rating and a {resource!r} value; "
                         f"cannot form {deciles} groups")
    groups = pd.qcut(x, q=deciles, labels=False, duplicates="drop")
    rows = []
    counts = []
    for g in np.unique(groups):
        m = groups == g
        c = np.bincount(y[m], minlength=K)
        counts.append(c)
        lo, hi = proportion_ci(c, m.sum(), alpha=alpha)
        for k in range(K):
            rows.append((int(g) + 1, float(x[m].min()), float(x[m].max()), float(np.median(x[m])),
                         int(m.sum()), RATINGS[k], int(c[k]), c[k] / m.sum(), lo[k], hi[k]))
    out = pd.DataFrame(rows, columns=["decile", "resource_low", "resource_high",
                                      "resource_median", "n", "rating", "count", "share",
                                      "ci_low", "ci_high"])
    out["rating"] = pd.Categorical(out["rating"], dtype=RATING_DTYPE)
    table = np.array(counts)
    keep = table.sum(0) > 0
    table = table[:, keep]
    if table.shape[0] > 1 and table.shape[1] > 1:
        chi = stats.chi2_contingency(table, correction=False)
        statistic, dof, p = float(chi.statistic), int(chi.dof), float(chi.pvalue)
        p_perm = _chi2_permutation(groups, y, statistic, n_perm, seed)
    else:
        statistic, dof, p, p_perm = np.nan, 0, np.nan, np.nan
    # the test of the whole table, on every row, so it survives filtering, merging and CSV
    out["resource"] = resource
    out["chi2_statistic"] = statistic
    out["chi2_dof"] = dof
    out["chi2_p_value"] = p
    out["chi2_p_value_permutation"] = p_perm
    out["n_perm"] = int(n_perm)
    out["n_dropped"] = int((~ok).sum())
    return out


def _chi2_permutation(groups, y, observed: float, n_perm: int, seed) -> float:
    """Share of rating shuffles whose chi-square statistic reaches the observed one."""
    if n_perm <= 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    g = np.unique(groups, return_inverse=True)[1]
    levels = np.unique(y, return_inverse=True)[1]
    G, L = g.max() + 1, levels.max() + 1
    expected = np.bincount(g, minlength=G)[:, None] * np.bincount(levels, minlength=L)[None, :]
    expected = expected / len(y)
    hits = 0
    for _ in range(n_perm):
        t = np.bincount(g * L + rng.permutation(levels), minlength=G * L).reshape(G, L)
        hits += ((t - expected) ** 2 / expected).sum() >= observed - 1e-9
    return float((hits + 1) / (n_perm + 1))


def rating_shares(data: pd.Series) -> pd.DataFrame:
    """Count and share of each rating on the scale (the baseline every prediction must beat).

    Parameters
    ----------
    data : Series
        Ratings; values off the scale are not counted.

    Returns
    -------
    DataFrame
        Indexed by rating (Inadequate to Outstanding): ``organisations, share``.

    Examples
    --------
    >>> rating_shares(pd.Series(["Good", "Good", "Inadequate", "Good"]))["share"].tolist()
    [0.25, 0.0, 0.75, 0.0]
    """
    counts = data.astype(object).value_counts().reindex(RATINGS, fill_value=0)
    out = counts.rename("organisations").to_frame()
    out["share"] = out["organisations"] / out["organisations"].sum()
    return out


@keeps_provenance
def indicator_gaps(data: pd.DataFrame, *, rating: str, indicators: Sequence[str],
                   alpha: float = 0.05) -> pd.DataFrame:
    """How far each indicator differs between organisations rated Good or better and the rest.

    The mean of each indicator among organisations rated Good or Outstanding minus its mean among
    those rated Requires improvement or Inadequate, with a Welch confidence interval (unequal
    variances), and the same difference in standard deviations of the indicator, so indicators of
    different units can be set side by side. Each indicator uses the organisations that have it
    (complete cases per indicator, not across all of them).

    Parameters
    ----------
    data : DataFrame
        One row per organisation: the ``rating`` column and numeric indicator columns.
    rating : str
        The rating column (``RATING_DTYPE`` or rating words).
    indicators : sequence of str
        Indicator columns.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per indicator: ``indicator, n, n_good_or_better, n_worse, mean_good_or_better,
        mean_worse, difference, ci_low, ci_high, p_value, difference_sd``. With fewer than two
        organisations on either side the difference and its interval are NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"Overall": ["Good", "Good", "Outstanding", "Inadequate",
    ...                                "Requires improvement", "Requires improvement"],
    ...                    "x": [10.0, 12.0, 11.0, 5.0, 6.0, 4.0]})
    >>> gaps = indicator_gaps(df, rating="Overall", indicators=["x"])
    >>> gaps.loc[0, ["n_good_or_better", "n_worse"]].tolist(), gaps.loc[0, "difference"]
    ([3, 3], np.float64(6.0))
    """
    indicators = as_list(indicators)
    check_frame(data, [rating, *indicators], "indicator_gaps")
    codes = scale_codes(data[rating], name=rating)  # 0 Inadequate .. 3 Outstanding, -1 none
    rows = []
    for ind in indicators:
        x = _numeric(data, ind)
        keep = ~np.isnan(x) & (codes >= 0)
        good, worse = x[keep & (codes >= 2)], x[keep & (codes <= 1)]
        row = {"indicator": ind, "n": int(keep.sum()), "n_good_or_better": len(good),
               "n_worse": len(worse),
               "mean_good_or_better": float(good.mean()) if len(good) else np.nan,
               "mean_worse": float(worse.mean()) if len(worse) else np.nan}
        if len(good) >= 2 and len(worse) >= 2:
            diff = row["mean_good_or_better"] - row["mean_worse"]
            vg, vw = good.var(ddof=1) / len(good), worse.var(ddof=1) / len(worse)
            se = float(np.sqrt(vg + vw))
            dof = (vg + vw) ** 2 / (vg**2 / (len(good) - 1) + vw**2 / (len(worse) - 1)) \
                if se > 0 else np.inf
            t = stats.t.ppf(1 - alpha / 2, dof)
            sd = float(x[keep].std(ddof=1))
            row.update(difference=diff, ci_low=diff - t * se, ci_high=diff + t * se,
                       p_value=float(2 * stats.t.sf(abs(diff / se), dof)) if se > 0 else np.nan,
                       difference_sd=diff / sd if sd > 0 else np.nan)
        else:
            row.update(difference=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                       difference_sd=np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=["indicator", "n", "n_good_or_better", "n_worse",
                                       "mean_good_or_better", "mean_worse", "difference",
                                       "ci_low", "ci_high", "p_value", "difference_sd"])
