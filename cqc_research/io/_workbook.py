"""Workbooks as they really are: the format a file holds (magic bytes), the limits on what a
workbook may expand to, and opening Excel workbooks (.xls, .xlsx) with python-calamine.

A file is judged by its first bytes, never by its suffix alone, so messages name what it
really is: an Excel 97 workbook (OLE2, ``D0 CF 11 E0 A1 B1 1A E1``), a zip archive (an
``.xlsx`` workbook by its ``[Content_Types].xml``, an ``.ods`` one by its ``mimetype``), an
HTML page, JSON, or plain text (CSV).

The limits (documented in ``docs/guide/data_formats.md``, "Limits") keep a small hostile file
from taking minutes and gigabytes: a sheet is refused, with a one-line
:class:`~cqc_research.errors.DataFormatError` naming the file, the sheet and the limit, when

- it expands to more than :data:`MAX_CELLS` cells (rows holding data x the widest row, with
  ``table:number-rows-repeated`` / ``-columns-repeated`` counted out), or, beyond its first
  :data:`RATIO_FREE_CELLS` cells, to more than :data:`MAX_REPEAT_RATIO` times the cells its
  XML writes out (ODS);
- a zip member inflates to more than :data:`MAX_RATIO` bytes per compressed byte (beyond its
  first :data:`RATIO_FREE_BYTES`), or to more than :data:`MAX_MEMBER_BYTES`;
- a sheet held whole by python-calamine (``.xlsx``) would span more than
  :data:`MAX_GRID_CELLS` cells (its used area, from the cell references in its XML).

These are module constants, read when a file is opened (a test may change them).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from pathlib import Path
from xml.parsers import expat

from ..errors import DataFormatError, file_head, looks_like_html

#: The most cells one sheet may expand to (rows holding data x the widest of them, repeats
#: counted out). The largest published Latest ratings sheet expands to about 8 million.
MAX_CELLS = 30_000_000
#: Beyond :data:`RATIO_FREE_CELLS`, a sheet (and any block of about 4 MB of its XML) may
#: expand to at most this many times the cells its XML writes out, so what is held in memory
#: is at most this multiple of the file's real content. Published sheets are near 1.
MAX_REPEAT_RATIO = 100
#: Sheets expanding to at most this many cells are never refused by :data:`MAX_REPEAT_RATIO`.
RATIO_FREE_CELLS = 1_000_000
#: The widest row a sheet may have (LibreOffice's and Excel's last column). A cell repeated
#: beyond it is clipped there; a row of more cells than this is refused.
MAX_COLUMNS = 16_384
#: The most bytes a zip member may inflate to per compressed byte (the "decompression
#: ratio"), beyond :data:`RATIO_FREE_BYTES`. A published Latest ratings workbook is near 35;
#: deflate cannot exceed about 1,030.
MAX_RATIO = 200
#: Zip members inflating to at most this many bytes are never refused by :data:`MAX_RATIO`.
RATIO_FREE_BYTES = 16 << 20
#: The most bytes one zip member may inflate to (4 GiB; a published ``content.xml`` is ~1 GB).
MAX_MEMBER_BYTES = 4 << 30
#: The most cells of a sheet python-calamine may hold at once (``.xlsx``; it keeps the used
#: area as one dense grid, then hands it to Python as lists). Published workbooks read this
#: way hold under a million.
MAX_GRID_CELLS = 5_000_000

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

#: What each kind of :func:`sniff` is, for messages.
DESCRIPTION = {
    "xls": "an Excel 97 (.xls) workbook",
    "xlsx": "an Excel (.xlsx) workbook",
    "ods": "an ODS (OpenDocument) workbook",
    "zip": "a zip archive that is neither an .xlsx nor an .ods workbook",
    "html": "an HTML page (a saved error or log-in page?)",
    "json": "a JSON file",
    "xml": "an XML file",
    "pdf": "a PDF document",
    "text": "a text (CSV) file",
    "binary": "a binary file of no known spreadsheet format",
}


def _zip_kind(path: Path, head: bytes) -> tuple[str, bool]:
    """``(kind, damaged)`` of a file starting with a zip signature."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size <= 256:
                    mime = zf.read("mimetype").decode("ascii", "replace").strip()
                    if mime == "application/vnd.oasis.opendocument.spreadsheet":
                        return "ods", False
                return "zip", False
            if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
                return "xlsx", False
            if "content.xml" in names:
                return "ods", False
            return "zip", False
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError,
            NotImplementedError, RuntimeError):
        pass
    # damaged (often truncated): the first member's name, from its local header, still tells
    if head[:4] == b"PK\x03\x04" and len(head) >= 30:
        n = int.from_bytes(head[26:28], "little")
        first = head[30: 30 + n]
        if first == b"mimetype":
            return "ods", True
        if first in (b"[Content_Types].xml", b"_rels/.rels") or first.startswith(
                (b"xl/", b"docProps/")):
            return "xlsx", True
    return "zip", True


