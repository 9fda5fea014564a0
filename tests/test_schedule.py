"""When a run evaluates, checkpoints and stops (train/schedule.py)."""
from __future__ import annotations

from ganbench import config as C
from ganbench.presets import get_preset
from ganbench.train.schedule import Schedule


def test_evaluates_every_n_and_at_the_end_checkpoints_at_each_evaluation():
    s = Schedule(epochs=7, eval_every=2, checkpoint_every=3)
    plans = {e: s.plan(e) for e in range(1, 8)}
    assert [e for e, p in plans.items() if p.evaluate] == [2, 4, 6, 7]
    assert [e for e, p in plans.items() if p.checkpoint] == [2, 3, 4, 6, 7]
    assert [e for e, p in plans.items() if p.last] == [7]


def test_without_evaluation_only_checkpoints():
    s = Schedule(epochs=4, eval_every=0, checkpoint_every=2)
    assert [e for e in range(1, 5) if s.plan(e).evaluate] == []
    assert [e for e in range(1, 5) if s.plan(e).checkpoint] == [2, 4]


def test_out_of_time_epoch_is_treated_as_the_last():
    s = Schedule(epochs=50, eval_every=10, checkpoint_every=5, max_seconds=60)
    p = s.plan(3, out_of_time=True)
    assert p.last and p.evaluate and p.checkpoint and p.out_of_time
    assert not s.plan(3).last


def test_time_budget():
    assert not Schedule(epochs=1).over_budget(1e9)  # 0 = no budget
    s = Schedule(epochs=1, max_seconds=30)
    assert not s.over_budget(29.9) and s.over_budget(30)


def test_from_config_reads_train_and_eval():
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 9, "checkpoint_every": 4, "max_seconds": 12},
                         eval={"every": 3})
    assert Schedule.from_config(cfg) == Schedule(epochs=9, eval_every=3, checkpoint_every=4, max_seconds=12)
