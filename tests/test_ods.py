"""The streaming ODS reader: exact round trips through the writer, agreement with calamine,
header detection, row numbers, and a clear error for each kind of bad file."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cqc_research.errors import DataFormatError
from cqc_research.io import ods
from cqc_research.io.ods import ODS_MIMETYPE, ods_sheet_names, read_ods
from cqc_research.synthetic._ods_writer import NS, write_ods

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ods.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ods", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _values(items) -> list:
    """Cells as a list, missing as None."""
    return [None if pd.isna(v) else v for v in items]


def _expected(value):
    """What read_ods must return for a value given to write_ods (None for an empty cell)."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


_TRICKY = ["a & b", "<tag>", "x < y > z", 'say "hi"', "it's", "Ünïcødé ✓ €", "line 1\nline 2",
           "&amp; literal", "  padded  ", "tab\there", "]]>", "日本語", "Good", "Good",
           "Requires improvement", "&#169;"]


def _random_value(rng: random.Random):
    kind = rng.random()
    if kind < 0.25:
        return None
    if kind < 0.55:
        return rng.choice(_TRICKY)
    if kind < 0.65:
        return dt.date(1990, 1, 1) + dt.timedelta(days=rng.randrange(20000))
    if kind < 0.75:
        return rng.randrange(-10**6, 10**6)
    if kind < 0.85:
        return rng.uniform(-1e4, 1e4)
    return "".join(rng.choice("abcXYZ09 .,;-_/&<>\"'é") for _ in range(rng.randrange(1, 12)))


def _random_rows(rng: random.Random, n_rows: int, width: int):
    rows = []
    for _ in range(n_rows):
        row = [_random_value(rng) for _ in range(width)]
        if rng.random() < 0.3:  # runs of equal cells, merged by the writer
            i = rng.randrange(width)
            j = rng.randrange(i, width)
            row[i: j + 1] = [row[i]] * (j + 1 - i)
        rows.append(row)
    return rows


def _frame_of(header, rows, first_row: int) -> pd.DataFrame:
    """The frame read_ods must return, built directly from the values written."""
    keep = [(first_row + k, [_expected(v) for v in r]) for k, r in enumerate(rows)]
    keep = [(n, r) for n, r in keep if any(v is not None for v in r)]
    return pd.DataFrame([r for _, r in keep], columns=header,
                        index=pd.Index([n for n, _ in keep], name="row"), dtype="str")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_round_trip_returns_exactly_what_was_written(tmp_path, seed):
    rng = random.Random(seed)
    header = [f"col {k} & <x>" for k in range(7)]
    rows = _random_rows(rng, 300, 7)
    rows[5] = [None] * 7  # an empty row inside the data: dropped, numbering kept
    path = write_ods(tmp_path / "r.ods", {"Data": (header, rows)},
                     notice={"Data": ["Notice: provisional", "Second line"]})
    got = read_ods(path, "Data")
    # notice rows 1-2, blank row 3, header row 4, data from row 5
    expected = _frame_of(header, rows, first_row=5)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["header_row"] == 4
    assert all(got[c].dtype == "str" for c in got.columns)


def test_hand_worked_example(tmp_path):
    path = write_ods(
        tmp_path / "h.ods",
        {"S": (["Name", "Date", "N", "Code", "Code2"],
               [["A & B", dt.date(2023, 1, 5), 1.5, "X", "X"],
                [None, None, 3, None, None],
                ["two\nlines", dt.date(2024, 12, 31), None, "Y", "Z"]])},
        notice={"S": ["Some notice"]},
    )
    got = read_ods(path, "S")
    assert got.index.tolist() == [4, 5, 6]
    assert got.loc[4].tolist() == ["A & B", "2023-01-05", "1.5", "X", "X"]
    assert got.loc[5, "N"] == "3" and got.loc[5].isna().sum() == 4
    assert got.loc[6, "Name"] == "two\nlines"
    # the display text of a date is day-first; the reader never returns it
    assert "31/12/2024" not in got.to_numpy().ravel().tolist()


