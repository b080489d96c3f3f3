"""Write OpenDocument spreadsheets (.ods) the way LibreOffice Calc saves them.

The writer produces what LibreOffice Calc saves, including the quirks the reader
(:func:`cqc_research.io.ods.read_ods`) must survive: adjacent equal cells merged with
``table:number-columns-repeated``, date cells carrying both ``office:date-value`` and a displayed
day-first text, notice rows above the header, and a final padding row repeated to the sheet's
million-row limit with ``table:number-rows-repeated``. The synthetic data and the tests use it.
"""

from __future__ import annotations

import datetime as _dt
import math
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from ..io.ods import ODS_MIMETYPE

#: The rows of a sheet (LibreOffice's and Excel's limit); the padding row repeats up to it.
MAX_ROWS = 1_048_576

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
    'office:version="1.3"'
)

MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
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
        zf.writestr("META-INF/manifest.xml", MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("meta.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta {NS}>'
                    "<office:meta/></office:document-meta>", compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("styles.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {NS}>'
                    "<office:styles/></office:document-styles>", compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("content.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as raw:
            write = raw.write
            write(f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {NS}>'
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
                if pad_to_max_rows and n < MAX_ROWS:
                    write(f'<table:table-row table:number-rows-repeated="{MAX_ROWS - n}">'
                          f'<table:table-cell table:number-columns-repeated="{width}"/>'
                          "</table:table-row>".encode())
                write(b"</table:table>")
            write(b"</office:spreadsheet></office:body></office:document-content>")
    tmp.replace(path)
    return path
