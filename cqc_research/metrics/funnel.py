"""Funnel plot limits for comparing units (areas, trusts, practices), with overdispersion.

A funnel plot puts each unit's indicator against its size (denominator, or expected count) and
draws control limits around a target that narrow as the size grows. Units outside the 95%
("warning") and 99.8% ("alarm") limits are flagged. This module follows Spiegelhalter (2005),
"Handling over-dispersion of performance indicators" (Quality and Safety in Health Care 14:347),
and offers every data type and method of the NHS-R package FunnelPlotR (see
``docs/coming_from_r.md`` for the mapping of its arguments, and :data:`FUNNELPLOTR_PRESETS`):

1. Each unit gets a z-score on a chosen scale, ``z = (g(y) - g(target)) / s``, where ``g`` is a
   transformation (identity, or a variance-stabilising one) and ``s`` the standard error at the
   target for that unit's size.
2. Extreme z-scores are tamed before the spread is estimated, by ``trim``:
   ``"winsorise"`` (default) pulls the lowest and highest ``winsorise`` share (10%) in to the
   percentiles (Spiegelhalter, CQC); ``"truncate"`` drops them instead, by FunnelPlotR's rank rule
   for the SHMI method (a unit is dropped when ``floor(rank * k / (I + 1))`` is 0 or ``k - 1`` or
   more, with ``k = 1 / share``), so ``I`` falls to the units kept.
3. The overdispersion factor is ``phi = mean(z**2)`` over the ``I`` units kept. Without
   overdispersion ``phi`` is about 1 (``I * phi`` is roughly chi-squared on ``I - 1`` degrees of
   freedom, which gives the ``overdispersion_p`` reported).
4. The adjustment is either

   - **additive** (the default, as in FunnelPlotR and NHS Digital's SHMI): a between-unit variance
     ``tau2 = max(0, (I * phi - (I - 1)) / (sum(w) - sum(w**2) / sum(w)))`` with ``w = 1 / s**2``
     (DerSimonian-Laird) over the units kept, so limits are ``g(target) +/- z_a * sqrt(s**2 + tau2)``;
   - **multiplicative**: limits ``g(target) +/- z_a * sqrt(phi) * s`` (limits never narrowed).

   ``adjust_if="tau2"`` (default, FunnelPlotR) applies the additive adjustment whenever
   ``tau2 > 0``, i.e. ``I * phi > I - 1``; ``adjust_if="phi"`` only when ``phi > 1`` (the
   multiplicative method always needs ``phi > 1``). Adjusted z-scores are
   ``(g(y) - g(target)) / sqrt(s**2 + tau2)`` or ``z / sqrt(phi)``.

Winsorising is a trade-off. It protects ``phi`` from real outliers, but when there are none it
underestimates the spread: for normal z-scores, 10% winsorising at each end gives
``E[z_w**2] = 0.68``, so the adjusted 95% limits then flag about 12% of units rather than 5%.
``winsorise=0`` removes that bias (and is the better choice with few units or no suspected
outliers); 0.1 is kept as the default for comparability with FunnelPlotR and NHS publications.

Unadjusted limits: normal or exact (``exact``)
----------------------------------------------
By default unadjusted limits are normal on the chosen scale. ``exact=True`` draws exact limits
whenever no overdispersion adjustment applies (FunnelPlotR always does, for ratios): for ratios
and rates the Poisson limits ``chi2.ppf(a/2, 2 mu) / (2 E)`` and
``chi2.ppf(1 - a/2, 2 (mu + 1)) / (2 E)`` with ``mu = target * E`` (FunnelPlotR's formula; at
``E = 15`` the 99.8% upper limit is 2.083, where the normal approximations give 1.80 to 2.22);
for proportions the binomial quantiles interpolated as in Spiegelhalter (2005, appendix A.1.1).
With exact limits a unit is flagged when its value lies outside them (FunnelPlotR's rule: on a
limit is inside).

Scales (``transform``)
----------------------
``"none"``
    The normal approximation on the natural scale: for proportions ``s = sqrt(p0 (1 - p0) / n)``
    (binomial); for ratios ``s = sqrt(target / E)`` (Poisson).
``"asin"`` (proportions; FunnelPlotR's ``data_type="PR"``)
    ``g(p) = arcsin(sqrt(p))`` with ``s = 1 / (2 sqrt(n))``.
``"sqrt"`` (ratios; CQC / Spiegelhalter's method, FunnelPlotR's ``sr_method="CQC"``)
    ``g(r) = sqrt(r)`` with ``s = 1 / (2 sqrt(E))``. Limits are back-transformed (squared). Note
    that FunnelPlotR does not square its CQC limits (its open issue #33), so they differ from
    these; its z-scores, phi and tau2 agree.
``"log"`` (ratios; the SHMI method, FunnelPlotR's default ``sr_method="SHMI"``)
    ``g(r) = log(r)`` with ``s = 1 / sqrt(target * E)``.

``transform="auto"`` picks ``"asin"`` for proportions, ``"sqrt"`` for ratios and rates, and
``"log"`` for ratios of counts. Limits are always reported on the natural scale.

Kinds of indicator (``kind``)
-----------------------------
``"proportion"``
    ``numerator / denominator`` (or ``value`` with size ``n``), e.g. the share of care homes rated
    Good or Outstanding in a local authority. The default target is the pooled proportion.
``"ratio"``
    An indirectly standardised ratio ``observed / expected`` (SHMI-like): pass observed as
    ``numerator`` and expected as ``denominator`` (or ``value`` and ``n = expected``). The default
    target is 1. ``round_expected=2`` rounds the expected counts as SHMI (and FunnelPlotR's SHMI
    method) do.
``"rate"``
    Counts per unit of exposure, e.g. delayed days per person aged 65+: ``numerator`` counts over
    ``denominator`` exposure. The default target is the pooled rate; the unit is handled as a ratio
    with ``expected = target * denominator``. Use ``multiplier`` (e.g. 100000) to report per 100,000.
``"ratio_of_counts"`` (FunnelPlotR's ``data_type="RC"``)
    Two counts, e.g. events this year over events last year. ``y = log((O + 0.5) / (D + 0.5))``
    with ``s = sqrt(O / (O + 0.5)**2 + D / (D + 0.5)**2)`` (the CQC formula FunnelPlotR uses),
    target the pooled ratio ``sum(O) / sum(D)``. The limits at size ``D`` use the same ``s`` at
    ``O = target * D`` (FunnelPlotR uses ``1 / (2 sqrt(D))``); units are flagged when the ratio
    ``O / D`` lies outside them.

Aggregation (``group``)
-----------------------
With ``group=`` the rows are first summed by that column (numerators and denominators), as
FunnelPlotR always does, and the result has one row per group.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataFormatError, InsufficientData
from ._contract import keeps_provenance

__all__ = ["funnel_limits", "funnel_curve", "funnel_spec", "FUNNELPLOTR_PRESETS"]

_KINDS = ("proportion", "ratio", "rate", "ratio_of_counts")
_TRANSFORMS = {"proportion": ("none", "asin"), "ratio": ("none", "sqrt", "log"),
               "rate": ("none", "sqrt", "log"), "ratio_of_counts": ("log",)}

#: FunnelPlotR's methods as keyword arguments to :func:`funnel_limits` (the default
#: ``funnel_plot(data_type="SR", sr_method="SHMI")``, ``sr_method="CQC"``, ``data_type="PR"``
#: and ``"RC"``). CQC limits here are squared back from the square-root scale; FunnelPlotR's are not.
FUNNELPLOTR_PRESETS = {
    "SHMI": {"kind": "ratio", "transform": "log", "trim": "truncate", "winsorise": 0.1,
             "round_expected": 2, "exact": True},
    "CQC": {"kind": "ratio", "transform": "sqrt", "trim": "winsorise", "winsorise": 0.1, "exact": True},
    "PR": {"kind": "proportion", "transform": "asin", "trim": "winsorise", "winsorise": 0.1},
    "RC": {"kind": "ratio_of_counts", "transform": "log", "trim": "winsorise", "winsorise": 0.1},
}


@dataclass(frozen=True)
class FunnelSpec:
    """Everything needed to redraw a funnel; :func:`funnel_limits` also writes it into its table's
    columns (:data:`SPEC_COLUMNS`), and :func:`funnel_spec` reads it back.

    Attributes
    ----------
    kind, transform, method, trim, adjust_if : str
        As passed to :func:`funnel_limits` (``transform`` resolved from "auto").
    target : float
        The centre on the natural scale (1 for rates, whose scale is ``rate_target``).
    levels : tuple of float
        Coverages of the limits, e.g. ``(0.95, 0.998)``.
    phi, tau2 : float
        Overdispersion factor and between-unit variance (0 unless additive).
    overdispersion, adjusted, exact : bool
        Whether an adjustment was asked for, whether it applied, whether unadjusted limits are exact.
    winsorise : float
        The share trimmed at each end.
    n_units : int
        Units used to estimate ``phi`` (after truncation).
    overdispersion_p : float
        P-value of ``I * phi`` against chi-squared on ``I - 1`` degrees of freedom.
    multiplier, rate_target : float
        For rates: the reporting multiplier and the pooled rate per 1.
    round_expected : int or None
        Decimals the sizes were rounded to.
    """

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
    trim: str = "winsorise"
    exact: bool = False
    adjust_if: str = "tau2"
    round_expected: int | None = None

    @property
    def exact_limits(self) -> bool:
        """Whether the limits drawn are exact (asked for, and no adjustment applied)."""
        return bool(self.exact and not self.adjusted and self.kind != "ratio_of_counts")


#: The spec fields written as columns of the funnel table (all but ``target``, already a column,
#: and ``levels``, read from the ``lower_*`` column names).
SPEC_COLUMNS = tuple(f.name for f in fields(FunnelSpec) if f.name not in ("target", "levels"))


def _tag(level: float) -> str:
    """``0.95 -> "95"``, ``0.998 -> "998"``: the suffix of limit and flag columns."""
    return f"{level * 100:g}".replace(".", "")


def _untag(tag: str) -> float:
    """Inverse of :func:`_tag` for levels of 10% and above (and whole percentages below)."""
    return int(tag) / 100 if len(tag) <= 2 else float(tag[:2] + "." + tag[2:]) / 100


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


def _rc_se(o, d):
    """FunnelPlotR's standard error of ``log((O + 0.5) / (D + 0.5))``."""
    o, d = np.asarray(o, dtype=float), np.asarray(d, dtype=float)
    return np.sqrt(o / (o + 0.5) ** 2 + d / (d + 0.5) ** 2)


