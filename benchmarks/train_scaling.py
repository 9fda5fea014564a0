"""Ray Train scaling and overhead: the same training loop run directly (one process, no
Ray) and under Ray Train with 1..N DDP workers, side by side in one run.

Model: ganbench's `dcgan` at 28 px (ngf = ndf = --width), batch --batch per worker, the
built-in digits in memory, --steps steps per epoch per worker, no evaluation, no MLflow.
Each configuration runs --rounds times, interleaved (direct, ray x1, ray x2, direct, ...),
because this VM's speed drifts; the table gives medians over rounds.

- steady images/s: median over epochs 2.. of the loop's own images/s (all ranks' images
  over rank 0's epoch time), so start-up and the first (warm-up) epoch are excluded;
- Ray Train overhead: ray x1 steady images/s / direct images/s (1.0 = no cost inside the
  loop), plus the fixed cost: wall time of the whole run minus its epochs' time;
- scaling efficiency at N workers: images/s(N) / (N * images/s(1 worker)). Weak scaling:
  each worker keeps its batch, so the global batch grows with N.

Threads: every process gets --threads-per-worker torch threads (Ray gives each worker one
CPU and sets OMP_NUM_THREADS accordingly); the direct run uses the same count.

    python benchmarks/train_scaling.py [--workers 1 2] [--rounds 3] [--epochs 5] [--steps 14]
Prints a table, writes benchmarks/results/train_scaling.{txt,json}.
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

os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")

import torch  # noqa: E402

from ganbench import config as C  # noqa: E402
from ganbench.presets import get_preset  # noqa: E402
from ganbench.train import train  # noqa: E402
from ganbench.checkpoint import load_checkpoint  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def bench_cfg(args) -> C.RunConfig:
    return C.with_updates(
        get_preset("digits-dcgan"),
        data={"resolution": 28, "batch_size": args.batch, "channels": 1, "loader": "memory"},
        model={"ngf": args.width, "ndf": args.width},
        train={"epochs": args.epochs, "max_steps_per_epoch": args.steps, "checkpoint_every": args.epochs,
               "sample_grid": 16},
        eval={"every": 0},
    )


def one_run(cfg: C.RunConfig, workers: int, out: Path) -> dict:
    t0 = time.perf_counter()
    res = train(cfg, workers=workers, out=out, track=False, progress=False)
    wall = time.perf_counter() - t0
    hist = load_checkpoint(res.last_checkpoint)[1]["history"]
    steady = statistics.median(h["images_per_s"] for h in hist[1:])
    epochs_s = sum(h["epoch_time_s"] for h in hist)
    return {"images_per_s": steady, "wall_s": wall, "fixed_s": wall - epochs_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=14, help="steps per epoch per worker (digits: 1797 images)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    args = ap.parse_args()

    import ray

    torch.set_num_threads(args.threads_per_worker)
    ray.init(num_cpus=max(args.workers), include_dashboard=False, configure_logging=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": str(args.threads_per_worker)}})
    cfg = bench_cfg(args)
    names = ["direct"] + [f"ray x{n}" for n in args.workers]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.rounds):
            for name in names:
                workers = 0 if name == "direct" else int(name.split("x")[1])
                runs[name].append(one_run(cfg, workers, Path(d) / f"{r}-{workers}"))
                print(f"round {r + 1}/{args.rounds} {name:>8}: {runs[name][-1]['images_per_s']:8.0f} img/s, "
                      f"wall {runs[name][-1]['wall_s']:.1f} s", flush=True)
    ray.shutdown()

    med = {n: {k: statistics.median(x[k] for x in v) for k in ("images_per_s", "wall_s", "fixed_s")}
           for n, v in runs.items()}
    one = med[f"ray x{args.workers[0]}"]["images_per_s"] / args.workers[0]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}, torch {torch.__version__}, ray {ray.__version__}, no GPU" \
        if not torch.cuda.is_available() else f"{torch.cuda.get_device_name(0)}"
    lines = [f"train_scaling: dcgan 28 px width {args.width}, batch {args.batch}/worker, {args.steps} steps/epoch/worker, "
             f"{args.epochs} epochs, {args.rounds} interleaved rounds, {args.threads_per_worker} thread(s)/process",
             f"machine: {machine}",
             f"{'run':>8} {'steady img/s':>13} {'vs direct':>10} {'efficiency':>11} {'wall s':>8} {'fixed s':>8}"]
    summary = {"machine": machine, "args": vars(args), "runs": runs, "median": med}
    for n in names:
        m = med[n]
        vs = m["images_per_s"] / med["direct"]["images_per_s"]
        eff = "" if n == "direct" else f"{m['images_per_s'] / (int(n.split('x')[1]) * one):.2f}"
        lines.append(f"{n:>8} {m['images_per_s']:13.0f} {vs:10.2f} {eff:>11} {m['wall_s']:8.1f} {m['fixed_s']:8.1f}")
    summary["ray_overhead_ratio"] = med["ray x1"]["images_per_s"] / med["direct"]["images_per_s"] if "ray x1" in med else None
    summary["efficiency"] = {n: med[n]["images_per_s"] / (int(n.split("x")[1]) * one) for n in names if n != "direct"}
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_scaling.txt").write_text(text + "\n")
    (RESULTS / "train_scaling.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("ray_overhead_ratio", "efficiency")}))


if __name__ == "__main__":
    main()
