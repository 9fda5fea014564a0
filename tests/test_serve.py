"""Serving: the typed sampler without HTTP, then one Ray Serve instance for the module (an
unconditional app at / and a conditional one at /cond, on a free localhost port) driven
over real HTTP: every endpoint, determinism by seed, every bad request, concurrent load."""
from __future__ import annotations

import base64
import io
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from PIL import Image

from ganbench.errors import ConfigError
from serve.sampler import OnnxSampler, SampleError
from serve.settings import resolve
from serve_fixtures import export_tiny, free_port

REPO = Path(__file__).resolve().parents[1]
MAX_N = 32


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"uncond": export_tiny(root, "dcgan", 0), "cond": export_tiny(root, "cdcgan", 10)}


# ---------------------------------------------------------------- the sampler, no HTTP


def test_sampler_is_deterministic_and_batching_keeps_bytes(models):
    s = OnnxSampler(models["uncond"], max_n=MAX_N, threads=1)
    a, b = s.sample(5, seed=3), s.sample(5, seed=3)
    assert a.shape == (5, 1, 28, 28) and a.dtype == np.float32 and a.tobytes() == b.tobytes()
    assert not np.array_equal(a, s.sample(5, seed=4))
    z = np.random.default_rng(3).standard_normal((5, 16), dtype=np.float32)  # the documented recipe
    assert s.run([s.prepare(5, 3)])[0].tobytes() == s.session.run(["images"], {"z": z})[0].tobytes()
    # One batched call over several requests gives each the bytes it gets alone.
    jobs = [s.prepare(n, seed) for n, seed in ((1, 0), (5, 3), (7, 9), (2, 0))]
    for job, out in zip(jobs, s.run(jobs)):
        assert out.tobytes() == s.run([job])[0].tobytes()
    assert s.describe()["provider"] == "CPUExecutionProvider" and s.describe()["latent_dim"] == 16


def test_sampler_labels(models):
    s = OnnxSampler(models["cond"], max_n=MAX_N)
    all3 = s.sample(4, seed=0, labels=[3])
    assert all3.tobytes() == s.sample(4, seed=0, labels=[3, 3, 3, 3]).tobytes()
    assert not np.array_equal(all3, s.sample(4, seed=0, labels=[4]))
    # No labels: the classes in turn, as `ganbench sample` draws them.
    assert s.sample(4, seed=0).tobytes() == s.sample(4, seed=0, labels=[0, 1, 2, 3]).tobytes()
    for labels, needle in (([1, 2], "n=4"), ([10], "0..9"), ([-1], "0..9")):
        with pytest.raises(SampleError, match=needle):
            s.sample(4, seed=0, labels=labels)
    with pytest.raises(SampleError, match="unconditional"):
        OnnxSampler(models["uncond"]).sample(1, seed=0, labels=[0])
    with pytest.raises(SampleError, match=f"1..{MAX_N}"):
        s.sample(MAX_N + 1, seed=0, labels=[0])


def test_settings_from_args_env_and_defaults():
    env = {"GANBENCH_MODEL": "/m/env.onnx", "GANBENCH_MAX_N": "8", "GANBENCH_REPLICAS": "3"}
    s = resolve({"replicas": 2}, env=env)
    assert (s.model, s.max_n, s.replicas, s.gpu) == ("/m/env.onnx", 8, 2, False)  # explicit wins over env
    assert resolve({"model": "x.onnx"}, env={}).max_n == 256
    with pytest.raises(ConfigError, match="no model"):
        resolve({}, env={})
    with pytest.raises(ConfigError, match="unknown serve setting"):
        resolve({"model": "x.onnx", "max_m": 3}, env={})
    with pytest.raises(ConfigError, match="max_n"):
        resolve({"model": "x.onnx", "max_n": 0}, env={})


def test_config_file_is_a_valid_serve_config():
    from ray.serve.schema import ServeDeploySchema

    cfg = ServeDeploySchema.model_validate(yaml.safe_load((REPO / "serve" / "config.yaml").read_text()))
    app = cfg.applications[0]
    assert app.import_path == "serve.app:app_builder" and app.args["model"].endswith(".onnx")
    assert cfg.http_options.host == "0.0.0.0"


# ---------------------------------------------------------------- over HTTP


