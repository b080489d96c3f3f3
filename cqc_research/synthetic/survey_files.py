"""Synthetic GP Patient Survey and Friends and Family Test files, in the published layouts, with the planted survey signal.

Written by :func:`cqc_research.synthetic.generate` beside the other NHS files, from its own
random generator (``np.random.default_rng([seed, 2404])``), so nothing else in the dataset
changes. The layouts follow :mod:`cqc_research.io.nhs.gpps` and :mod:`cqc_research.io.nhs.fft`
(modelled on the published documentation).

The planted effect (``truth.json``, ``survey_signal``): a practice's GP Patient Survey
``gpps_overall_good`` (% describing their overall experience as good) is on average
``gpps_overall_good_gap_pp`` percentage points higher when its current Overall rating (the
rating in the Latest ratings file) is Good or Outstanding than when it is Requires improvement
or Inadequate, in every survey year written. Each practice's expected score is
``78 +/- gap/2 + u`` with a practice effect ``u ~ N(0, 6)`` and a yearly wobble ``N(0, 2)``;
the published share is then a binomial draw on the question's base (about 110 answers). The
other survey measures and the Friends and Family Test carry no planted effect.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..ratings import RATINGS

#: The GP Patient Survey years written, one per layout (see ``io.nhs.gpps.GPPS_LAYOUTS``).
SURVEY_YEARS = {2017: "2012", 2023: "2018", 2024: "2024"}

#: The Friends and Family Test months written: one before the April 2020 change, one after.
FFT_MONTHS = ("2019-03", "2023-03")

_GOOD = {"Good", "Outstanding"}
#: measure -> (mean % positive, practice sd) for the measures without a planted effect
_OTHER = {"gpps_access_good": (68.0, 12.0), "gpps_appointment_good": (70.0, 9.0),
          "gpps_trust_confidence": (94.0, 3.0), "gpps_continuity": (50.0, 10.0)}
_CODES = {  # measure -> variable, per layout (as io.nhs.gpps.GPPS_MEASURES)
    "gpps_overall_good": {"2012": "Q28", "2018": "Q28", "2024": "overallexp"},
    "gpps_access_good": {"2012": "Q3", "2018": "Q3", "2024": "localgpservicesphone"},
    "gpps_appointment_good": {"2012": "Q18", "2018": "Q18", "2024": "gpcontactoverall"},
    "gpps_trust_confidence": {"2012": "Q22", "2018": "Q89", "2024": "lastgpapptconf"},
    "gpps_continuity": {"2012": "Q9", "2018": "Q9", "2024": "localgpservicesprefhpsee"},
}


def _current_overall(loc) -> str | None:
    rated = [r for r in loc.get("reports", []) if r["overall"] in RATINGS]
    return rated[-1]["overall"] if rated else None


def _gpps_file_name(year: int) -> str:
    if year < 2018:
        return f"GPPS {year} Practice data (weighted) (csv) PUBLIC.csv"
    return f"GPPS_{year}_Practice_data_(weighted)_(csv)_PUBLIC.csv"


def _write_gpps(rows: pd.DataFrame, year: int, layout: str, path: Path, rng) -> None:
    """One practice data CSV: identifiers, response counts, then each measure's columns."""
    n = len(rows)
    tiny = rng.random(n) < 0.01  # too few responses: every result suppressed (-97)
    received = np.where(tiny, rng.integers(3, 9, n), rng.poisson(115, n)).astype(int)
    distributed = np.maximum(received, (received / np.clip(rng.normal(0.3, 0.05, n), 0.15, 0.6)).round()).astype(int)
    if layout == "2024":
        cols = {"ad_practicecode": rows["code"], "ad_practicename": rows["name"],
                "ad_icscode": rows["icb_code"], "ad_icsname": rows["icb_name"],
                "distributed": distributed, "received": received,
                "resprate": np.round(received / distributed, 7)}
    else:
        code_col = "Practice_code" if layout == "2012" else "Practice_Code"
        cols = {code_col: rows["code"], "Practice_Name": rows["name"].str.upper(),
                "CCG_Code": rows["ccg_code"], "CCG_Name": rows["ccg_name"]}
        if layout == "2018":
            cols.update({"ICS_Code": rows["icb_code"], "ICS_Name": rows["icb_name"]})
        cols.update({"distributed": distributed, "received": received,
                     "resprate": np.round(received / distributed, 7)})
    for measure, codes in _CODES.items():
        code = codes[layout]
        p = rows[f"p_{measure}"].to_numpy() / 100.0
        base = np.maximum(1, (received * rng.uniform(0.85, 1.0, n)).round()).astype(int)
        good = rng.binomial(base, np.clip(p, 0.0, 1.0))
        share = np.round(good / base, 7)
        very = np.round(share * rng.uniform(0.45, 0.6, n), 7)
        suppressed = tiny | (base < 10)
        if layout == "2024":
            cols[f"{code}_1.pct"] = np.where(suppressed, -97, very)
            cols[f"{code}_2.pct"] = np.where(suppressed, -97, np.round(share - very, 7))
            cols[f"{code}.pcteval"] = np.where(suppressed, -97, share)
            cols[f"{code}.baseevalw"] = np.where(suppressed, -97, base)
        else:
            cols[f"{code}base"] = np.where(suppressed, -97, base)
            cols[f"{code}_1pct"] = np.where(suppressed, -97, very)
            cols[f"{code}_12"] = np.where(suppressed, -97, good)
            cols[f"{code}_12pct"] = np.where(suppressed, -97, share)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cols).to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)


