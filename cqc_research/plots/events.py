"""Event-study figure: coefficients by month relative to the event, with their intervals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..metrics.events import event_contrasts

__all__ = ["event_study_plot"]

_POINT = "#005eb8"  # NHS blue
_ENDPOINT = "#7b7d7d"
_EVENT = "#c8102e"


def _tick(label: str) -> str:
    return label.replace("<=", "≤").replace(">=", "≥")


def event_study_plot(result: pd.DataFrame, *, event_label: str = "event", ylabel: str | None = None,
                     title: str | None = None, show_contrasts: bool = True, ax=None):
    """Plot event-study coefficients with confidence intervals, a zero line and the event line.

    Parameters
    ----------
    result : DataFrame
        The output of :func:`cqc_research.metrics.events.event_study`.
    event_label : str
        What month 0 is (``"publication"``, ``"inspection"``); labels the event line, drawn
        between the month before the event and the event month.
    ylabel, title : str, optional
        Axis label (the outcome's unit) and title.
    show_contrasts : bool
        Print the mean of the leads and of the lags, with intervals, in the corner.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Binned endpoints are drawn hollow and labelled ``≤k`` / ``≥k``; the reference month is
        a hollow point at zero without an interval.
    """
    need = {"rel_time", "label", "estimate", "ci_low", "ci_high", "period"}
    if not need <= set(result.columns):
        raise ValueError(f"expected the output of event_study (columns {sorted(need)})")
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 4.2))
    else:
        fig = ax.figure
    r = result.sort_values("rel_time")
    binned = r["label"].str.contains("[<>]=", regex=True)
    ref = r["period"] == "reference"
    inner = ~binned & ~ref & r["estimate"].notna()
    alpha = float(result["alpha"].iloc[0]) if "alpha" in result.columns else 0.05
    for mask, face, lab in ((inner, _POINT, f"estimate, {100 * (1 - alpha):.0f}% CI"),
                            (binned & r["estimate"].notna(), "white", "binned endpoint")):
        if not mask.any():
            continue
        d = r[mask]
        ax.errorbar(d["rel_time"], d["estimate"],
                    yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
                    fmt="o", color=_POINT if face != "white" else _ENDPOINT, mfc=face, ms=5.5,
                    capsize=2.5, lw=1.2, label=lab, zorder=3)
    if ref.any():
        ax.plot(r.loc[ref, "rel_time"], [0.0] * int(ref.sum()), "o", mfc="white", mec=_POINT, ms=6,
                label="reference month (0 by definition)", zorder=3)
    ax.axhline(0, color="#231f20", lw=0.9, zorder=1)
    ax.axvline(-0.5, color=_EVENT, lw=1.4, ls="--", zorder=1)
    ax.annotate(event_label, xy=(-0.5, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -12),
                textcoords="offset points", color=_EVENT, fontsize=9)
    # label the endpoints, the event month and every other month, so labels never collide
    keep = binned | (r["rel_time"] % 2 == 0) | (len(r) <= 15)
    ax.set_xticks(r["rel_time"].to_numpy(),
                  [_tick(lbl) if k else "" for lbl, k in zip(r["label"], keep, strict=True)], fontsize=8.5)
    ax.set_xlabel(f"months relative to {event_label}")
    outcome = str(result["outcome"].iloc[0]) if "outcome" in result.columns else "outcome"
    ax.set_ylabel(ylabel or f"change in {outcome}")
    ax.set_title(title or f"Event study around {event_label}")
    if show_contrasts and {"in_leads", "in_lags", "n_event_units", "n_units_total"} <= set(result.columns):
        lines = []
        for _, c in event_contrasts(result).iterrows():
            if not np.isfinite(c["estimate"]):
                continue
            lines.append(f"mean of {c['contrast']} {int(c['rel_from'])}..{int(c['rel_to'])}: "
                         f"{c['estimate']:+.2f} ({c['ci_low']:+.2f} to {c['ci_high']:+.2f})")
        lines.append(f"{int(result['n_event_units'].iloc[0])} organisations with events, "
                     f"{int(result['n_units_total'].iloc[0])} in all")
        # below the axes, so it never hides an interval
        ax.text(0.0, -0.32, "\n".join(lines), transform=ax.transAxes, fontsize=8.5, va="top",
                ha="left")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8.5, frameon=False)
    fig.tight_layout()
    return fig


def event_study_pair_plot(results: dict, *, ylabel: str | None = None):
    """The event studies of the inspection visit and of the publication, side by side.

    Parameters
    ----------
    results : dict of str to DataFrame
        Event kind (``"publication"``, ``"inspection"``) to its event study.
    ylabel : str, optional
        The y-axis label, shared.

    Returns
    -------
    matplotlib.figure.Figure or None
        None unless both kinds are in ``results``.
    """
    kinds = ("publication", "inspection")
    if not all(k in results for k in kinds):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, e in zip(axes, kinds, strict=True):
        event_study_plot(results[e], event_label=e, ylabel=ylabel, title=f"around the {e}", ax=ax,
                         show_contrasts=False)
    fig.tight_layout()
    return fig
