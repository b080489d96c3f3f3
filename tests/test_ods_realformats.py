"""The ODS reader on workbooks written by other programs, cell by cell against python-calamine.

The fast reader was tuned on files our own writer makes. Here LibreOffice (``soffice --headless
--convert-to ods``) converts one of our workbooks, an ``.xlsx`` written by openpyxl and a CSV;
pandas' ``odf`` writer (odfpy) writes another; and ElementTree re-indents some of them, as XML
pretty-printers do. Every cell that :func:`read_ods` returns is compared with what
python-calamine reads from the same file (its numbers, dates and times against our attribute
text), and every read uses ``engine="fast"``, which raises instead of handing the sheet to the
slow reference reader: so each test also proves that the fast path read the file.

Run with ``pytest -m realformats`` (``make test`` leaves these out: they need LibreOffice,
``apt-get install libreoffice-calc-nogui``, and take a minute). Without ``soffice`` the
LibreOffice tests skip, saying so; without odfpy the pandas ones do.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_ods import pretty_printed

from cqc_research.io import ods
from cqc_research.io.cqc_files import load_latest_ratings
from cqc_research.io.ods import ods_sheet_names, read_ods

pytestmark = pytest.mark.realformats

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ods.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ods", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    """Blocks of 64 KB instead of 4 MB, so that medium files cross many block boundaries."""
    monkeypatch.setattr(ods, "_CONVERT_AT_LEAST", 1 << 16)


@pytest.fixture(scope="module")
def soffice(tmp_path_factory):
    """A function converting a file to ODS with LibreOffice, in a profile of its own (so it
    never meets another LibreOffice running on the machine)."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        reason = "LibreOffice is not installed (no soffice on PATH): apt-get install libreoffice-calc-nogui"
        if os.environ.get("CI"):  # .ci/run installs libreoffice-calc-nogui: missing there is a failure
            pytest.fail(reason + " (.ci/run installs it)")
        pytest.skip(reason)
    profile = tmp_path_factory.mktemp("lo-profile")

    def convert(source: Path, *, infilter: str | None = None) -> Path:
        out = source.parent / "libreoffice"
        out.mkdir(exist_ok=True)
        cmd = [exe, "--headless", "--norestore", "--nolockcheck",
               f"-env:UserInstallation={profile.as_uri()}"]
        if infilter:
            cmd.append(f"--infilter={infilter}")
        cmd += ["--convert-to", "ods", "--outdir", str(out), str(source)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "HOME": str(profile)})
        target = out / (source.stem + ".ods")
        assert done.returncode == 0 and target.exists(), (done.stdout, done.stderr)
        return target

    return convert


# ---- comparing every cell with calamine ------------------------------------------------------

_DURATION = re.compile(r"-?P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")


def _seconds(duration: str) -> float:
    days, hours, minutes, seconds = (float(g or 0) for g in _DURATION.fullmatch(duration).groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _same(ours: str | None, theirs) -> bool:
    """Whether our cell text (attribute value or paragraph text) is calamine's value."""
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(theirs, bool):
        return ours == ("true" if theirs else "false")
    if isinstance(theirs, int | float):
        return float(ours) == float(theirs)
    if isinstance(theirs, dt.datetime):
        return pd.Timestamp(ours) == pd.Timestamp(theirs)
    if isinstance(theirs, dt.date):
        return ours == theirs.isoformat()
    if isinstance(theirs, dt.time):
        whole = theirs.hour * 3600 + theirs.minute * 60 + theirs.second + theirs.microsecond / 1e6
        return abs(_seconds(ours) - whole) < 1e-3
    if isinstance(theirs, dt.timedelta):
        return abs(_seconds(ours) - theirs.total_seconds()) < 1e-3
    if ours == theirs:
        return True
    # two things calamine gets wrong, and only those: it drops <text:tab/> (a tab in ODF), and
    # it keeps a literal tab in an attribute value, which XML reads as a space (pandas writes
    # such tabs into office:string-value)
    return (("\t" in ours and ours.replace("\t", "") == theirs)
            or ("\t" in theirs and ours == theirs.replace("\t", " ")))


def _ours(path: Path, sheet: str) -> dict:
    frame = read_ods(path, sheet, header=None, engine="fast")  # no fallback: raises instead
    cells = {}
    for row, values in zip(frame.index.tolist(), frame.itertuples(index=False), strict=True):
        for col, value in enumerate(values):
            if not pd.isna(value):
                cells[(row, col)] = value
    return cells


def _calamine(path: Path, sheet: str) -> dict:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)  # from A1, so that row numbers match the spreadsheet's
    return {(r + 1, c): v for r, row in enumerate(rows) for c, v in enumerate(row) if v != ""}


