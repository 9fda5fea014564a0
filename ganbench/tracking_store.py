"""The MLflow store a run lives in: which URI, a client for it, and the handle naming one run.

Both tracking.py (the sink) and tracking_spool.py (what the sink keeps while the server is
down) need these; they live here so imports flow one way:
tracking -> tracking_spool -> tracking_store, and train/records.py re-exports the handle
without reaching the sink.

A URI read back from a checkpoint or a spool has its password masked (checkpoints are
copied, shared and logged as artifacts: see checkpoint.py). Connecting with `***` as the
password would fail late and obscurely, so `resolve_tracking_uri` takes the real one from
$MLFLOW_TRACKING_URI instead, or says at once that it is needed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ganbench.errors import GanbenchError
from ganbench.redact import is_masked

DEFAULT_DB = "mlflow.db"


class TrackingError(GanbenchError):
    """The MLflow tracking store cannot be used (before a run starts; mid-run we spool)."""


@dataclass(frozen=True)
class TrackingHandle:
    """The MLflow run a training job logs to (created by the driver before any worker).

    spool_dir: where MLflow calls are kept if the tracking server stops answering mid-run."""

    tracking_uri: str
    run_id: str
    spool_dir: Optional[str] = None


def resolve_tracking_uri(cfg_uri: Optional[str] = None) -> str:
    """The config's URI, else $MLFLOW_TRACKING_URI, else SQLite in the cwd (absolute, because
    Ray workers run in another working directory)."""
    if cfg_uri and is_masked(cfg_uri):
        return _unmasked(cfg_uri)
    uri = cfg_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def _unmasked(masked: str) -> str:
    """The environment's URI in place of one whose password was masked on disk."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env and not is_masked(env):
        return env
    raise TrackingError(f"the tracking URI {masked} has its password masked (checkpoints and spools store it "
                        f"so): set MLFLOW_TRACKING_URI to the full URI, or pass it with --set "
                        f"tracking.tracking_uri=... (tracking-sync: --tracking-uri)")


def client(uri: str):
    from mlflow.tracking import MlflowClient  # mlflow takes seconds to import: only when used

    return MlflowClient(tracking_uri=uri)
