"""Confidence intervals for proportions, from statsmodels: one implementation for every module."""

from __future__ import annotations

import numpy as np

__all__ = ["proportion_ci", "newcombe_diff_ci", "spearman_ci"]


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


def newcombe_diff_ci(k1, n1, k2, n2, *, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference of two independent shares ``k1/n1 - k2/n2``.

    The Wilson limits of each share combined by the square-and-add (MOVER) rule: Newcombe (1998),
    method 10; :func:`statsmodels.stats.proportion.confint_proportions_2indep` with
    ``method="newcomb"``. Sound at shares of 0 or 1 and in small samples.

    Parameters
    ----------
    k1, n1 : int
        Successes and trials in the first group.
    k2, n2 : int
        Successes and trials in the second group.
    alpha : float
        1 - confidence level (0.05: a 95% interval).

    Returns
    -------
    (low, high) : tuple of float
        NaN when either group is empty.

    Examples
    --------
    Newcombe's (1998) worked example, 56/70 against 48/80:

    >>> lo, hi = newcombe_diff_ci(56, 70, 48, 80)
    >>> round(lo, 4), round(hi, 4)
    (0.0524, 0.3339)
    """
    if not int(n1) or not int(n2):
        return float("nan"), float("nan")
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo, hi = confint_proportions_2indep(int(k1), int(n1), int(k2), int(n2), method="newcomb",
                                        compare="diff", alpha=alpha)
    return float(lo), float(hi)


#: Variance of atanh(rho) for a Spearman correlation, as a function of (rho, n).
_SPEARMAN_VARIANCE = {
    "bonett-wright": lambda rho, n: (1 + rho**2 / 2) / (n - 3),   # Bonett & Wright (2000)
    "fieller": lambda rho, n: 1.06 / (n - 3),                     # Fieller, Hartley & Pearson (1957)
}


def spearman_ci(rho, n, *, alpha: float = 0.05, variance: str = "bonett-wright"):
    """Fisher-z confidence interval for a Spearman correlation.

    ``tanh(atanh(rho) -/+ z * se)``, with the variance of ``atanh(rho)`` either Bonett & Wright's
    ``(1 + rho**2 / 2) / (n - 3)`` (default) or Fieller, Hartley & Pearson's ``1.06 / (n - 3)``.

    Parameters
    ----------
    rho : float or array-like
        The correlation(s); clipped to +-0.999999 before the transform.
    n : int or array-like
        Pairs behind each correlation; NaN limits where ``n <= 3``.
    alpha : float
        1 - confidence level.
    variance : {"bonett-wright", "fieller"}
        Which variance of ``atanh(rho)``.

    Returns
    -------
    (low, high) : tuple of float or numpy arrays

    Examples
    --------
    >>> lo, hi = spearman_ci(0.5, 28, variance="fieller")
    >>> round(lo, 4), round(hi, 4)
    (0.1447, 0.7411)
    """
    from scipy import stats

    if variance not in _SPEARMAN_VARIANCE:
        raise ValueError(f"variance must be one of {sorted(_SPEARMAN_VARIANCE)}, not {variance!r}")
    rho = np.asarray(rho, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n > 3
    se = np.sqrt(_SPEARMAN_VARIANCE[variance](rho, np.where(ok, n, 4)))
    z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    q = stats.norm.ppf(1 - alpha / 2)
    lo = np.where(ok, np.tanh(z - q * se), np.nan)
    hi = np.where(ok, np.tanh(z + q * se), np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi
