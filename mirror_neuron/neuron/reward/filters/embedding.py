"""Embedding filters: relevance to the prompt and diversity within a batch and its recent history."""

from __future__ import annotations

import base64
from collections import deque

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters.base import Embedder, Filter
from mirror_neuron.registry import component


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so dot products are cosine similarities."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


@component("filter", "relevance", summary="zero when the completion's embedding is far from the prompt's")
class RelevanceFilter(Filter):
    """0 for a completion whose embedding's cosine similarity to the prompt's is below ``threshold``.

    The prompt is the query's last user message. With MiniLM, "Canberra is the capital of
    Australia." scores about 0.79 against "What is the capital of Australia?", while "Bananas are
    rich in potassium." (0.11), "That is an excellent question." (0.10) and a refusal (0.07) fall
    under the default 0.2.
    """

    def __init__(self, embedder: Embedder, threshold: float = 0.2) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def params(self) -> dict:
        return {"threshold": self.threshold}

    def similarities(self, query: Query, completions: list[str]) -> np.ndarray:
        """Cosine similarity of each completion to the prompt."""
        if not completions:
            return np.zeros(0)
        vectors = unit_rows(self.embedder.encode([query.prompt, *completions]))
        return (vectors[1:] @ vectors[0]).astype(np.float64)

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        return (self.similarities(query, completions) >= self.threshold).astype(np.float64)


@component("filter", "diversity", summary="zero for near-duplicates within the batch and of recent history")
class DiversityFilter(Filter):
    """0 for a completion too similar (cosine above ``threshold``) to an earlier one, in the batch or before.

    - In the batch: every completion after the first of a group of near-copies gets 0; the first is
      kept. Each completion is compared with *all* earlier ones in the batch, zeroed or not. The
      batch's order is the gating model's, so a backend behind many hotkeys is more often first than
      one hotkey is; ``keep_first=False`` zeroes every member of the group, the first included, as
      the openvalidators' batch term scores down every completion close to another.
    - History: a completion above ``threshold`` to any of the last ``history_size`` completion
      embeddings from earlier batches gets 0 (the first copy included). After scoring, every
      completion of the batch joins the history (a bounded deque, saved in the state);
      ``history_size=0`` turns the history off.

    History knows nothing of prompts: an honest miner giving the same answer to the same prompt in a
    later batch is zeroed as a repeat, as the reference's history term did.
    With MiniLM, a cached answer with a per-uid trailing variation (" .." appended) scores about
    0.997 against the original, a word-order paraphrase ("The capital of Australia is Canberra."
    against "Canberra is the capital of Australia.") about 0.99, and a different fact about the same
    subject ("Sydney is the largest city in Australia.") about 0.64: under the default threshold
    0.95, paraphrases that only reorder words count as copies.
    """

    def __init__(self, embedder: Embedder, threshold: float = 0.95, history_size: int = 500,
                 keep_first: bool = True) -> None:
        if history_size < 0:
            raise ValueError(f"history_size must be non-negative, got {history_size}")
        self.embedder = embedder
        self.threshold = threshold
        self.history_size = history_size
        self.keep_first = keep_first
        self.history: deque[np.ndarray] = deque(maxlen=history_size)

    def params(self) -> dict:
        return {"threshold": self.threshold, "history_size": self.history_size, "keep_first": self.keep_first}

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        if not completions:
            return np.zeros(0)
        vectors = unit_rows(self.embedder.encode(list(completions)))
        batch = vectors @ vectors.T
        close = batch > self.threshold
        np.fill_diagonal(close, False)
        # above an earlier completion of the batch (keep_first), or above any other
        copy = (np.tril(close) if self.keep_first else close).any(axis=1)
        if self.history:
            copy |= (vectors @ np.stack(self.history).T > self.threshold).any(axis=1)
        self.history.extend(vectors)
        return (~copy).astype(np.float64)

    def get_state(self) -> dict:
        """The history as base64 float32 (compact and exact), with its shape."""
        rows = np.stack(self.history).astype(np.float32) if self.history else np.zeros((0, 0), dtype=np.float32)
        return {"history": base64.b64encode(rows.tobytes()).decode("ascii"), "shape": list(rows.shape)}

    def set_state(self, state: dict) -> None:
        rows = np.frombuffer(base64.b64decode(state["history"]), dtype=np.float32).reshape(state["shape"])
        self.history = deque(rows.copy(), maxlen=self.history_size)
