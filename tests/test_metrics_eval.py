"""Metrics on real data and real generators: FID follows image damage, the reference
statistics are cached, the Evaluator's names/protocol/modes, memorisation end to end, and
feature extraction split over two (simulated) ranks."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.config import DataConfig, EvalConfig, ModelConfig
from ganbench.errors import ConfigError
from ganbench.metrics import stats_cache
from ganbench.metrics.classifier import classifier_backbone
from ganbench.metrics.evaluate import Evaluator
from ganbench.metrics.frechet import frechet_distance, stats_from_features
from ganbench.metrics.kid import kid
from ganbench.metrics.real_images import iter_images, load_source, source_labels
from ganbench.metrics.stats_cache import real_stats
from ganbench.models import GanModels, build_models

DIGITS = DataConfig(name="digits", resolution=28, channels=1)


@pytest.fixture(scope="module")
def digits_cnn(metrics_cache):
    return classifier_backbone(DIGITS, metrics_cache)


@pytest.fixture(scope="module")
def digits():
    src = load_source(DIGITS, verbose=False)
    return torch.cat(list(iter_images(src, DIGITS, np.arange(src.num_images))))


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, sigma in pixels, reflect padding."""
    if sigma <= 0:
        return x
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


def test_fid_grows_with_noise_and_blur(digits, digits_cnn):
    perm = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    ref, probe = digits[perm[:900]], digits[perm[900:]]
    mu_r, s_r = stats_from_features(digits_cnn.features(ref))
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(probe.shape, generator=g)

    def fid(x):
        return frechet_distance(*stats_from_features(digits_cnn.features(x)), mu_r, s_r)

    noised = [fid((probe + s * noise).clamp(-1, 1)) for s in (0, 0.1, 0.3, 0.6)]
    blurred = [fid(blur(probe, s)) for s in (0, 0.5, 1.0, 2.0)]  # sigma in pixels of the 28 px images
    assert noised == sorted(noised) and len(set(noised)) == 4, noised
    assert blurred == sorted(blurred) and len(set(blurred)) == 4, blurred
    assert noised[0] < 0.2 * noised[-1] and blurred[0] < 0.2 * blurred[-1]
    # KID on two halves of the same real set: ~0 next to its spread; on noised images: clearly > 0.
    f_ref, f_probe = digits_cnn.features(ref).numpy(), digits_cnn.features(probe).numpy()
    same = kid(f_ref, f_probe, subsets=50, subset_size=500)
    assert abs(same.mean) < 3 * same.std, same
    far = kid(f_ref, digits_cnn.features((probe + 0.6 * noise).clamp(-1, 1)).numpy(), subsets=50, subset_size=500)
    assert far.mean > 10 * far.std + abs(same.mean)


def test_real_statistics_are_cached(digits_cnn, tmp_path, monkeypatch):
    calls = []
    real_load = stats_cache.load_source
    monkeypatch.setattr(stats_cache, "load_source", lambda *a, **k: calls.append(1) or real_load(*a, **k))
    first = real_stats(DIGITS, digits_cnn, 0, tmp_path)
    second = real_stats(DIGITS, digits_cnn, 0, tmp_path)
    assert len(calls) == 1 and not first.hit and second.hit
    for a in ("mu", "sigma", "features"):
        np.testing.assert_array_equal(getattr(first, a), getattr(second, a))
    assert second.features.dtype == np.float32 and second.features.shape == (1797, 128)
    assert second.protocol["backbone"] == "digitscnn" and second.protocol["n_real"] == 1797
    # pytorch-fid reads the file as its own --save-stats output.
    from pytorch_fid.fid_score import compute_statistics_of_path

    mu, sigma = compute_statistics_of_path(str(second.path), None, 50, 128, "cpu")
    np.testing.assert_array_equal(mu, first.mu)
    # A different protocol (n_real) is a different entry.
    sub = real_stats(DIGITS, digits_cnn, 500, tmp_path)
    assert len(calls) == 2 and sub.n == 500 and sub.path != first.path
    with pytest.raises(ConfigError, match="eval.n_real=5000 but the reference set has 1797 images"):
        real_stats(DIGITS, digits_cnn, 5000, tmp_path)


