"""The typed records that travel between the layers of a training run.

TrackingHandle goes down (driver -> launcher -> worker: which MLflow run to log to);
LoopSummary comes back up from the worker (rank 0's), TrainResult from `train()`.
All are plain frozen dataclasses, so they pickle across Ray and print as JSON.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

# Defined beside the MLflow store (which takes it) and re-exported here, its layer's place:
# train -> tracking_store, never back.
from ganbench.tracking_store import TrackingHandle  # noqa: F401
from ganbench.train.final_eval import FinalEval


@dataclass(frozen=True)
class LoopSummary:
    """What one worker's loop ends with (rank 0's is the run's)."""

    status: str  # finished | pruned | diverged
    final_metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    loader: Optional[str] = None
    device: Optional[str] = None
    world_size: int = 1
    data: str = ""
    message: str = ""  # why, when diverged


@dataclass(frozen=True)
class TrainResult:
    """What `train(cfg)` returns (and `ganbench train` prints as its JSON line)."""

    run_id: Optional[str]
    tracking_uri: Optional[str]
    run_dir: str
    best_checkpoint: Optional[str]
    last_checkpoint: Optional[str]
    final_metrics: dict
    status: str
    score_key: Optional[str]
    best_score: Optional[float]
    final_eval: Optional[FinalEval]
    loader: Optional[str]
    device: Optional[str]
    workers: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.final_eval is not None:  # the JSON keeps the protocol (which names the checkpoint)
            d["final_eval"] = {"metrics": self.final_eval.metrics, "protocol": self.final_eval.protocol}
        return d
