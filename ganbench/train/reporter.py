"""Rank 0's reporter: the one place a run's numbers and pictures leave the loop.

Per epoch it writes the log line, the sample grid of fixed noise (the same images every
epoch show progress), the loss curves and, when the run is tracked, hands all of it to the
MLflow sink. Other ranks get `SilentReporter`, so the loop has no rank branches for this.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import torch

from ganbench.config import RunConfig
from ganbench.tracking import MlflowSink
from ganbench.train.monitor import plot_curves, plot_metric, save_grid
from ganbench.train.records import TrackingHandle

log = logging.getLogger("ganbench.train")

ITER_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "d_fake_g", "gp")
GRID_SEED_OFFSET = 12345  # the grid's noise is its own stream, apart from training's


class SilentReporter:
    """For ranks other than 0: reports nothing."""

    logged_through = 0

    def start(self, tags: dict, describe: str) -> None: ...
    def epoch(self, metrics: dict, history: list, G, protocol: Optional[dict]) -> None: ...
    def note(self, msg: str, *args) -> None: ...
    def iteration(self, epoch: int, step: int, stats) -> None: ...
    def diverged(self, msg: str) -> None: ...
    def close(self) -> None: ...


class Reporter(SilentReporter):
    def __init__(self, cfg: RunConfig, tracking: Optional[TrackingHandle], latent_dim: int, num_classes: int,
                 device: torch.device, score_key: Optional[str]):
        self.title = cfg.preset
        self.score_key = score_key
        n = cfg.train.sample_grid
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + GRID_SEED_OFFSET)
        self.fixed_z = torch.randn(n, latent_dim, generator=gen, device=device)
        self.fixed_labels = torch.arange(n, device=device) % num_classes if num_classes else None
        self.work = Path(tempfile.mkdtemp(prefix="ganbench-report-"))
        self.sink = MlflowSink(tracking) if tracking else None
        # After a worker failure Ray restarts every worker from the last checkpoint it
        # registered (or from scratch if none was), and the epochs after it are trained
        # again: don't log them twice into the run.
        self.logged_through = self.sink.logged_through("epoch") if self.sink else 0

    def start(self, tags: dict, describe: str) -> None:
        log.info("data: %s", describe)
        if self.sink:
            self.sink.set_tags(tags)

    def note(self, msg: str, *args) -> None:
        log.info(msg, *args)

    def epoch(self, metrics: dict, history: list, G, protocol: Optional[dict]) -> None:
        """One epoch's end. protocol: the evaluation's protocol when this epoch was evaluated."""
        e = int(metrics["epoch"])
        log.info("epoch %d: %s", e, _fmt(metrics, self.score_key))
        grid = _sample_grid(G, self.fixed_z, self.fixed_labels, self.work / f"samples_epoch_{e:04d}.png")
        curves = plot_curves(history, self.work / "loss_curves.png", title=self.title)
        if not self.sink or e <= self.logged_through:
            return
        if protocol:
            self.sink.set_tags({f"ganbench.eval.{k}": v for k, v in protocol.items()})
        self.sink.log_metrics(metrics, step=e)
        self.sink.log_artifact(grid, "samples")
        self.sink.log_image(grid, "samples", step=e)  # the UI's image step slider
        self.sink.log_artifact(curves, "plots")
        if protocol is not None:
            key = self.score_key
            self.sink.log_artifact(plot_metric(history, key, self.work / f"{key}_curve.png"), "plots")

    def iteration(self, epoch: int, step: int, stats) -> None:
        """train.log_every: rank 0's latest values (not averaged over ranks or batches: the
        epoch line is that), as a log line and as MLflow's iter/<name> at the global step."""
        values = {k: v for k in ITER_KEYS if (v := stats.last(k)) is not None}
        log.info("epoch %d step %d: %s", epoch, step, " ".join(f"{k}={v:.4g}" for k, v in values.items()))
        if self.sink and epoch > self.logged_through:
            self.sink.log_metrics({f"iter/{k}": v for k, v in values.items()}, step=step)

    def diverged(self, msg: str) -> None:
        if self.sink:
            self.sink.set_tags({"ganbench.status": "diverged", "ganbench.error": msg})

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


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
