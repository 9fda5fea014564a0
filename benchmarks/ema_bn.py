"""Does G_ema need its own BatchNorm statistics? GeneratorEMA averages G's weights but copies
G's BatchNorm running statistics, which describe the current G's activations, not the averaged
weights'. This scores, on the same checkpoints (paired, no training): raw G, G_ema as saved,
and G_ema after re-estimating its BatchNorm statistics from N of its own forward passes
(BigGAN's "standing statistics"), with each checkpoint's own evaluation protocol. The product
now settles G_ema this way before it is used (ema.bn_samples), so "G_ema" of a checkpoint
written since then is already re-estimated; this script measured the older ones.

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


def recalibrated(models, n: int):
    """A copy of `models` whose G's BatchNorm statistics are re-estimated from n of its own
    samples, by the product's function (what GeneratorEMA.settle runs since 2026-12-02)."""
    from ganbench.models.ema import reestimate_batchnorm

    out = copy.deepcopy(models)
    reestimate_batchnorm(out.G, n, models.num_classes if models.conditional else 0)
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
