"""One stats channel (after StyleGAN2-ADA's training_stats): any code calls
`stats.report(name, value)`; values are averaged over an interval (an epoch) and across
ranks, then handed to whoever wants them (progress bar, MLflow sink, loss history).

Values stay tensors until `reduce`, so reporting never forces a GPU sync per step.
"""
from __future__ import annotations

from collections import defaultdict

import torch


class Stats:
    def __init__(self) -> None:
        self._values: dict[str, list[torch.Tensor]] = defaultdict(list)

    def report(self, name: str, value: torch.Tensor | float) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().float().mean()
        else:
            value = torch.tensor(float(value))
        self._values[name].append(value)

    def last(self, name: str) -> float | None:
        vals = self._values.get(name)
        return float(vals[-1]) if vals else None

    def reduce(self, all_reduce_sum=lambda t: t, device: torch.device | None = None) -> dict[str, float]:
        """Mean of every reported name over this interval and all ranks; then reset.

        Every rank must report the same names (they run the same code), so the sums can be
        all-reduced as one tensor in a fixed (sorted) order.
        """
        names = sorted(self._values)
        if not names:
            return {}
        sums = torch.stack([torch.stack(self._values[n]).to(device or "cpu").sum() for n in names])
        counts = torch.tensor([float(len(self._values[n])) for n in names], device=sums.device)
        packed = all_reduce_sum(torch.cat([sums, counts]))
        k = len(names)
        self._values.clear()
        return {n: float(packed[i] / packed[k + i]) for i, n in enumerate(names)}
