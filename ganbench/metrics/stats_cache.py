"""Reference (real-image) statistics: computed once per protocol, then read from disk.

Key = hash of (reference data config, backbone name + weights hash + resize + quantise,
n_real and the subset seed). The file is what `python -m pytorch_fid --save-stats` writes
(`mu`, `sigma`, so pytorch-fid reads ours) plus `features` (float32, for KID and
memorisation) and `protocol` (a JSON string: what the statistics are of).

Feature extraction is split across ranks (each takes a contiguous share of the fixed
image list, `gather` puts the shares back in order) and only rank 0 writes the file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ganbench.atomic import atomic_path
from ganbench.config import DataConfig
from ganbench.data.datasets import parse_name
from ganbench.errors import DataError
from ganbench.metrics.backbones import Backbone, embed_batches
from ganbench.metrics.classifier import default_cache_dir
from ganbench.metrics.real_images import iter_images, load_source, rank_range, select_indices
from ganbench.metrics.names import count_tag

log = logging.getLogger("ganbench.metrics")

STATS_VERSION = 1
SUBSET_SEED = 0  # the n_real subset is part of the protocol, not of eval.seed
# DataConfig fields that do not change which pixels the reference set holds.
_NOT_PIXELS = {"batch_size", "loader", "num_workers", "download", "use_labels", "hflip", "vflip", "cache"}

Gather = Callable[[torch.Tensor], torch.Tensor]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


@dataclass
class RealStats:
    mu: np.ndarray
    sigma: np.ndarray
    features: Optional[np.ndarray]  # float32 (N, D); None for pytorch-fid files
    protocol: dict
    path: Optional[Path] = None
    hit: bool = False  # read from the cache rather than computed

    @property
    def n(self) -> int:
        return int(self.protocol.get("n_real", -1 if self.features is None else len(self.features)))

    @classmethod
    def from_features(cls, feats, protocol: dict, **kw) -> "RealStats":
        """The one place mu and sigma are computed (float64, as pytorch-fid does). Any n is
        accepted: whether FID may use them (n > dim) is decided by the metric, not here."""
        x = np.asarray(feats, np.float64)
        f = x.astype(np.float32)  # kept for KID, precision/recall and memorisation
        sigma = np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))
        return cls(x.mean(axis=0), np.atleast_2d(sigma), f, {"n_real": len(f), **protocol}, **kw)


def reference_config(data_cfg: DataConfig, split: str = "") -> DataConfig:
    """The data config the reference set is read with: no flips, the requested split."""
    return replace(data_cfg, split=split or data_cfg.split, hflip=False, vflip=False)


def data_identity(cfg: DataConfig) -> dict:
    d = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in _NOT_PIXELS}
    if d.get("root"):
        d["root"] = str(Path(d["root"]).expanduser().resolve())
    return d


def stats_key(ref_cfg: DataConfig, backbone: Backbone, n_real: int) -> str:
    ident = {"version": STATS_VERSION, "data": data_identity(ref_cfg), "backbone": backbone.name,
             "weights_hash": backbone.weights_hash, "resize": backbone.resize, "quantize": backbone.quantize,
             "n_real": n_real, "subset_seed": SUBSET_SEED}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    dataset = parse_name(ref_cfg.name)[0]
    n = count_tag(n_real) if n_real else "all"
    return f"{dataset}-{ref_cfg.split}-{ref_cfg.resolution}px-{backbone.name}-{n}-{digest}"


def save_stats(path: str | Path, mu, sigma, features=None, protocol: Optional[dict] = None) -> Path:
    """Write atomically: a half-written cache file would poison every later evaluation."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"mu": np.asarray(mu, np.float64), "sigma": np.asarray(sigma, np.float64)}
    if features is not None:
        arrays["features"] = np.asarray(features, np.float32)
    if protocol is not None:
        arrays["protocol"] = np.array(json.dumps(protocol, sort_keys=True, default=str))
    with atomic_path(path, suffix=".npz") as tmp:  # np.savez appends .npz to a name without it
        np.savez(tmp, **arrays)  # features barely compress; savez is ~10x faster than savez_compressed
    return path


def load_stats(path: str | Path) -> RealStats:
    """Read a statistics .npz (ours or pytorch-fid's); DataError if it is not one."""
    path = Path(path)
    expected = "an .npz with mu (D,) and sigma (D, D) [and features (N, D)], as `ganbench fid --save-stats` " \
               "or `python -m pytorch_fid --save-stats` write"
    try:
        with np.load(path, allow_pickle=False) as f:
            if "mu" not in f or "sigma" not in f:
                raise DataError(f"{path}: no mu/sigma arrays (has {', '.join(f.files) or 'nothing'}); expected {expected}")
            mu, sigma = f["mu"].astype(np.float64), f["sigma"].astype(np.float64)
            feats = f["features"].astype(np.float32) if "features" in f else None
            protocol = json.loads(str(f["protocol"])) if "protocol" in f else {}
    except DataError:
        raise
    except Exception as e:  # not a zip, truncated, pickled objects
        raise DataError(f"cannot read statistics {path}: {type(e).__name__}: {e}; expected {expected}") from None
    d = mu.shape[0] if mu.ndim == 1 else -1
    if mu.ndim != 1 or sigma.shape != (d, d) or (feats is not None and (feats.ndim != 2 or feats.shape[1] != d)):
        raise DataError(f"{path}: mu {mu.shape}, sigma {sigma.shape}"
                        f"{'' if feats is None else f', features {feats.shape}'} do not fit together; expected {expected}")
    return RealStats(mu, sigma, feats, protocol, path=path, hit=True)


def _agree(hit: bool, world_size: int, gather: Gather) -> bool:
    """All ranks must take the same branch (computing means collective gathers): compute
    unless every rank sees the file (a cache dir that is not shared reads as a miss)."""
    if world_size == 1:
        return hit
    return bool(gather(torch.tensor([1.0 if hit else 0.0])).min() > 0)


def real_stats(ref_cfg: DataConfig, backbone: Backbone, n_real: int = 0, cache_dir: Optional[str | Path] = None, *,
               rank: int = 0, world_size: int = 1, gather: Gather = _identity) -> Optional[RealStats]:
    """Statistics of the reference set; rank 0 gets them, other ranks None (they only help)."""
    key = stats_key(ref_cfg, backbone, n_real)
    path = default_cache_dir(str(cache_dir) if cache_dir else None) / "stats" / f"{key}.npz"
    if _agree(path.is_file(), world_size, gather):
        return load_stats(path) if rank == 0 else None
    t0 = time.perf_counter()
    source = load_source(ref_cfg, verbose=rank == 0)
    indices = select_indices(source.num_images, n_real, SUBSET_SEED)
    start, stop = rank_range(len(indices), rank, world_size)
    feats, _ = embed_batches(backbone, iter_images(source, ref_cfg, indices[start:stop], device=backbone.device))
    feats = gather(feats)
    if rank != 0:
        return None
    protocol = {"key": key, "dataset": ref_cfg.name, "split": ref_cfg.split,
                "n_real_requested": n_real, "subset": "all" if n_real == 0 else f"seeded subset (seed {SUBSET_SEED})",
                "data_config": asdict(ref_cfg), **backbone.describe(), "stats_version": STATS_VERSION}
    stats = RealStats.from_features(feats.numpy(), protocol, path=path, hit=False)
    save_stats(path, stats.mu, stats.sigma, stats.features, stats.protocol)
    log.info("reference statistics: %s, %d images through %s in %.1fs; cached at %s", ref_cfg.name, stats.n,
             backbone.name, time.perf_counter() - t0, path)
    return stats
