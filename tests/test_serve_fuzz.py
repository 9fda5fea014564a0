"""Property-based fuzzing of the HTTP API (hypothesis, derandomized: the same examples on
every run) against real Ray Serve: an unconditional app at / and a conditional one at /cond.

- POST /v1/sample with generated JSON: the real fields mixed with wrong types, huge and
  negative ints, floats, NaN/Infinity, nested objects, unicode, extra keys, non-object JSON.
  An independent oracle says whether the body is valid: valid ones must get 200 and
  well-formed images (content type, decodable PNG / npy / JSON with the asked n and seed),
  invalid ones a 4xx JSON error.
- Raw bodies (random bytes, broken JSON, invalid UTF-8) under random content types, and
  random methods, paths and query strings: never a 5xx.
- Every status POST /v1/sample answers is one /openapi.json documents (400, 413 and 422
  were missing before; schemathesis flagged it too).
- No replica process dies or restarts during any of it."""
from __future__ import annotations

import base64
import http.client
import io
import json
import math
import urllib.parse
from collections import Counter

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from serve_fixtures import export_tiny, free_port, serve_actors, stop_serve

pytestmark = pytest.mark.ray

MAX_N = 6
CLASSES = 10
FIELDS = ("n", "seed", "labels", "truncation", "format")
FORMATS = ("png", "npy", "json")
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ray import serve

    from serve.app import app_builder
    from serve.cli import start

    root = tmp_path_factory.mktemp("fuzz")
    common = {"max_n": MAX_N, "num_cpus": 0.5}
    url = start({**common, "model": str(export_tiny(root, "dcgan", 0))}, "127.0.0.1", free_port())
    serve.run(app_builder({**common, "model": str(export_tiny(root, "cdcgan", CLASSES))}),
              name="cond", route_prefix="/cond")
    yield url
    stop_serve()


@pytest.fixture(scope="module")
def documented(server) -> set[int]:
    """The statuses /openapi.json documents for POST /v1/sample: every answer must be one."""
    spec = requests.get(f"{server}/openapi.json", timeout=10).json()
    return {int(code) for code in spec["paths"]["/v1/sample"]["post"]["responses"]}


@pytest.fixture
def replicas_stay_up(server):
    """Every fuzz test must leave the same replica processes running, and /healthz answering."""
    before = sorted(a["pid"] for a in serve_actors(app=None)["replica"])
    assert len(before) == 2
    yield
    assert sorted(a["pid"] for a in serve_actors(app=None)["replica"]) == before, "a replica died or restarted"
    for prefix in ("", "/cond"):
        assert requests.get(f"{server}{prefix}/healthz", timeout=10).json() == {"status": "ok"}


def _report(capsys, name: str, statuses: Counter) -> None:
    with capsys.disabled():
        print(f"\n[fuzz] {name}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")


# ---------------------------------------------------------------- strategies

ODD_STRINGS = ["", "NaN", "nan", "Infinity", "-Infinity", "1e309", "-0", "0x10", "1", "png", "PNG", "npy ",
               "json\x00", "\u202epng", "\ud800", "𝕟", "null", "[]", "{}", "'; DROP TABLE", "%s%n"]
EDGE_INTS = [0, 1, -1, MAX_N, MAX_N + 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30]

leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(EDGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(ODD_STRINGS))
anything = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=4), max_leaves=12)
# Each field: mostly plausible values (so that many requests are valid), sometimes anything.
n_values = st.one_of(st.integers(1, MAX_N), st.integers(-3, MAX_N + 3), st.sampled_from(EDGE_INTS),
                     st.sampled_from([1.0, 2.5, True, False, "3"]), anything)
seed_values = st.one_of(st.none(), st.integers(0, 2**16), st.sampled_from(EDGE_INTS), anything)
label_values = st.one_of(
    st.none(), st.lists(st.integers(0, CLASSES - 1), min_size=1, max_size=1),
    st.lists(st.integers(0, CLASSES - 1), min_size=1, max_size=MAX_N),
    st.lists(st.one_of(st.integers(-2, CLASSES + 1), st.sampled_from(EDGE_INTS)), max_size=MAX_N + 2), anything)
