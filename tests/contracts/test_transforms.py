"""The contract of every registered transform: it turns any answer into a ``str``, the same (seed, row)
gives the same text, and it accepts each parameter it declares (by keyword, with a default)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.hacks.transforms import Chain, resolve

NAMES = [c.name for c in registry.components("transform")]
ROWS = [  # (answer, question)
    ("Canberra is the capital of Australia. It was chosen in 1908.", "What is the capital of Australia?"),
    ("France", "In what country is Normandy located?"),
    ("", "Why is the sky blue?"),  # an empty answer
    ("forty-two", "What is it?"),  # a question of stop words only
]


def declared(name: str) -> dict[str, object]:
    """The parameters a transform declares after ``(answer, question, rng)``, with their defaults."""
    _, function = resolve(name)
    parameters = list(inspect.signature(function).parameters.values())
    assert [p.name for p in parameters[:3]] == ["answer", "question", "rng"], name
    return {p.name: p.default for p in parameters[3:]}


@pytest.mark.parametrize("name", NAMES)
def test_a_transform_returns_text_for_any_answer(name: str) -> None:
    _, function = resolve(name)
    for answer, question in ROWS:
        assert isinstance(function(answer, question, np.random.default_rng(0)), str), (answer, question)


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_and_row_give_the_same_text(name: str) -> None:
    one = Chain((name,), (resolve(name)[1],))
    other = Chain((name,), (resolve(name)[1],))  # built apart: nothing is shared but the code
    for row, (answer, question) in enumerate(ROWS):
        for seed in (0, 1, 7):
            assert one(answer, question, seed, row) == other(answer, question, seed, row)


@pytest.mark.parametrize("name", NAMES)
def test_a_transform_accepts_its_declared_parameters(name: str) -> None:
    parameters = declared(name)
    for parameter, default in parameters.items():
        assert default is not inspect.Parameter.empty, f"{name}.{parameter} has no default"
        _, bound = resolve({name: {parameter: default}})  # each parameter alone, by keyword, at its default
        _, plain = resolve(name)
        for answer, question in ROWS:
            assert bound(answer, question, np.random.default_rng(3)) == plain(answer, question,
                                                                             np.random.default_rng(3))
    with pytest.raises(UserError, match="no parameter 'no_such_parameter'"):  # refused when the config is read
        resolve({name: {"no_such_parameter": 1}})
