"""No URL password in anything ganbench prints: every CLI error path that takes an Optuna
storage or MLflow tracking URL is driven with a password-bearing one that cannot be reached,
and the password is looked for in stdout, stderr and the log records. On a cluster all of
that lands in the Ray job log."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from ganbench.cli import main
from ganbench.redact import redact_text, redact_url
from mlflow_store import shared_store
from servers import free_port

SECRET = "hunter2-Zq9"


@pytest.fixture
def dead():
    """host:port where nothing listens (connection refused at once, no waiting)."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(autouse=True)
def _quick_mlflow(monkeypatch):
    # MLflow retries an unreachable server for minutes by default.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")


def _spool(tmp_path, uri: str):
    d = tmp_path / "spool" / "r1"
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"tracking_uri": uri, "run_id": "r1"}))
    (d / "records.jsonl").write_text(json.dumps({"type": "metrics", "step": 1, "ts": 1, "metrics": {"x": 1.0}}) + "\n")
    return str(tmp_path / "spool")


def _paths(tmp_path, dead):
    """(argv, env) for every command that takes a storage or tracking URL."""
    pg = f"postgresql://optuna:{SECRET}@{dead}/optuna"
    mlflow_url = f"http://alice:{SECRET}@{dead}"
    return [
        (["train", "--preset", "debug", "--set", f"tracking.tracking_uri={mlflow_url}"], {}),
        (["train", "--preset", "debug"], {"MLFLOW_TRACKING_URI": mlflow_url}),
        (["tune", "--preset", "debug", "--storage", pg], {}),
        (["tune", "--preset", "debug", "--storage", f"postgresql://optuna:{SECRET}@127.0.0.1:notaport/x"], {}),
        (["tune", "--preset", "debug"], {"GANBENCH_OPTUNA_STORAGE": pg}),
        (["export", "--study", "s", "--storage", pg, "--out", str(tmp_path / "g.onnx")], {}),
        (["export", "--study", "s", "--out", str(tmp_path / "g.onnx")], {"GANBENCH_OPTUNA_STORAGE": pg}),
        (["tracking-sync", _spool(tmp_path, mlflow_url)], {}),
        (["tracking-sync", str(tmp_path / "spool"), "--tracking-uri", mlflow_url], {}),
    ]


