"""Hostile and damaged inputs get a clear one-line answer (issue 28): repeat and zip bombs,
truncated workbooks, files whose content is not what their name says, and folders of monthly
files with one bad file among good ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cqc_research import cli
from cqc_research.errors import DataFormatError, SkippedFileWarning
from cqc_research.io import _workbook, load
from cqc_research.io.cqc_files import file_kind, load_latest_ratings
from cqc_research.io.nhs import load_ae_monthly
from cqc_research.io.ods import ODS_MIMETYPE, read_ods
from cqc_research.synthetic._ods_writer import NS, write_ods

LOCATION_HEADER = [
    "Location ID", "Location ODS Code", "Location Name", "Care Home?", "Location Type",
    "Location Primary Inspection Category", "Location Street Address", "Location Address Line 2",
    "Location City", "Location Post Code", "Location Local Authority", "Location Region",
    "Location NHS Region", "Location ONSPD CCG Code", "Location ONSPD CCG",
    "Location Commissioning CCG Code", "Location Commissioning CCG Name",
    "Service / Population Group", "Domain", "Latest Rating", "Publication Date", "Report Type",
    "Inherited Rating (Y/N)", "URL", "Provider ID", "Provider Name", "Brand ID", "Brand Name"]


def _ods_of_rows(path: Path, rows_xml: str, *, sheet: str = "Locations",
                 header=LOCATION_HEADER, level: int = 9) -> Path:
    """A minimal ODS workbook: a header row then ``rows_xml`` (raw table rows)."""
    head = "".join(f'<table:table-cell office:value-type="string"><text:p>{h}</text:p>'
                   "</table:table-cell>" for h in header)
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS}><office:body>'
           f'<office:spreadsheet><table:table table:name="{sheet}"><table:table-row>{head}'
           f"</table:table-row>{rows_xml}</table:table></office:spreadsheet></office:body>"
           "</office:document-content>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", xml, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
    return path


def repeat_bomb(path: Path, *, columns: int = 16_000, rows: int = 1_048_000) -> Path:
    """The issue's workbook: one data row repeating a non-empty cell across ``columns``
    columns and ``rows`` rows (an 831-byte Latest ratings file, give or take)."""
    row = (f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell '
           f'table:number-columns-repeated="{columns}" office:value-type="string">'
           "<text:p>Good</text:p></table:table-cell></table:table-row>")
    return _ods_of_rows(path, row)


_MEASURE = textwrap.dedent("""
    import resource, subprocess, sys, time
    start = time.perf_counter()
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    import json
    print(json.dumps({"rc": done.returncode, "stderr": done.stderr, "stdout": done.stdout,
                      "seconds": seconds, "peak_mb": peak_kb / 1024}))
""")


def run_measured(*args) -> dict:
    """Run a command in a fresh process and return its exit code, output, wall time and peak
    resident memory (that process's only child is the command)."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, args)], capture_output=True,
                         text=True, timeout=300)
    return json.loads(out.stdout)


# ---- the repeat bomb ------------------------------------------------------------------------

