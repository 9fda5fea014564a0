"""Optuna pruning through the EpochObserver protocol (tuning/pruning.py), without training."""
from __future__ import annotations

import pickle

import optuna
import pytest

from ganbench.train.observer import EpochObserver, StopRun
from tuning.pruning import TrialObserver


def _study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    return storage, optuna.create_study(study_name="s", storage=storage, direction="minimize")


def test_reports_reach_the_trial_and_the_observer_pickles_before_use(tmp_path):
    storage, study = _study(tmp_path)
    trial = study.ask()
    obs = pickle.loads(pickle.dumps(TrialObserver(storage, "s", trial._trial_id, pruner="none")))
    assert isinstance(obs, EpochObserver)
    obs.report(1, 3.0)
    obs.report(2, 2.5)
    assert study.trials[0].intermediate_values == {1: 3.0, 2: 2.5}


@pytest.mark.parametrize("prunable, stops", [(True, True), (False, False)])
def test_a_bad_trial_is_stopped_unless_it_is_the_baseline(tmp_path, prunable, stops):
    storage, study = _study(tmp_path)
    for _ in range(2):  # the median pruner judges once 2 trials have finished
        t = study.ask()
        for e in (1, 2, 3):
            t.report(1.0, e)
        study.tell(t, 1.0)
    obs = TrialObserver(storage, "s", study.ask()._trial_id, pruner="median", warmup=1, prunable=prunable)
    raised = False
    try:
        for e in (1, 2, 3):
            obs.report(e, 100.0)
    except StopRun:
        raised = True
    assert raised is stops
