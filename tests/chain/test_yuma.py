"""The epoch against yuma.md's worked examples (section 8), its masks, switches and batching."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron.chain import EpochInputs, YumaParams, epoch, yuma
from mirror_neuron.errors import ConfigError, UserError

STAKE = np.array([0.7, 0.3, 0.0])  # uids 0 and 1 validate; uids 0-2 are the miners m0-m2 of the examples
W1 = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.0, 0.0, 0.0]])
W2 = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.0, 0.0, 0.0]])
TOL = 1e-6


def toy(**overrides: object) -> YumaParams:
    """The examples' float arithmetic: validators are not miners (no diagonal), bonds not floored to u16."""
    return YumaParams(**{"mask_self_weights": False, "quantize_bonds": False, **overrides})


def close(actual: np.ndarray, expected: list, tol: float = TOL) -> None:
    np.testing.assert_allclose(actual, expected, atol=tol, rtol=0)


def test_e1_classic_epoch_consensus_clipping_bonds_dividends_and_payouts() -> None:
    result = epoch(EpochInputs(stake=STAKE, weights=W1), toy())
    close(result.consensus, [0.6, 0.3, 0.1])
    close(result.weights[0], [0.6, 0.3, 0.1])
    close(result.rank, [0.48, 0.30, 0.10])
    close(result.incentive, [0.545455, 0.340909, 0.113636])
    close(result.trust, [1, 1, 0.454545])
    close(result.validator_trust, [1, 0.6, 0])
    close(result.bonds[:2], [[0.875, 0.7, 0.7], [0.125, 0.3, 0.3]])
    close(result.dividends, [0.795455, 0.204545, 0])
    close(result.miner_emission, [0.272727, 0.170455, 0.056818])
    close(result.validator_emission, [0.397727, 0.102273, 0])
    close(result.emission.sum(), 1.0)


def test_e1b_without_bonds_penalty_bonds_follow_the_raw_weights() -> None:
    result = epoch(EpochInputs(stake=STAKE, weights=W1), toy(bonds_penalty=0))
    close(result.bonds[:2, 2], [0.318182, 0.681818])
    close(result.dividends[:2], [0.752066, 0.247934])


def test_e2_second_epoch_moves_bonds_by_the_moving_average() -> None:
    first = epoch(EpochInputs(stake=STAKE, weights=W1), toy())
    second = epoch(EpochInputs(stake=STAKE, weights=W2, bonds_prev=first.bonds), toy())
    close(second.incentive, [0.6, 0.3, 0.1])
    close(second.bonds[:2], [[0.8575, 0.7, 0.7], [0.1425, 0.3, 0.3]])
    close(second.dividends[:2], [0.7945, 0.2055])


def test_e2_liquid_alpha_1_rates_from_the_consensus_percentiles() -> None:
    from mirror_neuron.chain.bonds import liquid_alpha_1

    params = toy(version="liquid-alpha-1")
    # alpha_low/high are u16 (45875, 58982 = .7000076, .9000076): the example's 4-digit figures hold to 5e-5
    close(liquid_alpha_1(np.array([0.6, 0.3, 0.1]), params), [0.9, 0.80016, 0.7], tol=5e-5)
    first = epoch(EpochInputs(stake=STAKE, weights=W1), toy())
    second = epoch(EpochInputs(stake=STAKE, weights=W2, bonds_prev=first.bonds), params)
    close(second.bonds[:2, 0], [0.7175, 0.2825], tol=5e-5)
    close(second.dividends[:2], [0.7105, 0.2895], tol=5e-5)


def test_e3_yuma3_absolute_bonds_and_stake_weighted_dividends() -> None:
    params = toy(version="yuma3", liquid_alpha=False)
    first = epoch(EpochInputs(stake=STAKE, weights=W1), params)
    close(first.bonds[:2], [[0.06, 0.03, 0.01], [0.02, 0.03, 0.01]])
    close(first.dividends[:2], [0.803279, 0.196721])
    second = epoch(EpochInputs(stake=STAKE, weights=W2, bonds_prev=first.bonds), params)
    close(second.bonds[:2], [[0.114, 0.057, 0.019], [0.078, 0.057, 0.019]])
    close(second.dividends[:2], [0.745215, 0.254785])


