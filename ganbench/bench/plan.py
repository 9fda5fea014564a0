"""Suite -> the runs it asks for: one RunConfig per (cell, seed), each validated before
anything starts (unknown preset or key, impossible budget: one ConfigError line).

Overrides apply in this order: the preset, the suite's `set`, the cell's `set`, the budget,
the command line's --set, then the protocol, the seed and tracking, so neither a cell nor
the command line can change how runs are scored.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import yaml

from ganbench import config as C
from ganbench.bench.suite import Cell, Protocol, Suite
from ganbench.errors import ConfigError

# Keys that belong to the suite: a cell or --set changing them would make its numbers incomparable.
PROTOCOL_SECTIONS = ("eval.", "final_eval.")
FREE_EVAL_KEYS = ("eval.fid_weights", "eval.cache_dir")  # where files are, not how runs are scored
SUITE_OWNED = ("train.seed", "tracking.run_name", "tracking.experiment")


@dataclass(frozen=True)
class Scoring:
    """What ranks the runs, and where each run keeps it."""

    metric: str  # the ranking number as logged: "fid300_digitscnn" or "final/fid10k_inception"
    final: bool  # True: read from the final evaluation, protocol in ganbench.final_eval.* tags
    train_metric: Optional[str]  # the per-epoch metric (the protocol's own, or its proxy); None if none
    protocol_hash: str


@dataclass(frozen=True)
class PlannedRun:
    cell: str
    seed: int
    cfg: C.RunConfig
    cell_hash: str  # the cell's resolved config without seed/tracking: a changed cell is a new cell

    @property
    def key(self) -> tuple[str, int]:
        return self.cell, self.seed


@dataclass(frozen=True)
class Plan:
    suite: Suite
    scoring: Scoring
    runs: tuple[PlannedRun, ...]  # fixed cells
    searches: tuple[tuple[Cell, C.RunConfig, tuple], ...]  # (cell, base config, applied overrides)
    tracking_uri: str
    out: str


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def metric_names(p: Protocol) -> tuple[str, Optional[str]]:
    """(ranking metric as logged, per-epoch metric or None)."""
    from ganbench.metrics.names import metric_name

    kind = p.metric if p.metric in ("fid", "kid") else None
    name = metric_name(kind, p.n_gen, p.backbone) if kind else p.metric
    if not p.final:
        return name, name
    train = metric_name(p.proxy.metric, p.proxy.n_gen, p.proxy.backbone) if p.proxy else None
    return f"final/{name}", train


def protocol_overrides(p: Protocol) -> dict:
    """The protocol as config sections: eval.* for during-training evaluations, final_eval.*
    for the one evaluation of the best checkpoint at the end."""
    kind = p.metric if p.metric in ("fid", "kid") else "fid"
    common = {"kid_subsets": p.kid_subsets, "kid_subset_size": p.kid_subset_size, "seed": p.seed,
              "real_split": p.real_split}
    if "resize" in _field_names(C.EvalConfig):
        common["resize"] = p.resize
    if not p.final:
        return {"eval": {**common, "every": p.every, "backbone": p.backbone, "n_gen": p.n_gen,
                         "n_real": p.n_real, "metric": kind}}
    ev = {**common, "every": 0}
    if p.proxy:
        ev.update(every=p.proxy.every, backbone=p.proxy.backbone, n_gen=p.proxy.n_gen, n_real=p.proxy.n_real,
                  metric=p.proxy.metric)
    final = {"backbone": p.backbone, "n_gen": p.n_gen, "n_real": p.n_real, "real_split": p.real_split}
    # The final evaluation's switch: `run: always` (always | gpu | never) in today's config.
    final.update({"run": "always"} if "run" in _field_names(getattr(C, "FinalEvalConfig", None)) else {"enabled": True})
    return {"eval": ev, "final_eval": final}


def _field_names(cls) -> set:
    import dataclasses

    return {f.name for f in dataclasses.fields(cls)} if cls is not None else set()


def _nested(pairs) -> dict:
    out: dict = {}
    for key, value in pairs:
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is not a section")
        node[parts[-1]] = value
    return out


def _check_owned(pairs, where: str) -> None:
    for key, _ in pairs:
        if key.startswith(PROTOCOL_SECTIONS) and key not in FREE_EVAL_KEYS:
            raise ConfigError(f"{where} sets {key}: how runs are scored belongs to the suite's protocol")
        if key in SUITE_OWNED:
            raise ConfigError(f"{where} sets {key}: the suite sets it for every run (seeds: ..., experiment: ...)")


def _budget(suite: Suite, cell: str, cfg: C.RunConfig) -> list[tuple[str, object]]:
    b, workers = suite.budget, suite.resources.workers
    epochs = b.epochs or cfg.train.epochs
    pairs: list[tuple[str, object]] = [("train.epochs", epochs)]
    if b.seconds:  # equal wall time: the epochs are an upper bound, the clock ends the run
        pairs.append(("train.max_seconds", float(b.seconds)))
    if b.images:
        per_step = cfg.data.batch_size * workers
        steps = b.images // (epochs * per_step)  # never more images than the budget
        if steps < 1:
            raise ConfigError(f"budget.images={b.images} is less than one step per epoch for cell {cell} "
                              f"({epochs} epochs x batch {cfg.data.batch_size} x {workers} worker(s) = "
                              f"{epochs * per_step} images at least)")
        pairs.append(("train.max_steps_per_epoch", steps))
    return pairs


def _merge(cfg: C.RunConfig, pairs, where: str) -> C.RunConfig:
    try:
        return C.merge(cfg, _nested(pairs))
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def cell_config(suite: Suite, cell: Cell, cli_pairs: tuple, tracking_uri: str) -> tuple[C.RunConfig, tuple]:
    """The cell's config for seed 0 and the overrides applied on top of its preset."""
    from ganbench.presets import get_preset

    try:
        cfg = get_preset(cell.preset)
    except ConfigError as e:
        raise ConfigError(f"cell {cell.name}: {e}") from None
    _check_owned(suite.set, "the suite's set")
    _check_owned(cell.set, f"cell {cell.name}")
    _check_owned(cli_pairs, "--set")
    cfg = _merge(cfg, suite.set + cell.set, f"cell {cell.name}")
    budget = tuple(_budget(suite, cell.name, cfg))
    applied = suite.set + cell.set + budget + cli_pairs
    cfg = _merge(cfg, budget + cli_pairs, f"cell {cell.name}")
    try:
        cfg = C.merge(cfg, protocol_overrides(suite.protocol))
    except ConfigError as e:
        raise ConfigError(f"protocol: {e}") from None
    cfg = C.with_updates(cfg, tracking={"experiment": suite.experiment, "tracking_uri": tracking_uri})
    _validate(cfg, cell.name, suite)
    return cfg, applied


