"""The GAN step in isolation: which network each phase updates and touches, update counts
per critic schedule, and what the models hand the step (latent inputs, auxiliary terms)."""
from __future__ import annotations

import pytest
import torch

from ganbench.config import LossConfig, ModelConfig
from ganbench.losses import LOSSES
from ganbench.models import build_models
from ganbench.train.stats import Stats
from ganbench.train.steps import GanStep

B = 4
SHAPE = (1, 28, 28)
LABELS = torch.tensor([0, 1, 2, 0])


def make(model: str = "dcgan", loss: str = "bce", **loss_kw):
    torch.manual_seed(0)
    m = build_models(ModelConfig(name=model, latent_dim=8, ngf=4, ndf=4, n_cat=3, n_cont=2), SHAPE, 3)
    step = GanStep(G=m.G, D=m.D, opt_g=torch.optim.Adam(m.G.parameters(), 1e-3),
                   opt_d=torch.optim.Adam(m.D.parameters(), 1e-3), loss=LOSSES.get(loss),
                   loss_cfg=LossConfig(name=loss, **loss_kw), device=torch.device("cpu"))
    return m, step


def snapshot(net):
    return [p.detach().clone() for p in net.parameters()]


def changed(before, net) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))


def real_batch():
    return torch.rand(B, *SHAPE, generator=torch.Generator().manual_seed(1)) * 2 - 1


def fakes(step, m, with_graph: bool):
    return step._fake(B, LABELS, torch.Generator().manual_seed(2), with_graph=with_graph)


def test_d_phase_updates_d_only_and_leaves_g_without_gradients():
    m, step = make()
    g0, d0 = snapshot(m.G), snapshot(m.D)
    fake, z, g_labels = fakes(step, m, with_graph=True)  # even a fake with a graph is detached for D
    step.d_step(real_batch(), LABELS, fake, z, g_labels, torch.Generator().manual_seed(3), Stats())
    assert changed(d0, m.D)
    assert not changed(g0, m.G)
    assert all(p.grad is None for p in m.G.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.D.parameters())


def test_g_phase_updates_g_and_gives_d_no_gradient():
    m, step = make()
    g0, d0 = snapshot(m.G), snapshot(m.D)
    fake, z, g_labels = fakes(step, m, with_graph=True)
    step.g_step(fake, z, g_labels, Stats())
    assert changed(g0, m.G)
    assert not changed(d0, m.D)
    assert all(p.grad is None for p in m.D.parameters()), "D's params must not accumulate grads in the G phase"
    assert all(p.requires_grad for p in m.D.parameters()), "D is trainable again after the G phase"


def test_g_phase_restores_d_trainable_when_the_loss_fails():
    m, step = make()
    bce = LOSSES.get("bce")

    def boom(f):
        raise RuntimeError("loss failed")

    step.loss = type(bce)(bce.d_loss, boom, output=bce.output)
    fake, z, g_labels = fakes(step, m, with_graph=True)
    with pytest.raises(RuntimeError, match="loss failed"):
        step.g_step(fake, z, g_labels, Stats())
    assert all(p.requires_grad for p in m.D.parameters())


def count_updates(step, batches: int = 6) -> dict:
    counts = {"G": 0, "D": 0}
    for name, opt in (("G", step.opt_g), ("D", step.opt_d)):
        real_step = opt.step

        def counted(*a, _step=real_step, _name=name, **k):
            counts[_name] += 1
            return _step(*a, **k)

        opt.step = counted
    gen = torch.Generator().manual_seed(0)
    for i in range(batches):
        step.step(i, real_batch(), LABELS, gen, Stats())
    return counts


@pytest.mark.parametrize("model", ["dcgan", "cdcgan", "infogan"])
@pytest.mark.parametrize("schedule, n_critic, expected", [
    ("alternate", 1, {"D": 6, "G": 6}),
    ("alternate", 2, {"D": 6, "G": 3}),
    ("same-batch", 3, {"D": 18, "G": 6}),
])
def test_update_counts_per_schedule_for_every_variant(model, schedule, n_critic, expected):
    _, step = make(model, n_critic=n_critic, critic_schedule=schedule)
    assert count_updates(step) == expected


def test_conditional_fakes_take_the_real_batch_classes():
    m, step = make("cdcgan")
    z, g_labels = m.G.sample_latent(B, LABELS, torch.Generator().manual_seed(0), "cpu")
    assert z.shape == (B, 8) and torch.equal(g_labels, LABELS)


def test_infogan_codes_are_sampled_and_its_q_term_trains_both_players():
    m, step = make("infogan")
    gen = torch.Generator().manual_seed(0)
    z, codes = m.G.sample_latent(200, LABELS, gen, "cpu")
    assert codes.shape == (200,) and set(codes.tolist()) == {0, 1, 2}  # not the data's labels
    stats = Stats()
    step.step(0, real_batch(), LABELS, torch.Generator().manual_seed(1), stats)
    reduced = stats.reduce()
    assert reduced["info_d"] > 0 and reduced["info_g"] > 0


def test_unconditional_models_have_no_aux_term_and_no_labels_for_g():
    m, step = make("dcgan")
    z, g_labels = m.G.sample_latent(B, LABELS, torch.Generator().manual_seed(0), "cpu")
    assert g_labels is None
    assert m.D.aux_loss(torch.zeros(B, *SHAPE), z, None) is None


def test_d_of_fakes_is_reported_in_the_g_phase_once_per_g_step():
    _, step = make(n_critic=2)
    stats = Stats()
    gen = torch.Generator().manual_seed(0)
    for i in range(4):
        step.step(i, real_batch(), LABELS, gen, stats)
    assert len(stats._values["d_fake"]) == 4 and len(stats._values["d_fake_g"]) == 2
    v = stats.reduce()["d_fake_g"]
    assert 0 < v < 1  # bce reports D(G(z)) as a probability


def test_every_d_call_passes_through_d_logits(monkeypatch):
    """The step's one seam for D's input (where DiffAugment would go): nothing bypasses it."""
    m, step = make()
    seen = []
    real_d_logits = GanStep.d_logits

    def spy(self, D, x, labels):
        seen.append(x.shape[0])
        return real_d_logits(self, D, x, labels)

    forward_calls = []
    real_forward = m.D.forward
    monkeypatch.setattr(m.D, "forward", lambda x, labels=None: forward_calls.append(1) or real_forward(x, labels))
    monkeypatch.setattr(GanStep, "d_logits", spy)
    step.step(0, real_batch(), LABELS, torch.Generator().manual_seed(0), Stats())
    assert len(seen) == 3 and len(forward_calls) == 3  # D(real), D(fake) in the D phase; D(fake) in G's
