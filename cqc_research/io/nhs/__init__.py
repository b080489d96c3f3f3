"""NHS performance indicators: loaders to one tidy table, and writers of the published layouts.

Every loader returns the **indicator table** of ``docs/DESIGN.md``: one row per organisation x
period x measure,

=============  ==============================================================================
column         meaning
=============  ==============================================================================
org_code       ODS code (trust, site, practice) or local-authority code, as published
org_level      ``"trust"``, ``"site"``, ``"practice"`` or ``"local_authority"``
period_start   first day of the period the value describes (``datetime64``)
period_end     last day of that period; NaT for time-invariant measures (none of ours)
measure        the measure's name, e.g. ``ae_4hr_performance_all`` (see ``docs/indicators.md``)
value          the value (float); NaN when the published cell was blank, suppressed or
               unparseable, **never 0**
numerator      the count the value is a ratio of (NaN where not meaningful)
denominator    the count it is divided by (NaN where not meaningful)
org_name       the organisation's name as published, where the file gives one (else NA)
=============  ==============================================================================

``frame.attrs`` holds provenance only: ``source`` (path), ``sha256``, ``synthetic`` (a
``SYNTHETIC`` marker lies in the file's folder or above) and ``kind`` (which loader). How the
file was read is returned explicitly: every loader takes ``with_report=True`` and then returns
``(frame, report)``, a :class:`ReadReport` (for
:func:`load_ae_monthly`, one per file) whose ``dropped`` counts the rows dropped on purpose
(e.g. the A&E ``TOTAL`` row) by reason and whose ``parse_report`` gives, per numeric column,
the cells that were ``missing`` (blank / NA), ``suppressed`` (``-``, ``*``, ...) or
``unparseable``, with the first offending row as a spreadsheet would number it.
:func:`parse_report_frame` shows the parse report as a table. Unparseable cells warn
(:class:`IndicatorParseWarning`) or, with ``errors="raise"``, raise
:class:`~cqc_research.errors.DataFormatError` naming the file, row and column.

Columns are found by **normalised name** (case, spacing, punctuation, byte-order mark and ``&``
folded) and known aliases, never by position, so the header drift of published files
(``Practice Type`` / ``Practice type``, trailing spaces, columns that come and go) loads.

:func:`load_indicators` reads any of them, choosing the loader from the file's header
(:func:`detect_indicator_kind`; each reader module registers its kinds in
:mod:`cqc_research.io._kinds`).
"""

from __future__ import annotations

from ._ae_grid import ae_role  # noqa: F401
from ._common import (  # noqa: F401
    AE_TYPES,
    GP_MEASURES,
    INDICATOR_COLUMNS,
    ORG_LEVELS,
    IndicatorParseWarning,
    ReadReport,
    detect_indicator_kind,
    financial_year,
    kind_from_columns,
    parse_report_frame,
)
from ._load import load_indicators
from .ae import AE_TIDY_TYPES, load_ae_monthly, load_ae_tidy  # noqa: F401
from .dtoc import DTOC_BY_NORM, DTOC_REASONS, ENGLAND_CODE, load_dtoc  # noqa: F401
from .fft import FFT_MEASURES, load_fft  # noqa: F401
from .fingertips import load_fingertips
from .geography import LA_CODE, PRACTICE_CODE, load_imd, load_la_codes, load_population  # noqa: F401
from .gp_payments import GP_DATES, GP_TEXT, gp_key, load_gp_payments, load_gp_practices  # noqa: F401
from .gpps import GPPS_MEASURES, load_gpps  # noqa: F401
from .qof import load_qof_achievement, load_qof_geography, load_qof_indicators, load_qof_prevalence
from .shmi import load_shmi
from .staff_survey import STAFF_SURVEY_QUESTION_MAP, STAFF_SURVEY_QUESTIONS, load_staff_survey  # noqa: F401
from .tidy import load_tidy_indicator

__all__ = [
    "load_indicators",
    "detect_indicator_kind",
    "ReadReport",
    "IndicatorParseWarning",
    "load_ae_monthly",
    "load_ae_tidy",
    "load_dtoc",
    "load_fft",
    "load_fingertips",
    "load_gp_payments",
    "load_gp_practices",
    "load_gpps",
    "load_imd",
    "load_la_codes",
    "load_population",
    "load_qof_achievement",
    "load_qof_geography",
    "load_qof_indicators",
    "load_qof_prevalence",
    "load_shmi",
    "load_staff_survey",
    "load_tidy_indicator",
]
