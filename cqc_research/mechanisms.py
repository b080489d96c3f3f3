"""The eight impact mechanisms: how regulation can change a service, and how we measure each.

Evaluations of CQC by the King's Fund and Alliance Manchester Business School describe eight
mechanisms through which regulation can produce change: anticipatory, directive,
organisational, relational, informational, stakeholder, lateral and systemic. This module is the
registry that ties each mechanism to

- a one-line definition (in our own words; the coding frame in
  ``cqc_research/codebooks/cqc_improvement.yaml`` gives the longer version with inclusion and
  exclusion notes),
- the proxies that routine data can give, and the function, notebook and output table that
  compute each one,
- an honest flag, ``qualitative=True``, for mechanisms that routine data cannot see, with the
  kind of evidence that would measure them (interviews coded with :mod:`cqc_research.qual`, in
  ``notebooks/07_mixed_methods.ipynb``).

:func:`mechanisms_table` lists them as a tidy table; :func:`headline_figures` reads the tables
that the other notebooks wrote into one run folder and returns each measured mechanism's
headline figure by sector (a table that is missing is reported as ``"not run"``, never as an
error).

Examples
--------
>>> t = mechanisms_table()
>>> t.drop_duplicates("mechanism")["mechanism"].tolist()[:3]
['anticipatory', 'directive', 'organisational']
>>> MECHANISMS["relational"].qualitative
True
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .ratings import RATINGS

__all__ = [
    "Proxy",
    "Mechanism",
    "MECHANISMS",
    "mechanisms_table",
    "headline_figures",
    "HEADLINE_COLUMNS",
]

#: Columns of :func:`headline_figures`.
HEADLINE_COLUMNS = ["mechanism", "proxy", "sector", "estimate", "ci_low", "ci_high", "n", "unit",
                    "notebook", "table", "status", "note"]

QUAL_NOTEBOOK = "07_mixed_methods"
QUAL_FUNCTIONS = ("cqc_research.qual.read_coded_segments", "cqc_research.qual.code_frequencies",
                  "cqc_research.qual.compare_prevalence")


# ----------------------------------------------------------------------------------------------
# headline extractors: each takes a table read from tables/<name>.csv and returns tidy rows
# (sector, estimate, ci_low, ci_high, n, note) or raises KeyError when the columns are not there
# ----------------------------------------------------------------------------------------------
def _need(table: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise KeyError(f"columns {missing} missing")


def _event_contrast(contrast: str, *events: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Rows of ``event_study_contrasts`` for the first of ``events`` that the run estimated."""
    def extract(t: pd.DataFrame) -> pd.DataFrame:
        _need(t, ["event", "contrast", "estimate", "ci_low", "ci_high"])
        rows = t.iloc[0:0]
        for event in events:
            rows = t[(t["event"] == event) & (t["contrast"] == contrast) & t["estimate"].notna()]
            if len(rows):
                break
        sector = rows["sector"] if "sector" in rows else "NHS hospitals"
        n = rows["n_event_units"] if "n_event_units" in rows else np.nan
        span = ""
        if {"rel_from", "rel_to"} <= set(rows.columns) and len(rows):
            span = f"months {int(rows['rel_from'].iloc[0])} to {int(rows['rel_to'].iloc[0])}; "
        measure = rows["measure"].iloc[0] if "measure" in rows and len(rows) else "indicator"
        which = f"around the {rows['event'].iloc[0]}; " if len(rows) else ""
        return pd.DataFrame({"sector": sector, "estimate": rows["estimate"], "ci_low": rows["ci_low"],
                             "ci_high": rows["ci_high"], "n": n,
                             "note": f"{which}{span}{measure}; n = organisations with an event"})
    return extract


