"""Feature networks ("backbones") behind FID/KID, and the BACKBONES registry.

A metric is only meaningful together with its backbone, so every backbone carries what
the protocol must record: its name (part of every metric name), a hash of its weights,
and how images are resized and quantised on the way in.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ganbench.config import DataConfig, EvalConfig
from ganbench.errors import ConfigError
from ganbench.registry import Registry


def quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> the nearest of the 256 levels an 8-bit image file can hold.
    Real images come from 8-bit files; generated ones would otherwise carry sub-level
    detail the real ones cannot, and pytorch-fid itself only ever sees saved PNGs."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round_().div_(127.5).sub_(1)


class Backbone:
    name: str = "backbone"
    dim: int = 0
    weights_hash: str = ""
    resize: str = "none"
    quantize: str = "uint8"
    num_classes: int = 0  # > 0: a classifier, probs() works
    choice: str = "requested"  # or why `auto` picked it; recorded in the protocol
    batch_size: int = 256
    input_shape: Optional[tuple[int, int, int]] = None  # (C, H, W) it requires; None = any

    def __init__(self, net: nn.Module, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval().requires_grad_(False)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """One batch in [-1, 1] on self.device -> (features (B, dim), logits (B, K) or None)."""
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4:
            raise ConfigError(f"backbone {self.name} takes (B, C, H, W) images, got shape {tuple(x.shape)}")
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ConfigError(f"backbone {self.name} was trained on {self.input_shape} (C, H, W) images, got "
                              f"{tuple(x.shape[1:])}; generate/compare images at the dataset's resolution and channels")

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(B, C, H, W) in [-1, 1] -> (features float32 CPU (B, dim), probs float32 CPU (B, K) or None)."""
        self.check_input(x)
        feats, probs = [], []
        for i in range(0, x.shape[0], self.batch_size):
            xb = quantize_uint8(x[i : i + self.batch_size].to(self.device, torch.float32))
            f, logits = self._forward(xb)
            feats.append(f.float().cpu())
            if logits is not None:
                probs.append(logits.float().softmax(1).cpu())
        f = torch.cat(feats) if feats else torch.empty(0, self.dim)
        return f, (torch.cat(probs) if probs else None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)[0]

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        if not self.num_classes:
            raise ConfigError(f"backbone {self.name} is not a classifier: it has no class probabilities")
        return self.embed(x)[1]

    def describe(self) -> dict:
        """The backbone's part of a metric's protocol (flat, JSON-able)."""
        return {"backbone": self.name, "weights_hash": self.weights_hash, "feature_dim": self.dim,
                "resize": self.resize, "quantize": self.quantize, "backbone_choice": self.choice}


# name -> factory(eval_cfg, data_cfg or None, device) -> Backbone
BackboneFactory = Callable[[EvalConfig, Optional[DataConfig], torch.device], Backbone]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")


def embed_batches(backbone: Backbone, batches) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Run an iterable of image batches through the backbone -> (features, probs or None)."""
    feats, probs = [], []
    for x in batches:
        f, p = backbone.embed(x)
        feats.append(f)
        if p is not None:
            probs.append(p)
    f = torch.cat(feats) if feats else torch.empty(0, backbone.dim)
    if backbone.num_classes:
        return f, torch.cat(probs) if probs else torch.empty(0, backbone.num_classes)
    return f, None
