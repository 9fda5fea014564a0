"""`ganbench serve`: wired into ganbench/cli.py with `add_serve_parser(subparsers)`.

It builds the same application as `serve run serve/config.yaml` (serve.app:app_builder),
starts Serve's HTTP proxy on --host/--port and blocks until Ctrl-C."""
from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import textwrap
import time
from pathlib import Path

from ganbench.errors import ConfigError

log = logging.getLogger("ganbench.serve")
APP_NAME = "ganbench"

EPILOG = textwrap.dedent(
    """\
    examples:
      ganbench serve --model model.onnx                        # http://127.0.0.1:8000
      ganbench serve --model model.onnx --host 0.0.0.0 --replicas 2
      ganbench serve --model models:/ganbench-debug@champion   # the registry's best version (MLflow alias)
      GANBENCH_MODEL=models:/ganbench-debug/1 ganbench serve    # a registered version
      serve run serve/config.yaml                              # the same app from a Serve config file

    Settings: flags, else GANBENCH_<NAME> env vars (GANBENCH_MODEL, GANBENCH_MAX_N, ...), else defaults.
    """
)


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port") from None


def start(settings: dict, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Start Ray (or join RAY_ADDRESS), Serve's proxy on host:port and the app; returns its URL."""
    from ray import serve

    from ganbench.ray_init import init_ray, quiet
    from serve.app import app_builder

    quiet("ray.serve")  # its "Started Serve", "Application ... is ready" lines: we print the URL
    from serve.settings import resolve

    model = resolve(settings).model  # settings errors surface here, before Ray starts
    if ":/" not in model and not Path(model).expanduser().is_file():
        raise ConfigError(f"no ONNX model at {model} (export one with `ganbench export ... --out FILE.onnx`)")
    app = app_builder(settings)
    _check_port(host, port)
    init_ray()
    serve.start(http_options={"host": host, "port": port})
    serve.run(app, name=APP_NAME, route_prefix="/")
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"


def cmd_serve(args) -> int:
    from ray import serve

    settings = {"model": args.model, "replicas": args.replicas, "max_n": args.max_n, "gpu": args.gpu or None}
    url = start(settings, args.host, args.port)
    print(f"serving at {url}  (docs: {url}/docs, Ctrl-C to stop)\n"
          f"  curl -s -X POST {url}/v1/sample -H 'content-type: application/json' "
          f"-d '{{\"n\": 16, \"seed\": 0}}' -o samples.png", file=sys.stderr, flush=True)
    info = {"url": url, "model": args.model, "docs": f"{url}/docs"}
    print(json.dumps(info), flush=True)  # ready: scripts can read the URL now
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        import ray

        serve.shutdown()
        ray.shutdown()
    # Again at the end: Ray's shutdown messages may have gone to stdout after the first line.
    print(json.dumps({**info, "stopped": True}), flush=True)
    return 0


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve", help="serve an exported ONNX generator over HTTP (Ray Serve)",
        description="Ray Serve HTTP endpoint: POST /v1/sample, GET /v1/model, GET /healthz, docs at /docs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="ONNX file from `ganbench export`, or a registered model: models:/NAME@ALIAS "
                   "(e.g. @champion, resolved to its version at start) or models:/NAME/VERSION "
                   "(MLflow store: $MLFLOW_TRACKING_URI, else ./mlflow.db; default $GANBENCH_MODEL)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--replicas", type=int, help="replicas (default $GANBENCH_REPLICAS or 1)")
    p.add_argument("--max-n", type=int, help="most images per request (default $GANBENCH_MAX_N or 256)")
    p.add_argument("--gpu", action="store_true", help="one GPU per replica (needs onnxruntime-gpu)")
    p.set_defaults(func=cmd_serve)
    return p
