"""set_weights: the chain's rules, its rate limit, and rejected calls reported with their reason."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron.chain.params import WeightRules
from mirror_neuron.chain.weights import WeightStore, check_set_weights, max_upscale_u16

RULES = WeightRules()  # 2023 subnet 1: at least 8 weights, none above 455/65535, one call per 100 blocks
SPREAD = list(range(200)), [1.0] * 200  # 200 equal weights: each 1/200 < 455/65535


def check(uids: list[int], values: list[float], **overrides: object):
    kwargs = {"n": 1024, "has_permit": True, "block": 1000, "last_update": -1, "rules": RULES} | overrides
    return check_set_weights(0, uids, values, **kwargs)


def test_a_valid_call_is_accepted_and_stored_max_upscaled() -> None:
    store = WeightStore(300, RULES)
    outcome = store.set_weights(5, *SPREAD, block=1000, has_permit=True)
    assert outcome.accepted and outcome.error is None
    assert store.last_update[5] == 1000 and store.weights[5, :200].tolist() == [1.0] * 200
    assert store.present[5].sum() == 200 and store.present[5, :200].all()
    assert max_upscale_u16([1, 2, 4]).tolist() == [16383, 32767, 65535]


@pytest.mark.parametrize(("overrides", "uids", "values", "error"), [
    ({}, list(range(5)), [1.0] * 5, "WeightVecLengthIsLow"),
    ({"has_permit": False}, *SPREAD, "NeuronNoValidatorPermit"),
    ({}, list(range(20)), [1.0] * 19 + [10.0], "MaxWeightExceeded"),
    ({}, [1, 1] + list(range(2, 10)), [1.0] * 10, "DuplicateUids"),
    ({}, [1, 2], [1.0], "WeightVecNotEqualSize"),
    ({"n": 100}, *SPREAD, "UidVecContainInvalidOne"),
    ({"last_update": 950}, *SPREAD, "SettingWeightsTooFast"),
])
def test_rejected_calls_name_the_chains_error_and_why(overrides: dict, uids: list, values: list, error: str) -> None:
    outcome = check(uids, values, **overrides)
    assert not outcome.accepted and outcome.error == error and outcome.reason


def test_a_lone_self_weight_needs_no_permit_length_or_limit() -> None:
    assert check([0], [1.0], has_permit=False).accepted
    assert not check([3], [1.0], has_permit=False).accepted


def test_few_uids_need_only_as_many_weights_as_there_are_uids() -> None:
    assert check([0, 1, 2, 3], [1.0] * 4, n=4, rules=WeightRules(max_weight_limit=65535)).accepted
    assert check([1, 2, 3], [1.0] * 3, n=4, rules=WeightRules(max_weight_limit=65535)).error == "WeightVecLengthIsLow"


def test_the_rate_limit_admits_a_call_exactly_after_the_limit_and_a_rejection_changes_nothing() -> None:
    store = WeightStore(300, RULES)
    assert store.set_weights(7, *SPREAD, block=1000, has_permit=True).accepted
    early = store.set_weights(7, list(range(100, 300)), [1.0] * 200, block=1099, has_permit=True)
    assert not early.accepted and early.error == "SettingWeightsTooFast" and "99 blocks" in early.reason
    assert store.rejected == [early] and store.last_update[7] == 1000 and store.weights[7, 250] == 0
    assert store.set_weights(7, list(range(100, 300)), [1.0] * 200, block=1100, has_permit=True).accepted
    assert store.weights[7, 250] == 1.0 and store.weights[7, 50] == 0


def test_a_new_registration_clears_the_uids_row() -> None:
    store = WeightStore(300, RULES)
    store.set_weights(9, *SPREAD, block=1000, has_permit=True)
    store.register(9, block=1200)
    assert store.last_update[9] == -1 and not np.any(store.weights[9]) and not np.any(store.present[9])
    assert store.registration_block[9] == 1200
