"""The LM miner generates with a real local causal LM."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.lm import LanguageModelMiner

QUERY = Query(("system", "user"), ("You are a helpful assistant.", "What is the capital of France?"))


def test_smollm2_answers_and_greedy_decoding_is_deterministic() -> None:
    miner = LanguageModelMiner(path="smollm2", max_new_tokens=16)
    first = miner.respond(QUERY, 0, np.random.default_rng(0))
    assert "Paris" in first
    assert miner.respond(QUERY, 5, np.random.default_rng(9)) == first


def test_a_tiny_model_without_chat_template_generates_text() -> None:
    miner = LanguageModelMiner(path="tiny:gpt2", max_new_tokens=8, temperature=1.0)
    one = miner.respond(QUERY, 0, np.random.default_rng(0))
    assert isinstance(one, str) and one == miner.respond(QUERY, 0, np.random.default_rng(0))
