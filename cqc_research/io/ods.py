"""OpenDocument spreadsheets (.ods): a streaming reader.

(The writer, which produces what LibreOffice Calc saves, quirks included, is
``cqc_research.synthetic._ods_writer.write_ods``: the synthetic data and the tests use it.)

The reader, :func:`read_ods`, streams ``content.xml`` out of the zip (the XML of a monthly CQC
workbook expands to most of a gigabyte, so it is never held in memory whole), keeps only the
requested sheet, expands column repeats, stops at the padding, and returns every column as
strings, with the spreadsheet's own 1-based row numbers as the index.

Two readers give the same frame: a fast one that turns blocks of rows into Arrow string columns
with array operations (about a third of python-calamine's time and a quarter of its memory on a
280,000-row sheet: see ``benchmarks/README.md``), and a reference one driven by expat events,
used for whatever the fast one does not handle (and, cell by cell, for rare rich cells).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd

from ..errors import CQCResearchError, DataFormatError, file_head, looks_like_html
from ._workbook import (
    MAX_COLUMNS,
    check_zip_member,
    describe,
    expansion_problem,
    ratio_problem,
    sniff,
)

__all__ = ["read_ods", "read_ods_sheets", "ods_sheet_names"]

_log = logging.getLogger(__name__)

ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"

# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

_BLOCK = 1 << 20  # 1 MiB of decompressed XML per read
_STR = pd.StringDtype(na_value=np.nan)


def _check_workbook(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as an ODS zip, or raise a DataFormatError that says what it is instead."""
    head = file_head(path, expected="an ODS workbook", size=4096)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        if looks_like_html(head):
            raise DataFormatError(
                "this looks like an HTML page, not an ODS workbook (a download that returned "
                "an error or log-in page?)", path=path)
        raise DataFormatError("this is a text/XML file, not an ODS workbook (a zip archive)",
                              path=path)
    if not head.startswith(b"PK"):
        kind, _ = sniff(path, head=head)
        raise DataFormatError(f"this is {describe(kind)}: not a zip archive, so not an "
                              "ODS workbook", path=path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataFormatError(f"a damaged or truncated zip archive ({exc}); an ODS workbook is a "
                              "complete zip (was the download interrupted?)", path=path) from exc
    names = set(zf.namelist())
    if "mimetype" in names:
        try:
            if zf.getinfo("mimetype").file_size > 1024:
                raise zipfile.BadZipFile("the mimetype member is larger than 1 KB")
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
    try:
        check_zip_member(zf.getinfo("content.xml"), path)
    except DataFormatError:
        zf.close()
        raise
    return zf


def _xml_blocks(zf: zipfile.ZipFile, path: Path, sheet: str | None = None) -> Iterator[bytes]:
    """Decompressed ``content.xml`` in blocks of at most ``_BLOCK`` bytes.

    The zip member is inflated here rather than by :mod:`zipfile` (whose reads copy the
    compressed input left over at every call), with the same CRC-32 and size checks. Zip and
    zlib failures become DataFormatError.
    """
    info = zf.getinfo("content.xml")

    def damaged(why):
        return DataFormatError(f"content.xml is damaged or truncated ({why}); was the download "
                               "interrupted?", path=path, sheet=sheet)

    if info.flag_bits & 1:
        raise DataFormatError("content.xml is encrypted", path=path, sheet=sheet)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        try:  # an unusual compression: let zipfile do it
            with zf.open("content.xml") as stream:
                while block := stream.read(_BLOCK):
                    yield block
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise damaged(exc) from exc
        return
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise damaged("no local header for content.xml")
        name_len, extra_len = int.from_bytes(header[26:28], "little"), int.from_bytes(
            header[28:30], "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        left = info.compress_size
        crc = 0
        size = 0
        inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        pending = b""
        while True:
            if not pending:
                if left <= 0:
                    break
                pending = f.read(min(1 << 18, left))
                if not pending:
                    raise damaged("the file ends early")
                left -= len(pending)
            if inflate is None:
                block, pending = pending, b""
            else:
                try:
                    block = inflate.decompress(pending, _BLOCK)
                except zlib.error as exc:
                    raise damaged(exc) from exc
                pending = inflate.unconsumed_tail
            if block:
                crc = zlib.crc32(block, crc)
                size += len(block)
                if size > info.file_size:
                    raise damaged("it inflates to more than the size the zip declares")
                why = ratio_problem(size, info.compress_size - left - len(pending))
                if why:
                    raise DataFormatError(f"content.xml: {why}; refused", path=path,
                                          sheet=sheet)
                yield block
            if inflate is not None and inflate.eof:
                break
    if inflate is not None and not inflate.eof:
        raise damaged("the compressed stream ends early")
    if crc != info.CRC or size != info.file_size:
        raise damaged("its checksum does not match")


_TABLE_START = re.compile(rb'<table:table\s(?:[^>"]|"[^"]*")*>')
_NAME_ATTR = re.compile(rb'table:name="([^"]*)"')


def _unescape(raw: bytes) -> str:
    """Decode UTF-8 XML character data, resolving the predefined and numeric entities."""
    return _unescape_text(raw.decode("utf-8"))


def _unescape_text(text: str) -> str:
    """Resolve the predefined and numeric XML entities in ``text``."""
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
    blocks = _Prefetch(_xml_blocks(zf, path))  # inflating in its own thread
    try:
        for block in blocks:
            buf = carry + block
            pos = 0
            while True:
                i = buf.find(b"<table:table ", pos)
                if i < 0:
                    carry = buf[max(pos, len(buf) - 16):]
                    break
                m = _TABLE_START.match(buf, i)
                if m is None:  # the tag continues in the next block
                    carry = buf[i:]
                    break
                name = _NAME_ATTR.search(m.group(0))
                if name is not None:
                    names.append(_unescape(name.group(1)))
                pos = m.end()
    finally:
        blocks.close()
    return names


# ---- the reference reader: expat events, one Python call per element ------------------------

class _Done(Exception):
    """Raised inside the expat handlers once the requested sheets have been read."""


class _Refused(Exception):
    """A sheet past a limit (see :mod:`._workbook`) or with a nonsensical repeat count; the
    caller turns it into a DataFormatError naming the file and the sheet."""

    def __init__(self, message: str, row: int | None = None):
        super().__init__(message)
        self.row = row


#: A row whose last cell is repeated more than this many times has that repeat clipped to the
#: width of the other rows (the header's, in effect): LibreOffice fills a row to the sheet's
#: last column that way. Shorter runs (two equal cells merged) are never clipped.
_CLIP_FROM = 64


def _repeat(attrs, name: str) -> int:
    """A ``table:number-*-repeated`` attribute as a positive int (1 when absent)."""
    text = attrs.get(name)
    if text is None:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise _Refused(f"{name}={text!r} is not a positive whole number")
    return int(text)


class _ExpatSheet:
    """Collect the requested sheets' non-empty rows from expat events.

    ``rows[sheet]`` holds ``(row_number, cells)`` with trailing empty cells dropped; empty rows
    are counted (so numbering stays right) but not kept, and the padding is never expanded.
    """

    def __init__(self, sheets: str | Iterable[str], *, clip: int = 0, limits: bool = True,
                 repeat_rows: bool = True):
        # clip: the width a long trailing repeat is clipped to at least (the widest row met so
        # far widens it); limits: check the expansion (the fast reader checks blocks itself);
        # repeat_rows: expand table:number-rows-repeated (else each row is kept once)
        self.clip = clip
        self.limits = limits
        self.repeat_rows = repeat_rows
        self.plain_width: dict[str, int] = {}  # per sheet, the widest row not widened by repeats
        self._reset_counts()
        self.wanted = {sheets} if isinstance(sheets, str) else set(sheets)
        self.sheet = next(iter(self.wanted)) if len(self.wanted) == 1 else None
        self.names: list[str] = []
        self.active = False
        self.found = False
        self.by_sheet: dict[str, list[tuple[int, list]]] = {}
        self.rows: list[tuple[int, list]] = []
        self.rownum = 0
        self.annotation = 0
        self.cells: list | None = None
        self.paras: list[str] | None = None
        self.parts: list[str] | None = None

    def _reset_counts(self):
        self.widest = self.clip  # the widest row without a long trailing repeat
        self.width = 0  # the widest row kept
        self.lines = 0  # rows holding data, repeats counted out
        self.written = 0  # cell elements
        self.full = self.trail = 0

    def start(self, name, attrs):
        if name == "table:table":
            sheet_name = attrs.get("table:name", "")
            self.names.append(sheet_name)
            if sheet_name in self.wanted and sheet_name not in self.by_sheet:
                self.active = self.found = True
                self.sheet = sheet_name
                self.rows = self.by_sheet[sheet_name] = []
                self.rownum = 0
                self._reset_counts()
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
            self.full = self.trail = 0
            self.n_elems = self.elems = 0  # cell elements, and those up to the last value
            self.row_repeat = _repeat(attrs, "table:number-rows-repeated")
            if not self.repeat_rows:
                self.row_repeat = 1
        elif name == "table:table-cell" or name == "table:covered-table-cell":
            self.col_repeat = _repeat(attrs, "table:number-columns-repeated")
            self.written += 1
            self.n_elems += 1
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
                # never more than MAX_COLUMNS cells in the list; the row's end judges the rest
                self.full += self.pending + self.col_repeat
                self.trail = self.col_repeat
                self.elems = self.n_elems
                room = MAX_COLUMNS - len(self.cells)
                if self.pending:
                    self.cells.extend([None] * max(min(self.pending, room), 0))
                    room -= self.pending
                    self.pending = 0
                self.cells.extend([value] * max(min(self.col_repeat, room), 0))
        elif name == "table:table-row":
            if self.cells:
                self._end_row()
                cells = list(self.cells)
                for k in range(self.row_repeat):
                    self.rows.append((self.rownum + 1 + k, cells))
            self.rownum += self.row_repeat
            self.cells = None
        elif name == "table:table":
            self.active = False
            if self.wanted <= self.by_sheet.keys():
                raise _Done

    def _end_row(self):
        """Clip a long trailing repeat, refuse a row past the last column, check the limits."""
        written_width = self.full - self.trail + 1
        if self.trail > _CLIP_FROM and written_width <= MAX_COLUMNS:
            del self.cells[max(self.widest, written_width):]
        elif self.full > MAX_COLUMNS:
            raise _Refused(f"a row of {self.full:,} cells, wider than the sheet's last column "
                           f"(MAX_COLUMNS = {MAX_COLUMNS:,})", row=self.rownum + 1)
        else:
            self.widest = max(self.widest, self.full)
        if len(self.cells) - self.elems <= _CLIP_FROM:  # not widened by repeats
            self.plain_width[self.sheet] = max(self.plain_width.get(self.sheet, 0),
                                               len(self.cells))
        if self.limits:
            self.lines += self.row_repeat
            self.width = max(self.width, len(self.cells))
            why = expansion_problem(self.width, self.lines, self.written)
            if why:
                raise _Refused(why, row=self.rownum + 1)


def _raw_expat(zf: zipfile.ZipFile, path: Path, sheet: str) -> pd.DataFrame:
    """The sheet's non-empty rows as a string frame (columns 0..w-1, index = row numbers)."""
    return _raw_expat_sheets(zf, path, [sheet])[sheet]


def _raw_expat_sheets(zf: zipfile.ZipFile, path: Path, sheets: Sequence[str]
                      ) -> dict[str, pd.DataFrame | DataFormatError]:
    """:func:`_raw_expat` for several sheets in one pass; a missing sheet maps to its error."""
    state = _ExpatSheet(sheets)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    parser.CharacterDataHandler = state.text
    try:
        for block in _xml_blocks(zf, path, state.sheet):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except _Done:
        pass
    except _Refused as exc:
        raise DataFormatError(f"{exc}; refused", path=path, sheet=state.sheet,
                              row=exc.row) from None
    except expat.ExpatError as exc:
        where = f"after spreadsheet row {state.rownum}" if state.active else "before the sheet"
        raise DataFormatError(f"malformed XML in content.xml ({exc}), {where}",
                              path=path, sheet=state.sheet if state.active else
                              (sheets[0] if len(sheets) == 1 else None),
                              row=state.rownum + 1 if state.active else None) from exc
    out: dict[str, pd.DataFrame | DataFormatError] = {}
    for sheet in sheets:
        rows = state.by_sheet.get(sheet)
        if rows is None:
            out[sheet] = _missing_sheet(path, sheet, state.names)
            continue
        width = max((len(cells) for _, cells in rows), default=0)
        plain = state.plain_width.get(sheet, 0)
        if 0 < plain < width:  # repeated cells never widen the sheet past its plain rows
            width = plain
            rows = [(n, cells[:width]) for n, cells in rows]
        out[sheet] = pd.DataFrame([cells + [None] * (width - len(cells)) for _, cells in rows],
                                  index=pd.Index([n for n, _ in rows], name="row"),
                                  columns=range(width), dtype=_STR)
    return out


def _strip_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """``strip=True`` for a frame read by the reference reader: every column stripped, cells
    left empty missing, rows left empty dropped."""
    for col in raw.columns:
        stripped = raw[col].str.strip()
        raw[col] = stripped.where(stripped != "")
    return raw[raw.notna().any(axis=1)] if raw.shape[1] else raw


def _missing_sheet(path: Path, sheet: str, names: list[str]) -> DataFormatError:
    present = ", ".join(repr(n) for n in names) or "none"
    return DataFormatError(f"no sheet named {sheet!r}; the sheets present are {present}",
                           path=path, sheet=sheet)


# ---- the fast reader: blocks of whole rows turned into Arrow string columns at C speed -------
#
# ``content.xml`` is decompressed in a background thread and cut into blocks of whole rows (at
# ``</table:table-row>``). Each block is viewed as a numpy byte array. The position of every
# ``<`` gives every tag, and one 8-byte probe after it classifies the tag (row, cell, paragraph
# and their ends; anything else is rare). In LibreOffice's compact XML a tag ends where the next
# one starts, except ``<text:p>``, which is followed by its text. So every cell is one
# *segment* of the block: the text of its one paragraph, or its ``office:value`` /
# ``office:date-value`` attribute (found from the quotes after ``value=``), or nothing. Cells
# repeated with ``table:number-columns-repeated`` repeat their segment, trailing empty cells
# are dropped, and empty rows vanish: their ``table:number-rows-repeated`` only advances the row
# numbers, so the padding row is never expanded. The segments are laid out column by column and
# one gather copies their bytes into a buffer that, with the offsets, *is* an Arrow
# ``large_string`` column per sheet column: no text parsing, no copy into pandas. Blocks are
# converted by two threads (numpy releases the GIL for the heavy work). Cells with richer
# content (several paragraphs, spans, links, ``<text:s/>``, comments) are converted by the
# expat reader one cell at a time, and rows with anything stranger one row at a time.

_TAIL = 64  # zero bytes after a block, so that 8-byte probes never read past it
_ROOM = 1 << 16  # room after those for the text of a few cells converted by expat


def _u(text: str) -> np.uint64:
    """The little-endian integer of up to 8 ASCII bytes (zero padded)."""
    return np.uint64(int.from_bytes(text.encode().ljust(8, b"\0"), "little"))


_PLAIN_CELL = b'<table:table-cell office:value-type="string" calcext:value-type="string">'
_PLAIN_PROBES = [(k, np.frombuffer(_PLAIN_CELL[k: k + 8], "<u8")[0]) for k in (36, 65)]
_STYLE_HEAD = b'<table:table-cell table:style-name="'
_STYLE_PROBES = [np.frombuffer(_STYLE_HEAD[k: k + 8], "<u8")[0] for k in (17, 28)]
_REPEAT_START = b'<table:table-cell table:number-columns-repeated="'
_REPEAT_HEAD = [np.frombuffer(_REPEAT_START[k: k + 8], "<u8")[0] for k in (17, 40)]
_PLAIN_TAIL = _PLAIN_CELL[len(b"<table:table-cell"):].replace(b" ", b'" ', 1)  # '" office:...">'
_PLAIN_TAIL_PROBES = [(k, np.frombuffer(_PLAIN_TAIL[len(_PLAIN_TAIL) - k:][:8], "<u8")[0])
                      for k in (len(_PLAIN_TAIL), 37, 8)]
_QUOTES = np.uint64(0x2222222222222222)
_GREATER = np.uint64(0x3E3E3E3E3E3E3E3E)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_M3 = np.uint64((1 << 24) - 1)
_M5 = np.uint64((1 << 40) - 1)
_M6 = np.uint64((1 << 48) - 1)
_SH48 = np.uint64(48)
_M7 = np.uint64((1 << 56) - 1)
_SH56 = np.uint64(56)
_SH16 = np.uint64(16)
_SH8 = np.uint64(8)
_FF = np.uint64(0xFF)
_K_OTHER, _K_ROW, _K_ROW_END, _K_CELL, _K_CELL_END, _K_P, _K_P_END, _K_IN, _K_IN_END = range(9)


class _Unsupported(Exception):
    """Something the fast reader does not handle; the expat reader takes over."""


class _Malformed(Exception):
    """Malformed XML in a block, at a row counted from the block's start."""

    def __init__(self, message: str, row: int):
        super().__init__(message)
        self.row = row


def _delim(b):
    """Bytes that may end a tag name: space, ``>``, ``/``, tab, newline, carriage return."""
    return (b == 0x20) | (b == 0x3E) | (b == 0x2F) | (b == 0x09) | (b == 0x0A) | (b == 0x0D)


def _first_byte(view, start: np.ndarray, stop: np.ndarray, pattern: np.uint64):
    """The first offset in each ``[start, stop)`` holding the byte repeated in ``pattern``.

    The ranges are read 8 bytes at a time; returns ``(offsets, found)``.
    """
    words = np.maximum((stop - start + 7) >> 3, 1)
    first = np.cumsum(words) - words
    owner = np.repeat(np.arange(len(start)), words)
    at = start[owner] + ((np.arange(len(owner)) - first[owner]) << 3)
    x = view[at] ^ pattern
    hits = np.flatnonzero((~(((x & _LOW7) + _LOW7) | x | _LOW7)).view(np.uint8))
    offset = at[hits >> 3] + (hits & 7)
    who = owner[hits >> 3]
    keep = offset < stop[who]
    offset, who = offset[keep], who[keep]
    who, pick = np.unique(who, return_index=True)
    out = np.full(len(start), -1, np.int64)
    out[who] = offset[pick]
    return out, out >= 0


_HIGH = np.uint64(0x8080808080808080)
_ABOVE_SPACE = np.uint64(0x5F5F5F5F5F5F5F5F)  # 0x7F - 0x20 in each byte


def _not_white(x: np.ndarray) -> np.ndarray:
    """0x80 in each byte of the 64-bit words ``x`` that is not white space, 0 elsewhere.

    In well-formed XML the only bytes up to 0x20 are the white space characters (space, tab,
    newline, carriage return): the other control characters are not allowed, and the bytes of
    multi-byte UTF-8 characters are at least 0x80. So a byte is white space when it is at most
    0x20, which one addition tells for all 8 bytes at once, without carries between them.
    """
    return (((x & _LOW7) + _ABOVE_SPACE) | x) & _HIGH


def _tag_ends(view, a: np.ndarray, lt: np.ndarray, nxt: np.ndarray, which: np.ndarray
              ) -> np.ndarray:
    """Where each tag ends: just after its ``>``, which is just before the next ``<`` less any
    white space between them (pretty-printed XML).

    Only the tags numbered ``which`` are measured (the others' ends are ``nxt``). Compact XML
    (what LibreOffice writes) has no white space between tags: one gather shows it and ``nxt``
    itself is returned. Otherwise each run of white space before a ``<`` is measured
    backwards, 8 bytes at a time.
    Where the bytes before the next tag are text (a paragraph's), ``nxt`` is kept: only the
    tags whose text is read directly (``<text:p>`` and inline elements) are followed by text,
    and their ends are not used.
    """
    ws = a[nxt[which] - 1] <= 0x20  # white space (see _not_white)
    if not ws.any():
        return nxt
    cand = which[ws]
    stop = nxt[cand]  # the white space ends here (exclusive); it starts after stop
    lower = lt[cand] + 1  # a run never reaches back into its own tag's "<"
    far = stop - lower >= 8
    slow = np.flatnonzero(~far)  # too close to the tag's start for a whole word
    active = np.flatnonzero(far) if len(slow) else np.arange(len(cand))
    while active.size:
        at = stop[active]
        other = _not_white(view[at - 8])  # the 8 bytes before: byte 7 is the nearest
        found = other != 0
        # the nearest byte that is not white space: the highest set bit of "other" (a power
        # of two times at most 1.02, so the float's exponent is exact)
        top = np.frexp(other[found].astype(np.float64))[1] >> 3  # byte index + 1
        ends = at - 8  # all white: 8 bytes back, and go on
        ends[found] += top
        stop[active] = ends
        going = ~found & (ends - lower[active] >= 8)
        if not going.all():
            slow = np.concatenate((slow, active[~found & ~going]))
        active = active[going]
    for k in slow.tolist():  # fewer than 8 bytes left before the tag: byte by byte
        i = int(stop[k])
        while i > lower[k] and a[i - 1] <= 0x20:
            i -= 1
        stop[k] = i
    out = nxt.copy()
    closed = a[stop - 1] == 0x3E  # white space right after a tag, not the end of some text
    out[cand[closed]] = stop[closed]
    return out


_ABOVE_CONTROL = np.uint64(0x6060606060606060)  # 0x80 - 0x20 in each byte


def _attribute_spaces(work: np.ndarray, view, start: np.ndarray, stop: np.ndarray) -> None:
    """XML's attribute-value normalisation, in place: a literal tab, newline or carriage
    return in the values ``work[start:stop]`` reads as a space (XML 1.0, section 3.3.3; a
    character reference such as ``&#10;`` stays a newline). pandas' odf writer leaves tabs in
    ``office:string-value``. The values are read 8 bytes at a time; a byte below 0x20 is one
    of those three in well-formed XML."""
    words = np.maximum((stop - start + 7) >> 3, 1)
    first = np.cumsum(words) - words
    owner = np.repeat(np.arange(len(start)), words)
    at = start[owner] + ((np.arange(len(owner)) - first[owner]) << 3)
    x = view[at]
    control = ~(((x & _LOW7) + _ABOVE_CONTROL) | x) & _HIGH
    if not control.any():
        return
    hits = np.flatnonzero(control.view(np.uint8))
    where = at[hits >> 3] + (hits & 7)
    work[where[where < stop[owner[hits >> 3]]]] = 0x20


def _parse_ints(view, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Decimal integers written between byte offsets ``start`` and ``stop`` (at most 8 digits)."""
    length = stop - start
    if not len(length):
        return np.zeros(0, np.int64)
    if length.min() < 1 or length.max() > 8:
        raise _Unsupported("an attribute number is empty or too long")
    # the digits as a (count x 8) matrix of bytes, left-aligned; one pass per digit position
    digits = view[start].view(np.uint8).reshape(-1, 8)
    out = np.zeros(len(start), np.int64)
    for k in range(int(length.max())):
        rows = None if k == 0 else np.flatnonzero(length > k)
        digit = (digits[:, k] if rows is None else digits[rows, k]).astype(np.int64) - 48
        if ((digit < 0) | (digit > 9)).any():
            raise _Unsupported("an attribute number is not a number")
        if rows is None:
            out = digit
        else:
            out[rows] = out[rows] * 10 + digit
    return out


_local = threading.local()
_NAMED_REFS = [(b"&amp;", ord("&")), (b"&lt;", ord("<")), (b"&gt;", ord(">")),
               (b"&quot;", ord('"')), (b"&apos;", ord("'"))]


def _decode_references(work: np.ndarray, start: np.ndarray, length: np.ndarray):
    """Resolve the XML references in the segments ``work[start:start+length]``.

    Returns the decoded segments, concatenated, and their new lengths. The five named
    references are resolved with array operations; segments with a character reference
    (``&#...;``) are decoded one at a time.
    """
    total = int(length.sum())
    first = np.cumsum(length) - length
    index = np.repeat(start - first, length) + np.arange(total)
    raw = np.zeros(total + 8, np.uint8)
    raw[:total] = work[index]
    segment = np.repeat(np.arange(len(start)), length)
    at = np.flatnonzero(raw[:total] == 0x26)
    word = np.ndarray((total + 1,), "<u8", buffer=raw, strides=(1,))[at]
    char = np.zeros(len(at), np.uint8)
    size = np.zeros(len(at), np.int64)
    for ref, value in _NAMED_REFS:
        mask = np.uint64((1 << (8 * len(ref))) - 1)
        match = (word & mask) == np.frombuffer(ref.ljust(8, b"\0"), "<u8")[0]
        char[match] = value
        size[match] = len(ref)
    numeric = np.unique(segment[at[size == 0]])  # &#...; (or a stray "&")
    raw[at] = np.where(size > 0, char, 0x26)
    drop = np.zeros(total + 1, np.int32)
    named = size > 0
    np.add.at(drop, at[named] + 1, 1)
    np.add.at(drop, at[named] + size[named], -1)
    keep = np.cumsum(drop[:total]) == 0
    kept = raw[:total][keep]
    lengths = np.bincount(segment[keep], minlength=len(start)).astype(np.int64)
    if len(numeric):  # rare: decode those segments from their original text
        parts = np.split(kept, np.cumsum(lengths)[:-1])
        for k in numeric.tolist():
            text = work[start[k]: start[k] + length[k]].tobytes()
            parts[k] = np.frombuffer(_unescape(text).encode("utf-8"), np.uint8)
        lengths = np.fromiter(map(len, parts), np.int64, len(parts))
        kept = np.concatenate(parts)
    return kept.tobytes(), lengths


def _expat_fragment(xml: bytes, sheet: str, clip: int = 0, repeat_rows: bool = True
                    ) -> list[tuple[int, list]]:
    """Rows of an XML fragment holding whole rows, read by the reference reader (without the
    expansion limits: the fast reader has checked the block)."""
    state = _ExpatSheet(sheet, clip=clip, limits=False, repeat_rows=repeat_rows)
    state.active = state.found = True
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    parser.CharacterDataHandler = state.text
    parser.Parse(b"<r>" + xml + b"</r>", True)
    return state.rows




class _Block:
    """One converted block: its columns, their row numbers, and the rows it spanned."""

    __slots__ = ("columns", "numbers", "rows", "end", "rest", "width", "lines", "written",
                 "plain_width")


def _assemble(pieces: list[tuple[bytes, int, int]]) -> tuple[np.ndarray, int, np.ndarray]:
    """Copy a block's pieces (``(bytes, start, stop)`` slices) into one array with room after it.

    Returns ``(work, size, positions of "&")``.
    """
    if any(buf.find(b"\r", start, stop) >= 0 for buf, start, stop in pieces):
        text = b"".join(buf[start:stop] for buf, start, stop in pieces)
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # XML line-end handling
        pieces = [(text, 0, len(text))]
    n = sum(stop - start for _, start, stop in pieces)
    # each converting thread reuses one buffer: fresh memory costs page faults every block
    work = getattr(_local, "work", None)
    if work is None or len(work) < n + _TAIL + _ROOM:
        work = _local.work = np.empty(max(n + _TAIL + _ROOM, 5 << 20), np.uint8)
    at = 0
    amps = []
    for buf, start, stop in pieces:
        size = stop - start
        work[at: at + size] = np.frombuffer(buf, np.uint8, size, start)
        found = []
        i = buf.find(b"&", start, stop)
        while i >= 0:
            found.append(i - start)
            if len(found) > 4096:  # many: let numpy find them all
                found = np.flatnonzero(work[at: at + size] == 0x26)
                break
            i = buf.find(b"&", i + 1, stop)
        amps.append(at + np.asarray(found, np.int64))
        at += size
    work[n: n + _TAIL] = 0
    return work, n, np.concatenate(amps) if amps else np.zeros(0, np.int64)


def _memory_pool(pa):
    """jemalloc where pyarrow has it: its peak memory for the blocks' many medium-sized
    buffers, half of them freed at once, is lower than the default pool's."""
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.default_memory_pool()


def _assemble_and_convert(pieces: list[tuple[bytes, int, int]], sheet: str,
                          strip: bool = False) -> _Block:
    """Assemble and convert one block (in the converting thread, so its bytes are in cache)."""
    try:
        return _convert_block(_assemble(pieces), sheet, strip)
    except UnicodeDecodeError as exc:  # not UTF-8: the reference reader names the row
        raise _Unsupported(str(exc)) from exc


def _convert_block(assembled: tuple[np.ndarray, int, np.ndarray], sheet: str,
                   strip: bool = False) -> _Block:
    """Convert one block of whole rows (see :func:`_assemble`) into Arrow string columns.

    Row numbers are counted from the start of the block (1 = its first row). If the sheet ends
    in the block (``</table:table>``), what follows is kept in ``rest`` and ``end`` is set.
    With ``strip``, white space is stripped from both ends of every cell (see
    :func:`_strip_segments`), and rows left empty are dropped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    work, n, amp = assembled
    del assembled
    a = work[:n]
    view = np.ndarray((n + _TAIL - 8,), "<u8", buffer=work, strides=(1,))
    view16 = np.ndarray((n + _TAIL - 2,), "<u2", buffer=work, strides=(1,))
    block = _Block()
    block.end = False

    # tags and their kinds
    lt = np.flatnonzero(a == 0x3C)
    k1 = view[lt + 1]
    t = np.flatnonzero(k1 == _u("/table:t"))
    k2 = view[lt[t] + 9]
    sheet_end = t[(k2 & _M5) == _u("able>")]
    block.rest = b""
    if len(sheet_end):  # the sheet ends here: what follows is handed back (the next sheets)
        block.end = True
        keep = sheet_end[0]
        block.rest = work[int(lt[keep]): n].tobytes()
        n = int(lt[keep])
        lt, k1 = lt[:keep], k1[:keep]
        t, k2 = t[t < keep], k2[t < keep]
        a = a[:n]
    n_tags = len(lt)
    nxt = np.empty(n_tags, np.int64)
    nxt[:-1] = lt[1:]
    nxt[-1:] = n
    kind = np.zeros(n_tags + 6, np.int8)
    cell_ends = t[k2 == _u("able-cel")]
    t = t[k2 == _u("able-row")]
    rc = t[a[lt[t] + 17] == 0x3E]
    t = np.flatnonzero(k1 == _u("table:ta"))
    k2 = view[lt[t] + 9]
    cells = t[k2 == _u("ble-cell")]
    ro = t[((k2 & _M7) == _u("ble-row")) & _delim(k2 >> _SH56)]
    p = np.flatnonzero((k1 & _M7) == _u("text:p>"))
    pe = np.flatnonzero(k1 == _u("/text:p>"))
    kind[cells] = _K_CELL
    kind[ro] = _K_ROW
    kind[cell_ends] = _K_CELL_END
    kind[rc] = _K_ROW_END
    kind[p] = _K_P
    kind[pe] = _K_P_END
    # where each tag ends ("<...>"), before any white space; only needed for the opening tags
    # of rows and cells (and rare tags), not for paragraphs or closing tags
    end = _tag_ends(view, a, lt, nxt, np.flatnonzero(
        (kind[:n_tags] == _K_CELL) | (kind[:n_tags] == _K_ROW) | (kind[:n_tags] == _K_OTHER)))
    n_rows = len(ro)
    row_selfclose = a[end[ro] - 2] == 0x2F  # <table:table-row/>: a row without cells
    if row_selfclose.any():
        if len(rc) != n_rows - int(row_selfclose.sum()):
            raise _Unsupported("rows are not properly closed")
        closed = ro.copy()
        closed[~row_selfclose] = rc
        rc = closed
    if len(rc) != n_rows or (ro > rc).any() or (ro[1:] < rc[:-1]).any():
        raise _Unsupported("rows are not properly nested")

    # the rare tags: covered cells count as cells; inside a cell anything else makes the cell
    # "rich"; between the cells of a row it makes the row "complex"
    rich_tags = loose_tags = np.zeros(0, np.int64)
    if len(cells) + len(ro) + len(cell_ends) + len(rc) + len(p) + len(pe) < n_tags:
        other = np.flatnonzero(kind[:n_tags] == _K_OTHER)
        owner = np.searchsorted(ro, other, "right") - 1
        other = other[(owner >= 0) & (other < rc[np.maximum(owner, 0)])]
        o1 = k1[other]
        o2 = view[lt[other] + 9]
        cov = (o1 == _u("table:co")) & (o2 == _u("vered-ta"))
        cov_end = (o1 == _u("/table:c")) & (o2 == _u("overed-t"))
        if cov.any():
            cells = np.sort(np.concatenate((cells, other[cov])))
            kind[other[cov]] = _K_CELL
        if cov_end.any():
            cell_ends = np.sort(np.concatenate((cell_ends, other[cov_end])))
            kind[other[cov_end]] = _K_CELL_END
        # a hyperlink or a span around a paragraph's text: read directly when it is alone
        o_low = o1 & _M6
        inline = (((o_low == _u("text:a")) & _delim((o1 >> _SH48) & _FF))
                  | ((o1 == _u("text:spa")) & ((o2 & _FF) == ord("n")) & _delim((o2 >> _SH8) & _FF)))
        inline_end = (o1 == _u("/text:a>")) | ((o1 == _u("/text:sp")) & ((o2 & _M3) == _u("an>")))
        kind[other[inline]] = _K_IN
        kind[other[inline_end]] = _K_IN_END
        rich_tags = other[~cov & ~cov_end]
    del k1, k2, t, p, pe
    n_cells = len(cells)
    ending = view16[end[cells] - 2]  # the last two bytes of each cell's opening tag
    if ((ending >> 8) != 0x3E).any():
        raise _Unsupported("text between a cell's tag and its content")
    selfclose = ending == 0x3E2F  # "/>"
    del ending
    if (~selfclose).sum() != len(cell_ends):
        raise _Unsupported("cells are not properly closed")
    close = cells.copy()  # the tag that ends each cell
    close[~selfclose] = cell_ends
    if (close < cells).any() or (cells[1:] <= close[:-1]).any():
        raise _Unsupported("cells are not properly nested")
    first_cell = np.searchsorted(cells, ro)
    stop_cell = np.searchsorted(cells, rc)
    per_row = stop_cell - first_cell
    if per_row.sum() != n_cells:
        raise _Unsupported("a cell outside a row")
    cell_row = np.repeat(np.arange(n_rows), per_row)
    rich = np.zeros(n_cells, bool)
    if len(rich_tags):
        owner = np.searchsorted(cells, rich_tags, "right") - 1
        inside = (owner >= 0) & (rich_tags < close[np.maximum(owner, 0)])
        rich[owner[inside]] = True
        loose_tags = rich_tags[~inside]

    # attributes: quotes preceded by "...value=" (a cell's value) or "repeated=". Only tags
    # that may hold one are searched: rows with attributes, and cells other than the plain
    # string cell LibreOffice writes most (known by its length and two 8-byte probes: a tag
    # of that length whose two attributes both read "string" holds no value)
    size = end[cells] - lt[cells]
    plain = np.flatnonzero(size == len(_PLAIN_CELL))
    at = lt[cells[plain]]
    same = np.ones(len(plain), bool)
    for offset, word in _PLAIN_PROBES:
        same &= view[at + offset] == word
    searched = size != len(b"<table:table-cell/>")  # an empty cell has no attributes
    searched[plain[same]] = False
    del plain, at, same
    # the same with a style: <table:table-cell table:style-name="NAME" + the plain tail, where
    # NAME (at most 8 bytes) holds no quote
    name_len = size - len(_STYLE_HEAD) - len(_PLAIN_TAIL)
    styled = np.flatnonzero(searched & (name_len >= 1) & (name_len <= 8))
    if len(styled):
        start, stop = lt[cells[styled]], end[cells[styled]]
        ok = (view[start + 17] == _STYLE_PROBES[0]) & (view[start + 28] == _STYLE_PROBES[1])
        for offset, word in _PLAIN_TAIL_PROBES:
            ok &= view[stop - offset] == word
        x = view[start + len(_STYLE_HEAD)] ^ _QUOTES
        quotes = ~(((x & _LOW7) + _LOW7) | x | _LOW7)  # 0x80 in each byte that is '"'
        # the first quote after the name's start must be the one that ends it
        low = quotes & (np.uint64(0) - quotes)  # lowest set bit
        first_quote = np.where(quotes != 0, np.log2(np.maximum(low, np.uint64(1)).astype(
            np.float64)).astype(np.int64) >> 3, 8)
        ok &= first_quote == name_len[styled]
        searched[styled[ok]] = False
        del start, stop, ok, x, quotes, low, first_quote
    del size, name_len, styled
    col_rep = np.ones(n_cells, np.int64)
    # LibreOffice's repeated empty cell, and repeated plain string cell, read directly
    some = np.flatnonzero(searched)
    start = lt[cells[some]]
    stop = end[cells[some]]
    head = (view[start + 17] == _REPEAT_HEAD[0]) & (view[start + 40] == _REPEAT_HEAD[1])
    empty_form = head & (view16[stop - 2] == 0x3E2F) & (a[stop - 3] == 0x22)
    string_form = head & ~empty_form
    for offset, word in _PLAIN_TAIL_PROBES:
        string_form &= view[stop - offset] == word
    digits_end = np.where(empty_form, stop - 3, stop - len(_PLAIN_TAIL))
    digits = digits_end - (start + len(_REPEAT_START))
    known = (empty_form | string_form) & (digits >= 1) & (digits <= 8)
    if known.any():
        col_rep[some[known]] = _parse_ints(view, start[known] + len(_REPEAT_START),
                                           digits_end[known])
        searched[some[known]] = False
    del some, start, stop, head, empty_form, string_form, digits_end, digits, known
    tags = np.concatenate((cells[searched], ro[end[ro] - lt[ro] > 17]))
    tags.sort()
    starts = lt[tags]
    lengths = end[tags] - starts
    if lengths.sum() > n // 4:  # most tags are searched: scan the whole block
        q = np.flatnonzero(a == 0x22)
        tag_of_q = np.searchsorted(lt, q) - 1
        inside = (tag_of_q >= 0) & (q < end[np.maximum(tag_of_q, 0)])  # not in text
        q, tag_of_q = q[inside], tag_of_q[inside]
    else:  # read the searched tags 8 bytes at a time and find the quotes in those words
        words = (lengths + 7) >> 3
        first = np.cumsum(words) - words
        step = np.arange(int(words.sum()), dtype=np.int64)
        owner = np.repeat(np.arange(len(tags)), words)
        at = starts[owner] + ((step - first[owner]) << 3)
        x = view[at] ^ _QUOTES
        quote_bytes = ~(((x & _LOW7) + _LOW7) | x | _LOW7)  # 0x80 where a byte is '"'
        hit = np.flatnonzero(quote_bytes.view(np.uint8))
        q = at[hit >> 3] + (hit & 7)
        tag_of_q = tags[owner[hit >> 3]]
        inside = q < end[tag_of_q]
        q, tag_of_q = q[inside], tag_of_q[inside]
        del words, first, step, owner, at, x, quote_bytes, hit
    del tags, starts, lengths
    qv = view[np.maximum(q - 8, 0)]
    b1 = (qv >> _SH8) & _FF
    cand = np.flatnonzero((((qv >> _SH16) == _u("value=")) & ((b1 == 0x3A) | (b1 == 0x2D)))
                          | (qv == _u("epeated=")))
    row_rep = np.ones(n_rows, np.int64)
    val_start = np.full(n_cells, -1, np.int64)
    val_stop = np.zeros(n_cells, np.int64)
    if len(cand):
        if cand[-1] + 1 >= len(q):
            raise _Unsupported("an attribute value is not closed")
        qo, qc = q[cand], q[cand + 1]
        tag = tag_of_q[cand]
        ok = (tag >= 0) & (tag_of_q[cand + 1] == tag)
        tag_kind = np.where(ok, kind[np.maximum(tag, 0)], _K_OTHER)
        is_rep = qv[cand] == _u("epeated=")
        sel = np.flatnonzero(is_rep & (tag_kind == _K_CELL))
        if len(sel):
            col_rep[np.searchsorted(cells, tag[sel])] = _parse_ints(view, qo[sel] + 1, qc[sel])
        sel = np.flatnonzero(is_rep & (tag_kind == _K_ROW))
        if len(sel):
            row_rep[np.searchsorted(ro, tag[sel])] = _parse_ints(view, qo[sel] + 1, qc[sel])
        sel = np.flatnonzero(~is_rep & (tag_kind == _K_CELL))
        if len(sel):
            owner, first = np.unique(np.searchsorted(cells, tag[sel]), return_index=True)
            val_start[owner] = qo[sel[first]] + 1
            val_stop[owner] = qc[sel[first]]
    del q, qv, b1, cand
    has_val = val_start >= 0
    if has_val.any():  # a literal tab or line end in an attribute value reads as a space
        _attribute_spaces(work, view, val_start[has_val], val_stop[has_val])

    # one segment per cell: its paragraph's text, or its value, or nothing
    seg_start = np.zeros(n_cells, np.int64)
    seg_len = np.zeros(n_cells, np.int64)
    simple = ((kind[cells + 1] == _K_P) & (kind[cells + 2] == _K_P_END)
              & (kind[cells + 3] == _K_CELL_END) & ~selfclose)
    empty_open = ~selfclose & (kind[cells + 1] == _K_CELL_END)
    # <text:p><text:a ...>TEXT</text:a></text:p>, nothing else (likewise text:span)
    linked = ((kind[cells + 1] == _K_P) & (kind[cells + 2] == _K_IN)
              & (kind[cells + 3] == _K_IN_END) & (kind[cells + 4] == _K_P_END)
              & (kind[cells + 5] == _K_CELL_END) & ~selfclose)
    if linked.any():
        at = cells[linked]
        tight = (lt[at + 2] == lt[at + 1] + 8) & (np.isin(lt[at + 4] - lt[at + 3], (9, 12)))
        linked[np.flatnonzero(linked)[~tight]] = False
    if linked.any():
        at = cells[linked]
        gt, found = _first_byte(view, lt[at + 2], lt[at + 3], _GREATER)
        if not found.all():
            raise _Unsupported("an inline element's tag is not closed")
        rich[np.flatnonzero(linked)] = False
        seg_start[linked] = gt + 1
        seg_len[linked] = lt[at + 3] - gt - 1
    rich |= ~(simple | empty_open | selfclose | linked)
    rich &= ~has_val
    text = np.flatnonzero(simple & ~rich & ~has_val)
    seg_start[text] = lt[cells[text] + 1] + 8  # just after "<text:p>"
    seg_len[text] = lt[cells[text] + 2] - seg_start[text]
    seg_start[has_val] = val_start[has_val]
    seg_len[has_val] = val_stop[has_val] - val_start[has_val]
    numbers_of_row = np.cumsum(row_rep) - row_rep + 1

    # rich cells, one at a time, by the reference reader; their text goes after the block
    extra: list[bytes] = []
    extra_size = 0
    tail0 = n + _TAIL
    for c in np.flatnonzero(rich).tolist():
        xml = work[lt[cells[c]]: nxt[close[c]]].tobytes()
        try:
            found = _expat_fragment(b"<table:table-row>" + xml + b"</table:table-row>", sheet)
        except expat.ExpatError as exc:
            raise _Malformed(str(exc), int(numbers_of_row[cell_row[c]])) from exc
        piece = found[0][1][0].encode("utf-8") if found else b""
        seg_start[c] = tail0 + extra_size
        seg_len[c] = len(piece)
        extra.append(piece)
        extra_size += len(piece)

    # cells holding "&" (an entity or character reference) are decoded together
    amp = amp[amp < n]
    if len(amp):
        owner = np.searchsorted(lt[cells], amp, "right") - 1
        keep = owner >= 0
        owner, amp = owner[keep], amp[keep]
        inside = ~rich[owner] & (seg_start[owner] <= amp) & (amp < seg_start[owner]
                                                              + seg_len[owner])
        hit = np.unique(owner[inside])
        if len(hit):
            pieces, lengths = _decode_references(work, seg_start[hit], seg_len[hit])
            seg_start[hit] = tail0 + extra_size + np.cumsum(lengths) - lengths
            seg_len[hit] = lengths
            rich[hit] = True  # their text now lies after the block
            extra.append(pieces)
            extra_size += len(pieces)

    # trailing empty cells are dropped; rows without data vanish
    last = np.full(n_rows, -1, np.int64)
    ne = np.flatnonzero(seg_len > 0)
    if len(ne):
        ne_rows = cell_row[ne]
        tails = np.append(np.flatnonzero(ne_rows[1:] != ne_rows[:-1]), len(ne) - 1)
        last[ne_rows[tails]] = ne[tails]
    mult = np.where(np.arange(n_cells) <= last[cell_row], col_rep, 0)
    cum = np.zeros(n_cells + 1, np.int64)
    np.cumsum(mult, out=cum[1:])
    n_fields = cum[stop_cell] - cum[first_cell]
    # a long trailing repeat is clipped to the width of the block's other rows; a row past the
    # sheet's last column is refused; the expansion is checked before anything is expanded
    has_data = last >= 0
    trail = np.where(has_data, col_rep[np.maximum(last, 0)], 0)
    written_width = n_fields - trail + 1
    long_tail = has_data & (trail > _CLIP_FROM)
    too_wide = np.where(long_tail, written_width, n_fields) > MAX_COLUMNS
    if too_wide.any():
        r = int(np.flatnonzero(too_wide)[0])
        raise _Refused(f"a row of {int(n_fields[r]):,} cells, wider than the sheet's last "
                       f"column (MAX_COLUMNS = {MAX_COLUMNS:,})",
                       row=int(numbers_of_row[r]))
    if long_tail.any():
        wide = int(n_fields[has_data & ~long_tail].max(initial=0))
        cut = np.where(long_tail, np.maximum(n_fields - np.maximum(wide, written_width), 0), 0)
        if cut.any():
            rows_cut = np.flatnonzero(cut)
            mult[last[rows_cut]] -= cut[rows_cut]
            n_fields = n_fields - cut
    empty_row = n_fields == 0
    # rows not widened by repeats (at most _CLIP_FROM cells more than they write): the sheet
    # is never wider than the widest of them (see _frame_of_blocks)
    elements = np.where(has_data, last - first_cell + 1, 0)
    plain = has_data & (n_fields - elements <= _CLIP_FROM)
    block.plain_width = int(n_fields[plain].max(initial=0))
    block.width = int(n_fields.max(initial=0))
    block.lines = int(row_rep[~empty_row].sum())
    block.written = n_cells
    why = expansion_problem(block.width, block.lines, block.written)
    if why:
        first = np.flatnonzero(~empty_row & (row_rep > 1))
        raise _Refused(why, row=int(numbers_of_row[first[0]]) if len(first) else None)
    complex_row = (row_rep > 1) & ~empty_row
    if len(loose_tags):
        complex_row[np.searchsorted(ro, loose_tags, "right") - 1] = True

    # rows with anything stranger, one at a time, by the reference reader
    complex_values = {}
    lines_per_row = (~empty_row).astype(np.int64)
    for r in np.flatnonzero(complex_row).tolist():
        clip = int(n_fields[r])
        try:  # read once; its repeats share the cells' segments (see the grid below)
            found = _expat_fragment(work[lt[ro[r]]: nxt[rc[r]]].tobytes(), sheet, clip=clip,
                                    repeat_rows=False)
        except expat.ExpatError as exc:
            raise _Malformed(str(exc), int(numbers_of_row[r])) from exc
        complex_values[r] = [values[:clip] for _, values in found]
        lines_per_row[r] = int(row_rep[r]) * len(found)
        mult[first_cell[r]: stop_cell[r]] = 0
        n_fields[r] = max((len(values) for values in complex_values[r]), default=0)
    width = int(n_fields.max(initial=0))
    n_lines = int(lines_per_row.sum())
    line_of_row = np.cumsum(lines_per_row) - lines_per_row

    # the block's segments as one Arrow array: segment k is value 2k, the bytes between
    # segments are the odd values (cells in document order, then the text after the block)
    direct = np.flatnonzero(~rich)
    seg_id = np.empty(n_cells, np.int64)
    seg_id[direct] = np.arange(len(direct))
    seg_id[rich] = len(direct) + np.arange(int(rich.sum()))
    extra_start = [int(v) for v in seg_start[rich]]
    extra_len = [int(v) for v in seg_len[rich]]

    # the grid of segment ids, column by column (-1: no cell there)
    n_grid = width * n_lines
    grid = np.full(n_grid, -1, np.int64)
    np.cumsum(mult, out=cum[1:])
    expanded = np.repeat(np.arange(n_cells), mult)
    rows_of = cell_row[expanded]
    col = np.arange(len(expanded)) - cum[first_cell[rows_of]]
    grid[col * n_lines + line_of_row[rows_of]] = seg_id[expanded]
    del expanded, rows_of, col
    for r, lines in complex_values.items():
        copies = int(lines_per_row[r]) // max(len(lines), 1)  # the row's repeats
        for k, values in enumerate(lines):
            for f, value in enumerate(values):
                if value is not None:
                    piece = value.encode("utf-8")
                    at = f * n_lines + line_of_row[r] + k * copies
                    grid[at: at + copies] = len(direct) + len(extra_start)
                    extra_start.append(tail0 + extra_size)
                    extra_len.append(len(piece))
                    extra.append(piece)
                    extra_size += len(piece)
    if extra_size <= _ROOM:
        source = work
        if extra:
            work[tail0: tail0 + extra_size] = np.frombuffer(b"".join(extra), np.uint8)
    else:
        source = np.concatenate((work[:tail0], np.frombuffer(b"".join(extra), np.uint8)))
    starts = np.concatenate((seg_start[direct], np.asarray(extra_start, np.int64)))
    ends = starts + np.concatenate((seg_len[direct], np.asarray(extra_len, np.int64)))
    bounds = np.empty(2 * len(starts) + 1, np.int64)
    bounds[0:-1:2] = starts
    bounds[1::2] = ends
    bounds[-1] = len(source)
    segments = pa.Array.from_buffers(pa.large_string(), len(bounds) - 1,
                                     [None, pa.py_buffer(bounds), pa.py_buffer(source)])
    # first the segments in document order (reading the block front to back), then the
    # grid from that compact copy, which stays in the processor's cache
    pool = _memory_pool(pa)
    compact = pc.take(segments, pa.array(np.arange(0, len(bounds) - 1, 2)), memory_pool=pool)
    del segments, source, work, bounds
    try:
        compact.validate(full=True)  # valid UTF-8, as promised by the XML declaration
    except pa.ArrowInvalid as exc:  # the reference reader names the row
        raise _Unsupported(str(exc)) from exc
    lengths = ends - starts
    emptied = False
    if strip:
        compact, lengths, emptied = _strip_segments(compact, lengths, pa, pc)
    if (lengths == 0).any():  # empty cells are missing
        has = grid >= 0
        grid[has] = np.where(lengths[grid[has]] > 0, grid[has], -1)
    taken = pc.take(compact, pa.array(grid, mask=grid < 0), memory_pool=pool)
    del compact
    block.columns = [taken.slice(c * n_lines, n_lines) for c in range(width)]

    # the row number of each line: consecutive within a row repeated by its attribute
    numbers = np.repeat(numbers_of_row, lines_per_row)
    if complex_values:
        numbers += np.arange(n_lines) - np.repeat(line_of_row, lines_per_row)
    if emptied and n_lines:  # rows whose cells were all white space are empty rows now
        filled = (grid.reshape(width, n_lines) >= 0).any(axis=0)
        if not filled.all():
            keep = pa.array(np.flatnonzero(filled))
            block.columns = [pc.take(column, keep, memory_pool=pool) for column in block.columns]
            numbers = numbers[filled]
    block.numbers = numbers
    block.rows = int(row_rep.sum())
    block.width = width
    return block


def _strip_segments(compact, lengths: np.ndarray, pa, pc):
    """Strip white space from both ends of the segments (cells' text) in ``compact``.

    As :meth:`pandas.Series.str.strip` does on Arrow strings (``utf8_trim_whitespace``, Unicode
    white space included). Most cells have none: a value can only change when its first or last
    byte is at most 0x20 or at least 0x80 (a multi-byte character, perhaps U+00A0), which two
    gathers show; only those are trimmed to check, and the whole array only if one changes.

    Returns ``(compact, lengths, emptied)``: the new segments, their byte lengths, and whether
    some segment became empty.
    """
    offsets = np.frombuffer(compact.buffers()[1], np.int64)[compact.offset:
                                                            compact.offset + len(compact) + 1]
    has = np.flatnonzero(lengths > 0)
    if not len(has):
        return compact, lengths, False
    data = np.frombuffer(compact.buffers()[2], np.uint8)
    first = data[offsets[has]]
    last = data[offsets[has + 1] - 1]
    maybe = has[(first <= 0x20) | (first >= 0x80) | (last <= 0x20) | (last >= 0x80)]
    if not len(maybe):
        return compact, lengths, False
    some = compact.take(pa.array(maybe))
    if pc.all(pc.equal(pc.utf8_trim_whitespace(some), some)).as_py():
        return compact, lengths, False
    compact = pc.utf8_trim_whitespace(compact)
    lengths = pc.binary_length(compact).to_numpy(zero_copy_only=False).astype(np.int64)
    return compact, lengths, True


_ROW_CLOSE = b"</table:table-row>"
_CONVERT_AT_LEAST = 4 << 20  # convert blocks of about this many bytes of XML (memory vs overhead)
_WORKERS = max(1, min(2, os.cpu_count() or 1))  # threads converting blocks
_AHEAD = 2  # blocks converted ahead of the one being collected


class _Prefetch:
    """Run an iterator in a background thread, handing its items over through a small queue."""

    def __init__(self, iterator: Iterator, depth: int = 2):
        import queue
        import threading

        self._queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iterator,), daemon=True)
        self._thread.start()

    def _run(self, iterator):
        try:
            for item in iterator:
                if not self._put((True, item)):
                    return
            self._put((True, _Prefetch))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((False, exc))

    def _put(self, item) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while True:
            ok, item = self._queue.get()
            if not ok:
                raise item
            if item is _Prefetch:
                return
            yield item

    def close(self):
        self._stop.set()
        self._thread.join()


class _Stream:
    """``content.xml`` as byte blocks in order, with bytes that can be handed back in front."""

    def __init__(self, blocks: Iterable[bytes]):
        from collections import deque

        self._blocks = iter(blocks)
        self._front = deque()

    def next(self) -> bytes | None:
        """The next block, or None at the end."""
        if self._front:
            return self._front.popleft()
        return next(self._blocks, None)

    def give_back(self, chunks: Iterable[bytes]) -> None:
        """Put ``chunks`` (in order) before whatever :meth:`next` would return."""
        self._front.extendleft(reversed([c for c in chunks if c]))


def _next_sheet(stream: _Stream, wanted: set[str], names: list[str]) -> str | None:
    """Advance ``stream`` to just after the opening tag of the next sheet named in ``wanted``.

    Sheet names met on the way are appended to ``names``. Returns the sheet's name, or None
    at the end of the document.
    """
    carry = b""
    while (block := stream.next()) is not None:
        buf = carry + block
        pos = 0
        while True:
            i = buf.find(b"<table:table ", pos)
            if i < 0:
                carry = buf[max(pos, len(buf) - 16):]
                break
            m = _TABLE_START.match(buf, i)
            if m is None:  # the tag continues in the next block
                carry = buf[i:]
                break
            name = _NAME_ATTR.search(m.group(0))
            name = _unescape(name.group(1)) if name else ""
            names.append(name)
            pos = m.end()
            if name in wanted:
                stream.give_back([buf[pos:]])
                return name
    return None


_ROW_NAME_ENDS = b" >/\t\r\n"  # bytes that may follow "<table:table-row"


def _first_row(stream: _Stream) -> tuple[bytes, int] | None:
    """The sheet's XML from its first row (or its end, if it has no rows) as ``(bytes, start)``;
    None if the document ends first."""
    buf = b""
    while True:
        i = buf.find(b"<table:table-row")
        while i >= 0 and i + 16 < len(buf) and buf[i + 16] not in _ROW_NAME_ENDS:
            i = buf.find(b"<table:table-row", i + 1)
        j = buf.find(b"</table:table>")
        if j >= 0 and (i < 0 or j < i):
            return buf, j  # a sheet without rows
        if i >= 0 and i + 16 < len(buf):
            return buf, i
        block = stream.next()
        if block is None:
            return None
        buf = (buf[-32:] if i < 0 else buf[i:]) + block


def _read_sheet_fast(stream: _Stream, executor, path: Path, sheet: str, strip: bool = False
                     ) -> pd.DataFrame:
    """Convert the sheet that ``stream`` has just entered; leave ``stream`` just after it.

    ``content.xml`` is cut into blocks of whole rows (at ``</table:table-row>``), of about
    ``_CONVERT_AT_LEAST`` bytes, converted by ``executor``'s threads, ``_AHEAD`` at a time. A
    block is a list of pieces ``(bytes, start, stop)``: cutting copies nothing. The block
    where the sheet ends hands back what follows, with the blocks cut after it.
    """
    from collections import deque

    first = _first_row(stream)
    if first is None:
        raise DataFormatError("content.xml ends inside the sheet (a truncated file?)",
                              path=path, sheet=sheet)
    buf, i = first
    pending = [(buf, i, len(buf))]
    size = len(buf) - i
    ahead: deque = deque()  # (future, pieces)
    converted: list[_Block] = []
    base = 0
    width = lines = written = 0
    ended = None
    exhausted = False
    try:
        while ended is None:
            if not exhausted:
                pieces = None
                while pieces is None:
                    block = stream.next()
                    if block is None:  # the end of the document (a truncated file?)
                        exhausted = True
                        pieces, pending = pending, []
                        break
                    pending.append((block, 0, len(block)))
                    size += len(block)
                    if size >= _CONVERT_AT_LEAST:
                        k = block.rfind(_ROW_CLOSE)
                        if k >= 0:
                            k += len(_ROW_CLOSE)
                            pieces = pending[:-1] + [(block, 0, k)]
                            pending = [(block, k, len(block))]
                            size = len(block) - k
                if pieces:  # assembled by the converting thread: in its cache after
                    ahead.append((executor.submit(_assemble_and_convert, pieces, sheet, strip),
                                  pieces))
            if ahead and (exhausted or len(ahead) >= _AHEAD):
                done = ahead.popleft()[0].result()
                width = max(width, done.width)
                lines += done.lines
                written += done.written
                why = expansion_problem(width, lines, written)
                if why:
                    raise _Refused(why)
                done.numbers += base
                base += done.rows
                converted.append(done)
                if done.end:
                    ended = done
            elif exhausted:
                break
    except _Malformed as exc:
        raise DataFormatError(f"malformed XML in content.xml ({exc})", path=path, sheet=sheet,
                              row=base + exc.row) from exc
    except _Refused as exc:
        raise DataFormatError(f"{exc}; refused", path=path, sheet=sheet,
                              row=None if exc.row is None else base + exc.row) from None
    finally:
        for future, _ in ahead:
            future.cancel()
    if ended is None:
        raise DataFormatError("content.xml ends inside the sheet (a truncated file?)",
                              path=path, sheet=sheet)
    # what follows the sheet: the rest of its last block, the blocks cut after it, the rest
    stream.give_back([ended.rest] + [b"".join(bytes(memoryview(b)[i:j]) for b, i, j in pieces)
                                     for _, pieces in ahead]
                     + [bytes(memoryview(b)[i:j]) for b, i, j in pending])
    ahead.clear()
    return _frame_of_blocks(converted)


def _frame_of_blocks(converted: list[_Block]) -> pd.DataFrame:
    """One string frame (columns 0..w-1, index = row numbers) from converted blocks."""
    import pyarrow as pa

    width = max((len(b.columns) for b in converted), default=0)
    plain = max((b.plain_width for b in converted), default=0)
    if 0 < plain < width:  # repeated cells never widen the sheet past its plain rows
        width = plain
    chunks = [[] for _ in range(width)]
    for b in converted:
        n_lines = len(b.numbers)
        if not n_lines:
            continue
        for c in range(width):
            chunks[c].append(b.columns[c] if c < len(b.columns)
                             else pa.nulls(n_lines, pa.large_string()))
    rows = np.concatenate([b.numbers for b in converted]) if converted else np.zeros(0, int)
    del converted
    index = pd.Index(rows, name="row")
    columns = {}
    for c in range(width):
        column = pa.chunked_array(chunks[c], type=pa.large_string())
        chunks[c] = None
        columns[c] = pd.Series(pd.array(column, dtype=_STR), index=index, copy=False)
    return pd.DataFrame(columns, index=index) if columns else pd.DataFrame(index=index)


def _raw_fast_sheets(zf: zipfile.ZipFile, path: Path, sheets: Sequence[str], strip: bool = False
                     ) -> tuple[dict[str, pd.DataFrame], list[str], str | None, bool]:
    """Read ``sheets`` with the fast reader in one pass over ``content.xml``.

    Returns ``(frames, names, why, complete)``: the sheets read (raw string frames, columns
    0..w-1, index = row numbers), the sheet names met, why the fast reader gave up (None if it
    did not: then every requested sheet absent from ``frames`` is absent from the file), and
    whether ``names`` lists every sheet of the workbook.
    """
    from concurrent.futures import ThreadPoolExecutor

    wanted = set(sheets)
    names: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    blocks = _Prefetch(_xml_blocks(zf, path, sheets[0] if len(sheets) == 1 else None))
    stream = _Stream(blocks)
    executor = ThreadPoolExecutor(_WORKERS)
    why = None
    complete = False
    try:
        while wanted - frames.keys():
            name = _next_sheet(stream, wanted - frames.keys(), names)
            if name is None:
                complete = True
                break
            try:
                frames[name] = _read_sheet_fast(stream, executor, path, name, strip)
            except _Unsupported as exc:
                why = f"sheet {name!r}: {exc}"
                break
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        blocks.close()
    return frames, names, why, complete


def _raw_fast(zf: zipfile.ZipFile, path: Path, sheet: str) -> pd.DataFrame:
    """The sheet's non-empty rows as a string frame (columns 0..w-1, index = row numbers),
    by the fast reader; raises ``_Unsupported`` where only the reference reader can read it."""
    frames, names, why, _ = _raw_fast_sheets(zf, path, [sheet])
    if why is not None:
        raise _Unsupported(why)
    if sheet not in frames:
        raise _missing_sheet(path, sheet, names)
    return frames[sheet]


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
        data = raw.iloc[raw.index.get_loc(header_row) + 1:]  # a slice: no copy
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
    data.index = data.index.rename("row")
    data.attrs = {"source": str(path), "sheet": sheet, "header_row": header_row}
    return data


ENGINES = ("auto", "fast", "reference")


class FastReaderUnsupported(CQCResearchError):
    """``engine="fast"`` was asked for, and the fast reader cannot read the workbook.

    The message says what it met (``engine="auto"`` reads such a file with the reference
    reader, more slowly).
    """


def read_ods(
    path: str | Path,
    sheet: str,
    *,
    header: str | int | None = "auto",
    required: Sequence[str] | None = None,
    usecols: Sequence[str | int] | None = None,
    strip: bool = False,
    engine: str = "auto",
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
    strip : bool
        Strip white space (Unicode's included) from both ends of every cell, as
        :meth:`pandas.Series.str.strip` does, so that a cell holding only white space is
        missing and a row of such cells is dropped. Done while reading, which is much quicker
        than stripping every column afterwards.
    engine : {"auto", "fast", "reference"}
        Which reader turns the XML into cells (both give the same frame). ``"auto"``
        (default): the fast one, and the reference one for a sheet holding something the
        fast one does not handle (logged at INFO level by the ``cqc_research.io.ods`` logger,
        with the reason). ``"fast"``: the fast one only; raises
        :class:`FastReaderUnsupported` instead of falling back, so a test or a benchmark can
        prove which reader ran. ``"reference"``: the expat reader only (slow: about a minute
        for a 900 MB ``content.xml``).

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
    FastReaderUnsupported
        Only with ``engine="fast"``.

    Notes
    -----
    Text is returned as written: spaces are kept and a cell holding only spaces is a string,
    not missing. Header names are stripped; a blank header cell is named ``Unnamed: i`` and a
    repeated name gets ``.1``, ``.2`` as in pandas. The columns are Arrow-backed (pandas' ``str``
    dtype), chunked by blocks of rows. Reading uses up to three threads (one inflating, two
    converting) and about 4 MB per block in flight.

    The fast reader handles what LibreOffice, pandas' ``odf`` writer and ``synthetic._ods_writer.write_ods``
    write, and pretty-printed XML (white space between tags). It hands a sheet to the
    reference reader for, for example, a cell tag followed by text other than white space,
    or an attribute number longer than 8 digits.

    Examples
    --------
    >>> import tempfile, pathlib, datetime
    >>> from cqc_research.synthetic._ods_writer import write_ods
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.ods"
    >>> _ = write_ods(p, {"S": (["Name", "Date"], [["A & B", datetime.date(2023, 1, 5)]])},
    ...               notice={"S": ["Provisional figures"]})
    >>> frame = read_ods(p, "S", engine="fast")
    >>> frame.to_dict("index")
    {4: {'Name': 'A & B', 'Date': '2023-01-05'}}
    """
    return read_ods_sheets(path, [sheet], header=header, required=required, usecols=usecols,
                           strip=strip, engine=engine)[sheet]


def read_ods_sheets(
    path: str | Path,
    sheets: Sequence[str],
    *,
    header: str | int | None | dict = "auto",
    required: Sequence[str] | dict | None = None,
    usecols: Sequence[str | int] | dict | None = None,
    strip: bool = False,
    engine: str = "auto",
    missing: str = "raise",
) -> dict[str, pd.DataFrame]:
    """Read several sheets of an ODS workbook in one pass over ``content.xml``.

    Each sheet is read as by :func:`read_ods`; reading them together inflates and scans the
    XML once (a workbook's sheets follow each other in one stream, so reading a later sheet
    alone means inflating all the earlier ones).

    Parameters
    ----------
    path : path
        The ``.ods`` file.
    sheets : sequence of str
        The sheets' names, in any order.
    header, required, usecols
        As in :func:`read_ods`, for every sheet, or a dict from sheet name to the value for
        that sheet (sheets not in the dict get the default).
    strip, engine
        As in :func:`read_ods`.
    missing : {"raise", "skip"}
        A requested sheet absent from the workbook raises DataFormatError (listing the sheets
        present), or is left out of the result.

    Returns
    -------
    dict
        Sheet name -> frame, in the order of ``sheets``.

    Raises
    ------
    DataFormatError, FastReaderUnsupported
        As in :func:`read_ods`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from cqc_research.synthetic._ods_writer import write_ods
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.ods"
    >>> _ = write_ods(p, {"A": (["a"], [["1"]]), "B": (["b"], [["2"]])})
    >>> {k: v["b" if k == "B" else "a"].tolist()
    ...  for k, v in read_ods_sheets(p, ["B", "A", "C"], missing="skip").items()}
    {'B': ['2'], 'A': ['1']}
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing must be 'raise' or 'skip', not {missing!r}")
    sheets = list(dict.fromkeys(sheets))
    if not sheets:
        return {}
    path = Path(path)

    def option(value, sheet, default):
        return value.get(sheet, default) if isinstance(value, dict) else value

    with _check_workbook(path) as zf:
        raw: dict[str, pd.DataFrame] = {}
        names: list[str] = []
        absent: list[str] = []
        if engine != "reference":
            raw, names, why, complete = _raw_fast_sheets(zf, path, sheets, strip)
            if why is not None:
                if engine == "fast":
                    raise FastReaderUnsupported(
                        f"{path}: the fast ODS reader cannot read {why}; engine='auto' reads it "
                        "with the reference reader")
                _log.info("%s: the fast reader gave up on %s; reading %s with the reference "
                          "reader (slower)", path, why,
                          ", ".join(repr(s) for s in sheets if s not in raw))
            elif complete:
                absent = [s for s in sheets if s not in raw]
        errors = {s: _missing_sheet(path, s, names) for s in absent}
        todo = [s for s in sheets if s not in raw and s not in absent]
        if todo:
            for sheet, frame in _raw_expat_sheets(zf, path, todo).items():
                if isinstance(frame, DataFormatError):
                    errors[sheet] = frame
                else:
                    raw[sheet] = _strip_frame(frame) if strip else frame
        if errors and missing == "raise":
            raise next(errors[s] for s in sheets if s in errors)
    return {sheet: _finish(raw[sheet], path, sheet, option(header, sheet, "auto"),
                           option(required, sheet, None), option(usecols, sheet, None))
            for sheet in sheets if sheet in raw}
