"""Does a checkpoint fit the config it is resumed with? Said in one line, before any run starts.

`--resume CKPT --preset debug` with a checkpoint of another model used to end in PyTorch's
`size mismatch for net.6.weight` traceback after an MLflow run had been opened. This
compares the parameter shapes of the models the config builds with those in the checkpoint
and names the keys that differ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ganbench.checkpoint import load_checkpoint
from ganbench.config import RunConfig
from ganbench.errors import CheckpointError
from ganbench.models import build_models

SHOWN = 3  # keys named in the message; the rest are counted


@dataclass(frozen=True)
class KeyDiff:
    net: str  # "G" or "D"
    key: str
    in_checkpoint: Optional[tuple[int, ...]]  # None: the checkpoint lacks the key
    in_config: Optional[tuple[int, ...]]  # None: the config's model lacks it

    def describe(self) -> str:
        def shape(s):
            return "absent" if s is None else "x".join(map(str, s)) or "scalar"

        return f"{self.net}.{self.key} {shape(self.in_checkpoint)} in the checkpoint vs {shape(self.in_config)}"


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def diff_state(expected: dict[str, dict[str, tuple]], state: dict) -> list[KeyDiff]:
    """Keys whose shapes differ (or exist on one side only), per network."""
    out = []
    for net, want in expected.items():
        have = {k: tuple(v.shape) for k, v in state[net].items()}
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                out.append(KeyDiff(net, key, have.get(key), want.get(key)))
    return out


def mismatch_message(resume: str, diffs: list[KeyDiff], advice: str) -> str:
    named = "; ".join(d.describe() for d in diffs[:SHOWN])
    more = f" (and {len(diffs) - SHOWN} more)" if len(diffs) > SHOWN else ""
    return (f"checkpoint {resume} holds a different model than the config: {len(diffs)} weight(s) differ: "
            f"{named}{more}. {advice}")


def _advice(ckpt_cfg: RunConfig, explicit: bool) -> str:
    m = ckpt_cfg.model
    own = f"model={m.name} latent_dim={m.latent_dim} ngf={m.ngf} ndf={m.ndf}, preset {ckpt_cfg.preset}"
    if explicit:
        return f"Drop --preset/--config to resume with the checkpoint's own config ({own}); --set still applies"
    return f"Drop the --set options that change the model: the checkpoint's own config is {own}"


def expected_shapes(cfg: RunConfig, state: dict) -> dict[str, dict[str, tuple]]:
    """Parameter shapes of the models `cfg` builds, on the meta device (no memory, no init cost).
    Image shape comes from the config; the class count from the checkpoint, which the data
    would give again unless the dataset changed (then the worker's check in _restore names it)."""
    image_shape = (cfg.data.channels, cfg.data.resolution, cfg.data.resolution)
    with torch.device("meta"):
        models = build_models(cfg.model, image_shape, int(state.get("num_classes", 0)))
    return {"G": shapes(models.G), "D": shapes(models.D)}


def check_resume_fits(cfg: RunConfig, resume: str, explicit: bool) -> None:
    """Raise a one-line CheckpointError when the checkpoint cannot load into cfg's models.

    explicit: --preset/--config were given (so dropping them is the advice)."""
    ckpt_cfg, state = load_checkpoint(resume)
    diffs = diff_state(expected_shapes(cfg, state), state)
    if diffs:
        raise CheckpointError(mismatch_message(resume, diffs, _advice(ckpt_cfg, explicit)))


def check_models_fit(models, state: dict, resume: str, ckpt_cfg: RunConfig) -> None:
    """The same check on the built models (the worker, where the data fixed the class count)."""
    diffs = diff_state({"G": shapes(models.G), "D": shapes(models.D)}, state)
    if diffs:
        raise CheckpointError(mismatch_message(str(resume), diffs, _advice(ckpt_cfg, explicit=True)))
