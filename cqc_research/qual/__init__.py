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
   :func:`compare_prevalence` and :func:`case_improvement_times` set codes beside outcomes with
   exact confidence intervals. Read them as description: see :data:`DESCRIPTIVE_CAVEAT`.
4. **Synthetic coded interviews** (:func:`write_synthetic_interviews`): invented excerpts, each
   labelled ``[SYNTHETIC]``, with planted patterns and their truth.
"""

from __future__ import annotations

from . import analysis, codebook, segments  # noqa: F401 (qual.analysis and the others as attributes)
from .analysis import (  # noqa: F401 (reachable as qual.<name>)
    COMPARISON_METHODS,
    case_code_matrix,
    case_improvement_times,
    case_outcomes,
    case_table,
    cases_with_outcomes,
    clopper_pearson,
    code_columns,
    code_cooccurrence,
    code_frequencies,
    code_order,
    compare_prevalence,
    group_labels,
    improved_excerpts,
    prevalence_by_group,
    role_excess,
)
from .codebook import (  # noqa: F401 (reachable as qual.<name>)
    DEFAULT_CODEBOOK,
    DESCRIPTIVE_CAVEAT,
    SEGMENT_COLUMNS,
    Codebook,
    code_key,
    codebook_from,
    codebook_table,
    load_codebook,
    merge_codebooks,
    resolve_codebook,
)
from .segments import (  # noqa: F401 (reachable as qual.<name>)
    read_cases_csv,
    read_coded_segments,
    read_coded_segments_noting,
    read_qdpx,
    read_segments_csv,
    standardise_segments,
    unknown_codes,
    write_qdpx,
)

#: What a researcher calls first; every public name of the three modules is reachable as ``qual.<name>``.
__all__ = ["load_codebook", "read_coded_segments", "code_frequencies", "compare_prevalence"]
