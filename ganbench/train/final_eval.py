"""The final evaluation: once, after training, on the best checkpoint, under the
publishable protocol of `final_eval.*` (Inception by default).

Two tiers, because Inception on a CPU runs at a few images per second: the evaluation
during training (`eval.*`) uses a fast proxy where one exists and picks the best
checkpoint; this one gives the number to set beside published ones. Its metrics go to
MLflow as `final/<name>` (logged at the best checkpoint's epoch) with the protocol in
`ganbench.final_eval.*` tags, so the two tiers are never mistaken for each other.

It also runs the uniqueness check (metrics/nearest.py: `nn..._too_close`), whose grid of
each sample beside its nearest training images comes back as bytes in the record: on a Ray
GPU task the file is written on the task's node, which the driver may not share a disk with.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ganbench.config import EvalConfig, RunConfig
from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.train")

RUN_CHOICES = ("always", "gpu", "never")
PREFIX = "final/"
ARTIFACT_DIR = "final_eval"
# The uniqueness check's files, by their protocol key: logged to the run under ARTIFACT_DIR.
NEAREST_FILES = {"nearest_grid": "nearest.png", "nearest_grid_sidecar": "nearest.json"}


@dataclass(frozen=True)
class EvalFile:
    """A file the evaluation made, carried as bytes (it may have been made on another node)."""
    name: str  # the file name under ARTIFACT_DIR
    data: bytes


@dataclass(frozen=True)
class FinalEval:
    metrics: dict[str, float]
    protocol: dict
    checkpoint: str
    files: tuple[EvalFile, ...] = field(default=(), repr=False)


def final_eval_config(cfg: RunConfig) -> EvalConfig:
    """final_eval.* on top of eval.* (which supplies the protocol details they share)."""
    f = cfg.final_eval
    return replace(cfg.eval, every=0, backbone=f.backbone, n_gen=f.n_gen, n_real=f.n_real, real_split=f.real_split)


def plan_final_eval(cfg: RunConfig, gpu: bool) -> bool:
    """Whether the final evaluation runs; checked before training, so an impossible
    protocol fails now and not after hours of training. Says once why it is skipped."""
    f = cfg.final_eval
    if f.run not in RUN_CHOICES:
        raise ConfigError(f"final_eval.run must be one of: {', '.join(RUN_CHOICES)} (got {f.run!r})")
    if f.run == "gpu" and not gpu:
        log.info("final evaluation (%s, %d generated vs %d real) skipped: final_eval.run=gpu and this run is on "
                 "CPU, where Inception takes minutes per 1k images. Run it with --set final_eval.run=always, or "
                 "later with `ganbench fid CHECKPOINT ...`", f.backbone, f.n_gen, f.n_real)
    if f.run == "never" or (f.run == "gpu" and not gpu):
        return False
    _check_counts(cfg)
    return True


def _check_counts(cfg: RunConfig) -> None:
    from ganbench.metrics import check_eval_config
    from ganbench.metrics.real_images import load_source
    from ganbench.metrics.stats_cache import reference_config

    ecfg = final_eval_config(cfg)
    check_eval_config(ecfg)
    ref = reference_config(cfg.data, ecfg.real_split)
    total = load_source(ref, verbose=False).num_images
    if ecfg.n_real > total:
        raise ConfigError(f"final_eval.n_real={ecfg.n_real} but {ref.name} ({ref.split} split) holds {total} images; "
                          f"use final_eval.n_real <= {total} (0 = all)")


def evaluate_checkpoint(cfg: RunConfig, checkpoint: str, device: str = "cpu") -> FinalEval:
    """The final protocol's metrics of `checkpoint`'s generator (eval-mode BatchNorm)."""
    from ganbench.metrics import Evaluator
    from ganbench.metrics.nearest import NearestConfig
    from ganbench.sample import load_generator

    dev = torch.device(device)
    _, models = load_generator(checkpoint)
    models.G.to(dev)
    with tempfile.TemporaryDirectory(prefix="ganbench-final-eval-") as tmp:
        grid = Path(tmp) / NEAREST_FILES["nearest_grid"]
        ev = Evaluator(final_eval_config(cfg), cfg.data, dev, nearest=NearestConfig(grid=str(grid)))
        metrics, protocol = ev.evaluate(models)
        protocol, files = _take_files(protocol)
    protocol = {**protocol, "tier": "final", "checkpoint": str(checkpoint), "generator_weights": models.weights}
    log.info("final evaluation of %s: %s", Path(str(checkpoint)).name,
             " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if not k.endswith(("_std", "_min", "_p5"))))
    return FinalEval(metrics, protocol, str(checkpoint), files)


def _take_files(protocol: dict) -> tuple[dict, tuple[EvalFile, ...]]:
    """The uniqueness files' bytes, and the protocol naming them by their place in the run's
    artifacts (the temporary paths it holds are gone once the evaluation returns)."""
    files, renamed = [], {}
    for key, name in NEAREST_FILES.items():
        if key in protocol:
            files.append(EvalFile(name, Path(protocol[key]).read_bytes()))
            renamed[key] = f"{ARTIFACT_DIR}/{name}"
    return {**protocol, **renamed}, tuple(files)


def run_final_eval(cfg: RunConfig, checkpoint: str, workers: int, gpu: bool) -> FinalEval:
    """In this process, or, for a Ray run on GPUs, as a Ray task holding one GPU (the
    driver of `ray job submit` usually has none)."""
    if workers > 0 and gpu:
        import ray

        task = ray.remote(num_gpus=1)(evaluate_checkpoint)
        return ray.get(task.remote(cfg, checkpoint, "cuda"))
    return evaluate_checkpoint(cfg, checkpoint, "cuda" if gpu else "cpu")


def write_files(result: FinalEval, folder: Path) -> list[Path]:
    """The record's files written into `folder` (for the sink, which logs files)."""
    for f in result.files:
        (folder / f.name).write_bytes(f.data)
    return [folder / f.name for f in result.files]


def tracking_payload(result: FinalEval) -> tuple[dict[str, float], dict]:
    """(metrics, tags) for MLflow: `final/` names and `ganbench.final_eval.` tags."""
    return ({PREFIX + k: v for k, v in result.metrics.items()},
            {f"ganbench.final_eval.{k}": v for k, v in result.protocol.items()})
