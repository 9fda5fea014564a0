"""The training loop every launcher runs: in-process (tests, `--workers 0`) or on each
Ray Train worker. It sees a `Session` (rank, device, where checkpoints go) and the config;
nothing in here knows whether Ray is present.

Reproducibility: the data order and the noise of epoch `e` on rank `r` come from
generators seeded with (seed, e, r), and checkpoints are taken at epoch ends, so a run
resumed from epoch k's checkpoint produces the same weights as an uninterrupted run.
"""
from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

from ganbench.config import RunConfig
from ganbench.data import build_loader
from ganbench.distributed import Session
from ganbench.errors import DivergenceError
from ganbench.losses import LOSSES, validate_loss_config
from ganbench.models import build_models
from ganbench.optim import build_optimizer
from ganbench.train.checkpoint import load_checkpoint, save_checkpoint
from ganbench.train.monitor import plot_curves, plot_metric, save_grid
from ganbench.train.progress import progress
from ganbench.train.pruning import make_reporter
from ganbench.train.stats import Stats
from ganbench.train.steps import GanStep

log = logging.getLogger("ganbench.train")


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch * 10_007 + rank) % (2**63 - 1)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def build_stepper(cfg: RunConfig, session: Session, image_shape, num_classes: int):
    """Models, optimisers and the phase runner, wrapped for this session."""
    torch.manual_seed(cfg.train.seed)  # identical init on every rank (DDP also broadcasts it)
    models = build_models(cfg.model, image_shape, num_classes)
    loss = LOSSES.get(cfg.loss.name)
    validate_loss_config(cfg.loss, models)
    models.G.to(session.device)
    models.D.to(session.device)
    opt_g = build_optimizer(cfg.optim_g, models.G.parameters())
    opt_d = build_optimizer(cfg.optim_d, models.D.parameters())
    step = GanStep(
        G=models.G, D=models.D, opt_g=opt_g, opt_d=opt_d, loss=loss, loss_cfg=cfg.loss,
        latent_dim=models.latent_dim, conditional=models.conditional, info=models.info,
        n_cont=models.n_cont, sample_labels=models.sample_labels,
        device=session.device, amp=cfg.train.amp and session.device.type == "cuda",
    )
    return models, step


def _restore(resume: Path, models, stepper, device) -> tuple[int, int, list]:
    from ganbench.train.resume_check import check_models_fit

    ckpt_cfg, state = load_checkpoint(resume, map_location=device)
    check_models_fit(models, state, resume, ckpt_cfg)  # one line naming the keys, not a size-mismatch traceback
    models.G.load_state_dict(state["G"])
    models.D.load_state_dict(state["D"])
    stepper.opt_g.load_state_dict(state["opt_g"])
    stepper.opt_d.load_state_dict(state["opt_d"])
    return int(state["epoch"]), int(state["step"]), list(state.get("history", []))


def _make_evaluator(cfg: RunConfig, session: Session):
    """(evaluator, score key) when `eval.every` asks for evaluation during training."""
    if not cfg.eval.every:
        return None, None
    from ganbench.metrics import Evaluator, metric_key

    ev = Evaluator(cfg.eval, cfg.data, session.device, rank=session.rank,
                   world_size=session.world_size, gather=session.all_gather)
    return ev, metric_key(cfg.eval, ev.backbone.name)


