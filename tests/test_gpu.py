"""GPU paths: bf16 autocast (AMP), NCCL DDP under Ray Train, DALI mixed decoding (in
test_data_loaders.py). Marked `gpu`: skipped where no CUDA device is visible (conftest)."""
from __future__ import annotations

import math

import pytest
import torch

from ganbench import config as C
from ganbench.presets import get_preset
from ganbench.train import train

pytestmark = pytest.mark.gpu


def test_amp_training_on_gpu(tmp_path):
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1, "amp": True})
    res = train(cfg, gpu=True, out=tmp_path / "runs", track=False)
    assert res.device.startswith("cuda")
    assert math.isfinite(res.final_metrics["loss_d"]) and math.isfinite(res.final_metrics["loss_g"])


@pytest.mark.ray
def test_nccl_ddp_two_gpu_workers(tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs for 2 NCCL workers")
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1})
    res = train(cfg, workers=2, gpu=True, out=tmp_path / "runs", track=False)
    assert res.device.startswith("cuda") and res.workers == 2


@pytest.mark.ray
def test_one_gpu_worker_under_ray(tmp_path):
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1})
    res = train(cfg, workers=1, gpu=True, out=tmp_path / "runs", track=False)
    assert res.device.startswith("cuda")
