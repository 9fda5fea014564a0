"""The stats channel: per-interval means, reset after each reduction, and the cross-rank
reduction weighting every reported value equally (not averaging the ranks' means)."""
from __future__ import annotations

import pytest
import torch

from ganbench.train.stats import Stats


def test_reduce_is_the_mean_of_the_interval_then_resets():
    s = Stats()
    for v in (1.0, 2.0, 6.0):
        s.report("loss", torch.tensor(v))
    s.report("acc", torch.tensor([1.0, 0.0, 0.0, 0.0]))  # a tensor counts as its mean
    assert s.reduce() == pytest.approx({"loss": 3.0, "acc": 0.25})
    s.report("loss", 10.0)
    assert s.reduce() == {"loss": 10.0}
    assert s.reduce() == {}


def test_last_is_the_latest_value_and_none_before_any():
    s = Stats()
    assert s.last("loss") is None
    s.report("loss", 1.5)
    s.report("loss", torch.tensor(4.0))
    assert s.last("loss") == 4.0


def test_reported_tensors_keep_no_graph():
    w = torch.ones(3, requires_grad=True)
    s = Stats()
    s.report("loss", (w * 2).sum())
    assert not s._values["loss"][0].requires_grad


def _packed(stats: Stats) -> torch.Tensor:
    """What a rank hands to all_reduce (captured by reducing a copy of its values)."""
    seen = []
    stats.reduce(lambda t: seen.append(t.clone()) or t)
    return seen[0]


def test_cross_rank_reduction_weights_every_value_equally():
    # rank 0 reported 3 values, rank 1 one: the run's mean is over all 4 values.
    rank0, rank1, rank1_copy = Stats(), Stats(), Stats()
    for v in (1.0, 2.0, 3.0):
        rank0.report("loss", v)
    for s in (rank1, rank1_copy):
        s.report("loss", 10.0)
        s.report("gp", 0.5)
    rank0.report("gp", 1.5)
    other = _packed(rank1_copy)
    both = rank0.reduce(lambda t: t + other)  # the sum a 2-rank all_reduce would return
    assert both == pytest.approx({"loss": 4.0, "gp": 1.0})
