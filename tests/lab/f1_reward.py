"""A reward that is the answer's quality itself: token F1 against the reference, which no hack can game."""

from __future__ import annotations

import numpy as np

from mirror_neuron.lab.quality import token_f1
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, Rewards


class F1RewardModel(RewardModelBase):
    """Token F1 of each completion against the query's reference answer."""

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        values = np.array([token_f1(c, query.reference or "") for c in completions], dtype=np.float64)
        return Rewards(values, {"f1": values})
