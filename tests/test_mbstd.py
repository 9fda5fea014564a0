"""The minibatch-standard-deviation layer: its value, its place in a description, its refusals."""
from __future__ import annotations

import pytest
import torch

from ganbench.config import ModelConfig
from ganbench.errors import ConfigError
from ganbench.models import build_models
from ganbench.models.arch import layers_text, parse_layers
from ganbench.models.mbstd import MinibatchStd


def test_extra_channel_is_the_groups_mean_std():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStd(4)(x)
    assert out.shape == (8, 4, 2, 2) and torch.equal(out[:, :3], x)
    for i in range(8):  # image i is in group i % 2: images i % 2, i % 2 + 2, + 4, + 6
        group = x[i % 2::2]
        want = group.std(0, unbiased=False).mean()
        assert torch.allclose(out[i, 3], want.expand(2, 2), atol=1e-4)


def test_identical_images_give_no_spread_and_a_short_batch_still_works():
    same = torch.ones(4, 2, 3, 3)
    assert MinibatchStd(4)(same)[:, 2].max() < 1e-3
    assert MinibatchStd(4)(torch.randn(6, 2, 3, 3)).shape == (6, 3, 3, 3)  # groups of gcd(6, 4) = 2


def test_token_round_trips_and_adds_one_channel_to_the_output_layer():
    layers = parse_layers("conv 8 lrelu0.2, mbstd g2, conv k7 s1 p0", 1, "D")
    assert layers_text(layers) == "conv 8 k4 s2 p1 lrelu0.2, mbstd g2, conv k7 s1 p0"
    m = build_models(ModelConfig(name="wgan", latent_dim=8, ngf=4, ndf=4, g_layers="convT 2w k7 s1 p0 bn relu, "
                                 "convT 1w bn relu, convT tanh nobias", d_layers="conv 8 lrelu0.2, mbstd g2, conv k14 s1 p0"),
                       (1, 28, 28), 0)
    assert m.D.head.in_channels == 9
    assert m.D(torch.randn(4, 1, 28, 28)).shape == (4,)


def test_model_d_mbstd_puts_one_layer_before_ds_output_layer():
    plain = build_models(ModelConfig(name="dcgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)
    with_it = build_models(ModelConfig(name="dcgan", latent_dim=8, ngf=4, ndf=4, d_mbstd=True), (1, 28, 28), 0)
    extra = sum(p.numel() for p in with_it.D.parameters()) - sum(p.numel() for p in plain.D.parameters())
    assert extra == 7 * 7  # the k7 output conv reads one more channel; nothing else changes
    assert isinstance(with_it.D.body.net[-1], MinibatchStd)
    assert sum(p.numel() for p in with_it.G.parameters()) == sum(p.numel() for p in plain.G.parameters())


@pytest.mark.parametrize("kw, match", [
    ({"g_layers": "convT 2w k7 s1 p0 bn relu, mbstd, convT tanh nobias"}, "mbstd is for D"),
    ({"d_layers": "conv 8 lrelu0.2, conv 1 k14 s1 p0, mbstd"}, "before the output layer"),
    ({"d_layers": "mbstd g0, conv 8 lrelu0.2, conv k7 s1 p0"}, "only a group size"),
    ({"d_layers": "mbstd bn, conv 8 lrelu0.2, conv k7 s1 p0"}, "only a group size"),
    ({"d_layers": "conv 8 g4 lrelu0.2, conv k7 s1 p0"}, "for mbstd layers"),
    ({"name": "mlp", "d_mbstd": True}, "model.d_mbstd"),
])
def test_misplaced_mbstd_is_one_clear_line(kw, match):
    cfg = ModelConfig(**{"name": "dcgan", "latent_dim": 8, "ngf": 4, "ndf": 4, **kw})
    with pytest.raises(ConfigError, match=match) as e:
        build_models(cfg, (1, 28, 28), 0)
    assert "\n" not in str(e.value)