def test_e4_the_chains_yuma3_kappa_moves_first() -> None:
    """subtensor's test_yuma_3_kappa_moves_first: validators A, B, C (stake .8/.1/.1), miners uids 3 and 4."""
    params = YumaParams(version="yuma3", bonds_penalty=0, alpha_low=6554, alpha_high=19661)  # LA2 in [.1, .3]
    stake = np.array([0.8, 0.1, 0.1, 0.0, 0.0])
    first, second = [1.0, 0.0], [0.0, 1.0]
    expected = [  # rows A, B, C of the bonds on the two miners, then dividends of A, B, C
        ([first] * 3, [[0.1013, 0], [0.1013, 0], [0.1013, 0]], [0.8, 0.1, 0.1]),
        ([second, first, first], [[0.0908, 0.1013], [0.3697, 0], [0.3697, 0]], [1, 0, 0]),
        ([second, second, first], [[0.0815, 0.1924], [0.3170, 0.1013], [0.5580, 0]], [0.9382, 0.0618, 0]),
        ([second] * 3, [[0.0731, 0.2742], [0.2765, 0.1924], [0.4306, 0.1013]], [0.8819, 0.0773, 0.0407]),
    ]
    bonds = None
    for rows, bonds_expected, dividends_expected in expected:
        weights = np.zeros((5, 5))
        weights[:3, 3:] = rows
        result = epoch(EpochInputs(stake=stake, weights=weights, bonds_prev=bonds), params)
        bonds = result.bonds
        close(bonds[:3, 3:], bonds_expected, tol=1e-3)
        close(result.dividends[:3], dividends_expected, tol=1e-3)


def test_e5_weighted_median_and_ties_resolving_upward() -> None:
    from mirror_neuron.chain.matrix import weighted_median

    close(weighted_median(np.array([0.3, 0.3, 0.4]), np.array([[0.5], [0.5], [0.2]]), 0.5), [0.5])
    close(weighted_median(np.array([0.5, 0.5]), np.array([[0.2], [0.8]]), 32767 / 65535), [0.8])
    close(weighted_median(np.array([0.5, 0.5]), np.array([[0.2], [0.8]]), 0.6), [0.2])
    close(weighted_median(np.array([0.6, 0.4]), np.array([[0.0], [0.9]]), 0.5), [0.0])  # zeros count


def test_weighted_median_matches_its_definition_on_random_columns() -> None:
    from mirror_neuron.chain.matrix import weighted_median

    rng = np.random.default_rng(0)
    for _ in range(100):
        rows, cols = rng.integers(1, 7), rng.integers(1, 5)
        stake = rng.random(rows) * (rng.random(rows) > 0.3)
        stake = stake / stake.sum() if stake.sum() else stake
        weights = np.round(rng.random((rows, cols)), 1)
        kappa = float(rng.choice([0.3, 32767 / 65535, 0.7]))
        expected = [max([w for w in weights[:, j] if stake[weights[:, j] >= w].sum() >= kappa], default=0.0)
                    for j in range(cols)]
        close(weighted_median(stake, weights, kappa), expected, tol=0)
        close(weighted_median(stake, weights.astype(np.float32), kappa), expected, tol=1e-7)


def test_e6_outdated_weights_are_zeroed_before_the_row_is_normalized() -> None:
    weights = np.zeros((5, 5))
    weights[0, 2:] = [2, 1, 2]
    result = epoch(EpochInputs(stake=np.array([1.0, 0, 0, 0, 0]), weights=weights, block=200,
                               last_update=np.array([100, 0, 0, 0, 0]),
                               registration_block=np.array([0, 0, 0, 0, 150])), YumaParams())
    close(result.weights[0], [0, 0, 2 / 3, 1 / 3, 0])


def test_e6_a_validator_past_the_activity_cutoff_has_no_active_stake() -> None:
    weights = np.zeros((3, 3))
    weights[:2, 2] = 1
    result = epoch(EpochInputs(stake=np.array([1.0, 1.0, 0]), weights=weights, block=10_000,
                               last_update=np.array([4999, 5000, 0])), YumaParams(activity_cutoff=5000))
    close(result.active_stake, [0, 1, 0])
    close(result.dividends, [0, 1, 0])


def test_permits_go_to_the_top_stake_ties_to_the_higher_uid_and_rows_without_one_are_ignored() -> None:
    stake = np.array([3.0, 1.0, 1.0, 2.0, 0.0])
    result = epoch(EpochInputs(stake=stake, weights=np.zeros((5, 5))), YumaParams(max_allowed_validators=3))
    assert result.permits.tolist() == [True, False, True, True, False]
    weights = np.zeros((5, 5))
    weights[:, 4] = 1.0
    weights[1, :] = [0, 0, 0, 1.0, 0]  # uid 1 has stake but no permit: its weight on uid 3 is dropped
    result = epoch(EpochInputs(stake=stake, weights=weights, permits=result.permits),
                   YumaParams(max_allowed_validators=3))
    close(result.weights[1], [0, 0, 0, 0, 0])
    close(result.incentive, [0, 0, 0, 0, 1])
    close(result.active_stake, [0.5, 0, 1 / 6, 1 / 3, 0])


