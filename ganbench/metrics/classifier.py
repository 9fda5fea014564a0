"""Classifier backbones: a small CNN trained on the labelled dataset itself.

Why: offline there are no Inception weights, and for 8-28 px digits an ImageNet network
is a poor judge anyway. A CNN trained on the real data gives features that separate what
matters there (the "FID with a domain classifier" used for MNIST-scale GANs). Numbers are
comparable only between runs using the same backbone (name + weights hash), never with
published Inception FIDs.

Trained once per (dataset config, architecture, recipe), deterministically, and cached as
a state_dict plus its held-out accuracy. Input: the data's own resolution and channels.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.atomic import atomic_path
from ganbench.config import DataConfig
from ganbench.data.base import to_model_range
from ganbench.data.datasets import parse_name
from ganbench.errors import ConfigError, DataError
from ganbench.metrics.backbones import Backbone
from ganbench.metrics.real_images import iter_images, load_source, source_labels

log = logging.getLogger("ganbench.metrics")

ARCH = "cnn-c32s(1|2 from 24px)-c64s2-c128s2-pool4-fc128-standardized-v2"
FEATURE_DIM = 128
SPLIT_SETS = ("mnist", "fashion-mnist", "cifar10")  # sets with a train/test split
_warned: set[str] = set()  # say "trained on test instead" once per process


@dataclass(frozen=True)
class Recipe:
    steps: int = 500  # Adam steps of `batch` images: ~3.5 epochs of a 9k-image set, seconds on CPU
    batch: int = 64
    lr: float = 1e-3
    seed: int = 0
    heldout: float = 0.1  # fraction kept out to report accuracy
    max_images: int = 20_000  # caps CPU time (and decoding) on large sets


class UnlabelledDataError(ConfigError):
    """The dataset has no class labels, so no classifier backbone can be trained on it."""


class SmallCNN(nn.Module):
    """3 conv blocks -> adaptive 4x4 pool -> 128-d penultimate layer (the features) -> K logits.
    The adaptive pool lets one architecture serve 8 px digits to 64 px folders; from 24 px
    on, the first conv strides by 2, which makes it ~4x cheaper on CPU at no cost in accuracy."""

    def __init__(self, channels: int, num_classes: int, resolution: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, 2 if resolution >= 24 else 1, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.fc = nn.Linear(128 * 16, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        # Per-dimension mean/std of the training images' features, set after training.
        self.register_buffer("feat_mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("feat_std", torch.ones(FEATURE_DIM))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (standardised features, logits). Features are taken before the ReLU (no dead,
        all-zero dimensions: the covariance stays full rank) and standardised with the
        training set's statistics: raw, they share a large common offset that makes every
        cosine distance tiny (memorisation would flag everything) and gives FID/KID an
        arbitrary scale."""
        f = self.fc(self.body(x))
        return (f - self.feat_mean) / self.feat_std, self.head(F.relu(f))


def classifier_name(data_cfg: DataConfig) -> str:
    """'mnist' -> 'mnistcnn', 'fashion-mnist' -> 'fashionmnistcnn', 'folder:/x' -> 'foldercnn'."""
    return parse_name(data_cfg.name)[0].replace("-", "").replace("_", "") + "cnn"


