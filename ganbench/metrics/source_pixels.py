"""The pixels of `ganbench fid`'s sources, for the uniqueness check: the first images of the
scored set (A) and the reference (B) as an ImageSet streamed from disk, both at one shape.

Features are read at the backbone's input size; pixels are compared at the images' own
size: a tensor side (a checkpoint's samples or an .npy) sets the shape, else A's folder
does, and a folder on the other side is read (resized, converted) to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ganbench.config import DataConfig
from ganbench.metrics.real_images import ImageSet, iter_images, load_source

PIXEL_KINDS = ("checkpoint", "npy", "folder")  # kinds that have images (a statistics file has none)


def _folder_config(path: Path, shape: tuple[int, int], workers: int) -> DataConfig:
    channels, resolution = shape
    return DataConfig(name=f"folder:{path}", resolution=resolution, channels=channels, use_labels=False,
                      num_workers=workers)


def pixel_shape(a_images: Optional[torch.Tensor], b_images: Optional[torch.Tensor],
                a_folder_shape: Optional[tuple[int, int]]) -> tuple[int, int]:
    """(channels, resolution) both sides are compared at."""
    for x in (a_images, b_images):
        if x is not None:
            return int(x.shape[1]), int(x.shape[-1])
    assert a_folder_shape is not None, "A is a folder when neither side holds a tensor"
    return a_folder_shape


def first_images(kind: str, path: Path, images: Optional[torch.Tensor], count: int, shape: tuple[int, int],
                 workers: int) -> torch.Tensor:
    """A's first `count` images (the ones whose features come first), float [-1, 1]."""
    if kind != "folder":
        return images[:count]
    cfg = _folder_config(path, shape, workers)
    src = load_source(cfg, verbose=False)
    return torch.cat(list(iter_images(src, cfg, np.arange(min(count, src.num_images)))))


def image_set(kind: str, path: Path, images: Optional[torch.Tensor], shape: tuple[int, int],
              workers: int) -> ImageSet:
    """B as the set searched: a tensor as it is, a folder read at `shape`, image by image."""
    if kind == "npy":
        return ImageSet.of_tensor(images, str(path))
    cfg = _folder_config(path, shape, workers)
    return ImageSet.of_source(load_source(cfg, verbose=False), cfg, str(path))
