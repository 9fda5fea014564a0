"""The uniqueness check as something to look at: a PNG grid, one row per generated sample
(the closest to a training image first), the sample followed by its k nearest training
images by pixel MSE; and a JSON sidecar with the distances, the training images' names,
and the whole distance distribution of each space (generated vs held-out real)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torchvision.utils import make_grid, save_image

from ganbench.metrics.nearest import PixelMatch, Space
from ganbench.metrics.real_images import ImageSet

PADDING = 2
LINE_RGB = (1.0, 0.55, 0.0)  # orange: the strip between each sample and its neighbours


def closest_first(match: PixelMatch, rows: int) -> np.ndarray:
    """Sample indices, nearest MSE first: the rows worth looking at."""
    return np.argsort(match.mse[:, 0], kind="stable")[:rows]


def save_nearest_grid(gen: torch.Tensor, train: ImageSet, match: PixelMatch, spaces: Sequence[Space],
                      rows: int, path: str | Path) -> tuple[Path, Path]:
    """-> (grid.png, grid.json). The PNG is (1 + k) columns by min(rows, n) rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = closest_first(match, rows)
    k = match.index.shape[1]
    neighbours = train.take(match.index[order].reshape(-1)).view(len(order), k, *gen.shape[1:])
    tiles = torch.cat([gen[torch.as_tensor(order)].float()[:, None], neighbours.float()], dim=1)
    grid = make_grid(tiles.reshape(-1, *gen.shape[1:]), nrow=1 + k, normalize=True, value_range=(-1, 1),
                     padding=PADDING)  # RGB even for grayscale images
    x = PADDING + gen.shape[-1]  # the padding strip right of the samples' column
    grid[:, :, x:x + PADDING] = torch.tensor(LINE_RGB)[:, None, None]
    save_image(grid, path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(_sidecar(order, train, match, spaces), indent=1))
    return path, sidecar


def _sidecar(order: np.ndarray, train: ImageSet, match: PixelMatch, spaces: Sequence[Space]) -> dict:
    rows = [{"sample": int(i),
             "nearest": {s.name: float(s.gen[i]) for s in spaces},
             "too_close": [s.name for s in spaces if s.flagged[i]],
             "neighbours": [{"train": train.name(int(p)), "position": int(p), "mse": float(m), "ssim": float(v)}
                            for p, m, v in zip(match.index[i], match.mse[i], match.ssim[i])]}
            for i in order]
    return {"layout": "one row per sample, closest to a training image first: the sample, an orange line, "
                      f"then its {match.index.shape[1]} nearest training images by pixel MSE",
            "training_set": train.what,
            "rows": rows,
            "spaces": {s.name: {"threshold": s.threshold, "quantile": s.quantile, "too_close": s.too_close,
                                "searched": s.searched, "generated": s.gen.tolist(), "held_out_real": s.real.tolist()}
                       for s in spaces}}
