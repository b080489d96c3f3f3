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

__all__ = ["show_ratings", "show_crosstab", "text_table", "rating_badge", "register_formatters"]

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


def _shell(ip=None):
    """``ip``, else the running IPython shell; None outside IPython."""
    if ip is not None:
        return ip
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


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
    ip = _shell(ip)
    if ip is None:
        return False
    html_formatter = ip.display_formatter.formatters["text/html"]
    for module, name, func in _FORMATTERS:
        html_formatter.for_type_by_name(module, name, func)
    return True



def text_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, *, wrap: Sequence[str] = ()):
    """A table of text without its index, shown the way reports show tables (:class:`Table`).

    Parameters
    ----------
    frame : DataFrame
        The table.
    columns : sequence of str, optional
        The columns shown (default all).
    wrap : sequence of str
        Columns of long text (they wrap; every text column of a :class:`Table` does).

    Returns
    -------
    Table
        All rows shown (``max_rows`` is the length of the table).
    """
    return Table(frame, columns=columns, max_rows=max(len(frame), 1))


# ---------------------------------------------------------------------------------------------
# The one table path: every table a report shows
#: Column names whose values are shares of 1, shown as percentages with one decimal.
_SHARE_WORDS = ("share", "agreement", "prevalence", "proportion", "accuracy", "reproduced")
#: Human labels for column names the library uses often (others: underscores become spaces).
COLUMN_LABELS = {
    "n": "n", "p_value": "p", "rho": "Spearman's rho", "odds_ratio_per_sd": "odds ratio per SD",
    "org_id": "organisation id", "org_code": "ODS code", "ods_code": "ODS code",
    "dtoc_per_100k": "delayed days per 100,000 aged 65+", "n_rated": "n rated",
    "weighted_kappa": "weighted kappa", "auc": "AUC", "ci_method": "interval method",
}
_UNIT_SUFFIXES = {"_months": " (months)", "_days": " (days)", "_years": " (years)", "_pct": " (%)",
                  "_percent": " (%)", "_per_100k": " per 100,000", "_gbp": " (£)"}
#: Rows shown before a table is collapsed (the rest are counted, and kept in a closed section).
TABLE_MAX_ROWS = 20
_EMBED_ALL_UP_TO = 200


def column_label(name) -> str:
    """The label a report shows for a column: ``ci_low``/``ci_high`` pairs aside, see :class:`Table`.

    Parameters
    ----------
    name : str
        A snake_case column name.

    Returns
    -------
    str
        A known label (:data:`COLUMN_LABELS`), or the name with a unit suffix in brackets and
        underscores as spaces.

    Examples
    --------
    >>> column_label("median_months"), column_label("share_good"), column_label("n")
    ('median (months)', 'share good', 'n')
    """
    name = str(name)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.endswith(suffix) and not _is_share_name(name) and len(name) > len(suffix):
            return name[: -len(suffix)].replace("_", " ") + unit
    return name.replace("_", " ")


def _is_share_name(name: str) -> bool:
    words = str(name).lower().replace("-", "_").split("_")
    return any(w in _SHARE_WORDS or w.startswith("share") for w in words)


def _decimals(values: np.ndarray) -> int:
    """The fewest decimals (at most 3) that show every value as rounded to 3 places."""
    if not len(values):
        return 0
    r3 = np.round(values, 3)
    for d in range(3):
        if np.allclose(np.round(r3, d), r3, rtol=0, atol=1e-9):
            return d
    return 3


