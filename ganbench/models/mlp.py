"""Fully connected GAN (Goodfellow et al. 2014, as in the classic MNIST examples), any size.

Widths scale with ngf/ndf as 8x/16x/32x, which at the default ngf=ndf=32 is exactly the
classic 256-512-1024. With num_classes > 0 (cmlp) a label embedding is concatenated to the
inputs of both G and D.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.models.base import MODELS, GanModels, require_labels


class _Conditioner(nn.Module):
    """Concatenates a label embedding to a flat input; a no-op when num_classes == 0."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None

    def forward(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return h
        if labels is None:
            raise ValueError("conditional model called without labels")
        return torch.cat([h, self.embed(labels).to(h.dtype)], dim=1)


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_shape, ngf: int, num_classes: int = 0):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.cond = _Conditioner(num_classes)
        w1, w2, w3 = 8 * ngf, 16 * ngf, 32 * ngf
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, w1),
            nn.LeakyReLU(0.2, True),
            nn.Linear(w1, w2),
            nn.BatchNorm1d(w2),
            nn.LeakyReLU(0.2, True),
            nn.Linear(w2, w3),
            nn.BatchNorm1d(w3),
            nn.LeakyReLU(0.2, True),
            nn.Linear(w3, math.prod(self.image_shape)),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.cond(z.flatten(1), labels)).view(-1, *self.image_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, image_shape, ndf: int, num_classes: int = 0):
        super().__init__()
        self.cond = _Conditioner(num_classes)
        w1, w2, w3 = 32 * ndf, 16 * ndf, 8 * ndf
        # No BatchNorm, so this D is also a valid WGAN-GP critic.
        self.net = nn.Sequential(
            nn.Linear(math.prod(image_shape) + num_classes, w1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(w1, w2),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(w2, w3),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(w3, 1),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.cond(x.flatten(1), labels)).flatten()


@MODELS.register("mlp", "fully connected G/D (classic MNIST GAN), any resolution")
def build_mlp(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    G = MLPGenerator(cfg.latent_dim, image_shape, cfg.ngf)
    D = MLPDiscriminator(image_shape, cfg.ndf)
    return GanModels(G, D, cfg.latent_dim, 0, False, False, image_shape)


@MODELS.register("cmlp", "conditional MLP GAN: label embedding on the inputs of G and D")
def build_cmlp(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    require_labels(cfg.name, num_classes)
    G = MLPGenerator(cfg.latent_dim, image_shape, cfg.ngf, num_classes)
    D = MLPDiscriminator(image_shape, cfg.ndf, num_classes)
    return GanModels(G, D, cfg.latent_dim, num_classes, True, False, image_shape)
