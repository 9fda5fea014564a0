"""The uniqueness check: SSIM against hand-computed values, the chunked k-NN against brute
force, and planted copies of training images found (and novel samples left alone) in every
space, with the grid and its sidecar written."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganbench.config import DataConfig, EvalConfig
from ganbench.errors import ConfigError
from ganbench.metrics import sources
from ganbench.metrics.backbones import Backbone
from ganbench.metrics import neighbours as NB
from ganbench.metrics.nearest import NearestConfig, NearestJob, pixel_spaces
from ganbench.metrics.cli import add_fid_parser
from ganbench.metrics.evaluate import Evaluator
from ganbench.metrics.real_images import ImageSet, iter_images, load_source
from ganbench.metrics.ssim import gaussian_window, ssim
from ganbench.metrics.uniqueness import check
from ganbench.models import GanModels

DIGITS = DataConfig(name="digits", resolution=28, channels=1)
PLANTED = {5: 17, 11: 400, 23: 1203}  # sample index -> the training image copied exactly
NOISED = {30: 999, 37: 1500}  # sample index -> the training image copied with faint noise


@pytest.fixture(scope="module")
def train():
    src = load_source(DIGITS, verbose=False)
    return ImageSet.of_source(src, DIGITS, "digits train")


@pytest.fixture(scope="module")
def planted(train):
    """40 uniform-noise images with 3 exact and 2 faintly noised training images among them."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    for i, j in PLANTED.items():
        x[i] = train.take(np.array([j]))[0]
    for i, j in NOISED.items():
        x[i] = (train.take(np.array([j]))[0] + 0.03 * torch.randn(1, 28, 28, generator=g)).clamp(-1, 1)
    return x


def pooled(x: torch.Tensor) -> np.ndarray:
    """A stand-in feature space: 7x7 average-pooled pixels."""
    return F.avg_pool2d(x, 4).flatten(1).numpy()


class _PooledBackbone(Backbone):
    """7x7 average-pooled pixels as features: the Evaluator and `ganbench fid` paths without
    training a classifier CNN."""
    name, dim, weights_hash = "pooled", 49, "none"

    def __init__(self):
        super().__init__(torch.nn.AvgPool2d(4))

    def _forward(self, x):
        return self.net(x).flatten(1), None


def test_ssim_of_identical_images_is_one():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(ssim(x, x.clone()), torch.ones(3))
    assert (ssim(x, x.roll(1, 0)) < 0.5).all()  # different images are not


def test_ssim_on_a_two_by_two_case_computed_by_hand():
    # One window position, uniform weights 1/4, data range 1 (C1 = 1e-4, C2 = 9e-4).
    # x = [0 0; 1 1]: mu 0.5, var 0.25.  y = [0 1; 0 1]: mu 0.5, var 0.25, cov(x, y) = 0.
    # SSIM = (2*0.25 + C1)(0 + C2) / ((0.25 + 0.25 + C1)(0.25 + 0.25 + C2)) = 0.0009 / 0.5009
    # y = 1 - x: cov = -0.25, SSIM = (-0.5 + 0.0009) / 0.5009.
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]]).view(1, 1, 2, 2)
    y = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    w = torch.full((2, 2), 0.25)
    assert ssim(x, y, w, data_range=1.0).item() == pytest.approx(0.0009 / 0.5009, rel=1e-5)
    assert ssim(x, 1 - x, w, data_range=1.0).item() == pytest.approx(-0.4991 / 0.5009, rel=1e-5)


def test_gaussian_window_is_the_papers():
    w = gaussian_window()
    assert w.shape == (11, 11) and w.sum().item() == pytest.approx(1.0)
    # sigma 1.5: one pixel off centre weighs exp(-1 / 4.5) of the centre, along each axis.
    assert (w[5, 6] / w[5, 5]).item() == pytest.approx(np.exp(-1 / 4.5), rel=1e-5)


