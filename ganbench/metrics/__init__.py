"""Evaluation metrics: FID/KID with a recorded protocol, classifier score, memorisation.

    ev = Evaluator(cfg.eval, cfg.data, device, rank=r, world_size=w, gather=session.all_gather)
    metrics, protocol = ev.evaluate(models)   # {'fid2k_digitscnn': ..., 'kid2k_digitscnn': ...}
    best_key = metric_key(cfg.eval, ev.backbone.name)

Files: frechet (FID formula), kid, backbones (+ inception, classifier, resolve), real_images
+ stats_cache (reference statistics), memorization (MiFID), classes (classifier score,
coverage), names, evaluate (Evaluator), sources + cli (`ganbench fid`).
No torch.distributed here: the caller hands in `gather`.

Names resolve lazily, so `from ganbench.metrics.cli import add_fid_parser` (done by
`ganbench --help`) does not pay for torch/scipy/torchvision imports.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Evaluator": "evaluate", "check_eval_config": "evaluate",
    "metric_key": "names", "metric_name": "names", "count_tag": "names",
    "resolve_backbone": "resolve",
    "evaluate_sources": "sources",
    "add_fid_parser": "cli",
    "MissingWeightsError": "inception", "InceptionBackbone": "inception", "find_fid_weights": "inception",
    "UnlabelledDataError": "classifier", "ClassifierBackbone": "classifier", "classifier_backbone": "classifier",
    "BACKBONES": "resolve", "Backbone": "backbones",
    "frechet_distance": "frechet", "stats_from_features": "frechet",
    "kid": "kid",
    "real_stats": "stats_cache", "load_stats": "stats_cache", "save_stats": "stats_cache",
    "mifid": "memorization", "nearest_cosine_distance": "memorization",
    "classifier_score": "classes", "class_coverage": "classes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ganbench.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ganbench.metrics.{_EXPORTS[name]}"), name)
