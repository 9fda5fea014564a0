"""Model descriptions: today's networks reproduced exactly, invalid descriptions refused in one line.

PINS were recorded from the hand-written models (commit 3d7086d) before they became
descriptions: parameter counts, the sum of G's and D's outputs for a fixed seed (so the
initialisation order is pinned too), and digests of the state_dict keys/shapes (so old
checkpoints still load) and of the layer types in order.
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from ganbench.config import ModelConfig
from ganbench.models import build_models

# (family, resolution, channels): (G params, D params, sum G(z), sum D(G(z)), G keys, D keys, layer types)
PINS = {
    ('dcgan', 28, 1): (3736, 989, 0.0047, -0.0, 'ec9fdadc609c', '659281960cf5', '70b0769288e6'),
    ('dcgan', 28, 3): (3864, 1117, -0.1189, -0.0, '1e85bea0c766', '67773dd1fee4', '70b0769288e6'),
    ('dcgan', 32, 3): (4856, 3061, 0.0277, 0.0, '5bf0c9e57742', 'bbc7cb8733bc', '3886affcccef'),
    ('dcgan', 64, 3): (15160, 11573, 0.022, 0.0, 'f0ac575ea70f', '4f57e01ad175', 'f69866efe416'),
    ('dcgan', 128, 3): (31608, 28021, -0.0042, -0.0, '5fb630686c0a', '623e3b77d920', '826c78d519ab'),
    ('wgan', 28, 1): (3736, 981, 0.0618, -0.0, 'ec9fdadc609c', '3abc5eb23825', 'af4d2b14b083'),
    ('wgan', 28, 3): (3864, 1109, -0.1502, 0.0, '1e85bea0c766', 'a2c178f00e2d', 'af4d2b14b083'),
    ('wgan', 32, 3): (4856, 3037, 0.0096, 0.0, '5bf0c9e57742', '7f8aaddb51d4', '7cbeac6bec6b'),
    ('wgan', 64, 3): (15160, 11517, -0.0077, 0.0, 'f0ac575ea70f', '1f3e2a463a0e', '03121ce35525'),
    ('wgan', 128, 3): (31608, 27933, 0.0001, 0.0, '5fb630686c0a', '781e38a52230', '674d6350ee4e'),
    ('cdcgan', 28, 1): (5721, 4973, 0.1245, 0.0036, '09431fe398da', '2b5a827ba6aa', '5699e25bdaec'),
    ('cdcgan', 28, 3): (5849, 5101, -0.2877, -0.0021, '6a029ae4dfdb', 'd06f15452698', '5699e25bdaec'),
    ('cdcgan', 32, 3): (6161, 8245, 0.0104, -0.0002, '29107bccae6a', '7ef7220c6c54', '7d195c362f37'),
    ('cdcgan', 64, 3): (17745, 32117, 0.0118, 0.0001, 'caea3ad909bc', 'ed72de361c36', '21d075d08ed2'),
    ('cdcgan', 128, 3): (34193, 110005, -0.0097, 0.0001, '8186cf3e5dc5', 'f847a2a83065', '774232c9701c'),
    ('infogan', 28, 1): (5304, 7379, 0.0842, 0.0, '4443c68912a7', '86c2e7db964f', '20cda0fe73b2'),
    ('infogan', 28, 3): (5432, 7507, -0.033, 0.0, 'b59b26faa962', 'fb3f4afb22b4', '20cda0fe73b2'),
    ('infogan', 32, 3): (5880, 7275, -0.0327, 0.0, '84708cd56f2a', '73661bf1fd49', '273e610d8ebd'),
    ('infogan', 64, 3): (17208, 19883, 0.0071, -0.0, '7b784f6a5204', 'ad840118c4aa', 'a4d261279e60'),
    ('infogan', 128, 3): (33656, 36331, 0.0116, 0.0, '56bdb0da1861', '54852fa40965', 'ed6570ddf332'),
    ('dcgan-paper', 64, 3): (3576704, 2765633, 22.8439, -0.0003, '2b6d6869f5da', '7e81f185e784', 'f69866efe416'),
    ('mlp', 28, 1): (112240, 110849, -1.2805, -0.0848, '2adbf9d43a2c', '038f59a5ef5b', 'eb8a7304d5c5'),
    ('cmlp', 28, 1): (112425, 111514, -3.7173, -0.1295, 'c4be34689bab', 'e11a216381a8', 'a6f04270885c'),
    ('mlp', 32, 3): (407392, 403713, 10.4261, 0.2603, '648d7a4a4cd5', 'a0a2806b05c1', 'eb8a7304d5c5'),
    ('cmlp', 32, 3): (407577, 404378, 12.722, 0.2994, '47a1da0fe5f3', '30d7ca4ec7d1', 'a6f04270885c'),
}


def _sig(m: torch.nn.Module) -> str:
    s = ";".join(f"{k}:{tuple(v.shape)}" for k, v in m.state_dict().items())
    return hashlib.sha1(s.encode()).hexdigest()[:12]


def _types(G: torch.nn.Module, D: torch.nn.Module) -> str:
    def leaves(m):
        return "|".join(type(x).__name__ for x in m.modules() if not list(x.children()))
    return hashlib.sha1((leaves(G) + "#" + leaves(D)).encode()).hexdigest()[:12]


@pytest.mark.parametrize("key", sorted(PINS), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_descriptions_reproduce_todays_networks(key):
    name, res, c = key
    if name == "dcgan-paper":
        cfg = ModelConfig(name="dcgan", ngf=64, ndf=64)
    else:
        cfg = ModelConfig(name=name, latent_dim=8, ngf=4, ndf=4, n_cat=4, n_cont=2)
    torch.manual_seed(0)
    m = build_models(cfg, (c, res, res), 5)
    m.G.eval()
    m.D.eval()
    z = torch.randn(2, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    lab = torch.tensor([1, 2])
    with torch.no_grad():
        x = m.G(z, lab if m.num_classes else None)
        y = m.D(x, lab if m.conditional else None)
    assert x.shape == (2, c, res, res) and y.shape == (2,)
    pg, pd, sx, sy, kg, kd, types = PINS[key]
    assert sum(p.numel() for p in m.G.parameters()) == pg
    assert sum(p.numel() for p in m.D.parameters()) == pd
    assert (_sig(m.G), _sig(m.D), _types(m.G, m.D)) == (kg, kd, types)
    assert x.sum().item() == pytest.approx(sx, abs=2e-4)
    assert y.sum().item() == pytest.approx(sy, abs=2e-4)


# ---------------------------------------------------------------- descriptions in config

from ganbench.config import RunConfig, merge, parse_overrides  # noqa: E402
from ganbench.errors import ConfigError  # noqa: E402
from ganbench.models.arch import ARCHS, dcgan_arch, layers_text, mlp_arch, parse_layers  # noqa: E402


def tiny(**kw) -> ModelConfig:
    return ModelConfig(**{"name": "dcgan", "latent_dim": 8, "ngf": 4, "ndf": 4, **kw})


@pytest.mark.parametrize("arch", ARCHS.names())
@pytest.mark.parametrize("family", ["dcgan", "cdcgan", "mlp", "cmlp", "infogan"])
def test_named_descriptions_build_and_run(arch, family):
    if (family in ("mlp", "cmlp")) != arch.startswith("mlp"):
        pytest.skip("mlp families read D's input flat; conv descriptions go with conv families")
    if family == "infogan" and arch == "infogan-mnist":
        pytest.skip("infogan's Q head needs a conv body")
    m = build_models(tiny(name=family, arch=arch, n_cat=3, n_cont=1), (1, 28, 28), 3)
    lab = m.sample_labels(2, torch.Generator().manual_seed(0), "cpu")
    x = m.G(torch.randn(2, 8), lab)
    assert x.shape == (2, 1, 28, 28)
    assert m.D(x, lab if m.conditional else None).shape == (2,)


def test_layers_set_from_the_command_line():
    over = parse_overrides([
        "model.g_layers=linear 8w@4 bn relu, convT 4w k5 s2 p2 o1 bn relu, convT 2w bn relu, convT k4 s2 p1 tanh",
        "model.d_layers=conv 2w k5 s2 p2 lrelu0.3 drop0.4, conv 4w k5 s2 p2 bn lrelu0.3, linear",
        "model.init=default",
    ])
    cfg = merge(RunConfig(model=tiny()), over)
    m = build_models(cfg.model, (3, 32, 32), 0)
    x = m.G(torch.randn(2, 8))
    assert x.shape == (2, 3, 32, 32) and m.D(x).shape == (2,)
    kinds = [type(l).__name__ for l in m.D.modules() if not list(l.children())]
    assert kinds == ["Conv2d", "LeakyReLU", "Dropout", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten", "Linear"]
    assert [l.negative_slope for l in m.D.modules() if isinstance(l, torch.nn.LeakyReLU)] == [0.3, 0.3]


def test_text_round_trip():
    for arch in (dcgan_arch("dcgan", (3, 64, 64), 8, 8), mlp_arch(4, 4)):
        for layers in (arch.g, arch.d):
            assert parse_layers(layers_text(layers), 1, "x") == layers


def _one_line_error(cfg: ModelConfig, shape=(3, 32, 32)) -> str:
    with pytest.raises(ConfigError) as e:
        build_models(cfg, shape, 0)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_description_that_misses_the_image_size_names_layer_and_sizes():
    msg = _one_line_error(tiny(g_layers="convT 4w k4 s1 p0 bn relu, convT 2w bn relu, convT 1w bn relu, convT k2 s2 p1 tanh"))
    assert "model.g_layers layer 4/4" in msg and "30x30" in msg and "needs 32x32" in msg
    msg = _one_line_error(tiny(d_layers="conv 1w lrelu, conv 2w bn lrelu, conv k3 s1 p0"))
    assert "model.d_layers layer 3/3" in msg and "6x6" in msg and "1x1" in msg
    msg = _one_line_error(tiny(arch="dcgan28-e5"))  # a 28 px layout asked for 32 px
    assert "model.arch=dcgan28-e5 G layer 4/4" in msg and "needs 32x32" in msg


@pytest.mark.parametrize("kw, match", [
    (dict(g_layers="convT 4w k4 s1 p0 bn relu, convT 2w bn relu, convT 1w fancy"), "unknown token 'fancy'"),
    (dict(g_layers="dense 8w"), "must start with one of conv, convT, linear"),
    (dict(g_layers="linear 64 relu, convT 1w bn relu, convT tanh"), "CHANNELS@SIZE"),
    (dict(d_layers="conv 1w lrelu, conv 2w bn lrelu, conv k8 s1 p0 lrelu"), "raw logits"),
    (dict(d_layers="conv 1w lrelu, conv 2w bn lrelu, conv k8 s1 p0 bn"), "no BatchNorm on the output layer"),
    (dict(d_layers="conv 1w lrelu drop1.5, conv 2w bn lrelu, conv k4 s1 p0"), "dropout"),
    (dict(g_layers="convT k4 s1 p0 bn relu, convT tanh"), "only the output layer may omit its width"),
    (dict(arch="nope"), "dcgan28-e5"),
    (dict(init="xavier"), "model.init must be one of dcgan, default"),
    (dict(d_layers="conv 1w o1 lrelu, conv 2w bn lrelu, conv k8 s1 p0"), "output padding"),
])
def test_invalid_descriptions_one_clear_line(kw, match):
    assert match in _one_line_error(tiny(**kw))


def test_init_switch():
    torch.manual_seed(0)
    default = build_models(tiny(init="default", ngf=16), (1, 28, 28), 0)
    convs = [l.weight for l in default.G.modules() if isinstance(l, torch.nn.ConvTranspose2d)]
    assert abs(torch.cat([w.flatten() for w in convs]).std().item() - 0.02) > 0.005  # kaiming-uniform, not N(0, 0.02)
    bns = [l.weight for l in default.D.modules() if isinstance(l, torch.nn.BatchNorm2d)]
    assert all(torch.all(w == 1) for w in bns)


def test_check_model_fails_before_data_and_keeps_the_rng():
    from ganbench.models import check_model

    torch.manual_seed(3)
    a = torch.rand(1)
    torch.manual_seed(3)
    check_model(tiny(name="cdcgan"), (3, 32, 32))  # conditional: stand-in classes
    assert torch.equal(torch.rand(1), a)
    with pytest.raises(ConfigError, match="reaches 30x30, the image needs 32x32"):
        check_model(tiny(g_layers="convT 4w k4 s1 p0 bn relu, convT 2w bn relu, convT 1w bn relu, convT k2 s2 p1 tanh"),
                    (3, 32, 32))


# ---------------------------------------------------------------- spectral norm in D

import io  # noqa: E402

from torch.nn.utils import parametrize  # noqa: E402

from ganbench.losses import gradient_penalty  # noqa: E402


def _sn_layers(D: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in D.modules() if parametrize.is_parametrized(m, "weight")]


def _sigma(w: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(w.detach().flatten(1), ord=2).item()


@pytest.mark.parametrize("name", ["dcgan", "wgan", "cdcgan", "infogan", "mlp", "cmlp"])
def test_spectral_norm_bounds_every_described_d_layer(name):
    torch.manual_seed(0)
    m = build_models(tiny(name=name, n_cat=3, n_cont=1, d_spectral_norm=True), (1, 28, 28), 3)
    convs_and_linears = [l for l in m.D.modules() if isinstance(l, (torch.nn.Conv2d, torch.nn.Linear))]
    sn = _sn_layers(m.D)
    # every layer of the description; InfoGAN's Q head (2 layers) is not part of it
    assert len(sn) == len(convs_and_linears) - (2 if name == "infogan" else 0) > 0
    assert not any(isinstance(l, torch.nn.modules.batchnorm._BatchNorm) for l in m.D.modules())
    lab = m.sample_labels(8, torch.Generator().manual_seed(0), "cpu")
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        for layer in sn:  # raw sigma 5: the normalised weight must still have sigma 1
            raw = layer.parametrizations.weight.original
            raw.mul_(5.0 / _sigma(raw))
        # Training forwards, one power iteration each; it converges slowly where the top two
        # singular values are close, as in these random matrices.
        for _ in range(100):
            m.D(x, lab if m.conditional else None)
    for layer in sn:
        assert _sigma(layer.weight) == pytest.approx(1.0, abs=1e-2)  # power iteration: an estimate
        assert _sigma(layer.parametrizations.weight.original) == pytest.approx(5.0)


def test_spectral_norm_replaces_the_family_batchnorm_and_keeps_parameter_counts():
    sn = build_models(tiny(d_spectral_norm=True), (3, 32, 32), 0)
    wgan = build_models(tiny(name="wgan"), (3, 32, 32), 0)
    count = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    assert count(sn.D) == count(wgan.D) == PINS[("wgan", 32, 3)][1]
    assert count(sn.G) == PINS[("dcgan", 32, 3)][0]  # G untouched
    assert not _sn_layers(sn.G)
    kinds = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.modules.batchnorm._BatchNorm, torch.nn.LeakyReLU)
    layers = lambda mod: [type(l).__name__.replace("Parametrized", "") for l in mod.modules() if isinstance(l, kinds)]  # noqa: E731
    assert layers(sn.D) == layers(wgan.D) == ["Conv2d", "LeakyReLU"] * 3 + ["Conv2d"]


def test_sn_token_round_trips_and_marks_one_layer():
    layers = parse_layers("conv 2w sn lrelu0.2, conv 4w lrelu0.2, linear sn", 4, "x")
    assert [l.sn for l in layers] == [True, False, True]
    assert layers_text(layers) == "conv 8 k4 s2 p1 sn lrelu0.2, conv 16 k4 s2 p1 lrelu0.2, linear sn"
    assert parse_layers(layers_text(layers), 1, "x") == layers
    m = build_models(tiny(d_layers="conv 2w sn lrelu0.2, conv 4w lrelu0.2, linear"), (1, 28, 28), 0)
    assert len(_sn_layers(m.D)) == 1


@pytest.mark.parametrize("kw, match", [
    (dict(d_layers="conv 1w lrelu, conv 2w bn sn lrelu, conv k8 s1 p0", ), "model.d_layers layer 2/3"),
    (dict(d_layers="conv 1w lrelu, conv 2w bn lrelu, conv k8 s1 p0", d_spectral_norm=True), "spectral norm replaces BatchNorm"),
    (dict(arch="dcgan28-bn-all", d_spectral_norm=True), "model.arch=dcgan28-bn-all D layer 1/3"),
    (dict(g_layers="convT 4w k8 s1 p0 sn relu, convT 2w bn relu, convT k4 s2 p1 tanh"), "sn is for D's layers"),
])
def test_spectral_norm_refusals_are_one_line(kw, match):
    shape = (1, 28, 28) if "arch" in kw else (3, 32, 32)
    assert match in _one_line_error(tiny(**kw), shape)


def test_dcgan_init_reaches_the_stored_weight_and_sigma_fits_it_at_once():
    torch.manual_seed(0)
    m = build_models(tiny(name="wgan", ndf=16, d_spectral_norm=True), (3, 32, 32), 0)
    m.D.eval()  # no power iteration: sigma must already fit the initialised weight
    for layer in _sn_layers(m.D):
        raw = layer.parametrizations.weight.original
        assert raw.std().item() == pytest.approx(0.02, rel=0.25)  # N(0, 0.02), not kaiming-uniform
        # 15 power iterations, as torch's registration; without the restart sigma is 8 to 50 here
        assert _sigma(layer.weight) == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_state_survives_save_and_weights_only_load():
    cfg = tiny(name="cdcgan", d_spectral_norm=True)
    torch.manual_seed(0)
    a = build_models(cfg, (1, 28, 28), 3)
    x, lab = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        for _ in range(3):
            a.D(x, lab)  # moves u, v away from their start
    buf = io.BytesIO()
    torch.save(a.D.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(1)
    b = build_models(cfg, (1, 28, 28), 3)
    b.D.load_state_dict(torch.load(buf, weights_only=True))
    a.D.eval(), b.D.eval()
    with torch.no_grad():
        assert torch.equal(a.D(x, lab), b.D(x, lab))
    assert any(k.endswith("_u") for k in b.D.state_dict())


def test_spectral_norm_critic_takes_the_gradient_penalty():
    torch.manual_seed(0)
    m = build_models(tiny(name="wgan", d_spectral_norm=True), (1, 28, 28), 0)
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(3, 1, 28, 28) * 2 - 1
    fake = m.G(torch.randn(3, 8, generator=gen))
    d = m.D(real).mean() - m.D(fake.detach()).mean()  # two forwards, one backward
    (d + gradient_penalty(m.D, real, fake.detach(), None, gen)).backward()
    grads = [p.grad for p in m.D.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
