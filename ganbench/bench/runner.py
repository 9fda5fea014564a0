"""`ganbench bench SUITE`: plan every run (validate all of it first), open the suite's MLflow
run, skip what finished before, run the rest as Ray tasks, then write the leaderboard from
what MLflow holds and log it to the suite run."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ganbench import config as C
from ganbench import tracking as trk
from ganbench.bench import mlflow_suite as ms
from ganbench.bench.driver_lease import Lease
from ganbench.bench.leaderboard import build
from ganbench.bench.plan import Plan, PlannedRun, cell_hash, make_plan, seeded
from ganbench.bench.report import write_report
from ganbench.bench.suite import Suite
from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.bench")


@dataclass(frozen=True)
class BenchOptions:
    overrides: tuple = ()  # --set key=value for every cell
    out: str = "runs"
    parallel: Optional[int] = None  # runs in flight at once; None: as Ray's resources allow
    gpus: Optional[float] = None  # replace the suite's resources.gpus (--gpu)
    cpus: Optional[float] = None  # replace the suite's resources.cpus
    dry_run: bool = False


def report_dir(out: str, suite: str) -> Path:
    return Path(out) / "bench" / suite


def _with_resources(suite: Suite, opts: BenchOptions) -> Suite:
    from dataclasses import replace

    r = suite.resources
    r = replace(r, gpus=r.gpus if opts.gpus is None else opts.gpus, cpus=r.cpus if opts.cpus is None else opts.cpus)
    return replace(suite, resources=r)


def _check_cluster(suite: Suite) -> None:
    """A run that asks for more than the whole cluster has would wait forever: refuse it."""
    import ray

    have = ray.cluster_resources()
    r = suite.resources
    need_cpu = r.cpus if r.workers == 1 else r.workers
    if r.gpus and have.get("GPU", 0) < r.gpus * (1 if r.workers == 1 else r.workers):
        raise ConfigError(f"each run asks for {r.gpus} GPU(s) per worker but the Ray cluster has "
                          f"{have.get('GPU', 0):g}; drop --gpu / resources.gpus to run on CPU")
    if have.get("CPU", 0) < need_cpu:
        raise ConfigError(f"each run asks for {need_cpu:g} CPU(s) but the Ray cluster has {have.get('CPU', 0):g}; "
                          f"lower resources.cpus (or --cpus)")


def _warm(plan: Plan) -> None:
    """Resolve each distinct evaluation once, here (a classifier backbone is trained and
    cached now), not in every task at once; an impossible protocol fails before any run."""
    from ganbench.train import resolve_eval

    seen = set()
    for cfg in [r.cfg for r in plan.runs] + [c for _, c, _ in plan.searches]:
        key = (cfg.data, cfg.eval)
        if key not in seen:
            seen.add(key)
            resolve_eval(cfg, plan.suite.resources.gpus > 0)


def _requests(plan: Plan, runs: list[PlannedRun], parent: trk.TrackingHandle):
    from ganbench.ray_runs import RunRequest

    r, s = plan.suite.resources, plan.scoring
    for p in runs:
        tags = {"mlflow.parentRunId": parent.run_id, "ganbench.suite": plan.suite.name, "ganbench.cell": p.cell,
                "ganbench.seed": p.seed, "ganbench.cell_hash": p.cell_hash, "ganbench.protocol": s.protocol_hash,
                "ganbench.metric": s.metric}
        yield RunRequest(cfg_yaml=C.to_yaml(p.cfg), key=p.key, workers=r.workers, cpus=r.cpus, gpus=r.gpus,
                         out=plan.out, tags=tags)


def run_suite(suite: Suite, opts: BenchOptions = BenchOptions()) -> dict:
    from ganbench.bench.search import check_search, search_hash
    from ganbench.ray_runs import ensure_ray, run_many

    t0 = time.perf_counter()
    suite = _with_resources(suite, opts)
    if opts.parallel is not None and opts.parallel < 1:
        raise ConfigError(f"--parallel must be >= 1, got {opts.parallel}")
    try:
        plan = make_plan(suite, opts.overrides, opts.out)
        for cell, _, _ in plan.searches:
            check_search(cell)
    except ConfigError as e:
        raise ConfigError(f"{suite.source}: {e}" if suite.source else str(e)) from None
    hashes = {p.cell: p.cell_hash for p in plan.runs}
    hashes.update({cell.name: search_hash(cfg, cell) for cell, cfg, _ in plan.searches})
    if opts.dry_run:
        return {"suite": suite.name, "dry_run": True, "metric": plan.scoring.metric, "cells": list(hashes),
                "runs": len(plan.runs), "searches": len(plan.searches), "tracking_uri": plan.tracking_uri}
    _warm(plan)
    ensure_ray()
    _check_cluster(suite)
    parent = ms.suite_parent(plan.tracking_uri, suite.experiment, suite.name, {
        "ganbench.metric": plan.scoring.metric, "ganbench.protocol": plan.scoring.protocol_hash,
        "ganbench.cell_hashes": json.dumps(hashes), "ganbench.target": "" if suite.target is None else suite.target.value,
        "ganbench.cells": ",".join(hashes)})
    status = "FAILED"
    lease = Lease(trk.client(parent.tracking_uri), parent.run_id).claim()
    try:
        existing = ms.children(parent)
        ms.fail_stale(parent, existing)
        done = {(r.data.tags.get("ganbench.cell"), r.data.tags.get("ganbench.seed"), r.data.tags.get("ganbench.cell_hash"))
                for r in existing if r.info.status == "FINISHED"}
        todo = [p for p in plan.runs if (p.cell, str(p.seed), p.cell_hash) not in done]
        skipped = len(plan.runs) - len(todo)
        for cell, cfg, applied in plan.searches:
            from ganbench.bench.search import run_search

            try:
                best = run_search(suite, cell, cfg, applied, parent, plan.out, opts.parallel,
                                  report_dir(plan.out, suite.name))
            except Exception as e:  # a failed search is that cell's failure; the others go on
                log.warning("cell %s: search failed: %s", cell.name, e)
                continue
            h = hashes[cell.name]
            seeds = tuple(range(cell.search.seeds)) if cell.search.seeds else suite.seeds
            new = [PlannedRun(cell.name, s, seeded(best, suite, cell.name, s), h) for s in seeds]
            todo += [p for p in new if (p.cell, str(p.seed), h) not in done]
            skipped += sum((p.cell, str(p.seed), h) in done for p in new)
        log.info("suite %s: %d run(s) to do, %d finished earlier", suite.name, len(todo), skipped)
        outcomes = run_many(list(_requests(plan, todo, parent)), opts.parallel,
                            on_done=lambda o: log.info("%s seed %s: %s", o.key[0], o.key[1],
                                                       "finished" if o.ok else f"FAILED ({o.error})"))
        files = publish(parent, suite.name, plan.scoring.metric, hashes, report_dir(plan.out, suite.name),
                        target=suite.target.value if suite.target else None, cells=list(hashes),
                        title=f"Suite {suite.name}", also=suite.also)
        status = "FINISHED"
    finally:
        lease.release()
        trk.finish_run(parent, status)
    failed = [o for o in outcomes if not o.ok]
    return {"suite": suite.name, "parent_run_id": parent.run_id, "tracking_uri": plan.tracking_uri,
            "metric": plan.scoring.metric, "ran": len(outcomes), "failed": len(failed), "skipped": skipped,
            "errors": {f"{o.key[0]}/s{o.key[1]}": o.error for o in failed},
            "report": str(report_dir(plan.out, suite.name) / "leaderboard.html"),
            "files": [str(f) for f in files], "wall_s": round(time.perf_counter() - t0, 1)}


def publish(parent: trk.TrackingHandle, name: str, metric: Optional[str], hashes: Optional[dict], folder: Path,
            target: Optional[float] = None, cells=(), title: str = "", also=()) -> list[Path]:
    """Records from MLflow -> leaderboard files in `folder`, also logged to the parent run.
    `also`: metrics shown beside the ranking one (protocol.also), recorded on the parent run
    so that `ganbench compare` of the suite shows them too."""
    ms.record_also(parent, also)
    records, searches = ms.collect(parent, metric=metric, hashes=hashes, also=also)
    lb = build(records, title or name, cells=cells, metric=metric, target=target, searches=searches)
    client = trk.client(parent.tracking_uri)
    files = write_report(lb, folder, client)
    sink = trk.MlflowSink(parent)
    sink.log_artifact(folder, "leaderboard")
    summary = {f"rank_{r.cell}": r.rank for r in lb.rows if r.rank is not None}
    summary.update({f"mean_{r.cell}": r.interval.mean for r in lb.rows if r.n_ok})
    if summary:
        sink.log_metrics(summary, step=0)
    return files


__all__ = ["BenchOptions", "run_suite", "publish", "report_dir", "cell_hash"]
