"""Checkpoint retention (the best by score, plus always the latest) in a local session and as
the pure rule, and picking the best checkpoint."""
from __future__ import annotations

import math
from pathlib import Path

from ganbench.checkpoint import CheckpointRecord, pick_best, retained
from ganbench.distributed import LocalSession


def _report(session: LocalSession, tmp: Path, epoch: int, score: float | None) -> None:
    src = tmp / f"src{epoch}"
    src.mkdir()
    (src / "state.pt").write_text(str(epoch))
    metrics = {"epoch": epoch}
    if score is not None:
        metrics["fid"] = score
    session.report(metrics, epoch, src)


def test_keeps_best_scored_and_latest(tmp_path):
    s = LocalSession(run_dir=tmp_path / "run", keep=2, score_key="fid")
    scores = {1: math.nan, 2: 30.0, 3: math.nan, 4: 10.0, 5: 50.0, 6: math.nan}
    for e, v in scores.items():
        _report(s, tmp_path, e, v)
    kept = sorted(int(p.name[-4:]) for p in (tmp_path / "run").iterdir())
    assert kept == [2, 4, 6]  # two best scores + the latest (unscored) one
    assert sorted(c.epoch for c in s.checkpoints) == kept


def test_without_score_keeps_the_latest(tmp_path):
    s = LocalSession(run_dir=tmp_path / "run", keep=2)
    for e in range(1, 6):
        _report(s, tmp_path, e, None)
    assert sorted(int(p.name[-4:]) for p in (tmp_path / "run").iterdir()) == [4, 5]


def _records(scores: dict) -> list[CheckpointRecord]:
    return [CheckpointRecord(f"ck{e}", e, {} if v is None else {"fid": v}) for e, v in scores.items()]


def test_retained_keeps_best_scored_and_latest_without_io():
    recs = _records({1: None, 2: 30.0, 3: math.nan, 4: 10.0, 5: 50.0, 6: None})
    assert [c.epoch for c in retained(recs, 2, "fid")] == [2, 4, 6]
    assert [c.epoch for c in retained(recs, 2, None)] == [5, 6]
    assert [c.epoch for c in retained(recs, 10, "fid")] == [1, 2, 3, 4, 5, 6]


def test_pick_best_is_the_lowest_score_else_the_last():
    pick = pick_best(_records({1: 20.0, 2: 5.0, 3: None, 4: 7.0}), "fid")
    assert (pick.best, pick.last, pick.best_score, pick.best_epoch) == ("ck2", "ck4", 5.0, 2)
    unscored = pick_best(_records({1: None, 2: None}), "fid")
    assert (unscored.best, unscored.last, unscored.best_score) == ("ck2", "ck2", None)
    assert pick_best([], "fid").best is None
