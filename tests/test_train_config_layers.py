"""`ganbench train` config layering (preset, then --config YAML, then --set), --print-config,
resuming a checkpoint of another model, and MNIST with only its test split on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from ganbench.cli import main
from ganbench.errors import CheckpointError


def _yaml(tmp_path, data: dict, name="part.yaml") -> str:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return str(p)


def _printed(capsys, argv) -> dict:
    assert main(argv) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_preset_then_partial_yaml_then_set(tmp_path, capsys):
    part = _yaml(tmp_path, {"train": {"epochs": 3, "seed": 7}, "optim_g": {"lr": 1e-3}})
    cfg = _printed(capsys, ["train", "--preset", "digits-dcgan", "--config", part,
                            "--set", "train.seed=9", "--print-config"])
    assert cfg["model"]["ngf"] == 32 and cfg["preset"] == "digits-dcgan"  # the preset's
    assert cfg["train"]["epochs"] == 3 and cfg["optim_g"]["lr"] == 1e-3  # the YAML's
    assert cfg["train"]["seed"] == 9  # --set wins over the YAML
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists(), "printed, not trained"


def test_yaml_naming_a_preset_starts_from_it(tmp_path, capsys):
    part = _yaml(tmp_path, {"preset": "digits-dcgan", "train": {"epochs": 3}})
    cfg = _printed(capsys, ["train", "--config", part, "--print-config"])
    assert cfg["model"]["ngf"] == 32 and cfg["train"]["epochs"] == 3


@pytest.mark.parametrize("data, argv, needle", [
    ({"train": {"epoch": 3}}, ["--preset", "debug"], "train.epoch"),  # the unknown key, named
    ({"preset": "digits-dcgan"}, ["--preset", "debug"], "preset: digits-dcgan"),  # two presets
    ({"train": {"epochs": "many"}}, [], "train.epochs"),
])
def test_bad_layers_are_one_line(tmp_path, capsys, data, argv, needle):
    assert main(["train", *argv, "--config", _yaml(tmp_path, data), "--print-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err, err


def _checkpoint_of(preset: str, folder: Path) -> Path:
    """A checkpoint of `preset`'s model as ganbench writes it, without training."""
    import torch

    from ganbench.models import build_models
    from ganbench.presets import get_preset
    from ganbench.checkpoint import save_checkpoint

    cfg = get_preset(preset)
    m = build_models(cfg.model, (cfg.data.channels, cfg.data.resolution, cfg.data.resolution), 10)
    opt = lambda net: torch.optim.Adam(net.parameters()).state_dict()  # noqa: E731
    state = {"G": m.G.state_dict(), "D": m.D.state_dict(), "opt_g": opt(m.G), "opt_d": opt(m.D), "epoch": 1,
             "step": 8, "num_classes": 10, "image_shape": [cfg.data.channels, cfg.data.resolution, cfg.data.resolution]}
    return save_checkpoint(folder, cfg, state, {})


def test_resume_with_another_models_config_is_one_line(tmp_path, capsys):
    ckpt = _checkpoint_of("digits-dcgan", tmp_path / "ckpt")
    assert main(["train", "--preset", "debug", "--resume", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "size mismatch" not in err, err
    assert "different model" in err and "G.net.0.weight" in err, err  # which keys, with shapes
    assert "in the checkpoint vs" in err and "Drop --preset" in err
    assert not (tmp_path / "mlflow.db").exists(), "refused before an MLflow run was opened"
    # Without --preset it resumes with the checkpoint's own config: --print-config shows it.
    assert main(["train", "--resume", str(ckpt), "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["model"]["ngf"] == 32


def test_the_worker_checks_too(tmp_path):
    """train() called directly (the tuner, a script) is caught where the weights are loaded."""
    from ganbench.presets import get_preset
    from ganbench.train import train

    ckpt = _checkpoint_of("digits-dcgan", tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="different model"):
        train(get_preset("debug"), resume=str(ckpt), track=False, out=str(tmp_path / "runs"))


def test_mnist_with_only_the_test_split_says_data_split_test(tmp_path):
    from dataclasses import replace

    from ganbench.data import build_loader
    from ganbench.data.idx import write_idx
    from ganbench.errors import DataError
    from ganbench.presets import get_preset

    images = np.zeros((20, 28, 28), np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)  # like ../shared/datasets/mnist
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20, dtype=np.uint8) % 10)
    data = replace(get_preset("mnist-dcgan").data, root=str(tmp_path), download=False)
    assert data.split == "train"
    with pytest.raises(DataError) as e:
        build_loader(data)
    assert "--set data.split=test" in str(e.value)
    assert build_loader(replace(data, split="test", batch_size=10)).total_images == 20, "and it works"
