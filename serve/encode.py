"""Images (N, C, H, W) float32 in [-1, 1] -> response bytes: a PNG grid, an .npy, PNGs.

No torch here: a replica only needs numpy, Pillow and onnxruntime. The pixel mapping and
the grid layout (about square, 2 px black padding) match `ganbench sample --out x.png`."""
from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

PAD = 2


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    x = (np.clip(images, -1, 1) + 1) / 2 * 255 + 0.5
    return np.clip(x, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buf, format="PNG")
    return buf.getvalue()


def grid_png(images: np.ndarray) -> bytes:
    px = to_uint8(images)
    n, h, w, c = px.shape
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (h + PAD) + PAD, cols * (w + PAD) + PAD, c), np.uint8)
    for i, img in enumerate(px):
        y, x = PAD + (i // cols) * (h + PAD), PAD + (i % cols) * (w + PAD)
        grid[y : y + h, x : x + w] = img
    return _png(grid)


def pngs_base64(images: np.ndarray) -> list[str]:
    return [base64.b64encode(_png(img)).decode("ascii") for img in to_uint8(images)]


def npy(images: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(images, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()
