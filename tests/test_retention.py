"""Checkpoint retention in a local session: the best by score, plus always the latest."""
from __future__ import annotations

import math
from pathlib import Path

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
