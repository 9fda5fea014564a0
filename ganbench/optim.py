"""Optimisers by name: `build_optimizer(cfg, params)`; G and D each get their own OptimConfig."""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from ganbench.config import OptimConfig
from ganbench.errors import ConfigError
from ganbench.registry import Registry

OPTIMIZERS: Registry[Callable[[OptimConfig, Iterable], torch.optim.Optimizer]] = Registry("optimizer")


@OPTIMIZERS.register("adam", "Adam(lr, betas=(beta1, beta2), weight_decay); beta1=0.5 is the GAN default")
def _adam(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    for key in ("beta1", "beta2"):
        value = getattr(cfg, key)
        if not 0 <= value < 1:
            raise ConfigError(f"optimizer {key} must be in [0, 1), got {value}")
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("sgd", "SGD(lr, momentum, weight_decay)")
def _sgd(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    if not 0 <= cfg.momentum < 1:
        raise ConfigError(f"optimizer momentum must be in [0, 1), got {cfg.momentum}")
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_optimizer(cfg: OptimConfig, params: Iterable) -> torch.optim.Optimizer:
    factory = OPTIMIZERS.get(cfg.name)
    if not cfg.lr > 0:
        raise ConfigError(f"optimizer lr must be > 0, got {cfg.lr}")
    if not cfg.weight_decay >= 0:
        raise ConfigError(f"optimizer weight_decay must be >= 0, got {cfg.weight_decay}")
    return factory(cfg, params)
