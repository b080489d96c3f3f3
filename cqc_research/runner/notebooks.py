"""Finding notebooks and their papermill parameters; run ids; the runner's errors."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import paths
from ..errors import CQCResearchError

# ---------------------------------------------------------------------------------------------

#: Parameters the runner fills in itself.
OUTPUT_PARAMETER = "output_dir"
#: A parameter whose name ends like this and is left empty means "use the embedded data".
PATH_SUFFIXES = ("_path", "_dir", "_folder", "_file")
#: Packages whose versions go into every manifest.
KEY_PACKAGES = ("cqc-research", "pandas", "numpy", "scipy", "statsmodels", "matplotlib",
                "seaborn", "pyarrow", "papermill", "nbclient", "nbconvert", "ipykernel",
                "jupyter_client", "dask", "distributed")
ENGINE_NAME = "cqc_research"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(CQCResearchError, FileNotFoundError):
    """A notebook that does not exist or cannot be read."""


class ParameterError(CQCResearchError, ValueError):
    """A ``-p NAME VALUE`` that the notebook does not declare, or a value of the wrong type."""


class KernelStartError(CQCResearchError, RuntimeError):
    """A kernel that did not start after the allowed retries."""


# Run ids, notebooks, parameters
def make_run_id(when: _dt.datetime | None = None, *, token: str | None = None) -> str:
    """A sortable run id: local date and time to the minute plus a short random hex token.

    Parameters
    ----------
    when : datetime.datetime, optional
        The time stamped; default now (local time).
    token : str, optional
        The suffix; default 6 random hex digits, so two runs in the same minute differ.

    Returns
    -------
    str
        ``YYYY-MM-DDTHHMM-<token>``.

    Examples
    --------
    >>> import datetime as dt
    >>> make_run_id(dt.datetime(2026, 11, 23, 18, 54), token="3fa9c2")
    '2026-11-23T1854-3fa9c2'
    """
    when = when or _dt.datetime.now()
    return f"{when:%Y-%m-%dT%H%M}-{token or secrets.token_hex(3)}"


def find_notebooks(names: Sequence[str | os.PathLike] | None = None, *,
                   folder: str | os.PathLike | None = None) -> list[Path]:
    """The notebooks to run.

    Parameters
    ----------
    names : list of path, optional
        Paths, or names relative to ``notebooks/`` (with or without ``.ipynb``). ``None`` or
        empty: every ``notebooks/*.ipynb`` at the top level, sorted (not ``profiles/`` or
        ``workshop/``).
    folder : path, optional
        Where to look instead of ``notebooks/``.

    Returns
    -------
    list of pathlib.Path
        The notebooks named, resolved, in the order given; for the default, every notebook in the
        folder sorted by name.

    Raises
    ------
    NotebookError
        For a name that is not an existing ``.ipynb`` file.
    """
    folder = Path(folder) if folder is not None else paths.NOTEBOOKS
    if not names:
        found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
        if not found:
            raise NotebookError(f"no notebooks in {folder}")
        return found
    out = []
    for name in names:
        p = Path(name).expanduser()
        candidates = [p, folder / p, folder / p.with_suffix(".ipynb")] if p.suffix != ".ipynb" \
            else [p, folder / p]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise NotebookError(f"no notebook {str(name)!r} (looked for {p} and in {folder})")
        if hit.suffix != ".ipynb":
            raise NotebookError(f"{hit} is not a notebook (.ipynb)")
        out.append(hit.resolve())
    return out


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, dict]:
    """The parameters a notebook declares in its cell tagged ``parameters``.

    The cell is read with Python's own parser (``ast``), so a comment holding quotes or ``#``
    cannot hide a parameter (papermill's line regex skips such lines).

    Parameters
    ----------
    notebook : str or os.PathLike
        The ``.ipynb`` file.

    Returns
    -------
    dict
        name -> ``{"name", "inferred_type_name", "default", "help"}``, the fields of papermill's
        ``inspect_notebook``: the annotation (or the literal's type), the default's source text
        and the trailing comment. Empty when the notebook has no ``parameters`` cell.

    Raises
    ------
    NotebookError
        When the file is not a notebook or its parameters cell is not valid Python.
    """
    import ast

    try:
        with open(notebook, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{notebook}: not a readable notebook ({exc})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f"{notebook}: not a notebook (no cells)")
    cell = next((c for c in cells if c.get("cell_type") == "code"
                 and "parameters" in (c.get("metadata", {}).get("tags") or [])), None)
    if cell is None:
        return {}
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{notebook}: the parameters cell is not valid Python "
                            f"(line {exc.lineno}: {exc.msg})") from None
    lines = source.splitlines()
    out: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, annotation, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            name, annotation, value = node.targets[0].id, None, node.value
        else:
            continue
        if annotation is None and value is not None:
            try:
                annotation = type(ast.literal_eval(value)).__name__
            except (ValueError, SyntaxError, TypeError):
                annotation = None
        tail = lines[node.end_lineno - 1][node.end_col_offset:]
        help_text = tail.split("#", 1)[1].strip() if "#" in tail else ""
        out[name] = {"name": name, "inferred_type_name": annotation or "None",
                     "default": ast.get_source_segment(source, value) if value is not None else None,
                     "help": help_text}
    return out


def parse_value(text, type_name: str | None = None, *, name: str = "value"):
    """Parse a ``-p NAME VALUE`` like papermill does, guided by the declared type.

    ``True``/``true``, ``False``/``false``, ``None``/``null``, integers, floats, and YAML-style
    lists or mappings (``[1, 2]``, ``{a: 1}``) are converted; anything else stays a string. A
    parameter declared ``str`` keeps the text as it is (``-p org_id 123`` stays ``"123"``).
    Non-string values (from Python callers) pass through unchanged.

    Parameters
    ----------
    text : str or object
        The value as typed after ``-p NAME``; a non-string is returned as it is.
    type_name : str, optional
        The parameter's declared type (``inferred_type_name`` of :func:`notebook_parameters`);
        ``"str"`` keeps the text.
    name : str
        The parameter's name, for error messages.

    Returns
    -------
    object
        ``bool``, ``None``, ``int``, ``float``, ``list``, ``dict`` or ``str``.

    Examples
    --------
    >>> parse_value("3"), parse_value("0.5"), parse_value("true"), parse_value("[1, 2]")
    (3, 0.5, True, [1, 2])
    >>> parse_value("123", "str")
    '123'
    """
    if not isinstance(text, str):
        value = text
    elif type_name == "str":
        return text
    elif text in ("True", "true"):
        value = True
    elif text in ("False", "false"):
        value = False
    elif text in ("None", "null"):
        value = None
    else:
        value = text
        for conv in (int, float):
            try:
                value = conv(text)
                break
            except ValueError:
                continue
        else:
            if text.strip()[:1] in ("[", "{"):
                import yaml

                try:
                    value = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    raise ParameterError(f"parameter {name!r}: cannot parse {text!r} as a list or "
                                         f"mapping ({str(exc).splitlines()[0]})") from None
    if type_name == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"int": int, "float": float, "bool": bool, "list": list, "dict": dict}.get(type_name or "")
    if expected is not None and value is not None and not isinstance(value, expected):
        raise ParameterError(f"parameter {name!r} is declared {type_name}, got {text!r}")
    if expected is int and isinstance(value, bool):
        raise ParameterError(f"parameter {name!r} is declared int, got {text!r}")
    return value


def resolve_parameters(specs: Mapping[Path, Mapping[str, dict]],
                       parameters: Mapping[str, object] | None) -> dict[Path, dict]:
    """Check ``-p`` names against each notebook's parameters and parse the values.

    A parameter goes to every notebook that declares it. A name that none of the notebooks
    declares is an error (a typo would otherwise be silently ignored).

    Parameters
    ----------
    specs : mapping of pathlib.Path to mapping
        Each notebook's declared parameters (:func:`notebook_parameters`).
    parameters : mapping of str to object, optional
        The ``-p`` values (text from the command line, or Python values).

    Returns
    -------
    dict of pathlib.Path to dict
        For each notebook, the parameters it declares, parsed with :func:`parse_value` and its
        declared types.

    Raises
    ------
    ParameterError
        Naming the parameter, the notebook(s), and the parameters they do declare.
    """
    parameters = dict(parameters or {})
    out: dict[Path, dict] = {nb: {} for nb in specs}
    for name, raw in parameters.items():
        takers = [nb for nb, spec in specs.items() if name in spec]
        if not takers:
            if len(specs) == 1:
                nb, spec = next(iter(specs.items()))
                declared = ", ".join(spec) or "none"
                raise ParameterError(f"unknown parameter {name!r} for {Path(nb).name} "
                                     f"(it declares: {declared})")
            raise ParameterError(f"unknown parameter {name!r}: none of the {len(specs)} notebooks "
                                 "declares it")
        for nb in takers:
            type_name = specs[nb][name].get("inferred_type_name")
            out[nb][name] = parse_value(raw, type_name if type_name not in (None, "None") else None,
                                        name=name)
    return out


def _is_empty_default(spec: Mapping) -> bool:
    return str(spec.get("default", "")).strip() in ('""', "''", "None", "")


def uses_default_data(spec: Mapping[str, dict], given: Mapping[str, object]) -> bool:
    """True when a notebook leaves a path-like parameter empty, i.e. reads the embedded data.

    The convention (see ``notebooks/00_data_overview.ipynb``): a parameter whose name ends in
    ``_path``, ``_dir``, ``_folder`` or ``_file`` and whose default is ``""`` means "the embedded
    synthetic dataset" when it is not given. ``output_dir`` is not an input.

    Parameters
    ----------
    spec : mapping of str to dict
        The notebook's declared parameters (:func:`notebook_parameters`).
    given : mapping of str to object
        The parameters passed to this run.

    Returns
    -------
    bool
    """
    for name, s in spec.items():
        if name == OUTPUT_PARAMETER or not name.endswith(PATH_SUFFIXES):
            continue
        if name in given:
            if given[name] in ("", None):
                return True
            continue
        if _is_empty_default(s):
            return True
    return False


def path_values(value) -> list[Path]:
    """Existing files or folders named by a parameter value (a string, a path or a list).

    Used to find the data a notebook read from its parameters, for the run manifest.

    Parameters
    ----------
    value : object
        A notebook parameter's value: a str or os.PathLike (``~`` is expanded; relative paths
        are taken from the current folder), or a list or tuple of them, searched recursively.
        Anything else, blank or multi-line strings, and strings over 4096 characters name
        no path.

    Returns
    -------
    list of pathlib.Path
        The named paths that exist, resolved, in order; empty when there are none.
    """
    if isinstance(value, list | tuple):
        return [p for v in value for p in path_values(v)]
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        return []
    text = str(value)
    if "\n" in text or len(text) > 4096:
        return []
    p = Path(text).expanduser()
    try:
        return [p.resolve()] if p.exists() else []
    except OSError:
        return []


def declared_inputs(notebook: str | os.PathLike) -> list[Path]:
    """Files a notebook declares in its metadata: ``{"cqc_research": {"inputs": [...]}}``.

    Relative paths are taken from the repository root.

    Parameters
    ----------
    notebook : str or os.PathLike
        The ``.ipynb`` file.

    Returns
    -------
    list of pathlib.Path
        The declared inputs that exist, resolved (missing ones are left out); empty when the
        notebook declares none.
    """
    with open(notebook, encoding="utf-8") as f:
        meta = json.load(f).get("metadata", {})
    out = []
    for item in (meta.get("cqc_research") or {}).get("inputs", []) or []:
        p = Path(item)
        p = p if p.is_absolute() else paths.PROJECT_ROOT / p
        out.extend(path_values(str(p)))
    return out


