"""The statistics every judge uses: the paired bootstrap of a mean difference, percentile intervals of
bootstrap draws, the Wilson interval of a proportion, and multiple-comparison corrections."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Correction = Literal["holm", "bonferroni"]


@dataclass(frozen=True)
class Bootstrap:
    """The paired bootstrap of the mean of per-item differences.

    ``mean``: the observed mean; ``draws``: the mean of each resample (items drawn with replacement);
    ``p``: two-sided bootstrap p-value of "the mean is 0", ``2 * min(P(draw <= 0), P(draw >= 0))``
    with the usual +1 in numerator and denominator, so it is never 0 and a resample count of B
    resolves p-values down to about 2 / B.
    """

    mean: float
    draws: np.ndarray
    p: float

    def interval(self, level: float) -> tuple[float, float]:
        """The percentile interval holding ``level`` of the draws (0.95: the 2.5% and 97.5% quantiles)."""
        low, high = np.quantile(self.draws, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high)


def paired_bootstrap(differences: np.ndarray, resamples: int = 10_000, seed: int | np.random.SeedSequence = 0
                     ) -> Bootstrap:
    """Resample the items (questions) of ``differences`` with replacement, ``resamples`` times.

    Pairing is in the input: ``differences[i]`` is one item's treated minus control value, so what the
    two share per item cancels before resampling.
    """
    values = np.asarray(differences, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("paired_bootstrap needs a non-empty vector of differences")
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(len(values), size=(resamples, len(values)))].mean(axis=1)
    below, above = int((draws <= 0).sum()), int((draws >= 0).sum())
    p = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
    return Bootstrap(float(values.mean()), draws, p)


def adjust(p_values: np.ndarray, method: Correction = "holm") -> np.ndarray:
    """p-values adjusted for testing them all at once (family-wise error rate).

    ``bonferroni``: ``min(1, m * p)``. ``holm`` (step-down): sorted ascending, the k-th smallest
    becomes ``max over j <= k of min(1, (m - j + 1) * p_(j))``; it rejects everything Bonferroni
    rejects, and sometimes more.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method != "holm":
        raise ValueError(f"unknown correction '{method}'")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def simultaneous_alpha(confidence: float, tests: int, correction: str = "bonferroni") -> float:
    """The error rate each of ``tests`` intervals gets so that all hold together at ``confidence``:
    ``(1 - confidence) / tests`` under Bonferroni, ``1 - confidence`` with ``correction: none``."""
    alpha = 1.0 - confidence
    if correction == "none":
        return alpha
    return alpha / max(1, tests)


def percentile_interval(draws: np.ndarray, alpha: float, min_defined: float = 0.0) -> tuple[float, float]:
    """The central ``1 - alpha`` percentile interval of bootstrap ``draws``, undefined (NaN) draws left out.

    ``(nan, nan)`` when no draw is defined, or when fewer than ``min_defined`` of them (a share) are:
    an interval over a few defined draws would claim more than the data support.
    """
    values = np.asarray(draws, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if not len(finite) or len(finite) < len(values) * min_defined:
        return math.nan, math.nan
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion (``z`` 1.96: 95%); ``(0, 1)`` without trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
