"""The numbers themselves: Fréchet distance, KID, memorisation/MiFID, classifier scores,
metric names. Pure numpy/torch on synthetic features: no backbone, no data."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from ganbench.config import EvalConfig
from ganbench.errors import ConfigError
from ganbench.metrics.classes import class_coverage, class_shares, classifier_score
from ganbench.metrics.frechet import frechet_distance, stats_from_features
from ganbench.metrics.kid import kid
from ganbench.metrics.memorization import memorization_summary, mifid, nearest_cosine_distance
from ganbench.metrics.names import count_tag, metric_key


def _gauss(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ a) * scale + shift


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")
def test_frechet_matches_direct_scipy_and_pytorch_fid():
    x, y = _gauss(600, 16, 0), _gauss(700, 16, 1, shift=0.3, scale=1.5)
    (m1, s1), (m2, s2) = stats_from_features(x), stats_from_features(y)
    direct = float(np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    ours = frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(direct, rel=1e-8)
    from pytorch_fid.fid_score import calculate_frechet_distance

    assert ours == pytest.approx(float(calculate_frechet_distance(m1, s1, m2, s2)), rel=1e-10)


def test_fid_of_a_set_with_itself_is_zero():
    m, s = stats_from_features(_gauss(500, 32, 2))
    assert abs(frechet_distance(m, s, m, s)) < 1e-6


def test_fid_refuses_fewer_samples_than_dims():
    with pytest.raises(ConfigError, match=r"FID needs more samples than feature dimensions: got 64 samples "
                                          r"for 64-dim features; use n >= 65 or KID"):
        stats_from_features(_gauss(64, 64, 0))


def test_frechet_rejects_mismatched_stats():
    m, s = stats_from_features(_gauss(100, 8, 0))
    with pytest.raises(ConfigError, match="same backbone"):
        frechet_distance(m, s, m[:4], s[:4, :4])


def test_kid_is_unbiased_on_one_distribution_and_positive_on_two():
    halves = [np.split(_gauss(2000, 32, 0, shift=0.2)[np.random.default_rng(s).permutation(2000)], 2)
              for s in range(8)]
    same = [kid(a, b, subsets=20, subset_size=500, seed=s).mean for s, (a, b) in enumerate(halves)]
    spread = np.std(same)
    assert abs(np.mean(same)) < spread  # expectation 0: the mean over draws sits well inside their spread
    x = _gauss(2000, 32, 0, shift=0.2)
    r = kid(x[:1000], x[1000:] + 0.3, subsets=20, subset_size=500)
    assert r.mean > 10 * max(spread, r.std)


def test_kid_clips_the_subset_size_and_says_so():
    r = kid(_gauss(300, 8, 0), _gauss(200, 8, 1), subsets=5, subset_size=1000)
    assert (r.subset_size, r.clipped) == (200, True)
    assert not kid(_gauss(300, 8, 0), _gauss(300, 8, 1), subsets=5, subset_size=100).clipped


def test_memorisation_of_copies_is_zero_and_mifid_penalises_it():
    real = _gauss(400, 16, 0)
    d = nearest_cosine_distance(real[:100], real)
    assert d.max() < 1e-5
    s = memorization_summary(d)
    assert s["mean"] < 1e-5 and s["frac_below"] == 1.0
    assert mifid(5.0, s["mean"]) > 1e4 * 5.0
    # Far from every real sample: d >= eps leaves FID as it is (Kaggle's threshold rule).
    assert mifid(5.0, 0.5) == 5.0
    assert mifid(5.0, 0.1) == pytest.approx(50.0)


def test_classifier_score_and_coverage():
    k = 10
    sharp_diverse = np.eye(k)[np.arange(1000) % k]
    assert classifier_score(sharp_diverse) == pytest.approx(k, rel=1e-6)
    assert class_coverage(sharp_diverse, k) == 1.0
    collapsed = np.eye(k)[np.zeros(1000, int)]
    assert classifier_score(collapsed) == pytest.approx(1.0, rel=1e-6)
    assert class_coverage(collapsed, k) == 0.1
    assert classifier_score(np.full((100, k), 1 / k)) == pytest.approx(1.0)


def test_metric_names_carry_count_and_backbone():
    assert [count_tag(n) for n in (500, 2000, 10000, 50000, 2500)] == ["500", "2k", "10k", "50k", "2500"]
    assert metric_key(EvalConfig(n_gen=2000), "digitscnn") == "fid2k_digitscnn"
    assert metric_key(EvalConfig(n_gen=10000, metric="kid"), "inception") == "kid10k_inception"
    with pytest.raises(ConfigError, match="eval.metric must be one of: fid, kid"):
        metric_key(EvalConfig(metric="is"), "inception")


def test_class_shares_count_argmax_labels():
    probs = np.eye(4)[[0, 0, 0, 1, 2, 2, 3, 3]]  # 3/8 of class 0, 1/8 of class 1
    shares = class_shares(probs * 0.7 + 0.075, 4)  # soft but the same argmax
    assert shares.tolist() == [0.375, 0.125, 0.25, 0.25]
    assert class_shares(np.eye(5)[[4, 4]], 5).tolist() == [0, 0, 0, 0, 1.0]  # an unseen class has share 0
