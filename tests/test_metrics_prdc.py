"""Precision/recall, density/coverage, the real-vs-real floor and the metric registry, on
features made here (no network needed)."""
import numpy as np
import pytest
import torch

from ganbench.config import EvalConfig
from ganbench.errors import ConfigError
from ganbench.metrics.backbones import Backbone
from ganbench.metrics.compute import METRICS, MetricInput, compute_metrics, split_halves
from ganbench.metrics.prdc import knn_radii, prdc
from ganbench.metrics.stats_cache import RealStats


def _gauss(n, d=8, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, d)).astype(np.float32)


def test_identical_sets_have_full_precision_recall_and_coverage():
    x = _gauss(300)
    r = prdc(x, x.copy())
    assert r.precision == 1.0 and r.recall == 1.0 and r.coverage == 1.0
    assert r.density == pytest.approx(1.0, abs=0.05)  # each fake sits in its own ball plus ~k-1 others / k


def test_disjoint_sets_score_zero():
    r = prdc(_gauss(300), _gauss(300, shift=50.0, seed=1))
    assert r.precision == 0.0 and r.recall == 0.0 and r.density == 0.0 and r.coverage == 0.0


def test_collapsed_generator_is_precise_but_has_low_recall():
    """Mode collapse: every fake sits near one real point. Fidelity is fine, diversity is not;
    FID would blend the two, these metrics separate them."""
    real = _gauss(400, seed=2)
    fake = real[:1] + 0.001 * _gauss(400, seed=3)
    r = prdc(real, fake)
    assert r.precision == 1.0
    assert r.recall < 0.05 and r.coverage < 0.05


def test_density_counts_balls_on_a_hand_made_case():
    # Reals on a line at 0, 1, 2, ..., 9: the 5th-nearest-neighbour radius of point i is
    # known; one fake at 4.5 falls inside the balls of exactly the reals within that radius.
    real = np.arange(10, dtype=np.float32)[:, None]
    radii = knn_radii(torch.as_tensor(real), (5,))[5]
    assert radii[0].item() == 5.0 and radii[5].item() == 3.0
    fake = np.array([[4.5]] * 6, np.float32)
    r = prdc(real, fake)
    inside = sum(abs(4.5 - i) < radii[i].item() for i in range(10))
    assert r.density == pytest.approx(inside / 5)
    assert r.coverage == pytest.approx(inside / 10)


def test_too_few_samples_for_k_is_a_clear_error():
    with pytest.raises(ConfigError, match="more than 5 samples"):
        prdc(_gauss(5), _gauss(5))


class _FakeBackbone(Backbone):
    name, dim = "fake", 8

    def __init__(self):  # no network: features are given directly
        pass


def _input(gen, ref, **kw):
    return MetricInput(gen=RealStats.from_features(gen, {}), ref=RealStats.from_features(ref, {}),
                       backbone=_FakeBackbone(), cfg=EvalConfig(kid_subsets=10, kid_subset_size=100), **kw)


def test_registry_names_values_by_protocol_and_reports_skips():
    values, protocol = compute_metrics(_input(_gauss(200), _gauss(400, seed=1)))
    assert {"fid200_fake", "kid200_fake", "pr2003_fake_precision", "pr2003_fake_recall",
            "dc2005_fake_density", "dc2005_fake_coverage", "fid200_fake_floor", "kid200_fake_floor"} <= set(values)
    assert protocol["classes_skipped"] and protocol["memorization_skipped"]  # named, not silently absent
    assert protocol["prdc_n_real"] == 200  # the reference is cut to A's count
    assert set(METRICS.names()) >= {"fid", "kid", "prdc", "classes", "memorization", "floor"}


def test_floor_is_small_for_one_distribution_and_fid_grows_with_shift():
    ref = _gauss(2000, seed=4)
    same, _ = compute_metrics(_input(_gauss(1000, seed=5), ref))
    far, _ = compute_metrics(_input(_gauss(1000, shift=1.0, seed=6), ref))
    assert same["fid1k_fake_floor"] < 0.2 * far["fid1k_fake"]
    assert same["fid1k_fake"] < far["fid1k_fake"]
    assert same["fid1k_fake_floor"] == far["fid1k_fake_floor"]  # depends on the reference only


def test_fid_is_skipped_with_a_reason_when_samples_do_not_exceed_dims():
    values, protocol = compute_metrics(_input(_gauss(8), _gauss(400)))
    assert "fid8_fake" not in values and "8 feature dims" in protocol["fid_skipped"]
    assert "kid8_fake" in values


def test_split_halves_are_disjoint_and_equal():
    x = np.arange(101, dtype=np.float32)[:, None]
    a, b = split_halves(x, 0)
    assert len(a) == len(b) == 50 and not set(a[:, 0]) & set(b[:, 0])
