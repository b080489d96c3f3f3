"""One module per research question: its notebook's glue, sentences and figures.

``indicators``: every indicator source a study holds, against the ratings (notebook 02).
"""

from .indicators import every_indicator

__all__ = ["every_indicator"]
