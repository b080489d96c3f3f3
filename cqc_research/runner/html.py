"""HTML of a run: notebooks exported without code, and the index page (jinja2, autoescaped)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..cache import atomic_write_text
from ..templating import environment
from .kernels import fast_imports

# HTML
_exporters = threading.local()


def export_html(nb, target, *, synthetic: bool, title: str | None = None) -> Path:
    """Write a notebook as HTML without code, figures embedded, banner first when synthetic.

    Uses nbconvert's ``HTMLExporter`` with ``exclude_input=True`` (what ``--no-input`` does) and
    no prompts. Images are ``data:`` URIs, so the file stands alone. Written atomically.

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
        exporter = HTMLExporter(template_name="lab", exclude_input=True,
                                exclude_input_prompt=True, exclude_output_prompt=True,
                                embed_images=True)
        _exporters.html = exporter
    resources = {"metadata": {"name": title or "report"}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if synthetic and "cqc-synthetic-banner" not in body:  # the notebook did not show it itself
        from ..notebook_output import banner_html

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
        ``error`` (shown in red), ``note``, and ``links`` (``[(label, href), ...]``).
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

    from ..notebook_output import banner_html

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
    order = ["failed", "ok", "skipped"]
    count_list = sorted(counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 9))
    html = environment().get_template("index.html.j2").render(
        title=title, subtitle=subtitle, rows=norm, counts=count_list, headers=list(headers),
        noun=noun, failures=counts.get("failed", 0),
        banner=Markup(banner_html(synthetic)), file_sections=list(file_sections),
        footer_links=list(footer_links))
    target = Path(run_dir) / name
    atomic_write_text(target, html)
    return target


