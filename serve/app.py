"""The Ray Serve application: a FastAPI ingress over `OnnxSampler`.

- The ONNX session is created once per replica (`__init__`); routes only validate the
  request and hand `(n, seed, labels, truncation)` to the sampler (design practice 10).
- Requests from all clients are batched (`@serve.batch`, budget counted in images) into one
  onnxruntime call. Each request draws its own noise from its own seed and onnxruntime's CPU
  kernels compute every sample independently of its batch neighbours, so a batched request
  returns the same bytes as the same request alone (tested; on CUDA, cuDNN may pick other
  kernels for other batch sizes, so there expect equality to ~1e-6, not bytes).
- Every error is a JSON body `{"error": ..., "detail": ...}` with a 4xx status; nothing a
  client sends can take a replica down.

Deploy: `ganbench serve --model model.onnx`, or `serve run serve/config.yaml` (import path
`serve.app:app_builder`, settings in the config's `args:`; see serve/settings.py)."""
# No `from __future__ import annotations`: FastAPI must see real types on the ingress methods.
import asyncio
import os
import secrets
from pathlib import Path
from typing import Any, Literal, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from ganbench import noise
from ray import serve
from ray.serve import Application

from serve import encode, registry
from serve.sampler import Job, OnnxSampler, SampleError
from serve.settings import ServeSettings, resolve

api = FastAPI(title="ganbench generator",
              description="Samples from a GAN generator exported by `ganbench export` (ONNX). "
                          "Same seed, same bytes.")


class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: StrictInt = Field(1, ge=1, description="number of images (at most max_n, see GET /v1/model)")
    seed: Optional[StrictInt] = Field(None, ge=0, le=2**63 - 1,
                                      description="noise seed; random when absent (echoed in X-Seed)")
    labels: Optional[list[StrictInt]] = Field(None, max_length=65536,
                                              description="conditional models: n class ids, or one for all; "
                                                          "absent: the classes in turn (0, 1, ..., K-1, 0, ...)")
    truncation: float = Field(1.0, ge=0, le=1, strict=True, allow_inf_nan=False,
                              description="psi: the noise is scaled by psi towards its mean (1 = none, 0 = the mean "
                                          "image; InfoGAN codes unscaled); echoed in X-Truncation")
    format: Literal["png", "npy", "json"] = Field(
        "png", description="png: one image grid; npy: float32 (N, C, H, W) in [-1, 1]; json: base64 PNGs")


class ErrorBody(BaseModel):
    """Every error response: 400 body not JSON, 413 body too large, 422 anything else."""
    error: str
    detail: Optional[Any] = None


ERRORS = {400: {"model": ErrorBody, "description": "the body is not valid JSON"},
          413: {"model": ErrorBody, "description": "the body is larger than max_body_bytes (see GET /v1/model)"},
          422: {"model": ErrorBody, "description": "a request the model cannot answer (wrong fields, types, "
                                                   "n out of range, bad labels, truncation outside 0..1)"}}


class HTTPError(Exception):
    def __init__(self, status: int, message: str, detail=None):
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


def _error(status: int, message: str, detail=None) -> JSONResponse:
    return JSONResponse({"error": message, **({"detail": detail} if detail is not None else {})}, status)


@api.exception_handler(HTTPError)
async def _http_error(_, e: HTTPError):
    return _error(e.status, e.message, e.detail)


@api.exception_handler(SampleError)
async def _sample_error(_, e: SampleError):
    return _error(422, str(e))


