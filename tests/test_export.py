"""`ganbench export`: ONNX parity with torch (unconditional and conditional), dynamic batch,
metadata round trip, MLflow artifact + registered version, sources (checkpoint, run, study),
and the failure paths (tolerance, no run, bad input)."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.errors import CheckpointError, ConfigError
from ganbench.export import ExportError, export_generator, read_metadata
from ganbench.export.cli import add_export_parser
from ganbench.noise import LABEL_RULE, TRUNCATION_RULE
from ganbench.presets import get_preset
from ganbench.sample import load_generator
from ganbench.train import train


def _train(root: Path, tracked: bool, **model):
    """A 1-epoch debug run under `root` (its own MLflow store and artifacts)."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 1, "max_steps_per_epoch": 4},
                         tracking={"tracking_uri": uri}, **({"model": model} if model else {}))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # the default artifact store sits beside the working directory
        res = train(cfg, out=root / "runs", track=tracked)
    return res.to_dict()  # the fields as the JSON line names them


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """An unconditional run recorded in MLflow, with an evaluation score and protocol tags
    as train() records them (set here directly: a real evaluation costs a backbone)."""
    res = _train(tmp_path_factory.mktemp("tracked"), tracked=True)
    client = MlflowClient(res["tracking_uri"])
    client.log_metric(res["run_id"], "best_fid300_digitscnn", 41.5)
    client.set_tag(res["run_id"], "ganbench.eval.backbone", "digitscnn")
    client.set_tag(res["run_id"], "ganbench.eval.n_gen", "300")
    return res


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("cond"), tracked=False, name="cdcgan", ngf=8, ndf=8, latent_dim=16)


def _torch_images(ckpt, z, labels=None):
    _, models = load_generator(ckpt)
    with torch.no_grad():
        lab = None if labels is None else torch.from_numpy(labels)
        return models.G(torch.from_numpy(z), lab).clamp(-1, 1).numpy()


def test_unconditional_export_matches_torch_at_any_batch(tracked, tmp_path):
    out = tmp_path / "m" / "model.onnx"
    res = export_generator(out, checkpoint=tracked["best_checkpoint"], log_to_mlflow=False)
    assert res["onnx_path"] == str(out.resolve()) and 0 <= res["max_abs_diff"] <= 1e-4
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]  # no side data file
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["z"] and model.graph.output[0].name == "images"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        z = np.random.default_rng(n).standard_normal((n, 16), dtype=np.float32)
        got = session.run(["images"], {"z": z})[0]
        assert got.shape == (n, 1, 28, 28) and got.dtype == np.float32
        assert np.abs(got - _torch_images(tracked["best_checkpoint"], z)).max() <= 1e-4
        assert got.min() >= -1 and got.max() <= 1


