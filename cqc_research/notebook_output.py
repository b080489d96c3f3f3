"""What a notebook saves and shows: its header and synthetic banner, tables and figures.

Everything made from synthetic data must say so (see :mod:`cqc_research.provenance` for how a
source is known to be synthetic). A :class:`Report` built from synthetic sources

- shows a red "SYNTHETIC DATA" banner at the top of the HTML,
- stamps "SYNTHETIC DATA" across every figure it saves (and records it in the PNG metadata),
- adds a leading ``data_status`` column reading ``SYNTHETIC DATA`` to every table it saves.

The runner's detector (:func:`check_outputs`) fails a notebook whose outputs lack the stamp.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from . import paths
from .cache import atomic_path
from .display import Table, use_report_tables
from .errors import InsufficientData, SectionSkipped
from .provenance import BANNER_TEXT, SYNTHETIC_MARKER, is_synthetic  # noqa: F401 (SYNTHETIC_MARKER re-exported)
from .templating import Markup, render

__all__ = ["Report", "Section", "run_folder", "check_outputs", "stamp_figure", "banner_html"]

_PNG_KEY = "cqc-research-data"
#: The PNG metadata key saying whether the synthetic stamp covers anything (:func:`stamp_overlaps`).
STAMP_PNG_KEY = "cqc-research-stamp"

#: The output metadata key that marks a skipped section's note in an executed notebook.
SKIPPED_METADATA_KEY = "cqc-research-section-skipped"
#: The output metadata key of a report's sentences (:meth:`Report.say`); ``{"headline": bool}``.
HEADLINE_METADATA_KEY = "cqc-research-say"
#: Output metadata of a report's header: ``{"synthetic": bool}``, what its sources were.
REPORT_METADATA_KEY = "cqc-research-report"
#: The output metadata key of a saved figure's display: ``{"file", "caption"}``.
FIGURE_METADATA_KEY = "cqc-research-figure"
#: The output metadata key of a table shown by :meth:`Report.show`: ``{"file", "caption"}``.
TABLE_METADATA_KEY = "cqc-research-table"


class _QuietPath(type(Path())):
    """A path that shows nothing when it ends a notebook cell (no ``PosixPath(...)`` in a report)."""

    def _ipython_display_(self) -> None:
        return None


class _QuietList(list):
    """A list of paths that shows nothing when it ends a notebook cell."""

    def _ipython_display_(self) -> None:
        return None


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    return get_ipython() is not None


class Section:
    """One section of a report (made by :meth:`Report.section`); see :class:`SectionSkipped`.

    Used as a context manager: a :class:`SectionSkipped` raised inside the block is swallowed,
    recorded in ``report.skipped`` and shown as a short note; any other error propagates.

    Parameters
    ----------
    report : Report
        The report the section belongs to (its ``skipped`` list records a skip).
    title : str
        The section's name, as the note and the index show it.

    Attributes
    ----------
    report : Report
    title : str
    skipped : bool
        True once the section was skipped.
    reason : str or None
        What was missing.
    """

    def __init__(self, report: Report, title: str):
        self.report, self.title = report, title
        self.skipped, self.reason = False, None

    def require(self, condition, reason: str) -> None:
        """Skip the section (raise :class:`SectionSkipped`) unless ``condition`` holds.

        Parameters
        ----------
        condition : object
            Anything with a truth value; a DataFrame or Series counts as met when not empty.
        reason : str
            What is missing, in a few words ("no local authority in the ratings").
        """
        if isinstance(condition, (pd.DataFrame, pd.Series)):
            condition = not condition.empty
        if not condition:
            raise SectionSkipped(reason)

    def __enter__(self) -> Section:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or not issubclass(exc_type, (SectionSkipped, InsufficientData)):
            return False
        self.skipped, self.reason = True, str(exc)
        self.report.skipped.append({"section": self.title, "reason": self.reason})
        _show_skip_note(self.title, self.reason)
        return True


def _warning_note(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for reports: the message as an italic note, without the file,
    line number and source line that Python's default prints (a reader has no use for them)."""
    import html

    from IPython.display import Markdown, display

    text = html.escape(" ".join(str(message).split()))  # file contents may be in the message
    display(Markdown(f"*Note: {text[:1].upper() + text[1:]}*"))


