"""`folder:PATH`: a directory of images, the dataset users bring themselves.

Layout: class subfolders (PATH/cat/*.jpg, PATH/dog/*.png) give labels in sorted folder
order, or data.label_pattern takes the class from each file name (Kaggle's dog_123.jpg);
images directly in PATH are an unlabelled set. Each real directory is walked once, so a
symbolic link back to a parent cannot repeat images.

Every file is decoded once up front, because a bad file found by a decoder thread hours
into a multi-GPU run is far costlier than a few seconds of checking; the loaders then only
ever see files that decode. With data.cache (memory and torch loaders) that one decode is
also the last: the resized pixels go into the folder cache (folder_cache.py).
"""
from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import torch
from PIL import Image
from tqdm import tqdm

from ganbench.config import DataConfig
from ganbench.data.base import log
from ganbench.data.datasets import FileSource, TensorSource, register_dataset
from ganbench.errors import ConfigError, DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
BAD_FILE_POLICIES = ("skip", "error")
_PROGRESS_MIN = 500  # show a progress bar only when checking takes noticeable time


def _walk_images(d: Path, seen: set[str], links: list[tuple[str, str]]) -> list[Path]:
    """Images under d. Each real directory is walked once: `seen` holds the real paths
    already walked, so a link back to a parent (or to a sibling class) cannot loop or count
    its images twice; such links land in `links` for one log line."""
    out = []
    for dirpath, dirnames, filenames in os.walk(d, followlinks=True):
        keep = []
        for n in sorted(dirnames):
            if n.startswith("."):
                continue
            real = os.path.realpath(os.path.join(dirpath, n))
            if real in seen:
                links.append((os.path.join(dirpath, n), real))
                continue
            seen.add(real)
            keep.append(n)
        dirnames[:] = keep
        for n in filenames:
            # Dot-files include macOS '._x.jpg' resource forks: not images despite the name.
            if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS):
                out.append(Path(dirpath) / n)
    return sorted(out)


def images_under(root: Path) -> list[Path]:
    """Every image file under root, each real directory walked once (for `ganbench fid`)."""
    return _walk_images(Path(root), {os.path.realpath(root)}, [])


def _log_links(links: list[tuple[str, str]], verbose: bool) -> None:
    if links and verbose:
        log.warning("skipped %d symbolic link(s) to folders already read (each real folder is read "
                    "once), e.g. %s -> %s", len(links), links[0][0], links[0][1])


def _labels_from_pattern(files: list[Path], pattern: str, root: Path,
                         verbose: bool) -> tuple[list[Path], list[int], list[str]]:
    """Class = group 1 of `pattern` searched in the file name. Unmatched files are skipped
    with one warning naming them (a stray README.jpg should not stop a run); none matching
    is an error, since then the pattern is surely wrong."""
    rx = re.compile(pattern)
    named = [(f, m.group(1)) for f in files if (m := rx.search(f.name))]
    unmatched = [f for f in files if not rx.search(f.name)]
    if not named:
        raise DataError(f"data.label_pattern {pattern!r} matches none of the {len(files)} file names "
                        f"under {root} (e.g. {files[0].name!r})")
    if unmatched and verbose:
        log.warning("data.label_pattern %r: skipped %d of %d image(s) whose name does not match: %s%s",
                    pattern, len(unmatched), len(files), ", ".join(f.name for f in unmatched[:5]),
                    " ..." if len(unmatched) > 5 else "")
    classes = sorted({c for _, c in named})
    index = {c: k for k, c in enumerate(classes)}
    return [f for f, _ in named], [index[c] for _, c in named], classes


