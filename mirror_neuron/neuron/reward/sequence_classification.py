"""A sequence-classification reward model: the RLHF scorer of the later validators (OpenAssistant DeBERTa).

The reward of a completion is the logit of ``tokenizer(prompt, completion)`` (the two texts as a pair)
under an ``AutoModelForSequenceClassification`` with one label. It is the ``sequence_classification``
kind of a ``type: reward_model`` step, and sits in a ``RewardStack`` like any scorer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.models.device import describe_network, resolve_device, resolve_dtype
from mirror_neuron.models.tiny import is_tiny, tiny_config, tiny_tokenizer
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.registry import component


@component("reward",
           summary="RLHF scorer: the logit of (prompt, completion) under a sequence classifier",
           aliases=("sequence_classification",))
class SequenceClassificationRewardModel(RewardModelBase):
    """The logit of ``(prompt, completion)`` under a sequence classifier, ``batch_size`` rows per forward.

    ``path``: ``tiny:gpt2`` and friends (a random one-label head over a tiny backbone, weights from
    ``seed``), a local model directory (relative paths from ``base_dir``) or a hub id. Pairs longer than
    the model's context are cut to fit (or to ``max_length`` tokens when set). ``device`` and ``dtype``:
    see :mod:`mirror_neuron.models.device`.
    """

    raw_name = "sequence_classification"
    stateless = True

    def __init__(self, seed: int = 0, path: str = "tiny:gpt2", batch_size: int = 16, device: str = "cpu",
                 dtype: str = "float32", base_dir: Path | None = None) -> None:
        super().__init__(seed)
        resolved = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, resolved)
        weights_seed = seed if is_tiny(path) else 0  # only built-in tiny models take their weights from the seed
        self.model, self.tokenizer = shared_classifier(path, weights_seed, base_dir, resolved, torch_dtype)
        self.path, self.batch_size = path, batch_size

    def describe(self) -> dict[str, str | int]:
        return describe_network(self.model)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        values: list[float] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(prompts), self.batch_size):
            batch = self.tokenizer(list(prompts[start:start + self.batch_size]),
                                   list(completions[start:start + self.batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(device)
            with torch.inference_mode():
                values.extend(self.model(**batch).logits[:, 0].float().tolist())
        return np.asarray(values, dtype=np.float64)


@functools.lru_cache(maxsize=2)
def shared_classifier(path: str, seed: int, base_dir: Path | None, device: str, dtype: torch.dtype
                      ) -> tuple[Any, Any]:
    """The frozen classifier and its tokenizer (with a pad token), loaded once per process."""
    model, tokenizer = load_sequence_classifier(path, seed, base_dir)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:  # GPT-style heads find each row's last token by the pad id
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_sequence_classifier(path: str, seed: int, base_dir: Path | None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a one-label sequence classifier at ``path``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if is_tiny(path):
        config = tiny_config(path)
        config.num_labels = 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return AutoModelForSequenceClassification.from_config(config), tiny_tokenizer()
    local = base_dir / path if base_dir is not None and (base_dir / path).exists() else Path(path)
    source = str(local) if local.exists() else path
    try:
        return AutoModelForSequenceClassification.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise UserError(f"cannot load sequence-classification model '{path}' ({' '.join(str(error).split())[:200]}); "
                        "without the hub, point path at a local model directory") from None
