"""The training loop in-process (no Ray): MLflow records, checkpoints, exact resume,
divergence handling, sampling. The Ray Train path is in test_ray_train.py."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.errors import CheckpointError, ConfigError, DivergenceError
from ganbench.losses import LOSSES, GanLoss
from ganbench.presets import get_preset
from ganbench.sample import load_generator, sample, write_samples
from ganbench.train import train, validate
from ganbench.train.observer import StopRun
from ganbench.checkpoint import load_checkpoint


def _cfg(**sections):
    return C.with_updates(get_preset("debug"), **sections)


def test_debug_run_is_recorded_in_mlflow(tmp_path):
    res = train(_cfg(train={"epochs": 2}), out=tmp_path / "runs")
    client = MlflowClient(res.tracking_uri)
    run = client.get_run(res.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["optim_g.lr"] == str(get_preset("debug").optim_g.lr)
    assert run.data.params["data.name"] == "digits"
    assert run.data.tags["ganbench.loader"] == "memory"
    hist = client.get_metric_history(res.run_id, "loss_d")
    assert [m.step for m in hist] == [1, 2]
    for key in ("loss_g", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "images_per_s", "epoch_time_s"):
        assert client.get_metric_history(res.run_id, key), key
    arts = {a.path for a in client.list_artifacts(res.run_id)}
    assert {"config.yaml", "samples", "plots", "checkpoints"} <= arts
    samples = {a.path for a in client.list_artifacts(res.run_id, "samples")}
    assert samples == {"samples/samples_epoch_0001.png", "samples/samples_epoch_0002.png"}
    # the final JSON contract
    assert Path(res.last_checkpoint).name == "checkpoint_epoch_0002"
    assert Path(res.best_checkpoint, "state.pt").is_file()
    assert res.final_metrics["epoch"] == 2 and math.isfinite(res.final_metrics["loss_g"])


def test_checkpoint_holds_state_dicts_and_config_only(tmp_path):
    res = train(_cfg(train={"epochs": 1}), out=tmp_path / "runs", track=False)
    cfg, state = load_checkpoint(res.last_checkpoint)  # weights_only=True inside
    assert cfg == _cfg(train={"epochs": 1})
    assert set(state) >= {"G", "D", "opt_g", "opt_d", "epoch", "step", "config_yaml"}
    assert all(isinstance(v, torch.Tensor) for v in state["G"].values())


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    full = train(_cfg(train={"epochs": 3}), out=tmp_path / "a", track=False)
    part = train(_cfg(train={"epochs": 2}), out=tmp_path / "b", track=False)
    resumed = train(_cfg(train={"epochs": 3}), out=tmp_path / "c", resume=part.last_checkpoint, track=False)
    _, s_full = load_checkpoint(full.last_checkpoint)
    _, s_res = load_checkpoint(resumed.last_checkpoint)
    assert s_res["epoch"] == 3 and s_res["step"] == s_full["step"]
    for net in ("G", "D"):
        for k, v in s_full[net].items():
            assert torch.equal(v, s_res[net][k]), f"{net}.{k} differs after resume"
    # and training did move the weights (the comparison is not vacuous)
    _, s_part = load_checkpoint(part.last_checkpoint)
    assert not all(torch.equal(v, s_part["G"][k]) for k, v in s_full["G"].items())


def test_resume_continues_the_same_mlflow_run(tmp_path):
    part = train(_cfg(train={"epochs": 1}), out=tmp_path / "runs")
    res = train(_cfg(train={"epochs": 2}), out=tmp_path / "runs2", resume=part.last_checkpoint)
    assert res.run_id == part.run_id
    client = MlflowClient(res.tracking_uri)
    assert [m.step for m in client.get_metric_history(res.run_id, "loss_d")] == [1, 2]


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    bce = LOSSES.get("bce")
    steps_per_epoch = get_preset("debug").train.max_steps_per_epoch

    def d_loss(r, f):
        calls["n"] += 1
        loss = bce.d_loss(r, f)
        return loss * float("nan") if calls["n"] > steps_per_epoch else loss  # epoch 2 blows up

    monkeypatch.setitem(LOSSES._items, "bce", GanLoss(d_loss, bce.g_loss, output=bce.output))
    out = tmp_path / "runs"
    with pytest.raises(DivergenceError, match="diverged at epoch 2"):
        train(_cfg(train={"epochs": 3}), out=out)
    ckpts = sorted(p.name for p in out.glob("*/checkpoint_epoch_*"))
    assert ckpts == ["checkpoint_epoch_0001"]
    _, state = load_checkpoint(next(out.glob("*/checkpoint_epoch_0001")))
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    run = client.search_runs([client.get_experiment_by_name("ganbench").experiment_id])[0]
    assert run.info.status == "FAILED" and run.data.tags["ganbench.status"] == "diverged"


@pytest.mark.parametrize("model", ["mlp", "cdcgan", "infogan", "wgan"])
def test_each_model_family_trains_one_epoch(tmp_path, model):
    loss = {"name": "wgan-gp", "n_critic": 2} if model == "wgan" else {"name": "bce"}
    cfg = _cfg(model={"name": model, "ngf": 8, "ndf": 8, "latent_dim": 16, "n_cat": 4, "n_cont": 2},
               loss=loss, train={"epochs": 1, "max_steps_per_epoch": 4})
    res = train(cfg, out=tmp_path / "runs", track=False)
    m = res.final_metrics
    assert math.isfinite(m["loss_d"]) and math.isfinite(m["loss_g"])
    if model == "wgan":
        assert "gp" in m
    if model == "infogan":
        assert "info_g" in m and "info_d" in m


def test_sample_is_deterministic_by_seed(tmp_path):
    res = train(_cfg(train={"epochs": 1}), out=tmp_path / "runs", track=False)
    _, models = load_generator(res.last_checkpoint)
    a, b, c = sample(models, 10, seed=3), sample(models, 10, seed=3), sample(models, 10, seed=4)
    assert a.shape == (10, 1, 28, 28) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= -1 and a.max() <= 1
    p = write_samples(a, tmp_path / "x.npy")
    arr = np.load(p)
    assert arr.dtype == np.float32 and arr.shape == (10, 1, 28, 28)
    png = write_samples(a, tmp_path / "x.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="unconditional"):
        sample(models, 4, label=1)
    with pytest.raises(ConfigError, match="--n"):
        sample(models, 0)


def test_conditional_sample_honours_label(tmp_path):
    cfg = _cfg(model={"name": "cdcgan", "ngf": 8, "ndf": 8, "latent_dim": 16}, train={"epochs": 1})
    res = train(cfg, out=tmp_path / "runs", track=False)
    _, models = load_generator(res.last_checkpoint)
    assert models.num_classes == 10
    x3, x7 = sample(models, 6, seed=0, label=3), sample(models, 6, seed=0, label=7)
    assert not torch.equal(x3, x7)  # same noise, different class
    with pytest.raises(ConfigError, match="0..9"):
        sample(models, 2, label=10)


def test_corrupt_checkpoint_is_reported_by_name(tmp_path):
    bad = tmp_path / "ck"
    bad.mkdir()
    (bad / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_pickled_checkpoint_error_never_advises_unsafe_load(tmp_path):
    """PyTorch's message says 'Re-running torch.load with weights_only set to False will
    likely succeed': the one thing a user must not do with a foreign file."""
    import fractions

    bad = tmp_path / "ck"
    bad.mkdir()
    torch.save({"G": fractions.Fraction(1, 3)}, bad / "state.pt")  # a pickled class, not tensors
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad)
    msg = str(err.value)
    assert "\n" not in msg and "Python objects" in msg
    assert "will likely succeed" not in msg and "file an issue" not in msg.lower()
    assert "Do not load it with weights_only=False" in msg


