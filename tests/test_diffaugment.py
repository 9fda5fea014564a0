"""DiffAugment: each op differentiable, shape-keeping, seeded, per-sample; policies validated."""
from __future__ import annotations

import pytest
import torch

from ganbench import config as C
from ganbench.augment import (AUGMENTS, AUTO_MAX_IMAGES, AUTO_POLICY, augment_pair, check_augment_config, color,
                              cutout, diff_augment, parse_policy, resolve_policy, translation)
from ganbench.errors import ConfigError

OPS = ["color", "translation", "cutout"]


def images(n=4, c=3, side=16, seed=0, dtype=torch.float32):
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1


def test_registry_holds_the_papers_three_ops():
    assert AUGMENTS.names() == sorted(OPS)


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_each_op(op):
    x = images(2, 3, 8, dtype=torch.float64).requires_grad_(True)
    # The same draws on every call: gradcheck evaluates the function many times.
    fn = lambda t: AUGMENTS.get(op)(t, torch.Generator().manual_seed(3))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


def test_gradients_reach_the_generator_through_the_full_policy():
    w = torch.tensor(0.7, requires_grad=True)
    fake = images(4) * w
    out = diff_augment(fake, AUTO_POLICY, torch.Generator().manual_seed(0))
    out.square().sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad) and w.grad != 0


def test_empty_policy_is_identity():
    x = images()
    assert diff_augment(x, "", torch.Generator().manual_seed(0)) is x
    assert diff_augment(x, "  ") is x


@pytest.mark.parametrize("policy", OPS + [AUTO_POLICY, "cutout,color"])
@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 32), (2, 3, 7, 9)])
def test_shape_and_dtype_kept(policy, shape):
    x = torch.rand(*shape, dtype=torch.float64) * 2 - 1
    y = diff_augment(x, policy, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()


def test_seeded_generator_is_deterministic_and_seeds_differ():
    x = images()
    a = diff_augment(x, AUTO_POLICY, torch.Generator().manual_seed(5))
    b = diff_augment(x, AUTO_POLICY, torch.Generator().manual_seed(5))
    c = diff_augment(x, AUTO_POLICY, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def _shifted(img, dy, dx):
    """img (C, H, W) moved down dy and right dx, zeros where nothing moved in."""
    out = torch.zeros_like(img)
    h, w = img.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_translation_is_a_zero_padded_shift_of_at_most_an_eighth():
    x = images(32, 3, 16)  # 16 px: shifts of -2..2 each way
    y = translation(x, torch.Generator().manual_seed(0))
    seen = set()
    for img, out in zip(x, y):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(out, _shifted(img, dy, dx))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 5  # per-sample shifts, not one for the batch


def test_cutout_zeros_one_clipped_square_of_half_the_side():
    x = torch.ones(32, 1, 16, 16)
    y = cutout(x, torch.Generator().manual_seed(0))
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    sizes = set()
    for out in y[:, 0]:
        rows, cols = (out == 0).nonzero(as_tuple=True)
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        assert (out[r0:r1 + 1, c0:c1 + 1] == 0).all()  # one filled rectangle
        assert 1 <= r1 - r0 + 1 <= 8 and 1 <= c1 - c0 + 1 <= 8
        sizes.add(int((out == 0).sum()))
    assert 64 in sizes and len(sizes) > 1  # whole squares inside, clipped ones at the border


def test_cutout_keeps_the_other_pixels():
    x = images(8, 3, 16)
    y = cutout(x, torch.Generator().manual_seed(0))
    kept = y != 0
    assert torch.equal(y[kept], x[kept]) and (~kept).any()


def test_color_on_a_flat_grey_image_is_a_per_sample_brightness_shift():
    # Saturation and contrast leave a flat grey image alone, so only brightness is left.
    x = torch.linspace(-0.8, 0.8, 16).view(16, 1, 1, 1).expand(16, 3, 8, 8).contiguous()
    y = color(x, torch.Generator().manual_seed(0))
    shift = (y - x)[:, 0, 0, 0]
    assert torch.allclose(y - x, shift.view(16, 1, 1, 1).expand_as(x), atol=1e-6)
    assert (shift.abs() <= 0.5).all() and shift.unique().numel() == 16


def test_saturation_is_a_no_op_on_one_channel_images():
    gray = images(6, 1, 8)
    one = color(gray, torch.Generator().manual_seed(2))
    three = color(gray.repeat(1, 3, 1, 1), torch.Generator().manual_seed(2))
    assert torch.allclose(three, one.repeat(1, 3, 1, 1), atol=1e-6)


def test_color_changes_saturation_of_colour_images():
    x = images(16, 3, 8)
    y = color(x, torch.Generator().manual_seed(0))
    spread = lambda t: (t - t.mean(1, keepdim=True)).abs().mean((1, 2, 3))  # noqa: E731
    ratio = spread(y) / spread(x)
    assert ratio.min() < 0.7 and ratio.max() > 1.3  # per sample, both ways


def test_pair_draws_independently_for_real_and_fake():
    x = images(8)
    real, fake = augment_pair(x, x.clone(), AUTO_POLICY, torch.Generator().manual_seed(0))
    assert real.shape == fake.shape == x.shape
    assert not torch.equal(real, fake)
    per_sample_equal = [torch.equal(a, b) for a, b in zip(real, fake)]
    assert not any(per_sample_equal)


@pytest.mark.parametrize("policy, needle", [
    ("colour", "unknown op 'colour'"),
    ("color,flip", "unknown op 'flip'"),
    ("color,,cutout", "unknown op ''"),
])
def test_unknown_ops_are_one_line_config_errors_listing_the_valid_ones(policy, needle):
    with pytest.raises(ConfigError, match=needle) as e:
        check_augment_config(C.AugmentConfig(policy=policy))
    assert "\n" not in str(e.value) and "color, cutout, translation" in str(e.value)


def test_repeated_op_is_refused():
    with pytest.raises(ConfigError, match="'cutout' twice"):
        check_augment_config(C.AugmentConfig(policy="cutout,color,cutout"))


def test_policy_parsing_keeps_order_and_trims():
    assert parse_policy(" translation , color ") == ("translation", "color")
    assert parse_policy("") == ()


@pytest.mark.parametrize("data, n, want", [
    ("folder:/art", 2800, AUTO_POLICY),
    ("folder:/art", AUTO_MAX_IMAGES - 1, AUTO_POLICY),
    ("folder:/big", AUTO_MAX_IMAGES, ""),
    ("mnist", 5000, ""),
    ("cifar10", 50000, ""),
])
def test_auto_is_on_only_for_small_folders(data, n, want):
    assert resolve_policy(C.AugmentConfig(policy="auto"), data, n) == want


def test_explicit_policy_is_kept_whatever_the_data():
    assert resolve_policy(C.AugmentConfig(policy="cutout"), "mnist", 60000) == "cutout"
    with pytest.raises(ConfigError):
        resolve_policy(C.AugmentConfig(policy="nope"), "folder:/x", 10)


def test_policy_set_from_the_command_line():
    cfg = C.merge(C.RunConfig(), C.parse_overrides(["augment.policy=color,translation"]))
    assert cfg.augment.policy == "color,translation"
    assert C.from_yaml(C.to_yaml(cfg)) == cfg
    assert C.flatten(cfg)["augment.policy"] == "color,translation"
