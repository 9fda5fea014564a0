"""A `ganbench tune` driver whose trials are fake: each logs an MLflow run like a real trial,
sleeps, and scores a function of its parameters. The driver's own logic (heartbeats, retries,
the budget shared by several drivers, MLflow bookkeeping) is what the tests watch, without
paying for training. Run as a script it is the whole CLI: `python tests/tune_driver.py tune ...`.

FAKE_TRIAL_SECONDS (env): how long each trial takes (default 1).
"""
from __future__ import annotations

import os
import sys
import time


def fake_train(cfg, *, tags=None, observer=None, **_):
    from ganbench import tracking as trk
    from ganbench.train import TrainResult

    uri = trk.resolve_tracking_uri(cfg.tracking.tracking_uri)
    handle = trk.create_run(uri, cfg.tracking.experiment, cfg.tracking.run_name, tags=tags or {}, params={})
    time.sleep(float(os.environ.get("FAKE_TRIAL_SECONDS", "1")))
    value = abs(cfg.optim_g.lr * 1e4 - 2) + cfg.optim_g.beta1  # any function of the parameters
    trk.finish_run(handle, "FINISHED")
    return TrainResult(run_id=handle.run_id, tracking_uri=uri, run_dir="", best_checkpoint=None,
                       last_checkpoint=None, final_metrics={"fid": value}, status="finished", score_key="fid",
                       best_score=value, final_eval=None, loader=None, device=None, workers=0)


def patch(monkeypatch=None) -> None:
    """Fake trials in tuning.study (through pytest's monkeypatch when given, so it is undone)."""
    import tuning.study as study_mod

    import tuning.mlflow_study as mlflow_study

    fakes = [(study_mod, "train", fake_train), (study_mod, "resolve_eval", lambda cfg, gpu=False: (cfg, "fid")),
             (mlflow_study, "_plots", lambda study, folder: [])]  # seconds of matplotlib, not tested here
    for module, name, value in fakes:
        (monkeypatch.setattr if monkeypatch else setattr)(module, name, value)


if __name__ == "__main__":
    patch()
    from ganbench.cli import main

    sys.exit(main(sys.argv[1:]))