def test_no_cli_error_path_prints_a_url_password(tmp_path, dead, capsys, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    for argv, env in _paths(tmp_path, dead):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            code = main(argv)
        out, err = capsys.readouterr()
        seen = out + err + caplog.text
        assert code != 0, (argv, out, err)
        assert SECRET not in seen, f"{argv} leaked the password: {seen[-2000:]}"
        assert "***" in seen, f"{argv}: the URL should still be shown, masked: {err[-1000:]}"
        caplog.clear()


def test_mlflow_params_and_config_artifact_hold_no_password(tmp_path_factory):
    """A run's params (the flattened config) and its config.yaml are readable by anyone who
    can see the experiment."""
    from mlflow.tracking import MlflowClient

    from ganbench import tracking as trk
    from ganbench.config import with_updates
    from ganbench.presets import get_preset

    uri = shared_store(tmp_path_factory)
    cfg = with_updates(get_preset("debug"), tracking={"tracking_uri": uri})
    handle = trk.start_run(cfg, extra_params={"storage": f"postgresql://u:{SECRET}@db/optuna"},
                           tags={"where": f"http://u:{SECRET}@mlflow:5000"})
    run = MlflowClient(uri).get_run(handle.run_id)
    assert SECRET not in json.dumps(run.data.params) + json.dumps(run.data.tags)
    assert run.data.params["storage"] == "postgresql://u:***@db/optuna"


@pytest.mark.parametrize("url, want", [
    ("postgresql://optuna:pw1234@db:5432/optuna", "postgresql://optuna:***@db:5432/optuna"),
    ("postgresql+psycopg://u:p%40ss@db/x", "postgresql+psycopg://u:***@db/x"),
    ("postgresql://u:p@ss@db/x", "postgresql://u:***@db/x"),  # '@' in the password: the last one ends it
    ("postgresql://db/x?user=u&password=pw1234", "postgresql://db/x?user=u&password=***"),
    ("http://mlflow:5000/a@b", "http://mlflow:5000/a@b"),  # no userinfo: nothing to hide
    ("sqlite:////tmp/optuna.db", "sqlite:////tmp/optuna.db"),
])
def test_redact_url(url, want):
    assert redact_url(url) == want


def test_redact_text_masks_a_given_password_anywhere():
    # A driver may quote the password back without the URL around it, or decoded.
    msg = 'FATAL: password authentication failed ("p@ss-word1")'
    assert "p@ss-word1" not in redact_text(msg, ["postgresql://u:p%40ss-word1@db/x"])


def test_checkpoints_store_the_tracking_uri_without_its_password(tmp_path):
    """Checkpoints are copied, shared and uploaded as artifacts: config.yaml, the config inside
    state.pt and metrics.json never hold the password, and the config still loads."""
    from ganbench.checkpoint import load_checkpoint
    from ganbench.config import with_updates
    from ganbench.presets import get_preset
    from ganbench.train import train

    uri = f"postgresql://user:{SECRET}@db.example:5432/mlflow"
    cfg = with_updates(get_preset("debug"), train={"epochs": 1}, tracking={"tracking_uri": uri})
    ckpt = Path(train(cfg, out=tmp_path / "runs", track=False).last_checkpoint)
    state = torch.load(ckpt / "state.pt", weights_only=True)
    for name, text in [("config.yaml", (ckpt / "config.yaml").read_text()), ("state.pt config_yaml", state["config_yaml"]),
                       ("metrics.json", (ckpt / "metrics.json").read_text())]:
        assert SECRET not in text, f"{name} holds the password"
    assert SECRET.encode() not in (ckpt / "state.pt").read_bytes()
    stored, _ = load_checkpoint(ckpt)
    assert stored.tracking.tracking_uri == "postgresql://user:***@db.example:5432/mlflow"
    assert stored.model == cfg.model and stored.train == cfg.train  # masked field by field, nothing else touched


def test_a_masked_tracking_uri_is_never_used_to_connect(monkeypatch, tmp_path_factory):
    from ganbench.tracking import TrackingError, resolve_tracking_uri

    masked = "http://alice:***@mlflow.example:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrackingError, match="MLFLOW_TRACKING_URI"):
        resolve_tracking_uri(masked)
    with pytest.raises(TrackingError):
        resolve_tracking_uri("postgresql://db/x?user=u&password=***")
    real = shared_store(tmp_path_factory)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", real)
    assert resolve_tracking_uri(masked) == real
    assert resolve_tracking_uri("http://bob:pw-ok@mlflow:5000") == "http://bob:pw-ok@mlflow:5000"  # a real one is kept


def test_resuming_from_a_masked_checkpoint_tracks_to_the_environments_store(tmp_path, monkeypatch, tmp_path_factory):
    """`ganbench train --resume` takes the checkpoint's config: its masked URI is replaced by
    $MLFLOW_TRACKING_URI, and without that the run stops before training, saying so."""
    from ganbench.checkpoint import load_checkpoint
    from ganbench.config import with_updates
    from ganbench.presets import get_preset
    from ganbench.tracking import TrackingError
    from ganbench.train import train

    cfg = with_updates(get_preset("debug"), train={"epochs": 1},
                       tracking={"tracking_uri": f"http://alice:{SECRET}@mlflow.example:5000"})
    part = train(cfg, out=tmp_path / "a", track=False).last_checkpoint
    resumed_cfg = with_updates(load_checkpoint(part)[0], train={"epochs": 2})
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrackingError, match=r"alice:\*\*\*@\S+ has its password masked"):
        train(resumed_cfg, out=tmp_path / "b", resume=part)
    assert not list(tmp_path.glob("b/**/state.pt")), "it stopped before training"
    real = shared_store(tmp_path_factory)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", real)
    res = train(resumed_cfg, out=tmp_path / "c", resume=part)
    assert res.tracking_uri == real
    from mlflow.tracking import MlflowClient

    assert MlflowClient(real).get_run(res.run_id).info.status == "FINISHED"


def test_the_spool_keeps_no_password_and_replays_to_the_environments_store(tmp_path, monkeypatch, tmp_path_factory):
    from ganbench.tracking import TrackingError, create_run
    from ganbench.tracking_spool import Spool, sync
    from ganbench.tracking_store import TrackingHandle

    real = shared_store(tmp_path_factory)
    run_id = create_run(real, "spool-secrets", None, {}, {}).run_id
    spool = Spool(tmp_path / "spool", TrackingHandle(f"http://alice:{SECRET}@mlflow.example:5000", run_id))
    spool.append({"type": "metrics", "step": 1, "ts": 1, "metrics": {"x": 2.5}})
    assert SECRET not in (tmp_path / "spool" / run_id / "run.json").read_text()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(TrackingError, match="tracking-uri"):
        sync(tmp_path / "spool")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", real)
    [summary] = sync(tmp_path / "spool")
    assert summary["tracking_uri"] == real and summary["metrics_uploaded"] == 1


def test_print_config_masks_the_tracking_password(capsys):
    rc = main(["train", "--preset", "debug", "--set", "tracking.tracking_uri=postgresql://u:pr1ntpw@h/db",
               "--print-config"])
    out = capsys.readouterr().out
    assert rc == 0 and "pr1ntpw" not in out and "tracking_uri: postgresql://u:***@h/db" in out
