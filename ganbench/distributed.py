"""Everything distributed lives here: sessions (who am I, where do checkpoints go),
DDP wrapping, cross-rank reduction, and the Ray Train launcher.

The training loop only talks to a `Session`. Two exist:
- `LocalSession`: one process, no Ray; used by tests, benchmarks and `--workers 0`.
- `RaySession`: inside a Ray Train worker; device from `ray.train.torch.get_device()`
  (under Ray the local rank is not the CUDA index), checkpoints through `ray.train.report`.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger("ganbench.distributed")

CKPT_PREFIX = "checkpoint_epoch_"


def checkpoint_name(epoch: int) -> str:
    return f"{CKPT_PREFIX}{epoch:04d}"


@dataclass
class ReportedCheckpoint:
    path: str
    epoch: int
    metrics: dict


class Session:
    """What the training loop needs to know about the process it runs in."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        return module

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def all_gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate `t` (any first-dim size) from all ranks, in rank order."""
        return t

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's decision, on every rank (e.g. 'stop: this trial was pruned')."""
        return flag

    def resume_dir(self) -> Optional[Path]:
        raise NotImplementedError

    def report(self, metrics: dict, epoch: int, checkpoint_dir: Optional[Path]) -> None:
        raise NotImplementedError


def _ddp(module: nn.Module, device: torch.device) -> nn.Module:
    # No buffer sync in forward (torch 2.14's name for broadcast_buffers=False): D runs real
    # and fake batches in separate forwards before one backward; re-broadcasting BatchNorm
    # buffers between them is an in-place write that breaks autograd, and per-rank BN
    # statistics are what plain DCGAN training uses anyway. Buffers still sync once at init.
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False)


@dataclass
class LocalSession(Session):
    """Single process. Checkpoints go to `<out>/<run_name>/checkpoint_epoch_NNNN/`.

    Retention mirrors Ray Train's CheckpointConfig: the `keep` best by `score_key` (lower is
    better; checkpoints without a score count as worst), or the `keep` latest when there is
    no score, and always the latest one (it is what a resume needs).
    """

    run_dir: Path = Path("runs/local")
    resume_from: Optional[str] = None
    keep: int = 3
    score_key: Optional[str] = None
    device: torch.device = torch.device("cpu")
    reported: list[ReportedCheckpoint] = field(default_factory=list)
    rank: int = 0
    world_size: int = 1

    def resume_dir(self) -> Optional[Path]:
        from ganbench.storage import fetch_dir

        return fetch_dir(self.resume_from) if self.resume_from else None

    def report(self, metrics: dict, epoch: int, checkpoint_dir: Optional[Path]) -> None:
        if checkpoint_dir is None:
            return
        from ganbench.errors import CheckpointError
        from ganbench.train.checkpoint import write_error

        dest = Path(self.run_dir) / checkpoint_name(epoch)
        tmp = dest.with_name(dest.name + ".partial")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(checkpoint_dir, tmp)
            # Rename last, so a crash mid-copy never leaves a half checkpoint that looks whole.
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        except OSError as e:  # disk full, unwritable: drop the half copy, keep the others
            shutil.rmtree(tmp, ignore_errors=True)
            raise CheckpointError(write_error(dest, e)) from None
        self.reported.append(ReportedCheckpoint(str(dest), epoch, dict(metrics)))
        self._retain()

    def _retain(self) -> None:
        if len(self.reported) <= self.keep:
            return
        latest = self.reported[-1]

        def rank_key(c: ReportedCheckpoint):
            if not self.score_key:
                return -c.epoch  # newest first
            v = c.metrics.get(self.score_key, float("nan"))
            return (0, v) if v == v else (1, -c.epoch)  # scored (ascending) before unscored

        kept = sorted(self.reported, key=rank_key)[: self.keep]
        for c in self.reported:
            if c is not latest and c not in kept:
                shutil.rmtree(c.path, ignore_errors=True)
        self.reported = [c for c in self.reported if c is latest or c in kept]


class RaySession(Session):
    """Inside a Ray Train worker (process group already set up by TorchTrainer)."""

    def __init__(self, resume_from: Optional[str] = None):
        import ray.train
        import ray.train.torch

        ctx = ray.train.get_context()
        self.rank = ctx.get_world_rank()
        self.world_size = ctx.get_world_size()
        self.device = ray.train.torch.get_device()
        self._resume_from = resume_from
        self._restored = None

    def wrap(self, module: nn.Module) -> nn.Module:
        if self.world_size == 1:
            return module
        return _ddp(module, self.device)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_gather(self, t: torch.Tensor) -> torch.Tensor:
        if self.world_size == 1:
            return t
        # Ranks may hold different counts: gather the sizes, pad to the largest, trim.
        t = t.to(self.device).contiguous()
        n = torch.tensor([t.shape[0]], device=self.device)
        sizes = [torch.zeros_like(n) for _ in range(self.world_size)]
        dist.all_gather(sizes, n)
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype, device=self.device)
        padded[: t.shape[0]] = t
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes)]).cpu()

    def broadcast_flag(self, flag: bool) -> bool:
        if self.world_size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.broadcast(t, src=0)
        return bool(t.item())

    def resume_dir(self) -> Optional[Path]:
        import ray.train

        # After a worker failure Ray hands back the last reported checkpoint; that wins
        # over the --resume path the run was started with.
        ckpt = ray.train.get_checkpoint()
        if ckpt is not None:
            return Path(ckpt.to_directory())
        from ganbench.storage import fetch_dir

        return fetch_dir(self._resume_from) if self._resume_from else None

    def report(self, metrics: dict, epoch: int, checkpoint_dir: Optional[Path]) -> None:
        import ray.train

        # Every rank calls report (it is a barrier); only rank 0 hands over a checkpoint.
        ckpt = None
        if checkpoint_dir is not None and self.is_main:
            ckpt = ray.train.Checkpoint.from_directory(str(checkpoint_dir))
        ray.train.report(
            metrics,
            checkpoint=ckpt,
            checkpoint_dir_name=checkpoint_name(epoch) if checkpoint_dir is not None else None,
        )


