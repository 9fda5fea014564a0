"""`evaluate_sources(a, b)`: FID/KID between two things on disk, for `ganbench fid`.

A source is one of
  - a checkpoint folder (or its state.pt): n images are sampled from its generator
    (eval mode, noise seed eval.seed, classes cycling for conditional models);
  - a folder of images (jpg/png/webp, searched recursively);
  - an .npy of images, float (N, C, H, W) in [-1, 1] (what `ganbench sample --out x.npy` writes);
  - an .npz of statistics: mu, sigma [, features] (`--save-stats`, pytorch-fid's --save-stats,
    or a file from ganbench's stats cache). KID needs features on both sides.
A is the set being scored, B the reference; metric names use A's sample count.

Classifier backbones (digitscnn, mnistcnn, ...) are trained on a dataset, so one must be
known: `data` (--data NAME) first, else a checkpoint side's own data config, else the
data config recorded in a ganbench statistics file. For --data NAME the resolution and
channels default to those of the .npy / image sources.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from ganbench.config import DataConfig, EvalConfig, from_dict
from ganbench.errors import ConfigError, DataError
from ganbench.checkpoint import STATE_FILE
from ganbench.metrics.backbones import Backbone, embed_batches
from ganbench.metrics.compute import MetricInput, compute_metrics, fid_tool
from ganbench.metrics.evaluate import check_eval_config
from ganbench.metrics.frechet import check_fid_samples
from ganbench.metrics.nearest import NearestConfig, NearestJob
from ganbench.metrics.real_images import iter_images, load_source, select_indices
from ganbench.metrics.resolve import resolve_backbone
from ganbench.metrics.source_pixels import PIXEL_KINDS, first_images, image_set, pixel_shape
from ganbench.metrics.stats_cache import RealStats, load_stats, save_stats

log = logging.getLogger("ganbench.metrics")

FORMATS = ("a checkpoint folder, an image folder, an .npy of float images (N, C, H, W) in [-1, 1], "
           "or an .npz of statistics (mu, sigma[, features])")


@dataclass
class Source:
    spec: str
    kind: str  # checkpoint | folder | npy | stats
    path: Path
    images: Optional[torch.Tensor] = None  # npy; a checkpoint's samples once drawn
    stats: Optional[RealStats] = None  # stats
    models: object = None  # checkpoint
    data_cfg: Optional[DataConfig] = None  # checkpoint: its training data; stats: recorded one
    folder_shape: Optional[tuple[int, int]] = None  # (channels, resolution) of a folder's first image
    info: dict = field(default_factory=dict)


def _load_npy(path: Path) -> torch.Tensor:
    expected = "float images (N, C, H, W) in [-1, 1] with C = 1 or 3"
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataError(f"cannot read {path}: {type(e).__name__}: {e}; expected an .npy of {expected}") from None
    if arr.ndim != 4 or arr.shape[1] not in (1, 3) or arr.shape[0] < 1:
        raise DataError(f"{path} holds an array of shape {arr.shape}; expected {expected}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{path} holds {arr.dtype} values; expected {expected} (convert uint8 with x / 127.5 - 1)")
    if not np.isfinite(arr).all():
        raise DataError(f"{path} contains NaN or inf values; expected {expected}")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1.001 or hi > 1.001:
        raise DataError(f"{path} has values in [{lo:.3g}, {hi:.3g}]; expected {expected}")
    return torch.from_numpy(arr.astype(np.float32))


def open_source(spec: str) -> Source:
    path = Path(spec).expanduser()
    if not path.exists():
        raise ConfigError(f"source {spec}: no such file or folder; expected {FORMATS}")
    if path.is_dir() and (path / STATE_FILE).is_file() or path.name == STATE_FILE:
        from ganbench.sample import load_generator

        cfg, models = load_generator(path)
        return Source(spec, "checkpoint", path, models=models, data_cfg=cfg.data)
    if path.is_dir():
        from ganbench.data.folder import images_under

        files = images_under(path)
        if not files:
            raise DataError(f"source {spec}: folder holds no images (jpg/png/webp) and no {STATE_FILE}; "
                            f"expected {FORMATS}")
        with Image.open(files[0]) as im:
            shape = (1 if im.mode in ("L", "1", "I;16") else 3, min(im.size))
        return Source(spec, "folder", path, folder_shape=shape)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return Source(spec, "npy", path, images=_load_npy(path))
    if suffix == ".npz":
        stats = load_stats(path)
        data = stats.protocol.get("data_config")
        known = {f.name for f in fields(DataConfig)}  # files from other versions may differ
        data_cfg = from_dict(DataConfig, {k: v for k, v in data.items() if k in known}) if data else None
        return Source(spec, "stats", path, stats=stats, data_cfg=data_cfg)
    raise ConfigError(f"source {spec}: unknown kind of file ({suffix or 'no suffix'}); expected {FORMATS}")


def _data_config(data: DataConfig | str | None, sources: list[Source], overrides: dict) -> Optional[DataConfig]:
    """The dataset for classifier backbones: `data`, else a checkpoint's, else a stats
    file's; then `overrides` (data.* from --set) on top."""
    cfg: Optional[DataConfig] = None
    if isinstance(data, DataConfig):
        cfg = data
    elif isinstance(data, str):
        cfg = DataConfig(name=data, download=False)
        npys = [s for s in sources if s.kind == "npy"]
        if npys:  # take the image geometry from the images being compared
            shape = npys[0].images.shape
            cfg = replace(cfg, channels=int(shape[1]), resolution=int(shape[-1]))
    else:
        found = [s.data_cfg for kind in ("checkpoint", "stats") for s in sources
                 if s.kind == kind and s.data_cfg is not None]
        cfg = found[0] if found else None
    if overrides:
        if cfg is None:
            raise ConfigError(f"data.* settings ({', '.join(sorted(overrides))}) but no dataset: give --data NAME")
        cfg = from_dict(DataConfig, {**asdict(cfg), **overrides}, prefix="data.")
    return cfg


