"""The search space of `ganbench tune`: which knobs a study turns, read from YAML.

A space names its parameters either by a knob below (`lr_g`, `beta1`, `loss` ...) or by a
config key (`model.ngf`); each takes a range (`low`, `high`, optional `log` / `step`) or
`choices`. Its type is the config field's, so `n_critic: {low: 1, high: 5}` is an integer.
`when: {loss: wgan-gp}` samples a parameter only where an earlier parameter (or the preset)
has that value; `otherwise` is what it is set to elsewhere. `set:` fixes config values for
every trial. Built-in spaces: `default` (ganbench's) and `lucic` (Lucic et al. 2018).

Trial 0 of a new study is the preset itself (the baseline): a preset value missing from a
parameter's `choices` is added to them, so it can be enqueued.
"""
from __future__ import annotations

import logging
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import optuna
import yaml

from ganbench import config as C
from ganbench.errors import ConfigError
from tuning.builtin_spaces import BUILTIN

log = logging.getLogger("ganbench.tuning")

# Knobs that set several config keys at once (Adam's betas are shared by G and D: two more
# dimensions rarely pay for themselves in a budget of tens of trials).
KNOBS: dict[str, tuple[str, ...]] = {
    "lr": ("optim_g.lr", "optim_d.lr"),
    "lr_g": ("optim_g.lr",),
    "lr_d": ("optim_d.lr",),
    "beta1": ("optim_g.beta1", "optim_d.beta1"),
    "beta2": ("optim_g.beta2", "optim_d.beta2"),
    "batch_size": ("data.batch_size",),
    "loss": ("loss.name",),
    "n_critic": ("loss.n_critic",),
    "gp_weight": ("loss.gp_weight",),
}
SAMPLERS = ("tpe", "random", "grid", "cmaes")
SPACE_KEYS = ("sampler", "constant_liar", "n_startup_trials", "set", "params")
PARAM_KEYS = ("low", "high", "log", "step", "choices", "when", "otherwise")
# Models whose critic has no BatchNorm, so a per-sample gradient penalty is meaningful.
GP_MODELS = ("wgan",)


@dataclass(frozen=True)
class Param:
    name: str
    targets: tuple[str, ...]  # dotted config keys the sampled value is written to
    kind: str  # float | int | categorical
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: tuple = ()
    when: tuple[tuple[str, tuple], ...] = ()  # (parameter or knob, values it must take)
    otherwise: Any = None  # written to targets when `when` does not hold; None keeps the preset's


@dataclass(frozen=True)
class Space:
    name: str  # a built-in name or the file it came from
    params: tuple[Param, ...]
    sampler: str = "tpe"
    constant_liar: bool = False
    n_startup_trials: int = 4
    fixed: tuple[tuple[str, Any], ...] = ()  # `set:` (dotted key, value), for every trial


# ---------------------------------------------------------------- reading a space


def load_space(name_or_path: Optional[str] = None, sampler: Optional[str] = None) -> Space:
    """A built-in space by name, or a YAML file; `sampler` overrides the file's sampler."""
    name_or_path = name_or_path or "default"
    if name_or_path in BUILTIN:
        text, where = BUILTIN[name_or_path], name_or_path
    else:
        p = Path(name_or_path).expanduser()
        if not p.is_file():
            raise ConfigError(f"--space {name_or_path}: not a built-in space ({', '.join(BUILTIN)}) "
                              f"and no such file")
        text, where = p.read_text(), str(p)
    space = parse_space(text, where)
    if sampler:
        space = with_sampler(space, sampler)
    return space


def with_sampler(space: Space, sampler: str) -> Space:
    # constant_liar is a TPE option: another sampler given on the command line drops it.
    space = replace(space, sampler=sampler, constant_liar=space.constant_liar and sampler == "tpe")
    _check_sampler(space, space.name)
    return space


def parse_space(text: str, where: str) -> Space:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"space {where}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"space {where}: expected a mapping with `params:`, got {type(data).__name__}")
    _no_unknown(data, SPACE_KEYS, f"space {where}")
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"space {where}: `params:` must map parameter names to ranges or choices")
    parsed = tuple(_param(name, spec, f"space {where}: params.{name}") for name, spec in params.items())
    _check_when(parsed, where)
    space = Space(
        name=where, params=parsed, sampler=str(data.get("sampler", "tpe")),
        constant_liar=_bool(data.get("constant_liar", False), f"space {where}: constant_liar"),
        n_startup_trials=_int(data.get("n_startup_trials", 4), f"space {where}: n_startup_trials"),
        fixed=_fixed(data.get("set") or {}, where),
    )
    _check_sampler(space, where)
    return space


def _no_unknown(data: dict, valid: tuple[str, ...], where: str) -> None:
    unknown = [k for k in data if k not in valid]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(valid)}")


def targets_of(name: str) -> tuple[str, ...]:
    """Config keys a parameter name sets: a knob's, or the name itself if it is a config key."""
    if name in KNOBS:
        return KNOBS[name]
    if field_type(name) is not None:
        return (name,)
    raise ConfigError(f"unknown parameter {name!r}; valid: {', '.join(KNOBS)}, or a config key "
                      f"such as model.ngf (see `ganbench presets --show NAME`)")


