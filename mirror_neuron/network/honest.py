"""The honest validator: its own mirror neuron over the network's shared miners, setting what it computes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import field_validator

from mirror_neuron.chain.params import U16
from mirror_neuron.lab.quality import token_f1
from mirror_neuron.lab.tournament import gating_filters
from mirror_neuron.network.strategies import LIMIT_MARGIN, ChainView, Player, Seat, ValidatorStrategy, pool_for
from mirror_neuron.neuron import loops
from mirror_neuron.neuron.config import NeuronConfig, part_seeds
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.registry import component

SHARED_KEYS = ("metagraph", "miners", "churn", "miners_seed")  # set once for the whole network
QUALITY_CALLS = 20  # completions per miner uid scored against the reference (its answers do not change)


def neuron_config(neuron: dict[str, Any], seat: Seat) -> NeuronConfig:
    """The seat's neuron: the group's ``neuron`` block over the network's metagraph size, no churn of
    its own, the chain's weight limits unless the block sets them, and a seed derived from the seat."""
    weights = {"min_allowed_weights": seat.population.rules.min_allowed_weights,
               "max_weight_limit": min(1.0, seat.population.rules.max_weight_limit / U16 * LIMIT_MARGIN),
               **dict(neuron.get("weights") or {})}
    given = {**neuron, "weights": weights, "metagraph": {"n": seat.population.n}, "seed": seat.seed}
    return NeuronConfig.model_validate(given)


class Quality:
    """Per uid: token F1 of its first :data:`QUALITY_CALLS` completions against the data's reference."""

    def __init__(self, n: int) -> None:
        self.f1_sum = np.zeros(n)
        self.calls = np.zeros(n, dtype=np.int64)

    def add(self, uids: list[int], completions: list[str], reference: str | None) -> None:
        if not reference:
            return
        for uid, completion in zip(uids, completions):
            if self.calls[uid] < QUALITY_CALLS:
                self.f1_sum[uid] += token_f1(completion, reference)
                self.calls[uid] += 1

    @property
    def f1(self) -> np.ndarray:
        """Mean F1 per uid (NaN for a uid never scored)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.calls > 0, self.f1_sum / np.maximum(self.calls, 1), np.nan)


@component("validator_strategy", "honest",
           summary="runs its own mirror neuron (neuron: any neuron config) over the shared miners; sets its weights")
class Honest(ValidatorStrategy):
    """An honest validator: a mirror neuron of its own (``neuron``: any neuron config but the network's
    ``metagraph``, ``miners`` and ``churn``: its gating, reward stack, validator version, seed) asks
    ``topk`` miners (default: the neuron's ``training_topk``) about a random data prompt on each forward
    pass and sets the weights the neuron computes, under the chain's weight limits."""

    neuron: dict[str, Any] = {}
    topk: int | None = None
    random_sample_uids: bool = False
    train_gating_model: bool = False

    @field_validator("neuron")
    @classmethod
    def _own_keys_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        shared = [key for key in SHARED_KEYS if key in value]
        if shared:
            raise ValueError(f"{shared[0]} is the network's (set it beside validators, not in a neuron)")
        NeuronConfig.model_validate({k: v for k, v in value.items() if k != "seed"})
        return value

    def play(self, seat: Seat) -> Player:
        return HonestPlayer(self, seat)


class HonestPlayer(Player):
    """A seated honest validator and its neuron."""

    def __init__(self, strategy: Honest, seat: Seat) -> None:
        super().__init__(strategy, seat)
        population = seat.population
        config = neuron_config(strategy.neuron, seat)
        seeds = part_seeds(seat.seed)
        self.neuron = Neuron(config, metagraph=copy.deepcopy(population.metagraph),
                             dendrite_pool=pool_for(population, seeds.pool), prompts=population.prompts,
                             seed=seat.seed, base_dir=population.base_dir, contexts=population.contexts)
        self.neuron.dendrite_pool.learn(population.prompts, population.references)
        self.topk = strategy.topk if strategy.topk is not None else config.training_topk
        if population.calls is not None:
            population.calls.track(gating_filters(self.neuron.reward_model))

    def forward(self, passes: int) -> None:
        prompts = self.seat.population.prompts
        strategy: Honest = self.strategy  # type: ignore[assignment]
        quality = self.seat.population.quality
        references = self.neuron.dendrite_pool.references
        for _ in range(passes):
            prompt = prompts[int(self.rng.integers(len(prompts)))]
            loops.prompt_pass(self.neuron, prompt, topk=self.topk, random_sample_uids=strategy.random_sample_uids,
                              train_gating_model=strategy.train_gating_model)
            if quality is not None:
                known = references.get(prompt)
                for event in self.neuron.history:
                    quality.add(event.uids, event.completions, known.answer if known else None)
            if self.seat.population.calls is not None:
                self.seat.population.calls.add(self.neuron.history)
            self.neuron.history.clear()

    def weights(self, view: ChainView) -> np.ndarray | None:
        _, weights = self.neuron.compute_weights()
        return weights

    def registered(self, uids: np.ndarray) -> None:
        self.neuron.metagraph.churn(uids)

    def save(self, folder: Path) -> dict[str, Any]:
        self.neuron.save(folder / f"neuron_{self.seat.uid}.npz")
        return self.get_state()

    def set_state(self, state: dict[str, Any], folder: Path) -> None:
        super().set_state(state, folder)
        self.neuron.load(folder / f"neuron_{self.seat.uid}.npz")