@pytest.mark.parametrize("sections, needle", [
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"train": {"checkpoint_every": 0}}, "checkpoint_every"),
    ({"model": {"name": "stylegan9"}}, "unknown model"),
    ({"loss": {"name": "wasserstein"}}, "unknown loss"),
    ({"loss": {"name": "wgan-gp"}}, "wgan"),  # BN critic with gradient penalty
    ({"loss": {"n_critic": 0}}, "n_critic"),
    ({"data": {"name": "nope"}}, "unknown dataset"),
    ({"data": {"batch_size": 5000}}, "batch"),
    ({"model": {"name": "cdcgan"}, "data": {"use_labels": False}}, "labelled"),
])
def test_impossible_configs_fail_before_training(tmp_path, sections, needle):
    with pytest.raises(ConfigError, match=needle):
        train(_cfg(**sections), out=tmp_path / "runs", track=False)


def test_layout_that_misses_the_image_size_fails_before_any_run_starts(tmp_path):
    bad = _cfg(model={"g_layers": "linear 4w@4 bn relu, convT 2w bn relu, convT 1w bn relu, convT k2 s2 p1 tanh"})
    with pytest.raises(ConfigError, match="reaches .* the image needs 28x28"):
        train(bad, out=tmp_path / "runs")  # tracking on: the error must come before an MLflow run
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()


