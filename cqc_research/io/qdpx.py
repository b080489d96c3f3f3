"""REFI-QDA project exchange files (``.qdpx``): coded interview segments in and out.

A ``.qdpx`` file is a zip archive holding one XML project file (``project.qde``, namespace
``urn:QDA-XML:project:1.0``) and the plain text of each source under ``Sources/``. NVivo,
ATLAS.ti, MAXQDA and QualCoder export it. The parts read here:

``CodeBook/Codes/Code`` (``guid``, ``name``, nested codes)
    The codes. A nested code keeps its path (``"Improvement themes/Leadership"``) in
    ``code_path``; ``code`` is its own name.
``Sources/TextSource``
    One interview transcript per source (``guid``, ``name``, ``plainTextPath="internal://<file>"``
    or an inline ``PlainTextContent``); ``respondent_id`` is the source's name.
``TextSource/PlainTextSelection``
    A coded excerpt (``startPosition``, ``endPosition``, with ``Coding/CodeRef(targetGUID)``): the
    characters ``[startPosition, endPosition)`` of the source's text.
``Cases/Case`` (``name``) with ``SourceRef(targetGUID)`` / ``SelectionRef(targetGUID)``
    The case (the service studied) each interview belongs to; ``case_id`` is the case's name.
``Variables/Variable`` and ``VariableValue`` on a case or a source
    Attributes: ``location_id`` (the CQC location ID), ``respondent_role``, and optionally
    ``case_id`` and ``respondent_id``, matched by name in any case and spacing.

Questions are read by *structural coding*: a code named after a question of the interview
guide (``q05``, ``Q5``, ``Question 5``, or any code under a parent code whose name contains
"question" or "interview guide") applied to a whole answer. A thematic selection inside that
answer gets the question; a selection coded with both gets it directly.

This module knows the file format only. :mod:`cqc_research.qual` matches codes, roles and
questions against a codebook.
"""

from __future__ import annotations

import re
import uuid
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from ..cache import atomic_path, sha256_file
from ..errors import DataFormatError
from ..provenance import is_synthetic

__all__ = ["read_qdpx_segments", "write_qdpx_segments", "write_qdc"]

#: The REFI-QDA project namespace.
NS = "urn:QDA-XML:project:1.0"
_N = f"{{{NS}}}"
#: The REFI-QDA codebook namespace (``.qdc`` files).
NS_CODEBOOK = "urn:QDA-XML:codebook:1.0"
#: Columns of the table :func:`read_qdpx_segments` returns.
RAW_COLUMNS = ["case_id", "location_id", "respondent_id", "respondent_role", "question", "code",
               "code_path", "excerpt", "segment_id", "start", "end"]
_GUID_NS = uuid.UUID("5d0c3b52-6a51-4f0e-9d59-2f4c0f3e8a10")  # for deterministic GUIDs
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)

_QUESTION_NAME = re.compile(r"^\s*(?:q|question)\s*[-_.:]?\s*0*(\d{1,3})\b", re.I)


def _key(text) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


_VARIABLE_ROLES = {
    "case id": "case_id", "case": "case_id",
    "location id": "location_id", "cqc location id": "location_id", "location": "location_id",
    "locationid": "location_id",
    "respondent role": "respondent_role", "role": "respondent_role",
    "respondent id": "respondent_id", "respondent": "respondent_id",
}


