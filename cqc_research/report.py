"""What a notebook uses to present results: the synthetic banner, tables and figures.

Everything made from synthetic data must say so. A dataset is synthetic when a ``SYNTHETIC``
marker file sits in its folder or any parent (``cqc-research synth`` writes one). A
:class:`Report` built from synthetic sources

- shows a red "SYNTHETIC DATA" banner at the top of the HTML,
- stamps "SYNTHETIC DATA" across every figure it saves (and records it in the PNG metadata),
- adds a leading ``data_status`` column reading ``SYNTHETIC DATA`` to every table it saves.

The runner's detector (:func:`check_outputs`) fails a notebook whose outputs lack the stamp.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .cache import atomic_path

__all__ = [
    "SYNTHETIC_MARKER",
    "BANNER_TEXT",
    "is_synthetic",
    "Report",
    "banner_html",
    "check_outputs",
]

SYNTHETIC_MARKER = "SYNTHETIC"
BANNER_TEXT = "SYNTHETIC DATA"
_PNG_KEY = "cqc-research-data"


def is_synthetic(*sources) -> bool:
    """True when any source is synthetic.

    Parameters
    ----------
    *sources : path or DataFrame
        Files or folders (a ``SYNTHETIC`` marker in the folder or a parent), or frames
        (``frame.attrs["synthetic"]``).
    """
    for src in sources:
        if src is None:
            continue
        if isinstance(src, pd.DataFrame):
            if src.attrs.get("synthetic"):
                return True
            continue
        if hasattr(src, "synthetic") and not isinstance(src, str | os.PathLike):
            if src.synthetic:
                return True
            continue
        p = Path(src).expanduser()
        try:
            p = p.resolve()
        except OSError:
            continue
        for folder in [p, *p.parents] if p.is_dir() else list(p.parents):
            if (folder / SYNTHETIC_MARKER).is_file():
                return True
    return False


def banner_html(synthetic: bool, note: str | None = None) -> str:
    """The HTML banner shown at the top of a report made from synthetic data."""
    if not synthetic:
        return ""
    note = note or (
        "Every number, table and figure in this report comes from the synthetic dataset written "
        "by <code>cqc-research synth</code>, with planted effects. None of it describes real "
        "organisations."
    )
    return (
        '<div class="cqc-synthetic-banner" style="background:#c8102e;color:#fff;padding:10px 14px;'
        'font:bold 16px sans-serif;border-radius:4px;margin:6px 0">'
        f"&#9888; {BANNER_TEXT}<div style='font-weight:normal;font-size:13px'>{note}</div></div>"
    )


class Report:
    """The outputs of one notebook run: ``tables/`` and ``figures/`` under ``output_dir``.

    Parameters
    ----------
    output_dir : path
        The run folder (a papermill parameter, never the current directory).
    sources : iterable of path or DataFrame
        The inputs, used to decide whether the synthetic banner applies.
    title : str, optional
        Shown by :meth:`header`.

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

    def __repr__(self) -> str:
        return (f"Report({str(self.output_dir)!r}, synthetic={self.synthetic}, "
                f"sources={len(self.sources)})")

    # -- presentation -------------------------------------------------------------------
    def header(self, subtitle: str | None = None):
        """Display the title, the date, the data sources and the synthetic banner."""
        from IPython.display import HTML, display

        parts = []
        if self.title:
            parts.append(f"<h1>{self.title}</h1>")
        if subtitle:
            parts.append(f"<p><em>{subtitle}</em></p>")
        parts.append(banner_html(self.synthetic))
        parts.append(f"<p>Generated {_dt.date.today():%d %B %Y}.</p>")
        srcs = [s for s in self.sources if not isinstance(s, pd.DataFrame)]
        if srcs:
            items = "".join(f"<li><code>{Path(s).name}</code>{_source_date(s)}</li>" for s in srcs)
            parts.append(f"<p>Data sources:</p><ul>{items}</ul>")
        display(HTML("".join(parts)))

    def banner(self):
        """Display the synthetic banner (nothing for real data)."""
        from IPython.display import HTML, display

        if self.synthetic:
            display(HTML(banner_html(True)))

    # -- outputs ------------------------------------------------------------------------
    def save_table(self, frame: pd.DataFrame, name: str, *, index: bool = False) -> Path:
        """Write ``tables/<name>.csv`` atomically, stamped when the data is synthetic."""
        out = frame.reset_index() if index else frame.copy()
        if self.synthetic:
            out.insert(0, "data_status", BANNER_TEXT)
        target = self.tables_dir / f"{name}.csv"
        with atomic_path(target) as tmp:
            out.to_csv(tmp, index=False)
        return target

    def save_figure(self, fig, name: str, *, dpi: int = 110) -> Path:
        """Write ``figures/<name>.png``, stamped "SYNTHETIC DATA" when the data is synthetic.

        The figure stays open so that the notebook still displays it.
        """
        fig = getattr(fig, "figure", fig)  # accept seaborn grids and axes
        if hasattr(fig, "get_figure") and not hasattr(fig, "savefig"):
            fig = fig.get_figure()
        if self.synthetic and not getattr(fig, "_cqc_stamped", False):
            stamp_figure(fig)
        target = self.figures_dir / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png",
                        metadata={_PNG_KEY: BANNER_TEXT if self.synthetic else "real"})
        return target


def stamp_figure(fig) -> None:
    """Write "SYNTHETIC DATA" across the top of a matplotlib figure (once)."""
    fig.text(0.5, 1.0, BANNER_TEXT, ha="center", va="bottom", color="#c8102e",
             fontsize=12, fontweight="bold", transform=fig.transFigure)
    fig._cqc_stamped = True


def _source_date(src) -> str:
    try:
        mtime = _dt.datetime.fromtimestamp(Path(src).stat().st_mtime)
    except OSError:
        return ""
    return f" (file dated {mtime:%d %b %Y})"


def check_outputs(run_dir, *, synthetic: bool) -> list[str]:
    """The detector: list the outputs of a synthetic run that lack the "SYNTHETIC DATA" stamp.

    Checks every ``*.html`` (banner text), ``tables/*.csv`` (``data_status`` column) and
    ``figures/*.png`` (PNG metadata written by :meth:`Report.save_figure`) below ``run_dir``.
    Returns an empty list for real data or when everything is stamped.
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
