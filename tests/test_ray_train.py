"""Ray Train integration: `debug` on 2 DDP workers (gloo), resumed from a checkpoint,
recorded in MLflow. Slow (a local Ray cluster, ~1 min), so one Ray is shared by the module."""
from __future__ import annotations

import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.errors import DataError
from ganbench.presets import get_preset
from ganbench.train import train
from ganbench.checkpoint import load_checkpoint

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_ray")]


def test_two_workers_train_resume_and_record(tmp_path):
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 2})
    a = train(cfg, workers=2, out=tmp_path / "runs")
    assert a.loader == "memory"
    ck1 = tmp_path / "runs" / a.run_dir.split("/")[-1] / "checkpoint_epoch_0001"
    assert ck1.is_dir(), "Ray Train should persist every reported checkpoint under --out"

    # each of the 2 ranks trained on its own half: 2 ranks x 8 steps x 32 images per epoch
    _, s_a = load_checkpoint(a.last_checkpoint)
    assert s_a["step"] == 16 and s_a["epoch"] == 2

    b = train(cfg, workers=2, out=tmp_path / "runs_b", resume=str(ck1))
    _, s_b = load_checkpoint(b.last_checkpoint)
    for net in ("G", "D"):
        for k, v in s_a[net].items():
            assert torch.allclose(v.float(), s_b[net][k].float(), atol=1e-6), f"{net}.{k} differs after resume"

    client = MlflowClient(a.tracking_uri)
    run_a = client.get_run(a.run_id)
    assert run_a.info.status == "FINISHED"
    assert run_a.data.tags["ganbench.world_size"] == "2"
    assert run_a.data.params["launch.workers"] == "2"
    assert [m.step for m in client.get_metric_history(a.run_id, "loss_d")] == [1, 2]
    # A branch from epoch 1 of a finished 2-epoch run is its own MLflow run: nothing duplicated.
    assert b.run_id != a.run_id
    run_b = client.get_run(b.run_id)
    assert run_b.data.tags["ganbench.resumed_from"] == str(ck1)
    assert [m.step for m in client.get_metric_history(b.run_id, "loss_d")] == [2]
    found = client.search_runs([run_a.info.experiment_id], f"attributes.run_id = '{a.run_id}'")
    assert len(found) == 1


def test_worker_side_data_error_reaches_the_user_unwrapped(tmp_path):
    cfg = C.with_updates(get_preset("debug"), data={"name": f"folder:{tmp_path / 'nowhere'}"})
    with pytest.raises(DataError, match="nowhere"):
        train(cfg, workers=2, out=tmp_path / "runs", track=False)
