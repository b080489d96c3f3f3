"""OpenDocument spreadsheets (.ods): a LibreOffice-style writer and a streaming reader.

The writer produces what LibreOffice Calc saves, including the quirks the reader must survive:
adjacent equal cells merged with ``table:number-columns-repeated``, date cells carrying both
``office:date-value`` and a displayed day-first text, notice rows above the header, and a final
padding row repeated to the sheet's million-row limit with ``table:number-rows-repeated``.

The reader, :func:`read_ods`, streams ``content.xml`` out of the zip (the XML of a monthly CQC
workbook expands to most of a gigabyte, so it is never held in memory whole), keeps only the
requested sheet, expands column repeats, stops at the padding, and returns every column as
strings, with the spreadsheet's own 1-based row numbers as the index.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.parsers import expat
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ..errors import DataFormatError

__all__ = ["read_ods", "ods_sheet_names", "write_ods", "ODS_MIMETYPE"]

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_MAX_ROWS = 1_048_576

_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
    'office:version="1.3"'
)

_MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="{ODS_MIMETYPE}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def _cell_xml(value) -> str:
    """The XML of one cell's content attributes and text, without the repeat attribute."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return ""
    if isinstance(value, bool):
        v = "true" if value else "false"
        return (f' office:value-type="boolean" office:boolean-value="{v}" calcext:value-type="boolean">'
                f"<text:p>{'TRUE' if value else 'FALSE'}</text:p>")
    if isinstance(value, _dt.datetime | _dt.date):
        d = value.date() if isinstance(value, _dt.datetime) else value
        return (f' table:style-name="ce1" office:value-type="date" office:date-value="{d.isoformat()}"'
                f' calcext:value-type="date"><text:p>{d.strftime("%d/%m/%Y")}</text:p>')
    if isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        return (f' office:value-type="float" office:value="{text}" calcext:value-type="float">'
                f"<text:p>{text}</text:p>")
    return (f' office:value-type="string" calcext:value-type="string">'
            f"<text:p>{escape(str(value))}</text:p>")


def _row_xml(values: Sequence, width: int) -> str:
    cells = [_cell_xml(v) for v in values]
    cells += [""] * (width - len(cells))
    # drop trailing empties, as LibreOffice does, then pad with one repeated empty cell
    while cells and cells[-1] == "":
        cells.pop()
    out = ["<table:table-row>"]
    i = 0
    while i < len(cells):
        j = i + 1
        while j < len(cells) and cells[j] == cells[i]:
            j += 1
        rep = f' table:number-columns-repeated="{j - i}"' if j - i > 1 else ""
        if cells[i] == "":
            out.append(f"<table:table-cell{rep}/>")
        else:
            out.append(f"<table:table-cell{rep}{cells[i]}</table:table-cell>")
        i = j
    if len(cells) < width:
        rest = width - len(cells)
        rep = f' table:number-columns-repeated="{rest}"' if rest > 1 else ""
        out.append(f"<table:table-cell{rep}/>")
    out.append("</table:table-row>")
    return "".join(out)


