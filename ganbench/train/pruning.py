"""Optuna pruning from inside a training run.

A trial's training run may live on other machines (Ray Train workers), so the tuner cannot
watch it from its own process. Instead the run's rank 0 opens the study's RDB storage
(SQLite here, PostgreSQL on a cluster), reports each evaluation to its trial and asks the
study's pruner whether to stop; the loop broadcasts that decision to every rank.
"""
from __future__ import annotations

from typing import Optional

PRUNERS = ("median", "hyperband", "none")


def build_pruner(name: str, warmup: int = 1, max_resource: int = 10):
    """FID is noisy early in training, so no pruner judges before `warmup` evaluations."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup), max_resource=max_resource)
    if name == "none":
        return optuna.pruners.NopPruner()
    from ganbench.errors import ConfigError

    raise ConfigError(f"unknown pruner {name!r}; valid pruners: {', '.join(PRUNERS)}")


class TrialReporter:
    def __init__(self, spec: dict):
        import optuna

        self.spec = spec
        pruner = build_pruner(spec.get("pruner", "median"), spec.get("warmup", 1), spec.get("max_resource", 10))
        study = optuna.load_study(study_name=spec["study"], storage=spec["storage"], pruner=pruner)
        self.trial = optuna.trial.Trial(study, spec["trial_id"])
        self.prunable = spec.get("prunable", True)

    def report(self, value: float, step: int) -> bool:
        """Record the intermediate value; True when the pruner says stop."""
        self.trial.report(value, step)
        return bool(self.prunable and self.trial.should_prune())


def make_reporter(spec: Optional[dict]) -> Optional[TrialReporter]:
    return TrialReporter(spec) if spec else None
