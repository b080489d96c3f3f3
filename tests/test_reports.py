"""The papermill runner (`cqc-research run`): run ids, parameters, hashing, HTML, index, detector.

Kernel executions cost ~1-2 s each, so the end-to-end tests share one run of three tiny
notebooks (an ok one, a failing one, one that forgets the synthetic stamp) in a module fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from cqc_research import cli
from cqc_research import runner as R

HERE = Path(__file__).resolve().parent
TINY = HERE / "notebooks" / "tiny_report.ipynb"


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _variant(src: Path, dst: Path, **defaults) -> Path:
    """A copy of a notebook with other defaults in its parameters cell."""
    nb = nbformat.read(src, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in defaults.items():
        cell.source, n = re.subn(rf"^({name}: \w+ = )[^#]*#", rf"\g<1>{value!r}  #", cell.source,
                                 flags=re.M)
        assert n == 1, name
    nbformat.write(nb, dst)
    return dst


# ---------------------------------------------------------------------------------------------
# pure functions
def test_run_id_is_sortable_by_time_and_unique():
    a = R.make_run_id(dt.datetime(2026, 11, 23, 9, 5), token="000aaa")
    b = R.make_run_id(dt.datetime(2026, 11, 23, 18, 54), token="3fa9c2")
    c = R.make_run_id(dt.datetime(2027, 1, 2, 0, 0), token="000000")
    assert a == "2026-11-23T0905-000aaa" and b == "2026-11-23T1854-3fa9c2"
    assert sorted([c, b, a]) == [a, b, c]
    assert len({R.make_run_id() for _ in range(50)}) == 50


@pytest.mark.parametrize("text,type_name,expected", [
    ("3", None, 3), ("-2", "int", -2), ("0.25", None, 0.25), ("2", "float", 2.0),
    ("true", None, True), ("False", "bool", False), ("None", None, None),
    ("[1, 2, 3]", None, [1, 2, 3]), ("[a, b]", "list", ["a", "b"]), ("{x: 1}", None, {"x": 1}),
    ("RM3", None, "RM3"), ("123", "str", "123"), ("true", "str", "true"),
    ("2024-01-31", None, "2024-01-31"), ("yes", None, "yes"),
])
def test_parse_value_like_papermill_guided_by_declared_type(text, type_name, expected):
    value = R.parse_value(text, type_name)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text,type_name", [("abc", "int"), ("1.5", "int"), ("true", "int"),
                                            ("x", "float"), ("[1, 2", None)])
def test_parse_value_rejects_wrong_types(text, type_name):
    with pytest.raises(R.ParameterError, match="parameter"):
        R.parse_value(text, type_name, name="p")


def test_resolve_parameters_validates_names_against_the_parameters_cell():
    spec = R.notebook_parameters(TINY)
    assert {"output_dir", "source", "label", "n", "scale", "stamp", "fail"} <= set(spec)
    out = R.resolve_parameters({TINY: spec}, {"n": "7", "label": "007", "scale": "2"})
    assert out[TINY] == {"n": 7, "label": "007", "scale": 2.0}
    with pytest.raises(R.ParameterError) as exc:
        R.resolve_parameters({TINY: spec}, {"nn": "7"})
    msg = str(exc.value)
    assert "'nn'" in msg and "tiny_report.ipynb" in msg and "label" in msg and "\n" not in msg
    with pytest.raises(R.ParameterError, match="declared int"):
        R.resolve_parameters({TINY: spec}, {"n": "seven"})


def test_a_parameter_goes_only_to_the_notebooks_that_declare_it(tmp_path):
    other = tmp_path / "other.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x: int = 1  # x",
                                                                   metadata={"tags": ["parameters"]})])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, other)
    specs = {TINY: R.notebook_parameters(TINY), other: R.notebook_parameters(other)}
    out = R.resolve_parameters(specs, {"x": "5", "n": "2"})
    assert out[other] == {"x": 5} and out[TINY] == {"n": 2}
    with pytest.raises(R.ParameterError, match="none of the 2 notebooks"):
        R.resolve_parameters(specs, {"zzz": "1"})


def test_find_notebooks_defaults_to_sorted_top_level(tmp_path):
    for name in ["03_c.ipynb", "00_a.ipynb", "01_b.ipynb"]:
        shutil.copy(TINY, tmp_path / name)
    (tmp_path / "profiles").mkdir()
    shutil.copy(TINY, tmp_path / "profiles" / "p.ipynb")
    (tmp_path / ".hidden.ipynb").write_text("{}")
    found = R.find_notebooks(None, folder=tmp_path)
    assert [p.name for p in found] == ["00_a.ipynb", "01_b.ipynb", "03_c.ipynb"]
    assert R.find_notebooks(["01_b"], folder=tmp_path)[0].name == "01_b.ipynb"
    with pytest.raises(R.NotebookError, match="no notebook 'missing.ipynb'"):
        R.find_notebooks(["missing.ipynb"], folder=tmp_path)


def test_default_data_convention():
    spec = {"ratings_path": {"default": '""'}, "output_dir": {"default": '""'},
            "level": {"default": '"location"'}}
    assert R.uses_default_data(spec, {})
    assert not R.uses_default_data(spec, {"ratings_path": "/data/x.ods"})
    assert R.uses_default_data(spec, {"ratings_path": ""})
    assert not R.uses_default_data({"output_dir": {"default": '""'}, "n": {"default": "1"}}, {})


def test_hash_inputs_file_and_folder_digest(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"x,y\n1,2\n")
    d = tmp_path / "folder"
    (d / "sub").mkdir(parents=True)
    (d / "one.json").write_text('{"a": 1}')
    (d / "sub" / "two.json").write_text('{"b": 2}')
    out = R.hash_inputs([f, d])
    assert out[str(f)] == {"kind": "file", "sha256": _sha(f), "bytes": 8}
    # independent computation of the folder digest: sha256sum-style listing sorted by path
    listing = "".join(f"{_sha(d / rel)}  {rel}\n" for rel in ["one.json", "sub/two.json"])
    entry = out[str(d)]
    assert entry["sha256_tree"] == hashlib.sha256(listing.encode()).hexdigest()
    assert entry["files"] == 2
    (d / "sub" / "two.json").write_text('{"b": 3}')
    assert R.hash_inputs([d])[str(d)]["sha256_tree"] != entry["sha256_tree"]


def _png_bytes() -> bytes:
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_export_html_has_no_code_embeds_figures_and_shows_banner(tmp_path):
    png = _png_bytes()
    cell = nbformat.v4.new_code_cell("secret_source_code = 42\nprint('hello reader')")
    cell.execution_count = 1
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hello reader\n"),
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode(),
                                                     "text/plain": "<Figure>"}),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"), cell])
    real = R.export_html(nb, tmp_path / "real.html", synthetic=False).read_text()
    assert "secret_source_code" not in real and "hello reader" in real
    assert "data:image/png;base64," + base64.b64encode(png).decode()[:40] in real
    assert "SYNTHETIC DATA" not in real
    synth = R.export_html(nb, tmp_path / "synth.html", synthetic=True).read_text()
    body = synth[synth.index("<body"):]
    assert body.index("SYNTHETIC DATA") < body.index("hello reader")


def test_write_index_escapes_hostile_names_and_shows_failures(tmp_path):
    rows = [
        {"cells": ['<script>alert("x")</script> & Co'], "href": "a/report.html", "status": "ok",
         "duration": 1.23, "links": [("report", "a/report.html")]},
        {"cells": ["Broken Trust"], "href": None, "status": "failed", "duration": 0.5,
         "error": "ValueError: planted <failure>"},
    ]
    html = R.write_index(tmp_path, rows, title="T", synthetic=True).read_text()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(" in html
    assert '<tr class="failed">' in html and "ValueError: planted &lt;failure&gt;" in html
    assert 'id="filter"' in html and "SYNTHETIC DATA" in html
    assert "1 failed" in html


# ---------------------------------------------------------------------------------------------
# CLI errors: one line, exit 2, no traceback
@pytest.mark.parametrize("argv,needle", [
    (["run", "does/not/exist.ipynb"], "no notebook"),
    (["run", str(TINY), "-p", "not_a_parameter", "1"], "unknown parameter 'not_a_parameter'"),
    (["run", str(TINY), "-p", "n", "many"], "declared int"),
])
def test_cli_errors_are_one_line(argv, needle, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------
# one end-to-end run: ok + failing + unstamped, in parallel, on a synthetic input
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    data = base / "data" / "synthetic"
    data.mkdir(parents=True)
    (data / "SYNTHETIC").write_text("synthetic\n")
    (data / "numbers.csv").write_text("a\n1\n2\n")
    nbs = base / "nbs"
    nbs.mkdir()
    ok = _variant(TINY, nbs / "a_ok.ipynb", label="ok")
    bad = _variant(TINY, nbs / "b_fail.ipynb", label="bad", fail=True)
    unstamped = _variant(TINY, nbs / "c_unstamped.ipynb", label="plain", stamp=False)
    same = _variant(TINY, nbs / "d_same_table.ipynb", label="ok")  # writes a_ok's table again
    argv = ["run", str(ok), str(bad), str(unstamped), str(same), "-p", "source", str(data), "-p", "n", "5",
            "--workers", "2", "--output-root", str(base / "out"), "--run-id", "test-run", "--quiet"]
    status = cli.main(argv)
    run_dir = base / "out" / "test-run"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {"status": status, "dir": run_dir, "manifest": manifest, "data": data,
            "rows": {r["name"]: r for r in manifest["notebooks"]}}


def test_run_exits_nonzero_but_finishes_everything(run):
    assert run["status"] == 1
    rows = run["rows"]
    assert [r["name"] for r in run["manifest"]["notebooks"]] == ["a_ok", "b_fail", "c_unstamped",
                                                                 "d_same_table"]
    assert rows["a_ok"]["status"] == "ok"
    assert rows["b_fail"]["status"] == "failed"
    assert rows["b_fail"]["error"] == "ValueError: planted failure in bad"
    for name in rows:  # every notebook was executed and rendered, failures included
        assert (run["dir"] / f"{name}.ipynb").is_file() and (run["dir"] / f"{name}.html").is_file()
    assert not list(run["dir"].glob(".*.tmp")) and not list(run["dir"].glob(".*.ipynb"))


def test_parameters_are_injected_and_recorded(run):
    row = run["rows"]["a_ok"]
    assert row["parameters"] == {"n": 5, "source": str(run["data"]), "output_dir": str(run["dir"])}
    nb = nbformat.read(run["dir"] / "a_ok.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "n = 5" in injected.source and f'output_dir = "{run["dir"]}"' in injected.source
    # the notebook computed with n=5: sum of i*i for i < 5 is 30
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "total 30" in text


def test_manifest_hashes_inputs_and_records_versions(run):
    m = run["manifest"]
    entry = m["inputs"][str(run["data"])]
    listing = "".join(f"{_sha(run['data'] / rel)}  {rel}\n" for rel in ["SYNTHETIC", "numbers.csv"])
    assert entry["sha256_tree"] == hashlib.sha256(listing.encode()).hexdigest()
    sums = (run["dir"] / "SHA256SUMS").read_text().splitlines()
    assert f"{_sha(run['data'] / 'numbers.csv')}  {run['data'] / 'numbers.csv'}" in sums
    env = m["environment"]
    assert env["python"].count(".") == 2 and env["packages"]["papermill"]
    assert m["synthetic"] is True and m["counts"] == {"notebooks": 4, "ok": 2, "failed": 2}
    assert m["collisions"] == {"tables/squares_ok.csv": ["a_ok", "d_same_table"]}
    assert all(r["duration_s"] > 0 for r in m["notebooks"])


def test_detector_fails_the_notebook_that_forgot_the_stamp(run):
    row = run["rows"]["c_unstamped"]
    assert row["status"] == "failed"
    assert "SYNTHETIC DATA stamp" in row["error"] and "tables/squares_plain.csv" in row["error"]
    assert row["unstamped"] == ["tables/squares_plain.csv"]
    # the stamped notebook that ran alongside it is not blamed
    assert run["rows"]["a_ok"]["unstamped"] == []
    stamped = (run["dir"] / "tables" / "squares_ok.csv").read_text().splitlines()
    assert stamped[0] == "data_status,i,value" and stamped[1].startswith("SYNTHETIC DATA,")


def test_html_and_index(run):
    html = (run["dir"] / "a_ok.html").read_text()
    assert "SYNTHETIC DATA" in html and "total 30" in html
    assert "rep.save_table" not in html and "import pandas" not in html  # no code
    index = (run["dir"] / "index.html").read_text()
    assert "SYNTHETIC DATA" in index
    assert 'href="a_ok.html"' in index and 'href="manifest.json"' in index
    assert "ValueError: planted failure in bad" in index
    assert index.count('<tr class="failed">') == 2
    assert 'href="tables/squares_ok.csv"' in index


def test_parameters_cell_is_read_with_ast_even_with_quotes_in_comments(tmp_path):
    src = ('ratings_path: str = ""  # workbook; "" = the embedded data\n'
           "level = 'location'  # \"location\" or 'provider' # really\n"
           "limit: int = 10\n"
           "weights: list = [1, 2]  # a list\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src, metadata={"tags": ["parameters"]})])
    nbformat.write(nb, tmp_path / "q.ipynb")
    spec = R.notebook_parameters(tmp_path / "q.ipynb")
    assert list(spec) == ["ratings_path", "level", "limit", "weights"]
    assert spec["ratings_path"]["default"] == '""'
    assert spec["ratings_path"]["help"] == 'workbook; "" = the embedded data'
    assert spec["level"]["inferred_type_name"] == "str"
    assert spec["limit"]["inferred_type_name"] == "int"
    assert spec["weights"]["default"] == "[1, 2]"
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = = 1", metadata={"tags": ["parameters"]})])
    nbformat.write(bad, tmp_path / "bad.ipynb")
    with pytest.raises(R.NotebookError, match="not valid Python"):
        R.notebook_parameters(tmp_path / "bad.ipynb")


def test_default_data_is_written_once_and_hashed_when_a_notebook_needs_it(tmp_path, monkeypatch):
    """A notebook leaving a `*_path` parameter empty reads the embedded data: the runner writes
    it first (once) and records it as the notebook's input, and the run is synthetic."""
    import cqc_research.runner.run as run_module

    calls = []
    folder = tmp_path / "data" / "raw" / "synthetic"

    def fake_default(*, quiet=False):
        calls.append(quiet)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SYNTHETIC").write_text("synthetic\n")
        (folder / "truth.json").write_text("{}")
        return folder

    monkeypatch.setattr(run_module, "ensure_default_data", fake_default)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('data_path: str = ""  # empty: the embedded data\n'
                                  'output_dir: str = ""  # run folder', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('ran')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "uses_default.ipynb")
    result = R.run_notebooks([tmp_path / "uses_default.ipynb"], output_root=tmp_path / "out",
                             progress=False)
    assert calls == [True] and result.ok and result.synthetic
    row = result.notebooks[0]
    assert row.inputs == [str(folder.resolve())]
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["inputs"][str(folder.resolve())]["files"] == 2
    assert "SYNTHETIC DATA" in (result.run_dir / "uses_default.html").read_text()
    assert "SYNTHETIC DATA" in result.index_path.read_text()


