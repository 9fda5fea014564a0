"""How something outside training (a tuner's pruner) watches a run and may stop it.

The loop's rank 0 calls `observer.report(epoch, score)` after every evaluation; an observer
that wants the run stopped raises `StopRun`. The decision is then broadcast, so every rank
stops at the same epoch. The observer is handed to `train()` and shipped to the workers, so
it must pickle; it should connect to whatever it reports to on its first `report`.
Optuna's observer lives in tuning/pruning.py: nothing here knows about Optuna.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


class StopRun(Exception):
    """Raised by an observer: stop this run after the current epoch (status `pruned`)."""


@runtime_checkable
class EpochObserver(Protocol):
    def report(self, epoch: int, score: float) -> None:
        """Record the score of `epoch`'s evaluation; raise StopRun to stop the run."""
