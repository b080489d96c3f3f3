"""Every HTML fragment escapes data: organisation names are text, never markup."""

from __future__ import annotations

import pandas as pd

from cqc_research import display
from cqc_research.notebook_output import Report, banner_html
from cqc_research.runner.html import write_index
from cqc_research.templating import environment

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def test_every_template_autoescapes():
    env = environment()
    assert env.autoescape is True
    names = env.list_templates()
    assert "index.html.j2" in names and "fragments/banner.html.j2" in names


def test_notebook_header_escapes_title_subtitle_and_sources(tmp_path):
    src = tmp_path / f"{HOSTILE}.csv".replace("/", "_")
    src.write_text("x\n")
    html = Report(tmp_path, sources=[src], title=f"Provider: {HOSTILE}").header_html(subtitle=HOSTILE,
                                                                                  show_title=True)
    assert HOSTILE not in html and html.count(ESCAPED) >= 3  # title, subtitle, source
    assert f"<h2>Provider: {ESCAPED}</h2>" in html


def test_the_header_does_not_repeat_the_notebooks_own_title(tmp_path):
    rep = Report(tmp_path, sources=[], title="Do routine indicators predict CQC ratings?")
    assert "Do routine indicators" not in rep.header_html(subtitle="GP practices")
    assert "<h1" not in rep.header_html(show_title=True)  # the notebook's Markdown heading is the h1


def test_banner_note_is_escaped():
    assert HOSTILE not in banner_html(True, note=HOSTILE) and ESCAPED in banner_html(True, note=HOSTILE)


def test_rating_table_and_crosstab_escape_names():
    t = display.RatingTable(pd.DataFrame({"location_name": [HOSTILE], "Overall": ["Good"],
                                          HOSTILE: [1]}))
    html = t._repr_html_()
    assert HOSTILE not in html and html.count(ESCAPED) == 2
    ct = pd.DataFrame([[1]], index=pd.Index([HOSTILE], name=HOSTILE), columns=pd.Index(["Good"]))
    html = display.CrosstabTable(ct)._repr_html_()
    assert HOSTILE not in html and ESCAPED in html


def test_index_escapes_cells_notes_and_errors(tmp_path):
    path = write_index(tmp_path, [{"cells": [HOSTILE], "status": "failed", "error": HOSTILE,
                                   "note": HOSTILE}], title=HOSTILE)
    html = path.read_text()
    assert HOSTILE not in html and ESCAPED in html