def _se(n, target, kind, transform):
    """Standard error on the transformed scale at the target, for sizes ``n``."""
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio_of_counts":
            return _rc_se(target * n, n)
        if transform == "asin" or transform == "sqrt":
            return 1.0 / (2.0 * np.sqrt(n))
        if transform == "log":
            return 1.0 / np.sqrt(target * n)
        if kind == "proportion":
            return np.sqrt(target * (1.0 - target) / n)
        return np.sqrt(target / n)


def _exact_bounds(n, spec: FunnelSpec, level: float):
    """Exact unadjusted limits: Poisson (ratios, rates) or interpolated binomial (proportions)."""
    a = 1.0 - level
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if spec.kind == "proportion":
            nn = np.round(n)
            lo = _binom_limit(nn, spec.target, a / 2)
            hi = _binom_limit(nn, spec.target, 1 - a / 2)
        else:
            mu = spec.target * n
            lo = stats.chi2.ppf(a / 2, 2 * mu) / 2 / n
            hi = stats.chi2.ppf(1 - a / 2, 2 * (mu + 1)) / 2 / n
    return lo, hi


def _binom_limit(n, p0, prob):
    """Spiegelhalter's interpolated binomial quantile of a proportion: ``(r - alpha) / n`` with
    ``r`` the ``prob`` quantile of Binomial(n, p0) and ``alpha`` its share of the step at ``r``."""
    r = stats.binom.ppf(prob, n, p0)
    f_r, f_rm1 = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(f_r > f_rm1, (f_r - prob) / (f_r - f_rm1), 0.0)
        return (r - alpha) / n


