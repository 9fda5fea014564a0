"""`ganbench tune`: an Optuna study whose trials are ganbench training runs on Ray.

- Storage is an Optuna RDB URL (SQLite file by default, PostgreSQL on a cluster). The same
  study name resumes: finished trials are kept and `trials` counts the study's total, so
  `--trials 5` on a 3-trial study runs 2 more.
- Several drivers may share one study (Optuna's way to scale out). Each driver beats a
  heartbeat for its running trials; a trial whose driver stopped beating for `GRACE_BEATS`
  heartbeats is failed (its MLflow run too) and retried as a new trial. A trial another
  live driver runs is never touched.
- The search space and sampler come from a YAML space (tuning/space.py); `default` is
  ganbench's own, `lucic` the ranges of Lucic et al. 2018.
- Trial 0 of a new study is the preset's own config (the baseline); every other trial is
  judged against it on the same budget.
- Each trial is one `ganbench.train.train` call (a Ray Train run with `workers` workers, or
  in this process with `workers=0`); `parallel` trials run at once (threads in this driver,
  each driving its own TorchTrainer).
- Pruning happens inside each run: its rank 0 reports every evaluation to the trial in the
  shared storage and stops when the pruner says so (tuning/pruning.py, handed to train() as
  its EpochObserver).
"""
from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import optuna
from optuna.trial import FrozenTrial, TrialState

from ganbench import config as C
from ganbench.errors import ConfigError, GanbenchError
from ganbench.presets import get_preset
from ganbench.redact import redact_text, redact_url, remember
from ganbench.tracking_store import TrackingHandle
from ganbench.train import TrainResult, resolve_eval, train
from tuning import space as tspace
from tuning.mlflow_study import log_summary, parent_run
from tuning.pruning import PRUNERS, TrialObserver, build_pruner
from tuning.sampler import build_sampler

log = logging.getLogger("ganbench.tuning")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# A running trial is taken for orphaned after this many missed heartbeats: one late beat
# (a busy database, a long GC pause) must not fail a live driver's trial.
GRACE_BEATS = 3
# A trial whose driver keeps dying (e.g. killed for memory) is not retried forever.
MAX_RETRY = 2
redact = redact_url  # kept for callers of tuning.study.redact


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
    space: Optional[str] = None  # a built-in space name or a YAML file; default: "default"
    sampler: Optional[str] = None  # overrides the space's sampler
    heartbeat: int = 30  # seconds between a driver's heartbeats for each running trial


def default_storage() -> str:
    return os.environ.get("GANBENCH_OPTUNA_STORAGE") or f"sqlite:///{Path.cwd() / 'optuna.db'}"


def base_config(spec: TuneSpec, space: Optional[tspace.Space] = None) -> C.RunConfig:
    cfg = get_preset(spec.preset)
    if space is not None:
        cfg = tspace.apply_fixed(cfg, space)
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
    if spec.workers < 0:
        raise ConfigError(f"--workers must be >= 0 (0 = trials in this process, no Ray), got {spec.workers}")
    if spec.workers == 0 and spec.parallel > 1:
        # In-process trials would share torch's global seed and threads: one at a time.
        raise ConfigError("--parallel > 1 needs Ray workers (--workers 1 or more); --workers 0 runs one trial at a time")
    if spec.heartbeat < 1:
        raise ConfigError(f"--heartbeat must be >= 1 second, got {spec.heartbeat}")
    if spec.timeout is not None and spec.timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {spec.timeout}")
    if spec.pruner not in PRUNERS:
        raise ConfigError(f"unknown pruner {spec.pruner!r}; valid pruners: {', '.join(PRUNERS)}")


