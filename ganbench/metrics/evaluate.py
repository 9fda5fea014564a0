"""Evaluator: one call during training -> FID/KID (and friends) with their full protocol.

    ev = Evaluator(cfg.eval, cfg.data, device, rank=r, world_size=w, gather=session.all_gather)
    metrics, protocol = ev.evaluate(models)      # rank 0: the numbers; other ranks: ({}, {})

Every rank generates its share of n_gen samples and runs them through the backbone;
`gather` concatenates the features in rank order and rank 0 computes the metrics. The
reference statistics are computed the same way once, then cached on disk.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Optional

import numpy as np
import torch

from ganbench.config import DataConfig, EvalConfig
from ganbench.data.base import derive_seed
from ganbench.errors import ConfigError
from ganbench.metrics.backbones import Backbone
from ganbench.metrics.compute import MetricInput, compute_metrics, fid_tool
from ganbench.metrics.names import SELECTION_METRICS, metric_key
from ganbench.metrics.nearest import NearestConfig, NearestJob
from ganbench.metrics.real_images import ImageSet, load_source, rank_range
from ganbench.metrics.resolve import resolve_backbone
from ganbench.metrics.stats_cache import RealStats, real_stats, reference_config

log = logging.getLogger("ganbench.metrics")

GEN_BATCH = 250  # generator batch; matters for train-mode BatchNorm, so it is recorded
GENERATOR_MODES = ("eval", "train")


def check_eval_config(cfg: EvalConfig, backbone: Optional[Backbone] = None) -> None:
    """Refuse impossible eval settings up front (give `backbone` to also check FID's sample
    count against its feature dimension, e.g. in the driver before workers start)."""
    if cfg.metric not in SELECTION_METRICS:
        raise ConfigError(f"eval.metric must be one of: {', '.join(SELECTION_METRICS)} (got {cfg.metric!r})")
    if cfg.n_gen < 2:
        raise ConfigError(f"eval.n_gen must be >= 2, got {cfg.n_gen}")
    if cfg.n_real < 0:
        raise ConfigError(f"eval.n_real must be >= 0 (0 = the whole split), got {cfg.n_real}")
    if cfg.kid_subsets < 1 or cfg.kid_subset_size < 2:
        raise ConfigError(f"eval.kid_subsets must be >= 1 and eval.kid_subset_size >= 2 "
                          f"(got {cfg.kid_subsets}, {cfg.kid_subset_size})")
    if backbone is not None and cfg.metric == "fid" and cfg.n_gen <= backbone.dim:
        raise ConfigError(f"FID needs more samples than feature dimensions: got {cfg.n_gen} samples for "
                          f"{backbone.dim}-dim features (backbone {backbone.name}); use n >= {backbone.dim + 1} "
                          f"(eval.n_gen) or KID (eval.metric=kid)")


class Evaluator:
    def __init__(self, eval_cfg: EvalConfig, data_cfg: DataConfig, device: torch.device | str = "cpu",
                 rank: int = 0, world_size: int = 1,
                 gather: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
                 backbone: Optional[Backbone] = None, nearest: Optional[NearestConfig] = None):
        """nearest: also run the uniqueness check (nearest training images) on rank 0's first
        nearest.n samples; off by default, as it reads the whole training set each time."""
        check_eval_config(eval_cfg)
        self.cfg, self.data_cfg = eval_cfg, data_cfg
        self.device = torch.device(device)
        self.rank, self.world_size, self.gather = rank, world_size, gather
        self.backbone = backbone or resolve_backbone(eval_cfg, data_cfg, self.device)
        check_eval_config(eval_cfg, self.backbone)  # fail before training, not at the first evaluation
        self.ref_cfg = reference_config(data_cfg, eval_cfg.real_split)
        self.train_cfg = reference_config(data_cfg, data_cfg.split)
        self._ref: Optional[RealStats] = None
        self._train_ref: Optional[RealStats] = None
        self._prepared = False
        self._floor: Optional[tuple[dict, dict]] = None
        self.nearest = nearest
        self._train_images: Optional[ImageSet] = None

    @property
    def key(self) -> str:
        """The metric that picks the best checkpoint (lower is better)."""
        return metric_key(self.cfg, self.backbone.name)

    def _stats(self, cfg: DataConfig) -> Optional[RealStats]:
        return real_stats(cfg, self.backbone, self.cfg.n_real, self.cfg.cache_dir, rank=self.rank,
                          world_size=self.world_size, gather=self.gather)

    def prepare(self) -> None:
        """Reference statistics (cached on disk after the first run). Called by evaluate();
        call it before training to pay the cost, and surface errors, up front."""
        if self._prepared:
            return
        self._ref = self._stats(self.ref_cfg)
        same = self.train_cfg == self.ref_cfg
        self._train_ref = self._ref if same else self._stats(self.train_cfg)  # memorisation: training images
        self._prepared = True
        # Only rank 0 holds the statistics; share the count so every rank raises together
        # (one rank raising while the others enter a gather would hang the job).
        n_real = self._ref.n if self._ref is not None else -1
        if self.world_size > 1:
            n_real = int(self.gather(torch.tensor([float(n_real)])).max())
        if self.cfg.metric == "fid" and n_real <= self.backbone.dim:
            raise ConfigError(f"FID needs more samples than feature dimensions: got {n_real} real samples for "
                              f"{self.backbone.dim}-dim features (backbone {self.backbone.name}, {self.ref_cfg.name} "
                              f"{self.ref_cfg.split}); use n >= {self.backbone.dim + 1} (eval.n_real) or KID")

    @torch.no_grad()
    def _generate_features(self, models, generator_mode: str
                           ) -> tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
        """This rank's share of the samples -> features (and class probs) gathered in rank order,
        and the first images themselves when the uniqueness check asks for them."""
        G = getattr(models.G, "module", models.G)  # never run DDP's forward: ranks make unequal batch counts
        start, stop = rank_range(self.cfg.n_gen, self.rank, self.world_size)
        count = stop - start
        gen = torch.Generator().manual_seed(derive_seed(self.cfg.seed, self.rank))
        z = torch.randn(count, models.latent_dim, generator=gen)
        k = models.num_classes
        labels = (torch.arange(start, stop) % k) if k else None  # classes cycle over the whole sample
        was_training = G.training
        # Train mode would update BatchNorm running stats: keep a copy and put it back.
        buffers = {n: b.detach().clone() for n, b in G.named_buffers()} if generator_mode == "train" else {}
        G.train(generator_mode == "train")
        feats, probs, images = [], [], []
        keep = self.nearest.n if self.nearest is not None and self.rank == 0 else 0
        try:
            for i in range(0, count, GEN_BATCH):
                zb = z[i : i + GEN_BATCH].to(self.device)
                lb = None if labels is None else labels[i : i + GEN_BATCH].to(self.device)
                x = G(zb, lb).float().clamp(-1, 1)
                f, p = self.backbone.embed(x)
                if keep > i:
                    images.append(x[: keep - i].cpu())
                feats.append(f)
                if p is not None:
                    probs.append(p)
        finally:
            G.train(was_training)
            for n, b in G.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
        f = torch.cat(feats) if feats else torch.empty(0, self.backbone.dim)
        f = self.gather(f)
        p = None
        if self.backbone.num_classes:
            p = self.gather(torch.cat(probs) if probs else torch.empty(0, self.backbone.num_classes))
        return f, p, (torch.cat(images) if images else None)

    def evaluate(self, models, generator_mode: str = "eval") -> tuple[dict[str, float], dict]:
        if generator_mode not in GENERATOR_MODES:
            raise ConfigError(f"generator_mode must be one of: {', '.join(GENERATOR_MODES)} (got {generator_mode!r})")
        self.prepare()
        feats, probs, images = self._generate_features(models, generator_mode)
        if self.rank != 0:
            return {}, {}
        gen = RealStats.from_features(feats.numpy(), {})
        inp = MetricInput(gen=gen, ref=self._ref, backbone=self.backbone, cfg=self.cfg,
                          gen_probs=None if probs is None else probs.numpy(), train_ref=self._train_ref, floor=False,
                          nearest=self._nearest_job(images))
        metrics, extra = compute_metrics(inp)
        if self._floor is None:  # the real-vs-real floor depends on the reference only: once per run
            self._floor = compute_metrics(dataclasses.replace(inp, floor=True), only=("floor",))
        return {**metrics, **self._floor[0]}, {**self.protocol(generator_mode), **extra, **self._floor[1]}

    def _nearest_job(self, images: Optional[torch.Tensor]) -> Optional[NearestJob]:
        if self.nearest is None:
            return None
        if self._train_images is None:  # the training split, every image (the features hold n_real of them)
            src = load_source(self.train_cfg, verbose=False)
            self._train_images = ImageSet.of_source(src, self.train_cfg, f"{self.train_cfg.name} {self.train_cfg.split}")
        return NearestJob(self.nearest, images, self._train_images)

    def protocol(self, generator_mode: str = "eval") -> dict:
        """Everything a number depends on (flat and JSON-able, so it can go to MLflow params)."""
        ref = self._ref
        return {
            **self.backbone.describe(),
            "tool": fid_tool(self.backbone),
            "dataset": self.ref_cfg.name, "real_split": self.ref_cfg.split,
            "resolution": self.ref_cfg.resolution, "channels": self.ref_cfg.channels,
            "n_real": ref.n if ref else None, "n_real_requested": self.cfg.n_real,
            "n_gen": self.cfg.n_gen, "generator_mode": generator_mode,
            "gen_batch": GEN_BATCH, "seed": self.cfg.seed, "world_size": self.world_size,
            "noise_seeds": "derive_seed(eval.seed, rank) per rank",
            "kid_subsets": self.cfg.kid_subsets, "kid_subset_size_requested": self.cfg.kid_subset_size,
            "stats_key": ref.protocol.get("key") if ref else None,
            "stats_cache": ("hit" if ref.hit else "computed") if ref else None,
            "selection_metric": self.key,
        }
