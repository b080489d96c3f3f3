"""Each study module's TABLES: the tables its notebook saves, with their columns.

A study declares ``TABLES = {name: (columns...)}`` (after the ``data_status`` column a report
adds to every table); the notebooks of the main job must save exactly those tables with exactly
those columns.
"""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

#: study module -> its notebook
STUDIES = {
    "journeys": "03_improvement_journeys",
    "inspection_effects": "04_inspection_effects",
    "local_systems": "05_local_systems",
    "councils": "10_councils_and_systems",
    "mechanisms": "06_impact_mechanisms",
    "mixed_methods": "07_mixed_methods",
}


def saved_tables_problems(tables_dir, declared) -> list[str]:
    """Where the tables saved in a run folder differ from a study's TABLES (empty: none)."""
    problems = []
    for name, columns in declared.items():
        f = tables_dir / f"{name}.csv"
        if not f.exists():
            problems.append(f"{name}: not saved")
            continue
        header = list(pd.read_csv(f, nrows=0).columns)
        if header[:1] == ["data_status"]:
            header = header[1:]
        if tuple(header) != tuple(columns):
            problems.append(f"{name}: saved {header}, declared {list(columns)}")
    return problems


def test_saved_tables_check_can_fail(tmp_path):
    (tmp_path / "a.csv").write_text("data_status,x,y\nSYNTHETIC DATA,1,2\n")
    assert saved_tables_problems(tmp_path, {"a": ("x", "y")}) == []
    assert saved_tables_problems(tmp_path, {"a": ("x",), "b": ("z",)}) == [
        "a: saved ['x', 'y'], declared ['x']", "b: not saved"]


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_declared_tables_are_what_the_notebook_saves(study, main_job):
    module = importlib.import_module(f"cqc_research.studies.{study}")
    assert main_job.status == 0, main_job.printed[-2000:]
    assert saved_tables_problems(main_job.run / "tables", module.TABLES) == []
    assert all(isinstance(c, tuple) and c for c in module.TABLES.values())