def write_ods(
    path: str | Path,
    sheets: dict[str, tuple[Sequence[str], Iterable[Sequence]]],
    *,
    notice: dict[str, Sequence[str]] | None = None,
    pad_to_max_rows: bool = True,
) -> Path:
    """Write a spreadsheet the way LibreOffice Calc saves it.

    Parameters
    ----------
    path : path
        The ``.ods`` file to write (replaced if present).
    sheets : dict
        Sheet name -> ``(header, rows)``; rows are sequences of str, int, float, date or None.
    notice : dict, optional
        Sheet name -> lines written one per row above the header, then a blank row
        (the notice block some monthly CQC files carry).
    pad_to_max_rows : bool
        Finish each sheet with an empty row repeated to 1,048,576 rows, as published files do.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    notice = notice or {}
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", _MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("meta.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta {_NS}>'
                    "<office:meta/></office:document-meta>", compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("styles.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {_NS}>'
                    "<office:styles/></office:document-styles>", compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("content.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as raw:
            write = raw.write
            write(f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_NS}>'
                  '<office:automatic-styles><number:date-style style:name="N37" number:automatic-order="true">'
                  '<number:day number:style="long"/><number:text>/</number:text><number:month number:style="long"/>'
                  '<number:text>/</number:text><number:year number:style="long"/></number:date-style>'
                  '<style:style style:name="ce1" style:family="table-cell" style:parent-style-name="Default" '
                  'style:data-style-name="N37"/></office:automatic-styles>'
                  "<office:body><office:spreadsheet>".encode())
            for name, (header, rows) in sheets.items():
                width = len(header)
                write(f'<table:table table:name="{escape(name)}">'
                      f'<table:table-column table:number-columns-repeated="{width}"/>'.encode())
                n = 0
                lines = list(notice.get(name, ()))
                for line in lines:
                    write(_row_xml([line], width).encode())
                    n += 1
                if lines:
                    write(_row_xml([], width).encode())
                    n += 1
                write(_row_xml(list(header), width).encode())
                n += 1
                buf = []
                for row in rows:
                    buf.append(_row_xml(row, width))
                    n += 1
                    if len(buf) >= 2000:
                        write("".join(buf).encode())
                        buf.clear()
                write("".join(buf).encode())
                if pad_to_max_rows and n < _MAX_ROWS:
                    write(f'<table:table-row table:number-rows-repeated="{_MAX_ROWS - n}">'
                          f'<table:table-cell table:number-columns-repeated="{width}"/>'
                          "</table:table-row>".encode())
                write(b"</table:table>")
            write(b"</office:spreadsheet></office:body></office:document-content>")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

_BLOCK = 1 << 22  # 4 MiB of decompressed XML per read
_STR = pd.StringDtype(na_value=np.nan)


def _check_workbook(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as an ODS zip, or raise a DataFormatError that says what it is instead."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError("is a folder, expected an ODS workbook (a file)", path=path)
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head:
        raise DataFormatError("the file is empty (0 bytes), expected an ODS workbook", path=path)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<html" in text or b"<!doctype html" in text or b"<head" in text or b"<body" in text:
            raise DataFormatError(
                "this looks like an HTML page, not an ODS workbook (a download that returned "
                "an error or log-in page?)", path=path)
        raise DataFormatError("this is a text/XML file, not an ODS workbook (a zip archive)",
                              path=path)
    if not head.startswith(b"PK"):
        raise DataFormatError("not a zip archive, so not an ODS workbook", path=path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataFormatError(f"a damaged or truncated zip archive ({exc}); an ODS workbook is a "
                              "complete zip (was the download interrupted?)", path=path) from exc
    names = set(zf.namelist())
    if "mimetype" in names:
        try:
            mimetype = zf.read("mimetype").decode("ascii", "replace").strip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            zf.close()
            raise DataFormatError(f"cannot read the mimetype member ({exc})", path=path) from exc
        if mimetype != ODS_MIMETYPE:
            zf.close()
            raise DataFormatError(f"the mimetype is {mimetype!r}, expected {ODS_MIMETYPE!r} "
                                  "(an ODS spreadsheet)", path=path)
    elif "[Content_Types].xml" in names:
        zf.close()
        raise DataFormatError("this is an Office Open XML (Excel .xlsx) workbook, not ODS",
                              path=path)
    if "content.xml" not in names:
        zf.close()
        raise DataFormatError("the zip has no content.xml, so it is not an ODS workbook",
                              path=path)
    return zf


def _xml_blocks(zf: zipfile.ZipFile, path: Path, sheet: str | None = None) -> Iterator[bytes]:
    """Decompressed ``content.xml`` in blocks; zip and zlib failures become DataFormatError."""
    try:
        with zf.open("content.xml") as stream:
            while True:
                block = stream.read(_BLOCK)
                if not block:
                    return
                yield block
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataFormatError(f"content.xml is damaged or truncated ({exc}); was the download "
                              "interrupted?", path=path, sheet=sheet) from exc


_TABLE_START = re.compile(rb'<table:table\s(?:[^>"]|"[^"]*")*>')
_NAME_ATTR = re.compile(rb'table:name="([^"]*)"')


def _unescape(raw: bytes) -> str:
    """Decode UTF-8 XML character data, resolving the predefined and numeric entities."""
    text = raw.decode("utf-8")
    if "&" not in text:
        return text
    return _ENTITY.sub(_entity, text)


_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(m: re.Match) -> str:
    name = m.group(1)
    if name[0] == "#":
        return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
    return _ENTITIES[name]


def ods_sheet_names(path: str | Path) -> list[str]:
    """The names of the sheets in an ODS workbook, in order.

    The whole ``content.xml`` is streamed once (sheet names are spread through it), without
    keeping it in memory.

    Parameters
    ----------
    path : path
        The ``.ods`` file.

    Returns
    -------
    list of str

    Raises
    ------
    DataFormatError
        The file is not a readable ODS workbook.
    """
    path = Path(path)
    with _check_workbook(path) as zf:
        return _scan_sheet_names(zf, path)


def _scan_sheet_names(zf: zipfile.ZipFile, path: Path) -> list[str]:
    names: list[str] = []
    carry = b""
    for block in _xml_blocks(zf, path):
        buf = carry + block
        cut = buf.rfind(b"<")
        cut = len(buf) if cut < 0 else cut
        for m in _TABLE_START.finditer(buf, 0, cut):
            name = _NAME_ATTR.search(m.group(0))
            if name is not None:
                names.append(_unescape(name.group(1)))
        carry = buf[cut:]
    return names


# ---- the reference reader: expat events, one Python call per element ------------------------

class _Done(Exception):
    """Raised inside the expat handlers once the requested sheet has been read."""


class _ExpatSheet:
    """Collect one sheet's non-empty rows from expat events.

    ``rows`` holds ``(row_number, cells)`` with trailing empty cells dropped; empty rows are
    counted (so numbering stays right) but not kept, and the padding is never expanded.
    """

    def __init__(self, sheet: str):
        self.sheet = sheet
        self.names: list[str] = []
        self.active = False
        self.found = False
        self.rows: list[tuple[int, list]] = []
        self.rownum = 0
        self.annotation = 0
        self.cells: list | None = None
        self.paras: list[str] | None = None
        self.parts: list[str] | None = None

    def start(self, name, attrs):
        if name == "table:table":
            sheet_name = attrs.get("table:name", "")
            self.names.append(sheet_name)
            if sheet_name == self.sheet:
                self.active = self.found = True
            return
        if not self.active:
            return
        if name == "office:annotation":
            self.annotation += 1
        elif self.annotation:
            return
        elif name == "table:table-row":
            self.cells = []
            self.pending = 0
            self.row_repeat = int(attrs.get("table:number-rows-repeated", 1))
        elif name == "table:table-cell" or name == "table:covered-table-cell":
            self.col_repeat = int(attrs.get("table:number-columns-repeated", 1))
            kind = attrs.get("office:value-type")
            if kind in ("float", "percentage", "currency"):
                self.value = attrs.get("office:value")
            elif kind == "date":
                self.value = attrs.get("office:date-value")
            elif kind == "time":
                self.value = attrs.get("office:time-value")
            elif kind == "boolean":
                self.value = attrs.get("office:boolean-value")
            else:
                self.value = attrs.get("office:string-value")
            self.paras = []
        elif name == "text:p" and self.paras is not None:
            self.parts = []
        elif self.parts is not None:
            if name == "text:s":
                self.parts.append(" " * int(attrs.get("text:c", 1)))
            elif name == "text:tab":
                self.parts.append("\t")
            elif name == "text:line-break":
                self.parts.append("\n")

    def text(self, data):
        if self.parts is not None and not self.annotation:
            self.parts.append(data)

    def end(self, name):
        if not self.active:
            return
        if name == "office:annotation":
            self.annotation -= 1
        elif self.annotation:
            return
        elif name == "text:p":
            if self.parts is not None and self.paras is not None:
                self.paras.append("".join(self.parts))
            self.parts = None
        elif name == "table:table-cell" or name == "table:covered-table-cell":
            value = self.value if self.value is not None else "\n".join(self.paras or ())
            self.paras = None
            if value == "":
                self.pending += self.col_repeat
            else:
                if self.pending:
                    self.cells.extend([None] * self.pending)
                    self.pending = 0
                self.cells.extend([value] * self.col_repeat)
        elif name == "table:table-row":
            if self.cells:
                for k in range(self.row_repeat):
                    self.rows.append((self.rownum + 1 + k, list(self.cells)))
            self.rownum += self.row_repeat
            self.cells = None
        elif name == "table:table":
            self.active = False
            raise _Done


def _raw_expat(zf: zipfile.ZipFile, path: Path, sheet: str) -> pd.DataFrame:
    """The sheet's non-empty rows as a string frame (columns 0..w-1, index = row numbers)."""
    state = _ExpatSheet(sheet)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    parser.CharacterDataHandler = state.text
    try:
        for block in _xml_blocks(zf, path, sheet):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except _Done:
        pass
    except expat.ExpatError as exc:
        where = f"after spreadsheet row {state.rownum}" if state.active else "before the sheet"
        raise DataFormatError(f"malformed XML in content.xml ({exc}), {where}",
                              path=path, sheet=sheet, row=state.rownum + 1 if state.active else None
                              ) from exc
    if not state.found:
        raise _missing_sheet(path, sheet, state.names)
    rows = state.rows
    width = max((len(cells) for _, cells in rows), default=0)
    frame = pd.DataFrame([cells + [None] * (width - len(cells)) for _, cells in rows],
                         index=pd.Index([n for n, _ in rows], name="row"),
                         columns=range(width), dtype=_STR)
    return frame


