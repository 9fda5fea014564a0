"""`OnnxSampler.sample(n, seed, labels, truncation) -> np.ndarray`: the whole model side of
serving, testable without HTTP or Ray (design practice 10: routes only validate and hand over).

Inputs come from the one noise recipe (ganbench/noise.py, numpy only, also named in the
model's metadata), never from the caller: the same seed gives the same bytes on any replica,
and the same images as `ganbench sample --seed` on the checkpoint."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ganbench import noise
from ganbench.errors import ConfigError, GanbenchError

log = logging.getLogger("ganbench.serve")
REQUIRED = ("latent_dim", "image_shape", "num_classes", "conditional")


class SampleError(GanbenchError):
    """A request this model cannot answer (bad n or labels): the client's to fix (HTTP 422)."""


@dataclass(frozen=True)
class Job:
    """One request's inputs, ready for onnxruntime; many jobs can share one batched call."""
    z: np.ndarray  # float32 (n, latent_dim)
    labels: Optional[np.ndarray]  # int64 (n,) for conditional models

    @property
    def n(self) -> int:
        return len(self.z)


def fetch_model(model: str, tracking_uri: Optional[str] = None) -> Path:
    """A local path, or an MLflow URI (models:/NAME/VERSION, models:/NAME@ALIAS, runs:/ID/...)
    downloaded here from the store at `tracking_uri` (default $MLFLOW_TRACKING_URI)."""
    if ":/" in model and not Path(model).exists():
        from serve.registry import download

        return download(model, tracking_uri)
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(f"no ONNX model at {model} (export one with `ganbench export ... --out FILE.onnx`)")
    return path


def session_metadata(session) -> dict:
    """The model's metadata from the onnxruntime session already loaded (no second parse).
    ganbench.export imports lazily, so this does not import torch: a replica that did would
    take seconds longer to start (so to recover after a crash) and hundreds of MB more."""
    from ganbench.export.metadata import decode_metadata

    return decode_metadata(session.get_modelmeta().custom_metadata_map.items())


def pick_providers(gpu: bool) -> tuple[list[str], Optional[str]]:
    """CUDA only when a GPU was asked for and this onnxruntime build has it; say why not."""
    import onnxruntime as ort

    if not gpu:
        return ["CPUExecutionProvider"], None
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"], None
    note = "GPU requested but this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu): using CPU"
    log.warning(note)
    return ["CPUExecutionProvider"], note


class OnnxSampler:
    def __init__(self, model: str | Path, *, max_n: int = 256, gpu: bool = False, threads: int = 0,
                 tracking_uri: Optional[str] = None):
        import onnxruntime as ort

        self.source = str(model)
        self.path = fetch_model(str(model), tracking_uri)
        providers, self.provider_note = pick_providers(gpu)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), opts, providers=providers)
        self.metadata = session_metadata(self.session)
        missing = [k for k in REQUIRED if k not in self.metadata]
        if missing:
            raise ConfigError(f"{self.path} lacks metadata {missing}: export it with `ganbench export`")
        self.latent_dim = int(self.metadata["latent_dim"])
        self.num_classes = int(self.metadata["num_classes"])
        self.conditional = bool(self.metadata["conditional"])
        self.n_cont = int(self.metadata.get("n_cont") or 0)  # InfoGAN codes: not truncated
        self.max_n = max_n
        # What onnxruntime actually runs on (it may drop a provider it cannot start).
        self.provider = self.session.get_providers()[0]

    def prepare(self, n: int, seed: int, labels: Optional[Sequence[int]] = None, truncation: float = 1.0) -> Job:
        """Validate a request and draw its inputs. labels: n class ids, or one id for all;
        none: the classes in turn (0, 1, ..., K-1, 0, ...), as `ganbench sample` draws them."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= self.max_n:
            raise SampleError(f"n must be an integer in 1..{self.max_n}, got {n!r}")
        if labels is not None and not self.conditional:
            raise SampleError("this model is unconditional: do not send labels")
        try:
            z = noise.latent(n, self.latent_dim, seed, truncation, self.n_cont)
            return Job(z, noise.class_ids(n, self.num_classes if self.conditional else 0, labels))
        except ConfigError as e:  # the client's input: a 422, not a server error
            raise SampleError(str(e)) from None

    def run(self, jobs: Sequence[Job]) -> list[np.ndarray]:
        """Images for several jobs in one onnxruntime call, split back per job."""
        feeds = {"z": np.concatenate([j.z for j in jobs])}
        if self.conditional:
            feeds["labels"] = np.concatenate([j.labels for j in jobs])
        images = self.session.run(["images"], feeds)[0]
        return np.split(images, np.cumsum([j.n for j in jobs])[:-1])

    def sample(self, n: int, seed: int, labels: Optional[Sequence[int]] = None,
               truncation: float = 1.0) -> np.ndarray:
        """float32 (n, C, H, W) in [-1, 1]; the same (n, seed, labels, truncation) give the same bytes."""
        return self.run([self.prepare(n, seed, labels, truncation)])[0]

    def describe(self) -> dict:
        return {**self.metadata, "model_uri": self.source, "model_path": str(self.path), "provider": self.provider,
                "providers": self.session.get_providers(), "provider_note": self.provider_note,
                "max_n": self.max_n}
