"""Paired bootstrap of a mean difference, and the multiple-comparison corrections the lab uses."""

from __future__ import annotations

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