def field_type(key: str) -> Optional[type]:
    """The RunConfig field type of a dotted key (optional types unwrapped), None if no such key."""
    cls: Any = C.RunConfig
    for part in key.split("."):
        hints = typing.get_type_hints(cls) if isinstance(cls, type) else {}
        if part not in hints:
            return None
        cls = hints[part]
    args = [a for a in typing.get_args(cls) if a is not type(None)]
    return args[0] if args else cls


def _param(name: str, spec: Any, where: str) -> Param:
    try:
        targets = targets_of(str(name))
    except ConfigError as e:
        raise ConfigError(f"{where.rsplit(':', 1)[0]}: {e}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected {{low: .., high: ..}} or {{choices: [..]}}, got {spec!r}")
    _no_unknown(spec, PARAM_KEYS, where)
    when = _when(spec.get("when"), where)
    tp = field_type(targets[0])
    if "choices" in spec:
        return _categorical(name, targets, spec, when, where, tp)
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: give `low` and `high` (a range) or `choices`")
    if tp not in (int, float):
        raise ConfigError(f"{where}: {targets[0]} is a {getattr(tp, '__name__', tp)}: give `choices`, not a range")
    return _ranged(name, targets, spec, when, where, tp)


def _categorical(name, targets, spec, when, where, tp) -> Param:
    if any(k in spec for k in ("low", "high", "log", "step")):
        raise ConfigError(f"{where}: give a range (low/high) or `choices`, not both")
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}: `choices` must be a non-empty list")
    if tp in (int, float):  # YAML reads 1e-4 as a string; the field says what was meant
        choices = [_number(c, f"{where}.choices") for c in choices]
        if tp is int:
            if not all(c.is_integer() for c in choices):
                raise ConfigError(f"{where}: {targets[0]} is an integer: choices must be whole numbers")
            choices = [int(c) for c in choices]
    return Param(name, targets, "categorical", choices=tuple(choices), when=when, otherwise=spec.get("otherwise"))


def _ranged(name, targets, spec, when, where, tp) -> Param:
    low, high = _number(spec["low"], f"{where}.low"), _number(spec["high"], f"{where}.high")
    log_scale = _bool(spec.get("log", False), f"{where}.log")
    step = _number(spec["step"], f"{where}.step") if spec.get("step") is not None else None
    if low > high:
        raise ConfigError(f"{where}: low ({low:g}) > high ({high:g})")
    if log_scale and low <= 0:
        raise ConfigError(f"{where}: log scale needs low > 0, got {low:g}")
    if log_scale and step is not None:
        raise ConfigError(f"{where}: `step` and `log` do not go together (Optuna samples one or the other)")
    kind = "int" if tp is int else "float"
    if kind == "int" and not all(float(v).is_integer() for v in (low, high)):
        raise ConfigError(f"{where}: {targets[0]} is an integer: low and high must be whole numbers")
    return Param(name, targets, kind, low=low, high=high, log=log_scale, step=step, when=when,
                 otherwise=spec.get("otherwise"))


def _when(raw: Any, where: str) -> tuple[tuple[str, tuple], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}.when: expected {{parameter: value or [values]}}, got {raw!r}")
    return tuple((str(k), tuple(v) if isinstance(v, list) else (v,)) for k, v in raw.items())


def _check_when(params: tuple[Param, ...], where: str) -> None:
    """`when` may name an earlier parameter or any knob/config key (then the preset's value counts)."""
    seen: set[str] = set()
    for p in params:
        for key, _ in p.when:
            if key not in seen:
                try:
                    targets_of(key)
                except ConfigError:
                    raise ConfigError(f"space {where}: params.{p.name}.when: {key!r} is neither an earlier "
                                      f"parameter nor a config key") from None
        seen.add(p.name)


