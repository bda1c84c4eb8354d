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

ORIGINAL = "cerebras/btlm-3b-8k-base"  # the openvalidators DPO scorer's model


def penalize(logits: torch.Tensor, completion: torch.Tensor, penalty: float, per_occurrence: bool = False,
             lag: int = 0) -> torch.Tensor:
    """Logits ``(L, V)`` predicting ``completion`` ``(L,)``, with a repetition penalty (a new tensor).

    Row ``k`` predicts ``completion[k]``; the tokens "already seen" there are ``completion[:k - lag]``
    (the completion only, not the prompt; none while ``k <= lag``). ``lag=1`` is the openvalidators DPO
    scorer's off-by-one: it penalized the logits predicting token ``k`` by the repeats in
    ``completion[:k-1]``, so the token just before never counts and tokens 0 and 1 are never penalized.
    Each seen token's logit is divided by ``penalty`` when positive and multiplied by it when negative
    (the sign rule), once whatever its count (transformers' repetition penalty), or ``penalty ** count``
    times with ``per_occurrence`` (the openvalidators DPO scorer's variant).
    """
    if lag < 0:
        raise ValueError(f"lag must be at least 0, got {lag}")
    if penalty == 1.0 or completion.numel() == 0:
        return logits.clone()
    uniques, inverse = completion.unique(return_inverse=True)
    occurrences = torch.nn.functional.one_hot(inverse, len(uniques)).to(logits.dtype)  # (L, U)
    counted = occurrences.cumsum(0)  # row k: counts in completion[:k + 1]
    seen = torch.zeros_like(counted)  # row k: counts in completion[:k - lag]
    seen[lag + 1:] = counted[:max(len(counted) - lag - 1, 0)]
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
    separator, a newline, keeps that tokenization natural). Completions that are blank or shorter
    than ``min_length`` characters get ``floor``, as does a non-finite mean; completions that do not
    fit the model's context are cut to fit (a prompt that alone fills it gives ``floor``).

    ``joint_tokenization``: the openvalidators scorer's reading instead: ``prompt + separator +
    completion`` tokenized as one string (special tokens as the tokenizer adds them) and ``prompt +
    separator`` alone for its length ``P``; the tokens from position ``P`` on are the completion's
    (the first one is not scored when ``P`` is 0), whatever the joint tokenization made of the
    boundary. The context is then the tokenizer's ``model_max_length`` (the model's positions when
    that is larger): ``floor`` when ``P`` reaches it, the joint tokens cut to it otherwise, ``floor``
    when no completion token is left. openvalidators used ``separator=""``.

    ``penalty`` (default 1.2, 1.0 = none), ``per_occurrence`` and ``penalty_lag`` (openvalidators: 1):
    see :func:`penalize`; the penalty acts on the logits before ``log_softmax``.
    The completions of one prompt are scored in batches of ``batch_size``, right-padded (causal
    attention: the padding changes no logit of a real token); the tokens a batch's rows share (the
    prompt but its last token) run once and the rows continue from their cache. The model is loaded
    once per process and each (prompt, completion) scored once (see :mod:`.memo`). ``max_length`` (the ``tokenizer``
    options of a RewardModel query) lowers the context the sequence is cut to. ``device`` and
    ``dtype``: see :mod:`mirror_neuron.models.device`. The original's model is ``cerebras/btlm-3b-8k-base``
    (:meth:`stand_ins` names what ``path`` loads instead).
    """

    raw_name = "logprob"
    stateless = True
    remembers = True

    def __init__(self, seed: int = 0, path: str = "tiny:gpt2", penalty: float = 1.2, per_occurrence: bool = False,
                 penalty_lag: int = 0, joint_tokenization: bool = False, min_length: int = 6, floor: float = -11.0,
                 separator: str = "\n", batch_size: int = 8, device: str = "cpu", dtype: str = "float32",
                 base_dir: Path | None = None) -> None:
        super().__init__(seed)
        if penalty <= 0:
            raise UserError(f"repetition penalty must be positive, got {penalty}")
        if penalty_lag < 0:
            raise UserError(f"penalty_lag must be at least 0, got {penalty_lag}")
        self.penalty, self.per_occurrence, self.min_length, self.floor = penalty, per_occurrence, min_length, floor
        self.penalty_lag, self.joint_tokenization = penalty_lag, joint_tokenization
        self.separator, self.batch_size, self.path = separator, batch_size, path
        weights_seed = seed if is_tiny(path) else 0  # only built-in tiny models take their weights from the seed
        self.model, self.tokenizer = shared_causal_lm(path, weights_seed, base_dir, device, dtype)
        self.key = ("logprob", path, weights_seed, base_dir, penalty, per_occurrence, penalty_lag, joint_tokenization,
                    min_length, floor, separator, str(self.model.device), str(self.model.dtype))
        config = self.model.config
        self.max_tokens: int = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)
        self.pad_id: int = self.tokenizer.pad_token_id

    def describe(self) -> dict[str, str | int]:
        return describe_network(self.model)

    def stand_ins(self) -> dict[str, str]:
        return {} if self.path == ORIGINAL else {ORIGINAL: self.path}

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
        readable = [i for i, c in enumerate(completions) if c.strip() and len(c) >= self.min_length]
        rows = self._joint_rows(prompt, completions, readable) if self.joint_tokenization else \
            self._separate_rows(prompt, completions, readable)
        values = [self.floor] * len(completions)
        todo = [(i, row) for i, row in rows.items() if len(row[0]) > max(row[1], 1)]  # some token to score
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start:start + self.batch_size]
            for (i, _), value in zip(batch, self._mean_logprobs([row for _, row in batch])):
                values[i] = value if math.isfinite(value) else self.floor
        return values

    def _context(self, limit: int) -> int:
        return limit if self.max_length is None else min(limit, self.max_length)

    def _separate_rows(self, prompt: str, completions: list[str], readable: list[int]
                       ) -> dict[int, tuple[list[int], int]]:
        """``(ids, start)`` per readable completion: the prompt's own tokens, then the completion's."""
        prompt_ids = self.tokenizer(prompt + self.separator)["input_ids"]
        if not prompt_ids:  # nothing to condition the first token on: start from the eos/bos token
            prompt_ids = [self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.pad_id]
        room = self._context(self.max_tokens) - len(prompt_ids)
        if room <= 0:
            return {}
        return {i: (prompt_ids + self.tokenizer(completions[i], add_special_tokens=False)["input_ids"][:room],
                    len(prompt_ids)) for i in readable}

    def _joint_rows(self, prompt: str, completions: list[str], readable: list[int]) -> dict[int, tuple[list[int], int]]:
        """``(ids, start)`` per readable completion, the openvalidators way: one joint tokenization."""
        start = len(self.tokenizer(prompt + self.separator)["input_ids"])
        context = self._context(min(self.tokenizer.model_max_length, self.max_tokens))
        if context <= start:
            return {}
        return {i: (self.tokenizer(prompt + self.separator + completions[i])["input_ids"][:context], start)
                for i in readable}

    @torch.inference_mode()
    def _mean_logprobs(self, rows: list[tuple[list[int], int]], share_prompt: bool = True) -> list[float]:
        """Per row ``(ids, start)``: the mean log-probability of ``ids[start:]`` (from ``ids[1]`` when ``start``
        is 0), each token given all before it, with the repetition penalty over ``ids[start:]``.

        The tokens every row starts with and no row scores from (the prompt but its last token) run once,
        and the rows continue from their cached keys and values: the same logits as whole rows, without
        computing the shared prompt once per completion (``share_prompt=False``: whole rows, as a baseline)."""
        shared = min(_common_prefix([ids for ids, _ in rows]), min(max(start, 1) for _, start in rows) - 1) \
            if share_prompt else 0
        logits = self._logits([ids for ids, _ in rows], shared)  # row r, position p - shared: predicts ids[p + 1]
        values = []
        for row, (ids, start) in enumerate(rows):
            first = max(start, 1)  # the first scored token: position j - 1 predicts token j
            completion = torch.tensor(ids[start:], device=logits.device)
            predicting = logits[row, first - 1 - shared:len(ids) - 1 - shared].float()
            if first > start:  # a row for the unscored token 0, so that row k predicts completion[k]
                predicting = torch.cat([predicting.new_zeros(first - start, predicting.shape[1]), predicting])
            predicting = penalize(predicting, completion, self.penalty, self.per_occurrence, self.penalty_lag)
            target = completion[first - start:]
            logp = torch.log_softmax(predicting[first - start:], dim=-1).gather(1, target[:, None]).squeeze(1)
            values.append(float(logp.mean()))
        return values

    def _logits(self, rows: list[list[int]], shared: int) -> torch.Tensor:
        """The logits of every position of ``rows`` from ``shared`` on (right-padded), the first ``shared``
        tokens, the same in every row, run once as a prefix."""
        device = self.model.device
        cache = None
        if shared > 0:
            prefix = torch.tensor([rows[0][:shared]], device=device)
            cache = self.model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache
            cache.batch_repeat_interleave(len(rows))
        width = max(len(ids) for ids in rows) - shared
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), shared + width), dtype=torch.long)
        attention_mask[:, :shared] = 1
        for row, ids in enumerate(rows):
            input_ids[row, :len(ids) - shared] = torch.tensor(ids[shared:])
            attention_mask[row, shared:len(ids)] = 1
        return self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                          cache=cache, use_cache=cache is not None).logits


def _common_prefix(rows: list[list[int]]) -> int:
    """How many leading tokens every row shares."""
    first = rows[0]
    length = min(len(ids) for ids in rows)
    for ids in rows[1:]:
        length = next((k for k in range(length) if ids[k] != first[k]), length)
    return length
