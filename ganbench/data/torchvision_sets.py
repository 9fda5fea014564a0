"""`mnist`, `fashion-mnist` and `cifar10`: the classic sets, read from data.root.

Files are looked for first; torchvision only downloads (data.download=true). When the
files are neither there nor downloadable (offline machines), the error says which files,
where we looked, and how to point data.root at a copy.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch

from ganbench.config import DataConfig
from ganbench.data.datasets import TensorSource, labels_or_zeros, register_dataset
from ganbench.data.idx import read_idx
from ganbench.data.transforms import prepare_tensor_images
from ganbench.errors import ConfigError, DataError

DEFAULT_ROOT = "~/.cache/ganbench/datasets"

IDX_SPLITS = ("train", "test", "all")  # all = train + test

# name -> (torchvision class name, its folder under root)
_IDX_SETS = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("FashionMNIST", "FashionMNIST")}


def data_root(cfg: DataConfig) -> Path:
    return Path(cfg.root or DEFAULT_ROOT).expanduser()


def _check(cfg: DataConfig, arg: Optional[str], splits: tuple[str, ...] = ("train", "test")) -> None:
    if arg is not None:
        raise ConfigError(f"dataset {cfg.name.partition(':')[0]} takes no ':' argument, got {cfg.name!r}")
    if cfg.split not in splits:
        raise ConfigError(f"data.split must be one of: {', '.join(splits)} for "
                          f"{cfg.name.partition(':')[0]} (got {cfg.split!r})")


def idx_dirs(root: Path, folder: str) -> list[Path]:
    return [root, root / "raw", root / folder / "raw"]


def find_idx(root: Path, folder: str, split: str) -> Optional[tuple[Path, Path]]:
    prefix = "train" if split == "train" else "t10k"
    for d in idx_dirs(root, folder):
        found = []
        for kind in ("images-idx3", "labels-idx1"):
            for name in (f"{prefix}-{kind}-ubyte.gz", f"{prefix}-{kind}-ubyte"):
                if (d / name).is_file():
                    found.append(d / name)
                    break
        if len(found) == 2:
            return found[0], found[1]
    return None


def _missing(name: str, split: str, searched: str, example: str, cause: str, hint: str = "") -> DataError:
    return DataError(
        f"{name} {split} split not found ({cause}); looked in {searched}. {hint}Supply the files "
        f"with --set data.root=DIR where DIR holds e.g. {example}, or set data.download=true "
        f"on a machine with internet access."
    )


def _other_split_hint(root: Path, folder: str, split: str) -> str:
    """Presets train on the train split; a copy holding only the test split (MNIST's 10k
    t10k files are a common offline copy) trains fine with data.split=test: say so."""
    other = "test" if split == "train" else "train"
    found = find_idx(root, folder, other)
    if found is None:
        return ""
    return f"The {other} split is there ({found[0].name}): --set data.split={other} trains on it. Otherwise: "


def load_idx_set(cfg: DataConfig, name: str) -> TensorSource:
    if cfg.split == "all":  # train then test, 70k: what several seed experiments train on
        parts = [load_idx_set(replace(cfg, split=s), name) for s in ("train", "test")]
        return TensorSource(name, torch.cat([p.images for p in parts]),
                            torch.cat([p.labels for p in parts]), parts[0].num_classes)
    tv_class, folder = _IDX_SETS[name]
    root = data_root(cfg)
    paths = find_idx(root, folder, cfg.split)
    cause = "data.download=false"
    if paths is None and cfg.download:
        try:
            import torchvision.datasets as tvd  # slow import: only when downloading

            getattr(tvd, tv_class)(str(root), train=cfg.split == "train", download=True)
        except Exception as e:  # offline: URLError, RuntimeError after all mirrors fail
            cause = f"download failed: {type(e).__name__}: {e}"
        paths = find_idx(root, folder, cfg.split)
    if paths is None:
        prefix = "train" if cfg.split == "train" else "t10k"
        searched = ", ".join(str(d) for d in idx_dirs(root, folder))
        raise _missing(name, cfg.split, searched,
                       f"{prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz", cause,
                       _other_split_hint(root, folder, cfg.split))
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{name}: {paths[0]} has shape {images.shape} but {paths[1]} has "
                        f"shape {labels.shape}; expected (N, H, W) images and N labels")
    x = prepare_tensor_images(torch.from_numpy(images).unsqueeze(1), cfg.resolution, cfg.channels)
    y, n_cls = labels_or_zeros(torch.from_numpy(labels.astype("int64")), 10, cfg.use_labels)
    return TensorSource(name, x, y, n_cls)


@register_dataset("mnist", "MNIST handwritten digits: 60k train / 10k test (split=all: 70k), 28x28 gray, 10 classes "
                  "(IDX files under data.root)", in_memory=True)
def load_mnist(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> TensorSource:
    _check(cfg, arg, IDX_SPLITS)
    return load_idx_set(cfg, "mnist")


@register_dataset("fashion-mnist", "Fashion-MNIST: 60k train / 10k test (split=all: 70k), 28x28 gray, 10 classes "
                  "(IDX files under data.root)", in_memory=True)
def load_fashion(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> TensorSource:
    _check(cfg, arg, IDX_SPLITS)
    return load_idx_set(cfg, "fashion-mnist")


@register_dataset("cifar10", "CIFAR-10: 50k train / 10k test, 32x32 RGB, 10 classes "
                  "(cifar-10-batches-py under data.root)", in_memory=True)
def load_cifar10(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> TensorSource:
    _check(cfg, arg)
    import torchvision.datasets as tvd

    root = data_root(cfg)
    try:
        ds = tvd.CIFAR10(str(root), train=cfg.split == "train", download=cfg.download)
    except Exception as e:  # missing without download: RuntimeError; offline: URLError
        cause = "data.download=false" if not cfg.download else f"download failed: {type(e).__name__}: {e}"
        raise _missing("cifar10", cfg.split, str(root / "cifar-10-batches-py"),
                       "cifar-10-batches-py/ (extracted from cifar-10-python.tar.gz)", cause) from None
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2)  # (N, 32, 32, 3) -> NCHW
    x = prepare_tensor_images(x, cfg.resolution, cfg.channels)
    y, n_cls = labels_or_zeros(torch.tensor(ds.targets), 10, cfg.use_labels)
    return TensorSource("cifar10", x, y, n_cls)
