"""The `ganbench` command. Each subcommand is a small function; the work is in the library.

stdout carries one thing: the final JSON line of `train`/`sample` (machine-readable, for
scripts and `ray job submit` logs). Progress and logs go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

from ganbench.errors import GanbenchError
from ganbench.sample_cli import add_sample_parser

EPILOG_TRAIN = textwrap.dedent(
    """\
    examples:
      ganbench train --preset debug                       # seconds on CPU
      ganbench train --preset digits-dcgan --workers 2    # 2 Ray Train workers (DDP over gloo)
      ganbench train --preset mnist-dcgan --set data.root=~/data/mnist --set train.epochs=5
      ganbench train --preset art-lsgan-64 --set data.name=folder:~/art --gpu --workers 4
      ganbench train --resume runs/debug-.../checkpoint_epoch_0002 --set train.epochs=4
      ganbench train --preset mnist-dcgan --config mine.yaml --set train.epochs=5 --print-config

    config layers: preset, then --config YAML (partial is fine), then --set; --print-config shows the result.
    config keys (for --set and YAML): see `ganbench presets --show NAME`.
    MLflow: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db with artifacts in ./mlartifacts.
    The last stdout line is JSON: run_id, best_checkpoint, last_checkpoint, final_metrics.
    """
)


TUNE_EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench tune --preset digits-dcgan --trials 12 --parallel 2
      ganbench tune --preset digits-dcgan --trials 20            # same study: runs 8 more
      ganbench tune --preset mnist-dcgan --storage postgresql://optuna:pw@db/optuna --workers 4 --gpu
      ganbench tune --preset digits-dcgan --space lucic --sampler tpe --trials 30
      ganbench tune --space default --print-space > my-space.yaml     # edit, then --space my-space.yaml

    several drivers on one --storage and --study share the trials (start the same command on each machine).

    look at it:   optuna-dashboard sqlite:///optuna.db      mlflow ui --backend-store-uri sqlite:///mlflow.db
    The last stdout line is JSON: study, storage, best_params, best_value, best_run_id,
    best_checkpoint, default_value, n_trials (by state).
    """
)


def _build_config(args):
    """Layers, each over the one before: the base (--preset, else the checkpoint being resumed,
    else the YAML's own `preset:` when it names one, else the defaults; `debug` with nothing
    given), then the YAML file (partial is fine), then each --set."""
    from ganbench import config as C

    data = _read_yaml(args.config) if args.config else {}
    cfg = _base_config(args, data)
    if data:
        cfg = C.merge(cfg, data)  # an unknown key fails here, naming it
    if args.set:
        cfg = C.merge(cfg, C.parse_overrides(args.set))
    return cfg


def _read_yaml(path: str) -> dict:
    from pathlib import Path

    import yaml

    from ganbench.errors import ConfigError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of config sections, got {type(data).__name__}")
    return data


def _base_config(args, data: dict):
    from ganbench.config import RunConfig
    from ganbench.errors import ConfigError
    from ganbench.presets import PRESETS, get_preset

    label = data.get("preset")
    if args.preset:
        if label and label != args.preset and label in PRESETS.names():
            # Two presets named: whichever we picked, the other would be silently ignored.
            raise ConfigError(f"--preset {args.preset} but {args.config} says preset: {label}; drop one of them")
        return get_preset(args.preset)
    if args.resume:
        from ganbench.checkpoint import load_checkpoint

        return load_checkpoint(args.resume)[0]
    if label in PRESETS.names():
        return get_preset(label)
    return RunConfig() if args.config else get_preset("debug")


def cmd_train(args) -> int:
    from ganbench.config import to_yaml

    cfg = _build_config(args)
    if args.print_config:  # the resolved config, nothing trained: check a layering, keep it as a file
        from ganbench.redact import redact_fields

        sys.stdout.write(to_yaml(redact_fields(cfg)))  # a tracking URI's password stays off the screen
        return 0
    if args.resume:
        from ganbench.train.resume_check import check_resume_fits

        check_resume_fits(cfg, args.resume, explicit=bool(args.preset or args.config))
    from ganbench.train import train

    result = train(cfg, workers=args.workers, gpu=args.gpu, out=args.out, resume=args.resume,
                   max_failures=args.max_failures)
    _print_json(result.to_dict())
    return 0


def _print_json(obj) -> None:
    """The stdout JSON line, with any URL password masked (it lands in job logs)."""
    from ganbench.redact import redact_obj

    print(json.dumps(redact_obj(json.loads(json.dumps(obj, default=str)))), flush=True)


