"""Miners for the baseline checks: the bare reference answer, and the reference behind a 2023 assistant's
preamble."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query


def bare(query: Query, uid: int, rng: np.random.Generator) -> str:
    """The bare reference answer ("2017"): a short reference makes a failed call."""
    return query.reference or ""


def preamble(query: Query, uid: int, rng: np.random.Generator) -> str:
    """The reference behind the opening many 2023 models gave every answer, which the blacklist's refusal
    rule zeroes."""
    return f"As an AI language model, I can tell you that the answer is {query.reference}."
