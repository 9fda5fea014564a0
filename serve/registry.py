"""Models from the MLflow registry: `models:/NAME/VERSION` or `models:/NAME@ALIAS`.

An alias is resolved to its version once, when the application is built (`app_builder`),
not by each replica: replicas started later (autoscaling, a restart after a crash) must
serve the same version as the others even if the alias has moved since. A moved alias
takes effect when the application is deployed again.

Imports no torch (Serve replicas call `download`)."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional

from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.serve")
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")


def is_registry_uri(model: str) -> bool:
    return model.startswith("models:/")


def default_tracking_uri() -> str:
    from ganbench.tracking import resolve_tracking_uri

    return resolve_tracking_uri()


def pin(model: str, tracking_uri: str) -> str:
    """`models:/NAME@ALIAS` -> `models:/NAME/VERSION` (what the alias names now); others unchanged."""
    m = _ALIAS.match(model)
    if not m:
        return model
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        version = MlflowClient(tracking_uri).get_model_version_by_alias(m["name"], m["alias"]).version
    except MlflowException as e:
        raise ConfigError(f"cannot resolve {model} in the MLflow registry: {str(e).splitlines()[0][:200]} "
                          f"(export a model with `ganbench export`, or set MLFLOW_TRACKING_URI)") from None
    pinned = f"models:/{m['name']}/{version}"
    log.info("%s is %s", model, pinned)
    return pinned


def download(model: str, tracking_uri: Optional[str] = None) -> Path:
    """The ONNX file of a registered version (or any MLflow artifact URI), downloaded here."""
    from contextlib import nullcontext

    import mlflow

    from ganbench.tracking import fluent_store

    # MLflow resolves a models:/ URI with the global store whatever store is passed in.
    with fluent_store(tracking_uri) if tracking_uri else nullcontext():
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model, tracking_uri=tracking_uri))
    path = local / "model.onnx" if local.is_dir() else local
    if not path.is_file():
        raise ConfigError(f"{model} holds no model.onnx (found {sorted(p.name for p in local.iterdir())})")
    return path
