"""The openvalidators reciprocate scorer: a sequence classifier's logit of an OpenAssistant-format chat.

The reward of a completion is ``logits[0]`` of one text, :func:`reciprocate_text`, tokenized with
truncation, under ``reciprocate/gpt-j_rm_format-oa`` at revision ``501f895`` (a GPT-J reward model the
original ran in float16). The loading code is the sequence classifier's (:mod:`.sequence_classification`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mirror_neuron.neuron.reward.sequence_classification import SequenceClassificationRewardModel
from mirror_neuron.registry import component

RECIPROCATE_ORIGINAL = "reciprocate/gpt-j_rm_format-oa"
RECIPROCATE_REVISION = "501f895"


def reciprocate_text(prompt: str, completion: str) -> str:
    """``<|prompter|>{prompt}</s><|assistant|>{completion}</s><|endoftext|>``: the one text scored."""
    return "<|prompter|>" + prompt + "</s><|assistant|>" + completion + "</s><|endoftext|>"


@component("reward", summary="openvalidators' reciprocate scorer: a classifier's logit of the OpenAssistant chat text",
           aliases=("reciprocate",))
class ReciprocateRewardModel(SequenceClassificationRewardModel):
    """``logits[row, 0]`` of :func:`reciprocate_text` per row, cut to the tokenizer's ``model_max_length``
    (or to ``max_length`` when set), ``batch_size`` rows per forward, padded to the longest (masked).

    ``path``: as for :class:`SequenceClassificationRewardModel` (``tiny:gpt2`` by default, the
    original hub id ``reciprocate/gpt-j_rm_format-oa`` or a local copy). ``revision``: the hub revision;
    for the original hub id it defaults to the original's ``501f895``. The original ran in float16
    (``dtype: float16``, on a GPU only); ``device`` and ``dtype``: see :mod:`mirror_neuron.models.device`.
    """

    raw_name = "reciprocate"
    original: ClassVar[str] = RECIPROCATE_ORIGINAL

    def __init__(self, seed: int = 0, path: str = "tiny:gpt2", batch_size: int = 16, revision: str | None = None,
                 device: str = "cpu", dtype: str = "float32", base_dir: Path | None = None) -> None:
        if revision is None and path == RECIPROCATE_ORIGINAL:
            revision = RECIPROCATE_REVISION
        super().__init__(seed, path, batch_size, truncation=True, revision=revision, device=device, dtype=dtype,
                         base_dir=base_dir)

    def stand_ins(self) -> dict[str, str]:
        if self.path == RECIPROCATE_ORIGINAL and self.revision == RECIPROCATE_REVISION:
            return {}
        loaded = self.path if self.path != RECIPROCATE_ORIGINAL else f"{self.path}@{self.revision}"
        return {RECIPROCATE_ORIGINAL: loaded}

    def encode(self, prompts: list[str], completions: list[str]) -> Any:
        """The padded tokenizer batch of these rows: each row's :func:`reciprocate_text`, truncated."""
        texts = [reciprocate_text(p, c) for p, c in zip(prompts, completions, strict=True)]
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
