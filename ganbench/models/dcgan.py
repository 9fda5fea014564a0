"""DCGAN generator and conv discriminator body, shared by dcgan, wgan, cdcgan and infogan.

Layout: 28 px starts at 7x7 (one k7 transposed conv) and doubles twice; 32/64/128 start at
4x4 and double per block. Widths halve towards the image (capped at 8x ngf/ndf, never
below ngf/ndf), so 64 px is exactly the DCGAN paper's G and D.
"""
from __future__ import annotations

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.models.base import MODELS, GanModels
from ganbench.models.init import dcgan_init

# resolution -> (start size, number of x2 steps from start to the image)
PLANS = {28: (7, 2), 32: (4, 3), 64: (4, 4), 128: (4, 5)}


def plan(model: str, image_shape: tuple[int, int, int]) -> tuple[int, int]:
    _, h, w = image_shape
    if h != w or h not in PLANS:
        raise ConfigError(
            f"model={model} supports square images of {', '.join(map(str, PLANS))} px, "
            f"got {h}x{w} (use model=mlp for other sizes)"
        )
    return PLANS[h]


class DCGenerator(nn.Module):
    """z (B, in_dim) -> image (B, C, R, R): transposed convs + BN + ReLU, Tanh out."""

    def __init__(self, in_dim: int, channels: int, start: int, n_up: int, ngf: int):
        super().__init__()
        widths = [ngf * min(8, 2 ** (n_up - 1 - i)) for i in range(n_up)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, widths[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # labels are accepted (and ignored) so every G has the same call signature.
        return self.net(z.flatten(1)[:, :, None, None])


class ConvBody(nn.Module):
    """image (B, C, R, R) -> features (B, out_channels, start, start): strided convs + LeakyReLU.

    batchnorm=False gives a WGAN-GP critic: BN mixes samples in a batch, which breaks the
    per-sample gradient the penalty is defined on.
    """

    def __init__(self, channels: int, start: int, n_down: int, ndf: int, batchnorm: bool):
        super().__init__()
        layers: list[nn.Module] = []
        prev = channels
        for i in range(n_down):
            width = ndf * min(8, 2**i)
            norm = batchnorm and i > 0  # DCGAN: no BN on the block that sees pixels
            layers.append(nn.Conv2d(prev, width, 4, 2, 1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(width))
            # Not in-place: D is differentiated twice for the gradient penalty.
            layers.append(nn.LeakyReLU(0.2))
            prev = width
        self.net = nn.Sequential(*layers)
        self.out_channels = prev
        self.out_size = start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DCDiscriminator(nn.Module):
    def __init__(self, channels: int, start: int, n_down: int, ndf: int, batchnorm: bool):
        super().__init__()
        self.body = ConvBody(channels, start, n_down, ndf, batchnorm)
        self.head = nn.Conv2d(self.body.out_channels, 1, start, 1, 0)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


def _build(cfg: ModelConfig, image_shape, batchnorm_d: bool) -> GanModels:
    start, n = plan(cfg.name, image_shape)
    c = image_shape[0]
    G = DCGenerator(cfg.latent_dim, c, start, n, cfg.ngf)
    D = DCDiscriminator(c, start, n, cfg.ndf, batchnorm_d)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return GanModels(G, D, cfg.latent_dim, 0, False, False, image_shape)


@MODELS.register("dcgan", "DCGAN: conv G/D with BatchNorm (28, 32, 64, 128 px)")
def build_dcgan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    return _build(cfg, image_shape, batchnorm_d=True)


@MODELS.register("wgan", "DCGAN G + WGAN-GP critic without BatchNorm (28, 32, 64, 128 px)")
def build_wgan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    return _build(cfg, image_shape, batchnorm_d=False)
