"""A Leaderboard on disk: leaderboard.md, leaderboard.csv (per cell), runs.csv (per run),
the PNGs, and one self-contained leaderboard.html (inline CSS, images as data: URIs), so the
page opens from disk and from MLflow's artifact view with nothing else."""
from __future__ import annotations

import base64
import csv
import html
import logging
import math
from pathlib import Path
from typing import Optional

from ganbench.bench import plots
from ganbench.bench.leaderboard import CellRow, Leaderboard

log = logging.getLogger("ganbench.bench")

CELL_COLUMNS = ("rank", "cell", "runs", "failed", "mean", "std", "ci95_low", "ci95_high", "ties", "proxy_mean",
                "images_per_s", "wall_s_per_run", "cpu_s_per_run", "gpu_s_per_run", "target_reached",
                "target_train_s", "target_images", "best_run_id")


def _f(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def _rank(r: CellRow) -> str:
    return "-" if r.rank is None else f"{r.rank}{'=' if r.ties else ''}"


def _cell_values(lb: Leaderboard, r: CellRow) -> dict:
    iv = r.interval
    return {"rank": _rank(r), "cell": r.cell, "runs": r.n_ok, "failed": r.n_failed, "mean": _f(iv.mean),
            "std": _f(iv.std), "ci95_low": _f(iv.low), "ci95_high": _f(iv.high), "ties": " ".join(r.ties),
            "proxy_mean": _f(r.train_mean), "images_per_s": _f(r.images_per_s), "wall_s_per_run": _f(r.wall_s),
            "cpu_s_per_run": _f(r.cpu_s), "gpu_s_per_run": _f(r.gpu_s),
            "target_reached": f"{r.target_reached}/{r.n_ok}" if lb.target is not None else "",
            "target_train_s": _f(r.target_s) if lb.target is not None else "",
            "target_images": _f(r.target_images) if lb.target is not None else "",
            "best_run_id": r.best.run_id if r.best else ""}


def write_csv(lb: Leaderboard, folder: Path) -> list[Path]:
    cells, runs = folder / "leaderboard.csv", folder / "runs.csv"
    with cells.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CELL_COLUMNS)
        w.writeheader()
        for r in lb.rows:
            w.writerow(_cell_values(lb, r))
    with runs.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell", "seed", "trial", "status", "metric", "value", "proxy_metric", "proxy_value", "wall_s",
                    "cpu_s", "gpu_s", "images_per_s", "images", "run_id", "error"])
        for x in lb.runs:
            w.writerow([x.cell, x.seed, x.trial, x.status, x.metric, x.value, x.train_metric, x.train_value,
                        x.wall_s, x.cpu_s, x.gpu_s, x.images_per_s, x.images, x.run_id, x.error])
    return [cells, runs]


def _header_lines(lb: Leaderboard) -> list[str]:
    d = "lower is better" if lb.lower_better else "higher is better"
    lines = [f"Ranked by `{lb.metric}` ({d}): mean over seeds, sample std, 95% Student-t interval of the mean. "
             f"A cell ranks below another only when their intervals do not overlap; `=` marks a tie."]
    if lb.train_metric and lb.train_metric != lb.metric:
        rho = "n/a (fewer than 3 runs)" if lb.proxy_spearman is None else f"{lb.proxy_spearman:.3f}"
        lines.append(f"During-training proxy: `{lb.train_metric}` at the scored checkpoint; "
                     f"Spearman rank correlation with `{lb.metric}` over runs: {rho}.")
    if lb.target is not None:
        lines.append(f"Target: `{lb.target_metric}` reaching {lb.target:g}; time is training seconds "
                     f"(evaluations excluded), median over the runs that reached it.")
    return lines


