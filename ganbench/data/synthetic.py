"""Small synthetic image folders for tests and demos: real JPEG/PNG files, no outside data.

Each class is a distinct shape in a distinct colour, so a conditional model (or a human
looking at a batch) can tell classes apart, and labels read from subfolders can be checked
against pixel content.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

# (fill colour, shape); class k uses entry k % len(_CLASSES).
_CLASSES = [
    ((230, 40, 40), "ellipse"),
    ((40, 200, 60), "rectangle"),
    ((50, 80, 230), "triangle"),
    ((240, 200, 30), "cross"),
    ((200, 60, 220), "ring"),
]
_PIL_FORMAT = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


def _draw(size: tuple[int, int], cls: int, rng: random.Random) -> Image.Image:
    w, h = size
    colour, shape = _CLASSES[cls % len(_CLASSES)]
    bg = tuple(rng.randint(0, 40) for _ in range(3))  # dark, so the shape dominates
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    # Jitter position and size so images within a class differ.
    s = min(w, h) * rng.uniform(0.45, 0.7)
    cx, cy = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.1, 0.1) * h
    box = [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]
    if shape == "ellipse":
        d.ellipse(box, fill=colour)
    elif shape == "rectangle":
        d.rectangle(box, fill=colour)
    elif shape == "triangle":
        d.polygon([(cx, box[1]), (box[2], box[3]), (box[0], box[3])], fill=colour)
    elif shape == "cross":
        t = s / 6
        d.rectangle([box[0], cy - t, box[2], cy + t], fill=colour)
        d.rectangle([cx - t, box[1], cx + t, box[3]], fill=colour)
    else:
        d.ellipse(box, outline=colour, width=max(2, int(s / 6)))
    return img


def write_corrupt_files(folder: str | Path, n: int = 1, seed: int = 0) -> list[Path]:
    """Write n garbage '.jpg' files and n truncated PNGs (valid header, cut-off pixel data)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        garbage = folder / f"corrupt_{i}.jpg"
        garbage.write_bytes(bytes(rng.randrange(256) for _ in range(256)))
        # Noise does not compress, so cutting the file in half really cuts the IDAT chunk
        # (a PIL .verify() would miss this; only a full decode notices).
        noise = Image.frombytes("RGB", (32, 32), bytes(rng.randrange(256) for _ in range(32 * 32 * 3)))
        truncated = folder / f"truncated_{i}.png"
        noise.save(truncated, "PNG")
        data = truncated.read_bytes()
        truncated.write_bytes(data[: len(data) // 2])
        out += [garbage, truncated]
    return out


def make_synthetic_folder(
    root: str | Path,
    n_classes: int = 3,
    per_class: int = 8,
    size: tuple[int, int] = (40, 30),
    formats: Sequence[str] = ("jpg", "png"),
    labelled: bool = True,
    seed: int = 0,
    corrupt: int = 0,
) -> Path:
    """Write n_classes * per_class images of `size` (width, height) under root and return root.

    labelled=True puts class k in subfolder `class_k`; False writes them all flat into root.
    Formats alternate image by image. corrupt=n also writes n garbage .jpg files and n
    truncated PNGs (into class_0 when labelled), for testing data.on_bad_file.
    """
    root = Path(root)
    rng = random.Random(seed)
    for fmt in formats:
        if fmt.lower() not in _PIL_FORMAT:
            raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(_PIL_FORMAT)}")
    for k in range(n_classes):
        folder = root / f"class_{k}" if labelled else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            fmt = formats[i % len(formats)].lower()
            name = f"img_{i:04d}.{fmt}" if labelled else f"c{k}_img_{i:04d}.{fmt}"
            extra = {"quality": 95} if fmt in ("jpg", "jpeg") else {}
            _draw(size, k, rng).save(folder / name, _PIL_FORMAT[fmt], **extra)
    if corrupt:
        write_corrupt_files(root / "class_0" if labelled else root, corrupt, seed=seed)
    return root
