"""The leaderboard's arithmetic on hand-made numbers: intervals, ranks with ties, the
refusal to rank mixed metrics or protocols, Spearman, expected best of k trials."""
from __future__ import annotations

import math

import pytest

from ganbench.bench.leaderboard import IncomparableError, build, check_comparable
from ganbench.bench.records import CurvePoint, RunRecord
from ganbench.bench.stats import (expected_best, first_reaching, interval, lower_is_better, rank_cells,
                                  spearman)
from ganbench.errors import ConfigError


def test_interval_is_student_t_over_seeds():
    iv = interval([10.0, 12.0, 14.0])
    assert iv.n == 3 and iv.mean == pytest.approx(12.0) and iv.std == pytest.approx(2.0)
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n)
    assert (iv.low, iv.high) == (pytest.approx(12 - half), pytest.approx(12 + half))
    one = interval([5.0])
    assert one.mean == 5.0 and math.isnan(one.std) and one.low == -math.inf and one.high == math.inf
    assert interval([]).n == 0 and interval([1.0, float("nan"), 3.0]).n == 2  # non-finite values are dropped


def test_ranks_share_places_when_intervals_overlap():
    cells = {"a": interval([1.0, 1.2, 1.1]), "b": interval([1.15, 1.3, 1.2]), "c": interval([5.0, 5.1, 5.2])}
    ranked = rank_cells(cells, lower_better=True)
    assert [r.name for r in ranked] == ["a", "b", "c"]
    by = {r.name: r for r in ranked}
    assert by["a"].rank == 1 and by["b"].rank == 1  # overlapping: a tie at the top
    assert by["a"].ties == ("b",) and by["b"].ties == ("a",)
    assert by["c"].rank == 3 and by["c"].ties == ()  # beaten beyond doubt by both
    up = {r.name: r for r in rank_cells(cells, lower_better=False)}  # precision-like: higher is better
    assert up["c"].rank == 1 and up["a"].rank == 2 and up["b"].rank == 2
    single = {r.name: r for r in rank_cells({"x": interval([1.0]), "y": interval([9.0, 9.1])})}
    assert single["x"].rank == 1 and single["y"].rank == 1 and single["y"].ties == ("x",)  # one seed proves nothing


def test_metric_directions():
    assert lower_is_better("fid10k_inception") and lower_is_better("final/kid10k_inception")
    assert not lower_is_better("pr10k3_inception_precision") and not lower_is_better("dc10k5_inception_density")
    assert not lower_is_better("final/pr10k3_inception_recall")
    with pytest.raises(ConfigError, match="cannot rank by 'loss_g'"):
        lower_is_better("loss_g")


def test_spearman_expected_best_and_target():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None
    curve = expected_best([3.0, 1.0, 2.0])
    assert curve[0] == pytest.approx(2.0) and curve[-1] == pytest.approx(1.0)
    assert curve[1] == pytest.approx((1 + 1 + 2) / 3)  # pairs {1,2},{1,3},{2,3} -> mins 1, 1, 2
    assert expected_best([3.0, 1.0, 2.0], lower_better=False)[-1] == pytest.approx(3.0)
    assert first_reaching([(1.0, 9.0), (2.0, 4.0), (3.0, 2.0)], 5.0) == 2.0
    assert first_reaching([(1.0, 9.0)], 5.0) is None


def rec(cell, seed, value, metric="fid300_digitscnn", protocol=(("backbone", "digitscnn"), ("n_gen", "300")),
        status="FINISHED", train_value=None):
    curve = (CurvePoint(1, value + 5, 1.0, 100), CurvePoint(2, value, 2.0, 200))
    return RunRecord(run_id=f"{cell}{seed}", cell=cell, seed=seed, status=status, error="" if status == "FINISHED"
                     else "DataError: gone", metric=metric, value=value if status == "FINISHED" else None,
                     train_metric="fid300_digitscnn", train_value=train_value, protocol=protocol, curve=curve,
                     wall_s=3.0, cpu_s=2.5, gpu_s=0.0, images_per_s=100.0, images=200, samples=None)


def test_refuses_to_rank_mixed_metrics_and_protocols_naming_the_keys():
    with pytest.raises(IncomparableError, match="different metrics: fid300_digitscnn .*fid500_digitscnn"):
        check_comparable([rec("a", 0, 1.0), rec("b", 0, 2.0, metric="fid500_digitscnn")])
    other = (("backbone", "inception"), ("n_gen", "300"))
    with pytest.raises(IncomparableError, match=r"differ in 1 key\(s\): backbone \(digitscnn in a/0, inception in b/0\)"):
        build([rec("a", 0, 1.0), rec("a", 1, 1.1), rec("b", 0, 2.0, protocol=other)], "t")
    # failed runs have no number: they do not block the ranking
    assert check_comparable([rec("a", 0, 1.0), rec("b", 0, 0, status="FAILED", protocol=())]) == rec("a", 0, 1).protocol


def test_leaderboard_rows_cost_target_and_proxy():
    records = [rec("a", 0, 10.0, metric="final/fid10k_inception", train_value=1.0),
               rec("a", 1, 10.2, metric="final/fid10k_inception", train_value=2.0),
               rec("b", 0, 20.0, metric="final/fid10k_inception", train_value=3.0),
               rec("b", 1, 20.2, metric="final/fid10k_inception", train_value=4.0),
               rec("c", 0, 0, metric="final/fid10k_inception", status="FAILED")]
    lb = build(records, "t", cells=["c", "b", "a"], target=17.0, searches={"b": [3.0, 1.0]})
    assert [r.cell for r in lb.rows] == ["a", "b", "c"]  # ranked first, best first; then cells without numbers
    a, b, c = lb.rows
    assert a.rank == 1 and b.rank == 2 and c.rank is None and c.n_failed == 1 and c.errors == ("DataError: gone",)
    assert a.best.run_id == "a0" and a.cpu_s == 2.5 and a.train_mean == pytest.approx(1.5)
    assert a.target_reached == 2 and a.target_s == 1.0 and a.target_images == 100  # 15 <= 17 at epoch 1
    assert b.search_curve == (2.0, 1.0)
    assert lb.proxy_spearman == pytest.approx(1.0)