def _bounds(n, spec: FunnelSpec, level: float):
    """Lower and upper limits on the natural scale for sizes ``n`` at a two-sided ``level``."""
    if spec.exact_limits:
        lo, hi = _exact_bounds(n, spec, level)
    else:
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


def _truncate_keep(z: np.ndarray, share: float) -> np.ndarray:
    """FunnelPlotR's SHMI truncation: keep z-scores whose rank group ``floor(rank k / (I + 1))``
    (``k = 1 / share``, average ranks for ties) lies strictly between 0 and ``k - 1``."""
    k = 1.0 / share
    rank = stats.rankdata(z, method="average")
    sp = np.floor(rank * k / (len(z) + 1))
    return (sp > 0) & (sp < k - 1)


def _aggregate(data, group, numerator, denominator):
    if numerator is None or denominator is None:
        raise ValueError("group= aggregates counts: give numerator and denominator columns")
    if group not in data.columns:
        raise DataFormatError(f"no group column {group!r}; columns present: {list(data.columns)}", column=group)
    num = _column(data, numerator, "numerator")
    den = _column(data, denominator, "denominator")
    agg = (pd.DataFrame({group: data[group], numerator: num, denominator: den})
           .groupby(group, sort=True, observed=True)[[numerator, denominator]].sum(min_count=1)
           .reset_index())
    return agg


