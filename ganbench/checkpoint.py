"""Checkpoints, all of it: the format, writing (atomic), reading, retention and picking the best.

A checkpoint is a folder named `checkpoint_epoch_NNNN` holding `state.pt` (state_dicts and
counters only, loadable with `torch.load(weights_only=True)`, so opening one never runs
code), `config.yaml` (the resolved RunConfig) and `metrics.json` (what the epoch reported).
The config is stored with URL passwords masked (a tracking URI's, say): checkpoints are copied,
shared and uploaded as MLflow artifacts. Whoever reads one back gets the real URI from the
environment or the CLI (tracking_store.resolve_tracking_uri refuses a masked one).

Who uses what: the training loop builds the state (`checkpoint_state`) and writes it
(`save_checkpoint`); a local session keeps a run's checkpoints in a `CheckpointStore`
(retention as Ray Train's CheckpointConfig does it); under Ray, Ray Train keeps them and the
launcher only names the folders and the score; the driver picks the best (`pick_best`).
This module imports nothing from training or sessions: they all sit above it.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ganbench.atomic import atomic_path
from ganbench.config import RunConfig, from_yaml, to_yaml
from ganbench.errors import CheckpointError
from ganbench.redact import redact_fields
from ganbench.storage import fetch_dir, is_uri

STATE_FILE = "state.pt"
CKPT_PREFIX = "checkpoint_epoch_"


def checkpoint_name(epoch: int) -> str:
    return f"{CKPT_PREFIX}{epoch:04d}"


# ---------------------------------------------------------------- writing


def checkpoint_state(models, opt_g, opt_d, *, epoch: int, step: int, history: list,
                     image_shape, run_id: str = "", ema=None) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain containers: the one place a new piece
    of training state (an EMA of G, an augmentation probability) is added."""
    return {
        "G": models.G.state_dict(), "D": models.D.state_dict(),
        "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
        "epoch": epoch, "step": step, "history": history,
        "num_classes": models.num_classes, "image_shape": list(image_shape),
        "mlflow_run_id": run_id,
        **({"G_ema": ema.state_dict()} if ema is not None else {}),
    }


def save_checkpoint(folder: Path, cfg: RunConfig, state: dict[str, Any], metrics: dict) -> Path:
    """Write the checkpoint folder atomically: a crash leaves the old folder or the new one."""
    folder = Path(folder)
    try:
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            stored = to_yaml(redact_fields(cfg))
            torch.save({**state, "config_yaml": stored}, tmp / STATE_FILE)
            (tmp / "config.yaml").write_text(stored)
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    except OSError as e:  # disk full, read-only mount: say where, not a bare errno
        raise CheckpointError(write_error(folder, e)) from None
    return folder


def copy_checkpoint(src: Path, dest: Path) -> Path:
    """Copy a written checkpoint folder to `dest`, atomically (renamed into place last)."""
    try:
        with atomic_path(dest) as tmp:
            shutil.copytree(src, tmp)
    except OSError as e:  # disk full, unwritable: the half copy is gone, the others stay
        raise CheckpointError(write_error(dest, e)) from None
    return dest


def write_error(where: Path | str, e: OSError) -> str:
    return (f"could not write checkpoint to {where}: {e.strerror or e} (errno {e.errno}); "
            f"earlier checkpoints are kept; free space or point --out elsewhere, then --resume")


# ---------------------------------------------------------------- reading


