"""The sequence-classification reward model: the classifier's logit of (prompt, completion), in a stack too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.sequence_classification import SequenceClassificationRewardModel
from mirror_neuron.neuron.reward.stack import RewardStack

QUERY = Query(("system", "user"), ("Be helpful.", "What is the capital of Australia?"))
COMPLETIONS = ["Canberra is the capital of Australia.", "Sydney.", "I like turtles very much, thank you."]


def test_scores_are_the_logit_of_the_pair() -> None:
    model = SequenceClassificationRewardModel(seed=2, path="tiny:gpt2", batch_size=2)
    scores = model.score([QUERY.prompt] * 3, COMPLETIONS)
    with torch.no_grad():
        expected = [float(model.model(**model.tokenizer(QUERY.prompt, c, return_tensors="pt")).logits[0, 0])
                    for c in COMPLETIONS]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    assert len(set(np.round(scores, 6))) == 3
    np.testing.assert_allclose(model.rewards(QUERY, COMPLETIONS).raw["sequence_classification"], scores)
    model.max_length = 4  # the tokenizer options of a query: the pair is cut to four tokens
    assert not np.allclose(model.score([QUERY.prompt] * 3, COMPLETIONS), scores)
    other = SequenceClassificationRewardModel(seed=3, path="tiny:gpt2")
    assert not np.allclose(other.score([QUERY.prompt] * 3, COMPLETIONS), scores)  # weights from the seed


def test_it_sits_in_a_reward_stack_like_any_scorer() -> None:
    stack = RewardStack.from_config(seed=1, scorers={
        "rlhf": {"type": "sequence_classification", "path": "tiny:gpt2", "weight": 0.6},
        "length": {"type": "LengthRewardModel", "cap": 5, "weight": 0.4}})
    result = stack.rewards(QUERY, COMPLETIONS)
    assert set(result.raw) == {"scorer:rlhf", "scorer:length"}
    assert np.all((result.final >= 0) & (result.final <= 1))


def test_missing_models_and_half_precision_on_cpu_are_user_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="cannot load sequence-classification model"):
        SequenceClassificationRewardModel(path=str(tmp_path / "absent"))
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="needs a GPU"):
            SequenceClassificationRewardModel(dtype="bfloat16")


def test_the_original_reads_each_pair_whole_and_stand_ins_are_named() -> None:
    cut = SequenceClassificationRewardModel(seed=2, path="tiny:gpt2")
    whole = SequenceClassificationRewardModel(seed=2, path="tiny:gpt2", truncation=False)
    long_answer = "Canberra " * 300  # about 1200 tokens: over a model_max_length of 1024, within 2048 positions
    cut.tokenizer.model_max_length = 1024  # the shared tokenizer, restored below
    try:
        n_pair = len(cut.tokenizer(QUERY.prompt, long_answer)["input_ids"])
        assert n_pair > 1024
        # truncation (default): cut to model_max_length; truncation=False: the whole pair (2048 positions reach it)
        with torch.no_grad():
            full = float(whole.model(**whole.tokenizer(QUERY.prompt, long_answer, return_tensors="pt")).logits[0, 0])
        assert whole.score([QUERY.prompt], [long_answer])[0] == pytest.approx(full, abs=1e-5)
        assert cut.score([QUERY.prompt], [long_answer])[0] != pytest.approx(full, abs=1e-5)
    finally:
        cut.tokenizer.model_max_length = 2048
    assert whole.stand_ins() == {"OpenAssistant/reward-model-deberta-v3-large-v2": "tiny:gpt2"}
