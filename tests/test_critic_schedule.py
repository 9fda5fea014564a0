"""Both critic schedules, counted: G and D optimiser updates over one epoch of batches."""
from __future__ import annotations

import pytest
import torch

from ganbench.config import LossConfig, ModelConfig
from ganbench.losses import LOSSES
from ganbench.models import build_models
from ganbench.train.stats import Stats
from ganbench.train.steps import GanStep

BATCHES = 6


def run_epoch(schedule: str, n_critic: int, loss: str = "wgan-gp", gp_eps: str = "sample"):
    torch.manual_seed(0)
    m = build_models(ModelConfig(name="wgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)
    opt_g = torch.optim.Adam(m.G.parameters(), 1e-4)
    opt_d = torch.optim.Adam(m.D.parameters(), 1e-4)
    counts = {"G": 0, "D": 0}
    reals = []
    for name, opt in (("G", opt_g), ("D", opt_d)):
        step = opt.step

        def counted(*a, _step=step, _name=name, **k):
            counts[_name] += 1
            return _step(*a, **k)

        opt.step = counted
    cfg = LossConfig(name=loss, n_critic=n_critic, critic_schedule=schedule, gp_eps=gp_eps)
    D = m.D
    forward = D.forward

    def seen(x, labels=None):
        reals.append(x)
        return forward(x, labels)

    stepper = GanStep(G=m.G, D=D, opt_g=opt_g, opt_d=opt_d, loss=LOSSES.get(loss), loss_cfg=cfg,
                      device=torch.device("cpu"))
    stats = Stats()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.rand(4, 1, 28, 28) * 2 - 1 for _ in range(BATCHES)]
    for i, real in enumerate(batches):
        stepper.step(i, real, None, gen, stats)
    return counts


@pytest.mark.parametrize("n_critic", [1, 3])
def test_alternate_one_d_step_per_batch_g_every_k(n_critic):
    assert run_epoch("alternate", n_critic) == {"D": BATCHES, "G": BATCHES // n_critic}


@pytest.mark.parametrize("n_critic", [1, 3, 7])
def test_same_batch_k_d_steps_then_one_g_step_every_batch(n_critic):
    assert run_epoch("same-batch", n_critic) == {"D": BATCHES * n_critic, "G": BATCHES}


def test_same_batch_reuses_the_real_batch(monkeypatch):
    # Every D step of one batch sees that batch's real images (and fresh fakes).
    seen = []
    orig = GanStep.d_step

    def spy(self, real, labels, fake, *a, **k):
        seen.append((real, fake))
        return orig(self, real, labels, fake, *a, **k)

    monkeypatch.setattr(GanStep, "d_step", spy)
    run_epoch("same-batch", 3)
    first = seen[:3]
    assert all(r is first[0][0] for r, _ in first)
    assert not torch.equal(first[0][1], first[1][1])
    assert seen[3][0] is not first[0][0]


def test_per_element_gp_trains():
    assert run_epoch("same-batch", 2, gp_eps="element") == {"D": 2 * BATCHES, "G": BATCHES}
