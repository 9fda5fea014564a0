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
from ganbench.models.arch import Layer, apply_init, build_layers, check_arch
from ganbench.losses import info_loss
from ganbench.models.base import MODELS, Discriminator, GanModels, Generator, uniform_labels
from ganbench.models.dcgan import ConvBody, DCGenerator, _body_shape, conv_arch


class InfoGenerator(Generator):
    def __init__(self, latent_dim: int, n_cat: int, image_shape, layers: tuple[Layer, ...]):
        super().__init__()
        self.latent_dim = latent_dim
        self.n_cat = n_cat
        # Indexing an identity buffer is one-hot encoding that exports cleanly to ONNX.
        self.register_buffer("eye", torch.eye(n_cat), persistent=False)
        self.net = DCGenerator(latent_dim + n_cat, image_shape, layers)

    def latent_labels(self, n, labels, generator, device):
        return uniform_labels(n, self.n_cat, generator, device)  # fresh codes, whatever the data's labels

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            raise ValueError("InfoGAN generator needs categorical codes (GanModels.sample_labels)")
        return self.net(torch.cat([z.flatten(1), self.eye[labels].to(z.dtype)], dim=1))


class InfoDiscriminator(Discriminator):
    aux_name = "info"

    def __init__(self, image_shape, layers: tuple[Layer, ...], ndf: int, n_cat: int, n_cont: int):
        super().__init__()
        self.n_cat = n_cat
        self.n_cont = n_cont
        mods = build_layers(layers, tuple(image_shape), (1,), inplace=False, where="D")
        body_out = _body_shape(layers, image_shape)
        if len(body_out) != 3:
            raise ConfigError("infogan's Q head reads a conv feature map: end D's body with a conv layer")
        self.body = ConvBody(mods[:-1], body_out)
        self.head = mods[-1]
        f, start = body_out[0], body_out[1]
        # No BN in Q: its input is (B, f, 1, 1) and must work for any batch size.
        self.q = nn.Sequential(
            nn.Conv2d(f, 4 * ndf, start, 1, 0),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(4 * ndf, n_cat + n_cont),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x).flatten(1)

    def info(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (real/fake logits (B,), categorical logits (B, n_cat), continuous codes (B, n_cont))."""
        h = self.body(x)
        q = self.q(h)
        return self.head(h).flatten(), q[:, : self.n_cat], q[:, self.n_cat :]

    def aux_loss(self, fake: torch.Tensor, z: torch.Tensor, g_labels: torch.Tensor | None) -> torch.Tensor:
        """Q recovers the codes G was given: the categorical ones (g_labels) and the
        continuous ones (the last n_cont entries of z)."""
        _, cat_logits, cont_pred = self.info(fake)
        return info_loss(cat_logits, g_labels, cont_pred, z[:, z.shape[1] - self.n_cont :])


@MODELS.register("infogan", "InfoGAN: DCGAN + categorical/continuous codes and a Q head")
def build_infogan(cfg: ModelConfig, image_shape, num_classes: int) -> GanModels:
    if cfg.n_cat < 2:
        raise ConfigError(f"infogan needs model.n_cat >= 2, got {cfg.n_cat}")
    if not 0 <= cfg.n_cont < cfg.latent_dim:
        raise ConfigError(
            f"infogan needs 0 <= model.n_cont < model.latent_dim (the codes are the last n_cont "
            f"entries of z), got n_cont={cfg.n_cont}, latent_dim={cfg.latent_dim}"
        )
    arch = conv_arch(cfg, image_shape)
    check_arch(arch, cfg.latent_dim + cfg.n_cat, image_shape)
    G = InfoGenerator(cfg.latent_dim, cfg.n_cat, image_shape, arch.g)
    D = InfoDiscriminator(image_shape, arch.d, cfg.ndf, cfg.n_cat, cfg.n_cont)
    apply_init(arch, G, D)
    return GanModels(G, D, cfg.latent_dim, cfg.n_cat, False, True, image_shape, cfg.n_cont)
