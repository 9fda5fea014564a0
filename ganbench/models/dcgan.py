"""Conv G and D built from a description (models/arch.py), and the dcgan / wgan families.

Without model.arch / g_layers / d_layers the description is the DCGAN layout for the
resolution (arch.dcgan_arch: 28 px starts at 7x7, 32-256 px at 4x4, widths halve towards
the image), so 64 px is exactly the DCGAN paper's G and D.
"""
from __future__ import annotations

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.models.arch import Arch, Layer, apply_init, build_layers, check_arch, dcgan_arch, resolve_arch
from ganbench.models.base import MODELS, Discriminator, GanModels, Generator


class DCGenerator(Generator):
    """z (B, in_dim) -> image (B, C, H, W) through the described layers."""

    def __init__(self, in_dim: int, image_shape, layers: tuple[Layer, ...]):
        super().__init__()
        self.latent_dim = in_dim
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        flat_out = layers[-1].op == "linear"
        out = (c * h * w,) if flat_out else (c, h, w)
        self.net = nn.Sequential(*build_layers(layers, (in_dim,), out, inplace=True, where="G"))
        self.map_in = layers[0].op != "linear"  # a first conv reads z as a (z, 1, 1) map
        self.flat_out = flat_out

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # labels are accepted (and ignored) so every G has the same call signature.
        h = z.flatten(1)
        out = self.net(h[:, :, None, None] if self.map_in else h)
        return out.view(-1, *self.image_shape) if self.flat_out else out


class ConvBody(nn.Module):
    """image -> features: every described D layer but the output one."""

    def __init__(self, mods: list[nn.Module], out_shape: tuple):
        super().__init__()
        self.net = nn.Sequential(*mods)
        self.out_shape = out_shape  # (C, H, W) or (units,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DCDiscriminator(Discriminator):
    """image (B, C, H, W) -> logits (B,): a body, then the output layer as `head`."""

    def __init__(self, in_shape, layers: tuple[Layer, ...]):
        super().__init__()
        mods = build_layers(layers, tuple(in_shape), (1,), inplace=False, where="D")
        body_out = _body_shape(layers, in_shape)
        self.body = ConvBody(mods[:-1], body_out)
        self.head = mods[-1]  # the output layer has no BatchNorm, activation or dropout

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x).flatten(1)


def _body_shape(layers: tuple[Layer, ...], in_shape) -> tuple:
    from ganbench.models.arch import trace

    if len(layers) == 1:
        return tuple(in_shape)
    return trace(layers, tuple(in_shape), (1,), "D")[-2]


def conv_arch(cfg: ModelConfig, image_shape, bn_d: bool = True) -> Arch:
    return resolve_arch(cfg, image_shape, lambda: dcgan_arch(cfg.name, image_shape, cfg.ngf, cfg.ndf, bn_d))


def _build(cfg: ModelConfig, image_shape, batchnorm_d: bool) -> GanModels:
    arch = conv_arch(cfg, image_shape, batchnorm_d)
    check_arch(arch, cfg.latent_dim, image_shape)
    G = DCGenerator(cfg.latent_dim, image_shape, arch.g)
    D = DCDiscriminator(image_shape, arch.d)
    apply_init(arch, G, D)
    return GanModels(G, D, cfg.latent_dim, 0, False, False, image_shape)


@MODELS.register("dcgan", "DCGAN: conv G/D with BatchNorm (28, 32, 64, 128, 256 px; or model.arch / g_layers / d_layers)")
def build_dcgan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    return _build(cfg, image_shape, batchnorm_d=True)


@MODELS.register("wgan", "DCGAN G + WGAN-GP critic without BatchNorm (28, 32, 64, 128, 256 px)")
def build_wgan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    return _build(cfg, image_shape, batchnorm_d=False)
