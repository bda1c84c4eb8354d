"""Truths every linear-head gating model keeps, whatever turns its text into a feature.

Each check takes ``make(seed=..., zero_grad=...)``, a factory of the model under test with 16 uids.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mirror_neuron.neuron.gating.transformer import LinearHeadGatingModel
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RandomRewardModel
from mirror_neuron.neuron.state import pack, unpack
from tests.neuron.test_neuron import MESSAGES, ROLES
from tests.neuron.test_neuron import make as make_neuron

Factory = Callable[..., LinearHeadGatingModel]
N_UIDS = 16
TEXT = "system: Be helpful.\nuser: What is the capital of Australia?\n"
OTHER = "system: Be helpful.\nuser: Write a haiku about the sea.\n"
UIDS = np.array([0, 3, 5, 7, 9, 12])
REWARDS = np.array([1.0, 0.0, 0.2, 0.9, 0.0, 0.5])


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def params(model: LinearHeadGatingModel) -> np.ndarray:
    return np.concatenate([model.head.weight.detach().numpy().ravel(), model.head.bias.detach().numpy()])


def grads(model: LinearHeadGatingModel) -> np.ndarray:
    return np.concatenate([model.head.weight.grad.numpy().ravel(), model.head.bias.grad.numpy()])


def step(model: LinearHeadGatingModel, text: str = TEXT, rewards: np.ndarray = REWARDS) -> float:
    scores = model.scores(text)
    return model.backward(UIDS, scores[UIDS], rewards)


def check_scores(make: Factory) -> None:
    model = make(seed=0)
    scores = model.scores(TEXT)
    assert scores.shape == (N_UIDS,) and scores.dtype == np.float64 and np.isfinite(scores).all()
    np.testing.assert_array_equal(make(seed=0).scores(TEXT), scores)  # the seed fixes everything
    assert not np.allclose(make(seed=1).scores(TEXT), scores)
    assert not np.allclose(model.scores(OTHER), scores)
    assert np.isfinite(model.scores("")).all()


def check_loss_by_hand(make: Factory) -> None:
    model = make(seed=0)
    scores = model.scores(TEXT)
    expected = np.mean((softmax(scores[UIDS]) - softmax(REWARDS)) ** 2)
    assert np.isclose(model.backward(UIDS, scores[UIDS], REWARDS), expected, rtol=1e-5, atol=0)


def check_training_fits_the_rewards(make: Factory, gain: float) -> None:
    """Fifty steps on one text cut the loss (and the softmax gap) by at least ``gain``."""
    model = make(seed=0)
    before = np.abs(softmax(model.scores(TEXT)[UIDS]) - softmax(REWARDS)).sum()
    losses = [step(model) for _ in range(50)]
    assert losses[-1] < losses[0] * gain
    assert np.abs(softmax(model.scores(TEXT)[UIDS]) - softmax(REWARDS)).sum() < before


def check_missing_zero_grad_accumulates(make: Factory) -> None:
    buggy, clean = make(seed=0, zero_grad=False), make(seed=0, zero_grad=True)
    step(buggy)
    step(clean)
    first = grads(clean)
    np.testing.assert_array_equal(grads(buggy), first)  # one step: the two agree
    np.testing.assert_array_equal(params(buggy), params(clean))
    rewards = REWARDS[::-1].copy()
    step(buggy, OTHER, rewards)
    step(clean, OTHER, rewards)
    np.testing.assert_allclose(grads(buggy), first + grads(clean), rtol=1e-5, atol=1e-9)
    assert not np.allclose(params(buggy), params(clean), rtol=0, atol=1e-7)


def check_state_round_trip(make: Factory, zero_grad: bool) -> None:
    """A fresh model of the same config (encoder included) continues exactly where the saved one was."""
    model = make(seed=0, zero_grad=zero_grad)
    model.resize(N_UIDS + 2)  # draws from the rng, which the state must carry
    for text in (TEXT, OTHER, TEXT):
        step(model, text)
    copy = make(seed=0, zero_grad=zero_grad)
    assert not np.array_equal(copy.scores(OTHER)[:N_UIDS], model.scores(OTHER)[:N_UIDS])
    copy.set_state(unpack(*pack(model.get_state())))
    np.testing.assert_array_equal(copy.scores(OTHER), model.scores(OTHER))
    assert copy.backward(UIDS, None, REWARDS) == model.backward(UIDS, None, REWARDS)
    np.testing.assert_array_equal(params(copy), params(model))
    np.testing.assert_array_equal(copy.scores(TEXT), model.scores(TEXT))
    copy.resize(N_UIDS + 4)
    model.resize(N_UIDS + 4)
    np.testing.assert_array_equal(copy.scores(TEXT), model.scores(TEXT))


def check_bad_rewards_and_no_uids(make: Factory) -> None:
    model = make(seed=0)
    before = params(model)
    model.scores(TEXT)
    assert model.backward(np.array([], dtype=int), np.array([]), np.array([])) == 0.0
    np.testing.assert_array_equal(params(model), before)
    assert model.head.weight.grad is None and not model.optimizer.state
    for _ in range(3):
        loss = step(model, rewards=np.array([np.nan, np.inf, -np.inf, 1.0, np.nan, 0.0]))
        assert np.isfinite(loss)
    assert np.isfinite(params(model)).all() and not np.array_equal(params(model), before)
    with pytest.raises(RuntimeError):
        model.backward(UIDS, None, REWARDS)  # its scores were spent by the last step
    model.scores(TEXT)
    with pytest.raises(ValueError):
        model.backward(UIDS, None, REWARDS[:2])


def check_resize(make: Factory) -> None:
    model = make(seed=0, zero_grad=False)
    step(model)
    weight, buffer = model.head.weight.detach().clone(), model.optimizer.state[model.head.weight]["momentum_buffer"]
    model.resize(N_UIDS + 8)
    assert model.scores(TEXT).shape == (N_UIDS + 8,) and model.n_uids == N_UIDS + 8
    assert torch.equal(model.head.weight[:N_UIDS], weight)
    assert torch.equal(model.optimizer.state[model.head.weight]["momentum_buffer"][:N_UIDS], buffer)
    assert not torch.equal(model.head.weight[N_UIDS:], torch.zeros_like(model.head.weight[N_UIDS:]))
    model.resize(4)
    assert model.scores(TEXT).shape == (4,) and torch.equal(model.head.weight, weight[:4])
    assert np.isfinite(model.backward(np.array([0, 2]), None, np.array([1.0, 0.0])))


def check_in_a_neuron(make: Factory, tmp_path: Path) -> None:
    """A neuron trains the model through forward, and save/load carries the head."""
    neuron = make_neuron(N_UIDS, reward=RandomRewardModel(0))
    neuron.gating_model = make(seed=0)  # swapped in: whatever builds the neuron, this is what it calls
    for _ in range(4):
        event = neuron.forward(ROLES, MESSAGES, topk=8, train_gating_model=True)
        assert event is not None and len(event.successful_uids) > 0
        assert np.isfinite(event.gating_loss) and event.gating_loss > 0
    assert neuron.gating_model.optimizer.state  # it took steps
    neuron.save(tmp_path / "neuron.npz")
    restored = make_neuron(N_UIDS, reward=RandomRewardModel(0))
    restored.gating_model = make(seed=0)
    restored.load(tmp_path / "neuron.npz")
    text = Query(tuple(ROLES), tuple(MESSAGES)).text
    np.testing.assert_array_equal(restored.gating_model.scores(text), neuron.gating_model.scores(text))
