"""The one HTML path: every fragment the package shows or writes comes from a jinja2 template.

Templates live in ``cqc_research/templates/`` (``fragments/`` for pieces shown inside notebooks).
Autoescape is on for every template, so organisation names and other data are always text, never
markup. Pass :class:`markupsafe.Markup` only for HTML that itself came from a template.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["render"]

from markupsafe import Markup


@lru_cache(maxsize=1)
def environment():
    """The shared :class:`jinja2.Environment` (autoescape on, strict undefined variables).

    Returns
    -------
    jinja2.Environment
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("cqc_research", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render(name: str, /, **context) -> Markup:
    """Render template ``name`` with ``context``.

    Parameters
    ----------
    name : str
        Path below ``cqc_research/templates/``, e.g. ``"fragments/banner.html.j2"``.
    **context
        Template variables; strings are escaped unless they are :class:`~markupsafe.Markup`.

    Returns
    -------
    markupsafe.Markup
        The rendered HTML, safe to embed in another template.

    Examples
    --------
    >>> html = render("fragments/badge.html.j2", title="x", label="<b>", star=False,
    ...               background="#fff", colour="#000")
    >>> "&lt;b&gt;" in html and "<b>" not in html
    True
    """
    return Markup(environment().get_template(name).render(**context))
