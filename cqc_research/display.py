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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .provenance import BANNER_TEXT
from .ratings import RATING_COLOURS, normalise_rating
from .templating import Markup, render

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
    "text_table",
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


def _banner() -> Markup:
    return render("fragments/small_banner.html.j2", text=BANNER_TEXT)


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
        return str(render("fragments/badge.html.j2", title=rating, label=rating,
                          star=rating == "Outstanding", background=RATING_COLOURS[rating],
                          colour=RATING_TEXT_COLOURS[rating]))
    if status is not None:
        return str(render("fragments/badge.html.j2", title=status, label=status, star=False,
                          background=RATING_COLOURS["Not rated"],
                          colour=RATING_TEXT_COLOURS["Not rated"]))
    return str(Markup.escape(value))


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


def _format_cell(value):
    """A cell's display text (a plain string, escaped by the template), or a grey dash."""
    if _is_missing(value):
        return Markup('<span style="color:#999">&ndash;</span>')
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, float | np.floating):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"{value:,}"
    return str(value)


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
        rows = [[(Markup(rating_badge(v)) if col in rating_cols and rating_badge(v) else _format_cell(v))
                 for col, v in zip(self.columns, values, strict=True)]
                for values in shown.itertuples(index=False, name=None)]
        n = len(self.data)
        more = (f"showing the first {len(shown):,} of {n:,} rows" if n > len(shown)
                else f"{n:,} row{'s' if n != 1 else ''}")
        return str(render("fragments/rating_table.html.j2", synthetic=self.synthetic,
                          banner=_banner(), caption=self.caption, count_text=more,
                          columns=[str(c) for c in self.columns], rows=rows))

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
        rows = []
        for r in t.index:
            cells = []
            for c in t.columns:
                count = t.loc[r, c]
                if share is not None and pd.notna(share.loc[r, c]):
                    sh = float(share.loc[r, c])
                    cells.append({"background": f"rgba(11,107,58,{0.08 + 0.6 * sh:.2f})",
                                  "colour": "#fff" if sh > 0.6 else "#111",
                                  "count": f"{count:,.0f}", "share": f"{sh:.0%}"})
                else:
                    cells.append({"background": "transparent", "colour": "#111",
                                  "count": f"{count:,.0f}", "share": None})
            rows.append({"header": _header(r), "cells": cells})
        what = {"index": "share of each row", "columns": "share of each column", None: "counts"}[self.normalize]
        return str(render("fragments/crosstab.html.j2", row_name=t.index.name or "",
                          column_name=t.columns.name or "", headers=[_header(c) for c in t.columns],
                          rows=rows, what=what))


def _header(value):
    badge = rating_badge(value)
    return Markup(badge) if badge else str(value)


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
def _frame_html(frame: pd.DataFrame, *, max_rows: int = 12, digits: int = 3) -> Markup:
    shown = frame.head(max_rows)
    num = shown.select_dtypes("number").columns
    shown = shown.round({c: digits for c in num})
    return render("fragments/table.html.j2", columns=[str(c) for c in shown.columns],
                  rows=[[_format_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)])


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
        f"accuracy {_ci(s, 'accuracy', '{:.1%}')}",
        f"always guessing the commonest rating (modal class): {_ci(s, 'modal_share', '{:.1%}')}",
        f"accuracy minus the baseline: {_ci(s, 'accuracy_minus_modal', '{:+.1%}')}",
        f"weighted kappa (linear): {_ci(s, 'weighted_kappa', '{:.3f}')}",
        f"AUC ({s.get('binary_threshold', '')}): {_ci(s, 'auc', '{:.3f}')}",
    ]
    return str(render("fragments/cv_result.html.j2", domain=s["domain"], n=f"{int(s['n']):,}",
                      folds=int(s["folds"]), indicators=s.get("indicators", ""), items=items,
                      note=s.get("note") or None,
                      confusion=Markup(CrosstabTable(result.confusion)._repr_html_())))


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
    return str(render("fragments/improvement_times.html.j2", n=f"{len(times.episodes):,}",
                      median=_frame_html(times.median),
                      improved_by=_frame_html(times.improved_by, max_rows=20)))


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
    return dataset._repr_html_()


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



def text_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, *, wrap: Sequence[str] = ()):
    """A table of text without its index: the ``wrap`` columns left-aligned and wrapping.

    Parameters
    ----------
    frame : DataFrame
        The table.
    columns : sequence of str, optional
        The columns shown (default all).
    wrap : sequence of str
        Columns of long text.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    shown = frame[list(columns)] if columns is not None else frame
    style = shown.style.hide(axis="index")
    if wrap:
        style = style.set_properties(subset=list(wrap), **{"text-align": "left", "white-space": "normal"})
    return style
