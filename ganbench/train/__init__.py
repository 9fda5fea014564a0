"""`train(cfg) -> summary`: the one entry point. The CLI, tests and (later) the tuner call it.

It owns the MLflow run (created here, so its id is known before any worker starts, and
ended here with the final status), picks where the loop runs (this process when
`workers == 0`, else Ray Train with `workers` DDP workers), and reports the best and last
checkpoints.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Optional

import torch

from ganbench.config import RunConfig, to_yaml
from ganbench.distributed import LaunchSpec, LocalSession, launch_ray
from ganbench.errors import ConfigError
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.final_eval import FinalEval, best_epoch, plan_final_eval, run_final_eval, tracking_payload
from ganbench.train.resume_check import check_resume_fits
from ganbench.train.loop import raise_if_diverged, run_loop

log = logging.getLogger("ganbench.train")

__all__ = ["train", "run_name_for", "validate"]


def run_name_for(cfg: RunConfig) -> str:
    return cfg.tracking.run_name or f"{cfg.preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def validate(cfg: RunConfig, workers: int, gpu: bool) -> None:
    """Everything train() refuses before it starts anything (public: bench checks every cell up front)."""
    from ganbench.presets import FOLDER_PLACEHOLDER

    if cfg.data.name == FOLDER_PLACEHOLDER:
        raise ConfigError(
            f"preset {cfg.preset!r} trains on a folder of your images: add --set data.name=folder:/path/to/images"
        )
    # Unknown names fail here, before an MLflow run or a Ray cluster is started for nothing.
    from ganbench.losses import LOSSES
    from ganbench.models import MODELS, check_model
    from ganbench.optim import OPTIMIZERS

    MODELS.get(cfg.model.name)
    # A layout that cannot make the image size fails here, before data, MLflow or Ray.
    check_model(cfg.model, (cfg.data.channels, cfg.data.resolution, cfg.data.resolution))
    LOSSES.get(cfg.loss.name)
    OPTIMIZERS.get(cfg.optim_g.name)
    OPTIMIZERS.get(cfg.optim_d.name)
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
    if t.max_seconds < 0:
        raise ConfigError(f"train.max_seconds must be >= 0 (0 = no time limit), got {t.max_seconds}")
    if workers < 0:
        raise ConfigError(f"--workers must be >= 0 (0 = in this process, no Ray), got {workers}")
    if gpu and workers == 0 and not torch.cuda.is_available():
        raise ConfigError("--gpu was given but no CUDA device is visible; drop --gpu to train on CPU")


def _pick(checkpoints: list[dict], score_key: Optional[str]) -> tuple[Optional[str], Optional[str], Optional[float]]:
    """(best, last, best score). Best is the lowest score_key (FID/KID); with no evaluation
    it is the last checkpoint."""
    if not checkpoints:
        return None, None, None
    ordered = sorted(checkpoints, key=lambda c: c["epoch"] or 0)
    last = ordered[-1]["path"]
    scored = [c for c in ordered if score_key and math.isfinite((c.get("metrics") or {}).get(score_key, math.nan))]
    if not scored:
        return last, last, None
    best = min(scored, key=lambda c: c["metrics"][score_key])
    return best["path"], last, best["metrics"][score_key]


def resolve_eval(cfg: RunConfig, gpu: bool = False) -> tuple[RunConfig, Optional[str]]:
    """Pick the evaluation backbone once, in the driver (an `auto` backbone becomes a name;
    a classifier backbone is trained and cached here, not by every worker at once).
    gpu: the run trains on GPUs, where `fast` means Inception (seconds there), even when
    this driver itself has no GPU."""
    if not cfg.eval.every:
        return cfg, None
    from ganbench.config import with_updates
    from ganbench.metrics import check_eval_config, metric_key, resolve_backbone

    if cfg.eval.every < 0:
        raise ConfigError(f"eval.every must be >= 0 (epochs; 0 = no evaluation), got {cfg.eval.every}")
    check_eval_config(cfg.eval)
    if gpu and cfg.eval.backbone == "fast":
        cfg = with_updates(cfg, eval={"backbone": "inception"})
    backbone = resolve_backbone(cfg.eval, cfg.data)
    check_eval_config(cfg.eval, backbone)  # e.g. FID samples vs feature dimension, before workers start
    cfg = with_updates(cfg, eval={"backbone": backbone.name})
    return cfg, metric_key(cfg.eval, backbone.name)


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
    trial: Optional[dict] = None,
    tags: Optional[dict] = None,
) -> dict:
    """Train `cfg`; returns run_id, best/last checkpoint paths and the final metrics.

    out: a folder, or (with workers >= 1) an object-store URI such as s3://bucket/runs.

    progress: draw a progress bar (default: when stderr is a terminal; epoch log lines always).
    trial: an Optuna trial spec: evaluations are reported to it and it may prune the run.
    tags: extra MLflow tags (e.g. mlflow.parentRunId for a tuning trial).
    """
    validate(cfg, workers, gpu)
    cfg, score_key = resolve_eval(cfg, gpu)
    if resume:  # a checkpoint of another model: one line now, not a size mismatch in a worker
        check_resume_fits(cfg, resume, explicit=True)
    do_final = plan_final_eval(cfg, gpu)
    if progress is None:
        progress = sys.stderr.isatty()
    from ganbench import storage

    if storage.is_uri(out) and workers == 0:
        raise ConfigError(f"--out {out} is an object-store URI: that needs Ray workers (--workers 1 or more), "
                          f"which upload checkpoints there; or give a local folder")
    storage.check_writable(out)  # now, not after the first epoch
    run_name = run_name_for(cfg)
    run_dir = storage.join(out, run_name)

    from ganbench import tracking as trk

    handle = None
    if track:
        handle = _resume_handle(resume, cfg) or trk.start_run(
            cfg, extra_params={"launch.workers": workers, "launch.gpu": gpu},
            tags={"ganbench.run_dir": str(run_dir), **(tags or {}),
                  **({"ganbench.resumed_from": resume} if resume else {})},
        )
        # Where MLflow calls go if the tracking server stops answering mid-run (tracking_spool.py).
        spool = storage.join(out, "mlflow-spool") if not storage.is_uri(out) else str(storage.cache_root() / "mlflow-spool")
        handle = {**handle, "spool_dir": spool}
        sink = trk.MlflowSink(handle)
    status = "FAILED"
    final: Optional[FinalEval] = None
    try:
        if workers == 0:
            device = torch.device("cuda") if gpu else torch.device("cpu")
            session = LocalSession(run_dir=Path(run_dir), resume_from=resume, keep=cfg.train.keep_checkpoints,
                                   score_key=score_key, device=device)
            summary = run_loop(cfg, session, tracking=handle, show_progress=progress, trial=trial)
            summary["checkpoints"] = [{"path": c.path, "epoch": c.epoch, "metrics": c.metrics} for c in session.reported]
        else:
            spec = LaunchSpec(workers=workers, gpu=gpu, run_dir=run_dir, resume_from=resume,
                              keep=cfg.train.keep_checkpoints, max_failures=max_failures,
                              score_key=score_key, trial=trial)
            summary = launch_ray(to_yaml(cfg), spec, handle, show_progress=progress)
        raise_if_diverged(summary)
        best, last, best_score = _pick(summary.get("checkpoints", []), score_key)
        if handle and best and cfg.tracking.log_checkpoint:
            sink.log_artifact(storage.fetch_dir(best), "checkpoints/best")
        if handle and best_score is not None:
            sink.log_metrics({f"best_{score_key}": best_score}, step=0)
        if best and do_final:
            final = run_final_eval(cfg, best, workers, gpu)
            if handle:
                metrics, final_tags = tracking_payload(final)
                sink.log_metrics(metrics, step=best_epoch(summary.get("checkpoints", []), best))
                sink.set_tags(final_tags)
        status = "FINISHED"
    finally:
        if handle:
            end_tags = {"ganbench.best_checkpoint": best, "ganbench.last_checkpoint": last,
                        "ganbench.status": summary.get("status")} if status == "FINISHED" else {}
            sink.finish(status, end_tags)
    result = {
        "run_id": handle["run_id"] if handle else None,
        "tracking_uri": handle["tracking_uri"] if handle else None,
        "run_dir": str(run_dir),
        "best_checkpoint": best,
        "last_checkpoint": last,
        "final_metrics": summary.get("final_metrics", {}),
        "status": summary.get("status"),
        "score_key": score_key,
        "best_score": best_score,
        "final_eval": {"metrics": final.metrics, "protocol": final.protocol} if final else None,
        "loader": summary.get("loader"),
        "device": summary.get("device"),
        "workers": workers,
    }
    return result


def _resume_handle(resume: Optional[str], cfg: RunConfig) -> Optional[dict]:
    """A resumed run keeps logging to its original MLflow run when that run is reachable and
    stopped at this checkpoint. Resuming from an earlier checkpoint of a run that went on
    (a branch) starts a new run, so no epoch is ever logged twice into one run."""
    if not resume:
        return None
    from ganbench import tracking as trk

    _, state = load_checkpoint(resume)
    run_id = state.get("mlflow_run_id")
    if not run_id:
        return None
    handle = {"tracking_uri": trk.resolve_tracking_uri(cfg.tracking.tracking_uri), "run_id": run_id}
    if not trk.run_exists(handle):
        log.warning("checkpoint's MLflow run %s is not in %s: starting a new run", run_id, handle["tracking_uri"])
        return None
    logged = trk.last_logged_step(handle, "epoch")
    if logged is not None and logged > int(state["epoch"]):
        log.info("run %s went on past epoch %d: the resumed run is a new MLflow run", run_id, state["epoch"])
        return None
    trk.reopen_run(handle)
    return handle