@keeps_provenance
def funnel_limits(
    data: pd.DataFrame,
    *,
    numerator: str | None = None,
    denominator: str | None = None,
    value: str | None = None,
    n: str | None = None,
    unit: str | None = None,
    group: str | None = None,
    kind: str = "proportion",
    target: float | None = None,
    limits: tuple[float, ...] = (0.95, 0.998),
    overdispersion: bool = True,
    method: str = "additive",
    winsorise: float = 0.10,
    trim: str = "winsorise",
    adjust_if: str = "tau2",
    exact: bool = False,
    round_expected: int | None = None,
    transform: str = "auto",
    multiplier: float = 1.0,
) -> pd.DataFrame:
    """Per-unit z-scores, funnel limits and outlier flags, with an overdispersion adjustment.

    Give either ``numerator`` and ``denominator`` columns, or ``value`` and ``n`` columns.

    Parameters
    ----------
    data : DataFrame
        One row per unit (or several per unit with ``group=``).
    numerator, denominator : str, optional
        Counts: events and size (proportion), observed and expected (ratio), events and
        exposure (rate), or the two counts (ratio of counts).
    value, n : str, optional
        The indicator and the unit's size instead of counts: a proportion in [0, 1] and its
        denominator, or a ratio and its expected count, or a rate (per ``multiplier``) and its
        exposure.
    unit : str, optional
        The column naming each unit; kept first in the result.
    group : str, optional
        Sum ``numerator`` and ``denominator`` by this column first (one row per group in the
        result, named by ``group``), as FunnelPlotR's ``group`` argument.
    kind : {"proportion", "ratio", "rate", "ratio_of_counts"}
        See the module notes.
    target : float, optional
        The centre line, on the natural scale (a proportion, a ratio, or a rate per
        ``multiplier``). Defaults: pooled proportion, 1 for ratios, pooled rate, pooled ratio of
        counts.
    limits : tuple of float
        Two-sided coverage of the control limits; the defaults give the 95% and 99.8% limits.
    overdispersion : bool
        Whether to widen the limits for overdispersion (see ``method``). The unadjusted z-scores
        are always reported in ``z``.
    method : {"additive", "multiplicative"}
        Additive random-effects ``tau2`` (default) or multiplicative ``phi``.
    winsorise : float
        Share trimmed at each end of the z-scores before estimating ``phi`` (0 for none).
    trim : {"winsorise", "truncate"}
        Pull the trimmed z-scores in (default) or drop them (FunnelPlotR's SHMI method).
    adjust_if : {"tau2", "phi"}
        Apply the additive adjustment whenever ``tau2 > 0`` (default, FunnelPlotR) or only when
        ``phi > 1``.
    exact : bool
        Exact Poisson (ratios, rates) or binomial (proportions) limits when no adjustment applies.
    round_expected : int, optional
        Round the sizes to this many decimals first (2 for SHMI).
    transform : {"auto", "none", "asin", "sqrt", "log"}
        The scale of the z-scores (see the module notes).
    multiplier : float
        For rates: report ``value``, ``target`` and the limits per ``multiplier`` (e.g. 100000).

    Returns
    -------
    DataFrame
        One row per unit, in input order (or by group): ``unit`` (or ``group``, when given),
        ``numerator``, ``denominator`` (when given), ``value`` (the indicator on the natural
        scale), ``n`` (the size used on the x axis), ``target``, ``z`` (unadjusted), ``z_adj``
        (after the adjustment; equal to ``z`` when none applies), ``lower_95, upper_95,
        lower_998, upper_998`` (one pair per level), ``outside_95, outside_998`` (booleans),
        ``flag`` ("within", "high 95%", "low 99.8%", "no data"...), then the settings of the
        funnel, the same on every row: ``phi``, ``tau2``, ``adjusted`` and the rest of
        :data:`SPEC_COLUMNS`. :func:`funnel_spec` turns them back into a :class:`FunnelSpec`.

    Raises
    ------
    DataFormatError
        For a missing or non-numeric column, negative sizes, or proportions outside [0, 1]
        (naming the column and the first offending row).

    Examples
    --------
    >>> df = pd.DataFrame({"area": list("abc"), "good": [40, 45, 20], "homes": [50, 50, 40]})
    >>> out = funnel_limits(df, numerator="good", denominator="homes", unit="area",
    ...                     transform="none", overdispersion=False)
    >>> round(float(out["target"].iloc[0]), 4)
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
    if trim not in ("winsorise", "truncate"):
        raise ValueError(f"trim must be 'winsorise' or 'truncate', not {trim!r}")
    if adjust_if not in ("tau2", "phi"):
        raise ValueError(f"adjust_if must be 'tau2' or 'phi', not {adjust_if!r}")
    if transform == "auto":
        transform = {"proportion": "asin", "ratio_of_counts": "log"}.get(kind, "sqrt")
    if transform not in _TRANSFORMS[kind]:
        raise ValueError(f"transform {transform!r} does not suit kind={kind!r}; choose from "
                         f"{('auto',) + _TRANSFORMS[kind]}")
    if not 0 <= winsorise < 0.5:
        raise ValueError(f"winsorise must be in [0, 0.5), not {winsorise}")
    levels = tuple(sorted(float(x) for x in limits))
    if not levels or any(not 0 < x < 1 for x in levels):
        raise ValueError(f"limits must be coverages strictly between 0 and 1, e.g. (0.95, 0.998); got {limits}")
    if multiplier != 1 and kind != "rate":
        raise ValueError("multiplier applies to kind='rate' only")
    counts = numerator is not None or denominator is not None
    if counts and (value is not None or n is not None):
        raise ValueError("give either numerator and denominator, or value and n, not both")
    if counts and (numerator is None or denominator is None):
        raise ValueError("give both numerator and denominator")
    if not counts and (value is None or n is None):
        raise ValueError("give numerator and denominator, or value and n")
    if kind == "ratio_of_counts" and not counts:
        raise ValueError("kind='ratio_of_counts' needs the two counts as numerator and denominator")
    synthetic = isinstance(data, pd.DataFrame) and bool(data.attrs.get("synthetic"))
    if group is not None:
        data = _aggregate(data, group, numerator, denominator)
        unit = group

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
        if round_expected is not None:
            den = den.round(round_expected)
        out["numerator"], out["denominator"] = num, den
        size = den
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = (num / den).where(den > 0)
    else:
        raw = _column(data, value, "value")
        size = _column(data, n, "size (n)")
        if round_expected is not None:
            size = size.round(round_expected)
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
        raise InsufficientData(f"funnel limits need at least two units with a positive size; got {int(usable.sum())}")

    rate_target = None
    if kind == "proportion":
        theta = float(num[usable].sum() / size[usable].sum()) if target is None else float(target)
        if not 0 < theta < 1:
            raise ValueError(f"the proportion target must lie strictly between 0 and 1; got {theta}")
        y, x = raw, size
    elif kind in ("ratio", "ratio_of_counts"):
        if target is not None:
            theta = float(target)
        else:
            theta = 1.0 if kind == "ratio" else float(num[usable].sum() / size[usable].sum())
        y, x = raw, size
    else:  # rate: a ratio against expected = rate_target * exposure
        rate_target = (float(num[usable].sum() / size[usable].sum()) if target is None
                       else float(target) / multiplier)
        if rate_target <= 0:
            raise ValueError(f"the rate target must be positive; got {rate_target * multiplier}")
        theta = 1.0
        y, x = raw / rate_target, size * rate_target
    if theta <= 0:
        raise ValueError(f"the target must be positive; got {theta}")

    if kind == "ratio_of_counts":
        s = pd.Series(_rc_se(num, size), index=data.index)
        gy = pd.Series(np.log((num + 0.5) / (size + 0.5)), index=data.index)
    else:
        s = pd.Series(_se(x, theta, kind, transform), index=data.index)
        gy = pd.Series(_g(y, transform), index=data.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (gy - _g(theta, transform)) / s
    z = z.where(usable)
    finite = usable & np.isfinite(z)
    zu = z[finite].to_numpy()
    su = s[finite].to_numpy()
    if winsorise > 0 and len(zu) and trim == "winsorise":
        lo_q, hi_q = np.quantile(zu, [winsorise, 1 - winsorise])
        zw, sw = np.clip(zu, lo_q, hi_q), su
    elif winsorise > 0 and len(zu):
        keep = _truncate_keep(zu, winsorise)
        zw, sw = zu[keep], su[keep]
    else:
        zw, sw = zu, su
    n_units = len(zw)
    phi = float(np.mean(zw**2)) if n_units else np.nan
    w = 1.0 / sw**2
    if n_units > 1 and n_units * phi > n_units - 1:
        tau2 = float(max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w**2).sum() / w.sum())))
    else:
        tau2 = 0.0
    od_p = float(stats.chi2.sf(n_units * phi, n_units - 1)) if n_units > 1 else np.nan
    if method == "additive":
        adjusted = tau2 > 0 and (adjust_if == "tau2" or phi > 1)
    else:
        adjusted = phi > 1
    adjusted = bool(overdispersion and adjusted)
    spec = FunnelSpec(kind=kind, transform=transform, target=theta, levels=levels, method=method,
                      phi=phi, tau2=tau2 if method == "additive" else 0.0,
                      overdispersion=overdispersion, adjusted=adjusted, winsorise=winsorise,
                      n_units=n_units, overdispersion_p=od_p, multiplier=float(multiplier),
                      rate_target=rate_target, trim=trim, exact=bool(exact), adjust_if=adjust_if,
                      round_expected=round_expected)
    if adjusted and method == "additive":
        z_adj = (gy - _g(theta, transform)) / np.sqrt(s**2 + tau2)
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
    xs = x.where(usable).to_numpy()
    bounds = {lv: _bounds(xs, spec, lv) for lv in levels}
    for lv in levels:
        out[f"lower_{_tag(lv)}"], out[f"upper_{_tag(lv)}"] = bounds[lv]
    # By limits (exact limits, ratio of counts: FunnelPlotR's rule) or by z-score (normal limits).
    by_limits = spec.exact_limits or kind == "ratio_of_counts"
    highs, lows = {}, {}
    for lv in levels:
        if by_limits:
            lo, hi = bounds[lv]
            highs[lv] = (out["value"] > hi).fillna(False) & usable
            lows[lv] = (out["value"] < lo).fillna(False) & usable
        else:
            za = stats.norm.ppf(0.5 + lv / 2)
            highs[lv] = (z_adj > za).fillna(False)
            lows[lv] = (z_adj < -za).fillna(False)
        out[f"outside_{_tag(lv)}"] = (highs[lv] | lows[lv]).astype(bool)
    flag = pd.Series("within", index=data.index, dtype="object")
    for lv in levels:  # the widest limit crossed wins
        pct = f"{lv * 100:g}%"
        flag = flag.mask(highs[lv], f"high {pct}").mask(lows[lv], f"low {pct}")
    out["flag"] = flag.where(usable, "no data")
    for name in SPEC_COLUMNS:
        v = getattr(spec, name)
        out[name] = np.nan if v is None else v
    if synthetic:
        out.attrs["synthetic"] = True
    return out


@keeps_provenance
def funnel_spec(data) -> FunnelSpec:
    """The :class:`FunnelSpec` of a table from :func:`funnel_limits` (read from its columns).

    Parameters
    ----------
    data : DataFrame, FunnelSpec or dict
        A funnel table (any subset of its rows that keeps the settings columns and the
        ``lower_*`` limit columns), or a spec already.

    Returns
    -------
    FunnelSpec
    """
    if isinstance(data, FunnelSpec):
        return data
    if isinstance(data, dict):
        return FunnelSpec(**{**data, "levels": tuple(data["levels"])})
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a funnel table, FunnelSpec or dict, not {type(data).__name__}")
    missing = [c for c in (*SPEC_COLUMNS, "target") if c not in data.columns]
    if missing:
        raise ValueError(f"this table lacks the funnel settings columns {missing}; pass the result of "
                         "funnel_limits (or keep those columns when subsetting it)")
    if data.empty:
        raise InsufficientData("the funnel table has no rows")
    row = data.iloc[0]
    kw = {}
    for name in SPEC_COLUMNS:
        v = row[name]
        kw[name] = None if (not isinstance(v, str) and pd.isna(v)) else v
    for b in ("overdispersion", "adjusted", "exact"):
        kw[b] = bool(kw[b])
    kw["n_units"] = int(kw["n_units"])
    for f in ("phi", "tau2", "winsorise", "overdispersion_p", "multiplier", "rate_target"):
        kw[f] = None if kw[f] is None else float(kw[f])
    if kw["round_expected"] is not None:
        kw["round_expected"] = int(kw["round_expected"])
    levels = tuple(sorted(_untag(c[len("lower_"):]) for c in data.columns if c.startswith("lower_")))
    target = 1.0 if kw["kind"] == "rate" else float(row["target"])
    return FunnelSpec(target=target, levels=levels, **kw)


@keeps_provenance
def funnel_curve(data, *, n_min: float | None = None, n_max: float | None = None,
                 points: int = 200, n=None) -> pd.DataFrame:
    """The funnel lines: limits over a range of unit sizes, for drawing.

    Parameters
    ----------
    data : DataFrame from :func:`funnel_limits`, FunnelSpec, or dict
        The funnel (read from the table's settings columns when a table is given).
    n_min, n_max : float, optional
        The size range; defaults to the range of ``n`` in the table (or 1 to 1000).
    points : int
        Number of sizes, spaced on a log scale (whole numbers for exact binomial limits).
    n : array-like, optional
        Explicit sizes instead of a range.

    Returns
    -------
    DataFrame
        Long: ``n, level, lower, upper`` (natural scale), plus ``target``.
    """
    table = data if isinstance(data, pd.DataFrame) else None
    spec = funnel_spec(data)
    if n is None:
        if table is not None and n_min is None and n_max is None:
            sizes = table["n"][table["n"] > 0]
            n_min, n_max = float(sizes.min()), float(sizes.max())
        n_min = 1.0 if n_min is None else max(float(n_min), 1e-9)
        n_max = 1000.0 if n_max is None else float(n_max)
        n = np.geomspace(n_min, max(n_max, n_min * 1.0001), points)
        if spec.exact_limits and spec.kind == "proportion":
            n = np.unique(np.maximum(np.round(n), 1))
    n = np.asarray(n, dtype=float)
    x = n * spec.rate_target if spec.kind == "rate" else n
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for lv in spec.levels:
            lo, hi = _bounds(x, spec, lv)
            rows.append(pd.DataFrame({"n": n, "level": lv, "lower": lo, "upper": hi}))
    out = pd.concat(rows, ignore_index=True)
    out["target"] = spec.target * (spec.multiplier * spec.rate_target if spec.kind == "rate" else 1.0)
    if table is not None and table.attrs.get("synthetic"):
        out.attrs["synthetic"] = True
    return out
