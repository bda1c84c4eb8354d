"""Validator strategies: what weights each validator of a network sets, epoch by epoch.

A strategy is a pydantic model whose fields are its parameters (set from its group in the config, like
a miner behaviour's). :meth:`ValidatorStrategy.play` seats it as one validator (a :class:`Player` with
its own seed and state); each epoch the player may run forward passes, then returns the weight row it
sets (``None``: it sets none) from what the chain shows it (a :class:`ChainView`).

Built in: ``honest`` (runs its own mirror neuron over the shared miners and sets the weights it
computes), ``copier`` (the consensus of the last visible epoch, ``lag`` tempos older), ``cabal``
(weight on its own miners), ``lazy`` (random or stale weights) and ``offline`` (sets nothing). User
code: ``module:Class`` (a ValidatorStrategy subclass) or ``module:function``, called as
``function(view, rng, **params)`` and returning a weight row over all uids (or None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from mirror_neuron import registry
from mirror_neuron.chain.params import U16, WeightRules
from mirror_neuron.errors import UserError
from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.miners.base import Behaviour
from mirror_neuron.neuron.weights import cap_weights
from mirror_neuron.registry import component

CONSENSUS_KEPT = 64  # epochs of published consensus a validator can look back on
LIMIT_MARGIN = 0.999  # rows are capped a little below max_weight_limit: the chain's u16 rounding stays under it


@dataclass
class Population:
    """What every validator of one network shares: the uids, the miners and their behaviours, the data."""

    n: int
    validator_uids: np.ndarray
    miner_uids: np.ndarray
    behaviours: list[Behaviour]  # one per uid (validators' uids hold a placeholder that is never queried)
    labels: np.ndarray  # per uid: the miner strategy label, or the validator group's name
    metagraph: Metagraph  # the template each honest neuron copies
    rules: WeightRules
    prompts: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    references: list[Any] = field(default_factory=list)
    base_dir: Path | None = None
    quality: Any = None  # the honest validators' tally of answer quality (network.honest.Quality), with references
    calls: Any = None  # the honest validators' tally of every miner's calls and rewards (lab.tournament.CallCounts)


@dataclass
class Seat:
    """One validator: its uid, its group, its index within the group and its own seed."""

    uid: int
    group: str
    index: int
    seed: int
    population: Population


@dataclass
class ChainView:
    """What a validator sees when it sets weights: the consensus of every epoch run so far (oldest
    first), the stored (revealed) weight rows, the stake, and which uids are miners."""

    uid: int
    epoch: int
    block: int
    consensus: list[np.ndarray]
    weights: np.ndarray
    stake: np.ndarray
    miner_uids: np.ndarray
    labels: np.ndarray

    @property
    def n(self) -> int:
        return len(self.stake)


class Player:
    """A seated strategy: asks its strategy for weights with its own random stream."""

    def __init__(self, strategy: ValidatorStrategy, seat: Seat) -> None:
        self.strategy = strategy
        self.seat = seat
        self.rng = np.random.default_rng(seat.seed)

    def forward(self, passes: int) -> None:
        """Work between two weight settings (only validators that evaluate miners do any)."""

    def weights(self, view: ChainView) -> np.ndarray | None:
        row = self.strategy.weights(view, self.rng)
        return None if row is None else within_rules(row, self.seat.population.rules, view.miner_uids)

    def registered(self, uids: np.ndarray) -> None:
        """``uids`` were re-registered under new hotkeys."""

    def get_state(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any], folder: Path) -> None:
        self.rng.bit_generator.state = state["rng"]

    def save(self, folder: Path) -> dict[str, Any]:
        """State to keep with a chunk; large parts may be written into ``folder``."""
        return self.get_state()


class ValidatorStrategy(BaseModel):
    """A validator strategy; its fields are its parameters. Override :meth:`weights`, or :meth:`play`
    for a validator that keeps state of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]

    def play(self, seat: Seat) -> Player:
        return Player(self, seat)

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        raise NotImplementedError


def within_rules(row: np.ndarray, rules: WeightRules, candidates: np.ndarray) -> np.ndarray | None:
    """``row`` normalized so the chain accepts it: at least ``min_allowed_weights`` entries (a tiny floor
    on the other ``candidates`` when it has fewer) and no weight above ``max_weight_limit`` (the excess
    goes to the other candidates, in proportion, or evenly when they hold none); None for an empty row."""
    row = np.clip(np.nan_to_num(np.asarray(row, dtype=np.float64)), 0, None)
    if row.ndim != 1:
        return row  # the network refuses it, naming the validator
    if row.sum() <= 0:
        return None
    row = row / row.sum()
    limit = rules.max_weight_limit / U16 * LIMIT_MARGIN
    if (row > 0).sum() >= rules.min_allowed_weights and row.max() <= limit:
        return row
    floor = np.zeros_like(row)
    floor[candidates] = 1e-4 * row.max()
    row = np.where(row > 0, row, floor)
    if row.max() <= limit * row.sum():
        return row / row.sum()
    capped = np.zeros_like(row)
    capped[candidates] = cap_weights(row[candidates] / row[candidates].sum(), limit)
    return capped