def register(onnx_path: Path, store: Path, name: str) -> str:
    """Log `onnx_path` as an MLflow model of a fresh run, register it, give it the champion
    alias (what `ganbench export` does for a trained run); returns the tracking URI."""
    from types import SimpleNamespace

    from mlflow.tracking import MlflowClient

    from ganbench.export.export import _log_and_register
    from ganbench.export.metadata import read_metadata
    from ganbench.tracking import get_or_create_experiment

    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.get_run(client.create_run(get_or_create_experiment(uri, "serve-test")).info.run_id)
    import onnx

    res = _log_and_register(SimpleNamespace(tracking_uri=uri, run=run), onnx.load(str(onnx_path)),
                            read_metadata(onnx_path), name, "champion", "")
    assert res["alias_version"] == "1"
    return uri


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    import ray
    from ray import serve

    from serve.app import app_builder
    from serve.cli import start

    args = yaml.safe_load((REPO / "serve" / "config.yaml").read_text())["applications"][0]["args"]
    common = {"max_n": MAX_N, "num_cpus": 0.5}  # two small replicas fit on a 2-core machine
    url = start({**args, **common, "model": str(models["uncond"])}, "127.0.0.1", free_port())
    # The conditional app comes from the MLflow registry by alias, as a RayService deploys it.
    uri = register(models["cond"], tmp_path_factory.mktemp("registry"), "cond")
    serve.run(app_builder({**common, "model": "models:/cond@champion", "tracking_uri": uri}),
              name="cond", route_prefix="/cond")
    yield url
    serve.shutdown()
    ray.shutdown()


def _post(url, body, **kw):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return requests.post(url, data=data, headers={"content-type": "application/json"}, timeout=60, **kw)


def test_health_model_and_docs(server):
    assert requests.get(f"{server}/healthz", timeout=10).json() == {"status": "ok"}
    m = requests.get(f"{server}/v1/model", timeout=10).json()
    assert m["latent_dim"] == 16 and m["image_shape"] == [1, 28, 28] and m["max_n"] == MAX_N
    assert m["provider"] == "CPUExecutionProvider" and m["normalization"] == "[-1, 1]"
    cond = requests.get(f"{server}/cond/v1/model", timeout=10).json()
    assert cond["num_classes"] == 10 and cond["model_uri"] == "models:/cond/1"  # the alias, pinned at build
    spec = requests.get(f"{server}/openapi.json", timeout=10).json()
    assert {"/v1/sample", "/v1/model", "/healthz"} <= set(spec["paths"])
    schema = spec["paths"]["/v1/sample"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"n", "seed", "labels", "truncation", "format"}
    assert "text/html" in requests.get(f"{server}/docs", timeout=10).headers["content-type"]


