"""One report per provider, location or local authority: ``cqc-research batch``.

``cqc-research batch NOTEBOOK --for-each {provider,location,local_authority}`` runs the notebook
once per matching entity into ``outputs/<run-id>/<entity-slug>/`` (``report.html`` without
code, ``report.ipynb``, ``tables/``, ``figures/``, and ``done.json`` written last), then writes a
searchable ``index.html`` and ``batch.json``.

How it stays fast, safe and resumable:

- **Data loaded once.** The ratings (and, when the notebook asks for them, the CQC API tables) are
  loaded once per batch and written as Parquet to ``<run>/cache/``; each notebook receives the
  Parquet path as its parameter (``ratings_path``, ``api_path``) and reads it through a
  :class:`~cqc_research.dataset.Study`, which reads Parquet as it is and keeps each table in
  memory for the kernel's next report.
- **Warm kernels.** Each worker process keeps one kernel and runs report after report on it
  (papermill's engine against a long-lived kernel). Before each report the kernel is reset
  (``%reset -f``, figures closed, matplotlib and warnings settings restored, working folder
  restored), so a report cannot see its predecessor's variables. The notebook's imports are run
  once when the kernel starts. Kernels are recycled every ``--recycle`` reports.
- **No port collisions.** Kernels talk over ZeroMQ ``ipc`` sockets in private folders, never TCP
  ports (see :class:`cqc_research.runner.kernels.KernelSession`), and a failed start is retried.
- **Fault isolation.** A failing notebook is recorded with its error's last line and the batch
  goes on. A worker process that dies is replaced and its entity tried once more. The exit status
  is the number of failed entities (capped at 125; 0 when all succeeded).
- **Resumable.** Re-running the same command uses the same run folder and skips every entity
  whose ``done.json`` says ok, whose fingerprint (notebook SHA-256, parameters, input data
  SHA-256) is unchanged, and whose files are all present with their recorded sizes. Reports are
  written to temporary names and renamed; ``done.json`` is written last and removed before an
  entity is (re-)run, so an interrupted run never leaves a half-written report that looks done.
- **Safe names.** Slugs are ASCII, lower case, with a short hash of the entity's id, and every
  write path is checked to resolve inside the run folder.
- **Beyond one machine.** ``--executor dask --scheduler ADDRESS`` sends the same tasks to a Dask
  distributed scheduler; each Dask worker keeps its own warm kernel. The run folder and the data
  must be on a file system every worker sees at the same path.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from .. import paths
from ..cache import atomic_path, atomic_write_text, sha256_file
from ..dataset import Study
from ..io.cqc_json import API_TABLES
from ..provenance import SYNTHETIC_MARKER, is_synthetic
from ..study import study_data
from ..synthetic import ensure_default_data
from .executors import LocalPool, run_dask
from .html import write_index
from .manifest import environment_info, hash_inputs
from .notebooks import find_notebooks, notebook_parameters, resolve_parameters
from .tasks import (
    DONE,
    FOR_EACH,
    NAME_PARAMETER,
    BatchError,
    BatchResult,
    BatchSpec,
    EntityTask,
    fingerprint,
    is_complete,
    safe_join,
    slugify,
    warmup_code,
)


# ---------------------------------------------------------------------------------------------
# Entities
def _group_mode(frame, key: str, column: str):
    """The most common non-missing value of ``column`` per ``key`` (ties: the first in sort order)."""
    sub = frame[[key, column]].dropna()
    sub = sub.assign(**{column: sub[column].astype(str)})
    counts = sub.groupby([key, column], observed=True, sort=False).size().rename("n").reset_index()
    counts = counts.sort_values(["n", column], ascending=[False, True], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[column]


def entity_table(ratings, for_each: str):
    """The entities of a ratings table, one row each.

    Parameters
    ----------
    ratings : DataFrame
        The long ratings table (``io.cqc_files.load_latest_ratings``).
    for_each : {"provider", "location", "local_authority"}

    Returns
    -------
    DataFrame
        Sorted by ``id``. Always ``id`` and ``name``, plus for providers ``sector`` (the most
        common among its locations), ``region``, ``local_authority``, ``n_locations`` and
        ``overall`` (the provider's own overall rating, if rated); for locations
        ``provider_id``, ``provider_name``, ``sector``, ``inspection_category``,
        ``local_authority``, ``region``, ``care_home``, ``overall``; for local authorities
        ``region``, ``n_locations``, ``n_providers``. ``--where`` queries these columns.
    """
    import pandas as pd

    if for_each not in FOR_EACH:
        raise BatchError(f"--for-each must be one of {', '.join(FOR_EACH)}, not {for_each!r}")
    locs = ratings[ratings["level"].astype(str) == "location"]
    overall = ratings[(ratings["service_group"].astype(str) == "Overall")
                      & (ratings["domain"].astype(str) == "Overall")]
    if for_each == "location":
        cols = ["location_id", "location_name", "provider_id", "provider_name", "sector",
                "inspection_category", "local_authority", "region", "care_home"]
        base = locs.drop_duplicates("location_id")[cols]
        rating = overall[overall["level"].astype(str) == "location"].drop_duplicates("org_id")
        out = base.merge(rating[["org_id", "rating"]].rename(columns={"org_id": "location_id",
                                                                      "rating": "overall"}),
                         on="location_id", how="left")
        out = out.rename(columns={"location_id": "id", "location_name": "name"})
    elif for_each == "provider":
        g = locs.groupby("provider_id", observed=True, sort=True)
        out = pd.DataFrame({"n_locations": g["location_id"].nunique()})
        for col, src in (("name", "provider_name"), ("sector", "sector"), ("region", "region"),
                         ("local_authority", "local_authority")):
            out[col] = _group_mode(locs, "provider_id", src).reindex(out.index)
        out = out[["name", "sector", "region", "local_authority", "n_locations"]]
        provs = ratings[ratings["level"].astype(str) == "provider"]
        extra = provs[~provs["provider_id"].isin(out.index)].drop_duplicates("provider_id")
        for _, row in extra.iterrows():
            out.loc[row["provider_id"]] = [row["provider_name"], row["sector"], row["region"],
                                           row["local_authority"], 0]
        rating = overall[overall["level"].astype(str) == "provider"].drop_duplicates("org_id")
        out["overall"] = rating.set_index("org_id")["rating"].reindex(out.index)
        out = out.rename_axis("id").reset_index()
    else:
        la = locs.dropna(subset=["local_authority"])
        g = la.groupby(la["local_authority"].astype(str), sort=True)
        out = pd.DataFrame({"n_locations": g["location_id"].nunique(),
                            "n_providers": g["provider_id"].nunique()})
        la = la.assign(local_authority=la["local_authority"].astype(str))
        out.insert(0, "region", _group_mode(la, "local_authority", "region").reindex(out.index))
        out = out.rename_axis("id").reset_index()
        out.insert(1, "name", out["id"])
    out["id"] = out["id"].astype(str)
    out["name"] = out["name"].fillna(out["id"]).astype(str)
    for c in ("sector", "region", "local_authority", "inspection_category"):
        if c in out:
            out[c] = out[c].astype("string")
    return out.sort_values("id", kind="stable").reset_index(drop=True)


def select_entities(table, *, where: str | None = None, limit: int | None = None):
    """Filter the entity table with a pandas ``query`` expression and keep the first ``limit``.

    Parameters
    ----------
    table : pandas.DataFrame
        The entity table (:func:`entity_table`).
    where : str, optional
        A :meth:`pandas.DataFrame.query` expression, e.g. ``"sector == 'NHS hospitals'"``.
    limit : int, optional
        Keep only the first ``limit`` rows (0 or more) after filtering.

    Returns
    -------
    pandas.DataFrame
        The selected rows, same columns, index reset.

    Raises
    ------
    BatchError
        For an expression pandas cannot evaluate, naming the columns that can be used.
    """
    out = table
    if where:
        try:
            out = table.query(where, engine="python")
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BatchError(f"--where {where!r}: {first} (columns: {', '.join(table.columns)})") from None
    if limit is not None:
        if limit < 0:
            raise BatchError("--limit must be 0 or more")
        out = out.head(limit)
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Data: loaded once per batch, read by the notebooks (once per kernel)


#: Notebook parameters that batch loads once and hands over as Parquet: name -> (the
#: :class:`~cqc_research.dataset.Study` input it is: given, else declared in the study's
#: ``cqc-research.toml``, else the embedded synthetic file; the stem of its Parquet file).
PRELOAD = {
    "ratings_path": ("ratings", "ratings"),
    "api_path": ("api", "api"),
    "indicators_path": ("indicators.ae", "indicators"),
    "dtoc_path": ("indicators.dtoc", "dtoc"),
    "population_path": ("population", "population"),
    "la_codes_path": ("la_codes", "la_codes"),
}

def _json_attrs(frame):
    """A shallow copy whose ``attrs`` survive Parquet (JSON-safe values only)."""
    out = frame.copy(deep=False)
    out.attrs = json.loads(json.dumps(frame.attrs, default=str))
    return out


def _source_digest(p: Path) -> str:
    info = hash_inputs([p])[str(p.resolve())]
    return info.get("sha256") or info["sha256_tree"]


def _prepare_inputs(sources: Mapping[str, Path], cache_root: Path | None, synthetic: bool):
    """Load each input once; write it as Parquet into the run's cache.

    Parameters
    ----------
    sources : mapping
        Notebook parameter (a key of :data:`PRELOAD`) -> raw file or folder; must include
        ``ratings_path`` (the entities come from it).
    cache_root : path or None
        ``<run>/cache``; ``None`` (a dry run) writes nothing and keeps the raw paths.

    Returns
    -------
    (ratings DataFrame, {parameter: path for the notebook}, {parameter: SHA-256 of the source})
    """
    digests = {name: _source_digest(src) for name, src in sources.items()}
    study = Study(embedded=False, **{PRELOAD[name][0].removeprefix("indicators."): src
                                     for name, src in sources.items()})
    ratings = study.ratings
    params = {name: str(src) for name, src in sources.items()}
    if cache_root is None:
        return ratings, params, digests
    cache = cache_root / ("synthetic" if synthetic else "real")
    cache.mkdir(parents=True, exist_ok=True)
    if synthetic:
        marker = cache / SYNTHETIC_MARKER
        if not marker.exists():
            marker.write_text("Tables converted from a synthetic dataset.\n")
    for name, src in sources.items():
        key, kind = PRELOAD[name]
        stem = f"{kind}-{digests[name][:16]}"
        if key == "api":
            folder = cache / stem
            if not (folder / "meta.json").exists():
                api = study.api
                folder.mkdir(parents=True, exist_ok=True)
                for table in API_TABLES:
                    with atomic_path(folder / f"{table}.parquet") as tmp:
                        _json_attrs(getattr(api, table)).to_parquet(tmp, index=False)
                meta = {"source": str(src), "synthetic": bool(api.synthetic), "files": api.files}
                with atomic_path(folder / "meta.json") as tmp:
                    tmp.write_text(json.dumps(meta))
            params[name] = str(folder)
            continue
        if src.suffix == ".parquet":
            continue  # already Parquet: read in place
        target = cache / f"{stem}.parquet"
        if not target.exists():
            frame = ratings if name == "ratings_path" else study.table(key)
            with atomic_path(target) as tmp:
                _json_attrs(frame).to_parquet(tmp, index=False)
        params[name] = str(target)
    return ratings, params, digests


# ---------------------------------------------------------------------------------------------
# Planning and running a batch
def default_run_id(notebook: Path, for_each: str, parameters: Mapping) -> str:
    """The run id a batch uses when none is given; deterministic, so the same command resumes.

    Built from the notebook's path, ``--for-each`` and the ``-p`` parameters (not ``--where`` or
    ``--limit``, so widening a selection resumes too).

    Parameters
    ----------
    notebook : pathlib.Path
        The notebook run per entity.
    for_each : str
        ``"provider"``, ``"location"`` or ``"local_authority"``.
    parameters : mapping
        The notebook parameters, input paths included.

    Returns
    -------
    str
        ``<notebook stem>-<for_each>-<6 hex digits>``.
    """
    payload = json.dumps({"notebook": str(notebook.resolve()), "for_each": for_each,
                          "parameters": dict(parameters)}, sort_keys=True, default=str)
    return f"{notebook.stem}-{for_each}-{hashlib.sha256(payload.encode()).hexdigest()[:6]}"


def plan_batch(notebook, for_each: str, *, where: str | None = None, limit: int | None = None,
               parameters: Mapping | None = None, output_root=None, run_id: str | None = None,
               kernel_name: str = "python3", timeout: float | None = None, recycle: int = 200,
               dry_run: bool = False, progress: bool = False):
    """Work out what a batch would do: its spec, its tasks, and which are already complete.

    Nothing runs; input files are pre-loaded into the run's cache unless ``dry_run``.

    Parameters
    ----------
    notebook : path
        The notebook to run per entity; it must declare the entity parameter.
    for_each : {"provider", "location", "local_authority"}
        What an entity is.
    where : str, optional
        A pandas ``query`` over the entity table (:func:`select_entities`).
    limit : int, optional
        Only the first ``limit`` entities.
    parameters : mapping, optional
        Further notebook parameters (``-p``); ``output_dir`` and the entity parameter are
        reserved.
    output_root : path, optional
        Parent of the run folder; default :func:`cqc_research.paths.outputs_root`.
    run_id : str, optional
        The run folder's name; default :func:`default_run_id`.
    kernel_name : str
        The Jupyter kernel.
    timeout : float, optional
        Seconds per cell.
    recycle : int
        Restart a worker's kernel after this many reports.
    dry_run : bool
        Write nothing (no input cache).
    progress : bool
        Say on standard error when the default synthetic data are written.

    Returns
    -------
    spec : BatchSpec
        What every worker needs.
    tasks : list of EntityTask
        One per selected entity.
    status : list of (EntityTask, bool)
        Each task with whether its report is already complete.
    entities : pandas.DataFrame
        The selected rows of the entity table.

    Raises
    ------
    BatchError
        An unknown ``for_each``, a notebook without the entity parameter, a reserved ``-p``, or
        a bad ``where``.
    """
    nb = find_notebooks([notebook])[0]
    spec_params = notebook_parameters(nb)
    entity_param = FOR_EACH.get(for_each)
    if entity_param is None:
        raise BatchError(f"--for-each must be one of {', '.join(FOR_EACH)}, not {for_each!r}")
    if entity_param not in spec_params:
        raise BatchError(f"{nb.name} has no parameter {entity_param!r}, which --for-each "
                         f"{for_each} sets (it declares: {', '.join(spec_params) or 'none'})")
    user = resolve_parameters({nb: spec_params}, parameters)[nb]
    for reserved in (entity_param, "output_dir"):
        if reserved in user:
            raise BatchError(f"-p {reserved} is set by batch itself")

    wanted = ["ratings_path", *[p for p in PRELOAD if p in spec_params and p != "ratings_path"]]
    given = {name: str(user.get(name) or "") for name in wanted}
    for name, value in given.items():
        if value and value.strip().lower() != "none":  # "none": the notebook skips this input
            src = Path(value).expanduser().resolve()
            if not src.exists():
                raise FileNotFoundError(f"-p {name}: {src} does not exist")
    # given, else the study's cqc-research.toml, else the embedded synthetic file; with real
    # ratings given, no synthetic input is mixed in (the notebook decides)
    if progress and not given["ratings_path"] and not study_data():
        ensure_default_data(quiet=False)  # say so when the embedded data are written
    study = Study(embedded=None if given["ratings_path"] else True,
                  **{PRELOAD[name][0].removeprefix("indicators."): value or None
                     for name, value in given.items()})
    sources = {name: p.expanduser().resolve() for name in wanted
               if (p := study.path(PRELOAD[name][0])) is not None}
    synthetic = is_synthetic(*sources.values())

    stable_params = {k: v for k, v in user.items() if k not in sources}
    run_id = run_id or default_run_id(nb, for_each, {**stable_params,
                                                     **{k: str(v) for k, v in sources.items()}})
    root = Path(output_root).expanduser().resolve() if output_root else paths.outputs_root()
    run_dir = root / run_id
    ratings, data_params, digests = _prepare_inputs(
        sources, None if dry_run else run_dir / "cache", synthetic)
    entities = select_entities(entity_table(ratings, for_each), where=where, limit=limit)

    notebook_sha = sha256_file(nb)
    base = dict(stable_params)
    base.update({k: v for k, v in data_params.items() if k in spec_params})
    spec = BatchSpec(notebook=str(nb), run_dir=str(run_dir), kernel_name=kernel_name,
                     timeout=timeout, synthetic=synthetic, recycle=max(1, int(recycle)),
                     warmup=warmup_code(nb))
    tasks, status = [], []
    slugs: set[str] = set()
    for row in entities.itertuples(index=False):
        key, name = str(row.id), str(row.name)
        slug = slugify(name, key)
        if slug in slugs:  # two ids hashing alike in 8 hex digits: lengthen
            slug = slugify(name, key + "#") + "-" + hashlib.sha256(key.encode()).hexdigest()[8:16]
        slugs.add(slug)
        safe_join(run_dir, slug)
        params = {**base, entity_param: key}
        if NAME_PARAMETER in spec_params:
            params[NAME_PARAMETER] = name
        fp_params = {**stable_params, entity_param: key}
        if NAME_PARAMETER in spec_params:
            fp_params[NAME_PARAMETER] = name
        fp = fingerprint(notebook_sha, fp_params, digests, kernel_name)
        task = EntityTask(key=key, name=name, slug=slug, parameters=params, fingerprint=fp)
        tasks.append(task)
        status.append((task, is_complete(run_dir / slug, fp)))
    return spec, tasks, status, entities


def run_batch(notebook, for_each: str, *, where: str | None = None, limit: int | None = None,
              parameters: Mapping | None = None, workers: int = 1, output_root=None,
              run_id: str | None = None, executor: str = "local", scheduler: str | None = None,
              kernel_name: str = "python3", timeout: float | None = None, recycle: int = 200,
              retries: int = 1, force: bool = False, progress: bool = True,
              dry_run: bool = False) -> BatchResult:
    """Run ``notebook`` once per entity.

    Parameters
    ----------
    notebook : path
        Declares the entity parameter (``provider_id``, ``location_id`` or ``local_authority``)
        and usually ``output_dir``, ``ratings_path`` and ``entity_name``.
    for_each : {"provider", "location", "local_authority"}
    where : str, optional
        A pandas ``query`` over the entity table (see :func:`entity_table`), e.g.
        ``"sector == 'NHS hospitals'"``.
    limit : int, optional
        Only the first ``limit`` entities (sorted by id).
    parameters : mapping, optional
        Further notebook parameters (``-p``), parsed as for ``cqc-research run``.
    workers : int
        Worker processes (local executor), each with one warm kernel.
    output_root, run_id :
        The run folder is ``<output_root>/<run_id>``; the default run id is derived from the
        command (:func:`default_run_id`) so re-running resumes.
    executor : {"local", "dask"}
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``) for ``executor="dask"``.
    kernel_name : str
    timeout : float, optional
        Seconds per cell.
    recycle : int
        Restart a worker's kernel after this many reports.
    retries : int
        Extra attempts for an entity whose worker died (kernel start-up failures are retried
        inside the worker as well).
    force : bool
        Re-run complete entities too.
    progress : bool
        Progress bar (rate and ETA) on standard error.
    dry_run : bool
        Only list what would run; write nothing.

    Returns
    -------
    BatchResult
        ``exit_status`` is the number of failed entities, capped at 125.
    """
    from tqdm.auto import tqdm

    t_all = time.perf_counter()
    if executor not in ("local", "dask"):
        raise BatchError(f"--executor must be 'local' or 'dask', not {executor!r}")
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    spec, tasks, status, entities = plan_batch(
        notebook, for_each, where=where, limit=limit, parameters=parameters,
        output_root=output_root, run_id=run_id, kernel_name=kernel_name, timeout=timeout,
        recycle=recycle, dry_run=dry_run, progress=progress)
    run_dir = Path(spec.run_dir)
    todo = [t for t, complete in status if force or not complete]
    done_keys = {t.key for t, complete in status if complete and not force}
    rows: dict[str, dict] = {}
    for t, _ in status:
        if t.key in done_keys:
            info = json.loads((run_dir / t.slug / DONE).read_text())
            rows[t.key] = {"key": t.key, "name": t.name, "slug": t.slug, "status": "skipped",
                           "error": None, "duration_s": info.get("duration_s"),
                           "note": f"unchanged since {info.get('finished', '?')}"}
        else:
            rows[t.key] = {"key": t.key, "name": t.name, "slug": t.slug, "status": "pending",
                           "error": None, "duration_s": None}
    if dry_run:
        return BatchResult(run_id=run_dir.name, run_dir=run_dir,
                           entities=[{**rows[t.key], "status": "would run" if t in todo else "skipped"}
                                     for t, _ in status],
                           index_path=None, manifest_path=None,
                           stats={"entities": len(status), "to_run": len(todo)})
    run_dir.mkdir(parents=True, exist_ok=True)
    if progress and done_keys:
        print(f"skipping {len(done_keys)} entities whose reports are complete and unchanged",
              file=sys.stderr)
    bar = tqdm(total=len(todo), unit="report", desc=f"batch {run_dir.name}", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    n_failed = 0

    def on_result(res: dict) -> None:
        nonlocal n_failed
        rows[res["key"]] = {**rows.get(res["key"], {}), **res}
        bar.update(1)
        if res["status"] == "failed":
            n_failed += 1
            bar.write(f"FAILED {res['name']}: {res['error']}", file=sys.stderr)
        bar.set_postfix(failed=n_failed, refresh=False)

    timings: dict = {}
    interrupted = False
    try:
        if todo:
            if executor == "local":
                pool = LocalPool(spec, min(workers, len(todo)))
                try:
                    pool.run(todo, on_result, retries=retries)
                    timings = pool.timings()
                finally:
                    pool.close()
            else:
                run_dask(spec, todo, on_result, scheduler, retries)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.close()
        seconds = time.perf_counter() - t_all
        result = _finish(spec, status, rows, entities, for_each, seconds, timings,
                         interrupted=interrupted, executor=executor, workers=workers)
    return result


def _finish(spec: BatchSpec, status, rows: dict, entities, for_each: str, seconds: float,
            timings: dict, *, interrupted: bool, executor: str, workers: int) -> BatchResult:
    run_dir = Path(spec.run_dir)
    ordered = [rows[t.key] for t, _ in status]
    for r in ordered:
        if r["status"] == "pending":
            r["status"] = "interrupted" if interrupted else "pending"
    extra = [c for c in entities.columns if c not in ("id", "name")][:4]
    by_key = {str(k): v for k, v in zip(entities["id"], entities.to_dict("records"), strict=True)}
    index_rows = []
    for r in ordered:
        ok = r["status"] in ("ok", "skipped")
        rec = by_key.get(r["key"], {})
        cells = [r["name"], r["key"], *["" if rec.get(c) is None or str(rec.get(c)) in ("nan", "<NA>")
                                        else str(rec.get(c)) for c in extra]]
        links = [("report", f"{r['slug']}/report.html"), ("notebook", f"{r['slug']}/report.ipynb")] \
            if ok or (run_dir / r["slug"] / "report.html").exists() else []
        index_rows.append({"cells": cells, "href": f"{r['slug']}/report.html" if links else None,
                           "status": r["status"], "duration": r.get("duration_s"),
                           "error": r.get("error"), "note": r.get("note"), "links": links})
    n = len(ordered)
    counts = {s: sum(r["status"] == s for r in ordered) for s in
              ("ok", "skipped", "failed", "interrupted", "pending")}
    subtitle = (f"{Path(spec.notebook).name} for each {for_each.replace('_', ' ')}: {n} entities "
                f"({counts['ok']} made, {counts['skipped']} unchanged, {counts['failed']} failed) in "
                f"{seconds:.0f} s, finished {_dt.datetime.now():%d %B %Y %H:%M}.")
    index = write_index(run_dir, index_rows, title=f"{Path(spec.notebook).stem.replace('_', ' ')}: "
                        f"one report per {for_each.replace('_', ' ')}", subtitle=subtitle,
                        synthetic=spec.synthetic, headers=["name", "id", *extra], noun="entities",
                        footer_links=[("batch.json", "batch.json")])
    ran = [r for r in ordered if r["status"] in ("ok", "failed") and r.get("duration_s")]
    stats = {"entities": n, **counts, "seconds": round(seconds, 2),
             "mean_report_seconds": round(sum(r["duration_s"] for r in ran) / len(ran), 3) if ran else None,
             "worker_timings": {k: round(v, 3) for k, v in timings.items()}}
    manifest = {"run_id": run_dir.name, "notebook": spec.notebook, "for_each": for_each,
                "executor": executor, "workers": workers, "synthetic": spec.synthetic,
                "interrupted": interrupted, "stats": stats, "entities": ordered,
                "environment": environment_info()}
    manifest_path = run_dir / "batch.json"
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
    return BatchResult(run_id=run_dir.name, run_dir=run_dir, entities=ordered, index_path=index,
                       manifest_path=manifest_path, seconds=seconds, stats=stats)
