"""Reports that read like a publication (issue 26): the one table path, no stray reprs, figures
whose synthetic stamp covers nothing, alt text, and the index as a front page.

The unit tests plant each fault the issue names and check that the table path, the stamp and the
checkers below handle it; ``test_every_report_of_the_main_job_*`` run the checkers over every
report of the main job (every notebook through ``cqc-research run`` on the default synthetic data).
The browser test (tests/browser/test_report_html.py) runs the same checkers on what Chromium shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cqc_research.display import Table, column_label, show_table, text_table  # noqa: E402
from cqc_research.notebook_output import (  # noqa: E402
    BANNER_TEXT,
    STAMP_PNG_KEY,
    Report,
    report_contents,
    stamp_figure,
    stamp_overlaps,
)

# ---------------------------------------------------------------------------------------------
# checkers, shared with the browser test
#: What a Python repr looks like in a reader's text.
REPR_PATTERNS = [
    r"\b(Posix|Windows)?Path\('", r"<matplotlib[.\w]*", r"\bAxes\(", r"<Figure size", r"\bFigure\(",
    r"\bEmpty DataFrame\b", r"\bDataFrame\b", r"\bdtype: ", r"\barray\(", r"Name: [^\n]*, dtype",
    r"<[\w.]+ (object )?at 0x[0-9a-fA-F]+>", r"<IPython\.core\.display\.\w+ object>", r"\bStyler\b",
]


def repr_problems(text: str) -> list[str]:
    """The repr-like snippets in a reader's text (empty when there is none)."""
    found = []
    for pattern in REPR_PATTERNS:
        for m in re.finditer(pattern, text):
            found.append(text[max(0, m.start() - 30): m.end() + 30].replace("\n", " "))
    return found


def _soup(html: str):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "script", "head", "title"]):
        tag.decompose()
    return soup


def visible_text(html: str) -> str:
    """The text a reader sees in an HTML page (no styles, scripts or attributes)."""
    return _soup(html).get_text(" ")


def table_problems(html: str) -> list[str]:
    """Tables showing a bare 0..n index, a count as a float, or headers and no rows."""
    problems = []
    for i, table in enumerate(_soup(html).find_all("table")):
        head = [c.get_text(" ", strip=True) for c in table.select("thead tr:last-of-type > *")]
        body = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"], recursive=False)]
                for tr in (table.find("tbody") or table).find_all("tr", recursive=False)
                if tr.find("td") is not None]
        name = f"table {i + 1} ({', '.join(head[:4])})"
        if head and not body:
            problems.append(f"{name}: headers and no rows")
            continue
        first = [r[0] for r in body if r]
        if first and (not head or head[0] == "") and all(re.fullmatch(r"\d+", v) for v in first):
            problems.append(f"{name}: a bare row index ({', '.join(first[:3])}, ...)")
        width = max((len(r) for r in body), default=0)
        for j in range(width):
            cells = [r[j] for r in body if len(r) == width and r[j] not in ("", "\u2013", "NaN", "nan")]
            if cells and all(re.fullmatch(r"-?[\d,]+\.0+", v) for v in cells):
                label = head[j] if j < len(head) else str(j)
                problems.append(f"{name}: column {label!r} prints whole numbers as floats ({cells[0]})")
    return problems


def notebook_visible_text(nb) -> str:
    """What each output of an executed notebook shows (its richest format), as text."""
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out.get("text", "")))
                continue
            data = out.get("data", {})
            if "text/html" in data:
                parts.append(visible_text("".join(data["text/html"])))
            elif "text/markdown" in data:
                parts.append("".join(data["text/markdown"]))
            elif "image/png" in data:
                continue
            else:
                parts.append("".join(data.get("text/plain", "")))
    return "\n".join(parts)