def _features(s: Source, backbone: Backbone, n: Optional[int], eval_cfg: EvalConfig,
              data_cfg: Optional[DataConfig]) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """-> (features (N, D) or None for a stats file, probs or None)."""
    if s.kind == "stats":
        return None, None
    if s.kind == "checkpoint":
        from ganbench.sample import sample

        count = n or eval_cfg.n_gen
        s.images = sample(s.models, count, seed=eval_cfg.seed)  # kept for the uniqueness check's pixels
        f, p = backbone.embed(s.images)
        s.info.update(n=count, seed=eval_cfg.seed, generator_mode="eval")
    elif s.kind == "npy":
        x = s.images
        if n is not None:
            if n > len(x):
                raise ConfigError(f"--n {n} but {s.spec} holds {len(x)} images")
            x = x[:n]
        f, p = backbone.embed(x)
    else:  # folder
        channels, res = s.folder_shape
        if backbone.input_shape is not None:
            channels, res = backbone.input_shape[0], backbone.input_shape[1]
        elif backbone.name == "inception":
            channels = 3  # pytorch-fid reads every image as RGB
        cfg = DataConfig(name=f"folder:{s.path}", resolution=res, channels=channels, use_labels=False,
                         num_workers=(data_cfg.num_workers if data_cfg else 2))
        src = load_source(cfg, verbose=True)
        idx = select_indices(src.num_images, 0)[: n or None]
        f, p = embed_batches(backbone, iter_images(src, cfg, idx))
        s.info.update(resolution=res, channels=channels)
    s.info["n"] = len(f)
    return f.numpy(), (None if p is None else p.numpy())


def _check_stats_backbone(s: Source, backbone: Backbone) -> None:
    st = s.stats
    if st.mu.shape[0] != backbone.dim:
        raise ConfigError(f"{s.spec} holds {st.mu.shape[0]}-dim statistics, but backbone {backbone.name} gives "
                          f"{backbone.dim}-dim features: compute both with the same backbone")
    rec = st.protocol
    if rec.get("backbone") and (rec["backbone"], rec.get("weights_hash")) != (backbone.name, backbone.weights_hash):
        raise ConfigError(f"{s.spec} was computed with backbone {rec['backbone']} (weights {rec.get('weights_hash')}), "
                          f"not {backbone.name} (weights {backbone.weights_hash}): use --backbone {rec['backbone']}")