_FFT_2013 = ["Extremely likely", "Likely", "Neither likely nor unlikely", "Unlikely",
             "Extremely unlikely", "Don't know"]
_FFT_2020 = ["Very Good", "Good", "Neither Good nor Poor", "Poor", "Very Poor", "Don't Know"]


def _fft_counts(rng, n_orgs, size, p_positive):
    """Responses by category (positive, positive, neutral, negative, negative, don't know)."""
    total = rng.poisson(size, n_orgs)
    pos = np.clip(p_positive, 0.05, 0.995)
    rest = 1 - pos
    probs = np.stack([pos * 0.7, pos * 0.3, rest * 0.4, rest * 0.25, rest * 0.2, rest * 0.15], axis=1)
    return np.array([rng.multinomial(t, pr) for t, pr in zip(total, probs, strict=True)])


def _fft_sheet(ws, title, id_header, ids, counts, month: pd.Timestamp) -> None:
    """A data sheet: two title rows, the header, the England row, one row per organisation."""
    old = month < pd.Timestamp("2020-04-01")
    cats = _FFT_2013 if old else _FFT_2020
    pct = ["Percentage Recommended", "Percentage Not Recommended"] if old else \
        ["Percentage Positive", "Percentage Negative"]
    ws.append([f"{title} - {month:%B %Y}"])
    ws.append(["SYNTHETIC DATA written by cqc-research: not real Friends and Family Test results"])
    ws.append([*id_header, "Total Responses", *pct, *cats])

    def row(total, c):
        if total < 5:  # small numbers suppressed, as published
            return [int(total)] + ["*"] * (2 + len(cats))
        return [int(total), round(float((c[0] + c[1]) / total), 6),
                round(float((c[3] + c[4]) / total), 6)] + [int(x) for x in c]

    tot = counts.sum(axis=0)
    ws.append(["", *[""] * (len(id_header) - 2), "ENGLAND", *row(tot.sum(), tot)])
    for ident, c in zip(ids, counts, strict=True):
        ws.append([*ident, *row(c.sum(), c)])


def _write_fft(world, root: Path, rng) -> dict:
    import openpyxl

    geo = {g.la_name: g for g in world["geo"].itertuples(index=False)}
    gp, ae = [], []
    for text in FFT_MONTHS:
        month = pd.Timestamp(text)
        word = "Recommend" if month < pd.Timestamp("2020-04-01") else "Experience"
        # GP practices open in the month
        pracs = [loc for loc in world["gp"] if not (loc.get("closed") and pd.Timestamp(loc["closed"]) <= month)]
        p = rng.beta(40, 4, len(pracs))
        counts = _fft_counts(rng, len(pracs), rng.choice([3, 40, 90], len(pracs), p=[0.05, 0.45, 0.5]), p)
        ids = [(getattr(geo[loc["la"]], "ccg_code", ""), loc["ods_code"], loc["name"].upper()) for loc in pracs]
        wb = openpyxl.Workbook()
        wb.active.title = "Notes"
        wb.active.append([f"GP Friends and Family Test (FFT) Data - {month:%B %Y}"])
        wb.active.append([f"FFT question: {word}; SYNTHETIC DATA written by cqc-research"])
        _fft_sheet(wb.create_sheet("Practice Level"), "GP Friends and Family Test", [
            "CCG Code" if month.year < 2022 else "Sub-ICB Code", "Practice Code", "Practice Name"], ids, counts, month)
        path = root / "fft" / "gp" / f"FFT-GP-data-{month:%B-%Y}.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
        gp.append(path)
        # A&E: trusts (organisation sheet) and their sites, open in the month
        merger = world["merger"]
        trusts = [t for t in world["trusts"] if not (t["code"] in merger["old"] and month >= pd.Timestamp(merger["date"]))
                  and not (t["code"] == merger["new"] and month < pd.Timestamp(merger["date"]))]
        open_codes = {t["code"] for t in trusts}
        sites = [s for s in world["sites"] if s["provider_id"] in open_codes]
        site_counts = _fft_counts(rng, len(sites), 600, rng.beta(16, 4, len(sites)))
        trust_counts = np.array([site_counts[[i for i, s in enumerate(sites) if s["provider_id"] == t["code"]]].sum(axis=0)
                                 if any(s["provider_id"] == t["code"] for s in sites)
                                 else _fft_counts(rng, 1, 1200, rng.beta(16, 4, 1))[0] for t in trusts])
        wb = openpyxl.Workbook()
        wb.active.title = "Notes"
        wb.active.append([f"A&E Friends and Family Test (FFT) Data - {month:%B %Y}"])
        _fft_sheet(wb.create_sheet("Trusts"), "A&E Friends and Family Test, trusts", ["Region", "Trust Code", "Trust Name"],
                   [("", t["code"], t["name"].upper()) for t in trusts], trust_counts, month)
        _fft_sheet(wb.create_sheet("Sites"), "A&E Friends and Family Test, sites",
                   ["Trust Code", "Site Code", "Site Name"],
                   [(s["provider_id"], s["location_id"], s["name"].upper()) for s in sites], site_counts, month)
        path = root / "fft" / "ae" / f"FFT-AE-data-{month:%B-%Y}.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
        ae.append(path)
    return {"fft_gp": gp, "fft_ae": ae}


