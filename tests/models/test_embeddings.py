"""Sentence embeddings: each text is embedded once per process and model, and reads back the same."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron.models.embeddings import SentenceEmbedder


def test_a_repeated_text_is_looked_up_not_recomputed_and_gives_the_same_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = SentenceEmbedder("minilm")
    texts = ["Canberra is the capital of Australia.", "Bananas are rich in potassium."]
    direct = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    first = embedder.encode(texts)
    calls = []
    original = embedder.model.encode
    monkeypatch.setattr(embedder.model, "encode",
                        lambda batch, **kwargs: calls.append(list(batch)) or original(batch, **kwargs))
    again = SentenceEmbedder("minilm").encode([texts[1], "A sentence that only this test embeds: 7f3a.", texts[1], texts[0]])
    assert np.allclose(first, direct, atol=1e-6)
    assert calls == [["A sentence that only this test embeds: 7f3a."]]  # the other three were computed before, by another embedder
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[3], first[0])
    assert again.shape == (4, first.shape[1])
