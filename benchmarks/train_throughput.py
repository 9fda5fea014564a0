"""Training throughput: ganbench's loop against a textbook PyTorch DCGAN loop.

Same model (ganbench's `dcgan` G and D, built once per side from the same seed), same
batch size, same data (the built-in digits, in memory), same process and thread count.
ratio = ganbench / textbook (target >= 0.95 on CPU, single process).

ganbench's side is the loop's own `train_one_epoch` (loader batches, `GanStep.step`, the
stats channel), one short epoch per chunk, then the stats reduction; the textbook side is the pytorch/examples DCGAN loop
(BCE, D on real then fake, G on the same fakes). They run in short alternating chunks, and
the ratio is the median over rounds of neighbouring chunks (this 2-core VM's speed drifts by
tens of percent from second to second). The full `run_loop` epoch rate is printed too.

    python benchmarks/train_throughput.py [--rounds 30] [--steps 20] [--batch 64] [--res 28]
Prints a table and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import sys
import time
from pathlib import Path

import torch
from torch import nn

from ganbench import config as C
from ganbench.data import build_loader
from ganbench.distributed import LocalSession
from ganbench.models import build_models
from ganbench.presets import get_preset
from ganbench.train.loop import build_stepper, run_loop, train_one_epoch
from ganbench.train.stats import Stats


def bench_cfg(batch: int, res: int, steps: int, width: int) -> C.RunConfig:
    return C.with_updates(
        get_preset("digits-dcgan"),
        data={"resolution": res, "batch_size": batch, "channels": 1},
        model={"ngf": width, "ndf": width},
        train={"epochs": 2, "max_steps_per_epoch": steps, "checkpoint_every": 1, "sample_grid": 16},
        eval={"every": 0},
    )


def ganbench_epoch_images_per_s(cfg: C.RunConfig, device: torch.device) -> float:
    """End to end: the real run_loop for 2 epochs; epoch 2's images/s as the loop reports it."""
    with tempfile.TemporaryDirectory() as d:
        summary = run_loop(cfg, LocalSession(run_dir=Path(d), device=device), tracking=None)
    return summary.history[-1]["images_per_s"]


class Ganbench:
    """ganbench's loop: one `train_one_epoch` of `steps` batches per chunk, then the stats
    reduction, as run_loop does at every epoch end."""

    def __init__(self, cfg: C.RunConfig, device: torch.device):
        session = LocalSession(run_dir=Path(tempfile.mkdtemp()), device=device)
        self.loader = build_loader(cfg.data, seed=cfg.train.seed, device=session.device)
        self.models, self.stepper = build_stepper(cfg, session, self.loader.image_shape, self.loader.num_classes)
        self.stats = Stats()
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.epoch = 0

    def run(self, steps: int) -> int:
        run = train_one_epoch(self.stepper, self.loader, self.epoch, self.gen, self.stats, max_steps=steps)
        self.epoch += 1
        self.stats.reduce()
        return run.images


class Textbook:
    """The pytorch/examples DCGAN loop (BCE, D on real then fake, G on the same fakes)."""

    def __init__(self, cfg: C.RunConfig, device: torch.device):
        self.loader = build_loader(cfg.data, seed=cfg.train.seed, device="cpu")
        torch.manual_seed(cfg.train.seed)
        m = build_models(cfg.model, self.loader.image_shape, 0)
        self.device = device
        self.netG, self.netD, self.nz = m.G.to(device), m.D.to(device), m.latent_dim
        self.criterion = nn.BCEWithLogitsLoss()
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=cfg.optim_d.lr, betas=(cfg.optim_d.beta1, cfg.optim_d.beta2))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=cfg.optim_g.lr, betas=(cfg.optim_g.beta1, cfg.optim_g.beta2))
        self.batches = _cycle(self.loader)

    def run(self, steps: int) -> int:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        n = 0
        for _ in range(steps):
            real, _ = next(self.batches)
            real = real.to(self.device, non_blocking=True)
            b = real.size(0)
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=self.device)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            fake = netG(torch.randn(b, self.nz, device=self.device))
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            self.optD.step()
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            self.optG.step()
            n += b
        return n


def _cycle(loader):
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def timed(side, steps: int) -> float:
    _sync()
    t0 = time.perf_counter()
    n = side.run(steps)
    _sync()  # GPU work is asynchronous: time it done, not queued
    return n / (time.perf_counter() - t0)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20, help="batches per timed chunk")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--res", type=int, default=28, choices=(28, 32, 64))
    ap.add_argument("--width", type=int, default=32, help="ngf = ndf")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--device", default="cpu", help="cpu or cuda; both sides in fp32 (train.amp off: the same math)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device visible")
    device = torch.device(args.device)
    cfg = C.with_updates(bench_cfg(args.batch, args.res, args.steps, args.width), train={"amp": False})

    ours_side, theirs_side = Ganbench(cfg, device), Textbook(cfg, device)
    timed(ours_side, 10), timed(theirs_side, 10)  # warm-up: allocator, oneDNN kernels
    ours, theirs, ratios = [], [], []
    for r in range(args.rounds):
        # Short chunks, alternated (ABBA...), so drift in machine load hits both sides alike;
        # each round's ratio compares neighbours in time.
        a_first = r % 2 == 0
        a = timed(ours_side, args.steps) if a_first else None
        b = timed(theirs_side, args.steps)
        a = a if a_first else timed(ours_side, args.steps)
        ours.append(a), theirs.append(b), ratios.append(a / b)
    g, t = statistics.median(ours), statistics.median(theirs)
    paired = statistics.median(ratios)
    print(f"chunks of {args.steps} steps x {args.rounds} rounds: ganbench median {g:.1f} img/s (max {max(ours):.1f}), "
          f"textbook median {t:.1f} img/s (max {max(theirs):.1f})")
    end_to_end = ganbench_epoch_images_per_s(cfg, device)
    print(f"run_loop epoch 2 as the loop reports it (its batches; grid and checkpoint excluded): {end_to_end:.1f} img/s")

    result = {
        "benchmark": "train_throughput",
        "model": f"dcgan {args.res}px ngf=ndf={args.width} gray",
        "batch": args.batch,
        "threads": args.threads,
        "rounds": args.rounds,
        "ganbench_img_s": round(g, 1),
        "textbook_img_s": round(t, 1),
        "ratio_median_of_rounds": round(paired, 3),
        "ratio_of_medians": round(g / t, 3),
        "ratio_of_best_chunks": round(max(ours) / max(theirs), 3),
        "run_loop_epoch_img_s": round(end_to_end, 1),
        "device": str(device),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}",
    }
    print(f"ratio ganbench/textbook: median of rounds {paired:.3f}, of medians {g / t:.3f}, "
          f"of best chunks {max(ours) / max(theirs):.3f} (target >= 0.95)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
