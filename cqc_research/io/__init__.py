"""Loaders for every supported file, and one entry point that picks the right one.

``cqc_research.load(path)`` (or ``cqc-research load FILE``) detects what a file is (the kinds
are registered in :mod:`cqc_research.io._kinds`, each with its label, how it is recognised and
its loader):

========================================  ==========================================
what                                      loader
========================================  ==========================================
a folder with ``locations/*.json``        :func:`cqc_json.load_api_folder`
one API record ``.json``                  :func:`cqc_json.load_api_record`
Latest ratings (ODS, XLSX, CSV)           :func:`cqc_files.load_latest_ratings`
HSCA active locations (ODS, XLSX)         :func:`cqc_files.load_active_locations`
CQC care directory CSV                    :func:`cqc_files.load_care_directory`
councils' assessments CSV                 :func:`la_assessments.read_la_assessments`
NHS indicator files (CSV, workbooks)      :func:`nhs.load_indicators`
========================================  ==========================================
"""

from __future__ import annotations

from ._load import detect_kind, explain, load, read_source

__all__ = ["load", "explain", "detect_kind", "read_source"]
