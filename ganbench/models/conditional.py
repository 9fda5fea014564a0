"""Conditional DCGAN (Mirza & Osindero 2014 conditioning on the DCGAN layout).

G: a label embedding is concatenated to z. D: the label is embedded to a 1xHxW plane and
stacked on the image as an extra channel, so even the first conv sees the condition.
"""
from __future__ import annotations

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.models.arch import Layer, apply_init, check_arch
from ganbench.models.base import MODELS, Discriminator, GanModels, Generator, require_labels
from ganbench.models.dcgan import DCDiscriminator, DCGenerator, conv_arch


def _need(labels):
    if labels is None:
        raise ValueError("conditional model called without labels")
    return labels


class CondDCGenerator(Generator):
    def __init__(self, latent_dim: int, num_classes: int, image_shape, layers: tuple[Layer, ...]):
        super().__init__()
        self.latent_dim = latent_dim
        # One embedding dim per class: as expressive as a one-hot, but learnable.
        self.embed = nn.Embedding(num_classes, num_classes)
        self.net = DCGenerator(latent_dim + num_classes, image_shape, layers)

    def latent_labels(self, n, labels, generator, device):
        return labels  # fake images of the same classes as the real batch

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(torch.cat([z.flatten(1), self.embed(_need(labels))], dim=1))


class CondDCDiscriminator(Discriminator):
    def __init__(self, num_classes: int, image_shape, layers: tuple[Layer, ...]):
        super().__init__()
        c, h, w = image_shape
        self.plane = (1, h, w)
        self.embed = nn.Embedding(num_classes, h * w)
        self.net = DCDiscriminator((c + 1, h, w), layers)

    def _with_plane(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        plane = self.embed(_need(labels)).view(-1, *self.plane)
        return torch.cat([x, plane.to(x.dtype)], dim=1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self._with_plane(x, labels))

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.features(self._with_plane(x, labels))


@MODELS.register("cdcgan", "conditional DCGAN: class embedding in G, label plane in D")
def build_cdcgan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    require_labels(cfg.name, num_classes)
    arch = conv_arch(cfg, image_shape)
    check_arch(arch, cfg.latent_dim + num_classes, image_shape, d_in_channels=image_shape[0] + 1)
    G = CondDCGenerator(cfg.latent_dim, num_classes, image_shape, arch.g)
    D = CondDCDiscriminator(num_classes, image_shape, arch.d)
    apply_init(arch, G, D)
    return GanModels(G, D, cfg.latent_dim, num_classes, True, False, image_shape)