def _column_formatter(name: str, series: pd.Series, percent: bool):
    """A function value -> display text for one column."""
    missing = "\u2013"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return lambda v: missing if _is_missing(v) else ("yes" if v else "no")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return lambda v: missing if _is_missing(v) else (
            v.strftime("%Y-%m-%d") if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M"))
    if not pd.api.types.is_numeric_dtype(dtype):
        return lambda v: missing if _is_missing(v) else (
            v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else str(v))
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if percent:
        return lambda v: missing if _is_missing(v) else f"{100 * float(v):.1f}%"
    lname = str(name).lower()
    plain = any(w in lname for w in ("year", "decile", "quintile", "rank", "_id", "code", "version"))
    sep = "" if plain else ","
    if lname in ("p", "p_value", "pvalue") or lname.endswith("_p_value"):
        return lambda v: missing if _is_missing(v) else ("<0.001" if float(v) < 0.001 else f"{float(v):.3f}")
    d = _decimals(values)
    if d and len(values) and np.nanmax(np.abs(values)) >= 1000:
        d = min(d, 1)
    spec = f"{{:{sep}.{d}f}}"
    return lambda v: missing if _is_missing(v) else spec.format(float(v))


def _flat_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = [" ".join(str(p) for p in parts if str(p) != "") for parts in frame.columns]
    else:
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
    frame.columns.name = None
    return frame


def _tidy_index(frame: pd.DataFrame, index_name: str | None) -> pd.DataFrame:
    """Drop a bare row index (unnamed integers); keep a meaningful one as named leading columns."""
    idx = frame.index
    names = [n for n in idx.names if n is not None]
    if index_name is not None:
        return frame.rename_axis(index_name).reset_index()
    if not names and (pd.api.types.is_integer_dtype(idx.dtype) or isinstance(idx, pd.RangeIndex)):
        return frame.reset_index(drop=True)
    if not names:  # unnamed text labels (e.g. a transposed table): keep them, under a blank header
        out = frame.reset_index(drop=True)
        out.insert(0, "\u200b", [str(v) for v in idx])
        return out
    return frame.reset_index()


def _interval_pairs(frame: pd.DataFrame) -> list[tuple[str | None, str, str, str]]:
    """(estimate, low, high, label) for each ``*ci_low``/``*ci_high`` pair of columns.

    The estimate is the column the interval surrounds: among the numeric columns, those whose
    name holds the pair's prefix first, then the nearest column before the pair.
    """
    columns = list(frame.columns)
    pairs = []
    for low in columns:
        if not low.endswith("ci_low"):
            continue
        high = low[: -len("low")] + "high"
        if high not in columns:
            continue
        prefix = low[: -len("ci_low")].rstrip("_")
        lo = pd.to_numeric(frame[low], errors="coerce")
        hi = pd.to_numeric(frame[high], errors="coerce")

        def inside(col, lo=lo, hi=hi):
            if col.endswith(("ci_low", "ci_high")):
                return False
            if not pd.api.types.is_numeric_dtype(frame[col].dtype) or pd.api.types.is_bool_dtype(frame[col].dtype):
                return False
            v = pd.to_numeric(frame[col], errors="coerce")
            ok = v.notna() & lo.notna() & hi.notna()
            return bool(ok.any()) and bool(((v[ok] >= lo[ok] - 1e-9) & (v[ok] <= hi[ok] + 1e-9)).mean() >= 0.9)

        words = set(prefix.split("_")) - {""}
        named = [c for c in columns if words and words <= set(c.split("_"))]
        before = list(reversed(columns[: columns.index(low)]))
        est = next((c for c in [*named, *before] if inside(c)), None)
        if prefix:
            label = f"{column_label(est) if est else prefix.replace('_', ' ')} 95% CI"
        else:
            label = "95% CI"
        pairs.append((est, low, high, label))
    if sum(1 for p in pairs if p[3] == "95% CI") == 1 and len(pairs) > 1:
        pairs = [(e, lo, hi, f"{column_label(e)} 95% CI" if lab == "95% CI" and e else lab)
                 for e, lo, hi, lab in pairs]
    return pairs


class Table:
    """A table as a report shows it: the one table path (pandas ``Styler``) for every report table.

    What the reader sees: no row index unless it means something (then it is a named column);
    integers as integers (also counts stored as floats because of missing values); shares as
    percentages with one decimal; each ``ci_low``/``ci_high`` pair as one "95% CI" column
    reading "a to b"; human column labels with units; a long table cut to its first rows, with a
    count (the rest in a closed section); an empty table as a sentence. The frame itself, and
    the CSV a :class:`~cqc_research.notebook_output.Report` saves from it, are unchanged.

    Parameters
    ----------
    data : DataFrame, Series or Styler
        The table (a Styler's data and caption are used).
    caption : str, optional
        A title shown above the table.
    labels : dict, optional
        Column name to label, over the defaults (:func:`column_label`).
    percent : bool or sequence of str, optional
        Columns shown as percentages: default, the share-like names (``share``, ``agreement``,
        ``prevalence``, ...) whose values lie in [-1, 1]; True for every numeric column.
    max_rows : int
        Rows shown before the table is collapsed.
    empty : str, optional
        The sentence shown when the table has no rows.
    index : str, optional
        Keep the index, as a first column of this name (a named index is always kept).
    columns : sequence of str, optional
        The columns shown (default: all).
    name : str, optional
        The saved CSV's name, for the count line of a long table.

    Examples
    --------
    >>> t = Table(pd.DataFrame({"n": [824.0, None], "share": [0.5, 0.25],
    ...                         "ci_low": [0.4, 0.2], "ci_high": [0.6, 0.3]}))
    >>> t.display_frame().to_dict("records")[0]
    {'n': '824', 'share': '50.0%', '95% CI': '40.0% to 60.0%'}
    >>> Table(pd.DataFrame({"a": []}), empty="Nothing was found.")._repr_html_()
    '<p class="cqc-table-empty">Nothing was found.</p>'
    """

    def __init__(self, data, *, caption: str | None = None, labels: dict | None = None,
                 percent=None, max_rows: int = TABLE_MAX_ROWS, empty: str | None = None,
                 index: str | None = None, columns: Sequence[str] | None = None, name: str | None = None):
        if hasattr(data, "data") and hasattr(data, "to_html") and not isinstance(data, pd.DataFrame):
            caption = caption or getattr(data, "caption", None)
            data = data.data  # a pandas Styler
        if isinstance(data, pd.Series):
            data = data.to_frame(name=data.name if data.name is not None else "value")
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"Table needs a pandas DataFrame or Series, not {type(data).__name__}")
        self.data = data if columns is None else data[list(columns)]
        self.caption, self.labels, self.percent = caption, dict(labels or {}), percent
        self.max_rows, self.empty, self.index, self.name = int(max_rows), empty, index, name

    def __len__(self) -> int:
        return len(self.data)

    def display_frame(self, rows: int | None = None) -> pd.DataFrame:
        """The table as shown: every cell formatted text, columns labelled.

        Parameters
        ----------
        rows : int, optional
            Format only the first ``rows`` rows (the formats still follow whole columns).

        Returns
        -------
        DataFrame
            Strings only, with a fresh 0..n index (never shown).
        """
        frame = _tidy_index(_flat_columns(self.data), self.index)
        cols = list(frame.columns)
        pairs = _interval_pairs(frame)
        share = set()
        if self.percent is True:
            share = {c for c in cols if pd.api.types.is_numeric_dtype(frame[c].dtype)
                     and not pd.api.types.is_bool_dtype(frame[c].dtype)}
        elif self.percent:
            share = set(self.percent)
        else:
            for c in cols:
                s = frame[c]
                if (_is_share_name(c) and pd.api.types.is_float_dtype(s.dtype)
                        and s.dropna().between(-1, 1).all()):
                    share.add(c)
            for est, low, high, _ in pairs:  # an interval is shown like its estimate
                if est in share:
                    share |= {low, high}
        formatters = {c: _column_formatter(c, frame[c], c in share) for c in cols}
        for est, low, high, _ in pairs:  # the interval's ends read like the estimate
            if est is not None and est in formatters:
                both = pd.concat([frame[est], frame[low], frame[high]])
                fmt = _column_formatter(est, both, est in share)
                formatters[est] = formatters[low] = formatters[high] = fmt
        part = frame if rows is None else frame.head(rows)
        out = pd.DataFrame({c: [formatters[c](v) for v in part[c]] for c in cols}, index=range(len(part)))
        for _est, low, high, label in pairs:
            ci = [f"{a} to {b}" if a != "\u2013" and b != "\u2013" else "\u2013"
                  for a, b in zip(out[low], out[high], strict=True)]
            at = list(out.columns).index(low)
            out = out.drop(columns=[low, high])
            out.insert(at, label, ci)
        labels = {c: self.labels.get(c, column_label(c)) for c in out.columns
                  if c not in {p[3] for p in pairs}}
        return out.rename(columns=labels)

    def _numeric_labels(self, shown: pd.DataFrame) -> list[str]:
        return [c for c in shown.columns
                if shown[c].str.fullmatch(r"[<\u2013+-]?[\d,.]+%?( to [<+-]?[\d,.]+%?)?|\u2013|").all()
                and shown[c].str.len().gt(0).any()]

    def count_text(self) -> str:
        """The count line under a table: ``"12 rows"``, or how many of how many are shown.

        Returns
        -------
        str
        """
        n = len(self.data)
        if n <= self.max_rows:
            return f"{n:,} row{'s' if n != 1 else ''}"
        where = f"; all are in tables/{self.name}.csv" if self.name else ""
        return f"the first {self.max_rows:,} of {n:,} rows{where}"

    def _styler_html(self, shown: pd.DataFrame, key: str, caption: str | None) -> str:
        import hashlib

        uuid = hashlib.sha1((key + "|".join(shown.columns) + str(shown.shape)).encode()).hexdigest()[:10]
        style = (shown.style.hide(axis="index").format(escape="html").format_index(escape="html", axis=1)
                 .set_uuid(uuid).set_table_attributes('class="cqc-table"'))
        num = self._numeric_labels(shown) if len(shown) else []
        styles = [{"selector": "", "props": "border-collapse:collapse;margin:4px 0 2px 0;font-size:13px"},
                  {"selector": "th", "props": "text-align:left;padding:4px 10px;border-bottom:2px solid #444;"
                                              "vertical-align:bottom"},
                  {"selector": "td", "props": "text-align:left;padding:3px 10px;border-bottom:1px solid #ddd;"
                                              "vertical-align:top"},
                  {"selector": "caption", "props": "caption-side:top;text-align:left;font-weight:600;"
                                                   "padding:4px 0;color:#1d1d1d"}]
        style = style.set_table_styles(styles)
        if num:
            style = style.set_table_styles({c: [{"selector": "td", "props": "text-align:right;"
                                                 "font-variant-numeric:tabular-nums;white-space:nowrap"},
                                                {"selector": "th", "props": "text-align:right"}]
                                            for c in num}, overwrite=False)
        if caption:
            style = style.set_caption(str(Markup.escape(caption)))
        return style.to_html(doctype_html=False)

    def _repr_html_(self) -> str:
        if self.data.empty:
            text = self.empty or (f"{self.caption}: nothing to show." if self.caption else "Nothing to show: no rows.")
            return str(render("fragments/table_empty.html.j2", text=text))
        shown = self.display_frame(None if len(self.data) <= _EMBED_ALL_UP_TO else self.max_rows)
        head = shown.head(self.max_rows)
        key = str(self.caption or "") + str(self.name or "")
        rest = None
        if len(shown) > self.max_rows and len(shown) <= _EMBED_ALL_UP_TO:
            rest = Markup(self._styler_html(shown, key + "all", None))
        return str(render("fragments/report_table.html.j2",
                          table=Markup(self._styler_html(head, key, self.caption)),
                          count=self.count_text(), rest=rest, total=f"{len(shown):,}"))

    def __repr__(self) -> str:
        if self.data.empty:
            return self.empty or "Nothing to show: no rows."
        shown = self.display_frame(self.max_rows)
        text = shown.to_string(index=False)
        return "\n".join(p for p in (self.caption, text, f"({self.count_text()})") if p)

    def to_html(self) -> str:
        """The HTML shown in a notebook and in the exported report.

        Returns
        -------
        str
        """
        return self._repr_html_()


