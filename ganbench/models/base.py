"""What every model builder returns, and the one registry they register in.

A GAN variant is a registry entry (a builder function), never a branch in the trainer:
the trainer only reads the flags on GanModels to know which labels to pass where.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.registry import Registry


@dataclass
class GanModels:
    G: nn.Module  # G(z, labels=None) -> images (B, C, H, W) in [-1, 1]
    D: nn.Module  # D(x, labels=None) -> raw logits (B,)
    latent_dim: int  # width of z; for InfoGAN its last n_cont entries are the continuous codes
    num_classes: int  # classes (or InfoGAN categorical codes) G/D condition on; 0 = none
    conditional: bool  # trainer passes real labels to D and same-batch labels to G
    info: bool  # InfoGAN: G gets sampled codes, D has .info(x) -> (logits, cat_logits, cont_pred)
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) that G makes and D reads
    n_cont: int = 0  # InfoGAN continuous codes (the last n_cont entries of z)

    def sample_labels(
        self, n: int, generator: Optional[torch.Generator] = None, device: torch.device | str = "cpu"
    ) -> Optional[torch.Tensor]:
        """Uniform class/code ids (n,), or None for models that take no labels."""
        if self.num_classes == 0:
            return None
        # Sample where the generator lives so a CPU generator can drive a CUDA run.
        gen_device = generator.device if generator is not None else device
        ids = torch.randint(0, self.num_classes, (n,), generator=generator, device=gen_device)
        return ids.to(device)


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