class StaleTrials:
    """Optuna calls this for each trial whose driver stopped beating (it is FAIL by now): its
    MLflow run is marked FAILED too (else the UI shows it running forever), and the trial is
    retried as a new WAITING trial with the same parameters."""

    def __init__(self, tracking_uri: Optional[str]):
        self.tracking_uri = tracking_uri
        self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        log.warning("trial %d: its driver stopped (no heartbeat): marked FAIL and queued again", trial.number)
        _fail_stale_runs(study.study_name, [trial.number], self.tracking_uri)
        self.retry(study, trial)


def open_storage(url: str, heartbeat: int, tracking_uri: Optional[str]) -> optuna.storages.RDBStorage:
    with warnings.catch_warnings():  # heartbeats and retries are "experimental" in Optuna's words only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat, grace_period=GRACE_BEATS * heartbeat,
                                          heartbeat_stale_trial_callback=StaleTrials(tracking_uri))


def fail_stale(study: optuna.Study) -> None:
    """Fail (and retry) trials of drivers that died; Optuna also does this before each trial."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards --trials: complete, pruned and crashed ones. A trial cut
    short because its driver died was not the trial's fault: its retry counts instead."""
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    return sum(t.state in FINISHED and t.number not in retried for t in trials)


def trials_left(study: optuna.Study, total: int) -> int:
    """Trials still to start: running ones (in any driver) will finish and count."""
    running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    return total - finished_count(study) - running


class StopAtBudget:
    """Drivers sharing a study each stop starting trials once the study as a whole has
    `total` finished or running trials (Optuna's n_trials only counts this driver's)."""

    def __init__(self, total: int):
        self.total = total

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trials_left(study, self.total) <= 0:
            study.stop()


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
        log.warning("could not mark the stale trials' MLflow runs FAILED: %s", redact_text(str(e), [tracking_uri]))


def make_objective(spec: TuneSpec, study: optuna.Study, base: C.RunConfig, parent: TrackingHandle, storage: str,
                   space: tspace.Space):
    def objective(trial: optuna.Trial) -> float:
        baseline = trial.user_attrs.get("baseline", False)
        cfg = C.merge(base, tspace.suggest(trial, space, base))
        cfg = C.with_updates(cfg, tracking={"run_name": f"{study.study_name}-trial{trial.number:03d}",
                                            "experiment": base.tracking.experiment})
        observer = TrialObserver(storage, study.study_name, trial._trial_id, spec.pruner, spec.warmup,
                                 max_resource=cfg.train.epochs,
                                 prunable=not baseline)  # the baseline runs its whole budget: it is the yardstick
        tags = {"mlflow.parentRunId": parent.run_id, "optuna.study": study.study_name,
                "optuna.trial": trial.number, "ganbench.baseline": baseline}
        result = run_trial(cfg, spec, observer, tags)
        trial.set_user_attr("mlflow_run_id", result.run_id)
        trial.set_user_attr("best_checkpoint", result.best_checkpoint)
        trial.set_user_attr("score_key", result.score_key)
        trial.set_user_attr("baseline", baseline)
        if result.status == "pruned":
            raise optuna.TrialPruned(f"pruned at epoch {result.final_metrics.get('epoch')}")
        value = result.final_metrics.get(result.score_key)
        if value is None:
            raise GanbenchError(f"trial {trial.number} finished without {result.score_key}")
        trial.set_user_attr("best_value_during_run", result.best_score)
        return float(value)

    return objective


def run_trial(cfg: C.RunConfig, spec: TuneSpec, observer: TrialObserver, tags: dict) -> TrainResult:
    """One trial's training run. --workers 1: a Ray task running the loop itself (no
    TorchTrainer: about 20 s less per trial on 2 cores, benchmarks/run_overhead.py);
    --workers >= 2: Ray Train DDP; --workers 0: in this process."""
    if spec.workers != 1:
        return train(cfg, workers=spec.workers, gpu=spec.gpu, out=spec.out, progress=None, observer=observer,
                     tags=tags)
    from ganbench import tracking as trk
    from ganbench.ray_runs import train_in_task
    from ganbench.storage import is_uri

    # The task may run in another directory or on another node: nothing relative goes along.
    cfg = C.with_updates(cfg, tracking={"tracking_uri": trk.resolve_tracking_uri(cfg.tracking.tracking_uri)})
    out = spec.out if is_uri(spec.out) else str(Path(spec.out).resolve())
    # The bar is decided here (the task's stderr is no terminal); in the task it is Ray's tqdm.
    return train_in_task(cfg, cpus=1, gpus=1 if spec.gpu else 0, out=out, progress=sys.stderr.isatty(),
                         observer=observer, tags=tags)


