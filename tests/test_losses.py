"""Losses against hand arithmetic from their formulas; GP against a critic with a known gradient."""
from __future__ import annotations

import math

import pytest
import torch

from ganbench.config import LossConfig, ModelConfig
from ganbench.errors import ConfigError
from ganbench.losses import LOSSES, GanLoss, gradient_penalty, info_loss, validate_loss_config
from ganbench.models import build_models

R = torch.tensor([1.0, -2.0])  # real logits
F_ = torch.tensor([0.5, -1.0])  # fake logits


def softplus(x: float) -> float:
    return math.log(1 + math.exp(x))


def close(t: torch.Tensor, expected: float) -> None:
    assert t.ndim == 0
    assert t.item() == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_registry():
    assert LOSSES.names() == ["bce", "hinge", "lsgan", "mse-sigmoid", "wgan-gp"]
    assert all(isinstance(LOSSES.get(n), GanLoss) for n in LOSSES.names())
    with pytest.raises(ConfigError, match="bce, hinge, lsgan, mse-sigmoid, wgan-gp"):
        LOSSES.get("wgan")


def test_bce():
    loss = LOSSES.get("bce")
    # d = mean softplus(-r) + mean softplus(f)
    d = (softplus(-1.0) + softplus(2.0)) / 2 + (softplus(0.5) + softplus(-1.0)) / 2
    close(loss.d_loss(R, F_), d)
    # same thing written as -log sigmoid
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    d2 = -(math.log(sig(1.0)) + math.log(sig(-2.0))) / 2 - (math.log(1 - sig(0.5)) + math.log(1 - sig(-1.0))) / 2
    close(loss.d_loss(R, F_), d2)
    close(loss.g_loss(F_), (softplus(-0.5) + softplus(1.0)) / 2)
    assert (loss.uses_gp, loss.real_threshold) == (False, 0.0)


def test_bce_is_stable_for_large_logits():
    loss = LOSSES.get("bce")
    out = loss.d_loss(torch.tensor([200.0]), torch.tensor([-200.0]))
    assert torch.isfinite(out) and out.item() < 1e-30
    close(loss.g_loss(torch.tensor([-200.0])), 200.0)


def test_lsgan():
    loss = LOSSES.get("lsgan")
    # 0.5 * mean((1-1)^2, (-2-1)^2) + 0.5 * mean(0.5^2, (-1)^2) = 0.5*4.5 + 0.5*0.625
    close(loss.d_loss(R, F_), 2.5625)
    # 0.5 * mean((0.5-1)^2, (-1-1)^2) = 0.5 * (0.25 + 4) / 2
    close(loss.g_loss(F_), 1.0625)
    assert (loss.uses_gp, loss.real_threshold) == (False, 0.5)


def test_wgan_gp():
    loss = LOSSES.get("wgan-gp")
    # mean(f) - mean(r) = -0.25 - (-0.5)
    close(loss.d_loss(R, F_), 0.25)
    close(loss.g_loss(F_), 0.25)
    assert loss.uses_gp


def test_hinge():
    loss = LOSSES.get("hinge")
    # mean(relu(0), relu(3)) + mean(relu(1.5), relu(0)) = 1.5 + 0.75
    close(loss.d_loss(R, F_), 2.25)
    close(loss.g_loss(F_), 0.25)
    assert not loss.uses_gp


@pytest.mark.parametrize("name", ["bce", "lsgan", "wgan-gp", "hinge"])
def test_bf16_logits_give_float32_losses(name):
    loss = LOSSES.get(name)
    assert loss.d_loss(R.bfloat16(), F_.bfloat16()).dtype == torch.float32
    assert loss.g_loss(F_.bfloat16()).dtype == torch.float32


