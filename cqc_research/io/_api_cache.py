"""The incremental cache of :func:`cqc_json.load_api_folder`: only changed records are read again.

Private to :mod:`cqc_research.io.cqc_json`. A folder's tables are kept under
``<processed>/cache/api-<key>/`` (the key: the folder's resolved path, the reading options and
the cache version) as *segments*: folders of tables in the Arrow IPC format (uncompressed, read
back memory-mapped, so that reading them costs little more than the pages touched), whose rows
carry ``_fid``, the id of the record file they came from. ``manifest.json`` lists every record
file with its size, modification time (ns), inode, id, segment and organisation ID (or why it
could not be read), and the live segments; it is written last, atomically, so a crash leaves the
previous state.

On a load the folder is listed (one ``stat`` per file, no file read) and compared with the
manifest: a file whose size, modification time or inode changed is read again:

- nothing changed: the tables are read back;
- some files changed, were added or deleted (``cqc-research sync-api`` rewrites only what the
  API changed): only those are read, their rows go to a new segment, and the rows of changed or
  deleted files are left out of the old ones. Rows are then put back in the order a full read
  gives (file order; the history by organisation, date and source), so the tables equal those
  of a full read;
- more than a third of the files changed, an organisation ID now appears in two files (the
  reader then relates rows across files), more than :data:`MAX_SEGMENTS` segments, or a table
  that cannot be joined as it is: everything is read again, into one segment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals
from pandas.core.arrays.string_arrow import ArrowStringArray

from .. import paths
from ..cache import atomic_write_bytes
from ..ratings import DOMAIN_DTYPE, RATING_DTYPE, SECTOR_DTYPE, STATUS_DTYPE
from ._api_fast import Builder, split_recs

VERSION = 2
MAX_SEGMENTS = 8
REBUILD_SHARE = 1 / 3


class _Rebuild(Exception):
    """The cached segments cannot be joined into the tables of a full read: read everything."""

    def __init__(self, why: str = ""):
        super().__init__(why)


def scan(folder: Path, stat: bool = True) -> list[tuple[str, str, int, int, int]]:
    """``(relative path, level, size, mtime_ns, inode)`` of every record file, in reading order.

    ``locations/*.json`` then ``providers/*.json``, each sorted by name, hidden files left out
    (as ``sorted(folder.glob("locations/*.json"))`` lists them). ``stat=False`` (a load without
    the cache) gives 0 for the size, time and inode: no file is ``stat``-ed.
    """
    out = []
    for sub, level in (("locations", "location"), ("providers", "provider")):
        d = folder / sub
        if not d.is_dir():
            continue
        found = []
        with os.scandir(d) as it:
            for e in it:
                if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file():
                    if stat:
                        st = e.stat()
                        found.append((f"{sub}/{e.name}", level, st.st_size, st.st_mtime_ns, e.inode()))
                    else:
                        found.append((f"{sub}/{e.name}", level, 0, 0, 0))
        found.sort()
        out.extend(found)
    return out


def record_paths(folder: Path, rels) -> list[str]:
    """``str(folder / rel)`` of each relative path, without making a Path of each."""
    prefix = str(folder / "x")[:-1]
    return [prefix + rel for rel in rels]


def store_dir(folder: Path, options: str) -> Path:
    """Where a folder's cache lives."""
    key = hashlib.sha256(f"v{VERSION}|{options}|{folder.resolve()}".encode()).hexdigest()[:24]
    return paths.processed_dir() / "cache" / f"api-{key}"


def _read_manifest(store: Path) -> dict | None:
    try:
        man = orjson.loads((store / "manifest.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(man, dict) or man.get("version") != VERSION:
        return None
    return man


def _write_segment(store: Path, name: str, tables: dict, fids: dict) -> None:
    tmp = store / f"{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for t, frame in tables.items():
        frame = frame.copy(deep=False)
        frame["_fid"] = fids[t]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.OSFile(str(tmp / f"{t}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    tmp.rename(store / name)


def _read_segment(store: Path, name: str, table_names) -> dict:
    out = {}
    for t in table_names:
        with pa.memory_map(str(store / name / f"{t}.arrow"), "r") as source:
            out[t] = pa.ipc.open_file(source).read_all().to_pandas(split_blocks=True)
    return out


def load(folder: Path, files, build, *, options: str, table_names, use_cache: bool = True):
    """The tables of ``files`` (see :func:`scan`), reading only what changed since the last load.

    Parameters
    ----------
    folder : Path
        The API folder.
    files : list
        :func:`scan`'s answer.
    build : callable
        ``build(list of (path, level)) -> (tables with _rec, bad)``: reads those files; ``_rec``
        indexes the list, ``bad`` lists ``(path, reason)`` of files that could not be read.
    options : str
        The reading options, part of the cache key.
    table_names : sequence of str
        The tables, in order.
    use_cache : bool
        False reads everything and neither reads nor writes the cache.

    Returns
    -------
    tables : dict of DataFrame
        Without ``_rec``.
    bad : list of (str, str)
        Files that could not be read, in reading order.
    how : str
        ``"full"``, ``"cached"`` or ``"incremental (N files read)"``.
    """

    def full():
        paths_ = record_paths(folder, [f[0] for f in files])
        tables, bad = build([(p, f[1]) for p, f in zip(paths_, files, strict=True)])
        return tables, bad

    if not use_cache:
        tables, bad = full()
        return split_recs(tables)[0], bad, "full"
    store = store_dir(folder, options)
    man = _read_manifest(store)
    if man is not None:
        why = None
        try:
            got = _incremental(folder, files, build, store, man, table_names)
        except _Rebuild as exc:
            got, why = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            got, why = None, f"cache unreadable ({type(exc).__name__})"
        if got is not None:
            return got
    else:
        why = "no cache yet"
    tables, bad = full()
    tables, recs = split_recs(tables)
    _save_full(store, folder, files, tables, recs, bad)
    return tables, bad, f"full ({why})"


def _org_ids(tables: dict, recs: dict, n: int) -> list:
    """The organisation ID of each record index (None for a file that was not read)."""
    out = [None] * n
    for t in ("locations", "providers"):
        if len(tables[t]):
            for r, o in zip(recs[t].tolist(), tables[t]["org_id"].tolist(), strict=True):
                out[r] = o
    return out


def _save_full(store: Path, folder: Path, files, tables, recs, bad) -> None:
    try:
        if store.exists():
            shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True, exist_ok=True)
        _write_segment(store, "seg0", tables, recs)
        bad_by = dict(bad)
        orgs = _org_ids(tables, recs, len(files))
        full_paths = record_paths(folder, [f[0] for f in files])
        man = {"version": VERSION, "segments": ["seg0"], "next_fid": len(files), "next_segment": 1,
               "files": {rel: [size, mtime, i, "seg0", orgs[i], bad_by.get(full_paths[i]), inode]
                         for i, (rel, _, size, mtime, inode) in enumerate(files)}}
        atomic_write_bytes(store / "manifest.json", orjson.dumps(man))
    except OSError:
        shutil.rmtree(store, ignore_errors=True)


def _incremental(folder: Path, files, build, store: Path, man: dict, table_names):
    known = man["files"]
    rels = [f[0] for f in files]
    changed_files = [f for f in files if (k := known.get(f[0])) is None or k[0] != f[2] or k[1] != f[3]
                     or k[6] != f[4]]
    changed = [f[0] for f in changed_files]
    deleted = list(known.keys() - set(rels))
    if (len(changed) + len(deleted)) > REBUILD_SHARE * max(len(files), 1):
        raise _Rebuild("many files changed")
    segments = list(man["segments"])
    parts = {t: [] for t in table_names}
    if changed:
        new_tables, bad_new = build([(p, f[1]) for p, f in
                                     zip(record_paths(folder, changed), changed_files, strict=True)])
        new_tables, new_recs = split_recs(new_tables)
        new_orgs = _org_ids(new_tables, new_recs, len(changed))
    else:
        bad_new, new_orgs = [], []
    # an organisation in two files: the reader relates their rows, so read everything
    changed_set = set(changed)
    live_orgs = [o for rel in rels if rel not in changed_set and (o := known[rel][4]) is not None]
    live_orgs += [o for o in new_orgs if o is not None]
    if len(set(live_orgs)) != len(live_orgs):
        raise _Rebuild("an organisation in two files")
    next_fid = man["next_fid"]
    seg_name = None
    if changed:
        seg_name = f"seg{man['next_segment']}"
        fids = {t: (new_recs[t] + next_fid).astype(np.int64) for t in table_names}
        _write_segment(store, seg_name, new_tables, fids)
    # the new manifest: every listed file, its id and its segment
    bad_path = {path: reason for path, reason in bad_new}
    files_out = {rel: known.get(rel) for rel in rels}  # the manifest's own lists, read just now
    for j, (rel, _, size, mtime, inode) in enumerate(changed_files):
        files_out[rel] = [size, mtime, next_fid + j, seg_name, new_orgs[j], bad_path.get(str(folder / rel)), inode]
    entries = list(files_out.values())  # in reading order
    if seg_name:
        segments.append(seg_name)
    used = {v[3] for v in entries}
    segments = [s for s in segments if s in used]
    n_fid = next_fid + len(changed)
    # for each file id: its rank in reading order and the segment its live rows are in
    rank = np.full(n_fid, -1, dtype=np.int64)
    live_seg = np.full(n_fid, -1, dtype=np.int64)
    seg_index = {s: i for i, s in enumerate(segments)}
    fid_of = np.array([v[2] for v in entries], dtype=np.int64)
    rank[fid_of] = np.arange(len(entries))
    live_seg[fid_of] = [seg_index[v[3]] for v in entries]
    if not changed and not deleted and len(segments) == 1:  # unchanged: the rows are in order
        data = _read_segment(store, segments[0], table_names)
        tables = {}
        for t in table_names:
            frame = _join(t, [data[t]])
            tables[t] = pd.DataFrame() if frame.shape[1] == 0 else frame
        bad = [(str(folder / rel), v[5]) for rel, v in files_out.items() if v[5]]
        return tables, bad, "cached"
    for s in segments:
        data = new_tables if s == seg_name else _read_segment(store, s, table_names)
        if s == seg_name:
            data = {t: f.assign(_fid=fids[t]) for t, f in new_tables.items()}
        for t in table_names:
            frame = data[t]
            if "_fid" not in frame:
                continue
            fid = frame["_fid"].to_numpy(dtype=np.int64)
            keep = live_seg[fid] == seg_index[s]
            parts[t].append((frame, np.flatnonzero(keep)))
    # each file's organisation, ranked as the IDs sort (the history is ordered by it)
    org_of_fid = np.full(n_fid, None, dtype=object)
    org_of_fid[fid_of] = [v[4] for v in entries]
    codes, _ = pd.factorize(pd.Series(org_of_fid[rank >= 0]), sort=True)
    org_rank = np.full(n_fid, np.iinfo(np.int64).max, dtype=np.int64)
    org_rank[np.flatnonzero(rank >= 0)] = np.where(codes < 0, np.iinfo(np.int64).max, codes)
    tables = {}
    for t in table_names:
        live = [(f, idx) for f, idx in parts[t] if len(f)]
        frame = _join(t, [f for f, _ in live], positions=_positions(t, live, rank, org_rank))
        tables[t] = pd.DataFrame() if frame.shape[1] == 0 else frame
    new_man = {"version": VERSION, "segments": segments, "next_fid": n_fid,
               "next_segment": man["next_segment"] + (1 if seg_name else 0), "files": files_out}
    if changed or deleted:
        if len(segments) > MAX_SEGMENTS:
            raise _Rebuild("too many segments")
        atomic_write_bytes(store / "manifest.json", orjson.dumps(new_man))
        for old in man["segments"]:
            if old not in segments:
                shutil.rmtree(store / old, ignore_errors=True)
    bad = [(str(folder / rel), v[5]) for rel, v in files_out.items() if v[5]]
    how = "cached" if not changed and not deleted else f"incremental ({len(changed)} files read)"
    return tables, bad, how


def _is_fixed(dtype) -> bool:

    return any(dtype == d for d in (DOMAIN_DTYPE, RATING_DTYPE, SECTOR_DTYPE, STATUS_DTYPE)) or dtype.ordered \
        or list(dtype.categories) == ["2014 framework", "Single assessment framework"]


_EMPTY: dict = {}  # the tables of no records, made once


def _codes_in(series: pd.Series, categories) -> np.ndarray:
    """A categorical's codes in the (sorted) ``categories``; missing values last."""
    cats = np.asarray(series.cat.categories.astype(str))
    where = np.searchsorted(categories, cats)
    codes = series.cat.codes.to_numpy()
    return np.where(codes < 0, np.iinfo(np.int64).max, where[np.maximum(codes, 0)] if len(where) else 0)


def _positions(name: str, parts: list, rank: np.ndarray, org_rank: np.ndarray) -> np.ndarray:
    """Positions, in the parts joined end to end, of the live rows in the order of a full read."""
    offsets = np.cumsum([0] + [len(f) for f, _ in parts])
    glob = np.concatenate([off + idx for off, (_, idx) in zip(offsets, parts, strict=False)]) if parts \
        else np.array([], dtype=np.int64)
    fids = np.concatenate([f["_fid"].to_numpy(dtype=np.int64)[idx] for f, idx in parts]) if parts \
        else np.array([], dtype=np.int64)
    r = rank[fids]
    if len(r) and (r < 0).any():
        raise _Rebuild(f"{name}: rows of a file no longer listed")

    def cat_key(col):
        cats = np.sort(np.unique(np.concatenate([np.asarray(f[col].cat.categories.astype(str)) for f, _ in parts])))
        return np.concatenate([_codes_in(f[col], cats)[idx] for f, idx in parts])

    if name == "history" and len(r):
        date = np.concatenate([f["report_date"].to_numpy().astype("datetime64[us]").view("i8")[idx]
                               for f, idx in parts])
        date = np.where(date == np.iinfo(np.int64).min, np.iinfo(np.int64).max, date)
        order = np.lexsort([r, cat_key("source"), date, org_rank[fids]])
    elif name == "ratings" and len(r) and any(
            (f["framework"].cat.codes.to_numpy()[idx] == 1).any() for f, idx in parts):
        order = np.lexsort([r, org_rank[fids], cat_key("level")])
    else:
        order = np.argsort(r, kind="stable")
    return glob[order]


def _take(col: pd.Series, positions: np.ndarray) -> pd.Series:
    """``col.take(positions).reset_index(drop=True)``, faster: text in long runs of consecutive
    positions (the rows kept of a segment) is copied run by run, and arrays are taken without an
    index."""
    arr = col.array
    if isinstance(arr, ArrowStringArray) and len(positions):
        chunked = arr._pa_array
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        if len(breaks) < len(positions) // 8 and pa.types.is_large_string(chunked.type):
            taken = _take_text_runs(chunked, positions, breaks)
        else:
            taken = chunked.take(pa.array(positions))
        return pd.Series(ArrowStringArray(pa.chunked_array([taken] if isinstance(taken, pa.Array) else taken.chunks,
                                                           type=chunked.type), dtype=col.dtype), copy=False)
    if isinstance(arr, pd.Categorical):
        return pd.Series(pd.Categorical.from_codes(arr.codes[positions], dtype=col.dtype, validate=False),
                         copy=False)
    if isinstance(col.dtype, np.dtype):
        return pd.Series(col.to_numpy()[positions], dtype=col.dtype, copy=False)
    return pd.Series(arr.take(positions), copy=False)


def _take_text_runs(chunked: pa.ChunkedArray, positions: np.ndarray, breaks: np.ndarray) -> pa.Array:
    """Rows ``positions`` of a ``large_string`` chunked array, made from its buffers: the offsets
    from the lengths, the characters copied run by run (``breaks`` start the runs), no chunk
    joined first."""
    n = len(positions)
    lengths, valid, chars, first, bounds = [], [], [], [], [0]
    for chunk in chunked.chunks:
        validity, offsets, data = chunk.buffers()
        off = np.frombuffer(offsets, dtype=np.int64)[chunk.offset:chunk.offset + len(chunk) + 1]
        lengths.append(np.diff(off))
        first.append(off)
        chars.append(np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8))
        if chunked.null_count:
            valid.append(np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[
                chunk.offset:chunk.offset + len(chunk)].astype(bool) if chunk.null_count
                else np.ones(len(chunk), dtype=bool))
        bounds.append(bounds[-1] + len(chunk))
    lengths = np.concatenate(lengths)
    new_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths[positions], out=new_off[1:])
    # runs of consecutive source rows, each within one chunk
    if len(first) > 1:
        chunk_of = np.searchsorted(np.array(bounds), positions, side="right") - 1
        breaks = np.union1d(breaks, np.flatnonzero(np.diff(chunk_of)) + 1)
    starts = np.concatenate([[0], breaks]).astype(np.int64)
    ends = np.concatenate([breaks, [n]]).astype(np.int64)
    begin = np.concatenate([f[:-1] for f in first])  # each row's first character in its chunk
    a, last = positions[starts], positions[ends - 1]
    lo, hi = begin[a].tolist(), (begin[last] + lengths[last]).tolist()
    if len(first) > 1:
        ks = chunk_of[starts].tolist()
        pieces = [chars[k][x:y] for k, x, y in zip(ks, lo, hi, strict=True)]
    else:
        only = chars[0]
        pieces = [only[x:y] for x, y in zip(lo, hi, strict=True)]
    new_chars = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
    nulls, mask = 0, None
    if chunked.null_count:
        keep = np.concatenate(valid)[positions]
        nulls = int(n - keep.sum())
        mask = pa.py_buffer(np.packbits(keep, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.large_string(), n, [mask, pa.py_buffer(new_off), pa.py_buffer(new_chars)],
                                 null_count=nulls)


def _join(name: str, parts: list, positions: np.ndarray | None = None) -> pd.DataFrame:
    """The parts of a table joined, rows ``positions`` of them, with the dtypes a full read gives."""

    if positions is not None and len(positions) == 0 or not any(len(p) for p in parts):
        if not _EMPTY:
            _EMPTY.update(Builder("keep").tables())
        return _EMPTY[name].drop(columns="_rec")  # a copy
    if positions is None and len(parts) == 1:  # every row, in order
        frame = parts[0].drop(columns="_fid")
    elif len(parts) == 1:
        frame = pd.DataFrame({c: _take(parts[0][c], positions) for c in parts[0].columns if c != "_fid"})
    else:
        if positions is None:
            positions = np.arange(sum(len(p) for p in parts))
        cols = list(parts[0].columns)
        if any(list(p.columns) != cols for p in parts):
            raise _Rebuild(f"{name}: columns differ")
        data = {}
        for c in cols:
            if c == "_fid":
                continue
            series = [p[c] for p in parts]
            dts = [s.dtype for s in series]
            if all(isinstance(d, pd.CategoricalDtype) or (d == np.dtype(object) and s.isna().all())
                   for d, s in zip(dts, series, strict=True)) and any(isinstance(d, pd.CategoricalDtype) for d in dts):
                if not all(isinstance(d, pd.CategoricalDtype) for d in dts):  # all missing: read back as object
                    series = [s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category") for s in series]
                    dts = [s.dtype for s in series]
                if all(d == dts[0] for d in dts) and _is_fixed(dts[0]):
                    data[c] = pd.concat(series, ignore_index=True)
                else:

                    try:
                        data[c] = pd.Series(union_categoricals([s.array for s in series], sort_categories=True,
                                                               ignore_order=True))
                    except TypeError:
                        data[c] = pd.concat([s.astype(object) for s in series], ignore_index=True).astype("category")
            elif all(d == dts[0] for d in dts):
                data[c] = pd.concat(series, ignore_index=True)
            elif all(str(d) in ("str", "object") for d in dts):
                # text in one part, None (or text in a table whose other rows were all replaced,
                # which the reader leaves as object) in another: a full read gives text
                if any(str(d) == "object" and not s.map(lambda v: v is None or v != v or isinstance(v, str)).all()
                       for d, s in zip(dts, series, strict=True)):
                    raise _Rebuild(f"{name}.{c}: text and other values")
                data[c] = pd.concat([s.astype("str") for s in series], ignore_index=True)
            elif all(d.kind in "iuf" for d in dts if hasattr(d, "kind")) and all(
                    isinstance(d, np.dtype) for d in dts):
                data[c] = pd.concat([s.astype(np.float64) for s in series], ignore_index=True)
            elif all(isinstance(d, np.dtype) and d.kind == "M" for d in dts):
                unit = max(dts)  # the finer unit; a coarser part holds only NaT
                data[c] = pd.concat([s.astype(unit) for s in series], ignore_index=True)
            else:
                raise _Rebuild(f"{name}.{c}: dtypes {dts}")
            data[c] = _take(data[c], positions)
        frame = pd.DataFrame(data)
    # dtypes that a full read infers from the values it holds
    for c in frame.columns:
        col = frame[c]
        dt = col.dtype
        if isinstance(dt, pd.CategoricalDtype):
            if not _is_fixed(dt):
                codes = col.cat.codes.to_numpy()
                used = np.bincount(codes[codes >= 0], minlength=len(dt.categories)) > 0
                if not used.all():
                    frame[c] = col.cat.remove_unused_categories()
        elif str(dt) == "str" and col.isna().all():
            frame[c] = pd.Series([None] * len(col), dtype=object)
        elif isinstance(dt, np.dtype) and dt.kind == "M" and dt != np.dtype("datetime64[s]") and col.isna().all():
            frame[c] = col.astype("datetime64[s]")
        elif c == "number_of_beds" and dt == np.float64 and col.notna().all() and (col == col.round()).all():
            frame[c] = col.astype(np.int64)
    return frame
