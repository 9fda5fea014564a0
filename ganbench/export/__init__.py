"""Ship a trained generator: one self-contained ONNX file, checked against torch, with its
provenance inside (`read_metadata`), logged to its MLflow run and registered as a model version."""
from ganbench.export.export import ExportError, export_generator
from ganbench.export.metadata import read_metadata

__all__ = ["ExportError", "export_generator", "read_metadata"]
