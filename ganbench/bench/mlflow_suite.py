"""The suite's MLflow side: one parent run per suite (found again by its tags when the same
suite runs again), every (cell, seed) run nested under it, and the records read back.

What a resumed suite needs is all in MLflow: a (cell, seed) run that FINISHED with the same
cell hash is done; a FAILED one is run again; one left RUNNING by a driver that died is
marked FAILED first. So a killed driver loses nothing that finished.
"""
from __future__ import annotations

import json
import logging
from typing import Optional, Sequence

from ganbench import tracking as trk
from ganbench.bench.driver_lease import check_free
from ganbench.bench.records import RunRecord, record_from_run
from ganbench.tracking_store import TrackingHandle

log = logging.getLogger("ganbench.bench")

STALE_ERROR = "the bench driver stopped while this run ran"
ALSO_TAG = "ganbench.also"  # on the suite's run: its protocol.also (JSON list), for `ganbench compare`


def record_also(handle: TrackingHandle, also: Sequence[str]) -> None:
    """The suite's protocol.also on its run, also when empty: compare then shows what the
    latest `ganbench bench` of the suite showed, not what an older definition asked for."""
    trk.client(handle.tracking_uri).set_tag(handle.run_id, ALSO_TAG, json.dumps(list(also)))


def also_of(run) -> tuple[str, ...]:
    """The `also` metrics a suite's run recorded; () when none (or an unreadable tag)."""
    raw = run.data.tags.get(ALSO_TAG)
    try:
        names = json.loads(raw) if raw else []
    except ValueError:
        return ()
    return tuple(n for n in names if isinstance(n, str) and n) if isinstance(names, list) else ()


def search_all(client, experiment_ids: list[str], query: str) -> list:
    out, token = [], None
    while True:
        page = client.search_runs(experiment_ids, query, max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def suite_parent(uri: str, experiment: str, suite: str, tags: dict) -> TrackingHandle:
    """The suite's parent run (the latest one with this suite name), reopened; or a new one.
    Refuses while another live driver holds it (driver_lease)."""
    c = trk.client(uri)
    exp = trk.get_or_create_experiment(uri, experiment)
    found = c.search_runs([exp], f"tags.`ganbench.kind` = 'suite' and tags.`ganbench.suite` = '{suite}'",
                          max_results=1, order_by=["attributes.start_time DESC"])
    if found:
        handle = TrackingHandle(uri, found[0].info.run_id)
        check_free(c, handle.run_id, suite)
        trk.reopen_run(handle)
    else:
        handle = trk.create_run(uri, experiment, f"suite:{suite}", tags={"ganbench.kind": "suite",
                                                                          "ganbench.suite": suite}, params={})
    for k, v in tags.items():
        c.set_tag(handle.run_id, k, str(v))
    return handle


def children(handle: TrackingHandle) -> list:
    c = trk.client(handle.tracking_uri)
    exp = c.get_run(handle.run_id).info.experiment_id
    return search_all(c, [exp], f"tags.`mlflow.parentRunId` = '{handle.run_id}'")


def fail_stale(handle: TrackingHandle, runs: list) -> int:
    """Runs a dead driver left RUNNING: FAILED, with why (the UI would show them running forever)."""
    c = trk.client(handle.tracking_uri)
    stale = [r for r in runs if r.info.status == "RUNNING" and r.data.tags.get("ganbench.kind") != "study"]
    for r in stale:
        c.set_tag(r.info.run_id, "ganbench.error", STALE_ERROR)
        c.set_terminated(r.info.run_id, status="FAILED")
    if stale:
        log.warning("marked %d run(s) left running by an earlier driver as FAILED; they run again", len(stale))
    return len(stale)


def latest_per_key(runs: list, hashes: Optional[dict] = None) -> list:
    """One run per (cell, seed): the finished one if any, else the latest attempt. With
    `hashes` (cell -> cell hash), runs of an older definition of a cell are left out."""
    best: dict = {}
    for r in runs:
        t = r.data.tags
        cell = t.get("ganbench.cell")
        if cell is None or (hashes is not None and hashes.get(cell) != t.get("ganbench.cell_hash")):
            continue
        key = (cell, t.get("ganbench.seed"))
        rank = (r.info.status == "FINISHED", r.info.start_time or 0)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, r)
    return [r for _, r in best.values()]


def collect(handle: TrackingHandle, metric: Optional[str] = None, hashes: Optional[dict] = None,
            also: Sequence[str] = ()) -> tuple[list[RunRecord], dict[str, list[float]]]:
    """(records of the suite's runs, {searched cell: its trials' values}) from MLflow;
    `also`: metrics each record carries beside the ranking one (RunRecord.extras)."""
    c = trk.client(handle.tracking_uri)
    if hashes is None:
        raw = c.get_run(handle.run_id).data.tags.get("ganbench.cell_hashes")
        hashes = json.loads(raw) if raw else None
    kids = children(handle)
    runs = [r for r in kids if r.data.tags.get("ganbench.kind") != "study"]
    records = [record_from_run(c, r, metric=metric, also=also) for r in latest_per_key(runs, hashes)]
    searches: dict[str, list[float]] = {}
    for study in (r for r in kids if r.data.tags.get("ganbench.kind") == "study" and r.data.tags.get("ganbench.cell")):
        cell = study.data.tags["ganbench.cell"]
        if hashes is not None and hashes.get(cell) not in (None, study.data.tags.get("ganbench.search_hash")):
            continue
        searches[cell] = trial_values(c, study)
    return records, searches


def trial_values(client, study_run) -> list[float]:
    """Each finished trial's end-of-budget value: what `ganbench tune` optimised."""
    trials = search_all(client, [study_run.info.experiment_id],
                        f"tags.`mlflow.parentRunId` = '{study_run.info.run_id}'")
    out = []
    for t in trials:
        key = t.data.tags.get("ganbench.eval.selection_metric")
        pruned = t.data.tags.get("ganbench.status") == "pruned"  # stopped early: not an end-of-budget value
        if t.info.status == "FINISHED" and not pruned and key and key in t.data.metrics:
            out.append(float(t.data.metrics[key]))
    return out
