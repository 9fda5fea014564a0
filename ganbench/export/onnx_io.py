"""Generator -> ONNX, and the check that the file computes what torch computes.

The serving contract is `images = G(z[, labels])` with a dynamic batch axis: z float32
(N, latent_dim), labels int64 (N,) for conditional/InfoGAN generators, images float32
(N, C, H, W) clamped to [-1, 1], G in eval mode (BatchNorm running statistics, the mode
`ganbench sample` uses).

Exporter: torch 2.14's default, the torch.export-based one (`dynamo=True`); the TorchScript
exporter is deprecated. `external_data=False` keeps the weights inside the one file."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.external_data_helper import uses_external_data
from torch import nn

from ganbench import noise
from ganbench.errors import GanbenchError

# Parity batch sizes: 1 and an odd size other than the export example's prove the batch axis is dynamic.
PARITY_BATCHES = (1, 7)
EXAMPLE_BATCH = 4  # not 0 or 1: torch.export specialises those sizes


class ExportError(GanbenchError):
    """The export failed or the ONNX file disagrees with the torch generator."""


class ServingGenerator(nn.Module):
    def __init__(self, G: nn.Module, conditional: bool):
        super().__init__()
        self.G, self.conditional = G, conditional

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, labels if self.conditional else None).clamp(-1, 1)


def is_conditional(models) -> bool:
    return bool(models.conditional or models.info)


def export_onnx(models, path: Path) -> onnx.ModelProto:
    """Write G to `path` and return the loaded model (weights inline, no side file)."""
    cond = is_conditional(models)
    module = ServingGenerator(models.G, cond).eval()
    z = torch.randn(EXAMPLE_BATCH, models.latent_dim)
    args = (z, torch.arange(EXAMPLE_BATCH) % models.num_classes) if cond else (z,)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    shapes = {"z": {0: batch}, **({"labels": {0: batch}} if cond else {})}
    before = set(path.parent.iterdir()) if path.parent.is_dir() else set()
    try:
        with warnings.catch_warnings():  # z and labels share one batch axis; the exporter says so
            warnings.filterwarnings("ignore", message=".*shares the same shape constraints.*")
            torch.onnx.export(module, args, str(path), dynamo=True, external_data=False, dynamic_shapes=shapes,
                              input_names=["z", "labels"][: len(args)], output_names=["images"], verbose=False)
    except Exception as e:  # noqa: BLE001 - exporter errors are long; keep the gist
        raise ExportError(f"torch.onnx.export failed for {type(models.G).__name__}: {type(e).__name__}: {e}") from e
    side = sorted(str(p) for p in set(path.parent.iterdir()) - before - {path})
    model = onnx.load(str(path), load_external_data=False)
    if side or any(uses_external_data(t) for t in model.graph.initializer):
        raise ExportError(f"the exporter wrote weights outside {path}: {side}")
    return model


@torch.no_grad()
def max_abs_diff(models, model_bytes: bytes, seed: int = 0) -> float:
    """Largest |onnxruntime - torch| over PARITY_BATCHES, on the noise the server would draw."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    module = ServingGenerator(models.G, is_conditional(models)).eval()
    worst = 0.0
    for n in PARITY_BATCHES:
        z = noise.latent(n, models.latent_dim, seed)
        feeds = {"z": z}
        labels = None
        if module.conditional:
            feeds["labels"] = noise.class_ids(n, models.num_classes)
            labels = torch.from_numpy(feeds["labels"])
        ours = session.run(["images"], feeds)[0]
        ref = module(torch.from_numpy(z), labels).numpy()
        if ours.shape != ref.shape:
            raise ExportError(f"ONNX output shape {ours.shape} != torch {ref.shape} at batch {n}")
        worst = max(worst, float(np.abs(ours - ref).max()))
    return worst
