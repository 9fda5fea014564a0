"""What every loader promises, plus the one sharding rule all of them share.

Sharding rule (memory, torch and DALI loaders alike): each epoch, one permutation of the
whole dataset is drawn from (seed, epoch) -- the same on every rank -- and cut into
world_size equal contiguous parts; the remainder (total % world_size) is left out of
that epoch. Equal parts mean every rank runs the same number of batches, which DDP's
lockstep all-reduce needs; a fresh permutation per epoch means the left-out images
change from epoch to epoch.
"""
from __future__ import annotations

import logging
from typing import Iterator, Protocol, runtime_checkable

import numpy as np
import torch

from ganbench.config import DataConfig
from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.data")

# Random streams drawn from (seed, epoch, stream[, rank]); kept apart so that turning
# flips on does not change the order of images.
SHUFFLE, FLIP = 0, 1


@runtime_checkable
class Loader(Protocol):
    kind: str
    num_classes: int
    image_shape: tuple[int, int, int]
    num_images: int
    total_images: int
    skipped: list[str]

    def set_epoch(self, epoch: int) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...
    def describe(self) -> dict: ...


def derive_seed(*parts: int) -> int:
    """Mix integers into one 63-bit seed (SeedSequence avoids seed+epoch collisions)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)


def generator(*parts: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(derive_seed(*parts))
    return g


def shard_size(total: int, world_size: int) -> int:
    return total // world_size


def shard_indices(total: int, rank: int, world_size: int, seed: int, epoch: int) -> torch.Tensor:
    """This rank's part of the epoch's permutation (int64 CPU tensor of shard_size items)."""
    perm = torch.randperm(total, generator=generator(seed, epoch, SHUFFLE))
    per = shard_size(total, world_size)
    return perm[rank * per : (rank + 1) * per]


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def random_flips(images: torch.Tensor, hflip: bool, vflip: bool, g: torch.Generator) -> torch.Tensor:
    """Flip each sample with probability 1/2 per enabled axis, decisions drawn from g (CPU)."""
    n = images.shape[0]
    for enabled, dim in ((hflip, -1), (vflip, -2)):
        if enabled:
            mask = (torch.rand(n, generator=g) < 0.5).to(images.device).view(n, 1, 1, 1)
            images = torch.where(mask, images.flip(dim), images)
    return images


class LoaderBase:
    """Attributes, epoch bookkeeping and describe() shared by all loaders."""

    kind = "base"

    def __init__(self, source, cfg: DataConfig, *, rank: int, world_size: int, seed: int,
                 device: torch.device):
        self.cfg = cfg
        self.dataset = cfg.name
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.device = device
        self.batch_size = cfg.batch_size
        self.num_classes = source.num_classes
        self.image_shape = (cfg.channels, cfg.resolution, cfg.resolution)
        self.total_images = source.num_images
        self.num_images = shard_size(self.total_images, world_size)
        self.skipped = list(source.skipped)
        self._check_present = getattr(source, "check_present", None)  # file sources only
        self.epoch = 0
        check_batch_size(cfg.batch_size, self.num_images, self.total_images, world_size)

    def check_present(self) -> None:
        """Each epoch: fail clearly if the image folder went away (see FileSource)."""
        if self._check_present is not None:
            self._check_present()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_images // self.batch_size  # drop_last: partial batches are never yielded

    def _shard(self) -> torch.Tensor:
        return shard_indices(self.total_images, self.rank, self.world_size, self.seed, self.epoch)

    def _flip_generator(self) -> torch.Generator:
        return generator(self.seed, self.epoch, FLIP, self.rank)

    def describe(self) -> dict:
        return {
            "dataset": self.dataset,
            "kind": self.kind,
            "total_images": self.total_images,
            "shard_images": self.num_images,
            "num_classes": self.num_classes,
            "skipped": len(self.skipped),
            "resolution": self.image_shape[1],
            "channels": self.image_shape[0],
            "batch_size": self.batch_size,
            "batches_per_epoch": len(self),
            "world_size": self.world_size,
        }


def check_batch_size(batch_size: int, shard: int, total: int, world_size: int) -> None:
    if batch_size < 1:
        raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
    if batch_size > shard:
        raise ConfigError(
            f"data.batch_size={batch_size} is larger than this rank's shard of {shard} images "
            f"({total} images / world_size {world_size}); lower data.batch_size to at most {shard}"
        )
