"""Built-in datasets: digits, the IDX reader, mnist from files, and name/config errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.config import DataConfig
from ganbench.data import DATASETS, build_loader
from ganbench.data.idx import read_idx, write_idx
from ganbench.errors import ConfigError, DataError

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/datasets/mnist"


def _all_batches(loader):
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def test_registry_lists_builtin_sets():
    assert {"digits", "mnist", "fashion-mnist", "cifar10", "folder"} <= set(DATASETS.names())


def test_digits_shape_range_labels():
    cfg = DataConfig(name="digits", resolution=16, channels=1, batch_size=64)
    loader = build_loader(cfg)
    assert loader.kind == "memory" and loader.total_images == 1797 and loader.num_classes == 10
    assert loader.image_shape == (1, 16, 16) and len(loader) == 1797 // 64
    x, y = _all_batches(loader)
    assert x.shape == (len(loader) * 64, 1, 16, 16) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    assert x.min() >= -1 and x.max() <= 1
    # Real digits: dark background (-1) with bright strokes reaching near +1.
    assert x.min() == -1 and x.max() > 0.9
    assert (x < -0.5).float().mean() > 0.3


def test_digits_rgb_replicates_gray_and_unlabelled():
    x, y = next(iter(build_loader(DataConfig(name="digits", channels=3, resolution=8, batch_size=32,
                                             use_labels=False))))
    assert x.shape == (32, 3, 8, 8)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert torch.equal(y, torch.zeros(32, dtype=torch.long))


@pytest.mark.parametrize("name", ["t.idx", "t.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, name, dtype):
    arr = (np.arange(5 * 7 * 3) * 3 - 20).reshape(5, 7, 3).astype(dtype)
    if dtype == np.uint8:
        arr = (np.arange(5 * 7 * 3) % 256).reshape(5, 7, 3).astype(np.uint8)
    back = read_idx(write_idx(tmp_path / name, arr))
    assert back.shape == arr.shape and back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x89PNG....")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    good = write_idx(tmp_path / "a.idx", np.zeros((4, 3, 3), np.uint8)).read_bytes()
    (tmp_path / "short.idx").write_bytes(good[:-5])
    with pytest.raises(DataError, match="short.idx"):
        read_idx(tmp_path / "short.idx")


def _write_mnist(root: Path, split: str, n: int, folder: str = "MNIST") -> None:
    """Image i is constant value 5*i, so images can be identified after loading."""
    prefix = "train" if split == "train" else "t10k"
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    images = np.repeat(np.arange(n, dtype=np.uint8) * 5, 28 * 28).reshape(n, 28, 28)
    write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_idx_sets_from_files_with_resize(tmp_path, name, folder):
    _write_mnist(tmp_path, "test", 40, folder)
    cfg = DataConfig(name=name, root=str(tmp_path), split="test", download=False,
                     resolution=32, batch_size=8)
    loader = build_loader(cfg)
    assert loader.total_images == 40 and loader.num_classes == 10 and loader.image_shape == (1, 32, 32)
    x, y = _all_batches(loader)
    ident = torch.round((x.mean((1, 2, 3)) + 1) * 127.5 / 5).long()  # constant images survive resizing
    assert torch.equal(ident % 10, y)
    assert len(set(ident.tolist())) == len(ident)


def test_mnist_missing_offline_names_split_and_root(tmp_path):
    cfg = DataConfig(name="mnist", root=str(tmp_path), split="test", download=False)
    with pytest.raises(DataError) as e:
        build_loader(cfg)
    msg = str(e.value)
    assert "data.root" in msg and "test" in msg and str(tmp_path) in msg
    assert "t10k-images-idx3-ubyte.gz" in msg


def test_mnist_failed_download_is_a_data_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match="download failed: OSError: network is unreachable") as e:
        build_loader(DataConfig(name="mnist", root=str(tmp_path), download=True))
    assert "data.root" in str(e.value) and "train" in str(e.value)


def test_cifar10_missing_offline(tmp_path):
    with pytest.raises(DataError) as e:
        build_loader(DataConfig(name="cifar10", root=str(tmp_path), download=False, channels=3))
    assert "data.root" in str(e.value) and "cifar-10" in str(e.value)


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"real MNIST test split not present at {SHARED_MNIST}")
def test_real_mnist_test_split():
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert sorted(set(labels.tolist())) == list(range(10))
    loader = build_loader(DataConfig(name="mnist", root=str(SHARED_MNIST), split="test",
                                     download=False, batch_size=500))
    assert loader.total_images == 10000 and loader.num_classes == 10 and len(loader) == 20
    x, y = next(iter(loader))
    assert x.shape == (500, 1, 28, 28) and x.min() == -1 and x.max() == 1
    assert set(y.tolist()) == set(range(10))


@pytest.mark.parametrize("name", ["nosuch", "mnist2", "Folder"])
def test_unknown_dataset_lists_valid_names(name):
    with pytest.raises(ConfigError) as e:
        build_loader(DataConfig(name=name))
    for valid in ("digits", "mnist", "fashion-mnist", "cifar10", "folder"):
        assert valid in str(e.value)


@pytest.mark.parametrize("field,value,expect", [
    ("loader", "fast", "auto, dali, dali-cpu, torch, memory"),
    ("resolution", 4, "resolution"),
    ("channels", 2, "channels"),
    ("split", "val", "train, test"),
    ("on_bad_file", "ignore", "skip, error"),
])
def test_bad_config_values(field, value, expect):
    cfg = DataConfig(name="mnist", download=False, **{field: value})
    with pytest.raises(ConfigError, match=expect):
        build_loader(cfg)


def test_batch_larger_than_shard_says_shard_size():
    with pytest.raises(ConfigError, match="shard of 898 images"):
        build_loader(DataConfig(name="digits", batch_size=1000), rank=1, world_size=2)


def test_tensor_sets_reject_dali():
    with pytest.raises(ConfigError, match="loader=memory"):
        build_loader(DataConfig(name="digits", loader="dali-cpu"))
