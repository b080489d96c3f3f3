"""The figures a reader sees in README.md and docs/ (e.g. docs/guide/methods.md), recomputed: the text cannot drift.

Each test finds the sentence that quotes a figure (in the README or any markdown page under docs/),
reads the numbers out of the markdown, and recomputes them on the default synthetic dataset
(default seed and scale, as a reader running `cqc-research synth` gets). Rewording a sentence
is fine as long as the pattern still finds it; a figure that no longer matches the code fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)]

EVENT = re.compile(r"default scale: \+?(-?\d+\.\d+), 95% CI (-?\d+\.\d+) to (-?\d+\.\d+); leads (-?\d+\.\d+), "
                   r"CI (-?\d+\.\d+) to (-?\d+\.\d+)")
ACCURACY = re.compile(r"(\d+)% are rated Good and cross-validated accuracy is (\d+)%")


def _quotes(pattern: re.Pattern) -> list[tuple[str, tuple[str, ...]]]:
    text = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in PAGES if p.is_file()}
    found = [(name, m.groups()) for name, t in text.items() for m in pattern.finditer(" ".join(t.split()))]
    assert found, (f"no page quotes the figure {pattern.pattern!r} any more: if it was removed on purpose, "
                   "remove its test here too")
    return found


@pytest.fixture(scope="module")
def default_data(tmp_path_factory):
    from cqc_research.synthetic import DEFAULT_SEED, generate

    return generate(tmp_path_factory.mktemp("readme") / "synthetic", seed=DEFAULT_SEED, scale="default")


def test_event_effect_figures(default_data):
    from cqc_research.io.cqc_json import load_api_folder
    from cqc_research.io.nhs import load_indicators
    from cqc_research.metrics.events import event_contrasts, event_dates, event_study

    ind = load_indicators(default_data.paths["ae_folder"])
    panel = ind[(ind["measure"] == "ae_4hr_performance_all") & (ind["org_level"] == "trust")].dropna(subset=["value"])
    ev = event_dates(load_api_folder(default_data.paths["api_folder"]), event="publication",
                     sector="NHS hospitals").rename(columns={"provider_id": "org_code"})
    res = event_study(panel, events=ev[ev["org_code"].isin(set(panel["org_code"]))], window=(-12, 12), lags=(1, 6))
    c = event_contrasts(res).set_index("contrast")  # notebook 04's defaults
    want = [c.loc["lags", k] for k in ("estimate", "ci_low", "ci_high")] + \
           [c.loc["leads", k] for k in ("estimate", "ci_low", "ci_high")]
    for page, got in _quotes(EVENT):
        assert [float(g) for g in got] == [round(w, 2) for w in want], page


def test_modal_share_and_accuracy_figures(default_data):
    from cqc_research.io.cqc_files import load_latest_ratings, ratings_wide
    from cqc_research.io.nhs import load_gp_payments
    from cqc_research.link import link_indicators
    from cqc_research.metrics.prediction import cross_validated_prediction
    from cqc_research.ratings import filter_sector

    indicators = ["list_size", "weighted_list_size", "payments_per_patient", "payments_per_weighted_patient",
                  "qof_payments_per_patient"]  # notebook 02's defaults
    wide = filter_sector(ratings_wide(load_latest_ratings(default_data.paths["ratings_ods"]), level="location"),
                         "GP Practices")
    link = link_indicators(wide, [load_gp_payments(f) for f in default_data.paths["gp_payments"]],
                           level="practice", measures=indicators, sector=None)
    data = link.data.dropna(subset=["Overall", *indicators])
    s = cross_validated_prediction(data, rating="Overall", indicators=indicators, folds=5, seed=20240501).summary.iloc[0]
    good = (data["Overall"] == "Good").mean()  # by hand, not through the function under test
    for page, (share, accuracy) in _quotes(ACCURACY):
        assert int(share) == round(100 * good), page
        assert int(accuracy) == round(100 * s["accuracy"]), page
