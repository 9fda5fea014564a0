"""The leaderboard's figures as PNG files (matplotlib, Agg): the metric's spread per cell,
the per-epoch metric of every run, sample grids side by side, score against compute,
proxy against final metric, and the best score against search budget."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from ganbench.bench.leaderboard import Leaderboard


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(cells):
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    return {c: cmap(i % 10) for i, c in enumerate(cells)}


def _direction(lb: Leaderboard) -> str:
    return "lower is better" if lb.lower_better else "higher is better"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def distribution(lb: Leaderboard, folder: Path) -> Optional[Path]:
    plt = _plt()
    rows = [r for r in lb.rows if r.n_ok]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(rows) + 2), 3.8))
    data = [[x.value for x in lb.runs if x.cell == r.cell and x.ok] for r in rows]
    ax.boxplot(data, widths=0.5, showfliers=False)
    colors = _colors([r.cell for r in lb.rows])
    for i, (r, vals) in enumerate(zip(rows, data), start=1):
        xs = [i + 0.08 * (j - (len(vals) - 1) / 2) for j in range(len(vals))]
        ax.scatter(xs, vals, color=colors[r.cell], zorder=3, s=22)
        iv = r.interval
        if math.isfinite(iv.low):
            ax.plot([i + 0.33, i + 0.33], [iv.low, iv.high], color="black", lw=1)
    ax.set_xticks(range(1, len(rows) + 1), [r.cell for r in rows], rotation=20)
    ax.set_ylabel(lb.metric)
    ax.set_title(f"{lb.metric} over seeds\n({_direction(lb)}; bar: 95% interval)", fontsize=9)
    return _save(fig, folder / "distribution.png")


def curves(lb: Leaderboard, folder: Path) -> Optional[Path]:
    runs = [r for r in lb.runs if any(math.isfinite(p.value) for p in r.curve)]
    if not runs:
        return None
    plt = _plt()
    colors = _colors([r.cell for r in lb.rows])
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    seen = set()
    for r in runs:
        pts = [(p.epoch, p.value) for p in r.curve if math.isfinite(p.value)]
        ax.plot(*zip(*pts), marker="o", ms=3, lw=1, color=colors.get(r.cell, "gray"),
                label=None if r.cell in seen else r.cell)
        seen.add(r.cell)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(lb.train_metric or "")
    ax.set_title(f"{lb.train_metric} during training, every run", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, folder / "curves.png")


def samples(grids: dict[str, Path], folder: Path) -> Optional[Path]:
    if not grids:
        return None
    plt = _plt()
    from PIL import Image

    fig, axes = plt.subplots(1, len(grids), figsize=(2.6 * len(grids), 2.9), squeeze=False)
    for ax, (cell, path) in zip(axes[0], grids.items()):
        ax.imshow(Image.open(path).convert("RGB"))
        ax.set_title(cell, fontsize=9)
        ax.axis("off")
    return _save(fig, folder / "samples.png")


def efficiency(lb: Leaderboard, folder: Path) -> Optional[Path]:
    runs = [r for r in lb.runs if r.ok]
    if not runs:
        return None
    use_gpu = any(r.gpu_s > 0 for r in runs)
    use_cpu = not use_gpu and all(math.isfinite(r.cpu_s) for r in runs)
    label = "GPU-seconds per run" if use_gpu else ("CPU-seconds per run" if use_cpu else "wall seconds per run")
    plt = _plt()
    colors = _colors([r.cell for r in lb.rows])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    seen = set()
    for r in runs:
        x = r.gpu_s if use_gpu else (r.cpu_s if use_cpu else r.wall_s)
        ax.scatter([x], [r.value], color=colors.get(r.cell, "gray"), s=26, label=None if r.cell in seen else r.cell)
        seen.add(r.cell)
    ax.set_xlabel(label)
    ax.set_ylabel(lb.metric)
    ax.set_title(f"score against compute ({_direction(lb)})", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, folder / "efficiency.png")


def proxy_vs_final(lb: Leaderboard, folder: Path) -> Optional[Path]:
    runs = [r for r in lb.runs if r.ok and r.train_value is not None and math.isfinite(r.train_value)]
    if not runs or not lb.train_metric or lb.train_metric == lb.metric:
        return None
    plt = _plt()
    colors = _colors([r.cell for r in lb.rows])
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for r in runs:
        ax.scatter([r.train_value], [r.value], color=colors.get(r.cell, "gray"), s=26)
    rho = "n/a (fewer than 3 runs)" if lb.proxy_spearman is None else f"{lb.proxy_spearman:.2f}"
    ax.set_xlabel(f"{lb.train_metric} (during training, scored checkpoint)")
    ax.set_ylabel(lb.metric)
    ax.set_title(f"proxy against final metric: Spearman rho {rho}", fontsize=9)
    return _save(fig, folder / "proxy_vs_final.png")


def search_budget(lb: Leaderboard, folder: Path) -> Optional[Path]:
    rows = [r for r in lb.rows if r.search_curve]
    if not rows:
        return None
    plt = _plt()
    colors = _colors([r.cell for r in lb.rows])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for r in rows:
        ks = range(1, len(r.search_curve) + 1)
        ax.plot(ks, r.search_curve, marker="o", ms=3, color=colors[r.cell], label=r.cell)
    ax.set_xlabel("trials (search budget)")
    ax.set_ylabel(f"expected best {lb.train_metric}")
    ax.set_title("best score against search budget (exact, over trial orders)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, folder / "search_budget.png")
