"""Mixed methods: a qualitative coding frame for CQC's impact, joined to rating histories.

Four of the eight mechanisms through which regulation changes services (relational,
organisational, stakeholder, lateral) are mostly visible in interviews, not in routine data.
This module lets coded interviews sit beside the numbers:

1. **Codebook** (:func:`load_codebook`, :func:`merge_codebooks`): the eight impact mechanisms,
   the six improvement themes, each with a definition and inclusion/exclusion notes, and a
   13-question interview guide worded for managers, staff, people using the service or their
   families, and commissioners. Shipped as YAML in ``cqc_research/codebooks/``; researchers
   can extend it or bring their own.
2. **Import** (:func:`read_coded_segments`, :func:`read_qdpx`, :func:`read_segments_csv`):
   REFI-QDA project files (``.qdpx``, exported by NVivo, ATLAS.ti, MAXQDA, QualCoder) and a
   plain CSV of coded segments, into one tidy table (:data:`SEGMENT_COLUMNS`). Codes that are not
   in the codebook are kept and reported (:func:`unknown_codes`), never dropped.
   :func:`write_qdpx` exports.
3. **Analysis**: :func:`code_frequencies` and :func:`code_cooccurrence` by case, respondent or
   segment, by role and by mechanism; :func:`case_outcomes` follows each case's CQC location
   through its rating history (improved or not at the next inspection, time to improvement);
   :func:`cases_with_outcomes` gives the case-by-code matrix joined to those outcomes;
   :func:`compare_prevalence` and :func:`time_to_improvement` set codes beside outcomes with
   exact confidence intervals. Read them as description: see :data:`DESCRIPTIVE_CAVEAT`.
4. **Synthetic coded interviews** (:func:`write_synthetic_interviews`): invented excerpts, each
   labelled ``[SYNTHETIC]``, with planted patterns and their truth.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import atomic_path, sha256_file
from .errors import DataFormatError
from .provenance import is_synthetic

__all__ = [
    "Codebook",
    "load_codebook",
    "merge_codebooks",
    "codebook_from",
    "DEFAULT_CODEBOOK",
    "SEGMENT_COLUMNS",
    "DESCRIPTIVE_CAVEAT",
    "read_coded_segments",
    "read_segments_csv",
    "read_qdpx",
    "write_qdpx",
    "standardise_segments",
    "unknown_codes",
    "case_table",
    "code_frequencies",
    "code_cooccurrence",
    "case_code_matrix",
    "case_outcomes",
    "cases_with_outcomes",
    "prevalence_by_group",
    "compare_prevalence",
    "time_to_improvement",
    "clopper_pearson",
    "plot_frequencies",
    "plot_heatmap",
    "plot_prevalence",
    "plot_case_matrix",
    "write_synthetic_interviews",
    "SYNTHETIC_PREVALENCE",
    "configure_parser",
    "run_command",
]

#: The codebook shipped with the package.
DEFAULT_CODEBOOK = "cqc_improvement.yaml"

#: Columns of the tidy coded-segments table, one row per (segment, code).
SEGMENT_COLUMNS = [
    "case_id",          # the case (service) studied
    "location_id",      # its CQC location ID (NA when not recorded)
    "respondent_id",    # the interview (one respondent)
    "respondent_role",  # a codebook role (manager, staff, person_or_family, commissioner) or as written
    "question",         # a guide question id (q01..q13) or as written; NA when not recorded
    "code",             # the codebook code, or the code as written when it is not in the codebook
    "code_group",       # mechanism, theme, ... or "unknown"
    "in_codebook",      # False for codes the codebook does not hold
    "excerpt",          # the coded text
    "segment_id",       # one id per coded excerpt (a segment with two codes has two rows)
    "start", "end",     # character offsets in the transcript (REFI-QDA only)
]

#: What every comparison of codes between improved and not-improved cases must say.
DESCRIPTIVE_CAVEAT = (
    "These comparisons are descriptive. Qualitative case studies are few, purposively chosen and "
    "coded by people; a difference in how often a code appears shows what respondents in each "
    "group talked about, not what caused improvement. Exact intervals are wide with small n, and "
    "many codes are compared at once, so some differences will arise by chance."
)

_SECTIONS = ("roles", "groups", "codes", "questions")
_KEYS = {"roles": "role", "groups": "group", "codes": "code", "questions": "id"}
_REQUIRED = {
    "roles": ("role", "label"),
    "groups": ("group", "label"),
    "codes": ("code", "group", "label", "definition", "include", "exclude"),
    "questions": ("id", "topic", "text"),
}
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_QUESTION = re.compile(r"^\s*(?:q|question)\s*[-_.:]?\s*0*(\d{1,3})\b", re.I)


def _key(text) -> str:
    """Fold case, spacing, underscores and dashes so that variants compare equal."""
    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


# =============================================================================================
# codebook
@dataclass(frozen=True)
class Codebook:
    """A coding frame: respondent roles, code groups, codes, and the interview guide.

    Build one with :func:`load_codebook`. The tables are tidy frames:

    ``roles``: ``role, label, aliases``; ``groups``: ``group, label, description``;
    ``codes``: ``code, group, label, definition, include, exclude, aliases``;
    ``questions``: ``id, number, topic, role, text`` (one row per question and role).
    """

    name: str
    version: str
    description: str
    roles: pd.DataFrame
    groups: pd.DataFrame
    codes: pd.DataFrame
    questions: pd.DataFrame
    sources: tuple[str, ...] = ()
    _spec: dict = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        n = self.codes["group"].value_counts().to_dict()
        return (f"Codebook({self.name!r}, version {self.version!r}, codes={n}, "
                f"questions={self.questions['id'].nunique()}, roles={len(self.roles)})")

    # -- lookups ----------------------------------------------------------------------------
    def _lookup(self, section: str) -> dict[str, str]:
        return self._spec["_lookup"][section]

    def match_code(self, name) -> str | None:
        """The codebook code for a code as written (by code, label or alias), else None.

        Examples
        --------
        >>> cb = load_codebook()
        >>> cb.match_code("Person-centred care"), cb.match_code("Improvement themes/Leadership")
        ('person_centred_care', 'leadership')
        """
        if name is None or (isinstance(name, float) and np.isnan(name)):
            return None
        lookup = self._lookup("codes")
        text = str(name)
        if _key(text) in lookup:
            return lookup[_key(text)]
        leaf = text.replace("\\", "/").rsplit("/", 1)[-1]
        return lookup.get(_key(leaf))

    def match_role(self, name) -> str | None:
        """The codebook role for a role as written (by role, label or alias), else None."""
        if name is None or (isinstance(name, float) and np.isnan(name)):
            return None
        return self._lookup("roles").get(_key(name))

    def match_question(self, name) -> str | None:
        """The guide question id for ``q5``, ``Q05 leadership``, ``5``, a topic or a wording."""
        if name is None or (isinstance(name, float) and np.isnan(name)):
            return None
        text = str(name).strip()
        lookup = self._lookup("questions")
        if _key(text) in lookup:
            return lookup[_key(text)]
        m = _QUESTION.match(text) or re.fullmatch(r"0*(\d{1,3})", text)
        if m:
            return self._spec["_numbers"].get(int(m.group(1)))
        return None

    def question_text(self, question: str, role=None) -> str:
        """The wording of a question for a role (the default wording when the role has none)."""
        qid = self.match_question(question) or question
        texts = self._spec["_texts"].get(qid, {})
        return texts.get(self.match_role(role) or role) or texts.get("default") or ""

    @property
    def code_order(self) -> list[str]:
        """Codes in codebook order (groups in order, then codes within each group)."""
        return self.codes["code"].tolist()

    def to_dict(self) -> dict:
        """The codebook as the dictionary its YAML holds."""
        return {k: v for k, v in self._spec.items() if not k.startswith("_")}

    def to_qdc(self, path) -> Path:
        """Write the codebook in the REFI-QDA codebook exchange format (``.qdc``).

        NVivo, ATLAS.ti, MAXQDA and QualCoder import it, so coders start from the same frame:
        one parent code per group (not codable) holding its codes, each with its definition and
        inclusion and exclusion notes, and an "Interview guide (structural codes)" parent
        holding one code per question (``q01 reaction`` ...) for coding whole answers.
        """
        from .io.qdpx import write_qdc

        group_label = dict(zip(self.groups["group"], self.groups["label"], strict=True))
        codes = [(group_label[r.group], r.code,
                  f"{r.definition} Include: {r.include} Exclude: {r.exclude}") for r in self.codes.itertuples()]
        first = self.questions.drop_duplicates("id")
        questions = [("Interview guide (structural codes)", f"{r.id} {r.topic}",
                      " / ".join(f"{q.role}: {q.text}" for q in self.questions[self.questions["id"] == r.id].itertuples()))
                     for r in first.itertuples()]
        return write_qdc(codes + questions, path, origin=f"cqc-research codebook {self.name} {self.version}")

    def to_yaml(self, path) -> Path:
        """Write the codebook as YAML (atomically)."""
        import yaml

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100),
                           encoding="utf-8")
        return path


def _default_path():
    return importlib.resources.files("cqc_research") / "codebooks" / DEFAULT_CODEBOOK


_YAML_CACHE: dict = {}


def _read_yaml(path) -> dict:
    """Read and check one codebook file (memoised by path, size and modification time)."""
    import copy

    try:
        st = Path(str(path)).stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _YAML_CACHE:
        return copy.deepcopy(_YAML_CACHE[key])
    data = _read_yaml_uncached(path)
    if key is not None:
        _YAML_CACHE[key] = copy.deepcopy(data)
    return data


def _read_yaml_uncached(path) -> dict:
    import yaml

    where = str(path)
    try:
        text = Path(str(path)).read_text(encoding="utf-8") if not hasattr(path, "read_text") \
            else path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text (byte {exc.start}); expected a YAML codebook",
                              path=where) from exc
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataFormatError(f"not valid YAML{at} ({getattr(exc, 'problem', exc)}); expected a codebook "
                              f"mapping with sections {list(_SECTIONS)}", path=where) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DataFormatError(f"the file holds a {type(data).__name__}; expected a mapping with "
                              f"sections {list(_SECTIONS)}", path=where)
    unknown = set(data) - {"name", "version", "description", *_SECTIONS}
    if unknown:
        raise DataFormatError(f"unknown top-level key(s) {sorted(unknown)}; expected name, version, "
                              f"description and the sections {list(_SECTIONS)}", path=where)
    for section in _SECTIONS:
        entries = data.get(section) or []
        if not isinstance(entries, list):
            raise DataFormatError(f"section {section!r} is a {type(entries).__name__}; expected a list "
                                  f"of entries, each with {list(_REQUIRED[section])}", path=where)
        seen = set()
        for i, entry in enumerate(entries):
            _check_entry(section, i, entry, where)
            k = entry[_KEYS[section]]
            if k in seen:
                raise DataFormatError(f"{section}[{i}]: {_KEYS[section]} {k!r} appears twice", path=where)
            seen.add(k)
        data[section] = [dict(e, _from=where, _index=i) for i, e in enumerate(entries)]
    return data


def _check_entry(section: str, i: int, entry, where: str) -> None:
    label = f"{section}[{i}]"
    if not isinstance(entry, dict):
        raise DataFormatError(f"{label} is a {type(entry).__name__}; expected a mapping with keys "
                              f"{list(_REQUIRED[section])}", path=where)
    name = entry.get(_KEYS[section])
    if name is not None:
        label = f"{label} ({name!r})"
    missing = [k for k in _REQUIRED[section] if entry.get(k) in (None, "", [], {})]
    if missing:
        raise DataFormatError(f"{label}: missing {missing}; every {section[:-1]} needs "
                              f"{list(_REQUIRED[section])}", path=where)
    ident = str(entry[_KEYS[section]])
    if section != "questions" and not _IDENT.match(ident):
        raise DataFormatError(f"{label}: {_KEYS[section]} {ident!r} must be a lower-case identifier "
                              "(letters, digits and underscores, starting with a letter)", path=where)
    if section == "questions":
        if not re.fullmatch(r"q\d{2,3}", ident):
            raise DataFormatError(f"{label}: id {ident!r} must look like q01, q02, ...", path=where)
        if not isinstance(entry["text"], dict | str):
            raise DataFormatError(f"{label}: text must be a string or a mapping of role -> wording",
                                  path=where)
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise DataFormatError(f"{label}: aliases must be a list of strings", path=where)
    for k in ("label", "definition", "include", "exclude", "description", "topic"):
        if k in entry and not isinstance(entry[k], str):
            raise DataFormatError(f"{label}: {k} must be text, not {type(entry[k]).__name__}", path=where)


def _merge_specs(base: dict, other: dict, *, replace: bool) -> dict:
    out = {k: v for k, v in base.items() if not k.startswith("_")}
    for k in ("name", "version", "description"):
        if other.get(k) and not base.get(k):
            out[k] = other[k]
    for section in _SECTIONS:
        entries = [dict(e) for e in base.get(section, [])]
        index = {e[_KEYS[section]]: i for i, e in enumerate(entries)}
        for e in other.get(section, []):
            k = e[_KEYS[section]]
            if k in index:
                if not replace:
                    raise DataFormatError(
                        f"{section}: {_KEYS[section]} {k!r} is already defined (in {entries[index[k]].get('_from')}); "
                        "pass replace=True to let the later codebook replace it", path=e.get("_from"))
                entries[index[k]] = dict(e)
            else:
                index[k] = len(entries)
                entries.append(dict(e))
        out[section] = entries
    out.setdefault("sources", [])
    return out


def _build(spec: dict, sources: Sequence[str]) -> Codebook:
    """Validate a complete codebook specification and build the tables."""
    where = sources[-1] if sources else None

    def err(msg, entry=None):
        return DataFormatError(msg, path=(entry or {}).get("_from", where))

    roles = spec.get("roles", [])
    groups = spec.get("groups", [])
    codes = spec.get("codes", [])
    questions = spec.get("questions", [])
    for section, entries in (("roles", roles), ("groups", groups), ("codes", codes)):
        if not entries:
            raise err(f"the codebook has no {section}; expected at least one entry under {section}:")
    role_ids = [r["role"] for r in roles]
    group_ids = [g["group"] for g in groups]
    for i, c in enumerate(codes):
        if c["group"] not in group_ids:
            raise err(f"codes[{c.get('_index', i)}] ({c['code']!r}): group {c['group']!r} is not among the groups "
                      f"{group_ids}; add it under groups: or merge with a codebook that defines it", c)
    if "unknown" in group_ids:
        raise err("'unknown' is reserved for codes that are not in the codebook; choose another group name")
    texts, numbers = {}, {}
    for i, q in enumerate(questions):
        t = q["text"]
        t = {"default": t} if isinstance(t, str) else dict(t)
        bad = [r for r in t if r != "default" and r not in role_ids]
        if bad:
            raise err(f"questions[{q.get('_index', i)}] ({q['id']!r}): wording for unknown role(s) {bad}; roles are "
                      f"{role_ids} (or 'default')", q)
        lacking = [r for r in role_ids if r not in t]
        if lacking and "default" not in t:
            raise err(f"questions[{q.get('_index', i)}] ({q['id']!r}): no wording for role(s) {lacking}; give one per role "
                      "or a 'default' wording", q)
        texts[q["id"]] = t
        numbers[int(q["id"][1:])] = q["id"]

    lookups: dict[str, dict[str, str]] = {}
    for section, entries, names in (("codes", codes, ("code", "label")), ("roles", roles, ("role", "label")),
                                    ("questions", questions, ("id", "topic"))):
        lk: dict[str, str] = {}
        for e in entries:
            ident = e[_KEYS[section]]
            keys = [e.get(n) for n in names] + list(e.get("aliases", []))
            if section == "questions":
                keys += list(texts[ident].values())
            for k in keys:
                if not k:
                    continue
                kk = _key(k)
                if kk in lk and lk[kk] != ident:
                    raise err(f"{section}: {k!r} would name both {lk[kk]!r} and {ident!r}; "
                              "labels and aliases must be unique", e)
                lk[kk] = ident
        lookups[section] = lk

    order = {g: i for i, g in enumerate(group_ids)}
    code_rows = sorted(
        ({"code": c["code"], "group": c["group"], "label": c["label"],
          "definition": " ".join(str(c["definition"]).split()),
          "include": " ".join(str(c["include"]).split()), "exclude": " ".join(str(c["exclude"]).split()),
          "aliases": tuple(c.get("aliases", []))} for c in codes),
        key=lambda r: order[r["group"]])
    q_rows = [{"id": q["id"], "number": int(q["id"][1:]), "topic": q["topic"], "role": r,
               "text": texts[q["id"]].get(r) or texts[q["id"]]["default"]}
              for q in questions for r in role_ids]
    clean = {k: v for k, v in spec.items() if not k.startswith("_") and k != "sources"}
    for section in _SECTIONS:
        clean[section] = [{k: v for k, v in e.items() if not k.startswith("_")} for e in spec.get(section, [])]
    clean["_lookup"] = lookups
    clean["_texts"] = texts
    clean["_numbers"] = numbers
    return Codebook(
        name=str(spec.get("name") or "codebook"), version=str(spec.get("version") or ""),
        description=" ".join(str(spec.get("description") or "").split()),
        roles=pd.DataFrame([{"role": r["role"], "label": r["label"], "aliases": tuple(r.get("aliases", []))}
                            for r in roles]),
        groups=pd.DataFrame([{"group": g["group"], "label": g["label"],
                              "description": " ".join(str(g.get("description", "")).split())} for g in groups]),
        codes=pd.DataFrame(code_rows),
        questions=pd.DataFrame(q_rows, columns=["id", "number", "topic", "role", "text"]).sort_values(
            "number", kind="stable").reset_index(drop=True),
        sources=tuple(sources), _spec=clean)


def _spec_of(item) -> tuple[dict, list[str]]:
    if isinstance(item, Codebook):
        spec = item.to_dict()
        for section in _SECTIONS:
            spec[section] = [dict(e, _from=(item.sources[-1] if item.sources else item.name))
                             for e in spec.get(section, [])]
        return spec, list(item.sources)
    if item is None:
        item = _default_path()
    return _read_yaml(item), [str(item)]


def load_codebook(path=None, *, extend=None, replace: bool = False) -> Codebook:
    """Load a codebook from YAML: the shipped one by default, optionally extended.

    Parameters
    ----------
    path : str or Path, optional
        A complete codebook (roles, groups, codes, questions). Default: the shipped
        ``cqc_research/codebooks/cqc_improvement.yaml``.
    extend : path or list of paths, optional
        Partial codebooks merged on top, in order: new roles, groups, codes or questions are
        added. A file may hold only the sections it changes.
    replace : bool
        Let an extension redefine an existing entry (otherwise that is an error).

    Returns
    -------
    Codebook

    Raises
    ------
    DataFormatError
        Naming the file and the entry (``codes[3] ('leadership')``) and what was expected, for
        malformed YAML, missing keys, unknown groups or roles, or clashing names.

    Examples
    --------
    >>> cb = load_codebook()
    >>> cb.codes.groupby("group", sort=False).size().to_dict()
    {'mechanism': 8, 'theme': 6}
    >>> cb.question_text("q13", "manager")
    'What are the top five actions that helped your service improve?'
    """
    extras = [extend] if isinstance(extend, str | Path) else list(extend or [])
    return merge_codebooks(path, *extras, replace=replace)


def merge_codebooks(base=None, *others, replace: bool = False) -> Codebook:
    """Merge codebooks (objects or YAML paths; ``None`` is the shipped codebook).

    Later codebooks add entries; an entry whose key (``code``, ``role``, ``group`` or question
    ``id``) already exists is an error unless ``replace=True``. The result is validated as a
    whole, so a partial file (only ``codes:``, say) can refer to groups defined earlier.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> extra = pathlib.Path(tempfile.mkdtemp()) / "extra.yaml"
    >>> _ = extra.write_text('''
    ... groups: [{group: emergent, label: Emergent}]
    ... codes:
    ...   - {code: agency_staff, group: emergent, label: Agency staff,
    ...      definition: Reliance on agency workers., include: Shifts covered by agency.,
    ...      exclude: Permanent staffing (code staffing).}
    ... ''')
    >>> merge_codebooks(None, extra).match_code("Agency staff")
    'agency_staff'
    """
    spec, sources = _spec_of(base)
    for other in others:
        o, s = _spec_of(other)
        spec = _merge_specs(spec, o, replace=replace)
        sources += s
    return _build(spec, sources)


def codebook_from(path=None) -> Codebook:
    """The codebook a notebook or command asks for, by one path.

    ``None``, ``""`` or ``"shipped"`` give the shipped codebook. A YAML file holding all four
    sections (roles, groups, codes, questions) is a complete codebook and is used alone; a file
    holding only some of them extends the shipped codebook (:func:`load_codebook` with
    ``extend=``).
    """
    if path is None or str(path).strip() in ("", "shipped"):
        return load_codebook()
    spec = _read_yaml(path)
    if all(spec.get(section) for section in _SECTIONS):
        return load_codebook(path)
    return load_codebook(extend=path)


def _resolve_codebook(codebook) -> Codebook:
    if isinstance(codebook, Codebook):
        return codebook
    return load_codebook(codebook)


# =============================================================================================
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
        target = _CSV_COLUMNS.get(_key(col))
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
    from .io.qdpx import default_question_of, read_qdpx_segments

    cb = _resolve_codebook(codebook)

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
    counts them. Returns the columns :data:`SEGMENT_COLUMNS`.
    """
    cb = _resolve_codebook(codebook)
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
    out.attrs["codebook"] = cb.name
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
    cb = _resolve_codebook(codebook)
    if "in_codebook" in segments:
        unknown = segments[~segments["in_codebook"].astype(bool)]
    else:
        unknown = segments[segments["code"].map(cb.match_code).isna()]
    cols = ["code", "n_segments", "n_respondents", "n_cases", "roles", "suggestion"]
    if unknown.empty:
        return pd.DataFrame(columns=cols)
    names = {**{_key(c): c for c in cb.codes["code"]}, **{_key(lab): c for lab, c in
                                                           zip(cb.codes["label"], cb.codes["code"], strict=True)}}
    rows = []
    for code, g in unknown.groupby("code", sort=False):
        close = difflib.get_close_matches(_key(code), list(names), n=1, cutoff=0.75)
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
    """
    from .io.qdpx import write_qdpx_segments

    cb = _resolve_codebook(codebook)
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


# =============================================================================================
# analysis helpers
def clopper_pearson(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) confidence interval for a binomial proportion ``k / n``.

    Returns NaN bounds where ``n`` is 0.

    Examples
    --------
    >>> lo, hi = clopper_pearson(7, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.3475, 0.9333)
    """
    from scipy.stats import beta

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, beta.ppf(alpha / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    bad = n <= 0
    lo = np.where(bad, np.nan, lo)
    hi = np.where(bad, np.nan, hi)
    return lo, hi


_UNITS = {"case": ["case_id"], "respondent": ["case_id", "respondent_id"], "segment": ["segment_id"]}


def _unit_cols(unit: str) -> list[str]:
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {list(_UNITS)}, not {unit!r}")
    return _UNITS[unit]


def _as_list(x) -> list:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _code_order(codes: Iterable[str], codebook=None) -> list[str]:
    cb = _resolve_codebook(codebook)
    order = {c: i for i, c in enumerate(cb.code_order)}
    return sorted(set(codes), key=lambda c: (order.get(c, len(order)), c))


def code_frequencies(data: pd.DataFrame, *, by=None, unit: str = "case", level: str = "code",
                     alpha: float = 0.05, codebook=None) -> pd.DataFrame:
    """How often each code (or code group) appears, per case, respondent or segment.

    Parameters
    ----------
    data : DataFrame
        Coded segments (:func:`read_coded_segments`).
    by : str or list of str, optional
        Strata, e.g. ``"respondent_role"``: the denominator is then the units in that stratum
        (for ``unit="case"`` and ``by="respondent_role"``: the cases with a respondent in that
        role; the numerator, those where a respondent in that role was coded with the code).
        Every code appears in every stratum, with zero counts where it was never coded.
    unit : {"case", "respondent", "segment"}
        What is counted.
    level : {"code", "group"}
        ``"group"`` counts a unit once if any code of the group (mechanism, theme) appears.
    alpha : float
        1 - confidence level of the exact (Clopper-Pearson) interval for ``share``.

    Returns
    -------
    pandas.DataFrame
        ``[by...], code, code_group, n_segments, n_units, n_total, share, ci_low, ci_high``.
        Units with no coded segment at all are not in ``data`` and so not in ``n_total``; use
        :func:`case_code_matrix` with ``cases=`` when they matter.
    """
    if level not in ("code", "group"):
        raise ValueError(f"level must be 'code' or 'group', not {level!r}")
    by = _as_list(by)
    ucols = _unit_cols(unit)
    df = data.copy()
    if level == "group":
        df["code"] = df["code_group"]
    keys = [*by, "code", "code_group"]
    n_units = df[[*keys, *ucols]].drop_duplicates().groupby(keys, dropna=False).size().rename("n_units")
    n_segments = df.groupby(keys, dropna=False)["segment_id"].nunique().rename("n_segments")
    counted = pd.concat([n_segments, n_units], axis=1).reset_index()
    if by:
        totals = df[[*by, *ucols]].drop_duplicates().groupby(by, dropna=False).size().rename("n_total")
        # every code in every stratum: a code never raised in a stratum is a count of 0, not a gap
        code_groups = counted[["code", "code_group"]].drop_duplicates()
        grid = totals.reset_index()[by].merge(code_groups, how="cross")
        counted = grid.merge(counted, on=keys, how="left").fillna({"n_segments": 0, "n_units": 0})
        counted = counted.merge(totals.reset_index(), on=by, how="left")
    else:
        counted["n_total"] = len(df[ucols].drop_duplicates())
    counted["n_segments"] = counted["n_segments"].astype(int)
    counted["n_units"] = counted["n_units"].astype(int)
    counted["n_total"] = counted["n_total"].astype(int)
    counted["share"] = counted["n_units"] / counted["n_total"]
    counted["ci_low"], counted["ci_high"] = clopper_pearson(counted["n_units"], counted["n_total"], alpha)
    if level == "group":
        counted["code_group"] = counted["code"]
        order = {g: i for i, g in enumerate(_resolve_codebook(codebook).groups["group"])}
        rank = counted["code"].map(order).fillna(len(order))
    else:
        order = {c: i for i, c in enumerate(_code_order(counted["code"], codebook))}
        rank = counted["code"].map(order)
    counted = counted.assign(_rank=rank).sort_values([*by, "_rank"], kind="stable").drop(columns="_rank")
    counted.insert(len(by), "unit", unit)
    counted.attrs["caveat"] = DESCRIPTIVE_CAVEAT
    return counted.reset_index(drop=True)


def _presence(data: pd.DataFrame, ucols: list[str]) -> pd.DataFrame:
    """Units x codes 0/1 frame."""
    pairs = data[[*ucols, "code"]].drop_duplicates()
    pairs = pairs.assign(_one=1)
    wide = pairs.pivot_table(index=ucols, columns="code", values="_one", aggfunc="max", fill_value=0)
    wide.columns.name = None
    return wide.astype(int)


def code_cooccurrence(data: pd.DataFrame, *, unit: str = "case", by=None, codes=None,
                      alpha: float = 0.05, codebook=None) -> pd.DataFrame:
    """How often two codes appear in the same case, interview or excerpt.

    Parameters
    ----------
    data : DataFrame
        Coded segments.
    unit : {"case", "respondent", "segment"}
        ``"segment"`` counts excerpts coded with both codes.
    by : str or list of str, optional
        Strata, e.g. ``"respondent_role"`` (units are then counted within each stratum).
    codes : list of str, optional
        Restrict to these codes (default: every code present).
    alpha : float
        For the exact interval of ``share_both``.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair of codes (both orders, and the diagonal, so a pivot gives the
        symmetric matrix): ``[by...], code_a, code_b, n_units, n_a, n_b, n_both, share_both,
        ci_low, ci_high, expected_both, jaccard``. ``expected_both`` = n_a * n_b / n_units is
        the count expected if the codes were unrelated; ``jaccard`` = n_both / (n_a + n_b - n_both).
    """
    by = _as_list(by)
    ucols = _unit_cols(unit)
    df = data if codes is None else data[data["code"].isin(codes)]
    strata = df.groupby(by, dropna=False) if by else [((), df)]
    frames = []
    for key, g in strata:
        if by:
            mask = np.ones(len(data), bool)
            for col, v in zip(by, key if isinstance(key, tuple) else (key,), strict=True):
                mask &= (data[col] == v).to_numpy()
            n_units = len(data.loc[mask, ucols].drop_duplicates())
        else:
            n_units = len(data[ucols].drop_duplicates())
        wide = _presence(g, ucols)
        names = _code_order(wide.columns, codebook)
        wide = wide[names]
        m = wide.to_numpy()
        both = m.T @ m
        n = np.diag(both)
        a, b = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
        out = pd.DataFrame({"code_a": np.asarray(names)[a.ravel()], "code_b": np.asarray(names)[b.ravel()],
                            "n_units": n_units, "n_a": n[a.ravel()], "n_b": n[b.ravel()],
                            "n_both": both.ravel()})
        for i, col in enumerate(by):
            out.insert(i, col, key[i] if isinstance(key, tuple) else key)
        frames.append(out)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=[*by, "code_a", "code_b", "n_units", "n_a", "n_b", "n_both"])
    res["share_both"] = res["n_both"] / res["n_units"]
    res["ci_low"], res["ci_high"] = clopper_pearson(res["n_both"], res["n_units"], alpha)
    res["expected_both"] = res["n_a"] * res["n_b"] / res["n_units"]
    res["jaccard"] = res["n_both"] / (res["n_a"] + res["n_b"] - res["n_both"])
    res.insert(len(by), "unit", unit)
    res.attrs["caveat"] = DESCRIPTIVE_CAVEAT
    return res


