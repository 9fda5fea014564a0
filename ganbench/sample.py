"""Sampling from a checkpoint: the generator in eval mode (BatchNorm running statistics), inputs
from the one noise recipe (ganbench/noise.py), so the same seed gives the same images here, in
an exported ONNX file and over HTTP; and the files they are written to, each with a record of
what made it (seed, truncation, weights) beside it (OUT.json) and inside its PNGs."""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ganbench import image_files, noise
from ganbench.atomic import atomic_path
from ganbench.checkpoint import load_checkpoint
from ganbench.errors import CheckpointError, ConfigError
from ganbench.models import GanModels, build_models
from ganbench.noise import NOISE_RECIPE, TRUNCATION_RULE

MAX_SAMPLES = 100_000
# Generator weight sets a checkpoint may hold: G, and G_ema (an exponential moving average of
# G's weights) once training keeps one. Pictures can show several side by side.
WEIGHTS = ("G", "G_ema")


def load_generator(checkpoint: str | Path, weights: str = "auto"):
    """(cfg, GanModels) with `weights` loaded into G, in eval mode. "auto" (what evaluation,
    export and serving use) is G_ema when the run kept an EMA of G, else G; "G" is always the
    raw generator. `models.weights` says which was loaded."""
    cfg, gens = load_generators(checkpoint, (weights,))
    return cfg, next(iter(gens.values()))


def load_generators(checkpoint: str | Path, names: tuple[str, ...]):
    """(cfg, {resolved name: GanModels}) for several weight sets of one checkpoint, read once
    (pictures show G_ema and G side by side). Names resolve as in `load_generator`."""
    bad = [w for w in names if w not in WEIGHTS + ("auto",)]
    if bad:
        raise ConfigError(f"unknown generator weights {bad[0]!r}; valid: auto, {', '.join(WEIGHTS)}")
    cfg, state = load_checkpoint(checkpoint)
    held = [w for w in WEIGHTS if w in state]
    resolved = [("G_ema" if "G_ema" in state else "G") if w == "auto" else w for w in names]
    if len(set(resolved)) != len(resolved):
        dup = next(w for w in resolved if resolved.count(w) > 1)
        raise ConfigError(f"--weights {','.join(names)} names {dup} twice for {checkpoint} (auto is G_ema "
                          "only when the run kept an EMA of G)")
    gens = {}
    for w in resolved:
        if w not in state:
            raise CheckpointError(f"checkpoint {checkpoint} holds no {w} weights (it holds {', '.join(held)})")
        models = build_models(cfg.model, tuple(state["image_shape"]), int(state["num_classes"]))
        models.G.load_state_dict(_generator_state(state[w]))
        models.G.eval()
        models.weights = w
        gens[w] = models
    return cfg, gens


def _generator_state(entry: dict) -> dict:
    """G's state_dict from a checkpoint entry: G is one as is; G_ema is GeneratorEMA's
    state_dict (models/ema.py: {"model": G's state_dict, "updates": steps averaged})."""
    return entry["model"] if set(entry) == {"model", "updates"} else entry


@torch.no_grad()
def generate(models: GanModels, z: np.ndarray, labels: Optional[np.ndarray], batch: int = 256) -> torch.Tensor:
    """G(z, labels) in batches: (n, C, H, W) float32 in [-1, 1] on the CPU. Eval-mode BatchNorm
    computes each image alone, so the batch split never changes an image."""
    dev = next(models.G.parameters()).device
    zt = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(dev)
    lt = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(dev)
    out = [models.G(zt[i : i + batch], None if lt is None else lt[i : i + batch]).float()
           for i in range(0, len(zt), batch)]
    return torch.cat(out).cpu().clamp_(-1, 1)


def sample(models: GanModels, n: int, seed: int = 0, label: Optional[int] = None, truncation: float = 1.0,
           batch: int = 256) -> torch.Tensor:
    """(n, C, H, W) float32 in [-1, 1]. Labels: `label` for all, else cycling 0..K-1 (noise.class_ids)."""
    if not 1 <= n <= MAX_SAMPLES:
        raise ConfigError(f"--n must be between 1 and {MAX_SAMPLES}, got {n}")
    k = models.num_classes
    if label is not None and not k:
        raise ConfigError("--label was given but this generator is unconditional (no classes)")
    if label is not None and not 0 <= label < k:
        raise ConfigError(f"--label must be in 0..{k - 1} for this generator, got {label}")
    z = noise.latent(n, models.latent_dim, seed, truncation, models.n_cont)
    return generate(models, z, noise.class_ids(n, k, None if label is None else [label]), batch)


@dataclass(frozen=True)
class SampleRecord:
    """What made an output; fields that do not apply stay None and are left out of the JSON."""
    checkpoint: str
    weights: tuple[str, ...]
    truncation: float
    seed: Optional[int] = None
    n: Optional[int] = None
    label: Optional[int] = None
    picture: Optional[str] = None
    rows: Optional[str] = None
    cols: Optional[str] = None
    seeds: Optional[tuple[int, ...]] = None
    noise: str = NOISE_RECIPE
    truncation_rule: str = TRUNCATION_RULE

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v is not None}


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
    if p.suffix == ".gif":
        raise ConfigError("--out FILE.gif animates a picture: add --picture interpolation|classes|codes")
    raise ConfigError(f"--out must be {OUT_FORMATS}; got {p.name}")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] (N, C, H, W) -> uint8 (N, H, W) gray or (N, H, W, 3) RGB, as PNGs store them."""
    x = image_files.to_pixels(images.detach().float().cpu().numpy())
    return x[..., 0] if x.shape[-1] == 1 else x


def png_names(n: int) -> list[str]:
    return [f"{i:0{max(5, len(str(n - 1)))}d}.png" for i in range(n)]


def sidecar(out: str | Path) -> Path:
    """OUT.json beside the output (beside a folder too, so a folder holds only images)."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def write_samples(images: torch.Tensor, out: str | Path, record: Optional[SampleRecord] = None) -> Path:
    kind = out_kind(out)
    out = Path(out)
    meta = record.to_json() if record is not None else None
    pngs = (image_files.png_bytes(px, meta) for px in image_files.to_pixels(images.numpy()))
    if kind == "dir":
        out.mkdir(parents=True, exist_ok=True)
        for name, data in zip(png_names(len(images)), pngs):
            (out / name).write_bytes(data)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "npy":
        np.save(out, images.numpy().astype(np.float32))
    elif kind == "png":
        out.write_bytes(image_files.png_bytes(image_files.grid(images.numpy()), meta))
    elif kind == "zip":  # written beside, then renamed, so a half-written archive is never left as OUT
        # PNGs are already compressed: storing them is as small and much faster.
        with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in zip(png_names(len(images)), pngs):
                zf.writestr(name, data)
    if meta is not None:
        sidecar(out).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return out