def _warnings_as_notes() -> None:
    """Show warnings as notes while a report's kernel runs (only inside IPython)."""
    import warnings

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is not None:
        warnings.showwarning = _warning_note


def _show_skip_note(title: str, reason: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(f"*Section skipped: {title}. {reason[:1].upper() + reason[1:]}.*"),
            metadata={SKIPPED_METADATA_KEY: {"section": title, "reason": reason}})


def skipped_sections(notebook) -> list[dict]:
    """The sections an executed notebook skipped: ``[{"section": ..., "reason": ...}, ...]``.

    Parameters
    ----------
    notebook : path or nbformat.NotebookNode
        An executed notebook.

    Returns
    -------
    list of dict
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = (o.get("metadata") or {}).get(SKIPPED_METADATA_KEY)
            if meta:
                out.append({"section": str(meta.get("section", "")), "reason": str(meta.get("reason", ""))})
    return out


def _first_sentence(markdown: str) -> str:
    """The first sentence of some markdown, as plain text."""
    import re

    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links: their text
    text = re.sub(r"[*_`>#]+", "", text)
    text = " ".join(text.replace("\n- ", " ").split()).lstrip("- ")
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z0-9])", text)
    first = text[: m.start()] if m else text
    return first if len(first) <= 400 else first[:397].rstrip() + "..."


def report_contents(notebook) -> dict:
    """What an executed notebook's report holds, for the run's index.

    Parameters
    ----------
    notebook : path or nbformat.NotebookNode
        An executed notebook.

    Returns
    -------
    dict
        ``headline`` (the first sentence of the text said with ``headline=True``, else of the
        first text said, else of the notebook's introduction; may be empty), ``figures`` and
        ``tables`` (lists of ``{"file", "caption"}`` in the order shown).
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    said, marked, figures, tables, intro = [], [], [], [], ""
    for cell in nb.cells:
        if "papermill-error-cell-tag" in (cell.get("metadata") or {}).get("tags", []):
            continue  # papermill's note on a failed notebook
        if cell.cell_type == "markdown" and not intro:
            paras = [p for p in cell.source.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
            intro = paras[0] if paras else ""
        for o in cell.get("outputs", []):
            meta = o.get("metadata") or {}
            text = (o.get("data") or {}).get("text/markdown", "")
            if HEADLINE_METADATA_KEY in meta and text:
                (marked if (meta[HEADLINE_METADATA_KEY] or {}).get("headline") else said).append(text)
            if FIGURE_METADATA_KEY in meta:
                figures.append({"file": str(meta[FIGURE_METADATA_KEY].get("file") or ""),
                                "caption": str(meta[FIGURE_METADATA_KEY].get("caption") or "")})
            if TABLE_METADATA_KEY in meta and (meta[TABLE_METADATA_KEY] or {}).get("file"):
                tables.append({"file": str(meta[TABLE_METADATA_KEY]["file"]),
                               "caption": str(meta[TABLE_METADATA_KEY].get("caption") or "")})
    source = (marked or said or [intro])[0]
    return {"headline": _first_sentence(source) if source else "", "figures": figures, "tables": tables}


_DEFAULT_NOTE = Markup(
    "Every number, table and figure in this report comes from the synthetic dataset written "
    "by <code>cqc-research synth</code>, with planted effects. None of it describes real "
    "organisations."
)


def banner_html(synthetic: bool, note: str | None = None) -> str:
    """The HTML banner shown at the top of a report made from synthetic data.

    Parameters
    ----------
    synthetic : bool
        Whether the data is synthetic; the banner is empty for real data.
    note : str, optional
        The smaller text under the banner (escaped); a default explains the synthetic data.

    Returns
    -------
    str
        HTML (empty for real data).
    """
    if not synthetic:
        return ""
    return str(render("fragments/banner.html.j2", text=BANNER_TEXT,
                      note=_DEFAULT_NOTE if note is None else note))


class Report:
    """The outputs of one notebook run: ``tables/`` and ``figures/`` under ``output_dir``.

    Parameters
    ----------
    output_dir : path
        The run folder (a papermill parameter, never the current directory).
    sources : iterable of path or DataFrame
        The inputs, used to decide whether the synthetic banner applies.
    title : str, optional
        The report's title; :meth:`header` shows it with ``show_title=True``.

    Examples
    --------
    >>> import tempfile
    >>> rep = Report(tempfile.mkdtemp(), sources=[])
    >>> rep.synthetic
    False
    """

    def __init__(self, output_dir, sources: Iterable = (), title: str | None = None):
        self.output_dir = Path(output_dir).expanduser().resolve()
        self.tables_dir = self.output_dir / "tables"
        self.figures_dir = self.output_dir / "figures"
        self.sources = [s for s in sources if s is not None]
        self.synthetic = is_synthetic(*self.sources)
        self.title = title
        self.skipped: list[dict] = []
        self._said = False

        use_report_tables()  # every table the notebook shows goes through the one table path
        _warnings_as_notes()  # a warning reads as a one-line note, never as source code

    def __repr__(self) -> str:
        return (f"Report({str(self.output_dir)!r}, synthetic={self.synthetic}, "
                f"sources={len(self.sources)})")

    # -- presentation -------------------------------------------------------------------
    def header(self, subtitle: str | None = None, *, show_title: bool = False):
        """Display the subtitle, the date, the data sources and the synthetic banner.

        The notebook's own Markdown heading is its title, so the report's title is not shown
        again unless asked for: ``show_title=True`` suits a notebook whose heading is generic
        ("Provider profile") while the title names the organisation.

        Parameters
        ----------
        subtitle : str, optional
            Shown in italics at the top.
        show_title : bool
            Also show :attr:`title`, as a second-level heading.
        """
        from IPython.display import HTML, display

        # what the report was made from, for the runner's synthetic-stamp check
        display(HTML(self.header_html(subtitle, show_title=show_title)),
                metadata={REPORT_METADATA_KEY: {"synthetic": bool(self.synthetic)}})

    def header_html(self, subtitle: str | None = None, *, show_title: bool = False) -> str:
        """The HTML that :meth:`header` displays (every value escaped).

        Parameters
        ----------
        subtitle : str, optional
        show_title : bool

        Returns
        -------
        str
        """
        srcs = [s for s in self.sources if not isinstance(s, pd.DataFrame)]
        return str(render(
            "fragments/report_header.html.j2", title=self.title if show_title else None, subtitle=subtitle,
            banner=Markup(banner_html(self.synthetic)), generated=f"{_dt.date.today():%d %B %Y}",
            sources=[{"name": Path(s).name, "date": _source_date(s)} for s in srcs]))

    def banner(self):
        """Display the synthetic banner (nothing for real data)."""
        from IPython.display import HTML, display

        if self.synthetic:
            display(HTML(banner_html(True)))

    # -- sections -----------------------------------------------------------------------
    def section(self, title: str) -> Section:
        """A section that degrades, not dies: ``with rep.section("Funnel by area") as sec: ...``.

        Inside the block, :meth:`Section.require` (or :meth:`skip`, or a library function that
        raises :class:`SectionSkipped` on empty inputs) ends the section with a short note saying
        what is missing; the report carries on, and the runner's index marks the notebook
        "completed, N sections skipped". Any other error fails the notebook as before.

        Parameters
        ----------
        title : str
            The section's name, as the note and the index show it.

        Returns
        -------
        Section

        Examples
        --------
        >>> import tempfile
        >>> rep = Report(tempfile.mkdtemp(), sources=[])
        >>> with rep.section("Funnel by local authority") as sec:  # doctest: +SKIP
        ...     sec.require(False, "no local authority in the ratings")
        >>> rep.skipped  # doctest: +SKIP
        [{'section': 'Funnel by local authority', 'reason': 'no local authority in the ratings'}]
        """
        return Section(self, title)

    def skip(self, reason: str):
        """End the current section with a note saying what is missing (raises :class:`SectionSkipped`).

        Parameters
        ----------
        reason : str
            What is missing, in a few words; the section's note shows it.

        Raises
        ------
        SectionSkipped
            Always; inside ``with rep.section(...)`` it ends that section only.
        """
        raise SectionSkipped(reason)

    # -- outputs ------------------------------------------------------------------------
    def save_table(self, frame: pd.DataFrame, name: str, *, index: bool = False) -> Path:
        """Write ``tables/<name>.csv`` atomically, stamped when the data is synthetic.

        Parameters
        ----------
        frame : DataFrame
            The table; it is not modified.
        name : str
            The file name without ``.csv``.
        index : bool
            Keep the index as leading columns (``frame.reset_index()``); by default it is dropped.

        Returns
        -------
        pathlib.Path
            The file written (it shows nothing when it ends a cell). For synthetic data its first
            column is ``data_status``, reading "SYNTHETIC DATA" on every row.
        """
        out = frame.reset_index() if index else frame.copy()
        if self.synthetic:
            out.insert(0, "data_status", BANNER_TEXT)
        target = self.tables_dir / f"{name}.csv"
        with atomic_path(target) as tmp:
            out.to_csv(tmp, index=False)
        return _QuietPath(target)

    def save_figure(self, fig, name: str, *, dpi: int = 110, caption: str | None = None) -> Path:
        """Write ``figures/<name>.png``, stamped "SYNTHETIC DATA" when the data is synthetic, and show it.

        In a notebook the saved PNG itself is shown (so the reader sees exactly the file), with
        alt text from the figure's title, and the figure is closed so it is not shown twice.
        Outside IPython the figure stays open.

        Parameters
        ----------
        fig : matplotlib Figure, Axes or seaborn grid
            Anything with a ``figure`` attribute or ``get_figure()`` is reduced to its figure.
        name : str
            The file name without ``.png``.
        dpi : int
            Resolution of the PNG.
        caption : str, optional
            What the figure shows, for its alt text and the run's index; default: its title.

        Returns
        -------
        pathlib.Path
            The file written (it shows nothing when it ends a cell). Its PNG metadata key
            ``cqc-research-data`` reads "SYNTHETIC DATA" (the figure is also stamped, once) for
            synthetic data, ``real`` otherwise; ``Title`` holds the caption, and
            ``cqc-research-stamp`` says whether the stamp is clear of every text and plotting
            area (``"clear"``) or what it covers (see :func:`stamp_overlaps`).
        """
        fig = getattr(fig, "figure", fig)  # accept seaborn grids and axes
        if hasattr(fig, "get_figure") and not hasattr(fig, "savefig"):
            fig = fig.get_figure()
        caption = caption or figure_caption(fig) or name.replace("_", " ")
        alt = figure_alt_text(fig, caption)
        if self.synthetic and not getattr(fig, "_cqc_stamped", False):
            stamp_figure(fig)
        covered = stamp_overlaps(fig) if self.synthetic else []
        target = self.figures_dir / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png",
                        metadata={_PNG_KEY: BANNER_TEXT if self.synthetic else "real",
                                  "Title": caption, "Description": alt,
                                  STAMP_PNG_KEY: ("covers: " + " | ".join(covered)) if covered else "clear"})
        if _in_ipython():
            import base64

            import matplotlib.pyplot as plt
            from IPython.display import display

            display({"image/png": base64.b64encode(target.read_bytes()).decode("ascii"),
                     "text/plain": f"Figure: {caption}"}, raw=True,
                    metadata={"image/png": {"alt": alt},
                              FIGURE_METADATA_KEY: {"file": f"figures/{name}.png", "caption": caption}})
            plt.close(fig)
        return _QuietPath(target)

    def save(self, name: str, table: pd.DataFrame | None = None, figure=None, *,
             index: bool = False) -> list[Path]:
        """Save a table and/or a figure under one name (``tables/<name>.csv``, ``figures/<name>.png``).

        Parameters
        ----------
        name : str
            The file name without its extension.
        table : DataFrame, optional
            Saved with :meth:`save_table`.
        figure : matplotlib figure or axes, optional
            Saved with :meth:`save_figure`.
        index : bool
            Keep the table's index as columns.

        Returns
        -------
        list of pathlib.Path
            The files written (the list shows nothing when it ends a cell).
        """
        out = _QuietList()
        if table is not None:
            out.append(self.save_table(table, name, index=index))
        if figure is not None:
            out.append(self.save_figure(figure, name))
        return out

    def save_tables(self, tables: dict, *, index: bool = False) -> list[Path]:
        """Save several tables: ``{name: frame}`` (see :meth:`save_table`).

        Parameters
        ----------
        tables : dict of str to DataFrame
        index : bool
            Keep each table's index as columns.

        Returns
        -------
        list of pathlib.Path
        """
        return _QuietList(self.save_table(frame, name, index=index) for name, frame in tables.items())

    def say(self, text: str, *, headline: bool = False) -> None:
        """Display ``text`` as markdown (the sentences that tell the story).

        The run's index shows each report's headline: the first sentence of the text said with
        ``headline=True``, else of the first text said.

        Parameters
        ----------
        text : str
            Markdown; an empty string displays nothing.
        headline : bool
            This text holds the report's main finding.
        """
        if text:
            from IPython.display import Markdown, display

            display(Markdown(text), metadata={HEADLINE_METADATA_KEY: {"headline": bool(headline)}})

    def show(self, data, caption: str | None = None, *, save: str | None = None, **options) -> None:
        """Show a table the way reports show tables (see :class:`cqc_research.display.Table`).

        No bare row index, integers as integers, shares as percentages, intervals as "a to b",
        human column labels; a long table is cut with a count, an empty one is a sentence.

        Parameters
        ----------
        data : DataFrame, Series or Styler
            The table; it is not modified.
        caption : str, optional
            A title shown above the table (and beside its file in the run's index).
        save : str, optional
            Also save the table as ``tables/<save>.csv`` (:meth:`save_table`).
        **options
            Passed to :class:`cqc_research.display.Table`: ``labels``, ``percent``,
            ``max_rows``, ``empty`` (the sentence for no rows), ``index``, ``columns``.

        Examples
        --------
        >>> import tempfile
        >>> rep = Report(tempfile.mkdtemp(), sources=[])
        >>> rep.show(pd.DataFrame({"n": [1.0]}), "Counts")  # outside IPython: as text
        Counts
        n
        1
        (1 row)
        """
        from IPython.display import display

        if save:
            self.save_table(data.data if hasattr(data, "data") and not isinstance(data, pd.DataFrame)
                            else data, save)
        table = Table(data, caption=caption, name=save, **options)
        if not _in_ipython():  # a script: the table as text
            print(repr(table))
            return
        meta = {TABLE_METADATA_KEY: {"file": f"tables/{save}.csv" if save else None, "caption": caption}}
        display({"text/html": table._repr_html_(), "text/plain": repr(table)}, raw=True, metadata=meta)


def figure_caption(fig) -> str:
    """A figure's caption: its suptitle, else its axes' titles.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        Empty when the figure has no title.
    """
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return " ".join(sup.get_text().split())
    titles = []
    for ax in fig.get_axes():
        for loc in ("center", "left", "right"):
            t = ax.get_title(loc=loc).strip()
            if t and t not in titles:
                titles.append(" ".join(t.split()))
    return "; ".join(titles[:3]) + (" ..." if len(titles) > 3 else "")


def figure_alt_text(fig, caption: str) -> str:
    """Alt text for a figure: its caption, then what its axes measure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    caption : str

    Returns
    -------
    str
    """
    axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison]
    labels = []
    for ax in axes[:1]:
        x, y = ax.get_xlabel().strip(), ax.get_ylabel().strip()
        if x:
            labels.append(f"across: {x}")
        if y:
            labels.append(f"up: {y}")
    extra = f" ({'; '.join(labels)})" if labels else ""
    panels = f", {len(axes)} panels" if len(axes) > 1 else ""
    return f"Chart: {caption}{extra}{panels}."


