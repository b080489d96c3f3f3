"""The planted-truth check: compare a run's tables with the ``truth.json`` of the synthetic data.

``cqc-research truth RUN_DIR [--truth truth.json]`` (or :func:`check_truth`) reads the tables a
run of the notebooks wrote (``RUN_DIR/tables/*.csv``) and, for each effect the synthetic
generator planted, gives one row per planted quantity: the planted value, the estimate, an
interval, and a verdict, ``recovered`` or ``not recovered``. The command exits with status 1
when any row is not recovered (or could not be checked because its table is missing).

What "recovered" means
    Every interval is computed at the family-wise level: with ``m`` rows in the full check
    (all effects, whatever subset is asked for), each row's interval has level
    ``1 - alpha / m`` (Bonferroni), so a correct analysis of data with the planted effects
    passes the whole check with probability at least ``1 - alpha``. A row is recovered when
    its interval contains the planted value, and, for a planted value that differs from the
    null (an odds ratio of 1, no change, no difference), when the interval also excludes the
    null. An effect too small to be detected at the run's sample size (power below 80% at the
    row's level, judged from the interval's own width) is checked by coverage alone, and the
    row says so (``detectable`` is False). Transition matrices are checked by a likelihood-ratio
    (G) test of the observed counts against the planted matrix.

Which table each effect reads (written by the notebooks named)
    ``domain_agreement`` ``domain_agreement.csv`` (01); ``survey_signal``
    ``indicator_gaps_practice.csv`` (02: the GP Patient Survey's planted gap between practices
    rated Good or better and the rest, its Welch interval widened to the row's level); ``transitions``
    ``transitions_by_area.csv`` (03; adult social care in the struggling areas follows its own
    matrix and is left out); ``indicator_signal`` ``odds_ratios.csv`` (02); ``event_effect``
    ``event_study_contrasts.csv`` (04); ``areas`` ``area_summary.csv`` and ``area_dtoc.csv``
    (05); ``qualitative`` ``prevalence_by_outcome.csv`` (07); ``councils``
    ``council_local_quality_slope.csv`` and ``council_rule_exceptions.csv`` (10).

The null world (``cqc-research synth --null``) is the check's own test: its run passes against
its own ``truth.json`` and fails, effect by effect, against the default one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import atomic_path
from .errors import CQCResearchError
from .geography import normalise_area_name
from .metrics.intervals import newcombe_diff_ci, proportion_ci
from .provenance import BANNER_TEXT
from .ratings import RATINGS
from .studies import (
    agreement,
    councils,
    indicators,
    inspection_effects,
    journeys,
    local_systems,
    mixed_methods,
)
from .synthetic import PLANTED_EFFECTS

__all__ = ["EFFECTS", "check_truth", "planted_truth_check", "TruthReport"]

#: The planted effects, in the order of the notebooks that estimate them.
EFFECTS = PLANTED_EFFECTS

#: The table contract of each question that estimates a planted effect (table name -> columns,
#: declared once in its study module, which its notebook saves).
CONTRACTS = {
    "domain_agreement": agreement.TABLES,
    "indicator_signal": indicators.TABLES,
    "survey_signal": indicators.TABLES,
    "transitions": journeys.TABLES,
    "event_effect": inspection_effects.TABLES,
    "areas": local_systems.TABLES,
    "qualitative": mixed_methods.TABLES,
    "councils": councils.TABLES,
}

#: The tables each effect reads, under ``RUN_DIR/tables/`` (each one declared in its contract).
TABLES = {
    "domain_agreement": ["domain_agreement"],
    "indicator_signal": ["odds_ratios"],
    "survey_signal": ["indicator_gaps_practice"],
    "transitions": ["transitions_by_area"],
    "event_effect": ["event_study_contrasts"],
    "areas": ["area_summary", "area_dtoc"],
    "qualitative": ["prevalence_by_outcome"],
    "councils": ["council_local_quality_slope", "council_rule_exceptions"],
}

COLUMNS = ["effect", "quantity", "planted", "null", "estimate", "ci_low", "ci_high", "level",
           "p_value", "n", "detectable", "verdict", "note"]

_POWER = 0.80  # the power below which an effect counts as not detectable at the run's n


# ---------------------------------------------------------------------------------------------
# finding and reading
def load_truth(truth) -> dict:
    """The planted truth as a dict, from a dict, a ``truth.json`` path or a dataset folder.

    Parameters
    ----------
    truth : dict or path
        A parsed truth, the path of a ``truth.json``, or the folder that holds one.

    Returns
    -------
    dict
    """
    if isinstance(truth, Mapping):
        return dict(truth)
    path = Path(truth)
    if path.is_dir():
        path = path / "truth.json"
    if not path.is_file():
        raise FileNotFoundError(f"no planted truth at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def find_truth(run_dir) -> Path | None:
    """The ``truth.json`` of the synthetic data a run read, from its ``manifest.json``.

    Looks at every input the manifest lists, and at the folders above it, for a
    ``truth.json``. Returns None when the run read no synthetic dataset with a truth.

    Parameters
    ----------
    run_dir : path

    Returns
    -------
    Path or None
    """
    manifest = Path(run_dir) / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text(encoding="utf-8"))
    inputs = list(data.get("inputs") or {})
    for nb in data.get("notebooks", []):
        inputs += list(nb.get("inputs") or [])
    for item in inputs:
        p = Path(item)
        for folder in [p, *p.parents]:
            if (folder / "truth.json").is_file():
                return folder / "truth.json"
    return None


def _tables_dir(run_dir) -> Path:
    run_dir = Path(run_dir)
    return run_dir / "tables" if (run_dir / "tables").is_dir() else run_dir


def _read(tables: Path, name: str, contract: Mapping[str, Iterable[str]]) -> pd.DataFrame | None:
    """A run's table, or None when the run did not save it.

    Its columns must be among those its question declares (``data_status``, which every saved
    table starts with, aside): a column renamed in a notebook but not in its contract is an error
    naming the file, not a quiet "not recovered". A table may hold fewer columns than the notebook
    saves (one written by other code, as the tests do).
    """
    path = tables / f"{name}.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    unknown = [c for c in table.columns if c not in contract[name] and c != "data_status"]
    if unknown:
        raise CQCResearchError(f"{path}: column {', '.join(map(repr, unknown))} is not in the table contract "
                               f"of {name!r} ({', '.join(contract[name])})")
    return table


# ---------------------------------------------------------------------------------------------
# intervals at the row level
def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _wilson(k, n, alpha):
    lo, hi = proportion_ci(int(k), int(n), alpha=alpha)
    return float(lo), float(hi)


def _row(effect, quantity, planted, estimate, lo, hi, *, level, null=None, n=None, p_value=np.nan,
         alpha_row=None, note="") -> dict:
    return {"effect": effect, "quantity": quantity, "planted": planted, "null": null,
            "estimate": estimate, "ci_low": lo, "ci_high": hi, "level": level, "p_value": p_value,
            "n": n, "_alpha_row": alpha_row, "note": note}


def _verdict(row: dict, z_row: float) -> dict:
    """Add ``detectable`` and ``verdict`` to a row (see the module docstring)."""
    from scipy.stats import norm

    planted, null, lo, hi = row["planted"], row["null"], row["ci_low"], row["ci_high"]
    note = [row["note"]] if row["note"] else []
    if row.get("_test"):  # a goodness-of-fit row: recovered when the test does not reject
        ok = bool(row["p_value"] >= row["_alpha_row"])
        row.update(detectable=True, verdict="recovered" if ok else "not recovered")
        row["note"] = "; ".join(note)
        return row
    if any(pd.isna(v) for v in (lo, hi, row["estimate"])):
        row.update(detectable=False, verdict="not recovered")
        row["note"] = "; ".join(note + ["no estimate"])
        return row
    eps = 1e-9
    covered = lo - eps <= planted <= hi + eps
    detectable = True
    if null is not None and not pd.isna(null) and abs(planted - null) > eps:
        if null == 1.0 and min(lo, planted) > 0:  # ratios: their intervals are symmetric on the log scale
            se, gap = (math.log(hi) - math.log(lo)) / (2 * z_row), abs(math.log(planted))
        else:
            se, gap = (hi - lo) / (2 * z_row), abs(planted - null)
        power = float(norm.cdf(gap / se - z_row)) if se > 0 else 1.0
        detectable = power >= _POWER
        if detectable:
            excludes = not (lo - eps <= null <= hi + eps)
            ok = covered and excludes
            if covered and not excludes:
                note.append(f"the interval also contains the null value {null:g}")
        else:
            ok = covered
            note.append(f"below the detection limit at this sample size (power {power:.0%}): "
                        "checked by coverage only")
    else:
        ok = covered
    if not covered:
        note.append(f"the planted value {planted:g} is outside the interval")
    row.update(detectable=detectable, verdict="recovered" if ok else "not recovered")
    row["note"] = "; ".join(note)
    return row


# ---------------------------------------------------------------------------------------------
# one function per effect: each returns its row specifications (planted values) and estimates
def _n_rows(truth: dict) -> int:
    n = 0
    n += len(truth.get("domain_agreement", {}).get("p_agree", {}))
    n += len(truth.get("indicator_signal", {}).get("odds_ratio_per_sd", {}))
    n += 1 if "survey_signal" in truth else 0
    n += 2 * len(truth.get("transitions", {}).get("matrix", {}))
    n += 2 if "event_effect" in truth else 0
    n += 2 if truth.get("areas", {}).get("struggling") else 0
    n += len(_checked_codes(truth))
    n += 2 if truth.get("councils") else 0
    return max(n, 1)


def _checked_codes(truth) -> list[str]:
    q = truth.get("qualitative") or {}
    if not q.get("planted_prevalence"):
        return []
    return list(q.get("checked_codes") or q.get("strong_effects") or [])


def _missing(effect, names, quantities) -> list[dict]:
    return [{"effect": effect, "quantity": q, "planted": np.nan, "null": None, "estimate": np.nan,
             "ci_low": np.nan, "ci_high": np.nan, "level": np.nan, "p_value": np.nan, "n": None,
             "detectable": False, "verdict": "not checked",
             "note": f"table {', '.join(n + '.csv' for n in names)} missing from the run"} for q in quantities]


def _domain_agreement(truth, t, alpha_row, level):
    p_agree = truth["domain_agreement"]["p_agree"]
    tab = t["domain_agreement"]
    pooled = tab[tab["sector"] == "All sectors in scope"]
    if pooled.empty:  # a run on one sector only
        pooled = tab
    rows = []
    for kq, p in p_agree.items():
        r = pooled[pooled["domain"] == kq]
        if r.empty:
            rows.append(_row("domain_agreement", f"agreement with Overall: {kq}", p, np.nan, np.nan,
                             np.nan, level=level, note="domain not in the table"))
            continue
        r = r.iloc[0]
        n, k = int(r["n"]), int(r["n_agree"]) if "n_agree" in r else int(round(r["agreement"] * r["n"]))
        lo, hi = _wilson(k, n, alpha_row)
        rows.append(_row("domain_agreement", f"agreement with Overall: {kq}", p, k / n, lo, hi,
                         level=level, n=n))
    return rows


def _indicator_signal(truth, t, alpha_row, level, z_row):
    planted = truth["indicator_signal"]["odds_ratio_per_sd"]
    tab = t["odds_ratios"].set_index("indicator")
    rows = []
    for ind, orr in planted.items():
        q = f"odds ratio per SD: {ind}"
        if ind not in tab.index:
            rows.append(_row("indicator_signal", q, orr, np.nan, np.nan, np.nan, level=level, null=1.0,
                             note="indicator not in the model"))
            continue
        r = tab.loc[ind]
        b, se = float(r["coef_per_sd"]), float(r["se"])
        rows.append(_row("indicator_signal", q, orr, float(np.exp(b)), float(np.exp(b - z_row * se)),
                         float(np.exp(b + z_row * se)), level=level, null=1.0, n=int(r["n"])))
    return rows


def _survey_signal(truth, t, alpha_row, level, z_row):
    s = truth["survey_signal"]
    planted, measure = float(s["gpps_overall_good_gap_pp"]), s["measure"]
    q = f"{measure.replace('_', ' ')}: Good or better minus the rest (points)"
    tab = t["indicator_gaps_practice"].set_index("indicator")
    if measure not in tab.index or pd.isna(tab.loc[measure, "difference"]):
        return [_row("survey_signal", q, planted, np.nan, np.nan, np.nan, level=level, null=0.0,
                     note=f"{measure} not linked to the ratings")]
    r = tab.loc[measure]
    est = float(r["difference"])
    se = (float(r["ci_high"]) - float(r["ci_low"])) / (2 * _z(0.05))  # the table's 95% Welch CI
    return [_row("survey_signal", q, planted, est, est - z_row * se, est + z_row * se, level=level,
                 null=0.0, n=int(r["n"]))]


def _g_test(counts: np.ndarray, matrix: np.ndarray) -> tuple[float, int, float]:
    """Likelihood-ratio test of observed transition counts (rows: from) against a planted matrix."""
    from scipy.stats import chi2

    g, df = 0.0, 0
    for obs, p in zip(counts, matrix, strict=True):
        n = obs.sum()
        if n == 0:
            continue
        if (obs[p == 0] > 0).any():
            return math.inf, int((p > 0).sum() - 1), 0.0
        keep = p > 0
        o, e = obs[keep], n * p[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            g += 2 * float(np.sum(np.where(o > 0, o * np.log(o / e), 0.0)))
        df += int(keep.sum() - 1)
    p_value = float(chi2.sf(g, df)) if df > 0 else 1.0
    return g, df, p_value


def _transitions(truth, t, alpha_row, level):
    tr = truth["transitions"]
    struggling = set(truth.get("areas", {}).get("struggling", []))
    own = set(tr.get("matrix_struggling_areas", {}))
    tab = t["transitions_by_area"]
    tab = tab[tab["domain"].astype(str) == "Overall"] if "domain" in tab else tab
    rows = []
    for sector, m in tr["matrix"].items():
        s = tab[tab["sector"].astype(str) == sector]
        note = ""
        if sector in own and struggling:
            s = s[~s["local_authority"].astype(str).isin(struggling)]
            note = "struggling areas left out (they follow their own matrix)"
        counts = (s.pivot_table(index="from_rating", columns="to_rating", values="n", aggfunc="sum",
                                observed=False)
                  .reindex(index=RATINGS, columns=RATINGS).fillna(0).to_numpy())
        g, df, p = _g_test(counts, np.asarray(m, dtype=float))
        rows.append({**_row("transitions", f"transition matrix: {sector} (G-test, {df} df)", np.nan, g,
                            np.nan, np.nan, level=level, n=int(counts.sum()), p_value=p,
                            alpha_row=alpha_row, note=note), "_test": True})
        total, improved = counts[0].sum(), counts[0][1:].sum()
        planted = 1 - m[0][0]
        if total == 0:
            rows.append(_row("transitions", f"share improving after Inadequate: {sector}", planted, np.nan,
                             np.nan, np.nan, level=level, n=0, note="no re-inspection after Inadequate"))
            continue
        lo, hi = _wilson(improved, total, alpha_row)
        rows.append(_row("transitions", f"share improving after Inadequate: {sector}", planted,
                         improved / total, lo, hi, level=level, n=int(total), note=note))
    return rows


def _event_effect(truth, t, alpha_row, level):
    from scipy.stats import t as student

    ev = truth["event_effect"]
    tab = t["event_study_contrasts"]
    tab = tab[(tab["event"] == ev["event"]) & (tab["measure"] == ev["measure"])].set_index("contrast")
    rows = []
    for contrast, planted, label in (("lags", ev["effect_pp"], f"mean change in months {min(ev['lags'])} to "
                                                                  f"{max(ev['lags'])} after {ev['event']}"),
                                     ("leads", ev["leads_effect_pp"], f"mean change before {ev['event']}")):
        if contrast not in tab.index:
            rows.append(_row("event_effect", label, planted, np.nan, np.nan, np.nan, level=level, null=0.0,
                             note=f"no {contrast} contrast for {ev['measure']} around {ev['event']}"))
            continue
        r = tab.loc[contrast]
        note = ""
        if contrast == "lags" and (int(r["rel_from"]), int(r["rel_to"])) != (min(ev["lags"]), max(ev["lags"])):
            note = f"the run averaged months {int(r['rel_from'])} to {int(r['rel_to'])}"
        df = max(int(r["n_clusters"]) - 1, 1)
        q = float(student.ppf(1 - alpha_row / 2, df))
        est, se = float(r["estimate"]), float(r["std_error"])
        rows.append(_row("event_effect", label, planted, est, est - q * se, est + q * se, level=level,
                         null=0.0, n=int(r["n_clusters"]), note=note))
    return rows


def _share_good_difference(truth) -> float:
    areas = truth["areas"]
    if "share_good_difference_asc" in areas:
        return float(areas["share_good_difference_asc"])
    tr = truth["transitions"]
    gaps = np.array([tr["gap_months"][r] for r in RATINGS])

    def current(m):
        m = np.asarray(m, dtype=float)
        vals, vecs = np.linalg.eig(m.T)
        v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
        w = v / v.sum() * gaps
        return float(w[2:].sum() / w.sum())

    return current(tr["matrix_struggling_areas"]["Adult social care"]) - current(tr["matrix"]["Adult social care"])


def _areas(truth, t, alpha_row, level):
    from scipy.stats import t as student

    areas = truth["areas"]
    struggling = set(areas["struggling"])
    rows = []
    summ = t["area_summary"]
    asc = summ[summ["sector"].astype(str) == "Adult social care"]
    mask = asc["local_authority"].astype(str).isin(struggling)
    k1, n1 = int(asc.loc[mask, "n_good"].sum()), int(asc.loc[mask, "n_rated"].sum())
    k2, n2 = int(asc.loc[~mask, "n_good"].sum()), int(asc.loc[~mask, "n_rated"].sum())
    q = "struggling areas: share of adult social care Good or better, minus the other areas"
    planted = _share_good_difference(truth)
    if min(n1, n2) == 0:
        rows.append(_row("areas", q, planted, np.nan, np.nan, np.nan, level=level, null=0.0,
                         note="no rated adult social care in the struggling areas or in the others"))
    else:
        lo, hi = newcombe_diff_ci(k1, n1, k2, n2, alpha=alpha_row)
        rows.append(_row("areas", q, planted, k1 / n1 - k2 / n2, lo, hi, level=level, null=0.0, n=n1 + n2))
    d = t["area_dtoc"].dropna(subset=["dtoc_per_100k"])
    d = d[d["dtoc_per_100k"] > 0].drop_duplicates("local_authority")
    log = np.log(d["dtoc_per_100k"].to_numpy(float))
    is_s = d["local_authority"].astype(str).isin(struggling).to_numpy()
    q = "struggling areas: delayed transfers per 100,000 aged 65+, ratio to the other areas"
    a, b = log[is_s], log[~is_s]
    if len(a) < 1 or len(b) < 2 or len(a) + len(b) < 4:
        rows.append(_row("areas", q, float(areas["dtoc_multiplier"]), np.nan, np.nan, np.nan, level=level,
                         null=1.0, note="too few areas with delayed-transfer figures"))
    else:  # pooled-variance t interval for the difference in mean log rate (equal spread planted)
        df = len(a) + len(b) - 2
        sp = math.sqrt(((len(a) - 1) * a.var(ddof=1) if len(a) > 1 else 0.0) / df
                       + (len(b) - 1) * b.var(ddof=1) / df)
        se = sp * math.sqrt(1 / len(a) + 1 / len(b))
        qt = float(student.ppf(1 - alpha_row / 2, df))
        diff = float(a.mean() - b.mean())
        rows.append(_row("areas", q, float(areas["dtoc_multiplier"]), math.exp(diff), math.exp(diff - qt * se),
                         math.exp(diff + qt * se), level=level, null=1.0, n=len(a) + len(b),
                         note="geometric means; pooled-variance t interval on the log scale"))
    return rows


def _qualitative(truth, t, alpha_row, level):
    q = truth["qualitative"]
    tab = t["prevalence_by_outcome"].set_index("code")
    rows = []
    for code in _checked_codes(truth):
        p = q["planted_prevalence"][code]
        planted = float(p["improved"]) - float(p["not_improved"])
        label = f"code more common where the service improved: {code} (difference in share of cases)"
        if code not in tab.index:
            rows.append(_row("qualitative", label, planted, np.nan, np.nan, np.nan, level=level, null=0.0,
                             note="code not in the table"))
            continue
        r = tab.loc[code]
        k1, n1, k2, n2 = (int(r[c]) for c in ("k_improved", "n_improved", "k_not_improved", "n_not_improved"))
        lo, hi = newcombe_diff_ci(k1, n1, k2, n2, alpha=alpha_row)
        rows.append(_row("qualitative", label, planted, k1 / n1 - k2 / n2, lo, hi, level=level, null=0.0,
                         n=n1 + n2))
    return rows


_COUNCIL_SLOPE = "councils: score points per point of local adult social care rated Good or better (slope)"
_COUNCIL_EXC = "councils: published ratings off the scoring rule (count of the planted councils found)"


def _councils(truth, t, alpha_row, level):
    from scipy.stats import t as student

    c = truth["councils"]
    rows = []
    sl = t["council_local_quality_slope"]
    planted = float(c["slope_pp_per_pp"])
    if sl.empty or pd.isna(sl["estimate"].iloc[0]):
        rows.append(_row("councils", _COUNCIL_SLOPE, planted, np.nan, np.nan, np.nan, level=level, null=0.0,
                         note="no slope: too few councils matched to local ratings"))
    else:
        r = sl.iloc[0]
        n = int(r["n"])
        q = float(student.ppf(1 - alpha_row / 2, max(n - 2, 1)))
        est, se = float(r["estimate"]), float(r["std_error"])
        rows.append(_row("councils", _COUNCIL_SLOPE, planted, est, est - q * se, est + q * se, level=level,
                         null=0.0, n=n, note="least squares; t interval with n - 2 df"))
    want = {normalise_area_name(e["council"]) for e in c.get("exceptions", [])}
    found = {normalise_area_name(x) for x in t["council_rule_exceptions"].get("council", pd.Series(dtype=str))}
    extra = sorted(found - want)
    est = float(len(found & want)) if not extra else np.nan
    rows.append(_row("councils", _COUNCIL_EXC, float(len(want)), est, est, est, level=level, null=0.0,
                     n=len(found), note=f"exceptions not planted: {', '.join(extra)}" if extra else "exact count"))
    return rows


def _quantities(effect, truth) -> list[str]:
    """The row labels of an effect whose table is missing (so the report still names them)."""
    if effect == "domain_agreement":
        return [f"agreement with Overall: {kq}" for kq in truth["domain_agreement"]["p_agree"]]
    if effect == "indicator_signal":
        return [f"odds ratio per SD: {k}" for k in truth["indicator_signal"]["odds_ratio_per_sd"]]
    if effect == "survey_signal":
        m = truth["survey_signal"]["measure"].replace("_", " ")
        return [f"{m}: Good or better minus the rest (points)"]
    if effect == "transitions":
        return [f"{w}: {s}" for s in truth["transitions"]["matrix"]
                for w in ("transition matrix", "share improving after Inadequate")]
    if effect == "event_effect":
        return ["mean change after the event", "mean change before the event"]
    if effect == "areas":
        return ["struggling areas: share Good or better", "struggling areas: delayed transfers"]
    if effect == "councils":
        return [_COUNCIL_SLOPE, _COUNCIL_EXC]
    return [f"code more common where the service improved: {c}" for c in _checked_codes(truth)]


# ---------------------------------------------------------------------------------------------
# the check
def check_truth(run_dir, truth=None, *, effects: Iterable[str] | str | None = None,
                alpha: float = 0.05) -> pd.DataFrame:
    """Compare a run's tables with the planted truth: one row per planted quantity.

    Parameters
    ----------
    run_dir : path
        A run folder (``outputs/<run-id>/``, holding ``tables/``), or a ``tables/`` folder.
    truth : dict or path, optional
        The planted truth (a dict, a ``truth.json`` or the dataset folder); default: the
        ``truth.json`` of the synthetic data the run read (:func:`find_truth`).
    effects : str or list of str, optional
        Check only these (names in :data:`EFFECTS`); default every effect the truth plants.
    alpha : float
        Family-wise error rate of the whole check (Bonferroni over every row of the full check).

    Returns
    -------
    DataFrame
        One row per planted quantity: ``effect, quantity, planted, null, estimate, ci_low,
        ci_high, level`` (of the interval), ``p_value`` (goodness-of-fit rows), ``n``,
        ``detectable``, ``verdict`` (``recovered``, ``not recovered``, or ``not checked`` when
        the effect's table is missing), ``note``.

    Examples
    --------
    >>> check_truth("outputs/my-run")  # doctest: +SKIP
    """
    if truth is None:
        found = find_truth(run_dir)
        if found is None:
            raise CQCResearchError(f"{run_dir} names no synthetic dataset with a truth.json in its "
                                   "manifest: pass the truth (--truth truth.json)")
        truth = found
    truth = load_truth(truth)
    if isinstance(effects, str):
        effects = [effects]
    wanted = [e for e in EFFECTS if e in truth] if effects is None else list(effects)
    unknown = [e for e in wanted if e not in EFFECTS]
    if unknown:
        raise ValueError(f"unknown effect(s) {unknown}; choose among {list(EFFECTS)}")
    absent = [e for e in wanted if e not in truth]
    if absent:
        raise ValueError(f"the truth plants no {', '.join(absent)}")
    if "areas" in wanted and not truth["areas"].get("struggling"):
        wanted.remove("areas")
    if "qualitative" in wanted and not _checked_codes(truth):
        wanted.remove("qualitative")
    if "councils" in wanted and not truth.get("councils"):
        wanted.remove("councils")
    m = _n_rows(truth)
    alpha_row = alpha / m
    z_row = _z(alpha_row)
    level = 1 - alpha_row
    tables_dir = _tables_dir(run_dir)
    rows: list[dict] = []
    for effect in wanted:
        names = TABLES[effect]
        t = {n: _read(tables_dir, n, CONTRACTS[effect]) for n in names}
        if any(v is None for v in t.values()):
            rows += _missing(effect, [n for n, v in t.items() if v is None], _quantities(effect, truth))
            continue
        if effect == "domain_agreement":
            made = _domain_agreement(truth, t, alpha_row, level)
        elif effect == "indicator_signal":
            made = _indicator_signal(truth, t, alpha_row, level, z_row)
        elif effect == "survey_signal":
            made = _survey_signal(truth, t, alpha_row, level, z_row)
        elif effect == "transitions":
            made = _transitions(truth, t, alpha_row, level)
        elif effect == "event_effect":
            made = _event_effect(truth, t, alpha_row, level)
        elif effect == "areas":
            made = _areas(truth, t, alpha_row, level)
        elif effect == "councils":
            made = _councils(truth, t, alpha_row, level)
        else:
            made = _qualitative(truth, t, alpha_row, level)
        rows += [_verdict(r, z_row) for r in made]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    return out[COLUMNS]


def truth_summary(check: pd.DataFrame) -> str:
    """One sentence on a :func:`check_truth` result: how many rows were recovered, which were not.

    Parameters
    ----------
    check : DataFrame
        The result of :func:`check_truth`.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> truth_summary(pd.DataFrame({"effect": ["areas"], "quantity": ["x"], "verdict": ["recovered"]}))
    'All 1 planted quantities were recovered (1 effect: areas).'
    """
    if check.empty:
        return "Nothing to check: the truth plants none of the effects asked for."
    bad = check[check["verdict"] != "recovered"]
    effects = list(dict.fromkeys(check["effect"]))
    scope = f"{len(effects)} effect{'s' if len(effects) != 1 else ''}: {', '.join(effects)}"
    if bad.empty:
        return f"All {len(check)} planted quantities were recovered ({scope})."
    worst = list(dict.fromkeys(bad["effect"]))
    return (f"{len(check) - len(bad)} of {len(check)} planted quantities were recovered ({scope}); "
            f"not recovered: " + "; ".join(f"{r.quantity} ({r.verdict})" for r in bad.itertuples())
            + f". Effects failing: {', '.join(worst)}.")


# ---------------------------------------------------------------------------------------------
# the one line of a notebook's truth-check section
class TruthReport:
    """What a notebook's truth-check section shows: a sentence and the rows of the check.

    Made by :func:`planted_truth_check`. In a notebook it displays as the sentence followed by
    the rows; :attr:`ok` says whether every row was recovered.

    Parameters
    ----------
    table : DataFrame
        The rows of :func:`check_truth` (empty for real data).
    summary : str
        One sentence (:func:`truth_summary`), or why there is nothing to check.

    Attributes
    ----------
    table : DataFrame
        As given.
    summary : str
        As given (also the ``repr``).
    """

    def __init__(self, table: pd.DataFrame, summary: str):
        self.table, self.summary = table, summary

    @property
    def ok(self) -> bool:
        """True when every row was recovered (False for real data: nothing was checked)."""
        return bool(len(self.table)) and bool((self.table["verdict"] == "recovered").all())

    def __repr__(self) -> str:
        return self.summary

    def _ipython_display_(self) -> None:
        from IPython.display import Markdown, display

        display(Markdown(self.summary))
        if len(self.table):
            display(self.table.drop(columns=["null", "level"]).round(3))


def truth_near(sources) -> Path | None:
    """The ``truth.json`` in or above any of ``sources`` (paths; other items are ignored).

    Parameters
    ----------
    sources : iterable

    Returns
    -------
    Path or None
    """
    for src in sources:
        if not isinstance(src, (str, Path)) or not str(src):
            continue
        p = Path(src).expanduser().resolve()
        for folder in [p, *p.parents]:
            if (folder / "truth.json").is_file():
                return folder / "truth.json"
    return None


def planted_truth_check(output_dir, sources, *, effects, save: bool = True) -> TruthReport:
    """Check this notebook's tables against the planted truth beside its synthetic inputs.

    The one line of every notebook's "Check against the planted truth" section:
    ``planted_truth_check(output_dir, rep.sources, effects="transitions")``. For real data (no
    ``truth.json`` beside the inputs) it says there is nothing to check.

    Parameters
    ----------
    output_dir : path
        The run folder the notebook writes its tables to.
    sources : iterable of path
        The notebook's inputs (``Report.sources``).
    effects : str or list of str
        The effects this notebook estimates (names in :data:`EFFECTS`).
    save : bool
        Also write the rows to ``tables/planted_truth_<effects>.csv``, with the "SYNTHETIC DATA"
        stamp (a truth is only ever found beside synthetic data).

    Returns
    -------
    TruthReport
    """
    found = truth_near(sources)
    if found is None:
        return TruthReport(pd.DataFrame(columns=COLUMNS),
                           "Real data (no truth.json beside the inputs): there is no planted truth to check.")
    table = check_truth(output_dir, found, effects=effects)
    if save:
        name = effects if isinstance(effects, str) else "_".join(effects)
        target = Path(output_dir) / "tables" / f"planted_truth_{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            table.assign(data_status=BANNER_TEXT)[["data_status", *COLUMNS]].to_csv(tmp, index=False)
    return TruthReport(table, truth_summary(table))
