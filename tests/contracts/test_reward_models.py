"""The reward contract, over every registered reward model built with tiny settings: scores are finite
or NaN-flagged, one per row; stateless models score a batch as they score its rows one by one; the
others replay the same scores from a saved state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mirror_neuron import registry
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import PairScores, RewardModelBase, configured

TINY: dict[str, dict[str, Any]] = {
    "RandomRewardModel": {},
    "ConstantRewardModel": {},
    "RewardModel": {"path": "tiny:gptj", "device": "cpu"},
    "LogProbRewardModel": {"path": "tiny:gpt2"},
    "SequenceClassificationRewardModel": {"path": "tiny:gpt2"},
    "ReciprocateRewardModel": {"path": "tiny:gpt2"},
    "PromptRewardModel": {"path": "tiny:gpt2"},
    "LengthRewardModel": {"cap": 8},
    "RewardStack": {"scorers": {"length": {"type": "LengthRewardModel", "cap": 8},
                                "dpo": {"type": "LogProbRewardModel", "path": "tiny:gpt2"}},
                    "filters": {"blacklist": {}}},
}
PROMPTS = ["What is the capital of Australia?", "Who wrote Hamlet?", "What is the capital of Australia?",
           "Name a prime number.", "Who wrote Hamlet?", "Why is the sky blue?"]
COMPLETIONS = ["Canberra is the capital of Australia.", "William Shakespeare wrote Hamlet around 1600.",
               "Sydney.", "Seven.", "", "Because of Rayleigh scattering of sunlight in the air, mostly."]
NAMES = [component.name for component in registry.components("reward")]


def build(name: str) -> RewardModelBase:
    model = registry.get("reward", name).load()(seed=3, **TINY[name])
    assert isinstance(model, RewardModelBase)
    return model


def test_every_registered_reward_model_has_tiny_settings() -> None:
    assert set(TINY) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_finite_or_flagged_one_per_row(name: str) -> None:
    model = build(name)
    scores = model.score(PROMPTS, COMPLETIONS)
    assert scores.shape == (len(PROMPTS),) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores) | np.isnan(scores))
    rewards = model.rewards(Query(("system", "user"), ("Be helpful.", PROMPTS[0])), COMPLETIONS)
    assert rewards.final.shape == (len(COMPLETIONS),)
    assert np.all(np.isfinite(rewards.final) | np.isnan(rewards.final))
    pairs = model.score_pairs(PROMPTS[:3], COMPLETIONS[:3], COMPLETIONS[3:])
    assert isinstance(pairs, PairScores)
    assert all(pairs.column(c).shape == (3,) for c in ("loss", "chosen_end_scores", "rejected_end_scores"))


@pytest.mark.parametrize("name", NAMES)
def test_scores_do_not_depend_on_the_batch(name: str) -> None:
    model = build(name)
    state = model.get_state()
    together = model.score(PROMPTS, COMPLETIONS)
    if model.stateless:
        alone = np.concatenate([model.score([p], [c]) for p, c in zip(PROMPTS, COMPLETIONS)])
        with configured(model, batch_size=1):
            one_per_forward = model.score(PROMPTS, COMPLETIONS)
        np.testing.assert_allclose(alone, together, rtol=0, atol=1e-5)
        np.testing.assert_allclose(one_per_forward, together, rtol=0, atol=1e-5)
    else:  # stateful: the same state gives the same scores
        model.set_state(state)
        np.testing.assert_array_equal(model.score(PROMPTS, COMPLETIONS), together)


@pytest.mark.parametrize("name", NAMES)
def test_stand_ins_name_every_tiny_model_loaded_for_an_original(name: str) -> None:
    found = build(name).stand_ins()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())
    loads_a_model = "path" in TINY[name] or name == "RewardStack"  # the stack's dpo scorer loads tiny:gpt2
    assert bool(found) == loads_a_model
    assert all(v.startswith(("tiny:", "random")) for v in found.values())
