"""`also`: metrics shown beside the ranking one, never ranked. The suite field's parsing, base
names completed from the ranking metric (both tiers), the leaderboard's per-cell mean and std
in Markdown, CSV and HTML (a run that did not log one is left out, not counted as zero), and
the values read back from a real MLflow store at the step of the ranking value."""
from __future__ import annotations

import csv
import dataclasses
import math
import statistics

import pytest
import yaml

from ganbench.bench import mlflow_suite as ms
from ganbench.bench.compare import compare
from ganbench.bench.runner import publish
from ganbench.bench.leaderboard import build
from ganbench.bench.records import CurvePoint, RunRecord, record_from_run, resolve_extra
from ganbench.bench.report import _pm, write_report
from ganbench.bench.suite import parse_suite
from ganbench.cli import main
from ganbench.errors import ConfigError
from ganbench.tracking_store import TrackingHandle

GOOD = {"name": "s", "protocol": {"metric": "fid", "backbone": "mnistcnn", "n_gen": 5000, "final": False},
        "cells": [{"name": "a", "preset": "debug"}]}
NAN = math.nan


def _with_also(also) -> dict:
    return {**GOOD, "protocol": {**GOOD["protocol"], "also": also}}


# ------------------------------------------------------------------ the suite field


def test_also_parses_in_order_once_and_leaves_the_protocol_hash_alone():
    s = parse_suite(_with_also(["class_share_min", "final/cs10k_inception", "class_share_min"]))
    assert s.also == ("class_share_min", "final/cs10k_inception")
    # Not on Protocol: adding `also` to a suite must not change the protocol its runs recorded.
    assert dataclasses.asdict(s.protocol) == dataclasses.asdict(parse_suite(GOOD).protocol)
    assert parse_suite(GOOD).also == () and parse_suite(_with_also([])).also == ()


@pytest.mark.parametrize("bad", ["class_share_min", [1], [""], ["  "], [["x"]], {"a": 1}, 3])
def test_bad_also_is_one_config_error_naming_the_field(bad):
    with pytest.raises(ConfigError) as e:
        parse_suite(_with_also(bad), "suite.yaml")
    msg = str(e.value)
    assert msg.startswith("suite.yaml: protocol.also: expected a list of metric names") and "\n" not in msg, msg


