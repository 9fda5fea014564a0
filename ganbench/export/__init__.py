"""Ship a trained generator: one self-contained ONNX file, checked against torch, with its
provenance inside (`read_metadata`), logged to its MLflow run and registered as a model version.

Names are imported lazily: the Serve replicas read metadata (`ganbench.export.metadata`)
and must not pay for importing torch, which `export` needs.
"""
from __future__ import annotations

__all__ = ["ExportError", "export_generator", "read_metadata"]


def __getattr__(name: str):
    if name in ("ExportError", "export_generator"):
        from ganbench.export import export

        return getattr(export, name)
    if name == "read_metadata":
        from ganbench.export.metadata import read_metadata

        return read_metadata
    raise AttributeError(f"module 'ganbench.export' has no attribute {name!r}")
