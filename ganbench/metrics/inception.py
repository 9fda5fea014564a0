"""The `inception` backbone: pytorch-fid's FID Inception (pool3, 2048-d), from a local file.

Published FIDs use these exact weights (ported from TF's 2015-12-05 graph). They are never
in a wheel and the first-use download fails offline, so the file is looked for in a fixed
order and, if absent, the error says where to put it. There is no silent substitute.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Optional
from unittest import mock

import torch
from torch import nn

from ganbench.errors import ConfigError
from ganbench.metrics.backbones import Backbone

log = logging.getLogger("ganbench.metrics")

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
SHA256_PREFIX = "6726825d"  # pytorch-fid names the file after its sha256
ENV_VAR = "GANBENCH_FID_WEIGHTS"

_build_lock = threading.Lock()
_download_failed: dict[str, str] = {}  # hub path -> why: one offline attempt per process


class MissingWeightsError(ConfigError):
    """pytorch-fid's Inception weights could not be found or fetched."""


def hub_weights_path() -> Path:
    """Where torch.hub (and so pytorch-fid's own download) keeps the file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def missing_weights_message(looked: list[str], cause: str = "") -> str:
    hub = hub_weights_path()
    return "\n".join([
        f"FID Inception weights not found: the inception backbone needs pytorch-fid's {WEIGHTS_FILE}.",
        "Looked in, in order:", *[f"  {i}. {w}" for i, w in enumerate(looked, 1)],
        *([f"  ({cause})"] if cause else []),
        "To fix, on a machine with internet access download",
        f"  {WEIGHTS_URL}",
        f"check it: `sha256sum {WEIGHTS_FILE}` must print a hash starting with {SHA256_PREFIX} (as in its name),",
        "and put it at (the torch hub cache; $TORCH_HOME moves it)",
        f"  {hub}",
        f"or point to it: --set eval.fid_weights=PATH, or {ENV_VAR}=PATH.",
        "Without these weights, eval.backbone=auto uses a classifier trained on your labelled dataset "
        "(e.g. digitscnn, mnistcnn); its numbers are not comparable to published FIDs.",
    ])


def _try_download() -> Optional[str]:
    """pytorch-fid's own first-use download into the hub cache; -> None or why it failed."""
    hub = str(hub_weights_path())
    if hub in _download_failed:
        return _download_failed[hub]
    try:
        from pytorch_fid import inception as pfi

        pfi.load_state_dict_from_url(pfi.FID_WEIGHTS_URL, progress=False)
        return None
    except Exception as e:  # offline: URLError; proxies: HTTPError; either way say it
        _download_failed[hub] = f"pytorch-fid's download failed: {type(e).__name__}: {e}"
        return _download_failed[hub]


def find_fid_weights(configured: Optional[str] = None, download: bool = True) -> Path:
    """eval.fid_weights, then $GANBENCH_FID_WEIGHTS, then the hub cache, then pytorch-fid's
    download. A path the user named that does not exist is an error, not a reason to look
    elsewhere: they meant that file."""
    env = os.environ.get(ENV_VAR)
    for value, what in ((configured, "eval.fid_weights"), (env, f"${ENV_VAR}")):
        if value:
            p = Path(value).expanduser()
            if p.is_file():
                return p
            raise MissingWeightsError(missing_weights_message([f"{what}={value}: no such file"]))
    hub = hub_weights_path()
    looked = ["eval.fid_weights: not set", f"${ENV_VAR}: not set", f"torch hub cache: {hub} (missing)"]
    if hub.is_file():
        return hub
    cause = _try_download() if download else "download not attempted"
    if cause is None and hub.is_file():
        return hub
    looked.append(f"pytorch-fid download of {WEIGHTS_URL}: {cause or 'no file after download'}")
    raise MissingWeightsError(missing_weights_message(looked))


def fid_weights_available(configured: Optional[str] = None) -> bool:
    try:
        find_fid_weights(configured)
        return True
    except MissingWeightsError:
        return False


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fid_inception_arch() -> nn.Module:
    """pytorch_fid.inception.fid_inception_v3() without its download: the same torchvision
    base and the same FID-patched blocks (a test checks the two load the same state_dict)."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def build_fid_inception(weights: Optional[Path]) -> nn.Module:
    """pytorch-fid's InceptionV3([3]) (pool3; bilinear resize to 299; [0,1] -> [-1,1]) around
    our locally loaded net. weights=None keeps random init: only for tests and benchmarks."""
    from pytorch_fid import inception as pfi

    net = fid_inception_arch()
    if weights is not None:
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    # InceptionV3.__init__ calls the module-level fid_inception_v3(), which downloads;
    # hand it our net instead. The lock keeps the swap from leaking across threads.
    with _build_lock, mock.patch.object(pfi, "fid_inception_v3", lambda: net):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)


class InceptionBackbone(Backbone):
    name = "inception"
    dim = 2048
    resize = "bilinear to 299x299 (pytorch-fid InceptionV3, align_corners=False); gray repeated to RGB"
    batch_size = 50  # pytorch-fid's default

    def __init__(self, weights: Optional[Path], device: torch.device | str = "cpu"):
        if weights is None:
            self.weights_hash = "random-init"  # never for reported numbers
        else:
            digest = file_sha256(weights)
            if not digest.startswith(SHA256_PREFIX):
                raise ConfigError(f"{weights} is not pytorch-fid's FID Inception weights: its sha256 starts "
                                  f"with {digest[:8]}, expected {SHA256_PREFIX}. Re-download {WEIGHTS_URL}")
            self.weights_hash = digest[:12]
        self.weights_path = str(weights) if weights else None
        super().__init__(build_fid_inception(weights), device)

    def _forward(self, x):
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        pool3 = self.net((x + 1) / 2)[0]  # InceptionV3 expects [0, 1]
        return pool3.flatten(1), None

    def describe(self) -> dict:
        return {**super().describe(), "weights_file": self.weights_path or "random-init"}