def test_bad_also_stops_ganbench_bench_in_one_line(tmp_path, capsys):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(_with_also("class_share_min")))
    assert main(["bench", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "protocol.also: expected a list of metric names" in err[0], err
    assert not (tmp_path / "mlflow.db").exists()


def test_a_misspelt_protocol_key_lists_also_among_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) alsoo; valid keys: .*proxy, also"):
        parse_suite({**GOOD, "protocol": {**GOOD["protocol"], "alsoo": ["x"]}})


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("name,ranking,full", [
    ("class_share_min", "fid5k_mnistcnn", "class_share_min5k_mnistcnn"),
    ("class_share_max", "final/fid10k_inception", "final/class_share_max10k_inception"),
    ("cs", "kid2500_digitscnn", "cs2500_digitscnn"),
    ("class_coverage", "pr10k3_inception_precision", "class_coverage10k_inception"),  # k=3 and _precision dropped
    ("pr5k3_mnistcnn_precision", "fid5k_mnistcnn", "pr5k3_mnistcnn_precision"),  # full names are kept
    ("class_share_min5k_mnistcnn", "final/fid10k_inception", "class_share_min5k_mnistcnn"),
    ("final/cs10k_inception", "fid5k_mnistcnn", "final/cs10k_inception"),
])
def test_base_names_get_the_ranking_metrics_tier_count_and_backbone(name, ranking, full):
    assert resolve_extra(name, ranking) == full


def test_a_base_name_that_cannot_be_completed_says_to_give_the_full_name():
    with pytest.raises(ConfigError, match="cannot complete 'cs'.*'loss_g'.*give the full metric name"):
        resolve_extra("cs", "loss_g")


# ------------------------------------------------------------------ leaderboard and report

MIN, MAX = "class_share_min5k_mnistcnn", "class_share_max5k_mnistcnn"


def rec(cell, seed, value, extras=(), status="FINISHED") -> RunRecord:
    return RunRecord(run_id=f"{cell}{seed}", cell=cell, seed=seed, status=status, error="",
                     metric="fid5k_mnistcnn", value=value if status == "FINISHED" else None,
                     train_metric="fid5k_mnistcnn", train_value=None, protocol=(("backbone", "mnistcnn"),),
                     curve=(CurvePoint(1, value, 1.0, 100),), wall_s=3.0, cpu_s=2.5, gpu_s=0.0,
                     images_per_s=100.0, images=100, samples=None, extras=tuple(extras))


# cell a: both extras from 3 runs; b: min logged by one run of two, max by none; c: failed only
A_MIN, A_MAX = [0.061, 0.072, 0.058], [0.13, 0.15, 0.12]
RECORDS = [rec("a", i, 10.0 + i, [(MIN, A_MIN[i]), (MAX, A_MAX[i])]) for i in range(3)]
RECORDS += [rec("b", 0, 30.0, [(MIN, 0.02), (MAX, NAN)]), rec("b", 1, 31.0, [(MIN, NAN), (MAX, NAN)]),
            rec("c", 0, 0.0, [(MIN, 0.5)], status="FAILED")]


def _f(x: float) -> str:  # the report's number format
    return f"{x:.4g}"


def test_extras_are_mean_and_std_over_finished_runs_and_never_ranked():
    lb = build(RECORDS, "t", cells=["a", "b", "c"])
    assert lb.extras == (MIN, MAX)
    a, b, c = lb.rows
    assert (a.cell, b.cell, c.cell) == ("a", "b", "c")
    amin, amax = a.extras
    assert amin.mean == pytest.approx(statistics.mean(A_MIN)) and amin.std == pytest.approx(statistics.stdev(A_MIN))
    assert amax.mean == pytest.approx(statistics.mean(A_MAX)) and amin.n == amax.n == 3
    bmin, bmax = b.extras
    assert bmin.mean == 0.02 and math.isnan(bmin.std) and bmin.n == 1  # the NaN run is left out, not a zero
    assert math.isnan(bmax.mean) and bmax.n == 0
    assert c.extras[0].n == 0  # a failed run's value does not count
    # the same ranks and ties as without extras
    plain = build([dataclasses.replace(r, extras=()) for r in RECORDS], "t", cells=["a", "b", "c"])
    assert [(r.cell, r.rank, r.ties) for r in lb.rows] == [(r.cell, r.rank, r.ties) for r in plain.rows]
    assert plain.extras == () and plain.rows[0].extras == ()


def test_report_shows_extras_in_markdown_csv_and_html(tmp_path):
    lb = build(RECORDS, "t", cells=["a", "b", "c"])
    write_report(lb, tmp_path)
    md = (tmp_path / "leaderboard.md").read_text()
    head = next(line for line in md.splitlines() if line.startswith("| rank"))
    assert head.rstrip(" |").endswith(f"{MIN} | {MAX}")
    row_a = next(line for line in md.splitlines() if line.startswith("| 1 | a |"))
    want_min = _pm(statistics.mean(A_MIN), statistics.stdev(A_MIN))
    want_max = _pm(statistics.mean(A_MAX), statistics.stdev(A_MAX))
    assert row_a.endswith(f"| {want_min} | {want_max} |"), row_a
    row_b = next(line for line in md.splitlines() if "| b |" in line)
    assert row_b.endswith(f"| {_f(0.02)} (1 of 2 runs) |  |"), row_b  # partly logged; then blank: not logged
    assert "Also shown, not ranked: `class_share_min5k_mnistcnn`, `class_share_max5k_mnistcnn`" in md
    assert "A blank entry: not logged" in md

    cells = {r["cell"]: r for r in csv.DictReader((tmp_path / "leaderboard.csv").open())}
    assert float(cells["a"][f"{MIN}_mean"]) == pytest.approx(statistics.mean(A_MIN), rel=1e-3)
    assert float(cells["a"][f"{MIN}_std"]) == pytest.approx(statistics.stdev(A_MIN), rel=1e-3)
    assert float(cells["a"][f"{MAX}_mean"]) == pytest.approx(statistics.mean(A_MAX), rel=1e-3)
    assert cells["b"][f"{MAX}_mean"] == "" and cells["b"][f"{MIN}_std"] == "n/a"
    runs = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert [float(r[MIN]) for r in runs if r["cell"] == "a"] == A_MIN
    assert [r[MAX] for r in runs if r["cell"] == "b"] == ["", ""]  # not logged: blank, not "nan"
    assert [r[MAX] for r in runs if r["cell"] == "c"] == [""]  # a record without the name at all

    page = (tmp_path / "leaderboard.html").read_text()
    assert f"<th>{MIN}</th>" in page and f"<td>{want_min}</td>" in page and "Also shown, not ranked" in page


def test_no_extras_no_extra_columns(tmp_path):
    write_report(build([rec("a", 0, 1.0)], "t"), tmp_path)
    assert not any("class_share" in h for h in next(csv.reader((tmp_path / "leaderboard.csv").open())))
    assert "Also shown" not in (tmp_path / "leaderboard.md").read_text()


# ------------------------------------------------------------------ read back from MLflow


@pytest.fixture()
def store(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the default store of commands run in tmp_path
    return uri, MlflowClient(uri), MlflowClient(uri).create_experiment("extras")


def _run(client, exp, tags, series: dict[str, list[tuple[int, float]]], finish=True) -> str:
    run_id = client.create_run(exp, tags=tags).info.run_id
    for key, points in series.items():
        for step, value in points:
            client.log_metric(run_id, key, value, step=step)
    if finish:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def test_per_epoch_extras_are_read_at_the_step_of_the_ranking_value(store):
    uri, client, exp = store
    # The ranking metric's last evaluation is epoch 2; class_share_min has a later entry (epoch 3)
    # that must not be taken, and class_share_max is never logged.
    run_id = _run(client, exp, {"ganbench.eval.selection_metric": "fid5k_mnistcnn"},
                  {"fid5k_mnistcnn": [(1, 40.0), (2, 30.0)], MIN: [(1, 0.01), (2, 0.05), (3, 0.09)]})
    r = record_from_run(client, client.get_run(run_id), also=("class_share_min", "class_share_max"))
    assert r.metric == "fid5k_mnistcnn" and r.value == 30.0
    assert r.extras[0] == (MIN, 0.05)
    assert r.extras[1][0] == MAX and math.isnan(r.extras[1][1])
    assert record_from_run(client, client.get_run(run_id)).extras == ()  # nothing asked, nothing read


def test_final_tier_extras_come_from_the_final_evaluation(store):
    uri, client, exp = store
    # final/ metrics are logged once, at the best checkpoint's epoch (2); the per-epoch class
    # share of the same name without final/ is another number.
    run_id = _run(client, exp, {"ganbench.eval.selection_metric": "fid2k_mnistcnn"},
                  {"fid2k_mnistcnn": [(1, 50.0), (2, 40.0), (3, 45.0)], "class_share_min2k_mnistcnn": [(2, 0.3)],
                   "final/fid10k_inception": [(2, 12.0)], "final/class_share_min10k_inception": [(2, 0.07)]})
    r = record_from_run(client, client.get_run(run_id), also=["class_share_min"])
    assert r.metric == "final/fid10k_inception" and r.extras == (("final/class_share_min10k_inception", 0.07),)


def _suite_parent(uri, client, exp, also=None) -> str:
    tags = {"ganbench.kind": "suite", "ganbench.suite": "s", "ganbench.metric": "fid5k_mnistcnn"}
    parent = _run(client, exp, tags, {})
    for cell, seed, fid, share in (("a", 0, 10.0, 0.06), ("a", 1, 11.0, 0.08), ("b", 0, 20.0, 0.03)):
        _run(client, exp, {"mlflow.parentRunId": parent, "ganbench.cell": cell, "ganbench.seed": str(seed),
                           "ganbench.eval.selection_metric": "fid5k_mnistcnn", "ganbench.eval.backbone": "mnistcnn"},
             {"fid5k_mnistcnn": [(1, fid)], MIN: [(1, share)]})
    if also is not None:
        ms.record_also(TrackingHandle(uri, parent), also)
    return parent


def test_compare_takes_also_or_the_suites_own(store, tmp_path, capsys):
    uri, client, exp = store
    parent = _suite_parent(uri, client, exp, also=["class_share_min"])
    compare([parent], str(tmp_path / "own"), tracking_uri=uri)  # the suite's recorded protocol.also
    cells = {r["cell"]: r for r in csv.DictReader((tmp_path / "own" / "leaderboard.csv").open())}
    assert float(cells["a"][f"{MIN}_mean"]) == pytest.approx((0.06 + 0.08) / 2)
    assert float(cells["b"][f"{MIN}_mean"]) == pytest.approx(0.03)
    # --also replaces it (comma-separated, repeatable); a metric no run logged is a blank column
    assert main(["compare", parent, "--also", "class_share_max", "--also", f"{MIN}", "--out", "cli"]) == 0
    cells = {r["cell"]: r for r in csv.DictReader((tmp_path / "cli" / "leaderboard.csv").open())}
    assert cells["a"][f"{MAX}_mean"] == "" and float(cells["a"][f"{MIN}_mean"]) == pytest.approx(0.07)
    capsys.readouterr()
    assert main(["compare", parent, "--also", "class_share_max,", "--out", "bad"]) == 2
    assert "--also: expected a list of metric names" in capsys.readouterr().err


def test_bench_report_shows_the_suites_also_and_the_run_records_it(store, tmp_path):
    uri, client, exp = store
    parent = _suite_parent(uri, client, exp)
    handle = TrackingHandle(uri, parent)
    folder = tmp_path / "runs" / "bench" / "s"
    publish(handle, "s", "fid5k_mnistcnn", None, folder, cells=["a", "b"], also=("class_share_min",))
    assert ms.also_of(client.get_run(parent)) == ("class_share_min",)
    md = (folder / "leaderboard.md").read_text()
    assert f"| {_pm(0.07, statistics.stdev([0.06, 0.08]))} |" in md
    logged = {a.path for a in client.list_artifacts(parent, "leaderboard")}
    assert "leaderboard/leaderboard.md" in logged
    publish(handle, "s", "fid5k_mnistcnn", None, folder, cells=["a", "b"])  # `also` dropped: compare follows
    assert ms.also_of(client.get_run(parent)) == ()
    assert MIN not in (folder / "leaderboard.md").read_text()


@pytest.mark.parametrize("mean, std, text", [
    (0.042, 0.003487, "0.0420 ± 0.0035"), (0.1698, 0.01316, "0.170 ± 0.013"), (339.4, 13.55, "339 ± 14"),
    (8.657, 0.9732, "8.66 ± 0.97"), (0.5, float("nan"), "0.5"), (0.5, 0.0, "0.5")])
def test_mean_and_std_are_written_to_the_std_s_precision(mean, std, text):
    assert _pm(mean, std) == text
