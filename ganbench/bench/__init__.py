"""`ganbench bench`: comparison suites (cells x seeds) run on Ray, ranked with intervals.

    suite.py        Suite / Cell / Protocol / Budget / Resources (frozen), YAML parsing
    builtin.py      the built-in suites (smoke, losses-mnist, seeds-mnist, art-64)
    plan.py         suite -> one validated RunConfig per (cell, seed)
    runner.py       run_suite: resume from MLflow, Ray tasks (ganbench/ray_runs.py), report
    search.py       searched cells through the `ganbench tune` machinery
    mlflow_suite.py the suite's parent run, its nested runs, stale runs, records
    records.py      RunRecord: one run as the report needs it, read from MLflow
    stats.py        intervals, ranks with ties, Spearman, expected best of k trials
    leaderboard.py  records -> Leaderboard (refuses mixed metrics/protocols)
    report.py, plots.py  Markdown, CSV, self-contained HTML, PNGs
    compare.py      `ganbench compare`: the same report from existing runs
    cli.py          add_bench_parser(sub)

Names resolve lazily, so `ganbench --help` does not import torch or MLflow for this.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Suite": "suite", "Cell": "suite", "Protocol": "suite", "Budget": "suite", "Resources": "suite",
    "load_suite": "suite", "parse_suite": "suite", "SUITES": "builtin", "make_plan": "plan",
    "run_suite": "runner", "BenchOptions": "runner", "compare": "compare", "add_bench_parser": "cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ganbench.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ganbench.bench.{_EXPORTS[name]}"), name)
