"""Notebook 07's study module: its sentences against the shipped codebook."""

from __future__ import annotations

import pandas as pd

from cqc_research import qual
from cqc_research.studies import mixed_methods as q


def test_codebook_subtitle_and_code_names_come_from_the_codebook():
    cb = qual.load_codebook()
    text = q.codebook_subtitle(cb)
    assert str(len(cb.codes)) in text and cb.name in text
    first = cb.codes.iloc[0]
    assert q.code_name(first["code"], cb) == first["label"]
    assert q.code_name("no_such_code", cb) == "no_such_code (not in codebook)"


def test_excerpts_block_quotes_each_excerpt_with_its_source():
    ex = pd.DataFrame({"excerpt": ["One.", "Two."], "respondent_role": ["staff", "registered_manager"],
                       "case_id": ["C1", "C2"], "question": ["Q1", "Q4"]})
    lines = q.excerpts_block("voice", ex, {"voice": "Being heard"}).splitlines()
    assert lines[0] == "**Being heard**"
    assert "> *(registered manager, case C2, Q4)*" in lines
