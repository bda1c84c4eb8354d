"""Validator versions: presets laid under a config, deviations recorded, the originals' bugs listed."""

from __future__ import annotations

import pytest

from mirror_neuron.neuron.config import NeuronConfig
from mirror_neuron.neuron.versions import BUGS, bugs_on, preset, resolve, stand_ins


def test_a_version_fills_what_the_config_leaves_out_and_records_what_it_changes() -> None:
    config = NeuronConfig.model_validate({"validator": "openvalidators-1.2", "gating": {"path": "tiny:gptneo"},
                                          "reward": {"scorers": {"dpo": {"path": "smollm2"}}}, "timeout": 10.0})
    assert config.loop.kind == "openvalidators" and config.loop.filter_base_prompt
    assert config.weights.alpha == 0.95 and config.weights.rule == "scatter" and config.weights.quantile_clamp
    assert config.vpermit_tao_limit == 4096 and config.gating.params["zero_grad"] is False
    scorers = config.reward.params["scorers"]
    assert scorers["dpo"]["weight"] == 0.3 and scorers["dpo"]["path"] == "smollm2"
    assert [d["key"] for d in config.deviations] == ["gating.path", "reward.scorers.dpo.path"]  # 10.0 is the version's
    assert config.deviations[1] == {"key": "reward.scorers.dpo.path", "version": "cerebras/btlm-3b-8k-base",
                                    "set": "smollm2"}
    assert [d["key"] for d in stand_ins(config.deviations)] == ["gating.path", "reward.scorers.dpo.path"]


def test_off_removes_a_part_and_another_type_replaces_it_whole() -> None:
    resolved = resolve({"validator": "openvalidators-1.1", "reward": {"filters": {"nsfw": False}}})
    assert "nsfw" not in resolved["reward"]["filters"] and "ov_blacklist" in resolved["reward"]["filters"]
    assert resolved["deviations"][0]["key"] == "reward.filters.nsfw" and resolved["deviations"][0]["set"] == "off"
    replaced = resolve({"validator": "core-2023", "reward": {"type": "ConstantRewardModel", "value": 2.0}})
    assert replaced["reward"] == {"type": "ConstantRewardModel", "value": 2.0}
    assert stand_ins(replaced["deviations"])[0]["key"] == "reward"
    scorer = resolve({"validator": "openvalidators-1.1", "reward": {"scorers": {
        "rlhf": {"type": "LogProbRewardModel", "path": "smollm2"}}}})["reward"]["scorers"]["rlhf"]
    assert scorer == {"weight": 0.6, "type": "LogProbRewardModel", "path": "smollm2"}  # the slot keeps its weight


def test_custom_sets_nothing_and_resolving_twice_changes_nothing() -> None:
    assert resolve({"timeout": 3.0}) == {"timeout": 3.0, "deviations": []}
    once = NeuronConfig.model_validate({"validator": "core-2023", "training_topk": 20}).model_dump(mode="json")
    assert NeuronConfig.model_validate(once).model_dump(mode="json") == once
    assert once["deviations"] == [{"key": "training_topk", "version": 50, "set": 20}]
    removed = NeuronConfig.model_validate({"validator": "openvalidators-1.1", "reward": {"filters": {"nsfw": False}}})
    again = NeuronConfig.model_validate(removed.model_dump(mode="json"))
    assert "nsfw" not in again.reward.params["filters"] and again.deviations == removed.deviations


def test_the_bugs_each_version_had_are_on_and_custom_has_none() -> None:
    assert bugs_on(NeuronConfig().model_dump()) == []
    assert bugs_on(resolve({"validator": "core-2023"})) == ["accumulating_gating_gradients"]
    assert bugs_on(resolve({"validator": "openvalidators-1.1"})) == [
        "accumulating_gating_gradients", "off_flag_zeroes_rewards", "normalizer_nan_variance"]
    assert set(bugs_on(resolve({"validator": "openvalidators-1.1", "gating": {"zero_grad": True}}))) == {
        "off_flag_zeroes_rewards", "normalizer_nan_variance"}
    assert all(len(entry) == 3 for entry in BUGS.values())


def test_scorer_weights_of_each_openvalidators_version_sum_to_one() -> None:
    for version, weights in (("openvalidators-1.1", {"rlhf": 0.6, "reciprocate": 0.4}),
                             ("openvalidators-1.2", {"dpo": 0.3, "rlhf": 0.4, "reciprocate": 0.3})):
        scorers = preset(version)["reward"]["scorers"]
        assert {name: spec["weight"] for name, spec in scorers.items()} == weights
        assert sum(weights.values()) == pytest.approx(1.0)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown version .openvalidators-9. .one of: custom, core-2023"):
        NeuronConfig.model_validate({"validator": "openvalidators-9"})


def test_openvalidators_refuses_scorer_weights_that_do_not_sum_to_one() -> None:
    # the original raised at start-up when sum(weights) != 1: 0.5 + 0.4 + 0.3 = 1.2
    with pytest.raises(ValueError, match="sum to 1.2; openvalidators-1.2 requires 1"):
        NeuronConfig.model_validate({"validator": "openvalidators-1.2", "reward": {"scorers": {"dpo": {"weight": 0.5}}}})
    NeuronConfig.model_validate({"validator": "custom", "reward": {"type": "RewardStack", "scorers": {
        "a": {"type": "ConstantRewardModel", "weight": 0.5}}}})  # the mirror's own stack takes any weights