def test_folder_preset_without_folder_says_how(tmp_path):
    with pytest.raises(ConfigError, match="data.name=folder:"):
        train(get_preset("art-lsgan-64"), out=tmp_path, track=False)


def test_time_budget_stops_at_the_first_epoch_end_past_it_and_evaluates_there(tmp_path, metrics_cache):
    cfg = _cfg(train={"epochs": 50, "max_seconds": 0.01},
               eval={"every": 10, "n_gen": 200, "metric": "kid", "kid_subsets": 5, "cache_dir": str(metrics_cache)})
    res = train(cfg, out=tmp_path / "runs", track=False)
    assert res.final_metrics["epoch"] == 1  # 50 epochs asked, the clock ended it after one
    assert "kid200_digitscnn" in res.final_metrics  # the stop epoch is evaluated like a last epoch
    assert res.last_checkpoint and res.best_checkpoint == res.last_checkpoint


class _StopAt:
    """An EpochObserver that stops the run at `epoch` (what tuning's pruner does)."""

    def __init__(self, epoch: int):
        self.epoch, self.seen = epoch, []

    def report(self, epoch: int, score: float) -> None:
        self.seen.append((epoch, score))
        if epoch >= self.epoch:
            raise StopRun("enough")


def test_an_observer_sees_every_evaluation_and_can_stop_the_run(tmp_path, metrics_cache):
    cfg = _cfg(train={"epochs": 5},
               eval={"every": 1, "n_gen": 200, "metric": "kid", "kid_subsets": 5, "cache_dir": str(metrics_cache)})
    obs = _StopAt(2)
    res = train(cfg, out=tmp_path / "runs", track=False, observer=obs)
    assert res.status == "pruned" and res.final_metrics["epoch"] == 2
    assert [e for e, _ in obs.seen] == [1, 2] and all(math.isfinite(s) for _, s in obs.seen)
    assert res.last_checkpoint.endswith("checkpoint_epoch_0002")


def test_log_every_writes_iteration_lines_and_mlflow_steps(tmp_path, caplog):
    steps = get_preset("debug").train.max_steps_per_epoch
    cfg = _cfg(train={"epochs": 2, "log_every": 3})
    with caplog.at_level("INFO", logger="ganbench.train"):
        res = train(cfg, out=tmp_path / "runs")
    lines = [r.getMessage() for r in caplog.records if " step " in r.getMessage() and "loss_d=" in r.getMessage()]
    want = [i for i in range(1, 2 * steps + 1) if (i - 1) % steps + 1 in range(3, steps + 1, 3)]
    assert [int(m.split(" step ")[1].split(":")[0]) for m in lines] == want
    hist = MlflowClient(res.tracking_uri).get_metric_history(res.run_id, "iter/loss_d")
    assert [m.step for m in hist] == want and all(math.isfinite(m.value) for m in hist)
    with pytest.raises(ConfigError, match="train.log_every"):
        validate(_cfg(train={"log_every": -1}), 0, False)