def test_conditional_export_takes_int64_labels(conditional, tmp_path):
    out = tmp_path / "cond.onnx"
    res = export_generator(out, checkpoint=conditional["best_checkpoint"])
    assert res["conditional"] and res["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert inputs["labels"].type == "tensor(int64)" and inputs["z"].type == "tensor(float)"
    z = np.random.default_rng(0).standard_normal((7, 16), dtype=np.float32)
    labels = np.arange(7, dtype=np.int64) % 10
    got = session.run(["images"], {"z": z, "labels": labels})[0]
    assert np.abs(got - _torch_images(conditional["best_checkpoint"], z, labels)).max() <= 1e-4
    other = session.run(["images"], {"z": z, "labels": (labels + 1) % 10})[0]
    assert not np.array_equal(got, other)  # the label matters
    meta = read_metadata(out)
    assert meta["conditional"] is True and meta["num_classes"] == 10 and meta["inputs"] == ["z", "labels"]
    _check_conditional_mlflow_model(out, meta, tmp_path / "mlflow-model")


def _check_conditional_mlflow_model(onnx_path, meta, where):
    """As an MLflow model (what export logs), the signature asks for labels and pyfunc takes them."""
    import mlflow

    from ganbench.export import mlflow_log

    mlflow.onnx.save_model(onnx.load(str(onnx_path)), str(where), signature=mlflow_log.signature(meta),
                           input_example=mlflow_log.input_example(meta), save_as_external_data=False)
    model = mlflow.pyfunc.load_model(str(where))
    assert [i.name for i in model.metadata.get_input_schema().inputs] == ["z", "labels"]
    got = model.predict({"z": np.zeros((3, 16), np.float32), "labels": np.array([0, 1, 2])})["images"]
    assert got.shape == (3, 1, 28, 28)


def test_checkpoint_without_run_says_so_once_and_skips_mlflow(conditional, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ganbench.export"):
        res = export_generator(tmp_path / "m.onnx", checkpoint=conditional["best_checkpoint"])
    assert res["run_id"] is None and "model_version" not in res
    assert sum("no MLflow run" in r.message for r in caplog.records) == 1
    assert not (tmp_path / "mlflow.db").exists()  # no empty store created on the way


def test_unreachable_tracking_is_said_once_and_skipped(tmp_path, caplog):
    from ganbench.models import build_models
    from ganbench.checkpoint import save_checkpoint

    cfg = C.with_updates(get_preset("debug"), tracking={"tracking_uri": "http://127.0.0.1:9"})  # nothing listens
    m = build_models(cfg.model, (1, 28, 28), 0)
    ckpt = save_checkpoint(tmp_path / "ckpt", cfg, {"G": m.G.state_dict(), "D": m.D.state_dict(), "epoch": 1,
                                                    "image_shape": [1, 28, 28], "num_classes": 0,
                                                    "mlflow_run_id": "0123abcd"}, {})
    with caplog.at_level(logging.WARNING, logger="ganbench.export"):
        res = export_generator(tmp_path / "m.onnx", checkpoint=str(ckpt))
    assert res["run_id"] == "0123abcd" and "model_version" not in res and res["max_abs_diff"] <= 1e-4
    assert sum("not reachable" in r.message for r in caplog.records) == 1


def test_metadata_round_trips(tracked, tmp_path):
    out = tmp_path / "model.onnx"
    export_generator(out, checkpoint=tracked["best_checkpoint"], log_to_mlflow=False)
    meta = read_metadata(out)
    assert meta["latent_dim"] == 16 and meta["image_shape"] == [1, 28, 28] and meta["num_classes"] == 0
    assert meta["normalization"] == "[-1, 1]" and meta["conditional"] is False
    assert "default_rng(seed).standard_normal" in meta["noise"]
    # Truncation is documented in the file: the caller scales z by psi (ganbench/noise.py).
    assert meta["truncation"] == TRUNCATION_RULE and "psi" in meta["truncation"]
    assert meta["labels"] == LABEL_RULE and meta["n_cont"] == 0
    assert meta["run_id"] == tracked["run_id"] and meta["checkpoint"] == tracked["best_checkpoint"]
    assert meta["score_key"] == "fid300_digitscnn" and meta["best_score"] == pytest.approx(41.5)
    assert meta["eval_protocol"] == {"backbone": "digitscnn", "n_gen": "300"}
    assert meta["preset"] == "debug" and meta["model"] == "dcgan" and meta["ganbench_version"]
    assert meta["exported_at"].endswith("Z") and 0 <= meta["max_abs_diff"] <= meta["tolerance"] == 1e-4


def test_run_id_export_logs_an_mlflow_model_registered_under_an_alias(tracked, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracked["tracking_uri"])
    out = tmp_path / "best.onnx"
    res = export_generator(out, run_id=tracked["run_id"])
    assert res["run_id"] == tracked["run_id"] and res["checkpoint"] == tracked["best_checkpoint"]
    assert (res["registered_model"], res["model_version"], res["model_uri"]) == ("ganbench-debug", "1",
                                                                                  "models:/ganbench-debug/1")
    assert (res["alias"], res["alias_version"], res["alias_moved"]) == ("champion", "1", True)
    client = MlflowClient(tracked["tracking_uri"])
    version = client.get_model_version_by_alias("ganbench-debug", "champion")
    assert version.run_id == tracked["run_id"] and version.tags["ganbench.score_key"] == "fid300_digitscnn"
    assert client.get_run(tracked["run_id"]).data.tags["ganbench.onnx_model"] == "models:/ganbench-debug/1"
    # An MLflow model, not a bare file: pyfunc loads it by alias and it samples the right shape.
    pyfunc = mlflow.pyfunc.load_model("models:/ganbench-debug@champion")
    assert [i.name for i in pyfunc.metadata.get_input_schema().inputs] == ["z"]
    z = np.random.default_rng(3).standard_normal((5, 16), dtype=np.float32)
    images = pyfunc.predict({"z": z})["images"]
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.float32
    direct = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["images"], {"z": z})[0]
    assert np.array_equal(images, direct)
    got = Path(mlflow.artifacts.download_artifacts("models:/ganbench-debug@champion", dst_path=str(tmp_path / "dl")))
    assert {"MLmodel", "model.onnx", "input_example.json"} <= {p.name for p in got.iterdir()}
    assert read_metadata(got / "model.onnx")["run_id"] == tracked["run_id"]
    from serve.sampler import OnnxSampler  # a deployment can name the alias instead of a path

    assert OnnxSampler("models:/ganbench-debug@champion").metadata["run_id"] == tracked["run_id"]
    again = export_generator(tmp_path / "again.onnx", run_id=tracked["run_id"], model_name="digits-g", alias=None)
    assert (again["registered_model"], again["model_version"]) == ("digits-g", "1") and "alias" not in again
    assert client.get_model_version("digits-g", "1").run_id == tracked["run_id"]


def test_champion_alias_moves_only_to_a_better_score_under_the_same_metric(tracked, tmp_path):
    from types import SimpleNamespace

    from ganbench.export.export import _log_and_register

    out = tmp_path / "c.onnx"
    export_generator(out, checkpoint=tracked["best_checkpoint"], log_to_mlflow=False)
    model, uri, client = onnx.load(str(out)), tracked["tracking_uri"], MlflowClient(tracked["tracking_uri"])
    steps = [(30.0, "fid300_digitscnn", "1", True),   # no champion yet
             (35.0, "fid300_digitscnn", "1", False),  # worse: v1 stays
             (20.0, "kid300_digitscnn", "1", False),  # another metric: not comparable
             (25.0, "fid300_digitscnn", "4", True)]   # better under the same metric
    for score, key, holder, moved in steps:
        run = client.get_run(client.create_run(client.get_run(tracked["run_id"]).info.experiment_id).info.run_id)
        meta = {**read_metadata(out), "score_key": key, "best_score": score}
        res = _log_and_register(SimpleNamespace(tracking_uri=uri, run=run), model, meta, "champ", "champion", "")
        assert (res["alias_version"], res["alias_moved"]) == (holder, moved), res["alias_reason"]
    assert str(client.get_model_version_by_alias("champ", "champion").version) == "4"


@pytest.mark.slow
def test_mlflow_models_serve_answers_for_the_champion(tracked, tmp_path):
    """`mlflow models serve` on the alias, with no environment to build (--env-manager local):
    about 25 s on 2 cores, so `slow`."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from types import SimpleNamespace

    import requests
    from servers import free_port

    from ganbench.export.export import _log_and_register

    out = tmp_path / "s.onnx"
    export_generator(out, checkpoint=tracked["best_checkpoint"], log_to_mlflow=False)
    run = MlflowClient(tracked["tracking_uri"]).get_run(tracked["run_id"])
    _log_and_register(SimpleNamespace(tracking_uri=tracked["tracking_uri"], run=run), onnx.load(str(out)),
                      read_metadata(out), "served", "champion", "")
    bin_dir = Path(sys.executable).parent  # mlflow starts `uvicorn` from PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracked["tracking_uri"], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    port = free_port()
    proc = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", "-m", "models:/served@champion",
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).ok:
                    break
            except requests.ConnectionError:
                assert proc.poll() is None, "mlflow models serve exited"
                time.sleep(0.5)
        z = np.random.default_rng(0).standard_normal((3, 16)).tolist()
        r = requests.post(f"http://127.0.0.1:{port}/invocations", json={"inputs": {"z": z}}, timeout=60)
        assert r.status_code == 200, r.text[:500]
        assert np.asarray(r.json()["predictions"]["images"]).shape == (3, 1, 28, 28)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_run_checkpoint_missing_locally_comes_from_the_run_artifact(tracked, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracked["tracking_uri"])
    client = MlflowClient(tracked["tracking_uri"])
    moved = client.create_run(client.get_run(tracked["run_id"]).info.experiment_id).info.run_id
    # A run whose tag names a path this machine does not have (trained on a cluster).
    client.set_tag(moved, "ganbench.best_checkpoint", "/cluster/runs/x/checkpoint_epoch_0001")
    with pytest.raises(CheckpointError, match="not on this machine"):
        export_generator(tmp_path / "x.onnx", run_id=moved)
    client.log_artifacts(moved, tracked["best_checkpoint"], "checkpoints/best")
    res = export_generator(tmp_path / "x.onnx", run_id=moved, log_to_mlflow=False)
    assert res["checkpoint"] == "/cluster/runs/x/checkpoint_epoch_0001" and res["max_abs_diff"] <= 1e-4


def test_study_export_uses_the_best_trial(tracked, tmp_path, monkeypatch):
    import optuna

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracked["tracking_uri"])
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    for value, run_id in ((9.0, "not-this-one"), (1.0, tracked["run_id"])):
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={
            "mlflow_run_id": run_id, "best_checkpoint": tracked["best_checkpoint"]}))
    res = export_generator(tmp_path / "s.onnx", study="s", storage=storage, log_to_mlflow=False)
    assert res["run_id"] == tracked["run_id"]
    with pytest.raises(ConfigError, match="no study 'nope'"):
        export_generator(tmp_path / "s.onnx", study="nope", storage=storage)


def test_tolerance_failure_is_a_clear_error_and_leaves_no_file(tracked, tmp_path):
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="disagree: max .difference.* > tolerance 1e-12"):
        export_generator(out, checkpoint=tracked["best_checkpoint"], tolerance=1e-12, log_to_mlflow=False)
    assert not out.exists()


@pytest.mark.parametrize("kwargs, error, needle", [
    ({"checkpoint": "nope"}, CheckpointError, "no checkpoint at nope"),
    ({"run_id": "0123abcd"}, ConfigError, "cannot read MLflow run 0123abcd"),
    ({}, ConfigError, "exactly one of"),
])
def test_bad_sources_are_named(tmp_path, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        export_generator(tmp_path / "m.onnx", **kwargs)


def test_cli_prints_json_last(conditional, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_export_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.onnx"
    args = parser.parse_args(["export", "--checkpoint", conditional["best_checkpoint"], "--out", str(out)])
    assert args.func(args) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["onnx_path"] == str(out.resolve()) and last["run_id"] is None and last["max_abs_diff"] <= 1e-4
    bad = parser.parse_args(["export", "--checkpoint", conditional["best_checkpoint"], "--out", "m.txt"])
    with pytest.raises(ConfigError, match=r"\.onnx"):
        bad.func(bad)
