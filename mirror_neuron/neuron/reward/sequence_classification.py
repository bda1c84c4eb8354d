"""A sequence-classification reward model: the RLHF scorer of the later validators (OpenAssistant DeBERTa).

The reward of a completion is the logit of ``tokenizer(prompt, completion)`` (the two texts as a pair)
under an ``AutoModelForSequenceClassification`` with one label. It is the ``sequence_classification``
kind of a ``type: reward_model`` step, and sits in a ``RewardStack`` like any scorer. This module is
also the one home for loading sequence classifiers (:func:`shared_classifier`); the reciprocate
scorer (:mod:`.reciprocate`) reads one text through the same code.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.models.checkpoints import refused_pickle
from mirror_neuron.models.device import describe_network, resolve_device, resolve_dtype
from mirror_neuron.models.tiny import is_tiny, tiny_config, tiny_tokenizer
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.registry import component

RLHF_ORIGINAL = "OpenAssistant/reward-model-deberta-v3-large-v2"  # the openvalidators RLHF scorer's model


@component("reward",
           summary="RLHF scorer: the logit of (prompt, completion) under a sequence classifier",
           aliases=("sequence_classification",))
class SequenceClassificationRewardModel(RewardModelBase):
    """The logit of ``(prompt, completion)`` under a sequence classifier, ``batch_size`` rows per forward.

    ``path``: ``tiny:gpt2`` and friends (a random one-label head over a tiny backbone, weights from
    ``seed``), a local model directory (relative paths from ``base_dir``) or a hub id (``revision``: a
    hub revision). The logit read is ``logits[row, 0]``, as openvalidators read ``logits[0]`` of its one
    pair. ``truncation`` (default): pairs longer than the tokenizer's ``model_max_length`` are cut to it;
    ``truncation=False`` is openvalidators' reading, each pair whole (DeBERTa-v3's relative positions
    read any length), cut only where the model has absolute positions that cannot reach that far.
    ``max_length`` (the ``tokenizer`` options of a query), when set, cuts every pair to that many tokens.
    Rows of a batch are padded to its longest (masked: the logit is the unpadded one, within rounding).
    ``device`` and ``dtype``: see :mod:`mirror_neuron.models.device`. The original's model is
    ``OpenAssistant/reward-model-deberta-v3-large-v2`` (:meth:`stand_ins` names what ``path`` loads instead).
    """

    raw_name = "sequence_classification"
    stateless = True
    original: ClassVar[str] = RLHF_ORIGINAL

    def __init__(self, seed: int = 0, path: str = "tiny:gpt2", batch_size: int = 16, truncation: bool = True,
                 revision: str | None = None, device: str = "cpu", dtype: str = "float32",
                 base_dir: Path | None = None) -> None:
        super().__init__(seed)
        resolved = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, resolved)
        weights_seed = seed if is_tiny(path) else 0  # only built-in tiny models take their weights from the seed
        self.model, self.tokenizer = shared_classifier(path, weights_seed, base_dir, resolved, torch_dtype, revision)
        self.path, self.revision, self.batch_size, self.truncation = path, revision, batch_size, truncation

    def describe(self) -> dict[str, str | int]:
        return describe_network(self.model)

    def stand_ins(self) -> dict[str, str]:
        return {} if self.path == self.original else {self.original: self.path}

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        values: list[float] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(prompts), self.batch_size):
            batch = self.encode(list(prompts[start:start + self.batch_size]),
                                list(completions[start:start + self.batch_size])).to(device)
            with torch.inference_mode():
                values.extend(self.model(**batch).logits[:, 0].float().tolist())
        return np.asarray(values, dtype=np.float64)

    def encode(self, prompts: list[str], completions: list[str]) -> Any:
        """The padded tokenizer batch of these rows: each ``(prompt, completion)`` as a pair."""
        limit = self.max_length if self.max_length is not None or self.truncation else absolute_positions(self.model)
        return self.tokenizer(prompts, completions, padding=True, truncation=self.truncation or limit is not None,
                              max_length=limit, return_tensors="pt")


def absolute_positions(model: Any) -> int | None:
    """How many positions a classifier's absolute position embeddings reach (None: relative positions only)."""
    config = model.config
    if getattr(config, "position_biased_input", True) is False:  # DeBERTa-v2/v3: relative positions only
        return None
    limit: int | None = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return limit


@functools.lru_cache(maxsize=4)
def shared_classifier(path: str, seed: int, base_dir: Path | None, device: str, dtype: torch.dtype,
                      revision: str | None = None) -> tuple[Any, Any]:
    """The frozen classifier and its tokenizer (with a pad token), loaded once per process."""
    model, tokenizer = load_sequence_classifier(path, seed, base_dir, revision)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:  # GPT-style heads find each row's last token by the pad id
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_sequence_classifier(path: str, seed: int, base_dir: Path | None, revision: str | None = None,
                             labels: int = 1) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a sequence classifier at ``path`` (a hub id at ``revision``); a tiny one
    gets ``labels`` outputs with weights from ``seed``, a loaded one must have ``labels`` outputs."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if is_tiny(path):
        config = tiny_config(path)
        config.num_labels = labels
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return AutoModelForSequenceClassification.from_config(config), tiny_tokenizer()
    local = base_dir / path if base_dir is not None and (base_dir / path).exists() else Path(path)
    source = str(local) if local.exists() else path
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, revision=revision)
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    except pickle.UnpicklingError as error:
        raise refused_pickle(source, error) from None
    except OSError as error:
        raise UserError(f"cannot load sequence-classification model '{path}' ({' '.join(str(error).split())[:200]}); "
                        "without the hub, point path at a local model directory") from None
    if model.config.num_labels != labels:
        raise UserError(f"the classifier '{path}' has {model.config.num_labels} labels; {labels} needed here")
    return model, tokenizer