@api.exception_handler(ValidationError)
async def _validation_error(_, e: ValidationError):
    errors = [{"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in e.errors()]
    if any(err["type"] == "json_invalid" for err in errors):
        return _error(400, "request body is not valid JSON", errors)
    # One line a person can act on (the first problems, by field); the full list is in detail.
    said = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in errors[:3])
    return _error(422, f"invalid request: {said}"[:300], errors)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes before reading them all (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPError(413, f"request body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPError(413, f"request body larger than {limit} bytes")
    return bytes(body)


def _images_in(jobs: list[Job]) -> int:
    return sum(j.n for j in jobs)


@serve.deployment
@serve.ingress(api)
class GanGenerator:
    def __init__(self, settings: dict):
        self.settings = ServeSettings(**settings)
        s = self.settings
        self.sampler = OnnxSampler(s.model, max_n=s.max_n, gpu=s.gpu, threads=s.threads or max(1, int(s.num_cpus)),
                                   tracking_uri=s.tracking_uri)
        self._generate.set_max_batch_size(max(s.max_batch_images, s.max_n))
        self._generate.set_batch_wait_timeout_s(s.batch_wait_ms / 1000)
        self.batches, self.largest_batch = 0, 0  # requests per onnxruntime call, for /v1/model

    @serve.batch(max_batch_size=256, batch_wait_timeout_s=0.005, batch_size_fn=_images_in)
    async def _generate(self, jobs: list[Job]) -> list:
        self.batches, self.largest_batch = self.batches + 1, max(self.largest_batch, len(jobs))
        # In a thread: onnxruntime releases the GIL, so the replica keeps answering meanwhile.
        return await asyncio.to_thread(self.sampler.run, jobs)

    @api.get("/healthz")
    def healthz(self) -> dict:
        return {"status": "ok"}

    @api.get("/v1/model")
    def model(self) -> dict:
        s = self.settings
        batching = {"max_batch_images": max(s.max_batch_images, s.max_n), "batch_wait_ms": s.batch_wait_ms,
                    "batches_run": self.batches, "largest_batch_requests": self.largest_batch}
        return {**self.sampler.describe(), "batching": batching, "max_body_bytes": s.max_body_bytes}

    @api.post("/v1/sample", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": SampleRequest.model_json_schema()}}}},
        responses={200: {"content": {"image/png": {}, "application/octet-stream": {}, "application/json": {}},
                         "description": "images; the seed used is in the X-Seed header, psi in X-Truncation"}, **ERRORS})
    async def sample(self, request: Request) -> Response:
        req = SampleRequest.model_validate_json(await _read_body(request, self.settings.max_body_bytes))
        seed = req.seed if req.seed is not None else secrets.randbits(32)
        job = self.sampler.prepare(req.n, seed, req.labels, req.truncation)
        images = await self._generate(job)
        headers = {"X-Seed": str(seed), "X-Truncation": repr(req.truncation)}
        # The same record `ganbench sample` writes, inside every PNG: the file says how to redraw it.
        record = {"seed": seed, "n": req.n, "truncation": req.truncation, "noise": noise.NOISE_RECIPE,
                  "truncation_rule": noise.TRUNCATION_RULE, "model": self.sampler.source}
        if req.format == "png":
            return Response(encode.grid_png(images, record), media_type="image/png", headers=headers)
        if req.format == "npy":
            return Response(encode.npy(images), media_type="application/octet-stream", headers=headers)
        return JSONResponse({"seed": seed, "n": req.n, "truncation": req.truncation, "shape": list(images.shape[1:]),
                             "labels": None if job.labels is None else job.labels.tolist(),
                             "images": encode.pngs_base64(images, record)}, headers=headers)


def pin_model(s: ServeSettings) -> ServeSettings:
    """What every replica will load, fixed now: an absolute path (replicas may start in another
    working directory), or a registered version with the store to fetch it from (an alias is
    resolved here once, so all replicas serve the same version; see serve/registry.py)."""
    if Path(s.model).is_file():
        return s.model_copy(update={"model": str(Path(s.model).resolve())})
    if registry.is_registry_uri(s.model):
        uri = s.tracking_uri or registry.default_tracking_uri()
        # Hand replicas the store only when it is not in their environment already: a URI from
        # MLFLOW_TRACKING_URI may carry a password, and deployment args are shown by `serve status`.
        keep = s.tracking_uri or (None if os.environ.get("MLFLOW_TRACKING_URI") else uri)
        return s.model_copy(update={"model": registry.pin(s.model, uri), "tracking_uri": keep})
    return s


def app_builder(args: Optional[dict] = None) -> Application:
    """Build the application from a settings dict (a Serve config's `args:`), env vars, defaults."""
    s = pin_model(resolve(args))
    options = {"ray_actor_options": {"num_cpus": s.num_cpus, "num_gpus": 1 if s.gpu else 0},
               # A replica holds as many requests as one batch can take (n=1 each).
               "max_ongoing_requests": max(s.max_batch_images, s.max_n)}
    if s.autoscaling:
        options["autoscaling_config"] = s.autoscaling
    else:
        options["num_replicas"] = s.replicas
    return GanGenerator.options(**options).bind(s.model_dump())
