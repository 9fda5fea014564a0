"""Decoded-image cache for image folders: decode and resize every file once, into a uint8
(N, C, H, W) array memory-mapped from the ganbench cache ($GANBENCH_CACHE, else
~/.cache/ganbench) under folders/.

Why: decoding large JPEGs each epoch is what limits a CPU run (and what seed 002 avoided
with its own binary cache); reading a memory-mapped uint8 row costs next to nothing.

Key: the folder's real path, resolution, channels and resize mode (the name's first
part), plus every file's path, size and mtime (the second part). Any added, removed,
touched or resized file gives a new key, so a changed folder is decoded again; an entry
with the same first part is then deleted, so one folder keeps one cache.

Sharing: ranks of a node (or of any machines sharing the cache folder) build it once.
The first process to create NAME.lock decodes, writing to temp files renamed into place
with os.replace (NAME.json last, so its presence means "complete"); the others wait for
NAME.json, or take over when the lock stops being touched (its builder died).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm import tqdm

from ganbench.atomic import atomic_path
from ganbench.data.base import log
from ganbench.data.transforms import decode_image

VERSION = 1
STALE_LOCK_S = 120.0  # a builder touches its lock every few images; silence this long = dead
_PROGRESS_MIN = 500

# How many files this process decoded into a cache (tests read it: a hit decodes none).
stats = {"decoded": 0, "hits": 0, "built": 0}


def cache_root() -> Path:
    """Same root as the metrics caches: $GANBENCH_CACHE, else ~/.cache/ganbench."""
    return Path(os.environ.get("GANBENCH_CACHE") or "~/.cache/ganbench").expanduser() / "folders"


def cache_name(root: Path, files: list[Path], resolution: int, channels: int, resize_mode: str) -> str:
    ident = json.dumps([VERSION, os.path.realpath(root), resolution, channels, resize_mode])
    h = hashlib.sha256(ident.encode())
    prefix = h.hexdigest()[:12]
    for f in files:
        st = os.stat(f)
        h.update(f"\0{f}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return f"{prefix}-{h.hexdigest()[:16]}"


def _read(d: Path, name: str) -> Optional[tuple[np.ndarray, list[tuple[str, str]]]]:
    meta_path, data_path = d / f"{name}.json", d / f"{name}.u8"
    try:
        meta = json.loads(meta_path.read_text())
        shape = tuple(meta["shape"])
        if data_path.stat().st_size != int(np.prod(shape)):
            return None  # damaged (disk full, hand-edited): rebuild
        bad = [(p, r) for p, r in meta["bad"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if shape[0] == 0:
        return np.zeros(shape, np.uint8), bad
    # Copy-on-write: torch wants a writable array; nothing is ever written back.
    return np.memmap(data_path, dtype=np.uint8, mode="c", shape=shape), bad


def _decode(args):
    path, res, ch, mode = args
    try:
        return decode_image(path, res, ch, mode), None
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"


def _decode_all(files: list[Path], out: np.ndarray, res: int, ch: int, mode: str, threads: int,
                progress: bool, touch: Optional[Path]) -> tuple[int, list[tuple[str, str]]]:
    """Decode files into out's first rows (good files only, in order) -> (rows, bad)."""
    bad: list[tuple[str, str]] = []
    rows = 0
    jobs = ((str(f), res, ch, mode) for f in files)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # PIL decodes outside the GIL
        results = tqdm(pool.map(_decode, jobs, chunksize=8), total=len(files), unit="img",
                       desc="decoding into cache", file=sys.stderr,
                       disable=not progress or len(files) < _PROGRESS_MIN)
        for i, (arr, reason) in enumerate(results):
            stats["decoded"] += 1
            if arr is None:
                bad.append((str(files[i]), reason))
                continue
            out[rows] = arr
            rows += 1
            if touch is not None and i % 64 == 0:
                with contextlib.suppress(OSError):
                    os.utime(touch)
    return rows, bad


def _build(d: Path, name: str, files: list[Path], res: int, ch: int, mode: str, threads: int,
           verbose: bool, lock: Path) -> tuple[np.ndarray, list[tuple[str, str]]]:
    shape = (len(files), ch, res, res)
    with atomic_path(d / f"{name}.u8") as tmp:
        mm = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
        rows, bad = _decode_all(files, mm, res, ch, mode, threads, verbose, lock)
        mm.flush()
        del mm
        os.truncate(tmp, rows * ch * res * res)  # drop the rows that bad files left unused
    meta = {"version": VERSION, "shape": [rows, ch, res, res], "bad": bad, "files": len(files)}
    with atomic_path(d / f"{name}.json") as tmp_meta:  # last: its presence means complete
        tmp_meta.write_text(json.dumps(meta))
    _prune(d, name)
    got = _read(d, name)
    assert got is not None, f"cache {d / name} unreadable right after writing"
    return got


def _prune(d: Path, name: str) -> None:
    """Delete older caches of the same folder + settings (the folder changed since)."""
    prefix = name.split("-")[0] + "-"
    for p in d.glob(prefix + "*"):
        if not p.name.startswith(name) and not p.name.endswith(".lock"):
            with contextlib.suppress(OSError):
                p.unlink()


def _in_memory(files, res, ch, mode, threads, verbose, why: str):
    if verbose:
        log.warning("folder cache not written (%s): decoding %d images into memory for this run only",
                    why, len(files))
    out = np.empty((len(files), ch, res, res), np.uint8)
    rows, bad = _decode_all(files, out, res, ch, mode, threads, verbose, None)
    return out[:rows], bad, "memory"


def get_or_build(root: Path, files: list[Path], *, resolution: int, channels: int, resize_mode: str,
                 threads: int, verbose: bool) -> tuple[np.ndarray, list[tuple[str, str]], str]:
    """-> (images uint8 (M, C, H, W) for the good files in order, [(bad path, reason)],
    'hit' | 'built' | 'memory')."""
    d = cache_root()
    name = cache_name(root, files, resolution, channels, resize_mode)
    need = len(files) * channels * resolution * resolution
    try:
        d.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(d).free
    except OSError as e:
        return _in_memory(files, resolution, channels, resize_mode, threads, verbose, f"{d}: {e}")
    lock = d / f"{name}.lock"
    waited = False
    while True:
        got = _read(d, name)
        if got is not None:
            stats["hits"] += 1
            if verbose:
                log.info("data: folder cache hit, %d images read from %s (no decoding)",
                         got[0].shape[0], d / f"{name}.u8")
            return got[0], got[1], "hit"
        if need > free:
            return _in_memory(files, resolution, channels, resize_mode, threads, verbose,
                              f"needs {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free in {d}")
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue  # the builder just finished
            if age > STALE_LOCK_S:
                log.warning("folder cache lock %s untouched for %.0f s: taking over", lock, age)
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            if verbose and not waited:
                log.info("data: waiting for another process to finish the folder cache %s", lock)
            waited = True
            time.sleep(0.5)
            continue
        except OSError as e:  # read-only cache folder
            return _in_memory(files, resolution, channels, resize_mode, threads, verbose, f"{lock}: {e}")
        try:
            got = _read(d, name)  # finished between our check and our lock
            if got is not None:
                stats["hits"] += 1
                return got[0], got[1], "hit"
            t0 = time.perf_counter()
            images, bad = _build(d, name, files, resolution, channels, resize_mode, threads,
                                 verbose, lock)
            stats["built"] += 1
            if verbose:
                log.info("data: decoded %d images once into the folder cache %s (%.1f s); later "
                         "epochs and runs read it", len(files), d / f"{name}.u8", time.perf_counter() - t0)
            return images, bad, "built"
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