def write_markdown(lb: Leaderboard, folder: Path, images: dict[str, Path]) -> Path:
    head = ["rank", "cell", "runs", "mean", "std", "95% interval", "ties with"]
    if lb.train_metric and lb.train_metric != lb.metric:
        head.append("proxy mean")
    head += ["images/s", "wall s/run", "CPU-s/run", "GPU-s/run"]
    if lb.target is not None:
        head += ["reached target", "s to target", "images to target"]
    out = [f"# {lb.title}", "", *_header_lines(lb), "", "| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
    for r in lb.rows:
        v = _cell_values(lb, r)
        row = [v["rank"], r.cell, f"{r.n_ok}" + (f" (+{r.n_failed} failed)" if r.n_failed else ""), v["mean"],
               v["std"], f"[{v['ci95_low']}, {v['ci95_high']}]", ", ".join(r.ties) or "-"]
        if lb.train_metric and lb.train_metric != lb.metric:
            row.append(v["proxy_mean"])
        row += [v["images_per_s"], v["wall_s_per_run"], v["cpu_s_per_run"], v["gpu_s_per_run"]]
        if lb.target is not None:
            row += [v["target_reached"], v["target_train_s"], v["target_images"]]
        out.append("| " + " | ".join(row) + " |")
    searched = [r for r in lb.rows if r.search_curve]
    if searched:
        out += ["", f"Searched cells: expected best `{lb.train_metric}` after 1, 2, ... trials "
                    f"(exact mean over trial orders):", ""]
        out += [f"- {r.cell}: " + ", ".join(_f(v) for v in r.search_curve) for r in searched]
    failed = [x for x in lb.runs if x.status == "FAILED"]
    if failed:
        out += ["", "Failed runs:", ""] + [f"- {x.cell} seed {x.seed} (`{x.run_id}`): {x.error or 'no error recorded'}"
                                           for x in failed]
    if lb.protocol:
        out += ["", "Protocol (shared by every ranked run):", "",
                ", ".join(f"{k}={v}" for k, v in lb.protocol)]
    if images:
        out += [""] + [f"![{name}]({p.name})" for name, p in images.items()]
    path = folder / "leaderboard.md"
    path.write_text("\n".join(out) + "\n")
    return path


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
td.l,th.l{text-align:left}tr:nth-child(even){background:#f6f6f6}img{max-width:100%;margin:.5em 0}
.fail{color:#a00}.note{color:#555;font-size:.92em}figure{margin:1em 0}figcaption{color:#555}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_html(lb: Leaderboard, folder: Path, images: dict[str, Path], grids: dict[str, Path]) -> Path:
    e = html.escape
    cols = ["rank", "cell", "runs", "failed", "mean", "std", "ci95_low", "ci95_high", "ties", "images_per_s",
            "wall_s_per_run", "cpu_s_per_run", "gpu_s_per_run"]
    if lb.train_metric and lb.train_metric != lb.metric:
        cols.insert(9, "proxy_mean")
    if lb.target is not None:
        cols += ["target_reached", "target_train_s", "target_images"]
    rows = []
    for r in lb.rows:
        v = _cell_values(lb, r)
        grid = f"<br>{_img(grids[r.cell])}" if r.cell in grids else ""
        cells = "".join(f'<td class="l">{e(str(v[c]))}{grid if c == "cell" else ""}</td>' if c in ("cell", "ties")
                        else f"<td>{e(str(v[c]))}</td>" for c in cols)
        rows.append(f"<tr>{cells}</tr>")
    failed = "".join(f'<li class="fail">{e(x.cell)} seed {e(str(x.seed))} ({e(x.run_id)}): {e(x.error)}</li>'
                     for x in lb.runs if x.status == "FAILED")
    run_rows = "".join(
        f'<tr><td class="l">{e(x.cell)}</td><td>{e(str(x.seed))}</td><td class="l">{e(x.status)}</td>'
        f"<td>{_f(x.value)}</td><td>{_f(x.train_value)}</td><td>{_f(x.wall_s)}</td><td>{_f(x.cpu_s)}</td>"
        f'<td>{_f(x.images_per_s)}</td><td class="l">{e(x.run_id)}</td></tr>' for x in lb.runs)
    figures = "".join(f"<figure>{_img(p)}<figcaption>{e(name)}</figcaption></figure>" for name, p in images.items())
    proto = ", ".join(f"{e(str(k))}={e(str(v))}" for k, v in lb.protocol)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(lb.title)}</title><style>{CSS}</style></head>
<body><h1>{e(lb.title)}</h1>
{''.join(f'<p class="note">{e(line)}</p>' for line in _header_lines(lb))}
<table><thead><tr>{''.join(f'<th class="l">{e(c)}</th>' if c in ('cell', 'ties') else f'<th>{e(c)}</th>' for c in cols)}</tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{f'<h2>Failed runs</h2><ul>{failed}</ul>' if failed else ''}
<h2>Figures</h2>{figures}
<h2>Runs</h2><table><thead><tr><th class="l">cell</th><th>seed</th><th class="l">status</th><th>{e(lb.metric)}</th>
<th>{e(lb.train_metric or 'proxy')}</th><th>wall s</th><th>CPU-s</th><th>images/s</th><th class="l">MLflow run</th></tr></thead>
<tbody>{run_rows}</tbody></table>
{f'<h2>Protocol</h2><p class="note">{proto}</p>' if proto else ''}
</body></html>
"""
    path = folder / "leaderboard.html"
    path.write_text(page)
    return path


def _download_grids(lb: Leaderboard, client, folder: Path) -> dict[str, Path]:
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per grid on stderr
    out = {}
    dest = folder / "samples"
    for r in lb.rows:
        if r.best is None or not r.best.samples:
            continue
        try:
            dest.mkdir(exist_ok=True)
            local = Path(client.download_artifacts(r.best.run_id, r.best.samples, str(dest)))
            target = dest / f"{r.cell}.png"
            local.replace(target)
            out[r.cell] = target
        except Exception as e:  # a missing artifact costs one picture, not the report
            log.warning("no sample grid for cell %s: %s", r.cell, e)
    return out


def write_report(lb: Leaderboard, folder: Path, client=None) -> list[Path]:
    """Every file of the report under `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    grids = _download_grids(lb, client, folder) if client is not None else {}
    images: dict[str, Path] = {}
    for name, fn in (("metric over seeds", plots.distribution), ("metric during training", plots.curves),
                     ("score against compute", plots.efficiency), ("proxy against final", plots.proxy_vs_final),
                     ("best score against search budget", plots.search_budget)):
        try:
            p: Optional[Path] = fn(lb, folder)
        except Exception as e:  # one broken plot must not cost the tables
            log.warning("plot %r skipped: %s", name, e)
            p = None
        if p:
            images[name] = p
    if grids:
        p = plots.samples(grids, folder)
        if p:
            images["sample grids (best run per cell)"] = p
    files = write_csv(lb, folder)
    files.append(write_markdown(lb, folder, images))
    files.append(write_html(lb, folder, images, grids))
    return files + list(images.values()) + list(grids.values())
