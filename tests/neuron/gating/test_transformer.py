"""The 2023 validator's gating model on tiny causal LMs built from a config."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.neuron.gating.transformer import GatingModel
from tests.neuron.gating import contract

ENCODERS = ["tiny:gptneo", "tiny:gpt2"]


def factory(path: str) -> contract.Factory:
    return functools.partial(GatingModel, contract.N_UIDS, path=path)


@pytest.mark.parametrize("path", ENCODERS)
def test_scores_are_one_seeded_float_per_uid(path: str) -> None:
    contract.check_scores(factory(path))


def test_the_loss_is_the_mse_of_the_two_softmaxes() -> None:
    contract.check_loss_by_hand(factory("tiny:gptneo"))


@pytest.mark.parametrize("path", ENCODERS)
def test_training_moves_the_scores_towards_the_rewards(path: str) -> None:
    contract.check_training_fits_the_rewards(factory(path), gain=0.5)


def test_without_zero_grad_gradients_accumulate() -> None:
    contract.check_missing_zero_grad_accumulates(factory("tiny:gptneo"))


@pytest.mark.parametrize("zero_grad", [True, False])
def test_state_round_trips_through_pack_and_unpack(zero_grad: bool) -> None:
    contract.check_state_round_trip(factory("tiny:gptneo"), zero_grad)


def test_bad_rewards_and_no_uids_are_harmless() -> None:
    contract.check_bad_rewards_and_no_uids(factory("tiny:gptneo"))


def test_resize_keeps_the_rows_of_existing_uids() -> None:
    contract.check_resize(factory("tiny:gptneo"))


def test_the_feature_is_the_last_tokens_hidden_state_of_the_first_window() -> None:
    model = GatingModel(contract.N_UIDS, max_length=8)
    ids = model.tokenizer(contract.TEXT)["input_ids"]
    assert len(ids) > 8
    hidden = model.model(input_ids=model.tokenizer(contract.TEXT, return_tensors="pt")["input_ids"][:, :8],
                         output_hidden_states=True).hidden_states[-1][0, -1]
    np.testing.assert_allclose(model.feature(contract.TEXT).numpy(), hidden.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert model.feature(contract.TEXT + " and more words after the window").equal(model.feature(contract.TEXT))
    assert not model.feature(contract.TEXT).requires_grad


def test_a_neuron_trains_it_through_forward(tmp_path: Path) -> None:
    contract.check_in_a_neuron(factory("tiny:gptneo"), tmp_path)
