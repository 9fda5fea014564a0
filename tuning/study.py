"""`ganbench tune`: an Optuna study whose trials are ganbench training runs on Ray.

- Storage is an Optuna RDB URL (SQLite file by default, PostgreSQL on a cluster). The same
  study name resumes: finished trials are kept, trials left RUNNING by a dead driver are
  marked FAIL, and `trials` counts the study's total, so `--trials 5` on a 3-trial study
  runs 2 more.
- Trial 0 of a new study is the preset's own config (the baseline); every other trial is
  judged against it on the same budget.
- Each trial is one `ganbench.train.train` call (a Ray Train run with `workers` workers);
  `parallel` trials run at once (threads in this driver, each driving its own TorchTrainer).
- Pruning happens inside each run: its rank 0 reports every evaluation to the trial in the
  shared storage and stops when the pruner says so (ganbench/train/pruning.py).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import optuna
from optuna.trial import TrialState

from ganbench import config as C
from ganbench.errors import ConfigError, GanbenchError
from ganbench.presets import get_preset
from ganbench.train import resolve_eval, train
from ganbench.train.pruning import PRUNERS, build_pruner
from tuning import space
from tuning.mlflow_study import log_summary, parent_run

log = logging.getLogger("ganbench.tuning")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STALE_REASON = "driver stopped while running"


@dataclass(frozen=True)
class TuneSpec:
    preset: str = "digits-dcgan"
    trials: int = 10  # total finished trials the study should reach
    study: Optional[str] = None  # default: "<preset>-tune"
    storage: Optional[str] = None  # default: sqlite:///./optuna.db
    parallel: int = 1  # trials at once
    timeout: Optional[float] = None  # seconds for this invocation
    workers: int = 1  # Ray Train workers per trial
    gpu: bool = False
    pruner: str = "median"
    warmup: int = 1  # evaluations before the pruner may stop a trial
    seed: int = 0
    out: str = "runs"
    overrides: tuple = field(default_factory=tuple)  # --set key=value for every trial


def redact(url: str) -> str:
    """The storage URL without its password: it goes into MLflow params, logs and JSON."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an RDB URL: nothing to hide, and the error will say so elsewhere
        return url


def default_storage() -> str:
    return os.environ.get("GANBENCH_OPTUNA_STORAGE") or f"sqlite:///{Path.cwd() / 'optuna.db'}"


