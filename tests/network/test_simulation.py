"""The network simulation: copiers gain without commit-reveal and lose with it, a cabal needs kappa,
set_weights rules are enforced, and a saved network resumes exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.network.config import NetworkConfig
from mirror_neuron.network.simulation import Network, validator_stakes
from mirror_neuron.network.strategies import make_strategy
from mirror_neuron.neuron.miners.base import Reference

PROMPTS = [f"What is fact number {i} about the river Rhine?" for i in range(12)]
REFERENCES = [Reference(answer=f"The Rhine fact {i} is that it flows north") for i in range(12)]
HONEST = {"count": 6, "neuron": {"reward": {"type": "RandomRewardModel"}, "weights": {"alpha": 0.9}}, "topk": 8}
# 10 blocks and 10 forward passes an epoch; bonds move at rate 0.5, so a copier's late start fades in a few epochs
FAST_CHAIN = {"tempo": 9, "forward_passes_per_block": 1, "weights_set_rate_limit": 10, "max_weight_limit": 65535,
              "bonds_moving_average": 500_000}


def network(validators: dict, chain: dict | None = None, miners: dict | None = None, n: int = 32,
            seed: int = 0) -> Network:
    config = NetworkConfig.model_validate({"metagraph": {"n": n}, "miners": miners or {}, "validators": validators,
                                           "chain": {**FAST_CHAIN, **(chain or {})}})
    return Network.build(config, PROMPTS, REFERENCES, seed=seed)


def dividends_per_stake(net: Network, epochs: int, warmup: int) -> np.ndarray:
    paid = np.zeros(net.population.n)
    for index in range(epochs):
        step = net.step()
        if index >= warmup:
            paid += step.result.validator_emission
    validators = net.rows
    return paid[validators] / net.stake[validators]


def copier_g(commit_reveal: str | int) -> float:
    net = network({"honest": HONEST, "copier": {"strategy": "copier", "count": 2}}, {"commit_reveal": commit_reveal})
    per_stake = dividends_per_stake(net, 30, 10)
    return float(per_stake[6:].mean() / np.median(per_stake[:6]))


def test_a_copier_earns_more_per_stake_than_honest_validators_without_commit_reveal_and_less_with_it() -> None:
    without, delayed = copier_g("off"), copier_g(3)
    assert without > 1.0
    assert delayed < without


def cabal_miner_share(cabal_stake: float) -> float:
    net = network({"honest": {**HONEST, "stake": 1 - cabal_stake}, "cabal": {"strategy": "cabal", "count": 2,
                                                                            "stake": cabal_stake, "targets": ["own"]}},
                  miners={"own": {"behaviour": "slow", "count": 4}})
    own = net.population.labels == "own"
    paid = total = 0.0
    for index in range(20):
        step = net.step()
        if index >= 5:
            paid += step.result.miner_emission[own].sum()
            total += step.result.miner_emission.sum()
    return paid / total


def test_a_cabal_below_kappa_cannot_pay_its_own_miners_and_one_above_it_can() -> None:
    assert cabal_miner_share(0.4) < 0.02
    assert cabal_miner_share(0.6) > 0.9


def test_the_chain_rejects_weights_above_its_limit_and_records_why() -> None:
    cabal = {"cabal": {"strategy": "cabal", "count": 2, "targets": ["own"]}}
    small = network(cabal, {"max_weight_limit": 455}, miners={"own": {"behaviour": "slow", "count": 2}})
    assert {call.outcome.error for call in small.step().calls} == {"MaxWeightExceeded"}  # 32 uids cannot share 1
    net = network(cabal, {"max_weight_limit": 455}, miners={"own": {"behaviour": "slow", "count": 2}}, n=256)
    calls = [call for _ in range(2) for call in net.step().calls]
    assert calls and all(call.outcome.accepted for call in calls)  # a cabal row is capped within the limit
    per_row = net.store.weights[net.rows]
    assert (per_row / per_row.sum(axis=1, keepdims=True)).max() <= 455 / 65535
    fast = network({"honest": {**HONEST, "count": 2}}, {"weights_set_rate_limit": 11})
    fast.step()
    rejected = [call.outcome for call in fast.step().calls]
    assert [o.error for o in rejected] == ["SettingWeightsTooFast"] * 2


def test_with_commit_reveal_weights_count_only_a_reveal_period_later() -> None:
    net = network({"honest": {**HONEST, "count": 2}}, {"commit_reveal": 2})
    first = net.step()
    assert [c.action for c in first.calls] == ["commit", "commit"] and first.result.incentive.sum() == 0
    assert net.step().result.incentive.sum() == 0
    third = net.step()
    assert [c.action for c in third.calls][:2] == ["reveal", "reveal"] and third.result.incentive.sum() > 0


def test_a_saved_network_resumes_exactly(tmp_path: Path) -> None:
    validators = {"honest": {**HONEST, "count": 3}, "copier": {"strategy": "copier", "count": 1},
                  "lazy": {"strategy": "lazy", "mode": "stale"}}
    whole = network(validators, {"commit_reveal": 1}, {"echo": 4})
    expected = [whole.step().result for _ in range(6)]
    first = network(validators, {"commit_reveal": 1}, {"echo": 4})
    for _ in range(3):
        first.step()
    first.save(tmp_path)
    resumed = network(validators, {"commit_reveal": 1}, {"echo": 4})
    resumed.load(tmp_path)
    for want in expected[3:]:
        got = resumed.step().result
        np.testing.assert_array_equal(got.emission, want.emission)
        np.testing.assert_array_equal(got.bonds, want.bonds)


def test_stake_shares_split_by_count_unless_given() -> None:
    config = NetworkConfig.model_validate({"validators": {"a": {"count": 2}, "b": {"count": 2, "stake": 0.6},
                                                          "c": {"count": 1}}})
    stake, counts = validator_stakes(config, 0)
    np.testing.assert_allclose(stake, [0.4 / 3, 0.4 / 3, 0.3, 0.3, 0.4 / 3])
    assert counts == [("a", 2), ("b", 2), ("c", 1)]
    with pytest.raises(UserError, match="sum to 1.2, more than 1"):
        validator_stakes(NetworkConfig.model_validate({"validators": {"a": {"stake": 0.6}, "b": {"stake": 0.6}}}), 0)


def test_strategies_are_named_like_miners_and_user_functions_work() -> None:
    with pytest.raises(UserError, match="did you mean 'copier'"):
        make_strategy("copyer", {})
    with pytest.raises(UserError, match="strategy cabal: targets: Field required"):
        make_strategy("cabal", {})
    net = network({"mine": {"strategy": "tests.network.user_strategy:first_miner", "count": 1}})
    calls = net.step().calls
    assert calls[0].outcome.accepted and net.store.weights[0, net.population.miner_uids[0]] == 1.0


def test_an_offline_validator_sets_nothing_and_a_lazy_one_only_every_few_epochs() -> None:
    net = network({"offline": {"strategy": "offline"}, "lazy": {"strategy": "lazy", "every": 2}})
    setters = [[call.outcome.uid for call in net.step().calls] for _ in range(4)]
    assert setters == [[1], [], [1], []]
    assert net.store.last_update[0] == -1 and net.store.weights[0].sum() == 0


def test_a_copier_of_another_validator_s_revealed_weights_sets_them_and_gains() -> None:
    validators = {"honest": HONEST, "copier": {"strategy": "copier", "count": 2, "source": "honest"}}
    net = network(validators)
    for _ in range(3):
        net.step()
        copied = net.store.weights[int(np.argmax(net.stake[:6]))]
        for copier in (6, 7):  # the weights the chain holds (u16, the largest 1), as the honest one revealed them
            assert np.allclose(net.store.weights[copier] / net.store.weights[copier].max(), copied / copied.max(),
                               atol=1e-4)
    per_stake = dividends_per_stake(network(validators), 30, 10)
    assert per_stake[6:].mean() / np.median(per_stake[:6]) > 1.0


def test_a_copier_s_source_must_be_another_group_or_the_consensus() -> None:
    with pytest.raises(ValueError, match="validators.copier.source: 'honnest' is no validator group"):
        network({"honest": HONEST, "copier": {"strategy": "copier", "source": "honnest"}})
    with pytest.raises(UserError, match="lag applies to the consensus"):
        network({"honest": HONEST, "copier": {"strategy": "copier", "source": "honest", "lag": 2}})
