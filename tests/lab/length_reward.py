"""A reward that pays for length: the validator weakness a length-padding miner exploits."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, Rewards


class LengthRewardModel(RewardModelBase):
    """The number of words of each completion, over 50."""

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        values = np.array([len(c.split()) / 50 for c in completions], dtype=np.float64)
        return Rewards(values, {"length": values})