def test_agrees_with_calamine_on_a_cqc_like_workbook(tmp_path):
    from python_calamine import CalamineWorkbook

    bench = _bench()
    path = bench.make_workbook(tmp_path / "lr.ods", 3000, seed=5)
    got = read_ods(path, "Locations", required=["Location ID", "Domain"])
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Locations").to_python()
    start = next(i for i, r in enumerate(rows) if r[0] == "Location ID")

    def text(v):
        if v == "":
            return None
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else repr(v)
        return v

    expected = pd.DataFrame([[text(v) for v in r] for r in rows[start + 1:]], columns=rows[start],
                            index=pd.Index(range(start + 2, len(rows) + 1), name="row"),
                            dtype="str")
    pd.testing.assert_frame_equal(got, expected)
    assert len(got) == 3000 and got.index[0] == len(bench.NOTICE) + 3


def test_header_choices(tmp_path):
    path = write_ods(tmp_path / "h.ods",
                     {"S": (["a", "b", "c"], [["1", "2", "3"], ["4", None, "6"]])},
                     notice={"S": ["note a", "b"]})  # a notice line equal to a column name
    assert read_ods(path, "S").columns.tolist() == ["a", "b", "c"]
    assert read_ods(path, "S", required=["a", "c"]).index.tolist() == [5, 6]
    # header=int is pandas' 0-based row index: row 4 of the sheet is index 3
    assert read_ods(path, "S", header=3).columns.tolist() == ["a", "b", "c"]
    raw = read_ods(path, "S", header=None)
    assert raw.columns.tolist() == [0, 1, 2]
    assert raw.index.tolist() == [1, 2, 4, 5, 6]  # the blank row 3 is dropped
    assert raw.loc[2, 0] == "b"
    used = read_ods(path, "S", usecols=["c", "a"])
    assert used.columns.tolist() == ["c", "a"] and used["c"].tolist() == ["3", "6"]


def test_required_and_usecols_errors_name_the_columns(tmp_path):
    path = write_ods(tmp_path / "h.ods", {"S": (["a", "b"], [["1", "2"]])})
    with pytest.raises(DataFormatError, match=r"sheet 'S'.*required columns \['zz'\]"):
        read_ods(path, "S", required=["zz"])
    with pytest.raises(DataFormatError, match=r"absent: \['q'\]"):
        read_ods(path, "S", usecols=["a", "q"])
    with pytest.raises(DataFormatError, match="row 10"):
        read_ods(path, "S", header=9)


def test_header_names_are_stripped_blank_and_duplicate_names_made_unique(tmp_path):
    path = write_ods(tmp_path / "h.ods", {"S": ([" a ", None, "a", "d"], [["1", "2", "3", "4"]])})
    got = read_ods(path, "S", header=0)
    assert got.columns.tolist() == ["a", "Unnamed: 1", "a.1", "d"]


def test_repeated_rows_inside_data_are_expanded_and_padding_is_not(tmp_path):
    header = ["k", "v"]
    body = ('<table:table-row table:number-rows-repeated="3"><table:table-cell '
            'office:value-type="string"><text:p>r</text:p></table:table-cell>'
            '<table:table-cell office:value-type="float" office:value="2"><text:p>2'
            '</text:p></table:table-cell></table:table-row>'
            '<table:table-row table:number-rows-repeated="2"><table:table-cell '
            'table:number-columns-repeated="2"/></table:table-row>'
            '<table:table-row><table:table-cell office:value-type="string"><text:p>last'
            '</text:p></table:table-cell></table:table-row>'
            '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
            'table:number-columns-repeated="1024"/></table:table-row>')
    path = _raw_workbook(tmp_path / "rep.ods", header, body)
    got = read_ods(path, "S")
    assert got.index.tolist() == [2, 3, 4, 7]
    assert got["k"].tolist() == ["r", "r", "r", "last"]
    assert _values(got["v"]) == ["2", "2", "2", None]