def stamp_figure(fig) -> None:
    """Write "SYNTHETIC DATA" above everything a matplotlib figure draws.

    The stamp goes just above the drawn figure's outer box (titles, labels, legends and colour
    bars included), at its right edge, so it never covers a title, a label or the data; a figure
    saved with ``bbox_inches="tight"`` grows to hold it. Marks the figure (``fig._cqc_stamped``)
    so that :meth:`Report.save_figure` does not stamp it twice; calling this function itself
    again adds another stamp.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, modified in place.
    """
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    box = fig.get_tightbbox(renderer)  # inches
    width, height = fig.get_size_inches()
    pad = 4 / 72  # 4 points
    x = box.x1 / width
    y = (box.y1 + pad) / height
    text = fig.text(x, y, BANNER_TEXT, ha="right", va="bottom", color="#c8102e",
                    fontsize=10, fontweight="bold", transform=fig.transFigure)
    text._cqc_stamp = True
    fig._cqc_stamped = True


def stamp_overlaps(fig) -> list[str]:
    """What the "SYNTHETIC DATA" stamp covers in a drawn figure: titles, labels, text or axes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure stamped by :func:`stamp_figure`.

    Returns
    -------
    list of str
        The text of each title, label or other text whose box the stamp's box intersects, and
        ``"axes <i>"`` for each plotting area it enters; empty when the stamp is clear (or absent).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_title("A title")
    >>> stamp_figure(fig)
    >>> stamp_overlaps(fig)
    []
    """
    from matplotlib.text import Text

    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    stamps = [t for t in fig.texts if getattr(t, "_cqc_stamp", False)]
    out = []
    for stamp in stamps:
        box = stamp.get_window_extent(renderer)
        for t in fig.findobj(Text):
            if t is stamp or getattr(t, "_cqc_stamp", False) or not t.get_visible() or not t.get_text().strip():
                continue
            if box.overlaps(t.get_window_extent(renderer)):
                out.append(t.get_text())
        for i, ax in enumerate(fig.get_axes()):
            if ax.get_visible() and box.overlaps(ax.get_window_extent(renderer)):
                out.append(f"axes {i}")
    return out


