"""Generic text for sentences that tell a result: counts with their noun, an estimate with its
interval, a share with its interval, lists, and table cells.

Every research question's module in :mod:`cqc_research.studies` writes its own sentences with
these; they are tested against hand-written strings.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .metrics.intervals import proportion_ci

__all__: list[str] = []  # internal: the studies' sentences use these


def f3(x: float) -> str:
    """Three decimals without a negative zero ('-0.000' reads as '0.000')."""
    return f"{round(float(x), 3) + 0:.3f}"


def plural(n, word: str, many: str | None = None) -> str:
    """``n`` and the word, in the plural unless ``n`` is 1.

    Parameters
    ----------
    n : int
        The count (shown with thousands separators).
    word : str
        The singular.
    many : str, optional
        The plural, when it is not ``word + "s"``.

    Returns
    -------
    str

    Examples
    --------
    >>> plural(1, "spell"), plural(1200, "spell"), plural(2, "area has", "areas have")
    ('1 spell', '1,200 spells', '2 areas have')
    """
    n = int(n)
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def interval(estimate, low, high, *, fmt: str = "{:.2f}", label: str = "95% CI") -> str:
    """An estimate followed by its interval in brackets.

    Parameters
    ----------
    estimate, low, high : float
        The estimate and its limits. A missing limit gives "(no interval)".
    fmt : str
        Format of each number, e.g. ``"{:+.2f}"`` or ``"{:.0%}"``.
    label : str
        Name of the interval.

    Returns
    -------
    str

    Examples
    --------
    >>> interval(0.123, 0.05, 0.2)
    '0.12 (95% CI 0.05 to 0.20)'
    >>> interval(0.7, 0.4, 0.89, fmt="{:.0%}")
    '70% (95% CI 40% to 89%)'
    >>> interval(2.5, float("nan"), 3.0, fmt="{:.1f}")
    '2.5 (no interval)'
    """
    head = fmt.format(estimate)
    if pd.isna(low) or pd.isna(high):
        return f"{head} (no interval)"
    return f"{head} ({label} {fmt.format(low)} to {fmt.format(high)})"


def share(k, n, *, digits: int = 0, alpha: float = 0.05) -> str:
    """'k of n (p%, 95% CI a% to b%)' with a Wilson interval.

    Parameters
    ----------
    k, n : int
        Count and total.
    digits : int
        Decimals of the percentages.
    alpha : float
        1 - confidence level.

    Returns
    -------
    str
        "0 of 0 (no data)" when ``n`` is 0.

    Examples
    --------
    >>> share(7, 10)
    '7 of 10 (70%, 95% CI 40% to 89%)'
    >>> share(1, 4, digits=1)
    '1 of 4 (25.0%, 95% CI 4.6% to 69.9%)'
    """
    k, n = int(k), int(n)
    if n == 0:
        return "0 of 0 (no data)"
    lo, hi = proportion_ci(k, n, alpha=alpha)
    f = f"{{:.{digits}%}}"
    level = f"{100 * (1 - alpha):g}%"
    return f"{k:,} of {n:,} ({f.format(k / n)}, {level} CI {f.format(lo)} to {f.format(hi)})"


def listing(items: Iterable[str], *, empty: str = "none") -> str:
    """Items joined with commas, or ``empty``.

    Parameters
    ----------
    items : iterable of str
        The items, in order.
    empty : str
        What to say when there are none.

    Returns
    -------
    str

    Examples
    --------
    >>> listing(["a", "b"]), listing([])
    ('a, b', 'none')
    """
    items = [str(i) for i in items]
    return ", ".join(items) if items else empty


def share_cells(frame: pd.DataFrame, share: str = "share", low: str = "ci_low",
                high: str = "ci_high", n: str = "total") -> pd.Series:
    """Table cells '43% (30% to 57%; n=40)' from a share, its interval and its count.

    Parameters
    ----------
    frame : DataFrame
        One row per cell.
    share, low, high, n : str
        Column names.

    Returns
    -------
    Series of str
        Indexed like ``frame``.

    Examples
    --------
    >>> share_cells(pd.DataFrame({"share": [0.425], "ci_low": [0.3], "ci_high": [0.57], "total": [40]})).item()
    '42% (30% to 57%; n=40)'
    """
    return (frame[share].map("{:.0%}".format) + " (" + frame[low].map("{:.0%}".format) + " to "
            + frame[high].map("{:.0%}".format) + "; n=" + frame[n].astype(int).astype(str) + ")")


def pct(x) -> str:
    """A share as a whole percentage: 0.425 -> '42%'."""
    return f"{x:.0%}"


def pval(p) -> str:
    """A p-value to three decimals, or '< 0.001'."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