def _missing_sheet(path: Path, sheet: str, names: list[str]) -> DataFormatError:
    present = ", ".join(repr(n) for n in names) or "none"
    return DataFormatError(f"no sheet named {sheet!r}; the sheets present are {present}",
                           path=path, sheet=sheet)


# ---- from the raw grid to the table ---------------------------------------------------------

def _mangle(names: list[str]) -> list[str]:
    """Make column names unique the way pandas does (``X``, ``X.1``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            k = seen[name]
            while f"{name}.{k}" in seen:
                k += 1
            seen[name] = k + 1
            name = f"{name}.{k}"
        seen.setdefault(name, 1)
        out.append(name)
    return out


def _row_values(raw: pd.DataFrame, label) -> list[str]:
    return ["" if pd.isna(v) else str(v).strip() for v in raw.loc[label].tolist()]


def _find_header(raw: pd.DataFrame, required: list[str] | None, path: Path, sheet: str):
    """The row label of the header row under ``header="auto"``."""
    if required:
        wanted = set(required)
        # the header sits near the top: look at the first rows before scanning everything
        for stop in (min(len(raw), 2000), len(raw)):
            top = raw.iloc[:stop]
            hits = pd.Series(0, index=top.index)
            for name in wanted:
                hits += top.apply(lambda col, name=name: col.str.strip() == name).any(axis=1)
            found = hits.index[hits.to_numpy() == len(wanted)]
            if len(found):
                return found[0]
        counts = raw.notna().sum(axis=1)
        widest = counts.idxmax()
        raise DataFormatError(
            f"no row holds all the required columns {sorted(wanted)}; the widest row "
            f"(row {widest}) reads {[v for v in _row_values(raw, widest) if v]}",
            path=path, sheet=sheet)
    counts = raw.notna().sum(axis=1).to_numpy()
    return raw.index[int(np.argmax(counts == counts.max()))]


def _finish(raw: pd.DataFrame, path: Path, sheet: str, header, required, usecols) -> pd.DataFrame:
    """Choose the header, name the columns, keep the data rows below it."""
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise DataFormatError("the sheet is empty (no non-empty cells)", path=path, sheet=sheet)
    required = [required] if isinstance(required, str) else list(required or [])
    if header is None:
        data = raw
        header_row = None
        columns: list = list(range(raw.shape[1]))
    else:
        if header == "auto":
            header_row = int(_find_header(raw, required, path, sheet))
        elif isinstance(header, int | np.integer) and not isinstance(header, bool) and header >= 0:
            header_row = int(header) + 1
            if header_row not in raw.index:
                raise DataFormatError(
                    f"header={header} points at row {header_row}, which is empty or beyond the "
                    "last row (header counts rows from 0, as in pandas)", path=path, sheet=sheet,
                    row=header_row)
        else:
            raise ValueError(f"header must be 'auto', a row index >= 0 or None, not {header!r}")
        names = _row_values(raw, header_row)
        data = raw.loc[raw.index > header_row]
        used = data.notna().any(axis=0).to_numpy()
        last = max([i for i, v in enumerate(names) if v] + [int(np.flatnonzero(used)[-1])
                                                             if used.any() else -1])
        names = [v or f"Unnamed: {i}" for i, v in enumerate(names[: last + 1])]
        data = data.iloc[:, : last + 1]
        columns = _mangle(names)
    data = data.set_axis(columns, axis=1)
    if required:
        missing = [c for c in required if c not in data.columns]
        if missing:
            raise DataFormatError(f"missing required columns {missing}; the columns are "
                                  f"{list(data.columns)}", path=path, sheet=sheet, row=header_row)
    if usecols is not None:
        usecols = [usecols] if isinstance(usecols, str | int) else list(usecols)
        missing = [c for c in usecols if c not in data.columns]
        if missing:
            raise DataFormatError(f"usecols names columns that are absent: {missing}; the "
                                  f"columns are {list(data.columns)}", path=path, sheet=sheet,
                                  row=header_row)
        data = data[usecols]
    data = data.copy()
    data.index.name = "row"
    data.attrs = {"source": str(path), "sheet": sheet, "header_row": header_row}
    return data


def read_ods(
    path: str | Path,
    sheet: str,
    *,
    header: str | int | None = "auto",
    required: Sequence[str] | None = None,
    usecols: Sequence[str | int] | None = None,
) -> pd.DataFrame:
    """Read one sheet of an ODS workbook into a frame of strings, streaming.

    ``content.xml`` is decompressed in blocks and never held whole. Column repeats
    (``table:number-columns-repeated``) are expanded, fully empty rows are dropped, and the
    padding row LibreOffice repeats to the sheet's last row is never expanded.

    Parameters
    ----------
    path : path
        The ``.ods`` file.
    sheet : str
        The sheet's name (see :func:`ods_sheet_names`).
    header : "auto", int or None
        ``"auto"`` (default): the first row holding every name in ``required``; without
        ``required``, the first row with as many non-empty cells as the widest row, which
        skips notice rows above the header. An int: the header's 0-based row index in the sheet,
        as in pandas (``header=0`` is spreadsheet row 1). ``None``: no header; columns are
        numbered from 0 and every non-empty row is data.
    required : sequence of str, optional
        Column names that must be present (compared after stripping spaces); they also locate
        the header under ``header="auto"``.
    usecols : sequence of str (or int with ``header=None``), optional
        Keep only these columns, in this order.

    Returns
    -------
    pandas.DataFrame
        One column per header cell, every column the pandas string dtype with empty cells
        missing (NaN). Date cells hold their ISO ``office:date-value`` (``2023-01-05``), never
        the day-first display text; numeric cells hold ``office:value``; boolean cells
        ``true``/``false``; multi-paragraph text is joined with ``"\\n"``. The index, named
        ``row``, is each row's 1-based spreadsheet row number, for error messages.
        ``attrs`` holds ``source``, ``sheet`` and ``header_row`` (1-based, or None).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Not an ODS workbook (an HTML page, a truncated download, another zip), the sheet is
        missing (the message lists the sheets present) or empty, the XML is malformed (the
        message names the approximate row), or ``required``/``usecols`` name absent columns.

    Examples
    --------
    >>> import tempfile, pathlib, datetime
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.ods"
    >>> _ = write_ods(p, {"S": (["Name", "Date"], [["A & B", datetime.date(2023, 1, 5)]])},
    ...               notice={"S": ["Provisional figures"]})
    >>> frame = read_ods(p, "S")
    >>> frame.to_dict("index")
    {4: {'Name': 'A & B', 'Date': '2023-01-05'}}
    """
    path = Path(path)
    with _check_workbook(path) as zf:
        raw = _raw_expat(zf, path, sheet)
    return _finish(raw, path, sheet, header, required, usecols)