@component("validator_strategy", "copier",
           summary="sets the consensus of the last visible epoch (lag: tempos older), or the revealed weights "
                   "of another group's validator (source); evaluates nothing")
class Copier(ValidatorStrategy):
    """Weight copying (exploit 9): the consensus the chain published ``lag`` epochs before the last one
    (``source: consensus``), or the weights a validator of group ``source`` last revealed on chain (the
    one with the most stake; ``lag`` must be 0, since the chain keeps only each validator's last row).

    With commit-reveal on, what it copies is already the reveal period old, and its own weights count
    only a reveal period later.
    """

    lag: Annotated[NonNegativeInt, Field(lt=CONSENSUS_KEPT)] = 0
    source: str = "consensus"

    @model_validator(mode="after")
    def _lag_of_the_consensus(self) -> Copier:
        if self.lag and self.source != "consensus":
            raise ValueError(f"lag applies to the consensus; a validator's revealed weights ('{self.source}') are "
                             "copied as the chain holds them now (set lag: 0)")
        return self

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        if self.source != "consensus":
            group = np.flatnonzero(view.labels == self.source)
            group = group[~np.isin(group, view.miner_uids)]
            if not len(group):
                return None
            row = view.weights[group[np.argmax(view.stake[group])]]
            return row if row.sum() > 0 else None
        if len(view.consensus) <= self.lag:
            return None
        return view.consensus[-1 - self.lag]


@component("validator_strategy", "cabal", summary="weight on its own miners (targets), the rest spread evenly")
class Cabal(ValidatorStrategy):
    """Colluding validators: ``self_weight`` of their weight on the miners of the ``targets`` strategies
    (keys of the miners block), the rest spread evenly over the other miners."""

    targets: list[str] = Field(min_length=1)
    self_weight: float = Field(1.0, ge=0.0, le=1.0)

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        own = np.zeros(view.n, dtype=bool)
        own[view.miner_uids] = np.isin(view.labels[view.miner_uids], self.targets)
        others = np.zeros(view.n, dtype=bool)
        others[view.miner_uids] = ~own[view.miner_uids]
        row = np.zeros(view.n)
        row[own] = self.self_weight / max(own.sum(), 1)
        row[others] = (1.0 - self.self_weight) / max(others.sum(), 1)
        return row


@component("validator_strategy", "lazy", summary="random weights, or the same stale weights, every few epochs")
class Lazy(ValidatorStrategy):
    """A validator that evaluates nothing: every ``every`` epochs it sets ``random`` weights over the
    miners (drawn anew) or ``stale`` ones (drawn once, then set again unchanged)."""

    mode: Literal["random", "stale"] = "random"
    every: PositiveInt = 1

    def play(self, seat: Seat) -> Player:
        return LazyPlayer(self, seat)

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        row = np.zeros(view.n)
        row[view.miner_uids] = rng.random(len(view.miner_uids))
        return row


class LazyPlayer(Player):
    def __init__(self, strategy: Lazy, seat: Seat) -> None:
        super().__init__(strategy, seat)
        self.stale: np.ndarray | None = None

    def weights(self, view: ChainView) -> np.ndarray | None:
        strategy: Lazy = self.strategy  # type: ignore[assignment]
        if view.epoch % strategy.every:
            return None
        if strategy.mode == "stale" and self.stale is not None:
            return self.stale
        row = strategy.weights(view, self.rng)
        self.stale = row if strategy.mode == "stale" else None
        return row

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "stale": self.stale}

    def set_state(self, state: dict[str, Any], folder: Path) -> None:
        super().set_state(state, folder)
        self.stale = state.get("stale")


@component("validator_strategy", "offline", summary="sets no weights: stake without work")
class Offline(ValidatorStrategy):
    """Holds stake and sets no weights (its empty row counts as zeros until it turns inactive)."""

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        return None


class FunctionStrategy(ValidatorStrategy):
    """Calls ``target`` (``"package.module:function"``) as ``function(view, rng, **params)``."""

    name: ClassVar[str] = "function"
    target: str
    params: dict[str, Any] = {}

    def weights(self, view: ChainView, rng: np.random.Generator) -> np.ndarray | None:
        return registry.load_target(self.target)(view, rng, **self.params)


def make_strategy(name: str, params: dict[str, Any], where: str = "") -> ValidatorStrategy:
    """The strategy registered as ``name`` or user code (``module:Class`` / ``module:function``), built
    with ``params``; a bad name or parameter is a one-line :class:`UserError`."""
    found = registry.get("validator_strategy", name).load()
    label = f"{where}: " if where else ""
    if isinstance(found, type) and issubclass(found, ValidatorStrategy):
        cls, kwargs = found, params
    elif callable(found) and not isinstance(found, type):
        cls, kwargs = FunctionStrategy, {"target": name, "params": params}
    else:
        raise UserError(f"{label}'{name}' is neither a validator strategy class nor a function")
    try:
        return cls(**kwargs)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(map(str, first["loc"])) or "parameters"
        raise UserError(f"{label}strategy {name}: {key}: {first['msg'].removeprefix('Value error, ')}") from None


def pool_for(population: Population, seed: int) -> DummyDendritePool:
    """A dendrite pool over the shared miners, with its own latency draws."""
    return DummyDendritePool(population.behaviours, seed=seed)
