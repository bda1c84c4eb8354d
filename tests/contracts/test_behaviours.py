"""The contract of every registered miner behaviour: it builds with its default parameters, answers with a
``str`` or a failure (``None`` or an exception, which the dendrite pool turns into return codes), and the
same query, uid and seed give the same answer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from mirror_neuron import registry
from mirror_neuron.neuron.dendrite import EMPTY_RESPONSE, SUCCESS, TIMEOUT, UNKNOWN_EXCEPTION, DummyDendritePool
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.neuron.population import make_behaviour
from tests.fixtures.chat_servers import fault_server

NAMES = [c.name for c in registry.components("behaviour")]
PARAMS = {"lm": {"path": "tiny:gpt2", "max_new_tokens": 6}}  # the default SmolLM2 is too slow for a contract
QUERIES = [
    Query(("system", "user"), ("Be helpful.", "What is the capital of Australia?"),
          reference="Canberra is the capital of Australia. It was chosen in 1908."),
    Query(("user",), ("Why is the sky blue?",)),  # no reference answer
    Query(("system", "user"), ("Be helpful.", "Canberra is the capital.\n\nAsk a follow up question."),
          question=True, reference="Canberra is the capital."),
    Query(("user",), ("What is it?",)),  # nothing but stop words
]


@pytest.fixture(scope="module", autouse=True)
def _chat_server() -> Iterator[None]:
    """The server the endpoint behaviour calls: the scripted one, in its own process."""
    with fault_server() as url:
        PARAMS["endpoint"] = {"url": url, "model": "scripted"}
        yield


def build(name: str) -> Behaviour:
    return make_behaviour(name, dict(PARAMS.get(name, {})))


def answer(behaviour: Behaviour, query: Query, uid: int, seed: int) -> str | None | BaseException:
    """What ``respond`` gives for one seed: its text, ``None``, or the exception it raised."""
    try:
        return behaviour.respond(query, uid, np.random.default_rng(seed))
    except Exception as error:  # a failure, as the dendrite pool maps it
        return error


def test_every_behaviour_is_covered() -> None:
    assert {"honest", "replay", "echo", "stock_phrase", "length_padder", "hacker", "flaky", "lm",
            "endpoint"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_behaviour_builds_with_its_defaults_and_carries_its_name(name: str) -> None:
    behaviour = build(name)
    assert isinstance(behaviour, Behaviour) and behaviour.name == name
    assert behaviour.latency_median > 0 and behaviour.latency_sigma >= 0


@pytest.mark.parametrize("name", NAMES)
def test_a_behaviour_answers_with_text_or_a_failure(name: str) -> None:
    behaviour = build(name)
    for query in QUERIES:
        for seed in range(6):
            given = answer(behaviour, query, 3, seed)
            assert given is None or isinstance(given, (str, Exception)), (query, seed, given)


@pytest.mark.parametrize("name", NAMES)
def test_the_dendrite_pool_turns_every_answer_into_a_call(name: str) -> None:
    pool = DummyDendritePool([build(name)] * 4, seed=1)
    for query in QUERIES:
        calls = pool(list(query.roles), list(query.messages), np.arange(4), timeout=1e9, question=query.question)
        for call in calls:
            assert isinstance(call.completion, str)
            assert call.return_code in (SUCCESS, EMPTY_RESPONSE, UNKNOWN_EXCEPTION, TIMEOUT)
            assert (call.return_code == SUCCESS) == bool(call.completion)


@pytest.mark.parametrize("name", NAMES)
def test_the_same_query_uid_and_seed_give_the_same_answer(name: str) -> None:
    one, other = build(name), build(name)
    for query in QUERIES:
        for seed in range(4):
            first, again = answer(one, query, 5, seed), answer(other, query, 5, seed)
            if isinstance(first, Exception):
                assert type(again) is type(first) and str(again) == str(first)
            else:
                assert again == first, (query, seed)
