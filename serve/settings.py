"""Serving settings: one pydantic model, filled the same way on a laptop and on a cluster.

Precedence: a value given explicitly (the `args:` of a Serve config file, or `ganbench serve`
flags) wins; otherwise the environment variable GANBENCH_<NAME> (GANBENCH_MODEL,
GANBENCH_MAX_N, GANBENCH_REPLICAS, ...); otherwise the default below."""
from __future__ import annotations

import os
from typing import Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganbench.errors import ConfigError


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="ONNX file from `ganbench export` (a path every replica sees), or a "
                                   "registered model: models:/ganbench-debug@champion (the alias is resolved "
                                   "to its version once, when the app is built) or models:/ganbench-debug/1")
    tracking_uri: Optional[str] = Field(None, description="MLflow tracking server for a models:/ model "
                                        "(default $MLFLOW_TRACKING_URI, else ./mlflow.db where the app is built)")
    max_n: int = Field(256, ge=1, le=65536, description="most images one request may ask for")
    replicas: int = Field(1, ge=1, description="replicas when autoscaling is not set")
    autoscaling: Optional[dict] = Field(None, description="Ray Serve autoscaling_config, e.g. "
                                        "{min_replicas: 1, max_replicas: 4, target_ongoing_requests: 8}")
    gpu: bool = Field(False, description="one GPU per replica; onnxruntime's CUDAExecutionProvider when installed")
    num_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves per replica")
    threads: int = Field(0, ge=0, description="onnxruntime intra-op threads (0: the replica's num_cpus)")
    max_batch_images: int = Field(256, ge=1, description="images per batched onnxruntime call (raised to max_n)")
    batch_wait_ms: float = Field(5.0, ge=0, description="how long a batch waits for more requests")
    max_body_bytes: int = Field(65536, ge=1024, description="larger request bodies get 413")


def resolve(args: Optional[Mapping] = None, env: Mapping[str, str] = os.environ) -> ServeSettings:
    """Explicit args over GANBENCH_<NAME> env vars over defaults; errors name the bad setting."""
    args = {k: v for k, v in (args or {}).items() if v is not None}
    unknown = sorted(set(args) - set(ServeSettings.model_fields))
    if unknown:
        raise ConfigError(f"unknown serve setting(s) {unknown}; valid: {sorted(ServeSettings.model_fields)}")
    values = {}
    for name in ServeSettings.model_fields:
        raw = env.get(f"GANBENCH_{name.upper()}")
        if raw is not None and name not in args:
            values[name] = raw
    values.update(args)
    if "autoscaling" in values and isinstance(values["autoscaling"], str):
        import json

        try:
            values["autoscaling"] = json.loads(values["autoscaling"])
        except json.JSONDecodeError:
            raise ConfigError(f"GANBENCH_AUTOSCALING must be a JSON object, got {values['autoscaling']!r}") from None
    if "model" not in values:
        raise ConfigError("no model: pass --model FILE.onnx, set GANBENCH_MODEL, or `model:` in the Serve config args")
    try:
        return ServeSettings(**values)
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"bad serve settings: {msgs}") from None
