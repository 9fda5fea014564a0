"""Put the exported generator into MLflow as a real MLflow model and keep an alias on the best one.

- `log_model`: `mlflow.onnx.log_model` into the run it came from, with a signature and an input
  example (noise; labels for conditional models). A bare file in the registry could only be
  downloaded; an MLflow model also loads with `mlflow.pyfunc.load_model` and serves with
  `mlflow models serve`.
- `register`: a new version of the registered model (`ganbench-<preset>`), tagged with the
  score it was selected by (`ganbench.score_key`, `ganbench.best_score`).
- `promote`: the alias (`champion` by default, the name MLflow's registry docs use for the
  model in production) moves to the new version only when it is better (lower FID/KID) under
  the same metric name, or when there is no champion yet. Deployments name the alias
  (`models:/NAME@champion`), so they never need a version number edited by hand.

The model folder holds `model.onnx` (the onnx flavour's file name), `MLmodel` and the examples.
"""
from __future__ import annotations

import logging
import math
from typing import Optional

import numpy as np

from ganbench import noise
from ganbench.tracking import client as mlflow_client, fluent_store

log = logging.getLogger("ganbench.export")
ARTIFACT_NAME = "model.onnx"  # what mlflow.onnx names the file inside the model folder
LOGGED_MODEL_NAME = "generator"
DEFAULT_ALIAS = "champion"
SCORE_KEY_TAG, SCORE_TAG = "ganbench.score_key", "ganbench.best_score"


def signature(meta: dict):
    """Tensor signature of the serving contract: z float32 (N, latent), labels int64 (N,)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    inputs = [TensorSpec(np.dtype(np.float32), (-1, meta["latent_dim"]), "z")]
    if meta["conditional"]:
        inputs.append(TensorSpec(np.dtype(np.int64), (-1,), "labels"))
    images = TensorSpec(np.dtype(np.float32), (-1, *meta["image_shape"]), "images")
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([images]))


def input_example(meta: dict, n: int = 2) -> dict:
    """Two samples' inputs, drawn with the same noise recipe the server uses (seed 0)."""
    example = {"z": noise.latent(n, meta["latent_dim"], seed=0)}
    if meta["conditional"]:
        example["labels"] = noise.class_ids(n, meta["num_classes"])
    return example


def log_model(uri: str, run, model, meta: dict):
    """Log the ONNX ModelProto as an MLflow model of `run`; returns mlflow's ModelInfo."""
    import mlflow.onnx

    # Logging loads the model once as a check, and mlflow.onnx then warns on every CPU-only
    # machine that CUDA (declared for GPU deployments) is missing: not news at export time.
    onnx_log = logging.getLogger("mlflow.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with fluent_store(uri, run.info.experiment_id):
            return mlflow.onnx.log_model(
                model, name=LOGGED_MODEL_NAME, run_id=run.info.run_id, signature=signature(meta),
                input_example=input_example(meta), save_as_external_data=False,  # one file, as exported
                onnx_execution_providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
                # Explicit requirements: inferring them starts a subprocess that imports the model.
                pip_requirements=mlflow.onnx.get_default_pip_requirements(),
                metadata={"ganbench": {k: meta[k] for k in ("latent_dim", "image_shape", "num_classes",
                                                            "conditional", "noise", "labels",
                                                            "truncation") if k in meta}})
    finally:
        onnx_log.setLevel(level)


def register(uri: str, run, info, name: str, meta: dict, description: str = "") -> str:
    """Create (or reuse) registered model `name` and add a version of the logged model."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(uri)
    try:
        client.create_registered_model(name, description="ganbench generators exported to ONNX")
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    tags = {"format": "onnx", "file": ARTIFACT_NAME}
    if meta.get("score_key") is not None:
        tags.update({SCORE_KEY_TAG: meta["score_key"], SCORE_TAG: repr(float(meta["best_score"]))})
    with fluent_store(uri, run.info.experiment_id):  # it looks the models:/m-... source up there
        version = client.create_model_version(name, info.model_uri, run_id=run.info.run_id, tags=tags,
                                              description=description, model_id=info.model_id)
    client.set_tag(run.info.run_id, "ganbench.onnx_model", f"models:/{name}/{version.version}")
    return str(version.version)


def _score(version) -> tuple[Optional[str], Optional[float]]:
    key, value = version.tags.get(SCORE_KEY_TAG), version.tags.get(SCORE_TAG)
    try:
        value = float(value) if value is not None else None
    except ValueError:
        value = None
    return key, (value if value is not None and math.isfinite(value) else None)


def _current(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def should_promote(new, champion) -> tuple[bool, str]:
    """(move the alias?, why) for model versions `new` and `champion` (None: no champion)."""
    if champion is None:
        return True, "no version held the alias"
    (key, score), (ckey, cscore) = _score(new), _score(champion)
    if score is None:
        return False, f"this version has no recorded score; version {champion.version} keeps it"
    if cscore is None or key != ckey:
        return False, (f"version {champion.version} was scored by {ckey or 'nothing'}, this one by {key}: "
                       "not comparable, so it keeps the alias")
    if score < cscore:
        return True, f"{key} {score:.4g} < {cscore:.4g} of version {champion.version}"
    return False, f"{key} {score:.4g} is not below {cscore:.4g} of version {champion.version}"


def promote(uri: str, name: str, version: str, alias: str = DEFAULT_ALIAS) -> dict:
    """Point `alias` at `version` if it is the better model; say what happened and why."""
    client = mlflow_client(uri)
    champion = _current(client, name, alias)
    move, why = should_promote(client.get_model_version(name, version), champion)
    if move:
        client.set_registered_model_alias(name, alias, version)
    holder = version if move else champion.version
    log.info("alias %s of %s: version %s (%s)", alias, name, holder, why)
    if not move:
        log.info("to move it anyway: MlflowClient().set_registered_model_alias(%r, %r, %r)", name, alias, version)
    return {"alias": alias, "alias_version": str(holder), "alias_moved": move, "alias_reason": why}