def test_paragraphs_spaces_spans_annotations_and_string_value(tmp_path):
    cell = ('<table:table-cell office:value-type="string"><office:annotation><text:p>a comment'
            '</text:p></office:annotation><text:p>one<text:s text:c="3"/>two<text:tab/>'
            '<text:span text:style-name="T1">bold</text:span></text:p><text:p>'
            '<text:a xlink:href="https://x">link</text:a><text:line-break/>end</text:p>'
            '</table:table-cell><table:table-cell office:value-type="string" '
            'office:string-value="stored &amp; value"><text:p>shown</text:p></table:table-cell>'
            '<table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>'
            'TRUE</text:p></table:table-cell><table:table-cell office:value-type="percentage" '
            'office:value="0.25"><text:p>25%</text:p></table:table-cell>'
            '<table:covered-table-cell/><table:table-cell office:value-type="date" '
            'office:date-value="2021-03-04T10:30:00"><text:p>04/03/2021 10:30</text:p>'
            '</table:table-cell>')
    path = _raw_workbook(tmp_path / "p.ods", ["a", "b", "c", "d", "e", "f"],
                         f"<table:table-row>{cell}</table:table-row>")
    got = read_ods(path, "S")
    assert _values(got.loc[2]) == ["one   two\tbold\nlink\nend", "stored & value", "true",
                                   "0.25", None, "2021-03-04T10:30:00"]


def test_sheet_names_and_missing_sheet(tmp_path):
    path = write_ods(tmp_path / "s.ods", {"Locations": (["a"], [["1"]]),
                                          "Providers & Co": (["b"], [["2"]])})
    assert ods_sheet_names(path) == ["Locations", "Providers & Co"]
    assert read_ods(path, "Providers & Co")["b"].tolist() == ["2"]
    with pytest.raises(DataFormatError, match=r"no sheet named 'Nope'.*'Locations', "
                                              r"'Providers & Co'"):
        read_ods(path, "Nope")


def test_empty_sheet(tmp_path):
    path = write_ods(tmp_path / "e.ods", {"S": ([], [])})
    with pytest.raises(DataFormatError, match=r"sheet 'S'.*empty"):
        read_ods(path, "S")


# ---- bad files -----------------------------------------------------------------------------

def _raw_workbook(path: Path, header, body: str, *, mimetype=ODS_MIMETYPE, name="S") -> Path:
    """A workbook whose sheet ``name`` is ``header`` then the raw row XML ``body``."""
    head = "".join(f'<table:table-cell office:value-type="string"><text:p>{h}</text:p>'
                   "</table:table-cell>" for h in header)
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS} '
           'xmlns:xlink="http://www.w3.org/1999/xlink"><office:body><office:spreadsheet>'
           f'<table:table table:name="{name}"><table:table-column/><table:table-row>{head}'
           f"</table:table-row>{body}</table:table></office:spreadsheet></office:body>"
           "</office:document-content>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if mimetype is not None:
            zf.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        zf.writestr("content.xml", xml)
    return path


def test_html_page_saved_as_ods(tmp_path):
    path = tmp_path / "latest.ods"
    path.write_text("<!DOCTYPE html>\n<html><head><title>Access denied</title></head></html>")
    with pytest.raises(DataFormatError, match="looks like an HTML page, not an ODS workbook") as e:
        read_ods(path, "Locations")
    assert str(path) in str(e.value)


@pytest.mark.parametrize("content, pattern", [
    (b"", "empty"),
    (b"Location ID,Name\n1-1,A\n", "not a zip archive"),
    (b"PK\x03\x04" + b"\x00" * 200, "truncated zip"),
])
def test_not_a_workbook(tmp_path, content, pattern):
    path = tmp_path / "x.ods"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=pattern):
        read_ods(path, "S")


def test_truncated_download(tmp_path):
    good = write_ods(tmp_path / "g.ods", {"S": (["a"], [[str(k)] for k in range(5000)])})
    cut = tmp_path / "cut.ods"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFormatError, match="truncated"):
        read_ods(cut, "S")


