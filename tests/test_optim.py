from __future__ import annotations

import pytest
import torch

from ganbench.config import OptimConfig
from ganbench.errors import ConfigError
from ganbench.optim import OPTIMIZERS, build_optimizer


def params():
    return torch.nn.Linear(3, 2).parameters()


def test_registry():
    assert OPTIMIZERS.names() == ["adam", "sgd"]
    with pytest.raises(ConfigError, match="adam, sgd"):
        build_optimizer(OptimConfig(name="rmsprop"), params())


def test_adam():
    opt = build_optimizer(OptimConfig(lr=1e-3, beta1=0.0, beta2=0.9, weight_decay=1e-4), params())
    assert isinstance(opt, torch.optim.Adam)
    g = opt.param_groups[0]
    assert (g["lr"], g["betas"], g["weight_decay"]) == (1e-3, (0.0, 0.9), 1e-4)


def test_sgd():
    opt = build_optimizer(OptimConfig(name="sgd", lr=0.1, momentum=0.9), params())
    assert isinstance(opt, torch.optim.SGD)
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (0.1, 0.9, 0.0)


def test_sgd_ignores_betas():
    # beta1=5.0 would be refused by Adam; SGD neither checks nor uses the betas.
    lin = torch.nn.Linear(3, 1, bias=False)
    w0 = lin.weight.detach().clone()
    opt = build_optimizer(OptimConfig(name="sgd", lr=0.1, beta1=5.0, beta2=7.0, momentum=0.5), lin.parameters())
    assert isinstance(opt, torch.optim.SGD)
    g = opt.param_groups[0]
    assert "betas" not in g and (g["lr"], g["momentum"]) == (0.1, 0.5)
    # Two steps of heavy-ball momentum, by hand: v1 = g1, w1 = w0 - lr*v1; v2 = m*v1 + g2, w2 = w1 - lr*v2.
    x1, x2 = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[-1.0, 0.5, 2.0]])
    for x in (x1, x2):
        opt.zero_grad()
        lin(x).sum().backward()  # d/dw of w.x is x
        opt.step()
    v2 = 0.5 * x1 + x2
    expected = w0 - 0.1 * x1 - 0.1 * v2
    torch.testing.assert_close(lin.weight.detach(), expected)
    with pytest.raises(ConfigError, match="beta1"):  # the same config is refused where betas matter
        build_optimizer(OptimConfig(name="adam", lr=0.1, beta1=5.0), params())


def test_steps():
    lin = torch.nn.Linear(3, 1)
    before = lin.weight.detach().clone()
    opt = build_optimizer(OptimConfig(), lin.parameters())
    lin(torch.ones(2, 3)).sum().backward()
    opt.step()
    assert not torch.equal(before, lin.weight)


@pytest.mark.parametrize(
    "kw, match",
    [({"lr": 0.0}, "lr"), ({"lr": -1e-4}, "lr"), ({"lr": float("nan")}, "lr"),
     ({"beta1": 1.0}, "beta1"), ({"beta1": -0.1}, "beta1"), ({"beta2": 1.5}, "beta2"),
     ({"weight_decay": -1.0}, "weight_decay"),
     ({"name": "sgd", "momentum": -0.5}, "momentum"), ({"name": "sgd", "momentum": 1.0}, "momentum")],
)
def test_bad_values(kw, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(OptimConfig(**kw), params())
