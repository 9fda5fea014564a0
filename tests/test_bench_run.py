"""`ganbench bench` end to end on a local Ray: the built-in smoke suite plus a cell that fails
at run time and a searched cell; every run nested in MLflow with its tags; the report's files
and HTML; a resumed suite after a killed driver runs only what did not finish; `ganbench
compare` rebuilds the report from MLflow and refuses runs whose recorded protocols differ."""
from __future__ import annotations

import csv
from html.parser import HTMLParser

import pytest
import yaml
from mlflow.tracking import MlflowClient

from ganbench.bench.builtin import SUITES
from ganbench.bench.mlflow_suite import STALE_ERROR
from ganbench.bench.runner import BenchOptions, run_suite
from ganbench.bench.suite import parse_suite
from ganbench.cli import main

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("local_ray")]


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.images = [], 0

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        src = dict(attrs).get("src", "")
        if tag == "img":
            assert src.startswith("data:image/png;base64,"), "every image is inline"
            self.images += 1
        assert not (tag in ("link", "script") and (dict(attrs).get("href") or dict(attrs).get("src"))), "no external assets"


def smoke_with_a_broken_cell():
    data = yaml.safe_load(SUITES.get("smoke"))
    # Fails inside the run (the loader refuses DALI for an in-memory set), after its MLflow run exists.
    data["cells"].append({"name": "broken", "preset": "debug", "set": {"data.loader": "dali"}})
    # A searched cell: 2 random-search trials in the driver (tuning's machinery), the best re-run with 1 seed.
    data["cells"].append({"name": "tuned", "preset": "debug", "search": {
        "trials": 2, "seeds": 1, "sampler": "random", "space": {"params": {"lr": {"low": 1e-4, "high": 1e-3}}}}})
    return parse_suite(data, "smoke+broken")


def by_key(runs):
    out = {}
    for r in runs:
        if r.data.tags.get("ganbench.kind") == "study":
            continue
        out.setdefault((r.data.tags["ganbench.cell"], r.data.tags["ganbench.seed"]), []).append(r)
    return out


def test_smoke_suite_failing_cell_resume_and_compare(tmp_path, capsys):
    suite, opts = smoke_with_a_broken_cell(), BenchOptions(out=str(tmp_path / "runs"), parallel=2)
    s1 = run_suite(suite, opts)
    assert (s1["ran"], s1["failed"], s1["skipped"]) == (7, 2, 0)
    assert set(s1["errors"]) == {"broken/s0", "broken/s1"} and all("dali" in e for e in s1["errors"].values())

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = client.get_run(s1["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["ganbench.kind"] == "suite"
    runs = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    keys = by_key(runs)
    assert set(keys) == {(c, s) for c in ("bce", "lsgan", "broken") for s in ("0", "1")} | {("tuned", "0")}
    study = [r for r in runs if r.data.tags.get("ganbench.kind") == "study"]
    assert len(study) == 1 and study[0].data.tags["ganbench.cell"] == "tuned"  # the study's run, nested too
    for (cell, seed), (r,) in keys.items():
        t = r.data.tags
        assert t["ganbench.suite"] == "smoke" and t["ganbench.protocol"] and t["ganbench.metric"] == "fid300_digitscnn"
        assert cell == "broken" or t["ganbench.eval.backbone"] == "digitscnn"
        if cell == "broken":
            assert r.info.status == "FAILED" and "dali" in t["ganbench.error"]
        else:
            assert r.info.status == "FINISHED" and r.data.params["train.seed"] == seed
            assert "fid300_digitscnn" in r.data.metrics and r.data.metrics["cost/cpu_s"] > 0

    folder = tmp_path / "runs" / "bench" / "smoke"
    for name in ("leaderboard.md", "leaderboard.csv", "runs.csv", "leaderboard.html", "distribution.png",
                 "curves.png", "efficiency.png", "samples.png", "search_budget.png"):
        assert (folder / name).is_file(), name
    rows = {r["cell"]: r for r in csv.DictReader((folder / "leaderboard.csv").open())}
    assert set(rows) == {"bce", "lsgan", "broken", "tuned"} and rows["broken"]["failed"] == "2" and rows["broken"]["rank"] == "-"
    assert rows["bce"]["runs"] == "2" and rows["bce"]["rank"].startswith("1")
    page = Text()
    page.feed((folder / "leaderboard.html").read_text())
    text = " ".join(page.text)
    assert all(c in text for c in ("bce", "lsgan", "broken", "tuned")) and page.images >= 6
    assert "leaderboard/leaderboard.html" in {a.path for a in client.list_artifacts(parent.info.run_id, "leaderboard")}

    # What a killed driver leaves behind: a run still RUNNING; and one finished run made FAILED by hand.
    by = {k: v[0].info.run_id for k, v in keys.items()}
    client.set_terminated(by[("bce", "0")], status="FAILED")
    client.update_run(by[("lsgan", "1")], status="RUNNING")
    s2 = run_suite(suite, opts)
    assert s2["parent_run_id"] == s1["parent_run_id"]
    assert (s2["ran"], s2["skipped"]) == (4, 3)  # bce/0, lsgan/1 and the broken cell again; nothing finished repeated
    after = by_key(client.search_runs([parent.info.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"))
    assert sum(len(v) for v in after.values()) == 11
    assert len(after[("tuned", "0")]) == 1
    assert len(after[("bce", "1")]) == 1 and len(after[("lsgan", "0")]) == 1
    assert client.get_run(by[("lsgan", "1")]).data.tags["ganbench.error"] == STALE_ERROR
    assert sorted(r.info.status for r in after[("bce", "0")]) == ["FAILED", "FINISHED"]

    # compare: the same report from MLflow alone; then a run whose protocol differs is refused
    capsys.readouterr()
    assert main(["compare", s1["parent_run_id"], "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "leaderboard.html").is_file()
    lsgan0 = after[("lsgan", "0")][0].info.run_id
    client.set_tag(lsgan0, "ganbench.eval.n_real", "500")
    assert main(["compare", s1["parent_run_id"], "--out", str(tmp_path / "cmp2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot rank fid300_digitscnn: the runs' protocols differ in 1 key(s): n_real (1797 in" in err, err
