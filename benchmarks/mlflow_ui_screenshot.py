"""Check in a real browser that the MLflow UI link ganbench prints shows the runs.

MLflow 3.17 opens an experiment in its GenAI view (traces), where training runs are not
listed; ganbench prints `ganbench.tracking.ui_link`, which selects the Model-training view.
This script makes a demo-like SQLite store holding one real `debug` training run (experiment
`ganbench-demo`), starts `mlflow ui` on a free localhost port the way ganbench tells users to,
and takes headless-chromium screenshots of the link and, for comparison, of the plain
experiment URL. It also reads the rendered DOM and says whether the run's name is in it.

    apt-get install -y chromium          # Debian
    .venv/bin/python benchmarks/mlflow_ui_screenshot.py [--out benchmarks/results]

Writes mlflow_ui_runs.png (the link) and mlflow_ui_default.png (without it); exit status 1
if the run is not visible through the link. tests/test_mlflow_ui.py runs `check` (slow).
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

EXPERIMENT = "ganbench-demo"
RUN_NAME = "ui-check-run"


def chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


def make_store(root: Path) -> tuple[str, str]:
    """A store like the demo's with one finished `debug` run; returns (tracking URI, experiment id)."""
    from ganbench import config as C
    from ganbench.presets import get_preset
    from ganbench.tracking import client
    from ganbench.train import train

    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = C.with_updates(get_preset("debug"), train={"epochs": 2, "max_steps_per_epoch": 4},
                         tracking={"tracking_uri": uri, "experiment": EXPERIMENT, "run_name": RUN_NAME})
    cwd = os.getcwd()
    os.chdir(root)  # artifacts (./mlartifacts) beside the store, as in the demo
    try:
        train(cfg, out=root / "runs", progress=False)
    finally:
        os.chdir(cwd)
    return uri, client(uri).get_experiment_by_name(EXPERIMENT).experiment_id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ui(uri: str, port: int, log: Path) -> subprocess.Popen:
    """`mlflow ui` as ganbench's hint prints it (one worker, no job runner), ready to answer."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow ui exited: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("mlflow ui did not answer within 120 s")


def browse(url: str, png: Path | None = None, budget_ms: int = 15000) -> str:
    """Render `url` in headless chromium; save a screenshot to `png` if given; return the DOM."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=1400,900", f"--virtual-time-budget={budget_ms}"]
    if png is not None:
        subprocess.run([*base, f"--screenshot={png}", url], check=True, capture_output=True, timeout=120)
    return subprocess.run([*base, "--dump-dom", url], check=True, capture_output=True, text=True,
                          timeout=120).stdout


def check(work: Path, out: Path | None = None) -> dict:
    """Store, UI, browser: whether the run is visible through the link and without it."""
    from ganbench.tracking import ui_link

    uri, exp_id = make_store(work)
    port = _free_port()
    ui = start_ui(uri, port, work / "mlflow-ui.log")
    try:
        link = ui_link(exp_id, port=port)
        plain = f"http://127.0.0.1:{port}/#/experiments/{exp_id}"
        shots = (out / "mlflow_ui_runs.png", out / "mlflow_ui_default.png") if out else (None, None)
        return {"link": link, "run_visible_with_link": RUN_NAME in browse(link, shots[0]),
                "run_visible_without_link": RUN_NAME in browse(plain, shots[1])}
    finally:
        os.killpg(ui.pid, 15)  # uvicorn and its worker
        ui.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"), help="where the PNGs go")
    args = ap.parse_args()
    if chromium() is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlflow-ui-") as d:
        result = check(Path(d), Path(args.out))
    print(result)
    return 0 if result["run_visible_with_link"] else 1


if __name__ == "__main__":
    sys.exit(main())
