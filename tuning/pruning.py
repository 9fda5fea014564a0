"""Optuna pruning from inside a training run.

A trial's training run may live on other machines (Ray Train workers), so the tuner cannot
watch it from its own process. Instead the run carries a `TrialObserver` (ganbench's
EpochObserver protocol): the run's rank 0 opens the study's RDB storage (SQLite here,
PostgreSQL on a cluster), reports each evaluation to its trial and asks the study's pruner
whether to stop; the loop broadcasts that decision to every rank.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import optuna

from ganbench.errors import ConfigError
from ganbench.train.observer import StopRun

PRUNERS = ("median", "hyperband", "none")


def build_pruner(name: str, warmup: int = 1, max_resource: int = 10):
    """FID is noisy early in training, so no pruner judges before `warmup` evaluations."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup), max_resource=max_resource)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}; valid pruners: {', '.join(PRUNERS)}")


@dataclass
class TrialObserver:
    """Reports a run's evaluations to Optuna trial `trial_id` of `study` in `storage`.

    Plain fields only until the first report (it is pickled to the Ray workers); the trial
    is opened there, by the rank that reports."""

    storage: str
    study: str
    trial_id: int
    pruner: str = "median"
    warmup: int = 1
    max_resource: int = 10
    prunable: bool = True  # the baseline trial runs its whole budget: it is the yardstick
    _trial: Optional[Any] = field(default=None, repr=False, compare=False)

    def _open(self) -> optuna.trial.Trial:
        if self._trial is None:
            pruner = build_pruner(self.pruner, self.warmup, self.max_resource)
            study = optuna.load_study(study_name=self.study, storage=self.storage, pruner=pruner)
            self._trial = optuna.trial.Trial(study, self.trial_id)
        return self._trial

    def report(self, epoch: int, score: float) -> None:
        trial = self._open()
        trial.report(score, epoch)
        if self.prunable and trial.should_prune():
            raise StopRun(f"pruned by the study's {self.pruner} pruner at epoch {epoch}")
