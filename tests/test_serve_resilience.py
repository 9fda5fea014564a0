"""Serving under load while a replica process is killed (SIGKILL), on real Ray Serve and
real HTTP: failures stay inside a recovery window around the kill, Serve brings the
deployment back to 2 healthy replicas by itself, the new replica serves the same bytes, and
memory of the proxy and replicas stays bounded. The numbers are printed for the README."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from serve_fixtures import deployment_state, export_tiny, free_port, serve_actors, stop_serve, wait_healthy

REPO = Path(__file__).resolve().parents[1]
REPLICAS = 2
LOAD = 2000          # requests in the main load
CLIENTS = 32         # client threads
KILL_AFTER = 500     # the kill happens once this many load requests have completed
WARMUP = 200         # requests before the "before" memory reading (allocators reach steady state)
AFTER = 320          # requests once recovered: every one must succeed
RECOVERY_TIMEOUT = 45.0  # kill -> a new replica RUNNING and the deployment HEALTHY (measured ~9 s)
# Failures may only come from requests in flight on the killed process or routed to it before
# the proxy learns of its death (the GCS reports an actor's death within a second; measured
# last failure ~0.2 s after the kill), so they must end well before the replacement is up...
FAILURE_WINDOW = 5.0
# ...and be few: each client thread has one request in flight, so about CLIENTS at most.
MAX_FAILURES = 2 * CLIENTS
# RSS bound, after a warm-up: measured growth is 5-7 MB (allocator noise) for the proxy and
# each replica. A response is 1-13 KB and its images up to 12.5 KB; the proxy sees all ~2,500
# requests and the survivor ~1,300 or more (it is alone while the replacement starts), so a
# proxy keeping >13 KB or a replica keeping >25 KB per request (e.g. every response, every
# image batch) crosses 32 MB, while noise stays 4-5x below it.
RSS_BOUND_MB = 32
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from serve.cli import start

    model = export_tiny(tmp_path_factory.mktemp("resilience"))
    # 0.5 CPU each: 2 replicas and the one started to replace a killed one fit on 2 cores.
    yield start({"model": str(model), "replicas": REPLICAS, "max_n": 8, "num_cpus": 0.5},
                "127.0.0.1", free_port())
    stop_serve()


def _spec(i: int) -> dict:
    """Small requests: n in 1..4, 16 seeds, npy or png (repeats let us compare bytes)."""
    return {"n": 1 + i % 4, "seed": (i // 4) % 16, "format": "npy" if i % 2 else "png"}


def _well_formed(body: dict, r: requests.Response) -> bool:
    if body["format"] == "png":
        return r.headers.get("content-type") == "image/png" and r.content.startswith(PNG_MAGIC)
    arr = np.load(io.BytesIO(r.content), allow_pickle=False)
    return arr.shape == (body["n"], 1, 28, 28) and arr.dtype == np.float32


class Client:
    """32 threads, one keep-alive session each; every request is recorded with its times."""

    def __init__(self, url: str):
        self.url, self.local, self.lock = url, threading.local(), threading.Lock()
        self.done = 0

    def ask(self, i: int) -> dict:
        body = _spec(i)
        s = getattr(self.local, "s", None) or requests.Session()
        self.local.s = s
        t0 = time.monotonic()
        try:
            r = s.post(f"{self.url}/v1/sample", json=body, timeout=30)
            status, ok = r.status_code, r.status_code == 200 and _well_formed(body, r)
            content = r.content if ok else r.text[:300]
        except requests.RequestException as e:  # connection reset, timeout...
            self.local.s = None
            status, ok, content = type(e).__name__, False, str(e)[:300]
        with self.lock:
            self.done += 1
        return {"i": i, "key": (body["n"], body["seed"], body["format"]), "t0": t0, "t1": time.monotonic(),
                "status": status, "ok": ok, "content": content}

    def run(self, indices, pool: ThreadPoolExecutor) -> list:
        return [pool.submit(self.ask, i) for i in indices]


def _process(pid: int):
    import ray  # noqa: F401  (puts Ray's bundled psutil on sys.path; psutil is not a ganbench dependency)
    import psutil

    return psutil.Process(pid)


def _rss_mb(pid: int) -> float:
    return _process(pid).memory_info().rss / 2**20


def _cpu_s(pid: int) -> float:
    t = _process(pid).cpu_times()
    return t.user + t.system


def test_replica_imports_stay_light():
    """A replica process imports serve.app; torch there cost ~5 s of every replica start (so of
    every recovery: 13.8 s -> 9.2 s measured) and ~630 MB per replica (877 -> 244 MB RSS)."""
    code = "import sys, serve.app; print(sorted({'torch', 'mlflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.ray
def test_replica_sigkill_under_load_recovers_by_itself(url, capsys):
    wait_healthy(REPLICAS, timeout=60)
    actors = serve_actors()
    replicas = {a["pid"] for a in actors["replica"]}
    proxy = actors["proxy"][0]["pid"]
    assert len(replicas) == REPLICAS and len(actors["proxy"]) == 1

    client = Client(url)
    with ThreadPoolExecutor(CLIENTS) as pool:
        # Warm-up: every request succeeds before anything is killed; its bytes are the reference.
        warm = [f.result() for f in client.run(range(WARMUP), pool)]
        assert all(r["ok"] for r in warm), [r for r in warm if not r["ok"]][:3]
        reference = {r["key"]: r["content"] for r in warm}
        rss_before = {pid: _rss_mb(pid) for pid in [proxy, *replicas]}

        client.done = 0
        t_load = time.monotonic()
        futures = client.run(range(WARMUP, WARMUP + LOAD), pool)
        while client.done < KILL_AFTER:
            time.sleep(0.01)
        victim = min(replicas)
        survivor = (replicas - {victim}).pop()
        t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)  # a real process kill: no graceful shutdown, no Ray API

        # Recovered: the controller saw the death, a new replica process is RUNNING and the
        # deployment is HEALTHY with 2 replicas again. Polled while the load goes on.
        t_recovered, new_pid = None, None
        deadline = t_kill + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            pids = {a["pid"] for a in serve_actors()["replica"]}
            status, states = deployment_state()
            if (victim not in pids and len(pids) == REPLICAS and status == "HEALTHY"
                    and states == {"RUNNING": REPLICAS}):
                t_recovered, new_pid = time.monotonic(), (pids - {survivor}).pop()
                break
            time.sleep(0.1)
        load = [f.result() for f in futures]
        t_load_end = time.monotonic()
        assert t_recovered is not None, f"not recovered {RECOVERY_TIMEOUT} s after the kill: {deployment_state()}"

        # After recovery every request succeeds, and the new replica takes its share.
        cpu_new = _cpu_s(new_pid)
        client.done = 0
        after = [f.result() for f in client.run(range(WARMUP + LOAD, WARMUP + LOAD + AFTER), pool)]
        cpu_new_after = _cpu_s(new_pid)

    health = requests.get(f"{url}/healthz", timeout=10)
    final = serve_actors()
    rss_after = {pid: _rss_mb(pid) for pid in (proxy, survivor, new_pid)}

    failed = [r for r in load if not r["ok"]]
    ok = len(load) - len(failed)
    # The recovery window: from the kill until the deployment is healthy again. A request
    # counts as inside it when it was in flight at some moment of the window.
    inside = [r for r in failed if r["t1"] >= t_kill and r["t0"] <= t_recovered]
    outside = [r for r in failed if r not in inside]
    first_fail = min((r["t1"] for r in failed), default=t_kill) - t_kill
    last_fail = max((r["t1"] for r in failed), default=t_kill) - t_kill
    statuses = sorted({str(r["status"]) for r in failed})
    example = failed[0]["content"][:100] if failed else None
    served_while_recovering = sum(r["ok"] and r["t0"] > t_kill and r["t1"] < t_recovered for r in load)
    with capsys.disabled():
        print(f"\n[resilience] load: {len(load)} requests from {CLIENTS} threads in {t_load_end - t_load:.1f} s "
              f"({len(load) / (t_load_end - t_load):.0f} req/s); ok {ok}, failed {len(failed)} "
              f"(statuses {statuses}; first/last failure {first_fail:+.2f}/{last_fail:+.2f} s after the kill); "
              f"SIGKILL of replica pid {victim} after {KILL_AFTER} completed; recovered (HEALTHY, "
              f"{REPLICAS} RUNNING, new pid {new_pid}) {t_recovered - t_kill:.1f} s after the kill, "
              f"{served_while_recovering} requests served by the survivor meanwhile; "
              f"e.g. {example!r}; after recovery {sum(r['ok'] for r in after)}/{AFTER} ok, new replica CPU "
              f"+{cpu_new_after - cpu_new:.2f} s\n"
              f"[resilience] RSS MB before -> after: proxy {rss_before[proxy]:.0f} -> {rss_after[proxy]:.0f}, "
              f"surviving replica {rss_before[survivor]:.0f} -> {rss_after[survivor]:.0f}, "
              f"killed replica {rss_before[victim]:.0f} -> new replica {rss_after[new_pid]:.0f} "
              f"(bound +{RSS_BOUND_MB} MB)")

    assert not outside, f"{len(outside)} failures outside the recovery window, e.g. {outside[:3]}"
    assert last_fail <= FAILURE_WINDOW and len(failed) <= MAX_FAILURES, (len(failed), last_fail)
    # Inside the window, failures are the server's (5xx) or the connection's, never a 4xx.
    assert all(not isinstance(r["status"], int) or r["status"] >= 500 for r in failed), statuses
    # The service stayed up while the replacement started: the survivor answered meanwhile.
    assert served_while_recovering > 0
    assert all(r["ok"] for r in after), [r for r in after if not r["ok"]][:3]
    assert cpu_new_after - cpu_new > 0.05, "the new replica took no requests after recovery"
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert deployment_state() == ("HEALTHY", {"RUNNING": REPLICAS})
    # Only the killed process was replaced: the survivor and the proxy are the same processes.
    assert {a["pid"] for a in final["replica"]} == {survivor, new_pid}
    assert [a["pid"] for a in final["proxy"]] == [proxy]
    # Same request, same bytes: before the kill, during the load and on the new replica.
    for r in load + after:
        if r["ok"] and r["key"] in reference:
            assert r["content"] == reference[r["key"]], r["key"]
    for pid, before in ((proxy, rss_before[proxy]), (survivor, rss_before[survivor])):
        assert rss_after[pid] - before <= RSS_BOUND_MB, (pid, before, rss_after[pid])
    assert rss_after[new_pid] - rss_before[victim] <= RSS_BOUND_MB, (rss_before[victim], rss_after[new_pid])
