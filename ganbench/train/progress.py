"""A progress bar that looks right wherever the loop runs.

In a plain process it is tqdm on stderr (stdout is kept for the final JSON line). Inside a
Ray worker, carriage-return redraws would arrive at the driver as hundreds of log lines,
so Ray's own tqdm_ray is used: it redraws one bar in the driver's terminal.
"""
from __future__ import annotations

import sys


def _in_ray_worker() -> bool:
    try:
        import ray

        return ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE
    except Exception:
        return False


class _Null:
    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, **kw) -> None: ...
    def close(self) -> None: ...


class _RayBar:
    def __init__(self, total: int, desc: str):
        from ray.experimental.tqdm_ray import tqdm

        self._desc = desc
        self._bar = tqdm(total=total, desc=desc)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_postfix(self, refresh: bool = False, **kw) -> None:
        parts = " ".join(f"{k}={v:.3g}" for k, v in kw.items() if v is not None)
        self._bar.set_description(f"{self._desc} {parts}")

    def close(self) -> None:
        self._bar.close()


def progress(total: int, desc: str, enabled: bool = True):
    if not enabled:
        return _Null()
    if _in_ray_worker():
        return _RayBar(total, desc)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True, mininterval=0.5)
