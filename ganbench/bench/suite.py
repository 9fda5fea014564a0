"""A suite: what `ganbench bench` compares, as small frozen dataclasses parsed from YAML.

    name: smoke
    protocol: {metric: fid, backbone: digitscnn, n_gen: 500, final: false, every: 1,
               also: [class_share_min, class_share_max]}   # shown beside the ranking metric, not ranked
    budget: {epochs: 2}              # or {images: 20000, epochs: 4}
    seeds: 2                         # or [0, 7, 42]
    resources: {workers: 1, cpus: 1, gpus: 0}
    cells:
      - {name: bce, preset: debug}
      - {name: lsgan, preset: debug, set: {loss.name: lsgan}}
      - {name: tuned, preset: debug, search: {trials: 8, seeds: 2}}

Parsing checks shape and types only; whether a cell's preset and keys exist is checked when
the suite is planned into run configs (plan.py), before anything starts.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ganbench.errors import ConfigError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # goes into run names, tags and folder names


@dataclass(frozen=True)
class Proxy:
    """A cheap evaluation during training (eval.*) next to a final protocol: it picks the best
    checkpoint, draws the curves and gives the time to a target."""

    every: int = 1
    backbone: str = "auto"
    n_gen: int = 2000
    n_real: int = 0
    metric: str = "fid"  # fid | kid


@dataclass(frozen=True)
class Protocol:
    """How every run of the suite is scored. The numbers of two suites compare only when
    their protocols match; the report refuses to rank runs whose recorded protocols differ.

    `also: [class_share_min, pr5k3_mnistcnn_precision]` (YAML only, parsed into Suite.also):
    metrics the same evaluation logs, shown per cell as mean ± std beside the ranking metric,
    never ranked. A base name (letters and '_' only) gets the ranking metric's count and
    backbone: class_share_min -> class_share_min5k_mnistcnn when ranking by fid5k_mnistcnn,
    final/class_share_min10k_inception when ranking by final/fid10k_inception; a name with a
    digit or '/' is taken as is. It lives on Suite, not here, because it changes no number:
    the protocol's hash (plan.py) stays that of the runs already finished."""

    metric: str = "fid"  # fid | kid, or a full metric name this protocol produces (e.g. pr10k3_inception_precision)
    backbone: str = "inception"
    n_gen: int = 10000
    n_real: int = 10000
    real_split: str = ""  # "" = the training split
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    seed: int = 0
    resize: str = "bilinear"  # to the backbone's input size: bilinear (pytorch-fid) | pil-bicubic (clean-fid)
    final: bool = True  # True: the best checkpoint is evaluated once at the end (final_eval.*)
    every: int = 1  # final=False: evaluate every K epochs during training (eval.*); the last one ranks
    proxy: Optional[Proxy] = None  # final=True only: a during-training evaluation as well


@dataclass(frozen=True)
class Budget:
    """Per run. Epochs, or images (split into `epochs` equal parts: train.max_steps_per_epoch)."""

    epochs: int = 0  # 0: the preset's own train.epochs
    images: int = 0  # 0: whole epochs
    seconds: float = 0  # 0: no time limit; else train.max_seconds (the run ends at the first epoch end past it)


@dataclass(frozen=True)
class Resources:
    """Per run. workers=1 runs train() inside one Ray task (no TorchTrainer: ~no fixed cost);
    workers>=2 is Ray Train DDP started from the task."""

    workers: int = 1
    cpus: float = 1
    gpus: float = 0


@dataclass(frozen=True)
class Search:
    """Lucic et al.'s design: `trials` trials of an Optuna study (the `ganbench tune`
    machinery), then the best setting re-run with `seeds` seeds like any other cell."""

    trials: int = 8
    seeds: int = 0  # 0: the suite's seeds
    space: Optional[Any] = None  # a tuning space: built-in name, YAML file, or the mapping itself; None: default
    sampler: str = ""  # "" = the space's own (tpe | random | grid | cmaes)
    workers: int = 0  # 0: trials one at a time in the driver (no Ray Train start-up); >= 1: Ray Train per trial


@dataclass(frozen=True)
class Cell:
    name: str
    preset: str
    set: tuple = ()  # (("optim_g.lr", 0.001), ...): dotted keys, applied in order
    search: Optional[Search] = None


@dataclass(frozen=True)
class Target:
    """'How long until a run is this good': on the during-training metric (per epoch)."""

    value: float = float("nan")
    metric: str = ""  # "" = the during-training metric of the protocol (or its proxy)


