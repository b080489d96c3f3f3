"""Coded interview segments: REFI-QDA (.qdpx) and CSV import into one tidy table, and .qdpx export."""

from __future__ import annotations

import difflib
import re
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import sha256_file
from ..errors import DataFormatError
from ..provenance import is_synthetic
from .codebook import SEGMENT_COLUMNS, code_key, resolve_codebook

__all__ = [
    "read_coded_segments",
    "read_qdpx",
    "read_segments_csv",
    "unknown_codes",
    "write_qdpx",
]

# import
_CSV_COLUMNS = {
    "case id": "case_id", "case": "case_id",
    "respondent role": "respondent_role", "role": "respondent_role",
    "question": "question", "question id": "question",
    "code": "code", "code name": "code",
    "excerpt": "excerpt", "text": "excerpt", "quote": "excerpt", "segment": "excerpt",
    "coded text": "excerpt",
    "location id": "location_id", "cqc location id": "location_id",
    "respondent id": "respondent_id", "respondent": "respondent_id", "interview": "respondent_id",
    "segment id": "segment_id",
}


_CSV_REQUIRED = ["case_id", "respondent_role", "question", "code", "excerpt"]


_CSV_NONEMPTY = ["case_id", "code", "excerpt"]


_SEGMENT_NS = uuid.UUID("0b7c2f7e-8d0e-4b8e-b1f5-5b1a3f7f6c21")


def _segment_guid(case_id, respondent_id, question, excerpt) -> str:
    return str(uuid.uuid5(_SEGMENT_NS, "\x1f".join(str(x) for x in (case_id, respondent_id, question, excerpt))))


