"""The openvalidators' model filters, rule for rule: relevance, diversity and the NSFW classifier.

Each loads the original's model by its hub id unless told otherwise; offline, ``minilm``, a tiny
built-in model (``tiny:gpt2``, NSFW only) or any local model folder stands in, and ``stand_ins()``
names every such substitute. Rules of v1.1.3 (``version: "1.1"``, the one that logged
``shared/data/sn1_openvalidators``) and of v1.1.8 on (``"1.2"``); see :mod:`.openvalidators` for the
text filters.
"""

from __future__ import annotations

import base64
import functools
from typing import Any, ClassVar, Literal

import numpy as np

from mirror_neuron.errors import UserError
from mirror_neuron.models.pooled import describe_source, shared_encoder
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters.base import Filter
from mirror_neuron.neuron.reward.filters.openvalidators import Version, check_version
from mirror_neuron.neuron.reward.normalize import RunningNormalizer
from mirror_neuron.registry import component

BERT = "bert-base-uncased"
MPNET = "sentence-transformers/all-mpnet-base-v2"
HATE_SPEECH = "facebook/roberta-hate-speech-dynabench-r4-target"


def _stand_in(original: str, path: str) -> dict[str, str]:
    return {} if path == original else {original: describe_source(path)}


@component("filter", "ov_relevance",
           summary="openvalidators' relevance: BERT and MPNet embeddings must both be close enough to the prompt")
