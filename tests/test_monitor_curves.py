"""Smoothed loss curves: TensorBoard's debiased EMA checked against its closed forms, and the
curves plot drawn with and without it."""
from __future__ import annotations

import math

import pytest
from PIL import Image

from ganbench.errors import ConfigError
from ganbench.train.monitor import SMOOTHING, ema, plot_curves


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.9, 0.99])
def test_debiased_ema_of_a_constant_is_that_constant(weight):
    # Without debiasing the first value would be (1 - weight) * 3.5, e.g. 0.035 at 0.99.
    assert ema([3.5] * 30, weight) == pytest.approx([3.5] * 30, rel=1e-12)


@pytest.mark.parametrize("weight", [0.6, 0.9])
def test_debiased_ema_of_a_step_lags_as_the_closed_form_says(weight):
    # v_i = 0 for i < s, 1 from s on. Then for n >= s:
    #   last_n = (1 - w) * sum_{j=s}^{n} w^(n-j) = 1 - w^(n-s+1),  out_n = last_n / (1 - w^(n+1)).
    s, total = 5, 40
    out = ema([0.0] * s + [1.0] * (total - s), weight)
    assert out[:s] == [0.0] * s
    for n in range(s, total):
        assert out[n] == pytest.approx((1 - weight ** (n - s + 1)) / (1 - weight ** (n + 1)), rel=1e-12)
    # The lag: right after the step the curve has moved only (1 - w) of the way.
    assert out[s] == pytest.approx((1 - weight) / (1 - weight ** (s + 1)))


def test_ema_starts_at_the_first_value_and_skips_gaps():
    out = ema([2.0, float("nan"), 4.0], 0.5)
    assert out[0] == 2.0 and math.isnan(out[1])
    # The gap is skipped: the second finite point is averaged with the first as if adjacent.
    assert out[2] == pytest.approx((0.5 * 0.5 * 2 + 0.5 * 4) / (1 - 0.25))
    assert ema([1.0, 7.0, -2.0], 0.0) == [1.0, 7.0, -2.0]  # weight 0: the raw curve


@pytest.mark.parametrize("weight", [1.0, -0.1])
def test_a_smoothing_weight_outside_zero_one_is_refused(weight):
    with pytest.raises(ConfigError, match=r"smoothing weight must be in \[0, 1\)"):
        ema([1.0], weight)


def test_plot_curves_with_and_without_smoothing(tmp_path):
    history = [{"epoch": e, "loss_d": 1 / e, "loss_g": 2 + (e % 2), "d_real": 0.7, "d_fake": 0.3}
               for e in range(1, 9)]
    assert 0 < SMOOTHING < 1
    smooth = plot_curves(history, tmp_path / "smooth.png", title="t")  # the old call still works
    raw = plot_curves(history, tmp_path / "raw.png", smoothing=0.0)
    for p in (smooth, raw):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > im.size[1] > 100
    assert smooth.read_bytes() != raw.read_bytes()
