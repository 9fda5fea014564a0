"""Feature matching (loss.feature_matching): G's extra term is the squared distance between the
mean D features of the real batch and of the fakes; D is left untouched; every family's D
exposes its features, and impossible weights are one line."""
from __future__ import annotations

import pytest
import torch

from ganbench import config as C
from ganbench.errors import ConfigError
from ganbench.losses import validate_loss_config
from ganbench.models import build_models
from ganbench.presets import get_preset
from ganbench.train import train
from ganbench.train.stats import Stats

from test_gan_step import LABELS, fakes, make, real_batch, snapshot, changed


def test_term_is_the_distance_of_the_mean_features_and_moves_g_only():
    m, step = make(feature_matching=2.0)
    real = real_batch()
    fake, z, g_labels = fakes(step, m, with_graph=True)
    with torch.no_grad():
        want = 2.0 * (m.D.features(fake).mean(0) - m.D.features(real).mean(0)).square().sum()
    stats, d0 = Stats(), snapshot(m.D)
    step.g_step(fake, z, g_labels, stats, real, LABELS)
    got = stats.reduce(lambda t: t, device=torch.device("cpu"))["fm_g"]
    assert got == pytest.approx(float(want), rel=1e-5) and got > 0
    assert not changed(d0, m.D) and all(p.grad is None for p in m.D.parameters())


def test_the_term_changes_gs_gradient_and_off_means_no_term():
    grads = {}
    for weight in (0.0, 5.0):
        m, step = make(feature_matching=weight)
        fake, z, g_labels = fakes(step, m, with_graph=True)
        stats = Stats()
        step.opt_g.step = lambda: None  # keep the gradients of this one step to compare
        step.g_step(fake, z, g_labels, stats, real_batch(), LABELS)
        grads[weight] = torch.cat([p.grad.flatten() for p in m.G.parameters()])
        assert ("fm_g" in stats.reduce(lambda t: t, device=torch.device("cpu"))) == (weight > 0)
    assert not torch.allclose(grads[0.0], grads[5.0])


@pytest.mark.parametrize("name", ["dcgan", "wgan", "cdcgan", "infogan", "mlp", "cmlp"])
def test_every_family_exposes_features_of_the_output_layers_input(name):
    m = build_models(C.ModelConfig(name=name, latent_dim=8, ngf=4, ndf=4, n_cat=3, n_cont=2), (1, 28, 28), 3)
    x = torch.randn(4, 1, 28, 28)
    f = m.D.features(x, LABELS)
    assert f.dim() == 2 and f.shape[0] == 4
    validate_loss_config(C.LossConfig(feature_matching=1.0), m)


@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan")])
def test_impossible_weights_are_one_line(value):
    m = build_models(C.ModelConfig(name="dcgan", latent_dim=8, ngf=4, ndf=4), (1, 28, 28), 0)
    with pytest.raises(ConfigError, match="loss.feature_matching must be >= 0") as e:
        validate_loss_config(C.LossConfig(feature_matching=value), m)
    assert "\n" not in str(e.value)


def test_a_run_with_feature_matching_logs_the_term(tmp_path):
    res = train(C.with_updates(get_preset("debug"), loss={"feature_matching": 1.0}, train={"epochs": 1}),
                out=tmp_path / "r", track=False)
    assert res.status == "finished" and res.final_metrics["fm_g"] > 0
