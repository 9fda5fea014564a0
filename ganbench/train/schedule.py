"""When to evaluate, checkpoint and stop: decided per epoch end, from the config alone.

- evaluate every `eval.every` epochs, and at the last epoch;
- checkpoint every `train.checkpoint_every` epochs, at every evaluation (so the best by
  score can be kept) and at the last epoch;
- the last epoch is `train.epochs`, or the first epoch end past `train.max_seconds`, which
  is then evaluated and checkpointed like a planned last epoch.

Pure: the clock's reading is handed in (the loop broadcasts rank 0's, so ranks agree).
"""
from __future__ import annotations

from dataclasses import dataclass

from ganbench.config import RunConfig


@dataclass(frozen=True)
class EpochPlan:
    evaluate: bool
    checkpoint: bool
    last: bool
    out_of_time: bool


@dataclass(frozen=True)
class Schedule:
    epochs: int
    eval_every: int = 0  # 0: no evaluation during training
    checkpoint_every: int = 1
    max_seconds: float = 0.0  # 0: no time budget

    @classmethod
    def from_config(cls, cfg: RunConfig) -> "Schedule":
        t = cfg.train
        return cls(t.epochs, cfg.eval.every, t.checkpoint_every, t.max_seconds)

    def over_budget(self, elapsed_s: float) -> bool:
        return self.max_seconds > 0 and elapsed_s >= self.max_seconds

    def plan(self, epoch: int, out_of_time: bool = False) -> EpochPlan:
        """What to do at the end of `epoch` (1-based: the epoch just trained)."""
        last = epoch >= self.epochs or out_of_time
        evaluate = bool(self.eval_every) and (last or epoch % self.eval_every == 0)
        checkpoint = last or evaluate or epoch % self.checkpoint_every == 0
        return EpochPlan(evaluate, checkpoint, last, out_of_time)
