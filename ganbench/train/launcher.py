"""Where the training loop runs: in this process, or on Ray Train workers (DDP).

Both launchers take the same LaunchSpec and return the same `Launched` record: rank 0's
loop summary and the checkpoints that were kept (the local CheckpointStore's, or Ray
Train's `best_checkpoints`, which it keeps by the same rule). The worker side
(`run_loop`) never imports this module.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ganbench import storage
from ganbench.checkpoint import CheckpointRecord
from ganbench.config import RunConfig, from_yaml, to_yaml
from ganbench.distributed import LocalSession, RaySession
from ganbench.errors import ConfigError, GanbenchError
from ganbench.train.loop import run_loop
from ganbench.train.observer import EpochObserver
from ganbench.train.records import LoopSummary, TrackingHandle


@dataclass(frozen=True)
class LaunchSpec:
    """Where and how big: not part of the model's config (it does not change results)."""

    workers: int  # 0: this process; >= 1: Ray Train workers
    gpu: bool
    run_dir: str  # <out>/<run_name>, a path or an object-store URI; Ray's storage_path is its parent
    resume_from: Optional[str]
    keep: int
    max_failures: int = 0
    score_key: Optional[str] = None  # lower is better; None keeps the latest checkpoints
    observer: Optional[EpochObserver] = None  # e.g. an Optuna trial that may prune the run
    show_progress: bool = False


@dataclass(frozen=True)
class Launched:
    summary: LoopSummary
    checkpoints: list[CheckpointRecord]


def launch(cfg: RunConfig, spec: LaunchSpec, tracking: Optional[TrackingHandle]) -> Launched:
    return launch_local(cfg, spec, tracking) if spec.workers == 0 else launch_ray(cfg, spec, tracking)


def launch_local(cfg: RunConfig, spec: LaunchSpec, tracking: Optional[TrackingHandle]) -> Launched:
    device = torch.device("cuda") if spec.gpu else torch.device("cpu")
    session = LocalSession(run_dir=Path(spec.run_dir), resume_from=spec.resume_from, keep=spec.keep,
                           score_key=spec.score_key, device=device)
    summary = run_loop(cfg, session, tracking=tracking, show_progress=spec.show_progress, observer=spec.observer)
    return Launched(summary, session.checkpoints)


def _quiet_ray_report_logs() -> None:
    """Ray Train 2.60 logs every report and every checkpoint upload at INFO from each worker
    (a dict of all metrics per line); our own epoch line says the same in one short line.
    Warnings and errors from those modules still show."""
    for name in ("ray.train.v2._internal.execution.context", "ray.train.v2._internal.execution.storage"):
        try:
            module_logger = getattr(importlib.import_module(name), "logger", None)
        except ImportError:  # another Ray version: leave its logging alone
            continue
        if module_logger is not None:
            module_logger.setLevel(logging.WARNING)


def _worker_entry(loop_config: dict) -> LoopSummary:
    """Ray Train's per-worker function: rebuild the config and call the one train loop."""
    _quiet_ray_report_logs()
    spec: LaunchSpec = loop_config["spec"]
    session = RaySession(resume_from=spec.resume_from, score_key=spec.score_key)
    return run_loop(from_yaml(loop_config["config_yaml"]), session, tracking=loop_config["tracking"],
                    show_progress=spec.show_progress, observer=spec.observer)


def _ray_run_config(spec: LaunchSpec):
    from ray.train import CheckpointConfig, FailureConfig, RunConfig as RayRunConfig

    if storage.is_uri(spec.run_dir):
        storage_path, name = spec.run_dir.rstrip("/").rsplit("/", 1)
    else:
        run_dir = Path(spec.run_dir).resolve()
        storage_path, name = str(run_dir.parent), run_dir.name
    return RayRunConfig(
        name=name,
        storage_path=storage_path,  # a path, or s3://... that every node can reach
        # The same retention as a local run's CheckpointStore (ganbench.checkpoint.retained).
        checkpoint_config=CheckpointConfig(num_to_keep=spec.keep, checkpoint_score_attribute=spec.score_key,
                                           checkpoint_score_order="min"),
        failure_config=FailureConfig(max_failures=spec.max_failures),
    )


def launch_ray(cfg: RunConfig, spec: LaunchSpec, tracking: Optional[TrackingHandle]) -> Launched:
    """Run the training loop on `spec.workers` Ray Train workers; rank 0's summary."""
    import ray
    from ray.train import ScalingConfig, TrainingFailedError
    from ray.train.torch import TorchTrainer

    from ganbench.ray_init import init_ray

    init_ray()  # a local Ray unless RAY_ADDRESS points at a cluster (as under `ray job submit`)
    if spec.gpu and not ray.cluster_resources().get("GPU"):
        raise ConfigError("--gpu was given but the Ray cluster has no GPUs; drop --gpu to train on CPU")
    trainer = TorchTrainer(
        _worker_entry,
        train_loop_config={"config_yaml": to_yaml(cfg), "spec": spec, "tracking": tracking},
        scaling_config=ScalingConfig(num_workers=spec.workers, use_gpu=spec.gpu),
        run_config=_ray_run_config(spec),
    )
    try:
        result = trainer.fit()
    except TrainingFailedError as e:
        user_error = _user_error(e)
        if user_error is not None:
            raise user_error from None
        raise
    if result.return_value is None:  # rank 0 always returns its summary; say so if Ray lost it
        raise GanbenchError("Ray Train finished without rank 0's summary; see the workers' logs")
    checkpoints = [CheckpointRecord(storage.to_uri(spec.run_dir, c.path), int(m.get("epoch") or 0), dict(m))
                   for c, m in (result.best_checkpoints or [])]
    return Launched(result.return_value, checkpoints)


def _user_error(e: BaseException) -> Optional[GanbenchError]:
    """The GanbenchError a worker raised (bad data, bad config), unwrapped from Ray's
    wrappers, so the CLI prints one clear line instead of a remote traceback."""
    failures = list(getattr(e, "worker_failures", {}).values())
    for f in failures:
        seen = 0
        while f is not None and seen < 10:
            cause = getattr(f, "cause", None)
            if isinstance(cause, GanbenchError):
                return type(cause)(str(cause))
            if isinstance(f, GanbenchError) and not hasattr(f, "cause"):
                return f
            f = cause or f.__cause__
            seen += 1
    return None
