"""Checkpoints are a folder: `state.pt` (state_dicts and counters only, loadable with
`torch.load(weights_only=True)`, so opening one never runs code), `config.yaml` (the
resolved RunConfig) and `metrics.json` (what the epoch reported)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganbench.config import RunConfig, from_yaml, to_yaml
from ganbench.errors import CheckpointError

STATE_FILE = "state.pt"


def save_checkpoint(folder: Path, cfg: RunConfig, state: dict[str, Any], metrics: dict) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save({**state, "config_yaml": to_yaml(cfg)}, folder / STATE_FILE)
        (folder / "config.yaml").write_text(to_yaml(cfg))
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    except OSError as e:  # disk full, read-only mount: say where, not a bare errno
        raise CheckpointError(write_error(folder, e)) from None
    return folder


def write_error(where: Path | str, e: OSError) -> str:
    return (f"could not write checkpoint to {where}: {e.strerror or e} (errno {e.errno}); "
            f"earlier checkpoints are kept; free space or point --out elsewhere, then --resume")


def resolve_state_file(path: str | Path) -> Path:
    from ganbench.storage import fetch_dir, is_uri

    p = fetch_dir(path) if is_uri(path) else Path(path)  # s3://... checkpoints are fetched first
    if p.is_dir():
        p = p / STATE_FILE
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {path}: expected a checkpoint folder holding {STATE_FILE}, or the file itself")
    return p


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[RunConfig, dict]:
    p = resolve_state_file(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, never unpickle code
        raise CheckpointError(corrupt_message(p, e)) from None
    for key in ("G", "D", "epoch", "config_yaml"):
        if key not in state:
            raise CheckpointError(f"checkpoint {p} lacks {key!r}; it was not written by ganbench")
    return from_yaml(state["config_yaml"]), state


def corrupt_message(p: Path, e: Exception) -> str:
    """PyTorch's own text for a failed weights_only load advises re-running with
    weights_only=False, i.e. executing whatever the file holds: never pass that on."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if "weights_only" in first or "Weights only load failed" in first:
        why = "it holds Python objects other than tensors and plain containers (not a ganbench state file)"
    elif isinstance(e, (EOFError, RuntimeError)) or "zip" in first.lower():
        why = f"it is truncated or not a torch file ({type(e).__name__})"
    else:
        why = f"{type(e).__name__}: {first[:200]}"
    return (f"cannot read checkpoint {p}: {why}. A ganbench checkpoint folder holds {STATE_FILE} (tensors only), "
            f"config.yaml and metrics.json; check the file is complete (`ls -l {p}`, compare its size with the "
            f"original) and was written by `ganbench train`. Do not load it with weights_only=False: that runs "
            f"code from the file")
