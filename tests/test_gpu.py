"""GPU paths: bf16 autocast (AMP), NCCL DDP under Ray Train, DALI mixed decoding (in
test_data_loaders.py). Marked `gpu`: skipped where no CUDA device is visible (conftest)."""
from __future__ import annotations

import math

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.checkpoint import load_checkpoint
from ganbench.presets import get_preset
from ganbench.train import train

pytestmark = pytest.mark.gpu


def _tags(res) -> dict:
    return MlflowClient(res.tracking_uri).get_run(res.run_id).data.tags


def test_amp_training_on_gpu(tmp_path):
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1, "amp": True})
    res = train(cfg, gpu=True, out=tmp_path / "runs")
    assert res.device.startswith("cuda")
    assert math.isfinite(res.final_metrics["loss_d"]) and math.isfinite(res.final_metrics["loss_g"])
    tags = _tags(res)
    assert tags["ganbench.amp"] == "bf16" and tags["ganbench.device"].startswith("cuda")
    _, state = load_checkpoint(res.last_checkpoint)
    assert state["step"] == cfg.train.max_steps_per_epoch  # it trained; the weights stay float32
    assert all(v.dtype == torch.float32 for v in state["G"].values() if v.is_floating_point())


@pytest.mark.ray
def test_nccl_ddp_two_gpu_workers(tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs for 2 NCCL workers")
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1})
    res = train(cfg, workers=2, gpu=True, out=tmp_path / "runs")
    assert res.device == "cuda:0"  # rank 0's device, as ray.train.torch.get_device() gave it
    assert _tags(res)["ganbench.world_size"] == "2"  # the process group the workers formed
    _, state = load_checkpoint(res.last_checkpoint)
    assert state["epoch"] == 1 and state["step"] == cfg.train.max_steps_per_epoch


@pytest.mark.ray
def test_one_gpu_worker_under_ray(tmp_path):
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1})
    res = train(cfg, workers=1, gpu=True, out=tmp_path / "runs")
    assert res.device.startswith("cuda")  # from ray.train.torch.get_device() in the worker
    assert _tags(res)["ganbench.world_size"] == "1"
    _, state = load_checkpoint(res.last_checkpoint)
    assert state["epoch"] == 1 and state["step"] == cfg.train.max_steps_per_epoch