def read_segments_csv(path, *, codebook=None, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV of coded segments: ``case_id, respondent_role, question, code, excerpt``.

    Optional columns: ``location_id`` (CQC location ID), ``respondent_id`` (one id per
    interview; default ``<case_id>:<respondent_role>``) and ``segment_id`` (rows sharing it are
    one excerpt with several codes; default: one id per case, respondent, question and excerpt).
    Headers are matched in any case and spacing (``Case ID`` is ``case_id``).

    Parameters
    ----------
    path : str or Path
    codebook : Codebook or path, optional
        Codes, roles and questions are matched against it (default: the shipped codebook).
    sep : str, optional
        Field separator; by default ``,`` (``\\t`` for ``.tsv``).

    Returns
    -------
    pandas.DataFrame
        The tidy segments table (:data:`SEGMENT_COLUMNS`).

    Raises
    ------
    DataFormatError
        Naming the file, the row (as a spreadsheet shows it, the header being row 1) and the
        column, for a missing column, an empty required cell, or a row that cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    sep = sep or ("\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"the file is empty; expected a header row with {_CSV_REQUIRED}", path=path) from None
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+), saw (\d+)", str(exc))
        exp = re.search(r"Expected (\d+) fields", str(exc))
        if m:
            raise DataFormatError(
                f"{m.group(2)} fields where the header has {exp.group(1) if exp else '?'}; "
                "expected one value per column (quote excerpts that contain the separator)",
                path=path, row=int(m.group(1))) from None
        raise DataFormatError(f"cannot be parsed as CSV ({exc})", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV",
                              path=path) from None
    mapped: dict[str, str] = {}
    for col in raw.columns:
        target = _CSV_COLUMNS.get(code_key(col))
        if target is None:
            continue
        if target in mapped.values():
            first = next(k for k, v in mapped.items() if v == target)
            raise DataFormatError(f"columns {first!r} and {col!r} both give {target}; expected one",
                                  path=path, column=col)
        mapped[col] = target
    missing = [c for c in _CSV_REQUIRED if c not in mapped.values()]
    if missing:
        raise DataFormatError(f"missing column(s) {missing}; expected columns {_CSV_REQUIRED} "
                              f"(found {list(raw.columns)})", path=path, column=missing[0])
    frame = raw[list(mapped)].rename(columns=mapped)
    frame = frame.apply(lambda s: s.str.strip())
    for col in _CSV_NONEMPTY:
        blank = frame[col] == ""
        if blank.any():
            first = int(np.flatnonzero(blank.to_numpy())[0])
            original = next(k for k, v in mapped.items() if v == col)
            raise DataFormatError(f"empty {col}; every coded segment needs a {col} "
                                  f"({int(blank.sum())} row(s) affected)", path=path, row=first + 2,
                                  column=original)
    frame = frame.replace("", np.nan)
    for col in ("location_id", "respondent_id", "segment_id"):
        if col not in frame:
            frame[col] = pd.Series([None] * len(frame), index=frame.index, dtype="str")
    frame["respondent_id"] = frame["respondent_id"].fillna(
        frame["case_id"] + ":" + frame["respondent_role"].fillna("unknown role"))
    no_id = frame["segment_id"].isna()
    if no_id.any():
        frame.loc[no_id, "segment_id"] = [
            _segment_guid(*r) for r in frame.loc[no_id, ["case_id", "respondent_id", "question", "excerpt"]]
            .itertuples(index=False)]
    frame["start"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["end"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["_row"] = np.arange(len(frame)) + 2
    out = standardise_segments(frame, codebook=codebook, where=str(path))
    out.attrs.update(source=str(path), sha256=sha256_file(path), synthetic=is_synthetic(path), format="csv")
    return out


def read_qdpx(path, *, codebook=None) -> pd.DataFrame:
    """Read coded segments from a REFI-QDA project (``.qdpx``) into the tidy segments table.

    The case is the ``Case`` each source belongs to (or a ``case_id`` variable), the respondent
    is the source, the role a ``respondent_role`` variable, and the question the structural code
    (``q01`` ... ``q13``, see :mod:`cqc_research.io.qdpx`) around each excerpt.

    Parameters
    ----------
    path : str or Path
    codebook : Codebook or path, optional
        Default: the shipped codebook.

    Returns
    -------
    pandas.DataFrame
        :data:`SEGMENT_COLUMNS`.

    Raises
    ------
    DataFormatError
        For a malformed file, naming the file, the zip member and the XML element.
    """
    from ..io.qdpx import default_question_of, read_qdpx_segments

    cb = resolve_codebook(codebook)

    def question_of(name, code_path):
        if cb.match_code(name) is not None:
            return None
        q = cb.match_question(name)
        return q if q is not None else default_question_of(name, code_path)

    raw = read_qdpx_segments(path, question_of=question_of)
    attrs = dict(raw.attrs)
    out = standardise_segments(raw, codebook=cb, where=str(path))
    out.attrs.update(attrs)
    return out


def read_coded_segments(path, *, codebook=None) -> pd.DataFrame:
    """Read coded segments from a ``.qdpx`` project or a ``.csv`` / ``.tsv`` table.

    See :func:`read_qdpx` and :func:`read_segments_csv`. Codes not in the codebook are kept
    (``in_codebook`` False, ``code_group`` "unknown") and a warning counts them; list them with
    :func:`unknown_codes`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.qdpx`` project, or a ``.csv``/``.tsv``/``.txt`` table of coded segments.
    codebook : Codebook or path, optional
        The codebook codes, roles and questions are matched against; default the shipped one.

    Returns
    -------
    pandas.DataFrame
        One row per code applied to an excerpt, columns :data:`SEGMENT_COLUMNS`: ``case_id,
        location_id, respondent_id, respondent_role, question, code, code_group, in_codebook,
        excerpt, segment_id, start, end`` (text columns as strings, ``start``/``end`` nullable
        integer offsets, ``in_codebook`` bool).

    Raises
    ------
    DataFormatError
        Another file type, or a file that cannot be read as coded segments.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".qdpx":
        return read_qdpx(path, codebook=codebook)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_segments_csv(path, codebook=codebook)
    raise DataFormatError(f"unsupported file type {suffix!r}; expected a REFI-QDA .qdpx project or a "
                          ".csv of coded segments", path=path)


def standardise_segments(data: pd.DataFrame, *, codebook=None, where: str | None = None) -> pd.DataFrame:
    """Match codes, roles and questions of a segments table against a codebook.

    Known codes, roles and questions take their codebook names; anything else is kept as
    written (codes get ``code_group`` "unknown" and ``in_codebook`` False), with a warning that
    counts them.

    Parameters
    ----------
    data : pandas.DataFrame
        A raw segments table, with at least the codes and excerpts.
    codebook : Codebook or path, optional
        The codebook codes, roles and questions are matched against; default the shipped one.
    where : str, optional
        Where the table came from (a file name), to prefix warnings with.

    Returns
    -------
    pandas.DataFrame
        One row per code applied to an excerpt, columns :data:`SEGMENT_COLUMNS`: ``case_id,
        location_id, respondent_id, respondent_role, question, code, code_group, in_codebook,
        excerpt, segment_id, start, end`` (text columns as strings, ``start``/``end`` nullable
        integer offsets, ``in_codebook`` bool).
    """
    cb = resolve_codebook(codebook)
    need = ["case_id", "respondent_role", "question", "code", "excerpt"]
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise ValueError(f"segments lack columns {missing}; expected {need}")
    df = data.copy()
    for col in SEGMENT_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA if col not in ("start", "end") else pd.array([pd.NA] * len(df), dtype="Int64")
    codes = {c: cb.match_code(c) for c in pd.unique(df["code"].dropna())}
    df["in_codebook"] = df["code"].map(lambda c: codes.get(c) is not None).astype(bool)
    df["code"] = df["code"].map(lambda c: codes.get(c) or c)
    group_of = dict(zip(cb.codes["code"], cb.codes["group"], strict=True))
    df["code_group"] = df["code"].map(group_of).fillna("unknown")
    roles = {r: cb.match_role(r) for r in pd.unique(df["respondent_role"].dropna())}
    df["respondent_role"] = df["respondent_role"].map(lambda r: roles.get(r) or r)
    questions = {q: cb.match_question(q) for q in pd.unique(df["question"].dropna())}
    df["question"] = df["question"].map(lambda q: questions.get(q) or q)
    out = df[SEGMENT_COLUMNS].copy()
    for col in SEGMENT_COLUMNS:
        if col in ("start", "end"):
            out[col] = out[col].astype("Int64")
        elif col == "in_codebook":
            out[col] = out[col].astype(bool)
        else:
            out[col] = out[col].astype("str")
    src = f"{where}: " if where else ""
    n_unknown = int(out.loc[~out["in_codebook"], "segment_id"].nunique())
    if n_unknown:
        names = sorted(pd.unique(out.loc[~out["in_codebook"], "code"]))
        warnings.warn(f"{src}{n_unknown} segment(s) carry {len(names)} code(s) not in codebook "
                      f"{cb.name!r}: {names[:6]}{' ...' if len(names) > 6 else ''}; kept with code_group "
                      "'unknown' (see qual.unknown_codes)", stacklevel=3)
    bad_roles = sorted(r for r, m in roles.items() if m is None)
    if bad_roles:
        warnings.warn(f"{src}respondent role(s) {bad_roles} are not in the codebook's roles "
                      f"{cb.roles['role'].tolist()}; kept as written", stacklevel=3)
    bad_q = sorted(q for q, m in questions.items() if m is None)
    if bad_q:
        warnings.warn(f"{src}question(s) {bad_q[:5]} do not match the interview guide; kept as written",
                      stacklevel=3)
    return out


def unknown_codes(segments: pd.DataFrame, *, codebook=None) -> pd.DataFrame:
    """The codes of a segments table that the codebook does not hold, with counts.

    Parameters
    ----------
    segments : DataFrame
        From :func:`read_coded_segments`.
    codebook : Codebook or path, optional
        Used to suggest the nearest codebook code (a likely typo or synonym).

    Returns
    -------
    pandas.DataFrame
        ``code, n_segments, n_respondents, n_cases, roles, suggestion``, most frequent first;
        empty when every code is known.
    """
    cb = resolve_codebook(codebook)
    if "in_codebook" in segments:
        unknown = segments[~segments["in_codebook"].astype(bool)]
    else:
        unknown = segments[segments["code"].map(cb.match_code).isna()]
    cols = ["code", "n_segments", "n_respondents", "n_cases", "roles", "suggestion"]
    if unknown.empty:
        return pd.DataFrame(columns=cols)
    names = {**{code_key(c): c for c in cb.codes["code"]}, **{code_key(lab): c for lab, c in
                                                           zip(cb.codes["label"], cb.codes["code"], strict=True)}}
    rows = []
    for code, g in unknown.groupby("code", sort=False):
        close = difflib.get_close_matches(code_key(code), list(names), n=1, cutoff=0.75)
        rows.append({"code": code, "n_segments": g["segment_id"].nunique(),
                     "n_respondents": g["respondent_id"].nunique(), "n_cases": g["case_id"].nunique(),
                     "roles": ", ".join(sorted(g["respondent_role"].dropna().astype(str).unique())),
                     "suggestion": names[close[0]] if close else None})
    return (pd.DataFrame(rows, columns=cols).sort_values(["n_segments", "code"], ascending=[False, True])
            .reset_index(drop=True))


def write_qdpx(segments: pd.DataFrame, path, *, codebook=None, project_name: str | None = None,
               description: str | None = None) -> Path:
    """Export a segments table as a REFI-QDA project (``.qdpx``) that QDA software can open.

    Codes are nested under their group ("Impact mechanism", "Improvement theme", or
    "Not in codebook"), each with its codebook definition; every answer is coded with its
    question (``q01`` ...), and transcripts are rebuilt from the excerpts, question by question,
    with the guide's wording for the respondent's role. :func:`read_qdpx` gives the same table
    back. See :func:`cqc_research.io.qdpx.write_qdpx_segments`.

    Parameters
    ----------
    segments : pandas.DataFrame
        A segments table as :func:`read_coded_segments` returns.
    path : str or os.PathLike
        The ``.qdpx`` file to write.
    codebook : Codebook or path, optional
        The codebook codes, roles and questions are matched against; default the shipped one.
    project_name : str, optional
        The project's name as QDA software shows it.
    description : str, optional
        The project's description.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from ..io.qdpx import write_qdpx_segments

    cb = resolve_codebook(codebook)
    group_label = dict(zip(cb.groups["group"], cb.groups["label"], strict=True))
    known = dict(zip(cb.codes["code"], cb.codes["group"], strict=True))
    codes = list(cb.code_order) + [c for c in pd.unique(segments["code"].astype(str)) if c not in known]
    code_groups = {c: group_label[known[c]] if c in known else "Not in codebook" for c in codes}
    desc = {row.code: f"{row.definition} Include: {row.include} Exclude: {row.exclude}"
            for row in cb.codes.itertuples()}
    topics = dict(zip(cb.questions["id"], cb.questions["topic"], strict=False))
    qcodes = {q: f"{q} {topics[q]}" for q in topics}
    role_labels = dict(zip(cb.roles["role"], cb.roles["label"], strict=True))
    synthetic = bool(segments.attrs.get("synthetic")) or segments["excerpt"].astype(str).str.startswith(
        "[SYNTHETIC]").all()
    if description is None:
        description = (f"Coded interviews exported by cqc-research with codebook {cb.name!r} "
                       f"(version {cb.version}).")
        if synthetic:
            description = "SYNTHETIC DATA: invented interviews, not real people. " + description
    return write_qdpx_segments(
        segments, path, code_groups=code_groups, code_descriptions=desc, question_codes=qcodes,
        question_text=lambda q, role: cb.question_text(q, role), role_labels=role_labels,
        project_name=project_name or ("SYNTHETIC coded interviews" if synthetic else "cqc-research coded interviews"),
        description=description)


def read_coded_segments_noting(path, *, codebook=None) -> tuple[pd.DataFrame, list[str]]:
    """:func:`read_coded_segments`, with the import's warnings returned as notes instead of shown.

    Warnings about codes not in the codebook are left out: :func:`unknown_codes` lists them.

    Parameters
    ----------
    path : path
        A ``.qdpx`` project or a ``.csv`` of coded segments.
    codebook : Codebook, optional
        As :func:`read_coded_segments`.

    Returns
    -------
    segments : DataFrame
        As :func:`read_coded_segments`.
    notes : list of str
        The other warnings' messages, in order.
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        segments = read_coded_segments(path, codebook=codebook)
    return segments, [str(w.message) for w in caught if "not in codebook" not in str(w.message)]


def read_cases_csv(path) -> pd.DataFrame | None:
    """An optional CSV matching cases to CQC locations, read as text; None when ``path`` is empty.

    Parameters
    ----------
    path : path or ""
        A CSV of ``case_id, location_id`` and optionally ``index_date``.

    Returns
    -------
    DataFrame or None
        For ``cases=`` of :func:`case_table` and :func:`cases_with_outcomes`.
    """
    return pd.read_csv(path, dtype=str) if path else None
