"""Tournaments judge strategies as a person would: padding wins under a length reward until a filter
closes it, failing miners have failed, and harmless strategies under a null reward are neutral."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mirror_neuron.lab.tournament import (
    TournamentPlan,
    TournamentResult,
    one_hotkey_plan,
    repetition_seed,
    run_tournament,
    strategy_labels,
)
from mirror_neuron.neuron.config import NeuronConfig
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.population import build_population

LENGTH = {"type": "LengthRewardModel", "cap": 50}
PADDING_FILTERED = {"type": "RewardStack", "scorers": {"length": LENGTH},
                    "filters": {"blacklist": {"banned": ["furthermore", "additionally"]}}}
HARMLESS = {"echo": 5, "stock_phrase": 5, "length_padder": 5, "copycat": {"count": 5, "backends": 5},
            "self_scorer": 5, "random_words": 5}  # copycat: one machine per uid, so judged per uid


def tournament(miners: dict[str, Any], reward: dict[str, Any], seed: int = 0, **plan: Any) -> TournamentResult:
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 64, "validators": 2, "not_serving": 0.05},
                                         "miners": miners, "reward": reward, "training_topk": 16})
    return run_tournament(TournamentPlan(neuron, **{"steps": 120, "repetitions": 3, "seed": seed, **plan}))


def verdicts(miners: dict[str, Any], reward: dict[str, Any], seed: int = 0, **plan: Any) -> dict[str, str]:
    result = tournament(miners, reward, seed, **plan)
    return dict(zip(result.verdicts["subject"], result.verdicts["verdict"]))


def test_length_padding_is_an_exploit_until_a_filter_zeros_it() -> None:
    assert verdicts({"length_padder": 8}, LENGTH) == {"length_padder": "exploit"}
    assert verdicts({"length_padder": 8}, PADDING_FILTERED) == {"length_padder": "penalized"}


def test_miners_whose_calls_fail_have_failed_whatever_the_reward() -> None:
    found = verdicts({"slow": 6, "flaky": 6, "length_padder": 6}, PADDING_FILTERED)
    assert found == {"slow": "failed", "flaky": "failed", "length_padder": "penalized"}
    assert verdicts({"slow": 6, "flaky": {"count": 6, "failure_rate": 0.3}}, LENGTH) == {"slow": "failed",
                                                                                       "flaky": "failed"}


def test_a_random_reward_finds_no_exploit() -> None:
    found = verdicts(HARMLESS, {"type": "RandomRewardModel"}, seed=5)
    assert found == dict.fromkeys(HARMLESS, "neutral")


def test_hotkeys_on_one_backend_earn_their_count_per_machine_whatever_the_reward() -> None:
    result = tournament({"copycat": 5}, {"type": "RandomRewardModel"}, seed=5)
    copycat = result.strategies.set_index("behaviour").loc["copycat"]
    assert 0.8 < copycat.ratio_per_uid < 1.2 < copycat.ci_low  # per uid like honest; per machine ~5x its one hotkey
    assert 3 < copycat.ratio == copycat.ratio_to_one_hotkey < 7
    assert result.verdicts["verdict"].tolist() == ["exploit"]


def test_a_constant_reward_separates_nothing_so_every_verdict_is_inconclusive() -> None:
    result = tournament(HARMLESS, {"type": "ConstantRewardModel"}, seed=5)
    assert set(result.verdicts["verdict"]) == {"inconclusive"}
    assert "every scored honest completion got the same reward" in result.verdicts["sentence"].iloc[0]


def test_the_same_seed_gives_the_same_tables_and_another_seed_other_runs() -> None:
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 32}, "miners": {"echo": 4, "flaky": 4},
                                         "reward": {"type": "RandomRewardModel"}, "training_topk": 8})
    plan = TournamentPlan(neuron, steps=40, repetitions=2, record_every=10, seed=11)
    first, second = run_tournament(plan), run_tournament(plan)
    for name in ("shares", "uid_weights", "strategies", "verdicts"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    assert first.shares["step"].unique().tolist() == [10, 20, 30, 40]
    assert repetition_seed(11, 0) != repetition_seed(11, 1) != repetition_seed(12, 1)
    other = run_tournament(TournamentPlan(neuron, steps=40, repetitions=2, record_every=10, seed=12))
    assert not first.uid_weights["weight"].equals(other.uid_weights["weight"])


def test_strategies_are_the_keys_of_the_miners_block() -> None:
    miners = {"honest": {"count": 3, "noise": 0.5}, "tests.fixtures.custom_miner:shout": 2, "echo": 1}
    neuron = Neuron({"metagraph": {"n": 10}, "miners": miners})
    labels = strategy_labels(miners, neuron.dendrite_pool.behaviours)
    assert sorted(labels) == sorted(["honest"] * 7 + ["tests.fixtures.custom_miner:shout"] * 2 + ["echo"])


def test_a_baseline_whose_calls_fail_makes_every_verdict_inconclusive() -> None:
    # honest miners slower than the 12 s timeout: none of their calls succeed, so "echo earns 9x honest"
    # would compare with a broken baseline; the verdict says so instead, and a failing strategy still failed
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 32}, "miners": {
        "honest": {"count": 24, "latency_median": 60.0}, "echo": 4, "slow": 4}, "reward": LENGTH, "training_topk": 16})
    result = run_tournament(TournamentPlan(neuron, steps=30, repetitions=2, seed=0))
    found = dict(zip(result.verdicts["subject"], result.verdicts["verdict"]))
    assert found == {"echo": "inconclusive", "slow": "failed"}
    sentence = result.verdicts.set_index("subject").loc["echo", "sentence"]
    assert "honest miners' calls succeeded 0% of the time" in sentence and "more than 10 characters" in sentence


def test_the_one_hotkey_run_changes_only_the_spare_hotkeys_which_answer_as_the_honest_entry() -> None:
    miners = {"copycat": {"count": 6, "mode": "near"}, "honest": {"count": 10, "style": "bare", "backends": 2},
              "echo": 3}
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 32}, "miners": miners,
                                         "reward": {"type": "RandomRewardModel"}})
    alone = one_hotkey_plan(TournamentPlan(neuron, steps=1, repetitions=1))
    assert alone is not None and list(alone.neuron.miners) == ["copycat", "copycat.spare", "honest", "echo"]
    assert alone.neuron.miners["copycat"] == {"mode": "near", "count": 1}
    assert alone.neuron.miners["copycat.spare"] == {"style": "bare", "behaviour": "honest", "count": 5}
    before, after = build_population(miners, 32, 7), build_population(alone.neuron.miners, 32, 7)
    changed = [uid for uid in range(32) if before[uid] != after[uid]]
    assert len(changed) == 5 and {type(after[uid]).name for uid in changed} == {"copycat.spare"}
    assert all(type(before[uid]).name == "copycat" for uid in changed)
    single = {**miners, "copycat": {"count": 6, "backends": 6}, "honest": {"count": 10}}
    assert one_hotkey_plan(TournamentPlan(neuron.model_copy(update={"miners": single}), steps=1)) is None
