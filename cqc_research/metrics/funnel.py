"""Funnel plot limits for comparing units (areas, trusts, practices) with overdispersion.

A funnel plot puts each unit's indicator against its size (denominator, or expected count) and
draws control limits around a target that narrow as the size grows. Units outside the 95%
("warning") and 99.8% ("alarm") limits are flagged. This module follows Spiegelhalter (2005),
"Handling over-dispersion of performance indicators" (Quality and Safety in Health Care 14:347),
in the form used by NHS-R's FunnelPlotR:

1. Each unit gets a z-score on a chosen scale, ``z = (g(y) - g(target)) / s``, where ``g`` is a
   transformation (identity, or a variance-stabilising one) and ``s`` the standard error at the
   target for that unit's size.
2. The z-scores are winsorised (by default the lowest and highest 10% are pulled in to the 10th
   and 90th percentiles) so that genuine outliers do not inflate the estimate of spread.
3. The overdispersion factor is ``phi = mean(winsorised z**2)`` over the ``I`` units. Without
   overdispersion ``phi`` is about 1 (``I * phi`` is roughly chi-squared on ``I - 1`` degrees of
   freedom, which gives the ``overdispersion_p`` reported).
4. The adjustment is either

   - **additive** (the default, as in FunnelPlotR and NHS Digital's SHMI): a between-unit variance
     ``tau2 = max(0, (I * phi - (I - 1)) / (sum(w) - sum(w**2) / sum(w)))`` with ``w = 1 / s**2``
     (DerSimonian-Laird), so limits are ``g(target) +/- z_a * sqrt(s**2 + tau2)``;
   - **multiplicative**: limits ``g(target) +/- z_a * sqrt(phi) * s``, applied only when
     ``phi > 1`` (limits are never narrowed).

   Adjusted z-scores are ``(g(y) - g(target)) / sqrt(s**2 + tau2)`` or ``z / sqrt(phi)``.

Winsorising is a trade-off. It protects ``phi`` from real outliers, but when there are none it
underestimates the spread: for normal z-scores, 10% winsorising at each end gives
``E[z_w**2] = 0.68``, so the adjusted 95% limits then flag about 12% of units rather than 5%.
``winsorise=0`` removes that bias (and is the better choice with few units or no suspected
outliers); 0.1 is kept as the default for comparability with FunnelPlotR and NHS publications.

Scales (``transform``)
----------------------
``"none"``
    The normal approximation on the natural scale: for proportions ``s = sqrt(p0 (1 - p0) / n)``
    (binomial); for ratios ``s = sqrt(target / E)`` (Poisson).
``"asin"`` (proportions; FunnelPlotR's default for proportions)
    ``g(p) = arcsin(sqrt(p))`` with ``s = 1 / (2 sqrt(n))``.
``"sqrt"`` (ratios; CQC / Spiegelhalter's method)
    ``g(r) = sqrt(r)`` with ``s = 1 / (2 sqrt(E))``.
``"log"`` (ratios; the SHMI method)
    ``g(r) = log(r)`` with ``s = 1 / sqrt(target * E)``.

``transform="auto"`` picks ``"asin"`` for proportions and ``"sqrt"`` for ratios and rates; these
scales make the winsorised ``phi`` behave for small counts. Limits are always reported on the
natural scale (back-transformed), so they can be drawn directly.

Kinds of indicator (``kind``)
-----------------------------
``"proportion"``
    ``numerator / denominator`` (or ``value`` with size ``n``), e.g. the share of care homes rated
    Good or Outstanding in a local authority. The default target is the pooled proportion.
``"ratio"``
    An indirectly standardised ratio ``observed / expected`` (SHMI-like): pass observed as
    ``numerator`` and expected as ``denominator`` (or ``value`` and ``n = expected``). The default
    target is 1.
``"rate"``
    Counts per unit of exposure, e.g. delayed days per person aged 65+: ``numerator`` counts over
    ``denominator`` exposure. The default target is the pooled rate; the unit is handled as a ratio
    with ``expected = target * denominator``. Use ``multiplier`` (e.g. 100000) to report per 100,000.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataFormatError

__all__ = ["funnel_limits", "funnel_curve", "FunnelSpec"]

_KINDS = ("proportion", "ratio", "rate")
_TRANSFORMS = {"proportion": ("none", "asin"), "ratio": ("none", "sqrt", "log"),
               "rate": ("none", "sqrt", "log")}


@dataclass(frozen=True)
class FunnelSpec:
    """Everything needed to redraw the funnel: stored in ``table.attrs["funnel"]`` as a dict."""

    kind: str
    transform: str
    target: float
    levels: tuple
    method: str
    phi: float
    tau2: float
    overdispersion: bool
    adjusted: bool
    winsorise: float
    n_units: int
    overdispersion_p: float
    multiplier: float = 1.0
    rate_target: float | None = None  # for kind="rate": the pooled rate (per 1, before multiplier)


def _tag(level: float) -> str:
    """``0.95 -> "95"``, ``0.998 -> "998"``: the suffix of limit and flag columns."""
    return f"{level * 100:g}".replace(".", "")


def _g(y, transform):
    y = np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "asin":
            return np.arcsin(np.sqrt(np.clip(y, 0, 1)))
        if transform == "sqrt":
            return np.sqrt(np.clip(y, 0, None))
        if transform == "log":
            return np.log(y)
    return y


def _g_inv(x, transform):
    x = np.asarray(x, dtype=float)
    if transform == "asin":
        return np.sin(np.clip(x, 0, np.pi / 2)) ** 2
    if transform == "sqrt":
        return np.clip(x, 0, None) ** 2
    if transform == "log":
        return np.exp(x)
    return x


def _se(n, target, kind, transform):
    """Standard error on the transformed scale at the target, for sizes ``n``."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "asin" or transform == "sqrt":
            return 1.0 / (2.0 * np.sqrt(n))
        if transform == "log":
            return 1.0 / np.sqrt(target * n)
        if kind == "proportion":
            return np.sqrt(target * (1.0 - target) / n)
        return np.sqrt(target / n)