def _debug_models(name: str = "dcgan", classes: int = 0) -> GanModels:
    torch.manual_seed(0)
    return build_models(ModelConfig(name=name, latent_dim=16, ngf=8, ndf=8), (1, 28, 28), classes)


def test_evaluator_names_protocol_and_modes(digits_cnn, tmp_path):
    ev = Evaluator(EvalConfig(n_gen=500, cache_dir=str(tmp_path), kid_subsets=10), DIGITS, backbone=digits_cnn)
    models = _debug_models()
    models.G.train()  # as during training: evaluate must switch to eval and back
    bn_before = {k: v.clone() for k, v in models.G.state_dict().items()}
    metrics, protocol = ev.evaluate(models)
    assert models.G.training
    for kind in ("fid", "kid", "cs", "class_coverage", "class_share_min", "class_share_max", "mem", "mifid"):
        assert f"{kind}500_digitscnn" in metrics, kind
    for name in ("kid500_digitscnn_std", "pr5003_digitscnn_precision", "pr5003_digitscnn_recall",
                 "dc5005_digitscnn_density", "dc5005_digitscnn_coverage", "fid500_digitscnn_floor",
                 "kid500_digitscnn_floor"):
        assert name in metrics, name
    # The real-vs-real floor is the scale's zero: an untrained G is far above it.
    assert metrics["fid500_digitscnn_floor"] < 0.1 * metrics["fid500_digitscnn"]
    assert ev.key == "fid500_digitscnn"
    assert all(np.isfinite(v) for v in metrics.values())
    for key, value in {"backbone": "digitscnn", "n_gen": 500, "n_real": 1797, "generator_mode": "eval",
                       "dataset": "digits", "real_split": "train", "seed": 0, "kid_subsets": 10,
                       "kid_subset_size": 500, "kid_subset_clipped": True, "resize": digits_cnn.resize,
                       "weights_hash": digits_cnn.weights_hash, "stats_cache": "computed"}.items():
        assert protocol[key] == value, key
    assert "pytorch-fid" in protocol["tool"] and "digitscnn" in protocol["tool"] and protocol["stats_key"]
    assert "898 vs 898" in protocol["floor"]  # 1,797 reference digits, halved
    again, _ = ev.evaluate(models)
    assert again == metrics  # same seed, same numbers
    train_mode, p2 = ev.evaluate(models, generator_mode="train")
    assert p2["generator_mode"] == "train" and train_mode != metrics
    for k, v in models.G.state_dict().items():  # BatchNorm running stats untouched by train-mode sampling
        torch.testing.assert_close(v, bn_before[k])
    fresh = Evaluator(EvalConfig(n_gen=500, cache_dir=str(tmp_path), kid_subsets=10), DIGITS, backbone=digits_cnn)
    m3, p3 = fresh.evaluate(models)
    assert m3 == metrics and p3["stats_cache"] == "hit"


class _ClassOracle(nn.Module):
    """A conditional 'generator' that answers each label with a real digit of that class
    (the k-th request for a class gets its k-th image) and records the labels it was given."""

    def __init__(self, images, labels):
        super().__init__()
        self.by_class = [images[labels == c] for c in range(10)]
        self.calls: list[torch.Tensor] = []

    def forward(self, z, labels):
        self.calls.append(labels.clone())
        seen = torch.cat(self.calls)
        out = []
        for j, c in enumerate(labels.tolist(), start=len(seen) - len(labels)):
            k = int((seen[:j] == c).sum())  # earlier requests for class c
            out.append(self.by_class[c][k % len(self.by_class[c])])
        return torch.stack(out)