class Linear(torch.nn.Module):
    """D(x) = w . x: grad_x D = w everywhere, so GP = (||w|| - 1)^2 exactly."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x, labels=None):
        out = x.flatten(1) @ self.w
        return out if labels is None else out + 0 * labels


def test_gradient_penalty_linear_critic():
    w = torch.full((12,), 0.5)  # ||w|| = sqrt(12 * 0.25) = sqrt(3)
    D = Linear(w.clone())
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))
    close(gp, (math.sqrt(3) - 1) ** 2)
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    expected = 2 * (math.sqrt(3) - 1) * 0.5 / math.sqrt(3)
    torch.testing.assert_close(D.w.grad, torch.full((12,), expected))


def test_gradient_penalty_zero_for_unit_norm_and_passes_labels():
    w = torch.zeros(8)
    w[3] = 1.0
    D = Linear(w)
    real, fake = torch.randn(5, 2, 2, 2), torch.randn(5, 2, 2, 2)
    gp = gradient_penalty(D, real, fake, labels=torch.arange(5))
    close(gp, 0.0)


def test_gradient_penalty_interpolates_per_sample():
    # D(x) = sum(x^2)/2 has gradient x, so the norm reveals which point was sampled.
    real, fake = torch.ones(64, 1, 1, 1), torch.zeros(64, 1, 1, 1)
    seen = []

    def D(x):
        seen.append(x.detach().flatten())
        return 0.5 * x.pow(2).flatten(1).sum(1)

    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))
    eps = seen[0]
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.1  # one eps per sample
    close(gp, ((eps - 1) ** 2).mean().item())
    again = []
    gradient_penalty(lambda x: (again.append(x.detach().flatten()), x.sum((1, 2, 3)))[1],
                     real, fake, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], eps)  # the generator makes it reproducible


def test_gradient_penalty_does_not_reach_generator():
    w = torch.nn.Parameter(torch.ones(3))
    fake = (w * torch.ones(2, 3)).view(2, 3, 1, 1)
    gp = gradient_penalty(Linear(torch.full((3,), 2.0)), torch.zeros(2, 3, 1, 1), fake)
    gp.backward()
    assert w.grad is None


def test_info_loss():
    cat_logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    cat_codes = torch.tensor([0, 2])
    cont_pred = torch.tensor([[0.5], [-1.0]])
    cont_codes = torch.tensor([[0.0], [1.0]])
    # CE: -log softmax at the target, averaged over the batch
    ce = ((math.log(math.exp(2) + 2) - 2) + math.log(2 + math.e)) / 2
    mse = (0.5**2 + 2.0**2) / 2
    close(info_loss(cat_logits, cat_codes, cont_pred, cont_codes), ce + mse)
    close(info_loss(cat_logits, cat_codes, torch.zeros(2, 0), torch.zeros(2, 0)), ce)


def models(name):
    return build_models(ModelConfig(name=name, latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)


def test_validate_loss_config():
    validate_loss_config(LossConfig(), models("dcgan"))
    validate_loss_config(LossConfig(name="wgan-gp", n_critic=5), models("wgan"))
    validate_loss_config(LossConfig(name="wgan-gp"), models("mlp"))
    validate_loss_config(LossConfig(name="hinge"), models("dcgan"))
    with pytest.raises(ConfigError, match="n_critic"):
        validate_loss_config(LossConfig(n_critic=0), models("dcgan"))
    with pytest.raises(ConfigError, match="gp_weight"):
        validate_loss_config(LossConfig(gp_weight=-1.0), models("dcgan"))
    with pytest.raises(ConfigError, match="gp_weight"):
        validate_loss_config(LossConfig(name="wgan-gp", gp_weight=0.0), models("wgan"))
    with pytest.raises(ConfigError, match="info_weight"):
        validate_loss_config(LossConfig(info_weight=-0.5), models("infogan"))
    with pytest.raises(ConfigError, match="model=wgan"):
        validate_loss_config(LossConfig(name="wgan-gp"), models("dcgan"))
    with pytest.raises(ConfigError, match="model=wgan"):
        validate_loss_config(LossConfig(name="wgan-gp"), models("infogan"))
    with pytest.raises(ConfigError, match="valid loss functions: bce, hinge, lsgan, mse-sigmoid, wgan-gp"):
        validate_loss_config(LossConfig(name="ns"), models("dcgan"))


def test_gradient_penalty_finite_at_zero_gradient():
    # A flat critic has ||grad|| = 0, the norm's kink: the penalty must stay finite.
    gp = gradient_penalty(Linear(torch.zeros(4)), torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2))
    close(gp, 1.0)
    D = Linear(torch.zeros(4))
    gradient_penalty(D, torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)).backward()
    assert torch.isfinite(D.w.grad).all()


def test_mse_sigmoid_is_mse_on_probabilities_not_lsgan():
    loss = LOSSES.get("mse-sigmoid")
    r, f = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.0])
    sr, sf = torch.sigmoid(r), torch.sigmoid(f)
    mse = torch.nn.MSELoss()
    close(loss.d_loss(r, f), (mse(sr, torch.ones(2)) + mse(sf, torch.zeros(2))).item())
    close(loss.g_loss(f), mse(sf, torch.ones(2)).item())
    assert loss.d_loss(torch.full((2,), 50.0), torch.full((2,), -50.0)) < 1e-6  # bounded, unlike lsgan
    assert LOSSES.get("lsgan").d_loss(r, f).item() != pytest.approx(loss.d_loss(r, f).item())
    torch.testing.assert_close(loss.output(r), sr)


def test_gradient_penalty_per_element():
    real, fake = torch.ones(8, 3, 4, 4), torch.zeros(8, 3, 4, 4)
    seen = []

    def D(x):
        seen.append(x.detach())
        return x.flatten(1).sum(1)

    gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0), per_element=True)
    assert seen[0][0].std() > 0.1  # eps varies inside one image
    gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))
    assert seen[1][0].std() < 1e-6  # the default: one eps per sample


@pytest.mark.parametrize("kw, match", [
    (dict(critic_schedule="every-batch"), "alternate, same-batch"),
    (dict(gp_eps="pixel"), "sample, element"),
])
def test_validate_schedule_and_gp_eps(kw, match):
    with pytest.raises(ConfigError, match=match):
        validate_loss_config(LossConfig(name="wgan-gp", **kw), models("wgan"))
