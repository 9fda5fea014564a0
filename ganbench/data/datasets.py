"""The DATASETS registry and the two shapes a dataset can take.

A dataset is either decoded tensors small enough to hold in memory (TensorSource: the
built-in sets) or a list of image files decoded while training (FileSource: folders).
The loader is chosen from that shape, so a new dataset is one registry entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from ganbench.config import DataConfig
from ganbench.errors import ConfigError, DataError
from ganbench.registry import Registry


@dataclass
class TensorSource:
    """Decoded images, already at the configured resolution and channels."""

    name: str
    images: torch.Tensor  # uint8 (N, C, H, W): 4x smaller than float, normalised per batch
    labels: torch.Tensor  # int64 (N,), zeros when unlabelled
    num_classes: int
    skipped: list[str] = field(default_factory=list)

    @property
    def num_images(self) -> int:
        return int(self.images.shape[0])


@dataclass
class FileSource:
    """Image files, validated once; decoded, resized and cropped by the loader."""

    name: str
    root: str
    files: list[str]  # sorted, so every rank sees the same list
    labels: list[int]
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def num_images(self) -> int:
        return len(self.files)

    def check_present(self) -> None:
        """Called at each epoch start: a folder on a network mount can vanish mid-run, and
        'cannot decode image' would hide that the whole folder is gone."""
        if not Path(self.root).is_dir():
            raise DataError(f"dataset folder {self.root} is gone (moved, deleted or unmounted while "
                            f"training); restore it and resume from the last checkpoint with --resume")


@dataclass(frozen=True)
class DatasetEntry:
    # load(cfg, arg, verbose) -> source; arg is the text after "name:" (folder:PATH), else
    # None; verbose is False on ranks > 0 so progress bars and warnings appear once.
    load: Callable[[DataConfig, Optional[str], bool], "TensorSource | FileSource"]
    in_memory: bool  # True: a TensorSource, served by the memory loader under loader=auto
    # File sets that can also be decoded once into a cache: load_cached(cfg, arg, verbose)
    # -> TensorSource, used when data.cache is on and the loader is memory or torch.
    cached: Optional[Callable[[DataConfig, Optional[str], bool], "TensorSource"]] = None


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, help: str, *, in_memory: bool, cached=None):
    def deco(fn):
        DATASETS.add(name, DatasetEntry(fn, in_memory, cached), help)
        return fn

    return deco


def parse_name(name: str) -> tuple[str, Optional[str]]:
    """'folder:/data/faces' -> ('folder', '/data/faces'); 'mnist' -> ('mnist', None)."""
    key, sep, arg = name.partition(":")
    return key.strip(), (arg if sep else None)


def lookup(name: str) -> tuple[DatasetEntry, Optional[str]]:
    key, arg = parse_name(name)
    try:
        entry = DATASETS.get(key)
    except ConfigError as e:
        raise ConfigError(f"{e} (an image folder is named folder:PATH)") from None
    return entry, arg


def labels_or_zeros(labels: torch.Tensor, num_classes: int, use_labels: bool) -> tuple[torch.Tensor, int]:
    if use_labels:
        return labels.long(), num_classes
    return torch.zeros(labels.shape[0], dtype=torch.long), 0
