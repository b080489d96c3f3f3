"""Reports that degrade, not die: a section with missing inputs prints a note, the run says so."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from cqc_research.notebook_output import Report, SectionSkipped, skipped_sections


def test_section_records_a_skip_and_shows_a_note(tmp_path, monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    rep = Report(tmp_path, sources=[])
    with rep.section("Funnel by local authority") as sec:
        sec.require(pd.DataFrame(), "no local authority in the ratings")
        raise AssertionError("not reached")
    assert sec.skipped and sec.reason == "no local authority in the ratings"
    assert rep.skipped == [{"section": "Funnel by local authority", "reason": "no local authority in the ratings"}]
    (obj, kw), = shown
    assert "Section skipped: Funnel by local authority. No local authority in the ratings." in obj.data
    assert kw["metadata"]["cqc-research-section-skipped"]["section"] == "Funnel by local authority"
    with rep.section("Ranks") as sec:  # a met condition runs the body
        sec.require(pd.Series([1]), "never")
        ran = True
    assert ran and not sec.skipped and len(rep.skipped) == 1
    with pytest.raises(ZeroDivisionError), rep.section("A genuine error"):
        1 / 0  # noqa: B018  (anything but SectionSkipped still fails)
    with rep.section("skip()"):
        rep.skip("nothing to show")
    assert [s["section"] for s in rep.skipped] == ["Funnel by local authority", "skip()"]
    assert issubclass(SectionSkipped, Exception)


def _notebook(path, body: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell('output_dir: str = ""  # run folder')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from cqc_research.notebook_output import Report\nrep = Report(output_dir or '.', sources=[])\n" + body)]
    nbformat.write(nb, str(path))
    return path


def test_runner_marks_skipped_sections_and_still_fails_errors(tmp_path):
    from cqc_research.runner.run import run_notebooks

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    a = _notebook(nbs / "a_degrades.ipynb",
                  "with rep.section('Funnel by local authority') as sec:\n"
                  "    sec.require([], 'no local authority in the ratings')\n"
                  "with rep.section('A&E months') as sec:\n"
                  "    sec.require(0, 'no A&E months in range')\n"
                  "print('the report completed')\n")
    b = _notebook(nbs / "b_fails.ipynb", "with rep.section('Broken'):\n    raise ValueError('a genuine error')\n")
    res = run_notebooks([a, b], output_root=tmp_path / "out", run_id="r", progress=False)
    by = {r.name: r for r in res.notebooks}
    assert by["a_degrades"].ok and not by["b_fails"].ok
    assert "a genuine error" in by["b_fails"].error
    assert [s["section"] for s in by["a_degrades"].skipped_sections] == ["Funnel by local authority", "A&E months"]
    sections = json.loads((res.run_dir / "sections.json").read_text())
    assert sections == {"skipped": {"a_degrades": by["a_degrades"].skipped_sections}}
    manifest = json.loads(res.manifest_path.read_text())
    assert manifest["notebooks"][0]["skipped_sections"][1]["reason"] == "no A&E months in range"
    index = res.index_path.read_text()
    assert "completed, 2 sections skipped: Funnel by local authority (no local authority in the ratings); " \
           "A&amp;E months (no A&amp;E months in range)" in index
    assert skipped_sections(res.run_dir / "a_degrades.ipynb") == by["a_degrades"].skipped_sections
