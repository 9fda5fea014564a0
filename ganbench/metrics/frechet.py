"""Fréchet distance between two Gaussians fitted to features (the "F" in FID).

The formula and its numerical guards are pytorch-fid's `calculate_frechet_distance`
(0.3.0), so numbers from the same features match pytorch-fid to float precision:
    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy import linalg

from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.metrics")


def check_fid_samples(n: int, dim: int, what: str = "") -> None:
    """With n <= dim the sample covariance has rank < dim: sqrtm of a singular product
    is garbage dressed up as a number, so we refuse instead of reporting it."""
    if n <= dim:
        where = f" ({what})" if what else ""
        raise ConfigError(
            f"FID needs more samples than feature dimensions: got {n} samples for {dim}-dim "
            f"features{where}; use n >= {dim + 1} or KID"
        )


def stats_from_features(feats) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> (mu (D,), sigma (D, D)) in float64, as pytorch-fid computes them."""
    from ganbench.metrics.stats_cache import RealStats

    x = np.asarray(feats)
    if x.ndim != 2:
        raise ConfigError(f"features must be a 2-D (N, D) array, got shape {x.shape}")
    check_fid_samples(x.shape[0], x.shape[1])
    s = RealStats.from_features(x, {})
    return s.mu, s.sigma


def _sqrtm(a: np.ndarray) -> np.ndarray:
    # pytorch-fid passes disp=False, which SciPy >= 1.16 deprecates (the result is the same).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out = linalg.sqrtm(a)
    return out[0] if isinstance(out, tuple) else out


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ConfigError(f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} "
                          f"vs {sigma2.shape} (were both computed with the same backbone?)")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        # pytorch-fid's fix for a (nearly) singular product: nudge both diagonals.
        log.warning("fid: singular covariance product; adding %g to the diagonals (as pytorch-fid does)", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        # Round-off gives a tiny imaginary part; a large one means the input is broken.
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ConfigError(f"fid: sqrtm has an imaginary component {np.max(np.abs(covmean.imag)):.3g}; "
                              "the covariances are not valid (NaN/inf features?)")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