def base_config(spec: TuneSpec) -> C.RunConfig:
    cfg = get_preset(spec.preset)
    if spec.overrides:
        cfg = C.merge(cfg, C.parse_overrides(list(spec.overrides)))
    if not cfg.eval.every:
        # A study needs numbers during training: evaluate about 4 times per trial.
        cfg = C.with_updates(cfg, eval={"every": max(1, cfg.train.epochs // 4)})
    return cfg


def _validate(spec: TuneSpec) -> None:
    if spec.trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {spec.trials}")
    if spec.parallel < 1:
        raise ConfigError(f"--parallel must be >= 1, got {spec.parallel}")
    if spec.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (trials run as Ray Train runs), got {spec.workers}")
    if spec.timeout is not None and spec.timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {spec.timeout}")
    if spec.pruner not in PRUNERS:
        raise ConfigError(f"unknown pruner {spec.pruner!r}; valid pruners: {', '.join(PRUNERS)}")


def _fail_stale(study: optuna.Study, tracking_uri: Optional[str] = None) -> int:
    """Trials left RUNNING by a driver that died: mark them FAIL so the study can go on,
    and their MLflow runs FAILED too (else the UI shows them running forever)."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", STALE_REASON)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    if stale:
        log.warning("marked %d trial(s) left running by an earlier driver as FAIL", len(stale))
        _fail_stale_runs(study.study_name, [t.number for t in stale], tracking_uri)
    return len(stale)


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards --trials: complete, pruned and crashed ones. Trials cut short
    because the driver died were not the trial's fault and are run again."""
    return sum(t.user_attrs.get("fail_reason") != STALE_REASON
               for t in study.get_trials(deepcopy=False, states=FINISHED))


def _fail_stale_runs(study_name: str, numbers: list[int], tracking_uri: Optional[str]) -> None:
    from ganbench import tracking as trk

    try:
        c = trk.client(trk.resolve_tracking_uri(tracking_uri))
        exps = [e.experiment_id for e in c.search_experiments()]
        runs = c.search_runs(exps, f"tags.`optuna.study` = '{study_name}' and attributes.status = 'RUNNING'")
        for r in runs:
            if r.data.tags.get("optuna.trial") in {str(n) for n in numbers}:
                c.set_tag(r.info.run_id, "ganbench.error", "tuning driver stopped while this trial ran")
                c.set_terminated(r.info.run_id, status="FAILED")
    except Exception as e:  # tracking is secondary here: the study must still resume
        log.warning("could not mark the stale trials' MLflow runs FAILED: %s", e)


def make_objective(spec: TuneSpec, study: optuna.Study, base: C.RunConfig, parent: dict, storage: str):
    def objective(trial: optuna.Trial) -> float:
        baseline = trial.number == 0 or trial.user_attrs.get("baseline", False)
        cfg = C.merge(base, space.suggest(trial, base))
        cfg = C.with_updates(cfg, tracking={"run_name": f"{study.study_name}-trial{trial.number:03d}",
                                            "experiment": base.tracking.experiment})
        trial_spec = {"storage": storage, "study": study.study_name, "trial_id": trial._trial_id,
                      "pruner": spec.pruner, "warmup": spec.warmup, "max_resource": cfg.train.epochs,
                      # The baseline runs its whole budget: it is the yardstick.
                      "prunable": not baseline}
        result = train(cfg, workers=spec.workers, gpu=spec.gpu, out=spec.out, progress=False, trial=trial_spec,
                       tags={"mlflow.parentRunId": parent["run_id"], "optuna.study": study.study_name,
                             "optuna.trial": trial.number, "ganbench.baseline": baseline})
        trial.set_user_attr("mlflow_run_id", result["run_id"])
        trial.set_user_attr("best_checkpoint", result["best_checkpoint"])
        trial.set_user_attr("score_key", result["score_key"])
        trial.set_user_attr("baseline", baseline)
        if result["status"] == "pruned":
            raise optuna.TrialPruned(f"pruned at epoch {result['final_metrics'].get('epoch')}")
        value = result["final_metrics"].get(result["score_key"])
        if value is None:
            raise GanbenchError(f"trial {trial.number} finished without {result['score_key']}")
        trial.set_user_attr("best_value_during_run", result["best_score"])
        return float(value)

    return objective


def run_study(spec: TuneSpec) -> dict:
    _validate(spec)
    storage = spec.storage or default_storage()
    name = spec.study or f"{spec.preset}-tune"
    # Resolve the evaluation backbone once here (a classifier backbone is trained and cached
    # now), not in every trial thread at once.
    base, _ = resolve_eval(base_config(spec))
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, load_if_exists=True, direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=4),
            pruner=build_pruner(spec.pruner, spec.warmup, base.train.epochs),
        )
    except Exception as e:  # a bad URL or an unreachable database: say which
        msg = str(e).replace(storage, redact(storage))
        raise ConfigError(f"cannot open Optuna storage {redact(storage)!r}: {type(e).__name__}: {msg}") from None
    _fail_stale(study, base.tracking.tracking_uri)
    if not study.trials:
        study.enqueue_trial(space.defaults(base), user_attrs={"baseline": True})
    done = finished_count(study)
    remaining = max(0, spec.trials - done)

    parent = parent_run(study, base.tracking.experiment, base.tracking.tracking_uri,
                        {"preset": spec.preset, "storage": redact(storage), "pruner": spec.pruner,
                         "workers_per_trial": spec.workers, "parallel": spec.parallel})
    status = "FAILED"
    try:
        if remaining:
            import ray

            if not ray.is_initialized():
                ray.init(include_dashboard=False, configure_logging=False)
            log.info("study %s: %d finished, running %d more (%d at a time)", name, done, remaining, spec.parallel)
            objective = make_objective(spec, study, base, parent, storage)
            if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                # The enqueued baseline runs alone first: parallel workers would race for the
                # one waiting trial (SQLite has no row locks), and it is the yardstick the
                # pruner compares the others with.
                study.optimize(objective, n_trials=1, n_jobs=1, timeout=spec.timeout, catch=(Exception,))
                remaining -= 1
            if remaining:
                study.optimize(objective, n_trials=remaining, n_jobs=spec.parallel, timeout=spec.timeout,
                               catch=(Exception,), show_progress_bar=False)
        summary = summarize(study, storage)
        log_summary(parent, study, summary)
        status = "FINISHED"
    finally:
        from ganbench import tracking as trk

        trk.finish_run(parent, status)
    summary["parent_run_id"] = parent["run_id"]
    return summary


def summarize(study: optuna.Study, storage: str) -> dict:
    trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(t.state == s for t in trials) for s in TrialState}
    counts = {k: v for k, v in counts.items() if v}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    baseline = next((t for t in trials if t.user_attrs.get("baseline")), None)
    return {
        "study": study.study_name,
        "storage": redact(storage),
        "best_params": best.params if best else None,
        "best_value": best.value if best else None,
        "best_trial": best.number if best else None,
        "best_run_id": best.user_attrs.get("mlflow_run_id") if best else None,
        "best_checkpoint": best.user_attrs.get("best_checkpoint") if best else None,
        "score_key": best.user_attrs.get("score_key") if best else None,
        "default_value": baseline.value if baseline and baseline.state == TrialState.COMPLETE else None,
        "n_trials": counts,
    }
