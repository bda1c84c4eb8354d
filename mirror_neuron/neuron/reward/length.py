"""A reward that pays for length: the bias that made length padding pay.

The RLHF reward models of the later validators preferred longer answers; none of them runs offline
in a test, so this scorer stands in for that bias alone: the number of words, up to ``cap``, over
``cap``. Use it to study what a length bias lets through and which filter closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.registry import component


@component("reward", summary="words up to a cap: the length bias of RLHF reward models, alone")
class LengthRewardModel(RewardModelBase):
    """``min(words, cap) / cap`` for each completion (words split on white space)."""

    raw_name = "length"
    stateless = True

    def __init__(self, seed: int = 0, cap: int = 500) -> None:
        super().__init__(seed)
        if cap < 1:
            raise ValueError(f"cap must be at least 1, got {cap}")
        self.cap = cap

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.array([min(len(c.split()), self.cap) / self.cap for c in completions], dtype=np.float64)