def scan(root: Path, use_labels: bool, verbose: bool = True,
         label_pattern: Optional[str] = None) -> tuple[list[Path], list[int], list[str]]:
    """-> (files, labels, class_names); sorted, so every rank builds the same list."""
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"image folder {root} is not a directory")
    seen, links = {os.path.realpath(root)}, []
    subdirs = []
    for p in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        real = os.path.realpath(p)
        if real in seen:
            links.append((str(p), real))
        else:
            seen.add(real)
            subdirs.append(p)
    classes = [(d.name, imgs) for d in subdirs if (imgs := _walk_images(d, seen, links))]
    _log_links(links, verbose)
    loose = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.name.lower().endswith(IMAGE_EXTENSIONS))
    if use_labels and label_pattern:
        return _labels_from_pattern(sorted(loose + [f for _, imgs in classes for f in imgs]),
                                    label_pattern, root, verbose)
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


def _scan_folder(cfg: DataConfig, arg: Optional[str], verbose: bool):
    if not arg:
        raise ConfigError("dataset folder needs a path: data.name=folder:PATH")
    root = Path(arg).expanduser()
    files, labels, classes = scan(root, cfg.use_labels, verbose, cfg.label_pattern)
    if not files:
        raise DataError(f"image folder {root} holds no images ({'/'.join(IMAGE_EXTENSIONS)}, "
                        f"searched recursively)")
    return root, files, labels, classes


def _drop_bad(cfg: DataConfig, root: Path, files: list, labels: list[int],
              bad: list[tuple]) -> tuple[list, list[int]]:
    """Apply data.on_bad_file: raise, or drop the bad files with one warning naming them."""
    if bad and cfg.on_bad_file == "error":
        path, reason = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"unreadable image {path}: {reason}{more}. Fix or remove it, or pass "
                        f"--set data.on_bad_file=skip to train without it")
    if not bad:
        return files, labels
    bad_set = {str(p) for p, _ in bad}
    keep = [(f, y) for f, y in zip(files, labels) if str(f) not in bad_set]
    files, labels = [f for f, _ in keep], [y for _, y in keep]
    if not files:
        raise DataError(f"none of the {len(bad)} images under {root} can be decoded "
                        f"(first: {bad[0][0]}: {bad[0][1]})")
    return files, labels


def _warn_bad(bad: list[tuple], total: int, root: Path, verbose: bool) -> None:
    if bad and verbose:
        names = "; ".join(f"{p} ({r})" for p, r in bad[:5])
        log.warning("skipped %d unreadable image(s) of %d under %s (data.on_bad_file=skip): %s%s",
                    len(bad), total, root, names, " ..." if len(bad) > 5 else "")


def load_folder_cached(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> TensorSource:
    """The folder decoded once into the folder cache (folder_cache.py), as a tensor set whose
    images are a memory-mapped uint8 array: the memory and torch loaders read rows of it."""
    from ganbench.data import folder_cache

    root, files, labels, classes = _scan_folder(cfg, arg, verbose)
    images, bad, _ = folder_cache.get_or_build(
        root, files, resolution=cfg.resolution, channels=cfg.channels,
        resize_mode=cfg.resize_mode, threads=cfg.num_workers, verbose=verbose)
    files, labels = _drop_bad(cfg, root, files, labels, bad)
    _warn_bad(bad, len(bad) + len(files), root, verbose)
    return TensorSource(name=cfg.name, images=torch.from_numpy(images),
                        labels=torch.tensor(labels, dtype=torch.long), num_classes=len(classes),
                        skipped=[str(p) for p, _ in bad])


@register_dataset("folder", "folder:PATH: your images (jpg/png/webp, any size); class "
                  "subfolders (or data.label_pattern on file names) become labels",
                  in_memory=False, cached=load_folder_cached)
def load_folder(cfg: DataConfig, arg: Optional[str], verbose: bool = True) -> FileSource:
    root, files, labels, classes = _scan_folder(cfg, arg, verbose)
    bad = validate(files, cfg.num_workers, verbose)
    files, labels = _drop_bad(cfg, root, files, labels, bad)
    _warn_bad(bad, len(bad) + len(files), root, verbose)
    return FileSource(name=cfg.name, root=str(root), files=[str(f) for f in files], labels=labels,
                      num_classes=len(classes), class_names=classes,
                      skipped=[str(p) for p, _ in bad])
