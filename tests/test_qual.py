"""Mixed methods: codebook, REFI-QDA / CSV import, analysis joined to ratings, synthetic interviews."""

from __future__ import annotations

import io
import json
import re
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import notebook_text as _notebook_text

from cqc_research import qual
from cqc_research.errors import DataFormatError
from cqc_research.synthetic import interviews

NS = "urn:QDA-XML:project:1.0"
MECHANISMS = ["anticipatory", "directive", "organisational", "relational", "informational",
              "stakeholder", "lateral", "systemic"]
THEMES = ["leadership", "cultural_change", "person_centred_care", "staffing", "working_with_partners",
          "building_a_community"]
ROLES = ["manager", "staff", "person_or_family", "commissioner"]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


# =============================================================================================
# codebook
def test_shipped_codebook_holds_the_frame():
    cb = qual.load_codebook()
    assert cb.codes.loc[cb.codes["group"] == "mechanism", "code"].tolist() == MECHANISMS
    assert cb.codes.loc[cb.codes["group"] == "theme", "code"].tolist() == THEMES
    for col in ("definition", "include", "exclude"):
        assert (cb.codes[col].str.len() > 20).all(), col
    assert (cb.codes["label"].str.strip().str.len() > 0).all()  # labels are short, never empty
    assert cb.roles["role"].tolist() == ROLES
    # 13 questions, each worded for each of the four roles
    assert cb.questions["id"].nunique() == 13
    assert all(sorted(g) == sorted(ROLES) for _, g in cb.questions.groupby("id")["role"])
    assert "Inadequate" in cb.question_text("q01", "manager")
    assert "top five" in cb.question_text("q13", "manager")
    assert cb.question_text("q01", "family member") == cb.question_text("q01", "person_or_family")


@pytest.mark.parametrize("written, expected", [
    ("leadership", "leadership"), ("Leadership", "leadership"), ("LEADERSHIP CHANGE", "leadership"),
    ("Improvement themes/Person-centred care", "person_centred_care"), ("new manager", "leadership"),
    ("Working with partners", "working_with_partners"), ("Relational mechanism", "relational"),
    ("Peer learning", "lateral"), ("agency staff", None), ("Leadershp", None),
])
def test_codes_match_by_name_label_alias_and_path(written, expected):
    assert qual.load_codebook().match_code(written) == expected


@pytest.mark.parametrize("written, expected", [
    ("q05", "q05"), ("Q5", "q05"), ("q05 leadership", "q05"), ("Question 5", "q05"), ("5", "q05"),
    ("top_five", "q13"), ("What are the top five actions that helped your service improve?", "q13"),
    ("q14", None), ("leadership please", None),
])
def test_questions_match_by_id_number_topic_and_wording(written, expected):
    assert qual.load_codebook().match_question(written) == expected


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


EXTRA = """
groups:
  - {group: emergent, label: Emergent code}
codes:
  - code: agency_staff
    group: emergent
    label: Agency staff
    definition: Reliance on temporary workers supplied by agencies.
    include: Shifts covered by agency workers; continuity problems.
    exclude: Permanent recruitment (code staffing).
    aliases: [agency workers]
"""


def test_extend_adds_codes_and_groups(tmp_path):
    extra = _write(tmp_path, "extra.yaml", EXTRA)
    cb = qual.load_codebook(extend=extra)
    assert cb.match_code("Agency workers") == "agency_staff"
    assert cb.code_order[-1] == "agency_staff"
    assert len(cb.codes) == 15 and cb.sources[-1] == str(extra)
    # the merged codebook survives a YAML round trip
    again = qual.load_codebook(cb.to_yaml(tmp_path / "merged.yaml"))
    pd.testing.assert_frame_equal(again.codes, cb.codes)
    pd.testing.assert_frame_equal(again.questions, cb.questions)


def test_codebook_exports_as_refi_qda_qdc(tmp_path):
    import xml.etree.ElementTree as ET

    cb = qual.load_codebook()
    root = ET.parse(cb.to_qdc(tmp_path / "frame.qdc")).getroot()
    ns = "{urn:QDA-XML:codebook:1.0}"
    assert root.tag == f"{ns}CodeBook"
    parents = {p.get("name"): p for p in root.find(f"{ns}Codes").findall(f"{ns}Code")}
    assert set(parents) == {"Impact mechanism", "Improvement theme", "Interview guide (structural codes)"}
    assert all(p.get("isCodable") == "false" for p in parents.values())
    mech = [c.get("name") for c in parents["Impact mechanism"].findall(f"{ns}Code")]
    assert mech == MECHANISMS
    questions = [c.get("name") for c in parents["Interview guide (structural codes)"].findall(f"{ns}Code")]
    assert questions[0] == "q01 reaction" and len(questions) == 13
    # the structural code names are read back as questions
    assert all(cb.match_question(q) == f"q{i + 1:02d}" for i, q in enumerate(questions))
    lead = next(c for c in parents["Improvement theme"].findall(f"{ns}Code") if c.get("name") == "leadership")
    assert "Include:" in lead.find(f"{ns}Description").text
    guids = [c.get("guid") for c in root.iter(f"{ns}Code")]
    assert len(guids) == len(set(guids))


def test_redefining_a_code_needs_replace(tmp_path):
    redo = _write(tmp_path, "redo.yaml", """
        codes:
          - {code: leadership, group: theme, label: Leadership, definition: Our own definition.,
             include: Anything about leaders., exclude: Nothing.}
        """)
    with pytest.raises(DataFormatError, match=r"'leadership' is already defined.*replace=True"):
        qual.load_codebook(extend=redo)
    cb = qual.merge_codebooks(None, redo, replace=True)
    assert cb.codes.set_index("code").loc["leadership", "definition"] == "Our own definition."


