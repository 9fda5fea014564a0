"""The decoded-image folder cache: hit on the second load, invalidated by a changed file,
same batches as decoding every epoch, bad files still named and skipped, shared by ranks."""
from __future__ import annotations

import logging
import os
import threading
import time

import pytest
import torch
from PIL import Image

from ganbench.config import DataConfig
from ganbench.data import build_loader, make_synthetic_folder
from ganbench.data import folder_cache
from ganbench.data.folder import load_folder_cached
from ganbench.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    for k in folder_cache.stats:
        monkeypatch.setitem(folder_cache.stats, k, 0)


def _cfg(path, **kw) -> DataConfig:
    kw = {"loader": "memory", "resolution": 16, "channels": 3, "batch_size": 4, "num_workers": 0, **kw}
    return DataConfig(name=f"folder:{path}", **kw)


def _epochs(loader, n=2):
    out = []
    for e in range(n):
        loader.set_epoch(e)
        out += [(x.clone(), y.clone()) for x, y in loader]
    return out


def test_second_load_is_a_hit_without_decoding(tmp_path, caplog):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=6, size=(50, 30))
    with caplog.at_level(logging.INFO, logger="ganbench.data"):
        first = build_loader(_cfg(root))
    assert folder_cache.stats == {"decoded": 12, "hits": 0, "built": 1}
    assert "decoded 12 images once into the folder cache" in caplog.text
    assert "memory loader (decoded once, read from the folder cache)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ganbench.data"):
        second = build_loader(_cfg(root, loader="torch"))
    assert folder_cache.stats == {"decoded": 12, "hits": 1, "built": 1}  # nothing decoded again
    assert "folder cache hit" in caplog.text
    a, b = _epochs(first), _epochs(second)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert first.num_classes == 2 and first.total_images == 12


def test_changed_file_invalidates_and_old_cache_is_removed(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4, labelled=False,
                                 formats=("png",))
    src = load_folder_cached(_cfg(root), str(root))
    victim = sorted(root.glob("*.png"))[0]
    Image.new("RGB", (40, 30), (255, 255, 255)).save(victim)  # new content, size and mtime
    os.utime(victim, ns=(time.time_ns(), time.time_ns() + 10**9))
    src2 = load_folder_cached(_cfg(root), str(root))
    assert folder_cache.stats["built"] == 2 and folder_cache.stats["decoded"] == 16
    assert not torch.equal(src.images[0], src2.images[0]) and int(src2.images[0].min()) == 255
    assert torch.equal(src.images[1:], src2.images[1:])
    # one cache per folder + settings: the stale one was deleted
    assert len(list((tmp_path / "cache" / "folders").glob("*.u8"))) == 1
    # a different resolution or resize mode is a different cache, not a stale one
    load_folder_cached(_cfg(root, resize_mode="squash"), str(root))
    assert folder_cache.stats["built"] == 3


def test_cache_matches_decoding_every_epoch(tmp_path):
    """Same files, seed and flips: the cached memory loader and the decoding torch loader
    yield identical batches."""
    root = make_synthetic_folder(tmp_path / "syn", n_classes=3, per_class=4, size=(37, 53),
                                 formats=("jpg", "png", "webp"))
    for mode in ("crop", "squash"):
        cached = build_loader(_cfg(root, resize_mode=mode, hflip=True, vflip=True), seed=3)
        decoded = build_loader(_cfg(root, resize_mode=mode, hflip=True, vflip=True, loader="torch",
                                    cache=False), seed=3)
        assert decoded.kind == "torch" and cached.kind == "memory"
        a, b = _epochs(cached), _epochs(decoded)
        assert len(a) == len(b) == 6
        assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))


def test_bad_files_are_named_and_skipped_on_build_and_on_hit(tmp_path, caplog):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4, corrupt=1)
    for expect_hits in (0, 1):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ganbench.data"):
            loader = build_loader(_cfg(root))
        assert folder_cache.stats["hits"] == expect_hits
        assert loader.total_images == 8 and len(loader.skipped) == 2
        assert "corrupt_0.jpg" in caplog.text and "truncated_0.png" in caplog.text
    with pytest.raises(DataError, match="unreadable image .*corrupt_0.jpg"):
        build_loader(_cfg(root, on_bad_file="error"))


def test_ranks_share_one_build(tmp_path):
    """Four 'ranks' at once: one decodes, the others wait for it and read the same cache."""
    root = make_synthetic_folder(tmp_path / "syn", n_classes=1, per_class=24, labelled=False)
    results, errors = [], []

    def rank():
        try:
            results.append(load_folder_cached(_cfg(root), str(root), verbose=False).images)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=rank) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 4
    assert folder_cache.stats["built"] == 1 and folder_cache.stats["decoded"] == 24
    assert all(torch.equal(results[0], r) for r in results)
    assert not list((tmp_path / "cache" / "folders").glob("*.lock"))
    assert not list((tmp_path / "cache" / "folders").glob("*.tmp*"))


def test_damaged_cache_is_rebuilt(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=1, per_class=4, labelled=False)
    load_folder_cached(_cfg(root), str(root))
    data = next((tmp_path / "cache" / "folders").glob("*.u8"))
    data.write_bytes(data.read_bytes()[:100])  # cut short
    load_folder_cached(_cfg(root), str(root))
    assert folder_cache.stats["built"] == 2


def test_loader_choice_with_and_without_cache(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=1, per_class=8, labelled=False)
    assert build_loader(_cfg(root, loader="auto")).kind == "memory"  # CPU: decode once
    with pytest.raises(ConfigError, match="data.cache=true"):
        build_loader(_cfg(root, cache=False))
    assert build_loader(_cfg(root, loader="torch", cache=False)).kind == "torch"
    assert folder_cache.stats["built"] == 1
