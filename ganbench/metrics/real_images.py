"""Reading a dataset's images for metrics: every image exactly once, in a fixed order.

The training loaders are built for SGD (a fresh shuffle per epoch, flips, drop_last,
equal shards). Reference statistics need the opposite: a fixed set of images (all of the
split, or a seeded subset of n), no augmentation, none dropped, and the same set whatever
the world size. So metrics read the dataset registry's source directly, with the same
pixel pipeline as the loaders (uint8 at the data resolution -> float [-1, 1]).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from ganbench.config import DataConfig
from ganbench.data.base import to_model_range
from ganbench.data.build import check_config
from ganbench.data.datasets import FileSource, TensorSource, lookup
from ganbench.data.torch_loader import FileDataset
from ganbench.errors import ConfigError


def load_source(cfg: DataConfig, verbose: bool = True) -> TensorSource | FileSource:
    """The dataset's source (decoded tensors or a checked file list), as the loaders see it."""
    check_config(cfg, 0, 1)
    entry, arg = lookup(cfg.name)
    return entry.load(cfg, arg, verbose)


def select_indices(total: int, n: int, seed: int = 0) -> np.ndarray:
    """n = 0: all images in dataset order; else a seeded random subset of n (sorted, so
    reading stays sequential), the same on every rank and for every world size."""
    if n == 0:
        return np.arange(total)
    if not 1 <= n <= total:
        raise ConfigError(f"eval.n_real={n} but the reference set has {total} images; "
                          f"use eval.n_real <= {total} (0 = all)")
    perm = np.random.default_rng(seed).permutation(total)
    return np.sort(perm[:n])


def rank_range(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Contiguous [start, stop) share of n items for this rank (sizes differ by at most 1),
    so gathering shares in rank order restores the original order."""
    per, extra = divmod(n, world_size)
    start = rank * per + min(rank, extra)
    return start, start + per + (1 if rank < extra else 0)


def iter_images(source: TensorSource | FileSource, cfg: DataConfig, indices: np.ndarray,
                batch_size: int = 500, device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    """Float [-1, 1] (B, C, H, W) batches of source[indices], in order, no flips."""
    idx = [int(i) for i in indices]
    if isinstance(source, TensorSource):
        for i in range(0, len(idx), batch_size):
            yield to_model_range(source.images[idx[i : i + batch_size]].to(device))
        return
    ds = Subset(FileDataset(source.files, source.labels, cfg.resolution, cfg.channels, cfg.resize_mode), idx)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=max(0, cfg.num_workers))
    for x, _ in loader:
        yield to_model_range(x.to(device))


def source_labels(source: TensorSource | FileSource, indices: np.ndarray) -> torch.Tensor:
    labels = source.labels if isinstance(source, TensorSource) else torch.as_tensor(source.labels)
    return torch.as_tensor(labels)[torch.as_tensor(indices, dtype=torch.long)].long()


@dataclass(frozen=True)
class ImageSet:
    """Images read by position, float [-1, 1], without holding all of them at once: a
    training set searched for nearest neighbours is streamed in batches, and only the few
    images that turn out to be neighbours are read again (`take`)."""

    n: int
    stream: Callable[[int], Iterator[torch.Tensor]]  # batch size -> batches of all n, in order
    take: Callable[[np.ndarray], torch.Tensor]  # positions -> (len, C, H, W)
    name: Callable[[int], str]  # position -> what a person can look up (a file path, or the index)
    what: str  # e.g. "mnist train (60000 images)"

    @classmethod
    def of_tensor(cls, x: torch.Tensor, what: str) -> "ImageSet":
        return cls(len(x), lambda b: iter(x.split(b)), lambda pos: x[torch.as_tensor(pos, dtype=torch.long)],
                   lambda i: f"#{i}", f"{what} ({len(x)} images)")

    @classmethod
    def of_source(cls, source: TensorSource | FileSource, cfg: DataConfig, what: str) -> "ImageSet":
        """All of the source's images, in dataset order (position = dataset index)."""
        n = source.num_images

        def take(pos: np.ndarray) -> torch.Tensor:
            return torch.cat(list(iter_images(source, cfg, np.asarray(pos))))

        def name(i: int) -> str:
            return source.files[i] if isinstance(source, FileSource) else f"#{i}"

        return cls(n, lambda b: iter_images(source, cfg, np.arange(n), batch_size=b), take, name,
                   f"{what} ({n} images)")
