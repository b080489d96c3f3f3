"""Profiles: one report per local area or per provider (``notebooks/profiles/``).

The area and provider profiles (``notebooks/profiles/``) share their data-sources table; the rest
are the tables, figures and sentences each profile shows, kept here so the notebooks hold only
their parameters, calls and story.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..dataset import PARAMETERS, Study
from ..io.cqc_files import ratings_wide
from ..metrics.areas import dtoc_rates
from ..metrics.funnel import funnel_limits
from ..metrics.overview import rating_mix
from ..metrics.spc import spc_assurance, spc_rules
from ..metrics.transitions import consecutive_pairs
from ..plots import rating_distribution, rating_palette
from ..plots.funnel import funnel_plot
from ..plots.spc import spc_chart
from ..ratings import DOMAINS, RATINGS

#: What a researcher calls; the other public names are the profile notebooks' steps (tables,
#: figures and sentences), called as ``pf.<name>`` from ``notebooks/profiles/``.
__all__ = ["TABLES", "area_sources", "provider_sources"]

_WEAK = ["Inadequate", "Requires improvement"]
_FUNNEL = ("numerator", "denominator", "value", "n", "target", "z", "z_adj", "lower_95", "upper_95", "lower_998",
           "upper_998", "outside_95", "outside_998", "flag", "kind", "transform", "method", "phi", "tau2",
           "overdispersion", "adjusted", "winsorise", "n_units", "overdispersion_p", "multiplier",
           "rate_target", "trim", "exact", "adjust_if", "round_expected")

#: The tables the area profile saves: name -> its columns (after the report's ``data_status``).
AREA_TABLES: dict[str, tuple[str, ...]] = {
    "area_summary": ("local_authority", "sector", "n_rated", "n_good", "share_good", "ci_low", "ci_high",
                     "n_not_rated", "n_inadequate", "care_homes_with_beds", "care_home_beds", "beds_good",
                     "share_beds_good", "beds_ci_low", "beds_ci_high", "region", "region_share_good",
                     "england_share_good", "diff_vs_england", "vs_england", "deregistered_dropped"),
    "ratings_vs_region_england": ("sector", "where", "n_rated", "share_good", "ci_low", "ci_high"),
    "dtoc_rate": ("org_code", "local_authority", "period_start", "period_end", "months", "months_missing",
                  "dtoc_days", "population_65plus", "population_year", "dtoc_per_100k", "ci_low", "ci_high",
                  "days_per_day_per_100k"),
    "inadequate_or_requires_improvement": ("location_name", "provider_name", "sector", "rating",
                                           "publication_date"),
}
#: The tables the provider profile saves.
PROVIDER_TABLES: dict[str, tuple[str, ...]] = {
    "locations": ("org_id", "location_name", "local_authority", *DOMAINS, "publication_date"),
    "overall_ratings_by_year": ("year", *RATINGS),
    "ratings_by_domain": ("domain", "rating", "n", "count", "share", "ci_low", "ci_high", "n_not_rated"),
    "peer_funnel_position": ("provider_id", *_FUNNEL),
    "indicator_funnel_position": ("org_code", *_FUNNEL),
    "spc": ("time", "value", "segment", "mean", "lcl", "ucl", "lower_2sigma", "upper_2sigma", "outside", "trend",
            "two_of_three", "shift", "special_cause", "rule", "side", "variation", "improvement", "target",
            "short_series"),
    "rating_transitions": ("from_rating", "to_rating", "pairs"),
}
#: Every table of the two profiles (each profile runs in its own folder).
TABLES: dict[str, tuple[str, ...]] = {**AREA_TABLES, **PROVIDER_TABLES}


def profile_study(**parameters: str) -> tuple[Study, list[str]]:
    """The :class:`~cqc_research.dataset.Study` a profile's path parameters describe, and the
    paths it resolved, in the order given (``""`` for an input it lacks).

    With no path given (and none declared in the study's ``cqc-research.toml``) every input comes
    from the embedded synthetic dataset; ``"none"`` (any case) leaves an input out. A batch
    passes its pre-loaded Parquet files, which the study reads as they are.

    Parameters
    ----------
    **parameters : str
        The notebook's path parameters by their names (``ratings_path``, ``api_path``,
        ``ae_path``, ``dtoc_path``, ``population_path``, ``la_codes_path``).

    Returns
    -------
    study : Study
    paths : list of str

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ods = pathlib.Path(tempfile.mkdtemp(), "ratings.ods"); _ = ods.write_bytes(b"")
    >>> study, paths = profile_study(ratings_path=str(ods), api_path="none")
    >>> paths == [str(ods), ""]
    True
    """
    study = Study.from_parameters(**parameters)
    return study, [str(study.path(PARAMETERS[name]) or "") for name in parameters]


# -- the data-sources table (both profiles) -------------------------------------------------
def latest_date(frame, column: str) -> str:
    """The latest date in ``frame[column]`` as "1 March 2024", or "unknown".

    Parameters
    ----------
    frame : DataFrame or None
    column : str

    Returns
    -------
    str

    Examples
    --------
    >>> latest_date(pd.DataFrame({"d": ["2024-03-01", "2023-01-05"]}), "d")
    '01 March 2024'
    """
    if frame is None or column not in frame or frame[column].dropna().empty:
        return "unknown"
    return f"{pd.to_datetime(frame[column]).max():%d %B %Y}"


def source_file(frame, fallback) -> str:
    """The name of the file a table was read from (batch's Parquet copies remember it).

    Parameters
    ----------
    frame : DataFrame or None
        Its ``attrs["source"]`` (a path or a list of paths) wins over ``fallback``.
    fallback : str
        The path given to the notebook.

    Returns
    -------
    str
        The last path component; for a list of files, their folder's name.

    Examples
    --------
    >>> source_file(None, "/data/cqc/latest.ods")
    'latest.ods'
    """
    src = getattr(frame, "attrs", {}).get("source") or fallback
    src = src[0].rsplit("/", 1)[0] if isinstance(src, list) else src
    return str(src).rstrip("/").rsplit("/", 1)[-1]


def _row(source, file, latest):
    return {"source": source, "file": file, "latest publication in it": latest}


def area_sources(ratings, ratings_path, dtoc=None, dtoc_path="", population=None,
                 population_path="") -> pd.DataFrame:
    """The area profile's data sources: file and latest publication of each input.

    Parameters
    ----------
    ratings, dtoc, population : DataFrame (dtoc and population optional)
    ratings_path, dtoc_path, population_path : str
        The paths given to the notebook.

    Returns
    -------
    DataFrame
        Columns ``source``, ``file``, ``latest publication in it``.
    """
    rows = [_row("CQC Latest ratings", source_file(ratings, ratings_path), latest_date(ratings, "publication_date"))]
    if dtoc is not None:
        rows += [_row("Delayed transfers of care", source_file(dtoc, dtoc_path), latest_date(dtoc, "period_end")),
                 _row("Population aged 65+", source_file(population, population_path), "annual estimate")]
    return pd.DataFrame(rows)


def provider_sources(ratings, ratings_path, api=None, api_path="", ind=None, indicators_path="") -> pd.DataFrame:
    """The provider profile's data sources: file and latest publication of each input.

    Parameters
    ----------
    ratings : DataFrame
    api : object with ``history`` and ``source``, optional
        The CQC API records (:attr:`cqc_research.dataset.Study.api`).
    ind : DataFrame, optional
        The monthly indicators.
    ratings_path, api_path, indicators_path : str

    Returns
    -------
    DataFrame
        Columns ``source``, ``file``, ``latest publication in it``.
    """
    rows = [_row("CQC Latest ratings", source_file(ratings, ratings_path), latest_date(ratings, "publication_date"))]
    if api is not None:
        rows.append(_row("CQC API rating histories", source_file(None, api.source or api_path),
                         latest_date(api.history, "report_date")))
    if ind is not None:
        rows.append(_row("NHS England A&E monthly", source_file(ind, indicators_path), latest_date(ind, "period_end")))
    return pd.DataFrame(rows)


# -- the area profile -----------------------------------------------------------------------
def area_context(ratings: pd.DataFrame, local_authority: str = "", *, path: str = ""):
    """The area's locations and region.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings (``local_authority``, ``level``, ``region``).
    local_authority : str
        Empty: the first in alphabetical order.
    path : str
        For the error message.

    Returns
    -------
    tuple
        ``(local_authority, here, region)``: the area's location rows and its modal region (None
        when unknown).

    Raises
    ------
    ValueError
        When the local authority is not in the ratings.
    """
    areas = ratings["local_authority"].dropna().astype(str)
    local_authority = local_authority or sorted(areas.unique())[0]
    if local_authority not in set(areas):
        raise ValueError(f"local authority {local_authority!r} is not in {path}")
    here = ratings[(ratings["local_authority"].astype(str) == local_authority) & (ratings["level"] == "location")]
    region = str(here["region"].mode().iloc[0]) if here["region"].notna().any() else None
    return local_authority, here, region


def area_comparison(by_area: pd.DataFrame, by_region: pd.DataFrame, local_authority: str, name: str,
                    region) -> pd.DataFrame:
    """The area's share rated Good or better by sector, with its region's and England's.

    Parameters
    ----------
    by_area, by_region : DataFrame
        :func:`cqc_research.metrics.areas.area_summary` by local authority and by region.
    local_authority : str
    name : str
        The area's label in the ``where`` column.
    region : str or None

    Returns
    -------
    DataFrame
        Columns ``sector``, ``where``, ``n_rated``, ``share_good``, ``ci_low``, ``ci_high``; three
        rows a sector (area, region when known, England).
    """
    mine = by_area[by_area["local_authority"].astype(str) == local_authority]
    cols = ["n_rated", "share_good", "ci_low", "ci_high"]
    rows = []
    for _, r in mine.iterrows():
        rows.append({"sector": r["sector"], "where": name, **{c: r[c] for c in cols}})
        reg = by_region[(by_region["region"].astype(str) == str(region)) & (by_region["sector"] == r["sector"])]
        if len(reg):
            rows.append({"sector": r["sector"], "where": f"{region} (region)", **{c: reg.iloc[0][c] for c in cols}})
        rows.append({"sector": r["sector"], "where": "England", "n_rated": None,
                     "share_good": r["england_share_good"], "ci_low": None, "ci_high": None})
    return pd.DataFrame(rows, columns=["sector", "where", *cols])


def area_comparison_plot(compare: pd.DataFrame, name: str, region):
    """Dot-and-interval chart of :func:`area_comparison`, one row a sector.

    Parameters
    ----------
    compare : DataFrame
    name : str
    region : str or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    sectors = list(dict.fromkeys(compare["sector"].astype(str)))
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.75 * len(sectors)))
    marks = {name: ("o", "#1d1d1d"), f"{region} (region)": ("s", "#7a7a7a"), "England": ("|", "#c8102e")}
    for i, sec in enumerate(sectors):
        sub = compare[compare["sector"].astype(str) == sec]
        for j, (_, r) in enumerate(sub.iterrows()):
            y = i + (j - 1) * 0.22
            marker, colour = marks.get(r["where"], ("o", "#555"))
            if pd.notna(r["ci_low"]):
                ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=2, alpha=0.6)
            ax.plot(r["share_good"], y, marker=marker, color=colour, ms=9 if marker == "|" else 6,
                    ls="none", label=r["where"] if i == 0 else None)
    ax.set_yticks(range(len(sectors)), sectors)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set(xlabel="share rated Good or Outstanding (95% CI)", title=f"{name}: ratings against {region} and England")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.3 / max(len(sectors), 1)), ncol=3)
    return fig


