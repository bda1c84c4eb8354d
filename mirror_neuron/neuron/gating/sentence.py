"""The later validators' gating model: a sentence embedding -> a trained linear head."""

from __future__ import annotations

import torch

from mirror_neuron.models.embeddings import SentenceEmbedder
from mirror_neuron.neuron.gating.transformer import LinearHeadGatingModel
from mirror_neuron.registry import component


@component("gating", summary="later validators: MiniLM sentence embedding -> Linear over uids")
class SentenceEmbedGatingModel(LinearHeadGatingModel):
    """openvalidators' ``SentenceEmbedGatingModel``: mean-pooled, L2-normalized embedding -> Linear.

    Trained as :class:`~mirror_neuron.neuron.gating.transformer.GatingModel` (same head, loss, SGD and
    state). ``path`` is anything :class:`~mirror_neuron.models.embeddings.SentenceEmbedder` loads;
    ``minilm`` (all-MiniLM-L6-v2, packaged offline) by default. Deviation: a text longer than the
    embedder's window is cut to it, where the original averaged the normalized embeddings of all
    its overflow windows.
    """

    def __init__(self, n_uids: int, seed: int = 0, path: str = "minilm", learning_rate: float = 0.01,
                 momentum: float = 0.9, zero_grad: bool = True) -> None:
        self.path = path
        self.embedder = SentenceEmbedder(path)
        super().__init__(n_uids, self.embedder.dim, seed, learning_rate, momentum, zero_grad)

    def _compute_feature(self, text: str) -> torch.Tensor:
        return torch.from_numpy(self.embedder.encode([text])[0])
