"""`train(cfg) -> TrainResult`: the one entry point. The CLI, tuning, bench and tests call it.

It refuses impossible configs before anything starts, resolves the evaluation once, owns
the MLflow run (created here, so its id is known before any worker starts, and ended here
with the final status), hands the loop to a launcher (this process when `workers == 0`,
else Ray Train with `workers` DDP workers), picks the best and last checkpoints and runs
the final evaluation on the best.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch

from ganbench import storage
from ganbench import tracking as trk
from ganbench.augment import check_augment_config
from ganbench.checkpoint import BestPick, load_checkpoint, pick_best
from ganbench.config import RunConfig, with_updates
from ganbench.errors import ConfigError
from ganbench.losses import LOSSES
from ganbench.models import MODELS, check_model
from ganbench.models.ema import check_ema_config
from ganbench.optim import OPTIMIZERS
from ganbench.presets import FOLDER_PLACEHOLDER
from ganbench.redact import redact_url
from ganbench.train.final_eval import (ARTIFACT_DIR as FINAL_DIR, FinalEval, plan_final_eval, run_final_eval,
                                       tracking_payload, write_files)
from ganbench.train.launcher import LaunchSpec, launch
from ganbench.train.loop import raise_if_diverged
from ganbench.train.observer import EpochObserver
from ganbench.train.pictures_log import log_pictures
from ganbench.train.records import LoopSummary, TrackingHandle, TrainResult
from ganbench.train.resume_check import check_resume_fits

log = logging.getLogger("ganbench.train")


def run_name_for(cfg: RunConfig) -> str:
    return cfg.tracking.run_name or f"{cfg.preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def validate(cfg: RunConfig, workers: int, gpu: bool) -> None:
    """Everything train() refuses before it starts anything (public: bench checks every cell up front)."""
    if cfg.data.name == FOLDER_PLACEHOLDER:
        raise ConfigError(
            f"preset {cfg.preset!r} trains on a folder of your images: add --set data.name=folder:/path/to/images"
        )
    # Unknown names fail here, before an MLflow run or a Ray cluster is started for nothing.
    MODELS.get(cfg.model.name)
    # A layout that cannot make the image size fails here, before data, MLflow or Ray.
    check_model(cfg.model, (cfg.data.channels, cfg.data.resolution, cfg.data.resolution))
    LOSSES.get(cfg.loss.name)
    OPTIMIZERS.get(cfg.optim_g.name)
    OPTIMIZERS.get(cfg.optim_d.name)
    check_augment_config(cfg.augment)
    check_ema_config(cfg.ema)
    t = cfg.train
    if t.epochs < 1:
        raise ConfigError(f"train.epochs must be >= 1, got {t.epochs}")
    if t.checkpoint_every < 1:
        raise ConfigError(f"train.checkpoint_every must be >= 1 (epochs), got {t.checkpoint_every}")
    if t.keep_checkpoints < 1:
        raise ConfigError(f"train.keep_checkpoints must be >= 1, got {t.keep_checkpoints}")
    if t.max_steps_per_epoch < 0:
        raise ConfigError("train.max_steps_per_epoch must be >= 0 (0 = whole epoch)")
    if t.sample_grid < 1:
        raise ConfigError("train.sample_grid must be >= 1")
    if t.log_every < 0:
        raise ConfigError(f"train.log_every must be >= 0 (iterations; 0 = per epoch only), got {t.log_every}")
    if t.max_seconds < 0:
        raise ConfigError(f"train.max_seconds must be >= 0 (0 = no time limit), got {t.max_seconds}")
    if workers < 0:
        raise ConfigError(f"--workers must be >= 0 (0 = in this process, no Ray), got {workers}")
    if gpu and workers == 0 and not torch.cuda.is_available():
        raise ConfigError("--gpu was given but no CUDA device is visible; drop --gpu to train on CPU")


def resolve_eval(cfg: RunConfig, gpu: bool = False) -> tuple[RunConfig, Optional[str]]:
    """Pick the evaluation backbone once, in the driver (an `auto` backbone becomes a name;
    a classifier backbone is trained and cached here, not by every worker at once).
    gpu: the run trains on GPUs, where `fast` means Inception (seconds there), even when
    this driver itself has no GPU."""
    if not cfg.eval.every:
        return cfg, None
    from ganbench.metrics import check_eval_config, metric_key, resolve_backbone  # seconds to import

    if cfg.eval.every < 0:
        raise ConfigError(f"eval.every must be >= 0 (epochs; 0 = no evaluation), got {cfg.eval.every}")
    check_eval_config(cfg.eval)
    if gpu and cfg.eval.backbone == "fast":
        cfg = with_updates(cfg, eval={"backbone": "inception"})
    backbone = resolve_backbone(cfg.eval, cfg.data)
    check_eval_config(cfg.eval, backbone)  # e.g. FID samples vs feature dimension, before workers start
    cfg = with_updates(cfg, eval={"backbone": backbone.name})
    return cfg, metric_key(cfg.eval, backbone.name)


def _check_out(out: str | Path, workers: int) -> None:
    if storage.is_uri(out) and workers == 0:
        raise ConfigError(f"--out {out} is an object-store URI: that needs Ray workers (--workers 1 or more), "
                          f"which upload checkpoints there; or give a local folder")
    storage.check_writable(out)  # now, not after the first epoch


def _open_tracking(cfg: RunConfig, *, out, run_dir: str, resume: Optional[str], workers: int, gpu: bool,
                   tags: Optional[dict]) -> TrackingHandle:
    """The run's MLflow run: the resumed checkpoint's own (see _resume_handle), else a new one."""
    handle = _resume_handle(resume, cfg) or trk.start_run(
        cfg, extra_params={"launch.workers": workers, "launch.gpu": gpu},
        tags={"ganbench.run_dir": str(run_dir), **(tags or {}),
              **({"ganbench.resumed_from": resume} if resume else {})},
    )
    # Where MLflow calls go if the tracking server stops answering mid-run (tracking_spool.py).
    spool = storage.join(out, "mlflow-spool") if not storage.is_uri(out) else str(storage.cache_root() / "mlflow-spool")
    return replace(handle, spool_dir=spool)


def train(
    cfg: RunConfig,
    *,
    workers: int = 0,
    gpu: bool = False,
    out: str | Path = "runs",
    resume: Optional[str] = None,
    track: bool = True,
    max_failures: int = 0,
    progress: Optional[bool] = None,
    observer: Optional[EpochObserver] = None,
    tags: Optional[dict] = None,
) -> TrainResult:
    """Train `cfg`; returns the run id, best/last checkpoint paths and the final metrics.

    out: a folder, or (with workers >= 1) an object-store URI such as s3://bucket/runs.
    progress: draw a progress bar (default: when stderr is a terminal; epoch log lines always).
    observer: told every evaluation's score; it may stop the run (tuning's Optuna pruner).
    tags: extra MLflow tags (e.g. mlflow.parentRunId for a tuning trial).
    """
    validate(cfg, workers, gpu)
    cfg, score_key = resolve_eval(cfg, gpu)
    if resume:  # a checkpoint of another model: one line now, not a size mismatch in a worker
        check_resume_fits(cfg, resume, explicit=True)
    do_final = plan_final_eval(cfg, gpu)
    _check_out(out, workers)
    run_dir = storage.join(out, run_name_for(cfg))
    tracking = _open_tracking(cfg, out=out, run_dir=run_dir, resume=resume, workers=workers, gpu=gpu,
                              tags=tags) if track else None
    sink = trk.MlflowSink(tracking) if tracking else None
    spec = LaunchSpec(workers=workers, gpu=gpu, run_dir=run_dir, resume_from=resume,
                      keep=cfg.train.keep_checkpoints, max_failures=max_failures, score_key=score_key,
                      observer=observer, show_progress=sys.stderr.isatty() if progress is None else progress)
    status, end_tags = "FAILED", {}
    try:
        launched = launch(cfg, spec, tracking)
        raise_if_diverged(launched.summary)
        pick = pick_best(launched.checkpoints, score_key)
        final = _after_training(cfg, pick, score_key, sink, do_final, workers, gpu)
        end_tags = {"ganbench.best_checkpoint": pick.best, "ganbench.last_checkpoint": pick.last,
                    "ganbench.status": launched.summary.status}
        status = "FINISHED"
    finally:
        if sink:
            sink.finish(status, end_tags)
    return _result(tracking, run_dir, launched.summary, pick, score_key, final, workers)


def _after_training(cfg: RunConfig, pick: BestPick, score_key: Optional[str], sink, do_final: bool,
                    workers: int, gpu: bool) -> Optional[FinalEval]:
    """Log the best checkpoint, its score and its pictures; run the final evaluation on it."""
    if sink and pick.best and cfg.tracking.log_checkpoint:
        sink.log_artifact(storage.fetch_dir(pick.best), "checkpoints/best")
    if sink and pick.best_score is not None:
        sink.log_metrics({f"best_{score_key}": pick.best_score}, step=0)
    if sink and (pick.best or pick.last):
        log_pictures(sink, storage.fetch_dir(pick.best or pick.last))
    if not (pick.best and do_final):
        return None
    final = run_final_eval(cfg, pick.best, workers, gpu)
    if sink:
        _log_final(sink, final, pick.best_epoch or 0)
    return final


def _log_final(sink, final: FinalEval, step: int) -> None:
    """`final/` metrics at the best checkpoint's epoch, the protocol as tags, the files under final_eval/."""
    metrics, final_tags = tracking_payload(final)
    sink.log_metrics(metrics, step=step)
    sink.set_tags(final_tags)
    if final.files:
        with tempfile.TemporaryDirectory(prefix="ganbench-final-eval-") as tmp:
            write_files(final, Path(tmp))
            sink.log_artifact(tmp, FINAL_DIR)  # the sink's spool copies what it cannot upload now


