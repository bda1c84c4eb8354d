"""A reward stack declared in a neuron's config, end to end with the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.reward.stack import RewardStack

ROLES, MESSAGES = ["system", "user"], ["Be helpful.", "What is the capital of Australia?"]
STACK = {
    "type": "RewardStack",
    "scorers": {"constant": {"type": "ConstantRewardModel", "weight": 0.5},
                "random": {"type": "RandomRewardModel", "weight": 0.5}},
    "filters": {"blacklist": {}, "task_validator": {}, "relevance": {"threshold": 0.2},
                "diversity": {"enabled": False}},
}


def test_a_configured_stack_scores_filters_and_records_every_component() -> None:
    neuron = Neuron({"metagraph": {"n": 12}, "miners": {"echo": 3, "stock_phrase": 3, "refusal": 2},
                     "reward": STACK, "seed": 1})
    neuron.dendrite_pool.learn([MESSAGES[1]], ["Canberra is the capital of Australia."])
    event = neuron.forward(ROLES, MESSAGES)
    assert set(event.reward_components) == {"scorer:constant", "scorer:random", "filter:blacklist",
                                            "filter:task_validator", "filter:relevance", "filter:diversity"}
    behaviours = [neuron.dendrite_pool.behaviours[uid].name for uid in event.successful_uids]
    rewards = dict(zip(behaviours, event.rewards))
    assert rewards["echo"] == 0 and rewards["refusal"] == 0
    honest = [r for b, r in zip(behaviours, event.rewards) if b == "honest"]
    assert min(honest) > 0  # diversity is off: identical honest answers all keep their reward
    assert np.isfinite(neuron.compute_weights()[1]).all()


@pytest.mark.parametrize("reward, message", [
    ({"type": "RewardStack", "scorers": {"x": {"weight": 1}}}, "reward.scorers.x: needs a type"),
    ({"type": "RewardStack", "scorers": {"x": {"type": "ConstantRewardModel"}}, "filters": {"blaklist": {}}},
     "did you mean 'blacklist'"),
    ({"type": "RewardStack", "scorers": {}}, "at least one scorer"),
])
def test_stack_config_errors(reward: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        Neuron({"metagraph": {"n": 4}, "reward": reward})


def test_a_filter_or_scorer_parameter_of_the_wrong_value_is_one_plain_error() -> None:
    with pytest.raises(UserError, match=r"reward.filters.ov_task_validator: .*version: Input should be '1.1' or '1.2'"):
        RewardStack.from_config(scorers={"c": {"type": "ConstantRewardModel"}},
                                filters={"ov_task_validator": {"version": "1.3"}})
    with pytest.raises(UserError, match=r"reward.scorers.c: .*value"):
        RewardStack.from_config(scorers={"c": {"type": "ConstantRewardModel", "value": "high"}})
