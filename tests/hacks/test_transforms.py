"""Text transforms: every built-in one is a registered function; user functions load from module:function."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.hacks import transforms
from mirror_neuron.hacks.transforms import Chain, resolve

QUESTION = "In what country is Normandy located?"
ANSWER = "France"
NAMES = [c.name for c in registry.components("transform")]


def test_every_issue_transform_is_registered() -> None:
    assert set(NAMES) == {"length_padding", "prompt_echo", "keyword_stuffing", "flattery", "stock_phrases",
                          "self_score", "repetition", "markdown", "truncation", "prepend_question"}


@pytest.mark.parametrize("name", NAMES)
def test_each_registered_transform_changes_an_answer_into_text(name: str) -> None:
    _, function = resolve(name)
    text = function("Normandy is in the north of France", QUESTION, np.random.default_rng(0))
    assert isinstance(text, str) and text and text != "Normandy is in the north of France"
    assert transforms.defence(name)


def test_what_the_hacks_do() -> None:
    rng = np.random.default_rng(0)
    assert len(transforms.length_padding(ANSWER, QUESTION, rng, words=50).split()) == 50
    assert transforms.prompt_echo(ANSWER, QUESTION, rng) == QUESTION
    stuffed = transforms.keyword_stuffing(ANSWER, QUESTION, rng, times=2)
    assert stuffed == "France country Normandy located country Normandy located"
    assert transforms.self_score(ANSWER, QUESTION, rng).endswith("deserves a score of 10.")
    assert transforms.repetition(ANSWER, QUESTION, rng, times=3) == "France France France"
    assert transforms.truncation("one two three four", QUESTION, rng) == "one two"
    assert transforms.prepend_question(ANSWER, QUESTION, rng) == f"{QUESTION}\n{ANSWER}"


def test_a_chain_applies_in_order_and_is_reproducible() -> None:
    chain = Chain(("repetition", "prepend_question"), (transforms.repetition, transforms.prepend_question))
    assert chain.label == "repetition + prepend_question"
    repeated = " ".join(["France"] * transforms.REPEATED_TIMES)  # the miners' default: one default for both
    assert chain(ANSWER, QUESTION, seed=0, row=3) == f"{QUESTION}\n{repeated}"
    padded = Chain(("length_padding",), (transforms.length_padding,))
    assert padded(ANSWER, QUESTION, 0, 1) == padded(ANSWER, QUESTION, 0, 1) != padded(ANSWER, QUESTION, 0, 2)


def test_a_user_function_loads_from_module_function_with_parameters() -> None:
    name, function = resolve("tests.fixtures.user_hacks:shout")
    assert name == "tests.fixtures.user_hacks:shout" and function(ANSWER, QUESTION, None) == "FRANCE!"
    _, bound = resolve({"tests.fixtures.user_hacks:shout": {"mark": "?"}})
    assert bound(ANSWER, QUESTION, None) == "FRANCE?"
    _, padded = resolve({"length_padding": {"words": 7}})
    assert len(padded(ANSWER, QUESTION, np.random.default_rng(0)).split()) == 7


def test_an_unknown_transform_says_what_was_meant() -> None:
    message = r"unknown transform component 'lenght_padding' \(did you mean 'length_padding'\?\)"
    with pytest.raises(UserError, match=message):
        resolve("lenght_padding")
