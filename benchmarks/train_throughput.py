"""Training throughput: ganbench's loop against a textbook PyTorch DCGAN loop.

Same model (ganbench's `dcgan` G and D, built once per side from the same seed), same
batch size, same data (the built-in digits, in memory), same process and thread count.
The two are run alternately, several rounds, and the median images/s of each is compared:
ratio = ganbench / textbook (target >= 0.95 on CPU, single process).

ganbench's side is the real `run_loop` (stats channel, per-epoch grid, checkpoint),
timed the way the loop reports it (images/s over the batches of an epoch). The textbook
side is the pytorch/examples DCGAN loop (BCE, D on real then fake, G on the same fakes).

    python benchmarks/train_throughput.py [--rounds 5] [--steps 60] [--batch 64] [--res 28]
Prints a table and one JSON line.
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
from torch import nn

from ganbench import config as C
from ganbench.data import build_loader
from ganbench.distributed import LocalSession
from ganbench.models import build_models
from ganbench.presets import get_preset
from ganbench.train.loop import run_loop


def bench_cfg(batch: int, res: int, steps: int, width: int) -> C.RunConfig:
    return C.with_updates(
        get_preset("digits-dcgan"),
        data={"resolution": res, "batch_size": batch, "channels": 1},
        model={"ngf": width, "ndf": width},
        train={"epochs": 2, "max_steps_per_epoch": steps, "checkpoint_every": 1, "sample_grid": 16},
    )


def ganbench_images_per_s(cfg: C.RunConfig) -> float:
    """Epoch 2's images/s as the loop reports it (epoch 1 warms up allocators)."""
    with tempfile.TemporaryDirectory() as d:
        summary = run_loop(cfg, LocalSession(run_dir=Path(d)), tracking=None)
    return summary["history"][-1]["images_per_s"]


def textbook_images_per_s(cfg: C.RunConfig) -> float:
    """The pytorch/examples DCGAN loop, on the same models and batches."""
    device = torch.device("cpu")
    loader = build_loader(cfg.data, seed=cfg.train.seed, device=device)
    torch.manual_seed(cfg.train.seed)
    m = build_models(cfg.model, loader.image_shape, 0)
    netG, netD = m.G, m.D
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.optim_d.lr, betas=(cfg.optim_d.beta1, cfg.optim_d.beta2))
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.optim_g.lr, betas=(cfg.optim_g.beta1, cfg.optim_g.beta2))
    nz, steps = m.latent_dim, cfg.train.max_steps_per_epoch
    rate = 0.0
    for epoch in range(2):
        loader.set_epoch(epoch)
        t0, n = time.perf_counter(), 0
        for i, (real, _) in enumerate(loader):
            if i >= steps:
                break
            b = real.size(0)
            netD.zero_grad()
            label = torch.full((b,), 1.0)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            fake = netG(torch.randn(b, nz))
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optD.step()
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optG.step()
            n += b
        rate = n / (time.perf_counter() - t0)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=60, help="batches per timed epoch")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--res", type=int, default=28, choices=(28, 32, 64))
    ap.add_argument("--width", type=int, default=32, help="ngf = ndf")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = bench_cfg(args.batch, args.res, args.steps, args.width)

    ours, theirs = [], []
    for r in range(args.rounds):
        # Alternate the order each round so drift in machine load hits both sides alike.
        pair = (("ganbench", ganbench_images_per_s), ("textbook", textbook_images_per_s))
        for name, fn in (pair if r % 2 == 0 else pair[::-1]):
            (ours if name == "ganbench" else theirs).append(fn(cfg))
        print(f"round {r + 1}: ganbench {ours[-1]:8.1f} img/s   textbook {theirs[-1]:8.1f} img/s", flush=True)

    g, t = statistics.median(ours), statistics.median(theirs)
    paired = statistics.median(a / b for a, b in zip(ours, theirs))
    result = {
        "benchmark": "train_throughput",
        "model": f"dcgan {args.res}px ngf=ndf={args.width} gray",
        "batch": args.batch,
        "threads": args.threads,
        "rounds": args.rounds,
        "ganbench_img_s": round(g, 1),
        "textbook_img_s": round(t, 1),
        "ratio": round(g / t, 3),
        "ratio_paired_median": round(paired, 3),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, CPU",
    }
    print(f"\nmedian: ganbench {g:.1f} img/s, textbook {t:.1f} img/s, ratio {g / t:.3f}, "
          f"median of per-round ratios {paired:.3f} (target >= 0.95)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