def test_formats_and_determinism(server, models):
    r = _post(f"{server}/v1/sample", {"n": 7, "seed": 5, "format": "npy"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-seed"] == "5"
    arr = np.load(io.BytesIO(r.content))
    assert arr.shape == (7, 1, 28, 28) and arr.dtype == np.float32 and -1 <= arr.min() <= arr.max() <= 1
    # Same bytes as the typed function in-process, and as the same request again.
    assert arr.tobytes() == OnnxSampler(models["uncond"], threads=1).sample(7, 5).tobytes()
    assert _post(f"{server}/v1/sample", {"n": 7, "seed": 5, "format": "npy"}).content == r.content
    png = _post(f"{server}/v1/sample", {"n": 4, "seed": 5})
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (2 * 30 + 2, 2 * 30 + 2)  # 2x2 grid, 2 px padding
    assert _post(f"{server}/v1/sample", {"n": 4, "seed": 5}).content == png.content
    j = _post(f"{server}/v1/sample", {"n": 3, "seed": 5, "format": "json"}).json()
    assert j["seed"] == 5 and j["shape"] == [1, 28, 28] and len(j["images"]) == 3
    assert Image.open(io.BytesIO(base64.b64decode(j["images"][0]))).size == (28, 28)
    fresh = _post(f"{server}/v1/sample", {"n": 2, "format": "npy"})
    seed = int(fresh.headers["x-seed"])  # a random seed is echoed, so the sample can be redrawn
    assert _post(f"{server}/v1/sample", {"n": 2, "format": "npy", "seed": seed}).content == fresh.content


def test_conditional_labels_over_http(server):
    a = _post(f"{server}/cond/v1/sample", {"n": 3, "seed": 1, "labels": [7], "format": "npy"})
    b = _post(f"{server}/cond/v1/sample", {"n": 3, "seed": 1, "labels": [7, 7, 7], "format": "npy"})
    assert a.status_code == 200 and a.content == b.content
    j = _post(f"{server}/cond/v1/sample", {"n": 2, "seed": 1, "labels": [0, 9], "format": "json"}).json()
    assert j["labels"] == [0, 9]
    j = _post(f"{server}/cond/v1/sample", {"n": 12, "seed": 1, "format": "json"}).json()
    assert j["labels"] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # no labels: the classes in turn


def _npy(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content))


@pytest.mark.parametrize("kind, prefix, psi", [("uncond", "", 0.6), ("cond", "/cond", 0.5)])
def test_same_seed_same_image_in_cli_python_onnx_and_http(server, models, tmp_path, capsys, kind, prefix, psi):
    """One noise recipe: `ganbench sample`, ganbench.sample.sample, the ONNX file and the HTTP
    endpoint give the same images for the same model, seed and truncation (labels: the default
    cycle for the conditional model), and image i does not depend on how many were asked for."""
    from ganbench.cli import main
    from ganbench.sample import load_generator, sample

    ckpt = models[kind].parent / ("dcgan" if kind == "uncond" else "cdcgan")  # where export_tiny saved it
    assert main(["sample", "--checkpoint", str(ckpt), "--n", "5", "--seed", "11", "--truncation", str(psi),
                 "--out", str(tmp_path / "cli.npy")]) == 0
    capsys.readouterr()
    cli = np.load(tmp_path / "cli.npy")
    python = sample(load_generator(ckpt)[1], 5, seed=11, truncation=psi).numpy()
    onnx = OnnxSampler(models[kind], threads=1).sample(5, 11, truncation=psi)
    r = _post(f"{server}{prefix}/v1/sample", {"n": 5, "seed": 11, "truncation": psi, "format": "npy"})
    assert r.headers["x-truncation"] == str(psi)
    http = _npy(r)
    assert np.array_equal(cli, python) and onnx.tobytes() == http.tobytes()
    assert np.abs(cli - http).max() <= 1e-4  # torch vs onnxruntime: the export's own tolerance
    # psi was applied on every path, and the first 2 images of 5 are the images of a request for 2.
    untruncated = _npy(_post(f"{server}{prefix}/v1/sample", {"n": 5, "seed": 11, "format": "npy"}))
    assert not np.allclose(http, untruncated, rtol=0, atol=1e-6)
    first2 = _npy(_post(f"{server}{prefix}/v1/sample", {"n": 2, "seed": 11, "truncation": psi, "format": "npy"}))
    assert first2.tobytes() == http[:2].tobytes()
    j = _post(f"{server}{prefix}/v1/sample", {"n": 1, "seed": 11, "truncation": psi, "format": "json"}).json()
    assert j["truncation"] == psi
    assert json.loads(Image.open(io.BytesIO(base64.b64decode(j["images"][0]))).info["ganbench"])["truncation"] == psi


BAD = [
    ("/v1/sample", b"{not json", 400),
    ("/v1/sample", b"", 400),
    ("/v1/sample", [1, 2], 422),
    ("/v1/sample", {"n": 1, "colour": "red"}, 422),
    ("/v1/sample", {"n": 0}, 422),
    ("/v1/sample", {"n": MAX_N + 1}, 422),
    ("/v1/sample", {"n": "3"}, 422),
    ("/v1/sample", {"n": 2.5}, 422),
    ("/v1/sample", {"n": True}, 422),
    ("/v1/sample", {"seed": -1}, 422),
    ("/v1/sample", {"format": "gif"}, 422),
    ("/v1/sample", {"labels": [0]}, 422),
    ("/v1/sample", {"truncation": 1.5}, 422),
    ("/v1/sample", {"truncation": -0.1}, 422),
    ("/v1/sample", {"truncation": "0.5"}, 422),
    ("/v1/sample", {"truncation": True}, 422),
    ("/v1/sample", {"truncation": None}, 422),
    ("/v1/sample", b'{"truncation": NaN}', 422),
    ("/cond/v1/sample", {"n": 2, "labels": [1, 2, 3]}, 422),
    ("/cond/v1/sample", {"n": 2, "labels": [10]}, 422),
    ("/cond/v1/sample", {"n": 2, "labels": ["a"]}, 422),
    ("/v1/sample", {"n": 1, "labels": [0] * 30000}, 413),  # ~90 KB > 64 KiB
]


@pytest.mark.parametrize("path, body, status", BAD)
def test_bad_requests_get_4xx_json(server, path, body, status):
    r = _post(server + path, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert isinstance(error, str) and "\n" not in error
    if isinstance(body, dict) and "truncation" in body:  # the field is named, with what was wrong
        assert error.startswith("invalid request: truncation:"), error
    assert requests.get(f"{server}/healthz", timeout=10).status_code == 200


def test_oversized_chunked_body_is_refused(server):
    chunks = (b" " * 8192 for _ in range(20))  # no content-length: counted while read
    r = requests.post(f"{server}/v1/sample", data=chunks, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "error" in r.json()
    assert requests.get(f"{server}/healthz", timeout=10).status_code == 200


def test_concurrent_load_has_no_errors_and_keeps_bytes(server):
    """200 requests from 16 threads: all succeed, and batching never changes a request's bytes."""
    def ask(i):
        body = {"n": 1 + i % 8, "seed": i % 10, "format": "npy"}
        with requests.Session() as s:
            r = s.post(f"{server}/v1/sample", json=body, timeout=120)
        return body, r.status_code, r.content

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(ask, range(200)))
    assert [code for _, code, _ in results].count(200) == 200
    first = {}
    for body, _, content in results:
        key = (body["n"], body["seed"])
        assert first.setdefault(key, content) == content
    # Requests really shared onnxruntime calls (one replica serves them all).
    assert requests.get(f"{server}/v1/model", timeout=10).json()["batching"]["largest_batch_requests"] > 1


def test_cli_refuses_missing_model_and_busy_port(models):
    from serve.cli import start

    with pytest.raises(ConfigError, match="no ONNX model"):
        start({"model": "missing.onnx"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="cannot listen"):
            start({"model": str(models["uncond"])}, "127.0.0.1", s.getsockname()[1])