def _validate(cfg: C.RunConfig, cell: str, suite: Suite) -> None:
    """What train() would refuse at its start, refused now for every cell at once."""
    from ganbench.train import validate as validate_run

    try:
        # gpu=False: the driver may have no GPU while the cluster does; Ray checks that.
        validate_run(cfg, 0 if suite.resources.workers == 1 else suite.resources.workers, False)
        if cfg.eval.every:
            from ganbench.metrics import check_eval_config

            check_eval_config(cfg.eval)
    except ConfigError as e:
        raise ConfigError(f"cell {cell}: {e}") from None


def cell_hash(cfg: C.RunConfig, extra: str = "") -> str:
    d = C.to_dict(C.with_updates(cfg, train={"seed": 0}))
    d.pop("tracking", None)
    return _short_hash(yaml.safe_dump(d, sort_keys=True) + extra)


def make_plan(suite: Suite, overrides: tuple = (), out: str = "runs") -> Plan:
    """Every run's config, validated. `overrides` are --set strings for every cell."""
    from pathlib import Path

    from ganbench import storage
    from ganbench import tracking as trk

    cli = tuple(_flatten_pairs(C.parse_overrides(list(overrides))))
    uri = trk.resolve_tracking_uri(None)  # absolute: Ray tasks run in other working directories
    if suite.resources.workers == 1 and storage.is_uri(out):
        raise ConfigError(f"--out {out}: single-worker runs write checkpoints to a folder (a shared mount on a "
                          f"cluster); object-store URIs need resources.workers >= 2")
    out = out if storage.is_uri(out) else str(Path(out).expanduser().resolve())
    metric, train_metric = metric_names(suite.protocol)
    runs, searches = [], []
    for cell in suite.cells:
        cfg, applied = cell_config(suite, cell, cli, uri)
        if cell.search is not None:
            if train_metric is None:
                raise ConfigError(f"cell {cell.name}: a search needs a during-training metric to optimise: "
                                  f"give protocol.proxy (or final: false)")
            searches.append((cell, cfg, applied))
            continue
        h = cell_hash(cfg)
        for seed in suite.seeds:
            runs.append(PlannedRun(cell.name, seed, seeded(cfg, suite, cell.name, seed), h))
    from dataclasses import asdict

    scoring = Scoring(metric=metric, final=suite.protocol.final, train_metric=train_metric,
                      protocol_hash=_short_hash(yaml.safe_dump(asdict(suite.protocol), sort_keys=True)))
    return Plan(suite, scoring, tuple(runs), tuple(searches), uri, out)


def seeded(cfg: C.RunConfig, suite: Suite, cell: str, seed: int) -> C.RunConfig:
    return C.with_updates(cfg, train={"seed": seed}, tracking={"run_name": f"{suite.name}-{cell}-s{seed}"})


def _flatten_pairs(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.extend(_flatten_pairs(v, f"{prefix}{k}."))
        else:
            out.append((f"{prefix}{k}", v))
    return out