def test_evaluator_conditional_models_cycle_classes(digits, digits_cnn, tmp_path):
    n = 600  # more than one generator batch (GEN_BATCH 250): cycling runs on across batches
    ev = Evaluator(EvalConfig(n_gen=n, cache_dir=str(tmp_path), kid_subsets=5), DIGITS, backbone=digits_cnn)
    # A real conditional model: the labels G is given cycle 0..9 over the whole sample.
    models = _debug_models("cdcgan", classes=10)
    given = []
    models.G.register_forward_pre_hook(lambda mod, args: given.append(args[1].clone()))
    metrics, _ = ev.evaluate(models)
    assert [len(b) for b in given] == [250, 250, 100]
    labels = torch.cat(given)
    assert torch.equal(labels, torch.arange(n) % 10)
    assert torch.bincount(labels, minlength=10).tolist() == [n // 10] * 10
    assert np.isfinite(metrics[f"fid{n}_digitscnn"])
    # Its effect on the class scores: a G that draws a real digit of the class asked for gets
    # every class its full share (a G given one class only would score 0.1 coverage).
    src = load_source(DIGITS, verbose=False)
    oracle = _ClassOracle(digits, source_labels(src, np.arange(src.num_images)))
    metrics, _ = ev.evaluate(GanModels(oracle, models.D, 16, 10, True, False))
    assert torch.equal(torch.cat(oracle.calls), labels)
    assert metrics[f"class_coverage{n}_digitscnn"] == 1.0
    assert metrics[f"cs{n}_digitscnn"] > 8.0  # sharp and spread over the 10 classes (at most 10)


def test_fid_needs_more_samples_than_dims(digits_cnn, tmp_path):
    with pytest.raises(ConfigError, match="got 100 samples for 128-dim features .* use n >= 129"):
        Evaluator(EvalConfig(n_gen=100, cache_dir=str(tmp_path)), DIGITS, backbone=digits_cnn)
    ev = Evaluator(EvalConfig(n_gen=100, metric="kid", cache_dir=str(tmp_path), kid_subsets=5), DIGITS,
                   backbone=digits_cnn)
    metrics, protocol = ev.evaluate(_debug_models())
    assert "kid100_digitscnn" in metrics and "fid100_digitscnn" not in metrics and "fid_skipped" in protocol
    assert ev.key == "kid100_digitscnn"


class _Replay(nn.Module):
    """A 'generator' that returns stored images in order: a perfect memoriser."""

    def __init__(self, images):
        super().__init__()
        self.images, self.i = images, 0

    def forward(self, z, labels=None):
        out = self.images[self.i : self.i + len(z)]
        self.i += len(z)
        return out


def test_memorisation_flags_copies_of_training_images(digits, digits_cnn, tmp_path):
    cfg = EvalConfig(n_gen=500, cache_dir=str(tmp_path), kid_subsets=5)
    copies = GanModels(G=_Replay(digits[:500]), D=nn.Identity(), latent_dim=4, num_classes=0,
                       conditional=False, info=False)
    m, _ = Evaluator(cfg, DIGITS, backbone=digits_cnn).evaluate(copies)
    assert m["mem500_digitscnn"] < 1e-4 and m["mem500_digitscnn_frac_below"] == 1.0
    assert m["mifid500_digitscnn"] > 1000 * m["fid500_digitscnn"]
    noise = GanModels(G=_Replay(torch.rand(500, 1, 28, 28) * 2 - 1), D=nn.Identity(), latent_dim=4,
                      num_classes=0, conditional=False, info=False)
    n, _ = Evaluator(cfg, DIGITS, backbone=digits_cnn).evaluate(noise)
    assert n["mem500_digitscnn"] > 0.15 and n["mifid500_digitscnn"] == n["fid500_digitscnn"]


def _thread_gather(world_size: int):
    """all_gather for ranks that are threads: concatenate every rank's tensor in rank order."""
    barrier, slots = threading.Barrier(world_size), [None] * world_size

    def make(rank):
        def gather(t):
            slots[rank] = t
            barrier.wait()
            out = torch.cat(list(slots))
            barrier.wait()
            return out

        return gather

    return make


def test_two_ranks_split_the_work_and_rank0_reports(digits_cnn, tmp_path):
    cfg = EvalConfig(n_gen=301, cache_dir=str(tmp_path / "two"), kid_subsets=5)
    make = _thread_gather(2)
    results, errors = {}, []

    def run(rank):
        try:
            ev = Evaluator(cfg, DIGITS, rank=rank, world_size=2, gather=make(rank), backbone=digits_cnn)
            results[rank] = ev.evaluate(_debug_models())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results[1] == ({}, {})
    metrics, protocol = results[0]
    assert "fid301_digitscnn" in metrics and protocol["world_size"] == 2
    # The reference statistics do not depend on how many ranks computed them.
    single = real_stats(DIGITS, digits_cnn, 0, tmp_path / "one")
    two = stats_cache.load_stats(next((tmp_path / "two" / "stats").glob("*.npz")))
    np.testing.assert_allclose(two.mu, single.mu, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(two.features, single.features)