def run_problems(run: Path) -> dict[str, list[str]]:
    """Every polish fault of a run folder, by file: reprs, tables, stamps and the index."""
    from PIL import Image

    problems: dict[str, list[str]] = {}
    manifest = json.loads((run / "manifest.json").read_text())
    for row in manifest["notebooks"]:
        name = row["name"]
        if row["status"] != "ok":
            continue  # a failed notebook's report shows its error; the run reports the failure
        html = (run / f"{name}.html").read_text(encoding="utf-8")
        found = [f"repr: {r}" for r in repr_problems(visible_text(html))]
        found += table_problems(html)
        nb = json.loads((run / f"{name}.ipynb").read_text(encoding="utf-8"))
        found += [f"repr in the notebook: {r}" for r in repr_problems(notebook_visible_text(nb))]
        found += [f"image without alt text: {m}" for m in re.findall(r"<img(?![^>]*\balt=\"[^\"]+\")[^>]{0,60}", html)]
        if found:
            problems[f"{name}.html"] = found
    for png in sorted((run / "figures").glob("*.png")):
        with Image.open(png) as im:
            stamp = im.info.get(STAMP_PNG_KEY)
        if manifest["synthetic"] and stamp != "clear":
            problems.setdefault(f"figures/{png.name}", []).append(f"stamp: {stamp}")
    index = _soup((run / "index.html").read_text(encoding="utf-8"))
    cards = index.select("#front-page section.card")
    names = [c.find("h2").get_text(" ", strip=True) for c in cards]
    missing = [r["name"] for r in manifest["notebooks"]
               if not any(n.startswith(r["name"]) for n in names)]
    no_headline = [c.find("h2").get_text(" ", strip=True) for c in cards if "failed" not in c["class"]
                   and not (c.select_one("p.headline") and c.select_one("p.headline").get_text(strip=True))]
    if missing or no_headline or len(cards) != len(manifest["notebooks"]):
        problems["index.html"] = [f"no card: {missing}", f"no headline: {no_headline}"]
    return problems


# ---------------------------------------------------------------------------------------------
# the one table path
def test_counts_with_missing_values_print_as_integers_and_shares_as_percentages():
    frame = pd.DataFrame({"sector": ["A", "B"], "count": [824.0, float("nan")], "n": [3, 4],
                          "share": [0.5, 0.12345], "mean": [75.1, 68.0], "year": [2024, 2025]})
    shown = Table(frame).display_frame()
    assert shown["count"].tolist() == ["824", "\u2013"]
    assert shown["share"].tolist() == ["50.0%", "12.3%"]
    assert shown["mean"].tolist() == ["75.1", "68.0"]
    assert shown["year"].tolist() == ["2024", "2025"]  # no thousands separator in a year
    assert Table(pd.DataFrame({"n": [12345]})).display_frame()["n"].tolist() == ["12,345"]


def test_intervals_read_a_to_b_in_the_estimates_format_and_labels_are_human():
    frame = pd.DataFrame({"domain": ["Safe"], "n": [2940], "agreement": [0.7911],
                          "agreement_ci_low": [0.776], "agreement_ci_high": [0.8049],
                          "median_months": [8.706], "ci_low": [7.162], "ci_high": [10.086]})
    shown = Table(frame).display_frame()
    assert list(shown.columns) == ["domain", "n", "agreement", "agreement 95% CI", "median (months)",
                                   "median (months) 95% CI"]
    assert shown.iloc[0].tolist() == ["Safe", "2,940", "79.1%", "77.6% to 80.5%", "8.706",
                                      "7.162 to 10.086"]
    alone = Table(frame[["n", "median_months", "ci_low", "ci_high"]]).display_frame()
    assert list(alone.columns) == ["n", "median (months)", "95% CI"]
    assert column_label("p_value") == "p" and column_label("share_over_24_months") == "share over 24 months"


def test_a_bare_index_is_dropped_and_a_meaningful_one_kept_named():
    filtered = pd.DataFrame({"x": [1, 2, 3]}, index=[4, 9, 22])  # a filtered frame: 4, 9, 22
    assert list(Table(filtered).display_frame().columns) == ["x"]
    named = pd.DataFrame({"share": [0.5]}, index=pd.Index(["Good"], name="rating"))
    assert list(Table(named).display_frame().columns) == ["rating", "share"]
    series = pd.Series([3, 4], index=pd.Index(["a", "b"], name="status"), name="cases")
    assert Table(series).display_frame().to_dict("list") == {"status": ["a", "b"], "cases": ["3", "4"]}
    html = Table(filtered)._repr_html_()
    assert table_problems(html) == []
    assert table_problems(filtered.to_html()) != []  # the checker sees pandas' bare index


def test_an_empty_result_is_a_sentence_and_a_long_table_is_collapsed_with_a_count():
    empty = pd.DataFrame(columns=["file", "problem"])
    html = show_table(empty, "Problems", empty="No problems were found.")._repr_html_()
    assert "<table" not in html and "No problems were found." in html
    assert "<table" not in Table(empty)._repr_html_()
    assert [p.endswith("headers and no rows") for p in table_problems(empty.to_html())] == [True]
    long = pd.DataFrame({"i": range(57)})
    t = Table(long, max_rows=10, name="long")
    assert t.count_text() == "the first 10 of 57 rows; all are in tables/long.csv"
    html = t._repr_html_()
    assert "the first 10 of 57 rows" in html and "Show all 57 rows" in html
    assert "the first 20 of 500 rows" in Table(pd.DataFrame({"i": range(500)}))._repr_html_()
    assert "<details" not in Table(pd.DataFrame({"i": range(500)}))._repr_html_()  # too long to embed


