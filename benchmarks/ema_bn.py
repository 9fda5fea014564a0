"""Does G_ema need its own BatchNorm statistics? GeneratorEMA averages G's weights but copies
G's BatchNorm running statistics, which describe the current G's activations, not the averaged
weights'. This scores, on the same checkpoints (paired, no training): raw G, G_ema as saved,
and G_ema after re-estimating its BatchNorm statistics from N of its own forward passes
(BigGAN's "standing statistics"), with each checkpoint's own evaluation protocol.

    python benchmarks/ema_bn.py CHECKPOINT [CHECKPOINT ...] [--n 4096] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys

import torch
from torch import nn


@torch.no_grad()
def recalibrated(models, n: int, batch: int = 256, seed: int = 0):
    """A copy of `models` whose G's BatchNorm running statistics are the plain average over
    n fresh samples of G's own activations (momentum None = cumulative average)."""
    out = copy.deepcopy(models)
    bns = [m for m in out.G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    out.G.train()
    gen = torch.Generator().manual_seed(seed)
    for i in range(0, n, batch):
        z, labels = out.G.sample_latent(min(batch, n - i), None, gen, "cpu")
        out.G(z, labels)
    out.G.eval()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--n", type=int, default=4096, help="samples to re-estimate BatchNorm statistics from")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()

    from ganbench.metrics import Evaluator
    from ganbench.sample import load_generators

    rows = []
    for ckpt in args.checkpoints:
        cfg, gens = load_generators(ckpt, ("G", "G_ema"))
        ev = Evaluator(cfg.eval, cfg.data, "cpu")
        variants = {"G": gens["G"], "G_ema": gens["G_ema"], "G_ema_bn": recalibrated(gens["G_ema"], args.n),
                    "G_bn": recalibrated(gens["G"], args.n)}
        row = {"checkpoint": ckpt}
        for name, models in variants.items():
            metrics, protocol = ev.evaluate(models)
            row[name] = {k: round(v, 4) for k, v in metrics.items() if k.startswith(("fid", "class_share"))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"benchmark": "ema_bn", "n_recalibration": args.n, "rows": rows,
              "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, CPU"}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
