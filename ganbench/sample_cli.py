"""`ganbench sample`: wired into ganbench/cli.py with `add_sample_parser(subparsers)`.

Plain samples (--n images to .npy/.png/.zip/DIR) or one --picture (.png grid or .gif). An
option that does not fit what was asked (--cols for an interpolation, --n for a picture)
is refused, never ignored."""
from __future__ import annotations

import argparse
import json
import textwrap

from ganbench.errors import ConfigError

EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench sample --checkpoint CKPT --n 64 --seed 0 --out grid.png
      ganbench sample --checkpoint CKPT --n 64 --truncation 0.7 --out grid.png     # psi-scaled noise
      ganbench sample --checkpoint CKPT --picture interpolation --seeds 0 1 2 3 --steps 10 --out walk.gif
      ganbench sample --checkpoint CKPT --picture classes --cols 8 --out classes.png  # conditional models
      ganbench sample --checkpoint CKPT --picture codes --steps 9 --out codes.gif     # InfoGAN
      ganbench sample --checkpoint CKPT --picture interpolation --weights G_ema,G --out both.png

    Same seed, same images as the exported ONNX file and the HTTP endpoint (one noise recipe:
    ganbench/noise.py); image i of a seed does not depend on --n. Every output has its record
    (seed, truncation, weights, picture) beside it in OUT.json and inside its PNG/GIF files.
    """
)
# ganbench.pictures.PICTURES' names, spelled out so that `ganbench --help` imports no torch
# (a test keeps the two equal).
PICTURE_KINDS = ("classes", "codes", "interpolation")
# Which options each kind of output takes (None: plain samples); the rest are refused.
APPLIES = {"n": (None,), "label": (None, "interpolation", "codes"), "seeds": ("interpolation",),
           "steps": ("interpolation", "codes"), "cols": ("classes",), "span": ("codes",)}


def _check_options(args) -> None:
    for opt, kinds in APPLIES.items():
        if getattr(args, opt) is not None and args.picture not in kinds:
            what = f"--picture {args.picture}" if args.picture else "plain samples (no --picture)"
            fits = ", ".join("plain samples" if k is None else f"--picture {k}" for k in kinds)
            raise ConfigError(f"--{opt} does not apply to {what}; it is for {fits}")


def _weights(text: str) -> tuple[str, ...]:
    from ganbench.sample import WEIGHTS

    names = tuple(w.strip() for w in text.split(",") if w.strip())
    bad = [w for w in names if w not in WEIGHTS + ("auto",)]
    if not names or bad or len(set(names)) != len(names):
        raise ConfigError(f"--weights must be distinct names from auto, {', '.join(WEIGHTS)} (comma-separated), got {text!r}")
    return names


def _plain(args, gens, record_base) -> dict:
    from ganbench.sample import sample, write_samples

    n = 64 if args.n is None else args.n
    (models,) = gens.values()
    images = sample(models, n, seed=args.seed, label=args.label, truncation=args.truncation)
    record = record_base(n=n, seed=args.seed, label=args.label)
    path = write_samples(images, args.out, record)
    return {"out": str(path), "n": n, "seed": args.seed, "label": args.label, "shape": list(images.shape)}


def _picture(args, gens, record_base) -> dict:
    from ganbench.pictures import PictureSpec, draw, write_picture

    spec = PictureSpec(seed=args.seed, seeds=tuple(args.seeds or ()), steps=args.steps or 8, cols=args.cols or 8,
                       label=args.label, truncation=args.truncation, span=2.0 if args.span is None else args.span)
    pic = draw(args.picture, gens, spec)
    seeds = spec.pair_seeds() if args.picture == "interpolation" else None
    record = record_base(seed=None if seeds else args.seed, label=args.label, picture=args.picture,
                         rows=pic.rows, cols=pic.cols, seeds=seeds)
    path = write_picture(pic, args.out, record)
    return {"out": str(path), "picture": args.picture, "rows": pic.rows, "cols": pic.cols,
            "shape": list(pic.images.shape)}


def _check_out(args) -> None:
    from ganbench.pictures import check_out
    from ganbench.sample import out_kind

    (check_out if args.picture else out_kind)(args.out)


def cmd_sample(args) -> int:
    from ganbench.noise import check_truncation
    from ganbench.sample import SampleRecord, load_generators, sidecar

    _check_options(args)
    _check_out(args)  # a bad --out fails before the checkpoint is read
    psi = check_truncation(args.truncation)
    names = _weights(args.weights)
    if len(names) > 1 and not args.picture:
        raise ConfigError("several --weights side by side need a --picture (e.g. --picture interpolation)")
    _, gens = load_generators(args.checkpoint, names)  # one read of the checkpoint
    weights = tuple(gens)  # records name G or G_ema, never auto

    def record_base(**kw):
        return SampleRecord(checkpoint=str(args.checkpoint), weights=weights, truncation=psi, **kw)

    result = (_picture if args.picture else _plain)(args, gens, record_base)
    print(json.dumps({**result, "truncation": psi, "weights": list(weights),
                      "record": str(sidecar(result["out"]))}), flush=True)
    return 0


def add_sample_parser(subparsers) -> argparse.ArgumentParser:
    s = subparsers.add_parser(
        "sample", help="draw images or pictures (interpolations, class rows, code sweeps) from a generator",
        description="Sample from a checkpoint's generator (eval-mode BatchNorm). Same --seed, same output.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--checkpoint", required=True, help="checkpoint folder (or its state.pt)")
    s.add_argument("--out", required=True,
                   help="samples: FILE.npy (float32 (N, C, H, W) in [-1, 1]), FILE.png (a grid), FILE.zip (one PNG "
                        "per image, Kaggle's format) or DIR/ (one PNG per image); --picture: FILE.png or FILE.gif")
    s.add_argument("--n", type=int, help="number of images (default 64; plain samples only)")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("--label", type=int, help="class (or InfoGAN categorical code) for every image "
                   "(default: samples cycle through the classes, pictures use class 0)")
    s.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="psi in 0..1: the noise is scaled by psi towards its mean (1 = none, the default; "
                        "0 = the mean image); InfoGAN's continuous codes are not scaled")
    s.add_argument("--picture", choices=PICTURE_KINDS,
                   help="interpolation: rows are pairs of seeds, columns steps between them; classes: one row "
                        "per class (conditional models); codes: one row per InfoGAN continuous code, swept")
    s.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="interpolation: seeds taken in pairs, one row per pair (default SEED..SEED+7)")
    s.add_argument("--steps", type=int, help="interpolation, codes: columns, both ends included (default 8)")
    s.add_argument("--cols", type=int, help="classes: images per class (default 8)")
    s.add_argument("--span", type=float, help="codes: each code runs from -SPAN to +SPAN (default 2)")
    s.add_argument("--weights", default="auto", help="generator weights: auto (G_ema when the run kept an EMA of G, "
                   "else G), G (the raw generator) or G_ema; pictures take several side by side, e.g. G_ema,G "
                   "(default auto)")
    s.set_defaults(func=cmd_sample)
    return s
