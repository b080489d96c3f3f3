"""Every indicator a study holds, found, read and linked to ratings with a leakage-safe window.

Notebook 02 asks whether routine indicators predict ratings with the indicators the published
studies used: for GP practices QOF, the GP Patient Survey and the Friends and Family Test beside
payments; for NHS trusts SHMI, the staff survey, A&E and the Friends and Family Test. This module
finds the files of each source (explicit paths, else the study's ``cqc-research.toml``, else the
embedded synthetic data), reads them through :func:`cqc_research.io.load`, and links each source
to the ratings at its own level and with its own window:

- a yearly source (payments, QOF, GP Patient Survey, SHMI, staff survey, Fingertips) gives each
  rating its last full period that **ended before the rating was published**;
- a monthly source (A&E, Friends and Family Test) gives the mean of the months lying wholly within
  the 12 months before publication.

Nothing measured after a rating was published reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import DataFormatError
from .io import read_source
from .link import link_indicators
from .study import INDICATOR_KEYS, study_data
from .synthetic import dataset_paths, ensure_default_data

__all__ = ["link_sources"]

#: The level each source is linked at in notebook 02, its window, and its headline measures (the
#: one or two a model of all sources together uses; the first present is taken, in this order).
SOURCE_LEVELS = {
    "gp_payments": ("practice", "last", ["payments_per_weighted_patient", "qof_payments_per_patient"]),
    "qof": ("practice", "last", ["qof_achievement_pct", "qof_points_pct", "qof_points_total"]),
    "gpps": ("practice", "last", ["gpps_overall_good"]),
    "fft": ("practice", 12, ["fft_recommend_pct"]),
    "fingertips": ("practice", "last", []),
    "shmi": ("trust", "last", ["shmi"]),
    "staff_survey": ("trust", "last", ["staff_recommend_care"]),
    "ae": ("trust", 12, ["ae_4hr_performance_all"]),
}
#: The same sources read at trust level too (the A&E Friends and Family Test).
_ALSO_AT = {"fft": ("trust", 12, ["fft_recommend_pct"]),
            "fingertips": ("trust", "last", [])}
#: Keys of the synthetic dataset's paths (:func:`cqc_research.synthetic.dataset_paths`) by source.
_SYNTHETIC = {"gp_payments": ["gp_payments"], "qof": ["qof_prevalence", "qof_achievement"],
              "gpps": ["gpps"], "fft": ["fft_gp", "fft_ae"], "fingertips": ["fingertips"],
              "shmi": ["shmi"], "staff_survey": ["staff_survey", "staff_survey_workbook"],
              "ae": ["ae_folder"]}
_SUFFIXES = {".csv", ".xls", ".xlsx", ".xlsm"}


def _as_paths(value) -> list[Path]:
    values = value if isinstance(value, list | tuple) else [value]
    return [Path(v) for v in values if v not in (None, "")]


def indicator_sources(given: dict | None = None, *, synthetic: bool = True) -> dict[str, list[Path]]:
    """The files of each indicator source a study holds.

    Parameters
    ----------
    given : dict, optional
        Source name (a key of :data:`SOURCE_LEVELS`) to a path or list of paths. A non-empty
        ``given`` is used as it is (explicit parameters win). Empty: the study's
        ``cqc-research.toml`` ``[data.indicators]``; when that declares none, the embedded
        synthetic dataset (written if missing).
    synthetic : bool
        Fall back to the embedded synthetic files when nothing is given or declared. A notebook
        run on real ratings passes False, so that real ratings are never linked to synthetic
        indicators.

    Returns
    -------
    dict of str to list of Path
        Only the sources held, in the order of :data:`SOURCE_LEVELS`.

    Raises
    ------
    DataFormatError
        When ``given`` names an unknown source or a path that does not exist.
    """
    if given:
        unknown = sorted(set(given) - set(SOURCE_LEVELS))
        if unknown:
            raise DataFormatError(f"unknown indicator source(s) {unknown}; known: "
                                  f"{', '.join(SOURCE_LEVELS)}")
        found = {k: _as_paths(v) for k, v in given.items() if _as_paths(v)}
        for key, paths in found.items():
            for p in paths:
                if not p.exists():
                    raise DataFormatError(f"the {key} indicator source: no such file or folder",
                                          path=p)
    else:
        declared = study_data()
        found = {k.split(".", 1)[1]: v for k, v in declared.items()
                 if k.startswith("indicators.") and k.split(".", 1)[1] in SOURCE_LEVELS}
        if synthetic and not any(k.startswith("indicators.") for k in declared):
            synth = dataset_paths(ensure_default_data(quiet=True))
            found = {}
            for key, names in _SYNTHETIC.items():
                paths = [p for name in names for p in _as_paths(synth.get(name)) if p.exists()]
                if paths:
                    found[key] = paths
    return {k: found[k] for k in SOURCE_LEVELS if k in found}


def _files(paths: list[Path], key: str) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir() and key != "ae":  # A&E folders are one series, read by load() whole
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in _SUFFIXES
                          and not f.name.startswith("."))
        else:
            out.append(p)
    return out


def _read(key: str, paths: list[Path]) -> pd.DataFrame:
    frames = [f for f in (read_source(p) for p in _files(paths, key)) if f is not None]
    if not frames:
        raise DataFormatError(f"the {key} files hold no indicator table", path=paths[0])
    synthetic = any(bool(f.attrs.get("synthetic")) for f in frames)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # the same value published twice (a revised file, a year in two layouts): the later file wins
    out = out.drop_duplicates(["org_code", "org_level", "period_start", "period_end", "measure"],
                              keep="last")
    out.attrs["synthetic"] = synthetic
    return out


@dataclass
class LinkedIndicators:
    """Ratings of one level joined to every indicator source held at that level.

    Attributes
    ----------
    data : DataFrame
        One row per rated organisation: its ratings (one column per domain) and one column per
        indicator measure (NaN where the source had no value before the rating).
    sources : DataFrame
        One row per source: ``source, level, window, files, measures, linked, status, note``;
        ``status`` is ``used``, ``no rows at this level`` or ``not held``.
    measures : dict of str to list of str
        The measures each used source contributed.
    headline : list of str
        One or two measures per used source (see :data:`SOURCE_LEVELS`), for a model of all
        sources together; a source linked to fewer than half as many organisations as the
        best-linked source is left out of it (complete cases would shrink the model to its
        coverage).
    """

    data: pd.DataFrame
    sources: pd.DataFrame
    measures: dict = field(default_factory=dict)
    headline: list = field(default_factory=list)


def link_sources(data: pd.DataFrame, *, sources: dict, level: str,
                 sector: str | None = "auto") -> LinkedIndicators:
    """Link ratings to every indicator source held, each at its own window.

    Parameters
    ----------
    data : DataFrame
        Ratings: the long Latest ratings table, or the wide one (one row per organisation).
    sources : dict of str to list of Path
        From :func:`indicator_sources`.
    level : {"practice", "trust"}
        The level to link at.
    sector : str or None
        Passed to :func:`cqc_research.link.link_indicators` (``"auto"``: GP practices at
        practice level, NHS hospitals at trust level).

    Returns
    -------
    LinkedIndicators
    """
    rows, merged, measures, headline = [], None, {}, []
    for key in SOURCE_LEVELS:
        spec = SOURCE_LEVELS[key] if SOURCE_LEVELS[key][0] == level else _ALSO_AT.get(key)
        if spec is None or spec[0] != level:
            continue
        _, window, wanted = spec
        row = {"source": key, "title": INDICATOR_KEYS.get(key, key), "level": level,
               "window": "last period before publication" if window == "last"
               else f"mean of the {window} months before publication",
               "files": 0, "measures": "", "linked": 0, "status": "not held", "note": ""}
        if key not in sources:
            rows.append(row)
            continue
        row["files"] = len(_files(sources[key], key))
        frame = _read(key, sources[key])
        at_level = frame[frame["org_level"].astype(str) == level]
        if at_level.empty:
            row.update(status="no rows at this level",
                       note=f"levels in the files: {', '.join(sorted(frame['org_level'].astype(str).unique()))}")
            rows.append(row)
            continue
        link = link_indicators(data, at_level, level=level, window=window, sector=sector)
        cols = sorted(at_level["measure"].astype(str).unique())
        keep = link.data[["org_id", *cols]]
        linked = int(keep[cols].notna().any(axis=1).sum())
        if merged is None:
            merged = link.data.drop(columns=cols)
        merged = merged.merge(keep, on="org_id", how="left")
        measures[key] = cols
        headline.append((key, linked, [m for m in wanted if m in cols][:2]))
        row.update(measures=", ".join(cols), linked=linked, status="used")
        rows.append(row)
    # the model of all sources together uses complete cases: a source that reaches fewer than
    # half the organisations the best-covered source reaches would shrink it, so it is left out
    most = max((n for _, n, _ in headline), default=0)
    headline = [m for _, n, ms in headline if n >= most / 2 for m in ms]
    table = pd.DataFrame(rows, columns=["source", "title", "level", "window", "files", "measures",
                                        "linked", "status", "note"])
    if merged is None:
        merged = pd.DataFrame()
    return LinkedIndicators(merged, table, measures, headline)

