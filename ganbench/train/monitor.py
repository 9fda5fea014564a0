"""What a person looks at: the fixed-noise sample grid and the loss curves (PNG files),
the curves smoothed as TensorBoard smooths them."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torchvision.utils import save_image

from ganbench.errors import ConfigError


def save_grid(images: torch.Tensor, path: Path) -> Path:
    """images in [-1, 1], (N, C, H, W) -> one PNG grid, about square."""
    nrow = max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    save_image(images.float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


# Weight of the previous smoothed value per logged point, as TensorBoard's slider (whose
# default is 0.6). Curves here have one point per epoch, so a heavier weight (0.9, fine for
# per-step logs) would lag most of a short run behind.
SMOOTHING = 0.6


def ema(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start.

        last_i = weight * last_{i-1} + (1 - weight) * v_i,   last_{-1} = 0
        out_i  = last_i / (1 - weight ** (i + 1))

    Without the division the curve would start near 0 (the accumulator's zero start);
    with it the first point is v_0 and a constant stays that constant. Non-finite points
    stay as they are and are skipped by the average, so one NaN epoch leaves a gap and
    does not poison the rest of the curve."""
    if not 0 <= weight < 1:
        raise ConfigError(f"curve smoothing weight must be in [0, 1), got {weight}")
    out, last, norm = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = weight * last + (1 - weight) * v
        norm = weight * norm + (1 - weight)  # = 1 - weight ** (points so far)
        out.append(last / norm)
    return out


def _smoothed(ax, x: list, y: list[float], label: str, weight: float) -> None:
    """The raw curve faint, its EMA on top in the same colour."""
    (raw,) = ax.plot(x, y, marker="o", ms=2.5, alpha=0.3 if weight else 1.0)
    if weight:
        ax.plot(x, ema(y, weight), color=raw.get_color(), label=f"{label} (EMA {weight:g})")
    else:
        raw.set_label(label)


def plot_curves(history: list[dict], path: Path, title: str = "", smoothing: float = SMOOTHING) -> Path:
    """Loss curves (G and D) and D's outputs per epoch, from the per-epoch metric dicts:
    each raw curve faint with its debiased EMA (`smoothing`; 0 = raw curves only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        _smoothed(axes[0], epochs, [h.get(key, float("nan")) for h in history], label, smoothing)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("losses")
    axes[0].legend(fontsize=8)
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))"), ("d_acc_real", "D acc real"), ("d_acc_fake", "D acc fake")):
        _smoothed(axes[1], epochs, [h.get(key, float("nan")) for h in history], label, smoothing)
    axes[1].set_xlabel("epoch")
    axes[1].set_title("discriminator")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_metric(history: list[dict], key: str, path: Path) -> Path:
    """One evaluation metric (e.g. fid2k_digitscnn) over epochs, best point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(h["epoch"], h[key]) for h in history if key in h]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    if pts:
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o", ms=4)
        best = min(pts, key=lambda p: p[1])
        ax.scatter([best[0]], [best[1]], s=80, facecolors="none", edgecolors="red", label=f"best {best[1]:.3g} @ {best[0]}")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key} (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
