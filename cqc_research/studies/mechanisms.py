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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..metrics.intervals import proportion_ci
from ..provenance import BANNER_TEXT
from ..ratings import RATINGS
from ..templating import render

__all__ = ["TABLES", "MECHANISMS", "headline_figures"]

#: The tables notebook 06 saves: name -> columns, after the ``data_status`` column every saved
#: table starts with.
TABLES: dict[str, tuple[str, ...]] = {
    "mechanism_sources": ("notebook", "what", "in this run"),
    "mechanisms": ("mechanism", "label", "definition", "qualitative", "routine_data", "proxy",
                   "unit", "functions", "notebook", "tables", "caveat", "evidence"),
    "mechanism_headlines": ("mechanism", "proxy", "short", "sector", "estimate", "ci_low",
                            "ci_high", "n", "unit", "notebook", "table", "status", "note"),
}

#: Columns of :func:`headline_figures`.
HEADLINE_COLUMNS = ["mechanism", "proxy", "short", "sector", "estimate", "ci_low", "ci_high", "n", "unit",
                    "notebook", "table", "status", "note"]

QUAL_NOTEBOOK = "07_mixed_methods"
_SECTOR_ORDER = {s: i for i, s in enumerate(["NHS hospitals", "GP practices", "Adult social care", "Other"])}
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
        return _share_moving_up(t[(t["domain"] == domain) & t["from_rating"].isin(from_ratings)], note)
    return extract


def _share_moving_up(pairs: pd.DataFrame, note: str) -> pd.DataFrame:
    """From transition counts: by sector, the share of pairs whose next rating is better (Wilson CI)."""
    rank = {r: i for i, r in enumerate(RATINGS)}
    up = pairs["to_rating"].map(rank) > pairs["from_rating"].map(rank)
    g = (pairs.assign(k=pairs["n"].where(up, 0))
         .groupby("sector", observed=True)[["k", "n"]].sum().reset_index())
    g = g[g["n"] > 0]
    lo, hi = proportion_ci(g["k"], g["n"], method="wilson")
    return pd.DataFrame({"sector": g["sector"], "estimate": g["k"] / g["n"], "ci_low": lo,
                         "ci_high": hi, "n": g["n"], "note": note})


def _upward_share(domain: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Share of all consecutive inspections that moved up the scale, by sector (Wilson CI)."""
    def extract(t: pd.DataFrame) -> pd.DataFrame:
        _need(t, ["sector", "domain", "from_rating", "to_rating", "n"])
        return _share_moving_up(t[t["domain"] == domain],
                                f"share of consecutive {domain} ratings that moved up the scale "
                                "(all starting ratings); n = pairs")
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
    short : str
        A label of a few words for figures.
    """

    name: str
    unit: str
    functions: tuple[str, ...]
    notebook: str
    tables: tuple[str, ...] = ()
    headline: Callable[[pd.DataFrame], pd.DataFrame] | None = field(default=None, repr=False,
                                                                    compare=False)
    caveat: str = ""
    short: str = ""


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


def _coded_proxy(code: str) -> Proxy:
    """The interview proxy every mechanism shares: the share of cases coded with it (notebook 07)."""
    return Proxy(_CODED, "share of cases", QUAL_FUNCTIONS, QUAL_NOTEBOOK,
                 ("code_frequencies", "mechanism_frequencies"), _coded_share(code),
                 "Describes the interviewed cases only.", "coded in interviews")

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
                  "move the indicator; zero leads are not proof of no anticipation.",
                  "indicator in the months before (leads)"),
            _coded_proxy("anticipatory"),
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
                  "else changed; it is an upper bound on what enforcement achieved.",
                  "better at the next inspection after Inadequate"),
            Proxy("change in a monthly indicator in the months after a rating is published "
                  "(mean of event-study lags)", "percentage points", _EVENTS_FN,
                  "04_inspection_effects", ("event_study_contrasts",),
                  _event_contrast("lags", "publication"),
                  "Shared with the informational mechanism: the same lags follow both the "
                  "requirements and the publicity of a report.",
                  "indicator after publication (lags)"),
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
                  "better, not why it changed.", "Well-led better at the next inspection"),
            _coded_proxy("organisational"),
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
            _coded_proxy("relational"),
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
                  "publication points to the information, not the visit.",
                  "indicator after publication (lags)"),
            Proxy("the same, after the inspection visit (for comparison)", "percentage points",
                  _EVENTS_FN, "04_inspection_effects", ("event_study_contrasts",),
                  _event_contrast("lags", "inspection"),
                  "Publication follows the visit by two to four months, so the two windows overlap.",
                  "indicator after the visit (lags)"),
            _coded_proxy("informational"),
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
            _coded_proxy("stakeholder"),
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
            _coded_proxy("lateral"),
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
                  "systemic effect: there is no unregulated comparison.",
                  "ratings moving up the scale"),
            _coded_proxy("systemic"),
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
    mechanisms = []
    for _, g in t.groupby("mechanism", sort=False):
        first = g.iloc[0]
        mechanisms.append({"label": first["label"], "qualitative": bool(first["qualitative"]),
                           "definition": first["definition"], "evidence": first["evidence"],
                           "proxies": [(r.proxy, r.notebook) for r in g.itertuples() if r.proxy]})
    return str(render("fragments/mechanisms.html.j2", mechanisms=mechanisms))


