"""Figures of coded interviews: prevalence by outcome, frequencies, heatmaps, case-by-code matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..qual.analysis import code_columns, code_order, group_labels
from ..qual.codebook import resolve_codebook

__all__ = ["plot_frequencies", "plot_prevalence"]

# figures
def plot_prevalence(comparison: pd.DataFrame, *, group: str = "improved", ax=None, codebook=None,
                    title: str | None = None):
    """Dot-and-interval plot of code prevalence in two groups (from :func:`compare_prevalence`).

    Each code is a row: the share of cases coded with it in the group (green) and outside it
    (red), with the table's exact intervals; codes are labelled from the codebook.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`~cqc_research.qual.analysis.compare_prevalence` output, one row per code, drawn
        top to bottom in its order.
    group : str
        The outcome compared (default ``"improved"``): the columns read are ``prev_<group>``,
        ``prev_not_<group>`` and their ``ci_low_``/``ci_high_``/``n_`` twins.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default a new figure sized to the number of rows.
    codebook : Codebook or path, optional
        Supplies the code labels and order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).
    title : str, optional
        A title for the axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    yes, no = group_labels(group)
    cmp = comparison.iloc[::-1].reset_index(drop=True)
    cb = resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.38 * len(cmp) + 1.4))
    y = np.arange(len(cmp))
    for sfx, offset, colour, name in ((yes, 0.17, "#0b6b3a", yes.replace("_", " ")),
                                      (no, -0.17, "#c8102e", no.replace("_", " "))):
        p = cmp[f"prev_{sfx}"]
        err = np.vstack([p - cmp[f"ci_low_{sfx}"], cmp[f"ci_high_{sfx}"] - p])
        ax.errorbar(p, y + offset, xerr=err, fmt="o", color=colour, ms=5, capsize=2, lw=1.2,
                    label=f"{name} (n={int(cmp[f'n_{sfx}'].iloc[0])})")
    ax.set_yticks(y, [f"{label.get(c, c + ' (not in codebook)')}" for c in cmp["code"]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of cases in which the code appears (95% exact interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return ax


def _labels(codes, codebook=None) -> list[str]:
    cb = resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    return [label.get(c, f"{c} (not in codebook)") for c in codes]


_GROUP_COLOURS = {"mechanism": "#1f4e79", "theme": "#6fb33f", "unknown": "#a0a0a0"}


def plot_frequencies(freq: pd.DataFrame, *, ax=None, codebook=None,
                     title: str | None = None):
    """Bars of the share of units coded with each code, with exact intervals.

    Parameters
    ----------
    freq : pandas.DataFrame
        :func:`~cqc_research.qual.analysis.code_frequencies` output without ``by``
        (``code, code_group, share, ci_low, ci_high, n_total, unit``); bars are coloured by code
        group.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default a new figure sized to the number of rows.
    codebook : Codebook or path, optional
        Supplies the code labels and order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).
    title : str, optional
        A title for the axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    f = freq.iloc[::-1].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.32 * len(f) + 1.2))
    y = np.arange(len(f))
    colours = [_GROUP_COLOURS.get(g, "#7a5195") for g in f["code_group"]]
    ax.barh(y, f["share"], color=colours, alpha=0.85)
    ax.errorbar(f["share"], y, xerr=np.vstack([f["share"] - f["ci_low"], f["ci_high"] - f["share"]]),
                fmt="none", ecolor="#333333", capsize=2, lw=1)
    ax.set_yticks(y, _labels(f["code"], codebook))
    ax.set_xlim(0, 1)
    unit = f["unit"].iloc[0] if "unit" in f and len(f) else "case"
    ax.set_xlabel(f"share of {unit}s in which the code appears (95% exact interval; n={int(f['n_total'].max())})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for g, c in _GROUP_COLOURS.items() if g in set(f["code_group"])]
    ax.legend(handles, [g for g in _GROUP_COLOURS if g in set(f["code_group"])], loc="lower right",
              fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_heatmap(table: pd.DataFrame, *, index: str, columns: str, value: str, fmt: str = "{:.0%}",
                 vmax: float | None = None, ax=None, codebook=None, title: str | None = None):
    """A labelled heat map of one column of a tidy table (e.g. code share by respondent role, or
    the Jaccard index of :func:`code_cooccurrence`). Code names are shown with their labels.

    Parameters
    ----------
    table : pandas.DataFrame
        A tidy table, one row per cell.
    index, columns : str
        The columns giving the heat map's rows and columns. ``code``, ``code_a`` and ``code_b``
        are put in codebook order and shown by label.
    value : str
        The column shaded and written in the cells.
    fmt : str
        Format of the cell text (default whole percentages).
    vmax : float, optional
        Top of the colour scale; default the largest value.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default a new figure sized to the number of rows.
    codebook : Codebook or path, optional
        Supplies the code labels and order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).
    title : str, optional
        A title for the axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    wide = table.pivot_table(index=index, columns=columns, values=value, aggfunc="first", observed=True)
    for axis, name in ((0, index), (1, columns)):
        if name in ("code", "code_a", "code_b"):
            wide = wide.reindex(code_order(wide.axes[axis], codebook), axis=axis)
    m = wide.to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * m.shape[1] + 2.8, 0.38 * m.shape[0] + 1.6))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax if vmax is not None else np.nanmax(m), aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * (vmax or np.nanmax(m)) else "#222222")

    def names(keys, name):
        if name in ("code", "code_a", "code_b"):
            return _labels(keys, codebook)
        return [str(k).replace("_", " ") for k in keys]

    ax.set_xticks(np.arange(m.shape[1]), names(wide.columns, columns), rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.grid(False)
    ax.set_yticks(np.arange(m.shape[0]), names(wide.index, index), fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, shrink=0.7)
    return ax


def plot_case_matrix(data: pd.DataFrame, *, codes=None, group: str = "improved", ax=None, codebook=None,
                     title: str | None = None):
    """Heat map of the case-by-code matrix, cases sorted by outcome (:func:`cases_with_outcomes`).

    One row per case, one column per code, dark where the code appears; cases with the outcome
    come first, with a red line where the outcome changes.

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`~cqc_research.qual.analysis.cases_with_outcomes` output: ``case_id``, the
        ``group`` column (1/0/NA) and one count column per code.
    codes : list of str, optional
        The code columns, in order; default
        :func:`~cqc_research.qual.analysis.code_columns` of ``data``.
    group : str
        The outcome column cases are sorted by (default ``"improved"``).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default a new figure sized to the number of rows.
    codebook : Codebook or path, optional
        Supplies the code labels and order; default the shipped codebook
        (:func:`~cqc_research.qual.codebook.load_codebook`).
    title : str, optional
        A title for the axes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    codes = list(codes if codes is not None else code_columns(data))
    d = data.assign(_g=data[group].astype("float")).sort_values(["_g", "case_id"], ascending=[False, True],
                                                                 na_position="last")
    m = (d[codes].to_numpy() > 0).astype(float)
    cb = resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * len(codes) + 2.5, min(0.12 * len(d) + 1.8, 14)))
    ax.imshow(m, aspect="auto", interpolation="nearest", cmap=ListedColormap(["#f3f3f3", "#1f4e79"]))
    ax.set_xticks(np.arange(len(codes)), [label.get(c, c) for c in codes], rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.set_yticks([])
    ax.grid(False)
    for x in np.arange(len(codes) - 1) + 0.5:
        ax.axvline(x, color="white", lw=0.8)
    status = d["_g"].to_numpy()
    edges = np.flatnonzero(np.diff(np.nan_to_num(status, nan=-1)) != 0)
    for e in edges:
        ax.axhline(e + 0.5, color="#c8102e", lw=1.5)
    ax.set_ylabel(f"cases ({int(np.nansum(status == 1))} {group.replace('_', ' ')} above the line, "
                  f"{int(np.nansum(status == 0))} not below)")
    if title:
        ax.set_title(title)
    return ax


def plot_role_shares(by_role: pd.DataFrame, *, codebook=None):
    """Heat map of the share of cases where a respondent in each role raised each code.

    Parameters
    ----------
    by_role : pandas.DataFrame
        :func:`~cqc_research.qual.analysis.code_frequencies` by ``respondent_role`` (cases).
    codebook : Codebook or path, optional
        Supplies the code labels and order.

    Returns
    -------
    matplotlib.axes.Axes
    """
    return plot_heatmap(by_role, index="code", columns="respondent_role", value="share", vmax=1,
                        codebook=codebook,
                        title="Share of cases where a respondent in the role raised the code")


def plot_cooccurrence(cooccurrence: pd.DataFrame, *, codebook=None):
    """Heat map of the Jaccard index of each pair of codes (the diagonal left out).

    Parameters
    ----------
    cooccurrence : pandas.DataFrame
        :func:`~cqc_research.qual.analysis.code_cooccurrence` output (``code_a, code_b, jaccard``).
    codebook : Codebook or path, optional
        Supplies the code labels and order.

    Returns
    -------
    matplotlib.axes.Axes
    """
    pairs = cooccurrence[cooccurrence["code_a"] != cooccurrence["code_b"]]
    return plot_heatmap(pairs, index="code_a", columns="code_b", value="jaccard", fmt="{:.2f}", vmax=1,
                        codebook=codebook, title="Co-occurrence in cases (Jaccard index)")
