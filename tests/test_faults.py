"""What a long run meets besides bad configs: a full disk, an unwritable --out, a dataset
folder that vanishes, an MLflow server that dies mid-run. In-process (no Ray), so each
fault is injected at a known epoch; the Ray worker-kill case is in test_cluster.py."""
from __future__ import annotations

import errno
import logging
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench import checkpoint as ckpt_module
from ganbench import distributed
from ganbench.cli import main
from ganbench.data import make_synthetic_folder
from ganbench.errors import CheckpointError, ConfigError, DataError
from ganbench.presets import get_preset
from ganbench.tracking import MlflowSink, TrackingError
from ganbench.train import train
from ganbench.checkpoint import load_checkpoint
from servers import MlflowServer


def _cfg(**sections):
    return C.with_updates(get_preset("debug"), **sections)


def _after_report(monkeypatch, epoch: int, action):
    """Run `action` right after the checkpoint of `epoch` is stored (the fault lands mid-run)."""
    real = distributed.LocalSession.report

    def report(self, metrics, ep, ckpt):
        real(self, metrics, ep, ckpt)
        if ep == epoch:
            action()

    monkeypatch.setattr(distributed.LocalSession, "report", report)


def _runs(tmp_path):
    c = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return c, [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]


def test_disk_full_while_checkpointing_keeps_earlier_checkpoints(tmp_path, monkeypatch):
    real_copy = shutil.copytree
    calls = []

    def copytree(src, dst, *a, **k):  # the 2nd checkpoint write hits a full disk
        calls.append(dst)
        if len(calls) == 2:
            Path(dst).mkdir(parents=True, exist_ok=True)
            (Path(dst) / "state.pt").write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(src, dst, *a, **k)

    monkeypatch.setattr(ckpt_module.shutil, "copytree", copytree)
    with pytest.raises(CheckpointError, match=r"No space left on device.*earlier checkpoints are kept"):
        train(_cfg(train={"epochs": 3}), out=tmp_path / "runs")
    run_dir = next((tmp_path / "runs").iterdir())
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint_epoch_0001"], "half copy must be removed"
    _, state = load_checkpoint(run_dir / "checkpoint_epoch_0001")
    assert state["epoch"] == 1
    client, runs = _runs(tmp_path)
    assert [r.info.status for r in runs] == ["FAILED"]


def test_cli_says_disk_full_in_one_line(tmp_path, monkeypatch, capsys):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_module.shutil, "copytree", full)
    assert main(["train", "--preset", "debug", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ganbench train: error: could not write checkpoint to ") and "errno 28" in err


def test_unwritable_out_fails_before_any_run_starts(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where --out should be a folder")
    with pytest.raises(ConfigError, match=r"cannot write to --out .*not-a-dir"):
        train(_cfg(), out=blocker / "runs")
    assert not (tmp_path / "mlflow.db").exists(), "no MLflow run may be created for a run that cannot start"


def test_object_store_out_needs_ray_workers(tmp_path):
    with pytest.raises(ConfigError, match="needs Ray workers"):
        train(_cfg(), out="s3://bucket/runs", workers=0)


@pytest.mark.parametrize("what", ["folder", "files"])
def test_dataset_folder_vanishing_mid_run_is_named(tmp_path, monkeypatch, what):
    root = make_synthetic_folder(tmp_path / "imgs", n_classes=2, per_class=40, size=(20, 20))
    # cache off: the decoded-image cache (the default) makes a run immune to files vanishing
    cfg = _cfg(data={"name": f"folder:{root}", "loader": "torch", "resolution": 28, "batch_size": 8,
                     "num_workers": 1 if what == "files" else 0, "cache": False},
               model={"name": "dcgan"}, train={"epochs": 3, "max_steps_per_epoch": 3})

    def vanish():
        if what == "folder":
            shutil.rmtree(root)
        else:  # the folder stays, its files go (a half-synced mount); decoded in a worker process
            for p in [p for p in Path(root).rglob("*") if p.is_file()]:
                p.unlink()

    _after_report(monkeypatch, 1, vanish)
    msg = r"dataset folder .* is gone" if what == "folder" else r"image .* disappeared while training"
    with pytest.raises(DataError, match=msg) as e:
        train(cfg, out=tmp_path / "runs")
    assert "Traceback" not in str(e.value), "the DataLoader worker's traceback must not leak into the message"
    ck = next((tmp_path / "runs").iterdir()) / "checkpoint_epoch_0001"
    assert load_checkpoint(ck)[1]["epoch"] == 1, "the checkpoint before the fault is kept"


def test_tracking_server_down_at_start_is_a_clear_error(tmp_path, monkeypatch):
    from servers import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingError, match="cannot start an MLflow run at http://127.0.0.1"):
        train(_cfg(), out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_tracking_server_dying_mid_run_spools_and_syncs_later(tmp_path, monkeypatch, caplog, capsys):
    MlflowSink._offline_runs.clear()
    server = MlflowServer(tmp_path / "mlflow-server").start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        _after_report(monkeypatch, 1, server.stop)
        with caplog.at_level(logging.WARNING, logger="ganbench.tracking"):
            res = train(_cfg(train={"epochs": 3}), out=tmp_path / "runs")
        assert res.status == "finished" and res.last_checkpoint.endswith("checkpoint_epoch_0003")
        warnings = [r for r in caplog.records if "Training goes on" in r.getMessage()]
        assert len(warnings) == 1, "the failure is reported once per process"
        assert "ganbench tracking-sync" in warnings[0].getMessage()
        spool = tmp_path / "runs" / "mlflow-spool"
        assert (spool / res.run_id / "records.jsonl").is_file()

        server.start()  # same port, same database: the server is back
        assert main(["tracking-sync", str(spool)]) == 0
        client = MlflowClient(server.uri)
        run = client.get_run(res.run_id)
        assert run.info.status == "FINISHED", "the spooled end of the run is replayed"
        assert [m.step for m in client.get_metric_history(res.run_id, "loss_d")] == [1, 2, 3]
        samples = {Path(a.path).name for a in client.list_artifacts(res.run_id, "samples")}
        assert {f"samples_epoch_{e:04d}.png" for e in (1, 2, 3)} <= samples
        assert run.data.tags["ganbench.last_checkpoint"] == res.last_checkpoint

        # Replaying again uploads nothing and duplicates nothing.
        capsys.readouterr()
        assert main(["tracking-sync", str(spool)]) == 0
        assert [m.step for m in client.get_metric_history(res.run_id, "loss_d")] == [1, 2, 3]
    finally:
        server.stop()
        MlflowSink._offline_runs.clear()


def test_tracking_sync_of_nothing_says_so(tmp_path, capsys):
    assert main(["tracking-sync", str(tmp_path / "missing")]) == 2
    assert "no spool folder" in capsys.readouterr().err


def test_out_with_an_unknown_scheme_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot open storage nosuchfs://bucket/runs"):
        train(_cfg(), out="nosuchfs://bucket/runs", workers=1)
    assert not (tmp_path / "mlflow.db").exists()


def test_tracking_sync_of_a_folder_without_records_says_so(tmp_path, capsys):
    (tmp_path / "spool").mkdir()
    assert main(["tracking-sync", str(tmp_path / "spool")]) == 2
    assert "holds no spooled MLflow records" in capsys.readouterr().err
