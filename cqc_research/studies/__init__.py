"""One module per research question: its notebook's glue, sentences, figures and ``TABLES``.

``indicators``: every indicator source a study holds, against the ratings (notebook 02); the
other questions each have their module beside it (``from cqc_research.studies import journeys
as q``). Nothing is imported here, so importing one question loads only what it needs.
"""
