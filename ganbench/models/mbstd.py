"""Minibatch standard deviation (Karras et al. 2018, ProGAN; kept in StyleGAN2's D): one
extra feature map that holds how much a group of images differs from each other. A D that
sees a batch's variety can tell a G that collapsed onto a few modes from the data, so G is
pushed to spread out (the `mbstd` layer of a D description, or model.d_mbstd)."""
from __future__ import annotations

import math

import torch
from torch import nn


class MinibatchStd(nn.Module):
    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        # Groups of g images, image i in group i % (n / g), as StyleGAN2. gcd: a batch that g
        # does not divide (a last short batch) gets smaller groups instead of an error.
        g = math.gcd(n, self.group)
        y = x.reshape(g, -1, c, h, w)
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()  # std over each group, per feature
        y = y.mean(dim=(1, 2, 3))  # one number per group
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group={self.group}"