def sniff(path, *, head: bytes | None = None) -> tuple[str, bool]:
    """What a file is, by its content: the kind and whether it is visibly damaged.

    Parameters
    ----------
    path : str or Path
        The file (it must exist and not be empty).
    head : bytes, optional
        Its first bytes, if already read (at least 512 are best).

    Returns
    -------
    kind : str
        A key of :data:`DESCRIPTION`: ``"xls"`` (OLE2: Excel 97), ``"xlsx"``, ``"ods"``,
        ``"zip"`` (another zip), ``"html"``, ``"json"``, ``"xml"``, ``"pdf"``, ``"text"`` or
        ``"binary"``.
    damaged : bool
        True for a zip archive that cannot be opened (a truncated download, usually); its kind
        is then guessed from its first member's name. False otherwise (see
        :func:`open_workbook` for Excel 97 files).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        ``path`` is a folder or an empty file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.xlsx"
    >>> _ = p.write_text("Location ID,Name\\n1-1,A\\n")
    >>> sniff(p)
    ('text', False)
    """
    path = Path(path)
    if head is None:
        head = file_head(path, expected="a data file", size=4096)
    if head.startswith(_OLE2):
        return "xls", False
    if head[:4] in _ZIP:
        return _zip_kind(path, head)
    if looks_like_html(head):
        return "html", False
    if head.startswith(b"%PDF"):
        return "pdf", False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text", False  # UTF-16 text
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "json", False
    if text[:1] == b"<":
        return "xml", False
    if b"\x00" in head:
        return "binary", False
    return "text", False


def describe(kind: str) -> str:
    """The words for a kind of :func:`sniff` (``"an Excel 97 (.xls) workbook"``).

    Parameters
    ----------
    kind : str
        A key of :data:`DESCRIPTION`.

    Returns
    -------
    str

    Examples
    --------
    >>> describe("xls")
    'an Excel 97 (.xls) workbook'
    """
    return DESCRIPTION.get(kind, kind)


def expansion_problem(width: int, lines: int, written: int) -> str | None:
    """Why a sheet of ``lines`` rows holding data, ``width`` cells wide, written out in
    ``written`` cells, is refused; None when it is within the limits.

    Parameters
    ----------
    width : int
        The widest row, in cells (after clipping repeats to :data:`MAX_COLUMNS`).
    lines : int
        Rows holding data, repeats counted out.
    written : int
        Cell elements in the XML.

    Returns
    -------
    str or None
        The reason, naming the limit, or None.

    Examples
    --------
    >>> expansion_problem(28, 1_000, 28_000) is None
    True
    >>> print(expansion_problem(28, 1_048_000, 29))
    the sheet expands to 29,344,000 cells (1,048,000 rows holding data x 28 columns, repeats counted out) from 29 cells written in the file: more than MAX_REPEAT_RATIO = 100 times as many (a repeat bomb?)
    """
    cells = width * lines
    shape = (f"the sheet expands to {cells:,} cells ({lines:,} rows holding data x {width:,} "
             "columns, repeats counted out)")
    if cells > MAX_CELLS:
        return f"{shape}: more than MAX_CELLS = {MAX_CELLS:,}"
    if cells > RATIO_FREE_CELLS and cells > MAX_REPEAT_RATIO * max(written, 1):
        return (f"{shape} from {written:,} cells written in the file: more than "
                f"MAX_REPEAT_RATIO = {MAX_REPEAT_RATIO} times as many (a repeat bomb?)")
    return None


