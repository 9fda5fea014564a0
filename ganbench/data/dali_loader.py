"""NVIDIA DALI loader for image folders: decode, resize, crop, flip and normalise in DALI's
own threads (dali-cpu) or on the GPU with nvJPEG (dali-gpu, "mixed" decoder).

Sharding and determinism: each epoch we build a fresh pipeline whose reader gets the
epoch's permuted file list (base.shard_indices' permutation, cut to world_size equal
parts) with shard_id=rank, num_shards=world_size and random_shuffle=False. So DALI's
own sharding hands each rank exactly the images the torch and memory loaders would,
in the same order, and the same (seed, epoch) gives the same order every time. DALI's
random_shuffle would not: it shuffles within a small buffer, its shards differ in size
by one image when the count does not divide, and its order depends on pipeline
history. Building a pipeline costs milliseconds (CPU) and is done once per epoch.
Flips are DALI coin flips seeded from (seed, epoch, rank): reproducible, but not the
same flips the torch loader draws.
"""
from __future__ import annotations

from typing import Iterator

import torch

from ganbench.data.base import FLIP, SHUFFLE, LoaderBase, derive_seed, generator
from ganbench.data.datasets import FileSource


def dali_import_error() -> str | None:
    """None when DALI imports, else why not (so callers can say it, not guess)."""
    try:
        import nvidia.dali  # noqa: F401
        import nvidia.dali.plugin.pytorch  # noqa: F401
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


def _pipeline(files, labels, *, shard_id, num_shards, resolution, channels, hflip, vflip,
              gpu, batch_size, num_threads, device_id, seed, squash=False):
    from nvidia.dali import fn, pipeline_def, types

    @pipeline_def
    def folder_pipeline():
        encoded, label = fn.readers.file(
            files=files, labels=labels, shard_id=shard_id, num_shards=num_shards,
            random_shuffle=False, stick_to_shard=True, pad_last_batch=False, name="Reader")
        images = fn.decoders.image(encoded, device="mixed" if gpu else "cpu",
                                   output_type=types.GRAY if channels == 1 else types.RGB)
        if squash:  # whole image to the square, aspect not kept
            images = fn.resize(images, resize_x=resolution, resize_y=resolution)
        else:  # shorter side, then the centre crop below
            images = fn.resize(images, resize_shorter=resolution)  # linear, antialiased by default
        if vflip:
            images = fn.flip(images, vertical=fn.random.coin_flip(), horizontal=0)
        images = fn.crop_mirror_normalize(
            images, crop=(resolution, resolution),
            mirror=fn.random.coin_flip() if hflip else 0,
            mean=127.5, std=127.5, dtype=types.FLOAT, output_layout="CHW")
        return images, label

    # CPU-only DALI needs device_id=None; any device id makes it look for a GPU at build.
    return folder_pipeline(batch_size=batch_size, num_threads=num_threads,
                           device_id=device_id, seed=seed)


class DaliLoader(LoaderBase):
    def __init__(self, source: FileSource, cfg, *, rank, world_size, seed, device, gpu: bool):
        super().__init__(source, cfg, rank=rank, world_size=world_size, seed=seed, device=device)
        self.kind = "dali-gpu" if gpu else "dali-cpu"
        self.gpu = gpu
        self.files, self.labels = source.files, source.labels
        self.device_id = None  # CPU pipeline
        if gpu:
            self.device_id = device.index if device.index is not None else torch.cuda.current_device()

    def _epoch_files(self) -> tuple[list[str], list[int]]:
        # Every rank passes the same permuted list; DALI's shard_id picks this rank's part.
        perm = torch.randperm(self.total_images, generator=generator(self.seed, self.epoch, SHUFFLE))
        perm = perm[: self.num_images * self.world_size].tolist()
        return [self.files[i] for i in perm], [self.labels[i] for i in perm]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from nvidia.dali.plugin.base_iterator import LastBatchPolicy
        from nvidia.dali.plugin.pytorch import DALIGenericIterator

        self.check_present()
        files, labels = self._epoch_files()
        pipe = _pipeline(
            files, labels, shard_id=self.rank, num_shards=self.world_size,
            resolution=self.cfg.resolution, channels=self.cfg.channels,
            hflip=self.cfg.hflip, vflip=self.cfg.vflip, gpu=self.gpu,
            batch_size=self.batch_size, num_threads=max(1, self.cfg.num_workers),
            device_id=self.device_id, squash=self.cfg.resize_mode == "squash",
            seed=derive_seed(self.seed, self.epoch, FLIP, self.rank) % (2**31),
        )
        it = DALIGenericIterator(pipe, ["images", "labels"], reader_name="Reader",
                                 last_batch_policy=LastBatchPolicy.DROP, auto_reset=False)
        try:
            # Stop at len(self) ourselves: equal batch counts on all ranks is the contract.
            for _, batch in zip(range(len(self)), it):
                x, y = batch[0]["images"], batch[0]["labels"]
                yield x.to(self.device), y.view(-1).long().to(self.device)
        finally:
            del it, pipe  # release DALI's threads (and GPU buffers) before the next epoch
