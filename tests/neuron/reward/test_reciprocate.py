"""The reciprocate scorer: the logit of one OpenAssistant-format text, on a tiny classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.reciprocate import ReciprocateRewardModel, reciprocate_text
from mirror_neuron.neuron.reward.stack import RewardStack

PROMPT = "What is the capital of Australia?"
COMPLETIONS = ["Canberra is the capital of Australia.", "Sydney.", "I like {turtles} very much."]


def test_the_text_is_the_openassistant_chat_format() -> None:
    assert reciprocate_text("Hi {x}?", "Hello.") == "<|prompter|>Hi {x}?</s><|assistant|>Hello.</s><|endoftext|>"


def test_scores_are_logit_zero_of_the_one_text() -> None:
    model = ReciprocateRewardModel(seed=4, path="tiny:gpt2", batch_size=2)
    scores = model.score([PROMPT] * 3, COMPLETIONS)
    with torch.no_grad():  # one text at a time, as the original: tokenizer(message, truncation=True), logits[0]
        expected = [float(model.model(**model.tokenizer(reciprocate_text(PROMPT, c), truncation=True,
                                                        return_tensors="pt")).logits[0, 0]) for c in COMPLETIONS]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    pair = model.tokenizer(PROMPT, COMPLETIONS[0], return_tensors="pt")  # not the RLHF pair reading
    with torch.no_grad():
        assert float(model.model(**pair).logits[0, 0]) != pytest.approx(scores[0], abs=1e-5)
    assert model.stand_ins() == {"reciprocate/gpt-j_rm_format-oa": "tiny:gpt2"}
    assert model.rewards(Query(("user",), (PROMPT,)), COMPLETIONS).raw["reciprocate"].tolist() == scores.tolist()


def test_it_is_registered_as_reciprocate_in_a_stack() -> None:
    stack = RewardStack.from_config(seed=1, scorers={"reciprocate": {"type": "reciprocate", "path": "tiny:gpt2"}})
    result = stack.rewards(Query(("user",), (PROMPT,)), COMPLETIONS)
    assert set(result.raw) == {"scorer:reciprocate"}
    assert stack.stand_ins() == {"scorer.reciprocate:reciprocate/gpt-j_rm_format-oa": "tiny:gpt2"}
    assert stack.columns() == {"scorer:reciprocate": "reciprocate_reward_model"}
