"""The log-probability ("DPO") reward: hand-computed on a tiny GPT-2, and sensible on SmolLM2."""

from __future__ import annotations

import math

import pytest
import torch

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import configured
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


@pytest.mark.parametrize("architecture", ["gptj", "gptneo"])  # rotary and local-attention positions
def test_a_long_shared_prompt_run_once_gives_the_logits_of_whole_rows(architecture: str) -> None:
    scorer = LogProbRewardModel(path=f"tiny:{architecture}", penalty=1.0)
    prompt = " ".join([PROMPT] * 20)  # the completions continue from its cached keys and values
    completions = ["The capital of France is Paris.", "Paris.", "It is Paris, the largest city of France."]
    expected = [hand_mean_logprob(scorer, prompt, c) for c in completions]
    assert scorer.logprobs(prompt, completions) == pytest.approx(expected, abs=1e-5)


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


def test_penalty_lag_counts_the_completion_before_the_previous_token() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5]] * 5)
    completion = torch.tensor([0, 1, 0, 0, 2])
    lagged = penalize(logits, completion, 2.0, per_occurrence=True, lag=1)
    # row k sees completion[:k-1]: rows 0 and 1 see nothing; row 2 sees [0] (2 / 2 = 1); row 3 sees [0, 1]
    # (-1 * 2 = -2); row 4 sees [0, 1, 0]: token 0 twice, 2 / 2**2 = 0.5 (without the lag [0, 1, 0, 0]: 2 / 2**3)
    assert lagged.tolist() == [[2.0, -1.0, 0.5], [2.0, -1.0, 0.5], [1.0, -1.0, 0.5], [1.0, -2.0, 0.5],
                               [0.5, -2.0, 0.5]]
    assert penalize(logits, completion, 2.0, per_occurrence=True)[4].tolist() == [0.25, -2.0, 0.5]
    # once per seen token (no per_occurrence), lagged: row 4 divides token 0 by 2 once
    assert penalize(logits, completion, 2.0, lag=1)[4].tolist() == [1.0, -2.0, 0.5]
    assert torch.equal(penalize(logits[:1], completion[:1], 2.0, lag=3), logits[:1])  # nothing seen yet


def openvalidators_dpo(model: LogProbRewardModel, prompt: str, completion: str, context: int) -> float:
    """The openvalidators 1.2 DPO reward, position by position: tokenize prompt + completion as one string,
    P = len(tokens(prompt)); the logits at position i (predicting token i + 1) for i >= P + 1 are penalized,
    per distinct token t of joint[P:i] seen c times, by x * 1.2**c if x < 0 else x / 1.2**c; the reward is
    the mean of log_softmax at positions P - 1 .. N - 2 of the next token; -11 for <= 5 characters, when P
    fills the context or when the mean is not finite."""
    if not completion.strip() or len(completion) <= 5:
        return -11.0
    joint = model.tokenizer(prompt + completion)["input_ids"]
    n_prompt = len(model.tokenizer(prompt)["input_ids"])
    if context <= n_prompt:
        return -11.0
    joint = joint[:context]
    with torch.no_grad():
        logits = model.model(torch.tensor([joint])).logits[0].float()
    total, count = 0.0, 0
    for i in range(max(n_prompt - 1, 0), len(joint) - 1):
        row = logits[i].clone()
        if i >= n_prompt + 1:
            for token in set(joint[n_prompt:i]):
                c = joint[n_prompt:i].count(token)
                row[token] = row[token] * 1.2 ** c if row[token] < 0 else row[token] / 1.2 ** c
        total += float(torch.log_softmax(row, dim=-1)[joint[i + 1]])
        count += 1
    mean = total / count if count else float("nan")
    return mean if math.isfinite(mean) else -11.0


def test_openvalidators_dpo_options_reproduce_the_original_rule() -> None:
    faithful = LogProbRewardModel(path="tiny:gpt2", per_occurrence=True, penalty_lag=1, joint_tokenization=True,
                                  separator="")
    assert faithful.stand_ins() == {"cerebras/btlm-3b-8k-base": "tiny:gpt2"}
    completions = [" Paris Paris Paris is the capital, Paris.", "Paris.", " Lyon Lyon Lyon Lyon Lyon",
                   "short", "   ", " the the the the the the the the"]  # batched together, different lengths
    expected = [openvalidators_dpo(faithful, PROMPT, c, 2048) for c in completions]
    assert faithful.logprobs(PROMPT, completions) == pytest.approx(expected, abs=1e-5)
    assert expected[3:5] == [-11.0, -11.0]
    assert expected[0] != pytest.approx(LogProbRewardModel(path="tiny:gpt2", per_occurrence=True, separator="")
                                        .logprobs(PROMPT, completions[:1])[0], abs=1e-4)  # the lag matters
    n_prompt = len(faithful.tokenizer(PROMPT)["input_ids"])
    with configured(faithful, faithful.batch_size, max_length=n_prompt):  # the prompt fills the context: -11
        assert faithful.logprobs(PROMPT, completions[:1]) == [-11.0]
    with configured(faithful, faithful.batch_size, max_length=n_prompt + 3):  # cut to 3 completion tokens
        cut = faithful.logprobs(PROMPT, completions[:1])
    assert cut == pytest.approx([openvalidators_dpo(faithful, PROMPT, completions[0], n_prompt + 3)], abs=1e-5)


def test_an_empty_prompt_leaves_the_first_completion_token_unscored() -> None:
    faithful = LogProbRewardModel(path="tiny:gpt2", per_occurrence=True, penalty_lag=1, joint_tokenization=True,
                                  separator="")
    completion = "Paris Paris Paris is lovely."
    # P = 0: positions 0 .. N - 2 predict tokens 1 .. N - 1; token 0 has no prediction
    assert faithful.logprobs("", [completion]) == pytest.approx([openvalidators_dpo(faithful, "", completion, 2048)],
                                                                abs=1e-5)
