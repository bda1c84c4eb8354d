"""A miner behaviour written as a plain function, loaded from ``module:function``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.registry import load_target


class FunctionBehaviour(Behaviour):
    """Calls ``target`` (``"package.module:function"``) as ``function(query, uid, rng, **params)``."""

    name: ClassVar[str] = "function"
    target: str
    params: dict[str, Any] = {}

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        return load_target(self.target)(query, uid, rng, **self.params)
