"""Metric throughput: images/s through each backbone, and what the stats cache saves.

Measures, on this machine:
  - feature extraction images/s per backbone: `inception` (pytorch-fid's FID Inception at
    299 px, batch 50; RANDOM weights unless the real file is found -- same architecture and
    cost, so the speed is representative, the features are not) and the classifier CNNs
    (digitscnn at 28 px; mnistcnn when MNIST is readable), batch 500;
  - the one-off classifier training (first use; later runs read the cached weights);
  - reference statistics: first call (read + extract + write) versus second (cache read);
  - one full Evaluator.evaluate() of the debug generator (n_gen samples, digitscnn).

    python benchmarks/fid_throughput.py [--device cpu] [--inception-batches 2] [--n-gen 2000]
        [--mnist-root /work/shared/datasets/mnist]
Prints a table and one JSON line (last). Caches go to a temporary directory, removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from ganbench.config import DataConfig, EvalConfig, ModelConfig
from ganbench.metrics.classifier import classifier_backbone
from ganbench.metrics.evaluate import Evaluator
from ganbench.metrics.inception import InceptionBackbone, MissingWeightsError, find_fid_weights
from ganbench.metrics.stats_cache import real_stats
from ganbench.models import build_models


def machine(device: torch.device) -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": platform.processor()
            or platform.machine(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_s(backbone, shape: tuple[int, int, int], batch: int, batches: int, device: torch.device) -> float:
    x = torch.rand(batch, *shape, device=device) * 2 - 1
    backbone.features(x)  # warm-up (allocator, kernels)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(batches):
        backbone.features(x)
    sync(device)
    return batch * batches / (time.perf_counter() - t0)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--inception-batches", type=int, default=2, help="timed batches of 50 (default 2)")
    ap.add_argument("--inception-n-real", type=int, default=100, help="real images for the inception stats timing")
    ap.add_argument("--n-gen", type=int, default=2000)
    ap.add_argument("--mnist-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"))
    args = ap.parse_args()
    device = torch.device(args.device)
    rows, result = [], {"machine": machine(device)}
    cache = Path(tempfile.mkdtemp(prefix="ganbench-fid-bench-"))
    digits = DataConfig(name="digits", resolution=28, channels=1)

    # Inception: the real weights if this machine has them, else random init (say so).
    try:
        weights, note = find_fid_weights(None), "pytorch-fid FID weights"
    except MissingWeightsError:
        weights, note = None, "RANDOM weights (FID weights not on this machine): speed only"
    inc = InceptionBackbone(weights, device)
    r = images_per_s(inc, (3, 32, 32), 50, args.inception_batches, device)
    rows.append(("inception features (32px -> 299, batch 50)", f"{r:,.1f} img/s", note))
    result["inception_img_s"], result["inception_weights"] = r, note

    cnns = [("digitscnn", digits)]
    mnist = DataConfig(name="mnist", root=args.mnist_root, split="test", download=False)
    if (Path(args.mnist_root) / "t10k-images-idx3-ubyte.gz").is_file():
        cnns.append(("mnistcnn", mnist))
    backbones = {}
    for name, data in cnns:
        bb, dt = timed(lambda: classifier_backbone(data, cache, device))
        backbones[name] = (bb, data)
        rows.append((f"{name} training (first use, cached after)", f"{dt:,.1f} s",
                     f"held-out acc {100 * bb.accuracy:.1f}% on {bb.n_heldout} ({bb.trained_on})"))
        r = images_per_s(bb, (1, 28, 28), 500, 10, device)
        rows.append((f"{name} features (28px, batch 500)", f"{r:,.0f} img/s", ""))
        result[f"{name}_train_s"], result[f"{name}_img_s"], result[f"{name}_acc"] = dt, r, bb.accuracy

    stat_jobs = [(name, bb, data, 0) for name, (bb, data) in backbones.items()]
    stat_jobs.append(("inception", inc, digits, args.inception_n_real))
    for name, bb, data, n in stat_jobs:
        first, t1 = timed(lambda: real_stats(data, bb, n, cache))
        second, t2 = timed(lambda: real_stats(data, bb, n, cache))
        assert not first.hit and second.hit
        label = f"{data.name} {data.split} stats via {name} ({first.n} imgs)"
        rows.append((label, f"{t1:,.2f} s -> {t2:,.3f} s", f"uncached -> cached, {t1 / t2:,.0f}x"))
        result[f"stats_{name}_{data.name}"] = {"n": first.n, "uncached_s": t1, "cached_s": t2}

    bb, data = backbones["digitscnn"]
    torch.manual_seed(0)
    models = build_models(ModelConfig(latent_dim=16, ngf=8, ndf=8), (1, 28, 28), 0)
    models.G.to(device)
    ev = Evaluator(EvalConfig(n_gen=args.n_gen, cache_dir=str(cache)), data, device, backbone=bb)
    ev.prepare()
    (_, _), dt = timed(lambda: ev.evaluate(models))
    rows.append((f"Evaluator.evaluate, debug G, n_gen={args.n_gen}, digitscnn", f"{dt:,.2f} s",
                 "sample + features + FID/KID(50x1000)/cs/mem, stats cached"))
    result["evaluate_s"] = dt

    width = max(len(r[0]) for r in rows)
    m = result["machine"]
    print(f"machine: {m['platform']}, {m['cores']} cores ({m['torch_threads']} torch threads), torch {m['torch']}, "
          f"device {m['device']}{' (' + m['gpu'] + ')' if m['gpu'] else ''}")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>22}  {note}")
    print(json.dumps(result, default=str))
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
