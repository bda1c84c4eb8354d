"""The later validators' "DPO" scorer: mean log-probability of a completion given its prompt.

The reward of a completion is the mean, over its tokens, of ``log p(token | prompt, earlier tokens)``
under a causal LM, after a repetition penalty on tokens the completion already used. Blank or short
completions, and any non-finite result, get ``floor`` (-11: ``exp(-11)`` is below one over a typical
vocabulary size, i.e. worse than a uniform guess).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.models.device import describe_network
from mirror_neuron.models.tiny import is_tiny
from mirror_neuron.neuron.reward.base import RewardModelBase, group_rows
from mirror_neuron.neuron.reward.memo import MEMO, shared_causal_lm
from mirror_neuron.registry import component


def penalize(logits: torch.Tensor, completion: torch.Tensor, penalty: float,
             per_occurrence: bool = False) -> torch.Tensor:
    """Logits ``(L, V)`` predicting ``completion`` ``(L,)``, with a repetition penalty (a new tensor).

    Row ``k`` predicts ``completion[k]``; the tokens "already seen" there are ``completion[:k]`` (the
    completion only, not the prompt). Each seen token's logit is divided by ``penalty`` when positive
    and multiplied by it when negative, once whatever its count (transformers' repetition penalty),
    or ``penalty ** count`` times with ``per_occurrence`` (the openvalidators DPO scorer's variant).
    """
    if penalty == 1.0 or completion.numel() == 0:
        return logits.clone()
    uniques, inverse = completion.unique(return_inverse=True)
    occurrences = torch.nn.functional.one_hot(inverse, len(uniques)).to(logits.dtype)  # (L, U)
    seen = occurrences.cumsum(0) - occurrences  # counts in completion[:k], row k
    factor = penalty ** seen if per_occurrence else torch.where(seen > 0, penalty, 1.0)
    scores = logits[:, uniques]
    penalized = logits.clone()
    penalized[:, uniques] = torch.where(scores < 0, scores * factor, scores / factor)
    return penalized


@component("reward",
           summary="later validators' DPO scorer: mean completion log-probability under a causal LM",
           aliases=("log_prob",))
class LogProbRewardModel(RewardModelBase):
    """Mean token log-probability of each completion given the query's prompt (last user message).

    The scored sequence is ``tokens(prompt + separator)`` followed by ``tokens(completion)``, each
    tokenized on its own, so the completion's tokens are exactly its own tokenization (the default
    separator, a newline, keeps that tokenization natural; ``""`` joins the texts directly, as the
    openvalidators scorer did, which tokenized ``prompt + completion`` as one string). Completions
    that are blank or shorter than ``min_length`` characters get ``floor``; completions that do not
    fit the model's context are cut to fit (a prompt that alone fills it gives ``floor``).
    ``penalty`` (default 1.2, 1.0 = none) and ``per_occurrence``: see :func:`penalize`.
    The completions of one prompt are scored in batches of ``batch_size``, right-padded. The model is
    loaded once per process and each (prompt, completion) scored once (see :mod:`.memo`). ``max_length``
    (the ``tokenizer`` options of a RewardModel query) lowers the context the sequence is cut to.
    ``device`` and ``dtype``: see :mod:`mirror_neuron.models.device`.
    """

    raw_name = "logprob"
    stateless = True
    remembers = True

    def __init__(self, seed: int = 0, path: str = "tiny:gpt2", penalty: float = 1.2, per_occurrence: bool = False,
                 min_length: int = 6, floor: float = -11.0, separator: str = "\n", batch_size: int = 8,
                 device: str = "cpu", dtype: str = "float32", base_dir: Path | None = None) -> None:
        super().__init__(seed)
        if penalty <= 0:
            raise UserError(f"repetition penalty must be positive, got {penalty}")
        self.penalty, self.per_occurrence, self.min_length, self.floor = penalty, per_occurrence, min_length, floor
        self.separator, self.batch_size = separator, batch_size
        weights_seed = seed if is_tiny(path) else 0  # only built-in tiny models take their weights from the seed
        self.model, self.tokenizer = shared_causal_lm(path, weights_seed, base_dir, device, dtype)
        self.key = ("logprob", path, weights_seed, base_dir, penalty, per_occurrence, min_length, floor, separator,
                    str(self.model.device), str(self.model.dtype))
        config = self.model.config
        self.max_tokens: int = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)
        self.pad_id: int = self.tokenizer.pad_token_id

    def describe(self) -> dict[str, str | int]:
        return describe_network(self.model)

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """The mean log-probability of each completion given its prompt (``floor`` when it cannot be read)."""
        values = np.zeros(len(prompts))
        key = (*self.key, self.max_length)
        for prompt, rows in group_rows(prompts).items():
            found = MEMO.scores(key, prompt, [completions[i] for i in rows],
                                lambda todo, prompt=prompt: self.logprobs(prompt, todo))
            values[rows] = found
        return values

    def logprobs(self, prompt: str, completions: list[str]) -> list[float]:
        """The reward of every completion of ``prompt``."""
        prompt_ids = self.tokenizer(prompt + self.separator)["input_ids"]
        if not prompt_ids:  # nothing to condition the first token on: start from the eos/bos token
            prompt_ids = [self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.pad_id]
        context = self.max_tokens if self.max_length is None else min(self.max_tokens, self.max_length)
        room = context - len(prompt_ids)
        values = [self.floor] * len(completions)
        todo: list[tuple[int, list[int]]] = []
        for i, completion in enumerate(completions):
            if not completion.strip() or len(completion) < self.min_length or room <= 0:
                continue
            ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"][:room]
            if ids:
                todo.append((i, ids))
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            for (i, _), value in zip(batch, self._mean_logprobs(prompt_ids, [ids for _, ids in batch])):
                values[i] = value if math.isfinite(value) else self.floor
        return values

    @torch.inference_mode()
    def _mean_logprobs(self, prompt_ids: list[int], completions: list[list[int]]) -> list[float]:
        start = len(prompt_ids)
        width = start + max(len(ids) for ids in completions)
        input_ids = torch.full((len(completions), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(completions), width), dtype=torch.long)
        for row, ids in enumerate(completions):
            input_ids[row, :start + len(ids)] = torch.tensor(prompt_ids + ids)
            attention_mask[row, :start + len(ids)] = 1
        device = self.model.device
        logits = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        values = []
        for row, ids in enumerate(completions):
            target = torch.tensor(ids, device=logits.device)
            predicting = logits[row, start - 1:start - 1 + len(ids)].float()  # position j predicts token j + 1
            predicting = penalize(predicting, target, self.penalty, self.per_occurrence)
            logp = torch.log_softmax(predicting, dim=-1).gather(1, target[:, None]).squeeze(1)
            values.append(float(logp.mean()))
        return values