@pytest.mark.parametrize("text, pattern", [
    ("codes: [{code: x_code, group: theme, label: X, include: a, exclude: b}]",
     r"codes\[0\] \('x_code'\): missing \['definition'\]"),
    ("codes: [{code: x_code, group: nowhere, label: X, definition: d, include: a, exclude: b}]",
     r"group 'nowhere' is not among the groups"),
    ("codes: [{code: Bad Name, group: theme, label: X, definition: d, include: a, exclude: b}]",
     r"lower-case identifier"),
    ("codes: [{code: x_code, group: theme, label: Leadership, definition: d, include: a, exclude: b}]",
     r"'Leadership' would name both 'leadership' and 'x_code'"),
    ("questions: [{id: q14, topic: extra, text: {manager: 'Anything else?'}}]",
     r"questions\[0\] \('q14'\): no wording for role\(s\) \['staff'"),
    ("questions: [{id: q14, topic: extra, text: {pilot: 'Anything else?'}}]", r"unknown role\(s\) \['pilot'\]"),
    ("codes: {code: x}", r"section 'codes' is a dict; expected a list"),
    ("- just a list", r"expected a mapping with sections"),
    ("codes: [unclosed", r"not valid YAML at line \d+, column \d+"),
    ("colour: blue", r"unknown top-level key\(s\) \['colour'\]"),
])
def test_malformed_codebook_errors_name_file_and_entry(tmp_path, text, pattern):
    bad = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(DataFormatError, match=pattern) as err:
        qual.load_codebook(extend=bad)
    assert str(bad) in str(err.value)


def test_codebook_from_one_path(tmp_path):
    assert qual.codebook_from("shipped").code_order == qual.load_codebook().code_order
    assert qual.codebook_from("").code_order == qual.load_codebook().code_order
    extra = _write(tmp_path, "extra.yaml", EXTRA)
    assert qual.codebook_from(extra).code_order[-1] == "agency_staff"  # partial: extends
    own = qual.load_codebook()
    own_file = qual.merge_codebooks(None, extra).to_yaml(tmp_path / "own.yaml")
    assert qual.codebook_from(own_file).sources == (str(own_file),)  # complete: used alone
    assert len(qual.codebook_from(own_file).codes) == len(own.codes) + 1


def test_a_partial_file_alone_is_not_a_codebook(tmp_path):
    extra = _write(tmp_path, "extra.yaml", EXTRA)
    with pytest.raises(DataFormatError, match="the codebook has no roles"):
        qual.load_codebook(extra)


# =============================================================================================
# a REFI-QDA project built by hand (independently of write_qdpx)
TEXT_A = ("Q1. How did you react?\nWe were shocked. The new manager came in and walked the floor.\n"
          "Q9. And CQC?\nThe inspector explained what good looks like.\n")
TEXT_B = "Interview with a daughter.\nMum now chooses her breakfast. Agency staff never knew her.\n"


def _span(text, needle):
    start = text.index(needle)
    return start, start + len(needle)


def hand_built_qde() -> str:
    a_q1 = (0, TEXT_A.index("Q9.") - 1)
    a_q9 = (TEXT_A.index("Q9."), len(TEXT_A) - 1)
    a_lead = _span(TEXT_A, "The new manager came in and walked the floor.")
    a_rel = _span(TEXT_A, "The inspector explained what good looks like.")
    b_pcc = _span(TEXT_B, "Mum now chooses her breakfast.")
    b_agency = _span(TEXT_B, "Agency staff never knew her.")

    def sel(guid, span, *codes):
        codings = "".join(f'<Coding guid="{guid}-c{i}"><CodeRef targetGUID="{c}"/></Coding>'
                          for i, c in enumerate(codes))
        return f'<PlainTextSelection guid="{guid}" startPosition="{span[0]}" endPosition="{span[1]}">{codings}</PlainTextSelection>'

    return f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="{NS}" name="hand built" origin="test">
 <CodeBook><Codes>
  <Code guid="g-themes" name="Improvement themes" isCodable="false">
   <Code guid="c-lead" name="Leadership" isCodable="true"/>
   <Code guid="c-pcc" name="Person-centred care" isCodable="true"/>
  </Code>
  <Code guid="c-rel" name="Relational" isCodable="true"/>
  <Code guid="c-agency" name="Agency staff" isCodable="true"/>
  <Code guid="g-q" name="Interview questions" isCodable="false">
   <Code guid="c-q1" name="Reaction to the rating" isCodable="true"/>
   <Code guid="c-q9" name="Q9 regulator" isCodable="true"/>
  </Code>
 </Codes></CodeBook>
 <Variables>
  <Variable guid="v-loc" name="CQC location ID" typeOfVariable="Text"/>
  <Variable guid="v-role" name="Respondent role" typeOfVariable="Text"/>
  <Variable guid="v-age" name="Age band" typeOfVariable="Text"/>
 </Variables>
 <Cases>
  <Case guid="k-1" name="CASE-1">
   <VariableValue><VariableRef targetGUID="v-loc"/><TextValue>1-000000001</TextValue></VariableValue>
   <SourceRef targetGUID="s-a"/><SourceRef targetGUID="s-b"/>
  </Case>
  <Case guid="k-file"><VariableValue><VariableRef targetGUID="v-age"/><TextValue>40-49</TextValue></VariableValue>
   <SourceRef targetGUID="s-a"/></Case>
 </Cases>
 <Sources>
  <TextSource guid="s-a" name="Manager interview" plainTextPath="internal://s-a.txt">
   {sel("p-q1", a_q1, "c-q1")}
   {sel("p-q9", a_q9, "c-q9")}
   {sel("p-lead", a_lead, "c-lead")}
   {sel("p-rel", a_rel, "c-rel", "c-lead")}
   <VariableValue><VariableRef targetGUID="v-role"/><TextValue>Registered manager</TextValue></VariableValue>
  </TextSource>
  <TextSource guid="s-b" name="Family interview">
   <PlainTextContent>{TEXT_B}</PlainTextContent>
   {sel("p-pcc", b_pcc, "c-pcc", "c-q1")}
   {sel("p-ag", b_agency, "c-agency")}
   <VariableValue><VariableRef targetGUID="v-role"/><TextValue>Family member</TextValue></VariableValue>
  </TextSource>
 </Sources>
