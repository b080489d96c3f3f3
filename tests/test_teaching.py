"""Workshop checks (cqc_research.teaching) and rich display (cqc_research.display).

Every check is tested three ways: the right answer, computed here independently of the library
function the learner is asked to use (plain pandas, scipy, statsmodels or scikit-learn), is
accepted; the usual slips get their specific message; and a blank or malformed answer never
raises. A hand-worked ten-location table pins the session 1 and 2 checks to numbers worked out
by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cqc_research import display, teaching
from cqc_research.ratings import RATING_DTYPE, RATINGS

STATUSES = {"correct", "close", "not yet", "not attempted"}


# ---------------------------------------------------------------------------------------------
# fixtures
@pytest.fixture(scope="module")
def ws(synthetic_small):
    return teaching.Workshop(synthetic_small.root)


@pytest.fixture(scope="module")
def truth(synthetic_small):
    return json.loads((synthetic_small.root / "truth.json").read_text())


@pytest.fixture(scope="module")
def location_overall(ws):
    """Overall rows of locations as organisations, straight from the long table (not ratings_wide)."""
    long = ws.ratings
    rows = long[(long["level"] == "location") & (long["service_group"] == "Overall")]
    return rows.pivot_table(index="org_id", columns="domain", values="rating", aggfunc="first",
                            observed=True).astype(object).join(
        rows.drop_duplicates("org_id").set_index("org_id")[["sector"]].astype(str))


def _hand_workshop(wide: pd.DataFrame, truth: dict | None = None) -> teaching.Workshop:
    """A Workshop whose tables are given (no files), for hand-worked examples."""
    w = teaching.Workshop.__new__(teaching.Workshop)
    w.root, w.truth, w.paths = None, truth or {}, {}
    w.__dict__["wide"] = wide
    domains = ["Overall", "Safe", "Effective", "Caring", "Responsive", "Well-led"]
    w.__dict__["ratings"] = pd.DataFrame({  # the long table: six domain rows per location
        "level": "location", "org_id": np.repeat(wide["org_id"].to_numpy(), len(domains)),
        "domain": domains * len(wide)})
    return w


def _cat(values):
    return pd.Categorical(values, dtype=RATING_DTYPE)


@pytest.fixture
def hand():
    """Ten locations. Adult social care: 6 rated (4 Good or better), 1 not on the scale.
    GP practices: 3 rated (1 Requires improvement, 1 Inadequate)."""
    g, o, ri, inad = "Good", "Outstanding", "Requires improvement", "Inadequate"
    overall = [g, g, o, g, ri, inad, None, g, ri, inad]
    wide = pd.DataFrame({
        "org_id": [f"L{i}" for i in range(10)],
        "sector": ["Adult social care"] * 7 + ["GP practices"] * 3,
        "Overall": _cat(overall),
        "Safe": _cat(overall),  # agrees 9 of 9
        "Effective": _cat([o] + overall[1:]),  # 8 of 9
        "Caring": _cat([g, g, g, o, g, ri, g, o, g, ri]),  # 2 of 9: L0, L1
        "Responsive": _cat(overall[:9] + [ri]),  # 8 of 9
        "Well-led": _cat([g, ri, o, g, ri, inad, g, g, g, inad]),  # 7 of 9
    })
    return _hand_workshop(wide)


# ---------------------------------------------------------------------------------------------
# blank answers: "not attempted", without touching the data
class _Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"a blank answer must not load data (asked for {name!r})")


@pytest.mark.parametrize("exercise", sorted(teaching.EXERCISES))
@pytest.mark.parametrize("blank", [..., None, "", "   "])
def test_blank_answers_are_not_attempted(exercise, blank):
    check = getattr(teaching, teaching.EXERCISES[exercise][0])
    fb = check(blank, workshop=_Untouchable())
    assert fb.status == "not attempted" and not fb
    assert "Replace the `...`" in fb.points[0]
    assert "not attempted yet" in repr(fb) and "Not attempted yet" in fb._repr_html_()


def test_every_exercise_has_a_check_and_a_title():
    for ex, (name, session, what) in teaching.EXERCISES.items():
        assert callable(getattr(teaching, name)), ex
        assert name not in teaching.__all__ and not name.startswith("_")  # public, outside __all__
        assert int(ex.split(".")[0]) == session and what
        assert teaching._TITLES[ex]


# ---------------------------------------------------------------------------------------------
# malformed answers never raise
@pytest.mark.parametrize("exercise", sorted(teaching.EXERCISES))
@pytest.mark.parametrize("answer", ["twelve", [1, 2, 3], float("nan"), pd.DataFrame({"a": [1, 2]}),
                                    object(), {"x": 1}])
def test_malformed_answers_get_friendly_feedback(exercise, answer, ws):
    check = getattr(teaching, teaching.EXERCISES[exercise][0])
    fb = check(answer, workshop=ws)
    assert fb.status in {"not yet", "close"}
    assert fb.points and all(isinstance(p, str) and p for p in fb.points)
    assert fb.hint, "a 'not yet' always comes with a hint"
    assert "wrong" not in repr(fb).lower()


def test_number_reader_explains_what_to_pass():
    assert "table with 2 row(s)" in teaching._as_number(pd.DataFrame({"a": [1, 2]}))[1]
    assert teaching._as_number(pd.DataFrame({"a": [0.5]}))[0] == 0.5
    assert teaching._as_number(pd.Series([3]))[0] == 3
    assert teaching._as_number(np.float64(0.25))[0] == 0.25
    assert "without quotes" in teaching._as_number("0.5")[1]
    assert "missing value" in teaching._as_number(float("nan"))[1]
    assert "True/False" in teaching._as_number(True)[1]
    (lo, hi), notes, problem = teaching._as_interval((0.9, 0.8))
    assert (lo, hi) == (0.8, 0.9) and notes and problem is None
    assert "two numbers" in teaching._as_interval([1, 2, 3])[2]


# ---------------------------------------------------------------------------------------------
# hand-worked: sessions 1 and 2
def test_hand_worked_session_1(hand):
    # 1.1: nine of ten locations have an Overall rating on the scale
    assert teaching.check_rated_locations(9, workshop=hand).correct
    fb = teaching.check_rated_locations(10, workshop=hand)
    assert fb.status == "not yet" and "1 whose Overall rating is not on" in fb.points[0]
    assert "whole number" in teaching.check_rated_locations(9.5, workshop=hand).points[0]
    # 1.2: adult social care: Good, Good, Outstanding, Good of 6 rated = 4/6
    assert teaching.check_share_good_or_better(4 / 6, workshop=hand).correct
    assert teaching.check_share_good_or_better(0.667, workshop=hand).correct  # rounded
    assert "Good only" in teaching.check_share_good_or_better(3 / 6, workshop=hand).points[0]
    assert "includes locations without a rating" in \
        teaching.check_share_good_or_better(4 / 7, workshop=hand).points[0]
    assert "all sectors" in teaching.check_share_good_or_better(5 / 9, workshop=hand).points[0]
    assert "*below* Good" in teaching.check_share_good_or_better(2 / 6, workshop=hand).points[0]
    pct = teaching.check_share_good_or_better(66.67, workshop=hand)
    assert pct.status == "close" and "percentage" in pct.points[0]
    # 1.3: Wilson interval for 4 of 6 by the textbook formula
    z = stats.norm.ppf(0.975)
    p, n = 4 / 6, 6
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert teaching.check_wilson_interval((centre - half, centre + half), workshop=hand).correct
    swapped = teaching.check_wilson_interval((centre + half, centre - half), workshop=hand)
    assert swapped.correct and "(high, low)" in swapped.points[0]
    wald = teaching.check_wilson_interval(
        (p - z * math.sqrt(p * (1 - p) / n), p + z * math.sqrt(p * (1 - p) / n)), workshop=hand)
    assert wald.status == "not yet" and "Wald" in wald.points[0]
    # 1.4: R, I (adult social care) + R, I (GP) = 4 of 9
    assert teaching.check_ri_or_worse(4, workshop=hand).correct
    assert "Requires improvement only" in teaching.check_ri_or_worse(2, workshop=hand).points[0]
    assert teaching.check_ri_or_worse(2, sector="GP practices", workshop=hand).correct
    assert "every sector" in teaching.check_ri_or_worse(4, sector="GP practices", workshop=hand).points[0]


def test_hand_worked_session_2(hand):
    # 2.1: Well-led equals Overall for L0, L2, L3, L4, L5, L7, L9 = 7 of the 9 with both ratings
    assert teaching.check_wellled_agreement(7 / 9, workshop=hand).correct
    fb = teaching.check_wellled_agreement(7 / 10, workshop=hand)
    assert "counted as disagreeing" in fb.points[0]
    assert "agreement of Caring" in teaching.check_wellled_agreement(2 / 9, workshop=hand).points[0]
    # 2.2: Caring agrees least (2/9); Safe most (9/9)
    assert teaching.check_least_agreeing_domain("caring", workshop=hand).correct
    assert "*most*" in teaching.check_least_agreeing_domain("safe", workshop=hand).points[0]
    assert "less often" in teaching.check_least_agreeing_domain("Well led", workshop=hand).points[0]
    assert "itself" in teaching.check_least_agreeing_domain("Overall", workshop=hand).points[0]
    assert "not a key question" in teaching.check_least_agreeing_domain("Kindness", workshop=hand).points[0]
    # 2.3: linear weighted kappa worked by hand from the 4 x 4 table
    both = hand.wide.dropna(subset=["Overall", "Well-led"])
    a, b = both["Overall"].cat.codes.to_numpy(), both["Well-led"].cat.codes.to_numpy()
    t = np.zeros((4, 4))
    np.add.at(t, (a, b), 1)
    w = 1 - np.abs(np.subtract.outer(range(4), range(4))) / 3
    p = t / t.sum()
    po, pe = (w * p).sum(), (w * np.outer(p.sum(1), p.sum(0))).sum()
    assert teaching.check_wellled_kappa((po - pe) / (1 - pe), workshop=hand).correct
    assert "exactly" in teaching.check_wellled_kappa(7 / 9, workshop=hand).points[0]
    # 2.4: Wilson intervals for 7/9 (0.453 to 0.937) and 2/9 (0.063 to 0.547) overlap
    assert teaching.check_wellled_vs_caring(False, workshop=hand).correct
    assert teaching.check_wellled_vs_caring("no", workshop=hand).correct
    assert teaching.check_wellled_vs_caring(True, workshop=hand).status == "not yet"
    assert "True` or `False" in teaching.check_wellled_vs_caring(3, workshop=hand).points[0]


# ---------------------------------------------------------------------------------------------
# the synthetic dataset: independent recomputation and planted truth
def test_session_1_on_synthetic_data(ws, location_overall):
    lo = location_overall
    rated = lo["Overall"].isin(RATINGS)
    assert teaching.check_rated_locations(int(rated.sum()), workshop=ws).correct
    long_rows = teaching.check_rated_locations(len(ws.ratings), workshop=ws)
    assert long_rows.status == "not yet" and "rows of the long table" in long_rows.points[0]
    with_providers = teaching.check_rated_locations(ws.ratings["org_id"].nunique(), workshop=ws)
    assert "providers" in with_providers.points[0]

    asc = lo[(lo["sector"] == "Adult social care") & rated]
    good = int(asc["Overall"].isin(["Good", "Outstanding"]).sum())
    fb = teaching.check_share_good_or_better(good / len(asc), workshop=ws)
    assert fb.correct and f"{good:,} of the {len(asc):,}" in fb.points[0]

    from statsmodels.stats.proportion import proportion_confint

    interval = proportion_confint(good, len(asc), alpha=0.05, method="wilson")
    assert teaching.check_wilson_interval(interval, workshop=ws).correct
    pct = teaching.check_wilson_interval([100 * x for x in interval], workshop=ws)
    assert pct.status == "close" and "percentages" in pct.points[0]
    ninety = proportion_confint(good, len(asc), alpha=0.10, method="wilson")
    assert "90%" in teaching.check_wilson_interval(ninety, workshop=ws).points[0]

    poor = int(lo["Overall"].isin(["Requires improvement", "Inadequate"]).sum())
    assert teaching.check_ri_or_worse(poor, workshop=ws).correct


def test_session_2_on_synthetic_data(ws, location_overall, truth):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.proportion import proportion_confint

    both = location_overall.dropna(subset=["Overall", "Well-led"])
    agree = int((both["Overall"] == both["Well-led"]).sum())
    fb = teaching.check_wellled_agreement(agree / len(both), workshop=ws)
    assert fb.correct
    lo, hi = proportion_confint(agree, len(both), method="wilson")
    planted = truth["domain_agreement"]["p_agree"]["Well-led"]
    covered = lo <= planted <= hi
    assert f"{planted:.1%}" in fb.points[1]
    assert ("contains it" in fb.points[1]) == covered

    shares = {d: (location_overall["Overall"] == location_overall[d]).sum()
              / location_overall[["Overall", d]].dropna().shape[0]
              for d in ["Safe", "Effective", "Caring", "Responsive", "Well-led"]}
    least = min(shares, key=shares.get)
    assert teaching.check_least_agreeing_domain(least, workshop=ws).correct
    assert least == min(truth["domain_agreement"]["p_agree"], key=truth["domain_agreement"]["p_agree"].get)

    codes = {r: i for i, r in enumerate(RATINGS)}
    k = cohen_kappa_score(both["Overall"].map(codes), both["Well-led"].map(codes), weights="linear",
                          labels=range(4))  # sklearn: cohen_kappa_score(a, b, weights="linear")
    assert teaching.check_wellled_kappa(k, workshop=ws).correct
    kq = cohen_kappa_score(both["Overall"].map(codes), both["Well-led"].map(codes),
                           weights="quadratic", labels=range(4))
    assert "quadratic" in teaching.check_wellled_kappa(kq, workshop=ws).points[0]
    k0 = cohen_kappa_score(both["Overall"].map(codes), both["Well-led"].map(codes), labels=range(4))
    assert "unweighted" in teaching.check_wellled_kappa(k0, workshop=ws).points[0]

    caring = location_overall.dropna(subset=["Overall", "Caring"])
    c_agree = int((caring["Overall"] == caring["Caring"]).sum())
    c_lo, c_hi = proportion_confint(c_agree, len(caring), method="wilson")
    assert teaching.check_wellled_vs_caring(bool(lo > c_hi), workshop=ws).correct


def test_session_3_on_synthetic_data(ws, truth):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    gp = ws.gp
    # the model data: GP practices' latest rating with the planted year's measures
    assert (gp["sector"].astype(str) == "GP practices").all()
    assert gp[teaching.GP_INDICATORS].notna().all().all()
    counts = {r: int((gp["Overall"] == r).sum()) for r in RATINGS}
    modal = max(counts, key=counts.get)
    assert teaching.check_modal_share(counts[modal] / len(gp), workshop=ws).correct
    others = [r for r in RATINGS if r != modal and counts[r]]
    assert others  # a wrong rating's share exists, and is named as the wrong one
    wrong = teaching.check_modal_share(counts[others[0]] / len(gp), workshop=ws)
    assert f"share rated {others[0]}" in wrong.points[0]

    # reference: a by-hand 5-fold CV, statsmodels OrderedModel fitted on each training fold
    # (standardised with that fold's own mean and SD), scored with sklearn. Only the fold
    # labels (seed 0's stratified split, a convention, not a result) come from the library.
    from sklearn.metrics import accuracy_score

    from cqc_research.metrics.prediction import stratified_folds

    y_all = pd.Categorical(gp["Overall"], dtype=RATING_DTYPE).codes
    X_all = gp[teaching.GP_INDICATORS].to_numpy(float)
    fold = stratified_folds(y_all, folds=5, seed=0)
    assert all(np.bincount(y_all[fold == f], minlength=4).sum() > 0 for f in range(5))
    predicted = np.full(len(y_all), -1)
    for f in range(5):
        tr, te = fold != f, fold == f
        mu, sd = X_all[tr].mean(0), X_all[tr].std(0, ddof=1)
        lv = np.unique(y_all[tr])
        r = OrderedModel(np.searchsorted(lv, y_all[tr]), (X_all[tr] - mu) / sd, distr="logit").fit(
            method="bfgs", disp=False, maxiter=2000)
        predicted[te] = lv[np.asarray(r.model.predict(r.params, exog=(X_all[te] - mu) / sd)).argmax(1)]
    accuracy = accuracy_score(y_all, predicted)
    fb = teaching.check_cv_accuracy(accuracy, workshop=ws)
    assert fb.correct and "baseline" in fb.points[1]
    assert teaching.check_cv_accuracy(accuracy - 0.05, workshop=ws).status == "not yet"

    # in-sample accuracy, fitted here with statsmodels directly: recognised as in-sample
    y = pd.Categorical(gp["Overall"], dtype=RATING_DTYPE).codes
    levels = np.unique(y)
    X = gp[teaching.GP_INDICATORS].to_numpy(float)
    Z = (X - X.mean(0)) / X.std(0, ddof=1)
    res = OrderedModel(np.searchsorted(levels, y), Z, distr="logit").fit(method="bfgs", disp=False,
                                                                         maxiter=2000)
    in_sample = float((levels[np.asarray(res.predict()).argmax(1)] == y).mean())
    # the checker's in-sample figure is the statsmodels one; on this data it equals the
    # cross-validated accuracy, so the right answer must win (both branches asserted)
    assert teaching._in_sample_accuracy(ws) == pytest.approx(in_sample, abs=1e-9)
    in_fb = teaching.check_cv_accuracy(in_sample, workshop=ws)
    if abs(in_sample - accuracy) > 0.006:
        assert in_fb.status == "not yet" and "in-sample" in in_fb.points[0]
    else:
        assert in_fb.correct
    # the in-sample diagnosis itself, on a figure apart from the right answer
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(teaching, "_in_sample_accuracy", lambda _ws: accuracy + 0.05)
        fb_in = teaching.check_cv_accuracy(accuracy + 0.05, workshop=ws)
    assert fb_in.status == "not yet" and "in-sample" in fb_in.points[0]

    # reference: sklearn cohen_kappa_score(weights="linear") on the by-hand out-of-fold predictions
    k = cohen_kappa_score(y_all, predicted, weights="linear", labels=range(4))
    k = 0.0 if np.isnan(k) else k
    assert teaching.check_cv_kappa(k, workshop=ws).correct
    assert teaching.check_cv_kappa(k + 0.1, workshop=ws).status == "not yet"

    # odds ratio per SD: exp of the statsmodels coefficient on standardised measures
    j = teaching.GP_INDICATORS.index("qof_payments_per_patient")
    odds_ratio = float(np.exp(np.asarray(res.params)[j]))
    fb = teaching.check_odds_ratio(odds_ratio, workshop=ws)  # reference: statsmodels OrderedModel
    assert fb.correct
    assert teaching.check_odds_ratio(odds_ratio * 1.2, workshop=ws).status == "not yet"
    planted = truth["indicator_signal"]["odds_ratio_per_sd"]["qof_payments_per_patient"]
    assert f"{planted:.2f}" in fb.points[1]
    coef = teaching.check_odds_ratio(float(np.asarray(res.params)[j]), workshop=ws)
    assert "log-odds" in coef.points[0]


_SOURCE_ORDER = {"current": 0, "historic": 1, "snapshot": 2}


def _hand_series(ws) -> pd.DataFrame:
    """Location Overall ratings on the scale from the raw API history, by plain pandas: each
    location's journey follows its HSCA predecessor links, one rating per journey and date
    (the current record before the historic one), and a journey's sector is its latest one."""
    h = ws.api.history
    h = h[(h["level"] == "location") & (h["domain"].astype(str) == "Overall")
          & h["rating"].astype(object).isin(RATINGS)].copy()
    rel = ws.api.relationships
    rel = rel[rel["type"] == "HSCA Predecessor"]
    parent = dict(zip(rel["org_id"].astype(str), rel["related_id"].astype(str), strict=True))

    def root(org):
        seen = set()
        while org in parent and org not in seen:
            seen.add(org)
            org = parent[org]
        return org

    h["journey"] = h["org_id"].astype(str).map(root)
    h["rating"] = h["rating"].astype(str)
    h["_order"] = h["source"].astype(object).map(_SOURCE_ORDER).fillna(9)
    h = h.sort_values(["journey", "report_date", "_order"], kind="stable")
    h = h.drop_duplicates(["journey", "report_date"], keep="first")
    latest = h.dropna(subset=["sector"]).groupby("journey")["sector"].last().astype(str)
    h["sector"] = h["journey"].map(latest)
    return h.reset_index(drop=True)