def _read_table(path: Path) -> pd.DataFrame:
    """A saved table without its ``data_status`` stamp; ``attrs["synthetic"]`` keeps the stamp."""
    t = pd.read_csv(path)
    synthetic = "data_status" in t.columns and bool((t["data_status"] == BANNER_TEXT).any())
    t = t.drop(columns=["data_status"], errors="ignore")
    t.attrs["synthetic"] = synthetic
    return t


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

        ``attrs["synthetic"]`` is True when any table read carries the "SYNTHETIC DATA" stamp
        (so a report built from the result shows the banner; provenance, not a result).
        :func:`tables_read` lists the tables the figures come from (the ``table`` column).
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
            base = {"mechanism": m.name, "proxy": p.name, "short": p.short or p.name, "unit": p.unit,
                    "notebook": p.notebook}
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
            h = h.assign(_o=h["sector"].map(lambda x: _SECTOR_ORDER.get(str(x), len(_SECTOR_ORDER))))
            h = h.sort_values("_o", kind="stable").drop(columns="_o")
            for r in h.to_dict("records"):
                rows.append({**base, **r, "table": tname, "status": "measured"})
        if m.qualitative and not measured_any:
            rows.append({"mechanism": m.name, "proxy": "", "short": "", "unit": "", "notebook": QUAL_NOTEBOOK,
                         "table": "", "status": "qualitative", "note": m.evidence})
    out = pd.DataFrame(rows)
    for c in HEADLINE_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[HEADLINE_COLUMNS]
    out["sector"] = out["sector"].astype("object").where(out["sector"].notna(), "")
    out = out.reset_index(drop=True)
    found = {k: v for k, v in cache.items() if v is not None}
    out.attrs["synthetic"] = any(v.attrs.get("synthetic") for v in found.values())
    return out


#: The statuses of :func:`headline_figures` rows whose table was found and read.
_READ = ("measured", "no estimate", "unreadable")


#: The notebooks whose tables give the measured mechanisms, and what each measures.
SOURCE_NOTEBOOKS = {"03_improvement_journeys": "improvement journeys (rating transitions)",
                    "04_inspection_effects": "inspection effects (event study)",
                    "07_mixed_methods": "coded interviews"}


def mechanism_sources(headlines: pd.DataFrame) -> pd.DataFrame:
    """Whether each source notebook ran in this run (any of its headline figures measured).

    Parameters
    ----------
    headlines : DataFrame
        :func:`headline_figures` output.

    Returns
    -------
    DataFrame
        ``notebook, what, in this run`` (``"yes"`` or ``"not run"``), one row per notebook of
        :data:`SOURCE_NOTEBOOKS`.

    Examples
    --------
    >>> h = pd.DataFrame({"notebook": ["03_improvement_journeys", "04_inspection_effects"],
    ...                   "status": ["measured", "not run"]})
    >>> mechanism_sources(h)["in this run"].tolist()
    ['yes', 'not run', 'not run']
    """
    ran = headlines.groupby("notebook")["status"].apply(lambda s: (s == "measured").any())
    return pd.DataFrame({"notebook": list(SOURCE_NOTEBOOKS), "what": list(SOURCE_NOTEBOOKS.values()),
                         "in this run": [("yes" if ran.get(nb, False) else "not run")
                                         for nb in SOURCE_NOTEBOOKS]})


def sources_note(status: pd.DataFrame, headlines: pd.DataFrame) -> str:
    """Markdown: each source notebook, whether it ran, and the tables read.

    Parameters
    ----------
    status : DataFrame
        :func:`mechanism_sources` output.
    headlines : DataFrame
        :func:`headline_figures` output.

    Returns
    -------
    str
    """
    return ("\n".join(f"- `{r.notebook}` ({r.what}): **{r._3}**" for r in status.itertuples())
            + f"\n\nTables read: {', '.join(f'`{t}.csv`' for t in tables_read(headlines)) or 'none'}.")