def run_study(spec: TuneSpec) -> dict:
    _validate(spec)
    storage = spec.storage or default_storage()
    remember(storage)  # its password is masked in every message from here on
    name = spec.study or f"{spec.preset}-tune"
    space = tspace.load_space(spec.space, spec.sampler)
    base = base_config(spec, space)
    space = tspace.fit_to(space, base)
    study = _open_study(spec, name, storage, space, base)  # a bad URL fails now, not after the backbone
    # Resolve the evaluation backbone once here (a classifier backbone is trained and cached
    # now), not in every trial thread at once.
    base, _ = resolve_eval(base, spec.gpu)
    fail_stale(study)
    if not study.trials:
        study.enqueue_trial(tspace.defaults(space, base), user_attrs={"baseline": True}, skip_if_exists=True)

    parent = parent_run(study, base.tracking.experiment, base.tracking.tracking_uri,
                        {"preset": spec.preset, "storage": redact_url(storage), "pruner": spec.pruner,
                         "workers_per_trial": spec.workers, "parallel": spec.parallel,
                         "space": space.name, "sampler": space.sampler})
    status = "FAILED"
    try:
        _drive(study, make_objective(spec, study, base, parent, storage, space), spec)
        summary = summarize(study, storage)
        log_summary(parent, study, summary)
        status = "FINISHED"
    finally:
        from ganbench import tracking as trk

        trk.finish_run(parent, status)
    summary["parent_run_id"] = parent.run_id
    return summary


def _open_study(spec: TuneSpec, name: str, storage: str, space: tspace.Space, base: C.RunConfig) -> optuna.Study:
    try:
        return optuna.create_study(
            study_name=name, storage=open_storage(storage, spec.heartbeat, base.tracking.tracking_uri),
            load_if_exists=True, direction="minimize", sampler=build_sampler(space, spec.seed),
            pruner=build_pruner(spec.pruner, spec.warmup, base.train.epochs),
        )
    except GanbenchError:
        raise
    except Exception as e:  # a bad URL or an unreachable database: say which
        first = (str(e).strip().splitlines() or [""])[0]  # SQLAlchemy appends hints and links
        raise ConfigError(f"cannot open Optuna storage {redact_url(storage)!r}: {type(e).__name__}: "
                          f"{redact_text(first, [storage])}") from None


def _drive(study: optuna.Study, objective, spec: TuneSpec) -> None:
    """Run trials until the study (all drivers together) reaches spec.trials."""
    deadline = time.monotonic() + spec.timeout if spec.timeout else None
    started = False
    while (left := trials_left(study, spec.trials)) > 0:
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            break
        if not started:
            _start_ray(spec)
            log.info("study %s: %d finished, running up to %d more (%d at a time)", study.study_name,
                     finished_count(study), left, spec.parallel)
            started = True
        # Queued trials (the baseline, retries) run one at a time: parallel threads would
        # race for one waiting trial (SQLite has no row locks), and the baseline is the
        # yardstick the pruner compares the others with.
        queued = bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        study.optimize(objective, n_trials=1 if queued else left, n_jobs=1 if queued else spec.parallel,
                       timeout=timeout, catch=(Exception,), callbacks=[StopAtBudget(spec.trials)],
                       show_progress_bar=False)
        if not queued:
            break


def _start_ray(spec: TuneSpec) -> None:
    if spec.workers < 1:
        return
    from ganbench.ray_init import init_ray

    init_ray()


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
