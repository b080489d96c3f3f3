"""HTML of a run: notebooks exported without code, and the index page (jinja2, autoescaped)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..cache import atomic_write_text
from ..notebook_output import banner_html, report_contents
from ..templating import environment
from .kernels import fast_imports

# HTML
_exporters = threading.local()
#: nbconvert templates of the package: ``cqc_report`` (JupyterLab's, with alt text on every
#: figure, one font scheme and a print stylesheet).
NBCONVERT_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "nbconvert"


def _with_alt_text(nb):
    """A copy of ``nb`` in which every PNG output has alt text (``metadata["image/png"]["alt"]``).

    A figure saved by :meth:`cqc_research.notebook_output.Report.save_figure` carries its own;
    any other takes the heading of the section it is in.
    """
    import copy

    nb = copy.deepcopy(nb)
    heading = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
            continue
        for out in cell.get("outputs", []):
            if "image/png" not in out.get("data", {}):
                continue
            meta = out.setdefault("metadata", {})
            png = meta.setdefault("image/png", {})
            if not png.get("alt"):
                png["alt"] = f"Figure: {heading}" if heading else "Figure"
    return nb


def export_html(nb, target, *, synthetic: bool, title: str | None = None) -> Path:
    """Write a notebook as HTML without code, figures embedded, banner first when synthetic.

    Uses nbconvert's ``HTMLExporter`` with ``exclude_input=True`` (what ``--no-input`` does) and
    no prompts, through the package's ``cqc_report`` template (JupyterLab's, with alt text on
    every figure and a print stylesheet: no interactive parts, a page break before each
    section). Images are ``data:`` URIs, so the file stands alone. Written atomically.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    target : str or os.PathLike
        The HTML file to write.
    synthetic : bool
        Put the "SYNTHETIC DATA" banner at the top of the page (unless the notebook already shows
        it).
    title : str, optional
        The page title; default ``"report"``.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    fast_imports()
    from nbconvert import HTMLExporter

    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        exporter = HTMLExporter(template_name="cqc_report", extra_template_basedirs=[str(NBCONVERT_TEMPLATES)],
                                exclude_input=True, exclude_input_prompt=True,
                                exclude_output_prompt=True, embed_images=True)
        _exporters.html = exporter
    resources = {"metadata": {"name": title or "report"}}
    body, _ = exporter.from_notebook_node(_with_alt_text(nb), resources=resources)
    if synthetic and 'class="cqc-synthetic-banner"' not in body:  # the notebook did not show it itself
        m = re.search(r"<body[^>]*>", body)
        at = m.end() if m else 0
        body = body[:at] + "\n" + banner_html(True) + "\n" + body[at:]
    target = Path(target)
    atomic_write_text(target, body)
    return target