@pytest.mark.parametrize("distance, brute", [
    (NB.mse_matrix, lambda q, t: ((q[:, None] - t[None]) ** 2).mean(-1)),
    (NB.cosine_matrix, lambda q, t: 1 - F.cosine_similarity(q[:, None], t[None], dim=-1)),
])
def test_chunked_knn_equals_brute_force(distance, brute, monkeypatch):
    monkeypatch.setattr(NB, "QUERY_CHUNK", 7)  # several query chunks as well as key batches
    g = torch.Generator().manual_seed(1)
    q, t = torch.randn(20, 12, generator=g), torch.randn(53, 12, generator=g)
    exclude = torch.full((20,), -1)
    exclude[3], exclude[8] = 10, 0
    nb = NB.knn(q, t.split(9), 4, distance, exclude)
    d = brute(q, t)
    d[3, 10] = d[8, 0] = float("inf")
    ref = d.topk(4, dim=1, largest=False)
    torch.testing.assert_close(nb.dist, ref.values, atol=1e-5, rtol=1e-5)
    assert torch.equal(nb.index, ref.indices)


def test_planted_copies_are_flagged_in_every_space_and_nothing_else(train, planted, tmp_path):
    cfg = NearestConfig(k=3, rows=6, grid=str(tmp_path / "grid.png"))
    all_train = torch.cat(list(train.stream(500)))
    u = check(NearestJob(cfg, planted, train), "pooled", pooled(planted), pooled(all_train))
    assert [s.name for s in u.spaces] == ["mse", "ssim", "pooled"]
    copies = sorted({**PLANTED, **NOISED})
    for s in u.spaces:
        assert sorted(np.flatnonzero(s.flagged)) == copies, s.name
        assert s.too_close == pytest.approx(len(copies) / 40)
        assert len(s.real) == 40 and s.searched == 1797
        # Held out real digits sit at the threshold's quantile by construction; noise sits far above.
        assert (s.real < s.threshold).mean() == pytest.approx(0.05, abs=0.03)
    mse = u.spaces[0]
    assert all(mse.gen[i] == 0 for i in PLANTED) and all(0 < mse.gen[i] < 0.01 for i in NOISED)
    p = u.protocol
    assert p["nearest_n"] == 40 and p["nearest_n_held_out"] == 40 and p["nearest_searched_mse"] == 1797
    assert "0.05 quantile" in p["nearest_threshold_rule"] and "11x11" in p["nearest_ssim"]
    with Image.open(p["nearest_grid"]) as im:  # 6 rows of (sample + 3 neighbours), 28 px tiles, 2 px padding
        assert im.size == (4 * 30 + 2, 6 * 30 + 2)
        rgb = np.asarray(im.convert("RGB"))
    line = rgb[2:-2, 30:32]  # the strip right of the samples' column is orange, the others black
    assert (line[..., 0] > 200).all() and (line[..., 2] < 50).all() and rgb[2:-2, 60:62].max() == 0
    side = json.loads((tmp_path / "grid.json").read_text())
    rows = side["rows"]
    assert {r["sample"] for r in rows[:5]} == set(copies)  # the closest samples come first
    for r in rows:
        if r["sample"] in PLANTED:  # an exact copy: its first neighbour is an identical training image
            first = r["neighbours"][0]
            assert first["mse"] == 0 and first["ssim"] == pytest.approx(1.0, abs=1e-6)
            assert torch.equal(train.take(np.array([first["position"]])), planted[r["sample"]][None])
    assert rows[-1]["too_close"] == [] and len(side["spaces"]["mse"]["generated"]) == 40


def test_mismatched_shapes_and_bad_settings_fail_with_one_line(train):
    with pytest.raises(ConfigError, match=r"samples are \(3, 28, 28\), training images \(1, 28, 28\)"):
        pixel_spaces(torch.zeros(4, 3, 28, 28), train, NearestConfig())
    with pytest.raises(ConfigError, match="quantile must be in"):
        NearestConfig(quantile=1.5)
    with pytest.raises(ConfigError, match="k, rerank and rows must be >= 1"):
        NearestConfig(k=0)


