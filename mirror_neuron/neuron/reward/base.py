"""The reward contract and the baseline reward models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mirror_neuron.neuron.miners.base import Query


@dataclass
class Rewards:
    """Final rewards for a batch of completions, and each component, raw and normalized."""

    final: np.ndarray
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    normalized: dict[str, np.ndarray] = field(default_factory=dict)


class RewardModelBase:
    """Scores completions of one query."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def get_state(self) -> dict:
        """What :meth:`Neuron.save` keeps of this model: JSON values and numpy arrays (see neuron.state)."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        raise NotImplementedError


class RandomRewardModel(RewardModelBase):
    """Uniform random rewards in [0, 1)."""

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        values = self.rng.random(len(completions))
        return Rewards(values, {"random": values})


class ConstantRewardModel(RewardModelBase):
    """The same reward (``value``) for every completion."""

    def __init__(self, seed: int = 0, value: float = 1.0) -> None:
        super().__init__(seed)
        self.value = value

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        values = np.full(len(completions), self.value, dtype=np.float64)
        return Rewards(values, {"constant": values})
