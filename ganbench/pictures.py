"""Pictures people would rather look at than read, drawn from a generator with the one noise
recipe (ganbench/noise.py), so each picture can be redrawn from its record:

- interpolation: one row per pair of seeds, walking from image 0 of the first seed to image 0
  of the second (slerp), left to right;
- classes: one row per class (conditional models), the same noise in each column, so a
  column shows one "style" across the classes;
- codes: one row per InfoGAN continuous code, swept from -span to +span (the codes are
  N(0, 1) in training) with every other input fixed.

Each kind is a function (GanModels, PictureSpec) -> Picture in PICTURES; `draw` runs one kind
for several weight sets (G, G_ema) and puts them side by side. The CLI writes them
(`ganbench sample --picture`); training can log the same Picture as an MLflow artifact."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

import numpy as np
import torch

from ganbench import image_files, noise
from ganbench.errors import ConfigError
from ganbench.models import GanModels
from ganbench.registry import Registry
from ganbench.sample import SampleRecord, generate, sidecar

MAX_IMAGES = 10_000  # one picture; beyond that nobody looks at it


@dataclass(frozen=True)
class PictureSpec:
    seed: int = 0  # classes, codes: the noise; interpolation without seeds: pairs from here
    seeds: tuple[int, ...] = ()  # interpolation: (a, b, c, d, ...) -> rows a->b, c->d, ...
    steps: int = 8  # interpolation, codes: columns, both ends included
    cols: int = 8  # classes: samples per class
    label: Optional[int] = None  # interpolation, codes: the class (categorical code); default 0
    truncation: float = 1.0
    span: float = 2.0  # codes: each code runs over [-span, span]

    def __post_init__(self):
        noise.check_truncation(self.truncation)
        if len(self.seeds) % 2:
            raise ConfigError(f"--seeds are taken in pairs (one row per pair), got {len(self.seeds)} seeds")
        if not 2 <= self.steps <= 256:
            raise ConfigError(f"--steps must be in 2..256, got {self.steps}")
        if not 1 <= self.cols <= 256:
            raise ConfigError(f"--cols must be in 1..256, got {self.cols}")
        if not (math.isfinite(self.span) and self.span > 0):
            raise ConfigError(f"--span must be a positive number, got {self.span}")

    def pair_seeds(self) -> tuple[int, ...]:
        """Interpolation's seeds: as given, else four pairs from `seed` (seed -> seed+1, ...)."""
        return self.seeds or tuple(self.seed + i for i in range(8))


@dataclass(frozen=True)
class Picture:
    images: torch.Tensor  # (S, R, K, C, H, W) in [-1, 1]: S weight sets side by side, R rows, K columns
    names: tuple[str, ...]  # the weight set of each of the S panels
    rows: str  # what a row is
    cols: str  # what a column is

    def grid(self) -> tuple[np.ndarray, int]:
        """(images, columns) of the PNG: each row holds every panel's row, a blank image between panels."""
        s, r, k, *shape = self.images.shape
        blank = torch.full((r, 1, *shape), -1.0)  # black, like the grid's padding: a wider gap
        parts = [self.images[0]]
        for panel in self.images[1:]:
            parts += [blank, panel]
        row_major = torch.cat(parts, dim=1)  # (R, S*K + S-1, C, H, W)
        return row_major.reshape(-1, *shape).numpy(), s * k + s - 1

    def frames(self) -> list[np.ndarray]:
        """GIF frames: frame t is column t of every row, the panels side by side."""
        s, r, k, *shape = self.images.shape
        return [image_files.grid(self.images[:, :, t].transpose(0, 1).reshape(-1, *shape).numpy(), s)
                for t in range(k)]


PictureFn = Callable[[GanModels, PictureSpec], Picture]
PICTURES: Registry[PictureFn] = Registry("picture")


def _render(models: GanModels, z: np.ndarray, labels: Optional[np.ndarray], rows: int) -> torch.Tensor:
    if len(z) > MAX_IMAGES:
        raise ConfigError(f"this picture would hold {len(z)} images; at most {MAX_IMAGES}")
    images = generate(models, z, labels)
    return images.reshape(1, rows, -1, *images.shape[1:])


def _fixed_label(models: GanModels, spec: PictureSpec, n: int) -> Optional[np.ndarray]:
    """`spec.label` for every image, else class 0 (the class image 0 of any seed gets); None without classes."""
    one = noise.class_ids(1, models.num_classes, None if spec.label is None else [spec.label])
    return None if one is None else np.repeat(one, n)


