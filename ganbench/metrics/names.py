"""Metric names carry their protocol: kind, sample count and backbone (`fid10k_inception`,
`kid2k_digitscnn`), so numbers from different protocols never share a name."""
from __future__ import annotations

from ganbench.config import EvalConfig
from ganbench.errors import ConfigError

SELECTION_METRICS = ("fid", "kid")  # eval.metric: what picks the best checkpoint (lower is better)


def count_tag(n: int) -> str:
    """10000 -> '10k', 2000 -> '2k', 500 -> '500', 2500 -> '2500' (no dots in names)."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def metric_name(kind: str, n: int, backbone: str) -> str:
    return f"{kind}{count_tag(n)}_{backbone}"


def metric_key(eval_cfg: EvalConfig, backbone_name: str) -> str:
    """The name of the number that picks the best checkpoint, e.g. 'fid2k_digitscnn'."""
    if eval_cfg.metric not in SELECTION_METRICS:
        raise ConfigError(f"eval.metric must be one of: {', '.join(SELECTION_METRICS)} (got {eval_cfg.metric!r})")
    return metric_name(eval_cfg.metric, eval_cfg.n_gen, backbone_name)
