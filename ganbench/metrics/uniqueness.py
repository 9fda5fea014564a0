"""The uniqueness check end to end (nearest.py measures, nearest_grid.py draws): the spaces
that can run on what the evaluation holds, the grid when asked, and the protocol that says
how the numbers were made. The `nearest` metric family (compute.py) names the values."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ganbench.metrics import ssim as S
from ganbench.metrics.nearest import CALIBRATION_SEED, NearestJob, Space, feature_space, pixel_spaces
from ganbench.metrics.nearest_grid import save_nearest_grid


@dataclass
class Uniqueness:
    n: int  # generated samples checked
    spaces: list[Space] = field(default_factory=list)
    protocol: dict = field(default_factory=dict)


def check(job: NearestJob, backbone: str, gen_features: Optional[np.ndarray],
          train_features: Optional[np.ndarray]) -> Uniqueness:
    """Pixel spaces when the job has pixels, the feature space when both sides have features."""
    cfg = job.cfg
    n = len(job.gen) if job.gen is not None else min(cfg.n, len(gen_features) if gen_features is not None else 0)
    out = Uniqueness(n)
    p = out.protocol
    p["nearest_threshold_rule"] = (
        f"a sample is too close when its nearest training image is nearer than the {cfg.quantile:g} quantile of "
        f"held-out real images' nearest distances (leave-one-out: each of min(n, N-1) training images, seed "
        f"{CALIBRATION_SEED}, against the other training images); too_close ~ {cfg.quantile:g} means no more "
        "copying than real data shows")
    if job.gen is not None and job.train is not None:
        mse, dssim, match = pixel_spaces(job.gen, job.train, cfg)
        out.spaces += [mse, dssim]
        h, w = job.gen.shape[-2:]
        p.update(nearest_train=job.train.what, nearest_pixels="mean squared difference of images in [-1, 1], "
                 "exhaustive over the training set", nearest_ssim=f"1 - {S.describe(h, w)}, among each image's "
                 f"{min(max(cfg.k, cfg.rerank), job.train.n - 1)} MSE-nearest training images")
        if cfg.grid:
            png, sidecar = save_nearest_grid(job.gen, job.train, match, out.spaces, cfg.rows, cfg.grid)
            p.update(nearest_grid=str(png), nearest_grid_sidecar=str(sidecar), nearest_grid_layout=
                     f"rows: the {min(cfg.rows, n)} samples closest to a training image (MSE) first; columns: "
                     f"the sample, then its {match.index.shape[1]} MSE-nearest training images")
    else:
        p["nearest_pixels_skipped"] = job.why_no_pixels or "no images on one side"
    if gen_features is not None and train_features is not None and n > 0:
        out.spaces.append(feature_space(backbone, gen_features[:n], train_features, cfg.quantile))
        p["nearest_features"] = f"cosine distance of {backbone} features"
    else:
        p["nearest_features_skipped"] = "features missing on one side"
    p.update({f"nearest_searched_{s.name}": s.searched for s in out.spaces})
    p.update(nearest_n=n, nearest_k=cfg.k, nearest_quantile=cfg.quantile,
             nearest_n_held_out=min((len(s.real) for s in out.spaces), default=0))
    return out