def _bounds(n, spec: FunnelSpec, level: float):
    """Lower and upper limits on the natural scale for sizes ``n`` at a two-sided ``level``."""
    za = stats.norm.ppf(0.5 + level / 2.0)
    s = _se(n, spec.target, spec.kind, spec.transform)
    if spec.adjusted and spec.method == "additive":
        sd = np.sqrt(s**2 + spec.tau2)
    elif spec.adjusted and spec.method == "multiplicative":
        sd = np.sqrt(spec.phi) * s
    else:
        sd = s
    centre = _g(spec.target, spec.transform)
    lo = _g_inv(centre - za * sd, spec.transform)
    hi = _g_inv(centre + za * sd, spec.transform)
    if spec.kind == "proportion":
        lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
    else:
        lo = np.clip(lo, 0, None)
    scale = spec.multiplier * spec.rate_target if spec.kind == "rate" else 1.0
    return lo * scale, hi * scale


def _column(data, name, role):
    if name not in data.columns:
        raise DataFormatError(f"no column {name!r} for the {role}; columns present: {list(data.columns)}",
                              column=name)
    s = pd.to_numeric(data[name], errors="coerce")
    bad = s.isna() & data[name].notna()
    if bad.any():
        first = data.index[bad.to_numpy()][0]
        raise DataFormatError(f"{role} must be numeric; found {data.loc[first, name]!r} at index {first!r}",
                              column=name)
    return s.astype(float)


def _check(mask, data, values, column, message):
    if mask.any():
        first = data.index[np.asarray(mask)][0]
        raise DataFormatError(f"{message}; found {values.loc[first]!r} at index {first!r}", column=column)


