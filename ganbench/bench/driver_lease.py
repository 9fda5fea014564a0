"""One driver per suite. Two `ganbench bench` drivers on the same suite would each mark the
other's RUNNING runs as stale and run them again, so the suite's parent run carries a lease:
a tag naming the driver (host, pid) with a heartbeat a background thread renews. A second
driver refuses while the lease is alive; a lease whose driver is gone (its pid is dead on
this host, or its heartbeat is older than LEASE_S from another host) is taken over, which is
how a killed driver's suite resumes.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Optional

from ganbench.errors import ConfigError

TAG = "ganbench.driver"
HEARTBEAT_S = 30.0
LEASE_S = 300.0  # 10 missed heartbeats: the other host's driver is presumed dead


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    heartbeat: float  # time.time() of the last renewal

    @staticmethod
    def parse(raw: Optional[str]) -> Optional["Holder"]:
        try:
            d = json.loads(raw) if raw else None
            return Holder(str(d["host"]), int(d["pid"]), float(d["heartbeat"])) if d else None
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable tag holds nothing

    def alive(self, now: float) -> bool:
        if self.host == socket.gethostname():
            return _pid_alive(self.pid)
        return now - self.heartbeat < LEASE_S


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own stale tag (an earlier suite in this process ended without release)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def check_free(client, run_id: str, suite: str) -> None:
    """Refuse, in one line, when another live driver holds the suite."""
    h = Holder.parse(client.get_run(run_id).data.tags.get(TAG))
    now = time.time()
    if h is not None and h.alive(now):
        raise ConfigError(f"suite {suite!r} is being run by another ganbench bench driver (host {h.host}, "
                          f"pid {h.pid}, heartbeat {now - h.heartbeat:.0f} s ago); wait for it to finish, "
                          f"or stop it: the same command then resumes where it left off")


class Lease:
    """Held from claim() to release(); a daemon thread renews the heartbeat."""

    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="bench-lease", daemon=True)

    def _write(self) -> None:
        me = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
        self.client.set_tag(self.run_id, TAG, json.dumps(me))

    def _renew(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._write()
            except Exception:  # a tracking-server blip: the next beat retries; the lease outlives 10 misses
                pass

    def claim(self) -> "Lease":
        self._write()
        self._thread.start()
        return self

    def release(self) -> None:
        self._stop.set()
        self.client.set_tag(self.run_id, TAG, "")
