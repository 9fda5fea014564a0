"""GAN losses as pure functions on D's logits, plus the regularizers the trainer adds.

r = D(real) logits, f = D(G(z)) logits, both (B,); every loss is a mean over the batch.
Logits are upcast to float32 first: under bf16 autocast softplus/squares lose the
precision that small loss differences live in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.config import LossConfig
from ganbench.errors import ConfigError
from ganbench.registry import Registry


@dataclass(frozen=True)
class GanLoss:
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (real_logits, fake_logits) -> scalar
    g_loss: Callable[[Tensor], Tensor]  # fake_logits -> scalar
    uses_gp: bool = False  # trainer adds gp_weight * gradient_penalty to the D loss
    real_threshold: float = 0.0  # D "says real" when logit > threshold (D accuracy metrics)
    # What "D(x)" means when reported: a probability for BCE (as in the DCGAN tutorial),
    # the raw score for the others.
    output: Callable[[Tensor], Tensor] = lambda t: t.float()


# ---------------------------------------------------------------- non-saturating BCE


def d_bce(r: Tensor, f: Tensor) -> Tensor:
    """mean(softplus(-r)) + mean(softplus(f)) = -mean(log sigmoid(r)) - mean(log(1 - sigmoid(f)))."""
    return F.softplus(-r.float()).mean() + F.softplus(f.float()).mean()


def g_bce(f: Tensor) -> Tensor:
    """mean(softplus(-f)) = -mean(log sigmoid(f)): the non-saturating G loss."""
    return F.softplus(-f.float()).mean()


# ---------------------------------------------------------------- least squares (Mao et al.)


def d_lsgan(r: Tensor, f: Tensor) -> Tensor:
    """0.5 * mean((r - 1)^2) + 0.5 * mean(f^2)."""
    return 0.5 * (r.float() - 1).pow(2).mean() + 0.5 * f.float().pow(2).mean()


def g_lsgan(f: Tensor) -> Tensor:
    """0.5 * mean((f - 1)^2)."""
    return 0.5 * (f.float() - 1).pow(2).mean()


# ---------------------------------------------------------------- MSE on sigmoid outputs (seed 004 E1)


def d_mse_sigmoid(r: Tensor, f: Tensor) -> Tensor:
    """mean((sigmoid(r) - 1)^2) + mean(sigmoid(f)^2): nn.MSELoss against 1/0 targets on a
    sigmoid D, as the seeds wrote it (no 0.5 factor, bounded, unlike lsgan on raw outputs)."""
    return (torch.sigmoid(r.float()) - 1).pow(2).mean() + torch.sigmoid(f.float()).pow(2).mean()


def g_mse_sigmoid(f: Tensor) -> Tensor:
    """mean((sigmoid(f) - 1)^2)."""
    return (torch.sigmoid(f.float()) - 1).pow(2).mean()


# ---------------------------------------------------------------- Wasserstein (Gulrajani et al.)


def d_wgan(r: Tensor, f: Tensor) -> Tensor:
    """mean(f) - mean(r); the trainer adds gp_weight * gradient_penalty."""
    return f.float().mean() - r.float().mean()


def g_wgan(f: Tensor) -> Tensor:
    """-mean(f). Also the hinge G loss (Lim & Ye; Miyato et al.)."""
    return -f.float().mean()


# ---------------------------------------------------------------- hinge


def d_hinge(r: Tensor, f: Tensor) -> Tensor:
    """mean(relu(1 - r)) + mean(relu(1 + f))."""
    return F.relu(1 - r.float()).mean() + F.relu(1 + f.float()).mean()


LOSSES: Registry[GanLoss] = Registry("loss function")
LOSSES.add("bce", GanLoss(d_bce, g_bce, output=torch.sigmoid), "non-saturating GAN loss (BCE on logits)")
# lsgan targets are 1 (real) and 0 (fake): the decision boundary sits half way.
LOSSES.add("lsgan", GanLoss(d_lsgan, g_lsgan, real_threshold=0.5), "least-squares GAN")
# A critic's scale is arbitrary, so 'real' for wgan-gp only means 'above 0'; read it loosely.
LOSSES.add("mse-sigmoid", GanLoss(d_mse_sigmoid, g_mse_sigmoid, output=torch.sigmoid),
           "MSE against 1/0 on sigmoid(D) (nn.MSELoss on a sigmoid D; not lsgan, which is on raw outputs)")
LOSSES.add("wgan-gp", GanLoss(d_wgan, g_wgan, uses_gp=True), "Wasserstein loss + gradient penalty")
LOSSES.add("hinge", GanLoss(d_hinge, g_wgan), "hinge loss (SNGAN / BigGAN)")


# ---------------------------------------------------------------- regularizers


def gradient_penalty(
    D: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    labels: Optional[Tensor] = None,
    generator: Optional[torch.Generator] = None,
    per_element: bool = False,
) -> Tensor:
    """WGAN-GP: mean over the batch of (||grad_x D(x_hat)||_2 - 1)^2.

    x_hat = eps * real + (1 - eps) * fake with one eps ~ U(0, 1) per sample (Gulrajani et al.),
    or per element (per pixel and channel) when per_element, as some reimplementations do. The graph is kept
    (create_graph=True) so the penalty trains D; real and fake are detached, G gets nothing.
    """
    n = real.shape[0]
    shape = tuple(real.shape) if per_element else (n,) + (1,) * (real.dim() - 1)
    gen_device = generator.device if generator is not None else real.device
    eps = torch.rand(shape, generator=generator, device=gen_device).to(real.device, real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = D(x_hat) if labels is None else D(x_hat, labels)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = torch.linalg.vector_norm(grad.flatten(1).float(), 2, dim=1)
    return (norm - 1).pow(2).mean()


def info_loss(cat_logits: Tensor, cat_codes: Tensor, cont_pred: Tensor, cont_codes: Tensor) -> Tensor:
    """InfoGAN mutual-information bound: cross_entropy(cat_logits, cat_codes) + mean((cont_pred - cont_codes)^2).

    CE is averaged over the batch, the squared error over batch and codes (a fixed-variance
    Gaussian Q); with no continuous codes (n_cont = 0) the second term is 0.
    """
    loss = F.cross_entropy(cat_logits.float(), cat_codes)
    if cont_pred.numel():
        loss = loss + F.mse_loss(cont_pred.float(), cont_codes.float())
    return loss


CRITIC_SCHEDULES = ("alternate", "same-batch")
GP_EPS = ("sample", "element")


def _has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def validate_loss_config(cfg: LossConfig, models) -> None:
    """Reject settings that cannot train, before any data is read. models: a GanModels."""
    loss = LOSSES.get(cfg.name)
    if cfg.n_critic < 1:
        raise ConfigError(f"loss.n_critic must be >= 1 (D steps per G step), got {cfg.n_critic}")
    if not cfg.gp_weight >= 0:
        raise ConfigError(f"loss.gp_weight must be >= 0, got {cfg.gp_weight}")
    if cfg.critic_schedule not in CRITIC_SCHEDULES:
        raise ConfigError(
            f"loss.critic_schedule must be one of {', '.join(CRITIC_SCHEDULES)}, got {cfg.critic_schedule!r} "
            "(alternate: one D step per batch, a G step every n_critic batches; same-batch: n_critic D steps "
            "on the same real batch, then one G step, every batch)"
        )
    if cfg.gp_eps not in GP_EPS:
        raise ConfigError(f"loss.gp_eps must be one of {', '.join(GP_EPS)}, got {cfg.gp_eps!r}")
    if not cfg.info_weight >= 0:
        raise ConfigError(f"loss.info_weight must be >= 0, got {cfg.info_weight}")
    if not 0 <= cfg.feature_matching < float("inf"):
        raise ConfigError(f"loss.feature_matching must be >= 0 (0 = off), got {cfg.feature_matching}")
    # models.base.Discriminator.features (None) is the default; models imports this module.
    if cfg.feature_matching and type(models.D).features.__qualname__ == "Discriminator.features":
        raise ConfigError(f"loss.feature_matching needs a D that exposes its features; {type(models.D).__name__} does not")
    if loss.uses_gp:
        if cfg.gp_weight == 0:
            raise ConfigError(
                f"loss={cfg.name} needs loss.gp_weight > 0: an unpenalised critic is unbounded (10 is usual)"
            )
        if _has_batchnorm(models.D):
            raise ConfigError(
                f"loss={cfg.name} needs a critic without BatchNorm (the gradient penalty is per "
                "sample, BatchNorm mixes the batch); use model=wgan (or mlp) instead"
            )
