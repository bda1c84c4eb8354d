"""Prediction metrics and their bootstrap confidence intervals (resampling prompts, not rows, when a
prompt has several rows: rows of one prompt are not independent)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mirror_neuron.stats import percentile_interval

Metric = Callable[[np.ndarray, np.ndarray], float]
LEVEL = 0.95


def r2(y: np.ndarray, p: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / total if total > 0 else float("nan")


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(y - p)))


def rankdata(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (as ``scipy.stats.rankdata``, faster on small arrays)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(first)
    average = starts + (np.diff(np.r_[starts, len(values)]) + 1) / 2
    ranks = np.empty(len(values))
    ranks[order] = average[np.cumsum(first) - 1]
    return ranks


def spearman(y: np.ndarray, p: np.ndarray) -> float:
    a, b = rankdata(y), rankdata(p)
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b)) / scale if scale > 0 else float("nan")


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(y == p))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve of scores ``p`` for labels ``y`` in {0, 1} (Mann-Whitney)."""
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


REGRESSION: dict[str, Metric] = {"r2": r2, "mae": mae, "spearman": spearman}


def group_members(groups: np.ndarray) -> list[np.ndarray]:
    """Row indices of each group."""
    _, codes = np.unique(groups, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def bootstrap(y: np.ndarray, predictions: dict[str, dict[str, np.ndarray]], metrics: dict[str, Metric],
              groups: np.ndarray, draws: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Each metric of each labelled prediction over ``draws`` resamples of the groups.

    ``predictions[label][metric]`` is what ``metrics[metric]`` scores (class labels for accuracy,
    scores for AUC); the result holds one array of ``draws`` values per label and metric.
    """
    rng = np.random.default_rng(seed)
    members = group_members(groups)
    out = {label: {name: np.empty(draws) for name in metrics} for label in predictions}
    for draw in range(draws):
        rows = np.concatenate([members[g] for g in rng.integers(len(members), size=len(members))])
        for label, by_metric in predictions.items():
            for name, metric in metrics.items():
                out[label][name][draw] = metric(y[rows], by_metric[name][rows])
    return out


def interval(samples: np.ndarray) -> tuple[float, float]:
    """The central ``LEVEL`` percentile interval of bootstrap samples (NaNs ignored)."""
    return percentile_interval(samples, 1 - LEVEL)