def _assert_cells_equal(path: Path, reference: Path | None = None, *, at_least: int = 100) -> int:
    """Every sheet of ``path`` read by read_ods equals calamine's reading of ``reference``
    (``path`` itself by default): the same non-empty cells at the same places, equal values."""
    reference = reference or path
    sheets = ods_sheet_names(path)
    assert sheets == ods_sheet_names(reference)
    total = 0
    for sheet in sheets:
        ours, theirs = _ours(path, sheet), _calamine(reference, sheet)
        assert ours.keys() == theirs.keys(), (sheet, sorted(ours.keys() ^ theirs.keys())[:10])
        wrong = [(k, ours[k], theirs[k]) for k in sorted(ours) if not _same(ours[k], theirs[k])]
        assert not wrong, (sheet, len(wrong), wrong[:10])
        total += len(theirs)
    assert total >= at_least
    return total


# ---- the workbooks ---------------------------------------------------------------------------

_TEXTS = ["A & B", "<tag>", "x > y", "  padded  ", "two  spaces", "line 1\nline 2", "Château",
          "日本語", "tab\there", 'say "hi"', "it's", "Good", "Requires improvement", None]


@pytest.fixture(scope="module")
def ours_written(tmp_path_factory) -> Path:
    """A CQC-like workbook from our writer: 3,000 + 300 rows, notice blocks, merged repeats,
    day-first date text, padding to the million-row limit."""
    return _bench().make_workbook(tmp_path_factory.mktemp("ours") / "latest_ratings.ods", 3000)


@pytest.fixture(scope="module")
def xlsx_file(tmp_path_factory) -> Path:
    """An openpyxl workbook: strings (entities, runs of spaces, line breaks, tabs, non-ASCII),
    integers, floats, dates, date-times, booleans, times, formulas, currency and percentage
    formats, hyperlinks, a merged range and a notice above the header."""
    from openpyxl import Workbook

    rng = random.Random(3)
    book = Workbook()
    sheet = book.active
    sheet.title = "Locations"
    sheet.append(["Care Quality Commission: latest ratings (notice)"])
    sheet.append([])
    sheet.append(["Name", "Count", "Share", "Date", "When", "Flag", "Time", "Twice", "Money",
                  "Percent", "Link"])
    for k in range(400):
        row = 4 + k
        sheet.append([rng.choice(_TEXTS), rng.randrange(-1000, 1000), rng.uniform(-1, 1),
                      dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000)),
                      dt.datetime(2020, 1, 1, 13, 45, 10) + dt.timedelta(minutes=rng.randrange(10**5)),
                      rng.random() < 0.5, dt.time(rng.randrange(24), rng.randrange(60)),
                      f"=B{row}*2", rng.choice([12.5, 0.1, None]), rng.choice([0.25, None]), None])
        sheet.cell(row=row, column=9).number_format = '"£"#,##0.00'
        sheet.cell(row=row, column=10).number_format = "0.00%"
        if k % 10 == 0:
            link = sheet.cell(row=row, column=11)
            link.value = "CQC & partners"
            link.hyperlink = "https://www.cqc.org.uk/?a=1&b=2"
    sheet.merge_cells("A10:B11")
    providers = book.create_sheet("Providers")
    providers.append(["Provider ID", "Latest Rating"])
    for k in range(60):
        providers.append([f"1-{k}", rng.choice(["Good", "Outstanding", "Inadequate"])])
    path = tmp_path_factory.mktemp("xlsx") / "typed.xlsx"
    book.save(path)
    return path


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory) -> Path:
    rng = random.Random(4)
    path = tmp_path_factory.mktemp("csv") / "ratings.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Location ID", "Location Name", "Beds", "Score", "Latest Rating"])
        for k in range(1500):
            out.writerow([f"1-{100000 + k}", rng.choice([t for t in _TEXTS if t]),
                          rng.choice(["", str(rng.randrange(1, 90))]), f"{rng.uniform(0, 1):.4f}",
                          rng.choice(["Good", "Requires improvement", ""])])
    return path


