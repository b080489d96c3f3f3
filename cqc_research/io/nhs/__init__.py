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
``(frame, report)``, a :class:`~cqc_research.io.nhs.common.ReadReport` (for
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

Writers (``write_*``) write exactly the published layouts from a simple frame; the synthetic
generator (:mod:`cqc_research.synthetic`) uses them, and the tests round-trip writer -> loader.
"""

from __future__ import annotations

import pandas as pd

from ...errors import DataFormatError
from .ae import (  # noqa: F401
    AE_TIDY_TYPES,
    ae_role,
    load_ae_monthly,
    load_ae_tidy,
)
from .common import (  # noqa: F401
    AE_TYPES,
    GP_MEASURES,
    INDICATOR_COLUMNS,
    ORG_LEVELS,
    IndicatorParseWarning,
    financial_year,
    parse_report_frame,
)
from .detect import (  # noqa: F401
    KIND_LABEL,
    KIND_LOADER,
    detect_indicator_kind,
    kind_from_columns,
)
from .dtoc import (  # noqa: F401
    DTOC_BY_NORM,
    DTOC_REASONS,
    ENGLAND_CODE,
    load_dtoc,
)
from .fft import (  # noqa: F401
    FFT_MEASURES,
    load_fft,
)
from .fingertips import (  # noqa: F401
    load_fingertips,
)
from .geography import (  # noqa: F401
    LA_CODE,
    PRACTICE_CODE,
    load_imd,
    load_la_codes,
    load_population,
)
from .gp_payments import (  # noqa: F401
    GP_DATES,
    GP_TEXT,
    gp_key,
    load_gp_payments,
    load_gp_practices,
)
from .gpps import (  # noqa: F401
    GPPS_MEASURES,
    load_gpps,
)
from .qof import (  # noqa: F401
    load_qof_achievement,
    load_qof_geography,
    load_qof_indicators,
    load_qof_prevalence,
)
from .shmi import (  # noqa: F401
    load_shmi,
)
from .staff_survey import (  # noqa: F401
    STAFF_SURVEY_QUESTION_MAP,
    STAFF_SURVEY_QUESTIONS,
    load_staff_survey,
)
from .tidy import (  # noqa: F401
    load_tidy_indicator,
)

__all__ = [
    "INDICATOR_COLUMNS",
    "ORG_LEVELS",
    "AE_TYPES",
    "GP_MEASURES",
    "IndicatorParseWarning",
    "parse_report_frame",
    "financial_year",
    "GP_TEXT",
    "GP_DATES",
    "gp_key",
    "load_gp_practices",
    "load_gp_payments",
    "ae_role",
    "load_ae_monthly",
    "AE_TIDY_TYPES",
    "load_ae_tidy",
    "load_shmi",
    "STAFF_SURVEY_QUESTIONS",
    "STAFF_SURVEY_QUESTION_MAP",
    "load_staff_survey",
    "DTOC_REASONS",
    "DTOC_BY_NORM",
    "ENGLAND_CODE",
    "load_dtoc",
    "LA_CODE",
    "PRACTICE_CODE",
    "load_imd",
    "load_population",
    "load_la_codes",
    "load_tidy_indicator",
    "load_qof_prevalence",
    "load_qof_achievement",
    "load_qof_geography",
    "load_qof_indicators",
    "load_fingertips",
    "GPPS_MEASURES",
    "load_gpps",
    "FFT_MEASURES",
    "load_fft",
    "KIND_LABEL",
    "KIND_LOADER",
    "kind_from_columns",
    "detect_indicator_kind",
    "load_indicators",
]

def load_indicators(path, **kwargs) -> pd.DataFrame:
    """Load any supported NHS indicator file, choosing the loader from the file's header.

    Parameters
    ----------
    path : str or Path
        A CSV of one of the supported kinds, or a folder of official monthly A&E CSVs.
    **kwargs
        Passed to the loader (e.g. ``with_report=True``, which every loader takes).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, report) with ``with_report=True``
        The loader's frame: the indicator table (or, for a code lookup, the lookup); with
        ``with_report=True`` also the loader's :class:`~cqc_research.io.nhs.common.ReadReport`
        (a list of them for monthly A&E files).

    Raises
    ------
    DataFormatError
        When the header matches none of the supported kinds.
    """
    kind = detect_indicator_kind(path)
    if kind is None:
        raise DataFormatError(
            "not a recognised NHS indicator file; expected one of: "
            + "; ".join(KIND_LABEL.values()), path=path)
    return globals()[KIND_LOADER[kind]](path, **kwargs)
