"""Shared fixtures. Every test runs in its own temporary working directory, so the default
MLflow store (./mlflow.db) and run folders never touch the repository."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"

os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Backbones and real statistics are cached once per test session, never in ~/.cache."""
    os.environ["GANBENCH_CACHE"] = str(tmp_path_factory.mktemp("ganbench-cache"))
    yield


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield


@pytest.fixture(scope="session")
def metrics_cache(tmp_path_factory):
    """One cache dir for the metrics tests, so the digits CNN is trained once per session."""
    path = tmp_path_factory.getbasetemp() / "ganbench-metrics-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def local_ray():
    """A 2-CPU local Ray for one test module (use with pytest.mark.usefixtures)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def shared_mnist() -> Path:
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST test split not found at {SHARED_MNIST} (../shared is absent)")
    return SHARED_MNIST


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none visible)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
