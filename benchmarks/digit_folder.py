"""Write a small labelled image folder from the MNIST test split: N digits per class as PNG
files under DIR/<class>/, the first N of each class in file order. It stands in for a user's
small folder (the seeds' art sets have 2,800 to 8,700 images) where DiffAugment is meant to
help, with labels so that the folder's own classifier can score class balance.

    python benchmarks/digit_folder.py DIR [--per-class 200] [--mnist ../shared/datasets/mnist]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ganbench.data.idx import read_idx

HERE = Path(__file__).resolve().parent
DEFAULT_MNIST = HERE.parent.parent / "shared" / "datasets" / "mnist"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="folder to write (class subfolders 0..9)")
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--mnist", default=str(DEFAULT_MNIST), help="folder with t10k-images/labels-idx*-ubyte.gz")
    args = ap.parse_args()
    src = Path(args.mnist)
    if not (src / "t10k-images-idx3-ubyte.gz").is_file():
        print(f"MNIST test split not found under {src}", file=sys.stderr)
        return 1
    images, labels = read_idx(src / "t10k-images-idx3-ubyte.gz"), read_idx(src / "t10k-labels-idx1-ubyte.gz")
    out = Path(args.out)
    for c in range(10):
        (out / str(c)).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(labels == c)[: args.per_class]:
            Image.fromarray(images[i].astype(np.uint8), mode="L").save(out / str(c) / f"{i:05d}.png")
    print(f"{10 * args.per_class} digits in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
