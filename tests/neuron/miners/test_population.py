"""Populations from counts and shares; custom behaviours from ``module:Class`` and ``module:function``."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.population import build_population
from tests.fixtures.runs import run_config

QUERY = Query(("user",), ("why is the sky blue?",))


def test_counts_shares_and_honest_remainder() -> None:
    population = build_population({"echo": 3, "flaky": 0.25, "length_padder": {"count": 2, "words": 50}}, 16, seed=1)
    counts = Counter(b.name for b in population)
    assert counts == {"echo": 3, "flaky": 4, "length_padder": 2, "honest": 7}
    padder = next(b for b in population if b.name == "length_padder")
    assert len(padder.respond(QUERY, 0, np.random.default_rng(0)).split()) == 50
    assert [b.name for b in build_population({"echo": 3}, 8, seed=1)] == [b.name for b in build_population({"echo": 3}, 8, seed=1)]


def test_custom_function_and_class_behaviours() -> None:
    population = build_population({"tests.fixtures.custom_miner:shout": {"count": 2, "suffix": "?!"},
                                   "tests.fixtures.faulty:Faulty": 1}, 4)
    names = Counter(b.name for b in population)
    assert names == {"tests.fixtures.custom_miner:shout": 2, "faulty": 1, "honest": 1}
    custom = next(b for b in population if b.name == "tests.fixtures.custom_miner:shout")
    assert custom.respond(QUERY, 0, np.random.default_rng(0)) == "WHY IS THE SKY BLUE??!"


@pytest.mark.parametrize("spec, message", [
    ({"ecko": 1}, "did you mean 'echo'"),
    ({"echo": -1}, "expected a count, a share"),
    ({"echo": 1.5}, "expected a count, a share"),
    ({"length_padder": {"count": 1, "wrods": 3}}, "miners.length_padder: invalid parameters"),
    ({"echo": 9}, "declares 9 miners but the metagraph has 8 uids"),
    ({"mirror_neuron.errors:UserError": 1}, "is the class UserError, not what is expected: a behaviour"),
])
def test_bad_populations(spec: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        build_population(spec, 8)


def test_a_user_class_without_a_name_is_named_after_its_config_key(tmp_path) -> None:
    key = "tests.fixtures.nameless_miner:Whisper"
    population = build_population({key: {"count": 2, "ellipsis": "!"}}, 3)
    assert Counter(b.name for b in population) == {key: 2, "honest": 1}
    whisper = next(b for b in population if b.name == key)
    assert whisper.respond(QUERY, 0, np.random.default_rng(0)) == "why is the sky blue?!"
    assert build_population({key: 1}, 1) == build_population({key: 1}, 1)  # one named class per key
    text = f"experiment: {{name: nameless}}\ntracking: {{backend: none}}\n" \
           f"model: {{id: neuron, type: neuron, metagraph: {{n: 3}}, miners: {{'{key}': 2}}}}\n"
    table = run_config(tmp_path, text).output.table("data")
    assert Counter(table["behaviour"]) == {key: 2, "honest": 1}
