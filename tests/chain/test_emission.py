"""When epochs run and the emission split."""

from __future__ import annotations

import numpy as np

from mirror_neuron.chain.emission import blocks_until_epoch, runs_epoch, split_emission


def test_the_epoch_runs_every_tempo_plus_one_blocks_offset_by_the_netuid() -> None:
    runs = [b for b in range(400) if runs_epoch(b, tempo=99, netuid=1)]
    assert runs == [98, 198, 298, 398]
    assert blocks_until_epoch(90, tempo=99, netuid=1) == 8 and blocks_until_epoch(98, tempo=99, netuid=1) == 0


def test_2023_splits_50_50_and_an_owner_cut_gives_18_41_41() -> None:
    incentive, dividends = np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.25, 0.75])
    stake = np.array([0, 0, 1.0, 3.0]) / 4
    split = split_emission(10.0, incentive, dividends, stake, stake)
    assert np.allclose(split.miner, [2.5, 2.5, 0, 0]) and np.allclose(split.validator, [0, 0, 1.25, 3.75])
    owned = split_emission(100.0, incentive, dividends, stake, stake, owner_cut=11796 / 65535)
    assert np.isclose(owned.owner, 18.0, atol=0.001)
    assert np.isclose(owned.miner.sum(), 41.0, atol=0.001) and np.isclose(owned.validator.sum(), 41.0, atol=0.001)


def test_nothing_paid_goes_to_active_stake_or_else_to_stake() -> None:
    zero = np.zeros(3)
    stake = np.array([0.5, 0.5, 0])
    active = np.array([1.0, 0, 0])
    assert np.allclose(split_emission(1.0, zero, zero, active, stake).validator, [1, 0, 0])
    assert np.allclose(split_emission(1.0, zero, zero, zero, stake).validator, [0.5, 0.5, 0])
