"""Confidence intervals for proportions, from statsmodels: one implementation for every module."""

from __future__ import annotations

import numpy as np

__all__ = ["proportion_ci"]


def proportion_ci(count, n, *, alpha: float = 0.05, method: str = "wilson"):
    """Confidence interval for a binomial proportion ``count / n``.

    A thin, vectorised wrapper of :func:`statsmodels.stats.proportion.proportion_confint` that
    returns NaN where ``n`` is 0 instead of raising.

    Parameters
    ----------
    count, n : int or array-like
        Successes and trials.
    alpha : float
        1 - confidence level (0.05: a 95% interval).
    method : str
        ``"wilson"`` (default), ``"beta"`` (exact Clopper-Pearson), or any other method
        statsmodels accepts.

    Returns
    -------
    (low, high) : tuple of float or numpy arrays
        Floats for scalar input; NaN where ``n`` is 0.

    Examples
    --------
    >>> lo, hi = proportion_ci(45, 50)
    >>> round(lo, 4), round(hi, 4)
    (0.7864, 0.9565)
    >>> lo, hi = proportion_ci(7, 10, method="beta")
    >>> round(lo, 4), round(hi, 4)
    (0.3475, 0.9333)
    """
    from statsmodels.stats.proportion import proportion_confint

    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n > 0
    lo, hi = proportion_confint(np.where(ok, count, 0), np.where(ok, n, 1), alpha=alpha,
                                method=method)
    lo = np.where(ok, np.clip(lo, 0, 1), np.nan)
    hi = np.where(ok, np.clip(hi, 0, 1), np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