def check_zip_member(info: zipfile.ZipInfo, path, *, sheet: str | None = None) -> None:
    """Refuse a zip member whose declared size or decompression ratio passes the limits.

    Parameters
    ----------
    info : zipfile.ZipInfo
        The member, as the zip's central directory declares it.
    path : str or Path
        The workbook, for the message.
    sheet : str, optional
        The sheet the member holds, for the message.

    Raises
    ------
    DataFormatError
        Over :data:`MAX_MEMBER_BYTES`, or over :data:`MAX_RATIO` beyond
        :data:`RATIO_FREE_BYTES`.
    """
    size, packed = info.file_size, info.compress_size
    if size > MAX_MEMBER_BYTES:
        raise DataFormatError(
            f"the zip member {info.filename!r} declares {size:,} bytes uncompressed, more than "
            f"MAX_MEMBER_BYTES = {MAX_MEMBER_BYTES:,}; refused", path=path, sheet=sheet)
    if size > RATIO_FREE_BYTES and size > MAX_RATIO * max(packed, 1):
        raise DataFormatError(
            f"the zip member {info.filename!r} inflates {packed:,} bytes to {size:,}, a ratio of "
            f"{size / max(packed, 1):,.0f}, more than MAX_RATIO = {MAX_RATIO} (a zip bomb?); "
            "refused", path=path, sheet=sheet)


def ratio_problem(inflated: int, consumed: int) -> str | None:
    """Why a member inflating ``consumed`` compressed bytes to ``inflated`` bytes (so far) is
    refused, or None (used while streaming, whatever the zip declares).

    Parameters
    ----------
    inflated : int
        Bytes inflated so far.
    consumed : int
        Compressed bytes read so far.

    Returns
    -------
    str or None

    Examples
    --------
    >>> ratio_problem(1 << 20, 1) is None
    True
    """
    if inflated > MAX_MEMBER_BYTES:
        return f"it inflates to more than MAX_MEMBER_BYTES = {MAX_MEMBER_BYTES:,} bytes"
    if inflated > RATIO_FREE_BYTES and inflated > MAX_RATIO * max(consumed, 1):
        return (f"it inflates {consumed:,} compressed bytes to {inflated:,}, more than "
                f"MAX_RATIO = {MAX_RATIO} times as many (a zip bomb?)")
    return None


