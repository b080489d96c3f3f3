"""Figures in CQC rating colours.

The palette and theme live in :mod:`.palette`; topic modules hold the figures for each analysis
(``plots.agreement``, ``plots.prediction``, ``plots.funnel``, ``plots.spc``, ...).
Every function returns the matplotlib ``Figure`` (or seaborn grid) so notebooks can pass it to
:meth:`cqc_research.notebook_output.Report.save_figure`, which stamps synthetic-data figures.
"""

from .palette import REPORT_COLOURS, rating_distribution, rating_palette, set_theme

__all__ = ["rating_palette", "set_theme", "rating_distribution", "REPORT_COLOURS"]
