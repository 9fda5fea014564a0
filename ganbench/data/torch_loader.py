"""Loader on torch's DataLoader: works for every dataset and needs nothing beyond torch.

Workers only decode (uint8, small to pass between processes); normalising and flipping
happen on the device after the copy, with the same code and random streams as the
memory loader. The sampler is ours, so sharding follows base.shard_indices exactly.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ganbench.data.base import LoaderBase, random_flips, to_model_range
from ganbench.data.datasets import FileSource, TensorSource
from ganbench.data.transforms import load_image
from ganbench.errors import DataError


class FileDataset(Dataset):
    def __init__(self, files: list[str], labels: list[int], resolution: int, channels: int,
                 resize_mode: str = "crop"):
        self.files, self.labels = files, labels
        self.resolution, self.channels, self.resize_mode = resolution, channels, resize_mode

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return load_image(self.files[i], self.resolution, self.channels, self.resize_mode), self.labels[i]


class TensorImages(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]


class _EpochSampler(Sampler[int]):
    """Yields whatever indices the loader set for the current epoch. One long-lived
    sampler lets the DataLoader keep its worker processes between epochs."""

    def __init__(self, size: int):
        self.indices: list[int] = []
        self.size = size

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return self.size


class TorchLoader(LoaderBase):
    kind = "torch"

    def __init__(self, source: TensorSource | FileSource, cfg, *, rank, world_size, seed, device):
        super().__init__(source, cfg, rank=rank, world_size=world_size, seed=seed, device=device)
        if isinstance(source, FileSource):
            ds: Dataset = FileDataset(source.files, source.labels, cfg.resolution, cfg.channels,
                                      cfg.resize_mode)
        else:
            ds = TensorImages(source.images, source.labels)
        self._sampler = _EpochSampler(self.num_images)
        # Rows of a tensor (a built-in set, a memory-mapped folder cache) need no decoding:
        # worker processes would only add copies between processes.
        workers = max(0, cfg.num_workers) if isinstance(source, FileSource) else 0
        self._loader = DataLoader(
            ds, batch_size=cfg.batch_size, sampler=self._sampler, drop_last=True,
            num_workers=workers, persistent_workers=workers > 0,
            pin_memory=device.type == "cuda",
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.check_present()
        self._sampler.indices = self._shard().tolist()
        flips = self._flip_generator()
        nb = self.device.type == "cuda"
        try:
            for x, y in self._loader:
                x = random_flips(to_model_range(x.to(self.device, non_blocking=nb)),
                                 self.cfg.hflip, self.cfg.vflip, flips)
                yield x, torch.as_tensor(y, dtype=torch.long).to(self.device, non_blocking=nb)
        except DataError as e:
            # A DataLoader worker's error arrives with its whole traceback in the message:
            # keep the first line that says what happened.
            lines = [ln for ln in str(e).splitlines() if "DataError:" in ln]
            raise DataError(lines[-1].split("DataError:", 1)[1].strip() if lines else str(e)) from None
