"""Moving scores and the weights a validator sets on chain.

Two moving-average rules: the 2023 validator's softmax scatter (``alpha`` is the weight on the old
value, 0.99 there) and the later validators' scatter of raw rewards (``alpha`` 0.95 there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Rule = Literal["softmax_scatter", "scatter"]


def softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.asarray(values, dtype=np.float64) - np.max(values)
    exp = np.exp(shifted)
    return exp / exp.sum()


@dataclass
class MovingAverage:
    """The validator's per-uid moving scores."""

    scores: np.ndarray
    alpha: float = 0.99
    rule: Rule = "softmax_scatter"

    @classmethod
    def zeros(cls, n: int, alpha: float = 0.99, rule: Rule = "softmax_scatter") -> MovingAverage:
        return cls(np.zeros(n, dtype=np.float64), alpha, rule)

    def update(self, successful: np.ndarray, rewards: np.ndarray, unsuccessful: np.ndarray) -> None:
        """Fold one forward pass's rewards in.

        ``softmax_scatter`` (2023): target = scores; target[successful] = softmax(rewards);
        target[unsuccessful] = 0; scores = alpha * scores + (1 - alpha) * target.
        ``scatter`` (later): scores[queried] = alpha * scores[queried] + (1 - alpha) * reward, with
        unsuccessful uids rewarded 0. Non-finite rewards count as 0.
        """
        rewards = np.nan_to_num(np.asarray(rewards, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        successful = np.asarray(successful, dtype=int)
        unsuccessful = np.asarray(unsuccessful, dtype=int)
        if self.rule == "softmax_scatter":
            target = self.scores.copy()
            if len(successful):
                target[successful] = softmax(rewards)
            target[unsuccessful] = 0.0
            self.scores = self.alpha * self.scores + (1.0 - self.alpha) * target
        else:
            queried = np.concatenate([successful, unsuccessful])
            new = np.concatenate([rewards, np.zeros(len(unsuccessful))])
            self.scores[queried] = self.alpha * self.scores[queried] + (1.0 - self.alpha) * new

    def reset(self, uids: np.ndarray) -> None:
        """Zero the scores of ``uids`` (their hotkeys changed: a new miner took the slot)."""
        self.scores[np.asarray(uids, dtype=int)] = 0.0


@dataclass(frozen=True)
class ChainLimits:
    """The subnet's limits on a weight vector."""

    min_allowed_weights: int = 8
    max_weight_limit: float = 0.1
    exclude_quantile: float = 0.0
    quantile_clamp: bool = False  # the originals' rule (bittensor's process_weights_for_netuid)


def compute_weights(scores: np.ndarray, limits: ChainLimits = ChainLimits()) -> np.ndarray:
    """L1-normalize the moving scores, then apply the chain limits.

    Non-finite and negative scores count as 0. Weights below the ``exclude_quantile`` of the
    non-zero weights are dropped; when fewer than ``min_allowed_weights`` uids have weight, every uid
    gets a tiny floor so that enough are set; finally no weight exceeds ``max_weight_limit`` (when
    ``n * max_weight_limit >= 1``). The result is finite and sums to 1.

    ``quantile_clamp`` (the originals' ``process_weights_for_netuid``): a metagraph of fewer than
    ``min_allowed_weights`` uids gets uniform weights, and the quantile is lowered to
    ``min(exclude_quantile, (k - min_allowed_weights) / k)`` for ``k`` non-zero weights, so that at
    least ``min_allowed_weights`` survive. Without it (the mirror's earlier rule) the quantile is
    taken as set: 10 non-zero scores, min 8 and quantile 0.5 keep 5 there, 8 with the clamp.
    """
    weights = np.clip(np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0), 0, None)
    n = len(weights)
    if n == 0:
        return weights
    if weights.sum() <= 0 or (limits.quantile_clamp and n < limits.min_allowed_weights):
        return np.full(n, 1.0 / n)
    weights = weights / weights.sum()
    nonzero = weights > 0
    count = int(nonzero.sum())
    if count < limits.min_allowed_weights:
        weights = np.where(nonzero, weights, 0.0) + 1e-5  # a floor so that enough uids carry weight
    elif limits.exclude_quantile > 0:
        quantile = limits.exclude_quantile
        if limits.quantile_clamp:
            quantile = min(quantile, max(0, count - limits.min_allowed_weights) / count)
        cutoff = np.quantile(weights[nonzero], quantile)
        weights = np.where(weights >= cutoff, weights, 0.0)
    return cap_weights(weights / weights.sum(), limits.max_weight_limit)


def cap_weights(weights: np.ndarray, limit: float) -> np.ndarray:
    """Normalized ``weights`` with no entry above ``limit``; the excess goes to the others in proportion.

    Water-filling: the ``k`` largest weights are set to a common cap ``c`` with
    ``c = limit * rest / (1 - k * limit)``, for the smallest ``k`` where the next weight is below ``c``.
    Impossible limits (``n * limit < 1``) give uniform weights; when fewer than ``1 / limit`` weights
    are positive, those share the weight equally.
    """
    n = len(weights)
    if n * limit < 1.0:
        return np.full(n, 1.0 / n)
    total = weights.sum()
    if weights.max() <= limit * total:
        return weights / total
    order = np.argsort(-weights)
    ranked = weights[order]
    rest = total - np.cumsum(ranked)  # sum of what is below the top k+1
    for k in range(1, n):
        if rest[k - 1] <= 0:  # nothing below the top k to take the excess: they share the weight equally
            capped = np.zeros(n)
            capped[order[:k]] = 1.0 / k
            return capped
        cap = limit * rest[k - 1] / (1.0 - k * limit)
        if ranked[k] <= cap:
            capped = weights.copy()
            capped[order[:k]] = cap
            return capped / capped.sum()
    return np.full(n, 1.0 / n)
