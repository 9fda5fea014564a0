"""One MLflow SQLite store per test session, for tests that only need somewhere to log:
creating a store (MLflow's schema migrations) costs seconds each time. Tests that share it
tell their runs apart by study name or run id."""
from __future__ import annotations

_uri: str | None = None


def shared_store(tmp_path_factory) -> str:
    global _uri
    if _uri is None:
        from mlflow.tracking import MlflowClient

        uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow-shared') / 'mlflow.db'}"
        MlflowClient(uri).search_experiments()  # create it now, before drivers in two processes race to
        _uri = uri
    return _uri
