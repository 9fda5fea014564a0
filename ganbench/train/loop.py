"""The training loop every launcher runs: in-process (tests, `--workers 0`) or on each
Ray Train worker. It sees a `Session` (rank, device, where checkpoints go) and the config;
nothing in here knows whether Ray is present.

    run_loop: set up (data, models, step, resume), then per epoch:
        train_one_epoch -> reduce stats -> Schedule says evaluate / checkpoint / stop
        -> Reporter (rank 0) -> session.report (checkpoint) -> observer (may stop the run)

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import torch

from ganbench.augment import resolve_policy
from ganbench.checkpoint import checkpoint_name, checkpoint_state, load_checkpoint, save_checkpoint
from ganbench.config import RunConfig
from ganbench.data import build_loader
from ganbench.distributed import Session
from ganbench.errors import DivergenceError
from ganbench.losses import LOSSES, validate_loss_config
from ganbench.models import build_models
from ganbench.models.ema import GeneratorEMA, make_ema
from ganbench.optim import build_optimizer
from ganbench.train.observer import EpochObserver, StopRun
from ganbench.train.progress import progress
from ganbench.train.records import LoopSummary, TrackingHandle
from ganbench.train.reporter import Reporter, SilentReporter
from ganbench.train.resume_check import check_models_fit
from ganbench.train.schedule import Schedule
from ganbench.train.stats import Stats
from ganbench.train.steps import GanStep

log = logging.getLogger("ganbench.train")


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return (seed * 1_000_003 + epoch * 10_007 + rank) % (2**63 - 1)


@dataclass(frozen=True)
class EpochRun:
    steps: int
    images: int  # on this rank
    seconds: float


def train_one_epoch(step: GanStep, loader, epoch: int, gen: torch.Generator, stats: Stats,
                    max_steps: int = 0, bar=None, log_every: int = 0, on_log=None) -> EpochRun:
    """One pass over this rank's shard (at most `max_steps` batches; 0 = all), each batch
    through `step`; the losses and D outputs go to `stats`. bar: a progress bar or None;
    on_log(i, stats): called after every `log_every`-th batch (i = batches done this epoch)."""
    loader.set_epoch(epoch)
    step.G.train()
    step.D.train()
    limit = min(len(loader), max_steps) if max_steps else len(loader)
    t0, n_images, n_steps = time.perf_counter(), 0, 0
    for i, (real, labels) in enumerate(loader):
        if i >= limit:
            break
        step.step(i, real, labels, gen, stats)
        n_images += real.shape[0]
        n_steps += 1
        if log_every and on_log is not None and n_steps % log_every == 0:
            on_log(n_steps, stats)
        if bar is not None:
            if i % 10 == 0:
                bar.set_postfix(epoch=epoch + 1, loss_d=stats.last("loss_d"), loss_g=stats.last("loss_g"),
                                refresh=False)
            bar.update(1)
    if step.device.type == "cuda":
        torch.cuda.synchronize(step.device)
    return EpochRun(n_steps, n_images, time.perf_counter() - t0)


def build_stepper(cfg: RunConfig, session: Session, image_shape, num_classes: int):
    """Models, optimisers and the phase runner, on this session's device (not yet wrapped)."""
    torch.manual_seed(cfg.train.seed)  # identical init on every rank (DDP also broadcasts it)
    models = build_models(cfg.model, image_shape, num_classes)
    loss = LOSSES.get(cfg.loss.name)
    validate_loss_config(cfg.loss, models)
    models.G.to(session.device)
    models.D.to(session.device)
    opt_g = build_optimizer(cfg.optim_g, models.G.parameters())
    opt_d = build_optimizer(cfg.optim_d, models.D.parameters())
    step = GanStep(G=models.G, D=models.D, opt_g=opt_g, opt_d=opt_d, loss=loss, loss_cfg=cfg.loss,
                   device=session.device, amp=cfg.train.amp and session.device.type == "cuda",
                   ema=make_ema(cfg.ema, models.G, models.num_classes if models.conditional else 0))
    return models, step


def _restore(resume: Path, models, step: GanStep, device) -> tuple[int, int, list]:
    ckpt_cfg, state = load_checkpoint(resume, map_location=device)
    check_models_fit(models, state, resume, ckpt_cfg)  # one line naming the keys, not a size-mismatch traceback
    models.G.load_state_dict(state["G"])
    models.D.load_state_dict(state["D"])
    step.opt_g.load_state_dict(state["opt_g"])
    step.opt_d.load_state_dict(state["opt_d"])
    if step.ema is not None:
        _restore_ema(step, models, state, resume)
    return int(state["epoch"]), int(state["step"]), list(state.get("history", []))


