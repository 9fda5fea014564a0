"""A small Optuna study on `debug`: trials are Ray Train runs, one trial fails, the study
completes, resumes to 3 trials under the same name, and every trial is an MLflow run
nested under the study's parent run."""
from __future__ import annotations

import optuna
import pytest
import ray
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

import tuning.study as study_mod
from ganbench.errors import ConfigError, DataError
from tuning import TuneSpec, run_study

pytestmark = pytest.mark.ray

SETS = ("train.epochs=2", "eval.every=1", "eval.n_gen=300", "eval.kid_subset_size=100", "eval.kid_subsets=10",
        "eval.backbone=digitscnn")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_study_survives_a_failed_trial_resumes_and_nests_runs(tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    real_run_trial = study_mod.run_trial

    def flaky_run_trial(cfg, *args):
        if cfg.tracking.run_name.endswith("trial001"):
            raise DataError("simulated: the dataset vanished mid-trial")
        return real_run_trial(cfg, *args)  # --workers 1: the trial runs as a Ray task

    monkeypatch.setattr(study_mod, "run_trial", flaky_run_trial)
    spec = TuneSpec(preset="debug", trials=2, study="t", storage=storage, workers=1, pruner="median",
                    out=str(tmp_path / "runs"), overrides=SETS)
    s1 = run_study(spec)
    assert s1["study"] == "t" and s1["storage"] == storage
    assert s1["n_trials"].get("FAIL") == 1
    assert sum(s1["n_trials"].values()) == 2
    assert s1["best_value"] is not None and s1["best_params"] is not None
    assert s1["default_value"] is not None  # trial 0 is the preset's own config
    assert s1["score_key"] == "fid300_digitscnn"

    monkeypatch.setattr(study_mod, "run_trial", real_run_trial)
    s2 = run_study(TuneSpec(**{**spec.__dict__, "trials": 3}))
    assert sum(s2["n_trials"].values()) == 3
    assert s2["parent_run_id"] == s1["parent_run_id"]  # same study, same parent run

    study = optuna.load_study(study_name="t", storage=storage)
    assert len(study.trials) == 3
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    children = client.search_runs(
        [client.get_run(s2["parent_run_id"]).info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{s2['parent_run_id']}'")
    # the failed trial's run never started training; every other trial has its nested run
    assert len(children) == 2
    best = client.get_run(s2["best_run_id"])
    assert best.data.tags["mlflow.parentRunId"] == s2["parent_run_id"]
    assert "fid300_digitscnn" in best.data.metrics
    parent_arts = {a.path for a in client.list_artifacts(s2["parent_run_id"])}
    assert "study_summary.json" in parent_arts and "plots" in parent_arts
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            assert t.intermediate_values, "each evaluation is reported to the trial"


def test_stale_running_trials_are_failed_and_retried_live_ones_are_not(tmp_path):
    """What a killed driver leaves: a RUNNING trial whose heartbeat stopped, and its RUNNING
    MLflow run (a real SIGKILL: test_tune_drivers.py, and test_ray_faults.py's slow test).
    A trial another driver is running (fresh heartbeat) is left alone."""
    import time

    from ganbench import tracking as trk

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = study_mod.open_storage(f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat=1, tracking_uri=uri)
    study = optuna.create_study(study_name="s", storage=storage, direction="minimize")
    study.enqueue_trial({"x": 1.0})
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)  # a finished trial
    orphan = study.ask()  # a trial a dead driver left RUNNING, with its run
    orphan.suggest_float("x", 0, 2)
    storage.record_heartbeat(orphan._trial_id)
    run = trk.create_run(uri, "ganbench", "s-trial001", {"optuna.study": "s", "optuna.trial": orphan.number}, {})
    other = trk.create_run(uri, "ganbench", "x", {"optuna.study": "other", "optuna.trial": orphan.number}, {})
    time.sleep(3 * 1 + 1.5)  # three missed heartbeats
    live = study.ask()  # another driver's trial, beating
    storage.record_heartbeat(live._trial_id)

    study_mod.fail_stale(study)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING], states
    retry = study.trials[-1]
    assert retry.system_attrs["retry_history"] == [orphan.number] and retry.params == study.trials[1].params
    client = MlflowClient(uri)
    assert client.get_run(run.run_id).info.status == "FAILED"
    assert client.get_run(other.run_id).info.status == "RUNNING", "another study's run is not touched"
    # The orphan does not use up the budget (its retry will): a study of 2 still has one to run.
    assert study_mod.finished_count(study) == 1


@pytest.mark.parametrize("kw, needle", [
    ({"trials": 0}, "--trials"), ({"parallel": 0}, "--parallel"), ({"workers": -1}, "--workers"),
    ({"workers": 0, "parallel": 2}, "--parallel"), ({"heartbeat": 0}, "--heartbeat"),
    ({"space": "nope"}, "--space nope"), ({"sampler": "annealing"}, "unknown sampler"),
    ({"pruner": "sometimes"}, "pruner"), ({"storage": "notadb://x"}, "Optuna storage"),
    ({"preset": "nope"}, "unknown preset"),
])
def test_bad_tune_arguments(tmp_path, kw, needle):
    with pytest.raises(ConfigError, match=needle):
        run_study(TuneSpec(**{"preset": "debug", "out": str(tmp_path), **kw}))