def test_permits_need_stake_on_yuma3_and_not_in_2023() -> None:
    stake = np.array([1.0, 0.0, 0.0])
    assert epoch(EpochInputs(stake=stake, weights=np.zeros((3, 3))), YumaParams()).permits.all()
    assert epoch(EpochInputs(stake=stake, weights=np.zeros((3, 3))),
                 YumaParams(version="yuma3")).permits.tolist() == [True, False, False]


def test_a_weight_committed_before_a_registration_is_hidden_while_the_commit_is_pending() -> None:
    weights = np.zeros((3, 3))
    weights[0, 1:] = 1
    inputs = {"stake": np.array([1.0, 0, 0]), "weights": weights, "block": 300,
              "last_update": np.array([250, 0, 0]), "registration_block": np.array([0, 0, 200])}
    close(epoch(EpochInputs(**inputs), YumaParams()).weights[0], [0, 0.5, 0.5])
    hidden = epoch(EpochInputs(**inputs, pending_commit_block=np.array([150, -1, -1])), YumaParams())
    close(hidden.weights[0], [0, 1, 0])


def test_the_owner_cut_comes_first_then_miners_and_validators_split_41_41() -> None:
    result = epoch(EpochInputs(stake=STAKE, weights=W1, emission=100.0), toy(owner_cut=11796))
    close(result.owner_emission, 100 * 11796 / 65535)
    close(result.miner_emission.sum(), result.validator_emission.sum())
    close(result.emission.sum() + result.owner_emission, 100.0)


def test_an_epoch_without_weights_pays_validators_by_active_stake() -> None:
    result = epoch(EpochInputs(stake=np.array([3.0, 1.0, 0.0]), weights=np.zeros((3, 3))), YumaParams())
    close(result.validator_emission, [0.75, 0.25, 0])
    close(result.miner_emission, [0, 0, 0])


def test_switch_normalize_consensus_clips_at_the_simulators_quantized_consensus() -> None:
    chain = epoch(EpochInputs(stake=STAKE, weights=W1), toy())
    simulators = epoch(EpochInputs(stake=STAKE, weights=W1), toy(normalize_consensus=True))
    close(chain.rank, [0.48, 0.30, 0.10])  # C = [.6, .3, .1] already sums to 1: only the u16 floor differs
    assert np.all(simulators.rank <= chain.rank) and not np.allclose(simulators.rank, chain.rank, atol=1e-9, rtol=0)
    weights = np.array([[0.8, 0.2, 0], [0.8, 0.2, 0], [0, 0, 0]])  # C = [.8, .2, 0]: normalized it stays
    close(epoch(EpochInputs(stake=STAKE, weights=weights), toy(normalize_consensus=True)).consensus, [0.8, 0.2, 0])


def test_switch_liquid_alpha_1_on_the_old_bonds_reads_alpha_as_retention() -> None:
    first = epoch(EpochInputs(stake=STAKE, weights=W1), toy())
    params = toy(version="liquid-alpha-1", liquid_alpha_1_weights="old_bonds")
    second = epoch(EpochInputs(stake=STAKE, weights=W2, bonds_prev=first.bonds), params)
    rate = 58982 / 65535  # alpha on m0 is alpha_high, now the weight on the old bonds
    close(second.bonds[:2, 0], [rate * 0.875 + (1 - rate) * 0.7, rate * 0.125 + (1 - rate) * 0.3])


def test_switch_quantize_bonds_floors_stored_bonds_to_u16_as_the_chain_does() -> None:
    params = YumaParams(version="yuma3", liquid_alpha=False, mask_self_weights=False)
    stored = epoch(EpochInputs(stake=STAKE, weights=W1), params).bonds
    close(stored[:2], np.floor(65535 * np.array([[0.06, 0.03, 0.01], [0.02, 0.03, 0.01]])) / 65535, tol=1e-12)
    classic = epoch(EpochInputs(stake=STAKE, weights=W1), YumaParams(mask_self_weights=False)).bonds
    assert np.all(classic <= epoch(EpochInputs(stake=STAKE, weights=W1), toy()).bonds + 1e-15)
    close(classic[:2], [[0.875, 0.7, 0.7], [0.125, 0.3, 0.3]], tol=2e-5)


def test_a_uid_without_a_new_permit_has_its_bond_row_cleared() -> None:
    weights = np.zeros((3, 3))
    weights[:2, 2] = 1
    result = epoch(EpochInputs(stake=np.array([2.0, 1.0, 0]), weights=weights, permits=np.array([1, 1, 0])),
                   YumaParams(max_allowed_validators=1))
    assert result.new_bonds[1, 2] > 0 and result.bonds[1, 2] == 0 and result.bonds[0, 2] > 0


