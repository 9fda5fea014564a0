"""EMA of G and DiffAugment inside training: the step updates the average after each G step
and augments every image D judges; checkpoints carry G_ema, resume is exact, and
evaluation, sampling and export take G_ema by default."""
from __future__ import annotations

import pytest
import torch

from ganbench import augment as aug_mod
from ganbench import config as C
from ganbench.checkpoint import load_checkpoint
from ganbench.errors import ConfigError
from ganbench.models.ema import GeneratorEMA
from ganbench.presets import get_preset
from ganbench.sample import load_generator
from ganbench.train import train, validate
from ganbench.train.stats import Stats
from ganbench.train import steps as steps_mod

from test_gan_step import LABELS, fakes, make, real_batch


def _cfg(**kw):
    base = {"train": {"epochs": 2}, "ema": {"decay": 0.9}, "augment": {"policy": "color,translation,cutout"}}
    for k, v in kw.items():
        base[k] = {**base.get(k, {}), **v}
    return C.with_updates(get_preset("debug"), **base)


def test_step_updates_the_ema_after_each_g_step_only():
    m, step = make()
    step.ema = GeneratorEMA(m.G, C.EmaConfig(decay=0.5, warmup=False))
    fake, z, g_labels = fakes(step, m, with_graph=True)
    step.d_step(real_batch(), LABELS, fake, z, g_labels, torch.Generator().manual_seed(3), Stats())
    assert step.ema.updates == 0
    step.g_step(fake, z, g_labels, Stats())
    assert step.ema.updates == 1
    ema_p, g_p = next(step.ema.model.parameters()), next(m.G.parameters())
    assert not torch.equal(ema_p, g_p)  # halfway between the old and the new G, not G itself


@pytest.mark.parametrize("policy, calls", [("", 0), ("translation", 3)])
def test_every_image_d_judges_is_augmented(monkeypatch, policy, calls):
    seen = []
    real_fn = steps_mod.diff_augment

    def spy(x, p, gen=None):
        seen.append((tuple(x.shape), p, x.requires_grad))
        return real_fn(x, p, gen)

    monkeypatch.setattr(steps_mod, "diff_augment", spy)
    m, step = make()
    step.augment, step.aug_gen = policy, torch.Generator().manual_seed(0)
    fake, z, g_labels = fakes(step, m, with_graph=True)
    step.d_step(real_batch(), LABELS, fake, z, g_labels, torch.Generator().manual_seed(3), Stats())
    step.g_step(fake, z, g_labels, Stats())
    assert len(seen) == calls  # D step: real and fake; G step: fake
    if calls:
        assert all(s[1] == policy for s in seen)
        assert seen[-1][2]  # G's fakes keep their graph through the augmentation


def test_checkpoint_carries_g_ema_and_sampling_takes_it(tmp_path):
    res = train(_cfg(), out=tmp_path / "r", track=False)
    _, state = load_checkpoint(res.last_checkpoint)
    assert set(state["G_ema"]) == {"model", "updates"} and state["G_ema"]["updates"] > 0
    _, auto = load_generator(res.last_checkpoint)
    _, raw = load_generator(res.last_checkpoint, "G")
    assert auto.weights == "G_ema" and raw.weights == "G"
    differs = [not torch.equal(a, b) for a, b in zip(auto.G.state_dict().values(), raw.G.state_dict().values())]
    assert any(differs)


def test_checkpointed_g_ema_has_its_own_batchnorm_statistics(tmp_path):
    """What is sampled, exported and served is G_ema with statistics of its own samples, not G's."""
    from ganbench.models.ema import reestimate_batchnorm

    res = train(_cfg(augment={"policy": ""}, train={"epochs": 1}), out=tmp_path / "r", track=False)
    cfg, ema = load_generator(res.last_checkpoint)
    _, raw = load_generator(res.last_checkpoint, "G")
    stats = [k for k in raw.G.state_dict() if k.endswith("running_mean")]
    assert stats and any(not torch.equal(ema.G.state_dict()[k], raw.G.state_dict()[k]) for k in stats)
    saved = {k: v.clone() for k, v in ema.G.state_dict().items()}
    reestimate_batchnorm(ema.G, cfg.ema.bn_samples, 0)  # the same estimate again: nothing moves
    assert all(torch.allclose(saved[k], v, atol=1e-6) for k, v in ema.G.state_dict().items() if k in stats)


def test_resume_with_ema_and_augmentation_is_exact(tmp_path):
    full = train(_cfg(train={"epochs": 3}), out=tmp_path / "a", track=False)
    part = train(_cfg(train={"epochs": 2}), out=tmp_path / "b", track=False)
    resumed = train(_cfg(train={"epochs": 3}), out=tmp_path / "c", resume=part.last_checkpoint, track=False)
    _, s_full = load_checkpoint(full.last_checkpoint)
    _, s_res = load_checkpoint(resumed.last_checkpoint)
    for k, v in s_full["G_ema"]["model"].items():
        assert torch.equal(v, s_res["G_ema"]["model"][k]), f"G_ema.{k} differs after resume"
    for k, v in s_full["D"].items():
        assert torch.equal(v, s_res["D"][k]), f"D.{k} differs after resume (augmentation stream)"


def test_no_ema_means_no_g_ema_and_auto_is_g(tmp_path):
    res = train(_cfg(ema={"decay": 0.0}, augment={"policy": ""}, train={"epochs": 1}), out=tmp_path / "r", track=False)
    _, state = load_checkpoint(res.last_checkpoint)
    assert "G_ema" not in state and load_generator(res.last_checkpoint)[1].weights == "G"


@pytest.mark.parametrize("section, value, match", [
    ("ema", {"decay": 1.5}, "ema.decay"), ("augment", {"policy": "color,flip"}, "flip")])
def test_validate_refuses_bad_ema_and_augment(section, value, match):
    with pytest.raises(ConfigError, match=match):
        validate(C.with_updates(get_preset("debug"), **{section: value}), 0, False)


def test_auto_policy_is_on_for_small_folders_only():
    cfg = C.AugmentConfig(policy="auto")
    assert aug_mod.resolve_policy(cfg, "folder:/art", 3000) == "color,translation,cutout"
    assert aug_mod.resolve_policy(cfg, "folder:/big", 50_000) == ""
    assert aug_mod.resolve_policy(cfg, "mnist", 3000) == ""
