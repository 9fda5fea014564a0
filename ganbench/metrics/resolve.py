"""Which backbone a run gets: the registry entries and the `auto` rule.

auto = the FID Inception when its weights are on this machine (comparable with published
numbers), otherwise the dataset's own classifier, with one warning saying so; the choice is
also recorded in every protocol. Unlabelled data without the weights has no fallback and
fails, naming both ways out.
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
from ganbench.metrics.inception import ENV_VAR, InceptionBackbone, MissingWeightsError, find_fid_weights, hub_weights_path

log = logging.getLogger("ganbench.metrics")
_warned: set[str] = set()


def _inception(eval_cfg: EvalConfig, data_cfg: Optional[DataConfig], device: torch.device) -> Backbone:
    return InceptionBackbone(find_fid_weights(eval_cfg.fid_weights), device)


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


BACKBONES.add("inception", _inception, "pytorch-fid's FID Inception v3, pool3 2048-d (needs its weights file)")
for _ds in ("digits", "mnist", "fashion-mnist", "cifar10", "folder"):
    _classifier_entry(_ds)


def _no_backbone(data_cfg: Optional[DataConfig], why: str) -> ConfigError:
    return ConfigError(
        f"no backbone for eval.backbone=auto: the FID Inception weights are not on this machine and {why}. "
        f"Either (1) put pytorch-fid's weights at {hub_weights_path()} (or --set eval.fid_weights=PATH; "
        f"`--set eval.backbone=inception` prints the full instructions), or (2) evaluate with labelled data "
        f"(class subfolders for folder:PATH) so a classifier backbone can be trained on it"
    )


def resolve_backbone(eval_cfg: EvalConfig, data_cfg: Optional[DataConfig] = None,
                     device: torch.device | str = "cpu") -> Backbone:
    device = torch.device(device)
    name = eval_cfg.backbone
    if name != "auto":
        if name not in BACKBONES:
            raise ConfigError(f"unknown backbone {name!r}; valid backbones: auto, {', '.join(BACKBONES.names())}")
        bb = BACKBONES.get(name)(eval_cfg, data_cfg, device)
        bb.choice = "requested"
        return bb
    try:
        weights = find_fid_weights(eval_cfg.fid_weights)
    except MissingWeightsError:
        if eval_cfg.fid_weights or os.environ.get(ENV_VAR):
            raise  # the user named a file that is not there: a mistake to report, not to route around
        if data_cfg is None:
            raise _no_backbone(None, "no dataset was given to train a classifier backbone on") from None
        try:
            bb = classifier_backbone(data_cfg, eval_cfg.cache_dir, device)
        except UnlabelledDataError:
            raise _no_backbone(data_cfg, f"the dataset {data_cfg.name} has no class labels") from None
        bb.choice = "auto: FID Inception weights not found"
        if bb.name not in _warned:
            _warned.add(bb.name)
            log.warning("FID Inception weights not found (%s); evaluating with backbone %s instead, a CNN trained on "
                        "%s (held-out accuracy %.1f%%). Its FID/KID numbers are NOT comparable to published FIDs; "
                        "for those, install the weights (see `--set eval.backbone=inception`).",
                        hub_weights_path(), bb.name, bb.trained_on, 100 * bb.accuracy)
        return bb
    bb = InceptionBackbone(weights, device)
    bb.choice = "auto: FID Inception weights found"
    return bb