@dataclass(frozen=True)
class Suite:
    name: str
    cells: tuple[Cell, ...]
    protocol: Protocol = field(default_factory=Protocol)
    budget: Budget = field(default_factory=Budget)
    seeds: tuple[int, ...] = (0,)
    resources: Resources = field(default_factory=Resources)
    target: Optional[Target] = None
    set: tuple = ()  # overrides for every cell, e.g. (("data.root", "~/mnist"),)
    experiment: str = "ganbench"  # MLflow experiment of the suite run and its runs
    also: tuple[str, ...] = ()  # YAML protocol.also: metrics shown beside the ranking one (see Protocol)
    description: str = ""
    source: str = ""  # the file (or "suite NAME") it came from, for error messages


# ---------------------------------------------------------------- parsing


def _fields(cls, data: Any, where: str, more_keys: tuple[str, ...] = ()) -> dict:
    """`data` as constructor kwargs of `cls`, type-checked; unknown keys name the valid ones
    (with `more_keys`: keys the caller took out of `data` first)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        valid = ", ".join([*known, *more_keys])
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {valid}")
    out = {}
    for k, v in data.items():
        default = known[k].default
        out[k] = _scalar(v, default, f"{where}.{k}") if not isinstance(default, (dict, type(None))) else v
    return out


def _scalar(v: Any, like: Any, where: str) -> Any:
    if isinstance(like, bool):
        ok = isinstance(v, bool)
    elif isinstance(like, int):
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif isinstance(like, float):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        v = float(v) if ok else v
    elif isinstance(like, str):
        ok = isinstance(v, (str, int, float)) and not isinstance(v, bool)
        v = str(v) if ok else v
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}: expected {type(like).__name__}, got {v!r}")
    return v


def _dotted(data: Any, where: str) -> tuple:
    """{'optim_g.lr': 1e-3, 'loss': {'name': 'lsgan'}} -> (('optim_g.lr', 0.001), ('loss.name', 'lsgan'))."""
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of config keys to values, got {data!r}")
    out = []
    for k, v in data.items():
        if isinstance(v, dict):
            out.extend((f"{k}.{kk}", vv) for kk, vv in _dotted(v, f"{where}.{k}"))
        else:
            # YAML reads 1e-3 as a string; a number is what is meant here.
            if isinstance(v, str):
                try:
                    v = float(v) if re.fullmatch(r"[-+]?\d*\.?\d+[eE][-+]?\d+", v) else v
                except ValueError:
                    pass
            out.append((str(k), v))
    return tuple(out)


def _name(v: Any, where: str) -> str:
    if not isinstance(v, str) or not NAME_RE.match(v):
        raise ConfigError(f"{where}: expected a name of letters, digits, '-', '_' or '.', got {v!r}")
    return v


def _seeds(v: Any) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ConfigError(f"seeds: need at least one seed, got {v}")
        return tuple(range(v))
    if isinstance(v, list) and v and all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        if len(set(v)) != len(v):
            raise ConfigError(f"seeds: each seed once, got {v}")
        return tuple(v)
    raise ConfigError(f"seeds: expected a count (e.g. 3) or a non-empty list of integers, got {v!r}")


def parse_also(v: Any, where: str = "protocol.also") -> tuple[str, ...]:
    """protocol.also (or --also): a list of metric names, each once, order kept."""
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise ConfigError(f"{where}: expected a list of metric names, e.g. [class_share_min, class_share_max], "
                          f"got {v!r}")
    return tuple(dict.fromkeys(x.strip() for x in v))


def _cell(i: int, data: Any) -> Cell:
    where = f"cells[{i}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with name and preset, got {data!r}")
    unknown = sorted(set(data) - {"name", "preset", "set", "search"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: name, preset, set, search")
    for k in ("name", "preset"):
        if k not in data:
            raise ConfigError(f"{where}: missing {k!r}")
    name = _name(data["name"], f"{where}.name")
    search = None
    if data.get("search") is not None:
        search = Search(**_fields(Search, data["search"], f"cell {name}: search"))
        if search.trials < 1:
            raise ConfigError(f"cell {name}: search.trials must be >= 1, got {search.trials}")
        if search.space is not None and not isinstance(search.space, (str, dict)):
            raise ConfigError(f"cell {name}: search.space: a space name, a YAML file or a mapping, got {search.space!r}")
        if search.workers < 0:
            raise ConfigError(f"cell {name}: search.workers must be >= 0, got {search.workers}")
        if search.seeds < 0:
            raise ConfigError(f"cell {name}: search.seeds must be >= 0 (0 = the suite's seeds), got {search.seeds}")
    return Cell(name=name, preset=str(data["preset"]), set=_dotted(data.get("set"), f"cell {name}: set"),
                search=search)


SUITE_KEYS = ("name", "description", "protocol", "budget", "seeds", "resources", "cells", "target", "set",
              "experiment")


def parse_suite(data: Any, source: str = "suite") -> Suite:
    """A Suite from parsed YAML; every problem is one ConfigError line naming the key."""
    try:
        return dataclasses.replace(_parse(data), source=source)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _parse(data: Any) -> Suite:
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping with name, protocol, budget, seeds and cells, got {data!r}")
    unknown = sorted(set(data) - set(SUITE_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(SUITE_KEYS)}")
    if "name" not in data:
        raise ConfigError("missing 'name'")
    proto = dict(data.get("protocol") or {})
    proxy = proto.pop("proxy", None)
    also = parse_also(proto.pop("also", None))
    protocol = Protocol(**_fields(Protocol, proto, "protocol", more_keys=("also",)),
                        proxy=Proxy(**_fields(Proxy, proxy, "protocol.proxy")) if proxy is not None else None)
    cells_raw = data.get("cells")
    if not isinstance(cells_raw, list) or not cells_raw:
        raise ConfigError("cells: the suite has no cells; give a list of {name, preset, set} entries")
    cells = tuple(_cell(i, c) for i, c in enumerate(cells_raw))
    names = [c.name for c in cells]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"cells: each cell name once, got {', '.join(dupes)} more than once")
    target = data.get("target")
    if target is not None:
        target = Target(**_fields(Target, target if isinstance(target, dict) else {"value": target}, "target"))
        if target.value != target.value:
            raise ConfigError("target: give a value, e.g. target: 50 or target: {value: 50, metric: fid2k_mnistcnn}")
    suite = Suite(
        name=_name(data["name"], "name"), cells=cells, protocol=protocol,
        budget=Budget(**_fields(Budget, data.get("budget"), "budget")),
        seeds=_seeds(data.get("seeds", 1)),
        resources=Resources(**_fields(Resources, data.get("resources"), "resources")),
        target=target, set=_dotted(data.get("set"), "set"),
        experiment=str(data.get("experiment") or "ganbench"), description=str(data.get("description") or ""),
        also=also,
    )
    check_suite(suite)
    return suite


def check_suite(s: Suite) -> None:
    """Settings that are impossible whatever the cells are."""
    p, b, r = s.protocol, s.budget, s.resources
    if p.n_gen < 2 or p.n_real < 0:
        raise ConfigError(f"protocol: n_gen must be >= 2 and n_real >= 0 (0 = the whole split), got {p.n_gen}, {p.n_real}")
    if p.backbone == "auto" or (p.proxy and p.proxy.backbone == "auto"):
        raise ConfigError("protocol: name the backbone (inception, digitscnn, mnistcnn, ...): with `auto` "
                          "runs on different machines could be scored by different networks")
    if not p.final and p.every < 1:
        raise ConfigError(f"protocol.every must be >= 1 epochs when final is false, got {p.every}")
    if not p.final and p.proxy is not None:
        raise ConfigError("protocol.proxy needs final: true (without a final evaluation the "
                          "during-training evaluation is the protocol itself)")
    if p.proxy is not None and p.proxy.every < 1:
        raise ConfigError(f"protocol.proxy.every must be >= 1 epochs, got {p.proxy.every}")
    if b.epochs < 0 or b.images < 0 or b.seconds < 0:
        raise ConfigError(f"budget: epochs, images and seconds must be >= 0, got epochs={b.epochs}, "
                          f"images={b.images}, seconds={b.seconds}")
    if r.workers < 1 or r.cpus <= 0 or r.gpus < 0:
        raise ConfigError(f"resources: workers >= 1, cpus > 0 and gpus >= 0 per run, got {r}")


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name, or a YAML file."""
    from ganbench.bench.builtin import SUITES

    if name_or_path in SUITES:
        return parse_suite(yaml.safe_load(SUITES.get(name_or_path)), f"suite {name_or_path}")
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in name_or_path:
        if not p.is_file():
            raise ConfigError(f"suite file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {str(e).splitlines()[0]}") from None
        return parse_suite(data, str(p))
    raise ConfigError(f"unknown suite {name_or_path!r}: not a built-in suite ({', '.join(SUITES.names())}) "
                      f"and not a .yaml file")
