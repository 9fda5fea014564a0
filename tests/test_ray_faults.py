"""Ray Train under faults and on shared storage: a training worker SIGKILLed mid-run is
restarted from the last checkpoint (FailureConfig) and ends where an undisturbed run of the
same seed ends, with nothing logged twice; checkpoints on an S3 object store (a real S3 API
served by moto on localhost) are written by Ray, resumed from and sampled from."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
import ray
import torch
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.presets import get_preset
from ganbench.sample import load_generator
from ganbench.train import train
from ganbench.checkpoint import load_checkpoint

pytestmark = pytest.mark.ray

BUCKET = "ganbench-test"


@pytest.fixture(scope="module")
def s3():
    """A local S3 endpoint; Ray's workers inherit the AWS_* variables when Ray starts."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield f"s3://{BUCKET}"
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def local_ray(s3):
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def _train_workers() -> list[psutil.Process]:
    """This test's Ray Train workers: descendants of this process (the local Ray's raylet is
    our child), never another Ray's on the same machine."""
    procs = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:  # gone meanwhile
            continue
        if cmd and cmd[0].startswith("ray::RayTrainWorker"):
            procs.append(p)
    return procs


# One configuration for both Ray Train tests: the undisturbed 2-worker run on S3 is also the
# reference the killed run must end at (one worker-group start fewer than a run per test).
EPOCHS = 4
CFG = C.with_updates(get_preset("debug"), train={"epochs": EPOCHS, "max_steps_per_epoch": 12})


@pytest.fixture(scope="module")
def s3_run(s3, tmp_path_factory):
    """The undisturbed run: 2 workers, checkpoints on S3, MLflow in a folder of its own."""
    here, cwd = tmp_path_factory.mktemp("s3-run"), os.getcwd()
    os.chdir(here)  # the default MLflow store (./mlflow.db) goes here, not into the repository
    try:
        yield train(CFG, workers=2, out=f"{s3}/runs"), here
    finally:
        os.chdir(cwd)


def test_killed_worker_is_restarted_from_the_last_checkpoint(tmp_path, s3_run):
    result, errors, killed = {}, [], {}

    def run():
        try:
            result["res"] = train(CFG, workers=2, out=tmp_path / "runs", max_failures=2)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    while t.is_alive():  # no deadline of our own: a loaded machine starts Ray slowly (pytest-timeout guards)
        # Kill only once Ray's controller has registered a checkpoint (it writes its snapshot
        # then): a folder on disk that the controller has not polled yet is not restorable, and
        # on a loaded machine that gap is seconds long.
        ckpts = list((tmp_path / "runs").glob("*/checkpoint_manager_snapshot.json"))
        workers = _train_workers() if ckpts else []
        if len(workers) == 2:
            # A real process kill, as an OOM killer or a lost node would do it.
            victim = max(workers, key=lambda p: p.pid)
            killed["after"] = sorted(p.name for p in ckpts[0].parent.glob("checkpoint_epoch_*"))
            os.kill(victim.pid, signal.SIGKILL)
            killed["pid"] = victim.pid
            break
        time.sleep(0.05)
    t.join()
    assert not errors, errors
    assert killed, "the run ended before a worker could be killed: make epochs longer"
    assert int(killed["after"][-1][-4:]) < EPOCHS, "the kill must land before the last epoch"
    assert not psutil.pid_exists(killed["pid"])
    res = result["res"]

    _, disturbed = load_checkpoint(res.last_checkpoint)
    assert disturbed["epoch"] == EPOCHS
    clean = s3_run[0]
    _, undisturbed = load_checkpoint(clean.last_checkpoint)
    assert undisturbed["epoch"] == EPOCHS
    for net in ("G", "D"):
        for k, v in undisturbed[net].items():
            assert torch.allclose(v.float(), disturbed[net][k].float(), atol=1e-5), f"{net}.{k} differs"

    client = MlflowClient(res.tracking_uri)
    for key in ("loss_d", "epoch", "images_per_s"):
        steps = [m.step for m in client.get_metric_history(res.run_id, key)]
        assert sorted(steps) == list(range(1, EPOCHS + 1)), f"{key}: {steps} (lost or duplicated epochs)"
    clean_hist = {m.step: m.value for m in MlflowClient(clean.tracking_uri).get_metric_history(clean.run_id, "loss_d")}
    assert sorted(clean_hist) == list(range(1, EPOCHS + 1))
    for m in client.get_metric_history(res.run_id, "loss_d"):
        assert m.value == pytest.approx(clean_hist[m.step], rel=1e-4, abs=1e-5)
    run = client.get_run(res.run_id)
    assert run.info.status == "FINISHED"
    # Ray's controller registers reports when it polls the workers (every 2 s), so with these
    # sub-second epochs the restart may begin a checkpoint or two before the newest folder.
    assert int(run.data.tags["ganbench.resumed_at_epoch"]) >= 1, "restarted from a checkpoint, not from scratch"


