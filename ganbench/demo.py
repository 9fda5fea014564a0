"""`make demo`: the whole pipeline on built-in data, offline, with only local parts.

1. an Optuna study on `digits-dcgan` (the real handwritten digits shipped with
   scikit-learn): a few trials on Ray, each a Ray Train run evaluated by FID every 2 epochs,
   weak ones pruned; trial 0 is the preset's default config;
2. every trial an MLflow run nested under the study's run (SQLite store in ./demo);
3. the best trial's best checkpoint (by FID) exported to ONNX, checked against torch,
   logged to MLflow and registered as a model version;
4. the Ray Serve endpoint started on localhost, and one real HTTP request whose PNG is saved;
then it says where everything is and how to look at it.

    python -m ganbench.demo [--trials 4] [--epochs 10] [--parallel 2] [--out demo]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path


def _say(msg: str) -> None:
    print(f"\n[demo {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> bytes:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8, help="trials in the study (default 8)")
    ap.add_argument("--epochs", type=int, default=10, help="training epochs per trial (default 10)")
    ap.add_argument("--parallel", type=int, default=2, help="trials at once (default 2)")
    ap.add_argument("--out", default="demo", help="folder for the MLflow and Optuna stores, runs, model, samples")
    ap.add_argument("--verbose", action="store_true",
                    help="show all of Ray's and the libraries' output (also GANBENCH_VERBOSE=1)")
    args = ap.parse_args(argv)
    from ganbench.ray_init import configure_logging

    configure_logging(args.verbose)  # ganbench's lines and everyone's warnings; Ray's logs stay in its folder
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    mlflow_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_uri
    storage = f"sqlite:///{out / 'optuna.db'}"
    os.chdir(out)  # the default artifact folder (./mlartifacts) lands beside the store

    from ganbench.errors import GanbenchError
    from ganbench.export import export_generator
    from serve.cli import start
    from tuning import TuneSpec, run_study

    t0 = time.perf_counter()
    try:
        _say(f"1/3 Optuna study 'demo' on digits-dcgan: {args.trials} trials x {args.epochs} epochs, "
             f"{args.parallel} at a time on Ray, FID every 2 epochs, median pruner")
        study = run_study(TuneSpec(
            preset="digits-dcgan", trials=args.trials, study="demo", storage=storage, parallel=args.parallel,
            workers=1, warmup=2, out=str(out / "runs"),
            overrides=(f"train.epochs={args.epochs}", "eval.every=2", "eval.n_gen=2000",
                       "tracking.experiment=ganbench-demo")))
        if study["best_checkpoint"] is None:
            raise GanbenchError(f"no trial of the study completed: {study['n_trials']}")

        _say("2/3 exporting the best generator to ONNX (checked against torch, registered in MLflow)")
        exported = export_generator(out / "model.onnx", study="demo", storage=storage)

        _say("3/3 starting the Ray Serve endpoint and asking it for 64 digits")
        url = start({"model": exported["onnx_path"]}, "127.0.0.1", _free_port())
        png = out / "endpoint_samples.png"
        png.write_bytes(_post(f"{url}/v1/sample", {"n": 64, "seed": 0, "format": "png"}))
        with urllib.request.urlopen(f"{url}/v1/model", timeout=30) as r:
            served = json.loads(r.read())
    except GanbenchError as e:
        print(f"[demo] error: {e}", file=sys.stderr)
        return 2
    finally:
        try:
            from ray import serve

            serve.shutdown()
        except Exception:
            pass

    wall = (time.perf_counter() - t0) / 60
    print(summary_text(study, exported, served, png, mlflow_uri, storage, wall), file=sys.stderr)
    print(json.dumps({"study": study, "export": exported, "endpoint_png": str(png), "minutes": round(wall, 2)},
                     default=str))
    return 0


def summary_text(study: dict, exported: dict, served: dict, png: Path, mlflow_uri: str, storage: str,
                 wall: float) -> str:
    """What the demo made, where it is, and the commands to look at it."""
    from ganbench.ray_init import session_logs
    from ganbench.tracking import client, ui_hint

    key = study["score_key"]
    exp_id = client(mlflow_uri).get_run(study["parent_run_id"]).info.experiment_id
    registered = exported.get("registered_model")
    serve_cmd = f"ganbench serve --model {exported['onnx_path']} --port 8000"
    if exported.get("alias"):  # the registry's best version, from the demo's store
        serve_cmd = (f"MLFLOW_TRACKING_URI={mlflow_uri} ganbench serve "
                     f"--model models:/{registered}@{exported['alias']} --port 8000")
    return f"""
ganbench demo: done in {wall:.1f} minutes.
  study          {study['study']} in {storage}: {study['n_trials']}
                 default config {key} = {_num(study['default_value'])}, best = {_num(study['best_value'])} (lower is better)
                 best params {study['best_params']}
  MLflow         {mlflow_uri} (experiment ganbench-demo; study run {study['parent_run_id']}, best trial run {study['best_run_id']})
  checkpoint     {study['best_checkpoint']}
  ONNX model     {exported['onnx_path']} (max |onnx - torch| = {exported['max_abs_diff']:.2e}; \
registered as {registered} v{exported.get('model_version')}{_alias_note(exported)})
  endpoint PNG   {png}  (served by {served.get('provider', 'onnxruntime')})
  Ray logs       {session_logs() or "n/a"}  (every Ray process's full output; `--verbose` shows it live)

look at it:
  {ui_hint(mlflow_uri, exp_id)}
  optuna-dashboard {storage}                                      # http://127.0.0.1:8080
  {serve_cmd}
  curl -s -X POST http://127.0.0.1:8000/v1/sample -H 'content-type: application/json' \\
       -d '{{"n": 16, "seed": 1, "format": "png"}}' -o digits.png
(run the commands from .venv/bin, or `source .venv/bin/activate` first)
"""


def _alias_note(exported: dict) -> str:
    if not exported.get("alias"):
        return ""
    return f", alias {exported['alias']} -> v{exported['alias_version']}"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


if __name__ == "__main__":
    sys.exit(main())