def case_table(segments: pd.DataFrame, cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per case: ``case_id, location_id, n_respondents, n_segments, roles``.

    The location comes from the segments' ``location_id`` or, where given, from ``cases``
    (columns ``case_id, location_id``, which wins). Cases listed in ``cases`` but with no coded
    segment are kept with zero counts.

    Raises
    ------
    DataFormatError
        When one case carries two different location IDs.
    """
    seg = segments.copy()
    rows = []
    for case_id, g in seg.groupby("case_id", sort=False):
        locs = sorted(set(g["location_id"].dropna().astype(str)))
        if len(locs) > 1:
            raise DataFormatError(f"case {case_id!r} carries {len(locs)} location IDs {locs}; expected one "
                                  "CQC location per case", path=segments.attrs.get("source"),
                                  column="location_id")
        rows.append({"case_id": case_id, "location_id": locs[0] if locs else None,
                     "n_respondents": g["respondent_id"].nunique(), "n_segments": g["segment_id"].nunique(),
                     "roles": ", ".join(sorted(g["respondent_role"].dropna().astype(str).unique()))})
    out = pd.DataFrame(rows, columns=["case_id", "location_id", "n_respondents", "n_segments", "roles"])
    if cases is not None:
        if "case_id" not in cases or "location_id" not in cases:
            raise ValueError("cases needs columns case_id and location_id")
        extra = cases[["case_id", "location_id"]].astype({"case_id": "str", "location_id": "str"})
        out = extra.merge(out.drop(columns="location_id"), on="case_id", how="outer")
        out["n_respondents"] = out["n_respondents"].fillna(0).astype(int)
        out["n_segments"] = out["n_segments"].fillna(0).astype(int)
        out["roles"] = out["roles"].fillna("")
    out["case_id"] = out["case_id"].astype("str")
    out["location_id"] = out["location_id"].astype("str")
    return out.reset_index(drop=True)


def case_code_matrix(data: pd.DataFrame, *, unit: str = "case", value: str = "presence", codes=None,
                     cases=None, codebook=None) -> pd.DataFrame:
    """The case-by-code matrix: one row per case (or respondent), one column per code.

    Parameters
    ----------
    data : DataFrame
        Coded segments.
    unit : {"case", "respondent"}
    value : {"presence", "segments"}
        1/0 for whether the code appears, or the number of coded excerpts.
    codes : list of str, optional
        Columns to give (codes absent from the data are all zero). Default: every code in the
        data, in codebook order, unknown codes last.
    cases : iterable of str, optional
        Units to include even when they have no coded segment (all zeros).

    Returns
    -------
    pandas.DataFrame
        The unit columns, then one integer column per code.
    """
    if unit not in ("case", "respondent"):
        raise ValueError(f"unit must be 'case' or 'respondent', not {unit!r}")
    if value not in ("presence", "segments"):
        raise ValueError(f"value must be 'presence' or 'segments', not {value!r}")
    ucols = _unit_cols(unit)
    codes = list(codes) if codes is not None else _code_order(data["code"].unique(), codebook)
    sub = data[data["code"].isin(codes)]
    if value == "presence":
        wide = _presence(sub, ucols) if len(sub) else pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=ucols))
    else:
        wide = sub.groupby([*ucols, "code"])["segment_id"].nunique().unstack(fill_value=0)
        wide.columns.name = None
    units = data[ucols].drop_duplicates()
    if cases is not None:
        if unit != "case":
            raise ValueError("cases= applies to unit='case'")
        units = pd.concat([units, pd.DataFrame({"case_id": [str(c) for c in cases]})]).drop_duplicates()
    wide = wide.reindex(columns=codes, fill_value=0)
    wide = units.merge(wide.reset_index(), on=ucols, how="left")
    wide[codes] = wide[codes].fillna(0).astype(int)
    return wide.reset_index(drop=True)


def _months(a, b) -> float:
    """Months (of 30.4375 days) from ``a`` to ``b``."""
    return float((pd.Timestamp(b) - pd.Timestamp(a)) / pd.Timedelta(days=1)) / 30.4375


def case_outcomes(cases: pd.DataFrame, history: pd.DataFrame, *, domain: str = "Overall",
                  index: str = "first_inadequate", censor_date=None) -> pd.DataFrame:
    """Follow each case's CQC location through its rating history.

    The *index* rating is the rating the case study is about: by default the location's first
    Inadequate rating for ``domain`` (``index="last_inadequate"`` for the last one); a column
    ``index_date`` in ``cases`` overrides this with the latest rating published on or before that
    date. The case *improved* when the next published rating is better than the index rating.
    *Time to improvement* runs from the index report to the first later report with a better
    rating (not necessarily the next one); cases without one are censored at ``censor_date``.

    Parameters
    ----------
    cases : DataFrame
        ``case_id, location_id`` and optionally ``index_date``.
    history : DataFrame
        The rating-history panel (``io.cqc_json.load_api_folder(folder).history``):
        ``org_id, report_date, domain, rating``.
    domain : str
        ``"Overall"`` or a key question.
    index : {"first_inadequate", "last_inadequate"}
    censor_date : date-like, optional
        End of follow-up; default, the latest report date in ``history``.

    Returns
    -------
    pandas.DataFrame
        One row per case: ``case_id, location_id, status, index_date, index_rating, next_date,
        next_rating, improved, improvement_date, months_to_improvement, followup_months,
        improved_ever, time_months, n_reports_after``. ``status`` is one of ``improved``,
        ``not improved``, ``no later inspection``, ``no index rating``, ``location not found``;
        ``improved`` is NA unless there is a later inspection. ``time_months`` and
        ``improved_ever`` are the survival-analysis pair (time to improvement or to censoring).
    """
    from .ratings import RATING_DTYPE

    if index not in ("first_inadequate", "last_inadequate"):
        raise ValueError(f"index must be 'first_inadequate' or 'last_inadequate', not {index!r}")
    for col in ("case_id", "location_id"):
        if col not in cases:
            raise ValueError(f"cases needs a {col!r} column")
    for col in ("org_id", "report_date", "domain", "rating"):
        if col not in history:
            raise ValueError(f"history needs a {col!r} column (the rating-history panel)")
    h = history[(history["domain"].astype(str) == domain) & history["rating"].notna()]
    h = (h[["org_id", "report_date", "rating"]].sort_values(["org_id", "report_date"], kind="stable")
         .drop_duplicates(["org_id", "report_date"]))
    h = h.assign(score=pd.Categorical(h["rating"], dtype=RATING_DTYPE).codes)
    censor = pd.Timestamp(censor_date) if censor_date is not None else pd.Timestamp(history["report_date"].max())
    groups = {k: g for k, g in h.groupby("org_id", sort=False)}
    rows = []
    for rec in cases.to_dict("records"):
        row = {"case_id": str(rec["case_id"]), "location_id": rec["location_id"], "status": None,
               "index_date": pd.NaT, "index_rating": None, "next_date": pd.NaT, "next_rating": None,
               "improved": pd.NA, "improvement_date": pd.NaT, "months_to_improvement": np.nan,
               "followup_months": np.nan, "improved_ever": pd.NA, "time_months": np.nan,
               "n_reports_after": 0}
        g = groups.get(rec["location_id"]) if pd.notna(rec["location_id"]) else None
        if g is None:
            row["status"] = "location not found"
            rows.append(row)
            continue
        if pd.notna(rec.get("index_date", None)):
            at = g[g["report_date"] <= pd.Timestamp(rec["index_date"])]
            idx = at.iloc[-1:] if len(at) else at
        else:
            inad = g[g["rating"] == "Inadequate"]
            idx = inad.iloc[:1] if index == "first_inadequate" else inad.iloc[-1:]
        if idx.empty:
            row["status"] = "no index rating"
            rows.append(row)
            continue
        i_date, i_score = idx["report_date"].iloc[0], int(idx["score"].iloc[0])
        after = g[g["report_date"] > i_date]
        row.update(index_date=i_date, index_rating=str(idx["rating"].iloc[0]), n_reports_after=len(after),
                   followup_months=_months(i_date, censor))
        better = after[after["score"] > i_score]
        if len(better):
            row.update(improvement_date=better["report_date"].iloc[0], improved_ever=True,
                       months_to_improvement=_months(i_date, better["report_date"].iloc[0]))
            row["time_months"] = row["months_to_improvement"]
        else:
            row.update(improved_ever=False, time_months=row["followup_months"])
        if after.empty:
            row["status"] = "no later inspection"
        else:
            nxt = after.iloc[0]
            improved = bool(nxt["score"] > i_score)
            row.update(next_date=nxt["report_date"], next_rating=str(nxt["rating"]), improved=improved,
                       status="improved" if improved else "not improved")
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        out = pd.DataFrame(columns=list(row.keys()) if rows else [
            "case_id", "location_id", "status", "index_date", "index_rating", "next_date", "next_rating",
            "improved", "improvement_date", "months_to_improvement", "followup_months", "improved_ever",
            "time_months", "n_reports_after"])
    for col in ("index_date", "next_date", "improvement_date"):
        out[col] = pd.to_datetime(out[col])
    for col in ("index_rating", "next_rating"):
        out[col] = pd.Categorical(out[col], dtype=RATING_DTYPE)
    out["improved"] = out["improved"].astype("boolean")
    out["improved_ever"] = out["improved_ever"].astype("boolean")
    out["location_id"] = out["location_id"].astype("str")
    out["case_id"] = out["case_id"].astype("str")
    out.attrs["domain"] = domain
    out.attrs["censor_date"] = str(censor.date())
    return out


def cases_with_outcomes(segments: pd.DataFrame, history: pd.DataFrame, *, cases: pd.DataFrame | None = None,
                        codes=None, codebook=None, **outcome_options) -> pd.DataFrame:
    """The case-by-code matrix joined to each case's rating history.

    One row per case: the :func:`case_outcomes` columns, ``n_respondents, n_segments``, then one
    0/1 column per code (:func:`case_code_matrix`). Cases are matched to CQC locations through
    the segments' ``location_id`` (or ``cases``, columns ``case_id, location_id[, index_date]``).
    """
    table = case_table(segments, cases)
    if cases is not None and "index_date" in cases:
        table = table.merge(cases[["case_id", "index_date"]].astype({"case_id": "str"}), on="case_id", how="left")
    outcomes = case_outcomes(table, history, **outcome_options)
    matrix = case_code_matrix(segments, codes=codes, cases=table["case_id"], codebook=codebook)
    out = outcomes.merge(table[["case_id", "n_respondents", "n_segments"]], on="case_id", how="left") \
        .merge(matrix, on="case_id", how="left")
    code_cols = list(matrix.columns[1:])
    out[code_cols] = out[code_cols].fillna(0).astype(int)
    out.attrs.update(outcomes.attrs)
    out.attrs["codes"] = code_cols
    return out


def _group_labels(group: str) -> tuple[str, str]:
    return (group, f"not_{group}")


def prevalence_by_group(data: pd.DataFrame, *, codes, group: str = "improved", alpha: float = 0.05
                        ) -> pd.DataFrame:
    """Share of cases coded with each code, in each group, with exact intervals (long form).

    Returns
    -------
    pandas.DataFrame
        ``code, group, n, k, prevalence, ci_low, ci_high`` (Clopper-Pearson), one row per code and
        group level; rows whose group is missing are left out.
    """
    d = data[data[group].notna()]
    rows = []
    for code in codes:
        for level, g in d.groupby(group, sort=True):
            k, n = int((g[code] > 0).sum()), len(g)
            rows.append({"code": code, "group": level, "n": n, "k": k})
    out = pd.DataFrame(rows, columns=["code", "group", "n", "k"])
    out["prevalence"] = out["k"] / out["n"]
    out["ci_low"], out["ci_high"] = clopper_pearson(out["k"], out["n"], alpha)
    out.attrs["caveat"] = DESCRIPTIVE_CAVEAT
    return out


def compare_prevalence(data: pd.DataFrame, *, codes=None, group: str = "improved", alpha: float = 0.05,
                       codebook=None) -> pd.DataFrame:
    """Compare how often codes appear in cases that improved and cases that did not.

    Parameters
    ----------
    data : DataFrame
        One row per case with a boolean ``group`` column and 0/1 (or count) code columns, as
        :func:`cases_with_outcomes` returns. Cases whose group is missing are left out (counted
        in ``n_excluded``).
    codes : list of str, optional
        Default: ``data.attrs["codes"]``.
    group : str
        The boolean column splitting the cases.
    alpha : float
        1 - confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per code: ``code, code_group``, for each group (suffix ``_improved`` and
        ``_not_improved`` for ``group="improved"``) ``n, k, prev, ci_low, ci_high`` (exact,
        Clopper-Pearson); ``difference`` with ``diff_ci_low, diff_ci_high`` (Newcombe's score
        interval); ``odds_ratio`` (conditional maximum likelihood) with its exact interval
        ``or_ci_low, or_ci_high``; ``p_fisher`` (Fisher's exact test, two-sided) and ``p_holm``
        (Holm-adjusted over the codes compared); ``n_excluded``. ``attrs["caveat"]`` is
        :data:`DESCRIPTIVE_CAVEAT`.
    """
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import odds_ratio
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import confint_proportions_2indep

    codes = list(codes if codes is not None else data.attrs.get("codes", []))
    if not codes:
        raise ValueError("no codes to compare: pass codes= (columns of data holding 0/1 code presence)")
    if group not in data:
        raise ValueError(f"data has no {group!r} column")
    missing = [c for c in codes if c not in data]
    if missing:
        raise ValueError(f"data lacks code column(s) {missing}")
    d = data[data[group].notna()]
    g1 = d[d[group].astype(bool)]
    g0 = d[~d[group].astype(bool)]
    yes, no = _group_labels(group)
    cb = _resolve_codebook(codebook)
    group_of = dict(zip(cb.codes["code"], cb.codes["group"], strict=True))
    rows = []
    for code in codes:
        k1, n1 = int((g1[code] > 0).sum()), len(g1)
        k0, n0 = int((g0[code] > 0).sum()), len(g0)
        row = {"code": code, "code_group": group_of.get(code, "unknown"),
               f"n_{yes}": n1, f"k_{yes}": k1, f"prev_{yes}": k1 / n1 if n1 else np.nan,
               f"n_{no}": n0, f"k_{no}": k0, f"prev_{no}": k0 / n0 if n0 else np.nan}
        for sfx, k, n in ((yes, k1, n1), (no, k0, n0)):
            lo, hi = clopper_pearson(k, n, alpha)
            row[f"ci_low_{sfx}"], row[f"ci_high_{sfx}"] = float(lo), float(hi)
        if n1 and n0:
            row["difference"] = k1 / n1 - k0 / n0
            lo, hi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=alpha)
            row["diff_ci_low"], row["diff_ci_high"] = float(lo), float(hi)
            table = [[k1, n1 - k1], [k0, n0 - k0]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = odds_ratio(table, kind="conditional")
                ci = res.confidence_interval(1 - alpha)
            row["odds_ratio"], row["or_ci_low"], row["or_ci_high"] = float(res.statistic), float(ci.low), float(ci.high)
            row["p_fisher"] = float(fisher_exact(table).pvalue)
        else:
            row.update(difference=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan, odds_ratio=np.nan,
                       or_ci_low=np.nan, or_ci_high=np.nan, p_fisher=np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    ok = out["p_fisher"].notna()
    out["p_holm"] = np.nan
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p_fisher"], method="holm")[1]
    out["n_excluded"] = int(len(data) - len(d))
    cols = ["code", "code_group"]
    for sfx in (yes, no):
        cols += [f"n_{sfx}", f"k_{sfx}", f"prev_{sfx}", f"ci_low_{sfx}", f"ci_high_{sfx}"]
    cols += ["difference", "diff_ci_low", "diff_ci_high", "odds_ratio", "or_ci_low", "or_ci_high",
             "p_fisher", "p_holm", "n_excluded"]
    out = out[cols]
    out.attrs["caveat"] = DESCRIPTIVE_CAVEAT
    out.attrs["methods"] = ("prevalence: exact Clopper-Pearson; difference: Newcombe score interval; "
                            "odds ratio: conditional MLE with exact interval; p: Fisher's exact, Holm-adjusted")
    return out


def time_to_improvement(data: pd.DataFrame, *, by=None, time: str = "time_months",
                        event: str = "improved_ever", alpha: float = 0.05) -> pd.DataFrame:
    """Median time to a better rating (Kaplan-Meier, censored at the end of follow-up).

    Parameters
    ----------
    data : DataFrame
        One row per case with ``time`` (months from the index rating to the first better rating,
        or to censoring) and ``event`` (True when a better rating was published), as
        :func:`case_outcomes` gives.
    by : str, optional
        A grouping column, e.g. a code column (0/1) or ``"improved"``.
    alpha : float
        1 - confidence level of the median's interval (statsmodels' ``SurvfuncRight``, log-log).

    Returns
    -------
    pandas.DataFrame
        ``[by], n, events, median_months, ci_low, ci_high``; the median is NaN when fewer than
        half the cases improved during follow-up, and an interval bound is NaN when the data
        cannot bound it.
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    d = data[data[time].notna() & data[event].notna()]
    groups = d.groupby(by, sort=True) if by else [(None, d)]
    rows = []
    for level, g in groups:
        t = g[time].to_numpy(dtype=float)
        e = g[event].astype(bool).to_numpy(dtype=int)
        row = {} if by is None else {by: level}
        row.update(n=len(g), events=int(e.sum()), median_months=np.nan, ci_low=np.nan, ci_high=np.nan)
        if len(g) and e.sum():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                sf = SurvfuncRight(t, e)
                med = sf.quantile(0.5)
                lo, hi = sf.quantile_ci(0.5, alpha=alpha)
            row.update(median_months=float(med) if med is not None else np.nan,
                       ci_low=float(lo) if lo is not None else np.nan,
                       ci_high=float(hi) if hi is not None else np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["caveat"] = DESCRIPTIVE_CAVEAT
    return out


# =============================================================================================
# figures
def plot_prevalence(comparison: pd.DataFrame, *, group: str = "improved", ax=None, codebook=None):
    """Dot-and-interval plot of code prevalence in two groups (from :func:`compare_prevalence`)."""
    import matplotlib.pyplot as plt

    yes, no = _group_labels(group)
    cmp = comparison.iloc[::-1].reset_index(drop=True)
    cb = _resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.38 * len(cmp) + 1.4))
    y = np.arange(len(cmp))
    for sfx, offset, colour, name in ((yes, 0.17, "#0b6b3a", yes.replace("_", " ")),
                                      (no, -0.17, "#c8102e", no.replace("_", " "))):
        p = cmp[f"prev_{sfx}"]
        err = np.vstack([p - cmp[f"ci_low_{sfx}"], cmp[f"ci_high_{sfx}"] - p])
        ax.errorbar(p, y + offset, xerr=err, fmt="o", color=colour, ms=5, capsize=2, lw=1.2,
                    label=f"{name} (n={int(cmp[f'n_{sfx}'].iloc[0])})")
    ax.set_yticks(y, [f"{label.get(c, c + ' (not in codebook)')}" for c in cmp["code"]])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of cases in which the code appears (95% exact interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return ax


def _labels(codes, codebook=None) -> list[str]:
    cb = _resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    return [label.get(c, f"{c} (not in codebook)") for c in codes]


_GROUP_COLOURS = {"mechanism": "#1f4e79", "theme": "#6fb33f", "unknown": "#a0a0a0"}


def plot_frequencies(freq: pd.DataFrame, *, ax=None, codebook=None):
    """Bars of the share of units coded with each code, with exact intervals.

    ``freq`` is :func:`code_frequencies` output without ``by``; bars are coloured by code group.
    """
    import matplotlib.pyplot as plt

    f = freq.iloc[::-1].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.32 * len(f) + 1.2))
    y = np.arange(len(f))
    colours = [_GROUP_COLOURS.get(g, "#7a5195") for g in f["code_group"]]
    ax.barh(y, f["share"], color=colours, alpha=0.85)
    ax.errorbar(f["share"], y, xerr=np.vstack([f["share"] - f["ci_low"], f["ci_high"] - f["share"]]),
                fmt="none", ecolor="#333333", capsize=2, lw=1)
    ax.set_yticks(y, _labels(f["code"], codebook))
    ax.set_xlim(0, 1)
    unit = f["unit"].iloc[0] if "unit" in f and len(f) else "case"
    ax.set_xlabel(f"share of {unit}s in which the code appears (95% exact interval; n={int(f['n_total'].max())})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for g, c in _GROUP_COLOURS.items() if g in set(f["code_group"])]
    ax.legend(handles, [g for g in _GROUP_COLOURS if g in set(f["code_group"])], loc="lower right",
              fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_heatmap(table: pd.DataFrame, *, index: str, columns: str, value: str, fmt: str = "{:.0%}",
                 vmax: float | None = None, ax=None, codebook=None, title: str | None = None):
    """A labelled heat map of one column of a tidy table (e.g. code share by respondent role, or
    the Jaccard index of :func:`code_cooccurrence`). Code names are shown with their labels."""
    import matplotlib.pyplot as plt

    wide = table.pivot_table(index=index, columns=columns, values=value, aggfunc="first", observed=True)
    for axis, name in ((0, index), (1, columns)):
        if name in ("code", "code_a", "code_b"):
            wide = wide.reindex(_code_order(wide.axes[axis], codebook), axis=axis)
    m = wide.to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * m.shape[1] + 2.8, 0.38 * m.shape[0] + 1.6))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax if vmax is not None else np.nanmax(m), aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * (vmax or np.nanmax(m)) else "#222222")

    def names(keys, name):
        if name in ("code", "code_a", "code_b"):
            return _labels(keys, codebook)
        return [str(k).replace("_", " ") for k in keys]

    ax.set_xticks(np.arange(m.shape[1]), names(wide.columns, columns), rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.grid(False)
    ax.set_yticks(np.arange(m.shape[0]), names(wide.index, index), fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, shrink=0.7)
    return ax


def plot_case_matrix(data: pd.DataFrame, *, codes=None, group: str = "improved", ax=None, codebook=None):
    """Heat map of the case-by-code matrix, cases sorted by outcome (from :func:`cases_with_outcomes`)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    codes = list(codes if codes is not None else data.attrs.get("codes", []))
    d = data.assign(_g=data[group].astype("float")).sort_values(["_g", "case_id"], ascending=[False, True],
                                                                 na_position="last")
    m = (d[codes].to_numpy() > 0).astype(float)
    cb = _resolve_codebook(codebook)
    label = dict(zip(cb.codes["code"], cb.codes["label"], strict=True))
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * len(codes) + 2.5, min(0.12 * len(d) + 1.8, 14)))
    ax.imshow(m, aspect="auto", interpolation="nearest", cmap=ListedColormap(["#f3f3f3", "#1f4e79"]))
    ax.set_xticks(np.arange(len(codes)), [label.get(c, c) for c in codes], rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.set_yticks([])
    ax.grid(False)
    for x in np.arange(len(codes) - 1) + 0.5:
        ax.axvline(x, color="white", lw=0.8)
    status = d["_g"].to_numpy()
    edges = np.flatnonzero(np.diff(np.nan_to_num(status, nan=-1)) != 0)
    for e in edges:
        ax.axhline(e + 0.5, color="#c8102e", lw=1.5)
    ax.set_ylabel(f"cases ({int(np.nansum(status == 1))} {group.replace('_', ' ')} above the line, "
                  f"{int(np.nansum(status == 0))} not below)")
    return ax


# =============================================================================================
# synthetic coded interviews
#: Planted share of cases coded with each code: (improved, not improved).
SYNTHETIC_PREVALENCE: dict[str, tuple[float, float]] = {
    "anticipatory": (0.25, 0.25),
    "directive": (0.85, 0.85),
    "organisational": (0.60, 0.40),
    "relational": (0.55, 0.25),
    "informational": (0.50, 0.50),
    "stakeholder": (0.40, 0.35),
    "lateral": (0.30, 0.15),
    "systemic": (0.15, 0.15),
    "leadership": (0.70, 0.30),
    "cultural_change": (0.60, 0.35),
    "person_centred_care": (0.55, 0.40),
    "staffing": (0.50, 0.50),
    "working_with_partners": (0.50, 0.30),
    "building_a_community": (0.35, 0.15),
    "agency_staff": (0.25, 0.25),  # an emergent code that the shipped codebook does not hold
}

# (excerpt, roles that could say it or None for any); all invented.
_TEMPLATES: dict[str, list[tuple[str, tuple[str, ...] | None]]] = {
    "anticipatory": [
        ("Before every expected visit we now run our own mock inspection against the five key questions.", None),
        ("We keep the evidence folder up to date every month, so we are never caught out again.", ("manager", "staff")),
        ("The audits we started because CQC might come turned out to tell us most about the care.", ("manager", "staff")),
    ],
    "directive": [
        ("The warning notice gave us a deadline, and the first three months were about meeting it.", None),
        ("Special measures meant there was a clear list of what had to be fixed and by when.", None),
        ("No new admissions were allowed until the requirement notices had been met.", None),
    ],
    "organisational": [
        ("The owners brought in a monthly governance meeting with minutes and actions that are followed up.", None),
        ("Incident reporting was rebuilt so that nothing sits in a drawer any more.", ("manager", "staff", "commissioner")),
        ("Head office moved the service to the top of its list and put a quality lead on site two days a week.", None),
    ],
    "relational": [
        ("The inspector explained what good would look like here, which nobody had done before.", None),
        ("The inspection manager rang after each visit; it was challenge, but fair challenge.", ("manager", "commissioner")),
        ("Having the same inspector throughout meant people could be honest about what was still wrong.", None),
    ],
    "informational": [
        ("Seeing the word Inadequate on the website hit hard; enquiries dried up almost overnight.", None),
        ("The report was used as a checklist; it was the clearest diagnosis anyone had ever given.", None),
        ("Families had read the report before anyone had spoken to them about it.", None),
    ],
    "stakeholder": [
        ("The council suspended placements, and that concentrated everyone's minds.", None),
        ("The safeguarding team visited weekly for a while and checked every action.", None),
        ("The local paper ran the story, and relatives started asking questions in the car park.", None),
    ],
    "lateral": [
        ("A visit to a home rated Outstanding in the next town gave us their handover sheet and lots of ideas.", None),
        ("The registered managers' network gave me people to ring when I was stuck.", ("manager",)),
        ("A sister service in the group shared its policies, so nobody had to start from scratch.", None),
    ],
    "systemic": [
        ("The key questions became the language everyone used, from the owners to the night staff.", None),
        ("Contracts are now built around the ratings, so the whole local market pays attention to them.", ("commissioner", "manager")),
        ("National training expectations changed at about the same time, which helped to raise the bar.", None),
    ],
    "leadership": [
        ("The new manager was on the floor every morning and knew every person by name.", None),
        ("For the first time the manager said honestly what had gone wrong and what would change.", None),
        ("Having one stable leader after four managers in two years made all the difference.", None),
    ],
    "cultural_change": [
        ("People stopped being afraid to report mistakes; they are talked about openly at handover now.", None),
        ("The focus moved from getting the tasks done to asking what kind of day each person had.", None),
        ("There is pride in the team now, and people stay to finish an activity rather than rush off.", None),
    ],
    "person_centred_care": [
        ("Every care plan was rewritten with the person and their family, in their own words.", None),
        ("My mother now chooses when she gets up and what she has for breakfast.", ("person_or_family",)),
        ("Life-story books mean staff know who each person was before they came here.", None),
    ],
    "staffing": [
        ("Agency shifts were cut by half and people who live locally were recruited.", None),
        ("Everyone now has supervision every six weeks, and training is booked before it lapses.", ("manager", "staff")),
        ("An extra evening shift means there are enough hands at the busiest time of day.", None),
    ],
    "working_with_partners": [
        ("The council's quality improvement team worked alongside the service for six months.", None),
        ("District nurses and the GP now come to a weekly meeting at the home.", None),
        ("Another provider mentored the deputy manager through the first year.", None),
    ],
    "building_a_community": [
        ("Children from the primary school visit every Friday to read with people.", None),
        ("There is an open day every summer and the neighbours come in for tea.", None),
        ("The relatives' meetings turned into a friends group that raises money for outings.", None),
    ],
    "agency_staff": [
        ("Relying on agency workers meant nobody on shift knew people's routines.", None),
        ("Some weeks half the shifts were covered by people who had never met the residents.", None),
    ],
}
_CODE_QUESTIONS = {
    "anticipatory": ["q11", "q09", "q04"], "directive": ["q01", "q04", "q03"],
    "organisational": ["q04", "q05", "q11"], "relational": ["q09"], "informational": ["q01", "q03", "q10"],
    "stakeholder": ["q08", "q01", "q10"], "lateral": ["q08", "q12", "q13"], "systemic": ["q12", "q09"],
    "leadership": ["q05", "q13", "q04"], "cultural_change": ["q06", "q11", "q13"],
    "person_centred_care": ["q07", "q13"], "staffing": ["q06", "q10", "q13"],
    "working_with_partners": ["q08", "q13"], "building_a_community": ["q07", "q11", "q13"],
    "agency_staff": ["q02", "q10"],
}
_ROLE_WEIGHT = {  # how likely each role is to raise a code, relative to others present
    "stakeholder": {"commissioner": 3, "manager": 2}, "systemic": {"commissioner": 3, "manager": 2},
    "relational": {"manager": 3}, "directive": {"manager": 2, "commissioner": 2},
    "person_centred_care": {"person_or_family": 3}, "building_a_community": {"person_or_family": 2},
    "cultural_change": {"staff": 3}, "staffing": {"staff": 2, "manager": 2},
    "working_with_partners": {"commissioner": 2, "manager": 2}, "lateral": {"manager": 3},
}
_TAILS = ["", " That was in the first few months.", " It took longer than anyone hoped.",
          " It is still going now.", " Everyone noticed the difference."]
_ROLE_SHORT = {"manager": "M", "staff": "S", "person_or_family": "F", "commissioner": "C"}
SYNTHETIC_LABEL = "[SYNTHETIC]"


def write_synthetic_interviews(cases: pd.DataFrame, folder, *, seed: int,
                               prevalence: Mapping[str, tuple[float, float]] | None = None,
                               codebook=None) -> dict:
    """Write invented, coded interviews for a set of cases, with planted patterns.

    For each case, respondents are drawn (a manager; one or two staff; a person using the service
    or a family member with probability 0.7; a commissioner with probability 0.5). Each code is
    present in a case with the planted probability for the case's outcome
    (:data:`SYNTHETIC_PREVALENCE`: e.g. ``leadership`` in 70% of improved cases and 30% of the
    others), independently of the other codes; a present code is given one to three invented
    excerpts, said by plausible respondents in answer to plausible questions. One excerpt in
    five is also coded with another code present in the case. Every excerpt begins with
    ``[SYNTHETIC]``. ``agency_staff`` is an emergent code the shipped codebook lacks, so the
    unknown-code report has something to show.

    Parameters
    ----------
    cases : DataFrame
        ``case_id, location_id, improved`` (bool, no missing values).
    folder : path
        Receives ``coded_segments.csv``, ``interviews.qdpx`` and a ``SYNTHETIC`` marker.
    seed : int
    prevalence : mapping, optional
        code -> (share in improved cases, share in the others); default
        :data:`SYNTHETIC_PREVALENCE`.

    Returns
    -------
    dict
        The planted truth (JSON-serialisable): ``planted_prevalence``, ``realised_prevalence``
        (the shares actually written, per code and group), ``cases`` (case_id -> location_id,
        improved), counts, ``unknown_codes``, ``strong_effects`` and ``null_codes``, ``files``.
    """
    for col in ("case_id", "location_id", "improved"):
        if col not in cases:
            raise ValueError(f"cases needs a {col!r} column (case_id, location_id, improved)")
    if cases["improved"].isna().any():
        raise ValueError("cases['improved'] has missing values; pass True or False for every case")
    if cases["case_id"].duplicated().any():
        raise ValueError("cases['case_id'] has duplicates")
    cb = _resolve_codebook(codebook)
    prevalence = dict(prevalence or SYNTHETIC_PREVALENCE)
    unknown = [c for c in prevalence if cb.match_code(c) is None]
    no_text = [c for c in prevalence if c not in _TEMPLATES]
    if no_text:
        raise ValueError(f"no invented excerpts for code(s) {no_text}; choose among {sorted(_TEMPLATES)}")
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SYNTHETIC").write_text(
        "Written by cqc_research.qual.write_synthetic_interviews. Every interview, excerpt and code "
        "here is invented; none of it comes from real people.\n", encoding="utf-8")
    codes = list(prevalence)
    rows = []
    present_by_case = {}
    for rec in cases.to_dict("records"):
        case_id, improved = str(rec["case_id"]), bool(rec["improved"])
        roles = ["manager"] + ["staff"] * int(rng.integers(1, 3))
        if rng.random() < 0.7:
            roles.append("person_or_family")
        if rng.random() < 0.5:
            roles.append("commissioner")
        counter: dict[str, int] = {}
        respondents = []
        for role in roles:
            counter[role] = counter.get(role, 0) + 1
            respondents.append((f"{case_id}-{_ROLE_SHORT[role]}{counter[role]}", role))
        while True:  # a case with no code at all would vanish from the segments; redraw (p < 1e-4)
            present = [c for c in codes if rng.random() < prevalence[c][0 if improved else 1]]
            if present:
                break
        present_by_case[case_id] = present
        case_rows = []
        for code in present:
            templates = _TEMPLATES[code]
            k = int(rng.integers(1, min(3, len(templates)) + 1))
            for t in rng.permutation(len(templates))[:k]:
                text, allowed = templates[t]
                who = [r for r in respondents if allowed is None or r[1] in allowed] or respondents
                w = np.array([_ROLE_WEIGHT.get(code, {}).get(r[1], 1) for r in who], dtype=float)
                resp_id, role = who[int(rng.choice(len(who), p=w / w.sum()))]
                question = str(rng.choice(_CODE_QUESTIONS[code]))
                excerpt = f"{SYNTHETIC_LABEL} {text}{_TAILS[int(rng.integers(len(_TAILS)))]}"
                seg_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                case_rows.append({"case_id": case_id, "location_id": rec["location_id"],
                                  "respondent_id": resp_id, "respondent_role": role, "question": question,
                                  "code": code, "excerpt": excerpt, "segment_id": seg_id})
        extra = []
        for r in case_rows:  # double coding within the case's present codes
            others = [c for c in present if c != r["code"]]
            if others and rng.random() < 0.2:
                extra.append({**r, "code": str(rng.choice(others))})
        rows.extend(case_rows + extra)
    seg = pd.DataFrame(rows, columns=["case_id", "location_id", "respondent_id", "respondent_role",
                                      "question", "code", "excerpt", "segment_id"])
    # interview order: respondent, then question, as a transcript would run
    seg["_resp"] = seg["respondent_id"].map({r: i for i, r in enumerate(pd.unique(seg["respondent_id"]))})
    seg = seg.sort_values(["_resp", "question"], kind="stable").drop(columns="_resp").reset_index(drop=True)
    csv_path = folder / "coded_segments.csv"
    with atomic_path(csv_path) as tmp:
        seg.to_csv(tmp, index=False)
    std = _quiet_standardise(seg, cb)
    write_qdpx(std, folder / "interviews.qdpx", codebook=cb, project_name="SYNTHETIC coded interviews",
               description=("SYNTHETIC DATA written by cqc-research: invented interviews with planted "
                            "patterns; no real person, service or excerpt."))

    imp = cases.set_index(cases["case_id"].astype(str))["improved"].astype(bool)
    n1, n0 = int(imp.sum()), int((~imp).sum())
    realised = {}
    for code in codes:
        has = pd.Series({c: code in p for c, p in present_by_case.items()})
        k1, k0 = int(has[imp[imp].index].sum()), int(has[imp[~imp].index].sum())
        realised[code] = {"k_improved": k1, "n_improved": n1, "k_not_improved": k0, "n_not_improved": n0,
                          "improved": k1 / n1 if n1 else None, "not_improved": k0 / n0 if n0 else None}
    return {
        "description": ("Synthetic coded interviews: invented excerpts labelled [SYNTHETIC], codes planted "
                        "per case with known probabilities that depend on whether the case improved."),
        "seed": seed,
        "unit": "case",
        "planted_prevalence": {c: {"improved": p[0], "not_improved": p[1]} for c, p in prevalence.items()},
        "realised_prevalence": realised,
        "strong_effects": [c for c, p in prevalence.items() if p[0] - p[1] >= 0.3],
        "null_codes": [c for c, p in prevalence.items() if p[0] == p[1]],
        "unknown_codes": unknown,
        "cases": {str(r["case_id"]): {"location_id": str(r["location_id"]), "improved": bool(r["improved"])}
                  for r in cases.to_dict("records")},
        "counts": {"cases": len(cases), "improved": n1, "not_improved": n0,
                   "respondents": int(seg["respondent_id"].nunique()),
                   "segments": int(seg["segment_id"].nunique()), "codings": len(seg)},
        "files": {"coded_segments": "coded_segments.csv", "qdpx": "interviews.qdpx"},
        "note": ("codes are drawn independently per case given the outcome; a case with no code is redrawn; "
                 "one excerpt in five is double-coded with another code present in the case; time to "
                 "improvement is not planted"),
    }


def _quiet_standardise(seg: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return standardise_segments(seg, codebook=cb)


# =============================================================================================
# CLI (register as `"qual": ("cqc_research.qual", "...")` in cli.COMMANDS)
def configure_parser(parser) -> None:
    parser.add_argument("file", help="coded segments: a REFI-QDA .qdpx project or a .csv")
    parser.add_argument("--codebook", action="append", metavar="YAML", default=[],
                        help="extra codebook YAML merged onto the shipped one (repeatable)")
    parser.add_argument("--out", metavar="CSV", help="write the tidy segments table here")
    parser.add_argument("--qdpx", metavar="QDPX", help="also export the segments as a .qdpx project")


def run_command(args) -> int:
    cb = load_codebook(extend=args.codebook)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        seg = read_coded_segments(args.file, codebook=cb)
    cases = case_table(seg)
    print(f"{args.file}: {len(seg):,} codings of {seg['segment_id'].nunique():,} excerpts, "
          f"{seg['respondent_id'].nunique():,} interviews, {len(cases):,} cases "
          f"({cases['location_id'].notna().sum():,} with a CQC location ID); codebook {cb.name!r}")
    unk = unknown_codes(seg, codebook=cb)
    if len(unk):
        print(f"{len(unk)} code(s) not in the codebook (kept, reported):")
        print(unk.to_string(index=False))
    else:
        print("every code is in the codebook")
    if args.out:
        with atomic_path(args.out) as tmp:
            seg.to_csv(tmp, index=False)
        print(f"wrote {args.out}")
    if args.qdpx:
        write_qdpx(seg, args.qdpx, codebook=cb)
        print(f"wrote {args.qdpx}")
    return 0

