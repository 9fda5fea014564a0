"""The one place metrics are computed: features of the scored set (A) and of the reference
(B) in, named values plus protocol out. Training evaluations (evaluate.py) and `ganbench fid`
(sources.py) both end here, so a number means the same thing wherever it is printed.

    values, protocol = compute_metrics(MetricInput(gen=A, ref=B, backbone=bb, cfg=eval_cfg))

Each family is a function in the METRICS registry; it returns its values (named by protocol:
kind, count, backbone) and the protocol entries it adds, or says why it was skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Optional

import numpy as np

from ganbench.config import EvalConfig
from ganbench.metrics.backbones import Backbone
from ganbench.metrics.classes import class_coverage, class_shares, classifier_score
from ganbench.metrics.frechet import frechet_distance
from ganbench.metrics.kid import kid
from ganbench.metrics.memorization import MIFID_EPS, memorization_summary, mifid, nearest_cosine_distance
from ganbench.metrics.names import metric_name
from ganbench.metrics.nearest import NearestJob
from ganbench.metrics.prdc import DC_K, PR_K, prdc
from ganbench.metrics.stats_cache import RealStats
from ganbench.metrics.uniqueness import check as uniqueness_check
from ganbench.registry import Registry

FLOOR_SEED = 0


@dataclass
class MetricInput:
    gen: RealStats  # the scored set (generated samples, or source A)
    ref: RealStats  # the reference set (real images, or source B)
    backbone: Backbone
    cfg: EvalConfig
    gen_probs: Optional[np.ndarray] = None  # classifier backbones: p(y|x) of the scored set
    train_ref: Optional[RealStats] = None  # the training images, for memorisation
    floor: bool = True  # also report the real-vs-real floor of FID and KID
    nearest: Optional[NearestJob] = None  # the uniqueness check's images and settings; None = not asked for

    @property
    def n(self) -> int:
        """The sample count that goes into every metric name."""
        return self.gen.n

    def name(self, kind: str) -> str:
        if self.n <= 0:  # a pytorch-fid statistics file does not say how many images it holds
            return f"{kind}_{self.backbone.name}"
        return metric_name(kind, self.n, self.backbone.name)

    @cached_property
    def fid(self) -> Optional[float]:
        """FID when both sides allow it (more samples than feature dims), else None."""
        if not fid_possible(self.gen, self.backbone) or not fid_possible(self.ref, self.backbone):
            return None
        return frechet_distance(self.gen.mu, self.gen.sigma, self.ref.mu, self.ref.sigma)


@dataclass
class MetricResult:
    values: dict[str, float] = field(default_factory=dict)
    protocol: dict = field(default_factory=dict)
    skipped: Optional[str] = None  # why nothing was computed


MetricFn = Callable[[MetricInput], MetricResult]
METRICS: Registry[MetricFn] = Registry("metric")


def fid_possible(side: RealStats, backbone: Backbone) -> bool:
    # With n <= dim the covariance is singular: sqrtm would return garbage, not a number.
    return side.n > backbone.dim


def _skip(why: str) -> MetricResult:
    return MetricResult(skipped=why)


@METRICS.register("fid", "Fréchet distance between Gaussians fitted to the features (pytorch-fid's formula)")
def _fid(inp: MetricInput) -> MetricResult:
    if inp.fid is None:
        return _skip(f"A has {inp.gen.n} and B {inp.ref.n} samples; FID needs more than the {inp.backbone.dim} "
                     "feature dims on both sides")
    return MetricResult({inp.name("fid"): inp.fid})


@METRICS.register("kid", "unbiased MMD^2, cubic kernel, averaged over subsets (Bińkowski et al. 2018)")
def _kid(inp: MetricInput) -> MetricResult:
    if inp.gen.features is None or inp.ref.features is None:
        return _skip("KID needs features on both sides (a statistics file without them has only mu/sigma)")
    k = kid(inp.ref.features, inp.gen.features, inp.cfg.kid_subsets, inp.cfg.kid_subset_size, seed=inp.cfg.seed)
    return MetricResult({inp.name("kid"): k.mean, inp.name("kid") + "_std": k.std},
                        {"kid_subsets": k.subsets, "kid_subset_size": k.subset_size,
                         "kid_subset_clipped": k.clipped})


@METRICS.register("prdc", "precision/recall (k=3) and density/coverage (k=5) on the features")
def _prdc(inp: MetricInput) -> MetricResult:
    if inp.gen.features is None or inp.ref.features is None:
        return _skip("precision/recall need features on both sides")
    fake = inp.gen.features
    # The estimators assume sets of equal size (their k-NN radii shrink as a set grows), so
    # the reference is cut to A's count with a fixed seed.
    real = _subset(inp.ref.features, len(fake), FLOOR_SEED)
    if min(len(real), len(fake)) <= DC_K:
        return _skip(f"precision/recall need more than {DC_K} samples per side")
    r = prdc(real, fake)
    pr, dc = inp.name("pr").replace("_", f"{PR_K}_", 1), inp.name("dc").replace("_", f"{DC_K}_", 1)
    return MetricResult({f"{pr}_precision": r.precision, f"{pr}_recall": r.recall,
                         f"{dc}_density": r.density, f"{dc}_coverage": r.coverage},
                        {"prdc_n_real": len(real), "prdc_n_gen": len(fake), "pr_k": PR_K, "dc_k": DC_K,
                         "prdc_distance": "euclidean in backbone feature space"})


@METRICS.register("classes", "classifier score and class coverage from a classifier backbone's p(y|x)")
def _classes(inp: MetricInput) -> MetricResult:
    if inp.gen_probs is None:
        why = ("the Inception Score needs a 1008-way logits head, which this backbone does not give"
               if inp.backbone.name == "inception" else f"backbone {inp.backbone.name} is not a classifier")
        return _skip(why)
    shares = class_shares(inp.gen_probs, inp.backbone.num_classes)
    return MetricResult({inp.name("cs"): classifier_score(inp.gen_probs),
                         inp.name("class_coverage"): class_coverage(inp.gen_probs, inp.backbone.num_classes),
                         inp.name("class_share_min"): float(shares.min()),
                         inp.name("class_share_max"): float(shares.max())})


@METRICS.register("memorization", "distance of each sample to its nearest training image, and MiFID")
def _memorization(inp: MetricInput) -> MetricResult:
    train = inp.train_ref
    if train is None or train.features is None or inp.gen.features is None:
        return _skip("no training-image features to compare with")
    s = memorization_summary(nearest_cosine_distance(inp.gen.features, train.features), MIFID_EPS)
    mem = inp.name("mem")
    values = {mem: s["mean"], f"{mem}_min": s["min"], f"{mem}_p5": s["p5"], f"{mem}_frac_below": s["frac_below"]}
    if inp.fid is not None:
        values[inp.name("mifid")] = mifid(inp.fid, s["mean"], MIFID_EPS)
    ref = train.protocol
    return MetricResult(values, {"mem_reference": f"{ref.get('dataset', ref.get('source'))} {ref.get('split', '')}".strip(),
                                 "mifid_eps": MIFID_EPS})


@METRICS.register("nearest", "share of samples nearer to a training image than held-out real images are "
                             "(pixel MSE, SSIM, features), and a grid of the closest")
def _nearest(inp: MetricInput) -> MetricResult:
    if inp.nearest is None:
        return _skip("not asked for (`ganbench fid --nearest K`; Evaluator(nearest=NearestConfig(...)))")
    train = inp.train_ref
    u = uniqueness_check(inp.nearest, inp.backbone.name, inp.gen.features,
                         None if train is None else train.features)
    if not u.spaces:
        return MetricResult(protocol=u.protocol, skipped="neither pixels nor features on both sides (see "
                                                         "nearest_pixels_skipped, nearest_features_skipped)")
    values = {}
    for s in u.spaces:
        name = metric_name("nn", u.n, s.name)
        values.update({f"{name}_too_close": s.too_close, f"{name}_threshold": s.threshold,
                       f"{name}_median": float(np.median(s.gen)), f"{name}_min": float(s.gen.min())})
    return MetricResult(values, u.protocol)


@METRICS.register("floor", "FID and KID between two disjoint halves of the reference set: the scale's zero")
def _floor(inp: MetricInput) -> MetricResult:
    if not inp.floor:
        return _skip("not asked for")
    feats = inp.ref.features
    if feats is None:
        return _skip("the reference has no features to split")
    a, b = split_halves(feats, FLOOR_SEED)
    half_a, half_b = RealStats.from_features(a, {}), RealStats.from_features(b, {})
    values, proto = {}, {"floor": f"the same metric between two disjoint random halves of the reference "
                                  f"({len(a)} vs {len(b)} images, seed {FLOOR_SEED})", "floor_n": len(a)}
    if fid_possible(half_a, inp.backbone):
        values[inp.name("fid") + "_floor"] = frechet_distance(half_a.mu, half_a.sigma, half_b.mu, half_b.sigma)
    if len(a) >= 2:
        k = kid(b, a, inp.cfg.kid_subsets, inp.cfg.kid_subset_size, seed=inp.cfg.seed)
        values[inp.name("kid") + "_floor"] = k.mean
    return MetricResult(values, proto)


def _subset(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(np.random.default_rng(seed).permutation(len(x))[:n])]


def split_halves(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    return x[np.sort(perm[:half])], x[np.sort(perm[half : 2 * half])]


def fid_tool(backbone: Backbone) -> str:
    """What really computed the numbers: ganbench's formulas (FID is pytorch-fid's
    calculate_frechet_distance, re-implemented in frechet.py) on which network's features."""
    import importlib.metadata

    version = importlib.metadata.version  # not `import pytorch_fid`: it pulls in torchvision
    net = (f"pytorch-fid {version('pytorch-fid')} InceptionV3 pool3" if backbone.name == "inception"
           else f"ganbench classifier {backbone.name}")
    return f"ganbench {version('ganbench')} metrics (FID formula of pytorch-fid) on features of {net}"


def compute_metrics(inp: MetricInput, only: Optional[tuple[str, ...]] = None) -> tuple[dict[str, float], dict]:
    """Every registered family (or `only` these) -> (values, protocol additions).
    Skipped families are named in the protocol with the reason, never silently absent."""
    values: dict[str, float] = {}
    protocol: dict = {}
    for family in only or tuple(METRICS):
        r = METRICS.get(family)(inp)
        if r.skipped:
            protocol[f"{family}_skipped"] = r.skipped
        values.update(r.values)
        protocol.update(r.protocol)
    return values, protocol
