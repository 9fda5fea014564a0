"""Every seed-experiment preset builds its models and runs one training step on CPU (tiny widths)."""
from __future__ import annotations

import pytest
import torch

from ganbench.config import merge
from ganbench.losses import LOSSES, validate_loss_config
from ganbench.models import build_models
from ganbench.optim import build_optimizer
from ganbench.presets import NOTES, PRESETS, get_preset, preset_groups
from ganbench.train.stats import Stats
from ganbench.train.steps import GanStep

SEEDS = sorted(NOTES)


def test_groups_cover_every_preset_once():
    grouped = [n for _, names in preset_groups() for n in names]
    assert sorted(grouped) == sorted(PRESETS.names())
    assert [t.split(" (")[0] for t, _ in preset_groups()] == ["seed experiments", "quick", "your own data"]
    assert len(SEEDS) >= 15


@pytest.mark.parametrize("name", SEEDS)
def test_seed_preset_has_a_note_naming_its_seed(name):
    note = NOTES[name]
    assert note.startswith("seed 00") and "\n" not in note
    assert PRESETS.help(name)


@pytest.mark.parametrize("name", SEEDS)
def test_seed_preset_runs_one_step(name):
    cfg = merge(get_preset(name), {"model": {"ngf": 4, "ndf": 4, "latent_dim": 8}})
    d = cfg.data
    shape = (d.channels, d.resolution, d.resolution)
    torch.manual_seed(0)
    m = build_models(cfg.model, shape, 3)
    validate_loss_config(cfg.loss, m)
    step = GanStep(
        G=m.G, D=m.D, opt_g=build_optimizer(cfg.optim_g, m.G.parameters()),
        opt_d=build_optimizer(cfg.optim_d, m.D.parameters()), loss=LOSSES.get(cfg.loss.name), loss_cfg=cfg.loss,
        device=torch.device("cpu"),
    )
    before = [p.detach().clone() for p in m.G.parameters()]
    stats = Stats()
    real = torch.rand(4, *shape) * 2 - 1
    step.step(cfg.loss.n_critic - 1, real, torch.tensor([0, 1, 2, 0]), torch.Generator().manual_seed(0), stats)
    assert any(not torch.equal(a, p) for a, p in zip(before, m.G.parameters()))  # G was updated


def test_presets_command_groups_and_lists_layouts(capsys):
    from ganbench.cli import main

    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    heads = [out.index(h) for h in (" seed experiments", " quick", " your own data", "layouts (model.arch")]
    assert heads == sorted(heads)
    assert out.index("mnist-dcgan-e3") < out.index(" quick") < out.index("cifar10-dcgan") < out.index(" your own data")
    assert main(["presets", "--show", "art-wgangp-64-seed002"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# seed 002 C3") and "critic_schedule: same-batch" in shown
