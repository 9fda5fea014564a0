"""A Leaderboard on disk: leaderboard.md, leaderboard.csv (per cell), runs.csv (per run),
the PNGs, and one self-contained leaderboard.html (inline CSS, images as data: URIs), so the
page opens from disk and from MLflow's artifact view with nothing else. The suite's `also`
metrics are extra columns everywhere: "mean ± std" in the tables, <name>_mean/<name>_std in
leaderboard.csv, <name> in runs.csv; blank where not logged."""
from __future__ import annotations

import base64
import csv
import html
import logging
import math
from pathlib import Path
from typing import Optional

from ganbench.bench import plots
from ganbench.bench.leaderboard import CellRow, ExtraStat, Leaderboard
from ganbench.bench.records import RunRecord

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


def _extra_columns(lb: Leaderboard) -> tuple[str, ...]:
    """leaderboard.csv's columns for the `also` metrics: <name>_mean, <name>_std."""
    return tuple(f"{n}_{k}" for n in lb.extras for k in ("mean", "std"))


def _extra_text(x: ExtraStat, n_ok: int) -> str:
    """'mean ± std' for the tables; blank when no finished run logged it (the footnote says
    so), and how many did when only some did (the mean is over those)."""
    if x.n == 0:
        return ""
    return _pm(x.mean, x.std) + (f" ({x.n} of {n_ok} runs)" if x.n < n_ok else "")


def _pm(mean: float, std: float) -> str:
    """'0.0420 ± 0.0035': the std to 2 significant digits, the mean to the same decimal place."""
    if not math.isfinite(std) or std <= 0 or not math.isfinite(mean):
        return _f(mean)
    places = max(0, 1 - math.floor(math.log10(std)))
    return f"{mean:.{places}f} ± {std:.{places}f}"


def _cell_values(lb: Leaderboard, r: CellRow) -> dict:
    iv = r.interval
    extras = {f"{x.name}_{k}": "" if x.n == 0 else _f(v)
              for x in r.extras for k, v in (("mean", x.mean), ("std", x.std))}
    return {**extras, "rank": _rank(r), "cell": r.cell, "runs": r.n_ok, "failed": r.n_failed, "mean": _f(iv.mean),
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
        w = csv.DictWriter(f, fieldnames=CELL_COLUMNS + _extra_columns(lb))
        w.writeheader()
        for r in lb.rows:
            w.writerow(_cell_values(lb, r))
    with runs.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell", "seed", "trial", "status", "metric", "value", "proxy_metric", "proxy_value", "wall_s",
                    "cpu_s", "gpu_s", "images_per_s", "images", "run_id", "error", *lb.extras])
        for x in lb.runs:
            w.writerow([x.cell, x.seed, x.trial, x.status, x.metric, x.value, x.train_metric, x.train_value,
                        x.wall_s, x.cpu_s, x.gpu_s, x.images_per_s, x.images, x.run_id, x.error, *_run_extras(lb, x)])
    return [cells, runs]


def _run_extras(lb: Leaderboard, x: RunRecord) -> list:
    """A run's `also` values in the leaderboard's column order; blank where not logged."""
    got = dict(x.extras)
    return ["" if v is None or not math.isfinite(v) else v for v in (got.get(n) for n in lb.extras)]


def _extra_notes(lb: Leaderboard) -> list[str]:
    """Below the cell table: what the `also` columns are, and what a blank one means."""
    if not lb.extras:
        return []
    lines = [f"Also shown, not ranked: {', '.join(f'`{n}`' for n in lb.extras)}: mean ± std over the cell's "
             f"finished runs, each read at the evaluation that gave its `{lb.metric}`."]
    if any(x.n < r.n_ok for r in lb.rows for x in r.extras):
        lines.append("A blank entry: not logged by any of the cell's finished runs (that evaluation did not "
                     "compute it); '(k of n runs)': logged by only k, the mean is over those.")
    return lines


def _header_lines(lb: Leaderboard) -> list[str]:
    d = "lower is better" if lb.lower_better else "higher is better"
    lines = [f"Ranked by `{lb.metric}` ({d}): mean over seeds, sample std, 95% Student-t interval of the mean. "
             f"A cell ranks below another only when their intervals do not overlap; `=` marks a tie."]
    if _proxy_differs(lb):
        rho = "n/a (fewer than 3 runs)" if lb.proxy_spearman is None else f"{lb.proxy_spearman:.3f}"
        lines.append(f"During-training proxy: `{lb.train_metric}` at the scored checkpoint; "
                     f"Spearman rank correlation with `{lb.metric}` over runs: {rho}.")
    if lb.target is not None:
        lines.append(f"Target: `{lb.target_metric}` reaching {lb.target:g}; time is training seconds "
                     f"(evaluations excluded), median over the runs that reached it.")
    return lines


def _table_columns(lb: Leaderboard) -> list[tuple[str, str]]:
    """(label, key of _cell_values) for the human tables; the Markdown and the HTML page show
    the same columns, the CSV keeps every key under its machine name."""
    cols = [("rank", "rank"), ("cell", "cell"), ("runs", "runs"), ("mean", "mean"), ("std", "std"),
            ("95% interval", "interval"), ("ties with", "ties")]
    if _proxy_differs(lb):
        cols.append(("proxy mean", "proxy_mean"))
    cols += [("images/s", "images_per_s"), ("wall s/run", "wall_s_per_run"), ("CPU-s/run", "cpu_s_per_run"),
             ("GPU-s/run", "gpu_s_per_run")]
    if lb.target is not None:
        cols += [("reached target", "target_reached"), ("s to target", "target_train_s"),
                 ("images to target", "target_images")]
    return cols + [(n, f"also:{n}") for n in lb.extras]


