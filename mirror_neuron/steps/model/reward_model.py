"""``type: reward_model`` (the default model type): a reward model to query over data.

Kinds are registered reward models that load from a path (``trlx``, ``sequence_classification``,
``log_prob``; see :class:`~mirror_neuron.steps.model.spec.RewardModelOptions`). The step resolves the
checkpoint (downloading a URL once), records its sha256 in the spec it hands off, loads the model to
check that it fits and stores a description; the query steps reuse the model it loaded.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.hashing import source_sha256
from mirror_neuron.neuron.config import check_model_options
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.model.spec import (
    RewardModelOptions,
    RewardModelSpec,
    describe_reward_model,
    reward_model_kind,
    unsupported_options,
)
from mirror_neuron.store import ChunkWriter, StepOutput


class RewardModelConfig(StepConfig, RewardModelOptions):
    """A ``model`` entry with ``type: reward_model``."""


@component("model", "reward_model",
           summary="a reward model (kind: trlx, sequence_classification, log_prob), with checkpoint and overrides")
class RewardModelStep(Step):
    section = "model"
    config_class = RewardModelConfig
    config: RewardModelConfig

    def spec(self) -> RewardModelSpec:
        """What this step hands off: its options, the kind checked, the local checkpoint's sha256."""
        config = self.config
        try:
            reward_model_kind(config.kind)
        except UserError as error:
            raise ConfigError(error.message, self.context.where("kind")) from None
        check_model_options({"path": config.path, "tokenizer": config.tokenizer, "device": config.device},
                            self.context.where, base_dir=self.context.config_dir)
        unsupported = unsupported_options(config)
        if unsupported:
            raise ConfigError(f"reward model kind '{config.kind}' takes no {unsupported[0]}",
                              self.context.where(unsupported[0]))
        ckpt_sha256 = None
        if config.ckpt and not config.ckpt.startswith(("http://", "https://")):
            from mirror_neuron.models.checkpoints import fetch_checkpoint

            try:
                ckpt_sha256 = source_sha256(fetch_checkpoint(config.ckpt, self.context.config_dir))
            except UserError as error:
                raise ConfigError(error.message, self.context.where("ckpt")) from None
        fields = config.model_dump(exclude={"id", "requires"})
        return RewardModelSpec(**fields, ckpt_sha256=ckpt_sha256)

    def resolve(self) -> dict[str, Any]:
        return self.spec().model_dump(mode="json")

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        try:
            description = describe_reward_model(self.spec(), self.context.config_dir, self.context.seed)
        except ConfigError:
            raise
        except UserError as error:  # the model or its checkpoint cannot be loaded: say which entry names it
            key = "ckpt" if "checkpoint" in error.message else "path"
            raise ConfigError(error.message, self.context.where(key)) from None
        if writer.completed == 0:
            writer.write(data=pd.DataFrame([description]))
        return {"parameters": float(description.get("parameters", 0))}
