"""Sharing what deterministic LM scorers compute: one model per path, one value per (prompt, completion).

A tournament builds a fresh neuron, and so fresh scorers, for every repetition, and scripted miners
give the same few completions to the same prompts again and again. A causal LM's score of a
completion depends only on the model, the scorer's parameters, the prompt and the completion, so it
is computed once per process and looked up afterwards.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from mirror_neuron.models.causal_lm import load_causal_lm


@functools.cache
def shared_causal_lm(path: str, seed: int = 0, base_dir: Path | None = None) -> tuple[Any, Any]:
    """``load_causal_lm(path, seed, base_dir)``, loaded once per process (scorers never change weights)."""
    model, tokenizer = load_causal_lm(path, seed, base_dir)
    return model.requires_grad_(False), tokenizer


class ScoreMemo:
    """A bounded least-recently-used map from ``(scorer key, prompt, completion)`` to a score."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self.values: OrderedDict[tuple, float] = OrderedDict()

    def scores(self, key: Hashable, prompt: str, completions: list[str],
               compute: Callable[[list[str]], list[float]]) -> list[float]:
        """The score of every completion; ``compute`` runs once, on the distinct ones not seen before."""
        missing = list(dict.fromkeys(c for c in completions if (key, prompt, c) not in self.values))
        if missing:
            for completion, value in zip(missing, compute(missing), strict=True):
                self.values[(key, prompt, completion)] = float(value)
        found = []
        for completion in completions:
            self.values.move_to_end((key, prompt, completion))
            found.append(self.values[(key, prompt, completion)])
        while len(self.values) > self.size:
            self.values.popitem(last=False)
        return found


MEMO = ScoreMemo()