def _hand_pairs(series: pd.DataFrame) -> pd.DataFrame:
    """Consecutive ratings within each journey: (sector, from_rating, to_rating), plain shift."""
    nxt = series.groupby("journey")["rating"].shift(-1)
    keep = nxt.notna()
    return pd.DataFrame({"sector": series.loc[keep, "sector"].to_numpy(),
                         "from_rating": series.loc[keep, "rating"].to_numpy(),
                         "to_rating": nxt[keep].to_numpy()})


def _hand_spells(series: pd.DataFrame, ws, sector: str) -> tuple[np.ndarray, np.ndarray]:
    """Spells from Inadequate to the first better rating, by a plain loop: (months, improved).
    Open spells are censored at deregistration (when earlier) or at the data date."""
    history = ws.api.history
    data_date = pd.Timestamp(history.attrs.get("data_date") or history["report_date"].max())
    loc = ws.api.locations.dropna(subset=["deregistration_date"])
    dereg = dict(zip(loc["org_id"].astype(str), pd.to_datetime(loc["deregistration_date"]), strict=True))
    months, improved = [], []
    for jid, g in series[series["sector"] == sector].groupby("journey"):
        rank = [RATINGS.index(r) for r in g["rating"]]
        dates = list(g["report_date"])
        i = 0
        while i < len(g):
            if g["rating"].iloc[i] != "Inadequate":
                i += 1
                continue
            j = next((k for k in range(i + 1, len(g)) if rank[k] > 0), None)
            if j is not None:
                end, event = dates[j], 1
            else:
                d = dereg.get(jid, dereg.get(str(g["org_id"].iloc[-1])))
                end, event = (d if d is not None and d < data_date else data_date), 0
            months.append(max((pd.Timestamp(end) - pd.Timestamp(dates[i])).days, 0) / (365.25 / 12))
            improved.append(event)
            i = j + 1 if j is not None else len(g)
    return np.asarray(months, float), np.asarray(improved, int)


