"""The one noise recipe: every way of sampling a generator (`ganbench sample`, the Python API,
ONNX files, the HTTP endpoint, the pictures) draws its inputs here, so the same model, seed,
labels and truncation give the same images everywhere.

numpy, not torch: the Serve replicas import no torch, and an ONNX user needs only numpy to
reproduce a sample from its seed. The stream fills z row after row, so row i depends only on
(seed, i): the first k images of a request for n are the images of a request for k (the
batch size never changes an image).

Truncation is psi-scaling towards the mean, z' = psi * z (the StyleGAN psi rule; the mean of
z ~ N(0, I) is 0), not BigGAN's resampling of |z| > threshold: the image moves smoothly
towards the mean image as psi falls, so one seed at several psi shows the trade-off; psi=1 is
no truncation and psi=0 is the mean image; and no rejection loop means row i still depends
only on (seed, i). InfoGAN's continuous codes (the last n_cont entries of z) are the factors
a user reads and sweeps, so they are left unscaled."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from ganbench.errors import ConfigError

# How anyone reproduces a sample from its seed (also in every exported model's metadata).
NOISE_RECIPE = "np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)"
LABEL_RULE = "np.arange(n) % num_classes unless labels are given (n ids, or one id for all)"
TRUNCATION_RULE = "psi-scaling: z[:, :latent_dim - n_cont] *= psi, 0 <= psi <= 1 (1 = none, 0 = the mean image)"


def check_truncation(psi) -> float:
    """psi as a float in [0, 1]; anything else is a one-line ConfigError."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float, np.floating, np.integer)):
        raise ConfigError(f"truncation must be a number in 0..1 (1 = none), got {psi!r}")
    if not (math.isfinite(psi) and 0 <= psi <= 1):
        raise ConfigError(f"truncation must be in 0..1 (1 = none, 0 = the mean image), got {psi!r}")
    return float(psi)


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def latent(n: int, latent_dim: int, seed: int, truncation: float = 1.0, n_cont: int = 0) -> np.ndarray:
    """float32 (n, latent_dim): row i is the noise of image i for `seed`, truncated by psi."""
    psi = check_truncation(truncation)
    z = np.random.default_rng(check_seed(seed)).standard_normal((n, latent_dim), dtype=np.float32)
    if psi != 1.0:
        z[:, : latent_dim - n_cont] *= np.float32(psi)
    return z


def class_ids(n: int, num_classes: int, labels: Optional[Sequence[int]] = None) -> Optional[np.ndarray]:
    """int64 (n,) class (or InfoGAN categorical code) ids, None for a model without classes.
    No labels: 0, 1, ..., K-1, 0, 1, ... (every class equally often); one id: all of that class."""
    if not num_classes:
        if labels is not None:
            raise ConfigError("labels were given but this generator is unconditional (no classes)")
        return None
    if labels is None:
        return np.arange(n, dtype=np.int64) % num_classes
    ids = np.asarray(labels)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or len(ids) not in (1, n):
        raise ConfigError(f"labels must be a list of n={n} class ids (or one id for all), got {labels!r}"[:200])
    bad = sorted(set(ids[(ids < 0) | (ids >= num_classes)].tolist()))
    if bad:
        raise ConfigError(f"labels must be in 0..{num_classes - 1} for this generator, got {bad}")
    return np.broadcast_to(ids.astype(np.int64), (n,)).copy()


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """(steps, D) points from a to b along the great circle. Spherical, not linear: a straight
    line between two Gaussian samples passes through norms G never saw in training (White
    2016, "Sampling Generative Networks"), which shows as washed-out middle frames."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    cos = np.dot(a64, b64) / max(np.linalg.norm(a64) * np.linalg.norm(b64), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:  # (anti-)parallel within float error: the arc is a line
        return ((1 - t) * a64 + t * b64).astype(np.float32)
    return ((np.sin((1 - t) * omega) * a64 + np.sin(t * omega) * b64) / np.sin(omega)).astype(np.float32)
