"""The Optuna sampler a space asks for. Each driver builds its own (samplers are not stored
with the study); they share the trials through the storage."""
from __future__ import annotations

import warnings

import optuna

from ganbench.errors import ConfigError
from tuning.space import Space


def build_sampler(space: Space, seed: int) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():  # constant_liar is "experimental" in Optuna's words only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if space.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=space.n_startup_trials,
                                              constant_liar=space.constant_liar)
        if space.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if space.sampler == "grid":
            # Every point of the grid once; the study stops when it has run them all.
            return optuna.samplers.GridSampler({p.name: list(p.choices) for p in space.params}, seed=seed)
        if space.sampler == "cmaes":
            return _cmaes(space, seed)
    raise ConfigError(f"unknown sampler {space.sampler!r}")


def _cmaes(space: Space, seed: int) -> optuna.samplers.BaseSampler:
    try:
        import cmaes  # noqa: F401  - Optuna's CMA-ES sampler is built on it
    except ImportError:
        raise ConfigError("sampler cmaes needs the `cmaes` package: pip install cmaes") from None
    # CMA-ES models the numeric parameters together; categorical ones (loss, batch size) are
    # sampled at random beside it, which Optuna would otherwise warn about on every trial.
    return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=space.n_startup_trials,
                                        warn_independent_sampling=False)
