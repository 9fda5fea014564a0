"""Fully connected GAN (Goodfellow et al. 2014, as in the classic MNIST examples), any size.

The default description (arch.mlp_arch) scales widths with ngf/ndf as 8x/16x/32x, which at the default ngf=ndf=32 is exactly the
classic 256-512-1024. With num_classes > 0 (cmlp) a label embedding is concatenated to the
inputs of both G and D.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.models.arch import Layer, apply_init, build_layers, check_arch, mlp_arch, resolve_arch
from ganbench.models.base import MODELS, Discriminator, GanModels, Generator, require_labels


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


class MLPGenerator(Generator):
    def __init__(self, latent_dim: int, image_shape, layers: tuple[Layer, ...], num_classes: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.cond = _Conditioner(num_classes)
        c, h, w = self.image_shape
        out = (c * h * w,) if layers[-1].op == "linear" else (c, h, w)
        self.net = nn.Sequential(*build_layers(layers, (latent_dim + num_classes,), out, inplace=True, where="G"))
        self.map_in = layers[0].op != "linear"

    def latent_labels(self, n, labels, generator, device):
        return labels if self.cond.num_classes else None  # cmlp: the real batch's classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.cond(z.flatten(1), labels)
        return self.net(h[:, :, None, None] if self.map_in else h).view(-1, *self.image_shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, image_shape, layers: tuple[Layer, ...], num_classes: int = 0):
        super().__init__()
        self.cond = _Conditioner(num_classes)
        if layers[0].op != "linear":
            raise ConfigError("model=mlp/cmlp reads D's input flat: its first D layer must be linear "
                              "(use model=dcgan or cdcgan for conv layers)")
        self.net = nn.Sequential(*build_layers(
            layers, (math.prod(image_shape) + num_classes,), (1,), inplace=False, where="D"))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.cond(x.flatten(1), labels)).flatten()

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net[:-1](self.cond(x.flatten(1), labels))  # the output layer is one Linear


def _arch(cfg: ModelConfig, image_shape, in_dim: int, d_in: int):
    arch = resolve_arch(cfg, image_shape, lambda: mlp_arch(cfg.ngf, cfg.ndf))
    check_arch(arch, in_dim, image_shape)
    return arch


@MODELS.register("mlp", "fully connected G/D (classic MNIST GAN), any resolution")
def build_mlp(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    arch = _arch(cfg, image_shape, cfg.latent_dim, 0)
    G = MLPGenerator(cfg.latent_dim, image_shape, arch.g)
    D = MLPDiscriminator(image_shape, arch.d)
    apply_init(arch, G, D)
    return GanModels(G, D, cfg.latent_dim, 0, False, False, image_shape)


@MODELS.register("cmlp", "conditional MLP GAN: label embedding on the inputs of G and D")
def build_cmlp(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    require_labels(cfg.name, num_classes)
    arch = _arch(cfg, image_shape, cfg.latent_dim + num_classes, num_classes)
    G = MLPGenerator(cfg.latent_dim, image_shape, arch.g, num_classes)
    D = MLPDiscriminator(image_shape, arch.d, num_classes)
    apply_init(arch, G, D)
    return GanModels(G, D, cfg.latent_dim, num_classes, True, False, image_shape)
