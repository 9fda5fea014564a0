"""Several `ganbench tune` drivers on one study (Optuna's way to scale out), and a driver
that dies mid-trial. Trials are fake (tests/tune_driver.py): what is tested is the driver.

- A second live driver must not fail the first one's running trial (it used to: every
  RUNNING trial was taken for a dead driver's leftover).
- A killed driver's trial stops beating: the next driver fails it, marks its MLflow run
  FAILED and runs it again with the same parameters.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

import tune_driver
from mlflow_store import shared_store
from servers import kill_group
from tuning import TuneSpec, run_study

HEARTBEAT = 1  # seconds; a trial is stale after 3 missed beats


@pytest.fixture
def mlflow_uri(tmp_path_factory):
    return shared_store(tmp_path_factory)


@pytest.fixture
def env(tmp_path, monkeypatch, mlflow_uri, request):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    tune_driver.patch(monkeypatch)
    env = {"storage": f"sqlite:///{tmp_path / 'optuna.db'}", "mlflow": mlflow_uri, "study": request.node.name[:40]}
    # The study exists before any driver starts: SQLite cannot create one schema from two
    # connections at once (PostgreSQL, the multi-driver case, is created by its admin anyway).
    optuna.create_study(study_name=env["study"], storage=env["storage"], direction="minimize")
    return env


def spec(tmp_path, env, trials: int, heartbeat: int = HEARTBEAT) -> TuneSpec:
    return TuneSpec(preset="debug", trials=trials, study=env["study"], storage=env["storage"], workers=0,
                    pruner="none", heartbeat=heartbeat, out=str(tmp_path / "runs"))


def trials(env) -> list:
    try:
        return optuna.load_study(study_name=env["study"], storage=env["storage"]).trials
    except KeyError:  # not created yet
        return []


def wait_running(env, alive, timeout=120) -> optuna.trial.FrozenTrial:
    deadline = time.time() + timeout
    while time.time() < deadline:
        alive()
        running = [t for t in trials(env) if t.state == TrialState.RUNNING]
        if running:
            return running[0]
        time.sleep(0.2)
    raise TimeoutError("no trial started")


def runs_of(env) -> list:
    c = MlflowClient(env["mlflow"])
    return c.search_runs([e.experiment_id for e in c.search_experiments()], f"tags.`optuna.study` = '{env['study']}'")


def test_two_live_drivers_share_a_study_and_fail_nothing(tmp_path, env, monkeypatch):
    """Two drivers in one process (each its own storage connection and heartbeat thread, as
    two machines would have): the second starts while the first runs a trial."""
    monkeypatch.setenv("FAKE_TRIAL_SECONDS", "1.5")
    # Heartbeat 2 s (grace 6 s): a loaded CI machine must not make a live driver look dead.
    first: dict = {}

    def drive():
        try:
            first["summary"] = run_study(spec(tmp_path, env, trials=5, heartbeat=2))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            first["error"] = e

    t = threading.Thread(target=drive)
    t.start()
    wait_running(env, alive=lambda: None if "error" not in first else pytest.fail(repr(first["error"])))
    second = run_study(spec(tmp_path, env, trials=5, heartbeat=2))
    t.join(timeout=120)
    assert "summary" in first, first.get("error")

    states = [t.state for t in trials(env)]
    assert TrialState.FAIL not in states and TrialState.RUNNING not in states, states
    assert states.count(TrialState.COMPLETE) >= 5, "the study reaches its budget"
    assert len(states) <= 6, "two drivers overshoot the shared budget by at most one trial"
    assert second["n_trials"].get("FAIL") is None
    trial_runs = [r for r in runs_of(env) if r.data.tags.get("ganbench.kind") != "study"]
    assert trial_runs and all(r.info.status == "FINISHED" for r in trial_runs)
    assert sum(t.user_attrs.get("baseline", False) for t in trials(env)) == 1, "one baseline, not one per driver"


def start_driver(tmp_path, env, trials: int, trial_seconds: float) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).with_name("tune_driver.py")), "tune", "--preset", "debug",
           "--workers", "0", "--trials", str(trials), "--study", env["study"], "--storage", env["storage"],
           "--pruner", "none", "--heartbeat", str(HEARTBEAT), "--out", str(tmp_path / "runs")]
    log = open(tmp_path / "driver.log", "wb")
    return subprocess.Popen(cmd, env={**os.environ, "FAKE_TRIAL_SECONDS": str(trial_seconds)}, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_killed_drivers_trial_is_failed_and_retried(tmp_path, env):
    first = start_driver(tmp_path, env, trials=2, trial_seconds=300)

    def alive():
        assert first.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]

    orphan = wait_running(env, alive)
    deadline = time.time() + 30
    while not [r for r in runs_of(env) if r.data.tags.get("optuna.trial") == str(orphan.number)]:
        assert time.time() < deadline, "the trial's MLflow run never started"
        time.sleep(0.2)
    kill_group(first)
    time.sleep(3 * HEARTBEAT + 1.5)  # past the grace period: its heartbeat is stale now

    summary = run_study(spec(tmp_path, env, trials=2))
    by_number = {t.number: t for t in trials(env)}
    assert by_number[orphan.number].state == TrialState.FAIL
    retry = next(t for t in by_number.values() if t.system_attrs.get("retry_history") == [orphan.number])
    assert retry.state == TrialState.COMPLETE, retry.state
    assert retry.params == by_number[orphan.number].params, "run again with the same parameters"
    assert retry.user_attrs.get("baseline") == orphan.user_attrs.get("baseline")
    assert summary["n_trials"]["COMPLETE"] == 2, "the killed trial does not use up the budget"
    orphan_runs = [r for r in runs_of(env) if r.data.tags.get("optuna.trial") == str(orphan.number)]
    assert orphan_runs and all(r.info.status == "FAILED" for r in orphan_runs), "no run left RUNNING forever"
