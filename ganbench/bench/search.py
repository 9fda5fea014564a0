"""A searched cell (Lucic et al.): an Optuna study of `trials` trials through the `ganbench
tune` machinery (tuning.run_study), then the best setting re-run with `seeds` seeds like a
fixed cell.

The study is named for the suite, the cell and the cell's definition, so a resumed suite
finds its finished trials and only runs the missing ones. The study's MLflow parent run is
nested under the suite's run.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import yaml

from ganbench import config as C
from ganbench.bench.plan import _flatten_pairs, cell_hash, protocol_overrides
from ganbench.bench.suite import Cell, Suite
from ganbench.errors import ConfigError
from ganbench.tracking_store import TrackingHandle

log = logging.getLogger("ganbench.bench")


def search_hash(cfg: C.RunConfig, cell: Cell) -> str:
    return cell_hash(cfg, extra=repr(dataclasses.asdict(cell.search)))


def check_search(cell: Cell) -> None:
    """The space must load now, not after the other cells ran."""
    if isinstance(cell.search.space, str):
        from tuning import space as tspace

        try:
            tspace.load_space(cell.search.space, cell.search.sampler or None)
        except ConfigError as e:
            raise ConfigError(f"cell {cell.name}: search.space: {e}") from None
    elif isinstance(cell.search.space, dict):
        from tuning import space as tspace

        try:
            tspace.parse_space(yaml.safe_dump(cell.search.space), f"cell {cell.name} search.space")
        except ConfigError as e:
            raise ConfigError(f"cell {cell.name}: search.space: {e}") from None


def _as_set(key: str, value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return f"{key}={text.removesuffix('...').strip()}"


def _space_ref(suite: Suite, cell: Cell, folder: Path):
    """tuning reads a space by name or file: an inline mapping is written beside the report."""
    space = cell.search.space
    if isinstance(space, dict):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"space-{cell.name}.yaml"
        path.write_text(yaml.safe_dump(space, sort_keys=False))
        return str(path)
    return space


def run_search(suite: Suite, cell: Cell, cfg: C.RunConfig, applied: tuple, parent: TrackingHandle, out: str,
               parallel, folder: Path) -> C.RunConfig:
    """Run (or resume) the cell's study; returns the cell's config with the best trial's setting."""
    import optuna

    from ganbench import tracking as trk
    from tuning import TuneSpec, run_study
    from tuning import space as tspace
    from tuning.study import base_config

    h = search_hash(cfg, cell)
    # What the suite decided for this cell (its set, budget, protocol, MLflow), as --set lines.
    pairs = [*applied, *_flatten_pairs(protocol_overrides(suite.protocol)),
             ("tracking.experiment", cfg.tracking.experiment), ("tracking.tracking_uri", cfg.tracking.tracking_uri)]
    workers = cell.search.workers
    spec = TuneSpec(preset=cell.preset, trials=cell.search.trials, study=f"bench-{suite.name}-{cell.name}-{h}",
                    parallel=(parallel or 1) if workers else 1, workers=workers, pruner="none", out=out,
                    overrides=tuple(_as_set(k, v) for k, v in pairs), space=_space_ref(suite, cell, folder),
                    sampler=cell.search.sampler or None)
    summary = run_study(spec)
    c = trk.client(parent.tracking_uri)
    for k, v in {"mlflow.parentRunId": parent.run_id, "ganbench.suite": suite.name, "ganbench.cell": cell.name,
                 "ganbench.search_hash": h}.items():
        c.set_tag(summary["parent_run_id"], k, v)
    if not summary.get("best_params") and summary.get("best_value") is None:
        raise ConfigError(f"cell {cell.name}: the search finished no trial; see study {summary['study']}")
    # The best trial's config, derived exactly as tuning derived it.
    space = tspace.load_space(spec.space, spec.sampler)
    base = base_config(spec, space)
    space = tspace.fit_to(space, base)
    best = C.merge(base, tspace.suggest(optuna.trial.FixedTrial(summary["best_params"] or {}), space, base))
    log.info("cell %s: best of %d trials %s=%.4g with %s", cell.name, cell.search.trials, summary.get("score_key"),
             summary["best_value"], summary["best_params"])
    return best
