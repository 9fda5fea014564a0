"""Optuna studies over ganbench presets, against FID, with trials on Ray Train.

    from tuning import run_study
    summary = run_study(TuneSpec(preset="digits-dcgan", trials=10))
"""
from tuning.study import TuneSpec, run_study

__all__ = ["TuneSpec", "run_study"]
