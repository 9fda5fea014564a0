"""RunRecord: one finished (or failed) run as the report needs it, read back from MLflow.

Both `ganbench bench` (after its runs) and `ganbench compare` (runs that already exist) build
the report from these, so a report never depends on who ran the runs or whether the driver
that started them is still alive.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from ganbench.errors import ConfigError

# Protocol entries that describe where or how often, not how a number is computed.
IGNORED_PROTOCOL_KEYS = frozenset({"stats_cache", "world_size", "weights_file", "backbone_choice", "cache_dir",
                                   "checkpoint"})
FINAL_PREFIX = "final/"
# A ranking metric as metrics/names.py builds it: KIND COUNT [K] _ BACKBONE [_REST]
# (fid5k_mnistcnn, pr10k3_inception_precision); COUNT_BACKBONE is what a base name gets.
_RANKING_RE = re.compile(r"(?P<kind>[A-Za-z_]*[A-Za-z])(?P<count>\d+k?)\d*_(?P<backbone>[A-Za-z0-9-]+)(_.*)?")
_BASE_RE = re.compile(r"[A-Za-z_]+")  # a metric kind without count or backbone: class_share_min


@dataclass(frozen=True)
class CurvePoint:
    epoch: int
    value: float  # the per-epoch metric at this epoch
    train_s: float  # training seconds up to and including this epoch (evaluations excluded)
    images: float  # images trained on up to and including this epoch


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    cell: str
    seed: Optional[int]
    status: str  # FINISHED | FAILED | RUNNING | KILLED
    error: str
    metric: Optional[str]  # the ranking metric as logged (e.g. final/fid10k_inception)
    value: Optional[float]  # its value (final tier: the best checkpoint's; else the last evaluation)
    train_metric: Optional[str]  # the per-epoch metric
    train_value: Optional[float]  # at the checkpoint the final metric scored (best_<name>), else the last
    protocol: tuple  # sorted (key, value) pairs of the ranking metric's protocol
    curve: tuple[CurvePoint, ...]
    wall_s: float
    cpu_s: float  # CPU-seconds of the run's process (nan when unknown)
    gpu_s: float  # GPU-seconds reserved (wall x GPUs)
    images_per_s: float  # median over epochs
    images: float  # trained on, in total
    samples: Optional[str]  # artifact path of the last epoch's sample grid
    run_name: str = ""
    trial: Optional[int] = None  # Optuna trial number, for runs of a search
    # Shown beside the ranking metric, never ranked: (full name, value at the evaluation that
    # gave `value`); nan where the run did not log it.
    extras: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED" and self.value is not None and math.isfinite(self.value)


def _num(d: dict, key: str) -> float:
    v = d.get(key)
    return float(v) if v is not None else math.nan


def _int(v) -> Optional[int]:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def pick_metric(run, wanted: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(ranking metric, per-epoch metric) of a run: `wanted` when given; else its final FID
    (or KID) when it has a final evaluation, else the metric that picked its best checkpoint."""
    metrics, tags = run.data.metrics, run.data.tags
    train = tags.get("ganbench.eval.selection_metric")
    if wanted:
        return wanted, (train if wanted.startswith(FINAL_PREFIX) else wanted)
    finals = sorted(k for k in metrics if k.startswith(FINAL_PREFIX) and not k.endswith("_std"))
    for kind in ("final/fid", "final/kid"):
        hit = [k for k in finals if k.startswith(kind)]
        if hit:
            return hit[0], train
    return train, train


def protocol_of(tags: dict, metric: Optional[str]) -> tuple:
    prefix = "ganbench.final_eval." if metric and metric.startswith(FINAL_PREFIX) else "ganbench.eval."
    return tuple(sorted((k[len(prefix):], v) for k, v in tags.items()
                        if k.startswith(prefix) and k[len(prefix):] not in IGNORED_PROTOCOL_KEYS))


def resolve_extra(name: str, ranking: str) -> str:
    """A base name gets the ranking metric's tier, count and backbone (class_share_min +
    final/fid10k_inception -> final/class_share_min10k_inception); a full name is kept."""
    if not _BASE_RE.fullmatch(name):
        return name
    tier = FINAL_PREFIX if ranking.startswith(FINAL_PREFIX) else ""
    m = _RANKING_RE.fullmatch(ranking[len(tier):])
    if not m:
        raise ConfigError(f"also: cannot complete {name!r}: the ranking metric {ranking!r} has no "
                          f"<count>_<backbone> part to add; give the full metric name")
    return f"{tier}{name}{m['count']}_{m['backbone']}"