def _source_date(src) -> str:
    try:
        mtime = _dt.datetime.fromtimestamp(Path(src).stat().st_mtime)
    except OSError:
        return ""
    return f"file dated {mtime:%d %b %Y}"


def check_outputs(run_dir, *, synthetic: bool) -> list[str]:
    """The detector: list the outputs of a synthetic run that lack the "SYNTHETIC DATA" stamp.

    Checks every ``*.html`` (banner text), ``tables/*.csv`` (``data_status`` column) and
    ``figures/*.png`` (PNG metadata written by :meth:`Report.save_figure`) below ``run_dir``.
    Returns an empty list for real data or when everything is stamped.

    Parameters
    ----------
    run_dir : path
        The run folder to check.
    synthetic : bool
        Whether the run read synthetic data; for real data nothing is checked.

    Returns
    -------
    list of str
        The unstamped files, as paths relative to ``run_dir``, sorted.
    """
    if not synthetic:
        return []
    from PIL import Image

    run_dir = Path(run_dir)
    missing = []
    for html in run_dir.rglob("*.html"):
        if BANNER_TEXT not in html.read_text(encoding="utf-8", errors="replace"):
            missing.append(str(html.relative_to(run_dir)))
    for csv in run_dir.rglob("tables/*.csv"):
        with open(csv, encoding="utf-8") as f:
            first = f.readline()
        if not first.startswith("data_status"):
            missing.append(str(csv.relative_to(run_dir)))
    for png in run_dir.rglob("figures/*.png"):
        with Image.open(png) as im:
            if im.info.get(_PNG_KEY) != BANNER_TEXT:
                missing.append(str(png.relative_to(run_dir)))
    return sorted(missing)


def run_folder(output_dir: str) -> str:
    """``output_dir``, or the interactive run folder under ``outputs/`` when it is empty.

    Parameters
    ----------
    output_dir : str

    Returns
    -------
    str

    Examples
    --------
    >>> run_folder("/tmp/run")
    '/tmp/run'
    """
    return output_dir or str(paths.outputs_root() / "interactive")
