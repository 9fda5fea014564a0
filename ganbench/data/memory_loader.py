"""Loader for in-memory tensor sets: the whole set lives on the device as uint8, and a
batch is an index into it. No decode, no workers, no host->device copy per step."""
from __future__ import annotations

from typing import Iterator

import torch

from ganbench.data.base import LoaderBase, random_flips, to_model_range
from ganbench.data.datasets import TensorSource


class MemoryLoader(LoaderBase):
    kind = "memory"

    def __init__(self, source: TensorSource, cfg, *, rank, world_size, seed, device):
        super().__init__(source, cfg, rank=rank, world_size=world_size, seed=seed, device=device)
        self.images = source.images.to(device)
        self.labels = source.labels.to(device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        shard = self._shard().to(self.device)
        flips = self._flip_generator()
        b = self.batch_size
        for i in range(len(self)):
            idx = shard[i * b : (i + 1) * b]
            x = random_flips(to_model_range(self.images[idx]), self.cfg.hflip, self.cfg.vflip, flips)
            yield x, self.labels[idx]