def _display_values(lb: Leaderboard, r: CellRow) -> dict:
    v = _cell_values(lb, r)
    v["runs"] = f"{r.n_ok}" + (f" (+{r.n_failed} failed)" if r.n_failed else "")
    v["interval"] = f"[{v['ci95_low']}, {v['ci95_high']}]"
    v["ties"] = ", ".join(r.ties) or "-"
    v.update({f"also:{x.name}": _extra_text(x, r.n_ok) for x in r.extras})
    return v


def _proxy_differs(lb: Leaderboard) -> bool:
    return bool(lb.train_metric) and lb.train_metric != lb.metric


def write_markdown(lb: Leaderboard, folder: Path, images: dict[str, Path]) -> Path:
    cols = _table_columns(lb)
    out = [f"# {lb.title}", "", *_header_lines(lb), "", "| " + " | ".join(c for c, _ in cols) + " |",
           "|" + "---|" * len(cols)]
    for r in lb.rows:
        v = _display_values(lb, r)
        out.append("| " + " | ".join(str(v[k]) for _, k in cols) + " |")
    if lb.extras:
        out += ["", *_extra_notes(lb)]
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


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:80em;color:#222;padding:0 1em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right;vertical-align:top}th{background:#eee}
td.l,th.l{text-align:left}tr:nth-child(even){background:#f6f6f6}img{max-width:100%;margin:.3em 0}
td img{width:96px;image-rendering:pixelated}code{background:#f0f0f0;padding:0 .2em}
.fail{color:#a00}.note{color:#555;font-size:.92em}.figs{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;flex:1 1 30em;max-width:48em}figcaption{color:#555}dl{columns:2 28em;font-size:.9em}
dt{font-weight:600}dd{margin:0 0 .3em 1em;word-break:break-word}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _note(line: str) -> str:
    """A header line's `code` spans as <code>, the rest escaped."""
    parts = html.escape(line).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_table(head: list[tuple[str, bool]], rows: list[list[str]]) -> str:
    """head: (label, left-aligned); rows: already-escaped cell HTML."""
    th = "".join(f'<th class="l">{html.escape(h)}</th>' if left else f"<th>{html.escape(h)}</th>" for h, left in head)
    body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' if head[i][1] else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _cells_html(lb: Leaderboard, grids: dict[str, Path]) -> str:
    e, cols = html.escape, _table_columns(lb)
    rows = []
    for r in lb.rows:
        v = _display_values(lb, r)
        grid = f"<br>{_img(grids[r.cell])}" if r.cell in grids else ""
        rows.append([e(str(v[k])) + (grid if k == "cell" else "") for _, k in cols])
    return _html_table([(c, k in ("cell", "ties")) for c, k in cols], rows)


def _runs_html(lb: Leaderboard) -> str:
    e, proxy = html.escape, _proxy_differs(lb)
    head = [("cell", True), ("seed", False), ("status", True), (lb.metric, False)]
    head += [(lb.train_metric, False)] if proxy else []
    head += [("wall s", False), ("CPU-s", False), ("images/s", False)] + [(n, False) for n in lb.extras]
    head += [("MLflow run", True)]
    rows = [[e(x.cell), e(str(x.seed)), e(x.status), _f(x.value)] + ([_f(x.train_value)] if proxy else [])
            + [_f(x.wall_s), _f(x.cpu_s), _f(x.images_per_s)] + [_f(v) if v != "" else "" for v in _run_extras(lb, x)]
            + [f"<code>{e(x.run_id)}</code>"] for x in lb.runs]
    return _html_table(head, rows)


def write_html(lb: Leaderboard, folder: Path, images: dict[str, Path], grids: dict[str, Path]) -> Path:
    e = html.escape
    failed = "".join(f'<li class="fail">{e(x.cell)} seed {e(str(x.seed))} ({e(x.run_id)}): {e(x.error)}</li>'
                     for x in lb.runs if x.status == "FAILED")
    figures = "".join(f"<figure>{_img(p)}<figcaption>{e(name)}</figcaption></figure>" for name, p in images.items())
    proto = "".join(f"<dt>{e(str(k))}</dt><dd>{e(str(v))}</dd>" for k, v in lb.protocol)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(lb.title)}</title><style>{CSS}</style></head>
<body><h1>{e(lb.title)}</h1>
{''.join(f'<p class="note">{_note(line)}</p>' for line in _header_lines(lb))}
{_cells_html(lb, grids)}
{''.join(f'<p class="note">{_note(line)}</p>' for line in _extra_notes(lb))}
{f'<h2>Failed runs</h2><ul>{failed}</ul>' if failed else ''}
<h2>Figures</h2><div class="figs">{figures}</div>
<h2>Runs</h2>{_runs_html(lb)}
{f'<h2>Protocol</h2><p class="note">Shared by every ranked run.</p><dl>{proto}</dl>' if proto else ''}
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
