"""Images (N, C, H, W) float32 in [-1, 1] -> response bytes: a PNG grid, an .npy, PNGs.

No torch here: a replica only needs numpy, Pillow and onnxruntime. The pixels and the grid
layout are ganbench/image_files.py's, as in `ganbench sample --out x.png`, and each PNG
carries the request's record (seed, truncation) as `ganbench sample` records its own."""
from __future__ import annotations

import base64
import io
from typing import Optional

import numpy as np

from ganbench.image_files import grid, png_bytes, to_pixels

def grid_png(images: np.ndarray, record: Optional[dict] = None) -> bytes:
    return png_bytes(grid(images), record)


def pngs_base64(images: np.ndarray, record: Optional[dict] = None) -> list[str]:
    return [base64.b64encode(png_bytes(px, record)).decode("ascii") for px in to_pixels(images)]


def npy(images: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(images, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()