def _restore_ema(step: GanStep, models, state: dict, resume: Path) -> None:
    """The average resumes exactly; a checkpoint from a run without EMA starts one from its G."""
    if "G_ema" in state:
        step.ema.load_state_dict(state["G_ema"])
        return
    step.ema = GeneratorEMA(models.G, step.ema.cfg, step.ema.num_classes)  # the one built at set-up copied the untrained G
    log.warning("%s holds no G_ema (trained without ema.decay): the EMA of G starts from its G now", resume)


def eval_models(w: "_Worker"):
    """What evaluation, sample grids and the best-checkpoint score see: the EMA of G when the
    run keeps one (the generator that is exported and served), else G."""
    if w.step.ema is None:
        return w.models
    w.step.ema.settle()
    return replace(w.models, G=w.step.ema.model)


def _make_evaluator(cfg: RunConfig, session: Session):
    """(evaluator, score key) when `eval.every` asks for evaluation during training."""
    if not cfg.eval.every:
        return None, None
    from ganbench.metrics import Evaluator, metric_key  # metrics (Inception, ONNX) only when evaluating

    ev = Evaluator(cfg.eval, cfg.data, session.device, rank=session.rank,
                   world_size=session.world_size, gather=session.all_gather)
    return ev, metric_key(cfg.eval, ev.backbone.name)


def _epoch_metrics(stats: Stats, session: Session, run: EpochRun, epoch: int, step: int) -> dict:
    metrics = stats.reduce(session.all_reduce_sum, device=session.device)
    metrics.update(epoch=epoch, step=step, epoch_time_s=run.seconds,
                   images_per_s=run.images * session.world_size / max(run.seconds, 1e-9))
    return metrics


def _diverged(metrics: dict) -> Optional[str]:
    """The message when an epoch's reduced numbers are not finite. Every rank sees the same
    reduced values, so all ranks stop here together and nothing after the last good
    checkpoint is written."""
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if not bad:
        return None
    return (f"training diverged at epoch {int(metrics['epoch'])} (non-finite {', '.join(bad)}); "
            f"the last good checkpoint is kept. Try a lower learning rate (optim_g.lr / optim_d.lr) "
            f"or another loss.")


def _stop_asked(observer: Optional[EpochObserver], session: Session, score: Optional[float], epoch: int) -> bool:
    """Rank 0 asks the observer; every rank gets its answer (a collective: all ranks call)."""
    stop = False
    if session.is_main and score is not None:
        try:
            observer.report(epoch, score)
        except StopRun:
            stop = True
    return session.broadcast_flag(stop)


@dataclass
class _Worker:
    """What one worker trains, built once: data, models, step, evaluation, and where it starts."""

    loader: object
    models: object  # GanModels (unwrapped)
    step: GanStep  # holds the wrapped G and D
    evaluator: object  # metrics.Evaluator, or None without eval.every
    score_key: Optional[str]
    start_epoch: int = 0
    global_step: int = 0
    history: list = field(default_factory=list)
    resumed_from: Optional[Path] = None


def _set_up(cfg: RunConfig, session: Session) -> _Worker:
    loader = build_loader(cfg.data, rank=session.rank, world_size=session.world_size, seed=cfg.train.seed,
                          device=session.device)
    models, step = build_stepper(cfg, session, loader.image_shape, loader.num_classes)
    step.augment = resolve_policy(cfg.augment, cfg.data.name, loader.total_images)
    step.aug_gen = torch.Generator(device=session.device) if step.augment else None
    evaluator, score_key = _make_evaluator(cfg, session)
    w = _Worker(loader, models, step, evaluator, score_key)
    w.resumed_from = session.resume_dir()
    if w.resumed_from is not None:  # weights first, then DDP (which broadcasts rank 0's at wrap)
        w.start_epoch, w.global_step, w.history = _restore(w.resumed_from, models, step, session.device)
    step.G, step.D = session.wrap(models.G), session.wrap(models.D)
    return w


def _open_reporter(cfg: RunConfig, session: Session, tracking: Optional[TrackingHandle], w: _Worker):
    if not session.is_main:
        return SilentReporter()
    reporter = Reporter(cfg, tracking, w.models.latent_dim, w.models.num_classes, session.device, w.score_key)
    resumed = w.resumed_from is not None
    if resumed:
        reporter.note("resumed from %s at epoch %d", w.resumed_from, w.start_epoch)
    reporter.start({"ganbench.loader": w.loader.kind, "ganbench.device": str(session.device),
                    "ganbench.world_size": session.world_size, "ganbench.amp": "bf16" if w.step.amp else "off",
                    "ganbench.augment": w.step.augment or "none",
                    "ganbench.ema": f"decay {w.step.ema.cfg.decay}" if w.step.ema else "off",
                    **({"ganbench.resumed_at_epoch": w.start_epoch} if resumed else {})},
                   w.loader.describe())
    return reporter


