"""Which module may depend on which, checked on the import graph (every `import` statement
of ganbench's sources, function-level ones included, followed transitively), not by
searching the text. Edges are module to module: importing `ganbench.train.loop` is an edge
to that file, not to the package's __init__ (which only re-exports)."""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_pkg else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    path = _file(module)
    if path is None:
        return frozenset()
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, path.name == "__init__.py")
            out.add(target)
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            out.update(f"{target}.{a.name}" for a in node.names if _file(f"{target}.{a.name}"))
    return frozenset(out)


def reachable(module: str) -> set[str]:
    """Every module `module` imports, directly or through ganbench/tuning modules."""
    seen, todo = set(), [module]
    while todo:
        for dep in direct_imports(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                if dep.split(".")[0] in ("ganbench", "tuning"):
                    todo.append(dep)
    return seen


def _hits(module: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in reachable(module) if any(m == f or m.startswith(f + ".") for f in forbidden))


MODEL_FILES = sorted("ganbench.models" if p.stem == "__init__" else f"ganbench.models.{p.stem}"
                     for p in (ROOT / "ganbench" / "models").glob("*.py"))


@pytest.mark.parametrize("module", MODEL_FILES + ["ganbench.losses", "ganbench.optim", "ganbench.train.steps"])
def test_models_losses_and_the_step_never_reach_distributed_code(module):
    assert _hits(module, ("torch.distributed", "ray", "ganbench.distributed")) == []


@pytest.mark.parametrize("module, forbidden", [
    ("ganbench.checkpoint", ("ganbench.train", "ganbench.distributed", "ganbench.tracking")),
    ("ganbench.distributed", ("ganbench.train",)),  # the old distributed <-> loop cycle
    ("ganbench.train.loop", ("ganbench.train.launcher", "ganbench.train.driver", "optuna", "tuning")),
    ("ganbench.train.launcher", ("ganbench.train.driver",)),
    ("ganbench.metrics", ("ganbench.train",)),
    # the old tracking <-> tracking_spool cycle: tracking -> tracking_spool -> tracking_store
    ("ganbench.tracking_spool", ("ganbench.tracking",)),
    ("ganbench.tracking_store", ("ganbench.tracking", "ganbench.tracking_spool", "ganbench.train", "ganbench.config")),
    ("ganbench.train.records", ("ganbench.tracking",)),  # the handle is re-exported, not the sink
])
def test_control_flows_one_way(module, forbidden):
    assert _hits(module, forbidden) == []


@pytest.mark.parametrize("module", ["ganbench.tracking", "ganbench.tracking_spool", "ganbench.tracking_store",
                                    "ganbench.checkpoint", "ganbench.redact", "ganbench.train.records"])
def test_no_import_cycle_through(module):
    assert module not in reachable(module)


def test_the_graph_sees_function_level_imports():
    # run_loop imports the metrics only when it evaluates, inside a function: still an edge.
    assert "ganbench.metrics" in direct_imports("ganbench.train.loop")
    assert "ganbench.train.loop" in reachable("ganbench.train.launcher")
    assert _hits("ganbench.train.launcher", ("ray",)), "the launcher does import ray (inside functions)"
