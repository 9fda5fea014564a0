"""SSIM (Wang et al. 2004, "Image quality assessment: from error visibility to structural
similarity"), in torch, for pairs of images.

    SSIM(x, y) = mean over window positions p of
                 (2 mu_x mu_y + C1)(2 cov_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2))
    C1 = (K1 L)^2, C2 = (K2 L)^2, K1 = 0.01, K2 = 0.03, L = the data range

with the paper's 11x11 Gaussian window (sigma 1.5), 'valid' positions only (no padding, as
pytorch-msssim and torchmetrics), population (not sample) moments, channels averaged.
Images smaller than the window use a window as large as the image, so every image has at
least one position; the window used is part of the protocol (`describe`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

K1, K2 = 0.01, 0.03
WINDOW, SIGMA = 11, 1.5
DATA_RANGE = 2.0  # images in [-1, 1]


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    """(size, size) weights summing to 1."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def window_for(height: int, width: int) -> torch.Tensor:
    return gaussian_window(min(WINDOW, height, width), SIGMA)


def ssim(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor | None = None,
         data_range: float = DATA_RANGE) -> torch.Tensor:
    """(N, C, H, W) x (N, C, H, W) -> (N,) SSIM of each pair x[i], y[i] (1 for identical images)."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) batches of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    w = window_for(x.shape[2], x.shape[3]) if window is None else window
    c = x.shape[1]
    kernel = w.to(x.dtype).to(x.device).expand(c, 1, *w.shape)  # one filter per channel (groups=c)

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=c)

    mu_x, mu_y = filt(x), filt(y)
    var_x = filt(x * x) - mu_x**2
    var_y = filt(y * y) - mu_y**2
    cov = filt(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).flatten(1).mean(dim=1)


def describe(height: int, width: int) -> str:
    size = min(WINDOW, height, width)
    return (f"SSIM (Wang et al. 2004): Gaussian window {size}x{size}, sigma {SIGMA}, K1 {K1}, K2 {K2}, "
            f"data range {DATA_RANGE:g}, valid positions, channels averaged")
