"""Pixel preparation shared by the loaders, so memory/torch paths produce the same images.

Everything stays uint8 until the batch is on its device; to_model_range() in base.py does
the final float [-1, 1] step there.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganbench.errors import DataError

# ITU-R 601 luma, the weights PIL's convert("L") uses.
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def prepare_tensor_images(images: torch.Tensor, resolution: int, channels: int,
                          chunk: int = 4096) -> torch.Tensor:
    """(N, C, H, W) uint8 or float in [0, 1] -> uint8 (N, channels, resolution, resolution).

    Resizing is bilinear with antialias (matters when shrinking; harmless when growing).
    Works in chunks so a 60k-image set never needs a full float copy at once.
    """
    out = torch.empty((images.shape[0], channels, resolution, resolution), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        x = images[start : start + chunk]
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
        if channels == 1 and x.shape[1] == 3:
            x = (x * _LUMA).sum(1, keepdim=True)
        elif channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (resolution, resolution):
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear",
                              antialias=True, align_corners=False)
        out[start : start + chunk] = x.clamp(0, 1).mul(255).round().to(torch.uint8)
    return out


RESIZE_MODES = ("crop", "squash")


def resize_center_crop(im: Image.Image, resolution: int) -> Image.Image:
    """Shorter side -> resolution, then a centred square crop (any size or aspect)."""
    w, h = im.size
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    # PIL's BILINEAR widens its filter when shrinking (antialiased), like DALI's resize.
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - resolution) // 2, (nh - resolution) // 2
    return im.crop((left, top, left + resolution, top + resolution))


def resize_squash(im: Image.Image, resolution: int) -> Image.Image:
    """Whole image -> resolution x resolution; the aspect ratio is not kept (nothing cut off)."""
    return im.resize((resolution, resolution), Image.BILINEAR)


_RESIZERS = {"crop": resize_center_crop, "squash": resize_squash}


def decode_image(path: str, resolution: int, channels: int, resize_mode: str = "crop") -> np.ndarray:
    """Decode + resize one file -> uint8 (channels, resolution, resolution); raises on a bad file."""
    with Image.open(path) as im:
        im = _RESIZERS[resize_mode](im.convert("L" if channels == 1 else "RGB"), resolution)
        arr = np.array(im)  # a writable copy
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def load_image(path: str, resolution: int, channels: int, resize_mode: str = "crop") -> torch.Tensor:
    """Decode one file -> uint8 tensor (channels, resolution, resolution); DataError on failure."""
    try:
        arr = decode_image(path, resolution, channels, resize_mode)
    except FileNotFoundError:  # validated at start: the file (or its folder) went away since
        raise DataError(f"image {path} disappeared while training (was the dataset folder moved, "
                        f"deleted or unmounted?); restore it and resume with --resume") from None
    except Exception as e:  # the folder was validated; a failure now means it changed since
        raise DataError(f"cannot decode image {path}: {type(e).__name__}: {e}") from None
    return torch.from_numpy(arr)