def area_share_lines(mine: pd.DataFrame) -> str:
    """One markdown bullet a sector: the area's share Good or better against England.

    Parameters
    ----------
    mine : DataFrame
        The area's rows of :func:`cqc_research.metrics.areas.area_summary`.

    Returns
    -------
    str
    """
    return "".join(f"- **{r['sector']}**: {r['share_good']:.0%} of {int(r['n_rated'])} rated Good or better "
                   f"(95% CI {r['ci_low']:.0%} to {r['ci_high']:.0%}); England {r['england_share_good']:.0%}, "
                   f"{r['vs_england']}.\n" for _, r in mine.iterrows())


def dtoc_position(dtoc, population, local_authority: str, *, la_codes=None):
    """Delayed transfers per 100,000 aged 65+ for every area, the funnel, and this area's row.

    Parameters
    ----------
    dtoc, population : DataFrame
        As :func:`cqc_research.metrics.areas.dtoc_rates` takes them.
    local_authority : str
    la_codes : DataFrame, optional

    Returns
    -------
    tuple
        ``(rates, me, funnel, total)``: every area's rate (``local_authority`` column), this
        area's rows, :func:`~cqc_research.metrics.funnel.funnel_limits` of the rates (kind
        ``rate``, per 100,000) and the pooled rate over all areas.
    """
    rates = dtoc_rates(dtoc, population=population, la_codes=la_codes).rename(columns={"org_name": "local_authority"})
    total = rates["dtoc_days"].sum() / rates["population_65plus"].sum() * 100_000
    me = rates[rates["local_authority"].astype(str) == local_authority]
    funnel = funnel_limits(rates.dropna(subset=["dtoc_days", "population_65plus"]), numerator="dtoc_days",
                           denominator="population_65plus", unit="local_authority", kind="rate", multiplier=100_000)
    return rates, me, funnel, total