def _improved_share(from_ratings: tuple[str, ...], domain: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Share of ``domain`` ratings in ``from_ratings`` that were better at the next inspection.

    Reads either ``improvement_from_<rating>`` (the ``outcome == "improved"`` rows of
    :func:`cqc_research.metrics.transitions.improvement_from`) or ``transitions`` (counts of
    consecutive pairs), where the improved pairs are counted and given a Wilson interval, the
    interval ``improvement_from`` uses.
    """
    rank = {r: i for i, r in enumerate(RATINGS)}
    note = (f"{domain} rated {' or '.join(from_ratings)} at one inspection, better at the next; "
            "n = pairs of inspections")

    def extract(t: pd.DataFrame) -> pd.DataFrame:
        if "outcome" in t.columns:
            _need(t, ["sector", "from_rating", "outcome", "total", "share", "ci_low", "ci_high"])
            d = t[(t["outcome"] == "improved") & t["from_rating"].isin(from_ratings) & (t["total"] > 0)]
            if "domain" in d.columns:
                d = d[d["domain"].isna() | (d["domain"] == domain)]
            if len(set(d["from_rating"])) != len(from_ratings):
                d = d.iloc[0:0]
            return pd.DataFrame({"sector": d["sector"], "estimate": d["share"], "ci_low": d["ci_low"],
                                 "ci_high": d["ci_high"], "n": d["total"], "note": note})
        _need(t, ["sector", "domain", "from_rating", "to_rating", "n"])
        d = t[(t["domain"] == domain) & t["from_rating"].isin(from_ratings)].copy()
        d["up"] = d["to_rating"].map(rank) > d["from_rating"].map(rank)
        g = d.groupby("sector").apply(
            lambda x: pd.Series({"k": x.loc[x["up"], "n"].sum(), "n": x["n"].sum()}),
            include_groups=False).reset_index()
        g = g[g["n"] > 0]
        lo, hi = _wilson(g["k"], g["n"])
        return pd.DataFrame({"sector": g["sector"], "estimate": g["k"] / g["n"], "ci_low": lo,
                             "ci_high": hi, "n": g["n"], "note": note})
    return extract


def _wilson(k, n, alpha=0.05):
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(np.asarray(k), np.asarray(n), alpha=alpha, method="wilson")
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


def _upward_share(domain: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Share of all consecutive inspections that moved up the scale, by sector (Wilson CI)."""
    def extract(t: pd.DataFrame) -> pd.DataFrame:
        _need(t, ["sector", "domain", "from_rating", "to_rating", "n"])
        d = t[t["domain"] == domain].copy()
        rank = {r: i for i, r in enumerate(RATINGS)}
        d["up"] = d["to_rating"].map(rank) > d["from_rating"].map(rank)
        g = d.groupby("sector").apply(
            lambda x: pd.Series({"k": x.loc[x["up"], "n"].sum(), "n": x["n"].sum()}),
            include_groups=False).reset_index()
        g = g[g["n"] > 0]
        lo, hi = _wilson(g["k"], g["n"])
        return pd.DataFrame({"sector": g["sector"], "estimate": g["k"] / g["n"], "ci_low": lo,
                             "ci_high": hi, "n": g["n"],
                             "note": f"share of consecutive {domain} ratings that moved up the scale "
                                     "(all starting ratings); n = pairs"})
    return extract


def _coded_share(code: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Share of interview cases coded with the mechanism, from qual.code_frequencies output."""
    def extract(t: pd.DataFrame) -> pd.DataFrame:
        _need(t, ["code", "share", "ci_low", "ci_high"])
        d = t[t["code"].astype(str) == code]
        if "unit" in d.columns:
            d = d[d["unit"].astype(str) == "case"] if (d["unit"] == "case").any() else d
        extra = [c for c in d.columns if c not in {"data_status", "code", "code_group", "unit", "n_segments",
                                                   "n_units", "n_total", "share", "ci_low", "ci_high"}]
        if extra:  # a stratified table (by role...): keep the overall rows only when present
            d = d[d[extra].isna().all(axis=1)] if d[extra].isna().all(axis=1).any() else d.iloc[0:0]
        sector = d["sector"] if "sector" in d.columns else "All (interview cases)"
        n = d["n_total"] if "n_total" in d.columns else np.nan
        return pd.DataFrame({"sector": sector, "estimate": d["share"], "ci_low": d["ci_low"],
                             "ci_high": d["ci_high"], "n": n,
                             "note": "share of interview cases in which the mechanism was coded "
                                     "(description, not a population estimate); n = cases"})
    return extract


# ----------------------------------------------------------------------------------------------
# the registry
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proxy:
    """A measurable stand-in for a mechanism.

    Attributes
    ----------
    name : str
        What is measured, in plain words.
    unit : str
        The unit of the headline figure (``"percentage points"``, ``"share"``).
    functions : tuple of str
        The library functions that compute it.
    notebook : str
        The notebook (without ``.ipynb``) that computes and saves it.
    tables : tuple of str
        Names of ``tables/<name>.csv`` in a run folder that carry it, in order of preference.
    headline : callable, optional
        Turns the table into headline rows (sector, estimate, ci_low, ci_high, n, note).
    caveat : str
        What the proxy can and cannot show.
    """

    name: str
    unit: str
    functions: tuple[str, ...]
    notebook: str
    tables: tuple[str, ...] = ()
    headline: Callable[[pd.DataFrame], pd.DataFrame] | None = field(default=None, repr=False,
                                                                    compare=False)
    caveat: str = ""


@dataclass(frozen=True)
class Mechanism:
    """One of the eight impact mechanisms.

    Attributes
    ----------
    name : str
        ``anticipatory``, ``directive``, ... (the code used in the qualitative codebook).
    label : str
        Display name.
    definition : str
        One line, in our own words.
    proxies : tuple of Proxy
        Routine-data proxies (may be empty).
    qualitative : bool
        True when no routine-data proxy exists: the mechanism can be studied only with
        qualitative evidence.
    evidence : str
        The qualitative evidence that would measure it (for every mechanism; the only evidence
        when ``qualitative``).
    """

    name: str
    label: str
    definition: str
    proxies: tuple[Proxy, ...]
    qualitative: bool
    evidence: str

    def _repr_html_(self) -> str:
        return _html_table(mechanisms_table([self.name]))


class _Registry(Mapping):
    """Read-only mapping of mechanism name to :class:`Mechanism`, in the framework's order."""

    def __init__(self, items: list[Mechanism]):
        self._items = {m.name: m for m in items}

    def __getitem__(self, key: str) -> Mechanism:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"unknown mechanism {key!r}; expected one of {list(self._items)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return "MECHANISMS(" + ", ".join(
            f"{m.name}{' [qualitative]' if m.qualitative else ''}" for m in self._items.values()) + ")"

    def _repr_html_(self) -> str:
        return _html_table(mechanisms_table())


_EVENTS_FN = ("cqc_research.metrics.events.event_study", "cqc_research.metrics.events.event_dates")
_TRANS_FN = ("cqc_research.metrics.transitions.transition_matrix",
             "cqc_research.metrics.transitions.improvement_from")
_CODED = "share of interview cases coded with this mechanism"

MECHANISMS = _Registry([
    Mechanism(
        name="anticipatory",
        label="Anticipatory",
        definition="Services change because they expect to be inspected: they prepare, check "
                   "themselves against the standards and tidy up practice before the visit.",
        proxies=(
            Proxy("change in a monthly indicator in the months before an inspection or rating "
                  "(mean of event-study leads)", "percentage points", _EVENTS_FN,
                  "04_inspection_effects", ("event_study_contrasts",),
                  _event_contrast("leads", "inspection", "publication"),
                  "Unannounced inspections leave little time to prepare, and preparation may not "
                  "move the indicator; zero leads are not proof of no anticipation."),
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("anticipatory"), "Describes the interviewed cases only."),
        ),
        qualitative=False,
        evidence="Interviews with managers about getting ready for inspection; mock inspections "
                 "and self-assessments in board or team papers.",
    ),
    Mechanism(
        name="directive",
        label="Directive",
        definition="The regulator's formal powers (requirement and warning notices, conditions, "
                   "special measures) make a service change what it was told to change.",
        proxies=(
            Proxy("share of services rated Inadequate that were rated better at the next "
                  "inspection", "share", _TRANS_FN, "03_improvement_journeys",
                  ("improvement_from_inadequate", "transitions"),
                  _improved_share(("Inadequate",), "Overall"),
                  "Improvement after Inadequate also reflects regression to the mean and whatever "
                  "else changed; it is an upper bound on what enforcement achieved."),
            Proxy("change in a monthly indicator in the months after a rating is published "
                  "(mean of event-study lags)", "percentage points", _EVENTS_FN,
                  "04_inspection_effects", ("event_study_contrasts",),
                  _event_contrast("lags", "publication"),
                  "Shared with the informational mechanism: the same lags follow both the "
                  "requirements and the publicity of a report."),
        ),
        qualitative=False,
        evidence="Enforcement records and action plans; interviews on how requirements were met.",
    ),
    Mechanism(
        name="organisational",
        label="Organisational",
        definition="An inspection sets off change inside the organisation: new governance, "
                   "systems, roles or priorities adopted because of what was found.",
        proxies=(
            Proxy("share of Well-led ratings below Good (Inadequate or Requires improvement) that "
                  "were better at the next inspection", "share", _TRANS_FN, "03_improvement_journeys",
                  ("transitions",), _improved_share(("Inadequate", "Requires improvement"), "Well-led"),
                  "A partial proxy: a better Well-led rating shows that governance was judged "
                  "better, not why it changed."),
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("organisational"), "Describes the interviewed cases only."),
        ),
        qualitative=False,
        evidence="Interviews with leaders and staff on changes to governance and systems; board "
                 "papers before and after the inspection.",
    ),
    Mechanism(
        name="relational",
        label="Relational",
        definition="Change runs through the relationship between the service and the regulator's "
                   "people: trust, challenge, advice and the tone of contact with inspectors.",
        proxies=(
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("relational"), "Describes the interviewed cases only."),
        ),
        qualitative=True,
        evidence="Semi-structured interviews with managers, staff and inspectors about the "
                 "inspection encounter and later contact, coded with the relational code "
                 "(cqc_research.qual; notebook 07). No routine dataset records it.",
    ),
    Mechanism(
        name="informational",
        label="Informational",
        definition="The information regulation publishes (the rating and the report) changes "
                   "what the service, the public and others know, and so what they do.",
        proxies=(
            Proxy("change in a monthly indicator after a rating is published (mean of "
                  "event-study lags)", "percentage points", _EVENTS_FN, "04_inspection_effects",
                  ("event_study_contrasts",), _event_contrast("lags", "publication"),
                  "Compare with the lags after the inspection visit: change that waits for "
                  "publication points to the information, not the visit."),
            Proxy("the same, after the inspection visit (for comparison)", "percentage points",
                  _EVENTS_FN, "04_inspection_effects", ("event_study_contrasts",),
                  _event_contrast("lags", "inspection"),
                  "Publication follows the visit by two to four months, so the two windows overlap."),
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("informational"), "Describes the interviewed cases only."),
        ),
        qualitative=False,
        evidence="Interviews on how the published rating affected reputation, recruitment or "
                 "occupancy; families' and commissioners' use of reports.",
    ),
    Mechanism(
        name="stakeholder",
        label="Stakeholder",
        definition="Other parties act on the regulator's findings: commissioners, councils, the "
                   "NHS, the public and the media bring their own pressure or support.",
        proxies=(
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("stakeholder"), "Describes the interviewed cases only."),
        ),
        qualitative=True,
        evidence="Interviews with commissioners and councils; placement suspensions, contract "
                 "and safeguarding records where they can be obtained. Local-system comparisons "
                 "(notebook 05: ratings beside delayed transfers of care by local authority) "
                 "describe the setting, not stakeholder action.",
    ),
    Mechanism(
        name="lateral",
        label="Lateral",
        definition="Providers influence one another: peers compare, copy and learn from other "
                   "services through networks, buddying and shared ownership.",
        proxies=(
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("lateral"), "Describes the interviewed cases only."),
        ),
        qualitative=True,
        evidence="Interviews about peer learning, provider forums and sister services; network "
                 "membership records. Routine data hold no measure of contact between providers.",
    ),
    Mechanism(
        name="systemic",
        label="Systemic",
        definition="Regulation shapes the whole system rather than one service: shared standards "
                   "and language, the market, and what a sector expects of itself.",
        proxies=(
            Proxy("share of consecutive Overall ratings that moved up the scale, by sector",
                  "share", _TRANS_FN, "03_improvement_journeys", ("transitions",),
                  _upward_share("Overall"),
                  "Movement of a whole sector is consistent with, but not evidence of, a "
                  "systemic effect: there is no unregulated comparison."),
            Proxy(_CODED, "share", QUAL_FUNCTIONS, QUAL_NOTEBOOK, ("code_frequencies", "mechanism_frequencies"),
                  _coded_share("systemic"), "Describes the interviewed cases only."),
        ),
        qualitative=False,
        evidence="Policy and commissioning documents that use the key questions; interviews on "
                 "sector-wide expectations.",
    ),
])