def resolve_state_file(path: str | Path) -> Path:
    p = fetch_dir(path) if is_uri(path) else Path(path)  # s3://... checkpoints are fetched first
    if p.is_dir():
        p = p / STATE_FILE
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {path}: expected a checkpoint folder holding {STATE_FILE}, or the file itself")
    return p


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[RunConfig, dict]:
    p = resolve_state_file(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, never unpickle code
        raise CheckpointError(corrupt_message(p, e)) from None
    for key in ("G", "D", "epoch", "config_yaml"):
        if key not in state:
            raise CheckpointError(f"checkpoint {p} lacks {key!r}; it was not written by ganbench")
    return from_yaml(state["config_yaml"]), state


def corrupt_message(p: Path, e: Exception) -> str:
    """PyTorch's own text for a failed weights_only load advises re-running with
    weights_only=False, i.e. executing whatever the file holds: never pass that on."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if "weights_only" in first or "Weights only load failed" in first:
        why = "it holds Python objects other than tensors and plain containers (not a ganbench state file)"
    elif isinstance(e, (EOFError, RuntimeError)) or "zip" in first.lower():
        why = f"it is truncated or not a torch file ({type(e).__name__})"
    else:
        why = f"{type(e).__name__}: {first[:200]}"
    return (f"cannot read checkpoint {p}: {why}. A ganbench checkpoint folder holds {STATE_FILE} (tensors only), "
            f"config.yaml and metrics.json; check the file is complete (`ls -l {p}`, compare its size with the "
            f"original) and was written by `ganbench train`. Do not load it with weights_only=False: that runs "
            f"code from the file")


# ---------------------------------------------------------------- retention and the best


@dataclass(frozen=True)
class CheckpointRecord:
    """A stored checkpoint: where it is, its epoch and the metrics its epoch reported."""

    path: str
    epoch: int
    metrics: dict = field(default_factory=dict)

    def score(self, score_key: Optional[str]) -> float:
        """The score (lower is better), NaN when the epoch was not evaluated."""
        v = self.metrics.get(score_key, math.nan) if score_key else math.nan
        return float(v) if v is not None else math.nan


def retained(records: list[CheckpointRecord], keep: int, score_key: Optional[str]) -> list[CheckpointRecord]:
    """Which checkpoints to keep, as Ray Train's CheckpointConfig(num_to_keep, score order
    min) keeps them: the `keep` best by score (checkpoints without a score count as worst,
    newest first among them), or the `keep` newest with no score; and always the newest
    one, since it is what a resume needs. Order of `records` is preserved."""
    if len(records) <= keep:
        return list(records)
    latest = max(records, key=lambda c: c.epoch)

    def rank(c: CheckpointRecord):
        v = c.score(score_key)
        return (0, v) if v == v else (1, -c.epoch)  # NaN: not evaluated

    best = set(map(id, sorted(records, key=rank)[:keep]))
    return [c for c in records if c is latest or id(c) in best]


@dataclass(frozen=True)
class BestPick:
    best: Optional[str]  # lowest score; with no score, the last checkpoint
    last: Optional[str]
    best_score: Optional[float]
    best_epoch: Optional[int]


def pick_best(records: list[CheckpointRecord], score_key: Optional[str]) -> BestPick:
    if not records:
        return BestPick(None, None, None, None)
    last = max(records, key=lambda c: c.epoch)
    scored = [c for c in sorted(records, key=lambda c: c.epoch) if math.isfinite(c.score(score_key))]
    if not scored:
        return BestPick(last.path, last.path, None, last.epoch)
    best = min(scored, key=lambda c: c.score(score_key))
    return BestPick(best.path, last.path, best.score(score_key), best.epoch)


class CheckpointStore:
    """A run's checkpoints on a local disk: `<run_dir>/checkpoint_epoch_NNNN/`, copied in
    atomically and pruned by `retained` after each one."""

    def __init__(self, run_dir: Path, keep: int = 3, score_key: Optional[str] = None):
        self.run_dir = Path(run_dir)
        self.keep = keep
        self.score_key = score_key
        self.records: list[CheckpointRecord] = []

    def add(self, src: Path, epoch: int, metrics: dict) -> CheckpointRecord:
        dest = copy_checkpoint(Path(src), self.run_dir / checkpoint_name(epoch))
        record = CheckpointRecord(str(dest), epoch, dict(metrics))
        self.records.append(record)
        kept = retained(self.records, self.keep, self.score_key)
        for c in self.records:
            if c not in kept:
                shutil.rmtree(c.path, ignore_errors=True)
        self.records = kept
        return record