def _checkpoint(cfg: RunConfig, session: Session, w: _Worker, folder: Path, epoch: int, metrics: dict,
                tracking: Optional[TrackingHandle]) -> Path:
    """Rank 0 writes the checkpoint; every rank gets the folder's path (for session.report)."""
    if session.is_main:
        if w.step.ema is not None:
            w.step.ema.settle()  # the checkpoint holds G_ema as it is sampled, exported and served
        state = checkpoint_state(w.models, w.step.opt_g, w.step.opt_d, epoch=epoch, step=w.global_step,
                                 history=w.history, image_shape=w.loader.image_shape,
                                 run_id=tracking.run_id if tracking else "", ema=w.step.ema)
        save_checkpoint(folder, cfg, state, metrics)
    return folder


def run_loop(cfg: RunConfig, session: Session, tracking: Optional[TrackingHandle] = None,
             show_progress: bool = False, observer: Optional[EpochObserver] = None) -> LoopSummary:
    """Train `cfg` in this process as `session.rank`; returns a summary (rank 0's is used).

    observer: told each evaluation's score (rank 0); it may stop the run (tuning's pruner)."""
    w = _set_up(cfg, session)
    reporter = _open_reporter(cfg, session, tracking, w)
    schedule, max_steps = Schedule.from_config(cfg), cfg.train.max_steps_per_epoch
    steps_per_epoch = min(len(w.loader), max_steps) if max_steps else len(w.loader)
    # One bar per run (not per epoch): a study or suite shows one line per run it has going.
    bar = progress(total=(cfg.train.epochs - w.start_epoch) * steps_per_epoch,
                   desc=cfg.tracking.run_name or cfg.preset, enabled=session.is_main and show_progress)
    work = Path(tempfile.mkdtemp(prefix="ganbench-"))
    stats, status, metrics = Stats(), "finished", {}
    loop_start = time.perf_counter()
    try:
        for epoch in range(w.start_epoch + 1, cfg.train.epochs + 1):  # 1-based: the epoch being trained
            gen = torch.Generator(device=session.device).manual_seed(epoch_seed(cfg.train.seed, epoch - 1, session.rank))
            if w.step.aug_gen is not None:  # per-epoch seeds: a resumed run augments as the uninterrupted one
                w.step.aug_gen.manual_seed(epoch_seed(cfg.train.seed + 1, epoch - 1, session.rank))
            first = w.global_step  # the global step this epoch starts from, for iteration logs
            run = train_one_epoch(w.step, w.loader, epoch - 1, gen, stats, max_steps, bar, cfg.train.log_every,
                                  lambda i, s: reporter.iteration(epoch, first + i, s))
            w.global_step += run.steps
            metrics = _epoch_metrics(stats, session, run, epoch, w.global_step)
            if msg := _diverged(metrics):
                reporter.diverged(msg)
                return LoopSummary("diverged", history=w.history, message=msg)
            out_of_time = schedule.max_seconds > 0 and session.broadcast_flag(
                schedule.over_budget(time.perf_counter() - loop_start))  # rank 0's clock decides for all
            plan = schedule.plan(epoch, out_of_time)
            protocol = None
            if plan.evaluate:  # all ranks generate and extract features; rank 0 gets the numbers
                em, protocol = w.evaluator.evaluate(eval_models(w))
                metrics.update(em)
            w.history.append(metrics)
            reporter.epoch(metrics, w.history, eval_models(w).G, protocol)
            folder = _checkpoint(cfg, session, w, work / checkpoint_name(epoch), epoch, metrics, tracking) \
                if plan.checkpoint else None
            session.report(metrics, epoch, folder)
            if observer is not None and plan.evaluate and _stop_asked(observer, session, metrics.get(w.score_key), epoch):
                status = "pruned"
                reporter.note("trial pruned at epoch %d (%s=%.4g)", epoch, w.score_key, metrics[w.score_key])
                break
            if plan.out_of_time:
                reporter.note("time budget of %.0f s reached after epoch %d: stopping", cfg.train.max_seconds, epoch)
                break
    finally:
        bar.close()
        reporter.close()
        shutil.rmtree(work, ignore_errors=True)
    return LoopSummary(status, metrics, w.history, w.loader.kind, str(session.device), session.world_size,
                       w.loader.describe())


def raise_if_diverged(summary: LoopSummary) -> None:
    if summary.status == "diverged":
        raise DivergenceError(summary.message)
