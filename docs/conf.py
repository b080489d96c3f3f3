"""Sphinx configuration of the cqc-research documentation site (``make docs``).

Sphinx with myst-nb: pages are MyST Markdown, the gallery is the notebooks that ``docs/build.py``
executed once with ``cqc-research run`` (myst-nb renders them and executes nothing), and the API
reference is autodoc over the numpydoc docstrings (napoleon). Everything builds offline: no
intersphinx, no remote images, and the theme (furo) ships its assets.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import cqc_research  # noqa: E402

project = "cqc-research"
author = "cqc-research contributors"
copyright = "cqc-research contributors; data examples under the Open Government Licence v3.0"
release = version = cqc_research.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

# -- sources ------------------------------------------------------------------------------------
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "build.py", ".gitignore", "guide/generated"]
root_doc = "index"

# -- MyST and notebooks -------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"          # docs/build.py ran them once through `cqc-research run`
nb_merge_streams = True
nb_output_stderr = "remove"        # progress bars and warnings of the run, not results
# tqdm in a notebook writes ipywidgets progress bars: the text form is what the page shows
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "application/vnd.jupyter.widget-state+json", None),
]

# -- API reference (autodoc + napoleon for the numpydoc docstrings) -----------------------------
# A module's page documents its __all__ (written out by _api_pages; "members" is not a default
# here, as a default of True would override the list each page gives).
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True   # "Attributes" sections as fields: a dataclass field with a #: comment is then described once

#: Modules not worth a page (command routing, private helpers).
API_SKIP = {"cqc_research.cli"}  # with its command modules (cqc_research.cli.*)


def _homes(modules: dict) -> dict[str, str]:
    """Each name of an ``__all__`` -> the one public module whose page documents it.

    A page documents its module's ``__all__`` (the public surface), but each object is described
    once, so that a short cross-reference has one target: on the page of the module that defines
    it when that module exports it, else on the exporting module nearest to its definition
    (``load``, defined in the private ``io._load``, is on the ``io`` page, not again on the
    package's); a constant (no ``__module__``) on the deepest module that exports it.
    """
    exporters: dict[str, list[str]] = {}
    for name, module in modules.items():
        for member in getattr(module, "__all__", []):
            exporters.setdefault(member, []).append(name)
    homes = {}
    for member, names in exporters.items():
        obj = getattr(modules[names[0]], member, None)
        defined = getattr(obj, "__module__", None) if callable(obj) else None
        if defined in names:
            homes[member] = defined
        elif defined:
            homes[member] = max(names, key=lambda n: (len(_common_prefix(defined, n)), n.count(".")))
        else:
            homes[member] = max(names, key=lambda n: n.count("."))
    return homes


def _common_prefix(a: str, b: str) -> list[str]:
    out = []
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x != y:
            break
        out.append(x)
    return out


def _api_pages() -> list[str]:
    """One page per public module, written to api/generated/ (so new modules appear by themselves)."""
    out_dir = DOCS / "api" / "generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ["cqc_research"]
    for info in pkgutil.walk_packages(cqc_research.__path__, prefix="cqc_research."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name.startswith(tuple(API_SKIP)):
            continue
        names.append(info.name)
    modules = {name: importlib.import_module(name) for name in sorted(names)}  # one that cannot be
    # imported fails the build here
    homes = _homes(modules)
    wanted = set()
    for name in sorted(names):
        path = out_dir / f"{name}.rst"
        members = [m for m in getattr(modules[name], "__all__", []) if homes.get(m) == name]
        text = (f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
                + (f"   :members: {', '.join(members)}\n" if members else "   :no-members:\n"))
        wanted.add(path.name)
        if not path.is_file() or path.read_text() != text:  # rewrite only on change (incremental builds)
            path.write_text(text)
    for stale in out_dir.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    return names


API_MODULES = _api_pages()

# -- HTML ---------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"cqc-research {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {"navigation_with_keys": True}

# An offline build: nothing is fetched at build time (no intersphinx), and no warning is ignored
# (make docs runs sphinx-build -W --keep-going).

_OUTSIDE_LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")


def _links_outside_the_site(app, docname, source):
    """A Markdown link from a page to a repository file outside docs/ (``../notebooks/x.md``)
    becomes the file's path as code: the site cannot link to it, and a dead link is worse."""
    here = (DOCS / docname).parent

    def repl(m):
        target = (here / m.group(2)).resolve()
        try:
            target.relative_to(DOCS)
            return m.group(0)
        except ValueError:
            pass
        try:
            rel = target.relative_to(ROOT).as_posix()
        except ValueError:
            return m.group(0)
        label = m.group(1)
        return label if rel.strip("`") in label else f"{label} (`{rel}` in the repository)"

    source[0] = _OUTSIDE_LINK.sub(repl, source[0])


def _no_links_for_plain_words(app, doctree):
    """Types such as ``path`` or ``name`` in numpydoc parameter lists are words, not objects:
    without this, Sphinx links them to whichever attribute happens to be called ``path``."""
    from sphinx.addnodes import pending_xref

    for node in list(doctree.findall(pending_xref)):
        target = node.get("reftarget", "")
        if node.get("refdomain") == "py" and node.get("refspecific") and "." not in target \
                and target.islower():
            node.replace_self(node.children)


def setup(app):
    app.connect("source-read", _links_outside_the_site)
    app.connect("doctree-read", _no_links_for_plain_words)


def _parameter_tables() -> None:
    """guide/generated/params_<notebook>.md: each notebook's parameters, read from its parameters cell."""
    from cqc_research.runner.notebooks import notebook_parameters

    out_dir = DOCS / "guide" / "generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        rows = ["| parameter | default | meaning |", "|---|---|---|"]
        for name, spec in notebook_parameters(nb).items():
            default = (spec["default"] or "").replace("|", "\\|")
            meaning = spec["help"].replace("|", "\\|")
            rows.append(f"| `{name}` | `{default}` | {meaning} |")
        text = "\n".join(rows) + "\n"
        path = out_dir / f"params_{nb.stem}.md"
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)


_parameter_tables()
