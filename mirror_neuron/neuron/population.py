"""Miner populations: which behaviour each uid plays, declared as counts or shares per behaviour."""

from __future__ import annotations

from typing import Any

import numpy as np

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Behaviour

DEFAULT_BEHAVIOUR = "honest"


def behaviour_class(name: str) -> type[Behaviour]:
    """The behaviour registered as ``name``, or user code named ``module:Class``."""
    found = registry.get("behaviour", name).load()
    if not (isinstance(found, type) and issubclass(found, Behaviour)):
        raise UserError(f"'{name}' is not a miner behaviour (a subclass of mirror_neuron.neuron.miners.base.Behaviour)")
    return found


def build_population(spec: dict[str, Any], n: int, seed: int = 0) -> list[Behaviour]:
    """One behaviour per uid from ``{name: count | share | {count|share, **params}}``.

    Counts are whole numbers of uids, shares are fractions of ``n`` (rounded); uids left over play
    ``honest``. Which uid plays what is a seeded shuffle.
    """
    assigned: list[Behaviour] = []
    for name, value in spec.items():
        params = dict(value) if isinstance(value, dict) else {}
        amount = params.pop("count", params.pop("share", value if not isinstance(value, dict) else None))
        if isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0:
            count = amount
        elif isinstance(amount, float) and 0.0 <= amount <= 1.0:
            count = round(amount * n)
        else:
            raise UserError(f"miners.{name}: expected a count, a share in [0, 1], or {{count|share, params...}}")
        cls = behaviour_class(name)
        try:
            behaviour = cls(**params)
        except Exception as error:  # pydantic validation of the behaviour's parameters
            first = str(error).splitlines()
            raise UserError(f"miners.{name}: invalid parameters ({'; '.join(first[1:3]).strip()})") from None
        assigned.extend([behaviour] * count)
    if len(assigned) > n:
        raise UserError(f"miners: the population declares {len(assigned)} miners but the metagraph has {n} uids")
    assigned.extend([behaviour_class(DEFAULT_BEHAVIOUR)()] * (n - len(assigned)))
    order = np.random.default_rng(seed).permutation(n)
    return [assigned[i] for i in order]
