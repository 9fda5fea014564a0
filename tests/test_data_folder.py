"""Image folders: scanning, labels, resize/crop, bad files and loader choice."""
from __future__ import annotations

import logging

import pytest
import torch
from PIL import Image

from ganbench.config import DataConfig
from ganbench.data import build_loader, make_synthetic_folder
from ganbench.errors import ConfigError, DataError


def _cfg(path, **kw) -> DataConfig:
    kw = {"loader": "torch", "resolution": 16, "channels": 3, "batch_size": 4, "num_workers": 0, **kw}
    return DataConfig(name=f"folder:{path}", **kw)


def _all_batches(loader):
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def test_labelled_folder_labels_match_class_colours(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=3, per_class=8)
    loader = build_loader(_cfg(root, batch_size=8, loader="dali-cpu"))
    assert loader.num_classes == 3 and loader.total_images == 24 and loader.skipped == []
    x, y = _all_batches(loader)
    assert x.shape == (24, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert sorted(y.tolist()) == [0] * 8 + [1] * 8 + [2] * 8
    # class_0 is drawn red, class_1 green, class_2 blue: the dominant channel is the label.
    assert torch.equal(x.mean((2, 3)).argmax(1), y)


def test_flat_folder_is_unlabelled(tmp_path):
    root = make_synthetic_folder(tmp_path / "flat", n_classes=2, per_class=5, labelled=False,
                                 formats=("png", "jpg", "webp"))
    loader = build_loader(_cfg(root, batch_size=5))
    assert loader.num_classes == 0 and loader.total_images == 10
    x, y = _all_batches(loader)
    assert x.shape == (10, 3, 16, 16) and torch.equal(y, torch.zeros(10, dtype=torch.long))


def test_use_labels_false_ignores_subfolders(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4)
    loader = build_loader(_cfg(root, use_labels=False))
    assert loader.num_classes == 0 and loader.total_images == 8
    assert all(int(y.abs().sum()) == 0 for _, y in loader)


def test_extensions_are_case_insensitive_and_others_ignored(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    for i, name in enumerate(["a.JPG", "b.Png", "c.jpeg", "d.WEBP"]):
        Image.new("RGB", (20, 20), (10 * i, 0, 0)).save(root / name, {".jpg": "JPEG", ".png": "PNG",
                                                                      ".jpeg": "JPEG", ".webp": "WEBP"}[
            "." + name.split(".")[1].lower()])
    (root / "notes.txt").write_text("not an image")
    (root / "._a.jpg").write_bytes(b"macOS resource fork")
    loader = build_loader(_cfg(root, batch_size=4))
    assert loader.total_images == 4 and loader.skipped == []


@pytest.mark.parametrize("size,loader_kind", [((60, 20), "torch"), ((20, 60), "torch"),
                                             ((60, 20), "dali-cpu"), ((20, 60), "dali-cpu")])
def test_non_square_resized_and_center_cropped(tmp_path, size, loader_kind):
    """Three bands along the long side (red, green, blue): after shorter-side resize and a
    centred square crop only the green middle band may remain."""
    w, h = size
    img = Image.new("RGB", size, (255, 0, 0))
    band = [w // 3, 0, 2 * w // 3, h] if w > h else [0, h // 3, w, 2 * h // 3]
    img.paste((0, 255, 0), band)
    img.paste((0, 0, 255), [2 * w // 3, 0, w, h] if w > h else [0, 2 * h // 3, w, h])
    root = tmp_path / "bands"
    root.mkdir()
    for i in range(2):
        img.save(root / f"im{i}.png")
    loader = build_loader(_cfg(root, resolution=16, batch_size=2, loader=loader_kind))
    x, _ = next(iter(loader))
    assert x.shape == (2, 3, 16, 16)
    centre = x[:, :, 2:-2, 2:-2]  # away from the band edges, which resampling blurs
    assert torch.allclose(centre[:, 1], torch.ones_like(centre[:, 1]), atol=0.02)
    assert torch.allclose(centre[:, [0, 2]], -torch.ones_like(centre[:, [0, 2]]), atol=0.02)


def test_grayscale_output(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4)
    x, _ = next(iter(build_loader(_cfg(root, channels=1))))
    assert x.shape == (4, 1, 16, 16)


def test_corrupt_files_skipped_counted_and_named(tmp_path, caplog):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4, corrupt=1)
    with caplog.at_level(logging.WARNING, logger="ganbench.data"):
        loader = build_loader(_cfg(root, on_bad_file="skip"))
    assert loader.total_images == 8
    assert sorted(p.rsplit("/", 1)[1] for p in loader.skipped) == ["corrupt_0.jpg", "truncated_0.png"]
    assert loader.describe()["skipped"] == 2
    msg = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "skipped 2" in msg and "corrupt_0.jpg" in msg and "truncated_0.png" in msg
    # Every remaining file decodes in both loaders (DALI would fail on the corrupt ones).
    for kind in ("torch", "dali-cpu"):
        assert sum(len(x) for x, _ in build_loader(_cfg(root, loader=kind))) == 8


@pytest.mark.parametrize("bad", ["garbage", "truncated"])
def test_on_bad_file_error_names_file(tmp_path, bad):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=3, corrupt=1)
    (root / "class_0" / ("truncated_0.png" if bad == "garbage" else "corrupt_0.jpg")).unlink()
    with pytest.raises(DataError) as e:
        build_loader(_cfg(root, on_bad_file="error"))
    name = "corrupt_0.jpg" if bad == "garbage" else "truncated_0.png"
    assert name in str(e.value) and "data.on_bad_file=skip" in str(e.value)


def test_bad_on_bad_file_value(tmp_path):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=2)
    with pytest.raises(ConfigError, match="skip, error"):
        build_loader(_cfg(root, on_bad_file="ignore"))


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "nope")):
        build_loader(_cfg(tmp_path / "nope"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        build_loader(_cfg(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="folder:PATH"):
        build_loader(DataConfig(name="folder"))


def test_loader_choice_for_folders(tmp_path, caplog):
    root = make_synthetic_folder(tmp_path / "syn", n_classes=2, per_class=4)
    with pytest.raises(ConfigError, match="dali-cpu") as e:
        build_loader(_cfg(root, loader="dali"))
    assert "torch" in str(e.value) and "GPU" in str(e.value)
    with pytest.raises(ConfigError, match="memory"):
        build_loader(_cfg(root, loader="memory", cache=False))
    with caplog.at_level(logging.INFO, logger="ganbench.data"):
        loader = build_loader(_cfg(root, loader="auto", cache=False))  # with the cache: memory
    assert loader.kind == "dali-cpu"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["DALI GPU unavailable (no CUDA device): using DALI CPU pipeline"]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "dali-cpu" in infos[0]
