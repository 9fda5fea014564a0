"""Helpers shared by the Serve test modules (test_serve.py, test_serve_resilience.py,
test_serve_fuzz.py): export a tiny untrained generator, find a free port, stop Serve and Ray,
find the processes of Serve's actors and wait for a deployment to be healthy. Each module
starts its own Serve instance (the resilience test kills one of its processes)."""
from __future__ import annotations

import time
from pathlib import Path

from ganbench import config as C
from ganbench.export import export_generator
from ganbench.models import build_models
from ganbench.presets import get_preset
from ganbench.checkpoint import save_checkpoint
from servers import free_port  # noqa: F401  (re-exported for the serve test modules)

APP = "ganbench"  # serve.cli.APP_NAME
DEPLOYMENT = "GanGenerator"


def export_tiny(root: Path, model: str = "dcgan", num_classes: int = 0) -> Path:
    """A freshly initialised debug-size generator (1x28x28, latent 16), checkpointed and exported."""
    cfg = C.with_updates(get_preset("debug"), model={"name": model, "ngf": 8, "ndf": 8, "latent_dim": 16})
    models = build_models(cfg.model, (1, 28, 28), num_classes)
    ckpt = save_checkpoint(root / model, cfg, {"G": models.G.state_dict(), "D": models.D.state_dict(), "epoch": 1,
                                               "image_shape": [1, 28, 28], "num_classes": num_classes}, {})
    return Path(export_generator(root / f"{model}.onnx", checkpoint=str(ckpt))["onnx_path"])


def stop_serve() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def serve_actors(app: str | None = APP) -> dict[str, list[dict]]:
    """ALIVE actors of this cluster by class ('proxy', 'controller', 'replica': of `app`'s
    deployment, or of every app when app is None), each {'name', 'pid'}.

    Read from the GCS actor table (`ray._private.state.actors`): `ray.util.state.list_actors`
    needs the dashboard, which `ganbench serve` does not start. Only this cluster's actors are
    listed, so other Ray instances on the machine are never touched."""
    from ray._private import state

    found: dict[str, list[dict]] = {"proxy": [], "controller": [], "replica": []}
    for a in state.actors().values():
        if a["State"] != "ALIVE" or not a.get("Pid"):
            continue
        cls = a["ActorClassName"]
        kind = ("proxy" if cls == "ProxyActor" else "controller" if cls == "ServeController"
                else "replica" if cls == f"ServeReplica:{app}:{DEPLOYMENT}"
                or (app is None and cls.startswith("ServeReplica:")) else None)
        if kind:
            found[kind].append({"name": a["Name"], "pid": a["Pid"]})
    return found


def deployment_state() -> tuple[str, dict]:
    """(status, replica_states) of the app's deployment, e.g. ('HEALTHY', {'RUNNING': 2})."""
    from ray import serve

    d = serve.status().applications[APP].deployments[DEPLOYMENT]
    return str(d.status.value if hasattr(d.status, "value") else d.status), dict(d.replica_states)


def wait_healthy(replicas: int, timeout: float = 60.0, poll: float = 0.2) -> float:
    """Block until the deployment is HEALTHY with `replicas` RUNNING and as many ALIVE replica
    actors; returns the time.monotonic() it was first seen so. Raises TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = deployment_state()
        status, states = last
        if (status == "HEALTHY" and states.get("RUNNING") == replicas and sum(states.values()) == replicas
                and len(serve_actors()["replica"]) == replicas):
            return time.monotonic()
        time.sleep(poll)
    raise TimeoutError(f"deployment not HEALTHY with {replicas} running replicas after {timeout} s: {last}")
