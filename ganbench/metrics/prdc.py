"""Precision and recall (Kynkäänniemi et al. 2019, k=3) and density and coverage (Naeem
et al. 2020, k=5): how much of the generated set lies on the real manifold (fidelity) and
how much of the real manifold the generated set reaches (diversity), as separate numbers
where FID mixes them into one.

Each set's manifold is the union of balls around its points, the radius of a ball being the
distance to that point's k-th nearest neighbour in the same set (Euclidean, in backbone
feature space):
    precision = share of fakes inside the real manifold
    recall    = share of reals inside the fake manifold
    density   = mean over fakes of (number of real balls holding it) / k   (can exceed 1)
    coverage  = share of reals whose ball holds at least one fake
Implemented as in the authors' released code (clovaai/generative-evaluation-prdc), with
distances computed in chunks so 10k x 10k never sits in memory at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganbench.errors import ConfigError

PR_K = 3
DC_K = 5
CHUNK = 1024


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def _as_tensor(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if t.ndim != 2:
        raise ConfigError(f"precision/recall need (N, D) features, got shape {tuple(t.shape)}")
    return t


def knn_radii(x: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """Distance from each point to its k-th nearest *other* point, for each k in ks."""
    kmax = max(ks)
    if x.shape[0] <= kmax:
        raise ConfigError(f"precision/recall with k={kmax} need more than {kmax} samples per set, got {x.shape[0]}")
    out = {k: torch.empty(x.shape[0]) for k in ks}
    for i in range(0, x.shape[0], CHUNK):
        d = torch.cdist(x[i : i + CHUNK], x)
        near = d.topk(kmax + 1, dim=1, largest=False).values  # column 0 is the point itself
        for k in ks:
            out[k][i : i + CHUNK] = near[:, k]
    return out


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor):
    """Yield, per chunk of points, the boolean (chunk, n_centres) 'point in centre's ball'."""
    for i in range(0, points.shape[0], CHUNK):
        yield torch.cdist(points[i : i + CHUNK], centres) < radii[None, :]  # strict, as the released code


def prdc(real, fake, pr_k: int = PR_K, dc_k: int = DC_K) -> PRDC:
    r, f = _as_tensor(real), _as_tensor(fake)
    if r.shape[1] != f.shape[1]:
        raise ConfigError(f"precision/recall need features of equal dimension, got {r.shape[1]} and {f.shape[1]}")
    real_r = knn_radii(r, (pr_k, dc_k))
    fake_r = knn_radii(f, (pr_k,))[pr_k]
    in_real_pr = in_real_dc = 0
    covered = torch.zeros(r.shape[0], dtype=torch.bool)
    for inside_pr, inside_dc in zip(_inside(f, r, real_r[pr_k]), _inside(f, r, real_r[dc_k])):
        in_real_pr += int(inside_pr.any(dim=1).sum())
        in_real_dc += int(inside_dc.sum())
        covered |= inside_dc.any(dim=0)
    in_fake = sum(int(m.any(dim=1).sum()) for m in _inside(r, f, fake_r))
    return PRDC(precision=in_real_pr / f.shape[0], recall=in_fake / r.shape[0],
                density=in_real_dc / (dc_k * f.shape[0]), coverage=float(covered.float().mean()))