def tables_read(headlines: pd.DataFrame) -> list[str]:
    """The run's tables that :func:`headline_figures` read, from its ``table`` and ``status`` columns.

    Parameters
    ----------
    headlines : pandas.DataFrame
        The output of :func:`headline_figures` (or that table read back).

    Returns
    -------
    list of str
        Table names (``tables/<name>.csv``), sorted; empty when no notebook's table was found.

    Examples
    --------
    >>> h = pd.DataFrame({"table": ["transitions", "event_study_contrasts", ""],
    ...                   "status": ["measured", "not run", "qualitative"]})
    >>> tables_read(h)
    ['transitions']
    """
    read = headlines.loc[headlines["status"].isin(_READ), "table"]
    return sorted({str(t) for t in read if isinstance(t, str) and t})


def format_estimate(estimate, ci_low, ci_high, unit: str) -> str:
    """One figure with its interval, in the unit's natural form.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        The estimate and its interval; a share as a proportion (0.85, not 85).
    unit : str
        The headline's unit: anything starting ``"share"`` prints as whole percentages,
        ``"percentage points"`` as signed ``pp``, anything else (odds ratios, months,
        correlations) as a signed number to two decimals.

    Returns
    -------
    str
        ``"estimate (low to high)"``, or ``""`` when the estimate is missing or not finite.

    Examples
    --------
    >>> format_estimate(0.853, 0.78, 0.905, "share")
    '85% (78% to 90%)'
    >>> format_estimate(1.648, 0.746, 2.551, "percentage points")
    '+1.65 pp (+0.75 to +2.55)'
    """
    if estimate is None or not np.isfinite(estimate):
        return ""
    if unit.startswith("share"):
        return f"{estimate:.0%} ({ci_low:.0%} to {ci_high:.0%})"
    suffix = " pp" if unit == "percentage points" else ""
    return f"{estimate:+.2f}{suffix} ({ci_low:+.2f} to {ci_high:+.2f})"


def headline_table(headlines: pd.DataFrame) -> pd.DataFrame:
    """The headline figures as a one-page table: one row per mechanism and proxy, one column per
    sector, each cell the estimate with its 95% interval (and ``n``).

    Rows that were not measured keep a single cell saying why (``not run: notebook 04``,
    ``qualitative: ...``).

    Parameters
    ----------
    headlines : pandas.DataFrame
        The output of :func:`headline_figures`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(mechanism, measure)`` (the mechanism's label and the proxy), with one text
        column per sector (NHS hospitals, GP practices, Adult social care, Other, then any
        others and ``All``); empty cells where a proxy was not measured in a sector. Empty when
        ``headlines`` is.
    """
    rows = []
    for (mech, proxy), g in headlines.groupby(["mechanism", "proxy"], sort=False):
        label = MECHANISMS[mech].label
        measured = g[g["status"] == "measured"]
        if len(measured):
            for r in measured.itertuples():
                n = f"; n={int(r.n):,}" if pd.notna(r.n) else ""
                rows.append({"mechanism": label, "measure": proxy, "sector": r.sector or "All",
                             "value": format_estimate(r.estimate, r.ci_low, r.ci_high, r.unit) + n})
        else:
            r = g.iloc[0]
            what = {"not run": f"not run (notebook {r.notebook[:2]})",
                    "qualitative": "qualitative evidence only"}.get(r.status, r.status)
            rows.append({"mechanism": label, "measure": proxy or "(no routine-data proxy)",
                         "sector": "All", "value": what})
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    order = [s for s in ["NHS hospitals", "GP practices", "Adult social care", "Other"] if s in set(t["sector"])]
    order += sorted(set(t["sector"]) - set(order) - {"All"}) + (["All"] if "All" in set(t["sector"]) else [])
    rows_order = pd.MultiIndex.from_frame(t[["mechanism", "measure"]].drop_duplicates())
    wide = (t.pivot_table(index=["mechanism", "measure"], columns="sector", values="value", aggfunc="first")
            .reindex(index=rows_order, columns=order).fillna(""))
    wide.columns.name = None
    return wide


