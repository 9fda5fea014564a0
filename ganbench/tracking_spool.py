"""When the MLflow server goes away mid-run: keep training, keep what would have been logged.

A GPU run should not die because the tracking server restarted. The sink (tracking.py)
reports the failure once and from then on appends every call to a spool folder:

    <spool_dir>/<run_id>/records.jsonl     one JSON record per call, in order
    <spool_dir>/<run_id>/files/NNNNNN/     copies of logged artifacts

`ganbench tracking-sync <spool_dir>` replays it into the same run later. Replaying is
idempotent: a metric (key, step) the server already holds is skipped, and for a step
spooled twice (a worker restarted from a checkpoint and redid an epoch) the last value
wins. A replayed folder's records file is renamed `records.synced.jsonl`.

`run.json` keeps the tracking URI without its password (a spool is a plain folder on shared
disks); replaying a masked one takes the real URI from $MLFLOW_TRACKING_URI or --tracking-uri.
"""
from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path
from typing import Optional

from ganbench.errors import ConfigError
from ganbench.redact import redact_url
from ganbench.tracking_store import TrackingHandle, client, resolve_tracking_uri

log = logging.getLogger("ganbench.tracking")

RECORDS = "records.jsonl"
SYNCED = "records.synced.jsonl"


class Spool:
    def __init__(self, spool_dir: str | Path, handle: TrackingHandle):
        self.dir = Path(spool_dir) / handle.run_id
        self.handle = handle

    def append(self, record: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "run.json"
        if not meta.exists():
            meta.write_text(json.dumps({"tracking_uri": redact_url(self.handle.tracking_uri),
                                        "run_id": self.handle.run_id, "host": socket.gethostname()}))
        if record["type"] in ("artifact", "image"):
            files = self.dir / "files"
            dest = files / f"{len(list(files.iterdir())) if files.exists() else 0:06d}"
            src = Path(record.pop("src"))
            dest.mkdir(parents=True)
            if src.is_dir():
                shutil.copytree(src, dest / src.name)
            else:
                shutil.copy2(src, dest / src.name)
            record["local"] = str((dest / src.name).relative_to(self.dir))
        with open(self.dir / RECORDS, "a") as f:
            f.write(json.dumps(record, default=float) + "\n")


def pending(spool_dir: str | Path) -> list[Path]:
    """Run folders under `spool_dir` (or `spool_dir` itself) with records not yet replayed."""
    root = Path(spool_dir)
    if (root / RECORDS).exists():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{RECORDS}"))


def sync(spool_dir: str | Path, tracking_uri: Optional[str] = None) -> list[dict]:
    """Replay every pending run folder; returns one summary per run."""
    root = Path(spool_dir)
    if not root.exists():
        raise ConfigError(f"no spool folder at {root}")
    runs = pending(root)
    if not runs and not list(root.glob(f"**/{SYNCED}")):
        raise ConfigError(f"{root} holds no spooled MLflow records ({RECORDS}); nothing to upload")
    return [_replay(d, tracking_uri) for d in runs]


def _replay(d: Path, tracking_uri: Optional[str]) -> dict:
    from mlflow.entities import Metric

    meta = json.loads((d / "run.json").read_text())
    uri = tracking_uri or resolve_tracking_uri(meta["tracking_uri"])
    run_id = meta["run_id"]
    c = client(uri)
    c.get_run(run_id)  # fails clearly if the run is not in this store
    records = [json.loads(line) for line in open(d / RECORDS) if line.strip()]

    latest: dict[tuple[str, int], dict] = {}
    for r in records:
        if r["type"] == "metrics":
            for k, v in r["metrics"].items():
                latest[(k, int(r["step"]))] = {"value": v, "ts": r["ts"]}
    have = {}
    for key in {k for k, _ in latest}:
        have[key] = {m.step for m in c.get_metric_history(run_id, key)}
    todo = [Metric(k, float(x["value"]), int(x["ts"]), s) for (k, s), x in sorted(latest.items(), key=lambda i: i[0][1])
            if s not in have[k]]
    for i in range(0, len(todo), 1000):  # MLflow caps a batch at 1000 metrics
        c.log_batch(run_id, metrics=todo[i : i + 1000])

    n_art = n_tags = 0
    terminal = None
    for r in records:
        if r["type"] == "artifact":
            src = d / r["local"]
            if src.is_dir():
                c.log_artifacts(run_id, str(src), r.get("artifact_path"))
            else:
                c.log_artifact(run_id, str(src), r.get("artifact_path"))
            n_art += 1
        elif r["type"] == "image":  # keeps its step and time, so the UI's slider order holds
            from PIL import Image

            with Image.open(d / r["local"]) as im:
                c.log_image(run_id, im.copy(), key=r["key"], step=r["step"], timestamp=r["ts"], synchronous=True)
            n_art += 1
        elif r["type"] == "tags":
            for k, v in r["tags"].items():
                c.set_tag(run_id, k, str(v))
            n_tags += len(r["tags"])
        elif r["type"] == "terminate":
            terminal = r["status"]
    if terminal:
        c.set_terminated(run_id, status=terminal)
    (d / RECORDS).rename(d / SYNCED)
    return {"run_id": run_id, "tracking_uri": uri, "metrics_uploaded": len(todo),
            "metrics_already_there": len(latest) - len(todo), "artifacts": n_art, "tags": n_tags, "status": terminal}