# ---------------------------------------------------------------- the Ray Train launcher


@dataclass(frozen=True)
class LaunchSpec:
    """Where and how big: not part of the model's config (it does not change results)."""

    workers: int
    gpu: bool
    run_dir: str  # <out>/<run_name>, a path or an object-store URI; Ray's storage_path is its parent
    resume_from: Optional[str]
    keep: int
    max_failures: int = 0
    score_key: Optional[str] = None  # lower is better; None keeps the latest checkpoints
    trial: Optional[dict] = None  # Optuna trial spec for in-run pruning


def _quiet_ray_report_logs() -> None:
    """Ray Train 2.60 logs every report and every checkpoint upload at INFO from each worker
    (a dict of all metrics per line); our own epoch line says the same in one short line.
    Warnings and errors from those modules still show."""
    import importlib

    for name in ("ray.train.v2._internal.execution.context", "ray.train.v2._internal.execution.storage"):
        try:
            module_logger = getattr(importlib.import_module(name), "logger", None)
        except ImportError:  # another Ray version: leave its logging alone
            continue
        if module_logger is not None:
            module_logger.setLevel(logging.WARNING)


def _worker_entry(loop_config: dict) -> dict:
    """Ray Train's per-worker function: rebuild the config and call the one train loop."""
    from ganbench.config import from_yaml
    from ganbench.train.loop import run_loop

    _quiet_ray_report_logs()

    cfg = from_yaml(loop_config["config_yaml"])
    session = RaySession(resume_from=loop_config.get("resume_from"))
    return run_loop(cfg, session, tracking=loop_config.get("tracking"),
                    show_progress=loop_config.get("progress", False), trial=loop_config.get("trial"))


def launch_ray(cfg_yaml: str, spec: LaunchSpec, tracking: Optional[dict], show_progress: bool = False) -> dict:
    """Run the training loop on `spec.workers` Ray Train workers; return rank 0's summary."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from ganbench.ray_init import init_ray

    init_ray()  # a local Ray unless RAY_ADDRESS points at a cluster (as under `ray job submit`)
    if spec.gpu and not ray.cluster_resources().get("GPU"):
        from ganbench.errors import ConfigError

        raise ConfigError("--gpu was given but the Ray cluster has no GPUs; drop --gpu to train on CPU")

    from ganbench import storage

    if storage.is_uri(spec.run_dir):
        storage_path, name = spec.run_dir.rstrip("/").rsplit("/", 1)
    else:
        run_dir = Path(spec.run_dir).resolve()
        storage_path, name = str(run_dir.parent), run_dir.name
    trainer = TorchTrainer(
        _worker_entry,
        train_loop_config={"config_yaml": cfg_yaml, "resume_from": spec.resume_from, "tracking": tracking,
                           "progress": show_progress, "trial": spec.trial},
        scaling_config=ScalingConfig(num_workers=spec.workers, use_gpu=spec.gpu),
        run_config=RunConfig(
            name=name,
            storage_path=storage_path,  # a path, or s3://... that every node can reach
            checkpoint_config=CheckpointConfig(
                num_to_keep=spec.keep,
                checkpoint_score_attribute=spec.score_key,
                checkpoint_score_order="min",
            ),
            failure_config=FailureConfig(max_failures=spec.max_failures),
        ),
    )
    from ray.train import TrainingFailedError

    try:
        result = trainer.fit()
    except TrainingFailedError as e:
        user_error = _user_error(e)
        if user_error is not None:
            raise user_error from None
        raise
    summary: dict[str, Any] = dict(result.return_value or {})
    ckpts = result.best_checkpoints or []
    summary["checkpoints"] = [
        {"path": storage.to_uri(spec.run_dir, c.path), "epoch": m.get("epoch"), "metrics": m} for c, m in ckpts
    ]
    return summary


def _user_error(e: BaseException):
    """The GanbenchError a worker raised (bad data, bad config), unwrapped from Ray's
    wrappers, so the CLI prints one clear line instead of a remote traceback."""
    from ganbench.errors import GanbenchError

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