def area_dtoc_sentence(rates, me, funnel, total, local_authority: str, name: str) -> str:
    """The area's delayed-transfer rate against all areas and its funnel verdict.

    Parameters
    ----------
    rates, me, funnel, total
        From :func:`dtoc_position`.
    local_authority, name : str

    Returns
    -------
    str
    """
    if not len(me):
        return f"No delayed-transfer figures matched {name}."
    period = (rates["period_start"].min(), rates["period_end"].max()) if {"period_start", "period_end"} <= set(rates) \
        else ("?", "?")
    r = me.iloc[0]
    flag = funnel.set_index("local_authority")["flag"].get(local_authority, "not placed")
    return (f"{str(period[0])[:7]} to {str(period[1])[:7]}: {r['dtoc_per_100k']:,.0f} delayed days per "
            f"100,000 aged 65+ (95% CI {r['ci_low']:,.0f} to {r['ci_high']:,.0f}) against "
            f"{total:,.0f} across all areas: **{flag}** the overdispersion-adjusted 95% limits.")


def _overall(rows):
    return rows[(rows["service_group"] == "Overall") & (rows["domain"] == "Overall")]


def weak_services(here: pd.DataFrame) -> pd.DataFrame:
    """Locations whose current overall rating is Inadequate or Requires improvement.

    Parameters
    ----------
    here : DataFrame
        Long location ratings.

    Returns
    -------
    DataFrame
        ``location_name``, ``provider_name``, ``sector``, ``rating``, ``publication_date`` (as
        "01 Mar 2024"), worst first then oldest first.
    """
    current = _overall(here)
    current = current[current["rating"].isin(_WEAK)]
    weak = (current[["location_name", "provider_name", "sector", "rating", "publication_date"]]
            .sort_values(["rating", "publication_date"]).reset_index(drop=True))
    weak["publication_date"] = weak["publication_date"].dt.strftime("%d %b %Y")
    return weak