def _side(s: Source, bb: Backbone, n: Optional[int], eval_cfg: EvalConfig,
          data_cfg: Optional[DataConfig]) -> RealStats:
    if s.kind == "stats":
        _check_stats_backbone(s, bb)
        return s.stats
    f, p = _features(s, bb, n, eval_cfg, data_cfg)
    s.info["probs"] = p
    return RealStats.from_features(f, {"source": s.spec})


def _nearest_job(sa: Source, sb: Source, n: Optional[int], cfg: NearestConfig, workers: int) -> NearestJob:
    """A's first images and B as the training set, when both sides have pixels."""
    if sa.kind not in PIXEL_KINDS or sb.kind not in ("npy", "folder"):
        return NearestJob(cfg, why_no_pixels=f"A is a {sa.kind} source and B a {sb.kind} source; pixels need images "
                                             "on both sides (A: a checkpoint, folder or .npy; B: a folder or .npy)")
    shape = pixel_shape(sa.images, sb.images, sa.folder_shape)
    gen = first_images(sa.kind, sa.path, sa.images, min(cfg.n, n or cfg.n), shape, workers)
    return NearestJob(cfg, gen, image_set(sb.kind, sb.path, sb.images, shape, workers))


def evaluate_sources(a: str, b: str, backbone: Optional[str] = None, n: Optional[int] = None,
                     data: DataConfig | str | None = None, eval_cfg: EvalConfig = EvalConfig(backbone="auto"),
                     device: torch.device | str = "cpu", save_stats_to: Optional[str] = None,
                     data_overrides: Optional[dict] = None,
                     nearest: Optional[NearestConfig] = None) -> tuple[dict, dict]:
    """Every metric a training evaluation reports, of A against the reference B -> (metrics,
    protocol): FID, KID, precision/recall, density/coverage, memorisation and MiFID (nearest
    images in B), the real-vs-real floor (two halves of B), and for classifier backbones the
    classifier score and class coverage of A.
    data_overrides: DataConfig fields (e.g. {"root": ...}) applied to whichever dataset is used.
    nearest: also the uniqueness check: A's first nearest.n images against B's (nearest.py)."""
    if backbone:
        eval_cfg = replace(eval_cfg, backbone=backbone)
    check_eval_config(eval_cfg)
    if n is not None and n < 2:
        raise ConfigError(f"--n must be >= 2, got {n}")
    sa, sb = open_source(a), open_source(b)
    data_cfg = _data_config(data, [sa, sb], data_overrides or {})
    bb = resolve_backbone(eval_cfg, data_cfg, device)
    ga, gb = _side(sa, bb, n, eval_cfg, data_cfg), _side(sb, bb, n, eval_cfg, data_cfg)
    if ga.features is None and gb.features is None:
        check_fid_samples(min(ga.n, gb.n), bb.dim, "statistics files")
    protocol = {**bb.describe(), "tool": fid_tool(bb), "seed": eval_cfg.seed,
                "dataset": data_cfg.name if data_cfg else None}
    for tag, s, side in (("a", sa, ga), ("b", sb, gb)):
        protocol.update({f"{tag}_kind": s.kind, f"{tag}_path": str(s.path), f"{tag}_n": side.n})
        protocol.update({f"{tag}_{k}": v for k, v in s.info.items() if k not in ("n", "probs")})
    workers = data_cfg.num_workers if data_cfg else 2
    inp = MetricInput(gen=ga, ref=gb, backbone=bb, cfg=eval_cfg, gen_probs=sa.info.get("probs"),
                      train_ref=gb if gb.features is not None else None,
                      nearest=_nearest_job(sa, sb, n, nearest, workers) if nearest else None)
    metrics, extra = compute_metrics(inp)
    protocol.update(extra)
    if "fid_skipped" in extra:
        log.warning("FID skipped: %s", extra["fid_skipped"])
    if save_stats_to:
        save_stats(save_stats_to, ga.mu, ga.sigma, ga.features,
                   {**bb.describe(), "source": a, "kind": sa.kind, "n_real": ga.n,
                    **({"data_config": asdict(data_cfg)} if data_cfg and sa.kind != "stats" else {})})
        protocol["saved_stats"] = str(save_stats_to)
    return metrics, protocol
