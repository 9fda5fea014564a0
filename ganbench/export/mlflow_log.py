"""Put the exported file into the run it came from (`onnx/model.onnx`) and register it as a
version of a registered model, so a deployment can ask for `models:/<name>/<version>`.

The version's source is the run's `onnx/` artifact folder: downloading `models:/NAME/V`
gives a folder holding `model.onnx`."""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from ganbench.tracking import client as mlflow_client

log = logging.getLogger("ganbench.export")
ARTIFACT_DIR = "onnx"
ARTIFACT_NAME = "model.onnx"


def log_onnx(uri: str, run, onnx_path: Path) -> str:
    """Log the file as `onnx/model.onnx` whatever its local name; returns its artifact URI."""
    client = mlflow_client(uri)
    with tempfile.TemporaryDirectory() as d:
        staged = Path(d) / ARTIFACT_NAME
        shutil.copyfile(onnx_path, staged)
        client.log_artifact(run.info.run_id, str(staged), ARTIFACT_DIR)
    return f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_DIR}"


def register(uri: str, run, source: str, name: str, description: str = "") -> Optional[str]:
    """Create (or reuse) registered model `name` and add a version for `source`."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(uri)
    try:
        client.create_registered_model(name, description="ganbench generators exported to ONNX")
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(name, source, run_id=run.info.run_id, description=description,
                                          tags={"format": "onnx", "file": ARTIFACT_NAME})
    client.set_tag(run.info.run_id, "ganbench.onnx_model", f"models:/{name}/{version.version}")
    return str(version.version)
