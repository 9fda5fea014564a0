"""build_loader(): pick the dataset and the loader, check the combination, say what ran.

Choosing is explicit and loud: an impossible request (DALI GPU without a GPU, the memory
loader for a folder) is a ConfigError naming what to use instead; loader=auto logs a
warning whenever it takes something slower than the GPU path.
"""
from __future__ import annotations

import re

import torch

from ganbench.config import DataConfig
from ganbench.data.base import Loader, log
from ganbench.data.dali_loader import DaliLoader, dali_import_error
from ganbench.data.datasets import lookup
from ganbench.data.folder import BAD_FILE_POLICIES
from ganbench.data.transforms import RESIZE_MODES
from ganbench.data.memory_loader import MemoryLoader
from ganbench.data.torch_loader import TorchLoader
from ganbench.errors import ConfigError

LOADER_CHOICES = ("auto", "dali", "dali-cpu", "torch", "memory")


def check_config(cfg: DataConfig, rank: int, world_size: int) -> None:
    if cfg.loader not in LOADER_CHOICES:
        raise ConfigError(f"data.loader must be one of: {', '.join(LOADER_CHOICES)} (got {cfg.loader!r})")
    if cfg.on_bad_file not in BAD_FILE_POLICIES:
        raise ConfigError(f"data.on_bad_file must be one of: {', '.join(BAD_FILE_POLICIES)} "
                          f"(got {cfg.on_bad_file!r})")
    if cfg.resize_mode not in RESIZE_MODES:
        raise ConfigError(f"data.resize_mode must be one of: {', '.join(RESIZE_MODES)} (got {cfg.resize_mode!r})")
    if cfg.label_pattern:
        try:
            groups = re.compile(cfg.label_pattern).groups
        except re.error as e:
            raise ConfigError(f"data.label_pattern {cfg.label_pattern!r} is not a valid regex: {e}") from None
        if groups != 1:
            raise ConfigError(f"data.label_pattern must have exactly one (group), the class; "
                              f"{cfg.label_pattern!r} has {groups}")
    if cfg.resolution < 8:
        raise ConfigError(f"data.resolution must be >= 8, got {cfg.resolution}")
    if cfg.channels not in (1, 3):
        raise ConfigError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {cfg.channels}")
    if cfg.batch_size < 1:
        raise ConfigError(f"data.batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.num_workers < 0:
        raise ConfigError(f"data.num_workers must be >= 0, got {cfg.num_workers}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is not in range for world_size {world_size}")


def choose_kind(cfg: DataConfig, in_memory: bool, device: torch.device, verbose: bool,
                cacheable: bool = False) -> str:
    """-> 'memory' | 'torch' | 'dali-cpu' | 'dali-gpu'; raises rather than silently swapping.
    cacheable: a file set that data.cache will decode once (memory and torch then read the cache)."""
    name, cuda = cfg.name, device.type == "cuda"
    if cfg.loader == "torch":
        return "torch"
    if cfg.loader == "memory":
        if not in_memory and not cacheable:
            raise ConfigError(f"data.loader=memory serves tensor sets (digits, mnist, fashion-mnist, "
                              f"cifar10) and cached folders (data.cache=true); for {name} use "
                              f"data.cache=true, or loader=auto, dali-cpu or torch")
        return "memory"
    if cfg.loader in ("dali", "dali-cpu"):
        if in_memory:
            raise ConfigError(f"data.loader={cfg.loader} reads image files, and {name} is an in-memory "
                              f"tensor set: use loader=memory (or auto) or torch")
        if cfg.loader == "dali" and not cuda:
            raise ConfigError(f"data.loader=dali decodes on a CUDA GPU, and the device is {device}: "
                              f"use loader=dali-cpu (DALI CPU pipeline) or loader=torch")
        if (err := dali_import_error()) is not None:
            raise ConfigError(f"data.loader={cfg.loader} needs NVIDIA DALI, which does not import "
                              f"({err}); use loader=torch")
        return "dali-gpu" if cfg.loader == "dali" else "dali-cpu"
    # auto
    if in_memory:
        return "memory"
    if cacheable and not cuda:  # on CPU, decoding is the bottleneck: decode once, read the cache
        return "memory"
    if (err := dali_import_error()) is not None:
        if verbose:
            log.warning("DALI unavailable (%s): using the torch DataLoader", err)
        return "torch"
    if cuda:
        return "dali-gpu"
    if verbose:
        log.warning("DALI GPU unavailable (no CUDA device): using DALI CPU pipeline")
    return "dali-cpu"


def build_loader(cfg: DataConfig, *, rank: int = 0, world_size: int = 1, seed: int = 0,
                 device: torch.device | str = torch.device("cpu")) -> Loader:
    """The data loader for one rank: yields (images, labels) batches on `device`, images
    float32 (B, C, H, W) in [-1, 1], labels int64 (B,); same batch count on every rank."""
    device = torch.device(device)
    check_config(cfg, rank, world_size)
    entry, arg = lookup(cfg.name)
    verbose = rank == 0  # messages once per job, not once per rank
    cacheable = cfg.cache and entry.cached is not None
    kind = choose_kind(cfg, entry.in_memory, device, verbose, cacheable)  # before loading: fail fast
    if cacheable and kind in ("memory", "torch"):
        source = entry.cached(cfg, arg, verbose)
        read = "decoded once, read from the folder cache"
    else:
        source = entry.load(cfg, arg, verbose)
        read = "in memory"
        if entry.cached is not None:  # DALI decodes the files itself; the cache feeds memory/torch
            read = ("decoded every epoch; data.cache=false" if not cfg.cache else
                    "decoded every epoch by DALI; the folder cache serves loader=memory/torch")
    common = dict(rank=rank, world_size=world_size, seed=seed, device=device)
    if kind == "memory":
        loader: Loader = MemoryLoader(source, cfg, **common)
    elif kind == "torch":
        loader = TorchLoader(source, cfg, **common)
    else:
        loader = DaliLoader(source, cfg, gpu=kind == "dali-gpu", **common)
    if verbose:
        d = loader.describe()
        log.info("data: %s loader (%s), %s: %d images (%d per rank x %d ranks), %d classes, %d skipped, "
                 "%dx%dx%d, %d batches of %d per epoch", kind, read, d["dataset"], d["total_images"],
                 d["shard_images"], world_size, d["num_classes"], d["skipped"], d["channels"],
                 d["resolution"], d["resolution"], d["batches_per_epoch"], d["batch_size"])
    return loader
