"""The gating contract and the baseline gating models."""

from __future__ import annotations

import numpy as np

from mirror_neuron.registry import component


class GatingModelBase:
    """Scores every uid for a text; ``backward`` learns from the rewards the queried uids earned."""

    def __init__(self, n_uids: int, seed: int = 0) -> None:
        self.n_uids = n_uids
        self.rng = np.random.default_rng(seed)

    def get_state(self) -> dict:
        """What :meth:`Neuron.save` keeps of this model: JSON values and numpy arrays (see neuron.state)."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def scores(self, text: str) -> np.ndarray:
        """One float per uid."""
        raise NotImplementedError

    def backward(self, uids: np.ndarray, scores: np.ndarray, rewards: np.ndarray) -> float:
        """Train on the rewards of the successful ``uids``; returns the loss (0 for untrained models)."""
        return 0.0

    def resize(self, n_uids: int) -> None:
        self.n_uids = n_uids

    def resync(self, uids: np.ndarray) -> None:
        """New miners took ``uids``: forget what was learnt about them (models without a head: nothing)."""


@component("gating", summary="uniform random scores: uids picked at random")
class RandomGatingModel(GatingModelBase):
    """Uniform random scores in [0, 1): uids are in effect picked at random."""

    def scores(self, text: str) -> np.ndarray:
        return self.rng.random(self.n_uids)


@component("gating", summary="the same score for every uid")
class ConstantGatingModel(GatingModelBase):
    """The same score for every uid (``value``); top-k then picks the lowest available uids."""

    def __init__(self, n_uids: int, seed: int = 0, value: float = 1.0) -> None:
        super().__init__(n_uids, seed)
        self.value = value

    def scores(self, text: str) -> np.ndarray:
        return np.full(self.n_uids, self.value)