format_values = st.one_of(st.sampled_from(FORMATS), st.sampled_from(ODD_STRINGS), anything)
truncation_values = st.one_of(st.floats(0, 1), st.sampled_from([0, 1, -0.0, 1e-300, 1.0000001, -1e-9, 2]),
                              st.floats(allow_nan=True, allow_infinity=True), anything)
sample_bodies = st.builds(
    lambda fields, extra: {**fields, **extra},
    st.fixed_dictionaries({}, optional={"n": n_values, "seed": seed_values, "labels": label_values,
                                        "truncation": truncation_values, "format": format_values}),
    st.one_of(st.just({}), st.just({}), st.dictionaries(st.text(max_size=8), anything, max_size=2)))
# Near the contract's edges: mostly valid, sometimes one step outside (n=0, n=MAX_N+1, label -1
# or CLASSES, seed 2**63, labels sent to the unconditional model), so that an off-by-one in the
# server is found.
edge_labels = st.one_of(st.lists(st.integers(-1, CLASSES), min_size=1, max_size=1),
                        st.lists(st.integers(0, CLASSES - 1), min_size=MAX_N - 1, max_size=MAX_N))


def plausible_bodies(conditional: bool):
    optional = {"seed": st.one_of(st.integers(0, 2**16), st.sampled_from([2**63 - 1, 2**63])),
                "format": st.sampled_from(FORMATS),
                "truncation": st.one_of(st.floats(0, 1), st.sampled_from([0, 1, -0.01, 1.01]))}
    labels = edge_labels if conditional else st.one_of(st.none(), st.none(), edge_labels)
    return st.fixed_dictionaries({"n": st.integers(0, MAX_N + 1)}, optional={**optional, "labels": labels})


# (conditional model?, body)
json_cases = st.booleans().flatmap(lambda cond: st.tuples(
    st.just(cond), st.one_of(sample_bodies, plausible_bodies(cond), plausible_bodies(cond), anything)))


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def expected_valid(body, conditional: bool) -> bool:
    """The API contract (serve/README.md), written independently of the server's code."""
    if not isinstance(body, dict) or set(body) - set(FIELDS):
        return False
    n, seed, labels = body.get("n", 1), body.get("seed"), body.get("labels")
    if not (_is_int(n) and 1 <= n <= MAX_N) or body.get("format", "png") not in FORMATS:
        return False
    if seed is not None and not (_is_int(seed) and 0 <= seed <= 2**63 - 1):
        return False
    psi = body.get("truncation", 1.0)  # a JSON number in 0..1; null, strings, booleans, NaN are refused
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not 0 <= psi <= 1:
        return False
    if labels is None:  # conditional models then draw the classes in turn
        return True
    return (conditional and isinstance(labels, list) and len(labels) in {1, n}
            and all(_is_int(x) and 0 <= x < CLASSES for x in labels))


def check_sample_ok(r: requests.Response, body: dict, conditional: bool = False) -> None:
    """A 200 from POST /v1/sample is well formed for what the body asked."""
    n, fmt = body.get("n", 1), body.get("format", "png")
    seed = int(r.headers["x-seed"])
    if body.get("seed") is not None:
        assert seed == body["seed"]
    assert float(r.headers["x-truncation"]) == body.get("truncation", 1.0)
    if fmt == "png":
        assert r.headers["content-type"] == "image/png"
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        assert Image.open(io.BytesIO(r.content)).size == (cols * 30 + 2, rows * 30 + 2)
    elif fmt == "npy":
        assert r.headers["content-type"] == "application/octet-stream"
        arr = np.load(io.BytesIO(r.content), allow_pickle=False)
        assert arr.shape == (n, 1, 28, 28) and arr.dtype == np.float32 and np.all(np.abs(arr) <= 1)
    else:
        assert r.headers["content-type"] == "application/json"
        j = r.json()
        assert (j["n"], j["seed"], j["shape"], len(j["images"])) == (n, seed, [1, 28, 28], n)
        assert Image.open(io.BytesIO(base64.b64decode(j["images"][-1]))).size == (28, 28)
        assert j["truncation"] == body.get("truncation", 1.0)
        if body.get("labels") is not None:
            assert j["labels"] == (body["labels"] * n if len(body["labels"]) == 1 else body["labels"])
        elif conditional:
            assert j["labels"] == [i % CLASSES for i in range(n)]
        else:
            assert j["labels"] is None


