"""Data layer: datasets (DATASETS registry) and the loaders that shard them per rank.

    loader = build_loader(cfg.data, rank=r, world_size=w, seed=s, device=dev)
    for epoch in range(n):
        loader.set_epoch(epoch)
        for images, labels in loader: ...   # float32 [-1, 1] (B, C, H, W), int64 (B,)
"""
# Importing the dataset modules registers them in DATASETS.
from ganbench.data import digits, folder, torchvision_sets  # noqa: F401
from ganbench.data.base import Loader
from ganbench.data.build import LOADER_CHOICES, build_loader
from ganbench.data.datasets import DATASETS
from ganbench.data.synthetic import make_synthetic_folder, write_corrupt_files

__all__ = ["build_loader", "DATASETS", "make_synthetic_folder", "write_corrupt_files", "Loader",
           "LOADER_CHOICES"]
