"""Logs a person can read: a Ray-using command shows ganbench's lines, not Ray's internals
(measured on Ray 2.60 before the fix: "Failed to query Ray Train Controller actor state"
about every 2 s from the placement-group cleaner, a PreemptionWatcher error from
core_worker.cc, the TrainController's worker-group lines), and stdout holds the JSON line only.
`--verbose` / GANBENCH_VERBOSE=1 shows everything (checked on the printer itself). The Ray
run is also the check that a real run's sample grids are MLflow images with steps."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ganbench import ray_init
from test_mlflow_ui import image_steps

GANBENCH = str(Path(sys.executable).with_name("ganbench"))
RAY_NOISE = ("Failed to query Ray Train Controller", "PreemptionWatcher", "(TrainController pid=",
             "(PlacementGroupCleaner pid=", "Attempting to start training worker group",
             "Creating initial MLflow database tables")


@pytest.mark.ray
def test_ray_train_run_shows_our_lines_only_and_json_last(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != ray_init.VERBOSE_ENV}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.run([GANBENCH, "train", "--preset", "debug", "--workers", "1", "--set", "train.epochs=2",
                           "--set", "train.max_steps_per_epoch=4", "--out", str(tmp_path / "runs")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out_lines = proc.stdout.strip().splitlines()
    assert len(out_lines) == 1 and json.loads(out_lines[0])["status"] == "finished", proc.stdout[-2000:]
    noise = [line for line in proc.stderr.splitlines() if any(n in line for n in RAY_NOISE)]
    assert not noise, noise
    assert "ganbench.train INFO: epoch 1: loss_d=" in proc.stderr  # a worker's line, in our format
    logs_dir = proc.stderr.split("full log is in ")[1].split()[0]
    assert Path(logs_dir).is_dir() and any(Path(logs_dir).glob("worker-*"))  # nothing lost
    # The same run, for MLflow: rank 0's per-epoch grids are images with steps (the UI's slider).
    run_id = json.loads(out_lines[0])["run_id"]
    assert image_steps(env["MLFLOW_TRACKING_URI"], run_id) == [1, 2]


def _printed(loud: bool, lines: list[str]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        from ray._private import worker

        ray_init._print_worker_lines(worker.print_to_stdstream, loud,
                                     {"is_err": False, "pid": 123, "ip": "x", "localhost": "x", "lines": lines,
                                      "actor_name": "RayTrainWorker", "task_name": None})
    return out.getvalue(), err.getvalue()


def test_worker_lines_are_filtered_unless_verbose():
    ours = "12:00:01 ganbench.train INFO: epoch 1: loss_d=1.2"
    theirs = ["Failed to query Ray Train Controller actor state. State API may be temporarily unavailable.",
              "Setting up process group for: env:// [rank=0, world_size=1]"]
    out, err = _printed(False, [theirs[0], ours, theirs[1]])
    assert out == "" and err.strip() == ours  # no Ray prefix: it reads like the driver's own lines
    out, err = _printed(True, [theirs[1], ours])
    assert out == "" and theirs[1] in err and ours in err and "RayTrainWorker pid=123" in err  # stdout stays JSON's
    assert ray_init.keep_line("12:00:01 py.warnings WARNING: /x.py:3: UserWarning: careful")


def test_verbose_comes_from_the_flag_or_the_environment(monkeypatch):
    monkeypatch.delenv(ray_init.VERBOSE_ENV, raising=False)
    assert not ray_init.verbose()
    monkeypatch.setenv(ray_init.VERBOSE_ENV, "1")
    assert ray_init.verbose()
