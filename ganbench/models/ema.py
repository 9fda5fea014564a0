"""An exponential moving average of G's weights: the generator StyleGAN2-ADA and StudioGAN
sample and evaluate by default, because it averages away the oscillation of adversarial steps.

Parameters are averaged after every G optimizer step; buffers (BatchNorm running statistics)
are copied from G. Copied statistics describe the current G's activations, not the averaged
weights', and that mismatch costs: on mnist-dcgan (benchmarks/ema_bn.py, 3 seeds, 25 epochs)
re-estimating G_ema's statistics from its own forward passes took its mean FID from 10.4 to
8.8, level with raw G's 8.7. So before G_ema is used (each epoch's grid, evaluation,
checkpoint, and so sampling, export and serving) `settle()` re-estimates them from
`ema.bn_samples` of its own samples. The next update() copies G's buffers again, so settling
never changes training, and a resumed run settles exactly as the uninterrupted one.

Warm-up is TensorFlow's ExponentialMovingAverage(num_updates): at the t-th averaged step the
decay is min(decay, (1 + t) / (10 + t)). The weight of step s in the average at step T then
falls roughly as (s / T)^9, so until the cap is reached the average covers about the last
tenth of the steps so far, whatever the run's length (short CPU runs never reach 0.999's
horizon of ~1,000 steps of a random G). StyleGAN2-ADA's ema_rampup does the same in images
seen and needs the batch size; a per-step decay is the knob users set.

The step counter lives here (not in the loop) so resuming from state_dict() is exact.
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from ganbench.config import EmaConfig
from ganbench.errors import CheckpointError, ConfigError
from ganbench.models.base import uniform_labels

# Seed of the samples that re-estimate BatchNorm statistics: fixed, so a settle depends on the
# weights only, and every DDP rank (same weights) gets the same statistics.
SETTLE_SEED = 0


def check_ema_config(cfg: EmaConfig) -> None:
    if not 0 <= cfg.decay < 1:
        raise ConfigError(f"ema.decay must be in [0, 1) (0 = no EMA; 0.999 is common), got {cfg.decay}")
    if cfg.start_step < 0:
        raise ConfigError(f"ema.start_step must be >= 0 (G steps before averaging starts), got {cfg.start_step}")
    if cfg.bn_samples < 0:
        raise ConfigError(f"ema.bn_samples must be >= 0 (samples that re-estimate G_ema's BatchNorm "
                          f"statistics; 0 = keep G's), got {cfg.bn_samples}")


def ema_decay(cfg: EmaConfig, updates: int) -> float:
    """The decay of the update that follows `updates` earlier ones; 0 copies G."""
    t = updates - cfg.start_step
    if t < 0:
        return 0.0
    return min(cfg.decay, (1 + t) / (10 + t)) if cfg.warmup else cfg.decay


def _plain(G: nn.Module) -> nn.Module:
    # The average is of the network, not of its DDP wrapper (whose state_dict keys differ).
    return G.module if isinstance(G, nn.parallel.DistributedDataParallel) else G


def _batchnorms(G: nn.Module) -> list[nn.Module]:
    return [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def reestimate_batchnorm(G: nn.Module, n: int, num_classes: int, batch: int = 256, seed: int = SETTLE_SEED) -> int:
    """Set G's BatchNorm running statistics to the plain average over n of G's own samples
    (momentum None is a cumulative average); returns how many BatchNorm layers it set. G must
    have sample_latent (a models.base.Generator); class-conditional Gs get uniform classes."""
    bns = _batchnorms(G)
    if not bns or n < 2:
        return 0
    device = next(G.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was_training = G.training
    G.train()  # BatchNorm updates its running statistics in training mode only
    for i in range(0, n - 1, batch):  # n - 1: never a last batch of 1 (BatchNorm needs 2)
        b = min(batch, n - i)
        labels = uniform_labels(b, num_classes, gen, device) if num_classes else None
        G(*G.sample_latent(b, labels, gen, device))
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    G.train(was_training)
    return len(bns)


class GeneratorEMA:
    """A frozen copy of G, moved towards G by update(G) after each G step. `model` is the
    averaged generator to sample, evaluate and export; it stays in eval mode. Call settle()
    before using it (num_classes: the classes a conditional G reads, 0 for none)."""

    def __init__(self, G: nn.Module, cfg: EmaConfig, num_classes: int = 0):
        check_ema_config(cfg)
        self.cfg = cfg
        self.num_classes = num_classes
        self.model = copy.deepcopy(_plain(G)).eval().requires_grad_(False)
        self.updates = 0  # G steps seen
        self.settled_at = -1  # `updates` when the statistics were last re-estimated

    def settle(self) -> None:
        """Re-estimate the average's BatchNorm statistics from ema.bn_samples of its own
        samples (0: keep G's); once per update count, so calling it twice costs nothing."""
        if self.cfg.bn_samples and self.settled_at != self.updates:
            reestimate_batchnorm(self.model, self.cfg.bn_samples, self.num_classes)
            self.settled_at = self.updates

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        G = _plain(G)
        d = ema_decay(self.cfg, self.updates)
        params = dict(G.named_parameters())
        for name, p in self.model.named_parameters():
            if d == 0:
                p.copy_(params[name])
            else:
                p.lerp_(params[name], 1.0 - d)  # p = d * p + (1 - d) * G's
        buffers = dict(G.named_buffers())
        for name, b in self.model.named_buffers():
            b.copy_(buffers[name])
        self.updates += 1

    def state_dict(self) -> dict:
        """Tensors and an int only: loads with torch.load(weights_only=True)."""
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != {"model", "updates"}:
            raise CheckpointError("the checkpoint's EMA state is not a GeneratorEMA state_dict "
                                  "(expected the keys 'model' and 'updates')")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"the checkpoint's EMA generator does not fit this model: {first}") from None
        self.updates = int(state["updates"])


def make_ema(cfg: EmaConfig, G: nn.Module, num_classes: int = 0) -> Optional[GeneratorEMA]:
    """The EMA for this run, or None when ema.decay is 0 (off)."""
    check_ema_config(cfg)
    return GeneratorEMA(G, cfg, num_classes) if cfg.decay > 0 else None
