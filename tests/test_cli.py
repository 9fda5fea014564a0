"""The `ganbench` command as a user meets it: help texts, listing, errors with exit code 2
(one line, no traceback), and the train -> sample round trip with its JSON contract."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ganbench.cli import main
from ganbench.data import make_synthetic_folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganbench.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("cmd", [[], ["train"], ["sample"], ["presets"]])
def test_every_command_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: ganbench" in out
    if cmd == ["train"]:
        assert "--preset" in out and "--workers" in out and "--set" in out and "examples" in out


def test_presets_lists_presets_models_losses_datasets(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("debug", "digits-dcgan", "mnist-dcgan", "art-lsgan-64", "art-wgangp-64", "folder-cdcgan-64",
                 "dcgan", "wgan", "cdcgan", "infogan", "mlp", "bce", "lsgan", "wgan-gp", "hinge", "digits", "mnist"):
        assert name in out, name
    assert main(["presets", "--show", "debug"]) == 0
    assert "optim_g:" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--set", "optim_g.lrr=1"], "unknown key(s) optim_g.lrr"),
    (["train", "--set", "model.name=gan9000"], "unknown model 'gan9000'"),
    (["train", "--config", "missing.yaml"], "config file not found"),
    (["train", "--set", "data.name=folder:/no/such/dir"], "/no/such/dir"),
    (["sample", "--checkpoint", "nowhere", "--out", "x.npy"], "no checkpoint at nowhere"),
    (["sample", "--checkpoint", "nowhere", "--out", "x.jpg"], ".npy"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_train_then_sample_from_the_command_line(tmp_path):
    r = run_cli("train", "--preset", "debug", "--set", "train.epochs=1", "--out", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])  # the last stdout line is the JSON
    assert {"run_id", "best_checkpoint", "last_checkpoint", "final_metrics"} <= set(result)
    for seed_out in ("a.npy", "b.npy"):
        s = run_cli("sample", "--checkpoint", result["best_checkpoint"], "--n", "5", "--seed", "7",
                    "--out", str(tmp_path / seed_out))
        assert s.returncode == 0, s.stderr[-2000:]
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == (5, 1, 28, 28) and a.dtype == np.float32 and np.array_equal(a, b)


def test_conditional_training_on_a_labelled_folder_with_dali_cpu(tmp_path, capsys):
    folder = make_synthetic_folder(tmp_path / "art", n_classes=3, per_class=8, corrupt=1)
    rc = main(["train", "--preset", "debug", "--out", str(tmp_path / "runs"),
               "--set", f"data.name=folder:{folder}", "--set", "data.loader=dali-cpu",
               "--set", "data.channels=3", "--set", "data.resolution=32", "--set", "data.batch_size=4",
               "--set", "data.hflip=true", "--set", "model.name=cdcgan", "--set", "train.epochs=1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err[-2000:]
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["loader"] == "dali-cpu"
    from ganbench.sample import load_generator

    _, models = load_generator(result["last_checkpoint"])
    assert models.num_classes == 3 and models.conditional
