"""``--set`` overrides on the raw config."""

from __future__ import annotations

import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.overrides import apply_overrides


def test_paths_by_key_position_and_id() -> None:
    data = {"data": {"sample": {"n": 3}}, "query": [{"id": "q", "tokenizer": {}}]}
    result = apply_overrides(data, ["data.sample.n=5", "query[0].tokenizer.max_length=512",
                                    "query.q.store=[loss, tokens]", "experiment.seed=7"])
    assert result["data"]["sample"]["n"] == 5
    assert result["query"][0]["tokenizer"]["max_length"] == 512
    assert result["query"][0]["store"] == ["loss", "tokens"]
    assert result["experiment"] == {"seed": 7}


@pytest.mark.parametrize("assignment, problem", [
    ("novalue", "expected dotted.key=value"),
    ("a..b=1", "cannot read the key path"),
    ("query[3].x=1", "no item 3"),
    ("query.nope.x=1", "no entry with id 'nope'"),
    ("data.path.x=1", "inside a plain value"),
])
def test_bad_assignments(assignment: str, problem: str) -> None:
    data = {"data": {"path": "p"}, "query": [{"id": "q"}]}
    with pytest.raises(UserError, match=problem):
        apply_overrides(data, [assignment])