def _fixed(raw: Any, where: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(raw, dict):
        raise ConfigError(f"space {where}: `set:` must map config keys to values, got {raw!r}")
    for key in raw:
        if field_type(str(key)) is None:
            raise ConfigError(f"space {where}: set: unknown config key {key!r}")
    return tuple((str(k), v) for k, v in raw.items())


def _check_sampler(space: Space, where: str) -> None:
    if space.sampler not in SAMPLERS:
        raise ConfigError(f"space {where}: unknown sampler {space.sampler!r}; valid samplers: {', '.join(SAMPLERS)}")
    if space.constant_liar and space.sampler != "tpe":
        raise ConfigError(f"space {where}: constant_liar is a TPE option; sampler is {space.sampler}")
    if space.n_startup_trials < 0:
        raise ConfigError(f"space {where}: n_startup_trials must be >= 0")
    if space.sampler == "grid":
        ranged = [p.name for p in space.params if p.kind != "categorical"]
        if ranged:
            raise ConfigError(f"space {where}: sampler grid needs `choices` for every parameter; "
                              f"{', '.join(ranged)} {'has' if len(ranged) == 1 else 'have'} a range")


def _number(v: Any, where: str) -> float:
    # YAML 1.1 reads `1e-5` (no dot) as a string; a number is what anyone writing it means.
    try:
        if isinstance(v, bool):
            raise ValueError
        return float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number, got {v!r}") from None


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: expected an integer, got {v!r}")
    return v


# ---------------------------------------------------------------- fitting a space to a preset


def apply_fixed(cfg: C.RunConfig, space: Space) -> C.RunConfig:
    """The preset with the space's `set:` values (the baseline and every trial start here)."""
    if not space.fixed:
        return cfg
    over: dict = {}
    for key, value in space.fixed:
        _put(over, (key,), value)
    try:
        return C.merge(cfg, over)
    except ConfigError as e:
        raise ConfigError(f"space {space.name}: set: {e}") from None


def fit_to(space: Space, cfg: C.RunConfig) -> Space:
    """The space as this preset can run it: losses its critic cannot train dropped, and the
    preset's own value added to every `choices` (so trial 0 can be the preset)."""
    return replace(space, params=tuple(_fit_param(p, cfg, space.name) for p in space.params))


def _fit_param(p: Param, cfg: C.RunConfig, where: str) -> Param:
    if p.kind != "categorical":
        return p
    choices = list(p.choices)
    if p.targets == ("loss.name",):
        choices = _runnable_losses(choices, cfg, where)
    own = current_value(cfg, p.targets[0])
    if own not in choices:
        log.info("space %s: %s choices %s get the preset's own %r (trial 0 is the preset)", where, p.name, choices, own)
        choices.append(own)
    return replace(p, choices=tuple(choices))


def _runnable_losses(choices: list, cfg: C.RunConfig, where: str) -> list:
    from ganbench.losses import LOSSES

    keep, dropped = [], []
    for name in choices:
        try:
            needs_plain_critic = LOSSES.get(str(name)).uses_gp
        except ConfigError as e:  # an unknown loss: say where, and which are valid
            raise ConfigError(f"space {where}: params.loss: {e}") from None
        (dropped if needs_plain_critic and cfg.model.name not in GP_MODELS else keep).append(name)
    if dropped:  # a built-in space lists every loss on purpose; a user's file is told
        say = log.debug if where in BUILTIN else log.warning
        say("space %s: loss %s left out: a gradient penalty needs a critic without BatchNorm (model %s); "
            "this preset's model is %s", where, ", ".join(dropped), "/".join(GP_MODELS), cfg.model.name)
    return keep


def current_value(cfg: C.RunConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _put(over: dict, targets: tuple[str, ...], value: Any) -> None:
    for key in targets:
        *sections, leaf = key.split(".")
        node = over
        for s in sections:
            node = node.setdefault(s, {})
        node[leaf] = value


def _holds(p: Param, values: dict, cfg: C.RunConfig) -> bool:
    for key, allowed in p.when:
        actual = values[key] if key in values else current_value(cfg, targets_of(key)[0])
        if actual not in allowed:
            return False
    return True


# ---------------------------------------------------------------- trials


def defaults(space: Space, cfg: C.RunConfig) -> dict:
    """The preset's values under the space's parameter names (trial 0, the baseline)."""
    values: dict = {}
    for p in space.params:
        if _holds(p, values, cfg):
            values[p.name] = current_value(cfg, p.targets[0])
    return values


def suggest(trial: optuna.Trial, space: Space, cfg: C.RunConfig) -> dict:
    """Sample one trial's overrides (a nested dict for config.merge)."""
    values: dict = {}
    over: dict = {}
    for p in space.params:
        if not _holds(p, values, cfg):
            if p.otherwise is not None:
                _put(over, p.targets, p.otherwise)
            continue
        values[p.name] = _suggest_one(trial, p)
        _put(over, p.targets, values[p.name])
    return over


def _suggest_one(trial: optuna.Trial, p: Param) -> Any:
    if p.kind == "categorical":
        return trial.suggest_categorical(p.name, list(p.choices))
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)


def to_yaml(space: Space) -> str:
    """The space as a file `--space` reads back (for --print-space)."""
    params = {}
    for p in space.params:
        num = int if p.kind == "int" else float
        spec: dict = {"choices": list(p.choices)} if p.kind == "categorical" else {"low": num(p.low), "high": num(p.high)}
        if p.log:
            spec["log"] = True
        if p.step is not None:
            spec["step"] = p.step
        if p.when:
            spec["when"] = {k: list(v) if len(v) > 1 else v[0] for k, v in p.when}
        if p.otherwise is not None:
            spec["otherwise"] = p.otherwise
        params[p.name] = spec
    data: dict = {"sampler": space.sampler, "constant_liar": space.constant_liar,
                  "n_startup_trials": space.n_startup_trials}
    if space.fixed:
        data["set"] = dict(space.fixed)
    data["params"] = params
    return yaml.safe_dump(data, sort_keys=False)