def _km_median(months: np.ndarray, improved: np.ndarray) -> float:
    """Product-limit estimate by hand; the median is the first time S(t) < 0.5."""
    surv = 1.0
    for t in np.unique(months[improved == 1]):
        at_risk = (months >= t).sum()
        events = ((months == t) & (improved == 1)).sum()
        surv *= 1 - events / at_risk
        if surv < 0.5:
            return float(t)
    return float("nan")


def test_session_4_on_synthetic_data(ws, truth):
    # reference: pairs rebuilt by plain pandas from the raw API history (_hand_series/_hand_pairs),
    # not metrics.transitions.consecutive_pairs
    pairs = _hand_pairs(_hand_series(ws))
    from_inad = pairs[pairs["from_rating"].astype(str) == "Inadequate"]
    assert teaching.check_reinspected_inadequate(len(from_inad), workshop=ws).correct
    assert not teaching.check_reinspected_inadequate(len(from_inad) + 3, workshop=ws).correct
    n_improved = int((from_inad["to_rating"].astype(str) != "Inadequate").sum())
    assert n_improved != len(from_inad)  # else the mistake cannot be told apart
    assert "number that improved" in \
        teaching.check_reinspected_inadequate(n_improved, workshop=ws).points[0]

    asc = from_inad[from_inad["sector"].astype(str) == "Adult social care"]
    to = asc["to_rating"].astype(str)
    share = float((to != "Inadequate").mean())
    fb = teaching.check_improved_share(share, workshop=ws)  # reference: plain share of hand pairs
    assert fb.correct
    assert teaching.check_improved_share(share - 0.05, workshop=ws).status == "not yet"
    planted = truth["transitions"]["improved_from_inadequate"]["Adult social care"]
    assert f"{planted:.1%}" in fb.points[1]
    to_good = float((to == "Good").mean())
    assert abs(to_good - share) > 0.006  # else the mistake cannot be told apart
    assert "to Good only" in teaching.check_improved_share(to_good, workshop=ws).points[0]

    gp = pairs[pairs["sector"].astype(str) == "GP practices"]
    from_good = gp[gp["from_rating"].astype(str) == "Good"]
    stay = float((from_good["to_rating"].astype(str) == "Good").mean())
    assert teaching.check_good_stays_good(stay + 0.05, workshop=ws).status == "not yet"
    fb = teaching.check_good_stays_good(stay, workshop=ws)  # reference: plain row share of hand pairs
    assert fb.correct and f"{truth['transitions']['matrix']['GP practices'][2][2]:.1%}" in fb.points[1]
    column = (from_good["to_rating"].astype(str) == "Good").sum() / (gp["to_rating"].astype(str) == "Good").sum()
    assert abs(column - stay) > 0.006  # else the mistake cannot be told apart
    assert "column" in teaching.check_good_stays_good(column, workshop=ws).points[0]

    # reference: spells by a plain loop over the hand series (_hand_spells), the median by a
    # by-hand product-limit loop (_km_median), cross-checked with statsmodels SurvfuncRight
    from statsmodels.duration.survfunc import SurvfuncRight

    months, improved = _hand_spells(_hand_series(ws), ws, "Adult social care")
    median = _km_median(months, improved)
    sf = SurvfuncRight(months, improved)
    assert np.isclose(sf.surv_times[np.argmax(sf.surv_prob < 0.5)], median)
    fb = teaching.check_median_time(round(median, 1), workshop=ws)
    assert fb.correct and "censored" in fb.points[0]
    assert teaching.check_median_time(median + 1.0, workshop=ws).status == "not yet"
    naive = float(np.median(months[improved == 1]))
    assert abs(naive - median) > 0.06  # else the mistake cannot be told apart
    assert "censored" in teaching.check_median_time(naive, workshop=ws).points[0]
    days = teaching.check_median_time(median * 365.25 / 12, workshop=ws)
    assert days.status == "close" and "days" in days.points[0]


