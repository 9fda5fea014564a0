"""The k nearest keys of every query, without the whole distance matrix.

Keys arrive in batches (a training set streamed from disk); each batch's distances to the
queries are computed a chunk of queries at a time and merged into a running top-k, so
memory stays O(queries x (k + batch)) whatever the number of keys: a 10k x 60k matrix
never exists at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (q, D), (b, D) -> (q, b)
QUERY_CHUNK = 1024


def mse_matrix(q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of every pair of flattened images. Expanded as
    |q|^2 + |t|^2 - 2 q.t (a matmul); float32 round-off of that form is ~1e-7, so callers
    that report distances recompute them exactly on the few neighbours kept."""
    q, t = q.flatten(1).float(), t.flatten(1).float()
    d = (q * q).sum(1, keepdim=True) + (t * t).sum(1)[None] - 2 * q @ t.T
    return d.clamp_(min=0) / q.shape[1]


def cosine_matrix(q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """1 - cos of every pair of feature vectors (memorisation's distance)."""
    qn = torch.nn.functional.normalize(q.flatten(1).float(), dim=1)
    tn = torch.nn.functional.normalize(t.flatten(1).float(), dim=1)
    return (1 - qn @ tn.T).clamp_(min=0)


@dataclass(frozen=True)
class Neighbours:
    dist: torch.Tensor  # (n_query, k), ascending
    index: torch.Tensor  # (n_query, k) positions in the key set; -1 where there were fewer than k keys


def knn(queries: torch.Tensor, key_batches: Iterable[torch.Tensor], k: int, distance: Distance,
        exclude: Optional[torch.Tensor] = None) -> Neighbours:
    """The k nearest keys of each query. exclude[i] is a key position query i may not match
    (itself, when a key is held out as a query for calibration), or -1 for none."""
    n = len(queries)
    best_d = torch.full((n, k), float("inf"))
    best_i = torch.full((n, k), -1, dtype=torch.long)
    offset = 0
    for keys in key_batches:
        pos = torch.arange(offset, offset + len(keys))
        for s in range(0, n, QUERY_CHUNK):
            d = distance(queries[s : s + QUERY_CHUNK], keys)
            if exclude is not None:
                d[exclude[s : s + QUERY_CHUNK, None] == pos[None]] = float("inf")
            d_all = torch.cat([best_d[s : s + QUERY_CHUNK], d], dim=1)
            i_all = torch.cat([best_i[s : s + QUERY_CHUNK], pos.expand(len(d), -1)], dim=1)
            top = d_all.topk(k, dim=1, largest=False)  # topk's order is ascending with largest=False
            best_d[s : s + QUERY_CHUNK] = top.values
            best_i[s : s + QUERY_CHUNK] = i_all.gather(1, top.indices)
        offset += len(keys)
    best_i[torch.isinf(best_d)] = -1  # excluded or missing keys never count as neighbours
    return Neighbours(best_d, best_i)
