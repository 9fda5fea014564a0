"""`ganbench bench` and `ganbench compare`, wired into ganbench/cli.py by add_bench_parser(sub).
Logs go to stderr; the last stdout line is JSON."""
from __future__ import annotations

import argparse
import json
import textwrap
from typing import Optional

BENCH_EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench bench --list                                   # the built-in suites
      ganbench bench smoke                                    # 2 cells x 2 seeds on digits, seconds per run
      ganbench bench losses-mnist --set data.root=~/mnist --set data.split=test --parallel 2
      ganbench bench my-suite.yaml --gpu                      # one GPU per run, spread over the Ray cluster
      ganbench bench --show smoke > my-suite.yaml             # start a suite of your own from a built-in one

    The same command again resumes: finished runs (found in MLflow) are skipped, failed ones rerun.
    Report: <out>/bench/<suite>/leaderboard.{md,csv,html} + PNGs, also logged to the suite's MLflow run.
    `protocol: {..., also: [class_share_min, class_share_max]}` in the suite adds columns (mean and std
    per cell) for other metrics the same evaluation logs: shown, never ranked (see `compare --also`).
    The last stdout line is JSON: suite, parent_run_id, metric, ran, failed, skipped, errors, report.
    """
)

COMPARE_EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench compare 3f2a... 9c1b...            # training runs (each its own cell, or its ganbench.cell tag's)
      ganbench compare SUITE_PARENT_RUN_ID        # a suite's report again (or with --metric / --target)
      ganbench compare STUDY_PARENT_RUN_ID        # a study's trials as one cell, with the budget curve
      ganbench compare SUITE_PARENT_RUN_ID --also class_share_min,class_share_max,pr5k3_mnistcnn_precision

    Runs scored by different metrics or protocols are refused, naming what differs.
    --also: metrics shown per cell as mean and std beside the ranking metric, never ranked. A base
    name (letters and '_': class_share_min) gets the ranking metric's count and backbone
    (fid5k_mnistcnn -> class_share_min5k_mnistcnn; final/fid10k_inception ->
    final/class_share_min10k_inception); a name with a digit or '/' is taken as is. Each is read
    at the evaluation that gave the ranking value; a run that did not log it leaves it blank.
    Without --also a suite's run shows its suite's protocol.also.
    """
)


def cmd_bench(args) -> int:
    from ganbench.bench.builtin import SUITES
    from ganbench.errors import ConfigError

    if args.list:
        width = max(len(n) for n in SUITES.names())
        for name in SUITES.names():
            print(f"{name:<{width}}  {SUITES.help(name)}")
        return 0
    if args.show:
        print(SUITES.get(args.show), end="")
        return 0
    if not args.suite:
        raise ConfigError("give a suite: a built-in name (ganbench bench --list) or a suite .yaml file")
    from ganbench.bench.runner import BenchOptions, run_suite
    from ganbench.bench.suite import load_suite

    suite = load_suite(args.suite)
    summary = run_suite(suite, BenchOptions(overrides=tuple(args.set), out=args.out, parallel=args.parallel,
                                            gpus=1.0 if args.gpu else None, cpus=args.cpus, dry_run=args.dry_run))
    print(json.dumps(summary, default=str), flush=True)
    return 0


def _also_arg(values: Optional[list[str]]) -> Optional[tuple[str, ...]]:
    """--also a,b --also c -> ('a', 'b', 'c'); None when not given (a suite run's own then)."""
    if values is None:
        return None
    from ganbench.bench.suite import parse_also

    return parse_also([n for v in values for n in v.split(",")], "--also")


def cmd_compare(args) -> int:
    from ganbench.bench.compare import compare

    summary = compare(args.runs, out=args.out, metric=args.metric, target=args.target, also=_also_arg(args.also))
    print(json.dumps(summary, default=str), flush=True)
    return 0


def add_bench_parser(sub) -> None:
    b = sub.add_parser("bench", help="run a comparison suite (cells x seeds) on Ray and publish a leaderboard",
                       description="Run every (cell, seed) of a suite as a Ray task nested under one MLflow run, "
                                   "then rank the cells by the protocol's metric with 95% intervals over seeds.",
                       epilog=BENCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("suite", nargs="?", help="a built-in suite name or a suite .yaml file")
    b.add_argument("--list", action="store_true", help="list the built-in suites")
    b.add_argument("--show", metavar="NAME", help="print a built-in suite's YAML")
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every cell, e.g. --set data.root=~/mnist (not the protocol's eval keys)")
    b.add_argument("--parallel", type=int, default=None,
                   help="runs in flight at once (default: as many as the Ray cluster's resources allow)")
    b.add_argument("--gpu", action="store_true", help="one GPU per run (per worker), whatever the suite says")
    b.add_argument("--cpus", type=float, default=None, help="CPUs per run (per worker), whatever the suite says")
    b.add_argument("--out", default="runs", help="run folders; the report goes to <out>/bench/<suite>/ (default ./runs)")
    b.add_argument("--dry-run", action="store_true", help="check the suite and print its plan; start nothing")
    b.set_defaults(func=cmd_bench)

    c = sub.add_parser("compare", help="the bench report from existing MLflow runs, studies or suites",
                       description="Build the leaderboard of `ganbench bench` from runs already in MLflow.",
                       epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("runs", nargs="+", metavar="RUN_ID", help="MLflow run ids: runs, a study's or a suite's parent run")
    c.add_argument("--metric", help="rank by this metric (default: the final metric, else the run's selection metric)")
    c.add_argument("--target", type=float, default=None, help="report the time to reach this per-epoch score")
    c.add_argument("--also", action="append", default=None, metavar="NAME[,NAME]",
                   help="also show these metrics per cell (mean and std), not ranked: base names such as "
                        "class_share_min get the ranking metric's count and backbone; full names are kept "
                        "(default: a suite run's protocol.also, else none)")
    c.add_argument("--out", default="runs/compare", help="where the report goes (default ./runs/compare)")
    c.set_defaults(func=cmd_compare)
