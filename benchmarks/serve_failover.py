"""Serving through a replica crash: how many requests fail and how long until the endpoint is
whole again, with a bounded load on.

Setup: the debug-size generator exported to ONNX (speed, not quality, matters here), served by
`ganbench serve`'s app with --replicas replicas of 0.5 CPU each, on localhost. Each round sends
--requests requests (n = 1..4 images, png or npy) from --clients threads; after a quarter of
them have been answered, one replica's process gets SIGKILL. Per round it reports:
  failed        requests that did not get a well-formed 200
  window        first and last failure, seconds after the kill
  recovered     seconds from the kill until Serve reports the deployment HEALTHY with all
                replicas RUNNING again (Serve starts the replacement by itself)
  req/s         throughput of the whole round

    python benchmarks/serve_failover.py [--rounds 3] [--requests 2000] [--clients 32] [--replicas 2]
Prints a table, writes benchmarks/results/serve_failover.{txt,json}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from serve_latency import export_preset  # benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results"
APP, DEPLOYMENT = "ganbench", "GanGenerator"


def replica_pids() -> list[int]:
    # The GCS actor table: ray.util.state needs the dashboard, which `ganbench serve` does not start.
    from ray._private import state

    return [a["Pid"] for a in state.actors().values()
            if a["State"] == "ALIVE" and a["ActorClassName"] == f"ServeReplica:{APP}:{DEPLOYMENT}" and a.get("Pid")]


def healthy(replicas: int) -> bool:
    from ray import serve

    app = serve.status().applications.get(APP)
    if app is None or DEPLOYMENT not in app.deployments:
        return False
    d = app.deployments[DEPLOYMENT]
    return d.status == "HEALTHY" and d.replica_states.get("RUNNING", 0) == replicas


def one_round(url: str, n_requests: int, clients: int, replicas: int) -> dict:
    local, lock = threading.local(), threading.Lock()
    done, kill = [0], {}

    def ask(i: int) -> tuple[float, bool]:
        s = getattr(local, "s", None) or requests.Session()
        local.s = s
        body = {"n": 1 + i % 4, "seed": i % 16, "format": "npy" if i % 2 else "png"}
        try:
            r = s.post(f"{url}/v1/sample", json=body, timeout=30)
            ok = r.status_code == 200 and len(r.content) > 0
        except requests.RequestException:
            local.s, ok = None, False
        t = time.monotonic()
        with lock:
            done[0] += 1
            if done[0] == n_requests // 4 and not kill:
                pid = max(replica_pids())
                os.kill(pid, signal.SIGKILL)  # a real crash: what an OOM kill or a lost node does
                kill.update(t=time.monotonic(), pid=pid)
        return t, ok

    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(ask, range(n_requests)))
    wall = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while not healthy(replicas) and time.monotonic() < deadline:
        time.sleep(0.1)
    recovered = time.monotonic() - kill["t"] if healthy(replicas) else float("nan")
    fails = [t - kill["t"] for t, ok in results if not ok]
    return {"requests": n_requests, "failed": len(fails), "first_fail_s": min(fails) if fails else None,
            "last_fail_s": max(fails) if fails else None, "recovered_s": recovered, "req_per_s": n_requests / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--replicas", type=int, default=2)
    a = ap.parse_args()

    from serve.cli import start

    rows = []
    with tempfile.TemporaryDirectory() as d:
        model, _ = export_preset("debug", Path(d))  # the same exporter as serve_latency.py
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = start({"model": str(model), "replicas": a.replicas, "max_n": 8, "num_cpus": 0.5}, "127.0.0.1", port)
        try:
            for r in range(a.rounds):
                while not healthy(a.replicas):
                    time.sleep(0.2)
                for i in range(100):  # warm the connections and the replicas
                    requests.post(f"{url}/v1/sample", json={"n": 1, "seed": i}, timeout=30)
                rows.append(one_round(url, a.requests, a.clients, a.replicas))
                print(f"round {r + 1}: {rows[-1]}", flush=True)
        finally:
            import ray
            from ray import serve

            serve.shutdown()
            ray.shutdown()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, no GPU"
    lines = [f"serve_failover: {a.replicas} replicas x 0.5 CPU, {a.requests} requests from {a.clients} clients per round, "
             f"one replica SIGKILLed after {a.requests // 4} answers; machine: {machine}",
             f"{'round':>5} {'failed':>7} {'window s':>14} {'recovered s':>12} {'req/s':>7}"]
    for i, r in enumerate(rows, 1):
        window = f"{r['first_fail_s']:+.2f}..{r['last_fail_s']:+.2f}" if r["failed"] else "-"
        lines.append(f"{i:>5} {r['failed']:>7} {window:>14} {r['recovered_s']:12.1f} {r['req_per_s']:7.0f}")
    lines.append(f"median: failed {statistics.median(r['failed'] for r in rows):.0f} of {a.requests}, "
                 f"recovered in {statistics.median(r['recovered_s'] for r in rows):.1f} s")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_failover.txt").write_text(text + "\n")
    (RESULTS / "serve_failover.json").write_text(json.dumps({"machine": machine, "args": vars(a), "rounds": rows}, indent=1))


if __name__ == "__main__":
    main()
