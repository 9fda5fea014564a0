"""Sessions: who am I (rank, world size, device), DDP wrapping, cross-rank reduce / gather /
broadcast, and where a reported checkpoint goes. Starting workers is the launcher's job
(ganbench/train/launcher.py); this module never starts anything.

The training loop only talks to a `Session`. Two exist:
- `LocalSession`: one process, no Ray; used by tests, benchmarks and `--workers 0`;
  its checkpoints go to a local `CheckpointStore`.
- `RaySession`: inside a Ray Train worker; device from `ray.train.torch.get_device()`
  (under Ray the local rank is not the CUDA index), checkpoints through `ray.train.report`
  (Ray Train stores and prunes them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn

from ganbench.checkpoint import CheckpointRecord, CheckpointStore, checkpoint_name
from ganbench.storage import fetch_dir

log = logging.getLogger("ganbench.distributed")


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
    """Single process. Checkpoints go to `<run_dir>/checkpoint_epoch_NNNN/`, kept as Ray
    Train's CheckpointConfig would keep them (see ganbench.checkpoint.retained)."""

    run_dir: Path = Path("runs/local")
    resume_from: Optional[str] = None
    keep: int = 3
    score_key: Optional[str] = None
    device: torch.device = torch.device("cpu")
    rank: int = 0
    world_size: int = 1
    store: CheckpointStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = CheckpointStore(Path(self.run_dir), self.keep, self.score_key)

    @property
    def checkpoints(self) -> list[CheckpointRecord]:
        return list(self.store.records)

    def resume_dir(self) -> Optional[Path]:
        return fetch_dir(self.resume_from) if self.resume_from else None

    def report(self, metrics: dict, epoch: int, checkpoint_dir: Optional[Path]) -> None:
        if checkpoint_dir is not None:
            self.store.add(checkpoint_dir, epoch, metrics)


class RaySession(Session):
    """Inside a Ray Train worker (process group already set up by TorchTrainer)."""

    def __init__(self, resume_from: Optional[str] = None, score_key: Optional[str] = None):
        import ray.train
        import ray.train.torch

        ctx = ray.train.get_context()
        self.rank = ctx.get_world_rank()
        self.world_size = ctx.get_world_size()
        self.device = ray.train.torch.get_device()
        self._resume_from = resume_from
        self._score_key = score_key

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
        return fetch_dir(self._resume_from) if self._resume_from else None

    def report(self, metrics: dict, epoch: int, checkpoint_dir: Optional[Path]) -> None:
        import ray.train

        if self._score_key:
            # Ray Train ranks checkpoints by this key and needs it in every report: an epoch
            # without evaluation gets NaN, which Ray sorts last (kept for resumption only).
            metrics = {self._score_key: float("nan"), **metrics}
        # Every rank calls report (it is a barrier); only rank 0 hands over a checkpoint.
        ckpt = None
        if checkpoint_dir is not None and self.is_main:
            ckpt = ray.train.Checkpoint.from_directory(str(checkpoint_dir))
        ray.train.report(
            metrics,
            checkpoint=ckpt,
            checkpoint_dir_name=checkpoint_name(epoch) if checkpoint_dir is not None else None,
        )
