"""The filter contract: (query, completions) -> one multiplier in [0, 1] per completion.

A filter does not score quality; it removes completions that game the scorers. The reward stack
multiplies the weighted sum of normalized scores by each enabled filter's output, so 0 removes a
completion and 1 keeps it. Each filter has a ``name``, a ``column`` (its key in an event record), its
``params()`` (what to record with a run), ``stand_ins()`` (the models it loaded in place of the
original's) and, where it remembers past batches, ``get_state()``/``set_state()`` for :meth:`Neuron.save`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

import numpy as np

from mirror_neuron.neuron.miners.base import Query


class Embedder(Protocol):
    """What the embedding filters need: ``encode(texts)`` -> (len(texts), dim) array."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class _NamedColumn:
    """The default event column of a filter class: ``f"{name}_filter"``."""

    def __get__(self, instance: object, owner: type) -> str:
        return f"{owner.name}_filter"  # type: ignore[attr-defined]


class Filter:
    """(query, completions) -> one multiplier in [0, 1] per completion."""

    name: ClassVar[str]  # the registered name, set by its @component declaration
    column: ClassVar[str] = _NamedColumn()  # type: ignore[assignment]  # its event key; a class may name its own

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, query: Query, completions: list[str]) -> np.ndarray:
        return self.mask(query, completions)

    def params(self) -> dict:
        """The filter's parameters, for the run record."""
        return {}

    def stand_ins(self) -> dict[str, str]:
        """{original model id: what was loaded instead} for each model that is not the original's; {} when none."""
        return {}

    def new_forward(self) -> None:
        """A new openvalidators forward begins (the blacklist forgets the forward's chosen texts)."""

    def chosen(self, question: str, answer: str) -> None:
        """The loop kept ``question`` and ``answer`` as the best of one follow-up/answer pair."""

    def get_state(self) -> dict:
        """What :meth:`Neuron.save` keeps of this filter (JSON-serializable); stateless filters keep nothing."""
        return {}

    def set_state(self, state: dict) -> None:
        pass


def per_distinct(completions: list[str], fails: Callable[[str], bool]) -> np.ndarray:
    """0 where ``fails(completion)``, else 1; ``fails`` runs once per distinct completion (a batch of
    simulated miners repeats the same few answers, and text checks dominate a non-neural step)."""
    masks: dict[str, float] = {}
    for completion in completions:
        if completion not in masks:
            masks[completion] = 0.0 if fails(completion) else 1.0
    return np.array([masks[c] for c in completions], dtype=np.float64)
