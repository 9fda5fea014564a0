"""MLflow: where runs go, and the rank-0 sink the training loop logs through.

With nothing set, runs go to `sqlite:///<cwd>/mlflow.db` and artifacts to `<cwd>/mlartifacts`
(absolute paths, because Ray workers run in another working directory). `MLFLOW_TRACKING_URI`
or `tracking.tracking_uri` point it anywhere else (an `mlflow server` on a cluster); see
tracking_store.py.

The driver creates the run (so it knows the run id before any worker starts) and passes a
TrackingHandle to the workers; rank 0 logs to that run with an MlflowClient.
"""
from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from ganbench.config import RunConfig, flatten, to_yaml
from ganbench.redact import redact_fields, redact_text, redact_url
from ganbench.tracking_spool import Spool
# Re-exported: callers reach the store through this module (trk.client, trk.TrackingError ...).
from ganbench.tracking_store import (DEFAULT_DB, TrackingError, TrackingHandle,  # noqa: F401
                                     client, resolve_tracking_uri)

log = logging.getLogger("ganbench.tracking")

DEFAULT_ARTIFACTS = "mlartifacts"


@contextmanager
def fail_fast():
    """MLflow retries an unreachable server for minutes by default; one probe need not."""
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}
    saved = {k: os.environ.get(k) for k in quick}
    os.environ.update({k: v for k, v in quick.items() if saved[k] is None})  # the user's settings win
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