def state_hash(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def default_cache_dir(configured: Optional[str] = None) -> Path:
    return Path(configured or os.environ.get("GANBENCH_CACHE") or "~/.cache/ganbench").expanduser()


def _train_config(data_cfg: DataConfig, split: str) -> DataConfig:
    # Labels are needed even when the GAN ignores them; flips would blur the held-out score.
    return replace(data_cfg, split=split, use_labels=True, hflip=False, vflip=False)


def _cache_path(cache_dir: Path, cfg: DataConfig, recipe: Recipe) -> Path:
    data = {k: getattr(cfg, k) for k in ("name", "split", "resolution", "channels", "on_bad_file", "resize_mode",
                                         "label_pattern")}
    if parse_name(cfg.name)[0] not in SPLIT_SETS:
        data["split"] = None  # digits and folders ignore data.split: one net for both values
    ident = {"data": data,
             "root": str(Path(cfg.root).expanduser().resolve()) if cfg.root else None,
             "arch": ARCH, "recipe": asdict(recipe)}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / "backbones" / f"{classifier_name(cfg)}-{digest}.pt"


def train_classifier(cfg: DataConfig, recipe: Recipe) -> dict:
    """-> {'state_dict', 'accuracy', 'num_classes', 'n_train', 'n_heldout'}; deterministic."""
    source = load_source(cfg)
    k = source.num_classes
    if k < 2:
        raise UnlabelledDataError(f"dataset {cfg.name} has no class labels ({k} classes), so no "
                                  "classifier backbone can be trained on it")
    rng = np.random.default_rng(recipe.seed)
    idx = np.sort(rng.permutation(source.num_images)[: recipe.max_images])
    # Held as uint8 (4x smaller than float: 20k 64 px RGB images are 250 MB, not 1 GB).
    x = torch.cat([((b + 1) * 127.5).round_().to(torch.uint8) for b in iter_images(source, cfg, idx)])
    y = source_labels(source, idx)
    order = torch.as_tensor(rng.permutation(len(x)))
    n_held = max(1, int(round(recipe.heldout * len(x))))
    held, train = order[:n_held], order[n_held:]
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(recipe.seed)
        net = SmallCNN(cfg.channels, k, cfg.resolution)
        opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
        g = torch.Generator().manual_seed(recipe.seed)
        net.train()
        for _ in range(recipe.steps):
            b = train[torch.randint(len(train), (recipe.batch,), generator=g)]
            loss = F.cross_entropy(net(to_model_range(x[b]))[1], y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        raw = torch.cat([net.fc(net.body(to_model_range(x[train[i : i + 1000]])))
                         for i in range(0, len(train), 1000)])
        net.feat_mean.copy_(raw.mean(0))
        net.feat_std.copy_(raw.std(0).clamp_min(1e-6))
        pred = torch.cat([net(to_model_range(x[held[i : i + 1000]]))[1].argmax(1) for i in range(0, n_held, 1000)])
    acc = float((pred == y[held]).float().mean())
    return {"state_dict": net.state_dict(), "accuracy": acc, "num_classes": k,
            "n_train": len(train), "n_heldout": n_held}


class ClassifierBackbone(Backbone):
    resize = "none (the dataset's own resolution and channels)"
    batch_size = 500

    def __init__(self, name: str, saved: dict, cfg: DataConfig, device: torch.device | str = "cpu"):
        self.name = name
        self.dim = FEATURE_DIM
        self.num_classes = int(saved["num_classes"])
        self.accuracy = float(saved["accuracy"])
        self.trained_on = f"{cfg.name} {cfg.split}" if parse_name(cfg.name)[0] in SPLIT_SETS else cfg.name
        self.n_train, self.n_heldout = int(saved["n_train"]), int(saved["n_heldout"])
        self.input_shape = (cfg.channels, cfg.resolution, cfg.resolution)
        self.data_cfg = cfg
        net = SmallCNN(cfg.channels, self.num_classes, cfg.resolution)
        net.load_state_dict(saved["state_dict"])
        self.weights_hash = state_hash(net.state_dict())
        super().__init__(net, device)

    def _forward(self, x):
        return self.net(x)

    def describe(self) -> dict:
        return {**super().describe(), "backbone_trained_on": self.trained_on,
                "backbone_heldout_accuracy": round(self.accuracy, 4), "backbone_arch": ARCH}


def _load_or_train(cfg: DataConfig, cache_dir: Path, recipe: Recipe) -> dict:
    path = _cache_path(cache_dir, cfg, recipe)
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated/foreign file: retrain rather than trust it
            log.warning("ignoring unreadable backbone cache %s (%s: %s); retraining", path, type(e).__name__, e)
    t0 = time.perf_counter()
    saved = train_classifier(cfg, recipe)
    log.info("trained %s on %s (%d images): held-out accuracy %.2f%% on %d images, %.1fs; cached at %s",
             classifier_name(cfg), cfg.name, saved["n_train"], 100 * saved["accuracy"], saved["n_heldout"],
             time.perf_counter() - t0, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # ranks racing to train the same net never see half a file
        torch.save(saved, tmp)
    return saved


def classifier_backbone(data_cfg: DataConfig, cache_dir: Optional[str | Path] = None,
                        device: torch.device | str = "cpu", recipe: Recipe = Recipe()) -> ClassifierBackbone:
    """The CNN for data_cfg's dataset, trained on first use. Sets with a train/test split
    train on `train`; when only `test` can be read (offline), on `test`, with a warning."""
    cache = default_cache_dir(str(cache_dir) if cache_dir else None)
    name = classifier_name(data_cfg)
    splits = ["train", "test"] if parse_name(data_cfg.name)[0] in SPLIT_SETS else [data_cfg.split]
    first_error: Optional[DataError] = None
    for split in splits:
        cfg = _train_config(data_cfg, split)
        try:
            saved = _load_or_train(cfg, cache, recipe)
        except DataError as e:
            first_error = first_error or e
            continue
        if split != splits[0] and name not in _warned:
            _warned.add(name)
            log.warning("backbone %s: the %s train split is not readable (%s); trained on its test split "
                        "instead (recorded as backbone_trained_on)", name, data_cfg.name, first_error)
        return ClassifierBackbone(name, saved, cfg, device)
    assert first_error is not None
    raise first_error