def test_table_html_escapes_names_and_the_plain_text_is_no_repr():
    hostile = "<img src=x onerror=alert(1)>"
    html = Table(pd.DataFrame({hostile: [hostile]}), caption=hostile)._repr_html_()
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    text = repr(Table(pd.DataFrame({"n": [1.0, 2.0]}), caption="Counts"))
    assert repr_problems(text) == [] and "Counts" in text and "1.0" not in text
    styled = pd.DataFrame({"id": ["q01"], "text": ["Why?"]}).style.set_caption("Questions")
    assert Table(styled).caption == "Questions"
    assert isinstance(text_table(pd.DataFrame({"a": ["x"]}), ["a"], wrap=["a"]), Table)


def test_the_saved_csv_keeps_snake_case_while_the_report_shows_labels(tmp_path):
    frame = pd.DataFrame({"n_rated": [50.0], "share_good": [0.72], "ci_low": [0.58], "ci_high": [0.82]})
    rep = Report(tmp_path, sources=[])
    path = rep.save_table(frame, "t")
    assert path.read_text() == frame.to_csv(index=False)
    assert list(Table(frame).display_frame().columns) == ["n rated", "share good", "95% CI"]


def test_every_dataframe_a_report_kernel_shows_goes_through_the_table_path():
    from IPython.core.interactiveshell import InteractiveShell

    from cqc_research.display import use_report_tables

    shell = InteractiveShell.instance()
    try:
        assert use_report_tables(shell)
        data, _ = shell.display_formatter.format(pd.DataFrame({"count": [824.0, 1.0]}))
        assert "cqc-table" in data["text/html"] and "824.0" not in data["text/html"]
        assert table_problems(data["text/html"]) == [] and repr_problems(data["text/plain"]) == []
        data, _ = shell.display_formatter.format(pd.Series([1, 2], name="x"))
        assert "dtype" not in data["text/plain"] and "cqc-table" in data["text/html"]
    finally:
        InteractiveShell.clear_instance()


def test_report_show_saves_the_csv_unchanged_and_shows_the_table_in_a_kernel(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    frame = pd.DataFrame({"count": [824.0, float("nan")], "share": [0.5, 0.25]}, index=[3, 7])
    rep = Report(tmp_path, sources=[])
    InteractiveShell.instance()  # a kernel-like shell for display()
    try:
        with capture_output() as shown:
            rep.show(frame, "Counts", save="counts")
    finally:
        InteractiveShell.clear_instance()
    assert (tmp_path / "tables" / "counts.csv").read_text() == frame.to_csv(index=False)
    (out,) = shown.outputs
    assert out.metadata["cqc-research-table"] == {"file": "tables/counts.csv", "caption": "Counts"}
    assert "824" in out.data["text/html"] and "824.0" not in out.data["text/html"]
    assert table_problems(out.data["text/html"]) == [] and repr_problems(out.data["text/plain"]) == []


# ---------------------------------------------------------------------------------------------
# no repr reaches a report
def test_saves_end_a_cell_quietly(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    rep = Report(tmp_path, sources=[])
    saved = rep.save("x", pd.DataFrame({"a": [1]}), fig)
    assert saved == [tmp_path / "tables" / "x.csv", tmp_path / "figures" / "x.png"]
    for value in (saved, saved[0], rep.save_table(pd.DataFrame({"a": [1]}), "y"),
                  rep.save_tables({"z": pd.DataFrame({"a": [1]})})):
        assert value._ipython_display_() is None  # IPython shows nothing for these
    assert isinstance(saved[0], Path) and saved[0].read_text().startswith("a\n")
    plt.close(fig)


def test_the_repr_checker_finds_every_kind_of_repr():
    planted = ["[PosixPath('/tmp/x.png')]", "<matplotlib.axes._axes.Axes at 0x7f00>",
               "<Figure size 800x295 with 1 Axes>", "Empty DataFrame", "Name: share, dtype: float64",
               "array([1, 2])", "<pandas.io.formats.style.Styler at 0x7f32f5e70f90>",
               "<IPython.core.display.HTML object>"]
    for text in planted:
        assert repr_problems(f"before {text} after"), text
    assert repr_problems("824 assessments; 95% CI 70.9% to 87.4%") == []


# ---------------------------------------------------------------------------------------------
# figures
def _crowded_figure():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    fig.suptitle("A title right at the top of the figure", y=1.0, va="bottom")
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set(title="panel", xlabel="months", ylabel="share")
    axes[1].legend(["line"], loc="lower left", bbox_to_anchor=(0, 1.02))  # a legend above an axes
    return fig


def test_the_stamp_is_drawn_clear_of_titles_labels_and_data():
    fig = _crowded_figure()
    stamp_figure(fig)
    assert stamp_overlaps(fig) == []
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    stamp = next(t for t in fig.texts if t.get_text() == BANNER_TEXT)
    box = stamp.get_window_extent(renderer)
    texts = [fig._suptitle] + [t for ax in fig.axes for t in
                               (ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(),
                                *ax.get_yticklabels())]
    assert not any(box.overlaps(t.get_window_extent(renderer)) for t in texts if t.get_text())
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
    plt.close(fig)


def test_the_stamp_check_can_fail():
    fig = _crowded_figure()
    old = fig.text(0.5, 1.0, BANNER_TEXT, ha="center", va="bottom", fontsize=12)  # the old stamp
    old._cqc_stamp = True
    assert "A title right at the top of the figure" in stamp_overlaps(fig)
    plt.close(fig)


def test_saved_figures_record_a_clear_stamp_and_a_caption(tmp_path):
    from PIL import Image

    marker = tmp_path / "syn"
    marker.mkdir()
    (marker / "SYNTHETIC").write_text("x")
    rep = Report(tmp_path / "run", sources=[marker])
    path = rep.save_figure(_crowded_figure(), "crowded")
    with Image.open(path) as im:
        assert im.info[STAMP_PNG_KEY] == "clear"
        assert im.info["Title"] == "A title right at the top of the figure"
        assert im.info["cqc-research-data"] == BANNER_TEXT


# ---------------------------------------------------------------------------------------------
# the index's front page, from an executed notebook's outputs
def test_report_contents_reads_headline_figures_and_tables():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T\n\nWhat this asks."),
                                         nbformat.v4.new_code_cell("x")])
    nb.cells[1].outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "**Data:** a folder. More."},
                               metadata={"cqc-research-say": {"headline": False}}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "Most agree (79%). Then more."},
                               metadata={"cqc-research-say": {"headline": True}}),
        nbformat.v4.new_output("display_data", data={"image/png": "", "text/plain": "Figure: F"},
                               metadata={"cqc-research-figure": {"file": "figures/f.png", "caption": "F"}}),
    ]
    got = report_contents(nb)
    assert got["headline"] == "Most agree (79%)."
    assert got["figures"] == [{"file": "figures/f.png", "caption": "F"}]
    nb.cells[1].outputs = nb.cells[1].outputs[:1]
    assert report_contents(nb)["headline"] == "Data: a folder."
    nb.cells[1].outputs = []
    assert report_contents(nb)["headline"] == "What this asks."


