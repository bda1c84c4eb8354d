"""Miner populations: which behaviour each uid plays, declared as counts or shares per behaviour."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pydantic import ValidationError

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Behaviour

DEFAULT_BEHAVIOUR = "honest"
LATENCY_PARAMS = ("latency_median", "latency_sigma")  # the pool's, not a miner function's


class MinerError(UserError):
    """A problem with one strategy of ``miners``; ``miner`` is its key (for the config location)."""

    def __init__(self, miner: str, message: str) -> None:
        super().__init__(message, f"miners.{miner}")
        self.miner = miner


def make_behaviour(name: str, params: dict[str, Any]) -> Behaviour:
    """The behaviour registered as ``name``, or user code: ``module:Class`` (a Behaviour subclass; one that
    declares no ``name`` is named ``name``, the config's key) or ``module:function`` (called as
    ``function(query, uid, rng, **params)``).

    ``params["behaviour"]`` makes ``name`` an alias: the uids play that behaviour under the label ``name``
    (``honest_twin: {behaviour: honest, count: 8}``, a control), a class of its own so the labels stay apart.
    """
    params = dict(params)
    alias = params.pop("behaviour", None)
    if alias is not None and not isinstance(alias, str):
        raise MinerError(name, f"behaviour: expected the name of a behaviour, got {alias!r}")
    target = alias or name
    try:
        declared = registry.get("behaviour", target)
        if registry.is_user_code(declared):
            registry.check_user_code(declared, {k: v for k, v in params.items() if k not in LATENCY_PARAMS})
        found = declared.load()
    except UserError as error:
        raise MinerError(name, error.message) from None
    cls: type[Behaviour] = found
    if isinstance(found, type) and issubclass(found, Behaviour):
        cls = found if hasattr(found, "name") and alias is None else _named(found, name)
    elif callable(found) and not isinstance(found, type):
        from mirror_neuron.neuron.miners.custom import FunctionBehaviour

        latency = {k: params.pop(k) for k in LATENCY_PARAMS if k in params}
        cls, params = _named(FunctionBehaviour, name), {"target": target, "params": params, **latency}
    else:
        raise MinerError(name, f"'{target}' is neither a miner behaviour class nor a function")
    try:
        return cls(**params)
    except ValidationError as error:  # the behaviour's parameters, checked by its pydantic fields
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'parameters'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in error.errors())
        raise MinerError(name, f"invalid parameters ({problems})") from None


@functools.cache
def _named(cls: type[Behaviour], name: str) -> type[Behaviour]:
    """``cls`` with ``name`` as its name (one class per pair, so equal parameters give equal behaviours)."""
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                       "__doc__": cls.__doc__, "name": name})


def with_seed(behaviour: Behaviour, seed: int | None) -> Behaviour:
    """``behaviour`` with ``seed`` as its own seed (an honest uid's wording, an LM miner's sampling) where
    it takes one and its config left it unset; unchanged otherwise."""
    if seed is None or "seed" not in type(behaviour).model_fields or getattr(behaviour, "seed") is not None:
        return behaviour
    return behaviour.model_copy(update={"seed": seed})


def build_population(spec: dict[str, Any], n: int, seed: int = 0, miners_seed: int | None = None) -> list[Behaviour]:
    """One behaviour per uid from ``{name: count | share | {count|share, **params}}``.

    Counts are whole numbers of uids, shares are fractions of ``n`` (rounded); uids left over play
    ``honest``. Which uid plays what is a seeded shuffle; ``miners_seed`` is the seed of every behaviour
    that takes one and sets none (:func:`with_seed`).
    """
    declared: list[tuple[str, int, dict[str, Any]]] = []
    for name, value in spec.items():
        params = dict(value) if isinstance(value, dict) else {}
        amount = params.pop("count", params.pop("share", value if not isinstance(value, dict) else None))
        if isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0:
            count = amount
        elif isinstance(amount, float) and 0.0 <= amount <= 1.0:
            count = round(amount * n)
        else:
            raise MinerError(name, "expected a count, a share in [0, 1], or {count|share, params...}")
        declared.append((name, count, params))
    total = sum(count for _, count, _ in declared)  # compared with n before any list is built
    if total > n:
        raise UserError(f"miners: the population declares {total} miners but the metagraph has {n} uids")
    assigned: list[Behaviour] = []
    for name, count, params in declared:
        assigned.extend([with_seed(make_behaviour(name, params), miners_seed)] * count)
    assigned.extend([with_seed(make_behaviour(DEFAULT_BEHAVIOUR, {}), miners_seed)] * (n - len(assigned)))
    order = np.random.default_rng(seed).permutation(n)
    return [assigned[i] for i in order]
