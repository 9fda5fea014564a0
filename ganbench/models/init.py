"""DCGAN weight init (Radford et al. 2015): the published GAN recipes assume it."""
import torch
from torch import nn
from torch.nn.utils import parametrize


def _stored_weight(m: nn.Module) -> torch.Tensor:
    # A spectrally normalised layer computes .weight from the stored one: initialise that.
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def dcgan_init(m: nn.Module) -> None:
    """Use as module.apply(dcgan_init): conv weights N(0, 0.02), BN scale N(1, 0.02), shift 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(_stored_weight(m), 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