def test_feedback_rendering_is_escaped_and_labelled():
    fb = teaching.Feedback("1.2", "not yet", ["a <b>bold</b> claim with `code`"], "try `x`")
    page = fb._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<code>code</code>" in page
    assert "Not yet" in page and "Hint:" in page and "cqc-feedback-not-yet" in page
    assert repr(fb).startswith("[Exercise 1.2] Share rated Good or better: not yet")
    assert not fb and teaching.Feedback("1.2", "correct")


def test_workshop_refuses_data_without_planted_truth(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a synthetic dataset"):
        teaching.Workshop(tmp_path)


def test_start_makes_the_workshop_current(synthetic_small):
    ws = teaching.start(synthetic_small.root, display_formatters=False)
    assert teaching.current() is ws and "SYNTHETIC DATA" in repr(ws)
    assert "SYNTHETIC DATA" in ws._repr_html_()
    assert ws.gp_payments_path.name.endswith(f"{ws.truth['indicator_signal']['year']}.csv")


# ---------------------------------------------------------------------------------------------
# display
def test_rating_badges_use_cqc_colours():
    from cqc_research.ratings import RATING_COLOURS

    for r in RATINGS:
        assert RATING_COLOURS[r] in display.rating_badge(r)
    assert "&#9733;" in display.rating_badge("Outstanding")
    assert RATING_COLOURS["Requires improvement"] in display.rating_badge("Requires Improvement")
    grey = display.rating_badge("Inspected but not rated")
    assert RATING_COLOURS["Not rated"] in grey and "Inspected but not rated" in grey
    assert display.rating_badge(np.nan) == "" and display.rating_badge(None) == ""
    assert display.rating_badge("<script>") == "&lt;script&gt;"


def test_rating_table_finds_rating_columns_and_escapes():
    frame = pd.DataFrame({
        "name": ["<b>A</b>", "B", "C"],
        "Overall": _cat(["Good", None, "Inadequate"]),
        "Safe": ["Good", "Requires Improvement", "Not rated"],
        "sector": ["x", "y", "z"],
        "score": [1.5, 2.0, 3.25],
        "rating_status": ["Rated", "Inspected but not rated", "Rated"],
    })
    frame.attrs["synthetic"] = True
    t = display.show_ratings(frame, max_rows=2, caption="demo")
    assert t.rating_columns == ["Overall", "Safe"]
    page = t._repr_html_()
    assert "&lt;b&gt;A&lt;/b&gt;" in page and "<b>A</b>" not in page
    assert "SYNTHETIC DATA" in page and "showing the first 2 of 3 rows" in page
    assert page.count('class="cqc-rating"') == 3  # 2 rows x 2 rating columns, less one missing
    assert "&ndash;" in page  # the missing Overall rating
    assert "RatingTable: 3 rows x 6 columns (SYNTHETIC DATA)" in repr(t)
    with pytest.raises(KeyError, match="no column"):
        display.show_ratings(frame, ["nope"])
    with pytest.raises(TypeError):
        display.show_ratings([1, 2])


def test_crosstab_shading_is_the_row_share():
    t = pd.DataFrame([[3, 1], [0, 4]], index=pd.Index(["Good", "Outstanding"], name="Overall"),
                     columns=pd.Index(["Good", "Outstanding"], name="Safe"))
    page = display.show_crosstab(t)._repr_html_()
    assert "75%" in page and "25%" in page and "100%" in page and "0%" in page
    by_col = display.show_crosstab(t, normalize="columns")._repr_html_()
    assert "20%" in by_col and "80%" in by_col  # the second column: 1 and 4 of 5
    with pytest.raises(ValueError):
        display.show_crosstab(t, normalize="all")


def test_register_formatters_shows_result_objects_as_html(synthetic_small, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from cqc_research.metrics.prediction import cross_validated_prediction

    rng = np.random.default_rng(0)
    x = rng.standard_normal(200)
    y = np.digitize(1.2 * x + rng.logistic(size=200), [-2, 0, 2])
    data = pd.DataFrame({"Overall": pd.Categorical.from_codes(y, dtype=RATING_DTYPE), "x": x})
    cv = cross_validated_prediction(data, rating="Overall", indicators=["x"], folds=4)
    shell = InteractiveShell.instance()
    assert display.register_formatters(shell)
    formats, _ = shell.display_formatter.format(cv)
    page = formats["text/html"]
    assert "Cross-validated prediction of Overall" in page and "modal class" in page
    assert f"{cv.summary['accuracy'].iloc[0]:.1%}" in page
    formats, _ = shell.display_formatter.format(synthetic_small)
    assert "SYNTHETIC DATA" in formats["text/html"]
    # no argument: the running shell (the instance above), and False, without error, outside IPython
    assert display.register_formatters(None) is True
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert display.register_formatters(None) is False


def test_docstring_examples_run():
    import doctest

    for module in (teaching, display):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
