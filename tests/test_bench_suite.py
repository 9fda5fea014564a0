"""Suite files: the built-in suites parse and plan; every bad file is one clear line from
`ganbench bench` and starts nothing (no MLflow run, no Ray)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from ganbench.bench.builtin import SUITES
from ganbench.bench.plan import make_plan
from ganbench.bench.suite import load_suite, parse_suite
from ganbench.cli import main

GOOD = {"name": "t", "protocol": {"metric": "fid", "backbone": "digitscnn", "n_gen": 300, "final": False},
        "budget": {"epochs": 1}, "seeds": 2, "cells": [{"name": "a", "preset": "debug"}]}


def test_builtin_suites_parse_and_plan():
    assert set(SUITES.names()) == {"smoke", "losses-mnist", "seeds-mnist", "art-64", "art-128"}
    smoke = make_plan(load_suite("smoke"))
    assert [(r.cell, r.seed) for r in smoke.runs] == [("bce", 0), ("bce", 1), ("lsgan", 0), ("lsgan", 1)]
    assert smoke.scoring.metric == "fid300_digitscnn" and smoke.runs[2].cfg.loss.name == "lsgan"
    assert smoke.runs[1].cfg.train.seed == 1 and smoke.runs[0].cfg.eval.backbone == "digitscnn"
    assert smoke.runs[0].cell_hash == smoke.runs[1].cell_hash != smoke.runs[2].cell_hash
    losses = make_plan(load_suite("losses-mnist"), ("data.root=/data/mnist",))
    assert losses.scoring.metric == "final/fid10k_inception" and losses.scoring.train_metric == "fid2k_mnistcnn"
    assert {r.cfg.loss.name for r in losses.runs} == {"bce", "lsgan", "wgan-gp", "hinge"}
    assert {r.cfg.model.ngf for r in losses.runs} == {64} and losses.runs[0].cfg.data.root == "/data/mnist"
    seeds = make_plan(load_suite("seeds-mnist"), ("data.root=/d", "train.epochs=2"))
    assert {r.cfg.train.epochs for r in seeds.runs} == {2}  # --set shrinks every cell's budget
    # The seed-faithful presets are the cells: E1's MSE-on-sigmoid loss, E3's batch 128, E10's layout.
    by_cell = {r.cell: r.cfg for r in seeds.runs}
    assert by_cell["E1-mse-sigmoid"].loss.name == "mse-sigmoid" and by_cell["E3-best"].data.batch_size == 128
    assert by_cell["E10-mlp4"].model.arch == "mlp4"
    art = make_plan(load_suite("art-64"), ("data.name=folder:/art",))
    assert len(art.runs) == 9
    assert {r.cfg.loss.critic_schedule for r in art.runs if r.cell == "C3-wgan-gp"} == {"same-batch"}
    art128 = make_plan(load_suite("art-128"), ("data.name=folder:/art",))
    assert {r.cfg.data.resolution for r in art128.runs} == {128}


def test_budget_in_images_becomes_steps_per_epoch():
    suite = parse_suite({**GOOD, "budget": {"images": 640, "epochs": 2}})
    cfg = make_plan(suite).runs[0].cfg  # debug: batch 32 -> 640 images = 2 epochs x 10 steps
    assert cfg.train.epochs == 2 and cfg.train.max_steps_per_epoch == 10


def test_budget_in_seconds_becomes_the_loops_time_limit():
    suite = parse_suite({**GOOD, "budget": {"seconds": 90, "epochs": 50}})
    cfg = make_plan(suite).runs[0].cfg
    assert cfg.train.max_seconds == 90.0 and cfg.train.epochs == 50


BAD = [
    ({**GOOD, "cells": [{"name": "a", "preset": "nope"}]}, "cell a: unknown preset 'nope'; valid presets: "),
    ({**GOOD, "cells": [{"name": "a", "preset": "debug", "set": {"optim_g.lrr": 1}}]},
     "cell a: unknown key(s) optim_g.lrr; valid keys: optim_g.beta1"),
    ({**GOOD, "cellz": []}, "unknown key(s) cellz; valid keys: name"),
    ({**GOOD, "budget": {"images": 10}}, "budget.images=10 is less than one step per epoch for cell a"),
    ({**GOOD, "budget": {"seconds": -5}}, "budget: epochs, images and seconds must be >= 0"),
    ({**GOOD, "budget": {"epochs": -1}}, "budget: epochs, images and seconds must be >= 0"),
    ({**GOOD, "cells": []}, "cells: the suite has no cells"),
    ({**GOOD, "seeds": 0}, "seeds: need at least one seed"),
    ({**GOOD, "cells": [{"name": "a", "preset": "debug", "set": {"eval.n_gen": 50}}]},
     "cell a sets eval.n_gen: how runs are scored belongs to the suite's protocol"),
    ({**GOOD, "protocol": {"backbone": "auto"}}, "protocol: name the backbone"),
    ({**GOOD, "cells": [{"name": "a", "preset": "debug"}, {"name": "a", "preset": "debug"}]},
     "cells: each cell name once, got a more than once"),
]


def _no_side_effects(tmp_path: Path) -> None:
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


@pytest.mark.parametrize("data,message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_suite_files_are_one_line_and_start_nothing(tmp_path, capsys, data, message):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["bench", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"ganbench bench: error: {path}: ") and message in err[0], err[0]
    _no_side_effects(tmp_path)


@pytest.mark.parametrize("argv,message", [
    (["bench", "no-such-suite"], "unknown suite 'no-such-suite': not a built-in suite (art-128, art-64, losses-mnist"),
    (["bench", "missing.yaml"], "suite file not found: missing.yaml"),
    (["bench", "smoke", "--set", "eval.backbone=inception"], "--set sets eval.backbone: how runs are scored"),
    (["bench", "art-64"], "trains on a folder of your images: add --set data.name=folder:"),
])
def test_bad_names_and_overrides_are_one_line(tmp_path, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    _no_side_effects(tmp_path)


def test_list_and_show(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in ("smoke", "losses-mnist", "seeds-mnist", "art-64"))
    assert main(["bench", "--show", "smoke"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["name"] == "smoke"