def run_loop(cfg: RunConfig, session: Session, tracking: Optional[dict] = None,
             show_progress: bool = False, trial: Optional[dict] = None) -> dict:
    """Train `cfg` in this process as `session.rank`; returns a summary (rank 0's is used).

    trial: an Optuna trial spec (see ganbench/train/pruning.py) to report evaluations to.
    """
    device = session.device
    loader = build_loader(cfg.data, rank=session.rank, world_size=session.world_size, seed=cfg.train.seed, device=device)
    models, stepper = build_stepper(cfg, session, loader.image_shape, loader.num_classes)
    evaluator, score_key = _make_evaluator(cfg, session)

    start_epoch, global_step, history = 0, 0, []
    resume = session.resume_dir()
    if resume is not None:
        start_epoch, global_step, history = _restore(resume, models, stepper, device)
        if session.is_main:
            log.info("resumed from %s at epoch %d", resume, start_epoch)
    stepper.G = session.wrap(models.G)
    stepper.D = session.wrap(models.D)

    sink = reporter = None
    logged_through = 0
    if session.is_main:
        log.info("data: %s", loader.describe())
        reporter = make_reporter(trial)
        if tracking:
            from ganbench.tracking import MlflowSink

            sink = MlflowSink(tracking)
            # After a worker failure Ray restarts every worker from the last checkpoint it
            # registered (or from scratch if none was), and the epochs after it are trained
            # again: don't log them twice into the run.
            logged_through = sink.logged_through("epoch")
            sink.set_tags({"ganbench.loader": loader.kind, "ganbench.device": str(device),
                           "ganbench.world_size": session.world_size,
                           "ganbench.amp": "bf16" if stepper.amp else "off",
                           **({"ganbench.resumed_at_epoch": start_epoch} if resume is not None else {})})

    # Fixed noise for the per-epoch grid: the same images every epoch show progress.
    n_grid = cfg.train.sample_grid
    fixed_z = torch.randn(n_grid, models.latent_dim, generator=_generator(device, cfg.train.seed + 12345), device=device)
    fixed_labels = torch.arange(n_grid, device=device) % models.num_classes if models.num_classes else None

    stats = Stats()
    steps_per_epoch = len(loader)
    if cfg.train.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.train.max_steps_per_epoch)
    work = Path(tempfile.mkdtemp(prefix="ganbench-"))
    last_metrics: dict = {}
    status = "finished"
    loop_start = time.perf_counter()
    # One bar per run (not per epoch): a study or suite shows one line per run it has going.
    bar = progress(total=(cfg.train.epochs - start_epoch) * steps_per_epoch,
                   desc=cfg.tracking.run_name or cfg.preset, enabled=session.is_main and show_progress)
    try:
        for epoch in range(start_epoch, cfg.train.epochs):
            loader.set_epoch(epoch)
            gen = _generator(device, epoch_seed(cfg.train.seed, epoch, session.rank))
            models.G.train()
            models.D.train()
            t0, n_images = time.perf_counter(), 0
            for i, (real, labels) in enumerate(loader):
                if i >= steps_per_epoch:
                    break
                stepper.step(i, real, labels, gen, stats)
                n_images += real.shape[0]
                global_step += 1
                if i % 10 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss_d=stats.last("loss_d"), loss_g=stats.last("loss_g"),
                                    refresh=False)
                bar.update(1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t0

            metrics = stats.reduce(session.all_reduce_sum, device=device)
            metrics.update(epoch=epoch + 1, step=global_step, epoch_time_s=dt,
                           images_per_s=n_images * session.world_size / max(dt, 1e-9))
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                # Every rank sees the same reduced values, so all ranks stop here together and
                # nothing after the last good checkpoint is written.
                msg = (f"training diverged at epoch {epoch + 1} (non-finite {', '.join(bad)}); "
                       f"the last good checkpoint is kept. Try a lower learning rate (optim_g.lr / optim_d.lr) "
                       f"or another loss.")
                if sink:
                    sink.set_tags({"ganbench.status": "diverged", "ganbench.error": msg})
                return {"status": "diverged", "message": msg, "epoch": epoch + 1, "history": history}

            out_of_time = _out_of_time(cfg, session, loop_start)
            last_epoch = epoch + 1 == cfg.train.epochs or out_of_time
            evaluated = evaluator is not None and (last_epoch or (epoch + 1) % cfg.eval.every == 0)
            if evaluated:
                # All ranks generate and extract features; rank 0 gets the numbers.
                em, protocol = evaluator.evaluate(models)
                metrics.update(em)
                if sink and em and epoch + 1 > logged_through:
                    sink.set_tags({f"ganbench.eval.{k}": v for k, v in protocol.items()})
            history.append(metrics)
            last_metrics = metrics

            if session.is_main:
                log.info("epoch %d: %s", epoch + 1, _fmt(metrics, score_key))
                grid = _sample_grid(models.G, fixed_z, fixed_labels, work / f"samples_epoch_{epoch + 1:04d}.png")
                curves = plot_curves(history, work / "loss_curves.png", title=cfg.preset)
                if sink and epoch + 1 > logged_through:
                    sink.log_metrics(metrics, step=epoch + 1)
                    sink.log_artifact(grid, "samples")
                    sink.log_image(grid, "samples", step=epoch + 1)  # the UI's image step slider
                    sink.log_artifact(curves, "plots")
                    if evaluated:
                        sink.log_artifact(plot_metric(history, score_key, work / f"{score_key}_curve.png"), "plots")

            ckpt_dir = None
            if last_epoch or evaluated or (epoch + 1) % cfg.train.checkpoint_every == 0:
                ckpt_dir = work / f"ckpt_{epoch + 1:04d}"
                if session.is_main:
                    save_checkpoint(ckpt_dir, cfg, _state(models, stepper, loader, epoch + 1, global_step,
                                                          history, tracking), metrics)
            report = dict(metrics)
            if score_key:
                # Checkpoints without a score sort last in retention (NaN): they exist for
                # resumption only; the best-by-score ones are kept.
                report.setdefault(score_key, float("nan"))
            session.report(report, epoch + 1, ckpt_dir)

            stop = False
            if evaluated and reporter is not None and score_key in metrics:
                stop = reporter.report(metrics[score_key], epoch + 1)
            if trial is not None and evaluated and session.broadcast_flag(stop):
                status = "pruned"
                if session.is_main:
                    log.info("trial pruned at epoch %d (%s=%.4g)", epoch + 1, score_key, metrics[score_key])
                break
            if out_of_time:
                if session.is_main:
                    log.info("time budget of %.0f s reached after epoch %d: stopping", cfg.train.max_seconds, epoch + 1)
                break
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)

    return {"status": status, "final_metrics": last_metrics, "history": history, "score_key": score_key,
            "loader": loader.kind, "device": str(device), "world_size": session.world_size,
            "data": loader.describe()}