class OpenValidatorsRelevance(Filter):
    """1 when a completion passes both of the originals' embedding rules against :attr:`~Query.filter_prompt`:

    - BERT (``bert``): ``-RMSE`` between the two texts' :meth:`~mirror_neuron.models.pooled.PooledEncoder.embed_chunked` embeddings
      (the mean over 512-token chunks of unit mean-pooled embeddings) is at least ``-0.0246``;
    - MPNet (``mpnet``): the cosine of the truncated unit embeddings is at least ``0.3``; signed in
      v1.1.3 (``"1.1"``), its absolute value from v1.1.8 on (``"1.2"``).
    """

    column: ClassVar[str] = "relevance_filter"
    bounds: ClassVar[tuple[float, float]] = (-0.0246, 0.3)

    def __init__(self, version: Version = "1.2", bert: str = BERT, mpnet: str = MPNET) -> None:
        self.version = check_version(version)
        self.bert_path, self.mpnet_path = bert, mpnet
        self.bert, self.mpnet = shared_encoder(bert), shared_encoder(mpnet)

    def params(self) -> dict:
        return {"version": self.version, "bert": self.bert_path, "mpnet": self.mpnet_path}

    def stand_ins(self) -> dict[str, str]:
        return {**_stand_in(BERT, self.bert_path), **_stand_in(MPNET, self.mpnet_path)}

    def scores(self, query: Query, completions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per completion: the BERT rule's ``-RMSE`` and the MPNet rule's cosine (absolute for "1.2")."""
        chunked = self.bert.embed_chunked([query.filter_prompt, *completions]).astype(np.float64)
        bert = -np.sqrt(((chunked[1:] - chunked[0]) ** 2).mean(axis=1))
        vectors = self.mpnet.embed([query.filter_prompt, *completions]).astype(np.float64)
        cosine = vectors[1:] @ vectors[0]
        return bert, np.abs(cosine) if self.version == "1.2" else cosine

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        if not completions:
            return np.zeros(0)
        bert, mpnet = self.scores(query, completions)
        return ((bert >= self.bounds[0]) & (mpnet >= self.bounds[1])).astype(np.float64)


def _sigmoid(values: np.ndarray, slope: float, offset: float) -> np.ndarray:
    """``1 / (1 + exp(-slope * x + offset))``."""
    return 1.0 / (1.0 + np.exp(-slope * values + offset))


def second_smallest(values: np.ndarray) -> np.ndarray:
    """Per row, the second smallest value (the originals' ``topk(2, largest=False)[:, -1]``)."""
    return np.partition(values, 1, axis=1)[:, 1]


@component("filter", "ov_diversity",
           summary="openvalidators' diversity: a soft multiplier from distances within the batch and to history")
class OpenValidatorsDiversity(Filter):
    """A soft multiplier per completion from its embeddings' cosines (``model``) to the batch and to history.

    - Batch, "1.1" (v1.1.3): the 0.1-quantile (linear) of the row of ``1 - cos`` against the batch, the
      completion itself included. "1.2" (v1.1.8 on): ``sigmoid(40 x - 4)`` of the second smallest
      ``1 - |cos|`` of the row (0.5 at ``|cos| = 0.9``). A lone completion has no second value: the
      original fails there; here its batch term is 1.
    - History: once it holds at least 502 embeddings, the second smallest ``1 - cos`` ("1.2": ``1 - |cos|``)
      against all but its oldest 500 goes through ``sigmoid(1000 x - 50)`` and multiplies the batch term.
      Then the batch's embeddings join it (consecutive exact duplicates once), and it keeps the last 15,500.
    - "1.1" only: the product goes through a running normalizer (count limit 3000, unbiased batch variance
      as torch's default), as v1.1.3 did not exempt this model from the scorers' normalization; "1.2"
      returns it as it is.
    """

    column: ClassVar[str] = "diversity_reward_model"
    history_skip: ClassVar[int] = 500
    history_limit: ClassVar[int] = 15_500
    count_limit: ClassVar[int] = 3000

    def __init__(self, version: Version = "1.2", model: str = MPNET) -> None:
        self.version = check_version(version)
        self.model_path = model
        self.encoder = shared_encoder(model)
        self.history = np.zeros((0, self.encoder.dim), dtype=np.float32)
        self.normalizer = RunningNormalizer(count_limit=self.count_limit, ddof=1) if self.version == "1.1" else None

    def params(self) -> dict:
        return {"version": self.version, "model": self.model_path}

    def stand_ins(self) -> dict[str, str]:
        return _stand_in(MPNET, self.model_path)

    def _distances(self, embeddings: np.ndarray, others: np.ndarray) -> np.ndarray:
        cosine = embeddings.astype(np.float64) @ others.astype(np.float64).T
        return 1.0 - (np.abs(cosine) if self.version == "1.2" else cosine)

    def batch_values(self, embeddings: np.ndarray) -> np.ndarray:
        """The batch term of each completion (see the class docstring)."""
        distances = self._distances(embeddings, embeddings)
        if self.version == "1.1":
            return np.quantile(distances, 0.1, axis=1)
        if len(embeddings) < 2:
            return np.ones(len(embeddings))
        return _sigmoid(second_smallest(distances), 40.0, 4.0)

    def history_values(self, embeddings: np.ndarray) -> np.ndarray | None:
        """The history term of each completion, or None while the history holds fewer than 502 embeddings."""
        if len(self.history) < self.history_skip + 2:
            return None
        return _sigmoid(second_smallest(self._distances(embeddings, self.history[self.history_skip:])), 1000.0, 50.0)

    def remember(self, embeddings: np.ndarray) -> None:
        """Append the batch without consecutive exact duplicates; keep the last 15,500."""
        keep = np.ones(len(embeddings), dtype=bool)
        keep[1:] = ~(embeddings[1:] == embeddings[:-1]).all(axis=1)
        self.history = np.concatenate([self.history, embeddings[keep]])[-self.history_limit:]

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        if not completions:
            return np.zeros(0)
        embeddings = self.encoder.embed(completions)
        values = self.batch_values(embeddings)
        history = self.history_values(embeddings)
        self.remember(embeddings)
        if history is not None:
            values = values * history
        return self.normalizer(values) if self.normalizer is not None else values

    def get_state(self) -> dict:
        """The history as base64 float32 (compact and exact), with its shape; the normalizer's statistics."""
        rows = np.ascontiguousarray(self.history, dtype=np.float32)
        state: dict[str, Any] = {"history": base64.b64encode(rows.tobytes()).decode("ascii"), "shape": list(rows.shape)}
        if self.normalizer is not None:
            state["normalizer"] = self.normalizer.get_state()
        return state

    def set_state(self, state: dict) -> None:
        raw = base64.b64decode(state["history"])
        self.history = np.frombuffer(raw, dtype=np.float32).reshape(state["shape"]).copy()
        if self.normalizer is not None and "normalizer" in state:
            self.normalizer.set_state(state["normalizer"])


NsfwRule = Literal["openvalidators", "core-2023"]
CHUNK_TOKENS = 512


def flagged(chunk_logits: list[tuple[float, float]], rule: NsfwRule) -> bool:
    """Whether a text whose chunks gave these ``(not hate, hate)`` logits is filtered under ``rule``.

    openvalidators: the largest ``max(-not_hate, hate)`` over the chunks is above -0.5 (no chunk: not
    filtered). core-2023 (``filter_message`` of bittensor v5.2.0): some chunk has ``not_hate < 0.5`` or
    ``hate > 0.5``.
    """
    if rule == "openvalidators":
        return max((max(-nothate, hate) for nothate, hate in chunk_logits), default=-1000.0) > -0.5
    return any(nothate < 0.5 or hate > 0.5 for nothate, hate in chunk_logits)


@component("filter", "nsfw", summary="hate-speech classifier over 512-token chunks (openvalidators or core rule)")
class NSFWFilter(Filter):
    """0 for a completion the classifier at ``path`` flags under ``rule`` (see :func:`flagged`), else 1.

    The text is tokenized whole (special tokens as the tokenizer adds them) and cut into consecutive
    chunks of 512 token ids, each classified alone. ``path``: the original's hub id, a local folder,
    or ``tiny:<architecture>`` (a random two-label classifier, for tests).
    """

    column: ClassVar[str] = "nsfw_filter"

    def __init__(self, rule: NsfwRule = "openvalidators", path: str = HATE_SPEECH) -> None:
        if rule not in ("openvalidators", "core-2023"):
            raise ValueError(f"rule must be 'openvalidators' or 'core-2023', got {rule!r}")
        self.rule, self.path = rule, path
        self.model, self.tokenizer = load_classifier(path)

    def params(self) -> dict:
        return {"rule": self.rule, "path": self.path}

    def stand_ins(self) -> dict[str, str]:
        return _stand_in(HATE_SPEECH, self.path)

    def chunk_logits(self, text: str) -> list[tuple[float, float]]:
        """The classifier's ``(not hate, hate)`` logits of each 512-token chunk of ``text``."""
        import torch

        ids = self.tokenizer(text)["input_ids"]
        result = []
        with torch.inference_mode():
            for start in range(0, len(ids), CHUNK_TOKENS):
                logits = self.model(torch.tensor([ids[start:start + CHUNK_TOKENS]])).logits[0]
                result.append((float(logits[0]), float(logits[1])))
        return result

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        decisions: dict[str, float] = {}
        for text in completions:
            if text not in decisions:
                decisions[text] = 0.0 if flagged(self.chunk_logits(text), self.rule) else 1.0
        return np.array([decisions[c] for c in completions], dtype=np.float64)


@functools.lru_cache(maxsize=2)
def load_classifier(path: str) -> tuple[Any, Any]:
    """The frozen two-label (not hate, hate) classifier at ``path`` and its tokenizer, loaded once per process."""
    from mirror_neuron.neuron.reward.sequence_classification import load_sequence_classifier

    try:
        model, tokenizer = load_sequence_classifier(path, 0, None, labels=2)
    except UserError as error:
        raise UserError(f"NSFW filter: {error.message}; offline, without a local classifier, leave the filter "
                        "out explicitly (`nsfw: off`; `screen: off` in core-2023): the run then says it is not "
                        "mirrored") from None
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return model.eval().requires_grad_(False), tokenizer
