"""Loaders: per-rank sharding, determinism, flips, and DALI against the torch loader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.config import DataConfig
from ganbench.data import build_loader, make_synthetic_folder
from ganbench.data.idx import write_idx

N = 38  # not divisible by 2 ranks x batch 4: exercises both remainders


def _ident(x: torch.Tensor) -> list[int]:
    """Images are constant 5*i: recover i from the mean pixel."""
    return torch.round((x.mean((1, 2, 3)) + 1) * 127.5 / 5).long().tolist()


@pytest.fixture(scope="module")
def id_folder(tmp_path_factory) -> Path:
    """N constant-colour PNGs, image i of value 5*i, in class folders a (even i) and b (odd i)."""
    root = tmp_path_factory.mktemp("ids")
    for i in range(N):
        d = root / ("a" if i % 2 == 0 else "b")
        d.mkdir(exist_ok=True)
        Image.new("RGB", (14, 10), (5 * i,) * 3).save(d / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def id_mnist(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mnist")
    images = np.repeat(np.arange(N, dtype=np.uint8) * 5, 28 * 28).reshape(N, 28, 28)
    write_idx(root / "train-images-idx3-ubyte", images)
    write_idx(root / "train-labels-idx1-ubyte", (np.arange(N) % 2).astype(np.uint8))
    return root


def _cfg(kind: str, id_folder: Path, id_mnist: Path, folder: bool = False, **kw) -> DataConfig:
    """The same N identifiable images as a folder (dali-cpu, or folder=True) or as mnist."""
    base = dict(loader=kind, resolution=8, channels=3, batch_size=4, num_workers=0, download=False)
    base.update(kw)
    if kind == "dali-cpu" or folder:
        return DataConfig(name=f"folder:{id_folder}", **base)
    return DataConfig(name="mnist", root=str(id_mnist), **base)


def _epoch(loader, epoch: int) -> tuple[list[int], list[int], int]:
    loader.set_epoch(epoch)
    ids, labels, n = [], [], 0
    for x, y in loader:
        assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape == (4, 3, 8, 8)
        ids += _ident(x)
        labels += y.tolist()
        n += 1
    return ids, labels, n


@pytest.mark.parametrize("kind", ["memory", "torch", "dali-cpu"])
def test_ranks_get_disjoint_equal_shards(kind, id_folder, id_mnist):
    cfg = _cfg(kind, id_folder, id_mnist)
    loaders = [build_loader(cfg, rank=r, world_size=2, seed=3) for r in (0, 1)]
    assert [ld.kind for ld in loaders] == [kind, kind]
    for epoch in (0, 1):
        (ids0, lab0, n0), (ids1, lab1, n1) = (_epoch(ld, epoch) for ld in loaders)
        assert n0 == n1 == len(loaders[0]) == len(loaders[1]) == (N // 2) // 4
        assert len(ids0) == len(ids1) == n0 * 4
        assert len(set(ids0)) == len(ids0) and not set(ids0) & set(ids1)
        assert set(ids0) | set(ids1) <= set(range(N))
        # Labels travel with their images (class = parity of the id).
        assert [i % 2 for i in ids0 + ids1] == lab0 + lab1
    assert loaders[0].num_images == loaders[1].num_images == N // 2
    assert loaders[0].total_images == N


@pytest.mark.parametrize("kind", ["memory", "torch", "dali-cpu"])
def test_order_is_deterministic_per_seed_and_epoch(kind, id_folder, id_mnist):
    cfg = _cfg(kind, id_folder, id_mnist)
    a, b = build_loader(cfg, seed=7), build_loader(cfg, seed=7)
    e0, e0_again, e1 = _epoch(a, 0)[0], _epoch(b, 0)[0], _epoch(a, 1)[0]
    assert e0 == e0_again and e0 == _epoch(a, 0)[0]
    assert e0 != e1
    assert e0 != _epoch(build_loader(cfg, seed=8), 0)[0]


def test_all_loaders_share_one_order(id_folder, id_mnist):
    """Same dataset, same (seed, epoch, rank) -> same images in the same order, whichever loader."""
    def order(kind, folder):
        loader = build_loader(_cfg(kind, id_folder, id_mnist, folder=folder), rank=1, world_size=2, seed=5)
        return _epoch(loader, 2)[0]

    assert order("memory", False) == order("torch", False)
    assert order("torch", True) == order("dali-cpu", True)


def test_torch_loader_with_workers_matches_single_process(id_folder, id_mnist):
    cfg0 = _cfg("torch", id_folder, id_mnist, folder=True)
    cfg2 = _cfg("torch", id_folder, id_mnist, folder=True, num_workers=2)
    w0, w2 = build_loader(cfg0, seed=1), build_loader(cfg2, seed=1)
    assert _epoch(w0, 0) == _epoch(w2, 0) and _epoch(w0, 1) == _epoch(w2, 1)


@pytest.mark.parametrize("kind", ["memory", "dali-cpu"])
@pytest.mark.parametrize("flag,dim", [("hflip", -1), ("vflip", -2)])
def test_flips_are_per_sample_and_seeded(kind, flag, dim, tmp_path):
    """Each flipped image equals its unflipped version mirrored; some flip and some do not."""
    if kind == "dali-cpu":
        root = make_synthetic_folder(tmp_path / "syn", n_classes=3, per_class=8, size=(40, 30))
        cfg = DataConfig(name=f"folder:{root}", loader="dali-cpu", resolution=30, channels=3,
                         batch_size=24, num_workers=1)
    else:
        cfg = DataConfig(name="digits", loader="memory", resolution=8, channels=1, batch_size=64)
    plain = next(iter(build_loader(cfg)))[0]
    flipped = next(iter(build_loader(DataConfig(**{**cfg.__dict__, flag: True}))))[0]
    same = (flipped - plain).abs().amax((1, 2, 3)) < 1e-5
    mirrored = (flipped - plain.flip(dim)).abs().amax((1, 2, 3)) < 1e-5
    assert bool((same | mirrored).all())
    assert 0 < int((mirrored & ~same).sum()) < len(plain)
    again = next(iter(build_loader(DataConfig(**{**cfg.__dict__, flag: True}))))[0]
    assert torch.equal(flipped, again)


@pytest.mark.parametrize("channels", [3, 1])
def test_dali_cpu_matches_torch_loader(tmp_path, channels):
    """Same files in the same order (shared sharding). At the native height (30 px: crop
    only) both decode with libjpeg/libpng and must agree closely; when resizing, DALI keeps
    the exact scale (sub-pixel) where PIL rounds the output size, and their filters differ,
    so only per-image means are compared tightly there."""
    root = make_synthetic_folder(tmp_path / "syn", n_classes=3, per_class=4, size=(40, 30))
    for res, pix_tol in ((30, 0.15), (16, None)):
        cfgs = [DataConfig(name=f"folder:{root}", loader=k, resolution=res, channels=channels,
                           batch_size=12, num_workers=1) for k in ("torch", "dali-cpu")]
        (xt, yt), (xd, yd) = (next(iter(build_loader(c))) for c in cfgs)
        assert xd.shape == xt.shape == (12, channels, res, res) and xd.dtype == torch.float32
        assert xd.min() >= -1 and xd.max() <= 1 and torch.equal(yt, yd)
        assert (xt.mean((1, 2, 3)) - xd.mean((1, 2, 3))).abs().max() < 0.02
        assert (xt - xd).abs().mean() < 0.1
        if pix_tol is not None:
            assert (xt - xd).abs().max() < pix_tol


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (DALI mixed decoder)")
def test_dali_gpu_mixed_decoder(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=3, per_class=8, size=(40, 30))
    dev = torch.device("cuda", 0)
    gpu = build_loader(DataConfig(name=f"folder:{root}", loader="dali", resolution=16, channels=3,
                                  batch_size=8), device=dev)
    auto = build_loader(DataConfig(name=f"folder:{root}", loader="auto", resolution=16, channels=3,
                                   batch_size=8), device=dev)
    cpu = build_loader(DataConfig(name=f"folder:{root}", loader="dali-cpu", resolution=16, channels=3,
                                  batch_size=8), device=dev)
    assert gpu.kind == auto.kind == "dali-gpu" and cpu.kind == "dali-cpu" and len(gpu) == 3
    batches = list(gpu)
    assert len(batches) == 3
    for (x, y), (xc, yc) in zip(batches, cpu):
        assert x.device.type == "cuda" and y.device.type == "cuda" and x.shape == (8, 3, 16, 16)
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.equal(y, yc)  # same files, same order
        # nvJPEG and libjpeg-turbo differ by a few levels; the images must still agree.
        assert (x - xc).abs().mean() < 0.05