def test_the_831_byte_bomb_is_answered_within_20_s_and_600_mb(tmp_path):
    """The issue's bound: exit 2, one line, no traceback, within 20 s and 600 MB (a property of
    the answer, measured on the command's own process, not a timed unit test)."""
    bomb = repeat_bomb(tmp_path / "bomb.ods")
    assert bomb.stat().st_size < 1000
    cqc = Path(sys.executable).with_name("cqc-research")
    got = run_measured(cqc, "load", bomb, "--out", tmp_path / "out.parquet")
    assert got["rc"] == 2, got
    lines = got["stderr"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in got["stderr"], got["stderr"]
    assert "bomb.ods" in lines[0] and "sheet 'Locations'" in lines[0]
    assert "MAX_REPEAT_RATIO" in lines[0] or "MAX_CELLS" in lines[0]
    assert got["seconds"] < 20, got["seconds"]
    assert got["peak_mb"] < 600, got["peak_mb"]
    assert not (tmp_path / "out.parquet").exists()


def test_the_bomb_in_python_is_a_data_format_error(tmp_path):
    bomb = repeat_bomb(tmp_path / "bomb.ods", rows=200_000)
    for engine in ("fast", "reference"):
        with pytest.raises(DataFormatError, match="MAX_REPEAT_RATIO") as e:
            read_ods(bomb, "Locations", engine=engine)
        assert e.value.sheet == "Locations" and e.value.path == bomb
    with pytest.raises(DataFormatError, match="bomb.ods, sheet 'Locations'"):
        load_latest_ratings(bomb)


def test_a_long_trailing_repeat_is_clipped_to_the_header_width(tmp_path):
    """What LibreOffice may write: a row's last value repeated to the sheet's last column. The
    rows read as the header's width, with their values; nothing is refused."""
    cells = "".join(f'<table:table-cell office:value-type="string"><text:p>v{k}</text:p>'
                    "</table:table-cell>" for k in range(2))
    row = (f"<table:table-row>{cells}<table:table-cell table:number-columns-repeated="
           '"1022" office:value-type="string"><text:p>N/A</text:p></table:table-cell>'
           "</table:table-row>")
    p = _ods_of_rows(tmp_path / "wide.ods", row * 3, sheet="S", header=["a", "b", "c", "d"])
    for engine in ("fast", "reference"):
        frame = read_ods(p, "S", engine=engine)
        assert list(frame.columns) == ["a", "b", "c", "d"], engine
        assert frame.to_dict("list") == {"a": ["v0"] * 3, "b": ["v1"] * 3, "c": ["N/A"] * 3,
                                         "d": ["N/A"] * 3}, engine


def test_a_repeated_data_row_within_the_limits_is_expanded(tmp_path):
    def cells(*values):
        return "".join(f'<table:table-cell office:value-type="string"><text:p>{v}</text:p>'
                       "</table:table-cell>" for v in values)

    row = f'<table:table-row table:number-rows-repeated="5">{cells("x", "y")}</table:table-row>'
    p = _ods_of_rows(tmp_path / "rep.ods", row + f"<table:table-row>{cells('z', 'y')}"
                     "</table:table-row>", sheet="S", header=["a", "b"])
    for engine in ("fast", "reference"):
        frame = read_ods(p, "S", engine=engine)
        assert frame["a"].tolist() == ["x"] * 5 + ["z"], engine
        assert frame.index.tolist() == [2, 3, 4, 5, 6, 7], engine


def test_the_limits_can_refuse_an_ordinary_file(tmp_path, monkeypatch):
    """The checks can fail: with MAX_CELLS lowered, a plain workbook is refused by name."""
    p = write_ods(tmp_path / "p.ods", {"S": (["a", "b"], [[str(k), "x"] for k in range(1000)])})
    assert len(read_ods(p, "S")) == 1000
    monkeypatch.setattr(_workbook, "MAX_CELLS", 500)
    for engine in ("fast", "reference"):
        with pytest.raises(DataFormatError, match=r"p\.ods, sheet 'S'.*MAX_CELLS = 500"):
            read_ods(p, "S", engine=engine)


@pytest.mark.parametrize("attr", ['table:number-columns-repeated="abc"',
                                  'table:number-rows-repeated="-3"',
                                  'table:number-columns-repeated="99999999999"'])
def test_nonsense_repeat_counts(tmp_path, attr):
    where = "cell" if "columns" in attr else "row"
    cell = ('<table:table-cell {a} office:value-type="string"><text:p>x</text:p>'
            "</table:table-cell>")
    row = (f"<table:table-row {attr if where == 'row' else ''}>"
           f"{cell.format(a=attr if where == 'cell' else '')}"
           f'<table:table-cell office:value-type="string"><text:p>y</text:p></table:table-cell>'
           "</table:table-row>")
    p = _ods_of_rows(tmp_path / "n.ods", row, sheet="S", header=["a", "b"])
    with pytest.raises(DataFormatError, match=r"n\.ods, sheet 'S'.*(whole number|MAX_COLUMNS)"):
        read_ods(p, "S")


def test_zip_bomb_content_xml(tmp_path):
    """content.xml inflating ~1,000 times (white space between two rows): refused by ratio."""
    padding = " " * (40 << 20)
    p = _ods_of_rows(tmp_path / "zb.ods", "<table:table-row><table:table-cell><text:p>1"
                     f"</text:p></table:table-cell></table:table-row>{padding}", sheet="S",
                     header=["a"])
    assert p.stat().st_size < 100_000
    with pytest.raises(DataFormatError, match=r"zb\.ods.*MAX_RATIO"):
        read_ods(p, "S")


# ---- workbooks read by python-calamine -------------------------------------------------------

def _xlsx(path: Path, sheet_xml: str, *, level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
                   'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/><Override '
                   'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
                   'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                   'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                   'officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.'
                   'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
                   'name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns='
                   '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship'
                   ' Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                   'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet xmlns="http:'
                   '//schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/>'
                   f"<sheetData>{sheet_xml}</sheetData></worksheet>")
    return path


def test_xlsx_far_cell_is_refused_before_calamine(tmp_path):
    """python-calamine lays a sheet out densely and aborts the process on a cell at XFD1048576:
    the used area is measured from the XML first."""
    p = _xlsx(tmp_path / "far.xlsx", '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c>'
              '</row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    with pytest.raises(DataFormatError, match=r"far\.xlsx, sheet 'Data'.*MAX_GRID_CELLS"):
        _workbook.open_workbook(p)
    with pytest.raises(DataFormatError, match="MAX_GRID_CELLS"):
        load(p)


def test_xlsx_zip_bomb_member(tmp_path):
    rows = '<row r="1"><c r="A1"><v>1</v></c></row>' + " " * (40 << 20)
    p = _xlsx(tmp_path / "zb.xlsx", rows, level=9)
    assert p.stat().st_size < 200_000
    with pytest.raises(DataFormatError, match=r"zb\.xlsx.*MAX_RATIO"):
        _workbook.open_workbook(p)


def test_xlsx_within_the_limits_opens(tmp_path):
    p = _xlsx(tmp_path / "ok.xlsx", '<row r="1"><c r="A1" t="inlineStr"><is><t>Code</t></is>'
              '</c><c r="B1"><v>2</v></c></row>')
    wb = _workbook.open_workbook(p)
    assert wb.kind == "xlsx" and wb.sheet_names == ["Data"]
    assert wb.rows("Data") == [["Code", 2.0]]


# ---- messages that name what the file really is ------------------------------------------------

def test_truncated_excel_97_is_called_that(tmp_path, shared_data):
    real = shared_data / "real_formats" / "ae_by_provider_xls" / "April-2016-AE-by-provider-1Ez1q.xls"
    cut = tmp_path / "April-2016.xls"
    cut.write_bytes(real.read_bytes()[:30_000])
    with pytest.raises(DataFormatError, match=r"a truncated Excel 97 \(\.xls\) workbook") as e:
        load(cut)
    assert "must be a zip" not in str(e.value)
    assert cli.main(["load", str(cut)]) == 2


def test_truncated_excel_97_without_real_data(tmp_path):
    cut = tmp_path / "cut.xls"
    cut.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(3000))
    with pytest.raises(DataFormatError, match=r"truncated Excel 97 \(\.xls\) workbook"):
        _workbook.open_workbook(cut)
    assert _workbook.sniff(cut) == ("xls", False)


@pytest.mark.parametrize("name, content, says", [
    ("ratings.xlsx", b"Location ID,Latest Rating\n1-1,Good\n", "text (CSV) file, named .xlsx"),
    ("ratings.xls", b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "HTML"),
    ("ratings.ods", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1536), "Excel 97"),
    ("ratings.csv", b"%PDF-1.4\n...", "PDF"),
    ("ratings.xlsx", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20) + b"mimetype", "zip"),
])
def test_wrong_content_for_the_name(tmp_path, name, content, says):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DataFormatError, match=re.escape(says)):
        load_latest_ratings(p)


