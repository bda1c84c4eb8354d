"""Sentence embeddings are cached by content: a rerun over the same texts does not load the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mirror_neuron import cache
from mirror_neuron.analysis import embeddings
from mirror_neuron.analysis.embeddings import embed, resolve_model


def test_texts_are_embedded_once_then_read_from_the_cache(shared_data: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "cache")
    rows = [json.loads(line) for line in (shared_data / "nq_open" / "NQ-open.dev.jsonl").open()][:40]
    texts = [row["question"] for row in rows] + [rows[0]["question"]]  # one repeated text
    model = resolve_model("sentence-transformers/all-MiniLM-L6-v2", tmp_path)
    assert model.identity == resolve_model("minilm", tmp_path).identity  # one cache for every alias

    first, stats = embed(texts, model)
    assert first.shape == (41, 384) and (stats.computed, stats.cached) == (40, 0)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first[0], first[-1])

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded although every text is cached")

    monkeypatch.setattr("mirror_neuron.models.embeddings.SentenceEmbedder", no_model)
    again, stats = embed(list(reversed(texts)), model)
    assert (stats.computed, stats.cached) == (0, 40)
    np.testing.assert_array_equal(again, first[::-1])
    assert (tmp_path / "cache" / embeddings.CACHE_FILE).is_file()


def test_a_paraphrase_is_nearer_than_another_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "cache")
    vectors, _ = embed(["who wrote the novel moby dick", "the author of moby dick is who",
                        "how many players are on a soccer team"], resolve_model("minilm", tmp_path))
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