def test_checkpoints_on_an_object_store(tmp_path, s3, s3_run, monkeypatch):
    import pyarrow.fs as pafs

    a, a_cwd = s3_run
    last = f"checkpoint_epoch_{EPOCHS:04d}"
    assert a.last_checkpoint.startswith(f"{s3}/runs/") and a.last_checkpoint.endswith(last)
    fs, path = pafs.FileSystem.from_uri(a.last_checkpoint)
    names = {Path(i.path).name for i in fs.get_file_info(pafs.FileSelector(path))}
    assert {"state.pt", "config.yaml", "metrics.json"} <= names
    assert not list(a_cwd.glob("runs")) and not list(a_cwd.rglob("checkpoint_epoch_*")), \
        "nothing may be written locally when --out is a URI"

    # Everything that reads a checkpoint takes the URI: resume (here in-process, into a local
    # folder), sample, export (from the run's best_checkpoint tag, an s3:// URI).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", a.tracking_uri)
    ck = a.last_checkpoint.replace(last, f"checkpoint_epoch_{EPOCHS - 1:04d}")
    b = train(CFG, workers=0, out=tmp_path / "local", resume=ck)
    _, s_b = load_checkpoint(b.last_checkpoint)
    assert s_b["epoch"] == EPOCHS and len(s_b["history"]) == EPOCHS, "continued from the S3 checkpoint"
    assert MlflowClient(a.tracking_uri).get_run(b.run_id).data.tags["ganbench.resumed_at_epoch"] == str(EPOCHS - 1)
    _, models = load_generator(a.last_checkpoint)
    assert models.latent_dim == CFG.model.latent_dim
    from ganbench.export import export_generator

    exported = export_generator(tmp_path / "g.onnx", run_id=a.run_id, log_to_mlflow=False)
    assert exported["max_abs_diff"] < 1e-4 and Path(exported["onnx_path"]).is_file()
    arts = {x.path for x in MlflowClient(a.tracking_uri).list_artifacts(a.run_id, "checkpoints/best")}
    assert "checkpoints/best/state.pt" in arts, arts  # fetched from S3, then logged to MLflow


@pytest.mark.slow  # ~2 min: two drivers, three Ray Train trials (test_tune.py covers the parts quickly)
def test_tuning_driver_killed_mid_study_resumes_with_the_same_name(tmp_path):
    """SIGKILL the `ganbench tune` process (and its local Ray) while a trial runs; the same
    command again keeps the finished trial, fails the orphaned one (its heartbeat stopped),
    runs it again with the same parameters, and completes the study."""
    import subprocess
    import sys

    import optuna
    from optuna.trial import TrialState

    from servers import kill_group

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    cmd = [str(Path(sys.executable).parent / "ganbench"), "tune", "--preset", "debug", "--trials", "2",
           "--study", "killed", "--storage", storage, "--out", str(tmp_path / "runs"), "--pruner", "none",
           "--heartbeat", "1",
           "--set", "train.epochs=3", "--set", "train.max_steps_per_epoch=24", "--set", "eval.n_gen=1000"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    env.pop("RAY_ADDRESS", None)

    def states():
        try:
            return [t.state for t in optuna.load_study(study_name="killed", storage=storage).trials]
        except Exception:  # not created yet
            return []

    log = open(tmp_path / "first.log", "wb")
    first = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None:
        s = states()
        if s.count(TrialState.COMPLETE) == 1 and TrialState.RUNNING in s:
            break
        time.sleep(0.5)
    assert first.poll() is None, "the study ended before the driver could be killed: " + \
        (tmp_path / "first.log").read_text()[-3000:]
    time.sleep(2)  # let the running trial's MLflow run start
    kill_group(first)
    before = optuna.load_study(study_name="killed", storage=storage).trials  # a snapshot
    done = [(t.number, t.value) for t in before if t.state == TrialState.COMPLETE]
    assert len(done) == 1 and [t.state for t in before].count(TrialState.RUNNING) == 1
    time.sleep(4.5)  # three missed heartbeats: the orphan is stale

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    after = optuna.load_study(study_name="killed", storage=storage)
    by_number = {t.number: t for t in after.trials}
    assert all(by_number[n].value == v and by_number[n].state == TrialState.COMPLETE for n, v in done)
    orphan = next(t for t in before if t.state == TrialState.RUNNING)
    assert by_number[orphan.number].state == TrialState.FAIL
    retry = next(t for t in after.trials if t.system_attrs.get("retry_history") == [orphan.number])
    assert retry.state == TrialState.COMPLETE and retry.params == by_number[orphan.number].params
    assert [t.state for t in after.trials].count(TrialState.COMPLETE) == 2, "the study completes"

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`optuna.study` = 'killed'")
    orphan_runs = [r for r in runs if r.data.tags.get("optuna.trial") == str(orphan.number)]
    assert orphan_runs and all(r.info.status == "FAILED" for r in orphan_runs), "no run left RUNNING forever"
    parents = [r for r in runs if r.data.tags.get("ganbench.kind") == "study"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED", "the resumed study reuses its parent run"
    assert all(r.info.status in ("FINISHED", "FAILED") for r in runs)
