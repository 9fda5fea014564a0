"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 (Bińkowski et al. 2018), averaged over random subsets.

Unbiased means its expectation is 0 when both sets come from one distribution, so
(unlike FID) small sample counts do not bias it upward; it can come out slightly
negative. Estimator as in StyleGAN2-ADA's metrics/kernel_inception_distance.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganbench.errors import ConfigError


@dataclass(frozen=True)
class KidResult:
    mean: float
    std: float
    subsets: int
    subset_size: int  # after clipping to min(n_real, n_gen)
    clipped: bool  # True when the requested subset size was larger than a side


def kid(real, gen, subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> KidResult:
    x, y = np.asarray(gen, np.float64), np.asarray(real, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ConfigError(f"KID needs (N, D) features of equal D, got {x.shape} and {y.shape}")
    if subsets < 1:
        raise ConfigError(f"eval.kid_subsets must be >= 1, got {subsets}")
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ConfigError(f"KID needs at least 2 samples per side, got {x.shape[0]} and {y.shape[0]}")
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(x.shape[0], m, replace=False)]
        b = y[rng.choice(y.shape[0], m, replace=False)]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        # Within-set terms leave out the diagonal (k(x, x)): that is what makes it unbiased.
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[i] = within - 2 * kxy.mean()
    return KidResult(float(values.mean()), float(values.std()), subsets, m, m < subset_size)
