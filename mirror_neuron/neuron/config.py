"""The neuron's config (a ``model`` entry with ``type: neuron``) and building a Neuron from it."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.population import build_population
from mirror_neuron.neuron.weights import ChainLimits


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


def build_neuron(config: NeuronConfig, seed: int, prompts: list[str] | None = None) -> Neuron:
    """A Neuron with every part built from ``config``; each part draws from its own seeded stream."""
    seed = config.seed if config.seed is not None else seed
    streams = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(6)]
    graph = config.metagraph
    metagraph = Metagraph.create(graph.n, graph.not_serving, graph.validators, seed=streams[0])
    pool = DummyDendritePool(build_population(config.miners, graph.n, streams[1]), seed=streams[2])
    gating = _part("gating", config.gating, n_uids=graph.n, seed=streams[3])
    reward = _part("reward", config.reward, seed=streams[4]) if config.reward is not None else None
    weights = config.weights
    limits = ChainLimits(weights.min_allowed_weights, weights.max_weight_limit, weights.exclude_quantile)
    return Neuron(metagraph, pool, gating, reward, alpha=weights.alpha, rule=weights.rule, limits=limits,
                  timeout=config.timeout, training_topk=config.training_topk, churn_every=config.churn.every,
                  churn_count=config.churn.count, seed=streams[5], prompts=prompts)


def _part(family: str, part: PartConfig, **fixed: Any) -> Any:
    cls = registry.get(family, part.type).load()
    try:
        return cls(**fixed, **part.params)
    except TypeError as error:
        raise UserError(f"{family}.{part.type}: {error}") from None
