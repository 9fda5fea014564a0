"""Training runs as Ray tasks: `train(cfg)` inside a task with its own resources.

A single-worker run is one Ray task that calls `train(cfg, workers=0)` in the task's process:
no TorchTrainer, no worker group to start and tear down (Ray Train's ~20 s per run on 2 cores),
and Ray reuses the task's worker process, so torch is imported once per worker, not per run.
A multi-worker run is a task that calls `train(cfg, workers=N)`: Ray Train DDP, as today.
Either way Ray's own scheduler places each run where its CPUs/GPUs are free, and `parallel`
only bounds how many are in flight (a laptop that should not run 8 at once).

Used by `ganbench bench`; `ganbench tune` can run its trials the same way.
"""
from __future__ import annotations

import logging
import resource
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Optional

if TYPE_CHECKING:  # for annotations only: importing ganbench.train costs seconds, tasks import it
    from ganbench.train import TrainResult

log = logging.getLogger("ganbench.ray_runs")

ATTEMPT_TAG = "ganbench.attempt"  # a unique id per submission: finds the MLflow run a failed task made


@dataclass(frozen=True)
class RunRequest:
    cfg_yaml: str  # the resolved RunConfig (tracking.tracking_uri set: tasks run in other directories)
    key: tuple = ()  # the caller's name for this run, handed back in the outcome
    workers: int = 1  # 1: train() in the task's process; >= 2: Ray Train DDP from the task
    cpus: float = 1  # per worker
    gpus: float = 0  # per worker
    out: str = "runs"  # absolute folder (or a URI with workers >= 2)
    tags: dict = field(default_factory=dict)  # extra MLflow tags (parent run, suite, cell, seed...)


@dataclass(frozen=True)
class RunOutcome:
    key: tuple
    ok: bool
    result: Optional[TrainResult]  # train()'s result when ok
    error: Optional[str]  # one line when not ok
    run_id: Optional[str]  # the MLflow run, also for failures
    wall_s: float
    cpu_s: float  # CPU time of the task's process (single-worker runs; DDP workers are other processes)


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def execute(req: RunRequest, attempt: str) -> RunOutcome:
    """The body of the task (callable in-process too, e.g. by a benchmark): train, then log
    the run's cost; a failure is recorded on its MLflow run and returned, never raised."""
    import torch

    from ganbench.config import from_yaml
    from ganbench.train import train

    if req.workers == 1:
        # Ray sets OMP_NUM_THREADS for a task's process, but a reused process keeps the thread
        # count of its first task: set it for this one.
        torch.set_num_threads(max(1, int(req.cpus)))
    cfg = from_yaml(req.cfg_yaml)
    tags = {**req.tags, ATTEMPT_TAG: attempt}
    t0, c0 = time.perf_counter(), _cpu_seconds()
    try:
        result = train(cfg, workers=0 if req.workers == 1 else req.workers, gpu=req.gpus > 0, out=req.out,
                       progress=False, tags=tags)
        error, ok = None, True
    except Exception as e:  # any failure is this run's, recorded; the other runs go on
        result, error, ok = None, one_line(e), False
        log.warning("run %s failed: %s", req.key, error)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    run_id = result.run_id if result else None
    try:
        if ok:
            _log_cost(cfg, run_id, wall, cpu, req)
        else:
            run_id = record_failure(cfg, tags, error)
    except Exception as e:  # tracking trouble must not turn a finished run into a lost one
        log.warning("could not log the cost/failure of run %s to MLflow: %s", req.key, one_line(e))
    return RunOutcome(req.key, ok, result, error, run_id, wall, cpu if req.workers == 1 else float("nan"))


def _log_cost(cfg, run_id: Optional[str], wall: float, cpu: float, req: RunRequest) -> None:
    if not run_id:
        return
    import time as _t

    from mlflow.entities import Metric

    from ganbench import tracking as trk

    ts = int(_t.time() * 1000)
    m = {"cost/wall_s": wall, "cost/cpus": req.cpus * req.workers, "cost/gpu_s": wall * req.gpus * req.workers}
    if req.workers == 1:
        m["cost/cpu_s"] = cpu
    trk.client(trk.resolve_tracking_uri(cfg.tracking.tracking_uri)).log_batch(
        run_id, metrics=[Metric(k, float(v), ts, 0) for k, v in m.items()])