@PICTURES.register("interpolation", "rows: pairs of seeds; columns: steps from one to the other (slerp)")
def interpolation(models: GanModels, spec: PictureSpec) -> Picture:
    seeds = spec.pair_seeds()
    ends = [noise.latent(1, models.latent_dim, s, spec.truncation, models.n_cont)[0] for s in seeds]
    z = np.concatenate([noise.slerp(a, b, spec.steps) for a, b in zip(ends[::2], ends[1::2])])
    rows = len(seeds) // 2
    pairs = ", ".join(f"{a}->{b}" for a, b in zip(seeds[::2], seeds[1::2]))
    return Picture(_render(models, z, _fixed_label(models, spec, len(z)), rows), ("G",),
                   f"seed pairs {pairs}", f"{spec.steps} steps along the great circle, both ends included")


@PICTURES.register("classes", "rows: classes; columns: the same noise in every row (conditional models)")
def class_rows(models: GanModels, spec: PictureSpec) -> Picture:
    k = models.num_classes
    if not k:
        raise ConfigError("--picture classes needs a generator with classes (cdcgan, infogan); this one has none")
    z = np.tile(noise.latent(spec.cols, models.latent_dim, spec.seed, spec.truncation, models.n_cont), (k, 1))
    labels = np.repeat(np.arange(k, dtype=np.int64), spec.cols)
    return Picture(_render(models, z, labels, k), ("G",), f"classes 0..{k - 1}",
                   f"images 0..{spec.cols - 1} of seed {spec.seed}")


@PICTURES.register("codes", "rows: InfoGAN continuous codes; columns: the code swept from -span to +span")
def code_traversal(models: GanModels, spec: PictureSpec) -> Picture:
    c, d = models.n_cont, models.latent_dim
    if not (models.info and c):
        raise ConfigError("--picture codes needs an InfoGAN generator with continuous codes (model.n_cont > 0); "
                          "this one has none")
    base = noise.latent(1, d, spec.seed, spec.truncation, c)
    z = np.repeat(base, c * spec.steps, axis=0)
    values = np.linspace(-spec.span, spec.span, spec.steps, dtype=np.float32)
    for code in range(c):
        z[code * spec.steps : (code + 1) * spec.steps, d - c + code] = values
    return Picture(_render(models, z, _fixed_label(models, spec, len(z)), c), ("G",),
                   f"continuous codes 0..{c - 1} (z[{d - c}:{d}]) of image 0 of seed {spec.seed}",
                   f"{spec.steps} values from {-spec.span:g} to {spec.span:g}")


def side_by_side(pictures: Mapping[str, Picture]) -> Picture:
    """One picture per weight set (e.g. G_ema, G), same rows and columns, as panels of one."""
    first = next(iter(pictures.values()))
    if any(p.images.shape != first.images.shape for p in pictures.values()):
        raise ConfigError("pictures side by side must have the same rows and columns")
    cols = first.cols if len(pictures) == 1 else f"{first.cols}; panels {', '.join(pictures)} left to right"
    return Picture(torch.cat([p.images for p in pictures.values()]), tuple(pictures), first.rows, cols)


def draw(kind: str, generators: Mapping[str, GanModels], spec: PictureSpec) -> Picture:
    """Picture `kind` of every generator (weight-set name -> models), side by side."""
    fn = PICTURES.get(kind)
    return side_by_side({name: fn(models, spec) for name, models in generators.items()})


def check_out(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix not in (".png", ".gif"):
        raise ConfigError(f"--out for a --picture must be FILE.png (a grid) or FILE.gif (an animation); got {out.name}")
    return out


def write_picture(picture: Picture, out: str | Path, record: Optional[SampleRecord] = None) -> Path:
    """FILE.png: the grid; FILE.gif: the columns as frames (a sweep becomes an animation).
    The record goes inside the file and beside it (OUT.json), as for samples."""
    out = check_out(out)
    meta = None if record is None else record.to_json()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        images, cols = picture.grid()
        out.write_bytes(image_files.png_bytes(image_files.grid(images, cols), meta))
    else:
        out.write_bytes(image_files.gif_bytes(picture.frames(), meta))
    if meta is not None:
        sidecar(out).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return out
