"""Serving latency and throughput: HTTP through Ray Serve against the same onnxruntime
session called in-process, for n=1 and n=64 images per request; and onnxruntime against
torch eager for the generator alone (images/s, in interleaved rounds; the ratio is the
median of neighbouring rounds).

The generator is the preset's (default mnist-dcgan: 28 px gray, latent 100, ngf 64) freshly
initialised: speed does not depend on the weights. Both sides use the same number of
onnxruntime threads (--threads, default: all cores), and the replica reserves that many CPUs.
HTTP rows: `seq` is one client waiting for each answer (latency); `conc` is --clients
threads at once (throughput, with the latency each request saw under that load).

    python benchmarks/serve_latency.py [--preset mnist-dcgan] [--requests 200] [--clients 16]
Prints a table and one JSON line (with the machine).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import tempfile
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import torch

from ganbench.export import export_generator
from ganbench.models import build_models
from ganbench.presets import get_preset
from ganbench.checkpoint import save_checkpoint
from serve.sampler import OnnxSampler


def export_preset(preset: str, folder: Path):
    cfg = get_preset(preset)
    shape = (cfg.data.channels, cfg.data.resolution, cfg.data.resolution)
    torch.manual_seed(0)
    models = build_models(cfg.model, shape, 0)
    ckpt = save_checkpoint(folder / "ckpt", cfg, {"G": models.G.state_dict(), "D": models.D.state_dict(),
                                                  "epoch": 0, "image_shape": list(shape), "num_classes": 0}, {})
    res = export_generator(folder / "model.onnx", checkpoint=str(ckpt), log_to_mlflow=False)
    return Path(res["onnx_path"]), models


def stats(latencies_s: list[float], wall_s: float, n: int) -> dict:
    ms = np.asarray(latencies_s) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "req_per_s": len(ms) / wall_s, "img_per_s": len(ms) * n / wall_s, "requests": len(ms)}


def timed(call, count: int, clients: int = 1) -> tuple[list[float], float]:
    def one(i):
        t = time.perf_counter()
        call(i)
        return time.perf_counter() - t

    start = time.perf_counter()
    if clients == 1:
        lat = [one(i) for i in range(count)]
    else:
        with ThreadPoolExecutor(clients) as pool:
            lat = list(pool.map(one, range(count)))
    return lat, time.perf_counter() - start


def bench_in_process(path: Path, n: int, count: int, threads: int) -> dict:
    sampler = OnnxSampler(path, max_n=64, threads=threads)
    timed(lambda i: sampler.sample(n, i), 10)
    return stats(*timed(lambda i: sampler.sample(n, i), count), n)


def bench_http(url: str, n: int, count: int, clients: int) -> dict:
    local = threading.local()  # one keep-alive connection per client thread

    def ask(i):
        if not hasattr(local, "s"):
            local.s = requests.Session()
        r = local.s.post(f"{url}/v1/sample", json={"n": n, "seed": i, "format": "npy"}, timeout=120)
        r.raise_for_status()

    timed(ask, 20, clients)
    return stats(*timed(ask, count, clients), n)


def bench_engines(path: Path, models, threads: int, batch: int = 64, rounds: int = 20, reps: int = 5) -> dict:
    """The generator alone: onnxruntime vs torch eager, in alternating chunks of `reps` calls;
    the ratio is the median over rounds of neighbouring chunks (this VM drifts, see
    train_throughput.py), the images/s are medians over rounds."""
    sampler = OnnxSampler(path, max_n=batch, threads=threads)
    torch.set_num_threads(threads)
    G = models.G.eval()
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, models.latent_dim), dtype=np.float32))
    engines = (("onnxruntime", lambda: sampler.session.run(["images"], {"z": z.numpy()})),
               ("torch_eager", lambda: G(z)))
    speeds: dict[str, list[float]] = {name: [] for name, _ in engines}
    with torch.no_grad():
        for _, fn in engines:
            for _ in range(5):
                fn()
        for _ in range(rounds):
            for name, fn in engines:
                t = time.perf_counter()
                for _ in range(reps):
                    fn()
                speeds[name].append(batch * reps / (time.perf_counter() - t))
    ratios = [o / t for o, t in zip(speeds["onnxruntime"], speeds["torch_eager"])]
    return {"onnxruntime": statistics.median(speeds["onnxruntime"]),
            "torch_eager": statistics.median(speeds["torch_eager"]),
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "rounds": rounds}


def machine() -> dict:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-dcgan")
    ap.add_argument("--requests", type=int, default=200, help="requests per row (n=64 rows use a quarter)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()

    import ray
    from ray import serve

    from serve.cli import start

    rows, engines = [], {}
    with tempfile.TemporaryDirectory() as d:
        path, models = export_preset(a.preset, Path(d))
        engines = bench_engines(path, models, a.threads)
        for n in (1, 64):
            rows.append({"n": n, "mode": "in-process", **bench_in_process(path, n, a.requests, a.threads)})
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = start({"model": str(path), "max_n": 64, "num_cpus": a.threads, "threads": a.threads},
                    "127.0.0.1", port)
        try:
            for n in (1, 64):
                count = a.requests if n == 1 else max(20, a.requests // 4)
                rows.append({"n": n, "mode": "http seq", **bench_http(url, n, count, 1)})
                rows.append({"n": n, "mode": f"http conc x{a.clients}", **bench_http(url, n, count, a.clients)})
        finally:
            serve.shutdown()
            ray.shutdown()

    print(f"{'n':>3} {'mode':<16} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'img/s':>9}")
    for r in sorted(rows, key=lambda r: r["n"]):
        print(f"{r['n']:>3} {r['mode']:<16} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['req_per_s']:>8.1f} "
              f"{r['img_per_s']:>9.0f}")
    print(f"generator alone, batch 64, {a.threads} threads: onnxruntime {engines['onnxruntime']:.0f} img/s, "
          f"torch eager {engines['torch_eager']:.0f} img/s; onnxruntime/torch median over "
          f"{engines['rounds']} interleaved rounds x{engines['ratio_median']:.2f} "
          f"(range {engines['ratio_min']:.2f}-{engines['ratio_max']:.2f})")
    print(json.dumps({"benchmark": "serve_latency", "preset": a.preset, "threads": a.threads, "clients": a.clients,
                      "rows": rows, "generator_img_per_s": engines, "machine": machine()}))


if __name__ == "__main__":
    main()
