"""The cluster path, for real on one machine: a Ray head started with `ray start --head`
and token authentication, jobs sent with `ray job submit --working-dir`, an `mlflow server`
on PostgreSQL as the tracking store and PostgreSQL as the Optuna storage - the README's recipe."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest
import requests
from mlflow.tracking import MlflowClient

from servers import BIN, MlflowServer, Postgres, free_port, kill_group, wait_until

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[1]
TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def ray_head():
    # A short path: Ray's socket paths must stay under the 107-character limit.
    tmp = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))
    dash = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN,
           "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_TRAIN_V2_ENABLED": "1"}
    env.pop("RAY_ADDRESS", None)
    log = tmp / "head.log"
    proc = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--num-cpus", "2", "--disable-usage-stats",
         "--port", str(free_port()), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash),
         "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
         "--temp-dir", str(tmp)],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"http://127.0.0.1:{dash}"
    try:
        wait_until(lambda: requests.get(f"{address}/api/version", timeout=2).status_code in (200, 401), 120,
                   "ray head", proc, log)
        yield address
    finally:
        kill_group(proc)  # the head's daemons share its process group; never `ray stop` (it stops every Ray here)


def _submit(address: str, entrypoint: str, *, token: bool = True, runtime_env: dict | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    if token:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
    cmd = [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", str(REPO)]
    if runtime_env:
        cmd += ["--runtime-env-json", json.dumps(runtime_env)]
    # `ray job submit -- ARGS` quotes each argument: a shell line goes through `bash -c`.
    return subprocess.run([*cmd, "--", "bash", "-c", entrypoint], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)


def test_submit_without_the_token_is_refused(ray_head):
    r = _submit(ray_head, "echo hello", token=False, timeout=120)
    assert r.returncode != 0
    assert "Authentication" in r.stdout + r.stderr


def test_tune_study_as_a_ray_job_with_mlflow_server_and_postgres(ray_head, tmp_path):
    if why := Postgres.available():
        pytest.skip(why)
    with Postgres() as pg, MlflowServer(tmp_path / "mlflow", backend=pg.create_db("mlflow")) as mlflow_server:
        storage = pg.create_db("optuna")
        entry = (
            # Which ganbench runs: the uploaded working dir, not whatever the image had.
            "python -c 'import ganbench; print(\"GANBENCH_FROM\", ganbench.__file__)' && "
            f"ganbench tune --preset debug --trials 1 --study cluster-test --storage {storage} "
            f"--out {tmp_path / 'runs'} --set train.epochs=2 --set eval.n_gen=1000"
        )
        r = _submit(ray_head, entry, runtime_env={"env_vars": {
            "MLFLOW_TRACKING_URI": mlflow_server.uri, "GANBENCH_CACHE": os.environ["GANBENCH_CACHE"]}})
        out = r.stdout + r.stderr
        assert r.returncode == 0 and "succeeded" in out, out[-5000:]
        origin = next(line for line in out.splitlines() if line.startswith("GANBENCH_FROM"))
        assert "working_dir_files" in origin and str(REPO) not in origin, origin

        summary = json.loads(next(line for line in reversed(r.stdout.splitlines()) if line.startswith("{")))
        assert summary["study"] == "cluster-test"
        assert summary["storage"] == storage.replace("pg-secret-pw", "***"), "the password is never printed"

        study = optuna.load_study(study_name="cluster-test", storage=storage)
        finished = [t for t in study.trials if t.state.is_finished() and t.state.name != "FAIL"]
        assert len(finished) == 1, ([t.state for t in study.trials], out[-6000:])

        client = MlflowClient(mlflow_server.uri)
        exp = client.get_experiment_by_name("ganbench")
        runs = client.search_runs([exp.experiment_id], "tags.`optuna.study` = 'cluster-test'")
        parent = [x for x in runs if x.data.tags.get("ganbench.kind") == "study"]
        trials = [x for x in runs if x.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
        assert len(parent) == 1 and parent[0].info.status == "FINISHED"
        assert "pg-secret-pw" not in json.dumps(parent[0].data.params), "the password must not reach MLflow"
        assert len(trials) == 1 and all(x.info.status == "FINISHED" for x in trials)
        for x in trials:
            assert client.get_metric_history(x.info.run_id, "loss_d"), "trial metrics went to the server"
            assert {a.path for a in client.list_artifacts(x.info.run_id)} >= {"samples", "config.yaml"}


@pytest.mark.slow  # builds a virtualenv and installs from the package index (~1 min)
def test_pip_runtime_env_installs_packages_for_the_job(ray_head):
    """The other runtime-env route: packages the image lacks, installed by Ray per job."""
    try:
        requests.head("https://pypi.org/simple/", timeout=5)
    except requests.RequestException:
        pytest.skip("no route to the package index (pypi.org)")
    r = _submit(ray_head, "python -c 'import ganbench, cowsay; print(\"PIP_OK\", cowsay.__file__)'",
                runtime_env={"pip": ["cowsay==6.1"]})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    line = next(x for x in out.splitlines() if x.startswith("PIP_OK"))
    assert "runtime_resources/pip" in line, line