def write_survey_files(world, root) -> dict:
    """Write the GP Patient Survey files (one per layout) and the FFT GP and A&E workbooks.

    Parameters
    ----------
    world : dict
        The generator's world (its practices with their reports, trusts, sites, geography,
        seed and ``planted["survey_gap_pp"]``).
    root : str or Path
        The dataset folder being written.

    Returns
    -------
    dict
        ``gpps`` (the practice data CSVs, oldest first), ``fft_gp`` and ``fft_ae`` (the
        monthly workbooks, oldest first).
    """
    root = Path(root)
    rng = np.random.default_rng([int(world["seed"]), 2404])
    gap = float(world["planted"].get("survey_gap_pp", 0.0))
    geo = {g.la_name: g for g in world["geo"].itertuples(index=False)}
    recs = []
    for loc in world["gp"]:
        g = geo[loc["la"]]
        rating = _current_overall(loc)
        shift = 0.0 if rating is None else (gap / 2 if rating in _GOOD else -gap / 2)
        recs.append({"code": loc["ods_code"], "name": loc["name"], "closed": loc.get("closed"),
                     "ccg_code": getattr(g, "ccg_code", ""), "ccg_name": getattr(g, "ccg_name", ""),
                     "mean_overall": 78.0 + shift})
    for code in world["unregistered"]:
        g = world["geo"].iloc[int(rng.integers(len(world["geo"])))]
        recs.append({"code": code, "name": f"{g.la_name} Branch Surgery", "closed": None,
                     "ccg_code": g.ccg_code, "ccg_name": g.ccg_name, "mean_overall": 78.0})
    base = pd.DataFrame(recs)
    base["icb_code"] = "Q" + base["ccg_code"].astype(str).str[-2:].str.upper().str.rjust(2, "0")
    base["icb_name"] = "NHS " + base["ccg_name"].astype(str).str.replace(" CCG", "", regex=False) + " ICB"
    n = len(base)
    practice_effect = rng.normal(0, 6.0, n)
    other_effect = {m: rng.normal(0, sd, n) for m, (_, sd) in _OTHER.items()}
    files = []
    for year, layout in SURVEY_YEARS.items():
        fieldwork_end = pd.Timestamp(year, 3, 31)
        closed = pd.to_datetime(base["closed"].where(base["closed"].notna(), None))
        open_ = ~(closed <= fieldwork_end)
        rows = base.copy()
        rows["p_gpps_overall_good"] = np.clip(rows["mean_overall"] + practice_effect + rng.normal(0, 2.0, n), 5, 99.5)
        for m, (mean, _) in _OTHER.items():
            rows[f"p_{m}"] = np.clip(mean + other_effect[m] + rng.normal(0, 2.0, n), 5, 99.5)
        rows = rows[open_.to_numpy()].reset_index(drop=True)
        path = root / "gpps" / _gpps_file_name(year)
        _write_gpps(rows, year, layout, path, rng)
        files.append(path)
    out = {"gpps": files}
    out.update(_write_fft(world, root, rng))
    return out
