"""The generic sentence helpers of cqc_research._text (plural, interval, share, listing), checked
against strings written by hand from numbers computed by hand (Wilson limits from the closed
formula, not from the library). Each question's sentences are tested in tests/test_studies_*.py."""

from __future__ import annotations

import math

import numpy as np

from cqc_research import _text as say


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_wilson_by_hand_matches_the_quoted_limits():
    # 7 of 10: 0.3968 to 0.8922; 1 of 4: 0.0456 to 0.6994 (closed formula above)
    lo, hi = _wilson(7, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)
    lo, hi = _wilson(1, 4)
    assert (round(lo, 4), round(hi, 4)) == (0.0456, 0.6994)


def test_share():
    assert say.share(7, 10) == "7 of 10 (70%, 95% CI 40% to 89%)"
    assert say.share(1, 4, digits=1) == "1 of 4 (25.0%, 95% CI 4.6% to 69.9%)"
    assert say.share(1234, 2000) == "1,234 of 2,000 (62%, 95% CI 60% to 64%)"
    assert say.share(0, 0) == "0 of 0 (no data)"
    # 90% interval: z = 1.6449; 45 of 50 -> 0.8093 to 0.9513
    assert say.share(45, 50, alpha=0.1) == "45 of 50 (90%, 90% CI 81% to 95%)"


def test_interval_and_plural():
    assert say.interval(0.123, 0.05, 0.2) == "0.12 (95% CI 0.05 to 0.20)"
    assert say.interval(-0.31, -0.45, -0.15, fmt="{:+.2f}") == "-0.31 (95% CI -0.45 to -0.15)"
    assert say.interval(0.7, 0.4, 0.89, fmt="{:.0%}", label="90% CI") == "70% (90% CI 40% to 89%)"
    assert say.interval(2.0, np.nan, 3.0, fmt="{:.1f}") == "2.0 (no interval)"
    assert say.plural(1, "spell") == "1 spell"
    assert say.plural(0, "spell") == "0 spells"
    assert say.plural(2500, "re-inspection") == "2,500 re-inspections"
    assert say.plural(3, "area has", "areas have") == "3 areas have"
    assert say.listing(["Leeds", "York"]) == "Leeds, York"
    assert say.listing([], empty="none given") == "none given"
