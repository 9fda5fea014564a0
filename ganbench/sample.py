"""Sampling from a checkpoint: the generator in eval mode (BatchNorm running statistics),
noise from a seeded generator, so the same seed gives the same images."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

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


def write_samples(images: torch.Tensor, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, images.numpy().astype(np.float32))
    elif out.suffix == ".png":
        save_grid(images, out)
    else:
        raise ConfigError(f"--out must end in .npy (array) or .png (image grid), got {out.name}")
    return out
