"""``type: network``: many validators over one miner population on a simulated chain; stores its uid table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.network.config import NetworkConfig
from mirror_neuron.network.honest import Honest
from mirror_neuron.network.simulation import validator_stakes
from mirror_neuron.network.strategies import Cabal, make_strategy
from mirror_neuron.neuron.config import PartConfig, check_part, part_seeds
from mirror_neuron.neuron.population import build_population
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.store import ChunkWriter, StepOutput


class NetworkModelConfig(StepConfig, NetworkConfig):
    """A ``model`` entry with ``type: network``::

        model:
          id: net
          type: network
          metagraph: {n: 256}                 # the miners (validators get uids of their own, first)
          miners: {slow: 16}                  # as a neuron's miners block; the rest are honest
          churn: {every: 0, count: 1}         # every N epochs, count miners re-register
          validators:                         # groups: count, stake share, distribution, strategy + params
            honest: {count: 12, neuron: {reward: {type: LengthRewardModel, cap: 50}}}
            copiers: {count: 4, stake: 0.25, strategy: copier, lag: 0}
          chain: {tempo: 99, forward_passes_per_block: 0.2, version: yuma1-2023, commit_reveal: off}
    """


@component("model", "network",
           summary="many validators (honest neurons, copiers, cabals, ...) over one miner population on a simulated chain")
class NetworkModelStep(Step):
    section = "model"
    config_class = NetworkModelConfig
    config: NetworkModelConfig

    def resolve(self) -> dict[str, Any]:
        self.check()
        return self.spec().model_dump(mode="json")

    def spec(self) -> NetworkConfig:
        """The network's config with its seed resolved against the experiment's."""
        config = NetworkConfig.model_validate(self.config.model_dump(exclude={"id", "requires"}))
        return config.model_copy(update={"seed": config.seed if config.seed is not None else self.context.seed})

    def check(self) -> None:
        """Every part is checked before anything runs: the chain's ranges, stakes, miners, strategies and
        their parameters, honest neurons' parts, cabal targets."""
        where = self.context.where
        config = self.config
        try:
            config.chain.params()
        except ConfigError as error:
            key = (error.where or "chain").split(".")
            raise ConfigError(error.message, where(*key)) from None
        if config.metagraph.validators:
            raise ConfigError("a network's validators come from its validators block; leave metagraph.validators "
                              "unset", where("metagraph", "validators"))
        try:
            population = build_population(config.miners, config.metagraph.n)
        except UserError as error:
            raise ConfigError(error.message, where("miners")) from None
        try:
            validator_stakes(config, 0)
        except UserError as error:
            raise ConfigError(error.message, where("validators")) from None
        labels = set(_labels(config, population))
        for name, group in config.validators.items():
            try:
                strategy = make_strategy(group.strategy, group.params)
            except UserError as error:
                raise ConfigError(error.message, where("validators", name)) from None
            if isinstance(strategy, Honest):
                neuron = strategy.neuron
                for part in ("gating", "reward"):
                    if neuron.get(part):
                        check_part(part, PartConfig.model_validate(neuron[part]), where, "validators", name,
                                   "neuron", part)
            if isinstance(strategy, Cabal):
                unknown = [t for t in strategy.targets if t not in labels]
                if unknown:
                    raise ConfigError(f"cabal target '{unknown[0]}' is no miner strategy of this network; its "
                                      f"miners play {', '.join(sorted(labels))}", where("validators", name, "targets"))

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        spec = self.spec()
        seeds = part_seeds(spec.seed if spec.seed is not None else self.context.seed)
        stake, counts = validator_stakes(spec, seeds.metagraph)
        rows = [{"uid": uid, "role": "validator", "group": name, "strategy": spec.validators[name].strategy,
                 "stake": float(stake[uid])} for uid, name in enumerate(n for n, c in counts for _ in range(c))]
        miners_seed = spec.miners_seed if spec.miners_seed is not None else seeds.miners
        behaviours = build_population(spec.miners, spec.metagraph.n, seeds.population, miners_seed)
        for index, label in enumerate(_labels(spec, behaviours, miners_seed)):
            rows.append({"uid": len(stake) + index, "role": "miner", "group": label, "strategy": label, "stake": 0.0})
        if writer.completed == 0:
            writer.write(data=pd.DataFrame(rows))
        return {"uids": float(len(rows)), "validators": float(len(stake)), "miners": float(spec.metagraph.n)}


def _labels(config: NetworkConfig, behaviours: list, miners_seed: int | None = None) -> list[str]:
    from mirror_neuron.lab.tournament import strategy_labels

    return strategy_labels(config.miners, behaviours, miners_seed)