def _result(tracking: Optional[TrackingHandle], run_dir: str, summary: LoopSummary, pick: BestPick,
            score_key: Optional[str], final: Optional[FinalEval], workers: int) -> TrainResult:
    return TrainResult(
        run_id=tracking.run_id if tracking else None,
        tracking_uri=tracking.tracking_uri if tracking else None,
        run_dir=str(run_dir), best_checkpoint=pick.best, last_checkpoint=pick.last,
        final_metrics=summary.final_metrics, status=summary.status, score_key=score_key,
        best_score=pick.best_score, final_eval=final, loader=summary.loader, device=summary.device,
        workers=workers,
    )


def _resume_handle(resume: Optional[str], cfg: RunConfig) -> Optional[TrackingHandle]:
    """A resumed run keeps logging to its original MLflow run when that run is reachable and
    stopped at this checkpoint. Resuming from an earlier checkpoint of a run that went on
    (a branch) starts a new run, so no epoch is ever logged twice into one run.

    Only the run id comes from the checkpoint: its config's tracking URI is stored without
    the password, and resolve_tracking_uri takes the real one from the environment then."""
    if not resume:
        return None
    _, state = load_checkpoint(resume)
    run_id = state.get("mlflow_run_id")
    if not run_id:
        return None
    handle = TrackingHandle(trk.resolve_tracking_uri(cfg.tracking.tracking_uri), run_id)
    if not trk.run_exists(handle):
        log.warning("checkpoint's MLflow run %s is not in %s: starting a new run", run_id,
                    redact_url(handle.tracking_uri))
        return None
    logged = trk.last_logged_step(handle, "epoch")
    if logged is not None and logged > int(state["epoch"]):
        log.info("run %s went on past epoch %d: the resumed run is a new MLflow run", run_id, state["epoch"])
        return None
    trk.reopen_run(handle)
    return handle
