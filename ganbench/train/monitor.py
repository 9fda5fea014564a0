"""What a person looks at: the fixed-noise sample grid and the loss curves (PNG files)."""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image


def save_grid(images: torch.Tensor, path: Path) -> Path:
    """images in [-1, 1], (N, C, H, W) -> one PNG grid, about square."""
    nrow = max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    save_image(images.float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


def plot_curves(history: list[dict], path: Path, title: str = "") -> Path:
    """Loss curves (G and D) and D's outputs per epoch, from the per-epoch metric dicts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        axes[0].plot(epochs, [h.get(key, float("nan")) for h in history], marker="o", ms=3, label=label)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("losses")
    axes[0].legend()
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))"), ("d_acc_real", "D acc real"), ("d_acc_fake", "D acc fake")):
        axes[1].plot(epochs, [h.get(key, float("nan")) for h in history], marker="o", ms=3, label=label)
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
