"""One driver per suite: a second `ganbench bench` on a suite whose driver is alive refuses;
a dead driver's lease (dead pid here, stale heartbeat elsewhere) is taken over."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from ganbench import tracking as trk
from ganbench.bench import driver_lease as dl
from ganbench.bench import mlflow_suite as ms
from ganbench.errors import ConfigError


@pytest.fixture()
def parent(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    handle = ms.suite_parent(uri, "bench", "s", {})
    trk.finish_run(handle, "FINISHED")
    return uri, handle.run_id


def _hold(uri, run_id, host, pid, age_s):
    holder = {"host": host, "pid": pid, "heartbeat": time.time() - age_s}
    trk.client(uri).set_tag(run_id, dl.TAG, json.dumps(holder))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_live_local_driver_refuses_a_second(parent):
    uri, run_id = parent
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _hold(uri, run_id, socket.gethostname(), sleeper.pid, age_s=0)
        with pytest.raises(ConfigError, match=rf"suite 's' is being run by another .*pid {sleeper.pid}"):
            ms.suite_parent(uri, "bench", "s", {})
    finally:
        sleeper.kill()
        sleeper.wait()  # reaped: a zombie still answers kill(pid, 0)
    assert ms.suite_parent(uri, "bench", "s", {}).run_id == run_id  # its pid is gone now: taken over


def test_dead_or_stale_drivers_are_taken_over(parent):
    uri, run_id = parent
    _hold(uri, run_id, socket.gethostname(), _dead_pid(), age_s=0)
    assert ms.suite_parent(uri, "bench", "s", {}).run_id == run_id
    _hold(uri, run_id, "other-host", 1, age_s=dl.LEASE_S + 5)
    assert ms.suite_parent(uri, "bench", "s", {}).run_id == run_id


def test_remote_driver_with_fresh_heartbeat_refuses(parent):
    uri, run_id = parent
    _hold(uri, run_id, "other-host", 1, age_s=10)
    with pytest.raises(ConfigError, match="host other-host"):
        ms.suite_parent(uri, "bench", "s", {})


def test_lease_claims_renews_and_releases(parent, monkeypatch):
    uri, run_id = parent
    monkeypatch.setattr(dl, "HEARTBEAT_S", 0.05)
    c = trk.client(uri)
    lease = dl.Lease(c, run_id).claim()
    first = dl.Holder.parse(c.get_run(run_id).data.tags[dl.TAG])
    assert first.pid == dl.os.getpid() and first.host == socket.gethostname()
    deadline = time.time() + 10
    while dl.Holder.parse(c.get_run(run_id).data.tags[dl.TAG]).heartbeat == first.heartbeat:
        assert time.time() < deadline, "heartbeat never renewed"
        time.sleep(0.05)
    lease.release()
    assert c.get_run(run_id).data.tags[dl.TAG] == "" and dl.Holder.parse("") is None
    assert dl.Holder.parse("{not json") is None  # an unreadable tag holds nothing