def funnel_limits(
    data: pd.DataFrame,
    numerator: str | None = None,
    denominator: str | None = None,
    *,
    value: str | None = None,
    n: str | None = None,
    unit: str | None = None,
    kind: str = "proportion",
    target: float | None = None,
    limits: tuple[float, ...] = (0.95, 0.998),
    overdispersion: bool = True,
    method: str = "additive",
    winsorise: float = 0.10,
    transform: str = "auto",
    multiplier: float = 1.0,
) -> pd.DataFrame:
    """Per-unit z-scores, funnel limits and outlier flags, with an overdispersion adjustment.

    Give either ``numerator`` and ``denominator`` columns, or ``value`` and ``n`` columns.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    numerator, denominator : str, optional
        Counts: events and size (proportion), observed and expected (ratio), or events and
        exposure (rate).
    value, n : str, optional
        The indicator and the unit's size instead of counts: a proportion in [0, 1] and its
        denominator, or a ratio and its expected count, or a rate (per ``multiplier``) and its
        exposure.
    unit : str, optional
        The column naming each unit; kept first in the result.
    kind : {"proportion", "ratio", "rate"}
        See the module notes.
    target : float, optional
        The centre line, on the natural scale (a proportion, a ratio, or a rate per
        ``multiplier``). Defaults: pooled proportion, 1 for ratios, pooled rate.
    limits : tuple of float
        Two-sided coverage of the control limits; the defaults give the 95% and 99.8% limits.
    overdispersion : bool
        Whether to widen the limits for overdispersion (see ``method``). The unadjusted z-scores
        are always reported in ``z``.
    method : {"additive", "multiplicative"}
        Additive random-effects ``tau2`` (default) or multiplicative ``phi``.
    winsorise : float
        Share winsorised at each end of the z-scores before estimating ``phi`` (0 for none).
    transform : {"auto", "none", "asin", "sqrt", "log"}
        The scale of the z-scores (see the module notes).
    multiplier : float
        For rates: report ``value``, ``target`` and the limits per ``multiplier`` (e.g. 100000).

    Returns
    -------
    DataFrame
        One row per unit, in input order: ``unit`` (when given), ``numerator``, ``denominator``
        (when given), ``value`` (the indicator on the natural scale), ``n`` (the size used on the
        x axis), ``target``, ``z`` (unadjusted), ``z_adj`` (after the overdispersion adjustment;
        equal to ``z`` when none applies), ``lower_95, upper_95, lower_998, upper_998`` (one pair
        per level), ``outside_95, outside_998`` (booleans), and ``flag`` ("within", "high 95%",
        "low 99.8%", ...). ``attrs["funnel"]`` holds the :class:`FunnelSpec` as a dict (target,
        ``phi``, ``tau2``, the method and scale), which :func:`funnel_curve` uses to draw the lines.

    Raises
    ------
    DataFormatError
        For a missing or non-numeric column, negative sizes, or proportions outside [0, 1]
        (naming the column and the first offending row).

    Examples
    --------
    >>> df = pd.DataFrame({"area": list("abc"), "good": [40, 45, 20], "homes": [50, 50, 40]})
    >>> out = funnel_limits(df, "good", "homes", unit="area", transform="none", overdispersion=False)
    >>> round(out.attrs["funnel"]["target"], 4)
    0.75
    >>> out["flag"].tolist()
    ['within', 'high 95%', 'low 99.8%']
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, not {kind!r}")
    if method not in ("additive", "multiplicative"):
        raise ValueError(f"method must be 'additive' or 'multiplicative', not {method!r}")
    if transform == "auto":
        transform = "asin" if kind == "proportion" else "sqrt"
    if transform not in _TRANSFORMS[kind]:
        raise ValueError(f"transform {transform!r} does not suit kind={kind!r}; choose from "
                         f"{('auto',) + _TRANSFORMS[kind]}")
    if not 0 <= winsorise < 0.5:
        raise ValueError(f"winsorise must be in [0, 0.5), not {winsorise}")
    levels = tuple(sorted(float(x) for x in limits))
    if not levels or any(not 0 < x < 1 for x in levels):
        raise ValueError(f"limits must be coverages strictly between 0 and 1, e.g. (0.95, 0.998); got {limits}")
    counts = numerator is not None or denominator is not None
    if counts and (value is not None or n is not None):
        raise ValueError("give either numerator and denominator, or value and n, not both")
    if counts and (numerator is None or denominator is None):
        raise ValueError("give both numerator and denominator")
    if not counts and (value is None or n is None):
        raise ValueError("give numerator and denominator, or value and n")

    out = pd.DataFrame(index=data.index)
    if unit is not None:
        if unit not in data.columns:
            raise DataFormatError(f"no unit column {unit!r}; columns present: {list(data.columns)}", column=unit)
        out[unit] = data[unit]
    if counts:
        num = _column(data, numerator, "numerator")
        den = _column(data, denominator, "denominator")
        _check(num < 0, data, num, numerator, "numerators must be non-negative")
        _check(den < 0, data, den, denominator, "denominators must be non-negative")
        if kind == "proportion":
            _check(num > den, data, num, numerator, f"numerators must not exceed {denominator!r} for proportions")
        out["numerator"], out["denominator"] = num, den
        size = den
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = (num / den).where(den > 0)
    else:
        raw = _column(data, value, "value")
        size = _column(data, n, "size (n)")
        _check(size < 0, data, size, n, "sizes must be non-negative")
        if kind == "proportion":
            _check((raw < 0) | (raw > 1), data, raw, value,
                   "proportions must lie in [0, 1] (divide percentages by 100)")
        elif kind == "rate":
            raw = raw / multiplier
        else:
            _check(raw < 0, data, raw, value, "ratios must be non-negative")
        num = raw * size
    usable = (size > 0) & raw.notna() & size.notna()
    if usable.sum() < 2:
        raise ValueError(f"funnel limits need at least two units with a positive size; got {int(usable.sum())}")

    rate_target = None
    if kind == "proportion":
        theta = float(num[usable].sum() / size[usable].sum()) if target is None else float(target)
        if not 0 < theta < 1:
            raise ValueError(f"the proportion target must lie strictly between 0 and 1; got {theta}")
        y, x = raw, size
    elif kind == "ratio":
        theta = 1.0 if target is None else float(target)
        y, x = raw, size
    else:  # rate: a ratio against expected = rate_target * exposure
        rate_target = (float(num[usable].sum() / size[usable].sum()) if target is None
                       else float(target) / multiplier)
        if rate_target <= 0:
            raise ValueError(f"the rate target must be positive; got {rate_target * multiplier}")
        theta = 1.0
        y, x = raw / rate_target, size * rate_target
    if multiplier != 1 and kind != "rate":
        raise ValueError("multiplier applies to kind='rate' only")
    if theta <= 0:
        raise ValueError(f"the target must be positive; got {theta}")

    s = pd.Series(_se(x, theta, kind, transform), index=data.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (pd.Series(_g(y, transform), index=data.index) - _g(theta, transform)) / s
    z = z.where(usable)
    zu = z[usable & np.isfinite(z)].to_numpy()
    if winsorise > 0 and len(zu):
        lo_q, hi_q = np.quantile(zu, [winsorise, 1 - winsorise])
        zw = np.clip(zu, lo_q, hi_q)
    else:
        zw = zu
    n_units = len(zw)
    phi = float(np.mean(zw**2)) if n_units else np.nan
    w = 1.0 / s[usable & np.isfinite(z)].to_numpy() ** 2
    if n_units > 1 and n_units * phi > n_units - 1:
        tau2 = float(max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w**2).sum() / w.sum())))
    else:
        tau2 = 0.0
    od_p = float(stats.chi2.sf(n_units * phi, n_units - 1)) if n_units > 1 else np.nan
    adjusted = bool(overdispersion and ((method == "additive" and tau2 > 0)
                                        or (method == "multiplicative" and phi > 1)))
    spec = FunnelSpec(kind=kind, transform=transform, target=theta, levels=levels, method=method,
                      phi=phi, tau2=tau2 if method == "additive" else 0.0,
                      overdispersion=overdispersion, adjusted=adjusted, winsorise=winsorise,
                      n_units=n_units, overdispersion_p=od_p, multiplier=float(multiplier),
                      rate_target=rate_target)
    if adjusted and method == "additive":
        z_adj = (pd.Series(_g(y, transform), index=data.index) - _g(theta, transform)) / np.sqrt(s**2 + tau2)
    elif adjusted:
        z_adj = z / np.sqrt(phi)
    else:
        z_adj = z.copy()
    z_adj = z_adj.where(usable)

    scale = multiplier * rate_target if kind == "rate" else 1.0
    out["value"] = raw * (multiplier if kind == "rate" else 1.0)
    out["n"] = size
    out["target"] = theta * scale if kind == "rate" else theta
    out["z"] = z
    out["z_adj"] = z_adj
    xs = x.where(usable)
    za = {lv: stats.norm.ppf(0.5 + lv / 2) for lv in levels}
    for lv in levels:
        lo, hi = _bounds(xs.to_numpy(), spec, lv)
        out[f"lower_{_tag(lv)}"], out[f"upper_{_tag(lv)}"] = lo, hi
    for lv in levels:
        out[f"outside_{_tag(lv)}"] = (z_adj.abs() > za[lv]).fillna(False).astype(bool)
    flag = pd.Series("within", index=data.index, dtype="object")
    for lv in levels:  # the widest limit crossed wins
        pct = f"{lv * 100:g}%"
        flag = flag.mask(z_adj > za[lv], f"high {pct}").mask(z_adj < -za[lv], f"low {pct}")
    out["flag"] = flag.where(usable, "no data")
    out.attrs["funnel"] = asdict(spec)
    return out


def funnel_curve(spec, *, n_min: float | None = None, n_max: float | None = None,
                 points: int = 200, n=None) -> pd.DataFrame:
    """The funnel lines: limits over a range of unit sizes, for drawing.

    Parameters
    ----------
    spec : DataFrame from :func:`funnel_limits`, FunnelSpec, or dict
        The funnel (its ``attrs["funnel"]`` when a table is given).
    n_min, n_max : float, optional
        The size range; defaults to the range of ``n`` in the table (or 1 to 1000).
    points : int
        Number of sizes, spaced on a log scale.
    n : array-like, optional
        Explicit sizes instead of a range.

    Returns
    -------
    DataFrame
        Long: ``n, level, lower, upper`` (natural scale), plus ``target``.
    """
    table = None
    if isinstance(spec, pd.DataFrame):
        table = spec
        if "funnel" not in spec.attrs:
            raise ValueError("this table has no attrs['funnel']; pass the result of funnel_limits")
        spec = spec.attrs["funnel"]
    if isinstance(spec, dict):
        spec = FunnelSpec(**{**spec, "levels": tuple(spec["levels"])})
    if n is None:
        if table is not None and n_min is None and n_max is None:
            sizes = table["n"][table["n"] > 0]
            n_min, n_max = float(sizes.min()), float(sizes.max())
        n_min = 1.0 if n_min is None else max(float(n_min), 1e-9)
        n_max = 1000.0 if n_max is None else float(n_max)
        n = np.geomspace(n_min, max(n_max, n_min * 1.0001), points)
    n = np.asarray(n, dtype=float)
    x = n * spec.rate_target if spec.kind == "rate" else n
    rows = []
    for lv in spec.levels:
        lo, hi = _bounds(x, spec, lv)
        rows.append(pd.DataFrame({"n": n, "level": lv, "lower": lo, "upper": hi}))
    out = pd.concat(rows, ignore_index=True)
    out["target"] = spec.target * (spec.multiplier * spec.rate_target if spec.kind == "rate" else 1.0)
    return out
