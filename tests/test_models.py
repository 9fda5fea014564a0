"""Every registered model at every size it supports: shapes, ranges, labels, GP-ability."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.losses import LOSSES, gradient_penalty
from ganbench.models import MODELS, GanModels, build_models

CONV = ["dcgan", "wgan", "cdcgan", "infogan"]
NUM_CLASSES = 5
B = 3


def tiny(name: str, **kw) -> ModelConfig:
    args = dict(name=name, latent_dim=8, ngf=4, ndf=4, n_cat=4, n_cont=2)
    args.update(kw)
    return ModelConfig(**args)


def run_pair(m: GanModels, gen: torch.Generator):
    z = torch.randn(B, m.latent_dim, generator=gen)
    labels = m.sample_labels(B, gen, "cpu")
    x = m.G(z, labels)
    d_labels = labels if m.conditional else None
    return x, labels, m.D(x, d_labels)


def test_registry_names():
    assert MODELS.names() == ["cdcgan", "cmlp", "dcgan", "infogan", "mlp", "wgan"]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("res", [28, 32, 64, 128])
@pytest.mark.parametrize("name", CONV)
def test_conv_models_shapes(name, res, channels):
    torch.manual_seed(0)
    m = build_models(tiny(name), (channels, res, res), NUM_CLASSES)
    x, labels, logits = run_pair(m, torch.Generator().manual_seed(0))
    assert x.shape == (B, channels, res, res)
    assert x.abs().max() <= 1.0
    assert logits.shape == (B,)
    assert m.image_shape == (channels, res, res)
    if name == "infogan":
        out, cat, cont = m.D.info(x)
        assert (out.shape, cat.shape, cont.shape) == ((B,), (B, 4), (B, 2))
        torch.testing.assert_close(out, logits)  # same head either way


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 20, 24)])
@pytest.mark.parametrize("name", ["mlp", "cmlp"])
def test_mlp_models_any_size(name, shape):
    m = build_models(tiny(name), shape, NUM_CLASSES)
    x, _, logits = run_pair(m, torch.Generator().manual_seed(0))
    assert x.shape == (B, *shape) and x.abs().max() <= 1.0
    assert logits.shape == (B,)


def test_mlp_default_widths_are_classic():
    m = build_models(ModelConfig(name="mlp"), (1, 28, 28), 0)
    widths = [l.out_features for l in m.G.modules() if isinstance(l, nn.Linear)]
    assert widths == [256, 512, 1024, 784]
    widths = [l.out_features for l in m.D.modules() if isinstance(l, nn.Linear)]
    assert widths == [1024, 512, 256, 1]


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize("res", [16, 48, 96])
def test_unsupported_resolution(name, res):
    with pytest.raises(ConfigError, match="28, 32, 64, 128, 256"):
        build_models(tiny(name), (1, res, res), NUM_CLASSES)


def test_non_square_and_bad_channels():
    with pytest.raises(ConfigError, match="28, 32, 64, 128, 256"):
        build_models(tiny("dcgan"), (1, 28, 32), 0)
    with pytest.raises(ConfigError, match="1 or 3 channels"):
        build_models(tiny("dcgan"), (4, 32, 32), 0)
    with pytest.raises(ConfigError, match="latent_dim"):
        build_models(tiny("dcgan", latent_dim=0), (1, 28, 28), 0)


def test_unknown_model_lists_names():
    with pytest.raises(ConfigError) as e:
        build_models(tiny("stylegan9"), (1, 28, 28), 0)
    for name in MODELS.names():
        assert name in str(e.value)


@pytest.mark.parametrize("name", ["cdcgan", "cmlp"])
@pytest.mark.parametrize("num_classes", [0, 1])
def test_conditional_needs_labels(name, num_classes):
    with pytest.raises(ConfigError, match="conditional model needs a labelled dataset"):
        build_models(tiny(name), (1, 28, 28), num_classes)


def test_infogan_config_checks():
    with pytest.raises(ConfigError, match="n_cat"):
        build_models(tiny("infogan", n_cat=1), (1, 28, 28), 0)
    with pytest.raises(ConfigError, match="n_cont"):
        build_models(tiny("infogan", n_cont=8), (1, 28, 28), 0)
    m = build_models(tiny("infogan", n_cont=0), (1, 28, 28), 0)
    assert m.D.info(torch.zeros(2, 1, 28, 28))[2].shape == (2, 0)


@pytest.mark.parametrize(
    "name, num_classes, conditional, info",
    [("dcgan", 0, False, False), ("wgan", 0, False, False), ("mlp", 0, False, False),
     ("cdcgan", NUM_CLASSES, True, False), ("cmlp", NUM_CLASSES, True, False),
     ("infogan", 4, False, True)],
)
def test_flags(name, num_classes, conditional, info):
    # num_classes of an unconditional model is 0 whatever the dataset has; infogan's is n_cat.
    m = build_models(tiny(name), (1, 28, 28), NUM_CLASSES)
    assert (m.num_classes, m.conditional, m.info) == (num_classes, conditional, info)
    assert m.latent_dim == 8
    assert m.n_cont == (2 if info else 0)


def test_sample_labels():
    m = build_models(tiny("cdcgan"), (1, 28, 28), NUM_CLASSES)
    a = m.sample_labels(500, torch.Generator().manual_seed(1), "cpu")
    b = m.sample_labels(500, torch.Generator().manual_seed(1), "cpu")
    assert a.shape == (500,) and a.dtype == torch.long
    assert torch.equal(a, b)
    assert set(a.tolist()) == set(range(NUM_CLASSES))
    assert build_models(tiny("dcgan"), (1, 28, 28), NUM_CLASSES).sample_labels(4, None, "cpu") is None


@pytest.mark.parametrize("name", ["cdcgan", "cmlp", "infogan"])
def test_labelled_generators_refuse_missing_labels(name):
    m = build_models(tiny(name), (1, 28, 28), NUM_CLASSES)
    with pytest.raises(ValueError):
        m.G(torch.randn(2, 8))


def test_conditional_output_depends_on_label():
    torch.manual_seed(0)
    m = build_models(tiny("cdcgan"), (1, 28, 28), NUM_CLASSES).G.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    x = m(z, torch.tensor([0, 1]))
    assert not torch.allclose(x[0], x[1])


def test_dcgan_init():
    torch.manual_seed(0)
    m = build_models(ModelConfig(name="dcgan", ngf=64, ndf=64), (3, 64, 64), 0)
    convs = [l for l in m.G.modules() if isinstance(l, nn.ConvTranspose2d)]
    w = torch.cat([c.weight.flatten() for c in convs])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bns = [l for l in m.D.modules() if isinstance(l, nn.BatchNorm2d)]
    g = torch.cat([bn.weight for bn in bns])
    assert abs(g.mean().item() - 1.0) < 5e-3 and abs(g.std().item() - 0.02) < 5e-3
    assert all(torch.all(bn.bias == 0) for bn in bns)


def test_wgan_critic_has_no_batchnorm():
    m = build_models(tiny("wgan"), (1, 32, 32), 0)
    assert not any(isinstance(l, nn.modules.batchnorm._BatchNorm) for l in m.D.modules())
    assert not any("running_mean" in k for k in m.D.state_dict())
    dcgan = build_models(tiny("dcgan"), (1, 32, 32), 0)
    assert any(isinstance(l, nn.BatchNorm2d) for l in dcgan.D.modules())


def test_batchnorm_d_two_forwards_one_backward():
    torch.manual_seed(0)
    m = build_models(tiny("dcgan"), (3, 32, 32), 0)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    fake = m.G(torch.randn(4, 8))
    loss = LOSSES.get("bce")
    d = loss.d_loss(m.D(real), m.D(fake.detach()))
    d.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.D.parameters())
    assert all(p.grad is None for p in m.G.parameters())
    m.D.zero_grad()
    g = loss.g_loss(m.D(fake))
    g.backward()
    assert all(p.grad is not None for p in m.G.parameters())


@pytest.mark.parametrize("name", ["dcgan", "wgan", "cdcgan", "infogan", "mlp", "cmlp"])
def test_gradient_penalty_double_backward(name):
    torch.manual_seed(0)
    m = build_models(tiny(name), (1, 28, 28), NUM_CLASSES)
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(B, 1, 28, 28) * 2 - 1
    fake, labels, _ = run_pair(m, gen)
    gp = gradient_penalty(m.D, real, fake, labels if m.conditional else None, gen)
    assert gp.ndim == 0 and torch.isfinite(gp)
    gp.backward()
    grads = [p.grad for p in m.D.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_infogan_q_head_trains_generator():
    torch.manual_seed(0)
    m = build_models(tiny("infogan"), (1, 28, 28), 0)
    from ganbench.losses import info_loss

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(B, 8, generator=gen)
    codes = m.sample_labels(B, gen, "cpu")
    _, cat, cont = m.D.info(m.G(z, codes))
    info_loss(cat, codes, cont, z[:, -m.n_cont:]).backward()
    assert all(p.grad is not None for p in m.G.parameters())


@pytest.mark.parametrize("name", CONV)
def test_256_px(name):
    m = build_models(tiny(name, ngf=2, ndf=2), (3, 256, 256), NUM_CLASSES)
    x, _, logits = run_pair(m, torch.Generator().manual_seed(0))
    assert x.shape == (B, 3, 256, 256) and logits.shape == (B,)
    assert sum(isinstance(l, nn.ConvTranspose2d) for l in m.G.modules()) == 7
