"""``type: reward_model`` (the default model type): a reward model to query over data.

Kinds: ``trlx`` (a causal LM backbone with a scalar ``v_head``, the Dahoas GPT-J shape; ``ckpt``
loads ``hf_ckpt.pt``), ``sequence_classification`` (``AutoModelForSequenceClassification``, e.g. the
OpenAssistant DeBERTa reward models) and ``log_prob`` (mean completion log-probability under a causal
LM). The step resolves the checkpoint (downloading a URL once), verifies its sha256, loads the model
to check that it fits, and stores a description; the query step loads it again to score.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.store import ChunkWriter, StepOutput, source_sha256


class RewardModelConfig(StepConfig):
    """A reward model: what to load and how (the original's keys plus ``kind``)."""

    kind: Literal["trlx", "sequence_classification", "log_prob"] = "trlx"
    path: str
    ckpt: str | None = None  # a local file or URL holding the whole module's weights
    sha256: str | None = None
    allow_unsafe_pickle: bool = False
    tokenizer: str = "default"  # or another tokenizer's path
    embedding: Literal["default", "resize"] = "default"  # resize: token embeddings to the tokenizer
    norm: Literal["default", "identity", "reset"] = "default"  # replace the final norm
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class RewardModelStep(Step):
    section = "model"
    config_class = RewardModelConfig
    config: RewardModelConfig

    def resolve(self) -> dict[str, Any]:
        resolved = super().resolve()
        if self.config.ckpt and not self.config.ckpt.startswith(("http://", "https://")):
            from mirror_neuron.models.checkpoints import fetch_checkpoint

            try:
                resolved["ckpt_sha256"] = source_sha256(fetch_checkpoint(self.config.ckpt, self.context.config_dir))
            except UserError as error:
                raise ConfigError(error.message, self.context.where("ckpt")) from None
        return resolved

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        from mirror_neuron.models.reward_models import load_reward_model

        model = load_reward_model(self.config, self.context.config_dir, self.context.seed)
        description = model.describe()
        if writer.completed == 0:
            writer.write(data=pd.DataFrame([description]))
        return {"parameters": float(description["parameters"])}
