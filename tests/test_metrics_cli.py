"""`ganbench fid` as a user meets it: help, the JSON contract (last stdout line, metrics +
protocol), --save-stats, and bad sources failing with the path and the expected format.

The parser is built here exactly as ganbench/cli.py builds it (`add_fid_parser(sub)`), and
errors are handled as its main() does (GanbenchError -> one stderr line, exit code 2)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from ganbench.config import DataConfig, EvalConfig
from ganbench.errors import ConfigError, DataError, GanbenchError
from ganbench.metrics.classifier import classifier_backbone
from ganbench.metrics.cli import add_fid_parser
from ganbench.metrics.real_images import iter_images, load_source
from ganbench.metrics.sources import evaluate_sources
from ganbench.metrics.stats_cache import load_stats, real_stats

DIGITS = DataConfig(name="digits", resolution=28, channels=1)


@pytest.fixture(scope="module")
def files(metrics_cache, tmp_path_factory):
    """real.npy: 600 real digits in [-1, 1]; stats.npz: the cached statistics of all digits."""
    d = tmp_path_factory.mktemp("fid-cli")
    src = load_source(DIGITS, verbose=False)
    x = next(iter_images(src, DIGITS, np.arange(600), batch_size=600)).numpy()
    np.save(d / "real.npy", x)
    stats = real_stats(DIGITS, classifier_backbone(DIGITS, metrics_cache), 0, metrics_cache)
    return d, d / "real.npy", stats.path


def fid(*argv: str, capsys) -> tuple[int, str, str]:
    p = argparse.ArgumentParser(prog="ganbench")
    add_fid_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["fid", *argv])
    try:
        rc = args.func(args)
    except GanbenchError as e:
        print(f"ganbench fid: error: {e}", file=__import__("sys").stderr)
        rc = 2
    out, err = capsys.readouterr()
    return rc, out, err


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        fid("--help", capsys=capsys)
    assert e.value.code == 0
    out = capsys.readouterr().out
    for needle in ("SOURCE_A", "SOURCE_B", "--backbone", "--n", "--data", "--save-stats", "--set",
                   "inception", "digitscnn", ".npz", "checkpoint"):
        assert needle in out, needle


def test_fid_between_npy_and_stats_prints_json_last(files, metrics_cache, capsys):
    d, npy, npz = files
    rc, out, err = fid(str(npy), str(npz), "--data", "digits", "--backbone", "digitscnn",
                       "--set", f"eval.cache_dir={metrics_cache}", "--set", "eval.kid_subsets=10",
                       "--save-stats", str(d / "a.npz"), capsys=capsys)
    assert rc == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    m, p = result["metrics"], result["protocol"]
    assert {"fid600_digitscnn", "kid600_digitscnn", "kid600_digitscnn_std", "cs600_digitscnn",
            "class_coverage600_digitscnn", "pr6003_digitscnn_precision", "dc6005_digitscnn_coverage",
            "mem600_digitscnn", "mifid600_digitscnn", "fid600_digitscnn_floor"} <= set(m)
    assert m["fid600_digitscnn"] < 5  # real digits against all real digits
    assert p["backbone"] == "digitscnn" and p["a_kind"] == "npy" and p["b_kind"] == "stats"
    assert p["a_n"] == 600 and p["b_n"] == 1797 and p["weights_hash"] and p["kid_subsets"] == 10
    saved = load_stats(d / "a.npz")
    assert saved.features.shape == (600, 128) and saved.protocol["backbone"] == "digitscnn"
    # The dataset recorded in a ganbench stats file is enough for the classifier backbone.
    rc, out, _ = fid(str(d / "a.npz"), str(npz), "--set", f"eval.cache_dir={metrics_cache}",
                     "--set", "eval.backbone=digitscnn", capsys=capsys)
    assert rc == 0
    again = json.loads(out.strip().splitlines()[-1])["metrics"]
    assert again["fid600_digitscnn"] == pytest.approx(m["fid600_digitscnn"], rel=1e-9)


@pytest.mark.parametrize("make, kind, needle", [
    (lambda d: d / "missing.npy", ConfigError, "no such file or folder"),
    (lambda d: (d / "x.txt").write_text("hi") and d / "x.txt", ConfigError, "unknown kind of file (.txt)"),
    (lambda d: np.save(d / "hwc.npy", np.zeros((4, 28, 28), np.float32)) or d / "hwc.npy", DataError,
     "shape (4, 28, 28)"),
    (lambda d: np.save(d / "u8.npy", np.zeros((4, 1, 28, 28), np.uint8)) or d / "u8.npy", DataError, "uint8"),
    (lambda d: np.save(d / "big.npy", np.full((4, 1, 28, 28), 255.0, np.float32)) or d / "big.npy", DataError,
     "values in [255, 255]"),
    (lambda d: np.savez(d / "nomu.npz", a=np.zeros(3)) or d / "nomu.npz", DataError, "no mu/sigma"),
    (lambda d: (d / "empty").mkdir() or d / "empty", DataError, "holds no images"),
])
def test_bad_sources_name_the_path_and_the_format(files, metrics_cache, tmp_path, make, kind, needle):
    _, npy, _ = files
    bad = make(tmp_path)
    with pytest.raises(kind) as e:
        evaluate_sources(str(bad), str(npy), backbone="digitscnn", data="digits",
                         eval_cfg=EvalConfig(cache_dir=str(metrics_cache)))
    msg = str(e.value)
    assert needle in msg and str(bad.name) in msg
    assert "expected" in msg


def test_cli_error_is_one_line_with_exit_code_2(files, capsys):
    _, npy, _ = files
    rc, out, err = fid("/nowhere/x.npy", str(npy), capsys=capsys)
    assert rc == 2 and out == "" and "/nowhere/x.npy" in err and "expected" in err


def test_classifier_backbone_without_a_dataset_says_how(files, metrics_cache, capsys):
    _, npy, _ = files
    rc, _, err = fid(str(npy), str(npy), "--backbone", "digitscnn", capsys=capsys)
    assert rc == 2 and "--data digits" in err
    rc, _, err = fid(str(npy), str(npy), "--set", "data.root=/x", capsys=capsys)
    assert rc == 2 and "give --data NAME" in err
    rc, _, err = fid(str(npy), str(npy), "--set", "train.epochs=3", capsys=capsys)
    assert rc == 2 and "eval.* and data.* keys only" in err


def test_checkpoint_and_image_folder_sources(files, metrics_cache, tmp_path, capsys):
    import torch

    from ganbench.data import make_synthetic_folder
    from ganbench.models import build_models
    from ganbench.presets import get_preset
    from ganbench.checkpoint import save_checkpoint

    cfg = get_preset("debug")
    torch.manual_seed(0)
    models = build_models(cfg.model, (1, 28, 28), 0)
    ckpt = save_checkpoint(tmp_path / "ckpt", cfg, {"G": models.G.state_dict(), "D": models.D.state_dict(),
                                                    "epoch": 1, "image_shape": [1, 28, 28], "num_classes": 0}, {})
    folder = make_synthetic_folder(tmp_path / "imgs", n_classes=3, per_class=4)
    _, npy, _ = files
    # The checkpoint side defines the dataset (digits) the classifier backbone needs.
    rc, out, err = fid(str(ckpt), str(folder), "--n", "200", "--backbone", "digitscnn",
                       "--set", f"eval.cache_dir={metrics_cache}", "--set", "eval.kid_subsets=5",
                       "--set", "data.num_workers=0", capsys=capsys)
    assert rc == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    p = result["protocol"]
    assert p["a_kind"] == "checkpoint" and p["a_n"] == 200 and p["a_generator_mode"] == "eval"
    assert p["b_kind"] == "folder" and p["b_n"] == 12 and p["dataset"] == "digits"
    # 12 folder images < 128 dims: no FID, KID only, and the protocol says so.
    assert "kid200_digitscnn" in result["metrics"] and "fid200_digitscnn" not in result["metrics"]
    assert "fid_skipped" in p
