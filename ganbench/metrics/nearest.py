"""Uniqueness: does the generator copy its training set?

For n generated samples, the nearest training image of each, in three spaces:
  mse      mean squared pixel difference (images in [-1, 1]), over the whole training set;
  ssim     1 - SSIM, among each sample's `rerank` MSE-nearest training images (SSIM over all
           pairs costs ~100x a matmul; an exact or near copy is MSE-near, so it is among them);
  <bb>     cosine distance of the evaluation backbone's features, over the training images
           whose features the evaluation holds (its reference statistics).

A distance alone has no scale, so each space is calibrated on real data: m training images
are held out one at a time (leave-one-out: each one's nearest *other* training image), and
the threshold is the `quantile` of those held-out distances. The reported share
`too_close` is the share of generated samples nearer to a training image than that: a
generator that copies no more than fresh real images resemble the training set gives about
`quantile` (0.05); copies push it towards 1. Mode collapse onto a dense region of the data
(all "1"s in MNIST) raises it too, so the grid is there to look at.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ganbench.errors import ConfigError
from ganbench.metrics import ssim as S
from ganbench.metrics.backbones import quantize_uint8
from ganbench.metrics.neighbours import cosine_matrix, knn, mse_matrix
from ganbench.metrics.real_images import ImageSet

CALIBRATION_SEED = 0
TRAIN_BATCH = 500  # training images per streamed batch
PAIR_CHUNK = 256  # queries whose candidates are re-measured at once (x rerank images each)


@dataclass(frozen=True)
class NearestConfig:
    k: int = 4  # training images shown beside each sample in the grid
    n: int = 1000  # generated samples checked (the pixel search costs n x training-set size)
    quantile: float = 0.05  # the held-out real distances' quantile that sets the threshold
    rerank: int = 10  # MSE-nearest candidates re-ranked by SSIM
    rows: int = 16  # grid rows: the samples closest to a training image first
    grid: Optional[str] = None  # PNG path (a .json sidecar beside it); None = no grid

    def __post_init__(self):
        if self.k < 1 or self.rerank < 1 or self.rows < 1:
            raise ConfigError(f"nearest: k, rerank and rows must be >= 1 (got {self.k}, {self.rerank}, {self.rows})")
        if self.n < 1:
            raise ConfigError(f"nearest: n (samples checked) must be >= 1, got {self.n}")
        if not 0 < self.quantile < 1:
            raise ConfigError(f"nearest: quantile must be in (0, 1), got {self.quantile}")


@dataclass(frozen=True)
class NearestJob:
    """What the check runs on: the first samples of the scored set and the training images.
    Either may be None (a statistics file has no pixels); `why_no_pixels` then says why."""
    cfg: NearestConfig
    gen: Optional[torch.Tensor] = None  # (n, C, H, W) in [-1, 1]
    train: Optional[ImageSet] = None
    why_no_pixels: str = ""


@dataclass(frozen=True)
class Space:
    name: str  # mse | ssim | the backbone's name
    gen: np.ndarray  # each checked sample's distance to its nearest training image
    real: np.ndarray  # each held-out training image's distance to its nearest other one
    quantile: float
    searched: int  # training images searched

    @property
    def threshold(self) -> float:
        return float(np.quantile(self.real, self.quantile))

    @property
    def flagged(self) -> np.ndarray:
        return self.gen < self.threshold

    @property
    def too_close(self) -> float:
        return float(self.flagged.mean())


@dataclass(frozen=True)
class PixelMatch:
    """Each checked sample's k MSE-nearest training images, ascending by MSE."""
    index: np.ndarray  # (n, k) positions in the training ImageSet
    mse: np.ndarray  # (n, k), measured exactly
    ssim: np.ndarray  # (n, k) SSIM of the same pairs


def calibration_positions(total: int, m: int) -> np.ndarray:
    return np.sort(np.random.default_rng(CALIBRATION_SEED).choice(total, m, replace=False))


def _remeasure(queries: torch.Tensor, train: ImageSet, index: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Exact MSE and SSIM of each query against its candidate training images (read a chunk
    at a time: all candidates of 2k queries at 128 px would take gigabytes)."""
    mse, sim = [], []
    for s in range(0, len(queries), PAIR_CHUNK):
        idx = index[s : s + PAIR_CHUNK].numpy()
        pos = np.unique(idx)
        c = train.take(pos)[torch.as_tensor(np.searchsorted(pos, idx))]  # (q, M, C, H, W)
        q = queries[s : s + PAIR_CHUNK, None].expand_as(c)
        mse.append((q - c).pow(2).flatten(2).mean(2))
        sim.append(S.ssim(q.reshape(-1, *q.shape[2:]), c.reshape(-1, *c.shape[2:])).view(c.shape[:2]))
    return torch.cat(mse).numpy(), torch.cat(sim).numpy()


def pixel_spaces(gen: torch.Tensor, train: ImageSet, cfg: NearestConfig) -> tuple[Space, Space, PixelMatch]:
    """(mse, ssim, the samples' k MSE-nearest) with leave-one-out calibration."""
    if train.n < 2:
        raise ConfigError(f"the nearest-image check needs at least 2 training images, {train.what} has {train.n}")
    if gen.shape[1:] != (shape := train.take(np.array([0])).shape[1:]):
        raise ConfigError(f"the nearest-image check compares pixels: samples are {tuple(gen.shape[1:])}, "
                          f"training images {tuple(shape)}; use images of one size and channel count")
    cal = calibration_positions(train.n, min(len(gen), train.n - 1))
    # Samples are compared as saved 8-bit images, like the real ones they are measured against.
    queries = torch.cat([quantize_uint8(gen.float()), train.take(cal)])
    exclude = torch.cat([torch.full((len(gen),), -1), torch.as_tensor(cal)])
    m = min(max(cfg.k, cfg.rerank), train.n - 1)  # leave-one-out leaves n - 1 keys per held-out query
    nb = knn(queries, train.stream(TRAIN_BATCH), m, mse_matrix, exclude)
    mse, sim = _remeasure(queries, train, nb.index)
    order = np.argsort(mse, axis=1, kind="stable")
    idx, mse, sim = (np.take_along_axis(a, order, 1) for a in (nb.index.numpy(), mse, sim))
    g = len(gen)
    dssim = 1 - sim.max(axis=1)
    spaces = (Space("mse", mse[:g, 0], mse[g:, 0], cfg.quantile, train.n),
              Space("ssim", dssim[:g], dssim[g:], cfg.quantile, train.n))
    k = min(cfg.k, m)
    return (*spaces, PixelMatch(idx[:g, :k], mse[:g, :k], sim[:g, :k]))


def feature_space(name: str, gen: np.ndarray, train: np.ndarray, quantile: float) -> Space:
    """Cosine distance to the nearest training feature, leave-one-out calibrated."""
    if len(train) < 2:
        raise ConfigError(f"the nearest-image check needs at least 2 training features, got {len(train)}")
    cal = calibration_positions(len(train), min(len(gen), len(train) - 1))
    t = torch.as_tensor(np.asarray(train, np.float32))
    queries = torch.cat([torch.as_tensor(np.asarray(gen, np.float32)), t[cal]])
    exclude = torch.cat([torch.full((len(gen),), -1), torch.as_tensor(cal)])
    d = knn(queries, t.split(4096), 1, cosine_matrix, exclude).dist[:, 0].numpy().astype(np.float64)
    return Space(name, d[: len(gen)], d[len(gen) :], quantile, len(train))