def _out_of_time(cfg: RunConfig, session: Session, start: float) -> bool:
    """train.max_seconds spent? Rank 0's clock decides for all (ranks must stop together)."""
    if cfg.train.max_seconds <= 0:
        return False
    return session.broadcast_flag(time.perf_counter() - start >= cfg.train.max_seconds)


def _state(models, stepper, loader, epoch: int, step: int, history: list, tracking: Optional[dict]) -> dict:
    return {
        "G": models.G.state_dict(), "D": models.D.state_dict(),
        "opt_g": stepper.opt_g.state_dict(), "opt_d": stepper.opt_d.state_dict(),
        "epoch": epoch, "step": step, "history": history,
        "num_classes": models.num_classes, "image_shape": list(loader.image_shape),
        "mlflow_run_id": (tracking or {}).get("run_id", ""),
    }


@torch.no_grad()
def _sample_grid(G, z, labels, path: Path) -> Path:
    # Eval-mode BatchNorm (running statistics): the same mode `ganbench sample` uses.
    G.eval()
    images = G(z, labels)
    G.train()
    return save_grid(images, path)


def _fmt(m: dict, score_key: Optional[str] = None) -> str:
    keys = ("loss_d", "loss_g", "d_real", "d_fake", score_key, "images_per_s", "epoch_time_s")
    return " ".join(f"{k}={m[k]:.4g}" for k in keys if k and k in m)


def raise_if_diverged(summary: dict) -> None:
    if summary.get("status") == "diverged":
        raise DivergenceError(summary["message"])
