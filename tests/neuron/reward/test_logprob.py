"""The log-probability ("DPO") reward: hand-computed on a tiny GPT-2, and sensible on SmolLM2."""

from __future__ import annotations

import pytest
import torch

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.logprob import LogProbRewardModel, penalize

PROMPT = "What is the capital of France?"


@pytest.fixture(scope="module")
def plain() -> LogProbRewardModel:
    """No repetition penalty: the reward is the plain mean token log-probability."""
    return LogProbRewardModel(path="tiny:gpt2", penalty=1.0)


def hand_mean_logprob(model: LogProbRewardModel, prompt: str, completion: str) -> float:
    """Mean of log p(completion token | everything before it), from the model's logits, one sequence."""
    context = model.tokenizer(prompt + "\n")["input_ids"]
    tokens = model.tokenizer(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model.model(torch.tensor([context + tokens])).logits[0]
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[len(context) - 1 + k, token]) for k, token in enumerate(tokens)) / len(tokens)


def test_reward_is_the_mean_token_logprob(plain: LogProbRewardModel) -> None:
    completions = ["The capital of France is Paris.", "Paris, of course: it has been the capital for ages.",
                   "Lyon is not the capital."]  # different lengths: batched and right-padded together
    query = Query(("system", "user"), ("Be helpful.", PROMPT))
    out = plain.rewards(query, completions)
    expected = [hand_mean_logprob(plain, PROMPT, c) for c in completions]
    assert out.final.tolist() == pytest.approx(expected, abs=1e-5)
    assert out.raw["logprob"].tolist() == out.final.tolist()
    assert all(-12 < value < 0 for value in expected)


def test_penalty_rule_on_hand_logits() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [2.0, -1.0, 0.5], [2.0, -1.0, 0.5], [2.0, -1.0, 0.5]])
    completion = torch.tensor([0, 1, 0, 2])  # row k sees completion[:k]
    once = penalize(logits, completion, 2.0)
    assert once.tolist() == [[2.0, -1.0, 0.5], [1.0, -1.0, 0.5], [1.0, -2.0, 0.5], [1.0, -2.0, 0.5]]
    counted = penalize(logits, completion, 2.0, per_occurrence=True)
    assert counted[3].tolist() == [0.5, -2.0, 0.5]  # token 0 seen twice: 2 / 2**2
    assert torch.equal(penalize(logits, completion, 1.0), logits)


def test_repetition_penalty_lowers_a_repetitive_completion(plain: LogProbRewardModel) -> None:
    penalized = LogProbRewardModel(path="tiny:gpt2", penalty=1.2)
    repetitive = "Paris Paris Paris Paris Paris Paris Paris Paris Paris Paris"
    distinct = "Paris."  # no token repeats: only non-target logits are lowered, so the target gains
    without, = plain.logprobs(PROMPT, [repetitive])
    with_penalty, distinct_penalized = penalized.logprobs(PROMPT, [repetitive, distinct])
    assert with_penalty < without
    assert distinct_penalized >= plain.logprobs(PROMPT, [distinct])[0]


def test_empty_and_short_completions_get_the_floor(plain: LogProbRewardModel) -> None:
    values = plain.logprobs(PROMPT, ["", "   \n ", "Paris", "Paris."])
    assert values[:3] == [-11.0, -11.0, -11.0]  # blank, blank, 5 characters
    assert -11.0 < values[3] < 0
    strict = LogProbRewardModel(path="tiny:gpt2", min_length=10, floor=-20.0)
    assert strict.logprobs(PROMPT, ["Paris.", "Paris, France."])[0] == -20.0


def test_smollm2_prefers_a_sensible_answer() -> None:
    model = LogProbRewardModel(path="smollm2")  # first use converts the GGUF once (~45 s), then cached
    sensible, random_words = model.logprobs(PROMPT, ["The capital of France is Paris.",
                                                     "Walrus eleven purple tax banjo quietly the ozone."])
    assert sensible > random_words + 1.0
    assert sensible > -3.0
