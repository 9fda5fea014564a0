"""Sampling from a checkpoint: the generator in eval mode (BatchNorm running statistics),
noise from a seeded generator, so the same seed gives the same images."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ganbench.errors import ConfigError
from ganbench.models import build_models
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.monitor import save_grid

MAX_SAMPLES = 100_000


def load_generator(checkpoint: str | Path):
    cfg, state = load_checkpoint(checkpoint)
    models = build_models(cfg.model, tuple(state["image_shape"]), int(state["num_classes"]))
    models.G.load_state_dict(state["G"])
    models.G.eval()
    return cfg, models


@torch.no_grad()
def sample(models, n: int, seed: int = 0, label: Optional[int] = None, batch: int = 256) -> torch.Tensor:
    """(n, C, H, W) float32 in [-1, 1]. Labels: `label` for all, else cycling 0..K-1."""
    if not 1 <= n <= MAX_SAMPLES:
        raise ConfigError(f"--n must be between 1 and {MAX_SAMPLES}, got {n}")
    k = models.num_classes
    if label is not None:
        if not k:
            raise ConfigError("--label was given but this generator is unconditional (no classes)")
        if not 0 <= label < k:
            raise ConfigError(f"--label must be in 0..{k - 1} for this generator, got {label}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, models.latent_dim, generator=gen)
    labels = None
    if k:
        labels = torch.full((n,), label, dtype=torch.long) if label is not None else torch.arange(n) % k
    out = [models.G(z[i : i + batch], None if labels is None else labels[i : i + batch]) for i in range(0, n, batch)]
    return torch.cat(out).float().clamp_(-1, 1)


OUT_FORMATS = ("FILE.npy: float32 (N, C, H, W) in [-1, 1]; FILE.png: an image grid; "
               "FILE.zip: one PNG per image (Kaggle's submission format); DIR/: one PNG per image")


def out_kind(out: str | Path) -> str:
    """'npy' | 'png' | 'zip' | 'dir', from how --out is spelled (a trailing '/', an existing
    folder or no suffix mean a folder); anything else is a ConfigError, raised before sampling."""
    text = str(out)
    p = Path(text)
    if text.endswith(("/", os.sep)) or p.is_dir() or not p.suffix:
        return "dir"
    if p.suffix in (".npy", ".png", ".zip"):
        return p.suffix[1:]
    raise ConfigError(f"--out must be {OUT_FORMATS}; got {p.name}")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> uint8 (N, H, W) gray or (N, H, W, 3) RGB, as PNGs store them."""
    x = images.detach().float().cpu().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    x = x.permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def png_names(n: int) -> list[str]:
    return [f"{i:0{max(5, len(str(n - 1)))}d}.png" for i in range(n)]


def write_samples(images: torch.Tensor, out: str | Path) -> Path:
    kind = out_kind(out)
    out = Path(out)
    if kind == "dir":
        out.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(png_names(len(images)), to_uint8(images)):
            (out / name).write_bytes(_png_bytes(arr))
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "npy":
        np.save(out, images.numpy().astype(np.float32))
    elif kind == "png":
        save_grid(images, out)
    else:  # zip: written beside, then renamed, so a half-written archive is never left as OUT
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        try:
            # PNGs are already compressed: storing them is as small and much faster.
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
                for name, arr in zip(png_names(len(images)), to_uint8(images)):
                    zf.writestr(name, _png_bytes(arr))
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return out