def headline_plot(headlines: pd.DataFrame, *, title: str | None = None):
    """Dot-and-interval chart of the measured headline figures, one panel per unit.

    Each row is a mechanism's proxy; sectors sit side by side within the row, in colour.

    Parameters
    ----------
    headlines : DataFrame
        The output of :func:`headline_figures`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure or None
        None when nothing was measured.
    """
    m = headlines[headlines["status"] == "measured"].copy()
    if m.empty:
        return None
    palette = {"NHS hospitals": "#005eb8", "GP practices": "#00a499", "Adult social care": "#ae2573",
               "Other": "#768692"}
    grey = "#5f6b73"
    units = [u for u in ("percentage points", "share", "share of cases") if u in set(m["unit"])]
    units += sorted(set(m["unit"]) - set(units))
    n_rows = [m[m["unit"] == u][["mechanism", "proxy"]].drop_duplicates().shape[0] for u in units]
    heights = [0.55 * n + 0.9 for n in n_rows]
    fig, axes = plt.subplots(len(units), 1, figsize=(9, sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    seen = {}
    for ax, unit in zip(axes[:, 0], units, strict=True):
        d = m[m["unit"] == unit]
        keys = list(dict.fromkeys(zip(d["mechanism"], d["proxy"], strict=True)))
        for i, key in enumerate(keys):
            y = len(keys) - 1 - i
            rows = d[(d["mechanism"] == key[0]) & (d["proxy"] == key[1])]
            offsets = np.linspace(0.22, -0.22, len(rows)) if len(rows) > 1 else [0.0]
            for off, r in zip(offsets, rows.itertuples(), strict=True):
                colour = palette.get(r.sector, grey)
                ax.plot([r.ci_low, r.ci_high], [y + off, y + off], color=colour, lw=2)
                ax.plot(r.estimate, y + off, "o", color=colour, ms=5.5)
                seen.setdefault(r.sector or "all", colour)
        labels = [f"{MECHANISMS[k[0]].label}: {d.loc[d['proxy'] == k[1], 'short'].iloc[0]}" for k in keys]
        ax.set_yticks(range(len(keys))[::-1], labels, fontsize=9)
        ax.set_ylim(-0.6, len(keys) - 0.4)
        if unit.startswith("share"):
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
        else:
            ax.axvline(0, color="#231f20", lw=0.9)
        ax.set_xlabel({"share": "share of services (routine data)",
                       "share of cases": "share of interview cases coded (notebook 07)",
                       "percentage points": "change in the monthly indicator (percentage points)"}.get(unit, unit))
        ax.grid(axis="y", visible=False)
    handles = [Line2D([], [], color=c, marker="o", lw=2, label=s) for s, c in seen.items()]
    axes[0, 0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=len(handles),
                      frameon=False, fontsize=9)
    fig.suptitle(title or "Headline figure for each measured mechanism (95% intervals)", y=1.0,
                 fontweight="bold")
    fig.tight_layout()
    return fig


def _short(proxy: str, width: int = 60) -> str:
    return proxy if len(proxy) <= width else proxy[: width - 1].rsplit(" ", 1)[0] + "..."


def _verdict(r) -> str:
    if r.ci_low > 0:
        return "a rise"
    if r.ci_high < 0:
        return "a fall"
    return "no change distinguishable from zero"


def headline_sentences(headlines: pd.DataFrame) -> list[str]:
    """One plain-language Markdown line per mechanism, with the numbers read from ``headlines``.

    Parameters
    ----------
    headlines : DataFrame
        The output of :func:`headline_figures`.

    Returns
    -------
    list of str
        Markdown bullet lines in the framework's order. Mechanisms without a measured figure say
        which notebook to run or which evidence would measure them.
    """
    lines = []
    for name, m in MECHANISMS.items():
        g = headlines[headlines["mechanism"] == name]
        meas = g[g["status"] == "measured"]
        parts = []
        for proxy, p in meas.groupby("proxy", sort=False):
            unit = p["unit"].iloc[0]
            if unit == "share of cases":
                r = p.iloc[0]
                parts.append(f"coded in {r.estimate:.0%} of interview cases ({r.ci_low:.0%} to "
                             f"{r.ci_high:.0%}, n={int(r.n):,})" if pd.notna(r.n) else
                             f"coded in {r.estimate:.0%} of interview cases")
                continue
            by = "; ".join(f"{r.sector or 'all'} {format_estimate(r.estimate, r.ci_low, r.ci_high, unit)}"
                           + (f", n={int(r.n):,}" if pd.notna(r.n) else "") for r in p.itertuples())
            text = f"{proxy[0].upper()}{proxy[1:]}: {by}"
            if unit == "percentage points":
                text += f" ({', '.join(sorted({_verdict(r) for r in p.itertuples()}))})"
            parts.append(text)
        missing = g[g["status"].isin(["not run", "unreadable", "no estimate"])]
        gaps = sorted({f"notebook {r.notebook[:2]}" for r in missing.itertuples()
                       if r.proxy not in set(meas["proxy"])})
        head = f"- **{m.label}**" + (" (qualitative)" if m.qualitative else "")
        if m.qualitative:
            text = f"{head}: no routine data measure it"
            text += ("; in the interviews it was " + "; ".join(parts) + ".") if parts else f". {m.evidence}"
        elif parts:
            text = f"{head}: " + ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        else:
            text = f"{head}: not measured in this run."
        if gaps:
            text += f" ({', '.join(gaps)} did not run into this folder.)"
        lines.append(text)
    return lines
