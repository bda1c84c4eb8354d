"""``type: neuron``: describe a simulated validator; stores its resolved parts and its uid table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.log import say
from mirror_neuron.neuron.config import NeuronConfig, build_metagraph, build_pool, check_part, part_seeds
from mirror_neuron.neuron.population import MinerError, build_population
from mirror_neuron.neuron.versions import describe
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.store import ChunkWriter, StepOutput


class NeuronModelConfig(StepConfig, NeuronConfig):
    """A ``model`` entry with ``type: neuron``: the metagraph, miners, gating, reward and weights."""


@component("model", "neuron",
           summary="a simulated validator: metagraph, dummy miners, gating, reward and weights, all swappable")
class NeuronModelStep(Step):
    section = "model"
    config_class = NeuronModelConfig
    config: NeuronModelConfig

    def resolve(self) -> dict[str, Any]:
        self._check_parts()
        return self.spec().model_dump(mode="json")

    def spec(self) -> NeuronConfig:
        """What this step hands off (see :func:`~mirror_neuron.steps.model.spec.model_spec`): the neuron's
        config with its seed resolved against the experiment's."""
        fields = self.config.model_dump(exclude={"id", "requires"})
        config = NeuronConfig.model_validate(fields)
        return config.model_copy(update={"seed": config.seed if config.seed is not None else self.context.seed})

    def _check_parts(self) -> None:
        """Names and parameters are checked before anything runs; models are loaded only by the query."""
        try:
            build_population(self.config.miners, self.config.metagraph.n)
        except MinerError as error:
            raise ConfigError(error.message, self.context.where("miners", error.miner)) from None
        except UserError as error:
            raise ConfigError(error.message, self.context.where("miners")) from None
        self._check_available()
        base_dir = self.context.config_dir
        check_part("gating", self.config.gating, self.context.where, "gating", base_dir=base_dir)
        if self.config.reward is not None:
            check_part("reward", self.config.reward, self.context.where, "reward", base_dir=base_dir)
        if self.config.screen is not None:
            check_part("filter", self.config.screen, self.context.where, "screen", base_dir=base_dir)

    def _check_available(self) -> None:
        """A metagraph whose every uid is a validator or not serving has nothing to query: refused."""
        spec = self.spec()
        graph = build_metagraph(spec, part_seeds(spec.seed if spec.seed is not None else self.context.seed).metagraph)
        if len(graph.available_uids(spec.vpermit_tao_limit)) == 0:
            raise ConfigError(f"no uid of the {graph.n} can be queried (validators: {spec.metagraph.validators}, "
                              f"not serving: {spec.metagraph.not_serving:g}); the neuron would query nothing",
                              self.context.where("metagraph"))

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        spec = self.spec()  # the uid table needs the metagraph and the miners only: no model is loaded here
        seeds = part_seeds(spec.seed if spec.seed is not None else self.context.seed)
        graph = build_metagraph(spec, seeds.metagraph)
        pool = build_pool(spec, graph.n, seeds)
        table = pd.DataFrame({
            "uid": graph.uids, "hotkey": graph.hotkeys,
            "behaviour": [b.name for b in pool.behaviours],
            "is_serving": graph.is_serving, "validator_permit": graph.validator_permit, "stake": graph.stake,
        })
        if writer.completed == 0:
            writer.write(data=table)
        for line in describe(spec.model_dump(mode="json")):
            say(f"{self.config.id}: {line}")
        return {"uids": float(graph.n), "available_uids": float(len(graph.available_uids(spec.vpermit_tao_limit)))}
