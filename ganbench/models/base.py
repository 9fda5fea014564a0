"""What every model builder returns, the one registry they register in, and the two base
classes that tell the trainer what a variant needs.

A GAN variant is a registry entry (a builder function), never a branch in the trainer. The
trainer passes labels to every network (a network that does not condition ignores them)
and asks the networks for the rest:
- `Generator.sample_latent(n, labels, gen, device) -> (z, g_labels)`: what G reads for a
  batch (conditional: the real batch's classes; InfoGAN: sampled codes; else none);
- `Discriminator.aux_loss(fake, z, g_labels)`: an extra term for both players (InfoGAN's
  mutual-information term), None for plain discriminators.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.registry import Registry


class Generator(nn.Module):
    """G(z, labels=None) -> images (B, C, H, W) in [-1, 1]."""

    latent_dim: int  # width of z

    def sample_latent(self, n: int, labels: Optional[torch.Tensor], generator: torch.Generator,
                      device: torch.device | str) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(z, labels for G) for a batch of n; `labels` are the real batch's classes."""
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return z, self.latent_labels(n, labels, generator, device)

    def latent_labels(self, n: int, labels: Optional[torch.Tensor], generator: torch.Generator,
                      device: torch.device | str) -> Optional[torch.Tensor]:
        return None  # unconditional: G reads z only


class Discriminator(nn.Module):
    """D(x, labels=None) -> raw logits (B,)."""

    aux_name: str = "aux"  # stats are reported as <aux_name>_d and <aux_name>_g

    def aux_loss(self, fake: torch.Tensor, z: torch.Tensor,
                 g_labels: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """An extra loss on fakes that both players minimise (weighted by loss.info_weight)."""
        return None

    def features(self, x: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """(B, F): what D's output layer reads (loss.feature_matching matches their means);
        None for a D that does not expose them."""
        return None


def uniform_labels(n: int, num_classes: int, generator: Optional[torch.Generator],
                   device: torch.device | str) -> torch.Tensor:
    """n uniform class/code ids, drawn where the generator lives (so a CPU generator can
    drive a CUDA run), then moved to `device`."""
    gen_device = generator.device if generator is not None else device
    return torch.randint(0, num_classes, (n,), generator=generator, device=gen_device).to(device)


@dataclass
class GanModels:
    G: Generator
    D: Discriminator
    latent_dim: int  # width of z; for InfoGAN its last n_cont entries are the continuous codes
    num_classes: int  # classes (or InfoGAN categorical codes) G/D condition on; 0 = none
    conditional: bool  # G and D read class labels (G: the real batch's); for sampling and export
    info: bool  # InfoGAN: G reads sampled codes, D has .info(x) -> (logits, cat_logits, cont_pred)
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) that G makes and D reads
    n_cont: int = 0  # InfoGAN continuous codes (the last n_cont entries of z)
    weights: str = "G"  # which of a checkpoint's weight sets G holds: "G" or "G_ema" (its EMA)

    def sample_labels(
        self, n: int, generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu"
    ) -> Optional[torch.Tensor]:
        """Uniform class/code ids (n,), or None for models that take no labels."""
        if self.num_classes == 0:
            return None
        return uniform_labels(n, self.num_classes, generator, device)


Builder = Callable[[ModelConfig, tuple[int, int, int], int], GanModels]
MODELS: Registry[Builder] = Registry("model")


def require_labels(name: str, num_classes: int) -> None:
    if num_classes < 2:
        raise ConfigError(
            f"conditional model needs a labelled dataset: model={name} got {num_classes} classes "
            "(use a dataset with class labels and data.use_labels=true, or an unconditional model "
            "such as dcgan / mlp)"
        )


def build_models(cfg: ModelConfig, image_shape: tuple[int, int, int], num_classes: int) -> GanModels:
    """Look up cfg.name and build G and D for images of image_shape (C, H, W)."""
    builder = MODELS.get(cfg.name)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ConfigError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    if image_shape[0] not in (1, 3):
        raise ConfigError(f"images must have 1 or 3 channels, got {image_shape[0]}")
    for key in ("latent_dim", "ngf", "ndf"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"model.{key} must be >= 1, got {getattr(cfg, key)}")
    return builder(cfg, tuple(int(s) for s in image_shape), int(num_classes))


def check_model(cfg: ModelConfig, image_shape: tuple[int, int, int]) -> None:
    """Raise the one-line ConfigError that build_models would, before any data is read or any
    worker starts (a description that cannot make the image size, an unknown model.arch, ...).

    Builds the networks once on the CPU and drops them; conditional families get 2 stand-in
    classes (the real count is known only once the data is). The global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        build_models(cfg, image_shape, max(2, cfg.n_cat))