def weak_sentence(weak: pd.DataFrame, here: pd.DataFrame) -> str:
    """How many of the area's rated locations are weak, and how many Inadequate.

    Parameters
    ----------
    weak : DataFrame
        From :func:`weak_services`.
    here : DataFrame
        The area's long location ratings.

    Returns
    -------
    str
    """
    rated = _overall(here)
    rated = rated[rated["rating"].notna()]
    return (f"{len(weak)} of {rated['org_id'].nunique()} rated locations "
            f"({(weak['rating'] == 'Inadequate').sum()} Inadequate).")


# -- the provider profile -------------------------------------------------------------------
@dataclass
class ProviderRows:
    """A provider's rows of the ratings file (made by :func:`provider_rows`).

    Attributes
    ----------
    provider_id : str
    name : str
    mine : DataFrame
        Every row of the provider.
    locations : DataFrame
        Its locations' rows for the Overall service group.
    own : DataFrame
        Its own (provider-level) rows for the Overall service group.
    sector : str
        The modal sector of its locations.
    """

    provider_id: str
    name: str
    mine: pd.DataFrame
    locations: pd.DataFrame
    own: pd.DataFrame
    sector: str

    @property
    def is_trust(self) -> bool:
        """Whether the provider is an NHS trust (sector "NHS hospitals")."""
        return self.sector == "NHS hospitals"

    @property
    def published(self):
        """The publication date of the current rating (the provider's own, else its locations')."""
        rows = self.own if len(self.own) else self.locations
        published = rows["publication_date"].max()
        return published if pd.notna(published) else None

    def own_rating(self):
        """The provider's own rating by domain, captioned with its publication date (a Styler).

        Returns
        -------
        pandas.io.formats.style.Styler
        """
        table = self.own.set_index("domain")[["rating", "rating_status"]].T
        return table.style.set_caption(f"Provider rating, published {self.own['publication_date'].max():%d %B %Y}")

    def locations_wide(self) -> pd.DataFrame:
        """One row a location: its domain ratings and publication date.

        Returns
        -------
        DataFrame
            Empty without locations.
        """
        if not len(self.locations):
            return pd.DataFrame()

        wide = ratings_wide(self.mine, level="location")
        return wide[[c for c in ["org_id", "location_name", "local_authority", "Overall", "Safe", "Effective",
                                 "Caring", "Responsive", "Well-led", "publication_date"] if c in wide]]

    def subtitle(self) -> str:
        """The report's subtitle.

        Returns
        -------
        str
            Id, sector, number of locations and of local authorities.
        """
        n_la = self.locations["local_authority"].nunique()
        return (f"CQC provider {self.provider_id} · {self.sector} · {self.locations['org_id'].nunique()} locations "
                f"in {n_la} local {'authority' if n_la == 1 else 'authorities'}")