</Project>"""


def make_qdpx(path: Path, qde: str | None = None, members: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", hand_built_qde() if qde is None else qde)
        for name, data in (members if members is not None else {"sources/s-a.txt": TEXT_A}).items():
            zf.writestr(name, data)
    return path


EXPECTED_HAND = pd.DataFrame([
    # case, location, respondent, role, question, code, group, known, excerpt, segment
    ("CASE-1", "1-000000001", "Manager interview", "manager", "Reaction to the rating", "leadership", "theme", True,
     "The new manager came in and walked the floor.", "p-lead"),
    ("CASE-1", "1-000000001", "Manager interview", "manager", "q09", "relational", "mechanism", True,
     "The inspector explained what good looks like.", "p-rel"),
    ("CASE-1", "1-000000001", "Manager interview", "manager", "q09", "leadership", "theme", True,
     "The inspector explained what good looks like.", "p-rel"),
    ("CASE-1", "1-000000001", "Family interview", "person_or_family", "Reaction to the rating",
     "person_centred_care", "theme", True, "Mum now chooses her breakfast.", "p-pcc"),
    ("CASE-1", "1-000000001", "Family interview", "person_or_family", "nan", "Agency staff", "unknown", False,
     "Agency staff never knew her.", "p-ag"),
], columns=["case_id", "location_id", "respondent_id", "respondent_role", "question", "code", "code_group",
            "in_codebook", "excerpt", "segment_id"])


def test_hand_built_qdpx_reads_as_expected(tmp_path):
    path = make_qdpx(tmp_path / "hand.qdpx")
    with pytest.warns(UserWarning) as caught:
        seg = qual.read_coded_segments(path)
    messages = [str(w.message) for w in caught]
    assert any(re.search(r"1 segment\(s\) carry 1 code\(s\) not in codebook.*Agency staff", m) for m in messages)
    assert any("question(s) ['Reaction to the rating'] do not match the interview guide" in m for m in messages)
    got = seg[EXPECTED_HAND.columns].astype({"question": "object"}).fillna({"question": "nan"})
    exp = EXPECTED_HAND.astype(got.dtypes.to_dict())
    pd.testing.assert_frame_equal(got.reset_index(drop=True), exp, check_dtype=False)
    # the "Reaction to the rating" code sits under "Interview questions", so it is structural,
    # not a theme; it is kept as written because the guide has no such wording
    assert seg["question"].isna().sum() == 1  # the agency excerpt lies in no answer
    # offsets point at the excerpt in the transcript
    row = seg.set_index("segment_id").loc["p-lead"]
    assert TEXT_A[int(row["start"]):int(row["end"])] == row["excerpt"]
    assert seg.attrs["format"] == "qdpx" and len(seg.attrs["sha256"]) == 64
    unknown = qual.unknown_codes(seg)
    assert unknown[["code", "n_segments", "n_respondents", "n_cases"]].values.tolist() == [["Agency staff", 1, 1, 1]]


def test_qdpx_round_trip_through_write(tmp_path):
    seg = quiet(qual.read_qdpx, make_qdpx(tmp_path / "hand.qdpx"))
    out = qual.write_qdpx(seg, tmp_path / "out.qdpx")
    back = quiet(qual.read_qdpx, out)
    cols = [c for c in qual.SEGMENT_COLUMNS if c not in ("start", "end", "segment_id")]
    key = ["respondent_id", "excerpt", "code"]
    pd.testing.assert_frame_equal(seg[cols].sort_values(key).reset_index(drop=True),
                                  back[cols].sort_values(key).reset_index(drop=True))
    # a segment with two codes stays one selection with two codings
    assert back.groupby("excerpt")["segment_id"].nunique().max() == 1
    assert back.groupby("segment_id").size().max() == 2
    # the export carries the whole codebook, nested by group, for further coding
    with zipfile.ZipFile(out) as zf:
        xml = zf.read("project.qde").decode()
        assert all(f'name="{c}"' in xml for c in MECHANISMS + THEMES)
        assert 'name="Not in codebook"' in xml and 'name="Agency staff"' in xml
        # every selection's offsets point at its excerpt in the stored transcript
        texts = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("Sources/")}
    assert len(back) > 0 and texts
    for r in back.itertuples():
        assert any(t[r.start:r.end] == r.excerpt for t in texts.values())


CSV_TEXT = """Case ID,Respondent role,Question,Code,Excerpt,Location ID
A,manager,Q5,Leadership,"The new manager, Sam, changed everything.",1-1
A,manager,Q5,cultural change,"The new manager, Sam, changed everything.",1-1
A,staff,q06,Staffing,We finally had enough people on nights.,1-1
A,family,7,Person centred care,Mum chooses her breakfast.,1-1
B,Registered Manager,q01,directive,The warning notice set the pace.,1-2
B,commissioner,q08,Leadershp,The provider's new leadership engaged with us.,1-2
B,commissioner,q08,Partnership working,We met every fortnight.,1-2
C,staff,q13,leadership,Our manager listened.,
"""


@pytest.fixture
def csv_segments(tmp_path):
    path = _write(tmp_path, "segments.csv", CSV_TEXT)
    return quiet(qual.read_segments_csv, path)


def test_csv_is_standardised_against_the_codebook(tmp_path, csv_segments):
    seg = csv_segments
    assert seg["code"].tolist() == ["leadership", "cultural_change", "staffing", "person_centred_care",
                                    "directive", "Leadershp", "working_with_partners", "leadership"]
    assert seg["respondent_role"].tolist() == ["manager", "manager", "staff", "person_or_family", "manager",
                                               "commissioner", "commissioner", "staff"]
    assert seg["question"].tolist() == ["q05", "q05", "q06", "q07", "q01", "q08", "q08", "q13"]
    assert seg["in_codebook"].tolist() == [True] * 5 + [False, True, True]
    # one excerpt with two codes is one segment; respondent ids default to case:role
    assert seg["segment_id"].iloc[0] == seg["segment_id"].iloc[1]
    assert seg["segment_id"].nunique() == 7
    assert seg["respondent_id"].iloc[2] == "A:staff"
    assert seg["location_id"].isna().tolist() == [False] * 7 + [True]
    unknown = qual.unknown_codes(seg)
    assert unknown.to_dict("records") == [{"code": "Leadershp", "n_segments": 1, "n_respondents": 1,
                                           "n_cases": 1, "roles": "commissioner", "suggestion": "leadership"}]


def test_csv_to_qdpx_and_back_is_identical_and_deterministic(tmp_path, csv_segments):
    a = qual.write_qdpx(csv_segments, tmp_path / "a.qdpx")
    b = qual.write_qdpx(csv_segments, tmp_path / "b.qdpx")
    assert a.read_bytes() == b.read_bytes()
    back = quiet(qual.read_qdpx, a)
    cols = [c for c in qual.SEGMENT_COLUMNS if c not in ("start", "end")]
    key = ["segment_id", "code"]
    pd.testing.assert_frame_equal(csv_segments[cols].sort_values(key).reset_index(drop=True),
                                  back[cols].sort_values(key).reset_index(drop=True))


def test_unknown_codes_are_reported_not_dropped(tmp_path):
    path = _write(tmp_path, "s.csv", "case_id,respondent_role,question,code,excerpt\n"
                  "A,manager,q01,covid pressures,x1\nA,staff,q02,covid pressures,x2\nB,staff,q02,covid pressures,x3\n"
                  "B,staff,q03,leadership,x4\n")
    with pytest.warns(UserWarning, match=r"3 segment\(s\) carry 1 code\(s\) not in codebook"):
        seg = qual.read_coded_segments(path)
    assert len(seg) == 4 and (seg["code_group"] == "unknown").sum() == 3
    rep = qual.unknown_codes(seg)
    assert rep[["code", "n_segments", "n_respondents", "n_cases"]].values.tolist() == [["covid pressures", 3, 3, 2]]
    # extending the codebook makes the code known
    extra = _write(tmp_path, "extra.yaml", """
        groups: [{group: emergent, label: Emergent}]
        codes: [{code: covid_pressures, group: emergent, label: Covid pressures, definition: d,
                 include: i, exclude: e}]
        """)
    seg2 = qual.read_coded_segments(path, codebook=qual.load_codebook(extend=extra))
    assert seg2["in_codebook"].all() and qual.unknown_codes(seg2, codebook=qual.load_codebook(extend=extra)).empty


# -- malformed inputs -------------------------------------------------------------------------
@pytest.mark.parametrize("content, pattern", [
    ("case_id,respondent_role,question,code\nA,manager,q1,leadership\n",
     r"column 'excerpt': missing column\(s\) \['excerpt'\]"),
    ("case_id,respondent_role,question,code,excerpt\nA,manager,q1,leadership,x\nA,manager,q1,,y\n",
     r"row 3, column 'code': empty code"),
    ("case_id,respondent_role,question,code,excerpt\nA,manager,q1,leadership,x\nA,manager,q1,a,b,c,d\n",
     r"row 3: 7 fields where the header has 5"),
    ("", r"the file is empty"),
    ("Case,Case ID,respondent_role,question,code,excerpt\n", r"columns 'Case' and 'Case ID' both give case_id"),
])
def test_malformed_csv_names_row_and_column(tmp_path, content, pattern):
    path = _write(tmp_path, "bad.csv", content)
    with pytest.raises(DataFormatError, match=pattern) as err:
        qual.read_segments_csv(path)
    assert str(err.value).startswith(str(path))


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("case_id,respondent_role,question,code,excerpt\nA,manager,q1,leadership,caf\xe9\n"
                     .encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        qual.read_segments_csv(path)


def _qde_with(old, new):
    qde = hand_built_qde()
    assert old in qde
    return qde.replace(old, new, 1)


@pytest.mark.parametrize("build, pattern", [
    (lambda p: p.write_text("not a zip"), r"not a zip archive"),
    (lambda p: make_qdpx(p, members={}, qde=None) and _drop_member(p, "project.qde"), r"no project.qde"),
    (lambda p: make_qdpx(p, qde="<Project xmlns='urn:QDA-XML:project:1.0'><CodeBook>"),
     r"zip member 'project.qde': not well-formed XML at line 1"),
    (lambda p: make_qdpx(p, qde="<Project xmlns='urn:other'/>"), r"expected <Project> in namespace"),
    (lambda p: make_qdpx(p, qde=_qde_with('targetGUID="c-rel"', 'targetGUID="nope"')),
     r"TextSource\[1\] \(name 'Manager interview'\)/PlainTextSelection\[4\]/Coding\[1\]: CodeRef targetGUID 'nope'"),
    (lambda p: make_qdpx(p, qde=_qde_with('startPosition="', 'startPosition="x')),
     r"PlainTextSelection\[1\]: startPosition 'x0'.*expected two whole numbers"),
    (lambda p: make_qdpx(p, qde=_qde_with('endPosition="', 'endPosition="9999')),
     r"positions 0\.\.9999\d* lie outside the source text"),
    (lambda p: make_qdpx(p, members={}), r"plainTextPath 'internal://s-a.txt' names a file that is not in the archive"),
    (lambda p: make_qdpx(p, qde=_qde_with('<Code guid="c-rel" name="Relational"', '<Code name="Relational"')),
     r"CodeBook/Codes/Code\[2\]: a Code needs both guid and name"),
    (lambda p: make_qdpx(p, qde=_qde_with('<SourceRef targetGUID="s-a"/></Case>',
                                          '<SourceRef targetGUID="s-a"/></Case><Case guid="k2" name="CASE-2">'
                                          '<SourceRef targetGUID="s-a"/></Case>')),
     r"Cases/Case\[3\]: SourceRef 's-a' also belongs to Cases/Case\[1\] \(name 'CASE-1'\)"),
])
def test_malformed_qdpx_names_member_and_element(tmp_path, build, pattern):
    path = tmp_path / "bad.qdpx"
    build(path)
    with pytest.raises(DataFormatError, match=pattern) as err:
        quiet(qual.read_qdpx, path)
    assert str(err.value).startswith(str(path))


def _drop_member(path, member):
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist() if n != member}
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in items.items():
            zf.writestr(n, d)
    return path


def test_unsupported_suffix(tmp_path):
    p = _write(tmp_path, "codes.xlsx", "x")
    with pytest.raises(DataFormatError, match=r"expected a REFI-QDA \.qdpx project or a \.csv"):
        qual.read_coded_segments(p)


# =============================================================================================
# analysis on hand-worked tables
def test_code_frequencies_hand_worked(csv_segments):
    from statsmodels.stats.proportion import proportion_confint

    f = qual.code_frequencies(data=csv_segments)
    lead = f.set_index("code").loc["leadership"]
    # leadership: cases A and C of three cases; two excerpts
    assert (lead["n_units"], lead["n_total"], lead["n_segments"]) == (2, 3, 2)
    lo, hi = proportion_confint(2, 3, alpha=0.05, method="beta")  # R: binom.test(2, 3)$conf.int
    assert lead["ci_low"] == pytest.approx(lo) and lead["ci_high"] == pytest.approx(hi)
    assert f["code"].iloc[0] == "directive"  # codebook order: mechanisms first
    assert f["code"].iloc[-1] == "Leadershp"  # unknown codes last
    by_role = qual.code_frequencies(data=csv_segments, by="respondent_role").set_index(
        ["respondent_role", "code"])
    # staff took part in cases A and C; leadership was raised by staff only in C
    assert by_role.loc[("staff", "leadership"), ["n_units", "n_total"]].tolist() == [1, 2]
    # a code never raised by a role is a zero with its interval, not a missing row
    assert len(by_role) == 4 * 7  # four roles x seven codes
    zero = by_role.loc[("commissioner", "directive")]
    assert (zero["n_units"], zero["n_total"], zero["ci_low"]) == (0, 1, 0.0)
    assert zero["ci_high"] == pytest.approx(0.975)  # R: binom.test(0, 1)$conf.int
    groups = qual.code_frequencies(data=csv_segments, level="group").set_index("code")
    assert groups.loc["mechanism", "n_units"] == 1 and groups.loc["theme", "n_units"] == 3
    seg = qual.code_frequencies(data=csv_segments, unit="segment").set_index("code")
    assert seg.loc["leadership", ["n_units", "n_total"]].tolist() == [2, 7]


def test_cooccurrence_hand_worked(csv_segments):
    c = qual.code_cooccurrence(data=csv_segments).set_index(["code_a", "code_b"])
    assert c.loc[("leadership", "cultural_change"), ["n_a", "n_b", "n_both", "n_units"]].tolist() == [2, 1, 1, 3]
    assert c.loc[("leadership", "cultural_change"), "jaccard"] == pytest.approx(0.5)
    assert c.loc[("leadership", "cultural_change"), "expected_both"] == pytest.approx(2 / 3)
    assert c.loc[("leadership", "leadership"), "n_both"] == 2
    m = qual.code_cooccurrence(data=csv_segments).pivot(index="code_a", columns="code_b", values="n_both")
    assert (m.to_numpy() == m.to_numpy().T).all()
    s = qual.code_cooccurrence(data=csv_segments, unit="segment").set_index(["code_a", "code_b"])
    assert s.loc[("leadership", "cultural_change"), "n_both"] == 1  # the double-coded excerpt
    assert s.loc[("leadership", "staffing"), "n_both"] == 0
    r = qual.code_cooccurrence(data=csv_segments, by="respondent_role").set_index(
        ["respondent_role", "code_a", "code_b"])
    assert r.loc[("manager", "leadership", "cultural_change"), ["n_both", "n_units"]].tolist() == [1, 2]


def test_case_code_matrix(csv_segments):
    m = qual.case_code_matrix(csv_segments, cases=["A", "B", "C", "D"]).set_index("case_id")
    assert m.loc["A", ["leadership", "staffing", "directive"]].tolist() == [1, 1, 0]
    assert m.loc["D"].sum() == 0  # a case with no coded excerpt is all zeros
    n = qual.case_code_matrix(csv_segments, value="segments").set_index("case_id")
    assert n.loc["A", "leadership"] == 1 and n.loc["C", "leadership"] == 1


def test_case_table_rejects_two_locations(csv_segments):
    bad = csv_segments.copy()
    bad.loc[0, "location_id"] = "1-999"
    with pytest.raises(DataFormatError, match=r"case 'A' carries 2 location IDs"):
        qual.case_table(bad)


def _history(rows):
    from cqc_research.ratings import RATING_DTYPE

    h = pd.DataFrame(rows, columns=["org_id", "report_date", "domain", "rating"])
    h["report_date"] = pd.to_datetime(h["report_date"])
    h["rating"] = pd.Categorical(h["rating"], dtype=RATING_DTYPE)
    return h


HISTORY = _history([
    ("L1", "2019-01-15", "Overall", "Inadequate"), ("L1", "2019-01-15", "Safe", "Inadequate"),
    ("L1", "2019-07-15", "Overall", "Requires improvement"), ("L1", "2019-07-15", "Overall", "Requires improvement"),
    ("L2", "2018-03-01", "Overall", "Good"), ("L2", "2019-03-01", "Overall", "Inadequate"),
    ("L2", "2019-09-01", "Overall", "Inadequate"), ("L2", "2020-09-01", "Overall", "Good"),
    ("L3", "2021-01-01", "Overall", "Inadequate"),
    ("L4", "2019-01-01", "Overall", "Good"), ("L4", "2021-01-01", "Safe", "Inadequate"),
    ("L5", "2020-01-01", "Overall", None), ("L5", "2020-06-01", "Overall", "Inadequate"),
    ("L5", "2021-06-01", "Overall", "Inadequate"), ("L5", "2022-01-01", "Overall", "Requires improvement"),
])
CASES = pd.DataFrame({"case_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
                      "location_id": ["L1", "L2", "L3", "L4", "L9", "L5"]})


def test_case_outcomes_hand_worked():
    out = qual.case_outcomes(CASES, HISTORY, censor_date="2022-07-15").set_index("case_id")
    assert (out["censor_date"] == pd.Timestamp("2022-07-15")).all() and (out["domain"] == "Overall").all()
    assert out["status"].tolist() == ["improved", "not improved", "no later inspection", "no index rating",
                                      "location not found", "not improved"]
    assert out.loc["c1", "next_rating"] == "Requires improvement"
    assert out.loc["c1", "months_to_improvement"] == pytest.approx(181 / 30.4375)
    # L2: Inadequate again at the next inspection, Good a year later
    assert out["improved"].dtype == "boolean" and out.loc["c2", "improved"] is np.False_
    assert out.loc["c2", "improvement_date"] == pd.Timestamp("2020-09-01")
    assert out.loc["c2", "months_to_improvement"] == pytest.approx(550 / 30.4375)
    assert out.loc["c3", "time_months"] == pytest.approx(out.loc["c3", "followup_months"])
    assert not out.loc["c3", "improved_ever"] and pd.isna(out.loc["c3", "improved"])
    assert out.loc["c3", "followup_months"] == pytest.approx(560 / 30.4375)
    assert out.loc["c1", "n_reports_after"] == 1  # the duplicated report counts once
    last = qual.case_outcomes(CASES, HISTORY, index="last_inadequate").set_index("case_id")
    assert last.loc["c2", "index_date"] == pd.Timestamp("2019-09-01") and last.loc["c2", "status"] == "improved"
    assert last.loc["c6", "status"] == "improved"
    dated = qual.case_outcomes(CASES.assign(index_date=["2019-12-31"] * 6), HISTORY).set_index("case_id")
    assert dated.loc["c1", "index_rating"] == "Requires improvement"
    assert dated.loc["c1", "status"] == "no later inspection"


def test_compare_prevalence_against_independent_computation():
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    improved = [True] * 10 + [False] * 8 + [None]
    lead = [1] * 7 + [0] * 3 + [1] * 2 + [0] * 6 + [1]
    data = pd.DataFrame({"case_id": [f"c{i}" for i in range(19)], "improved": pd.array(improved, "boolean"),
                         "leadership": lead, "staffing": [1, 0] * 9 + [0]})
    cmp = qual.compare_prevalence(data, codes=["leadership", "staffing"]).set_index("code")
    row = cmp.loc["leadership"]
    assert (row["k_improved"], row["n_improved"], row["k_not_improved"], row["n_not_improved"]) == (7, 10, 2, 8)
    assert row["n_excluded"] == 1
    assert row["difference"] == pytest.approx(0.7 - 0.25)
    # R: fisher.test(matrix(c(7, 2, 3, 6), 2))
    assert row["p_fisher"] == pytest.approx(fisher_exact([[7, 3], [2, 6]]).pvalue)
    lo, hi = proportion_confint(7, 10, method="beta")
    assert (row["ci_low_improved"], row["ci_high_improved"]) == (pytest.approx(lo), pytest.approx(hi))
    lo, hi = confint_proportions_2indep(7, 10, 2, 8, method="newcomb")
    assert (row["diff_ci_low"], row["diff_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    # the conditional MLE odds ratio lies between 1 and the sample odds ratio (7*6)/(3*2) = 7
    assert 1 < row["odds_ratio"] < 7 and row["or_ci_low"] < row["odds_ratio"] < row["or_ci_high"]
    assert cmp["p_holm"].tolist() == pytest.approx(
        [min(1, 2 * cmp["p_fisher"].min()), max(cmp["p_fisher"].max(), min(1, 2 * cmp["p_fisher"].min()))])
    assert cmp.attrs == {} and "descriptive" in qual.DESCRIPTIVE_CAVEAT  # the caveat is a constant, not attrs
    long = qual.prevalence_by_group(data, codes=["leadership"])
    assert long[["group", "k", "n"]].values.tolist() == [[False, 2, 8], [True, 7, 10]]


def test_clopper_pearson_edges():
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = qual.clopper_pearson([0, 5, 3], [5, 5, 0])
    assert lo[0] == 0 and hi[0] == pytest.approx(proportion_confint(0, 5, method="beta")[1])
    assert hi[1] == 1 and lo[1] == pytest.approx(proportion_confint(5, 5, method="beta")[0])
    assert np.isnan(lo[2]) and np.isnan(hi[2])


def test_time_to_improvement_hand_worked_kaplan_meier():
    # events at 1, 3, 4; censored at 2 and 5: S(1)=0.8, S(3)=0.8*2/3=0.533, S(4)=0.267 -> median 4
    d = pd.DataFrame({"time_months": [1, 2, 3, 4, 5], "improved_ever": [True, False, True, True, False],
                      "leadership": [1, 1, 0, 0, 0]})
    t = qual.case_improvement_times(d)
    assert t[["n", "events", "median_months"]].values.tolist() == [[5, 3, 4.0]]
    assert t["ci_low"].iloc[0] <= 4.0
    by = qual.case_improvement_times(d, by="leadership").set_index("leadership")
    # without leadership: events at 3 and 4, censored at 5: S(3)=2/3, S(4)=1/3 -> median 4
    assert by.loc[0, ["n", "events", "median_months"]].tolist() == [3, 2, 4.0]
    # with leadership: S(1)=0.5 and no later event, so the median is not reached
    assert by.loc[1, "events"] == 1 and np.isnan(by.loc[1, "median_months"])


def test_cases_with_outcomes_joins_codes_to_history(tmp_path):
    path = _write(tmp_path, "s.csv", "case_id,location_id,respondent_role,question,code,excerpt\n"
                  "c1,L1,manager,q05,leadership,x1\nc1,L1,staff,q06,staffing,x2\n"
                  "c2,L2,manager,q01,directive,x3\nc3,L3,manager,q05,leadership,x4\n")
    seg = qual.read_coded_segments(path)
    joined = qual.cases_with_outcomes(seg, HISTORY, censor_date="2022-07-15").set_index("case_id")
    assert joined["status"].tolist() == ["improved", "not improved", "no later inspection"]
    assert joined[["directive", "leadership", "staffing"]].values.tolist() == [[0, 1, 1], [1, 0, 0], [0, 1, 0]]
    assert qual.code_columns(joined) == ["directive", "leadership", "staffing"]
    assert (joined["domain"] == "Overall").all() and (joined["censor_date"] == pd.Timestamp("2022-07-15")).all()
    # the code columns survive a saved table with its stamp column, and a concat
    buf = io.StringIO()
    joined.reset_index().assign(data_status="SYNTHETIC DATA").to_csv(buf, index=False)
    back = pd.read_csv(io.StringIO(buf.getvalue()))
    assert qual.code_columns(pd.concat([back, back])) == ["directive", "leadership", "staffing"]
    cmp = qual.compare_prevalence(joined.reset_index())
    assert cmp.set_index("code").loc["leadership", ["k_improved", "k_not_improved"]].tolist() == [1, 0]


# =============================================================================================
# synthetic coded interviews and the planted pattern
def _cases(n_improved, n_not, prefix="S"):
    n = n_improved + n_not
    return pd.DataFrame({"case_id": [f"{prefix}{i:03d}" for i in range(n)],
                         "location_id": [f"1-{100000 + i}" for i in range(n)],
                         "improved": [True] * n_improved + [False] * n_not})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qual") / "qual"
    cases = _cases(200, 200)
    truth = interviews.write_synthetic_interviews(cases, folder, seed=11)
    return folder, cases, truth


def test_synthetic_files_are_labelled(planted):
    folder, cases, truth = planted
    assert (folder / "SYNTHETIC").is_file()
    seg = quiet(qual.read_coded_segments, folder / "coded_segments.csv")
    assert seg.attrs["synthetic"] is True
    assert seg["excerpt"].str.startswith("[SYNTHETIC] ").all()
    with zipfile.ZipFile(folder / "interviews.qdpx") as zf:
        assert "SYNTHETIC" in zf.read("project.qde").decode()
    json.dumps(truth)  # the truth is JSON-serialisable for truth.json


def test_synthetic_writer_is_deterministic(tmp_path):
    cases = _cases(15, 15)
    first = interviews.write_synthetic_interviews(cases, tmp_path / "a", seed=5)
    again = interviews.write_synthetic_interviews(cases, tmp_path / "b", seed=5)
    other = interviews.write_synthetic_interviews(cases, tmp_path / "c", seed=6)
    assert again == first and other != first
    for name in ("coded_segments.csv", "interviews.qdpx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_planted_pattern_is_recovered_from_the_qdpx(planted):
    folder, cases, truth = planted
    seg = quiet(qual.read_coded_segments, folder / "interviews.qdpx")
    assert truth["unknown_codes"] == ["agency_staff"]
    assert qual.unknown_codes(seg)["code"].tolist() == ["agency_staff"]
    matrix = qual.case_code_matrix(seg, codes=list(truth["planted_prevalence"]), cases=cases["case_id"])
    data = matrix.merge(cases[["case_id", "improved"]], on="case_id")
    cmp = qual.compare_prevalence(data, codes=list(truth["planted_prevalence"]), alpha=0.001).set_index("code")
    assert truth["planted_prevalence"]
    for code, planted_p in truth["planted_prevalence"].items():
        realised = truth["realised_prevalence"][code]
        # the analysis counts exactly what was written
        assert cmp.loc[code, "k_improved"] == realised["k_improved"], code
        assert cmp.loc[code, "k_not_improved"] == realised["k_not_improved"], code
        # and the planted probabilities lie within the 99.9% exact intervals
        assert cmp.loc[code, "ci_low_improved"] <= planted_p["improved"] <= cmp.loc[code, "ci_high_improved"]
        assert cmp.loc[code, "ci_low_not_improved"] <= planted_p["not_improved"] <= cmp.loc[code, "ci_high_not_improved"]
    # leadership: planted 0.70 vs 0.30; the difference's interval excludes 0 and holds 0.40
    lead = qual.compare_prevalence(data, codes=["leadership"]).iloc[0]
    assert lead["diff_ci_low"] > 0.2 and lead["diff_ci_low"] < 0.4 < lead["diff_ci_high"]
    assert lead["p_fisher"] < 1e-6
    assert "leadership" in truth["strong_effects"] and "staffing" in truth["null_codes"]
    null = qual.compare_prevalence(data, codes=truth["null_codes"]).set_index("code")
    assert (null["diff_ci_low"] < 0).all() and (null["diff_ci_high"] > 0).all()


def test_synthetic_roles_questions_and_double_coding(planted):
    folder, cases, truth = planted
    seg = quiet(qual.read_coded_segments, folder / "coded_segments.csv")
    assert set(seg["respondent_role"]) == set(ROLES)
    assert set(seg["question"]) <= {f"q{i:02d}" for i in range(1, 14)}
    assert (seg.groupby("segment_id").size() > 1).any()  # some excerpts carry two codes
    assert (seg["respondent_id"].str.split("-").str[0] == seg["case_id"]).all()
    assert seg.groupby("respondent_id")["respondent_role"].nunique().max() == 1
    assert truth["counts"]["segments"] == seg["segment_id"].nunique()
    assert set(truth["cases"]) == set(cases["case_id"])


def test_synthetic_writer_rejects_bad_cases(tmp_path):
    with pytest.raises(ValueError, match="improved"):
        interviews.write_synthetic_interviews(_cases(2, 2).drop(columns="improved"), tmp_path, seed=1)
    bad = _cases(2, 2).astype({"improved": "object"})
    bad.loc[0, "improved"] = None
    with pytest.raises(ValueError, match="missing values"):
        interviews.write_synthetic_interviews(bad, tmp_path, seed=1)


# =============================================================================================
# the synthetic dataset's rating histories
def _synthetic_cases(ds):
    from cqc_research.io.cqc_json import load_api_folder

    history = load_api_folder(ds.paths["api_folder"]).history
    overall = history[(history["domain"] == "Overall") & (history["level"] == "location")]
    ids = sorted(overall.loc[overall["rating"] == "Inadequate", "org_id"].unique())
    cases = pd.DataFrame({"case_id": [f"K{i:03d}" for i in range(len(ids))], "location_id": ids})
    return history, cases


def test_outcomes_on_the_synthetic_history_match_an_independent_walk(synthetic_small):
    history, cases = _synthetic_cases(synthetic_small)
    out = qual.case_outcomes(cases, history).set_index("location_id")
    assert len(out) >= 10
    # independent: read each location's JSON and walk its Overall ratings by date
    n_followed = 0
    for loc_id, row in out.iterrows():
        rec = json.loads((Path(synthetic_small.paths["api_folder"]) / "locations" / f"{loc_id}.json").read_text())
        reports = {}
        cur = (rec.get("currentRatings") or {}).get("overall") or {}
        if cur.get("rating"):
            reports.setdefault(cur["reportDate"][:10], cur["rating"])
        for h in rec.get("historicRatings") or []:
            ov = h.get("overall") or {}
            if ov.get("rating"):
                reports.setdefault((ov.get("reportDate") or h["reportDate"])[:10], ov["rating"])
        for a in rec.get("assessment") or []:  # the single assessment framework (2023-)
            for g in (a.get("ratings") or {}).get("asgRatings") or []:
                if g.get("rating") and a.get("assessmentPlanPublishedDateTime"):
                    reports.setdefault(a["assessmentPlanPublishedDateTime"][:10], g["rating"])
        scale = ["Inadequate", "Requires improvement", "Good", "Outstanding"]
        seq = [(d, r) for d, r in sorted(reports.items()) if r.capitalize() in [s.capitalize() for s in scale]]
        first = next(i for i, (_, r) in enumerate(seq) if r.lower() == "inadequate")
        assert row["index_date"] == pd.Timestamp(seq[first][0])
        if first + 1 < len(seq):
            assert bool(row["improved"]) == (seq[first + 1][1].lower() != "inadequate")
            n_followed += 1
        else:
            assert row["status"] == "no later inspection"
    assert n_followed >= 5  # most cases were re-inspected: the improved branch is exercised


def test_synthetic_interviews_for_synthetic_cases_round_trip(synthetic_small, tmp_path):
    history, cases = _synthetic_cases(synthetic_small)
    outcomes = qual.case_outcomes(cases, history)
    known = outcomes[outcomes["improved"].notna()]
    study = known[["case_id", "location_id"]].assign(improved=known["improved"].astype(bool))
    truth = interviews.write_synthetic_interviews(study, tmp_path / "qual", seed=3)
    seg = quiet(qual.read_coded_segments, tmp_path / "qual" / "interviews.qdpx")
    joined = qual.cases_with_outcomes(seg, history)
    # every case is matched to its location, and the history gives back the planted outcome
    assert (joined.set_index("case_id")["improved"].astype(bool)
            == pd.Series({k: v["improved"] for k, v in truth["cases"].items()})).all()
    cmp = qual.compare_prevalence(joined, codes=["leadership"]).iloc[0]
    assert cmp["k_improved"] == truth["realised_prevalence"]["leadership"]["k_improved"]


# =============================================================================================
# real data: CQC API records for Oldham
@pytest.mark.realdata
def test_outcomes_on_real_oldham_histories(shared_data):
    from cqc_research.io.cqc_json import load_api_folder

    history = load_api_folder(shared_data / "cqc_api_oldham_2024").history
    overall = history[(history["domain"] == "Overall") & (history["level"] == "location")]
    ids = sorted(overall.loc[overall["rating"] == "Inadequate", "org_id"].unique())
    out = qual.case_outcomes(pd.DataFrame({"case_id": ids, "location_id": ids}), history)
    assert len(out) == len(ids) > 5
    assert out["status"].isin(["improved", "not improved", "no later inspection"]).all()
    # index ratings are Inadequate and next ratings come later
    assert (out["index_rating"] == "Inadequate").all()
    later = out["next_date"].notna()
    assert (out.loc[later, "next_date"] > out.loc[later, "index_date"]).all()
    assert (out.loc[out["improved"].fillna(False).astype(bool), "next_rating"] != "Inadequate").all()


# =============================================================================================
# the CLI command
def test_cli_summary_and_export(tmp_path, capsys):
    import argparse

    from cqc_research.cli import qual as qual_command

    path = _write(tmp_path, "segments.csv", CSV_TEXT)
    parser = argparse.ArgumentParser()
    qual_command.configure_parser(parser)
    args = parser.parse_args([str(path), "--out", str(tmp_path / "tidy.csv"), "--qdpx", str(tmp_path / "x.qdpx")])
    assert qual_command.run_command(args) == 0
    out = capsys.readouterr().out
    assert "1 code(s) not in the codebook" in out and "Leadershp" in out and "leadership" in out
    assert pd.read_csv(tmp_path / "tidy.csv")["code"].tolist()[0] == "leadership"
    assert quiet(qual.read_qdpx, tmp_path / "x.qdpx")["segment_id"].nunique() == 7


# =============================================================================================
# notebook 07, once, on the small synthetic dataset written by the generator


def test_notebook_07_runs_on_synthetic_data(synthetic_small, main_job):
    """Notebook 07 as the main job ran it, on its defaults: a copy of synthetic_small."""
    import nbformat

    from cqc_research.notebook_output import check_outputs

    truth = synthetic_small.truth["qualitative"]
    run = main_job.run
    manifest = json.loads((run / "manifest.json").read_text())
    assert {n["name"]: n["status"] for n in manifest["notebooks"]}["07_mixed_methods"] == "ok"
    nb = nbformat.read(run / "07_mixed_methods.ipynb", as_version=4)
    assert check_outputs(run, synthetic=True) == []
    cmp = pd.read_csv(run / "tables" / "prevalence_by_outcome.csv").set_index("code")
    assert (cmp["data_status"] == "SYNTHETIC DATA").all()
    # the saved counts are exactly what the generator wrote for each planted code
    assert truth["realised_prevalence"]
    for code, r in truth["realised_prevalence"].items():
        assert cmp.loc[code, "k_improved"] == r["k_improved"], code
        assert cmp.loc[code, "k_not_improved"] == r["k_not_improved"], code
        assert cmp.loc[code, "n_improved"] == r["n_improved"]
    check = pd.read_csv(run / "tables" / "planted_truth_qualitative.csv")
    assert check["quantity"].str.contains("leadership").all() and (check["verdict"] == "recovered").all()
    unknown = pd.read_csv(run / "tables" / "unknown_codes.csv")
    assert unknown["code"].tolist() == truth["unknown_codes"]
    for fig in ("code_frequencies", "code_by_role", "cooccurrence_case", "case_code_matrix",
                "prevalence_by_outcome"):
        assert (run / "figures" / f"{fig}.png").is_file()
    # the prose quotes the computed table and carries the caveat
    text = _notebook_text(nb)
    lead = cmp.loc["leadership"]
    assert lead["difference"] > 0  # the planted direction (0.70 against 0.30)
    # the prose quotes the counts exactly when the table's interval excludes zero
    quoted = f"{lead['k_improved']} of {lead['n_improved']} cases that improved" in text
    assert quoted == bool(lead["diff_ci_low"] > 0)
    assert "These comparisons are descriptive" in text
    assert "All 1 planted quantities were recovered (1 effect: qualitative)." in text
