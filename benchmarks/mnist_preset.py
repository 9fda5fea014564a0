"""Does `mnist-dcgan` (or --preset NAME) give recognisable digits of all ten classes, each
7-13% of the samples, within 10 minutes on 2 CPU cores? Trains the preset on the real MNIST test split from ../shared (the 10k digits
this machine has), times it, and judges the best checkpoint with the MNIST classifier
backbone: FID/KID, class coverage, and per class the share of samples the classifier
recognises with confidence >= 0.9. Writes the sample grid to benchmarks/results/.

    python benchmarks/mnist_preset.py [--preset mnist-cdcgan] [--mnist ../shared/datasets/mnist] [--workers 0]

Writes benchmarks/results/mnist_preset.json (for mnist-dcgan) or mnist_preset-NAME.json.
A conditional preset's samples cycle through the classes (as `ganbench sample` does).
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist", default=str(DEFAULT_MNIST), help="folder with t10k-images-idx3-ubyte.gz")
    ap.add_argument("--preset", default="mnist-dcgan", help="an MNIST preset (default mnist-dcgan)")
    ap.add_argument("--workers", type=int, default=0, help="Ray Train workers (0 = in process)")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args()
    if not (Path(args.mnist) / "t10k-images-idx3-ubyte.gz").is_file():
        print(f"MNIST test split not found under {args.mnist}: nothing to measure", file=sys.stderr)
        return 1
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")

    from ganbench import config as C
    from ganbench.metrics import Evaluator
    from ganbench.presets import get_preset
    from ganbench.sample import load_generator, sample, write_samples
    from ganbench.train import train

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = C.with_updates(get_preset(args.preset), data={"root": args.mnist, "split": "test", "download": False})
    t0 = time.perf_counter()
    res = train(cfg, workers=args.workers, out=out / "runs", track=False, progress=False)
    wall = time.perf_counter() - t0

    run_cfg, models = load_generator(res.best_checkpoint)
    ev = Evaluator(run_cfg.eval, run_cfg.data, "cpu")
    metrics, protocol = ev.evaluate(models)
    # Per class: how many samples the MNIST classifier recognises with >= 90% confidence.
    x = sample(models, 5000, seed=0)
    probs = torch.cat([ev.backbone.probs(x[i:i + 500]) for i in range(0, len(x), 500)])
    conf, cls = probs.max(1)
    confident = {int(k): int(((cls == k) & (conf >= 0.9)).sum()) for k in range(10)}
    # The target: every digit between 7% and 13% of the samples (the classifier's argmax).
    shares = {int(k): round(float((cls == k).float().mean()), 4) for k in range(10)}
    balanced = all(0.07 <= v <= 0.13 for v in shares.values())
    tail = "" if args.preset == "mnist-dcgan" else f"-{args.preset}"
    grid = write_samples(x[:100], out / f"{args.preset}-samples.png")

    result = {
        "benchmark": "mnist_preset",
        "preset": args.preset, "data": "MNIST test split (10k), ../shared",
        "train_wall_s": round(wall, 1), "epochs": cfg.train.epochs,
        "best_checkpoint_epoch": int(Path(res.best_checkpoint).name.split("_")[-1]),
        "score_key": res.score_key, "best_score": res.best_score,
        "metrics_best": {k: round(v, 4) for k, v in metrics.items()},
        "confident_per_class_of_5000": confident,
        "confident_fraction": round(sum(confident.values()) / 5000, 3),
        "share_per_class": shares, "every_class_7_to_13_percent": balanced,
        "weights": models.weights,
        "backbone_heldout_accuracy": protocol.get("backbone_heldout_accuracy"),
        "grid": str(grid),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, CPU",
    }
    (out / f"mnist_preset{tail}.json").write_text(json.dumps(result) + "\n")
    scored = f"best {res.score_key}={res.best_score:.4g}" if res.best_score is not None else "no evaluation during training"
    print(f"trained in {wall / 60:.1f} min; {scored}, checkpoint {Path(res.best_checkpoint).name} ({models.weights}); "
          f"{protocol.get('selection_metric', 'metrics')}: {metrics}; share per class: {shares} "
          f"({'every class within' if balanced else 'NOT every class within'} 7-13%)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