@pytest.mark.parametrize("version", ["yuma1-2023", "liquid-alpha-1", "yuma3"])
def test_batched_epochs_equal_one_at_a_time_and_compact_rows_equal_full_matrices(
        version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    batch, validators, n = 6, 4, 10
    stake = np.zeros((batch, n))
    stake[:, :validators] = rng.random((batch, validators))
    weights = rng.random((batch, validators, n)) * (rng.random((batch, validators, n)) > 0.3)
    bonds = rng.random((batch, validators, n)) * 0.5
    last_update = rng.integers(50, 100, (batch, n))
    registration = rng.integers(0, 90, (batch, n))
    params = YumaParams(version=version, activity_cutoff=30)
    batched = epoch(EpochInputs(stake=stake, weights=weights, bonds_prev=bonds, last_update=last_update,
                                registration_block=registration, block=110, rows=np.arange(validators)), params)
    for b in range(batch):
        full_weights, full_bonds = np.zeros((n, n)), np.zeros((n, n))
        full_weights[:validators], full_bonds[:validators] = weights[b], bonds[b]
        one = epoch(EpochInputs(stake=stake[b], weights=full_weights, bonds_prev=full_bonds,
                                last_update=last_update[b], registration_block=registration[b], block=110), params)
        for name in ("consensus", "incentive", "trust", "validator_trust", "dividends", "emission"):
            close(getattr(batched, name)[b], getattr(one, name), tol=1e-12)
        close(batched.bonds[b], one.bonds[:validators], tol=1e-12)
    monkeypatch.setattr(yuma, "SLICE_ENTRIES", 2 * validators * n)  # a big batch runs in slices of 2 epochs
    sliced = epoch(EpochInputs(stake=stake.reshape(2, 3, n), weights=weights.reshape(2, 3, validators, n),
                               bonds_prev=bonds.reshape(2, 3, validators, n), last_update=last_update.reshape(2, 3, n),
                               registration_block=registration.reshape(2, 3, n), block=110,
                               rows=np.arange(validators)), params)
    assert sliced.dividends.shape == (2, 3, n) and sliced.bonds.shape == (2, 3, validators, n)
    close(sliced.dividends.reshape(batch, n), batched.dividends, tol=1e-12)
    close(sliced.bonds.reshape(batch, validators, n), batched.bonds, tol=1e-12)


def test_bad_inputs_and_parameters_get_one_line_errors() -> None:
    with pytest.raises(UserError, match="weights has shape"):
        epoch(EpochInputs(stake=np.ones(3), weights=np.ones((2, 4))))
    with pytest.raises(UserError, match="rows must be distinct uids in 0..2"):
        epoch(EpochInputs(stake=np.ones(3), weights=np.ones((2, 3)), rows=np.array([0, 3])))
    with pytest.raises(ConfigError, match="did you mean 'yuma3'"):
        YumaParams(version="yuma-3")
    with pytest.raises(ConfigError, match="kappa must be between 0 and 65535"):
        YumaParams(kappa=70000)
    with pytest.raises(ConfigError, match="use version 'liquid-alpha-1'"):
        YumaParams(liquid_alpha=True)


@pytest.mark.parametrize(("version", "earns"), [("yuma1-2023", True), ("yuma3", False)])
def test_an_inactive_validator_keeps_decaying_classic_dividends_but_none_under_yuma3(version: str, earns: bool) -> None:
    params = YumaParams(version=version, mask_self_weights=False)
    first = epoch(EpochInputs(stake=STAKE, weights=W1), params)
    inactive = epoch(EpochInputs(stake=STAKE, weights=W1, bonds_prev=first.bonds, active=np.array([1, 0, 1])),
                     params)
    assert (inactive.dividends[1] > 0) == earns
    assert inactive.dividends[1] < first.dividends[1]


def test_yuma3_sparse_epoch_drops_the_bond_of_an_absent_entry_but_decays_an_explicit_zero() -> None:
    params = YumaParams(version="yuma3", liquid_alpha=False, mask_self_weights=False, quantize_bonds=False)
    first = epoch(EpochInputs(stake=STAKE, weights=W1), params)
    moved = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0, 0, 0]])  # uid 0 leaves m0 and m2
    present = np.array([[True, True, False], [True, True, True], [False, False, False]])  # m0 explicit, m2 absent
    sparse = epoch(EpochInputs(stake=STAKE, weights=moved, bonds_prev=first.bonds, present=present), params)
    dense = epoch(EpochInputs(stake=STAKE, weights=moved, bonds_prev=first.bonds), params)
    close(sparse.bonds[0], [0.9 * 0.06, dense.bonds[0, 1], 0])
    close(dense.bonds[0], [0.9 * 0.06, dense.bonds[0, 1], 0.9 * 0.01])
    classic = YumaParams(mask_self_weights=False)
    assert np.array_equal(epoch(EpochInputs(stake=STAKE, weights=moved, present=present), classic).bonds,
                          epoch(EpochInputs(stake=STAKE, weights=moved), classic).bonds)
