"""Does tuning pay? One Optuna study per dataset, in one run: the best trial's FID against
the preset's default config (trial 0 of the study) on the same budget.

- digits: `digits-dcgan` on the built-in digits, FID with the digits classifier backbone;
- MNIST (when ../shared/datasets/mnist is present): `mnist-dcgan` on the 10k test split
  with a smaller budget, FID with the MNIST classifier backbone.
Each trial is a Ray Train run (1 worker); `--parallel` trials run at once; the median
pruner stops weak trials after the warm-up evaluation.

    python benchmarks/tune_digits.py [--trials 10] [--epochs 10] [--parallel 2] [--skip-mnist]
Prints a table and one JSON line. Studies, MLflow runs and checkpoints go to a temp folder.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED_MNIST = HERE.parent.parent / "shared" / "datasets" / "mnist"


def one_study(name: str, preset: str, sets: list[str], trials: int, parallel: int, work: Path) -> dict:
    from tuning import TuneSpec, run_study

    t0 = time.perf_counter()
    s = run_study(TuneSpec(preset=preset, trials=trials, study=name, storage=f"sqlite:///{work / 'optuna.db'}",
                           parallel=parallel, workers=1, pruner="median", warmup=2, out=str(work / "runs"),
                           overrides=tuple(sets)))
    s["wall_s"] = round(time.perf_counter() - t0, 1)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=10, help="digits budget per trial")
    ap.add_argument("--mnist-trials", type=int, default=6)
    ap.add_argument("--mnist-epochs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--skip-mnist", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    work = Path(tempfile.mkdtemp(prefix="ganbench-tune-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.chdir(work)

    every = max(1, args.epochs // 5)
    studies = {"digits": one_study(
        "digits", "digits-dcgan",
        [f"train.epochs={args.epochs}", f"eval.every={every}", "eval.n_gen=2000", "eval.backbone=digitscnn"],
        args.trials, args.parallel, work)}
    if not args.skip_mnist and (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        studies["mnist"] = one_study(
            "mnist", "mnist-dcgan",
            [f"data.root={SHARED_MNIST}", "data.split=test", "data.download=false", "model.ngf=32", "model.ndf=32",
             f"train.epochs={args.mnist_epochs}", "eval.every=1", "eval.n_gen=2000", "eval.backbone=mnistcnn"],
            args.mnist_trials, args.parallel, work)

    print(f"{'study':8} {'metric':22} {'default':>10} {'best':>10} {'ratio':>7}  trials (by state)   wall")
    rows = {}
    for name, s in studies.items():
        ratio = s["best_value"] / s["default_value"] if s["default_value"] else None
        rows[name] = {"metric": s["score_key"], "default": s["default_value"], "best": s["best_value"],
                      "best_over_default": round(ratio, 3) if ratio else None, "best_params": s["best_params"],
                      "n_trials": s["n_trials"], "wall_s": s["wall_s"]}
        print(f"{name:8} {s['score_key'] or '-':22} {s['default_value'] or float('nan'):10.4g} "
              f"{s['best_value'] or float('nan'):10.4g} {ratio or float('nan'):7.3f}  {s['n_trials']}  {s['wall_s']}s")
    print(json.dumps({"benchmark": "tune_digits", "studies": rows, "work_dir": str(work),
                      "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, CPU"},
                     default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
