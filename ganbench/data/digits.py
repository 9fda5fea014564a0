"""`digits`: scikit-learn's 1,797 real 8x8 handwritten digits. Ships with sklearn, so it
works offline and is the dataset of the CPU debug presets and tests."""
from __future__ import annotations

import torch

from ganbench.config import DataConfig
from ganbench.data.datasets import TensorSource, labels_or_zeros, register_dataset
from ganbench.data.transforms import prepare_tensor_images
from ganbench.errors import ConfigError


@register_dataset("digits", "scikit-learn digits: 1,797 real 8x8 gray digits, 10 classes, offline "
                  "(no train/test split: data.split is ignored)", in_memory=True)
def load_digits(cfg: DataConfig, arg: str | None, verbose: bool = True) -> TensorSource:
    if arg is not None:
        raise ConfigError(f"dataset digits takes no ':' argument, got {cfg.name!r}")
    from sklearn.datasets import load_digits as sk_load_digits  # import only when used

    d = sk_load_digits()
    x = torch.from_numpy(d.images).float().div(16.0).unsqueeze(1)  # values 0..16 -> [0, 1]
    images = prepare_tensor_images(x, cfg.resolution, cfg.channels)
    labels, n_cls = labels_or_zeros(torch.from_numpy(d.target), 10, cfg.use_labels)
    return TensorSource("digits", images, labels, n_cls)