def test_damaged_stream_mid_sheet(tmp_path):
    """Central directory intact but content.xml's compressed bytes cut short (EOF mid-stream)."""
    good = write_ods(tmp_path / "g.ods", {"S": (["a"], [[f"v{k}"] for k in range(20000)])})
    data = bytearray(good.read_bytes())
    info = zipfile.ZipFile(good).getinfo("content.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + info.compress_size // 2
    data[mid: mid + 64] = bytes(64)  # corrupt the deflate stream in the middle
    bad = tmp_path / "bad.ods"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=r"bad\.ods.*sheet 'S'"):
        read_ods(bad, "S")


def test_wrong_mimetype_and_xlsx(tmp_path):
    odt = _raw_workbook(tmp_path / "t.ods", ["a"], "",
                        mimetype="application/vnd.oasis.opendocument.text")
    with pytest.raises(DataFormatError, match="opendocument.text.*expected"):
        read_ods(odt, "S")
    xlsx = tmp_path / "x.ods"
    with zipfile.ZipFile(xlsx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataFormatError, match="xlsx"):
        read_ods(xlsx, "S")


def test_malformed_xml_names_the_row(tmp_path):
    rows = "".join(f'<table:table-row><table:table-cell office:value-type="string"><text:p>v{k}'
                   "</text:p></table:table-cell></table:table-row>" for k in range(50))
    rows += '<table:table-row><table:table-cell><text:p>oops</text:x></table:table-cell>'
    path = _raw_workbook(tmp_path / "m.ods", ["a"], rows)
    with pytest.raises(DataFormatError, match=r"malformed XML.*") as e:
        read_ods(path, "S")
    assert e.value.row is not None and abs(e.value.row - 52) <= 1
    assert e.value.sheet == "S"


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        read_ods("/nonexistent/latest.ods", "S")


def test_stream_is_never_read_whole(tmp_path, monkeypatch):
    """content.xml is inflated in bounded blocks, never held whole."""
    monkeypatch.setattr(ods, "_BLOCK", 1 << 12)
    path = write_ods(tmp_path / "b.ods", {"S": (["a"], [[f"v{k}"] for k in range(20000)])})
    sizes = []
    real_blocks = ods._xml_blocks

    def spy(*args, **kwargs):
        for block in real_blocks(*args, **kwargs):
            sizes.append(len(block))
            yield block

    monkeypatch.setattr(ods, "_xml_blocks", spy)
    assert len(read_ods(path, "S")) == 20000
    info = zipfile.ZipFile(path).getinfo("content.xml")
    assert len(sizes) > 100 and max(sizes) <= 1 << 12 < info.file_size


# ---- the fast path against the reference reader ----------------------------------------------

def _both(path: Path, sheet: str):
    with ods._check_workbook(path) as zf:
        fast = ods._raw_fast(zf, path, sheet)
        ref = ods._raw_expat(zf, path, sheet)
    return fast, ref


@pytest.mark.parametrize("seed", [11, 12])
def test_fast_path_equals_reference_reader_on_random_workbooks(tmp_path, seed, monkeypatch):
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 14)  # many small blocks
    rng = random.Random(seed)
    header = [f"h{k}" for k in range(9)]
    rows = _random_rows(rng, 2000, 9)
    for k in range(0, 2000, 97):
        rows[k] = [None] * 9
    path = write_ods(tmp_path / "r.ods", {"Before": (["x"], [["1"]]), "Data": (header, rows),
                                          "After": (["y"], [["2"]])},
                     notice={"Data": ["A notice & more"]})
    fast, ref = _both(path, "Data")
    pd.testing.assert_frame_equal(fast, ref)
    assert len(fast) > 1800


