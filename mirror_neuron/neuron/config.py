"""The neuron's config (a ``model`` entry with ``type: neuron``) and building a Neuron from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

from mirror_neuron import registry
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.population import build_population
from mirror_neuron.neuron.reward.base import RewardModelBase


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetagraphConfig(_Strict):
    n: PositiveInt = 64
    not_serving: float = Field(0.0, ge=0.0, le=1.0)  # share of uids whose axon does not serve
    validators: NonNegativeInt = 0  # uids with a validator permit (never queried)


class ChurnConfig(_Strict):
    """Every ``every`` forward passes, ``count`` random uids get new hotkeys (0: no churn)."""

    every: NonNegativeInt = 0
    count: NonNegativeInt = 1


class PartConfig(_Strict):
    """A gating or reward model: its registered ``type`` and its parameters."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class WeightsConfig(_Strict):
    alpha: float = Field(0.99, ge=0.0, le=1.0)  # weight on the old moving score
    rule: Literal["softmax_scatter", "scatter"] = "softmax_scatter"
    min_allowed_weights: NonNegativeInt = 8
    max_weight_limit: float = Field(0.1, gt=0.0, le=1.0)
    exclude_quantile: float = Field(0.0, ge=0.0, lt=1.0)


class NeuronConfig(_Strict):
    """The parts of a simulated validator. Unset seeds follow the experiment's seed."""

    metagraph: MetagraphConfig = MetagraphConfig()
    churn: ChurnConfig = ChurnConfig()
    miners: dict[str, Any] = {}  # behaviour -> count | share | {count|share, params...}; the rest are honest
    gating: PartConfig = PartConfig(type="RandomGatingModel")
    reward: PartConfig | None = PartConfig(type="ConstantRewardModel")  # null: gating scores stand in
    weights: WeightsConfig = WeightsConfig()
    timeout: PositiveFloat = 12.0
    training_topk: PositiveInt = 50
    seed: int | None = None


class PartSeeds(NamedTuple):
    metagraph: int
    population: int
    pool: int
    gating: int
    reward: int
    neuron: int


def part_seeds(seed: int) -> PartSeeds:
    """Independent seeds for each part, all derived from one experiment seed."""
    return PartSeeds(*(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(PartSeeds._fields))))


def build_metagraph(config: NeuronConfig, seed: int) -> Metagraph:
    graph = config.metagraph
    return Metagraph.create(graph.n, graph.not_serving, graph.validators, seed=seed)


def build_pool(config: NeuronConfig, n: int, population_seed: int, pool_seed: int) -> DummyDendritePool:
    return DummyDendritePool(build_population(config.miners, n, population_seed), seed=pool_seed)


def build_gating(config: NeuronConfig, n: int, seed: int) -> GatingModelBase:
    return _part("gating", config.gating, n_uids=n, seed=seed)


def build_reward(config: NeuronConfig, seed: int, base_dir: Path | None = None) -> RewardModelBase | None:
    """The neuron's reward model (None: ``reward: null``, the gating scores stand in). Relative model
    paths and checkpoints are read from ``base_dir`` (the config's folder) when given."""
    if config.reward is None:
        return None
    model = _part("reward", config.reward, seed=seed, base_dir=base_dir)
    if not isinstance(model, RewardModelBase):
        raise UserError(f"reward.{config.reward.type}: builds a {type(model).__name__}, not a reward model "
                        "(a RewardModelBase)")
    return model


def _part(family: str, part: PartConfig, **fixed: Any) -> Any:
    """Build a part, its parameters checked against its parameter model first; a supplied argument its
    class does not take (``base_dir``) is left out."""
    found = registry.get(family, part.type)
    cls = found.load()
    try:
        registry.validate_params(found, part.params)
    except registry.ParamError as error:
        raise UserError(error.message) from None
    try:
        return cls(**registry.taken(cls, **fixed), **part.params)
    except TypeError as error:
        raise UserError(f"{family}.{part.type}: {error}") from None


def check_part(family: str, part: PartConfig, where: Callable[..., str], *keys: str) -> None:
    """Check a gating or reward part's ``type`` and parameter names before anything is imported (a
    RewardStack's scorers and filters too); a problem is a :class:`ConfigError` at the key it concerns.
    ``where(*keys)`` locates a key path below the part's parent, ``keys`` the part itself."""
    _check_component(family, part.type, part.params, where, *keys)


def _check_component(family: str, name: str, params: dict[str, Any], where: Callable[..., str],
                     *keys: str) -> None:
    try:
        found = registry.get(family, name)
    except UserError as error:
        raise ConfigError(error.message, where(*keys)) from None
    try:
        registry.check_params(found, params)
    except registry.ParamError as error:
        raise ConfigError(error.message, where(*keys, *([error.key] if error.key else []))) from None
    if found.name != "RewardStack":
        return
    for scorer, spec in (params.get("scorers") or {}).items():
        spec = dict(spec or {})
        if "type" not in spec:
            raise ConfigError("a scorer needs a type (a registered reward model)", where(*keys, "scorers", scorer))
        spec.pop("weight", None)
        _check_component("reward", spec.pop("type"), spec, where, *keys, "scorers", scorer)
    for fltr, spec in (params.get("filters") or {}).items():
        spec = {k: v for k, v in dict(spec or {}).items() if k != "enabled"}
        _check_component("filter", fltr, spec, where, *keys, "filters", fltr)
