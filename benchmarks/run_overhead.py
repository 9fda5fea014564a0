"""The fixed cost of one short single-worker run, three ways, side by side in one process:

- in-process: `train(cfg)` here (`--workers 0`);
- Ray task:   `ganbench.ray_runs` (what `ganbench bench` uses): `train(cfg)` inside a Ray task on
              an already-running local Ray; the first task pays for a fresh worker process
              (imports), later ones reuse it;
- Ray Train:  `train(cfg, workers=1)`: a TorchTrainer with one worker (today's `--workers 1`).

Config: the `debug` preset (tiny DCGAN on the built-in digits, 2 epochs x 8 steps, no
evaluation), MLflow tracking on (SQLite in a temp folder), as a suite's runs have it. Fixed cost
= wall time of the whole call minus the time inside its epochs (sum of `epoch_time_s`). The
three paths run interleaved for --rounds rounds (this VM's speed drifts); medians are reported.

    python benchmarks/run_overhead.py [--rounds 3]
Prints a table, writes benchmarks/results/run_overhead.txt.
"""
from __future__ import annotations

import argparse
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

RESULTS = Path(__file__).resolve().parent / "results"


def epochs_time(uri: str, run_id: str) -> float:
    from mlflow.tracking import MlflowClient

    return sum(m.value for m in MlflowClient(uri).get_metric_history(run_id, "epoch_time_s"))


def in_process(cfg, out) -> tuple[float, str]:
    from ganbench.train import train

    t0 = time.perf_counter()
    res = train(cfg, workers=0, out=out, progress=False)
    return time.perf_counter() - t0, res.run_id


def ray_task(cfg, out) -> tuple[float, str]:
    from ganbench.ray_runs import RunRequest, run_many

    t0 = time.perf_counter()
    (o,) = run_many([RunRequest(cfg_yaml=C.to_yaml(cfg), key=("debug",), cpus=2, out=out)])
    assert o.ok, o.error
    return time.perf_counter() - t0, o.run_id


def ray_train(cfg, out) -> tuple[float, str]:
    from ganbench.train import train

    t0 = time.perf_counter()
    res = train(cfg, workers=1, out=out, progress=False)
    return time.perf_counter() - t0, res.run_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import ray

    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="run-overhead-"))
    os.chdir(work)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    cfg = C.with_updates(get_preset("debug"), tracking={"tracking_uri": uri, "experiment": "run-overhead"})
    out = str(work / "runs")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - t0
    in_process(cfg, out)  # warm this process's imports and the MLflow schema before timing
    rows: dict[str, list[tuple[float, float]]] = {"in-process": [], "Ray task": [], "Ray Train (1 worker)": []}
    first_wall, first_id = ray_task(cfg, out)  # a fresh Ray worker process: imports torch, ganbench, mlflow
    first = (first_wall, first_wall - epochs_time(uri, first_id))
    for r in range(args.rounds):
        for name, fn in (("in-process", in_process), ("Ray task", ray_task), ("Ray Train (1 worker)", ray_train)):
            wall, run_id = fn(cfg, out)
            rows[name].append((wall, wall - epochs_time(uri, run_id)))
            print(f"round {r + 1} {name}: wall {wall:.2f} s, outside epochs {rows[name][-1][1]:.2f} s", flush=True)
    ray.shutdown()

    base = statistics.median(o for _, o in rows["in-process"])
    lines = [
        "Fixed cost of one single-worker `debug` run (2 epochs x 8 steps, no evaluation, MLflow on SQLite)",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, no GPU, torch {torch.__version__}, "
        f"{time.strftime('%Y-%m-%d')}; 2-core x86_64 VM shared with other jobs (load varies)",
        f"medians over {args.rounds} interleaved rounds; local Ray already running (ray.init took {ray_init_s:.1f} s, "
        f"paid once per driver, not per run)",
        "",
        f"{'path':<24} {'wall s':>8} {'outside epochs s':>17} {'extra vs in-process s':>22}",
    ]
    for name, vals in rows.items():
        wall = statistics.median(w for w, _ in vals)
        outside = statistics.median(o for _, o in vals)
        lines.append(f"{name:<24} {wall:>8.2f} {outside:>17.2f} {outside - base:>22.2f}")
    lines.append(f"{'Ray task, first (cold)':<24} {first[0]:>8.2f} {first[1]:>17.2f} {first[1] - base:>22.2f}")
    lines += ["", "per round (wall, outside epochs):"]
    lines += [f"  {name}: " + ", ".join(f"({w:.2f}, {o:.2f})" for w, o in vals) for name, vals in rows.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "run_overhead.txt").write_text(text)


if __name__ == "__main__":
    main()
