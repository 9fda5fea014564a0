"""The study's MLflow parent run: every trial is a nested run under it, and it holds the
summary a person looks at (best params, best vs default FID, history and importance plots)."""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import optuna

from ganbench import tracking as trk

log = logging.getLogger("ganbench.tuning")
PARENT_ATTR = "mlflow_parent_run_id"


def parent_run(study: optuna.Study, experiment: str, tracking_uri: str | None, params: dict) -> trk.TrackingHandle:
    """The parent run, reused when the study resumes (its id lives in the study's attrs)."""
    uri = trk.resolve_tracking_uri(tracking_uri)
    run_id = study.user_attrs.get(PARENT_ATTR)
    if run_id and trk.run_exists(old := trk.TrackingHandle(uri, run_id)):
        trk.reopen_run(old)
        return old
    handle = trk.create_run(uri, experiment, f"study:{study.study_name}",
                            tags={"optuna.study": study.study_name, "ganbench.kind": "study"}, params=params)
    study.set_user_attr(PARENT_ATTR, handle.run_id)
    return handle


def log_summary(handle: trk.TrackingHandle, study: optuna.Study, summary: dict) -> None:
    sink = trk.MlflowSink(handle)
    metrics = {"best_value": summary["best_value"]} if summary["best_value"] is not None else {}
    if summary.get("default_value") is not None:
        metrics["default_value"] = summary["default_value"]
    for state, n in summary["n_trials"].items():
        metrics[f"n_trials_{state.lower()}"] = n
    if metrics:
        sink.log_metrics(metrics, step=len(study.trials))
    sink.set_tags({"ganbench.best_run_id": summary.get("best_run_id"),
                   "ganbench.best_checkpoint": summary.get("best_checkpoint")})
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "study_summary.json"
        p.write_text(json.dumps(summary, indent=1, default=str))
        sink.log_artifact(p)
        try:
            study.trials_dataframe().to_csv(Path(d) / "trials.csv", index=False)
            sink.log_artifact(Path(d) / "trials.csv")
        except Exception as e:  # pandas missing or an empty study: the JSON still has it all
            log.warning("trials table not written: %s", e)
        for path in _plots(study, Path(d)):
            sink.log_artifact(path, "plots")


def _plots(study: optuna.Study, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    out = []
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    makers = [("optimization_history.png", ovm.plot_optimization_history),
              ("intermediate_values.png", ovm.plot_intermediate_values)]
    if len(complete) >= 2:
        makers.append(("param_importances.png", ovm.plot_param_importances))
    for name, fn in makers:
        try:
            ax = fn(study)
            fig = (ax[0] if hasattr(ax, "__len__") else ax).figure
            fig.set_size_inches(7, 4.5)
            fig.tight_layout()
            fig.savefig(folder / name, dpi=90)
            plt.close(fig)
            out.append(folder / name)
        except Exception as e:  # e.g. importances need varied params; say which plot is missing
            log.warning("plot %s skipped: %s", name, e)
    return out