def _open_zip(path: Path, kind: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise DataFormatError(
            f"a damaged or truncated zip archive ({exc}); {describe(kind)} is a complete zip "
            "(was the download interrupted?)", path=path) from None


def check_zip(zf: zipfile.ZipFile, path) -> None:
    """:func:`check_zip_member` for every member of an open zip.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    path : str or Path
        The workbook, for the message.

    Raises
    ------
    DataFormatError
        When a member passes a limit.
    """
    for info in zf.infolist():
        check_zip_member(info, path)


_CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


class _Extent:
    """The used area of one worksheet XML, as python-calamine will lay it out."""

    def __init__(self):
        self.row = -1
        self.col = -1
        self.min_row = self.min_col = None
        self.max_row = self.max_col = -1

    def start(self, name, attrs):
        local = name.rsplit(":", 1)[-1]
        if local == "row":
            r = attrs.get("r")
            self.row = int(r) - 1 if r is not None and r.isdigit() else self.row + 1
            self.col = -1
        elif local == "c":
            ref = attrs.get("r")
            m = _CELL_REF.match(ref) if ref else None
            if m:
                self.col = _column_number(m.group(1))
                self.row = int(m.group(2)) - 1
            else:
                self.col += 1
            row, col = max(self.row, 0), self.col
            self.min_row = row if self.min_row is None else min(self.min_row, row)
            self.min_col = col if self.min_col is None else min(self.min_col, col)
            self.max_row = max(self.max_row, row)
            self.max_col = max(self.max_col, col)

    def cells(self) -> int:
        if self.min_row is None:
            return 0
        return (self.max_row - self.min_row + 1) * (self.max_col - self.min_col + 1)


def _sheet_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet member name -> sheet name (the member name where the workbook does not say)."""
    members = {n: n for n in zf.namelist()
               if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    try:
        book = zf.read("xl/workbook.xml") if zf.getinfo("xl/workbook.xml").file_size < (
            8 << 20) else b""
        rels = zf.read("xl/_rels/workbook.xml.rels") if zf.getinfo(
            "xl/_rels/workbook.xml.rels").file_size < (8 << 20) else b""
    except (KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError,
            NotImplementedError):
        return members
    targets = {}
    for m in re.finditer(rb"<(?:\w+:)?Relationship\b[^>]*>", rels):
        tag = m.group(0)
        rid = re.search(rb'\bId="([^"]*)"', tag)
        target = re.search(rb'\bTarget="([^"]*)"', tag)
        if rid and target:
            t = target.group(1).decode("utf-8", "replace").lstrip("/")
            targets[rid.group(1)] = t if t.startswith("xl/") else "xl/" + t
    for m in re.finditer(rb"<(?:\w+:)?sheet\b[^>]*>", book):
        tag = m.group(0)
        name = re.search(rb'\bname="([^"]*)"', tag)
        rid = re.search(rb'\br:id="([^"]*)"', tag) or re.search(rb'\b\w+:id="([^"]*)"', tag)
        if name and rid and targets.get(rid.group(1)) in members:
            members[targets[rid.group(1)]] = name.group(1).decode("utf-8", "replace")
    return members


def _check_xlsx(path: Path) -> None:
    """Refuse an ``.xlsx`` whose members or sheets pass the limits, before calamine opens it."""
    with _open_zip(path, "xlsx") as zf:
        check_zip(zf, path)
        for member, sheet in _sheet_members(zf).items():
            extent = _Extent()
            parser = expat.ParserCreate()
            parser.StartElementHandler = extent.start
            inflated = 0
            try:
                info = zf.getinfo(member)
                with zf.open(info) as stream:
                    while block := stream.read(1 << 20):
                        inflated += len(block)
                        why = ratio_problem(inflated, info.compress_size)
                        if why:
                            raise DataFormatError(f"the sheet's XML ({member}): {why}; refused",
                                                  path=path, sheet=sheet)
                        parser.Parse(block, False)
                        if extent.cells() > MAX_GRID_CELLS:
                            break
                    else:
                        parser.Parse(b"", True)
            except expat.ExpatError as exc:
                raise DataFormatError(f"malformed XML in {member} ({exc})", path=path,
                                      sheet=sheet) from None
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                    RuntimeError, NotImplementedError) as exc:
                raise DataFormatError(f"{member} is damaged or truncated ({exc}); was the "
                                      "download interrupted?", path=path, sheet=sheet) from None
            cells = extent.cells()
            if cells > MAX_GRID_CELLS:
                raise DataFormatError(
                    f"the sheet's cells span {cells:,} cells or more (rows {extent.min_row + 1:,}"
                    f" to {extent.max_row + 1:,}, columns {extent.min_col + 1:,} to "
                    f"{extent.max_col + 1:,}), more than MAX_GRID_CELLS = {MAX_GRID_CELLS:,} "
                    "held at once; refused", path=path, sheet=sheet)


class _Ole2Broken(Exception):
    """The compound-file structure of an Excel 97 workbook cannot be followed."""


def _ole2_stream(data: bytes, names=("Workbook", "Book")) -> bytes | None:
    """The first stream named in ``names`` of an OLE2 compound file (None if absent).

    A minimal reader (header, FAT with its DIFAT chain, directory, mini stream), bounded by
    the file's size: every chain stops after as many sectors as the file holds.
    """
    import struct

    if len(data) < 512:
        raise _Ole2Broken("shorter than its 512-byte header")
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if shift not in (9, 12) or mini_shift != 6:
        raise _Ole2Broken(f"sector sizes 2**{shift} and 2**{mini_shift}")
    size = 1 << shift
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    cutoff, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from(
        "<IIIII", data, 0x38)
    n_sectors = max((len(data) - size) // size, 0)
    per = size // 4

    def sector(k: int) -> bytes:
        if k >= n_sectors:
            raise _Ole2Broken(f"sector {k} points past the end of the file")
        return data[(k + 1) * size: (k + 2) * size]

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    k, seen = first_difat, 0
    while k < 0xFFFFFFFA and seen <= n_sectors and seen < n_difat + 1:
        entries = struct.unpack(f"<{per}I", sector(k))
        difat.extend(entries[:-1])
        k, seen = entries[-1], seen + 1
    fat_sectors = [d for d in difat[:n_fat] if d < 0xFFFFFFFA]
    if len(fat_sectors) > n_sectors:
        raise _Ole2Broken("more FAT sectors than the file holds")
    fat: list[int] = []
    for k in fat_sectors:
        fat.extend(struct.unpack(f"<{per}I", sector(k)))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        out, k = [], start
        while k < 0xFFFFFFFA:
            if k >= len(table) or len(out) > limit:
                raise _Ole2Broken("a broken sector chain")
            out.append(k)
            k = table[k]
        return out

    directory = b"".join(sector(k) for k in chain(first_dir, fat, n_sectors))
    entries = []
    for at in range(0, len(directory) - 127, 128):
        n = min(struct.unpack_from("<H", directory, at + 0x40)[0], 64)
        name = directory[at: at + max(n - 2, 0)].decode("utf-16-le", "replace")
        kind = directory[at + 0x42]
        start, length = struct.unpack_from("<II", directory, at + 0x74)
        entries.append((name, kind, start, length))
    if not entries:
        raise _Ole2Broken("no directory")
    for name, kind, _, length in entries:
        if kind in (2, 5) and length > len(data):
            raise _Ole2Broken(f"the directory gives {name or 'a stream'!r} {length:,} bytes, "
                              f"more than the file's {len(data):,}")
    for name, kind, start, length in entries:
        if kind != 2 or name not in names:
            continue
        if length > len(data):
            raise _Ole2Broken(f"the {name} stream is longer than the file")
        if length >= cutoff:
            return b"".join(sector(k) for k in chain(start, fat, n_sectors))[:length]
        root = next((e for e in entries if e[1] == 5), None)
        if root is None:
            raise _Ole2Broken("no root entry")
        mini_stream = b"".join(sector(k) for k in chain(root[2], fat, n_sectors))
        minifat: list[int] = []
        for k in chain(first_minifat, fat, n_sectors) if n_minifat else []:
            minifat.extend(struct.unpack(f"<{per}I", sector(k)))
        blocks = chain(start, minifat, len(mini_stream) // 64 + 1)
        return b"".join(mini_stream[b * 64: b * 64 + 64] for b in blocks)[:length]
    return None


#: BIFF records holding one cell (row and column as the first two 16-bit fields), and the two
#: holding a run of cells (first column at 2, last column in the last two bytes).
_BIFF_CELL = {0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6, 0x0406, 0x0001,
              0x0002, 0x0003, 0x0004, 0x0005}
_BIFF_RUN = {0x00BD, 0x00BE}


def _check_xls(path: Path, *, truncated: bool = False) -> None:
    """Refuse an Excel 97 workbook whose compound-file structure cannot be followed, or a
    sheet of which spans more than :data:`MAX_GRID_CELLS` cells (from its BIFF cell records),
    before python-calamine opens it: on such files it can stop the whole process, allocating
    gigabytes."""
    import struct

    try:
        stream = _ole2_stream(path.read_bytes())
    except (_Ole2Broken, struct.error, IndexError, ValueError, UnicodeDecodeError) as exc:
        state = "a truncated" if truncated else "a damaged"
        raise DataFormatError(f"{state} Excel 97 (.xls) workbook (its compound-file structure "
                              f"is broken: {exc})", path=path) from None
    if not stream:
        raise DataFormatError("an Excel 97 (OLE2) file without a Workbook stream: not an Excel "
                              "workbook (a Word or other Office 97 document?)", path=path)
    pos, sheet, extent = 0, 0, None
    end = len(stream)
    while pos + 4 <= end:
        rtype, rlen = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        pos = body + rlen
        if rtype == 0x0809 or rtype in (0x0009, 0x0209, 0x0409):  # BOF: a new substream
            sheet += 1
            extent = None
        elif rtype in _BIFF_CELL and rlen >= 4 or rtype in _BIFF_RUN and rlen >= 6:
            row, col = struct.unpack_from("<HH", stream, body)
            last = col
            if rtype in _BIFF_RUN and body + rlen <= end:
                last = struct.unpack_from("<H", stream, body + rlen - 2)[0]
            lo, hi = min(col, last), max(col, last)
            if extent is None:
                extent = [row, row, lo, hi]
            else:
                extent[0], extent[1] = min(extent[0], row), max(extent[1], row)
                extent[2], extent[3] = min(extent[2], lo), max(extent[3], hi)
            cells = (extent[1] - extent[0] + 1) * (extent[3] - extent[2] + 1)
            if cells > MAX_GRID_CELLS:
                raise DataFormatError(
                    f"sheet {sheet - 1} of this Excel 97 workbook has cell records spanning "
                    f"{cells:,} cells (rows {extent[0] + 1:,} to {extent[1] + 1:,}, columns "
                    f"{extent[2] + 1:,} to {extent[3] + 1:,}), more than MAX_GRID_CELLS = "
                    f"{MAX_GRID_CELLS:,} held at once (a damaged file?); refused", path=path)


def _ole2_truncated(path: Path, head: bytes) -> bool:
    """True when an OLE2 (Excel 97) file cannot be whole: shorter than its header says."""
    size = path.stat().st_size
    shift = int.from_bytes(head[30:32], "little") if len(head) >= 32 else 9
    sector = 1 << shift if shift in (9, 12) else 512
    return size < 3 * sector or size % sector != 0


def calamine_failure(exc: BaseException, path, kind: str, *, truncated: bool = False,
                     sheet: str | None = None) -> DataFormatError:
    """The one-line error for python-calamine failing on a workbook of ``kind``.

    Parameters
    ----------
    exc : BaseException
        What python-calamine raised (its own error types, or a Rust panic).
    path : str or Path
        The workbook.
    kind : str
        ``"xls"`` or ``"xlsx"`` (see :func:`sniff`).
    truncated : bool
        The file is visibly cut short.
    sheet : str, optional
        The sheet being read.

    Returns
    -------
    DataFormatError
    """
    what = describe(kind)
    why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    state = "a truncated" if truncated else "a damaged or unreadable"
    return DataFormatError(f"{state} {what[3:] if what.startswith('an ') else what[2:]} "
                           f"(python-calamine: {why})", path=path, sheet=sheet)


def _reraise_fatal(exc: BaseException) -> None:
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
        raise exc


def open_workbook(path, *, expected: str = "an Excel workbook (.xls or .xlsx)"):
    """Open an Excel 97 (``.xls``) or Excel (``.xlsx``) workbook with python-calamine, safely.

    The file is judged by its first bytes (whatever its suffix), ``.xlsx`` files are checked
    against the limits (zip members' sizes and ratios, each sheet's used area) before
    python-calamine opens them, and every failure is one :class:`DataFormatError` that names
    what the file really is.

    Parameters
    ----------
    path : str or Path
        The workbook.
    expected : str
        What the caller wanted, for the messages.

    Returns
    -------
    workbook
        The open workbook: ``.sheet_names``, and ``.rows(sheet)`` (every row as Python
        values, refused past :data:`MAX_GRID_CELLS`), errors as :class:`DataFormatError`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Not an Excel workbook (the message says what it is: an ODS workbook, an HTML page, a
        CSV file...), truncated or damaged, or past a limit.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cut.xls"
    >>> _ = p.write_bytes(b"\\xd0\\xcf\\x11\\xe0\\xa1\\xb1\\x1a\\xe1" + bytes(700))
    >>> open_workbook(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cqc_research.errors.DataFormatError: .../cut.xls: a truncated Excel 97 (.xls) workbook (...)
    """
    path = Path(path)
    head = file_head(path, expected=expected, size=4096)
    kind, damaged = sniff(path, head=head)
    if kind not in ("xls", "xlsx"):
        suffix = path.suffix or "(no suffix)"
        raise DataFormatError(f"this is {describe(kind)}{' (damaged or truncated)' if damaged else ''}"
                              f", not {expected} (the file is named {suffix})", path=path)
    truncated = kind == "xls" and _ole2_truncated(path, head)
    if kind == "xlsx":
        if damaged:
            _open_zip(path, "xlsx").close()  # raises the zip's own complaint
        _check_xlsx(path)
    else:
        _check_xls(path, truncated=truncated)
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        list(wb.sheet_names)
    except BaseException as exc:  # calamine's own error types, and Rust panics
        _reraise_fatal(exc)
        raise calamine_failure(exc, path, kind, truncated=truncated) from None
    return _Workbook(wb, path, kind, truncated)


class _Workbook:
    """A calamine workbook with its path and kind, whose sheets are read within the limits."""

    def __init__(self, wb, path: Path, kind: str, truncated: bool):
        self.wb = wb
        self.path = path
        self.kind = kind
        self.truncated = truncated

    @property
    def sheet_names(self) -> list[str]:
        """The sheets' names, in workbook order."""
        return list(self.wb.sheet_names)

    def rows(self, sheet: str) -> list[list]:
        """Every row of ``sheet`` as Python values (``skip_empty_area=False``)."""
        try:
            data = self.wb.get_sheet_by_name(sheet)
            cells = int(data.height) * int(data.width)
            if cells > MAX_GRID_CELLS:
                raise DataFormatError(
                    f"the sheet spans {cells:,} cells ({data.height:,} rows x {data.width:,} "
                    f"columns), more than MAX_GRID_CELLS = {MAX_GRID_CELLS:,}; refused",
                    path=self.path, sheet=sheet)
            return data.to_python(skip_empty_area=False)
        except DataFormatError:
            raise
        except BaseException as exc:
            _reraise_fatal(exc)
            raise calamine_failure(exc, self.path, self.kind, truncated=self.truncated,
                                   sheet=sheet) from None


def cell_text(v) -> str:
    """A cell as text: blanks ``""``, whole floats without ``.0``, dates ISO.

    Parameters
    ----------
    v : object
        A cell as calamine gives it.

    Returns
    -------
    str

    Examples
    --------
    >>> cell_text(716.0), cell_text(None), cell_text(" Leeds ")
    ('716', '', 'Leeds')
    """
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.strftime("%Y-%m-%d")
    return str(v).strip()


def _names(names) -> set[str]:
    return {re.sub(r"[^a-z0-9]+", " ", str(n).casefold()).strip() for n in names}


#: Workbooks recognised by their sheet names alone: (test, what it is, its loader).
_KNOWN_BY_SHEETS = (
    (lambda n: {"locations", "providers"} & n, "a CQC Latest ratings workbook",
     "cqc_research.io.cqc_files.load_latest_ratings"),
    (lambda n: any("by reason" in x for x in n) and any("by type of care" in x
                                                         or "by responsible" in x for x in n),
     "an NHS England monthly delayed transfers of care workbook",
     "cqc_research.io.nhs.load_dtoc"),
    (lambda n: {"notes", "trust benchmark groups"} <= n,
     "an NHS Staff Survey organisation-level workbook", "cqc_research.io.nhs.load_staff_survey"),
    (lambda n: any("provider level data" == x for x in n),
     "an NHS England 'A&E by provider' workbook", "cqc_research.io.nhs.load_ae_monthly"),
)


def workbook_hint(sheet_names, *, but_not: str = "") -> str:
    """``"; this looks like <what> (use <loader>)"`` for a workbook of a known kind, else ``""``.

    For the error of a loader given a workbook of another kind: it names the right loader.

    Parameters
    ----------
    sheet_names : iterable of str
        The workbook's sheet names.
    but_not : str
        The loader that was called (its kind is not suggested).

    Returns
    -------
    str

    Examples
    --------
    >>> workbook_hint(["England", "LA - by type of care", "LA - by reason"])
    '; this looks like an NHS England monthly delayed transfers of care workbook (use cqc_research.io.nhs.load_dtoc)'
    >>> workbook_hint(["Sheet1"])
    ''
    """
    names = _names(sheet_names)
    for test, what, loader in _KNOWN_BY_SHEETS:
        if loader != but_not and loader.rsplit(".", 1)[1] != but_not and test(names):
            return f"; this looks like {what} (use {loader})"
    return ""
