"""InfoGAN (Chen et al. 2016) on the DCGAN layout.

G reads noise (whose last n_cont entries are the continuous codes) plus a one-hot
categorical code. D shares its conv body between the real/fake head and the Q head that
recovers the codes, so the mutual-information term costs one extra small head.
"""
from __future__ import annotations

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.models.base import MODELS, GanModels
from ganbench.models.dcgan import ConvBody, DCGenerator, plan
from ganbench.models.init import dcgan_init


class InfoGenerator(nn.Module):
    def __init__(self, latent_dim: int, n_cat: int, channels: int, start: int, n_up: int, ngf: int):
        super().__init__()
        # Indexing an identity buffer is one-hot encoding that exports cleanly to ONNX.
        self.register_buffer("eye", torch.eye(n_cat), persistent=False)
        self.net = DCGenerator(latent_dim + n_cat, channels, start, n_up, ngf)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            raise ValueError("InfoGAN generator needs categorical codes (GanModels.sample_labels)")
        return self.net(torch.cat([z.flatten(1), self.eye[labels].to(z.dtype)], dim=1))


class InfoDiscriminator(nn.Module):
    def __init__(self, channels: int, start: int, n_down: int, ndf: int, n_cat: int, n_cont: int):
        super().__init__()
        self.n_cat = n_cat
        self.body = ConvBody(channels, start, n_down, ndf, batchnorm=True)
        f = self.body.out_channels
        self.head = nn.Conv2d(f, 1, start, 1, 0)
        # No BN in Q: its input is (B, f, 1, 1) and must work for any batch size.
        self.q = nn.Sequential(
            nn.Conv2d(f, 4 * ndf, start, 1, 0),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(4 * ndf, n_cat + n_cont),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()

    def info(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (real/fake logits (B,), categorical logits (B, n_cat), continuous codes (B, n_cont))."""
        h = self.body(x)
        q = self.q(h)
        return self.head(h).flatten(), q[:, : self.n_cat], q[:, self.n_cat :]


@MODELS.register("infogan", "InfoGAN: DCGAN + categorical/continuous codes and a Q head")
def build_infogan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    if cfg.n_cat < 2:
        raise ConfigError(f"infogan needs model.n_cat >= 2, got {cfg.n_cat}")
    if not 0 <= cfg.n_cont < cfg.latent_dim:
        raise ConfigError(
            f"infogan needs 0 <= model.n_cont < model.latent_dim (the codes are the last n_cont "
            f"entries of z), got n_cont={cfg.n_cont}, latent_dim={cfg.latent_dim}"
        )
    start, n = plan(cfg.name, image_shape)
    c = image_shape[0]
    G = InfoGenerator(cfg.latent_dim, cfg.n_cat, c, start, n, cfg.ngf)
    D = InfoDiscriminator(c, start, n, cfg.ndf, cfg.n_cat, cfg.n_cont)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return GanModels(G, D, cfg.latent_dim, cfg.n_cat, False, True, image_shape, cfg.n_cont)