def default_question_of(name: str, path: str) -> str | None:
    """The question a structural code stands for, or None for a thematic code.

    A code is structural when its name looks like ``q05``, ``Q5 leadership`` or ``Question 5``,
    or when a parent code's name contains "question" or "interview guide". The code's name is
    returned as it is; :mod:`cqc_research.qual` matches it to the guide.

    Parameters
    ----------
    name : str
        The code's own name.
    path : str
        The code's path in the code tree, parents first, joined by ``/``
        (e.g. ``"Interview guide/Q5 leadership"``).

    Returns
    -------
    str or None
        ``name`` for a structural code, ``None`` for a thematic one.

    Examples
    --------
    >>> default_question_of("Q5 leadership", "Q5 leadership")
    'Q5 leadership'
    >>> default_question_of("Leadership", "Improvement themes/Leadership") is None
    True
    """
    if _QUESTION_NAME.match(name):
        return name
    parents = _key(path.rsplit("/", 1)[0]) if "/" in path else ""
    if "question" in parents or "interview guide" in parents:
        return name
    return None


# ---------------------------------------------------------------------------------------------
# reading
class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def error(self, message: str, part: str | None = None):
        where = f"{part}: " if part else ""
        return DataFormatError(f"{where}{message}", path=self.path)

    def open(self):
        try:
            self.zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise self.error("not a zip archive; a REFI-QDA .qdpx file is a zip holding "
                             "project.qde and Sources/") from exc
        names = self.zip.namelist()
        qde = [n for n in names if n.lower().endswith(".qde") and "/" not in n.strip("/")]
        if not qde:
            qde = [n for n in names if n.lower().endswith(".qde")]
        if not qde:
            raise self.error(f"no project.qde in the archive (members: {names[:8]}); expected the "
                             "REFI-QDA project XML at the top level")
        self.member = "project.qde" if "project.qde" in qde else qde[0]
        self.members = {n.lower(): n for n in names}
        try:
            raw = self.zip.read(self.member)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            raise self.error(f"cannot read the member: {exc}", f"zip member {self.member!r}") from exc
        try:
            self.root = ET.fromstring(raw)
        except ET.ParseError as exc:
            line, col = exc.position
            raise self.error(f"not well-formed XML at line {line}, column {col + 1}; expected a "
                             "REFI-QDA project document",
                             f"zip member {self.member!r}") from exc
        if self.root.tag != f"{_N}Project":
            raise self.error(f"root element is {self.root.tag!r}; expected <Project> in namespace "
                             f"{NS!r}", f"zip member {self.member!r}")

    def part(self, element_path: str) -> str:
        return f"zip member {self.member!r}, element {element_path}"

    def read_text(self, source, where: str) -> str:
        inline = source.find(f"{_N}PlainTextContent")
        if inline is not None and inline.text is not None:
            return inline.text
        ref = source.get("plainTextPath")
        if not ref:
            raise self.error("a TextSource needs a plainTextPath attribute or a PlainTextContent "
                             "element holding its text", self.part(where))
        if not ref.lower().startswith("internal://"):
            raise self.error(f"plainTextPath {ref!r} points outside the archive; only internal:// "
                             "sources can be read", self.part(where))
        name = ref[len("internal://"):].lstrip("/")
        candidates = [name, f"sources/{name}", f"Sources/{name}"]
        member = next((self.members[c.lower()] for c in candidates if c.lower() in self.members), None)
        if member is None:  # implementations disagree about the folder; match on the base name
            base = name.rsplit("/", 1)[-1].lower()
            member = next((orig for low, orig in self.members.items() if low.rsplit("/", 1)[-1] == base),
                          None)
        if member is None:
            raise self.error(f"plainTextPath {ref!r} names a file that is not in the archive "
                             f"(expected Sources/{name})", self.part(where))
        data = self.zip.read(member)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(f"source text is not UTF-8 (byte {exc.start})", f"zip member {member!r}") from exc
        return text.removeprefix("\ufeff")

    # -- sections ---------------------------------------------------------------------------
    def codes(self) -> dict[str, tuple[str, str]]:
        """guid -> (name, path)."""
        out: dict[str, tuple[str, str]] = {}
        book = self.root.find(f"{_N}CodeBook")
        if book is None:
            return out
        codes = book.find(f"{_N}Codes")
        if codes is None:
            raise self.error("CodeBook has no Codes element", self.part("CodeBook"))

        def walk(parent, prefix: str, where: str):
            for i, code in enumerate(parent.findall(f"{_N}Code"), start=1):
                here = f"{where}/Code[{i}]"
                guid, name = code.get("guid"), code.get("name")
                if not guid or name is None:
                    raise self.error("a Code needs both guid and name attributes", self.part(here))
                if guid in out:
                    raise self.error(f"duplicate code guid {guid!r}", self.part(here))
                path = f"{prefix}/{name}" if prefix else name
                out[guid] = (name, path)
                walk(code, path, here)

        walk(codes, "", "CodeBook/Codes")
        return out

    def variables(self) -> dict[str, str]:
        """guid -> the standard attribute it stands for (case_id, location_id, ...), or ''."""
        out = {}
        block = self.root.find(f"{_N}Variables")
        if block is None:
            return out
        for i, var in enumerate(block.findall(f"{_N}Variable"), start=1):
            guid = var.get("guid")
            if not guid:
                raise self.error("a Variable needs a guid attribute", self.part(f"Variables/Variable[{i}]"))
            name = _key(str(var.get("name", "")).split(":")[-1])
            out[guid] = _VARIABLE_ROLES.get(name, "")
        return out

    def values(self, element, variables, where) -> dict[str, str]:
        out = {}
        for i, vv in enumerate(element.findall(f"{_N}VariableValue"), start=1):
            ref = vv.find(f"{_N}VariableRef")
            if ref is None or not ref.get("targetGUID"):
                raise self.error("a VariableValue needs a VariableRef with a targetGUID",
                                 self.part(f"{where}/VariableValue[{i}]"))
            target = ref.get("targetGUID")
            if target not in variables:
                raise self.error(f"VariableRef targetGUID {target!r} is not a Variable in Variables",
                                 self.part(f"{where}/VariableValue[{i}]"))
            kind = variables[target]
            if not kind:
                continue
            value = None
            for child in vv:
                if child.tag != f"{_N}VariableRef":
                    value = (child.text or "").strip()
            if value:
                out[kind] = value
        return out

    def cases(self, variables) -> tuple[dict, dict]:
        """source guid -> case info, selection guid -> case info (case_id, location_id, ...)."""
        by_source: dict[str, dict] = {}
        by_selection: dict[str, dict] = {}
        block = self.root.find(f"{_N}Cases")
        if block is None:
            return by_source, by_selection
        for i, case in enumerate(block.findall(f"{_N}Case"), start=1):
            where = f"Cases/Case[{i}]"
            info = self.values(case, variables, where)
            name = case.get("name")
            if "case_id" not in info:
                if name is None:
                    continue  # an unnamed case only carries file variables (MAXQDA, Quirkos)
                info["case_id"] = name
            info["_where"] = f"{where} (name {name!r})"
            for tag, target_map in (("SourceRef", by_source), ("SelectionRef", by_selection)):
                for ref in case.findall(f"{_N}{tag}"):
                    target = ref.get("targetGUID")
                    if not target:
                        raise self.error(f"a {tag} needs a targetGUID", self.part(where))
                    if target in target_map and target_map[target]["case_id"] != info["case_id"]:
                        raise self.error(
                            f"{tag} {target!r} also belongs to {target_map[target]['_where']}; expected "
                            "each interview to belong to one case (or give the source a case_id variable)",
                            self.part(where))
                    target_map[target] = info
        return by_source, by_selection

    def segments(self, question_of) -> list[dict]:
        codes = self.codes()
        variables = self.variables()
        by_source, by_selection = self.cases(variables)
        rows: list[dict] = []
        sources = self.root.find(f"{_N}Sources")
        if sources is None:
            return rows
        for i, src in enumerate(sources.findall(f"{_N}TextSource"), start=1):
            where = f"Sources/TextSource[{i}]"
            guid, name = src.get("guid"), src.get("name")
            if not guid:
                raise self.error("a TextSource needs a guid attribute", self.part(where))
            where = f"{where} (name {name!r})"
            text = self.read_text(src, where)
            info = {k: v for k, v in by_source.get(guid, {}).items() if not k.startswith("_")}
            info.update(self.values(src, variables, where))
            info.setdefault("respondent_id", name if name is not None else guid)
            selections = []
            for j, sel in enumerate(src.findall(f"{_N}PlainTextSelection"), start=1):
                here = f"{where}/PlainTextSelection[{j}]"
                try:
                    start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
                except (TypeError, ValueError):
                    raise self.error(
                        f"startPosition {sel.get('startPosition')!r} and endPosition "
                        f"{sel.get('endPosition')!r}: expected two whole numbers (character offsets)",
                        self.part(here)) from None
                if not 0 <= start <= end <= len(text):
                    raise self.error(f"positions {start}..{end} lie outside the source text "
                                     f"({len(text)} characters); expected 0 <= start <= end <= length",
                                     self.part(here))
                refs = []
                for k, coding in enumerate(sel.findall(f"{_N}Coding"), start=1):
                    ref = coding.find(f"{_N}CodeRef")
                    target = ref.get("targetGUID") if ref is not None else None
                    if not target:
                        raise self.error("a Coding needs a CodeRef with a targetGUID",
                                         self.part(f"{here}/Coding[{k}]"))
                    if target not in codes:
                        raise self.error(f"CodeRef targetGUID {target!r} is not a Code in the CodeBook",
                                         self.part(f"{here}/Coding[{k}]"))
                    refs.append(codes[target])
                questions = [q for q in (question_of(n, p) for n, p in refs) if q is not None]
                thematic = [(n, p) for n, p in refs if question_of(n, p) is None]
                selections.append({"guid": sel.get("guid") or f"{guid}:{start}-{end}", "start": start,
                                   "end": end, "questions": questions, "codes": thematic})
            structural = [s for s in selections if s["questions"]]
            for sel in selections:
                if not sel["codes"]:
                    continue
                question = sel["questions"][0] if sel["questions"] else _enclosing(sel, structural)
                case = {k: v for k, v in by_selection.get(sel["guid"], {}).items() if not k.startswith("_")}
                base = {**info, **case}
                for code, path in sel["codes"]:
                    rows.append({
                        "case_id": base.get("case_id"), "location_id": base.get("location_id"),
                        "respondent_id": base.get("respondent_id"),
                        "respondent_role": base.get("respondent_role"), "question": question,
                        "code": code, "code_path": path, "excerpt": text[sel["start"]:sel["end"]],
                        "segment_id": sel["guid"], "start": sel["start"], "end": sel["end"],
                        "_source": name if name is not None else guid,
                    })
        return rows


