"""Which digits does a checkpoint's G make, and is the unevenness in G or in how it is sampled?
For each checkpoint: the MNIST classifier's share per class of N samples (eval-mode G, the one
noise recipe), the share of samples it calls with confidence < 0.9, and the shares again with
G sampled on batch statistics (train-mode BatchNorm, batches of 64, as in training).

    python benchmarks/class_shares.py CHECKPOINT [CHECKPOINT ...] [--n 5000] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import torch


def shares(probs: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / len(probs)]


@torch.no_grad()
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()

    from ganbench.metrics import Evaluator
    from ganbench.sample import load_generator, sample

    rows = []
    for ckpt in args.checkpoints:
        cfg, models = load_generator(ckpt, "G")
        ev = Evaluator(cfg.eval, cfg.data, "cpu")
        probs = lambda x: torch.cat([ev.backbone.probs(x[i:i + 500]) for i in range(0, len(x), 500)])  # noqa: E731
        p_eval = probs(sample(models, args.n, seed=0))
        models.G.train()  # BatchNorm on each batch's own statistics
        gen = torch.Generator().manual_seed(0)
        x = torch.cat([models.G(*models.G.sample_latent(64, None, gen, "cpu")) for _ in range(args.n // 64)])
        models.G.eval()
        row = {"checkpoint": ckpt, "share_eval_mode": shares(p_eval),
               "below_0.9_confidence": round(float((p_eval.max(1).values < 0.9).float().mean()), 3),
               "share_train_mode_batches_of_64": shares(probs(x))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"benchmark": "class_shares", "n": args.n, "rows": rows,
              "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, CPU"}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
