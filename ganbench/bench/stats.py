"""The numbers behind a leaderboard: intervals over seeds, ranks with ties, rank correlation,
and the expected best score against a search budget. Pure functions on floats (tested on
hand-made numbers), no MLflow, no plotting.

Intervals are Student-t 95% intervals of the mean over seeds: with the 3-5 seeds a suite
can afford, a bootstrap interval is too narrow (it cannot see beyond the observed spread).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

LOWER_IS_BETTER_PREFIXES = ("fid", "kid", "mifid", "final/fid", "final/kid", "final/mifid")
HIGHER_IS_BETTER_SUFFIXES = ("_precision", "_recall", "_density", "_coverage")
HIGHER_IS_BETTER_PREFIXES = ("cs", "coverage", "final/cs", "final/coverage")


def lower_is_better(metric: str) -> bool:
    """fid/kid (distances) are lower-is-better; precision/recall/density/coverage and the
    classifier score are higher-is-better. Anything else is refused rather than guessed."""
    if metric.endswith(HIGHER_IS_BETTER_SUFFIXES) or metric.startswith(HIGHER_IS_BETTER_PREFIXES):
        return False
    if metric.startswith(LOWER_IS_BETTER_PREFIXES):
        return True
    from ganbench.errors import ConfigError

    raise ConfigError(f"cannot rank by {metric!r}: not a known kind (fid, kid, mifid: lower is better; "
                      f"*_precision, *_recall, *_density, *_coverage, cs: higher is better)")


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); nan for one value
    low: float  # 95% Student-t interval of the mean; (-inf, inf) for one value: nothing is known
    high: float


def t_quantile(p: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))


def interval(values: Sequence[float], level: float = 0.95) -> Interval:
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(vals)
    if n == 0:
        return Interval(0, math.nan, math.nan, -math.inf, math.inf)
    mean = sum(vals) / n
    if n == 1:
        return Interval(1, mean, math.nan, -math.inf, math.inf)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Ranked:
    name: str
    interval: Interval
    rank: int  # 1 + the number of cells whose whole interval is better than this one's
    ties: tuple[str, ...]  # cells whose intervals overlap this one's


def rank_cells(cells: dict[str, Interval], lower_better: bool = True) -> list[Ranked]:
    """Best first (by mean). A cell is only ranked below another when their intervals do not
    overlap, so cells the seeds cannot tell apart share a rank and list each other as ties."""

    def better(a: Interval, b: Interval) -> bool:  # a is better than b beyond doubt
        return a.high < b.low if lower_better else a.low > b.high

    def overlap(a: Interval, b: Interval) -> bool:
        return a.low <= b.high and b.low <= a.high

    scored = {k: v for k, v in cells.items() if v.n}
    order = sorted(scored, key=lambda k: scored[k].mean if lower_better else -scored[k].mean)
    out = []
    for name in order:
        iv = scored[name]
        rank = 1 + sum(better(scored[o], iv) for o in order if o != name)
        ties = tuple(o for o in order if o != name and overlap(scored[o], iv))
        out.append(Ranked(name, iv, rank, ties))
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    """Rank correlation of paired values (average ranks for ties); None below 3 pairs."""
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 3:
        return None
    from scipy.stats import spearmanr

    rho = spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic
    return None if rho != rho else float(rho)


def expected_best(values: Sequence[float], lower_better: bool = True) -> list[float]:
    """E[best of k trials] for k = 1..n, trials drawn without replacement from `values`
    (Lucic et al.'s best-score-against-budget curve, exact instead of bootstrapped): with
    values sorted best first, the best of k is the i-th with probability C(n-i, k-1) / C(n, k)."""
    vals = sorted((float(v) for v in values if v is not None and math.isfinite(v)), reverse=not lower_better)
    n = len(vals)
    out = []
    for k in range(1, n + 1):
        total = math.comb(n, k)
        out.append(sum(math.comb(n - i, k - 1) / total * v for i, v in enumerate(vals, start=1)))
    return out


def first_reaching(curve: Sequence[tuple[float, float]], target: float, lower_better: bool = True) -> Optional[float]:
    """The cost (seconds or images) of the first point of a (cost, value) curve that reaches
    `target`; None when the run never gets there."""
    for cost, value in curve:
        if value is not None and math.isfinite(value) and (value <= target if lower_better else value >= target):
            return cost
    return None
