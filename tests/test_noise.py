"""The one noise recipe (ganbench/noise.py): batch-size independence, truncation, labels, slerp."""
from __future__ import annotations

import numpy as np
import pytest

from ganbench import noise
from ganbench.errors import ConfigError


def test_row_i_depends_only_on_seed_and_i():
    big = noise.latent(50, 16, seed=7)
    assert big.dtype == np.float32 and big.shape == (50, 16)
    for n in (1, 3, 49):
        assert np.array_equal(noise.latent(n, 16, seed=7), big[:n])
    assert not np.array_equal(noise.latent(3, 16, seed=8), big[:3])
    # The documented recipe, written out: anyone with numpy can redraw a sample.
    assert np.array_equal(big, np.random.default_rng(7).standard_normal((50, 16), dtype=np.float32))


def test_truncation_scales_towards_the_mean_and_leaves_infogan_codes():
    z = noise.latent(6, 10, seed=1)
    assert np.array_equal(noise.latent(6, 10, seed=1, truncation=1.0), z)
    assert np.allclose(noise.latent(6, 10, seed=1, truncation=0.5), 0.5 * z)
    assert not noise.latent(6, 10, seed=1, truncation=0.0).any()
    codes = noise.latent(6, 10, seed=1, truncation=0.0, n_cont=3)
    assert not codes[:, :7].any() and np.array_equal(codes[:, 7:], z[:, 7:])


@pytest.mark.parametrize("psi", [-0.1, 1.5, float("nan"), float("inf"), "0.5", True, None])
def test_bad_truncation_is_one_clear_error(psi):
    with pytest.raises(ConfigError, match="truncation"):
        noise.latent(2, 4, seed=0, truncation=psi)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seed_is_one_clear_error(seed):
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        noise.latent(2, 4, seed=seed)


def test_class_ids():
    assert noise.class_ids(5, 0) is None
    assert noise.class_ids(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert noise.class_ids(3, 10, [4]).tolist() == [4, 4, 4]
    assert noise.class_ids(3, 10, [1, 9, 0]).tolist() == [1, 9, 0]
    assert noise.class_ids(3, 10, [4]).dtype == np.int64
    for labels, needle in (([1, 2], "n=3"), ([10], "0..9"), ([-1], "0..9"), (["a"], "class ids"), ([[1]], "ids")):
        with pytest.raises(ConfigError, match=needle):
            noise.class_ids(3, 10, labels)
    with pytest.raises(ConfigError, match="unconditional"):
        noise.class_ids(3, 0, [1])


def test_slerp_runs_end_to_end_on_the_sphere():
    a, b = noise.latent(2, 64, seed=3)
    path = noise.slerp(a, b, 9)
    assert path.shape == (9, 64) and path.dtype == np.float32
    assert np.allclose(path[0], a, atol=1e-5) and np.allclose(path[-1], b, atol=1e-5)
    # The midpoint keeps a typical norm; a straight line's midpoint would be ~1/sqrt(2) shorter.
    mid, line_mid = np.linalg.norm(path[4]), np.linalg.norm((a + b) / 2)
    assert mid > 1.2 * line_mid
    assert np.allclose(noise.slerp(a, a, 3), np.stack([a] * 3), atol=1e-6)  # degenerate arc: no NaN