def provider_rows(ratings: pd.DataFrame, provider_id: str = "", entity_name: str = "", *,
                  path: str = "") -> ProviderRows:
    """A provider's ratings; with no id, the first NHS trust (else the first provider).

    Parameters
    ----------
    ratings : DataFrame
        Long ratings.
    provider_id, entity_name : str
        Empty: chosen, or named from the data.
    path : str
        For the error message.

    Returns
    -------
    ProviderRows

    Raises
    ------
    ValueError
        When the provider is not in the ratings.
    """
    if not provider_id:
        trusts = ratings[(ratings["level"] == "provider") & (ratings["sector"] == "NHS hospitals")]
        provider_id = str((trusts if len(trusts) else ratings)["provider_id"].dropna().sort_values().iloc[0])
    mine = ratings[ratings["provider_id"] == provider_id]
    if mine.empty:
        raise ValueError(f"provider {provider_id!r} is not in {path}")
    loc = mine[(mine["level"] == "location") & (mine["service_group"] == "Overall")]
    own = mine[(mine["level"] == "provider") & (mine["service_group"] == "Overall")]
    sector = str(loc["sector"].mode().iloc[0]) if len(loc) else str(mine["sector"].mode().iloc[0])
    return ProviderRows(provider_id, entity_name or str(mine["provider_name"].dropna().iloc[0]), mine, loc, own, sector)


def provider_history(api, provider_id: str):
    """The overall location ratings of a provider in the CQC API histories (None without them).

    Parameters
    ----------
    api : object with ``history``, or None
    provider_id : str

    Returns
    -------
    DataFrame or None
    """
    if api is None:
        return None
    h = api.history
    return h[(h["provider_id"] == provider_id) & (h["domain"] == "Overall") & (h["level"] == "location")]


def ratings_by_year(hist: pd.DataFrame) -> pd.DataFrame:
    """Counts of published overall ratings by year (rows) and rating (columns).

    Parameters
    ----------
    hist : DataFrame
        ``report_date`` and ``rating`` columns.

    Returns
    -------
    DataFrame
        Indexed by ``year``; one integer column per rating category.
    """
    rated = hist.dropna(subset=["rating"])
    return (rated.assign(year=rated["report_date"].dt.year)
            .groupby(["year", "rating"], observed=False).size().unstack("rating").fillna(0).astype(int))