def _enclosing(sel: dict, structural: list[dict]) -> str | None:
    """The question of the structural selection that overlaps ``sel`` the most."""
    best, best_overlap = None, 0
    for s in structural:
        overlap = min(sel["end"], s["end"]) - max(sel["start"], s["start"])
        if overlap > best_overlap:
            best, best_overlap = s["questions"][0], overlap
    return best


def read_qdpx_segments(path, *, question_of: Callable[[str, str], str | None] | None = None
                       ) -> pd.DataFrame:
    """Read the coded segments of a REFI-QDA project (``.qdpx``).

    Parameters
    ----------
    path : str or Path
        The ``.qdpx`` file.
    question_of : callable, optional
        ``question_of(code_name, code_path)`` returns the question a structural code stands
        for, or None for a thematic code. Defaults to :func:`default_question_of`.

    Returns
    -------
    pandas.DataFrame
        One row per (selection, thematic code): :data:`RAW_COLUMNS`. Missing case, role or
        location are NA (a warning names the sources concerned).

    Raises
    ------
    DataFormatError
        When the file is not a zip, has no project XML, the XML is malformed, or an element
        lacks what the format requires; the message names the file, the zip member and the
        element, and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    reader = _Reader(path)
    reader.open()
    try:
        rows = reader.segments(question_of or default_question_of)
    finally:
        reader.zip.close()
    frame = pd.DataFrame(rows, columns=[*RAW_COLUMNS, "_source"])
    for col, label in (("case_id", "a case"), ("respondent_role", "a respondent_role variable")):
        missing = frame.loc[frame[col].isna(), "_source"].unique().tolist()
        if missing:
            warnings.warn(f"{path}: {len(missing)} source(s) have no {label} (e.g. {missing[:3]}); "
                          f"their segments keep {col} missing", stacklevel=2)
    frame = frame.drop(columns="_source")
    for col in ("start", "end"):
        frame[col] = frame[col].astype("Int64")
    for col in RAW_COLUMNS:
        if col not in ("start", "end"):
            frame[col] = frame[col].astype("str")
    frame.attrs.update(source=str(path), sha256=sha256_file(path), synthetic=is_synthetic(path),
                       format="qdpx")
    return frame


# ---------------------------------------------------------------------------------------------
# writing
def _guid(*parts) -> str:
    return str(uuid.uuid5(_GUID_NS, "\x1f".join(str(p) for p in parts)))


def _as_guid(value, *parts) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return _guid(*parts, value)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA


def _sub(parent, tag, **attrs):
    return ET.SubElement(parent, f"{_N}{tag}", {k: str(v) for k, v in attrs.items() if v is not None})


def write_qdpx_segments(
    segments: pd.DataFrame,
    path,
    *,
    code_groups: Mapping[str, str] | None = None,
    code_descriptions: Mapping[str, str] | None = None,
    question_codes: Mapping[str, str] | None = None,
    question_text: Callable[[str, str], str] | None = None,
    role_labels: Mapping[str, str] | None = None,
    project_name: str = "cqc-research coded interviews",
    description: str | None = None,
) -> Path:
    """Write coded segments as a REFI-QDA project (``.qdpx``).

    Each respondent becomes a ``TextSource`` whose text is the interview rebuilt from its
    excerpts, question by question; each case becomes a ``Case`` with a ``location_id``
    variable; each segment becomes a ``PlainTextSelection`` coded with its codes; each answer is
    coded with its question's structural code, so :func:`read_qdpx_segments` gives the same
    table back. The output is deterministic: the same table gives the same bytes.

    Parameters
    ----------
    segments : DataFrame
        Columns ``case_id, respondent_role, question, code, excerpt`` and optionally
        ``location_id, respondent_id, segment_id``. Rows sharing a ``segment_id`` (or, without
        one, the same respondent, question and excerpt) are one selection with several codes.
    path : str or Path
        The ``.qdpx`` file to write (atomically).
    code_groups : mapping, optional
        code -> parent code name (e.g. ``"Improvement theme"``), to nest codes. Every code named
        here is written to the code book, in this order, even when no segment uses it (so the
        project can be coded further in QDA software); codes of the segments not named here
        follow, at the top level.
    code_descriptions : mapping, optional
        code -> description written in the code book.
    question_codes : mapping, optional
        question -> the structural code's name (default: the question itself).
    question_text : callable, optional
        ``question_text(question, role)`` gives the wording put in the transcript.
    role_labels : mapping, optional
        role -> label shown in each transcript's first line.
    project_name, description : str
        The project's name and description.

    Returns
    -------
    Path
    """
    need = ["case_id", "respondent_role", "question", "code", "excerpt"]
    missing = [c for c in need if c not in segments.columns]
    if missing:
        raise ValueError(f"segments lack columns {missing}; expected at least {need}")
    seg = segments.copy()
    for col in ("location_id", "respondent_id", "segment_id"):
        if col not in seg.columns:
            seg[col] = pd.NA
    seg["respondent_id"] = seg["respondent_id"].where(
        seg["respondent_id"].notna(), seg["case_id"].astype(str) + ":" + seg["respondent_role"].astype(str))
    code_groups = dict(code_groups or {})
    code_descriptions = dict(code_descriptions or {})
    question_codes = dict(question_codes or {})

    def qname(q):
        return question_codes.get(q, str(q))

    ET.register_namespace("", NS)
    root = ET.Element(f"{_N}Project", {"name": project_name, "origin": "cqc-research",
                                       "creationDateTime": "2000-01-01T00:00:00Z"})
    user = _guid("user", "cqc-research")
    users = _sub(root, "Users")
    _sub(users, "User", guid=user, name="cqc-research")

    # code book: groups as non-codable parents, then the codes, then the structural codes
    book = _sub(_sub(root, "CodeBook"), "Codes")
    code_guid: dict[str, str] = {}
    parents: dict[str, ET.Element] = {}
    all_codes = list(code_groups) + [c for c in pd.unique(seg["code"].astype(str)) if c not in code_groups]
    for code in all_codes:
        group = code_groups.get(code)
        parent = book
        if group:
            if group not in parents:
                parents[group] = _sub(book, "Code", guid=_guid("group", group), name=group, isCodable="false")
            parent = parents[group]
        el = _sub(parent, "Code", guid=_guid("code", code), name=code, isCodable="true")
        if code_descriptions.get(code):
            _sub(el, "Description").text = str(code_descriptions[code])
        code_guid[code] = el.get("guid")
    questions = [q for q in pd.unique(seg["question"]) if pd.notna(q)]
    q_guid = {}
    if questions:
        guide = _sub(book, "Code", guid=_guid("group", "Interview guide"),
                     name="Interview guide (structural codes)", isCodable="false")
        for q in questions:
            q_guid[q] = _sub(guide, "Code", guid=_guid("question", q), name=qname(q), isCodable="true").get("guid")

    variables = _sub(root, "Variables")
    var_guid = {}
    for name in ("location_id", "respondent_role"):
        var_guid[name] = _sub(variables, "Variable", guid=_guid("variable", name), name=name,
                              typeOfVariable="Text").get("guid")

    def value(parent, name, text):
        vv = _sub(parent, "VariableValue")
        _sub(vv, "VariableRef", targetGUID=var_guid[name])
        _sub(vv, "TextValue").text = str(text)

    # sources: one per respondent, answers grouped by question in order of first appearance
    cases_el = _sub(root, "Cases")
    sources_el = _sub(root, "Sources")
    texts: dict[str, str] = {}
    case_sources: dict[str, list[str]] = {}
    case_location: dict[str, str] = {}
    # plain Python over records: grouping per respondent with pandas is slow for thousands of interviews
    interviews: dict = {}
    for rec in seg[["case_id", "location_id", "respondent_id", "respondent_role", "question", "code",
                    "excerpt", "segment_id"]].to_dict("records"):
        rec = {k: (None if _missing(v) else v) for k, v in rec.items()}
        resp = rec["respondent_id"]
        it = interviews.setdefault(resp, {"case_id": str(rec["case_id"]), "role": rec["respondent_role"],
                                          "location_id": rec["location_id"], "questions": {}})
        if it["location_id"] is None:
            it["location_id"] = rec["location_id"]
        answers = it["questions"].setdefault(rec["question"], {})
        key = rec["segment_id"] if rec["segment_id"] is not None else str(rec["excerpt"])
        sel = answers.setdefault(key, {"excerpt": str(rec["excerpt"]), "segment_id": rec["segment_id"],
                                       "codes": []})
        if str(rec["code"]) not in sel["codes"]:
            sel["codes"].append(str(rec["code"]))
    for resp, it in interviews.items():
        case_id, role = it["case_id"], it["role"]
        src_guid = _guid("source", resp)
        case_sources.setdefault(case_id, []).append(src_guid)
        if it["location_id"] is not None:
            case_location.setdefault(case_id, str(it["location_id"]))
        label = (role_labels or {}).get(role, role)
        parts = [f"Interview {resp} ({label}), case {case_id}\n"]
        pos = len(parts[0])
        selections = []
        for q, answers in it["questions"].items():
            header = "\n"
            if q is not None:
                header += f"{qname(q)}. {question_text(q, role) if question_text else ''}".rstrip() + "\n"
            else:
                header += "(question not recorded)\n"
            q_start = pos + 1
            parts.append(header)
            pos += len(header)
            for sel in answers.values():
                excerpt, sid = sel["excerpt"], sel["segment_id"]
                sel_guid = _as_guid(sid, "selection", resp, q, excerpt) if sid is not None else \
                    _guid("selection", resp, q, excerpt)
                selections.append((sel_guid, pos, pos + len(excerpt), sel["codes"]))
                parts.append(excerpt + "\n")
                pos += len(excerpt) + 1
            if q is not None:
                selections.append((_guid("answer", resp, q), q_start, pos - 1, None, q))
        text = "".join(parts)
        texts[src_guid] = text
        src = _sub(sources_el, "TextSource", guid=src_guid, name=str(resp),
                   plainTextPath=f"internal://{src_guid}.txt", creatingUser=user)
        for sel in selections:
            sel_guid, start, end, codes = sel[:4]
            el = _sub(src, "PlainTextSelection", guid=sel_guid, startPosition=start, endPosition=end,
                      creatingUser=user)
            targets = [q_guid[sel[4]]] if codes is None else [code_guid[c] for c in codes]
            for t in targets:
                coding = _sub(el, "Coding", guid=_guid("coding", sel_guid, t), creatingUser=user)
                _sub(coding, "CodeRef", targetGUID=t)
        if role is not None:
            value(src, "respondent_role", role)
    for case_id, srcs in case_sources.items():
        case = _sub(cases_el, "Case", guid=_guid("case", case_id), name=case_id)
        if case_id in case_location:
            value(case, "location_id", case_location[case_id])
        for s in srcs:
            _sub(case, "SourceRef", targetGUID=s)
    if description:
        _sub(root, "Description").text = description
    ET.indent(root, space=" ")
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)

    path = Path(path)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zipfile.ZipInfo("project.qde", _ZIP_DATE), xml, compress_type=zipfile.ZIP_DEFLATED)
            for guid, text in texts.items():
                zf.writestr(zipfile.ZipInfo(f"Sources/{guid}.txt", _ZIP_DATE), text.encode("utf-8"),
                            compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_qdc(codes, path, *, origin: str = "cqc-research") -> Path:
    """Write a REFI-QDA codebook (``.qdc``): codes nested under non-codable parent codes.

    Parameters
    ----------
    codes : iterable of (parent, name, description)
        ``parent`` may be None for a top-level code.
    path : str or Path
        The ``.qdc`` file to write.
    origin : str
        Written to the ``origin`` attribute.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    ns = f"{{{NS_CODEBOOK}}}"
    ET.register_namespace("", NS_CODEBOOK)
    root = ET.Element(f"{ns}CodeBook", {"origin": origin})
    top = ET.SubElement(root, f"{ns}Codes")
    parents: dict[str, ET.Element] = {}
    for parent, name, description in codes:
        holder = top
        if parent:
            if parent not in parents:
                parents[parent] = ET.SubElement(top, f"{ns}Code", {"guid": _guid("group", parent), "name": parent,
                                                                  "isCodable": "false"})
            holder = parents[parent]
        el = ET.SubElement(holder, f"{ns}Code", {"guid": _guid("code", name), "name": name, "isCodable": "true"})
        if description:
            ET.SubElement(el, f"{ns}Description").text = description
    ET.indent(root, space=" ")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return path
