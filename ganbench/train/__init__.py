"""Training: `train(cfg) -> TrainResult` (ganbench/train/driver.py) and what it runs.

    driver.py    train(), validate(), resolve_eval(): refuse, resolve, track, launch, pick
    launcher.py  in this process or on Ray Train workers
    loop.py      run_loop (per worker) and train_one_epoch
    steps.py     the GAN step (D phases, G phase); stats.py the stats channel
    schedule.py  when to evaluate / checkpoint / stop; reporter.py rank 0's logs and MLflow
    records.py   TrainResult, LoopSummary, TrackingHandle; observer.py the pruning protocol
Checkpoints (format, writing, retention, best) are ganbench/checkpoint.py.
"""
from ganbench.train.driver import resolve_eval, run_name_for, train, validate
from ganbench.train.records import TrainResult

__all__ = ["train", "validate", "resolve_eval", "run_name_for", "TrainResult"]
