"""Folder loading per epoch: decode every epoch (torch DataLoader, DALI CPU) vs decode once
into the folder cache (read by the memory loader, or by the torch loader).

A generated folder of JPEGs (ganbench.data.synthetic, default 512 images of 640x480, the
size of a typical photo set) is read at 64 and 128 px. For each resolution every path
first runs one untimed epoch (worker start-up; for the cache paths this is where the cache
is built, timed separately), then the paths take turns epoch by epoch, `--reps` rounds,
so drift in a shared machine's speed hits all of them alike. Reported: median images/s
over the rounds and the speed-up against the torch loader decoding each epoch.
Loading only (no model step): the speed a training run can get at most from its data.

    python benchmarks/folder_cache.py [--n 512] [--size 640x480] [--res 64 128] [--reps 3]
        [--workers 2] [--batch 64] [--out benchmarks/results/folder_cache.txt]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganbench.config import DataConfig
from ganbench.data import build_loader, make_synthetic_folder
from ganbench.data.dali_loader import dali_import_error

# label -> DataConfig fields
PATHS = {
    "torch, decode each epoch": {"loader": "torch", "cache": False},
    "dali-cpu, decode each epoch": {"loader": "dali-cpu", "cache": False},
    "cache -> memory loader": {"loader": "memory", "cache": True},
    "cache -> torch loader": {"loader": "torch", "cache": True},
}


def epoch(loader, e: int) -> tuple[int, float]:
    loader.set_epoch(e)
    n, t0 = 0, time.perf_counter()
    for x, _ in loader:
        n += x.shape[0]
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--res", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default="benchmarks/results/folder_cache.txt")
    ap.add_argument("--machine", default=f"{platform.machine()}, {os.cpu_count()} CPUs, "
                                           f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    paths = {k: v for k, v in PATHS.items() if "dali" not in k or dali_import_error() is None}

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GANBENCH_CACHE"] = str(Path(tmp) / "cache")
        t0 = time.perf_counter()
        root = make_synthetic_folder(Path(tmp) / "jpegs", n_classes=1, per_class=args.n,
                                     size=(w, h), formats=("jpg",), labelled=False)
        gen_s = time.perf_counter() - t0
        folder_mb = sum(p.stat().st_size for p in root.iterdir()) / 2**20
        rows, results = [], []
        for res in args.res:
            loaders, build_s = {}, {}
            for label, fields in paths.items():
                cfg = DataConfig(name=f"folder:{root}", resolution=res, channels=3,
                                 batch_size=args.batch, num_workers=args.workers, **fields)
                t0 = time.perf_counter()
                loaders[label] = build_loader(cfg)
                build_s[label] = time.perf_counter() - t0  # scan + validate, or scan + cache build/hit
                epoch(loaders[label], 0)  # untimed warm-up
            speeds: dict[str, list[float]] = {k: [] for k in paths}
            for r in range(args.reps):
                for label, loader in loaders.items():
                    n, s = epoch(loader, r + 1)
                    speeds[label].append(n / s)
            base = statistics.median(speeds["torch, decode each epoch"])
            for label in paths:
                med = statistics.median(speeds[label])
                row = {"res": res, "path": label, "img_per_s": round(med, 1),
                       "rounds": [round(v, 1) for v in speeds[label]],
                       "speedup_vs_torch": round(med / base, 2), "setup_s": round(build_s[label], 2)}
                results.append(row)
                rows.append(f"{res:>4}  {label:<28} {med:>9.0f} {med / base:>8.2f}x {build_s[label]:>8.2f}   "
                            f"{' '.join(f'{v:.0f}' for v in speeds[label])}")
            for loader in loaders.values():
                del loader
        cache_mb = sum(p.stat().st_size for p in (Path(tmp) / "cache" / "folders").glob("*.u8")) / 2**20

    head = [
        f"# benchmarks/folder_cache.py  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"# machine: {args.machine}",
        f"# folder: {args.n} JPEGs of {w}x{h} (q95, {folder_mb:.0f} MiB, generated in {gen_s:.0f} s); "
        f"RGB, batch {args.batch}, {args.workers} DataLoader workers / DALI threads / cache decode threads",
        f"# per path: one untimed epoch, then {args.reps} interleaved timed epochs; median images/s; "
        f"loading only, no model step",
        f"# setup_s = build_loader(): scan + decode-check of every file (decode paths) or scan + cache "
        f"build (first cache path) / cache hit (second); caches at 64+128 px: {cache_mb:.1f} MiB",
        "",
        f"{'res':>4}  {'path':<28} {'img/s':>9} {'vs torch':>9} {'setup_s':>8}   rounds (img/s)",
    ]
    text = "\n".join(head + rows) + "\n"
    print(text)
    print(json.dumps({"machine": args.machine, "n": args.n, "size": args.size, "results": results}))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + json.dumps({"results": results}) + "\n")


if __name__ == "__main__":
    main()
