"""`ganbench compare ID ...`: the bench report from runs that already exist in MLflow.

An ID is a suite's parent run (its cells and seeds), a study's parent run (one cell of all
its finished trials, with the best-score-against-budget curve), or any training run (a cell
of its own, or its `ganbench.cell` tag's cell). The same refusal applies: runs scored by
different metrics or protocols are not ranked together. `also` (--also) adds metrics shown
beside the ranking one, not ranked; a suite's parent run brings its own protocol.also.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ganbench import tracking as trk
from ganbench.bench import mlflow_suite as ms
from ganbench.bench.leaderboard import build
from ganbench.bench.records import record_from_run
from ganbench.bench.report import write_report
from ganbench.errors import ConfigError


def compare(ids: list[str], out: str, metric: Optional[str] = None, target: Optional[float] = None,
            tracking_uri: Optional[str] = None, also: Optional[Sequence[str]] = None) -> dict:
    """`also`: metric names (base or full, see suite.Protocol); None: a suite's own, else none."""
    if not ids:
        raise ConfigError("compare: give at least one MLflow run id (a run, a study's or a suite's parent run)")
    uri = trk.resolve_tracking_uri(tracking_uri)
    c = trk.client(uri)
    records, searches, cells, seen, names = [], {}, [], set(), []
    for run_id in ids:
        try:
            run = c.get_run(run_id)
        except Exception as e:
            raise ConfigError(f"compare: no MLflow run {run_id!r} at {uri} ({type(e).__name__})") from None
        kind = run.data.tags.get("ganbench.kind")
        names.append(run.data.tags.get("ganbench.suite") if kind == "suite" else None)
        handle = trk.TrackingHandle(uri, run_id)
        if kind == "suite":
            recs, srch = ms.collect(handle, metric=metric or run.data.tags.get("ganbench.metric"),
                                    also=ms.also_of(run) if also is None else also)
            searches.update(srch)
            if target is None and run.data.tags.get("ganbench.target"):
                target = float(run.data.tags["ganbench.target"])
        elif kind == "study":
            cell = f"study:{run.data.tags.get('optuna.study', run_id[:8])}"
            trials = [t for t in ms.children(handle) if t.info.status == "FINISHED"
                      and t.data.tags.get("ganbench.status") != "pruned"]
            recs = [record_from_run(c, t, cell=cell, metric=metric, also=also or ()) for t in trials]
            searches[cell] = [r.value for r in recs if r.ok]
        else:
            recs = [record_from_run(c, run, metric=metric, also=also or ())]
        for r in recs:
            if r.run_id not in seen:
                seen.add(r.run_id)
                records.append(r)
                cells.append(r.cell)
    title = (f"Suite {names[0]} (rebuilt from MLflow)" if len(ids) == 1 and names[0]
             else f"Comparison of {len(records)} MLflow run(s)")
    lb = build(records, title, cells=list(dict.fromkeys(cells)), metric=metric,
               target=target, searches=searches)
    files = write_report(lb, Path(out), c)
    return {"metric": lb.metric, "cells": [r.cell for r in lb.rows], "runs": len(records),
            "ranks": {r.cell: r.rank for r in lb.rows}, "report": str(Path(out) / "leaderboard.html"),
            "files": [str(f) for f in files]}
