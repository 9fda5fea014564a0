"""Metadata inside the ONNX file (`metadata_props`), so a model file alone says what it is.

ONNX metadata is string -> string; every value is stored JSON-encoded, so `read_metadata`
gives back exactly the types that went in (ints, lists, nested eval-protocol dicts)."""
from __future__ import annotations

import json
from pathlib import Path

import onnx

from ganbench.noise import NOISE_RECIPE  # noqa: F401  (re-exported: the recipe the metadata names)


def set_metadata(model: onnx.ModelProto, meta: dict) -> None:
    keep = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=json.dumps(value, sort_keys=True, default=str))


def read_metadata(path: str | Path) -> dict:
    """The metadata of an ONNX file as a dict (weights are not loaded)."""
    model = onnx.load(str(path), load_external_data=False)
    return decode_metadata((p.key, p.value) for p in model.metadata_props)


def decode_metadata(pairs) -> dict:
    """(key, value) string pairs -> dict: our values are JSON; another tool's stay raw strings.
    Also used on an onnxruntime session's `custom_metadata_map` by the Serve replicas."""
    out = {}
    for key, value in pairs:
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