class Histories:
    """One run's metric histories, each read from MLflow once (the curve, the throughput and
    the `also` metrics share some); a metric the run never logged has an empty history."""

    def __init__(self, client, run):
        self.client, self.run, self._read = client, run, {}

    def __call__(self, key: str) -> list:
        if key not in self._read:
            logged = key in self.run.data.metrics
            self._read[key] = self.client.get_metric_history(self.run.info.run_id, key) if logged else []
        return self._read[key]


def _value_at(history: list, step: int) -> float:
    """The value logged at `step` (the latest such entry), nan when there is none."""
    hits = [h for h in history if h.step == step]
    return float(max(hits, key=lambda h: h.timestamp).value) if hits else math.nan


def read_extras(histories: Histories, ranking: Optional[str], also: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """The `also` metrics at the step of the ranking value: run.data.metrics holds each
    metric's value at its highest step, so that step is the evaluation that gave `value`
    (the last per-epoch one, or the final evaluation logged at the best epoch)."""
    if not also or not ranking:
        return ()
    names = tuple(dict.fromkeys(resolve_extra(a, ranking) for a in also))
    steps = [h.step for h in histories(ranking)]
    if not steps:
        return tuple((n, math.nan) for n in names)
    return tuple((n, _value_at(histories(n), max(steps))) for n in names)


def record_from_run(client, run, cell: Optional[str] = None, metric: Optional[str] = None,
                    also: Sequence[str] = ()) -> RunRecord:
    """One MLflow run -> RunRecord (a few metric-history reads for the curve and the `also` metrics)."""
    info, data = run.info, run.data
    tags, metrics, params = data.tags, data.metrics, data.params
    name, train = pick_metric(run, metric)
    value = metrics.get(name) if name else None
    train_value = None
    if train:
        train_value = metrics.get(f"best_{train}") if name != train else None
        if train_value is None:
            train_value = metrics.get(train)
    histories = Histories(client, run)
    curve = _curve(histories, train) if info.status != "FAILED" else ()
    times = [h.value for h in histories("images_per_s")]
    wall = _num(metrics, "cost/wall_s")
    if math.isnan(wall) and info.end_time and info.start_time:
        wall = (info.end_time - info.start_time) / 1000
    gpu_s = _num(metrics, "cost/gpu_s")
    return RunRecord(
        run_id=info.run_id,
        cell=cell or tags.get("ganbench.cell") or info.run_name or info.run_id[:8],
        seed=_int(tags.get("ganbench.seed", params.get("train.seed"))),
        status=info.status,
        error=tags.get("ganbench.error", ""),
        metric=name, value=value, train_metric=train, train_value=train_value,
        protocol=protocol_of(tags, name),
        curve=curve,
        wall_s=wall, cpu_s=_num(metrics, "cost/cpu_s"), gpu_s=0.0 if math.isnan(gpu_s) else gpu_s,
        images_per_s=float(sorted(times)[len(times) // 2]) if times else math.nan,
        images=curve[-1].images if curve else math.nan,
        samples=_last_samples(client, info.run_id) if info.status == "FINISHED" else None,
        run_name=info.run_name or "",
        trial=_int(tags.get("optuna.trial")),
        extras=read_extras(histories, name, also),
    )


def _curve(histories: Histories, metric: Optional[str]) -> tuple[CurvePoint, ...]:
    """Per-epoch (value, cumulative train seconds, cumulative images); epochs without an
    evaluation add their time and images to the next evaluated one."""
    secs = {m.step: m.value for m in histories("epoch_time_s")}
    ips = {m.step: m.value for m in histories("images_per_s")}
    vals = {m.step: m.value for m in histories(metric)} if metric else {}
    out, t, n = [], 0.0, 0.0
    for epoch in sorted(secs):
        t += secs[epoch]
        n += secs[epoch] * ips.get(epoch, 0.0)
        if epoch in vals:
            out.append(CurvePoint(epoch, vals[epoch], t, round(n)))
    if not vals and secs:  # no evaluations: still a cost, for the efficiency plot
        out.append(CurvePoint(max(secs), math.nan, t, round(n)))
    return tuple(out)


def _last_samples(client, run_id: str) -> Optional[str]:
    try:
        files = [a.path for a in client.list_artifacts(run_id, "samples") if a.path.endswith(".png")]
    except Exception:  # an artifact store we cannot list: the report goes on without a grid
        return None
    return max(files) if files else None
