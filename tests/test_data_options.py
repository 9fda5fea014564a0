"""Folder walking with symlink loops, crop vs squash, labels from file names, MNIST split=all,
and `sample --out` as a zip or a folder of PNGs."""
from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.cli import main
from ganbench.config import DataConfig
from ganbench.data import build_loader, make_synthetic_folder
from ganbench.data.folder import scan
from ganbench.data.idx import write_idx
from ganbench.data.transforms import decode_image
from ganbench.errors import ConfigError, DataError
from ganbench.sample import out_kind, to_uint8, write_samples


def _cfg(path, **kw) -> DataConfig:
    kw = {"loader": "memory", "resolution": 16, "channels": 3, "batch_size": 4, "num_workers": 0, **kw}
    return DataConfig(name=f"folder:{path}", **kw)


def test_symlink_loop_yields_each_image_once(tmp_path, caplog):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=3)
    os.symlink(root, root / "class_0" / "back_to_root")  # class_0/back_to_root -> root
    os.symlink(root / "class_0", root / "class_1" / "sibling")  # a second way into class_0
    os.symlink(root, root / "loop")  # a top-level "class" that is the root itself
    with caplog.at_level(logging.WARNING, logger="ganbench.data"):
        files, labels, classes = scan(root, use_labels=True)
    assert len(files) == 6 and len({os.path.realpath(f) for f in files}) == 6
    assert classes == ["class_0", "class_1"] and labels == [0] * 3 + [1] * 3
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "skipped 3 symbolic link(s)" in warnings[0]
    assert build_loader(_cfg(root, loader="torch", cache=False)).total_images == 6


def test_crop_vs_squash(tmp_path):
    """A 60x20 image: left third red, middle green, right blue. Crop keeps the green centre;
    squash keeps all three bands side by side."""
    im = Image.new("RGB", (60, 20))
    for k, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        im.paste(colour, (20 * k, 0, 20 * (k + 1), 20))
    path = tmp_path / "wide.png"
    im.save(path)
    crop = decode_image(str(path), 12, 3, "crop")
    squash = decode_image(str(path), 12, 3, "squash")
    assert crop.shape == squash.shape == (3, 12, 12) and crop.dtype == np.uint8
    assert (crop.argmax(0) == 1).all()  # only green survives the centre crop
    assert squash[:, 6, 1].argmax() == 0 and squash[:, 6, 6].argmax() == 1 and squash[:, 6, 10].argmax() == 2
    with pytest.raises(ConfigError, match="resize_mode must be one of: crop, squash"):
        build_loader(_cfg(tmp_path, resize_mode="stretch"))


def test_label_pattern_from_file_names(tmp_path, caplog):
    root = tmp_path / "dogs"
    (root / "more").mkdir(parents=True)
    names = ["beagle_1.jpg", "beagle_2.jpg", "golden_retriever_7.jpg", "more/pug_3.png", "pug_10.png",
             "README.jpg"]
    for i, n in enumerate(names):
        Image.new("RGB", (20, 20), (40 * i, 0, 0)).save(root / n)
    with caplog.at_level(logging.WARNING, logger="ganbench.data"):
        loader = build_loader(_cfg(root, label_pattern=r"^([a-z_]+)_\d+", batch_size=5))
    assert loader.num_classes == 3 and loader.total_images == 5
    assert "skipped 1 of 6 image(s) whose name does not match: README.jpg" in caplog.text
    files, labels, classes = scan(root, True, label_pattern=r"^([a-z_]+)_\d+")
    assert classes == ["beagle", "golden_retriever", "pug"]
    assert {f.name: y for f, y in zip(files, labels)} == {
        "beagle_1.jpg": 0, "beagle_2.jpg": 0, "golden_retriever_7.jpg": 1, "pug_3.png": 2, "pug_10.png": 2}
    with pytest.raises(DataError, match="matches none of the 6 file names"):
        scan(root, True, label_pattern=r"^(cat)_")
    with pytest.raises(ConfigError, match="exactly one"):
        build_loader(_cfg(root, label_pattern=r"^([a-z]+)_(\d+)"))
    assert build_loader(_cfg(root, label_pattern=r"^([a-z_]+)_\d+", use_labels=False)).num_classes == 0


def _write_idx_split(root: Path, split: str, n: int, start: int, folder: str) -> None:
    prefix = "train" if split == "train" else "t10k"
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images = np.repeat(np.arange(start, start + n, dtype=np.uint8) * 5, 28 * 28).reshape(n, 28, 28)
    write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte", (np.arange(start, start + n) % 10).astype(np.uint8))


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_split_all_is_train_plus_test(tmp_path, name, folder):
    _write_idx_split(tmp_path, "train", 30, 0, folder)
    _write_idx_split(tmp_path, "t10k", 12, 30, folder)
    cfg = DataConfig(name=name, root=str(tmp_path), split="all", download=False, batch_size=6)
    loader = build_loader(cfg)
    assert loader.total_images == 42 and loader.num_classes == 10
    ident = torch.cat([torch.round((x.mean((1, 2, 3)) + 1) * 127.5 / 5).long() for x, _ in loader])
    assert sorted(ident.tolist()) == list(range(42))  # every train and test image, once
    with pytest.raises(ConfigError, match="train, test for cifar10"):
        build_loader(DataConfig(name="cifar10", split="all", download=False))


def test_split_all_names_the_missing_half(tmp_path):
    _write_idx_split(tmp_path, "train", 10, 0, "MNIST")
    with pytest.raises(DataError, match="mnist test split not found"):
        build_loader(DataConfig(name="mnist", root=str(tmp_path), split="all", download=False))


def _images(n=7, channels=3):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, channels, 8, 8, generator=g) * 2 - 1


@pytest.mark.parametrize("channels", [1, 3])
def test_sample_zip_and_dir_hold_one_png_per_image(tmp_path, channels):
    x = _images(channels=channels)
    expect = to_uint8(x)
    z = write_samples(x, tmp_path / "images.zip")
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        assert names == [f"{i:05d}.png" for i in range(7)]
        got = [np.asarray(Image.open(io.BytesIO(zf.read(n)))) for n in names]
    assert all(np.array_equal(g, e) for g, e in zip(got, expect))
    d = write_samples(x, str(tmp_path / "out") + "/")
    files = sorted(d.glob("*.png"))
    assert len(files) == 7 and all(np.array_equal(np.asarray(Image.open(f)), e) for f, e in zip(files, expect))
    # round trip: the PNG pixels are the [-1, 1] samples to within rounding
    back = torch.from_numpy(np.stack(got).astype(np.float32) / 127.5 - 1)
    back = back.unsqueeze(1) if channels == 1 else back.permute(0, 3, 1, 2)
    assert (back - x).abs().max() <= 1 / 127.5 + 1e-6
    assert not list(tmp_path.glob(".images.zip.tmp*"))


def test_sample_out_kinds(tmp_path):
    assert [out_kind(p) for p in ("a.npy", "a.png", "a.zip", "dir/", str(tmp_path), "plain")] == \
        ["npy", "png", "zip", "dir", "dir", "dir"]
    assert main(["sample", "--checkpoint", "nowhere", "--out", "x.jpg"]) == 2
