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
from typing import TYPE_CHECKING, Any

from mirror_neuron.models.causal_lm import load_causal_lm
from mirror_neuron.models.device import resolve_device, resolve_dtype

if TYPE_CHECKING:
    import torch


def shared_causal_lm(path: str, seed: int = 0, base_dir: Path | None = None, device: str = "cpu",
                     dtype: str = "float32") -> tuple[Any, Any]:
    """``load_causal_lm(path, seed, base_dir)`` on ``device`` in ``dtype`` (resolved as
    :mod:`mirror_neuron.models.device` says), loaded once per process (scorers never change weights)."""
    resolved = resolve_device(device)
    return _shared_causal_lm(path, seed, base_dir, resolved, resolve_dtype(dtype, resolved))


@functools.cache
def _shared_causal_lm(path: str, seed: int, base_dir: Path | None, device: str, dtype: torch.dtype) -> tuple[Any, Any]:
    model, tokenizer = load_causal_lm(path, seed, base_dir)
    return model.to(device=device, dtype=dtype).requires_grad_(False), tokenizer


class ScoreMemo:
    """A bounded least-recently-used map from ``(scorer key, prompt, completion)`` to a score. ``asked``
    counts the completions scored through it, ``computed`` those its scorers had to compute (the rest
    were cache hits)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self.values: OrderedDict[tuple, float] = OrderedDict()
        self.asked = 0
        self.computed = 0

    def counts(self) -> tuple[int, int]:
        """``(asked, computed)`` so far, to measure a stretch of work against (:meth:`activity`)."""
        return self.asked, self.computed

    def activity(self, since: tuple[int, int] = (0, 0)) -> str:
        """``scorer calls 340 (290 cached)`` since ``counts()`` gave ``since``; empty when none were made."""
        asked, computed = self.asked - since[0], self.computed - since[1]
        return f"scorer calls {asked} ({asked - computed} cached)" if asked else ""

    def scores(self, key: Hashable, prompt: str, completions: list[str],
               compute: Callable[[list[str]], list[float]]) -> list[float]:
        """The score of every completion; ``compute`` runs once, on the distinct ones not seen before."""
        missing = list(dict.fromkeys(c for c in completions if (key, prompt, c) not in self.values))
        self.asked += len(completions)
        self.computed += len(missing)
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
