"""Every public function, method and class of ``cqc_research`` has a numpydoc docstring.

"Public" means: a name without a leading underscore, in a module whose dotted name has no part
with a leading underscore, and defined in that module (``obj.__module__`` is the module's name,
so re-exports are checked once, where they are defined). A class's methods and properties are
those written in its body (``vars(cls)``), again without a leading underscore.

The rule, checked with numpydoc's validator (:func:`numpydoc.validate.validate`), keeping only
these of its error codes:

* ``GL08`` every module and public object has a docstring;
* ``PR01`` a function or method documents each parameter it takes (``self``/``cls`` aside)
  under ``Parameters``; ``PR02`` and documents none that it does not take;
* a class whose body defines ``__init__`` (dataclasses included) documents the constructor's
  parameters in the class docstring, under ``Parameters`` or, for a dataclass, ``Attributes``
  (its fields are its parameters; fields with a leading underscore are private). Classes
  inheriting their constructor (most exceptions) need only a docstring;
* ``RT01`` a function that returns a value has a ``Returns`` section; ``YD01`` a generator has
  ``Yields``. Not asked of functions annotated ``-> None``;
* properties, and the CLI hooks ``configure_parser``/``run_command``, need only a docstring.

Run this file directly (``python tests/test_docstrings.py``) for the whole list of what is
missing, owner-held modules included.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import numpydoc.validate as numpydoc_validate
import pytest
from numpydoc.docscrape import NumpyDocString, get_doc_object

import cqc_research

#: Modules whose owners are still adding their own docstrings: their gaps are reported (the
#: test is a strict expected failure, shown as XFAIL in the summary, and an XPASS fails the
#: run, so an entry is removed as soon as its module is complete).
#: Some are listed ahead of the modules their owners are about to add. The lead empties this
#: set when the owners have finished.
ALLOWED_INCOMPLETE = frozenset()

#: The numpydoc error codes this test enforces (see the module docstring).
CHECKED_CODES = ("GL08", "PR01", "PR02", "RT01", "YD01")
#: CLI hooks that need only a docstring.
BRIEF_FUNCTIONS = frozenset({"configure_parser", "run_command"})


def public_modules() -> list[str]:
    """Dotted names of the package's public modules, the package itself first."""
    names = ["cqc_research"]
    for info in pkgutil.walk_packages(cqc_research.__path__, "cqc_research."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _is_property(obj) -> bool:
    return isinstance(obj, (property, functools.cached_property))


def _returns_none(func) -> bool:
    try:
        annotation = inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation is None or annotation == "None"


def _codes(obj, *, brief: bool = False) -> list[str]:
    """The enforced numpydoc errors of one function or class, as ``"CODE message"`` strings."""
    result = numpydoc_validate.validate(get_doc_object(obj))
    errors = [(code, message) for code, message in result["errors"] if code in CHECKED_CODES]
    if brief:
        errors = [(code, message) for code, message in errors if code == "GL08"]
    if inspect.isfunction(obj) and _returns_none(obj):
        errors = [(code, message) for code, message in errors if code != "RT01"]
    if inspect.isclass(obj):
        errors = _class_parameter_errors(obj, errors)
    return [f"{code} {message}" for code, message in errors]


def _class_parameter_errors(cls, errors):
    """Apply the class rule: parameters only for a class that defines ``__init__``."""
    if "__init__" not in vars(cls):
        return [(code, message) for code, message in errors if code == "GL08"]
    if not dataclasses.is_dataclass(cls) or not inspect.getdoc(cls):
        return errors
    documented = set()
    doc = NumpyDocString(inspect.getdoc(cls))
    for section in ("Parameters", "Other Parameters", "Attributes"):
        documented.update(item.name.strip() for item in doc[section])
    for name_list in list(documented):
        documented.update(part.strip() for part in name_list.split(","))
    fields = {name for name in inspect.signature(cls).parameters if not name.startswith("_")}
    kept = [(code, message) for code, message in errors if code not in ("PR01", "PR02")]
    if fields - documented:
        kept.append(("PR01", f"Parameters {sorted(fields - documented)} not documented"))
    return kept


def missing_in(module_name: str) -> list[str]:
    """Every gap in one module's docstrings, as ``"qualified.name: CODE message"`` lines."""
    module = importlib.import_module(module_name)
    problems = []
    if not inspect.getdoc(module):
        problems.append(f"{module_name}: GL08 The module does not have a docstring")
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        qualified = f"{module_name}.{name}"
        problems += [f"{qualified}: {e}" for e in _codes(obj, brief=name in BRIEF_FUNCTIONS)]
        if inspect.isclass(obj):
            problems += _method_problems(obj, qualified)
    return problems


def _method_problems(cls, qualified: str) -> list[str]:
    problems = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if _is_property(member):
            if not inspect.getdoc(member):
                problems.append(f"{qualified}.{name}: GL08 The property does not have a docstring")
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member):
            problems += [f"{qualified}.{name}: {e}" for e in _codes(member)]
    return problems


MODULES = public_modules()


@pytest.mark.parametrize(
    "module_name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                reason="owner still adding docstrings (ALLOWED_INCOMPLETE)", strict=True
            ),
        )
        if name in ALLOWED_INCOMPLETE
        else name
        for name in MODULES
    ],
)
def test_public_docstrings(module_name):
    problems = missing_in(module_name)
    assert not problems, f"{len(problems)} docstring gap(s) in {module_name}:\n" + "\n".join(
        problems
    )


def _main() -> int:
    total = 0
    for name in MODULES:
        problems = missing_in(name)
        if problems:
            held = " (owner-held)" if name in ALLOWED_INCOMPLETE else ""
            print(f"\n{name}{held}: {len(problems)}")
            print("\n".join(f"  {line}" for line in problems))
            total += len(problems)
    print(f"\n{total} gap(s) in {len(MODULES)} modules")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(_main())
