"""`export_generator(...)`: checkpoint -> checked, self-describing ONNX file -> MLflow.

Order matters: the file is written and checked (onnx.checker, then onnxruntime against
torch) before anything is logged, so a registry never holds a file that failed its check."""
from __future__ import annotations

import logging
import time
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Optional

import onnx
import torch

from ganbench import noise
from ganbench.errors import ConfigError
from ganbench.export import mlflow_log, source
from ganbench.export.metadata import set_metadata
from ganbench.export.onnx_io import ExportError, export_onnx, is_conditional, max_abs_diff
from ganbench.sample import load_generator

log = logging.getLogger("ganbench.export")
__all__ = ["ExportError", "export_generator"]


def _run_metadata(run) -> dict:
    """What the training run knows about quality: best score (e.g. best_fid5k_digitscnn) and
    the evaluation protocol tags it was measured under."""
    if run is None:
        return {}
    best = {k[len("best_"):]: v for k, v in run.data.metrics.items() if k.startswith("best_")}
    out = {}
    if best:
        key = sorted(best)[0]
        out.update(score_key=key, best_score=float(best[key]))
    protocol = {k[len("ganbench.eval."):]: v for k, v in run.data.tags.items() if k.startswith("ganbench.eval.")}
    if protocol:
        out["eval_protocol"] = protocol
    return out


def build_metadata(cfg, models, src: source.Source) -> dict:
    cond = is_conditional(models)
    return {
        "format": "ganbench-generator/1",
        "inputs": ["z", "labels"] if cond else ["z"],
        "output": "images",
        "latent_dim": models.latent_dim,
        "n_cont": models.n_cont,  # InfoGAN: the last n_cont entries of z are continuous codes
        "image_shape": list(models.image_shape),
        "num_classes": models.num_classes,
        "conditional": cond,
        "normalization": "[-1, 1]",
        # The one noise recipe (ganbench/noise.py): z and labels from a seed, and truncation,
        # which is the caller's to apply to z before feeding it (psi-scaling keeps the graph
        # z -> images, so no consumer of the signature has to change).
        "noise": noise.NOISE_RECIPE,
        "labels": noise.LABEL_RULE,
        "truncation": noise.TRUNCATION_RULE,
        "model": cfg.model.name,
        "generator_weights": models.weights,  # G_ema (the EMA of G) when the run kept one, else G
        "preset": cfg.preset,
        "run_id": src.run_id,
        "checkpoint": src.origin,
        "ganbench_version": pkg_metadata.version("ganbench"),
        "torch_version": torch.__version__,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **_run_metadata(src.run),
    }


def export_generator(out: str | Path, *, checkpoint: Optional[str] = None, run_id: Optional[str] = None,
                     study: Optional[str] = None, storage: Optional[str] = None, tolerance: float = 1e-4,
                     model_name: Optional[str] = None, log_to_mlflow: bool = True,
                     alias: Optional[str] = mlflow_log.DEFAULT_ALIAS) -> dict:
    """Export the generator; returns onnx_path, max_abs_diff, run_id and, when logged,
    logged_model_uri, registered_model, model_version, model_uri and the alias outcome
    (alias, alias_version, alias_moved, alias_reason; alias=None leaves aliases alone)."""
    out = Path(out)
    if out.suffix != ".onnx":
        raise ConfigError(f"--out must end in .onnx, got {out}")
    if not tolerance >= 0:
        raise ConfigError(f"--tolerance must be >= 0, got {tolerance}")
    out.parent.mkdir(parents=True, exist_ok=True)
    src = source.resolve(checkpoint, run_id, study, storage)
    cfg, models = load_generator(src.checkpoint)

    model = export_onnx(models, out)
    meta = build_metadata(cfg, models, src)
    set_metadata(model, meta)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        out.unlink(missing_ok=True)
        raise ExportError(f"onnx.checker rejected the exported model: {e}") from None
    diff = max_abs_diff(models, model.SerializeToString())
    if diff > tolerance:
        out.unlink(missing_ok=True)  # never leave a file behind that fails its own check
        raise ExportError(f"onnxruntime and torch disagree: max |difference| {diff:.3g} > tolerance "
                          f"{tolerance:g} (the file was removed); re-export or raise --tolerance")
    set_metadata(model, {"max_abs_diff": diff, "tolerance": tolerance})
    onnx.save(model, str(out))
    log.info("exported %s (max |onnxruntime - torch| = %.3g)", out, diff)

    result = {"onnx_path": str(out.resolve()), "max_abs_diff": diff, "tolerance": tolerance,
              "run_id": src.run_id, "checkpoint": src.origin, "conditional": meta["conditional"]}
    if src.run is None or not log_to_mlflow:
        return result
    name = model_name or f"ganbench-{cfg.preset}"
    try:
        result.update(_log_and_register(src, model, meta, name, alias, f"{cfg.model.name} from {src.origin}"))
    except Exception as e:  # noqa: BLE001 - the file is good; a store problem is reported, not fatal
        log.warning("could not log/register the ONNX model in MLflow (%s: %s); the file is at %s",
                    type(e).__name__, e, out)
    return result


def _log_and_register(src: source.Source, model: onnx.ModelProto, meta: dict, name: str,
                      alias: Optional[str], description: str) -> dict:
    """MLflow model in the run -> registered version -> alias if it is the better one."""
    info = mlflow_log.log_model(src.tracking_uri, src.run, model, meta)
    version = mlflow_log.register(src.tracking_uri, src.run, info, name, meta, description)
    out = {"logged_model_uri": info.model_uri, "registered_model": name, "model_version": version,
           "model_uri": f"models:/{name}/{version}"}
    if alias:
        out.update(mlflow_log.promote(src.tracking_uri, name, version, alias))
    return out