# ---------------------------------------------------------------------------------------------
# done when: every report of `cqc-research run` on the default data
def test_every_report_of_the_main_job_reads_like_a_publication(main_job):
    # a failing notebook fails tests/test_main_job.py; here every report that ran is checked
    problems = run_problems(main_job.run)
    assert problems == {}, json.dumps(problems, indent=1)[:4000]


def test_the_run_checker_can_fail(main_job, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(main_job.run, run)
    name = json.loads((run / "manifest.json").read_text())["notebooks"][0]["name"]
    page = run / f"{name}.html"
    page.write_text(page.read_text().replace("</body>", "<pre>[PosixPath('/x.png')]</pre>"
                                             "<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table></body>"))
    found = run_problems(run)[f"{name}.html"]
    assert any("PosixPath" in p for p in found) and any("headers and no rows" in p for p in found)


@pytest.mark.parametrize("bad", ["<img src='x.png'>", '<img alt="" src="x.png">'])
def test_an_image_without_alt_text_is_found(bad):
    assert re.findall(r"<img(?![^>]*\balt=\"[^\"]+\")[^>]{0,60}", bad)


@pytest.mark.realdata
def test_reports_on_the_real_samples_read_like_a_publication(shared_data, tmp_path):
    """Notebooks 03, 08 and 10 on the real Oldham API records (10 with the 72 real councils
    shipped with the package): the same checks as the main job's."""
    from cqc_research.paths import NOTEBOOKS
    from cqc_research.runner.run import run_notebooks

    res = run_notebooks([NOTEBOOKS / f"{n}.ipynb" for n in
                         ("03_improvement_journeys", "08_assessment_framework", "10_councils_and_systems")],
                        parameters={"api_path": str(shared_data / "cqc_api_oldham_2024")},
                        output_root=tmp_path, run_id="real", workers=2, progress=False)
    assert [(r.name, r.status) for r in res.notebooks] == [
        ("03_improvement_journeys", "ok"), ("08_assessment_framework", "ok"),
        ("10_councils_and_systems", "ok")], [r.error for r in res.notebooks]
    assert not res.synthetic
    problems = run_problems(res.run_dir)
    assert problems == {}, json.dumps(problems, indent=1)[:4000]