@contextmanager
def fluent_store(uri: str, experiment_id: Optional[str] = None):
    """Point MLflow's global ("fluent") API at `uri` (and `experiment_id`) for a block.

    Some MLflow calls take no store argument and use the global one: `mlflow.onnx.log_model`,
    the registry's lookup of a `models:/...` source or download. Everything else here passes
    the store explicitly (MlflowClient(uri)); this keeps those few calls on the same store
    and gives the user's environment back afterwards."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
    saved = {k: os.environ.get(k) for k in names}
    try:
        with _use_tracking_uri(uri):
            if experiment_id is not None:
                os.environ.pop("MLFLOW_EXPERIMENT_NAME", None)
                os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_id
            yield
    finally:  # _use_tracking_uri unsets MLFLOW_TRACKING_URI on exit: put the user's value back
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


UI_PORT = 5000


def ui_base(tracking_uri: Optional[str] = None, port: int = UI_PORT) -> str:
    """Where the MLflow UI is: an http(s) tracking server is its own UI (credentials dropped);
    a local store is served by `mlflow ui` on localhost:`port`."""
    from urllib.parse import urlsplit

    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        u = urlsplit(tracking_uri)
        return f"{u.scheme}://{u.hostname}{f':{u.port}' if u.port else ''}{u.path.rstrip('/')}"
    return f"http://127.0.0.1:{port}"


def ui_link(experiment_id: str, tracking_uri: Optional[str] = None, port: int = UI_PORT) -> str:
    """The MLflow UI page listing an experiment's runs. MLflow 3.17 opens an experiment in its
    GenAI view (traces, an empty overview for training runs); `workflowType=machine_learning`
    selects the Model-training view, where the runs are."""
    return f"{ui_base(tracking_uri, port)}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def ui_hint(tracking_uri: str, experiment_id: str, port: int = UI_PORT) -> str:
    """How to look at an experiment: the `mlflow ui` command for a local store, then the link."""
    link = ui_link(experiment_id, tracking_uri, port)
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {link}"
    # One worker, no job runner: mlflow 3.17's defaults start several processes (~2 GB).
    return (f"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui --backend-store-uri {_masked(tracking_uri)} "
            f"--port {port} --workers 1\n  then open {link}")


def _masked(uri: str) -> str:
    """`uri` without its password (a PostgreSQL store's, say): the hint is printed and logged."""
    from urllib.parse import urlsplit

    try:
        pw = urlsplit(uri).password
    except ValueError:
        return uri
    return uri.replace(f":{pw}@", ":***@", 1) if pw else uri


def get_or_create_experiment(uri: str, name: str) -> str:
    c = client(uri)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri:
        # A local store: keep artifacts beside it, as an absolute URI workers can reach.
        artifact_location = (Path.cwd() / DEFAULT_ARTIFACTS).resolve().as_uri()
    return c.create_experiment(name, artifact_location=artifact_location)


def create_run(uri: str, experiment: str, run_name: Optional[str], tags: dict, params: dict) -> TrackingHandle:
    """A new run in `experiment` (created if needed) with its tags and params; returns its handle."""
    from mlflow.entities import Param

    c = client(uri)
    # Tag values must be strings over REST (a SQLite store would quietly accept an int).
    # Params and tags are readable by anyone with access to the experiment: no URL passwords.
    run = c.create_run(get_or_create_experiment(uri, experiment), run_name=run_name,
                       tags={k: redact_text(str(v), [uri]) for k, v in tags.items()})
    run_id = run.info.run_id
    items = [Param(k, redact_text(str(v), [uri])) for k, v in params.items()]
    for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
        c.log_batch(run_id, params=items[i : i + 100])
    return TrackingHandle(uri, run_id)


def start_run(cfg: RunConfig, extra_params: dict | None = None, tags: dict | None = None) -> TrackingHandle:
    """Create the MLflow run for a training job; returns the tracking handle for workers."""
    uri = resolve_tracking_uri(cfg.tracking.tracking_uri)
    try:
        with fail_fast():
            handle = create_run(uri, cfg.tracking.experiment, cfg.tracking.run_name,
                                tags={"ganbench.preset": cfg.preset, **(tags or {})},
                                params={**flatten(cfg), **(extra_params or {})})
    except Exception as e:  # nothing has started yet: stop here, clearly
        raise TrackingError(f"cannot start an MLflow run at {redact_url(uri)}: {type(e).__name__}: "
                            f"{redact_text((str(e).splitlines() or [''])[0][:200], [uri])}. Start the tracking server, or set "
                            f"MLFLOW_TRACKING_URI / tracking.tracking_uri to one that answers") from None
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "config.yaml"
        p.write_text(to_yaml(redact_fields(cfg)))  # as checkpoints store it (see redact_fields)
        client(uri).log_artifact(handle.run_id, str(p))
    return handle


def run_exists(handle: TrackingHandle) -> bool:
    try:
        client(handle.tracking_uri).get_run(handle.run_id)
        return True
    except Exception:
        return False


class MlflowSink:
    """Rank-0 sink: epoch metrics, images and plots go to one existing run.

    If the tracking server stops answering, training goes on: the failure is logged once
    and every later call is spooled to `handle.spool_dir` (see tracking_spool.py) for
    `ganbench tracking-sync`. Once offline, the sink stays offline for the rest of the
    process (for every sink of that run), so the spool keeps the calls in order and the
    failure is reported once.
    """

    _offline_runs: set = set()  # per process: a server that failed once is not retried

    def __init__(self, handle: TrackingHandle):
        # MLflow's default HTTP retries wait ~4 minutes on a dead server; a training step
        # should not. These are defaults only: set the variables to override them.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")  # back-off 1 + 2 + 4 s
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        self.handle = handle
        self.client = client(self.handle.tracking_uri)
        self.run_id = self.handle.run_id
        self.spool = Spool(self.handle.spool_dir, self.handle) if self.handle.spool_dir else None

    @property
    def offline(self) -> bool:
        return self.run_id in MlflowSink._offline_runs

    def _call(self, fn, record: dict) -> None:
        if not self.offline:
            try:
                fn()
                return
            except Exception as e:
                MlflowSink._offline_runs.add(self.run_id)
                where, uri = self.handle.spool_dir, self.handle.tracking_uri
                log.warning("MLflow tracking at %s failed (%s: %s). Training goes on; %s",
                            redact_url(uri), type(e).__name__, redact_text((str(e).splitlines() or [""])[0][:200], [uri]),
                            f"what is not logged is saved under {where}/{self.run_id}: upload it later with "
                            f"`ganbench tracking-sync {where}`" if where else "nothing more is logged for this run")
        if self.spool is not None:
            self.spool.append(record)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self._call(lambda: self.client.log_batch(
            self.run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()]),
            {"type": "metrics", "step": step, "ts": ts, "metrics": metrics})

    def log_artifact(self, path: str | Path, artifact_path: Optional[str] = None) -> None:
        if Path(path).is_dir():
            fn = lambda: self.client.log_artifacts(self.run_id, str(path), artifact_path)  # noqa: E731
        else:
            fn = lambda: self.client.log_artifact(self.run_id, str(path), artifact_path)  # noqa: E731
        self._call(fn, {"type": "artifact", "src": str(path), "artifact_path": artifact_path})

    def log_image(self, path: str | Path, key: str, step: int) -> None:
        """The image at `path` as `key` at `step` (mlflow's log_image): the UI's image view
        shows one per step with a slider, which a folder of files does not give."""
        import time

        ts = int(time.time() * 1000)

        def fn():
            from PIL import Image

            with Image.open(path) as im:  # synchronous: a failure must reach _call to be spooled
                self.client.log_image(self.run_id, im.copy(), key=key, step=step, timestamp=ts, synchronous=True)

        self._call(fn, {"type": "image", "src": str(path), "key": key, "step": step, "ts": ts})

    def set_tags(self, tags: dict) -> None:
        def fn():
            for k, v in tags.items():
                self.client.set_tag(self.run_id, k, str(v))

        self._call(fn, {"type": "tags", "tags": {k: str(v) for k, v in tags.items()}})

    def finish(self, status: str, tags: dict | None = None) -> None:
        if tags:
            self.set_tags(tags)
        self._call(lambda: self.client.set_terminated(self.run_id, status=status),
                   {"type": "terminate", "status": status})

    def logged_through(self, metric: str = "epoch") -> int:
        """The highest step of `metric` the run holds (0 if none or unreachable): a worker
        restarted from a checkpoint skips logging epochs the run already has."""
        try:
            return last_logged_step(self.handle, metric) or 0
        except Exception:
            return 0


def finish_run(handle: TrackingHandle, status: str, tags: dict | None = None) -> None:
    MlflowSink(handle).finish(status, tags)


def reopen_run(handle: TrackingHandle) -> None:
    """Mark a finished/failed run as running again (a resumed training job)."""
    client(handle.tracking_uri).update_run(handle.run_id, status="RUNNING")


def last_logged_step(handle: TrackingHandle, metric: str) -> Optional[int]:
    hist = client(handle.tracking_uri).get_metric_history(handle.run_id, metric)
    return max((m.step for m in hist), default=None)
