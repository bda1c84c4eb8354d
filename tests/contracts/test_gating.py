"""Every registered gating model keeps the gating contract, built as a neuron builds it (default settings:
tiny or packaged encoders): one finite score per uid, fixed by the seed, state that round-trips, and a
training step for the models that learn."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron import registry
from mirror_neuron.neuron.config import NeuronConfig, PartConfig, build_gating
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.state import pack, unpack

N_UIDS = 12
TEXTS = [Query(("system", "user"), ("Be helpful.", question)).text for question in (
    "who wrote the declaration of independence", "what is the boiling point of water in kelvin", "")]
UIDS = np.array([0, 2, 5, 7, 11])
REWARDS = np.array([1.0, 0.0, 0.4, 0.9, 0.1])
GATING = registry.components("gating")


def build(component: registry.Component, seed: int = 0, n_uids: int = N_UIDS) -> GatingModelBase:
    return build_gating(NeuronConfig(gating=PartConfig(type=component.name)), n_uids, seed)


def learns(model: GatingModelBase) -> bool:
    return type(model).backward is not GatingModelBase.backward


def test_the_four_gating_models_are_registered() -> None:
    assert {c.name for c in GATING} >= {"RandomGatingModel", "ConstantGatingModel", "GatingModel",
                                        "SentenceEmbedGatingModel"}


@pytest.mark.parametrize("component", GATING, ids=lambda c: c.name)
def test_one_finite_score_per_uid_fixed_by_the_seed(component: registry.Component) -> None:
    model = build(component)
    assert isinstance(model, GatingModelBase) and model.n_uids == N_UIDS
    scores = [model.scores(text) for text in TEXTS]
    for values in scores:
        assert values.shape == (N_UIDS,) and np.issubdtype(values.dtype, np.floating) and np.isfinite(values).all()
    again = build(component)
    for text, values in zip(TEXTS, scores):
        np.testing.assert_array_equal(again.scores(text), values)
    model.resize(N_UIDS + 3)
    assert model.scores(TEXTS[0]).shape == (N_UIDS + 3,) and model.n_uids == N_UIDS + 3


@pytest.mark.parametrize("component", GATING, ids=lambda c: c.name)
def test_a_training_step_runs_and_the_learning_models_move(component: registry.Component) -> None:
    model = build(component)
    scores = model.scores(TEXTS[0])
    loss = model.backward(UIDS, scores[UIDS], REWARDS)
    assert isinstance(loss, float) and np.isfinite(loss)
    if learns(model):
        assert loss > 0
        after = model.scores(TEXTS[0])
        assert np.isfinite(after).all() and not np.array_equal(after, build(component).scores(TEXTS[0]))
    else:
        assert loss == 0.0


@pytest.mark.parametrize("component", GATING, ids=lambda c: c.name)
def test_state_round_trips_into_a_fresh_model(component: registry.Component) -> None:
    """A fresh model of the same config (encoders included) continues where the saved one was."""
    model = build(component)
    for text in TEXTS[:2]:
        scores = model.scores(text)
        model.backward(UIDS, scores[UIDS], REWARDS)
    copy = build(component)
    if learns(model) or component.name == "RandomGatingModel":  # trained, or its generator has moved on
        assert not np.array_equal(build(component).scores(TEXTS[0]), model.scores(TEXTS[0]))
    copy.set_state(unpack(*pack(model.get_state())))
    assert copy.n_uids == model.n_uids
    for text in TEXTS:
        np.testing.assert_array_equal(copy.scores(text), model.scores(text))
