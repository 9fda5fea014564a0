"""A published-protocol number: the Inception FID of the `mnist-dcgan` preset's best
checkpoint under Lucic et al. 2018's protocol (10k generated against 10k MNIST test images,
TF-Inception pool3 features, grayscale tiled to RGB), beside the real-vs-real floor (two
disjoint 5k halves of the same 10k test images).

It trains the preset on the MNIST test split in ../shared (the only MNIST this machine has),
so the generator has seen the very images it is scored against; Lucic et al. trained on the
60k train split, with a larger budget and a hyperparameter search. The README says so.

    python benchmarks/lucic_mnist.py [--mnist ../shared/datasets/mnist] [--checkpoint CKPT]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
DEFAULT_MNIST = HERE.parent.parent / "shared" / "datasets" / "mnist"
# Lucic et al. 2018, "Are GANs Created Equal?", best FID per model on MNIST (their Table 2).
LUCIC_MNIST = {"NS-GAN": 6.8, "LSGAN": 7.8, "WGAN-GP": 20.3}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist", default=str(DEFAULT_MNIST), help="folder with t10k-images-idx3-ubyte.gz")
    ap.add_argument("--checkpoint", default=None, help="evaluate this checkpoint instead of training one")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    if not (Path(args.mnist) / "t10k-images-idx3-ubyte.gz").is_file():
        print(f"MNIST test split not found under {args.mnist}: nothing to measure", file=sys.stderr)
        return 1

    from ganbench import config as C
    from ganbench.presets import get_preset
    from ganbench.train import train
    from ganbench.train.final_eval import evaluate_checkpoint

    out = Path(args.out)
    cfg = C.with_updates(get_preset("mnist-dcgan"), data={"root": args.mnist, "split": "test", "download": False},
                         final_eval={"run": "always"})
    train_s = None
    ckpt = args.checkpoint
    if ckpt is None:
        t0 = time.perf_counter()
        res = train(C.with_updates(cfg, final_eval={"run": "never"}), out=out / "runs", track=False, progress=False)
        train_s, ckpt = time.perf_counter() - t0, res.best_checkpoint
    t0 = time.perf_counter()
    final = evaluate_checkpoint(cfg, ckpt, "cuda" if torch.cuda.is_available() else "cpu")
    eval_s = time.perf_counter() - t0
    m = final.metrics
    result = {
        "benchmark": "lucic_mnist", "preset": "mnist-dcgan", "checkpoint": ckpt,
        "train_data": "MNIST test split (10k), ../shared", "train_wall_s": train_s, "final_eval_wall_s": eval_s,
        "fid10k_inception": m.get("fid10k_inception"), "fid10k_inception_floor": m.get("fid10k_inception_floor"),
        "metrics": m, "protocol": final.protocol, "lucic_2018_mnist_fid": LUCIC_MNIST,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}",
    }
    (out / "lucic_mnist.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"fid10k_inception={m.get('fid10k_inception'):.2f} floor={m.get('fid10k_inception_floor'):.2f} "
          f"(train {train_s or 0:.0f} s, final eval {eval_s:.0f} s)")
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