@pytest.fixture(scope="module")
def pandas_written(tmp_path_factory) -> Path:
    """pandas' odf writer (odfpy): every cell with office:string-value, <text:p/> for empty
    strings, self-closing empty rows above a sheet written with startrow."""
    import odf  # noqa: F401  (pandas' odf writer needs odfpy, in the [dev] extra)
    rng = random.Random(5)
    n = 1200
    frame = pd.DataFrame({
        "Location ID": [f"1-{k}" for k in range(n)],
        "Name": [rng.choice(_TEXTS) for _ in range(n)],
        "Beds": [rng.choice([np.nan, float(rng.randrange(1, 90))]) for _ in range(n)],
        "Count": [rng.randrange(-500, 500) for _ in range(n)],
        "Date": [dt.date(2010, 1, 1) + dt.timedelta(days=rng.randrange(5000)) for _ in range(n)],
        "Stamp": pd.to_datetime("2021-03-04 05:06:07") + pd.to_timedelta(
            [rng.randrange(10**6) for _ in range(n)], unit="s"),
        "Flag": [rng.random() < 0.5 for _ in range(n)],
    })
    path = tmp_path_factory.mktemp("pandas") / "pandas.ods"
    with pd.ExcelWriter(path, engine="odf") as writer:
        frame.to_excel(writer, sheet_name="Locations", index=False)
        frame.head(200).to_excel(writer, sheet_name="Providers", index=False, startrow=3)
    return path


# ---- the tests -------------------------------------------------------------------------------

def test_libreoffice_resave_of_our_workbook(soffice, ours_written):
    lo = soffice(ours_written)
    assert b"table:style-name" in _content(lo)[:200000]  # LibreOffice's own habits are there
    assert _assert_cells_equal(lo) > 80_000
    # and the whole tidy load of LibreOffice's file is the load of ours
    pd.testing.assert_frame_equal(load_latest_ratings(lo, use_cache=False),
                                  load_latest_ratings(ours_written, use_cache=False))


def test_libreoffice_from_xlsx(soffice, xlsx_file):
    lo = soffice(xlsx_file)
    xml = _content(lo)
    for habit in (b"<text:s", b"<text:a ", b"covered-table-cell", b"office:time-value",
                  b"table:formula", b'office:value-type="percentage"'):
        assert habit in xml, habit
    _assert_cells_equal(lo, at_least=3000)


def test_libreoffice_from_csv(soffice, csv_file):
    lo = soffice(csv_file, infilter="CSV:44,34,76,1")  # comma, double quote, UTF-8, from row 1
    assert b'office:value-type="float"' in _content(lo)  # numbers were recognised
    _assert_cells_equal(lo, at_least=5000)


def test_pandas_odf_writer(pandas_written):
    xml = _content(pandas_written)
    assert b"office:string-value=" in xml and b"<table:table-row/>" in xml
    _assert_cells_equal(pandas_written, at_least=8000)
    # the notice-free sheet written at startrow=3: header on spreadsheet row 4
    assert read_ods(pandas_written, "Providers", engine="fast").attrs["header_row"] == 4


def test_pretty_printed_libreoffice_file(soffice, xlsx_file, ours_written, tmp_path):
    """White space between tags (calamine itself cannot read such files, so the cells are
    compared with its reading of the compact original)."""
    for source in (soffice(xlsx_file), soffice(ours_written)):
        pretty = pretty_printed(source, tmp_path / f"pretty-{source.name}")
        assert re.search(rb">\n +<table:table-cell", _content(pretty))
        _assert_cells_equal(pretty, reference=source)


def test_pretty_printed_pandas_and_our_files(pandas_written, ours_written, tmp_path):
    for source in (pandas_written, ours_written):
        pretty = pretty_printed(source, tmp_path / f"pretty-{source.name}")
        _assert_cells_equal(pretty, reference=source)
    pd.testing.assert_frame_equal(load_latest_ratings(pretty, use_cache=False),
                                  load_latest_ratings(ours_written, use_cache=False))


def _content(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.read("content.xml")