def test_tensor_image_set_reads_what_it_holds():
    x = torch.arange(5 * 4, dtype=torch.float32).view(5, 1, 2, 2)
    s = ImageSet.of_tensor(x, "five")
    assert s.n == 5 and s.what == "five (5 images)" and s.name(3) == "#3"
    assert torch.equal(torch.cat(list(s.stream(2))), x) and torch.equal(s.take(np.array([4, 1])), x[[4, 1]])


def test_image_set_of_a_source_streams_in_dataset_order(train):
    src = load_source(DIGITS, verbose=False)
    first = next(iter_images(src, DIGITS, np.arange(3)))
    assert torch.equal(train.take(np.array([0, 1, 2])), first)
    assert sum(len(b) for b in train.stream(700)) == train.n == 1797


class _Replay(nn.Module):
    """A 'generator' that returns stored images in order."""

    def __init__(self, images):
        super().__init__()
        self.images, self.i = images, 0

    def forward(self, z, labels=None):
        out = self.images[self.i : self.i + len(z)]
        self.i += len(z)
        return out


def test_evaluator_runs_the_check_on_its_samples_when_asked(planted, tmp_path):
    bb = _PooledBackbone()
    cfg = EvalConfig(n_gen=40, metric="kid", kid_subsets=5, kid_subset_size=20, cache_dir=str(tmp_path))
    models = GanModels(G=_Replay(planted), D=nn.Identity(), latent_dim=4, num_classes=0, conditional=False, info=False)
    ev = Evaluator(cfg, DIGITS, backbone=bb, nearest=NearestConfig(k=3, rows=5, grid=str(tmp_path / "nn.png")))
    metrics, protocol = ev.evaluate(models)
    copies = len(PLANTED) + len(NOISED)
    assert metrics["nn40_mse_too_close"] == metrics["nn40_ssim_too_close"] == copies / 40
    assert metrics["nn40_mse_min"] == 0 and metrics["nn40_pooled_too_close"] == copies / 40
    assert protocol["nearest_grid"] == str(tmp_path / "nn.png") and (tmp_path / "nn.json").is_file()
    assert protocol["nearest_train"] == "digits train (1797 images)"
    # Without nearest= the family is skipped, and says how to ask for it.
    plain = Evaluator(cfg, DIGITS, backbone=bb)
    m2, p2 = plain.evaluate(GanModels(G=_Replay(planted), D=nn.Identity(), latent_dim=4, num_classes=0,
                                      conditional=False, info=False))
    assert not any(k.startswith("nn40") for k in m2) and "nearest=" in p2["nearest_skipped"]


def test_ganbench_fid_nearest_grid_from_npy_against_a_folder(planted, train, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sources, "resolve_backbone", lambda *a: _PooledBackbone())
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(60):  # the first 60 digits as PNG files; the planted copies 5 and 11 are of #17 and #400
        x = train.take(np.array([i if i != 50 else 400]))[0, 0]
        Image.fromarray(((x + 1) * 127.5).round().byte().numpy(), mode="L").save(folder / f"{i:03d}.png")
    gen = torch.cat([planted[:30], train.take(np.array([17]))])  # one more exact copy at index 30
    np.save(tmp_path / "gen.npy", gen.numpy())
    p = argparse.ArgumentParser(prog="ganbench")
    add_fid_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["fid", str(tmp_path / "gen.npy"), str(folder), "--backbone", "pooled",
                         "--nearest", "3", "--nearest-grid", str(tmp_path / "g.png"), "--set", "eval.kid_subsets=2",
                         "--set", "eval.kid_subset_size=10"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    m = out["metrics"]
    # Samples 5 (#17), 11 (#400) and 30 (#17) have exact copies in the folder; 23 (#1203) does not.
    assert m["nn31_mse_too_close"] == pytest.approx(3 / 31) and m["nn31_mse_min"] == 0
    side = json.loads((tmp_path / "g.json").read_text())
    assert {r["sample"] for r in side["rows"][:3]} == {5, 11, 30}
    assert side["rows"][0]["neighbours"][0]["train"].endswith((".png"))
    with Image.open(tmp_path / "g.png") as im:
        assert im.size == (4 * 30 + 2, 16 * 30 + 2)
