"""Rich display in JupyterLab: rating tables in CQC colours and readable result objects.

Everything here is presentation only; no function changes or computes a result. In a notebook:

>>> from cqc_research.display import show_ratings        # doctest: +SKIP
>>> show_ratings(wide, columns=["location_name", "Overall", "Well-led"])   # doctest: +SKIP

shows the table with each rating as a coloured badge (Outstanding deep green with a star, Good
green, Requires improvement amber, Inadequate red, anything not rated grey), the row count,
and the "SYNTHETIC DATA" banner when the frame came from the synthetic dataset.

:func:`register_formatters` teaches IPython to show the library's result objects
(:class:`~cqc_research.metrics.prediction.CVResult`,
:class:`~cqc_research.metrics.transitions.ImprovementTimes`,
:class:`~cqc_research.synthetic.SyntheticDataset`) as short HTML summaries instead of the
dataclass dump of every frame they hold. It registers by name, so nothing heavy is imported.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .ratings import RATING_COLOURS, normalise_rating

__all__ = [
    "RATING_TEXT_COLOURS",
    "rating_badge",
    "RatingTable",
    "show_ratings",
    "CrosstabTable",
    "show_crosstab",
    "cv_result_html",
    "improvement_times_html",
    "synthetic_dataset_html",
    "register_formatters",
]

#: Text colour on each rating's background, chosen for contrast (WCAG AA for normal text on the
#: two dark backgrounds, near-black on the light ones).
RATING_TEXT_COLOURS = {
    "Outstanding": "#ffffff",
    "Good": "#111111",
    "Requires improvement": "#111111",
    "Inadequate": "#ffffff",
    "Not rated": "#111111",
}
_BANNER = ('<div style="background:#c8102e;color:#fff;padding:4px 10px;font-weight:bold;'
           'border-radius:3px;display:inline-block;margin:2px 0 6px 0">&#9888; SYNTHETIC DATA</div>')
_BADGE_STYLE = ("display:inline-block;padding:1px 7px;border-radius:9px;font-size:0.92em;"
                "white-space:nowrap;background:{bg};color:{fg}")


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and np.isnan(value))
    except TypeError:
        return False


def rating_badge(value) -> str:
    """One rating (or non-scale status) as an HTML badge in CQC's colours.

    Parameters
    ----------
    value : str or None
        A rating in any spelling ("Requires Improvement" works), a non-scale status such as
        "Inspected but not rated", or missing.

    Returns
    -------
    str
        An HTML ``<span>``; an empty string for a missing value. Text that is neither a rating
        nor a known status is returned escaped and uncoloured.

    Examples
    --------
    >>> "&#9733;" in rating_badge("Outstanding")
    True
    >>> rating_badge(None)
    ''
    """
    if _is_missing(value):
        return ""
    rating, status = normalise_rating(value)
    if rating is not None:
        label = f"&#9733; {_esc(rating)}" if rating == "Outstanding" else _esc(rating)
        style = _BADGE_STYLE.format(bg=RATING_COLOURS[rating], fg=RATING_TEXT_COLOURS[rating])
        return f'<span class="cqc-rating" title="{_esc(rating)}" style="{style}">{label}</span>'
    if status is not None:
        style = _BADGE_STYLE.format(bg=RATING_COLOURS["Not rated"], fg=RATING_TEXT_COLOURS["Not rated"])
        return f'<span class="cqc-rating" title="{_esc(status)}" style="{style}">{_esc(status)}</span>'
    return _esc(value)


def _looks_like_ratings(series: pd.Series) -> bool:
    """A column holds ratings when every value (or category) is a rating or a non-scale status,
    and at least one is a rating."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = [str(c) for c in dtype.categories]
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        values = series.dropna().astype(str).unique()[:200]
    else:
        return False
    parsed = [normalise_rating(v) for v in values]
    return (len(parsed) > 0 and all(status is not None for _, status in parsed)
            and any(rating is not None for rating, _ in parsed))


def _format_cell(value) -> str:
    if _is_missing(value):
        return '<span style="color:#999">&ndash;</span>'
    if isinstance(value, pd.Timestamp):
        return _esc(value.strftime("%Y-%m-%d") if value == value.normalize() else value)
    if isinstance(value, float | np.floating):
        return _esc(f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}")
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return _esc(f"{value:,}")
    return _esc(value)


