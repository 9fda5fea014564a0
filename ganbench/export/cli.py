"""`ganbench export`: wired into ganbench/cli.py with `add_export_parser(subparsers)`."""
from __future__ import annotations

import argparse
import json
import textwrap

EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench export --checkpoint runs/debug-.../checkpoint_epoch_0002 --out model.onnx
      ganbench export --run-id 3f2a... --out model.onnx                 # the run's best checkpoint
      ganbench export --study digits-dcgan-tune --out best.onnx         # the study's best trial
      ganbench serve --model model.onnx
      ganbench serve --model models:/ganbench-debug@champion            # the registry's best version

    MLflow: the generator is logged to its run as an MLflow model (onnx flavour, with a
    signature and an input example) and registered as a version of ganbench-<preset>. The
    alias (--alias, default champion) moves to the new version when its recorded best score
    is lower than the champion's under the same metric name (e.g. fid5k_digitscnn), or when
    no version holds it. Then:
      mlflow.pyfunc.load_model("models:/ganbench-debug@champion").predict({"z": z})  # z float32 (N, latent)
      mlflow models serve -m models:/ganbench-debug@champion --env-manager local -p 5001

    The file holds its metadata (latent size, image shape, classes, run id, FID and its
    protocol): python -c "from ganbench.export import read_metadata; print(read_metadata('model.onnx'))"
    MLflow: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db. The last stdout line is JSON:
    onnx_path, max_abs_diff, run_id, and when registered: registered_model, model_version,
    model_uri, alias, alias_version, alias_moved, alias_reason.
    """
)


def cmd_export(args) -> int:
    from ganbench.export import export_generator

    result = export_generator(args.out, checkpoint=args.checkpoint, run_id=args.run_id, study=args.study,
                              storage=args.storage, tolerance=args.tolerance, model_name=args.model_name,
                              log_to_mlflow=not args.no_mlflow, alias=args.alias or None)
    print(json.dumps(result, default=str), flush=True)
    return 0


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="export a generator to one ONNX file, checked against torch, logged to MLflow",
        description="Export a generator (eval mode, dynamic batch; conditional models take int64 labels) "
                    "to a single self-contained ONNX file. It is checked with onnx.checker and against "
                    "torch with onnxruntime on the same noise, then logged to its MLflow run as an "
                    "MLflow model (onnx flavour), registered as a model version, and given the "
                    "--alias when it is the best version so far.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint folder (or its state.pt)")
    src.add_argument("--run-id", help="MLflow run id: exports its best checkpoint (tag ganbench.best_checkpoint)")
    src.add_argument("--study", help="Optuna study name: exports its best trial's best checkpoint")
    p.add_argument("--storage", help="Optuna storage URL for --study (default $GANBENCH_OPTUNA_STORAGE or "
                                     "sqlite:///./optuna.db)")
    p.add_argument("--out", required=True, help="the ONNX file to write (FILE.onnx)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |onnxruntime - torch| on the same noise (default 1e-4)")
    p.add_argument("--model-name", help="MLflow registered model name (default ganbench-<preset>)")
    p.add_argument("--alias", default="champion",
                   help="registry alias to move to this version when it scores better (default champion; "
                        "'' leaves aliases alone)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log or register the file in MLflow")
    p.set_defaults(func=cmd_export)
    return p
