"""`make demo`: the main job on built-in data, offline, with only local parts.

Trains the `digits-dcgan` preset (real handwritten digits shipped with scikit-learn) on 2
Ray Train workers (DDP over gloo), evaluates FID every 5 epochs (offline digits classifier
backbone), records it in MLflow (SQLite in ./demo), draws a sample grid from the best
checkpoint by FID, and says where everything is.

    python -m ganbench.demo [--workers 2] [--epochs N] [--out demo]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from ganbench import config as C
from ganbench.presets import get_preset


def _score(result: dict) -> str:
    if result.get("best_score") is None:
        return "(no evaluation: best = last)"
    return f"({result['score_key']}={result['best_score']:.4g}, lower is better)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="Ray Train workers (default 2)")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--out", default="demo", help="folder for the MLflow store, runs and samples")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.chdir(out)  # the default artifact folder (./mlartifacts) lands beside the store

    cfg = get_preset("digits-dcgan")
    if args.epochs:
        cfg = C.with_updates(cfg, train={"epochs": args.epochs})
    cfg = C.with_updates(cfg, tracking={"experiment": "ganbench-demo"})

    from ganbench.errors import GanbenchError
    from ganbench.sample import load_generator, sample, write_samples
    from ganbench.train import train

    print(f"[demo] training {cfg.preset} on {args.workers} Ray workers: {cfg.train.epochs} epochs", file=sys.stderr)
    try:
        result = train(cfg, workers=args.workers, out=out / "runs")
        _, models = load_generator(result["best_checkpoint"])
        grid = write_samples(sample(models, 64, seed=0), out / "samples.png")
    except GanbenchError as e:
        print(f"[demo] error: {e}", file=sys.stderr)
        return 2

    m = result["final_metrics"]
    print(
        f"""
ganbench demo: done.
  MLflow run      {result['run_id']}  (experiment ganbench-demo, store {uri})
  best checkpoint {result['best_checkpoint']}  {_score(result)}
  samples         {grid}
  final epoch     loss_d={m.get('loss_d', float('nan')):.3f} loss_g={m.get('loss_g', float('nan')):.3f} \
images/s={m.get('images_per_s', float('nan')):.0f}

next:
  mlflow ui --backend-store-uri {uri} --port 5000      # then open http://127.0.0.1:5000
  ganbench sample --checkpoint {result['best_checkpoint']} --n 64 --seed 1 --out more.png
  ganbench train --preset mnist-dcgan --set data.root=DIR_WITH_MNIST --workers 2
""",
        file=sys.stderr,
    )
    print(json.dumps({**result, "samples": str(grid)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