@pytest.mark.slow
def test_notebook_00_end_to_end_on_small_synthetic_data(synthetic_small, tmp_path):
    nb = HERE.parent / "notebooks" / "00_data_overview.ipynb"
    p = synthetic_small.paths
    status = cli.main(["run", str(nb), "-p", "ratings_path", str(p["ratings_ods"]), "-p", "api_path",
                       str(p["api_folder"]), "--output-root", str(tmp_path), "--run-id", "e2e", "--quiet"])
    run_dir = tmp_path / "e2e"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert status == 0, manifest["notebooks"][0]["error"]
    row = manifest["notebooks"][0]
    assert row["status"] == "ok" and row["synthetic"] and row["unstamped"] == []
    assert manifest["inputs"][str(Path(p["ratings_ods"]).resolve())]["sha256"] == _sha(p["ratings_ods"])
    assert list((run_dir / "tables").glob("*.csv")) and list((run_dir / "figures").glob("*.png"))
    assert "SYNTHETIC DATA" in (run_dir / "00_data_overview.html").read_text()
    assert "SYNTHETIC DATA" in (run_dir / "index.html").read_text()


def test_run_last_notebooks_wait_for_the_others(tmp_path):
    """A notebook flagged run_last starts only after every other notebook has finished."""
    import json as _json

    import nbformat

    from cqc_research.runner.run import run_notebooks, runs_last

    def make(name, code, last=False):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell('output_dir: str = ""  # the run folder')
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [cell, nbformat.v4.new_code_cell(code)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        if last:
            nb.metadata["cqc_research"] = {"run_last": True}
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    slow = make("a_slow", "import time, pathlib; time.sleep(2); "
                          "pathlib.Path(output_dir, 'slow_done').write_text('x')")
    reader = make("b_reader", "import pathlib; assert pathlib.Path(output_dir, 'slow_done').exists()",
                  last=True)
    assert runs_last(reader) and not runs_last(slow)
    result = run_notebooks([slow, reader], workers=2, output_root=tmp_path / "out", progress=False)
    statuses = {r.name: r.status for r in result.notebooks}
    assert statuses == {"a_slow": "ok", "b_reader": "ok"}, _json.dumps(statuses)


@pytest.mark.parametrize("fresh", [False, True])
def test_a_kept_kernel_is_reset_between_notebooks(tmp_path, fresh):
    """One worker runs both notebooks on one kernel (or, with fresh kernels, two): the second
    sees none of the first's names, settings or working folder."""
    import nbformat

    from cqc_research.runner.run import run_notebooks

    first, second = tmp_path / "a" / "first.ipynb", tmp_path / "b" / "second.ipynb"
    for path, code in [(first, "import os, matplotlib\nleaked = 1\nmatplotlib.rcParams['lines.linewidth'] = 9\n"
                                "os.chdir('/')"),
                       (second, "import os, matplotlib\nassert 'leaked' not in globals()\n"
                                "assert matplotlib.rcParams['lines.linewidth'] != 9\n"
                                "assert os.getcwd().endswith('b'), os.getcwd()")]:
        path.parent.mkdir()
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    res = run_notebooks([first, second], output_root=tmp_path / "out", run_id="r", workers=1,
                        progress=False, fresh_kernels=fresh)
    assert [(r.name, r.status, r.error) for r in res.notebooks] == [
        ("first", "ok", None), ("second", "ok", None)]
