"""The pictures a tracked training run logs under `pictures/` (train/pictures_log.py), drawn
from the best (or last) checkpoint: interpolation always, class rows for conditional models,
code sweeps for InfoGAN, G_ema beside G when the run keeps an EMA."""
from __future__ import annotations

import json
import logging

import pytest
from mlflow.tracking import MlflowClient

from ganbench import config as C
from ganbench.presets import get_preset
from ganbench.train import train
from ganbench.train import pictures_log

TINY = {"epochs": 1, "max_steps_per_epoch": 2}


def _pictures(res) -> set[str]:
    client = MlflowClient(res.tracking_uri)
    return {a.path.removeprefix("pictures/") for a in client.list_artifacts(res.run_id, "pictures")}


def _record(res, name: str) -> dict:
    path = MlflowClient(res.tracking_uri).download_artifacts(res.run_id, f"pictures/{name}")
    return json.loads(open(path).read())


def test_unconditional_run_logs_the_interpolation_grid_and_gif(tmp_path):
    res = train(C.with_updates(get_preset("debug"), train=TINY), out=tmp_path / "runs")
    assert _pictures(res) == {"interpolation.png", "interpolation.png.json", "interpolation.gif",
                              "interpolation.gif.json"}
    record = _record(res, "interpolation.png.json")
    assert record["picture"] == "interpolation" and record["weights"] == ["G"]
    assert record["checkpoint"] == str(res.best_checkpoint or res.last_checkpoint)


@pytest.mark.parametrize("model, expected", [
    ({"name": "cdcgan"}, {"interpolation.png", "classes.png"}),
    ({"name": "infogan", "n_cat": 10, "n_cont": 2}, {"interpolation.png", "classes.png", "codes.png", "codes.gif"}),
])
def test_conditional_and_infogan_runs_log_class_rows_and_code_sweeps(tmp_path, model, expected):
    data = {} if model["name"] == "cdcgan" else {"use_labels": False}  # InfoGAN finds its own codes
    cfg = C.with_updates(get_preset("debug"), model=model, data=data, train=TINY)
    res = train(cfg, out=tmp_path / "runs")
    logged = _pictures(res)
    assert expected <= logged
    assert ("codes.png" in logged) == (model["name"] == "infogan")
    assert _record(res, "classes.png.json")["rows"] == "classes 0..9"


def test_ema_and_raw_generator_are_drawn_side_by_side(tmp_path):
    cfg = C.with_updates(get_preset("debug"), ema={"decay": 0.9}, train=TINY)
    res = train(cfg, out=tmp_path / "runs")
    record = _record(res, "interpolation.png.json")
    assert record["weights"] == ["G_ema", "G"]
    assert "panels G_ema, G left to right" in record["cols"]


def test_a_picture_that_cannot_be_drawn_is_one_warning_and_the_run_still_finishes(tmp_path, monkeypatch, caplog):
    def broken(checkpoint, folder):
        raise RuntimeError("no pixels today")

    monkeypatch.setattr(pictures_log, "draw_pictures", broken)
    with caplog.at_level(logging.WARNING, logger="ganbench.train"):
        res = train(C.with_updates(get_preset("debug"), train=TINY), out=tmp_path / "runs")
    assert MlflowClient(res.tracking_uri).get_run(res.run_id).info.status == "FINISHED"
    assert _pictures(res) == set()
    warnings = [r for r in caplog.records if "run pictures not drawn" in r.getMessage()]
    assert len(warnings) == 1 and "no pixels today" in warnings[0].getMessage()