def test_an_ods_named_xlsx_is_read_as_ods(tmp_path, synthetic_small):
    src = synthetic_small.root / "cqc" / "latest_ratings.ods"
    p = tmp_path / "latest.xlsx"
    p.write_bytes(src.read_bytes())
    assert file_kind(p) == "ods"
    assert len(load_latest_ratings(p)) == len(load_latest_ratings(src))


def test_one_line_and_exit_2_on_the_command_line(tmp_path, capsys):
    p = tmp_path / "x.xlsx"
    p.write_text("not,a,workbook\n")
    assert cli.main(["load", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "x.xlsx" in err[0] and "text (CSV) file" in err[0]


# ---- folders of monthly files keep going ------------------------------------------------------

def _ae_folder(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    from cqc_research.synthetic.nhs_formats import write_ae_monthly

    rows = []
    for month in ("2019-01-01", "2019-02-01", "2019-03-01"):
        for k, org in enumerate(["RA1", "RB2", "RC3"]):
            rows.append({"period": month, "org_code": org, "type": "1",
                         "attendances": 1000 + 10 * k, "breaches": 100 + k, "admissions": 200})
    frame = pd.DataFrame(rows)
    folder = tmp_path / "ae"
    write_ae_monthly(frame, folder)
    return folder, frame


def test_a_folder_of_monthly_files_keeps_going(tmp_path):
    folder, _ = _ae_folder(tmp_path)
    good = load_ae_monthly(folder)
    (folder / "monthly-ae-april-2019.csv").write_text(
        "<!DOCTYPE html><html><body>Access denied</body></html>")
    (folder / "monthly-ae-may-2019.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(900))
    with pytest.warns(SkippedFileWarning) as caught:
        data, reports = load_ae_monthly(folder, with_report=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, SkippedFileWarning)]
    assert len(messages) == 2
    assert any("monthly-ae-april-2019.csv" in m and "HTML page" in m for m in messages)
    assert any("monthly-ae-may-2019.xls" in m and "truncated Excel 97" in m for m in messages)
    # every good month, and nothing of the skipped files
    months = sorted(set(pd.to_datetime(data["period_start"]).dt.strftime("%Y-%m")))
    assert months == ["2019-01", "2019-02", "2019-03"]
    pd.testing.assert_frame_equal(data.reset_index(drop=True), good.reset_index(drop=True))
    notes = [n for r in reports for n in r.notes if n.startswith("skipped")]
    assert len(notes) == 2 and any("monthly-ae-april-2019.csv" in n for n in notes)
    assert len(reports) == 5  # one per file, the skipped ones included
    with pytest.raises(DataFormatError, match="monthly-ae-april-2019.csv"):
        load_ae_monthly(folder, strict=True)
    with pytest.raises(DataFormatError, match="monthly-ae-april-2019.csv"):
        load(folder, strict=True)


def test_the_folder_values_equal_the_good_files_alone(tmp_path):
    """Nothing from a bad file enters the table: the folder with a bad file gives exactly what
    its good files give without it."""
    folder, _ = _ae_folder(tmp_path)
    (folder / "monthly-ae-april-2019.csv").write_bytes(b"\x00\x01\x02binary junk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFileWarning)
        with_bad = load_ae_monthly(folder)
    (folder / "monthly-ae-april-2019.csv").unlink()
    alone = load_ae_monthly(folder)
    cols = ["org_code", "period_start", "measure", "value"]
    pd.testing.assert_frame_equal(with_bad[cols].reset_index(drop=True),
                                  alone[cols].reset_index(drop=True))


def test_the_command_line_names_the_bad_file_and_strict_stops(tmp_path, capsys):
    folder, _ = _ae_folder(tmp_path)
    (folder / "monthly-ae-april-2019.csv").write_text("<html><body>gone</body></html>")
    out = tmp_path / "ae.parquet"
    assert cli.main(["load", str(folder), "--explain", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning: skipped" in captured.out and "monthly-ae-april-2019.csv" in captured.out
    assert "--strict" in captured.out
    assert "note: skipped" in captured.out  # in the --explain report too
    assert cli.main(["load", str(folder), "--strict", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "monthly-ae-april-2019.csv" in err[0]


def test_a_folder_with_no_good_file_raises(tmp_path):
    folder = tmp_path / "ae"
    folder.mkdir()
    for k in range(2):
        (folder / f"monthly-ae-{k}.csv").write_text("<html><body>gone</body></html>")
    with pytest.raises(DataFormatError, match="none of the 2 files"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedFileWarning)
            load_ae_monthly(folder)


def test_timing_helper_is_honest():
    """run_measured reports the command's own exit code and a plausible time."""
    start = time.perf_counter()
    got = run_measured(sys.executable, "-c", "import sys; sys.exit(3)")
    assert got["rc"] == 3 and 0 < got["seconds"] <= time.perf_counter() - start


def test_a_repeat_inside_a_row_never_widens_the_sheet(tmp_path):
    """A cell in the middle of a row repeated 15,553 times (seen by the fuzzing suite: it made
    a 28-column sheet 15,580 columns wide and took 20 s): the sheet keeps the width of its
    rows that are not widened by repeats."""
    def cell(v, rep=""):
        return (f'<table:table-cell{rep} office:value-type="string"><text:p>{v}</text:p>'
                "</table:table-cell>")

    wide = ("<table:table-row>" + cell("a0") + cell("r", ' table:number-columns-repeated='
                                                     '"15553"') + cell("z") + "</table:table-row>")
    plain = "<table:table-row>" + cell("p0") + cell("p1") + cell("p2") + "</table:table-row>"
    p = _ods_of_rows(tmp_path / "mid.ods", plain + wide + plain, sheet="S",
                     header=["a", "b", "c"])
    for engine in ("fast", "reference"):
        frame = read_ods(p, "S", engine=engine)
        assert list(frame.columns) == ["a", "b", "c"], engine
        assert frame["b"].tolist() == ["p1", "r", "p1"], engine
