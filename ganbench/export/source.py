"""Where the generator to export comes from: a checkpoint folder, an MLflow run (its
`ganbench.best_checkpoint` tag) or an Optuna study (its best trial's checkpoint and run).

A run's best checkpoint is read from the tagged path when this machine sees it, else from
the run's `checkpoints/best` artifact (a cluster run exported from a laptop)."""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ganbench.errors import CheckpointError, ConfigError
from ganbench.redact import redact_text, redact_url
from ganbench.tracking import client as mlflow_client, fail_fast, resolve_tracking_uri
from ganbench.checkpoint import STATE_FILE, load_checkpoint

log = logging.getLogger("ganbench.export")


@dataclass(frozen=True)
class Source:
    checkpoint: str  # a local checkpoint folder (or state.pt) to load
    origin: str  # the checkpoint as recorded (tag, trial attribute or the user's path)
    run_id: Optional[str]  # MLflow run the checkpoint belongs to; None when it has none
    tracking_uri: str
    run: object = None  # the mlflow Run when reachable, else None


def _get_run(uri: str, run_id: str):
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise FileNotFoundError(f"no MLflow database at {uri}")  # never create an empty one
    with fail_fast():
        return mlflow_client(uri).get_run(run_id)


def _local_or_artifact(path: Optional[str], run, uri: str, scratch: Path) -> str:
    from ganbench.storage import is_uri

    if path and (is_uri(path) or Path(path, STATE_FILE).is_file() or Path(path).is_file()):
        return path  # an s3://... checkpoint is fetched by load_checkpoint
    if run is not None:
        import mlflow

        try:
            got = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="checkpoints/best",
                                                      dst_path=str(scratch), tracking_uri=uri)
            if Path(got, STATE_FILE).is_file():
                log.info("checkpoint %s is not on this machine: using the run's checkpoints/best artifact", path)
                return got
        except Exception as e:  # noqa: BLE001 - reported below with the path that was missing
            log.debug("no checkpoints/best artifact: %s", e)
    raise CheckpointError(f"checkpoint {path} is not on this machine and run "
                          f"{run.info.run_id if run else '?'} has no checkpoints/best artifact")


def from_checkpoint(path: str) -> Source:
    cfg, state = load_checkpoint(path)
    uri = resolve_tracking_uri(cfg.tracking.tracking_uri)
    run_id = state.get("mlflow_run_id") or None
    run = None
    if run_id:
        try:
            run = _get_run(uri, run_id)
        except Exception as e:  # noqa: BLE001 - any store error means the same: no logging
            log.warning("MLflow run %s of this checkpoint is not reachable at %s (%s): the ONNX file "
                        "will not be logged or registered", run_id, uri, type(e).__name__)
    else:
        log.warning("checkpoint %s has no MLflow run: the ONNX file will not be logged or registered", path)
    return Source(str(path), str(path), run_id, uri, run)


def from_run(run_id: str, scratch: Path, uri: Optional[str] = None) -> Source:
    uri = resolve_tracking_uri(uri)
    try:
        run = _get_run(uri, run_id)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"cannot read MLflow run {run_id} at {uri} ({type(e).__name__}: {e}); "
                          "set MLFLOW_TRACKING_URI to the store that holds it") from None
    tag = run.data.tags.get("ganbench.best_checkpoint")
    if not tag or tag == "None":
        raise CheckpointError(f"MLflow run {run_id} has no ganbench.best_checkpoint tag: it is not a "
                              "finished ganbench training run")
    return Source(_local_or_artifact(tag, run, uri, scratch), tag, run_id, uri, run)


def from_study(name: str, storage: Optional[str], scratch: Path, uri: Optional[str] = None) -> Source:
    import optuna

    from tuning.study import default_storage

    storage = storage or default_storage()
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        best = study.best_trial
    except KeyError:
        raise ConfigError(f"no study {name!r} in {redact_url(storage)}") from None
    except ValueError:
        raise ConfigError(f"study {name!r} has no completed trial yet: nothing to export") from None
    except Exception as e:  # noqa: BLE001 - a bad URL or an unreachable database
        first = (str(e).strip().splitlines() or [""])[0]  # SQLAlchemy appends hints and links
        raise ConfigError(f"cannot open Optuna storage {redact_url(storage)!r}: {type(e).__name__}: "
                          f"{redact_text(first, [storage])}") from None
    if best.user_attrs.get("mlflow_run_id"):  # the trial's run tags the same best checkpoint
        return from_run(best.user_attrs["mlflow_run_id"], scratch, uri)
    ckpt = best.user_attrs.get("best_checkpoint")
    if not ckpt:
        raise CheckpointError(f"best trial {best.number} of study {name!r} recorded no checkpoint")
    return from_checkpoint(ckpt)


def resolve(checkpoint=None, run_id=None, study=None, storage=None, scratch: Optional[Path] = None) -> Source:
    given = [x for x in (checkpoint, run_id, study) if x]
    if len(given) != 1:
        raise ConfigError("give exactly one of --checkpoint, --run-id or --study")
    scratch = scratch or Path(tempfile.mkdtemp(prefix="ganbench-export-"))
    if checkpoint:
        return from_checkpoint(checkpoint)
    if run_id:
        return from_run(run_id, scratch)
    return from_study(study, storage, scratch)
