"""`folder:PATH`: a directory of images, the dataset users bring themselves.

Layout: class subfolders (PATH/cat/*.jpg, PATH/dog/*.png) give labels in sorted folder
order; images directly in PATH are an unlabelled set. Every file is decoded once up front,
because a bad file found by a decoder thread hours into a multi-GPU run is far costlier
than a few seconds of checking; the loaders then only ever see files that decode.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from PIL import Image
from tqdm import tqdm

from ganbench.config import DataConfig
from ganbench.data.base import log
from ganbench.data.datasets import FileSource, register_dataset
from ganbench.errors import ConfigError, DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
BAD_FILE_POLICIES = ("skip", "error")
_PROGRESS_MIN = 500  # show a progress bar only when checking takes noticeable time


def _images_under(d: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(d, followlinks=True):
        dirnames[:] = [n for n in dirnames if not n.startswith(".")]
        for n in filenames:
            # Dot-files include macOS '._x.jpg' resource forks: not images despite the name.
            if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS):
                out.append(Path(dirpath) / n)
    return sorted(out)


def scan(root: Path, use_labels: bool, verbose: bool = True) -> tuple[list[Path], list[int], list[str]]:
    """-> (files, labels, class_names); sorted, so every rank builds the same list."""
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"image folder {root} is not a directory")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [(d.name, imgs) for d in subdirs if (imgs := _images_under(d))]
    loose = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name.lower().endswith(IMAGE_EXTENSIONS))
    # One subfolder (e.g. celeba/img_align_celeba/) is a container, not a class.
    if not use_labels or len(classes) < 2:
        files = loose + [f for _, imgs in classes for f in imgs]
        return files, [0] * len(files), []
    if loose and verbose:
        log.warning("folder %s has class subfolders; ignoring %d image(s) directly in it (e.g. %s)",
                    root, len(loose), loose[0].name)
    files, labels = [], []
    for k, (_, imgs) in enumerate(classes):
        files += imgs
        labels += [k] * len(imgs)
    return files, labels, [name for name, _ in classes]


def check_image(path: Path) -> Optional[str]:
    """None if the file fully decodes, else the reason. .load() (not .verify()) catches truncation."""
    try:
        with Image.open(path) as im:
            im.load()
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def validate(files: list[Path], threads: int, progress: bool) -> list[tuple[Path, str]]:
    """-> [(path, reason)] for every file that does not decode. PIL decodes outside the GIL,
    so threads give a real speed-up."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = pool.map(check_image, files, chunksize=16)
        bar = tqdm(results, total=len(files), desc="checking images", unit="img", file=sys.stderr,
                   disable=not progress or len(files) < _PROGRESS_MIN)
        return [(f, r) for f, r in zip(files, bar) if r is not None]


@register_dataset("folder", "folder:PATH: your images (jpg/png/webp, any size); class "
                  "subfolders become labels", in_memory=False)
def load_folder(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> FileSource:
    if not arg:
        raise ConfigError("dataset folder needs a path: data.name=folder:PATH")
    root = Path(arg).expanduser()
    files, labels, classes = scan(root, cfg.use_labels, verbose)
    if not files:
        raise DataError(f"image folder {root} holds no images ({'/'.join(IMAGE_EXTENSIONS)}, "
                        f"searched recursively)")
    bad = validate(files, cfg.num_workers, verbose)
    if bad and cfg.on_bad_file == "error":
        path, reason = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"unreadable image {path}: {reason}{more}. Fix or remove it, or pass "
                        f"--set data.on_bad_file=skip to train without it")
    if bad:
        bad_set = {p for p, _ in bad}
        keep = [(f, y) for f, y in zip(files, labels) if f not in bad_set]
        files, labels = [f for f, _ in keep], [y for _, y in keep]
        if not files:
            raise DataError(f"none of the {len(bad)} images under {root} can be decoded "
                            f"(first: {bad[0][0]}: {bad[0][1]})")
        if verbose:
            names = "; ".join(f"{p} ({r})" for p, r in bad[:5])
            log.warning("skipped %d unreadable image(s) of %d under %s (data.on_bad_file=skip): %s%s",
                        len(bad), len(bad) + len(files), root, names, " ..." if len(bad) > 5 else "")
    return FileSource(name=cfg.name, root=str(root), files=[str(f) for f in files], labels=labels,
                      num_classes=len(classes), class_names=classes,
                      skipped=[str(p) for p, _ in bad])
