"""A validator strategy written as a plain function: all weight on the first miner."""

from __future__ import annotations

import numpy as np

from mirror_neuron.network.strategies import ChainView


def first_miner(view: ChainView, rng: np.random.Generator) -> np.ndarray:
    row = np.zeros(view.n)
    row[view.miner_uids[0]] = 1.0
    return row
