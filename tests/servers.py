"""Real servers for the cluster and fault tests: an `mlflow server`, a PostgreSQL, a Ray head.

Each is a context manager that starts the real program as a subprocess in its own session
(so killing it kills its children too), waits until it answers, and stops it afterwards.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:] if log else ''}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} not up after {timeout:.0f} s: {log.read_text()[-3000:] if log else ''}")


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(Exception):
        proc.wait(timeout=30)


class MlflowServer:
    """`mlflow server` with a SQLite (or given) backend and proxied artifacts, one worker (see design.md:
    without MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false and --workers 1 it starts ~2 GB of workers)."""

    def __init__(self, root: Path, port: int | None = None, backend: str | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.backend = backend or f"sqlite:///{self.root / 'mlflow.db'}"  # or postgresql://...
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "server.log"
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", self.backend,
             "--artifacts-destination", str(self.root / "artifacts")],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_until(lambda: requests.get(f"{self.uri}/health", timeout=2).status_code == 200, 90,
                   "mlflow server", self.proc, log)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Postgres:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free port, run as the `postgres`
    user when we are root (PostgreSQL refuses to run as root)."""

    def __init__(self):
        # Its own folder under /tmp: pytest's tmp_path sits in a root-only (0700) directory
        # that the postgres user cannot enter.
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="ganbench-pg-"))
        self.port = free_port()
        self.proc = None

    @staticmethod
    def available() -> str | None:
        """None when usable, else why not (for pytest.skip)."""
        for tool in ("initdb", "pg_ctl"):
            if not shutil.which(tool):
                return f"PostgreSQL server binaries ({tool}) not on PATH: install Debian's postgresql"
        if os.geteuid() == 0 and not shutil.which("runuser"):
            return "running as root without runuser: cannot start PostgreSQL as another user"
        return None

    def _as_pg(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def __enter__(self) -> "Postgres":
        data = self.root / "pgdata"
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(self._as_pg(["initdb", "-D", str(data), "-U", "ganbench", "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True)
        subprocess.run(self._as_pg(["pg_ctl", "-D", str(data), "-l", str(self.root / "pg.log"), "-w",
                                    "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start"]),
                       check=True, capture_output=True)
        return self

    def create_db(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="ganbench", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        # A password in the URL, as on a cluster: it must never reach logs or MLflow params.
        with psycopg.connect(host="127.0.0.1", port=self.port, user="ganbench", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("ALTER USER ganbench PASSWORD 'pg-secret-pw'")
        return f"postgresql://ganbench:pg-secret-pw@127.0.0.1:{self.port}/{name}"

    def __exit__(self, *exc):
        subprocess.run(self._as_pg(["pg_ctl", "-D", str(self.root / "pgdata"), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
