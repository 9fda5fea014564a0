"""Records -> a Leaderboard: per cell the mean, spread and 95% interval of the ranking metric
over seeds, its rank (ties where intervals overlap), cost, time to a target, and the mean and
std of the suite's `also` metrics (shown beside the ranking metric, never ranked).

Ranking refuses numbers that are not the same measurement: runs whose ranking metric has
another name, or whose recorded protocol differs in any entry, stop here with the keys named.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

from ganbench.bench.records import RunRecord
from ganbench.bench.stats import Interval, expected_best, first_reaching, interval, lower_is_better, rank_cells, spearman
from ganbench.errors import GanbenchError


class IncomparableError(GanbenchError):
    """Runs measured with different metrics or protocols: ranking them would mislead."""


@dataclass(frozen=True)
class ExtraStat:
    """One `also` metric over a cell's finished runs: shown, never ranked."""

    name: str
    mean: float  # nan when no finished run logged it
    std: float  # sample std; nan under two values
    n: int  # finished runs that logged it (the others: not logged)


@dataclass(frozen=True)
class CellRow:
    cell: str
    n_ok: int
    n_failed: int
    interval: Interval
    rank: Optional[int]  # None: no finished run with a value
    ties: tuple[str, ...]
    best: Optional[RunRecord]  # the cell's best run (its sample grid goes in the report)
    images_per_s: float  # median over runs
    wall_s: float  # mean per run
    cpu_s: float  # mean per run (nan when unknown)
    gpu_s: float  # mean per run
    train_mean: float  # mean of the per-epoch metric at the scored checkpoint (the proxy)
    target_reached: int  # runs that reached the target
    target_s: float  # median training seconds to the target over the runs that reached it
    target_images: float  # median images to the target
    search_curve: tuple[float, ...] = ()  # expected best of k trials, k = 1..K (searched cells)
    errors: tuple[str, ...] = ()
    extras: tuple[ExtraStat, ...] = ()  # in Leaderboard.extras' order


@dataclass(frozen=True)
class Leaderboard:
    title: str
    metric: str
    lower_better: bool
    train_metric: Optional[str]
    rows: tuple[CellRow, ...]  # ranked cells best first, then cells without a number
    runs: tuple[RunRecord, ...]
    protocol: tuple  # the shared protocol entries
    target: Optional[float] = None
    target_metric: Optional[str] = None
    proxy_spearman: Optional[float] = None  # per-epoch metric vs final metric over runs
    notes: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()  # the `also` metrics' full names, as the records carry them


def check_comparable(records: Sequence[RunRecord]) -> tuple:
    """The protocol every record shares; IncomparableError naming what differs otherwise."""
    scored = [r for r in records if r.ok]
    if not scored:
        return ()
    names = sorted({r.metric for r in scored})
    if len(names) > 1:
        by = {n: [f"{r.cell}/{r.seed}" for r in scored if r.metric == n][:3] for n in names}
        raise IncomparableError("cannot rank runs scored by different metrics: " + "; ".join(
            f"{n} ({', '.join(v)})" for n, v in by.items()))
    protos = [dict(r.protocol) for r in scored]
    keys = sorted(set().union(*protos))
    differ = []
    for k in keys:
        vals = {}
        for r, p in zip(scored, protos):
            vals.setdefault(str(p.get(k, "<missing>")), f"{r.cell}/{r.seed}")
        if len(vals) > 1:
            differ.append(f"{k} ({', '.join(f'{v} in {w}' for v, w in list(vals.items())[:3])})")
    if differ:
        raise IncomparableError(f"cannot rank {names[0]}: the runs' protocols differ in "
                                f"{len(differ)} key(s): " + "; ".join(differ))
    return scored[0].protocol


def _median(vals) -> float:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(statistics.median(vals)) if vals else math.nan


def _mean(vals) -> float:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(sum(vals) / len(vals)) if vals else math.nan


def extra_names(records: Sequence[RunRecord]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for r in records for n, _ in r.extras))


def extra_stats(ok: Sequence[RunRecord], names: Sequence[str]) -> tuple[ExtraStat, ...]:
    """Mean and spread of each `also` metric over finished runs; a run that did not log one
    (nan or absent) is left out of that metric's numbers, not counted as zero."""
    out = []
    for name in names:
        vals = [v for r in ok for n, v in r.extras if n == name and v is not None and math.isfinite(v)]
        out.append(ExtraStat(name, _mean(vals), statistics.stdev(vals) if len(vals) > 1 else math.nan, len(vals)))
    return tuple(out)


def build(records: Sequence[RunRecord], title: str, cells: Sequence[str] = (), metric: Optional[str] = None,
          target: Optional[float] = None, searches: Optional[dict[str, Sequence[float]]] = None) -> Leaderboard:
    """`cells` fixes the order of cells without numbers (the suite's order); `searches` maps
    a searched cell to its trials' values (per-epoch metric at the end of each trial)."""
    protocol = check_comparable(records)
    scored = [r for r in records if r.ok]
    name = metric or (scored[0].metric if scored else (records[0].metric if records else None)) or "?"
    lower = lower_is_better(name) if scored else True
    train_metric = next((r.train_metric for r in records if r.train_metric), None)
    train_lower = lower_is_better(train_metric) if train_metric else lower
    order = list(dict.fromkeys([*cells, *(r.cell for r in records)]))
    by_cell = {c: [r for r in records if r.cell == c] for c in order}
    extras = extra_names(records)
    ranked = {x.name: x for x in rank_cells({c: interval([r.value for r in rs if r.ok]) for c, rs in by_cell.items()},
                                           lower)}
    rows = []
    for c in sorted(order, key=lambda c: (c not in ranked, list(ranked).index(c) if c in ranked else order.index(c))):
        rs = by_cell[c]
        ok = [r for r in rs if r.ok]
        best = (min if lower else max)(ok, key=lambda r: r.value) if ok else None
        reach = [(first_reaching([(p.train_s, p.value) for p in r.curve], target, train_lower),
                  first_reaching([(p.images, p.value) for p in r.curve], target, train_lower))
                 for r in ok] if target is not None else []
        reached = [x for x in reach if x[0] is not None]
        rk = ranked.get(c)
        rows.append(CellRow(
            cell=c, n_ok=len(ok), n_failed=sum(r.status == "FAILED" for r in rs),
            interval=rk.interval if rk else interval([]), rank=rk.rank if rk else None,
            ties=rk.ties if rk else (), best=best,
            images_per_s=_median([r.images_per_s for r in ok]), wall_s=_mean([r.wall_s for r in ok]),
            cpu_s=_mean([r.cpu_s for r in ok]), gpu_s=_mean([r.gpu_s for r in ok]),
            train_mean=_mean([r.train_value for r in ok]) if name != train_metric else math.nan,
            target_reached=len(reached), target_s=_median([x[0] for x in reached]),
            target_images=_median([x[1] for x in reached]),
            search_curve=tuple(expected_best((searches or {}).get(c, ()), train_lower)),
            errors=tuple(dict.fromkeys(r.error for r in rs if r.status == "FAILED" and r.error)),
            extras=extra_stats(ok, extras),
        ))
    rho = None
    if train_metric and name != train_metric:
        rho = spearman([r.train_value for r in scored], [r.value for r in scored])
    return Leaderboard(title=title, metric=name, lower_better=lower, train_metric=train_metric, rows=tuple(rows),
                       runs=tuple(records), protocol=protocol, target=target,
                       target_metric=train_metric if target is not None else None, proxy_spearman=rho,
                       extras=extras)
