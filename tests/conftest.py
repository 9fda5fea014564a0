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
def _session_cache(tmp_path_factory) -> Path:
    """Backbones and real statistics are cached once per test session, never in ~/.cache.
    Subprocesses and Ray workers started by the tests inherit it."""
    path = tmp_path_factory.mktemp("ganbench-cache")
    os.environ["GANBENCH_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def _mlflow_schema_once(tmp_path_factory):
    """A new SQLite MLflow store runs MLflow's ~60 schema migrations (seconds of CPU) and nearly
    every test opens a new one in its own folder. Migrate one template per session and copy it
    (SQLite's backup API) into each new, still empty store instead. Only the table creation is
    replaced: the stores, their URIs and files are the ones the tests use. Other backends, and
    subprocesses, create their tables as usual."""
    import sqlite3
    import threading
    from contextlib import closing

    from mlflow.store.db import utils as db_utils
    from mlflow.store.model_registry import sqlalchemy_store as registry_store

    original = db_utils._initialize_tables
    template = tmp_path_factory.mktemp("mlflow-schema") / "mlflow.db"

    def is_empty(conn) -> bool:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0

    lock = threading.Lock()  # a study's trial threads may open stores at once

    def initialize(engine):
        path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            return original(engine)
        with lock:
            fill(engine, path)

    def fill(engine, path):
        if not template.exists():
            original(db_utils.create_sqlalchemy_engine(f"sqlite:///{template}"))
        engine.dispose()  # no pooled connection holds the empty file while it is filled
        with closing(sqlite3.connect(path)) as dst:
            if not is_empty(dst):  # half-made by someone else: let MLflow finish it
                return original(engine)
            with closing(sqlite3.connect(template)) as src:
                src.backup(dst)

    mp = pytest.MonkeyPatch()
    mp.setattr(db_utils, "_initialize_tables", initialize)
    mp.setattr(registry_store, "_initialize_tables", initialize)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield


@pytest.fixture(scope="session")
def metrics_cache(_session_cache) -> Path:
    """The session's cache dir, named for tests that pass it explicitly (eval.cache_dir): the
    digits CNN (seconds to a minute of CPU to train) is trained once per session, shared by
    the metrics tests and every training run that evaluates."""
    return _session_cache


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
