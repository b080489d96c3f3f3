"""The qualitative coding frame: the eight impact mechanisms and improvement themes, as YAML codebooks."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_path
from ..errors import DataFormatError

__all__ = [
    "Codebook",
    "load_codebook",
    "merge_codebooks",
    "codebook_table",
    "SEGMENT_COLUMNS",
    "DESCRIPTIVE_CAVEAT",
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


def code_key(text) -> str:
    """Fold case, spacing, underscores and dashes so that variants compare equal.

    Parameters
    ----------
    text : object
        A code, role or question name as written (converted with ``str``).

    Returns
    -------
    str
        Lower case, each run of other characters a single space, trimmed.

    Examples
    --------
    >>> code_key("Person-centred_care ")
    'person centred care'
    """
    return re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()


# codebook
@dataclass(frozen=True)
class Codebook:
    """A coding frame: respondent roles, code groups, codes, and the interview guide.

    Build one with :func:`load_codebook`. The tables are tidy frames:

    ``roles``: ``role, label, aliases``; ``groups``: ``group, label, description``;
    ``codes``: ``code, group, label, definition, include, exclude, aliases``;
    ``questions``: ``id, number, topic, role, text`` (one row per question and role).

    Attributes
    ----------
    name : str
        The codebook's name (``name:`` in its YAML).
    version : str
        Its version (``version:``), written into exports.
    description : str
        What it is for, on one line.
    roles : pandas.DataFrame
        ``role, label, aliases``: respondent roles (manager, staff, person or family,
        commissioner in the shipped codebook).
    groups : pandas.DataFrame
        ``group, label, description``: code groups (impact mechanisms, improvement themes).
    codes : pandas.DataFrame
        ``code, group, label, definition, include, exclude, aliases``, in codebook order.
    questions : pandas.DataFrame
        ``id, number, topic, role, text``: the interview guide, one row per question and role.
    sources : tuple of str
        The YAML files it was built from, in merge order.
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

        A path such as ``"Improvement themes/Leadership"`` matches on its whole text first, then on
        its last part.

        Parameters
        ----------
        name : str or None
            The code as a coder or a QDA program wrote it.

        Returns
        -------
        str or None
            The ``code`` of :attr:`codes`, or ``None`` when nothing matches (or ``name`` is
            missing).

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
        if code_key(text) in lookup:
            return lookup[code_key(text)]
        leaf = text.replace("\\", "/").rsplit("/", 1)[-1]
        return lookup.get(code_key(leaf))

    def match_role(self, name) -> str | None:
        """The codebook role for a role as written (by role, label or alias), else None.

        Parameters
        ----------
        name : str or None
            The respondent role as written, e.g. ``"Registered manager"``.

        Returns
        -------
        str or None
            The ``role`` of :attr:`roles`, or ``None`` when nothing matches.
        """
        if name is None or (isinstance(name, float) and np.isnan(name)):
            return None
        return self._lookup("roles").get(code_key(name))

    def match_question(self, name) -> str | None:
        """The guide question id for ``q5``, ``Q05 leadership``, ``5``, a topic or a wording.

        Parameters
        ----------
        name : str, int or None
            The question as written.

        Returns
        -------
        str or None
            The question ``id`` (e.g. ``"q05"``), or ``None`` when nothing matches.

        Examples
        --------
        >>> load_codebook().match_question("Q5 leadership")
        'q05'
        """
        if name is None or (isinstance(name, float) and np.isnan(name)):
            return None
        text = str(name).strip()
        lookup = self._lookup("questions")
        if code_key(text) in lookup:
            return lookup[code_key(text)]
        m = _QUESTION.match(text) or re.fullmatch(r"0*(\d{1,3})", text)
        if m:
            return self._spec["_numbers"].get(int(m.group(1)))
        return None

    def question_text(self, question: str, role=None) -> str:
        """The wording of a question for a role (the default wording when the role has none).

        Parameters
        ----------
        question : str
            The question, in any form :meth:`match_question` accepts.
        role : str, optional
            The respondent role, in any form :meth:`match_role` accepts.

        Returns
        -------
        str
            The question's text; ``""`` for an unknown question.
        """
        qid = self.match_question(question) or question
        texts = self._spec["_texts"].get(qid, {})
        return texts.get(self.match_role(role) or role) or texts.get("default") or ""

    @property
    def code_order(self) -> list[str]:
        """Codes in codebook order (groups in order, then codes within each group)."""
        return self.codes["code"].tolist()

    def to_dict(self) -> dict:
        """The codebook as the dictionary its YAML holds.

        Returns
        -------
        dict
            ``name, version, description, roles, groups, codes, questions`` as plain lists and
            dictionaries (what :meth:`to_yaml` writes).
        """
        return {k: v for k, v in self._spec.items() if not k.startswith("_")}

    def to_qdc(self, path) -> Path:
        """Write the codebook in the REFI-QDA codebook exchange format (``.qdc``).

        NVivo, ATLAS.ti, MAXQDA and QualCoder import it, so coders start from the same frame:
        one parent code per group (not codable) holding its codes, each with its definition and
        inclusion and exclusion notes, and an "Interview guide (structural codes)" parent
        holding one code per question (``q01 reaction`` ...) for coding whole answers.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.qdc`` file to write.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        from ..io.qdpx import write_qdc

        group_label = dict(zip(self.groups["group"], self.groups["label"], strict=True))
        codes = [(group_label[r.group], r.code,
                  f"{r.definition} Include: {r.include} Exclude: {r.exclude}") for r in self.codes.itertuples()]
        first = self.questions.drop_duplicates("id")
        questions = [("Interview guide (structural codes)", f"{r.id} {r.topic}",
                      " / ".join(f"{q.role}: {q.text}" for q in self.questions[self.questions["id"] == r.id].itertuples()))
                     for r in first.itertuples()]
        return write_qdc(codes + questions, path, origin=f"cqc-research codebook {self.name} {self.version}")

    def to_yaml(self, path) -> Path:
        """Write the codebook as YAML (atomically).

        Parameters
        ----------
        path : str or os.PathLike
            The YAML file to write; :func:`load_codebook` reads it back.

        Returns
        -------
        str or os.PathLike
            ``path``, as given.
        """
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
                kk = code_key(k)
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

    Parameters
    ----------
    base : Codebook or path, optional
        The codebook merged onto; ``None`` is the shipped one.
    *others : Codebook or path
        Codebooks (or partial YAML files) merged on top, in order.
    replace : bool
        Let a later codebook redefine an existing entry.

    Returns
    -------
    Codebook
        The merged, validated codebook; ``sources`` lists every file.

    Raises
    ------
    DataFormatError
        A clash without ``replace=True``, or an invalid merged codebook.

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

    Parameters
    ----------
    path : str or os.PathLike, optional
        ``None``, ``""``, ``"shipped"`` or a YAML file.

    Returns
    -------
    Codebook
    """
    if path is None or str(path).strip() in ("", "shipped"):
        return load_codebook()
    spec = _read_yaml(path)
    if all(spec.get(section) for section in _SECTIONS):
        return load_codebook(path)
    return load_codebook(extend=path)


def resolve_codebook(codebook) -> Codebook:
    """A :class:`Codebook` as given, or one loaded from a path (``None``: the shipped codebook).

    Parameters
    ----------
    codebook : Codebook, str, os.PathLike or None
        What a function's ``codebook=`` argument received.

    Returns
    -------
    Codebook
    """
    if isinstance(codebook, Codebook):
        return codebook
    return load_codebook(codebook)


def codebook_table(codebook) -> pd.DataFrame:
    """The codebook's codes as a flat table to save: the aliases joined by commas, last.

    Parameters
    ----------
    codebook : Codebook or path
        Anything :func:`resolve_codebook` accepts.

    Returns
    -------
    DataFrame
        ``codebook.codes`` with ``aliases`` as one string, moved to the last column.
    """
    codes = resolve_codebook(codebook).codes
    return codes.drop(columns="aliases").assign(aliases=codes["aliases"].map(", ".join))
