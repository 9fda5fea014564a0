"""`ganbench sample`: truncation, records, pictures (interpolation grid and GIF, class rows,
InfoGAN code sweeps, weight sets side by side) and the errors when an option does not fit,
on tiny untrained generators checkpointed here (no training: the recipe, not the quality)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench import config as C
from ganbench.checkpoint import save_checkpoint
from ganbench.cli import main
from ganbench.errors import CheckpointError, ConfigError
from ganbench.image_files import PAD, read_record
from ganbench.config import EmaConfig
from ganbench.models import build_models
from ganbench.models.ema import GeneratorEMA
from ganbench.pictures import PICTURES, PictureSpec, draw
from ganbench.presets import get_preset
from ganbench.sample import load_generator, load_generators, sample
from ganbench.sample_cli import PICTURE_KINDS

SIDE = 28 + PAD  # one image in a grid, with its padding


def _ckpt(root: Path, name: str, num_classes: int = 0, ema: bool = False, **model) -> str:
    cfg = C.with_updates(get_preset("debug"), model={"name": name, "ngf": 8, "ndf": 8, "latent_dim": 16, **model})
    torch.manual_seed(0)
    m = build_models(cfg.model, (1, 28, 28), num_classes)
    state = {"G": m.G.state_dict(), "D": m.D.state_dict(), "epoch": 1, "image_shape": [1, 28, 28],
             "num_classes": num_classes}
    if ema:  # other weights, saved as training saves its EMA of G
        other = build_models(cfg.model, (1, 28, 28), num_classes).G
        state["G_ema"] = GeneratorEMA(other, EmaConfig(decay=0.999)).state_dict()
    return str(save_checkpoint(root / name, cfg, state, {}))


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    return {"dcgan": _ckpt(root, "dcgan", ema=True), "cdcgan": _ckpt(root, "cdcgan", 10),
            "infogan": _ckpt(root, "infogan", n_cat=4, n_cont=2)}


def _run(capsys, *argv) -> dict:
    assert main(["sample", *argv]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_truncation_one_is_no_truncation_and_zero_is_the_mean_image(ckpts):
    _, m = load_generator(ckpts["dcgan"])
    plain = sample(m, 6, seed=2)
    assert torch.equal(sample(m, 6, seed=2, truncation=1.0), plain)
    mean = sample(m, 6, seed=2, truncation=0.0)
    with torch.no_grad():
        g0 = m.G(torch.zeros(1, 16)).clamp(-1, 1)
    assert torch.allclose(mean, g0.expand_as(mean), atol=1e-6)  # every image is G(mean of z)
    half = sample(m, 6, seed=2, truncation=0.5)
    assert not torch.allclose(half, plain) and not torch.allclose(half, mean)
    assert torch.equal(sample(m, 2, seed=2, truncation=0.5), half[:2])  # image i does not depend on n


def test_cli_records_psi_beside_and_inside_the_output(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["dcgan"], "--n", "5", "--seed", "3", "--truncation", "0.7",
    # the dcgan checkpoint holds an EMA of G: the default weights (auto) resolve to it, by name
               "--out", str(tmp_path / "g.png"))
    assert out["truncation"] == 0.7 and out["weights"] == ["G_ema"] and out["n"] == 5
    side = json.loads(Path(out["record"]).read_text())
    assert side == read_record(tmp_path / "g.png")
    assert (side["truncation"], side["seed"], side["n"], side["weights"]) == (0.7, 3, 5, ["G_ema"])
    assert "default_rng(seed)" in side["noise"] and "psi" in side["truncation_rule"]
    npy = _run(capsys, "--checkpoint", ckpts["dcgan"], "--n", "5", "--seed", "3", "--truncation", "0.7",
               "--out", str(tmp_path / "g.npy"))
    _, m = load_generator(ckpts["dcgan"])
    assert np.array_equal(np.load(npy["out"]), sample(m, 5, seed=3, truncation=0.7).numpy())
    assert json.loads(Path(npy["record"]).read_text())["truncation"] == 0.7
    d = _run(capsys, "--checkpoint", ckpts["dcgan"], "--n", "2", "--out", str(tmp_path / "pngs") + "/")
    assert read_record(Path(d["out"]) / "00001.png")["truncation"] == 1.0


def test_interpolation_grid_starts_and_ends_at_the_seeds_images(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["dcgan"], "--picture", "interpolation", "--seeds", "4", "9", "1", "2",
               "--steps", "5", "--truncation", "0.8", "--out", str(tmp_path / "walk.png"))
    assert out["shape"][:3] == [1, 2, 5]
    assert Image.open(out["out"]).size == (5 * SIDE + PAD, 2 * SIDE + PAD)
    rec = read_record(out["out"])
    assert rec["picture"] == "interpolation" and rec["seeds"] == [4, 9, 1, 2] and rec["truncation"] == 0.8
    _, m = load_generator(ckpts["dcgan"])
    pic = draw("interpolation", {"G": m}, PictureSpec(seeds=(4, 9, 1, 2), steps=5, truncation=0.8))
    for row, (a, b) in enumerate(((4, 9), (1, 2))):
        assert torch.allclose(pic.images[0, row, 0], sample(m, 1, seed=a, truncation=0.8)[0], atol=1e-5)
        assert torch.allclose(pic.images[0, row, -1], sample(m, 1, seed=b, truncation=0.8)[0], atol=1e-5)
    assert not torch.allclose(pic.images[0, 0, 2], pic.images[0, 0, 0])


def test_interpolation_gif_has_one_frame_per_step(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["dcgan"], "--picture", "interpolation", "--seeds", "0", "1",
               "--steps", "6", "--out", str(tmp_path / "walk.gif"))
    with Image.open(out["out"]) as gif:
        assert gif.n_frames == 6 and gif.size == (SIDE + PAD, SIDE + PAD)  # one pair: one image a frame
    assert read_record(out["out"])["picture"] == "interpolation"


def test_class_rows_share_noise_per_column(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["cdcgan"], "--picture", "classes", "--cols", "3",
               "--out", str(tmp_path / "classes.png"))
    assert Image.open(out["out"]).size == (3 * SIDE + PAD, 10 * SIDE + PAD)
    _, m = load_generator(ckpts["cdcgan"])
    pic = draw("classes", {"G": m}, PictureSpec(cols=3))
    for k in (0, 7):
        assert torch.allclose(pic.images[0, k], sample(m, 3, label=k), atol=1e-5)  # row k: class k, images 0..2
    with pytest.raises(ConfigError, match="needs a generator with classes"):
        draw("classes", {"G": load_generator(ckpts["dcgan"])[1]}, PictureSpec())


def test_code_traversal_sweeps_each_code_along_a_row(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["infogan"], "--picture", "codes", "--steps", "4", "--span", "1.5",
               "--out", str(tmp_path / "codes.gif"))
    assert out["shape"][:3] == [1, 2, 4]  # two continuous codes, four values each
    with Image.open(out["out"]) as gif:
        assert gif.n_frames == 4
    _, m = load_generator(ckpts["infogan"])
    pic = draw("codes", {"G": m}, PictureSpec(seed=5, steps=3, span=1.0, label=2))
    z = np.repeat(np.random.default_rng(5).standard_normal((1, 16), dtype=np.float32), 3, axis=0)
    z[:, 14] = [-1.0, 0.0, 1.0]  # code 0 is z[14] (the last n_cont=2 entries)
    with torch.no_grad():
        want = m.G(torch.from_numpy(z), torch.full((3,), 2)).clamp(-1, 1)
    assert torch.allclose(pic.images[0, 0], want, atol=1e-5)
    with pytest.raises(ConfigError, match="InfoGAN"):
        draw("codes", {"G": load_generator(ckpts["cdcgan"])[1]}, PictureSpec())


def test_weight_sets_side_by_side(ckpts, tmp_path, capsys):
    out = _run(capsys, "--checkpoint", ckpts["dcgan"], "--picture", "interpolation", "--seeds", "0", "1",
               "--steps", "3", "--weights", "G_ema,G", "--out", str(tmp_path / "both.png"))
    assert out["weights"] == ["G_ema", "G"] and out["shape"][:3] == [2, 1, 3]
    assert Image.open(out["out"]).size == ((3 + 1 + 3) * SIDE + PAD, SIDE + PAD)  # a blank column between
    ema, raw = (load_generator(ckpts["dcgan"], w)[1] for w in ("G_ema", "G"))
    pic = draw("interpolation", {"G_ema": ema, "G": raw}, PictureSpec(seeds=(0, 1), steps=3))
    assert torch.allclose(pic.images[1, 0, 0], sample(raw, 1, seed=0)[0], atol=1e-5)
    assert torch.allclose(pic.images[0, 0, 0], sample(ema, 1, seed=0)[0], atol=1e-5)
    assert not torch.allclose(pic.images[0], pic.images[1])
    with pytest.raises(CheckpointError, match="no G_ema"):
        load_generator(ckpts["cdcgan"], "G_ema")
    # cdcgan keeps no EMA, so auto is G there: "auto,G" would draw the same generator twice
    with pytest.raises(ConfigError, match="names G twice"):
        load_generators(ckpts["cdcgan"], ("auto", "G"))
    assert list(load_generators(ckpts["dcgan"], ("auto", "G"))[1]) == ["G_ema", "G"]


@pytest.mark.parametrize("argv, needle", [
    (["--picture", "classes", "--out", "x.png"], "needs a generator with classes"),
    (["--picture", "codes", "--out", "x.png"], "InfoGAN"),
    (["--picture", "interpolation", "--cols", "3", "--out", "x.png"], "--cols does not apply"),
    (["--picture", "interpolation", "--n", "3", "--out", "x.png"], "--n does not apply"),
    (["--picture", "classes", "--label", "1", "--out", "x.png"], "--label does not apply"),
    (["--seeds", "1", "2", "--out", "x.png"], "--seeds does not apply to plain samples"),
    (["--picture", "interpolation", "--seeds", "1", "2", "3", "--out", "x.png"], "in pairs"),
    (["--picture", "interpolation", "--steps", "1", "--out", "x.png"], "--steps must be in 2..256"),
    (["--picture", "interpolation", "--out", "x.npy"], "FILE.png .* or FILE.gif"),
    (["--out", "x.gif"], "animates a picture"),
    (["--truncation", "1.5", "--out", "x.png"], "truncation must be in 0..1"),
    (["--truncation", "nan", "--out", "x.png"], "truncation must be in 0..1"),
    (["--weights", "G,G_avg", "--out", "x.png"], "--weights must be"),
    (["--weights", "G_ema", "--checkpoint", "cdcgan", "--out", "x.png"], "no G_ema"),
    (["--weights", "G,G_ema", "--out", "x.png"], "need a --picture"),
])
def test_options_that_do_not_fit_are_one_line_errors(ckpts, tmp_path, capsys, argv, needle):
    argv = [str(tmp_path / a) if a in ("x.png", "x.npy", "x.gif") else ckpts.get(a, a) for a in argv]
    assert main(["sample", "--checkpoint", ckpts["dcgan"], *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(needle, err), err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_picture_kinds_are_the_registry():
    assert tuple(PICTURE_KINDS) == tuple(PICTURES.names())
