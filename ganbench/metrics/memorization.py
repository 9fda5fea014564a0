"""Memorisation: how close each generated sample is to its nearest training image, in
backbone feature space, and MiFID, which turns that into a penalty on FID.

MiFID as defined for Kaggle's "Generative Dog Images" competition (2019, evaluation page):
    d_ij = 1 - cos(f_gi, f_rj)                      cosine distance, generated i vs real j
    d    = mean_i min_j d_ij                        mean distance to the nearest real image
    d_thr = d if d < eps else 1                     eps = 0.15 in that competition
    MiFID = FID / (d_thr + 1e-15)
Kaggle's released scorer (and torchmetrics' port) takes |cos|; for Inception pool3
features, which are non-negative, that is the same number. Our classifier features can be
negative, where |cos| would call opposite vectors identical, so we keep the definition.
"""
from __future__ import annotations

import numpy as np
import torch

MIFID_EPS = 0.15
MIFID_FLOOR = 1e-15


def nearest_cosine_distance(gen, real, chunk: int = 512) -> np.ndarray:
    """(N_gen,) cosine distance from each generated feature to its nearest real feature.
    Chunked so 10k x 60k never materialises at once."""
    g = torch.nn.functional.normalize(torch.as_tensor(np.asarray(gen), dtype=torch.float32), dim=1)
    r = torch.nn.functional.normalize(torch.as_tensor(np.asarray(real), dtype=torch.float32), dim=1)
    out = torch.empty(g.shape[0])
    for i in range(0, g.shape[0], chunk):
        out[i : i + chunk] = 1 - (g[i : i + chunk] @ r.T).max(dim=1).values
    return out.clamp_(min=0).numpy().astype(np.float64)  # round-off can dip below 0


def memorization_summary(dist: np.ndarray, threshold: float = MIFID_EPS) -> dict[str, float]:
    return {"mean": float(dist.mean()), "min": float(dist.min()), "p5": float(np.percentile(dist, 5)),
            "frac_below": float((dist < threshold).mean())}


def mifid(fid: float, mean_distance: float, eps: float = MIFID_EPS) -> float:
    if mean_distance >= eps:
        return float(fid)  # Kaggle divides by (1 + 1e-15): the same number up to round-off
    return float(fid / (mean_distance + MIFID_FLOOR))
