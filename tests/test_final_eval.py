"""The two evaluation tiers: a fast proxy during training picks the best checkpoint, and the
final protocol runs once on it, recorded apart (`final/` metrics, `ganbench.final_eval.*`)."""
import logging

import pytest
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.errors import ConfigError
from ganbench.presets import get_preset
from ganbench.train import train
from ganbench.train.final_eval import final_eval_config, plan_final_eval


def _cfg(metrics_cache, **final):
    return C.with_updates(
        get_preset("debug"), train={"epochs": 2},
        eval={"every": 1, "n_gen": 200, "metric": "kid", "kid_subsets": 5, "cache_dir": str(metrics_cache)},
        final_eval={"run": "always", "backbone": "digitscnn", "n_gen": 300, "n_real": 0, **final})


def test_final_eval_runs_once_on_the_best_checkpoint_and_is_recorded_apart(metrics_cache, tmp_path):
    res = train(_cfg(metrics_cache), out=tmp_path / "runs")
    final = res.final_eval
    assert final.protocol["checkpoint"] == res.best_checkpoint
    assert final.protocol["tier"] == "final" and final.protocol["n_gen"] == 300
    assert {"fid300_digitscnn", "kid300_digitscnn", "pr3003_digitscnn_precision", "fid300_digitscnn_floor"} \
        <= set(final.metrics)
    assert "kid200_digitscnn" in res.final_metrics  # the training tier keeps its own protocol
    run = MlflowClient(res.tracking_uri).get_run(res.run_id)
    assert run.data.metrics["final/fid300_digitscnn"] == pytest.approx(final.metrics["fid300_digitscnn"])
    assert "fid300_digitscnn" not in run.data.metrics  # never mixed with the training tier's names
    assert run.data.tags["ganbench.final_eval.backbone"] == "digitscnn"
    assert run.data.tags["ganbench.final_eval.n_gen"] == "300"


def test_final_eval_on_gpu_only_is_skipped_on_cpu_with_a_message(metrics_cache, caplog):
    cfg = _cfg(metrics_cache, run="gpu")
    with caplog.at_level(logging.INFO, logger="ganbench.train"):
        assert plan_final_eval(cfg, gpu=False) is False
    assert "final_eval.run=always" in caplog.text


@pytest.mark.parametrize("final, needle", [
    ({"run": "sometimes"}, "final_eval.run must be one of"),
    ({"n_real": 5000}, "final_eval.n_real=5000 but digits"),
    ({"n_gen": 1}, "n_gen must be >= 2"),
])
def test_impossible_final_protocol_fails_before_training(metrics_cache, final, needle):
    with pytest.raises(ConfigError, match=needle):
        plan_final_eval(_cfg(metrics_cache, **final), gpu=False)


def test_final_eval_config_takes_shared_protocol_from_eval():
    cfg = C.with_updates(get_preset("mnist-dcgan"), eval={"kid_subsets": 7, "resize": "pil-bicubic"})
    f = final_eval_config(cfg)
    assert (f.backbone, f.n_gen, f.n_real, f.real_split) == ("inception", 10_000, 10_000, "test")  # Lucic
    assert f.kid_subsets == 7 and f.resize == "pil-bicubic" and f.every == 0


def test_final_eval_checks_uniqueness_and_logs_the_nearest_grid(metrics_cache, tmp_path):
    import json

    res = train(_cfg(metrics_cache), out=tmp_path / "runs")
    final = res.final_eval
    for space in ("mse", "ssim", "digitscnn"):  # pixels, SSIM and the backbone's features
        assert 0.0 <= final.metrics[f"nn300_{space}_too_close"] <= 1.0
    assert final.protocol["nearest_grid"] == "final_eval/nearest.png"  # where it lies in the run
    client = MlflowClient(res.tracking_uri)
    run = client.get_run(res.run_id)
    assert run.data.metrics["final/nn300_mse_too_close"] == pytest.approx(final.metrics["nn300_mse_too_close"])
    assert {a.path for a in client.list_artifacts(res.run_id, "final_eval")} == \
        {"final_eval/nearest.png", "final_eval/nearest.json"}
    png = client.download_artifacts(res.run_id, "final_eval/nearest.png", str(tmp_path))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    sidecar = json.loads(open(client.download_artifacts(res.run_id, "final_eval/nearest.json", str(tmp_path))).read())
    assert len(sidecar["rows"]) == 16 and sidecar["spaces"]["mse"]["too_close"] == \
        pytest.approx(final.metrics["nn300_mse_too_close"])
