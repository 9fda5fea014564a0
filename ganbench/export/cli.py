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

    The file holds its metadata (latent size, image shape, classes, run id, FID and its
    protocol): python -c "from ganbench.export import read_metadata; print(read_metadata('model.onnx'))"
    MLflow: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db. The last stdout line is JSON:
    onnx_path, max_abs_diff, run_id, and registered_model/model_version when registered.
    """
)


def cmd_export(args) -> int:
    from ganbench.export import export_generator

    result = export_generator(args.out, checkpoint=args.checkpoint, run_id=args.run_id, study=args.study,
                              storage=args.storage, tolerance=args.tolerance, model_name=args.model_name,
                              log_to_mlflow=not args.no_mlflow)
    print(json.dumps(result, default=str), flush=True)
    return 0


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="export a generator to one ONNX file, checked against torch, logged to MLflow",
        description="Export a generator (eval mode, dynamic batch; conditional models take int64 labels) "
                    "to a single self-contained ONNX file. It is checked with onnx.checker and against "
                    "torch with onnxruntime on the same noise, then logged to its MLflow run as "
                    "onnx/model.onnx and registered as a model version.",
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
    p.add_argument("--no-mlflow", action="store_true", help="do not log or register the file in MLflow")
    p.set_defaults(func=cmd_export)
    return p
