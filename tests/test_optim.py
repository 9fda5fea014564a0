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
    build_optimizer(OptimConfig(name="sgd", lr=0.1, beta1=5.0), params())


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