def write_index(run_dir, rows: Sequence[Mapping], *, title: str, subtitle: str = "",
                synthetic: bool = False, headers: Sequence[str] = ("notebook",),
                noun: str = "notebooks", file_sections: Sequence[tuple[str, Sequence]] = (),
                footer_links: Sequence[tuple[str, str]] = (), name: str = "index.html") -> Path:
    """Write ``index.html`` in ``run_dir``: a filterable table of everything in the run.

    Parameters
    ----------
    run_dir : path
        The run folder; links are relative to it.
    rows : list of mapping
        One per notebook or entity, with ``cells`` (values for ``headers``; the first is linked
        to ``href``), ``status`` ("ok", "failed", "skipped", ...), ``duration`` (seconds),
        ``error`` (shown in red), ``note``, and ``links`` (``[(label, href), ...]``). A row with
        ``notebook`` (the executed notebook, relative to ``run_dir``) also gets a card on the
        front page: its headline, a thumbnail of its first figure, its status, its skipped
        sections (``skipped``: ``[{"section", "reason"}]``) and its tables and figures
        (``files``: paths relative to ``run_dir``, with captions).
    title, subtitle : str
        The page's heading and the line under it.
    synthetic : bool
        Show the "SYNTHETIC DATA" banner at the top.
    headers : list of str
        Column titles before status, seconds, detail and files.
    noun : str
        What the rows are, for the counts line (``"notebooks"``, ``"reports"``).
    file_sections : list of (title, [(label, href), ...])
        Extra lists of links (figures, tables).
    footer_links : list of (label, href)
        Links at the foot of the page (the manifest, the run log).
    name : str
        The file name in ``run_dir`` (default ``index.html``).

    Returns
    -------
    Path
        The index file. Everything shown is HTML-escaped, so hostile names cannot inject markup.
    """
    from markupsafe import Markup

    norm = []
    counts: dict[str, int] = {}
    for r in rows:
        status = str(r.get("status", "unknown"))
        counts[status] = counts.get(status, 0) + 1
        dur = r.get("duration")
        norm.append({
            "cells": list(r.get("cells", [r.get("name", "")])),
            "href": r.get("href"),
            "status": status,
            "duration": "" if dur is None else f"{float(dur):.1f}",
            "error": r.get("error"),
            "note": r.get("note"),
            "links": list(r.get("links", [])),
        })
    cards = [_card(Path(run_dir), r) for r in rows if r.get("notebook") or r.get("files")]
    order = ["failed", "ok", "skipped"]
    count_list = sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 9))
    html = environment().get_template("index.html.j2").render(
        title=title, subtitle=subtitle, rows=norm, counts=count_list, headers=list(headers),
        noun=noun, failures=counts.get("failed", 0),
        banner=Markup(banner_html(synthetic)), file_sections=list(file_sections),
        footer_links=list(footer_links), cards=cards)
    target = Path(run_dir) / name
    atomic_write_text(target, html)
    return target




def _humanise(stem: str) -> str:
    return stem.replace("_", " ").strip().capitalize()


def _csv_rows(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return max(sum(1 for _ in f) - 1, 0)
    except OSError:
        return None


def _card(run_dir: Path, row: Mapping) -> dict:
    """One notebook on the index's front page: headline, thumbnail, status, skips, outputs."""
    contents = {"headline": "", "figures": [], "tables": []}
    nb = row.get("notebook")
    if nb and (run_dir / nb).is_file():
        try:
            contents = report_contents(run_dir / nb)
        except Exception:  # an unreadable notebook: its failure says why
            pass
    captions = {f["file"]: f["caption"] for f in contents["figures"] + contents["tables"] if f.get("caption")}
    files = list(row.get("files") or [])
    shown_figures = [f["file"] for f in contents["figures"]]
    figures = [f for f in dict.fromkeys(shown_figures + [f for f in files if f.startswith("figures/")])
               if f and (run_dir / f).is_file()]
    tables = [f for f in dict.fromkeys([t["file"] for t in contents["tables"]]
                                       + [f for f in files if f.startswith("tables/")])
              if f and (run_dir / f).is_file()]
    table_items = []
    for f in tables:
        n = _csv_rows(run_dir / f)
        label = captions.get(f) or _humanise(Path(f).stem)
        table_items.append({"href": f, "caption": label, "file": Path(f).name,
                            "rows": "" if n is None else f"{n:,} row{'s' if n != 1 else ''}"})
    return {
        "name": (row.get("cells") or [row.get("name", "")])[0],
        "href": row.get("href"),
        "status": str(row.get("status", "unknown")),
        "error": row.get("error"),
        "headline": contents["headline"],
        "thumbnail": ({"href": figures[0], "caption": captions.get(figures[0]) or _humanise(Path(figures[0]).stem)}
                      if figures else None),
        "skipped": list(row.get("skipped") or []),
        "figures": [{"href": f, "caption": captions.get(f) or _humanise(Path(f).stem), "file": Path(f).name}
                    for f in figures],
        "tables": table_items,
    }