def record_failure(cfg, tags: dict, error: str) -> str:
    """The failed run's MLflow run, FAILED with the error as a tag; a run that failed before
    train() created its MLflow run gets one now, so every failure is visible and countable."""
    from ganbench import tracking as trk

    uri = trk.resolve_tracking_uri(cfg.tracking.tracking_uri)
    c = trk.client(uri)
    exp = trk.get_or_create_experiment(uri, cfg.tracking.experiment)
    found = c.search_runs([exp], f"tags.`{ATTEMPT_TAG}` = '{tags[ATTEMPT_TAG]}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
    else:
        run_id = trk.create_run(uri, cfg.tracking.experiment, cfg.tracking.run_name,
                                tags={"ganbench.preset": cfg.preset, **tags}, params={}).run_id
    from ganbench.redact import redact_text

    c.set_tag(run_id, "ganbench.error", redact_text(error, [uri])[:5000])  # an error may quote the URI
    c.set_terminated(run_id, status="FAILED")
    return run_id


def _train_task(cfg_yaml: str, kwargs: dict, cpus: float) -> TrainResult:
    import torch

    from ganbench.config import from_yaml
    from ganbench.train import train

    torch.set_num_threads(max(1, int(cpus)))  # a reused worker keeps its first task's count
    return train(from_yaml(cfg_yaml), workers=0, **kwargs)


def train_in_task(cfg, *, cpus: float = 1, gpus: float = 0, **kwargs) -> TrainResult:
    """train(cfg, workers=0, **kwargs) in one Ray task holding `cpus`/`gpus`: a single-worker
    run with no TorchTrainer to start (what `ganbench tune --workers 1` runs per trial).
    cfg.tracking.tracking_uri and `out` should be absolute: the task may run elsewhere.
    The task's own exception is raised here, not Ray's wrapper around it."""
    import ray

    from ganbench.config import to_yaml

    ensure_ray()
    task = ray.remote(max_retries=0)(_train_task).options(num_cpus=cpus, num_gpus=gpus)
    try:
        return ray.get(task.remote(to_yaml(cfg), {**kwargs, "gpu": gpus > 0}, cpus))
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        raise (cause if isinstance(cause, BaseException) else e) from None


def ensure_ray() -> None:
    """Connect to Ray once: RAY_ADDRESS's cluster, or a local one started here."""
    import ray

    if ray.is_initialized():
        return
    try:
        from ganbench.ray_init import init_ray  # a shared helper, when the project has one
    except ImportError:
        ray.init(include_dashboard=False, configure_logging=False)
    else:
        init_ray()


def run_many(requests: Iterable[RunRequest], parallel: Optional[int] = None,
             on_done: Optional[Callable[[RunOutcome], None]] = None) -> list[RunOutcome]:
    """Run every request as a Ray task, at most `parallel` in flight (None: as many as Ray's
    resources allow); `on_done` sees each outcome as it arrives. A task that dies (worker
    killed, out of memory) is an outcome with its error, like a run that raised."""
    import ray

    ensure_ray()
    task = ray.remote(max_retries=0)(execute)
    pending = list(requests)
    inflight: dict = {}
    outcomes: list[RunOutcome] = []
    while pending or inflight:
        while pending and (parallel is None or len(inflight) < parallel):
            req = pending.pop(0)
            attempt = uuid.uuid4().hex
            # A DDP run's task only drives TorchTrainer, which reserves its workers' resources.
            opts = ({"num_cpus": req.cpus, "num_gpus": req.gpus} if req.workers == 1 else {"num_cpus": 0})
            inflight[task.options(**opts).remote(req, attempt)] = (req, attempt)
        done, _ = ray.wait(list(inflight), num_returns=1)
        for ref in done:
            req, attempt = inflight.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as e:  # the task itself died: record it as the run's failure
                outcome = _died(req, attempt, one_line(e))
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    return outcomes


def _died(req: RunRequest, attempt: str, error: str) -> RunOutcome:
    from ganbench.config import from_yaml

    run_id = None
    try:
        run_id = record_failure(from_yaml(req.cfg_yaml), {**req.tags, ATTEMPT_TAG: attempt}, error)
    except Exception as e:
        log.warning("could not record the failure of run %s in MLflow: %s", req.key, one_line(e))
    return RunOutcome(req.key, False, None, error, run_id, float("nan"), float("nan"))
