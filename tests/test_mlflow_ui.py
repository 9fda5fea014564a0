"""MLflow as its users look at it: the UI link ganbench prints opens the runs (not MLflow
3.17's GenAI view); per-epoch sample grids are MLflow images with steps (the UI's step
slider) also when they went through the spool (a real run's images: tests/test_logs.py,
which trains on Ray anyway); and, when chromium is installed, a real browser shows the run
through the link (slow)."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from ganbench.tracking import MlflowSink, create_run, ui_hint, ui_link
from ganbench.tracking_spool import sync

REPO = Path(__file__).resolve().parents[1]


def test_ui_link_opens_the_model_training_view():
    assert ui_link("7") == "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
    # A tracking server is its own UI; its credentials stay out of the printed link.
    assert ui_link("7", "https://u:pw@ml.example:8443/mlflow/") == \
        "https://ml.example:8443/mlflow/#/experiments/7/runs?workflowType=machine_learning"
    local = ui_hint("sqlite:////data/mlflow.db", "7", port=5001)
    assert "mlflow ui --backend-store-uri sqlite:////data/mlflow.db --port 5001" in local
    assert local.endswith("http://127.0.0.1:5001/#/experiments/7/runs?workflowType=machine_learning")
    assert "secret" not in ui_hint("postgresql://u:secret@db/mlflow", "7")


def test_demo_prints_the_runs_link(tmp_path):
    from ganbench.demo import summary_text

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent = create_run(uri, "ganbench-demo", "study:demo", {}, {}).run_id
    exp_id = MlflowClient(uri).get_run(parent).info.experiment_id
    study = {"study": "demo", "n_trials": {"COMPLETE": 1}, "score_key": "fid", "default_value": 2.0,
             "best_value": 1.0, "best_params": {}, "parent_run_id": parent, "best_run_id": parent,
             "best_checkpoint": "ckpt"}
    exported = {"onnx_path": "/m.onnx", "max_abs_diff": 0.0, "registered_model": "ganbench-digits-dcgan",
                "model_version": "2", "alias": "champion", "alias_version": "1"}
    text = summary_text(study, exported, {}, tmp_path / "x.png", uri, "sqlite:///optuna.db", 1.0)
    assert ui_link(exp_id) in text
    assert f"MLFLOW_TRACKING_URI={uri} ganbench serve --model models:/ganbench-digits-dcgan@champion" in text


def image_steps(uri: str, run_id: str, key: str = "samples") -> list[int]:
    """Steps of the images logged under `key` (mlflow stores them as images/KEY+step+N+...)."""
    names = [Path(a.path).name for a in MlflowClient(uri).list_artifacts(run_id, "images")]
    return sorted(int(n.split("+step+")[1].split("+")[0]) for n in names
                  if n.startswith(f"{key}+step+") and n.endswith(".png"))


def test_spooled_images_keep_their_steps(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    handle = replace(create_run(uri, "spool", None, {}, {}), spool_dir=str(tmp_path / "spool"))
    png = tmp_path / "grid.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    sink = MlflowSink(handle)
    MlflowSink._offline_runs.add(sink.run_id)  # as after a failed call: everything goes to the spool
    try:
        sink.log_image(png, "samples", step=3)
    finally:
        MlflowSink._offline_runs.discard(sink.run_id)
    assert image_steps(uri, sink.run_id) == []
    assert sync(handle.spool_dir)[0]["artifacts"] == 1
    assert image_steps(uri, sink.run_id) == [3]


@pytest.mark.slow
def test_a_browser_shows_the_run_through_the_link(tmp_path):
    """Headless chromium against a real `mlflow ui` (benchmarks/mlflow_ui_screenshot.py)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import mlflow_ui_screenshot as shot

    if shot.chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    result = shot.check(tmp_path)
    assert result["run_visible_with_link"], result