def mechanisms_table(names=None) -> pd.DataFrame:
    """The registry as a tidy table: one row per mechanism and proxy.

    Parameters
    ----------
    names : iterable of str, optional
        Mechanisms to include (default all eight, in the framework's order).

    Returns
    -------
    pandas.DataFrame
        ``mechanism, label, definition, qualitative, routine_data (bool: has a routine-data
        proxy), proxy, unit, functions, notebook, tables, caveat, evidence``. A mechanism with no
        proxy has one row with an empty ``proxy``.
    """
    rows = []
    for name in (names or MECHANISMS):
        m = MECHANISMS[name]
        routine = any(p.notebook != QUAL_NOTEBOOK for p in m.proxies)
        base = {"mechanism": m.name, "label": m.label, "definition": m.definition,
                "qualitative": m.qualitative, "routine_data": routine}
        for p in m.proxies or (None,):
            rows.append({**base,
                         "proxy": p.name if p else "",
                         "unit": p.unit if p else "",
                         "functions": ", ".join(p.functions) if p else "",
                         "notebook": p.notebook if p else "",
                         "tables": ", ".join(p.tables) if p else "",
                         "caveat": p.caveat if p else "",
                         "evidence": m.evidence})
    return pd.DataFrame(rows)


def _html_table(t: pd.DataFrame) -> str:
    out = ["<table><tr><th>mechanism</th><th>definition</th><th>how it is measured</th>"
           "<th>qualitative evidence</th></tr>"]
    for _, g in t.groupby("mechanism", sort=False):
        first = g.iloc[0]
        tag = " <em>(qualitative)</em>" if first["qualitative"] else ""
        items = "".join(f"<li>{html.escape(r.proxy)} <small>[{html.escape(r.notebook)}]</small></li>"
                        for r in g.itertuples() if r.proxy)
        out.append(f"<tr><td><strong>{html.escape(first['label'])}</strong>{tag}</td>"
                   f"<td>{html.escape(first['definition'])}</td><td><ul>{items}</ul></td>"
                   f"<td>{html.escape(first['evidence'])}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _read_table(path: Path) -> pd.DataFrame:
    t = pd.read_csv(path)
    return t.drop(columns=["data_status"], errors="ignore")


def headline_figures(run_dir, *, names=None) -> pd.DataFrame:
    """Each mechanism's headline figures by sector, read from a run folder's ``tables/``.

    Parameters
    ----------
    run_dir : path
        The run folder the notebooks wrote into (``<run_dir>/tables/<name>.csv``).
    names : iterable of str, optional
        Mechanisms to include (default all eight).

    Returns
    -------
    pandas.DataFrame
        :data:`HEADLINE_COLUMNS`: ``mechanism, proxy, sector, estimate, ci_low, ci_high, n,
        unit, notebook, table, status, note``. ``status`` is ``"measured"``; ``"not run"`` when
        the notebook's table is absent from the run (estimate NaN); ``"no estimate"`` when the
        table is there but holds no row for the proxy; ``"unreadable"`` when it lacks the expected
        columns (``note`` says which); and ``"qualitative"`` for a qualitative mechanism's row
        when none of its proxies was measured.
    """
    run_dir = Path(run_dir)
    tables_dir = run_dir / "tables"
    cache: dict[str, pd.DataFrame | None] = {}

    def load(name: str):
        if name not in cache:
            p = tables_dir / f"{name}.csv"
            cache[name] = _read_table(p) if p.is_file() else None
        return cache[name]

    rows = []
    for mname in (names or MECHANISMS):
        m = MECHANISMS[mname]
        measured_any = False
        for p in m.proxies:
            base = {"mechanism": m.name, "proxy": p.name, "unit": p.unit, "notebook": p.notebook}
            found = [(t, load(t)) for t in p.tables if load(t) is not None]
            if not found or p.headline is None:
                rows.append({**base, "table": p.tables[0] if p.tables else "", "status": "not run",
                             "note": f"run notebooks/{p.notebook}.ipynb into this folder"})
                continue
            tname, table = found[0]
            try:
                h = p.headline(table)
            except KeyError as exc:
                rows.append({**base, "table": tname, "status": "unreadable",
                             "note": f"tables/{tname}.csv: {exc.args[0]}"})
                continue
            h = h.dropna(subset=["estimate"])
            if h.empty:
                rows.append({**base, "table": tname, "status": "no estimate",
                             "note": f"tables/{tname}.csv has no row for this proxy"})
                continue
            measured_any = True
            for r in h.to_dict("records"):
                rows.append({**base, **r, "table": tname, "status": "measured"})
        if m.qualitative and not measured_any:
            rows.append({"mechanism": m.name, "proxy": "", "unit": "", "notebook": QUAL_NOTEBOOK,
                         "table": "", "status": "qualitative", "note": m.evidence})
    out = pd.DataFrame(rows)
    for c in HEADLINE_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[HEADLINE_COLUMNS]
    out["sector"] = out["sector"].astype("object").where(out["sector"].notna(), "")
    return out.reset_index(drop=True)