def ratings_by_year_plot(by_year: pd.DataFrame, name: str):
    """Stacked bars of :func:`ratings_by_year` in the rating colours.

    Parameters
    ----------
    by_year : DataFrame
    name : str

    Returns
    -------
    matplotlib.figure.Figure
    """

    palette = rating_palette()
    ax = by_year.plot(kind="bar", stacked=True, figsize=(8, 3.5), width=0.85,
                      color=[palette[str(c)] for c in by_year.columns])
    ax.set(title=f"{name}: overall ratings published each year", xlabel="year published", ylabel="location ratings")
    ax.legend(title=None, frameon=False, bbox_to_anchor=(1, 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    return ax.figure


def history_sentence(hist: pd.DataFrame) -> str:
    """How many reports on how many locations, over which months.

    Parameters
    ----------
    hist : DataFrame

    Returns
    -------
    str
        A note when there is no history.
    """
    if hist is None or not hist["rating"].notna().any():
        return "No rating history for this provider (no API folder given, or no records)."
    return (f"{hist['report_link_id'].nunique()} inspection reports on {hist['org_id'].nunique()} "
            f"locations, {hist['report_date'].min():%B %Y} to {hist['report_date'].max():%B %Y}.")


def peer_shares(ratings: pd.DataFrame, sector: str) -> pd.DataFrame:
    """Rated locations and those rated Good or better, per provider in a sector.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings.
    sector : str

    Returns
    -------
    DataFrame
        ``provider_id``, ``n_rated``, ``n_good``.
    """
    o = ratings[(ratings["level"] == "location") & (ratings["service_group"] == "Overall")
                & (ratings["domain"] == "Overall") & (ratings["sector"] == sector) & ratings["rating"].notna()]
    return (o.assign(good=o["rating"] >= "Good").groupby("provider_id", observed=True)
            .agg(n_rated=("org_id", "nunique"), n_good=("good", "sum")).reset_index())


def peer_sentence(funnel: pd.DataFrame, provider_id: str) -> str:
    """The provider's share Good or better against its sector, and its funnel verdict.

    Parameters
    ----------
    funnel : DataFrame
        :func:`~cqc_research.metrics.funnel.funnel_limits` by ``provider_id``.
    provider_id : str

    Returns
    -------
    str
        A note when there is no funnel (None).
    """
    if funnel is None:
        return ("Fewer than three providers with rated locations in this sector, or none for this "
                "provider: no funnel plot.")
    me = funnel.set_index("provider_id").loc[provider_id]
    return (f"{int(me['n'])} rated locations, {me['value']:.0%} Good or Outstanding against "
            f"{funnel['target'].iloc[0]:.0%} for {len(funnel)} providers in the sector: "
            f"**{me['flag']}** the 95% limits.")


def indicator_series(ind, provider_id: str, indicator: str, *, min_months: int = 12):
    """The provider's monthly series of one measure (None with fewer than ``min_months``).

    Parameters
    ----------
    ind : DataFrame or None
        Tidy monthly indicators (``org_code``, ``measure``, ``period_start``, ``value``).
    provider_id, indicator : str
    min_months : int

    Returns
    -------
    DataFrame or None
    """
    if ind is None:
        return None
    s = ind[(ind["org_code"] == provider_id) & (ind["measure"] == indicator)].sort_values("period_start")
    return s if len(s) >= min_months else None


def peer_funnel(ratings: pd.DataFrame, provider_id: str, sector: str):
    """Funnel limits of the share Good or better over the sector's providers (None with fewer than 3).

    Parameters
    ----------
    ratings : DataFrame
    provider_id, sector : str

    Returns
    -------
    DataFrame or None
        :func:`~cqc_research.metrics.funnel.funnel_limits` by ``provider_id``; None with fewer
        than three providers or none for this one.
    """
    peers = peer_shares(ratings, sector)
    if len(peers) < 3 or provider_id not in set(peers["provider_id"]):
        return None
    return funnel_limits(peers, numerator="n_good", denominator="n_rated", unit="provider_id")


def indicator_funnel(ind: pd.DataFrame, provider_id: str, indicator: str):
    """Funnel limits over trusts of the latest twelve months of a measure (None with fewer than 3).

    Parameters
    ----------
    ind : DataFrame
    provider_id, indicator : str

    Returns
    -------
    DataFrame or None
        :func:`~cqc_research.metrics.funnel.funnel_limits` by ``org_code`` of :func:`indicator_year`.
    """
    year = indicator_year(ind, indicator)
    if len(year) < 3 or provider_id not in set(year["org_code"]):
        return None
    return funnel_limits(year, numerator="numerator", denominator="denominator", unit="org_code")


def journey_pairs(hist, api):
    """Consecutive overall ratings of the provider's locations (None without a history).

    Parameters
    ----------
    hist : DataFrame or None
        From :func:`provider_history`.
    api : object with ``relationships``

    Returns
    -------
    DataFrame or None
        :func:`~cqc_research.metrics.transitions.consecutive_pairs` output.
    """
    if hist is None or not len(hist):
        return None

    return consecutive_pairs(hist, domain="Overall", relationships=api.relationships)


def indicator_year(ind: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """Each organisation's numerator and denominator summed over the latest twelve months.

    Parameters
    ----------
    ind : DataFrame
    indicator : str

    Returns
    -------
    DataFrame
        ``org_code``, ``numerator``, ``denominator`` (organisations with a missing sum dropped).
    """
    last = ind[(ind["measure"] == indicator)
               & (ind["period_start"] > ind["period_start"].max() - pd.DateOffset(months=12))]
    return (last.groupby("org_code").agg(numerator=("numerator", "sum"), denominator=("denominator", "sum"))
            .reset_index().dropna())


def profile_spc(series: pd.DataFrame, published, indicator: str) -> pd.DataFrame:
    """The XmR rules of a provider's series, rebased at the published rating when it falls inside.

    The 4-hour A&E measure (``ae_4hr_performance_all``) is read against its 95% standard as a
    target (see :func:`~cqc_research.metrics.spc.spc_assurance`).

    Parameters
    ----------
    series : DataFrame or None
        ``period_start`` and ``value``.
    published : Timestamp or NaT
    indicator : str

    Returns
    -------
    DataFrame or None
        :func:`~cqc_research.metrics.spc.spc_rules` output; None without a series.
    """
    if series is None:
        return None
    inside = pd.notna(published) and series["period_start"].min() < published <= series["period_start"].max()
    return spc_rules(series, value="value", time="period_start", improvement="up",
                     rebase=published if inside else None,
                     target=95.0 if indicator == "ae_4hr_performance_all" else None)


_VERDICTS = {"consistently pass": "will consistently meet it", "consistently fail": "will consistently miss it",
             "inconsistent": "will sometimes meet it and sometimes miss it"}


def spc_sentence(rules: pd.DataFrame) -> str:
    """Months, special-cause months, and the assurance verdict against the 95% standard.

    Parameters
    ----------
    rules : DataFrame
        From :func:`profile_spc`.

    Returns
    -------
    str
        A note when there are no rules (None).
    """
    if rules is None:
        return "No monthly series for this provider."
    flagged = rules[rules["variation"] != "common cause"] if "variation" in rules else rules.iloc[0:0]
    verdict = _VERDICTS.get(spc_assurance(rules))
    return (f"{len(rules)} months; {len(flagged)} show special-cause variation."
            + (f" Against the 95% standard, the latest process {verdict}." if verdict else ""))


def transition_steps(pairs: pd.DataFrame) -> pd.DataFrame:
    """Counts of consecutive-rating pairs by from and to rating.

    Parameters
    ----------
    pairs : DataFrame
        :func:`~cqc_research.metrics.transitions.consecutive_pairs` output.

    Returns
    -------
    DataFrame
        ``from_rating``, ``to_rating``, ``pairs``.
    """
    return pairs.groupby(["from_rating", "to_rating"], observed=True).size().rename("pairs").reset_index()


def journey_sentence(pairs: pd.DataFrame) -> str:
    """Improved, same and declined pairs, and how often a weak rating was followed by a better one.

    Parameters
    ----------
    pairs : DataFrame
        With ``change``, ``from_rating`` and ``months``.

    Returns
    -------
    str
        A note when there are no pairs (empty) or no history (None).
    """
    if pairs is None:
        return "No rating history: give `api_path`."
    if not len(pairs):
        return "Each location has been inspected once: no journey yet."
    low = pairs[pairs["from_rating"] <= "Requires improvement"]
    improved = int((low["change"] == "improved").sum())
    n = {c: int((pairs["change"] == c).sum()) for c in ("improved", "same", "declined")}
    return (f"{len(pairs)} pairs of consecutive inspections: {n['improved']} improved, "
            f"{n['same']} stayed the same, {n['declined']} declined. "
            + (f"Of {len(low)} ratings of Requires improvement or Inadequate, {improved} were followed by a better "
               f"one (median {low['months'].median():.0f} months later)." if len(low) else ""))


def current_concerns(wide: pd.DataFrame) -> pd.DataFrame:
    """Locations currently rated Requires improvement or Inadequate overall (from a wide table).

    Parameters
    ----------
    wide : DataFrame
        :func:`~cqc_research.io.cqc_files.ratings_wide` output (may be empty).

    Returns
    -------
    DataFrame
        ``location_name``, ``local_authority``, ``Overall``, ``publication_date`` (formatted).
    """
    if not len(wide):
        return wide
    cur = wide[wide["Overall"].isin(_WEAK)]
    return (cur[[c for c in ["location_name", "local_authority", "Overall", "publication_date"] if c in cur]]
            .assign(publication_date=lambda d: d["publication_date"].dt.strftime("%d %b %Y")))


def domain_mix(pr: ProviderRows):
    """The provider's location ratings by domain: the table and the chart.

    Parameters
    ----------
    pr : ProviderRows

    Returns
    -------
    tuple
        ``(table, figure)``: :func:`~cqc_research.metrics.overview.rating_mix` by domain and
        :func:`~cqc_research.plots.rating_distribution`.
    """

    return (rating_mix(pr.locations, by="domain"),
            rating_distribution(pr.locations, by="domain", title=f"{pr.name}: location ratings by domain"))


def worst_first(wide: pd.DataFrame, n: int = 30) -> pd.DataFrame:
    """The first ``n`` locations, worst overall rating first, dates as "01 Mar 2024".

    Parameters
    ----------
    wide : DataFrame
        From :meth:`ProviderRows.locations_wide`.
    n : int

    Returns
    -------
    DataFrame
    """
    return wide.sort_values("Overall").head(n).assign(
        publication_date=lambda d: d["publication_date"].dt.strftime("%d %b %Y"))


def peer_funnel_plot(funnel: pd.DataFrame, provider_id: str, sector: str):
    """Funnel plot of :func:`peer_funnel` with the provider marked.

    Parameters
    ----------
    funnel : DataFrame
    provider_id, sector : str

    Returns
    -------
    matplotlib.figure.Figure
    """

    return funnel_plot(funnel, highlight=[provider_id], label_outliers=False, xlabel="rated locations",
                       ylabel="share Good or Outstanding",
                       title=f"{sector}: providers' share of locations rated Good or better")


def indicator_funnel_plot(funnel: pd.DataFrame, provider_id: str, indicator: str):
    """Funnel plot of :func:`indicator_funnel` with the trust marked.

    Parameters
    ----------
    funnel : DataFrame
    provider_id, indicator : str

    Returns
    -------
    matplotlib.figure.Figure
    """

    return funnel_plot(funnel, highlight=[provider_id], label_outliers=False, xlabel="attendances (last 12 months)",
                       ylabel="seen within 4 hours", title=f"{indicator}: trusts over the last 12 months")


def series_note(series) -> str:
    """A note when there is no monthly series (empty string otherwise).

    Parameters
    ----------
    series : DataFrame or None
        From :func:`indicator_series`.

    Returns
    -------
    str
    """
    return "Monthly indicators apply to NHS trusts with at least a year of data: none here." if series is None else ""


def profile_spc_chart(rules: pd.DataFrame, pr: ProviderRows, indicator: str):
    """The XmR chart of :func:`profile_spc`, the publication of the current rating dashed.

    Parameters
    ----------
    rules : DataFrame
    pr : ProviderRows
    indicator : str

    Returns
    -------
    matplotlib.figure.Figure
    """

    return spc_chart(rules, event_date=pr.published, event_label="rating published",
                     title=f"{pr.name}: {indicator}", ylabel="% within 4 hours")


def provider_transitions(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs of consecutive ratings as a from-by-to count matrix.

    Parameters
    ----------
    pairs : DataFrame

    Returns
    -------
    DataFrame
        Rows ``from_rating``, columns ``to_rating``, integer counts.
    """
    steps = transition_steps(pairs)
    return steps.pivot(index="from_rating", columns="to_rating", values="pairs").fillna(0).astype(int)


def concerns_sentence(current: pd.DataFrame) -> str:
    """The heading of :func:`current_concerns` (empty string when there are none).

    Parameters
    ----------
    current : DataFrame

    Returns
    -------
    str
    """
    if not len(current):
        return ""
    return f"**{len(current)} locations are currently rated Requires improvement or Inadequate:**"
