"""The search space: which knobs a study turns, given the preset it starts from.

Every parameter's range contains the preset's own value, so the first trial of a new study
can be the preset's defaults (the baseline every other trial is compared with).
"""
from __future__ import annotations

import optuna

from ganbench.config import RunConfig

# Losses that work with a BatchNorm discriminator; wgan-gp needs a BN-free critic.
BN_SAFE_LOSSES = ("bce", "lsgan", "hinge")


def allowed_losses(cfg: RunConfig) -> tuple[str, ...]:
    if cfg.model.name == "wgan":
        return ("wgan-gp", "hinge", "lsgan", "bce")
    return BN_SAFE_LOSSES


def batch_choices(cfg: RunConfig) -> list[int]:
    return sorted({32, 64, 128, cfg.data.batch_size})


def defaults(cfg: RunConfig) -> dict:
    """The preset's values under the search-space parameter names."""
    d = {
        "lr_g": cfg.optim_g.lr, "lr_d": cfg.optim_d.lr,
        "beta1": cfg.optim_g.beta1, "beta2": cfg.optim_g.beta2,
        "batch_size": cfg.data.batch_size, "loss": cfg.loss.name,
    }
    if cfg.loss.name == "wgan-gp":
        d.update(n_critic=cfg.loss.n_critic, gp_weight=cfg.loss.gp_weight)
    return d


def suggest(trial: optuna.Trial, cfg: RunConfig) -> dict:
    """Sample one trial's overrides (nested dict for config.merge)."""
    lr_g = trial.suggest_float("lr_g", 1e-5, 2e-3, log=True)
    lr_d = trial.suggest_float("lr_d", 1e-5, 2e-3, log=True)
    beta1 = trial.suggest_float("beta1", 0.0, 0.9)
    beta2 = trial.suggest_float("beta2", 0.9, 0.9999)
    batch = trial.suggest_categorical("batch_size", batch_choices(cfg))
    loss = trial.suggest_categorical("loss", allowed_losses(cfg))
    loss_over = {"name": loss}
    if loss == "wgan-gp":
        loss_over["n_critic"] = trial.suggest_int("n_critic", 1, 5)
        loss_over["gp_weight"] = trial.suggest_float("gp_weight", 1.0, 20.0, log=True)
    else:
        loss_over["n_critic"] = 1
    # Both networks share the betas: two more dimensions rarely pay for themselves in a
    # budget of tens of trials. SGD-D presets keep their own optimiser kind.
    return {
        "optim_g": {"lr": lr_g, "beta1": beta1, "beta2": beta2},
        "optim_d": {"lr": lr_d, "beta1": beta1, "beta2": beta2},
        "data": {"batch_size": batch},
        "loss": loss_over,
    }
