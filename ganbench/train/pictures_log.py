"""The run's pictures as MLflow artifacts (`pictures/`), drawn once after training from one
checkpoint's generator with ganbench/pictures.py, so each can be redrawn with
`ganbench sample --picture KIND` from its record (FILE.json beside it, also inside the PNG):

- interpolation (PNG grid and GIF): always;
- classes (PNG, one class per row): models with classes (cdcgan, InfoGAN's categorical code);
- codes (PNG and GIF, each continuous code swept across a row): InfoGAN with continuous codes.

When the checkpoint holds an EMA of G, each picture shows G_ema and the raw G side by side
(the EMA is what evaluation, export and serving use; the raw G shows what averaging bought).
Small on purpose (a few dozen images per panel): it runs on the driver, often without a GPU.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ganbench.models import GanModels
from ganbench.pictures import PictureSpec, draw, write_picture
from ganbench.sample import SampleRecord, load_generator

log = logging.getLogger("ganbench.train")

ARTIFACT_DIR = "pictures"
# 4 seed pairs x 8 steps; classes x 8 columns; codes x 8 values: the defaults of `ganbench sample`.
SPEC = PictureSpec(seed=0, steps=8, cols=8)


@dataclass(frozen=True)
class PlannedPicture:
    kind: str  # a PICTURES name
    suffixes: tuple[str, ...]  # .png: the grid; .gif: the columns as frames (a sweep animates)


def plan(models: GanModels) -> list[PlannedPicture]:
    """The pictures this generator can show (class rows need classes, code sweeps InfoGAN codes)."""
    out = [PlannedPicture("interpolation", (".png", ".gif"))]
    if models.num_classes:
        out.append(PlannedPicture("classes", (".png",)))
    if models.info and models.n_cont:
        out.append(PlannedPicture("codes", (".png", ".gif")))
    return out


def weight_sets(checkpoint: str | Path) -> dict[str, GanModels]:
    """{"G_ema": ..., "G": ...} when the checkpoint keeps an EMA of G, else {"G": ...}."""
    _, first = load_generator(checkpoint, "auto")
    if first.weights == "G":
        return {"G": first}
    return {"G_ema": first, "G": load_generator(checkpoint, "G")[1]}


def draw_pictures(checkpoint: str | Path, folder: Path) -> list[Path]:
    """Every planned picture of `checkpoint` written into `folder` (each with its .json record)."""
    generators = weight_sets(checkpoint)
    files = []
    for planned in plan(next(iter(generators.values()))):
        picture = draw(planned.kind, generators, SPEC)
        record = SampleRecord(checkpoint=str(checkpoint), weights=tuple(generators), truncation=SPEC.truncation,
                              seed=SPEC.seed, picture=planned.kind, rows=picture.rows, cols=picture.cols,
                              seeds=SPEC.pair_seeds() if planned.kind == "interpolation" else None)
        files += [write_picture(picture, folder / f"{planned.kind}{s}", record) for s in planned.suffixes]
    return files


def log_pictures(sink, checkpoint: str | Path) -> None:
    """Draw and log the pictures under `pictures/`. The model is trained by now: a picture
    that cannot be drawn costs one warning saying why, never the run."""
    with tempfile.TemporaryDirectory(prefix="ganbench-pictures-") as tmp:
        try:
            files = draw_pictures(checkpoint, Path(tmp))
        except Exception as e:  # noqa: BLE001 - reported, and the trained run stays FINISHED
            log.warning("run pictures not drawn from %s (%s: %s); draw them later with "
                        "`ganbench sample --checkpoint %s --picture interpolation --out interpolation.png`",
                        checkpoint, type(e).__name__, e, checkpoint)
            return
        # The sink copies files it cannot upload now into its spool, so the folder may go after this.
        sink.log_artifact(tmp, ARTIFACT_DIR)
    log.info("logged %d pictures of %s under %s/: %s", len(files), Path(str(checkpoint)).name, ARTIFACT_DIR,
             ", ".join(f.name for f in files))
