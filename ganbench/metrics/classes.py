"""Class-based scores from a classifier backbone's p(y|x) on generated samples."""
from __future__ import annotations

import numpy as np


def classifier_score(probs) -> float:
    """exp(E_x KL(p(y|x) || p(y))): the Inception Score's formula with the dataset's own
    classifier. High when samples are confidently classified (sharp) and spread over
    classes (diverse); at most K. Comparable only under the same backbone."""
    p = np.asarray(probs, np.float64)
    p_y = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p + 1e-12) - np.log(p_y + 1e-12))).sum(axis=1)
    return float(np.exp(kl.mean()))


def class_coverage(probs, num_classes: int) -> float:
    """Fraction of classes that get at least half their uniform share of the generated
    samples' argmax labels: 1.0 = no class starved; low = mode collapse onto few classes."""
    return float((class_shares(probs, num_classes) >= 0.5 / num_classes).mean())


def class_shares(probs, num_classes: int) -> np.ndarray:
    """Each class's share of the samples' argmax labels (sums to 1). Its min and max say how
    uneven the generator's classes are: 0.1 each is a perfectly balanced 10-class model."""
    pred = np.asarray(probs).argmax(axis=1)
    return np.bincount(pred, minlength=num_classes) / max(1, len(pred))