def show_table(data, caption: str | None = None, **options) -> Table:
    """Show a table the way reports show tables (the last expression of a cell displays it).

    Parameters
    ----------
    data : DataFrame, Series or Styler
        The table; it is not modified.
    caption : str, optional
        A title shown above the table.
    **options
        Passed to :class:`Table` (``labels``, ``percent``, ``max_rows``, ``empty``, ``index``,
        ``columns``, ``name``).

    Returns
    -------
    Table
        Displays itself in JupyterLab and in the exported HTML.

    Examples
    --------
    >>> show_table(pd.DataFrame({"n": [3]})).display_frame()["n"].tolist()
    ['3']
    """
    return Table(data, caption=caption, **options)


def _table_html(obj):
    try:
        return Table(obj)._repr_html_()
    except Exception:  # never lose the output: fall back to pandas' own HTML
        return None


def use_report_tables(ip=None) -> bool:
    """Show every DataFrame, Series and Styler in this IPython session as a report :class:`Table`.

    :class:`~cqc_research.notebook_output.Report` calls this, so a table a notebook or a library
    function displays goes through the one table path (no bare index, integers as integers,
    shares as percentages, intervals as "a to b").

    Parameters
    ----------
    ip : IPython.core.interactiveshell.InteractiveShell, optional
        Default: the running shell.

    Returns
    -------
    bool
        False (and nothing changes) outside IPython.
    """
    ip = _shell(ip)
    if ip is None:
        return False
    html = ip.display_formatter.formatters["text/html"]
    plain = ip.display_formatter.formatters["text/plain"]
    for kind in (pd.DataFrame, pd.Series):
        html.for_type(kind, _table_html)
    html.for_type_by_name("pandas.io.formats.style", "Styler", _table_html)
    for kind in (pd.DataFrame, pd.Series):
        plain.for_type(kind, lambda obj, p, cycle: p.text(repr(Table(obj))))
    plain.for_type_by_name("pandas.io.formats.style", "Styler",
                           lambda obj, p, cycle: p.text(repr(Table(obj))))
    return True