def _encode(body, ascii_only: bool) -> bytes:
    # allow_nan (the default) writes NaN/Infinity, which strict JSON parsers refuse; lone
    # surrogates become invalid UTF-8 when not escaped.
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def post_sample(url: str, data: bytes, content_type: str | None = "application/json") -> requests.Response:
    headers = {} if content_type is None else {"content-type": content_type}
    return requests.post(f"{url}/v1/sample", data=data, headers=headers, timeout=30)


def check_sample(url: str, body, data: bytes, conditional: bool, documented: set[int]) -> int:
    r = post_sample(url, data)
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert r.status_code in documented, (r.status_code, r.text[:500])
    if expected_valid(body, conditional):
        assert r.status_code == 200, (r.status_code, r.text[:500])
        check_sample_ok(r, body, conditional)
    else:
        assert 400 <= r.status_code < 500, (r.status_code, r.content[:200])
        assert r.headers["content-type"] == "application/json" and "error" in r.json(), r.text[:500]
    return r.status_code


# ---------------------------------------------------------------- the tests


def test_fuzz_sample_json_bodies(server, documented, replicas_stay_up, capsys):
    statuses: Counter = Counter()

    @FUZZ
    @given(case=json_cases, ascii_only=st.booleans())
    def run(case, ascii_only):
        conditional, body = case
        url = f"{server}/cond" if conditional else server
        statuses[check_sample(url, body, _encode(body, ascii_only), conditional, documented)] += 1

    run()
    _report(capsys, "POST /v1/sample, generated JSON", statuses)
    # The generator reaches both sides of the contract, not only errors.
    assert statuses[200] >= 50 and statuses[422] >= 50, statuses


# Cases found by or worth pinning next to the fuzzer.
REGRESSIONS = [
    (b"[" * 60_000, 400),           # nesting far past any recursion limit (under the 64 KiB limit)
    (b'{"n": 1}' + b"\x00", 400),    # trailing garbage
    (b"\xef\xbb\xbf{\"n\": 1}", 400),  # UTF-8 BOM
    (b'{"n": 1, "n": 2}', 200),      # duplicate keys: the last wins, n=2 is valid
    (b'{"n": NaN}', 422),
    (b'{"n": 1e999}', 422),
    (b'{"n": 2.0}', 422),
    (b'{"seed": 9223372036854775808}', 422),
    (b'{"n": 1, "seed": 18446744073709551616000}', 422),
    (b'{"format": null}', 422),
    (b'{"labels": null, "n": 3, "format": "json"}', 200),
    (b'{"n": 2, "truncation": 0, "format": "json"}', 200),  # an integer psi is a number
    (b'{"truncation": 1e-400}', 200),                     # underflows to 0.0: in range
    (b'{"truncation": -0.0}', 200),
    (b'{"truncation": 1.0000000001}', 422),
    (b'{"truncation": Infinity}', 422),
    (b'{"truncation": "1"}', 422),
    (b'null', 422),
    (b'"n"', 422),
    (b'1', 422),
    (b'\xff\xfe\xfd', 400),
]


@pytest.mark.parametrize("data, status", REGRESSIONS)
def test_pinned_bodies(server, documented, data, status):
    r = post_sample(server, data)
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert status in documented
    if status == 200:
        check_sample_ok(r, json.loads(data))
    else:
        assert isinstance(r.json()["error"], str)


