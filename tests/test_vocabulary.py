"""One argument vocabulary across ``cqc_research.metrics`` (docs/DESIGN.md, "Argument vocabulary").

A metrics function that analyses a table takes it first, named ``data`` (positional or keyword);
every other parameter is keyword-only. Loaders that read files take their main path first (under
its own name) and everything else keyword-only. The exemptions are the short list below, the same
as DESIGN.md's.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cqc_research.metrics as metrics

EXEMPT = {
    # scalar helpers
    "intervals.proportion_ci", "intervals.newcombe_diff_ci", "intervals.spearman_ci",
    # two paired series
    "_inputs.code_table", "transitions.kaplan_meier", "prediction.auc_delong",
    # internals-style helpers of metrics/_inputs.py
    "_inputs.check_frame", "_inputs.scale_codes", "_inputs.as_list",
    # the decorator of metrics/_contract.py (takes the function it wraps)
    "_contract.keeps_provenance",
}
LOADERS: set[str] = set()  # besides every load_* (metrics/ holds no loader: they live in studies/)


def is_loader(qualname: str) -> bool:
    """Whether a metrics function (``module.name``) is a file loader."""
    return qualname.split(".")[-1].startswith("load_") or qualname in LOADERS


def vocabulary_problems(func, qualname: str) -> list[str]:
    """What in ``func``'s signature breaks the argument vocabulary (empty when nothing does)."""
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    problems = []
    if params and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        problems.append(f"{qualname}: takes *{params[0].name}; the table comes first as `data`")
    if positional:
        first = positional[0]
        if first.kind is first.POSITIONAL_ONLY:
            problems.append(f"{qualname}: parameter {first.name!r} is positional-only")
        if not is_loader(qualname) and first.name != "data":
            problems.append(f"{qualname}: first parameter is {first.name!r}, not 'data'")
        for p in positional[1:]:
            problems.append(f"{qualname}: parameter {p.name!r} is positional (make it keyword-only)")
    return problems


def metrics_functions():
    """``(module.name, function)`` for every public function defined in a metrics module."""
    out = []
    for info in pkgutil.iter_modules(metrics.__path__):
        module = importlib.import_module(f"{metrics.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if (not name.startswith("_") and inspect.isfunction(obj)
                    and obj.__module__ == module.__name__):
                out.append((f"{info.name}.{name}", obj))
    return sorted(out, key=lambda item: item[0])


def test_every_metrics_function_follows_the_vocabulary():
    found = metrics_functions()
    assert len(found) > 50  # the walk reaches every module
    problems = [p for qualname, func in found if qualname not in EXEMPT
                for p in vocabulary_problems(func, qualname)]
    assert not problems, "argument vocabulary broken:\n" + "\n".join(problems)


def test_the_exemptions_exist_and_are_needed():
    found = dict(metrics_functions())
    missing = sorted(EXEMPT - set(found))
    assert not missing, f"exempt functions that no longer exist: {missing}"
    unneeded = sorted(q for q in EXEMPT if not vocabulary_problems(found[q], q))
    assert not unneeded, f"exempt functions that follow the rule anyway (drop them): {unneeded}"
    assert all(q in found for q in LOADERS)


def _named_by_content(history, rating="Inadequate", *, alpha=0.05):
    """A planted function breaking both rules."""


def _positional_role(data, numerator, *, alpha=0.05):
    """A planted function with a positional column role."""


def _loader_with_positional(ratings_path, api_path=""):
    """A planted loader with a second positional path."""


def _starred(*results):
    """A planted function taking only ``*results``."""


def _good(data, *, rating="Overall", alpha=0.05, **options):
    """A planted function following the rule."""


def _good_loader(ratings_path, *, api_path=""):
    """A planted loader following the rule."""


def _keywords_only(*, event, window_months):
    """A planted function with nothing to analyse, keywords only."""


@pytest.mark.parametrize("func, qualname, expected", [
    (_named_by_content, "transitions.planted", ["first parameter is 'history'", "'rating' is positional"]),
    (_positional_role, "funnel.planted", ["'numerator' is positional"]),
    (_loader_with_positional, "areas.load_planted", ["'api_path' is positional"]),
    (_starred, "prediction.planted", ["takes *results"]),
])
def test_the_check_catches_a_planted_bad_function(func, qualname, expected):
    problems = vocabulary_problems(func, qualname)
    assert len(problems) == len(expected)
    for problem, text in zip(problems, expected, strict=True):
        assert qualname in problem and text in problem


@pytest.mark.parametrize("func, qualname", [
    (_good, "prediction.planted"), (_good_loader, "areas.load_planted"),
    (_keywords_only, "events.planted"),
])
def test_the_check_passes_a_planted_good_function(func, qualname):
    assert vocabulary_problems(func, qualname) == []