def cmd_tune(args) -> int:
    from tuning import TuneSpec, run_study

    if args.print_space:
        from tuning.space import load_space, to_yaml

        sys.stdout.write(to_yaml(load_space(args.space, args.sampler)))
        return 0
    spec = TuneSpec(preset=args.preset, trials=args.trials, study=args.study, storage=args.storage,
                    parallel=args.parallel, timeout=args.timeout, workers=args.workers, gpu=args.gpu,
                    pruner=args.pruner, warmup=args.warmup, seed=args.seed, out=args.out,
                    overrides=tuple(args.set), space=args.space, sampler=args.sampler, heartbeat=args.heartbeat)
    summary = run_study(spec)
    _print_json(summary)
    return 0


def cmd_tracking_sync(args) -> int:
    from ganbench.tracking_spool import sync

    try:
        summaries = sync(args.spool, args.tracking_uri)
    except GanbenchError:
        raise
    except Exception as e:  # the server is still down, or the run is not in that store
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise GanbenchError(f"could not upload the spool: {type(e).__name__}: {first}. Nothing was lost: "
                            f"run this again once the tracking server answers (uploads are idempotent)") from None
    for summary in summaries:
        _print_json(summary)
    return 0


def cmd_presets(args) -> int:
    from ganbench.config import to_yaml
    from ganbench.data import DATASETS
    from ganbench.losses import LOSSES
    from ganbench.models import MODELS
    from ganbench.models.arch import ARCHS
    from ganbench.presets import NOTES, PRESETS, get_preset, preset_groups

    if args.show:
        if args.show in NOTES:
            print(f"# {NOTES[args.show]}")
        print(to_yaml(get_preset(args.show)), end="")
        return 0
    width = max(len(n) for n in PRESETS.names())
    print("presets (ganbench train --preset NAME):")
    for title, names in preset_groups():
        print(f"\n {title}:")
        for name in names:
            print(f"  {name:<{width}}  {PRESETS.help(name)}")
    for title, reg in (("models (model.name)", MODELS), ("layouts (model.arch; or model.g_layers / d_layers)", ARCHS),
                       ("losses (loss.name)", LOSSES), ("datasets (data.name)", DATASETS)):
        print(f"\n{title}:")
        for name in reg.names():
            print(f"  {name:<{width}}  {reg.help(name)}")
    print(f"  {'folder:PATH':<{width}}  your image folder; class subfolders give labels")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganbench",
        description="Train, compare and ship GANs: DDP under Ray Train, DALI data, MLflow tracking.",
        epilog="Run `ganbench COMMAND --help` for each command's options.",
    )
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show everything: debug logs, other libraries' INFO lines and all of Ray's output "
                        "(also GANBENCH_VERBOSE=1; by default Ray's full logs stay in its session folder)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN (a preset, a YAML config, or resume a checkpoint)",
                       description="Train a GAN. Without --preset/--config it trains the `debug` preset.",
                       epilog=EPILOG_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--preset", help="a named preset (list them with `ganbench presets`)")
    t.add_argument("--config", metavar="FILE.yaml", help="a full or partial RunConfig in YAML, applied over "
                   "--preset (or the checkpoint's config, or the YAML's own `preset:`); --set applies last")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set optim_g.lr=1e-4 (repeatable)")
    t.add_argument("--workers", type=int, default=0,
                   help="Ray Train workers, each a DDP rank (0 = in this process without Ray; default 0)")
    t.add_argument("--gpu", action="store_true", help="one GPU per worker, NCCL, bf16 autocast (train.amp)")
    t.add_argument("--out", default="runs", help="where run folders and checkpoints go (default ./runs); "
                   "on a cluster, a shared path or an object-store URI such as s3://bucket/runs (with --workers >= 1)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint folder (its config is "
                   "the base unless --preset is given; --config and --set still apply, e.g. more epochs)")
    t.add_argument("--max-failures", type=int, default=0,
                   help="times Ray Train restarts failed workers from the last checkpoint (default 0)")
    t.add_argument("--print-config", action="store_true",
                   help="print the resolved config (YAML) on stdout and exit without training")
    t.set_defaults(func=cmd_train)

    add_sample_parser(sub)

    tu = sub.add_parser("tune", help="Optuna study over a preset's hyperparameters, against FID, trials on Ray",
                        description="Sample lr_g, lr_d, beta1, beta2, batch size, the loss family "
                                    "(and n_critic / GP weight for WGAN-GP); each trial is a Ray Train run "
                                    "evaluated every eval.every epochs; bad trials are pruned early. "
                                    "Trial 0 is the preset's own config (the baseline).",
                        epilog=TUNE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    tu.add_argument("--preset", default="digits-dcgan", help="preset to start from (default digits-dcgan)")
    tu.add_argument("--trials", type=int, default=10,
                    help="finished trials the study should reach (an existing study runs only the rest)")
    tu.add_argument("--study", help="study name (default <preset>-tune); the same name resumes")
    tu.add_argument("--storage", help="Optuna RDB URL (default $GANBENCH_OPTUNA_STORAGE or sqlite:///./optuna.db)")
    tu.add_argument("--parallel", type=int, default=1, help="trials at once (default 1)")
    tu.add_argument("--timeout", type=float, default=None, help="stop starting trials after S seconds")
    tu.add_argument("--workers", type=int, default=1,
                    help="Ray Train workers per trial (default 1; 0 = each trial in this process, no Ray)")
    tu.add_argument("--gpu", action="store_true", help="one GPU per worker")
    tu.add_argument("--pruner", default="median", choices=("median", "hyperband", "none"))
    tu.add_argument("--warmup", type=int, default=1, help="evaluations before a trial may be pruned (FID is noisy)")
    tu.add_argument("--seed", type=int, default=0, help="sampler seed")
    tu.add_argument("--out", default="runs", help="where trial run folders go")
    tu.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override the preset for every trial, e.g. --set train.epochs=10 --set eval.every=2")
    tu.add_argument("--space", metavar="NAME|FILE.yaml", default="default",
                    help="search space and sampler: a built-in (default, lucic) or a YAML file; "
                         "see `--print-space` for the format")
    tu.add_argument("--sampler", choices=("tpe", "random", "grid", "cmaes"),
                    help="override the space's sampler (grid needs `choices` for every parameter)")
    tu.add_argument("--print-space", action="store_true", help="print the space as YAML and exit")
    tu.add_argument("--heartbeat", type=int, default=30, metavar="S",
                    help="seconds between this driver's heartbeats; a running trial whose driver misses 3 "
                         "is failed and retried (default 30). Other live drivers' trials are never touched")
    tu.set_defaults(func=cmd_tune)

    from ganbench.bench.cli import add_bench_parser
    from ganbench.export.cli import add_export_parser
    from ganbench.metrics.cli import add_fid_parser
    from serve.cli import add_serve_parser

    add_fid_parser(sub)
    add_export_parser(sub)
    add_serve_parser(sub)
    add_bench_parser(sub)

    ts = sub.add_parser(
        "tracking-sync", help="upload MLflow records spooled while the tracking server was down",
        description="When the MLflow server stops answering mid-run, training goes on and what could not "
                    "be logged is saved under <out>/mlflow-spool/<run_id>/. This replays it into the same "
                    "run (metrics already on the server are skipped, so running it twice is harmless).",
        epilog="example: ganbench tracking-sync runs/mlflow-spool --tracking-uri http://mlflow:5000")
    ts.add_argument("spool", help="the spool folder (or one run's folder inside it)")
    ts.add_argument("--tracking-uri", help="upload here instead of the URI the run was started with")
    ts.set_defaults(func=cmd_tracking_sync)

    pr = sub.add_parser("presets", help="list presets, models, losses and datasets",
                        description="List what can be trained; --show NAME prints a preset's full config.")
    pr.add_argument("--show", metavar="NAME", help="print one preset's resolved config as YAML")
    pr.set_defaults(func=cmd_presets)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ganbench.ray_init import configure_logging

    configure_logging(args.verbose)  # ours at INFO, libraries' warnings; --verbose: everything
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    _guard_secrets(args)
    try:
        return args.func(args)
    except GanbenchError as e:
        print(f"ganbench {args.command}: error: {_redacted(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: keep the traceback, but never a URL's password in it
        import traceback

        from ganbench.redact import redact_text

        sys.stderr.write(redact_text(traceback.format_exc()))
        return 1


def _guard_secrets(args) -> None:
    """Last line of defence: every URL given on the command line or in the environment has
    its password masked in our error lines and log records (modules redact too)."""
    from ganbench.redact import install_log_filter, remember

    given = [v for v in vars(args).values() if isinstance(v, str)]
    given += [x for v in vars(args).values() if isinstance(v, list) for x in v if isinstance(x, str)]
    given += [x.split("=", 1)[1] for x in given if "=" in x and "://" in x.split("=", 1)[1]]  # --set k=URL
    remember(*given, os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("GANBENCH_OPTUNA_STORAGE"))
    install_log_filter()


def _redacted(e: Exception) -> str:
    from ganbench.redact import redact_text

    return redact_text(str(e))


if __name__ == "__main__":
    sys.exit(main())