def test_fast_path_handles_rich_cells_and_odd_rows(tmp_path):
    rich = ('<table:table-cell office:value-type="string"><text:p>one<text:s text:c="2"/>two'
            '</text:p><text:p><text:span text:style-name="T1">&amp;three</text:span></text:p>'
            '</table:table-cell>')
    annotated = ('<table:table-cell office:value-type="string"><office:annotation><text:p>'
                 'note</text:p></office:annotation><text:p>kept</text:p></table:table-cell>')
    body = "".join([
        f"<table:table-row>{rich}<table:covered-table-cell/>{annotated}</table:table-row>",
        '<table:table-row table:style-name="ro1"><table:table-cell table:number-columns-'
        'repeated="2" office:value-type="float" office:value="7"><text:p>7</text:p>'
        '</table:table-cell><table:table-cell/><table:table-cell office:value-type="string">'
        '<text:p>a &lt;b&gt; &#233;</text:p></table:table-cell></table:table-row>',
        '<table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type='
        '"string"><text:p>twice</text:p></table:table-cell></table:table-row>',
        '<table:table-row><table:table-cell office:value-type="string"><text:p>x\r\ny</text:p>'
        '</table:table-cell><text:soft-page-break/></table:table-row>',
        '<table:table-row><table:table-cell office:value-type="string"><text:p><text:a '
        'xlink:href="https://x/?a=1&amp;b=2" xlink:type="simple">link &amp; more</text:a>'
        '</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>'
        '<text:span text:style-name="T1">spanned</text:span></text:p></table:table-cell>'
        '</table:table-row>',
        '<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
        'table:number-columns-repeated="16384"/></table:table-row>',
    ])
    path = _raw_workbook(tmp_path / "rich.ods", ["a", "b", "c", "d"], body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    got = read_ods(path, "S")
    assert _values(got.loc[2]) == ["one  two\n&three", None, "kept", None]
    assert _values(got.loc[3]) == ["7", "7", None, "a <b> é"]
    assert got.loc[[4, 5], "a"].tolist() == ["twice", "twice"]
    assert got.loc[6, "a"] == "x\ny"
    assert got.loc[7, ["a", "b"]].tolist() == ["link & more", "spanned"]


def test_read_ods_takes_the_fast_path(tmp_path, monkeypatch):
    path = write_ods(tmp_path / "f.ods", {"S": (["a", "b"], [["1", dt.date(2020, 2, 3)]])})

    def refuse(*args, **kwargs):
        raise AssertionError("the reference reader was used")

    monkeypatch.setattr(ods, "_raw_expat", refuse)
    assert read_ods(path, "S").loc[2].tolist() == ["1", "2020-02-03"]


# ---- the embedded synthetic dataset ----------------------------------------------------------

def test_synthetic_latest_ratings_read_like_calamine(synthetic_small):
    """Both sheets of the synthetic workbook, read with the header found, equal calamine's
    reading of the same file (dates as ISO, padding and notice block dropped)."""
    from python_calamine import CalamineWorkbook

    path = synthetic_small.paths["ratings_ods"]
    assert ods_sheet_names(path) == ["Locations", "Providers"]
    book = CalamineWorkbook.from_path(str(path))
    for sheet, key in (("Locations", "Location ID"), ("Providers", "Provider ID")):
        got = read_ods(path, sheet, required=[key, "Latest Rating"])
        rows = book.get_sheet_by_name(sheet).to_python()
        start = next(i for i, r in enumerate(rows) if key in r)

        def text(v):
            if v == "":
                return None
            if isinstance(v, dt.date):
                return v.isoformat()
            if isinstance(v, float):
                return str(int(v)) if v.is_integer() else repr(v)
            return str(v)

        body = [(k + 1, [text(v) for v in r]) for k, r in enumerate(rows) if k > start]
        body = [(n, r) for n, r in body if any(v is not None for v in r)]
        expected = pd.DataFrame([r for _, r in body], columns=[str(c).strip() for c in rows[start]],
                                index=pd.Index([n for n, _ in body], name="row"), dtype="str")
        expected = expected.loc[:, [c for c in expected.columns if c]]
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs["header_row"] == start + 1 > 1  # the notice block was skipped
        assert len(got) > 10


def test_invalid_utf8_is_malformed_xml_with_a_row(tmp_path):
    good = ('<table:table-row><table:table-cell office:value-type="string"><text:p>ok</text:p>'
            '</table:table-cell></table:table-row>')
    path = _raw_workbook(tmp_path / "u.ods", ["a"], good * 5 + good.replace("ok", "BADBYTE"))
    data = zipfile.ZipFile(path).read("content.xml").replace(b"BADBYTE", b"\xff")
    bad = tmp_path / "bad.ods"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE)
        zf.writestr("content.xml", data)
    with pytest.raises(DataFormatError, match="malformed XML") as e:
        read_ods(bad, "S")
    assert e.value.row == 7 and e.value.sheet == "S"


