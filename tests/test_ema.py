"""EMA of G: closed form, warm-up, buffers copied, exact resume, config checks."""
from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from ganbench import config as C
from ganbench.errors import CheckpointError, ConfigError
from ganbench.models import build_models
from ganbench.models.ema import GeneratorEMA, check_ema_config, ema_decay, make_ema


def tiny_g(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def set_all(G: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(value)


def test_closed_form_without_warmup():
    d, k = 0.9, 6
    G = tiny_g()
    set_all(G, 1.0)
    ema = GeneratorEMA(G, C.EmaConfig(decay=d, warmup=False))
    ws = [float(2 + i) for i in range(1, k + 1)]  # G's weights at each update
    for w in ws:
        set_all(G, w)
        ema.update(G)
    want = d**k * 1.0 + (1 - d) * sum(d ** (k - i) * w for i, w in enumerate(ws, 1))
    for p in ema.model.parameters():
        assert torch.allclose(p, torch.full_like(p, want), rtol=0, atol=1e-12)
    assert ema.updates == k


def test_start_step_copies_then_averages():
    G = tiny_g()
    ema = GeneratorEMA(G, C.EmaConfig(decay=0.5, start_step=3, warmup=False))
    for w in (5.0, 7.0, 11.0):
        set_all(G, w)
        ema.update(G)
    assert all(torch.equal(p, torch.full_like(p, 11.0)) for p in ema.model.parameters())
    set_all(G, 1.0)
    ema.update(G)
    assert all(torch.equal(p, torch.full_like(p, 6.0)) for p in ema.model.parameters())


def test_warmup_schedule():
    cfg = C.EmaConfig(decay=0.999, start_step=2)
    got = [ema_decay(cfg, u) for u in (0, 1, 2, 3, 12)]
    assert got == pytest.approx([0.0, 0.0, 0.1, 2 / 11, 11 / 20])
    assert ema_decay(cfg, 100_000) == 0.999  # capped
    assert ema_decay(C.EmaConfig(decay=0.9, warmup=False), 0) == 0.9


def test_warmup_closed_form():
    cfg = C.EmaConfig(decay=0.95)
    G = tiny_g()
    set_all(G, 0.0)
    ema = GeneratorEMA(G, cfg)
    want = 0.0
    for t in range(40):
        w = math.sin(t)
        set_all(G, w)
        ema.update(G)
        d = min(0.95, (1 + t) / (10 + t))
        want = d * want + (1 - d) * w
    p = next(ema.model.parameters())
    assert torch.allclose(p, torch.full_like(p, want), atol=1e-12)


def test_buffers_are_copied_not_averaged():
    G = tiny_g()
    ema = GeneratorEMA(G, C.EmaConfig(decay=0.99))
    G.train()
    with torch.no_grad():
        G(torch.randn(16, 3, dtype=torch.float64) * 5 + 3)  # moves BatchNorm's running stats
    params_before = [p.clone() for p in ema.model.parameters()]
    set_all(G, 9.0)
    ema.update(G)
    bn_g, bn_e = G[1], ema.model[1]
    assert torch.equal(bn_e.running_mean, bn_g.running_mean) and bn_g.running_mean.abs().sum() > 0
    assert torch.equal(bn_e.running_var, bn_g.running_var)
    assert torch.equal(bn_e.num_batches_tracked, bn_g.num_batches_tracked)
    # parameters did move, but only part of the way
    for before, p in zip(params_before, ema.model.parameters()):
        assert not torch.equal(before, p) and (p < 9.0).all()


def test_ema_is_a_frozen_copy_in_eval_mode():
    G = tiny_g()
    ema = GeneratorEMA(G, C.EmaConfig(decay=0.9))
    assert ema.model is not G and not ema.model.training
    assert all(not p.requires_grad for p in ema.model.parameters())
    set_all(G, 3.0)  # G moving does not move the average until update()
    assert not any(torch.equal(p, torch.full_like(p, 3.0)) for p in ema.model.parameters())
    assert all(p.requires_grad for p in G.parameters())


def _trajectory(n: int) -> list[dict]:
    """n successive states of a G trained by SGD on a fixed random objective."""
    G = tiny_g(1)
    opt = torch.optim.SGD(G.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(0)
    states = []
    for _ in range(n):
        x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
        opt.zero_grad()
        G(x).square().mean().backward()
        opt.step()
        states.append({k: v.clone() for k, v in G.state_dict().items()})
    return states


def test_resume_from_state_dict_is_bit_identical():
    cfg = C.EmaConfig(decay=0.97, start_step=2)
    states = _trajectory(12)
    G = tiny_g(1)
    whole = GeneratorEMA(G, cfg)
    for s in states:
        G.load_state_dict(s)
        whole.update(G)

    G = tiny_g(1)
    first = GeneratorEMA(G, cfg)
    for s in states[:5]:
        G.load_state_dict(s)
        first.update(G)
    buf = io.BytesIO()
    torch.save({"G_ema": first.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)["G_ema"]

    G = tiny_g(7)  # a fresh process: different initial weights, restored from the checkpoint
    resumed = GeneratorEMA(G, cfg)
    resumed.load_state_dict(saved)
    for s in states[5:]:
        G.load_state_dict(s)
        resumed.update(G)
    assert resumed.updates == whole.updates == 12
    a, b = resumed.model.state_dict(), whole.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_load_refuses_a_state_of_another_model():
    ema = GeneratorEMA(tiny_g(), C.EmaConfig(decay=0.9))
    other = GeneratorEMA(nn.Sequential(nn.Linear(3, 5)), C.EmaConfig(decay=0.9))
    with pytest.raises(CheckpointError, match="does not fit"):
        ema.load_state_dict(other.state_dict())
    with pytest.raises(CheckpointError, match="'model' and 'updates'"):
        ema.load_state_dict({"model": ema.model.state_dict()})


def test_averages_a_built_generator_and_samples_from_it():
    m = build_models(C.ModelConfig(name="cdcgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 5)
    ema = make_ema(C.EmaConfig(decay=0.999), m.G)
    ema.update(m.G)
    z, labels = torch.randn(2, 8), torch.tensor([1, 3])
    with torch.no_grad():
        assert ema.model(z, labels).shape == (2, 1, 28, 28)
    assert ema.model.state_dict().keys() == m.G.state_dict().keys()


def test_decay_zero_means_no_ema():
    assert make_ema(C.EmaConfig(), tiny_g()) is None
    assert make_ema(C.EmaConfig(decay=0.0, start_step=10), tiny_g()) is None
    assert isinstance(make_ema(C.EmaConfig(decay=0.5), tiny_g()), GeneratorEMA)


@pytest.mark.parametrize("pair, needle", [
    ("ema.decay=1", r"ema\.decay must be in \[0, 1\)"),
    ("ema.decay=1.5", r"ema\.decay must be in \[0, 1\)"),
    ("ema.decay=-0.1", r"ema\.decay must be in \[0, 1\)"),
    ("ema.decay=.nan", r"ema\.decay must be in \[0, 1\)"),
    ("ema.start_step=-1", r"ema\.start_step must be >= 0"),
    ("ema.bn_samples=-1", r"ema\.bn_samples must be >= 0"),
])
def test_impossible_values_are_one_line_config_errors(pair, needle):
    cfg = C.merge(C.RunConfig(), C.parse_overrides([pair]))
    with pytest.raises(ConfigError, match=needle) as e:
        check_ema_config(cfg.ema)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        make_ema(cfg.ema, tiny_g())


def test_set_from_the_command_line_round_trips():
    cfg = C.merge(C.RunConfig(), C.parse_overrides(["ema.decay=0.999", "ema.start_step=100", "ema.warmup=false"]))
    assert cfg.ema == C.EmaConfig(decay=0.999, start_step=100, warmup=False)
    assert isinstance(cfg.ema.decay, float)
    assert C.from_yaml(C.to_yaml(cfg)) == cfg
    assert C.flatten(cfg)["ema.decay"] == 0.999
    check_ema_config(cfg.ema)


def test_ddp_wrapper_is_unwrapped(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        G = tiny_g()
        start = [p.clone() for p in G.parameters()]
        wrapped = nn.parallel.DistributedDataParallel(G)
        ema = GeneratorEMA(wrapped, C.EmaConfig(decay=0.5, warmup=False))
        set_all(G, 4.0)
        ema.update(wrapped)
        assert ema.model.state_dict().keys() == G.state_dict().keys()  # no "module." prefix
        assert all(not isinstance(m, nn.parallel.DistributedDataParallel) for m in ema.model.modules())
    finally:
        dist.destroy_process_group()
    for p0, p in zip(start, ema.model.parameters()):
        assert torch.allclose(p, (p0 + 4.0) / 2, atol=1e-12)


def _first_bn_input(G, n: int, num_classes: int = 0) -> torch.Tensor:
    """What G's first BatchNorm sees for the n samples reestimate_batchnorm draws (same seed)."""
    from ganbench.models.base import uniform_labels
    from ganbench.models.ema import SETTLE_SEED

    seen = []
    bn = next(m for m in G.modules() if isinstance(m, nn.BatchNorm2d))
    hook = bn.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    gen = torch.Generator().manual_seed(SETTLE_SEED)
    labels = uniform_labels(n, num_classes, gen, "cpu") if num_classes else None
    with torch.no_grad():
        G.train()
        G(*G.sample_latent(n, labels, gen, "cpu"))
        G.eval()
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("name, classes", [("dcgan", 0), ("cdcgan", 5)])
def test_reestimated_statistics_are_those_of_gs_own_samples(name, classes):
    from ganbench.models.ema import reestimate_batchnorm

    m = build_models(C.ModelConfig(name=name, latent_dim=8, ngf=4, ndf=4), (1, 28, 28), max(classes, 2))
    G = m.G.eval()
    x = _first_bn_input(G, 300, classes)
    bn = next(mod for mod in G.modules() if isinstance(mod, nn.BatchNorm2d))
    assert reestimate_batchnorm(G, 300, classes, batch=300) == sum(isinstance(k, nn.BatchNorm2d) for k in G.modules())
    assert torch.allclose(bn.running_mean, x.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, x.var((0, 2, 3), unbiased=True), atol=1e-5)
    assert bn.momentum == 0.1 and not G.training  # the layer's settings are given back


def test_settle_replaces_copied_statistics_once_per_update_and_never_touches_g():
    m = build_models(C.ModelConfig(name="dcgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)
    m.G.train()
    for _ in range(3):  # G's running statistics move away from their initial values
        m.G(torch.randn(16, 8))
    g_before = {k: v.clone() for k, v in m.G.state_dict().items()}
    ema = make_ema(C.EmaConfig(decay=0.9, bn_samples=256), m.G)
    ema.update(m.G)
    copied = {k: v.clone() for k, v in ema.model.state_dict().items()}
    ema.settle()
    settled = ema.model.state_dict()
    stats = [k for k in copied if k.endswith("running_mean")]
    assert stats and all(not torch.equal(copied[k], settled[k]) for k in stats)
    assert all(torch.equal(copied[k], settled[k]) for k in copied if "running" not in k and "num_batches" not in k)
    assert all(torch.equal(v, m.G.state_dict()[k]) for k, v in g_before.items())
    first = {k: v.clone() for k, v in settled.items()}
    ema.settle()  # no update since: nothing recomputed
    assert all(torch.equal(first[k], v) for k, v in ema.model.state_dict().items())
    ema.update(m.G)  # the next update copies G's statistics again: training never sees a settle
    assert all(torch.equal(ema.model.state_dict()[k], m.G.state_dict()[k]) for k in stats)


def test_bn_samples_zero_keeps_gs_statistics():
    m = build_models(C.ModelConfig(name="dcgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)
    ema = make_ema(C.EmaConfig(decay=0.9, bn_samples=0), m.G)
    ema.update(m.G)
    before = {k: v.clone() for k, v in ema.model.state_dict().items()}
    ema.settle()
    assert all(torch.equal(before[k], v) for k, v in ema.model.state_dict().items())