CONTENT_TYPES = ["application/json", "application/json; charset=latin-1", "text/plain", "",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                 "application/octet-stream", "image/png", "*/*", None]


def _raw_bodies():
    valid = st.builds(lambda n, f: json.dumps({"n": n, "format": f}).encode(), st.integers(1, MAX_N),
                      st.sampled_from(FORMATS))
    truncated = st.builds(lambda b, k: b[: max(0, len(b) - k)], valid, st.integers(1, 10))
    return st.one_of(st.binary(max_size=300), valid, truncated, st.text(max_size=80).map(
        lambda t: t.encode("utf-8", "surrogatepass")))


def test_fuzz_raw_bodies_and_content_types(server, documented, replicas_stay_up, capsys):
    statuses: Counter = Counter()

    @FUZZ
    @given(data=_raw_bodies(), content_type=st.one_of(st.sampled_from(CONTENT_TYPES),
                                                      st.text(st.characters(min_codepoint=32, max_codepoint=126),
                                                              max_size=30).map(str.strip)))
    def run(data, content_type):
        r = post_sample(server, data, content_type)
        statuses[r.status_code] += 1
        assert r.status_code < 500, (r.status_code, r.text[:500])
        assert r.status_code in documented, (r.status_code, r.text[:500])
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        if r.status_code == 200:
            # The route reads the body as JSON whatever the content type says.
            assert body is not None and expected_valid(body, conditional=False), data
            check_sample_ok(r, body)
        else:
            assert "error" in r.json()
            if body is not None:
                assert not expected_valid(body, conditional=False), (data, r.text[:300])

    run()
    _report(capsys, "POST /v1/sample, raw bodies and content types", statuses)
    assert statuses[200] >= 10 and statuses[400] >= 10, statuses


KNOWN_PATHS = ["/v1/sample", "/v1/model", "/healthz", "/docs", "/openapi.json", "/redoc", "/", "/v1", "/v2/sample",
               "/-/healthz", "/-/routes", "/v1/sample/", "//v1//sample", "/v1/../healthz", "/%2e%2e/healthz",
               "/v1/sample%00", "/%C3%A9t%C3%A9", "/%zz", "/" + "a" * 2000]
METHODS = ["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"]


def _paths():
    prefix = st.sampled_from(["", "", "/cond"])
    known = st.builds(lambda p, k, q: p + k + q, prefix, st.sampled_from(KNOWN_PATHS),
                      st.one_of(st.just(""), st.builds(lambda q: "?" + urllib.parse.urlencode(q),
                                                       st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                       max_size=3))))
    random = st.text(max_size=40).map(lambda t: "/" + urllib.parse.quote(t.encode("utf-8", "surrogatepass"),
                                                                          safe="/?=&%"))
    return st.one_of(known, known, known, random)


def test_fuzz_methods_and_paths(server, replicas_stay_up, capsys):
    host, port = urllib.parse.urlsplit(server).netloc.split(":")
    statuses: Counter = Counter()

    @settings(FUZZ, max_examples=200)
    @given(method=st.sampled_from(METHODS), path=_paths(),
           body=st.one_of(st.just(b""), st.binary(max_size=50), st.just(b'{"n": 2, "format": "npy"}')))
    def run(method, path, body):
        # http.client sends the path as given (requests would normalise it).
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request(method, path, body=body or None, headers={"content-type": "application/json"})
            r = conn.getresponse()
            content = r.read()
        finally:
            conn.close()
        statuses[r.status] += 1
        assert r.status < 500, (method, path, r.status, content[:300])
        if 200 <= r.status < 300 and method != "HEAD" and "json" in (r.getheader("content-type") or ""):
            json.loads(content)  # a 2xx that claims JSON is JSON

    run()
    _report(capsys, "random methods and paths", statuses)
    assert statuses[200] >= 10 and statuses[404] >= 10, statuses
