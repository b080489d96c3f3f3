"""Statistics on ratings and indicators; each function takes ``data=`` and returns a tidy frame.

One module per question: :mod:`~cqc_research.metrics.overview` (rating mix, data freshness),
:mod:`~cqc_research.metrics.agreement` (key questions against Overall, CQC's aggregation
rules), :mod:`~cqc_research.metrics.transitions` (improvement journeys and time to
improvement), :mod:`~cqc_research.metrics.prediction` (do indicators predict ratings),
:mod:`~cqc_research.metrics.events` (indicators around inspections),
:mod:`~cqc_research.metrics.areas` (local systems), :mod:`~cqc_research.metrics.spc` and
:mod:`~cqc_research.metrics.funnel` (NHS-style charts' limits) and
:mod:`~cqc_research.metrics.assessment` (the single assessment framework). Nothing is
imported here, so ``import cqc_research.metrics.spc`` loads only what it needs.
"""
