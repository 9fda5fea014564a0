"""Images (N, C, H, W) float in [-1, 1] -> PNGs, grids and GIFs, each able to carry the record
of what made it (seed, truncation, ...) as JSON inside the file.

numpy and Pillow only: the Serve replicas (no torch) encode their grids here too, so a grid
from `ganbench sample` and one from the HTTP endpoint are laid out alike (2 px black padding)."""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, PngImagePlugin

PAD = 2
RECORD_KEY = "ganbench"  # the PNG text chunk (and GIF comment) holding the record as JSON


def to_pixels(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, rounding half up."""
    x = (np.clip(np.asarray(images, dtype=np.float32), -1, 1) + 1) * 127.5 + 0.5
    return np.clip(x, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(images: np.ndarray, cols: Optional[int] = None) -> np.ndarray:
    """One (H', W', C) uint8 grid, row after row, `cols` wide (default: about square)."""
    px = to_pixels(images)
    n, h, w, c = px.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + PAD) + PAD, cols * (w + PAD) + PAD, c), np.uint8)
    for i, img in enumerate(px):
        y, x = PAD + (i // cols) * (h + PAD), PAD + (i % cols) * (w + PAD)
        out[y : y + h, x : x + w] = img
    return out


def _pil(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def png_bytes(pixels: np.ndarray, record: Optional[dict] = None) -> bytes:
    """(H, W, C) uint8 -> PNG bytes, with `record` as JSON in the RECORD_KEY text chunk."""
    info = None
    if record is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(RECORD_KEY, json.dumps(record, sort_keys=True))
    buf = io.BytesIO()
    _pil(pixels).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def gif_bytes(frames: Sequence[np.ndarray], record: Optional[dict] = None, ms: int = 150) -> bytes:
    """(H, W, C) uint8 frames -> an animated GIF that loops forever, `ms` per frame."""
    images = [_pil(f) for f in frames]
    buf = io.BytesIO()
    extra = {"comment": json.dumps(record, sort_keys=True).encode()} if record is not None else {}
    # disposal 1 and no optimize: Pillow would otherwise merge identical frames (a sweep's
    # unchanged rows), and a viewer would show fewer steps than were asked for.
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=ms, loop=0,
                   disposal=1, optimize=False, **extra)
    return buf.getvalue()


def read_record(path: str | Path) -> Optional[dict]:
    """The record inside a PNG or GIF written here, or None when it has none."""
    with Image.open(path) as im:
        raw = im.info.get(RECORD_KEY) or im.info.get("comment")
    if raw is None:
        return None
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