class RatingTable:
    """A table whose rating columns are drawn as coloured badges in JupyterLab.

    The frame itself is untouched (``.data``); only the notebook display changes. Plain-text
    displays (a terminal, ``print``) show the frame as pandas would, under a one-line header.

    Parameters
    ----------
    data : DataFrame
        Any table, e.g. the wide ratings table from
        :func:`cqc_research.io.cqc_files.ratings_wide`.
    columns : sequence of str, optional
        The columns to show (default: all).
    rating_columns : sequence of str, optional
        The columns drawn as badges. Default: every column of ``RATING_DTYPE``, and text columns
        whose values are all ratings or non-scale statuses (``rating_status`` included).
    max_rows : int
        Rows shown (the first ``max_rows``); the caption says how many there are.
    caption : str, optional
        A title shown above the table.

    Examples
    --------
    >>> t = RatingTable(pd.DataFrame({"name": ["A"], "Overall": ["Good"]}))
    >>> t.rating_columns
    ['Overall']
    >>> "#6fb33f" in t._repr_html_()
    True
    """

    def __init__(self, data: pd.DataFrame, *, columns: Sequence[str] | None = None,
                 rating_columns: Sequence[str] | None = None, max_rows: int = 20,
                 caption: str | None = None):
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"RatingTable needs a pandas DataFrame, not {type(data).__name__}")
        if columns is not None:
            missing = [c for c in columns if c not in data.columns]
            if missing:
                raise KeyError(f"no column(s) {missing} in the table; columns: {list(data.columns)[:25]}")
        self.data = data
        self.columns = list(columns) if columns is not None else list(data.columns)
        if rating_columns is None:
            rating_columns = [c for c in self.columns if _looks_like_ratings(data[c])]
        self.rating_columns = list(rating_columns)
        self.max_rows = int(max_rows)
        self.caption = caption

    @property
    def synthetic(self) -> bool:
        """True when the frame came from the synthetic dataset (``data.attrs['synthetic']``)."""
        return bool(self.data.attrs.get("synthetic", False))

    def __repr__(self) -> str:
        head = (f"RatingTable: {len(self.data):,} rows x {len(self.columns)} columns"
                f"{' (SYNTHETIC DATA)' if self.synthetic else ''}")
        with pd.option_context("display.max_rows", self.max_rows, "display.width", 120):
            return f"{head}\n{self.data[self.columns].head(self.max_rows)!r}"

    def _repr_html_(self) -> str:
        shown = self.data[self.columns].head(self.max_rows)
        rating_cols = set(self.rating_columns)
        head = "".join(f'<th style="text-align:left;padding:3px 8px">{_esc(c)}</th>' for c in self.columns)
        rows = []
        for values in shown.itertuples(index=False, name=None):
            cells = []
            for col, v in zip(self.columns, values, strict=True):
                content = (rating_badge(v) or _format_cell(v)) if col in rating_cols else _format_cell(v)
                cells.append(f'<td style="text-align:left;padding:3px 8px">{content}</td>')
            rows.append(f"<tr>{''.join(cells)}</tr>")
        n = len(self.data)
        more = (f"showing the first {len(shown):,} of {n:,} rows" if n > len(shown)
                else f"{n:,} row{'s' if n != 1 else ''}")
        caption = f"<strong>{_esc(self.caption)}</strong> &middot; " if self.caption else ""
        return (f'<div class="cqc-rating-table">{_BANNER if self.synthetic else ""}'
                f'<div style="color:#555;margin:2px 0">{caption}{more}</div>'
                f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>")

    def to_html(self) -> str:
        """The HTML shown in a notebook.

        Returns
        -------
        str
            A ``<div class="cqc-rating-table">`` holding the caption, the row count, the synthetic
            banner when it applies, and the table with badges in the rating columns.
        """
        return self._repr_html_()


def show_ratings(data: pd.DataFrame, columns: Sequence[str] | None = None, *,
                 max_rows: int = 20, caption: str | None = None,
                 rating_columns: Sequence[str] | None = None) -> RatingTable:
    """Show a ratings table in CQC colours (the last expression of a cell displays it).

    Parameters
    ----------
    data : DataFrame
        Any table, e.g. the wide ratings table from
        :func:`cqc_research.io.cqc_files.ratings_wide`.
    columns : sequence of str, optional
        The columns to show (default: all).
    max_rows : int
        Rows shown (the first ``max_rows``); the caption says how many there are.
    caption : str, optional
        A title shown above the table.
    rating_columns : sequence of str, optional
        The columns drawn as badges (default: those that hold ratings; see :class:`RatingTable`).

    Returns
    -------
    RatingTable
        Displays itself in JupyterLab; the frame is unchanged in ``.data``.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["A", "B"], "Overall": ["Good", "Inadequate"]})
    >>> show_ratings(df).rating_columns
    ['Overall']
    """
    return RatingTable(data, columns=columns, rating_columns=rating_columns, max_rows=max_rows,
                       caption=caption)


class CrosstabTable:
    """A rating-by-rating cross-tabulation shaded by share, with rating badges as headers.

    Parameters
    ----------
    table : DataFrame
        Counts with ratings as the index and the columns, e.g.
        :func:`cqc_research.metrics.agreement.crosstab`.
    normalize : {"index", "columns", None}
        What the shading (and the percentage under each count) is a share of: the row (default),
        the column, or nothing (counts only).

    Examples
    --------
    >>> t = pd.DataFrame([[3, 1], [0, 4]], index=["Good", "Outstanding"],
    ...                  columns=["Good", "Outstanding"])
    >>> "75%" in CrosstabTable(t)._repr_html_()
    True
    """

    def __init__(self, table: pd.DataFrame, *, normalize: str | None = "index"):
        if normalize not in ("index", "columns", None):
            raise ValueError(f"normalize must be 'index', 'columns' or None, not {normalize!r}")
        self.table = table
        self.normalize = normalize

    def __repr__(self) -> str:
        return f"CrosstabTable ({self.table.index.name} x {self.table.columns.name})\n{self.table!r}"

    def _repr_html_(self) -> str:
        t = self.table.astype(float)
        if self.normalize == "index":
            share = t.div(t.sum(axis=1).replace(0, np.nan), axis=0)
        elif self.normalize == "columns":
            share = t.div(t.sum(axis=0).replace(0, np.nan), axis=1)
        else:
            share = None
        corner = f"{_esc(t.index.name or '')} &darr; / {_esc(t.columns.name or '')} &rarr;"
        head = "".join(f'<th style="padding:3px 8px">{rating_badge(c) or _esc(c)}</th>' for c in t.columns)
        rows = []
        for r in t.index:
            cells = []
            for c in t.columns:
                count = t.loc[r, c]
                if share is not None and pd.notna(share.loc[r, c]):
                    s = float(share.loc[r, c])
                    bg = f"rgba(11,107,58,{0.08 + 0.6 * s:.2f})"
                    fg = "#fff" if s > 0.6 else "#111"
                    text = f"{count:,.0f}<br><small>{s:.0%}</small>"
                else:
                    bg, fg, text = "transparent", "#111", f"{count:,.0f}"
                cells.append(f'<td style="text-align:center;padding:4px 10px;background:{bg};color:{fg}">{text}</td>')
            rows.append(f'<tr><th style="text-align:left;padding:3px 8px">{rating_badge(r) or _esc(r)}</th>'
                        f"{''.join(cells)}</tr>")
        what = {"index": "share of each row", "columns": "share of each column", None: "counts"}[self.normalize]
        return (f'<div class="cqc-crosstab"><table style="border-collapse:collapse">'
                f'<thead><tr><th style="padding:3px 8px;font-weight:normal;color:#555">{corner}</th>{head}'
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f'<div style="color:#555;font-size:0.9em">shading: {what}</div></div>')


def show_crosstab(table: pd.DataFrame, *, normalize: str | None = "index") -> CrosstabTable:
    """Show a rating cross-tabulation shaded by row (or column) share; see :class:`CrosstabTable`.

    Parameters
    ----------
    table : DataFrame
        Counts with ratings as the index and the columns, e.g.
        :func:`cqc_research.metrics.agreement.crosstab`.
    normalize : {"index", "columns", None}
        What the shading is a share of: the row (default), the column, or nothing.

    Returns
    -------
    CrosstabTable
        Displays itself in JupyterLab; the counts are unchanged in ``.table``.
    """
    return CrosstabTable(table, normalize=normalize)


# ---------------------------------------------------------------------------------------------
# HTML summaries of the library's result objects
def _frame_html(frame: pd.DataFrame, *, max_rows: int = 12, digits: int = 3) -> str:
    shown = frame.head(max_rows)
    num = shown.select_dtypes("number").columns
    return shown.round({c: digits for c in num}).to_html(index=False, border=0, na_rep="–")


def _ci(row, col: str, fmt: str = "{:.3f}") -> str:
    lo, hi = row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high")
    value = fmt.format(row[col])
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return value
    return f"{value} (95% CI {fmt.format(lo)} to {fmt.format(hi)})"


def cv_result_html(result) -> str:
    """HTML summary of a :class:`~cqc_research.metrics.prediction.CVResult`.

    Accuracy beside the modal-class baseline, weighted kappa and AUC with their intervals,
    the plain-language note, and the confusion matrix in rating colours.

    Parameters
    ----------
    result : CVResult
        From :func:`cqc_research.metrics.prediction.cross_validated_prediction` (anything
        with a one-row ``summary`` frame and a ``confusion`` table).

    Returns
    -------
    str
        An HTML fragment.
    """
    s = result.summary.iloc[0]
    items = [
        f"<li>accuracy {_ci(s, 'accuracy', '{:.1%}')}</li>",
        f"<li>always guessing the commonest rating (modal class): {_ci(s, 'modal_share', '{:.1%}')}</li>",
        f"<li>accuracy minus the baseline: {_ci(s, 'accuracy_minus_modal', '{:+.1%}')}</li>",
        f"<li>weighted kappa (linear): {_ci(s, 'weighted_kappa', '{:.3f}')}</li>",
        f"<li>AUC ({_esc(s.get('binary_threshold', ''))}): {_ci(s, 'auc', '{:.3f}')}</li>",
    ]
    note = f"<p style='color:#8a5a00'>&#9888; {_esc(s['note'])}</p>" if s.get("note") else ""
    return (f"<div><strong>Cross-validated prediction of {_esc(s['domain'])}</strong> "
            f"({int(s['n']):,} organisations, {int(s['folds'])} folds; indicators: "
            f"{_esc(s.get('indicators', ''))})<ul>{''.join(items)}</ul>{note}"
            f"<p>Observed (rows) against predicted (columns):</p>"
            f"{CrosstabTable(result.confusion)._repr_html_()}</div>")


def improvement_times_html(times) -> str:
    """HTML summary of :class:`~cqc_research.metrics.transitions.ImprovementTimes`.

    The number of spells, the median months to improvement and the share improved by each horizon.

    Parameters
    ----------
    times : ImprovementTimes
        From :func:`cqc_research.metrics.transitions.time_to_improvement`.

    Returns
    -------
    str
        An HTML fragment.
    """
    return ("<div><strong>Time to improvement (Kaplan-Meier)</strong>"
            f"<p>{len(times.episodes):,} spells. Median months to the first better rating, "
            "with 95% intervals:</p>"
            f"{_frame_html(times.median)}"
            "<p>Share improved by each horizon:</p>"
            f"{_frame_html(times.improved_by, max_rows=20)}"
            "<p style='color:#555'>Attributes: <code>.episodes</code>, <code>.median</code>, "
            "<code>.survival</code>, <code>.improved_by</code>.</p></div>")


def synthetic_dataset_html(dataset) -> str:
    """HTML summary of a :class:`~cqc_research.synthetic.SyntheticDataset`.

    The synthetic banner, the root folder, seed, scale, the counts in ``truth["counts"]`` and the
    files written.

    Parameters
    ----------
    dataset : SyntheticDataset
        From :func:`cqc_research.synthetic.generate`.

    Returns
    -------
    str
        An HTML fragment.
    """
    truth = getattr(dataset, "truth", {}) or {}
    counts = truth.get("counts", {})
    rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in counts.items()
                   if not isinstance(v, dict))
    files = "".join(f"<li><code>{_esc(k)}</code></li>" for k in getattr(dataset, "paths", {}))
    return (f"<div>{_BANNER}<br><strong>Synthetic dataset</strong> at <code>{_esc(dataset.root)}</code>"
            f" (seed {_esc(truth.get('seed', '?'))}, scale {_esc(truth.get('scale', '?'))})"
            f"<table>{rows}</table><details><summary>files</summary><ul>{files}</ul></details>"
            "<p style='color:#555'>The planted effects are in <code>.truth</code> "
            "(<code>truth.json</code>).</p></div>")


_FORMATTERS = [
    ("cqc_research.metrics.prediction", "CVResult", cv_result_html),
    ("cqc_research.metrics.transitions", "ImprovementTimes", improvement_times_html),
    ("cqc_research.synthetic", "SyntheticDataset", synthetic_dataset_html),
]


def register_formatters(ip=None) -> bool:
    """Show the library's result objects as HTML summaries in this IPython session.

    Parameters
    ----------
    ip : IPython.core.interactiveshell.InteractiveShell, optional
        Default: the running shell.

    Returns
    -------
    bool
        False (and nothing changes) outside IPython.
    """
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency
            return False
        ip = get_ipython()
    if ip is None:
        return False
    html_formatter = ip.display_formatter.formatters["text/html"]
    for module, name, func in _FORMATTERS:
        html_formatter.for_type_by_name(module, name, func)
    return True

