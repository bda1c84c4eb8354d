"""Every text feature is a named component whose function measures what its name says."""

from __future__ import annotations

import pytest

from mirror_neuron import registry
from mirror_neuron.analysis.features import FEATURES, get

ROW = {"question": "Why is the sky blue?", "completion": "Rayleigh scattering of sunlight", "answer": "Rayleigh",
       "chosen": "Because of scattering.", "rejected": "No idea"}


@pytest.mark.parametrize("component", registry.components("feature"), ids=lambda c: c.name)
def test_every_registered_feature_loads_and_measures_one_row(component: registry.Component) -> None:
    feature = get(component.name)
    assert component.load() is feature.function
    (value,) = feature.compute({text: [ROW[text]] for text in feature.texts})
    assert isinstance(value, float)


def test_the_original_names_measure_the_question() -> None:
    question = {"question": ["Why is the sky blue?", "", None]}
    assert get("question_length").compute(question) == [20.0, 0.0, 0.0]
    assert get("num_words").compute(question) == [5.0, 0.0, 0.0]
    assert get("avg_word_length").compute(question) == pytest.approx([16 / 5, 0.0, 0.0])
    assert get("completion_num_words").compute({"completion": ["a b  c"]}) == [3.0]
    assert get("length_difference").compute({"chosen": ["abcd"], "rejected": ["ab"]}) == [2.0]
    assert {"question_length", "num_words", "avg_word_length"} <= {c.name for c in registry.components("feature")}
    assert set(FEATURES) == {c.name for c in registry.components("feature")}


def test_an_unknown_feature_names_the_closest_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown feature 'completion_lenght' \(did you mean 'completion_length'"):
        get("completion_lenght")