def test_row_groups_and_header_rows_wrappers(tmp_path):
    def row(*values, attrs=""):
        cells = "".join(f'<table:table-cell office:value-type="string"><text:p>{v}</text:p>'
                        "</table:table-cell>" for v in values)
        return f"<table:table-row{attrs}>{cells}</table:table-row>"

    body = ("<table:table-header-rows>" + row("h1", "h2") + "</table:table-header-rows>"
            '<table:table-row-group table:display="true">' + row("a", "b", attrs=' table:style-name="ro2"')
            + "<text:soft-page-break/>" + row("c", "d") + "</table:table-row-group>"
            + '<table:table-rows>' + row("e", "f") + "</table:table-rows>"
            '<table:named-expressions/><calcext:conditional-formats/>')
    path = _raw_workbook(tmp_path / "g.ods", ["x", "y"], body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    got = read_ods(path, "S", header=1)  # the header row inside table:table-header-rows
    assert got.columns.tolist() == ["h1", "h2"]
    assert got.to_dict("list") == {"h1": ["a", "c", "e"], "h2": ["b", "d", "f"]}
    assert got.index.tolist() == [3, 4, 5]


def test_styled_and_repeated_cells_in_libreoffice_attribute_order(tmp_path):
    tail = ' office:value-type="string" calcext:value-type="string"><text:p>{}</text:p></table:table-cell>'
    cells = [
        '<table:table-cell table:style-name="ce1" table:number-columns-repeated="2"' + tail.format("r"),
        '<table:table-cell table:style-name="ce123456"' + tail.format("s8"),
        '<table:table-cell table:style-name="ce1234567"' + tail.format("s9"),
        '<table:table-cell table:number-columns-repeated="3"' + tail.format("t"),
        '<table:table-cell table:style-name="ce2" table:number-columns-repeated="2"/>',
        '<table:table-cell table:style-name="ce5" office:value-type="date" '
        'office:date-value="1999-12-31" calcext:value-type="date"><text:p>31/12/1999</text:p>'
        "</table:table-cell>",
    ]
    body = "<table:table-row>" + "".join(cells) + "</table:table-row>"
    path = _raw_workbook(tmp_path / "st.ods", [f"c{k}" for k in range(11)], body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    assert _values(read_ods(path, "S").loc[2]) == ["r", "r", "s8", "s9", "t", "t", "t", None,
                                                   None, "1999-12-31", None]


# ---- pretty-printed XML, self-closing rows, several sheets, engines, strip --------------------

_TEXT_P = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p"


def pretty_printed(source: Path, target: Path, indent: str = "  ") -> Path:
    """Copy an ODS workbook with its content.xml re-serialised by ElementTree and indented.

    Every element gets a newline and indentation before it, except inside paragraphs, where
    white space is content. ElementTree also writes ``<x />`` with a space and single-quoted
    XML declarations: another writer's habits.
    """
    import re
    import xml.etree.ElementTree as ET

    with zipfile.ZipFile(source) as zin:
        xml = zin.read("content.xml")
        for prefix, uri in re.findall(rb'xmlns:([\w-]+)="([^"]+)"', xml):
            ET.register_namespace(prefix.decode(), uri.decode())
        root = ET.fromstring(xml)

        def walk(element, level):
            children = list(element)
            if not children or element.tag == _TEXT_P:
                return
            pad = "\n" + indent * (level + 1)
            if not (element.text or "").strip():
                element.text = pad
            for child in children:
                walk(child, level + 1)
                if not (child.tail or "").strip():
                    child.tail = pad
            children[-1].tail = "\n" + indent * level

        walk(root, 0)
        out = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
        assert re.search(rb"\n +<table:table-cell", out)
        with zipfile.ZipFile(target, "w") as zout:
            for info in zin.infolist():
                data = out if info.filename == "content.xml" else zin.read(info)
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return target


@pytest.mark.parametrize("seed", [21, 22])
def test_pretty_printed_xml_is_read_by_the_fast_reader(tmp_path, seed, monkeypatch):
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 14)  # many blocks, cut inside indentation
    rng = random.Random(seed)
    header = [f"h{k}" for k in range(8)]
    rows = _random_rows(rng, 1500, 8)
    compact = write_ods(tmp_path / "c.ods", {"A": (["x"], [["1"]]), "Data": (header, rows)},
                        notice={"Data": ["A notice"]})
    pretty = pretty_printed(compact, tmp_path / "p.ods")
    assert b"\n" in zipfile.ZipFile(pretty).read("content.xml")[2000:4000]
    got = read_ods(pretty, "Data", engine="fast")  # raises instead of falling back
    pd.testing.assert_frame_equal(got, _frame_of(header, rows, first_row=4))
    fast, ref = _both(pretty, "Data")
    pd.testing.assert_frame_equal(fast, ref)


def test_pretty_printed_rich_cells_keep_their_text(tmp_path):
    body = ('<table:table-row>\n   <table:table-cell office:value-type="string">\n     '
            '<text:p>  two  spaces </text:p>\n     <text:p>second</text:p>\n   '
            '</table:table-cell>\n   <table:table-cell office:value-type="float" office:value="3"'
            '>\n     <text:p>3</text:p>\n   </table:table-cell>\n   <table:table-cell\n     '
            'table:number-columns-repeated="2" office:value-type="string" >\n     <text:p>r</text:p>'
            '\n   </table:table-cell>\n   <table:table-cell />\n   <table:table-cell office:value-'
            'type="string"><text:p><text:span text:style-name="T1">a</text:span> <text:span>b'
            '</text:span></text:p></table:table-cell>\n</table:table-row>\n'
            '<table:table-row table:number-rows-repeated="1000" >\n  <table:table-cell '
            'table:number-columns-repeated="9" />\n</table:table-row>\n')
    path = _raw_workbook(tmp_path / "rich.ods", list("abcdefg"), body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    # by hand: paragraphs joined by a newline, their spaces kept, the space between spans kept
    assert _values(fast.loc[2]) == ["  two  spaces \nsecond", "3", "r", "r", None, "a b", None]
    assert len(fast) == 2


def test_self_closing_rows_count_as_empty_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 10)
    cell = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    body = ("<table:table-row/>" + f"<table:table-row>{cell.format('r3')}</table:table-row>"
            + '<table:table-row table:number-rows-repeated="3"/>'
            + "".join(f"<table:table-row>{cell.format(f'r{k}')}</table:table-row>"
                      for k in range(7, 200)))
    path = _raw_workbook(tmp_path / "s.ods", ["a"], body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    got = read_ods(path, "S", header=None, engine="fast")
    # header row 1, empty row 2, "r3" on row 3, rows 4-6 empty, then r7, r8, ...
    assert got.index.tolist() == [1, 3] + list(range(7, 200))
    assert got[0].tolist() == ["a", "r3"] + [f"r{k}" for k in range(7, 200)]


def test_several_sheets_in_one_pass(tmp_path, monkeypatch):
    rng = random.Random(5)
    sheets = {name: ([f"{name}{k}" for k in range(4)], _random_rows(rng, 400, 4))
              for name in ("One", "Two", "Three")}
    path = write_ods(tmp_path / "m.ods", sheets)
    calls = []
    blocks = ods._xml_blocks

    def counted(*args, **kwargs):
        calls.append(1)
        return blocks(*args, **kwargs)

    monkeypatch.setattr(ods, "_xml_blocks", counted)
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 12)
    got = ods.read_ods_sheets(path, ["Three", "One", "Missing"], missing="skip", engine="fast")
    assert calls == [1]  # content.xml inflated once
    assert list(got) == ["Three", "One"]
    for name in got:
        header, rows = sheets[name]
        pd.testing.assert_frame_equal(got[name], _frame_of(header, rows, first_row=2))
    with pytest.raises(DataFormatError, match=r"no sheet named 'Missing'.*'One', 'Two', 'Three'"):
        ods.read_ods_sheets(path, ["One", "Missing"])
    per_sheet = {"One": ["One1"], "Two": ["Two3", "Two0"]}
    got = ods.read_ods_sheets(path, ["One", "Two"], usecols=per_sheet)
    assert {k: list(v.columns) for k, v in got.items()} == per_sheet


def test_engine_fast_refuses_what_it_cannot_read_and_auto_falls_back(tmp_path, caplog):
    body = ('<table:table-row><table:table-cell office:value-type="string">stray text<text:p>'
            "kept</text:p></table:table-cell></table:table-row>")
    path = _raw_workbook(tmp_path / "odd.ods", ["a"], body)
    with pytest.raises(ods.FastReaderUnsupported, match="sheet 'S'"):
        read_ods(path, "S", engine="fast")
    with caplog.at_level("INFO", logger="cqc_research.io.ods"):
        got = read_ods(path, "S")
    assert "reference reader" in caplog.text and "sheet 'S'" in caplog.text
    assert got["a"].tolist() == ["kept"]  # text outside paragraphs is not cell content
    pd.testing.assert_frame_equal(read_ods(path, "S", engine="reference"), got)
    with pytest.raises(ValueError, match="engine"):
        read_ods(path, "S", engine="quick")


def test_strip_while_reading_equals_stripping_afterwards(tmp_path, monkeypatch):
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 12)
    rng = random.Random(9)
    spaced = ["  lead", "trail  ", " both ", "\u00a0nbsp\u00a0", "   ", "\t", "café",
              "Ünï", "x", "a  b"]
    rows = [[rng.choice(spaced + [None]) for _ in range(5)] for _ in range(600)]
    rows[7] = ["   ", None, "\t", None, "  "]  # only white space: dropped when stripped
    path = write_ods(tmp_path / "w.ods", {"S": ([f"c{k}" for k in range(5)], rows)})
    plain = read_ods(path, "S", engine="fast")
    expected = plain.apply(lambda col: col.str.strip().where(col.str.strip() != ""))
    expected = expected[expected.notna().any(axis=1)]
    for engine in ("fast", "reference"):
        got = read_ods(path, "S", strip=True, engine=engine)
        pd.testing.assert_frame_equal(got, expected)
    assert 9 not in expected.index and 9 in plain.index  # spreadsheet row of rows[7]
    # by hand: what str.strip does with NBSP and inner spaces
    assert {"nbsp", "a  b", "lead", "trail"} <= set(expected.stack().tolist())


def test_literal_tabs_and_line_ends_in_attribute_values_read_as_spaces(tmp_path):
    """XML normalises attribute values: pandas' odf writer leaves a tab in office:string-value
    (which then wins over the paragraph), while &#10; stays a newline."""
    body = ('<table:table-row><table:table-cell office:value-type="string" office:string-value='
            '"tab\there"><text:p>tab\there</text:p></table:table-cell><table:table-cell office:'
            'value-type="string" office:string-value="a&#10;b\nc"><text:p>x</text:p>'
            '</table:table-cell></table:table-row>')
    path = _raw_workbook(tmp_path / "t.ods", ["p", "q"], body)
    fast, ref = _both(path, "S")
    pd.testing.assert_frame_equal(fast, ref)
    assert _values(fast.loc[2]) == ["tab here", "a\nb c"]
